//! Model-based test of the client: random sequences of commands, packets from a
//! well-behaved broker (with re-sends after reconnection), transports cut at any byte,
//! reconnections with and without the session, and time jumps, also with manual
//! acknowledgement and Topic Aliases. After every step the invariants of the issue
//! hold; once the run settles every command has completed exactly once.

use bytes::{Bytes, BytesMut};
use mqtt_sansio::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::num::NonZeroU16;
use std::time::Duration;

const KEEP_ALIVE: u16 = 10;
const SERVER_RECEIVE_MAXIMUM: u16 = 3;
const CLIENT_MAX_INFLIGHT: u16 = 4;
/// Small, so that the client has to replace aliases.
const SERVER_TOPIC_ALIAS_MAXIMUM: u16 = 2;

#[derive(Clone, Debug)]
enum Op {
    Publish(u8),
    Subscribe(u8),
    Unsubscribe(u8),
    ServerPublish(u8),
    ToServer(u8),
    ToClient(u8),
    Cut {
        offset: u16,
        toward_client: bool,
    },
    Reconnect {
        lose_session: bool,
    },
    Jump(u16),
    /// Manual acknowledgement: the application acknowledges one waiting message.
    Ack(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..3).prop_map(Op::Publish),
        1 => (0u8..3).prop_map(Op::Subscribe),
        1 => (0u8..3).prop_map(Op::Unsubscribe),
        3 => (0u8..3).prop_map(Op::ServerPublish),
        4 => (1u8..4).prop_map(Op::ToServer),
        4 => (1u8..4).prop_map(Op::ToClient),
        1 => (any::<u16>(), any::<bool>()).prop_map(|(offset, toward_client)| Op::Cut { offset, toward_client }),
        2 => any::<bool>().prop_map(|lose_session| Op::Reconnect { lose_session }),
        1 => (0u16..200).prop_map(Op::Jump),
        2 => any::<u8>().prop_map(Op::Ack),
    ]
}

/// What the broker keeps for the client between connections.
#[derive(Default)]
struct ServerSession {
    /// Messages to the client not yet completed: packet and whether PUBREL went out.
    out: BTreeMap<u16, (Publish, bool)>,
    next_pid: u16,
    /// QoS 2 messages from the client awaiting PUBREL.
    inbound_qos2: BTreeSet<u16>,
}

/// What an identifier the client used is outstanding for, as seen on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Use {
    Publish,
    Request,
}

struct World {
    version: ProtocolVersion,
    client: Client,
    now: Instant,
    // The transport, when open: bytes in each direction not yet delivered.
    open: bool,
    to_server: VecDeque<Bytes>,
    to_client: VecDeque<Bytes>,
    server_decoder: Decoder,
    server_inbox: BytesMut,
    /// Topic Aliases the client set on the current connection.
    server_aliases: BTreeMap<u16, String>,
    server_connected: bool,
    session: ServerSession,
    lose_next_session: bool,
    // Invariant bookkeeping.
    outstanding: BTreeMap<u16, Use>,
    issued: BTreeSet<Handle>,
    completions: BTreeMap<Handle, u32>,
    next_message: u64,
    /// Server messages by number: QoS, and whether the broker lost it with a session.
    server_messages: BTreeMap<u64, (QoS, bool)>,
    deliveries: BTreeMap<u64, u32>,
    /// Manual acknowledgement: messages the application has not acknowledged yet.
    unacknowledged: Vec<DeliveryId>,
}

/// The handle of any command.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Handle {
    Publish(PublishId),
    Subscribe(SubscribeId),
    Unsubscribe(UnsubscribeId),
}

fn completed(event: &Event) -> Option<Handle> {
    match event {
        Event::Published { id, .. } => Some(Handle::Publish(*id)),
        Event::Subscribed { id, .. } => Some(Handle::Subscribe(*id)),
        Event::Unsubscribed { id, .. } => Some(Handle::Unsubscribe(*id)),
        _ => None,
    }
}

fn filter(i: u8) -> TopicFilter {
    format!("model/{i}/#").parse().unwrap()
}

impl World {
    fn new(version: ProtocolVersion, policy: SessionLostPolicy, manual_acks: bool) -> Self {
        let mut config = ClientConfig::new(version, "model".parse().unwrap());
        config.clean_start = false;
        config.keep_alive = KEEP_ALIVE;
        config.session_expiry_interval = 3600;
        config.max_inflight = NonZeroU16::new(CLIENT_MAX_INFLIGHT).unwrap();
        config.session_lost_policy = policy;
        config.manual_acks = manual_acks;
        World {
            version,
            client: Client::new(config).unwrap(),
            now: Instant::ZERO,
            open: false,
            to_server: VecDeque::new(),
            to_client: VecDeque::new(),
            server_decoder: Decoder::for_server(),
            server_inbox: BytesMut::new(),
            server_aliases: BTreeMap::new(),
            server_connected: false,
            session: ServerSession::default(),
            lose_next_session: false,
            outstanding: BTreeMap::new(),
            issued: BTreeSet::new(),
            completions: BTreeMap::new(),
            next_message: 0,
            server_messages: BTreeMap::new(),
            deliveries: BTreeMap::new(),
            unacknowledged: Vec::new(),
        }
    }

    fn limit(&self) -> usize {
        let server = if self.version.is_v5() {
            SERVER_RECEIVE_MAXIMUM
        } else {
            u16::MAX
        };
        usize::from(server.min(CLIENT_MAX_INFLIGHT))
    }

    fn issue(&mut self, handle: Handle) {
        assert!(self.issued.insert(handle), "{handle:?} issued twice");
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Publish(qos) => {
                let qos = QoS::try_from(qos).unwrap();
                // Three topics for two aliases: the client has to replace them.
                let topic = format!("model/out/{}", self.issued.len() % 3);
                let message =
                    Message::new(topic.parse().unwrap(), Bytes::from_static(b"payload"), qos);
                let id = self
                    .client
                    .publish(self.now, message)
                    .expect("publish refused");
                self.issue(Handle::Publish(id));
            }
            Op::Subscribe(i) => {
                let id = self
                    .client
                    .subscribe(
                        self.now,
                        vec![Subscription::new(filter(i), QoS::ExactlyOnce)],
                    )
                    .expect("subscribe refused");
                self.issue(Handle::Subscribe(id));
            }
            Op::Unsubscribe(i) => {
                let id = self
                    .client
                    .unsubscribe(self.now, vec![filter(i)])
                    .expect("unsubscribe refused");
                self.issue(Handle::Unsubscribe(id));
            }
            Op::ServerPublish(qos) => {
                if self.server_connected {
                    self.server_publish(QoS::try_from(qos).unwrap());
                }
            }
            Op::ToServer(n) => {
                for _ in 0..n {
                    self.deliver_to_server();
                }
            }
            Op::ToClient(n) => {
                for _ in 0..n {
                    self.deliver_to_client();
                }
            }
            Op::Cut {
                offset,
                toward_client,
            } => self.cut(offset, toward_client),
            Op::Reconnect { lose_session } => self.reconnect(lose_session),
            Op::Ack(i) => {
                if !self.unacknowledged.is_empty() {
                    let delivery = self
                        .unacknowledged
                        .remove(usize::from(i) % self.unacknowledged.len());
                    // Unknown after a lost session: nothing is owed then.
                    let _ = self.client.ack(self.now, delivery);
                }
            }
            Op::Jump(tenths) => {
                let end = self.now + Duration::from_millis(u64::from(tenths) * 100);
                while let Some(deadline) = self.client.poll_timeout() {
                    if deadline > end {
                        break;
                    }
                    self.now = self.now.max(deadline);
                    self.client.handle_timeout(self.now);
                    self.drain();
                    if self.client.poll_timeout() == Some(deadline) {
                        break;
                    }
                }
                self.now = end;
            }
        }
        self.drain();
        self.check();
    }

    /// Collects what the client wrote and what it reported.
    fn drain(&mut self) {
        while let Some(bytes) = self.client.poll_transmit() {
            if self.open {
                self.to_server.push_back(bytes);
            }
        }
        while let Some(event) = self.client.poll_event() {
            if let Some(n) = completed(&event) {
                let count = self.completions.entry(n).or_default();
                *count += 1;
                assert_eq!(*count, 1, "{n:?} completed twice: {event:?}");
                assert!(self.issued.contains(&n), "completion of unknown {n:?}");
            }
            match event {
                Event::Message(m) => {
                    self.unacknowledged.extend(m.delivery);
                    let n = u64::from_be_bytes(m.payload[..8].try_into().unwrap());
                    let count = self.deliveries.entry(n).or_default();
                    *count += 1;
                    let (qos, _) = self.server_messages[&n];
                    if qos == QoS::ExactlyOnce {
                        assert_eq!(*count, 1, "QoS 2 message {n} delivered twice");
                    }
                }
                Event::Disconnected { reason } => {
                    assert!(
                        !matches!(reason, DisconnectReason::ProtocolViolation { .. }),
                        "a well-behaved broker was called a violator: {reason:?}"
                    );
                    // The driver writes what is left, then closes the transport.
                    while let Some(bytes) = self.client.poll_transmit() {
                        if self.open {
                            self.to_server.push_back(bytes);
                        }
                    }
                    while !self.to_server.is_empty() {
                        self.deliver_to_server();
                    }
                    self.close_transport();
                }
                Event::SessionLost { .. } => {
                    // The client's identifiers are released; any still in use will show
                    // up again on the wire.
                    self.outstanding.clear();
                }
                _ => {}
            }
        }
    }

    fn check(&self) {
        let stats = self.client.stats();
        assert!(
            stats.in_flight <= self.limit(),
            "{} in flight, limit {}",
            stats.in_flight,
            self.limit()
        );
    }

    fn close_transport(&mut self) {
        self.open = false;
        self.to_server.clear();
        self.to_client.clear();
        self.server_connected = false;
        self.server_inbox.clear();
    }

    fn cut(&mut self, offset: u16, toward_client: bool) {
        if !self.open {
            return;
        }
        if toward_client {
            if let Some(packet) = self.to_client.pop_front() {
                let cut = usize::from(offset) % packet.len();
                self.client.handle_input(self.now, &packet[..cut]);
            }
        } else if let Some(bytes) = self.to_server.pop_front() {
            // The server sees a prefix, then the connection dies before the rest.
            let cut = usize::from(offset) % bytes.len();
            self.server_inbox.extend_from_slice(&bytes[..cut]);
        }
        self.drain();
        self.client.handle_transport_close(self.now);
        self.close_transport();
        self.drain();
    }

    fn reconnect(&mut self, lose_session: bool) {
        if self.client.state() != State::Disconnected {
            return;
        }
        self.close_transport();
        self.open = true;
        self.server_decoder = Decoder::for_server();
        // [MQTT-3.3.2-7] aliases belong to one connection.
        self.server_aliases.clear();
        self.lose_next_session = lose_session;
        self.client.handle_transport_open(self.now).unwrap();
    }

    fn send_to_client(&mut self, packet: impl Into<Packet>) {
        let mut wire = BytesMut::new();
        packet.into().encode(self.version, &mut wire).unwrap();
        self.to_client.push_back(wire.freeze());
    }

    fn deliver_to_client(&mut self) {
        let Some(packet) = self.to_client.pop_front() else {
            return;
        };
        // Completing acknowledgements release the identifier once the client has them.
        let first = packet[0] >> 4;
        if matches!(first, 4 | 7 | 9 | 11) {
            let pid = u16::from_be_bytes([packet[2], packet[3]]);
            self.outstanding.remove(&pid);
        }
        self.client.handle_input(self.now, &packet);
    }

    fn deliver_to_server(&mut self) {
        let Some(bytes) = self.to_server.pop_front() else {
            return;
        };
        self.server_inbox.extend_from_slice(&bytes);
        while let Some(packet) = self
            .server_decoder
            .decode(&mut self.server_inbox)
            .expect("the client sent a malformed packet")
        {
            self.server_handle(packet);
        }
    }

    fn server_publish(&mut self, qos: QoS) {
        self.next_message += 1;
        let n = self.next_message;
        self.server_messages.insert(n, (qos, false));
        let mut publish = Publish::new(
            "model/in".parse().unwrap(),
            Bytes::copy_from_slice(&n.to_be_bytes()),
        );
        if qos != QoS::AtMostOnce {
            let s = &mut self.session;
            let pid = loop {
                s.next_pid = s.next_pid.wrapping_add(1).max(1);
                if !s.out.contains_key(&s.next_pid) {
                    break s.next_pid;
                }
            };
            publish.qos_pid = QosPid::new(qos, PacketId::new(pid)).unwrap();
            self.session.out.insert(pid, (publish.clone(), false));
        }
        self.send_to_client(publish);
    }

    fn server_handle(&mut self, packet: Packet) {
        match packet {
            Packet::Connect(connect) => {
                assert!(!connect.clean_start);
                let present = !self.lose_next_session;
                if !present {
                    for (publish, _) in self.session.out.values() {
                        let n = u64::from_be_bytes(publish.payload[..8].try_into().unwrap());
                        self.server_messages.get_mut(&n).unwrap().1 = true;
                    }
                    // Identifiers continue from the lost session: a client that never
                    // saw the CONNACK saying the session was lost still holds the old
                    // ones, and no protocol rule lets it tell a reused one from a repeat.
                    let next_pid = self.session.next_pid;
                    self.session = ServerSession {
                        next_pid,
                        ..ServerSession::default()
                    };
                }
                let mut ack = ConnAck {
                    session_present: present,
                    reason_code: ConnectReasonCode::Success,
                    properties: PropertyBox::new(),
                };
                if self.version.is_v5() {
                    ack.properties.receive_maximum = NonZeroU16::new(SERVER_RECEIVE_MAXIMUM);
                    ack.properties.topic_alias_maximum = Some(SERVER_TOPIC_ALIAS_MAXIMUM);
                }
                self.server_connected = true;
                self.send_to_client(ack);
                // [MQTT-4.4.0-1] the server re-sends its unacknowledged packets too.
                let resend: Vec<(Publish, bool)> = self.session.out.values().cloned().collect();
                for (mut publish, released) in resend {
                    if released {
                        self.send_to_client(PubRel::new(publish.packet_id().unwrap()));
                    } else {
                        publish.dup = true;
                        self.send_to_client(publish);
                    }
                }
            }
            Packet::Publish(publish) => {
                // The client's Topic Aliases must stand for a topic it set on this
                // connection, within the maximum, and never on a re-send.
                if let Some(alias) = publish.properties.topic_alias {
                    assert!(alias.get() <= SERVER_TOPIC_ALIAS_MAXIMUM, "alias {alias}");
                    assert!(!publish.dup, "a re-sent PUBLISH with an alias");
                    if publish.topic.is_empty() {
                        assert!(
                            self.server_aliases.contains_key(&alias.get()),
                            "alias {alias} used before it was set on this connection"
                        );
                    } else {
                        self.server_aliases
                            .insert(alias.get(), publish.topic.as_str().to_string());
                    }
                } else {
                    assert!(
                        !publish.topic.is_empty(),
                        "a PUBLISH without topic or alias"
                    );
                }
                if let Some(pid) = publish.packet_id() {
                    let previous = self.outstanding.insert(pid.get(), Use::Publish);
                    if !publish.dup {
                        assert_eq!(previous, None, "identifier {pid:?} reused while in flight");
                    }
                    match publish.qos() {
                        QoS::AtLeastOnce => self.send_to_client(PubAck::new(pid)),
                        _ => {
                            self.session.inbound_qos2.insert(pid.get());
                            self.send_to_client(PubRec::new(pid));
                        }
                    }
                }
            }
            Packet::PubRel(rel) => {
                self.session.inbound_qos2.remove(&rel.packet_id.get());
                self.send_to_client(PubComp::new(rel.packet_id));
            }
            Packet::PubAck(ack) => {
                self.session.out.remove(&ack.packet_id.get());
            }
            Packet::PubRec(rec) => {
                if let Some(entry) = self.session.out.get_mut(&rec.packet_id.get()) {
                    entry.1 = true;
                }
                self.send_to_client(PubRel::new(rec.packet_id));
            }
            Packet::PubComp(comp) => {
                self.session.out.remove(&comp.packet_id.get());
            }
            Packet::Subscribe(subscribe) => {
                let previous = self
                    .outstanding
                    .insert(subscribe.packet_id.get(), Use::Request);
                assert_ne!(
                    previous,
                    Some(Use::Publish),
                    "SUBSCRIBE reused a PUBLISH identifier in flight"
                );
                let mut ack = SubAck {
                    packet_id: subscribe.packet_id,
                    properties: PropertyBox::new(),
                    reason_codes: vec![],
                };
                ack.reason_codes = subscribe
                    .filters
                    .iter()
                    .map(|_| SubAckReasonCode::GrantedQoS2)
                    .collect();
                self.send_to_client(ack);
            }
            Packet::Unsubscribe(unsubscribe) => {
                let previous = self
                    .outstanding
                    .insert(unsubscribe.packet_id.get(), Use::Request);
                assert_ne!(previous, Some(Use::Publish));
                let ack = UnsubAck {
                    packet_id: unsubscribe.packet_id,
                    properties: PropertyBox::new(),
                    reason_codes: if self.version.is_v5() {
                        vec![UnsubAckReasonCode::Success; unsubscribe.filters.len()]
                    } else {
                        vec![]
                    },
                };
                self.send_to_client(ack);
            }
            Packet::PingReq => self.send_to_client(Packet::PingResp),
            Packet::Disconnect(_) => {}
            other => panic!("a client sent {other:?}"),
        }
    }

    /// Reconnects with the session kept and exchanges everything until quiet.
    fn settle(&mut self) {
        for _ in 0..10_000 {
            for delivery in std::mem::take(&mut self.unacknowledged) {
                let _ = self.client.ack(self.now, delivery);
            }
            self.drain();
            if self.client.state() == State::Disconnected {
                self.reconnect(false);
                self.drain();
            }
            let quiet = self.to_server.is_empty() && self.to_client.is_empty();
            let stats = self.client.stats();
            if quiet && self.client.is_connected() && stats.queued == 0 && stats.in_flight == 0 {
                return;
            }
            self.deliver_to_server();
            self.drain();
            self.deliver_to_client();
            self.drain();
            self.check();
        }
        panic!("the run did not settle: {:?}", self.client.stats());
    }
}

fn run(version: ProtocolVersion, policy: SessionLostPolicy, ops: Vec<Op>) {
    run_with(version, policy, false, ops);
}

fn run_with(version: ProtocolVersion, policy: SessionLostPolicy, manual_acks: bool, ops: Vec<Op>) {
    let mut world = World::new(version, policy, manual_acks);
    world.reconnect(false);
    world.drain();
    for op in ops {
        world.apply(op);
    }
    world.settle();
    for n in &world.issued {
        assert_eq!(
            world.completions.get(n),
            Some(&1),
            "{n:?} not completed exactly once"
        );
    }
    for (n, (qos, lost)) in &world.server_messages {
        let delivered = world.deliveries.get(n).copied().unwrap_or(0);
        match qos {
            QoS::ExactlyOnce if !lost => assert_eq!(delivered, 1, "QoS 2 message {n}"),
            QoS::AtLeastOnce if !lost => assert!(delivered >= 1, "QoS 1 message {n} lost"),
            _ => assert!(delivered <= 1 || *qos == QoS::AtLeastOnce),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn model_v311_restore(ops in proptest::collection::vec(op(), 1..120)) {
        run(ProtocolVersion::V311, SessionLostPolicy::Restore, ops);
    }

    #[test]
    fn model_v5_restore(ops in proptest::collection::vec(op(), 1..120)) {
        run(ProtocolVersion::V5, SessionLostPolicy::Restore, ops);
    }

    #[test]
    fn model_v5_fail(ops in proptest::collection::vec(op(), 1..120)) {
        run(ProtocolVersion::V5, SessionLostPolicy::Fail, ops);
    }

    #[test]
    fn model_v311_fail(ops in proptest::collection::vec(op(), 1..120)) {
        run(ProtocolVersion::V311, SessionLostPolicy::Fail, ops);
    }

    #[test]
    fn model_v5_manual_acks(ops in proptest::collection::vec(op(), 1..120)) {
        run_with(ProtocolVersion::V5, SessionLostPolicy::Restore, true, ops);
    }

    #[test]
    fn model_v311_manual_acks(ops in proptest::collection::vec(op(), 1..120)) {
        run_with(ProtocolVersion::V311, SessionLostPolicy::Restore, true, ops);
    }
}
