//! Decodes and pretty-prints a captured MQTT byte stream.
//!
//! Without arguments it replays an MQTT 5.0 session recorded on loopback between the
//! `mosquitto_sub`/`mosquitto_pub` clients and a mosquitto 2.0 broker, segment by segment
//! as TCP delivered them, through the two decoders a client and a broker would use.
//!
//! With arguments it decodes bytes you give it as hex:
//!
//! ```text
//! cargo run --example decode_capture -- <hex sent by a client>
//! cargo run --example decode_capture -- --from-server 5 <hex sent by an MQTT 5 server>
//! ```

use bytes::BytesMut;
use mqtt_sansio::{Decoder, Packet, ProtocolVersion};
use std::process::ExitCode;

/// Who sent a segment.
#[derive(Clone, Copy, PartialEq)]
enum From {
    Client,
    Server,
}

/// The recorded session: (sender, TCP segment as hex).
const SESSION: &[(From, &str)] = include!("capture/mqtt5_session.in");

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [] => replay(SESSION),
        [hex] => decode_one(From::Client, None, hex),
        [flag, level, hex] if flag == "--from-server" => {
            match level.parse().ok().and_then(ProtocolVersion::from_level) {
                Some(version) => decode_one(From::Server, Some(version), hex),
                None => Err(format!(
                    "unknown protocol level {level}; use 4 (3.1.1) or 5"
                )),
            }
        }
        _ => Err("usage: decode_capture [--from-server 4|5] [HEX]".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One decoder per direction, as each end of the connection holds one.
struct Directions {
    client_to_server: (Decoder, BytesMut),
    server_to_client: Option<(Decoder, BytesMut)>,
}

fn replay(session: &[(From, &str)]) -> Result<(), String> {
    println!(
        "An MQTT session replayed segment by segment ({} TCP segments):\n",
        session.len()
    );
    let mut d = Directions {
        client_to_server: (Decoder::for_server(), BytesMut::new()),
        server_to_client: None,
    };
    for (from, hex) in session {
        feed(&mut d, *from, &parse_hex(hex)?)?;
    }
    let left = d.client_to_server.1.len() + d.server_to_client.as_ref().map_or(0, |s| s.1.len());
    if left > 0 {
        return Err(format!("{left} bytes left over in an incomplete packet"));
    }
    Ok(())
}

fn decode_one(from: From, version: Option<ProtocolVersion>, hex: &str) -> Result<(), String> {
    let mut d = Directions {
        client_to_server: (Decoder::for_server(), BytesMut::new()),
        server_to_client: version.map(|v| (Decoder::for_client(v), BytesMut::new())),
    };
    feed(&mut d, from, &parse_hex(hex)?)
}

/// Appends a segment to its direction's buffer and prints every packet it completes.
fn feed(d: &mut Directions, from: From, segment: &[u8]) -> Result<(), String> {
    // The server's decoder speaks the version the client's CONNECT announced.
    if from == From::Server && d.server_to_client.is_none() {
        let version = d
            .client_to_server
            .0
            .version()
            .ok_or("server bytes before any CONNECT")?;
        d.server_to_client = Some((Decoder::for_client(version), BytesMut::new()));
    }
    let (decoder, buf) = match from {
        From::Client => &mut d.client_to_server,
        From::Server => d.server_to_client.as_mut().ok_or("no server decoder")?,
    };
    buf.extend_from_slice(segment);
    let arrow = if from == From::Client {
        "client -> server"
    } else {
        "server -> client"
    };
    loop {
        match decoder.decode(buf) {
            Ok(Some(packet)) => println!("{arrow}  {}", describe(&packet)),
            Ok(None) => return Ok(()),
            Err(e) => {
                return Err(format!(
                    "{arrow}: {e} (an MQTT 5 peer would close with reason code {:#04x})",
                    e.reason_code().value()
                ));
            }
        }
    }
}

/// One line per packet: its type and the fields that matter for reading a session.
fn describe(packet: &Packet) -> String {
    let name = packet.packet_type().name();
    let detail = match packet {
        Packet::Connect(c) => {
            let mut s = format!(
                "client_id={:?} keep_alive={}s clean_start={}",
                c.client_id.as_str(),
                c.keep_alive,
                c.clean_start
            );
            if let Some(e) = c.properties.session_expiry_interval {
                s += &format!(" session_expiry={e}s");
            }
            if let Some(w) = &c.will {
                s += &format!(" will={:?}@{:?}", w.topic.as_str(), w.qos);
            }
            s
        }
        Packet::ConnAck(c) => {
            let p = &c.properties;
            let mut s = format!("{:?} session_present={}", c.reason_code, c.session_present);
            if let Some(id) = &p.assigned_client_identifier {
                s += &format!(" assigned_client_id={:?}", id.as_str());
            }
            if let Some(m) = p.topic_alias_maximum {
                s += &format!(" topic_alias_max={m}");
            }
            if let Some(m) = p.receive_maximum {
                s += &format!(" receive_max={m}");
            }
            s
        }
        Packet::Publish(p) => {
            let id = p
                .packet_id()
                .map_or(String::new(), |id| format!(" id={id}"));
            let text = std::str::from_utf8(&p.payload).map_or_else(
                |_| format!("{} bytes", p.payload.len()),
                |t| format!("{t:?}"),
            );
            let mut s = format!(
                "{:?}{id} topic={:?} retain={} dup={} payload={text}",
                p.qos(),
                p.topic.as_str(),
                p.retain,
                p.dup
            );
            if let Some(e) = p.properties.message_expiry_interval {
                s += &format!(" message_expiry={e}s");
            }
            if let Some(t) = &p.properties.content_type {
                s += &format!(" content_type={:?}", t.as_str());
            }
            s
        }
        Packet::PubAck(a) => format!("id={} {:?}", a.packet_id, a.reason_code),
        Packet::PubRec(a) => format!("id={} {:?}", a.packet_id, a.reason_code),
        Packet::PubRel(a) => format!("id={} {:?}", a.packet_id, a.reason_code),
        Packet::PubComp(a) => format!("id={} {:?}", a.packet_id, a.reason_code),
        Packet::Subscribe(s) => {
            let filters: Vec<String> = s
                .filters
                .iter()
                .map(|f| format!("{:?}@{:?}", f.filter.as_str(), f.options.qos))
                .collect();
            format!("id={} {}", s.packet_id, filters.join(", "))
        }
        Packet::SubAck(s) => format!("id={} {:?}", s.packet_id, s.reason_codes),
        Packet::Unsubscribe(u) => {
            let filters: Vec<&str> = u.filters.iter().map(|f| f.as_str()).collect();
            format!("id={} {filters:?}", u.packet_id)
        }
        Packet::UnsubAck(u) => format!("id={} {:?}", u.packet_id, u.reason_codes),
        Packet::PingReq | Packet::PingResp => String::new(),
        Packet::Disconnect(d) => format!("{:?}", d.reason_code),
        Packet::Auth(a) => format!("{:?}", a.reason_code),
    };
    format!("{name:<11} {detail}")
}

fn parse_hex(hex: &str) -> Result<Vec<u8>, String> {
    let hex: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
    if hex.len() % 2 != 0 {
        return Err("odd number of hex digits".to_owned());
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| format!("bad hex at {i}: {e}")))
        .collect()
}
