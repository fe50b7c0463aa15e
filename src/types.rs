//! Small value types shared by every layer: protocol version, QoS, packet identifiers,
//! subscription identifiers and subscription options.

use core::fmt;
use core::num::{NonZeroU16, NonZeroU32};

/// The version of the MQTT protocol spoken on a connection.
///
/// ```
/// use mqtt_sansio::ProtocolVersion;
/// assert_eq!(ProtocolVersion::V5.level(), 5);
/// assert_eq!(ProtocolVersion::from_level(4), Some(ProtocolVersion::V311));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// MQTT 3.1.1 (protocol level 4).
    V311,
    /// MQTT 5.0 (protocol level 5).
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte written in CONNECT.
    pub const fn level(self) -> u8 {
        match self {
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        }
    }

    /// The version for a CONNECT protocol level, if this crate speaks it.
    pub const fn from_level(level: u8) -> Option<Self> {
        match level {
            4 => Some(ProtocolVersion::V311),
            5 => Some(ProtocolVersion::V5),
            _ => None,
        }
    }

    /// True for MQTT 5.0.
    pub const fn is_v5(self) -> bool {
        matches!(self, ProtocolVersion::V5)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtocolVersion::V311 => "MQTT 3.1.1",
            ProtocolVersion::V5 => "MQTT 5.0",
        })
    }
}

/// Quality of service of a message or a subscription.
///
/// Ordered, so the effective QoS of a delivery is `published.min(granted)`.
///
/// ```
/// use mqtt_sansio::QoS;
/// assert_eq!(QoS::ExactlyOnce.min(QoS::AtLeastOnce), QoS::AtLeastOnce);
/// assert_eq!(QoS::try_from(3), Err(3));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum QoS {
    /// QoS 0: fire and forget.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: acknowledged with PUBACK, may arrive more than once.
    AtLeastOnce = 1,
    /// QoS 2: the four-packet flow that delivers exactly once.
    ExactlyOnce = 2,
}

impl QoS {
    /// The numeric value, 0 to 2.
    pub const fn value(self) -> u8 {
        self as u8
    }

    pub(crate) const fn from_bits(bits: u8) -> Option<QoS> {
        match bits {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

impl TryFrom<u8> for QoS {
    /// The rejected value.
    type Error = u8;

    fn try_from(value: u8) -> Result<Self, u8> {
        QoS::from_bits(value).ok_or(value)
    }
}

/// A packet identifier: never zero ([MQTT-2.3.1-1], [MQTT-2.2.1-3]).
///
/// ```
/// use mqtt_sansio::PacketId;
/// assert!(PacketId::new(0).is_none());
/// assert_eq!(PacketId::new(7).unwrap().get(), 7);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketId(NonZeroU16);

impl PacketId {
    /// The smallest identifier, 1.
    pub const MIN: PacketId = PacketId(NonZeroU16::MIN);
    /// The largest identifier, 65,535.
    pub const MAX: PacketId = PacketId(NonZeroU16::MAX);

    /// An identifier, or `None` for 0.
    pub const fn new(value: u16) -> Option<Self> {
        match NonZeroU16::new(value) {
            Some(v) => Some(PacketId(v)),
            None => None,
        }
    }

    /// The numeric value, 1 to 65,535.
    pub const fn get(self) -> u16 {
        self.0.get()
    }
}

impl From<PacketId> for u16 {
    fn from(id: PacketId) -> u16 {
        id.get()
    }
}

impl fmt::Display for PacketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The QoS of a PUBLISH together with its packet identifier, which exists exactly when
/// the QoS is above 0 ([MQTT-2.3.1-5], [MQTT-2.2.1-2]).
///
/// ```
/// use mqtt_sansio::{PacketId, QoS, QosPid};
/// let q = QosPid::AtLeastOnce(PacketId::new(9).unwrap());
/// assert_eq!(q.qos(), QoS::AtLeastOnce);
/// assert_eq!(q.packet_id().map(PacketId::get), Some(9));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum QosPid {
    /// QoS 0: no packet identifier.
    #[default]
    AtMostOnce,
    /// QoS 1 with its packet identifier.
    AtLeastOnce(PacketId),
    /// QoS 2 with its packet identifier.
    ExactlyOnce(PacketId),
}

impl QosPid {
    /// Pairs a QoS with an identifier; `None` when QoS 0 is given an identifier or a
    /// higher QoS is given none.
    pub const fn new(qos: QoS, packet_id: Option<PacketId>) -> Option<Self> {
        match (qos, packet_id) {
            (QoS::AtMostOnce, None) => Some(QosPid::AtMostOnce),
            (QoS::AtLeastOnce, Some(id)) => Some(QosPid::AtLeastOnce(id)),
            (QoS::ExactlyOnce, Some(id)) => Some(QosPid::ExactlyOnce(id)),
            _ => None,
        }
    }

    /// The QoS level.
    pub const fn qos(self) -> QoS {
        match self {
            QosPid::AtMostOnce => QoS::AtMostOnce,
            QosPid::AtLeastOnce(_) => QoS::AtLeastOnce,
            QosPid::ExactlyOnce(_) => QoS::ExactlyOnce,
        }
    }

    /// The packet identifier, absent at QoS 0.
    pub const fn packet_id(self) -> Option<PacketId> {
        match self {
            QosPid::AtMostOnce => None,
            QosPid::AtLeastOnce(id) | QosPid::ExactlyOnce(id) => Some(id),
        }
    }
}

/// A Subscription Identifier (MQTT 5.0): 1 to 268,435,455.
///
/// ```
/// use mqtt_sansio::SubscriptionId;
/// assert!(SubscriptionId::new(0).is_none());
/// assert!(SubscriptionId::new(268_435_456).is_none());
/// assert_eq!(SubscriptionId::new(42).unwrap().get(), 42);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(NonZeroU32);

impl SubscriptionId {
    /// The largest value a Variable Byte Integer holds.
    pub const MAX_VALUE: u32 = 268_435_455;

    /// An identifier, or `None` for 0 or a value above [`SubscriptionId::MAX_VALUE`].
    pub const fn new(value: u32) -> Option<Self> {
        if value > Self::MAX_VALUE {
            return None;
        }
        match NonZeroU32::new(value) {
            Some(v) => Some(SubscriptionId(v)),
            None => None,
        }
    }

    /// The numeric value.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

/// Whether retained messages are sent when a subscription is made (MQTT 5.0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RetainHandling {
    /// Send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// Send retained messages only if the subscription did not exist yet.
    SendAtSubscribeIfNew = 1,
    /// Do not send retained messages at the time of the subscribe.
    DoNotSend = 2,
}

impl RetainHandling {
    pub(crate) const fn from_bits(bits: u8) -> Option<Self> {
        match bits {
            0 => Some(RetainHandling::SendAtSubscribe),
            1 => Some(RetainHandling::SendAtSubscribeIfNew),
            2 => Some(RetainHandling::DoNotSend),
            _ => None,
        }
    }
}

/// The options byte of one SUBSCRIBE entry.
///
/// In MQTT 3.1.1 only `qos` exists; the other fields must keep their defaults there.
///
/// ```
/// use mqtt_sansio::{QoS, SubscriptionOptions};
/// let o = SubscriptionOptions::new(QoS::AtLeastOnce);
/// assert!(!o.no_local);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SubscriptionOptions {
    /// The maximum QoS the subscriber accepts.
    pub qos: QoS,
    /// Do not deliver the client's own publications back to it (5.0).
    pub no_local: bool,
    /// Keep the RETAIN flag of forwarded messages as published (5.0).
    pub retain_as_published: bool,
    /// Whether retained messages are sent on subscribe (5.0).
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with the given QoS and every MQTT 5 option at its default.
    pub const fn new(qos: QoS) -> Self {
        SubscriptionOptions {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::SendAtSubscribe,
        }
    }

    pub(crate) const fn to_byte(self) -> u8 {
        self.qos as u8
            | (self.no_local as u8) << 2
            | (self.retain_as_published as u8) << 3
            | (self.retain_handling as u8) << 4
    }

    pub(crate) const fn is_v311_compatible(self) -> bool {
        !self.no_local
            && !self.retain_as_published
            && matches!(self.retain_handling, RetainHandling::SendAtSubscribe)
    }
}
