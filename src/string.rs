//! `MqttString`: a UTF-8 Encoded String as MQTT defines it, held in a `Bytes` so a
//! decoded string is a slice of the received packet, never a copy.

use alloc::string::String;
use bytes::Bytes;
use core::{fmt, str::FromStr};

/// Why a value is not a valid MQTT UTF-8 string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StringError {
    /// Longer than the 65,535 bytes a two-byte length prefix can describe.
    #[error("string of {0} bytes is longer than 65535")]
    TooLong(usize),
    /// Not well-formed UTF-8, or encodes a surrogate code point.
    #[error("string is not well-formed utf-8")]
    InvalidUtf8,
    /// Contains U+0000.
    #[error("string contains U+0000")]
    NullCharacter,
}

/// A UTF-8 Encoded String as MQTT defines it: well-formed UTF-8 without surrogates
/// ([MQTT-1.5.3-1], [MQTT-1.5.4-1]), without U+0000 ([MQTT-1.5.3-2], [MQTT-1.5.4-2]),
/// at most 65,535 bytes. A U+FEFF is kept as it is ([MQTT-1.5.4-3]).
///
/// Cloning is cheap: the text lives in a reference-counted [`Bytes`].
///
/// ```
/// use mqtt_sansio::MqttString;
/// let s = MqttString::try_from("caf\u{e9}").unwrap();
/// assert_eq!(s.as_str(), "café");
/// assert!(MqttString::try_from("a\0b").is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MqttString(Bytes);

impl MqttString {
    /// The empty string.
    pub const fn new() -> Self {
        MqttString(Bytes::new())
    }

    /// Wraps a static string without copying it.
    pub fn from_static(s: &'static str) -> Result<Self, StringError> {
        check(s.as_bytes())?;
        Ok(MqttString(Bytes::from_static(s.as_bytes())))
    }

    /// Validates `bytes` and keeps them without copying.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, StringError> {
        check(&bytes)?;
        Ok(MqttString(bytes))
    }

    /// Wraps bytes the caller has already validated with [`check`].
    pub(crate) fn from_checked(bytes: Bytes) -> Self {
        MqttString(bytes)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Validated at construction and `Bytes` never changes, so this cannot fail;
        // without `unsafe` the check is simply repeated.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The encoded bytes, without the length prefix.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying shared bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl TryFrom<&str> for MqttString {
    type Error = StringError;
    fn try_from(s: &str) -> Result<Self, StringError> {
        check(s.as_bytes())?;
        Ok(MqttString(Bytes::copy_from_slice(s.as_bytes())))
    }
}

impl TryFrom<String> for MqttString {
    type Error = StringError;
    fn try_from(s: String) -> Result<Self, StringError> {
        check(s.as_bytes())?;
        Ok(MqttString(Bytes::from(s)))
    }
}

impl TryFrom<Bytes> for MqttString {
    type Error = StringError;
    fn try_from(b: Bytes) -> Result<Self, StringError> {
        MqttString::from_bytes(b)
    }
}

impl FromStr for MqttString {
    type Err = StringError;
    fn from_str(s: &str) -> Result<Self, StringError> {
        MqttString::try_from(s)
    }
}

impl AsRef<str> for MqttString {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for MqttString {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for MqttString {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl fmt::Display for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The longest string a two-byte length prefix describes.
pub(crate) const MAX_STRING_LEN: usize = 65_535;

/// What a scan found besides validity: whether the wildcard characters `+` or `#` occur.
#[derive(Clone, Copy)]
pub(crate) struct Scanned {
    pub(crate) has_wildcard: bool,
}

/// Checks the MQTT string rules for `bytes`.
#[inline(always)]
pub(crate) fn check(bytes: &[u8]) -> Result<Scanned, StringError> {
    if bytes.len() > MAX_STRING_LEN {
        return Err(StringError::TooLong(bytes.len()));
    }
    scan(bytes)
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Non-zero exactly when some byte of `v` is zero.
#[inline(always)]
fn zero_byte(v: u64) -> u64 {
    v.wrapping_sub(LO) & !v & HI
}

#[inline(always)]
fn load(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// The lanes (bit 7 of each byte) of the eight bytes at `at` that may be `+` or `#`:
/// a lane above a real match may be flagged falsely, none is missed. `at + 8` must
/// not exceed `bytes.len()`.
#[inline(always)]
pub(crate) fn wildcard_lanes(bytes: &[u8], at: usize) -> u64 {
    let w = load(bytes, at);
    zero_byte((w | (LO * 0x08)) ^ (LO * 0x2B))
}

/// One pass, eight bytes at a time (the last word overlapping the one before), with
/// one accumulator that flags a lane when its byte is non-ASCII or NUL and one for `+`
/// and `#`. Only a flagged string is looked at again, byte by byte, to tell which it
/// was. Topic names are nearly always plain ASCII, and this pass is a large part of the
/// cost of decoding a small PUBLISH.
#[inline(always)]
fn scan(bytes: &[u8]) -> Result<Scanned, StringError> {
    let n = bytes.len();
    // The zero-byte test `(v - LO) & !v` is masked with `HI` once at the end instead
    // of once per word: the masked OR of the words is the OR of the masked words.
    let mut flagged = 0u64;
    let mut wildcard = 0u64;
    let mut word = |w: u64| {
        flagged |= w | (w.wrapping_sub(LO) & !w);
        // `+` (0x2B) and `#` (0x23) differ only in bit 3, and no other byte becomes
        // 0x2B when that bit is set: one comparison finds both.
        let wild = (w | (LO * 0x08)) ^ (LO * 0x2B);
        wildcard |= wild.wrapping_sub(LO) & !wild;
    };
    if n >= 8 {
        let mut words = bytes.chunks_exact(8);
        for chunk in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            word(u64::from_le_bytes(w));
        }
        if !words.remainder().is_empty() {
            word(load(bytes, n - 8));
        }
    } else if n >= 4 {
        // Two overlapping four-byte loads cover every byte.
        let head = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let tail = u32::from_le_bytes([bytes[n - 4], bytes[n - 3], bytes[n - 2], bytes[n - 1]]);
        word(u64::from(head) | u64::from(tail) << 32);
    } else if n > 0 {
        // Bytes 0, n/2 and n-1 cover every byte of a one- to three-byte string; the
        // other lanes hold a harmless 'a'.
        let lanes =
            u64::from(bytes[0]) | u64::from(bytes[n / 2]) << 8 | u64::from(bytes[n - 1]) << 16;
        word(lanes | (LO * u64::from(b'a')) << 24);
    }
    if flagged & HI == 0 {
        return Ok(Scanned {
            has_wildcard: wildcard & HI != 0,
        });
    }
    classify(bytes)
}

/// Tells why [`scan`] flagged a string, in the order of precedence the decoder
/// reports: malformed UTF-8, then NUL; a valid string may still hold wildcards.
#[cold]
#[inline(never)]
fn classify(bytes: &[u8]) -> Result<Scanned, StringError> {
    if core::str::from_utf8(bytes).is_err() {
        // [MQTT-1.5.3-1] / [MQTT-1.5.4-1]: ill-formed UTF-8 and encoded surrogates
        // (which `from_utf8` rejects) make the packet malformed.
        return Err(StringError::InvalidUtf8);
    }
    if bytes.contains(&0) {
        // [MQTT-1.5.3-2] / [MQTT-1.5.4-2]
        return Err(StringError::NullCharacter);
    }
    Ok(Scanned {
        has_wildcard: bytes.iter().any(|&b| b == b'+' || b == b'#'),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_each_class_in_every_position() {
        for len in 0..24 {
            for pos in 0..len {
                let mut v = alloc::vec![b'a'; len];
                v[pos] = 0;
                assert_eq!(check(&v).err(), Some(StringError::NullCharacter));
                v[pos] = b'+';
                assert!(check(&v).unwrap().has_wildcard);
                v[pos] = b'#';
                assert!(check(&v).unwrap().has_wildcard);
                v[pos] = 0x80;
                assert_eq!(check(&v).err(), Some(StringError::InvalidUtf8));
            }
            let v = alloc::vec![b'a'; len];
            assert!(!check(&v).unwrap().has_wildcard);
        }
    }

    #[test]
    fn mqtt_1_5_4_1_surrogates_and_overlong_forms_are_rejected() {
        assert_eq!(check(b"\xed\xa0\x80").err(), Some(StringError::InvalidUtf8));
        assert_eq!(check(b"\xc0\x80").err(), Some(StringError::InvalidUtf8));
    }

    #[test]
    fn mqtt_1_5_4_3_byte_order_mark_is_kept() {
        let s = MqttString::try_from("\u{feff}x").unwrap();
        assert_eq!(s.as_bytes(), b"\xef\xbb\xbfx");
        assert_eq!(s.as_str().chars().next(), Some('\u{feff}'));
    }

    #[test]
    fn length_limit_is_65535_bytes() {
        let ok = "a".repeat(65_535);
        assert!(MqttString::try_from(ok.as_str()).is_ok());
        let long = "a".repeat(65_536);
        assert_eq!(
            MqttString::try_from(long.as_str()).err(),
            Some(StringError::TooLong(65_536))
        );
    }
}
