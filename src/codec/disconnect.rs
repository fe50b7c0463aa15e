//! DISCONNECT (3.1.1 section 3.14, 5.0 section 3.14).

use super::primitives::{Reader, Sink};
use super::properties::{self, DisconnectProperties, PropertyBox};
use super::{Body, DecodeError, DisconnectReasonCode, EncodeError, PacketType, Sender};
use crate::types::ProtocolVersion;
use bytes::Bytes;

/// DISCONNECT: the last packet on a connection. In MQTT 3.1.1 only a client sends it and
/// it carries nothing; in MQTT 5 either side sends it with a reason.
///
/// ```
/// use mqtt_sansio::{Disconnect, DisconnectReasonCode};
/// let d = Disconnect::new(DisconnectReasonCode::DisconnectWithWillMessage);
/// assert_eq!(d.reason_code.value(), 0x04);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Disconnect {
    /// Why the connection ends.
    pub reason_code: DisconnectReasonCode,
    /// MQTT 5 properties.
    pub properties: PropertyBox<DisconnectProperties>,
}

impl Disconnect {
    /// A DISCONNECT with `reason_code` and no properties.
    pub fn new(reason_code: DisconnectReasonCode) -> Self {
        Disconnect {
            reason_code,
            properties: PropertyBox::new(),
        }
    }

    pub(crate) fn decode(
        frame: &Bytes,
        version: ProtocolVersion,
        sender: Sender,
    ) -> Result<Self, DecodeError> {
        if !version.is_v5() {
            // 3.1.1 section 3.14: no variable header and no payload.
            if !frame.is_empty() {
                return Err(DecodeError::InvalidRemainingLength {
                    packet: PacketType::Disconnect,
                    len: frame.len() as u32,
                });
            }
            return Ok(Disconnect::default());
        }
        let mut r = Reader::new(frame);
        // 5.0 section 3.14.2.1: Remaining Length 0 means 0x00, 1 means no properties.
        if r.is_empty() {
            return Ok(Disconnect::default());
        }
        let code = r.u8("disconnect reason code")?;
        // [MQTT-3.14.2-1]
        let reason_code =
            DisconnectReasonCode::from_byte(code).ok_or(DecodeError::InvalidReasonCode {
                packet: PacketType::Disconnect,
                code,
            })?;
        let properties = if r.is_empty() {
            PropertyBox::new()
        } else {
            properties::decode::<DisconnectProperties>(&mut r, PacketType::Disconnect)?
        };
        r.expect_end(PacketType::Disconnect)?;
        // [MQTT-3.14.2-2]
        if sender == Sender::Server && properties.session_expiry_interval.is_some() {
            return Err(DecodeError::WrongDirection {
                what: "a session expiry interval in a server DISCONNECT",
            });
        }
        Ok(Disconnect {
            reason_code,
            properties,
        })
    }
}

impl Body for Disconnect {
    fn first_byte(&self) -> u8 {
        (PacketType::Disconnect as u8) << 4
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        if !version.is_v5()
            && (self.reason_code != DisconnectReasonCode::NormalDisconnection
                || !self.properties.is_empty())
        {
            return Err(EncodeError::NotInVersion {
                what: "disconnect reason codes and properties",
            });
        }
        Ok(())
    }

    /// The canonical MQTT 5 form always writes the reason code and property length.
    fn emit<S: Sink>(&self, version: ProtocolVersion, s: &mut S) {
        if version.is_v5() {
            s.put_u8(self.reason_code.value());
            s.put_properties(&*self.properties);
        }
    }
}
