//! One seeded random scenario with every fault kind, checked end to end.

use super::net::{Direction, Faults, World};
use crate::client::reconnect::uniform;
use crate::client::{ClientConfig, Jitter, Message};
use crate::codec::Subscription;
use crate::server::ServerConfig;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{ProtocolVersion, QoS};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use bytes::Bytes;
use core::num::NonZeroU16;
use core::time::Duration;

/// What a soak scenario may do.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SoakOptions {
    /// Random steps (publish, wait, fault) per scenario.
    pub steps: usize,
    /// Connections cut at a random byte of a write.
    pub cuts: bool,
    /// Partitions (every link stalls for a while).
    pub partitions: bool,
    /// Half-open links.
    pub half_open: bool,
    /// Broker restarts that keep the sessions.
    pub restarts: bool,
    /// Broker restarts that lose them.
    pub lossy_restarts: bool,
    /// Record the timeline (returned with a failure).
    pub trace: bool,
}

impl Default for SoakOptions {
    fn default() -> Self {
        SoakOptions {
            steps: 40,
            cuts: true,
            partitions: true,
            half_open: true,
            restarts: true,
            lossy_restarts: true,
            trace: false,
        }
    }
}

/// What one scenario did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SoakReport {
    /// Messages published.
    pub published: usize,
    /// Messages received by subscribers (repeats included).
    pub delivered: usize,
    /// Faults injected by the scenario (cuts inside writes not counted).
    pub faults: usize,
    /// Virtual time the scenario took.
    pub virtual_time: Duration,
}

fn filter(s: &'static str) -> TopicFilter {
    TopicFilter::from_static(s).expect("a valid filter")
}

/// Runs the scenario of `seed`: two subscribers and two publishers of random protocol
/// versions with persistent sessions, random limits (Receive Maximum, Topic Aliases both
/// ways, the broker acknowledging after routing or at once), random QoS traffic on four topics, and the
/// faults `options` allows; then heals the network, lets everything settle and checks
/// the invariants ([`World::check`]). On failure returns what failed, with the
/// timeline when `options.trace` is set.
pub fn soak(seed: u64, options: &SoakOptions) -> Result<SoakReport, String> {
    let mut rng = seed ^ 0x5EED_5EED_5EED_5EED;
    let mut pick = |bound: u64| uniform(&mut rng, bound);
    let broker = ServerConfig {
        receive_maximum: 2 + pick(20) as u16,
        topic_alias_maximum: pick(3) as u16,
        manual_acks: pick(1) == 1,
        max_queued_messages: 100_000,
        ..ServerConfig::default()
    };
    let faults = Faults {
        latency: (
            Duration::from_millis(1),
            Duration::from_millis(1 + pick(50)),
        ),
        max_chunk: [0, 1, 7, 64][pick(3) as usize],
        cut_per_million: if options.cuts {
            [0, 2_000, 20_000][pick(2) as usize]
        } else {
            0
        },
    };
    let mut world = World::new(seed, broker, faults);
    if options.trace {
        world.enable_trace();
    }
    let names = ["sub-a", "sub-b", "pub-a", "pub-b"];
    for (index, name) in names.iter().enumerate() {
        let version = if pick(1) == 0 {
            ProtocolVersion::V311
        } else {
            ProtocolVersion::V5
        };
        let mut config = ClientConfig::new(version, name.parse().unwrap_or_default());
        config.clean_start = false;
        config.session_expiry_interval = 3600;
        config.keep_alive = 5 + pick(10) as u16;
        config.receive_maximum = NonZeroU16::new(1 + pick(20) as u16).unwrap_or(NonZeroU16::MIN);
        config.max_queued = 100_000;
        config.topic_alias_maximum = pick(3) as u16;
        config.manual_acks = false;
        config.reconnect.initial_delay = Duration::from_millis(100);
        config.reconnect.max_delay = Duration::from_secs(5);
        config.reconnect.jitter = Jitter::Full;
        config.reconnect.seed = seed.wrapping_add(index as u64);
        config.reconnect.attempt_timeout = Duration::from_secs(10);
        config.connack_timeout = Duration::from_secs(5);
        world.add_client(config);
    }
    let topics = ["t/0", "t/1", "t/2/x", "t/3"];
    let _ = world.subscribe(0, vec![Subscription::new(filter("t/#"), QoS::ExactlyOnce)]);
    let _ = world.subscribe(
        1,
        vec![
            Subscription::new(filter("t/+"), QoS::ExactlyOnce),
            Subscription::new(filter("t/2/x"), QoS::AtLeastOnce),
        ],
    );
    world.run_for(Duration::from_millis(500));

    let mut report = SoakReport::default();
    let mut seq = [0usize; 2];
    for _ in 0..options.steps {
        match pick(19) {
            0..=11 => {
                let publisher = pick(1) as usize;
                seq[publisher] += 1;
                let payload = format!("{}:{}", names[2 + publisher], seq[publisher]);
                let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][pick(2) as usize];
                let topic =
                    TopicName::from_static(topics[pick(3) as usize]).expect("a valid topic");
                let message = Message::new(topic, Bytes::from(payload), qos);
                if world.publish(2 + publisher, message).is_ok() {
                    report.published += 1;
                }
            }
            12..=14 => world.run_for(Duration::from_millis(pick(2000))),
            15 if options.partitions => {
                world.partition(Duration::from_millis(500 + pick(20_000)));
                report.faults += 1;
            }
            16 if options.half_open => {
                let direction = if pick(1) == 0 {
                    Direction::Up
                } else {
                    Direction::Down
                };
                world.half_open(pick(3) as usize, direction);
                report.faults += 1;
            }
            17 if options.cuts => {
                world.cut(pick(3) as usize);
                report.faults += 1;
            }
            18 if options.restarts => {
                world.restart_broker(true);
                report.faults += 1;
            }
            19 if options.lossy_restarts && pick(3) == 0 => {
                world.restart_broker(false);
                report.faults += 1;
            }
            _ => world.run_for(Duration::from_millis(pick(200))),
        }
        world.run_for(Duration::from_millis(pick(100)));
    }
    let settled = world.settle(Duration::from_secs(3600));
    report.delivered = world.delivered(0).len() + world.delivered(1).len();
    report.virtual_time = world.now().since_epoch();
    let result = if settled {
        world.check()
    } else {
        Err(String::from(
            "the world did not settle within an hour of virtual time",
        ))
    };
    result.map(|()| report).map_err(|problem| {
        format!(
            "seed {seed}: {problem}\n--- timeline ---\n{}",
            world.trace()
        )
    })
}
