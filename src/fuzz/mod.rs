//! Bodies of the fuzz targets in `fuzz/`, kept in the crate so that plain tests replay
//! the same code on every checked-in input. Not part of the public API.

mod server_ops;
pub use server_ops::server_ops;

#[cfg(feature = "arbitrary")]
mod roundtrip;
#[cfg(feature = "arbitrary")]
pub use roundtrip::*;

use crate::{Decoder, Packet, ProtocolVersion};
use bytes::BytesMut;

/// Arbitrary bytes through every kind of decoder, in chunks whose sizes the input
/// chooses. Whatever decodes must encode again to bytes that decode to the same packet,
/// and a decoder waiting for more bytes never holds a whole maximum-size packet.
pub fn decode_raw(data: &[u8]) {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let max = 16 + u32::from(control) * 8;
    let mut decoder = match control % 5 {
        0 => Decoder::new(ProtocolVersion::V311),
        1 => Decoder::new(ProtocolVersion::V5),
        2 => Decoder::for_client(ProtocolVersion::V311),
        3 => Decoder::for_client(ProtocolVersion::V5),
        _ => Decoder::for_server(),
    }
    .with_max_packet_size(max);
    let chunk = 1 + usize::from(control / 5 % 16);
    let mut buf = BytesMut::new();
    for piece in data.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            let before = buf.len();
            match decoder.decode(&mut buf) {
                Ok(Some(packet)) => {
                    let Some(version) = decoder.version() else {
                        panic!("a packet decoded without a protocol version")
                    };
                    round_trip(&packet, version);
                }
                Ok(None) => {
                    assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                    assert!(
                        buf.len() < max as usize,
                        "waits with a whole maximum-size packet buffered"
                    );
                    break;
                }
                Err(_) => return,
            }
        }
    }
}

fn round_trip(packet: &Packet, version: ProtocolVersion) {
    let mut bytes = BytesMut::new();
    if let Err(e) = packet.encode(version, &mut bytes) {
        panic!("a decoded packet does not encode: {e}: {packet:?}");
    }
    assert_eq!(bytes.len(), packet.encoded_len(version));
    match Decoder::new(version).decode(&mut bytes) {
        Ok(Some(again)) => assert_eq!(&again, packet),
        other => panic!("re-encoded packet does not decode: {other:?}: {packet:?}"),
    }
}

/// A [`Client`](crate::Client) driven by a sequence of operations the input chooses:
/// transport open and close, arbitrary server bytes (with accepting CONNACKs mixed in so
/// that later states are reached), time jumps and every command. No input panics, and
/// after every operation: outgoing messages in flight stay within the local cap, no
/// command completes twice, a disconnected client has no deadline.
pub fn client_ops(data: &[u8]) {
    use crate::{
        Client, ClientConfig, Event, Instant, Message, QoS, SessionLostPolicy, State, Subscription,
        TopicFilter,
    };
    use alloc::collections::BTreeSet;
    use alloc::vec;
    use core::num::NonZeroU16;
    use core::time::Duration;

    let Some((&control, mut data)) = data.split_first() else {
        return;
    };
    let version = if control & 1 == 0 {
        ProtocolVersion::V311
    } else {
        ProtocolVersion::V5
    };
    let cap = 1 + u16::from(control >> 2 & 3);
    let Ok(client_id) = "fuzz".parse() else {
        return;
    };
    let mut config = ClientConfig::new(version, client_id);
    config.clean_start = control & 0x10 == 0;
    config.keep_alive = u16::from(control >> 5);
    config.max_inflight = NonZeroU16::new(cap).unwrap_or(NonZeroU16::MIN);
    config.max_queued = 8;
    config.topic_alias_maximum = 4;
    config.manual_acks = control & 0x08 != 0;
    if control & 2 != 0 {
        config.session_lost_policy = SessionLostPolicy::Fail;
    }
    let Ok(mut client) = Client::new(config) else {
        return;
    };
    let (Ok(topic), Ok(filter)) = (
        "f/t".parse::<crate::TopicName>(),
        "f/#".parse::<TopicFilter>(),
    ) else {
        return;
    };
    let mut now = Instant::ZERO;
    let mut completed = BTreeSet::new();
    let mut deliveries = alloc::vec::Vec::new();
    while let Some((&op, rest)) = data.split_first() {
        data = rest;
        let arg = data.first().copied().unwrap_or(0);
        match op % 14 {
            0 => {
                let _ = client.handle_transport_open(now);
            }
            1 => {
                let n = usize::from(arg % 32).min(data.len());
                let (bytes, rest) = data.split_at(n);
                client.handle_input(now, bytes);
                data = rest;
            }
            2 => {
                now = now + Duration::from_millis(u64::from(arg) * 250);
                client.handle_timeout(now);
            }
            3 => {
                let qos = QoS::try_from(arg % 3).unwrap_or(QoS::AtMostOnce);
                let message = Message::new(topic.clone(), bytes::Bytes::from_static(b"x"), qos);
                let _ = client.publish(now, message);
            }
            4 => {
                let _ = client.subscribe(
                    now,
                    vec![Subscription::new(filter.clone(), QoS::ExactlyOnce)],
                );
            }
            5 => {
                let _ = client.unsubscribe(now, vec![filter.clone()]);
            }
            6 => {
                let reason = crate::DisconnectReasonCode::try_from(arg)
                    .unwrap_or(crate::DisconnectReasonCode::NormalDisconnection);
                let _ = client.disconnect(now, reason, None);
            }
            7 => client.handle_transport_close(now),
            10 => {
                if arg & 1 == 0 {
                    let _ = client.connect(now);
                } else {
                    client.connect_now(now);
                }
            }
            11 => client.handle_transport_failed(now, crate::TransportFailure::Refused),
            12 => {
                if let Some(delivery) = deliveries.pop() {
                    let _ = client.ack(now, delivery);
                }
            }
            13 => {
                // A CONNACK granting Topic Aliases, so that outgoing ones get used.
                client.handle_input(now, &[0x20, 0x06, 0x00, 0x00, 0x03, 0x22, 0x00, 0x02]);
            }
            8 => {
                let session_present = arg & 1;
                if version.is_v5() {
                    client.handle_input(now, &[0x20, 0x03, session_present, 0x00, 0x00]);
                } else {
                    client.handle_input(now, &[0x20, 0x02, session_present, 0x00]);
                }
            }
            9 => {
                // An acknowledgement for a low identifier: PUBACK, PUBREC, PUBCOMP,
                // SUBACK or UNSUBACK, picked by the argument.
                let pid = arg >> 3 & 7;
                let bytes: &[u8] = match arg % 5 {
                    0 => &[0x40, 0x02, 0x00, pid],
                    1 => &[0x50, 0x02, 0x00, pid],
                    2 => &[0x70, 0x02, 0x00, pid],
                    3 => &[0x90, 0x03, 0x00, pid, 0x01],
                    _ => &[0xB0, 0x02, 0x00, pid],
                };
                client.handle_input(now, bytes);
            }
            _ => {}
        }
        while client.poll_transmit().is_some() {}
        while let Some(event) = client.poll_event() {
            if let Event::Message(message) = &event {
                deliveries.extend(message.delivery);
            }
            if let Event::Published { id, .. } = &event {
                assert!(
                    completed.insert(*id),
                    "a command completed twice: {event:?}"
                );
            }
        }
        assert!(
            client.stats().in_flight <= usize::from(cap),
            "in flight above the cap"
        );
        if client.state() == State::Disconnected && !client.is_reconnecting() {
            assert_eq!(
                client.poll_timeout(),
                None,
                "a deadline without a connection or reconnection"
            );
        }
    }
}
