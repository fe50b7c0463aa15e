//! PUBLISH (3.1.1 section 3.3, 5.0 section 3.3).

use super::primitives::{Reader, Sink};
use super::properties::PublishProperties;
use super::{Body, DecodeError, EncodeError, PacketType, Sender};
use crate::topic::{TopicError, TopicName};
use crate::types::{PacketId, ProtocolVersion, QoS, QosPid};
use bytes::{Buf, Bytes};

/// PUBLISH: an application message.
///
/// ```
/// use bytes::Bytes;
/// use mqtt_sansio::{PacketId, Publish, QoS, QosPid, TopicName};
/// let mut p = Publish::new(TopicName::from_static("a/b").unwrap(), Bytes::from_static(b"hi"));
/// p.qos_pid = QosPid::AtLeastOnce(PacketId::new(1).unwrap());
/// assert_eq!(p.qos(), QoS::AtLeastOnce);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Publish {
    /// This is a re-delivery of an earlier attempt (never set at QoS 0).
    pub dup: bool,
    /// QoS and, above QoS 0, the packet identifier.
    pub qos_pid: QosPid,
    /// Retain the message (client to server), or it is a retained message (server to
    /// client).
    pub retain: bool,
    /// The topic. Empty only in MQTT 5 with a Topic Alias property.
    pub topic: TopicName,
    /// MQTT 5 properties.
    pub properties: PublishProperties,
    /// The application payload.
    pub payload: Bytes,
}

impl Publish {
    /// A QoS 0, non-retained message without properties.
    pub fn new(topic: TopicName, payload: Bytes) -> Self {
        Publish {
            topic,
            payload,
            ..Publish::default()
        }
    }

    /// The QoS.
    pub fn qos(&self) -> QoS {
        self.qos_pid.qos()
    }

    /// The packet identifier, absent at QoS 0.
    pub fn packet_id(&self) -> Option<PacketId> {
        self.qos_pid.packet_id()
    }

    /// Decodes a PUBLISH body; `first` is the fixed header byte, already checked.
    #[inline]
    pub(crate) fn decode(
        first: u8,
        mut frame: Bytes,
        version: ProtocolVersion,
        sender: Sender,
    ) -> Result<Self, DecodeError> {
        let v5 = version.is_v5();
        let mut r = Reader::new(&frame);
        // [MQTT-3.3.2-1]: the topic comes first and is a UTF-8 string; MQTT 5 allows it
        // to be empty when a Topic Alias replaces it.
        let topic = r.topic_name("topic name", v5)?;
        let qos_pid = match (first >> 1) & 0x03 {
            0 => QosPid::AtMostOnce,
            1 => QosPid::AtLeastOnce(r.packet_id(PacketType::Publish)?),
            2 => QosPid::ExactlyOnce(r.packet_id(PacketType::Publish)?),
            // Refused with the first byte; kept total.
            _ => {
                return Err(DecodeError::InvalidQoS {
                    field: "publish flags",
                });
            }
        };
        let properties = if v5 {
            PublishProperties::decode(&mut r)?
        } else {
            PublishProperties::default()
        };
        // 5.0 section 3.3.2.1: an empty topic without a Topic Alias is a Protocol Error.
        if topic.is_empty() && properties.topic_alias.is_none() {
            return Err(DecodeError::InvalidTopicName {
                field: "topic name",
                error: TopicError::Empty,
            });
        }
        // [MQTT-3.3.4-6]
        if sender == Sender::Client && !properties.subscription_identifiers.is_empty() {
            return Err(DecodeError::WrongDirection {
                what: "a subscription identifier in a client PUBLISH",
            });
        }
        let payload_start = r.position();
        // The payload is the rest of the frame: reuse the frame's handle instead of
        // slicing a new one.
        frame.advance(payload_start);
        Ok(Publish {
            dup: first & 0x08 != 0,
            qos_pid,
            retain: first & 0x01 != 0,
            topic,
            properties,
            payload: frame,
        })
    }
}

impl Body for Publish {
    #[inline]
    fn first_byte(&self) -> u8 {
        (PacketType::Publish as u8) << 4
            | u8::from(self.dup) << 3
            | self.qos().value() << 1
            | u8::from(self.retain)
    }

    #[inline]
    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        // [MQTT-3.3.1-2]
        if self.dup && self.qos_pid == QosPid::AtMostOnce {
            return Err(EncodeError::InvalidPacket {
                reason: "dup set on a qos 0 publish",
            });
        }
        if version.is_v5() {
            self.properties.check()?;
            if self.topic.is_empty() && self.properties.topic_alias.is_none() {
                return Err(EncodeError::InvalidPacket {
                    reason: "empty topic name without a topic alias",
                });
            }
        } else {
            if self.topic.is_empty() {
                return Err(EncodeError::InvalidPacket {
                    reason: "empty topic name",
                });
            }
            if !self.properties.is_empty() {
                return Err(EncodeError::NotInVersion {
                    what: "publish properties",
                });
            }
        }
        Ok(())
    }

    #[inline]
    fn emit<S: Sink>(&self, version: ProtocolVersion, s: &mut S) {
        s.put_prefixed(self.topic.as_bytes());
        if let Some(id) = self.packet_id() {
            s.put_u16(id.get());
        }
        if version.is_v5() {
            s.put_properties(&self.properties);
        }
    }

    #[inline]
    fn payload(&self) -> Option<&Bytes> {
        Some(&self.payload)
    }
}
