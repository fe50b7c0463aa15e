//! What survives a network connection: packet identifiers in use, outgoing QoS 1/2
//! messages not yet completed, incoming QoS 2 identifiers not yet released, requests
//! awaiting their acknowledgement and the subscriptions the server granted.

use crate::client::{PublishId, SubscribeId, UnsubscribeId};
use crate::codec::{PropertyBox, Publish, Subscribe, SubscribeProperties, Unsubscribe};
use crate::topic::TopicFilter;
use crate::types::{PacketId, SubscriptionOptions};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec;
use alloc::vec::Vec;

pub(crate) mod persist;

/// An outgoing QoS 1 or 2 PUBLISH that has been sent and not yet completed.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The handle the command returned.
    pub(crate) id: PublishId,
    /// Order of the last step sent: the PUBLISH, or the PUBREL once released.
    /// Re-sends follow it ([MQTT-4.6.0-1], [MQTT-4.6.0-4]).
    pub(crate) seq: u64,
    /// The packet as sent, with its identifier.
    pub(crate) publish: Publish,
    /// QoS 2 only: PUBREC arrived and PUBREL went out; waiting for PUBCOMP.
    pub(crate) released: bool,
    /// After a reconnection: the PUBLISH still has to be re-sent when the send quota
    /// allows.
    pub(crate) awaiting_resend: bool,
    /// When it was first sent: its Message Expiry Interval, as written, counts from
    /// here should it have to be sent again as a new message.
    pub(crate) sent_at: crate::time::Instant,
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

/// What holds a packet identifier.
#[derive(Debug, Clone)]
enum Slot {
    Free,
    /// Handed out, not yet filled.
    Reserved,
    Publish(Outgoing),
    /// A request and its order among requests.
    Request {
        seq: u64,
        request: Request,
    },
}

/// A granted subscription as the session remembers it, to subscribe again the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tracked {
    pub(crate) options: SubscriptionOptions,
    /// The SUBSCRIBE's properties: Subscription Identifier, User Properties.
    pub(crate) properties: PropertyBox<SubscribeProperties>,
}

/// The client side of an MQTT session.
///
/// Entries live in a slab whose freed slots are reused, so an entry is written once
/// and moved out once; a small ordered map leads from packet identifier to slot.
#[derive(Debug, Clone, Default)]
pub(crate) struct Session {
    slots: Vec<Slot>,
    /// Indices of free slots, most recently freed last.
    free: Vec<u32>,
    /// Slot of each packet identifier in use.
    ids: IdIndex,
    publishes: usize,
    /// Outgoing messages waiting for their re-send after a reconnection.
    pub(crate) awaiting_resend: usize,
    /// Incoming QoS 2 messages delivered, PUBREC sent, waiting for PUBREL.
    pub(crate) incoming_qos2: BTreeSet<u16>,
    /// Subscriptions the server granted.
    pub(crate) subscriptions: BTreeMap<TopicFilter, Tracked>,
    /// The next identifier to try.
    next_packet_id: u16,
    /// The next order number.
    next_seq: u64,
}

impl Session {
    /// An identifier no outgoing PUBLISH, SUBSCRIBE or UNSUBSCRIBE holds: one space for
    /// all three ([MQTT-4.3.2-1], [MQTT-4.3.3-1]), handed out in increasing order and
    /// wrapping from 65,535 to 1. `None` when all 65,535 are taken. The caller fills it
    /// with [`Session::insert_publish`] or [`Session::insert_request`].
    pub(crate) fn allocate_packet_id(&mut self) -> Option<PacketId> {
        if self.ids.len >= usize::from(u16::MAX) {
            return None;
        }
        // Fewer than 65,535 are taken, so the search ends within one turn.
        let mut candidate = self.next_packet_id;
        for _ in 0..u16::MAX {
            candidate = candidate.wrapping_add(1).max(1);
            if self.ids.get(candidate).is_none() {
                break;
            }
        }
        self.next_packet_id = candidate;
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot::Free);
                (self.slots.len() - 1) as u32
            }
        };
        self.slots[index as usize] = Slot::Reserved;
        self.ids.insert(candidate, index);
        PacketId::new(candidate)
    }

    fn slot(&self, pid: u16) -> Option<&Slot> {
        let index = self.ids.get(pid)?;
        self.slots.get(index as usize)
    }

    fn slot_mut(&mut self, pid: u16) -> Option<&mut Slot> {
        let index = self.ids.get(pid)?;
        self.slots.get_mut(index as usize)
    }

    /// Frees `pid` and returns what held it.
    fn release(&mut self, pid: u16) -> Slot {
        let Some(index) = self.ids.remove(pid) else {
            return Slot::Free;
        };
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return Slot::Free;
        };
        let old = core::mem::replace(slot, Slot::Free);
        if let Slot::Publish(o) = &old {
            self.publishes -= 1;
            self.awaiting_resend -= usize::from(o.awaiting_resend);
        }
        self.free.push(index);
        old
    }

    /// Fills an identifier from [`Session::allocate_packet_id`] with a sent PUBLISH.
    pub(crate) fn insert_publish(&mut self, pid: PacketId, outgoing: Outgoing) {
        if let Some(slot) = self.slot_mut(pid.get()) {
            *slot = Slot::Publish(outgoing);
            self.publishes += 1;
        }
    }

    /// Fills an identifier from [`Session::allocate_packet_id`] with a request.
    pub(crate) fn insert_request(&mut self, pid: PacketId, request: Request) {
        let seq = self.next_seq();
        if let Some(slot) = self.slot_mut(pid.get()) {
            *slot = Slot::Request { seq, request };
        }
    }

    /// The outgoing PUBLISH holding `pid`.
    pub(crate) fn publish(&self, pid: u16) -> Option<&Outgoing> {
        match self.slot(pid) {
            Some(Slot::Publish(o)) => Some(o),
            _ => None,
        }
    }

    /// The outgoing PUBLISH holding `pid`, to change.
    pub(crate) fn publish_mut(&mut self, pid: u16) -> Option<&mut Outgoing> {
        match self.slot_mut(pid) {
            Some(Slot::Publish(o)) => Some(o),
            _ => None,
        }
    }

    /// Completes the outgoing PUBLISH holding `pid`.
    pub(crate) fn remove_publish(&mut self, pid: u16) -> Option<Outgoing> {
        let index = self.ids.get(pid)? as usize;
        let slot = self.slots.get_mut(index)?;
        if !matches!(slot, Slot::Publish(_)) {
            return None;
        }
        let Slot::Publish(outgoing) = core::mem::replace(slot, Slot::Free) else {
            return None;
        };
        self.ids.remove(pid);
        self.free.push(index as u32);
        self.publishes -= 1;
        self.awaiting_resend -= usize::from(outgoing.awaiting_resend);
        Some(outgoing)
    }

    /// The request holding `pid`.
    pub(crate) fn request(&self, pid: u16) -> Option<&Request> {
        match self.slot(pid) {
            Some(Slot::Request { request, .. }) => Some(request),
            _ => None,
        }
    }

    /// Completes the request holding `pid`.
    pub(crate) fn remove_request(&mut self, pid: u16) -> Option<Request> {
        match self.slot(pid) {
            Some(Slot::Request { .. }) => match self.release(pid) {
                Slot::Request { request, .. } => Some(request),
                _ => None,
            },
            _ => None,
        }
    }

    /// Requests waiting for their acknowledgement, in the order they were made.
    pub(crate) fn requests_in_order(&self) -> Vec<Request> {
        let mut requests: Vec<(u64, &Request)> = self
            .slots
            .iter()
            .filter_map(|s| match s {
                Slot::Request { seq, request } => Some((*seq, request)),
                _ => None,
            })
            .collect();
        requests.sort_unstable_by_key(|(seq, _)| *seq);
        requests.into_iter().map(|(_, r)| r.clone()).collect()
    }

    /// Every outgoing message with its identifier.
    fn publishes(&self) -> impl Iterator<Item = (u16, &Outgoing)> {
        self.slots.iter().filter_map(|s| match s {
            Slot::Publish(o) => o.publish.packet_id().map(|pid| (pid.get(), o)),
            _ => None,
        })
    }

    /// Outgoing QoS 1/2 messages not completed.
    pub(crate) fn publish_count(&self) -> usize {
        self.publishes
    }

    /// Outgoing messages on the wire of this connection: not completed and not
    /// waiting for their re-send.
    pub(crate) fn publishes_on_wire(&self) -> usize {
        self.publishes - self.awaiting_resend
    }

    /// The next order number.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// True when nothing would be lost if the server dropped the session.
    pub(crate) fn is_empty(&self) -> bool {
        self.publishes == 0 && self.incoming_qos2.is_empty() && self.subscriptions.is_empty()
    }

    /// Identifiers of the outgoing messages, in the order of their last step sent.
    pub(crate) fn publishes_in_order(&self) -> Vec<u16> {
        let mut ids: Vec<(u64, u16)> = self.publishes().map(|(pid, o)| (o.seq, pid)).collect();
        ids.sort_unstable();
        ids.into_iter().map(|(_, pid)| pid).collect()
    }

    /// Marks or clears the re-send flag of `pid`, keeping the count.
    pub(crate) fn set_awaiting_resend(&mut self, pid: u16, awaiting: bool) {
        let Some(o) = self.publish_mut(pid) else {
            return;
        };
        if o.awaiting_resend != awaiting {
            o.awaiting_resend = awaiting;
            if awaiting {
                self.awaiting_resend += 1;
            } else {
                self.awaiting_resend -= 1;
            }
        }
    }

    /// The first outgoing message, in order, that waits for its re-send.
    pub(crate) fn next_awaiting_resend(&self) -> Option<u16> {
        self.publishes()
            .filter(|(_, o)| o.awaiting_resend)
            .map(|(pid, o)| (o.seq, pid))
            .min()
            .map(|(_, pid)| pid)
    }
}

/// Packet identifier to slab slot: open addressing on the identifier's low bits,
/// at most half full. Identifiers are handed out in increasing order, so the ones in
/// flight mostly sit in their home position and a lookup is one or two reads.
#[derive(Debug, Clone, Default)]
struct IdIndex {
    /// `identifier << 16 | slot`; 0 is empty (identifiers are never 0).
    table: Vec<u32>,
    len: usize,
}

impl IdIndex {
    fn home(&self, pid: u16) -> usize {
        usize::from(pid) & (self.table.len() - 1)
    }

    /// The position holding `pid`.
    fn find(&self, pid: u16) -> Option<usize> {
        if self.table.is_empty() {
            return None;
        }
        let mask = self.table.len() - 1;
        let mut i = self.home(pid);
        // At most half full, so an empty position ends the probe.
        loop {
            let entry = self.table[i];
            if entry == 0 {
                return None;
            }
            if (entry >> 16) as u16 == pid {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    fn get(&self, pid: u16) -> Option<u32> {
        self.find(pid).map(|i| self.table[i] & 0xFFFF)
    }

    /// Adds `pid`, which is not present; `slot` is below 65,535.
    fn insert(&mut self, pid: u16, slot: u32) {
        if (self.len + 1) * 2 > self.table.len() {
            let size = (self.table.len() * 2).max(8);
            let old = core::mem::replace(&mut self.table, vec![0; size]);
            for entry in old.into_iter().filter(|&e| e != 0) {
                self.place(entry);
            }
        }
        self.place(u32::from(pid) << 16 | slot);
        self.len += 1;
    }

    fn place(&mut self, entry: u32) {
        let mask = self.table.len() - 1;
        let mut i = self.home((entry >> 16) as u16);
        while self.table[i] != 0 {
            i = (i + 1) & mask;
        }
        self.table[i] = entry;
    }

    /// Removes `pid` and returns its slot; later entries of the probe run move back so
    /// that no tombstones are needed.
    fn remove(&mut self, pid: u16) -> Option<u32> {
        let mut hole = self.find(pid)?;
        let slot = self.table[hole] & 0xFFFF;
        self.len -= 1;
        let mask = self.table.len() - 1;
        let mut i = hole;
        loop {
            i = (i + 1) & mask;
            let entry = self.table[i];
            if entry == 0 {
                break;
            }
            let home = self.home((entry >> 16) as u16);
            // The entry may fill the hole if its home is not strictly inside (hole, i].
            let home_in_between = if hole <= i {
                hole < home && home <= i
            } else {
                hole < home || home <= i
            };
            if !home_in_between {
                self.table[hole] = entry;
                hole = i;
            }
        }
        self.table[hole] = 0;
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Publish;
    use bytes::Bytes;

    fn hold(session: &mut Session) -> PacketId {
        let pid = session.allocate_packet_id().unwrap();
        let seq = session.next_seq();
        session.insert_publish(
            pid,
            Outgoing {
                id: PublishId(seq),
                seq,
                publish: Publish::new(crate::TopicName::from_static("t").unwrap(), Bytes::new()),
                released: false,
                awaiting_resend: false,
                sent_at: crate::time::Instant::ZERO,
            },
        );
        pid
    }

    #[test]
    fn packet_ids_skip_those_in_flight_and_wrap() {
        let mut s = Session::default();
        let first = hold(&mut s);
        assert_eq!(first.get(), 1);
        s.next_packet_id = u16::MAX - 1;
        assert_eq!(hold(&mut s).get(), u16::MAX);
        // Wraps past 65,535 to 1, which is in flight, so 2 is next.
        assert_eq!(hold(&mut s).get(), 2);
        assert!(s.remove_publish(1).is_some());
        assert!(s.remove_publish(1).is_none());
        assert_eq!(s.publish_count(), 2);
        // The freed slot is reused for the next entry.
        assert_eq!(s.slots.len(), 3);
        hold(&mut s);
        assert_eq!(s.slots.len(), 3);
    }

    #[test]
    fn packet_ids_exhausted_is_none_not_a_stall() {
        let mut s = Session::default();
        for _ in 0..u16::MAX {
            hold(&mut s);
        }
        assert_eq!(s.allocate_packet_id(), None);
        s.remove_publish(777);
        assert_eq!(s.allocate_packet_id().unwrap().get(), 777);
        assert_eq!(s.allocate_packet_id(), None);
    }

    #[test]
    fn id_index_survives_collisions_wrap_and_removal_in_any_order() {
        let mut index = IdIndex::default();
        let mut model = BTreeMap::new();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Identifiers from a few clustered ranges, to collide on the low bits.
            let pid = ((state % 64) as u16)
                .wrapping_mul(if state & 64 == 0 { 1 } else { 257 })
                .max(1);
            if model.contains_key(&pid) {
                assert_eq!(index.remove(pid), model.remove(&pid));
            } else if model.len() < 1000 {
                let slot = (state >> 32) as u32 & 0xFFFF;
                index.insert(pid, slot.min(65_534));
                model.insert(pid, slot.min(65_534));
            }
            assert_eq!(index.len, model.len());
            for (&p, &s) in &model {
                assert_eq!(index.get(p), Some(s));
            }
        }
    }
}
