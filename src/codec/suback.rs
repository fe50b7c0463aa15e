//! SUBACK (3.1.1 section 3.9, 5.0 section 3.9).

use super::primitives::{Reader, Sink};
use super::properties::{self, AckProperties, PropertyBox};
use super::{Body, DecodeError, EncodeError, PacketType, SubAckReasonCode};
use crate::types::{PacketId, ProtocolVersion};
use alloc::vec::Vec;
use bytes::Bytes;

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

    pub(crate) fn decode(frame: &Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let v5 = version.is_v5();
        let mut r = Reader::new(frame);
        // [MQTT-2.3.1-7] (3.1.1) / [MQTT-2.2.1-6] (5.0)
        let packet_id = r.packet_id(PacketType::SubAck)?;
        let properties = if v5 {
            properties::decode::<AckProperties>(&mut r, PacketType::SubAck)?
        } else {
            PropertyBox::new()
        };
        let mut reason_codes = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            let code = r.u8("subscribe reason code")?;
            // [MQTT-3.9.3-2]: only the defined codes (0x00, 0x01, 0x02, 0x80 in 3.1.1).
            let reason = SubAckReasonCode::from_byte(code)
                .filter(|c| v5 || c.exists_in_v311())
                .ok_or(DecodeError::InvalidReasonCode {
                    packet: PacketType::SubAck,
                    code,
                })?;
            reason_codes.push(reason);
        }
        // [MQTT-3.8.4-5] (3.1.1) / [MQTT-3.8.4-6] (5.0): one code per filter, and a
        // SUBSCRIBE has at least one.
        if reason_codes.is_empty() {
            return Err(DecodeError::EmptyPayload {
                packet: PacketType::SubAck,
            });
        }
        Ok(SubAck {
            packet_id,
            properties,
            reason_codes,
        })
    }
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
