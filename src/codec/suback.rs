//! SUBACK (3.1.1 section 3.9, 5.0 section 3.9).

use super::consume;
use super::primitives::{self, Reader, Sink, packet_id};
use super::properties::{self, AckProperties, PropertyBox};
use super::{Body, DecodeError, EncodeError, PacketType, SubAckReasonCode, cut};
use crate::types::{PacketId, ProtocolVersion};
use alloc::vec::Vec;
use bytes::BytesMut;

/// SUBACK: the server's answer to SUBSCRIBE, one reason code per filter in order.
///
/// ```
/// use mqtt_sansio::{PacketId, QoS, SubAck, SubAckReasonCode};
/// let ack = SubAck::new(PacketId::new(1).unwrap(), vec![SubAckReasonCode::granted(QoS::AtLeastOnce)]);
/// assert_eq!(ack.reason_codes[0].granted_qos(), Some(QoS::AtLeastOnce));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubAck {
    /// The packet identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// MQTT 5 properties.
    pub properties: PropertyBox<AckProperties>,
    /// One result per requested filter.
    pub reason_codes: Vec<SubAckReasonCode>,
}

impl SubAck {
    /// A SUBACK without properties.
    pub fn new(packet_id: PacketId, reason_codes: Vec<SubAckReasonCode>) -> Self {
        SubAck {
            packet_id,
            properties: PropertyBox::new(),
            reason_codes,
        }
    }

    /// Decodes the SUBACK of `size` bytes at the front of `buf`. Without properties it
    /// is read in place; with them it is cut out so they can share its bytes.
    pub(crate) fn decode(
        buf: &mut BytesMut,
        header_len: usize,
        size: usize,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let v5 = version.is_v5();
        let body = &buf[header_len..size];
        let (packet_id, properties, codes) = match body {
            [hi, lo, codes @ ..] if !v5 => (
                packet_id(*hi, *lo, PacketType::SubAck)?,
                PropertyBox::new(),
                codes,
            ),
            [hi, lo, 0, codes @ ..] => (
                packet_id(*hi, *lo, PacketType::SubAck)?,
                PropertyBox::new(),
                codes,
            ),
            _ => {
                let frame = cut(buf, header_len, size);
                let mut r = Reader::new(&frame);
                let packet_id = r.packet_id(PacketType::SubAck)?;
                let properties = if v5 {
                    properties::decode::<AckProperties>(&mut r, PacketType::SubAck)?
                } else {
                    PropertyBox::new()
                };
                let reason_codes = reason_codes(r.rest(), v5)?;
                return Ok(SubAck {
                    packet_id,
                    properties,
                    reason_codes,
                });
            }
        };
        let reason_codes = reason_codes(codes, v5)?;
        consume(buf, size);
        Ok(SubAck {
            packet_id,
            properties,
            reason_codes,
        })
    }
}

/// [MQTT-3.9.3-2]: only the defined codes (0x00, 0x01, 0x02, 0x80 in 3.1.1).
fn reason_codes(bytes: &[u8], v5: bool) -> Result<Vec<SubAckReasonCode>, DecodeError> {
    primitives::reason_codes(bytes, PacketType::SubAck, |code| {
        SubAckReasonCode::from_byte(code).filter(|c| v5 || c.exists_in_v311())
    })
}

impl Body for SubAck {
    fn first_byte(&self) -> u8 {
        (PacketType::SubAck as u8) << 4
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        if self.reason_codes.is_empty() {
            return Err(EncodeError::InvalidPacket {
                reason: "suback without reason codes",
            });
        }
        if !version.is_v5() {
            if self.reason_codes.iter().any(|c| !c.exists_in_v311()) {
                return Err(EncodeError::NotInVersion {
                    what: "this subscribe reason code",
                });
            }
            if !self.properties.is_empty() {
                return Err(EncodeError::NotInVersion {
                    what: "suback properties",
                });
            }
        }
        Ok(())
    }

    fn emit<S: Sink>(&self, version: ProtocolVersion, s: &mut S) {
        s.put_u16(self.packet_id.get());
        if version.is_v5() {
            s.put_properties(&*self.properties);
        }
        for code in &self.reason_codes {
            s.put_u8(code.value());
        }
    }
}
