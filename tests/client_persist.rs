//! Session persistence: a client's session exported to bytes and restored into a new
//! client after a "process restart" keeps every QoS 1/2 guarantee. Messages in every
//! stage complete exactly once under the handles given before the restart, the server's
//! repeat of a QoS 2 message is not delivered again, and the restored client behaves as
//! the original would have. Truncated, corrupt and random bytes are refused with a typed
//! error, never a panic.

mod peer;
use peer::*;

use bytes::Bytes;
use mqtt_sansio::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::time::Duration;

/// Clean Start 0, a session that outlives the connection, no keep-alive (virtual time
/// moves without PINGREQs).
fn persistent_config(version: ProtocolVersion) -> ClientConfig {
    let mut config = Peer::config(version);
    config.clean_start = false;
    config.session_expiry_interval = 3600;
    config.keep_alive = 0;
    config
}

/// The number inside a handle, read from its `Debug` form (`PublishId(7)`): handles of
/// all three kinds come from one counter.
fn number(handle: impl Debug) -> u64 {
    let text = format!("{handle:?}");
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

/// Every command's completions over a whole test, across the restart.
#[derive(Default, Debug)]
struct Completions {
    published: BTreeMap<PublishId, Vec<Result<(), PublishFailure>>>,
    subscribed: BTreeMap<SubscribeId, usize>,
    unsubscribed: BTreeMap<UnsubscribeId, usize>,
    messages: Vec<Bytes>,
}

impl Completions {
    fn record(&mut self, events: &[Event]) {
        for e in events {
            match e {
                Event::Published { id, result, .. } => {
                    self.published.entry(*id).or_default().push(result.clone())
                }
                Event::Subscribed { id, .. } => *self.subscribed.entry(*id).or_default() += 1,
                Event::Unsubscribed { id, .. } => *self.unsubscribed.entry(*id).or_default() += 1,
                Event::Message(m) => self.messages.push(m.payload.clone()),
                _ => {}
            }
        }
    }
}

/// A client with messages in every stage, disconnected, and the handles of its
/// commands.
struct Staged {
    p: Peer,
    done: Completions,
    /// SUBSCRIBE acknowledged before the restart: two tracked subscriptions.
    tracked: SubscribeId,
    /// QoS 1 in flight.
    a: PublishId,
    /// QoS 2 in flight, no PUBREC.
    b: PublishId,
    /// QoS 2 after PUBREC: PUBREL sent.
    c: PublishId,
    /// SUBSCRIBE not acknowledged.
    f: SubscribeId,
    /// UNSUBSCRIBE not acknowledged.
    u: UnsubscribeId,
    /// Queued while disconnected: QoS 1, QoS 2, QoS 0.
    e: PublishId,
    g: PublishId,
    z: PublishId,
}

impl Staged {
    fn publish_ids(&self) -> Vec<PublishId> {
        vec![self.a, self.b, self.c, self.e, self.g, self.z]
    }

    fn handle_numbers(&self) -> BTreeSet<u64> {
        let mut all: BTreeSet<u64> = self.publish_ids().into_iter().map(number).collect();
        all.extend([number(self.tracked), number(self.f), number(self.u)]);
        all
    }
}

/// The subscriptions acknowledged before the restart; in 5.0 with every option and a
/// Subscription Identifier.
fn tracked_subscriptions(version: ProtocolVersion) -> (Vec<Subscription>, SubscribeProperties) {
    let mut properties = SubscribeProperties::default();
    let mut second = subscription("s/2", QoS::ExactlyOnce);
    if version.is_v5() {
        properties.subscription_identifier = SubscriptionId::new(7);
        second.options.no_local = true;
        second.options.retain_as_published = true;
        second.options.retain_handling = RetainHandling::DoNotSend;
    }
    (
        vec![subscription("s/1", QoS::AtLeastOnce), second],
        properties,
    )
}

fn staged(version: ProtocolVersion) -> Staged {
    let mut p = Peer::new(persistent_config(version));
    p.connect();
    let mut done = Completions::default();

    let (filters, properties) = tracked_subscriptions(version);
    let tracked = p
        .client
        .subscribe_with_properties(p.now, filters, properties)
        .unwrap();
    p.send(SubAck::new(
        pid(1),
        vec![SubAckReasonCode::GrantedQoS1, SubAckReasonCode::GrantedQoS2],
    ));
    p.advance(Duration::from_millis(1500));
    let a = p.publish(message("a", b"1", QoS::AtLeastOnce));
    let b = p.publish(message("b", b"2", QoS::ExactlyOnce));
    let c = p.publish(message("c", b"3", QoS::ExactlyOnce));
    p.sent_bytes();
    p.send(PubRec::new(pid(4)));
    assert_eq!(p.sent_bytes(), ack_wire(0x62, 4));
    // Incoming QoS 2, delivered, PUBREC sent, no PUBREL yet.
    p.send_bytes(&publish_wire(version, 0x34, "in", Some(9), b"once"));
    assert_eq!(p.sent_bytes(), ack_wire(0x50, 9));
    let f = p.subscribe(vec![subscription("f", QoS::AtLeastOnce)]);
    let u = p.unsubscribe(vec![filter("s/2")]);
    p.sent_bytes();
    done.record(&p.events());

    p.drop_transport();
    p.events();
    p.advance(Duration::from_secs(2));
    let e = p.publish(message("e", b"5", QoS::AtLeastOnce));
    let g = p.publish(message("g", b"6", QoS::ExactlyOnce));
    let z = p.publish(message("z", b"0", QoS::AtMostOnce));
    done.record(&p.events());
    assert_eq!(done.subscribed.get(&tracked), Some(&1));
    assert_eq!(done.messages, vec![Bytes::from_static(b"once")]);
    let stats = p.client.stats();
    assert_eq!((stats.in_flight, stats.queued), (3, 3));
    Staged {
        p,
        done,
        tracked,
        a,
        b,
        c,
        f,
        u,
        e,
        g,
        z,
    }
}

/// The subscriptions of `client` with their options.
fn subscriptions_of(client: &Client) -> Vec<(TopicFilter, SubscriptionOptions)> {
    client
        .subscriptions()
        .map(|(f, o)| (f.clone(), *o))
        .collect()
}

/// Exports the staged client's session and restores it into a new client in a new
/// harness, at the same virtual time.
fn restart(s: &Staged) -> Peer {
    restart_from(&s.p, &s.p.client.export_session())
}

/// The UNSUBACK of one filter: 5.0 with its result, 3.1.1 as its four bytes.
fn unsuback(p: &mut Peer, id: u16) {
    if p.version.is_v5() {
        p.send(UnsubAck::new(pid(id), vec![UnsubAckReasonCode::Success]));
    } else {
        p.send_bytes(&ack_wire(0xB0, id));
    }
}

#[test]
fn export_of_the_same_state_is_the_same_bytes_and_starts_with_the_header() {
    for version in VERSIONS {
        let s = staged(version);
        let stored = s.p.client.export_session();
        assert_eq!(stored, s.p.client.export_session());
        assert_eq!(&stored[..6], [b'M', b'Q', b'S', b'S', 1, version.level()]);
        let restored = Client::restore(persistent_config(version), &stored).unwrap();
        assert_eq!(restored.export_session(), stored, "{version}");
        assert_eq!(restored.state(), State::Disconnected);
        assert_eq!(restored.stats().in_flight, 3);
        assert_eq!(restored.stats().queued, 3);
        assert_eq!(subscriptions_of(&restored), subscriptions_of(&s.p.client));
        assert_eq!(subscriptions_of(&restored).len(), 2);
    }
}

#[test]
fn restored_session_resumes_byte_exact_and_every_message_completes_exactly_once() {
    for version in VERSIONS {
        let mut s = staged(version);
        let mut done = std::mem::take(&mut s.done);
        let mut q = restart(&s);
        let connect = q.open();
        assert!(!connect.clean_start);
        q.send(connack(true));
        let events = q.events();
        assert!(
            matches!(events.first(), Some(Event::Connected(c)) if c.session_present),
            "{events:?}"
        );
        done.record(&events);

        // In the order first sent: PUBLISH a and b again with DUP 1 and their
        // identifiers, PUBREL for c; then the requests; then the queue, e and g with
        // the next identifiers, z at QoS 0.
        let mut expected = Vec::new();
        expected.extend(publish_wire(version, 0x3A, "a", Some(2), b"1"));
        expected.extend(publish_wire(version, 0x3C, "b", Some(3), b"2"));
        expected.extend(ack_wire(0x62, 4));
        if version.is_v5() {
            expected.extend([0x82, 0x07, 0x00, 0x05, 0x00, 0x00, 0x01, b'f', 0x01]);
            expected.extend([0xA2, 0x08, 0x00, 0x06, 0x00, 0x00, 0x03, b's', b'/', b'2']);
        } else {
            expected.extend([0x82, 0x06, 0x00, 0x05, 0x00, 0x01, b'f', 0x01]);
            expected.extend([0xA2, 0x07, 0x00, 0x06, 0x00, 0x03, b's', b'/', b'2']);
        }
        expected.extend(publish_wire(version, 0x32, "e", Some(7), b"5"));
        expected.extend(publish_wire(version, 0x34, "g", Some(8), b"6"));
        expected.extend(publish_wire(version, 0x30, "z", None, b"0"));
        assert_eq!(q.sent_bytes(), expected, "{version}");

        // The server's repeat of its QoS 2 message: PUBREC again, not delivered again.
        q.send_bytes(&publish_wire(version, 0x3C, "in", Some(9), b"once"));
        assert_eq!(q.sent_bytes(), ack_wire(0x50, 9));
        q.send_bytes(&ack_wire(0x62, 9));
        assert_eq!(q.sent_bytes(), ack_wire(0x70, 9));

        q.send(PubAck::new(pid(2)));
        q.send(PubRec::new(pid(3)));
        assert_eq!(q.sent_bytes(), ack_wire(0x62, 3));
        q.send(PubComp::new(pid(3)));
        q.send(PubComp::new(pid(4)));
        q.send(SubAck::new(pid(5), vec![SubAckReasonCode::GrantedQoS1]));
        unsuback(&mut q, 6);
        q.send(PubAck::new(pid(7)));
        q.send(PubRec::new(pid(8)));
        assert_eq!(q.sent_bytes(), ack_wire(0x62, 8));
        q.send(PubComp::new(pid(8)));
        done.record(&q.events());

        let ids: Vec<PublishId> = vec![s.a, s.b, s.c, s.e, s.g, s.z];
        assert_eq!(
            done.published.keys().copied().collect::<BTreeSet<_>>(),
            ids.iter().copied().collect::<BTreeSet<_>>()
        );
        for (id, results) in &done.published {
            assert_eq!(results, &vec![Ok(())], "{version}: {id:?}");
        }
        assert_eq!(done.subscribed.get(&s.tracked), Some(&1));
        assert_eq!(done.subscribed.get(&s.f), Some(&1));
        assert_eq!(done.unsubscribed.get(&s.u), Some(&1));
        assert_eq!(
            done.messages,
            vec![Bytes::from_static(b"once")],
            "{version}"
        );
        assert_eq!(q.client.stats().in_flight, 0);
        let filters: Vec<String> = q
            .client
            .subscriptions()
            .map(|(f, _)| f.as_str().to_owned())
            .collect();
        assert_eq!(filters, ["f", "s/1"]);
    }
}

#[test]
fn commands_after_restore_get_handles_never_used_before() {
    for version in VERSIONS {
        let s = staged(version);
        let used = s.handle_numbers();
        let mut q = restart(&s);
        let n = q.publish(message("n", b"7", QoS::AtLeastOnce));
        let m = q.subscribe(vec![subscription("m", QoS::AtMostOnce)]);
        let k = q.unsubscribe(vec![filter("m")]);
        for handle in [number(n), number(m), number(k)] {
            assert!(!used.contains(&handle), "{version}: {handle} reused");
            assert!(handle > *used.last().unwrap());
        }
        for old in s.publish_ids() {
            assert_ne!(n, old);
            assert!(n > old);
        }
        assert_ne!(m, s.tracked);
        assert_ne!(m, s.f);
        assert_ne!(k, s.u);
    }
}

#[test]
fn restored_client_with_session_present_0_reports_session_lost_and_completes_once() {
    for version in VERSIONS {
        let mut s = staged(version);
        let mut done = std::mem::take(&mut s.done);
        let mut q = restart(&s);
        let events = q.connect_with(connack(false));
        assert!(matches!(events.first(), Some(Event::Connected(c)) if !c.session_present));
        assert!(
            events.contains(&Event::SessionLost {
                in_flight: 3,
                subscriptions: 2
            }),
            "{version}: {events:?}"
        );
        done.record(&events);
        // Everything goes again as new: no DUP, and the server's QoS 2 state is gone.
        let sent = q.sent();
        for publish in publishes(&sent) {
            assert!(!publish.dup, "{version}: {publish:?}");
        }
        assert_eq!(publishes(&sent).len(), 6);
        done.record(&settle(&mut q, sent));
        for (id, results) in &done.published {
            assert_eq!(results, &vec![Ok(())], "{version}: {id:?}");
        }
        assert_eq!(done.published.len(), 6);
        assert_eq!(done.subscribed.get(&s.f), Some(&1));
        assert_eq!(done.unsubscribed.get(&s.u), Some(&1));
        assert_eq!(done.messages.len(), 1);
    }
}

#[test]
fn restored_client_behaves_as_the_original_after_reconnecting() {
    for version in VERSIONS {
        for session_present in [true, false] {
            let mut original = staged(version).p;
            let mut restored = Peer::from_client(
                Client::restore(
                    persistent_config(version),
                    &original.client.export_session(),
                )
                .unwrap(),
                version,
            );
            restored.now = original.now;
            assert_same_from_here(&mut original, &mut restored, session_present);
        }
    }
}

#[test]
fn restore_refuses_bad_magic_other_formats_other_versions_and_trailing_bytes() {
    let s = staged(ProtocolVersion::V5);
    let stored = s.p.client.export_session();
    let config = persistent_config(ProtocolVersion::V5);
    let restore = |bytes: &[u8]| Client::restore(config.clone(), bytes).err();

    assert_eq!(restore(b""), Some(RestoreError::Truncated));
    assert_eq!(restore(b"MQ"), Some(RestoreError::Truncated));
    assert_eq!(restore(b"MQTT\x01\x05"), Some(RestoreError::BadMagic));
    assert_eq!(restore(b"\x10\x0c"), Some(RestoreError::BadMagic));
    let mut other_format = stored.clone();
    other_format[4] = 2;
    assert_eq!(
        restore(&other_format),
        Some(RestoreError::UnsupportedFormat(2))
    );
    let mut unknown_level = stored.clone();
    unknown_level[5] = 3;
    assert!(matches!(
        restore(&unknown_level),
        Some(RestoreError::Corrupt(_))
    ));
    assert_eq!(
        Client::restore(persistent_config(ProtocolVersion::V311), &stored).err(),
        Some(RestoreError::VersionMismatch {
            stored: ProtocolVersion::V5,
            configured: ProtocolVersion::V311
        })
    );
    let mut trailing = stored.clone();
    trailing.push(0);
    assert_eq!(
        restore(&trailing),
        Some(RestoreError::Corrupt("trailing bytes"))
    );
    // A count far beyond the input is refused before anything is allocated for it.
    let mut huge = b"MQSS\x01\x05".to_vec();
    huge.extend(u32::MAX.to_be_bytes());
    assert_eq!(restore(&huge), Some(RestoreError::Truncated));
    // A configuration the client refuses.
    let mut bad = persistent_config(ProtocolVersion::V311);
    bad.client_id = "".parse().unwrap();
    let v311 = staged(ProtocolVersion::V311).p.client.export_session();
    assert!(matches!(
        Client::restore(bad, &v311),
        Err(RestoreError::Config(_))
    ));
}

#[test]
fn every_truncation_of_an_export_is_refused_as_truncated() {
    for version in VERSIONS {
        let stored = staged(version).p.client.export_session();
        for len in 0..stored.len() {
            assert_eq!(
                Client::restore(persistent_config(version), &stored[..len]).err(),
                Some(RestoreError::Truncated),
                "{version}: first {len} of {} bytes",
                stored.len()
            );
        }
    }
}

#[test]
fn every_single_byte_corruption_of_an_export_restores_or_is_refused_without_panic() {
    for version in VERSIONS {
        let stored = staged(version).p.client.export_session();
        let mut restored = 0;
        for at in 0..stored.len() {
            for value in 0..=255u8 {
                if value == stored[at] {
                    continue;
                }
                let mut corrupt = stored.clone();
                corrupt[at] = value;
                if try_restore_and_drive(version, &corrupt) {
                    restored += 1;
                }
            }
        }
        // Payload, topic and counter bytes change the session without breaking it.
        assert!(restored > 0, "{version}");
    }
}

/// Restores `bytes`; when that works, drives the client through a resumed and a lost
/// session. True when it restored.
fn try_restore_and_drive(version: ProtocolVersion, bytes: &[u8]) -> bool {
    let Ok(client) = Client::restore(persistent_config(version), bytes) else {
        return false;
    };
    // What restored exports again to what restores again to the same.
    let again = client.export_session();
    let twice = Client::restore(persistent_config(version), &again).unwrap();
    assert_eq!(twice.export_session(), again);
    let mut c = client;
    for session_present in [true, false] {
        let now = Instant::ZERO;
        c.handle_transport_open(now).unwrap();
        let mut wire = bytes::BytesMut::new();
        Packet::from(connack(session_present))
            .encode(version, &mut wire)
            .unwrap();
        c.handle_input(now, &wire);
        while c.poll_transmit().is_some() {}
        while c.poll_event().is_some() {}
        c.handle_transport_close(now);
        while c.poll_event().is_some() {}
    }
    true
}

#[test]
fn manual_acks_unacknowledged_messages_are_delivered_again_and_acknowledged_ones_are_not() {
    for version in VERSIONS {
        let mut config = persistent_config(version);
        config.manual_acks = true;
        let mut p = Peer::new(config.clone());
        p.connect();
        // QoS 1 and QoS 2 delivered and not acknowledged, QoS 2 acknowledged (PUBREC
        // sent), and QoS 2 acknowledged while disconnected (no PUBREC yet).
        p.send_bytes(&publish_wire(version, 0x32, "t", Some(1), b"q1"));
        p.send_bytes(&publish_wire(version, 0x34, "t", Some(2), b"q2"));
        p.send_bytes(&publish_wire(version, 0x34, "t", Some(3), b"acked"));
        p.send_bytes(&publish_wire(version, 0x34, "t", Some(4), b"offline"));
        let before: Vec<DeliveryId> = messages(&p.events())
            .iter()
            .map(|m| m.delivery.unwrap())
            .collect();
        assert_eq!(before.len(), 4);
        p.client.ack(p.now, before[2]).unwrap();
        assert_eq!(p.sent_bytes(), ack_wire(0x50, 3));
        p.drop_transport();
        p.events();
        p.client.ack(p.now, before[3]).unwrap();

        let stored = p.client.export_session();
        let mut q = Peer::from_client(Client::restore(config, &stored).unwrap(), version);
        assert_eq!(q.client.ack(q.now, before[0]), Err(AckError::Unknown));
        q.connect_with(connack(true));
        // The server sends all four again.
        q.send_bytes(&publish_wire(version, 0x3A, "t", Some(1), b"q1"));
        q.send_bytes(&publish_wire(version, 0x3C, "t", Some(2), b"q2"));
        q.send_bytes(&publish_wire(version, 0x3C, "t", Some(3), b"acked"));
        q.send_bytes(&publish_wire(version, 0x3C, "t", Some(4), b"offline"));
        assert_eq!(
            q.sent_bytes(),
            [ack_wire(0x50, 3), ack_wire(0x50, 4)].concat()
        );
        let again = messages(&q.events());
        let payloads: Vec<&[u8]> = again.iter().map(|m| &m.payload[..]).collect();
        assert_eq!(payloads, [&b"q1"[..], b"q2"], "{version}");
        for m in &again {
            let delivery = m.delivery.unwrap();
            assert!(
                !before.contains(&delivery),
                "{version}: {delivery:?} reused"
            );
            q.client.ack(q.now, delivery).unwrap();
        }
        assert_eq!(
            q.sent_bytes(),
            [ack_wire(0x40, 1), ack_wire(0x50, 2)].concat()
        );
    }
}

#[test]
fn messages_sent_with_a_topic_alias_are_resent_after_restore_with_their_topic() {
    let version = ProtocolVersion::V5;
    let mut ack = connack(false);
    let mut props = ConnAckProperties::new();
    props.topic_alias_maximum = Some(4);
    ack.properties = props.into();
    let mut p = Peer::new(persistent_config(version));
    p.connect_with(ack);
    p.publish(message("long/topic", b"1", QoS::AtLeastOnce));
    p.publish(message("long/topic", b"2", QoS::ExactlyOnce));
    let first = publishes(&p.sent());
    assert_eq!(
        first[1].topic.as_str(),
        "",
        "the second went by alias alone"
    );
    let stored = p.client.export_session();
    let mut q = restart_from(&p, &stored);
    q.connect_with(connack(true));
    let again = publishes(&q.sent());
    assert_eq!(again.len(), 2);
    for publish in again {
        assert!(publish.dup);
        assert_eq!(publish.topic.as_str(), "long/topic");
        assert_eq!(publish.properties.topic_alias, None);
    }
}

/// A new harness around the client restored from `stored`, at `p`'s time.
fn restart_from(p: &Peer, stored: &[u8]) -> Peer {
    let config = p.client.config().clone();
    let mut q = Peer::from_client(Client::restore(config, stored).unwrap(), p.version);
    q.now = p.now;
    q
}

// ---- a broker that answers whatever the client sends ----

/// Acknowledges everything `sent` holds, and what the client sends in reply, until the
/// client sends nothing more; returns the events.
fn settle(p: &mut Peer, mut sent: Vec<Packet>) -> Vec<Event> {
    let mut events = Vec::new();
    while !sent.is_empty() {
        for packet in &sent {
            answer(p, packet, 0);
        }
        events.extend(p.events());
        sent = p.sent();
    }
    events
}

/// The server's answer to `packet`; `choice` picks among the results of a SUBACK.
fn answer(p: &mut Peer, packet: &Packet, choice: u16) {
    match packet {
        Packet::Publish(publish) => match publish.qos_pid {
            QosPid::AtMostOnce => {}
            QosPid::AtLeastOnce(id) => p.send(PubAck::new(id)),
            QosPid::ExactlyOnce(id) => p.send(PubRec::new(id)),
        },
        Packet::PubRel(rel) => p.send(PubComp::new(rel.packet_id)),
        Packet::Subscribe(subscribe) => {
            let granted = if choice % 3 == 2 {
                SubAckReasonCode::UnspecifiedError
            } else {
                SubAckReasonCode::GrantedQoS1
            };
            let codes = vec![granted; subscribe.filters.len()];
            p.send(SubAck::new(subscribe.packet_id, codes));
        }
        Packet::Unsubscribe(unsubscribe) => {
            if p.version.is_v5() {
                let codes = vec![UnsubAckReasonCode::Success; unsubscribe.filters.len()];
                p.send(UnsubAck::new(unsubscribe.packet_id, codes));
            } else {
                p.send_bytes(&ack_wire(0xB0, unsubscribe.packet_id.get()));
            }
        }
        _ => {}
    }
}

/// Drives `original` and `restored` through the same reconnection (disconnecting the
/// original first) and the same answers, asserting the same bytes and events at every
/// step, then the same handle for a new command.
fn assert_same_from_here(original: &mut Peer, restored: &mut Peer, session_present: bool) {
    assert_eq!(restored.client.state(), State::Disconnected);
    if original.client.state() != State::Disconnected {
        original.drop_transport();
    }
    original.events();
    assert_eq!(
        subscriptions_of(&original.client),
        subscriptions_of(&restored.client)
    );
    let (a, b) = (original.client.stats(), restored.client.stats());
    assert_eq!((a.in_flight, a.queued), (b.in_flight, b.queued));

    let ack = connack(session_present);
    let events = original.connect_with(ack.clone());
    assert_eq!(restored.connect_with(ack), events);
    let mut sent = original.sent();
    assert_eq!(restored.sent(), sent);
    while !sent.is_empty() {
        for packet in &sent {
            answer(original, packet, 0);
            answer(restored, packet, 0);
        }
        assert_eq!(restored.events(), original.events());
        sent = original.sent();
        assert_eq!(restored.sent(), sent);
    }
    assert_eq!(
        subscriptions_of(&original.client),
        subscriptions_of(&restored.client)
    );
    let (a, b) = (original.client.stats(), restored.client.stats());
    assert_eq!((a.in_flight, a.queued), (b.in_flight, b.queued));
    let m = message("after", b"!", QoS::AtLeastOnce);
    assert_eq!(original.publish(m.clone()), restored.publish(m));
    assert_eq!(restored.sent(), original.sent());
}

// ---- random sessions ----

#[derive(Clone, Debug)]
enum Op {
    /// The application publishes at QoS `qos % 3`; in 5.0 with a Message Expiry
    /// Interval when given.
    Publish {
        qos: u8,
        retain: bool,
        expiry: Option<u16>,
    },
    Subscribe(u8),
    Unsubscribe(u8),
    /// The server sends a message at QoS `qos % 3`.
    ServerPublish(u8),
    /// The server answers one of the client's packets awaiting an answer.
    Answer(u16),
    /// The server releases one of its QoS 2 messages.
    Release(u16),
    /// The transport closes.
    Drop,
    /// A new transport, accepted with or without the session.
    Reconnect {
        session_present: bool,
    },
    /// Virtual time passes.
    Wait(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3, any::<bool>(), proptest::option::of(0u16..30))
            .prop_map(|(qos, retain, expiry)| Op::Publish { qos, retain, expiry }),
        2 => (0u8..4).prop_map(Op::Subscribe),
        1 => (0u8..4).prop_map(Op::Unsubscribe),
        2 => (0u8..3).prop_map(Op::ServerPublish),
        5 => any::<u16>().prop_map(Op::Answer),
        1 => any::<u16>().prop_map(Op::Release),
        1 => Just(Op::Drop),
        1 => any::<bool>().prop_map(|session_present| Op::Reconnect { session_present }),
        1 => (0u16..20_000).prop_map(Op::Wait),
    ]
}

/// The client under a well-behaved broker that remembers what it owes the client.
struct World {
    p: Peer,
    /// The client's packets awaiting the server's answer, by identifier.
    awaiting: BTreeMap<u16, Packet>,
    /// The server's QoS 2 messages awaiting its PUBREL.
    releases: BTreeSet<u16>,
    server_pid: u16,
    topic: u32,
}

impl World {
    fn new(version: ProtocolVersion) -> Self {
        let mut p = Peer::new(persistent_config(version));
        p.connect();
        World {
            p,
            awaiting: BTreeMap::new(),
            releases: BTreeSet::new(),
            server_pid: 0,
            topic: 0,
        }
    }

    fn connected(&self) -> bool {
        self.p.client.is_connected()
    }

    /// Takes what the client wrote into `awaiting` and checks it broke nothing.
    fn absorb(&mut self) {
        for packet in self.p.sent() {
            match &packet {
                Packet::Publish(publish) => {
                    if let Some(id) = publish.packet_id() {
                        self.awaiting.insert(id.get(), packet.clone());
                    }
                }
                Packet::PubRel(rel) => {
                    self.awaiting.insert(rel.packet_id.get(), packet.clone());
                }
                Packet::Subscribe(s) => {
                    self.awaiting.insert(s.packet_id.get(), packet.clone());
                }
                Packet::Unsubscribe(u) => {
                    self.awaiting.insert(u.packet_id.get(), packet.clone());
                }
                _ => {}
            }
        }
        for event in self.p.events() {
            if let Event::Disconnected { reason } = &event {
                assert!(
                    matches!(reason, DisconnectReason::TransportClosed),
                    "{reason:?}"
                );
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        let version = self.p.version;
        match *op {
            Op::Publish {
                qos,
                retain,
                expiry,
            } => {
                self.topic += 1;
                let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][usize::from(qos)];
                let mut m = Message::new(
                    topic(&format!("t/{}", self.topic)),
                    Bytes::from(vec![self.topic as u8; usize::from(qos as u8) * 3]),
                    qos,
                );
                m.retain = retain;
                if version.is_v5() {
                    m.properties.message_expiry_interval = expiry.map(u32::from);
                }
                self.p.publish(m);
            }
            Op::Subscribe(i) => {
                let f = subscription(&format!("s/{i}/#"), QoS::AtLeastOnce);
                if version.is_v5() && i % 2 == 1 {
                    let properties = SubscribeProperties {
                        subscription_identifier: SubscriptionId::new(u32::from(i) + 1),
                        ..SubscribeProperties::default()
                    };
                    self.p
                        .client
                        .subscribe_with_properties(self.p.now, vec![f], properties)
                        .unwrap();
                } else {
                    self.p.subscribe(vec![f]);
                }
            }
            Op::Unsubscribe(i) => {
                self.p.unsubscribe(vec![filter(&format!("s/{i}/#"))]);
            }
            Op::ServerPublish(qos) if self.connected() => {
                self.server_pid = self.server_pid % 60_000 + 1;
                let id = pid(self.server_pid);
                let qos_pid = match qos {
                    0 => QosPid::AtMostOnce,
                    1 => QosPid::AtLeastOnce(id),
                    _ => QosPid::ExactlyOnce(id),
                };
                self.p.send(publish("in", b"m", qos_pid));
                if qos >= 2 {
                    self.releases.insert(id.get());
                }
            }
            Op::Answer(i) if self.connected() && !self.awaiting.is_empty() => {
                let key = *self
                    .awaiting
                    .keys()
                    .nth(usize::from(i) % self.awaiting.len())
                    .unwrap();
                let packet = self.awaiting.remove(&key).unwrap();
                answer(&mut self.p, &packet, i);
            }
            Op::Release(i) if self.connected() && !self.releases.is_empty() => {
                let id = *self
                    .releases
                    .iter()
                    .nth(usize::from(i) % self.releases.len())
                    .unwrap();
                self.releases.remove(&id);
                self.p.send(PubRel::new(pid(id)));
            }
            Op::Drop if self.connected() => self.p.drop_transport(),
            Op::Reconnect { session_present } => {
                if self.p.client.state() != State::Disconnected {
                    self.p.drop_transport();
                }
                self.p.events();
                if !session_present {
                    self.awaiting.clear();
                    self.releases.clear();
                }
                self.p.open();
                self.p.send(connack(session_present));
            }
            Op::Wait(ms) => self.p.now = self.p.now + Duration::from_millis(u64::from(ms)),
            _ => {}
        }
        self.absorb();
    }
}

fn round_trip(version: ProtocolVersion, ops: &[Op], session_present: bool) {
    let mut world = World::new(version);
    for op in ops {
        world.apply(op);
    }
    let stored = world.p.client.export_session();
    let client = Client::restore(persistent_config(version), &stored).unwrap();
    assert_eq!(client.export_session(), stored);
    let mut restored = Peer::from_client(client, version);
    restored.now = world.p.now;
    assert_same_from_here(&mut world.p, &mut restored, session_present);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// restore(export(s)) exports to the same bytes, and behaves as `s` would.
    #[test]
    fn random_session_round_trips_and_behaves_the_same_v311(
        ops in proptest::collection::vec(op(), 0..80),
        session_present in any::<bool>(),
    ) {
        round_trip(ProtocolVersion::V311, &ops, session_present);
    }

    #[test]
    fn random_session_round_trips_and_behaves_the_same_v5(
        ops in proptest::collection::vec(op(), 0..80),
        session_present in any::<bool>(),
    ) {
        round_trip(ProtocolVersion::V5, &ops, session_present);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_restore_or_are_refused_without_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
        header in any::<bool>(),
        v5 in any::<bool>(),
    ) {
        let version = if v5 { ProtocolVersion::V5 } else { ProtocolVersion::V311 };
        let mut input = Vec::new();
        if header {
            input.extend_from_slice(b"MQSS\x01");
            input.push(version.level());
        }
        input.extend(bytes);
        try_restore_and_drive(version, &input);
    }

    /// Several bytes of a valid export overwritten at once.
    #[test]
    fn corrupted_exports_restore_or_are_refused_without_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        v5 in any::<bool>(),
    ) {
        let version = if v5 { ProtocolVersion::V5 } else { ProtocolVersion::V311 };
        let mut bytes = valid_export(version);
        for (at, value) in edits {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        try_restore_and_drive(version, &bytes);
    }
}

/// The staged client's export, built once per version.
fn valid_export(version: ProtocolVersion) -> Vec<u8> {
    use std::sync::OnceLock;
    static EXPORTS: OnceLock<[Vec<u8>; 2]> = OnceLock::new();
    let exports = EXPORTS.get_or_init(|| VERSIONS.map(|v| staged(v).p.client.export_session()));
    exports[usize::from(version.is_v5())].clone()
}
