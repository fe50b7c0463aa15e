//! A tokio TCP driver for [`mqtt_sansio::sim::Broker`]: a template to copy for a
//! broker (or gateway) around the sans-IO machines.
//!
//! Not an example on its own: `examples/broker.rs`, `examples/tokio_client.rs`,
//! `examples/blocking_client.rs` and `tests/interop_example_broker.rs` include it with
//! `#[path = "shared/tokio_broker.rs"] mod tokio_broker;`.
//!
//! The shape:
//!
//! - one task owns the `Broker` (no locks): it waits for whichever comes first of a new
//!   socket, an input from a socket, or the broker's deadline (`poll_timeout`), applies
//!   exactly that input, then for every connection writes what `poll_transmit` gives
//!   and closes the socket once `should_close` says so;
//! - per socket, a reader task forwards the bytes it reads (and the end of the stream)
//!   over a bounded channel to the broker task, so a fast publisher waits for the
//!   broker (TCP backpressure) instead of filling memory;
//! - per socket, a writer task owns the write half and writes what the broker task
//!   hands it over an unbounded channel; dropping the sender closes the socket after
//!   the last bytes. (Unbounded: the broker's sessions bound QoS 1/2 messages in flight
//!   by each client's Receive Maximum, but QoS 0 to a client that does not read piles
//!   up here. A production broker would bound it and drop or disconnect.)
//!
//! Time: the driver owns the clock. It takes `origin` once and converts with
//! `Instant::from_std(origin, std::time::Instant::now())`; the crate never reads it.

// A real driver owns the clock: reading it here is the point, not a leak. Each
// includer uses a part of this module.
#![allow(clippy::disallowed_methods, dead_code, unreachable_pub)]

use bytes::Bytes;
use mqtt_sansio::sim::{Broker, BrokerNote, ConnId};
use mqtt_sansio::{Instant, ServerConfig};
use std::collections::HashMap;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// What a reader task tells the broker task.
enum Input {
    Bytes(ConnId, Vec<u8>),
    /// End of stream or a read error.
    Closed(ConnId),
}

/// The broker task's handles on one socket.
struct Peer {
    addr: SocketAddr,
    writer: mpsc::UnboundedSender<Bytes>,
    reader: JoinHandle<()>,
}

/// Runs a broker with `config` on `listener` until the task is dropped. With `verbose`
/// it prints one line per connection, routed message, Will and session end.
pub async fn serve(listener: TcpListener, config: ServerConfig, verbose: bool) {
    let origin = std::time::Instant::now();
    let now = || Instant::from_std(origin, std::time::Instant::now());
    let mut broker = Broker::new(config);
    let mut peers: HashMap<ConnId, Peer> = HashMap::new();
    // The broker task keeps a sender: `recv` never ends.
    let (input_tx, mut input_rx) = mpsc::channel::<Input>(64);

    loop {
        let deadline = broker.poll_timeout();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.to_std(origin).into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let conn = broker.accept(now());
                    if verbose {
                        println!("broker: accepted {addr} as connection {}", conn.0);
                    }
                    let (read, write) = stream.into_split();
                    let (writer, to_write) = mpsc::unbounded_channel();
                    tokio::spawn(write_loop(write, to_write));
                    let reader = tokio::spawn(read_loop(conn, read, input_tx.clone()));
                    peers.insert(conn, Peer { addr, writer, reader });
                }
                Err(error) => {
                    // Out of file descriptors, say: wait a little instead of spinning.
                    eprintln!("broker: accept failed: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            Some(input) = input_rx.recv() => match input {
                Input::Bytes(conn, bytes) => broker.handle_input(now(), conn, &bytes),
                Input::Closed(conn) => broker.handle_transport_close(now(), conn),
            },
            () = sleep => broker.handle_timeout(now()),
        }

        // Outputs: what the broker did (always taken: notes accumulate), every
        // connection's bytes, then the sockets the broker is done with.
        for note in broker.take_notes() {
            if verbose {
                print_note(&note);
            }
        }
        let mut done = Vec::new();
        for (&conn, peer) in &peers {
            while let Some(bytes) = broker.poll_transmit(conn) {
                let _ = peer.writer.send(bytes);
            }
            if broker.should_close(conn) {
                done.push(conn);
            }
        }
        for conn in done {
            if let Some(peer) = peers.remove(&conn) {
                // The writer task writes what it holds, then closes its half; the
                // read half goes with the reader task.
                peer.reader.abort();
                drop(peer.writer);
                if verbose {
                    println!("broker: closed connection {} ({})", conn.0, peer.addr);
                }
            }
            // Lets the broker forget the connection once it holds no session.
            broker.handle_transport_close(now(), conn);
        }
    }
}

async fn read_loop(conn: ConnId, mut read: OwnedReadHalf, input: mpsc::Sender<Input>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if input
                    .send(Input::Bytes(conn, buf[..n].to_vec()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
    let _ = input.send(Input::Closed(conn)).await;
}

async fn write_loop(mut write: OwnedWriteHalf, mut to_write: mpsc::UnboundedReceiver<Bytes>) {
    while let Some(bytes) = to_write.recv().await {
        if write.write_all(&bytes).await.is_err() {
            // The reader sees the failure too and reports the close.
            return;
        }
    }
    let _ = write.shutdown().await;
}

fn print_note(note: &BrokerNote) {
    match note {
        BrokerNote::Connected {
            conn,
            client_id,
            session_present,
        } => println!(
            "broker: connection {} is client {client_id:?} (session present: {session_present})",
            conn.0
        ),
        BrokerNote::Routed {
            from,
            to,
            topic,
            qos,
            payload,
        } => println!(
            "broker: {topic:?} from {from:?} to {to:?} at QoS {} ({} bytes)",
            qos.value(),
            payload.len()
        ),
        BrokerNote::Will { client_id, topic } => {
            println!("broker: published the Will of {client_id:?} on {topic:?}")
        }
        BrokerNote::Closed { conn, reason } => {
            println!("broker: connection {} ended: {reason}", conn.0)
        }
        BrokerNote::SessionEnded { client_id } => {
            println!("broker: session of {client_id:?} ended")
        }
        other => println!("broker: {other:?}"),
    }
}

/// A broker on its own thread with its own tokio runtime, for drivers and tests that
/// have none. Stopped (every socket closed) on drop.
pub struct Background {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Starts a broker with `config` on `addr` (port 0: any free port).
    pub fn start(addr: &str, config: ServerConfig, verbose: bool) -> std::io::Result<Background> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("mqtt-broker".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(std_listener) {
                        Ok(listener) => listener,
                        Err(error) => return eprintln!("broker: {error}"),
                    };
                    tokio::select! {
                        () = serve(listener, config, verbose) => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime drops every reader and writer task: the
                // sockets close.
            })?;
        Ok(Background {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds `addr` for [`serve`] and returns the listener with the address it got.
pub async fn bind(addr: &str) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}
