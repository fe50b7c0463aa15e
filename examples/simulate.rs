//! One faulty scenario in the deterministic simulator, printed as a timeline.
//!
//! A sensor publishes at QoS 1 and 2 to a dashboard through the in-memory broker. Then
//! the dashboard's link goes half-open: the broker's bytes silently vanish. The
//! dashboard notices by keep-alive, reconnects with backoff, resumes its session, and
//! gets every message exactly as often as its QoS promises.
//!
//! ```sh
//! cargo run --example simulate
//! ```

use bytes::Bytes;
use mqtt_sansio::sim::{Direction, Faults, World};
use mqtt_sansio::{ClientConfig, Message, ProtocolVersion, QoS, ServerConfig, Subscription};
use std::time::Duration;

fn main() {
    let mut faults = Faults::none();
    faults.latency = (Duration::from_millis(5), Duration::from_millis(30));
    faults.max_chunk = 16;
    let mut world = World::new(42, ServerConfig::default(), faults);
    world.enable_trace();

    let persistent = |version, id: &str| {
        let mut config = ClientConfig::new(version, id.parse().unwrap());
        config.clean_start = false;
        config.session_expiry_interval = 3600;
        config.keep_alive = 10;
        config.reconnect.initial_delay = Duration::from_secs(1);
        config
    };
    let sensor = world.add_client(persistent(ProtocolVersion::V5, "sensor"));
    let dashboard = world.add_client(persistent(ProtocolVersion::V311, "dashboard"));
    world.run_for(Duration::from_secs(1));

    let filter = "plant/#".parse().unwrap();
    world
        .subscribe(dashboard, vec![Subscription::new(filter, QoS::ExactlyOnce)])
        .unwrap();
    world.run_for(Duration::from_secs(1));

    let mut sent = 0;
    let mut publish = |world: &mut World, qos| {
        sent += 1;
        let payload = Bytes::from(format!("reading-{sent}"));
        let message = Message::new("plant/boiler/temp".parse().unwrap(), payload, qos);
        world.publish(sensor, message).unwrap();
    };
    publish(&mut world, QoS::AtLeastOnce);
    publish(&mut world, QoS::ExactlyOnce);
    world.run_for(Duration::from_secs(2));

    world.half_open(dashboard, Direction::Down);
    publish(&mut world, QoS::AtLeastOnce);
    publish(&mut world, QoS::ExactlyOnce);
    world.run_for(Duration::from_secs(40));

    publish(&mut world, QoS::ExactlyOnce);
    assert!(world.settle(Duration::from_secs(60)), "the world settles");

    print!("{}", world.trace());
    println!();
    let delivered = world.delivered(dashboard);
    for payload in &delivered {
        println!("dashboard got {}", String::from_utf8_lossy(payload));
    }
    match world.check() {
        Ok(()) => println!(
            "all {} messages delivered, none twice at QoS 2; every command completed once",
            delivered.len()
        ),
        Err(problem) => {
            eprintln!("invariant broken:\n{problem}");
            std::process::exit(1);
        }
    }
}
