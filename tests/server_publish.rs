//! Application messages through a [`ServerConnection`], both ways: PUBLISH from the
//! client (acknowledgements, manual acks, Receive Maximum, Maximum QoS, retain, Topic
//! Aliases) and messages the broker hands the connection for its client (packet
//! identifiers, the QoS 1/2 flows, the client's Receive Maximum, Maximum Packet Size and
//! Topic Alias Maximum, message expiry, properties, the session queue).
//!
//! Each test is named after the normative statement it checks (5.0 numbering; the 3.1.1
//! statement is named in the doc comment where it differs) and runs in both protocol
//! versions where the rule exists in both.

mod server_peer;

use bytes::Bytes;
use mqtt_sansio::*;
use server_peer::*;
use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

// ---- helpers ----

fn manual_acks() -> ServerConfig {
    let mut config = ServerConfig::default();
    config.manual_acks = true;
    config
}

/// A clean-start connection of "c1" whose CONNECT `edit` changed, accepted.
fn connected_with(
    config: ServerConfig,
    version: ProtocolVersion,
    edit: impl FnOnce(&mut Connect),
) -> (ClientPeer, ConnAck) {
    let mut peer = ClientPeer::new(config, version);
    let mut c = connect("c1", true, 60);
    edit(&mut c);
    let connack = peer.connect_accept(c, None, AcceptOptions::new());
    (peer, connack)
}

/// A 5.0 connection whose client accepts one QoS 1/2 message in flight at a time
/// (Receive Maximum 1).
fn receive_maximum_1(config: ServerConfig) -> ClientPeer {
    connected_with(config, ProtocolVersion::V5, |c| {
        c.properties.receive_maximum = NonZeroU16::new(1)
    })
    .0
}

/// The broker publishes `message` to the client of `peer`.
fn send_to_client(peer: &mut ClientPeer, message: Message) {
    peer.conn.publish(peer.now, message).unwrap();
}

/// The client of `old` comes back on a new transport with Clean Start 0: the new
/// connection takes the session of the old one. Returns the new peer and what the server
/// sent after the CONNACK (re-sent and queued messages).
fn reconnect(
    old: &mut ClientPeer,
    config: ServerConfig,
    edit: impl FnOnce(&mut Connect),
) -> (ClientPeer, Vec<Packet>) {
    let session = old.conn.resume_session(old.now);
    assert!(session.is_some(), "the old connection holds no session");
    let mut peer = ClientPeer::new(config.clone(), old.version);
    peer.now = old.now;
    peer.conn = ServerConnection::new(config, old.now);
    let mut c = persistent_connect(old.version);
    edit(&mut c);
    peer.send(Packet::Connect(Box::new(c)));
    let request = peer.expect_connect();
    peer.conn
        .accept(peer.now, request, session, AcceptOptions::new())
        .unwrap();
    let mut packets = peer.received();
    match packets.first() {
        Some(Packet::ConnAck(ack)) => assert!(ack.session_present),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    packets.remove(0);
    (peer, packets)
}

/// The only event must be one application message.
fn one_message(peer: &mut ClientPeer) -> InboundMessage {
    match peer.only_event("Message") {
        ServerEvent::Message(m) => m,
        other => panic!("expected Message, got {other:?}"),
    }
}

/// Asserts that the client broke a rule: a DISCONNECT with `code` in 5.0 (nothing in
/// 3.1.1), then Closed with the same code, and no application message.
fn assert_violation(peer: &mut ClientPeer, code: DisconnectReasonCode) {
    assert_violation_closes(
        peer,
        code,
        |e| matches!(e, ServerEvent::Message(_)),
        "message delivered",
    );
}

fn pub_with(
    t: &str,
    payload: &'static [u8],
    qos_pid: QosPid,
    edit: impl FnOnce(&mut Publish),
) -> Publish {
    let mut p = publish(t, payload, qos_pid);
    edit(&mut p);
    p
}

fn dup(mut p: Publish) -> Publish {
    p.dup = true;
    p
}

/// The PUBLISH packets among `packets`.
fn publishes(packets: &[Packet]) -> Vec<Publish> {
    packets
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

/// Exactly one PUBLISH was sent.
fn one_publish(peer: &mut ClientPeer) -> Publish {
    match peer.received().as_slice() {
        [Packet::Publish(p)] => p.clone(),
        other => panic!("expected one PUBLISH, got {other:?}"),
    }
}

fn dropped(events: &[ServerEvent]) -> Vec<(String, DropReason)> {
    events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Dropped { topic, reason } => Some((topic.as_str().to_owned(), *reason)),
            _ => None,
        })
        .collect()
}

fn expiring(t: &str, payload: &'static [u8], qos: QoS, seconds: u32) -> Message {
    let mut m = message(t, payload, qos);
    m.properties.message_expiry_interval = Some(seconds);
    m
}

fn puback(id: u16) -> Packet {
    Packet::PubAck(PubAck::new(pid(id)))
}

fn pubrec(id: u16) -> Packet {
    Packet::PubRec(PubRec::new(pid(id)))
}

fn pubrel(id: u16) -> Packet {
    Packet::PubRel(PubRel::new(pid(id)))
}

fn pubcomp(id: u16) -> Packet {
    Packet::PubComp(PubComp::new(pid(id)))
}

// ---- client -> server: acknowledgements ----

/// [MQTT-3.3.4-1] (both versions): a QoS 0 PUBLISH is handed to the broker and not
/// answered.
#[test]
fn mqtt_3_3_4_1_qos0_from_client_is_delivered_and_not_answered() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        peer.send(publish("a/b", b"hello", QosPid::AtMostOnce));
        let m = one_message(&mut peer);
        assert_eq!(m.message.topic.as_str(), "a/b");
        assert_eq!(&m.message.payload[..], b"hello");
        assert_eq!(m.message.qos, QoS::AtMostOnce);
        assert!(!m.message.retain);
        assert_eq!(m.id, None);
        assert_eq!(peer.received(), vec![], "{v:?}");
    }
}

/// [MQTT-4.3.2-4] (3.1.1: [MQTT-4.3.2-2]): a QoS 1 PUBLISH is handed to the broker and
/// answered with PUBACK carrying its packet identifier.
#[test]
fn mqtt_4_3_2_4_qos1_from_client_is_delivered_and_pubacked() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        peer.send(publish("a/b", b"one", QosPid::AtLeastOnce(pid(7))));
        let m = one_message(&mut peer);
        assert_eq!(m.message.topic.as_str(), "a/b");
        assert_eq!(&m.message.payload[..], b"one");
        assert_eq!(m.message.qos, QoS::AtLeastOnce);
        assert_eq!(m.id, None, "automatic acknowledgement gives no handle");
        assert_eq!(peer.received(), vec![puback(7)], "{v:?}");
    }
}

/// [MQTT-4.3.2-5] (3.1.1: [MQTT-4.3.2-2]): once PUBACK went out, a PUBLISH with the same
/// identifier is a new message, whatever its DUP flag.
#[test]
fn mqtt_4_3_2_5_qos1_same_id_after_puback_is_a_new_message() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        peer.send(publish("a", b"1", QosPid::AtLeastOnce(pid(3))));
        assert_eq!(&one_message(&mut peer).message.payload[..], b"1");
        assert_eq!(peer.received(), vec![puback(3)]);
        peer.send(dup(publish("a", b"2", QosPid::AtLeastOnce(pid(3)))));
        let m = one_message(&mut peer);
        assert_eq!(&m.message.payload[..], b"2");
        assert!(!m.message.dup, "the broker's copy is not a re-delivery");
        assert_eq!(peer.received(), vec![puback(3)], "{v:?}");
    }
}

/// [MQTT-4.3.3-8] (3.1.1: [MQTT-4.3.3-2]): a QoS 2 PUBLISH is handed to the broker and
/// answered with PUBREC carrying its packet identifier.
#[test]
fn mqtt_4_3_3_8_qos2_from_client_is_delivered_and_pubreced() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        peer.send(publish("a/b", b"two", QosPid::ExactlyOnce(pid(9))));
        let m = one_message(&mut peer);
        assert_eq!(m.message.topic.as_str(), "a/b");
        assert_eq!(m.message.qos, QoS::ExactlyOnce);
        assert_eq!(m.id, None);
        assert_eq!(peer.received(), vec![pubrec(9)], "{v:?}");
    }
}

/// [MQTT-4.3.3-10] (3.1.1: [MQTT-4.3.3-2]): until PUBREL arrives, a repeat of the
/// PUBLISH (DUP 1) is answered with PUBREC again and not handed to the broker again.
#[test]
fn mqtt_4_3_3_10_qos2_repeat_not_delivered_again() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        peer.send(publish("a", b"x", QosPid::ExactlyOnce(pid(4))));
        one_message(&mut peer);
        assert_eq!(peer.received(), vec![pubrec(4)]);
        for _ in 0..2 {
            peer.send(dup(publish("a", b"x", QosPid::ExactlyOnce(pid(4)))));
            assert_eq!(peer.received(), vec![pubrec(4)], "{v:?}");
            let events = peer.events();
            assert!(events.is_empty(), "{v:?}: delivered again: {events:?}");
        }
    }
}

/// [MQTT-4.3.3-11] (3.1.1: [MQTT-4.3.3-2]): PUBREL is answered with PUBCOMP carrying the
/// same identifier.
#[test]
fn mqtt_4_3_3_11_pubrel_answered_with_pubcomp() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        peer.send(publish("a", b"x", QosPid::ExactlyOnce(pid(4))));
        one_message(&mut peer);
        assert_eq!(peer.received(), vec![pubrec(4)]);
        peer.send(PubRel::new(pid(4)));
        assert_eq!(peer.received(), vec![pubcomp(4)], "{v:?}");
        assert!(peer.events().is_empty());
        assert_eq!(peer.conn.state(), ServerState::Connected);
    }
}

/// [MQTT-4.3.3-12] (3.1.1: [MQTT-4.3.3-2]): after PUBCOMP, a PUBLISH with the same
/// identifier is a new message.
#[test]
fn mqtt_4_3_3_12_same_id_after_pubcomp_is_a_new_message() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        peer.send(publish("a", b"first", QosPid::ExactlyOnce(pid(4))));
        one_message(&mut peer);
        peer.send(PubRel::new(pid(4)));
        assert_eq!(peer.received(), vec![pubrec(4), pubcomp(4)]);
        peer.send(publish("a", b"second", QosPid::ExactlyOnce(pid(4))));
        assert_eq!(
            &one_message(&mut peer).message.payload[..],
            b"second",
            "{v:?}"
        );
        assert_eq!(peer.received(), vec![pubrec(4)]);
    }
}

/// 5.0 section 3.7.2.1: a PUBREL for an identifier the server does not know is answered
/// with PUBCOMP 0x92 (Packet Identifier not found); 3.1.1 has no reason code and answers
/// with a plain PUBCOMP ([MQTT-4.3.3-2] of 3.1.1). Nothing is delivered, the connection stays.
#[test]
fn mqtt_4_3_3_11_pubrel_for_unknown_id_gets_pubcomp_0x92_in_v5() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        peer.send(PubRel::new(pid(21)));
        let mut comp = PubComp::new(pid(21));
        if v == ProtocolVersion::V5 {
            comp.reason_code = PubCompReasonCode::PacketIdentifierNotFound;
        }
        assert_eq!(peer.received(), vec![Packet::PubComp(comp)], "{v:?}");
        assert!(peer.events().is_empty());
        assert_eq!(peer.conn.state(), ServerState::Connected);
    }
}

// ---- client -> server: manual acknowledgement ----

/// [MQTT-4.3.2-4] with manual acknowledgement: the message carries a handle and no
/// PUBACK goes out until the broker calls `ack` with it; a repeat before that is neither
/// delivered nor answered.
#[test]
fn mqtt_4_3_2_4_manual_ack_qos1_puback_only_after_ack() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(manual_acks(), v);
        peer.send(publish("a", b"x", QosPid::AtLeastOnce(pid(5))));
        let m = one_message(&mut peer);
        let id = m.id.expect("manual acknowledgement gives a handle");
        assert_eq!(peer.received(), vec![], "{v:?}: PUBACK before ack");
        peer.send(dup(publish("a", b"x", QosPid::AtLeastOnce(pid(5)))));
        assert!(peer.events().is_empty(), "{v:?}: repeat delivered again");
        assert_eq!(peer.received(), vec![]);
        peer.conn.ack(peer.now, id).unwrap();
        assert_eq!(peer.received(), vec![puback(5)], "{v:?}");
    }
}

/// [MQTT-4.3.3-8] with manual acknowledgement: no PUBREC until `ack`; a repeat before
/// it is not delivered again; after it the usual PUBREL / PUBCOMP exchange.
#[test]
fn mqtt_4_3_3_8_manual_ack_qos2_pubrec_only_after_ack() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(manual_acks(), v);
        peer.send(publish("a", b"x", QosPid::ExactlyOnce(pid(6))));
        let id = one_message(&mut peer).id.expect("handle");
        assert_eq!(peer.received(), vec![], "{v:?}: PUBREC before ack");
        peer.send(dup(publish("a", b"x", QosPid::ExactlyOnce(pid(6)))));
        assert!(peer.events().is_empty(), "{v:?}: repeat delivered again");
        assert_eq!(peer.received(), vec![]);
        peer.conn.ack(peer.now, id).unwrap();
        assert_eq!(peer.received(), vec![pubrec(6)], "{v:?}");
        // [MQTT-4.3.3-10] still: a repeat now gets PUBREC.
        peer.send(dup(publish("a", b"x", QosPid::ExactlyOnce(pid(6)))));
        assert_eq!(peer.received(), vec![pubrec(6)]);
        assert!(peer.events().is_empty());
        peer.send(PubRel::new(pid(6)));
        assert_eq!(peer.received(), vec![pubcomp(6)]);
    }
}

/// A handle acknowledges once: the second `ack` is refused and sends nothing.
#[test]
fn manual_ack_twice_is_an_error() {
    for v in BOTH {
        for qos_pid in [QosPid::AtLeastOnce(pid(8)), QosPid::ExactlyOnce(pid(8))] {
            let mut peer = ClientPeer::connected(manual_acks(), v);
            peer.send(publish("a", b"x", qos_pid));
            let id = one_message(&mut peer).id.expect("handle");
            peer.conn.ack(peer.now, id).unwrap();
            assert_eq!(peer.received().len(), 1);
            assert_eq!(
                peer.conn.ack(peer.now, id),
                Err(ServerError::UnknownMessage),
                "{v:?} {qos_pid:?}"
            );
            assert_eq!(peer.received(), vec![]);
        }
    }
}

/// A handle of an earlier connection of the session is stale: `ack` refuses it on the
/// new connection and on the old one, and sends nothing. The client's re-sent PUBLISH
/// ([MQTT-4.4.0-1]) is delivered again with a fresh handle.
#[test]
fn manual_ack_of_an_earlier_connection_is_stale() {
    for v in BOTH {
        let mut old = persistent(manual_acks(), v);
        old.send(publish("a", b"x", QosPid::AtLeastOnce(pid(2))));
        let stale = one_message(&mut old).id.expect("handle");
        old.conn.handle_transport_close(old.now);
        old.events();
        let (mut peer, rest) = reconnect(&mut old, manual_acks(), |_| {});
        assert_eq!(rest, vec![]);
        assert_eq!(
            peer.conn.ack(peer.now, stale),
            Err(ServerError::Stale),
            "{v:?}"
        );
        assert_eq!(
            old.conn.ack(old.now, stale),
            Err(ServerError::Stale),
            "{v:?}"
        );
        assert_eq!(peer.received(), vec![]);
        peer.send(dup(publish("a", b"x", QosPid::AtLeastOnce(pid(2)))));
        let fresh = one_message(&mut peer).id.expect("handle");
        peer.conn.ack(peer.now, fresh).unwrap();
        assert_eq!(peer.received(), vec![puback(2)], "{v:?}");
    }
}

/// [MQTT-4.3.3-8] across a reconnection with manual acknowledgement: a QoS 2 message the
/// broker never acknowledged (its handle is now stale) is re-sent by the client
/// ([MQTT-4.4.0-1]); the new connection hands it to the broker again with a fresh handle,
/// else it could never be acknowledged.
#[test]
fn mqtt_4_3_3_8_manual_ack_qos2_unacknowledged_before_reconnect_is_delivered_again() {
    for v in BOTH {
        let mut old = persistent(manual_acks(), v);
        old.send(publish("a", b"x", QosPid::ExactlyOnce(pid(2))));
        let stale = one_message(&mut old).id.expect("handle");
        old.conn.handle_transport_close(old.now);
        old.events();
        let (mut peer, rest) = reconnect(&mut old, manual_acks(), |_| {});
        assert_eq!(rest, vec![]);
        assert_eq!(peer.conn.ack(peer.now, stale), Err(ServerError::Stale));
        peer.send(dup(publish("a", b"x", QosPid::ExactlyOnce(pid(2)))));
        let events = peer.events();
        let fresh = match events.as_slice() {
            [ServerEvent::Message(m)] => m.id.expect("handle"),
            other => panic!("{v:?}: the re-sent message was not delivered: {other:?}"),
        };
        peer.conn.ack(peer.now, fresh).unwrap();
        assert_eq!(peer.received(), vec![pubrec(2)], "{v:?}");
        peer.send(PubRel::new(pid(2)));
        assert_eq!(peer.received(), vec![pubcomp(2)]);
    }
}

// ---- client -> server: limits the server stated ----

/// 5.0 section 3.3.4: one QoS 1/2 PUBLISH more than the Receive Maximum the server sent
/// in CONNACK is DISCONNECT 0x93. The client broke [MQTT-3.3.4-7], which binds the
/// client; the server enforces it (the check in src/server/inbound.rs cites it).
/// Unacknowledged QoS 1 (manual acks) and unreleased QoS 2 both count.
#[test]
fn mqtt_3_3_4_7_receive_maximum_exceeded_is_disconnect_0x93() {
    let mut config = manual_acks();
    config.receive_maximum = 2;
    let (mut peer, connack) = connected_with(config, ProtocolVersion::V5, |_| {});
    assert_eq!(connack.properties.receive_maximum, NonZeroU16::new(2));
    peer.send(publish("a", b"1", QosPid::AtLeastOnce(pid(1))));
    peer.send(publish("a", b"2", QosPid::ExactlyOnce(pid(2))));
    assert_eq!(peer.events().len(), 2);
    assert_eq!(peer.received(), vec![]);
    peer.send(publish("a", b"3", QosPid::AtLeastOnce(pid(3))));
    assert_violation(&mut peer, DisconnectReasonCode::ReceiveMaximumExceeded);
}

/// The Receive Maximum counts messages not yet acknowledged: once the broker acked one
/// (QoS 1) or the client released one (QoS 2, PUBREL), another fits.
#[test]
fn mqtt_3_3_4_7_receive_maximum_counts_only_unacknowledged_messages() {
    let mut config = manual_acks();
    config.receive_maximum = 2;
    let (mut peer, _) = connected_with(config, ProtocolVersion::V5, |_| {});
    peer.send(publish("a", b"1", QosPid::AtLeastOnce(pid(1))));
    peer.send(publish("a", b"2", QosPid::ExactlyOnce(pid(2))));
    let ids: Vec<InboundId> = peer
        .events()
        .into_iter()
        .map(|e| match e {
            ServerEvent::Message(m) => m.id.unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    peer.conn.ack(peer.now, ids[0]).unwrap();
    peer.send(publish("a", b"3", QosPid::AtLeastOnce(pid(3))));
    assert_eq!(peer.events().len(), 1, "third message within the maximum");
    // QoS 2: acknowledged by the broker (PUBREC) but not yet released: still counts.
    peer.conn.ack(peer.now, ids[1]).unwrap();
    assert_eq!(peer.received(), vec![puback(1), pubrec(2)]);
    peer.send(PubRel::new(pid(2)));
    assert_eq!(peer.received(), vec![pubcomp(2)]);
    peer.send(publish("a", b"4", QosPid::ExactlyOnce(pid(4))));
    assert_eq!(peer.events().len(), 1);
    assert_eq!(peer.conn.state(), ServerState::Connected);
    peer.send(publish("a", b"5", QosPid::ExactlyOnce(pid(5))));
    assert_violation(&mut peer, DisconnectReasonCode::ReceiveMaximumExceeded);
}

/// With automatic acknowledgement QoS 2 messages count until PUBREL (the client's quota
/// comes back with PUBCOMP): the Receive Maximum is enforced without manual acks too.
#[test]
fn mqtt_3_3_4_7_receive_maximum_counts_unreleased_qos2_with_automatic_acks() {
    let mut config = ServerConfig::default();
    config.receive_maximum = 1;
    let (mut peer, _) = connected_with(config, ProtocolVersion::V5, |_| {});
    peer.send(publish("a", b"1", QosPid::ExactlyOnce(pid(1))));
    one_message(&mut peer);
    assert_eq!(peer.received(), vec![pubrec(1)]);
    peer.send(PubRel::new(pid(1)));
    assert_eq!(peer.received(), vec![pubcomp(1)]);
    // QoS 1 is acknowledged at once: each frees its slot.
    for id in [7, 8] {
        peer.send(publish("a", b"q1", QosPid::AtLeastOnce(pid(id))));
        one_message(&mut peer);
        assert_eq!(peer.received(), vec![puback(id)]);
    }
    peer.send(publish("a", b"2", QosPid::ExactlyOnce(pid(2))));
    one_message(&mut peer);
    assert_eq!(peer.received(), vec![pubrec(2)]);
    // Received, not yet released: a QoS 1 now is one too many.
    peer.send(publish("a", b"q1", QosPid::AtLeastOnce(pid(9))));
    assert_violation(&mut peer, DisconnectReasonCode::ReceiveMaximumExceeded);
}

/// 5.0 section 3.2.2.3.4 (the client broke [MQTT-3.2.2-11]): with Maximum QoS 1 in
/// CONNACK, a QoS 2 PUBLISH is DISCONNECT 0x9B (QoS not supported).
#[test]
fn mqtt_3_2_2_11_qos2_publish_above_maximum_qos_is_disconnect_0x9b() {
    let mut config = ServerConfig::default();
    config.maximum_qos = QoS::AtLeastOnce;
    let (mut peer, connack) = connected_with(config, ProtocolVersion::V5, |_| {});
    assert_eq!(connack.properties.maximum_qos, Some(QoS::AtLeastOnce));
    peer.send(publish("a", b"1", QosPid::AtLeastOnce(pid(1))));
    one_message(&mut peer);
    assert_eq!(peer.received(), vec![puback(1)]);
    peer.send(publish("a", b"2", QosPid::ExactlyOnce(pid(2))));
    assert_violation(&mut peer, DisconnectReasonCode::QoSNotSupported);
}

/// 5.0 section 3.2.2.3.5 (the client broke [MQTT-3.2.2-14]): with Retain Available 0, a
/// retained PUBLISH is DISCONNECT 0x9A (Retain not supported).
#[test]
fn mqtt_3_2_2_14_retained_publish_without_retain_available_is_disconnect_0x9a() {
    let mut config = ServerConfig::default();
    config.retain_available = false;
    let (mut peer, connack) = connected_with(config, ProtocolVersion::V5, |_| {});
    assert_eq!(connack.properties.retain_available, Some(false));
    peer.send(publish("a", b"plain", QosPid::AtMostOnce));
    one_message(&mut peer);
    peer.send(pub_with("a", b"kept", QosPid::AtMostOnce, |p| {
        p.retain = true
    }));
    assert_violation(&mut peer, DisconnectReasonCode::RetainNotSupported);
}

// ---- client -> server: Topic Aliases ----

/// [MQTT-3.3.2-12]: an alias from 1 to the Topic Alias Maximum of CONNACK is accepted;
/// a PUBLISH with topic and alias sets it, one with an empty topic resolves it, and the
/// broker sees the full topic without the alias property. Setting it again rebinds it.
#[test]
fn mqtt_3_3_2_12_alias_within_maximum_sets_and_resolves() {
    let mut config = ServerConfig::default();
    config.topic_alias_maximum = 5;
    let (mut peer, connack) = connected_with(config, ProtocolVersion::V5, |_| {});
    assert_eq!(connack.properties.topic_alias_maximum, Some(5));
    let with_alias = |t: &str, payload: &'static [u8], alias: u16| {
        let topic_name = if t.is_empty() {
            TopicName::empty()
        } else {
            topic(t)
        };
        let mut p = Publish::new(topic_name, Bytes::from_static(payload));
        p.properties.topic_alias = NonZeroU16::new(alias);
        p
    };
    let mut seen = Vec::new();
    for (t, payload, alias) in [
        ("s/1", &b"a"[..], 1),
        ("s/5", b"b", 5),
        ("", b"c", 1),
        ("", b"d", 5),
        ("s/other", b"e", 1),
        ("", b"f", 1),
    ] {
        peer.send(with_alias(t, payload, alias));
        let m = one_message(&mut peer).message;
        assert_eq!(m.properties.topic_alias, None, "alias left in the message");
        seen.push((m.topic.as_str().to_owned(), m.payload));
    }
    let expected: Vec<(String, Bytes)> = [
        ("s/1", "a"),
        ("s/5", "b"),
        ("s/1", "c"),
        ("s/5", "d"),
        ("s/other", "e"),
        ("s/other", "f"),
    ]
    .iter()
    .map(|(t, p)| (t.to_string(), Bytes::from(p.as_bytes().to_vec())))
    .collect();
    assert_eq!(seen, expected);
    assert_eq!(peer.received(), vec![]);
    assert_eq!(peer.conn.state(), ServerState::Connected);
}

/// 5.0 section 3.3.2.3.4: an alias above the Topic Alias Maximum of CONNACK (0 when the
/// server stated none) is DISCONNECT 0x94 (Topic Alias invalid). The client broke
/// [MQTT-3.3.2-9] ([MQTT-3.2.2-18] when the server stated none); the server accepts only
/// the range of [MQTT-3.3.2-12].
#[test]
fn mqtt_3_3_2_9_alias_above_maximum_is_disconnect_0x94() {
    for (maximum, alias) in [(5u16, 6u16), (0, 1)] {
        let mut config = ServerConfig::default();
        config.topic_alias_maximum = maximum;
        let (mut peer, _) = connected_with(config, ProtocolVersion::V5, |_| {});
        peer.send(pub_with("a", b"x", QosPid::AtMostOnce, |p| {
            p.properties.topic_alias = NonZeroU16::new(alias)
        }));
        assert_violation(&mut peer, DisconnectReasonCode::TopicAliasInvalid);
    }
}

/// 5.0 section 3.3.2.3.4: an empty Topic Name with an alias this connection never set is
/// a Protocol Error, DISCONNECT 0x82.
#[test]
fn v5_section_3_3_2_3_4_empty_topic_with_unset_alias_is_disconnect_0x82() {
    let mut config = ServerConfig::default();
    config.topic_alias_maximum = 5;
    let (mut peer, _) = connected_with(config, ProtocolVersion::V5, |_| {});
    peer.send(pub_with("a", b"x", QosPid::AtMostOnce, |p| {
        p.properties.topic_alias = NonZeroU16::new(1)
    }));
    one_message(&mut peer);
    let mut p = Publish::new(TopicName::empty(), Bytes::from_static(b"y"));
    p.properties.topic_alias = NonZeroU16::new(2);
    peer.send(p);
    assert_violation(&mut peer, DisconnectReasonCode::ProtocolError);
}

/// [MQTT-3.3.2-7]: aliases do not carry over to a new network connection, even one that
/// continues the session: the alias set before is unknown after, DISCONNECT 0x82.
#[test]
fn mqtt_3_3_2_7_aliases_do_not_carry_over_to_a_new_connection() {
    let mut config = ServerConfig::default();
    config.topic_alias_maximum = 5;
    let mut old = persistent(config.clone(), ProtocolVersion::V5);
    old.send(pub_with("a/b", b"x", QosPid::AtMostOnce, |p| {
        p.properties.topic_alias = NonZeroU16::new(1)
    }));
    one_message(&mut old);
    let mut again = Publish::new(TopicName::empty(), Bytes::from_static(b"y"));
    again.properties.topic_alias = NonZeroU16::new(1);
    old.send(again.clone());
    assert_eq!(one_message(&mut old).message.topic.as_str(), "a/b");
    old.conn.handle_transport_close(old.now);
    old.events();
    let (mut peer, rest) = reconnect(&mut old, config, |_| {});
    assert_eq!(rest, vec![]);
    peer.send(again);
    assert_violation(&mut peer, DisconnectReasonCode::ProtocolError);
}

// ---- server -> client ----

/// [MQTT-2.2.1-4] (3.1.1: [MQTT-2.3.1-4]): every QoS 1/2 message gets a non-zero
/// identifier that no message in flight holds; [MQTT-3.3.1-3]: DUP 0 on the first
/// transmission, whatever the broker's message said.
#[test]
fn mqtt_2_2_1_4_packet_ids_nonzero_and_unused_and_mqtt_3_3_1_3_dup_0() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        for (i, qos) in [QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::AtLeastOnce]
            .into_iter()
            .enumerate()
        {
            let mut m = message("t", b"x", qos);
            m.dup = true;
            m.payload = Bytes::from(vec![i as u8]);
            send_to_client(&mut peer, m);
        }
        let sent = publishes(&peer.received());
        assert_eq!(sent.len(), 3, "{v:?}");
        let ids: Vec<u16> = sent.iter().map(|p| p.packet_id().unwrap().get()).collect();
        assert!(sent.iter().all(|p| !p.dup), "{v:?}: DUP copied: {sent:?}");
        assert_eq!(sent[1].qos(), QoS::ExactlyOnce);
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 3, "{v:?}: identifier reused: {ids:?}");
        // Complete the middle one; the next message must not take an identifier still
        // in flight.
        peer.send(PubRec::new(pid(ids[1])));
        peer.send(PubComp::new(pid(ids[1])));
        assert_eq!(peer.received(), vec![pubrel(ids[1])]);
        send_to_client(&mut peer, message("t", b"y", QoS::AtLeastOnce));
        let next = one_publish(&mut peer).packet_id().unwrap().get();
        assert!(
            next != ids[0] && next != ids[2],
            "{v:?}: {next} is in flight"
        );
        assert!(
            !peer
                .received()
                .iter()
                .any(|p| matches!(p, Packet::Publish(_)))
        );
    }
}

/// [MQTT-2.2.1-4] across the wrap of the 16-bit counter: an identifier in flight is
/// skipped, 0 is never used.
#[test]
fn mqtt_2_2_1_4_packet_ids_skip_the_one_in_flight_when_wrapping() {
    let mut peer = ClientPeer::connected(ServerConfig::default(), ProtocolVersion::V5);
    send_to_client(&mut peer, message("keep", b"k", QoS::AtLeastOnce));
    let kept = one_publish(&mut peer).packet_id().unwrap();
    let mut seen = 0u32;
    for _ in 0..70_000u32 {
        send_to_client(&mut peer, message("t", b"x", QoS::AtLeastOnce));
        let id = one_publish(&mut peer).packet_id().unwrap();
        assert_ne!(id, kept, "identifier in flight reused");
        peer.send(PubAck::new(id));
        seen += 1;
    }
    assert_eq!(seen, 70_000);
    assert_eq!(peer.conn.session().unwrap().in_flight(), 1);
}

/// [MQTT-4.3.2-3] (3.1.1: [MQTT-4.3.2-1]): a QoS 1 message stays in flight until its
/// PUBACK, which completes it; a PUBACK for another identifier does not.
#[test]
fn mqtt_4_3_2_3_puback_completes_a_qos1_message() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        send_to_client(&mut peer, message("t", b"x", QoS::AtLeastOnce));
        let p = one_publish(&mut peer);
        assert_eq!(p.qos(), QoS::AtLeastOnce);
        let id = p.packet_id().unwrap();
        let other = pid(if id.get() == 1 { 2 } else { 1 });
        peer.send(PubAck::new(other));
        assert_eq!(peer.conn.session().unwrap().in_flight(), 1, "{v:?}");
        peer.send(PubAck::new(id));
        assert_eq!(peer.conn.session().unwrap().in_flight(), 0, "{v:?}");
        assert_eq!(peer.received(), vec![]);
        assert!(peer.events().is_empty());
    }
}

/// [MQTT-4.3.3-4] (3.1.1: [MQTT-4.3.3-1]): PUBREC is answered with PUBREL of the same
/// identifier; the message stays in flight until PUBCOMP ([MQTT-4.3.3-5]).
#[test]
fn mqtt_4_3_3_4_pubrec_answered_with_pubrel_and_pubcomp_completes() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        send_to_client(&mut peer, message("t", b"x", QoS::ExactlyOnce));
        let p = one_publish(&mut peer);
        assert_eq!(p.qos(), QoS::ExactlyOnce);
        assert!(!p.dup);
        let id = p.packet_id().unwrap();
        peer.send(PubRec::new(id));
        assert_eq!(peer.received(), vec![pubrel(id.get())], "{v:?}");
        assert_eq!(peer.conn.session().unwrap().in_flight(), 1);
        // A PUBACK does not complete a QoS 2 message.
        peer.send(PubAck::new(id));
        assert_eq!(peer.conn.session().unwrap().in_flight(), 1);
        peer.send(PubComp::new(id));
        assert_eq!(peer.conn.session().unwrap().in_flight(), 0, "{v:?}");
        assert_eq!(peer.received(), vec![]);
    }
}

/// [MQTT-4.4.0-2] (5.0): a PUBREC with a reason code of 0x80 or above completes the
/// message: no PUBREL, the identifier is free, the next message may take the slot.
#[test]
fn mqtt_4_4_0_2_pubrec_error_completes_without_pubrel() {
    let mut peer = receive_maximum_1(ServerConfig::default());
    send_to_client(&mut peer, message("t", b"1", QoS::ExactlyOnce));
    send_to_client(&mut peer, message("t", b"2", QoS::ExactlyOnce));
    let first = one_publish(&mut peer);
    let mut rec = PubRec::new(first.packet_id().unwrap());
    rec.reason_code = PubRecReasonCode::NotAuthorized;
    peer.send(rec);
    let second = one_publish(&mut peer);
    assert_eq!(
        &second.payload[..],
        b"2",
        "no PUBREL, the next message instead"
    );
    assert_eq!(peer.conn.session().unwrap().in_flight(), 1);
    assert!(peer.events().is_empty());
}

/// [MQTT-3.3.4-9]: no more QoS 1/2 messages in flight than the client's Receive Maximum
/// (CONNECT property); the rest wait in the session and go out as acknowledgements
/// arrive, in order ([MQTT-4.6.0-6] ordering of the server's messages). QoS 0 is not
/// limited.
#[test]
fn mqtt_3_3_4_9_client_receive_maximum_limits_messages_in_flight() {
    let (mut peer, _) = connected_with(ServerConfig::default(), ProtocolVersion::V5, |c| {
        c.properties.receive_maximum = NonZeroU16::new(2)
    });
    for (i, qos) in [
        QoS::AtLeastOnce,
        QoS::ExactlyOnce,
        QoS::AtLeastOnce,
        QoS::ExactlyOnce,
        QoS::AtLeastOnce,
    ]
    .into_iter()
    .enumerate()
    {
        let mut m = message("t", b"", qos);
        m.payload = Bytes::from(vec![b'0' + i as u8]);
        send_to_client(&mut peer, m);
    }
    let mut got: Vec<Publish> = publishes(&peer.received());
    assert_eq!(got.len(), 2, "only the Receive Maximum in flight");
    assert_eq!(peer.conn.stats().in_flight, 2);
    assert_eq!(peer.conn.stats().queued, 3);
    // QoS 0 goes at once.
    send_to_client(&mut peer, message("t", b"q0", QoS::AtMostOnce));
    assert_eq!(&one_publish(&mut peer).payload[..], b"q0");
    let mut delivered = Vec::new();
    while let Some(p) = got.first().cloned() {
        got.remove(0);
        delivered.push(p.payload.clone());
        let id = p.packet_id().unwrap();
        match p.qos() {
            QoS::AtLeastOnce => peer.send(PubAck::new(id)),
            _ => {
                peer.send(PubRec::new(id));
                assert_eq!(peer.received(), vec![pubrel(id.get())]);
                // Still in flight: nothing new until PUBCOMP.
                peer.send(PubComp::new(id));
            }
        }
        let new = publishes(&peer.received());
        assert!(new.len() <= 1);
        got.extend(new);
        assert!(peer.conn.stats().in_flight <= 2);
    }
    let expected: Vec<Bytes> = (0..5).map(|i| Bytes::from(vec![b'0' + i])).collect();
    assert_eq!(delivered, expected, "order of the queue");
    assert_eq!(peer.conn.stats().in_flight, 0);
    assert_eq!(peer.conn.stats().queued, 0);
}

/// [MQTT-3.3.4-10]: at the client's Receive Maximum, PINGRESP, SUBACK and UNSUBACK still
/// go out at once.
#[test]
fn mqtt_3_3_4_10_receive_maximum_does_not_delay_other_packets() {
    let mut peer = receive_maximum_1(ServerConfig::default());
    for _ in 0..3 {
        send_to_client(&mut peer, message("t", b"x", QoS::AtLeastOnce));
    }
    assert_eq!(publishes(&peer.received()).len(), 1);
    peer.send(Packet::PingReq);
    assert_eq!(peer.received(), vec![Packet::PingResp]);
    peer.send(Subscribe::new(
        pid(40),
        vec![Subscription::new(filter("x/#"), QoS::AtLeastOnce)],
    ));
    let request = match peer.events().pop() {
        Some(ServerEvent::Subscribe(r)) => r,
        other => panic!("{other:?}"),
    };
    let grant = request.grant_all();
    peer.conn
        .answer_subscribe(peer.now, request, &grant)
        .unwrap();
    assert_eq!(
        peer.received(),
        vec![Packet::SubAck(SubAck::new(
            pid(40),
            vec![SubAckReasonCode::GrantedQoS1]
        ))]
    );
    peer.send(Unsubscribe::new(pid(41), vec![filter("x/#")]));
    let request = match peer.events().pop() {
        Some(ServerEvent::Unsubscribe(r)) => r,
        other => panic!("{other:?}"),
    };
    let results = request.remove_existing();
    peer.conn
        .answer_unsubscribe(peer.now, request, &results)
        .unwrap();
    assert_eq!(
        peer.received(),
        vec![Packet::UnsubAck(UnsubAck::new(
            pid(41),
            vec![UnsubAckReasonCode::Success]
        ))]
    );
    assert_eq!(peer.conn.stats().queued, 2);
}

/// [MQTT-3.1.2-24]: nothing larger than the client's Maximum Packet Size goes out;
/// [MQTT-3.1.2-25]: such a message is dropped as if delivered (Dropped{PacketTooLarge},
/// no slot of the Receive Maximum held) and the next message still goes.
#[test]
fn mqtt_3_1_2_24_and_25_message_above_client_maximum_packet_size_is_dropped() {
    let (mut peer, _) = connected_with(ServerConfig::default(), ProtocolVersion::V5, |c| {
        c.properties.maximum_packet_size = NonZeroU32::new(64);
        c.properties.receive_maximum = NonZeroU16::new(1);
    });
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut big = message("big", b"", qos);
        big.payload = Bytes::from(vec![7u8; 100]);
        send_to_client(&mut peer, big);
        assert_eq!(peer.received(), vec![], "{qos:?}: too large for the client");
        assert_eq!(
            dropped(&peer.events()),
            vec![("big".to_owned(), DropReason::PacketTooLarge)],
            "{qos:?}"
        );
        assert_eq!(peer.conn.session().unwrap().in_flight(), 0);
        send_to_client(&mut peer, message("small", b"ok", qos));
        let p = one_publish(&mut peer);
        assert_eq!(&p.payload[..], b"ok");
        if let Some(id) = p.packet_id() {
            peer.send(PubAck::new(id));
            peer.send(PubRec::new(id));
            peer.send(PubComp::new(id));
            peer.received();
        }
    }
    // Exactly at the limit still goes.
    let mut fits = message("f", b"", QoS::AtMostOnce);
    let overhead = {
        let p = Publish::new(topic("f"), Bytes::new());
        Packet::Publish(p).encoded_len(ProtocolVersion::V5)
    };
    fits.payload = Bytes::from(vec![1u8; 64 - overhead]);
    send_to_client(&mut peer, fits);
    assert_eq!(one_publish(&mut peer).payload.len(), 64 - overhead);
}

/// The alias table of the server as the client sees it: resolves what arrives.
fn resolve(aliases: &mut Vec<Option<String>>, p: &Publish) -> String {
    match p.properties.topic_alias {
        None => p.topic.as_str().to_owned(),
        Some(alias) => {
            let index = usize::from(alias.get() - 1);
            if aliases.len() <= index {
                aliases.resize(index + 1, None);
            }
            if !p.topic.is_empty() {
                aliases[index] = Some(p.topic.as_str().to_owned());
            }
            aliases[index]
                .clone()
                .expect("alias used before it was set")
        }
    }
}

/// [MQTT-3.1.2-27]: without a Topic Alias Maximum in CONNECT (or with 0, and always in
/// 3.1.1) the server sends no Topic Alias, even when the broker's message carries one.
#[test]
fn mqtt_3_1_2_27_no_topic_alias_when_client_allows_none() {
    let cases: [(ProtocolVersion, Option<u16>); 3] = [
        (ProtocolVersion::V5, None),
        (ProtocolVersion::V5, Some(0)),
        (ProtocolVersion::V311, None),
    ];
    for (v, maximum) in cases {
        let (mut peer, _) = connected_with(ServerConfig::default(), v, |c| {
            c.properties.topic_alias_maximum = maximum
        });
        for qos in [
            QoS::AtMostOnce,
            QoS::AtLeastOnce,
            QoS::AtMostOnce,
            QoS::AtMostOnce,
        ] {
            send_to_client(&mut peer, message("same/topic", b"x", qos));
        }
        let mut from_broker = message("same/topic", b"x", QoS::AtMostOnce);
        from_broker.properties.topic_alias = NonZeroU16::new(3);
        send_to_client(&mut peer, from_broker);
        let sent = publishes(&peer.received());
        assert_eq!(sent.len(), 5);
        for p in sent {
            assert_eq!(p.properties.topic_alias, None, "{v:?} {maximum:?}");
            assert_eq!(p.topic.as_str(), "same/topic");
        }
    }
}

/// [MQTT-3.1.2-26] / [MQTT-3.3.2-11]: with a Topic Alias Maximum in CONNECT the server
/// may use aliases, never above it, and consistently (the client can resolve every
/// PUBLISH to the right topic). An alias in the broker's message does not leak through.
#[test]
fn mqtt_3_1_2_26_and_3_3_2_11_topic_aliases_never_above_client_maximum() {
    let (mut peer, _) = connected_with(ServerConfig::default(), ProtocolVersion::V5, |c| {
        c.properties.topic_alias_maximum = Some(2)
    });
    let topics = [
        "a/1", "a/2", "a/1", "a/3", "a/1", "a/2", "a/3", "a/3", "a/4", "a/1",
    ];
    for (i, t) in topics.iter().enumerate() {
        let qos = if i % 2 == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        let mut m = message(t, b"x", qos);
        if i == 3 {
            m.properties.topic_alias = NonZeroU16::new(9);
        }
        send_to_client(&mut peer, m);
    }
    let sent = publishes(&peer.received());
    assert_eq!(sent.len(), topics.len());
    let mut table = Vec::new();
    let mut used_alias = false;
    for (p, t) in sent.iter().zip(topics) {
        if let Some(alias) = p.properties.topic_alias {
            assert!(
                alias.get() <= 2,
                "alias {alias} above the client's maximum 2"
            );
            used_alias = true;
        }
        assert_eq!(resolve(&mut table, p), t);
    }
    assert!(
        used_alias,
        "the server never used an alias the client allowed"
    );
}

/// [MQTT-3.3.2-5]: a message whose Message Expiry Interval passed while it waited
/// (behind the client's Receive Maximum, or for the client to come back) is not sent:
/// Dropped{Expired}; the one behind it still goes.
#[test]
fn mqtt_3_3_2_5_message_expired_while_queued_is_dropped() {
    let mut peer = receive_maximum_1(ServerConfig::default());
    send_to_client(&mut peer, message("first", b"1", QoS::AtLeastOnce));
    send_to_client(&mut peer, expiring("short", b"2", QoS::AtLeastOnce, 5));
    send_to_client(&mut peer, message("last", b"3", QoS::AtLeastOnce));
    let first = one_publish(&mut peer);
    peer.advance(Duration::from_secs(6));
    peer.send(PubAck::new(first.packet_id().unwrap()));
    assert_eq!(
        dropped(&peer.events()),
        vec![("short".to_owned(), DropReason::Expired)]
    );
    assert_eq!(one_publish(&mut peer).topic.as_str(), "last");

    // Offline: queued for a client that comes back too late.
    let mut old = persistent(ServerConfig::default(), ProtocolVersion::V5);
    old.conn.handle_transport_close(old.now);
    old.events();
    send_to_client(&mut old, expiring("gone", b"x", QoS::ExactlyOnce, 10));
    send_to_client(&mut old, expiring("kept", b"y", QoS::AtLeastOnce, 100));
    old.now = old.now + Duration::from_secs(10);
    let (mut peer, rest) = reconnect(&mut old, ServerConfig::default(), |_| {});
    assert_eq!(
        dropped(&peer.events()),
        vec![("gone".to_owned(), DropReason::Expired)]
    );
    let [Packet::Publish(kept)] = rest.as_slice() else {
        panic!("expected one PUBLISH, got {rest:?}")
    };
    assert_eq!(kept.topic.as_str(), "kept");
    assert_eq!(kept.properties.message_expiry_interval, Some(90));
}

/// [MQTT-3.3.2-6]: a message sent after waiting carries its Message Expiry Interval less
/// the time it waited; one sent at once carries it unchanged.
#[test]
fn mqtt_3_3_2_6_expiry_interval_reduced_by_time_waited() {
    let mut peer = receive_maximum_1(ServerConfig::default());
    send_to_client(&mut peer, expiring("t", b"1", QoS::AtLeastOnce, 30));
    send_to_client(&mut peer, expiring("t", b"2", QoS::ExactlyOnce, 30));
    let first = one_publish(&mut peer);
    assert_eq!(first.properties.message_expiry_interval, Some(30));
    peer.advance(Duration::from_secs(12));
    peer.send(PubAck::new(first.packet_id().unwrap()));
    let second = one_publish(&mut peer);
    assert_eq!(&second.payload[..], b"2");
    assert_eq!(second.properties.message_expiry_interval, Some(18));
    assert!(peer.events().is_empty());
}

fn user_properties(pairs: &[(&'static str, &'static str)]) -> UserProperties {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                MqttString::from_static(k).unwrap(),
                MqttString::from_static(v).unwrap(),
            )
        })
        .collect()
}

/// [MQTT-3.3.2-4], [MQTT-3.3.2-15], [MQTT-3.3.2-16], [MQTT-3.3.2-17], [MQTT-3.3.2-18],
/// [MQTT-3.3.2-20]: Payload Format Indicator, Response Topic, Correlation Data, User
/// Properties (in order, repeated names kept) and Content Type reach the broker from the
/// publisher unchanged and reach the subscriber unchanged.
#[test]
fn mqtt_3_3_2_4_15_16_17_18_20_properties_passed_on_unchanged() {
    let props = {
        let mut p = PublishProperties::new();
        p.payload_format_indicator = Some(PayloadFormat::Utf8);
        p.content_type = Some(MqttString::from_static("text/plain; charset=utf-8").unwrap());
        p.response_topic = Some(topic("reply/here"));
        p.correlation_data = Some(Bytes::from_static(b"\x00\x01corr"));
        p.user_properties = user_properties(&[("b", "1"), ("a", "2"), ("b", "3"), ("", "")]);
        p
    };
    let mut publisher = ClientPeer::connected(ServerConfig::default(), ProtocolVersion::V5);
    publisher.send(pub_with(
        "in/x",
        b"payload",
        QosPid::AtLeastOnce(pid(1)),
        |p| p.properties = PropertyBox::from(props.clone()),
    ));
    let m = one_message(&mut publisher).message;
    assert_eq!(*m.properties, props, "changed on the way in");
    let mut subscriber = ClientPeer::connected(ServerConfig::default(), ProtocolVersion::V5);
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut forwarded = m.clone();
        forwarded.qos = qos;
        subscriber.conn.publish(subscriber.now, forwarded).unwrap();
        let p = one_publish(&mut subscriber);
        assert_eq!(*p.properties, props, "changed on the way out ({qos:?})");
        assert_eq!(
            p.properties.user_properties.to_vec(),
            props.user_properties.to_vec()
        );
        assert_eq!(&p.payload[..], b"payload");
    }
}

/// A QoS 0 message for a client that is not connected is dropped (Dropped{Offline});
/// QoS 1/2 messages wait in the session and go out when it comes back.
#[test]
fn qos0_for_an_offline_client_is_dropped() {
    for v in BOTH {
        let mut old = persistent(ServerConfig::default(), v);
        old.conn.handle_transport_close(old.now);
        old.events();
        assert_eq!(
            old.conn
                .publish(old.now, message("q0", b"x", QoS::AtMostOnce)),
            Ok(())
        );
        assert_eq!(
            dropped(&old.events()),
            vec![("q0".to_owned(), DropReason::Offline)],
            "{v:?}"
        );
        send_to_client(&mut old, message("q1", b"y", QoS::AtLeastOnce));
        assert!(old.events().is_empty());
        assert_eq!(old.received_raw(), Vec::<u8>::new());
        let (_, rest) = reconnect(&mut old, ServerConfig::default(), |_| {});
        let [Packet::Publish(p)] = rest.as_slice() else {
            panic!("{v:?}: expected one PUBLISH, got {rest:?}")
        };
        assert_eq!(p.topic.as_str(), "q1", "{v:?}");
        assert!(!p.dup);
    }
}

/// The session holds at most `max_queued_messages` waiting messages: one more is refused
/// with Err(QueueFull) and Dropped{QueueFull}; those queued still go out.
#[test]
fn queue_bound_refuses_with_queue_full() {
    for v in BOTH {
        let mut config = ServerConfig::default();
        config.max_queued_messages = 2;
        let mut old = persistent(config.clone(), v);
        old.conn.handle_transport_close(old.now);
        old.events();
        for t in ["m1", "m2"] {
            send_to_client(&mut old, message(t, b"x", QoS::AtLeastOnce));
        }
        assert_eq!(
            old.conn
                .publish(old.now, message("m3", b"x", QoS::ExactlyOnce)),
            Err(ServerError::QueueFull),
            "{v:?}"
        );
        assert_eq!(
            dropped(&old.events()),
            vec![("m3".to_owned(), DropReason::QueueFull)]
        );
        let (_, rest) = reconnect(&mut old, config, |_| {});
        let topics: Vec<String> = publishes(&rest)
            .iter()
            .map(|p| p.topic.as_str().to_owned())
            .collect();
        assert_eq!(topics, ["m1", "m2"], "{v:?}");
    }
}

/// Also while connected: behind the client's Receive Maximum the queue is bounded.
#[test]
fn queue_bound_applies_behind_the_client_receive_maximum() {
    let mut config = ServerConfig::default();
    config.max_queued_messages = 1;
    let mut peer = receive_maximum_1(config);
    send_to_client(&mut peer, message("a", b"", QoS::AtLeastOnce));
    send_to_client(&mut peer, message("b", b"", QoS::AtLeastOnce));
    assert_eq!(
        peer.conn
            .publish(peer.now, message("c", b"", QoS::AtLeastOnce)),
        Err(ServerError::QueueFull)
    );
    assert_eq!(
        dropped(&peer.events()),
        vec![("c".to_owned(), DropReason::QueueFull)]
    );
    assert_eq!(publishes(&peer.received()).len(), 1);
}
