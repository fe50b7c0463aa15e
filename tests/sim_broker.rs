//! The in-memory broker of `mqtt_sansio::sim` end to end: real `Client`s, the `Broker`
//! on `ServerConnection`, and the simulated network between them, in virtual time.
//!
//! Each test is named after the normative statement it checks (5.0 numbering; the
//! 3.1.1 statement is named in the doc comment where it differs) and runs in both
//! protocol versions where the rule exists in both. Every scenario asserts exact
//! outcomes (payloads, QoS, flags, properties, events and their times), then lets the
//! world settle and checks the run's invariants (`World::check`) where they apply.

use bytes::Bytes;
use mqtt_sansio::sim::{Direction, Faults, World};
use mqtt_sansio::{
    ClientConfig, Connected, DisconnectReason, DisconnectReasonCode, Event, Instant, Jitter,
    Message, ProtocolVersion, QoS, RetainHandling, ServerConfig, SubAckReasonCode,
    SubscribeProperties, Subscription, SubscriptionId, TopicName, Will, WillProperties,
};
use std::time::Duration;

const BOTH: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

/// The longest one-way latency of `Faults::default()`.
const MAX_LATENCY: Duration = Duration::from_millis(20);

// ---- helpers ----

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn topic(s: &str) -> TopicName {
    s.parse().unwrap()
}

fn subscription(filter: &str, qos: QoS) -> Subscription {
    Subscription::new(filter.parse().unwrap(), qos)
}

fn message(t: &str, payload: &str, qos: QoS) -> Message {
    Message::new(topic(t), Bytes::from(payload.to_owned()), qos)
}

fn retained(t: &str, payload: &str, qos: QoS) -> Message {
    let mut m = message(t, payload, qos);
    m.retain = true;
    m
}

fn bytes(payloads: &[&str]) -> Vec<Bytes> {
    payloads
        .iter()
        .map(|p| Bytes::from(p.to_string()))
        .collect()
}

/// A clean-start client with the default policies.
fn config(version: ProtocolVersion, id: &str) -> ClientConfig {
    ClientConfig::new(version, id.parse().unwrap())
}

/// A client whose session outlives its connections: Clean Start 0 with an hour of
/// Session Expiry (5.0) / Clean Session 0 (3.1.1).
fn persistent(version: ProtocolVersion, id: &str) -> ClientConfig {
    let mut c = config(version, id);
    c.clean_start = false;
    c.session_expiry_interval = 3600;
    c
}

/// A world with the default faults (1 to 20 ms of latency, no cuts).
fn world(seed: u64) -> World {
    World::new(seed, ServerConfig::default(), Faults::default())
}

/// Adds a client and lets it connect.
fn join(world: &mut World, config: ClientConfig) -> usize {
    let index = world.add_client(config);
    world.run_for(secs(1));
    assert!(
        world.client(index).is_connected(),
        "client {index} connects"
    );
    index
}

/// Adds a client, lets it connect, and subscribes it to one filter.
fn join_subscribed(world: &mut World, config: ClientConfig, filter: &str, qos: QoS) -> usize {
    let index = join(world, config);
    subscribe(world, index, vec![subscription(filter, qos)]);
    index
}

/// One subscriber per filter (`sub-0`, `sub-1`, ...), each at QoS 1.
fn subscribers(world: &mut World, version: ProtocolVersion, filters: &[&str]) -> Vec<usize> {
    filters
        .iter()
        .enumerate()
        .map(|(i, f)| {
            join_subscribed(
                world,
                config(version, &format!("sub-{i}")),
                f,
                QoS::AtLeastOnce,
            )
        })
        .collect()
}

/// A client `watcher` subscribed to the Wills of `will_config` (`will/#`, QoS 1).
fn will_watcher(world: &mut World, version: ProtocolVersion) -> usize {
    join_subscribed(
        world,
        config(version, "watcher"),
        "will/#",
        QoS::AtLeastOnce,
    )
}

/// Reconnects after exactly `delay`, without jitter.
fn fixed_reconnect_delay(config: &mut ClientConfig, delay: Duration) {
    config.reconnect.initial_delay = delay;
    config.reconnect.jitter = Jitter::None;
}

/// Subscribes and lets the SUBACK (and any retained messages) arrive.
fn subscribe(world: &mut World, index: usize, filters: Vec<Subscription>) {
    world.subscribe(index, filters).unwrap();
    world.run_for(secs(1));
}

/// Publishes and lets the message be routed and delivered.
fn publish(world: &mut World, index: usize, message: Message) {
    world.publish(index, message).unwrap();
    world.run_for(secs(1));
}

/// The messages client `index` received, in order.
fn received(world: &World, index: usize) -> Vec<Message> {
    world
        .events(index)
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// Payload and QoS of every message client `index` received.
fn received_qos(world: &World, index: usize) -> Vec<(Bytes, QoS)> {
    received(world, index)
        .into_iter()
        .map(|m| (m.payload, m.qos))
        .collect()
}

/// Payload and RETAIN flag of every message client `index` received.
fn received_retain(world: &World, index: usize) -> Vec<(Bytes, bool)> {
    received(world, index)
        .into_iter()
        .map(|m| (m.payload, m.retain))
        .collect()
}

/// Every CONNACK client `index` accepted.
fn connections(world: &World, index: usize) -> Vec<Connected> {
    world
        .events(index)
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Connected(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

/// The session present flag of every CONNACK client `index` accepted.
fn sessions_present(world: &World, index: usize) -> Vec<bool> {
    connections(world, index)
        .iter()
        .map(|c| c.session_present)
        .collect()
}

/// When client `index` received its first message.
fn first_message_at(world: &World, index: usize) -> Instant {
    let (at, _) = world
        .events(index)
        .iter()
        .find(|(_, e)| matches!(e, Event::Message(_)))
        .expect("a message arrived");
    *at
}

/// The Subscription Identifiers a message carries, sorted.
fn subscription_ids(m: &Message) -> Vec<u32> {
    let mut ids: Vec<u32> = m
        .properties
        .subscription_identifiers
        .iter()
        .map(SubscriptionId::get)
        .collect();
    ids.sort_unstable();
    ids
}

/// Every end of a connection of client `index`, with when.
fn disconnections(world: &World, index: usize) -> Vec<(Instant, DisconnectReason)> {
    world
        .events(index)
        .iter()
        .filter_map(|(at, e)| match e {
            Event::Disconnected { reason } => Some((*at, reason.clone())),
            _ => None,
        })
        .collect()
}

/// The SUBACK codes of every completed subscribe of client `index`.
fn suback_codes(world: &World, index: usize) -> Vec<Vec<SubAckReasonCode>> {
    world
        .events(index)
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Subscribed { results, .. } => Some(results.clone()),
            _ => None,
        })
        .collect()
}

/// Lets the world settle and checks the invariants of the run.
fn settle_and_check(world: &mut World) {
    assert!(world.settle(secs(300)), "the world settles");
    if let Err(problem) = world.check() {
        panic!(
            "invariant broken:\n{problem}\n--- timeline ---\n{}",
            world.trace()
        );
    }
}

fn granted(qos: QoS) -> SubAckReasonCode {
    match qos {
        QoS::AtMostOnce => SubAckReasonCode::GrantedQoS0,
        QoS::AtLeastOnce => SubAckReasonCode::GrantedQoS1,
        QoS::ExactlyOnce => SubAckReasonCode::GrantedQoS2,
    }
}

// ---- routing ----

/// Single-level and multi-level wildcards route exactly the matching topics
/// ([MQTT-4.7.1-1] to [MQTT-4.7.1-3]: `#` also matches the parent level, `+` exactly
/// one level, an empty level included); no delivery to non-matching filters.
#[test]
fn mqtt_4_7_1_wildcards_route_exactly_the_matching_topics() {
    for version in BOTH {
        let mut world = world(1);
        let filters = [
            "sport/+/player1",
            "sport/#",
            "sport/tennis",
            "#",
            "+/+",
            "+",
            "sport/+",
        ];
        let subs = subscribers(&mut world, version, &filters);
        let publisher = join(&mut world, config(version, "pub"));
        let topics = [
            ("sport/tennis/player1", "m1"),
            ("sport/tennis", "m2"),
            ("sport", "m3"),
            ("news/today", "m4"),
            ("sport/tennis/player1/ranking", "m5"),
            ("/finance", "m6"),
            ("sport/", "m7"),
            ("news", "m8"),
        ];
        for (t, p) in topics {
            world
                .publish(publisher, message(t, p, QoS::AtLeastOnce))
                .unwrap();
        }
        settle_and_check(&mut world);
        let expected: [&[&str]; 7] = [
            &["m1"],
            &["m1", "m2", "m3", "m5", "m7"],
            &["m2"],
            &["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"],
            &["m2", "m4", "m6", "m7"],
            &["m3", "m8"],
            &["m2", "m7"],
        ];
        for (i, &index) in subs.iter().enumerate() {
            assert_eq!(
                world.delivered(index),
                bytes(expected[i]),
                "{version:?}: filter {}",
                filters[i]
            );
        }
        assert!(world.delivered(publisher).is_empty());
    }
}

/// Filters starting with a wildcard do not match topics starting with `$`
/// ([MQTT-4.7.2-1]); a filter that names the `$` level does.
#[test]
fn mqtt_4_7_2_1_dollar_topics_not_matched_by_wildcards() {
    for version in BOTH {
        let mut world = world(2);
        let filters = ["#", "+/monitor/Clients", "+/+", "$SYS/#", "$SYS/monitor/+"];
        let subs = subscribers(&mut world, version, &filters);
        let publisher = join(&mut world, config(version, "pub"));
        for (t, p) in [
            ("$SYS/monitor/Clients", "sys-1"),
            ("$SYS/uptime", "sys-2"),
            ("app/monitor/Clients", "app-1"),
        ] {
            world
                .publish(publisher, message(t, p, QoS::AtLeastOnce))
                .unwrap();
        }
        settle_and_check(&mut world);
        let expected: [&[&str]; 5] = [&["app-1"], &["app-1"], &[], &["sys-1", "sys-2"], &["sys-1"]];
        for (i, &index) in subs.iter().enumerate() {
            assert_eq!(
                world.delivered(index),
                bytes(expected[i]),
                "{version:?}: filter {}",
                filters[i]
            );
        }
    }
}

// ---- overlapping subscriptions and QoS ----

/// Overlapping subscriptions of one client give one copy, at the highest QoS granted
/// by any of them ([MQTT-3.3.4-2]; 3.1.1 [MQTT-3.3.5-1]).
#[test]
fn mqtt_3_3_4_2_overlapping_subscriptions_one_copy_at_the_highest_qos() {
    for version in BOTH {
        let mut world = world(3);
        let high = join(&mut world, config(version, "high"));
        subscribe(
            &mut world,
            high,
            vec![
                subscription("o/+", QoS::AtLeastOnce),
                subscription("o/#", QoS::ExactlyOnce),
            ],
        );
        let low = join_subscribed(&mut world, config(version, "low"), "o/+", QoS::AtMostOnce);
        subscribe(&mut world, low, vec![subscription("o/x", QoS::AtLeastOnce)]);
        let publisher = join(&mut world, config(version, "pub"));
        world
            .publish(publisher, message("o/x", "x2", QoS::ExactlyOnce))
            .unwrap();
        world
            .publish(publisher, message("o/y", "y1", QoS::AtLeastOnce))
            .unwrap();
        world
            .publish(publisher, message("o/y/z", "z2", QoS::ExactlyOnce))
            .unwrap();
        settle_and_check(&mut world);
        assert_eq!(
            received_qos(&world, high),
            vec![
                (Bytes::from("x2"), QoS::ExactlyOnce),
                (Bytes::from("y1"), QoS::AtLeastOnce),
                (Bytes::from("z2"), QoS::ExactlyOnce),
            ],
            "{version:?}"
        );
        assert_eq!(
            received_qos(&world, low),
            vec![
                (Bytes::from("x2"), QoS::AtLeastOnce),
                (Bytes::from("y1"), QoS::AtMostOnce),
            ],
            "{version:?}"
        );
    }
}

/// The one copy for overlapping subscriptions carries the Subscription Identifier of
/// every matching subscription ([MQTT-3.3.4-3], [MQTT-3.3.4-4]), and none when the
/// matching subscription has none.
#[test]
fn mqtt_3_3_4_4_one_copy_carries_every_matching_subscription_identifier() {
    let mut world = world(4);
    let sub = join(&mut world, config(ProtocolVersion::V5, "ids"));
    let with_id = |n: u32| SubscribeProperties {
        subscription_identifier: SubscriptionId::new(n),
        ..SubscribeProperties::default()
    };
    world
        .subscribe_with_properties(sub, vec![subscription("o/+", QoS::AtLeastOnce)], with_id(7))
        .unwrap();
    world
        .subscribe_with_properties(sub, vec![subscription("o/#", QoS::ExactlyOnce)], with_id(9))
        .unwrap();
    world
        .subscribe(sub, vec![subscription("p/#", QoS::AtLeastOnce)])
        .unwrap();
    world.run_for(secs(1));
    let publisher = join(&mut world, config(ProtocolVersion::V5, "pub"));
    world
        .publish(publisher, message("o/x", "both", QoS::AtLeastOnce))
        .unwrap();
    world
        .publish(publisher, message("o/x/y", "deep", QoS::AtLeastOnce))
        .unwrap();
    world
        .publish(publisher, message("p/q", "none", QoS::AtLeastOnce))
        .unwrap();
    settle_and_check(&mut world);
    let got: Vec<(Bytes, QoS, Vec<u32>)> = received(&world, sub)
        .into_iter()
        .map(|m| {
            let ids = subscription_ids(&m);
            (m.payload, m.qos, ids)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (Bytes::from("both"), QoS::AtLeastOnce, vec![7, 9]),
            (Bytes::from("deep"), QoS::AtLeastOnce, vec![9]),
            (Bytes::from("none"), QoS::AtLeastOnce, vec![]),
        ]
    );
}

/// A message is delivered at the lower of its QoS and the QoS granted to the
/// subscription ([MQTT-3.8.4-8]; 3.1.1 [MQTT-3.8.4-6]), for every pair.
#[test]
fn mqtt_3_8_4_8_delivered_qos_is_the_minimum_of_published_and_granted() {
    let levels = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
    for version in BOTH {
        let mut world = world(5);
        let subs: Vec<usize> = levels
            .iter()
            .map(|&g| {
                join_subscribed(
                    &mut world,
                    config(version, &format!("sub-{}", g as u8)),
                    "q/#",
                    g,
                )
            })
            .collect();
        let publisher = join(&mut world, config(version, "pub"));
        for p in levels {
            let payload = format!("at-{}", p as u8);
            world
                .publish(publisher, message(&format!("q/{}", p as u8), &payload, p))
                .unwrap();
        }
        settle_and_check(&mut world);
        for (&g, &index) in levels.iter().zip(&subs) {
            assert_eq!(suback_codes(&world, index), vec![vec![granted(g)]]);
            let expected: Vec<(Bytes, QoS)> = levels
                .iter()
                .map(|&p| (Bytes::from(format!("at-{}", p as u8)), p.min(g)))
                .collect();
            assert_eq!(
                received_qos(&world, index),
                expected,
                "{version:?}: granted {g:?}"
            );
        }
    }
}

// ---- subscription options (5.0) ----

/// No Local: a subscription with No Local gets none of the subscriber's own messages
/// ([MQTT-3.8.3-3] (5.0)); other subscribers, and the same client's subscriptions without
/// the option, still get them. In 3.1.1 (no such option) a client gets its own.
#[test]
fn mqtt_3_8_3_3_no_local_keeps_own_messages_back() {
    let mut world = world(6);
    let me = join(&mut world, config(ProtocolVersion::V5, "me"));
    let mut options = subscription("nl/#", QoS::AtMostOnce);
    options.options.no_local = true;
    subscribe(&mut world, me, vec![options]);
    subscribe(
        &mut world,
        me,
        vec![subscription("own/#", QoS::AtLeastOnce)],
    );
    let other = join_subscribed(
        &mut world,
        config(ProtocolVersion::V5, "other"),
        "nl/#",
        QoS::AtLeastOnce,
    );
    let old = join_subscribed(
        &mut world,
        config(ProtocolVersion::V311, "old"),
        "old/#",
        QoS::AtLeastOnce,
    );

    publish(&mut world, me, message("nl/a", "mine", QoS::AtLeastOnce));
    publish(
        &mut world,
        other,
        message("nl/b", "theirs", QoS::AtLeastOnce),
    );
    publish(&mut world, me, message("own/a", "echo", QoS::AtLeastOnce));
    publish(
        &mut world,
        old,
        message("old/a", "old-echo", QoS::AtLeastOnce),
    );
    settle_and_check(&mut world);
    assert_eq!(world.delivered(me), bytes(&["theirs", "echo"]));
    assert_eq!(world.delivered(other), bytes(&["mine", "theirs"]));
    assert_eq!(world.delivered(old), bytes(&["old-echo"]));
}

/// Retain As Published 0: a message forwarded to an established subscription has
/// RETAIN 0 ([MQTT-3.3.1-12]; 3.1.1 [MQTT-3.3.1-9], which has no option);
/// Retain As Published 1: RETAIN as published ([MQTT-3.3.1-13]).
#[test]
fn mqtt_3_3_1_12_and_13_retain_as_published() {
    let mut world = world(7);
    let keep = join(&mut world, config(ProtocolVersion::V5, "keep"));
    let mut rap = subscription("rap/#", QoS::AtLeastOnce);
    rap.options.retain_as_published = true;
    subscribe(&mut world, keep, vec![rap]);
    let clear = join_subscribed(
        &mut world,
        config(ProtocolVersion::V5, "clear"),
        "rap/#",
        QoS::AtLeastOnce,
    );
    let old = join_subscribed(
        &mut world,
        config(ProtocolVersion::V311, "old"),
        "rap/#",
        QoS::AtLeastOnce,
    );
    let publisher = join(&mut world, config(ProtocolVersion::V5, "pub"));
    world
        .publish(publisher, retained("rap/x", "kept", QoS::AtLeastOnce))
        .unwrap();
    world
        .publish(publisher, message("rap/x", "plain", QoS::AtLeastOnce))
        .unwrap();
    settle_and_check(&mut world);
    let flags = |retain| vec![(Bytes::from("kept"), retain), (Bytes::from("plain"), false)];
    assert_eq!(received_retain(&world, keep), flags(true));
    assert_eq!(received_retain(&world, clear), flags(false));
    assert_eq!(received_retain(&world, old), flags(false));
}

// ---- retained messages ----

/// The life of a retained message: stored ([MQTT-3.3.1-5]), sent to later subscribers
/// with RETAIN 1 (3.1.1 [MQTT-3.3.1-8]), replaced by a newer one, left alone by a
/// non-retained publish ([MQTT-3.3.1-8] (5.0), [MQTT-3.3.1-12] (3.1.1)), removed by an empty retained payload which is itself forwarded
/// as a normal message but not stored ([MQTT-3.3.1-6], [MQTT-3.3.1-7]; 3.1.1
/// [MQTT-3.3.1-10], [MQTT-3.3.1-11]). Only retained messages of matching topics are
/// sent.
#[test]
fn mqtt_3_3_1_5_to_8_retained_message_lifecycle() {
    for version in BOTH {
        let mut world = world(8);
        let publisher = join(&mut world, config(version, "pub"));
        let t = topic("ret/a");
        publish(
            &mut world,
            publisher,
            retained("ret/a", "r1", QoS::AtLeastOnce),
        );
        publish(
            &mut world,
            publisher,
            retained("other/b", "elsewhere", QoS::AtLeastOnce),
        );
        let stored = world.broker().retained(&t).expect("stored [MQTT-3.3.1-5]");
        assert_eq!(stored.payload, Bytes::from("r1"));

        let first = join_subscribed(
            &mut world,
            config(version, "first"),
            "ret/#",
            QoS::AtLeastOnce,
        );
        assert_eq!(
            received_retain(&world, first),
            vec![(Bytes::from("r1"), true)],
            "{version:?}"
        );

        // Replaced.
        publish(
            &mut world,
            publisher,
            retained("ret/a", "r2", QoS::AtLeastOnce),
        );
        assert_eq!(
            world.broker().retained(&t).unwrap().payload,
            Bytes::from("r2")
        );
        let second = join_subscribed(
            &mut world,
            config(version, "second"),
            "ret/#",
            QoS::AtLeastOnce,
        );
        assert_eq!(
            received_retain(&world, second),
            vec![(Bytes::from("r2"), true)]
        );

        // A non-retained publish neither stores nor removes.
        publish(
            &mut world,
            publisher,
            message("ret/a", "n1", QoS::AtLeastOnce),
        );
        assert_eq!(
            world.broker().retained(&t).unwrap().payload,
            Bytes::from("r2")
        );
        let third = join_subscribed(
            &mut world,
            config(version, "third"),
            "ret/+",
            QoS::AtLeastOnce,
        );
        assert_eq!(
            received_retain(&world, third),
            vec![(Bytes::from("r2"), true)]
        );

        // An empty retained payload removes it, and is forwarded like any message.
        publish(
            &mut world,
            publisher,
            retained("ret/a", "", QoS::AtLeastOnce),
        );
        assert!(world.broker().retained(&t).is_none(), "{version:?}");
        let fourth = join_subscribed(
            &mut world,
            config(version, "fourth"),
            "ret/#",
            QoS::AtLeastOnce,
        );
        assert!(received(&world, fourth).is_empty(), "{version:?}");
        assert!(world.broker().retained(&topic("other/b")).is_some());

        settle_and_check(&mut world);
        let live = |payloads: &[&str]| -> Vec<(Bytes, bool)> {
            payloads
                .iter()
                .map(|p| (Bytes::from(p.to_string()), false))
                .collect()
        };
        let mut expected = vec![(Bytes::from("r1"), true)];
        expected.extend(live(&["r2", "n1", ""]));
        assert_eq!(received_retain(&world, first), expected, "{version:?}");
        let mut expected = vec![(Bytes::from("r2"), true)];
        expected.extend(live(&["n1", ""]));
        assert_eq!(received_retain(&world, second), expected, "{version:?}");
        let mut expected = vec![(Bytes::from("r2"), true)];
        expected.extend(live(&[""]));
        assert_eq!(received_retain(&world, third), expected, "{version:?}");
        assert!(received(&world, fourth).is_empty());
    }
}

/// Retain Handling 0 sends the retained messages at every subscribe
/// ([MQTT-3.3.1-9]), 1 only when the subscription did not exist ([MQTT-3.3.1-10]),
/// 2 never ([MQTT-3.3.1-11]).
#[test]
fn mqtt_3_3_1_9_to_11_retain_handling() {
    let mut world = world(9);
    let publisher = join(&mut world, config(ProtocolVersion::V5, "pub"));
    publish(
        &mut world,
        publisher,
        retained("rh/x", "kept", QoS::AtLeastOnce),
    );
    let handlings = [
        RetainHandling::SendAtSubscribe,
        RetainHandling::SendAtSubscribeIfNew,
        RetainHandling::DoNotSend,
    ];
    let subs: Vec<usize> = handlings
        .iter()
        .enumerate()
        .map(|(i, &handling)| {
            let index = join(&mut world, config(ProtocolVersion::V5, &format!("rh-{i}")));
            let mut s = subscription("rh/#", QoS::AtLeastOnce);
            s.options.retain_handling = handling;
            subscribe(&mut world, index, vec![s.clone()]);
            subscribe(&mut world, index, vec![s]);
            index
        })
        .collect();
    settle_and_check(&mut world);
    let copies = |n: usize| vec![(Bytes::from("kept"), true); n];
    assert_eq!(received_retain(&world, subs[0]), copies(2));
    assert_eq!(received_retain(&world, subs[1]), copies(1));
    assert_eq!(received_retain(&world, subs[2]), copies(0));
    for &index in &subs {
        assert_eq!(suback_codes(&world, index).len(), 2);
    }
}

// ---- shared subscriptions ----

/// Two members of a shared subscription `$share/g/...`: each message goes to exactly
/// one of them, in turn (MQTT 5.0 section 4.8.2); a plain subscriber of the same
/// filter gets all of them; subscribing to a shared filter sends no retained message.
///
/// `World::check` is not called here: its ledger treats a shared filter like a plain
/// one and would require every member to get every message.
#[test]
fn mqtt_4_8_2_shared_subscription_one_member_each_in_turn() {
    let mut world = world(10);
    let publisher = join(&mut world, config(ProtocolVersion::V5, "pub"));
    publish(
        &mut world,
        publisher,
        retained("sh/r", "old", QoS::AtLeastOnce),
    );
    let a = join(&mut world, config(ProtocolVersion::V5, "member-a"));
    let b = join(&mut world, config(ProtocolVersion::V5, "member-b"));
    let plain = join(&mut world, config(ProtocolVersion::V5, "plain"));
    for member in [a, b] {
        subscribe(
            &mut world,
            member,
            vec![subscription("$share/g/sh/#", QoS::AtLeastOnce)],
        );
    }
    subscribe(
        &mut world,
        plain,
        vec![subscription("sh/#", QoS::AtLeastOnce)],
    );
    assert!(
        received(&world, a).is_empty(),
        "no retained for a shared filter"
    );
    assert!(
        received(&world, b).is_empty(),
        "no retained for a shared filter"
    );
    assert_eq!(
        received_retain(&world, plain),
        vec![(Bytes::from("old"), true)]
    );

    let payloads: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
    for (i, p) in payloads.iter().enumerate() {
        world
            .publish(publisher, message(&format!("sh/{i}"), p, QoS::AtLeastOnce))
            .unwrap();
    }
    assert!(world.settle(secs(60)));
    let got_a = world.delivered(a);
    let got_b = world.delivered(b);
    assert_eq!(got_a.len(), 3, "{got_a:?}");
    assert_eq!(got_b.len(), 3, "{got_b:?}");
    let owner: Vec<usize> = payloads
        .iter()
        .map(|p| {
            let p = Bytes::from(p.clone());
            match (got_a.contains(&p), got_b.contains(&p)) {
                (true, false) => a,
                (false, true) => b,
                other => panic!("{p:?} went to (a, b) = {other:?}"),
            }
        })
        .collect();
    for pair in owner.windows(2) {
        assert_ne!(pair[0], pair[1], "members alternate: {owner:?}");
    }
    let mut all = vec![Bytes::from("old")];
    all.extend(payloads.iter().map(|p| Bytes::from(p.clone())));
    assert_eq!(world.delivered(plain), all);
}

// ---- persistent sessions ----

/// A subscriber whose link is cut while messages are published gets them when it
/// resumes its session (session present, [MQTT-3.2.2-2] (3.1.1), [MQTT-3.2.2-3] (5.0)):
/// QoS 1 and 2, each exactly once ([MQTT-4.5.0-1]: the broker holds them in the session
/// meanwhile; [MQTT-3.1.2-5] (3.1.1 and 5.0): it keeps queuing them for the
/// disconnected client and continues from that session).
#[test]
fn mqtt_3_1_2_5_session_resumed_after_a_cut_delivers_what_was_queued() {
    for version in BOTH {
        let mut world = world(11);
        let mut c = persistent(version, "sub");
        fixed_reconnect_delay(&mut c, secs(5));
        let sub = join_subscribed(&mut world, c, "ps/#", QoS::ExactlyOnce);
        let publisher = join(&mut world, config(version, "pub"));
        publish(
            &mut world,
            publisher,
            message("ps/a", "before", QoS::ExactlyOnce),
        );

        world.cut(sub);
        world.run_for(millis(100));
        assert!(!world.client(sub).is_connected());
        for (p, qos) in [
            ("q1", QoS::AtLeastOnce),
            ("q2", QoS::ExactlyOnce),
            ("q2b", QoS::ExactlyOnce),
        ] {
            world.publish(publisher, message("ps/b", p, qos)).unwrap();
        }
        world.run_for(millis(500));
        assert!(
            !world.client(sub).is_connected(),
            "still waiting to reconnect"
        );
        let held = world.broker().session_of("sub").and_then(|c| c.session());
        assert_eq!(
            held.map(|s| s.queued() + s.in_flight()),
            Some(3),
            "{version:?}"
        );

        settle_and_check(&mut world);
        let sessions = sessions_present(&world, sub);
        assert_eq!(sessions, vec![false, true], "{version:?}");
        assert_eq!(
            received_qos(&world, sub),
            vec![
                (Bytes::from("before"), QoS::ExactlyOnce),
                (Bytes::from("q1"), QoS::AtLeastOnce),
                (Bytes::from("q2"), QoS::ExactlyOnce),
                (Bytes::from("q2b"), QoS::ExactlyOnce),
            ],
            "{version:?}"
        );
    }
}

/// QoS 2 is delivered exactly once when either link is cut at any step of the flow
/// (PUBLISH, PUBREC, PUBREL, PUBCOMP on either leg), with persistent sessions on both
/// sides ([MQTT-4.3.3-2] and the re-sends of [MQTT-4.4.0-1]).
#[test]
fn mqtt_4_3_3_qos2_exactly_once_when_a_link_is_cut_at_any_step() {
    for version in BOTH {
        for victim in ["sub", "pub"] {
            // A fixed latency of 3 ms: the flow takes 3 ms per leg, so cutting every
            // millisecond over 30 ms hits every packet of both legs in turn.
            for at in 0..30 {
                let mut faults = Faults::none();
                faults.latency = (millis(3), millis(3));
                let mut world = World::new(at, ServerConfig::default(), faults);
                let sub = join_subscribed(
                    &mut world,
                    persistent(version, "sub"),
                    "x/#",
                    QoS::ExactlyOnce,
                );
                let publisher = join(&mut world, persistent(version, "pub"));
                world
                    .publish(publisher, message("x/1", "once", QoS::ExactlyOnce))
                    .unwrap();
                world.run_for(millis(at));
                world.cut(if victim == "sub" { sub } else { publisher });
                settle_and_check(&mut world);
                assert_eq!(
                    world.delivered(sub),
                    bytes(&["once"]),
                    "{version:?}: {victim} cut after {at} ms"
                );
            }
        }
    }
}

// ---- Wills ----

fn will_config(version: ProtocolVersion, id: &str) -> ClientConfig {
    let mut c = config(version, id);
    let mut will = Will::new(topic("will/w"), Bytes::from("w-gone"));
    will.qos = QoS::AtLeastOnce;
    c.will = Some(will);
    c
}

/// A client whose connection ends without DISCONNECT has its Will published
/// ([MQTT-3.1.2-8]), once.
#[test]
fn mqtt_3_1_2_8_will_published_when_the_link_is_cut() {
    for version in BOTH {
        let mut world = world(12);
        let watcher = will_watcher(&mut world, version);
        let w = join(&mut world, will_config(version, "w"));
        world.cut(w);
        world.run_for(secs(1));
        assert_eq!(world.delivered(watcher), bytes(&["w-gone"]), "{version:?}");
        let will = &received(&world, watcher)[0];
        assert_eq!((will.qos, will.retain), (QoS::AtLeastOnce, false));
        settle_and_check(&mut world);
        assert_eq!(connections(&world, w).len(), 2, "the client reconnected");
        assert_eq!(world.delivered(watcher), bytes(&["w-gone"]), "{version:?}");
    }
}

/// A DISCONNECT with Normal Disconnection discards the Will ([MQTT-3.14.4-3],
/// [MQTT-3.1.2-10]): nobody gets it, not even later.
#[test]
fn mqtt_3_1_2_10_no_will_after_a_normal_disconnect() {
    for version in BOTH {
        let mut world = world(13);
        let watcher = will_watcher(&mut world, version);
        let w = join(&mut world, will_config(version, "w"));
        world.disconnect(w).unwrap();
        world.run_for(secs(120));
        assert!(!world.client(w).is_connected());
        assert!(!world.client(w).is_reconnecting());
        assert_eq!(
            disconnections(&world, w).last().map(|(_, r)| r.clone()),
            Some(DisconnectReason::ByClient)
        );
        assert!(world.delivered(watcher).is_empty(), "{version:?}");
        world.connect(w).unwrap();
        settle_and_check(&mut world);
        assert!(world.delivered(watcher).is_empty(), "{version:?}");
    }
}

fn delayed_will_config(id: &str, delay: u32, expiry: u32, reconnect_after: u64) -> ClientConfig {
    let mut c = will_config(ProtocolVersion::V5, id);
    c.clean_start = false;
    c.session_expiry_interval = expiry;
    if let Some(will) = &mut c.will {
        will.properties = WillProperties {
            will_delay_interval: Some(delay),
            ..WillProperties::default()
        }
        .into();
    }
    fixed_reconnect_delay(&mut c, secs(reconnect_after));
    c
}

/// The Will waits for the Will Delay Interval after the connection ends (5.0 section
/// 3.1.3.2.2), and is not sent at all when the client resumes its session within the
/// delay ([MQTT-3.1.3-9]).
#[test]
fn mqtt_3_1_3_9_will_delay_interval() {
    // Not back within the delay: the Will comes after 10 s, not before.
    let mut world = world(14);
    let watcher = will_watcher(&mut world, ProtocolVersion::V5);
    let w = join(&mut world, delayed_will_config("w", 10, 3600, 60));
    let cut_at = world.now();
    world.cut(w);
    world.run_for(millis(9_900));
    assert!(world.delivered(watcher).is_empty(), "not before the delay");
    world.run_for(secs(1));
    assert_eq!(world.delivered(watcher), bytes(&["w-gone"]));
    let after = first_message_at(&world, watcher).saturating_duration_since(cut_at);
    assert!(
        after >= secs(10) && after <= secs(10) + 2 * MAX_LATENCY,
        "the Will came {after:?} after the cut"
    );
    settle_and_check(&mut world);
    assert_eq!(world.delivered(watcher), bytes(&["w-gone"]));

    // Back within the delay with its session: no Will, ever.
    let mut world = self::world(15);
    let watcher = will_watcher(&mut world, ProtocolVersion::V5);
    let w = join(&mut world, delayed_will_config("w", 10, 3600, 2));
    world.cut(w);
    world.run_for(secs(5));
    assert!(world.client(w).is_connected(), "back within the delay");
    let sessions = sessions_present(&world, w);
    assert_eq!(sessions, vec![false, true]);
    world.run_for(secs(60));
    settle_and_check(&mut world);
    assert!(
        world.delivered(watcher).is_empty(),
        "no Will [MQTT-3.1.3-9]"
    );
}

/// The Will is published when the session ends, if that comes before the Will Delay
/// Interval passes (5.0 section 3.1.3.2.2).
#[test]
fn mqtt_3_1_3_9_will_sent_when_the_session_ends_before_the_delay() {
    let mut world = world(16);
    let watcher = will_watcher(&mut world, ProtocolVersion::V5);
    let w = join(&mut world, delayed_will_config("w", 30, 5, 60));
    let cut_at = world.now();
    world.cut(w);
    world.run_for(millis(4_900));
    assert!(world.delivered(watcher).is_empty());
    world.run_for(secs(1));
    assert_eq!(world.delivered(watcher), bytes(&["w-gone"]));
    let after = first_message_at(&world, watcher).saturating_duration_since(cut_at);
    assert!(
        after >= secs(5) && after <= secs(5) + 2 * MAX_LATENCY,
        "{after:?}"
    );
    assert!(
        world.broker().session_of("w").is_none(),
        "the session ended"
    );
    settle_and_check(&mut world);
    assert_eq!(world.delivered(watcher), bytes(&["w-gone"]));
}

// ---- session takeover ----

/// A second connection with the same Client Identifier takes the session over: the
/// first is disconnected (5.0: DISCONNECT 0x8E Session taken over, [MQTT-3.1.4-3] (5.0),
/// after which the client stops reconnecting; 3.1.1: the network connection is
/// closed, [MQTT-3.1.4-2] (3.1.1)), and the newcomer resumes the session (session present) and gets the
/// messages of its subscriptions.
///
/// `World::check` is not called here: its ledger knows no takeover and would expect
/// the displaced client to keep getting the messages of its subscriptions.
#[test]
fn mqtt_3_1_4_3_session_takeover_disconnects_the_first_client() {
    for version in BOTH {
        let mut world = world(17);
        let first = join_subscribed(
            &mut world,
            persistent(version, "same"),
            "to/#",
            QoS::AtLeastOnce,
        );
        let publisher = join(&mut world, config(version, "pub"));
        let second = world.add_client(persistent(version, "same"));
        let joined_at = world.now();
        world.run_for(millis(300));
        assert!(world.client(second).is_connected(), "{version:?}");
        assert!(!world.client(first).is_connected(), "{version:?}");
        let (at, reason) = disconnections(&world, first)
            .into_iter()
            .next()
            .expect("the first client was disconnected");
        assert!(at.saturating_duration_since(joined_at) <= 4 * MAX_LATENCY);
        let sessions = sessions_present(&world, second);
        assert_eq!(sessions, vec![true], "{version:?}");
        match version {
            ProtocolVersion::V5 => {
                assert!(
                    matches!(
                        reason,
                        DisconnectReason::ByServer {
                            reason_code: DisconnectReasonCode::SessionTakenOver,
                            ..
                        }
                    ),
                    "{reason:?}"
                );
                // Retry later: not at once (which would only take the session back
                // and forth), but after the policy's longest delay.
                let scheduled: Vec<Duration> = world
                    .events(first)
                    .iter()
                    .filter_map(|(_, e)| match e {
                        Event::AttemptScheduled { delay, .. } => Some(*delay),
                        _ => None,
                    })
                    .collect();
                let longest = world.client(first).config().reconnect.max_delay;
                assert_eq!(scheduled.last(), Some(&longest), "{scheduled:?}");
                assert!(longest > secs(10));
                publish(
                    &mut world,
                    publisher,
                    message("to/x", "moved", QoS::AtLeastOnce),
                );
                world.run_for(secs(10));
                assert!(!world.client(first).is_connected());
                assert_eq!(world.delivered(second), bytes(&["moved"]));
                assert!(world.delivered(first).is_empty());
            }
            _ => {
                // 3.1.1 has no DISCONNECT from the server: the connection closes.
                assert_eq!(reason, DisconnectReason::TransportClosed);
            }
        }
    }
}

// ---- broker restarts ----

/// A broker that restarts with its sessions: the subscriber resumes its session
/// (session present) and gets the messages queued for it before the restart; new
/// messages flow.
#[test]
fn broker_restart_keeping_sessions_delivers_what_was_queued() {
    for version in BOTH {
        let mut world = world(18);
        let mut c = persistent(version, "sub");
        fixed_reconnect_delay(&mut c, secs(5));
        let sub = join_subscribed(&mut world, c, "rs/#", QoS::ExactlyOnce);
        let publisher = join(&mut world, config(version, "pub"));
        world.cut(sub);
        world.run_for(millis(100));
        world
            .publish(publisher, message("rs/a", "m1", QoS::AtLeastOnce))
            .unwrap();
        world
            .publish(publisher, message("rs/a", "m2", QoS::ExactlyOnce))
            .unwrap();
        world.run_for(millis(500));
        let held = world.broker().session_of("sub").and_then(|c| c.session());
        assert_eq!(held.map(|s| s.queued()), Some(2), "{version:?}");

        world.restart_broker(true);
        assert!(world.settle(secs(120)));
        publish(
            &mut world,
            publisher,
            message("rs/b", "m3", QoS::ExactlyOnce),
        );
        settle_and_check(&mut world);
        let sessions = sessions_present(&world, sub);
        assert_eq!(sessions, vec![false, true], "{version:?}");
        assert_eq!(
            world.delivered(sub),
            bytes(&["m1", "m2", "m3"]),
            "{version:?}"
        );
    }
}

/// A broker that restarts without its sessions: the subscriber expecting its session
/// sees `SessionLost`, re-subscribes by the Restore policy, and new messages flow
/// again.
#[test]
fn broker_restart_losing_sessions_restores_subscriptions() {
    for version in BOTH {
        let mut world = world(19);
        let sub = join_subscribed(
            &mut world,
            persistent(version, "sub"),
            "rl/#",
            QoS::AtLeastOnce,
        );
        let publisher = join(&mut world, config(version, "pub"));
        publish(
            &mut world,
            publisher,
            message("rl/a", "m1", QoS::AtLeastOnce),
        );

        world.restart_broker(false);
        assert!(world.broker().session_of("sub").is_none());
        assert!(world.settle(secs(120)), "{version:?}");
        let sessions = sessions_present(&world, sub);
        assert_eq!(sessions, vec![false, false], "{version:?}");
        let lost: Vec<&Event> = world
            .events(sub)
            .iter()
            .map(|(_, e)| e)
            .filter(|e| matches!(e, Event::SessionLost { .. } | Event::Resubscribed { .. }))
            .collect();
        assert_eq!(
            lost,
            vec![
                &Event::SessionLost {
                    in_flight: 0,
                    subscriptions: 1
                },
                &Event::Resubscribed {
                    results: vec![("rl/#".parse().unwrap(), SubAckReasonCode::GrantedQoS1)]
                },
            ],
            "{version:?}"
        );
        let restored = world.broker().session_of("sub").and_then(|c| c.session());
        assert_eq!(restored.map(|s| s.subscriptions().count()), Some(1));

        publish(
            &mut world,
            publisher,
            message("rl/b", "m2", QoS::AtLeastOnce),
        );
        settle_and_check(&mut world);
        assert_eq!(world.delivered(sub), bytes(&["m1", "m2"]), "{version:?}");
    }
}

// ---- half-open links ----

/// A link whose broker-to-client direction silently dies: the client notices by
/// keep-alive within 1.5 times the keep alive (plus the latency of the last bytes
/// that were on their way) ([MQTT-3.1.2-22] (5.0), applied by the client; 3.1.1
/// [MQTT-3.1.2-24]), reconnects, resumes its session, and nothing is lost.
#[test]
fn mqtt_3_1_2_22_half_open_link_detected_by_keep_alive() {
    for version in BOTH {
        let mut world = world(20);
        let mut c = persistent(version, "sub");
        c.keep_alive = 4;
        let sub = join_subscribed(&mut world, c, "ho/#", QoS::ExactlyOnce);
        let publisher = join(&mut world, config(version, "pub"));
        publish(
            &mut world,
            publisher,
            message("ho/a", "before", QoS::ExactlyOnce),
        );
        world.run_for(millis(2_345));

        let broken_at = world.now();
        world.half_open(sub, Direction::Down);
        world
            .publish(publisher, message("ho/a", "lost-1", QoS::AtLeastOnce))
            .unwrap();
        world
            .publish(publisher, message("ho/a", "lost-2", QoS::ExactlyOnce))
            .unwrap();
        world.run_for(secs(10));
        let (at, reason) = disconnections(&world, sub)
            .into_iter()
            .next()
            .expect("the half-open link is noticed");
        assert_eq!(reason, DisconnectReason::KeepAliveTimeout, "{version:?}");
        let after = at.saturating_duration_since(broken_at);
        let keep_alive = secs(4);
        assert!(
            after > keep_alive / 2 && after <= keep_alive * 3 / 2 + MAX_LATENCY,
            "{version:?}: noticed {after:?} after the link broke"
        );
        world
            .publish(publisher, message("ho/a", "after", QoS::ExactlyOnce))
            .unwrap();
        settle_and_check(&mut world);
        let sessions = sessions_present(&world, sub);
        assert_eq!(sessions, vec![false, true], "{version:?}");
        let mut got = world.delivered(sub);
        got.dedup();
        assert_eq!(
            got,
            bytes(&["before", "lost-1", "lost-2", "after"]),
            "{version:?}"
        );
    }
}

// ---- determinism ----

/// One faulty scenario: chunking, latency, cuts inside writes, a half-open link, a
/// partition, a broker restart; returns its timeline.
fn replay(seed: u64) -> String {
    let faults = {
        let mut f = Faults::default();
        f.latency = (millis(1), millis(40));
        f.max_chunk = 7;
        f.cut_per_million = 50_000;
        f
    };
    let mut world = World::new(seed, ServerConfig::default(), faults);
    world.enable_trace();
    let sub = world.add_client(persistent(ProtocolVersion::V5, "sub"));
    let old = world.add_client(persistent(ProtocolVersion::V311, "old"));
    let publisher = world.add_client(persistent(ProtocolVersion::V5, "pub"));
    world.run_for(secs(2));
    let _ = world.subscribe(sub, vec![subscription("r/#", QoS::ExactlyOnce)]);
    let _ = world.subscribe(old, vec![subscription("r/+", QoS::AtLeastOnce)]);
    world.run_for(secs(2));
    for i in 0..20 {
        let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][i % 3];
        let _ = world.publish(
            publisher,
            message(&format!("r/{}", i % 4), &format!("p{i}"), qos),
        );
        world.run_for(millis(150));
        match i {
            5 => world.half_open(sub, Direction::Down),
            9 => world.partition(secs(3)),
            13 => world.restart_broker(true),
            _ => {}
        }
    }
    assert!(world.settle(secs(600)));
    world.check().unwrap();
    world.trace().to_owned()
}

/// The same seed and the same calls give the same run, byte for byte; another seed
/// gives another run.
#[test]
fn same_seed_same_trace_other_seed_other_trace() {
    let first = replay(99);
    let again = replay(99);
    assert!(first.lines().count() > 100, "a substantial trace");
    for fault in ["CUT link", "PARTITION", "BROKER RESTART"] {
        assert!(first.contains(fault), "the run has a {fault}");
    }
    assert_eq!(first, again);
    let other = replay(100);
    assert_ne!(first, other);
}

// ---- more on retained messages, Wills and expiry ----

/// A retained message sent on subscribe is downgraded to the granted QoS
/// ([MQTT-3.8.4-8]) and carries the Subscription Identifier of the subscription that
/// brought it ([MQTT-3.3.4-3]).
#[test]
fn mqtt_3_3_4_3_retained_copy_carries_the_subscription_identifier_at_the_granted_qos() {
    let mut world = world(21);
    let publisher = join(&mut world, config(ProtocolVersion::V5, "pub"));
    publish(
        &mut world,
        publisher,
        retained("ri/x", "kept", QoS::ExactlyOnce),
    );
    let sub = join(&mut world, config(ProtocolVersion::V5, "sub"));
    let properties = SubscribeProperties {
        subscription_identifier: SubscriptionId::new(42),
        ..SubscribeProperties::default()
    };
    world
        .subscribe_with_properties(
            sub,
            vec![subscription("ri/+", QoS::AtLeastOnce)],
            properties,
        )
        .unwrap();
    settle_and_check(&mut world);
    let got = received(&world, sub);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].qos, got[0].retain), (QoS::AtLeastOnce, true));
    assert_eq!(subscription_ids(&got[0]), vec![42]);
}

/// A Will with Will Retain 1 is published as a retained message ([MQTT-3.1.2-15];
/// 3.1.1 [MQTT-3.1.2-17]): a later subscriber gets it with RETAIN 1.
#[test]
fn mqtt_3_1_2_15_retained_will_is_stored() {
    for version in BOTH {
        let mut world = world(22);
        let mut c = will_config(version, "w");
        if let Some(will) = &mut c.will {
            will.retain = true;
        }
        let w = join(&mut world, c);
        world.cut(w);
        world.run_for(secs(1));
        let stored = world
            .broker()
            .retained(&topic("will/w"))
            .expect("the Will is retained");
        assert_eq!(stored.payload, Bytes::from("w-gone"));
        let late = join_subscribed(
            &mut world,
            config(version, "late"),
            "will/#",
            QoS::AtLeastOnce,
        );
        settle_and_check(&mut world);
        assert_eq!(
            received_retain(&world, late),
            vec![(Bytes::from("w-gone"), true)],
            "{version:?}"
        );
    }
}

/// A session ends when its Session Expiry Interval passes after the connection
/// closed ([MQTT-4.1.0-2]): a client back after that finds no session (session
/// present 0), sees `SessionLost` and re-subscribes; one back before finds it.
#[test]
fn mqtt_4_1_0_2_session_expires_after_its_interval() {
    for (back_after, present) in [(3, true), (8, false)] {
        let mut world = world(23);
        let mut c = persistent(ProtocolVersion::V5, "sub");
        c.session_expiry_interval = 5;
        fixed_reconnect_delay(&mut c, secs(back_after));
        let sub = join_subscribed(&mut world, c, "se/#", QoS::AtLeastOnce);
        world.cut(sub);
        world.run_for(millis(4_900));
        assert!(world.broker().session_of("sub").is_some());
        world.run_for(millis(200));
        assert_eq!(
            world.broker().session_of("sub").is_some(),
            present,
            "back after {back_after} s"
        );
        settle_and_check(&mut world);
        let sessions = sessions_present(&world, sub);
        assert_eq!(sessions, vec![false, present]);
        let lost = world
            .events(sub)
            .iter()
            .any(|(_, e)| matches!(e, Event::SessionLost { .. }));
        assert_eq!(lost, !present);
        let publisher = join(&mut world, config(ProtocolVersion::V5, "pub"));
        publish(
            &mut world,
            publisher,
            message("se/x", "after", QoS::AtLeastOnce),
        );
        settle_and_check(&mut world);
        assert_eq!(world.delivered(sub), bytes(&["after"]));
    }
}

/// A message that waited in the session of an offline subscriber longer than its
/// Message Expiry Interval is not delivered ([MQTT-3.3.2-5]); one that did not is,
/// with the interval less the time it waited ([MQTT-3.3.2-6]).
///
/// `World::check` is not called here: its ledger knows no expiry and would require
/// the expired QoS 1 message.
#[test]
fn mqtt_3_3_2_5_expired_messages_are_not_delivered_after_reconnect() {
    let mut world = world(24);
    let mut c = persistent(ProtocolVersion::V5, "sub");
    fixed_reconnect_delay(&mut c, secs(10));
    let sub = join_subscribed(&mut world, c, "ex/#", QoS::AtLeastOnce);
    let publisher = join(&mut world, config(ProtocolVersion::V5, "pub"));
    world.cut(sub);
    world.run_for(millis(100));
    for (payload, expiry) in [("short", 3), ("long", 60)] {
        let mut m = message("ex/x", payload, QoS::AtLeastOnce);
        m.properties.message_expiry_interval = Some(expiry);
        world.publish(publisher, m).unwrap();
    }
    assert!(world.settle(secs(60)));
    let got = received(&world, sub);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].payload, Bytes::from("long"));
    let remaining = got[0].properties.message_expiry_interval.unwrap();
    assert!((49..=51).contains(&remaining), "{remaining} s left");
}

/// A retained message with a Message Expiry Interval is sent to a later subscriber
/// with the interval less the time it was stored ([MQTT-3.3.2-6]), and not at all
/// once the interval passed ([MQTT-3.3.2-5]). (Found failing: the broker once sent
/// stored retained messages as fresh ones.)
#[test]
fn mqtt_3_3_2_6_retained_message_expiry_counts_the_time_it_was_stored() {
    let mut world = world(25);
    let publisher = join(&mut world, config(ProtocolVersion::V5, "pub"));
    let mut m = retained("rx/x", "fading", QoS::AtLeastOnce);
    m.properties.message_expiry_interval = Some(10);
    publish(&mut world, publisher, m);
    world.run_for(secs(3));
    let early = join_subscribed(
        &mut world,
        config(ProtocolVersion::V5, "early"),
        "rx/#",
        QoS::AtLeastOnce,
    );
    let got = received(&world, early);
    assert_eq!(got.len(), 1);
    let remaining = got[0].properties.message_expiry_interval.unwrap();
    assert!((4..=6).contains(&remaining), "{remaining} s left");
    world.run_for(secs(10));
    let late = join_subscribed(
        &mut world,
        config(ProtocolVersion::V5, "late"),
        "rx/#",
        QoS::AtLeastOnce,
    );
    assert!(received(&world, late).is_empty(), "expired");
}

/// The broker never has more QoS 1/2 messages unacknowledged towards a client than
/// the client's Receive Maximum ([MQTT-3.3.4-9]); a burst still arrives complete, in
/// order, each once (the client would end the connection on an excess).
#[test]
fn mqtt_3_3_4_9_broker_respects_the_client_receive_maximum() {
    let mut world = world(26);
    let mut c = config(ProtocolVersion::V5, "sub");
    c.receive_maximum = std::num::NonZeroU16::new(2).unwrap();
    let sub = join_subscribed(&mut world, c, "rm/#", QoS::ExactlyOnce);
    let publisher = join(&mut world, config(ProtocolVersion::V5, "pub"));
    let payloads: Vec<String> = (0..30).map(|i| format!("burst-{i}")).collect();
    for (i, p) in payloads.iter().enumerate() {
        let qos = if i % 2 == 0 {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        };
        world.publish(publisher, message("rm/x", p, qos)).unwrap();
    }
    settle_and_check(&mut world);
    let expected: Vec<&str> = payloads.iter().map(String::as_str).collect();
    assert_eq!(world.delivered(sub), bytes(&expected));
    assert_eq!(
        disconnections(&world, sub),
        vec![],
        "no violation, no reconnect"
    );
}
