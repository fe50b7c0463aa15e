//! Property tests of the codec, for every packet type and both protocol versions.

mod common;

use bytes::BytesMut;
use common::strategies::{packet, version};
use mqtt_sansio::{Decoder, MAX_PACKET_SIZE, Packet, ProtocolVersion};
use proptest::collection::vec;
use proptest::prelude::*;

fn encode(p: &Packet, v: ProtocolVersion) -> Vec<u8> {
    let mut buf = BytesMut::new();
    p.encode(v, &mut buf)
        .unwrap_or_else(|e| panic!("{e}: {p:?}"));
    buf.to_vec()
}

fn round_trip(p: Packet, v: ProtocolVersion) -> Result<(), TestCaseError> {
    let bytes = encode(&p, v);
    prop_assert_eq!(bytes.len(), p.encoded_len(v));

    let mut head = BytesMut::new();
    let tail = p.encode_vectored(v, &mut head).unwrap();
    prop_assert_eq!([&head[..], &tail[..]].concat(), bytes.clone());

    let mut buf = BytesMut::from(&bytes[..]);
    let decoded = Decoder::new(v)
        .decode(&mut buf)
        .unwrap_or_else(|e| panic!("{e}: {p:?}"));
    prop_assert!(buf.is_empty());
    // A decoded packet re-encodes to the same canonical bytes: its User Properties are
    // written from the received block.
    let decoded = decoded.unwrap();
    prop_assert_eq!(encode(&decoded, v), bytes);
    prop_assert_eq!(decoded, p);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn v311_decode_of_encode_is_identity(p in packet(ProtocolVersion::V311)) {
        round_trip(p, ProtocolVersion::V311)?;
    }

    #[test]
    fn v5_decode_of_encode_is_identity(p in packet(ProtocolVersion::V5)) {
        round_trip(p, ProtocolVersion::V5)?;
    }
}

proptest! {
    #[test]
    fn every_strict_prefix_needs_more_bytes_and_consumes_nothing(
        (v, p) in version().prop_flat_map(|v| (Just(v), packet(v)))
    ) {
        let bytes = encode(&p, v);
        let mut decoder = Decoder::new(v);
        for len in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..len]);
            prop_assert_eq!(decoder.decode(&mut buf), Ok(None), "prefix of {} bytes", len);
            prop_assert_eq!(buf.len(), len);
        }
    }

    #[test]
    fn any_chunking_of_a_stream_decodes_to_the_same_packets(
        (v, packets) in version().prop_flat_map(|v| (Just(v), vec(packet(v), 1..8))),
        cuts in vec(1usize..64, 1..40),
    ) {
        let stream: Vec<u8> = packets.iter().flat_map(|p| encode(p, v)).collect();
        let mut decoder = Decoder::new(v);
        let mut buf = BytesMut::new();
        let mut decoded = Vec::new();
        let mut pos = 0;
        let mut cut = cuts.iter().cycle();
        while pos < stream.len() {
            let end = (pos + cut.next().unwrap()).min(stream.len());
            buf.extend_from_slice(&stream[pos..end]);
            pos = end;
            while let Some(p) = decoder.decode(&mut buf).unwrap() {
                decoded.push(p);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(decoded, packets);
    }

    #[test]
    fn arbitrary_bytes_never_panic_nor_buffer_past_the_maximum(
        bytes in vec(any::<u8>(), 0..2048),
        cuts in vec(1usize..300, 1..20),
        max in 5u32..2000,
        role in 0..5u8,
    ) {
        let decoder = match role {
            0 => Decoder::new(ProtocolVersion::V311),
            1 => Decoder::new(ProtocolVersion::V5),
            2 => Decoder::for_client(ProtocolVersion::V311),
            3 => Decoder::for_client(ProtocolVersion::V5),
            _ => Decoder::for_server(),
        };
        let mut decoder = decoder.with_max_packet_size(max);
        let mut buf = BytesMut::new();
        let mut pos = 0;
        let mut cut = cuts.iter().cycle();
        'feed: while pos < bytes.len() {
            let end = (pos + cut.next().unwrap()).min(bytes.len());
            buf.extend_from_slice(&bytes[pos..end]);
            pos = end;
            loop {
                let before = buf.len();
                match decoder.decode(&mut buf) {
                    Ok(Some(p)) => prop_assert!(p.encoded_len(decoder.version().unwrap()) as u32 <= MAX_PACKET_SIZE),
                    Ok(None) => {
                        prop_assert_eq!(buf.len(), before);
                        prop_assert!((buf.len() as u32) < max, "waits with {} bytes buffered, max {}", buf.len(), max);
                        break;
                    }
                    Err(_) => break 'feed,
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Corrupting bytes of a valid packet never panics, and whatever the decoder still
    /// accepts encodes again to a packet that decodes to the same value.
    #[test]
    fn corrupted_packets_are_refused_or_round_trip(
        (v, p) in version().prop_flat_map(|v| (Just(v), packet(v))),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        role in 0..3u8,
    ) {
        let mut bytes = encode(&p, v);
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let mut decoder = match role {
            0 => Decoder::new(v),
            1 => Decoder::for_client(v),
            _ => Decoder::for_server(),
        };
        let mut buf = BytesMut::from(&bytes[..]);
        if let Ok(Some(q)) = decoder.decode(&mut buf) {
            let version = decoder.version().unwrap();
            let again = encode(&q, version);
            let mut buf = BytesMut::from(&again[..]);
            prop_assert_eq!(Decoder::new(version).decode(&mut buf), Ok(Some(q)));
        }
    }
}

/// A SUBSCRIBE of one filter, written by hand so that invalid filters can be sent.
fn subscribe_bytes(filter: &[u8], v5: bool) -> Vec<u8> {
    let mut body = vec![0x00, 0x01];
    if v5 {
        body.push(0x00); // no properties
    }
    body.extend_from_slice(&(filter.len() as u16).to_be_bytes());
    body.extend_from_slice(filter);
    body.push(0x01);
    let mut bytes = vec![0x82, body.len() as u8];
    bytes.extend(body);
    bytes
}

proptest! {
    /// The decoder skips the wildcard placement pass for filters the string scan found
    /// free of wildcards; it must still accept exactly the filters `TopicFilter` accepts.
    #[test]
    fn decoded_subscribe_filters_follow_the_topic_filter_rules(filter in "[a/+#$share]{0,24}") {
        let bytes = subscribe_bytes(filter.as_bytes(), true);
        let decoded = Decoder::new(ProtocolVersion::V5).decode(&mut BytesMut::from(&bytes[..]));
        let valid = mqtt_sansio::TopicFilter::try_from(filter.as_str()).is_ok();
        prop_assert_eq!(decoded.is_ok(), valid, "{:?} {:?}", filter, decoded);
    }
}
