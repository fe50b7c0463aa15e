//! PUBACK, PUBREC, PUBREL and PUBCOMP (3.1.1 sections 3.4-3.7, 5.0 sections 3.4-3.7):
//! four packets with one layout, a packet identifier, a reason code and properties.

use super::consume;
use super::primitives::{Reader, Sink, packet_id};
use super::properties::{self, AckProperties, PropertyBox};
use super::{
    Body, DecodeError, EncodeError, PacketType, PubAckReasonCode, PubCompReasonCode,
    PubRecReasonCode, PubRelReasonCode, cut,
};
use crate::types::{PacketId, ProtocolVersion};
use bytes::BytesMut;

/// Reads the shared layout from the packet of `size` bytes at the front of `buf`; the
/// reason code byte is 0 when the packet leaves it out. Without properties, the common
/// case, nothing is sliced: the packet is read in place and dropped from the buffer.
#[inline]
fn decode_ack(
    buf: &mut BytesMut,
    header_len: usize,
    size: usize,
    version: ProtocolVersion,
    packet: PacketType,
) -> Result<(PacketId, u8, PropertyBox<AckProperties>), DecodeError> {
    let body = &buf[header_len..size];
    // 3.1.1: exactly the packet identifier. 5.0 section 3.4.2.1: Remaining Length 2
    // means reason 0x00 and no properties, 3 means no properties.
    let short = match (version, body) {
        (ProtocolVersion::V311, &[hi, lo]) | (ProtocolVersion::V5, &[hi, lo]) => Some((hi, lo, 0)),
        (ProtocolVersion::V5, &[hi, lo, code]) | (ProtocolVersion::V5, &[hi, lo, code, 0]) => {
            Some((hi, lo, code))
        }
        (ProtocolVersion::V311, _) => {
            return Err(DecodeError::InvalidRemainingLength {
                packet,
                len: body.len() as u32,
            });
        }
        _ => None,
    };
    if let Some((hi, lo, code)) = short {
        consume(buf, size);
        let packet_id = packet_id(hi, lo, packet)?;
        return Ok((packet_id, code, PropertyBox::new()));
    }
    let frame = cut(buf, header_len, size);
    let mut r = Reader::new(&frame);
    let packet_id = r.packet_id(packet)?;
    let code = r.u8("reason code")?;
    let properties = properties::decode::<AckProperties>(&mut r, packet)?;
    r.expect_end(packet)?;
    Ok((packet_id, code, properties))
}

fn check_ack(
    version: ProtocolVersion,
    success: bool,
    properties: &PropertyBox<AckProperties>,
) -> Result<(), EncodeError> {
    if version == ProtocolVersion::V311 {
        if !success {
            return Err(EncodeError::NotInVersion {
                what: "acknowledgement reason codes",
            });
        }
        if !properties.is_empty() {
            return Err(EncodeError::NotInVersion {
                what: "acknowledgement properties",
            });
        }
    }
    Ok(())
}

/// The canonical form leaves the reason code out only when it is 0 and there are no
/// properties, and otherwise writes the property length even when it is 0.
fn emit_ack<S: Sink>(
    s: &mut S,
    version: ProtocolVersion,
    packet_id: PacketId,
    code: u8,
    properties: &PropertyBox<AckProperties>,
) {
    s.put_u16(packet_id.get());
    if version.is_v5() && (code != 0 || !properties.is_empty()) {
        s.put_u8(code);
        s.put_properties(&**properties);
    }
}

macro_rules! publish_ack {
    ($(#[$meta:meta])* $name:ident, $reason:ident, $packet:expr, $flags:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            /// The packet identifier of the message.
            pub packet_id: PacketId,
            /// The outcome (always success in MQTT 3.1.1).
            pub reason_code: $reason,
            /// MQTT 5 properties.
            pub properties: PropertyBox<AckProperties>,
        }

        impl $name {
            /// A successful acknowledgement without properties.
            pub fn new(packet_id: PacketId) -> Self {
                $name {
                    packet_id,
                    reason_code: $reason::Success,
                    properties: PropertyBox::new(),
                }
            }

            #[inline]
            pub(crate) fn decode(
                buf: &mut BytesMut,
                header_len: usize,
                size: usize,
                version: ProtocolVersion,
            ) -> Result<Self, DecodeError> {
                let (packet_id, code, properties) = decode_ack(buf, header_len, size, version, $packet)?;
                let reason_code = $reason::from_byte(code).ok_or(DecodeError::InvalidReasonCode {
                    packet: $packet,
                    code,
                })?;
                Ok($name {
                    packet_id,
                    reason_code,
                    properties,
                })
            }
        }

        impl Body for $name {
            #[inline]
            fn first_byte(&self) -> u8 {
                ($packet as u8) << 4 | $flags
            }

            #[inline]
            fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
                check_ack(version, self.reason_code == $reason::Success, &self.properties)
            }

            #[inline]
            fn emit<S: Sink>(&self, version: ProtocolVersion, s: &mut S) {
                emit_ack(s, version, self.packet_id, self.reason_code.value(), &self.properties);
            }
        }
    };
}

// [MQTT-3.4.2-1]: a reason code outside the PUBACK set is refused by `from_byte`.
publish_ack!(
    /// PUBACK: the receiver's answer to a QoS 1 PUBLISH.
    ///
    /// ```
    /// use mqtt_sansio::{PacketId, PubAck, PubAckReasonCode};
    /// let ack = PubAck::new(PacketId::new(5).unwrap());
    /// assert_eq!(ack.reason_code, PubAckReasonCode::Success);
    /// ```
    PubAck,
    PubAckReasonCode,
    PacketType::PubAck,
    0b0000
);

// [MQTT-3.5.2-1]: a reason code outside the PUBREC set is refused by `from_byte`.
publish_ack!(
    /// PUBREC: the receiver's first answer to a QoS 2 PUBLISH.
    ///
    /// ```
    /// use mqtt_sansio::{PacketId, PubRec};
    /// assert_eq!(PubRec::new(PacketId::MIN).packet_id.get(), 1);
    /// ```
    PubRec,
    PubRecReasonCode,
    PacketType::PubRec,
    0b0000
);

// [MQTT-3.6.2-1]: a reason code outside the PUBREL set is refused by `from_byte`.
publish_ack!(
    /// PUBREL: the sender releases a QoS 2 message after PUBREC.
    ///
    /// ```
    /// use mqtt_sansio::{PacketId, PubRel};
    /// assert_eq!(PubRel::new(PacketId::MAX).packet_id.get(), 65_535);
    /// ```
    PubRel,
    PubRelReasonCode,
    PacketType::PubRel,
    0b0010
);

// [MQTT-3.7.2-1]: a reason code outside the PUBCOMP set is refused by `from_byte`.
publish_ack!(
    /// PUBCOMP: the receiver completes a QoS 2 flow after PUBREL.
    ///
    /// ```
    /// use mqtt_sansio::{PacketId, PubComp, PubCompReasonCode};
    /// let done = PubComp::new(PacketId::new(3).unwrap());
    /// assert!(!done.reason_code.is_error());
    /// ```
    PubComp,
    PubCompReasonCode,
    PacketType::PubComp,
    0b0000
);
