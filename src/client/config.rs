//! What a [`Client`](super::Client) connects with.

use super::ReconnectPolicy;
use crate::codec::{Connect, ConnectProperties, EncodeError, UserProperties, Will};
use crate::string::MqttString;
use crate::types::ProtocolVersion;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use core::num::{NonZeroU16, NonZeroU32};
use core::time::Duration;

/// What happens to the session state of the client when the server answers a
/// reconnection with Session Present 0, i.e. it does not hold the session any more.
///
/// Either way [`Event::SessionLost`](super::Event::SessionLost) reports it, and the
/// incoming QoS 2 state is dropped with the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SessionLostPolicy {
    /// Re-subscribe every tracked subscription and send the messages that were in
    /// flight again, as new messages (new identifiers, DUP 0), ahead of the queue.
    #[default]
    Restore,
    /// Complete every message that was in flight with
    /// [`PublishFailure::SessionLost`](super::PublishFailure::SessionLost) and forget
    /// the tracked subscriptions.
    Fail,
}

/// The settings of a [`Client`](super::Client): what goes into CONNECT and the local
/// limits.
///
/// ```
/// use core::time::Duration;
/// use mqtt_sansio::{ClientConfig, ProtocolVersion};
///
/// let mut config = ClientConfig::new(ProtocolVersion::V5, "sensor-7".parse().unwrap());
/// config.keep_alive = 30;
/// config.clean_start = false;
/// config.session_expiry_interval = 3600;
/// config.connack_timeout = Duration::from_secs(5);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The protocol version spoken.
    pub version: ProtocolVersion,
    /// The client identifier; empty asks the server to assign one (3.1.1: only with
    /// `clean_start`).
    pub client_id: MqttString,
    /// Clean Start (5.0) / Clean Session (3.1.1), sent on every connection.
    pub clean_start: bool,
    /// Keep alive in seconds; 0 turns it off. A Server Keep Alive replaces it.
    pub keep_alive: u16,
    /// User name.
    pub username: Option<MqttString>,
    /// Password.
    pub password: Option<Bytes>,
    /// The Will Message.
    pub will: Option<Will>,
    /// 5.0: seconds the server keeps the session after the connection closes.
    pub session_expiry_interval: u32,
    /// 5.0: incoming QoS 1/2 messages this client accepts in flight; the server must
    /// not exceed it.
    pub receive_maximum: NonZeroU16,
    /// The largest packet this client accepts (5.0: sent to the server; both versions:
    /// larger inbound packets close the connection).
    pub maximum_packet_size: Option<NonZeroU32>,
    /// 5.0: the highest Topic Alias the server may use towards this client.
    pub topic_alias_maximum: u16,
    /// 5.0: how the client uses Topic Aliases towards the server.
    pub topic_alias_mode: super::TopicAliasMode,
    /// 5.0: ask for Response Information in CONNACK.
    pub request_response_information: bool,
    /// 5.0: whether the server may send Reason Strings and User Properties on
    /// failures (`None`: the protocol default, yes).
    pub request_problem_information: Option<bool>,
    /// 5.0: User Properties of CONNECT.
    pub user_properties: UserProperties,
    /// 5.0: the enhanced authentication method (SCRAM-SHA-256, ...), which turns on
    /// the AUTH exchange.
    pub authentication_method: Option<MqttString>,
    /// 5.0: the first Authentication Data, sent in CONNECT.
    pub authentication_data: Option<Bytes>,
    /// Incoming QoS 1/2 messages are acknowledged only when the application calls
    /// [`Client::ack`](super::Client::ack); until then they count against
    /// `receive_maximum`.
    pub manual_acks: bool,
    /// How long to wait for CONNACK after the transport opens.
    pub connack_timeout: Duration,
    /// A local cap on outgoing QoS 1/2 messages in flight; the server's Receive
    /// Maximum caps it further.
    pub max_inflight: NonZeroU16,
    /// Messages waiting for a flow-control slot or a connection, at most.
    pub max_queued: usize,
    /// What to do when the server has lost the session.
    pub session_lost_policy: SessionLostPolicy,
    /// How [`Client::connect`](super::Client::connect) keeps the client connected.
    pub reconnect: ReconnectPolicy,
    /// Broker endpoints, opaque to the client (host names, URLs...): attempts go
    /// through them in order, stay on the last one that worked, and follow a
    /// server's redirect. Empty: the driver knows where to connect.
    pub endpoints: Vec<String>,
    /// Bytes (topic and payload) the queue holds at the most.
    pub max_queued_bytes: usize,
    /// What a full queue does with one more message.
    pub queue_overflow: QueueOverflow,
    /// Whether QoS 0 messages published while disconnected wait for the connection
    /// (or complete at once as [`PublishFailure::Offline`](super::PublishFailure::Offline)).
    pub queue_qos0_offline: bool,
}

/// What a full queue does with one more message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum QueueOverflow {
    /// Refuse the new message: `publish` returns [`PublishError::QueueFull`](super::PublishError::QueueFull).
    #[default]
    RejectNew,
    /// Drop the oldest waiting message, which completes as
    /// [`PublishFailure::Dropped`](super::PublishFailure::Dropped).
    DropOldest,
}

impl ClientConfig {
    /// Defaults: clean start, keep alive 60 s, no credentials, no Will, receive
    /// maximum 65,535, no packet size limit, no topic aliases, CONNACK timeout 10 s,
    /// outgoing Topic Aliases assigned automatically, queue of 1,024 messages and 16 MiB
    /// that refuses more, QoS 0 queued while
    /// offline, [`SessionLostPolicy::Restore`], the default [`ReconnectPolicy`], no
    /// endpoints.
    pub fn new(version: ProtocolVersion, client_id: MqttString) -> Self {
        ClientConfig {
            version,
            client_id,
            clean_start: true,
            keep_alive: 60,
            username: None,
            password: None,
            will: None,
            session_expiry_interval: 0,
            receive_maximum: NonZeroU16::MAX,
            maximum_packet_size: None,
            topic_alias_maximum: 0,
            topic_alias_mode: super::TopicAliasMode::Auto,
            request_response_information: false,
            request_problem_information: None,
            user_properties: UserProperties::new(),
            authentication_method: None,
            authentication_data: None,
            manual_acks: false,
            connack_timeout: Duration::from_secs(10),
            max_inflight: NonZeroU16::MAX,
            max_queued: 1024,
            session_lost_policy: SessionLostPolicy::Restore,
            reconnect: ReconnectPolicy::default(),
            endpoints: Vec::new(),
            max_queued_bytes: 16 * 1024 * 1024,
            queue_overflow: QueueOverflow::RejectNew,
            queue_qos0_offline: true,
        }
    }

    /// The CONNECT these settings produce.
    pub(crate) fn connect_packet(&self) -> Connect {
        let mut connect = Connect::new(self.client_id.clone());
        connect.clean_start = self.clean_start;
        connect.keep_alive = self.keep_alive;
        connect.username = self.username.clone();
        connect.password = self.password.clone();
        connect.will = self.will.clone();
        if self.version.is_v5() {
            let props = ConnectProperties {
                session_expiry_interval: (self.session_expiry_interval != 0)
                    .then_some(self.session_expiry_interval),
                receive_maximum: (self.receive_maximum != NonZeroU16::MAX)
                    .then_some(self.receive_maximum),
                maximum_packet_size: self.maximum_packet_size,
                topic_alias_maximum: (self.topic_alias_maximum != 0)
                    .then_some(self.topic_alias_maximum),
                request_response_information: self.request_response_information.then_some(true),
                request_problem_information: self.request_problem_information,
                user_properties: self.user_properties.clone(),
                authentication_method: self.authentication_method.clone(),
                authentication_data: self.authentication_data.clone(),
            };
            connect.properties = props.into();
        }
        connect
    }

    /// True when these settings also make a valid MQTT 3.1.1 CONNECT (for the fallback
    /// from 5.0).
    pub(crate) fn fits_v311(&self) -> bool {
        let mut v311 = self.clone();
        v311.version = ProtocolVersion::V311;
        v311.check().is_ok()
    }

    /// Refuses settings the protocol forbids.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        // [MQTT-3.1.3-7] (3.1.1): an empty ClientId requires CleanSession 1.
        if self.version == ProtocolVersion::V311 && self.client_id.is_empty() && !self.clean_start {
            return Err(ConfigError::EmptyClientIdWithoutCleanSession);
        }
        let mut sink = bytes::BytesMut::new();
        crate::codec::Packet::from(self.connect_packet())
            .encode(self.version, &mut sink)
            .map_err(ConfigError::InvalidConnect)
    }
}

/// Settings a [`Client`](super::Client) refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// MQTT 3.1.1 needs Clean Session 1 with an empty client identifier
    /// ([MQTT-3.1.3-7] (3.1.1)).
    #[error("an empty client id needs clean session in mqtt 3.1.1")]
    EmptyClientIdWithoutCleanSession,
    /// The CONNECT these settings make cannot be encoded.
    #[error("invalid connect: {0}")]
    InvalidConnect(EncodeError),
}
