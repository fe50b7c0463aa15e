//! The session recorded between mosquitto_sub and mosquitto 2.0 (the README's
//! demonstration) decodes segment by segment, in both directions, to the expected
//! packets.

use bytes::BytesMut;
use mqtt_sansio::{Decoder, Packet, PacketType, ProtocolVersion, QoS};

#[derive(Clone, Copy, PartialEq)]
enum From {
    Client,
    Server,
}

const SESSION: &[(From, &str)] = include!("../examples/capture/mqtt5_session.in");

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn recorded_mosquitto_session_decodes_in_both_directions() {
    let mut from_client = (Decoder::for_server(), BytesMut::new());
    let mut from_server = (Decoder::for_client(ProtocolVersion::V5), BytesMut::new());
    let mut seen = Vec::new();
    for (from, segment) in SESSION {
        let (decoder, buf) = if *from == From::Client {
            &mut from_client
        } else {
            &mut from_server
        };
        buf.extend_from_slice(&hex(segment));
        while let Some(packet) = decoder.decode(buf).unwrap() {
            seen.push(packet);
        }
    }
    assert!(from_client.1.is_empty() && from_server.1.is_empty());
    assert_eq!(from_client.0.version(), Some(ProtocolVersion::V5));
    let types: Vec<PacketType> = seen.iter().map(Packet::packet_type).collect();
    use PacketType::*;
    assert_eq!(
        types,
        [
            Connect, ConnAck, Subscribe, SubAck, Publish, PubAck, Publish, PubAck, Publish, PubRec,
            PubRel, PubComp, Disconnect
        ]
    );
    let Packet::Publish(door) = &seen[8] else {
        unreachable!()
    };
    assert_eq!(door.topic, "demo/door");
    assert_eq!(door.qos(), QoS::ExactlyOnce);
    assert_eq!(door.properties.content_type.as_ref().unwrap(), "text/plain");
    assert_eq!(&door.payload[..], b"open");
}
