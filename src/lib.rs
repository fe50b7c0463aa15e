//! A sans-IO MQTT 3.1.1 and 5.0 protocol engine.
//!
//! `mqtt-sansio` never opens a socket, never spawns a task, never sleeps and never reads
//! a clock. Bytes received, the current time and user commands come in as arguments;
//! bytes to send, the next deadline and events go out. Any I/O layer — tokio, blocking
//! std threads, an embedded executor, a deterministic test harness, a fuzzer — drives it
//! with the same few calls, and the same inputs always give the same outputs.
//!
//! # Layers
//!
//! - **codec** ([`Decoder`], [`Packet`]): bytes to packets and back for all fifteen
//!   packet types of both versions, every MQTT 5 property and reason code. Decoding is
//!   zero-copy: topics, payloads, strings and binary fields of a decoded packet are
//!   slices of the receive buffer.
//! - **topics** ([`TopicName`], [`TopicFilter`]): validated newtypes, wildcard
//!   matching, shared subscriptions.
//! - **client** ([`Client`]): one long-lived state machine that owns the session across
//!   network connections: connect, keep-alive, QoS 0/1/2 both ways, flow control,
//!   session resumption, reconnection by a [`ReconnectPolicy`], the MQTT 5 features
//!   (Topic Aliases, enhanced authentication, expiry, manual acknowledgement). Its
//!   documentation carries the driver loop.
//! - **server** ([`ServerConnection`]): the server side of one accepted transport, for
//!   brokers and gateways. The broker answers its requests ([`ServerEvent`]) and hands
//!   it messages for the client; the connection does the protocol, and holds the
//!   session and the Will after the transport closes until they are due.
//! - **sim** (feature `sim`): an in-memory broker on [`ServerConnection`] and a
//!   simulated network with faults in virtual time, for tests and examples.
//!
//! # Time
//!
//! Every input takes `now`, an [`Instant`] on a monotonic timeline whose epoch the
//! driver picks (`Instant::from_std` converts a `std::time::Instant` under the `std`
//! feature). Simulated time is plain arithmetic: `Instant::ZERO + Duration::from_secs(90)`.
//! A `now` earlier than one already seen counts as the latest one seen.
//!
//! # Persistence
//!
//! [`Client::export_session`] writes the session — messages in flight and queued,
//! requests awaiting their acknowledgement, incoming QoS 2 state, subscriptions — to a
//! small versioned binary format, and [`Client::restore`] builds a new client from it
//! after a process restart, with the QoS 1/2 guarantees kept; truncated or corrupt
//! input is a typed [`RestoreError`]. Persist write-ahead: after every input or command
//! that returned a handle, acknowledged a message, produced an event or left bytes to
//! transmit, and before writing those bytes; [`Client::export_session`] says exactly
//! when and why.
//!
//! # Decoding a byte stream
//!
//! ```
//! use bytes::BytesMut;
//! use mqtt_sansio::{Decoder, Packet, ProtocolVersion};
//!
//! let mut decoder = Decoder::for_server();
//! let mut buf = BytesMut::new();
//! // Bytes arrive in any split; `decode` returns `Ok(None)` until a packet is complete.
//! for chunk in [&b"\x10\x0f\x00\x04MQTT\x05\x02\x00"[..], &b"\x3c\x00\x00\x02c1\xc0\x00"[..]] {
//!     buf.extend_from_slice(chunk);
//!     while let Some(packet) = decoder.decode(&mut buf).expect("peer fault: close with err.reason_code()") {
//!         match packet {
//!             Packet::Connect(c) => assert_eq!(c.client_id, "c1"),
//!             other => assert_eq!(other, Packet::PingReq),
//!         }
//!     }
//! }
//! assert_eq!(decoder.version(), Some(ProtocolVersion::V5));
//! ```
//!
//! # Errors
//!
//! Faults of the peer are [`DecodeError`]s, each mapped to the MQTT 5 reason code that
//! closes the connection ([`DecodeError::reason_code`]): malformed packet (0x81),
//! protocol error (0x82), packet too large (0x95), unsupported protocol version (0x84).
//! The [`Client`] turns them into a DISCONNECT with that reason code (5.0) and one
//! [`Event::Disconnected`], the [`ServerConnection`] into a DISCONNECT and one
//! [`ServerEvent::Closed`]; their `handle_*` inputs never return them. Faults of the
//! caller are typed errors of the call that made them ([`EncodeError`], [`TopicError`],
//! [`StringError`], [`PublishError`], [`SubscribeError`], [`StateError`],
//! [`ConfigError`], [`AckError`], [`AuthError`], [`RestoreError`], [`ServerError`];
//! a broker answer that cannot be applied comes back in [`Unanswered`]). No input makes
//! the crate panic.
//!
//! # Conformance
//!
//! Where the code enforces a normative statement of the specifications it cites the
//! statement's identifier (`[MQTT-3.3.2-2]`), and a test named after the identifier
//! shows the rule holds.
//!
//! # Features
//!
//! - `std` (default): `std::error::Error` for the error types. Without it the crate is
//!   `no_std` and needs only `alloc`.
//! - `sim`: the `sim` module (in-memory broker, simulated network, soak scenarios).
//! - `arbitrary`: valid packets built with the `arbitrary` crate, for the `roundtrip`
//!   fuzz target and its replay test.

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod client;
mod codec;
#[doc(hidden)]
pub mod fuzz;
mod server;
mod session;
#[cfg(feature = "sim")]
pub mod sim;
mod string;
mod time;
mod topic;
mod types;

pub use client::{
    AckError, AuthError, Client, ClientConfig, ConfigError, Connected, CredentialsFailure,
    DeliveryId, DisconnectReason, Event, FailureClass, Jitter, Message, PublishError,
    PublishFailure, PublishId, QueueOverflow, ReconnectPolicy, ServerLimits, SessionLostPolicy,
    State, StateError, Stats, SubscribeError, SubscribeId, TopicAliasMode, TransportFailure,
    UnsubscribeId, classify_connack, classify_disconnect, classify_end,
};
pub use codec::{
    AckProperties, Auth, AuthProperties, AuthReasonCode, ConnAck, ConnAckProperties, Connect,
    ConnectProperties, ConnectReasonCode, DecodeError, Decoder, Disconnect, DisconnectProperties,
    DisconnectReasonCode, EncodeError, MAX_PACKET_SIZE, MAX_REMAINING_LENGTH, Packet, PacketType,
    PayloadFormat, PropertyBox, PropertyId, PropertySet, PubAck, PubAckReasonCode, PubComp,
    PubCompReasonCode, PubRec, PubRecReasonCode, PubRel, PubRelReasonCode, Publish,
    PublishProperties, ReasonCode, SubAck, SubAckReasonCode, Subscribe, SubscribeProperties,
    Subscription, SubscriptionIds, UnsubAck, UnsubAckReasonCode, Unsubscribe,
    UnsubscribeProperties, UserProperties, Will, WillProperties,
};
pub use server::{
    AcceptError, AcceptOptions, CloseReason, ConnectRequest, DropReason, Granted, InboundId,
    InboundMessage, RequestedSubscription, ServerConfig, ServerConnection, ServerError,
    ServerEvent, ServerSession, ServerState, SubscribeRequest, Unanswered, UnsubscribeRequest,
};
pub use session::persist::RestoreError;
pub use string::{MqttString, StringError};
pub use time::Instant;
pub use topic::{TopicError, TopicFilter, TopicName};
pub use types::{
    PacketId, ProtocolVersion, QoS, QosPid, RetainHandling, SubscriptionId, SubscriptionOptions,
};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
