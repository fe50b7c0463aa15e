//! The messages waiting for a connection or a flow-control slot, bounded by count and
//! by bytes.

use super::PublishId;
use crate::codec::Publish;
use crate::time::Instant;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// A message waiting for a connection or a flow-control slot, already in PUBLISH form;
/// at QoS 1/2 its packet identifier is a placeholder until it is sent.
#[derive(Debug, Clone)]
pub(super) struct Queued {
    pub(super) id: PublishId,
    pub(super) publish: Publish,
    /// When it started waiting: its Message Expiry Interval counts from here.
    pub(super) since: Instant,
}

impl Queued {
    /// What is left of its Message Expiry Interval after waiting since it was queued,
    /// in whole seconds: 0 once it has expired, `None` when it has no interval.
    pub(super) fn expiry_left(&self, now: Instant) -> Option<u32> {
        let interval = self.publish.properties.message_expiry_interval?;
        let waited = now.saturating_duration_since(self.since).as_secs();
        Some(u64::from(interval).saturating_sub(waited) as u32)
    }

    /// What the message counts for against the byte bound: topic and payload.
    pub(super) fn weight(&self) -> usize {
        self.publish.topic.len() + self.publish.payload.len()
    }
}

/// The waiting messages, oldest first, with the bytes they hold.
#[derive(Debug, Clone, Default)]
pub(super) struct Queue {
    items: VecDeque<Queued>,
    bytes: usize,
}

impl Queue {
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Topic and payload bytes held.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The waiting messages, oldest first.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Queued> {
        self.items.iter()
    }

    pub(super) fn front(&self) -> Option<&Queued> {
        self.items.front()
    }

    pub(super) fn push_back(&mut self, queued: Queued) {
        self.bytes += queued.weight();
        self.items.push_back(queued);
    }

    pub(super) fn push_front(&mut self, queued: Queued) {
        self.bytes += queued.weight();
        self.items.push_front(queued);
    }

    /// Removes and returns the messages whose Message Expiry Interval has passed at
    /// `now`, oldest first.
    pub(super) fn take_expired(&mut self, now: Instant) -> Vec<Queued> {
        let mut expired = Vec::new();
        let mut kept = VecDeque::with_capacity(self.items.len());
        for queued in self.items.drain(..) {
            if queued.expiry_left(now) == Some(0) {
                self.bytes -= queued.weight();
                expired.push(queued);
            } else {
                kept.push_back(queued);
            }
        }
        self.items = kept;
        expired
    }

    pub(super) fn pop_front(&mut self) -> Option<Queued> {
        let queued = self.items.pop_front()?;
        self.bytes -= queued.weight();
        Some(queued)
    }
}
