//! SUBSCRIBE (3.1.1 section 3.8, 5.0 section 3.8).

use super::primitives::{Reader, Sink};
use super::properties::{self, PropertyBox, SubscribeProperties};
use super::{Body, DecodeError, EncodeError, PacketType};
use crate::string::MqttString;
use crate::topic::{self, TopicFilter};
use crate::types::{PacketId, ProtocolVersion, QoS, RetainHandling, SubscriptionOptions};
use alloc::vec::Vec;
use bytes::Bytes;

/// One entry of a SUBSCRIBE: a topic filter and its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// The topic filter.
    pub filter: TopicFilter,
    /// QoS and the MQTT 5 options.
    pub options: SubscriptionOptions,
}

impl Subscription {
    /// A subscription with the given maximum QoS and default MQTT 5 options.
    pub fn new(filter: TopicFilter, qos: QoS) -> Self {
        Subscription {
            filter,
            options: SubscriptionOptions::new(qos),
        }
    }
}

/// SUBSCRIBE: a client asks for messages matching one or more topic filters.
///
/// ```
/// use mqtt_sansio::{PacketId, QoS, Subscribe, Subscription, TopicFilter};
/// let sub = Subscribe::new(
///     PacketId::new(1).unwrap(),
///     vec![Subscription::new(TopicFilter::from_static("sensors/#").unwrap(), QoS::AtLeastOnce)],
/// );
/// assert_eq!(sub.filters.len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribe {
    /// The packet identifier.
    pub packet_id: PacketId,
    /// MQTT 5 properties.
    pub properties: PropertyBox<SubscribeProperties>,
    /// The subscriptions, at least one.
    pub filters: Vec<Subscription>,
}

impl Subscribe {
    /// A SUBSCRIBE without properties.
    pub fn new(packet_id: PacketId, filters: Vec<Subscription>) -> Self {
        Subscribe {
            packet_id,
            properties: PropertyBox::new(),
            filters,
        }
    }

    pub(crate) fn decode(frame: &Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let v5 = version.is_v5();
        let mut r = Reader::new(frame);
        let packet_id = r.packet_id(PacketType::Subscribe)?;
        let properties = if v5 {
            properties::decode::<SubscribeProperties>(&mut r, PacketType::Subscribe)?
        } else {
            PropertyBox::new()
        };
        let mut filters = Vec::with_capacity(r.count_prefixed(1));
        while !r.is_empty() {
            // [MQTT-3.8.3-1]
            let filter = read_filter(&mut r, version)?;
            let byte = r.u8("subscription options")?;
            let options = if v5 {
                decode_options_v5(byte, &filter)?
            } else {
                // [MQTT-3.8.3-4] (3.1.1): reserved bits and QoS 3 are malformed.
                if byte & 0xFC != 0 {
                    return Err(DecodeError::ReservedBitsSet {
                        field: "requested qos",
                    });
                }
                SubscriptionOptions::new(QoS::from_bits(byte).ok_or(DecodeError::InvalidQoS {
                    field: "requested qos",
                })?)
            };
            filters.push(Subscription { filter, options });
        }
        // [MQTT-3.8.3-3] (3.1.1) / [MQTT-3.8.3-2] (5.0): at least one filter.
        if filters.is_empty() {
            return Err(DecodeError::EmptyPayload {
                packet: PacketType::Subscribe,
            });
        }
        Ok(Subscribe {
            packet_id,
            properties,
            filters,
        })
    }
}

fn decode_options_v5(byte: u8, filter: &TopicFilter) -> Result<SubscriptionOptions, DecodeError> {
    // [MQTT-3.8.3-5]
    if byte & 0xC0 != 0 {
        return Err(DecodeError::ReservedBitsSet {
            field: "subscription options",
        });
    }
    // 5.0 section 3.8.3.1: QoS 3 and Retain Handling 3 are Protocol Errors.
    let qos = QoS::from_bits(byte & 0x03).ok_or(DecodeError::InvalidSubscriptionOptions {
        reason: "maximum qos 3",
    })?;
    let retain_handling = RetainHandling::from_bits((byte >> 4) & 0x03).ok_or(
        DecodeError::InvalidSubscriptionOptions {
            reason: "retain handling 3",
        },
    )?;
    let no_local = byte & 0x04 != 0;
    // [MQTT-3.8.3-4] (5.0)
    if no_local && filter.is_shared() {
        return Err(DecodeError::InvalidSubscriptionOptions {
            reason: "no local on a shared subscription",
        });
    }
    Ok(SubscriptionOptions {
        qos,
        no_local,
        retain_as_published: byte & 0x08 != 0,
        retain_handling,
    })
}

/// Reads a topic filter of SUBSCRIBE or UNSUBSCRIBE. MQTT 3.1.1 has no shared
/// subscriptions, so there a `$share/` filter is an ordinary one.
pub(crate) fn read_filter(
    r: &mut Reader<'_>,
    version: ProtocolVersion,
) -> Result<TopicFilter, DecodeError> {
    let field = "topic filter";
    let (raw, _) = r.string_bytes(field)?;
    topic::check_filter_structure(&raw, version.is_v5())
        .map_err(DecodeError::InvalidTopicFilter)?;
    Ok(TopicFilter::from_checked(MqttString::from_checked(raw)))
}

impl Body for Subscribe {
    fn first_byte(&self) -> u8 {
        (PacketType::Subscribe as u8) << 4 | PacketType::Subscribe.fixed_flags()
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::InvalidPacket {
                reason: "subscribe without topic filters",
            });
        }
        if version.is_v5() {
            if self
                .filters
                .iter()
                .any(|s| s.options.no_local && s.filter.is_shared())
            {
                return Err(EncodeError::InvalidPacket {
                    reason: "no local on a shared subscription",
                });
            }
        } else {
            if !self.properties.is_empty() {
                return Err(EncodeError::NotInVersion {
                    what: "subscribe properties",
                });
            }
            if self.filters.iter().any(|s| !s.options.is_v311_compatible()) {
                return Err(EncodeError::NotInVersion {
                    what: "subscription options other than qos",
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
        for sub in &self.filters {
            s.put_prefixed(sub.filter.as_bytes());
            s.put_u8(sub.options.to_byte());
        }
    }
}
