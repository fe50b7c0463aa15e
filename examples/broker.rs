//! A small MQTT 3.1.1 + 5.0 broker on 127.0.0.1: `mqtt_sansio::sim::Broker` (routing
//! with wildcards, retained messages, shared subscriptions, sessions, Wills, takeover)
//! driven over TCP by tokio. Not a production broker: no persistence, no
//! authentication, no TLS.
//!
//! ```sh
//! cargo run --example broker -- [--port N] [--quiet]   # default port 1883
//! mosquitto_sub -p 1883 -V mqttv5 -t 'demo/#' -v &
//! mosquitto_pub -p 1883 -V mqttv311 -q 2 -t demo/a -m hello
//! ```
//!
//! The driver itself is `examples/shared/tokio_broker.rs`, the part to copy.

#[path = "shared/tokio_broker.rs"]
mod tokio_broker;

use mqtt_sansio::ServerConfig;

const USAGE: &str = "usage: broker [--port N] [--quiet]";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut port: u16 = 1883;
    let mut verbose = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" | "-p" => match args.next().and_then(|p| p.parse().ok()) {
                Some(p) => port = p,
                None => fail("--port needs a number"),
            },
            "--quiet" | "-q" => verbose = false,
            "--help" | "-h" => {
                println!("{USAGE}");
                return;
            }
            other => fail(&format!("unknown argument {other:?}")),
        }
    }
    let (listener, addr) = match tokio_broker::bind(&format!("127.0.0.1:{port}")).await {
        Ok(bound) => bound,
        Err(error) => {
            eprintln!("broker: cannot listen on 127.0.0.1:{port}: {error}");
            std::process::exit(1);
        }
    };
    println!("broker: listening on {addr} (MQTT 3.1.1 and 5.0)");
    tokio_broker::serve(listener, ServerConfig::default(), verbose).await;
}

fn fail(message: &str) -> ! {
    eprintln!("broker: {message}\n{USAGE}");
    std::process::exit(2);
}
