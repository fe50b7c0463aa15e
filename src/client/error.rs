//! Faults of the caller: what the commands of a [`Client`](super::Client) refuse.

use crate::codec::{DisconnectReasonCode, EncodeError};
use crate::types::QoS;

/// Why `publish` refused a message; nothing was queued or sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The queue of waiting messages is at its configured bound.
    #[error("publish queue full ({capacity} messages)")]
    QueueFull {
        /// The bound.
        capacity: usize,
    },
    /// The PUBLISH is larger than the server's Maximum Packet Size ([MQTT-3.2.2-15]).
    #[error("packet of {size} bytes exceeds the server maximum of {maximum}")]
    PacketTooLarge {
        /// The encoded size.
        size: usize,
        /// The server's maximum.
        maximum: u32,
    },
    /// The QoS is above the server's Maximum QoS ([MQTT-3.2.2-11]).
    #[error("qos {requested:?} above the server maximum {maximum:?}")]
    QoSNotSupported {
        /// The QoS asked for.
        requested: QoS,
        /// The server's maximum.
        maximum: QoS,
    },
    /// Retain was asked for and the server has no retained messages ([MQTT-3.2.2-14]).
    #[error("the server does not support retained messages")]
    RetainNotSupported,
    /// All 65,535 packet identifiers are in flight.
    #[error("all packet identifiers are in use")]
    PacketIdsExhausted,
    /// A Topic Alias set by the application is above the server's Topic Alias Maximum
    /// ([MQTT-3.2.2-17]).
    #[error("topic alias {alias} above the server maximum {maximum}")]
    TopicAliasTooLarge {
        /// The alias.
        alias: u16,
        /// The server's maximum.
        maximum: u16,
    },
    /// The topic is empty.
    #[error("empty topic")]
    EmptyTopic,
    /// Properties the client may not set: Topic Alias (managed by the client) or
    /// Subscription Identifiers (server to client only).
    #[error("property not allowed on an outgoing publish: {0}")]
    PropertyNotAllowed(&'static str),
    /// The PUBLISH cannot be encoded for this protocol version.
    #[error("invalid publish: {0}")]
    Invalid(EncodeError),
}

/// Why `subscribe` or `unsubscribe` refused a request; nothing was sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// No filters were given.
    #[error("no topic filters")]
    NoFilters,
    /// A filter uses wildcards and the server does not support them.
    #[error("the server does not support wildcard subscriptions")]
    WildcardsNotSupported,
    /// A filter is shared and the server does not support shared subscriptions.
    #[error("the server does not support shared subscriptions")]
    SharedNotSupported,
    /// A Subscription Identifier was set and the server does not support them.
    #[error("the server does not support subscription identifiers")]
    SubscriptionIdentifiersNotSupported,
    /// The packet is larger than the server's Maximum Packet Size ([MQTT-3.2.2-15]).
    #[error("packet of {size} bytes exceeds the server maximum of {maximum}")]
    PacketTooLarge {
        /// The encoded size.
        size: usize,
        /// The server's maximum.
        maximum: u32,
    },
    /// All 65,535 packet identifiers are in flight.
    #[error("all packet identifiers are in use")]
    PacketIdsExhausted,
    /// The packet cannot be encoded for this protocol version (for example MQTT 5
    /// options on 3.1.1).
    #[error("invalid request: {0}")]
    Invalid(EncodeError),
}

/// A command that does not fit the state of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The transport is already open (connecting or connected).
    #[error("already connected")]
    AlreadyConnected,
    /// There is no connection.
    #[error("not connected")]
    NotConnected,
    /// The reason code is one only a server sends (MQTT 5.0 section 3.14.2.1).
    #[error("disconnect reason {0:?} is sent by servers only")]
    ServerOnlyReason(DisconnectReasonCode),
    /// MQTT 5: a DISCONNECT may not set a Session Expiry Interval when CONNECT had 0.
    #[error("session expiry cannot be set on disconnect when connect had none")]
    SessionExpiryWasZero,
}
