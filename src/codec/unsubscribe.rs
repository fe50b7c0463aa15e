//! UNSUBSCRIBE (3.1.1 section 3.10, 5.0 section 3.10).

use super::primitives::{Reader, Sink};
use super::properties::{self, PropertyBox, UnsubscribeProperties};
use super::subscribe::read_filter;
use super::{Body, DecodeError, EncodeError, PacketType};
use crate::topic::TopicFilter;
use crate::types::{PacketId, ProtocolVersion};
use alloc::vec::Vec;
use bytes::Bytes;

/// UNSUBSCRIBE: a client removes subscriptions.
///
/// ```
/// use mqtt_sansio::{PacketId, TopicFilter, Unsubscribe};
/// let unsub = Unsubscribe::new(PacketId::new(2).unwrap(), vec![TopicFilter::from_static("a/+").unwrap()]);
/// assert_eq!(unsub.filters[0].as_str(), "a/+");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsubscribe {
    /// The packet identifier.
    pub packet_id: PacketId,
    /// MQTT 5 properties.
    pub properties: PropertyBox<UnsubscribeProperties>,
    /// The filters to remove, at least one.
    pub filters: Vec<TopicFilter>,
}

impl Unsubscribe {
    /// An UNSUBSCRIBE without properties.
    pub fn new(packet_id: PacketId, filters: Vec<TopicFilter>) -> Self {
        Unsubscribe {
            packet_id,
            properties: PropertyBox::new(),
            filters,
        }
    }

    pub(crate) fn decode(frame: &Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let mut r = Reader::new(frame);
        let packet_id = r.packet_id(PacketType::Unsubscribe)?;
        let properties = if version.is_v5() {
            properties::decode::<UnsubscribeProperties>(&mut r, PacketType::Unsubscribe)?
        } else {
            PropertyBox::new()
        };
        let mut filters = Vec::with_capacity(r.count_prefixed(0));
        while !r.is_empty() {
            // [MQTT-3.10.3-1]
            filters.push(read_filter(&mut r, version)?);
        }
        // [MQTT-3.10.3-2]
        if filters.is_empty() {
            return Err(DecodeError::EmptyPayload {
                packet: PacketType::Unsubscribe,
            });
        }
        Ok(Unsubscribe {
            packet_id,
            properties,
            filters,
        })
    }
}

impl Body for Unsubscribe {
    fn first_byte(&self) -> u8 {
        (PacketType::Unsubscribe as u8) << 4 | PacketType::Unsubscribe.fixed_flags()
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::InvalidPacket {
                reason: "unsubscribe without topic filters",
            });
        }
        if !version.is_v5() && !self.properties.user_properties.is_empty() {
            return Err(EncodeError::NotInVersion {
                what: "unsubscribe properties",
            });
        }
        Ok(())
    }

    fn emit<S: Sink>(&self, version: ProtocolVersion, s: &mut S) {
        s.put_u16(self.packet_id.get());
        if version.is_v5() {
            s.put_properties(&*self.properties);
        }
        for filter in &self.filters {
            s.put_prefixed(filter.as_bytes());
        }
    }
}
