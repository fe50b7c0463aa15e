//! Shared helpers for the integration tests: the test corpus and its JSON form.

#![allow(dead_code, unreachable_pub)]

pub mod invalid;
pub mod json;
pub mod strategies;

use serde_json::Value;
use std::path::PathBuf;

/// Path of a file in `tests/data`.
pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name)
}

/// All records of a JSON Lines file in `tests/data`.
pub fn load_jsonl(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(data_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l}")))
        .collect()
}

/// Decodes a hex string.
pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// Encodes bytes as lowercase hex.
pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The protocol version of a corpus record (`version`: 4 or 5).
pub fn version_of(record: &Value) -> mqtt_sansio::ProtocolVersion {
    match record["version"].as_u64() {
        Some(4) => mqtt_sansio::ProtocolVersion::V311,
        Some(5) => mqtt_sansio::ProtocolVersion::V5,
        other => panic!("bad version {other:?}"),
    }
}
