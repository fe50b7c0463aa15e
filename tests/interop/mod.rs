//! Interop harness: a mosquitto started on a free loopback port with its own
//! configuration and stopped on drop, and a blocking driver that runs a `Client` over a
//! real TCP socket with the canonical loop.
// A real driver owns the clock: reading it here is the point, not a leak.
#![allow(dead_code, unreachable_pub, clippy::disallowed_methods)]

use mqtt_sansio::{Client, ClientConfig, DisconnectReason, Event, Instant};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The broker binary, from the Debian package `mosquitto`.
const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// Set by `.ci/run`: a missing broker fails the tests instead of skipping them.
const REQUIRED: &str = "MQTT_SANSIO_INTEROP_REQUIRED";

/// A running mosquitto; killed on drop.
pub struct Mosquitto {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    conf: PathBuf,
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

impl Mosquitto {
    /// Starts mosquitto with `extra` configuration lines, or returns `None` (after
    /// saying why) when it is not installed and the tests may skip.
    pub fn start(name: &str, extra: &str) -> Option<Mosquitto> {
        if !std::path::Path::new(MOSQUITTO).exists() {
            if std::env::var_os(REQUIRED).is_some() {
                panic!("{MOSQUITTO} is missing: apt-get install -y mosquitto");
            }
            eprintln!("skipping: {MOSQUITTO} not found (apt-get install -y mosquitto)");
            return None;
        }
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "mqtt-sansio-interop-{name}-{}-{port}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Started as root, mosquitto drops to its own user: it must be able to write
        // its persistence file here.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let conf = dir.join("mosquitto.conf");
        let text = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
             persistence_location {}/\nautosave_interval 0\n{extra}\n",
            dir.display()
        );
        std::fs::write(&conf, text).unwrap();
        let mut broker = Mosquitto {
            child: None,
            port,
            dir,
            conf,
        };
        broker.launch();
        Some(broker)
    }

    fn launch(&mut self) {
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto did not start");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "mosquitto did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(child.id().to_string())
                .status()
                .expect("kill");
            assert!(status.success());
        }
    }

    /// Stops the broker cleanly (it writes its persistence file) and starts it again
    /// on the same port with the same files.
    pub fn restart(&mut self) {
        self.signal("TERM");
        if let Some(mut child) = self.child.take() {
            child.wait().unwrap();
        }
        self.launch();
    }

    /// Freezes the broker (SIGSTOP): the socket stays open, nothing answers.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    /// Thaws the broker (SIGCONT).
    pub fn thaw(&self) {
        self.signal("CONT");
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            self.thaw();
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `Client` over a blocking TCP socket, driven by the canonical loop: wait for bytes
/// or the deadline, apply exactly that input, write what is pending, collect events.
pub struct Driver {
    pub client: Client,
    port: u16,
    stream: Option<TcpStream>,
    origin: std::time::Instant,
    /// Every event so far, in order.
    pub events: Vec<Event>,
    /// Which of them a `wait_for` already returned.
    claimed: Vec<bool>,
}

impl Driver {
    pub fn new(config: ClientConfig, port: u16) -> Self {
        Driver {
            client: Client::new(config).unwrap(),
            port,
            stream: None,
            origin: std::time::Instant::now(),
            events: Vec::new(),
            claimed: Vec::new(),
        }
    }

    pub fn now(&self) -> Instant {
        Instant::from_std(self.origin, std::time::Instant::now())
    }

    /// Opens a transport and hands it to the client.
    pub fn open(&mut self) {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to broker");
        stream.set_nodelay(true).unwrap();
        self.stream = Some(stream);
        let now = self.now();
        self.client.handle_transport_open(now).unwrap();
        self.flush();
    }

    /// Closes the socket without DISCONNECT, as a crash would.
    pub fn kill_transport(&mut self) {
        if let Some(stream) = self.stream.take() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        let now = self.now();
        self.client.handle_transport_close(now);
        self.collect();
    }

    /// Writes everything the client has pending.
    pub fn flush(&mut self) {
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        while !self.client.pending_transmit().is_empty() {
            match stream.write(self.client.pending_transmit()) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.client.advance_transmit(n),
            }
        }
    }

    fn collect(&mut self) {
        while let Some(event) = self.client.poll_event() {
            match &event {
                Event::Disconnected { .. } => {
                    self.flush();
                    self.stream = None;
                }
                Event::Connect { .. } => match TcpStream::connect(("127.0.0.1", self.port)) {
                    Ok(stream) => {
                        stream.set_nodelay(true).unwrap();
                        self.stream = Some(stream);
                        let now = self.now();
                        self.client.handle_transport_open(now).unwrap();
                    }
                    Err(_) => {
                        let now = self.now();
                        self.client
                            .handle_transport_failed(now, mqtt_sansio::TransportFailure::Refused);
                    }
                },
                _ => {}
            }
            self.events.push(event);
            self.claimed.push(false);
        }
        self.flush();
    }

    /// One turn of the loop, waiting at most `max_wait`.
    pub fn step(&mut self, max_wait: Duration) {
        self.flush();
        self.collect();
        let now = self.now();
        let wait = match self.client.poll_timeout() {
            Some(deadline) => deadline.saturating_duration_since(now).min(max_wait),
            None => max_wait,
        }
        .max(Duration::from_millis(1));
        let Some(stream) = self.stream.as_mut() else {
            std::thread::sleep(wait);
            let now = self.now();
            self.client.handle_timeout(now);
            self.collect();
            return;
        };
        stream.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 65536];
        match stream.read(&mut buf) {
            Ok(0) => {
                self.stream = None;
                let now = self.now();
                self.client.handle_transport_close(now);
            }
            Ok(n) => {
                let now = self.now();
                self.client.handle_input(now, &buf[..n]);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                let now = self.now();
                self.client.handle_timeout(now);
            }
            Err(_) => {
                self.stream = None;
                let now = self.now();
                self.client.handle_transport_close(now);
            }
        }
        self.collect();
    }

    /// Runs the loop until an event that no earlier call returned matches `want`, and
    /// returns it; panics after `timeout`.
    pub fn wait_for(&mut self, timeout: Duration, want: impl FnMut(&Event) -> bool) -> Event {
        self.wait_for_from(0, timeout, want)
    }

    /// [`Driver::wait_for`] among the events from index `from` on.
    fn wait_for_from(
        &mut self,
        from: usize,
        timeout: Duration,
        mut want: impl FnMut(&Event) -> bool,
    ) -> Event {
        let end = std::time::Instant::now() + timeout;
        loop {
            let found =
                (from..self.events.len()).find(|&i| !self.claimed[i] && want(&self.events[i]));
            if let Some(i) = found {
                self.claimed[i] = true;
                return self.events[i].clone();
            }
            assert!(
                std::time::Instant::now() < end,
                "timed out; events: {:?}",
                &self.events
            );
            self.step(Duration::from_millis(50));
        }
    }

    /// Opens a transport and waits for CONNACK.
    pub fn connect(&mut self) -> mqtt_sansio::Connected {
        let from = self.events.len();
        self.open();
        match self.wait_for_from(from, Duration::from_secs(10), |e| {
            matches!(e, Event::Connected(_) | Event::Disconnected { .. })
        }) {
            Event::Connected(c) => c,
            other => panic!("not connected: {other:?}"),
        }
    }

    /// Runs the loop for `duration`.
    pub fn run_for(&mut self, duration: Duration) {
        let end = std::time::Instant::now() + duration;
        while std::time::Instant::now() < end {
            self.step(Duration::from_millis(20));
        }
    }

    /// True once a `Disconnected` with `reason` was reported.
    pub fn saw_disconnect(&self, reason: &DisconnectReason) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Event::Disconnected { reason: r } if r == reason))
    }
}
