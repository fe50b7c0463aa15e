//! Garbage, truncated and oversized input in every state of the client: the connection
//! ends with one `Disconnected` event, after a DISCONNECT carrying the fault's reason
//! code in MQTT 5.0 and with no bytes at all in 3.1.1; never a panic.

mod peer;
use bytes::BytesMut;
use mqtt_sansio::*;
use peer::*;
use proptest::prelude::*;
use std::num::NonZeroU32;

/// Where the client stands when the bad input arrives.
#[derive(Clone, Copy, Debug)]
enum Stage {
    Connecting,
    Connected,
    Busy,
}

fn reach(version: ProtocolVersion, stage: Stage, max_packet: Option<u32>) -> Peer {
    let mut config = Peer::config(version);
    config.maximum_packet_size = max_packet.and_then(NonZeroU32::new);
    let mut peer = Peer::new(config);
    match stage {
        Stage::Connecting => {
            peer.open();
        }
        Stage::Connected => {
            peer.connect();
        }
        Stage::Busy => {
            peer.connect();
            let now = peer.now;
            for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
                peer.client.publish(now, message("a/b", b"x", qos)).unwrap();
            }
            peer.client
                .subscribe(
                    now,
                    vec![Subscription::new(filter("a/#"), QoS::AtLeastOnce)],
                )
                .unwrap();
            peer.sent();
            peer.events();
        }
    }
    peer
}

/// Feeds `input`, then checks the outcome: either the client still waits for more
/// bytes (nothing sent, no event), or it reports exactly one `Disconnected` and, in
/// 5.0 after a protocol violation, its last packet is a DISCONNECT with that reason.
fn feed_and_check(peer: &mut Peer, input: &[u8], chunk: usize) {
    for piece in input.chunks(chunk.max(1)) {
        peer.send_bytes(piece);
    }
    let events = peer.events();
    let out = peer.sent_bytes();
    let disconnects = disconnect_reasons(&events);
    assert!(disconnects.len() <= 1, "{disconnects:?}");
    let Some(reason) = disconnects.first() else {
        assert_ne!(peer.client.state(), State::Disconnected);
        return;
    };
    assert_eq!(peer.client.state(), State::Disconnected);
    assert_eq!(peer.client.poll_timeout(), None);
    if let DisconnectReason::ProtocolViolation { reason_code, .. } = reason {
        let last = last_packet(peer.version, &out);
        match peer.version {
            // 3.1.1 has no DISCONNECT from a client that closes on a fault; what it
            // sent before the fault (a PUBREL answering a PUBREC, say) may be last.
            ProtocolVersion::V311 => assert!(
                !matches!(last, Some(Packet::Disconnect(_))),
                "3.1.1 closes without a DISCONNECT: {last:?}"
            ),
            ProtocolVersion::V5 => match last {
                Some(Packet::Disconnect(d)) => {
                    assert_eq!(ReasonCode::from(d.reason_code), *reason_code)
                }
                other => panic!("expected DISCONNECT, got {other:?}"),
            },
        }
    }
    // Anything after the end is ignored.
    peer.send_bytes(&[0x30, 0x00]);
    assert!(peer.events().is_empty());
    assert!(peer.sent_bytes().is_empty());
}

/// The last packet in `out` that a server decodes (it knows the version already).
fn last_packet(version: ProtocolVersion, out: &[u8]) -> Option<Packet> {
    let mut decoder = Decoder::new(version);
    let mut buf = BytesMut::from(out);
    let mut last = None;
    while let Ok(Some(p)) = decoder.decode(&mut buf) {
        last = Some(p);
    }
    last
}

fn stage() -> impl Strategy<Value = Stage> {
    prop_oneof![
        Just(Stage::Connecting),
        Just(Stage::Connected),
        Just(Stage::Busy)
    ]
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V311), Just(ProtocolVersion::V5)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_end_in_one_disconnect_or_wait(
        version in version(),
        stage in stage(),
        input in proptest::collection::vec(any::<u8>(), 0..64),
        chunk in 1usize..8,
    ) {
        let mut peer = reach(version, stage, None);
        feed_and_check(&mut peer, &input, chunk);
    }

    #[test]
    fn valid_packet_prefix_then_transport_close_is_one_disconnect(
        version in version(),
        cut in 1usize..12,
    ) {
        // A PUBLISH cut short, then the transport dies.
        let mut peer = reach(version, Stage::Connected, None);
        let mut wire = BytesMut::new();
        Packet::from(publish("a/b", b"payload", QosPid::AtMostOnce))
            .encode(version, &mut wire)
            .unwrap();
        let cut = cut.min(wire.len() - 1);
        peer.send_bytes(&wire[..cut]);
        assert!(peer.events().is_empty());
        peer.drop_transport();
        assert_eq!(
            peer.events(),
            vec![Event::Disconnected { reason: DisconnectReason::TransportClosed }]
        );
    }
}

#[test]
fn oversized_remaining_length_is_packet_too_large_from_the_header_alone() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        for stage in [Stage::Connecting, Stage::Connected, Stage::Busy] {
            let mut peer = reach(version, stage, Some(64));
            // A PUBLISH announcing 1,000 bytes: only the fixed header arrives.
            peer.send_bytes(&[0x30, 0xE8, 0x07]);
            let events = peer.events();
            match events.as_slice() {
                [
                    Event::Disconnected {
                        reason: DisconnectReason::ProtocolViolation { reason_code, .. },
                    },
                ] => assert_eq!(*reason_code, ReasonCode::PacketTooLarge),
                other => panic!("{version} {stage:?}: {other:?}"),
            }
            let out = peer.sent_bytes();
            match version {
                ProtocolVersion::V311 => assert!(out.is_empty()),
                ProtocolVersion::V5 => assert_eq!(out, [0xE0, 0x02, 0x95, 0x00]),
            }
        }
    }
}

#[test]
fn malformed_remaining_length_is_0x81_in_v5() {
    let mut peer = reach(ProtocolVersion::V5, Stage::Connected, None);
    peer.send_bytes(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF]);
    assert_eq!(peer.sent_bytes(), [0xE0, 0x02, 0x81, 0x00]);
    assert!(matches!(
        peer.events().as_slice(),
        [Event::Disconnected {
            reason: DisconnectReason::ProtocolViolation {
                reason_code: ReasonCode::MalformedPacket,
                ..
            }
        }]
    ));
}
