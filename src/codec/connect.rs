//! CONNECT (3.1.1 section 3.1, 5.0 section 3.1).

use super::primitives::{Reader, Sink};
use super::properties::{
    self, ConnectProperties, PropertyBox, WillProperties, WireProperties, check_binary,
};
use super::{Body, DecodeError, EncodeError, PacketType};
use crate::string::MqttString;
use crate::topic::TopicName;
use crate::types::{ProtocolVersion, QoS};
use bytes::Bytes;

/// CONNECT: the first packet a client sends on a connection.
///
/// ```
/// use mqtt_sansio::{Connect, MqttString};
/// let connect = Connect::new(MqttString::from_static("sensor-7").unwrap());
/// assert!(connect.clean_start);
/// assert_eq!(connect.keep_alive, 60);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connect {
    /// Clean Start (5.0) or Clean Session (3.1.1): begin with a new session.
    pub clean_start: bool,
    /// Keep alive in seconds; 0 turns the mechanism off.
    pub keep_alive: u16,
    /// Client identifier; empty asks the server to assign one.
    pub client_id: MqttString,
    /// The Will Message, published by the server if the connection ends abnormally.
    pub will: Option<Will>,
    /// User name.
    pub username: Option<MqttString>,
    /// Password (binary data).
    pub password: Option<Bytes>,
    /// MQTT 5 properties.
    pub properties: PropertyBox<ConnectProperties>,
}

/// The Will Message of a CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Will {
    /// Topic the Will is published to.
    pub topic: TopicName,
    /// The Will payload.
    pub payload: Bytes,
    /// QoS of the Will.
    pub qos: QoS,
    /// Whether the Will is published as a retained message.
    pub retain: bool,
    /// MQTT 5 Will properties.
    pub properties: PropertyBox<WillProperties>,
}

impl Will {
    /// A QoS 0, non-retained Will.
    pub fn new(topic: TopicName, payload: Bytes) -> Self {
        Will {
            topic,
            payload,
            qos: QoS::AtMostOnce,
            retain: false,
            properties: PropertyBox::new(),
        }
    }
}

impl Connect {
    /// A clean-start CONNECT with a 60 second keep alive and nothing else.
    pub fn new(client_id: MqttString) -> Self {
        Connect {
            clean_start: true,
            keep_alive: 60,
            client_id,
            ..Connect::default()
        }
    }
}

const CLEAN_START: u8 = 0x02;
const WILL: u8 = 0x04;
const WILL_RETAIN: u8 = 0x20;
const PASSWORD: u8 = 0x40;
const USERNAME: u8 = 0x80;

/// Decodes a CONNECT body; the protocol level inside decides the version.
pub(crate) fn decode(frame: &Bytes) -> Result<(Connect, ProtocolVersion), DecodeError> {
    let mut r = Reader::new(frame);
    let name_len = r.u16("protocol name")?;
    let name = r.bytes(usize::from(name_len), "protocol name")?;
    let level = r.u8("protocol level")?;
    let version = match (&name[..], level) {
        // [MQTT-3.1.2-2]: a level this crate does not speak (MQTT 3.1 included).
        (b"MQTT", _) | (b"MQIsdp", 3) => ProtocolVersion::from_level(level)
            .ok_or(DecodeError::UnsupportedProtocolVersion(level))?,
        // [MQTT-3.1.2-1]: not to be processed as MQTT.
        _ => return Err(DecodeError::InvalidProtocolName),
    };
    let v5 = version.is_v5();
    let flags = r.u8("connect flags")?;
    // [MQTT-3.1.2-3]
    if flags & 0x01 != 0 {
        return Err(DecodeError::ReservedBitsSet {
            field: "connect flags",
        });
    }
    let will_qos = (flags >> 3) & 0x03;
    if flags & WILL == 0 {
        // [MQTT-3.1.2-13] (3.1.1) / [MQTT-3.1.2-11] (5.0)
        if will_qos != 0 {
            return Err(DecodeError::InvalidConnectFlags {
                reason: "will qos set without the will flag",
            });
        }
        // [MQTT-3.1.2-15] (3.1.1) / [MQTT-3.1.2-13] (5.0)
        if flags & WILL_RETAIN != 0 {
            return Err(DecodeError::InvalidConnectFlags {
                reason: "will retain set without the will flag",
            });
        }
    }
    // [MQTT-3.1.2-14] (3.1.1) / [MQTT-3.1.2-12] (5.0)
    let will_qos = QoS::from_bits(will_qos).ok_or(DecodeError::InvalidQoS { field: "will qos" })?;
    // [MQTT-3.1.2-22]: 3.1.1 only; 5.0 allows a password alone.
    if !v5 && flags & PASSWORD != 0 && flags & USERNAME == 0 {
        return Err(DecodeError::InvalidConnectFlags {
            reason: "password flag set without the user name flag",
        });
    }
    let keep_alive = r.u16("keep alive")?;
    let properties = if v5 {
        properties::decode::<ConnectProperties>(&mut r, PacketType::Connect)?
    } else {
        PropertyBox::new()
    };
    // [MQTT-3.1.3-3], [MQTT-3.1.3-4]: always present, first, a UTF-8 string.
    let client_id = r.string("client identifier")?;
    // [MQTT-3.1.2-9], [MQTT-3.1.3-1]: Will fields follow in this order when flagged.
    let will = if flags & WILL != 0 {
        let properties = if v5 {
            properties::decode::<WillProperties>(&mut r, PacketType::Connect)?
        } else {
            PropertyBox::new()
        };
        // [MQTT-3.1.3-10] (3.1.1) / [MQTT-3.1.3-11] (5.0), and [MQTT-4.7.3-1].
        let topic = r.topic_name("will topic", false)?;
        let payload = r.binary("will payload")?;
        Some(Will {
            topic,
            payload,
            qos: will_qos,
            retain: flags & WILL_RETAIN != 0,
            properties,
        })
    } else {
        None
    };
    // [MQTT-3.1.2-19], [MQTT-3.1.3-11] (3.1.1) / [MQTT-3.1.2-17], [MQTT-3.1.3-12] (5.0)
    let username = if flags & USERNAME != 0 {
        Some(r.string("user name")?)
    } else {
        None
    };
    // [MQTT-3.1.2-21] (3.1.1) / [MQTT-3.1.2-19] (5.0)
    let password = if flags & PASSWORD != 0 {
        Some(r.binary("password")?)
    } else {
        None
    };
    // Fields whose flag is clear must be absent: [MQTT-3.1.2-11], [MQTT-3.1.2-18],
    // [MQTT-3.1.2-20] (3.1.1); [MQTT-3.1.2-16], [MQTT-3.1.2-18] (5.0).
    r.expect_end(PacketType::Connect)?;
    let connect = Connect {
        clean_start: flags & CLEAN_START != 0,
        keep_alive,
        client_id,
        will,
        username,
        password,
        properties,
    };
    Ok((connect, version))
}

impl Body for Connect {
    fn first_byte(&self) -> u8 {
        (PacketType::Connect as u8) << 4
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        check_binary(self.password.as_ref(), "password")?;
        self.properties.check()?;
        if let Some(will) = &self.will {
            check_binary(Some(&will.payload), "will payload")?;
            will.properties.check()?;
            if will.topic.is_empty() {
                return Err(EncodeError::InvalidPacket {
                    reason: "empty will topic",
                });
            }
        }
        if version == ProtocolVersion::V311 {
            if !self.properties.is_empty() {
                return Err(EncodeError::NotInVersion {
                    what: "connect properties",
                });
            }
            if self.will.as_ref().is_some_and(|w| !w.properties.is_empty()) {
                return Err(EncodeError::NotInVersion {
                    what: "will properties",
                });
            }
            if self.password.is_some() && self.username.is_none() {
                return Err(EncodeError::NotInVersion {
                    what: "a password without a user name",
                });
            }
        }
        Ok(())
    }

    fn emit<S: Sink>(&self, version: ProtocolVersion, s: &mut S) {
        let v5 = version.is_v5();
        s.put_prefixed(b"MQTT");
        s.put_u8(version.level());
        let mut flags = 0;
        if self.clean_start {
            flags |= CLEAN_START;
        }
        if let Some(will) = &self.will {
            flags |= WILL | (will.qos.value() << 3);
            if will.retain {
                flags |= WILL_RETAIN;
            }
        }
        if self.password.is_some() {
            flags |= PASSWORD;
        }
        if self.username.is_some() {
            flags |= USERNAME;
        }
        s.put_u8(flags);
        s.put_u16(self.keep_alive);
        if v5 {
            s.put_properties(&*self.properties);
        }
        s.put_prefixed(self.client_id.as_bytes());
        if let Some(will) = &self.will {
            if v5 {
                s.put_properties(&*will.properties);
            }
            s.put_prefixed(will.topic.as_bytes());
            s.put_prefixed(&will.payload);
        }
        if let Some(username) = &self.username {
            s.put_prefixed(username.as_bytes());
        }
        if let Some(password) = &self.password {
            s.put_prefixed(password);
        }
    }
}
