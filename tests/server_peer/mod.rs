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

/// A PUBLISH as a client sends it.
pub fn publish(t: &str, payload: &'static [u8], qos_pid: QosPid) -> Publish {
    let mut p = Publish::new(topic(t), Bytes::from_static(payload));
    p.qos_pid = qos_pid;
    p
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

    /// The reason of the Closed event among `events`, if any.
    pub fn closed_reason(events: &[ServerEvent]) -> Option<CloseReason> {
        events.iter().find_map(|e| match e {
            ServerEvent::Closed { reason } => Some(reason.clone()),
            _ => None,
        })
    }
}
