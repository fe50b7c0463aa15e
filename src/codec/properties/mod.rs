//! MQTT 5 properties: one struct per packet type (each holding exactly the properties
//! the spec allows there), the shared decoding loop, and the zero-copy user property
//! list.

mod sets;
mod user;

pub use sets::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PublishProperties, SubscribeProperties, UnsubscribeProperties, WillProperties,
};
pub use user::{SubscriptionIds, UserProperties};

use super::primitives::{Counter, Reader, Sink};
use super::{DecodeError, EncodeError, PacketType};
use crate::string::MqttString;
use crate::topic::TopicName;
use crate::types::SubscriptionId;
use alloc::boxed::Box;
use bytes::Bytes;
use core::num::{NonZeroU16, NonZeroU32};

/// The identifier of an MQTT 5 property (section 2.2.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PropertyId {
    /// 0x01, byte: whether the payload is UTF-8.
    PayloadFormatIndicator = 0x01,
    /// 0x02, four-byte integer: message lifetime in seconds.
    MessageExpiryInterval = 0x02,
    /// 0x03, string: MIME type of the payload.
    ContentType = 0x03,
    /// 0x08, string: topic for a response.
    ResponseTopic = 0x08,
    /// 0x09, binary: correlates a response with its request.
    CorrelationData = 0x09,
    /// 0x0B, variable byte integer: identifier of a subscription.
    SubscriptionIdentifier = 0x0B,
    /// 0x11, four-byte integer: session lifetime in seconds after disconnect.
    SessionExpiryInterval = 0x11,
    /// 0x12, string: client identifier the server assigned.
    AssignedClientIdentifier = 0x12,
    /// 0x13, two-byte integer: keep alive the server imposes.
    ServerKeepAlive = 0x13,
    /// 0x15, string: enhanced authentication method.
    AuthenticationMethod = 0x15,
    /// 0x16, binary: enhanced authentication data.
    AuthenticationData = 0x16,
    /// 0x17, byte: whether reason strings and user properties may be sent on failures.
    RequestProblemInformation = 0x17,
    /// 0x18, four-byte integer: delay before the Will is published.
    WillDelayInterval = 0x18,
    /// 0x19, byte: whether the server should return Response Information.
    RequestResponseInformation = 0x19,
    /// 0x1A, string: basis for response topics.
    ResponseInformation = 0x1A,
    /// 0x1C, string: another server to use.
    ServerReference = 0x1C,
    /// 0x1F, string: human-readable diagnostic.
    ReasonString = 0x1F,
    /// 0x21, two-byte integer: QoS 1/2 messages the sender accepts in flight.
    ReceiveMaximum = 0x21,
    /// 0x22, two-byte integer: highest topic alias the sender accepts.
    TopicAliasMaximum = 0x22,
    /// 0x23, two-byte integer: a topic alias.
    TopicAlias = 0x23,
    /// 0x24, byte: highest QoS the server supports.
    MaximumQoS = 0x24,
    /// 0x25, byte: whether the server supports retained messages.
    RetainAvailable = 0x25,
    /// 0x26, string pair: an application-defined name and value.
    UserProperty = 0x26,
    /// 0x27, four-byte integer: largest packet the sender accepts.
    MaximumPacketSize = 0x27,
    /// 0x28, byte: whether the server supports wildcard subscriptions.
    WildcardSubscriptionAvailable = 0x28,
    /// 0x29, byte: whether the server supports subscription identifiers.
    SubscriptionIdentifierAvailable = 0x29,
    /// 0x2A, byte: whether the server supports shared subscriptions.
    SharedSubscriptionAvailable = 0x2A,
}

/// How a property's value is laid out on the wire.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    Byte,
    TwoBytes,
    FourBytes,
    VarInt,
    Prefixed,
    Pair,
}

impl PropertyId {
    /// The property for an identifier byte.
    pub const fn from_byte(byte: u8) -> Option<Self> {
        use PropertyId::*;
        Some(match byte {
            0x01 => PayloadFormatIndicator,
            0x02 => MessageExpiryInterval,
            0x03 => ContentType,
            0x08 => ResponseTopic,
            0x09 => CorrelationData,
            0x0B => SubscriptionIdentifier,
            0x11 => SessionExpiryInterval,
            0x12 => AssignedClientIdentifier,
            0x13 => ServerKeepAlive,
            0x15 => AuthenticationMethod,
            0x16 => AuthenticationData,
            0x17 => RequestProblemInformation,
            0x18 => WillDelayInterval,
            0x19 => RequestResponseInformation,
            0x1A => ResponseInformation,
            0x1C => ServerReference,
            0x1F => ReasonString,
            0x21 => ReceiveMaximum,
            0x22 => TopicAliasMaximum,
            0x23 => TopicAlias,
            0x24 => MaximumQoS,
            0x25 => RetainAvailable,
            0x26 => UserProperty,
            0x27 => MaximumPacketSize,
            0x28 => WildcardSubscriptionAvailable,
            0x29 => SubscriptionIdentifierAvailable,
            0x2A => SharedSubscriptionAvailable,
            _ => return None,
        })
    }

    /// The name used in error messages.
    const fn field(self) -> &'static str {
        use PropertyId::*;
        match self {
            PayloadFormatIndicator => "payload format indicator",
            MessageExpiryInterval => "message expiry interval",
            ContentType => "content type",
            ResponseTopic => "response topic",
            CorrelationData => "correlation data",
            SubscriptionIdentifier => "subscription identifier",
            SessionExpiryInterval => "session expiry interval",
            AssignedClientIdentifier => "assigned client identifier",
            ServerKeepAlive => "server keep alive",
            AuthenticationMethod => "authentication method",
            AuthenticationData => "authentication data",
            RequestProblemInformation => "request problem information",
            WillDelayInterval => "will delay interval",
            RequestResponseInformation => "request response information",
            ResponseInformation => "response information",
            ServerReference => "server reference",
            ReasonString => "reason string",
            ReceiveMaximum => "receive maximum",
            TopicAliasMaximum => "topic alias maximum",
            TopicAlias => "topic alias",
            MaximumQoS => "maximum qos",
            RetainAvailable => "retain available",
            UserProperty => "user property",
            MaximumPacketSize => "maximum packet size",
            WildcardSubscriptionAvailable => "wildcard subscription available",
            SubscriptionIdentifierAvailable => "subscription identifier available",
            SharedSubscriptionAvailable => "shared subscription available",
        }
    }

    pub(crate) const fn kind(self) -> ValueKind {
        use PropertyId::*;
        match self {
            PayloadFormatIndicator
            | RequestProblemInformation
            | RequestResponseInformation
            | MaximumQoS
            | RetainAvailable
            | WildcardSubscriptionAvailable
            | SubscriptionIdentifierAvailable
            | SharedSubscriptionAvailable => ValueKind::Byte,
            ServerKeepAlive | ReceiveMaximum | TopicAliasMaximum | TopicAlias => {
                ValueKind::TwoBytes
            }
            MessageExpiryInterval
            | SessionExpiryInterval
            | WillDelayInterval
            | MaximumPacketSize => ValueKind::FourBytes,
            SubscriptionIdentifier => ValueKind::VarInt,
            ContentType
            | ResponseTopic
            | CorrelationData
            | AssignedClientIdentifier
            | AuthenticationMethod
            | AuthenticationData
            | ResponseInformation
            | ServerReference
            | ReasonString => ValueKind::Prefixed,
            UserProperty => ValueKind::Pair,
        }
    }
}

pub(crate) mod private {
    /// Keeps [`super::PropertySet`] implemented only by this crate's property sets.
    pub trait Sealed {}
}

/// A set of MQTT 5 properties: the properties one packet type may carry.
///
/// Implemented by [`PublishProperties`], [`ConnectProperties`] and the other sets of
/// this crate only.
pub trait PropertySet: private::Sealed + Default + 'static {
    /// The empty set, shared.
    fn empty() -> &'static Self;
    /// True when no property is set.
    fn is_empty(&self) -> bool;
}

/// The wire side of a property set.
pub(crate) trait WireProperties: PropertySet {
    /// Emits the set in ascending identifier order, the canonical form.
    fn emit<S: Sink>(&self, s: &mut S);

    /// Reads the value of property `id`, refusing properties the set cannot hold and
    /// repeats of those that may appear once.
    fn read(&mut self, id: PropertyId, props: &mut PropertyReader<'_>) -> Result<(), DecodeError>;

    fn set_user_properties(&mut self, up: UserProperties);

    /// Rules that involve more than one property.
    fn validate(&self) -> Result<(), DecodeError> {
        Ok(())
    }

    /// What the types cannot refuse before encoding.
    fn check(&self) -> Result<(), EncodeError> {
        Ok(())
    }

    fn wire_len(&self) -> usize {
        let mut c = Counter::default();
        self.emit(&mut c);
        c.0
    }
}

/// The MQTT 5 properties of a packet, stored out of line and allocated only when a
/// property is set: most packets carry none, and a packet that does not embed them is
/// small and cheap to move.
///
/// Read and write the properties through `Deref`; reading an empty box gives the shared
/// empty set, writing allocates.
///
/// ```
/// use bytes::Bytes;
/// use mqtt_sansio::{Publish, TopicName};
///
/// let mut p = Publish::new(TopicName::from_static("t").unwrap(), Bytes::new());
/// assert!(p.properties.is_empty());
/// assert_eq!(p.properties.message_expiry_interval, None);
/// p.properties.message_expiry_interval = Some(60);
/// assert!(!p.properties.is_empty());
/// ```
#[derive(Clone)]
pub struct PropertyBox<T>(Option<Box<T>>);

impl<T> Default for PropertyBox<T> {
    fn default() -> Self {
        PropertyBox(None)
    }
}

impl<T: PropertySet> PropertyBox<T> {
    /// An empty box.
    pub const fn new() -> Self {
        PropertyBox(None)
    }

    /// True when no property is set.
    pub fn is_empty(&self) -> bool {
        self.0.as_deref().is_none_or(T::is_empty)
    }

    /// The properties, leaving the box empty.
    pub fn take(&mut self) -> T {
        self.0.take().map(|b| *b).unwrap_or_default()
    }
}

impl<T: PropertySet> core::ops::Deref for PropertyBox<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        match &self.0 {
            Some(set) => set,
            None => T::empty(),
        }
    }
}

impl<T: PropertySet> core::ops::DerefMut for PropertyBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<T: PropertySet> From<T> for PropertyBox<T> {
    fn from(set: T) -> Self {
        if set.is_empty() {
            PropertyBox(None)
        } else {
            PropertyBox(Some(Box::new(set)))
        }
    }
}

impl<T: PropertySet + PartialEq> PartialEq for PropertyBox<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: PropertySet + Eq> Eq for PropertyBox<T> {}

impl<T: PropertySet + core::fmt::Debug> core::fmt::Debug for PropertyBox<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&**self, f)
    }
}

/// Reads a property block into a box, allocating only when the block is not empty.
#[inline]
pub(crate) fn decode<T: WireProperties>(
    r: &mut Reader<'_>,
    packet: PacketType,
) -> Result<PropertyBox<T>, DecodeError> {
    let mut props = PropertyReader::new(r, packet)?;
    if props.r.is_empty() {
        return Ok(PropertyBox(None));
    }
    let mut set = Box::<T>::default();
    while let Some(id) = props.next()? {
        set.read(id, &mut props)?;
    }
    set.set_user_properties(props.finish());
    set.validate()?;
    Ok(PropertyBox(Some(set)))
}

/// Reads the properties of one block, handling User Properties itself so that every
/// packet type gets them without copying.
pub(crate) struct PropertyReader<'a> {
    r: Reader<'a>,
    packet: PacketType,
    start: usize,
    user_count: usize,
    /// Where the first User Property starts and the last one ends.
    user_span: (usize, usize),
    /// The bytes the User Properties take: the span's length exactly when nothing
    /// else lies between them.
    user_len: usize,
}

impl<'a> PropertyReader<'a> {
    /// Reads the Property Length and bounds the reader to the block it announces.
    #[inline]
    pub(crate) fn new(r: &mut Reader<'a>, packet: PacketType) -> Result<Self, DecodeError> {
        let len = r.varint("property length")?;
        let r = r.sub(len as usize, "properties")?;
        let start = r.position();
        Ok(PropertyReader {
            r,
            packet,
            start,
            user_count: 0,
            user_span: (start, start),
            user_len: 0,
        })
    }

    /// The next property other than a User Property.
    #[inline]
    pub(crate) fn next(&mut self) -> Result<Option<PropertyId>, DecodeError> {
        while !self.r.is_empty() {
            // Identifiers are Variable Byte Integers, but all defined ones fit in one
            // byte; a longer form is either an unknown identifier or not minimal, and
            // both are malformed.
            let at = self.r.position();
            let byte = self.r.u8("property identifier")?;
            let Some(id) = PropertyId::from_byte(byte) else {
                return Err(DecodeError::UnknownProperty(byte));
            };
            if id != PropertyId::UserProperty {
                return Ok(Some(id));
            }
            // [MQTT-1.5.7-1]: name and value both follow the string rules.
            self.r.str_slice("user property name")?;
            self.r.str_slice("user property value")?;
            if self.user_count == 0 {
                self.user_span.0 = at;
            }
            self.user_span.1 = self.r.position();
            self.user_len += self.user_span.1 - at;
            self.user_count += 1;
        }
        Ok(None)
    }

    /// The User Properties seen, as a view of the block: of their own run when nothing
    /// lies between them (the canonical order keeps them together), so re-encoding
    /// them is one copy; of the whole block otherwise.
    #[inline]
    pub(crate) fn finish(self) -> UserProperties {
        if self.user_count == 0 {
            return UserProperties::new();
        }
        let (start, end) = self.user_span;
        let one_run = end - start == self.user_len;
        let (start, end) = if one_run {
            (start, end)
        } else {
            (self.start, self.r.position())
        };
        UserProperties::from_wire(self.r.slice_between(start, end), self.user_count, one_run)
    }

    /// The error for a property this packet type may not carry.
    pub(crate) fn not_allowed(&self, id: PropertyId) -> DecodeError {
        DecodeError::PropertyNotAllowed {
            property: id,
            packet: self.packet,
        }
    }

    #[inline]
    pub(crate) fn byte(&mut self, id: PropertyId) -> Result<u8, DecodeError> {
        self.r.u8(id.field())
    }

    /// A byte property that may only be 0 or 1.
    #[inline]
    pub(crate) fn flag(&mut self, id: PropertyId) -> Result<bool, DecodeError> {
        match self.byte(id)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::InvalidPropertyValue {
                property: id,
                reason: "must be 0 or 1",
            }),
        }
    }

    #[inline]
    pub(crate) fn u16(&mut self, id: PropertyId) -> Result<u16, DecodeError> {
        self.r.u16(id.field())
    }

    #[inline]
    pub(crate) fn nonzero_u16(&mut self, id: PropertyId) -> Result<NonZeroU16, DecodeError> {
        NonZeroU16::new(self.u16(id)?).ok_or(DecodeError::InvalidPropertyValue {
            property: id,
            reason: "must not be 0",
        })
    }

    #[inline]
    pub(crate) fn u32(&mut self, id: PropertyId) -> Result<u32, DecodeError> {
        self.r.u32(id.field())
    }

    pub(crate) fn nonzero_u32(&mut self, id: PropertyId) -> Result<NonZeroU32, DecodeError> {
        NonZeroU32::new(self.u32(id)?).ok_or(DecodeError::InvalidPropertyValue {
            property: id,
            reason: "must not be 0",
        })
    }

    pub(crate) fn subscription_id(&mut self) -> Result<SubscriptionId, DecodeError> {
        let id = PropertyId::SubscriptionIdentifier;
        let value = self.r.varint(id.field())?;
        SubscriptionId::new(value).ok_or(DecodeError::InvalidPropertyValue {
            property: id,
            reason: "must not be 0",
        })
    }

    #[inline]
    pub(crate) fn string(&mut self, id: PropertyId) -> Result<MqttString, DecodeError> {
        self.r.string(id.field())
    }

    pub(crate) fn binary(&mut self, id: PropertyId) -> Result<Bytes, DecodeError> {
        self.r.binary(id.field())
    }

    pub(crate) fn topic_name(&mut self, id: PropertyId) -> Result<TopicName, DecodeError> {
        self.r.topic_name(id.field(), false)
    }

    pub(crate) fn payload_format(&mut self) -> Result<PayloadFormat, DecodeError> {
        let id = PropertyId::PayloadFormatIndicator;
        Ok(if self.flag(id)? {
            PayloadFormat::Utf8
        } else {
            PayloadFormat::Unspecified
        })
    }
}

/// Stores `value` in `slot`, refusing a second occurrence of the property.
#[inline]
pub(crate) fn set_once<T>(
    slot: &mut Option<T>,
    id: PropertyId,
    value: T,
) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::DuplicateProperty(id));
    }
    *slot = Some(value);
    Ok(())
}

/// Fails when a binary property is too long for its two-byte length.
pub(crate) fn check_binary(value: Option<&Bytes>, field: &'static str) -> Result<(), EncodeError> {
    match value {
        Some(b) if b.len() > crate::string::MAX_STRING_LEN => {
            Err(EncodeError::FieldTooLong { field })
        }
        _ => Ok(()),
    }
}

/// The meaning of the payload bytes (Payload Format Indicator).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PayloadFormat {
    /// Unspecified bytes (value 0).
    #[default]
    Unspecified = 0,
    /// UTF-8 encoded character data (value 1).
    Utf8 = 1,
}
