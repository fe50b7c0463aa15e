//! The server role machine: one [`ServerConnection`] per accepted transport, for
//! brokers and gateways.

mod config;
mod connect;
mod event;
mod inbound;
mod outbound;
mod session;

pub use config::{AcceptError, ServerConfig, ServerError, Unanswered};
pub use event::{
    AcceptOptions, CloseReason, ConnectRequest, DropReason, InboundId, InboundMessage,
    RequestedSubscription, ServerEvent, SubscribeRequest, UnsubscribeRequest,
};
pub use session::{Granted, ServerSession};

use crate::client::Stats;
use crate::client::alias::OutboundAliases;
use crate::codec::{
    Decoder, Disconnect, DisconnectReasonCode, MAX_PACKET_SIZE, Packet, encode_part,
};
use crate::string::MqttString;
use crate::time::Instant;
use crate::types::ProtocolVersion;
use alloc::collections::{BTreeSet, VecDeque};
use bytes::{Bytes, BytesMut};
use core::time::Duration;
use event::PendingWill;

/// Where a server connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerState {
    /// The transport is open; no CONNECT yet.
    AwaitingConnect,
    /// CONNECT arrived and waits for `accept` or `reject` (enhanced authentication
    /// may be under way).
    AwaitingAnswer,
    /// CONNACK accepted the connection.
    Connected,
    /// The network connection is over. The object may still hold the session and a
    /// Will waiting for its delay.
    Closed,
}

/// What the client declared in CONNECT about what it accepts (5.0; defaults in 3.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientLimits {
    pub(crate) receive_maximum: u16,
    pub(crate) maximum_packet_size: u32,
    pub(crate) topic_alias_maximum: u16,
    pub(crate) request_problem_information: bool,
}

impl Default for ClientLimits {
    fn default() -> Self {
        ClientLimits {
            receive_maximum: u16::MAX,
            maximum_packet_size: MAX_PACKET_SIZE,
            topic_alias_maximum: 0,
            request_problem_information: true,
        }
    }
}

/// The server side of one network connection, as a pure state machine. The broker
/// owns the transport, the clock, the routing and the store of sessions.
///
/// Methods come in four kinds, in this order:
///
/// - **getters**: [`state`](Self::state), [`version`](Self::version),
///   [`client_id`](Self::client_id), [`session`](Self::session),
///   [`stats`](Self::stats);
/// - **inputs**: [`handle_input`](Self::handle_input) (any split of the byte stream),
///   [`handle_timeout`](Self::handle_timeout) (early calls are no-ops),
///   [`handle_transport_close`](Self::handle_transport_close);
/// - **commands** of the broker: [`accept`](Self::accept), [`reject`](Self::reject),
///   [`auth_continue`](Self::auth_continue), [`auth_success`](Self::auth_success),
///   [`publish`](Self::publish) (a message for the client), [`ack`](Self::ack),
///   [`answer_subscribe`](Self::answer_subscribe),
///   [`answer_unsubscribe`](Self::answer_unsubscribe),
///   [`disconnect`](Self::disconnect), and for a new connection of the same client
///   [`resume_session`](Self::resume_session) / [`end_session`](Self::end_session);
/// - **outputs**, drained after every input or command:
///   [`poll_transmit`](Self::poll_transmit), [`poll_timeout`](Self::poll_timeout),
///   [`poll_event`](Self::poll_event).
///
/// After [`ServerEvent::Closed`] the driver writes what is left and closes the
/// transport, but keeps the object while it holds a session: it reports the Will
/// after its delay and [`ServerEvent::SessionEnded`] when the session expires.
///
/// ```
/// use mqtt_sansio::{AcceptOptions, Instant, ServerConfig, ServerConnection, ServerEvent};
///
/// let t0 = Instant::ZERO;
/// let mut conn = ServerConnection::new(ServerConfig::default(), t0);
/// // CONNECT, 3.1.1, clean session, keep alive 60 s, client id "c1"
/// conn.handle_input(t0, b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02c1");
/// let Some(ServerEvent::Connect(request)) = conn.poll_event() else { panic!() };
/// assert_eq!(request.client_id().as_str(), "c1");
/// conn.accept(t0, request, None, AcceptOptions::new()).unwrap();
/// assert_eq!(&conn.poll_transmit().unwrap()[..], b"\x20\x02\x00\x00");
///
/// conn.handle_input(t0, b"\xc0\x00"); // PINGREQ
/// assert_eq!(&conn.poll_transmit().unwrap()[..], b"\xd0\x00");
/// assert_eq!(conn.poll_timeout(), Some(Instant::from_secs(90))); // 1.5 x keep alive
/// ```
#[derive(Debug)]
pub struct ServerConnection {
    config: ServerConfig,
    state: ServerState,
    version: Option<ProtocolVersion>,
    decoder: Decoder,
    rx: BytesMut,
    tx: BytesMut,
    events: VecDeque<ServerEvent>,
    now: Instant,
    connect_deadline: Option<Instant>,
    keep_alive: Duration,
    last_received: Instant,
    client_id: Option<MqttString>,
    session: Option<ServerSession>,
    /// Which connection of the session this is: requests of an earlier one are stale.
    epoch: u64,
    limits: ClientLimits,
    /// Topics of the aliases the client set on this connection, by alias - 1.
    inbound_aliases: crate::client::alias::InboundAliases,
    outbound_aliases: OutboundAliases,
    /// QoS 1 messages handed to the broker and not yet acknowledged by it.
    unacked_qos1: BTreeSet<u16>,
    will: Option<PendingWill>,
    will_deadline: Option<Instant>,
    session_deadline: Option<Instant>,
    /// The method of an enhanced authentication, from CONNECT.
    auth_method: Option<MqttString>,
    /// The client started a re-authentication that is not finished.
    reauthenticating: bool,
    /// CONNECT had Session Expiry Interval 0 (DISCONNECT may not raise it).
    connect_expiry_zero: bool,
    stats: Stats,
}

impl ServerConnection {
    /// The server side of a transport accepted at `now`; CONNECT is due within the
    /// configured connect timeout.
    pub fn new(config: ServerConfig, now: Instant) -> Self {
        let max_in = config
            .maximum_packet_size
            .map_or(MAX_PACKET_SIZE, |m| m.get());
        ServerConnection {
            decoder: Decoder::for_server().with_max_packet_size(max_in),
            connect_deadline: Some(now + config.connect_timeout),
            config,
            state: ServerState::AwaitingConnect,
            version: None,
            rx: BytesMut::new(),
            tx: BytesMut::new(),
            events: VecDeque::new(),
            now,
            keep_alive: Duration::ZERO,
            last_received: now,
            client_id: None,
            session: None,
            epoch: 0,
            limits: ClientLimits::default(),
            inbound_aliases: crate::client::alias::InboundAliases::default(),
            outbound_aliases: OutboundAliases::default(),
            unacked_qos1: BTreeSet::new(),
            will: None,
            will_deadline: None,
            session_deadline: None,
            auth_method: None,
            reauthenticating: false,
            connect_expiry_zero: true,
            stats: Stats::default(),
        }
    }

    // ---- getters ----

    /// Where the connection stands.
    pub fn state(&self) -> ServerState {
        self.state
    }

    /// The protocol version, once CONNECT told it.
    pub fn version(&self) -> Option<ProtocolVersion> {
        self.version
    }

    /// The Client Identifier in force (assigned or sent), once accepted.
    pub fn client_id(&self) -> Option<&MqttString> {
        self.client_id.as_ref()
    }

    /// The session this object holds, if any.
    pub fn session(&self) -> Option<&ServerSession> {
        self.session.as_ref()
    }

    /// The keep alive in force (zero: off).
    pub fn keep_alive(&self) -> Duration {
        self.keep_alive
    }

    /// Counters and gauges.
    pub fn stats(&self) -> Stats {
        Stats {
            in_flight: self.session.as_ref().map_or(0, ServerSession::in_flight),
            queued: self.session.as_ref().map_or(0, ServerSession::queued),
            ..self.stats
        }
    }

    /// What the client declared it accepts (for the fuzz checks).
    pub(crate) fn client_limits(&self) -> ClientLimits {
        self.limits
    }

    // ---- inputs ----

    /// Bytes arrived from the client, in any split. Faults of the client end the
    /// connection with an event; they never return an error.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        self.advance_clock(now);
        if self.state == ServerState::Closed || bytes.is_empty() {
            return;
        }
        self.stats.bytes_received += bytes.len() as u64;
        // Any byte proves the client alive, even mid-packet.
        self.last_received = self.now;
        if self.state == ServerState::AwaitingAnswer
            && self.rx.len() + bytes.len() > self.config.max_pending_input
        {
            self.violation(
                DisconnectReasonCode::QuotaExceeded,
                None,
                "too much input before CONNACK",
            );
            return;
        }
        self.rx.extend_from_slice(bytes);
        self.process_input();
        // Bytes read together with the CONNECT wait for the answer too: they count
        // against `max_pending_input` like those of later reads.
        if self.state == ServerState::AwaitingAnswer
            && self.rx.len() > self.config.max_pending_input
        {
            self.violation(
                DisconnectReasonCode::QuotaExceeded,
                None,
                "too much input before CONNACK",
            );
        }
    }

    /// Decodes and handles what the receive buffer holds, as far as the state allows.
    fn process_input(&mut self) {
        loop {
            match self.state {
                ServerState::Closed => return,
                // [MQTT-3.1.4-6] / [MQTT-3.2.0-1] nothing but AUTH is processed until
                // the broker answered the CONNECT; the rest waits in the buffer.
                ServerState::AwaitingAnswer if self.rx.first().is_none_or(|b| b >> 4 != 15) => {
                    return;
                }
                _ => {}
            }
            match self.decoder.decode(&mut self.rx) {
                Ok(Some(packet)) => {
                    self.stats.packets_received += 1;
                    self.handle_packet(packet);
                }
                Ok(None) => return,
                Err(error) => {
                    self.decode_failed(error);
                    return;
                }
            }
        }
    }

    /// Time passed: the CONNECT and keep-alive deadlines, the Will delay and the
    /// session expiry. Calls before a deadline do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance_clock(now);
        let now = self.now;
        match self.state {
            ServerState::AwaitingConnect | ServerState::AwaitingAnswer => {
                if self.connect_deadline.is_some_and(|d| now >= d) {
                    self.close(CloseReason::ConnectTimeout);
                }
            }
            ServerState::Connected => {
                // [MQTT-3.1.2-22] (5.0) / [MQTT-3.1.2-24] (3.1.1): 1.5 times the keep
                // alive without a byte from the client, and the link is gone.
                if self.receive_deadline().is_some_and(|d| now >= d) {
                    self.send_disconnect(DisconnectReasonCode::KeepAliveTimeout);
                    self.close(CloseReason::KeepAliveTimeout);
                }
            }
            ServerState::Closed => {
                if self.will_deadline.is_some_and(|d| now >= d) {
                    self.publish_will();
                }
                if self.session_deadline.is_some_and(|d| now >= d) {
                    // [MQTT-4.1.0-2] (5.0) the session is discarded once it expired.
                    self.drop_session();
                }
            }
        }
    }

    /// The transport closed or failed. Unsent bytes are discarded.
    pub fn handle_transport_close(&mut self, now: Instant) {
        self.advance_clock(now);
        if self.state != ServerState::Closed {
            self.close(CloseReason::TransportClosed);
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

    /// When [`handle_timeout`](Self::handle_timeout) is next due, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            ServerState::AwaitingConnect | ServerState::AwaitingAnswer => self.connect_deadline,
            ServerState::Connected => self.receive_deadline(),
            ServerState::Closed => [self.will_deadline, self.session_deadline]
                .into_iter()
                .flatten()
                .min(),
        }
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    // ---- internals ----

    fn advance_clock(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn receive_deadline(&self) -> Option<Instant> {
        (!self.keep_alive.is_zero())
            .then(|| self.last_received + self.keep_alive + self.keep_alive / 2)
    }

    fn is_v5(&self) -> bool {
        self.version.is_some_and(ProtocolVersion::is_v5)
    }

    /// Encodes `packet` into the transmit buffer.
    fn send(&mut self, packet: &Packet) {
        let Some(version) = self.version else { return };
        let before = self.tx.len();
        if packet.encode(version, &mut self.tx).is_ok() {
            self.sent(before);
        }
    }

    /// Encodes one packet struct into the transmit buffer.
    fn send_part<P: crate::codec::Body>(&mut self, part: &P) {
        let Some(version) = self.version else { return };
        let before = self.tx.len();
        if encode_part(part, version, &mut self.tx).is_ok() {
            self.sent(before);
        }
    }

    fn sent(&mut self, before: usize) {
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += (self.tx.len() - before) as u64;
    }

    /// A DISCONNECT with `reason_code`, in 5.0 and only after an accepting CONNACK
    /// ([MQTT-3.14.0-1]); never with a Session Expiry Interval ([MQTT-3.14.2-2]).
    fn send_disconnect(&mut self, reason_code: DisconnectReasonCode) {
        if self.is_v5() && self.state == ServerState::Connected {
            self.send(&Packet::Disconnect(Disconnect::new(reason_code)));
        }
    }

    /// The client broke the protocol: DISCONNECT with `reason_code` (5.0), then close
    /// ([MQTT-4.13.1-1]).
    fn violation(
        &mut self,
        reason_code: DisconnectReasonCode,
        decode_error: Option<crate::codec::DecodeError>,
        detail: &'static str,
    ) {
        self.send_disconnect(reason_code);
        self.close(CloseReason::ProtocolViolation {
            reason_code,
            decode_error,
            detail,
        });
    }

    fn protocol_error(&mut self, detail: &'static str) {
        self.violation(DisconnectReasonCode::ProtocolError, None, detail);
    }
}
