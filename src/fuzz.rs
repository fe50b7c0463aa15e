//! Bodies of the fuzz targets in `fuzz/`, kept in the crate so that plain tests replay
//! the same code on every checked-in input. Not part of the public API.

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
