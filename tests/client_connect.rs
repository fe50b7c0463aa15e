//! Client connection setup: the CONNECT it builds, CONNACK handling and the server limits.

mod peer;
use peer::*;

use bytes::Bytes;
use mqtt_sansio::*;
use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

// ---- CONNECT ----

#[test]
fn mqtt_3_1_0_1_first_packet_is_connect_byte_exact() {
    let mut p = Peer::with_version(ProtocolVersion::V311);
    p.client.handle_transport_open(p.now).unwrap();
    let mut expected = vec![
        0x10, 0x17, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00,
    ];
    expected.extend_from_slice(&[0x3c, 0x00, 0x0b]);
    expected.extend_from_slice(b"test-client");
    assert_eq!(p.sent_bytes(), expected);

    let mut p = Peer::with_version(ProtocolVersion::V5);
    p.client.handle_transport_open(p.now).unwrap();
    let mut expected = vec![
        0x10, 0x18, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00,
    ];
    expected.extend_from_slice(&[0x3c, 0x00, 0x00, 0x0b]);
    expected.extend_from_slice(b"test-client");
    assert_eq!(p.sent_bytes(), expected);
}

/// The Will of `full_config`: QoS 1, retained, and in 5.0 a Will Delay Interval.
fn full_will(version: ProtocolVersion) -> Will {
    let mut will = Will::new(topic("status/device-7"), Bytes::from_static(b"gone"));
    will.qos = QoS::AtLeastOnce;
    will.retain = true;
    if version.is_v5() {
        will.properties.will_delay_interval = Some(5);
    }
    will
}

fn full_config(version: ProtocolVersion) -> ClientConfig {
    let mut config = ClientConfig::new(version, s("device-7"));
    config.clean_start = false;
    config.keep_alive = 42;
    config.username = Some(s("alice"));
    config.password = Some(Bytes::from_static(b"s3cret"));
    config.will = Some(full_will(version));
    config.session_expiry_interval = 3600;
    config.receive_maximum = NonZeroU16::new(20).unwrap();
    config.maximum_packet_size = NonZeroU32::new(4096);
    config.topic_alias_maximum = 8;
    config.request_response_information = true;
    config.request_problem_information = Some(false);
    config.user_properties.push(s("region"), s("eu"));
    config.user_properties.push(s("region"), s("west"));
    config
}

fn expected_connect(version: ProtocolVersion) -> Connect {
    let mut connect = Connect::new(s("device-7"));
    connect.clean_start = false;
    connect.keep_alive = 42;
    connect.username = Some(s("alice"));
    connect.password = Some(Bytes::from_static(b"s3cret"));
    connect.will = Some(full_will(version));
    if version.is_v5() {
        let mut user = UserProperties::new();
        user.push(s("region"), s("eu"));
        user.push(s("region"), s("west"));
        connect.properties = ConnectProperties {
            session_expiry_interval: Some(3600),
            receive_maximum: NonZeroU16::new(20),
            maximum_packet_size: NonZeroU32::new(4096),
            topic_alias_maximum: Some(8),
            request_response_information: Some(true),
            request_problem_information: Some(false),
            user_properties: user,
            ..ConnectProperties::new()
        }
        .into();
    }
    connect
}

#[test]
fn connect_carries_every_config_field() {
    for version in VERSIONS {
        let mut p = Peer::new(full_config(version));
        let connect = p.open();
        assert_eq!(connect, expected_connect(version), "{version}");
    }
}

#[test]
fn connect_v5_leaves_default_properties_out() {
    let mut p = Peer::with_version(ProtocolVersion::V5);
    let connect = p.open();
    // Session expiry 0, receive maximum 65,535, no size limit, topic alias maximum 0
    // and no requests are the protocol defaults: nothing to send.
    assert!(connect.properties.is_empty(), "{:?}", connect.properties);
    assert!(connect.clean_start);
    assert_eq!(connect.keep_alive, 60);
    assert_eq!(connect.will, None);
    assert_eq!(connect.username, None);
    assert_eq!(connect.password, None);
}

#[test]
fn connect_with_empty_client_id_reports_assigned_id() {
    let config = ClientConfig::new(ProtocolVersion::V5, MqttString::default());
    let mut p = Peer::new(config);
    let connect = p.open();
    assert!(connect.client_id.is_empty());
    let mut props = ConnAckProperties::new();
    props.assigned_client_identifier = Some(s("auto-123"));
    p.send(connack_with_props(props));
    match p.events().as_slice() {
        [Event::Connected(c)] => assert_eq!(c.assigned_client_id, Some(s("auto-123"))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn mqtt_3_1_3_7_v311_empty_client_id_needs_clean_session() {
    let mut config = ClientConfig::new(ProtocolVersion::V311, MqttString::default());
    config.clean_start = false;
    assert_eq!(
        Client::new(config).unwrap_err(),
        ConfigError::EmptyClientIdWithoutCleanSession
    );
}

#[test]
fn transport_open_twice_is_refused() {
    for version in VERSIONS {
        let mut p = Peer::with_version(version);
        p.open();
        assert_eq!(
            p.client.handle_transport_open(p.now),
            Err(StateError::AlreadyConnected)
        );
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        p.send(connack(false));
        p.events();
        assert_eq!(
            p.client.handle_transport_open(p.now),
            Err(StateError::AlreadyConnected)
        );
    }
}

// ---- CONNACK timeout ----

#[test]
fn connack_timeout_closes_the_connection() {
    for version in VERSIONS {
        let mut p = Peer::configured(version, |c| c.connack_timeout = Duration::from_secs(3));
        p.open();
        assert_eq!(p.client.state(), State::Connecting);
        assert_eq!(p.client.poll_timeout(), Some(Instant::from_secs(3)));

        p.advance(Duration::from_millis(2999));
        assert_eq!(p.events(), vec![]);
        assert_eq!(p.client.state(), State::Connecting);

        p.advance(Duration::from_millis(1));
        assert_eq!(
            p.events(),
            only_disconnected(DisconnectReason::ConnAckTimeout)
        );
        assert_eq!(p.client.state(), State::Disconnected);
        assert_eq!(p.client.poll_timeout(), None);

        // A CONNACK arriving late, on the dead transport, changes nothing.
        p.send(connack(false));
        assert_eq!(p.events(), vec![]);
        assert_eq!(p.client.state(), State::Disconnected);
    }
}

// ---- refused CONNACK ----

/// The events of a connection refused with `reason_code` and no properties.
fn refused(reason_code: ConnectReasonCode) -> Vec<Event> {
    only_disconnected(DisconnectReason::Refused {
        reason_code,
        reason_string: None,
        server_reference: None,
        user_properties: UserProperties::new(),
    })
}

#[test]
fn refused_connack_v311_every_return_code() {
    for code in 1..=5u8 {
        let mut p = Peer::with_version(ProtocolVersion::V311);
        p.open();
        p.send_bytes(&[0x20, 0x02, 0x00, code]);
        let expected = ConnectReasonCode::from_v311_return_code(code).unwrap();
        assert_eq!(p.events(), refused(expected), "return code {code}");
        assert_eq!(p.client.state(), State::Disconnected);
        assert!(!p.client.is_connected());
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    }
}

#[test]
fn mqtt_4_13_2_1_refused_connack_v5_reason_codes() {
    use ConnectReasonCode::*;
    for code in [
        UnspecifiedError,
        MalformedPacket,
        ProtocolError,
        UnsupportedProtocolVersion,
        ClientIdentifierNotValid,
        BadUserNameOrPassword,
        NotAuthorized,
        ServerUnavailable,
        ServerBusy,
        Banned,
        QuotaExceeded,
        ConnectionRateExceeded,
    ] {
        let mut p = Peer::with_version(ProtocolVersion::V5);
        p.open();
        p.send(ConnAck::new(code));
        assert_eq!(p.events(), refused(code), "{code:?}");
        assert_eq!(p.client.state(), State::Disconnected);
        // The connection is over: no DISCONNECT follows a refusal.
        assert_eq!(p.sent_bytes(), Vec::<u8>::new(), "{code:?}");
    }
}

#[test]
fn refused_connack_v5_carries_reason_string_and_server_reference() {
    let mut p = Peer::with_version(ProtocolVersion::V5);
    p.open();
    let mut ack = ConnAck::new(ConnectReasonCode::UseAnotherServer);
    ack.properties.reason_string = Some(s("maintenance"));
    ack.properties.server_reference = Some(s("other.example:1883"));
    p.send(ack);
    assert_eq!(
        p.events(),
        only_disconnected(DisconnectReason::Refused {
            reason_code: ConnectReasonCode::UseAnotherServer,
            reason_string: Some(s("maintenance")),
            server_reference: Some(s("other.example:1883")),
            user_properties: UserProperties::new(),
        })
    );
}

// ---- accepted CONNACK ----

#[test]
fn accepted_connack_v311_reports_defaults() {
    let mut p = Peer::with_version(ProtocolVersion::V311);
    let connected = p.connect();
    assert!(!connected.session_present);
    assert_eq!(connected.assigned_client_id, None);
    assert_eq!(connected.keep_alive, 60);
    assert_eq!(connected.limits, ServerLimits::default());
    assert_eq!(p.client.limits(), &ServerLimits::default());
    assert_eq!(p.client.state(), State::Connected);
    assert!(p.client.is_connected());
}

#[test]
fn accepted_connack_v5_reports_every_server_limit() {
    let mut p = Peer::with_version(ProtocolVersion::V5);
    let mut props = ConnAckProperties::new();
    props.receive_maximum = NonZeroU16::new(10);
    props.maximum_qos = Some(QoS::AtLeastOnce);
    props.retain_available = Some(false);
    props.maximum_packet_size = NonZeroU32::new(1000);
    props.assigned_client_identifier = Some(s("given-id"));
    props.topic_alias_maximum = Some(5);
    props.wildcard_subscription_available = Some(false);
    props.subscription_identifiers_available = Some(false);
    props.shared_subscription_available = Some(false);
    props.server_keep_alive = Some(30);
    props.response_information = Some(s("resp/"));
    props.user_properties.push(s("k"), s("v"));
    let c = p.assert_connects(connack_with_props(props.clone()));
    assert!(!c.session_present);
    assert_eq!(c.assigned_client_id, Some(s("given-id")));
    assert_eq!(c.keep_alive, 30);
    let l = c.limits;
    assert_eq!(l.receive_maximum, 10);
    assert_eq!(l.maximum_qos, QoS::AtLeastOnce);
    assert!(!l.retain_available);
    assert_eq!(l.maximum_packet_size, Some(1000));
    assert_eq!(l.topic_alias_maximum, 5);
    assert!(!l.wildcard_subscription_available);
    assert!(!l.subscription_identifiers_available);
    assert!(!l.shared_subscription_available);
    assert_eq!(l.server_keep_alive, Some(30));
    assert_eq!(p.client.limits(), &l);
    assert_eq!(*c.properties, props);
}

#[test]
fn accepted_connack_v5_without_properties_gives_protocol_defaults() {
    let mut p = Peer::with_version(ProtocolVersion::V5);
    let c = p.connect();
    let l = c.limits;
    assert_eq!(l.receive_maximum, 65535);
    assert_eq!(l.maximum_qos, QoS::ExactlyOnce);
    assert!(l.retain_available);
    assert_eq!(l.maximum_packet_size, None);
    assert_eq!(l.topic_alias_maximum, 0);
    assert!(l.wildcard_subscription_available);
    assert!(l.subscription_identifiers_available);
    assert!(l.shared_subscription_available);
    assert_eq!(l.server_keep_alive, None);
    assert_eq!(c.keep_alive, 60);
}

#[test]
fn accepted_connack_reports_session_present() {
    for version in VERSIONS {
        let mut p = Peer::keeping_session(version);
        let c = p.assert_connects(connack(true));
        assert!(c.session_present, "{version}");
        assert!(p.client.is_connected());
    }
}

// ---- commands refused by the server's limits ----

/// A 5.0 client, connected to a server whose CONNACK carries the properties that `set`
/// fills in.
fn connect_v5_with(set: impl FnOnce(&mut ConnAckProperties)) -> Peer {
    let mut props = ConnAckProperties::new();
    set(&mut props);
    let mut p = Peer::with_version(ProtocolVersion::V5);
    p.assert_connects(connack_with_props(props));
    p
}

#[test]
fn mqtt_3_2_2_11_publish_above_maximum_qos_refused() {
    for maximum in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        let mut p = connect_v5_with(|props| props.maximum_qos = Some(maximum));
        for requested in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
            if requested <= maximum {
                continue;
            }
            let result = p.client.publish(p.now, message("t", b"x", requested));
            assert_eq!(
                result,
                Err(PublishError::QoSNotSupported { requested, maximum })
            );
        }
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        assert_eq!(p.events(), vec![]);
        // At the maximum it goes.
        p.publish(message("t", b"x", maximum));
        assert_eq!(p.sent().len(), 1);
    }
}

#[test]
fn mqtt_3_2_2_11_queued_publish_above_new_maximum_qos_fails() {
    // Queued while disconnected, then the server that accepts the connection only does
    // QoS 1: the QoS 2 message is never sent and completes as not allowed.
    let mut p = Peer::with_version(ProtocolVersion::V5);
    let q2 = p.publish(message("t", b"2", QoS::ExactlyOnce));
    let q1 = p.publish(message("t", b"1", QoS::AtLeastOnce));
    let events = p.connect_with(connack_with_props(ConnAckProperties {
        maximum_qos: Some(QoS::AtLeastOnce),
        ..ConnAckProperties::new()
    }));
    assert_eq!(
        published(&events),
        vec![(
            q2,
            Err(qos_not_supported(QoS::ExactlyOnce, QoS::AtLeastOnce))
        )]
    );
    let sent = p.sent();
    assert_eq!(sent.len(), 1);
    let Packet::Publish(publish) = &sent[0] else {
        panic!("{sent:?}");
    };
    assert_eq!(publish.qos(), QoS::AtLeastOnce);
    assert_eq!(&publish.payload[..], b"1");
    p.send(PubAck::new(publish.packet_id().unwrap()));
    assert_eq!(published(&p.events()), vec![(q1, Ok(()))]);
}

#[test]
fn mqtt_3_2_2_14_retain_refused_when_retain_unavailable() {
    let mut p = connect_v5_with(|props| props.retain_available = Some(false));
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut m = message("t", b"x", qos);
        m.retain = true;
        assert_eq!(
            p.client.publish(p.now, m),
            Err(PublishError::RetainNotSupported)
        );
    }
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    assert_eq!(p.events(), vec![]);
    p.publish(message("t", b"x", QoS::AtMostOnce));
    assert_eq!(p.sent().len(), 1);
}

#[test]
fn mqtt_3_2_2_15_publish_larger_than_server_maximum_refused() {
    let mut p = connect_v5_with(|props| props.maximum_packet_size = NonZeroU32::new(30));
    // QoS 1, topic "t": 2 header + 3 topic + 2 id + 1 property length + payload.
    let fits = Message::new(topic("t"), Bytes::from(vec![b'a'; 22]), QoS::AtLeastOnce);
    let too_big = Message::new(topic("t"), Bytes::from(vec![b'a'; 23]), QoS::AtLeastOnce);
    assert_eq!(
        p.client.publish(p.now, too_big),
        Err(PublishError::PacketTooLarge {
            size: 31,
            maximum: 30
        })
    );
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    p.publish(fits);
    assert_eq!(p.sent_bytes().len(), 30);
}

#[test]
fn mqtt_3_2_2_15_subscribe_larger_than_server_maximum_refused() {
    let mut p = connect_v5_with(|props| props.maximum_packet_size = NonZeroU32::new(30));
    // 2 header + 2 id + 1 property length + 2 length + filter + 1 options.
    let long = "a".repeat(23);
    assert_eq!(
        p.client
            .subscribe(p.now, vec![subscription(&long, QoS::AtMostOnce)]),
        Err(SubscribeError::PacketTooLarge {
            size: 31,
            maximum: 30
        })
    );
    assert_eq!(
        p.client.unsubscribe(p.now, vec![filter(&"b".repeat(30))]),
        Err(SubscribeError::PacketTooLarge {
            size: 37,
            maximum: 30
        })
    );
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    let fits = "a".repeat(22);
    p.subscribe(vec![subscription(&fits, QoS::AtMostOnce)]);
    assert_eq!(p.sent_bytes().len(), 30);
}

#[test]
fn wildcard_subscription_refused_when_unavailable() {
    let mut p = connect_v5_with(|props| props.wildcard_subscription_available = Some(false));
    for f in ["a/+", "a/#", "#"] {
        assert_eq!(
            p.client.subscribe(
                p.now,
                vec![
                    subscription("plain", QoS::AtMostOnce),
                    subscription(f, QoS::AtMostOnce),
                ]
            ),
            Err(SubscribeError::WildcardsNotSupported),
            "{f}"
        );
    }
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    p.subscribe(vec![subscription("plain", QoS::AtMostOnce)]);
    assert_eq!(p.sent().len(), 1);
}

#[test]
fn shared_subscription_refused_when_unavailable() {
    let mut p = connect_v5_with(|props| props.shared_subscription_available = Some(false));
    assert_eq!(
        p.client
            .subscribe(p.now, vec![subscription("$share/g/a", QoS::AtMostOnce)]),
        Err(SubscribeError::SharedNotSupported)
    );
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    p.subscribe(vec![subscription("a", QoS::AtMostOnce)]);
    assert_eq!(p.sent().len(), 1);
}

#[test]
fn subscription_identifier_refused_when_unavailable() {
    let mut p = connect_v5_with(|props| props.subscription_identifiers_available = Some(false));
    let properties = SubscribeProperties {
        subscription_identifier: SubscriptionId::new(7),
        ..SubscribeProperties::new()
    };
    assert_eq!(
        p.client.subscribe_with_properties(
            p.now,
            vec![subscription("a", QoS::AtMostOnce)],
            properties
        ),
        Err(SubscribeError::SubscriptionIdentifiersNotSupported)
    );
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    p.subscribe(vec![subscription("a", QoS::AtMostOnce)]);
    assert_eq!(p.sent().len(), 1);
}

// ---- protocol violations around CONNACK ----

#[test]
fn mqtt_3_2_0_1_packet_before_connack_is_a_violation() {
    for version in VERSIONS {
        let mut p = Peer::with_version(version);
        p.open();
        p.send(publish("t", b"x", QosPid::AtMostOnce));
        let events = p.assert_violation(ReasonCode::ProtocolError);
        assert!(messages(&events).is_empty(), "{events:?}");
        assert_eq!(p.client.state(), State::Disconnected);
    }
}

/// [MQTT-3.2.2-4] (5.0): a client without session state (it asked for Clean Start)
/// that gets Session Present 1 closes the connection; 3.1.1 says the same, unnumbered.
#[test]
fn mqtt_3_2_2_4_session_present_after_clean_start_closes() {
    for version in VERSIONS {
        let mut p = Peer::with_version(version);
        p.open();
        p.send(connack(true));
        let events = p.assert_violation(ReasonCode::ProtocolError);
        assert!(
            !events.iter().any(|e| matches!(e, Event::Connected(_))),
            "{events:?}"
        );
        assert_eq!(p.client.state(), State::Disconnected);
    }
}

#[test]
fn mqtt_3_2_0_2_second_connack_is_a_violation() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.send(connack(false));
        let events = p.assert_violation(ReasonCode::ProtocolError);
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(p.client.state(), State::Disconnected);
    }
}

#[test]
fn mqtt_4_12_0_6_auth_from_the_server_without_a_method_in_connect_is_a_protocol_error() {
    // The client sent no Authentication Method, so no AUTH may come: here one with
    // reason 0x18 and Authentication Method "x".
    let mut p = Peer::connected(ProtocolVersion::V5);
    p.send_bytes(&[0xF0, 0x06, 0x18, 0x04, 0x15, 0x00, 0x01, b'x']);
    p.assert_violation(ReasonCode::ProtocolError);
}
