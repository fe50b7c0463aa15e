//! What a [`ServerConnection`](super::ServerConnection) reports, and the requests the
//! broker answers.

use crate::client::Message;
use crate::codec::{
    Connect, ConnectReasonCode, DecodeError, DisconnectReasonCode, PropertyBox,
    SubscribeProperties, Subscription, UnsubscribeProperties, UserProperties,
};
use crate::string::MqttString;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{PacketId, ProtocolVersion, QoS, SubscriptionId};
use alloc::boxed::Box;
use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;

/// What the connection asks of the broker or tells it, oldest first.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A client sent CONNECT: answer with
    /// [`accept`](super::ServerConnection::accept) or
    /// [`reject`](super::ServerConnection::reject) (after any enhanced-authentication
    /// exchange).
    Connect(ConnectRequest),
    /// Authentication data from the client: the next step of the CONNECT exchange, or
    /// a re-authentication the client started. Answer with
    /// [`auth_continue`](super::ServerConnection::auth_continue), then
    /// [`accept`](super::ServerConnection::accept) /
    /// [`auth_success`](super::ServerConnection::auth_success), or refuse.
    Auth {
        /// The client's Authentication Data.
        data: Option<Bytes>,
        /// True when the client asked to re-authenticate a live connection.
        reauthenticate: bool,
    },
    /// An application message from the client for the broker to route.
    Message(InboundMessage),
    /// The client asks to subscribe: answer with
    /// [`answer_subscribe`](super::ServerConnection::answer_subscribe).
    Subscribe(SubscribeRequest),
    /// The client asks to unsubscribe: answer with
    /// [`answer_unsubscribe`](super::ServerConnection::answer_unsubscribe).
    Unsubscribe(UnsubscribeRequest),
    /// A message for the client was dropped without being sent.
    Dropped {
        /// Its topic.
        topic: TopicName,
        /// Why.
        reason: DropReason,
    },
    /// The Will is due: publish it. It comes after the connection closed abnormally,
    /// once the Will Delay Interval passed or the session ended ([MQTT-3.1.2-8]).
    Will(Message),
    /// The network connection is over: write what `poll_transmit` still gives, then
    /// close the transport. The session (if any) stays with this object until it
    /// expires or a new connection takes it.
    Closed {
        /// Why.
        reason: CloseReason,
    },
    /// The session ended (expired, discarded or taken away for a clean start): forget
    /// the client's subscriptions.
    SessionEnded,
}

/// Why a message for the client was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// Larger than the client's Maximum Packet Size ([MQTT-3.1.2-25]).
    PacketTooLarge,
    /// Its Message Expiry Interval passed before it could be sent ([MQTT-3.3.2-5]).
    Expired,
    /// The session's queue was full.
    QueueFull,
    /// A QoS 0 message while the client was not connected.
    Offline,
}

/// Why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent DISCONNECT with this reason code (0x00 in 3.1.1).
    ByClient {
        /// The reason code.
        reason_code: DisconnectReasonCode,
    },
    /// The broker closed it with this reason code (sent in a DISCONNECT in 5.0).
    ByServer {
        /// The reason code.
        reason_code: DisconnectReasonCode,
    },
    /// The broker refused the CONNECT with this reason code.
    Rejected {
        /// The reason code.
        reason_code: ConnectReasonCode,
    },
    /// A new connection took the session ([MQTT-3.1.4-3] (5.0); 3.1.1: [MQTT-3.1.4-2]).
    TakenOver,
    /// No CONNECT arrived within the connect timeout.
    ConnectTimeout,
    /// Nothing arrived for 1.5 times the keep alive ([MQTT-3.1.2-22] (5.0); 3.1.1:
    /// [MQTT-3.1.2-24]).
    KeepAliveTimeout,
    /// The client broke the protocol; in 5.0 a DISCONNECT with `reason_code` went out.
    ProtocolViolation {
        /// The reason code.
        reason_code: DisconnectReasonCode,
        /// The decoder's error, when the bytes did not decode.
        decode_error: Option<DecodeError>,
        /// What was wrong.
        detail: &'static str,
    },
    /// The transport closed without a DISCONNECT.
    TransportClosed,
}

/// A CONNECT waiting for the broker's answer. Answered exactly once: `accept` and
/// `reject` take it by value.
#[derive(Debug)]
pub struct ConnectRequest {
    pub(crate) connect: Box<Connect>,
    pub(crate) version: ProtocolVersion,
}

impl ConnectRequest {
    /// The protocol version of the connection.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The CONNECT as the client sent it.
    pub fn connect(&self) -> &Connect {
        &self.connect
    }

    /// The Client Identifier (empty when the client wants one assigned).
    pub fn client_id(&self) -> &MqttString {
        &self.connect.client_id
    }

    /// Clean Start (5.0) / Clean Session (3.1.1).
    pub fn clean_start(&self) -> bool {
        self.connect.clean_start
    }

    /// The User Name, if given.
    pub fn username(&self) -> Option<&MqttString> {
        self.connect.username.as_ref()
    }

    /// The Password, if given.
    pub fn password(&self) -> Option<&Bytes> {
        self.connect.password.as_ref()
    }

    /// The enhanced-authentication method, if the client asked for one.
    pub fn authentication_method(&self) -> Option<&MqttString> {
        self.connect.properties.authentication_method.as_ref()
    }
}

/// Names one QoS 1/2 message from the client that waits for the broker's
/// acknowledgement (manual acknowledgement: persist, then ack).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InboundId {
    pub(crate) packet_id: PacketId,
    pub(crate) qos: QoS,
    pub(crate) epoch: u64,
}

/// An application message from the client.
#[derive(Debug)]
pub struct InboundMessage {
    /// The message, its topic resolved from any Topic Alias, the alias removed.
    pub message: Message,
    /// In manual acknowledgement mode, for QoS 1/2: pass it to
    /// [`ack`](super::ServerConnection::ack) once the broker owns the message.
    pub id: Option<InboundId>,
}

/// One filter of a SUBSCRIBE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedSubscription {
    /// The filter and its options.
    pub subscription: Subscription,
    /// True when the session already had this filter (Retain Handling 1 sends no
    /// retained messages then, [MQTT-3.3.1-10] (5.0)).
    pub exists: bool,
    /// A refusal the connection imposes whatever the broker answers: wildcards or
    /// shared subscriptions that the server configuration does not offer.
    pub refused: Option<crate::codec::SubAckReasonCode>,
}

/// A SUBSCRIBE waiting for its answer.
#[derive(Debug)]
pub struct SubscribeRequest {
    pub(crate) packet_id: PacketId,
    pub(crate) epoch: u64,
    /// The filters, in the order of the packet.
    pub filters: Vec<RequestedSubscription>,
    /// Subscription Identifier, User Properties.
    pub properties: PropertyBox<SubscribeProperties>,
}

impl SubscribeRequest {
    /// The Subscription Identifier, if the client gave one.
    pub fn subscription_identifier(&self) -> Option<SubscriptionId> {
        self.properties.subscription_identifier
    }
}

/// An UNSUBSCRIBE waiting for its answer.
#[derive(Debug)]
pub struct UnsubscribeRequest {
    pub(crate) packet_id: PacketId,
    pub(crate) epoch: u64,
    /// The filters, in the order of the packet, with whether the session has each.
    pub filters: Vec<(TopicFilter, bool)>,
    /// User Properties.
    pub properties: PropertyBox<UnsubscribeProperties>,
}

/// Extra CONNACK content chosen by the broker when it accepts a connection.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct AcceptOptions {
    /// The Client Identifier to assign when the client sent an empty one
    /// ([MQTT-3.1.3-6]); required then.
    pub assigned_client_id: Option<MqttString>,
    /// A Session Expiry Interval that replaces the client's (5.0).
    pub session_expiry_interval: Option<u32>,
    /// Response Information, sent only when the client asked for it ([MQTT-3.1.2-28]).
    pub response_information: Option<MqttString>,
    /// The last Authentication Data of an enhanced-authentication exchange.
    pub authentication_data: Option<Bytes>,
    /// A Reason String.
    pub reason_string: Option<MqttString>,
    /// User Properties.
    pub user_properties: UserProperties,
}

impl AcceptOptions {
    /// Nothing extra.
    pub fn new() -> Self {
        AcceptOptions::default()
    }

    /// Assign `client_id` to a client that sent an empty one.
    pub fn with_assigned_client_id(mut self, client_id: MqttString) -> Self {
        self.assigned_client_id = Some(client_id);
        self
    }
}

/// The Will of a connection, kept until it is published or discarded.
#[derive(Clone, Debug)]
pub(crate) struct PendingWill {
    pub(crate) message: Message,
    pub(crate) delay: Duration,
}
