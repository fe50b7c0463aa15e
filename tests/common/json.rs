//! A decoded packet in the canonical JSON form of the test corpus
//! (`tests/data/README.md`), so every field can be compared with what an independent
//! codec decoded.

use super::to_hex;
use mqtt_sansio::*;
use serde_json::{Map, Value, json};

fn bin(b: &[u8]) -> Value {
    json!({ "$hex": to_hex(b) })
}

/// `userProperties` as the corpus writes it: name -> value, or -> [values] when the
/// name repeats.
fn user_properties(up: &UserProperties) -> Option<Value> {
    if up.is_empty() {
        return None;
    }
    let mut map: Map<String, Value> = Map::new();
    for (name, value) in up.iter() {
        match map.get_mut(name) {
            None => {
                map.insert(name.to_owned(), json!(value));
            }
            Some(Value::Array(values)) => values.push(json!(value)),
            Some(first) => {
                let first = first.take();
                map.insert(name.to_owned(), json!([first, value]));
            }
        }
    }
    Some(Value::Object(map))
}

/// Builds a property object, leaving out absent properties; `None` when empty.
struct Props(Map<String, Value>);

impl Props {
    fn new() -> Self {
        Props(Map::new())
    }
    fn opt<T: Into<Value>>(mut self, name: &str, v: Option<T>) -> Self {
        if let Some(v) = v {
            self.0.insert(name.into(), v.into());
        }
        self
    }
    fn str(self, name: &str, v: &Option<MqttString>) -> Self {
        self.opt(name, v.as_ref().map(|s| s.as_str().to_owned()))
    }
    fn bin(mut self, name: &str, v: &Option<bytes::Bytes>) -> Self {
        if let Some(v) = v {
            self.0.insert(name.into(), bin(v));
        }
        self
    }
    fn user(mut self, up: &UserProperties) -> Self {
        if let Some(v) = user_properties(up) {
            self.0.insert("userProperties".into(), v);
        }
        self
    }
    fn done(self) -> Option<Value> {
        (!self.0.is_empty()).then_some(Value::Object(self.0))
    }
}

fn payload_format(f: Option<PayloadFormat>) -> Option<bool> {
    f.map(|f| f == PayloadFormat::Utf8)
}

fn ack_props(p: &AckProperties) -> Option<Value> {
    Props::new()
        .str("reasonString", &p.reason_string)
        .user(&p.user_properties)
        .done()
}

fn insert_props(obj: &mut Map<String, Value>, props: Option<Value>) {
    if let Some(p) = props {
        obj.insert("properties".into(), p);
    }
}

/// The corpus JSON form of `packet` decoded under `version`.
pub fn packet_to_json(packet: &Packet, version: ProtocolVersion) -> Value {
    let v5 = version.is_v5();
    let mut o = Map::new();
    o.insert("cmd".into(), json!(packet_cmd(packet)));
    match packet {
        Packet::Connect(c) => {
            o.insert("protocolId".into(), json!("MQTT"));
            o.insert("protocolVersion".into(), json!(version.level()));
            o.insert("clean".into(), json!(c.clean_start));
            o.insert("keepalive".into(), json!(c.keep_alive));
            o.insert("clientId".into(), json!(c.client_id.as_str()));
            if let Some(w) = &c.will {
                let mut will = Map::new();
                will.insert("topic".into(), json!(w.topic.as_str()));
                will.insert("payload".into(), bin(&w.payload));
                will.insert("qos".into(), json!(w.qos.value()));
                will.insert("retain".into(), json!(w.retain));
                let p = &w.properties;
                let props = Props::new()
                    .opt(
                        "payloadFormatIndicator",
                        payload_format(p.payload_format_indicator),
                    )
                    .opt("messageExpiryInterval", p.message_expiry_interval)
                    .str("contentType", &p.content_type)
                    .opt(
                        "responseTopic",
                        p.response_topic.as_ref().map(|t| t.as_str().to_owned()),
                    )
                    .bin("correlationData", &p.correlation_data)
                    .opt("willDelayInterval", p.will_delay_interval)
                    .user(&p.user_properties)
                    .done();
                insert_props(&mut will, props);
                o.insert("will".into(), Value::Object(will));
            }
            if let Some(u) = &c.username {
                o.insert("username".into(), json!(u.as_str()));
            }
            if let Some(p) = &c.password {
                o.insert("password".into(), bin(p));
            }
            let p = &c.properties;
            let props = Props::new()
                .opt("sessionExpiryInterval", p.session_expiry_interval)
                .opt("receiveMaximum", p.receive_maximum.map(|v| v.get()))
                .opt("maximumPacketSize", p.maximum_packet_size.map(|v| v.get()))
                .opt("topicAliasMaximum", p.topic_alias_maximum)
                .opt("requestResponseInformation", p.request_response_information)
                .opt("requestProblemInformation", p.request_problem_information)
                .str("authenticationMethod", &p.authentication_method)
                .bin("authenticationData", &p.authentication_data)
                .user(&p.user_properties)
                .done();
            insert_props(&mut o, props);
        }
        Packet::ConnAck(c) => {
            o.insert("sessionPresent".into(), json!(c.session_present));
            if v5 {
                o.insert("reasonCode".into(), json!(c.reason_code.value()));
            } else {
                o.insert("returnCode".into(), json!(c.reason_code.v311_return_code()));
            }
            let p = &c.properties;
            let props = Props::new()
                .opt("sessionExpiryInterval", p.session_expiry_interval)
                .str("assignedClientIdentifier", &p.assigned_client_identifier)
                .opt("serverKeepAlive", p.server_keep_alive)
                .str("authenticationMethod", &p.authentication_method)
                .bin("authenticationData", &p.authentication_data)
                .str("responseInformation", &p.response_information)
                .str("serverReference", &p.server_reference)
                .str("reasonString", &p.reason_string)
                .opt("receiveMaximum", p.receive_maximum.map(|v| v.get()))
                .opt("topicAliasMaximum", p.topic_alias_maximum)
                .opt("maximumQoS", p.maximum_qos.map(QoS::value))
                .opt("retainAvailable", p.retain_available)
                .user(&p.user_properties)
                .opt("maximumPacketSize", p.maximum_packet_size.map(|v| v.get()))
                .opt(
                    "wildcardSubscriptionAvailable",
                    p.wildcard_subscription_available,
                )
                .opt(
                    "subscriptionIdentifiersAvailable",
                    p.subscription_identifiers_available,
                )
                .opt(
                    "sharedSubscriptionAvailable",
                    p.shared_subscription_available,
                )
                .done();
            insert_props(&mut o, props);
        }
        Packet::Publish(p) => {
            o.insert("topic".into(), json!(p.topic.as_str()));
            o.insert("qos".into(), json!(p.qos().value()));
            o.insert("dup".into(), json!(p.dup));
            o.insert("retain".into(), json!(p.retain));
            if let Some(id) = p.packet_id() {
                o.insert("messageId".into(), json!(id.get()));
            }
            let pp = &p.properties;
            let sub_ids: Vec<u32> = pp
                .subscription_identifiers
                .iter()
                .map(|i| i.get())
                .collect();
            let sub_ids = match sub_ids.len() {
                0 => None,
                1 => Some(json!(sub_ids[0])),
                _ => Some(json!(sub_ids)),
            };
            let props = Props::new()
                .opt(
                    "payloadFormatIndicator",
                    payload_format(pp.payload_format_indicator),
                )
                .opt("messageExpiryInterval", pp.message_expiry_interval)
                .opt("topicAlias", pp.topic_alias.map(|v| v.get()))
                .opt(
                    "responseTopic",
                    pp.response_topic.as_ref().map(|t| t.as_str().to_owned()),
                )
                .bin("correlationData", &pp.correlation_data)
                .user(&pp.user_properties)
                .opt("subscriptionIdentifier", sub_ids)
                .str("contentType", &pp.content_type)
                .done();
            insert_props(&mut o, props);
            o.insert("payload".into(), bin(&p.payload));
        }
        Packet::PubAck(a) => ack(
            &mut o,
            v5,
            a.packet_id,
            a.reason_code.value(),
            &a.properties,
        ),
        Packet::PubRec(a) => ack(
            &mut o,
            v5,
            a.packet_id,
            a.reason_code.value(),
            &a.properties,
        ),
        Packet::PubRel(a) => ack(
            &mut o,
            v5,
            a.packet_id,
            a.reason_code.value(),
            &a.properties,
        ),
        Packet::PubComp(a) => ack(
            &mut o,
            v5,
            a.packet_id,
            a.reason_code.value(),
            &a.properties,
        ),
        Packet::Subscribe(s) => {
            o.insert("messageId".into(), json!(s.packet_id.get()));
            let props = Props::new()
                .opt(
                    "subscriptionIdentifier",
                    s.properties.subscription_identifier.map(|i| i.get()),
                )
                .user(&s.properties.user_properties)
                .done();
            insert_props(&mut o, props);
            let subs: Vec<Value> = s
                .filters
                .iter()
                .map(|sub| {
                    if v5 {
                        json!({
                            "topic": sub.filter.as_str(),
                            "qos": sub.options.qos.value(),
                            "nl": sub.options.no_local,
                            "rap": sub.options.retain_as_published,
                            "rh": sub.options.retain_handling as u8,
                        })
                    } else {
                        json!({ "topic": sub.filter.as_str(), "qos": sub.options.qos.value() })
                    }
                })
                .collect();
            o.insert("subscriptions".into(), Value::Array(subs));
        }
        Packet::SubAck(s) => {
            o.insert("messageId".into(), json!(s.packet_id.get()));
            insert_props(&mut o, ack_props(&s.properties));
            let codes: Vec<u8> = s.reason_codes.iter().map(|c| c.value()).collect();
            o.insert("granted".into(), json!(codes));
        }
        Packet::Unsubscribe(u) => {
            o.insert("messageId".into(), json!(u.packet_id.get()));
            insert_props(
                &mut o,
                Props::new().user(&u.properties.user_properties).done(),
            );
            let filters: Vec<&str> = u.filters.iter().map(|f| f.as_str()).collect();
            o.insert("unsubscriptions".into(), json!(filters));
        }
        Packet::UnsubAck(u) => {
            o.insert("messageId".into(), json!(u.packet_id.get()));
            if v5 {
                insert_props(&mut o, ack_props(&u.properties));
                let codes: Vec<u8> = u.reason_codes.iter().map(|c| c.value()).collect();
                o.insert("granted".into(), json!(codes));
            }
        }
        Packet::PingReq | Packet::PingResp => {}
        Packet::Disconnect(d) => {
            if v5 {
                o.insert("reasonCode".into(), json!(d.reason_code.value()));
                let p = &d.properties;
                let props = Props::new()
                    .opt("sessionExpiryInterval", p.session_expiry_interval)
                    .str("serverReference", &p.server_reference)
                    .str("reasonString", &p.reason_string)
                    .user(&p.user_properties)
                    .done();
                insert_props(&mut o, props);
            }
        }
        Packet::Auth(a) => {
            o.insert("reasonCode".into(), json!(a.reason_code.value()));
            let p = &a.properties;
            let props = Props::new()
                .str("authenticationMethod", &p.authentication_method)
                .bin("authenticationData", &p.authentication_data)
                .str("reasonString", &p.reason_string)
                .user(&p.user_properties)
                .done();
            insert_props(&mut o, props);
        }
    }
    Value::Object(o)
}

fn ack(o: &mut Map<String, Value>, v5: bool, id: PacketId, code: u8, props: &AckProperties) {
    o.insert("messageId".into(), json!(id.get()));
    if v5 {
        o.insert("reasonCode".into(), json!(code));
        insert_props(o, ack_props(props));
    }
}

fn packet_cmd(packet: &Packet) -> String {
    packet.packet_type().name().to_ascii_lowercase()
}

/// The main property block's User Properties of a packet, in wire order.
pub fn main_user_properties(packet: &Packet) -> Vec<(String, String)> {
    let up = match packet {
        Packet::Connect(c) => &c.properties.user_properties,
        Packet::ConnAck(c) => &c.properties.user_properties,
        Packet::Publish(p) => &p.properties.user_properties,
        Packet::PubAck(a) => &a.properties.user_properties,
        Packet::PubRec(a) => &a.properties.user_properties,
        Packet::PubRel(a) => &a.properties.user_properties,
        Packet::PubComp(a) => &a.properties.user_properties,
        Packet::Subscribe(s) => &s.properties.user_properties,
        Packet::SubAck(s) => &s.properties.user_properties,
        Packet::Unsubscribe(u) => &u.properties.user_properties,
        Packet::UnsubAck(u) => &u.properties.user_properties,
        Packet::Disconnect(d) => &d.properties.user_properties,
        Packet::Auth(a) => &a.properties.user_properties,
        Packet::PingReq | Packet::PingResp => return Vec::new(),
    };
    up.iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}
