//! The client against mosquitto 2.0 over real loopback sockets: each test starts its
//! own broker on a free port with its own configuration and stops it at the end.

// A real driver owns the clock: reading it here is the point, not a leak.
#![allow(clippy::disallowed_methods)]

mod interop;

use bytes::Bytes;
use interop::{Driver, Mosquitto};
use mqtt_sansio::*;
use std::time::Duration;

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];
const SECS: Duration = Duration::from_secs(1);

fn config(version: ProtocolVersion, id: &str) -> ClientConfig {
    let mut c = ClientConfig::new(version, id.parse().unwrap());
    c.keep_alive = 30;
    c
}

fn topic(s: &str) -> TopicName {
    s.parse().unwrap()
}

fn subscribe(d: &mut Driver, filter: &str, qos: QoS) {
    let now = d.now();
    let id = d
        .client
        .subscribe(now, vec![Subscription::new(filter.parse().unwrap(), qos)])
        .unwrap();
    match d.wait_for(
        10 * SECS,
        |e| matches!(e, Event::Subscribed { id: i, .. } if *i == id),
    ) {
        Event::Subscribed { results, .. } => assert!(!results[0].is_error(), "{results:?}"),
        _ => unreachable!(),
    }
}

fn publish(d: &mut Driver, message: Message) -> PublishId {
    let now = d.now();
    d.client.publish(now, message).unwrap()
}

fn completed(d: &mut Driver, id: PublishId) -> Result<(), PublishFailure> {
    match d.wait_for(
        20 * SECS,
        |e| matches!(e, Event::Published { id: i, .. } if *i == id),
    ) {
        Event::Published { result, .. } => result,
        _ => unreachable!(),
    }
}

fn received(d: &mut Driver, on: &str) -> Message {
    let on = on.to_string();
    match d.wait_for(
        20 * SECS,
        |e| matches!(e, Event::Message(m) if m.topic.as_str() == on),
    ) {
        Event::Message(m) => m,
        _ => unreachable!(),
    }
}

fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

#[test]
fn publish_and_receive_at_every_qos_with_payloads_from_0_bytes_to_1_mib() {
    let Some(broker) = Mosquitto::start("pubsub", "") else {
        return;
    };
    for version in VERSIONS {
        let mut d = Driver::new(config(version, &format!("pubsub-{version:?}")), broker.port);
        d.connect();
        subscribe(&mut d, "it/#", QoS::ExactlyOnce);
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            for size in [0, 1, 1024, 65_536, 1 << 20] {
                let name = format!("it/{}/{size}", qos.value());
                let payload = pattern(size, qos.value());
                let id = publish(&mut d, Message::new(topic(&name), payload.clone(), qos));
                let message = received(&mut d, &name);
                assert_eq!(message.payload, payload, "{version} {name}");
                assert_eq!(message.qos, qos, "{version} {name}");
                assert_eq!(completed(&mut d, id), Ok(()), "{version} {name}");
            }
        }
        assert!(d.client.is_connected());
        assert_eq!(d.client.stats().in_flight, 0);
    }
}

#[test]
fn a_retained_message_reaches_a_later_subscriber() {
    let Some(broker) = Mosquitto::start("retain", "") else {
        return;
    };
    for version in VERSIONS {
        let name = format!("retained/{version:?}");
        let mut publisher = Driver::new(config(version, "retain-pub"), broker.port);
        publisher.connect();
        let mut message = Message::new(topic(&name), Bytes::from_static(b"kept"), QoS::AtLeastOnce);
        message.retain = true;
        let id = publish(&mut publisher, message);
        assert_eq!(completed(&mut publisher, id), Ok(()));

        let mut subscriber = Driver::new(config(version, "retain-sub"), broker.port);
        subscriber.connect();
        subscribe(&mut subscriber, &name, QoS::AtLeastOnce);
        let got = received(&mut subscriber, &name);
        assert_eq!(got.payload, Bytes::from_static(b"kept"));
        assert!(got.retain, "{version}: delivered as a retained message");
    }
}

#[test]
fn the_will_is_published_after_an_abnormal_close() {
    let Some(broker) = Mosquitto::start("will", "") else {
        return;
    };
    for version in VERSIONS {
        let name = format!("will/{version:?}");
        let mut watcher = Driver::new(config(version, "will-watcher"), broker.port);
        watcher.connect();
        subscribe(&mut watcher, &name, QoS::AtLeastOnce);

        let mut c = config(version, "will-owner");
        let mut will = Will::new(topic(&name), Bytes::from_static(b"gone"));
        will.qos = QoS::AtLeastOnce;
        c.will = Some(will);
        let mut owner = Driver::new(c, broker.port);
        owner.connect();
        owner.kill_transport();

        let got = received(&mut watcher, &name);
        assert_eq!(got.payload, Bytes::from_static(b"gone"), "{version}");
    }
}

#[test]
fn after_a_broker_restart_with_persistence_the_session_resumes_and_qos2_arrives_once() {
    let Some(mut broker) = Mosquitto::start("restart", "") else {
        return;
    };
    for version in VERSIONS {
        let name = format!("persist/{version:?}");
        let mut c = config(version, &format!("persist-sub-{version:?}"));
        c.clean_start = false;
        c.session_expiry_interval = 3600;
        let mut subscriber = Driver::new(c, broker.port);
        let first = subscriber.connect();
        assert!(!first.session_present);
        subscribe(&mut subscriber, &format!("{name}/#"), QoS::ExactlyOnce);
        let now = subscriber.now();
        subscriber
            .client
            .disconnect(now, DisconnectReasonCode::NormalDisconnection, None)
            .unwrap();
        subscriber.step(Duration::from_millis(10));

        // While the subscriber is away, messages wait in its session on the broker.
        let mut publisher = Driver::new(config(version, "persist-pub"), broker.port);
        publisher.connect();
        let mut sent = Vec::new();
        for i in 0..20u8 {
            let qos = if i % 2 == 0 {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            let id = publish(
                &mut publisher,
                Message::new(topic(&format!("{name}/{i}")), Bytes::from(vec![i]), qos),
            );
            sent.push(id);
        }
        for id in sent {
            assert_eq!(completed(&mut publisher, id), Ok(()));
        }
        publisher.kill_transport();

        broker.restart();

        let resumed = subscriber.connect();
        assert!(
            resumed.session_present,
            "{version}: the broker kept the session"
        );
        subscriber.run_for(2 * SECS);
        let mut counts = [0u32; 20];
        for event in &subscriber.events {
            if let Event::Message(m) = event {
                if let Some(i) = m.topic.as_str().strip_prefix(&format!("{name}/")) {
                    counts[i.parse::<usize>().unwrap()] += 1;
                }
            }
        }
        for (i, n) in counts.iter().enumerate() {
            if i % 2 == 0 {
                assert!(*n >= 1, "{version}: QoS 1 message {i} lost");
            } else {
                assert_eq!(*n, 1, "{version}: QoS 2 message {i} delivered {n} times");
            }
        }
    }
}

#[test]
fn a_frozen_broker_is_a_keep_alive_timeout_and_the_client_reconnects_after_thaw() {
    let Some(broker) = Mosquitto::start("freeze", "") else {
        return;
    };
    for version in VERSIONS {
        let mut c = config(version, &format!("freeze-{version:?}"));
        c.keep_alive = 2;
        c.connack_timeout = 2 * SECS;
        let mut policy = ReconnectPolicy::default();
        policy.initial_delay = Duration::from_millis(200);
        policy.max_delay = SECS;
        policy.jitter = Jitter::None;
        policy.attempt_timeout = 3 * SECS;
        c.reconnect = policy;
        let mut d = Driver::new(c, broker.port);
        let now = d.now();
        d.client.connect(now).unwrap();
        d.wait_for(10 * SECS, |e| matches!(e, Event::Connected(_)));

        broker.freeze();
        let frozen = std::time::Instant::now();
        d.wait_for(10 * SECS, |e| {
            matches!(
                e,
                Event::Disconnected {
                    reason: DisconnectReason::KeepAliveTimeout
                }
            )
        });
        let noticed = frozen.elapsed();
        // 1.5 x keep alive after the last byte from the broker, plus a margin.
        assert!(
            noticed <= Duration::from_millis(4000),
            "{version}: noticed after {noticed:?}"
        );

        broker.thaw();
        d.wait_for(20 * SECS, |e| matches!(e, Event::Connected(_)));
        assert!(d.client.is_connected());
        let now = d.now();
        d.client
            .disconnect(now, DisconnectReasonCode::NormalDisconnection, None)
            .unwrap();
        d.step(Duration::from_millis(10));
    }
}

#[test]
fn with_max_inflight_messages_2_never_more_than_2_are_in_flight() {
    let Some(broker) = Mosquitto::start("inflight", "max_inflight_messages 2") else {
        return;
    };
    let mut d = Driver::new(config(ProtocolVersion::V5, "inflight"), broker.port);
    let connected = d.connect();
    assert_eq!(
        connected.limits.receive_maximum, 2,
        "CONNACK Receive Maximum"
    );
    let ids: Vec<PublishId> = (0..50u8)
        .map(|i| {
            let qos = if i % 2 == 0 {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            publish(
                &mut d,
                Message::new(topic("inflight/t"), Bytes::from(vec![i]), qos),
            )
        })
        .collect();
    let mut done = 0;
    let end = std::time::Instant::now() + 20 * SECS;
    while done < ids.len() {
        assert!(std::time::Instant::now() < end, "only {done} completed");
        d.step(Duration::from_millis(20));
        assert!(d.client.stats().in_flight <= 2, "{:?}", d.client.stats());
        done = d
            .events
            .iter()
            .filter(|e| matches!(e, Event::Published { result: Ok(()), .. }))
            .count();
    }
}

/// mosquitto 2.0 answers a PUBLISH over `message_size_limit` with PUBACK reason 0x95
/// (packet too large), which MQTT 5.0 does not allow on PUBACK ([MQTT-3.4.2-1] lists
/// 0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99). The client refuses the
/// packet as the specification says, naming the code it got, and closes with 0x81.
#[test]
fn mqtt_3_4_2_1_a_message_size_limit_rejection_surfaces_with_its_reason_code() {
    let Some(broker) = Mosquitto::start("sizelimit", "message_size_limit 1000") else {
        return;
    };
    let mut d = Driver::new(config(ProtocolVersion::V5, "sizelimit"), broker.port);
    d.connect();
    // Within the limit: accepted.
    let small = publish(
        &mut d,
        Message::new(topic("size/t"), pattern(10, 1), QoS::AtLeastOnce),
    );
    assert_eq!(completed(&mut d, small), Ok(()));
    // Over it.
    publish(
        &mut d,
        Message::new(topic("size/t"), pattern(2000, 1), QoS::AtLeastOnce),
    );
    match d.wait_for(10 * SECS, |e| matches!(e, Event::Disconnected { .. })) {
        Event::Disconnected {
            reason:
                DisconnectReason::ProtocolViolation {
                    reason_code,
                    decode_error,
                    ..
                },
        } => {
            assert_eq!(reason_code, ReasonCode::MalformedPacket);
            assert_eq!(
                decode_error,
                Some(DecodeError::InvalidReasonCode {
                    packet: PacketType::PubAck,
                    code: 0x95
                })
            );
        }
        other => panic!("{other:?}"),
    }
}
