//! Session persistence: the session and the queue of a [`Client`] as bytes, and a new
//! client restored from them after a process restart.

use super::queue::{Queue, Queued};
use super::{Client, ClientConfig, PublishId};
use crate::session::Session;
use crate::session::persist::{
    COUNTER_LIMIT, Handles, Reader, RestoreError, Section, put_header, put_instant, put_packet,
};
use alloc::vec::Vec;
use bytes::BufMut;

/// Smallest encoded size of a queued message: handle, instant, a packet of two bytes.
const MIN_QUEUED: usize = 8 + 8 + 2;

impl Client {
    /// The session as bytes, for [`Client::restore`] after a process restart: the
    /// outgoing QoS 1/2 messages not completed (with their packet identifiers, whether
    /// PUBREL went out, and their handles), the SUBSCRIBE and UNSUBSCRIBE requests not
    /// acknowledged, the identifiers of the incoming QoS 2 messages delivered and not
    /// yet released, the granted subscriptions, the queue of messages waiting to be
    /// sent, and the counters behind packet identifiers and handles. Connection state
    /// (the transport, keep-alive, the server's limits, Topic Aliases, statistics) is
    /// not included. Neither are the incoming messages delivered in manual
    /// acknowledgement mode and not yet acknowledged with [`ack`](Client::ack): the
    /// server has no PUBACK or PUBREC for them, so it sends them again after the
    /// restart and they are delivered again, under new [`DeliveryId`](super::DeliveryId)s
    /// (those of the previous process are never reused: `ack` refuses them).
    ///
    /// The format is small, versioned and binary, and stores packets as the crate's
    /// codec writes them for the client's protocol version; the same state always
    /// gives the same bytes. Instants are stored as microseconds since the driver's
    /// epoch: a driver that restores should use the same epoch (a wall clock, say)
    /// for Message Expiry Intervals to keep counting from when the messages were
    /// first sent. A message too large for any MQTT packet (above 256 MiB), which
    /// could never be sent, is left out.
    ///
    /// # When to persist
    ///
    /// Write-ahead: after every call that changed the session, and **before** writing
    /// any bytes that [`poll_transmit`](Client::poll_transmit) or
    /// [`pending_transmit`](Client::pending_transmit) gives after that call. Then
    /// every PUBLISH, PUBACK, PUBREC, PUBREL and PUBCOMP the server receives refers to
    /// state already on disk, so a restart never sends a message again as a new one,
    /// never forgets one the server holds, and never delivers an incoming QoS 2
    /// message again after acknowledging it with PUBREC.
    ///
    /// A call changed the session, and must be followed by a persist before its bytes
    /// are written, when:
    ///
    /// - [`publish`](Client::publish), [`subscribe`](Client::subscribe),
    ///   [`subscribe_with_properties`](Client::subscribe_with_properties) or
    ///   [`unsubscribe`](Client::unsubscribe) returned a handle, or
    ///   [`ack`](Client::ack) or [`ack_with`](Client::ack_with) returned `Ok` (a QoS 2
    ///   message acknowledged is owned from then on, even while disconnected);
    /// - it produced an [`Event`](super::Event) for [`poll_event`](Client::poll_event)
    ///   (`Message`, `Published`, `Subscribed`, `Unsubscribed`, `Resubscribed`,
    ///   `Connected` — re-sends mark messages DUP and move queued ones in flight —,
    ///   `SessionLost`, ...);
    /// - it left bytes to transmit: an input whose only effect is a PUBREL (after a
    ///   PUBREC: the message is released) or a PUBCOMP (after a PUBREL: the identifier
    ///   is free for the server's next message) produces no event.
    ///
    /// Calls that changed nothing may be persisted too: comparing with the last bytes
    /// stored skips the write. A call that returned an error and produced no event
    /// changed nothing.
    ///
    /// The application takes the call's [`Event::Message`](super::Event::Message)s
    /// before the persist: once the session is stored, a repeat of an incoming QoS 2
    /// message is never delivered again; and it takes every message before its
    /// PUBACK or PUBREC is written. So after each input or command: drain
    /// `poll_event`, persist, then transmit.
    ///
    /// ```
    /// use mqtt_sansio::{Client, ClientConfig, Event, Instant, ProtocolVersion};
    ///
    /// let mut config = ClientConfig::new(ProtocolVersion::V311, "c1".parse().unwrap());
    /// config.clean_start = false;
    /// let mut client = Client::new(config.clone()).unwrap();
    /// let t0 = Instant::ZERO;
    /// client.handle_transport_open(t0).unwrap();
    /// let _connect = client.poll_transmit();
    /// client.handle_input(t0, &[0x20, 0x02, 0x00, 0x00]); // CONNACK
    /// assert!(matches!(client.poll_event(), Some(Event::Connected(_))));
    ///
    /// // A QoS 2 message arrives, identifier 7.
    /// client.handle_input(t0, b"\x34\x06\x00\x01t\x00\x07x");
    /// let mut delivered = Vec::new();
    /// while let Some(event) = client.poll_event() {
    ///     if let Event::Message(m) = event {
    ///         delivered.push(m.payload);
    ///     }
    /// }
    /// let stored = client.export_session(); // write it durably (fsync) here
    /// let pubrec = client.poll_transmit().unwrap(); // then write this
    /// assert_eq!(&pubrec[..], [0x50, 0x02, 0x00, 0x07]);
    ///
    /// // The process restarts.
    /// let mut client = Client::restore(config, &stored).unwrap();
    /// client.handle_transport_open(t0).unwrap();
    /// let _connect = client.poll_transmit();
    /// client.handle_input(t0, &[0x20, 0x02, 0x01, 0x00]); // CONNACK, session present
    /// // The server repeats the message: acknowledged again, not delivered again.
    /// client.handle_input(t0, b"\x3c\x06\x00\x01t\x00\x07x");
    /// assert!(matches!(client.poll_event(), Some(Event::Connected(_))));
    /// assert_eq!(client.poll_event(), None);
    /// assert_eq!(&client.poll_transmit().unwrap()[..], [0x50, 0x02, 0x00, 0x07]);
    /// assert_eq!(delivered, [&b"x"[..]]);
    /// ```
    pub fn export_session(&self) -> Vec<u8> {
        let version = self.config.version;
        let mut out = Vec::new();
        put_header(&mut out, version);
        self.session.export_into(version, &mut out);
        let mut section = Section::begin(&mut out);
        for queued in self.queue.iter() {
            section.entry(&mut out, |out| {
                out.put_u64(queued.id.0);
                put_instant(out, queued.since);
                put_packet(out, &queued.publish, version)
            });
        }
        section.end(&mut out);
        out.put_u64(self.next_handle);
        out.put_u64(self.pending_acks.last_delivery());
        out
    }

    /// A new client with `config` and the session of `bytes` from
    /// [`export_session`](Client::export_session): not connected, its messages in
    /// flight, requests, queue and subscriptions as they were, under the same handles;
    /// new commands get handles never used before.
    ///
    /// On the next connection, Session Present 1 resumes the session: unacknowledged
    /// PUBLISHes go again with DUP 1 and their identifiers, PUBREL for the released
    /// ones, then the requests and the queue. With Clean Start 0 in `config` the client
    /// expects the server to hold the session, so Session Present 0 is reported as
    /// [`Event::SessionLost`](super::Event::SessionLost) and handled by the
    /// [`SessionLostPolicy`](super::SessionLostPolicy); so it is with Clean Start 1
    /// whenever the restored session holds anything.
    ///
    /// Refused with a typed error, never a panic: bytes that are not an exported
    /// session, truncated or corrupt, of another format version, or exported by a
    /// client of another protocol version than `config`'s; and a `config` that
    /// [`Client::new`] refuses.
    pub fn restore(config: ClientConfig, bytes: &[u8]) -> Result<Client, RestoreError> {
        let mut r = Reader::open(bytes)?;
        if r.version() != config.version {
            return Err(RestoreError::VersionMismatch {
                stored: r.version(),
                configured: config.version,
            });
        }
        let mut handles = Handles::default();
        let session = Session::read_from(&mut r, &mut handles)?;
        let mut queue = Queue::default();
        for _ in 0..r.count(MIN_QUEUED)? {
            let id = PublishId(handles.claim(r.u64()?)?);
            let since = r.instant()?;
            let publish = r.publish()?;
            queue.push_back(Queued { id, publish, since });
        }
        let next_handle = r.u64()?;
        if next_handle > COUNTER_LIMIT || next_handle < handles.max() {
            return Err(RestoreError::Corrupt("handle counter out of range"));
        }
        let last_delivery = r.u64()?;
        if last_delivery > COUNTER_LIMIT {
            return Err(RestoreError::Corrupt("delivery counter out of range"));
        }
        r.finish()?;
        let mut client = Client::new(config).map_err(RestoreError::Config)?;
        client.session = session;
        client.queue = queue;
        client.next_handle = next_handle;
        client.pending_acks.set_last_delivery(last_delivery);
        client.expect_session = !client.config.clean_start;
        Ok(client)
    }
}
