//! Outgoing Topic Aliases: assigned within the server's Topic Alias Maximum, least
//! recently used replaced, forgotten with the connection, never on a re-sent PUBLISH.

mod peer;
use mqtt_sansio::*;
use peer::*;
use std::num::NonZeroU16;

/// CONNACK with the server's Topic Alias Maximum.
fn connack_alias_maximum(maximum: u16, session_present: bool) -> ConnAck {
    let mut props = ConnAckProperties::new();
    props.topic_alias_maximum = Some(maximum);
    let mut ack = connack_with_props(props);
    ack.session_present = session_present;
    ack
}

fn connected(maximum: u16, mode: TopicAliasMode) -> Peer {
    let mut p = Peer::configured(ProtocolVersion::V5, |c| c.topic_alias_mode = mode);
    p.assert_connects(connack_alias_maximum(maximum, false));
    p
}

/// The (topic, alias) of each PUBLISH the client wrote since the last call.
fn wire(p: &mut Peer) -> Vec<(String, Option<u16>)> {
    publishes(&p.sent())
        .iter()
        .map(|publish| {
            (
                publish.topic.as_str().to_string(),
                publish.properties.topic_alias.map(NonZeroU16::get),
            )
        })
        .collect()
}

fn send(p: &mut Peer, topic_name: &str, qos: QoS) {
    p.publish(message(topic_name, b"x", qos));
}

fn w(topic_name: &str, alias: Option<u16>) -> (String, Option<u16>) {
    (topic_name.to_string(), alias)
}

#[test]
fn mqtt_3_3_2_9_auto_aliases_stay_within_the_maximum_and_replace_the_least_recently_used() {
    let mut p = connected(2, TopicAliasMode::Auto);
    for t in ["a", "a", "b", "c", "a", "c"] {
        send(&mut p, t, QoS::AtMostOnce);
    }
    assert_eq!(
        wire(&mut p),
        vec![
            w("a", Some(1)), // a gets alias 1, with its topic
            w("", Some(1)),  // then the alias alone
            w("b", Some(2)),
            w("c", Some(1)), // both taken: a (used before b) gives its alias to c
            w("a", Some(2)), // b is now the least recently used
            w("", Some(1)),
        ]
    );
}

#[test]
fn mqtt_3_2_2_18_no_aliases_without_a_topic_alias_maximum() {
    let mut p = Peer::connected(ProtocolVersion::V5);
    send(&mut p, "a", QoS::AtMostOnce);
    send(&mut p, "a", QoS::AtLeastOnce);
    assert_eq!(wire(&mut p), vec![w("a", None), w("a", None)]);
}

#[test]
fn no_aliases_in_v311_or_when_off() {
    let mut p = Peer::connected(ProtocolVersion::V311);
    send(&mut p, "a", QoS::AtMostOnce);
    send(&mut p, "a", QoS::AtMostOnce);
    assert_eq!(wire(&mut p), vec![w("a", None), w("a", None)]);

    let mut p = connected(10, TopicAliasMode::Off);
    send(&mut p, "a", QoS::AtMostOnce);
    send(&mut p, "a", QoS::AtMostOnce);
    assert_eq!(wire(&mut p), vec![w("a", None), w("a", None)]);
}

#[test]
fn mqtt_3_3_2_7_aliases_are_forgotten_with_the_connection() {
    let mut p = Peer::configured(ProtocolVersion::V5, |c| c.clean_start = false);
    p.assert_connects(connack_alias_maximum(5, false));
    send(&mut p, "a", QoS::AtMostOnce);
    send(&mut p, "a", QoS::AtMostOnce);
    assert_eq!(wire(&mut p), vec![w("a", Some(1)), w("", Some(1))]);
    p.reconnect(connack_alias_maximum(5, true));
    send(&mut p, "a", QoS::AtMostOnce);
    assert_eq!(wire(&mut p), vec![w("a", Some(1))], "the topic goes again");
}

#[test]
fn a_resent_publish_carries_its_full_topic_and_no_alias() {
    let mut p = Peer::configured(ProtocolVersion::V5, |c| c.clean_start = false);
    p.assert_connects(connack_alias_maximum(5, false));
    send(&mut p, "a", QoS::AtMostOnce);
    send(&mut p, "a", QoS::AtLeastOnce);
    assert_eq!(wire(&mut p), vec![w("a", Some(1)), w("", Some(1))]);
    // Not acknowledged: after reconnecting with the session it goes again.
    p.reconnect(connack_alias_maximum(5, true));
    let resent = publishes(&p.sent());
    assert_eq!(resent.len(), 1);
    assert!(resent[0].dup);
    assert_eq!(resent[0].topic.as_str(), "a");
    assert_eq!(resent[0].properties.topic_alias, None);
}

#[test]
fn mqtt_3_2_2_17_manual_aliases_are_checked_and_used_as_given() {
    let mut p = connected(5, TopicAliasMode::Manual);
    let mut m = message("a", b"x", QoS::AtMostOnce);
    m.properties.topic_alias = NonZeroU16::new(3);
    p.publish(m.clone());
    p.publish(m);
    assert_eq!(wire(&mut p), vec![w("a", Some(3)), w("", Some(3))]);
    // Messages without an alias go without one.
    send(&mut p, "b", QoS::AtMostOnce);
    assert_eq!(wire(&mut p), vec![w("b", None)]);
    // Above the server's maximum: refused at the command.
    let mut m = message("a", b"x", QoS::AtMostOnce);
    m.properties.topic_alias = NonZeroU16::new(6);
    assert_eq!(
        p.client.publish(p.now, m),
        Err(PublishError::TopicAliasTooLarge {
            alias: 6,
            maximum: 5
        })
    );
}

#[test]
fn an_alias_set_by_the_application_is_refused_unless_the_mode_is_manual() {
    let mut p = connected(5, TopicAliasMode::Auto);
    let mut m = message("a", b"x", QoS::AtMostOnce);
    m.properties.topic_alias = NonZeroU16::new(1);
    assert_eq!(
        p.client.publish(p.now, m),
        Err(PublishError::PropertyNotAllowed("topic alias"))
    );
}
