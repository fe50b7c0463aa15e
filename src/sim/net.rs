//! A simulated stream network between clients and the [`Broker`], with virtual time
//! that jumps to the next deadline, and faults: latency, chunking, connections cut at
//! any byte, partitions, half-open links, broker restarts.

use super::broker::{Broker, BrokerNote, ConnId};
use super::check::Ledger;
use crate::client::reconnect::uniform;
use crate::client::{
    Client, ClientConfig, Event, Message, PublishError, PublishId, StateError, SubscribeError,
    SubscribeId,
};
use crate::codec::{DisconnectReasonCode, SubscribeProperties, Subscription};
use crate::server::ServerConfig;
use crate::time::Instant;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt::Write as _;
use core::time::Duration;

/// The faults a [`World`] injects on every write, from its seed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Faults {
    /// One-way latency of each chunk, uniform in this range.
    pub latency: (Duration, Duration),
    /// Writes are cut into chunks of 1 to this many bytes (0: whole writes).
    pub max_chunk: usize,
    /// Per write, chances in a million that the connection is cut at a random byte
    /// of it.
    pub cut_per_million: u32,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency: (Duration::from_millis(1), Duration::from_millis(20)),
            max_chunk: 0,
            cut_per_million: 0,
        }
    }
}

impl Faults {
    /// No latency, whole writes, no cuts.
    pub fn none() -> Self {
        Faults {
            latency: (Duration::ZERO, Duration::ZERO),
            ..Faults::default()
        }
    }
}

/// One direction of a link.
#[derive(Debug, Default)]
struct Pipe {
    segments: VecDeque<(Instant, Segment)>,
    /// Half-open: what is written vanishes, and no close ever arrives.
    dead: bool,
    /// When the last segment arrives: later ones never overtake it.
    last_at: Instant,
}

#[derive(Debug)]
enum Segment {
    Data(Bytes),
    /// The writer closed the transport (after the data before it).
    Fin,
}

/// Which way bytes travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to broker.
    Up,
    /// Broker to client.
    Down,
}

#[derive(Debug)]
struct Link {
    client: usize,
    conn: ConnId,
    up: Pipe,
    down: Pipe,
    /// The client closed its end (or learned that it closed).
    client_done: bool,
    /// The broker closed its end (or learned that it closed).
    broker_done: bool,
}

#[derive(Debug)]
struct Node {
    client: Client,
    name: String,
    link: Option<usize>,
    /// Every event the client reported, with when.
    events: Vec<(Instant, Event)>,
}

/// Clients, a broker and the network between them, in virtual time.
///
/// ```
/// use bytes::Bytes;
/// use mqtt_sansio::sim::{Faults, World};
/// use mqtt_sansio::{ClientConfig, Message, ProtocolVersion, QoS, ServerConfig, Subscription};
/// use std::time::Duration;
///
/// let mut world = World::new(7, ServerConfig::default(), Faults::default());
/// let sub = world.add_client(ClientConfig::new(ProtocolVersion::V5, "sub".parse().unwrap()));
/// let publisher = world.add_client(ClientConfig::new(ProtocolVersion::V311, "pub".parse().unwrap()));
/// world.run_for(Duration::from_secs(1));
/// world.subscribe(sub, vec![Subscription::new("t/#".parse().unwrap(), QoS::ExactlyOnce)]).unwrap();
/// world.run_for(Duration::from_secs(1));
/// let message = Message::new("t/1".parse().unwrap(), Bytes::from_static(b"hi"), QoS::ExactlyOnce);
/// world.publish(publisher, message).unwrap();
/// assert!(world.settle(Duration::from_secs(60)));
/// world.check().unwrap();
/// assert_eq!(world.delivered(sub).len(), 1);
/// ```
#[derive(Debug)]
pub struct World {
    now: Instant,
    rng: u64,
    faults: Faults,
    broker: Broker,
    nodes: Vec<Node>,
    links: Vec<Link>,
    /// Until when every link stalls (bytes wait, as TCP would retransmit them).
    partitioned_until: Option<Instant>,
    ledger: Ledger,
    trace: Option<String>,
}

impl World {
    /// An empty world at time zero whose faults follow `seed`.
    pub fn new(seed: u64, broker_config: ServerConfig, faults: Faults) -> Self {
        World {
            now: Instant::ZERO,
            rng: seed,
            faults,
            broker: Broker::new(broker_config),
            nodes: Vec::new(),
            links: Vec::new(),
            partitioned_until: None,
            ledger: Ledger::default(),
            trace: None,
        }
    }

    /// Records a readable timeline from now on (see [`trace`](Self::trace)).
    pub fn enable_trace(&mut self) {
        self.trace.get_or_insert_with(String::new);
    }

    /// The timeline recorded so far (empty unless enabled).
    pub fn trace(&self) -> &str {
        self.trace.as_deref().unwrap_or("")
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The broker.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Client `index`.
    pub fn client(&self, index: usize) -> &Client {
        &self.nodes[index].client
    }

    /// Adds a client that connects at once and keeps reconnecting by its policy.
    /// Returns its index.
    ///
    /// # Panics
    ///
    /// When `config` is invalid (`Client::new` refuses it): a mistake in the test.
    pub fn add_client(&mut self, config: ClientConfig) -> usize {
        let name = String::from(config.client_id.as_str());
        let mut client = Client::new(config).expect("a valid client configuration");
        let _ = client.connect(self.now);
        self.nodes.push(Node {
            client,
            name,
            link: None,
            events: Vec::new(),
        });
        let index = self.nodes.len() - 1;
        self.drive_client(index);
        index
    }

    /// Client `index` publishes `message` (its payload should be unique: the checks
    /// identify messages by payload).
    pub fn publish(&mut self, index: usize, message: Message) -> Result<PublishId, PublishError> {
        let record = (message.topic.clone(), message.payload.clone(), message.qos);
        let id = self.nodes[index].client.publish(self.now, message)?;
        self.note(format!(
            "{} publish {} {:?} at {:?}",
            self.nodes[index].name,
            record.0.as_str(),
            String::from_utf8_lossy(&record.1),
            record.2
        ));
        self.ledger.published(index, id, record, self.now);
        self.drive_client(index);
        Ok(id)
    }

    /// Client `index` subscribes.
    pub fn subscribe(
        &mut self,
        index: usize,
        filters: Vec<Subscription>,
    ) -> Result<SubscribeId, SubscribeError> {
        self.subscribe_with_properties(index, filters, SubscribeProperties::default())
    }

    /// Client `index` subscribes with MQTT 5 SUBSCRIBE properties: a Subscription
    /// Identifier, User Properties ([`Client::subscribe_with_properties`]).
    pub fn subscribe_with_properties(
        &mut self,
        index: usize,
        filters: Vec<Subscription>,
        properties: SubscribeProperties,
    ) -> Result<SubscribeId, SubscribeError> {
        let id = self.nodes[index].client.subscribe_with_properties(
            self.now,
            filters.clone(),
            properties,
        )?;
        self.ledger.subscribed(index, id, filters);
        self.drive_client(index);
        Ok(id)
    }

    /// Client `index` ends its connection gracefully: DISCONNECT with Normal
    /// Disconnection (the broker discards its Will), the Session Expiry Interval of
    /// CONNECT unchanged ([`Client::disconnect`]). The client stops reconnecting until
    /// [`connect`](Self::connect); meanwhile [`settle`](Self::settle) cannot succeed.
    pub fn disconnect(&mut self, index: usize) -> Result<(), StateError> {
        self.nodes[index].client.disconnect(
            self.now,
            DisconnectReasonCode::NormalDisconnection,
            None,
        )?;
        self.note(format!("{} disconnects", self.nodes[index].name));
        self.drive_client(index);
        Ok(())
    }

    /// Client `index` starts connecting again by its policy ([`Client::connect`]),
    /// after [`disconnect`](Self::disconnect) or after it gave up.
    pub fn connect(&mut self, index: usize) -> Result<(), StateError> {
        self.nodes[index].client.connect(self.now)?;
        self.drive_client(index);
        Ok(())
    }

    /// Every event client `index` reported so far, oldest first, with the virtual
    /// time it was reported at.
    pub fn events(&self, index: usize) -> &[(Instant, Event)] {
        &self.nodes[index].events
    }

    /// Runs until `deadline`, handling every delivery and timer on the way.
    pub fn run_until(&mut self, deadline: Instant) {
        while let Some(next) = self.next_event().filter(|&t| t <= deadline) {
            self.now = self.now.max(next);
            self.step();
        }
        self.now = self.now.max(deadline);
    }

    /// Runs for `duration` of virtual time.
    pub fn run_for(&mut self, duration: Duration) {
        self.run_until(self.now + duration);
    }

    /// Heals every fault and runs until nothing is in flight, queued or pending
    /// anywhere, or `limit` passed. True when it settled.
    pub fn settle(&mut self, limit: Duration) -> bool {
        self.faults.cut_per_million = 0;
        self.partitioned_until = None;
        // A half-open link heals only by the keep-alive of either side.
        let end = self.now + limit;
        while self.now < end {
            self.run_for(Duration::from_secs(1));
            if self.quiet() {
                return true;
            }
        }
        self.quiet()
    }

    fn quiet(&self) -> bool {
        let clients_idle = self.nodes.iter().all(|n| {
            let stats = n.client.stats();
            n.client.is_connected() && stats.in_flight == 0 && stats.queued == 0
        });
        clients_idle
            && self.broker.messages_held() == 0
            && self.ledger.all_completed()
            && self
                .links
                .iter()
                .all(|l| l.up.segments.is_empty() && l.down.segments.is_empty())
    }

    /// Every link stalls for `duration`; bytes wait and then arrive (keep-alive may
    /// end the connections first).
    pub fn partition(&mut self, duration: Duration) {
        self.note(format!("PARTITION for {duration:?}"));
        self.partitioned_until = Some(self.now + duration);
    }

    /// The current link of client `index` loses one direction silently.
    pub fn half_open(&mut self, index: usize, direction: Direction) {
        if let Some(link) = self.nodes[index].link {
            self.note(format!(
                "HALF-OPEN {} {direction:?}",
                self.nodes[index].name
            ));
            let link = &mut self.links[link];
            match direction {
                Direction::Up => link.up.dead = true,
                Direction::Down => link.down.dead = true,
            }
        }
    }

    /// The current link of client `index` is cut now, both ends told.
    pub fn cut(&mut self, index: usize) {
        if let Some(link) = self.nodes[index].link {
            self.note(format!("CUT {}", self.nodes[index].name));
            self.cut_link(link);
        }
    }

    /// The broker restarts: every link is cut; with `keep_sessions` its sessions
    /// survive.
    pub fn restart_broker(&mut self, keep_sessions: bool) {
        self.note(format!("BROKER RESTART keep_sessions={keep_sessions}"));
        for index in 0..self.links.len() {
            let link = &mut self.links[index];
            link.broker_done = true;
            link.up.segments.clear();
            link.down.segments.clear();
            link.down.segments.push_back((self.now, Segment::Fin));
            link.down.dead = false;
        }
        self.broker.restart(self.now, keep_sessions);
        if !keep_sessions {
            self.ledger.lost_all(self.now);
        }
        self.drain_broker();
    }

    /// The invariants over everything that happened: see the [module](super) docs.
    pub fn check(&self) -> Result<(), String> {
        self.ledger.check(self.nodes.len())
    }

    /// The payloads client `index` received, in order.
    pub fn delivered(&self, index: usize) -> Vec<Bytes> {
        self.ledger.delivered(index)
    }

    /// The checks that hold at every step: memory bounded, flow control kept.
    fn check_bounds(&mut self) {
        for (index, node) in self.nodes.iter().enumerate() {
            let stats = node.client.stats();
            let config = node.client.config();
            if stats.queued > config.max_queued
                || stats.in_flight > usize::from(config.max_inflight.get())
            {
                self.ledger
                    .violation(format!("client {index} exceeds its bounds: {stats:?}"));
            }
            // The broker's side of the same session: PUBLISHes on the wire within the
            // client's Receive Maximum (5.0; 3.1.1 has none), its queue within bounds.
            let Some(session) = self.broker.session_of(&node.name).and_then(|c| c.session()) else {
                continue;
            };
            let on_wire = session
                .outgoing
                .values()
                .filter(|o| !o.pending && !o.released)
                .count();
            let receive_maximum = if config.version.is_v5() {
                usize::from(config.receive_maximum.get())
            } else {
                usize::from(u16::MAX)
            };
            if on_wire > receive_maximum || session.queued() > self.broker.max_queued() {
                let what = format!(
                    "the broker exceeds the bounds of client {index}: {on_wire} on the wire, {} queued",
                    session.queued()
                );
                self.ledger.violation(what);
            }
        }
    }

    // ---- the event loop ----

    fn next_event(&self) -> Option<Instant> {
        let stall = self.partitioned_until.filter(|&t| t > self.now);
        let pipes = self.links.iter().flat_map(|l| {
            [l.up.segments.front(), l.down.segments.front()]
                .into_iter()
                .flatten()
                .map(|(at, _)| stall.map_or(*at, |s| s.max(*at)))
        });
        let clients = self.nodes.iter().filter_map(|n| n.client.poll_timeout());
        pipes.chain(clients).chain(self.broker.poll_timeout()).min()
    }

    fn step(&mut self) {
        let now = self.now;
        if self.partitioned_until.is_some_and(|t| t <= now) {
            self.partitioned_until = None;
        }
        if self.partitioned_until.is_none() {
            for index in 0..self.links.len() {
                self.deliver(index, Direction::Up);
                self.deliver(index, Direction::Down);
            }
        }
        for index in 0..self.nodes.len() {
            if self.nodes[index]
                .client
                .poll_timeout()
                .is_some_and(|t| t <= now)
            {
                self.nodes[index].client.handle_timeout(now);
                self.drive_client(index);
            }
        }
        if self.broker.poll_timeout().is_some_and(|t| t <= now) {
            self.broker.handle_timeout(now);
            self.drain_broker();
        }
        self.check_bounds();
    }

    /// Delivers the due segments of one pipe.
    fn deliver(&mut self, index: usize, direction: Direction) {
        loop {
            let link = &mut self.links[index];
            let pipe = match direction {
                Direction::Up => &mut link.up,
                Direction::Down => &mut link.down,
            };
            if pipe.segments.front().is_none_or(|(at, _)| *at > self.now) {
                return;
            }
            let Some((_, segment)) = pipe.segments.pop_front() else {
                return;
            };
            let (client, conn) = (link.client, link.conn);
            match (direction, segment) {
                (Direction::Up, Segment::Data(bytes)) => {
                    if !link.broker_done {
                        self.broker.handle_input(self.now, conn, &bytes);
                        self.drain_broker();
                    }
                }
                (Direction::Up, Segment::Fin) => {
                    if !link.broker_done {
                        link.broker_done = true;
                        self.broker.handle_transport_close(self.now, conn);
                        self.drain_broker();
                    }
                }
                (Direction::Down, Segment::Data(bytes)) => {
                    if !link.client_done {
                        self.nodes[client].client.handle_input(self.now, &bytes);
                        self.drive_client(client);
                    }
                }
                (Direction::Down, Segment::Fin) => {
                    if !link.client_done {
                        link.client_done = true;
                        if self.nodes[client].link == Some(index) {
                            self.nodes[client].link = None;
                            self.nodes[client].client.handle_transport_close(self.now);
                            self.drive_client(client);
                        }
                    }
                }
            }
        }
    }

    /// Writes `bytes` into a pipe with latency, chunking and the chance of a cut.
    fn write(&mut self, index: usize, direction: Direction, bytes: Bytes) {
        let mut bytes = bytes;
        let mut cut = false;
        if self.faults.cut_per_million > 0
            && uniform(&mut self.rng, 999_999) < u64::from(self.faults.cut_per_million)
        {
            let keep = uniform(&mut self.rng, bytes.len() as u64) as usize;
            bytes.truncate(keep);
            cut = true;
        }
        let (low, high) = self.faults.latency;
        let span = high.saturating_sub(low).as_micros() as u64;
        let max_chunk = self.faults.max_chunk;
        let mut chunks = Vec::new();
        while !bytes.is_empty() {
            let size = if max_chunk == 0 {
                bytes.len()
            } else {
                1 + uniform(&mut self.rng, (max_chunk - 1) as u64) as usize
            };
            chunks.push(bytes.split_to(size.min(bytes.len())));
        }
        let latency: Vec<Duration> = (0..chunks.len() + 1)
            .map(|_| low + Duration::from_micros(uniform(&mut self.rng, span)))
            .collect();
        let now = self.now;
        let link = &mut self.links[index];
        let pipe = match direction {
            Direction::Up => &mut link.up,
            Direction::Down => &mut link.down,
        };
        if pipe.dead {
            return;
        }
        for (chunk, delay) in chunks.into_iter().zip(&latency) {
            let at = (now + *delay).max(pipe.last_at);
            pipe.last_at = at;
            pipe.segments.push_back((at, Segment::Data(chunk)));
        }
        if cut {
            self.note(format!("CUT link {index} in a {direction:?} write"));
            self.cut_link(index);
        }
    }

    /// Both ends learn that the link is gone, after the bytes already on the way.
    fn cut_link(&mut self, index: usize) {
        let link = &mut self.links[index];
        for pipe in [&mut link.up, &mut link.down] {
            pipe.dead = false;
            let at = pipe.last_at.max(self.now);
            pipe.segments.push_back((at, Segment::Fin));
            // Nothing written after the cut arrives.
            pipe.dead = true;
        }
    }

    /// Applies what client `index` wants done: bytes to send, transports to open or
    /// close, events to record.
    fn drive_client(&mut self, index: usize) {
        loop {
            if let (Some(link), Some(bytes)) = (
                self.nodes[index].link,
                self.nodes[index].client.poll_transmit(),
            ) {
                self.write(link, Direction::Up, bytes);
                continue;
            }
            let Some(event) = self.nodes[index].client.poll_event() else {
                break;
            };
            self.note(format!("{} {}", self.nodes[index].name, describe(&event)));
            match &event {
                Event::Connect { .. } => self.open_link(index),
                Event::Disconnected { .. } => {
                    // Write what is left, then close our end.
                    if let Some(link) = self.nodes[index].link.take() {
                        while let Some(bytes) = self.nodes[index].client.poll_transmit() {
                            self.write(link, Direction::Up, bytes);
                        }
                        self.links[link].client_done = true;
                        let pipe = &mut self.links[link].up;
                        if !pipe.dead {
                            let at = pipe.last_at.max(self.now);
                            pipe.segments.push_back((at, Segment::Fin));
                        }
                    }
                }
                _ => {}
            }
            self.ledger.client_event(index, &event, self.now);
            self.nodes[index].events.push((self.now, event));
        }
    }

    fn open_link(&mut self, index: usize) {
        let conn = self.broker.accept(self.now);
        self.links.push(Link {
            client: index,
            conn,
            up: Pipe::default(),
            down: Pipe::default(),
            client_done: false,
            broker_done: false,
        });
        self.nodes[index].link = Some(self.links.len() - 1);
        let _ = self.nodes[index].client.handle_transport_open(self.now);
    }

    /// Moves the broker's output into the pipes and records what it did.
    fn drain_broker(&mut self) {
        for index in 0..self.links.len() {
            if self.links[index].broker_done && self.links[index].down.dead {
                continue;
            }
            let conn = self.links[index].conn;
            while let Some(bytes) = self.broker.poll_transmit(conn) {
                if !self.links[index].broker_done {
                    self.write(index, Direction::Down, bytes);
                }
            }
            if !self.links[index].broker_done && self.broker.should_close(conn) {
                self.links[index].broker_done = true;
                let pipe = &mut self.links[index].down;
                if !pipe.dead {
                    let at = pipe.last_at.max(self.now);
                    pipe.segments.push_back((at, Segment::Fin));
                }
            }
        }
        for note in self.broker.take_notes() {
            if self.trace.is_some() {
                self.note(describe_note(&note));
            }
        }
        // Links both ends finished with are dropped from the scan.
        for link in &mut self.links {
            if link.client_done && link.broker_done && link.up.segments.is_empty() {
                link.down.segments.clear();
            }
        }
    }

    fn note(&mut self, line: String) {
        if let Some(trace) = &mut self.trace {
            let _ = writeln!(
                trace,
                "[{:>10.3}s] {line}",
                self.now.since_epoch().as_secs_f64()
            );
        }
    }
}

/// One line for something the broker did.
fn describe_note(note: &BrokerNote) -> String {
    match note {
        BrokerNote::Routed {
            from,
            to,
            topic,
            qos,
            payload,
        } => format!(
            "broker routes {topic} {:?} from {from} to {to} at {qos:?}",
            String::from_utf8_lossy(payload)
        ),
        BrokerNote::Connected {
            conn,
            client_id,
            session_present,
        } => format!(
            "broker accepts {client_id} on connection {} (session present: {session_present})",
            conn.0
        ),
        BrokerNote::Closed { conn, reason } => {
            format!("broker closes connection {}: {reason}", conn.0)
        }
        BrokerNote::Will { client_id, topic } => {
            format!("broker publishes the Will of {client_id} on {topic}")
        }
        BrokerNote::SessionEnded { client_id } => {
            format!("broker ends the session of {client_id}")
        }
    }
}

/// One line for a client event.
fn describe(event: &Event) -> String {
    match event {
        Event::Message(m) => format!(
            "received {} {:?} at {:?}{}",
            m.topic.as_str(),
            String::from_utf8_lossy(&m.payload),
            m.qos,
            if m.dup { " (dup)" } else { "" }
        ),
        Event::Published { id, result, .. } => format!("completed {id:?}: {result:?}"),
        Event::Connected(c) => format!(
            "connected (session present: {}, keep alive {} s)",
            c.session_present, c.keep_alive
        ),
        Event::Subscribed { id, results, .. } => format!("subscribed {id:?}: {results:?}"),
        Event::Connect { attempt, .. } => format!("opens a transport (attempt {attempt})"),
        Event::AttemptScheduled { attempt, delay, .. } => {
            format!("will reconnect in {delay:?} (attempt {attempt})")
        }
        Event::Disconnected { reason } => format!("disconnected: {reason:?}"),
        other => format!("{other:?}"),
    }
}
