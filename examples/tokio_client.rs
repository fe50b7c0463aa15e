//! An async MQTT client over TCP with tokio: a template to copy for driving
//! `mqtt_sansio::Client`.
//!
//! ```sh
//! cargo run --example tokio_client                 # the demonstration, nothing installed
//! cargo run --example tokio_client -- --broker 127.0.0.1:1883 --version 3 --qos 2 publish a/b hello
//! cargo run --example tokio_client -- --broker 127.0.0.1:1883 --count 3 subscribe 'a/#'
//! ```
//!
//! With no arguments it starts the example broker (`examples/shared/tokio_broker.rs`)
//! in-process on 127.0.0.1 (port 0), connects, subscribes, publishes and receives one
//! message at every QoS, prints each step and exits 0.
//!
//! The shape to copy is [`drive`]: one task owns the `Client` and runs the canonical
//! loop. It waits for whichever comes first of bytes from the socket, the client's
//! deadline (`poll_timeout`) and a command from the application; applies exactly that
//! input; writes what `poll_transmit` gives; hands the events to the application.
//! Reconnection is the client's: `Client::connect` makes it ask for a transport with
//! `Event::Connect` (at once, and after each backoff delay); the driver opens a TCP
//! connection and answers `handle_transport_open` or `handle_transport_failed`. The
//! driver has no timer and no retry logic of its own.
//!
//! Kept simple on purpose: writes and the TCP connect are awaited inline (bounded by a
//! timeout for the connect), so a server that stops reading stalls the loop.

// A real driver owns the clock: reading it here is the point, not a leak.
#![allow(clippy::disallowed_methods)]

#[path = "shared/cli.rs"]
mod cli;
#[path = "shared/tokio_broker.rs"]
mod tokio_broker;

use cli::{Args, Command};
use mqtt_sansio::{
    Client, DisconnectReasonCode, Event, Instant, Message, PublishId, QoS, ServerConfig,
    Subscription, TransportFailure,
};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// A command for the driver task: a closure run on the client with the current time.
type Job = Box<dyn FnOnce(&mut Client, Instant) + Send>;

/// The driver task: the canonical loop around one `Client` and its TCP socket.
async fn drive(
    mut client: Client,
    addr: String,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    events: mpsc::UnboundedSender<Event>,
) {
    let origin = std::time::Instant::now();
    let now = move || Instant::from_std(origin, std::time::Instant::now());
    let mut socket: Option<TcpStream> = None;
    let mut buf = vec![0u8; 64 * 1024];
    // Keep connected: the first Event::Connect is already queued.
    client
        .connect(now())
        .expect("a new client is not connected");
    loop {
        // Outputs: bytes to write, then events (which may open or close the socket).
        loop {
            if let Some(stream) = socket.as_mut() {
                while let Some(bytes) = client.poll_transmit() {
                    if stream.write_all(&bytes).await.is_err() {
                        socket = None;
                        client.handle_transport_close(now());
                        break;
                    }
                }
            }
            let Some(event) = client.poll_event() else {
                break;
            };
            match &event {
                Event::Connect { endpoint, .. } => {
                    let target = endpoint.clone().unwrap_or_else(|| addr.clone());
                    let connecting = TcpStream::connect(target);
                    match tokio::time::timeout(Duration::from_secs(10), connecting).await {
                        Ok(Ok(stream)) => {
                            let _ = stream.set_nodelay(true);
                            socket = Some(stream);
                            let _ = client.handle_transport_open(now());
                        }
                        Ok(Err(error)) => {
                            let cause = match error.kind() {
                                std::io::ErrorKind::ConnectionRefused => TransportFailure::Refused,
                                _ => TransportFailure::Other,
                            };
                            client.handle_transport_failed(now(), cause);
                        }
                        Err(_) => client.handle_transport_failed(now(), TransportFailure::Timeout),
                    }
                }
                // What was left to write went out above; the connection is over.
                Event::Disconnected { .. } => {
                    if let Some(mut stream) = socket.take() {
                        let _ = stream.shutdown().await;
                    }
                }
                _ => {}
            }
            let _ = events.send(event);
        }

        // Wait for exactly one input.
        let deadline = client.poll_timeout();
        tokio::select! {
            read = read_some(socket.as_mut(), &mut buf) => match read {
                Ok(0) | Err(_) => {
                    socket = None;
                    client.handle_transport_close(now());
                }
                Ok(n) => client.handle_input(now(), &buf[..n]),
            },
            () = sleep_until(deadline, origin) => client.handle_timeout(now()),
            job = jobs.recv() => match job {
                Some(job) => job(&mut client, now()),
                // The application is gone.
                None => return,
            },
        }
    }
}

/// Reads from the socket, or waits forever without one.
async fn read_some(socket: Option<&mut TcpStream>, buf: &mut [u8]) -> std::io::Result<usize> {
    match socket {
        Some(stream) => stream.read(buf).await,
        None => std::future::pending().await,
    }
}

/// Sleeps until the client's deadline, or forever without one.
async fn sleep_until(deadline: Option<Instant>, origin: std::time::Instant) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.to_std(origin).into()).await,
        None => std::future::pending().await,
    }
}

/// The application's side of a driven client: commands in, events out.
struct Mqtt {
    jobs: mpsc::UnboundedSender<Job>,
    events: mpsc::UnboundedReceiver<Event>,
    /// Events received and not yet asked for.
    backlog: Vec<Event>,
    /// Connection events go to stderr (stdout is for messages).
    log_to_stderr: bool,
}

impl Mqtt {
    fn spawn(client: Client, addr: String, log_to_stderr: bool) -> Mqtt {
        let (jobs, job_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::unbounded_channel();
        tokio::spawn(drive(client, addr, job_rx, event_tx));
        Mqtt {
            jobs,
            events,
            backlog: Vec::new(),
            log_to_stderr,
        }
    }

    /// Runs `f` on the client in the driver task and returns what it returned.
    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client, Instant) -> R + Send + 'static,
    ) -> R {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |client, now| {
            let _ = tx.send(f(client, now));
        });
        self.jobs.send(job).expect("the driver runs");
        rx.await.expect("the driver runs")
    }

    /// The first event that `want` accepts, oldest first; `Err` after `timeout` or when
    /// the client gave up.
    async fn wait_for(
        &mut self,
        timeout: Option<Duration>,
        mut want: impl FnMut(&Event) -> bool,
    ) -> Result<Event, String> {
        let end = timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            if let Some(i) = self.backlog.iter().position(&mut want) {
                return Ok(self.backlog.remove(i));
            }
            let next = match end {
                Some(end) => tokio::time::timeout_at(end, self.events.recv())
                    .await
                    .map_err(|_| "timed out".to_string())?,
                None => self.events.recv().await,
            };
            let event = next.ok_or("the driver stopped")?;
            if let Some(line) = cli::lifecycle(&event) {
                if self.log_to_stderr {
                    eprintln!("client: {line}");
                } else {
                    println!("client: {line}");
                }
            }
            if let Event::GaveUp { reason, .. } = &event {
                return Err(format!("gave up: {reason:?}"));
            }
            if !cli::progress_only(&event) {
                self.backlog.push(event);
            }
        }
    }

    async fn publish(&self, message: Message) -> Result<PublishId, String> {
        self.call(move |c, now| c.publish(now, message))
            .await
            .map_err(|e| e.to_string())
    }

    async fn published(&mut self, id: PublishId, timeout: Duration) -> Result<(), String> {
        match self
            .wait_for(
                Some(timeout),
                |e| matches!(e, Event::Published { id: i, .. } if *i == id),
            )
            .await?
        {
            Event::Published { result, .. } => result.map_err(|f| format!("{f:?}")),
            _ => unreachable!(),
        }
    }

    async fn subscribe(&mut self, subscription: Subscription) -> Result<QoS, String> {
        let id = self
            .call(move |c, now| c.subscribe(now, vec![subscription]))
            .await
            .map_err(|e| e.to_string())?;
        let event = self
            .wait_for(
                Some(Duration::from_secs(30)),
                |e| matches!(e, Event::Subscribed { id: i, .. } if *i == id),
            )
            .await?;
        let Event::Subscribed { results, .. } = event else {
            unreachable!()
        };
        results[0]
            .granted_qos()
            .ok_or_else(|| format!("refused: {:?}", results[0]))
    }

    async fn disconnect(&mut self) -> Result<(), String> {
        self.call(|c, now| c.disconnect(now, DisconnectReasonCode::NormalDisconnection, None))
            .await
            .map_err(|e| e.to_string())?;
        self.wait_for(Some(Duration::from_secs(5)), |e| {
            matches!(e, Event::Disconnected { .. })
        })
        .await
        .map(|_| ())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = cli::parse("tokio_client");
    if let Err(error) = run(args).await {
        eprintln!("tokio_client: {error}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let client = Client::new(args.config()).map_err(|e| e.to_string())?;
    match &args.command {
        Command::Demo => demo(&args, client).await,
        Command::Publish { topic, payload } => {
            let addr = args.broker.clone().unwrap_or("127.0.0.1:1883".into());
            let mut mqtt = Mqtt::spawn(client, addr, true);
            // Published before the connection is up: it waits in the client's queue.
            let id = mqtt.publish(args.message(topic, payload)).await?;
            mqtt.published(id, Duration::from_secs(30)).await?;
            eprintln!("client: published to {topic} at QoS {}", args.qos.value());
            mqtt.disconnect().await
        }
        Command::Subscribe { filter } => {
            let addr = args.broker.clone().unwrap_or("127.0.0.1:1883".into());
            let mut mqtt = Mqtt::spawn(client, addr, true);
            let granted = mqtt
                .subscribe(Subscription::new(filter.clone(), args.qos))
                .await?;
            eprintln!(
                "client: subscribed to {filter} (granted QoS {})",
                granted.value()
            );
            let mut received = 0;
            while args.count.is_none_or(|n| received < n) {
                let event = mqtt
                    .wait_for(None, |e| matches!(e, Event::Message(_)))
                    .await?;
                let Event::Message(m) = event else {
                    unreachable!()
                };
                println!("{} {}", m.topic, String::from_utf8_lossy(&m.payload));
                received += 1;
            }
            mqtt.disconnect().await
        }
    }
}

/// Subscribe, then publish and receive one message at each QoS.
async fn demo(args: &Args, client: Client) -> Result<(), String> {
    let version = args.version;
    let addr = match &args.broker {
        Some(addr) => addr.clone(),
        None => {
            let (listener, addr) = tokio_broker::bind("127.0.0.1:0")
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(tokio_broker::serve(
                listener,
                ServerConfig::default(),
                false,
            ));
            println!("demo: example broker listening on {addr} (in-process)");
            addr.to_string()
        }
    };
    println!("demo: {version} client {:?} to {addr}", args.client_id);
    let mut mqtt = Mqtt::spawn(client, addr, false);
    let timeout = Some(Duration::from_secs(10));
    mqtt.wait_for(timeout, |e| matches!(e, Event::Connected(_)))
        .await?;

    let filter = "demo/#".parse().unwrap();
    let granted = mqtt
        .subscribe(Subscription::new(filter, QoS::ExactlyOnce))
        .await?;
    println!(
        "client: subscribed to demo/# (granted QoS {})",
        granted.value()
    );

    for qos in cli::DEMO_QOS {
        let (topic, payload, message) = cli::demo_message(qos, "tokio");
        let id = mqtt.publish(message).await?;
        cli::report_published(&topic, &payload, qos);
        mqtt.published(id, Duration::from_secs(10)).await?;
        cli::report_complete(qos);
        let event = mqtt
            .wait_for(
                timeout,
                |e| matches!(e, Event::Message(m) if m.topic.as_str() == topic),
            )
            .await?;
        let Event::Message(m) = event else {
            unreachable!()
        };
        cli::check_received(&m, &payload, qos)?;
    }
    mqtt.disconnect().await?;
    println!("demo: published and received one message at each QoS 0, 1, 2 over {version}");
    Ok(())
}
