//! Manual acknowledgement: incoming QoS 1/2 messages are acknowledged when the
//! application says so, in any order, and count against the client's Receive Maximum
//! until then.

mod peer;
use mqtt_sansio::*;
use peer::*;
use std::num::NonZeroU16;

fn manual(version: ProtocolVersion) -> Peer {
    Peer::connected_with(version, |c| c.manual_acks = true)
}

/// The delivery handles of the messages among `events`, with their payloads.
fn deliveries(events: &[Event]) -> Vec<(DeliveryId, Vec<u8>)> {
    messages(events)
        .into_iter()
        .map(|m| (m.delivery.expect("a delivery handle"), m.payload.to_vec()))
        .collect()
}

#[test]
fn mqtt_4_3_2_4_qos1_is_acknowledged_when_the_application_acks_in_any_order() {
    for version in VERSIONS {
        let mut p = manual(version);
        for (pid, payload) in [(1, b"a"), (2, b"b"), (3, b"c")] {
            p.send_bytes(&publish_wire(version, 0x32, "t", Some(pid), payload));
        }
        let got = deliveries(&p.events());
        assert_eq!(got.len(), 3);
        assert!(
            p.sent_bytes().is_empty(),
            "{version}: nothing before the acks"
        );
        for i in [2, 0, 1] {
            p.client.ack(p.now, got[i].0).unwrap();
        }
        let expected = [ack_wire(0x40, 3), ack_wire(0x40, 1), ack_wire(0x40, 2)].concat();
        assert_eq!(p.sent_bytes(), expected, "{version}");
        assert_eq!(p.client.ack(p.now, got[0].0), Err(AckError::Unknown));
    }
}

#[test]
fn mqtt_4_3_3_8_mqtt_4_3_3_10_qos2_pubrec_waits_for_the_ack_and_repeats_are_not_delivered_again() {
    for version in VERSIONS {
        let mut p = manual(version);
        p.send_bytes(&publish_wire(version, 0x34, "t", Some(7), b"m"));
        let got = deliveries(&p.events());
        assert_eq!(got.len(), 1);
        assert!(p.sent_bytes().is_empty());
        // A repeat before the ack: neither delivered nor acknowledged.
        p.send_bytes(&publish_wire(version, 0x3C, "t", Some(7), b"m"));
        assert!(messages(&p.events()).is_empty());
        assert!(p.sent_bytes().is_empty());
        p.client.ack(p.now, got[0].0).unwrap();
        assert_eq!(p.sent_bytes(), ack_wire(0x50, 7));
        // A repeat after it: PUBREC again, still not delivered.
        p.send_bytes(&publish_wire(version, 0x3C, "t", Some(7), b"m"));
        assert_eq!(p.sent_bytes(), ack_wire(0x50, 7));
        assert!(messages(&p.events()).is_empty());
        p.send_bytes(&ack_wire(0x62, 7));
        assert_eq!(p.sent_bytes(), ack_wire(0x70, 7));
    }
}

#[test]
fn mqtt_3_3_4_9_unacknowledged_messages_hold_back_the_server_at_the_receive_maximum() {
    let mut p = Peer::connected_with(ProtocolVersion::V5, |c| {
        c.manual_acks = true;
        c.receive_maximum = NonZeroU16::new(2).unwrap();
    });
    let v = ProtocolVersion::V5;
    p.send_bytes(&publish_wire(v, 0x32, "t", Some(1), b"1"));
    p.send_bytes(&publish_wire(v, 0x34, "t", Some(2), b"2"));
    let got = deliveries(&p.events());
    assert_eq!(got.len(), 2);
    // One acknowledged: room for one more.
    p.client.ack(p.now, got[0].0).unwrap();
    assert_eq!(p.sent_bytes(), ack_wire(0x40, 1));
    p.send_bytes(&publish_wire(v, 0x32, "t", Some(3), b"3"));
    assert_eq!(deliveries(&p.events()).len(), 1);
    // Two waiting again: a third is beyond what the client allowed.
    p.send_bytes(&publish_wire(v, 0x32, "t", Some(4), b"4"));
    p.assert_violation(ReasonCode::ReceiveMaximumExceeded);
}

#[test]
fn mqtt_4_3_3_9_a_refused_qos2_frees_its_identifier_for_a_new_message() {
    let mut p = manual(ProtocolVersion::V5);
    let v = ProtocolVersion::V5;
    p.send_bytes(&publish_wire(v, 0x34, "t", Some(5), b"first"));
    let got = deliveries(&p.events());
    p.client
        .ack_with(p.now, got[0].0, PubAckReasonCode::NotAuthorized)
        .unwrap();
    // PUBREC 0x87, with the property length that follows a reason code.
    assert_eq!(p.sent_bytes(), vec![0x50, 0x04, 0x00, 0x05, 0x87, 0x00]);
    // The same identifier again is a new message.
    p.send_bytes(&publish_wire(v, 0x34, "t", Some(5), b"second"));
    assert_eq!(deliveries(&p.events())[0].1, b"second");
}

#[test]
fn a_refusing_puback_in_v5_and_no_reason_codes_in_v311() {
    let mut p = manual(ProtocolVersion::V5);
    p.send_bytes(&publish_wire(ProtocolVersion::V5, 0x32, "t", Some(9), b"x"));
    let got = deliveries(&p.events());
    p.client
        .ack_with(p.now, got[0].0, PubAckReasonCode::UnspecifiedError)
        .unwrap();
    assert_eq!(p.sent_bytes(), vec![0x40, 0x04, 0x00, 0x09, 0x80, 0x00]);

    let mut p = manual(ProtocolVersion::V311);
    p.send_bytes(&publish_wire(
        ProtocolVersion::V311,
        0x32,
        "t",
        Some(9),
        b"x",
    ));
    let got = deliveries(&p.events());
    assert_eq!(
        p.client
            .ack_with(p.now, got[0].0, PubAckReasonCode::UnspecifiedError),
        Err(AckError::ReasonNeedsV5)
    );
    // Still waiting: a plain ack goes through.
    p.client.ack(p.now, got[0].0).unwrap();
    assert_eq!(p.sent_bytes(), ack_wire(0x40, 9));
}

#[test]
fn qos0_carries_no_delivery_handle_and_automatic_mode_none_either() {
    let mut p = manual(ProtocolVersion::V311);
    p.send_bytes(&publish_wire(ProtocolVersion::V311, 0x30, "t", None, b"x"));
    assert_eq!(messages(&p.events())[0].delivery, None);
    let mut p = Peer::connected(ProtocolVersion::V311);
    p.send_bytes(&publish_wire(
        ProtocolVersion::V311,
        0x32,
        "t",
        Some(1),
        b"x",
    ));
    assert_eq!(messages(&p.events())[0].delivery, None);
    assert_eq!(p.sent_bytes(), ack_wire(0x40, 1));
}

#[test]
fn an_ack_while_disconnected_is_kept_for_qos2_and_a_lost_session_drops_what_waits() {
    for version in VERSIONS {
        let mut p = Peer::configured(version, |c| {
            c.manual_acks = true;
            c.clean_start = false;
        });
        p.assert_connects(connack(false));
        p.send_bytes(&publish_wire(version, 0x34, "t", Some(3), b"q2"));
        p.send_bytes(&publish_wire(version, 0x32, "t", Some(4), b"q1"));
        let got = deliveries(&p.events());
        p.drop_transport();
        p.events();
        // Acknowledged with no connection: nothing to send now.
        p.client.ack(p.now, got[0].0).unwrap();
        assert!(p.sent_bytes().is_empty());
        p.reconnect(connack(true));
        // The server repeats its QoS 2 message: PUBREC at once, not delivered again.
        p.send_bytes(&publish_wire(version, 0x3C, "t", Some(3), b"q2"));
        assert_eq!(p.sent_bytes(), ack_wire(0x50, 3), "{version}");
        assert!(messages(&p.events()).is_empty());
        // The QoS 1 one still waits and can be acknowledged on this connection.
        p.client.ack(p.now, got[1].0).unwrap();
        assert_eq!(p.sent_bytes(), ack_wire(0x40, 4));

        // A message waiting when the server loses the session is owed nothing.
        p.send_bytes(&publish_wire(version, 0x32, "t", Some(5), b"late"));
        let waiting = deliveries(&p.events());
        let events = p.reconnect(connack(false));
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::SessionLost { .. }))
        );
        assert_eq!(p.client.ack(p.now, waiting[0].0), Err(AckError::Unknown));
    }
}

#[test]
fn a_manual_ack_can_carry_a_reason_string_and_user_properties_in_v5_only() {
    let mut p = manual(ProtocolVersion::V5);
    p.send_bytes(&publish_wire(ProtocolVersion::V5, 0x32, "t", Some(2), b"x"));
    let got = deliveries(&p.events());
    let mut properties = AckProperties::new();
    properties.reason_string = Some(s("kept"));
    properties.user_properties.push(s("shard"), s("3"));
    p.client
        .ack_with_properties(
            p.now,
            got[0].0,
            PubAckReasonCode::Success,
            properties.clone(),
        )
        .unwrap();
    match p.sent().as_slice() {
        [Packet::PubAck(ack)] => assert_eq!(*ack.properties, properties),
        other => panic!("{other:?}"),
    }

    let mut p = manual(ProtocolVersion::V311);
    p.send_bytes(&publish_wire(
        ProtocolVersion::V311,
        0x32,
        "t",
        Some(2),
        b"x",
    ));
    let got = deliveries(&p.events());
    assert_eq!(
        p.client
            .ack_with_properties(p.now, got[0].0, PubAckReasonCode::Success, properties),
        Err(AckError::ReasonNeedsV5)
    );
}
