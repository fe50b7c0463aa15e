//! What outlives a server connection: the Will, the session and its expiry, takeover
//! by a new connection of the same client, and the QoS 1/2 state the session carries
//! across connections.
//!
//! Tests are named after the normative statement they check; where 3.1.1 and 5.0
//! number the same rule differently, each version has its own test named after its
//! own identifier (`v311_...`, `v5_...`), sharing one body.

mod server_peer;
use bytes::Bytes;
use mqtt_sansio::*;
use server_peer::*;
use std::num::NonZeroU16;
use std::time::Duration;

fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A Will on "will/c1" with payload "gone" at `qos` and `retain`; in 5.0 with User
/// Properties whose order matters (a repeated name) and `delay`.
fn will(version: ProtocolVersion, qos: QoS, retain: bool, delay: Option<u32>) -> Will {
    let mut w = Will::new(topic("will/c1"), Bytes::from_static(b"gone"));
    w.qos = qos;
    w.retain = retain;
    if version == V5 {
        w.properties.will_delay_interval = delay;
        for (k, v) in [("k", "3"), ("a", "1"), ("k", "2")] {
            w.properties.user_properties.push(s(k), s(v));
        }
    }
    w
}

/// The message the Will of [`will`] is published as.
fn will_message(version: ProtocolVersion, qos: QoS, retain: bool) -> Message {
    let mut m = Message::new(topic("will/c1"), Bytes::from_static(b"gone"), qos);
    m.retain = retain;
    if version == V5 {
        for (k, v) in [("k", "3"), ("a", "1"), ("k", "2")] {
            m.properties.user_properties.push(s(k), s(v));
        }
    }
    m
}

/// A CONNECT of "c1": Clean Start 0 with Session Expiry Interval `expiry` (5.0), or
/// Clean Session 0 (3.1.1) when `expiry` is not zero.
fn connect_keeping(version: ProtocolVersion, expiry: u32) -> Connect {
    let mut c = connect("c1", expiry == 0, 60);
    if version == V5 && expiry != 0 {
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(expiry);
    }
    c
}

/// A peer of "c1" connected with `connect`.
fn connected_with(version: ProtocolVersion, connect: Connect) -> ClientPeer {
    let mut peer = ClientPeer::new(ServerConfig::default(), version);
    let ack = peer.connect_accept(connect, None, AcceptOptions::new());
    assert_eq!(ack.reason_code, ConnectReasonCode::Success);
    peer
}

/// A peer of "c1" connected with `connect` carrying `will`.
fn connected_with_will(version: ProtocolVersion, mut connect: Connect, will: Will) -> ClientPeer {
    connect.will = Some(will);
    connected_with(version, connect)
}

/// A 5.0 peer of "c1" connected with Session Expiry Interval `expiry` and a
/// non-retained Will at `qos` with Will Delay Interval `delay`.
fn v5_keeping_with_will(expiry: u32, qos: QoS, delay: Option<u32>) -> ClientPeer {
    connected_with_will(V5, connect_keeping(V5, expiry), will(V5, qos, false, delay))
}

/// Closes the transport under `peer` and returns the events that follow.
fn close_transport(peer: &mut ClientPeer) -> Vec<ServerEvent> {
    peer.conn.handle_transport_close(peer.now);
    peer.events()
}

/// A new connection of "c1" at `now` sends `connect` and is accepted with `session`;
/// returns it and everything the server sent it (the CONNACK, then any re-sends).
fn resume(
    now: Instant,
    version: ProtocolVersion,
    connect: Connect,
    session: ServerSession,
) -> (ClientPeer, Vec<Packet>) {
    let mut new = ClientPeer::new(ServerConfig::default(), version);
    new.now = now;
    new.send(connect);
    let request = new.expect_connect();
    new.conn
        .accept(new.now, request, Some(session), AcceptOptions::new())
        .unwrap();
    let received = new.received();
    (new, received)
}

/// Closes the transport under `peer`: only the Closed event follows, the session
/// outlives the connection.
fn close_keeping_session(peer: &mut ClientPeer) {
    assert_closed_then(&close_transport(peer), CloseReason::TransportClosed, &[]);
}

fn the_will(events: &[ServerEvent]) -> Message {
    let wills: Vec<&Message> = events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Will(m) => Some(m),
            _ => None,
        })
        .collect();
    match wills.as_slice() {
        [m] => (*m).clone(),
        other => panic!("expected one Will, got {other:?} in {events:?}"),
    }
}

/// The events are `Closed { reason }` then exactly `rest` (compared by kind).
fn assert_closed_then(events: &[ServerEvent], reason: CloseReason, rest: &[&str]) {
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            ServerEvent::Closed { .. } => "Closed",
            ServerEvent::Will(_) => "Will",
            ServerEvent::SessionEnded => "SessionEnded",
            ServerEvent::Message(_) => "Message",
            ServerEvent::Dropped { .. } => "Dropped",
            _ => "other",
        })
        .collect();
    let mut expected = vec!["Closed"];
    expected.extend_from_slice(rest);
    assert_eq!(kinds, expected, "{events:?}");
    assert_eq!(ClientPeer::closed_reason(events), Some(reason));
}

fn subscribe(peer: &mut ClientPeer, f: &str, qos: QoS) {
    peer.send(Subscribe::new(
        pid(100),
        vec![Subscription::new(filter(f), qos)],
    ));
    let request = peer.expect_subscribe();
    grant_all(peer, request);
    assert!(matches!(peer.received().as_slice(), [Packet::SubAck(_)]));
}

/// A PUBLISH as the server sends it.
fn server_publish(t: &str, payload: &'static [u8], qos_pid: QosPid, dup: bool) -> Packet {
    let mut p = publish(t, payload, qos_pid);
    p.dup = dup;
    Packet::Publish(p)
}

// ---- the Will ----

#[test]
fn mqtt_3_1_2_8_will_published_on_transport_close() {
    for version in BOTH {
        let mut peer = connected_with_will(
            version,
            connect("c1", true, 60),
            will(version, QoS::AtLeastOnce, true, None),
        );
        // Stored, not published, while the connection is up.
        peer.advance(secs(30));
        assert!(peer.events().is_empty());
        let events = close_transport(&mut peer);
        assert_closed_then(
            &events,
            CloseReason::TransportClosed,
            &["Will", "SessionEnded"],
        );
        assert_eq!(
            the_will(&events),
            will_message(version, QoS::AtLeastOnce, true)
        );
        // Published once.
        peer.advance(secs(1000));
        assert!(peer.events().is_empty());
        assert!(peer.received().is_empty());
    }
}

#[test]
fn mqtt_3_1_2_8_will_published_on_every_end_but_a_normal_disconnect() {
    type End = fn(&mut ClientPeer);
    let ends: [(End, CloseReason); 3] = [
        (|p| p.advance(secs(90)), CloseReason::KeepAliveTimeout),
        (
            |p| {
                p.conn
                    .disconnect(p.now, DisconnectReasonCode::AdministrativeAction)
                    .unwrap()
            },
            CloseReason::ByServer {
                reason_code: DisconnectReasonCode::AdministrativeAction,
            },
        ),
        (
            // A second CONNECT: a protocol violation.
            |p| p.send(connect("c1", true, 60)),
            CloseReason::ProtocolViolation {
                reason_code: DisconnectReasonCode::ProtocolError,
                decode_error: None,
                detail: "second CONNECT",
            },
        ),
    ];
    for version in BOTH {
        for (end, reason) in &ends {
            let mut peer = connected_with_will(
                version,
                connect("c1", true, 60),
                will(version, QoS::AtMostOnce, false, None),
            );
            end(&mut peer);
            let events = peer.events();
            assert_closed_then(&events, reason.clone(), &["Will", "SessionEnded"]);
            assert_eq!(
                the_will(&events),
                will_message(version, QoS::AtMostOnce, false)
            );
        }
    }
}

#[test]
fn v311_mqtt_3_1_2_12_no_will_flag_no_will() {
    for version in BOTH {
        let mut peer = connected_with(version, connect("c1", true, 60));
        assert_closed_then(
            &close_transport(&mut peer),
            CloseReason::TransportClosed,
            &["SessionEnded"],
        );
    }
}

/// The Will goes out with the QoS and Retain flag of the CONNECT.
fn will_flags_kept(version: ProtocolVersion, retain: bool) {
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut peer = connected_with_will(
            version,
            connect("c1", true, 60),
            will(version, qos, retain, None),
        );
        let message = the_will(&close_transport(&mut peer));
        assert_eq!(message.retain, retain);
        assert_eq!(message.qos, qos);
        assert_eq!(message, will_message(version, qos, retain));
    }
}

#[test]
fn v5_mqtt_3_1_2_14_will_retain_0_published_non_retained() {
    will_flags_kept(V5, false);
}

#[test]
fn v5_mqtt_3_1_2_15_will_retain_1_published_retained() {
    will_flags_kept(V5, true);
}

#[test]
fn v311_mqtt_3_1_2_16_will_retain_0_published_non_retained() {
    will_flags_kept(V311, false);
}

#[test]
fn v311_mqtt_3_1_2_17_will_retain_1_published_retained() {
    will_flags_kept(V311, true);
}

#[test]
fn mqtt_3_1_3_10_will_properties_forwarded_user_properties_in_order() {
    let mut w = will(V5, QoS::AtLeastOnce, false, Some(0));
    w.properties.payload_format_indicator = Some(PayloadFormat::Utf8);
    w.properties.message_expiry_interval = Some(3600);
    w.properties.content_type = Some(s("text/plain"));
    w.properties.response_topic = Some(topic("reply/c1"));
    w.properties.correlation_data = Some(Bytes::from_static(b"\x01\x02"));
    let mut c = connect("c1", true, 60);
    c.will = Some(w);
    let mut peer = connected_with(V5, c);
    let message = the_will(&close_transport(&mut peer));
    let mut expected = PublishProperties::new();
    expected.payload_format_indicator = Some(PayloadFormat::Utf8);
    expected.message_expiry_interval = Some(3600);
    expected.content_type = Some(s("text/plain"));
    expected.response_topic = Some(topic("reply/c1"));
    expected.correlation_data = Some(Bytes::from_static(b"\x01\x02"));
    for (k, v) in [("k", "3"), ("a", "1"), ("k", "2")] {
        expected.user_properties.push(s(k), s(v));
    }
    // The Will Delay Interval is no PUBLISH property; nothing else is added.
    assert_eq!(*message.properties, expected);
    let order: Vec<(String, String)> = message
        .properties
        .user_properties
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(
        order,
        [("k", "3"), ("a", "1"), ("k", "2")].map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
}

#[test]
fn v5_mqtt_3_1_2_8_will_waits_for_its_delay() {
    let mut peer = v5_keeping_with_will(100, QoS::AtLeastOnce, Some(30));
    peer.advance(secs(7));
    close_keeping_session(&mut peer);
    assert_eq!(peer.conn.poll_timeout(), Some(Instant::from_secs(37)));
    peer.advance(millis(29_999));
    assert!(peer.events().is_empty());
    peer.advance(millis(1));
    match peer.events().as_slice() {
        [ServerEvent::Will(m)] => assert_eq!(*m, will_message(V5, QoS::AtLeastOnce, false)),
        other => panic!("expected the Will, got {other:?}"),
    }
    // The session is still there until its own expiry.
    assert!(peer.conn.session().is_some());
    assert_eq!(peer.conn.poll_timeout(), Some(Instant::from_secs(107)));
    peer.advance(secs(70));
    assert!(matches!(
        peer.events().as_slice(),
        [ServerEvent::SessionEnded]
    ));
    assert!(peer.conn.session().is_none());
    assert_eq!(peer.conn.poll_timeout(), None);
}

/// A normal DISCONNECT removes the Will: not published, now or later.
fn normal_disconnect_discards_will(version: ProtocolVersion) {
    let delay = if version == V5 { Some(5) } else { None };
    let mut peer = connected_with_will(
        version,
        connect_keeping(version, 100),
        will(version, QoS::AtLeastOnce, true, delay),
    );
    peer.send(Disconnect::new(DisconnectReasonCode::NormalDisconnection));
    assert!(peer.received().is_empty());
    assert_closed_then(
        &peer.events(),
        CloseReason::ByClient {
            reason_code: DisconnectReasonCode::NormalDisconnection,
        },
        &[],
    );
    peer.advance(secs(10));
    assert!(peer.events().is_empty());
    // At the end of the session neither.
    peer.conn.end_session(peer.now);
    assert!(matches!(
        peer.events().as_slice(),
        [ServerEvent::SessionEnded]
    ));
}

#[test]
fn v5_mqtt_3_14_4_3_mqtt_3_1_2_10_normal_disconnect_discards_will() {
    normal_disconnect_discards_will(V5);
}

#[test]
fn v311_mqtt_3_14_4_3_mqtt_3_1_2_10_disconnect_discards_will() {
    normal_disconnect_discards_will(V311);
}

#[test]
fn v5_mqtt_3_14_4_3_disconnect_0x04_keeps_the_will() {
    let mut peer = connected_with_will(
        V5,
        connect("c1", true, 60),
        will(V5, QoS::AtLeastOnce, false, None),
    );
    peer.send(Disconnect::new(
        DisconnectReasonCode::DisconnectWithWillMessage,
    ));
    let events = peer.events();
    assert_closed_then(
        &events,
        CloseReason::ByClient {
            reason_code: DisconnectReasonCode::DisconnectWithWillMessage,
        },
        &["Will", "SessionEnded"],
    );
    assert_eq!(the_will(&events), will_message(V5, QoS::AtLeastOnce, false));
}

#[test]
fn v5_mqtt_3_1_2_8_will_at_session_end_when_that_comes_first() {
    // Will Delay 60 s, Session Expiry 10 s: the Will goes out when the session ends.
    let mut peer = v5_keeping_with_will(10, QoS::AtMostOnce, Some(60));
    close_keeping_session(&mut peer);
    assert_eq!(peer.conn.poll_timeout(), Some(Instant::from_secs(10)));
    peer.advance(millis(9_999));
    assert!(peer.events().is_empty());
    peer.advance(millis(1));
    let events = peer.events();
    assert!(matches!(
        events.as_slice(),
        [ServerEvent::Will(_), ServerEvent::SessionEnded]
    ));
    assert_eq!(the_will(&events), will_message(V5, QoS::AtMostOnce, false));
    assert_eq!(peer.conn.poll_timeout(), None);
    peer.advance(secs(100));
    assert!(peer.events().is_empty());
}

#[test]
fn v5_mqtt_3_1_2_8_will_delay_0_with_expiry_0_goes_out_at_once() {
    let mut peer = connected_with_will(
        V5,
        connect("c1", true, 60),
        will(V5, QoS::AtMostOnce, false, Some(120)),
    );
    // Session Expiry 0: the session ends with the connection, and the Will with it.
    assert_closed_then(
        &close_transport(&mut peer),
        CloseReason::TransportClosed,
        &["Will", "SessionEnded"],
    );
}

#[test]
fn v5_mqtt_3_1_3_9_resumed_before_the_delay_the_will_is_not_sent() {
    let mut old = v5_keeping_with_will(100, QoS::AtMostOnce, Some(30));
    close_transport(&mut old);
    old.advance(secs(29));
    assert!(old.events().is_empty());
    // A new connection of "c1" takes the session.
    let session = old.conn.resume_session(old.now).expect("session");
    assert!(old.events().is_empty());
    assert_eq!(old.conn.poll_timeout(), None);
    assert!(old.conn.session().is_none());
    old.advance(secs(10_000));
    assert!(old.events().is_empty(), "the Will must not be sent");

    let mut new = ClientPeer::new(ServerConfig::default(), V5);
    let ack = new.connect_accept(
        connect_keeping(V5, 100),
        Some(session),
        AcceptOptions::new(),
    );
    assert!(ack.session_present);
    new.advance(secs(60));
    assert!(new.events().is_empty());
}

#[test]
fn v5_mqtt_3_1_3_9_resumed_after_the_delay_the_will_was_sent_once() {
    let mut old = v5_keeping_with_will(100, QoS::AtMostOnce, Some(30));
    close_transport(&mut old);
    old.advance(secs(30));
    assert!(matches!(old.events().as_slice(), [ServerEvent::Will(_)]));
    assert!(old.conn.resume_session(old.now).is_some());
    assert!(old.events().is_empty());
}

#[test]
fn end_session_publishes_a_pending_will_at_once() {
    let mut peer = v5_keeping_with_will(100, QoS::AtLeastOnce, Some(30));
    close_transport(&mut peer);
    peer.advance(secs(5));
    // A new connection of "c1" with Clean Start 1: the session ends here.
    peer.conn.end_session(peer.now);
    let events = peer.events();
    assert!(
        matches!(
            events.as_slice(),
            [ServerEvent::Will(_), ServerEvent::SessionEnded]
        ),
        "{events:?}"
    );
    assert_eq!(the_will(&events), will_message(V5, QoS::AtLeastOnce, false));
    assert!(peer.conn.session().is_none());
    assert_eq!(peer.conn.poll_timeout(), None);
    peer.advance(secs(100));
    assert!(peer.events().is_empty());
}

#[test]
fn end_session_of_a_live_connection() {
    for version in BOTH {
        let mut peer = connected_with_will(
            version,
            connect_keeping(version, 100),
            will(version, QoS::AtMostOnce, false, Some(30)),
        );
        peer.conn.end_session(peer.now);
        let expected = match version {
            V5 => vec![Packet::Disconnect(Disconnect::new(
                DisconnectReasonCode::SessionTakenOver,
            ))],
            _ => vec![],
        };
        assert_eq!(peer.received(), expected);
        assert_closed_then(
            &peer.events(),
            CloseReason::TakenOver,
            &["Will", "SessionEnded"],
        );
    }
}

// ---- session expiry ----

#[test]
fn v5_mqtt_4_1_0_2_session_discarded_once_expired() {
    let mut peer = connected_with(V5, connect_keeping(V5, 50));
    subscribe(&mut peer, "a/#", QoS::AtLeastOnce);
    peer.advance(secs(3));
    // [MQTT-3.1.2-23] kept after the connection closed.
    close_keeping_session(&mut peer);
    assert_eq!(peer.conn.session().unwrap().subscriptions().count(), 1);
    assert_eq!(peer.conn.session().unwrap().expiry_interval(), 50);
    assert_eq!(peer.conn.poll_timeout(), Some(Instant::from_secs(53)));
    peer.advance(millis(49_999));
    assert!(peer.events().is_empty());
    assert!(peer.conn.session().is_some());
    peer.advance(millis(1));
    assert!(matches!(
        peer.events().as_slice(),
        [ServerEvent::SessionEnded]
    ));
    assert!(peer.conn.session().is_none());
    assert_eq!(peer.conn.poll_timeout(), None);
    assert!(peer.conn.resume_session(peer.now).is_none());
    assert!(peer.events().is_empty());
}

#[test]
fn v5_mqtt_4_1_0_1_session_kept_while_connected() {
    // Session Expiry 0 and no keep alive: the session lasts as long as the connection.
    let mut peer = connected_with(V5, connect("c1", true, 0));
    subscribe(&mut peer, "a/#", QoS::AtLeastOnce);
    peer.advance(secs(1_000_000));
    assert!(peer.events().is_empty());
    assert_eq!(peer.conn.session().unwrap().subscriptions().count(), 1);
}

#[test]
fn v5_session_expiry_0_ends_with_the_connection() {
    let mut peer = connected_with(V5, connect("c1", false, 60));
    assert_eq!(peer.conn.session().unwrap().expiry_interval(), 0);
    assert_closed_then(
        &close_transport(&mut peer),
        CloseReason::TransportClosed,
        &["SessionEnded"],
    );
    assert!(peer.conn.session().is_none());
    assert_eq!(peer.conn.poll_timeout(), None);
}

#[test]
fn v5_session_expiry_max_never_expires() {
    let mut peer = connected_with(V5, connect_keeping(V5, u32::MAX));
    close_keeping_session(&mut peer);
    assert_eq!(peer.conn.poll_timeout(), None);
    peer.advance(secs(u64::from(u32::MAX) + 10));
    assert!(peer.events().is_empty());
    assert!(peer.conn.session().is_some());
}

#[test]
fn v311_mqtt_3_1_2_4_clean_session_0_keeps_the_session() {
    let mut peer = connected_with(V311, connect("c1", false, 60));
    subscribe(&mut peer, "a/#", QoS::AtLeastOnce);
    close_keeping_session(&mut peer);
    assert_eq!(peer.conn.poll_timeout(), None);
    peer.advance(secs(100_000_000));
    assert!(peer.events().is_empty());
    assert_eq!(peer.conn.session().unwrap().subscriptions().count(), 1);
}

#[test]
fn v311_mqtt_3_1_2_6_clean_session_1_ends_with_the_connection() {
    let mut peer = connected_with(V311, connect("c1", true, 60));
    subscribe(&mut peer, "a/#", QoS::AtLeastOnce);
    assert_closed_then(
        &close_transport(&mut peer),
        CloseReason::TransportClosed,
        &["SessionEnded"],
    );
    assert!(peer.conn.session().is_none());
    assert!(peer.conn.resume_session(peer.now).is_none());
}

#[test]
fn v5_server_chosen_session_expiry() {
    let mut peer = ClientPeer::new(ServerConfig::default(), V5);
    let mut options = AcceptOptions::new();
    options.session_expiry_interval = Some(20);
    let ack = peer.connect_accept(connect_keeping(V5, 100), None, options);
    assert_eq!(ack.properties.session_expiry_interval, Some(20));
    assert_eq!(peer.conn.session().unwrap().expiry_interval(), 20);
    close_transport(&mut peer);
    assert_eq!(peer.conn.poll_timeout(), Some(Instant::from_secs(20)));
    peer.advance(secs(20));
    assert!(matches!(
        peer.events().as_slice(),
        [ServerEvent::SessionEnded]
    ));
}

#[test]
fn v5_disconnect_changes_the_session_expiry() {
    for (new, ended_at) in [
        (5, Some(5)),
        (0, Some(0)),
        (500, Some(500)),
        (u32::MAX, None),
    ] {
        let mut peer = connected_with(V5, connect_keeping(V5, 100));
        let mut d = Disconnect::new(DisconnectReasonCode::NormalDisconnection);
        d.properties.session_expiry_interval = Some(new);
        peer.send(d);
        assert!(peer.received().is_empty());
        let closed = CloseReason::ByClient {
            reason_code: DisconnectReasonCode::NormalDisconnection,
        };
        if ended_at == Some(0) {
            assert_closed_then(&peer.events(), closed, &["SessionEnded"]);
            continue;
        }
        assert_closed_then(&peer.events(), closed, &[]);
        assert_eq!(peer.conn.session().unwrap().expiry_interval(), new);
        assert_eq!(peer.conn.poll_timeout(), ended_at.map(Instant::from_secs));
        if let Some(t) = ended_at {
            peer.advance(secs(t) - millis(1));
            assert!(peer.events().is_empty());
            peer.advance(millis(1));
            assert!(matches!(
                peer.events().as_slice(),
                [ServerEvent::SessionEnded]
            ));
        }
    }
}

#[test]
fn v5_disconnect_raising_the_expiry_from_0_is_a_protocol_error() {
    for connect_expiry in [None, Some(0)] {
        let mut c = connect("c1", false, 60);
        c.properties.session_expiry_interval = connect_expiry;
        let mut peer = connected_with(V5, c);
        let mut d = Disconnect::new(DisconnectReasonCode::NormalDisconnection);
        d.properties.session_expiry_interval = Some(10);
        peer.send(d);
        assert_eq!(
            peer.received(),
            [Packet::Disconnect(Disconnect::new(
                DisconnectReasonCode::ProtocolError
            ))]
        );
        let events = peer.events();
        assert!(matches!(
            ClientPeer::closed_reason(&events),
            Some(CloseReason::ProtocolViolation {
                reason_code: DisconnectReasonCode::ProtocolError,
                ..
            })
        ));
        // The expiry stayed 0: the session ended with the connection.
        assert_closed_then(
            &events,
            ClientPeer::closed_reason(&events).unwrap(),
            &["SessionEnded"],
        );
    }
    // Keeping it 0 is fine.
    let mut peer = connected_with(V5, connect("c1", false, 60));
    let mut d = Disconnect::new(DisconnectReasonCode::NormalDisconnection);
    d.properties.session_expiry_interval = Some(0);
    peer.send(d);
    assert!(peer.received().is_empty());
    assert_closed_then(
        &peer.events(),
        CloseReason::ByClient {
            reason_code: DisconnectReasonCode::NormalDisconnection,
        },
        &["SessionEnded"],
    );
}

// ---- takeover ----

fn takeover(version: ProtocolVersion) {
    let mut old = connected_with(version, connect_keeping(version, 100));
    subscribe(&mut old, "a/#", QoS::ExactlyOnce);
    old.advance(secs(4));

    // "c1" connects again; the broker takes the session from the live connection.
    let mut new = ClientPeer::new(ServerConfig::default(), version);
    new.now = old.now;
    new.send(connect_keeping(version, 100));
    let request = new.expect_connect();
    let session = old.conn.resume_session(old.now).expect("the session");
    let expected = match version {
        V5 => vec![Packet::Disconnect(Disconnect::new(
            DisconnectReasonCode::SessionTakenOver,
        ))],
        _ => vec![],
    };
    assert_eq!(old.received(), expected);
    // The session moved: it does not end with the old connection.
    assert_closed_then(&old.events(), CloseReason::TakenOver, &[]);
    assert_eq!(old.conn.state(), ServerState::Closed);
    assert!(old.conn.session().is_none());
    assert_eq!(old.conn.poll_timeout(), None);
    old.send(Packet::PingReq);
    assert!(old.received().is_empty());
    old.advance(secs(1000));
    assert!(old.events().is_empty());

    new.conn
        .accept(new.now, request, Some(session), AcceptOptions::new())
        .unwrap();
    match new.received().as_slice() {
        [Packet::ConnAck(ack)] => assert!(ack.session_present),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    assert_eq!(new.subscribed_qos(), [("a/#".to_owned(), QoS::ExactlyOnce)]);
}

#[test]
fn v5_mqtt_3_1_4_3_takeover_sends_disconnect_0x8e() {
    takeover(V5);
}

#[test]
fn v311_mqtt_3_1_4_2_takeover_closes_the_existing_connection() {
    takeover(V311);
}

#[test]
fn v5_mqtt_3_1_4_3_takeover_publishes_a_will_without_delay() {
    // The old connection closed without a normal DISCONNECT: its Will goes out unless
    // a delay lets the new connection cancel it ([MQTT-3.1.3-9]).
    for (delay, will_sent) in [(None, true), (Some(30), false)] {
        let mut old = v5_keeping_with_will(100, QoS::AtMostOnce, delay);
        let session = old.conn.resume_session(old.now);
        assert!(session.is_some());
        let events = old.events();
        if will_sent {
            assert_closed_then(&events, CloseReason::TakenOver, &["Will"]);
        } else {
            assert_closed_then(&events, CloseReason::TakenOver, &[]);
        }
        old.advance(secs(1000));
        assert!(old.events().is_empty());
    }
}

#[test]
fn answers_meant_for_the_old_connection_are_stale() {
    let mut old = connected_with(V5, connect_keeping(V5, 100));
    old.send(Subscribe::new(
        pid(1),
        vec![Subscription::new(filter("x/#"), QoS::AtLeastOnce)],
    ));
    let request = old.expect_subscribe();
    let session = old.conn.resume_session(old.now).unwrap();
    let mut new = ClientPeer::new(ServerConfig::default(), V5);
    new.connect_accept(
        connect_keeping(V5, 100),
        Some(session),
        AcceptOptions::new(),
    );
    assert_subscribe_answer_stale(&mut new, request);
    assert!(new.received().is_empty());
    assert_eq!(new.conn.session().unwrap().subscriptions().count(), 0);
}

// ---- messages in flight across connections ----

/// On `old`: QoS 1 pid 1, QoS 2 pid 2 (PUBREC'd, so PUBREL went out), QoS 2 pid 3,
/// QoS 1 pid 4, QoS 1 pid 5 (PUBACK'd, complete).
fn leave_messages_in_flight(old: &mut ClientPeer) {
    let sends = [
        ("t/1", &b"one"[..], QoS::AtLeastOnce),
        ("t/2", b"two", QoS::ExactlyOnce),
        ("t/3", b"three", QoS::ExactlyOnce),
        ("t/4", b"four", QoS::AtLeastOnce),
        ("t/5", b"five", QoS::AtLeastOnce),
    ];
    for (t, payload, qos) in sends {
        let payload: &'static [u8] = payload;
        old.conn
            .publish(
                old.now,
                Message::new(topic(t), Bytes::from_static(payload), qos),
            )
            .unwrap();
    }
    // First transmissions: DUP 0, identifiers in order.
    assert_eq!(
        old.received(),
        [
            server_publish("t/1", b"one", QosPid::AtLeastOnce(pid(1)), false),
            server_publish("t/2", b"two", QosPid::ExactlyOnce(pid(2)), false),
            server_publish("t/3", b"three", QosPid::ExactlyOnce(pid(3)), false),
            server_publish("t/4", b"four", QosPid::AtLeastOnce(pid(4)), false),
            server_publish("t/5", b"five", QosPid::AtLeastOnce(pid(5)), false),
        ]
    );
    old.send(PubRec::new(pid(2)));
    assert_eq!(old.received(), [Packet::PubRel(PubRel::new(pid(2)))]);
    old.send(PubAck::new(pid(5)));
    assert!(old.received().is_empty());
    assert_eq!(old.conn.stats().in_flight, 4);
}

/// What a resumed session re-sends first: the PUBLISHes with DUP 1 and the PUBREL, in
/// the order they were last sent, with their identifiers.
fn expected_resends() -> Vec<Packet> {
    vec![
        server_publish("t/1", b"one", QosPid::AtLeastOnce(pid(1)), true),
        server_publish("t/3", b"three", QosPid::ExactlyOnce(pid(3)), true),
        server_publish("t/4", b"four", QosPid::AtLeastOnce(pid(4)), true),
        Packet::PubRel(PubRel::new(pid(2))),
    ]
}

fn takeover_keeps_in_flight(version: ProtocolVersion) {
    let mut old = connected_with(version, connect_keeping(version, 100));
    leave_messages_in_flight(&mut old);
    let session = old.conn.resume_session(old.now).unwrap();
    assert_eq!(session.in_flight(), 4);

    let (mut new, received) = resume(old.now, version, connect_keeping(version, 100), session);
    assert!(matches!(&received[0], Packet::ConnAck(a) if a.session_present));
    assert_eq!(received[1..], expected_resends()[..]);
    assert!(new.events().is_empty());

    // The flows complete on the new connection.
    new.send(PubAck::new(pid(1)));
    new.send(PubRec::new(pid(3)));
    assert_eq!(new.received(), [Packet::PubRel(PubRel::new(pid(3)))]);
    new.send(PubComp::new(pid(2)));
    new.send(PubComp::new(pid(3)));
    new.send(PubAck::new(pid(4)));
    assert!(new.received().is_empty());
    assert_eq!(new.conn.stats().in_flight, 0);
    // Nothing re-sent again at any other time.
    new.send(Packet::PingReq);
    assert_eq!(new.received(), [Packet::PingResp]);
}

#[test]
fn v5_mqtt_4_4_0_1_mqtt_3_1_4_3_takeover_keeps_in_flight_messages() {
    takeover_keeps_in_flight(V5);
}

#[test]
fn v311_mqtt_4_4_0_1_mqtt_3_1_4_2_takeover_keeps_in_flight_messages() {
    takeover_keeps_in_flight(V311);
}

fn offline_queue_after_resends(version: ProtocolVersion) {
    let mut old = connected_with(version, connect_keeping(version, 100));
    leave_messages_in_flight(&mut old);
    close_keeping_session(&mut old);

    // While the client is away: QoS 1 and 2 wait in the session, QoS 0 is dropped.
    old.advance(secs(2));
    old.conn
        .publish(old.now, message("t/6", b"six", QoS::AtLeastOnce))
        .unwrap();
    old.conn
        .publish(old.now, message("t/7", b"seven", QoS::ExactlyOnce))
        .unwrap();
    old.conn
        .publish(old.now, message("t/0", b"zero", QoS::AtMostOnce))
        .unwrap();
    match old.events().as_slice() {
        [
            ServerEvent::Dropped {
                topic: t,
                reason: DropReason::Offline,
            },
        ] => assert_eq!(t.as_str(), "t/0"),
        other => panic!("expected the QoS 0 message dropped, got {other:?}"),
    }
    assert!(old.received().is_empty());
    assert_eq!(old.conn.stats().queued, 2);
    assert_eq!(old.conn.stats().in_flight, 4);

    old.advance(secs(3));
    let session = old.conn.resume_session(old.now).unwrap();
    assert!(old.received().is_empty());
    assert!(old.events().is_empty());

    let (new, received) = resume(old.now, version, connect_keeping(version, 100), session);
    assert!(matches!(&received[0], Packet::ConnAck(a) if a.session_present));
    let mut expected = expected_resends();
    // Then the queued messages, as first transmissions with fresh identifiers.
    expected.push(server_publish(
        "t/6",
        b"six",
        QosPid::AtLeastOnce(pid(6)),
        false,
    ));
    expected.push(server_publish(
        "t/7",
        b"seven",
        QosPid::ExactlyOnce(pid(7)),
        false,
    ));
    assert_eq!(received[1..], expected[..]);
    assert_eq!(new.conn.stats().queued, 0);
    assert_eq!(new.conn.stats().in_flight, 6);
}

#[test]
fn v5_mqtt_4_4_0_1_queued_messages_follow_the_resends() {
    offline_queue_after_resends(V5);
}

#[test]
fn v311_mqtt_4_4_0_1_queued_messages_follow_the_resends() {
    offline_queue_after_resends(V311);
}

#[test]
fn v5_mqtt_3_3_4_9_queued_messages_wait_for_the_receive_maximum() {
    let mut old = connected_with(V5, connect_keeping(V5, 100));
    leave_messages_in_flight(&mut old);
    close_transport(&mut old);
    old.conn
        .publish(old.now, message("t/6", b"six", QoS::AtLeastOnce))
        .unwrap();
    old.conn
        .publish(old.now, message("t/7", b"seven", QoS::AtLeastOnce))
        .unwrap();
    let session = old.conn.resume_session(old.now).unwrap();

    // The new connection accepts 5 messages in flight: 4 are already.
    let mut c = connect_keeping(V5, 100);
    c.properties.receive_maximum = NonZeroU16::new(5);
    let (mut new, received) = resume(old.now, V5, c, session);
    let mut expected = expected_resends();
    expected.push(server_publish(
        "t/6",
        b"six",
        QosPid::AtLeastOnce(pid(6)),
        false,
    ));
    assert_eq!(received[1..], expected[..]);
    assert_eq!(new.conn.stats().queued, 1);
    // One completes: the next goes out.
    new.send(PubAck::new(pid(1)));
    assert_eq!(
        new.received(),
        [server_publish(
            "t/7",
            b"seven",
            QosPid::AtLeastOnce(pid(7)),
            false
        )]
    );
}

#[test]
fn mqtt_4_4_0_1_clean_start_does_not_resend() {
    for version in BOTH {
        let mut old = connected_with(version, connect_keeping(version, 100));
        leave_messages_in_flight(&mut old);
        let session = old.conn.resume_session(old.now).unwrap();
        let mut c = connect_keeping(version, 100);
        c.clean_start = true;
        let (new, received) = resume(old.now, version, c, session);
        match received.as_slice() {
            [Packet::ConnAck(ack)] => assert!(!ack.session_present),
            other => panic!("expected only CONNACK, got {other:?}"),
        }
        assert_eq!(new.conn.stats().in_flight, 0);
    }
}

/// A QoS 2 message from the client, PUBREC sent, then the connection is lost: the
/// session remembers it.
fn incoming_qos2_survives(version: ProtocolVersion) {
    let mut old = connected_with(version, connect_keeping(version, 100));
    old.send(publish("in/q2", b"once", QosPid::ExactlyOnce(pid(7))));
    match old.events().as_slice() {
        [ServerEvent::Message(m)] => {
            assert_eq!(m.message.topic.as_str(), "in/q2");
            assert_eq!(m.message.qos, QoS::ExactlyOnce);
        }
        other => panic!("expected the Message, got {other:?}"),
    }
    assert_eq!(old.received(), [Packet::PubRec(PubRec::new(pid(7)))]);
    close_transport(&mut old);
    let session = old.conn.resume_session(old.now).unwrap();

    let mut new = ClientPeer::new(ServerConfig::default(), version);
    let ack = new.connect_accept(
        connect_keeping(version, 100),
        Some(session),
        AcceptOptions::new(),
    );
    assert!(ack.session_present);
    // The client re-sends the PUBLISH with DUP 1: PUBREC again, not delivered again.
    let mut again = publish("in/q2", b"once", QosPid::ExactlyOnce(pid(7)));
    again.dup = true;
    new.send(again.clone());
    assert_eq!(new.received(), [Packet::PubRec(PubRec::new(pid(7)))]);
    assert!(new.events().is_empty());
    new.send(again);
    assert_eq!(new.received(), [Packet::PubRec(PubRec::new(pid(7)))]);
    assert!(new.events().is_empty());
    // [MQTT-4.3.3-11] PUBREL gets PUBCOMP.
    new.send(PubRel::new(pid(7)));
    assert_eq!(new.received(), [Packet::PubComp(PubComp::new(pid(7)))]);
    assert!(new.events().is_empty());
    // [MQTT-4.3.3-12] after PUBCOMP the identifier starts a new message.
    new.send(publish("in/q2", b"next", QosPid::ExactlyOnce(pid(7))));
    assert_eq!(new.received(), [Packet::PubRec(PubRec::new(pid(7)))]);
    match new.events().as_slice() {
        [ServerEvent::Message(m)] => assert_eq!(&m.message.payload[..], b"next"),
        other => panic!("expected the new Message, got {other:?}"),
    }
}

#[test]
fn v5_mqtt_4_3_3_10_incoming_qos2_state_survives_in_the_session() {
    incoming_qos2_survives(V5);
}

#[test]
fn v311_mqtt_4_3_3_2_incoming_qos2_state_survives_in_the_session() {
    incoming_qos2_survives(V311);
}

#[test]
fn v5_mqtt_4_3_3_11_pubrel_after_takeover_gets_pubcomp() {
    // The PUBREL arrives on the new connection without a re-sent PUBLISH.
    let mut old = connected_with(V5, connect_keeping(V5, 100));
    old.send(publish("in/q2", b"once", QosPid::ExactlyOnce(pid(3))));
    old.events();
    old.received();
    let session = old.conn.resume_session(old.now).unwrap();
    let mut new = ClientPeer::new(ServerConfig::default(), V5);
    new.connect_accept(
        connect_keeping(V5, 100),
        Some(session),
        AcceptOptions::new(),
    );
    new.send(PubRel::new(pid(3)));
    assert_eq!(new.received(), [Packet::PubComp(PubComp::new(pid(3)))]);
    assert!(new.events().is_empty());
    // Now unknown: 0x92.
    new.send(PubRel::new(pid(3)));
    let mut comp = PubComp::new(pid(3));
    comp.reason_code = PubCompReasonCode::PacketIdentifierNotFound;
    assert_eq!(new.received(), [Packet::PubComp(comp)]);
}

#[test]
fn mqtt_4_4_0_1_unacknowledged_manual_qos2_goes_to_the_broker_again() {
    // Manual acknowledgement: the broker never acknowledged the QoS 2 message before
    // the connection was lost. Its handle is stale on the new connection, so the
    // client's re-sent PUBLISH is handed to the broker again, with a new handle.
    for version in BOTH {
        let mut config = ServerConfig::default();
        config.manual_acks = true;
        let mut old = ClientPeer::new(config.clone(), version);
        old.connect_accept(connect_keeping(version, 100), None, AcceptOptions::new());
        old.send(publish("in/q2", b"once", QosPid::ExactlyOnce(pid(4))));
        let old_id = match old.events().as_slice() {
            [ServerEvent::Message(m)] => m.id.expect("a handle in manual mode"),
            other => panic!("expected the Message, got {other:?}"),
        };
        assert!(old.received().is_empty());
        close_transport(&mut old);
        let session = old.conn.resume_session(old.now).unwrap();

        let mut new = ClientPeer::new(config, version);
        new.connect_accept(
            connect_keeping(version, 100),
            Some(session),
            AcceptOptions::new(),
        );
        let mut again = publish("in/q2", b"once", QosPid::ExactlyOnce(pid(4)));
        again.dup = true;
        new.send(again);
        let new_id = match new.events().as_slice() {
            [ServerEvent::Message(m)] => {
                assert_eq!(&m.message.payload[..], b"once");
                m.id.expect("a handle in manual mode")
            }
            other => panic!("expected the Message again, got {other:?}"),
        };
        assert!(new.received().is_empty());
        assert_eq!(new.conn.ack(new.now, old_id), Err(ServerError::Stale));
        assert!(new.received().is_empty());
        new.conn.ack(new.now, new_id).unwrap();
        assert_eq!(new.received(), [Packet::PubRec(PubRec::new(pid(4)))]);
        new.send(PubRel::new(pid(4)));
        assert_eq!(new.received(), [Packet::PubComp(PubComp::new(pid(4)))]);
    }
}

#[test]
fn v5_mqtt_4_1_0_2_an_expired_session_is_not_resumed_even_before_the_timer_ran() {
    // The driver has not called handle_timeout yet when the new connection arrives at
    // the expiry instant: the session is over all the same.
    let mut old = v5_keeping_with_will(10, QoS::AtMostOnce, Some(60));
    close_transport(&mut old);
    assert!(old.conn.resume_session(Instant::from_secs(10)).is_none());
    // The session ended, and its Will went out with it ([MQTT-3.1.2-8]).
    let events = old.events();
    assert!(
        matches!(
            events.as_slice(),
            [ServerEvent::Will(_), ServerEvent::SessionEnded]
        ),
        "{events:?}"
    );
}

#[test]
fn v5_mqtt_3_1_3_9_a_will_already_due_is_sent_at_resume() {
    // The Will Delay passed before the new connection came: [MQTT-3.1.3-9] no longer
    // holds the Will back, whether or not the timer ran.
    let mut old = v5_keeping_with_will(100, QoS::AtMostOnce, Some(30));
    close_transport(&mut old);
    let session = old.conn.resume_session(Instant::from_secs(31));
    assert!(session.is_some());
    let events = old.events();
    assert!(
        matches!(events.as_slice(), [ServerEvent::Will(_)]),
        "{events:?}"
    );
}

/// Found by the `server_ops` fuzz target: a message in flight was re-sent on a resumed
/// session to a client whose new connection declared a smaller Maximum Packet Size, a
/// packet larger than the client accepts ([MQTT-3.1.2-24]). It is dropped as if
/// delivered, with an event ([MQTT-3.1.2-25]).
#[test]
fn mqtt_3_1_2_25_resent_publish_too_large_for_the_resuming_client_is_dropped() {
    let mut old = connected_with(V5, connect_keeping(V5, 100));
    old.conn
        .publish(old.now, message("t", &[b'x'; 40], QoS::AtLeastOnce))
        .unwrap();
    assert!(matches!(old.received().as_slice(), [Packet::Publish(_)]));
    old.conn.handle_transport_close(old.now);
    let session = old.conn.resume_session(old.now).unwrap();

    let mut c = connect_keeping(V5, 100);
    c.properties.maximum_packet_size = std::num::NonZeroU32::new(30);
    let (mut new, sent) = resume(old.now, V5, c, session);
    assert!(
        matches!(sent.as_slice(), [Packet::ConnAck(ack)] if ack.session_present),
        "{sent:?}"
    );
    let events = new.events();
    assert!(
        events.iter().any(|e| matches!(
            e,
            ServerEvent::Dropped {
                reason: DropReason::PacketTooLarge,
                ..
            }
        )),
        "{events:?}"
    );
    assert_eq!(new.conn.session().unwrap().in_flight(), 0);
}

/// Found by the `server_ops` fuzz target: on a resumed session every message in flight
/// was re-sent at once, beyond the Receive Maximum of the client's new connection
/// ([MQTT-3.3.4-9]). They are re-sent in order as the new maximum allows
/// ([MQTT-4.4.0-1]).
#[test]
fn mqtt_3_3_4_9_resumed_session_resends_within_the_new_receive_maximum() {
    let mut old = connected_with(V5, connect_keeping(V5, 100));
    let payloads: [&'static [u8]; 4] = [b"m1", b"m2", b"m3", b"m4"];
    for payload in payloads {
        old.conn
            .publish(old.now, message("t", payload, QoS::AtLeastOnce))
            .unwrap();
    }
    assert_eq!(old.received().len(), 4);
    old.conn.handle_transport_close(old.now);
    let session = old.conn.resume_session(old.now).unwrap();

    let mut c = connect_keeping(V5, 100);
    c.properties.receive_maximum = NonZeroU16::new(2);
    let (mut new, received) = resume(old.now, V5, c, session);
    let resent = |packets: Vec<Packet>| -> Vec<(u16, bool, Bytes)> {
        packets
            .into_iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some((p.packet_id().unwrap().get(), p.dup, p.payload)),
                _ => None,
            })
            .collect()
    };
    let first = resent(received);
    assert_eq!(
        first,
        vec![
            (1, true, Bytes::from_static(b"m1")),
            (2, true, Bytes::from_static(b"m2"))
        ]
    );
    new.send(PubAck::new(pid(1)));
    assert_eq!(
        resent(new.received()),
        vec![(3, true, Bytes::from_static(b"m3"))]
    );
    new.send(PubAck::new(pid(2)));
    new.send(PubAck::new(pid(3)));
    assert_eq!(
        resent(new.received()),
        vec![(4, true, Bytes::from_static(b"m4"))]
    );
    new.send(PubAck::new(pid(4)));
    assert_eq!(new.conn.session().unwrap().in_flight(), 0);
}
