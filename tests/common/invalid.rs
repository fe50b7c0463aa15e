//! Checks for the records of `tests/data/invalid.jsonl`.

use super::{hex, load_jsonl, version_of};
use bytes::BytesMut;
use mqtt_sansio::{DecodeError, Decoder, ProtocolVersion, ReasonCode};
use serde_json::Value;
use std::sync::OnceLock;

fn records() -> &'static [Value] {
    static RECORDS: OnceLock<Vec<Value>> = OnceLock::new();
    RECORDS.get_or_init(|| load_jsonl("invalid.jsonl"))
}

fn record(id: &str) -> &'static Value {
    records()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}

/// A minimal valid CONNECT, so that a server-side decoder knows the version.
pub fn connect_bytes(version: ProtocolVersion) -> Vec<u8> {
    match version {
        ProtocolVersion::V311 => hex("100e00044d5154540402003c00026331"),
        ProtocolVersion::V5 => hex("100f00044d5154540502003c0000026331"),
    }
}

/// The decoders that must refuse a record sent in `direction`, each with the bytes to
/// feed it first.
pub fn decoders_for(
    direction: &str,
    packet_type: &str,
    version: ProtocolVersion,
) -> Vec<(&'static str, Decoder, Vec<u8>)> {
    let server_prefix = if packet_type == "connect" {
        Vec::new()
    } else {
        connect_bytes(version)
    };
    let server = ("server", Decoder::for_server(), server_prefix);
    let client = ("client", Decoder::for_client(version), Vec::new());
    let any = ("any", Decoder::new(version), Vec::new());
    match direction {
        "to_server" => vec![server],
        "to_client" => vec![client],
        "either" => vec![server, client, any],
        other => panic!("unknown direction {other}"),
    }
}

/// Feeds `prefix` then `bytes` to `decoder`; the prefix must decode cleanly and the
/// record must end in an error.
pub fn decode_until_error(
    mut decoder: Decoder,
    prefix: &[u8],
    bytes: &[u8],
) -> Result<DecodeError, String> {
    let mut buf = BytesMut::from(prefix);
    while !buf.is_empty() {
        match decoder.decode(&mut buf) {
            Ok(Some(_)) => {}
            other => return Err(format!("prefix did not decode: {other:?}")),
        }
    }
    buf.extend_from_slice(bytes);
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(p)) => {
                if buf.is_empty() {
                    return Err(format!("accepted: {p:?}"));
                }
            }
            Ok(None) => return Err(format!("waits for more bytes with {} buffered", buf.len())),
            Err(e) => return Ok(e),
        }
    }
}

/// Checks that every decoder that must detect the record refuses it with the reason
/// code of its kind.
pub fn check_invalid_record(id: &str) {
    let r = record(id);
    let version = version_of(r);
    let bytes = hex(r["hex"].as_str().unwrap());
    let expected = match r["kind"].as_str().unwrap() {
        "malformed" => ReasonCode::MalformedPacket,
        "protocol_error" => ReasonCode::ProtocolError,
        "unsupported_protocol" => ReasonCode::UnsupportedProtocolVersion,
        other => panic!("unknown kind {other}"),
    };
    let direction = r["direction"].as_str().unwrap();
    for (role, decoder, prefix) in decoders_for(direction, r["type"].as_str().unwrap(), version) {
        match decode_until_error(decoder, &prefix, &bytes) {
            Ok(err) => assert_eq!(
                err.reason_code(),
                expected,
                "{id} ({role} decoder): {} -> {err:?} ({err})",
                r["reason"]
            ),
            Err(e) => panic!("{id} ({role} decoder): {}: {e}", r["reason"]),
        }
    }
}

/// Fails when a codec-layer record has no test or a test names a record that is gone.
pub fn assert_covers(tested: &[&str]) {
    let mut expected: Vec<&str> = records()
        .iter()
        .filter(|r| r["layer"] == "codec")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let mut tested = tested.to_vec();
    expected.sort();
    tested.sort();
    assert_eq!(
        tested, expected,
        "regenerate with tests/data/generate_invalid_tests.py"
    );
}
