//! The server side of an MQTT session: what the server keeps for one Client
//! Identifier across network connections.

use crate::client::Message;
use crate::codec::Publish;
use crate::string::MqttString;
use crate::time::Instant;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{PacketId, SubscriptionId, SubscriptionOptions};
use alloc::collections::{BTreeMap, VecDeque};

/// A subscription the session holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Granted {
    /// The options, with the QoS granted.
    pub options: SubscriptionOptions,
    /// The Subscription Identifier of the SUBSCRIBE that made it.
    pub identifier: Option<SubscriptionId>,
}

/// A message sent to the client and not yet completed.
#[derive(Clone, Debug)]
pub(crate) struct Outgoing {
    /// The PUBLISH as first sent, with its identifier and full topic.
    pub(crate) publish: Publish,
    /// QoS 2: PUBREC arrived and PUBREL went out.
    pub(crate) released: bool,
    /// Order of the last step sent, for re-sends ([MQTT-4.6.0-1]).
    pub(crate) seq: u64,
    /// The session was resumed and the PUBLISH waits for the client's Receive Maximum
    /// to be sent again.
    pub(crate) pending: bool,
}

/// A message waiting to be sent: the client is offline or its Receive Maximum is
/// reached.
#[derive(Clone, Debug)]
pub(crate) struct Queued {
    pub(crate) message: Message,
    pub(crate) queued_at: Instant,
}

/// Where a QoS 2 message from the client stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// Handed to the broker; the broker has not acknowledged it yet (manual mode).
    Unacked,
    /// PUBREC sent; waiting for PUBREL.
    Received,
}

/// What the server keeps for one Client Identifier: subscriptions, messages in
/// flight to the client and queued for it, QoS 2 messages from it not yet released.
/// A [`ServerConnection`](super::ServerConnection) holds it while the client is
/// connected and after, until the session expires or a new connection takes it.
#[derive(Clone, Debug)]
pub struct ServerSession {
    client_id: MqttString,
    /// Seconds after the connection closes; `u32::MAX`: never expires.
    pub(crate) expiry_interval: u32,
    pub(crate) subscriptions: BTreeMap<TopicFilter, Granted>,
    pub(crate) outgoing: BTreeMap<u16, Outgoing>,
    pub(crate) queue: VecDeque<Queued>,
    pub(crate) incoming_qos2: BTreeMap<u16, Incoming>,
    /// In-flight messages waiting to be sent again after a resumption.
    pending: usize,
    /// Connections that took the session so far: an answer meant for an earlier one
    /// is stale.
    pub(crate) epoch: u64,
    next_packet_id: u16,
    next_seq: u64,
}

impl ServerSession {
    pub(crate) fn new(client_id: MqttString) -> Self {
        ServerSession {
            client_id,
            expiry_interval: 0,
            subscriptions: BTreeMap::new(),
            outgoing: BTreeMap::new(),
            queue: VecDeque::new(),
            incoming_qos2: BTreeMap::new(),
            pending: 0,
            epoch: 0,
            next_packet_id: 0,
            next_seq: 0,
        }
    }

    /// The Client Identifier the session belongs to.
    pub fn client_id(&self) -> &MqttString {
        &self.client_id
    }

    /// The subscriptions, by filter.
    pub fn subscriptions(&self) -> impl Iterator<Item = (&TopicFilter, &Granted)> {
        self.subscriptions.iter()
    }

    /// The subscriptions whose filter matches `topic` (shared ones included).
    pub fn matching<'a>(
        &'a self,
        topic: &'a TopicName,
    ) -> impl Iterator<Item = (&'a TopicFilter, &'a Granted)> + 'a {
        self.subscriptions.iter().filter(|(f, _)| f.matches(topic))
    }

    /// Messages sent to the client and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.outgoing.len()
    }

    /// Messages using the client's Receive Maximum on this connection: sent (or
    /// released) and not completed, those waiting to be sent again left out.
    pub(crate) fn on_wire(&self) -> usize {
        self.outgoing.len() - self.pending
    }

    /// Removes in-flight message `pid`, keeping the count of pending re-sends.
    pub(crate) fn remove_outgoing(&mut self, pid: u16) -> Option<Outgoing> {
        let out = self.outgoing.remove(&pid)?;
        if out.pending {
            self.pending -= 1;
        }
        Some(out)
    }

    /// Marks in-flight message `pid` as waiting to be sent again, or not.
    pub(crate) fn set_pending(&mut self, pid: u16, pending: bool) {
        if let Some(out) = self.outgoing.get_mut(&pid) {
            if out.pending != pending {
                out.pending = pending;
                if pending {
                    self.pending += 1;
                } else {
                    self.pending -= 1;
                }
            }
        }
    }

    /// Messages waiting to be sent.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Seconds the session outlives its connection (`u32::MAX`: forever).
    pub fn expiry_interval(&self) -> u32 {
        self.expiry_interval
    }

    /// A packet identifier no message in flight to the client holds
    /// ([MQTT-2.2.1-4]); `None` when all are taken.
    pub(crate) fn allocate_packet_id(&mut self) -> Option<PacketId> {
        if self.outgoing.len() >= usize::from(u16::MAX) {
            return None;
        }
        let mut candidate = self.next_packet_id;
        loop {
            candidate = candidate.wrapping_add(1).max(1);
            if !self.outgoing.contains_key(&candidate) {
                self.next_packet_id = candidate;
                return PacketId::new(candidate);
            }
        }
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// The messages in flight in the order they were last sent.
    pub(crate) fn outgoing_in_order(&self) -> alloc::vec::Vec<u16> {
        let mut ids: alloc::vec::Vec<(u64, u16)> =
            self.outgoing.iter().map(|(&id, o)| (o.seq, id)).collect();
        ids.sort_unstable();
        ids.into_iter().map(|(_, id)| id).collect()
    }
}
