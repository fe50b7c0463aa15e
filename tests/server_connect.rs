//! The server side of opening a connection: CONNECT, the broker's answer (CONNACK),
//! enhanced authentication, keep alive, PINGREQ and the server's DISCONNECT.
//!
//! Tests are named after the normative statement they check; where 3.1.1 and 5.0
//! number the same rule differently, each version has its own test named after its
//! own identifier (`v311_...`, `v5_...`), sharing one body.

mod server_peer;
use bytes::Bytes;
use mqtt_sansio::*;
use server_peer::*;
use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

/// CONNECT, 3.1.1, clean session, keep alive 60 s, client id "c1".
const CONNECT_V311: &[u8] = b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02c1";
/// CONNECT, 5.0, clean start, keep alive 60 s, no properties, client id "c1".
const CONNECT_V5: &[u8] = b"\x10\x0f\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x02c1";

fn raw_connect(version: ProtocolVersion) -> &'static [u8] {
    match version {
        V311 => CONNECT_V311,
        _ => CONNECT_V5,
    }
}

/// `events` is exactly a Closed event and the end of the session (a clean session
/// ends with its connection); the reason.
fn closed_and_ended(events: &[ServerEvent]) -> CloseReason {
    match events {
        [ServerEvent::Closed { reason }, ServerEvent::SessionEnded] => reason.clone(),
        other => panic!("expected Closed and SessionEnded, got {other:?}"),
    }
}

/// What the server sends on a protocol error once connected: DISCONNECT 0x82 in 5.0,
/// nothing in 3.1.1.
fn protocol_error_disconnect(version: ProtocolVersion) -> Vec<Packet> {
    match version {
        V5 => vec![Packet::Disconnect(Disconnect::new(
            DisconnectReasonCode::ProtocolError,
        ))],
        _ => vec![],
    }
}

/// The events are the close for a protocol error (0x82) and the end of the session;
/// the reason.
fn assert_closed_for_protocol_error(peer: &mut ClientPeer) -> CloseReason {
    let reason = closed_and_ended(&peer.events());
    assert!(matches!(
        reason,
        CloseReason::ProtocolViolation {
            reason_code: DisconnectReasonCode::ProtocolError,
            ..
        }
    ));
    reason
}

/// The server answered a protocol error: [`protocol_error_disconnect`], then the
/// connection closed for it and the session ended; the reason.
fn assert_protocol_error_closes(peer: &mut ClientPeer) -> CloseReason {
    let version = peer.version;
    assert_eq!(
        peer.received(),
        protocol_error_disconnect(version),
        "{version:?}"
    );
    assert_closed_for_protocol_error(peer)
}

/// The v5 CONNACK a default [`ServerConfig`] sends on success: Receive Maximum 100 is
/// its only property.
fn default_v5_connack_props() -> ConnAckProperties {
    let mut p = ConnAckProperties::new();
    p.receive_maximum = NonZeroU16::new(100);
    p
}

/// A session held by a connection of "c1" that subscribed to "keep/#" and then lost its
/// transport (expiry 300 s in 5.0, Clean Session 0 in 3.1.1), taken with
/// `resume_session`.
fn stored_session(version: ProtocolVersion) -> ServerSession {
    let mut old = ClientPeer::new(ServerConfig::default(), version);
    old.connect_accept(persistent_connect(version), None, AcceptOptions::new());
    old.send(Subscribe::new(
        pid(1),
        vec![Subscription::new(filter("keep/#"), QoS::AtLeastOnce)],
    ));
    let request = old.expect_subscribe();
    grant_all(&mut old, request);
    old.conn.handle_transport_close(old.now);
    old.events();
    old.conn.resume_session(old.now).expect("a stored session")
}

// ---- CONNECT timeout, version ----

#[test]
fn connect_timeout_closes_silently() {
    for version in BOTH {
        let mut peer = ClientPeer::new(ServerConfig::default(), version);
        assert_eq!(peer.conn.state(), ServerState::AwaitingConnect);
        assert_eq!(peer.conn.poll_timeout(), Some(Instant::from_secs(10)));
        // Half a CONNECT does not extend the deadline.
        peer.advance(secs(5));
        peer.send_raw(&raw_connect(version)[..5]);
        assert_eq!(peer.conn.poll_timeout(), Some(Instant::from_secs(10)));
        peer.advance(Duration::from_millis(4_999));
        assert!(peer.events().is_empty());
        assert_eq!(peer.conn.state(), ServerState::AwaitingConnect);
        peer.advance(Duration::from_millis(1));
        assert_eq!(only_closed(&peer.events()), CloseReason::ConnectTimeout);
        assert_eq!(peer.conn.state(), ServerState::Closed);
        assert!(peer.received_raw().is_empty());
        assert_eq!(peer.conn.poll_timeout(), None);
        // The rest of the CONNECT comes too late.
        peer.send_raw(&raw_connect(version)[5..]);
        assert!(peer.events().is_empty());
        assert!(peer.received_raw().is_empty());
    }
}

#[test]
fn connect_timeout_is_configurable() {
    let mut config = ServerConfig::default();
    config.connect_timeout = secs(3);
    let mut peer = ClientPeer::new(config, V5);
    assert_eq!(peer.conn.poll_timeout(), Some(Instant::from_secs(3)));
    peer.advance(secs(3));
    assert_eq!(only_closed(&peer.events()), CloseReason::ConnectTimeout);
    assert!(peer.received_raw().is_empty());
}

#[test]
fn protocol_version_is_learned_from_connect() {
    for version in BOTH {
        let mut peer = ClientPeer::new(ServerConfig::default(), version);
        assert_eq!(peer.conn.version(), None);
        peer.send_raw(raw_connect(version));
        assert_eq!(peer.conn.version(), Some(version));
        assert_eq!(peer.conn.state(), ServerState::AwaitingAnswer);
        let request = peer.expect_connect();
        assert_eq!(request.version(), version);
        assert_eq!(request.client_id().as_str(), "c1");
        assert!(request.clean_start());
        assert_eq!(request.connect().keep_alive, 60);
        // The CONNECT is answered by the broker, not by the connection.
        assert!(peer.received_raw().is_empty());
    }
}

// ---- [MQTT-3.1.0-1], [MQTT-3.1.0-2] ----

#[test]
fn mqtt_3_1_0_1_first_packet_not_connect_closes_without_disconnect() {
    // PINGREQ, then a 5.0 SUBSCRIBE, as the first packet.
    for (bytes, packet) in [
        (&b"\xc0\x00"[..], PacketType::PingReq),
        (
            &b"\x82\x08\x00\x01\x00\x00\x02a/\x01"[..],
            PacketType::Subscribe,
        ),
    ] {
        let mut peer = ClientPeer::new(ServerConfig::default(), V5);
        peer.send_raw(bytes);
        let reason = only_closed(&peer.events());
        assert!(
            matches!(
                reason,
                CloseReason::ProtocolViolation {
                    reason_code: DisconnectReasonCode::ProtocolError,
                    decode_error: Some(DecodeError::ExpectedConnect(p)),
                    ..
                } if p == packet
            ),
            "{reason:?}"
        );
        // No DISCONNECT: nothing may precede CONNACK ([MQTT-3.14.0-1]).
        assert!(peer.received_raw().is_empty());
        assert_eq!(peer.conn.state(), ServerState::Closed);
        // A CONNECT after it is not processed.
        peer.send_raw(CONNECT_V5);
        assert!(peer.events().is_empty());
        assert!(peer.received_raw().is_empty());
    }
}

#[test]
fn mqtt_3_1_0_2_second_connect_is_a_protocol_error() {
    for version in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), version);
        peer.send(connect("c1", true, 60));
        assert!(matches!(
            assert_protocol_error_closes(&mut peer),
            CloseReason::ProtocolViolation {
                decode_error: None,
                ..
            }
        ));
        assert_eq!(peer.conn.state(), ServerState::Closed);
    }
}

#[test]
fn mqtt_3_1_0_2_second_connect_pipelined_before_connack() {
    for version in BOTH {
        let mut peer = ClientPeer::new(ServerConfig::default(), version);
        peer.send(connect("c1", true, 60));
        peer.send(connect("c1", true, 60));
        let request = peer.expect_connect();
        assert!(peer.events().is_empty());
        assert!(peer.received().is_empty());
        peer.conn
            .accept(peer.now, request, None, AcceptOptions::new())
            .unwrap();
        let received = peer.received();
        assert!(
            matches!(received[0], Packet::ConnAck(ref a) if a.reason_code == ConnectReasonCode::Success)
        );
        assert_eq!(
            received[1..],
            protocol_error_disconnect(version)[..],
            "{version:?}"
        );
        assert_closed_for_protocol_error(&mut peer);
    }
}

// ---- [MQTT-3.1.2-2] ----

#[test]
fn mqtt_3_1_2_2_unsupported_protocol_level_gets_connack_0x01() {
    let cases: [&[u8]; 4] = [
        // MQTT 3.1: "MQIsdp", level 3.
        b"\x10\x10\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x02c1",
        // "MQTT" with level 3.
        b"\x10\x0e\x00\x04MQTT\x03\x02\x00\x3c\x00\x02c1",
        // Level 6.
        b"\x10\x0f\x00\x04MQTT\x06\x02\x00\x3c\x00\x00\x02c1",
        // Level 0.
        b"\x10\x0e\x00\x04MQTT\x00\x02\x00\x3c\x00\x02c1",
    ];
    for bytes in cases {
        let mut peer = ClientPeer::new(ServerConfig::default(), V311);
        peer.send_raw(bytes);
        assert_eq!(peer.received_raw(), [0x20, 0x02, 0x00, 0x01], "{bytes:x?}");
        assert_eq!(
            only_closed(&peer.events()),
            CloseReason::Rejected {
                reason_code: ConnectReasonCode::UnsupportedProtocolVersion
            }
        );
        assert_eq!(peer.conn.state(), ServerState::Closed);
        // Nothing more is processed.
        peer.send_raw(CONNECT_V311);
        assert!(peer.events().is_empty());
        assert!(peer.received_raw().is_empty());
    }
}

// ---- accepting: CONNACK 0x00, Session Present ----

/// The raw CONNECT of `version` ([`raw_connect`]), accepted: the connection is up, for
/// "c1". Returns it and the bytes the server sent.
fn accept_raw_connect(version: ProtocolVersion) -> (ClientPeer, Vec<u8>) {
    let mut peer = ClientPeer::new(ServerConfig::default(), version);
    peer.send_raw(raw_connect(version));
    let request = peer.expect_connect();
    peer.conn
        .accept(peer.now, request, None, AcceptOptions::new())
        .unwrap();
    let sent = peer.received_raw();
    assert_eq!(peer.conn.state(), ServerState::Connected);
    assert_eq!(peer.conn.client_id().map(MqttString::as_str), Some("c1"));
    (peer, sent)
}

#[test]
fn v5_mqtt_3_1_4_5_accept_sends_connack_0x00() {
    let (mut peer, sent) = accept_raw_connect(V5);
    // CONNACK, session present 0, reason 0x00, Receive Maximum 100.
    assert_eq!(sent, [0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x64]);
    assert_eq!(
        peer.conn.session().map(|s| s.client_id().as_str()),
        Some("c1")
    );
    assert!(peer.events().is_empty());
}

#[test]
fn v311_mqtt_3_1_4_4_accept_sends_return_code_0() {
    let (_peer, sent) = accept_raw_connect(V311);
    assert_eq!(sent, [0x20, 0x02, 0x00, 0x00]);
}

#[test]
fn accept_twice_is_refused() {
    let (mut peer, request) = awaiting(ServerConfig::default(), V5, connect("c1", true, 60));
    peer.conn
        .accept(peer.now, request, None, AcceptOptions::new())
        .unwrap();
    peer.received();
    // A request of another connection cannot be answered here twice ([MQTT-3.2.0-2]).
    let (_, other) = awaiting(ServerConfig::default(), V5, connect("c2", true, 60));
    assert!(matches!(
        peer.conn
            .accept(peer.now, other, None, AcceptOptions::new())
            .map_err(|e| e.error),
        Err(ServerError::WrongState(_))
    ));
    assert!(peer.received_raw().is_empty());
}

/// Clean Start 1 with a stored session: Session Present 0 and the session is thrown
/// away.
fn clean_start_discards_session(version: ProtocolVersion) {
    let session = stored_session(version);
    assert_eq!(session.subscriptions().count(), 1);
    let mut peer = ClientPeer::new(ServerConfig::default(), version);
    let ack = peer.connect_accept(connect("c1", true, 60), Some(session), AcceptOptions::new());
    assert!(!ack.session_present);
    assert_eq!(ack.reason_code, ConnectReasonCode::Success);
    let session = peer.conn.session().unwrap();
    assert_eq!(session.subscriptions().count(), 0);
    assert_eq!(session.client_id().as_str(), "c1");
}

#[test]
fn v5_mqtt_3_2_2_2_mqtt_3_1_2_4_clean_start_has_session_present_0_and_discards_session() {
    clean_start_discards_session(V5);
}

#[test]
fn v311_mqtt_3_2_2_1_mqtt_3_1_2_6_clean_session_has_session_present_0_and_discards_session() {
    clean_start_discards_session(V311);
}

/// Clean Start 0 with the stored session: Session Present 1 and the session goes on.
fn resumed_session_present(version: ProtocolVersion) {
    let session = stored_session(version);
    let mut peer = ClientPeer::new(ServerConfig::default(), version);
    let ack = peer.connect_accept(
        connect("c1", false, 60),
        Some(session),
        AcceptOptions::new(),
    );
    assert!(ack.session_present);
    assert_eq!(ack.reason_code, ConnectReasonCode::Success);
    assert_eq!(
        peer.subscribed_qos(),
        [("keep/#".to_owned(), QoS::AtLeastOnce)]
    );
}

/// Clean Start 0 without a stored session: Session Present 0, a new session.
fn new_session_not_present(version: ProtocolVersion) {
    let mut peer = ClientPeer::new(ServerConfig::default(), version);
    let ack = peer.connect_accept(connect("c1", false, 60), None, AcceptOptions::new());
    assert!(!ack.session_present);
    assert_eq!(ack.reason_code, ConnectReasonCode::Success);
    assert_eq!(peer.conn.session().unwrap().subscriptions().count(), 0);
}

#[test]
fn v5_mqtt_3_2_2_3_mqtt_3_1_2_5_clean_start_0_with_session_has_session_present_1() {
    resumed_session_present(V5);
}

#[test]
fn v5_mqtt_3_2_2_3_mqtt_3_1_2_6_clean_start_0_without_session_has_session_present_0() {
    new_session_not_present(V5);
}

#[test]
fn v311_mqtt_3_2_2_2_clean_session_0_with_session_has_session_present_1() {
    resumed_session_present(V311);
}

#[test]
fn v311_mqtt_3_2_2_3_clean_session_0_without_session_has_session_present_0() {
    new_session_not_present(V311);
}

#[test]
fn v311_session_present_byte_exact() {
    let session = stored_session(V311);
    let mut peer = ClientPeer::new(ServerConfig::default(), V311);
    peer.send(connect("c1", false, 60));
    let request = peer.expect_connect();
    peer.conn
        .accept(peer.now, request, Some(session), AcceptOptions::new())
        .unwrap();
    assert_eq!(peer.received_raw(), [0x20, 0x02, 0x01, 0x00]);
}

// ---- CONNACK properties (5.0) ----

#[test]
fn mqtt_3_2_2_9_connack_states_the_server_limits() {
    let mut config = ServerConfig::default();
    config.receive_maximum = 10;
    config.maximum_packet_size = NonZeroU32::new(1000);
    config.topic_alias_maximum = 5;
    config.maximum_qos = QoS::AtLeastOnce;
    config.retain_available = false;
    config.wildcard_subscription_available = false;
    config.subscription_identifiers_available = false;
    config.shared_subscription_available = false;
    config.server_keep_alive = Some(30);
    let mut peer = ClientPeer::new(config, V5);
    let ack = peer.connect_accept(connect("c1", true, 60), None, AcceptOptions::new());
    let mut expected = ConnAckProperties::new();
    expected.receive_maximum = NonZeroU16::new(10);
    expected.maximum_packet_size = NonZeroU32::new(1000);
    expected.topic_alias_maximum = Some(5);
    expected.maximum_qos = Some(QoS::AtLeastOnce);
    expected.retain_available = Some(false);
    expected.wildcard_subscription_available = Some(false);
    expected.subscription_identifiers_available = Some(false);
    expected.shared_subscription_available = Some(false);
    expected.server_keep_alive = Some(30);
    assert_eq!(*ack.properties, expected);
    assert!(!ack.session_present);
    assert_eq!(ack.reason_code, ConnectReasonCode::Success);
}

#[test]
fn mqtt_3_2_2_9_maximum_qos_0_is_stated_and_qos_2_is_not() {
    let mut config = ServerConfig::default();
    config.maximum_qos = QoS::AtMostOnce;
    let mut peer = ClientPeer::new(config, V5);
    let ack = peer.connect_accept(connect("c1", true, 60), None, AcceptOptions::new());
    assert_eq!(ack.properties.maximum_qos, Some(QoS::AtMostOnce));

    // A server supporting QoS 2 leaves Maximum QoS out.
    let mut peer = ClientPeer::new(ServerConfig::default(), V5);
    let ack = peer.connect_accept(connect("c1", true, 60), None, AcceptOptions::new());
    assert_eq!(*ack.properties, default_v5_connack_props());
}

#[test]
fn connack_leaves_protocol_defaults_out() {
    let mut config = ServerConfig::default();
    config.receive_maximum = u16::MAX;
    let mut peer = ClientPeer::new(config, V5);
    let ack = peer.connect_accept(connect("c1", true, 60), None, AcceptOptions::new());
    assert!(ack.properties.is_empty(), "{:?}", ack.properties);
}

#[test]
fn mqtt_3_2_2_21_server_keep_alive_replaces_the_clients() {
    let mut config = ServerConfig::default();
    config.server_keep_alive = Some(10);
    let mut peer = ClientPeer::new(config, V5);
    let ack = peer.connect_accept(connect("c1", true, 60), None, AcceptOptions::new());
    assert_eq!(ack.properties.server_keep_alive, Some(10));
    assert_eq!(peer.conn.keep_alive(), secs(10));
    assert_eq!(peer.conn.poll_timeout(), Some(Instant::from_secs(15)));
    peer.advance(secs(15));
    assert_eq!(
        peer.received(),
        [Packet::Disconnect(Disconnect::new(
            DisconnectReasonCode::KeepAliveTimeout
        ))]
    );
    assert_eq!(
        closed_and_ended(&peer.events()),
        CloseReason::KeepAliveTimeout
    );
}

#[test]
fn mqtt_3_2_2_22_without_server_keep_alive_the_clients_is_used() {
    for version in BOTH {
        let mut peer = ClientPeer::new(ServerConfig::default(), version);
        let ack = peer.connect_accept(connect("c1", true, 40), None, AcceptOptions::new());
        assert_eq!(ack.properties.server_keep_alive, None);
        assert_eq!(peer.conn.keep_alive(), secs(40));
        assert_eq!(peer.conn.poll_timeout(), Some(Instant::from_secs(60)));
    }
}

#[test]
fn v311_server_keep_alive_is_not_imposed() {
    // 3.1.1 cannot tell the client another keep alive: the client's stays in force.
    let mut config = ServerConfig::default();
    config.server_keep_alive = Some(10);
    let mut peer = ClientPeer::new(config, V311);
    peer.send(connect("c1", true, 60));
    let request = peer.expect_connect();
    peer.conn
        .accept(peer.now, request, None, AcceptOptions::new())
        .unwrap();
    assert_eq!(peer.received_raw(), [0x20, 0x02, 0x00, 0x00]);
    assert_eq!(peer.conn.keep_alive(), secs(60));
    assert_eq!(peer.conn.poll_timeout(), Some(Instant::from_secs(90)));
}

// ---- Client Identifier ----

#[test]
fn v5_mqtt_3_1_3_6_mqtt_3_1_3_7_mqtt_3_2_2_16_assigned_client_identifier() {
    for clean_start in [true, false] {
        let mut peer = ClientPeer::new(ServerConfig::default(), V5);
        let ack = peer.connect_accept(
            connect("", clean_start, 60),
            None,
            AcceptOptions::new().with_assigned_client_id(s("auto-7f3a")),
        );
        assert_eq!(ack.reason_code, ConnectReasonCode::Success);
        let mut expected = default_v5_connack_props();
        expected.assigned_client_identifier = Some(s("auto-7f3a"));
        assert_eq!(*ack.properties, expected);
        assert_eq!(
            peer.conn.client_id().map(MqttString::as_str),
            Some("auto-7f3a")
        );
        assert_eq!(
            peer.conn.session().unwrap().client_id().as_str(),
            "auto-7f3a"
        );
    }
}

#[test]
fn v5_mqtt_3_2_2_16_no_assigned_identifier_for_a_given_one() {
    let mut peer = ClientPeer::new(ServerConfig::default(), V5);
    let ack = peer.connect_accept(
        connect("c1", true, 60),
        None,
        AcceptOptions::new().with_assigned_client_id(s("ignored")),
    );
    assert_eq!(ack.properties.assigned_client_identifier, None);
    assert_eq!(peer.conn.client_id().map(MqttString::as_str), Some("c1"));
}

#[test]
fn mqtt_3_1_3_6_accept_without_assigned_id_is_refused() {
    for version in BOTH {
        let (mut peer, request) = awaiting(ServerConfig::default(), version, connect("", true, 60));
        assert!(request.client_id().is_empty());
        let refused = peer
            .conn
            .accept(peer.now, request, None, AcceptOptions::new())
            .unwrap_err();
        assert_eq!(refused.error, ServerError::AssignedIdRequired);
        // Nothing changed: no CONNACK, no session, still waiting for an answer.
        assert!(peer.received_raw().is_empty());
        assert!(peer.events().is_empty());
        assert_eq!(peer.conn.state(), ServerState::AwaitingAnswer);
        assert!(peer.conn.session().is_none());
        assert!(peer.conn.client_id().is_none());
        // The request came back: the broker answers it again, properly.
        let (request, session) = refused.request;
        let options = AcceptOptions::new().with_assigned_client_id("given-1".parse().unwrap());
        peer.conn
            .accept(peer.now, request, session, options)
            .unwrap();
        assert!(matches!(peer.received().as_slice(), [Packet::ConnAck(_)]));
        assert_eq!(
            peer.conn.client_id().map(MqttString::as_str),
            Some("given-1")
        );
    }
}

/// [MQTT-3.1.2-24] when not even the CONNACK fits the client's Maximum Packet Size,
/// the client is refused with 0x95 and the broker gets its session back.
#[test]
fn mqtt_3_1_2_24_connack_too_large_for_the_client_refuses_with_0x95() {
    let mut config = ServerConfig::default();
    config.receive_maximum = 10;
    config.topic_alias_maximum = 10;
    config.server_keep_alive = Some(30);
    let mut c = connect("c1", false, 60);
    c.properties.maximum_packet_size = std::num::NonZeroU32::new(12);
    let (mut peer, request) = awaiting(config, ProtocolVersion::V5, c);
    let refused = peer
        .conn
        .accept(peer.now, request, None, AcceptOptions::new())
        .unwrap_err();
    assert_eq!(refused.error, ServerError::ConnAckTooLarge);
    assert!(refused.request.1.is_none());
    assert_eq!(peer.received_raw(), b"\x20\x03\x00\x95\x00");
    assert_eq!(
        ClientPeer::closed_reason(&peer.events()),
        Some(CloseReason::Rejected {
            reason_code: ConnectReasonCode::PacketTooLarge
        })
    );
}

#[test]
fn v311_mqtt_3_1_3_6_empty_client_id_with_clean_session_gets_assigned_one() {
    let mut peer = ClientPeer::new(ServerConfig::default(), V311);
    peer.send(connect("", true, 60));
    let request = peer.expect_connect();
    peer.conn
        .accept(
            peer.now,
            request,
            None,
            AcceptOptions::new().with_assigned_client_id(s("auto-1")),
        )
        .unwrap();
    // 3.1.1 has no property to tell the client its identifier.
    assert_eq!(peer.received_raw(), [0x20, 0x02, 0x00, 0x00]);
    assert_eq!(
        peer.conn.client_id().map(MqttString::as_str),
        Some("auto-1")
    );
}

#[test]
fn v311_mqtt_3_1_3_8_empty_client_id_with_clean_session_0_gets_return_code_2() {
    let mut peer = ClientPeer::new(ServerConfig::default(), V311);
    peer.send(connect("", false, 60));
    assert_eq!(peer.received_raw(), [0x20, 0x02, 0x00, 0x02]);
    // Refused by the connection itself: no Connect request reaches the broker.
    assert_eq!(
        only_closed(&peer.events()),
        CloseReason::Rejected {
            reason_code: ConnectReasonCode::ClientIdentifierNotValid
        }
    );
    assert_eq!(peer.conn.state(), ServerState::Closed);
    assert!(peer.conn.session().is_none());
}

// ---- rejecting ----

#[test]
fn v5_mqtt_3_2_2_6_mqtt_3_2_2_7_reject_sends_the_code_and_closes() {
    let codes = [
        ConnectReasonCode::UnspecifiedError,
        ConnectReasonCode::MalformedPacket,
        ConnectReasonCode::ProtocolError,
        ConnectReasonCode::ImplementationSpecificError,
        ConnectReasonCode::UnsupportedProtocolVersion,
        ConnectReasonCode::ClientIdentifierNotValid,
        ConnectReasonCode::BadUserNameOrPassword,
        ConnectReasonCode::NotAuthorized,
        ConnectReasonCode::ServerUnavailable,
        ConnectReasonCode::ServerBusy,
        ConnectReasonCode::Banned,
        ConnectReasonCode::BadAuthenticationMethod,
        ConnectReasonCode::TopicNameInvalid,
        ConnectReasonCode::PacketTooLarge,
        ConnectReasonCode::QuotaExceeded,
        ConnectReasonCode::PayloadFormatInvalid,
        ConnectReasonCode::RetainNotSupported,
        ConnectReasonCode::QoSNotSupported,
        ConnectReasonCode::UseAnotherServer,
        ConnectReasonCode::ServerMoved,
        ConnectReasonCode::ConnectionRateExceeded,
    ];
    for code in codes {
        // Clean Start 0: even a client that may have a session gets Session Present 0.
        let (mut peer, request) = awaiting(ServerConfig::default(), V5, connect("c1", false, 60));
        peer.conn.reject(peer.now, request, code).unwrap();
        assert_eq!(
            peer.received_raw(),
            [0x20, 0x03, 0x00, code.value(), 0x00],
            "{code:?}"
        );
        assert_eq!(
            only_closed(&peer.events()),
            CloseReason::Rejected { reason_code: code }
        );
        assert_eq!(peer.conn.state(), ServerState::Closed);
        assert!(peer.conn.session().is_none());
        assert_eq!(peer.conn.poll_timeout(), None);
    }
}

#[test]
fn v311_mqtt_3_2_2_4_mqtt_3_2_2_5_mqtt_3_2_2_6_reject_sends_the_return_code_that_fits_and_closes() {
    // Every code, with the 3.1.1 return code it goes out as: 1 to 5 as such, the
    // 5.0-only codes as the one that fits, "not authorized" (5) or "server unavailable"
    // (3); none at all when no return code fits ([MQTT-3.2.2-6] (3.1.1)).
    let codes = [
        (ConnectReasonCode::UnsupportedProtocolVersion, Some(1)),
        (ConnectReasonCode::ClientIdentifierNotValid, Some(2)),
        (ConnectReasonCode::ServerUnavailable, Some(3)),
        (ConnectReasonCode::BadUserNameOrPassword, Some(4)),
        (ConnectReasonCode::NotAuthorized, Some(5)),
        (ConnectReasonCode::Banned, Some(5)),
        (ConnectReasonCode::BadAuthenticationMethod, Some(5)),
        (ConnectReasonCode::UnspecifiedError, None),
        (ConnectReasonCode::ServerBusy, Some(3)),
        (ConnectReasonCode::QuotaExceeded, Some(3)),
        (ConnectReasonCode::UseAnotherServer, Some(3)),
        (ConnectReasonCode::ServerMoved, Some(3)),
        (ConnectReasonCode::ConnectionRateExceeded, Some(3)),
        (ConnectReasonCode::ImplementationSpecificError, None),
        (ConnectReasonCode::PacketTooLarge, None),
    ];
    for (code, byte) in codes {
        let (mut peer, request) = awaiting(ServerConfig::default(), V311, connect("c1", false, 60));
        peer.conn.reject(peer.now, request, code).unwrap();
        let expected = byte.map_or(vec![], |b| vec![0x20, 0x02, 0x00, b]);
        assert_eq!(peer.received_raw(), expected, "{code:?}");
        // The event keeps the code the broker chose.
        assert_eq!(
            only_closed(&peer.events()),
            CloseReason::Rejected { reason_code: code }
        );
        assert_eq!(peer.conn.state(), ServerState::Closed);
    }
}

#[test]
fn reject_with_a_success_code_is_refused() {
    for version in BOTH {
        let (mut peer, request) =
            awaiting(ServerConfig::default(), version, connect("c1", true, 60));
        assert_eq!(
            peer.conn
                .reject(peer.now, request, ConnectReasonCode::Success)
                .map_err(|e| e.error),
            Err(ServerError::ReasonNotAllowed)
        );
        assert!(peer.received_raw().is_empty());
        assert!(peer.events().is_empty());
        assert_eq!(peer.conn.state(), ServerState::AwaitingAnswer);
    }
}

#[test]
fn v5_mqtt_3_1_4_6_nothing_processed_after_reject() {
    let mut peer = ClientPeer::new(ServerConfig::default(), V5);
    peer.send(connect("c1", true, 60));
    peer.send(Packet::PingReq);
    peer.send(publish("a/b", b"x", QosPid::AtLeastOnce(pid(1))));
    let request = peer.expect_connect();
    peer.conn
        .reject(peer.now, request, ConnectReasonCode::NotAuthorized)
        .unwrap();
    // Only the CONNACK: no PINGRESP, no PUBACK, no Message.
    let mut ack = ConnAck::new(ConnectReasonCode::NotAuthorized);
    ack.session_present = false;
    assert_eq!(peer.received(), [Packet::ConnAck(ack)]);
    assert_eq!(
        only_closed(&peer.events()),
        CloseReason::Rejected {
            reason_code: ConnectReasonCode::NotAuthorized
        }
    );
    peer.send(Packet::PingReq);
    assert!(peer.received().is_empty());
    assert!(peer.events().is_empty());
}

#[test]
fn v311_mqtt_3_1_4_5_nothing_processed_after_reject() {
    let mut peer = ClientPeer::new(ServerConfig::default(), V311);
    peer.send(connect("c1", true, 60));
    peer.send(Packet::PingReq);
    peer.send(publish("a/b", b"x", QosPid::AtLeastOnce(pid(1))));
    let request = peer.expect_connect();
    peer.conn
        .reject(peer.now, request, ConnectReasonCode::BadUserNameOrPassword)
        .unwrap();
    assert_eq!(peer.received_raw(), [0x20, 0x02, 0x00, 0x04]);
    assert!(matches!(
        only_closed(&peer.events()),
        CloseReason::Rejected { .. }
    ));
    peer.send(Packet::PingReq);
    assert!(peer.received_raw().is_empty());
    assert!(peer.events().is_empty());
}

// ---- Will QoS and Will Retain against the server's capabilities ----

fn connect_with_will(qos: QoS, retain: bool) -> Connect {
    let mut c = connect("c1", true, 60);
    let mut will = Will::new(topic("will/c1"), Bytes::from_static(b"gone"));
    will.qos = qos;
    will.retain = retain;
    c.will = Some(will);
    c
}

#[test]
fn mqtt_3_2_2_12_will_qos_above_maximum_gets_connack_0x9b() {
    for (max, will_qos) in [
        (QoS::AtLeastOnce, QoS::ExactlyOnce),
        (QoS::AtMostOnce, QoS::AtLeastOnce),
        (QoS::AtMostOnce, QoS::ExactlyOnce),
    ] {
        let mut config = ServerConfig::default();
        config.maximum_qos = max;
        let mut peer = ClientPeer::new(config, V5);
        peer.send(connect_with_will(will_qos, false));
        assert_eq!(peer.received_raw(), [0x20, 0x03, 0x00, 0x9B, 0x00]);
        assert_eq!(
            only_closed(&peer.events()),
            CloseReason::Rejected {
                reason_code: ConnectReasonCode::QoSNotSupported
            }
        );
        assert_eq!(peer.conn.state(), ServerState::Closed);
    }
    // At the maximum: the broker is asked.
    let mut config = ServerConfig::default();
    config.maximum_qos = QoS::AtLeastOnce;
    let mut peer = ClientPeer::new(config, V5);
    peer.send(connect_with_will(QoS::AtLeastOnce, false));
    assert_eq!(
        peer.expect_connect().connect().will.as_ref().unwrap().qos,
        QoS::AtLeastOnce
    );
    assert!(peer.received_raw().is_empty());
}

#[test]
fn mqtt_3_2_2_13_will_retain_without_retain_available_gets_connack_0x9a() {
    let mut config = ServerConfig::default();
    config.retain_available = false;
    let mut peer = ClientPeer::new(config.clone(), V5);
    peer.send(connect_with_will(QoS::AtMostOnce, true));
    assert_eq!(peer.received_raw(), [0x20, 0x03, 0x00, 0x9A, 0x00]);
    assert_eq!(
        only_closed(&peer.events()),
        CloseReason::Rejected {
            reason_code: ConnectReasonCode::RetainNotSupported
        }
    );
    // A non-retained Will is fine.
    let mut peer = ClientPeer::new(config, V5);
    peer.send(connect_with_will(QoS::AtMostOnce, false));
    peer.expect_connect();
    assert!(peer.received_raw().is_empty());
}

#[test]
fn v311_mqtt_3_2_2_6_will_beyond_the_server_closes_without_connack() {
    // 3.1.1 has no 0x9A / 0x9B and no return code fits: no CONNACK at all.
    let mut config = ServerConfig::default();
    config.maximum_qos = QoS::AtLeastOnce;
    config.retain_available = false;
    for (will, code) in [
        (
            connect_with_will(QoS::ExactlyOnce, false),
            ConnectReasonCode::QoSNotSupported,
        ),
        (
            connect_with_will(QoS::AtMostOnce, true),
            ConnectReasonCode::RetainNotSupported,
        ),
    ] {
        let mut peer = ClientPeer::new(config.clone(), V311);
        peer.send(will);
        assert!(peer.received_raw().is_empty());
        assert_eq!(
            only_closed(&peer.events()),
            CloseReason::Rejected { reason_code: code }
        );
    }
}

// ---- nothing before the answer ----

fn pingreq_waits_for_connack(version: ProtocolVersion) {
    for together in [false, true] {
        let mut peer = ClientPeer::new(ServerConfig::default(), version);
        if together {
            // CONNECT and PINGREQ in one read.
            let mut bytes = raw_connect(version).to_vec();
            bytes.extend_from_slice(&[0xC0, 0x00]);
            peer.send_raw(&bytes);
        } else {
            peer.send_raw(raw_connect(version));
            peer.send(Packet::PingReq);
        }
        peer.send(publish("a/b", b"early", QosPid::AtLeastOnce(pid(9))));
        let request = peer.expect_connect();
        // Neither answered nor delivered yet.
        assert!(peer.received_raw().is_empty());
        assert!(peer.events().is_empty());
        peer.advance(secs(1));
        assert!(peer.received_raw().is_empty());
        assert!(peer.events().is_empty());
        peer.conn
            .accept(peer.now, request, None, AcceptOptions::new())
            .unwrap();
        let received = peer.received();
        assert_eq!(received.len(), 3, "{received:?}");
        assert!(
            matches!(received[0], Packet::ConnAck(ref a) if a.reason_code == ConnectReasonCode::Success)
        );
        assert_eq!(received[1], Packet::PingResp);
        assert_eq!(received[2], Packet::PubAck(PubAck::new(pid(9))));
        match peer.events().as_slice() {
            [ServerEvent::Message(m)] => {
                assert_eq!(m.message.topic.as_str(), "a/b");
                assert_eq!(&m.message.payload[..], b"early");
            }
            other => panic!("expected one Message, got {other:?}"),
        }
    }
}

#[test]
fn v5_mqtt_3_2_0_1_packets_after_connect_wait_for_connack() {
    pingreq_waits_for_connack(V5);
}

#[test]
fn v311_mqtt_3_2_0_1_packets_after_connect_wait_for_connack() {
    pingreq_waits_for_connack(V311);
}

#[test]
fn max_pending_input_before_the_answer_closes() {
    for version in BOTH {
        let mut config = ServerConfig::default();
        config.max_pending_input = 10;
        let mut peer = ClientPeer::new(config, version);
        peer.send_raw(raw_connect(version));
        let _request = peer.expect_connect();
        // Exactly the limit is fine.
        peer.send_raw(&[0xC0, 0x00, 0xC0, 0x00, 0xC0, 0x00, 0xC0, 0x00, 0xC0, 0x00]);
        assert!(peer.events().is_empty());
        assert_eq!(peer.conn.state(), ServerState::AwaitingAnswer);
        // One byte more is not.
        peer.send_raw(&[0xC0]);
        assert!(matches!(
            only_closed(&peer.events()),
            CloseReason::ProtocolViolation {
                reason_code: DisconnectReasonCode::QuotaExceeded,
                decode_error: None,
                ..
            }
        ));
        // No DISCONNECT before CONNACK ([MQTT-3.14.0-1]), and no CONNACK either.
        assert!(peer.received_raw().is_empty());
        assert_eq!(peer.conn.state(), ServerState::Closed);
    }
}

#[test]
fn max_pending_input_counts_bytes_read_with_the_connect() {
    for version in BOTH {
        let mut config = ServerConfig::default();
        config.max_pending_input = 10;
        let mut peer = ClientPeer::new(config, version);
        // CONNECT and 12 more bytes in a single read.
        let mut bytes = raw_connect(version).to_vec();
        bytes.extend_from_slice(&[0xC0, 0x00].repeat(6));
        peer.send_raw(&bytes);
        let events = peer.events();
        assert!(matches!(events[0], ServerEvent::Connect(_)), "{events:?}");
        assert!(
            matches!(
                ClientPeer::closed_reason(&events),
                Some(CloseReason::ProtocolViolation {
                    reason_code: DisconnectReasonCode::QuotaExceeded,
                    ..
                })
            ),
            "{version:?}: {events:?}"
        );
        assert_eq!(events.len(), 2);
        assert!(peer.received_raw().is_empty());
        assert_eq!(peer.conn.state(), ServerState::Closed);
    }
}

#[test]
fn connect_timeout_runs_while_the_answer_is_pending() {
    let (mut peer, request) = awaiting(ServerConfig::default(), V5, connect("c1", true, 60));
    assert_eq!(peer.conn.poll_timeout(), Some(Instant::from_secs(10)));
    peer.advance(secs(10));
    assert_eq!(only_closed(&peer.events()), CloseReason::ConnectTimeout);
    assert!(peer.received_raw().is_empty());
    // Too late to accept.
    assert!(matches!(
        peer.conn
            .accept(peer.now, request, None, AcceptOptions::new())
            .map_err(|e| e.error),
        Err(ServerError::WrongState(_))
    ));
    assert!(peer.received_raw().is_empty());
}

// ---- keep alive ----

fn keep_alive_closes(version: ProtocolVersion) {
    let mut peer = ClientPeer::new(ServerConfig::default(), version);
    peer.advance(secs(2));
    peer.connect_accept(connect("c1", true, 60), None, AcceptOptions::new());
    assert_eq!(peer.conn.keep_alive(), secs(60));
    // 1.5 x 60 s after the CONNECT was accepted.
    assert_eq!(peer.conn.poll_timeout(), Some(Instant::from_secs(92)));
    peer.advance(Duration::from_millis(89_999));
    assert!(peer.events().is_empty());
    assert!(peer.received().is_empty());
    assert_eq!(peer.conn.state(), ServerState::Connected);
    peer.advance(Duration::from_millis(1));
    let expected = match version {
        V5 => vec![Packet::Disconnect(Disconnect::new(
            DisconnectReasonCode::KeepAliveTimeout,
        ))],
        _ => vec![],
    };
    assert_eq!(peer.received(), expected);
    assert_eq!(
        closed_and_ended(&peer.events()),
        CloseReason::KeepAliveTimeout
    );
    assert_eq!(peer.conn.state(), ServerState::Closed);
}

#[test]
fn v5_mqtt_3_1_2_22_keep_alive_1_5x_closes() {
    keep_alive_closes(V5);
    // DISCONNECT 0x8D byte exact.
    let mut peer = ClientPeer::connected(ServerConfig::default(), V5);
    peer.advance(secs(90));
    let bytes = peer.received_raw();
    assert!(
        bytes == [0xE0, 0x01, 0x8D] || bytes == [0xE0, 0x02, 0x8D, 0x00],
        "{bytes:x?}"
    );
}

#[test]
fn v311_mqtt_3_1_2_24_keep_alive_1_5x_closes() {
    keep_alive_closes(V311);
}

#[test]
fn keep_alive_is_reset_by_any_byte() {
    for version in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), version);
        assert_eq!(peer.conn.poll_timeout(), Some(Instant::from_secs(90)));
        // One byte of a PINGREQ at 80 s: the client is alive.
        peer.advance(secs(80));
        peer.send_raw(&[0xC0]);
        assert_eq!(peer.conn.poll_timeout(), Some(Instant::from_secs(170)));
        peer.advance(secs(89));
        assert!(peer.events().is_empty());
        assert!(peer.received().is_empty());
        // The rest of it at 169 s.
        peer.send_raw(&[0x00]);
        assert_eq!(peer.received(), [Packet::PingResp]);
        assert_eq!(peer.conn.poll_timeout(), Some(Instant::from_secs(259)));
        peer.advance(Duration::from_millis(89_999));
        assert!(peer.events().is_empty());
        peer.advance(Duration::from_millis(1));
        assert_eq!(
            closed_and_ended(&peer.events()),
            CloseReason::KeepAliveTimeout
        );
    }
}

#[test]
fn keep_alive_0_has_no_deadline() {
    for version in BOTH {
        let mut peer = ClientPeer::new(ServerConfig::default(), version);
        peer.connect_accept(connect("c1", true, 0), None, AcceptOptions::new());
        assert_eq!(peer.conn.keep_alive(), Duration::ZERO);
        assert_eq!(peer.conn.poll_timeout(), None);
        peer.advance(secs(1_000_000));
        assert!(peer.events().is_empty());
        assert!(peer.received().is_empty());
        assert_eq!(peer.conn.state(), ServerState::Connected);
    }
}

#[test]
fn keep_alive_timeout_early_calls_do_nothing() {
    let mut peer = ClientPeer::connected(ServerConfig::default(), V5);
    for t in [0, 30, 60, 89] {
        peer.conn.handle_timeout(Instant::from_secs(t));
        assert!(peer.events().is_empty());
    }
    assert_eq!(peer.conn.state(), ServerState::Connected);
}

// ---- [MQTT-3.12.4-1] ----

#[test]
fn mqtt_3_12_4_1_pingreq_gets_pingresp() {
    for version in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), version);
        peer.send_raw(&[0xC0, 0x00]);
        assert_eq!(peer.received_raw(), [0xD0, 0x00]);
        // Two in one read, two answers.
        peer.send_raw(&[0xC0, 0x00, 0xC0, 0x00]);
        assert_eq!(peer.received_raw(), [0xD0, 0x00, 0xD0, 0x00]);
        assert!(peer.events().is_empty());
    }
}

// ---- Response Information, Reason String, User Properties ----

#[test]
fn mqtt_3_1_2_28_response_information_only_when_requested() {
    for (requested, expected) in [
        (None, None),
        (Some(false), None),
        (Some(true), Some(s("resp/c1/"))),
    ] {
        let mut c = connect("c1", true, 60);
        c.properties.request_response_information = requested;
        let mut options = AcceptOptions::new();
        options.response_information = Some(s("resp/c1/"));
        let mut peer = ClientPeer::new(ServerConfig::default(), V5);
        let ack = peer.connect_accept(c, None, options);
        assert_eq!(
            ack.properties.response_information, expected,
            "{requested:?}"
        );
    }
}

fn diagnostics_options() -> AcceptOptions {
    let mut options = AcceptOptions::new();
    options.reason_string = Some(s("welcome to this rather talkative broker"));
    options
        .user_properties
        .push(s("region"), s("eu-west-1-availability-zone-b"));
    options
}

#[test]
fn mqtt_3_2_2_19_mqtt_3_2_2_20_reason_string_and_user_properties_within_client_maximum() {
    // Room enough: both are sent.
    let mut c = connect("c1", true, 60);
    c.properties.maximum_packet_size = NonZeroU32::new(200);
    let mut peer = ClientPeer::new(ServerConfig::default(), V5);
    let ack = peer.connect_accept(c, None, diagnostics_options());
    assert_eq!(
        ack.properties.reason_string,
        Some(s("welcome to this rather talkative broker"))
    );
    assert_eq!(
        ack.properties.user_properties.to_vec(),
        [(s("region"), s("eu-west-1-availability-zone-b"))]
    );
}

#[test]
fn mqtt_3_2_2_19_reason_string_dropped_when_too_large() {
    // 8 bytes of CONNACK without it, 50 with it.
    let mut c = connect("c1", true, 60);
    c.properties.maximum_packet_size = NonZeroU32::new(40);
    let mut options = AcceptOptions::new();
    options.reason_string = Some(s("welcome to this rather talkative broker"));
    let mut peer = ClientPeer::new(ServerConfig::default(), V5);
    peer.send(c);
    let request = peer.expect_connect();
    peer.conn.accept(peer.now, request, None, options).unwrap();
    let bytes = peer.received_raw();
    assert!(bytes.len() <= 40, "{} bytes", bytes.len());
    assert_eq!(bytes, [0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x64]);
}

#[test]
fn mqtt_3_2_2_20_user_properties_dropped_when_too_large() {
    let mut c = connect("c1", true, 60);
    c.properties.maximum_packet_size = NonZeroU32::new(30);
    let mut options = AcceptOptions::new();
    options
        .user_properties
        .push(s("region"), s("eu-west-1-availability-zone-b"));
    let mut peer = ClientPeer::new(ServerConfig::default(), V5);
    peer.send(c);
    let request = peer.expect_connect();
    peer.conn.accept(peer.now, request, None, options).unwrap();
    let bytes = peer.received_raw();
    assert_eq!(bytes, [0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x64]);
    // The rest of the CONNACK still goes out: assigned identifiers are not dropped.
    let mut c = connect("", true, 60);
    c.properties.maximum_packet_size = NonZeroU32::new(30);
    let mut peer = ClientPeer::new(ServerConfig::default(), V5);
    let ack = peer.connect_accept(
        c,
        None,
        diagnostics_options().with_assigned_client_id(s("auto-1")),
    );
    assert_eq!(ack.properties.assigned_client_identifier, Some(s("auto-1")));
    assert_eq!(ack.properties.reason_string, None);
    assert!(ack.properties.user_properties.is_empty());
}

// ---- enhanced authentication ----

fn auth(code: AuthReasonCode, method: &str, data: Option<&'static [u8]>) -> Auth {
    let mut a = Auth::new(code);
    a.properties.authentication_method = Some(s(method));
    a.properties.authentication_data = data.map(Bytes::from_static);
    a
}

fn connect_with_method(method: &str) -> Connect {
    let mut c = connect("c1", true, 60);
    c.properties.authentication_method = Some(s(method));
    c.properties.authentication_data = Some(Bytes::from_static(b"client-first"));
    c
}

/// The server sent exactly one AUTH with `code`, method "SCRAM" and `data`.
fn assert_auth_sent(peer: &mut ClientPeer, code: AuthReasonCode, data: &'static [u8]) {
    assert_eq!(
        peer.received(),
        [Packet::Auth(auth(code, "SCRAM", Some(data)))]
    );
}

/// The only event is the client's AUTH with `data`, in a re-authentication or not.
fn assert_auth_event(peer: &mut ClientPeer, reauthenticate: bool, data: &[u8]) {
    match peer.events().as_slice() {
        [
            ServerEvent::Auth {
                data: got,
                reauthenticate: r,
            },
        ] if *r == reauthenticate => assert_eq!(got.as_deref(), Some(data)),
        other => panic!("expected Auth (reauthenticate: {reauthenticate}), got {other:?}"),
    }
}

/// No authentication exchange is under way: neither `auth_continue` nor
/// `auth_success` applies.
fn assert_no_auth_exchange(peer: &mut ClientPeer) {
    assert!(matches!(
        peer.conn.auth_continue(peer.now, None),
        Err(ServerError::WrongState(_))
    ));
    assert!(matches!(
        peer.conn.auth_success(peer.now, None),
        Err(ServerError::WrongState(_))
    ));
}

/// A 5.0 connection accepted after a SCRAM exchange.
fn scram_connected() -> ClientPeer {
    let (mut peer, request) = awaiting(ServerConfig::default(), V5, connect_with_method("SCRAM"));
    peer.conn.auth_continue(peer.now, None).unwrap();
    peer.received();
    peer.send(auth(AuthReasonCode::ContinueAuthentication, "SCRAM", None));
    peer.events();
    peer.conn
        .accept(peer.now, request, None, AcceptOptions::new())
        .unwrap();
    peer.received();
    peer
}

#[test]
fn mqtt_4_12_0_2_mqtt_4_12_0_5_the_exchange_while_connecting() {
    let mut peer = ClientPeer::new(ServerConfig::default(), V5);
    peer.send(connect_with_method("SCRAM"));
    let request = peer.expect_connect();
    assert_eq!(
        request.authentication_method().map(MqttString::as_str),
        Some("SCRAM")
    );
    assert_eq!(
        request.connect().properties.authentication_data.as_deref(),
        Some(&b"client-first"[..])
    );
    assert!(peer.received().is_empty());

    // The server's challenge: AUTH 0x18 with the CONNECT's method.
    peer.conn
        .auth_continue(peer.now, Some(Bytes::from_static(b"server-first")))
        .unwrap();
    assert_auth_sent(
        &mut peer,
        AuthReasonCode::ContinueAuthentication,
        b"server-first",
    );
    assert_eq!(peer.conn.state(), ServerState::AwaitingAnswer);

    // The client's answer.
    peer.send(auth(
        AuthReasonCode::ContinueAuthentication,
        "SCRAM",
        Some(b"client-final"),
    ));
    assert_auth_event(&mut peer, false, b"client-final");
    assert!(peer.received().is_empty());

    // Success: the CONNACK carries the method and the last data.
    let mut options = AcceptOptions::new();
    options.authentication_data = Some(Bytes::from_static(b"server-final"));
    peer.conn.accept(peer.now, request, None, options).unwrap();
    let mut expected = default_v5_connack_props();
    expected.authentication_method = Some(s("SCRAM"));
    expected.authentication_data = Some(Bytes::from_static(b"server-final"));
    match peer.received().as_slice() {
        [Packet::ConnAck(ack)] => {
            assert_eq!(ack.reason_code, ConnectReasonCode::Success);
            assert_eq!(*ack.properties, expected);
        }
        other => panic!("expected CONNACK, got {other:?}"),
    }
    assert_eq!(peer.conn.state(), ServerState::Connected);
}

#[test]
fn mqtt_4_12_0_2_auth_byte_exact() {
    let (mut peer, _request) = awaiting(ServerConfig::default(), V5, connect_with_method("M"));
    peer.conn.auth_continue(peer.now, None).unwrap();
    // AUTH, reason 0x18, properties: Authentication Method "M".
    assert_eq!(
        peer.received_raw(),
        [0xF0, 0x06, 0x18, 0x04, 0x15, 0x00, 0x01, b'M']
    );
}

#[test]
fn mqtt_4_12_1_1_reauthentication_while_connected() {
    let mut peer = scram_connected();
    // auth_success only ends a re-authentication the client started.
    assert_no_auth_exchange(&mut peer);
    assert!(peer.received().is_empty());

    peer.send(auth(
        AuthReasonCode::ReAuthenticate,
        "SCRAM",
        Some(b"again"),
    ));
    assert_auth_event(&mut peer, true, b"again");
    peer.conn
        .auth_continue(peer.now, Some(Bytes::from_static(b"challenge")))
        .unwrap();
    assert_auth_sent(
        &mut peer,
        AuthReasonCode::ContinueAuthentication,
        b"challenge",
    );
    peer.send(auth(
        AuthReasonCode::ContinueAuthentication,
        "SCRAM",
        Some(b"response"),
    ));
    assert!(matches!(
        peer.events().as_slice(),
        [ServerEvent::Auth {
            reauthenticate: true,
            ..
        }]
    ));
    peer.conn
        .auth_success(peer.now, Some(Bytes::from_static(b"done")))
        .unwrap();
    assert_auth_sent(&mut peer, AuthReasonCode::Success, b"done");
    assert_eq!(peer.conn.state(), ServerState::Connected);
    // Over: no second success.
    assert!(matches!(
        peer.conn.auth_success(peer.now, None),
        Err(ServerError::WrongState(_))
    ));
    // The connection works on.
    peer.send(Packet::PingReq);
    assert_eq!(peer.received(), [Packet::PingResp]);
}

#[test]
fn mqtt_4_12_0_5_auth_with_another_method_is_a_protocol_error() {
    let mut peer = scram_connected();
    peer.send(auth(AuthReasonCode::ReAuthenticate, "PLAIN", None));
    assert_protocol_error_closes(&mut peer);
}

#[test]
fn mqtt_4_12_0_6_no_auth_without_a_method_in_connect() {
    let (mut peer, request) = awaiting(ServerConfig::default(), V5, connect("c1", true, 60));
    assert_eq!(request.authentication_method(), None);
    assert!(matches!(
        peer.conn.auth_continue(peer.now, None),
        Err(ServerError::WrongState(_))
    ));
    assert!(peer.received_raw().is_empty());
    peer.conn
        .accept(peer.now, request, None, AcceptOptions::new())
        .unwrap();
    match peer.received().as_slice() {
        [Packet::ConnAck(ack)] => {
            assert_eq!(ack.properties.authentication_method, None);
            assert_eq!(ack.properties.authentication_data, None);
        }
        other => panic!("expected CONNACK, got {other:?}"),
    }
    assert_no_auth_exchange(&mut peer);
    assert!(peer.received().is_empty());

    // An AUTH from the client when CONNECT had no method: protocol error.
    peer.send(auth(AuthReasonCode::ReAuthenticate, "SCRAM", None));
    assert_protocol_error_closes(&mut peer);
}

#[test]
fn mqtt_4_12_0_6_auth_before_connack_without_a_method_closes() {
    let (mut peer, _request) = awaiting(ServerConfig::default(), V5, connect("c1", true, 60));
    peer.send(auth(AuthReasonCode::ContinueAuthentication, "SCRAM", None));
    assert!(matches!(
        only_closed(&peer.events()),
        CloseReason::ProtocolViolation {
            reason_code: DisconnectReasonCode::ProtocolError,
            ..
        }
    ));
    // No DISCONNECT before a CONNACK ([MQTT-3.14.0-1]).
    assert!(peer.received_raw().is_empty());
}

#[test]
fn mqtt_4_12_0_1_unsupported_method_rejected_with_0x8c() {
    let (mut peer, request) =
        awaiting(ServerConfig::default(), V5, connect_with_method("KERBEROS"));
    peer.conn
        .reject(
            peer.now,
            request,
            ConnectReasonCode::BadAuthenticationMethod,
        )
        .unwrap();
    assert_eq!(peer.received_raw(), [0x20, 0x03, 0x00, 0x8C, 0x00]);
    assert_eq!(
        only_closed(&peer.events()),
        CloseReason::Rejected {
            reason_code: ConnectReasonCode::BadAuthenticationMethod
        }
    );
    // Authentication is over with the connection.
    assert!(matches!(
        peer.conn.auth_continue(peer.now, None),
        Err(ServerError::WrongState(_))
    ));
    assert!(peer.received_raw().is_empty());
}

#[test]
fn mqtt_4_12_0_4_reject_after_a_challenge() {
    let (mut peer, request) = awaiting(ServerConfig::default(), V5, connect_with_method("SCRAM"));
    peer.conn.auth_continue(peer.now, None).unwrap();
    peer.received();
    peer.send(auth(
        AuthReasonCode::ContinueAuthentication,
        "SCRAM",
        Some(b"wrong proof"),
    ));
    peer.events();
    peer.conn
        .reject(peer.now, request, ConnectReasonCode::NotAuthorized)
        .unwrap();
    assert_eq!(peer.received_raw(), [0x20, 0x03, 0x00, 0x87, 0x00]);
    assert!(matches!(
        only_closed(&peer.events()),
        CloseReason::Rejected {
            reason_code: ConnectReasonCode::NotAuthorized
        }
    ));
}

#[test]
fn v311_auth_packet_is_refused() {
    // Packet type 15 is reserved in 3.1.1.
    let mut peer = ClientPeer::connected(ServerConfig::default(), V311);
    peer.send_raw(&[0xF0, 0x00]);
    assert!(peer.received_raw().is_empty());
    assert!(matches!(
        closed_and_ended(&peer.events()),
        CloseReason::ProtocolViolation {
            decode_error: Some(DecodeError::ReservedPacketType(15)),
            ..
        }
    ));
}

// ---- DISCONNECT from the server ----

#[test]
fn mqtt_3_14_2_2_server_disconnect_has_no_session_expiry() {
    let mut c = connect("c1", false, 60);
    c.properties.session_expiry_interval = Some(600);
    let mut peer = ClientPeer::new(ServerConfig::default(), V5);
    peer.connect_accept(c, None, AcceptOptions::new());
    peer.conn
        .disconnect(peer.now, DisconnectReasonCode::ServerShuttingDown)
        .unwrap();
    let bytes = peer.received_raw();
    assert!(
        bytes == [0xE0, 0x01, 0x8B] || bytes == [0xE0, 0x02, 0x8B, 0x00],
        "{bytes:x?}"
    );
    assert_eq!(
        only_closed(&peer.events()),
        CloseReason::ByServer {
            reason_code: DisconnectReasonCode::ServerShuttingDown
        }
    );
    assert_eq!(peer.conn.state(), ServerState::Closed);
    // The session stays for its expiry.
    assert_eq!(peer.conn.session().unwrap().expiry_interval(), 600);
}

#[test]
fn server_disconnect_sends_the_code() {
    for code in [
        DisconnectReasonCode::NormalDisconnection,
        DisconnectReasonCode::AdministrativeAction,
        DisconnectReasonCode::UseAnotherServer,
        DisconnectReasonCode::MaximumConnectTime,
    ] {
        let mut peer = ClientPeer::connected(ServerConfig::default(), V5);
        peer.conn.disconnect(peer.now, code).unwrap();
        assert_eq!(
            peer.received(),
            [Packet::Disconnect(Disconnect::new(code))],
            "{code:?}"
        );
        assert_eq!(
            closed_and_ended(&peer.events()),
            CloseReason::ByServer { reason_code: code }
        );
        // Nothing after the DISCONNECT ([MQTT-3.14.4-1]).
        peer.send(Packet::PingReq);
        assert!(peer.received().is_empty());
        assert!(matches!(
            peer.conn.disconnect(peer.now, code),
            Err(ServerError::WrongState(_))
        ));
    }
}

#[test]
fn v311_server_disconnect_closes_without_a_packet() {
    let mut peer = ClientPeer::connected(ServerConfig::default(), V311);
    peer.conn
        .disconnect(peer.now, DisconnectReasonCode::ServerShuttingDown)
        .unwrap();
    assert!(peer.received_raw().is_empty());
    assert_eq!(
        closed_and_ended(&peer.events()),
        CloseReason::ByServer {
            reason_code: DisconnectReasonCode::ServerShuttingDown
        }
    );
}

#[test]
fn server_disconnect_with_will_message_code_is_refused() {
    let mut peer = ClientPeer::connected(ServerConfig::default(), V5);
    assert_eq!(
        peer.conn
            .disconnect(peer.now, DisconnectReasonCode::DisconnectWithWillMessage),
        Err(ServerError::ReasonNotAllowed)
    );
    assert!(peer.received().is_empty());
    assert!(peer.events().is_empty());
    assert_eq!(peer.conn.state(), ServerState::Connected);
}

#[test]
fn mqtt_3_14_0_1_no_disconnect_before_connack() {
    for version in BOTH {
        let mut peer = ClientPeer::new(ServerConfig::default(), version);
        // Before CONNECT.
        assert!(matches!(
            peer.conn
                .disconnect(peer.now, DisconnectReasonCode::ServerBusy),
            Err(ServerError::WrongState(_))
        ));
        // CONNECT unanswered.
        peer.send(connect("c1", true, 60));
        let request = peer.expect_connect();
        assert!(matches!(
            peer.conn
                .disconnect(peer.now, DisconnectReasonCode::ServerBusy),
            Err(ServerError::WrongState(_))
        ));
        assert!(peer.received_raw().is_empty());
        assert!(peer.events().is_empty());
        assert_eq!(peer.conn.state(), ServerState::AwaitingAnswer);
        // Refused with a CONNACK: still no DISCONNECT.
        peer.conn
            .reject(peer.now, request, ConnectReasonCode::ServerBusy)
            .unwrap();
        peer.received_raw();
        peer.events();
        assert!(matches!(
            peer.conn
                .disconnect(peer.now, DisconnectReasonCode::ServerBusy),
            Err(ServerError::WrongState(_))
        ));
        assert!(peer.received_raw().is_empty());
    }
}
