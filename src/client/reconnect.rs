//! Reconnection as pure logic: the backoff, the classification of every way an attempt
//! or a connection can end, endpoints, and the scheduling the client drives through
//! events and `poll_timeout`.

use super::{Client, DisconnectReason, Event, State, StateError};
use crate::codec::{ConnectReasonCode, DisconnectReasonCode};
use crate::string::MqttString;
use crate::time::Instant;
use crate::types::ProtocolVersion;
use alloc::string::String;
use bytes::Bytes;
use core::num::NonZeroU32;
use core::time::Duration;

/// How random the backoff delays are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Jitter {
    /// Exactly the exponential delay.
    None,
    /// Uniform between zero and the delay.
    Full,
    /// Half the delay plus a uniform share of the other half.
    #[default]
    Equal,
}

/// What a refusal for bad credentials does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CredentialsFailure {
    /// Stop retrying and report it ([`FailureClass::Fatal`]).
    #[default]
    Fatal,
    /// Retry, and make the next attempt a deep one: refresh the credentials first.
    Refresh,
}

/// When and how the client reconnects, once [`Client::connect`] started it.
///
/// The delay before the n-th consecutive retry is `initial_delay * multiplier^(n-1)`,
/// capped at `max_delay`, then jittered. Refusals that ask to slow down (connection
/// rate exceeded, message rate too high) wait `max_delay`.
///
/// ```
/// use core::time::Duration;
/// use mqtt_sansio::{Jitter, ReconnectPolicy};
/// let mut policy = ReconnectPolicy::default();
/// policy.initial_delay = Duration::from_millis(500);
/// policy.jitter = Jitter::None;
/// assert_eq!(policy.delay(1, &mut 0), Duration::from_millis(500));
/// assert_eq!(policy.delay(3, &mut 0), Duration::from_secs(2));
/// assert_eq!(policy.delay(30, &mut 0), policy.max_delay);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconnectPolicy {
    /// The first delay.
    pub initial_delay: Duration,
    /// Growth of the delay from one failure to the next.
    pub multiplier: u32,
    /// The longest delay.
    pub max_delay: Duration,
    /// Randomness added to each delay.
    pub jitter: Jitter,
    /// Seed of the jitter: the same seed gives the same delays.
    pub seed: u64,
    /// Consecutive failed attempts before giving up; `None` never gives up.
    pub max_attempts: Option<NonZeroU32>,
    /// A connection that stayed up this long resets the backoff.
    pub reset_after: Duration,
    /// Whether a failure before the first successful connection is retried (or
    /// given up at once).
    pub retry_first_connect: bool,
    /// Time from the start of an attempt (the [`Event::Connect`] that asks for a
    /// transport) to an accepting CONNACK.
    pub attempt_timeout: Duration,
    /// Every n-th attempt of a series (n, 2n, ... since the last stable connection) is
    /// deep: refresh credentials and re-resolve the endpoint first.
    pub deep_every: Option<NonZeroU32>,
    /// What a refusal for bad credentials (bad user name or password, not authorized)
    /// does.
    pub bad_credentials: CredentialsFailure,
    /// Retry with MQTT 3.1.1 when a server refuses 5.0.
    pub fallback_to_v311: bool,
}

impl Default for ReconnectPolicy {
    /// 1 s doubling to 2 minutes, equal jitter, unlimited attempts, reset after a minute
    /// up, retry the first connection, 30 s per attempt, no deep attempts, bad
    /// credentials fatal, no protocol fallback.
    fn default() -> Self {
        ReconnectPolicy {
            initial_delay: Duration::from_secs(1),
            multiplier: 2,
            max_delay: Duration::from_secs(120),
            jitter: Jitter::Equal,
            seed: 0x9E37_79B9_7F4A_7C15,
            max_attempts: None,
            reset_after: Duration::from_secs(60),
            retry_first_connect: true,
            attempt_timeout: Duration::from_secs(30),
            deep_every: None,
            bad_credentials: CredentialsFailure::Fatal,
            fallback_to_v311: false,
        }
    }
}

impl ReconnectPolicy {
    /// The delay before retry number `failures` (1 for the first retry), jittered with
    /// the generator state `rng`, which it advances.
    pub fn delay(&self, failures: u32, rng: &mut u64) -> Duration {
        let mut delay = self.initial_delay;
        for _ in 1..failures {
            delay = delay.saturating_mul(self.multiplier.max(1));
            if delay >= self.max_delay {
                break;
            }
        }
        let delay = delay.min(self.max_delay);
        let nanos = delay.as_nanos().min(u128::from(u64::MAX)) as u64;
        match self.jitter {
            Jitter::None => delay,
            Jitter::Full => Duration::from_nanos(uniform(rng, nanos)),
            Jitter::Equal => Duration::from_nanos(nanos / 2 + uniform(rng, nanos - nanos / 2)),
        }
    }
}

/// A uniform value in `0..=bound` from a splitmix64 step.
pub(crate) fn uniform(state: &mut u64, bound: u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    if bound == u64::MAX {
        z
    } else {
        z % (bound + 1)
    }
}

/// Why the driver could not open a transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportFailure {
    /// The name did not resolve.
    Dns,
    /// The server refused the connection.
    Refused,
    /// The TLS handshake failed.
    Tls,
    /// Opening took too long.
    Timeout,
    /// Anything else.
    Other,
}

/// What a failure means for reconnecting. The table is
/// [`classify_connack`], [`classify_disconnect`] and [`classify_end`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureClass {
    /// Try again after the backoff delay.
    Retryable,
    /// Try again after the longest delay: the server asked to slow down.
    RetryLater,
    /// Trying again cannot help: stop and tell the application.
    Fatal,
    /// Try again at the server the refusal names (Server Reference).
    Redirect,
}

/// The class of a CONNACK refusal (3.1.1 return codes map onto these codes).
///
/// | class | codes |
/// |---|---|
/// | Fatal | 0x81 malformed, 0x82 protocol error, 0x84 unsupported protocol version, 0x85 client identifier not valid, 0x86 bad user name or password, 0x87 not authorized, 0x8A banned, 0x8C bad authentication method, 0x90 topic name invalid, 0x95 packet too large, 0x99 payload format invalid, 0x9A retain not supported, 0x9B QoS not supported |
/// | RetryLater | 0x9F connection rate exceeded |
/// | Redirect | 0x9C use another server, 0x9D server moved |
/// | Retryable | 0x80 unspecified, 0x83 implementation specific, 0x88 server unavailable, 0x89 server busy, 0x97 quota exceeded (and 0x00, which is not a refusal) |
///
/// The fatal ones describe this client's CONNECT (its version, identity, Will): the
/// same CONNECT gets the same answer.
pub const fn classify_connack(code: ConnectReasonCode) -> FailureClass {
    use ConnectReasonCode::*;
    match code {
        Success => FailureClass::Retryable,
        MalformedPacket
        | ProtocolError
        | UnsupportedProtocolVersion
        | ClientIdentifierNotValid
        | BadUserNameOrPassword
        | NotAuthorized
        | Banned
        | BadAuthenticationMethod
        | TopicNameInvalid
        | PacketTooLarge
        | PayloadFormatInvalid
        | RetainNotSupported
        | QoSNotSupported => FailureClass::Fatal,
        ConnectionRateExceeded => FailureClass::RetryLater,
        UseAnotherServer | ServerMoved => FailureClass::Redirect,
        UnspecifiedError
        | ImplementationSpecificError
        | ServerUnavailable
        | ServerBusy
        | QuotaExceeded => FailureClass::Retryable,
    }
}

/// The class of a DISCONNECT the server sent.
///
/// | class | codes |
/// |---|---|
/// | Fatal | 0x87 not authorized, 0x8A banned (not a DISCONNECT code, listed for completeness: absent), 0x8C bad authentication method |
/// | RetryLater | 0x8E session taken over, 0x96 message rate too high, 0x9F connection rate exceeded |
/// | Redirect | 0x9C use another server, 0x9D server moved |
/// | Retryable | every other code |
pub const fn classify_disconnect(code: DisconnectReasonCode) -> FailureClass {
    use DisconnectReasonCode::*;
    match code {
        NotAuthorized | BadAuthenticationMethod => FailureClass::Fatal,
        // Another client with this identifier, or a late CONNECT of one of this
        // client's own earlier transports (found by the network simulator): not
        // fatal, but slowly, so that two clients sharing an identifier take it back
        // and forth only once per longest delay.
        SessionTakenOver | MessageRateTooHigh | ConnectionRateExceeded => FailureClass::RetryLater,
        UseAnotherServer | ServerMoved => FailureClass::Redirect,
        _ => FailureClass::Retryable,
    }
}

/// The class of any way a connection or an attempt ends: a CONNACK refusal by
/// [`classify_connack`], a server's DISCONNECT by [`classify_disconnect`], and
/// [`FailureClass::Retryable`] for everything else: every [`TransportFailure`] (DNS,
/// refused, TLS, timeout), a transport that closed, the attempt or CONNACK timeout, the
/// keep-alive timeout and a protocol violation of the server.
pub fn classify_end(reason: &DisconnectReason) -> FailureClass {
    match reason {
        DisconnectReason::Refused { reason_code, .. } => classify_connack(*reason_code),
        DisconnectReason::ByServer { reason_code, .. } => classify_disconnect(*reason_code),
        // Transport failures, timeouts and faults of the server are all worth another
        // try; the client's own disconnect never reaches here.
        _ => FailureClass::Retryable,
    }
}

/// Where the reconnection logic stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the backoff delay to pass.
    Waiting(Instant),
    /// An attempt is under way: [`Event::Connect`] went out at this instant.
    Attempting(Instant),
    /// Connected since this instant.
    Connected(Instant),
}

/// The state of automatic reconnection, present once [`Client::connect`] started it.
#[derive(Clone, Debug)]
pub(super) struct Reconnect {
    phase: Phase,
    /// Consecutive failures since the last stable connection.
    failures: u32,
    /// Attempts since the last stable connection.
    attempt: u32,
    ever_connected: bool,
    rng: u64,
    /// Index of the endpoint in use.
    endpoint: usize,
    /// A Server Reference to try next, instead of the list.
    redirect: Option<String>,
    /// The next attempt must refresh credentials first.
    deep_next: bool,
}

impl Client {
    /// Starts connecting and keeps the client connected by the configured
    /// [`ReconnectPolicy`]: at once, [`Event::Connect`] asks the driver to open a
    /// transport (then call [`handle_transport_open`](Client::handle_transport_open),
    /// or [`handle_transport_failed`](Client::handle_transport_failed)). After every
    /// failure the client schedules the next attempt ([`Event::AttemptScheduled`], a
    /// deadline in [`poll_timeout`](Client::poll_timeout)) or gives up
    /// ([`Event::GaveUp`]). [`disconnect`](Client::disconnect) stops it.
    pub fn connect(&mut self, now: Instant) -> Result<(), StateError> {
        self.advance_clock(now);
        if self.reconnect.is_some() || self.state != State::Disconnected {
            return Err(StateError::AlreadyConnected);
        }
        self.reconnect = Some(Reconnect {
            phase: Phase::Waiting(self.now),
            failures: 0,
            attempt: 0,
            ever_connected: false,
            rng: self.config.reconnect.seed,
            endpoint: 0,
            redirect: None,
            deep_next: false,
        });
        self.start_attempt();
        Ok(())
    }

    /// While waiting to reconnect: attempt now instead of after the delay (the network
    /// came back). Does nothing in any other state.
    pub fn connect_now(&mut self, now: Instant) {
        self.advance_clock(now);
        if matches!(
            self.reconnect.as_ref().map(|r| r.phase),
            Some(Phase::Waiting(_))
        ) {
            self.start_attempt();
        }
    }

    /// The driver could not open a transport for the attempt it was asked for.
    pub fn handle_transport_failed(&mut self, now: Instant, cause: TransportFailure) {
        self.advance_clock(now);
        if self.state == State::Disconnected
            && matches!(
                self.reconnect.as_ref().map(|r| r.phase),
                Some(Phase::Attempting(_))
            )
        {
            self.connection_ended(&DisconnectReason::TransportFailed(cause));
        }
    }

    /// New credentials for the next attempts (after a deep attempt asked for them).
    /// Refused, keeping the old ones, when CONNECT cannot carry them (3.1.1: a
    /// password needs a user name).
    pub fn set_credentials(
        &mut self,
        username: Option<MqttString>,
        password: Option<Bytes>,
    ) -> Result<(), super::ConfigError> {
        let mut config = self.config.clone();
        config.username = username;
        config.password = password;
        config.check()?;
        self.config = config;
        Ok(())
    }

    /// A new list of endpoints for the next attempts (after [`Event::GaveUp`], say);
    /// attempts start again from its first entry, and a redirect is forgotten.
    pub fn set_endpoints(&mut self, endpoints: alloc::vec::Vec<String>) {
        self.config.endpoints = endpoints;
        if let Some(r) = self.reconnect.as_mut() {
            r.endpoint = 0;
            r.redirect = None;
        }
    }

    /// True from [`connect`](Client::connect) until the client gives up or
    /// [`disconnect`](Client::disconnect) stops it.
    pub fn is_reconnecting(&self) -> bool {
        self.reconnect.is_some()
    }

    /// The endpoint the next or current attempt uses, if endpoints are configured.
    pub fn endpoint(&self) -> Option<&str> {
        let r = self.reconnect.as_ref()?;
        if let Some(redirect) = &r.redirect {
            return Some(redirect);
        }
        self.config.endpoints.get(r.endpoint).map(String::as_str)
    }

    /// Stops reconnecting; true when it was running.
    pub(super) fn stop_reconnecting(&mut self) -> bool {
        self.reconnect.take().is_some()
    }

    /// The deadline of the reconnection logic, if any.
    pub(super) fn reconnect_deadline(&self) -> Option<Instant> {
        let r = self.reconnect.as_ref()?;
        match r.phase {
            Phase::Waiting(at) => Some(at),
            Phase::Attempting(start) => Some(start + self.config.reconnect.attempt_timeout),
            Phase::Connected(_) => None,
        }
    }

    /// Fires the reconnection deadlines that have passed.
    pub(super) fn reconnect_timeout(&mut self) {
        let Some(r) = self.reconnect.as_ref() else {
            return;
        };
        match r.phase {
            Phase::Waiting(at) if self.now >= at => self.start_attempt(),
            Phase::Attempting(start)
                if self.now >= start + self.config.reconnect.attempt_timeout =>
            {
                if self.state == State::Disconnected {
                    // The driver never reported a transport.
                    self.connection_ended(&DisconnectReason::AttemptTimeout);
                } else {
                    // `close` reports the end and schedules the next attempt.
                    self.close(DisconnectReason::AttemptTimeout);
                }
            }
            _ => {}
        }
    }

    /// The driver opened a transport: an attempt is under way, also when it did not
    /// wait for the delay.
    pub(super) fn reconnect_transport_opened(&mut self) {
        let now = self.now;
        if let Some(r) = self.reconnect.as_mut() {
            if let Phase::Waiting(_) = r.phase {
                r.attempt += 1;
                r.phase = Phase::Attempting(now);
            }
        }
    }

    /// A CONNACK accepted the connection.
    pub(super) fn reconnect_connected(&mut self) {
        let now = self.now;
        if let Some(r) = self.reconnect.as_mut() {
            r.phase = Phase::Connected(now);
            r.ever_connected = true;
        }
    }

    /// Emits [`Event::Connect`] for the next attempt.
    fn start_attempt(&mut self) {
        let deep_every = self.config.reconnect.deep_every;
        let now = self.now;
        let Some(r) = self.reconnect.as_mut() else {
            return;
        };
        r.attempt += 1;
        // Every n-th attempt of a series refreshes credentials first.
        let deep = core::mem::take(&mut r.deep_next)
            || deep_every.is_some_and(|n| r.attempt % n.get() == 0);
        r.phase = Phase::Attempting(now);
        let attempt = r.attempt;
        let endpoint = self.endpoint().map(String::from);
        self.events.push_back(Event::Connect {
            attempt,
            endpoint,
            deep,
        });
    }

    /// A connection or an attempt ended for `reason`: schedule the next attempt or
    /// give up. Called by `close` for every end but the application's own.
    pub(super) fn connection_ended(&mut self, reason: &DisconnectReason) {
        let policy = self.config.reconnect.clone();
        let now = self.now;
        let version = self.config.version;
        let Some(r) = self.reconnect.as_mut() else {
            return;
        };
        let mut class = classify_end(reason);
        // A connection that stayed up long enough starts a new series.
        if let Phase::Connected(since) = r.phase {
            if now.saturating_duration_since(since) >= policy.reset_after {
                r.failures = 0;
                r.attempt = 0;
            }
        }
        r.failures += 1;
        let mut fallback = false;
        match reason {
            DisconnectReason::Refused {
                reason_code:
                    ConnectReasonCode::BadUserNameOrPassword | ConnectReasonCode::NotAuthorized,
                ..
            } if policy.bad_credentials == CredentialsFailure::Refresh => {
                class = FailureClass::Retryable;
                r.deep_next = true;
            }
            DisconnectReason::Refused {
                reason_code: ConnectReasonCode::UnsupportedProtocolVersion,
                ..
            } if policy.fallback_to_v311
                && version == ProtocolVersion::V5
                && self.config.fits_v311() =>
            {
                class = FailureClass::Retryable;
                fallback = true;
            }
            _ => {}
        }
        let server_reference = match reason {
            DisconnectReason::Refused {
                server_reference, ..
            }
            | DisconnectReason::ByServer {
                server_reference, ..
            } => server_reference.clone(),
            _ => None,
        };
        let attempt = r.attempt;
        let was_attempt = matches!(r.phase, Phase::Attempting(_));
        if was_attempt {
            self.events.push_back(Event::AttemptFailed {
                attempt,
                reason: reason.clone(),
                class,
            });
        }
        let Some(r) = self.reconnect.as_mut() else {
            return;
        };
        let out_of_attempts = policy.max_attempts.is_some_and(|m| r.failures >= m.get());
        let first_connect_failed = !r.ever_connected && !policy.retry_first_connect;
        if class == FailureClass::Fatal || out_of_attempts || first_connect_failed {
            let attempts = r.attempt;
            self.reconnect = None;
            self.events.push_back(Event::GaveUp {
                attempts,
                reason: reason.clone(),
            });
            return;
        }
        let endpoints = self.config.endpoints.len();
        match (class, server_reference) {
            (FailureClass::Redirect, Some(reference)) => {
                r.redirect = Some(String::from(reference.as_str()));
            }
            // A connection that worked and then dropped tries the same endpoint (or
            // redirect target) again first.
            _ if !was_attempt => {}
            // A failed attempt at a redirect target goes back to the list; one at a
            // listed endpoint moves on to the next.
            _ => {
                if r.redirect.take().is_none() && endpoints > 1 {
                    r.endpoint = (r.endpoint + 1) % endpoints;
                }
            }
        }
        let delay = if fallback {
            Duration::ZERO
        } else if class == FailureClass::RetryLater {
            policy.max_delay
        } else {
            policy.delay(r.failures, &mut r.rng)
        };
        let attempt = r.attempt + 1;
        r.phase = Phase::Waiting(now + delay);
        let deep = r.deep_next || policy.deep_every.is_some_and(|n| attempt % n.get() == 0);
        if fallback {
            self.config.version = ProtocolVersion::V311;
        }
        let endpoint = self.endpoint().map(String::from);
        self.events.push_back(Event::AttemptScheduled {
            attempt,
            delay,
            endpoint,
            deep,
        });
        if delay.is_zero() {
            self.start_attempt();
        }
    }
}
