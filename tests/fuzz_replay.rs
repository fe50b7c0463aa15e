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
