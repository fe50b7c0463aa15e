//! Allocation guard: in steady state a QoS 1 or QoS 2 round trip through the client
//! allocates nothing, in both versions, and a message in flight costs a bounded number
//! of heap bytes. (The figures beside rumqttc come from `benches/client.rs`.)

// The counting allocator needs `unsafe impl GlobalAlloc`; nothing else here is unsafe.
#![allow(unsafe_code)]

use bytes::Bytes;
use mqtt_sansio::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};

struct Counting;

thread_local! {
    /// Counting is on for the test's own thread only: the harness's threads (which
    /// record the results of tests that finish meanwhile) allocate too.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The tests of this file count one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Relaxed);
        }
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Relaxed);
        }
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn connected(version: ProtocolVersion) -> Client {
    let mut client = Client::new(ClientConfig::new(version, "alloc".parse().unwrap())).unwrap();
    client.handle_transport_open(Instant::ZERO).unwrap();
    let connack: &[u8] = if version.is_v5() {
        &[0x20, 0x03, 0x00, 0x00, 0x00]
    } else {
        &[0x20, 0x02, 0x00, 0x00]
    };
    client.handle_input(Instant::ZERO, connack);
    let n = client.pending_transmit().len();
    client.advance_transmit(n);
    while client.poll_event().is_some() {}
    client
}

fn round_trip(client: &mut Client, message: Message, packet_id: u16) {
    let qos2 = message.qos == QoS::ExactlyOnce;
    client.publish(Instant::ZERO, message).unwrap();
    let n = client.pending_transmit().len();
    client.advance_transmit(n);
    let [hi, lo] = packet_id.to_be_bytes();
    if qos2 {
        client.handle_input(Instant::ZERO, &[0x50, 0x02, hi, lo]);
        let n = client.pending_transmit().len();
        client.advance_transmit(n);
        client.handle_input(Instant::ZERO, &[0x70, 0x02, hi, lo]);
    } else {
        client.handle_input(Instant::ZERO, &[0x40, 0x02, hi, lo]);
    }
    assert!(matches!(
        client.poll_event(),
        Some(Event::Published { result: Ok(()), .. })
    ));
}

#[test]
fn a_round_trip_allocates_nothing_in_steady_state() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let topic: TopicName = "sensors/building-7/floor-3/temperature".parse().unwrap();
    let payload = Bytes::from_static(&[7; 16]);
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let mut client = connected(version);
            let messages: Vec<Message> = (0..1100)
                .map(|_| Message::new(topic.clone(), payload.clone(), qos))
                .collect();
            let mut messages = messages.into_iter();
            // Warm up: buffers and tables reach their working size.
            for packet_id in 1..=100 {
                round_trip(&mut client, messages.next().unwrap(), packet_id);
            }
            ALLOCATIONS.store(0, Relaxed);
            COUNTING.with(|c| c.set(true));
            for packet_id in 101..=1100 {
                round_trip(&mut client, messages.next().unwrap(), packet_id);
            }
            COUNTING.with(|c| c.set(false));
            let allocations = ALLOCATIONS.load(Relaxed);
            // The receive and transmit buffers move their contents back to the front
            // now and then; nothing else may allocate.
            assert!(
                allocations <= 2,
                "{version} {qos:?}: {allocations} allocations in 1,000 round trips"
            );
        }
    }
}

#[test]
fn a_message_in_flight_costs_at_most_160_bytes_of_heap() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let topic: TopicName = "t".parse().unwrap();
    let payload = Bytes::from_static(b"x");
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut client = connected(version);
        let messages: Vec<Message> = (0..1000)
            .map(|_| Message::new(topic.clone(), payload.clone(), QoS::AtLeastOnce))
            .collect();
        let before = LIVE.load(Relaxed);
        for message in messages {
            client.publish(Instant::ZERO, message).unwrap();
            let n = client.pending_transmit().len();
            client.advance_transmit(n);
        }
        let per_message = (LIVE.load(Relaxed) - before) / 1000;
        assert_eq!(client.stats().in_flight, 1000);
        assert!(
            per_message <= 160,
            "{version}: {per_message} bytes per message"
        );
    }
}
