//! The `roundtrip` target: valid packets of every type and version, built from the
//! input with [`arbitrary`], must encode, decode to themselves and be incomplete at
//! every strict prefix.
//!
//! The generator builds only what the specifications allow, field by field: strings
//! without U+0000 or surrogates (any other code point, U+FEFF and noncharacters
//! included), topic names without wildcards, well-placed wildcards and shared
//! subscriptions in filters, non-zero packet identifiers, no identifier at QoS 0, DUP
//! only above QoS 0, the reason codes of each packet type (the 3.1.1 subset in 3.1.1),
//! every MQTT 5 property of each packet type with values in range, repeated User
//! Properties and Subscription Identifiers, and neither properties nor AUTH in 3.1.1.
//! Rarely, strings and binary fields of up to 65,535 bytes and payloads around the
//! Remaining Length boundaries of 16,384 and 2,097,152 bytes. When the input runs out,
//! every choice takes its first, cheapest value, so a short input still gives a valid
//! packet.

use crate::codec::{
    AckProperties, Auth, AuthProperties, AuthReasonCode, ConnAck, ConnAckProperties, Connect,
    ConnectProperties, ConnectReasonCode, Decoder, Disconnect, DisconnectProperties,
    DisconnectReasonCode, Packet, PayloadFormat, PropertyBox, PropertySet, PubAck,
    PubAckReasonCode, PubComp, PubCompReasonCode, PubRec, PubRecReasonCode, PubRel,
    PubRelReasonCode, Publish, PublishProperties, SubAck, SubAckReasonCode, Subscribe,
    SubscribeProperties, Subscription, SubscriptionIds, UnsubAck, UnsubAckReasonCode, Unsubscribe,
    UnsubscribeProperties, UserProperties, Will, WillProperties,
};
use crate::string::MqttString;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{
    PacketId, ProtocolVersion, QoS, QosPid, RetainHandling, SubscriptionId, SubscriptionOptions,
};
use alloc::string::String;
use alloc::vec::Vec;
use arbitrary::{Result, Unstructured};
use bytes::{Bytes, BytesMut};
use core::fmt::Debug;
use core::num::{NonZeroU16, NonZeroU32};

/// The longest UTF-8 string or binary field: its length is a two-byte integer.
const MAX_FIELD: usize = 65_535;

/// True once in `n` choices; false when the input has run out.
fn one_in(u: &mut Unstructured<'_>, n: u8) -> Result<bool> {
    Ok(u.int_in_range(1..=n)? == n)
}

/// `Some` half of the time; `None` when the input has run out.
fn maybe<T>(
    u: &mut Unstructured<'_>,
    f: impl FnOnce(&mut Unstructured<'_>) -> Result<T>,
) -> Result<Option<T>> {
    if u.arbitrary::<bool>()? {
        f(u).map(Some)
    } else {
        Ok(None)
    }
}

/// A value the generator built, which must be valid: a failure is a generator bug.
fn built<T, E: Debug>(value: core::result::Result<T, E>, what: &str) -> T {
    match value {
        Ok(v) => v,
        Err(e) => panic!("the generator built an invalid {what}: {e:?}"),
    }
}

/// Which characters a piece of text may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Chars {
    /// Every character but U+0000 (surrogates cannot be `char`s).
    Any,
    /// Also without `/`, `+` and `#`: one level of a topic name, a filter or a share
    /// name.
    Level,
}

/// One character: mostly plain ASCII, and every UTF-8 length, U+FEFF, noncharacters
/// and control characters now and then.
fn char_of(u: &mut Unstructured<'_>, chars: Chars) -> Result<char> {
    let c = match u.int_in_range(0..=9u8)? {
        0..=4 => char::from(*u.choose(b"abcdefxyz0129-_. $")?),
        5 => char::from(u.int_in_range(1..=0x7Fu8)?),
        6 => char::from_u32(u.int_in_range(0x80..=0x7FFu32)?).unwrap_or('\u{e9}'),
        // `from_u32` refuses the surrogates D800 to DFFF.
        7 => char::from_u32(u.int_in_range(0x800..=0xFFFFu32)?).unwrap_or('\u{20ac}'),
        8 => char::from_u32(u.int_in_range(0x1_0000..=0x10_FFFFu32)?).unwrap_or('\u{1f600}'),
        _ => *u.choose(&[
            '\u{feff}',
            '\u{fffe}',
            '\u{ffff}',
            '\u{10ffff}',
            '\u{7f}',
            '\u{80}',
            '\u{9f}',
            '\u{1}',
            '\u{d7ff}',
            '\u{e000}',
            '/',
            '+',
            '#',
        ])?,
    };
    Ok(match c {
        '/' | '+' | '#' if chars == Chars::Level => '_',
        c => c,
    })
}

/// Text of at most `budget` bytes: usually up to a dozen characters, rarely one
/// character repeated up to the budget.
fn text(u: &mut Unstructured<'_>, chars: Chars, budget: usize) -> Result<String> {
    let mut s = String::new();
    let n = u.int_in_range(0..=255u8)?;
    if n == 255 {
        let c = char_of(u, chars)?;
        let count = u.int_in_range(0..=budget / c.len_utf8())?;
        s.extend(core::iter::repeat_n(c, count));
        return Ok(s);
    }
    for _ in 0..n % 13 {
        let c = char_of(u, chars)?;
        if s.len() + c.len_utf8() > budget {
            break;
        }
        s.push(c);
    }
    Ok(s)
}

fn mqtt_string(u: &mut Unstructured<'_>) -> Result<MqttString> {
    Ok(built(
        MqttString::try_from(text(u, Chars::Any, MAX_FIELD)?),
        "string",
    ))
}

/// Binary data: usually a few bytes of the input, rarely up to 65,535 bytes.
fn binary(u: &mut Unstructured<'_>) -> Result<Bytes> {
    let n = u.int_in_range(0..=255u8)?;
    if n == 255 {
        let len = u.int_in_range(0..=MAX_FIELD)?;
        let fill = u.arbitrary::<u8>()?;
        return Ok(Bytes::from(alloc::vec![fill; len]));
    }
    let len = usize::from(n % 32).min(u.len());
    Ok(Bytes::copy_from_slice(u.bytes(len)?))
}

/// A PUBLISH payload: usually up to 200 bytes of the input, rarely large enough for a
/// Remaining Length of two, three or four bytes.
fn payload(u: &mut Unstructured<'_>) -> Result<Bytes> {
    let n = u.int_in_range(0..=255u8)?;
    if n == 255 {
        let base = *u.choose(&[120usize, 16_200, 2_096_900])?;
        let len = base + u.int_in_range(0..=300usize)?;
        let fill = u.arbitrary::<u8>()?;
        return Ok(Bytes::from(alloc::vec![fill; len]));
    }
    let len = usize::from(n).min(u.len());
    Ok(Bytes::copy_from_slice(u.bytes(len)?))
}

/// One level of a topic name or filter, `$SYS` and empty levels included, never
/// `$share` (which would make a filter a shared subscription by accident).
fn level(u: &mut Unstructured<'_>, first: bool, budget: usize) -> Result<String> {
    let level = match u.int_in_range(0..=7u8)? {
        0..=5 => text(u, Chars::Level, budget)?,
        6 if first && budget >= 4 => String::from("$SYS"),
        _ => String::new(),
    };
    Ok(if first && level == "$share" {
        String::from("$shar")
    } else {
        level
    })
}

/// Appends `/` and then one piece of at most the returned budget, unless the string is
/// full: `None` then.
fn next_level(s: &mut String, i: u8) -> Option<usize> {
    if i > 0 {
        if s.len() >= MAX_FIELD {
            return None;
        }
        s.push('/');
    }
    Some(MAX_FIELD - s.len())
}

fn topic_name(u: &mut Unstructured<'_>) -> Result<TopicName> {
    let mut s = String::new();
    for i in 0..u.int_in_range(1..=5u8)? {
        let Some(budget) = next_level(&mut s, i) else {
            break;
        };
        s.push_str(&level(u, i == 0, budget)?);
    }
    if s.is_empty() {
        s.push('t');
    }
    Ok(built(TopicName::try_from(s), "topic name"))
}

/// A topic filter: levels, `+` levels, a final `#`, and one time in eight a shared
/// subscription `$share/{name}/{filter}` (in 3.1.1 an ordinary filter that happens to
/// begin with `$share`).
fn topic_filter(u: &mut Unstructured<'_>) -> Result<TopicFilter> {
    let mut s = String::new();
    if one_in(u, 8)? {
        s.push_str("$share/");
        let name = text(u, Chars::Level, 64)?;
        s.push_str(if name.is_empty() { "g" } else { &name });
        s.push('/');
    }
    let start = s.len();
    for i in 0..u.int_in_range(1..=5u8)? {
        let Some(budget) = next_level(&mut s, i) else {
            break;
        };
        match u.int_in_range(0..=9u8)? {
            // A wildcard needs one byte of the budget: a filter that reached the
            // longest string ends there (found by the roundtrip target itself).
            7 | 8 if budget > 0 => s.push('+'),
            9 if budget > 0 => {
                s.push('#');
                break;
            }
            _ => s.push_str(&level(u, start == s.len(), budget)?),
        }
    }
    if s.len() == start {
        s.push('f');
    }
    Ok(built(TopicFilter::try_from(s), "topic filter"))
}

/// Up to four User Properties, rarely up to twenty; a name is sometimes the one before.
fn user_properties(u: &mut Unstructured<'_>) -> Result<UserProperties> {
    let n = match u.int_in_range(0..=15u8)? {
        15 => u.int_in_range(5..=20u8)?,
        n => n % 5,
    };
    let mut list: Vec<(MqttString, MqttString)> = Vec::new();
    for _ in 0..n {
        let name = match list.last() {
            Some((name, _)) if u.arbitrary::<bool>()? => name.clone(),
            _ => mqtt_string(u)?,
        };
        list.push((name, mqtt_string(u)?));
    }
    Ok(list.into_iter().collect())
}

fn packet_id(u: &mut Unstructured<'_>) -> Result<PacketId> {
    Ok(PacketId::new(u.int_in_range(1..=u16::MAX)?).unwrap_or(PacketId::MIN))
}

fn nz16(u: &mut Unstructured<'_>) -> Result<NonZeroU16> {
    Ok(NonZeroU16::new(u.int_in_range(1..=u16::MAX)?).unwrap_or(NonZeroU16::MIN))
}

fn nz32(u: &mut Unstructured<'_>) -> Result<NonZeroU32> {
    Ok(NonZeroU32::new(u.int_in_range(1..=u32::MAX)?).unwrap_or(NonZeroU32::MIN))
}

/// A Subscription Identifier whose Variable Byte Integer takes one to four bytes.
fn subscription_id(u: &mut Unstructured<'_>) -> Result<SubscriptionId> {
    let range = *u.choose(&[
        (1, 0x7F),
        (0x80, 0x3FFF),
        (0x4000, 0x1F_FFFF),
        (0x20_0000, SubscriptionId::MAX_VALUE),
    ])?;
    let value = u.int_in_range(range.0..=range.1)?;
    Ok(built(
        SubscriptionId::new(value).ok_or(value),
        "subscription identifier",
    ))
}

fn qos(u: &mut Unstructured<'_>) -> Result<QoS> {
    Ok(*u.choose(&[QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])?)
}

fn payload_format(u: &mut Unstructured<'_>) -> Result<PayloadFormat> {
    Ok(*u.choose(&[PayloadFormat::Unspecified, PayloadFormat::Utf8])?)
}

/// One of the codes `from_byte` accepts: the reason codes of one packet type.
fn code<T>(u: &mut Unstructured<'_>, from_byte: fn(u8) -> Option<T>) -> Result<T> {
    let valid = || (0..=255u8).filter_map(from_byte);
    let n = valid().count();
    let i = u.choose_index(n)?;
    Ok(built(valid().nth(i).ok_or(i), "reason code"))
}

/// Authentication Method and Data: Data only with a Method.
fn auth_pair(
    u: &mut Unstructured<'_>,
    method_required: bool,
) -> Result<(Option<MqttString>, Option<Bytes>)> {
    let method = if method_required {
        Some(mqtt_string(u)?)
    } else {
        maybe(u, mqtt_string)?
    };
    let data = match method {
        Some(_) => maybe(u, binary)?,
        None => None,
    };
    Ok((method, data))
}

fn connect(u: &mut Unstructured<'_>, v5: bool) -> Result<Packet> {
    let client_id = mqtt_string(u)?;
    // [MQTT-3.1.3-7] (3.1.1): a zero-byte client identifier goes with a clean session.
    let clean_start = u.arbitrary::<bool>()? || (!v5 && client_id.is_empty());
    let keep_alive = u.arbitrary()?;
    let will = maybe(u, |u| {
        Ok(Will {
            topic: topic_name(u)?,
            payload: binary(u)?,
            qos: qos(u)?,
            retain: u.arbitrary()?,
            properties: v5_properties(u, v5, will_properties)?,
        })
    })?;
    let username = maybe(u, mqtt_string)?;
    // [MQTT-3.1.2-22] (3.1.1): no password without a user name.
    let password = if v5 || username.is_some() {
        maybe(u, binary)?
    } else {
        None
    };
    let properties = v5_properties(u, v5, connect_properties)?;
    Ok(Packet::from(Connect {
        clean_start,
        keep_alive,
        client_id,
        will,
        username,
        password,
        properties,
    }))
}

fn connect_properties(u: &mut Unstructured<'_>) -> Result<ConnectProperties> {
    let (authentication_method, authentication_data) = auth_pair(u, false)?;
    Ok(ConnectProperties {
        session_expiry_interval: maybe(u, |u| u.arbitrary())?,
        receive_maximum: maybe(u, nz16)?,
        maximum_packet_size: maybe(u, nz32)?,
        topic_alias_maximum: maybe(u, |u| u.arbitrary())?,
        request_response_information: maybe(u, |u| u.arbitrary())?,
        request_problem_information: maybe(u, |u| u.arbitrary())?,
        authentication_method,
        authentication_data,
        user_properties: user_properties(u)?,
    })
}

fn will_properties(u: &mut Unstructured<'_>) -> Result<WillProperties> {
    Ok(WillProperties {
        payload_format_indicator: maybe(u, payload_format)?,
        message_expiry_interval: maybe(u, |u| u.arbitrary())?,
        content_type: maybe(u, mqtt_string)?,
        response_topic: maybe(u, topic_name)?,
        correlation_data: maybe(u, binary)?,
        will_delay_interval: maybe(u, |u| u.arbitrary())?,
        user_properties: user_properties(u)?,
    })
}

fn connack(u: &mut Unstructured<'_>, v5: bool) -> Result<Packet> {
    let reason_code = if v5 {
        code(u, ConnectReasonCode::from_byte)?
    } else {
        code(u, ConnectReasonCode::from_v311_return_code)?
    };
    // [MQTT-3.2.2-4] (3.1.1) / [MQTT-3.2.2-6] (5.0): no session on a refusal.
    let session_present = u.arbitrary::<bool>()? && reason_code == ConnectReasonCode::Success;
    let properties = v5_properties(u, v5, connack_properties)?;
    Ok(Packet::from(ConnAck {
        session_present,
        reason_code,
        properties,
    }))
}

fn connack_properties(u: &mut Unstructured<'_>) -> Result<ConnAckProperties> {
    let (authentication_method, authentication_data) = auth_pair(u, false)?;
    Ok(ConnAckProperties {
        session_expiry_interval: maybe(u, |u| u.arbitrary())?,
        receive_maximum: maybe(u, nz16)?,
        // 5.0 section 3.2.2.3.4: 0 or 1; absent means 2.
        maximum_qos: maybe(u, |u| Ok(*u.choose(&[QoS::AtMostOnce, QoS::AtLeastOnce])?))?,
        retain_available: maybe(u, |u| u.arbitrary())?,
        maximum_packet_size: maybe(u, nz32)?,
        assigned_client_identifier: maybe(u, mqtt_string)?,
        topic_alias_maximum: maybe(u, |u| u.arbitrary())?,
        reason_string: maybe(u, mqtt_string)?,
        user_properties: user_properties(u)?,
        wildcard_subscription_available: maybe(u, |u| u.arbitrary())?,
        subscription_identifiers_available: maybe(u, |u| u.arbitrary())?,
        shared_subscription_available: maybe(u, |u| u.arbitrary())?,
        server_keep_alive: maybe(u, |u| u.arbitrary())?,
        response_information: maybe(u, mqtt_string)?,
        server_reference: maybe(u, mqtt_string)?,
        authentication_method,
        authentication_data,
    })
}

fn publish(u: &mut Unstructured<'_>, v5: bool) -> Result<Packet> {
    // [MQTT-2.3.1-5] (3.1.1) / [MQTT-2.2.1-2] (5.0): an identifier exactly above QoS 0.
    let qos_pid = match qos(u)? {
        QoS::AtMostOnce => QosPid::AtMostOnce,
        QoS::AtLeastOnce => QosPid::AtLeastOnce(packet_id(u)?),
        QoS::ExactlyOnce => QosPid::ExactlyOnce(packet_id(u)?),
    };
    // [MQTT-3.3.1-2]: DUP is 0 at QoS 0.
    let dup = u.arbitrary::<bool>()? && qos_pid != QosPid::AtMostOnce;
    let retain = u.arbitrary()?;
    let mut topic = topic_name(u)?;
    let properties: PropertyBox<PublishProperties> = v5_properties(u, v5, publish_properties)?;
    // 5.0 section 3.3.2.1: a Topic Alias may stand in for the topic.
    if properties.topic_alias.is_some() && u.arbitrary::<bool>()? {
        topic = TopicName::empty();
    }
    Ok(Packet::from(Publish {
        dup,
        qos_pid,
        retain,
        topic,
        properties,
        payload: payload(u)?,
    }))
}

fn publish_properties(u: &mut Unstructured<'_>) -> Result<PublishProperties> {
    let ids = match u.int_in_range(0..=15u8)? {
        15 => u.int_in_range(4..=12u8)?,
        n => n % 4,
    };
    let mut subscription_identifiers = SubscriptionIds::new();
    for _ in 0..ids {
        subscription_identifiers.push(subscription_id(u)?);
    }
    Ok(PublishProperties {
        payload_format_indicator: maybe(u, payload_format)?,
        message_expiry_interval: maybe(u, |u| u.arbitrary())?,
        topic_alias: maybe(u, nz16)?,
        response_topic: maybe(u, topic_name)?,
        correlation_data: maybe(u, binary)?,
        user_properties: user_properties(u)?,
        subscription_identifiers,
        content_type: maybe(u, mqtt_string)?,
    })
}

/// The properties `make` draws in 5.0; none in 3.1.1, which has no properties, and
/// nothing drawn from the input.
fn v5_properties<T: PropertySet>(
    u: &mut Unstructured<'_>,
    v5: bool,
    make: impl FnOnce(&mut Unstructured<'_>) -> Result<T>,
) -> Result<PropertyBox<T>> {
    Ok(if v5 {
        make(u)?.into()
    } else {
        PropertyBox::new()
    })
}

/// Reason String and User Properties in 5.0, nothing in 3.1.1.
fn ack_properties(u: &mut Unstructured<'_>, v5: bool) -> Result<PropertyBox<AckProperties>> {
    v5_properties(u, v5, |u| {
        Ok(AckProperties {
            reason_string: maybe(u, mqtt_string)?,
            user_properties: user_properties(u)?,
        })
    })
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP: any reason code of the type in 5.0, success in
/// 3.1.1.
macro_rules! publish_ack {
    ($u:expr, $v5:expr, $ty:ident, $code:ident) => {{
        let packet_id = packet_id($u)?;
        let reason_code = if $v5 {
            code($u, $code::from_byte)?
        } else {
            $code::Success
        };
        Packet::from($ty {
            packet_id,
            reason_code,
            properties: ack_properties($u, $v5)?,
        })
    }};
}

/// One to five entries, rarely up to twenty.
fn entries(u: &mut Unstructured<'_>) -> Result<u8> {
    Ok(match u.int_in_range(0..=15u8)? {
        15 => u.int_in_range(6..=20u8)?,
        n => 1 + n % 5,
    })
}

fn subscribe(u: &mut Unstructured<'_>, v5: bool) -> Result<Packet> {
    let packet_id = packet_id(u)?;
    let properties = v5_properties(u, v5, |u| {
        Ok(SubscribeProperties {
            subscription_identifier: maybe(u, subscription_id)?,
            user_properties: user_properties(u)?,
        })
    })?;
    let mut filters = Vec::new();
    for _ in 0..entries(u)? {
        let filter = topic_filter(u)?;
        let qos = qos(u)?;
        let options = if v5 {
            SubscriptionOptions {
                qos,
                // [MQTT-3.8.3-4] (5.0): No Local is a Protocol Error on a shared
                // subscription.
                no_local: u.arbitrary::<bool>()? && !filter.is_shared(),
                retain_as_published: u.arbitrary()?,
                retain_handling: *u.choose(&[
                    RetainHandling::SendAtSubscribe,
                    RetainHandling::SendAtSubscribeIfNew,
                    RetainHandling::DoNotSend,
                ])?,
            }
        } else {
            SubscriptionOptions::new(qos)
        };
        filters.push(Subscription { filter, options });
    }
    Ok(Packet::from(Subscribe {
        packet_id,
        properties,
        filters,
    }))
}

fn suback(u: &mut Unstructured<'_>, v5: bool) -> Result<Packet> {
    let packet_id = packet_id(u)?;
    let properties = ack_properties(u, v5)?;
    let mut reason_codes = Vec::new();
    for _ in 0..entries(u)? {
        reason_codes.push(if v5 {
            code(u, SubAckReasonCode::from_byte)?
        } else {
            code(u, |b| {
                SubAckReasonCode::from_byte(b).filter(|c| c.exists_in_v311())
            })?
        });
    }
    Ok(Packet::from(SubAck {
        packet_id,
        properties,
        reason_codes,
    }))
}

fn unsubscribe(u: &mut Unstructured<'_>, v5: bool) -> Result<Packet> {
    let packet_id = packet_id(u)?;
    let properties = v5_properties(u, v5, |u| {
        Ok(UnsubscribeProperties {
            user_properties: user_properties(u)?,
        })
    })?;
    let mut filters = Vec::new();
    for _ in 0..entries(u)? {
        filters.push(topic_filter(u)?);
    }
    Ok(Packet::from(Unsubscribe {
        packet_id,
        properties,
        filters,
    }))
}

fn unsuback(u: &mut Unstructured<'_>, v5: bool) -> Result<Packet> {
    let packet_id = packet_id(u)?;
    let properties = ack_properties(u, v5)?;
    // 3.1.1 has no reason codes in UNSUBACK.
    let mut reason_codes = Vec::new();
    if v5 {
        for _ in 0..entries(u)? {
            reason_codes.push(code(u, UnsubAckReasonCode::from_byte)?);
        }
    }
    Ok(Packet::from(UnsubAck {
        packet_id,
        properties,
        reason_codes,
    }))
}

fn disconnect(u: &mut Unstructured<'_>, v5: bool) -> Result<Packet> {
    if !v5 {
        // 3.1.1 section 3.14: no variable header, no payload.
        return Ok(Packet::from(Disconnect::default()));
    }
    let reason_code = code(u, DisconnectReasonCode::from_byte)?;
    let properties = DisconnectProperties {
        session_expiry_interval: maybe(u, |u| u.arbitrary())?,
        reason_string: maybe(u, mqtt_string)?,
        user_properties: user_properties(u)?,
        server_reference: maybe(u, mqtt_string)?,
    };
    Ok(Packet::from(Disconnect {
        reason_code,
        properties: properties.into(),
    }))
}

fn auth(u: &mut Unstructured<'_>) -> Result<Packet> {
    let reason_code = code(u, AuthReasonCode::from_byte)?;
    // [MQTT-4.12.0-5]: a step of an exchange names its method; 5.0 section 3.15.2.2.3:
    // no Authentication Data without one.
    let (authentication_method, authentication_data) =
        auth_pair(u, reason_code != AuthReasonCode::Success)?;
    let properties = AuthProperties {
        authentication_method,
        authentication_data,
        reason_string: maybe(u, mqtt_string)?,
        user_properties: user_properties(u)?,
    };
    Ok(Packet::from(Auth {
        reason_code,
        properties: properties.into(),
    }))
}

/// A valid packet of `version` built from `u`: any of the fifteen types in 5.0 (the
/// fourteen without AUTH in 3.1.1), every field and every property the type has in
/// that version, with values the specification allows.
pub fn arbitrary_packet(u: &mut Unstructured<'_>, version: ProtocolVersion) -> Result<Packet> {
    let v5 = version.is_v5();
    let last = if v5 { 14 } else { 13 };
    Ok(match u.int_in_range(0..=last)? {
        0 => connect(u, v5)?,
        1 => connack(u, v5)?,
        2 => publish(u, v5)?,
        3 => publish_ack!(u, v5, PubAck, PubAckReasonCode),
        4 => publish_ack!(u, v5, PubRec, PubRecReasonCode),
        5 => publish_ack!(u, v5, PubRel, PubRelReasonCode),
        6 => publish_ack!(u, v5, PubComp, PubCompReasonCode),
        7 => subscribe(u, v5)?,
        8 => suback(u, v5)?,
        9 => unsubscribe(u, v5)?,
        10 => unsuback(u, v5)?,
        11 => Packet::PingReq,
        12 => Packet::PingResp,
        13 => disconnect(u, v5)?,
        _ => auth(u)?,
    })
}

/// Valid packets built from the input, each encoded, measured, encoded vectored,
/// decoded and cut short: see [`roundtrip_count`].
pub fn roundtrip(data: &[u8]) {
    roundtrip_count(data);
}

/// [`roundtrip`], returning how many packets of each type it built, indexed by the
/// packet type's number (index 0 stays 0).
///
/// The first byte picks the version (even: 3.1.1, odd: 5.0); packets are built from the
/// rest with [`arbitrary_packet`] until it runs out. Each packet must encode,
/// [`Packet::encoded_len`] must count the bytes written, [`Packet::encode_vectored`]
/// must write the same bytes split at the payload, a [`Decoder`] must give the packet
/// back and consume exactly its bytes, and strict prefixes of the encoding must decode
/// to `Ok(None)` without consuming anything. Then the encodings of all packets, one
/// after another, must decode as one stream to the same packets.
pub fn roundtrip_count(data: &[u8]) -> [usize; 16] {
    let mut counts = [0; 16];
    let Some((&control, rest)) = data.split_first() else {
        return counts;
    };
    let version = if control & 1 == 0 {
        ProtocolVersion::V311
    } else {
        ProtocolVersion::V5
    };
    let mut u = Unstructured::new(rest);
    let mut packets = Vec::new();
    let mut stream = BytesMut::new();
    while !u.is_empty() {
        let before = u.len();
        let Ok(packet) = arbitrary_packet(&mut u, version) else {
            break;
        };
        let wire = check(&packet, version);
        counts[packet.packet_type() as usize] += 1;
        stream.extend_from_slice(&wire);
        packets.push(packet);
        if u.len() == before {
            break;
        }
    }
    let mut decoder = Decoder::new(version);
    for (i, packet) in packets.iter().enumerate() {
        match decoder.decode(&mut stream) {
            Ok(Some(decoded)) => assert_eq!(
                &decoded, packet,
                "packet {i} of a {version} stream decodes differently"
            ),
            other => panic!("packet {i} of a {version} stream: {other:?}, expected {packet:?}"),
        }
    }
    assert!(stream.is_empty(), "bytes left after the stream");
    counts
}

/// Every check on one packet; returns its encoding.
fn check(packet: &Packet, version: ProtocolVersion) -> Bytes {
    let mut wire = BytesMut::new();
    if let Err(e) = packet.encode(version, &mut wire) {
        panic!("a valid {version} packet does not encode: {e}: {packet:?}");
    }
    assert_eq!(
        wire.len(),
        packet.encoded_len(version),
        "encoded_len differs from the bytes written: {packet:?}"
    );
    let wire = wire.freeze();

    let mut head = BytesMut::new();
    let tail = match packet.encode_vectored(version, &mut head) {
        Ok(tail) => tail,
        Err(e) => panic!("the vectored encoding fails: {e}: {packet:?}"),
    };
    assert!(
        head.len() + tail.len() == wire.len()
            && wire[..head.len()] == head[..]
            && wire[head.len()..] == tail[..],
        "the vectored encoding differs: {packet:?}"
    );
    match packet {
        Packet::Publish(p) => assert_eq!(tail, p.payload, "the vectored tail is not the payload"),
        _ => assert!(tail.is_empty(), "a vectored tail without a payload"),
    }

    let mut buf = BytesMut::from(&wire[..]);
    let mut decoder = Decoder::new(version);
    match decoder.decode(&mut buf) {
        Ok(Some(decoded)) => assert_eq!(
            &decoded,
            packet,
            "decodes to another packet: {:02x?}",
            &wire[..wire.len().min(256)]
        ),
        other => panic!(
            "a valid {version} packet does not decode: {other:?}: {packet:?}: {:02x?}",
            &wire[..wire.len().min(256)]
        ),
    }
    assert!(buf.is_empty(), "{} bytes left after decoding", buf.len());
    assert_eq!(decoder.version(), Some(version));

    // Strict prefixes, longest first, so one copy serves them all: the header bytes
    // one at a time, and cuts spread over the rest.
    let len = wire.len();
    let mut cuts = [len - 1, len * 3 / 4, len / 2, len / 4, 4, 3, 2, 1];
    cuts.sort_unstable_by(|a, b| b.cmp(a));
    let mut prefix = BytesMut::from(&wire[..len - 1]);
    let mut last = len;
    for cut in cuts {
        if cut >= last || cut == 0 {
            continue;
        }
        last = cut;
        prefix.truncate(cut);
        match Decoder::new(version).decode(&mut prefix) {
            Ok(None) => assert_eq!(prefix.len(), cut, "Ok(None) consumed bytes"),
            other => panic!(
                "a {cut}-byte prefix of a {len}-byte packet gives {other:?}: {packet:?}: {:02x?}",
                &wire[..len.min(256)]
            ),
        }
    }
    wire
}
