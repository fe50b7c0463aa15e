//! User Properties and Subscription Identifiers: the two properties that may repeat.

use super::{PropertyId, ValueKind};
use crate::codec::primitives::Sink;
use crate::string::MqttString;
use crate::types::SubscriptionId;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;

/// User Properties in the order they appeared or were added, names may repeat
/// ([MQTT-3.3.2-18]).
///
/// A decoded list is a view of the received property block: decoding neither copies
/// nor allocates, and cloning (to forward a message) is a reference count.
///
/// ```
/// use mqtt_sansio::{MqttString, UserProperties};
/// let mut props = UserProperties::new();
/// props.push("region".parse().unwrap(), "eu".parse().unwrap());
/// props.push("region".parse().unwrap(), "us".parse().unwrap());
/// assert_eq!(props.len(), 2);
/// assert_eq!(props.get("region"), Some("eu"));
/// assert_eq!(props.iter().collect::<Vec<_>>(), [("region", "eu"), ("region", "us")]);
/// ```
#[derive(Clone, Default)]
pub struct UserProperties {
    repr: Repr,
}

#[derive(Clone, Default)]
enum Repr {
    #[default]
    Empty,
    /// A validated property block in which `count` User Properties occur, possibly
    /// among other properties; `only_users` when the block holds nothing else.
    Wire {
        block: Bytes,
        count: usize,
        only_users: bool,
    },
    List(Vec<(MqttString, MqttString)>),
}

impl UserProperties {
    /// An empty list.
    pub const fn new() -> Self {
        UserProperties { repr: Repr::Empty }
    }

    /// A view of a validated property block holding `count` User Properties, and
    /// nothing else when `only_users`.
    #[inline]
    pub(crate) fn from_wire(block: Bytes, count: usize, only_users: bool) -> Self {
        UserProperties {
            repr: Repr::Wire {
                block,
                count,
                only_users,
            },
        }
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Empty => 0,
            Repr::Wire { count, .. } => *count,
            Repr::List(list) => list.len(),
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a property.
    pub fn push(&mut self, name: MqttString, value: MqttString) {
        let mut list = self.take_list();
        list.push((name, value));
        self.repr = Repr::List(list);
    }

    /// The value of the first property called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The properties, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter_raw().map(|(n, v)| {
            // Both were checked when they were decoded or constructed.
            (
                core::str::from_utf8(n).unwrap_or_default(),
                core::str::from_utf8(v).unwrap_or_default(),
            )
        })
    }

    /// The properties as owned strings sharing the received bytes.
    pub fn to_vec(&self) -> Vec<(MqttString, MqttString)> {
        match &self.repr {
            Repr::Empty => Vec::new(),
            Repr::List(list) => list.clone(),
            Repr::Wire { block, .. } => self
                .iter_raw()
                .map(|(n, v)| {
                    (
                        MqttString::from_checked(block.slice_ref(n)),
                        MqttString::from_checked(block.slice_ref(v)),
                    )
                })
                .collect(),
        }
    }

    fn take_list(&mut self) -> Vec<(MqttString, MqttString)> {
        match core::mem::take(&mut self.repr) {
            Repr::Empty => Vec::new(),
            Repr::List(list) => list,
            wire @ Repr::Wire { .. } => UserProperties { repr: wire }.to_vec(),
        }
    }

    pub(crate) fn iter_raw(&self) -> RawIter<'_> {
        match &self.repr {
            Repr::Empty => RawIter::List([].iter()),
            Repr::Wire { block, .. } => RawIter::Wire(block),
            Repr::List(list) => RawIter::List(list.iter()),
        }
    }

    pub(crate) fn emit<S: Sink>(&self, s: &mut S) {
        if let Repr::Wire {
            block,
            only_users: true,
            ..
        } = &self.repr
        {
            // Already the canonical form of these properties.
            s.put_slice(block);
            return;
        }
        for (name, value) in self.iter_raw() {
            s.put_u8(PropertyId::UserProperty as u8);
            s.put_prefixed(name);
            s.put_prefixed(value);
        }
    }
}

/// Iterates `(name, value)` byte slices.
pub(crate) enum RawIter<'a> {
    Wire(&'a [u8]),
    List(core::slice::Iter<'a, (MqttString, MqttString)>),
}

impl<'a> Iterator for RawIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            RawIter::List(it) => it.next().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            RawIter::Wire(rest) => loop {
                // The block was validated when decoded; `get` keeps this total anyway.
                let (&id, tail) = rest.split_first()?;
                let id = PropertyId::from_byte(id)?;
                let skip = match id.kind() {
                    ValueKind::Byte => 1,
                    ValueKind::TwoBytes => 2,
                    ValueKind::FourBytes => 4,
                    ValueKind::VarInt => tail.iter().position(|b| b & 0x80 == 0)? + 1,
                    ValueKind::Prefixed => prefixed_len(tail)?,
                    ValueKind::Pair => {
                        let name_len = prefixed_len(tail)?;
                        let value_len = prefixed_len(tail.get(name_len..)?)?;
                        let name = tail.get(2..name_len)?;
                        let value = tail.get(name_len + 2..name_len + value_len)?;
                        *rest = tail.get(name_len + value_len..)?;
                        return Some((name, value));
                    }
                };
                *rest = tail.get(skip..)?;
            },
        }
    }
}

/// Length of a two-byte-prefixed field including its prefix.
fn prefixed_len(b: &[u8]) -> Option<usize> {
    let len = u16::from_be_bytes([*b.first()?, *b.get(1)?]);
    let total = 2 + usize::from(len);
    (b.len() >= total).then_some(total)
}

impl PartialEq for UserProperties {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter_raw().eq(other.iter_raw())
    }
}

impl Eq for UserProperties {}

impl fmt::Debug for UserProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl FromIterator<(MqttString, MqttString)> for UserProperties {
    fn from_iter<I: IntoIterator<Item = (MqttString, MqttString)>>(iter: I) -> Self {
        let list: Vec<_> = iter.into_iter().collect();
        if list.is_empty() {
            UserProperties::new()
        } else {
            UserProperties {
                repr: Repr::List(list),
            }
        }
    }
}

impl Extend<(MqttString, MqttString)> for UserProperties {
    fn extend<I: IntoIterator<Item = (MqttString, MqttString)>>(&mut self, iter: I) {
        let mut list = self.take_list();
        list.extend(iter);
        self.repr = if list.is_empty() {
            Repr::Empty
        } else {
            Repr::List(list)
        };
    }
}

/// The Subscription Identifiers of a PUBLISH, in order; one is stored without
/// allocating.
///
/// ```
/// use mqtt_sansio::{SubscriptionId, SubscriptionIds};
/// let mut ids = SubscriptionIds::new();
/// ids.push(SubscriptionId::new(3).unwrap());
/// ids.push(SubscriptionId::new(9).unwrap());
/// assert_eq!(ids.iter().map(SubscriptionId::get).collect::<Vec<_>>(), [3, 9]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SubscriptionIds {
    first: Option<SubscriptionId>,
    more: Vec<SubscriptionId>,
}

impl SubscriptionIds {
    /// No identifiers.
    pub const fn new() -> Self {
        SubscriptionIds {
            first: None,
            more: Vec::new(),
        }
    }

    /// Appends an identifier.
    pub fn push(&mut self, id: SubscriptionId) {
        if self.first.is_none() {
            self.first = Some(id);
        } else {
            self.more.push(id);
        }
    }

    /// Number of identifiers.
    pub fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// The identifiers, in order.
    pub fn iter(&self) -> impl Iterator<Item = SubscriptionId> + '_ {
        self.first.iter().chain(self.more.iter()).copied()
    }
}

impl FromIterator<SubscriptionId> for SubscriptionIds {
    fn from_iter<I: IntoIterator<Item = SubscriptionId>>(iter: I) -> Self {
        let mut ids = SubscriptionIds::new();
        for id in iter {
            ids.push(id);
        }
        ids
    }
}
