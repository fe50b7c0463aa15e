//! Every valid packet of the independent corpus decodes to exactly the fields the
//! independent codec decoded, and re-encodes to the same bytes (or, for encodings this
//! crate does not write, to a packet that decodes to the same value).

mod common;

use bytes::BytesMut;
use common::json::{main_user_properties, packet_to_json};
use common::{hex, load_jsonl, to_hex, version_of};
use mqtt_sansio::{Decoder, Packet, ProtocolVersion};
use serde_json::Value;

/// Decodes every packet of `bytes`, which must hold whole packets only.
fn decode_all(
    bytes: &[u8],
    version: ProtocolVersion,
) -> Result<(Vec<Packet>, ProtocolVersion), String> {
    let mut decoder = Decoder::new(version);
    let mut buf = BytesMut::from(bytes);
    let mut packets = Vec::new();
    while !buf.is_empty() {
        match decoder.decode(&mut buf) {
            Ok(Some(p)) => packets.push(p),
            Ok(None) => return Err(format!("{} bytes left undecoded", buf.len())),
            Err(e) => return Err(format!("decode error: {e}")),
        }
    }
    Ok((packets, decoder.version().unwrap_or(version)))
}

fn wire_user_properties(record: &Value) -> Option<Vec<(String, String)>> {
    let list = record
        .get("user_properties_wire")?
        .get("properties")?
        .as_array()?;
    Some(
        list.iter()
            .map(|pair| {
                (
                    pair[0].as_str().unwrap().to_owned(),
                    pair[1].as_str().unwrap().to_owned(),
                )
            })
            .collect(),
    )
}

fn encode(packet: &Packet, version: ProtocolVersion) -> Vec<u8> {
    let mut out = BytesMut::new();
    packet
        .encode(version, &mut out)
        .unwrap_or_else(|e| panic!("encode: {e}"));
    assert_eq!(out.len(), packet.encoded_len(version), "encoded_len");
    out.to_vec()
}

/// Checks one record; returns a description of every mismatch.
fn check_record(record: &Value, canonical: bool) -> Vec<String> {
    let id = record["id"].as_str().unwrap();
    let version = version_of(record);
    let bytes = hex(record["hex"].as_str().unwrap());
    let mut problems = Vec::new();
    let (packets, decoded_version) = match decode_all(&bytes, version) {
        Ok(ok) => ok,
        Err(e) => return vec![format!("{id}: {e}")],
    };
    let expected: Vec<Value> = match &record["packet"] {
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    };
    if packets.len() != expected.len() {
        problems.push(format!(
            "{id}: {} packets, expected {}",
            packets.len(),
            expected.len()
        ));
    }
    for (packet, want) in packets.iter().zip(&expected) {
        let got = packet_to_json(packet, decoded_version);
        if &got != want {
            problems.push(format!(
                "{id}: fields differ\n  got:  {got}\n  want: {want}"
            ));
        }
    }
    if let (Some(wire), Some(packet)) = (wire_user_properties(record), packets.first()) {
        if main_user_properties(packet) != wire {
            problems.push(format!("{id}: user property order differs from the wire"));
        }
    }
    let alt = record["tags"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t == "alt-encoding"));
    let mut reencoded = Vec::new();
    for packet in &packets {
        reencoded.extend(encode(packet, decoded_version));
    }
    if canonical && !alt {
        if reencoded != bytes {
            problems.push(format!(
                "{id}: re-encoding differs\n  got:  {}\n  want: {}",
                to_hex(&reencoded),
                to_hex(&bytes)
            ));
        }
    } else {
        match decode_all(&reencoded, version) {
            Ok((again, _)) if again == packets => {}
            Ok(_) => problems.push(format!("{id}: decode(encode(p)) != p")),
            Err(e) => problems.push(format!("{id}: re-encoding does not decode: {e}")),
        }
    }
    problems
}

fn check_file(name: &str, canonical: bool) {
    let records = load_jsonl(name);
    assert!(!records.is_empty());
    let problems: Vec<String> = records
        .iter()
        .flat_map(|r| check_record(r, canonical))
        .collect();
    assert!(
        problems.is_empty(),
        "{} of {} records of {name} fail:\n{}",
        problems.len(),
        records.len(),
        problems.join("\n")
    );
}

#[test]
fn every_valid_record_decodes_to_its_fields_and_reencodes_byte_for_byte() {
    check_file("valid.jsonl", true);
}

#[test]
fn every_alternative_valid_encoding_decodes_to_its_fields_and_round_trips() {
    check_file("valid-alt.jsonl", false);
}

#[test]
fn the_corpus_covers_every_packet_type_in_both_versions() {
    let records = load_jsonl("valid.jsonl");
    for version in [4, 5] {
        let mut types: Vec<&str> = records
            .iter()
            .filter(|r| r["version"] == version)
            .map(|r| r["type"].as_str().unwrap())
            .collect();
        types.sort();
        types.dedup();
        let expected = if version == 5 { 15 } else { 14 };
        assert_eq!(types.len(), expected, "version {version}: {types:?}");
    }
}
