//! Every record of the invalid corpus (`tests/data/invalid.jsonl`, a copy of
//! `shared/corpus/invalid.jsonl`) that a server must detect (direction `to_server` or
//! `either`, codec and session layers) fed to a [`ServerConnection`] the way a server
//! meets it:
//!
//! - a codec-layer record of any packet type but CONNECT arrives on a connection whose
//!   client (of the record's version) was accepted;
//! - a CONNECT record, and a session-layer record (a whole stream from the first byte),
//!   arrives on a fresh connection; a Connect event of a session-layer stream is accepted
//!   when it comes and the rest of the stream follows.
//!
//! Each record is fed in one piece and byte by byte, with and without Topic Aliases
//! offered by the server. The connection must end Closed for a protocol violation whose
//! reason code matches the record's kind (malformed 0x81, protocol error 0x82; a CONNECT
//! with an unsupported protocol level is refused with CONNACK 0x01 and Closed{Rejected});
//! in 5.0, once a CONNACK accepted the client, the server's last packet is a DISCONNECT
//! with that code; before a CONNACK nothing is sent ([MQTT-3.14.0-1]); in 3.1.1 no
//! DISCONNECT is ever sent. No application message, subscription request or unsubscription
//! request may reach the broker, and nothing may panic.

mod common;
mod server_peer;

use common::{hex, load_jsonl, to_hex, version_of};
use mqtt_sansio::*;
use serde_json::Value;
use server_peer::ClientPeer;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Records of the corpus, and those a server must detect.
const CORPUS_RECORDS: usize = 241;
const SERVER_RECORDS: usize = 198;

/// How the server is configured for a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    /// `ServerConfig::default()`: no Topic Alias accepted.
    Default,
    /// Topic Alias Maximum 10.
    Aliases,
}

/// How the bytes arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Feed {
    Whole,
    ByteByByte,
}

fn config(setup: Setup) -> ServerConfig {
    let mut config = ServerConfig::default();
    if setup == Setup::Aliases {
        config.topic_alias_maximum = 10;
    }
    config
}

/// What the record must end in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expected {
    /// Closed{ProtocolViolation} with this code (sent in a DISCONNECT in 5.0 once
    /// connected).
    Violation(DisconnectReasonCode),
    /// CONNACK 0x01 in the 3.1.1 form every client can read, then Closed{Rejected}.
    UnsupportedVersion,
}

/// The outcome for `record` under `setup`. Records whose code is more specific than
/// their kind's are listed here with the reason.
fn expected(record: &Value, setup: Setup) -> Expected {
    let id = record["id"].as_str().unwrap();
    // The only record with a more specific code. "PUBLISH with empty Topic Name uses
    // Topic Alias 1 which was never defined": a server that offers no Topic Alias (Topic
    // Alias Maximum 0) meets an alias above its maximum first, which 5.0 section
    // 3.3.2.3.4 answers with 0x94 (Topic Alias invalid); with aliases offered, it is the
    // undefined alias, a Protocol Error (0x82, the record's kind).
    if id == "inv-v5-0481" && setup == Setup::Default {
        return Expected::Violation(DisconnectReasonCode::TopicAliasInvalid);
    }
    match record["kind"].as_str().unwrap() {
        "malformed" => Expected::Violation(DisconnectReasonCode::MalformedPacket),
        "protocol_error" | "protocol-error" => {
            Expected::Violation(DisconnectReasonCode::ProtocolError)
        }
        "unsupported_protocol" => Expected::UnsupportedVersion,
        other => panic!("{id}: unknown kind {other}"),
    }
}

/// What the connection did with the record.
#[derive(Debug, Default)]
struct Outcome {
    /// Bytes the server sent before the record (the CONNACK of the accepted client).
    accepted_before: bool,
    /// A Connect event came from the record's own bytes and was accepted.
    accepted_in_stream: usize,
    /// Events after the record started, Connect events left out.
    events: Vec<String>,
    close: Option<CloseReason>,
    forwarded: Vec<String>,
    /// Bytes the server sent from the record on (the CONNACK of an accepted stream
    /// CONNECT included).
    sent: Vec<u8>,
    state: Option<ServerState>,
}

/// Feeds `record` to a connection and records what happened.
fn run(record: &Value, setup: Setup, feed: Feed) -> Outcome {
    let version = version_of(record);
    let bytes = hex(record["hex"].as_str().unwrap());
    let fresh = record["layer"] == "session" || record["type"] == "connect";
    let mut peer = if fresh {
        ClientPeer::new(config(setup), version)
    } else {
        ClientPeer::connected(config(setup), version)
    };
    let mut outcome = Outcome {
        accepted_before: !fresh,
        ..Outcome::default()
    };
    assert!(peer.conn.poll_event().is_none());
    let chunks: Vec<&[u8]> = match feed {
        Feed::Whole => vec![&bytes[..]],
        Feed::ByteByByte => bytes.chunks(1).collect(),
    };
    for chunk in chunks {
        peer.send_raw(chunk);
        drain(&mut peer, &mut outcome);
    }
    outcome.sent = peer.received_raw();
    outcome.state = Some(peer.conn.state());
    outcome
}

/// Takes the events: Connect is accepted (a session-layer stream goes on), the rest is
/// recorded.
fn drain(peer: &mut ClientPeer, outcome: &mut Outcome) {
    while let Some(event) = peer.conn.poll_event() {
        match event {
            ServerEvent::Connect(request) => {
                outcome.accepted_in_stream += 1;
                let now = peer.now;
                if let Err(e) = peer.conn.accept(now, request, None, AcceptOptions::new()) {
                    outcome.events.push(format!("accept failed: {e:?}"));
                }
            }
            ServerEvent::Closed { reason } => {
                outcome.events.push(format!("Closed({reason:?})"));
                if outcome.close.replace(reason).is_some() {
                    outcome.events.push("second Closed".to_owned());
                }
            }
            e @ (ServerEvent::Message(_)
            | ServerEvent::Subscribe(_)
            | ServerEvent::Unsubscribe(_)) => {
                outcome.forwarded.push(format!("{e:?}"));
            }
            other => outcome.events.push(format!("{other:?}")),
        }
    }
}

/// Decodes what the server sent as a client of `version` would.
fn decode_sent(version: ProtocolVersion, sent: &[u8]) -> Result<Vec<Packet>, String> {
    let mut decoder = Decoder::for_client(version);
    let mut buf = bytes::BytesMut::from(sent);
    let mut packets = Vec::new();
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(p)) => packets.push(p),
            Ok(None) if buf.is_empty() => return Ok(packets),
            Ok(None) => return Err(format!("{} bytes of a partial packet", buf.len())),
            Err(e) => return Err(format!("undecodable output {}: {e}", to_hex(sent))),
        }
    }
}

/// The differences between `outcome` and what the record must end in.
fn check(record: &Value, setup: Setup, outcome: &Outcome) -> Vec<String> {
    let version = version_of(record);
    let mut problems = Vec::new();
    let expected = expected(record, setup);
    if outcome.state != Some(ServerState::Closed) {
        problems.push(format!("not closed: {:?}", outcome.state));
    }
    if !outcome.forwarded.is_empty() {
        problems.push(format!("reached the broker: {:?}", outcome.forwarded));
    }
    let codec_connect = record["layer"] == "codec" && record["type"] == "connect";
    if codec_connect && outcome.accepted_in_stream > 0 {
        problems.push("the invalid CONNECT reached the broker as a Connect event".to_owned());
    }
    if outcome.accepted_in_stream > 1 {
        problems.push(format!("{} Connect events", outcome.accepted_in_stream));
    }
    // A session of an accepted client with Session Expiry Interval 0 ends with the
    // connection: SessionEnded right after Closed.
    let connected = outcome.accepted_before || outcome.accepted_in_stream > 0;
    let allowed = |i: usize, e: &String| {
        e.starts_with("Closed(")
            || (connected
                && e == "SessionEnded"
                && i > 0
                && outcome.events[i - 1].starts_with("Closed("))
    };
    let extra: Vec<&String> = outcome
        .events
        .iter()
        .enumerate()
        .filter(|(i, e)| !allowed(*i, e))
        .map(|(_, e)| e)
        .collect();
    if !extra.is_empty() {
        problems.push(format!("unexpected events: {extra:?}"));
    }
    match expected {
        Expected::UnsupportedVersion => {
            if outcome.sent != [0x20, 0x02, 0x00, 0x01] {
                problems.push(format!(
                    "sent {} instead of CONNACK 0x01",
                    to_hex(&outcome.sent)
                ));
            }
            let want = CloseReason::Rejected {
                reason_code: ConnectReasonCode::UnsupportedProtocolVersion,
            };
            if outcome.close.as_ref() != Some(&want) {
                problems.push(format!("closed {:?}, expected {want:?}", outcome.close));
            }
        }
        Expected::Violation(code) => {
            match &outcome.close {
                Some(CloseReason::ProtocolViolation { reason_code, .. })
                    if *reason_code == code => {}
                other => problems.push(format!("closed {other:?}, expected a violation {code:?}")),
            }
            let packets = match decode_sent(version, &outcome.sent) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(e);
                    return problems;
                }
            };
            // The CONNACK of a CONNECT accepted within the stream comes first.
            let after_connack = if outcome.accepted_in_stream > 0 {
                match packets.split_first() {
                    Some((Packet::ConnAck(ack), rest))
                        if ack.reason_code == ConnectReasonCode::Success =>
                    {
                        rest
                    }
                    _ => {
                        problems.push(format!("no accepting CONNACK first: {packets:?}"));
                        return problems;
                    }
                }
            } else {
                &packets[..]
            };
            let want: Vec<Packet> = if connected && version == ProtocolVersion::V5 {
                vec![Packet::Disconnect(Disconnect::new(code))]
            } else {
                Vec::new()
            };
            if after_connack != want.as_slice() {
                problems.push(format!("sent {after_connack:?}, expected {want:?}"));
            }
        }
    }
    problems
}

/// All records of the invalid corpus that a server must detect (directions `to_server`
/// and `either`, both layers) end in a typed rejection of the right reason code, in one
/// piece and byte by byte, with and without Topic Aliases offered: the server-direction
/// invalid corpus.
#[test]
fn server_rejects_every_server_direction_record_of_the_invalid_corpus() {
    let records = load_jsonl("invalid.jsonl");
    assert_eq!(records.len(), CORPUS_RECORDS, "the corpus changed");
    let server_records: Vec<&Value> = records
        .iter()
        .filter(|r| matches!(r["direction"].as_str(), Some("to_server" | "either")))
        .collect();
    let mut failures = Vec::new();
    let mut runs = 0;
    for record in &server_records {
        let id = record["id"].as_str().unwrap();
        for setup in [Setup::Default, Setup::Aliases] {
            for feed in [Feed::Whole, Feed::ByteByByte] {
                runs += 1;
                let result = catch_unwind(AssertUnwindSafe(|| run(record, setup, feed)));
                let problems = match result {
                    Ok(outcome) => check(record, setup, &outcome),
                    Err(panic) => vec![format!(
                        "panicked: {}",
                        panic
                            .downcast_ref::<String>()
                            .map(String::as_str)
                            .or_else(|| panic.downcast_ref::<&str>().copied())
                            .unwrap_or("?")
                    )],
                };
                for problem in problems {
                    failures.push(format!(
                        "{id} ({} {}, {}; {setup:?}, {feed:?}): {problem}",
                        record["rule"].as_str().unwrap_or("no rule"),
                        record["section"].as_str().unwrap_or(""),
                        record["reason"].as_str().unwrap_or(""),
                    ));
                }
            }
        }
    }
    assert_eq!(server_records.len(), SERVER_RECORDS, "records checked");
    assert_eq!(runs, SERVER_RECORDS * 4);
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
