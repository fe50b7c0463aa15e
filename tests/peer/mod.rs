//! A scripted broker peer for client tests: it decodes what the client sends as a
//! server would, encodes what the test makes the server say, and keeps virtual time.
#![allow(dead_code, unreachable_pub)]

use bytes::{Bytes, BytesMut};
use mqtt_sansio::*;
use std::time::Duration;

/// A client under test, the server side of its transport and a virtual clock.
pub struct Peer {
    pub client: Client,
    pub now: Instant,
    pub version: ProtocolVersion,
    server: Decoder,
    from_client: BytesMut,
}

/// A client id that every test uses.
pub fn client_id() -> MqttString {
    "test-client".parse().unwrap()
}

pub fn topic(s: &str) -> TopicName {
    s.parse().unwrap()
}

pub fn filter(s: &str) -> TopicFilter {
    s.parse().unwrap()
}

pub fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

pub fn message(t: &str, payload: &'static [u8], qos: QoS) -> Message {
    Message::new(topic(t), Bytes::from_static(payload), qos)
}

/// CONNACK accepting the connection.
pub fn connack(session_present: bool) -> ConnAck {
    ConnAck {
        session_present,
        reason_code: ConnectReasonCode::Success,
        properties: PropertyBox::new(),
    }
}

/// A subscription to `f` at `qos` with default options.
pub fn subscription(f: &str, qos: QoS) -> Subscription {
    Subscription::new(filter(f), qos)
}

/// A PUBLISH as a server sends it.
pub fn publish(t: &str, payload: &'static [u8], qos_pid: QosPid) -> Publish {
    let mut p = Publish::new(topic(t), Bytes::from_static(payload));
    p.qos_pid = qos_pid;
    p
}

impl Peer {
    pub fn new(config: ClientConfig) -> Self {
        let version = config.version;
        Peer {
            client: Client::new(config).unwrap(),
            now: Instant::ZERO,
            version,
            server: Decoder::for_server(),
            from_client: BytesMut::new(),
        }
    }

    /// The harness around an existing client (one restored from an exported session,
    /// say) speaking `version`; the clock at zero, no transport open.
    pub fn from_client(client: Client, version: ProtocolVersion) -> Self {
        Peer {
            client,
            now: Instant::ZERO,
            version,
            server: Decoder::for_server(),
            from_client: BytesMut::new(),
        }
    }

    /// A client with the default configuration for `version`.
    pub fn with_version(version: ProtocolVersion) -> Self {
        Peer::new(ClientConfig::new(version, client_id()))
    }

    /// A client with the default configuration for `version` as changed by `set`; not
    /// connected.
    pub fn configured(version: ProtocolVersion, set: impl FnOnce(&mut ClientConfig)) -> Self {
        let mut config = Peer::config(version);
        set(&mut config);
        Peer::new(config)
    }

    /// A client with the default configuration for `version` but Clean Start 0: it asks
    /// the server to keep its session. Not connected.
    pub fn keeping_session(version: ProtocolVersion) -> Self {
        Peer::configured(version, |c| c.clean_start = false)
    }

    /// A client with the default configuration for `version`, connected without a
    /// session; events and output drained.
    pub fn connected(version: ProtocolVersion) -> Self {
        Peer::connected_with(version, |_| {})
    }

    /// A client configured as [`configured`](Peer::configured) makes it, connected
    /// without a session; events and output drained.
    pub fn connected_with(version: ProtocolVersion, set: impl FnOnce(&mut ClientConfig)) -> Self {
        let mut p = Peer::configured(version, set);
        p.connect();
        p
    }

    pub fn config(version: ProtocolVersion) -> ClientConfig {
        ClientConfig::new(version, client_id())
    }

    /// Opens a transport and returns the CONNECT the client sent.
    pub fn open(&mut self) -> Connect {
        self.server = Decoder::for_server();
        self.from_client.clear();
        self.client.handle_transport_open(self.now).unwrap();
        match self.sent().as_slice() {
            [Packet::Connect(c)] => (**c).clone(),
            other => panic!("expected CONNECT, got {other:?}"),
        }
    }

    /// Opens a transport, accepts it with `ack`, and returns the events.
    pub fn connect_with(&mut self, ack: ConnAck) -> Vec<Event> {
        self.open();
        self.send(ack);
        self.events()
    }

    /// Opens a transport and accepts it without a session; drains events and output.
    pub fn connect(&mut self) -> Connected {
        let events = self.connect_with(connack(false));
        match events.into_iter().next() {
            Some(Event::Connected(c)) => c,
            other => panic!("expected Connected, got {other:?}"),
        }
    }

    /// Opens a transport and accepts it with `ack`; the only event must be `Connected`,
    /// which is returned.
    pub fn assert_connects(&mut self, ack: ConnAck) -> Connected {
        let events = self.connect_with(ack);
        match events.as_slice() {
            [Event::Connected(c)] => c.clone(),
            other => panic!("{}: expected only Connected, got {other:?}", self.version),
        }
    }

    /// Closes the transport, discards the events that brings, then opens a new one and
    /// accepts it with `ack`; returns the events of the new connection.
    pub fn reconnect(&mut self, ack: ConnAck) -> Vec<Event> {
        self.drop_transport();
        self.events();
        self.connect_with(ack)
    }

    /// The application publishes `m` now; panics if the client refuses it.
    pub fn publish(&mut self, m: Message) -> PublishId {
        self.client.publish(self.now, m).unwrap()
    }

    /// The application subscribes to `subscriptions` now; panics if the client refuses.
    pub fn subscribe(&mut self, subscriptions: Vec<Subscription>) -> SubscribeId {
        self.client.subscribe(self.now, subscriptions).unwrap()
    }

    /// The application unsubscribes from `filters` now; panics if the client refuses.
    pub fn unsubscribe(&mut self, filters: Vec<TopicFilter>) -> UnsubscribeId {
        self.client.unsubscribe(self.now, filters).unwrap()
    }

    /// The server sends `packet`.
    pub fn send(&mut self, packet: impl Into<Packet>) {
        let mut wire = BytesMut::new();
        packet.into().encode(self.version, &mut wire).unwrap();
        self.client.handle_input(self.now, &wire);
    }

    /// The server sends raw bytes.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.client.handle_input(self.now, bytes);
    }

    /// Everything the client wrote since the last call, as bytes.
    pub fn sent_bytes(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(b) = self.client.poll_transmit() {
            out.extend_from_slice(&b);
        }
        out
    }

    /// Everything the client wrote since the last call, decoded as the server.
    pub fn sent(&mut self) -> Vec<Packet> {
        let bytes = self.sent_bytes();
        self.from_client.extend_from_slice(&bytes);
        let mut packets = Vec::new();
        while let Some(p) = self.server.decode(&mut self.from_client).unwrap() {
            packets.push(p);
        }
        packets
    }

    /// All pending events.
    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.client.poll_event()).collect()
    }

    /// Moves the clock forward by `by`, firing every deadline on the way in order, as
    /// a driver would.
    pub fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while let Some(deadline) = self.client.poll_timeout() {
            if deadline > end {
                break;
            }
            self.now = self.now.max(deadline);
            self.client.handle_timeout(self.now);
            if self.client.poll_timeout() == Some(deadline) {
                break;
            }
        }
        self.now = end;
    }

    /// Closes the transport from the network side.
    pub fn drop_transport(&mut self) {
        self.client.handle_transport_close(self.now);
    }
}

/// Both protocol versions, for behaviour that applies to both.
pub const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

pub fn s(text: &str) -> MqttString {
    text.parse().unwrap()
}

/// CONNACK accepting the connection without a session, with MQTT 5 `properties`.
pub fn connack_with_props(properties: ConnAckProperties) -> ConnAck {
    ConnAck {
        session_present: false,
        reason_code: ConnectReasonCode::Success,
        properties: properties.into(),
    }
}

fn push_varint(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n % 128) as u8;
        n /= 128;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A PUBLISH without properties built by hand, so byte-exact checks do not go through
/// the encoder under test. `first` is the whole first byte (type, DUP, QoS, RETAIN).
pub fn publish_wire(
    version: ProtocolVersion,
    first: u8,
    topic: &str,
    packet_id: Option<u16>,
    payload: &[u8],
) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    body.extend_from_slice(topic.as_bytes());
    if let Some(id) = packet_id {
        body.extend_from_slice(&id.to_be_bytes());
    }
    if version.is_v5() {
        body.push(0);
    }
    body.extend_from_slice(payload);
    let mut out = vec![first];
    push_varint(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// A two-byte-identifier acknowledgement with no reason code (both versions):
/// `first` is 0x40 PUBACK, 0x50 PUBREC, 0x62 PUBREL, 0x70 PUBCOMP, 0xB0 UNSUBACK (3.1.1).
pub fn ack_wire(first: u8, packet_id: u16) -> Vec<u8> {
    let [hi, lo] = packet_id.to_be_bytes();
    vec![first, 0x02, hi, lo]
}

/// The events of a connection that ended with `reason` and nothing else.
pub fn only_disconnected(reason: DisconnectReason) -> Vec<Event> {
    vec![Event::Disconnected { reason }]
}

/// The reasons of the `Disconnected` events in `events`, in order.
pub fn disconnect_reasons(events: &[Event]) -> Vec<&DisconnectReason> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Disconnected { reason } => Some(reason),
            _ => None,
        })
        .collect()
}

/// The reason of the one `Disconnected` event in `events`; panics unless there is
/// exactly one.
pub fn disconnected(events: &[Event]) -> DisconnectReason {
    match disconnect_reasons(events).as_slice() {
        [reason] => (*reason).clone(),
        other => panic!("expected one Disconnected event, got {other:?} in {events:?}"),
    }
}

/// The reason code of a `ProtocolViolation`; panics on any other reason.
pub fn violation_code(reason: &DisconnectReason) -> ReasonCode {
    match reason {
        DisconnectReason::ProtocolViolation { reason_code, .. } => *reason_code,
        other => panic!("expected a protocol violation, got {other:?}"),
    }
}

/// The decode error behind the protocol violation that the one `Disconnected` event in
/// `events` reports; panics unless there is exactly one and it is a violation.
pub fn violation_decode_error(events: &[Event]) -> Option<DecodeError> {
    match disconnected(events) {
        DisconnectReason::ProtocolViolation { decode_error, .. } => decode_error,
        other => panic!("expected a protocol violation, got {other:?}"),
    }
}

/// The `Published` results in `events`, in order.
pub fn published(events: &[Event]) -> Vec<(PublishId, Result<(), PublishFailure>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Published { id, result, .. } => Some((*id, result.clone())),
            _ => None,
        })
        .collect()
}

/// How a message at QoS `requested` fails when the server's Maximum QoS is `maximum`.
pub fn qos_not_supported(requested: QoS, maximum: QoS) -> PublishFailure {
    PublishFailure::NotAllowed(PublishError::QoSNotSupported { requested, maximum })
}

/// The messages delivered in `events`, in order.
pub fn messages(events: &[Event]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

impl Peer {
    /// After the server broke the protocol: the pending events report exactly one
    /// `Disconnected`, a `ProtocolViolation` with `code`, and the client wrote what
    /// [`assert_violation_output`](Peer::assert_violation_output) expects for `code`.
    /// Returns the events, for tests that look further.
    pub fn assert_violation(&mut self, code: ReasonCode) -> Vec<Event> {
        let events = self.events();
        assert_eq!(
            violation_code(&disconnected(&events)),
            code,
            "{}: {events:?}",
            self.version
        );
        let disconnect = DisconnectReasonCode::try_from(code)
            .unwrap_or_else(|code| panic!("{code:?} is not a DISCONNECT reason code"));
        self.assert_violation_output(disconnect);
        events
    }

    /// After a protocol violation: what the client wrote. MQTT 5 sends exactly one
    /// DISCONNECT with `code`; 3.1.1 just closes, writing nothing.
    pub fn assert_violation_output(&mut self, code: DisconnectReasonCode) {
        let sent = self.sent_bytes();
        if self.version.is_v5() {
            let mut buf = BytesMut::from(&sent[..]);
            let packet = Decoder::new(ProtocolVersion::V5).decode(&mut buf).unwrap();
            assert_eq!(packet, Some(Packet::Disconnect(Disconnect::new(code))));
            assert!(buf.is_empty(), "more than the DISCONNECT was sent");
        } else {
            assert_eq!(sent, Vec::<u8>::new(), "3.1.1 closes without a packet");
        }
    }
}

impl Peer {
    /// Moves the clock to the client's one deadline and fires it, as a driver would;
    /// returns the events that brings. Panics when nothing is armed.
    pub fn fire(&mut self) -> Vec<Event> {
        let deadline = self
            .client
            .poll_timeout()
            .expect("fire: the client has no deadline");
        self.now = self.now.max(deadline);
        self.client.handle_timeout(self.now);
        self.events()
    }
}

/// CONNACK refusing the connection with `code`, with an MQTT 5 Server Reference when
/// `server_reference` is given.
pub fn connack_refusing(code: ConnectReasonCode, server_reference: Option<&str>) -> ConnAck {
    let properties = ConnAckProperties {
        server_reference: server_reference.map(s),
        ..ConnAckProperties::default()
    };
    ConnAck {
        session_present: false,
        reason_code: code,
        properties: properties.into(),
    }
}

/// The PUBLISH packets in `packets`, in order.
pub fn publishes(packets: &[Packet]) -> Vec<Publish> {
    packets
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}
