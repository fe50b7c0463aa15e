//! The example broker (`examples/shared/tokio_broker.rs` over `sim::Broker`) against
//! real clients over loopback TCP: mosquitto_pub / mosquitto_sub (Debian package
//! `mosquitto-clients`) in MQTT 3.1.1 and 5.0, this crate's `Client` with the blocking
//! driver of `tests/interop`, and Python's paho-mqtt when it is installed. Each test
//! runs its own broker on a free port on a background thread; every wait is bounded
//! and child processes are killed on drop.

// A real driver owns the clock: reading it here is the point, not a leak.
#![allow(clippy::disallowed_methods)]

mod interop;
#[path = "../examples/shared/tokio_broker.rs"]
mod tokio_broker;

use bytes::Bytes;
use interop::Driver;
use mqtt_sansio::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const PUB: &str = "/usr/bin/mosquitto_pub";
const SUB: &str = "/usr/bin/mosquitto_sub";
/// From coreutils.
const STDBUF: &str = "/usr/bin/stdbuf";
/// Set by `.ci/run`: missing clients fail the tests instead of skipping them.
const REQUIRED: &str = "MQTT_SANSIO_INTEROP_REQUIRED";
const VERSIONS: [&str; 2] = ["mqttv311", "mqttv5"];
const SECS: Duration = Duration::from_secs(1);

fn broker() -> tokio_broker::Background {
    tokio_broker::Background::start("127.0.0.1:0", ServerConfig::default(), false)
        .expect("the example broker starts")
}

/// True when mosquitto_pub and mosquitto_sub are installed; otherwise says why the
/// test skips (or fails, under `MQTT_SANSIO_INTEROP_REQUIRED`).
fn have_mosquitto_clients() -> bool {
    for binary in [PUB, SUB] {
        if !std::path::Path::new(binary).exists() {
            if std::env::var_os(REQUIRED).is_some() {
                panic!("{binary} is missing: apt-get install -y mosquitto-clients");
            }
            eprintln!("skipping: {binary} not found (apt-get install -y mosquitto-clients)");
            return false;
        }
    }
    true
}

/// A child process whose output lines (stdout, and stderr marked) arrive on a
/// channel; killed on drop.
struct Proc {
    name: String,
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    /// Every line seen so far, for failure messages.
    seen: Vec<String>,
}

impl Proc {
    fn spawn(program: &str, args: &[&str]) -> Proc {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} did not start: {e}"));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let out = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = out.send(line);
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(format!("stderr: {line}"));
            }
        });
        Proc {
            name: format!("{program} {}", args.join(" ")),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line from now on that `want` accepts; panics after `timeout`.
    fn line(&mut self, timeout: Duration, want: impl Fn(&str) -> bool) -> String {
        let end = std::time::Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if want(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no expected line within {timeout:?} from `{}`; output: {:#?}",
                    self.name, self.seen
                ),
            }
        }
    }

    /// Waits for the SUBACK (the client runs with `-d`).
    fn subscribed(&mut self) {
        self.line(10 * SECS, |l| l.starts_with("Subscribed (mid"));
    }

    /// The next message line (format `MSG %r %q %t %p`).
    fn message(&mut self) -> String {
        self.line(10 * SECS, |l| l.starts_with("MSG "))
    }

    /// The exit status; panics (the child is killed on drop) after `timeout`.
    fn exit(&mut self, timeout: Duration) -> ExitStatus {
        let end = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // What it printed last.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                    self.seen.push(line);
                }
                return status;
            }
            assert!(
                std::time::Instant::now() < end,
                "`{}` still running after {timeout:?}; output: {:#?}",
                self.name,
                self.seen
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Exits 0 within `timeout`.
    fn success(&mut self, timeout: Duration) {
        let status = self.exit(timeout);
        assert!(
            status.success(),
            "`{}` failed: {status}; output: {:#?}",
            self.name,
            self.seen
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The arguments mosquitto_sub and mosquitto_pub share: the broker, the protocol
/// version, the QoS and the topic (or filter).
fn client_args(port: u16, version: &str, qos: u8, topic: &str) -> Vec<String> {
    let port = port.to_string();
    let qos = qos.to_string();
    [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-V",
        version,
        "-q",
        &qos,
        "-t",
        topic,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// `program` run with `args` followed by `extra`.
fn spawn_with(program: &str, args: Vec<String>, extra: &[&str]) -> Proc {
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    Proc::spawn(program, &args)
}

/// Options of a mosquitto_sub that exits after one message, or fails after 10 s.
const ONE_MESSAGE: [&str; 4] = ["-C", "1", "-W", "10"];

/// mosquitto_sub with debug output (for the SUBACK) and one line per message:
/// `MSG <retain> <qos> <topic> <payload>`.
fn mosquitto_sub(port: u16, version: &str, qos: u8, filter: &str, extra: &[&str]) -> Proc {
    // Line-buffered: mosquitto_sub does not flush its debug lines into a pipe.
    let mut args = vec!["-oL".to_owned(), SUB.to_owned(), "-d".to_owned()];
    args.extend(client_args(port, version, qos, filter));
    args.extend(["-F".to_owned(), "MSG %r %q %t %p".to_owned()]);
    spawn_with(STDBUF, args, extra)
}

/// A mosquitto_sub for one message, once its subscription is in place.
fn subscribed_for_one(port: u16, version: &str, qos: u8, filter: &str) -> Proc {
    let mut sub = mosquitto_sub(port, version, qos, filter, &ONE_MESSAGE);
    sub.subscribed();
    sub
}

/// mosquitto_pub of one message; waits for it to exit 0.
fn mosquitto_pub(port: u16, version: &str, qos: u8, topic: &str, payload: &str, extra: &[&str]) {
    let mut args = client_args(port, version, qos, topic);
    args.extend(["-m".to_owned(), payload.to_owned()]);
    spawn_with(PUB, args, extra).success(10 * SECS);
}

#[test]
fn mosquitto_clients_publish_and_receive_at_every_qos_in_both_versions() {
    if !have_mosquitto_clients() {
        return;
    }
    let broker = broker();
    let port = broker.addr.port();
    for version in VERSIONS {
        for qos in 0..=2u8 {
            let topic = format!("qos/{version}/{qos}");
            let mut sub = subscribed_for_one(port, version, qos, "qos/#");
            let payload = format!("hello {version} qos {qos}");
            mosquitto_pub(port, version, qos, &topic, &payload, &[]);
            assert_eq!(sub.message(), format!("MSG 0 {qos} {topic} {payload}"));
            sub.success(10 * SECS);
        }
    }
}

#[test]
fn mosquitto_clients_of_different_versions_talk_through_the_broker() {
    if !have_mosquitto_clients() {
        return;
    }
    let broker = broker();
    let port = broker.addr.port();
    for (from, to) in [("mqttv311", "mqttv5"), ("mqttv5", "mqttv311")] {
        let topic = format!("cross/{from}/{to}");
        let mut sub = subscribed_for_one(port, to, 2, &topic);
        mosquitto_pub(port, from, 2, &topic, "across", &[]);
        assert_eq!(sub.message(), format!("MSG 0 2 {topic} across"));
        sub.success(10 * SECS);
    }
}

#[test]
fn a_retained_message_reaches_a_later_mosquitto_sub_and_an_empty_one_removes_it() {
    if !have_mosquitto_clients() {
        return;
    }
    let broker = broker();
    let port = broker.addr.port();
    for version in VERSIONS {
        let topic = format!("retained/{version}");
        mosquitto_pub(port, version, 1, &topic, "kept", &["-r"]);
        let mut late = mosquitto_sub(port, version, 1, &topic, &ONE_MESSAGE);
        assert_eq!(late.message(), format!("MSG 1 1 {topic} kept"));
        late.success(10 * SECS);

        // A retained message with an empty payload removes it: a new subscriber's
        // first message is the next one published.
        mosquitto_pub(port, version, 1, &topic, "", &["-r"]);
        let mut later = subscribed_for_one(port, version, 1, &topic);
        mosquitto_pub(port, version, 1, &topic, "live", &[]);
        assert_eq!(
            later.message(),
            format!("MSG 0 1 {topic} live"),
            "{version}"
        );
        later.success(10 * SECS);
    }
}

#[test]
fn the_will_of_a_killed_mosquitto_sub_reaches_another_subscriber_and_a_clean_exit_sends_none() {
    if !have_mosquitto_clients() {
        return;
    }
    let broker = broker();
    let port = broker.addr.port();
    for version in VERSIONS {
        let topic = format!("will/{version}");
        let mut watcher = subscribed_for_one(port, version, 1, &topic);
        let will = [
            "--will-topic",
            &topic,
            "--will-payload",
            "gone",
            "--will-qos",
            "1",
        ];
        let mut owner = mosquitto_sub(port, version, 0, "unrelated", &will);
        owner.subscribed();
        // SIGKILL: no DISCONNECT, the kernel closes the socket.
        owner.child.kill().unwrap();
        owner.exit(10 * SECS);
        assert_eq!(watcher.message(), format!("MSG 0 1 {topic} gone"));
        watcher.success(10 * SECS);

        // A client that disconnects normally leaves no Will behind: the watcher's
        // first message is the one published after that client is gone.
        let mut watcher = subscribed_for_one(port, version, 1, &topic);
        let polite_topic = format!("polite/{version}");
        let mut args = will.to_vec();
        args.extend(ONE_MESSAGE);
        let mut polite = mosquitto_sub(port, version, 0, &polite_topic, &args);
        polite.subscribed();
        mosquitto_pub(port, version, 0, &polite_topic, "bye", &[]);
        polite.success(10 * SECS);
        mosquitto_pub(port, version, 1, &topic, "after", &[]);
        assert_eq!(
            watcher.message(),
            format!("MSG 0 1 {topic} after"),
            "{version}"
        );
        watcher.success(10 * SECS);
    }
}

/// A close that came after at least `min`, and well within 5 s.
fn assert_took_at_least(took: Duration, min: Duration) {
    assert!(took >= min && took < 5 * SECS, "{took:?}");
}

/// The driver's timer path: `poll_timeout` -> sleep -> `handle_timeout`. A transport
/// without CONNECT is closed after the connect timeout; a client silent for 1.5 x its
/// keep alive is closed, after DISCONNECT 0x8D (keep alive timeout) in 5.0.
#[test]
fn the_broker_closes_a_transport_without_connect_and_a_silent_client_on_time() {
    let mut config = ServerConfig::default();
    config.connect_timeout = Duration::from_millis(500);
    let broker = tokio_broker::Background::start("127.0.0.1:0", config, false).unwrap();
    let open = || {
        let stream = TcpStream::connect(broker.addr).unwrap();
        stream.set_read_timeout(Some(10 * SECS)).unwrap();
        stream
    };
    // Reads until the broker closes; what it sent and how long that took.
    let until_closed = |mut stream: TcpStream| {
        let start = std::time::Instant::now();
        let mut bytes = Vec::new();
        stream
            .read_to_end(&mut bytes)
            .expect("closed by the broker");
        (bytes, start.elapsed())
    };

    let (bytes, took) = until_closed(open());
    assert!(bytes.is_empty(), "{bytes:x?}");
    assert_took_at_least(took, Duration::from_millis(400));

    // CONNECT, keep alive 1 s, client id "k3", then nothing.
    let mut v311 = open();
    v311.write_all(b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x01\x00\x02k3")
        .unwrap();
    let (bytes, took) = until_closed(v311);
    assert_eq!(bytes, b"\x20\x02\x00\x00", "CONNACK, then the close");
    assert_took_at_least(took, Duration::from_millis(1400));

    // The same in 5.0 (no properties), client id "k5".
    let mut v5 = open();
    v5.write_all(b"\x10\x0f\x00\x04MQTT\x05\x02\x00\x01\x00\x00\x02k5")
        .unwrap();
    let (bytes, took) = until_closed(v5);
    assert_eq!(bytes[0], 0x20, "CONNACK first: {bytes:x?}");
    assert!(
        bytes.ends_with(b"\xe0\x01\x8d") || bytes.ends_with(b"\xe0\x02\x8d\x00"),
        "DISCONNECT 0x8D last: {bytes:x?}"
    );
    assert_took_at_least(took, Duration::from_millis(1400));
}

fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

#[test]
fn the_client_publishes_and_receives_qos_1_and_2_at_0_bytes_and_256_kib() {
    let broker = broker();
    let port = broker.addr.port();
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let config = |id: &str| {
            let mut c = ClientConfig::new(version, format!("{id}-{version:?}").parse().unwrap());
            c.keep_alive = 30;
            c
        };
        let mut subscriber = Driver::new(config("sub"), port);
        subscriber.connect();
        let now = subscriber.now();
        let id = subscriber
            .client
            .subscribe(
                now,
                vec![Subscription::new(
                    "big/#".parse().unwrap(),
                    QoS::ExactlyOnce,
                )],
            )
            .unwrap();
        match subscriber.wait_for(
            10 * SECS,
            |e| matches!(e, Event::Subscribed { id: i, .. } if *i == id),
        ) {
            Event::Subscribed { results, .. } => {
                assert_eq!(results[0].granted_qos(), Some(QoS::ExactlyOnce))
            }
            _ => unreachable!(),
        }

        let mut publisher = Driver::new(config("pub"), port);
        publisher.connect();
        for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
            for size in [0, 256 * 1024] {
                let topic = format!("big/{}/{size}", qos.value());
                let payload = pattern(size, qos.value());
                let now = publisher.now();
                let message = Message::new(topic.parse().unwrap(), payload.clone(), qos);
                let id = publisher.client.publish(now, message).unwrap();
                // Both sides move: the publisher's acknowledgements, the subscriber's
                // delivery.
                let end = std::time::Instant::now() + 20 * SECS;
                let (mut done, mut got) = (None, None);
                while done.is_none() || got.is_none() {
                    assert!(std::time::Instant::now() < end, "{version} {topic}");
                    publisher.step(Duration::from_millis(5));
                    subscriber.step(Duration::from_millis(5));
                    done = done.or_else(|| {
                        publisher.events.iter().find_map(|e| match e {
                            Event::Published { id: i, result, .. } if *i == id => {
                                Some(result.clone())
                            }
                            _ => None,
                        })
                    });
                    got = got.or_else(|| {
                        subscriber.events.iter().find_map(|e| match e {
                            Event::Message(m) if m.topic.as_str() == topic => Some(m.clone()),
                            _ => None,
                        })
                    });
                }
                assert_eq!(done, Some(Ok(())), "{version} {topic}");
                let got = got.unwrap();
                assert_eq!(got.payload, payload, "{version} {topic}");
                assert_eq!(got.qos, qos, "{version} {topic}");
            }
        }
        // Each message arrived once.
        let received = subscriber
            .events
            .iter()
            .filter(|e| matches!(e, Event::Message(_)))
            .count();
        assert_eq!(received, 4, "{version}");
        assert_eq!(publisher.client.stats().in_flight, 0);
        assert!(publisher.client.is_connected() && subscriber.client.is_connected());
    }
}

/// Publish and subscribe with paho-mqtt (1.x or 2.x), 3.1.1 and 5.0, at every QoS.
const PAHO_SCRIPT: &str = r#"
import queue, sys
import paho.mqtt.client as mqtt

port, version = int(sys.argv[1]), sys.argv[2]
protocol = mqtt.MQTTv5 if version == "5" else mqtt.MQTTv311

def make(client_id):
    try:
        return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
    except AttributeError:  # paho-mqtt 1.x
        return mqtt.Client(client_id=client_id, protocol=protocol)

def start(client, connected):
    client.on_connect = lambda *args: connected.put(True)
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    connected.get(timeout=10)

messages, subscribed = queue.Queue(), queue.Queue()
sub = make("paho-sub-" + version)
sub.on_message = lambda client, userdata, m: messages.put((m.topic, m.payload, m.qos))
sub.on_subscribe = lambda *args: subscribed.put(True)
start(sub, queue.Queue())
sub.subscribe("paho/#", qos=2)
subscribed.get(timeout=10)

pub = make("paho-pub-" + version)
start(pub, queue.Queue())
for qos in (0, 1, 2):
    topic, payload = "paho/%d" % qos, b"hello from paho at qos %d" % qos
    info = pub.publish(topic, payload, qos=qos)
    try:
        info.wait_for_publish(10)
    except TypeError:  # before 1.6: no timeout
        info.wait_for_publish()
    assert info.is_published(), qos
    got = messages.get(timeout=10)
    assert got == (topic, payload, qos), got
    print("paho", version, "qos", qos, "ok")
for client in (pub, sub):
    client.disconnect()
    client.loop_stop()
"#;

#[test]
fn paho_publishes_and_receives_at_every_qos_in_both_versions() {
    let available = Command::new("python3")
        .args(["-c", "import paho.mqtt.client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        eprintln!("skipping: python3 with paho-mqtt not found (pip install paho-mqtt)");
        return;
    }
    let broker = broker();
    let port = broker.addr.port().to_string();
    for version in ["3", "5"] {
        let mut paho = Proc::spawn("python3", &["-c", PAHO_SCRIPT, &port, version]);
        paho.success(30 * SECS);
        let ok = paho.seen.iter().filter(|l| l.ends_with(" ok")).count();
        assert_eq!(ok, 3, "{version}: {:#?}", paho.seen);
    }
}
