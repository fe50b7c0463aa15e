//! A blocking MQTT client over `std::net::TcpStream`, no async runtime: a template to
//! copy for driving `mqtt_sansio::Client` from plain threads.
//!
//! ```sh
//! cargo run --example blocking_client                 # the demonstration, nothing installed
//! cargo run --example blocking_client -- --broker 127.0.0.1:1883 --qos 2 publish a/b hello
//! cargo run --example blocking_client -- --broker 127.0.0.1:1883 --count 3 subscribe 'a/#'
//! ```
//!
//! With no arguments it starts the example broker on a background thread (which runs
//! its own tokio runtime: the broker side is not the point here), connects, subscribes,
//! publishes and receives one message at every QoS, prints each step and exits 0.
//!
//! The shape to copy is [`Blocking`]: one thread owns the `Client` and the socket.
//! [`Blocking::step`] waits for bytes with a read timeout that ends at the client's
//! deadline (`poll_timeout`), applies exactly that input (bytes, end of stream, or
//! `handle_timeout`), then [`Blocking::outputs`] writes what `poll_transmit` gives and
//! handles the events. Commands are plain calls between steps ([`Blocking::command`]).
//! Reconnection is the client's: `Client::connect` makes it ask for a transport with
//! `Event::Connect`; the driver opens one and answers `handle_transport_open` or
//! `handle_transport_failed`. No timer, no retry logic here.

// A real driver owns the clock: reading it here is the point, not a leak.
#![allow(clippy::disallowed_methods)]

#[path = "shared/cli.rs"]
mod cli;
#[path = "shared/tokio_broker.rs"]
mod tokio_broker;

use cli::{Args, Command};
use mqtt_sansio::{
    Client, DisconnectReasonCode, Event, Instant, PublishId, QoS, ServerConfig, Subscription,
    TransportFailure,
};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A `Client`, its socket and the clock, driven by the canonical loop on one thread.
struct Blocking {
    client: Client,
    addr: String,
    socket: Option<TcpStream>,
    origin: std::time::Instant,
    /// Events not yet asked for.
    backlog: Vec<Event>,
    /// Connection events go to stderr (stdout is for messages).
    log_to_stderr: bool,
}

impl Blocking {
    /// Starts keeping `client` connected to `addr`.
    fn connect(client: Client, addr: String, log_to_stderr: bool) -> Blocking {
        let mut driver = Blocking {
            client,
            addr,
            socket: None,
            origin: std::time::Instant::now(),
            backlog: Vec::new(),
            log_to_stderr,
        };
        let now = driver.now();
        driver
            .client
            .connect(now)
            .expect("a new client is not connected");
        driver.outputs();
        driver
    }

    fn now(&self) -> Instant {
        Instant::from_std(self.origin, std::time::Instant::now())
    }

    /// Runs a command on the client, then writes and handles what it produced.
    fn command<R>(&mut self, f: impl FnOnce(&mut Client, Instant) -> R) -> R {
        let now = self.now();
        let result = f(&mut self.client, now);
        self.outputs();
        result
    }

    /// Writes what the client has to send, then handles its events (which may open or
    /// close the socket, and so produce more bytes), until there is nothing left.
    fn outputs(&mut self) {
        loop {
            if let Some(stream) = self.socket.as_mut() {
                while let Some(bytes) = self.client.poll_transmit() {
                    if stream.write_all(&bytes).is_err() {
                        self.socket = None;
                        let now = self.now();
                        self.client.handle_transport_close(now);
                        break;
                    }
                }
            }
            let Some(event) = self.client.poll_event() else {
                return;
            };
            match &event {
                Event::Connect { endpoint, .. } => {
                    let target = endpoint.clone().unwrap_or_else(|| self.addr.clone());
                    match open(&target) {
                        Ok(stream) => {
                            self.socket = Some(stream);
                            let now = self.now();
                            let _ = self.client.handle_transport_open(now);
                        }
                        Err(cause) => {
                            let now = self.now();
                            self.client.handle_transport_failed(now, cause);
                        }
                    }
                }
                // What was left to write went out above; the connection is over.
                Event::Disconnected { .. } => {
                    if let Some(stream) = self.socket.take() {
                        let _ = stream.shutdown(std::net::Shutdown::Write);
                    }
                }
                _ => {}
            }
            if let Some(line) = cli::lifecycle(&event) {
                if self.log_to_stderr {
                    eprintln!("client: {line}");
                } else {
                    println!("client: {line}");
                }
            }
            if !cli::progress_only(&event) {
                self.backlog.push(event);
            }
        }
    }

    /// One turn of the loop: waits at most `max_wait` (and never past the client's
    /// deadline) for bytes, applies that one input, handles the outputs.
    fn step(&mut self, max_wait: Duration) {
        let now = self.now();
        let wait = match self.client.poll_timeout() {
            Some(deadline) => deadline.saturating_duration_since(now).min(max_wait),
            None => max_wait,
        }
        // A zero read timeout means "block forever" to std: wait at least 1 ms.
        .max(Duration::from_millis(1));
        let mut buf = [0u8; 64 * 1024];
        let read = match self.socket.as_mut() {
            Some(stream) => {
                let _ = stream.set_read_timeout(Some(wait));
                Some(stream.read(&mut buf))
            }
            None => {
                std::thread::sleep(wait);
                None
            }
        };
        let now = self.now();
        match read {
            Some(Ok(0)) => {
                self.socket = None;
                self.client.handle_transport_close(now);
            }
            Some(Ok(n)) => self.client.handle_input(now, &buf[..n]),
            Some(Err(e)) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                self.client.handle_timeout(now)
            }
            Some(Err(_)) => {
                self.socket = None;
                self.client.handle_transport_close(now);
            }
            None => self.client.handle_timeout(now),
        }
        self.outputs();
    }

    /// Runs the loop until an event that `want` accepts (oldest first), after `timeout`
    /// (`Err`), or until the client gave up (`Err`).
    fn wait_for(
        &mut self,
        timeout: Option<Duration>,
        mut want: impl FnMut(&Event) -> bool,
    ) -> Result<Event, String> {
        let end = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            if let Some(i) = self.backlog.iter().position(&mut want) {
                return Ok(self.backlog.remove(i));
            }
            if let Some(i) = self
                .backlog
                .iter()
                .position(|e| matches!(e, Event::GaveUp { .. }))
            {
                return Err(format!("{:?}", self.backlog.remove(i)));
            }
            let max_wait = match end {
                Some(end) => {
                    let left = end.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return Err("timed out".into());
                    }
                    left
                }
                None => Duration::from_secs(1),
            };
            self.step(max_wait);
        }
    }

    fn published(&mut self, id: PublishId, timeout: Duration) -> Result<(), String> {
        match self.wait_for(
            Some(timeout),
            |e| matches!(e, Event::Published { id: i, .. } if *i == id),
        )? {
            Event::Published { result, .. } => result.map_err(|f| format!("{f:?}")),
            _ => unreachable!(),
        }
    }

    fn subscribe(&mut self, subscription: Subscription) -> Result<QoS, String> {
        let id = self
            .command(|c, now| c.subscribe(now, vec![subscription]))
            .map_err(|e| e.to_string())?;
        let event = self.wait_for(
            Some(Duration::from_secs(30)),
            |e| matches!(e, Event::Subscribed { id: i, .. } if *i == id),
        )?;
        let Event::Subscribed { results, .. } = event else {
            unreachable!()
        };
        results[0]
            .granted_qos()
            .ok_or_else(|| format!("refused: {:?}", results[0]))
    }

    fn disconnect(&mut self) -> Result<(), String> {
        self.command(|c, now| c.disconnect(now, DisconnectReasonCode::NormalDisconnection, None))
            .map_err(|e| e.to_string())?;
        self.wait_for(Some(Duration::from_secs(5)), |e| {
            matches!(e, Event::Disconnected { .. })
        })
        .map(|_| ())
    }
}

/// Opens a TCP connection to `target` ("host:port"), bounded to 10 s.
fn open(target: &str) -> Result<TcpStream, TransportFailure> {
    let addrs: Vec<_> = target
        .to_socket_addrs()
        .map_err(|_| TransportFailure::Dns)?
        .collect();
    let mut failure = TransportFailure::Dns;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
                return Ok(stream);
            }
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                failure = TransportFailure::Refused
            }
            Err(e) if e.kind() == ErrorKind::TimedOut => failure = TransportFailure::Timeout,
            Err(_) => failure = TransportFailure::Other,
        }
    }
    Err(failure)
}

fn main() {
    let args = cli::parse("blocking_client");
    if let Err(error) = run(args) {
        eprintln!("blocking_client: {error}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), String> {
    let client = Client::new(args.config()).map_err(|e| e.to_string())?;
    let addr = args.broker.clone().unwrap_or("127.0.0.1:1883".into());
    match &args.command {
        Command::Demo => demo(&args, client),
        Command::Publish { topic, payload } => {
            let mut mqtt = Blocking::connect(client, addr, true);
            // Published before the connection is up: it waits in the client's queue.
            let id = mqtt
                .command(|c, now| c.publish(now, args.message(topic, payload)))
                .map_err(|e| e.to_string())?;
            mqtt.published(id, Duration::from_secs(30))?;
            eprintln!("client: published to {topic} at QoS {}", args.qos.value());
            mqtt.disconnect()
        }
        Command::Subscribe { filter } => {
            let mut mqtt = Blocking::connect(client, addr, true);
            let granted = mqtt.subscribe(Subscription::new(filter.clone(), args.qos))?;
            eprintln!(
                "client: subscribed to {filter} (granted QoS {})",
                granted.value()
            );
            let mut received = 0;
            while args.count.is_none_or(|n| received < n) {
                let Event::Message(m) = mqtt.wait_for(None, |e| matches!(e, Event::Message(_)))?
                else {
                    unreachable!()
                };
                println!("{} {}", m.topic, String::from_utf8_lossy(&m.payload));
                received += 1;
            }
            mqtt.disconnect()
        }
    }
}

/// Subscribe, then publish and receive one message at each QoS.
fn demo(args: &Args, client: Client) -> Result<(), String> {
    let version = args.version;
    let mut _broker = None;
    let addr = match &args.broker {
        Some(addr) => addr.clone(),
        None => {
            let broker =
                tokio_broker::Background::start("127.0.0.1:0", ServerConfig::default(), false)
                    .map_err(|e| e.to_string())?;
            println!(
                "demo: example broker listening on {} (background thread)",
                broker.addr
            );
            let addr = broker.addr.to_string();
            _broker = Some(broker);
            addr
        }
    };
    println!("demo: {version} client {:?} to {addr}", args.client_id);
    let mut mqtt = Blocking::connect(client, addr, false);
    let timeout = Some(Duration::from_secs(10));
    mqtt.wait_for(timeout, |e| matches!(e, Event::Connected(_)))?;

    let granted = mqtt.subscribe(Subscription::new(
        "demo/#".parse().unwrap(),
        QoS::ExactlyOnce,
    ))?;
    println!(
        "client: subscribed to demo/# (granted QoS {})",
        granted.value()
    );

    for qos in cli::DEMO_QOS {
        let (topic, payload, message) = cli::demo_message(qos, "std");
        let id = mqtt
            .command(|c, now| c.publish(now, message))
            .map_err(|e| e.to_string())?;
        cli::report_published(&topic, &payload, qos);
        mqtt.published(id, Duration::from_secs(10))?;
        cli::report_complete(qos);
        let Event::Message(m) = mqtt.wait_for(
            timeout,
            |e| matches!(e, Event::Message(m) if m.topic.as_str() == topic),
        )?
        else {
            unreachable!()
        };
        cli::check_received(&m, &payload, qos)?;
    }
    mqtt.disconnect()?;
    println!("demo: published and received one message at each QoS 0, 1, 2 over {version}");
    Ok(())
}
