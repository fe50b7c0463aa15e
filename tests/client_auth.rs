//! Enhanced authentication (MQTT 5.0 section 4.12): the AUTH exchange while
//! connecting, re-authentication while connected, and AUTH out of sequence.

mod peer;
use bytes::Bytes;
use mqtt_sansio::*;
use peer::*;
use std::time::Duration;

const V5: ProtocolVersion = ProtocolVersion::V5;

fn with_method() -> Peer {
    Peer::configured(V5, |c| {
        c.authentication_method = Some(s("SCRAM"));
        c.authentication_data = Some(Bytes::from_static(b"client-first"));
    })
}

fn auth(code: AuthReasonCode, method: &str, data: &'static [u8]) -> Auth {
    let mut auth = Auth::new(code);
    auth.properties.authentication_method = Some(s(method));
    auth.properties.authentication_data = Some(Bytes::from_static(data));
    auth
}

fn connack_with_method(method: &str) -> ConnAck {
    let mut props = ConnAckProperties::new();
    props.authentication_method = Some(s(method));
    connack_with_props(props)
}

/// The AUTH packets the client wrote since the last call.
fn sent_auths(p: &mut Peer) -> Vec<Auth> {
    p.sent()
        .into_iter()
        .map(|packet| match packet {
            Packet::Auth(a) => a,
            other => panic!("expected AUTH, got {other:?}"),
        })
        .collect()
}

/// The server accepts the connection being opened; returns what `Connected` said.
fn accept(p: &mut Peer, ack: ConnAck) -> Connected {
    p.send(ack);
    match p.events().as_slice() {
        [Event::Connected(c)] => c.clone(),
        other => panic!("expected only Connected, got {other:?}"),
    }
}

/// The server challenges with `server_data`; the client reports it and answers with
/// `answer`, which goes out as AUTH 0x18 with the same method ([MQTT-4.12.0-3],
/// [MQTT-4.12.0-5]).
fn challenge_and_answer(
    p: &mut Peer,
    server_data: &'static [u8],
    reauthentication: bool,
    answer: &'static [u8],
) {
    p.send(auth(
        AuthReasonCode::ContinueAuthentication,
        "SCRAM",
        server_data,
    ));
    assert_eq!(
        p.events(),
        vec![Event::AuthChallenge {
            data: Some(Bytes::from_static(server_data)),
            reauthentication
        }]
    );
    p.client
        .auth_continue(p.now, Some(Bytes::from_static(answer)))
        .unwrap();
    assert_eq!(
        sent_auths(p),
        vec![auth(
            AuthReasonCode::ContinueAuthentication,
            "SCRAM",
            answer
        )]
    );
}

/// A client that went through the exchange and is connected.
fn authenticated() -> Peer {
    let mut p = with_method();
    p.open();
    challenge_and_answer(&mut p, b"server-first", false, b"client-final");
    accept(&mut p, connack_with_method("SCRAM"));
    p
}

#[test]
fn mqtt_4_12_0_3_mqtt_4_12_0_5_the_exchange_while_connecting() {
    let mut p = with_method();
    let connect = p.open();
    assert_eq!(connect.properties.authentication_method, Some(s("SCRAM")));
    assert_eq!(
        connect.properties.authentication_data,
        Some(Bytes::from_static(b"client-first"))
    );
    challenge_and_answer(&mut p, b"server-first", false, b"client-final");
    let connected = accept(&mut p, connack_with_method("SCRAM"));
    assert_eq!(connected.properties.authentication_method, Some(s("SCRAM")));
}

#[test]
fn mqtt_4_12_0_5_an_auth_with_another_method_is_a_protocol_error() {
    let mut p = with_method();
    p.open();
    p.send(auth(AuthReasonCode::ContinueAuthentication, "OTHER", b"x"));
    p.assert_violation(ReasonCode::ProtocolError);
}

#[test]
fn mqtt_4_12_0_5_a_connack_with_another_or_no_method_is_a_protocol_error() {
    let mut p = with_method();
    p.open();
    p.send(connack_with_method("OTHER"));
    p.assert_violation(ReasonCode::ProtocolError);

    let mut p = with_method();
    p.open();
    p.send(connack(false));
    p.assert_violation(ReasonCode::ProtocolError);
}

#[test]
fn auth_out_of_sequence_is_a_protocol_error() {
    // Success arrives as CONNACK while connecting, never as AUTH.
    let mut p = with_method();
    p.open();
    p.send(auth(AuthReasonCode::Success, "SCRAM", b"x"));
    p.assert_violation(ReasonCode::ProtocolError);
    // A server never starts re-authentication.
    let mut p = authenticated();
    p.send(auth(AuthReasonCode::ContinueAuthentication, "SCRAM", b"x"));
    p.assert_violation(ReasonCode::ProtocolError);
    // Nor re-authenticates the client by itself.
    let mut p = authenticated();
    p.send(auth(AuthReasonCode::ReAuthenticate, "SCRAM", b"x"));
    p.assert_violation(ReasonCode::ProtocolError);
}

#[test]
fn mqtt_4_12_1_1_reauthentication_while_connected() {
    let mut p = authenticated();
    p.client
        .reauthenticate(p.now, Some(Bytes::from_static(b"again")))
        .unwrap();
    assert_eq!(
        sent_auths(&mut p),
        vec![auth(AuthReasonCode::ReAuthenticate, "SCRAM", b"again")]
    );
    assert_eq!(
        p.client.reauthenticate(p.now, None),
        Err(AuthError::NotReady),
        "one at a time"
    );
    challenge_and_answer(&mut p, b"challenge", true, b"answer");
    p.send(auth(AuthReasonCode::Success, "SCRAM", b"done"));
    assert_eq!(
        p.events(),
        vec![Event::Reauthenticated {
            data: Some(Bytes::from_static(b"done"))
        }]
    );
    assert!(p.client.is_connected());
    assert_eq!(
        p.client.poll_timeout(),
        Some(p.now + Duration::from_secs(60))
    );
}

#[test]
fn mqtt_4_12_1_2_an_unanswered_reauthentication_ends_the_connection() {
    let mut p = authenticated();
    p.client.reauthenticate(p.now, None).unwrap();
    p.sent();
    // The server keeps the link alive but never answers the AUTH.
    p.advance(Duration::from_secs(9));
    p.send_bytes(&[0xD0, 0x00]);
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.events(),
        vec![Event::Disconnected {
            reason: DisconnectReason::AuthTimeout
        }]
    );
    assert_eq!(p.sent_bytes(), vec![0xE0, 0x02, 0x80, 0x00]);
}

#[test]
fn authentication_commands_refused_out_of_place() {
    let mut p = Peer::connected(V5);
    assert_eq!(
        p.client.reauthenticate(p.now, None),
        Err(AuthError::NoMethod)
    );
    assert_eq!(
        p.client.auth_continue(p.now, None),
        Err(AuthError::NoMethod)
    );
    let mut p = authenticated();
    assert_eq!(
        p.client.auth_continue(p.now, None),
        Err(AuthError::NotChallenged)
    );
    // 3.1.1 has no enhanced authentication.
    let mut p = Peer::connected_with(ProtocolVersion::V311, |_| {});
    assert_eq!(
        p.client.reauthenticate(p.now, None),
        Err(AuthError::NoMethod)
    );
}

#[test]
fn a_bad_authentication_method_refusal_is_reported() {
    let mut p = with_method();
    p.open();
    let mut ack = connack(false);
    ack.reason_code = ConnectReasonCode::BadAuthenticationMethod;
    p.send(ack);
    assert_eq!(
        p.events(),
        vec![Event::Disconnected {
            reason: DisconnectReason::Refused {
                reason_code: ConnectReasonCode::BadAuthenticationMethod,
                reason_string: None,
                server_reference: None,
                user_properties: UserProperties::new(),
            }
        }]
    );
}

#[test]
fn a_reauthentication_deadline_shows_even_with_keep_alive_off() {
    let mut p = Peer::configured(V5, |c| {
        c.authentication_method = Some(s("SCRAM"));
        c.keep_alive = 0;
    });
    p.open();
    challenge_and_answer(&mut p, b"server-first", false, b"client-final");
    accept(&mut p, connack_with_method("SCRAM"));
    assert_eq!(p.client.poll_timeout(), None, "keep alive off: nothing due");
    p.client.reauthenticate(p.now, None).unwrap();
    // The CONNACK timeout (10 s) bounds the exchange, and the driver learns it.
    assert_eq!(
        p.client.poll_timeout(),
        Some(p.now + Duration::from_secs(10))
    );
    p.advance(Duration::from_secs(10));
    assert_eq!(
        p.events(),
        vec![Event::Disconnected {
            reason: DisconnectReason::AuthTimeout
        }]
    );
}
