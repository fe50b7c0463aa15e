//! Edge cases of the codec that the corpus does not reach: size limits, roles, caller
//! faults at encode time, long property blocks.

use bytes::{Bytes, BytesMut};
use mqtt_sansio::*;

fn encode(p: &Packet, v: ProtocolVersion) -> BytesMut {
    let mut buf = BytesMut::new();
    p.encode(v, &mut buf).unwrap();
    buf
}

fn topic(s: &'static str) -> TopicName {
    TopicName::from_static(s).unwrap()
}

fn s(text: &str) -> MqttString {
    MqttString::try_from(text).unwrap()
}

#[test]
fn a_packet_above_the_maximum_is_refused_from_its_fixed_header_alone() {
    let mut decoder = Decoder::new(ProtocolVersion::V5).with_max_packet_size(1024);
    // PUBLISH announcing a Remaining Length of 1,000,000; only the fixed header is here.
    let mut buf = BytesMut::from(&[0x30, 0xC0, 0x84, 0x3D][..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Err(DecodeError::PacketTooLarge {
            size: 1_000_004,
            max: 1024
        })
    );
    assert_eq!(
        DecodeError::PacketTooLarge { size: 0, max: 0 }.reason_code(),
        ReasonCode::PacketTooLarge
    );
}

#[test]
fn the_maximum_counts_the_whole_packet_including_its_fixed_header() {
    let packet = Packet::from(Publish::new(topic("t"), Bytes::from(vec![1; 10])));
    let bytes = encode(&packet, ProtocolVersion::V311);
    let size = bytes.len() as u32;
    let mut at_limit = Decoder::new(ProtocolVersion::V311).with_max_packet_size(size);
    assert_eq!(at_limit.decode(&mut bytes.clone()), Ok(Some(packet)));
    let mut below = Decoder::new(ProtocolVersion::V311).with_max_packet_size(size - 1);
    assert!(matches!(
        below.decode(&mut bytes.clone()),
        Err(DecodeError::PacketTooLarge { .. })
    ));
}

#[test]
fn long_property_blocks_round_trip_at_every_length_prefix_size() {
    for value_len in [10, 300, 20_000, 60_000] {
        let mut p = Publish::new(topic("a/b"), Bytes::from_static(b"x"));
        p.properties
            .user_properties
            .push(s("k"), s(&"v".repeat(value_len)));
        p.properties.content_type = Some(s("text/plain"));
        let packet = Packet::from(p);
        let bytes = encode(&packet, ProtocolVersion::V5);
        assert_eq!(bytes.len(), packet.encoded_len(ProtocolVersion::V5));
        let decoded = Decoder::new(ProtocolVersion::V5)
            .decode(&mut bytes.clone())
            .unwrap();
        assert_eq!(decoded, Some(packet), "value of {value_len} bytes");
    }
}

#[test]
fn mqtt_1_5_4_3_a_byte_order_mark_survives_decoding() {
    let packet = Packet::from(Publish::new(
        TopicName::try_from("\u{feff}a").unwrap(),
        Bytes::new(),
    ));
    let bytes = encode(&packet, ProtocolVersion::V5);
    let Some(Packet::Publish(p)) = Decoder::new(ProtocolVersion::V5)
        .decode(&mut bytes.clone())
        .unwrap()
    else {
        panic!("not a publish")
    };
    assert_eq!(p.topic.as_bytes(), b"\xef\xbb\xbfa");
}

#[test]
fn a_client_decoder_refuses_what_only_clients_send() {
    for bytes in [
        &[0x82, 0x04, 0x00, 0x01, 0x00, 0x00][..],
        &[0xC0, 0x00],
        &[0xA2, 0x03, 0x00, 0x01, 0x00],
    ] {
        let err = Decoder::for_client(ProtocolVersion::V5)
            .decode(&mut BytesMut::from(bytes))
            .unwrap_err();
        assert!(matches!(err, DecodeError::WrongDirection { .. }), "{err:?}");
        assert_eq!(err.reason_code(), ReasonCode::ProtocolError);
    }
}

#[test]
fn a_server_decoder_refuses_what_only_servers_send() {
    let mut buf =
        BytesMut::from(&b"\x10\x0f\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x02c1\xd0\x00"[..]);
    let mut decoder = Decoder::for_server();
    assert!(matches!(
        decoder.decode(&mut buf),
        Ok(Some(Packet::Connect(_)))
    ));
    assert!(matches!(
        decoder.decode(&mut buf),
        Err(DecodeError::WrongDirection { .. })
    ));
}

#[test]
fn v311_a_server_never_sends_disconnect() {
    let err =
        Decoder::for_client(ProtocolVersion::V311).decode(&mut BytesMut::from(&[0xE0, 0x00][..]));
    assert!(matches!(err, Err(DecodeError::WrongDirection { .. })));
}

#[test]
fn mqtt_3_3_4_6_a_client_publish_with_a_subscription_identifier_is_refused() {
    let mut p = Publish::new(topic("t"), Bytes::new());
    p.properties
        .subscription_identifiers
        .push(SubscriptionId::new(7).unwrap());
    let bytes = encode(&Packet::from(p), ProtocolVersion::V5);
    let mut buf = BytesMut::from(&b"\x10\x0f\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x02c1"[..]);
    buf.extend_from_slice(&bytes);
    let mut server = Decoder::for_server();
    assert!(matches!(
        server.decode(&mut buf),
        Ok(Some(Packet::Connect(_)))
    ));
    let err = server.decode(&mut buf).unwrap_err();
    assert_eq!(err.reason_code(), ReasonCode::ProtocolError);
    // From a server the same PUBLISH is fine.
    assert!(
        Decoder::for_client(ProtocolVersion::V5)
            .decode(&mut bytes.clone())
            .is_ok()
    );
}

#[test]
fn mqtt_3_3_1_2_encoding_refuses_dup_on_qos_0() {
    let mut p = Publish::new(topic("t"), Bytes::new());
    p.dup = true;
    let err = Packet::from(p).encode(ProtocolVersion::V5, &mut BytesMut::new());
    assert!(matches!(err, Err(EncodeError::InvalidPacket { .. })));
}

#[test]
fn v311_encoding_refuses_what_only_mqtt_5_can_express() {
    let mut with_props = Publish::new(topic("t"), Bytes::new());
    with_props.properties.message_expiry_interval = Some(5);
    let mut nack = PubAck::new(PacketId::MIN);
    nack.reason_code = PubAckReasonCode::NotAuthorized;
    let refused = [
        Packet::Auth(Auth::default()),
        Packet::from(with_props),
        Packet::from(nack),
        Packet::from(Disconnect::new(DisconnectReasonCode::ServerBusy)),
        Packet::from(ConnAck::new(ConnectReasonCode::Banned)),
        Packet::from(SubAck::new(
            PacketId::MIN,
            vec![SubAckReasonCode::QuotaExceeded],
        )),
    ];
    for packet in refused {
        let mut buf = BytesMut::new();
        let err = packet.encode(ProtocolVersion::V311, &mut buf).unwrap_err();
        assert!(
            matches!(err, EncodeError::NotInVersion { .. }),
            "{packet:?}: {err:?}"
        );
        assert!(buf.is_empty(), "nothing is written on error");
    }
}

#[test]
fn encoding_into_a_full_fixed_buffer_is_an_error_not_a_panic() {
    let packet = Packet::from(Publish::new(topic("t"), Bytes::from(vec![0; 100])));
    let mut small = [0u8; 10];
    let err = packet
        .encode(ProtocolVersion::V311, &mut &mut small[..])
        .unwrap_err();
    assert_eq!(
        err,
        EncodeError::BufferTooSmall {
            needed: 105,
            available: 10
        }
    );
}

#[test]
fn binary_fields_longer_than_65535_bytes_are_refused() {
    let mut p = Publish::new(topic("t"), Bytes::new());
    p.properties.correlation_data = Some(Bytes::from(vec![0; 65_536]));
    let err = Packet::from(p)
        .encode(ProtocolVersion::V5, &mut BytesMut::new())
        .unwrap_err();
    assert!(matches!(err, EncodeError::FieldTooLong { .. }));
}

#[test]
fn property_box_allocates_only_when_a_property_is_set() {
    let mut p = Publish::new(topic("t"), Bytes::new());
    assert!(p.properties.is_empty());
    let empty = p.clone();
    let _ = p.properties.message_expiry_interval; // reading does not allocate or change
    assert_eq!(p, empty);
    p.properties.message_expiry_interval = Some(1);
    assert_ne!(p, empty);
    p.properties.message_expiry_interval = None;
    assert_eq!(p, empty, "an allocated but empty set equals no set");
}

#[test]
fn user_properties_from_the_wire_keep_order_and_are_shared_not_copied() {
    let mut p = Publish::new(topic("t"), Bytes::new());
    for (k, v) in [("a", "1"), ("b", "2"), ("a", "3")] {
        p.properties.user_properties.push(s(k), s(v));
    }
    let bytes = encode(&Packet::from(p), ProtocolVersion::V5).freeze();
    let mut buf = BytesMut::from(&bytes[..]);
    let Some(Packet::Publish(decoded)) =
        Decoder::new(ProtocolVersion::V5).decode(&mut buf).unwrap()
    else {
        panic!()
    };
    let up = &decoded.properties.user_properties;
    assert_eq!(
        up.iter().collect::<Vec<_>>(),
        [("a", "1"), ("b", "2"), ("a", "3")]
    );
    assert_eq!(up.get("a"), Some("1"));
}

#[test]
fn user_properties_split_by_another_property_re_encode_in_canonical_order() {
    // PUBLISH QoS 0, topic "t", properties: User Property (a, 1), Message Expiry 60,
    // User Property (b, 2): valid, but not in the canonical order.
    let wire = [
        0x30, 0x18, 0x00, 0x01, b't', 0x13, // header, topic, property length 19
        0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'1', // (a, 1)
        0x02, 0x00, 0x00, 0x00, 0x3C, // message expiry 60
        0x26, 0x00, 0x01, b'b', 0x00, 0x01, b'2', // (b, 2)
        b'x', // payload
    ];
    let mut buf = BytesMut::from(&wire[..]);
    let decoded = Decoder::new(ProtocolVersion::V5)
        .decode(&mut buf)
        .unwrap()
        .unwrap();
    let Packet::Publish(p) = &decoded else {
        panic!("{decoded:?}")
    };
    assert_eq!(
        p.properties.user_properties.iter().collect::<Vec<_>>(),
        [("a", "1"), ("b", "2")]
    );
    let canonical = [
        0x30, 0x18, 0x00, 0x01, b't', 0x13, // header, topic, property length 19
        0x02, 0x00, 0x00, 0x00, 0x3C, // message expiry first
        0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'1', // then the user properties, in order
        0x26, 0x00, 0x01, b'b', 0x00, 0x01, b'2', b'x',
    ];
    assert_eq!(&encode(&decoded, ProtocolVersion::V5)[..], &canonical[..]);
    assert_eq!(decoded.encoded_len(ProtocolVersion::V5), canonical.len());
}

#[test]
fn user_properties_in_one_run_re_encode_byte_for_byte() {
    // Message Expiry, then two User Properties: the canonical order already.
    let wire = [
        0x30, 0x18, 0x00, 0x01, b't', 0x13, 0x02, 0x00, 0x00, 0x00, 0x3C, 0x26, 0x00, 0x01, b'a',
        0x00, 0x01, b'1', 0x26, 0x00, 0x01, b'b', 0x00, 0x01, b'2', b'x',
    ];
    let decoded = Decoder::new(ProtocolVersion::V5)
        .decode(&mut BytesMut::from(&wire[..]))
        .unwrap()
        .unwrap();
    assert_eq!(&encode(&decoded, ProtocolVersion::V5)[..], &wire[..]);
    let mut head = BytesMut::new();
    let tail = decoded
        .encode_vectored(ProtocolVersion::V5, &mut head)
        .unwrap();
    assert_eq!([&head[..], &tail[..]].concat(), wire);
}
