//! Client conformance: normative statements binding the client (or both sides) that the
//! other client test files do not show, each test named after or documented with the
//! statement it checks.

mod peer;
use peer::*;

use bytes::Bytes;
use mqtt_sansio::*;
use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;
const PINGREQ: [u8; 2] = [0xC0, 0x00];
const PINGRESP: [u8; 2] = [0xD0, 0x00];

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `bytes` with its two-byte length prefix.
fn prefixed(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A packet built by hand: `first` byte, Remaining Length (one byte), `body`.
fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    assert!(body.len() < 128, "one-byte remaining length only");
    let mut out = vec![first, body.len() as u8];
    out.extend_from_slice(body);
    out
}

/// The start of a CONNECT variable header up to the flags: protocol name and level.
fn connect_head(version: ProtocolVersion) -> Vec<u8> {
    let mut head = prefixed(b"MQTT");
    head.push(if version.is_v5() { 5 } else { 4 });
    head
}

/// Opens a transport and returns the bytes of the CONNECT the client wrote.
fn connect_bytes(p: &mut Peer) -> Vec<u8> {
    p.client.handle_transport_open(p.now).unwrap();
    p.sent_bytes()
}

/// A client asking to keep its session (5.0: for an hour), connected without one.
fn persistent(version: ProtocolVersion) -> Peer {
    Peer::connected_with(version, |c| {
        c.clean_start = false;
        c.session_expiry_interval = 3600;
    })
}

/// The one packet the client wrote since the last call.
fn one_sent(p: &mut Peer) -> Packet {
    let sent = p.sent();
    match <[Packet; 1]>::try_from(sent) {
        Ok([packet]) => packet,
        Err(sent) => panic!("expected one packet, got {sent:?}"),
    }
}

// ---- CONNECT ----

/// [MQTT-3.1.3-1]: the payload fields present come in the order Client Identifier,
/// Will Properties (5.0), Will Topic, Will Payload, User Name, Password; with the
/// ClientId first ([MQTT-3.1.3-3]). User Name Flag 1 and Password Flag 1 put those
/// fields in the payload: [MQTT-3.1.2-19], [MQTT-3.1.2-21] (3.1.1);
/// [MQTT-3.1.2-17], [MQTT-3.1.2-19] (5.0).
#[test]
fn mqtt_3_1_3_1_connect_payload_fields_in_order_byte_exact() {
    for version in VERSIONS {
        let mut will = Will::new(topic("w/t"), Bytes::from_static(b"bye"));
        will.qos = QoS::AtLeastOnce;
        if version.is_v5() {
            will.properties.will_delay_interval = Some(5);
        }
        let mut p = Peer::configured(version, |c| {
            c.client_id = s("cid");
            c.keep_alive = 10;
            c.username = Some(s("user"));
            c.password = Some(Bytes::from_static(b"pw"));
            c.will = Some(will);
        });
        let mut body = connect_head(version);
        // User Name, Password, Will QoS 1, Will, Clean Start.
        body.push(0x80 | 0x40 | 0x08 | 0x04 | 0x02);
        body.extend([0x00, 0x0A]);
        if version.is_v5() {
            body.push(0x00); // no CONNECT properties
        }
        body.extend(prefixed(b"cid"));
        if version.is_v5() {
            // Will Properties: Will Delay Interval 5.
            body.extend([0x05, 0x18, 0x00, 0x00, 0x00, 0x05]);
        }
        body.extend(prefixed(b"w/t"));
        body.extend(prefixed(b"bye"));
        body.extend(prefixed(b"user"));
        body.extend(prefixed(b"pw"));
        assert_eq!(connect_bytes(&mut p), packet(0x10, &body), "{version}");
    }
}

/// 3.1.1, the flags of what is left out. No Will: Will Flag, Will QoS and Will Retain
/// 0 and no Will fields ([MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15]). User
/// Name Flag 0 and Password Flag 0 leave those fields out ([MQTT-3.1.2-18],
/// [MQTT-3.1.2-20]); a user name without a password sets only its own flag and field
/// ([MQTT-3.1.2-19], [MQTT-3.1.2-20]).
#[test]
fn v311_connect_flags_clear_leave_their_fields_out() {
    let mut p = Peer::configured(V311, |c| c.client_id = s("cid"));
    let mut body = connect_head(V311);
    body.extend([0x02, 0x00, 0x3C]);
    body.extend(prefixed(b"cid"));
    assert_eq!(connect_bytes(&mut p), packet(0x10, &body));

    let mut p = Peer::configured(V311, |c| {
        c.client_id = s("cid");
        c.username = Some(s("user"));
    });
    let mut body = connect_head(V311);
    body.extend([0x82, 0x00, 0x3C]);
    body.extend(prefixed(b"cid"));
    body.extend(prefixed(b"user"));
    assert_eq!(connect_bytes(&mut p), packet(0x10, &body));

    // A QoS 0 Will that is not retained: only the Will Flag.
    let mut p = Peer::configured(V311, |c| {
        c.client_id = s("cid");
        c.will = Some(Will::new(topic("w"), Bytes::from_static(b"x")));
    });
    let mut body = connect_head(V311);
    body.extend([0x06, 0x00, 0x3C]);
    body.extend(prefixed(b"cid"));
    body.extend(prefixed(b"w"));
    body.extend(prefixed(b"x"));
    assert_eq!(connect_bytes(&mut p), packet(0x10, &body));
}

/// 5.0, the flags of what is left out. No Will: Will QoS 0 ([MQTT-3.1.2-11]) and
/// Will Retain 0 ([MQTT-3.1.2-13]). User Name Flag 0: no User Name
/// ([MQTT-3.1.2-16]); Password Flag 0: no Password ([MQTT-3.1.2-18]). A password
/// alone, which 5.0 allows, sets only its flag and field ([MQTT-3.1.2-19]); a user
/// name alone only its own ([MQTT-3.1.2-17]).
#[test]
fn v5_connect_flags_clear_leave_their_fields_out() {
    let mut p = Peer::configured(V5, |c| c.client_id = s("cid"));
    let mut body = connect_head(V5);
    body.extend([0x02, 0x00, 0x3C, 0x00]);
    body.extend(prefixed(b"cid"));
    assert_eq!(connect_bytes(&mut p), packet(0x10, &body));

    let mut p = Peer::configured(V5, |c| {
        c.client_id = s("cid");
        c.password = Some(Bytes::from_static(b"pw"));
    });
    let mut body = connect_head(V5);
    body.extend([0x42, 0x00, 0x3C, 0x00]);
    body.extend(prefixed(b"cid"));
    body.extend(prefixed(b"pw"));
    assert_eq!(connect_bytes(&mut p), packet(0x10, &body));

    let mut p = Peer::configured(V5, |c| {
        c.client_id = s("cid");
        c.username = Some(s("user"));
    });
    let mut body = connect_head(V5);
    body.extend([0x82, 0x00, 0x3C, 0x00]);
    body.extend(prefixed(b"cid"));
    body.extend(prefixed(b"user"));
    assert_eq!(connect_bytes(&mut p), packet(0x10, &body));
}

/// [MQTT-2.2.2-1]: a packet without properties still carries a Property Length of 0,
/// at its place: CONNECT, PUBLISH, SUBSCRIBE and UNSUBSCRIBE as the client writes them.
#[test]
fn v5_mqtt_2_2_2_1_property_length_0_when_there_are_no_properties() {
    let mut p = Peer::configured(V5, |c| c.client_id = s("c"));
    let mut body = connect_head(V5);
    body.extend([0x02, 0x00, 0x3C]);
    body.push(0x00); // Property Length
    body.extend(prefixed(b"c"));
    assert_eq!(connect_bytes(&mut p), packet(0x10, &body));
    p.send(connack(false));
    p.events();

    p.publish(message("t", b"x", QoS::AtLeastOnce));
    let mut body = prefixed(b"t");
    body.extend([0x00, 0x01, 0x00]); // identifier 1, Property Length 0
    body.push(b'x');
    assert_eq!(p.sent_bytes(), packet(0x32, &body));

    p.subscribe(vec![subscription("f", QoS::AtMostOnce)]);
    let mut body = vec![0x00, 0x02, 0x00]; // identifier 2, Property Length 0
    body.extend(prefixed(b"f"));
    body.push(0x00);
    assert_eq!(p.sent_bytes(), packet(0x82, &body));

    p.unsubscribe(vec![filter("f")]);
    let mut body = vec![0x00, 0x03, 0x00]; // identifier 3, Property Length 0
    body.extend(prefixed(b"f"));
    assert_eq!(p.sent_bytes(), packet(0xA2, &body));
}

// ---- PUBLISH ----

/// [MQTT-4.3.1-1]: a QoS 0 message goes out as a PUBLISH with QoS 0 and DUP 0, without
/// a Packet Identifier ([MQTT-2.3.1-5], [MQTT-2.2.1-2]); the Topic Name is the first
/// field of the variable header, a length-prefixed UTF-8 string ([MQTT-3.3.2-1]). It
/// is sent once: the next connection of the session does not send it again.
#[test]
fn mqtt_4_3_1_1_qos0_publish_is_qos0_dup0_without_identifier_byte_exact() {
    for version in VERSIONS {
        let mut p = persistent(version);
        let id = p.publish(message("a/\u{e9}", b"hi", QoS::AtMostOnce));
        let mut body = prefixed("a/\u{e9}".as_bytes());
        if version.is_v5() {
            body.push(0x00);
        }
        body.extend(b"hi");
        assert_eq!(p.sent_bytes(), packet(0x30, &body), "{version}");
        assert_eq!(published(&p.events()), vec![(id, Ok(()))]);
        assert_eq!(p.client.stats().in_flight, 0);

        p.drop_transport();
        p.events();
        p.connect_with(connack(true));
        assert_eq!(p.sent_bytes(), Vec::<u8>::new(), "{version}");
    }
}

/// The receiving side of [MQTT-2.3.1-5] / [MQTT-2.2.1-2] and [MQTT-3.3.2-1]: in a QoS
/// 0 PUBLISH the two bytes after the topic are payload, not an identifier; a topic
/// that is not UTF-8 is a malformed packet and closes the connection.
#[test]
fn mqtt_3_3_2_1_inbound_topic_first_and_utf8_no_identifier_at_qos0() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.send_bytes(&publish_wire(version, 0x30, "t", None, &[0x00, 0x07]));
        let got = messages(&p.events());
        assert_eq!(got.len(), 1, "{version}");
        assert_eq!(got[0].topic.as_str(), "t");
        assert_eq!(&got[0].payload[..], [0x00, 0x07]);
        assert_eq!(got[0].qos, QoS::AtMostOnce);
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());

        // Topic bytes C3 28: not UTF-8.
        let mut body = vec![0x00, 0x02, 0xC3, 0x28];
        if version.is_v5() {
            body.push(0x00);
        }
        body.push(b'x');
        p.send_bytes(&packet(0x30, &body));
        let events = p.assert_violation(ReasonCode::MalformedPacket);
        assert!(messages(&events).is_empty(), "{version}: {events:?}");
        assert_eq!(p.client.state(), State::Disconnected);
    }
}

/// [MQTT-1.5.3-3], [MQTT-1.5.4-3]: EF BB BF in a string the client receives is U+FEFF
/// and stays where it is: a topic that starts or ends with it is delivered with it.
#[test]
fn mqtt_1_5_3_3_a_byte_order_mark_in_a_received_topic_is_kept() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.send_bytes(&publish_wire(version, 0x30, "\u{feff}t", None, b"1"));
        p.send_bytes(&publish_wire(version, 0x30, "t/\u{feff}", None, b"2"));
        let got = messages(&p.events());
        assert_eq!(got.len(), 2, "{version}");
        assert_eq!(got[0].topic.as_bytes(), b"\xEF\xBB\xBFt");
        assert_eq!(got[1].topic.as_bytes(), b"t/\xEF\xBB\xBF");
        assert!(p.client.is_connected());
    }
}

// ---- Topic names and filters ----

/// [MQTT-4.7.3-2]: topic names and filters never contain U+0000. Neither can be built
/// with one, so the client never sends one, and a PUBLISH from the server whose topic
/// has one closes the connection.
#[test]
fn mqtt_4_7_3_2_topics_never_contain_u0000() {
    let nul = Some(TopicError::String(StringError::NullCharacter));
    assert_eq!("a\0b".parse::<TopicName>().err(), nul);
    assert_eq!("a/\0".parse::<TopicFilter>().err(), nul);
    assert_eq!("\0".parse::<TopicFilter>().err(), nul);
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.send_bytes(&publish_wire(version, 0x30, "a\0b", None, b"x"));
        let events = p.assert_violation(ReasonCode::MalformedPacket);
        assert!(messages(&events).is_empty(), "{version}: {events:?}");
    }
}

/// [MQTT-4.7.3-3]: topic names and filters encode to at most 65,535 bytes. That long
/// they are accepted (and published with the length prefix FF FF); one byte more, in
/// one-byte or two-byte characters, is refused.
#[test]
fn mqtt_4_7_3_3_topics_are_at_most_65535_bytes() {
    let longest = "a".repeat(65535);
    assert!(longest.parse::<TopicFilter>().is_ok());
    let too_long = Some(TopicError::String(StringError::TooLong(65536)));
    assert_eq!("a".repeat(65536).parse::<TopicName>().err(), too_long);
    assert_eq!("a".repeat(65536).parse::<TopicFilter>().err(), too_long);
    assert_eq!("\u{e9}".repeat(32768).parse::<TopicName>().err(), too_long);
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        let name: TopicName = longest.parse().unwrap();
        p.client
            .publish(p.now, Message::new(name, Bytes::new(), QoS::AtMostOnce))
            .unwrap();
        let bytes = p.sent_bytes();
        // 30, a three-byte Remaining Length, then the topic's length.
        assert_eq!(bytes[0], 0x30);
        assert_eq!(&bytes[4..6], [0xFF, 0xFF], "{version}");
        assert_eq!(&bytes[6..6 + 65535], longest.as_bytes());
    }
}

// ---- SUBSCRIBE / UNSUBSCRIBE ----

/// [MQTT-3.10.3-1]: the UNSUBSCRIBE payload is the topic filters as UTF-8 strings, back
/// to back.
#[test]
fn mqtt_3_10_3_1_unsubscribe_filters_back_to_back_byte_exact() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.unsubscribe(vec![filter("a/+"), filter("b/\u{e9}"), filter("#")]);
        let mut body = vec![0x00, 0x01];
        if version.is_v5() {
            body.push(0x00);
        }
        body.extend(prefixed(b"a/+"));
        body.extend(prefixed("b/\u{e9}".as_bytes()));
        body.extend(prefixed(b"#"));
        assert_eq!(p.sent_bytes(), packet(0xA2, &body), "{version}");
    }
}

/// [MQTT-3.8.3-4]: No Local on a Shared Subscription is a Protocol Error, so the client
/// refuses to send one; the same shared filter without No Local goes out.
#[test]
fn v5_mqtt_3_8_3_4_no_local_on_a_shared_subscription_is_refused() {
    let mut p = Peer::connected(V5);
    let mut shared = subscription("$share/g/t", QoS::AtLeastOnce);
    shared.options.no_local = true;
    assert!(matches!(
        p.client.subscribe(p.now, vec![shared.clone()]),
        Err(SubscribeError::Invalid(_))
    ));
    assert!(matches!(
        p.client
            .subscribe(p.now, vec![subscription("plain", QoS::AtMostOnce), shared]),
        Err(SubscribeError::Invalid(_))
    ));
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    assert_eq!(p.client.stats().in_flight, 0);
    // The encoder refuses it too.
    let mut options = SubscriptionOptions::new(QoS::AtMostOnce);
    options.no_local = true;
    let bad = Subscribe::new(
        pid(1),
        vec![Subscription {
            filter: filter("$share/g/t"),
            options,
        }],
    );
    assert!(
        Packet::from(bad)
            .encode(V5, &mut bytes::BytesMut::new())
            .is_err()
    );

    p.subscribe(vec![subscription("$share/g/t", QoS::AtLeastOnce)]);
    match one_sent(&mut p) {
        Packet::Subscribe(s) => assert!(!s.filters[0].options.no_local),
        other => panic!("{other:?}"),
    }
}

// ---- Receiving PUBLISH ----

/// [MQTT-4.5.0-2]: every PUBLISH the client receives is acknowledged by its QoS,
/// whether or not the application wants it: this client has no subscription at all and
/// the application never looks at what is delivered.
#[test]
fn mqtt_4_5_0_2_every_publish_acknowledged_without_a_subscription() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        assert_eq!(p.client.subscriptions().count(), 0);
        p.send_bytes(&publish_wire(version, 0x30, "nobody/asked", None, b"0"));
        assert_eq!(p.sent_bytes(), Vec::<u8>::new(), "{version}");
        p.send_bytes(&publish_wire(version, 0x32, "nobody/asked", Some(3), b"1"));
        assert_eq!(p.sent_bytes(), ack_wire(0x40, 3), "{version}");
        p.send_bytes(&publish_wire(version, 0x34, "nobody/asked", Some(4), b"2"));
        assert_eq!(p.sent_bytes(), ack_wire(0x50, 4), "{version}");
        p.send_bytes(&ack_wire(0x62, 4));
        assert_eq!(p.sent_bytes(), ack_wire(0x70, 4), "{version}");
        // A retained one, and one with DUP set, likewise.
        p.send_bytes(&publish_wire(version, 0x3B, "nobody/asked", Some(5), b"3"));
        assert_eq!(p.sent_bytes(), ack_wire(0x40, 5), "{version}");
        assert!(p.client.is_connected());
    }
}

/// [MQTT-4.6.0-3]: PUBRECs go out in the order the QoS 2 PUBLISHes came, whether they
/// arrive in one read or one by one, and with QoS 1 ones between.
#[test]
fn mqtt_4_6_0_3_pubrecs_in_the_order_the_publishes_came() {
    for version in VERSIONS {
        let ids = [7u16, 3, 300, 5, 65535, 1];
        let expected: Vec<u8> = ids.iter().flat_map(|&id| ack_wire(0x50, id)).collect();

        let mut p = Peer::connected(version);
        let input: Vec<u8> = ids
            .iter()
            .flat_map(|&id| publish_wire(version, 0x34, "t", Some(id), b"x"))
            .collect();
        p.send_bytes(&input);
        assert_eq!(p.sent_bytes(), expected, "{version}: one read");

        let mut p = Peer::connected(version);
        for id in ids {
            p.send_bytes(&publish_wire(version, 0x34, "t", Some(id), b"x"));
        }
        assert_eq!(p.sent_bytes(), expected, "{version}: one by one");

        let mut p = Peer::connected(version);
        let mut mixed_expected = Vec::new();
        for (n, id) in ids.into_iter().enumerate() {
            let q1 = 1000 + n as u16;
            p.send_bytes(&publish_wire(version, 0x34, "t", Some(id), b"x"));
            p.send_bytes(&publish_wire(version, 0x32, "t", Some(q1), b"y"));
            mixed_expected.extend(ack_wire(0x50, id));
            mixed_expected.extend(ack_wire(0x40, q1));
        }
        assert_eq!(p.sent_bytes(), mixed_expected, "{version}: with QoS 1");
    }
}

// ---- Protocol violations (3.1.1) ----

/// 3.1.1: reserved fixed-header flag bits that are wrong make the client close the
/// connection ([MQTT-2.2.2-2]): it writes nothing more and reports the violation.
#[test]
fn v311_mqtt_2_2_2_2_wrong_fixed_header_flags_close_the_connection() {
    let cases: [&[u8]; 7] = [
        &[0x41, 0x02, 0x00, 0x01],       // PUBACK, flags 0001
        &[0x58, 0x02, 0x00, 0x02],       // PUBREC, flags 1000
        &[0x60, 0x02, 0x00, 0x09],       // PUBREL, flags 0000 (0010 required)
        &[0x74, 0x02, 0x00, 0x02],       // PUBCOMP, flags 0100
        &[0x92, 0x03, 0x00, 0x03, 0x01], // SUBACK, flags 0010
        &[0xB1, 0x02, 0x00, 0x04],       // UNSUBACK, flags 0001
        &[0xD8, 0x00],                   // PINGRESP, flags 1000
    ];
    for bytes in cases {
        let mut p = Peer::connected(V311);
        // Something for each acknowledgement to answer: identifiers 1 to 4.
        p.publish(message("a", b"1", QoS::AtLeastOnce));
        p.publish(message("b", b"2", QoS::ExactlyOnce));
        p.subscribe(vec![subscription("c", QoS::AtLeastOnce)]);
        p.unsubscribe(vec![filter("d")]);
        p.sent_bytes();
        p.send_bytes(bytes);
        let events = p.events();
        assert!(
            matches!(
                disconnected(&events),
                DisconnectReason::ProtocolViolation { .. }
            ),
            "{bytes:02x?}: {events:?}"
        );
        assert_eq!(p.client.state(), State::Disconnected, "{bytes:02x?}");
        assert_eq!(p.sent_bytes(), Vec::<u8>::new(), "{bytes:02x?}");
    }
}

/// 3.1.1: [MQTT-4.8.0-1]: a protocol violation by the server closes the connection that
/// carried it: a malformed Remaining Length, a packet type 3.1.1 does not have, a
/// second CONNACK, an acknowledgement of an identifier not in use. Nothing more is
/// read or written on that connection; the next one works.
#[test]
fn v311_mqtt_4_8_0_1_a_protocol_violation_closes_the_connection() {
    let cases: [&[u8]; 5] = [
        &[0x30, 0xFF, 0xFF, 0xFF, 0xFF], // Remaining Length of five bytes
        &[0xF0, 0x00],                   // AUTH: no such packet in 3.1.1
        &[0x20, 0x02, 0x00, 0x00],       // a second CONNACK
        &[0x40, 0x02, 0x00, 0x09],       // PUBACK for nothing in flight
        &[0x10, 0x00],                   // CONNECT, which only a client sends
    ];
    for bytes in cases {
        let mut p = Peer::connected(V311);
        p.send_bytes(bytes);
        let events = p.events();
        assert!(
            matches!(
                disconnected(&events),
                DisconnectReason::ProtocolViolation { .. }
            ),
            "{bytes:02x?}: {events:?}"
        );
        assert_eq!(p.client.state(), State::Disconnected, "{bytes:02x?}");
        assert_eq!(p.sent_bytes(), Vec::<u8>::new(), "{bytes:02x?}");
        p.send_bytes(&publish_wire(V311, 0x32, "t", Some(1), b"x"));
        assert_eq!(p.events(), vec![], "{bytes:02x?}");
        assert_eq!(p.sent_bytes(), Vec::<u8>::new(), "{bytes:02x?}");
        p.connect();
        p.send_bytes(&publish_wire(V311, 0x32, "t", Some(1), b"x"));
        assert_eq!(messages(&p.events()).len(), 1);
        assert_eq!(p.sent_bytes(), ack_wire(0x40, 1));
    }
}

// ---- Packet identifiers and session state ----

/// [MQTT-2.3.1-3]: a packet sent again keeps its identifier. After a reconnection with
/// the session, the QoS 1 PUBLISH (now DUP 1), the PUBREL of a QoS 2 message and the
/// SUBSCRIBE go out under their first identifiers, which new packets do not take.
#[test]
fn mqtt_2_3_1_3_a_resent_packet_keeps_its_identifier() {
    for version in VERSIONS {
        let mut p = persistent(version);
        let one = p.publish(message("q1", b"1", QoS::AtLeastOnce));
        let two = p.publish(message("q2", b"2", QoS::ExactlyOnce));
        p.subscribe(vec![subscription("s", QoS::AtLeastOnce)]);
        p.sent();
        p.send(PubRec::new(pid(2)));
        assert_eq!(p.sent_bytes(), ack_wire(0x62, 2));

        p.drop_transport();
        p.events();
        p.connect_with(connack(true));
        let mut publish_1 = None;
        let mut pubrel_2 = false;
        let mut subscribe_3 = false;
        for packet in p.sent() {
            match packet {
                Packet::Publish(publish) => {
                    assert!(publish.dup, "{version}");
                    assert_eq!(publish.topic.as_str(), "q1");
                    publish_1 = publish.packet_id();
                }
                Packet::PubRel(rel) => pubrel_2 = rel.packet_id == pid(2),
                Packet::Subscribe(sub) => subscribe_3 = sub.packet_id == pid(3),
                other => panic!("{version}: {other:?}"),
            }
        }
        assert_eq!(publish_1, Some(pid(1)), "{version}");
        assert!(pubrel_2 && subscribe_3, "{version}");

        p.publish(message("new", b"n", QoS::AtLeastOnce));
        match one_sent(&mut p) {
            Packet::Publish(publish) => assert_eq!(publish.packet_id(), Some(pid(4))),
            other => panic!("{other:?}"),
        }
        p.send(PubAck::new(pid(1)));
        p.send(PubComp::new(pid(2)));
        p.send(SubAck::new(pid(3), vec![SubAckReasonCode::GrantedQoS1]));
        let events = p.events();
        assert_eq!(published(&events), vec![(one, Ok(())), (two, Ok(()))]);
        assert!(p.client.is_connected());
    }
}

/// A session lasts at least as long as its connection ([MQTT-4.1.0-2] (3.1.1)) and
/// neither side discards session state while the connection is open ([MQTT-4.1.0-1]
/// (5.0)): with Clean Start and no Session Expiry, after an hour of keep-alive traffic
/// the client still has its QoS 1 and QoS 2 messages in flight, the incoming QoS 2
/// message awaiting PUBREL and its subscription.
#[test]
fn mqtt_4_1_0_2_session_state_kept_while_the_connection_is_open() {
    for version in VERSIONS {
        let mut p = Peer::connected_with(version, |c| c.keep_alive = 30);
        p.subscribe(vec![subscription("s/#", QoS::ExactlyOnce)]);
        p.send(SubAck::new(pid(1), vec![SubAckReasonCode::GrantedQoS2]));
        let one = p.publish(message("a", b"1", QoS::AtLeastOnce));
        let two = p.publish(message("b", b"2", QoS::ExactlyOnce));
        p.send(PubRec::new(pid(3)));
        p.send_bytes(&publish_wire(version, 0x34, "s/x", Some(9), b"in"));
        assert_eq!(messages(&p.events()).len(), 1);
        p.sent_bytes();

        for _ in 0..120 {
            p.advance(secs(30));
            assert_eq!(p.sent_bytes(), PINGREQ, "{version}");
            p.send_bytes(&PINGRESP);
        }
        assert!(p.client.is_connected());
        assert_eq!(p.events(), vec![]);
        assert_eq!(p.client.stats().in_flight, 2, "{version}");
        assert_eq!(p.client.subscriptions().count(), 1);

        // The repeat of 9 is the same message: PUBREC again, no second delivery.
        p.send_bytes(&publish_wire(version, 0x3C, "s/x", Some(9), b"in"));
        assert_eq!(p.sent_bytes(), ack_wire(0x50, 9), "{version}");
        assert_eq!(p.events(), vec![]);
        p.send_bytes(&ack_wire(0x62, 9));
        assert_eq!(p.sent_bytes(), ack_wire(0x70, 9));
        p.send(PubAck::new(pid(2)));
        p.send(PubComp::new(pid(3)));
        assert_eq!(
            published(&p.events()),
            vec![(one, Ok(())), (two, Ok(()))],
            "{version}"
        );
    }
}

/// Session state outlives the connection when the client asks for it: 3.1.1
/// CleanSession 0 keeps it for as long as the session lasts ([MQTT-4.1.0-1],
/// [MQTT-3.1.2-4] (3.1.1)); 5.0 Clean Start 0 with a Session Expiry Interval keeps it
/// after the connection closes ([MQTT-3.1.2-23] (5.0)). A day without a connection
/// later the client still has its message in flight, the incoming QoS 2 message
/// awaiting PUBREL and its subscription, and the next connection resumes them.
#[test]
fn session_state_kept_across_connections_of_the_session() {
    for version in VERSIONS {
        let mut p = Peer::connected_with(version, |c| {
            c.clean_start = false;
            c.session_expiry_interval = u32::MAX;
        });
        p.subscribe(vec![subscription("s/#", QoS::ExactlyOnce)]);
        p.send(SubAck::new(pid(1), vec![SubAckReasonCode::GrantedQoS2]));
        let one = p.publish(message("a", b"1", QoS::AtLeastOnce));
        p.send_bytes(&publish_wire(version, 0x34, "s/x", Some(9), b"in"));
        assert_eq!(messages(&p.events()).len(), 1);
        p.sent_bytes();

        p.drop_transport();
        p.events();
        p.advance(secs(24 * 3600));
        p.events();
        p.connect_with(connack(true));
        assert_eq!(
            p.sent_bytes(),
            publish_wire(version, 0x3A, "a", Some(2), b"1"),
            "{version}: re-sent with DUP 1"
        );
        assert_eq!(p.client.subscriptions().count(), 1);
        p.send_bytes(&publish_wire(version, 0x3C, "s/x", Some(9), b"in"));
        assert_eq!(p.sent_bytes(), ack_wire(0x50, 9), "{version}");
        assert_eq!(messages(&p.events()), vec![]);
        p.send_bytes(&ack_wire(0x62, 9));
        assert_eq!(p.sent_bytes(), ack_wire(0x70, 9));
        p.send(PubAck::new(pid(2)));
        assert_eq!(published(&p.events()), vec![(one, Ok(()))]);
    }
}

/// Clean Start 1 throws the session away and begins a new one ([MQTT-3.1.2-4] (5.0));
/// a CleanSession 1 session lasts only as long as its connection and its state is never
/// reused ([MQTT-3.1.2-6] (3.1.1)). The next connection of a clean-start client does
/// not re-send a PUBLISH or PUBREL under the old identifiers, and the server's QoS 2
/// message that was awaiting PUBREL is a new message when it comes again.
#[test]
fn clean_start_discards_the_session_state() {
    for version in VERSIONS {
        let mut p = Peer::connected_with(version, |c| {
            c.session_lost_policy = SessionLostPolicy::Fail;
        });
        let one = p.publish(message("a", b"1", QoS::AtLeastOnce));
        let two = p.publish(message("b", b"2", QoS::ExactlyOnce));
        p.send(PubRec::new(pid(2)));
        p.send_bytes(&publish_wire(version, 0x34, "s/x", Some(9), b"in"));
        assert_eq!(messages(&p.events()).len(), 1);
        p.sent_bytes();

        p.drop_transport();
        p.events();
        let connect = p.open();
        assert!(connect.clean_start);
        p.send(connack(false));
        let events = p.events();
        assert_eq!(
            published(&events),
            vec![
                (one, Err(PublishFailure::SessionLost)),
                (two, Err(PublishFailure::SessionLost))
            ],
            "{version}: {events:?}"
        );
        assert_eq!(
            p.sent_bytes(),
            Vec::<u8>::new(),
            "{version}: nothing re-sent"
        );
        assert_eq!(p.client.stats().in_flight, 0);
        // Identifier 9 is free on this side: the same PUBLISH is a new message.
        p.send_bytes(&publish_wire(version, 0x3C, "s/x", Some(9), b"in"));
        assert_eq!(p.sent_bytes(), ack_wire(0x50, 9));
        assert_eq!(messages(&p.events()).len(), 1, "{version}");
        // A new message goes out as a first attempt.
        p.publish(message("c", b"3", QoS::AtLeastOnce));
        match one_sent(&mut p) {
            Packet::Publish(publish) => assert!(!publish.dup),
            other => panic!("{other:?}"),
        }
    }
}

/// [MQTT-4.3.2-3]: a QoS 1 PUBLISH stays unacknowledged until its PUBACK: no time
/// completes it, a reconnection sends it again, a PUBREC or PUBCOMP does not complete
/// it (they break the protocol), only the PUBACK does.
#[test]
fn mqtt_4_3_2_3_qos1_publish_unacknowledged_until_puback() {
    for version in VERSIONS {
        let mut p = persistent(version);
        let id = p.publish(message("q", b"1", QoS::AtLeastOnce));
        assert_eq!(
            p.sent_bytes(),
            publish_wire(version, 0x32, "q", Some(1), b"1")
        );
        p.advance(secs(50));
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        assert_eq!(p.events(), vec![]);
        assert_eq!(p.client.stats().in_flight, 1);

        p.drop_transport();
        p.events();
        p.connect_with(connack(true));
        assert_eq!(
            p.sent_bytes(),
            publish_wire(version, 0x3A, "q", Some(1), b"1"),
            "{version}: the PUBLISH again, DUP 1"
        );
        p.send(PubAck::new(pid(1)));
        assert_eq!(published(&p.events()), vec![(id, Ok(()))]);
        assert_eq!(p.client.stats().in_flight, 0);

        // A PUBCOMP for a QoS 1 message is not its acknowledgement.
        let mut p = persistent(version);
        p.publish(message("q", b"1", QoS::AtLeastOnce));
        p.sent_bytes();
        p.send(PubComp::new(pid(1)));
        let events = p.events();
        assert!(published(&events).is_empty(), "{version}: {events:?}");
        assert!(
            matches!(
                disconnected(&events),
                DisconnectReason::ProtocolViolation { .. }
            ),
            "{version}: {events:?}"
        );
        assert_eq!(p.client.stats().in_flight, 1);
    }
}

/// [MQTT-4.3.3-5]: the PUBREL of a QoS 2 message stays unacknowledged until its
/// PUBCOMP: no time completes it, a reconnection sends the PUBREL again (never the
/// PUBLISH), and only the PUBCOMP completes the message.
#[test]
fn mqtt_4_3_3_5_pubrel_unacknowledged_until_pubcomp() {
    for version in VERSIONS {
        let mut p = persistent(version);
        let id = p.publish(message("q", b"2", QoS::ExactlyOnce));
        p.sent_bytes();
        p.send(PubRec::new(pid(1)));
        assert_eq!(p.sent_bytes(), ack_wire(0x62, 1));
        p.advance(secs(50));
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        assert_eq!(p.events(), vec![]);
        assert_eq!(p.client.stats().in_flight, 1);

        p.drop_transport();
        p.events();
        p.connect_with(connack(true));
        assert_eq!(p.sent_bytes(), ack_wire(0x62, 1), "{version}: PUBREL again");
        assert_eq!(p.events(), vec![]);
        p.send(PubComp::new(pid(1)));
        assert_eq!(published(&p.events()), vec![(id, Ok(()))]);
        assert_eq!(p.client.stats().in_flight, 0);
    }
}

/// [MQTT-3.1.3-2]: the ClientId names the session. Every CONNECT of the client, also
/// after its session was exported and restored, carries the same ClientId, and what
/// it kept is resumed when the server answers Session Present 1 for it.
#[test]
fn mqtt_3_1_3_2_every_connection_of_the_session_uses_its_client_id() {
    for version in VERSIONS {
        let config = || {
            let mut c = Peer::config(version);
            c.client_id = s("session-owner");
            c.clean_start = false;
            c.session_expiry_interval = 3600;
            c
        };
        let mut p = Peer::new(config());
        let first = p.open();
        assert_eq!(first.client_id, s("session-owner"));
        p.send(connack(false));
        p.events();
        p.publish(message("a", b"1", QoS::AtLeastOnce));
        p.sent();

        p.drop_transport();
        p.events();
        assert_eq!(p.open().client_id, s("session-owner"), "{version}");
        p.send(connack(true));
        p.events();
        assert_eq!(
            p.sent_bytes(),
            publish_wire(version, 0x3A, "a", Some(1), b"1")
        );

        let exported = p.client.export_session();
        let mut p = Peer::from_client(Client::restore(config(), &exported).unwrap(), version);
        assert_eq!(p.open().client_id, s("session-owner"), "{version}");
        p.send(connack(true));
        p.events();
        assert_eq!(
            p.sent_bytes(),
            publish_wire(version, 0x3A, "a", Some(1), b"1")
        );
    }
}

/// [MQTT-4.3.3-3]: a QoS 2 PUBLISH stays unacknowledged until its PUBREC: no time
/// completes it, a reconnection sends the PUBLISH again (not a PUBREL), and only after
/// the PUBREC does the client go on to PUBREL.
#[test]
fn mqtt_4_3_3_3_qos2_publish_unacknowledged_until_pubrec() {
    for version in VERSIONS {
        let mut p = persistent(version);
        let id = p.publish(message("q", b"2", QoS::ExactlyOnce));
        assert_eq!(
            p.sent_bytes(),
            publish_wire(version, 0x34, "q", Some(1), b"2")
        );
        p.advance(secs(50));
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        assert_eq!(p.events(), vec![]);
        assert_eq!(p.client.stats().in_flight, 1);

        p.drop_transport();
        p.events();
        p.connect_with(connack(true));
        assert_eq!(
            p.sent_bytes(),
            publish_wire(version, 0x3C, "q", Some(1), b"2"),
            "{version}: the PUBLISH again, DUP 1"
        );
        p.send(PubRec::new(pid(1)));
        assert_eq!(p.sent_bytes(), ack_wire(0x62, 1));
        p.send(PubComp::new(pid(1)));
        assert_eq!(published(&p.events()), vec![(id, Ok(()))]);
    }
}

// ---- DISCONNECT ----

/// 5.0: after sending DISCONNECT the client sends nothing more on that connection
/// ([MQTT-3.14.4-1]) and closes it ([MQTT-3.14.4-2]): it is disconnected at once,
/// reports it, arms no timer, and commands wait for a new connection.
#[test]
fn v5_mqtt_3_14_4_1_and_2_after_disconnect_nothing_more_and_the_connection_closes() {
    let mut p = Peer::connected(V5);
    p.publish(message("in-flight", b"1", QoS::AtLeastOnce));
    p.sent();
    p.client
        .disconnect(p.now, DisconnectReasonCode::NormalDisconnection, None)
        .unwrap();
    assert_eq!(
        p.sent(),
        vec![Packet::Disconnect(Disconnect::new(
            DisconnectReasonCode::NormalDisconnection
        ))]
    );
    assert_eq!(p.events(), only_disconnected(DisconnectReason::ByClient));
    assert_eq!(p.client.state(), State::Disconnected);
    assert_eq!(p.client.poll_timeout(), None);
    p.advance(secs(600));
    p.publish(message("t", b"x", QoS::AtMostOnce));
    p.subscribe(vec![subscription("a", QoS::AtMostOnce)]);
    p.send_bytes(&publish_wire(V5, 0x32, "t", Some(1), b"x"));
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    assert_eq!(p.events(), vec![]);
}

// ---- Reason String and User Properties beyond the server's Maximum Packet Size ----

/// A 5.0 client connected to a server whose Maximum Packet Size is `maximum`.
fn with_server_maximum(maximum: u32, set: impl FnOnce(&mut ClientConfig)) -> Peer {
    let mut p = Peer::configured(V5, set);
    p.open();
    let mut props = ConnAckProperties::new();
    props.maximum_packet_size = NonZeroU32::new(maximum);
    p.send(connack_with_props(props));
    p.events();
    p
}

fn ack_properties(reason: &str, user: &[(&str, &str)]) -> AckProperties {
    let mut props = AckProperties {
        reason_string: (!reason.is_empty()).then(|| s(reason)),
        ..AckProperties::default()
    };
    for (name, value) in user {
        props.user_properties.push(s(name), s(value));
    }
    props
}

/// The PUBACK or PUBREC the manual acknowledgement of a message at `qos` writes with
/// `properties`, under a server Maximum Packet Size of 40; with the size of its bytes.
fn manual_ack(qos: QoS, properties: AckProperties) -> (Packet, usize) {
    let mut p = with_server_maximum(40, |c| c.manual_acks = true);
    let first = if qos == QoS::AtLeastOnce { 0x32 } else { 0x34 };
    p.send_bytes(&publish_wire(V5, first, "t", Some(7), b"x"));
    let delivery = messages(&p.events())[0].delivery.unwrap();
    p.client
        .ack_with_properties(p.now, delivery, PubAckReasonCode::Success, properties)
        .unwrap();
    let bytes = p.sent_bytes();
    let mut buf = bytes::BytesMut::from(&bytes[..]);
    let packet = Decoder::new(V5).decode(&mut buf).unwrap().unwrap();
    assert!(buf.is_empty());
    (packet, bytes.len())
}

fn ack_props_of(packet: &Packet) -> AckProperties {
    match packet {
        Packet::PubAck(a) => (*a.properties).clone(),
        Packet::PubRec(r) => (*r.properties).clone(),
        other => panic!("{other:?}"),
    }
}

/// PUBACK and PUBREC keep their Reason String and User Properties when they fit the
/// server's Maximum Packet Size, leave out the User Properties when only that makes
/// the packet fit, and both when needed: PUBACK [MQTT-3.4.2-2], [MQTT-3.4.2-3],
/// PUBREC [MQTT-3.5.2-2], [MQTT-3.5.2-3].
#[test]
fn v5_mqtt_3_4_2_2_and_3_mqtt_3_5_2_2_and_3_ack_diagnostics_left_out_beyond_the_maximum() {
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        // Everything fits: 4 + 1 + 1 + 3 (reason "ok") + 7 (one short pair) = 16 bytes.
        let fits = ack_properties("ok", &[("k", "v")]);
        let (packet, size) = manual_ack(qos, fits.clone());
        assert!(size <= 40);
        assert_eq!(ack_props_of(&packet), fits, "{qos:?}");

        // The User Properties would take it past 40: they go, the Reason String stays.
        let long_value = "v".repeat(30);
        let (packet, size) = manual_ack(qos, ack_properties("ok", &[("k", &long_value)]));
        assert!(size <= 40, "{qos:?}: {size}");
        assert_eq!(ack_props_of(&packet), ack_properties("ok", &[]), "{qos:?}");

        // The Reason String alone is too long as well: both go, the ack itself stays.
        let long_reason = "r".repeat(40);
        let (packet, size) = manual_ack(qos, ack_properties(&long_reason, &[("k", "v")]));
        assert!(size <= 40, "{qos:?}: {size}");
        assert_eq!(ack_props_of(&packet), AckProperties::default(), "{qos:?}");
        match packet {
            Packet::PubAck(a) => assert_eq!(a.packet_id, pid(7)),
            Packet::PubRec(r) => assert_eq!(r.packet_id, pid(7)),
            other => panic!("{other:?}"),
        }
    }
}

/// DISCONNECT keeps its Reason String and User Properties when they fit the server's
/// Maximum Packet Size and leaves them out when they do not ([MQTT-3.14.2-3],
/// [MQTT-3.14.2-4]); the reason code and the Session Expiry Interval stay.
#[test]
fn v5_mqtt_3_14_2_3_and_4_disconnect_diagnostics_left_out_beyond_the_maximum() {
    let disconnect_with = |reason: &str, user: &[(&str, &str)]| -> Disconnect {
        let mut p = with_server_maximum(40, |c| c.session_expiry_interval = 60);
        let mut props = DisconnectProperties {
            session_expiry_interval: Some(30),
            reason_string: Some(s(reason)),
            ..DisconnectProperties::default()
        };
        for (name, value) in user {
            props.user_properties.push(s(name), s(value));
        }
        p.client
            .disconnect_with_properties(p.now, DisconnectReasonCode::NormalDisconnection, props)
            .unwrap();
        let bytes = p.sent_bytes();
        assert!(bytes.len() <= 40, "{} bytes", bytes.len());
        let mut buf = bytes::BytesMut::from(&bytes[..]);
        match Decoder::new(V5).decode(&mut buf).unwrap() {
            Some(Packet::Disconnect(d)) => d,
            other => panic!("{other:?}"),
        }
    };
    let d = disconnect_with("bye", &[("k", "v")]);
    assert_eq!(d.properties.reason_string, Some(s("bye")));
    assert_eq!(d.properties.user_properties.get("k"), Some("v"));
    assert_eq!(d.properties.session_expiry_interval, Some(30));

    let d = disconnect_with("bye", &[("k", &"v".repeat(30))]);
    assert_eq!(d.properties.reason_string, Some(s("bye")));
    assert!(d.properties.user_properties.is_empty());

    let d = disconnect_with(&"r".repeat(40), &[("k", "v")]);
    assert_eq!(d.properties.reason_string, None);
    assert!(d.properties.user_properties.is_empty());
    assert_eq!(d.properties.session_expiry_interval, Some(30));
    assert_eq!(d.reason_code, DisconnectReasonCode::NormalDisconnection);
}

/// The client's PUBREL and PUBCOMP carry no Reason String and no User Properties at
/// all, so under the smallest server Maximum Packet Size that admits them (4 bytes)
/// they still fit: PUBREL [MQTT-3.6.2-2], [MQTT-3.6.2-3]; PUBCOMP [MQTT-3.7.2-2],
/// [MQTT-3.7.2-3].
#[test]
fn v5_mqtt_3_6_2_2_and_3_mqtt_3_7_2_2_and_3_pubrel_pubcomp_fit_the_maximum() {
    let mut p = with_server_maximum(16, |_| {});
    p.publish(message("q", b"2", QoS::ExactlyOnce));
    p.sent_bytes();
    let mut rec = PubRec::new(pid(1));
    rec.properties.reason_string = Some(s("a reason string from the server"));
    p.send(rec);
    assert_eq!(p.sent_bytes(), ack_wire(0x62, 1), "PUBREL: four bytes");

    p.send_bytes(&publish_wire(V5, 0x34, "t", Some(5), b"x"));
    p.sent_bytes();
    let mut rel = PubRel::new(pid(5));
    rel.properties
        .user_properties
        .push(s("from"), s("the server"));
    p.send(rel);
    assert_eq!(p.sent_bytes(), ack_wire(0x70, 5), "PUBCOMP: four bytes");
    assert!(p.client.is_connected());
}

/// The client's AUTH carries only the Authentication Method and Data, never a Reason
/// String or User Properties, so re-authentication under a small server Maximum Packet
/// Size sends none of them ([MQTT-3.15.2-2], [MQTT-3.15.2-3]).
#[test]
fn v5_mqtt_3_15_2_2_and_3_auth_carries_no_diagnostics() {
    let mut p = Peer::configured(V5, |c| c.authentication_method = Some(s("M")));
    p.open();
    let mut props = ConnAckProperties::new();
    props.authentication_method = Some(s("M"));
    props.maximum_packet_size = NonZeroU32::new(32);
    p.send(connack_with_props(props));
    p.events();
    p.client
        .reauthenticate(p.now, Some(Bytes::from_static(b"data")))
        .unwrap();
    let bytes = p.sent_bytes();
    assert!(bytes.len() <= 32);
    let mut buf = bytes::BytesMut::from(&bytes[..]);
    match Decoder::new(V5).decode(&mut buf).unwrap() {
        Some(Packet::Auth(auth)) => {
            assert_eq!(auth.properties.reason_string, None);
            assert!(auth.properties.user_properties.is_empty());
            assert_eq!(auth.properties.authentication_method, Some(s("M")));
        }
        other => panic!("{other:?}"),
    }
}

// ---- Enhanced authentication ----

/// [MQTT-3.1.2-30]: with an Authentication Method in CONNECT the client sends only AUTH
/// (or DISCONNECT) until the CONNACK: messages, subscriptions and keep alive wait, and
/// go out after it.
#[test]
fn v5_mqtt_3_1_2_30_only_auth_before_connack_with_an_authentication_method() {
    let mut p = Peer::configured(V5, |c| {
        c.authentication_method = Some(s("M"));
        c.keep_alive = 2;
        c.connack_timeout = secs(30);
    });
    p.open();
    p.publish(message("q0", b"0", QoS::AtMostOnce));
    p.publish(message("q1", b"1", QoS::AtLeastOnce));
    p.subscribe(vec![subscription("s", QoS::AtLeastOnce)]);
    p.advance(secs(5));
    assert_eq!(p.sent_bytes(), Vec::<u8>::new(), "no PINGREQ either");

    let mut challenge = Auth::new(AuthReasonCode::ContinueAuthentication);
    challenge.properties.authentication_method = Some(s("M"));
    p.send(challenge);
    assert!(matches!(
        p.events().as_slice(),
        [Event::AuthChallenge { .. }]
    ));
    p.client
        .auth_continue(p.now, Some(Bytes::from_static(b"answer")))
        .unwrap();
    match p.sent().as_slice() {
        [Packet::Auth(a)] => assert_eq!(a.reason_code, AuthReasonCode::ContinueAuthentication),
        other => panic!("only AUTH: {other:?}"),
    }
    p.advance(secs(5));
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());

    let mut props = ConnAckProperties::new();
    props.authentication_method = Some(s("M"));
    p.send(connack_with_props(props));
    let sent = p.sent();
    assert_eq!(publishes(&sent).len(), 2, "{sent:?}");
    assert!(sent.iter().any(|p| matches!(p, Packet::Subscribe(_))));
}

/// [MQTT-4.12.0-7]: without an Authentication Method in CONNECT the client never sends
/// AUTH: neither answering nor re-authenticating is possible.
#[test]
fn v5_mqtt_4_12_0_7_no_auth_without_an_authentication_method() {
    let mut p = Peer::configured(V5, |_| {});
    let connect = p.open();
    assert_eq!(connect.properties.authentication_method, None);
    assert_eq!(
        p.client
            .auth_continue(p.now, Some(Bytes::from_static(b"x"))),
        Err(AuthError::NoMethod)
    );
    p.send(connack(false));
    p.events();
    assert_eq!(
        p.client.reauthenticate(p.now, None),
        Err(AuthError::NoMethod)
    );
    assert_eq!(
        p.client.auth_continue(p.now, None),
        Err(AuthError::NoMethod)
    );
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    assert!(p.client.is_connected());
}

// ---- PUBLISH properties ----

/// [MQTT-3.3.2-19]: the Content Type is a UTF-8 string: one the server sends is
/// delivered as text, one that is not UTF-8 is a malformed packet.
#[test]
fn v5_mqtt_3_3_2_19_content_type_is_a_utf8_string() {
    let publish_with_content_type = |value: &[u8]| -> Vec<u8> {
        let mut body = prefixed(b"t");
        let props_len = 1 + 2 + value.len();
        body.push(props_len as u8);
        body.push(0x03);
        body.extend(prefixed(value));
        body.push(b'x');
        packet(0x30, &body)
    };
    let mut p = Peer::connected(V5);
    p.send_bytes(&publish_with_content_type("text/\u{e9}".as_bytes()));
    let got = messages(&p.events());
    assert_eq!(got[0].properties.content_type, Some(s("text/\u{e9}")));

    p.send_bytes(&publish_with_content_type(&[0xC3, 0x28]));
    let events = p.assert_violation(ReasonCode::MalformedPacket);
    assert!(messages(&events).is_empty());

    // And the client sends it as a string.
    let mut p = Peer::connected(V5);
    let mut m = message("t", b"x", QoS::AtMostOnce);
    m.properties.content_type = Some(s("a/b"));
    p.publish(m);
    let mut body = prefixed(b"t");
    body.push(6);
    body.push(0x03);
    body.extend(prefixed(b"a/b"));
    body.push(b'x');
    assert_eq!(p.sent_bytes(), packet(0x30, &body));
}

// ---- Flow control ----

/// A 5.0 client connected to a server with Receive Maximum `receive_maximum`.
fn with_receive_maximum(receive_maximum: Option<u16>) -> Peer {
    let mut p = Peer::configured(V5, |_| {});
    p.open();
    let mut props = ConnAckProperties::new();
    props.receive_maximum = receive_maximum.and_then(NonZeroU16::new);
    p.send(connack_with_props(props));
    p.events();
    p
}

/// [MQTT-4.9.0-1]: the initial send quota is not zero and not above the server's
/// Receive Maximum: with 1 one message goes out, with 3 three, and without the
/// property (65,535) all of many; the rest wait.
#[test]
fn v5_mqtt_4_9_0_1_initial_send_quota_is_the_receive_maximum() {
    for (receive_maximum, expected) in [(Some(1), 1), (Some(3), 3), (None, 100)] {
        let mut p = with_receive_maximum(receive_maximum);
        for n in 0..100 {
            let qos = if n % 2 == 0 {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            p.publish(message("t", b"x", qos));
        }
        assert_eq!(publishes(&p.sent()).len(), expected, "{receive_maximum:?}");
        assert_eq!(p.client.stats().in_flight, expected);
        assert_eq!(p.client.stats().queued, 100 - expected);
    }
}

/// [MQTT-4.9.0-3]: while the send quota is zero the client still sends and answers
/// everything else: a QoS 0 message, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, acknowledgements
/// of the server's messages, and it processes SUBACK.
#[test]
fn v5_mqtt_4_9_0_3_other_packets_flow_while_the_quota_is_zero() {
    let mut p = with_receive_maximum(Some(1));
    let first = p.publish(message("q", b"1", QoS::AtLeastOnce)); // id 1, quota now 0
    assert_eq!(publishes(&p.sent()).len(), 1);
    // QoS 0 needs no quota (the client keeps a QoS 0 message that was queued behind a
    // waiting QoS 1 one in order, which 5.0 section 4.9 allows).
    p.publish(message("zero", b"0", QoS::AtMostOnce));
    let sent = publishes(&p.sent());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].topic.as_str(), "zero");
    let second = p.publish(message("q", b"2", QoS::AtLeastOnce)); // waits
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());

    p.subscribe(vec![subscription("s", QoS::AtLeastOnce)]); // id 2
    assert!(matches!(one_sent(&mut p), Packet::Subscribe(_)));
    p.unsubscribe(vec![filter("u")]); // id 3
    assert!(matches!(one_sent(&mut p), Packet::Unsubscribe(_)));

    p.send_bytes(&publish_wire(V5, 0x32, "in", Some(40), b"x"));
    assert_eq!(p.sent_bytes(), ack_wire(0x40, 40));
    p.send_bytes(&publish_wire(V5, 0x34, "in", Some(41), b"y"));
    assert_eq!(p.sent_bytes(), ack_wire(0x50, 41));
    p.send(SubAck::new(pid(2), vec![SubAckReasonCode::GrantedQoS1]));
    let events = p.events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Subscribed { .. })),
        "{events:?}"
    );

    p.advance(secs(60));
    assert_eq!(p.sent_bytes(), PINGREQ);
    p.send_bytes(&PINGRESP);

    // The PUBACK gives the quota back: the waiting message goes.
    p.send(PubAck::new(pid(1)));
    assert_eq!(publishes(&p.sent()).len(), 1);
    p.send(PubAck::new(pid(4)));
    assert_eq!(
        published(&p.events()),
        vec![(first, Ok(())), (second, Ok(()))]
    );
}
