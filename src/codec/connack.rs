//! CONNACK (3.1.1 section 3.2, 5.0 section 3.2).

use super::primitives::{Reader, Sink};
use super::properties::{self, ConnAckProperties, PropertyBox, WireProperties};
use super::{Body, ConnectReasonCode, DecodeError, EncodeError, PacketType};
use crate::types::ProtocolVersion;
use bytes::Bytes;

/// CONNACK: the server's answer to CONNECT.
///
/// In MQTT 3.1.1 the return code is expressed as the matching [`ConnectReasonCode`]
/// (see [`ConnectReasonCode::v311_return_code`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnAck {
    /// The server holds a session for this client and resumes it.
    pub session_present: bool,
    /// Whether the connection is accepted, and why not.
    pub reason_code: ConnectReasonCode,
    /// MQTT 5 properties: the server's limits and capabilities.
    pub properties: PropertyBox<ConnAckProperties>,
}

impl ConnAck {
    /// A CONNACK with `reason_code`, no session present and no properties.
    pub fn new(reason_code: ConnectReasonCode) -> Self {
        ConnAck {
            session_present: false,
            reason_code,
            properties: PropertyBox::new(),
        }
    }

    pub(crate) fn decode(frame: &Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let v5 = version.is_v5();
        if !v5 && frame.len() != 2 {
            return Err(DecodeError::InvalidRemainingLength {
                packet: PacketType::ConnAck,
                len: frame.len() as u32,
            });
        }
        let mut r = Reader::new(frame);
        let flags = r.u8("connect acknowledge flags")?;
        // [MQTT-3.2.2-1] (5.0); 3.1.1 section 3.2.2.1 reserves the same bits.
        if flags & 0xFE != 0 {
            return Err(DecodeError::ReservedBitsSet {
                field: "connect acknowledge flags",
            });
        }
        let code = r.u8("connect reason code")?;
        let reason_code = if v5 {
            // [MQTT-3.2.2-8]
            ConnectReasonCode::from_byte(code).ok_or(DecodeError::InvalidReasonCode {
                packet: PacketType::ConnAck,
                code,
            })?
        } else {
            // 3.1.1 section 3.2.2.3: 6 to 255 are reserved.
            ConnectReasonCode::from_v311_return_code(code)
                .ok_or(DecodeError::ReservedReturnCode(code))?
        };
        let session_present = flags & 0x01 != 0;
        // [MQTT-3.2.2-4] (3.1.1) / [MQTT-3.2.2-6] (5.0)
        if session_present && reason_code != ConnectReasonCode::Success {
            return Err(DecodeError::SessionPresentOnRefusal);
        }
        let properties = if v5 {
            properties::decode::<ConnAckProperties>(&mut r, PacketType::ConnAck)?
        } else {
            PropertyBox::new()
        };
        r.expect_end(PacketType::ConnAck)?;
        Ok(ConnAck {
            session_present,
            reason_code,
            properties,
        })
    }
}

impl Body for ConnAck {
    fn first_byte(&self) -> u8 {
        (PacketType::ConnAck as u8) << 4
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        self.properties.check()?;
        if self.session_present && self.reason_code != ConnectReasonCode::Success {
            return Err(EncodeError::InvalidPacket {
                reason: "session present on a refused connection",
            });
        }
        if version == ProtocolVersion::V311 {
            if self.reason_code.v311_return_code().is_none() {
                return Err(EncodeError::NotInVersion {
                    what: "this connect reason code",
                });
            }
            if !self.properties.is_empty() {
                return Err(EncodeError::NotInVersion {
                    what: "connack properties",
                });
            }
        }
        Ok(())
    }

    fn emit<S: Sink>(&self, version: ProtocolVersion, s: &mut S) {
        s.put_u8(u8::from(self.session_present));
        if version.is_v5() {
            s.put_u8(self.reason_code.value());
            s.put_properties(&*self.properties);
        } else {
            s.put_u8(self.reason_code.v311_return_code().unwrap_or(0x05));
        }
    }
}
