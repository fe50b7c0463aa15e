//! What a server offers its clients, and the typed errors of the broker's calls.

use crate::codec::ConnAckProperties;
use crate::types::QoS;
use core::num::{NonZeroU16, NonZeroU32};
use core::time::Duration;

/// The limits and capabilities of the server side of every connection, sent in
/// CONNACK (5.0) and enforced on what the client sends.
///
/// ```
/// use mqtt_sansio::{QoS, ServerConfig};
/// let mut config = ServerConfig::default();
/// config.maximum_qos = QoS::AtLeastOnce;
/// config.topic_alias_maximum = 16;
/// assert_eq!(config.receive_maximum, 100);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// How long a new transport may take to send CONNECT.
    pub connect_timeout: Duration,
    /// QoS 1/2 messages the client may have in flight towards the server (5.0
    /// Receive Maximum; beyond it: DISCONNECT 0x93).
    pub receive_maximum: u16,
    /// The largest packet the server accepts (beyond it: DISCONNECT 0x95).
    pub maximum_packet_size: Option<NonZeroU32>,
    /// The highest Topic Alias the client may use (0: none).
    pub topic_alias_maximum: u16,
    /// The highest QoS the server supports.
    pub maximum_qos: QoS,
    /// Whether retained messages are supported.
    pub retain_available: bool,
    /// Whether wildcard subscriptions are supported.
    pub wildcard_subscription_available: bool,
    /// Whether Subscription Identifiers are supported.
    pub subscription_identifiers_available: bool,
    /// Whether shared subscriptions are supported.
    pub shared_subscription_available: bool,
    /// A keep alive imposed on every client (5.0 Server Keep Alive).
    pub server_keep_alive: Option<u16>,
    /// Messages a session holds for its client beyond those in flight (offline, or
    /// waiting for the client's Receive Maximum).
    pub max_queued_messages: usize,
    /// Acknowledge QoS 1/2 messages from the client only when the broker calls
    /// [`ack`](super::ServerConnection::ack) (persist, then acknowledge).
    pub manual_acks: bool,
    /// Bytes accepted from a client whose CONNECT is still unanswered.
    pub max_pending_input: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            connect_timeout: Duration::from_secs(10),
            receive_maximum: 100,
            maximum_packet_size: None,
            topic_alias_maximum: 0,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            wildcard_subscription_available: true,
            subscription_identifiers_available: true,
            shared_subscription_available: true,
            server_keep_alive: None,
            max_queued_messages: 1000,
            manual_acks: false,
            max_pending_input: 1 << 20,
        }
    }
}

impl ServerConfig {
    /// The CONNACK properties that state these limits, leaving out protocol defaults.
    pub(crate) fn connack_properties(&self) -> ConnAckProperties {
        let mut p = ConnAckProperties::new();
        if self.receive_maximum != u16::MAX {
            p.receive_maximum = NonZeroU16::new(self.receive_maximum.max(1));
        }
        p.maximum_packet_size = self.maximum_packet_size;
        if self.topic_alias_maximum > 0 {
            p.topic_alias_maximum = Some(self.topic_alias_maximum);
        }
        // [MQTT-3.2.2-9] Maximum QoS only when it is below 2.
        if self.maximum_qos != QoS::ExactlyOnce {
            p.maximum_qos = Some(self.maximum_qos);
        }
        let flag = |available: bool| (!available).then_some(false);
        p.retain_available = flag(self.retain_available);
        p.wildcard_subscription_available = flag(self.wildcard_subscription_available);
        p.subscription_identifiers_available = flag(self.subscription_identifiers_available);
        p.shared_subscription_available = flag(self.shared_subscription_available);
        p.server_keep_alive = self.server_keep_alive;
        p
    }
}

/// Why a call of the broker was refused; nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The connection is not in the state this call needs.
    #[error("not allowed in this state: {0}")]
    WrongState(&'static str),
    /// The client sent an empty Client Identifier and no identifier was assigned.
    #[error("an empty client identifier needs an assigned one")]
    AssignedIdRequired,
    /// The request belongs to another connection of the session.
    #[error("stale request")]
    Stale,
    /// The answer has a different number of results than the request has filters.
    #[error("{given} results for {expected} filters")]
    ResultCount {
        /// Filters in the request.
        expected: usize,
        /// Results given.
        given: usize,
    },
    /// A reason code the server may not send here.
    #[error("reason code not allowed here")]
    ReasonNotAllowed,
    /// The session holds no such message awaiting acknowledgement.
    #[error("unknown inbound message")]
    UnknownMessage,
    /// The session's queue is full; the message was dropped.
    #[error("session queue full")]
    QueueFull,
    /// There is no session to hold the message.
    #[error("no session")]
    NoSession,
    /// Even without Reason String and User Properties the CONNACK is larger than the
    /// client's Maximum Packet Size: the connection refused the client with 0x95.
    #[error("the connack exceeds the client's maximum packet size")]
    ConnAckTooLarge,
}

/// An answer of the broker that the connection could not apply, with what the broker
/// passed, so that it can answer again (as [`std::sync::mpsc::SendError`] hands back
/// the value).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct Unanswered<R: core::fmt::Debug> {
    /// Why.
    pub error: ServerError,
    /// The request (and for `accept`, the session) the broker passed.
    pub request: R,
}

/// What [`accept`](super::ServerConnection::accept) hands back on an error: the
/// request and the session the broker passed.
pub type AcceptError = Unanswered<(super::ConnectRequest, Option<super::ServerSession>)>;
