//! The two halves of every packet codec: `Reader`, a bounded cursor over one received
//! packet that hands out zero-copy slices, and `Sink`, the output of the single `emit`
//! function each packet has, implemented once to count bytes and once to write them.

use super::properties::{PropertyId, WireProperties};
use super::{DecodeError, PacketType, varint};
use crate::string::{self, MqttString, Scanned, StringError};
use crate::topic::{TopicError, TopicName};
use crate::types::PacketId;
use bytes::{BufMut, Bytes};

/// A cursor over `frame[pos..end]`. Every read is bounds-checked against `end`, so a
/// length field can never make a read escape its packet or its property block.
#[derive(Clone)]
pub(crate) struct Reader<'a> {
    frame: &'a Bytes,
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(frame: &'a Bytes) -> Self {
        Reader {
            frame,
            pos: 0,
            end: frame.len(),
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        let frame: &'a [u8] = self.frame;
        &frame[self.pos..self.end]
    }

    /// How many entries of a list of length-prefixed fields, each followed by `trailer`
    /// bytes, the unread bytes hold. Sizing the list from this count allocates once and
    /// never beyond what was received.
    pub(crate) fn count_prefixed(&self, trailer: usize) -> usize {
        let rest = self.rest();
        let (mut pos, mut count) = (0, 0);
        while let Some(&[hi, lo]) = rest.get(pos..pos + 2) {
            pos += 2 + usize::from(u16::from_be_bytes([hi, lo])) + trailer;
            count += 1;
        }
        count
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.end
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    #[inline]
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::UnexpectedEnd { field });
        }
        let frame: &'a [u8] = self.frame;
        let out = &frame[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    #[inline]
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, field)?[0])
    }

    #[inline]
    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    #[inline]
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn varint(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let frame: &'a [u8] = self.frame;
        match varint::decode(&frame[self.pos..self.end]) {
            Ok(Some((value, used))) => {
                self.pos += used;
                Ok(value)
            }
            Ok(None) => Err(DecodeError::UnexpectedEnd { field }),
            Err(_) => Err(DecodeError::MalformedVarInt { field }),
        }
    }

    /// A non-zero packet identifier.
    #[inline]
    pub(crate) fn packet_id(&mut self, packet: PacketType) -> Result<PacketId, DecodeError> {
        let b = self.take(2, "packet identifier")?;
        packet_id(b[0], b[1], packet)
    }

    /// The next `n` bytes as a slice of the frame (no copy).
    #[inline]
    pub(crate) fn bytes(&mut self, n: usize, field: &'static str) -> Result<Bytes, DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::UnexpectedEnd { field });
        }
        let out = self.frame.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(out)
    }

    /// Binary Data: a two-byte length, then that many bytes.
    pub(crate) fn binary(&mut self, field: &'static str) -> Result<Bytes, DecodeError> {
        let len = self.u16(field)?;
        self.bytes(usize::from(len), field)
    }

    /// A UTF-8 Encoded String, checked but not yet sliced out of the frame: where it
    /// starts, its bytes, and what the check found.
    #[inline(always)]
    pub(crate) fn str_slice(
        &mut self,
        field: &'static str,
    ) -> Result<(usize, &'a [u8], Scanned), DecodeError> {
        let len = self.u16(field)?;
        let start = self.pos;
        let raw = self.take(usize::from(len), field)?;
        let scanned = string::check(raw).map_err(|e| string_error(e, field))?;
        Ok((start, raw, scanned))
    }

    /// `len` frame bytes from `start` as shared `Bytes`.
    #[inline]
    fn share(&self, start: usize, len: usize) -> Bytes {
        if len == 0 {
            return Bytes::new();
        }
        self.frame.slice(start..start + len)
    }

    /// A UTF-8 Encoded String as shared bytes, with what the check found.
    #[inline]
    pub(crate) fn string_bytes(
        &mut self,
        field: &'static str,
    ) -> Result<(Bytes, Scanned), DecodeError> {
        let (start, raw, scanned) = self.str_slice(field)?;
        Ok((self.share(start, raw.len()), scanned))
    }

    /// A UTF-8 Encoded String.
    #[inline]
    pub(crate) fn string(&mut self, field: &'static str) -> Result<MqttString, DecodeError> {
        let (start, raw, _) = self.str_slice(field)?;
        Ok(MqttString::from_checked(self.share(start, raw.len())))
    }

    /// A Topic Name. `allow_empty` is for the PUBLISH topic of MQTT 5, which may be
    /// empty when a Topic Alias stands in for it; the caller checks that case.
    #[inline]
    pub(crate) fn topic_name(
        &mut self,
        field: &'static str,
        allow_empty: bool,
    ) -> Result<TopicName, DecodeError> {
        let (start, raw, scanned) = self.str_slice(field)?;
        // [MQTT-4.7.3-1]: at least one character.
        if raw.is_empty() && !allow_empty {
            return Err(DecodeError::InvalidTopicName {
                field,
                error: TopicError::Empty,
            });
        }
        // [MQTT-3.3.2-2], [MQTT-4.7.1-1] (3.1.1), [MQTT-4.7.0-1] (5.0): no wildcards.
        if scanned.has_wildcard {
            return Err(DecodeError::InvalidTopicName {
                field,
                error: TopicError::WildcardInName,
            });
        }
        Ok(TopicName::from_checked(MqttString::from_checked(
            self.share(start, raw.len()),
        )))
    }

    /// The next `n` bytes as a reader of their own, e.g. for a property block.
    pub(crate) fn sub(&mut self, n: usize, field: &'static str) -> Result<Reader<'a>, DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::UnexpectedEnd { field });
        }
        let sub = Reader {
            frame: self.frame,
            pos: self.pos,
            end: self.pos + n,
        };
        self.pos += n;
        Ok(sub)
    }

    /// The bytes between two positions of this reader, shared with the frame.
    pub(crate) fn slice_between(&self, start: usize, end: usize) -> Bytes {
        self.frame.slice(start..end)
    }

    /// Fails unless every byte has been read.
    #[inline]
    pub(crate) fn expect_end(&self, packet: PacketType) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                packet,
                len: self.remaining(),
            })
        }
    }
}

/// A packet identifier from its two bytes: never zero ([MQTT-2.3.1-1], [MQTT-2.3.1-6],
/// [MQTT-2.3.1-7] in 3.1.1; [MQTT-2.2.1-3], [MQTT-2.2.1-5], [MQTT-2.2.1-6] in 5.0).
#[inline]
pub(crate) fn packet_id(hi: u8, lo: u8, packet: PacketType) -> Result<PacketId, DecodeError> {
    PacketId::new(u16::from_be_bytes([hi, lo])).ok_or(DecodeError::ZeroPacketId { packet })
}

/// A list of one-byte reason codes, at least one ([MQTT-3.8.4-5] in 3.1.1; [MQTT-3.8.4-6],
/// [MQTT-3.11.3-1] in 5.0), each one `accept` knows.
pub(crate) fn reason_codes<T>(
    bytes: &[u8],
    packet: PacketType,
    accept: impl Fn(u8) -> Option<T>,
) -> Result<alloc::vec::Vec<T>, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::EmptyPayload { packet });
    }
    bytes
        .iter()
        .map(|&code| accept(code).ok_or(DecodeError::InvalidReasonCode { packet, code }))
        .collect()
}

pub(crate) fn string_error(e: StringError, field: &'static str) -> DecodeError {
    match e {
        StringError::NullCharacter => DecodeError::NullCharacter { field },
        // A two-byte length cannot describe more than 65,535 bytes, so only
        // malformed UTF-8 is left.
        _ => DecodeError::InvalidUtf8 { field },
    }
}

/// Where `emit` functions send their output.
pub(crate) trait Sink {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_slice(&mut self, b: &[u8]);

    /// A Variable Byte Integer in its shortest form ([MQTT-1.5.5-1]).
    #[inline]
    fn put_varint(&mut self, mut v: u32) {
        loop {
            let mut byte = (v & 0x7F) as u8;
            v >>= 7;
            if v > 0 {
                byte |= 0x80;
            }
            self.put_u8(byte);
            if v == 0 {
                break;
            }
        }
    }

    /// A property block: its Variable Byte Integer length, then the properties.
    fn put_properties<P: WireProperties>(&mut self, p: &P);

    /// A field with a two-byte length prefix; callers have checked `b.len() <= 65535`.
    #[inline]
    fn put_prefixed(&mut self, b: &[u8]) {
        self.put_u16(b.len() as u16);
        self.put_slice(b);
    }

    #[inline]
    fn prop_u8(&mut self, id: PropertyId, v: Option<u8>) {
        if let Some(v) = v {
            self.put_u8(id as u8);
            self.put_u8(v);
        }
    }

    #[inline]
    fn prop_bool(&mut self, id: PropertyId, v: Option<bool>) {
        self.prop_u8(id, v.map(u8::from));
    }

    #[inline]
    fn prop_u16(&mut self, id: PropertyId, v: Option<u16>) {
        if let Some(v) = v {
            self.put_u8(id as u8);
            self.put_u16(v);
        }
    }

    #[inline]
    fn prop_u32(&mut self, id: PropertyId, v: Option<u32>) {
        if let Some(v) = v {
            self.put_u8(id as u8);
            self.put_u32(v);
        }
    }

    #[inline]
    fn prop_varint(&mut self, id: PropertyId, v: u32) {
        self.put_u8(id as u8);
        self.put_varint(v);
    }

    #[inline]
    fn prop_bytes(&mut self, id: PropertyId, v: Option<&[u8]>) {
        if let Some(v) = v {
            self.put_u8(id as u8);
            self.put_prefixed(v);
        }
    }

    #[inline]
    fn prop_str(&mut self, id: PropertyId, v: Option<&MqttString>) {
        self.prop_bytes(id, v.map(MqttString::as_bytes));
    }
}

/// Counts the bytes an `emit` would write.
#[derive(Default)]
pub(crate) struct Counter(pub(crate) usize);

impl Sink for Counter {
    #[inline]
    fn put_u8(&mut self, _: u8) {
        self.0 += 1;
    }
    #[inline]
    fn put_u16(&mut self, _: u16) {
        self.0 += 2;
    }
    #[inline]
    fn put_u32(&mut self, _: u32) {
        self.0 += 4;
    }
    #[inline]
    fn put_varint(&mut self, v: u32) {
        self.0 += varint::len(v);
    }
    #[inline]
    fn put_slice(&mut self, b: &[u8]) {
        self.0 += b.len();
    }
    #[inline]
    fn put_properties<P: WireProperties>(&mut self, p: &P) {
        let len = p.wire_len();
        self.0 += varint::len(len as u32) + len;
    }
}

/// Writes what an `emit` produces into a `BufMut` that has room for all of it.
pub(crate) struct Writer<'a, B: BufMut>(pub(crate) &'a mut B);

impl<B: BufMut> Sink for Writer<'_, B> {
    #[inline]
    fn put_u8(&mut self, v: u8) {
        self.0.put_u8(v);
    }
    #[inline]
    fn put_u16(&mut self, v: u16) {
        self.0.put_u16(v);
    }
    #[inline]
    fn put_u32(&mut self, v: u32) {
        self.0.put_u32(v);
    }
    #[inline]
    fn put_slice(&mut self, b: &[u8]) {
        self.0.put_slice(b);
    }
    #[inline]
    fn put_properties<P: WireProperties>(&mut self, p: &P) {
        self.put_varint(p.wire_len() as u32);
        p.emit(self);
    }
}

/// Writes what an `emit` produces into a byte array, so a packet's head reaches the
/// output buffer in one `put_slice` instead of a bounds-checked call per field.
pub(crate) struct SliceWriter<'a> {
    pub(crate) buf: &'a mut [u8],
    pub(crate) pos: usize,
}

impl SliceWriter<'_> {
    #[inline(always)]
    fn put<const N: usize>(&mut self, bytes: [u8; N]) {
        self.put_slice(&bytes);
    }
}

impl Sink for SliceWriter<'_> {
    #[inline]
    fn put_u8(&mut self, v: u8) {
        self.put([v]);
    }
    #[inline]
    fn put_u16(&mut self, v: u16) {
        self.put(v.to_be_bytes());
    }
    #[inline]
    fn put_u32(&mut self, v: u32) {
        self.put(v.to_be_bytes());
    }
    #[inline]
    fn put_slice(&mut self, b: &[u8]) {
        // The caller sized the array from the same `emit`, so this always fits.
        if let Some(dst) = self.buf.get_mut(self.pos..self.pos + b.len()) {
            dst.copy_from_slice(b);
        }
        self.pos += b.len();
    }
    /// Emits the properties after room for the longest length prefix, then writes the
    /// prefix and closes the gap: one pass over the properties instead of two.
    #[inline]
    fn put_properties<P: WireProperties>(&mut self, p: &P) {
        let start = self.pos;
        self.pos += 4;
        p.emit(self);
        let len = self.pos - start - 4;
        let mut prefix = [0u8; 4];
        let mut w = SliceWriter {
            buf: &mut prefix,
            pos: 0,
        };
        w.put_varint(len as u32);
        let used = w.pos;
        if let Some(dst) = self.buf.get_mut(start..self.pos) {
            dst.copy_within(4.., used);
            dst[..used].copy_from_slice(&prefix[..used]);
        }
        self.pos -= 4 - used;
    }
}
