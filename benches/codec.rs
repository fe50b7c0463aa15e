//! Codec benchmarks: this crate beside rumqttc 0.25 (its mqttbytes v4/v5 codec) and
//! mqttrs 0.4 (3.1.1 only), measured in the same run on the same bytes.
//!
//! Method, the same for every crate:
//! - The bytes of every row are written by this crate's encoder and decoded by all
//!   three; the encode rows encode what each crate decoded from those bytes.
//! - Per-packet decode rows read one packet per iteration from a receive buffer that
//!   holds `BATCH` back-to-back copies, as a connection's buffer does. Filling the
//!   buffer and dropping the decoded packets are outside the timed region (criterion's
//!   `iter_batched` convention); mqttrs decodes borrowed packets from the same bytes.
//! - Encode rows write into a buffer with enough capacity, cleared each iteration; each
//!   batch of iterations places it at another offset and encodes another of four copies
//!   of the packet, decoded from the bytes at four offsets.
//!
//! `python3 benches/report.py` prints the medians of the last run as a table with the
//! ratios the codec issue sets as targets.

#![allow(missing_docs, clippy::disallowed_methods)] // a bench measures wall time

use bytes::{Buf, BufMut, Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mqtt_sansio::{
    Connect, Decoder, MqttString, Packet, PacketId, ProtocolVersion, PubAck, PubComp, PubRec,
    PubRel, Publish, QoS, QosPid, SubAck, SubAckReasonCode, Subscribe, Subscription,
    SubscriptionOptions, TopicFilter, TopicName, Unsubscribe, Will,
};
use rumqttc::mqttbytes::v4 as rv4;
use rumqttc::v5::mqttbytes::v5 as rv5;
use std::hint::black_box;
use std::time::{Duration, Instant};

const V4: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;
const TOPIC: &str = "sensors/building-7/floor-3/temperature";
const BATCH: usize = 32;
const PAYLOADS: [(usize, &str); 4] = [
    (16, "16B"),
    (256, "256B"),
    (4096, "4KiB"),
    (65_536, "64KiB"),
];

fn s(text: &'static str) -> MqttString {
    MqttString::from_static(text).unwrap()
}

fn publish(version: ProtocolVersion, payload_len: usize) -> Packet {
    let mut p = Publish::new(
        TopicName::from_static(TOPIC).unwrap(),
        Bytes::from(vec![0xA5; payload_len]),
    );
    p.qos_pid = QosPid::AtLeastOnce(PacketId::new(42).unwrap());
    if version.is_v5() {
        p.properties.message_expiry_interval = Some(3600);
        p.properties.content_type = Some(s("application/json"));
        p.properties.user_properties.push(s("unit"), s("celsius"));
    }
    Packet::from(p)
}

fn connect_v5() -> Packet {
    let mut c = Connect::new(s("building-7-gateway-0042"));
    c.clean_start = false;
    c.username = Some(s("gateway"));
    c.password = Some(Bytes::from_static(b"correct horse battery staple"));
    c.properties.session_expiry_interval = Some(86_400);
    c.properties.receive_maximum = std::num::NonZeroU16::new(100);
    c.properties.maximum_packet_size = std::num::NonZeroU32::new(1 << 20);
    c.properties.topic_alias_maximum = Some(16);
    c.properties
        .user_properties
        .push(s("site"), s("building-7"));
    let mut will = Will::new(
        TopicName::from_static("gateways/building-7/status").unwrap(),
        Bytes::from_static(b"offline"),
    );
    will.qos = QoS::AtLeastOnce;
    will.retain = true;
    will.properties.will_delay_interval = Some(30);
    will.properties.message_expiry_interval = Some(3600);
    will.properties.content_type = Some(s("text/plain"));
    c.will = Some(will);
    Packet::from(c)
}

fn subscribe(version: ProtocolVersion) -> Packet {
    let filters = (0..10)
        .map(|i| {
            let filter =
                TopicFilter::try_from(format!("sensors/building-{i}/+/temperature")).unwrap();
            let mut options = SubscriptionOptions::new(QoS::AtLeastOnce);
            if version.is_v5() {
                options.no_local = i % 2 == 0;
            }
            Subscription { filter, options }
        })
        .collect();
    Packet::from(Subscribe::new(PacketId::new(7).unwrap(), filters))
}

fn encode(p: &Packet, v: ProtocolVersion) -> Vec<u8> {
    let mut buf = BytesMut::new();
    p.encode(v, &mut buf).unwrap();
    buf.to_vec()
}

/// A deterministic mix of 10,000 packets, weighted like a busy client connection.
fn mixed_stream(v: ProtocolVersion) -> (Vec<u8>, usize) {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut out = Vec::new();
    let count = 10_000;
    for i in 0..count {
        let id = PacketId::new((i % 65_535 + 1) as u16).unwrap();
        let r = next();
        let packet = match r % 20 {
            0..=7 => {
                let mut p = Publish::new(
                    TopicName::try_from(format!("sensors/{}/reading", r % 97)).unwrap(),
                    Bytes::from(vec![0x42; (r % 200) as usize]),
                );
                p.qos_pid = match r % 3 {
                    0 => QosPid::AtMostOnce,
                    1 => QosPid::AtLeastOnce(id),
                    _ => QosPid::ExactlyOnce(id),
                };
                if v.is_v5() && r % 2 == 0 {
                    p.properties.message_expiry_interval = Some(60);
                }
                Packet::from(p)
            }
            8..=11 => Packet::from(PubAck::new(id)),
            12 => Packet::from(PubRec::new(id)),
            13 => Packet::from(PubRel::new(id)),
            14 => Packet::from(PubComp::new(id)),
            15 => subscribe(v),
            16 => Packet::from(SubAck::new(id, vec![SubAckReasonCode::GrantedQoS1; 3])),
            17 => Packet::from(Unsubscribe::new(
                id,
                vec![TopicFilter::from_static("a/+/b").unwrap()],
            )),
            18 => Packet::PingReq,
            _ => Packet::PingResp,
        };
        out.extend(encode(&packet, v));
    }
    (out, count)
}

/// Times decoding one packet per iteration out of a buffer of `BATCH` copies of `one`.
/// Each batch starts the copies at another offset, so no row is measured at only one
/// alignment of the data (which moves single rows by 20% or more on this machine).
fn time_buffered<T>(
    iters: u64,
    one: &[u8],
    mut decode: impl FnMut(&mut BytesMut) -> T,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    let mut out = Vec::with_capacity(BATCH);
    let mut shift = 0;
    while left > 0 {
        let n = left.min(BATCH as u64) as usize;
        shift = (shift + 13) % 64;
        let mut buf = BytesMut::with_capacity(64 + one.len() * n);
        buf.extend_from_slice(&[0; 64][..shift]);
        for _ in 0..n {
            buf.extend_from_slice(one);
        }
        let _ = buf.split_to(shift);
        let start = Instant::now();
        for _ in 0..n {
            out.push(decode(black_box(&mut buf)));
        }
        total += start.elapsed();
        assert!(buf.is_empty());
        out.clear();
        left -= n as u64;
    }
    total
}

/// The same for mqttrs, which decodes borrowed packets out of a byte slice.
fn time_mqttrs(iters: u64, one: &[u8]) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    let mut shift = 0;
    while left > 0 {
        let n = left.min(BATCH as u64) as usize;
        shift = (shift + 13) % 64;
        let mut many = vec![0; shift];
        for _ in 0..n {
            many.extend_from_slice(one);
        }
        let mut out = Vec::with_capacity(BATCH);
        let start = Instant::now();
        for i in 0..n {
            out.push(mqttrs_decode(black_box(&many[shift + i * one.len()..])));
        }
        total += start.elapsed();
        drop(out);
        left -= n as u64;
    }
    total
}

fn ours_decode(v: ProtocolVersion) -> impl FnMut(&mut BytesMut) -> Packet {
    let mut decoder = Decoder::new(v);
    move |buf| decoder.decode(buf).unwrap().unwrap()
}

fn rumqttc_v4_decode(buf: &mut BytesMut) -> rv4::Packet {
    rv4::Packet::read(buf, usize::MAX).unwrap()
}

fn rumqttc_v5_decode(buf: &mut BytesMut) -> rv5::Packet {
    rv5::Packet::read(buf, None).unwrap()
}

fn mqttrs_decode(bytes: &[u8]) -> mqttrs::Packet<'_> {
    mqttrs::decode_slice(bytes).unwrap().unwrap()
}

/// rumqttc's encoder for each version: PUBLISH and SUBSCRIBE through their own `write`
/// (the packet-level one takes a size limit).
trait RumqttcWrite {
    fn write_to(&self, out: &mut BytesMut);
}

impl RumqttcWrite for rv4::Packet {
    fn write_to(&self, out: &mut BytesMut) {
        match self {
            rv4::Packet::Publish(p) => p.write(out),
            rv4::Packet::Subscribe(p) => p.write(out),
            other => other.write(out, usize::MAX),
        }
        .unwrap();
    }
}

impl RumqttcWrite for rv5::Packet {
    fn write_to(&self, out: &mut BytesMut) {
        match self {
            rv5::Packet::Publish(p) => p.write(out),
            rv5::Packet::Subscribe(p) => p.write(out),
            other => other.write(out, None),
        }
        .unwrap();
    }
}

/// The decode rows for one packet: ours and rumqttc for both versions, mqttrs for 3.1.1.
fn decode_rows(
    c: &mut Criterion,
    group: &str,
    param: &str,
    v4_bytes: Option<&[u8]>,
    v5_bytes: &[u8],
) {
    let mut g = c.benchmark_group(format!("decode/{group}"));
    if let Some(bytes) = v4_bytes {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(BenchmarkId::new("v311/mqtt-sansio", param), |b| {
            b.iter_custom(|n| time_buffered(n, bytes, ours_decode(V4)))
        });
        g.bench_function(BenchmarkId::new("v311/rumqttc", param), |b| {
            b.iter_custom(|n| time_buffered(n, bytes, rumqttc_v4_decode))
        });
        g.bench_function(BenchmarkId::new("v311/mqttrs", param), |b| {
            b.iter_custom(|n| time_mqttrs(n, bytes))
        });
    }
    g.throughput(Throughput::Bytes(v5_bytes.len() as u64));
    g.bench_function(BenchmarkId::new("v5/mqtt-sansio", param), |b| {
        b.iter_custom(|n| time_buffered(n, v5_bytes, ours_decode(V5)))
    });
    g.bench_function(BenchmarkId::new("v5/rumqttc", param), |b| {
        b.iter_custom(|n| time_buffered(n, v5_bytes, rumqttc_v5_decode))
    });
    g.finish();
}

/// How many copies of each packet the encode rows take turns with, each decoded from
/// the bytes at another offset, so the payload a row copies sits at several alignments.
const SOURCES: usize = 4;

/// `bytes` at `SOURCES` offsets 16 bytes apart (heap blocks are 16-byte aligned), each
/// in a buffer of its own.
fn sources(bytes: &[u8]) -> Vec<BytesMut> {
    (0..SOURCES)
        .map(|i| {
            let mut buf = BytesMut::with_capacity(16 * i + bytes.len());
            buf.put_bytes(0, 16 * i);
            buf.extend_from_slice(bytes);
            buf.advance(16 * i);
            buf
        })
        .collect()
}

/// Runs `iters` iterations in batches of `BATCH`: `batch(source, shift, n)` times `n`
/// of them, with its output buffer `shift` bytes (0 to 63) into its allocation and the
/// packet copy `source` (of `SOURCES`).
fn in_batches(iters: u64, mut batch: impl FnMut(usize, usize, u64) -> Duration) -> Duration {
    let (mut total, mut left, mut shift, mut index) = (Duration::ZERO, iters, 0, 0);
    while left > 0 {
        index += 1;
        let n = left.min(BATCH as u64);
        shift = (shift + 13) % 64;
        total += batch(index % SOURCES, shift, n);
        left -= n;
    }
    total
}

/// Times `encode` writing one packet per iteration into a buffer cleared each time;
/// `encode` gets the batch's source index. Like [`time_buffered`], each batch moves the
/// buffer to another offset, so no row is measured at only one alignment of source and
/// destination.
fn time_encoding(
    iters: u64,
    capacity: usize,
    mut encode: impl FnMut(&mut BytesMut, usize),
) -> Duration {
    in_batches(iters, |source, shift, n| {
        let mut out = BytesMut::with_capacity(64 + capacity);
        out.put_bytes(0, shift);
        out.advance(shift);
        let start = Instant::now();
        for _ in 0..n {
            out.clear();
            encode(black_box(&mut out), source);
        }
        start.elapsed()
    })
}

/// The same for mqttrs, which encodes into a byte slice.
fn time_mqttrs_encoding(iters: u64, capacity: usize, packets: &[mqttrs::Packet<'_>]) -> Duration {
    in_batches(iters, |source, shift, n| {
        let mut out = vec![0u8; 64 + capacity];
        let start = Instant::now();
        for _ in 0..n {
            let packet = black_box(&packets[source]);
            black_box(mqttrs::encode_slice(packet, &mut out[shift..]).unwrap());
        }
        start.elapsed()
    })
}

/// The encode rows for one packet, each crate encoding what it decoded from the bytes.
fn encode_rows(
    c: &mut Criterion,
    group: &str,
    param: &str,
    v4_bytes: Option<&[u8]>,
    v5_bytes: &[u8],
) {
    let mut g = c.benchmark_group(format!("encode/{group}"));
    let capacity = v5_bytes.len().max(v4_bytes.map_or(0, <[u8]>::len));
    if let Some(bytes) = v4_bytes {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        let ours: Vec<Packet> = sources(bytes).iter_mut().map(ours_decode(V4)).collect();
        g.bench_function(BenchmarkId::new("v311/mqtt-sansio", param), |b| {
            b.iter_custom(|n| time_encoding(n, capacity, |out, i| ours[i].encode(V4, out).unwrap()))
        });
        let theirs: Vec<rv4::Packet> = sources(bytes).iter_mut().map(rumqttc_v4_decode).collect();
        g.bench_function(BenchmarkId::new("v311/rumqttc", param), |b| {
            b.iter_custom(|n| time_encoding(n, capacity, |out, i| theirs[i].write_to(out)))
        });
        let slices = sources(bytes);
        let borrowed: Vec<_> = slices.iter().map(|b| mqttrs_decode(b)).collect();
        g.bench_function(BenchmarkId::new("v311/mqttrs", param), |b| {
            b.iter_custom(|n| time_mqttrs_encoding(n, capacity, &borrowed))
        });
    }
    g.throughput(Throughput::Bytes(v5_bytes.len() as u64));
    let ours: Vec<Packet> = sources(v5_bytes).iter_mut().map(ours_decode(V5)).collect();
    g.bench_function(BenchmarkId::new("v5/mqtt-sansio", param), |b| {
        b.iter_custom(|n| time_encoding(n, capacity, |out, i| ours[i].encode(V5, out).unwrap()))
    });
    let theirs: Vec<rv5::Packet> = sources(v5_bytes)
        .iter_mut()
        .map(rumqttc_v5_decode)
        .collect();
    g.bench_function(BenchmarkId::new("v5/rumqttc", param), |b| {
        b.iter_custom(|n| time_encoding(n, capacity, |out, i| theirs[i].write_to(out)))
    });
    g.finish();
}

fn publish_benches(c: &mut Criterion) {
    for (len, name) in PAYLOADS {
        let v4 = encode(&publish(V4, len), V4);
        let v5 = encode(&publish(V5, len), V5);
        decode_rows(c, "publish_qos1", name, Some(&v4), &v5);
        encode_rows(c, "publish_qos1", name, Some(&v4), &v5);
    }
    let mut g = c.benchmark_group("encode_vectored/publish_qos1");
    let mut head = BytesMut::with_capacity(256);
    for (len, name) in [PAYLOADS[0], PAYLOADS[3]] {
        let packet = publish(V5, len);
        g.bench_function(BenchmarkId::new("v5/mqtt-sansio", name), |b| {
            b.iter(|| {
                head.clear();
                black_box(&packet).encode_vectored(V5, &mut head).unwrap()
            })
        });
    }
    g.finish();
}

fn control_packet_benches(c: &mut Criterion) {
    let connect = encode(&connect_v5(), V5);
    decode_rows(c, "connect_props_will", "v5", None, &connect);
    encode_rows(c, "connect_props_will", "v5", None, &connect);
    let sub4 = encode(&subscribe(V4), V4);
    let sub5 = encode(&subscribe(V5), V5);
    decode_rows(c, "subscribe_10_filters", "10", Some(&sub4), &sub5);
    encode_rows(c, "subscribe_10_filters", "10", Some(&sub4), &sub5);
}

fn stream_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode/stream_10000_mixed");
    g.sample_size(20);
    for v in [V4, V5] {
        let (stream, count) = mixed_stream(v);
        let label = if v.is_v5() { "v5" } else { "v311" };
        g.throughput(Throughput::Elements(count as u64));
        let mut out_ours = Vec::with_capacity(count);
        g.bench_function(
            BenchmarkId::new(format!("{label}/mqtt-sansio"), count),
            |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let mut buf = BytesMut::from(&stream[..]);
                        let mut decoder = Decoder::new(v);
                        let start = Instant::now();
                        while let Some(p) = decoder.decode(black_box(&mut buf)).unwrap() {
                            out_ours.push(p);
                        }
                        total += start.elapsed();
                        assert_eq!(out_ours.len(), count);
                        out_ours.clear();
                    }
                    total
                })
            },
        );
        if v.is_v5() {
            let mut out = Vec::with_capacity(count);
            g.bench_function(BenchmarkId::new(format!("{label}/rumqttc"), count), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let mut buf = BytesMut::from(&stream[..]);
                        let start = Instant::now();
                        while !buf.is_empty() {
                            out.push(rumqttc_v5_decode(black_box(&mut buf)));
                        }
                        total += start.elapsed();
                        assert_eq!(out.len(), count);
                        out.clear();
                    }
                    total
                })
            });
        } else {
            let mut out = Vec::with_capacity(count);
            g.bench_function(BenchmarkId::new(format!("{label}/rumqttc"), count), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let mut buf = BytesMut::from(&stream[..]);
                        let start = Instant::now();
                        while !buf.is_empty() {
                            out.push(rumqttc_v4_decode(black_box(&mut buf)));
                        }
                        total += start.elapsed();
                        assert_eq!(out.len(), count);
                        out.clear();
                    }
                    total
                })
            });
            let mut out = Vec::with_capacity(count);
            g.bench_function(BenchmarkId::new(format!("{label}/mqttrs"), count), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let mut at = 0;
                        while at < stream.len() {
                            let rest = black_box(&stream[at..]);
                            let p = mqttrs_decode(rest);
                            at += packet_len(rest);
                            out.push(p);
                        }
                        total += start.elapsed();
                        assert_eq!(out.len(), count);
                        out.clear();
                    }
                    total
                })
            });
        }
    }
    g.finish();
}

/// mqttrs returns no length; the fixed header gives it (as its users must do).
fn packet_len(bytes: &[u8]) -> usize {
    let (mut len, mut shift, mut i) = (0usize, 0, 1);
    loop {
        let b = bytes[i];
        len |= usize::from(b & 0x7F) << shift;
        i += 1;
        if b & 0x80 == 0 {
            return i + len;
        }
        shift += 7;
    }
}

/// What one zero-copy field of a decoded packet costs before any decoding: a `Bytes`
/// handle onto the shared receive buffer is a reference count increment (its drop, a
/// decrement, falls outside the timed region as in the decode rows). A PUBLISH takes
/// two (topic, payload), a SUBSCRIBE one per filter; a decoder that lends `&[u8]`, like
/// mqttrs, takes none.
fn baseline_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("baseline/shared_bytes_handle");
    let mut buf = BytesMut::from(&[0xA5u8; 256][..]);
    let shared = buf.split_to(128).freeze(); // shared with `buf`, as a decoded frame is
    let mut out = Vec::with_capacity(BATCH);
    g.bench_function(BenchmarkId::new("any/bytes", "slice"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(BATCH as u64);
                let start = Instant::now();
                for _ in 0..n {
                    out.push(black_box(&shared).slice(2..40));
                }
                total += start.elapsed();
                out.clear();
                left -= n;
            }
            total
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    publish_benches,
    control_packet_benches,
    stream_benches,
    baseline_benches
);
criterion_main!(benches);
