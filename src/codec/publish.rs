//! PUBLISH (3.1.1 section 3.3, 5.0 section 3.3).

use super::primitives::{Reader, Sink};
use super::primitives::{packet_id, string_error};
use super::properties::{self, PropertyBox, PublishProperties, WireProperties};
use super::{Body, DecodeError, EncodeError, Packet, PacketType, Sender};
use crate::string::{self, MqttString};
use crate::topic::{TopicError, TopicName};
use crate::types::{PacketId, ProtocolVersion, QoS, QosPid};
use bytes::{Buf, Bytes, BytesMut};

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
    pub properties: PropertyBox<PublishProperties>,
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

    /// Decodes the PUBLISH of `size` bytes at the front of `buf`; `first` is its fixed
    /// header byte, already checked, and its body starts at `header_len`.
    ///
    /// The hot path of every receiver: one handle for the topic and the frame's own
    /// handle reused for the payload, with the checks ordered around the calls into
    /// `bytes` (see below).
    #[inline]
    pub(crate) fn decode(
        buf: &mut BytesMut,
        first: u8,
        header_len: usize,
        size: usize,
        version: ProtocolVersion,
        sender: Sender,
    ) -> Result<Option<Packet>, DecodeError> {
        let v5 = version.is_v5();
        // Cut first and check afterwards, placing the checks between the calls into
        // `bytes` so they hide the stalls of reading back a handle just written (after
        // `split_to` and after `advance`). An error ends the connection, so consuming
        // the packet before refusing it loses nothing.
        let cut = buf.split_to(size);
        let body = &cut[header_len..];
        // [MQTT-3.3.2-1]: the topic comes first and is a UTF-8 string; MQTT 5 allows it
        // to be empty when a Topic Alias replaces it.
        let field = "topic name";
        let [len_hi, len_lo, ..] = *body else {
            return Err(DecodeError::UnexpectedEnd { field });
        };
        let topic_end = 2 + usize::from(u16::from_be_bytes([len_hi, len_lo]));
        if body.len() < topic_end {
            return Err(DecodeError::UnexpectedEnd { field });
        }
        let qos = (first >> 1) & 0x03;
        let mut pos = topic_end;
        let mut id_bytes = [0u8; 2];
        if qos != 0 {
            let Some(&[hi, lo]) = body.get(pos..pos + 2) else {
                return Err(DecodeError::UnexpectedEnd {
                    field: "packet identifier",
                });
            };
            id_bytes = [hi, lo];
            pos += 2;
        }
        let mut frame = cut.freeze();
        let topic_at = header_len + 2;
        let topic = frame.slice(topic_at..topic_at + topic_end - 2);
        // The payload is the rest of the frame: reuse the frame's handle instead of
        // slicing a new one.
        frame.advance(header_len + pos);
        let scanned = string::check(&topic).map_err(|e| string_error(e, field))?;
        // [MQTT-3.3.2-2], [MQTT-4.7.1-1] (3.1.1), [MQTT-4.7.0-1] (5.0): no wildcards.
        if scanned.has_wildcard {
            return Err(DecodeError::InvalidTopicName {
                field,
                error: TopicError::WildcardInName,
            });
        }
        let empty_topic = topic_end == 2;
        // [MQTT-4.7.3-1]: at least one character, unless an MQTT 5 Topic Alias stands in.
        if empty_topic && !v5 {
            return Err(DecodeError::InvalidTopicName {
                field,
                error: TopicError::Empty,
            });
        }
        let qos_pid = match qos {
            0 => QosPid::AtMostOnce,
            qos => {
                let id = packet_id(id_bytes[0], id_bytes[1], PacketType::Publish)?;
                if qos == 1 {
                    QosPid::AtLeastOnce(id)
                } else {
                    QosPid::ExactlyOnce(id)
                }
            }
        };
        let topic = TopicName::from_checked(MqttString::from_checked(topic));
        let properties = if v5 {
            let mut r = Reader::new(&frame);
            let properties = properties::decode::<PublishProperties>(&mut r, PacketType::Publish)?;
            let properties_len = r.position();
            // 5.0 section 3.3.2.1: an empty topic without a Topic Alias is a Protocol Error.
            if empty_topic && properties.topic_alias.is_none() {
                return Err(DecodeError::InvalidTopicName {
                    field,
                    error: TopicError::Empty,
                });
            }
            // [MQTT-3.3.4-6]
            if sender == Sender::Client && !properties.subscription_identifiers.is_empty() {
                return Err(DecodeError::WrongDirection {
                    what: "a subscription identifier in a client PUBLISH",
                });
            }
            frame.advance(properties_len);
            properties
        } else {
            PropertyBox::new()
        };
        let publish = Publish {
            dup: first & 0x08 != 0,
            qos_pid,
            retain: first & 0x01 != 0,
            topic,
            properties,
            payload: frame,
        };
        Ok(Some(Packet::Publish(publish)))
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
            s.put_properties(&*self.properties);
        }
    }

    #[inline]
    fn payload(&self) -> Option<&Bytes> {
        Some(&self.payload)
    }
}
