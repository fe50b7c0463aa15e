//! Replays the fuzz target bodies on every input of the test corpus and every
//! checked-in fuzz input, as ordinary tests.

mod common;

use common::{hex, load_jsonl};
use std::path::Path;

fn replay_dir(dir: &Path, target: fn(&[u8])) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for entry in entries.flatten() {
        target(&std::fs::read(entry.path()).unwrap());
        n += 1;
    }
    n
}

#[test]
fn decode_raw_replays_the_corpus_under_every_decoder_and_chunking() {
    let mut inputs = 0;
    for file in ["valid.jsonl", "valid-alt.jsonl", "invalid.jsonl"] {
        for record in load_jsonl(file) {
            let bytes = hex(record["hex"].as_str().unwrap());
            for control in 0..=255u8 {
                let mut input = vec![control];
                input.extend_from_slice(&bytes);
                mqtt_sansio::fuzz::decode_raw(&input);
                inputs += 1;
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    inputs += replay_dir(
        &root.join("corpus/decode_raw"),
        mqtt_sansio::fuzz::decode_raw,
    );
    inputs += replay_dir(
        &root.join("regressions/decode_raw"),
        mqtt_sansio::fuzz::decode_raw,
    );
    assert!(inputs > 100_000);
}

/// A small deterministic generator, so the replay needs no extra dependency.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn client_ops_replays_generated_and_checked_in_inputs() {
    let mut inputs = 0;
    let mut state = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        let len = (xorshift(&mut state) % 256) as usize;
        let input: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
        mqtt_sansio::fuzz::client_ops(&input);
        inputs += 1;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    inputs += replay_dir(
        &root.join("corpus/client_ops"),
        mqtt_sansio::fuzz::client_ops,
    );
    inputs += replay_dir(
        &root.join("regressions/client_ops"),
        mqtt_sansio::fuzz::client_ops,
    );
    assert!(inputs >= 20_000);
}

/// Packet type names by number, for the coverage assertion's message.
#[cfg(feature = "arbitrary")]
const TYPES: [&str; 16] = [
    "",
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
];

#[cfg(feature = "arbitrary")]
#[test]
fn roundtrip_replays_generated_and_checked_in_inputs() {
    // Per version (the first byte's low bit), how many packets of each type were built.
    let mut counts = [[0usize; 16]; 2];
    let mut run = |input: &[u8]| {
        let built = mqtt_sansio::fuzz::roundtrip_count(input);
        let version = usize::from(input.first().is_some_and(|b| b & 1 == 1));
        for (total, n) in counts[version].iter_mut().zip(built) {
            *total += n;
        }
    };
    let mut inputs = 0;
    let mut state = 0x2545_F491_4F6C_DD1D;
    for _ in 0..20_000 {
        let len = (xorshift(&mut state) % 512) as usize;
        let input: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
        run(&input);
        inputs += 1;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for dir in ["corpus/roundtrip", "regressions/roundtrip"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            run(&std::fs::read(entry.path()).unwrap());
            inputs += 1;
        }
    }
    assert!(inputs >= 20_000);
    let [v311, v5] = counts;
    for t in 1..=15 {
        assert!(v5[t] > 0, "no 5.0 {} built: {v5:?}", TYPES[t]);
        if t < 15 {
            assert!(v311[t] > 0, "no 3.1.1 {} built: {v311:?}", TYPES[t]);
        }
    }
    assert_eq!(v311[15], 0, "AUTH built for 3.1.1");
}

#[test]
fn server_ops_replays_generated_and_checked_in_inputs() {
    let mut inputs = 0;
    let mut state = 0xD1B5_4A32_D192_ED03;
    for _ in 0..20_000 {
        let len = (xorshift(&mut state) % 256) as usize;
        let input: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
        mqtt_sansio::fuzz::server_ops(&input);
        inputs += 1;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    inputs += replay_dir(
        &root.join("corpus/server_ops"),
        mqtt_sansio::fuzz::server_ops,
    );
    // Each past crash: a CONNACK too large for the client's Maximum Packet Size; a
    // re-send on a resumed session too large for the new connection's client; re-sends
    // beyond the new connection's Receive Maximum.
    let regressions = replay_dir(
        &root.join("regressions/server_ops"),
        mqtt_sansio::fuzz::server_ops,
    );
    assert!(regressions >= 3);
    assert!(inputs + regressions >= 20_000);
}

/// The roundtrip target's own generator once built a topic filter one byte over 65,535
/// when a wildcard followed a string that had reached the limit (found by fuzzing).
#[cfg(feature = "arbitrary")]
#[test]
fn roundtrip_generator_keeps_a_filter_within_65535_bytes_after_a_full_level() {
    let input = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/regressions/roundtrip/crash-db3f8895cbcf69fb298a3cb39835a760c3741837"),
    )
    .unwrap();
    mqtt_sansio::fuzz::roundtrip(&input);
}
