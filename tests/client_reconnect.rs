//! Automatic reconnection of the client (`Client::connect`): backoff and seeded jitter,
//! backoff reset, deep attempts and credentials, endpoints and redirects, the 5.0 to
//! 3.1.1 fallback, stopping and connecting now, attempt timeouts, the classification
//! tables, and the offline queue.

mod peer;
use peer::*;

use bytes::Bytes;
use mqtt_sansio::*;
use proptest::prelude::*;
use std::num::NonZeroU32;
use std::time::Duration;

const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;
const REFUSED: DisconnectReason = DisconnectReason::TransportFailed(TransportFailure::Refused);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn nanos(n: u64) -> Duration {
    Duration::from_nanos(n)
}

/// A client with the default configuration whose reconnect policy `set` changed.
fn with_policy(version: ProtocolVersion, set: impl FnOnce(&mut ReconnectPolicy)) -> Peer {
    Peer::configured(version, |c| set(&mut c.reconnect))
}

/// A deterministic policy: 1 s doubling to 60 s, no jitter.
fn plain(p: &mut ReconnectPolicy) {
    p.initial_delay = secs(1);
    p.multiplier = 2;
    p.max_delay = secs(60);
    p.jitter = Jitter::None;
}

fn connect_event(attempt: u32, endpoint: Option<&str>, deep: bool) -> Event {
    Event::Connect {
        attempt,
        endpoint: endpoint.map(String::from),
        deep,
    }
}

fn scheduled(attempt: u32, delay: Duration, endpoint: Option<&str>, deep: bool) -> Event {
    Event::AttemptScheduled {
        attempt,
        delay,
        endpoint: endpoint.map(String::from),
        deep,
    }
}

fn failed(attempt: u32, reason: DisconnectReason, class: FailureClass) -> Event {
    Event::AttemptFailed {
        attempt,
        reason,
        class,
    }
}

fn refused(code: ConnectReasonCode, server_reference: Option<&str>) -> DisconnectReason {
    DisconnectReason::Refused {
        reason_code: code,
        reason_string: None,
        server_reference: server_reference.map(s),
        user_properties: UserProperties::new(),
    }
}

fn by_server(code: DisconnectReasonCode, server_reference: Option<&str>) -> DisconnectReason {
    DisconnectReason::ByServer {
        reason_code: code,
        reason_string: None,
        server_reference: server_reference.map(s),
        user_properties: UserProperties::new(),
    }
}

fn disconnected_event(reason: DisconnectReason) -> Event {
    Event::Disconnected { reason }
}

/// One nanosecond before `at`.
fn just_before(at: Instant) -> Instant {
    Instant::from_duration(at.since_epoch() - nanos(1))
}

/// Starts `connect` and checks that it asks at once for attempt 1.
fn start(p: &mut Peer, endpoint: Option<&str>) {
    p.client.connect(p.now).unwrap();
    assert_eq!(p.events(), vec![connect_event(1, endpoint, false)]);
    let attempt_timeout = p.client.config().reconnect.attempt_timeout;
    assert_eq!(p.client.poll_timeout(), Some(p.now + attempt_timeout));
}

/// The attempt under way could not open a transport: the events that brings.
fn fail(p: &mut Peer) -> Vec<Event> {
    p.client
        .handle_transport_failed(p.now, TransportFailure::Refused);
    p.events()
}

/// The driver opens a transport for the attempt under way, the server accepts it.
fn accept(p: &mut Peer) {
    p.open();
    p.send(connack(false));
    match p.events().as_slice() {
        [Event::Connected(_)] => {}
        other => panic!("expected Connected, got {other:?}"),
    }
}

/// The delay of the one AttemptScheduled event in `events`.
fn delay_of(events: &[Event]) -> Duration {
    let delays: Vec<Duration> = events
        .iter()
        .filter_map(|e| match e {
            Event::AttemptScheduled { delay, .. } => Some(*delay),
            _ => None,
        })
        .collect();
    match delays.as_slice() {
        [d] => *d,
        _ => panic!("expected one AttemptScheduled in {events:?}"),
    }
}

/// How `drive` makes an attempt fail.
#[derive(Clone, Copy)]
enum Failure {
    /// The driver reports that the transport did not open.
    Transport,
    /// The transport opens, CONNECT goes out, no CONNACK comes.
    ConnAckTimeout,
}

/// From a fresh `connect`, `n` attempts that all fail as `how` says. At each step
/// checks the events exactly, that `poll_timeout` is now + delay, that nothing happens
/// a nanosecond before it and that the deadline brings the Connect of the next attempt.
/// Returns the delays of the AttemptScheduled events.
fn drive(p: &mut Peer, n: u32, how: Failure) -> Vec<Duration> {
    start(p, None);
    let attempt_timeout = p.client.config().reconnect.attempt_timeout;
    let mut delays = Vec::new();
    for attempt in 1..=n {
        let (events, reason) = match how {
            Failure::Transport => (fail(p), REFUSED),
            Failure::ConnAckTimeout => {
                p.open();
                let connack_timeout = p.client.config().connack_timeout;
                assert_eq!(p.client.poll_timeout(), Some(p.now + connack_timeout));
                let mut events = p.fire();
                assert_eq!(
                    events.remove(0),
                    disconnected_event(DisconnectReason::ConnAckTimeout)
                );
                (events, DisconnectReason::ConnAckTimeout)
            }
        };
        let delay = delay_of(&events);
        let mut expected = vec![
            failed(attempt, reason, FailureClass::Retryable),
            scheduled(attempt + 1, delay, None, false),
        ];
        let due = p.now + delay;
        if delay.is_zero() {
            expected.push(connect_event(attempt + 1, None, false));
            assert_eq!(events, expected);
        } else {
            assert_eq!(events, expected);
            assert_eq!(p.client.poll_timeout(), Some(due));
            p.client.handle_timeout(just_before(due));
            assert_eq!(p.events(), vec![], "nothing before the deadline");
            p.now = due;
            p.client.handle_timeout(due);
            assert_eq!(p.events(), vec![connect_event(attempt + 1, None, false)]);
        }
        assert_eq!(p.client.poll_timeout(), Some(due + attempt_timeout));
        delays.push(delay);
    }
    delays
}

/// `initial * multiplier^(failures - 1)`, capped at `cap`: computed here in u128
/// nanoseconds, independently of the client.
fn capped_exponential(
    initial: Duration,
    multiplier: u32,
    cap: Duration,
    failures: u32,
) -> Duration {
    // Zero stays zero however many failures: only a non-zero start can overflow.
    if initial.is_zero() {
        return Duration::ZERO;
    }
    let grown = u128::from(multiplier)
        .checked_pow(failures - 1)
        .and_then(|f| initial.as_nanos().checked_mul(f));
    let cap_nanos = cap.as_nanos();
    let nanos = grown.map_or(cap_nanos, |g| g.min(cap_nanos));
    Duration::from_nanos(nanos as u64)
}

// ---- 1. exact delay sequences ----

#[test]
fn jitter_none_delays_are_initial_times_multiplier_to_the_n_minus_1_capped() {
    let set = |p: &mut ReconnectPolicy| {
        p.initial_delay = ms(100);
        p.multiplier = 3;
        p.max_delay = secs(5);
        p.jitter = Jitter::None;
    };
    let expected = vec![
        ms(100),
        ms(300),
        ms(900),
        ms(2700),
        secs(5),
        secs(5),
        secs(5),
    ];
    let mut policy = ReconnectPolicy::default();
    set(&mut policy);
    let mut rng = 7;
    let direct: Vec<Duration> = (1..=7).map(|n| policy.delay(n, &mut rng)).collect();
    assert_eq!(direct, expected);
    for version in VERSIONS {
        let mut p = with_policy(version, set);
        assert_eq!(drive(&mut p, 7, Failure::Transport), expected, "{version}");
        let mut p = with_policy(version, set);
        assert_eq!(
            drive(&mut p, 7, Failure::ConnAckTimeout),
            expected,
            "{version}"
        );
    }
}

fn seeded(jitter: Jitter, seed: u64) -> impl Fn(&mut ReconnectPolicy) {
    move |p: &mut ReconnectPolicy| {
        p.initial_delay = secs(1);
        p.multiplier = 2;
        p.max_delay = secs(30);
        p.jitter = jitter;
        p.seed = seed;
    }
}

/// Checks that `expected` is what seed 42 gives with `jitter`: through the policy
/// directly, through two clients (transport failures, CONNACK timeouts) and that
/// another seed gives other delays.
fn assert_seeded_sequence(jitter: Jitter, expected: &[Duration]) {
    let set = seeded(jitter, 42);
    let mut policy = ReconnectPolicy::default();
    set(&mut policy);
    let mut rng = policy.seed;
    let direct: Vec<Duration> = (1..=8).map(|n| policy.delay(n, &mut rng)).collect();
    assert_eq!(direct, expected);
    for version in VERSIONS {
        let mut first = with_policy(version, &set);
        assert_eq!(drive(&mut first, 8, Failure::Transport), expected);
        // The same seed in another client: the same delays.
        let mut second = with_policy(version, &set);
        assert_eq!(drive(&mut second, 8, Failure::Transport), expected);
        let mut third = with_policy(version, &set);
        assert_eq!(drive(&mut third, 8, Failure::ConnAckTimeout), expected);
        let mut other_seed = with_policy(version, seeded(jitter, 43));
        assert_ne!(drive(&mut other_seed, 8, Failure::Transport), expected);
    }
}

#[test]
fn equal_jitter_delays_for_a_fixed_seed_are_a_fixed_list() {
    let expected = [
        nanos(896_360_403),
        nanos(1_177_066_202),
        nanos(3_893_121_986),
        nanos(6_670_956_250),
        nanos(10_054_271_652),
        nanos(29_595_256_988),
        nanos(27_509_033_945),
        nanos(26_003_172_487),
    ];
    assert_seeded_sequence(Jitter::Equal, &expected);
}

#[test]
fn full_jitter_delays_for_a_fixed_seed_are_a_fixed_list() {
    let expected = [
        nanos(75_817_894),
        nanos(651_979_246),
        nanos(3_177_942_922),
        nanos(3_464_606_007),
        nanos(2_098_117_451),
        nanos(15_129_123_025),
        nanos(12_643_329_435),
        nanos(26_495_474_198),
    ];
    assert_seeded_sequence(Jitter::Full, &expected);
}

// ---- 2. jitter bounds ----

/// The bounds of a delay with `jitter` around the capped exponential `d`.
fn bounds(jitter: Jitter, d: Duration) -> (Duration, Duration) {
    match jitter {
        Jitter::None => (d, d),
        Jitter::Full => (Duration::ZERO, d),
        Jitter::Equal => (d / 2, d),
    }
}

fn jitters() -> impl Strategy<Value = Jitter> {
    prop_oneof![Just(Jitter::None), Just(Jitter::Full), Just(Jitter::Equal)]
}

proptest! {
    #[test]
    fn policy_delay_stays_within_the_jitter_bounds(
        seed in any::<u64>(),
        failures in 1u32..200,
        initial_ms in 0u64..10_000,
        multiplier in 1u32..10,
        cap_ms in 0u64..3_600_000,
        jitter in jitters(),
    ) {
        let mut policy = ReconnectPolicy::default();
        policy.initial_delay = ms(initial_ms);
        policy.multiplier = multiplier;
        policy.max_delay = ms(cap_ms);
        policy.jitter = jitter;
        let d = capped_exponential(policy.initial_delay, multiplier, policy.max_delay, failures);
        let (low, high) = bounds(jitter, d);
        let mut rng = seed;
        let delay = policy.delay(failures, &mut rng);
        prop_assert!(low <= delay && delay <= high, "{delay:?} outside {low:?}..={high:?}");
        // The same generator state gives the same delay.
        prop_assert_eq!(policy.delay(failures, &mut seed.clone()), delay);
    }

    #[test]
    fn scheduled_delays_stay_within_the_jitter_bounds(
        seed in any::<u64>(),
        n in 1u32..16,
        jitter in jitters(),
    ) {
        let set = |p: &mut ReconnectPolicy| {
            p.initial_delay = ms(250);
            p.multiplier = 2;
            p.max_delay = secs(20);
            p.jitter = jitter;
            p.seed = seed;
        };
        let mut p = with_policy(V311, set);
        let delays = drive(&mut p, n, Failure::Transport);
        let mut policy = ReconnectPolicy::default();
        set(&mut policy);
        let mut rng = seed;
        for (i, delay) in delays.into_iter().enumerate() {
            let failures = i as u32 + 1;
            let d = capped_exponential(ms(250), 2, secs(20), failures);
            let (low, high) = bounds(jitter, d);
            prop_assert!(low <= delay && delay <= high, "failure {failures}: {delay:?} outside {low:?}..={high:?}");
            // And it is the policy's own sequence for that seed.
            prop_assert_eq!(delay, policy.delay(failures, &mut rng));
        }
    }
}

// ---- 3. backoff reset ----

/// Three failed attempts (delays 1, 2, 4 s), then attempt 4 connects and stays up
/// for `up` (no keep alive) before the transport drops; the drop's events are pending.
fn up_for(up: Duration) -> Peer {
    let mut p = Peer::configured(V311, |c| {
        plain(&mut c.reconnect);
        c.reconnect.reset_after = secs(60);
        c.keep_alive = 0;
    });
    start(&mut p, None);
    for (attempt, delay) in [(1, 1), (2, 2), (3, 4)] {
        assert_eq!(
            fail(&mut p),
            vec![
                failed(attempt, REFUSED, FailureClass::Retryable),
                scheduled(attempt + 1, secs(delay), None, false),
            ]
        );
        assert_eq!(p.fire(), vec![connect_event(attempt + 1, None, false)]);
    }
    accept(&mut p);
    assert_eq!(p.client.poll_timeout(), None, "connected, no keep alive");
    p.now = p.now + up;
    p.drop_transport();
    p
}

#[test]
fn backoff_resets_after_a_connection_stayed_up_for_reset_after() {
    let mut p = up_for(secs(60));
    assert_eq!(
        p.events(),
        vec![
            disconnected_event(DisconnectReason::TransportClosed),
            scheduled(1, secs(1), None, false),
        ]
    );
    assert_eq!(p.client.poll_timeout(), Some(p.now + secs(1)));
    assert_eq!(p.fire(), vec![connect_event(1, None, false)]);
    assert_eq!(
        fail(&mut p),
        vec![
            failed(1, REFUSED, FailureClass::Retryable),
            scheduled(2, secs(2), None, false),
        ]
    );
}

#[test]
fn backoff_is_not_reset_when_the_connection_dropped_sooner() {
    let mut p = up_for(secs(59));
    // Four failures in a row: attempt 5 after 8 s.
    assert_eq!(
        p.events(),
        vec![
            disconnected_event(DisconnectReason::TransportClosed),
            scheduled(5, secs(8), None, false),
        ]
    );
    assert_eq!(p.client.poll_timeout(), Some(p.now + secs(8)));
    assert_eq!(p.fire(), vec![connect_event(5, None, false)]);
}

// ---- 4. deep attempts and credentials ----

#[test]
fn with_deep_every_3_every_third_attempt_is_deep() {
    let mut p = with_policy(V5, |r| {
        plain(r);
        r.deep_every = NonZeroU32::new(3);
    });
    start(&mut p, None);
    let mut deep_connects = Vec::new();
    let mut deep_scheduled = Vec::new();
    for attempt in 1..=10u32 {
        let events = fail(&mut p);
        let deep = matches!(
            events.as_slice(),
            [_, Event::AttemptScheduled { deep: true, .. }]
        );
        assert_eq!(
            events,
            vec![
                failed(attempt, REFUSED, FailureClass::Retryable),
                scheduled(attempt + 1, delay_of(&events), None, deep),
            ]
        );
        if deep {
            deep_scheduled.push(attempt + 1);
        }
        let events = p.fire();
        let deep = matches!(events.as_slice(), [Event::Connect { deep: true, .. }]);
        assert_eq!(events, vec![connect_event(attempt + 1, None, deep)]);
        if deep {
            deep_connects.push(attempt + 1);
        }
    }
    // After 3, 6 and 9 consecutive failures.
    assert_eq!(deep_scheduled, vec![3, 6, 9]);
    assert_eq!(deep_connects, vec![3, 6, 9]);
}

/// The bytes of a CONNACK refusing for bad credentials in `version`.
fn bad_credentials_connack(version: ProtocolVersion) -> Vec<u8> {
    if version.is_v5() {
        vec![0x20, 0x03, 0x00, 0x86, 0x00]
    } else {
        vec![0x20, 0x02, 0x00, 0x04]
    }
}

#[test]
fn with_refresh_a_bad_credentials_refusal_is_retried_with_a_deep_attempt() {
    for version in VERSIONS {
        let mut p = Peer::configured(version, |c| {
            plain(&mut c.reconnect);
            c.reconnect.bad_credentials = CredentialsFailure::Refresh;
            c.username = Some(s("alice"));
            c.password = Some(Bytes::from_static(b"expired"));
        });
        start(&mut p, None);
        let connect = p.open();
        assert_eq!(connect.username, Some(s("alice")));
        p.send_bytes(&bad_credentials_connack(version));
        let reason = refused(ConnectReasonCode::BadUserNameOrPassword, None);
        assert_eq!(
            p.events(),
            vec![
                disconnected_event(reason.clone()),
                failed(1, reason, FailureClass::Retryable),
                scheduled(2, secs(1), None, true),
            ],
            "{version}"
        );
        assert_eq!(p.fire(), vec![connect_event(2, None, true)], "{version}");
        // The deep attempt: new credentials first.
        p.client
            .set_credentials(Some(s("bob")), Some(Bytes::from_static(b"fresh")))
            .unwrap();
        let connect = p.open();
        assert_eq!(connect.username, Some(s("bob")), "{version}");
        assert_eq!(
            connect.password,
            Some(Bytes::from_static(b"fresh")),
            "{version}"
        );
        // One refresh: the attempt after it is ordinary again.
        p.drop_transport();
        assert_eq!(
            p.events(),
            vec![
                disconnected_event(DisconnectReason::TransportClosed),
                failed(
                    2,
                    DisconnectReason::TransportClosed,
                    FailureClass::Retryable
                ),
                scheduled(3, secs(2), None, false),
            ],
            "{version}"
        );
        assert_eq!(p.fire(), vec![connect_event(3, None, false)]);
    }
}

#[test]
fn with_fatal_a_bad_credentials_refusal_gives_up() {
    for version in VERSIONS {
        let mut p = with_policy(version, |r| {
            plain(r);
            assert_eq!(r.bad_credentials, CredentialsFailure::Fatal, "the default");
        });
        start(&mut p, None);
        p.open();
        p.send_bytes(&bad_credentials_connack(version));
        let reason = refused(ConnectReasonCode::BadUserNameOrPassword, None);
        assert_eq!(
            p.events(),
            vec![
                disconnected_event(reason.clone()),
                failed(1, reason.clone(), FailureClass::Fatal),
                Event::GaveUp {
                    attempts: 1,
                    reason,
                },
            ],
            "{version}"
        );
        assert_eq!(p.client.poll_timeout(), None);
        p.advance(secs(3600));
        assert_eq!(p.events(), vec![]);
    }
}

#[test]
fn mqtt_3_1_2_22_set_credentials_that_v311_cannot_carry_are_refused() {
    // [MQTT-3.1.2-22] (3.1.1): a password needs a user name. The credentials are
    // refused and the old ones kept, so the next attempt still sends its CONNECT.
    let mut p = with_policy(V311, plain);
    start(&mut p, None);
    assert!(matches!(
        p.client
            .set_credentials(None, Some(Bytes::from_static(b"secret"))),
        Err(ConfigError::InvalidConnect(_))
    ));
    let connect = p.open();
    assert_eq!((connect.username, connect.password), (None, None));
}

#[test]
fn set_credentials_changes_the_username_and_password_of_the_next_connect() {
    for version in VERSIONS {
        let mut p = Peer::configured(version, |c| {
            plain(&mut c.reconnect);
            c.username = Some(s("alice"));
            c.password = Some(Bytes::from_static(b"one"));
        });
        start(&mut p, None);
        let connect = p.open();
        assert_eq!(
            (connect.username, connect.password),
            (Some(s("alice")), Some(Bytes::from_static(b"one")))
        );
        p.drop_transport();
        p.events();
        p.client
            .set_credentials(Some(s("carol")), Some(Bytes::from_static(b"two")))
            .unwrap();
        p.fire();
        let connect = p.open();
        assert_eq!(
            (connect.username, connect.password),
            (Some(s("carol")), Some(Bytes::from_static(b"two"))),
            "{version}"
        );
        p.drop_transport();
        p.events();
        p.client.set_credentials(None, None).unwrap();
        p.fire();
        let connect = p.open();
        assert_eq!(
            (connect.username, connect.password),
            (None, None),
            "{version}"
        );
    }
}

// ---- 5. endpoints ----

fn abc(version: ProtocolVersion) -> Peer {
    Peer::configured(version, |c| {
        plain(&mut c.reconnect);
        c.endpoints = vec!["a".into(), "b".into(), "c".into()];
        c.keep_alive = 0;
    })
}

#[test]
fn failed_attempts_rotate_through_the_endpoints_in_order() {
    let mut p = abc(V311);
    start(&mut p, Some("a"));
    assert_eq!(p.client.endpoint(), Some("a"));
    let order = ["b", "c", "a", "b", "c"];
    for (i, next) in order.into_iter().enumerate() {
        let attempt = i as u32 + 1;
        let events = fail(&mut p);
        assert_eq!(
            events,
            vec![
                failed(attempt, REFUSED, FailureClass::Retryable),
                scheduled(attempt + 1, delay_of(&events), Some(next), false),
            ]
        );
        assert_eq!(p.client.endpoint(), Some(next));
        assert_eq!(
            p.fire(),
            vec![connect_event(attempt + 1, Some(next), false)]
        );
    }
}

#[test]
fn the_endpoint_that_worked_is_tried_first_after_the_connection_drops() {
    let mut p = abc(V311);
    start(&mut p, Some("a"));
    fail(&mut p);
    assert_eq!(p.fire(), vec![connect_event(2, Some("b"), false)]);
    accept(&mut p);
    p.now = p.now + secs(5);
    p.drop_transport();
    assert_eq!(
        p.events(),
        vec![
            disconnected_event(DisconnectReason::TransportClosed),
            scheduled(3, secs(2), Some("b"), false),
        ]
    );
    assert_eq!(p.fire(), vec![connect_event(3, Some("b"), false)]);
    // It fails now: on to the next one.
    assert_eq!(
        fail(&mut p),
        vec![
            failed(3, REFUSED, FailureClass::Retryable),
            scheduled(4, secs(4), Some("c"), false),
        ]
    );
}

#[test]
fn a_connack_redirect_names_the_next_endpoint_which_sticks_once_it_worked() {
    for code in [
        ConnectReasonCode::UseAnotherServer,
        ConnectReasonCode::ServerMoved,
    ] {
        let mut p = abc(V5);
        start(&mut p, Some("a"));
        p.open();
        p.send(connack_refusing(code, Some("other:1883")));
        let reason = refused(code, Some("other:1883"));
        assert_eq!(
            p.events(),
            vec![
                disconnected_event(reason.clone()),
                failed(1, reason, FailureClass::Redirect),
                scheduled(2, secs(1), Some("other:1883"), false),
            ],
            "{code:?}"
        );
        assert_eq!(p.client.endpoint(), Some("other:1883"));
        assert_eq!(p.fire(), vec![connect_event(2, Some("other:1883"), false)]);
        accept(&mut p);
        p.now = p.now + secs(5);
        p.drop_transport();
        // The redirect target worked: it is the endpoint to try again first.
        assert_eq!(
            p.events(),
            vec![
                disconnected_event(DisconnectReason::TransportClosed),
                scheduled(3, secs(2), Some("other:1883"), false),
            ],
            "{code:?}"
        );
        assert_eq!(p.fire(), vec![connect_event(3, Some("other:1883"), false)]);
        // When it stops answering, the list resumes where it was: "a" never failed,
        // it redirected.
        assert_eq!(
            fail(&mut p),
            vec![
                failed(3, REFUSED, FailureClass::Retryable),
                scheduled(4, secs(4), Some("a"), false),
            ],
            "{code:?}"
        );
    }
}

#[test]
fn a_disconnect_redirect_names_the_next_endpoint() {
    let mut p = abc(V5);
    start(&mut p, Some("a"));
    accept(&mut p);
    let mut disconnect = Disconnect::new(DisconnectReasonCode::ServerMoved);
    disconnect.properties.server_reference = Some(s("moved:8883"));
    p.send(disconnect);
    assert_eq!(
        p.events(),
        vec![
            disconnected_event(by_server(
                DisconnectReasonCode::ServerMoved,
                Some("moved:8883")
            )),
            scheduled(2, secs(1), Some("moved:8883"), false),
        ]
    );
    assert_eq!(p.fire(), vec![connect_event(2, Some("moved:8883"), false)]);
    // The redirect target does not answer: back to the list.
    assert_eq!(
        fail(&mut p),
        vec![
            failed(2, REFUSED, FailureClass::Retryable),
            scheduled(3, secs(2), Some("a"), false),
        ]
    );
}

// ---- 6. 5.0 -> 3.1.1 fallback ----

/// The protocol level byte of a CONNECT written by the client (short remaining length).
fn protocol_level(connect: &[u8]) -> u8 {
    assert_eq!(
        &connect[..8],
        [0x10, connect[1], 0, 4, b'M', b'Q', b'T', b'T']
    );
    connect[8]
}

#[test]
fn v5_falls_back_to_v311_at_once_when_the_server_answers_with_a_v311_connack() {
    // Whole, and split across two reads.
    for split in [4, 1, 3] {
        let mut p = with_policy(V5, |r| {
            plain(r);
            r.fallback_to_v311 = true;
        });
        start(&mut p, None);
        p.client.handle_transport_open(p.now).unwrap();
        assert_eq!(protocol_level(&p.sent_bytes()), 5);
        let wire = [0x20, 0x02, 0x00, 0x01];
        p.send_bytes(&wire[..split]);
        p.send_bytes(&wire[split..]);
        let reason = refused(ConnectReasonCode::UnsupportedProtocolVersion, None);
        assert_eq!(
            p.events(),
            vec![
                disconnected_event(reason.clone()),
                failed(1, reason, FailureClass::Retryable),
                scheduled(2, Duration::ZERO, None, false),
                connect_event(2, None, false),
            ],
            "split {split}"
        );
        let attempt_timeout = p.client.config().reconnect.attempt_timeout;
        assert_eq!(p.client.poll_timeout(), Some(p.now + attempt_timeout));
        assert_eq!(p.client.version(), V311);
        p.client.handle_transport_open(p.now).unwrap();
        assert_eq!(protocol_level(&p.sent_bytes()), 4, "split {split}");
        p.send_bytes(&[0x20, 0x02, 0x00, 0x00]);
        match p.events().as_slice() {
            [Event::Connected(_)] => {}
            other => panic!("expected Connected, got {other:?}"),
        }
        assert!(p.client.is_connected());
    }
}

#[test]
fn mqtt_3_1_2_2_without_fallback_a_v311_connack_to_v5_gives_up_with_unsupported_protocol_version() {
    let mut p = with_policy(V5, plain);
    start(&mut p, None);
    p.open();
    p.send_bytes(&[0x20, 0x02, 0x00, 0x01]);
    let reason = refused(ConnectReasonCode::UnsupportedProtocolVersion, None);
    assert_eq!(
        p.events(),
        vec![
            disconnected_event(reason.clone()),
            failed(1, reason.clone(), FailureClass::Fatal),
            Event::GaveUp {
                attempts: 1,
                reason,
            },
        ]
    );
    assert_eq!(p.client.poll_timeout(), None);
    assert_eq!(p.client.version(), V5);
}

// ---- 7. stop, connect now, first connect, attempt limit ----

#[test]
fn disconnect_during_backoff_stops_reconnecting_and_leaves_nothing_armed() {
    for version in VERSIONS {
        let mut p = with_policy(version, plain);
        start(&mut p, None);
        let events = fail(&mut p);
        let due = p.now + delay_of(&events);
        p.now = p.now + ms(300);
        assert_eq!(
            p.client
                .disconnect(p.now, DisconnectReasonCode::NormalDisconnection, None),
            Ok(())
        );
        assert_eq!(p.client.poll_timeout(), None);
        assert_eq!(p.events(), vec![]);
        // The old deadline and hours after it: nothing.
        p.client.handle_timeout(due);
        p.advance(secs(6 * 3600));
        assert_eq!(p.events(), vec![]);
        assert_eq!(p.client.poll_timeout(), None);
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        // Connecting now has nothing to act on; a second stop finds nothing running.
        p.client.connect_now(p.now);
        assert_eq!(p.events(), vec![]);
        assert_eq!(
            p.client
                .disconnect(p.now, DisconnectReasonCode::NormalDisconnection, None),
            Err(StateError::NotConnected)
        );
        // `connect` starts again from attempt 1.
        start(&mut p, None);
    }
}

#[test]
fn disconnect_during_an_attempt_or_a_connection_stops_reconnecting() {
    for version in VERSIONS {
        // Waiting for CONNACK.
        let mut p = with_policy(version, plain);
        start(&mut p, None);
        p.open();
        p.client
            .disconnect(p.now, DisconnectReasonCode::NormalDisconnection, None)
            .unwrap();
        assert_eq!(p.events(), only_disconnected(DisconnectReason::ByClient));
        assert_eq!(p.client.poll_timeout(), None);
        p.advance(secs(3600));
        assert_eq!(p.events(), vec![]);

        // Connected.
        let mut p = Peer::configured(version, |c| {
            plain(&mut c.reconnect);
            c.keep_alive = 0;
        });
        start(&mut p, None);
        accept(&mut p);
        p.client
            .disconnect(p.now, DisconnectReasonCode::NormalDisconnection, None)
            .unwrap();
        assert_eq!(p.events(), only_disconnected(DisconnectReason::ByClient));
        assert_eq!(p.client.poll_timeout(), None);
        p.drop_transport();
        p.advance(secs(3600));
        assert_eq!(p.events(), vec![]);
    }
}

#[test]
fn connect_now_during_backoff_starts_the_attempt_at_once() {
    let mut p = with_policy(V311, plain);
    start(&mut p, None);
    fail(&mut p);
    fail_after_fire(&mut p);
    // Waiting 2 s for attempt 3; the network came back after 100 ms.
    let due = p.client.poll_timeout().unwrap();
    p.now = p.now + ms(100);
    assert!(p.now < due);
    p.client.connect_now(p.now);
    assert_eq!(p.events(), vec![connect_event(3, None, false)]);
    let attempt_timeout = p.client.config().reconnect.attempt_timeout;
    assert_eq!(p.client.poll_timeout(), Some(p.now + attempt_timeout));
    // While the attempt runs, connect_now does nothing and the old deadline is gone.
    p.client.connect_now(p.now);
    p.client.handle_timeout(due);
    assert_eq!(p.events(), vec![]);
    accept(&mut p);
    assert!(p.client.is_connected());
}

/// Fires the pending deadline (a Connect) and fails that attempt too.
fn fail_after_fire(p: &mut Peer) -> Vec<Event> {
    let connect = p.fire();
    assert!(
        matches!(connect.as_slice(), [Event::Connect { .. }]),
        "{connect:?}"
    );
    fail(p)
}

#[test]
fn without_retry_first_connect_the_first_failure_gives_up() {
    let mut p = Peer::configured(V311, |c| {
        plain(&mut c.reconnect);
        c.reconnect.retry_first_connect = false;
        c.keep_alive = 0;
    });
    start(&mut p, None);
    assert_eq!(
        fail(&mut p),
        vec![
            failed(1, REFUSED, FailureClass::Retryable),
            Event::GaveUp {
                attempts: 1,
                reason: REFUSED,
            },
        ]
    );
    assert_eq!(p.client.poll_timeout(), None);
    p.advance(secs(3600));
    assert_eq!(p.events(), vec![]);

    // Once a connection worked, failures are retried.
    start(&mut p, None);
    accept(&mut p);
    p.drop_transport();
    assert_eq!(
        p.events(),
        vec![
            disconnected_event(DisconnectReason::TransportClosed),
            scheduled(2, secs(1), None, false),
        ]
    );
}

#[test]
fn max_attempts_3_gives_up_after_3_consecutive_failures() {
    let mut p = with_policy(V5, |r| {
        plain(r);
        r.max_attempts = NonZeroU32::new(3);
    });
    start(&mut p, None);
    assert_eq!(
        fail(&mut p),
        vec![
            failed(1, REFUSED, FailureClass::Retryable),
            scheduled(2, secs(1), None, false),
        ]
    );
    assert_eq!(
        fail_after_fire(&mut p),
        vec![
            failed(2, REFUSED, FailureClass::Retryable),
            scheduled(3, secs(2), None, false),
        ]
    );
    assert_eq!(
        fail_after_fire(&mut p),
        vec![
            failed(3, REFUSED, FailureClass::Retryable),
            Event::GaveUp {
                attempts: 3,
                reason: REFUSED,
            },
        ]
    );
    assert_eq!(p.client.poll_timeout(), None);
    p.advance(secs(24 * 3600));
    assert_eq!(p.events(), vec![]);
    // `connect` starts a new series.
    start(&mut p, None);
}

#[test]
fn connect_twice_is_refused() {
    let mut p = with_policy(V311, plain);
    start(&mut p, None);
    assert_eq!(p.client.connect(p.now), Err(StateError::AlreadyConnected));
    fail(&mut p);
    assert_eq!(p.client.connect(p.now), Err(StateError::AlreadyConnected));
    assert_eq!(p.events(), vec![]);
}

// ---- 8. attempt timeout ----

#[test]
fn an_attempt_the_driver_never_reports_fails_at_the_attempt_timeout() {
    let mut p = with_policy(V311, |r| {
        plain(r);
        r.attempt_timeout = secs(5);
    });
    let t0 = p.now;
    start(&mut p, None);
    assert_eq!(p.client.poll_timeout(), Some(t0 + secs(5)));
    p.client.handle_timeout(just_before(t0 + secs(5)));
    assert_eq!(p.events(), vec![]);
    assert_eq!(
        p.fire(),
        vec![
            failed(1, DisconnectReason::AttemptTimeout, FailureClass::Retryable),
            scheduled(2, secs(1), None, false),
        ]
    );
    assert_eq!(p.now, t0 + secs(5));
    assert_eq!(p.client.poll_timeout(), Some(t0 + secs(6)));
    assert_eq!(p.fire(), vec![connect_event(2, None, false)]);
}

#[test]
fn an_open_transport_without_connack_fails_at_the_attempt_timeout() {
    let mut p = Peer::configured(V5, |c| {
        plain(&mut c.reconnect);
        c.reconnect.attempt_timeout = secs(5);
        c.connack_timeout = secs(10);
    });
    let t0 = p.now;
    start(&mut p, None);
    p.now = t0 + secs(2);
    p.open();
    // The attempt's deadline comes before the CONNACK timeout of this transport.
    assert_eq!(p.client.poll_timeout(), Some(t0 + secs(5)));
    assert_eq!(
        p.fire(),
        vec![
            disconnected_event(DisconnectReason::AttemptTimeout),
            failed(1, DisconnectReason::AttemptTimeout, FailureClass::Retryable),
            scheduled(2, secs(1), None, false),
        ]
    );
    assert_eq!(p.client.state(), State::Disconnected);
    assert_eq!(p.client.poll_timeout(), Some(t0 + secs(6)));
}

#[test]
fn a_connack_timeout_within_the_attempt_fails_the_attempt() {
    let mut p = with_policy(V311, plain);
    let t0 = p.now;
    start(&mut p, None);
    p.open();
    assert_eq!(p.client.poll_timeout(), Some(t0 + secs(10)));
    assert_eq!(
        p.fire(),
        vec![
            disconnected_event(DisconnectReason::ConnAckTimeout),
            failed(1, DisconnectReason::ConnAckTimeout, FailureClass::Retryable),
            scheduled(2, secs(1), None, false),
        ]
    );
}

// ---- 9. classification tables ----

use FailureClass::{Fatal, Redirect, RetryLater, Retryable};

/// Every CONNACK code and its class, as the table of `classify_connack` documents it.
const CONNACK_CLASSES: [(u8, FailureClass); 22] = [
    // Success is no refusal; the documentation does not list it.
    (0x00, Retryable),
    (0x80, Retryable),
    (0x81, Fatal),
    (0x82, Fatal),
    (0x83, Retryable),
    (0x84, Fatal),
    (0x85, Fatal),
    (0x86, Fatal),
    (0x87, Fatal),
    (0x88, Retryable),
    (0x89, Retryable),
    (0x8A, Fatal),
    (0x8C, Fatal),
    (0x90, Fatal),
    (0x95, Fatal),
    (0x97, Retryable),
    (0x99, Fatal),
    (0x9A, Fatal),
    (0x9B, Fatal),
    (0x9C, Redirect),
    (0x9D, Redirect),
    (0x9F, RetryLater),
];

/// Every DISCONNECT code and its class, as the table of `classify_disconnect`
/// documents it.
const DISCONNECT_CLASSES: [(u8, FailureClass); 30] = [
    (0x00, Retryable),
    (0x04, Retryable),
    (0x80, Retryable),
    (0x81, Retryable),
    (0x82, Retryable),
    (0x83, Retryable),
    (0x87, Fatal),
    (0x89, Retryable),
    (0x8B, Retryable),
    (0x8C, Fatal),
    (0x8D, Retryable),
    (0x8E, RetryLater),
    (0x8F, Retryable),
    (0x90, Retryable),
    (0x93, Retryable),
    (0x94, Retryable),
    (0x95, Retryable),
    (0x96, RetryLater),
    (0x97, Retryable),
    (0x98, Retryable),
    (0x99, Retryable),
    (0x9A, Retryable),
    (0x9B, Retryable),
    (0x9C, Redirect),
    (0x9D, Redirect),
    (0x9E, Retryable),
    (0x9F, RetryLater),
    (0xA0, Retryable),
    (0xA1, Retryable),
    (0xA2, Retryable),
];

/// What the client schedules after a failure of `class` with the `plain` policy at the
/// first failure: the delay and the endpoint, or `None` for giving up.
fn expected_schedule(class: FailureClass) -> Option<(Duration, Option<&'static str>)> {
    match class {
        Fatal => None,
        Retryable => Some((secs(1), None)),
        RetryLater => Some((secs(60), None)),
        Redirect => Some((secs(1), Some("other:1883"))),
    }
}

#[test]
fn every_connack_reason_code_has_its_documented_class() {
    let codes: Vec<ConnectReasonCode> = (0..=255u8)
        .filter_map(|b| ConnectReasonCode::try_from(b).ok())
        .collect();
    let table: Vec<u8> = CONNACK_CLASSES.iter().map(|(b, _)| *b).collect();
    assert_eq!(
        codes.iter().map(|c| c.value()).collect::<Vec<_>>(),
        table,
        "the table covers every code"
    );
    for (code, (_, class)) in codes.into_iter().zip(CONNACK_CLASSES) {
        assert_eq!(classify_connack(code), class, "{code:?}");
        let reason = refused(code, None);
        assert_eq!(classify_end(&reason), class, "{code:?}");
        if !code.is_error() {
            continue;
        }
        // And what a 5.0 client in connect() mode does with it.
        let mut p = with_policy(V5, plain);
        start(&mut p, None);
        p.open();
        let reference = (class == Redirect).then_some("other:1883");
        p.send(connack_refusing(code, reference));
        let reason = refused(code, reference);
        let expected = vec![
            disconnected_event(reason.clone()),
            failed(1, reason.clone(), class),
        ];
        assert_outcome(&mut p, expected, class, reason, &format!("{code:?}"));
    }
}

/// After a refusal or a DISCONNECT of `class` for `reason`: the events are `expected`
/// followed by giving up (fatal) or the second attempt's schedule, and a deadline is
/// armed unless the client gave up.
fn assert_outcome(
    p: &mut Peer,
    mut expected: Vec<Event>,
    class: FailureClass,
    reason: DisconnectReason,
    what: &str,
) {
    match expected_schedule(class) {
        None => expected.push(Event::GaveUp {
            attempts: 1,
            reason,
        }),
        Some((delay, endpoint)) => expected.push(scheduled(2, delay, endpoint, false)),
    }
    assert_eq!(p.events(), expected, "{what}");
    assert_eq!(p.client.poll_timeout().is_none(), class == Fatal, "{what}");
}

#[test]
fn every_disconnect_reason_code_has_its_documented_class() {
    let codes: Vec<DisconnectReasonCode> = (0..=255u8)
        .filter_map(|b| DisconnectReasonCode::try_from(b).ok())
        .collect();
    let table: Vec<u8> = DISCONNECT_CLASSES.iter().map(|(b, _)| *b).collect();
    assert_eq!(
        codes.iter().map(|c| c.value()).collect::<Vec<_>>(),
        table,
        "the table covers every code"
    );
    for (code, (_, class)) in codes.into_iter().zip(DISCONNECT_CLASSES) {
        assert_eq!(classify_disconnect(code), class, "{code:?}");
        assert_eq!(classify_end(&by_server(code, None)), class, "{code:?}");
        // And what a connected 5.0 client in connect() mode does with it.
        let mut p = Peer::configured(V5, |c| {
            plain(&mut c.reconnect);
            c.keep_alive = 0;
        });
        start(&mut p, None);
        accept(&mut p);
        let reference = (class == Redirect).then_some("other:1883");
        let mut disconnect = Disconnect::new(code);
        disconnect.properties.server_reference = reference.map(s);
        p.send(disconnect);
        let reason = by_server(code, reference);
        let expected = vec![disconnected_event(reason.clone())];
        assert_outcome(&mut p, expected, class, reason, &format!("{code:?}"));
    }
}

#[test]
fn every_transport_failure_and_local_end_is_retryable() {
    let causes = [
        TransportFailure::Dns,
        TransportFailure::Refused,
        TransportFailure::Tls,
        TransportFailure::Timeout,
        TransportFailure::Other,
    ];
    for cause in causes {
        let reason = DisconnectReason::TransportFailed(cause);
        assert_eq!(classify_end(&reason), Retryable, "{cause:?}");
        let mut p = with_policy(V311, plain);
        start(&mut p, None);
        p.client.handle_transport_failed(p.now, cause);
        assert_eq!(
            p.events(),
            vec![
                failed(1, reason, Retryable),
                scheduled(2, secs(1), None, false),
            ]
        );
    }
    for reason in [
        DisconnectReason::ConnAckTimeout,
        DisconnectReason::KeepAliveTimeout,
        DisconnectReason::TransportClosed,
        DisconnectReason::AttemptTimeout,
        DisconnectReason::ProtocolViolation {
            reason_code: ReasonCode::ProtocolError,
            decode_error: None,
            detail: "test",
        },
    ] {
        assert_eq!(classify_end(&reason), Retryable, "{reason:?}");
    }
}

#[test]
fn v311_return_codes_as_raw_connack_have_their_class_in_attempt_failed() {
    let expected = [
        (1, ConnectReasonCode::UnsupportedProtocolVersion, Fatal),
        (2, ConnectReasonCode::ClientIdentifierNotValid, Fatal),
        (3, ConnectReasonCode::ServerUnavailable, Retryable),
        (4, ConnectReasonCode::BadUserNameOrPassword, Fatal),
        (5, ConnectReasonCode::NotAuthorized, Fatal),
    ];
    for (n, code, class) in expected {
        let mut p = with_policy(V311, plain);
        start(&mut p, None);
        p.open();
        p.send_bytes(&[0x20, 0x02, 0x00, n]);
        let reason = refused(code, None);
        let mut events = vec![
            disconnected_event(reason.clone()),
            failed(1, reason.clone(), class),
        ];
        events.push(match class {
            Fatal => Event::GaveUp {
                attempts: 1,
                reason,
            },
            _ => scheduled(2, secs(1), None, false),
        });
        assert_eq!(p.events(), events, "return code {n}");
    }
}

// ---- 10. offline queue ----

fn id_payload(i: usize) -> Bytes {
    Bytes::from(format!("m{i}"))
}

/// A QoS 1 message on topic "t" with a payload of `len` bytes.
fn sized(len: usize) -> Message {
    Message::new(topic("t"), Bytes::from(vec![b'x'; len]), QoS::AtLeastOnce)
}

/// Connects (manually: these are about the queue) and returns the payloads of the
/// PUBLISHes that went out, in order, with the events.
fn connect_and_collect(p: &mut Peer) -> (Vec<Bytes>, Vec<Event>) {
    let events = p.connect_with(connack(false));
    let payloads = publishes(&p.sent())
        .into_iter()
        .map(|p| p.payload)
        .collect();
    (payloads, events)
}

#[test]
fn drop_oldest_completes_the_oldest_message_as_dropped() {
    for version in VERSIONS {
        let mut p = Peer::configured(version, |c| {
            c.max_queued = 2;
            c.queue_overflow = QueueOverflow::DropOldest;
        });
        let ids: Vec<PublishId> = (0..4)
            .map(|i| p.publish(Message::new(topic("t"), id_payload(i), QoS::AtLeastOnce)))
            .collect();
        assert_eq!(
            p.events(),
            vec![
                Event::Published {
                    id: ids[0],
                    result: Err(PublishFailure::Dropped),
                    properties: PropertyBox::new(),
                },
                Event::Published {
                    id: ids[1],
                    result: Err(PublishFailure::Dropped),
                    properties: PropertyBox::new(),
                },
            ]
        );
        assert_eq!(p.client.stats().queued, 2);
        let (payloads, _) = connect_and_collect(&mut p);
        assert_eq!(payloads, vec![id_payload(2), id_payload(3)], "{version}");
    }
}

#[test]
fn reject_new_refuses_with_queue_full() {
    for version in VERSIONS {
        let mut p = Peer::configured(version, |c| {
            c.max_queued = 2;
            assert_eq!(c.queue_overflow, QueueOverflow::RejectNew, "the default");
        });
        for i in 0..2 {
            p.publish(Message::new(topic("t"), id_payload(i), QoS::AtLeastOnce));
        }
        let third = Message::new(topic("t"), id_payload(2), QoS::ExactlyOnce);
        assert_eq!(
            p.client.publish(p.now, third),
            Err(PublishError::QueueFull { capacity: 2 })
        );
        assert_eq!(p.events(), vec![]);
        let (payloads, _) = connect_and_collect(&mut p);
        assert_eq!(payloads, vec![id_payload(0), id_payload(1)], "{version}");
    }
}

#[test]
fn max_queued_bytes_bounds_the_queue() {
    // Weight = topic + payload: 1 + 9 = 10 bytes each; the bound holds two.
    let mut p = Peer::configured(V311, |c| c.max_queued_bytes = 20);
    p.publish(sized(9));
    p.publish(sized(9));
    assert!(matches!(
        p.client.publish(p.now, sized(1)),
        Err(PublishError::QueueFull { .. })
    ));
    assert_eq!(p.client.stats().queued, 2);

    let mut p = Peer::configured(V311, |c| {
        c.max_queued_bytes = 20;
        c.queue_overflow = QueueOverflow::DropOldest;
    });
    let a = p.publish(sized(9));
    let b = p.publish(sized(9));
    // 15 bytes more: both older ones have to go.
    let c = p.publish(sized(14));
    assert_eq!(
        published(&p.events()),
        vec![
            (a, Err(PublishFailure::Dropped)),
            (b, Err(PublishFailure::Dropped)),
        ]
    );
    // One that could never fit is refused even when dropping.
    assert!(matches!(
        p.client.publish(p.now, sized(20)),
        Err(PublishError::QueueFull { .. })
    ));
    assert_eq!(p.events(), vec![]);
    let (payloads, _) = connect_and_collect(&mut p);
    assert_eq!(payloads, vec![Bytes::from(vec![b'x'; 14])]);
    p.send(PubAck::new(pid(1)));
    assert_eq!(published(&p.events()), vec![(c, Ok(()))]);
}

#[test]
fn qos0_offline_completes_at_once_as_offline_when_not_queued() {
    for version in VERSIONS {
        let mut p = Peer::configured(version, |c| c.queue_qos0_offline = false);
        let q0 = p.publish(message("t", b"zero", QoS::AtMostOnce));
        assert_eq!(
            p.events(),
            vec![Event::Published {
                id: q0,
                result: Err(PublishFailure::Offline),
                properties: PropertyBox::new(),
            }]
        );
        p.publish(message("t", b"one", QoS::AtLeastOnce));
        assert_eq!(p.client.stats().queued, 1);
        let (payloads, events) = connect_and_collect(&mut p);
        assert_eq!(payloads, vec![Bytes::from_static(b"one")], "{version}");
        assert!(published(&events).is_empty());

        // The default queues QoS 0 and sends it on connection.
        let mut p = Peer::with_version(version);
        let q0 = p.publish(message("t", b"zero", QoS::AtMostOnce));
        assert_eq!(p.events(), vec![]);
        let (payloads, events) = connect_and_collect(&mut p);
        assert_eq!(payloads, vec![Bytes::from_static(b"zero")], "{version}");
        assert_eq!(published(&events), vec![(q0, Ok(()))]);
    }
}

fn expiring(payload: &'static [u8], interval: Option<u32>) -> Message {
    let mut m = message("t", payload, QoS::AtLeastOnce);
    m.properties.message_expiry_interval = interval;
    m
}

#[test]
fn mqtt_3_3_2_5_mqtt_3_3_2_6_a_message_that_expired_while_queued_is_never_sent_and_the_rest_carry_what_is_left()
 {
    let mut p = Peer::configured(V5, |c| plain(&mut c.reconnect));
    let t0 = p.now;
    let gone = p.publish(expiring(b"gone", Some(2)));
    let kept = p.publish(expiring(b"kept", Some(10)));
    let plain_id = p.publish(expiring(b"plain", None));
    p.now = t0 + secs(3);
    // In connect() mode this time: the attempt opens at t0 + 3 s.
    start(&mut p, None);
    p.open();
    p.send(connack(false));
    let events = p.events();
    assert_eq!(
        published(&events),
        vec![(gone, Err(PublishFailure::Expired))]
    );
    let sent = publishes(&p.sent());
    let summary: Vec<(Bytes, Option<u32>)> = sent
        .iter()
        .map(|p| (p.payload.clone(), p.properties.message_expiry_interval))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Bytes::from_static(b"kept"), Some(7)),
            (Bytes::from_static(b"plain"), None),
        ]
    );
    p.send(PubAck::new(pid(1)));
    p.send(PubAck::new(pid(2)));
    assert_eq!(
        published(&p.events()),
        vec![(kept, Ok(())), (plain_id, Ok(()))]
    );
}

#[test]
fn a_message_restored_after_a_lost_session_keeps_counting_its_expiry() {
    // In flight when the connection drops; the server lost the session two hours
    // later, so the message comes back to the queue: its 60 s passed long ago.
    let mut p = Peer::connected_with(V5, |c| c.keep_alive = 0);
    let id = p.publish(expiring(b"stale", Some(60)));
    assert_eq!(publishes(&p.sent()).len(), 1);
    p.drop_transport();
    p.events();
    p.now = p.now + secs(2 * 3600);
    let events = p.connect_with(connack(false));
    assert_eq!(
        published(&events),
        vec![(id, Err(PublishFailure::Expired))],
        "{events:?}"
    );
    assert_eq!(
        publishes(&p.sent()),
        vec![],
        "an expired message is never sent"
    );
}

#[test]
fn expired_messages_do_not_hold_room_in_the_queue() {
    let mut p = Peer::configured(V5, |c| c.max_queued = 2);
    let a = p.publish(expiring(b"a", Some(5)));
    let b = p.publish(expiring(b"b", Some(5)));
    p.now = p.now + secs(10);
    // Both waiting messages are dead: the queue has room for a live one.
    let c = p
        .client
        .publish(p.now, expiring(b"c", None))
        .expect("expired messages must not fill the queue");
    let (payloads, events) = connect_and_collect(&mut p);
    let mut results = published(&p.events());
    results.splice(0..0, published(&events));
    assert!(results.contains(&(a, Err(PublishFailure::Expired))));
    assert!(results.contains(&(b, Err(PublishFailure::Expired))));
    assert_eq!(payloads, vec![Bytes::from_static(b"c")]);
    p.send(PubAck::new(pid(1)));
    assert_eq!(published(&p.events()), vec![(c, Ok(()))]);
}

#[test]
fn after_giving_up_new_endpoints_and_connect_start_again_from_the_first() {
    let mut p = abc(V5);
    start(&mut p, Some("a"));
    p.open();
    p.send(connack_refusing(ConnectReasonCode::Banned, None));
    let events = p.events();
    assert!(
        matches!(events.last(), Some(Event::GaveUp { attempts: 1, .. })),
        "{events:?}"
    );
    assert!(!p.client.is_reconnecting());
    assert_eq!(p.client.poll_timeout(), None);
    p.client.set_endpoints(vec!["x".into(), "y".into()]);
    p.client.connect(p.now).unwrap();
    assert_eq!(p.events(), vec![connect_event(1, Some("x"), false)]);
}
