//! Bytes to packets and back, for all fifteen packet types of MQTT 3.1.1 and 5.0.
//!
//! The codec has no notion of time or connection state beyond the protocol version:
//! [`Decoder::decode`] turns the front of a receive buffer into a [`Packet`], and
//! [`Packet::encode`] writes one. Decoded strings, topics, payloads and binary fields are
//! slices of the receive buffer; nothing is copied.

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod error;
mod fixed_header;
mod primitives;
mod properties;
mod publish;
mod reason;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;
pub(crate) mod varint;

pub use ack::{PubAck, PubComp, PubRec, PubRel};
pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, Will};
pub use disconnect::Disconnect;
pub use error::{DecodeError, EncodeError};
pub use fixed_header::PacketType;
pub use properties::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PayloadFormat, PropertyBox, PropertyId, PropertySet, PublishProperties, SubscribeProperties,
    SubscriptionIds, UnsubscribeProperties, UserProperties, WillProperties,
};
pub use publish::Publish;
pub use reason::{
    AuthReasonCode, ConnectReasonCode, DisconnectReasonCode, PubAckReasonCode, PubCompReasonCode,
    PubRecReasonCode, PubRelReasonCode, ReasonCode, SubAckReasonCode, UnsubAckReasonCode,
};
pub use suback::SubAck;
pub use subscribe::{Subscribe, Subscription};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;
pub use varint::MAX_VARINT as MAX_REMAINING_LENGTH;

use crate::types::ProtocolVersion;
use alloc::boxed::Box;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use primitives::{Counter, Sink, SliceWriter, Writer};

/// The largest packet MQTT can describe: one type byte, a four-byte Remaining Length
/// and 268,435,455 bytes after it.
pub const MAX_PACKET_SIZE: u32 = 1 + 4 + MAX_REMAINING_LENGTH;

/// One MQTT control packet.
///
/// Packet structs are version-neutral: the protocol version is a property of the
/// connection, given to [`Packet::encode`] and held by the [`Decoder`]. Fields that exist
/// only in MQTT 5 (properties, most reason codes) must keep their defaults when a packet
/// is encoded as 3.1.1; [`Packet::encode`] refuses anything 3.1.1 cannot express rather
/// than silently dropping it.
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use mqtt_sansio::{Decoder, Packet, ProtocolVersion, Publish, TopicName};
///
/// let topic = TopicName::from_static("sensors/7").unwrap();
/// let packet = Packet::from(Publish::new(topic, Bytes::from_static(b"21.5")));
///
/// let mut wire = BytesMut::new();
/// packet.encode(ProtocolVersion::V5, &mut wire).unwrap();
/// assert_eq!(wire.len(), packet.encoded_len(ProtocolVersion::V5));
///
/// let decoded = Decoder::new(ProtocolVersion::V5).decode(&mut wire).unwrap();
/// assert_eq!(decoded, Some(packet));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// CONNECT: a client asks to open a session.
    Connect(Box<Connect>),
    /// CONNACK: the server answers CONNECT.
    ConnAck(ConnAck),
    /// PUBLISH: an application message.
    Publish(Publish),
    /// PUBACK: QoS 1 acknowledgement.
    PubAck(PubAck),
    /// PUBREC: QoS 2, part 1.
    PubRec(PubRec),
    /// PUBREL: QoS 2, part 2.
    PubRel(PubRel),
    /// PUBCOMP: QoS 2, part 3.
    PubComp(PubComp),
    /// SUBSCRIBE: a client subscribes.
    Subscribe(Subscribe),
    /// SUBACK: the server answers SUBSCRIBE.
    SubAck(SubAck),
    /// UNSUBSCRIBE: a client unsubscribes.
    Unsubscribe(Unsubscribe),
    /// UNSUBACK: the server answers UNSUBSCRIBE.
    UnsubAck(UnsubAck),
    /// PINGREQ: keep-alive request.
    PingReq,
    /// PINGRESP: keep-alive response.
    PingResp,
    /// DISCONNECT: the connection is about to close.
    Disconnect(Disconnect),
    /// AUTH: a step of enhanced authentication (MQTT 5.0 only).
    Auth(Auth),
}

/// What every packet struct provides to the generic encoder.
pub(crate) trait Body {
    /// The first byte of the fixed header: type and flags.
    fn first_byte(&self) -> u8;
    /// Refuses what the protocol forbids but the types allow.
    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError>;
    /// Everything after the fixed header except [`Body::payload`].
    fn emit<S: Sink>(&self, version: ProtocolVersion, s: &mut S);
    /// A trailing payload the vectored encoder hands out without copying.
    fn payload(&self) -> Option<&Bytes> {
        None
    }
}

/// A packet with no variable header or payload: PINGREQ, PINGRESP.
struct Empty(PacketType);

impl Body for Empty {
    fn first_byte(&self) -> u8 {
        (self.0 as u8) << 4
    }
    fn check(&self, _: ProtocolVersion) -> Result<(), EncodeError> {
        Ok(())
    }
    fn emit<S: Sink>(&self, _: ProtocolVersion, _: &mut S) {}
}

/// Sizes of an encoded packet.
struct Layout {
    /// The Remaining Length.
    remaining: usize,
    /// Bytes up to the payload: fixed header and everything `emit` writes.
    head: usize,
    /// The payload written after the head.
    payload: usize,
}

#[inline]
fn layout<P: Body>(p: &P, version: ProtocolVersion) -> Layout {
    let mut body = Counter::default();
    p.emit(version, &mut body);
    let payload = p.payload().map_or(0, Bytes::len);
    let remaining = body.0 + payload;
    Layout {
        remaining,
        head: 1 + varint::len(remaining.min(MAX_REMAINING_LENGTH as usize) as u32) + body.0,
        payload,
    }
}

/// Writes the fixed header and the body; the payload too unless `vectored`.
#[inline]
fn encode_body<'p, P: Body, B: BufMut>(
    p: &'p P,
    version: ProtocolVersion,
    buf: &mut B,
    vectored: bool,
) -> Result<Option<&'p Bytes>, EncodeError> {
    p.check(version)?;
    let layout = layout(p, version);
    if layout.remaining > MAX_REMAINING_LENGTH as usize {
        return Err(EncodeError::PacketTooLarge {
            size: layout.remaining,
        });
    }
    let needed = layout.head + if vectored { 0 } else { layout.payload };
    if buf.remaining_mut() < needed {
        return Err(EncodeError::BufferTooSmall {
            needed,
            available: buf.remaining_mut(),
        });
    }
    // Heads are assembled on the stack and written with one call: a `BufMut` call per
    // field costs more than zeroing the array. A small payload joins its head there, so
    // a small packet is one copy into `buf`.
    // `SliceWriter` needs four bytes of room beyond the head while it writes properties.
    if !vectored && layout.head + layout.payload + 4 <= 128 {
        write_head::<P, B, 128>(p, version, layout.remaining, buf, true);
        return Ok(None);
    }
    match layout.head + 4 {
        0..=128 => write_head::<P, B, 128>(p, version, layout.remaining, buf, false),
        129..=512 => write_head::<P, B, 512>(p, version, layout.remaining, buf, false),
        513..=2048 => write_head::<P, B, 2048>(p, version, layout.remaining, buf, false),
        _ => {
            let mut w = Writer(&mut *buf);
            w.put_u8(p.first_byte());
            w.put_varint(layout.remaining as u32);
            p.emit(version, &mut w);
        }
    }
    match p.payload() {
        Some(payload) if !vectored => {
            buf.put_slice(payload);
            Ok(None)
        }
        other => Ok(other),
    }
}

/// Encodes one packet struct without wrapping it in a [`Packet`]: the role machines
/// keep their PUBLISH and acknowledgements as structs and encode them in place.
#[inline]
pub(crate) fn encode_part<P: Body, B: BufMut>(
    p: &P,
    version: ProtocolVersion,
    buf: &mut B,
) -> Result<(), EncodeError> {
    encode_body(p, version, buf, false).map(|_| ())
}

/// The number of bytes [`encode_part`] writes.
pub(crate) fn encoded_len_of<P: Body>(p: &P, version: ProtocolVersion) -> usize {
    let l = layout(p, version);
    l.head + l.payload
}

/// Writes the head of `p`, and its payload too when `with_payload`, assembled in an
/// array of `N` bytes, with one call into `buf`.
#[inline(always)]
fn write_head<P: Body, B: BufMut, const N: usize>(
    p: &P,
    version: ProtocolVersion,
    remaining: usize,
    buf: &mut B,
    with_payload: bool,
) {
    let mut head = [0u8; N];
    let mut w = SliceWriter {
        buf: &mut head,
        pos: 0,
    };
    w.put_u8(p.first_byte());
    w.put_varint(remaining as u32);
    p.emit(version, &mut w);
    if let Some(payload) = p.payload().filter(|_| with_payload) {
        w.put_slice(payload);
    }
    let len = w.pos;
    buf.put_slice(&head[..len]);
}

macro_rules! dispatch {
    ($packet:expr, $p:ident => $body:expr) => {
        match $packet {
            Packet::Connect(c) => {
                let $p = &**c;
                $body
            }
            Packet::ConnAck($p) => $body,
            Packet::Publish($p) => $body,
            Packet::PubAck($p) => $body,
            Packet::PubRec($p) => $body,
            Packet::PubRel($p) => $body,
            Packet::PubComp($p) => $body,
            Packet::Subscribe($p) => $body,
            Packet::SubAck($p) => $body,
            Packet::Unsubscribe($p) => $body,
            Packet::UnsubAck($p) => $body,
            Packet::PingReq => {
                let $p = &Empty(PacketType::PingReq);
                $body
            }
            Packet::PingResp => {
                let $p = &Empty(PacketType::PingResp);
                $body
            }
            Packet::Disconnect($p) => $body,
            Packet::Auth($p) => $body,
        }
    };
}

impl Packet {
    /// The packet type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    /// Writes the packet in its canonical form: properties in ascending identifier
    /// order, an acknowledgement's reason code left out only when it is 0 and there are
    /// no properties.
    ///
    /// Nothing is written when an error is returned.
    pub fn encode<B: BufMut>(
        &self,
        version: ProtocolVersion,
        buf: &mut B,
    ) -> Result<(), EncodeError> {
        dispatch!(self, p => encode_body(p, version, buf, false).map(|_| ()))
    }

    /// Writes everything but a PUBLISH payload into `head` and returns the payload (empty
    /// for other packet types), so the caller can write both with one vectored write and
    /// a large payload is never copied by the crate.
    ///
    /// ```
    /// use bytes::{Bytes, BytesMut};
    /// use mqtt_sansio::{Packet, ProtocolVersion, Publish, TopicName};
    ///
    /// let payload = Bytes::from(vec![7u8; 65_536]);
    /// let packet = Packet::from(Publish::new(TopicName::from_static("big").unwrap(), payload.clone()));
    /// let mut head = BytesMut::new();
    /// let tail = packet.encode_vectored(ProtocolVersion::V311, &mut head).unwrap();
    /// assert_eq!(head.len() + tail.len(), packet.encoded_len(ProtocolVersion::V311));
    /// assert_eq!(tail.as_ptr(), payload.as_ptr()); // the same memory, not a copy
    /// ```
    pub fn encode_vectored<B: BufMut>(
        &self,
        version: ProtocolVersion,
        head: &mut B,
    ) -> Result<Bytes, EncodeError> {
        dispatch!(self, p => encode_body(p, version, head, true).map(|payload| payload.cloned().unwrap_or_default()))
    }

    /// The number of bytes [`Packet::encode`] writes for this packet.
    pub fn encoded_len(&self, version: ProtocolVersion) -> usize {
        dispatch!(self, p => {
            let l = layout(p, version);
            l.head + l.payload
        })
    }
}

macro_rules! packet_from {
    ($($variant:ident($ty:ty) $(via $wrap:path)?),+ $(,)?) => {
        $(
            impl From<$ty> for Packet {
                fn from(p: $ty) -> Packet {
                    Packet::$variant($($wrap)?(p))
                }
            }
        )+
    };
}

packet_from!(
    Connect(Connect) via Box::new,
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(PubAck),
    PubRec(PubRec),
    PubRel(PubRel),
    PubComp(PubComp),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    Disconnect(Disconnect),
    Auth(Auth),
);

/// Drops the packet of `size` bytes at the front of `buf`, read in place. When it was
/// all the buffer held, clearing keeps the room behind it and costs less than moving
/// the start of the buffer.
#[inline]
pub(crate) fn consume(buf: &mut BytesMut, size: usize) {
    if size == buf.len() {
        buf.clear();
    } else {
        buf.advance(size);
    }
}

/// Cuts the packet of `size` bytes off the front of `buf` and returns its body: the
/// packets that hand out slices of their input need it, at the price of a reference
/// count; the others are read in place.
pub(crate) fn cut(buf: &mut BytesMut, header_len: usize, size: usize) -> Bytes {
    let mut frame = buf.split_to(size).freeze();
    frame.advance(header_len);
    frame
}

/// Which side sends the packets a decoder reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sender {
    /// Either side: every packet type is accepted (tools, captures, tests).
    Any,
    /// The packets come from a client; this decoder belongs to a server.
    Client,
    /// The packets come from a server; this decoder belongs to a client.
    Server,
}

/// Turns the front of a receive buffer into packets.
///
/// `decode` returns `Ok(None)` while the buffer holds less than a whole packet and
/// consumes nothing then; `Ok(Some(packet))` consumes exactly that packet. A packet
/// larger than the maximum packet size is refused as soon as its fixed header is in
/// the buffer, before any of its body needs to be buffered.
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_sansio::{Decoder, Packet, ProtocolVersion};
///
/// let mut decoder = Decoder::for_client(ProtocolVersion::V311);
/// let mut buf = BytesMut::from(&[0x20, 0x02, 0x00][..]); // CONNACK, one byte short
/// assert_eq!(decoder.decode(&mut buf).unwrap(), None);
/// assert_eq!(buf.len(), 3);
/// buf.extend_from_slice(&[0x00, 0xD0, 0x00]); // the last byte, then a PINGRESP
/// assert!(matches!(decoder.decode(&mut buf).unwrap(), Some(Packet::ConnAck(_))));
/// assert_eq!(decoder.decode(&mut buf).unwrap(), Some(Packet::PingResp));
/// assert!(buf.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct Decoder {
    version: Option<ProtocolVersion>,
    max_packet_size: u32,
    sender: Sender,
}

impl Decoder {
    /// A decoder for `version` that accepts every packet type from either side: for
    /// tools, captures and tests. A CONNECT switches it to the version the CONNECT names.
    pub fn new(version: ProtocolVersion) -> Self {
        Decoder {
            version: Some(version),
            max_packet_size: MAX_PACKET_SIZE,
            sender: Sender::Any,
        }
    }

    /// The decoder of a client: it reads what a server sends and refuses packet types
    /// and fields that only a client may send.
    pub fn for_client(version: ProtocolVersion) -> Self {
        Decoder {
            sender: Sender::Server,
            ..Decoder::new(version)
        }
    }

    /// The decoder of a server: it reads what a client sends. The first packet must be
    /// CONNECT ([MQTT-3.1.0-1]), whose protocol level sets the version for the rest of
    /// the connection. A second CONNECT is decoded like any packet: refusing it
    /// ([MQTT-3.1.0-2]) takes connection state, which the server machine holds.
    pub fn for_server() -> Self {
        Decoder {
            version: None,
            max_packet_size: MAX_PACKET_SIZE,
            sender: Sender::Client,
        }
    }

    /// Sets the largest packet accepted, fixed header included (the MQTT 5 Maximum
    /// Packet Size). Values above [`MAX_PACKET_SIZE`] mean no limit.
    pub fn with_max_packet_size(mut self, max: u32) -> Self {
        self.max_packet_size = max;
        self
    }

    /// The protocol version, once known.
    pub fn version(&self) -> Option<ProtocolVersion> {
        self.version
    }

    /// The largest packet accepted, fixed header included.
    pub fn max_packet_size(&self) -> u32 {
        self.max_packet_size
    }

    /// Decodes the packet at the front of `buf`, if it is complete.
    ///
    /// After an error the stream cannot be resynchronised: close the connection (with
    /// [`DecodeError::reason_code`] in MQTT 5).
    #[inline]
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let packet_type = fixed_header::check_first_byte(first, self.version, self.sender)?;
        let (remaining, length_bytes) = match buf.get(1) {
            // Most packets are shorter than 128 bytes.
            Some(&len) if len < 0x80 => (u32::from(len), 1),
            _ => match varint::decode(&buf[1..]) {
                Ok(Some(decoded)) => decoded,
                Ok(None) => return Ok(None),
                Err(_) => {
                    return Err(DecodeError::MalformedVarInt {
                        field: "remaining length",
                    });
                }
            },
        };
        let header_len = 1 + length_bytes;
        let size = header_len as u64 + u64::from(remaining);
        if size > u64::from(self.max_packet_size) {
            return Err(DecodeError::PacketTooLarge {
                size: size as usize,
                max: self.max_packet_size,
            });
        }
        let size = size as usize;
        if buf.len() < size {
            return Ok(None);
        }
        // Until the version is known `check_first_byte` lets only CONNECT through, and
        // CONNECT finds its version in its own body.
        let version = self.version.unwrap_or(ProtocolVersion::V5);
        let frame = |buf: &mut BytesMut| cut(buf, header_len, size);
        let packet = match packet_type {
            // Returned as is, so the packet is built in the caller's slot, not copied.
            PacketType::Publish => {
                return Publish::decode(buf, first, header_len, size, version, self.sender);
            }
            PacketType::PubAck => Packet::PubAck(PubAck::decode(buf, header_len, size, version)?),
            PacketType::PubRec => Packet::PubRec(PubRec::decode(buf, header_len, size, version)?),
            PacketType::PubRel => Packet::PubRel(PubRel::decode(buf, header_len, size, version)?),
            PacketType::PubComp => {
                Packet::PubComp(PubComp::decode(buf, header_len, size, version)?)
            }
            PacketType::PingReq | PacketType::PingResp => {
                if remaining != 0 {
                    return Err(DecodeError::InvalidRemainingLength {
                        packet: packet_type,
                        len: remaining,
                    });
                }
                consume(buf, size);
                if packet_type == PacketType::PingReq {
                    Packet::PingReq
                } else {
                    Packet::PingResp
                }
            }
            PacketType::Connect => {
                let (connect, version) = connect::decode(&frame(buf))?;
                self.version = Some(version);
                Packet::Connect(Box::new(connect))
            }
            PacketType::ConnAck => Packet::ConnAck(ConnAck::decode(&frame(buf), version)?),
            PacketType::Subscribe => Packet::Subscribe(Subscribe::decode(&frame(buf), version)?),
            PacketType::SubAck => Packet::SubAck(SubAck::decode(buf, header_len, size, version)?),
            PacketType::Unsubscribe => {
                Packet::Unsubscribe(Unsubscribe::decode(&frame(buf), version)?)
            }
            PacketType::UnsubAck => {
                Packet::UnsubAck(UnsubAck::decode(buf, header_len, size, version)?)
            }
            PacketType::Disconnect => {
                Packet::Disconnect(Disconnect::decode(&frame(buf), version, self.sender)?)
            }
            PacketType::Auth => Packet::Auth(Auth::decode(&frame(buf))?),
        };
        Ok(Some(packet))
    }
}
