//! Outgoing Topic Aliases (MQTT 5.0 section 3.3.2.3.4): per network connection, within
//! the server's Topic Alias Maximum, the least recently used one replaced when all are
//! taken.

use crate::topic::TopicName;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::num::NonZeroU16;

/// How the client uses Topic Aliases on the PUBLISH packets it sends (MQTT 5.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TopicAliasMode {
    /// Never.
    Off,
    /// The client assigns them, within the server's Topic Alias Maximum, replacing the
    /// least recently used one when all are taken.
    #[default]
    Auto,
    /// Only the alias a message carries in its properties, checked against the
    /// server's maximum; the client leaves the topic out once that alias stands for it.
    Manual,
}

/// The aliases of one connection: which topic each stands for, and when it was last
/// used.
#[derive(Clone, Debug, Default)]
pub(crate) struct OutboundAliases {
    /// The server's Topic Alias Maximum on this connection (0: none).
    maximum: u16,
    /// By alias - 1: the topic and the use counter at its last use.
    slots: Vec<Option<(TopicName, u64)>>,
    by_topic: BTreeMap<TopicName, u16>,
    uses: u64,
}

/// What to send for a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AliasUse {
    /// The alias already stands for the topic: send it with an empty topic.
    Known(NonZeroU16),
    /// Send the topic with the alias, which from then on stands for it.
    Set(NonZeroU16),
}

/// The Topic Aliases the peer set on this connection (incoming), by alias - 1. Both
/// roles resolve incoming aliases the same way; each maps a fault to its own reason.
#[derive(Clone, Debug, Default)]
pub(crate) struct InboundAliases {
    topics: Vec<Option<TopicName>>,
}

/// Why an incoming Topic Alias was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AliasFault {
    /// Above the maximum this side sent (DISCONNECT 0x94).
    AboveMaximum,
    /// An empty topic with an alias never set on this connection (a protocol error).
    Unknown,
}

impl InboundAliases {
    /// Forgets every alias: a new connection starts without any ([MQTT-3.3.2-7]).
    pub(crate) fn clear(&mut self) {
        self.topics.clear();
    }

    /// Resolves `publish`'s alias to its topic (an empty topic) or records the topic it
    /// now stands for, within `maximum` (the Topic Alias Maximum this side sent).
    pub(crate) fn resolve(
        &mut self,
        publish: &mut crate::codec::Publish,
        maximum: u16,
    ) -> Result<(), AliasFault> {
        let Some(alias) = publish.properties.topic_alias else {
            return Ok(());
        };
        if alias.get() > maximum {
            return Err(AliasFault::AboveMaximum);
        }
        let index = usize::from(alias.get() - 1);
        if publish.topic.is_empty() {
            let topic = self.topics.get(index).cloned().flatten();
            publish.topic = topic.ok_or(AliasFault::Unknown)?;
        } else {
            if self.topics.len() <= index {
                self.topics.resize(index + 1, None);
            }
            self.topics[index] = Some(publish.topic.clone());
        }
        Ok(())
    }
}

impl AliasUse {
    /// The PUBLISH to write for `publish` with this use of an alias: the alias set, and
    /// the topic left out once the alias stands for it.
    pub(crate) fn apply(self, publish: &crate::codec::Publish) -> crate::codec::Publish {
        let mut wire = publish.clone();
        match self {
            AliasUse::Known(alias) => {
                wire.topic = TopicName::empty();
                wire.properties.topic_alias = Some(alias);
            }
            AliasUse::Set(alias) => wire.properties.topic_alias = Some(alias),
        }
        wire
    }
}

impl OutboundAliases {
    /// True when the server accepts aliases on this connection.
    pub(crate) fn enabled(&self) -> bool {
        self.maximum > 0
    }

    /// Forgets every alias: a new connection starts without any ([MQTT-3.3.2-7]).
    pub(crate) fn reset(&mut self, maximum: u16) {
        self.maximum = maximum;
        self.slots.clear();
        self.by_topic.clear();
        self.uses = 0;
    }

    /// Picks an alias for `topic`: the one it has, a free one, or the least recently
    /// used one. `None` when the server accepts none ([MQTT-3.2.2-18]).
    pub(crate) fn auto(&mut self, topic: &TopicName) -> Option<AliasUse> {
        if self.maximum == 0 {
            return None;
        }
        self.uses += 1;
        if let Some(&alias) = self.by_topic.get(topic) {
            self.slots[usize::from(alias - 1)] = Some((topic.clone(), self.uses));
            return NonZeroU16::new(alias).map(AliasUse::Known);
        }
        // [MQTT-3.3.2-9] never above the server's Topic Alias Maximum.
        let alias = if self.slots.len() < usize::from(self.maximum) {
            self.slots.push(None);
            self.slots.len() as u16
        } else {
            let (index, _) = self
                .slots
                .iter()
                .enumerate()
                .min_by_key(|(_, slot)| slot.as_ref().map_or(0, |(_, used)| *used))?;
            index as u16 + 1
        };
        self.bind(alias, topic);
        NonZeroU16::new(alias).map(AliasUse::Set)
    }

    /// The use of an alias the application chose; `None` when it is above the
    /// server's maximum ([MQTT-3.3.2-9]).
    pub(crate) fn manual(&mut self, alias: NonZeroU16, topic: &TopicName) -> Option<AliasUse> {
        if alias.get() > self.maximum {
            return None;
        }
        self.uses += 1;
        let index = usize::from(alias.get() - 1);
        if self.slots.len() <= index {
            self.slots.resize(index + 1, None);
        }
        if matches!(&self.slots[index], Some((t, _)) if t == topic) {
            self.slots[index] = Some((topic.clone(), self.uses));
            return Some(AliasUse::Known(alias));
        }
        self.bind(alias.get(), topic);
        Some(AliasUse::Set(alias))
    }

    /// Makes `alias` stand for `topic`, unbinding what either stood for before.
    fn bind(&mut self, alias: u16, topic: &TopicName) {
        let index = usize::from(alias - 1);
        if let Some((old, _)) = self.slots[index].take() {
            self.by_topic.remove(&old);
        }
        if let Some(previous) = self.by_topic.insert(topic.clone(), alias) {
            if previous != alias {
                self.slots[usize::from(previous - 1)] = None;
            }
        }
        self.slots[index] = Some((topic.clone(), self.uses));
    }
}
