//! What a [`Client`](super::Client) reports: events, handles and the values they carry.

use crate::codec::{
    AckProperties, ConnAckProperties, ConnectReasonCode, DecodeError, DisconnectReasonCode,
    PropertyBox, Publish, PublishProperties, ReasonCode, SubAckReasonCode, UnsubAckReasonCode,
    UserProperties,
};
use crate::string::MqttString;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{QoS, QosPid};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;

macro_rules! handle {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        ///
        /// Handles are scoped to the client's session and stay valid across
        /// reconnections; the wire packet identifier is an internal matter.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub(crate) u64);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }
    };
}

handle!(
    /// Names one `publish` command; its completion is [`Event::Published`].
    PublishId
);
handle!(
    /// Names one `subscribe` command; its completion is [`Event::Subscribed`].
    SubscribeId
);
handle!(
    /// Names one `unsubscribe` command; its completion is [`Event::Unsubscribed`].
    UnsubscribeId
);

/// An application message, as published or as received.
///
/// ```
/// use bytes::Bytes;
/// use mqtt_sansio::{Message, QoS};
/// let message = Message::new("sensors/t".parse().unwrap(), Bytes::from_static(b"21.5"), QoS::AtLeastOnce);
/// assert_eq!(message.topic.as_str(), "sensors/t");
/// assert!(!message.retain);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The topic.
    pub topic: TopicName,
    /// The payload.
    pub payload: Bytes,
    /// The QoS.
    pub qos: QoS,
    /// Retain (outgoing) or "is a retained message" (incoming).
    pub retain: bool,
    /// Incoming only: the server marked it as a re-delivery.
    pub dup: bool,
    /// Incoming QoS 1/2 in manual acknowledgement mode: the handle to pass to
    /// [`Client::ack`](super::Client::ack).
    pub delivery: Option<super::DeliveryId>,
    /// MQTT 5 properties.
    pub properties: PropertyBox<PublishProperties>,
}

impl Message {
    /// A non-retained message without properties.
    pub fn new(topic: TopicName, payload: Bytes, qos: QoS) -> Self {
        Message {
            topic,
            payload,
            qos,
            retain: false,
            dup: false,
            delivery: None,
            properties: PropertyBox::new(),
        }
    }

    pub(crate) fn from_publish(p: Publish) -> Self {
        Message {
            qos: p.qos(),
            topic: p.topic,
            payload: p.payload,
            retain: p.retain,
            dup: p.dup,
            delivery: None,
            properties: p.properties,
        }
    }

    /// The PUBLISH for this message with `qos_pid`.
    pub(crate) fn into_publish(self, qos_pid: QosPid) -> Publish {
        Publish {
            dup: false,
            qos_pid,
            retain: self.retain,
            topic: self.topic,
            properties: self.properties,
            payload: self.payload,
        }
    }
}

/// The server's limits and capabilities, from CONNACK (the protocol defaults before
/// the first one, and always in MQTT 3.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerLimits {
    /// QoS 1/2 messages the server accepts in flight.
    pub receive_maximum: u16,
    /// The highest QoS the server supports.
    pub maximum_qos: QoS,
    /// Whether retained messages are supported.
    pub retain_available: bool,
    /// The largest packet the server accepts.
    pub maximum_packet_size: Option<u32>,
    /// The highest Topic Alias the server accepts (0: none).
    pub topic_alias_maximum: u16,
    /// Whether wildcard subscriptions are supported.
    pub wildcard_subscription_available: bool,
    /// Whether subscription identifiers are supported.
    pub subscription_identifiers_available: bool,
    /// Whether shared subscriptions are supported.
    pub shared_subscription_available: bool,
    /// The keep alive the server imposed (Server Keep Alive), if it did.
    pub server_keep_alive: Option<u16>,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            receive_maximum: u16::MAX,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            maximum_packet_size: None,
            topic_alias_maximum: 0,
            wildcard_subscription_available: true,
            subscription_identifiers_available: true,
            shared_subscription_available: true,
            server_keep_alive: None,
        }
    }
}

impl ServerLimits {
    pub(crate) fn from_connack(p: &ConnAckProperties) -> Self {
        let d = ServerLimits::default();
        ServerLimits {
            receive_maximum: p.receive_maximum.map_or(d.receive_maximum, |r| r.get()),
            maximum_qos: p.maximum_qos.unwrap_or(d.maximum_qos),
            retain_available: p.retain_available.unwrap_or(d.retain_available),
            maximum_packet_size: p.maximum_packet_size.map(|m| m.get()),
            topic_alias_maximum: p.topic_alias_maximum.unwrap_or(0),
            wildcard_subscription_available: p.wildcard_subscription_available.unwrap_or(true),
            subscription_identifiers_available: p
                .subscription_identifiers_available
                .unwrap_or(true),
            shared_subscription_available: p.shared_subscription_available.unwrap_or(true),
            server_keep_alive: p.server_keep_alive,
        }
    }
}

/// The connection was accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Connected {
    /// The server resumed an existing session.
    pub session_present: bool,
    /// The identifier the server assigned, when the client sent an empty one.
    pub assigned_client_id: Option<MqttString>,
    /// The keep alive in force, in seconds (Server Keep Alive wins).
    pub keep_alive: u16,
    /// The server's limits.
    pub limits: ServerLimits,
    /// All CONNACK properties (response information, user properties, ...).
    pub properties: PropertyBox<ConnAckProperties>,
}

/// Why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// No CONNACK arrived within the configured timeout.
    ConnAckTimeout,
    /// Nothing arrived for 1.5 times the keep alive: the link is presumed dead.
    KeepAliveTimeout,
    /// The server refused the connection in CONNACK.
    Refused {
        /// Its reason code (3.1.1 return codes map onto these).
        reason_code: ConnectReasonCode,
        /// Its Reason String.
        reason_string: Option<MqttString>,
        /// Another server to use.
        server_reference: Option<MqttString>,
        /// Its User Properties.
        user_properties: UserProperties,
    },
    /// The server sent DISCONNECT.
    ByServer {
        /// Its reason code.
        reason_code: DisconnectReasonCode,
        /// Its Reason String.
        reason_string: Option<MqttString>,
        /// Another server to use.
        server_reference: Option<MqttString>,
        /// Its User Properties.
        user_properties: UserProperties,
    },
    /// The server broke the protocol; the client closed the connection, after a
    /// DISCONNECT with `reason_code` in MQTT 5.0.
    ProtocolViolation {
        /// The reason code of the fault.
        reason_code: ReasonCode,
        /// The decoding error, when the bytes themselves were at fault.
        decode_error: Option<DecodeError>,
        /// What was wrong.
        detail: &'static str,
    },
    /// The transport closed (the driver called `handle_transport_close`).
    TransportClosed,
    /// The driver could not open a transport.
    TransportFailed(super::TransportFailure),
    /// The attempt took longer than the policy's attempt timeout.
    AttemptTimeout,
    /// The application called `disconnect`.
    ByClient,
    /// A re-authentication got no answer in time.
    AuthTimeout,
}

/// Why a publish failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishFailure {
    /// The server answered with a reason code of 0x80 or above.
    Rejected {
        /// The reason code of the PUBACK, PUBREC or PUBCOMP.
        reason_code: ReasonCode,
        /// Its Reason String, if the server sent one.
        reason_string: Option<MqttString>,
    },
    /// The server lost the session while the message was in flight, and the policy is
    /// [`SessionLostPolicy::Fail`](super::SessionLostPolicy::Fail).
    SessionLost,
    /// The message waited in the queue and the limits of the server it finally met
    /// refuse it.
    NotAllowed(super::PublishError),
    /// The queue was full and dropped this, its oldest message
    /// ([`QueueOverflow::DropOldest`](super::QueueOverflow::DropOldest)).
    Dropped,
    /// Its Message Expiry Interval passed while it waited to be sent.
    Expired,
    /// A QoS 0 message published while disconnected, with
    /// `queue_qos0_offline` off.
    Offline,
}

/// What a [`Client`](super::Client) reports through `poll_event`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// CONNACK accepted the connection.
    Connected(Connected),
    /// The server does not hold the session the client expected to resume; what
    /// happened to the session state follows the configured policy.
    SessionLost {
        /// Messages in flight that were restored as new messages or failed.
        in_flight: usize,
        /// Subscriptions re-subscribed (restore policy) or forgotten (fail policy).
        subscriptions: usize,
    },
    /// A message arrived.
    Message(Message),
    /// A `publish` completed: QoS 0 once written, QoS 1 at PUBACK, QoS 2 at PUBCOMP.
    Published {
        /// The command.
        id: PublishId,
        /// Success, or why not.
        result: Result<(), PublishFailure>,
        /// The Reason String and User Properties of the acknowledgement that completed
        /// it (5.0; empty when none came, as for QoS 0).
        properties: PropertyBox<AckProperties>,
    },
    /// A `subscribe` completed with SUBACK.
    Subscribed {
        /// The command.
        id: SubscribeId,
        /// One result per filter, in order: the granted QoS or the failure.
        results: Vec<SubAckReasonCode>,
        /// The SUBACK's Reason String and User Properties (5.0).
        properties: PropertyBox<AckProperties>,
    },
    /// The automatic re-subscription after a lost session completed.
    Resubscribed {
        /// Each filter with its result.
        results: Vec<(TopicFilter, SubAckReasonCode)>,
    },
    /// An `unsubscribe` completed with UNSUBACK.
    Unsubscribed {
        /// The command.
        id: UnsubscribeId,
        /// One result per filter (3.1.1: all `Success`).
        results: Vec<UnsubAckReasonCode>,
        /// The UNSUBACK's Reason String and User Properties (5.0).
        properties: PropertyBox<AckProperties>,
    },
    /// The server's step of enhanced authentication: answer with
    /// [`Client::auth_continue`](super::Client::auth_continue).
    AuthChallenge {
        /// The server's Authentication Data.
        data: Option<Bytes>,
        /// Part of a re-authentication (connected), not of connecting.
        reauthentication: bool,
    },
    /// Re-authentication succeeded.
    Reauthenticated {
        /// The server's Authentication Data.
        data: Option<Bytes>,
    },
    /// The connection ended. The driver closes the transport after writing what
    /// `poll_transmit` still gives; the session stays for the next connection.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// Open a transport now (to `endpoint` when endpoints are configured), then call
    /// `handle_transport_open` or `handle_transport_failed`.
    Connect {
        /// The attempt's number since the last stable connection, from 1.
        attempt: u32,
        /// Where to connect.
        endpoint: Option<String>,
        /// Refresh credentials (`set_credentials`) and re-resolve the endpoint first.
        deep: bool,
    },
    /// The next attempt is due after `delay` (it is `poll_timeout`'s deadline).
    AttemptScheduled {
        /// Its number.
        attempt: u32,
        /// How long until it starts.
        delay: core::time::Duration,
        /// Where it will connect.
        endpoint: Option<String>,
        /// Whether it will be deep.
        deep: bool,
    },
    /// An attempt failed before the server accepted it.
    AttemptFailed {
        /// Its number.
        attempt: u32,
        /// Why.
        reason: DisconnectReason,
        /// What that means for retrying.
        class: super::FailureClass,
    },
    /// The client stopped reconnecting: a fatal refusal, or the policy's limits.
    /// `connect` starts again (after new credentials or endpoints, say).
    GaveUp {
        /// Attempts made since the last stable connection.
        attempts: u32,
        /// The last failure.
        reason: DisconnectReason,
    },
}

/// Counters of a [`Client`](super::Client).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Packets written to the transmit buffer.
    pub packets_sent: u64,
    /// Bytes written to the transmit buffer.
    pub bytes_sent: u64,
    /// Packets decoded from the input.
    pub packets_received: u64,
    /// Bytes passed to `handle_input`.
    pub bytes_received: u64,
    /// Outgoing QoS 1/2 messages sent and not completed.
    pub in_flight: usize,
    /// Messages waiting for a flow-control slot or a connection.
    pub queued: usize,
}
