//! Topic names, topic filters, wildcard matching and shared subscriptions.

use crate::string::{self, MqttString, StringError};
use alloc::string::String;
use bytes::Bytes;
use core::{fmt, str::FromStr};

/// Why a string is not a valid topic name or topic filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Not a valid MQTT string.
    #[error(transparent)]
    String(#[from] StringError),
    /// Topic names and filters are at least one character long.
    #[error("topic is empty")]
    Empty,
    /// A topic name contains `+` or `#`.
    #[error("topic name contains a wildcard")]
    WildcardInName,
    /// `#` is not alone in the last level of a filter.
    #[error("'#' must be the whole last level")]
    MisplacedMultiLevelWildcard,
    /// `+` does not take up a whole level of a filter.
    #[error("'+' must be a whole level")]
    MisplacedSingleLevelWildcard,
    /// `$share/` is not followed by a share name without `/`, `+` or `#`.
    #[error("invalid share name")]
    InvalidShareName,
    /// `$share/{name}/` is not followed by a topic filter.
    #[error("shared subscription has no topic filter")]
    EmptySharedFilter,
}

/// The topic a message is published to: a non-empty MQTT string without wildcards
/// ([MQTT-4.7.1-1] in 3.1.1, [MQTT-4.7.0-1] in 5.0, [MQTT-4.7.3-1]).
///
/// ```
/// use mqtt_sansio::TopicName;
/// let t: TopicName = "sensors/7/temperature".parse().unwrap();
/// assert_eq!(t.as_str(), "sensors/7/temperature");
/// assert!("sensors/+".parse::<TopicName>().is_err());
/// assert!("".parse::<TopicName>().is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(MqttString);

impl TopicName {
    /// The empty topic name. It is only meaningful in an MQTT 5 PUBLISH that carries a
    /// Topic Alias, where it means "the topic this alias was set to".
    pub const fn empty() -> Self {
        TopicName(MqttString::new())
    }

    /// Wraps a static string without copying it.
    pub fn from_static(s: &'static str) -> Result<Self, TopicError> {
        validate_name(s.as_bytes())?;
        Ok(TopicName(MqttString::from_checked(Bytes::from_static(
            s.as_bytes(),
        ))))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True only for [`TopicName::empty`].
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The topic as an [`MqttString`].
    pub fn as_mqtt_str(&self) -> &MqttString {
        &self.0
    }

    /// Wraps a string the decoder has already checked.
    pub(crate) fn from_checked(s: MqttString) -> Self {
        TopicName(s)
    }
}

/// Checks the topic name rules; the string rules come first so that a packet with both
/// kinds of fault is reported as malformed.
fn validate_name(bytes: &[u8]) -> Result<(), TopicError> {
    let scanned = string::check(bytes)?;
    if bytes.is_empty() {
        return Err(TopicError::Empty);
    }
    if scanned.has_wildcard {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// A subscription's topic filter: a non-empty MQTT string whose wildcards are well
/// placed ([MQTT-4.7.1-2], [MQTT-4.7.1-3] in 3.1.1; [MQTT-4.7.1-1], [MQTT-4.7.1-2] in
/// 5.0). A filter starting with `$share/` must be a valid shared subscription
/// ([MQTT-4.8.2-1], [MQTT-4.8.2-2]).
///
/// ```
/// use mqtt_sansio::{TopicFilter, TopicName};
/// let f: TopicFilter = "sensors/+/temperature".parse().unwrap();
/// assert!(f.matches(&"sensors/7/temperature".parse::<TopicName>().unwrap()));
/// assert!("sensors/#/x".parse::<TopicFilter>().is_err());
///
/// let shared: TopicFilter = "$share/workers/jobs/#".parse().unwrap();
/// assert_eq!(shared.share_name(), Some("workers"));
/// assert_eq!(shared.match_filter(), "jobs/#");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter(MqttString);

const SHARE_PREFIX: &[u8] = b"$share/";

impl TopicFilter {
    /// Wraps a static string without copying it.
    pub fn from_static(s: &'static str) -> Result<Self, TopicError> {
        validate_filter(s.as_bytes(), true)?;
        Ok(TopicFilter(MqttString::from_checked(Bytes::from_static(
            s.as_bytes(),
        ))))
    }

    /// The text, including any `$share/{name}/` prefix.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a topic filter is never empty. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The filter as an [`MqttString`].
    pub fn as_mqtt_str(&self) -> &MqttString {
        &self.0
    }

    /// The share name of a shared subscription (`$share/{name}/{filter}`).
    pub fn share_name(&self) -> Option<&str> {
        split_shared(self.0.as_bytes())
            .map(|(name, _)| &self.as_str()[SHARE_PREFIX.len()..][..name.len()])
    }

    /// True for a shared subscription.
    pub fn is_shared(&self) -> bool {
        split_shared(self.0.as_bytes()).is_some()
    }

    /// The filter that topic names are matched against: the whole filter, or the part
    /// after `$share/{name}/` for a shared subscription.
    pub fn match_filter(&self) -> &str {
        match split_shared(self.0.as_bytes()) {
            Some((_, filter)) => &self.as_str()[self.len() - filter.len()..],
            None => self.as_str(),
        }
    }

    /// True when the filter contains `+` or `#` (after any share prefix).
    pub fn has_wildcards(&self) -> bool {
        self.match_filter_bytes()
            .iter()
            .any(|&b| b == b'+' || b == b'#')
    }

    /// Whether a message published to `topic` matches this filter. Filters that begin
    /// with a wildcard do not match topics beginning with `$` ([MQTT-4.7.2-1]); names
    /// are compared byte for byte with no normalisation ([MQTT-4.7.3-4]).
    pub fn matches(&self, topic: &TopicName) -> bool {
        matches(self.match_filter_bytes(), topic.as_bytes())
    }

    fn match_filter_bytes(&self) -> &[u8] {
        match split_shared(self.0.as_bytes()) {
            Some((_, filter)) => filter,
            None => self.0.as_bytes(),
        }
    }

    /// Wraps a string the decoder has already checked.
    pub(crate) fn from_checked(s: MqttString) -> Self {
        TopicFilter(s)
    }
}

/// Splits a valid shared subscription into share name and filter.
fn split_shared(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = bytes.strip_prefix(SHARE_PREFIX)?;
    let slash = rest.iter().position(|&b| b == b'/')?;
    let (name, filter) = (&rest[..slash], &rest[slash + 1..]);
    if name.is_empty() || filter.is_empty() || name.iter().any(|&b| b == b'+' || b == b'#') {
        return None;
    }
    Some((name, filter))
}

/// Checks the wildcard placement rules of a filter that is already a valid string.
/// `shared_rules` applies the MQTT 5 shared subscription syntax to `$share/` filters;
/// in MQTT 3.1.1 such a filter is an ordinary one.
pub(crate) fn check_filter_structure(bytes: &[u8], shared_rules: bool) -> Result<(), TopicError> {
    // [MQTT-4.7.3-1]
    if bytes.is_empty() {
        return Err(TopicError::Empty);
    }
    let mut filter = bytes;
    if shared_rules {
        if let Some(rest) = bytes.strip_prefix(SHARE_PREFIX) {
            let Some(slash) = rest.iter().position(|&b| b == b'/') else {
                // [MQTT-4.8.2-2]: the share name must be followed by '/'.
                return Err(if rest.is_empty() {
                    TopicError::InvalidShareName
                } else {
                    TopicError::EmptySharedFilter
                });
            };
            let name = &rest[..slash];
            // [MQTT-4.8.2-1]: at least one character; [MQTT-4.8.2-2]: no '+' or '#'.
            if name.is_empty() || name.iter().any(|&b| b == b'+' || b == b'#') {
                return Err(TopicError::InvalidShareName);
            }
            filter = &rest[slash + 1..];
            // [MQTT-4.8.2-2]: followed by a topic filter.
            if filter.is_empty() {
                return Err(TopicError::EmptySharedFilter);
            }
        }
    }
    // A wildcard must fill its level, and '#' must also end the filter. Only the
    // bytes that may be wildcards are looked at, found eight at a time.
    let n = filter.len();
    let check = |i: usize| -> Result<(), TopicError> {
        let b = filter[i];
        if b != b'+' && b != b'#' {
            return Ok(());
        }
        let starts_level = i == 0 || filter[i - 1] == b'/';
        let is_last = i + 1 == n;
        if b == b'#' {
            // [MQTT-4.7.1-2] (3.1.1) / [MQTT-4.7.1-1] (5.0): '#' alone, in the last level.
            if !starts_level || !is_last {
                return Err(TopicError::MisplacedMultiLevelWildcard);
            }
        } else if !starts_level || !(is_last || filter[i + 1] == b'/') {
            // [MQTT-4.7.1-3] (3.1.1) / [MQTT-4.7.1-2] (5.0): '+' takes up a whole level.
            return Err(TopicError::MisplacedSingleLevelWildcard);
        }
        Ok(())
    };
    let mut at = 0;
    while at + 8 <= n {
        let mut lanes = string::wildcard_lanes(filter, at);
        while lanes != 0 {
            check(at + lanes.trailing_zeros() as usize / 8)?;
            lanes &= lanes - 1;
        }
        at += 8;
    }
    (at..n).try_for_each(check)?;
    Ok(())
}

fn validate_filter(bytes: &[u8], shared_rules: bool) -> Result<(), TopicError> {
    string::check(bytes)?;
    check_filter_structure(bytes, shared_rules)
}

/// Level-by-level matching of `topic` against `filter` (both already valid).
fn matches(filter: &[u8], topic: &[u8]) -> bool {
    // [MQTT-4.7.2-1]
    if topic.first() == Some(&b'$') && matches!(filter.first(), Some(b'+' | b'#')) {
        return false;
    }
    let mut filter_levels = filter.split(|&b| b == b'/');
    let mut topic_levels = topic.split(|&b| b == b'/');
    loop {
        match (filter_levels.next(), topic_levels.next()) {
            // '#' also matches the parent level: "a/#" matches "a".
            (Some(b"#"), _) => return true,
            (Some(b"+"), Some(_)) => {}
            (Some(f), Some(t)) if f == t => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

macro_rules! topic_conversions {
    ($ty:ident, $validate:expr) => {
        impl TryFrom<&str> for $ty {
            type Error = TopicError;
            fn try_from(s: &str) -> Result<Self, TopicError> {
                $validate(s.as_bytes())?;
                Ok($ty(MqttString::from_checked(Bytes::copy_from_slice(
                    s.as_bytes(),
                ))))
            }
        }

        impl TryFrom<String> for $ty {
            type Error = TopicError;
            fn try_from(s: String) -> Result<Self, TopicError> {
                $validate(s.as_bytes())?;
                Ok($ty(MqttString::from_checked(Bytes::from(s))))
            }
        }

        impl TryFrom<Bytes> for $ty {
            type Error = TopicError;
            fn try_from(b: Bytes) -> Result<Self, TopicError> {
                $validate(&b)?;
                Ok($ty(MqttString::from_checked(b)))
            }
        }

        impl TryFrom<MqttString> for $ty {
            type Error = TopicError;
            fn try_from(s: MqttString) -> Result<Self, TopicError> {
                $validate(s.as_bytes())?;
                Ok($ty(s))
            }
        }

        impl FromStr for $ty {
            type Err = TopicError;
            fn from_str(s: &str) -> Result<Self, TopicError> {
                $ty::try_from(s)
            }
        }

        impl From<$ty> for MqttString {
            fn from(t: $ty) -> MqttString {
                t.0
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.0 == **other
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
    };
}

topic_conversions!(TopicName, validate_name);
topic_conversions!(TopicFilter, |b| validate_filter(b, true));

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> TopicName {
        s.parse().unwrap()
    }

    fn filter(s: &str) -> TopicFilter {
        s.parse().unwrap()
    }

    /// The rules as the spec states them, level by level.
    fn reference(filter: &str) -> Result<(), TopicError> {
        if filter.is_empty() {
            return Err(TopicError::Empty);
        }
        let levels: alloc::vec::Vec<&str> = filter.split('/').collect();
        for (i, level) in levels.iter().enumerate() {
            if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
                return Err(TopicError::MisplacedMultiLevelWildcard);
            }
            if level.contains('+') && *level != "+" {
                return Err(TopicError::MisplacedSingleLevelWildcard);
            }
        }
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn structure_check_agrees_with_the_level_by_level_rules(filter in "[a/+#]{0,40}") {
            let fast = check_filter_structure(filter.as_bytes(), false);
            let slow = reference(&filter);
            // Both must refuse the same filters; the first rule broken may differ.
            proptest::prop_assert_eq!(fast.is_ok(), slow.is_ok(), "{}", filter);
        }
    }

    #[test]
    fn spec_examples_of_multi_level_wildcard() {
        let f = filter("sport/tennis/player1/#");
        assert!(f.matches(&name("sport/tennis/player1")));
        assert!(f.matches(&name("sport/tennis/player1/ranking")));
        assert!(f.matches(&name("sport/tennis/player1/score/wimbledon")));
        assert!(filter("sport/#").matches(&name("sport")));
        assert!(filter("#").matches(&name("a/b/c")));
    }

    #[test]
    fn spec_examples_of_single_level_wildcard() {
        let f = filter("sport/tennis/+");
        assert!(f.matches(&name("sport/tennis/player1")));
        assert!(!f.matches(&name("sport/tennis/player1/ranking")));
        assert!(!filter("sport/+").matches(&name("sport")));
        assert!(filter("sport/+").matches(&name("sport/")));
        assert!(filter("+/+").matches(&name("/finance")));
        assert!(filter("/+").matches(&name("/finance")));
        assert!(!filter("+").matches(&name("/finance")));
    }

    #[test]
    fn mqtt_4_7_2_1_wildcard_filters_do_not_match_dollar_topics() {
        assert!(!filter("#").matches(&name("$SYS/uptime")));
        assert!(!filter("+/uptime").matches(&name("$SYS/uptime")));
        assert!(filter("$SYS/#").matches(&name("$SYS/uptime")));
        assert!(filter("$SYS/+").matches(&name("$SYS/uptime")));
    }

    /// [MQTT-4.7.1-2] (3.1.1), [MQTT-4.7.1-1] (5.0): '#' alone in the last level.
    #[test]
    fn mqtt_4_7_1_2_hash_must_be_whole_last_level() {
        for bad in ["a/#/b", "#/", "a#", "a/b#", "##"] {
            assert_eq!(
                bad.parse::<TopicFilter>().err(),
                Some(TopicError::MisplacedMultiLevelWildcard),
                "{bad}"
            );
        }
    }

    /// [MQTT-4.7.1-3] (3.1.1), [MQTT-4.7.1-2] (5.0): '+' takes up a whole level.
    #[test]
    fn mqtt_4_7_1_3_plus_must_be_whole_level() {
        for bad in ["+a", "a/++", "x+", "a/+b/c"] {
            assert_eq!(
                bad.parse::<TopicFilter>().err(),
                Some(TopicError::MisplacedSingleLevelWildcard),
                "{bad}"
            );
        }
        for good in ["+", "+/+", "/+/", "a/+/#"] {
            assert!(good.parse::<TopicFilter>().is_ok(), "{good}");
        }
    }

    #[test]
    fn mqtt_4_8_2_1_and_4_8_2_2_share_name_rules() {
        assert_eq!(
            "$share//a".parse::<TopicFilter>().err(),
            Some(TopicError::InvalidShareName)
        );
        assert_eq!(
            "$share/g+/a".parse::<TopicFilter>().err(),
            Some(TopicError::InvalidShareName)
        );
        assert_eq!(
            "$share/grp/".parse::<TopicFilter>().err(),
            Some(TopicError::EmptySharedFilter)
        );
        assert_eq!(
            "$share/grp".parse::<TopicFilter>().err(),
            Some(TopicError::EmptySharedFilter)
        );
        let f = filter("$share/g/a/+");
        assert!(f.is_shared());
        assert_eq!(f.share_name(), Some("g"));
        assert_eq!(f.match_filter(), "a/+");
        assert!(f.matches(&name("a/b")));
        assert!(!f.matches(&name("$share/g/a/b")));
    }

    #[test]
    fn mqtt_4_7_3_1_topics_are_not_empty() {
        assert_eq!("".parse::<TopicName>().err(), Some(TopicError::Empty));
        assert_eq!("".parse::<TopicFilter>().err(), Some(TopicError::Empty));
    }

    #[test]
    fn mqtt_4_7_3_4_matching_does_not_normalise() {
        assert!(!filter("caf\u{e9}").matches(&name("cafe\u{301}")));
        assert!(!filter("A").matches(&name("a")));
    }

    /// [MQTT-4.7.1-1] (3.1.1), [MQTT-4.7.0-1] (5.0): no wildcards in topic names.
    #[test]
    fn mqtt_4_7_1_1_wildcards_are_not_allowed_in_topic_names() {
        for bad in ["#", "a/#", "x#y", "+", "a/+/c", "sport+"] {
            assert_eq!(
                bad.parse::<TopicName>().err(),
                Some(TopicError::WildcardInName)
            );
        }
    }
}
