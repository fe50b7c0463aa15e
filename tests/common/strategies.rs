//! proptest strategies for valid packets of every type, per protocol version.

use bytes::Bytes;
use mqtt_sansio::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use std::num::{NonZeroU16, NonZeroU32};

/// Every value of a reason code enum, found by trying every byte.
fn all_codes<T: TryFrom<u8> + Clone + std::fmt::Debug + 'static>() -> Vec<T> {
    (0..=255u8).filter_map(|b| T::try_from(b).ok()).collect()
}

fn codes<T: TryFrom<u8> + Clone + std::fmt::Debug + 'static>() -> impl Strategy<Value = T> {
    select(all_codes::<T>())
}

/// Text without U+0000, mixing ASCII, multi-byte characters and U+FEFF.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 /_.-]{0,12}",
        "[^\u{0}]{0,8}",
        Just("\u{feff}bom".to_owned()),
    ]
}

pub fn mqtt_string() -> impl Strategy<Value = MqttString> {
    text().prop_map(|s| MqttString::try_from(s).unwrap())
}

pub fn binary() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

fn level() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9]{0,6}", "[^\u{0}+#/]{1,4}", Just("$SYS".to_owned())]
}

pub fn topic_name() -> impl Strategy<Value = TopicName> {
    vec(level(), 1..5)
        .prop_map(|levels| levels.join("/"))
        .prop_filter("non-empty", |s| !s.is_empty())
        .prop_map(|s| TopicName::try_from(s).unwrap())
}

pub fn topic_filter(shared: bool) -> impl Strategy<Value = TopicFilter> {
    let level = prop_oneof![3 => level(), 1 => Just("+".to_owned())];
    (
        vec(level, 1..5),
        any::<bool>(),
        prop_oneof![Just(None), "[a-z]{1,5}".prop_map(Some)],
    )
        .prop_map(move |(mut levels, hash, share)| {
            if hash {
                levels.push("#".to_owned());
            }
            let filter = levels.join("/");
            match share {
                Some(name) if shared && !filter.is_empty() => format!("$share/{name}/{filter}"),
                _ => filter,
            }
        })
        .prop_filter("non-empty", |s| !s.is_empty())
        .prop_map(|s| TopicFilter::try_from(s).unwrap())
}

pub fn user_properties() -> impl Strategy<Value = UserProperties> {
    vec((mqtt_string(), mqtt_string()), 0..3).prop_map(|pairs| pairs.into_iter().collect())
}

fn packet_id() -> impl Strategy<Value = PacketId> {
    (1..=u16::MAX).prop_map(|v| PacketId::new(v).unwrap())
}

fn nz16() -> impl Strategy<Value = NonZeroU16> {
    (1..=u16::MAX).prop_map(|v| NonZeroU16::new(v).unwrap())
}

fn nz32() -> impl Strategy<Value = NonZeroU32> {
    (1..=u32::MAX).prop_map(|v| NonZeroU32::new(v).unwrap())
}

fn subscription_id() -> impl Strategy<Value = SubscriptionId> {
    prop_oneof![1..128u32, 1..=SubscriptionId::MAX_VALUE]
        .prop_map(|v| SubscriptionId::new(v).unwrap())
}

fn payload_format() -> impl Strategy<Value = PayloadFormat> {
    prop_oneof![Just(PayloadFormat::Unspecified), Just(PayloadFormat::Utf8)]
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        4 => vec(any::<u8>(), 0..40),
        1 => vec(any::<u8>(), 100..400),
    ]
    .prop_map(Bytes::from)
}

fn auth_method_and_data() -> impl Strategy<Value = (Option<MqttString>, Option<Bytes>)> {
    (option::of(mqtt_string()), option::of(binary())).prop_map(|(m, d)| match m {
        Some(m) => (Some(m), d),
        None => (None, None),
    })
}

fn connect_properties() -> impl Strategy<Value = ConnectProperties> {
    (
        option::of(any::<u32>()),
        option::of(nz16()),
        option::of(nz32()),
        option::of(any::<u16>()),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        auth_method_and_data(),
        user_properties(),
    )
        .prop_map(
            |(sei, rm, mps, tam, rri, rpi, (method, data), up)| ConnectProperties {
                session_expiry_interval: sei,
                receive_maximum: rm,
                maximum_packet_size: mps,
                topic_alias_maximum: tam,
                request_response_information: rri,
                request_problem_information: rpi,
                authentication_method: method,
                authentication_data: data,
                user_properties: up,
            },
        )
}

fn will_properties() -> impl Strategy<Value = WillProperties> {
    (
        option::of(payload_format()),
        option::of(any::<u32>()),
        option::of(mqtt_string()),
        option::of(topic_name()),
        option::of(binary()),
        option::of(any::<u32>()),
        user_properties(),
    )
        .prop_map(|(pfi, mei, ct, rt, cd, wdi, up)| WillProperties {
            payload_format_indicator: pfi,
            message_expiry_interval: mei,
            content_type: ct,
            response_topic: rt,
            correlation_data: cd,
            will_delay_interval: wdi,
            user_properties: up,
        })
}

fn connect(v5: bool) -> impl Strategy<Value = Packet> {
    let will = (
        topic_name(),
        binary(),
        qos(),
        any::<bool>(),
        will_properties(),
    )
        .prop_map(move |(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties: if v5 {
                properties.into()
            } else {
                PropertyBox::new()
            },
        });
    (
        any::<bool>(),
        any::<u16>(),
        mqtt_string(),
        option::of(will),
        option::of(mqtt_string()),
        option::of(binary()),
        connect_properties(),
    )
        .prop_map(
            move |(clean_start, keep_alive, client_id, will, username, password, properties)| {
                // 3.1.1 has no password without a user name.
                let password = if v5 || username.is_some() {
                    password
                } else {
                    None
                };
                Packet::from(Connect {
                    clean_start,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                    properties: if v5 {
                        properties.into()
                    } else {
                        PropertyBox::new()
                    },
                })
            },
        )
}

fn connack_properties() -> impl Strategy<Value = ConnAckProperties> {
    (
        (
            option::of(any::<u32>()),
            option::of(nz16()),
            option::of(prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce)]),
            option::of(any::<bool>()),
            option::of(nz32()),
            option::of(mqtt_string()),
            option::of(any::<u16>()),
            option::of(mqtt_string()),
        ),
        (
            user_properties(),
            option::of(any::<bool>()),
            option::of(any::<bool>()),
            option::of(any::<bool>()),
            option::of(any::<u16>()),
            option::of(mqtt_string()),
            option::of(mqtt_string()),
            auth_method_and_data(),
        ),
    )
        .prop_map(
            |(
                (sei, rm, mq, ra, mps, aci, tam, rs),
                (up, wsa, sia, ssa, ska, ri, sr, (method, data)),
            )| {
                ConnAckProperties {
                    session_expiry_interval: sei,
                    receive_maximum: rm,
                    maximum_qos: mq,
                    retain_available: ra,
                    maximum_packet_size: mps,
                    assigned_client_identifier: aci,
                    topic_alias_maximum: tam,
                    reason_string: rs,
                    user_properties: up,
                    wildcard_subscription_available: wsa,
                    subscription_identifiers_available: sia,
                    shared_subscription_available: ssa,
                    server_keep_alive: ska,
                    response_information: ri,
                    server_reference: sr,
                    authentication_method: method,
                    authentication_data: data,
                }
            },
        )
}

fn connack(v5: bool) -> impl Strategy<Value = Packet> {
    let reason = codes::<ConnectReasonCode>().prop_filter("3.1.1 return code", move |c| {
        v5 || c.v311_return_code().is_some()
    });
    (any::<bool>(), reason, connack_properties()).prop_map(move |(sp, reason_code, properties)| {
        Packet::from(ConnAck {
            session_present: sp && reason_code == ConnectReasonCode::Success,
            reason_code,
            properties: if v5 {
                properties.into()
            } else {
                PropertyBox::new()
            },
        })
    })
}

fn publish_properties() -> impl Strategy<Value = PublishProperties> {
    (
        option::of(payload_format()),
        option::of(any::<u32>()),
        option::of(nz16()),
        option::of(topic_name()),
        option::of(binary()),
        user_properties(),
        vec(subscription_id(), 0..3),
        option::of(mqtt_string()),
    )
        .prop_map(|(pfi, mei, ta, rt, cd, up, ids, ct)| PublishProperties {
            payload_format_indicator: pfi,
            message_expiry_interval: mei,
            topic_alias: ta,
            response_topic: rt,
            correlation_data: cd,
            user_properties: up,
            subscription_identifiers: ids.into_iter().collect(),
            content_type: ct,
        })
}

pub fn publish(v5: bool) -> impl Strategy<Value = Publish> {
    (
        any::<bool>(),
        qos(),
        packet_id(),
        any::<bool>(),
        topic_name(),
        any::<bool>(),
        publish_properties(),
        payload(),
    )
        .prop_map(
            move |(dup, qos, id, retain, topic, alias_only, properties, payload)| {
                let qos_pid = QosPid::new(qos, (qos != QoS::AtMostOnce).then_some(id)).unwrap();
                let properties: PropertyBox<_> = if v5 {
                    properties.into()
                } else {
                    PropertyBox::new()
                };
                // MQTT 5 may replace the topic with an alias.
                let topic = if alias_only && properties.topic_alias.is_some() {
                    TopicName::empty()
                } else {
                    topic
                };
                Publish {
                    dup: dup && qos != QoS::AtMostOnce,
                    qos_pid,
                    retain,
                    topic,
                    properties,
                    payload,
                }
            },
        )
}

fn ack_properties(v5: bool) -> impl Strategy<Value = PropertyBox<AckProperties>> {
    (option::of(mqtt_string()), user_properties()).prop_map(
        move |(reason_string, user_properties)| {
            if v5 {
                AckProperties {
                    reason_string,
                    user_properties,
                }
                .into()
            } else {
                PropertyBox::new()
            }
        },
    )
}

macro_rules! ack_strategy {
    ($name:ident, $ty:ident, $code:ident) => {
        fn $name(v5: bool) -> impl Strategy<Value = Packet> {
            (packet_id(), codes::<$code>(), ack_properties(v5)).prop_map(
                move |(packet_id, code, properties)| {
                    Packet::from($ty {
                        packet_id,
                        reason_code: if v5 { code } else { $code::Success },
                        properties,
                    })
                },
            )
        }
    };
}

ack_strategy!(puback, PubAck, PubAckReasonCode);
ack_strategy!(pubrec, PubRec, PubRecReasonCode);
ack_strategy!(pubrel, PubRel, PubRelReasonCode);
ack_strategy!(pubcomp, PubComp, PubCompReasonCode);

fn subscribe(v5: bool) -> impl Strategy<Value = Packet> {
    let retain_handling = prop_oneof![
        Just(RetainHandling::SendAtSubscribe),
        Just(RetainHandling::SendAtSubscribeIfNew),
        Just(RetainHandling::DoNotSend)
    ];
    let entry = (
        topic_filter(v5),
        qos(),
        any::<bool>(),
        any::<bool>(),
        retain_handling,
    )
        .prop_map(move |(filter, qos, nl, rap, rh)| {
            let options = if v5 {
                SubscriptionOptions {
                    qos,
                    no_local: nl && !filter.is_shared(),
                    retain_as_published: rap,
                    retain_handling: rh,
                }
            } else {
                SubscriptionOptions::new(qos)
            };
            Subscription { filter, options }
        });
    (
        packet_id(),
        option::of(subscription_id()),
        user_properties(),
        vec(entry, 1..5),
    )
        .prop_map(move |(packet_id, sid, up, filters)| {
            let properties = if v5 {
                SubscribeProperties {
                    subscription_identifier: sid,
                    user_properties: up,
                }
                .into()
            } else {
                PropertyBox::new()
            };
            Packet::from(Subscribe {
                packet_id,
                properties,
                filters,
            })
        })
}

fn suback(v5: bool) -> impl Strategy<Value = Packet> {
    let code = codes::<SubAckReasonCode>().prop_filter("3.1.1 code", move |c| {
        v5 || c.granted_qos().is_some() || *c == SubAckReasonCode::UnspecifiedError
    });
    (packet_id(), ack_properties(v5), vec(code, 1..6)).prop_map(
        |(packet_id, properties, reason_codes)| {
            Packet::from(SubAck {
                packet_id,
                properties,
                reason_codes,
            })
        },
    )
}

fn unsubscribe(v5: bool) -> impl Strategy<Value = Packet> {
    (packet_id(), user_properties(), vec(topic_filter(v5), 1..5)).prop_map(
        move |(packet_id, up, filters)| {
            let mut u = Unsubscribe::new(packet_id, filters);
            if v5 {
                u.properties.user_properties = up;
            }
            Packet::from(u)
        },
    )
}

fn unsuback(v5: bool) -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        ack_properties(v5),
        vec(codes::<UnsubAckReasonCode>(), 1..6),
    )
        .prop_map(move |(packet_id, properties, codes)| {
            Packet::from(UnsubAck {
                packet_id,
                properties,
                reason_codes: if v5 { codes } else { Vec::new() },
            })
        })
}

fn disconnect(v5: bool) -> impl Strategy<Value = Packet> {
    let props = (
        option::of(any::<u32>()),
        option::of(mqtt_string()),
        user_properties(),
        option::of(mqtt_string()),
    )
        .prop_map(|(sei, rs, up, sr)| DisconnectProperties {
            session_expiry_interval: sei,
            reason_string: rs,
            user_properties: up,
            server_reference: sr,
        });
    (codes::<DisconnectReasonCode>(), props).prop_map(move |(reason_code, properties)| {
        if v5 {
            Packet::from(Disconnect {
                reason_code,
                properties: properties.into(),
            })
        } else {
            Packet::from(Disconnect::default())
        }
    })
}

fn auth() -> impl Strategy<Value = Packet> {
    (
        codes::<AuthReasonCode>(),
        auth_method_and_data(),
        option::of(mqtt_string()),
        user_properties(),
    )
        .prop_map(
            |(reason_code, (method, data), reason_string, user_properties)| {
                let method = match (reason_code, method) {
                    (AuthReasonCode::Success, m) => m,
                    (_, Some(m)) => Some(m),
                    (_, None) => Some(MqttString::from_static("SCRAM-SHA-256").unwrap()),
                };
                let data = if method.is_some() { data } else { None };
                Packet::from(Auth {
                    reason_code,
                    properties: AuthProperties {
                        authentication_method: method,
                        authentication_data: data,
                        reason_string,
                        user_properties,
                    }
                    .into(),
                })
            },
        )
}

/// Any valid packet of `version`.
pub fn packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let v5 = version.is_v5();
    let mut options: Vec<BoxedStrategy<Packet>> = vec![
        connect(v5).boxed(),
        connack(v5).boxed(),
        publish(v5).prop_map(Packet::from).boxed(),
        puback(v5).boxed(),
        pubrec(v5).boxed(),
        pubrel(v5).boxed(),
        pubcomp(v5).boxed(),
        subscribe(v5).boxed(),
        suback(v5).boxed(),
        unsubscribe(v5).boxed(),
        unsuback(v5).boxed(),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        disconnect(v5).boxed(),
    ];
    if v5 {
        options.push(auth().boxed());
    }
    proptest::strategy::Union::new(options).boxed()
}

/// A protocol version.
pub fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V311), Just(ProtocolVersion::V5)]
}
