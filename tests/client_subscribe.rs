//! Client subscriptions: SUBSCRIBE/UNSUBSCRIBE encoding, completions, tracking, faults of the server.

mod peer;
use peer::*;

use mqtt_sansio::*;

fn options(qos: QoS) -> SubscriptionOptions {
    SubscriptionOptions::new(qos)
}

fn tracked(p: &Peer) -> Vec<(String, SubscriptionOptions)> {
    p.client
        .subscriptions()
        .map(|(f, o)| (f.as_str().to_owned(), *o))
        .collect()
}

/// A connected client of `version` subscribed to "a" and "b" at `qos`, both granted
/// as asked; output and events drained.
fn subscribed_to_a_and_b(version: ProtocolVersion, qos: QoS) -> Peer {
    let mut p = Peer::connected(version);
    p.subscribe(vec![subscription("a", qos), subscription("b", qos)]);
    p.sent();
    let granted = match qos {
        QoS::AtMostOnce => SubAckReasonCode::GrantedQoS0,
        QoS::AtLeastOnce => SubAckReasonCode::GrantedQoS1,
        QoS::ExactlyOnce => SubAckReasonCode::GrantedQoS2,
    };
    p.send(SubAck::new(pid(1), vec![granted, granted]));
    p.events();
    p
}

/// The server sends UNSUBACK for `id`: in 5.0 with the one result `v5_result`; in
/// 3.1.1, which has no results, as its four bytes.
fn send_unsuback(p: &mut Peer, id: u16, v5_result: UnsubAckReasonCode) {
    if p.version.is_v5() {
        p.send(UnsubAck::new(pid(id), vec![v5_result]));
    } else {
        p.send_bytes(&ack_wire(0xB0, id));
    }
}

#[test]
fn subscribe_v311_byte_exact() {
    let mut p = Peer::connected(ProtocolVersion::V311);
    p.subscribe(vec![
        subscription("a/+", QoS::AtLeastOnce),
        subscription("b", QoS::ExactlyOnce),
    ]);
    let mut expected = vec![0x82, 0x0C, 0x00, 0x01];
    expected.extend_from_slice(&[0x00, 0x03, b'a', b'/', b'+', 0x01]);
    expected.extend_from_slice(&[0x00, 0x01, b'b', 0x02]);
    assert_eq!(p.sent_bytes(), expected);
}

#[test]
fn subscribe_v5_options_and_properties_encoded_as_asked() {
    let mut p = Peer::connected(ProtocolVersion::V5);
    let first = Subscription {
        filter: filter("a/+"),
        options: SubscriptionOptions {
            qos: QoS::AtLeastOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: RetainHandling::DoNotSend,
        },
    };
    let second = subscription("b", QoS::ExactlyOnce);
    let mut properties = SubscribeProperties::new();
    properties.subscription_identifier = SubscriptionId::new(7);
    properties.user_properties.push(s("k"), s("v"));
    p.client
        .subscribe_with_properties(
            p.now,
            vec![first.clone(), second.clone()],
            properties.clone(),
        )
        .unwrap();
    let bytes = p.sent_bytes();
    let mut expected = vec![0x82, 0x16, 0x00, 0x01];
    // Properties: Subscription Identifier 7, User Property ("k", "v").
    expected.extend_from_slice(&[0x09, 0x0B, 0x07, 0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v']);
    // QoS 1 | No Local 0x04 | Retain As Published 0x08 | Retain Handling 2 << 4.
    expected.extend_from_slice(&[0x00, 0x03, b'a', b'/', b'+', 0x2D]);
    expected.extend_from_slice(&[0x00, 0x01, b'b', 0x02]);
    assert_eq!(bytes, expected);

    // The same through the server's decoder.
    let mut decoder = Decoder::new(ProtocolVersion::V5);
    let mut buf = bytes::BytesMut::from(&bytes[..]);
    let mut sent = Subscribe::new(pid(1), vec![first, second]);
    sent.properties = properties.into();
    assert_eq!(
        decoder.decode(&mut buf).unwrap(),
        Some(Packet::Subscribe(sent))
    );
}

#[test]
fn v311_subscribe_refuses_v5_only_options() {
    let mut p = Peer::connected(ProtocolVersion::V311);
    let mut no_local = subscription("a", QoS::AtMostOnce);
    no_local.options.no_local = true;
    assert!(matches!(
        p.client.subscribe(p.now, vec![no_local]),
        Err(SubscribeError::Invalid(_))
    ));
    let mut properties = SubscribeProperties::new();
    properties.subscription_identifier = SubscriptionId::new(1);
    assert!(matches!(
        p.client.subscribe_with_properties(
            p.now,
            vec![subscription("a", QoS::AtMostOnce)],
            properties
        ),
        Err(SubscribeError::Invalid(_))
    ));
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    // Nothing was allocated: the next request still gets identifier 1.
    p.subscribe(vec![subscription("a", QoS::AtMostOnce)]);
    match p.sent().as_slice() {
        [Packet::Subscribe(s)] => assert_eq!(s.packet_id, pid(1)),
        other => panic!("{other:?}"),
    }
}

/// A SUBSCRIBE carries at least one filter ([MQTT-3.8.3-3] (3.1.1), [MQTT-3.8.3-2]
/// (5.0)), an UNSUBSCRIBE too ([MQTT-3.10.3-2]): the client refuses to send one without.
#[test]
fn subscribe_and_unsubscribe_need_a_filter() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        assert_eq!(
            p.client.subscribe(p.now, vec![]),
            Err(SubscribeError::NoFilters)
        );
        assert_eq!(
            p.client.unsubscribe(p.now, vec![]),
            Err(SubscribeError::NoFilters)
        );
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    }
}

#[test]
fn mqtt_3_9_3_1_subscribed_event_has_per_filter_results_and_tracking_follows() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        let mut granted = subscription("a/+", QoS::ExactlyOnce);
        if version.is_v5() {
            granted.options.no_local = true;
            granted.options.retain_handling = RetainHandling::SendAtSubscribeIfNew;
        }
        let granted_options = granted.options;
        let id = p.subscribe(vec![
            granted,
            subscription("denied", QoS::AtLeastOnce),
            subscription("c/#", QoS::AtMostOnce),
        ]);
        p.sent();
        assert_eq!(tracked(&p), vec![], "tracked only once granted");
        let results = vec![
            // Granted below what was asked.
            SubAckReasonCode::GrantedQoS1,
            SubAckReasonCode::UnspecifiedError,
            SubAckReasonCode::GrantedQoS0,
        ];
        p.send(SubAck::new(pid(1), results.clone()));
        assert_eq!(
            p.events(),
            vec![Event::Subscribed {
                id,
                results,
                properties: PropertyBox::new()
            }]
        );
        assert_eq!(
            tracked(&p),
            vec![
                ("a/+".to_owned(), granted_options),
                ("c/#".to_owned(), options(QoS::AtMostOnce)),
            ],
            "{version}"
        );
    }
}

#[test]
fn failed_resubscription_drops_the_filter() {
    let mut p = Peer::connected(ProtocolVersion::V5);
    p.subscribe(vec![subscription("x", QoS::AtLeastOnce)]);
    p.send(SubAck::new(pid(1), vec![SubAckReasonCode::GrantedQoS1]));
    assert_eq!(tracked(&p).len(), 1);
    let id = p.subscribe(vec![subscription("y", QoS::AtLeastOnce)]);
    p.send(SubAck::new(pid(2), vec![SubAckReasonCode::NotAuthorized]));
    let events = p.events();
    assert_eq!(
        events.last(),
        Some(&Event::Subscribed {
            id,
            results: vec![SubAckReasonCode::NotAuthorized],
            properties: PropertyBox::new(),
        })
    );
    assert_eq!(
        tracked(&p),
        vec![("x".to_owned(), options(QoS::AtLeastOnce))]
    );
}

#[test]
fn unsubscribe_completes_and_removes_tracking() {
    for version in VERSIONS {
        let mut p = subscribed_to_a_and_b(version, QoS::AtLeastOnce);

        let id = p.unsubscribe(vec![filter("a")]);
        let mut expected = vec![0xA2, 0x05, 0x00, 0x02];
        if version.is_v5() {
            expected[1] = 0x06;
            expected.push(0x00);
        }
        expected.extend_from_slice(&[0x00, 0x01, b'a']);
        assert_eq!(p.sent_bytes(), expected, "{version}");
        // Still tracked until UNSUBACK.
        assert_eq!(tracked(&p).len(), 2);
        send_unsuback(&mut p, 2, UnsubAckReasonCode::Success);
        assert_eq!(
            p.events(),
            vec![Event::Unsubscribed {
                id,
                results: vec![UnsubAckReasonCode::Success],
                properties: PropertyBox::new(),
            }]
        );
        assert_eq!(
            tracked(&p),
            vec![("b".to_owned(), options(QoS::AtLeastOnce))],
            "{version}"
        );
    }
}

#[test]
fn v5_unsubscribe_results_per_filter() {
    let mut p = subscribed_to_a_and_b(ProtocolVersion::V5, QoS::AtMostOnce);
    let id = p.unsubscribe(vec![filter("a"), filter("b"), filter("c")]);
    let results = vec![
        UnsubAckReasonCode::Success,
        UnsubAckReasonCode::NotAuthorized,
        UnsubAckReasonCode::NoSubscriptionExisted,
    ];
    p.send(UnsubAck::new(pid(2), results.clone()));
    assert_eq!(
        p.events(),
        vec![Event::Unsubscribed {
            id,
            results,
            properties: PropertyBox::new()
        }]
    );
    // "b" was refused, so the server still has it.
    assert_eq!(
        tracked(&p),
        vec![("b".to_owned(), options(QoS::AtMostOnce))]
    );
}

#[test]
fn mqtt_3_9_3_1_suback_with_wrong_number_of_codes_is_a_violation() {
    for version in VERSIONS {
        for codes in [
            vec![SubAckReasonCode::GrantedQoS0],
            vec![
                SubAckReasonCode::GrantedQoS0,
                SubAckReasonCode::GrantedQoS0,
                SubAckReasonCode::GrantedQoS0,
            ],
        ] {
            let mut p = Peer::connected(version);
            p.subscribe(vec![
                subscription("a", QoS::AtMostOnce),
                subscription("b", QoS::AtMostOnce),
            ]);
            p.sent();
            p.send(SubAck::new(pid(1), codes));
            let events = p.assert_violation(ReasonCode::ProtocolError);
            assert!(
                !events.iter().any(|e| matches!(e, Event::Subscribed { .. })),
                "{events:?}"
            );
            assert_eq!(tracked(&p), vec![]);
        }
    }
}

#[test]
fn mqtt_3_11_3_1_v5_unsuback_with_wrong_number_of_codes_is_a_violation() {
    let mut p = Peer::connected(ProtocolVersion::V5);
    p.unsubscribe(vec![filter("a"), filter("b")]);
    p.sent();
    p.send(UnsubAck::new(pid(1), vec![UnsubAckReasonCode::Success]));
    let events = p.assert_violation(ReasonCode::ProtocolError);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Unsubscribed { .. })),
        "{events:?}"
    );
}

#[test]
fn mqtt_3_8_4_2_suback_for_unknown_identifier_is_a_violation() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.subscribe(vec![subscription("a", QoS::AtMostOnce)]);
        p.sent();
        p.send(SubAck::new(pid(2), vec![SubAckReasonCode::GrantedQoS0]));
        p.assert_violation(ReasonCode::ProtocolError);
    }
}

#[test]
fn suback_answering_an_unsubscribe_is_a_violation() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        p.unsubscribe(vec![filter("a")]);
        p.sent();
        p.send(SubAck::new(pid(1), vec![SubAckReasonCode::GrantedQoS0]));
        assert_eq!(
            violation_code(&disconnected(&p.events())),
            ReasonCode::ProtocolError,
            "{version}"
        );
    }
}

#[test]
fn unsuback_for_unknown_identifier_is_a_violation() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        send_unsuback(&mut p, 3, UnsubAckReasonCode::Success);
        p.assert_violation(ReasonCode::ProtocolError);
    }
}

#[test]
fn subscribe_while_disconnected_goes_out_after_connack() {
    for version in VERSIONS {
        let mut p = Peer::with_version(version);
        let sub = p.subscribe(vec![subscription("a", QoS::AtLeastOnce)]);
        let unsub = p.unsubscribe(vec![filter("z")]);
        assert_eq!(p.client.poll_transmit(), None);
        // Not before CONNACK either.
        p.open();
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        p.send(connack(false));
        assert!(matches!(p.events().as_slice(), [Event::Connected(_)]));
        match p.sent().as_slice() {
            [Packet::Subscribe(s), Packet::Unsubscribe(u)] => {
                assert_eq!(s.packet_id, pid(1));
                assert_eq!(s.filters, vec![subscription("a", QoS::AtLeastOnce)]);
                assert_eq!(u.packet_id, pid(2));
                assert_eq!(u.filters, vec![filter("z")]);
            }
            other => panic!("{version}: {other:?}"),
        }
        p.send(SubAck::new(pid(1), vec![SubAckReasonCode::GrantedQoS1]));
        send_unsuback(&mut p, 2, UnsubAckReasonCode::NoSubscriptionExisted);
        let unsub_result = if version.is_v5() {
            UnsubAckReasonCode::NoSubscriptionExisted
        } else {
            UnsubAckReasonCode::Success
        };
        assert_eq!(
            p.events(),
            vec![
                Event::Subscribed {
                    id: sub,
                    results: vec![SubAckReasonCode::GrantedQoS1],
                    properties: PropertyBox::new(),
                },
                Event::Unsubscribed {
                    id: unsub,
                    results: vec![unsub_result],
                    properties: PropertyBox::new(),
                }
            ]
        );
        assert_eq!(
            tracked(&p),
            vec![("a".to_owned(), options(QoS::AtLeastOnce))]
        );
    }
}

#[test]
fn unacknowledged_subscribe_is_sent_again_on_the_next_connection() {
    for version in VERSIONS {
        let mut p = Peer::connected(version);
        let id = p.subscribe(vec![subscription("a", QoS::AtLeastOnce)]);
        assert_eq!(p.sent().len(), 1);
        p.drop_transport();
        p.events();
        p.connect();
        match p.sent().as_slice() {
            [Packet::Subscribe(s)] => assert_eq!(s.packet_id, pid(1)),
            other => panic!("{version}: {other:?}"),
        }
        p.send(SubAck::new(pid(1), vec![SubAckReasonCode::GrantedQoS1]));
        assert_eq!(
            p.events(),
            vec![Event::Subscribed {
                id,
                results: vec![SubAckReasonCode::GrantedQoS1],
                properties: PropertyBox::new(),
            }]
        );
    }
}

#[test]
fn suback_reason_string_and_user_properties_are_surfaced() {
    let mut p = Peer::connected(ProtocolVersion::V5);
    let id = p.subscribe(vec![subscription("a", QoS::AtLeastOnce)]);
    p.sent();
    let mut ack = SubAck::new(pid(1), vec![SubAckReasonCode::NotAuthorized]);
    ack.properties.reason_string = Some(s("no"));
    ack.properties.user_properties.push(s("who"), s("admin"));
    p.send(ack.clone());
    assert_eq!(
        p.events(),
        vec![Event::Subscribed {
            id,
            results: vec![SubAckReasonCode::NotAuthorized],
            properties: ack.properties,
        }]
    );
}

#[test]
fn unsubscribe_carries_user_properties() {
    let mut p = Peer::connected(ProtocolVersion::V5);
    let mut properties = UnsubscribeProperties::new();
    properties.user_properties.push(s("why"), s("done"));
    p.client
        .unsubscribe_with_properties(p.now, vec![filter("a")], properties)
        .unwrap();
    match p.sent().as_slice() {
        [Packet::Unsubscribe(u)] => {
            assert_eq!(u.properties.user_properties.get("why"), Some("done"))
        }
        other => panic!("{other:?}"),
    }
}
