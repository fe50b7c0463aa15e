//! SUBSCRIBE and UNSUBSCRIBE through a [`ServerConnection`]: the requests the broker
//! answers, the SUBACK / UNSUBACK that follow, the subscriptions of the session, the
//! refusals the server configuration imposes and the broker's mistakes.
//!
//! Each test is named after the normative statement it checks (5.0 numbering; the 3.1.1
//! statement is named in the doc comment where it differs) and runs in both protocol
//! versions where the rule exists in both.

mod server_peer;

use mqtt_sansio::*;
use server_peer::*;

// ---- helpers ----

fn subscription(f: &str, qos: QoS) -> Subscription {
    Subscription::new(filter(f), qos)
}

/// The only event must be a Subscribe request.
fn subscribe_request(peer: &mut ClientPeer) -> SubscribeRequest {
    match peer.only_event("Subscribe") {
        ServerEvent::Subscribe(r) => r,
        other => panic!("expected Subscribe, got {other:?}"),
    }
}

/// The only event must be an Unsubscribe request.
fn unsubscribe_request(peer: &mut ClientPeer) -> UnsubscribeRequest {
    match peer.only_event("Unsubscribe") {
        ServerEvent::Unsubscribe(r) => r,
        other => panic!("expected Unsubscribe, got {other:?}"),
    }
}

/// Answers `request` removing every filter the session has.
fn remove_existing(peer: &mut ClientPeer, request: UnsubscribeRequest) {
    let results = request.remove_existing();
    peer.conn
        .answer_unsubscribe(peer.now, request, &results)
        .unwrap();
}

/// Subscribes to `filters` and grants all of them; returns the SUBACK codes.
fn subscribe_all(peer: &mut ClientPeer, id: u16, filters: &[(&str, QoS)]) -> Vec<SubAckReasonCode> {
    peer.send(Subscribe::new(
        pid(id),
        filters.iter().map(|(f, q)| subscription(f, *q)).collect(),
    ));
    let request = subscribe_request(peer);
    grant_all(peer, request);
    match peer.received().as_slice() {
        [Packet::SubAck(ack)] => ack.reason_codes.clone(),
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

/// The session's subscriptions: filter, granted options, identifier.
fn subscriptions(peer: &ClientPeer) -> Vec<(String, SubscriptionOptions, Option<u32>)> {
    peer.conn
        .session()
        .expect("session")
        .subscriptions()
        .map(|(f, g)| {
            (
                f.as_str().to_owned(),
                g.options,
                g.identifier.map(SubscriptionId::get),
            )
        })
        .collect()
}

fn suback(id: u16, codes: Vec<SubAckReasonCode>) -> Packet {
    Packet::SubAck(SubAck::new(pid(id), codes))
}

/// The UNSUBACK the client receives: 3.1.1 has no reason codes.
fn unsuback(version: ProtocolVersion, id: u16, codes: Vec<UnsubAckReasonCode>) -> Packet {
    let codes = if version == ProtocolVersion::V5 {
        codes
    } else {
        Vec::new()
    };
    Packet::UnsubAck(UnsubAck::new(pid(id), codes))
}

/// The client of `old` comes back on a new transport with Clean Start 0: the new
/// connection takes the session. Returns the new peer.
fn reconnect(old: &mut ClientPeer) -> ClientPeer {
    let session = old.conn.resume_session(old.now);
    assert!(session.is_some(), "the old connection holds no session");
    let mut peer = ClientPeer::new(ServerConfig::default(), old.version);
    let connack = peer.connect_accept(
        persistent_connect(old.version),
        session,
        AcceptOptions::new(),
    );
    assert!(connack.session_present);
    peer
}

/// The connection was closed for a malformed or refused packet: in 5.0 a DISCONNECT with
/// `code` went out (nothing in 3.1.1), Closed carries `code`, and no request reached the
/// broker.
fn assert_violation(peer: &mut ClientPeer, code: DisconnectReasonCode) {
    assert_violation_closes(
        peer,
        code,
        |e| matches!(e, ServerEvent::Subscribe(_) | ServerEvent::Unsubscribe(_)),
        "request reached the broker",
    );
}

// ---- SUBSCRIBE ----

/// [MQTT-3.8.4-1], [MQTT-3.8.4-2] (3.1.1: [MQTT-2.3.1-7]), [MQTT-3.8.4-6] (3.1.1:
/// [MQTT-3.8.4-5]), [MQTT-3.9.3-1]: the broker sees every filter with its options, in
/// order; granting all answers with a SUBACK of the same packet identifier and one code
/// per filter in the same order; the session holds the granted subscriptions.
#[test]
fn mqtt_3_8_4_2_and_3_8_4_6_and_3_9_3_1_suback_same_id_one_code_per_filter_in_order() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        let mut second = subscription("b/+/c", QoS::ExactlyOnce);
        if v == ProtocolVersion::V5 {
            second.options.no_local = true;
            second.options.retain_as_published = true;
            second.options.retain_handling = RetainHandling::DoNotSend;
        }
        let filters = vec![
            subscription("a/b", QoS::AtMostOnce),
            second.clone(),
            subscription("c/#", QoS::AtLeastOnce),
        ];
        peer.send(Subscribe::new(pid(77), filters.clone()));
        let request = subscribe_request(&mut peer);
        let seen: Vec<Subscription> = request
            .filters
            .iter()
            .map(|f| f.subscription.clone())
            .collect();
        assert_eq!(seen, filters, "{v:?}");
        assert!(
            request
                .filters
                .iter()
                .all(|f| !f.exists && f.refused.is_none())
        );
        assert_eq!(request.subscription_identifier(), None);
        assert_eq!(
            peer.received(),
            vec![],
            "{v:?}: SUBACK before the broker answered"
        );
        let grant = request.grant_all();
        let expected = vec![
            SubAckReasonCode::GrantedQoS0,
            SubAckReasonCode::GrantedQoS2,
            SubAckReasonCode::GrantedQoS1,
        ];
        assert_eq!(grant, expected);
        assert_eq!(
            peer.conn
                .answer_subscribe(peer.now, request, &grant)
                .map_err(|e| e.error),
            Ok(expected.clone())
        );
        assert_eq!(peer.received(), vec![suback(77, expected)], "{v:?}");
        let mut want = vec![
            ("a/b".to_owned(), filters[0].options, None),
            ("b/+/c".to_owned(), second.options, None),
            ("c/#".to_owned(), filters[2].options, None),
        ];
        want.sort_by(|a, b| a.0.cmp(&b.0));
        let mut have = subscriptions(&peer);
        have.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(have, want, "{v:?}");
    }
}

/// [MQTT-3.8.4-3]: a filter identical to one the session has replaces it: the request
/// says it `exists`, and the session holds one subscription with the new options.
#[test]
fn mqtt_3_8_4_3_identical_filter_replaces_the_subscription() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        assert_eq!(
            subscribe_all(&mut peer, 1, &[("a/b", QoS::AtMostOnce)]),
            vec![SubAckReasonCode::GrantedQoS0]
        );
        let mut again = subscription("a/b", QoS::ExactlyOnce);
        if v == ProtocolVersion::V5 {
            again.options.retain_handling = RetainHandling::SendAtSubscribeIfNew;
        }
        peer.send(Subscribe::new(
            pid(2),
            vec![again.clone(), subscription("new", QoS::AtMostOnce)],
        ));
        let request = subscribe_request(&mut peer);
        let exists: Vec<bool> = request.filters.iter().map(|f| f.exists).collect();
        assert_eq!(exists, vec![true, false], "{v:?}");
        grant_all(&mut peer, request);
        assert_eq!(
            peer.received(),
            vec![suback(
                2,
                vec![SubAckReasonCode::GrantedQoS2, SubAckReasonCode::GrantedQoS0]
            )]
        );
        assert_eq!(
            subscriptions(&peer),
            vec![
                ("a/b".to_owned(), again.options, None),
                (
                    "new".to_owned(),
                    SubscriptionOptions::new(QoS::AtMostOnce),
                    None
                ),
            ],
            "{v:?}"
        );
    }
}

/// [MQTT-3.2.2-10] (5.0): a server whose Maximum QoS is 1 still accepts a SUBSCRIBE for
/// QoS 2 (no DISCONNECT), and grants at most QoS 1; the session stores QoS 1. The cap
/// applies in 3.1.1 too ([MQTT-3.8.4-5] of 3.1.1: the code gives the granted QoS).
#[test]
fn mqtt_3_2_2_10_qos2_subscribe_accepted_and_capped_at_maximum_qos() {
    for v in BOTH {
        let mut config = ServerConfig::default();
        config.maximum_qos = QoS::AtLeastOnce;
        let mut peer = ClientPeer::connected(config, v);
        assert_eq!(
            subscribe_all(
                &mut peer,
                3,
                &[("x", QoS::ExactlyOnce), ("y", QoS::AtMostOnce)]
            ),
            vec![SubAckReasonCode::GrantedQoS1, SubAckReasonCode::GrantedQoS0],
            "{v:?}"
        );
        assert_eq!(peer.conn.state(), ServerState::Connected);
        let granted: Vec<QoS> = subscriptions(&peer).iter().map(|s| s.1.qos).collect();
        assert_eq!(granted, vec![QoS::AtLeastOnce, QoS::AtMostOnce], "{v:?}");
    }
}

/// 5.0 section 3.2.2.3.11: with Wildcard Subscription Available 0, a filter with a
/// wildcard is refused with 0xA2 whatever the broker answers (0x80 in 3.1.1, which has
/// one failure code); other filters of the same SUBSCRIBE are granted.
#[test]
fn v5_section_3_2_2_3_11_wildcard_unavailable_refused_with_0xa2() {
    for v in BOTH {
        let mut config = ServerConfig::default();
        config.wildcard_subscription_available = false;
        let mut peer = ClientPeer::connected(config, v);
        peer.send(Subscribe::new(
            pid(5),
            vec![
                subscription("a/+", QoS::AtLeastOnce),
                subscription("plain/topic", QoS::AtLeastOnce),
                subscription("#", QoS::AtMostOnce),
            ],
        ));
        let request = subscribe_request(&mut peer);
        let refused: Vec<Option<SubAckReasonCode>> =
            request.filters.iter().map(|f| f.refused).collect();
        let wildcard = Some(SubAckReasonCode::WildcardSubscriptionsNotSupported);
        assert_eq!(refused, vec![wildcard, None, wildcard]);
        let grant = request.grant_all();
        let codes = peer
            .conn
            .answer_subscribe(peer.now, request, &grant)
            .unwrap();
        let failure = match v {
            ProtocolVersion::V5 => SubAckReasonCode::WildcardSubscriptionsNotSupported,
            ProtocolVersion::V311 => SubAckReasonCode::UnspecifiedError,
        };
        let expected = vec![failure, SubAckReasonCode::GrantedQoS1, failure];
        assert_eq!(codes, expected, "{v:?}");
        assert_eq!(peer.received(), vec![suback(5, expected)], "{v:?}");
        let have: Vec<String> = subscriptions(&peer).into_iter().map(|s| s.0).collect();
        assert_eq!(have, vec!["plain/topic".to_owned()], "{v:?}");
    }
}

/// 5.0 section 3.2.2.3.13: with Shared Subscription Available 0, a shared filter is
/// refused with 0x9E whatever the broker answers.
#[test]
fn v5_section_3_2_2_3_13_shared_unavailable_refused_with_0x9e() {
    let mut config = ServerConfig::default();
    config.shared_subscription_available = false;
    let mut peer = ClientPeer::connected(config, ProtocolVersion::V5);
    peer.send(Subscribe::new(
        pid(6),
        vec![
            subscription("$share/g/a/b", QoS::AtLeastOnce),
            subscription("a/b", QoS::AtLeastOnce),
        ],
    ));
    let request = subscribe_request(&mut peer);
    assert_eq!(
        request.filters[0].refused,
        Some(SubAckReasonCode::SharedSubscriptionsNotSupported)
    );
    grant_all(&mut peer, request);
    assert_eq!(
        peer.received(),
        vec![suback(
            6,
            vec![
                SubAckReasonCode::SharedSubscriptionsNotSupported,
                SubAckReasonCode::GrantedQoS1
            ]
        )]
    );
    let have: Vec<String> = subscriptions(&peer).into_iter().map(|s| s.0).collect();
    assert_eq!(have, vec!["a/b".to_owned()]);
}

/// 5.0 section 3.2.2.3.12: with Subscription Identifier Available 0, a SUBSCRIBE with a
/// Subscription Identifier is DISCONNECT 0xA1; the broker never sees it.
#[test]
fn v5_section_3_2_2_3_12_subscription_identifier_unavailable_is_disconnect_0xa1() {
    let mut config = ServerConfig::default();
    config.subscription_identifiers_available = false;
    let (mut peer, connack) = {
        let mut peer = ClientPeer::new(config, ProtocolVersion::V5);
        let connack = peer.connect_accept(connect("c1", true, 60), None, AcceptOptions::new());
        (peer, connack)
    };
    assert_eq!(
        connack.properties.subscription_identifiers_available,
        Some(false)
    );
    // Without an identifier it is fine.
    subscribe_all(&mut peer, 1, &[("a", QoS::AtMostOnce)]);
    let mut s = Subscribe::new(pid(2), vec![subscription("b", QoS::AtMostOnce)]);
    s.properties.subscription_identifier = SubscriptionId::new(9);
    peer.send(s);
    assert_violation(
        &mut peer,
        DisconnectReasonCode::SubscriptionIdentifiersNotSupported,
    );
}

/// 5.0 section 3.8.2.1.2: the Subscription Identifier of the SUBSCRIBE is in the request
/// and stored with every subscription it made; a later SUBSCRIBE without one replaces it
/// with none ([MQTT-3.8.4-3]).
#[test]
fn v5_section_3_8_2_1_2_subscription_identifier_stored_with_the_subscription() {
    let mut peer = ClientPeer::connected(ServerConfig::default(), ProtocolVersion::V5);
    let mut s = Subscribe::new(
        pid(3),
        vec![
            subscription("a", QoS::AtLeastOnce),
            subscription("b/#", QoS::AtMostOnce),
        ],
    );
    s.properties.subscription_identifier = SubscriptionId::new(42);
    peer.send(s);
    let request = subscribe_request(&mut peer);
    assert_eq!(request.subscription_identifier(), SubscriptionId::new(42));
    grant_all(&mut peer, request);
    peer.received();
    let ids: Vec<Option<u32>> = subscriptions(&peer).iter().map(|s| s.2).collect();
    assert_eq!(ids, vec![Some(42), Some(42)]);
    subscribe_all(&mut peer, 4, &[("a", QoS::AtLeastOnce)]);
    let ids: Vec<(String, Option<u32>)> = subscriptions(&peer)
        .into_iter()
        .map(|s| (s.0, s.2))
        .collect();
    assert_eq!(
        ids,
        vec![("a".to_owned(), None), ("b/#".to_owned(), Some(42))]
    );
}

/// The broker's refusals reach the client as given in 5.0; 3.1.1 has one failure return
/// code, 0x80 ([MQTT-3.8.4-5] of 3.1.1), so every failure becomes 0x80. Refused filters are
/// not added to the session.
#[test]
fn mqtt_3_8_4_7_broker_failure_codes_and_v311_failure_0x80() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        peer.send(Subscribe::new(
            pid(8),
            vec![
                subscription("denied", QoS::AtLeastOnce),
                subscription("bad", QoS::AtLeastOnce),
                subscription("ok", QoS::AtLeastOnce),
            ],
        ));
        let request = subscribe_request(&mut peer);
        let answer = [
            SubAckReasonCode::NotAuthorized,
            SubAckReasonCode::QuotaExceeded,
            SubAckReasonCode::GrantedQoS1,
        ];
        let codes = peer
            .conn
            .answer_subscribe(peer.now, request, &answer)
            .unwrap();
        let expected = match v {
            ProtocolVersion::V5 => answer.to_vec(),
            ProtocolVersion::V311 => vec![
                SubAckReasonCode::UnspecifiedError,
                SubAckReasonCode::UnspecifiedError,
                SubAckReasonCode::GrantedQoS1,
            ],
        };
        assert_eq!(codes, expected, "{v:?}");
        assert_eq!(peer.received(), vec![suback(8, expected)], "{v:?}");
        let have: Vec<String> = subscriptions(&peer).into_iter().map(|s| s.0).collect();
        assert_eq!(have, vec!["ok".to_owned()]);
    }
}

/// An answer with a different number of results than the request has filters is
/// refused: Err(ResultCount), nothing sent, the session unchanged, and the request
/// comes back to be answered again.
#[test]
fn answer_subscribe_with_wrong_result_count_is_an_error() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        peer.send(Subscribe::new(
            pid(9),
            vec![
                subscription("a", QoS::AtMostOnce),
                subscription("b", QoS::AtMostOnce),
            ],
        ));
        let request = subscribe_request(&mut peer);
        let refused = peer
            .conn
            .answer_subscribe(peer.now, request, &[SubAckReasonCode::GrantedQoS0])
            .unwrap_err();
        assert_eq!(
            refused.error,
            ServerError::ResultCount {
                expected: 2,
                given: 1
            },
            "{v:?}"
        );
        assert_eq!(peer.received(), vec![]);
        assert!(subscriptions(&peer).is_empty());
        // The request came back: answered again, it gets its SUBACK.
        let request = refused.request;
        grant_all(&mut peer, request);
        assert!(
            matches!(peer.received().as_slice(), [Packet::SubAck(ack)] if ack.packet_id == pid(9))
        );
        assert_eq!(subscriptions(&peer).len(), 2);
        peer.send(Unsubscribe::new(pid(10), vec![filter("a")]));
        let request = unsubscribe_request(&mut peer);
        assert_eq!(
            peer.conn
                .answer_unsubscribe(peer.now, request, &[])
                .map_err(|e| e.error),
            Err(ServerError::ResultCount {
                expected: 1,
                given: 0
            })
        );
        assert_eq!(peer.received(), vec![]);
    }
}

/// A request of an earlier connection of the session is stale: answering it on the new
/// connection, or on the old one once the session moved, is Err(Stale), sends nothing and
/// changes no subscription.
#[test]
fn answer_to_a_request_of_an_earlier_connection_is_stale() {
    for v in BOTH {
        let mut old = persistent(ServerConfig::default(), v);
        old.send(Subscribe::new(
            pid(1),
            vec![subscription("a", QoS::AtMostOnce)],
        ));
        old.send(Subscribe::new(
            pid(2),
            vec![subscription("b", QoS::AtMostOnce)],
        ));
        old.send(Unsubscribe::new(pid(3), vec![filter("c")]));
        let mut requests = old.events().into_iter();
        let (Some(ServerEvent::Subscribe(first)), Some(ServerEvent::Subscribe(second))) =
            (requests.next(), requests.next())
        else {
            panic!("expected two Subscribe events")
        };
        let Some(ServerEvent::Unsubscribe(third)) = requests.next() else {
            panic!("expected Unsubscribe")
        };
        old.conn.handle_transport_close(old.now);
        old.events();
        let mut peer = reconnect(&mut old);
        assert_subscribe_answer_stale(&mut peer, first);
        assert_subscribe_answer_stale(&mut old, second);
        let results = third.remove_existing();
        assert_eq!(
            peer.conn
                .answer_unsubscribe(peer.now, third, &results)
                .map_err(|e| e.error),
            Err(ServerError::Stale)
        );
        assert_eq!(peer.received(), vec![]);
        assert_eq!(old.received(), vec![]);
        assert!(subscriptions(&peer).is_empty(), "{v:?}");
    }
}

// ---- UNSUBSCRIBE ----

/// [MQTT-3.10.4-1], [MQTT-3.10.4-4], [MQTT-3.10.4-5], [MQTT-3.11.3-1]: the request says
/// which filters the session has; removing those answers UNSUBACK with the same packet
/// identifier (5.0: 0x00 / 0x11 per filter, in order) and the subscriptions are gone;
/// filters that differ only by a character stay.
#[test]
fn mqtt_3_10_4_4_and_3_11_3_1_unsuback_same_id_codes_in_order_subscription_removed() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        subscribe_all(
            &mut peer,
            1,
            &[
                ("a/b", QoS::AtLeastOnce),
                ("c/#", QoS::AtMostOnce),
                ("a/b/", QoS::AtMostOnce),
            ],
        );
        peer.send(Unsubscribe::new(
            pid(31),
            vec![filter("a/b"), filter("x/y"), filter("c/#"), filter("a/+")],
        ));
        let request = unsubscribe_request(&mut peer);
        let exists: Vec<(String, bool)> = request
            .filters
            .iter()
            .map(|(f, e)| (f.as_str().to_owned(), *e))
            .collect();
        assert_eq!(
            exists,
            vec![
                ("a/b".to_owned(), true),
                ("x/y".to_owned(), false),
                ("c/#".to_owned(), true),
                ("a/+".to_owned(), false),
            ],
            "{v:?}"
        );
        assert_eq!(
            peer.received(),
            vec![],
            "UNSUBACK before the broker answered"
        );
        let results = request.remove_existing();
        let codes = vec![
            UnsubAckReasonCode::Success,
            UnsubAckReasonCode::NoSubscriptionExisted,
            UnsubAckReasonCode::Success,
            UnsubAckReasonCode::NoSubscriptionExisted,
        ];
        assert_eq!(results, codes);
        peer.conn
            .answer_unsubscribe(peer.now, request, &results)
            .unwrap();
        assert_eq!(peer.received(), vec![unsuback(v, 31, codes)], "{v:?}");
        let have: Vec<String> = subscriptions(&peer).into_iter().map(|s| s.0).collect();
        assert_eq!(have, vec!["a/b/".to_owned()], "{v:?}");
    }
}

/// [MQTT-3.10.4-5]: UNSUBACK goes out even when nothing was deleted (5.0: 0x11).
#[test]
fn mqtt_3_10_4_5_unsuback_even_when_nothing_existed() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        peer.send(Unsubscribe::new(
            pid(12),
            vec![filter("none/+"), filter("nothing")],
        ));
        let request = unsubscribe_request(&mut peer);
        assert!(request.filters.iter().all(|(_, exists)| !exists));
        remove_existing(&mut peer, request);
        assert_eq!(
            peer.received(),
            vec![unsuback(
                v,
                12,
                vec![
                    UnsubAckReasonCode::NoSubscriptionExisted,
                    UnsubAckReasonCode::NoSubscriptionExisted
                ]
            )],
            "{v:?}"
        );
    }
}

/// [MQTT-3.10.4-3]: QoS 1 and QoS 2 messages already in flight to the client for a filter
/// it unsubscribed from are completed: PUBACK completes the first, PUBREC still gets
/// PUBREL and PUBCOMP completes the second.
#[test]
fn mqtt_3_10_4_3_message_in_flight_completes_after_unsubscribe() {
    for v in BOTH {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        subscribe_all(&mut peer, 1, &[("news/#", QoS::ExactlyOnce)]);
        peer.conn
            .publish(peer.now, message("news/1", b"a", QoS::AtLeastOnce))
            .unwrap();
        peer.conn
            .publish(peer.now, message("news/2", b"b", QoS::ExactlyOnce))
            .unwrap();
        let ids: Vec<PacketId> = peer
            .received()
            .iter()
            .map(|p| match p {
                Packet::Publish(p) => p.packet_id().unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids.len(), 2);
        peer.send(Unsubscribe::new(pid(2), vec![filter("news/#")]));
        let request = unsubscribe_request(&mut peer);
        remove_existing(&mut peer, request);
        assert_eq!(
            peer.received(),
            vec![unsuback(v, 2, vec![UnsubAckReasonCode::Success])]
        );
        assert!(subscriptions(&peer).is_empty());
        assert_eq!(
            peer.conn.session().unwrap().in_flight(),
            2,
            "{v:?}: dropped early"
        );
        peer.send(PubAck::new(ids[0]));
        peer.send(PubRec::new(ids[1]));
        assert_eq!(
            peer.received(),
            vec![Packet::PubRel(PubRel::new(ids[1]))],
            "{v:?}"
        );
        assert_eq!(peer.conn.session().unwrap().in_flight(), 1);
        peer.send(PubComp::new(ids[1]));
        assert_eq!(peer.conn.session().unwrap().in_flight(), 0);
        assert!(peer.events().is_empty());
        assert_eq!(peer.conn.state(), ServerState::Connected);
    }
}

// ---- fixed-header flags ----

/// [MQTT-3.8.1-1]: a SUBSCRIBE whose fixed-header flags are not 0010 is malformed: the
/// connection is closed (5.0: DISCONNECT 0x81) and the broker never sees it.
#[test]
fn mqtt_3_8_1_1_subscribe_with_wrong_flags_closes_the_connection() {
    let cases: [(ProtocolVersion, &[u8]); 4] = [
        // flags 0000 and 0011, topic "a" QoS 0
        (ProtocolVersion::V311, b"\x80\x06\x00\x01\x00\x01a\x00"),
        (ProtocolVersion::V311, b"\x83\x06\x00\x01\x00\x01a\x00"),
        // flags 0000 and 1010, with an empty property block
        (ProtocolVersion::V5, b"\x80\x07\x00\x01\x00\x00\x01a\x00"),
        (ProtocolVersion::V5, b"\x8a\x07\x00\x01\x00\x00\x01a\x00"),
    ];
    for (v, bytes) in cases {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        peer.send_raw(bytes);
        assert_violation(&mut peer, DisconnectReasonCode::MalformedPacket);
    }
}

/// [MQTT-3.10.1-1]: an UNSUBSCRIBE whose fixed-header flags are not 0010 is malformed:
/// the connection is closed (5.0: DISCONNECT 0x81) and the broker never sees it.
#[test]
fn mqtt_3_10_1_1_unsubscribe_with_wrong_flags_closes_the_connection() {
    let cases: [(ProtocolVersion, &[u8]); 4] = [
        (ProtocolVersion::V311, b"\xa0\x05\x00\x01\x00\x01a"),
        (ProtocolVersion::V311, b"\xa3\x05\x00\x01\x00\x01a"),
        (ProtocolVersion::V5, b"\xa0\x06\x00\x01\x00\x00\x01a"),
        (ProtocolVersion::V5, b"\xa6\x06\x00\x01\x00\x00\x01a"),
    ];
    for (v, bytes) in cases {
        let mut peer = ClientPeer::connected(ServerConfig::default(), v);
        // The same bytes with the right flags are a valid UNSUBSCRIBE.
        let mut good = bytes.to_vec();
        good[0] = 0xa2;
        let mut control = ClientPeer::connected(ServerConfig::default(), v);
        control.send_raw(&good);
        unsubscribe_request(&mut control);
        peer.send_raw(bytes);
        assert_violation(&mut peer, DisconnectReasonCode::MalformedPacket);
    }
}
