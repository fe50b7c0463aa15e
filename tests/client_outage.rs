//! A broker unreachable for 24 hours of virtual time, ridden out by a client in
//! `connect()` mode with the default reconnect policy: publishes queue meanwhile, the
//! client reconnects within one cap delay of the broker's return, the queue drains in
//! order, nothing is lost, nothing expired is sent, and the attempts follow the policy.

mod peer;
use peer::*;

use mqtt_sansio::*;
use std::collections::BTreeMap;
use std::time::Duration;

const HOUR: u64 = 3600;
/// Messages published while the broker is away.
const OUTAGE_PUBLISHES: usize = 200;

/// A message the application publishes at `at`.
struct Planned {
    at: Instant,
    payload: String,
    qos: QoS,
    expiry: Option<u32>,
}

impl Planned {
    fn message(&self) -> Message {
        let mut m = Message::new(topic("outage/t"), self.payload.clone().into(), self.qos);
        m.properties.message_expiry_interval = self.expiry;
        m
    }
}

/// The client, a driver around it, and a broker that is up except in
/// `down..up` and acknowledges everything.
struct Sim {
    p: Peer,
    down: Instant,
    up: Instant,
    /// Every event, with when it came.
    log: Vec<(Instant, Event)>,
    /// Every PUBLISH the broker received, with when.
    wire: Vec<(Instant, Publish)>,
    /// The handle of each planned message, by index.
    ids: Vec<PublishId>,
}

impl Sim {
    fn reachable(&self) -> bool {
        self.p.now < self.down || self.p.now >= self.up
    }

    /// Handles everything pending: the broker answers what the client wrote, the
    /// driver answers Connect (a transport when the broker is reachable, a refused
    /// connection when not). Returns whether anything happened.
    fn settle(&mut self) -> bool {
        let mut any = false;
        loop {
            let mut progressed = false;
            for packet in self.p.sent() {
                progressed = true;
                match packet {
                    Packet::Publish(publish) => {
                        match publish.qos_pid {
                            QosPid::AtLeastOnce(id) => self.p.send(PubAck::new(id)),
                            QosPid::ExactlyOnce(id) => self.p.send(PubRec::new(id)),
                            QosPid::AtMostOnce => {}
                        }
                        self.wire.push((self.p.now, publish));
                    }
                    Packet::PubRel(rel) => self.p.send(PubComp::new(rel.packet_id)),
                    Packet::PingReq => self.p.send(Packet::PingResp),
                    other => panic!("the broker did not expect {other:?}"),
                }
            }
            for event in self.p.events() {
                progressed = true;
                if let Event::Connect { .. } = event {
                    if self.reachable() {
                        self.p.open();
                        self.p.send(connack(false));
                    } else {
                        self.p
                            .client
                            .handle_transport_failed(self.p.now, TransportFailure::Refused);
                    }
                }
                self.log.push((self.p.now, event));
            }
            if !progressed {
                return any;
            }
            any = true;
        }
    }

    /// Runs the driver loop up to `end`: whichever comes first of the client's
    /// deadline and the next planned publish.
    fn run_until(&mut self, end: Instant, plan: &[Planned]) {
        loop {
            self.settle();
            let deadline = self.p.client.poll_timeout();
            let publish_at = plan.get(self.ids.len()).map(|m| m.at);
            let Some(at) = [deadline, publish_at].into_iter().flatten().min() else {
                break;
            };
            if at > end {
                break;
            }
            assert!(at >= self.p.now, "a deadline in the past: {at:?}");
            self.p.now = at;
            if publish_at == Some(at) {
                let planned = &plan[self.ids.len()];
                let id = self.p.client.publish(at, planned.message()).unwrap();
                self.ids.push(id);
            } else {
                self.p.client.handle_timeout(at);
                let moved = self.p.client.poll_timeout() != Some(at);
                assert!(self.settle() || moved, "deadline {at:?} fired and stayed");
            }
        }
        self.p.now = end;
    }

    /// The events logged from `from` on.
    fn events_since(&self, from: Instant) -> impl Iterator<Item = &Event> {
        self.log
            .iter()
            .filter(move |(at, _)| *at >= from)
            .map(|(_, e)| e)
    }
}

/// Two messages while the broker is up, then `OUTAGE_PUBLISHES` spread over the
/// outage at QoS 1 and 2; with 5.0 some expire during it (30 min, published before
/// its last 6 hours), some have an expiry shorter than the outage that it does not
/// reach (3 h, published in its last 2.5 hours), some outlive it (48 h).
fn plan(version: ProtocolVersion, down: Instant) -> Vec<Planned> {
    let mut plan = vec![
        Planned {
            at: Instant::from_secs(10),
            payload: "warm-0".into(),
            qos: QoS::AtLeastOnce,
            expiry: None,
        },
        Planned {
            at: Instant::from_secs(20),
            payload: "warm-1".into(),
            qos: QoS::ExactlyOnce,
            expiry: None,
        },
    ];
    for k in 0..OUTAGE_PUBLISHES {
        let at = down + Duration::from_secs(60 + 432 * k as u64);
        let expiry = match k % 4 {
            _ if !version.is_v5() => None,
            1 if k < 150 => Some(1800),
            1 if k >= 180 => Some(3 * HOUR as u32),
            3 => Some(48 * HOUR as u32),
            _ => None,
        };
        plan.push(Planned {
            at,
            payload: format!("m{k:03}"),
            qos: if k % 2 == 0 {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            },
            expiry,
        });
    }
    plan
}

fn ride_out_a_day_long_outage(version: ProtocolVersion) {
    let policy = ReconnectPolicy::default();
    assert_eq!(policy.max_attempts, None, "the default is unlimited");
    assert_eq!(policy.max_delay, Duration::from_secs(120));
    assert_eq!(policy.jitter, Jitter::Equal);

    let down = Instant::from_secs(300);
    let up = down + Duration::from_secs(24 * HOUR);
    let plan = plan(version, down);
    let mut sim = Sim {
        p: Peer::with_version(version),
        down,
        up,
        log: Vec::new(),
        wire: Vec::new(),
        ids: Vec::new(),
    };

    // Connected at once, two messages delivered, pings answered for five minutes.
    sim.p.client.connect(sim.p.now).unwrap();
    sim.run_until(down, &plan);
    assert!(sim.p.client.is_connected());
    assert_eq!(sim.wire.len(), 2);

    // The broker dies and stays away for a day.
    sim.p.drop_transport();
    sim.run_until(up, &plan);
    assert_eq!(sim.ids.len(), plan.len(), "every message was published");
    assert!(!sim.p.client.is_connected());
    let expired_offline = sim
        .events_since(down)
        .filter(|e| {
            matches!(
                e,
                Event::Published {
                    result: Err(PublishFailure::Expired),
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        sim.p.client.stats().queued + expired_offline,
        OUTAGE_PUBLISHES,
        "nothing lost while offline"
    );
    assert_eq!(sim.wire.len(), 2, "nothing sent while the broker was away");

    // It is back: the client reconnects and drains.
    sim.run_until(up + Duration::from_secs(600), &plan);
    let connected_at: Vec<Instant> = sim
        .log
        .iter()
        .filter(|(_, e)| matches!(e, Event::Connected(_)))
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(
        connected_at.len(),
        2,
        "connected at the start and after the outage"
    );
    let back = connected_at[1];
    assert!(back >= up, "connected at {back:?}, broker back at {up:?}");
    assert!(
        back.saturating_duration_since(up) <= policy.max_delay,
        "connected {:?} after the broker came back",
        back.saturating_duration_since(up)
    );

    // Only the one drop; no giving up.
    let drops: Vec<&Event> = sim
        .log
        .iter()
        .map(|(_, e)| e)
        .filter(|e| matches!(e, Event::Disconnected { .. } | Event::GaveUp { .. }))
        .collect();
    assert_eq!(
        drops,
        vec![&Event::Disconnected {
            reason: DisconnectReason::TransportClosed
        }]
    );

    // ---- the attempts follow the policy ----
    let mut delays = Vec::new();
    let mut connects = Vec::new();
    let mut failures = Vec::new();
    for event in sim.events_since(down) {
        match event {
            Event::AttemptScheduled {
                attempt,
                delay,
                endpoint: None,
                deep: false,
            } => {
                assert_eq!(*attempt as usize, delays.len() + 1);
                delays.push(*delay);
            }
            Event::Connect {
                attempt,
                endpoint: None,
                deep: false,
            } => connects.push(*attempt),
            Event::AttemptFailed {
                attempt,
                reason: DisconnectReason::TransportFailed(TransportFailure::Refused),
                class: FailureClass::Retryable,
            } => failures.push(*attempt),
            Event::AttemptScheduled { .. }
            | Event::Connect { .. }
            | Event::AttemptFailed { .. } => panic!("unexpected {event:?}"),
            _ => {}
        }
    }
    let attempts = connects.len();
    assert!(attempts > 0);
    assert_eq!(connects, (1..=attempts as u32).collect::<Vec<_>>());
    assert_eq!(failures, (1..attempts as u32).collect::<Vec<_>>());
    assert_eq!(delays.len(), attempts, "one schedule per attempt");
    assert!(delays.iter().all(|d| *d <= policy.max_delay), "{delays:?}");
    // The policy's own sequence for its seed, one step per failure.
    let mut rng = policy.seed;
    let replay: Vec<Duration> = (1..=attempts as u32)
        .map(|n| policy.delay(n, &mut rng))
        .collect();
    assert_eq!(delays, replay);
    // Every attempt failed at once, so the delays add up to the outage.
    let total: Duration = delays.iter().sum();
    assert_eq!(down + total, back);
    assert!(total >= Duration::from_secs(24 * HOUR));
    assert!(total <= Duration::from_secs(24 * HOUR) + policy.max_delay);
    // The count the policy predicts: attempts until one lands at or after the return.
    let mut rng = policy.seed;
    let mut at = down;
    let mut expected = 0u32;
    loop {
        expected += 1;
        at = at + policy.delay(expected, &mut rng);
        if at >= up {
            break;
        }
    }
    assert_eq!(attempts, expected as usize);
    // Equal jitter at a 120 s cap: between 60 and 120 s apart once the cap is reached.
    assert!((720..=1450).contains(&attempts), "{attempts} attempts");

    // ---- the queue drained in order, nothing expired sent ----
    let waited = |i: usize| back.saturating_duration_since(plan[i].at).as_secs();
    let expires = |i: usize| plan[i].expiry.is_some_and(|e| waited(i) >= u64::from(e));
    if version.is_v5() {
        let expected_expired = (0..OUTAGE_PUBLISHES).filter(|k| k % 4 == 1 && *k < 150);
        let planned_expired: Vec<usize> = (0..plan.len()).filter(|i| expires(*i)).collect();
        assert_eq!(
            planned_expired,
            expected_expired.map(|k| k + 2).collect::<Vec<_>>()
        );
    }
    let sent: Vec<&Publish> = sim.wire.iter().map(|(_, p)| p).collect();
    let sent_payloads: Vec<String> = sent
        .iter()
        .map(|p| String::from_utf8(p.payload.to_vec()).unwrap())
        .collect();
    let expected_payloads: Vec<String> = (0..plan.len())
        .filter(|i| !expires(*i))
        .map(|i| plan[i].payload.clone())
        .collect();
    assert_eq!(
        sent_payloads, expected_payloads,
        "in order, expired ones left out"
    );
    let by_payload: BTreeMap<&str, usize> = plan
        .iter()
        .enumerate()
        .map(|(i, m)| (m.payload.as_str(), i))
        .collect();
    for (publish, payload) in sent.iter().zip(&sent_payloads) {
        let i = by_payload[payload.as_str()];
        assert_eq!(publish.qos(), plan[i].qos, "{payload}");
        assert!(!publish.dup, "{payload}");
        // What is left of the expiry interval.
        let left = plan[i].expiry.map(|e| e - waited(i) as u32);
        assert_eq!(
            publish.properties.message_expiry_interval, left,
            "{payload}"
        );
    }

    // ---- every publish completed exactly once ----
    let mut results: BTreeMap<PublishId, Vec<Result<(), PublishFailure>>> = BTreeMap::new();
    for (id, result) in published(
        &sim.log
            .iter()
            .map(|(_, e)| e.clone())
            .collect::<Vec<Event>>(),
    ) {
        results.entry(id).or_default().push(result);
    }
    assert_eq!(results.len(), plan.len());
    for (i, id) in sim.ids.iter().enumerate() {
        let expected = if expires(i) {
            Err(PublishFailure::Expired)
        } else {
            Ok(())
        };
        assert_eq!(results[id], vec![expected], "{}", plan[i].payload);
    }
    let stats = sim.p.client.stats();
    assert_eq!((stats.queued, stats.in_flight), (0, 0));
    assert!(sim.p.client.is_connected());
}

#[test]
fn v311_client_rides_out_a_24_hour_outage() {
    ride_out_a_day_long_outage(ProtocolVersion::V311);
}

#[test]
fn v5_client_rides_out_a_24_hour_outage_with_message_expiry() {
    ride_out_a_day_long_outage(ProtocolVersion::V5);
}
