//! Normative statements binding the server that the other server test files did not
//! reach: CONNECT handling of one connection through [`ServerConnection`] (the harness
//! of `server_peer`), and the broker's share (routing, retained messages, sessions
//! across clients, shared subscriptions) through [`sim::Broker`], driven by scripted
//! clients that speak raw packets so that every byte the broker sends can be checked.
//!
//! Each test is named after the statement it checks; `v311_` / `v5_` mark the tests of
//! an identifier that means different statements in the two versions.

mod server_peer;
use bytes::{Bytes, BytesMut};
use mqtt_sansio::sim::{Broker, ConnId};
use mqtt_sansio::*;
use server_peer::*;
use std::num::NonZeroU32;

/// Rejects `request` with `code`: exactly the CONNACK `connack` goes out, the
/// connection closes for the rejection and no session is created.
fn reject_and_assert_closed(
    peer: &mut ClientPeer,
    request: ConnectRequest,
    code: ConnectReasonCode,
    connack: &[u8],
) {
    peer.conn.reject(peer.now, request, code).unwrap();
    assert_eq!(peer.received_raw(), connack);
    assert_eq!(
        only_closed(&peer.events()),
        CloseReason::Rejected { reason_code: code }
    );
    assert_eq!(peer.conn.state(), ServerState::Closed);
    assert!(peer.conn.session().is_none());
}

/// A closed connection processes nothing more: `packet` gets no answer and no event.
fn assert_nothing_processed(peer: &mut ClientPeer, packet: impl Into<Packet>) {
    peer.send(packet);
    assert!(peer.received_raw().is_empty());
    assert!(peer.events().is_empty());
}

/// The encoded size of `packet` in `version`.
fn size(packet: impl Into<Packet>, version: ProtocolVersion) -> usize {
    let mut buf = BytesMut::new();
    packet.into().encode(version, &mut buf).unwrap();
    buf.len()
}

// ---- CONNECT: the Client Identifier ----

/// [MQTT-3.1.3-5]: Client Identifiers of 1 to 23 bytes of `0-9a-zA-Z` are accepted:
/// the connection hands them to the broker unchanged, and the reference broker
/// (`sim::Broker`) accepts them (CONNACK 0, the identifier kept).
#[test]
fn mqtt_3_1_3_5_client_ids_of_1_to_23_alphanumerics_are_accepted() {
    let ids = [
        "a",
        "Z",
        "7",
        "0123456789abcdefghijklm",
        "ABCDEFGHIJKLMNOPQRSTUVW",
        "aZ09bY18cX27dW36eV45fU5",
    ];
    for version in BOTH {
        for id in ids {
            assert!(id.len() <= 23);
            let (mut peer, request) =
                awaiting(ServerConfig::default(), version, connect(id, true, 60));
            assert_eq!(request.client_id().as_str(), id);
            peer.conn
                .accept(peer.now, request, None, AcceptOptions::new())
                .unwrap();
            match peer.received().as_slice() {
                [Packet::ConnAck(ack)] => {
                    assert_eq!(
                        ack.reason_code,
                        ConnectReasonCode::Success,
                        "{version:?} {id}"
                    );
                    assert_eq!(ack.properties.assigned_client_identifier, None);
                }
                other => panic!("expected CONNACK, got {other:?}"),
            }
            assert_eq!(peer.conn.client_id().map(MqttString::as_str), Some(id));
            assert_eq!(peer.conn.state(), ServerState::Connected);

            let mut broker = Broker::new(ServerConfig::default());
            let mut client = RawClient::connect(&mut broker, version, id, true);
            assert_eq!(client.connack.reason_code, ConnectReasonCode::Success);
            assert!(broker.session_of(id).is_some(), "{version:?} {id}");
            assert!(client.received(&mut broker).is_empty());
        }
    }
}

/// A broker policy refusing a Client Identifier (here: one with a character outside
/// `0-9a-zA-Z`) rejects it with return code 0x02 and the connection closes
/// ([MQTT-3.1.3-9] of 3.1.1); nothing after it is processed.
#[test]
fn v311_mqtt_3_1_3_9_rejected_client_id_gets_return_code_2_and_closes() {
    let (mut peer, request) = awaiting(ServerConfig::default(), V311, connect("bad-id!", true, 60));
    assert!(
        !request
            .client_id()
            .as_str()
            .chars()
            .all(|c| c.is_ascii_alphanumeric())
    );
    reject_and_assert_closed(
        &mut peer,
        request,
        ConnectReasonCode::ClientIdentifierNotValid,
        &[0x20, 0x02, 0x00, 0x02],
    );
    assert_nothing_processed(&mut peer, Packet::PingReq);
}

/// [MQTT-3.1.3-8] (5.0): a refused Client Identifier gets CONNACK 0x85 (Client
/// Identifier not valid, Session Present 0) and the connection closes; nothing after it
/// is processed.
#[test]
fn v5_mqtt_3_1_3_8_rejected_client_id_gets_connack_0x85_and_closes() {
    let (mut peer, request) = awaiting(ServerConfig::default(), V5, connect("bad-id!", false, 60));
    reject_and_assert_closed(
        &mut peer,
        request,
        ConnectReasonCode::ClientIdentifierNotValid,
        &[0x20, 0x03, 0x00, 0x85, 0x00],
    );
    assert_nothing_processed(&mut peer, Packet::PingReq);
}

/// [MQTT-3.1.4-2] (5.0): when the broker's further checks fail (a wrong password, a
/// client that may not connect) the connection is closed, after a CONNACK with the
/// failure code; no session is created and nothing more is read. A client passing the
/// same check is accepted.
#[test]
fn v5_mqtt_3_1_4_2_failed_authentication_or_authorisation_closes() {
    let check = |request: &ConnectRequest| -> Option<ConnectReasonCode> {
        if request.username().map(MqttString::as_str) != Some("user") {
            return Some(ConnectReasonCode::NotAuthorized);
        }
        if request.password().map(|p| &p[..]) != Some(&b"secret"[..]) {
            return Some(ConnectReasonCode::BadUserNameOrPassword);
        }
        None
    };
    let cases: [(&str, &'static [u8], Option<ConnectReasonCode>); 3] = [
        (
            "user",
            b"wrong",
            Some(ConnectReasonCode::BadUserNameOrPassword),
        ),
        (
            "intruder",
            b"secret",
            Some(ConnectReasonCode::NotAuthorized),
        ),
        ("user", b"secret", None),
    ];
    for (username, password, expected) in cases {
        let mut c = connect("c1", true, 60);
        c.username = Some(s(username));
        c.password = Some(Bytes::from_static(password));
        let (mut peer, request) = awaiting(ServerConfig::default(), V5, c);
        let verdict = check(&request);
        assert_eq!(verdict, expected);
        match verdict {
            Some(code) => {
                reject_and_assert_closed(
                    &mut peer,
                    request,
                    code,
                    &[0x20, 0x03, 0x00, code.value(), 0x00],
                );
                assert_eq!(peer.conn.poll_timeout(), None);
                assert_nothing_processed(
                    &mut peer,
                    publish("a", b"x", QosPid::AtLeastOnce(pid(1))),
                );
            }
            None => {
                peer.conn
                    .accept(peer.now, request, None, AcceptOptions::new())
                    .unwrap();
                assert_eq!(peer.conn.state(), ServerState::Connected);
            }
        }
    }
}

/// [MQTT-3.2.2-6] (3.1.1): a broker for which none of the 3.1.1 return codes fits
/// closes the network connection instead of answering: no CONNACK (no byte at all)
/// goes out, the connection is closed, no session is created and the CONNECT's Will is
/// not published.
#[test]
fn v311_mqtt_3_2_2_6_closing_without_connack() {
    let mut c = connect("c1", false, 60);
    c.will = Some(Will::new(topic("will/c1"), Bytes::from_static(b"gone")));
    let (mut peer, request) = awaiting(ServerConfig::default(), V311, c);
    assert_eq!(request.client_id().as_str(), "c1");
    drop(request);
    peer.conn.handle_transport_close(peer.now);
    assert!(peer.received_raw().is_empty(), "no CONNACK");
    assert_eq!(only_closed(&peer.events()), CloseReason::TransportClosed);
    assert_eq!(peer.conn.state(), ServerState::Closed);
    assert!(peer.conn.session().is_none());
    assert_eq!(peer.conn.poll_timeout(), None);
    peer.advance(secs(3600));
    assert!(peer.events().is_empty(), "no Will");
}

// ---- the Will is kept with the session ----

/// [MQTT-3.1.2-7] (5.0): the Will of the CONNECT is stored with the session: after the
/// connection ends it waits (Will Delay Interval 30 s) with the session the connection
/// object holds, and comes out unchanged when that session ends (here: the broker ends
/// it before the delay), followed by the end of the session.
#[test]
fn v5_mqtt_3_1_2_7_will_is_stored_with_the_session() {
    let mut c = connect("c1", false, 60);
    c.properties.session_expiry_interval = Some(300);
    let mut will = Will::new(topic("will/c1"), Bytes::from_static(b"gone"));
    will.qos = QoS::AtLeastOnce;
    will.properties.will_delay_interval = Some(30);
    c.will = Some(will);
    let mut peer = ClientPeer::new(ServerConfig::default(), V5);
    peer.connect_accept(c, None, AcceptOptions::new());
    peer.advance(secs(5));
    assert!(peer.events().is_empty(), "no Will while connected");
    peer.conn.handle_transport_close(peer.now);
    let events = peer.events();
    assert!(
        matches!(events.as_slice(), [ServerEvent::Closed { .. }]),
        "{events:?}"
    );
    // Held with the session, due at the end of the delay.
    assert!(peer.conn.session().is_some());
    assert_eq!(peer.conn.poll_timeout(), Some(peer.now + secs(30)));
    peer.advance(secs(10));
    assert!(peer.events().is_empty());
    peer.conn.end_session(peer.now);
    let events = peer.events();
    match events.as_slice() {
        [ServerEvent::Will(m), ServerEvent::SessionEnded] => {
            assert_eq!(m.topic.as_str(), "will/c1");
            assert_eq!(&m.payload[..], b"gone");
            assert_eq!(m.qos, QoS::AtLeastOnce);
            assert!(!m.retain);
        }
        other => panic!("expected the Will then SessionEnded, got {other:?}"),
    }
    assert!(peer.conn.session().is_none());
}

// ---- diagnostics on SUBACK / UNSUBACK ----

fn diagnostics(reason: &str, properties: &[(&str, &str)]) -> AckProperties {
    let mut p = AckProperties::new();
    p.reason_string = Some(s(reason));
    for (k, v) in properties {
        p.user_properties.push(s(k), s(v));
    }
    p
}

/// A 5.0 connection of "c1" whose CONNECT was changed by `f`.
fn v5_connected(f: impl FnOnce(&mut Connect)) -> ClientPeer {
    let mut c = connect("c1", true, 60);
    f(&mut c);
    let mut peer = ClientPeer::new(ServerConfig::default(), V5);
    peer.connect_accept(c, None, AcceptOptions::new());
    peer
}

/// The filters of the SUBSCRIBE / UNSUBSCRIBE of these tests: enough that the bare
/// acknowledgement is larger than the CONNACK the client must accept first.
const FILTERS: usize = 20;

fn filters() -> Vec<TopicFilter> {
    (0..FILTERS).map(|i| filter(&format!("a/{i}/#"))).collect()
}

/// Sends SUBSCRIBE `id` for [`filters`] and answers it granting with `properties`; the
/// SUBACK.
fn suback_with(peer: &mut ClientPeer, id: u16, properties: AckProperties) -> SubAck {
    peer.send(Subscribe::new(
        pid(id),
        filters()
            .into_iter()
            .map(|f| Subscription::new(f, QoS::AtLeastOnce))
            .collect(),
    ));
    let request = peer.expect_subscribe();
    let grant = request.grant_all();
    peer.conn
        .answer_subscribe_with_properties(peer.now, request, &grant, properties)
        .unwrap();
    match peer.received().as_slice() {
        [Packet::SubAck(ack)] => {
            assert_eq!(ack.packet_id, pid(id));
            assert_eq!(
                ack.reason_codes,
                vec![SubAckReasonCode::GrantedQoS1; FILTERS]
            );
            ack.clone()
        }
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

/// Sends UNSUBSCRIBE `id` for [`filters`] and answers it with `properties`; the
/// UNSUBACK.
fn unsuback_with(peer: &mut ClientPeer, id: u16, properties: AckProperties) -> UnsubAck {
    peer.send(Unsubscribe::new(pid(id), filters()));
    let Some(ServerEvent::Unsubscribe(request)) = peer.conn.poll_event() else {
        panic!("expected Unsubscribe")
    };
    let results = request.remove_existing();
    peer.conn
        .answer_unsubscribe_with_properties(peer.now, request, &results, properties)
        .unwrap();
    match peer.received().as_slice() {
        [Packet::UnsubAck(ack)] => {
            assert_eq!(ack.packet_id, pid(id));
            ack.clone()
        }
        other => panic!("expected UNSUBACK, got {other:?}"),
    }
}

/// [MQTT-3.1.2-29] (5.0): with Request Problem Information 0 the SUBACK and UNSUBACK
/// carry no Reason String and no User Properties even when the broker gives some
/// (with 1 they do); the acknowledgements of the client's QoS 1/2 messages carry none
/// either.
#[test]
fn v5_mqtt_3_1_2_29_request_problem_information_0_no_diagnostics_on_acks() {
    let wanted = diagnostics("why", &[("k", "v")]);
    let mut asked = v5_connected(|_| {});
    assert_eq!(
        *suback_with(&mut asked, 1, wanted.clone()).properties,
        wanted
    );
    assert_eq!(
        *unsuback_with(&mut asked, 2, wanted.clone()).properties,
        wanted
    );

    let mut quiet = v5_connected(|c| c.properties.request_problem_information = Some(false));
    assert!(
        suback_with(&mut quiet, 1, wanted.clone())
            .properties
            .is_empty()
    );
    assert!(
        unsuback_with(&mut quiet, 2, wanted.clone())
            .properties
            .is_empty()
    );
    quiet.send(publish("a", b"1", QosPid::AtLeastOnce(pid(3))));
    quiet.send(publish("a", b"2", QosPid::ExactlyOnce(pid(4))));
    quiet.send(Packet::PubRel(PubRel::new(pid(4))));
    let acks = quiet.received();
    assert_eq!(acks.len(), 3, "{acks:?}");
    for ack in &acks {
        let empty = match ack {
            Packet::PubAck(a) => a.properties.is_empty(),
            Packet::PubRec(a) => a.properties.is_empty(),
            Packet::PubComp(a) => a.properties.is_empty(),
            other => panic!("unexpected {other:?}"),
        };
        assert!(empty, "{ack:?}");
    }
}

/// The sizes of the SUBACK / UNSUBACK with: nothing, the Reason String only,
/// the User Properties only, both.
fn ack_sizes(make: impl Fn(AckProperties) -> Packet, wanted: &AckProperties) -> [usize; 4] {
    let reason_only = AckProperties {
        reason_string: wanted.reason_string.clone(),
        ..AckProperties::new()
    };
    let users_only = AckProperties {
        user_properties: wanted.user_properties.clone(),
        ..AckProperties::new()
    };
    [
        size(make(AckProperties::new()), V5),
        size(make(reason_only), V5),
        size(make(users_only), V5),
        size(make(wanted.clone()), V5),
    ]
}

/// What the acknowledgement carries for each Maximum Packet Size of the client:
/// (maximum, Reason String kept, User Properties kept).
fn expected_by_maximum(sizes: [usize; 4]) -> Vec<(u32, bool, bool)> {
    let [bare, reason, users, both] = sizes.map(|n| n as u32);
    assert!(bare < users && users < reason && reason < both);
    vec![
        (both, true, true),
        (both - 1, true, false),
        (reason, true, false),
        (reason - 1, false, true),
        (users, false, true),
        (users - 1, false, false),
        (bare, false, false),
    ]
}

/// A long Reason String and one short User Property.
fn big_diagnostics() -> AckProperties {
    diagnostics(&"r".repeat(40), &[("k", "v")])
}

/// [MQTT-3.9.2-1] (5.0): a Reason String that would make the SUBACK larger than the
/// client's Maximum Packet Size is left out; [MQTT-3.9.2-2] (5.0): so are User
/// Properties; what fits is kept, and the SUBACK itself always goes out, within the
/// maximum.
#[test]
fn v5_mqtt_3_9_2_1_and_2_suback_diagnostics_left_out_beyond_the_client_maximum() {
    let wanted = big_diagnostics();
    let make = |p: AckProperties| {
        let mut ack = SubAck::new(pid(1), vec![SubAckReasonCode::GrantedQoS1; FILTERS]);
        ack.properties = p.into();
        Packet::SubAck(ack)
    };
    for (maximum, reason, users) in expected_by_maximum(ack_sizes(make, &wanted)) {
        let mut peer = v5_connected(|c| {
            c.properties.maximum_packet_size = NonZeroU32::new(maximum);
        });
        let ack = suback_with(&mut peer, 1, wanted.clone());
        assert_eq!(ack.properties.reason_string.is_some(), reason, "{maximum}");
        assert_eq!(
            !ack.properties.user_properties.is_empty(),
            users,
            "{maximum}"
        );
        assert!(size(Packet::SubAck(ack), V5) <= maximum as usize);
        assert_eq!(peer.conn.state(), ServerState::Connected);
    }
}

/// [MQTT-3.11.2-1] (5.0): a Reason String that would make the UNSUBACK larger than the
/// client's Maximum Packet Size is left out; [MQTT-3.11.2-2] (5.0): so are User
/// Properties; what fits is kept.
#[test]
fn v5_mqtt_3_11_2_1_and_2_unsuback_diagnostics_left_out_beyond_the_client_maximum() {
    let wanted = big_diagnostics();
    let make = |p: AckProperties| {
        let mut ack = UnsubAck::new(pid(2), vec![UnsubAckReasonCode::Success; FILTERS]);
        ack.properties = p.into();
        Packet::UnsubAck(ack)
    };
    for (maximum, reason, users) in expected_by_maximum(ack_sizes(make, &wanted)) {
        let mut peer = v5_connected(|c| {
            c.properties.maximum_packet_size = NonZeroU32::new(maximum);
        });
        suback_with(&mut peer, 1, AckProperties::new());
        let ack = unsuback_with(&mut peer, 2, wanted.clone());
        assert_eq!(ack.reason_codes, vec![UnsubAckReasonCode::Success; FILTERS]);
        assert_eq!(ack.properties.reason_string.is_some(), reason, "{maximum}");
        assert_eq!(
            !ack.properties.user_properties.is_empty(),
            users,
            "{maximum}"
        );
        assert!(size(Packet::UnsubAck(ack), V5) <= maximum as usize);
    }
}

// ---- PUBLISH the broker does not allow ----

/// [MQTT-3.3.5-2] (3.1.1): a PUBLISH the broker does not authorise is either
/// acknowledged as usual (PUBACK / PUBREC without any failure indication, which 3.1.1
/// has not) and not routed, or the connection is closed (without any packet: 3.1.1 has
/// no DISCONNECT from the server).
#[test]
fn v311_mqtt_3_3_5_2_unauthorised_publish_acknowledged_normally_or_closed() {
    let mut config = ServerConfig::default();
    config.manual_acks = true;
    // Acknowledged without routing.
    let mut peer = ClientPeer::connected(config.clone(), V311);
    peer.send(publish("forbidden/a", b"1", QosPid::AtLeastOnce(pid(1))));
    peer.send(publish("forbidden/b", b"2", QosPid::ExactlyOnce(pid(2))));
    let ids: Vec<InboundId> = peer
        .events()
        .into_iter()
        .map(|e| match e {
            ServerEvent::Message(m) => {
                assert!(m.message.topic.as_str().starts_with("forbidden/"));
                m.id.expect("manual acknowledgement")
            }
            other => panic!("expected Message, got {other:?}"),
        })
        .collect();
    assert_eq!(ids.len(), 2);
    for id in ids {
        peer.conn.ack(peer.now, id).unwrap();
    }
    assert_eq!(
        peer.received_raw(),
        [0x40, 0x02, 0x00, 0x01, 0x50, 0x02, 0x00, 0x02]
    );
    peer.send(Packet::PubRel(PubRel::new(pid(2))));
    assert_eq!(peer.received_raw(), [0x70, 0x02, 0x00, 0x02]);
    assert_eq!(peer.conn.state(), ServerState::Connected);

    // Or closed.
    let mut peer = ClientPeer::connected(config, V311);
    peer.send(publish("forbidden/a", b"1", QosPid::AtLeastOnce(pid(1))));
    assert!(matches!(
        peer.events().as_slice(),
        [ServerEvent::Message(_)]
    ));
    peer.conn
        .disconnect(peer.now, DisconnectReasonCode::NotAuthorized)
        .unwrap();
    assert!(
        peer.received_raw().is_empty(),
        "no PUBACK, no packet at all"
    );
    assert_eq!(peer.conn.state(), ServerState::Closed);
    assert!(matches!(
        ClientPeer::closed_reason(&peer.events()),
        Some(CloseReason::ByServer { .. })
    ));
}

// ---- SUBSCRIBE with wildcards a server does not support ----

/// [MQTT-3.8.3-2] (3.1.1): a server without wildcard subscriptions refuses every filter
/// with a wildcard (return code 0x80) and grants the others of the same SUBSCRIBE;
/// only those reach the session.
#[test]
fn v311_mqtt_3_8_3_2_wildcard_filters_refused_when_unsupported() {
    let mut config = ServerConfig::default();
    config.wildcard_subscription_available = false;
    let mut peer = ClientPeer::connected(config, V311);
    peer.send(Subscribe::new(
        pid(5),
        vec![
            Subscription::new(filter("a/+"), QoS::AtLeastOnce),
            Subscription::new(filter("a/b"), QoS::AtLeastOnce),
            Subscription::new(filter("#"), QoS::AtMostOnce),
            Subscription::new(filter("c/#"), QoS::ExactlyOnce),
        ],
    ));
    let request = peer.expect_subscribe();
    grant_all(&mut peer, request);
    assert_eq!(
        peer.received_raw(),
        [0x90, 0x06, 0x00, 0x05, 0x80, 0x01, 0x80, 0x80]
    );
    let held: Vec<String> = peer
        .conn
        .session()
        .unwrap()
        .subscriptions()
        .map(|(f, _)| f.as_str().to_owned())
        .collect();
    assert_eq!(held, vec!["a/b".to_owned()]);
}

// ---- the reference broker, driven by raw clients ----

/// A client of a [`Broker`] that speaks raw packets.
struct RawClient {
    id: String,
    conn: ConnId,
    version: ProtocolVersion,
    now: Instant,
    decoder: Decoder,
    buf: BytesMut,
    connack: ConnAck,
    /// Packets that came with the CONNACK.
    pending: Vec<Packet>,
}

impl RawClient {
    /// Connects `id` (5.0: Session Expiry Interval 300 s unless `clean`; 3.1.1: Clean
    /// Session `clean`) and takes the CONNACK.
    fn connect(broker: &mut Broker, version: ProtocolVersion, id: &str, clean: bool) -> Self {
        let mut c = connect(id, clean, 0);
        if version == V5 && !clean {
            c.properties.session_expiry_interval = Some(300);
        }
        Self::connect_with(broker, version, c)
    }

    fn connect_with(broker: &mut Broker, version: ProtocolVersion, c: Connect) -> Self {
        let mut client = RawClient {
            id: c.client_id.as_str().to_owned(),
            conn: broker.accept(Instant::ZERO),
            version,
            now: Instant::ZERO,
            decoder: Decoder::for_client(version),
            buf: BytesMut::new(),
            connack: ConnAck::new(ConnectReasonCode::Success),
            pending: Vec::new(),
        };
        client.send(broker, Packet::Connect(Box::new(c)));
        let mut packets = client.received(broker).into_iter();
        match packets.next() {
            Some(Packet::ConnAck(ack)) => client.connack = ack,
            other => panic!("expected CONNACK, got {other:?}"),
        }
        client.pending = packets.collect();
        client
    }

    fn send(&mut self, broker: &mut Broker, packet: impl Into<Packet>) {
        let mut buf = BytesMut::new();
        packet.into().encode(self.version, &mut buf).unwrap();
        broker.handle_input(self.now, self.conn, &buf);
    }

    fn received(&mut self, broker: &mut Broker) -> Vec<Packet> {
        while let Some(bytes) = broker.poll_transmit(self.conn) {
            self.buf.extend_from_slice(&bytes);
        }
        let mut out = core::mem::take(&mut self.pending);
        while let Some(p) = self.decoder.decode(&mut self.buf).unwrap() {
            out.push(p);
        }
        out
    }

    /// The PUBLISHes received, acknowledged as a client does (PUBACK, PUBREC, and
    /// PUBCOMP for the PUBRELs); other packets must not come.
    fn messages(&mut self, broker: &mut Broker) -> Vec<Publish> {
        let mut out = Vec::new();
        loop {
            let packets = self.received(broker);
            if packets.is_empty() {
                return out;
            }
            for packet in packets {
                match packet {
                    Packet::Publish(p) => {
                        match p.qos_pid {
                            QosPid::AtMostOnce => {}
                            QosPid::AtLeastOnce(id) => self.send(broker, PubAck::new(id)),
                            QosPid::ExactlyOnce(id) => self.send(broker, PubRec::new(id)),
                        }
                        out.push(p);
                    }
                    Packet::PubRel(rel) => self.send(broker, PubComp::new(rel.packet_id)),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }

    /// Subscribes with one SUBSCRIBE; the SUBACK's codes (and any retained messages,
    /// acknowledged, in `retained`).
    fn subscribe(
        &mut self,
        broker: &mut Broker,
        id: u16,
        filters: &[(&str, QoS)],
    ) -> (Vec<SubAckReasonCode>, Vec<Publish>) {
        let subs = filters
            .iter()
            .map(|(f, q)| Subscription::new(filter(f), *q))
            .collect();
        self.send(broker, Subscribe::new(pid(id), subs));
        let mut codes = None;
        let mut retained = Vec::new();
        for packet in self.received(broker) {
            match packet {
                Packet::SubAck(ack) => {
                    assert_eq!(ack.packet_id, pid(id));
                    assert!(codes.is_none(), "one SUBACK");
                    codes = Some(ack.reason_codes);
                }
                Packet::Publish(p) => {
                    assert!(codes.is_some(), "retained messages follow the SUBACK");
                    if let Some(id) = p.packet_id() {
                        self.send(broker, PubAck::new(id));
                    }
                    retained.push(p);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        (codes.expect("a SUBACK"), retained)
    }

    /// Unsubscribes with one UNSUBSCRIBE; the UNSUBACK's codes (none in 3.1.1).
    fn unsubscribe(
        &mut self,
        broker: &mut Broker,
        id: u16,
        filters: &[&str],
    ) -> Vec<UnsubAckReasonCode> {
        let filters = filters.iter().map(|f| filter(f)).collect();
        self.send(broker, Unsubscribe::new(pid(id), filters));
        match self.received(broker).as_slice() {
            [Packet::UnsubAck(ack)] => {
                assert_eq!(ack.packet_id, pid(id));
                ack.reason_codes.clone()
            }
            other => panic!("expected one UNSUBACK, got {other:?}"),
        }
    }

    /// Publishes and completes the flow; the broker routed it when this returns.
    fn publish(
        &mut self,
        broker: &mut Broker,
        id: u16,
        t: &str,
        payload: &'static [u8],
        qos: QoS,
        retain: bool,
    ) {
        let qos_pid = match qos {
            QoS::AtMostOnce => QosPid::AtMostOnce,
            QoS::AtLeastOnce => QosPid::AtLeastOnce(pid(id)),
            QoS::ExactlyOnce => QosPid::ExactlyOnce(pid(id)),
        };
        let mut p = publish(t, payload, qos_pid);
        p.retain = retain;
        self.send(broker, p);
        if qos == QoS::ExactlyOnce {
            assert!(matches!(
                self.received(broker).as_slice(),
                [Packet::PubRec(_)]
            ));
            self.send(broker, PubRel::new(pid(id)));
            assert!(matches!(
                self.received(broker).as_slice(),
                [Packet::PubComp(_)]
            ));
        } else if qos == QoS::AtLeastOnce {
            assert!(matches!(
                self.received(broker).as_slice(),
                [Packet::PubAck(_)]
            ));
        }
    }

    /// A normal DISCONNECT.
    fn disconnect(&mut self, broker: &mut Broker) {
        self.send(
            broker,
            Packet::Disconnect(Disconnect::new(DisconnectReasonCode::NormalDisconnection)),
        );
        broker.handle_transport_close(self.now, self.conn);
    }
}

/// (topic, payload, QoS, RETAIN) of each PUBLISH.
fn summary(publishes: &[Publish]) -> Vec<(String, Bytes, QoS, bool)> {
    publishes
        .iter()
        .map(|p| {
            (
                p.topic.as_str().to_owned(),
                p.payload.clone(),
                p.qos(),
                p.retain,
            )
        })
        .collect()
}

fn row(t: &str, payload: &'static str, qos: QoS, retain: bool) -> (String, Bytes, QoS, bool) {
    (
        t.to_owned(),
        Bytes::from_static(payload.as_bytes()),
        qos,
        retain,
    )
}

/// Whether the broker ended the session of `client_id` since the last call.
fn session_ended(broker: &mut Broker, client_id: &str) -> bool {
    broker
        .take_notes()
        .iter()
        .any(|n| matches!(n, sim::BrokerNote::SessionEnded { client_id: c } if c == client_id))
}

// ---- retained messages ----

/// [MQTT-3.1.2-7] (3.1.1): retained messages are not part of a session: the sessions
/// of the publisher (Clean Session 1, ended by its DISCONNECT) and of a subscriber
/// (Clean Session 0, ended by a Clean Session 1 reconnection) end, and a new subscriber
/// still gets the retained message.
#[test]
fn v311_mqtt_3_1_2_7_retained_messages_outlive_the_sessions() {
    let mut broker = Broker::new(ServerConfig::default());
    let mut publisher = RawClient::connect(&mut broker, V311, "pub", true);
    let mut sub = RawClient::connect(&mut broker, V311, "sub", false);
    sub.subscribe(&mut broker, 1, &[("r/#", QoS::AtLeastOnce)]);
    publisher.publish(&mut broker, 2, "r/a", b"kept", QoS::AtLeastOnce, true);
    assert_eq!(
        summary(&sub.messages(&mut broker)),
        vec![row("r/a", "kept", QoS::AtLeastOnce, false)]
    );
    broker.take_notes();
    publisher.disconnect(&mut broker);
    assert!(session_ended(&mut broker, "pub"));
    sub.disconnect(&mut broker);
    let sub = RawClient::connect(&mut broker, V311, "sub", true);
    assert!(!sub.connack.session_present);
    let fresh = broker
        .session_of("sub")
        .and_then(ServerConnection::session)
        .unwrap();
    assert_eq!(fresh.subscriptions().count(), 0, "the old session is gone");

    assert_eq!(
        broker.retained(&topic("r/a")).map(|m| m.payload.clone()),
        Some(Bytes::from_static(b"kept"))
    );
    let mut late = RawClient::connect(&mut broker, V311, "late", true);
    let (_, retained) = late.subscribe(&mut broker, 3, &[("r/+", QoS::AtLeastOnce)]);
    assert_eq!(
        summary(&retained),
        vec![row("r/a", "kept", QoS::AtLeastOnce, true)]
    );
}

/// 3.1.1: a new subscription gets the last retained message of every matching topic
/// ([MQTT-3.3.1-6]) and only of those, each with RETAIN 1 ([MQTT-3.3.1-8]); a retained
/// QoS 0 message replaces the earlier retained message of its topic ([MQTT-3.3.1-7]).
#[test]
fn v311_mqtt_3_3_1_6_to_8_last_retained_message_of_every_matching_topic() {
    let mut broker = Broker::new(ServerConfig::default());
    let mut publisher = RawClient::connect(&mut broker, V311, "pub", true);
    publisher.publish(&mut broker, 1, "t/a", b"a1", QoS::AtLeastOnce, true);
    publisher.publish(&mut broker, 2, "t/b", b"b1", QoS::ExactlyOnce, true);
    publisher.publish(&mut broker, 3, "t/c/d", b"c1", QoS::AtLeastOnce, true);
    publisher.publish(&mut broker, 4, "u/x", b"x1", QoS::AtLeastOnce, true);
    publisher.publish(&mut broker, 5, "t/b", b"b2", QoS::ExactlyOnce, true);
    // QoS 0 retained: discards a1, and is the new retained message.
    publisher.publish(&mut broker, 0, "t/a", b"a2", QoS::AtMostOnce, true);
    let a = broker.retained(&topic("t/a")).unwrap();
    assert_eq!((&a.payload[..], a.qos), (&b"a2"[..], QoS::AtMostOnce));

    let mut all = RawClient::connect(&mut broker, V311, "all", true);
    let (codes, retained) = all.subscribe(&mut broker, 6, &[("t/#", QoS::ExactlyOnce)]);
    assert_eq!(codes, vec![SubAckReasonCode::GrantedQoS2]);
    assert_eq!(
        summary(&retained),
        vec![
            row("t/a", "a2", QoS::AtMostOnce, true),
            row("t/b", "b2", QoS::ExactlyOnce, true),
            row("t/c/d", "c1", QoS::AtLeastOnce, true),
        ]
    );
    let mut level = RawClient::connect(&mut broker, V311, "level", true);
    let (_, retained) = level.subscribe(&mut broker, 7, &[("t/+", QoS::AtLeastOnce)]);
    assert_eq!(
        summary(&retained),
        vec![
            row("t/a", "a2", QoS::AtMostOnce, true),
            row("t/b", "b2", QoS::AtLeastOnce, true),
        ]
    );
    // Forwarded to an existing subscription: RETAIN 0 (not a new subscription).
    publisher.publish(&mut broker, 8, "t/a", b"a3", QoS::AtLeastOnce, true);
    assert_eq!(
        summary(&level.messages(&mut broker)),
        vec![row("t/a", "a3", QoS::AtLeastOnce, false)]
    );
}

// ---- routing ----

/// [MQTT-3.3.2-3]: the Topic Name of each PUBLISH sent to a subscriber is the topic
/// the message was published to, which matches the subscription's filter; nothing is
/// sent for topics no filter matches.
#[test]
fn mqtt_3_3_2_3_topic_name_sent_matches_the_subscription_filter() {
    for version in BOTH {
        let mut broker = Broker::new(ServerConfig::default());
        let mut sub = RawClient::connect(&mut broker, version, "sub", true);
        let filters = ["s/+/x", "s/y/#"];
        sub.subscribe(
            &mut broker,
            1,
            &[
                (filters[0], QoS::AtLeastOnce),
                (filters[1], QoS::AtLeastOnce),
            ],
        );
        let mut publisher = RawClient::connect(&mut broker, version, "pub", true);
        let topics = ["s/a/x", "s/b/y", "s/y", "t/a/x", "s/y/z/w", "s/a/x/y"];
        for (i, t) in topics.iter().enumerate() {
            publisher.publish(&mut broker, i as u16 + 1, t, b"m", QoS::AtLeastOnce, false);
        }
        let got: Vec<String> = sub
            .messages(&mut broker)
            .iter()
            .map(|p| p.topic.as_str().to_owned())
            .collect();
        assert_eq!(got, vec!["s/a/x", "s/y", "s/y/z/w"], "{version:?}");
        for t in &got {
            assert!(
                filters.iter().any(|f| filter(f).matches(&topic(t))),
                "{version:?}: {t}"
            );
        }
    }
}

/// A SUBSCRIBE with several filters is handled like one SUBSCRIBE per filter, answered
/// by one SUBACK ([MQTT-3.8.4-4] (3.1.1), [MQTT-3.8.4-5] (5.0)): a client subscribing
/// with one packet and a client subscribing filter by filter get the same codes, the
/// same retained messages (one per matching filter) and then the same messages.
#[test]
fn several_filters_in_one_subscribe_act_as_a_series_of_subscribes() {
    for version in BOTH {
        let mut broker = Broker::new(ServerConfig::default());
        let mut publisher = RawClient::connect(&mut broker, version, "pub", true);
        publisher.publish(&mut broker, 1, "m/b", b"kept", QoS::ExactlyOnce, true);
        let filters = [
            ("m/a", QoS::AtMostOnce),
            ("m/b", QoS::AtLeastOnce),
            ("m/+", QoS::ExactlyOnce),
        ];
        let mut one = RawClient::connect(&mut broker, version, "one", true);
        let (codes, retained_one) = one.subscribe(&mut broker, 2, &filters);
        assert_eq!(
            codes,
            vec![
                SubAckReasonCode::GrantedQoS0,
                SubAckReasonCode::GrantedQoS1,
                SubAckReasonCode::GrantedQoS2
            ],
            "{version:?}"
        );
        let mut series = RawClient::connect(&mut broker, version, "series", true);
        let mut codes_series = Vec::new();
        let mut retained_series = Vec::new();
        for (i, f) in filters.iter().enumerate() {
            let (codes, retained) = series.subscribe(&mut broker, 10 + i as u16, &[*f]);
            codes_series.extend(codes);
            retained_series.extend(retained);
        }
        assert_eq!(codes, codes_series);
        assert_eq!(
            summary(&retained_one),
            vec![
                row("m/b", "kept", QoS::AtLeastOnce, true),
                row("m/b", "kept", QoS::ExactlyOnce, true),
            ],
            "{version:?}"
        );
        assert_eq!(summary(&retained_one), summary(&retained_series));

        publisher.publish(&mut broker, 3, "m/a", b"1", QoS::ExactlyOnce, false);
        publisher.publish(&mut broker, 4, "m/b", b"2", QoS::AtLeastOnce, false);
        publisher.publish(&mut broker, 5, "m/c", b"3", QoS::ExactlyOnce, false);
        publisher.publish(&mut broker, 6, "n/a", b"4", QoS::ExactlyOnce, false);
        let got = summary(&one.messages(&mut broker));
        assert_eq!(
            got,
            vec![
                row("m/a", "1", QoS::ExactlyOnce, false),
                row("m/b", "2", QoS::AtLeastOnce, false),
                row("m/c", "3", QoS::ExactlyOnce, false),
            ],
            "{version:?}"
        );
        assert_eq!(got, summary(&series.messages(&mut broker)));
    }
}

/// An UNSUBSCRIBE with several filters is handled like one UNSUBSCRIBE per filter,
/// answered by one UNSUBACK ([MQTT-3.10.4-6]); once a subscription is deleted no new
/// message for it is sent or queued, even while the client is offline
/// ([MQTT-3.10.4-2]); the other subscriptions stay.
#[test]
fn mqtt_3_10_4_2_and_6_unsubscribe_several_filters_stops_their_messages() {
    for version in BOTH {
        let mut broker = Broker::new(ServerConfig::default());
        let filters = [
            ("a/#", QoS::AtLeastOnce),
            ("b/#", QoS::AtLeastOnce),
            ("c/#", QoS::AtLeastOnce),
        ];
        let mut one = RawClient::connect(&mut broker, version, "one", false);
        one.subscribe(&mut broker, 1, &filters);
        let mut series = RawClient::connect(&mut broker, version, "series", false);
        series.subscribe(&mut broker, 1, &filters);

        let codes = one.unsubscribe(&mut broker, 2, &["a/#", "c/#", "z/#"]);
        let mut codes_series = Vec::new();
        for (i, f) in ["a/#", "c/#", "z/#"].iter().enumerate() {
            codes_series.extend(series.unsubscribe(&mut broker, 3 + i as u16, &[f]));
        }
        let expected = match version {
            V5 => vec![
                UnsubAckReasonCode::Success,
                UnsubAckReasonCode::Success,
                UnsubAckReasonCode::NoSubscriptionExisted,
            ],
            _ => vec![],
        };
        assert_eq!(codes, expected, "{version:?}");
        assert_eq!(codes_series, expected, "{version:?}");
        for id in ["one", "series"] {
            let held: Vec<String> = broker
                .session_of(id)
                .and_then(ServerConnection::session)
                .unwrap()
                .subscriptions()
                .map(|(f, _)| f.as_str().to_owned())
                .collect();
            assert_eq!(held, vec!["b/#".to_owned()], "{version:?} {id}");
        }

        let mut publisher = RawClient::connect(&mut broker, version, "pub", true);
        for (i, t) in ["a/1", "b/1", "c/1"].iter().enumerate() {
            publisher.publish(
                &mut broker,
                i as u16 + 1,
                t,
                b"live",
                QoS::AtLeastOnce,
                false,
            );
        }
        for client in [&mut one, &mut series] {
            assert_eq!(
                summary(&client.messages(&mut broker)),
                vec![row("b/1", "live", QoS::AtLeastOnce, false)],
                "{version:?}"
            );
        }
        // Offline: only the remaining subscription queues.
        broker.handle_transport_close(one.now, one.conn);
        for (i, t) in ["a/2", "b/2", "c/2"].iter().enumerate() {
            publisher.publish(
                &mut broker,
                i as u16 + 10,
                t,
                b"offline",
                QoS::AtLeastOnce,
                false,
            );
        }
        let held = broker
            .session_of("one")
            .and_then(ServerConnection::session)
            .unwrap();
        assert_eq!(held.queued() + held.in_flight(), 1, "{version:?}");
        let mut back = RawClient::connect(&mut broker, version, "one", false);
        assert!(back.connack.session_present);
        assert_eq!(
            summary(&back.messages(&mut broker)),
            vec![row("b/2", "offline", QoS::AtLeastOnce, false)],
            "{version:?}"
        );
    }
}

/// The Clean Start / Clean Session handling after a valid CONNECT ([MQTT-3.1.4-3]
/// (3.1.1), [MQTT-3.1.4-4] (5.0)), by the reference broker: 0 without a session starts
/// one (Session Present 0); 0 with a session continues it (Session Present 1, its
/// subscriptions and the messages queued meanwhile); 1 discards it (Session Present 0,
/// no queued message, no subscription left).
#[test]
fn mqtt_3_1_4_clean_start_processing_after_connect() {
    for version in BOTH {
        let mut broker = Broker::new(ServerConfig::default());
        let mut publisher = RawClient::connect(&mut broker, version, "pub", true);
        let mut c = RawClient::connect(&mut broker, version, "c", false);
        assert!(!c.connack.session_present, "{version:?}");
        c.subscribe(&mut broker, 1, &[("cs/#", QoS::AtLeastOnce)]);
        c.disconnect(&mut broker);
        publisher.publish(&mut broker, 1, "cs/1", b"queued", QoS::AtLeastOnce, false);

        let mut c = RawClient::connect(&mut broker, version, "c", false);
        assert!(c.connack.session_present, "{version:?}");
        assert_eq!(
            summary(&c.messages(&mut broker)),
            vec![row("cs/1", "queued", QoS::AtLeastOnce, false)],
            "{version:?}"
        );
        publisher.publish(&mut broker, 2, "cs/2", b"live", QoS::AtLeastOnce, false);
        assert_eq!(c.messages(&mut broker).len(), 1, "{version:?}");
        c.disconnect(&mut broker);
        publisher.publish(&mut broker, 3, "cs/3", b"dropped", QoS::AtLeastOnce, false);

        let mut c = RawClient::connect(&mut broker, version, "c", true);
        assert!(!c.connack.session_present, "{version:?}");
        assert!(c.messages(&mut broker).is_empty(), "{version:?}");
        let fresh = broker
            .session_of("c")
            .and_then(ServerConnection::session)
            .unwrap();
        assert_eq!(fresh.subscriptions().count(), 0);
        publisher.publish(&mut broker, 4, "cs/4", b"after", QoS::AtLeastOnce, false);
        assert!(c.messages(&mut broker).is_empty(), "{version:?}");
    }
}

/// Messages of one publisher are sent to each subscriber in the order they were
/// received, per topic and QoS, on every topic without any configuration
/// ([MQTT-4.6.0-5], [MQTT-4.6.0-6] (3.1.1); [MQTT-4.6.0-5] (5.0)), also when the
/// subscriber's Receive Maximum (5.0: 2) holds QoS 1/2 messages back in its queue.
#[test]
fn mqtt_4_6_0_messages_forwarded_in_the_order_received() {
    for version in BOTH {
        let mut broker = Broker::new(ServerConfig::default());
        let mut c = connect("sub", true, 0);
        if version == V5 {
            c.properties.receive_maximum = std::num::NonZeroU16::new(2);
        }
        let mut sub = RawClient::connect_with(&mut broker, version, c);
        sub.subscribe(&mut broker, 1, &[("o/#", QoS::ExactlyOnce)]);
        let mut publisher = RawClient::connect(&mut broker, version, "pub", true);
        let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
        let mut sent = Vec::new();
        for i in 0..30u16 {
            let t = ["o/a", "o/b", "o/c/d"][usize::from(i) % 3];
            let q = qos[usize::from(i / 3) % 3];
            let payload: &'static [u8] = Box::leak(format!("{i}").into_bytes().into_boxed_slice());
            publisher.publish(&mut broker, i + 1, t, payload, q, false);
            sent.push((t.to_owned(), Bytes::from_static(payload), q, false));
        }
        let got = summary(&sub.messages(&mut broker));
        assert_eq!(got.len(), sent.len(), "{version:?}: none lost");
        for t in ["o/a", "o/b", "o/c/d"] {
            for q in qos {
                let of = |list: &[(String, Bytes, QoS, bool)]| -> Vec<Bytes> {
                    list.iter()
                        .filter(|m| m.0 == t && m.2 == q)
                        .map(|m| m.1.clone())
                        .collect()
                };
                assert_eq!(of(&got), of(&sent), "{version:?}: {t} at {q:?}");
                assert!(!of(&sent).is_empty());
            }
        }
    }
}

// ---- subscription identifiers, replaced subscriptions (5.0) ----

/// Subscribes with one SUBSCRIBE carrying Subscription Identifier `sid`; the SUBACK's
/// codes (no retained message may come).
fn subscribe_with_id(
    broker: &mut Broker,
    client: &mut RawClient,
    id: u16,
    f: &str,
    qos: QoS,
    sid: u32,
) {
    let mut subscribe = Subscribe::new(pid(id), vec![Subscription::new(filter(f), qos)]);
    subscribe.properties.subscription_identifier = SubscriptionId::new(sid);
    client.send(broker, subscribe);
    assert!(
        matches!(client.received(broker).as_slice(), [Packet::SubAck(a)] if a.reason_codes[0].granted_qos() == Some(qos))
    );
}

fn identifiers(p: &Publish) -> Vec<u32> {
    p.properties
        .subscription_identifiers
        .iter()
        .map(SubscriptionId::get)
        .collect()
}

/// [MQTT-3.3.4-5] (5.0): when a client gets separate copies of one message (here: one
/// for its shared subscription, one for its ordinary subscription), each copy carries
/// the Subscription Identifier of the subscription it matched, and only that one.
#[test]
fn v5_mqtt_3_3_4_5_separate_copies_carry_their_own_subscription_identifier() {
    let mut broker = Broker::new(ServerConfig::default());
    let mut sub = RawClient::connect(&mut broker, V5, "sub", true);
    subscribe_with_id(
        &mut broker,
        &mut sub,
        1,
        "$share/g/d/#",
        QoS::AtLeastOnce,
        5,
    );
    subscribe_with_id(&mut broker, &mut sub, 2, "d/+", QoS::AtLeastOnce, 7);
    let mut publisher = RawClient::connect(&mut broker, V5, "pub", true);
    publisher.publish(&mut broker, 1, "d/x", b"twice", QoS::AtLeastOnce, false);
    let mut got: Vec<(Bytes, Vec<u32>)> = sub
        .messages(&mut broker)
        .iter()
        .map(|p| (p.payload.clone(), identifiers(p)))
        .collect();
    got.sort();
    let twice = Bytes::from_static(b"twice");
    assert_eq!(got, vec![(twice.clone(), vec![5]), (twice, vec![7])]);
}

/// [MQTT-3.8.4-4] (5.0): a SUBSCRIBE with a filter identical to an existing one
/// replaces it; with Retain Handling 0 the matching retained message is sent again,
/// and no message is lost: the one in flight when the subscription was replaced
/// completes, the ones published after it arrive, each once.
#[test]
fn v5_mqtt_3_8_4_4_replaced_subscription_resends_retained_and_loses_nothing() {
    let mut broker = Broker::new(ServerConfig::default());
    let mut publisher = RawClient::connect(&mut broker, V5, "pub", true);
    publisher.publish(&mut broker, 1, "rp/r", b"kept", QoS::AtLeastOnce, true);
    let mut sub = RawClient::connect(&mut broker, V5, "sub", true);
    let (_, retained) = sub.subscribe(&mut broker, 1, &[("rp/#", QoS::AtLeastOnce)]);
    assert_eq!(
        summary(&retained),
        vec![row("rp/r", "kept", QoS::AtLeastOnce, true)]
    );

    publisher.publish(&mut broker, 2, "rp/x", b"before", QoS::AtLeastOnce, false);
    // Not acknowledged yet when the subscription is replaced.
    let mut subscribe = Subscribe::new(
        pid(2),
        vec![Subscription::new(filter("rp/#"), QoS::AtLeastOnce)],
    );
    subscribe.filters[0].options.retain_handling = RetainHandling::SendAtSubscribe;
    sub.send(&mut broker, subscribe);
    publisher.publish(&mut broker, 3, "rp/x", b"after", QoS::AtLeastOnce, false);
    let packets = sub.received(&mut broker);
    let kinds: Vec<String> = packets
        .iter()
        .map(|p| match p {
            Packet::Publish(p) => format!("{}:{}", String::from_utf8_lossy(&p.payload), p.retain),
            Packet::SubAck(a) => format!("suback:{:?}", a.reason_codes),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "before:false".to_owned(),
            "suback:[GrantedQoS1]".to_owned(),
            "kept:true".to_owned(),
            "after:false".to_owned(),
        ]
    );
    for p in &packets {
        if let Packet::Publish(p) = p {
            sub.send(&mut broker, PubAck::new(p.packet_id().unwrap()));
        }
    }
    assert!(sub.received(&mut broker).is_empty());
    let session = broker
        .session_of("sub")
        .and_then(ServerConnection::session)
        .unwrap();
    assert_eq!(session.in_flight() + session.queued(), 0);
    assert_eq!(session.subscriptions().count(), 1);
}

// ---- shared subscriptions (5.0) ----

/// [MQTT-4.8.2-3] (5.0): a message for a shared subscription goes out at no more than
/// the QoS granted to that shared subscription.
#[test]
fn v5_mqtt_4_8_2_3_shared_subscription_granted_qos_is_honoured() {
    let mut broker = Broker::new(ServerConfig::default());
    let levels = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
    let mut members: Vec<RawClient> = levels
        .iter()
        .enumerate()
        .map(|(i, &q)| {
            let mut m = RawClient::connect(&mut broker, V5, &format!("m{i}"), true);
            let (codes, _) = m.subscribe(&mut broker, 1, &[(&format!("$share/g{i}/q/#"), q)]);
            assert_eq!(codes[0].granted_qos(), Some(q));
            m
        })
        .collect();
    let mut publisher = RawClient::connect(&mut broker, V5, "pub", true);
    for (i, &q) in levels.iter().enumerate() {
        publisher.publish(&mut broker, i as u16 + 1, "q/x", b"m", q, false);
    }
    for (member, &granted) in members.iter_mut().zip(&levels) {
        let got: Vec<QoS> = member
            .messages(&mut broker)
            .iter()
            .map(Publish::qos)
            .collect();
        let expected: Vec<QoS> = levels.iter().map(|&p| p.min(granted)).collect();
        assert_eq!(got, expected, "granted {granted:?}");
    }
}

/// Two members "a" and "b" of `$share/g/w/#` at `qos`, each with a session of
/// `expiry` seconds, and a publisher; one message "w/1" published. Returns the
/// member that got it (with the PUBLISH, unacknowledged), the other, the publisher.
fn shared_pair(
    broker: &mut Broker,
    qos: QoS,
    expiry: u32,
) -> (RawClient, Publish, RawClient, RawClient) {
    let mut members = Vec::new();
    for id in ["a", "b"] {
        let mut c = connect(id, false, 0);
        c.properties.session_expiry_interval = Some(expiry);
        let mut m = RawClient::connect_with(broker, V5, c);
        m.subscribe(broker, 1, &[("$share/g/w/#", qos)]);
        members.push(m);
    }
    let mut publisher = RawClient::connect(broker, V5, "pub", true);
    publisher.publish(broker, 1, "w/1", b"one", qos, false);
    let mut b = members.pop().unwrap();
    let mut a = members.pop().unwrap();
    let got_a = a.received(broker);
    let got_b = b.received(broker);
    let (got, holder, other) = match (got_a.len(), got_b.len()) {
        (1, 0) => (got_a, a, b),
        (0, 1) => (got_b, b, a),
        other => panic!("one member gets it, got {other:?}"),
    };
    let Packet::Publish(p) = got.into_iter().next().unwrap() else {
        panic!("expected PUBLISH")
    };
    assert_eq!(&p.payload[..], b"one");
    (holder, p, other, publisher)
}

/// [MQTT-4.8.2-4] (5.0): a shared-subscription message whose delivery was interrupted
/// (the link of the member that got it broke before the PUBACK) is completed when that
/// member reconnects to its session: it is sent again (DUP 1) to it, and never to the
/// other member.
#[test]
fn v5_mqtt_4_8_2_4_interrupted_shared_delivery_completed_on_reconnect() {
    let mut broker = Broker::new(ServerConfig::default());
    let (holder, first, mut other, _publisher) = shared_pair(&mut broker, QoS::AtLeastOnce, 300);
    broker.handle_transport_close(holder.now, holder.conn);
    assert!(other.messages(&mut broker).is_empty());
    let holder_id = holder.id.as_str();
    let mut c = connect(holder_id, false, 0);
    c.properties.session_expiry_interval = Some(300);
    let mut back = RawClient::connect_with(&mut broker, V5, c);
    assert!(back.connack.session_present);
    let again = back.messages(&mut broker);
    assert_eq!(again.len(), 1);
    assert!(again[0].dup);
    assert_eq!(again[0].packet_id(), first.packet_id());
    assert_eq!(&again[0].payload[..], b"one");
    let session = broker
        .session_of(holder_id)
        .and_then(ServerConnection::session)
        .unwrap();
    assert_eq!(session.in_flight(), 0, "completed");
    assert!(
        other.messages(&mut broker).is_empty(),
        "never offered to the other member"
    );
}

/// [MQTT-4.8.2-5] (5.0): if the session of the member whose delivery was interrupted
/// ends before it reconnects, the message is not handed to the other member.
#[test]
fn v5_mqtt_4_8_2_5_shared_message_not_redirected_when_the_session_ends() {
    let mut broker = Broker::new(ServerConfig::default());
    let (holder, _, mut other, _publisher) = shared_pair(&mut broker, QoS::AtLeastOnce, 2);
    broker.handle_transport_close(holder.now, holder.conn);
    broker.take_notes();
    broker.handle_timeout(Instant::ZERO + secs(3));
    let ended = broker
        .take_notes()
        .into_iter()
        .filter(|n| matches!(n, sim::BrokerNote::SessionEnded { .. }))
        .count();
    assert_eq!(ended, 1, "the holder's session ended");
    other.now = Instant::ZERO + secs(3);
    assert!(other.messages(&mut broker).is_empty());
    assert!(broker.session_of(&holder.id).is_none());
    let session = broker
        .session_of(&other.id)
        .and_then(ServerConnection::session)
        .unwrap();
    assert_eq!(session.in_flight() + session.queued(), 0);
}

/// [MQTT-4.8.2-6] (5.0): a member that answers a shared-subscription message with
/// PUBACK (QoS 1) or PUBREC (QoS 2) 0x80 or above ends that message: it is not sent to
/// the other member, nor again to it (no PUBREL for QoS 2).
#[test]
fn v5_mqtt_4_8_2_6_refused_shared_message_is_discarded() {
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut broker = Broker::new(ServerConfig::default());
        let (mut holder, p, mut other, _publisher) = shared_pair(&mut broker, qos, 300);
        let id = p.packet_id().unwrap();
        if qos == QoS::AtLeastOnce {
            let mut ack = PubAck::new(id);
            ack.reason_code = PubAckReasonCode::UnspecifiedError;
            holder.send(&mut broker, ack);
        } else {
            let mut rec = PubRec::new(id);
            rec.reason_code = PubRecReasonCode::ImplementationSpecificError;
            holder.send(&mut broker, rec);
        }
        assert!(
            holder.received(&mut broker).is_empty(),
            "{qos:?}: no PUBREL, no re-send"
        );
        assert!(other.messages(&mut broker).is_empty(), "{qos:?}");
        for id in ["a", "b"] {
            let session = broker
                .session_of(id)
                .and_then(ServerConnection::session)
                .unwrap();
            assert_eq!(session.in_flight() + session.queued(), 0, "{qos:?} {id}");
        }
        // A reconnection of the holder gets nothing again.
        broker.handle_transport_close(holder.now, holder.conn);
        let mut c = connect(&holder.id, false, 0);
        c.properties.session_expiry_interval = Some(300);
        let mut back = RawClient::connect_with(&mut broker, V5, c);
        assert!(back.connack.session_present);
        assert!(back.messages(&mut broker).is_empty(), "{qos:?}");
    }
}
