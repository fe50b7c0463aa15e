//! The command line of `examples/tokio_client.rs` and `examples/blocking_client.rs`
//! and how they print events: plain std, hand-written, nothing to do with MQTT
//! driving. Included with `#[path = "shared/cli.rs"] mod cli;`.

// Each includer uses a part of this module; `pub` is for the includers.
#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use mqtt_sansio::{ClientConfig, DisconnectReason, Event, ProtocolVersion, QoS, TopicFilter};
use mqtt_sansio::{Message, TopicName};

/// What to do.
pub enum Command {
    /// No command: publish and receive one message at every QoS, against an in-process
    /// broker unless `--broker` names one.
    Demo,
    /// Publish one message and exit once it completed.
    Publish { topic: TopicName, payload: Bytes },
    /// Subscribe and print messages as `topic payload`, forever or `--count` of them.
    Subscribe { filter: TopicFilter },
}

/// The parsed command line.
pub struct Args {
    pub broker: Option<String>,
    pub version: ProtocolVersion,
    pub qos: QoS,
    pub count: Option<usize>,
    pub retain: bool,
    pub client_id: String,
    pub command: Command,
}

impl Args {
    /// The client's settings: clean start, keep alive 30 s, quick first retries.
    pub fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new(self.version, self.client_id.parse().unwrap());
        config.keep_alive = 30;
        config.reconnect.initial_delay = std::time::Duration::from_millis(500);
        config.reconnect.max_delay = std::time::Duration::from_secs(10);
        config.reconnect.attempt_timeout = std::time::Duration::from_secs(10);
        config
    }

    /// The message of `publish`.
    pub fn message(&self, topic: &TopicName, payload: &Bytes) -> Message {
        let mut message = Message::new(topic.clone(), payload.clone(), self.qos);
        message.retain = self.retain;
        message
    }
}

pub fn usage(program: &str) -> String {
    format!(
        "usage: {program} [--broker HOST:PORT] [--version 3|5] [--qos 0|1|2] [--id CLIENT_ID]\n\
         \x20      [--retain] [--count N] [publish TOPIC PAYLOAD | subscribe FILTER]\n\
         With no command: start a broker in-process (unless --broker), then subscribe,\n\
         publish and receive one message at every QoS, and exit."
    )
}

/// Parses the arguments; prints the usage and exits on a mistake.
pub fn parse(program: &str) -> Args {
    let fail = |message: &str| -> ! {
        eprintln!("{program}: {message}\n{}", usage(program));
        std::process::exit(2)
    };
    let mut args = Args {
        broker: None,
        version: ProtocolVersion::V5,
        qos: QoS::AtLeastOnce,
        count: None,
        retain: false,
        client_id: format!("{program}-{}", std::process::id()),
        command: Command::Demo,
    };
    let mut positional = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .unwrap_or_else(|| fail(&format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--broker" | "-b" => args.broker = Some(value("--broker")),
            "--version" | "-V" => {
                args.version = match value("--version").as_str() {
                    "3" | "311" | "3.1.1" | "mqttv311" => ProtocolVersion::V311,
                    "5" | "5.0" | "mqttv5" => ProtocolVersion::V5,
                    other => fail(&format!("unknown version {other:?}")),
                }
            }
            "--qos" | "-q" => {
                args.qos = match value("--qos").as_str() {
                    "0" => QoS::AtMostOnce,
                    "1" => QoS::AtLeastOnce,
                    "2" => QoS::ExactlyOnce,
                    other => fail(&format!("unknown QoS {other:?}")),
                }
            }
            "--count" | "-C" => match value("--count").parse() {
                Ok(n) => args.count = Some(n),
                Err(_) => fail("--count needs a number"),
            },
            "--id" | "-i" => args.client_id = value("--id"),
            "--retain" | "-r" => args.retain = true,
            "--help" | "-h" => {
                println!("{}", usage(program));
                std::process::exit(0);
            }
            other if other.starts_with('-') => fail(&format!("unknown option {other:?}")),
            _ => positional.push(arg),
        }
    }
    if args.client_id.parse::<mqtt_sansio::MqttString>().is_err() {
        fail("invalid client identifier");
    }
    args.command = match positional.as_slice() {
        [] => Command::Demo,
        [cmd, topic, payload] if cmd == "publish" => Command::Publish {
            topic: topic
                .parse()
                .unwrap_or_else(|_| fail(&format!("invalid topic name {topic:?}"))),
            payload: Bytes::from(payload.clone().into_bytes()),
        },
        [cmd, filter] if cmd == "subscribe" => Command::Subscribe {
            filter: filter
                .parse()
                .unwrap_or_else(|_| fail(&format!("invalid topic filter {filter:?}"))),
        },
        _ => fail("expected `publish TOPIC PAYLOAD`, `subscribe FILTER` or nothing"),
    };
    args
}

/// The payload as text, shortened.
pub fn show(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(&payload[..payload.len().min(64)]);
    if payload.len() > 64 {
        format!("{text:?}... ({} bytes)", payload.len())
    } else {
        format!("{text:?}")
    }
}

/// One line about a connection event, or `None` for the events of commands (messages,
/// completions), which the flows print themselves.
pub fn lifecycle(event: &Event) -> Option<String> {
    Some(match event {
        Event::Connect { attempt, .. } => format!("connecting (attempt {attempt})"),
        Event::Connected(c) => format!(
            "connected (session present: {}, keep alive {} s)",
            c.session_present, c.keep_alive
        ),
        Event::Disconnected { reason } => match reason {
            DisconnectReason::ByClient => "disconnected".to_string(),
            other => format!("connection ended: {other:?}"),
        },
        Event::AttemptFailed {
            attempt, reason, ..
        } => {
            format!("attempt {attempt} failed: {reason:?}")
        }
        Event::AttemptScheduled { attempt, delay, .. } => {
            format!("attempt {attempt} in {delay:?}")
        }
        Event::GaveUp { reason, .. } => format!("gave up: {reason:?}"),
        Event::SessionLost { .. } => "the server did not keep the session".to_string(),
        _ => return None,
    })
}

/// Events that only report progress (printed, then dropped: nobody waits for them).
pub fn progress_only(event: &Event) -> bool {
    matches!(
        event,
        Event::Connect { .. } | Event::AttemptScheduled { .. } | Event::AttemptFailed { .. }
    )
}

// ---- the demonstration (no command) ----

/// The QoS levels the demonstration publishes and receives at, in order.
pub const DEMO_QOS: [QoS; 3] = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];

/// The demonstration's message at `qos` from the `driver` client: its topic, its payload
/// and the message.
pub fn demo_message(qos: QoS, driver: &str) -> (String, String, Message) {
    let topic = format!("demo/qos{}", qos.value());
    let payload = format!("hello at QoS {} from {driver}", qos.value());
    let message = Message::new(topic.parse().unwrap(), payload.clone().into(), qos);
    (topic, payload, message)
}

/// Prints that the demonstration's message went out.
pub fn report_published(topic: &str, payload: &str, qos: QoS) {
    println!(
        "client: published {payload:?} to {topic} at QoS {}",
        qos.value()
    );
}

/// Prints that the publish at `qos` completed, and with which packets.
pub fn report_complete(qos: QoS) {
    let done = match qos {
        QoS::AtMostOnce => "written",
        QoS::AtLeastOnce => "PUBACK",
        QoS::ExactlyOnce => "PUBREC, PUBREL, PUBCOMP",
    };
    println!("client: publish at QoS {} complete ({done})", qos.value());
}

/// Checks that `m` is the demonstration's `payload` back at `qos`, and prints it.
pub fn check_received(m: &Message, payload: &str, qos: QoS) -> Result<(), String> {
    if m.payload != payload.as_bytes() || m.qos != qos {
        return Err(format!("got {m:?}"));
    }
    println!(
        "client: received {} on {} at QoS {}",
        show(&m.payload),
        m.topic,
        m.qos.value()
    );
    Ok(())
}
