//! Reason codes: one enum per packet type holding exactly the values the MQTT 5.0 spec
//! allows there, so an unknown value cannot be represented, plus [`ReasonCode`], the
//! whole table, for places that speak about any of them (errors, events).

macro_rules! reason_code_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $general:ident, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $value, )+
        }

        impl $name {
            /// The byte written on the wire.
            pub const fn value(self) -> u8 {
                self as u8
            }

            /// True for values of 0x80 and above, which report a failure.
            pub const fn is_error(self) -> bool {
                (self as u8) >= 0x80
            }

            pub(crate) const fn from_byte(byte: u8) -> Option<Self> {
                match byte {
                    $( $value => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl TryFrom<u8> for $name {
            /// The rejected byte.
            type Error = u8;
            fn try_from(byte: u8) -> Result<Self, u8> {
                Self::from_byte(byte).ok_or(byte)
            }
        }

        impl From<$name> for u8 {
            fn from(code: $name) -> u8 {
                code as u8
            }
        }

    };
}

/// A per-packet reason code enum, convertible to and from [`ReasonCode`].
macro_rules! packet_reason_code {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $general:ident, )+
        }
    ) => {
        reason_code_enum! {
            $(#[$meta])*
            $name {
                $( $(#[$vmeta])* $variant = $value => $general, )+
            }
        }

        impl From<$name> for ReasonCode {
            fn from(code: $name) -> ReasonCode {
                match code {
                    $( $name::$variant => ReasonCode::$general, )+
                }
            }
        }

        impl TryFrom<ReasonCode> for $name {
            /// The code, which this packet type cannot carry.
            type Error = ReasonCode;
            fn try_from(code: ReasonCode) -> Result<Self, ReasonCode> {
                Self::from_byte(code as u8).ok_or(code)
            }
        }
    };
    (
        $(#[$meta:meta])*
        $name:ident default $default:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $general:ident, )+
        }
    ) => {
        packet_reason_code! {
            $(#[$meta])*
            $name {
                $( $(#[$vmeta])* $variant = $value => $general, )+
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        }

    };
}

reason_code_enum! {
    /// Every reason code of MQTT 5.0 (section 2.4), whatever packet carries it.
    ///
    /// ```
    /// use mqtt_sansio::{DisconnectReasonCode, ReasonCode};
    /// let r = ReasonCode::from(DisconnectReasonCode::KeepAliveTimeout);
    /// assert_eq!(r.value(), 0x8D);
    /// assert_eq!(DisconnectReasonCode::try_from(r), Ok(DisconnectReasonCode::KeepAliveTimeout));
    /// ```
    ReasonCode {
        /// 0x00: success, normal disconnection or granted QoS 0.
        Success = 0x00 => Success,
        /// 0x01: granted QoS 1.
        GrantedQoS1 = 0x01 => GrantedQoS1,
        /// 0x02: granted QoS 2.
        GrantedQoS2 = 0x02 => GrantedQoS2,
        /// 0x04: disconnect and publish the Will Message.
        DisconnectWithWillMessage = 0x04 => DisconnectWithWillMessage,
        /// 0x10: accepted, but nobody subscribes to the topic.
        NoMatchingSubscribers = 0x10 => NoMatchingSubscribers,
        /// 0x11: no such subscription existed.
        NoSubscriptionExisted = 0x11 => NoSubscriptionExisted,
        /// 0x18: continue the authentication exchange.
        ContinueAuthentication = 0x18 => ContinueAuthentication,
        /// 0x19: start a re-authentication.
        ReAuthenticate = 0x19 => ReAuthenticate,
        /// 0x80: unspecified error.
        UnspecifiedError = 0x80 => UnspecifiedError,
        /// 0x81: malformed packet.
        MalformedPacket = 0x81 => MalformedPacket,
        /// 0x82: protocol error.
        ProtocolError = 0x82 => ProtocolError,
        /// 0x83: implementation specific error.
        ImplementationSpecificError = 0x83 => ImplementationSpecificError,
        /// 0x84: unsupported protocol version.
        UnsupportedProtocolVersion = 0x84 => UnsupportedProtocolVersion,
        /// 0x85: client identifier not valid.
        ClientIdentifierNotValid = 0x85 => ClientIdentifierNotValid,
        /// 0x86: bad user name or password.
        BadUserNameOrPassword = 0x86 => BadUserNameOrPassword,
        /// 0x87: not authorized.
        NotAuthorized = 0x87 => NotAuthorized,
        /// 0x88: server unavailable.
        ServerUnavailable = 0x88 => ServerUnavailable,
        /// 0x89: server busy.
        ServerBusy = 0x89 => ServerBusy,
        /// 0x8A: banned.
        Banned = 0x8A => Banned,
        /// 0x8B: server shutting down.
        ServerShuttingDown = 0x8B => ServerShuttingDown,
        /// 0x8C: bad authentication method.
        BadAuthenticationMethod = 0x8C => BadAuthenticationMethod,
        /// 0x8D: keep alive timeout.
        KeepAliveTimeout = 0x8D => KeepAliveTimeout,
        /// 0x8E: session taken over.
        SessionTakenOver = 0x8E => SessionTakenOver,
        /// 0x8F: topic filter invalid.
        TopicFilterInvalid = 0x8F => TopicFilterInvalid,
        /// 0x90: topic name invalid.
        TopicNameInvalid = 0x90 => TopicNameInvalid,
        /// 0x91: packet identifier in use.
        PacketIdentifierInUse = 0x91 => PacketIdentifierInUse,
        /// 0x92: packet identifier not found.
        PacketIdentifierNotFound = 0x92 => PacketIdentifierNotFound,
        /// 0x93: receive maximum exceeded.
        ReceiveMaximumExceeded = 0x93 => ReceiveMaximumExceeded,
        /// 0x94: topic alias invalid.
        TopicAliasInvalid = 0x94 => TopicAliasInvalid,
        /// 0x95: packet too large.
        PacketTooLarge = 0x95 => PacketTooLarge,
        /// 0x96: message rate too high.
        MessageRateTooHigh = 0x96 => MessageRateTooHigh,
        /// 0x97: quota exceeded.
        QuotaExceeded = 0x97 => QuotaExceeded,
        /// 0x98: administrative action.
        AdministrativeAction = 0x98 => AdministrativeAction,
        /// 0x99: payload format invalid.
        PayloadFormatInvalid = 0x99 => PayloadFormatInvalid,
        /// 0x9A: retain not supported.
        RetainNotSupported = 0x9A => RetainNotSupported,
        /// 0x9B: QoS not supported.
        QoSNotSupported = 0x9B => QoSNotSupported,
        /// 0x9C: use another server.
        UseAnotherServer = 0x9C => UseAnotherServer,
        /// 0x9D: server moved.
        ServerMoved = 0x9D => ServerMoved,
        /// 0x9E: shared subscriptions not supported.
        SharedSubscriptionsNotSupported = 0x9E => SharedSubscriptionsNotSupported,
        /// 0x9F: connection rate exceeded.
        ConnectionRateExceeded = 0x9F => ConnectionRateExceeded,
        /// 0xA0: maximum connect time.
        MaximumConnectTime = 0xA0 => MaximumConnectTime,
        /// 0xA1: subscription identifiers not supported.
        SubscriptionIdentifiersNotSupported = 0xA1 => SubscriptionIdentifiersNotSupported,
        /// 0xA2: wildcard subscriptions not supported.
        WildcardSubscriptionsNotSupported = 0xA2 => WildcardSubscriptionsNotSupported,
    }
}

packet_reason_code! {
    /// The result of a connection attempt, carried by CONNACK.
    ///
    /// In MQTT 3.1.1 the six return codes map onto `Success`,
    /// `UnsupportedProtocolVersion` (1), `ClientIdentifierNotValid` (2),
    /// `ServerUnavailable` (3), `BadUserNameOrPassword` (4) and `NotAuthorized` (5).
    ConnectReasonCode {
        /// The connection is accepted.
        Success = 0x00 => Success,
        /// Unspecified error.
        UnspecifiedError = 0x80 => UnspecifiedError,
        /// The CONNECT could not be parsed.
        MalformedPacket = 0x81 => MalformedPacket,
        /// The CONNECT broke the protocol.
        ProtocolError = 0x82 => ProtocolError,
        /// Valid but refused by this implementation.
        ImplementationSpecificError = 0x83 => ImplementationSpecificError,
        /// The server does not speak the requested protocol version.
        UnsupportedProtocolVersion = 0x84 => UnsupportedProtocolVersion,
        /// The client identifier is not allowed.
        ClientIdentifierNotValid = 0x85 => ClientIdentifierNotValid,
        /// The user name or password is not accepted.
        BadUserNameOrPassword = 0x86 => BadUserNameOrPassword,
        /// The client is not authorized to connect.
        NotAuthorized = 0x87 => NotAuthorized,
        /// The server is not available.
        ServerUnavailable = 0x88 => ServerUnavailable,
        /// The server is busy; try again later.
        ServerBusy = 0x89 => ServerBusy,
        /// The client is banned.
        Banned = 0x8A => Banned,
        /// The authentication method is not supported.
        BadAuthenticationMethod = 0x8C => BadAuthenticationMethod,
        /// The Will Topic is not accepted.
        TopicNameInvalid = 0x90 => TopicNameInvalid,
        /// The CONNECT exceeded the maximum packet size.
        PacketTooLarge = 0x95 => PacketTooLarge,
        /// A quota has been exceeded.
        QuotaExceeded = 0x97 => QuotaExceeded,
        /// The Will payload does not match its Payload Format Indicator.
        PayloadFormatInvalid = 0x99 => PayloadFormatInvalid,
        /// The server does not support retained messages but the Will is retained.
        RetainNotSupported = 0x9A => RetainNotSupported,
        /// The server does not support the Will QoS.
        QoSNotSupported = 0x9B => QoSNotSupported,
        /// Use another server (temporarily); see Server Reference.
        UseAnotherServer = 0x9C => UseAnotherServer,
        /// Use another server (permanently); see Server Reference.
        ServerMoved = 0x9D => ServerMoved,
        /// The connection rate limit has been exceeded.
        ConnectionRateExceeded = 0x9F => ConnectionRateExceeded,
    }
}

packet_reason_code! {
    /// The result of a QoS 1 PUBLISH, carried by PUBACK.
    PubAckReasonCode {
        /// The message is accepted.
        Success = 0x00 => Success,
        /// Accepted, but nobody subscribes to the topic.
        NoMatchingSubscribers = 0x10 => NoMatchingSubscribers,
        /// Not accepted; no reason given.
        UnspecifiedError = 0x80 => UnspecifiedError,
        /// Valid but refused by this implementation.
        ImplementationSpecificError = 0x83 => ImplementationSpecificError,
        /// The publisher is not authorized.
        NotAuthorized = 0x87 => NotAuthorized,
        /// The topic name is not accepted.
        TopicNameInvalid = 0x90 => TopicNameInvalid,
        /// The packet identifier is already in use.
        PacketIdentifierInUse = 0x91 => PacketIdentifierInUse,
        /// A quota has been exceeded.
        QuotaExceeded = 0x97 => QuotaExceeded,
        /// The payload does not match its Payload Format Indicator.
        PayloadFormatInvalid = 0x99 => PayloadFormatInvalid,
    }
}

packet_reason_code! {
    /// The first answer to a QoS 2 PUBLISH, carried by PUBREC.
    PubRecReasonCode {
        /// The message is accepted.
        Success = 0x00 => Success,
        /// Accepted, but nobody subscribes to the topic.
        NoMatchingSubscribers = 0x10 => NoMatchingSubscribers,
        /// Not accepted; no reason given.
        UnspecifiedError = 0x80 => UnspecifiedError,
        /// Valid but refused by this implementation.
        ImplementationSpecificError = 0x83 => ImplementationSpecificError,
        /// The publisher is not authorized.
        NotAuthorized = 0x87 => NotAuthorized,
        /// The topic name is not accepted.
        TopicNameInvalid = 0x90 => TopicNameInvalid,
        /// The packet identifier is already in use.
        PacketIdentifierInUse = 0x91 => PacketIdentifierInUse,
        /// A quota has been exceeded.
        QuotaExceeded = 0x97 => QuotaExceeded,
        /// The payload does not match its Payload Format Indicator.
        PayloadFormatInvalid = 0x99 => PayloadFormatInvalid,
    }
}

packet_reason_code! {
    /// The release of a QoS 2 message, carried by PUBREL.
    PubRelReasonCode {
        /// The message is released.
        Success = 0x00 => Success,
        /// The packet identifier is not known (state lost).
        PacketIdentifierNotFound = 0x92 => PacketIdentifierNotFound,
    }
}

packet_reason_code! {
    /// The completion of a QoS 2 message, carried by PUBCOMP.
    PubCompReasonCode {
        /// The message flow is complete.
        Success = 0x00 => Success,
        /// The packet identifier is not known (state lost).
        PacketIdentifierNotFound = 0x92 => PacketIdentifierNotFound,
    }
}

packet_reason_code! {
    /// The result of one subscription, carried by SUBACK.
    ///
    /// In MQTT 3.1.1 only the three grants and `UnspecifiedError` (0x80, "Failure") exist.
    SubAckReasonCode {
        /// Subscribed with maximum QoS 0.
        GrantedQoS0 = 0x00 => Success,
        /// Subscribed with maximum QoS 1.
        GrantedQoS1 = 0x01 => GrantedQoS1,
        /// Subscribed with maximum QoS 2.
        GrantedQoS2 = 0x02 => GrantedQoS2,
        /// Not subscribed; no reason given.
        UnspecifiedError = 0x80 => UnspecifiedError,
        /// Valid but refused by this implementation.
        ImplementationSpecificError = 0x83 => ImplementationSpecificError,
        /// The client is not authorized to subscribe.
        NotAuthorized = 0x87 => NotAuthorized,
        /// The topic filter is not accepted.
        TopicFilterInvalid = 0x8F => TopicFilterInvalid,
        /// The packet identifier is already in use.
        PacketIdentifierInUse = 0x91 => PacketIdentifierInUse,
        /// A quota has been exceeded.
        QuotaExceeded = 0x97 => QuotaExceeded,
        /// Shared subscriptions are not supported.
        SharedSubscriptionsNotSupported = 0x9E => SharedSubscriptionsNotSupported,
        /// Subscription identifiers are not supported.
        SubscriptionIdentifiersNotSupported = 0xA1 => SubscriptionIdentifiersNotSupported,
        /// Wildcard subscriptions are not supported.
        WildcardSubscriptionsNotSupported = 0xA2 => WildcardSubscriptionsNotSupported,
    }
}

packet_reason_code! {
    /// The result of one unsubscription, carried by UNSUBACK (MQTT 5.0 only).
    UnsubAckReasonCode {
        /// The subscription is deleted.
        Success = 0x00 => Success,
        /// No matching subscription existed.
        NoSubscriptionExisted = 0x11 => NoSubscriptionExisted,
        /// Not unsubscribed; no reason given.
        UnspecifiedError = 0x80 => UnspecifiedError,
        /// Valid but refused by this implementation.
        ImplementationSpecificError = 0x83 => ImplementationSpecificError,
        /// The client is not authorized to unsubscribe.
        NotAuthorized = 0x87 => NotAuthorized,
        /// The topic filter is not accepted.
        TopicFilterInvalid = 0x8F => TopicFilterInvalid,
        /// The packet identifier is already in use.
        PacketIdentifierInUse = 0x91 => PacketIdentifierInUse,
    }
}

packet_reason_code! {
    /// Why a connection ends, carried by DISCONNECT (MQTT 5.0 only).
    DisconnectReasonCode default NormalDisconnection {
        /// Close normally; the Will is not published.
        NormalDisconnection = 0x00 => Success,
        /// Close and publish the Will Message (client only).
        DisconnectWithWillMessage = 0x04 => DisconnectWithWillMessage,
        /// Unspecified error.
        UnspecifiedError = 0x80 => UnspecifiedError,
        /// A packet could not be parsed.
        MalformedPacket = 0x81 => MalformedPacket,
        /// A packet broke the protocol.
        ProtocolError = 0x82 => ProtocolError,
        /// Valid but refused by this implementation.
        ImplementationSpecificError = 0x83 => ImplementationSpecificError,
        /// The request is not authorized.
        NotAuthorized = 0x87 => NotAuthorized,
        /// The server is busy.
        ServerBusy = 0x89 => ServerBusy,
        /// The server is shutting down.
        ServerShuttingDown = 0x8B => ServerShuttingDown,
        /// The authentication method is not supported or has changed.
        BadAuthenticationMethod = 0x8C => BadAuthenticationMethod,
        /// Nothing was received for 1.5 times the keep alive.
        KeepAliveTimeout = 0x8D => KeepAliveTimeout,
        /// Another connection with the same client identifier took over.
        SessionTakenOver = 0x8E => SessionTakenOver,
        /// A topic filter is not accepted.
        TopicFilterInvalid = 0x8F => TopicFilterInvalid,
        /// A topic name is not accepted.
        TopicNameInvalid = 0x90 => TopicNameInvalid,
        /// More QoS 1/2 PUBLISH packets arrived than Receive Maximum allows.
        ReceiveMaximumExceeded = 0x93 => ReceiveMaximumExceeded,
        /// A topic alias was 0, above the maximum, or not yet defined.
        TopicAliasInvalid = 0x94 => TopicAliasInvalid,
        /// A packet exceeded the maximum packet size.
        PacketTooLarge = 0x95 => PacketTooLarge,
        /// The message rate is too high.
        MessageRateTooHigh = 0x96 => MessageRateTooHigh,
        /// A quota has been exceeded.
        QuotaExceeded = 0x97 => QuotaExceeded,
        /// Closed by an administrative action.
        AdministrativeAction = 0x98 => AdministrativeAction,
        /// A payload does not match its Payload Format Indicator.
        PayloadFormatInvalid = 0x99 => PayloadFormatInvalid,
        /// Retained messages are not supported.
        RetainNotSupported = 0x9A => RetainNotSupported,
        /// A QoS above the maximum was used.
        QoSNotSupported = 0x9B => QoSNotSupported,
        /// Use another server (temporarily); see Server Reference.
        UseAnotherServer = 0x9C => UseAnotherServer,
        /// Use another server (permanently); see Server Reference.
        ServerMoved = 0x9D => ServerMoved,
        /// Shared subscriptions are not supported.
        SharedSubscriptionsNotSupported = 0x9E => SharedSubscriptionsNotSupported,
        /// The connection rate limit has been exceeded.
        ConnectionRateExceeded = 0x9F => ConnectionRateExceeded,
        /// The maximum connection time has passed.
        MaximumConnectTime = 0xA0 => MaximumConnectTime,
        /// Subscription identifiers are not supported.
        SubscriptionIdentifiersNotSupported = 0xA1 => SubscriptionIdentifiersNotSupported,
        /// Wildcard subscriptions are not supported.
        WildcardSubscriptionsNotSupported = 0xA2 => WildcardSubscriptionsNotSupported,
    }
}

packet_reason_code! {
    /// The step of an enhanced authentication exchange, carried by AUTH (MQTT 5.0 only).
    AuthReasonCode default Success {
        /// Authentication succeeded.
        Success = 0x00 => Success,
        /// Another step of the exchange follows.
        ContinueAuthentication = 0x18 => ContinueAuthentication,
        /// The client starts a re-authentication.
        ReAuthenticate = 0x19 => ReAuthenticate,
    }
}

impl ConnectReasonCode {
    /// The MQTT 3.1.1 return code for this reason, if 3.1.1 has one.
    pub const fn v311_return_code(self) -> Option<u8> {
        match self {
            ConnectReasonCode::Success => Some(0),
            ConnectReasonCode::UnsupportedProtocolVersion => Some(1),
            ConnectReasonCode::ClientIdentifierNotValid => Some(2),
            ConnectReasonCode::ServerUnavailable => Some(3),
            ConnectReasonCode::BadUserNameOrPassword => Some(4),
            ConnectReasonCode::NotAuthorized => Some(5),
            _ => None,
        }
    }

    /// The reason for an MQTT 3.1.1 return code (0 to 5).
    pub const fn from_v311_return_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => ConnectReasonCode::Success,
            1 => ConnectReasonCode::UnsupportedProtocolVersion,
            2 => ConnectReasonCode::ClientIdentifierNotValid,
            3 => ConnectReasonCode::ServerUnavailable,
            4 => ConnectReasonCode::BadUserNameOrPassword,
            5 => ConnectReasonCode::NotAuthorized,
            _ => return None,
        })
    }
}

impl SubAckReasonCode {
    /// The grant for a QoS.
    pub const fn granted(qos: crate::QoS) -> Self {
        match qos {
            crate::QoS::AtMostOnce => SubAckReasonCode::GrantedQoS0,
            crate::QoS::AtLeastOnce => SubAckReasonCode::GrantedQoS1,
            crate::QoS::ExactlyOnce => SubAckReasonCode::GrantedQoS2,
        }
    }

    /// The QoS granted, or `None` for a failure.
    pub const fn granted_qos(self) -> Option<crate::QoS> {
        match self {
            SubAckReasonCode::GrantedQoS0 => Some(crate::QoS::AtMostOnce),
            SubAckReasonCode::GrantedQoS1 => Some(crate::QoS::AtLeastOnce),
            SubAckReasonCode::GrantedQoS2 => Some(crate::QoS::ExactlyOnce),
            _ => None,
        }
    }

    /// Whether MQTT 3.1.1 has this return code (0x00, 0x01, 0x02, 0x80).
    pub(crate) const fn exists_in_v311(self) -> bool {
        matches!(
            self,
            SubAckReasonCode::GrantedQoS0
                | SubAckReasonCode::GrantedQoS1
                | SubAckReasonCode::GrantedQoS2
                | SubAckReasonCode::UnspecifiedError
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips_or_is_rejected() {
        for b in 0..=255u8 {
            if let Ok(r) = ReasonCode::try_from(b) {
                assert_eq!(r.value(), b);
            }
            if let Ok(c) = DisconnectReasonCode::try_from(b) {
                assert_eq!(ReasonCode::from(c).value(), b);
                assert_eq!(c.value(), b);
            }
            if let Ok(c) = SubAckReasonCode::try_from(b) {
                assert_eq!(ReasonCode::from(c).value(), b);
            }
        }
        assert!(ConnectReasonCode::try_from(0x8B).is_err());
        assert!(DisconnectReasonCode::try_from(0x84).is_err());
    }

    #[test]
    fn v311_return_codes_round_trip() {
        for code in 0..=5 {
            let r = ConnectReasonCode::from_v311_return_code(code).unwrap();
            assert_eq!(r.v311_return_code(), Some(code));
        }
        assert_eq!(ConnectReasonCode::from_v311_return_code(6), None);
        assert_eq!(ConnectReasonCode::Banned.v311_return_code(), None);
    }
}
