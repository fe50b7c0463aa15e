//! A deterministic world for tests: an in-memory [`Broker`] built on
//! [`ServerConnection`](crate::ServerConnection), and a simulated network ([`World`])
//! between it and any number of [`Client`](crate::Client)s, with virtual time that
//! jumps to the next deadline and faults injected from a seed.
//!
//! Enabled by the `sim` feature. Everything here is reproducible: the same seed and the
//! same calls give the same run, byte for byte.
//!
//! [`World::check`] verifies, over a whole run: every command completed exactly once;
//! every QoS 1 message delivered at least once and every QoS 2 message exactly once to
//! every subscriber whose subscription stood before the publish and whose session was
//! not lost since; no QoS 0 message twice; first deliveries in publishing order per
//! publisher and topic. Bounds on queues and messages in flight are checked at every
//! step.

mod broker;
mod check;
mod net;
mod soak;

pub use broker::{Broker, BrokerNote, ConnId};
pub use net::{Direction, Faults, World};
pub use soak::{SoakOptions, SoakReport, soak};
