//! The property set of each packet type, holding exactly the properties the spec
//! allows there. Each set lists its properties once, in ascending identifier order, in
//! `emit`; `read` refuses the rest.

use super::{
    PayloadFormat, PropertyId, PropertyReader, PropertySet, SubscriptionIds, UserProperties,
    WireProperties, check_binary, private, set_once,
};
use crate::codec::primitives::Sink;
use crate::codec::{DecodeError, EncodeError};
use crate::string::MqttString;
use crate::topic::TopicName;
use crate::types::{QoS, SubscriptionId};
use bytes::Bytes;
use core::num::{NonZeroU16, NonZeroU32};

/// Defines a property set: the struct, its empty value, and the sealed trait impls.
macro_rules! property_set {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $empty:expr, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )+
        }

        impl $name {
            /// No properties.
            pub const fn new() -> Self {
                $name { $( $field: $empty, )+ }
            }
        }

        impl private::Sealed for $name {}

        impl PropertySet for $name {
            fn empty() -> &'static Self {
                static EMPTY: $name = $name::new();
                &EMPTY
            }

            fn is_empty(&self) -> bool {
                self == Self::empty()
            }
        }
    };
}

/// "It is a Protocol Error to include Authentication Data if there is no
/// Authentication Method" (5.0 sections 3.1.2.11.10, 3.2.2.3.18, 3.15.2.2.3).
fn check_auth_pair(method: &Option<MqttString>, data: &Option<Bytes>) -> Result<(), DecodeError> {
    if data.is_some() && method.is_none() {
        return Err(DecodeError::MissingAuthenticationMethod);
    }
    Ok(())
}

fn encode_auth_pair(method: &Option<MqttString>, data: &Option<Bytes>) -> Result<(), EncodeError> {
    check_binary(data.as_ref(), "authentication data")?;
    if data.is_some() && method.is_none() {
        return Err(EncodeError::InvalidPacket {
            reason: "authentication data without an authentication method",
        });
    }
    Ok(())
}

property_set! {
    /// Properties of CONNECT.
    ConnectProperties {
        /// Seconds the session outlives the connection (absent: 0).
        session_expiry_interval: Option<u32> = None,
        /// QoS 1/2 messages the client accepts in flight (absent: 65,535).
        receive_maximum: Option<NonZeroU16> = None,
        /// Largest packet the client accepts (absent: no limit).
        maximum_packet_size: Option<NonZeroU32> = None,
        /// Highest topic alias the client accepts (absent: 0, no aliases).
        topic_alias_maximum: Option<u16> = None,
        /// Ask the server for Response Information in CONNACK.
        request_response_information: Option<bool> = None,
        /// Whether the server may send reason strings and user properties on failures
        /// (absent: true).
        request_problem_information: Option<bool> = None,
        /// Enhanced authentication method.
        authentication_method: Option<MqttString> = None,
        /// Enhanced authentication data.
        authentication_data: Option<Bytes> = None,
        /// User Properties.
        user_properties: UserProperties = UserProperties::new(),
    }
}

impl WireProperties for ConnectProperties {
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

    fn read(&mut self, id: PropertyId, props: &mut PropertyReader<'_>) -> Result<(), DecodeError> {
        use PropertyId::*;
        match id {
            SessionExpiryInterval => {
                set_once(&mut self.session_expiry_interval, id, props.u32(id)?)
            }
            ReceiveMaximum => set_once(&mut self.receive_maximum, id, props.nonzero_u16(id)?),
            MaximumPacketSize => {
                set_once(&mut self.maximum_packet_size, id, props.nonzero_u32(id)?)
            }
            TopicAliasMaximum => set_once(&mut self.topic_alias_maximum, id, props.u16(id)?),
            RequestResponseInformation => {
                set_once(&mut self.request_response_information, id, props.flag(id)?)
            }
            RequestProblemInformation => {
                set_once(&mut self.request_problem_information, id, props.flag(id)?)
            }
            AuthenticationMethod => {
                set_once(&mut self.authentication_method, id, props.string(id)?)
            }
            AuthenticationData => set_once(&mut self.authentication_data, id, props.binary(id)?),
            _ => Err(props.not_allowed(id)),
        }
    }

    fn set_user_properties(&mut self, up: UserProperties) {
        self.user_properties = up;
    }

    fn validate(&self) -> Result<(), DecodeError> {
        check_auth_pair(&self.authentication_method, &self.authentication_data)
    }

    fn check(&self) -> Result<(), EncodeError> {
        encode_auth_pair(&self.authentication_method, &self.authentication_data)
    }
}

property_set! {
    /// Properties of the Will in CONNECT.
    WillProperties {
        /// Whether the Will payload is UTF-8.
        payload_format_indicator: Option<PayloadFormat> = None,
        /// Lifetime of the Will Message in seconds.
        message_expiry_interval: Option<u32> = None,
        /// MIME type of the Will payload.
        content_type: Option<MqttString> = None,
        /// Response topic of the Will Message.
        response_topic: Option<TopicName> = None,
        /// Correlation data of the Will Message.
        correlation_data: Option<Bytes> = None,
        /// Seconds the server waits after the connection closes before publishing the
        /// Will.
        will_delay_interval: Option<u32> = None,
        /// User Properties of the Will Message.
        user_properties: UserProperties = UserProperties::new(),
    }
}

impl WireProperties for WillProperties {
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

    fn read(&mut self, id: PropertyId, props: &mut PropertyReader<'_>) -> Result<(), DecodeError> {
        use PropertyId::*;
        match id {
            PayloadFormatIndicator => set_once(
                &mut self.payload_format_indicator,
                id,
                props.payload_format()?,
            ),
            MessageExpiryInterval => {
                set_once(&mut self.message_expiry_interval, id, props.u32(id)?)
            }
            ContentType => set_once(&mut self.content_type, id, props.string(id)?),
            ResponseTopic => set_once(&mut self.response_topic, id, props.topic_name(id)?),
            CorrelationData => set_once(&mut self.correlation_data, id, props.binary(id)?),
            WillDelayInterval => set_once(&mut self.will_delay_interval, id, props.u32(id)?),
            _ => Err(props.not_allowed(id)),
        }
    }

    fn set_user_properties(&mut self, up: UserProperties) {
        self.user_properties = up;
    }

    fn check(&self) -> Result<(), EncodeError> {
        check_binary(self.correlation_data.as_ref(), "correlation data")
    }
}

property_set! {
    /// Properties of CONNACK.
    ConnAckProperties {
        /// Session expiry the server uses instead of the client's.
        session_expiry_interval: Option<u32> = None,
        /// QoS 1/2 messages the server accepts in flight (absent: 65,535).
        receive_maximum: Option<NonZeroU16> = None,
        /// Highest QoS the server supports: 0 or 1 (absent: 2).
        maximum_qos: Option<QoS> = None,
        /// Whether retained messages are supported (absent: true).
        retain_available: Option<bool> = None,
        /// Largest packet the server accepts (absent: no limit).
        maximum_packet_size: Option<NonZeroU32> = None,
        /// Client identifier assigned when the client sent an empty one.
        assigned_client_identifier: Option<MqttString> = None,
        /// Highest topic alias the server accepts (absent: 0).
        topic_alias_maximum: Option<u16> = None,
        /// Human-readable diagnostic.
        reason_string: Option<MqttString> = None,
        /// User Properties.
        user_properties: UserProperties = UserProperties::new(),
        /// Whether wildcard subscriptions are supported (absent: true).
        wildcard_subscription_available: Option<bool> = None,
        /// Whether subscription identifiers are supported (absent: true).
        subscription_identifiers_available: Option<bool> = None,
        /// Whether shared subscriptions are supported (absent: true).
        shared_subscription_available: Option<bool> = None,
        /// Keep alive the client must use instead of its own.
        server_keep_alive: Option<u16> = None,
        /// Basis for response topics.
        response_information: Option<MqttString> = None,
        /// Another server the client should use.
        server_reference: Option<MqttString> = None,
        /// Enhanced authentication method.
        authentication_method: Option<MqttString> = None,
        /// Enhanced authentication data.
        authentication_data: Option<Bytes> = None,
    }
}

impl WireProperties for ConnAckProperties {
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

    fn read(&mut self, id: PropertyId, props: &mut PropertyReader<'_>) -> Result<(), DecodeError> {
        use PropertyId::*;
        match id {
            SessionExpiryInterval => {
                set_once(&mut self.session_expiry_interval, id, props.u32(id)?)
            }
            ReceiveMaximum => set_once(&mut self.receive_maximum, id, props.nonzero_u16(id)?),
            MaximumQoS => {
                // 5.0 section 3.2.2.3.4: only 0 or 1.
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
                set_once(&mut self.maximum_qos, id, qos)
            }
            RetainAvailable => set_once(&mut self.retain_available, id, props.flag(id)?),
            MaximumPacketSize => {
                set_once(&mut self.maximum_packet_size, id, props.nonzero_u32(id)?)
            }
            AssignedClientIdentifier => {
                set_once(&mut self.assigned_client_identifier, id, props.string(id)?)
            }
            TopicAliasMaximum => set_once(&mut self.topic_alias_maximum, id, props.u16(id)?),
            ReasonString => set_once(&mut self.reason_string, id, props.string(id)?),
            WildcardSubscriptionAvailable => set_once(
                &mut self.wildcard_subscription_available,
                id,
                props.flag(id)?,
            ),
            SubscriptionIdentifierAvailable => set_once(
                &mut self.subscription_identifiers_available,
                id,
                props.flag(id)?,
            ),
            SharedSubscriptionAvailable => {
                set_once(&mut self.shared_subscription_available, id, props.flag(id)?)
            }
            ServerKeepAlive => set_once(&mut self.server_keep_alive, id, props.u16(id)?),
            ResponseInformation => set_once(&mut self.response_information, id, props.string(id)?),
            ServerReference => set_once(&mut self.server_reference, id, props.string(id)?),
            AuthenticationMethod => {
                set_once(&mut self.authentication_method, id, props.string(id)?)
            }
            AuthenticationData => set_once(&mut self.authentication_data, id, props.binary(id)?),
            _ => Err(props.not_allowed(id)),
        }
    }

    fn set_user_properties(&mut self, up: UserProperties) {
        self.user_properties = up;
    }

    fn validate(&self) -> Result<(), DecodeError> {
        check_auth_pair(&self.authentication_method, &self.authentication_data)
    }

    fn check(&self) -> Result<(), EncodeError> {
        if self.maximum_qos == Some(QoS::ExactlyOnce) {
            return Err(EncodeError::InvalidPacket {
                reason: "maximum qos must be 0 or 1",
            });
        }
        encode_auth_pair(&self.authentication_method, &self.authentication_data)
    }
}

property_set! {
    /// Properties of PUBLISH.
    PublishProperties {
        /// Whether the payload is UTF-8.
        payload_format_indicator: Option<PayloadFormat> = None,
        /// Lifetime of the message in seconds.
        message_expiry_interval: Option<u32> = None,
        /// Topic alias standing for the topic name on this connection.
        topic_alias: Option<NonZeroU16> = None,
        /// Topic for a response.
        response_topic: Option<TopicName> = None,
        /// Correlates a response with its request.
        correlation_data: Option<Bytes> = None,
        /// User Properties.
        user_properties: UserProperties = UserProperties::new(),
        /// Identifiers of the subscriptions that matched (server to client only).
        subscription_identifiers: SubscriptionIds = SubscriptionIds::new(),
        /// MIME type of the payload.
        content_type: Option<MqttString> = None,
    }
}

impl WireProperties for PublishProperties {
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

    #[inline]
    fn read(&mut self, id: PropertyId, props: &mut PropertyReader<'_>) -> Result<(), DecodeError> {
        use PropertyId::*;
        match id {
            PayloadFormatIndicator => set_once(
                &mut self.payload_format_indicator,
                id,
                props.payload_format()?,
            ),
            MessageExpiryInterval => {
                set_once(&mut self.message_expiry_interval, id, props.u32(id)?)
            }
            // [MQTT-3.3.2-8]: a Topic Alias of 0 is not permitted.
            TopicAlias => set_once(&mut self.topic_alias, id, props.nonzero_u16(id)?),
            // [MQTT-3.3.2-13], [MQTT-3.3.2-14]: a UTF-8 string without wildcards.
            ResponseTopic => set_once(&mut self.response_topic, id, props.topic_name(id)?),
            CorrelationData => set_once(&mut self.correlation_data, id, props.binary(id)?),
            // The only property besides User Property that may repeat.
            SubscriptionIdentifier => {
                self.subscription_identifiers.push(props.subscription_id()?);
                Ok(())
            }
            // [MQTT-3.3.2-19]
            ContentType => set_once(&mut self.content_type, id, props.string(id)?),
            _ => Err(props.not_allowed(id)),
        }
    }

    fn set_user_properties(&mut self, up: UserProperties) {
        self.user_properties = up;
    }

    fn check(&self) -> Result<(), EncodeError> {
        check_binary(self.correlation_data.as_ref(), "correlation data")
    }
}

property_set! {
    /// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK.
    AckProperties {
        /// Human-readable diagnostic.
        reason_string: Option<MqttString> = None,
        /// User Properties.
        user_properties: UserProperties = UserProperties::new(),
    }
}

impl WireProperties for AckProperties {
    fn emit<S: Sink>(&self, s: &mut S) {
        s.prop_str(PropertyId::ReasonString, self.reason_string.as_ref());
        self.user_properties.emit(s);
    }

    fn read(&mut self, id: PropertyId, props: &mut PropertyReader<'_>) -> Result<(), DecodeError> {
        match id {
            PropertyId::ReasonString => set_once(&mut self.reason_string, id, props.string(id)?),
            _ => Err(props.not_allowed(id)),
        }
    }

    fn set_user_properties(&mut self, up: UserProperties) {
        self.user_properties = up;
    }
}

property_set! {
    /// Properties of SUBSCRIBE.
    SubscribeProperties {
        /// Identifier the server attaches to messages delivered for these subscriptions.
        subscription_identifier: Option<SubscriptionId> = None,
        /// User Properties.
        user_properties: UserProperties = UserProperties::new(),
    }
}

impl WireProperties for SubscribeProperties {
    fn emit<S: Sink>(&self, s: &mut S) {
        if let Some(id) = self.subscription_identifier {
            s.prop_varint(PropertyId::SubscriptionIdentifier, id.get());
        }
        self.user_properties.emit(s);
    }

    fn read(&mut self, id: PropertyId, props: &mut PropertyReader<'_>) -> Result<(), DecodeError> {
        match id {
            PropertyId::SubscriptionIdentifier => set_once(
                &mut self.subscription_identifier,
                id,
                props.subscription_id()?,
            ),
            _ => Err(props.not_allowed(id)),
        }
    }

    fn set_user_properties(&mut self, up: UserProperties) {
        self.user_properties = up;
    }
}

property_set! {
    /// Properties of UNSUBSCRIBE.
    UnsubscribeProperties {
        /// User Properties.
        user_properties: UserProperties = UserProperties::new(),
    }
}

impl WireProperties for UnsubscribeProperties {
    fn emit<S: Sink>(&self, s: &mut S) {
        self.user_properties.emit(s);
    }

    fn read(&mut self, id: PropertyId, props: &mut PropertyReader<'_>) -> Result<(), DecodeError> {
        Err(props.not_allowed(id))
    }

    fn set_user_properties(&mut self, up: UserProperties) {
        self.user_properties = up;
    }
}

property_set! {
    /// Properties of DISCONNECT.
    DisconnectProperties {
        /// New session expiry (client to server only).
        session_expiry_interval: Option<u32> = None,
        /// Human-readable diagnostic.
        reason_string: Option<MqttString> = None,
        /// User Properties.
        user_properties: UserProperties = UserProperties::new(),
        /// Another server the client should use.
        server_reference: Option<MqttString> = None,
    }
}

impl WireProperties for DisconnectProperties {
    fn emit<S: Sink>(&self, s: &mut S) {
        use PropertyId::*;
        s.prop_u32(SessionExpiryInterval, self.session_expiry_interval);
        s.prop_str(ServerReference, self.server_reference.as_ref());
        s.prop_str(ReasonString, self.reason_string.as_ref());
        self.user_properties.emit(s);
    }

    fn read(&mut self, id: PropertyId, props: &mut PropertyReader<'_>) -> Result<(), DecodeError> {
        use PropertyId::*;
        match id {
            SessionExpiryInterval => {
                set_once(&mut self.session_expiry_interval, id, props.u32(id)?)
            }
            ReasonString => set_once(&mut self.reason_string, id, props.string(id)?),
            ServerReference => set_once(&mut self.server_reference, id, props.string(id)?),
            _ => Err(props.not_allowed(id)),
        }
    }

    fn set_user_properties(&mut self, up: UserProperties) {
        self.user_properties = up;
    }
}

property_set! {
    /// Properties of AUTH.
    AuthProperties {
        /// Enhanced authentication method.
        authentication_method: Option<MqttString> = None,
        /// Enhanced authentication data.
        authentication_data: Option<Bytes> = None,
        /// Human-readable diagnostic.
        reason_string: Option<MqttString> = None,
        /// User Properties.
        user_properties: UserProperties = UserProperties::new(),
    }
}

impl WireProperties for AuthProperties {
    fn emit<S: Sink>(&self, s: &mut S) {
        use PropertyId::*;
        s.prop_str(AuthenticationMethod, self.authentication_method.as_ref());
        s.prop_bytes(AuthenticationData, self.authentication_data.as_deref());
        s.prop_str(ReasonString, self.reason_string.as_ref());
        self.user_properties.emit(s);
    }

    fn read(&mut self, id: PropertyId, props: &mut PropertyReader<'_>) -> Result<(), DecodeError> {
        use PropertyId::*;
        match id {
            AuthenticationMethod => {
                set_once(&mut self.authentication_method, id, props.string(id)?)
            }
            AuthenticationData => set_once(&mut self.authentication_data, id, props.binary(id)?),
            ReasonString => set_once(&mut self.reason_string, id, props.string(id)?),
            _ => Err(props.not_allowed(id)),
        }
    }

    fn set_user_properties(&mut self, up: UserProperties) {
        self.user_properties = up;
    }

    fn validate(&self) -> Result<(), DecodeError> {
        check_auth_pair(&self.authentication_method, &self.authentication_data)
    }

    fn check(&self) -> Result<(), EncodeError> {
        check_binary(self.authentication_data.as_ref(), "authentication data")
    }
}
