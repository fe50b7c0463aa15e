//! A small in-memory broker on [`ServerConnection`]: topic routing with wildcards,
//! retained messages, shared subscriptions, persistent sessions, Wills, session
//! takeover. Not a production broker; a faithful one, for tests and examples.

use crate::client::Message;
use crate::codec::{ConnectReasonCode, PropertyBox};
use crate::server::{AcceptOptions, ServerConfig, ServerConnection, ServerEvent, ServerState};
use crate::string::MqttString;
use crate::time::Instant;
use crate::topic::TopicName;
use crate::types::{QoS, SubscriptionId};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

/// Names one transport the broker accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub usize);

/// Something the broker did that a test or a trace may want to see.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BrokerNote {
    /// A client connected; `session_present` as in its CONNACK.
    Connected {
        /// The connection.
        conn: ConnId,
        /// The Client Identifier.
        client_id: String,
        /// Whether the session was resumed.
        session_present: bool,
    },
    /// A message from `from` was routed to `to`, at `qos`.
    Routed {
        /// Publisher.
        from: String,
        /// Subscriber.
        to: String,
        /// The topic.
        topic: String,
        /// The QoS it was handed over with.
        qos: QoS,
        /// The payload.
        payload: Bytes,
    },
    /// A Will was published.
    Will {
        /// Whose.
        client_id: String,
        /// Its topic.
        topic: String,
    },
    /// A connection ended.
    Closed {
        /// The connection.
        conn: ConnId,
        /// Why, in words.
        reason: String,
    },
    /// A session ended.
    SessionEnded {
        /// Whose.
        client_id: String,
    },
}

#[derive(Debug)]
struct Slot {
    conn: ServerConnection,
    /// The transport is gone (or must be closed once its last bytes are written).
    transport_closed: bool,
}

/// A broker: one [`ServerConnection`] per transport, one session per Client
/// Identifier, a retained message per topic.
///
/// ```
/// use mqtt_sansio::{Instant, ServerConfig};
/// use mqtt_sansio::sim::Broker;
///
/// let mut broker = Broker::new(ServerConfig::default());
/// let conn = broker.accept(Instant::ZERO);
/// // CONNECT, 3.1.1, clean session, client id "c1"
/// broker.handle_input(Instant::ZERO, conn, b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02c1");
/// assert_eq!(&broker.poll_transmit(conn).unwrap()[..], b"\x20\x02\x00\x00");
/// ```
#[derive(Debug)]
pub struct Broker {
    config: ServerConfig,
    slots: Vec<Option<Slot>>,
    /// The connection object that holds each client's session (live or closed).
    sessions: BTreeMap<MqttString, ConnId>,
    /// The retained message of each topic, with when it was stored.
    retained: BTreeMap<TopicName, (Message, Instant)>,
    /// Round-robin position per shared subscription group.
    shared_next: BTreeMap<String, usize>,
    next_assigned_id: u64,
    notes: Vec<BrokerNote>,
}

impl Broker {
    /// A broker offering `config` to every connection.
    pub fn new(config: ServerConfig) -> Self {
        Broker {
            config,
            slots: Vec::new(),
            sessions: BTreeMap::new(),
            retained: BTreeMap::new(),
            shared_next: BTreeMap::new(),
            next_assigned_id: 0,
            notes: Vec::new(),
        }
    }

    /// A transport was accepted at `now`.
    pub fn accept(&mut self, now: Instant) -> ConnId {
        let slot = Slot {
            conn: ServerConnection::new(self.config.clone(), now),
            transport_closed: false,
        };
        self.slots.push(Some(slot));
        ConnId(self.slots.len() - 1)
    }

    /// Bytes from the client of `conn`.
    pub fn handle_input(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        if let Some(slot) = self.slot_mut(conn) {
            slot.conn.handle_input(now, bytes);
        }
        self.process(now);
    }

    /// The transport of `conn` closed.
    pub fn handle_transport_close(&mut self, now: Instant, conn: ConnId) {
        if let Some(slot) = self.slot_mut(conn) {
            slot.transport_closed = true;
            slot.conn.handle_transport_close(now);
        }
        self.process(now);
    }

    /// Time passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        for slot in self.slots.iter_mut().flatten() {
            if slot.conn.poll_timeout().is_some_and(|d| d <= now) {
                slot.conn.handle_timeout(now);
            }
        }
        self.process(now);
    }

    /// Bytes to write to the transport of `conn`.
    pub fn poll_transmit(&mut self, conn: ConnId) -> Option<Bytes> {
        self.slot_mut(conn).and_then(|s| s.conn.poll_transmit())
    }

    /// True once the broker is done with the transport of `conn`: write what
    /// `poll_transmit` gives, then close it.
    pub fn should_close(&self, conn: ConnId) -> bool {
        self.slots
            .get(conn.0)
            .and_then(Option::as_ref)
            .is_none_or(|s| s.conn.state() == ServerState::Closed)
    }

    /// The earliest deadline of any connection or held session.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots
            .iter()
            .flatten()
            .filter_map(|s| s.conn.poll_timeout())
            .min()
    }

    /// What the broker did since the last call.
    pub fn take_notes(&mut self) -> Vec<BrokerNote> {
        core::mem::take(&mut self.notes)
    }

    /// The connection object holding `client_id`'s session, if any.
    pub fn session_of(&self, client_id: &str) -> Option<&ServerConnection> {
        let id: MqttString = client_id.parse().ok()?;
        let conn = self.sessions.get(&id)?;
        self.slots.get(conn.0)?.as_ref().map(|s| &s.conn)
    }

    /// The bound of every session's queue.
    pub fn max_queued(&self) -> usize {
        self.config.max_queued_messages
    }

    /// The retained message of `topic`, if any.
    pub fn retained(&self, topic: &TopicName) -> Option<&Message> {
        self.retained.get(topic).map(|(message, _)| message)
    }

    /// Messages held for clients in all sessions (in flight and queued): a gauge for
    /// memory bounds.
    pub fn messages_held(&self) -> usize {
        self.slots
            .iter()
            .flatten()
            .filter_map(|s| s.conn.session())
            .map(|s| s.in_flight() + s.queued())
            .sum()
    }

    /// The broker restarts: every transport is dropped. With `keep_sessions` the
    /// sessions, pending Wills and retained messages survive (a broker with
    /// persistence); without, all state is lost.
    pub fn restart(&mut self, now: Instant, keep_sessions: bool) {
        if keep_sessions {
            for slot in self.slots.iter_mut().flatten() {
                slot.transport_closed = true;
                slot.conn.handle_transport_close(now);
            }
            self.process(now);
        } else {
            // The slots stay (identifiers are never reused), empty.
            for slot in &mut self.slots {
                *slot = None;
            }
            self.sessions.clear();
            self.retained.clear();
            self.shared_next.clear();
        }
    }

    fn slot_mut(&mut self, conn: ConnId) -> Option<&mut Slot> {
        self.slots.get_mut(conn.0).and_then(Option::as_mut)
    }

    /// Handles every event of every connection until none is left.
    fn process(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            for index in 0..self.slots.len() {
                while let Some(event) = self
                    .slots
                    .get_mut(index)
                    .and_then(Option::as_mut)
                    .and_then(|s| s.conn.poll_event())
                {
                    progressed = true;
                    self.on_event(now, ConnId(index), event);
                }
            }
            if !progressed {
                break;
            }
        }
        self.collect_garbage();
    }

    /// Forgets connection objects that are closed and hold nothing more.
    fn collect_garbage(&mut self) {
        for slot in &mut self.slots {
            let done = slot.as_ref().is_some_and(|s| {
                s.transport_closed
                    && s.conn.state() == ServerState::Closed
                    && s.conn.session().is_none()
                    && s.conn.poll_timeout().is_none()
            });
            if done {
                *slot = None;
            }
        }
    }

    fn on_event(&mut self, now: Instant, conn: ConnId, event: ServerEvent) {
        match event {
            ServerEvent::Connect(request) => self.on_connect(now, conn, request),
            ServerEvent::Message(inbound) => {
                let from = self.client_of(conn);
                self.route(now, from.as_ref(), inbound.message);
                if let Some(id) = inbound.id {
                    // Persist-then-ack: routing put it into every session already.
                    if let Some(slot) = self.slot_mut(conn) {
                        let _ = slot.conn.ack(now, id);
                    }
                }
            }
            ServerEvent::Subscribe(request) => {
                let results = request.grant_all();
                let wanted: Vec<_> = request
                    .filters
                    .iter()
                    .map(|f| (f.subscription.clone(), f.exists))
                    .collect();
                let identifier = request.subscription_identifier();
                let Some(slot) = self.slot_mut(conn) else {
                    return;
                };
                let Ok(codes) = slot.conn.answer_subscribe(now, request, &results) else {
                    return;
                };
                for ((subscription, exists), code) in wanted.into_iter().zip(codes) {
                    if let Some(qos) = code.granted_qos() {
                        self.send_retained(now, conn, &subscription, exists, qos, identifier);
                    }
                }
            }
            ServerEvent::Unsubscribe(request) => {
                let results = request.remove_existing();
                if let Some(slot) = self.slot_mut(conn) {
                    let _ = slot.conn.answer_unsubscribe(now, request, &results);
                }
            }
            ServerEvent::Will(message) => {
                let from = self.client_of(conn);
                self.notes.push(BrokerNote::Will {
                    client_id: from.as_ref().map_or(String::new(), |c| c.as_str().into()),
                    topic: message.topic.as_str().into(),
                });
                self.route(now, from.as_ref(), message);
            }
            ServerEvent::SessionEnded => {
                let ended: Vec<MqttString> = self
                    .sessions
                    .iter()
                    .filter(|(_, c)| **c == conn)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in ended {
                    self.sessions.remove(&id);
                    self.notes.push(BrokerNote::SessionEnded {
                        client_id: id.as_str().into(),
                    });
                }
            }
            ServerEvent::Closed { reason } => {
                self.notes.push(BrokerNote::Closed {
                    conn,
                    reason: format!("{reason:?}"),
                });
            }
            ServerEvent::Auth { .. } => {
                // This broker offers no enhanced authentication.
                if let Some(slot) = self.slot_mut(conn) {
                    let _ = slot
                        .conn
                        .disconnect(now, crate::codec::DisconnectReasonCode::NotAuthorized);
                }
            }
            ServerEvent::Dropped { .. } => {}
        }
    }

    fn client_of(&self, conn: ConnId) -> Option<MqttString> {
        self.slots.get(conn.0)?.as_ref()?.conn.client_id().cloned()
    }

    fn on_connect(&mut self, now: Instant, conn: ConnId, request: crate::server::ConnectRequest) {
        if request.authentication_method().is_some() {
            if let Some(slot) = self.slot_mut(conn) {
                let _ = slot
                    .conn
                    .reject(now, request, ConnectReasonCode::BadAuthenticationMethod);
            }
            return;
        }
        let mut options = AcceptOptions::new();
        let client_id = if request.client_id().is_empty() {
            self.next_assigned_id += 1;
            let id: MqttString = format!("auto-{}", self.next_assigned_id)
                .parse()
                .unwrap_or_default();
            options.assigned_client_id = Some(id.clone());
            id
        } else {
            request.client_id().clone()
        };
        let clean_start = request.clean_start();
        let mut session = None;
        if let Some(old) = self.sessions.remove(&client_id) {
            if old != conn {
                if let Some(slot) = self.slot_mut(old) {
                    if clean_start {
                        slot.conn.end_session(now);
                    } else {
                        session = slot.conn.resume_session(now);
                    }
                }
            }
        }
        let session_present = session.is_some() && !clean_start;
        let Some(slot) = self.slot_mut(conn) else {
            return;
        };
        if slot.conn.accept(now, request, session, options).is_ok() {
            self.sessions.insert(client_id.clone(), conn);
            self.notes.push(BrokerNote::Connected {
                conn,
                client_id: client_id.as_str().into(),
                session_present,
            });
        }
    }

    /// [MQTT-4.5.0-1] a message the broker accepted goes to the session of every
    /// client with a matching subscription; retained per [MQTT-3.3.1-5] to
    /// [MQTT-3.3.1-8] (5.0).
    fn route(&mut self, now: Instant, from: Option<&MqttString>, message: Message) {
        if message.retain {
            if message.payload.is_empty() {
                // [MQTT-3.3.1-6], [MQTT-3.3.1-7] (5.0); [MQTT-3.3.1-10] (3.1.1): an empty
                // payload removes it.
                self.retained.remove(&message.topic);
            } else {
                self.retained
                    .insert(message.topic.clone(), (message.clone(), now));
            }
        }
        // Per client: the copy to send. Shared groups: the members per group.
        let mut copies: Vec<(ConnId, Message)> = Vec::new();
        let mut groups: BTreeMap<String, Vec<(ConnId, QoS, Option<SubscriptionId>)>> =
            BTreeMap::new();
        for (client_id, &holder) in &self.sessions {
            let Some(session) = self
                .slots
                .get(holder.0)
                .and_then(Option::as_ref)
                .and_then(|s| s.conn.session())
            else {
                continue;
            };
            let mut best: Option<(QoS, bool)> = None;
            let mut identifiers = Vec::new();
            for (filter, granted) in session.matching(&message.topic) {
                if let Some(share) = filter.share_name() {
                    groups
                        .entry(format!("{share}/{}", filter.match_filter()))
                        .or_default()
                        .push((holder, granted.options.qos, granted.identifier));
                    continue;
                }
                // [MQTT-3.8.3-3] (5.0) No Local: not back to the publisher.
                if granted.options.no_local && from == Some(client_id) {
                    continue;
                }
                // [MQTT-3.3.4-2] the highest QoS of the overlapping subscriptions.
                let qos = granted.options.qos;
                let rap = granted.options.retain_as_published;
                best = Some(match best {
                    Some((q, r)) => (q.max(qos), r || rap),
                    None => (qos, rap),
                });
                // [MQTT-3.3.4-3] / [MQTT-3.3.4-4] every matching identifier.
                identifiers.extend(granted.identifier);
            }
            if let Some((qos, retain_as_published)) = best {
                let mut copy = message.clone();
                // [MQTT-3.8.4-8] the lower of the published and the granted QoS.
                copy.qos = message.qos.min(qos);
                // [MQTT-3.3.1-12], [MQTT-3.3.1-13] (5.0)
                copy.retain = message.retain && retain_as_published;
                set_identifiers(&mut copy, &identifiers);
                copies.push((holder, copy));
            }
        }
        for (group, members) in groups {
            // One member of each group gets it, in turn (MQTT 5.0 section 4.8.2).
            let next = self.shared_next.entry(group).or_insert(0);
            let (holder, qos, identifier) = members[*next % members.len()];
            *next = next.wrapping_add(1);
            let mut copy = message.clone();
            // [MQTT-4.8.2-3] the QoS granted to the shared subscription.
            copy.qos = message.qos.min(qos);
            copy.retain = false;
            set_identifiers(&mut copy, identifier.as_slice());
            copies.push((holder, copy));
        }
        let from_name = from.map_or(String::new(), |c| c.as_str().into());
        for (holder, copy) in copies {
            let Some(slot) = self.slot_mut(holder) else {
                continue;
            };
            let to = slot
                .conn
                .client_id()
                .map_or(String::new(), |c| c.as_str().into());
            let qos = copy.qos;
            let topic = copy.topic.as_str().into();
            let payload = copy.payload.clone();
            if slot.conn.publish(now, copy).is_ok() {
                self.notes.push(BrokerNote::Routed {
                    from: from_name.clone(),
                    to,
                    topic,
                    qos,
                    payload,
                });
            }
        }
    }

    /// Retained messages for a new subscription per its Retain Handling
    /// ([MQTT-3.3.1-9], [MQTT-3.3.1-10], [MQTT-3.3.1-11] (5.0)); none for shared
    /// subscriptions.
    fn send_retained(
        &mut self,
        now: Instant,
        conn: ConnId,
        subscription: &crate::codec::Subscription,
        exists: bool,
        granted: QoS,
        identifier: Option<SubscriptionId>,
    ) {
        use crate::types::RetainHandling;
        let send = match subscription.options.retain_handling {
            RetainHandling::SendAtSubscribe => true,
            RetainHandling::SendAtSubscribeIfNew => !exists,
            RetainHandling::DoNotSend => false,
        };
        if !send || subscription.filter.is_shared() {
            return;
        }
        let matching: Vec<Message> = self
            .retained
            .values()
            .filter(|(m, _)| subscription.filter.matches(&m.topic))
            .filter_map(|(m, stored)| aged(m, *stored, now))
            .collect();
        let Some(slot) = self.slot_mut(conn) else {
            return;
        };
        for mut message in matching {
            message.qos = message.qos.min(granted);
            message.retain = true;
            set_identifiers(&mut message, identifier.as_slice());
            let _ = slot.conn.publish(now, message);
        }
    }
}

/// A retained message as it stands at `now`: its Message Expiry Interval less the
/// time it was stored ([MQTT-3.3.2-6]); `None` once that passed ([MQTT-3.3.2-5]).
fn aged(message: &Message, stored: Instant, now: Instant) -> Option<Message> {
    let mut message = message.clone();
    if let Some(interval) = message.properties.message_expiry_interval {
        let waited = now.saturating_duration_since(stored).as_secs();
        let left = u64::from(interval).checked_sub(waited).filter(|&l| l > 0)?;
        message.properties.message_expiry_interval = Some(left as u32);
    }
    Some(message)
}

fn set_identifiers(message: &mut Message, identifiers: &[SubscriptionId]) {
    let mut properties = core::mem::replace(&mut message.properties, PropertyBox::new()).take();
    properties.subscription_identifiers = crate::codec::SubscriptionIds::new();
    for &id in identifiers {
        properties.subscription_identifiers.push(id);
    }
    message.properties = PropertyBox::from(properties);
}
