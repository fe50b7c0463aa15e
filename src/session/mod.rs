//! What survives a network connection: packet identifiers in use, outgoing QoS 1/2
//! messages not yet completed, incoming QoS 2 identifiers not yet released, requests
//! awaiting their acknowledgement and the subscriptions the server granted.

use crate::client::{PublishId, SubscribeId, UnsubscribeId};
use crate::codec::{Publish, Subscribe, Unsubscribe};
use crate::topic::TopicFilter;
use crate::types::{PacketId, SubscriptionOptions};
use alloc::collections::{BTreeMap, BTreeSet};

/// An outgoing QoS 1 or 2 PUBLISH that has been sent and not yet completed.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The handle the command returned.
    pub(crate) id: PublishId,
    /// Order of the first transmission: re-sends follow it ([MQTT-4.6.0-1]).
    pub(crate) seq: u64,
    /// The packet as sent, with its identifier.
    pub(crate) publish: Publish,
    /// QoS 2 only: PUBREC arrived and PUBREL went out; waiting for PUBCOMP.
    pub(crate) released: bool,
}

/// A SUBSCRIBE or UNSUBSCRIBE waiting for its acknowledgement.
#[derive(Debug, Clone)]
pub(crate) enum Request {
    /// A SUBSCRIBE; `id` is `None` for the automatic re-subscription after a lost
    /// session.
    Subscribe {
        id: Option<SubscribeId>,
        packet: Subscribe,
    },
    /// An UNSUBSCRIBE.
    Unsubscribe {
        id: UnsubscribeId,
        packet: Unsubscribe,
    },
}

/// The client side of an MQTT session.
#[derive(Debug, Clone, Default)]
pub(crate) struct Session {
    /// Outgoing QoS 1/2 messages in flight, by packet identifier.
    pub(crate) outgoing: BTreeMap<u16, Outgoing>,
    /// Incoming QoS 2 messages delivered, PUBREC sent, waiting for PUBREL.
    pub(crate) incoming_qos2: BTreeSet<u16>,
    /// SUBSCRIBE / UNSUBSCRIBE waiting for SUBACK / UNSUBACK, by packet identifier.
    pub(crate) requests: BTreeMap<u16, Request>,
    /// Subscriptions the server granted, with the options they were requested with.
    pub(crate) subscriptions: BTreeMap<TopicFilter, SubscriptionOptions>,
    /// The next identifier to try.
    next_packet_id: u16,
    /// The next transmission order number.
    next_seq: u64,
}

impl Session {
    /// An identifier no outgoing PUBLISH, SUBSCRIBE or UNSUBSCRIBE holds: one space for
    /// all three ([MQTT-4.3.2-1], [MQTT-4.3.3-1]), handed out in increasing order and
    /// wrapping after 65,535. `None` when all 65,535 are in flight.
    pub(crate) fn allocate_packet_id(&mut self) -> Option<PacketId> {
        if self.outgoing.len() + self.requests.len() >= usize::from(u16::MAX) {
            return None;
        }
        // Fewer than 65,535 are taken, so the loop finds a free one; the bound only
        // keeps the search finite whatever happens.
        for _ in 0..u16::MAX {
            let candidate = self.next_packet_id.max(1);
            self.next_packet_id = candidate.wrapping_add(1);
            if !self.outgoing.contains_key(&candidate) && !self.requests.contains_key(&candidate) {
                return PacketId::new(candidate);
            }
        }
        None
    }

    /// The next transmission order number.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// True when nothing would be lost if the server dropped the session.
    pub(crate) fn is_empty(&self) -> bool {
        self.outgoing.is_empty() && self.incoming_qos2.is_empty() && self.subscriptions.is_empty()
    }

    /// Outgoing messages in the order they were first sent.
    pub(crate) fn outgoing_in_order(&self) -> alloc::vec::Vec<u16> {
        let mut ids: alloc::vec::Vec<(u64, u16)> =
            self.outgoing.iter().map(|(pid, o)| (o.seq, *pid)).collect();
        ids.sort_unstable();
        ids.into_iter().map(|(_, pid)| pid).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Publish;
    use bytes::Bytes;

    fn hold(session: &mut Session, pid: PacketId) {
        let seq = session.next_seq();
        session.outgoing.insert(
            pid.get(),
            Outgoing {
                id: PublishId(seq),
                seq,
                publish: Publish::new(crate::TopicName::from_static("t").unwrap(), Bytes::new()),
                released: false,
            },
        );
    }

    #[test]
    fn packet_ids_skip_those_in_flight_and_wrap() {
        let mut s = Session::default();
        let first = s.allocate_packet_id().unwrap();
        assert_eq!(first.get(), 1);
        hold(&mut s, first);
        s.next_packet_id = u16::MAX;
        assert_eq!(s.allocate_packet_id().unwrap().get(), u16::MAX);
        // Wraps past 65,535 to 1, which is in flight, so 2 is next.
        assert_eq!(s.allocate_packet_id().unwrap().get(), 2);
    }

    #[test]
    fn packet_ids_exhausted_is_none_not_a_stall() {
        let mut s = Session::default();
        for _ in 0..u16::MAX {
            let pid = s.allocate_packet_id().unwrap();
            hold(&mut s, pid);
        }
        assert_eq!(s.allocate_packet_id(), None);
        s.outgoing.remove(&777);
        assert_eq!(s.allocate_packet_id().unwrap().get(), 777);
    }
}
