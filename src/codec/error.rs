//! Decode and encode errors.

use super::{PacketType, PropertyId, ReasonCode};
use crate::topic::TopicError;

/// Why received bytes are not an acceptable MQTT packet.
///
/// Every variant is a fault of the peer. [`DecodeError::reason_code`] gives the MQTT 5
/// reason code to close the connection with: 0x81 (malformed packet), 0x82 (protocol
/// error), 0x84 (unsupported protocol version, answered with CONNACK) or 0x95 (packet too
/// large). After an error the byte stream has no recovery point: close the connection.
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_sansio::{Decoder, DecodeError, ProtocolVersion, ReasonCode};
///
/// let mut decoder = Decoder::new(ProtocolVersion::V5);
/// // PUBLISH whose topic name "+" holds a wildcard.
/// let mut buf = BytesMut::from(&b"\x30\x05\x00\x01+\x00\x70"[..]);
/// let err = decoder.decode(&mut buf).unwrap_err();
/// assert!(matches!(err, DecodeError::InvalidTopicName { .. }));
/// assert_eq!(err.reason_code(), ReasonCode::ProtocolError);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The packet type is 0, or 15 in MQTT 3.1.1.
    #[error("reserved packet type {0}")]
    ReservedPacketType(u8),
    /// The flag bits of the fixed header are not the ones the packet type requires.
    #[error("invalid fixed header flags {flags:#06b} for {packet}")]
    InvalidHeaderFlags {
        /// The packet type.
        packet: PacketType,
        /// The low four bits of the first byte.
        flags: u8,
    },
    /// A Variable Byte Integer is longer than four bytes or not in its shortest form.
    #[error("malformed variable byte integer in {field}")]
    MalformedVarInt {
        /// The field being read.
        field: &'static str,
    },
    /// The packet is larger than the maximum packet size.
    #[error("packet of {size} bytes exceeds the maximum of {max}")]
    PacketTooLarge {
        /// Size of the whole packet, fixed header included.
        size: usize,
        /// The maximum in force.
        max: u32,
    },
    /// A packet with a fixed layout has the wrong Remaining Length.
    #[error("remaining length {len} is invalid for {packet}")]
    InvalidRemainingLength {
        /// The packet type.
        packet: PacketType,
        /// The Remaining Length received.
        len: u32,
    },
    /// A field runs past the end of the packet or of its property block.
    #[error("{field} runs past the end of the packet")]
    UnexpectedEnd {
        /// The field being read.
        field: &'static str,
    },
    /// Bytes are left over after the last field of the packet.
    #[error("{len} unexpected bytes at the end of {packet}")]
    TrailingBytes {
        /// The packet type.
        packet: PacketType,
        /// How many bytes are left over.
        len: usize,
    },
    /// A string is not well-formed UTF-8 or encodes a surrogate.
    #[error("{field} is not well-formed utf-8")]
    InvalidUtf8 {
        /// The field holding the string.
        field: &'static str,
    },
    /// A string contains U+0000.
    #[error("{field} contains U+0000")]
    NullCharacter {
        /// The field holding the string.
        field: &'static str,
    },
    /// The CONNECT protocol name is not "MQTT".
    #[error("invalid protocol name")]
    InvalidProtocolName,
    /// The CONNECT protocol level is not 4 (3.1.1) or 5 (5.0).
    #[error("unsupported protocol level {0}")]
    UnsupportedProtocolVersion(u8),
    /// A reserved bit is set.
    #[error("reserved bits set in {field}")]
    ReservedBitsSet {
        /// The field holding the bits.
        field: &'static str,
    },
    /// A QoS field holds 3.
    #[error("qos 3 in {field}")]
    InvalidQoS {
        /// The field holding the QoS.
        field: &'static str,
    },
    /// The CONNECT flags contradict each other.
    #[error("invalid connect flags: {reason}")]
    InvalidConnectFlags {
        /// Which rule is broken.
        reason: &'static str,
    },
    /// A QoS 0 PUBLISH has the DUP flag set.
    #[error("dup flag set on a qos 0 publish")]
    DupWithQoS0,
    /// A packet identifier is 0.
    #[error("packet identifier 0 in {packet}")]
    ZeroPacketId {
        /// The packet type.
        packet: PacketType,
    },
    /// A topic name (PUBLISH, Will or Response Topic) breaks the topic rules.
    #[error("invalid {field}: {error}")]
    InvalidTopicName {
        /// The field holding the topic.
        field: &'static str,
        /// The rule broken.
        error: TopicError,
    },
    /// A topic filter breaks the topic filter rules.
    #[error("invalid topic filter: {0}")]
    InvalidTopicFilter(TopicError),
    /// A SUBSCRIBE, UNSUBSCRIBE, SUBACK or UNSUBACK has an empty payload.
    #[error("{packet} has an empty payload")]
    EmptyPayload {
        /// The packet type.
        packet: PacketType,
    },
    /// A reason code is not one the packet type may carry.
    #[error("reason code {code:#04x} is not valid in {packet}")]
    InvalidReasonCode {
        /// The packet type.
        packet: PacketType,
        /// The value received.
        code: u8,
    },
    /// An MQTT 3.1.1 CONNACK return code above 5.
    #[error("reserved connack return code {0:#04x}")]
    ReservedReturnCode(u8),
    /// A CONNACK refuses the connection yet says a session is present.
    #[error("session present set on a refused connection")]
    SessionPresentOnRefusal,
    /// MQTT 5 subscription options hold QoS 3, retain handling 3, or No Local on a
    /// shared subscription.
    #[error("invalid subscription options: {reason}")]
    InvalidSubscriptionOptions {
        /// Which rule is broken.
        reason: &'static str,
    },
    /// A property identifier that MQTT 5 does not define.
    #[error("unknown property identifier {0:#04x}")]
    UnknownProperty(u8),
    /// A property that this packet type may not carry.
    #[error("{property:?} is not allowed in {packet}")]
    PropertyNotAllowed {
        /// The property.
        property: PropertyId,
        /// The packet type.
        packet: PacketType,
    },
    /// A property that may appear once appears again.
    #[error("{0:?} appears more than once")]
    DuplicateProperty(PropertyId),
    /// A property holds a value the spec forbids (0 where 0 is not allowed, a flag other
    /// than 0 or 1).
    #[error("invalid value for {property:?}: {reason}")]
    InvalidPropertyValue {
        /// The property.
        property: PropertyId,
        /// Which rule is broken.
        reason: &'static str,
    },
    /// Authentication Data without an Authentication Method, or an AUTH continuing an
    /// exchange without naming the method.
    #[error("missing authentication method")]
    MissingAuthenticationMethod,
    /// The peer sent something only the other role may send.
    #[error("{what} is not allowed from this peer")]
    WrongDirection {
        /// What was received.
        what: &'static str,
    },
    /// A server-side decoder received another packet before CONNECT.
    #[error("expected CONNECT, received {0}")]
    ExpectedConnect(PacketType),
}

impl DecodeError {
    /// The MQTT 5 reason code that answers this fault: in a DISCONNECT, or in the CONNACK
    /// when the fault is in a CONNECT.
    pub fn reason_code(&self) -> ReasonCode {
        use DecodeError::*;
        match self {
            PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            UnsupportedProtocolVersion(_) => ReasonCode::UnsupportedProtocolVersion,
            InvalidProtocolName
            | DupWithQoS0
            | ZeroPacketId { .. }
            | InvalidTopicName { .. }
            | InvalidTopicFilter(_)
            | EmptyPayload { .. }
            | ReservedReturnCode(_)
            | SessionPresentOnRefusal
            | InvalidSubscriptionOptions { .. }
            | DuplicateProperty(_)
            | InvalidPropertyValue { .. }
            | MissingAuthenticationMethod
            | WrongDirection { .. }
            | ExpectedConnect(_) => ReasonCode::ProtocolError,
            ReservedPacketType(_)
            | InvalidHeaderFlags { .. }
            | MalformedVarInt { .. }
            | InvalidRemainingLength { .. }
            | UnexpectedEnd { .. }
            | TrailingBytes { .. }
            | InvalidUtf8 { .. }
            | NullCharacter { .. }
            | ReservedBitsSet { .. }
            | InvalidQoS { .. }
            | InvalidConnectFlags { .. }
            | InvalidReasonCode { .. }
            | UnknownProperty(_)
            | PropertyNotAllowed { .. } => ReasonCode::MalformedPacket,
        }
    }
}

/// Why a packet cannot be encoded. Every variant is a fault of the caller.
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_sansio::{Auth, EncodeError, Packet, ProtocolVersion};
///
/// let mut buf = BytesMut::new();
/// let err = Packet::Auth(Auth::default())
///     .encode(ProtocolVersion::V311, &mut buf)
///     .unwrap_err();
/// assert!(matches!(err, EncodeError::NotInVersion { .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The Remaining Length would exceed 268,435,455 bytes.
    #[error("packet body of {size} bytes exceeds the protocol maximum")]
    PacketTooLarge {
        /// The Remaining Length the packet would need.
        size: usize,
    },
    /// A binary field is longer than 65,535 bytes.
    #[error("{field} is longer than 65535 bytes")]
    FieldTooLong {
        /// The field.
        field: &'static str,
    },
    /// The packet uses something that does not exist in MQTT 3.1.1.
    #[error("{what} does not exist in mqtt 3.1.1")]
    NotInVersion {
        /// What the packet uses.
        what: &'static str,
    },
    /// The output buffer cannot grow to hold the packet.
    #[error("buffer too small: {needed} bytes needed, {available} available")]
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes the buffer can take.
        available: usize,
    },
    /// The packet breaks a rule of the protocol that its types cannot express.
    #[error("invalid packet: {reason}")]
    InvalidPacket {
        /// Which rule is broken.
        reason: &'static str,
    },
}
