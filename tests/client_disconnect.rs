//! Client disconnection: DISCONNECT by either side, transport loss, protocol faults of the server.

mod peer;
use peer::*;

use mqtt_sansio::*;
use std::time::Duration;

fn by_client() -> Vec<Event> {
    only_disconnected(DisconnectReason::ByClient)
}

/// [MQTT-3.14.4-2] (3.1.1): after its DISCONNECT the client sends nothing more on
/// that connection.
#[test]
fn mqtt_3_14_4_1_v311_disconnect_byte_exact_then_silence() {
    let mut p = Peer::connected(ProtocolVersion::V311);
    p.client
        .disconnect(p.now, DisconnectReasonCode::NormalDisconnection, None)
        .unwrap();
    assert_eq!(p.sent_bytes(), vec![0xE0, 0x00]);
    assert_eq!(p.events(), by_client());
    assert_eq!(p.client.state(), State::Disconnected);
    assert_eq!(p.client.poll_timeout(), None);
    // Nothing more on that connection: no PINGREQ, commands wait for the next one.
    p.advance(Duration::from_secs(600));
    p.publish(message("t", b"x", QoS::AtLeastOnce));
    p.subscribe(vec![subscription("a", QoS::AtMostOnce)]);
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    assert_eq!(p.events(), vec![]);
}

#[test]
fn v5_disconnect_normal_0x00() {
    let mut p = Peer::connected(ProtocolVersion::V5);
    p.client
        .disconnect(p.now, DisconnectReasonCode::NormalDisconnection, None)
        .unwrap();
    assert_eq!(
        p.sent(),
        vec![Packet::Disconnect(Disconnect::new(
            DisconnectReasonCode::NormalDisconnection
        ))]
    );
    assert_eq!(p.events(), by_client());
    assert_eq!(p.client.state(), State::Disconnected);
}

#[test]
fn v5_disconnect_with_will_0x04() {
    let mut p = Peer::connected(ProtocolVersion::V5);
    p.client
        .disconnect(p.now, DisconnectReasonCode::DisconnectWithWillMessage, None)
        .unwrap();
    assert_eq!(p.sent_bytes(), vec![0xE0, 0x02, 0x04, 0x00]);
    assert_eq!(p.events(), by_client());
}

#[test]
fn v311_disconnect_with_will_closes_without_disconnect_packet() {
    // 3.1.1 has no "disconnect with Will": a DISCONNECT would discard the Will
    // ([MQTT-3.14.4-3]), so the only way to have it published is to close without one.
    let mut p = Peer::connected(ProtocolVersion::V311);
    p.client
        .disconnect(p.now, DisconnectReasonCode::DisconnectWithWillMessage, None)
        .unwrap();
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    assert_eq!(p.events(), by_client());
    assert_eq!(p.client.state(), State::Disconnected);
}

#[test]
fn v5_disconnect_carries_session_expiry() {
    for expiry in [0u32, 300, u32::MAX] {
        let mut p = Peer::connected_with(ProtocolVersion::V5, |c| c.session_expiry_interval = 60);
        p.client
            .disconnect(
                p.now,
                DisconnectReasonCode::NormalDisconnection,
                Some(expiry),
            )
            .unwrap();
        let mut expected = Disconnect::new(DisconnectReasonCode::NormalDisconnection);
        expected.properties.session_expiry_interval = Some(expiry);
        assert_eq!(p.sent(), vec![Packet::Disconnect(expected)], "{expiry}");
        assert_eq!(p.events(), by_client());
    }
    // Byte exact: e0 07 | 00 | 05 11 00 00 01 2c.
    let mut p = Peer::connected_with(ProtocolVersion::V5, |c| c.session_expiry_interval = 60);
    p.client
        .disconnect(p.now, DisconnectReasonCode::NormalDisconnection, Some(300))
        .unwrap();
    assert_eq!(
        p.sent_bytes(),
        vec![0xE0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x01, 0x2C]
    );
}

#[test]
fn session_expiry_on_disconnect_when_connect_had_zero_is_refused() {
    {
        let version = ProtocolVersion::V5;
        let mut p = Peer::connected(version);
        assert_eq!(
            p.client
                .disconnect(p.now, DisconnectReasonCode::NormalDisconnection, Some(10)),
            Err(StateError::SessionExpiryWasZero)
        );
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        assert_eq!(p.events(), vec![]);
        assert!(p.client.is_connected());
        // Zero is no change, so it is allowed.
        p.client
            .disconnect(p.now, DisconnectReasonCode::NormalDisconnection, Some(0))
            .unwrap();
        assert_eq!(p.events(), by_client());
    }
}

#[test]
fn session_expiry_on_disconnect_is_ignored_in_v311() {
    // 3.1.1 has no session expiry: the argument has nothing to override.
    let mut p = Peer::connected(ProtocolVersion::V311);
    p.client
        .disconnect(p.now, DisconnectReasonCode::NormalDisconnection, Some(10))
        .unwrap();
    assert_eq!(p.sent_bytes(), vec![0xE0, 0x00]);
    assert_eq!(p.events(), by_client());
}

#[test]
fn disconnect_without_a_connection_is_refused() {
    for version in VERSIONS {
        let mut p = Peer::with_version(version);
        assert_eq!(
            p.client
                .disconnect(p.now, DisconnectReasonCode::NormalDisconnection, None),
            Err(StateError::NotConnected)
        );
        p.connect();
        p.client
            .disconnect(p.now, DisconnectReasonCode::NormalDisconnection, None)
            .unwrap();
        p.events();
        assert_eq!(
            p.client
                .disconnect(p.now, DisconnectReasonCode::NormalDisconnection, None),
            Err(StateError::NotConnected)
        );
        assert_eq!(p.events(), vec![]);
    }
}

#[test]
fn disconnect_while_waiting_for_connack_ends_the_attempt() {
    for version in VERSIONS {
        let mut p = Peer::with_version(version);
        p.open();
        p.client
            .disconnect(p.now, DisconnectReasonCode::NormalDisconnection, None)
            .unwrap();
        assert_eq!(p.events(), by_client());
        assert_eq!(p.client.state(), State::Disconnected);
        assert_eq!(p.client.poll_timeout(), None);
        // A CONNACK still in the pipe changes nothing.
        p.send(connack(false));
        assert_eq!(p.events(), vec![]);
    }
}

// ---- DISCONNECT from the server ----

#[test]
fn v5_server_disconnect_surfaces_reason_string_and_reference() {
    let mut p = Peer::connected(ProtocolVersion::V5);
    let mut packet = Disconnect::new(DisconnectReasonCode::UseAnotherServer);
    packet.properties.reason_string = Some(s("rebalancing"));
    packet.properties.server_reference = Some(s("b.example:1883"));
    p.send(packet);
    assert_eq!(
        p.events(),
        only_disconnected(DisconnectReason::ByServer {
            reason_code: DisconnectReasonCode::UseAnotherServer,
            reason_string: Some(s("rebalancing")),
            server_reference: Some(s("b.example:1883")),
            user_properties: UserProperties::new(),
        })
    );
    assert_eq!(p.client.state(), State::Disconnected);
    // The client does not answer a DISCONNECT.
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
}

#[test]
fn v5_server_disconnect_reason_codes() {
    use DisconnectReasonCode::*;
    for code in [
        NormalDisconnection,
        UnspecifiedError,
        ServerShuttingDown,
        KeepAliveTimeout,
        SessionTakenOver,
        MessageRateTooHigh,
        AdministrativeAction,
        ServerMoved,
    ] {
        let mut p = Peer::connected(ProtocolVersion::V5);
        p.send(Disconnect::new(code));
        assert_eq!(
            p.events(),
            only_disconnected(DisconnectReason::ByServer {
                reason_code: code,
                reason_string: None,
                server_reference: None,
                user_properties: UserProperties::new(),
            }),
            "{code:?}"
        );
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    }
}

#[test]
fn mqtt_3_14_2_2_server_disconnect_with_session_expiry_is_a_protocol_error() {
    let mut p = Peer::connected(ProtocolVersion::V5);
    // e0 07 | 00 | 05 11 00 00 00 0a
    p.send_bytes(&[0xE0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x0A]);
    p.assert_violation(ReasonCode::ProtocolError);
}

#[test]
fn v311_server_disconnect_is_a_protocol_violation() {
    // Only the client sends DISCONNECT in 3.1.1.
    let mut p = Peer::connected(ProtocolVersion::V311);
    p.send_bytes(&[0xE0, 0x00]);
    let reason = disconnected(&p.events());
    assert!(
        matches!(reason, DisconnectReason::ProtocolViolation { .. }),
        "{reason:?}"
    );
    p.assert_violation_output(DisconnectReasonCode::ProtocolError);
}

// ---- transport loss ----

#[test]
fn transport_close_reports_once_and_keeps_the_session() {
    for version in VERSIONS {
        let mut p = Peer::keeping_session(version);
        p.connect();
        let id = p.publish(message("t", b"x", QoS::AtLeastOnce));
        // Not written before the transport died: those bytes are dropped.
        p.drop_transport();
        assert_eq!(p.client.poll_transmit(), None);
        assert_eq!(
            p.events(),
            only_disconnected(DisconnectReason::TransportClosed)
        );
        assert_eq!(p.client.state(), State::Disconnected);
        assert_eq!(p.client.poll_timeout(), None);
        p.drop_transport();
        assert_eq!(p.events(), vec![], "{version}: reported once");
        assert_eq!(p.client.stats().in_flight, 1);

        p.connect_with(connack(true));
        assert_eq!(
            p.sent_bytes(),
            publish_wire(version, 0x3A, "t", Some(1), b"x")
        );
        p.send(PubAck::new(pid(1)));
        assert_eq!(
            p.events(),
            vec![Event::Published {
                id,
                result: Ok(()),
                properties: PropertyBox::new(),
            }]
        );
    }
}

#[test]
fn transport_close_while_connecting() {
    for version in VERSIONS {
        let mut p = Peer::with_version(version);
        p.open();
        p.drop_transport();
        assert_eq!(
            p.events(),
            only_disconnected(DisconnectReason::TransportClosed)
        );
        assert_eq!(p.client.poll_timeout(), None);
        // Before any transport: nothing to report.
        let mut q = Peer::with_version(version);
        q.drop_transport();
        assert_eq!(q.events(), vec![]);
    }
}

// ---- protocol faults of the server ----

/// A PUBLISH whose Remaining Length runs to a fifth byte.
const BAD_VARINT: [u8; 6] = [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];

/// Feeds `input` to a connected client of `version`, which must end the connection
/// over a protocol violation with `code` (see `Peer::assert_violation`: 3.1.1 closes
/// without a packet, 5.0 sends DISCONNECT). Returns the client and the decode error.
fn violation_after(
    version: ProtocolVersion,
    input: &[u8],
    code: ReasonCode,
) -> (Peer, Option<DecodeError>) {
    let mut p = Peer::connected(version);
    p.send_bytes(input);
    let events = p.assert_violation(code);
    (p, violation_decode_error(&events))
}

/// `BAD_VARINT` ends the connection of a client of `version` as a malformed packet.
fn assert_bad_varint_is_malformed(version: ProtocolVersion) {
    let (p, error) = violation_after(version, &BAD_VARINT, ReasonCode::MalformedPacket);
    assert!(
        matches!(error, Some(DecodeError::MalformedVarInt { .. })),
        "{error:?}"
    );
    assert_eq!(p.client.state(), State::Disconnected);
}

#[test]
fn v311_malformed_packet_just_closes() {
    assert_bad_varint_is_malformed(ProtocolVersion::V311);
}

#[test]
fn v311_protocol_error_just_closes() {
    // QoS 0 with DUP 1.
    let input = [0x38, 0x03, 0x00, 0x01, b'a'];
    let (_, error) = violation_after(ProtocolVersion::V311, &input, ReasonCode::ProtocolError);
    assert_eq!(error, Some(DecodeError::DupWithQoS0));
}

#[test]
fn mqtt_4_13_1_1_v5_malformed_packet_sends_disconnect_0x81() {
    assert_bad_varint_is_malformed(ProtocolVersion::V5);
}

#[test]
fn mqtt_4_13_1_1_v5_protocol_error_sends_disconnect_0x82() {
    // QoS 0 with DUP 1: 38 04 | 00 01 'a' | 00.
    let input = [0x38, 0x04, 0x00, 0x01, b'a', 0x00];
    let (_, error) = violation_after(ProtocolVersion::V5, &input, ReasonCode::ProtocolError);
    assert_eq!(error, Some(DecodeError::DupWithQoS0));
}

#[test]
fn v5_malformed_ack_sends_disconnect_0x81() {
    let mut p = Peer::connected(ProtocolVersion::V5);
    // PUBACK with a reason code PUBACK does not have (0x04).
    p.send_bytes(&[0x40, 0x03, 0x00, 0x01, 0x04]);
    p.assert_violation(ReasonCode::MalformedPacket);
}

#[test]
fn bytes_after_a_fault_in_the_same_read_are_ignored() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        let mut input = publish_wire(version, 0x30, "ok", None, b"1");
        input.extend_from_slice(&BAD_VARINT);
        input.extend(publish_wire(version, 0x30, "after", None, b"2"));
        p.send_bytes(&input);
        let events = p.assert_violation(ReasonCode::MalformedPacket);
        let got = messages(&events);
        assert_eq!(got.len(), 1, "{version}: {events:?}");
        assert_eq!(got[0].topic.as_str(), "ok");
    }
}

#[test]
fn garbage_after_disconnected_is_ignored() {
    for version in VERSIONS {
        // After a fault of the server.
        let mut p = Peer::connected(version);
        p.send_bytes(&BAD_VARINT);
        p.events();
        p.sent_bytes();
        let stats = p.client.stats();
        for garbage in [&BAD_VARINT[..], &[0xFF; 64], &[0x20, 0x02, 0x00, 0x00]] {
            p.send_bytes(garbage);
            p.client.handle_timeout(p.now);
        }
        assert_eq!(p.events(), vec![], "{version}");
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        assert_eq!(p.client.state(), State::Disconnected);
        assert_eq!(p.client.stats(), stats);

        // After the client's own DISCONNECT.
        let mut p = Peer::connected(version);
        p.client
            .disconnect(p.now, DisconnectReasonCode::NormalDisconnection, None)
            .unwrap();
        p.events();
        p.sent_bytes();
        p.send_bytes(&[0xFF; 16]);
        p.send(publish("t", b"x", QosPid::AtMostOnce));
        assert_eq!(p.events(), vec![], "{version}");
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());

        // And the next connection starts from a clean receive buffer.
        p.connect();
        p.send(publish("t", b"x", QosPid::AtMostOnce));
        assert_eq!(messages(&p.events()).len(), 1);
    }
}

#[test]
fn disconnect_with_another_client_reason_code() {
    // 5.0: the code goes on the wire; 3.1.1 has no reason codes, so a plain DISCONNECT.
    for (version, wire) in [
        (ProtocolVersion::V5, vec![0xE0, 0x02, 0x83, 0x00]),
        (ProtocolVersion::V311, vec![0xE0, 0x00]),
    ] {
        let mut p = Peer::connected(version);
        let reason = DisconnectReasonCode::ImplementationSpecificError;
        p.client.disconnect(p.now, reason, None).unwrap();
        assert_eq!(p.sent_bytes(), wire, "{version}");
        assert_eq!(p.events(), by_client());
    }
}

#[test]
fn disconnect_with_a_server_only_reason_code_is_refused() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        for reason in [
            DisconnectReasonCode::ServerShuttingDown,
            DisconnectReasonCode::SessionTakenOver,
            DisconnectReasonCode::KeepAliveTimeout,
        ] {
            assert_eq!(
                p.client.disconnect(p.now, reason, None),
                Err(StateError::ServerOnlyReason(reason))
            );
        }
        assert!(p.sent_bytes().is_empty());
        assert!(p.client.is_connected());
    }
}

#[test]
fn a_server_disconnect_surfaces_its_user_properties() {
    let mut p = Peer::connected(ProtocolVersion::V5);
    let mut disconnect = Disconnect::new(DisconnectReasonCode::AdministrativeAction);
    disconnect
        .properties
        .user_properties
        .push(s("by"), s("operator"));
    p.send(disconnect);
    match disconnect_reasons(&p.events()).as_slice() {
        [
            DisconnectReason::ByServer {
                user_properties, ..
            },
        ] => assert_eq!(user_properties.get("by"), Some("operator")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_client_disconnect_carries_a_reason_string_and_user_properties() {
    let mut p = Peer::connected(ProtocolVersion::V5);
    let mut properties = DisconnectProperties::new();
    properties.reason_string = Some(s("shutting down"));
    properties.user_properties.push(s("node"), s("7"));
    p.client
        .disconnect_with_properties(p.now, DisconnectReasonCode::NormalDisconnection, properties)
        .unwrap();
    match p.sent().as_slice() {
        [Packet::Disconnect(d)] => {
            assert_eq!(d.properties.reason_string, Some(s("shutting down")));
            assert_eq!(d.properties.user_properties.get("node"), Some("7"));
        }
        other => panic!("{other:?}"),
    }
}
