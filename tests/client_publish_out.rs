//! Client outgoing publish: QoS 0/1/2 flows, failures, flow control, the queue and stats.

mod peer;
use peer::*;

use mqtt_sansio::*;
use std::num::NonZeroU16;

/// A 5.0 CONNACK accepting the connection with the server's Receive Maximum.
fn connack_receive_maximum(receive_maximum: u16) -> ConnAck {
    let mut props = ConnAckProperties::new();
    props.receive_maximum = NonZeroU16::new(receive_maximum);
    connack_with_props(props)
}

fn connect_v5_receive_maximum(receive_maximum: u16) -> Peer {
    let mut p = Peer::with_version(ProtocolVersion::V5);
    p.assert_connects(connack_receive_maximum(receive_maximum));
    p
}

/// The PUBLISH packets among `packets`, as (payload, packet id, dup).
fn publishes(packets: &[Packet]) -> Vec<(Vec<u8>, Option<u16>, bool)> {
    packets
        .iter()
        .map(|p| match p {
            Packet::Publish(p) => (p.payload.to_vec(), p.packet_id().map(PacketId::get), p.dup),
            other => panic!("expected PUBLISH, got {other:?}"),
        })
        .collect()
}

#[test]
fn qos0_completes_on_write_byte_exact() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        let id = p.publish(message("a/b", b"hi", QoS::AtMostOnce));
        assert_eq!(
            p.sent_bytes(),
            publish_wire(version, 0x30, "a/b", None, b"hi")
        );
        assert_eq!(
            p.events(),
            vec![Event::Published {
                id,
                result: Ok(()),
                properties: PropertyBox::new(),
            }]
        );
        assert_eq!(p.client.stats().in_flight, 0);
    }
}

/// [MQTT-4.3.2-2] (5.0): the QoS 1 sender's PUBLISH carries its identifier with QoS 1
/// and DUP 0 (3.1.1: part of [MQTT-4.3.2-1]).
#[test]
fn mqtt_4_3_2_2_qos1_publish_dup0_byte_exact_then_puback_completes() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        let id = p.publish(message("a/b", b"hi", QoS::AtLeastOnce));
        // DUP 0, QoS 1, RETAIN 0, identifier 1.
        assert_eq!(
            p.sent_bytes(),
            publish_wire(version, 0x32, "a/b", Some(1), b"hi")
        );
        assert_eq!(p.events(), vec![]);
        assert_eq!(p.client.stats().in_flight, 1);
        p.send_bytes(&ack_wire(0x40, 1));
        assert_eq!(
            p.events(),
            vec![Event::Published {
                id,
                result: Ok(()),
                properties: PropertyBox::new(),
            }]
        );
        assert_eq!(p.client.stats().in_flight, 0);
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());

        // With RETAIN.
        let mut m = message("a/b", b"hi", QoS::AtLeastOnce);
        m.retain = true;
        p.publish(m);
        assert_eq!(
            p.sent_bytes(),
            publish_wire(version, 0x33, "a/b", Some(2), b"hi")
        );
    }
}

/// [MQTT-4.3.3-2] (5.0): the QoS 2 sender's PUBLISH carries its identifier with QoS 2
/// and DUP 0 (3.1.1: part of [MQTT-4.3.3-1]).
#[test]
fn mqtt_4_3_3_2_mqtt_4_3_3_4_qos2_pubrec_answered_with_pubrel_then_pubcomp_completes() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        let id = p.publish(message("q/2", b"xyz", QoS::ExactlyOnce));
        // [MQTT-4.3.3-2] (5.0) DUP 0, QoS 2.
        assert_eq!(
            p.sent_bytes(),
            publish_wire(version, 0x34, "q/2", Some(1), b"xyz")
        );
        p.send_bytes(&ack_wire(0x50, 1));
        // PUBREL: type 6 with the reserved flags 0010, same identifier.
        assert_eq!(p.sent_bytes(), ack_wire(0x62, 1));
        assert_eq!(p.events(), vec![]);
        assert_eq!(p.client.stats().in_flight, 1);
        // A repeated PUBREC gets a repeated PUBREL, and no PUBLISH again.
        p.send_bytes(&ack_wire(0x50, 1));
        assert_eq!(p.sent_bytes(), ack_wire(0x62, 1));
        p.send_bytes(&ack_wire(0x70, 1));
        assert_eq!(
            p.events(),
            vec![Event::Published {
                id,
                result: Ok(()),
                properties: PropertyBox::new(),
            }]
        );
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        assert_eq!(p.client.stats().in_flight, 0);
    }
}

/// A connected 5.0 client with one QoS 1 message in flight (identifier 1), and its
/// handle.
fn one_in_flight() -> (Peer, PublishId) {
    let mut p = Peer::connected(ProtocolVersion::V5);
    let id = p.publish(message("t", b"x", QoS::AtLeastOnce));
    p.sent();
    (p, id)
}

#[test]
fn mqtt_4_4_0_2_v5_puback_error_reason_fails_the_publish() {
    let (mut p, id) = one_in_flight();
    let mut ack = PubAck::new(pid(1));
    ack.reason_code = PubAckReasonCode::NotAuthorized;
    p.send(ack);
    assert_eq!(
        p.events(),
        vec![Event::Published {
            id,
            result: Err(PublishFailure::Rejected {
                reason_code: ReasonCode::NotAuthorized,
                reason_string: None
            }),
            properties: PropertyBox::new(),
        }]
    );
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    assert_eq!(p.client.stats().in_flight, 0);
    assert!(p.client.is_connected());

    // A reason below 0x80 is a success.
    let id = p.publish(message("t", b"x", QoS::AtLeastOnce));
    p.sent();
    let mut ack = PubAck::new(pid(2));
    ack.reason_code = PubAckReasonCode::NoMatchingSubscribers;
    p.send(ack);
    assert_eq!(
        p.events(),
        vec![Event::Published {
            id,
            result: Ok(()),
            properties: PropertyBox::new(),
        }]
    );
}

#[test]
fn mqtt_4_4_0_2_v5_pubrec_error_reason_fails_without_pubrel() {
    let mut p = connect_v5_receive_maximum(1);
    let failed = p.publish(message("t", b"1", QoS::ExactlyOnce));
    let next = p.publish(message("t", b"2", QoS::AtLeastOnce));
    assert_eq!(publishes(&p.sent()), vec![(b"1".to_vec(), Some(1), false)]);
    // PUBREC 0x97 (Quota exceeded) written by hand: 50 04 00 01 97 00.
    p.send_bytes(&[0x50, 0x04, 0x00, 0x01, 0x97, 0x00]);
    assert_eq!(
        published(&p.events()),
        vec![(
            failed,
            Err(PublishFailure::Rejected {
                reason_code: ReasonCode::QuotaExceeded,
                reason_string: None
            })
        )]
    );
    // No PUBREL; the slot it held goes to the next message.
    assert_eq!(publishes(&p.sent()), vec![(b"2".to_vec(), Some(2), false)]);
    p.send(PubAck::new(pid(2)));
    assert_eq!(published(&p.events()), vec![(next, Ok(()))]);
}

#[test]
fn mqtt_3_3_4_7_in_flight_never_exceeds_server_receive_maximum() {
    let mut p = connect_v5_receive_maximum(2);
    let m1 = p.publish(message("t", b"1", QoS::AtLeastOnce));
    let m2 = p.publish(message("t", b"2", QoS::ExactlyOnce));
    let m3 = p.publish(message("t", b"3", QoS::AtLeastOnce));
    let m4 = p.publish(message("t", b"4", QoS::AtMostOnce));
    let m5 = p.publish(message("t", b"5", QoS::AtLeastOnce));
    assert_eq!(
        publishes(&p.sent()),
        vec![
            (b"1".to_vec(), Some(1), false),
            (b"2".to_vec(), Some(2), false)
        ]
    );
    let stats = p.client.stats();
    assert_eq!((stats.in_flight, stats.queued), (2, 3));
    assert_eq!(p.events(), vec![]);

    // PUBREC does not free the slot: QoS 2 counts until PUBCOMP.
    p.send(PubRec::new(pid(2)));
    assert_eq!(p.sent(), vec![Packet::PubRel(PubRel::new(pid(2)))]);
    assert_eq!(p.client.stats().in_flight, 2);

    // PUBACK 1 frees one slot: message 3, then the QoS 0 behind it, in order.
    p.send(PubAck::new(pid(1)));
    assert_eq!(
        publishes(&p.sent()),
        vec![
            (b"3".to_vec(), Some(3), false),
            (b"4".to_vec(), None, false)
        ]
    );
    assert_eq!(published(&p.events()), vec![(m1, Ok(())), (m4, Ok(()))]);
    let stats = p.client.stats();
    assert_eq!((stats.in_flight, stats.queued), (2, 1));

    p.send(PubComp::new(pid(2)));
    assert_eq!(publishes(&p.sent()), vec![(b"5".to_vec(), Some(4), false)]);
    assert_eq!(published(&p.events()), vec![(m2, Ok(()))]);

    p.send(PubAck::new(pid(3)));
    p.send(PubAck::new(pid(4)));
    assert_eq!(published(&p.events()), vec![(m3, Ok(())), (m5, Ok(()))]);
    let stats = p.client.stats();
    assert_eq!((stats.in_flight, stats.queued), (0, 0));
}

#[test]
fn mqtt_4_9_0_2_max_inflight_caps_outgoing_qos1_and_qos2() {
    for version in VERSIONS {
        let mut p = Peer::connected_with(version, |c| c.max_inflight = NonZeroU16::new(1).unwrap());
        let a = p.publish(message("t", b"a", QoS::ExactlyOnce));
        let b = p.publish(message("t", b"b", QoS::AtLeastOnce));
        assert_eq!(publishes(&p.sent()), vec![(b"a".to_vec(), Some(1), false)]);
        assert_eq!(p.client.stats().queued, 1);
        p.send(PubRec::new(pid(1)));
        assert_eq!(p.sent(), vec![Packet::PubRel(PubRel::new(pid(1)))]);
        p.send(PubComp::new(pid(1)));
        assert_eq!(publishes(&p.sent()), vec![(b"b".to_vec(), Some(2), false)]);
        p.send(PubAck::new(pid(2)));
        assert_eq!(
            published(&p.events()),
            vec![(a, Ok(())), (b, Ok(()))],
            "{version}"
        );
    }
}

#[test]
fn server_receive_maximum_below_max_inflight_wins() {
    let mut p = Peer::configured(ProtocolVersion::V5, |c| {
        c.max_inflight = NonZeroU16::new(3).unwrap()
    });
    p.connect_with(connack_receive_maximum(2));
    for _ in 0..4 {
        p.publish(message("t", b"x", QoS::AtLeastOnce));
    }
    assert_eq!(p.sent().len(), 2);
    assert_eq!(p.client.stats().queued, 2);
}

#[test]
fn queue_full_at_max_queued() {
    for version in VERSIONS {
        let mut p = Peer::configured(version, |c| c.max_queued = 2);
        // Not connected: everything waits in the queue.
        p.publish(message("t", b"1", QoS::AtLeastOnce));
        p.publish(message("t", b"2", QoS::AtMostOnce));
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            assert_eq!(
                p.client.publish(p.now, message("t", b"3", qos)),
                Err(PublishError::QueueFull { capacity: 2 }),
                "{version}"
            );
        }
        assert_eq!(p.client.stats().queued, 2);
        p.connect();
        assert_eq!(p.client.stats().queued, 0);
        assert_eq!(p.sent().len(), 2);
    }
}

#[test]
fn queue_full_when_send_quota_is_used_up() {
    let mut p = Peer::configured(ProtocolVersion::V5, |c| c.max_queued = 1);
    p.connect_with(connack_receive_maximum(1));
    p.publish(message("t", b"1", QoS::AtLeastOnce));
    p.publish(message("t", b"2", QoS::AtLeastOnce));
    assert_eq!(
        p.client
            .publish(p.now, message("t", b"3", QoS::AtLeastOnce)),
        Err(PublishError::QueueFull { capacity: 1 })
    );
    assert_eq!(p.sent().len(), 1);
}

#[test]
fn publish_while_disconnected_queues_and_goes_out_after_connack() {
    for version in VERSIONS {
        let mut p = Peer::with_version(version);
        let a = p.publish(message("t", b"a", QoS::AtMostOnce));
        let b = p.publish(message("t", b"b", QoS::AtLeastOnce));
        assert_eq!(p.client.poll_transmit(), None);
        // QoS 0 completes when written, not when accepted into the queue.
        assert_eq!(p.events(), vec![]);
        assert_eq!(p.client.stats().queued, 2);
        // While CONNACK is awaited too.
        p.open();
        let c = p.publish(message("t", b"c", QoS::ExactlyOnce));
        assert_eq!(p.sent_bytes(), Vec::<u8>::new(), "{version}");
        p.send(connack(false));
        let events = p.events();
        assert!(matches!(events[0], Event::Connected(_)), "{events:?}");
        assert_eq!(published(&events), vec![(a, Ok(()))]);
        assert_eq!(
            publishes(&p.sent()),
            vec![
                (b"a".to_vec(), None, false),
                (b"b".to_vec(), Some(1), false),
                (b"c".to_vec(), Some(2), false)
            ],
            "{version}"
        );
        p.send(PubAck::new(pid(1)));
        p.send(PubRec::new(pid(2)));
        p.send(PubComp::new(pid(2)));
        assert_eq!(published(&p.events()), vec![(b, Ok(())), (c, Ok(()))]);
    }
}

#[test]
fn mqtt_3_3_4_8_subscribe_not_delayed_by_full_send_quota() {
    let mut p = connect_v5_receive_maximum(1);
    p.publish(message("t", b"1", QoS::AtLeastOnce));
    p.publish(message("t", b"2", QoS::AtLeastOnce));
    assert_eq!(p.sent().len(), 1);
    assert_eq!(p.client.stats().queued, 1);
    p.subscribe(vec![subscription("s", QoS::AtMostOnce)]);
    match p.sent().as_slice() {
        [Packet::Subscribe(s)] => assert_eq!(s.filters[0].filter, filter("s")),
        other => panic!("{other:?}"),
    }
    p.unsubscribe(vec![filter("s")]);
    assert!(matches!(p.sent().as_slice(), [Packet::Unsubscribe(_)]));
    assert_eq!(p.client.stats().queued, 1);
}

#[test]
fn puback_for_no_publish_in_flight_is_a_violation() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.send(PubAck::new(pid(9)));
        p.assert_violation(ReasonCode::ProtocolError);
    }
}

#[test]
fn pubcomp_before_pubrec_is_a_violation() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.publish(message("t", b"x", QoS::ExactlyOnce));
        p.sent();
        p.send(PubComp::new(pid(1)));
        p.assert_violation(ReasonCode::ProtocolError);
    }
}

#[test]
fn pubrec_for_unknown_identifier_answered_with_pubrel() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.send(PubRec::new(pid(9)));
        let mut expected = PubRel::new(pid(9));
        if version.is_v5() {
            // 0x92 Packet Identifier not found.
            expected.reason_code = PubRelReasonCode::PacketIdentifierNotFound;
        }
        assert_eq!(p.sent(), vec![Packet::PubRel(expected)]);
        assert_eq!(p.events(), vec![]);
        assert!(p.client.is_connected());
    }
}

#[test]
fn stats_count_packets_bytes_in_flight_and_queued() {
    for version in VERSIONS {
        let mut p = Peer::configured(version, |c| c.max_inflight = NonZeroU16::new(1).unwrap());
        assert_eq!(p.client.stats(), Stats::default());

        let mut sent_bytes = 0u64;
        p.client.handle_transport_open(p.now).unwrap();
        let connect = p.sent_bytes();
        sent_bytes += connect.len() as u64;
        // CONNACK; 5.0 adds a property length.
        let connack: &[u8] = if version.is_v5() {
            &[0x20, 0x03, 0x00, 0x00, 0x00]
        } else {
            &[0x20, 0x02, 0x00, 0x00]
        };
        let mut received = connack.len() as u64;
        p.send_bytes(connack);
        assert!(matches!(p.events().as_slice(), [Event::Connected(_)]));
        let s = p.client.stats();
        assert_eq!(s.packets_sent, 1);
        assert_eq!(s.bytes_sent, sent_bytes);
        assert_eq!(s.packets_received, 1);
        assert_eq!(s.bytes_received, received);

        p.publish(message("t", b"1", QoS::AtLeastOnce));
        p.publish(message("t", b"2", QoS::AtLeastOnce));
        sent_bytes += p.sent_bytes().len() as u64;
        let s = p.client.stats();
        assert_eq!((s.in_flight, s.queued), (1, 1));
        assert_eq!(s.packets_sent, 2);
        assert_eq!(s.bytes_sent, sent_bytes);

        // A PUBACK split over two inputs: bytes count per input, packets when whole.
        p.send_bytes(&[0x40, 0x02]);
        received += 2;
        let s = p.client.stats();
        assert_eq!((s.packets_received, s.bytes_received), (1, received));
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        p.send_bytes(&[0x00, 0x01]);
        received += 2;
        sent_bytes += p.sent_bytes().len() as u64;
        let s = p.client.stats();
        assert_eq!((s.packets_received, s.bytes_received), (2, received));
        assert_eq!((s.in_flight, s.queued), (1, 0));
        assert_eq!(s.packets_sent, 3);
        assert_eq!(s.bytes_sent, sent_bytes);

        p.send_bytes(&ack_wire(0x40, 2));
        let s = p.client.stats();
        assert_eq!((s.in_flight, s.queued), (0, 0));
        assert_eq!((s.packets_received, s.bytes_received), (3, received + 4));
        assert_eq!(published(&p.events()).len(), 2);
    }
}

#[test]
fn publish_refuses_empty_topic_and_client_managed_properties() {
    let mut p = Peer::connected(ProtocolVersion::V5);
    let empty = Message::new(TopicName::empty(), bytes::Bytes::new(), QoS::AtMostOnce);
    assert_eq!(
        p.client.publish(p.now, empty),
        Err(PublishError::EmptyTopic)
    );
    let mut alias = message("t", b"x", QoS::AtLeastOnce);
    alias.properties.topic_alias = NonZeroU16::new(1);
    assert!(matches!(
        p.client.publish(p.now, alias),
        Err(PublishError::PropertyNotAllowed(_))
    ));
    let mut sub_id = message("t", b"x", QoS::AtLeastOnce);
    sub_id
        .properties
        .subscription_identifiers
        .push(SubscriptionId::new(3).unwrap());
    assert!(matches!(
        p.client.publish(p.now, sub_id),
        Err(PublishError::PropertyNotAllowed(_))
    ));
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    assert_eq!(p.events(), vec![]);

    // 3.1.1 has no properties at all.
    let mut p = Peer::connected(ProtocolVersion::V311);
    let mut with_props = message("t", b"x", QoS::AtLeastOnce);
    with_props.properties.message_expiry_interval = Some(10);
    assert!(matches!(
        p.client.publish(p.now, with_props),
        Err(PublishError::Invalid(_))
    ));
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
}

/// [MQTT-6.0.0-2]: the client never assumes packets align with the reads (or the
/// WebSocket frames) that bring them: several packets or part of one per read.
#[test]
fn acks_and_other_packets_in_any_split_complete_the_same_way() {
    // The client reads whole four-byte acks in place; anything else, and any ack split
    // across reads, goes through the decoder. Every split gives the same outcome.
    for version in VERSIONS {
        let mut stream = Vec::new();
        stream.extend(ack_wire(0x40, 1));
        stream.extend(ack_wire(0x50, 2));
        stream.extend(publish_wire(version, 0x30, "in", None, b"hello"));
        stream.extend(ack_wire(0x70, 2));
        stream.extend(ack_wire(0x40, 3));
        for split in 1..stream.len() {
            let mut p = Peer::connected(version);
            let one = p.publish(message("a", b"1", QoS::AtLeastOnce));
            let two = p.publish(message("b", b"2", QoS::ExactlyOnce));
            let three = p.publish(message("c", b"3", QoS::AtLeastOnce));
            p.sent();
            for chunk in stream.chunks(split) {
                p.send_bytes(chunk);
            }
            let events = p.events();
            assert_eq!(
                published(&events),
                vec![(one, Ok(())), (two, Ok(())), (three, Ok(()))],
                "{version} split {split}"
            );
            assert_eq!(messages(&events).len(), 1, "{version} split {split}");
            // PUBREL for 2 went out between.
            assert_eq!(p.sent_bytes(), ack_wire(0x62, 2), "{version} split {split}");
            assert_eq!(p.client.stats().in_flight, 0);
        }
    }
}

#[test]
fn a_rejecting_ack_surfaces_its_reason_string() {
    let (mut p, id) = one_in_flight();
    let mut ack = PubAck::new(pid(1));
    ack.reason_code = PubAckReasonCode::QuotaExceeded;
    ack.properties.reason_string = Some(s("over quota"));
    p.send(ack);
    assert_eq!(
        published(&p.events()),
        vec![(
            id,
            Err(PublishFailure::Rejected {
                reason_code: ReasonCode::QuotaExceeded,
                reason_string: Some(s("over quota")),
            })
        )]
    );
}

#[test]
fn a_publish_beyond_the_protocols_largest_packet_is_refused_even_without_a_server_limit() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        // A zeroed allocation: the pages are never touched.
        let payload = bytes::Bytes::from(vec![0u8; MAX_REMAINING_LENGTH as usize]);
        let m = Message::new(topic("t"), payload, QoS::AtLeastOnce);
        assert!(matches!(
            p.client.publish(p.now, m),
            Err(PublishError::PacketTooLarge {
                maximum: MAX_PACKET_SIZE,
                ..
            })
        ));
        assert!(p.sent_bytes().is_empty());
        assert_eq!(p.client.stats().in_flight, 0);
    }
}

#[test]
fn an_acknowledgement_s_user_properties_come_with_the_completion() {
    let (mut p, id) = one_in_flight();
    let mut ack = PubAck::new(pid(1));
    ack.properties
        .user_properties
        .push(s("stored"), s("disk-2"));
    p.send(ack);
    match p.events().as_slice() {
        [
            Event::Published {
                id: done,
                result: Ok(()),
                properties,
            },
        ] => {
            assert_eq!(*done, id);
            assert_eq!(properties.user_properties.get("stored"), Some("disk-2"));
        }
        other => panic!("{other:?}"),
    }
}
