//! AUTH (5.0 section 3.15).

use super::primitives::{Reader, Sink};
use super::properties::{self, AuthProperties, PropertyBox, WireProperties};
use super::{AuthReasonCode, Body, DecodeError, EncodeError, PacketType};
use crate::types::ProtocolVersion;
use bytes::Bytes;

/// AUTH: one step of an MQTT 5 enhanced authentication exchange.
///
/// ```
/// use mqtt_sansio::{Auth, AuthReasonCode, MqttString};
/// let mut auth = Auth::new(AuthReasonCode::ContinueAuthentication);
/// auth.properties.authentication_method = Some(MqttString::from_static("SCRAM-SHA-1").unwrap());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auth {
    /// The step.
    pub reason_code: AuthReasonCode,
    /// Method, data, reason string and user properties.
    pub properties: PropertyBox<AuthProperties>,
}

impl Auth {
    /// An AUTH with `reason_code` and no properties.
    pub fn new(reason_code: AuthReasonCode) -> Self {
        Auth {
            reason_code,
            properties: PropertyBox::new(),
        }
    }

    pub(crate) fn decode(frame: &Bytes) -> Result<Self, DecodeError> {
        // 5.0 section 3.15.2.1: Remaining Length 0 means success without properties;
        // otherwise both the reason code and the property length are present.
        if frame.is_empty() {
            return Ok(Auth::default());
        }
        let mut r = Reader::new(frame);
        let code = r.u8("authenticate reason code")?;
        // [MQTT-3.15.2-1]
        let reason_code =
            AuthReasonCode::from_byte(code).ok_or(DecodeError::InvalidReasonCode {
                packet: PacketType::Auth,
                code,
            })?;
        let properties = properties::decode::<AuthProperties>(&mut r, PacketType::Auth)?;
        r.expect_end(PacketType::Auth)?;
        // [MQTT-4.12.0-5]: an exchange in progress names its method.
        if reason_code != AuthReasonCode::Success && properties.authentication_method.is_none() {
            return Err(DecodeError::MissingAuthenticationMethod);
        }
        Ok(Auth {
            reason_code,
            properties,
        })
    }
}

impl Body for Auth {
    fn first_byte(&self) -> u8 {
        (PacketType::Auth as u8) << 4
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        if !version.is_v5() {
            return Err(EncodeError::NotInVersion { what: "AUTH" });
        }
        self.properties.check()?;
        if self.properties.authentication_method.is_none()
            && (self.reason_code != AuthReasonCode::Success
                || self.properties.authentication_data.is_some())
        {
            return Err(EncodeError::InvalidPacket {
                reason: "auth without an authentication method",
            });
        }
        Ok(())
    }

    fn emit<S: Sink>(&self, _: ProtocolVersion, s: &mut S) {
        s.put_u8(self.reason_code.value());
        s.put_properties(&*self.properties);
    }
}
