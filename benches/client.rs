//! Client round-trip benchmarks: this crate's [`Client`] beside rumqttc 0.25's
//! `MqttState` (3.1.1: `rumqttc::MqttState`, 5.0: `rumqttc::v5::MqttState`), measured
//! in the same run on the same machine, with no I/O.
//!
//! One iteration is one complete outgoing round trip:
//! - QoS 1: publish, take the PUBLISH bytes, feed PUBACK, drain the events;
//! - QoS 2: publish, take the PUBLISH bytes, feed PUBREC, take the PUBREL bytes, feed
//!   PUBCOMP, drain the events.
//!
//! Method, the same for both crates:
//! - Both produce wire bytes. Ours: the driver writes from `pending_transmit` and
//!   reports it with `advance_transmit`, as a socket loop does. rumqttc's
//!   state returns a `Packet` that its `Network` encodes into the write buffer; here
//!   the bench encodes it with `Packet::write` (what rumqttc's `Codec::encode` does)
//!   into a kept buffer, which is then cleared as a flush to the socket would.
//! - Both decode the acknowledgement from bytes. Ours: `handle_input` appends to its
//!   receive buffer and decodes. rumqttc: the bytes are appended to a kept receive
//!   buffer and read with `Packet::read` (what its `Codec::decode` does) before
//!   `handle_incoming_packet`, so both sides pay for decoding.
//! - Both drain every event (ours: `poll_event`; rumqttc: its public `events` queue),
//!   so no queue grows.
//! - The message handed to `publish` / `Request::Publish` is built outside the timed
//!   region (`iter_batched`), from a topic and a payload the application already
//!   holds as shared `Bytes`. rumqttc 3.1.1 keeps the topic as a `String`, so its
//!   own copy into the in-flight store allocates; that is part of its round trip.
//! - Acks come with the packet identifier each crate is known to assign next (ours:
//!   1, 2, ... 65,535, 1, ...; rumqttc: 1 ..= its max inflight, 1, ...); a counter
//!   beside each state keeps in step, and a mismatch fails the run (ours: the event
//!   is not `Published`; rumqttc: `Unsolicited`).
//! - MQTT 5.0 messages carry no properties on either side; the 5.0 acks are the
//!   4-byte short form (Reason Code 0x00 omitted), valid for both versions.
//! - rumqttc runs with its default max inflight (`MqttOptions` default, 100).
//!
//! Before criterion runs, a counting global allocator measures the live heap held by
//! an idle connected client and by one with 1,000 QoS 1 messages in flight, and the
//! allocations per round trip of each crate. It prints them and writes them to
//! `target/criterion/client-heap.txt`; counting is switched off while criterion
//! measures time.
//!
//! `python3 benches/report_client.py` prints the medians of the last run beside the
//! heap figures, with the ratio to rumqttc and the target (ours <= 0.5 x rumqttc).

// The counting allocator needs `unsafe impl GlobalAlloc`; nothing else here is unsafe.
#![allow(unsafe_code)]

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, criterion_group};
use mqtt_sansio::{
    Client, ClientConfig, Event, Instant, Message, MqttString, ProtocolVersion, PublishId, QoS,
    TopicName,
};
use rumqttc::mqttbytes::v4 as rv4;
use rumqttc::v5::mqttbytes::v5 as rv5;
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering::Relaxed};

// ---- the counting allocator ----

/// `System`, counting live bytes, allocations and bytes allocated while `COUNTING`.
struct Counting;

/// On until criterion starts, so timing pays only for one relaxed load per call.
static COUNTING: AtomicBool = AtomicBool::new(true);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOCATED: AtomicU64 = AtomicU64::new(0);

fn counted_alloc(size: usize) {
    if COUNTING.load(Relaxed) {
        LIVE.fetch_add(size as isize, Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        ALLOCATED.fetch_add(size as u64, Relaxed);
    }
}

fn counted_free(size: usize) {
    if COUNTING.load(Relaxed) {
        LIVE.fetch_sub(size as isize, Relaxed);
    }
}

// SAFETY: every method forwards its arguments to `System` unchanged and returns what
// `System` returned; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            counted_alloc(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            counted_alloc(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` and `layout` come from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) };
        counted_free(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; `new_size` is the caller's, passed on as is.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // A reallocation counts as one allocation of the new size.
            counted_free(layout.size());
            counted_alloc(new_size);
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Relaxed)
}

// ---- shared setup ----

const V4: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;
const TOPIC: &str = "sensors/building-7/floor-3/temperature";
const PAYLOAD_LEN: usize = 16;
const NOW: Instant = Instant::ZERO;
/// rumqttc's default `MqttOptions::inflight`.
const RUMQTTC_INFLIGHT: u16 = 100;
/// rumqttc's default `MqttOptions` packet size limits (3.1.1); 5.0 has no outgoing one
/// until CONNACK sets it.
const RUMQTTC_MAX_PACKET: usize = 10 * 1024;
/// rumqttc's `Framed` starts its buffers at 8 KiB.
const FRAMED_CAPACITY: usize = 8 * 1024;
const IN_FLIGHT: usize = 1_000;

const PUBACK: u8 = 0x40;
const PUBREC: u8 = 0x50;
const PUBCOMP: u8 = 0x70;

fn label(version: ProtocolVersion) -> &'static str {
    if version.is_v5() { "v5" } else { "v311" }
}

/// A PUBACK, PUBREC or PUBCOMP with Reason Code 0x00 in its 4-byte form.
fn ack(first_byte: u8, packet_id: u16) -> [u8; 4] {
    let [hi, lo] = packet_id.to_be_bytes();
    [first_byte, 0x02, hi, lo]
}

fn connack(version: ProtocolVersion) -> &'static [u8] {
    if version.is_v5() {
        &[0x20, 0x03, 0x00, 0x00, 0x00]
    } else {
        &[0x20, 0x02, 0x00, 0x00]
    }
}

/// The packet identifiers a state assigns: 1 ..= `max`, then 1 again.
struct PacketIds {
    next: u16,
    max: u16,
}

impl PacketIds {
    fn new(max: u16) -> Self {
        PacketIds { next: 1, max }
    }

    fn next(&mut self) -> u16 {
        let id = self.next;
        self.next = if id == self.max { 1 } else { id + 1 };
        id
    }
}

/// What the application holds: a topic and a payload, shared `Bytes` already promoted
/// to their shared form, so handing out a clone is a reference count.
struct Source {
    topic: TopicName,
    topic_bytes: Bytes,
    payload: Bytes,
}

impl Source {
    fn new() -> Self {
        let topic = TopicName::try_from(TOPIC.to_owned()).unwrap();
        let topic_bytes = Bytes::from(TOPIC.as_bytes().to_vec());
        let payload = Bytes::from(vec![0xA5; PAYLOAD_LEN]);
        // The first clone of a `Bytes` made from a `Vec` allocates its shared header;
        // take it here rather than in a measured region.
        drop((topic.clone(), topic_bytes.clone(), payload.clone()));
        Source {
            topic,
            topic_bytes,
            payload,
        }
    }

    fn ours(&self, qos: QoS) -> Message {
        Message::new(self.topic.clone(), self.payload.clone(), qos)
    }

    fn rumqttc_v4(&self, qos: QoS) -> rv4::Publish {
        let qos = match qos {
            QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
            QoS::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
            QoS::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
        };
        // Its topic is a `String`: the application's copy is made here, untimed.
        rv4::Publish::from_bytes(TOPIC, qos, self.payload.clone())
    }

    fn rumqttc_v5(&self, qos: QoS) -> rv5::Publish {
        let qos = match qos {
            QoS::AtMostOnce => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
            QoS::AtLeastOnce => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
            QoS::ExactlyOnce => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
        };
        // No properties, like ours.
        rv5::Publish {
            dup: false,
            qos,
            retain: false,
            topic: self.topic_bytes.clone(),
            pkid: 0,
            payload: self.payload.clone(),
            properties: None,
        }
    }
}

// ---- ours ----

/// A connected client and the packet identifiers it will assign.
struct Ours {
    client: Client,
    ids: PacketIds,
}

impl Ours {
    /// A client after an accepting CONNACK, CONNECT taken, events drained.
    fn connected(version: ProtocolVersion) -> Self {
        let config = ClientConfig::new(version, MqttString::from_static("bench-client").unwrap());
        let mut client = Client::new(config).unwrap();
        client.handle_transport_open(NOW).unwrap();
        drop(client.poll_transmit().unwrap());
        client.handle_input(NOW, connack(version));
        assert!(matches!(client.poll_event(), Some(Event::Connected(_))));
        assert!(client.poll_event().is_none());
        assert!(client.poll_transmit().is_none());
        Ours {
            client,
            ids: PacketIds::new(u16::MAX),
        }
    }

    fn published(&mut self, id: PublishId) {
        match self.client.poll_event() {
            Some(Event::Published {
                id: done,
                result: Ok(()),
                ..
            }) if done == id => {}
            other => panic!("expected Published for {id:?}, got {other:?}"),
        }
        if let Some(extra) = self.client.poll_event() {
            panic!("unexpected event {extra:?}");
        }
    }

    /// Takes what the client wrote, as a driver writing from the client's buffer
    /// does (`pending_transmit` + `advance_transmit`: no copy, no reference count);
    /// keeps a copy only for the equivalence check.
    fn flush(&mut self, keep: bool) -> Bytes {
        let pending = black_box(self.client.pending_transmit());
        let kept = if keep {
            Bytes::copy_from_slice(pending)
        } else {
            Bytes::new()
        };
        let written = pending.len();
        assert!(written > 0);
        self.client.advance_transmit(written);
        kept
    }

    /// Returns the PUBLISH bytes when `keep`, for the equivalence check.
    fn qos1(&mut self, message: Message, keep: bool) -> Bytes {
        let id = self.client.publish(NOW, message).unwrap();
        let publish = self.flush(keep);
        self.client.handle_input(NOW, &ack(PUBACK, self.ids.next()));
        self.published(id);
        publish
    }

    /// Returns the PUBLISH and PUBREL bytes when `keep`, for the equivalence check.
    fn qos2(&mut self, message: Message, keep: bool) -> (Bytes, Bytes) {
        let id = self.client.publish(NOW, message).unwrap();
        let publish = self.flush(keep);
        let packet_id = self.ids.next();
        self.client.handle_input(NOW, &ack(PUBREC, packet_id));
        let pubrel = self.flush(keep);
        self.client.handle_input(NOW, &ack(PUBCOMP, packet_id));
        self.published(id);
        (publish, pubrel)
    }
}

// ---- rumqttc ----

/// rumqttc's state with the buffers its `Network` would hold, one per version.
struct Rumqttc<S> {
    state: S,
    tx: BytesMut,
    rx: BytesMut,
    ids: PacketIds,
}

type RumqttcV4 = Rumqttc<rumqttc::MqttState>;
type RumqttcV5 = Rumqttc<rumqttc::v5::MqttState>;

impl<S> Rumqttc<S> {
    fn with(state: S, max_inflight: u16) -> Self {
        Rumqttc {
            state,
            tx: BytesMut::with_capacity(FRAMED_CAPACITY),
            rx: BytesMut::with_capacity(FRAMED_CAPACITY),
            ids: PacketIds::new(max_inflight),
        }
    }

    /// What a flush to the socket does to the write buffer; returns the bytes for the
    /// equivalence check (`split` there would change what is measured, so the check
    /// copies).
    fn flush(&mut self, keep: bool) -> Option<Vec<u8>> {
        black_box(&self.tx[..]);
        let kept = keep.then(|| self.tx.to_vec());
        self.tx.clear();
        kept
    }
}

impl RumqttcV4 {
    /// 3.1.1 has no CONNACK handling in the state (its event loop reads CONNACK).
    fn connected(max_inflight: u16) -> Self {
        Self::with(rumqttc::MqttState::new(max_inflight, false), max_inflight)
    }

    fn read(&mut self, bytes: &[u8]) -> rv4::Packet {
        self.rx.extend_from_slice(bytes);
        rv4::Packet::read(&mut self.rx, RUMQTTC_MAX_PACKET).unwrap()
    }

    fn drain(&mut self) {
        while let Some(event) = self.state.events.pop_front() {
            black_box(event);
        }
    }

    fn qos1(&mut self, publish: rv4::Publish, keep: bool) -> Option<Vec<u8>> {
        let packet = self
            .state
            .handle_outgoing_packet(rumqttc::Request::Publish(publish))
            .unwrap()
            .unwrap();
        packet.write(&mut self.tx, RUMQTTC_MAX_PACKET).unwrap();
        let publish = self.flush(keep);
        let packet_id = self.ids.next();
        let puback = self.read(&ack(PUBACK, packet_id));
        assert!(self.state.handle_incoming_packet(puback).unwrap().is_none());
        self.drain();
        publish
    }

    fn qos2(&mut self, publish: rv4::Publish, keep: bool) -> Option<(Vec<u8>, Vec<u8>)> {
        let packet = self
            .state
            .handle_outgoing_packet(rumqttc::Request::Publish(publish))
            .unwrap()
            .unwrap();
        packet.write(&mut self.tx, RUMQTTC_MAX_PACKET).unwrap();
        let publish = self.flush(keep);
        let packet_id = self.ids.next();
        let pubrec = self.read(&ack(PUBREC, packet_id));
        let pubrel = self.state.handle_incoming_packet(pubrec).unwrap().unwrap();
        pubrel.write(&mut self.tx, RUMQTTC_MAX_PACKET).unwrap();
        let pubrel = self.flush(keep);
        let pubcomp = self.read(&ack(PUBCOMP, packet_id));
        assert!(
            self.state
                .handle_incoming_packet(pubcomp)
                .unwrap()
                .is_none()
        );
        self.drain();
        publish.zip(pubrel)
    }
}

impl RumqttcV5 {
    /// After an accepting CONNACK (no properties), events drained.
    fn connected(max_inflight: u16) -> Self {
        let mut this = Self::with(
            rumqttc::v5::MqttState::new(max_inflight, false),
            max_inflight,
        );
        let connack = this.read(connack(V5));
        assert!(
            this.state
                .handle_incoming_packet(connack)
                .unwrap()
                .is_none()
        );
        this.drain();
        this
    }

    fn read(&mut self, bytes: &[u8]) -> rv5::Packet {
        self.rx.extend_from_slice(bytes);
        rv5::Packet::read(&mut self.rx, None).unwrap()
    }

    fn drain(&mut self) {
        while let Some(event) = self.state.events.pop_front() {
            black_box(event);
        }
    }

    fn qos1(&mut self, publish: rv5::Publish, keep: bool) -> Option<Vec<u8>> {
        let packet = self
            .state
            .handle_outgoing_packet(rumqttc::v5::Request::Publish(publish))
            .unwrap()
            .unwrap();
        packet.write(&mut self.tx, None).unwrap();
        let publish = self.flush(keep);
        let packet_id = self.ids.next();
        let puback = self.read(&ack(PUBACK, packet_id));
        assert!(self.state.handle_incoming_packet(puback).unwrap().is_none());
        self.drain();
        publish
    }

    fn qos2(&mut self, publish: rv5::Publish, keep: bool) -> Option<(Vec<u8>, Vec<u8>)> {
        let packet = self
            .state
            .handle_outgoing_packet(rumqttc::v5::Request::Publish(publish))
            .unwrap()
            .unwrap();
        packet.write(&mut self.tx, None).unwrap();
        let publish = self.flush(keep);
        let packet_id = self.ids.next();
        let pubrec = self.read(&ack(PUBREC, packet_id));
        let pubrel = self.state.handle_incoming_packet(pubrec).unwrap().unwrap();
        pubrel.write(&mut self.tx, None).unwrap();
        let pubrel = self.flush(keep);
        let pubcomp = self.read(&ack(PUBCOMP, packet_id));
        assert!(
            self.state
                .handle_incoming_packet(pubcomp)
                .unwrap()
                .is_none()
        );
        self.drain();
        publish.zip(pubrel)
    }
}

// ---- before criterion: equivalence, heap, allocations ----

/// Both crates put the same bytes on the wire for the same round trips.
fn check_equivalence(source: &Source) {
    let mut ours = Ours::connected(V4);
    let mut theirs = RumqttcV4::connected(RUMQTTC_INFLIGHT);
    let a = ours.qos1(source.ours(QoS::AtLeastOnce), true);
    let b = theirs.qos1(source.rumqttc_v4(QoS::AtLeastOnce), true);
    assert_eq!(Some(a.to_vec()), b, "3.1.1 QoS 1 PUBLISH differs");
    let (a1, a2) = ours.qos2(source.ours(QoS::ExactlyOnce), true);
    let b = theirs.qos2(source.rumqttc_v4(QoS::ExactlyOnce), true);
    assert_eq!(Some((a1.to_vec(), a2.to_vec())), b, "3.1.1 QoS 2 differs");

    let mut ours = Ours::connected(V5);
    let mut theirs = RumqttcV5::connected(RUMQTTC_INFLIGHT);
    let a = ours.qos1(source.ours(QoS::AtLeastOnce), true);
    let b = theirs.qos1(source.rumqttc_v5(QoS::AtLeastOnce), true);
    assert_eq!(Some(a.to_vec()), b, "5.0 QoS 1 PUBLISH differs");
    let (a1, a2) = ours.qos2(source.ours(QoS::ExactlyOnce), true);
    let b = theirs.qos2(source.rumqttc_v5(QoS::ExactlyOnce), true);
    assert_eq!(Some((a1.to_vec(), a2.to_vec())), b, "5.0 QoS 2 differs");
}

/// Live bytes held by an idle connected client, then with `IN_FLIGHT` QoS 1 messages
/// published and not acknowledged (transmit drained after each, as a driver does).
fn heap_ours(source: &Source, version: ProtocolVersion) -> (isize, isize) {
    let before = live();
    let mut ours = Ours::connected(version);
    let idle = live() - before;
    for _ in 0..IN_FLIGHT {
        ours.client
            .publish(NOW, source.ours(QoS::AtLeastOnce))
            .unwrap();
        drop(ours.client.poll_transmit().unwrap());
    }
    assert!(ours.client.poll_event().is_none());
    assert_eq!(ours.client.stats().in_flight, IN_FLIGHT);
    let loaded = live() - before;
    drop(ours);
    (idle, loaded)
}

/// The same for rumqttc's 3.1.1 state alone (its `Network` buffers are not counted;
/// ours holds its receive and transmit buffers inside `Client`).
fn heap_rumqttc_v4(source: &Source, max_inflight: u16) -> (isize, isize) {
    let before = live();
    let mut state = rumqttc::MqttState::new(max_inflight, false);
    let idle = live() - before;
    for _ in 0..IN_FLIGHT {
        let packet = state
            .handle_outgoing_packet(rumqttc::Request::Publish(
                source.rumqttc_v4(QoS::AtLeastOnce),
            ))
            .unwrap();
        drop(packet.unwrap());
        state.events.clear();
    }
    assert_eq!(usize::from(state.inflight()), IN_FLIGHT);
    let loaded = live() - before;
    drop(state);
    (idle, loaded)
}

/// The same for rumqttc's 5.0 state alone, after CONNACK.
fn heap_rumqttc_v5(source: &Source, max_inflight: u16) -> (isize, isize) {
    let mut rx = BytesMut::from(connack(V5));
    let connack = rv5::Packet::read(&mut rx, None).unwrap();
    let before = live();
    let mut state = rumqttc::v5::MqttState::new(max_inflight, false);
    assert!(state.handle_incoming_packet(connack).unwrap().is_none());
    state.events.clear();
    let idle = live() - before;
    for _ in 0..IN_FLIGHT {
        let packet = state
            .handle_outgoing_packet(rumqttc::v5::Request::Publish(
                source.rumqttc_v5(QoS::AtLeastOnce),
            ))
            .unwrap();
        drop(packet.unwrap());
        state.events.clear();
    }
    assert_eq!(usize::from(state.inflight()), IN_FLIGHT);
    let loaded = live() - before;
    drop(state);
    (idle, loaded)
}

/// Allocations and bytes allocated per round trip, over `N` round trips after a
/// warm-up; the messages are built before counting, as in the timed rows.
fn per_roundtrip<M>(make: impl Fn() -> M, mut run: impl FnMut(M)) -> (f64, f64) {
    const WARM: usize = 1_000;
    const N: usize = 10_000;
    for _ in 0..WARM {
        run(make());
    }
    let messages: Vec<M> = (0..N).map(|_| make()).collect();
    let (allocs, bytes) = (ALLOCS.load(Relaxed), ALLOCATED.load(Relaxed));
    for message in messages {
        run(message);
    }
    let allocs = ALLOCS.load(Relaxed) - allocs;
    let bytes = ALLOCATED.load(Relaxed) - bytes;
    (allocs as f64 / N as f64, bytes as f64 / N as f64)
}

fn heap_report() -> String {
    let source = Source::new();
    check_equivalence(&source);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "Client memory (counting global allocator; live bytes after minus before building \
         the state; in flight = {IN_FLIGHT} QoS 1 messages published, not acknowledged)."
    );
    let _ = writeln!(
        out,
        "Ours: the whole `Client` incl. its rx/tx buffers. rumqttc: `MqttState` alone \
         (its Network/Framed buffers, 8 KiB each at start, not counted) with max inflight \
         {IN_FLIGHT} (the least that holds {IN_FLIGHT}) and, last column, 65535 (ours' \
         default cap)."
    );
    let _ = writeln!(
        out,
        "Inline sizes: Client {} B, rumqttc::MqttState {} B, rumqttc::v5::MqttState {} B; \
         Publish: ours {} B, rumqttc 3.1.1 {} B, rumqttc 5.0 {} B.\n",
        size_of::<Client>(),
        size_of::<rumqttc::MqttState>(),
        size_of::<rumqttc::v5::MqttState>(),
        size_of::<mqtt_sansio::Publish>(),
        size_of::<rv4::Publish>(),
        size_of::<rv5::Publish>()
    );
    let _ = writeln!(
        out,
        "| row | ours | rumqttc (max inflight {IN_FLIGHT}) | rumqttc (max inflight 65535) |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for version in [V4, V5] {
        let (ours_idle, ours_loaded) = heap_ours(&source, version);
        let (small, big) = if version.is_v5() {
            (
                heap_rumqttc_v5(&source, IN_FLIGHT as u16),
                heap_rumqttc_v5(&source, u16::MAX),
            )
        } else {
            (
                heap_rumqttc_v4(&source, IN_FLIGHT as u16),
                heap_rumqttc_v4(&source, u16::MAX),
            )
        };
        let v = label(version);
        let _ = writeln!(
            out,
            "| heap_bytes/idle_connected/{v} | {ours_idle} | {} | {} |",
            small.0, big.0
        );
        let _ = writeln!(
            out,
            "| heap_bytes/inflight_{IN_FLIGHT}/{v} | {ours_loaded} | {} | {} |",
            small.1, big.1
        );
    }

    let _ = writeln!(
        out,
        "\nAllocations per round trip (rumqttc with max inflight {RUMQTTC_INFLIGHT}, as \
         timed; message construction excluded, as timed).\n"
    );
    let _ = writeln!(
        out,
        "| row | ours | rumqttc | ours bytes allocated | rumqttc bytes allocated |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    let mut row = |name: &str, ours: (f64, f64), theirs: (f64, f64)| {
        let _ = writeln!(
            out,
            "| allocs/{name} | {:.2} | {:.2} | {:.1} | {:.1} |",
            ours.0, theirs.0, ours.1, theirs.1
        );
    };
    for version in [V4, V5] {
        let v = label(version);
        let mut ours = Ours::connected(version);
        let o1 = per_roundtrip(
            || source.ours(QoS::AtLeastOnce),
            |m| drop(ours.qos1(m, false)),
        );
        let o2 = per_roundtrip(
            || source.ours(QoS::ExactlyOnce),
            |m| drop(ours.qos2(m, false)),
        );
        let (t1, t2) = if version.is_v5() {
            let mut theirs = RumqttcV5::connected(RUMQTTC_INFLIGHT);
            let t1 = per_roundtrip(
                || source.rumqttc_v5(QoS::AtLeastOnce),
                |m| drop(theirs.qos1(m, false)),
            );
            let t2 = per_roundtrip(
                || source.rumqttc_v5(QoS::ExactlyOnce),
                |m| drop(theirs.qos2(m, false)),
            );
            (t1, t2)
        } else {
            let mut theirs = RumqttcV4::connected(RUMQTTC_INFLIGHT);
            let t1 = per_roundtrip(
                || source.rumqttc_v4(QoS::AtLeastOnce),
                |m| drop(theirs.qos1(m, false)),
            );
            let t2 = per_roundtrip(
                || source.rumqttc_v4(QoS::ExactlyOnce),
                |m| drop(theirs.qos2(m, false)),
            );
            (t1, t2)
        };
        row(&format!("qos1_roundtrip/{v}"), o1, t1);
        row(&format!("qos2_roundtrip/{v}"), o2, t2);
    }
    out
}

// ---- criterion ----

fn roundtrips(c: &mut Criterion) {
    let source = Source::new();
    for (qos, group) in [
        (QoS::AtLeastOnce, "client/qos1_roundtrip"),
        (QoS::ExactlyOnce, "client/qos2_roundtrip"),
    ] {
        let mut g = c.benchmark_group(group);
        for version in [V4, V5] {
            let v = label(version);
            let mut ours = Ours::connected(version);
            g.bench_function(format!("{v}/ours"), |b| {
                b.iter_batched(
                    || source.ours(qos),
                    |m| match qos {
                        QoS::ExactlyOnce => drop(ours.qos2(m, false)),
                        _ => drop(ours.qos1(m, false)),
                    },
                    BatchSize::SmallInput,
                )
            });
            if version.is_v5() {
                let mut theirs = RumqttcV5::connected(RUMQTTC_INFLIGHT);
                g.bench_function(format!("{v}/rumqttc"), |b| {
                    b.iter_batched(
                        || source.rumqttc_v5(qos),
                        |m| match qos {
                            QoS::ExactlyOnce => drop(theirs.qos2(m, false)),
                            _ => drop(theirs.qos1(m, false)),
                        },
                        BatchSize::SmallInput,
                    )
                });
            } else {
                let mut theirs = RumqttcV4::connected(RUMQTTC_INFLIGHT);
                g.bench_function(format!("{v}/rumqttc"), |b| {
                    b.iter_batched(
                        || source.rumqttc_v4(qos),
                        |m| match qos {
                            QoS::ExactlyOnce => drop(theirs.qos2(m, false)),
                            _ => drop(theirs.qos1(m, false)),
                        },
                        BatchSize::SmallInput,
                    )
                });
            }
        }
        g.finish();
    }
}

criterion_group!(benches, roundtrips);

/// `criterion_main!` with the memory report first, counted before criterion starts.
fn main() {
    let report = heap_report();
    COUNTING.store(false, Relaxed);
    println!("{report}");
    if std::env::args().any(|a| a == "--bench") {
        let dir = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| PathBuf::from("target"), PathBuf::from)
            .join("criterion");
        let written = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("client-heap.txt"), &report));
        if let Err(error) = written {
            eprintln!("could not write {}: {error}", dir.display());
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
