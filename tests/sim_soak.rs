//! The soak test of issue 6: many seeded scenarios with every fault kind, each checked
//! for the delivery guarantees (see `mqtt_sansio::sim`). `MQTT_SANSIO_SOAK_SEEDS` sets
//! the number of seeds (default 200); `MQTT_SANSIO_SOAK_FIRST` the first one;
//! `MQTT_SANSIO_SOAK_STEPS` the steps per scenario (default 40).

use mqtt_sansio::sim::{SoakOptions, soak};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn every_seed_keeps_the_delivery_guarantees_under_every_fault_kind() {
    let first = env_u64("MQTT_SANSIO_SOAK_FIRST", 0);
    let seeds = env_u64("MQTT_SANSIO_SOAK_SEEDS", 200);
    let mut options = SoakOptions::default();
    options.steps = env_u64("MQTT_SANSIO_SOAK_STEPS", options.steps as u64) as usize;
    let mut published = 0;
    let mut delivered = 0;
    let mut faults = 0;
    for seed in first..first + seeds {
        match soak(seed, &options) {
            Ok(report) => {
                published += report.published;
                delivered += report.delivered;
                faults += report.faults;
            }
            Err(_) => {
                // Run it again with the timeline for the report.
                let mut traced = options.clone();
                traced.trace = true;
                let failure = soak(seed, &traced).expect_err("a failing seed fails again");
                panic!("{failure}");
            }
        }
    }
    println!(
        "{seeds} seeds: {published} messages published, {delivered} delivered, {faults} faults"
    );
    assert!(published > seeds as usize, "the scenarios publish");
}
