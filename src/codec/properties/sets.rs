//! The property set of each packet type, holding exactly the properties the spec
//! allows there. Each set lists its properties once, in ascending identifier order, in
//! `emit`; decoding refuses the rest.

use super::{
    PayloadFormat, Properties, PropertyId, PropertyReader, SubscriptionIds, UserProperties,
    check_binary, set_once,
};
use crate::codec::primitives::{Reader, Sink};
use crate::codec::{DecodeError, EncodeError, PacketType};
use crate::string::MqttString;
use crate::topic::TopicName;
use crate::types::{QoS, SubscriptionId};
use bytes::Bytes;
use core::num::{NonZeroU16, NonZeroU32};

/// Properties of CONNECT.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectProperties {
    /// Seconds the session outlives the connection (absent: 0).
    pub session_expiry_interval: Option<u32>,
    /// QoS 1/2 messages the client accepts in flight (absent: 65,535).
    pub receive_maximum: Option<NonZeroU16>,
    /// Largest packet the client accepts (absent: no limit).
    pub maximum_packet_size: Option<NonZeroU32>,
    /// Highest topic alias the client accepts (absent: 0, no aliases).
    pub topic_alias_maximum: Option<u16>,
    /// Ask the server for Response Information in CONNACK.
    pub request_response_information: Option<bool>,
    /// Whether the server may send reason strings and user properties on failures
    /// (absent: true).
    pub request_problem_information: Option<bool>,
    /// Enhanced authentication method.
    pub authentication_method: Option<MqttString>,
    /// Enhanced authentication data.
    pub authentication_data: Option<Bytes>,
    /// User Properties.
    pub user_properties: UserProperties,
}

impl Properties for ConnectProperties {
    fn emit<S: Sink>(&self, s: &mut S) {
        use PropertyId::*;
        s.prop_u32(SessionExpiryInterval, self.session_expiry_interval);
        s.prop_str(AuthenticationMethod, self.authentication_method.as_ref());
        s.prop_bytes(AuthenticationData, self.authentication_data.as_deref());
        s.prop_bool(RequestProblemInformation, self.request_problem_information);
        s.prop_bool(
            RequestResponseInformation,
            self.request_response_information,
        );
        s.prop_u16(ReceiveMaximum, self.receive_maximum.map(NonZeroU16::get));
        s.prop_u16(TopicAliasMaximum, self.topic_alias_maximum);
        self.user_properties.emit(s);
        s.prop_u32(
            MaximumPacketSize,
            self.maximum_packet_size.map(NonZeroU32::get),
        );
    }
}

impl ConnectProperties {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use PropertyId::*;
        let mut p = ConnectProperties::default();
        let mut props = PropertyReader::new(r, PacketType::Connect)?;
        while let Some(id) = props.next()? {
            match id {
                SessionExpiryInterval => {
                    set_once(&mut p.session_expiry_interval, id, props.u32(id)?)?
                }
                ReceiveMaximum => set_once(&mut p.receive_maximum, id, props.nonzero_u16(id)?)?,
                MaximumPacketSize => {
                    set_once(&mut p.maximum_packet_size, id, props.nonzero_u32(id)?)?
                }
                TopicAliasMaximum => set_once(&mut p.topic_alias_maximum, id, props.u16(id)?)?,
                RequestResponseInformation => {
                    set_once(&mut p.request_response_information, id, props.flag(id)?)?
                }
                RequestProblemInformation => {
                    set_once(&mut p.request_problem_information, id, props.flag(id)?)?
                }
                AuthenticationMethod => {
                    set_once(&mut p.authentication_method, id, props.string(id)?)?
                }
                AuthenticationData => set_once(&mut p.authentication_data, id, props.binary(id)?)?,
                _ => return Err(props.not_allowed(id)),
            }
        }
        p.user_properties = props.finish();
        check_auth_pair(
            p.authentication_method.is_some(),
            p.authentication_data.is_some(),
        )?;
        Ok(p)
    }

    pub(crate) fn check(&self) -> Result<(), EncodeError> {
        check_binary(self.authentication_data.as_ref(), "authentication data")?;
        if self.authentication_data.is_some() && self.authentication_method.is_none() {
            return Err(EncodeError::InvalidPacket {
                reason: "authentication data without an authentication method",
            });
        }
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        *self == ConnectProperties::default()
    }
}

/// "It is a Protocol Error to include Authentication Data if there is no
/// Authentication Method" (5.0 sections 3.1.2.11.10, 3.2.2.3.18, 3.15.2.2.3).
fn check_auth_pair(has_method: bool, has_data: bool) -> Result<(), DecodeError> {
    if has_data && !has_method {
        return Err(DecodeError::MissingAuthenticationMethod);
    }
    Ok(())
}

/// Properties of the Will in CONNECT.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WillProperties {
    /// Whether the Will payload is UTF-8.
    pub payload_format_indicator: Option<PayloadFormat>,
    /// Lifetime of the Will Message in seconds.
    pub message_expiry_interval: Option<u32>,
    /// MIME type of the Will payload.
    pub content_type: Option<MqttString>,
    /// Response topic of the Will Message.
    pub response_topic: Option<TopicName>,
    /// Correlation data of the Will Message.
    pub correlation_data: Option<Bytes>,
    /// Seconds the server waits after the connection closes before publishing the Will.
    pub will_delay_interval: Option<u32>,
    /// User Properties of the Will Message.
    pub user_properties: UserProperties,
}

impl Properties for WillProperties {
    fn emit<S: Sink>(&self, s: &mut S) {
        use PropertyId::*;
        s.prop_u8(
            PayloadFormatIndicator,
            self.payload_format_indicator.map(|f| f as u8),
        );
        s.prop_u32(MessageExpiryInterval, self.message_expiry_interval);
        s.prop_str(ContentType, self.content_type.as_ref());
        s.prop_str(
            ResponseTopic,
            self.response_topic.as_ref().map(TopicName::as_mqtt_str),
        );
        s.prop_bytes(CorrelationData, self.correlation_data.as_deref());
        s.prop_u32(WillDelayInterval, self.will_delay_interval);
        self.user_properties.emit(s);
    }
}

impl WillProperties {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use PropertyId::*;
        let mut p = WillProperties::default();
        let mut props = PropertyReader::new(r, PacketType::Connect)?;
        while let Some(id) = props.next()? {
            match id {
                PayloadFormatIndicator => {
                    set_once(&mut p.payload_format_indicator, id, props.payload_format()?)?
                }
                MessageExpiryInterval => {
                    set_once(&mut p.message_expiry_interval, id, props.u32(id)?)?
                }
                ContentType => set_once(&mut p.content_type, id, props.string(id)?)?,
                ResponseTopic => set_once(&mut p.response_topic, id, props.topic_name(id)?)?,
                CorrelationData => set_once(&mut p.correlation_data, id, props.binary(id)?)?,
                WillDelayInterval => set_once(&mut p.will_delay_interval, id, props.u32(id)?)?,
                _ => return Err(props.not_allowed(id)),
            }
        }
        p.user_properties = props.finish();
        Ok(p)
    }

    pub(crate) fn check(&self) -> Result<(), EncodeError> {
        check_binary(self.correlation_data.as_ref(), "correlation data")
    }

    pub(crate) fn is_empty(&self) -> bool {
        *self == WillProperties::default()
    }
}

/// Properties of CONNACK.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnAckProperties {
    /// Session expiry the server uses instead of the client's.
    pub session_expiry_interval: Option<u32>,
    /// QoS 1/2 messages the server accepts in flight (absent: 65,535).
    pub receive_maximum: Option<NonZeroU16>,
    /// Highest QoS the server supports: 0 or 1 (absent: 2).
    pub maximum_qos: Option<QoS>,
    /// Whether retained messages are supported (absent: true).
    pub retain_available: Option<bool>,
    /// Largest packet the server accepts (absent: no limit).
    pub maximum_packet_size: Option<NonZeroU32>,
    /// Client identifier assigned when the client sent an empty one.
    pub assigned_client_identifier: Option<MqttString>,
    /// Highest topic alias the server accepts (absent: 0).
    pub topic_alias_maximum: Option<u16>,
    /// Human-readable diagnostic.
    pub reason_string: Option<MqttString>,
    /// User Properties.
    pub user_properties: UserProperties,
    /// Whether wildcard subscriptions are supported (absent: true).
    pub wildcard_subscription_available: Option<bool>,
    /// Whether subscription identifiers are supported (absent: true).
    pub subscription_identifiers_available: Option<bool>,
    /// Whether shared subscriptions are supported (absent: true).
    pub shared_subscription_available: Option<bool>,
    /// Keep alive the client must use instead of its own.
    pub server_keep_alive: Option<u16>,
    /// Basis for response topics.
    pub response_information: Option<MqttString>,
    /// Another server the client should use.
    pub server_reference: Option<MqttString>,
    /// Enhanced authentication method.
    pub authentication_method: Option<MqttString>,
    /// Enhanced authentication data.
    pub authentication_data: Option<Bytes>,
}

impl Properties for ConnAckProperties {
    fn emit<S: Sink>(&self, s: &mut S) {
        use PropertyId::*;
        s.prop_u32(SessionExpiryInterval, self.session_expiry_interval);
        s.prop_str(
            AssignedClientIdentifier,
            self.assigned_client_identifier.as_ref(),
        );
        s.prop_u16(ServerKeepAlive, self.server_keep_alive);
        s.prop_str(AuthenticationMethod, self.authentication_method.as_ref());
        s.prop_bytes(AuthenticationData, self.authentication_data.as_deref());
        s.prop_str(ResponseInformation, self.response_information.as_ref());
        s.prop_str(ServerReference, self.server_reference.as_ref());
        s.prop_str(ReasonString, self.reason_string.as_ref());
        s.prop_u16(ReceiveMaximum, self.receive_maximum.map(NonZeroU16::get));
        s.prop_u16(TopicAliasMaximum, self.topic_alias_maximum);
        s.prop_u8(MaximumQoS, self.maximum_qos.map(QoS::value));
        s.prop_bool(RetainAvailable, self.retain_available);
        self.user_properties.emit(s);
        s.prop_u32(
            MaximumPacketSize,
            self.maximum_packet_size.map(NonZeroU32::get),
        );
        s.prop_bool(
            WildcardSubscriptionAvailable,
            self.wildcard_subscription_available,
        );
        s.prop_bool(
            SubscriptionIdentifierAvailable,
            self.subscription_identifiers_available,
        );
        s.prop_bool(
            SharedSubscriptionAvailable,
            self.shared_subscription_available,
        );
    }
}

impl ConnAckProperties {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use PropertyId::*;
        let mut p = ConnAckProperties::default();
        let mut props = PropertyReader::new(r, PacketType::ConnAck)?;
        while let Some(id) = props.next()? {
            match id {
                SessionExpiryInterval => {
                    set_once(&mut p.session_expiry_interval, id, props.u32(id)?)?
                }
                ReceiveMaximum => set_once(&mut p.receive_maximum, id, props.nonzero_u16(id)?)?,
                MaximumQoS => {
                    let qos = match props.byte(id)? {
                        0 => QoS::AtMostOnce,
                        1 => QoS::AtLeastOnce,
                        _ => {
                            return Err(DecodeError::InvalidPropertyValue {
                                property: id,
                                reason: "must be 0 or 1",
                            });
                        }
                    };
                    set_once(&mut p.maximum_qos, id, qos)?
                }
                RetainAvailable => set_once(&mut p.retain_available, id, props.flag(id)?)?,
                MaximumPacketSize => {
                    set_once(&mut p.maximum_packet_size, id, props.nonzero_u32(id)?)?
                }
                AssignedClientIdentifier => {
                    set_once(&mut p.assigned_client_identifier, id, props.string(id)?)?
                }
                TopicAliasMaximum => set_once(&mut p.topic_alias_maximum, id, props.u16(id)?)?,
                ReasonString => set_once(&mut p.reason_string, id, props.string(id)?)?,
                WildcardSubscriptionAvailable => {
                    set_once(&mut p.wildcard_subscription_available, id, props.flag(id)?)?
                }
                SubscriptionIdentifierAvailable => set_once(
                    &mut p.subscription_identifiers_available,
                    id,
                    props.flag(id)?,
                )?,
                SharedSubscriptionAvailable => {
                    set_once(&mut p.shared_subscription_available, id, props.flag(id)?)?
                }
                ServerKeepAlive => set_once(&mut p.server_keep_alive, id, props.u16(id)?)?,
                ResponseInformation => {
                    set_once(&mut p.response_information, id, props.string(id)?)?
                }
                ServerReference => set_once(&mut p.server_reference, id, props.string(id)?)?,
                AuthenticationMethod => {
                    set_once(&mut p.authentication_method, id, props.string(id)?)?
                }
                AuthenticationData => set_once(&mut p.authentication_data, id, props.binary(id)?)?,
                _ => return Err(props.not_allowed(id)),
            }
        }
        p.user_properties = props.finish();
        check_auth_pair(
            p.authentication_method.is_some(),
            p.authentication_data.is_some(),
        )?;
        Ok(p)
    }

    pub(crate) fn check(&self) -> Result<(), EncodeError> {
        check_binary(self.authentication_data.as_ref(), "authentication data")?;
        if self.maximum_qos == Some(QoS::ExactlyOnce) {
            return Err(EncodeError::InvalidPacket {
                reason: "maximum qos must be 0 or 1",
            });
        }
        if self.authentication_data.is_some() && self.authentication_method.is_none() {
            return Err(EncodeError::InvalidPacket {
                reason: "authentication data without an authentication method",
            });
        }
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        *self == ConnAckProperties::default()
    }
}

/// Properties of PUBLISH.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublishProperties {
    /// Whether the payload is UTF-8.
    pub payload_format_indicator: Option<PayloadFormat>,
    /// Lifetime of the message in seconds.
    pub message_expiry_interval: Option<u32>,
    /// Topic alias standing for the topic name on this connection.
    pub topic_alias: Option<NonZeroU16>,
    /// Topic for a response.
    pub response_topic: Option<TopicName>,
    /// Correlates a response with its request.
    pub correlation_data: Option<Bytes>,
    /// User Properties.
    pub user_properties: UserProperties,
    /// Identifiers of the subscriptions that matched (server to client only).
    pub subscription_identifiers: SubscriptionIds,
    /// MIME type of the payload.
    pub content_type: Option<MqttString>,
}

impl Properties for PublishProperties {
    #[inline]
    fn emit<S: Sink>(&self, s: &mut S) {
        use PropertyId::*;
        s.prop_u8(
            PayloadFormatIndicator,
            self.payload_format_indicator.map(|f| f as u8),
        );
        s.prop_u32(MessageExpiryInterval, self.message_expiry_interval);
        s.prop_str(ContentType, self.content_type.as_ref());
        s.prop_str(
            ResponseTopic,
            self.response_topic.as_ref().map(TopicName::as_mqtt_str),
        );
        s.prop_bytes(CorrelationData, self.correlation_data.as_deref());
        for id in self.subscription_identifiers.iter() {
            s.prop_varint(SubscriptionIdentifier, id.get());
        }
        s.prop_u16(TopicAlias, self.topic_alias.map(NonZeroU16::get));
        self.user_properties.emit(s);
    }
}

impl PublishProperties {
    #[inline]
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use PropertyId::*;
        let mut p = PublishProperties::default();
        let mut props = PropertyReader::new(r, PacketType::Publish)?;
        while let Some(id) = props.next()? {
            match id {
                PayloadFormatIndicator => {
                    set_once(&mut p.payload_format_indicator, id, props.payload_format()?)?
                }
                MessageExpiryInterval => {
                    set_once(&mut p.message_expiry_interval, id, props.u32(id)?)?
                }
                // [MQTT-3.3.2-8]: a Topic Alias of 0 is not permitted.
                TopicAlias => set_once(&mut p.topic_alias, id, props.nonzero_u16(id)?)?,
                // [MQTT-3.3.2-13], [MQTT-3.3.2-14]: a UTF-8 string without wildcards.
                ResponseTopic => set_once(&mut p.response_topic, id, props.topic_name(id)?)?,
                CorrelationData => set_once(&mut p.correlation_data, id, props.binary(id)?)?,
                // The only property besides User Property that may repeat.
                SubscriptionIdentifier => p.subscription_identifiers.push(props.subscription_id()?),
                // [MQTT-3.3.2-19]
                ContentType => set_once(&mut p.content_type, id, props.string(id)?)?,
                _ => return Err(props.not_allowed(id)),
            }
        }
        p.user_properties = props.finish();
        Ok(p)
    }

    pub(crate) fn check(&self) -> Result<(), EncodeError> {
        check_binary(self.correlation_data.as_ref(), "correlation data")
    }

    pub(crate) fn is_empty(&self) -> bool {
        *self == PublishProperties::default()
    }
}

/// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AckProperties {
    /// Human-readable diagnostic.
    pub reason_string: Option<MqttString>,
    /// User Properties.
    pub user_properties: UserProperties,
}

impl Properties for AckProperties {
    #[inline]
    fn emit<S: Sink>(&self, s: &mut S) {
        s.prop_str(PropertyId::ReasonString, self.reason_string.as_ref());
        self.user_properties.emit(s);
    }
}

impl AckProperties {
    pub(crate) fn decode(r: &mut Reader<'_>, packet: PacketType) -> Result<Self, DecodeError> {
        let mut p = AckProperties::default();
        let mut props = PropertyReader::new(r, packet)?;
        while let Some(id) = props.next()? {
            match id {
                PropertyId::ReasonString => set_once(&mut p.reason_string, id, props.string(id)?)?,
                _ => return Err(props.not_allowed(id)),
            }
        }
        p.user_properties = props.finish();
        Ok(p)
    }

    /// True when there are no properties.
    pub fn is_empty(&self) -> bool {
        self.reason_string.is_none() && self.user_properties.is_empty()
    }
}

/// Properties of SUBSCRIBE.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubscribeProperties {
    /// Identifier the server attaches to messages delivered for these subscriptions.
    pub subscription_identifier: Option<SubscriptionId>,
    /// User Properties.
    pub user_properties: UserProperties,
}

impl Properties for SubscribeProperties {
    fn emit<S: Sink>(&self, s: &mut S) {
        if let Some(id) = self.subscription_identifier {
            s.prop_varint(PropertyId::SubscriptionIdentifier, id.get());
        }
        self.user_properties.emit(s);
    }
}

impl SubscribeProperties {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut p = SubscribeProperties::default();
        let mut props = PropertyReader::new(r, PacketType::Subscribe)?;
        while let Some(id) = props.next()? {
            match id {
                PropertyId::SubscriptionIdentifier => {
                    set_once(&mut p.subscription_identifier, id, props.subscription_id()?)?
                }
                _ => return Err(props.not_allowed(id)),
            }
        }
        p.user_properties = props.finish();
        Ok(p)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.subscription_identifier.is_none() && self.user_properties.is_empty()
    }
}

/// Properties of UNSUBSCRIBE.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnsubscribeProperties {
    /// User Properties.
    pub user_properties: UserProperties,
}

impl Properties for UnsubscribeProperties {
    fn emit<S: Sink>(&self, s: &mut S) {
        self.user_properties.emit(s);
    }
}

impl UnsubscribeProperties {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut props = PropertyReader::new(r, PacketType::Unsubscribe)?;
        if let Some(id) = props.next()? {
            return Err(props.not_allowed(id));
        }
        Ok(UnsubscribeProperties {
            user_properties: props.finish(),
        })
    }
}

/// Properties of DISCONNECT.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DisconnectProperties {
    /// New session expiry (client to server only).
    pub session_expiry_interval: Option<u32>,
    /// Human-readable diagnostic.
    pub reason_string: Option<MqttString>,
    /// User Properties.
    pub user_properties: UserProperties,
    /// Another server the client should use.
    pub server_reference: Option<MqttString>,
}

impl Properties for DisconnectProperties {
    fn emit<S: Sink>(&self, s: &mut S) {
        use PropertyId::*;
        s.prop_u32(SessionExpiryInterval, self.session_expiry_interval);
        s.prop_str(ServerReference, self.server_reference.as_ref());
        s.prop_str(ReasonString, self.reason_string.as_ref());
        self.user_properties.emit(s);
    }
}

impl DisconnectProperties {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use PropertyId::*;
        let mut p = DisconnectProperties::default();
        let mut props = PropertyReader::new(r, PacketType::Disconnect)?;
        while let Some(id) = props.next()? {
            match id {
                SessionExpiryInterval => {
                    set_once(&mut p.session_expiry_interval, id, props.u32(id)?)?
                }
                ReasonString => set_once(&mut p.reason_string, id, props.string(id)?)?,
                ServerReference => set_once(&mut p.server_reference, id, props.string(id)?)?,
                _ => return Err(props.not_allowed(id)),
            }
        }
        p.user_properties = props.finish();
        Ok(p)
    }

    pub(crate) fn is_empty(&self) -> bool {
        *self == DisconnectProperties::default()
    }
}

/// Properties of AUTH.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthProperties {
    /// Enhanced authentication method.
    pub authentication_method: Option<MqttString>,
    /// Enhanced authentication data.
    pub authentication_data: Option<Bytes>,
    /// Human-readable diagnostic.
    pub reason_string: Option<MqttString>,
    /// User Properties.
    pub user_properties: UserProperties,
}

impl Properties for AuthProperties {
    fn emit<S: Sink>(&self, s: &mut S) {
        use PropertyId::*;
        s.prop_str(AuthenticationMethod, self.authentication_method.as_ref());
        s.prop_bytes(AuthenticationData, self.authentication_data.as_deref());
        s.prop_str(ReasonString, self.reason_string.as_ref());
        self.user_properties.emit(s);
    }
}

impl AuthProperties {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use PropertyId::*;
        let mut p = AuthProperties::default();
        let mut props = PropertyReader::new(r, PacketType::Auth)?;
        while let Some(id) = props.next()? {
            match id {
                AuthenticationMethod => {
                    set_once(&mut p.authentication_method, id, props.string(id)?)?
                }
                AuthenticationData => set_once(&mut p.authentication_data, id, props.binary(id)?)?,
                ReasonString => set_once(&mut p.reason_string, id, props.string(id)?)?,
                _ => return Err(props.not_allowed(id)),
            }
        }
        p.user_properties = props.finish();
        check_auth_pair(
            p.authentication_method.is_some(),
            p.authentication_data.is_some(),
        )?;
        Ok(p)
    }

    pub(crate) fn check(&self) -> Result<(), EncodeError> {
        check_binary(self.authentication_data.as_ref(), "authentication data")
    }
}
