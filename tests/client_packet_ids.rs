//! Client packet identifiers: one space for PUBLISH, SUBSCRIBE and UNSUBSCRIBE, no reuse in flight, wrap, exhaustion.

mod peer;
use peer::*;

use mqtt_sansio::*;
use std::collections::BTreeSet;

/// The packet identifier of the one packet the client just sent.
fn sent_id(p: &mut Peer) -> u16 {
    let sent = p.sent();
    let [packet] = sent.as_slice() else {
        panic!("expected one packet, got {sent:?}");
    };
    match packet {
        Packet::Publish(publish) => publish.packet_id().expect("qos > 0").get(),
        Packet::Subscribe(s) => s.packet_id.get(),
        Packet::Unsubscribe(u) => u.packet_id.get(),
        other => panic!("{other:?}"),
    }
}

fn sub(f: &str) -> Vec<Subscription> {
    vec![subscription(f, QoS::AtLeastOnce)]
}

/// Publishes a QoS 1 message and has the server acknowledge it at once; returns its id.
fn publish_acked(p: &mut Peer) -> u16 {
    p.publish(message("t", b"", QoS::AtLeastOnce));
    let id = sent_id(p);
    p.send(PubAck::new(pid(id)));
    id
}

#[test]
fn mqtt_4_3_2_1_mqtt_4_3_3_1_one_identifier_space_for_publish_subscribe_unsubscribe() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        let mut ids = BTreeSet::new();
        for round in 0..3 {
            p.publish(message("t", b"1", QoS::AtLeastOnce));
            assert!(ids.insert(sent_id(&mut p)), "{version} round {round}");
            p.publish(message("t", b"2", QoS::ExactlyOnce));
            assert!(ids.insert(sent_id(&mut p)), "{version} round {round}");
            p.subscribe(sub("a/+"));
            assert!(ids.insert(sent_id(&mut p)), "{version} round {round}");
            p.unsubscribe(vec![filter("a/+")]);
            assert!(ids.insert(sent_id(&mut p)), "{version} round {round}");
            // QoS 0 takes no identifier.
            p.publish(message("t", b"0", QoS::AtMostOnce));
            match p.sent().as_slice() {
                [Packet::Publish(publish)] => assert_eq!(publish.packet_id(), None),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(ids.len(), 12);
        assert!(!ids.contains(&0));
        assert_eq!(p.client.stats().in_flight, 6);
    }
}

#[test]
fn mqtt_2_3_1_2_identifiers_in_flight_are_never_reused_across_the_wrap() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        // Held for the whole test: a QoS 1 PUBLISH, a QoS 2 PUBLISH waiting for
        // PUBCOMP, a SUBSCRIBE and an UNSUBSCRIBE.
        p.publish(message("held", b"1", QoS::AtLeastOnce));
        let q1 = sent_id(&mut p);
        p.publish(message("held", b"2", QoS::ExactlyOnce));
        let q2 = sent_id(&mut p);
        p.send(PubRec::new(pid(q2)));
        assert!(matches!(p.sent().as_slice(), [Packet::PubRel(_)]));
        p.subscribe(sub("held"));
        let s = sent_id(&mut p);
        p.unsubscribe(vec![filter("held")]);
        let u = sent_id(&mut p);
        let held = [q1, q2, s, u];

        // Two full turns of the identifier space.
        let mut seen = BTreeSet::new();
        for _ in 0..2 * 65535 {
            let id = publish_acked(&mut p);
            assert!(
                !held.contains(&id),
                "{version}: reused {id} while in flight"
            );
            seen.insert(id);
        }
        assert_eq!(seen.len(), 65535 - held.len(), "{version}");
        let events = p.events();
        assert_eq!(published(&events).len(), 2 * 65535);
        assert!(published(&events).iter().all(|(_, r)| r.is_ok()));
        assert!(p.client.is_connected());
    }
}

#[test]
fn packet_ids_wrap_after_65535() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        for expected in 1..=65535u16 {
            assert_eq!(publish_acked(&mut p), expected, "{version}");
        }
        // Past 65,535 the next identifier is 1 again (never 0).
        assert_eq!(publish_acked(&mut p), 1, "{version}");
        assert_eq!(publish_acked(&mut p), 2, "{version}");
        p.subscribe(sub("x"));
        assert_eq!(sent_id(&mut p), 3);
        assert_eq!(p.client.stats().in_flight, 0);
        assert!(p.client.is_connected());
    }
}

/// A connected client with every one of the 65,535 identifiers held by a QoS 1
/// PUBLISH in flight.
fn exhausted_by_publishes(version: ProtocolVersion) -> Peer {
    let mut p = Peer::connected(version);
    for _ in 0..65535 {
        p.publish(message("t", b"", QoS::AtLeastOnce));
    }
    let bytes = p.sent_bytes();
    // 3.1.1: 30 05 00 01 't' id id; 5.0 adds a property length byte.
    let per_packet = if version.is_v5() { 8 } else { 7 };
    assert_eq!(bytes.len(), 65535 * per_packet);
    assert_eq!(p.client.stats().in_flight, 65535);
    p
}

/// On a connected client: a SUBSCRIBE, then QoS 1 PUBLISHes in flight for every other
/// identifier; output drained. Returns the SUBSCRIBE's identifier.
fn exhaust_behind_a_subscribe(p: &mut Peer) -> u16 {
    p.subscribe(sub("a"));
    let sub_id = sent_id(p);
    for _ in 0..65534 {
        p.publish(message("t", b"", QoS::AtLeastOnce));
    }
    p.sent_bytes();
    sub_id
}

/// The client just sent the message that waited on topic "w", under identifier `id`.
fn assert_waiting_sent_as(p: &mut Peer, id: u16) {
    match p.sent().as_slice() {
        [Packet::Publish(publish)] => {
            assert_eq!(publish.topic.as_str(), "w");
            assert_eq!(publish.packet_id(), Some(pid(id)), "{}", p.version);
        }
        other => panic!("{}: {other:?}", p.version),
    }
}

#[test]
fn subscribe_and_unsubscribe_refused_when_identifiers_exhausted() {
    for version in VERSIONS {
        let mut p = exhausted_by_publishes(version);
        assert_eq!(
            p.client.subscribe(p.now, sub("a")),
            Err(SubscribeError::PacketIdsExhausted)
        );
        assert_eq!(
            p.client.unsubscribe(p.now, vec![filter("a")]),
            Err(SubscribeError::PacketIdsExhausted)
        );
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        assert_eq!(p.events(), vec![]);

        // One PUBACK frees exactly that identifier.
        p.send(PubAck::new(pid(777)));
        assert_eq!(published(&p.events()).len(), 1);
        p.subscribe(sub("a"));
        assert_eq!(sent_id(&mut p), 777, "{version}");
        assert_eq!(
            p.client.unsubscribe(p.now, vec![filter("a")]),
            Err(SubscribeError::PacketIdsExhausted)
        );
    }
}

#[test]
fn publish_refused_when_identifiers_exhausted() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        let sub_id = exhaust_behind_a_subscribe(&mut p);
        // The send quota (65,535) still has room, but no identifier is free.
        assert_eq!(
            p.client.publish(p.now, message("t", b"", QoS::AtLeastOnce)),
            Err(PublishError::PacketIdsExhausted)
        );
        assert_eq!(
            p.client.publish(p.now, message("t", b"", QoS::ExactlyOnce)),
            Err(PublishError::PacketIdsExhausted)
        );
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        assert_eq!(p.client.stats().queued, 0);
        // QoS 0 needs no identifier.
        p.publish(message("t", b"", QoS::AtMostOnce));
        assert_eq!(p.sent().len(), 1);

        // The SUBACK frees the subscription's identifier for the next PUBLISH.
        p.send(SubAck::new(
            pid(sub_id),
            vec![SubAckReasonCode::GrantedQoS1],
        ));
        let events = p.events();
        assert!(
            matches!(
                events.as_slice(),
                [Event::Published { .. }, Event::Subscribed { .. }]
            ),
            "{events:?}"
        );
        p.publish(message("t", b"", QoS::AtLeastOnce));
        assert_eq!(sent_id(&mut p), sub_id, "{version}");
    }
}

/// [MQTT-2.3.1-3]: an identifier is free again only once its PUBACK was processed.
#[test]
fn publish_at_full_identifier_space_waits_for_a_free_identifier() {
    for version in VERSIONS {
        let mut p = exhausted_by_publishes(version);
        // 65,535 in flight is also the whole send quota: the message waits in the
        // queue rather than failing.
        let waiting = p.publish(message("w", b"", QoS::AtLeastOnce));
        assert_eq!(p.client.stats().queued, 1);
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        p.send(PubAck::new(pid(4242)));
        assert_eq!(published(&p.events()).len(), 1);
        assert_waiting_sent_as(&mut p, 4242);
        assert_eq!(p.client.stats().queued, 0);
        p.send(PubAck::new(pid(4242)));
        assert_eq!(published(&p.events()), vec![(waiting, Ok(()))]);
    }
}

/// [MQTT-2.3.1-3]: identifiers still held across the reconnection are re-used only
/// once the SUBACK was processed.
#[test]
fn queued_publish_goes_out_when_suback_frees_the_last_identifier() {
    for version in VERSIONS {
        let mut p = Peer::keeping_session(version);
        p.connect();
        let sub_id = exhaust_behind_a_subscribe(&mut p);
        p.drop_transport();
        p.events();
        // Queued while disconnected; after the reconnection every identifier is
        // still held, so it has to wait for one.
        let waiting = p.publish(message("w", b"", QoS::AtLeastOnce));
        p.connect_with(connack(true));
        let resent = p.sent();
        assert_eq!(
            resent.len(),
            65535,
            "{version}: re-sent PUBLISHes and SUBSCRIBE"
        );
        assert_eq!(p.client.stats().queued, 1);

        p.send(SubAck::new(
            pid(sub_id),
            vec![SubAckReasonCode::GrantedQoS1],
        ));
        assert!(matches!(p.events().as_slice(), [Event::Subscribed { .. }]));
        // The identifier the SUBACK freed carries the waiting message.
        assert_waiting_sent_as(&mut p, sub_id);
        p.send(PubAck::new(pid(sub_id)));
        assert_eq!(published(&p.events()), vec![(waiting, Ok(()))]);
    }
}
