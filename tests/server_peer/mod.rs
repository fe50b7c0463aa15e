//! A scripted client peer for server tests: it encodes what the test makes the client
//! say, decodes what the server connection sends as a client would, and keeps virtual
//! time.
#![allow(dead_code, unreachable_pub)]

use bytes::{Bytes, BytesMut};
use mqtt_sansio::*;
use std::time::Duration;

/// A server connection under test, the client side of its transport and a clock.
pub struct ClientPeer {
    pub conn: ServerConnection,
    pub now: Instant,
    pub version: ProtocolVersion,
    decoder: Decoder,
    from_server: BytesMut,
}

pub const V311: ProtocolVersion = ProtocolVersion::V311;
pub const V5: ProtocolVersion = ProtocolVersion::V5;
pub const BOTH: [ProtocolVersion; 2] = [V311, V5];

pub fn s(v: &str) -> MqttString {
    v.parse().unwrap()
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
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

/// A CONNECT from `client_id` with keep alive `keep_alive` seconds.
pub fn connect(client_id: &str, clean_start: bool, keep_alive: u16) -> Connect {
    let mut c = Connect::new(client_id.parse().unwrap());
    c.clean_start = clean_start;
    c.keep_alive = keep_alive;
    c
}

/// A CONNECT from "c1" whose session outlives the connection: Clean Start 0 and, in
/// 5.0, a Session Expiry Interval of 300 s.
pub fn persistent_connect(version: ProtocolVersion) -> Connect {
    let mut c = connect("c1", false, 60);
    if version == ProtocolVersion::V5 {
        c.properties.session_expiry_interval = Some(300);
    }
    c
}

/// A connection of "c1" with [`persistent_connect`], accepted without a stored session.
pub fn persistent(config: ServerConfig, version: ProtocolVersion) -> ClientPeer {
    let mut peer = ClientPeer::new(config, version);
    peer.connect_accept(persistent_connect(version), None, AcceptOptions::new());
    peer
}

/// A PUBLISH as a client sends it.
pub fn publish(t: &str, payload: &'static [u8], qos_pid: QosPid) -> Publish {
    let mut p = Publish::new(topic(t), Bytes::from_static(payload));
    p.qos_pid = qos_pid;
    p
}

/// `events` is exactly one Closed event; its reason.
pub fn only_closed(events: &[ServerEvent]) -> CloseReason {
    match events {
        [ServerEvent::Closed { reason }] => reason.clone(),
        other => panic!("expected only Closed, got {other:?}"),
    }
}

/// A peer whose CONNECT went in and whose Connect request was taken.
pub fn awaiting(
    config: ServerConfig,
    version: ProtocolVersion,
    connect: Connect,
) -> (ClientPeer, ConnectRequest) {
    let mut peer = ClientPeer::new(config, version);
    peer.send(connect);
    let request = peer.expect_connect();
    assert!(peer.events().is_empty());
    (peer, request)
}

/// Answers `request` granting every filter as asked.
pub fn grant_all(peer: &mut ClientPeer, request: SubscribeRequest) {
    let grant = request.grant_all();
    peer.conn
        .answer_subscribe(peer.now, request, &grant)
        .unwrap();
}

/// Answering `request` on `peer` (granting every filter) is refused as stale.
pub fn assert_subscribe_answer_stale(peer: &mut ClientPeer, request: SubscribeRequest) {
    let grant = request.grant_all();
    assert_eq!(
        peer.conn
            .answer_subscribe(peer.now, request, &grant)
            .map_err(|e| e.error),
        Err(ServerError::Stale),
        "{:?}",
        peer.version
    );
}

/// The connection was closed for a malformed or refused packet: in 5.0 a DISCONNECT with
/// `code` went out (nothing in 3.1.1), Closed carries `code`, and no event `reached`
/// (what the broker must not see; `what` names it) came before.
pub fn assert_violation_closes(
    peer: &mut ClientPeer,
    code: DisconnectReasonCode,
    reached: impl Fn(&ServerEvent) -> bool,
    what: &str,
) {
    let expected = match peer.version {
        ProtocolVersion::V5 => vec![Packet::Disconnect(Disconnect::new(code))],
        ProtocolVersion::V311 => vec![],
    };
    assert_eq!(peer.received(), expected, "{:?}", peer.version);
    let events = peer.events();
    assert!(!events.iter().any(reached), "{what}: {events:?}");
    match ClientPeer::closed_reason(&events) {
        Some(CloseReason::ProtocolViolation { reason_code, .. }) => assert_eq!(reason_code, code),
        other => panic!("expected ProtocolViolation {code:?}, got {other:?} in {events:?}"),
    }
    assert_eq!(peer.conn.state(), ServerState::Closed);
}

impl ClientPeer {
    /// A fresh connection accepted at time zero with `config`.
    pub fn new(config: ServerConfig, version: ProtocolVersion) -> Self {
        ClientPeer {
            conn: ServerConnection::new(config, Instant::ZERO),
            now: Instant::ZERO,
            version,
            decoder: Decoder::for_client(version),
            from_server: BytesMut::new(),
        }
    }

    /// Sends `packet` as the client.
    pub fn send(&mut self, packet: impl Into<Packet>) {
        let mut buf = BytesMut::new();
        packet.into().encode(self.version, &mut buf).unwrap();
        self.conn.handle_input(self.now, &buf);
    }

    /// Sends raw bytes as the client.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.conn.handle_input(self.now, bytes);
    }

    /// Everything the server sent since the last call, decoded.
    pub fn received(&mut self) -> Vec<Packet> {
        while let Some(bytes) = self.conn.poll_transmit() {
            self.from_server.extend_from_slice(&bytes);
        }
        let mut out = Vec::new();
        while let Some(p) = self.decoder.decode(&mut self.from_server).unwrap() {
            out.push(p);
        }
        out
    }

    /// The raw bytes the server sent since the last call.
    pub fn received_raw(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(bytes) = self.conn.poll_transmit() {
            out.extend_from_slice(&bytes);
        }
        out
    }

    /// Every event since the last call.
    pub fn events(&mut self) -> Vec<ServerEvent> {
        std::iter::from_fn(|| self.conn.poll_event()).collect()
    }

    /// Moves the clock forward by `d` and lets the connection see it.
    pub fn advance(&mut self, d: Duration) {
        self.now = self.now + d;
        self.conn.handle_timeout(self.now);
    }

    /// Sends `connect`, expects the Connect event and accepts it with `session`.
    /// Returns the CONNACK.
    pub fn connect_accept(
        &mut self,
        connect: Connect,
        session: Option<ServerSession>,
        options: AcceptOptions,
    ) -> ConnAck {
        self.send(Packet::Connect(Box::new(connect)));
        let request = self.expect_connect();
        self.conn
            .accept(self.now, request, session, options)
            .unwrap();
        match self.received().as_slice() {
            [Packet::ConnAck(ack), ..] => ack.clone(),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// A clean-start connection of "c1" (keep alive 60 s), accepted.
    pub fn connected(config: ServerConfig, version: ProtocolVersion) -> Self {
        let mut peer = ClientPeer::new(config, version);
        peer.connect_accept(connect("c1", true, 60), None, AcceptOptions::new());
        peer
    }

    /// The next event must be a Connect request.
    pub fn expect_connect(&mut self) -> ConnectRequest {
        match self.conn.poll_event() {
            Some(ServerEvent::Connect(request)) => request,
            other => panic!("expected Connect, got {other:?}"),
        }
    }

    /// The only event since the last call; `what` names the one expected.
    pub fn only_event(&mut self, what: &str) -> ServerEvent {
        let mut events = self.events();
        assert_eq!(events.len(), 1, "expected one {what} event, got {events:?}");
        events.pop().unwrap()
    }

    /// The (filter, granted QoS) of every subscription of the session.
    pub fn subscribed_qos(&self) -> Vec<(String, QoS)> {
        self.conn
            .session()
            .unwrap()
            .subscriptions()
            .map(|(f, g)| (f.as_str().to_owned(), g.options.qos))
            .collect()
    }

    /// The next event must be a Subscribe request.
    pub fn expect_subscribe(&mut self) -> SubscribeRequest {
        match self.conn.poll_event() {
            Some(ServerEvent::Subscribe(request)) => request,
            other => panic!("expected Subscribe, got {other:?}"),
        }
    }

    /// The reason of the Closed event among `events`, if any.
    pub fn closed_reason(events: &[ServerEvent]) -> Option<CloseReason> {
        events.iter().find_map(|e| match e {
            ServerEvent::Closed { reason } => Some(reason.clone()),
            _ => None,
        })
    }
}
