//! Client incoming publish: delivery, QoS 1/2 acknowledgements, receive maximum, size limit, topic aliases.

mod peer;
use peer::*;

use bytes::Bytes;
use mqtt_sansio::*;
use std::num::{NonZeroU16, NonZeroU32};

fn aliased(t: &str, alias: u16, payload: &'static [u8]) -> Publish {
    let topic = if t.is_empty() {
        TopicName::empty()
    } else {
        topic(t)
    };
    let mut p = Publish::new(topic, Bytes::from_static(payload));
    p.properties.topic_alias = NonZeroU16::new(alias);
    p
}

fn connect_with_topic_alias_maximum(maximum: u16) -> Peer {
    Peer::connected_with(ProtocolVersion::V5, |c| c.topic_alias_maximum = maximum)
}

#[test]
fn qos_0_1_2_delivered_as_messages() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        // QoS 0, retained.
        p.send_bytes(&publish_wire(version, 0x31, "in/0", None, b"zero"));
        p.send_bytes(&publish_wire(version, 0x32, "in/1", Some(10), b"one"));
        p.send_bytes(&publish_wire(version, 0x34, "in/2", Some(11), b"two"));
        let got = messages(&p.events());
        assert_eq!(got.len(), 3, "{version}");
        let mut m0 = message("in/0", b"zero", QoS::AtMostOnce);
        m0.retain = true;
        assert_eq!(got[0], m0);
        assert_eq!(got[1], message("in/1", b"one", QoS::AtLeastOnce));
        assert_eq!(got[2], message("in/2", b"two", QoS::ExactlyOnce));
        assert!(p.client.is_connected());
    }
}

#[test]
fn qos0_is_not_acknowledged() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.send_bytes(&publish_wire(version, 0x30, "t", None, b"x"));
        assert_eq!(messages(&p.events()).len(), 1);
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    }
}

/// Also the first half of [MQTT-4.3.2-2] (3.1.1): PUBACK with the same identifier.
#[test]
fn mqtt_4_3_2_4_puback_with_the_same_identifier() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.send_bytes(&publish_wire(version, 0x32, "t", Some(0x1234), b"x"));
        assert_eq!(p.sent_bytes(), ack_wire(0x40, 0x1234), "{version}");
        assert_eq!(messages(&p.events()).len(), 1);
    }
}

#[test]
fn mqtt_4_6_0_2_pubacks_in_order_of_arrival() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        let mut input = Vec::new();
        for id in [9u16, 3, 700] {
            input.extend(publish_wire(version, 0x32, "t", Some(id), b"x"));
        }
        // One read holding all three.
        p.send_bytes(&input);
        let expected = [ack_wire(0x40, 9), ack_wire(0x40, 3), ack_wire(0x40, 700)].concat();
        assert_eq!(p.sent_bytes(), expected, "{version}");
        assert_eq!(messages(&p.events()).len(), 3);
    }
}

/// [MQTT-4.3.2-5] (3.1.1: [MQTT-4.3.2-2]): after its PUBACK, a PUBLISH with the same
/// identifier is a new message whatever its DUP flag.
#[test]
fn qos1_repeat_is_delivered_and_acknowledged_again() {
    // QoS 1 is at least once: a DUP repeat is a message too, and gets its PUBACK.
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.send_bytes(&publish_wire(version, 0x32, "t", Some(5), b"x"));
        p.send_bytes(&publish_wire(version, 0x3A, "t", Some(5), b"x"));
        let expected = [ack_wire(0x40, 5), ack_wire(0x40, 5)].concat();
        assert_eq!(p.sent_bytes(), expected);
        let got = messages(&p.events());
        assert_eq!(got.len(), 2);
        assert!(!got[0].dup);
        assert!(got[1].dup);
    }
}

/// Also part of [MQTT-4.3.3-2] (3.1.1): PUBREC with the same identifier, and repeats
/// answered with PUBREC without a second delivery until PUBREL.
#[test]
fn mqtt_4_3_3_10_qos2_repeat_not_delivered_twice() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.send_bytes(&publish_wire(version, 0x34, "t", Some(7), b"once"));
        assert_eq!(p.sent_bytes(), ack_wire(0x50, 7), "{version}");
        assert_eq!(messages(&p.events()).len(), 1);
        // Re-sent with DUP 1 before PUBREL: PUBREC again, no second delivery.
        p.send_bytes(&publish_wire(version, 0x3C, "t", Some(7), b"once"));
        assert_eq!(p.sent_bytes(), ack_wire(0x50, 7), "{version}");
        assert_eq!(p.events(), vec![], "{version}");
        // And a third time, even without DUP.
        p.send_bytes(&publish_wire(version, 0x34, "t", Some(7), b"once"));
        assert_eq!(p.sent_bytes(), ack_wire(0x50, 7), "{version}");
        assert_eq!(p.events(), vec![], "{version}");
        assert!(p.client.is_connected());
    }
}

#[test]
fn mqtt_4_3_3_11_pubrel_answered_with_pubcomp() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.send_bytes(&publish_wire(version, 0x34, "t", Some(0x0102), b"x"));
        p.sent_bytes();
        p.events();
        p.send_bytes(&ack_wire(0x62, 0x0102));
        assert_eq!(p.sent_bytes(), ack_wire(0x70, 0x0102), "{version}");
        assert_eq!(p.events(), vec![]);
    }
}

/// Also [MQTT-4.3.3-2] (3.1.1): PUBREC with the same identifier, PUBREL answered with
/// PUBCOMP, and afterwards the identifier starts a new message.
#[test]
fn mqtt_4_3_3_12_after_pubcomp_the_same_identifier_is_a_new_message() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.send_bytes(&publish_wire(version, 0x34, "t", Some(7), b"first"));
        p.send_bytes(&ack_wire(0x62, 7));
        p.send_bytes(&publish_wire(version, 0x34, "t", Some(7), b"second"));
        let expected = [ack_wire(0x50, 7), ack_wire(0x70, 7), ack_wire(0x50, 7)].concat();
        assert_eq!(p.sent_bytes(), expected, "{version}");
        let got = messages(&p.events());
        let payloads: Vec<&[u8]> = got.iter().map(|m| &m.payload[..]).collect();
        assert_eq!(payloads, vec![&b"first"[..], &b"second"[..]], "{version}");
    }
}

#[test]
fn pubrel_for_unknown_identifier_answered_with_pubcomp() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.send(PubRel::new(pid(44)));
        let mut expected = PubComp::new(pid(44));
        if version.is_v5() {
            expected.reason_code = PubCompReasonCode::PacketIdentifierNotFound;
        }
        assert_eq!(p.sent(), vec![Packet::PubComp(expected)], "{version}");
        assert_eq!(p.events(), vec![]);
        assert!(p.client.is_connected());
    }
}

// ---- receive maximum ----

/// A client of `version` configured with Receive Maximum `receive_maximum`, connected.
fn connected_with_receive_maximum(version: ProtocolVersion, receive_maximum: u16) -> Peer {
    Peer::connected_with(version, |c| {
        c.receive_maximum = NonZeroU16::new(receive_maximum).unwrap()
    })
}

#[test]
fn mqtt_3_3_4_9_v5_receive_maximum_exceeded_disconnects_0x93() {
    let mut p = Peer::configured(ProtocolVersion::V5, |c| {
        c.receive_maximum = NonZeroU16::new(2).unwrap()
    });
    let connect = p.open();
    assert_eq!(connect.properties.receive_maximum, NonZeroU16::new(2));
    p.send(connack(false));
    p.events();

    let v = ProtocolVersion::V5;
    // QoS 1 is acknowledged at once and never counts.
    for id in 100..110 {
        p.send_bytes(&publish_wire(v, 0x32, "t", Some(id), b"q1"));
    }
    p.send_bytes(&publish_wire(v, 0x34, "t", Some(1), b"a"));
    p.send_bytes(&publish_wire(v, 0x34, "t", Some(2), b"b"));
    // One released: room for one more.
    p.send_bytes(&ack_wire(0x62, 1));
    p.send_bytes(&publish_wire(v, 0x34, "t", Some(3), b"c"));
    assert_eq!(messages(&p.events()).len(), 13);
    assert!(p.client.is_connected());
    p.sent_bytes();

    // Two awaiting PUBREL: a third is one too many.
    p.send_bytes(&publish_wire(v, 0x34, "t", Some(4), b"d"));
    let events = p.assert_violation(ReasonCode::ReceiveMaximumExceeded);
    assert!(messages(&events).is_empty(), "{events:?}");
    assert_eq!(p.client.state(), State::Disconnected);
}

#[test]
fn v5_repeat_at_receive_maximum_is_not_a_new_message() {
    let v = ProtocolVersion::V5;
    let mut p = connected_with_receive_maximum(v, 1);
    p.send_bytes(&publish_wire(v, 0x34, "t", Some(1), b"a"));
    // The quota is full, but a repeat of the message in flight takes no more of it.
    p.send_bytes(&publish_wire(v, 0x3C, "t", Some(1), b"a"));
    let expected = [ack_wire(0x50, 1), ack_wire(0x50, 1)].concat();
    assert_eq!(p.sent_bytes(), expected);
    assert_eq!(messages(&p.events()).len(), 1);
    assert!(p.client.is_connected());
}

#[test]
fn v311_receive_maximum_setting_is_not_enforced() {
    // 3.1.1 has no Receive Maximum: the server was never told, so the client has no
    // grounds to close the connection over it.
    let v = ProtocolVersion::V311;
    let mut p = connected_with_receive_maximum(v, 1);
    p.send_bytes(&publish_wire(v, 0x34, "t", Some(1), b"a"));
    p.send_bytes(&publish_wire(v, 0x34, "t", Some(2), b"b"));
    p.send_bytes(&publish_wire(v, 0x34, "t", Some(3), b"c"));
    let events = p.events();
    assert_eq!(messages(&events).len(), 3, "{events:?}");
    assert!(p.client.is_connected());
    let expected = [ack_wire(0x50, 1), ack_wire(0x50, 2), ack_wire(0x50, 3)].concat();
    assert_eq!(p.sent_bytes(), expected);
}

// ---- maximum packet size ----

#[test]
fn mqtt_3_1_2_24_inbound_packet_larger_than_maximum_packet_size_closes() {
    for version in VERSIONS {
        let mut p = Peer::configured(version, |c| c.maximum_packet_size = NonZeroU32::new(50));
        let connect = p.open();
        if version.is_v5() {
            assert_eq!(connect.properties.maximum_packet_size, NonZeroU32::new(50));
        }
        p.send(connack(false));
        p.events();
        // Exactly the maximum is fine: 2 header + 3 topic + property length (5.0).
        let header = if version.is_v5() { 6 } else { 5 };
        let fits = vec![b'a'; 50 - header];
        let wire = publish_wire(version, 0x30, "t", None, &fits);
        assert_eq!(wire.len(), 50);
        p.send_bytes(&wire);
        assert_eq!(messages(&p.events()).len(), 1, "{version}");

        // One byte more is refused as soon as the fixed header is in.
        let too_big = publish_wire(version, 0x30, "t", None, &vec![b'a'; 51 - header]);
        assert_eq!(too_big.len(), 51);
        p.send_bytes(&too_big[..2]);
        let events = p.assert_violation(ReasonCode::PacketTooLarge);
        assert!(messages(&events).is_empty());
        assert_eq!(
            violation_decode_error(&events),
            Some(DecodeError::PacketTooLarge { size: 51, max: 50 })
        );
    }
}

// ---- topic aliases ----

#[test]
fn mqtt_3_3_2_10_topic_alias_set_and_reused() {
    let mut p = connect_with_topic_alias_maximum(2);
    p.send(aliased("a/b", 1, b"1"));
    p.send(aliased("", 1, b"2"));
    p.send(aliased("c/d", 2, b"3"));
    p.send(aliased("", 2, b"4"));
    p.send(aliased("", 1, b"5"));
    // Re-mapping an alias.
    p.send(aliased("e", 1, b"6"));
    p.send(aliased("", 1, b"7"));
    let got: Vec<(String, Vec<u8>)> = messages(&p.events())
        .iter()
        .map(|m| (m.topic.as_str().to_owned(), m.payload.to_vec()))
        .collect();
    let expected: Vec<(String, Vec<u8>)> = [
        ("a/b", "1"),
        ("a/b", "2"),
        ("c/d", "3"),
        ("c/d", "4"),
        ("a/b", "5"),
        ("e", "6"),
        ("e", "7"),
    ]
    .iter()
    .map(|(t, m)| (t.to_string(), m.as_bytes().to_vec()))
    .collect();
    assert_eq!(got, expected);
    assert!(p.client.is_connected());
}

#[test]
fn mqtt_3_3_2_11_topic_alias_above_maximum_disconnects_0x94() {
    let mut p = connect_with_topic_alias_maximum(2);
    p.send(aliased("a", 3, b"x"));
    let events = p.assert_violation(ReasonCode::TopicAliasInvalid);
    assert!(messages(&events).is_empty());
}

#[test]
fn mqtt_3_3_2_11_topic_alias_without_a_maximum_disconnects_0x94() {
    let mut p = connect_with_topic_alias_maximum(0);
    p.send(aliased("a", 1, b"x"));
    p.assert_violation(ReasonCode::TopicAliasInvalid);
}

#[test]
fn mqtt_3_3_2_8_topic_alias_zero_is_a_protocol_error() {
    let mut p = connect_with_topic_alias_maximum(2);
    // 30 08 | 00 01 'a' | properties: 03 23 00 00 | 'x'
    p.send_bytes(&[0x30, 0x08, 0x00, 0x01, b'a', 0x03, 0x23, 0x00, 0x00, b'x']);
    let events = p.assert_violation(ReasonCode::ProtocolError);
    assert!(messages(&events).is_empty());
}

#[test]
fn unknown_topic_alias_with_empty_topic_disconnects_0x82() {
    let mut p = connect_with_topic_alias_maximum(2);
    p.send(aliased("a", 1, b"x"));
    p.events();
    p.send(aliased("", 2, b"y"));
    let events = p.assert_violation(ReasonCode::ProtocolError);
    assert!(messages(&events).is_empty());
}

#[test]
fn mqtt_3_3_2_7_topic_aliases_reset_on_a_new_connection() {
    let mut p = connect_with_topic_alias_maximum(2);
    p.send(aliased("a/b", 1, b"x"));
    assert_eq!(messages(&p.events()).len(), 1);
    p.drop_transport();
    p.events();
    p.connect();
    // Alias 1 meant "a/b" on the previous connection only.
    p.send(aliased("", 1, b"y"));
    let events = p.assert_violation(ReasonCode::ProtocolError);
    assert!(messages(&events).is_empty(), "{events:?}");
}

#[test]
fn mqtt_4_3_3_8_qos2_delivered_and_pubrec_carries_its_identifier() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.send_bytes(&publish_wire(version, 0x34, "t", Some(300), b"m"));
        assert_eq!(p.sent_bytes(), ack_wire(0x50, 300));
        let got = messages(&p.events());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].qos, QoS::ExactlyOnce);
    }
}

#[test]
fn mqtt_3_6_1_1_pubrel_with_wrong_flags_is_malformed_also_among_short_acks() {
    // Four-byte acks are read in place; a PUBREL whose flags are not 0010 must still
    // be refused as malformed, first in the input or after a good ack.
    for version in VERSIONS {
        for first_byte in [0x60, 0x6A, 0x63] {
            let mut p = Peer::connected(version);
            p.send_bytes(&[first_byte, 0x02, 0x00, 0x01]);
            p.assert_violation(ReasonCode::MalformedPacket);

            let mut p = Peer::connected(version);
            p.send_bytes(&publish_wire(version, 0x34, "t", Some(1), b"m"));
            p.sent_bytes();
            p.events();
            let input = [ack_wire(0x62, 1), vec![first_byte, 0x02, 0x00, 0x01]].concat();
            p.send_bytes(&input);
            assert_eq!(
                violation_code(&disconnected(&p.events())),
                ReasonCode::MalformedPacket
            );
            // The good PUBREL was answered; then 5.0 says why it closes.
            let mut expected = ack_wire(0x70, 1);
            if version.is_v5() {
                expected.extend([0xE0, 0x02, 0x81, 0x00]);
            }
            assert_eq!(p.sent_bytes(), expected, "{version}");
        }
    }
}

#[test]
fn mqtt_4_3_3_13_the_qos2_exchange_completes_even_for_an_expired_message() {
    let mut p = Peer::connected(ProtocolVersion::V5);
    let mut incoming = publish("t", b"x", QosPid::ExactlyOnce(pid(4)));
    incoming.properties.message_expiry_interval = Some(1);
    p.send(incoming);
    assert_eq!(p.sent_bytes(), ack_wire(0x50, 4));
    p.advance(std::time::Duration::from_secs(5));
    p.sent_bytes();
    p.send_bytes(&ack_wire(0x62, 4));
    assert_eq!(p.sent_bytes(), ack_wire(0x70, 4));
}
