//! The session as bytes, to survive a process restart: a small versioned binary format
//! whose stored packets are written and read with the crate's own codec.
//!
//! Layout (integers big-endian, counts `u32`, instants `u64` microseconds since the
//! driver's epoch, packets complete with their fixed header, encoded for the client's
//! protocol version):
//!
//! | Field | Encoding |
//! |---|---|
//! | magic | `b"MQSS"` |
//! | format version | `u8`, 1 |
//! | protocol level | `u8`: 4 (3.1.1) or 5 (5.0) |
//! | outgoing count | `u32`, then per message in packet identifier order: packet identifier `u16`, handle `u64`, order `u64`, released `u8` (0 or 1), first sent `u64`, the PUBLISH as last sent |
//! | request count | `u32`, then per request in packet identifier order: order `u64`, kind `u8` (1 SUBSCRIBE, 2 automatic re-subscription, 3 UNSUBSCRIBE), handle `u64` (kinds 1 and 3 only), the SUBSCRIBE or UNSUBSCRIBE |
//! | incoming QoS 2 count | `u32`, then the identifiers, `u16` each, ascending |
//! | subscription count | `u32`, then per subscription in filter order a SUBSCRIBE with packet identifier 1, that one filter with its options, and its properties |
//! | next packet identifier | `u16` |
//! | next order | `u64` |
//!
//! The client appends its own part after these:
//!
//! | Field | Encoding |
//! |---|---|
//! | queue count | `u32`, then per message oldest first: handle `u64`, queued since `u64`, the PUBLISH (at QoS 1/2 its identifier is a placeholder until it is sent) |
//! | handle counter | `u64`: the last handle given out |
//! | delivery counter | `u64`: the last [`DeliveryId`](crate::DeliveryId) given out |
//!
//! Reading checks every count against the bytes left before reading the entries, so
//! nothing is allocated beyond the size of the input; trailing bytes, unknown kinds,
//! identifiers held twice and packets that do not fit their entry are errors.

use super::{Outgoing, Request, Session, Slot, Tracked};
use crate::client::{ConfigError, PublishId, SubscribeId, UnsubscribeId};
use crate::codec::{DecodeError, Decoder, Packet, Publish, Subscribe, Subscription, encode_part};
use crate::time::Instant;
use crate::types::{PacketId, ProtocolVersion, QoS};
use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use bytes::{Buf, BufMut, BytesMut};
use core::time::Duration;

/// The first bytes of every exported session.
pub(crate) const MAGIC: [u8; 4] = *b"MQSS";
/// The format version this crate writes and reads.
pub(crate) const FORMAT_VERSION: u8 = 1;

/// Request kinds.
const KIND_SUBSCRIBE: u8 = 1;
const KIND_RESUBSCRIBE: u8 = 2;
const KIND_UNSUBSCRIBE: u8 = 3;

/// Handles and order numbers are counters that grow by one per command or packet; a
/// stored value beyond this is corrupt, and refusing it keeps the counters from
/// overflowing later.
pub(crate) const COUNTER_LIMIT: u64 = u64::MAX / 2;

/// Why bytes could not be restored as a session; nothing was restored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// The bytes do not start with the magic of an exported session.
    #[error("not an exported session (bad magic)")]
    BadMagic,
    /// The format version is not one this crate reads.
    #[error("unsupported session format version {0}")]
    UnsupportedFormat(u8),
    /// The session was exported by a client of another protocol version than the
    /// configuration asks for.
    #[error("session exported for mqtt {stored}, configuration is mqtt {configured}")]
    VersionMismatch {
        /// The version the session was exported with.
        stored: ProtocolVersion,
        /// The version of the configuration.
        configured: ProtocolVersion,
    },
    /// The bytes end before the session does.
    #[error("exported session truncated")]
    Truncated,
    /// A field holds a value no exported session has.
    #[error("corrupt exported session: {0}")]
    Corrupt(&'static str),
    /// A stored packet does not decode.
    #[error("corrupt packet in exported session: {0}")]
    Packet(DecodeError),
    /// The configuration given to restore with is refused.
    #[error("invalid configuration: {0}")]
    Config(ConfigError),
}

// ---- writing ----

/// Writes the magic, the format version and the protocol level.
pub(crate) fn put_header(out: &mut Vec<u8>, version: ProtocolVersion) {
    out.extend_from_slice(&MAGIC);
    out.put_u8(FORMAT_VERSION);
    out.put_u8(version.level());
}

/// An instant as microseconds since the epoch (saturating, some 584,000 years).
pub(crate) fn put_instant(out: &mut Vec<u8>, instant: Instant) {
    let micros = instant.since_epoch().as_micros();
    out.put_u64(u64::try_from(micros).unwrap_or(u64::MAX));
}

/// A section of entries whose count is known once they are written: entries a codec
/// cannot encode are left out.
pub(crate) struct Section {
    count_at: usize,
    count: u32,
}

impl Section {
    pub(crate) fn begin(out: &mut Vec<u8>) -> Self {
        let count_at = out.len();
        out.put_u32(0);
        Section { count_at, count: 0 }
    }

    /// Writes one entry with `write`; an entry it refuses (false) is taken back.
    pub(crate) fn entry(&mut self, out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>) -> bool) {
        let start = out.len();
        if write(out) {
            self.count += 1;
        } else {
            out.truncate(start);
        }
    }

    pub(crate) fn end(self, out: &mut [u8]) {
        out[self.count_at..self.count_at + 4].copy_from_slice(&self.count.to_be_bytes());
    }
}

/// Appends `part` as a complete packet; false when the codec refuses it (a PUBLISH
/// above the largest packet MQTT can describe, which could never be sent either).
pub(crate) fn put_packet<P: crate::codec::Body>(
    out: &mut Vec<u8>,
    part: &P,
    version: ProtocolVersion,
) -> bool {
    encode_part(part, version, out).is_ok()
}

impl Session {
    /// Appends the session in the format above.
    pub(crate) fn export_into(&self, version: ProtocolVersion, out: &mut Vec<u8>) {
        let mut publishes: Vec<(u16, &Outgoing)> = self.publishes().collect();
        publishes.sort_unstable_by_key(|&(pid, _)| pid);
        let mut section = Section::begin(out);
        for (pid, o) in publishes {
            section.entry(out, |out| {
                out.put_u16(pid);
                out.put_u64(o.id.0);
                out.put_u64(o.seq);
                out.put_u8(u8::from(o.released));
                put_instant(out, o.sent_at);
                put_packet(out, &o.publish, version)
            });
        }
        section.end(out);

        let mut requests: Vec<(u16, u64, &Request)> = self
            .slots
            .iter()
            .filter_map(|s| match s {
                Slot::Request { seq, request } => Some((request_pid(request), *seq, request)),
                _ => None,
            })
            .collect();
        requests.sort_unstable_by_key(|&(pid, _, _)| pid);
        let mut section = Section::begin(out);
        for (_, seq, request) in requests {
            section.entry(out, |out| {
                out.put_u64(seq);
                match request {
                    Request::Subscribe { id, packet } => {
                        match id {
                            Some(id) => {
                                out.put_u8(KIND_SUBSCRIBE);
                                out.put_u64(id.0);
                            }
                            None => out.put_u8(KIND_RESUBSCRIBE),
                        }
                        put_packet(out, packet, version)
                    }
                    Request::Unsubscribe { id, packet } => {
                        out.put_u8(KIND_UNSUBSCRIBE);
                        out.put_u64(id.0);
                        put_packet(out, packet, version)
                    }
                }
            });
        }
        section.end(out);

        out.put_u32(self.incoming_qos2.len() as u32);
        for &pid in &self.incoming_qos2 {
            out.put_u16(pid);
        }

        let mut section = Section::begin(out);
        for (filter, tracked) in &self.subscriptions {
            section.entry(out, |out| {
                let subscription = Subscription {
                    filter: filter.clone(),
                    options: tracked.options,
                };
                let mut packet = Subscribe::new(PacketId::MIN, alloc::vec![subscription]);
                packet.properties = tracked.properties.clone();
                put_packet(out, &packet, version)
            });
        }
        section.end(out);

        out.put_u16(self.next_packet_id);
        out.put_u64(self.next_seq);
    }
}

fn request_pid(request: &Request) -> u16 {
    match request {
        Request::Subscribe { packet, .. } => packet.packet_id.get(),
        Request::Unsubscribe { packet, .. } => packet.packet_id.get(),
    }
}

// ---- reading ----

/// The unread rest of an exported session. The input is copied once into one buffer,
/// and the payloads of the restored messages are slices of it.
#[derive(Debug)]
pub(crate) struct Reader {
    rest: BytesMut,
    version: ProtocolVersion,
}

impl Reader {
    /// Reads the header of `bytes`: the magic, the format version and the protocol
    /// level.
    pub(crate) fn open(bytes: &[u8]) -> Result<Self, RestoreError> {
        let magic_len = bytes.len().min(MAGIC.len());
        if bytes[..magic_len] != MAGIC[..magic_len] {
            return Err(RestoreError::BadMagic);
        }
        let [_, _, _, _, format, level, ..] = *bytes else {
            return Err(RestoreError::Truncated);
        };
        if format != FORMAT_VERSION {
            return Err(RestoreError::UnsupportedFormat(format));
        }
        let version = ProtocolVersion::from_level(level)
            .ok_or(RestoreError::Corrupt("unknown protocol level"))?;
        Ok(Reader {
            rest: BytesMut::from(&bytes[MAGIC.len() + 2..]),
            version,
        })
    }

    /// The protocol version the session was exported with.
    pub(crate) fn version(&self) -> ProtocolVersion {
        self.version
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RestoreError> {
        let mut value = [0u8; N];
        let bytes = self.rest.get(..N).ok_or(RestoreError::Truncated)?;
        value.copy_from_slice(bytes);
        self.rest.advance(N);
        Ok(value)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, RestoreError> {
        self.array::<1>().map(|[b]| b)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, RestoreError> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, RestoreError> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, RestoreError> {
        self.array().map(u64::from_be_bytes)
    }

    fn flag(&mut self) -> Result<bool, RestoreError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(RestoreError::Corrupt("flag neither 0 nor 1")),
        }
    }

    pub(crate) fn instant(&mut self) -> Result<Instant, RestoreError> {
        self.u64()
            .map(|micros| Instant::from_duration(Duration::from_micros(micros)))
    }

    /// A count of entries of at least `min_size` bytes each, checked against the bytes
    /// left.
    pub(crate) fn count(&mut self, min_size: usize) -> Result<u32, RestoreError> {
        let count = self.u32()?;
        if (count as usize).saturating_mul(min_size) > self.rest.len() {
            return Err(RestoreError::Truncated);
        }
        Ok(count)
    }

    /// A complete packet, decoded with the crate's codec.
    pub(crate) fn packet(&mut self) -> Result<Packet, RestoreError> {
        // A fresh decoder each time: one that read a CONNECT would switch versions.
        match Decoder::new(self.version).decode(&mut self.rest) {
            Ok(Some(packet)) => Ok(packet),
            Ok(None) => Err(RestoreError::Truncated),
            Err(error) => Err(RestoreError::Packet(error)),
        }
    }

    /// A PUBLISH.
    pub(crate) fn publish(&mut self) -> Result<Publish, RestoreError> {
        match self.packet()? {
            Packet::Publish(publish) => Ok(publish),
            _ => Err(RestoreError::Corrupt("expected a PUBLISH")),
        }
    }

    /// The end: nothing may follow.
    pub(crate) fn finish(self) -> Result<(), RestoreError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(RestoreError::Corrupt("trailing bytes"))
        }
    }
}

/// The handles of the restored commands: each used once, never 0 (the counter is
/// incremented before it hands one out).
#[derive(Debug, Default)]
pub(crate) struct Handles {
    used: BTreeSet<u64>,
}

impl Handles {
    pub(crate) fn claim(&mut self, handle: u64) -> Result<u64, RestoreError> {
        if handle == 0 || handle > COUNTER_LIMIT {
            return Err(RestoreError::Corrupt("handle out of range"));
        }
        if !self.used.insert(handle) {
            return Err(RestoreError::Corrupt("handle used twice"));
        }
        Ok(handle)
    }

    /// The largest handle claimed, 0 when none.
    pub(crate) fn max(&self) -> u64 {
        self.used.last().copied().unwrap_or(0)
    }
}

/// Smallest encoded sizes, for the count checks: the fixed fields and a packet of at
/// least two bytes.
const MIN_OUTGOING: usize = 2 + 8 + 8 + 1 + 8 + 2;
const MIN_REQUEST: usize = 8 + 1 + 2;
const MIN_SUBSCRIPTION: usize = 2;

impl Session {
    /// Reads a session written by [`Session::export_into`]; the handles it holds are
    /// claimed in `handles`.
    pub(crate) fn read_from(
        r: &mut Reader,
        handles: &mut Handles,
    ) -> Result<Session, RestoreError> {
        let mut session = Session::default();
        // Order numbers come from one counter: each is used once.
        let mut seqs = BTreeSet::new();
        let mut claim_seq = |seq: u64| {
            if seqs.insert(seq) {
                Ok(seq)
            } else {
                Err(RestoreError::Corrupt("order number used twice"))
            }
        };

        let mut previous = 0;
        for _ in 0..r.count(MIN_OUTGOING)? {
            let pid = r.u16()?;
            if pid <= previous {
                return Err(RestoreError::Corrupt("messages out of identifier order"));
            }
            previous = pid;
            let id = PublishId(handles.claim(r.u64()?)?);
            let seq = claim_seq(r.u64()?)?;
            let released = r.flag()?;
            let sent_at = r.instant()?;
            let publish = r.publish()?;
            if publish.packet_id().map(PacketId::get) != Some(pid) {
                return Err(RestoreError::Corrupt(
                    "message identifier differs from its PUBLISH",
                ));
            }
            if released && publish.qos() != QoS::ExactlyOnce {
                return Err(RestoreError::Corrupt("released message not at QoS 2"));
            }
            let outgoing = Outgoing {
                id,
                seq,
                publish,
                released,
                awaiting_resend: false,
                sent_at,
            };
            session.restore_slot(pid, Slot::Publish(outgoing))?;
        }

        let mut previous = 0;
        for _ in 0..r.count(MIN_REQUEST)? {
            let seq = claim_seq(r.u64()?)?;
            let kind = r.u8()?;
            let handle = match kind {
                KIND_SUBSCRIBE | KIND_UNSUBSCRIBE => Some(handles.claim(r.u64()?)?),
                KIND_RESUBSCRIBE => None,
                _ => return Err(RestoreError::Corrupt("unknown request kind")),
            };
            let request = match (r.packet()?, handle) {
                (Packet::Subscribe(packet), handle) if kind != KIND_UNSUBSCRIBE => {
                    Request::Subscribe {
                        id: handle.map(SubscribeId),
                        packet,
                    }
                }
                (Packet::Unsubscribe(packet), Some(handle)) if kind == KIND_UNSUBSCRIBE => {
                    Request::Unsubscribe {
                        id: UnsubscribeId(handle),
                        packet,
                    }
                }
                _ => {
                    return Err(RestoreError::Corrupt(
                        "request kind differs from its packet",
                    ));
                }
            };
            let pid = request_pid(&request);
            if pid <= previous {
                return Err(RestoreError::Corrupt("requests out of identifier order"));
            }
            previous = pid;
            session.restore_slot(pid, Slot::Request { seq, request })?;
        }

        let mut previous = 0;
        for _ in 0..r.count(2)? {
            let pid = r.u16()?;
            if pid <= previous {
                return Err(RestoreError::Corrupt(
                    "incoming identifiers zero or not ascending",
                ));
            }
            previous = pid;
            session.incoming_qos2.insert(pid);
        }

        for _ in 0..r.count(MIN_SUBSCRIPTION)? {
            let Packet::Subscribe(packet) = r.packet()? else {
                return Err(RestoreError::Corrupt(
                    "subscription not stored as SUBSCRIBE",
                ));
            };
            let Subscribe {
                packet_id,
                properties,
                filters,
            } = packet;
            let ([subscription], 1) = (&filters[..], packet_id.get()) else {
                return Err(RestoreError::Corrupt(
                    "subscription not a one-filter SUBSCRIBE with identifier 1",
                ));
            };
            if session
                .subscriptions
                .last_key_value()
                .is_some_and(|(last, _)| *last >= subscription.filter)
            {
                return Err(RestoreError::Corrupt("subscriptions out of filter order"));
            }
            let tracked = Tracked {
                options: subscription.options,
                properties,
            };
            session
                .subscriptions
                .insert(subscription.filter.clone(), tracked);
        }

        session.next_packet_id = r.u16()?;
        session.next_seq = r.u64()?;
        if session.next_seq > COUNTER_LIMIT {
            return Err(RestoreError::Corrupt("order counter out of range"));
        }
        if seqs.last().is_some_and(|&last| last > session.next_seq) {
            return Err(RestoreError::Corrupt("order number beyond the counter"));
        }
        Ok(session)
    }

    /// Puts a restored entry in a new slot under `pid`.
    fn restore_slot(&mut self, pid: u16, slot: Slot) -> Result<(), RestoreError> {
        if pid == 0 {
            return Err(RestoreError::Corrupt("packet identifier 0"));
        }
        if self.ids.get(pid).is_some() {
            return Err(RestoreError::Corrupt("packet identifier held twice"));
        }
        if matches!(slot, Slot::Publish(_)) {
            self.publishes += 1;
        }
        // Identifiers are distinct and not 0, so there are at most 65,535 slots and
        // each index fits the index's 16 bits.
        let index = self.slots.len() as u32;
        self.slots.push(slot);
        self.ids.insert(pid, index);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Unsubscribe;
    use crate::topic::{TopicFilter, TopicName};
    use crate::types::QosPid;
    use bytes::Bytes;

    const V: ProtocolVersion = ProtocolVersion::V5;

    fn publish(pid: u16, qos: QoS) -> Publish {
        let mut p = Publish::new(TopicName::from_static("t").unwrap(), Bytes::new());
        p.qos_pid = QosPid::new(qos, PacketId::new(pid)).unwrap();
        p
    }

    /// An outgoing entry.
    fn outgoing(out: &mut Vec<u8>, pid: u16, handle: u64, seq: u64, released: bool, p: &Publish) {
        out.put_u16(pid);
        out.put_u64(handle);
        out.put_u64(seq);
        out.put_u8(u8::from(released));
        out.put_u64(0);
        assert!(put_packet(out, p, V));
    }

    /// An UNSUBSCRIBE request entry.
    fn unsubscribe(out: &mut Vec<u8>, pid: u16, handle: u64, seq: u64) {
        out.put_u64(seq);
        out.put_u8(KIND_UNSUBSCRIBE);
        out.put_u64(handle);
        let filter = TopicFilter::try_from("f").unwrap();
        let packet = Unsubscribe::new(PacketId::new(pid).unwrap(), alloc::vec![filter]);
        assert!(put_packet(out, &packet, V));
    }

    /// Writes one entry.
    type Entry<'a> = &'a dyn Fn(&mut Vec<u8>);

    /// A session of `outgoing` entries and `requests`, nothing else, counters as given.
    fn session(
        outgoing: &[Entry<'_>],
        requests: &[Entry<'_>],
        next_seq: u64,
    ) -> Result<Session, RestoreError> {
        let mut out = Vec::new();
        put_header(&mut out, V);
        out.put_u32(outgoing.len() as u32);
        outgoing.iter().for_each(|write| write(&mut out));
        out.put_u32(requests.len() as u32);
        requests.iter().for_each(|write| write(&mut out));
        out.put_u32(0);
        out.put_u32(0);
        out.put_u16(0);
        out.put_u64(next_seq);
        let mut r = Reader::open(&out)?;
        let session = Session::read_from(&mut r, &mut Handles::default())?;
        r.finish()?;
        Ok(session)
    }

    fn corrupt(what: &'static str) -> Result<(), RestoreError> {
        Err(RestoreError::Corrupt(what))
    }

    #[test]
    fn hand_built_session_restores_and_exports_to_the_same_bytes() {
        let p1 = publish(1, QoS::AtLeastOnce);
        let p2 = publish(2, QoS::ExactlyOnce);
        let s = session(
            &[&|o| outgoing(o, 1, 1, 1, false, &p1), &|o| {
                outgoing(o, 2, 2, 4, true, &p2)
            }],
            &[&|o| unsubscribe(o, 3, 3, 3)],
            4,
        )
        .unwrap();
        assert_eq!(s.publish_count(), 2);
        assert_eq!(s.publishes_in_order(), [1, 2]);
        assert!(s.publish(2).unwrap().released);
        assert!(s.request(3).is_some());
        let mut out = Vec::new();
        s.export_into(V, &mut out);
        let mut again = Vec::new();
        let mut r = Reader::open(&[&MAGIC[..], &[FORMAT_VERSION, 5], &out].concat()).unwrap();
        Session::read_from(&mut r, &mut Handles::default())
            .unwrap()
            .export_into(V, &mut again);
        assert_eq!(out, again);
    }

    #[test]
    fn identifier_held_by_a_message_and_a_request_is_corrupt() {
        let p1 = publish(1, QoS::AtLeastOnce);
        let result = session(
            &[&|o| outgoing(o, 1, 1, 1, false, &p1)],
            &[&|o| unsubscribe(o, 1, 2, 2)],
            2,
        );
        assert_eq!(result.map(|_| ()), corrupt("packet identifier held twice"));
    }

    #[test]
    fn released_message_below_qos_2_is_corrupt() {
        let p1 = publish(1, QoS::AtLeastOnce);
        let result = session(&[&|o| outgoing(o, 1, 1, 1, true, &p1)], &[], 1);
        assert_eq!(result.map(|_| ()), corrupt("released message not at QoS 2"));
    }

    #[test]
    fn identifier_differing_from_its_publish_is_corrupt() {
        let p1 = publish(1, QoS::AtLeastOnce);
        let result = session(&[&|o| outgoing(o, 2, 1, 1, false, &p1)], &[], 1);
        assert_eq!(
            result.map(|_| ()),
            corrupt("message identifier differs from its PUBLISH")
        );
    }

    #[test]
    fn order_numbers_used_twice_or_beyond_the_counter_are_corrupt() {
        let p1 = publish(1, QoS::AtLeastOnce);
        let p2 = publish(2, QoS::AtLeastOnce);
        let twice = session(
            &[&|o| outgoing(o, 1, 1, 1, false, &p1), &|o| {
                outgoing(o, 2, 2, 1, false, &p2)
            }],
            &[],
            2,
        );
        assert_eq!(twice.map(|_| ()), corrupt("order number used twice"));
        let beyond = session(&[&|o| outgoing(o, 1, 1, 5, false, &p1)], &[], 4);
        assert_eq!(
            beyond.map(|_| ()),
            corrupt("order number beyond the counter")
        );
        let overflow = session(&[], &[], u64::MAX);
        assert_eq!(overflow.map(|_| ()), corrupt("order counter out of range"));
    }

    #[test]
    fn handles_used_twice_or_zero_are_corrupt() {
        let p1 = publish(1, QoS::AtLeastOnce);
        let twice = session(
            &[&|o| outgoing(o, 1, 7, 1, false, &p1)],
            &[&|o| unsubscribe(o, 2, 7, 2)],
            2,
        );
        assert_eq!(twice.map(|_| ()), corrupt("handle used twice"));
        let zero = session(&[&|o| outgoing(o, 1, 0, 1, false, &p1)], &[], 1);
        assert_eq!(zero.map(|_| ()), corrupt("handle out of range"));
    }

    #[test]
    fn wrong_packet_for_an_entry_is_corrupt() {
        let p1 = publish(1, QoS::AtLeastOnce);
        let result = session(
            &[],
            &[&|o| {
                o.put_u64(1);
                o.put_u8(KIND_SUBSCRIBE);
                o.put_u64(1);
                assert!(put_packet(o, &p1, V));
            }],
            1,
        );
        assert_eq!(
            result.map(|_| ()),
            corrupt("request kind differs from its packet")
        );
    }

    #[test]
    fn count_beyond_the_input_is_truncated_before_reading_entries() {
        let mut out = Vec::new();
        put_header(&mut out, V);
        out.put_u32(u32::MAX);
        out.extend_from_slice(&[0; 64]);
        let mut r = Reader::open(&out).unwrap();
        let result = Session::read_from(&mut r, &mut Handles::default());
        assert_eq!(result.map(|_| ()), Err(RestoreError::Truncated));
    }
}
