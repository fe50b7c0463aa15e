//! Client keep alive: PINGREQ scheduling, Server Keep Alive, the receive timeout, clock quirks.

mod peer;
use peer::*;

use mqtt_sansio::*;
use std::time::Duration;

const PINGREQ: [u8; 2] = [0xC0, 0x00];
const PINGRESP: [u8; 2] = [0xD0, 0x00];

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn connected(version: ProtocolVersion, keep_alive: u16) -> Peer {
    Peer::connected_with(version, |c| c.keep_alive = keep_alive)
}

/// [MQTT-3.1.2-20] (3.1.1: [MQTT-3.1.2-23]): PINGREQ when the client would
/// otherwise send nothing for a keep alive.
#[test]
fn mqtt_3_1_2_20_pingreq_after_keep_alive_of_silence() {
    for version in VERSIONS {
        let mut p = connected(version, 10);
        // CONNECT went out at 0: the next PINGREQ is due at 10.
        assert_eq!(p.client.poll_timeout(), Some(Instant::from_secs(10)));
        p.advance(Duration::from_millis(9999));
        assert_eq!(p.sent_bytes(), Vec::<u8>::new(), "{version}");
        p.advance(Duration::from_millis(1));
        assert_eq!(p.sent_bytes(), PINGREQ, "{version}");
        p.send_bytes(&PINGRESP);
        assert_eq!(p.events(), vec![]);
        assert!(p.client.is_connected());
        // And again one keep alive after that PINGREQ, for as long as it lasts.
        for round in 2..=5u64 {
            assert_eq!(
                p.client.poll_timeout(),
                Some(Instant::from_secs(10 * round))
            );
            p.advance(secs(10));
            assert_eq!(p.sent_bytes(), PINGREQ, "{version} round {round}");
            p.send_bytes(&PINGRESP);
        }
        assert!(p.client.is_connected());
        assert_eq!(p.events(), vec![]);
    }
}

/// [MQTT-3.1.2-20] (3.1.1: [MQTT-3.1.2-23]): the gap is measured from the last packet
/// sent, whatever it was.
#[test]
fn mqtt_3_1_2_20_no_pingreq_when_something_else_was_sent() {
    for version in VERSIONS {
        let mut p = connected(version, 10);
        p.advance(secs(6));
        p.publish(message("t", b"x", QoS::AtMostOnce));
        assert_eq!(p.sent().len(), 1);
        // The server talks at 8, so the only reason left to ping is the client's own
        // silence: the PUBLISH at 6 moved the PINGREQ from 10 to 16.
        p.advance(secs(2));
        p.send(publish("t", b"in", QosPid::AtMostOnce));
        assert_eq!(p.client.poll_timeout(), Some(Instant::from_secs(16)));
        p.advance(secs(2));
        assert_eq!(p.sent_bytes(), Vec::<u8>::new(), "{version}");
        p.advance(Duration::from_millis(5999));
        assert_eq!(p.sent_bytes(), Vec::<u8>::new(), "{version}");
        p.advance(Duration::from_millis(1));
        assert_eq!(p.sent_bytes(), PINGREQ, "{version}");
        assert!(p.client.is_connected());
    }
}

/// A 5.0 client configured with `keep_alive`, connected to a server that answers with
/// Server Keep Alive `server_keep_alive`. Returns the client, the CONNECT it sent and
/// the keep alive its one `Connected` event reports.
fn connect_with_server_keep_alive(keep_alive: u16, server_keep_alive: u16) -> (Peer, Connect, u16) {
    let mut p = Peer::configured(ProtocolVersion::V5, |c| c.keep_alive = keep_alive);
    let connect = p.open();
    let mut props = ConnAckProperties::new();
    props.server_keep_alive = Some(server_keep_alive);
    p.send(connack_with_props(props));
    let negotiated = match p.events().as_slice() {
        [Event::Connected(c)] => c.keep_alive,
        other => panic!("{other:?}"),
    };
    (p, connect, negotiated)
}

/// [MQTT-3.1.2-21] (5.0): the Server Keep Alive replaces the value the client asked for.
#[test]
fn mqtt_3_2_2_21_server_keep_alive_replaces_configured_value() {
    let (mut p, connect, negotiated) = connect_with_server_keep_alive(60, 5);
    assert_eq!(connect.keep_alive, 60);
    assert_eq!(negotiated, 5);
    assert_eq!(p.client.poll_timeout(), Some(Instant::from_secs(5)));
    p.advance(secs(5));
    assert_eq!(p.sent_bytes(), PINGREQ);
}

/// [MQTT-3.1.2-21] (5.0): a Server Keep Alive of 0 replaces the client's 10 too.
#[test]
fn mqtt_3_2_2_21_server_keep_alive_zero_turns_keep_alive_off() {
    let (mut p, _, negotiated) = connect_with_server_keep_alive(10, 0);
    assert_eq!(negotiated, 0);
    assert_eq!(p.client.poll_timeout(), None);
    p.advance(secs(3600));
    assert_eq!(p.sent_bytes(), Vec::<u8>::new());
    assert!(p.client.is_connected());
}

#[test]
fn keep_alive_zero_means_no_deadline_when_connected() {
    for version in VERSIONS {
        let mut p = connected(version, 0);
        assert_eq!(p.client.poll_timeout(), None, "{version}");
        p.client.handle_timeout(Instant::from_secs(100_000));
        p.now = Instant::from_secs(100_000);
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        assert_eq!(p.events(), vec![]);
        assert!(p.client.is_connected());
    }
}

#[test]
fn mqtt_3_1_2_22_no_inbound_byte_for_one_and_a_half_keep_alive_times_out() {
    for version in VERSIONS {
        let mut p = connected(version, 10);
        p.advance(secs(10));
        assert_eq!(p.sent_bytes(), PINGREQ);
        // No PINGRESP. The CONNACK at 0 was the last byte: the deadline is 15.
        assert_eq!(p.client.poll_timeout(), Some(Instant::from_secs(15)));
        p.advance(Duration::from_millis(4999));
        assert_eq!(p.events(), vec![], "{version}");
        p.advance(Duration::from_millis(1));
        assert_eq!(
            p.events(),
            only_disconnected(DisconnectReason::KeepAliveTimeout),
            "{version}"
        );
        assert_eq!(p.client.state(), State::Disconnected);
        assert_eq!(p.client.poll_timeout(), None);
    }
}

#[test]
fn steady_outbound_traffic_to_a_quiet_server_does_not_time_out() {
    // The client publishes QoS 0 every 4 s, so it never falls silent long enough to
    // send PINGREQ, and a healthy server has nothing to say back. The link is fine:
    // the client may only give up on a server that leaves a PINGREQ unanswered.
    for version in VERSIONS {
        let mut p = connected(version, 10);
        for _ in 0..15 {
            p.advance(secs(4));
            if !p.client.is_connected() {
                break;
            }
            p.publish(message("t", b"x", QoS::AtMostOnce));
            // Whatever the client sends, a live server answers PINGREQ at once.
            for packet in p.sent() {
                if packet == Packet::PingReq {
                    p.send_bytes(&PINGRESP);
                }
            }
        }
        let events = p.events();
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::Disconnected { .. })),
            "{version}: {events:?}"
        );
        assert!(p.client.is_connected(), "{version}");
    }
}

#[test]
fn large_packet_arriving_slowly_byte_by_byte_does_not_time_out() {
    for version in VERSIONS {
        let mut p = connected(version, 10);
        let payload = vec![b'z'; 100];
        let wire = publish_wire(version, 0x30, "slow/topic", None, &payload);
        // One byte every 5 s: each well within 15 s, the whole far beyond it.
        for byte in &wire {
            p.advance(secs(5));
            // PINGREQs still go out; the server cannot answer mid-packet.
            let _ = p.sent_bytes();
            p.send_bytes(std::slice::from_ref(byte));
            assert!(p.client.is_connected(), "{version}");
        }
        let events = p.events();
        assert_eq!(messages(&events).len(), 1, "{version}: {events:?}");
        assert_eq!(&messages(&events)[0].payload[..], &payload[..]);
        assert!(p.now > Instant::from_secs(500));
        assert!(p.client.is_connected());
    }
}

#[test]
fn spurious_early_handle_timeout_is_a_no_op() {
    for version in VERSIONS {
        // While connecting.
        let mut p = Peer::with_version(version);
        p.open();
        let deadline = p.client.poll_timeout();
        for ms in [0, 1, 5000, 9999] {
            p.client.handle_timeout(Instant::from_millis(ms));
        }
        assert_eq!(p.client.poll_timeout(), deadline);
        assert_eq!(p.client.state(), State::Connecting);
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        assert_eq!(p.events(), vec![]);

        // While connected.
        p.send(connack(false));
        p.events();
        let deadline = p.client.poll_timeout();
        for ms in [0, 1, 30_000, 59_999] {
            p.client.handle_timeout(Instant::from_millis(ms));
        }
        assert_eq!(p.client.poll_timeout(), deadline);
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        assert_eq!(p.events(), vec![]);

        // While disconnected.
        p.drop_transport();
        p.events();
        p.client.handle_timeout(Instant::from_secs(1_000_000));
        assert_eq!(p.client.poll_timeout(), None);
        assert_eq!(p.sent_bytes(), Vec::<u8>::new());
        assert_eq!(p.events(), vec![]);
    }
}

#[test]
fn now_going_backwards_does_not_panic_and_counts_as_the_latest() {
    for version in VERSIONS {
        let mut p = connected(version, 10);
        p.client.handle_timeout(Instant::from_secs(8));
        // Earlier instants everywhere: inputs and commands.
        p.client.handle_timeout(Instant::from_secs(2));
        p.client.handle_input(Instant::from_secs(1), &PINGRESP);
        p.client
            .publish(Instant::from_secs(3), message("t", b"x", QoS::AtLeastOnce))
            .unwrap();
        p.client.handle_timeout(Instant::ZERO);
        // The PUBLISH counts as sent at 8, the latest instant seen.
        assert_eq!(p.sent().len(), 1);
        assert_eq!(p.client.poll_timeout(), Some(Instant::from_secs(18)));
        assert!(p.client.is_connected());
        p.client.handle_timeout(Instant::from_secs(18));
        p.now = Instant::from_secs(18);
        assert_eq!(p.sent_bytes(), PINGREQ);
        p.client.handle_timeout(Instant::from_secs(5));
        assert!(p.client.is_connected());
        assert_eq!(p.events(), vec![]);
    }
}
