//! The client role machine: one long-lived [`Client`] that owns the session across
//! network connections.

mod acks;
pub(crate) mod alias;
mod auth;
mod config;
mod error;
mod event;
mod inbound;
mod outbound;
mod persist;
mod queue;
pub(crate) mod reconnect;

pub use acks::{AckError, DeliveryId};
pub use alias::TopicAliasMode;
pub use auth::AuthError;
pub use config::{ClientConfig, ConfigError, QueueOverflow, SessionLostPolicy};
pub use error::{PublishError, StateError, SubscribeError};
pub use event::{
    Connected, DisconnectReason, Event, Message, PublishFailure, PublishId, ServerLimits, Stats,
    SubscribeId, UnsubscribeId,
};
pub use reconnect::{
    CredentialsFailure, FailureClass, Jitter, ReconnectPolicy, TransportFailure, classify_connack,
    classify_disconnect, classify_end,
};

use crate::codec::{
    Decoder, Disconnect, DisconnectReasonCode, MAX_PACKET_SIZE, Packet, PubAck, PubComp, PubRec,
    PubRel, ReasonCode, encode_part,
};
use crate::session::Session;
use crate::time::Instant;
use crate::topic::TopicFilter;
use crate::types::{PacketId, ProtocolVersion, SubscriptionOptions};
use alloc::collections::VecDeque;
use bytes::{Bytes, BytesMut};
use core::time::Duration;
use queue::Queued;

/// Bytes reserved in the receive and transmit buffers when a transport opens.
const BUFFER_RESERVE: usize = 4096;

/// Where the connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// No connection: before the first `handle_transport_open`, or after the
    /// connection ended. The session is kept.
    Disconnected,
    /// CONNECT sent, waiting for CONNACK.
    Connecting,
    /// CONNACK accepted the connection.
    Connected,
}

/// An MQTT client as a pure state machine. It owns the session across network
/// connections; the driver owns the transport and the clock.
///
/// Methods come in four kinds, in this order:
///
/// - **getters**: [`state`](Client::state), [`is_connected`](Client::is_connected),
///   [`stats`](Client::stats), [`limits`](Client::limits),
///   [`subscriptions`](Client::subscriptions);
/// - **inputs**: [`handle_transport_open`](Client::handle_transport_open),
///   [`handle_input`](Client::handle_input) (any split of the byte stream),
///   [`handle_timeout`](Client::handle_timeout) (early calls are no-ops),
///   [`handle_transport_close`](Client::handle_transport_close),
///   [`handle_transport_failed`](Client::handle_transport_failed);
/// - **commands**: [`connect`](Client::connect) (keep connected by the
///   [`ReconnectPolicy`]), [`connect_now`](Client::connect_now),
///   [`publish`](Client::publish), [`subscribe`](Client::subscribe),
///   [`unsubscribe`](Client::unsubscribe), [`disconnect`](Client::disconnect),
///   [`set_credentials`](Client::set_credentials): they return a handle or a typed
///   error and need no poll in between;
/// - **outputs**, drained after every input or command in this order:
///   [`poll_transmit`](Client::poll_transmit) (bytes to write; or
///   [`pending_transmit`](Client::pending_transmit) and
///   [`advance_transmit`](Client::advance_transmit) to write from the client's buffer),
///   [`poll_timeout`](Client::poll_timeout) (the one deadline),
///   [`poll_event`](Client::poll_event).
///
/// Every `now` is the driver's [`Instant`]; one earlier than a previous one counts as
/// the previous one.
///
/// # The driver loop
///
/// Wait for whichever comes first: bytes from the transport, the deadline from
/// `poll_timeout`, an application command. Apply exactly that input, write everything
/// `poll_transmit` gives, re-read `poll_timeout`, drain `poll_event`. On
/// [`Event::Disconnected`] write what is left and close the transport. To reconnect,
/// either open a new one and call `handle_transport_open` yourself, or start with
/// [`connect`](Client::connect) and open one whenever [`Event::Connect`] asks.
///
/// ```
/// use bytes::Bytes;
/// use mqtt_sansio::{Client, ClientConfig, Event, Instant, Message, ProtocolVersion, QoS};
///
/// let config = ClientConfig::new(ProtocolVersion::V311, "c1".parse().unwrap());
/// let mut client = Client::new(config).unwrap();
/// let t0 = Instant::ZERO;
/// client.handle_transport_open(t0).unwrap();
/// let connect = client.poll_transmit().unwrap(); // write it to the socket
/// assert_eq!(connect[0], 0x10);
///
/// client.handle_input(t0, &[0x20, 0x02, 0x00, 0x00]); // CONNACK, accepted
/// assert!(matches!(client.poll_event(), Some(Event::Connected(_))));
///
/// let message = Message::new("a/b".parse().unwrap(), Bytes::from_static(b"hi"), QoS::AtLeastOnce);
/// let id = client.publish(t0, message).unwrap();
/// let publish = client.poll_transmit().unwrap();
/// assert_eq!(&publish[..], b"\x32\x09\x00\x03a/b\x00\x01hi");
///
/// client.handle_input(t0, &[0x40, 0x02, 0x00, 0x01]); // PUBACK
/// assert!(matches!(client.poll_event(), Some(Event::Published { id: done, result: Ok(()), .. }) if done == id));
/// assert_eq!(client.poll_timeout(), Some(Instant::from_secs(60))); // next PINGREQ
/// ```
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    state: State,
    session: Session,
    decoder: Decoder,
    rx: BytesMut,
    tx: BytesMut,
    events: VecDeque<Event>,
    queue: queue::Queue,
    limits: ServerLimits,
    /// The negotiated keep alive; zero when off.
    keep_alive: Duration,
    now: Instant,
    connack_deadline: Option<Instant>,
    last_sent: Instant,
    last_received: Instant,
    /// A PINGREQ went out and no byte arrived since.
    ping_outstanding: bool,
    /// Where enhanced authentication stands.
    auth_state: auth::AuthState,
    /// When a re-authentication must have succeeded.
    auth_deadline: Option<Instant>,
    /// Incoming messages the application has not acknowledged (manual mode).
    pending_acks: acks::PendingAcks,
    /// The Topic Aliases this client set on this connection.
    outbound_aliases: alias::OutboundAliases,
    /// Topics of the Topic Aliases the server set on this connection, by alias - 1.
    inbound_aliases: alias::InboundAliases,
    /// Set once a CONNACK accepted a connection with Clean Start 0: the next
    /// connection expects the session to be there.
    expect_session: bool,
    next_handle: u64,
    stats: Stats,
    /// Automatic reconnection, once `connect` started it.
    reconnect: Option<reconnect::Reconnect>,
}

impl Client {
    /// A client with `config`, not connected.
    pub fn new(config: ClientConfig) -> Result<Self, ConfigError> {
        config.check()?;
        Ok(Client {
            decoder: Decoder::for_client(config.version),
            config,
            state: State::Disconnected,
            session: Session::default(),
            rx: BytesMut::new(),
            tx: BytesMut::new(),
            events: VecDeque::new(),
            queue: queue::Queue::default(),
            limits: ServerLimits::default(),
            keep_alive: Duration::ZERO,
            now: Instant::ZERO,
            connack_deadline: None,
            last_sent: Instant::ZERO,
            last_received: Instant::ZERO,
            ping_outstanding: false,
            auth_state: auth::AuthState::Idle,
            auth_deadline: None,
            pending_acks: acks::PendingAcks::default(),
            outbound_aliases: alias::OutboundAliases::default(),
            inbound_aliases: alias::InboundAliases::default(),
            expect_session: false,
            next_handle: 0,
            stats: Stats::default(),
            reconnect: None,
        })
    }

    // ---- getters ----

    /// Where the connection stands.
    pub fn state(&self) -> State {
        self.state
    }

    /// True between an accepting CONNACK and the end of that connection.
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// The protocol version.
    pub fn version(&self) -> ProtocolVersion {
        self.config.version
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The server's limits from the last CONNACK (protocol defaults before it).
    pub fn limits(&self) -> &ServerLimits {
        &self.limits
    }

    /// Counters and gauges.
    pub fn stats(&self) -> Stats {
        Stats {
            in_flight: self.session.publish_count(),
            queued: self.queue.len(),
            ..self.stats
        }
    }

    /// The subscriptions the server granted, with the options requested.
    pub fn subscriptions(&self) -> impl Iterator<Item = (&TopicFilter, &SubscriptionOptions)> {
        self.session
            .subscriptions
            .iter()
            .map(|(f, t)| (f, &t.options))
    }

    // ---- inputs ----

    /// A transport to the server is open: queues CONNECT and arms the CONNACK timeout.
    pub fn handle_transport_open(&mut self, now: Instant) -> Result<(), StateError> {
        self.advance_clock(now);
        if self.state != State::Disconnected {
            return Err(StateError::AlreadyConnected);
        }
        self.reconnect_transport_opened();
        let max_in = self
            .config
            .maximum_packet_size
            .map_or(MAX_PACKET_SIZE, |m| m.get());
        self.decoder = Decoder::for_client(self.config.version).with_max_packet_size(max_in);
        self.rx.clear();
        // Bytes meant for the previous transport are moot on this one.
        self.tx.clear();
        // Room for many small packets before either buffer has to move its contents
        // back to the front.
        self.rx.reserve(BUFFER_RESERVE);
        self.tx.reserve(BUFFER_RESERVE);
        // [MQTT-3.3.2-7] Topic Alias mappings never carry over to a new connection.
        self.inbound_aliases.clear();
        self.outbound_aliases.reset(0);
        self.state = State::Connecting;
        self.last_received = self.now;
        self.ping_outstanding = false;
        self.connack_deadline = Some(self.now + self.config.connack_timeout);
        let connect = self.config.connect_packet();
        self.send(&Packet::from(connect));
        Ok(())
    }

    /// Bytes arrived from the transport, in any split. Faults of the server end the
    /// connection with an event; they never return an error.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        self.advance_clock(now);
        if self.state == State::Disconnected || bytes.is_empty() {
            return;
        }
        self.stats.bytes_received += bytes.len() as u64;
        // Any inbound byte proves the link alive, even mid-packet.
        self.last_received = self.now;
        self.ping_outstanding = false;
        let bytes = self.handle_short_acks(bytes);
        self.rx.extend_from_slice(bytes);
        if self.state == State::Connecting && self.config.version.is_v5() {
            // A 3.1.1 server answers a 5.0 CONNECT with its own CONNACK, return code 1
            // (unacceptable protocol level, [MQTT-3.1.2-2] of 3.1.1): two bytes of
            // body, which no 5.0 CONNACK has.
            if self.rx.starts_with(&[0x20, 0x02, 0x00, 0x01]) {
                self.close(DisconnectReason::Refused {
                    reason_code: crate::codec::ConnectReasonCode::UnsupportedProtocolVersion,
                    reason_string: None,
                    server_reference: None,
                    user_properties: crate::codec::UserProperties::new(),
                });
                return;
            }
        }
        while self.state != State::Disconnected {
            match self.decoder.decode(&mut self.rx) {
                Ok(Some(packet)) => {
                    self.stats.packets_received += 1;
                    self.handle_packet(packet);
                }
                Ok(None) => break,
                Err(error) => {
                    let code = error.reason_code();
                    self.protocol_violation(code, Some(error), "undecodable packet");
                }
            }
        }
    }

    /// The common case of a publisher's input, read in place: whole four-byte PUBACK,
    /// PUBREC, PUBREL and PUBCOMP packets (identifier, no reason code, no properties;
    /// valid in both versions) at a packet boundary. Returns the input from the first
    /// byte that is anything else, for the decoder.
    fn handle_short_acks<'a>(&mut self, mut bytes: &'a [u8]) -> &'a [u8] {
        if !self.rx.is_empty() || self.state != State::Connected {
            return bytes;
        }
        while let [first, 0x02, hi, lo, rest @ ..] = bytes {
            // A zero identifier is malformed: the decoder refuses it with the reason.
            let Some(packet_id) = PacketId::new(u16::from_be_bytes([*hi, *lo])) else {
                break;
            };
            let packet = match first {
                0x40 => Packet::PubAck(PubAck::new(packet_id)),
                0x50 => Packet::PubRec(PubRec::new(packet_id)),
                // PUBREL's fixed header flags are 0b0010 ([MQTT-3.6.1-1]).
                0x62 => Packet::PubRel(PubRel::new(packet_id)),
                0x70 => Packet::PubComp(PubComp::new(packet_id)),
                _ => break,
            };
            if self.decoder.max_packet_size() < 4 {
                break;
            }
            bytes = rest;
            self.stats.packets_received += 1;
            self.handle_packet(packet);
            if self.state != State::Connected {
                return &[];
            }
        }
        bytes
    }

    /// Time passed: sends PINGREQ when due, ends the connection when CONNACK or any
    /// byte from the server is overdue. Calls before the deadline do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance_clock(now);
        self.reconnect_timeout();
        self.auth_timeout();
        let now = self.now;
        match self.state {
            State::Disconnected => {}
            State::Connecting => {
                if self.connack_deadline.is_some_and(|d| now >= d) {
                    self.close(DisconnectReason::ConnAckTimeout);
                }
            }
            State::Connected => {
                if self.keep_alive.is_zero() {
                    return;
                }
                // [MQTT-3.1.2-22] applied by the client: 1.5 times the keep alive
                // without a byte from the server means the link is gone (half-open).
                if now >= self.receive_deadline() {
                    self.close(DisconnectReason::KeepAliveTimeout);
                    return;
                }
                if now >= self.ping_deadline() {
                    self.send(&Packet::PingReq);
                    self.ping_outstanding = true;
                }
            }
        }
    }

    /// The transport closed or failed. Queued bytes are discarded; the session stays.
    pub fn handle_transport_close(&mut self, now: Instant) {
        self.advance_clock(now);
        if self.state != State::Disconnected {
            self.close(DisconnectReason::TransportClosed);
        }
        self.tx.clear();
    }

    // ---- outputs ----

    /// The next bytes to write to the transport, all that is pending in one buffer.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.tx.is_empty() {
            None
        } else {
            Some(self.tx.split().freeze())
        }
    }

    /// The bytes waiting to be written, without taking them: for drivers that write
    /// from the client's buffer and report how much the transport took with
    /// [`advance_transmit`](Client::advance_transmit). No reference count, no copy.
    ///
    /// ```
    /// # use mqtt_sansio::{Client, ClientConfig, Instant, ProtocolVersion};
    /// let mut client = Client::new(ClientConfig::new(ProtocolVersion::V311, "c".parse().unwrap())).unwrap();
    /// client.handle_transport_open(Instant::ZERO).unwrap();
    /// let pending = client.pending_transmit().len();
    /// let written = pending.min(5); // say the socket took five bytes
    /// client.advance_transmit(written);
    /// assert_eq!(client.pending_transmit().len(), pending - 5);
    /// ```
    pub fn pending_transmit(&self) -> &[u8] {
        &self.tx
    }

    /// Drops the first `written` bytes of [`pending_transmit`](Client::pending_transmit)
    /// (all of them if `written` is larger).
    pub fn advance_transmit(&mut self, written: usize) {
        let written = written.min(self.tx.len());
        crate::codec::consume(&mut self.tx, written);
    }

    /// When [`handle_timeout`](Client::handle_timeout) is next due, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let (connection, authentication) = match self.state {
            State::Disconnected => (None, None),
            State::Connecting => (self.connack_deadline, None),
            State::Connected if self.keep_alive.is_zero() => (None, self.auth_deadline),
            State::Connected => (
                Some(self.ping_deadline().min(self.receive_deadline())),
                self.auth_deadline,
            ),
        };
        [connection, authentication, self.reconnect_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ---- internals shared by the flows ----

    fn advance_clock(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// [MQTT-3.1.2-20] (3.1.1: [MQTT-3.1.2-23]) PINGREQ when nothing was sent for the
    /// keep alive; also when nothing was received for it, so that a quiet server answers
    /// before the receive deadline while the client keeps sending.
    fn ping_deadline(&self) -> Instant {
        let idle_sending = self.last_sent + self.keep_alive;
        if self.ping_outstanding {
            idle_sending
        } else {
            idle_sending.min(self.last_received + self.keep_alive)
        }
    }

    fn receive_deadline(&self) -> Instant {
        self.last_received + self.keep_alive + self.keep_alive / 2
    }

    fn next_handle(&mut self) -> u64 {
        self.next_handle += 1;
        self.next_handle
    }

    /// Completes a publish that no acknowledgement completed (QoS 0 written, dropped,
    /// expired, refused by the limits it met, lost with the session).
    fn published(&mut self, id: PublishId, result: Result<(), PublishFailure>) {
        self.events.push_back(Event::Published {
            id,
            result,
            properties: crate::codec::PropertyBox::new(),
        });
    }

    /// Encodes `packet` into the transmit buffer.
    fn send(&mut self, packet: &Packet) {
        let before = self.tx.len();
        // The flows build only packets valid for the version, checked at the command.
        if packet.encode(self.config.version, &mut self.tx).is_ok() {
            self.sent(before);
        }
    }

    /// Encodes one packet struct into the transmit buffer.
    fn send_part<P: crate::codec::Body>(&mut self, part: &P) {
        let before = self.tx.len();
        if encode_part(part, self.config.version, &mut self.tx).is_ok() {
            self.sent(before);
        }
    }

    /// Writes a PUBACK, PUBREC, PUBREL or PUBCOMP with reason code 0x00 and no
    /// properties, given its first byte: four bytes in both versions, the canonical
    /// form (MQTT 5.0 section 3.4.2.1 leaves out a 0x00 reason without properties).
    fn send_ack(&mut self, first_byte: u8, packet_id: crate::types::PacketId) {
        let [hi, lo] = packet_id.get().to_be_bytes();
        let before = self.tx.len();
        self.tx.extend_from_slice(&[first_byte, 0x02, hi, lo]);
        self.sent(before);
    }

    fn sent(&mut self, before: usize) {
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += (self.tx.len() - before) as u64;
        self.last_sent = self.now;
    }

    /// The connection ends for `reason`; the session stays.
    fn close(&mut self, reason: DisconnectReason) {
        self.state = State::Disconnected;
        self.connack_deadline = None;
        self.auth_state = auth::AuthState::Idle;
        self.auth_deadline = None;
        self.rx.clear();
        let schedule = reason != DisconnectReason::ByClient;
        self.events.push_back(Event::Disconnected {
            reason: reason.clone(),
        });
        // Then what reconnecting makes of it.
        if schedule {
            self.connection_ended(&reason);
        }
    }

    /// The server broke the protocol in a way with no more specific reason code.
    fn protocol_error(&mut self, detail: &'static str) {
        self.protocol_violation(ReasonCode::ProtocolError, None, detail);
    }

    /// The server broke the protocol: DISCONNECT with `code` (5.0), then close.
    fn protocol_violation(
        &mut self,
        code: ReasonCode,
        decode_error: Option<crate::codec::DecodeError>,
        detail: &'static str,
    ) {
        if self.config.version.is_v5() {
            let reason =
                DisconnectReasonCode::try_from(code).unwrap_or(DisconnectReasonCode::ProtocolError);
            self.send(&Packet::Disconnect(Disconnect::new(reason)));
        }
        self.close(DisconnectReason::ProtocolViolation {
            reason_code: code,
            decode_error,
            detail,
        });
    }
}
