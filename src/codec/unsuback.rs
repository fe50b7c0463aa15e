//! UNSUBACK (3.1.1 section 3.11, 5.0 section 3.11).

use super::consume;
use super::primitives::{self, Reader, Sink, packet_id};
use super::properties::{self, AckProperties, PropertyBox};
use super::{Body, DecodeError, EncodeError, PacketType, UnsubAckReasonCode, cut};
use crate::types::{PacketId, ProtocolVersion};
use alloc::vec::Vec;
use bytes::BytesMut;

/// UNSUBACK: the server's answer to UNSUBSCRIBE. MQTT 5 adds one reason code per filter;
/// in MQTT 3.1.1 `reason_codes` is empty.
///
/// ```
/// use mqtt_sansio::{PacketId, UnsubAck, UnsubAckReasonCode};
/// let ack = UnsubAck::new(PacketId::new(4).unwrap(), vec![UnsubAckReasonCode::Success]);
/// assert_eq!(ack.reason_codes.len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsubAck {
    /// The packet identifier of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// MQTT 5 properties.
    pub properties: PropertyBox<AckProperties>,
    /// One result per filter (MQTT 5 only).
    pub reason_codes: Vec<UnsubAckReasonCode>,
}

impl UnsubAck {
    /// An UNSUBACK without properties.
    pub fn new(packet_id: PacketId, reason_codes: Vec<UnsubAckReasonCode>) -> Self {
        UnsubAck {
            packet_id,
            properties: PropertyBox::new(),
            reason_codes,
        }
    }

    /// Decodes the UNSUBACK of `size` bytes at the front of `buf`, in place unless it
    /// has properties.
    pub(crate) fn decode(
        buf: &mut BytesMut,
        header_len: usize,
        size: usize,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let body = &buf[header_len..size];
        let (packet_id, properties, codes) = match (version, body) {
            (ProtocolVersion::V311, &[hi, lo]) => {
                let packet_id = packet_id(hi, lo, PacketType::UnsubAck)?;
                consume(buf, size);
                return Ok(UnsubAck::new(packet_id, Vec::new()));
            }
            (ProtocolVersion::V311, _) => {
                return Err(DecodeError::InvalidRemainingLength {
                    packet: PacketType::UnsubAck,
                    len: body.len() as u32,
                });
            }
            (ProtocolVersion::V5, [hi, lo, 0, codes @ ..]) => (
                packet_id(*hi, *lo, PacketType::UnsubAck)?,
                PropertyBox::new(),
                codes,
            ),
            (ProtocolVersion::V5, _) => {
                let frame = cut(buf, header_len, size);
                let mut r = Reader::new(&frame);
                let packet_id = r.packet_id(PacketType::UnsubAck)?;
                let properties = properties::decode::<AckProperties>(&mut r, PacketType::UnsubAck)?;
                let reason_codes = reason_codes(r.rest())?;
                return Ok(UnsubAck {
                    packet_id,
                    properties,
                    reason_codes,
                });
            }
        };
        let reason_codes = reason_codes(codes)?;
        consume(buf, size);
        Ok(UnsubAck {
            packet_id,
            properties,
            reason_codes,
        })
    }
}

/// [MQTT-3.11.3-2]: only the defined codes.
fn reason_codes(bytes: &[u8]) -> Result<Vec<UnsubAckReasonCode>, DecodeError> {
    primitives::reason_codes(bytes, PacketType::UnsubAck, UnsubAckReasonCode::from_byte)
}

impl Body for UnsubAck {
    fn first_byte(&self) -> u8 {
        (PacketType::UnsubAck as u8) << 4
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        if version.is_v5() {
            if self.reason_codes.is_empty() {
                return Err(EncodeError::InvalidPacket {
                    reason: "unsuback without reason codes",
                });
            }
        } else if !self.reason_codes.is_empty() || !self.properties.is_empty() {
            return Err(EncodeError::NotInVersion {
                what: "unsuback reason codes and properties",
            });
        }
        Ok(())
    }

    fn emit<S: Sink>(&self, version: ProtocolVersion, s: &mut S) {
        s.put_u16(self.packet_id.get());
        if version.is_v5() {
            s.put_properties(&*self.properties);
            for code in &self.reason_codes {
                s.put_u8(code.value());
            }
        }
    }
}
