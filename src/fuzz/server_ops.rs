//! The body of the `server_ops` fuzz target.

use crate::codec::{
    Connect, ConnectReasonCode, Decoder, Packet, PubAck, PubComp, PubRec, PubRel, Publish,
    Subscribe, Unsubscribe, Will,
};
use crate::server::{
    AcceptOptions, ConnectRequest, InboundId, ServerConfig, ServerConnection, ServerEvent,
    ServerState, SubscribeRequest, UnsubscribeRequest,
};
use crate::{Instant, Message, PacketId, ProtocolVersion, QoS, QosPid, Subscription};
use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::vec;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
use core::num::{NonZeroU16, NonZeroU32};
use core::time::Duration;

/// What the fuzzed broker holds between operations.
struct Harness {
    conn: ServerConnection,
    /// The connection before the last takeover, still holding its session or Will.
    previous: Option<ServerConnection>,
    version: ProtocolVersion,
    now: Instant,
    connect: Option<ConnectRequest>,
    subscribes: Vec<SubscribeRequest>,
    unsubscribes: Vec<UnsubscribeRequest>,
    inbound: Vec<InboundId>,
    /// What the server wrote on this transport, decoded as a client would.
    from_server: BytesMut,
    decoder: Decoder,
    /// Identifiers of the server's QoS 1/2 PUBLISHes still in flight before the op.
    in_flight: BTreeSet<u16>,
}

/// A [`ServerConnection`](crate::ServerConnection) driven by operations the input
/// chooses: well-formed client packets of either version (CONNECT with limits, PUBLISH,
/// acknowledgements, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT), arbitrary bytes,
/// every broker command (accept, reject, answers, acks, publish to the client,
/// takeover), time jumps and transport closes. No input panics, and after every
/// operation: every byte the server wrote decodes as a client decodes it (no malformed
/// packet, none above the client's Maximum Packet Size); a new QoS 1/2 PUBLISH never
/// reuses an identifier in flight; messages in flight never exceed the client's Receive
/// Maximum; a closed connection without a session or Will has no deadline.
pub fn server_ops(data: &[u8]) {
    let Some((&control, mut data)) = data.split_first() else {
        return;
    };
    let config = ServerConfig {
        receive_maximum: 1 + u16::from(control & 3),
        topic_alias_maximum: u16::from(control >> 2 & 3),
        manual_acks: control & 0x10 != 0,
        max_queued_messages: 8,
        maximum_qos: if control & 0x20 != 0 {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        },
        server_keep_alive: (control & 0x40 != 0).then_some(5),
        max_pending_input: 512,
        ..ServerConfig::default()
    };
    let mut h = Harness {
        conn: ServerConnection::new(config.clone(), Instant::ZERO),
        previous: None,
        version: ProtocolVersion::V5,
        now: Instant::ZERO,
        connect: None,
        subscribes: Vec::new(),
        unsubscribes: Vec::new(),
        inbound: Vec::new(),
        from_server: BytesMut::new(),
        decoder: Decoder::for_client(ProtocolVersion::V5),
        in_flight: BTreeSet::new(),
    };
    let (Ok(topic), Ok(filter)) = (
        "f/t".parse::<crate::TopicName>(),
        "f/#".parse::<crate::TopicFilter>(),
    ) else {
        return;
    };
    while let Some((&op, rest)) = data.split_first() {
        data = rest;
        let arg = data.first().copied().unwrap_or(0);
        h.in_flight = h
            .conn
            .session()
            .map(|s| s.outgoing.keys().copied().collect())
            .unwrap_or_default();
        match op % 16 {
            0 => {
                let version = if arg & 1 == 0 {
                    ProtocolVersion::V311
                } else {
                    ProtocolVersion::V5
                };
                h.send(
                    version,
                    &Packet::Connect(Box::new(connect_packet(arg, &topic))),
                );
            }
            1 => {
                let n = usize::from(arg % 32).min(data.len());
                let (bytes, rest) = data.split_at(n);
                data = rest;
                h.conn.handle_input(h.now, bytes);
            }
            2 => {
                if let Some(request) = h.connect.take() {
                    if arg % 4 == 3 {
                        let _ = h
                            .conn
                            .reject(h.now, request, ConnectReasonCode::NotAuthorized);
                    } else {
                        let session = h.previous.as_mut().and_then(|p| p.resume_session(h.now));
                        let options = match "assigned".parse() {
                            Ok(id) => AcceptOptions::new().with_assigned_client_id(id),
                            Err(_) => AcceptOptions::new(),
                        };
                        let _ = h.conn.accept(h.now, request, session, options);
                    }
                }
            }
            3 => {
                if let Some(request) = h.subscribes.pop() {
                    let results = request.grant_all();
                    let _ = h.conn.answer_subscribe(h.now, request, &results);
                }
                if let Some(request) = h.unsubscribes.pop() {
                    let results = request.remove_existing();
                    let _ = h.conn.answer_unsubscribe(h.now, request, &results);
                }
            }
            4 => {
                if let Some(id) = h.inbound.pop() {
                    let _ = h.conn.ack(h.now, id);
                }
            }
            5 => {
                let qos =
                    [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][usize::from(arg % 3)];
                let payload = Bytes::from(vec![0x5A; usize::from(arg) * 4]);
                let mut message = Message::new(topic.clone(), payload, qos);
                if arg & 0x80 != 0 {
                    message.properties.message_expiry_interval = Some(u32::from(arg & 7));
                }
                let _ = h.conn.publish(h.now, message);
            }
            6 => {
                h.now = h.now + Duration::from_millis(u64::from(arg) * 250);
                h.conn.handle_timeout(h.now);
                if let Some(previous) = &mut h.previous {
                    previous.handle_timeout(h.now);
                }
            }
            7 => h.conn.handle_transport_close(h.now),
            8 => {
                let qos_pid = match (arg % 3, PacketId::new(u16::from(arg >> 2 & 7) + 1)) {
                    (1, Some(pid)) => QosPid::AtLeastOnce(pid),
                    (2, Some(pid)) => QosPid::ExactlyOnce(pid),
                    _ => QosPid::AtMostOnce,
                };
                let mut publish = Publish::new(topic.clone(), Bytes::from_static(b"x"));
                publish.qos_pid = qos_pid;
                publish.dup = arg & 0x40 != 0 && qos_pid != QosPid::AtMostOnce;
                if h.version.is_v5() && arg & 0x20 != 0 {
                    publish.properties.topic_alias = NonZeroU16::new(u16::from(arg & 3) + 1);
                    if arg & 0x80 != 0 {
                        publish.topic = crate::TopicName::empty();
                    }
                }
                h.send(h.version, &Packet::Publish(publish));
            }
            9 => {
                let Some(pid) = h.in_flight.iter().nth(usize::from(arg >> 2) % 4).copied() else {
                    continue;
                };
                let Some(pid) = PacketId::new(pid) else {
                    continue;
                };
                let packet = match arg % 4 {
                    0 => Packet::PubAck(PubAck::new(pid)),
                    1 => Packet::PubRec(PubRec::new(pid)),
                    2 => Packet::PubRel(PubRel::new(pid)),
                    _ => Packet::PubComp(PubComp::new(pid)),
                };
                h.send(h.version, &packet);
            }
            10 => {
                // A new transport for the same client: the old one keeps its session
                // until the next CONNECT takes it.
                h.drain();
                let old =
                    core::mem::replace(&mut h.conn, ServerConnection::new(config.clone(), h.now));
                if let Some(mut previous) = h.previous.replace(old) {
                    previous.end_session(h.now);
                }
                h.connect = None;
                h.subscribes.clear();
                h.unsubscribes.clear();
                h.inbound.clear();
                h.from_server.clear();
                h.decoder = Decoder::for_client(ProtocolVersion::V5);
            }
            11 => {
                let Some(pid) = PacketId::new(u16::from(arg) + 1) else {
                    continue;
                };
                let mut subscription = Subscription::new(filter.clone(), QoS::ExactlyOnce);
                subscription.options.no_local = arg & 1 != 0 && h.version.is_v5();
                h.send(
                    h.version,
                    &Packet::Subscribe(Subscribe::new(pid, vec![subscription])),
                );
            }
            12 => {
                let Some(pid) = PacketId::new(u16::from(arg) + 1) else {
                    continue;
                };
                h.send(
                    h.version,
                    &Packet::Unsubscribe(Unsubscribe::new(pid, vec![filter.clone()])),
                );
            }
            13 => h.send(h.version, &Packet::PingReq),
            14 => {
                let mut disconnect = crate::Disconnect::new(if arg & 1 == 0 {
                    crate::DisconnectReasonCode::NormalDisconnection
                } else {
                    crate::DisconnectReasonCode::DisconnectWithWillMessage
                });
                if arg & 2 != 0 {
                    disconnect.properties.session_expiry_interval = Some(u32::from(arg >> 2));
                }
                h.send(h.version, &Packet::Disconnect(disconnect));
            }
            _ => {
                let _ = h
                    .conn
                    .disconnect(h.now, crate::DisconnectReasonCode::AdministrativeAction);
            }
        }
        h.drain();
        h.check();
    }
}

/// A CONNECT whose fields `arg` picks: limits, a Will, keep alive, clean start.
fn connect_packet(arg: u8, topic: &crate::TopicName) -> Connect {
    let client_id = if arg & 2 != 0 { "c" } else { "" };
    let mut connect = Connect::new(client_id.parse().unwrap_or_default());
    connect.clean_start = arg & 4 != 0;
    connect.keep_alive = u16::from(arg >> 5);
    let p = &mut connect.properties;
    p.receive_maximum = NonZeroU16::new(u16::from(arg >> 3 & 3) + 1);
    p.maximum_packet_size = NonZeroU32::new(24 + u32::from(arg) * 2);
    p.topic_alias_maximum = Some(u16::from(arg >> 6));
    p.session_expiry_interval = Some(u32::from(arg & 0x18));
    if arg & 0x80 != 0 {
        let mut will = Will::new(topic.clone(), Bytes::from_static(b"gone"));
        will.properties.will_delay_interval = Some(u32::from(arg & 3));
        connect.will = Some(will);
    }
    connect
}

impl Harness {
    /// Encodes `packet` in `version` and feeds it to the connection; 3.1.1 drops the
    /// properties first.
    fn send(&mut self, version: ProtocolVersion, packet: &Packet) {
        let mut buf = BytesMut::new();
        let packet = if version.is_v5() {
            packet.clone()
        } else {
            strip_properties(packet.clone())
        };
        if packet.encode(version, &mut buf).is_ok() {
            if matches!(packet, Packet::Connect(_)) {
                self.version = version;
            }
            self.conn.handle_input(self.now, &buf);
        }
    }

    fn drain(&mut self) {
        if let Some(previous) = &mut self.previous {
            while previous.poll_event().is_some() {}
            let _ = previous.poll_transmit();
        }
        while let Some(event) = self.conn.poll_event() {
            match event {
                ServerEvent::Connect(request) => {
                    assert!(self.connect.is_none(), "a second Connect request");
                    self.connect = Some(request);
                }
                ServerEvent::Subscribe(request) => self.subscribes.push(request),
                ServerEvent::Unsubscribe(request) => self.unsubscribes.push(request),
                ServerEvent::Message(message) => self.inbound.extend(message.id),
                _ => {}
            }
        }
        if let Some(version) = self.conn.version() {
            if self.decoder.version() != Some(version) {
                self.decoder = Decoder::for_client(version);
            }
        } else {
            // Before the version is known the only output is the 3.1.1 refusal.
            self.decoder = Decoder::for_client(ProtocolVersion::V311);
        }
        while let Some(bytes) = self.conn.poll_transmit() {
            self.from_server.extend_from_slice(&bytes);
        }
    }

    fn check(&mut self) {
        let limits = self.conn.client_limits();
        loop {
            let size = self.from_server.len();
            match self.decoder.decode(&mut self.from_server) {
                Ok(Some(packet)) => {
                    let written = size - self.from_server.len();
                    assert!(
                        written <= limits.maximum_packet_size as usize,
                        "a packet of {written} bytes above the client's maximum: {packet:?}"
                    );
                    if let Packet::Publish(publish) = &packet {
                        if let (false, Some(pid)) = (publish.dup, publish.packet_id()) {
                            assert!(
                                !self.in_flight.contains(&pid.get()),
                                "identifier {pid:?} reused while in flight"
                            );
                        }
                    }
                }
                Ok(None) => break,
                Err(error) => panic!("the server wrote bytes a client cannot decode: {error}"),
            }
        }
        if let Some(session) = self.conn.session() {
            // Released messages carried over from an earlier connection may exceed a
            // smaller Receive Maximum; PUBLISHes on the wire may not.
            let publishes = session
                .outgoing
                .values()
                .filter(|o| !o.pending && !o.released)
                .count();
            assert!(
                publishes <= usize::from(limits.receive_maximum),
                "more PUBLISHes in flight than the client's receive maximum"
            );
            assert!(session.queued() <= 8, "the session queue outgrew its bound");
        }
        if self.conn.state() == ServerState::Closed && self.conn.session().is_none() {
            assert_eq!(
                self.conn.poll_timeout(),
                None,
                "a closed, empty connection has a deadline"
            );
        }
    }
}

/// The same packet without MQTT 5 properties, for a 3.1.1 connection.
fn strip_properties(packet: Packet) -> Packet {
    match packet {
        Packet::Connect(mut c) => {
            c.properties = Default::default();
            if let Some(will) = &mut c.will {
                will.properties = Default::default();
            }
            Packet::Connect(c)
        }
        Packet::Publish(mut p) => {
            if p.topic.is_empty() {
                return Packet::PingReq;
            }
            p.properties = Default::default();
            Packet::Publish(p)
        }
        Packet::Subscribe(mut s) => {
            for f in &mut s.filters {
                f.options.no_local = false;
            }
            Packet::Subscribe(s)
        }
        Packet::Disconnect(_) => Packet::Disconnect(crate::Disconnect::new(
            crate::DisconnectReasonCode::NormalDisconnection,
        )),
        other => other,
    }
}
