//! Manual acknowledgement of incoming messages: with `ClientConfig::manual_acks`,
//! a QoS 1/2 message is acknowledged only when the application calls
//! [`Client::ack`], in any order; until then it counts against the client's Receive
//! Maximum, which is how an application holds the server back.

use super::{Client, Event, Message, State};
use crate::codec::{
    AckProperties, Body, PropertySet, PubAck, PubAckReasonCode, PubRec, PubRecReasonCode, Publish,
    ReasonCode, UserProperties, encoded_len_of,
};
use crate::time::Instant;
use crate::types::{PacketId, QoS};
use alloc::collections::{BTreeMap, BTreeSet};
use core::fmt;

/// Names one incoming QoS 1/2 message waiting for [`Client::ack`] (manual
/// acknowledgement mode); carried by [`Message::delivery`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryId(pub(crate) u64);

impl fmt::Debug for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeliveryId({})", self.0)
    }
}

/// Why [`Client::ack`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// No message waits under this handle: acknowledged already, or dropped with a
    /// lost session.
    #[error("no message waits for this acknowledgement")]
    Unknown,
    /// MQTT 3.1.1 acknowledgements carry no reason code and no properties: only a
    /// plain success can be sent.
    #[error("mqtt 3.1.1 acknowledgements have no reason code or properties")]
    ReasonNeedsV5,
}

/// Incoming messages delivered and not yet acknowledged by the application.
#[derive(Clone, Debug, Default)]
pub(super) struct PendingAcks {
    /// By delivery handle: the packet identifier and QoS.
    by_delivery: BTreeMap<u64, (u16, QoS)>,
    /// Identifiers delivered at QoS 1 and not acknowledged: repeats are not delivered
    /// again.
    qos1: BTreeSet<u16>,
    /// Identifiers delivered at QoS 2 and not acknowledged (no PUBREC yet).
    qos2: BTreeSet<u16>,
    next: u64,
}

impl PendingAcks {
    /// Messages waiting for the application.
    pub(super) fn len(&self) -> usize {
        self.by_delivery.len()
    }

    /// True when the message with `pid` at `qos` was delivered and waits.
    pub(super) fn waits(&self, pid: u16, qos: QoS) -> bool {
        match qos {
            QoS::AtLeastOnce => self.qos1.contains(&pid),
            QoS::ExactlyOnce => self.qos2.contains(&pid),
            QoS::AtMostOnce => false,
        }
    }

    /// Records a delivery and returns its handle.
    pub(super) fn add(&mut self, pid: u16, qos: QoS) -> DeliveryId {
        self.next += 1;
        self.by_delivery.insert(self.next, (pid, qos));
        match qos {
            QoS::AtLeastOnce => self.qos1.insert(pid),
            _ => self.qos2.insert(pid),
        };
        DeliveryId(self.next)
    }

    fn take(&mut self, id: DeliveryId) -> Option<(u16, QoS)> {
        let (pid, qos) = self.by_delivery.remove(&id.0)?;
        match qos {
            QoS::AtLeastOnce => self.qos1.remove(&pid),
            _ => self.qos2.remove(&pid),
        };
        Some((pid, qos))
    }

    /// Forgets everything: the server lost the session, so no acknowledgement is owed.
    pub(super) fn clear(&mut self) {
        self.by_delivery.clear();
        self.qos1.clear();
        self.qos2.clear();
    }

    /// The last delivery handle given out (session persistence).
    pub(super) fn last_delivery(&self) -> u64 {
        self.next
    }

    /// Continues the delivery handles after `last` (session persistence).
    pub(super) fn set_last_delivery(&mut self, last: u64) {
        self.next = last;
    }
}

impl Client {
    /// Acknowledges an incoming message delivered with a [`DeliveryId`] (manual
    /// acknowledgement mode): PUBACK for QoS 1 ([MQTT-4.3.2-4]), PUBREC for QoS 2
    /// ([MQTT-4.3.3-8]), in whatever order the application acknowledges.
    ///
    /// ```
    /// # use mqtt_sansio::*;
    /// let mut config = ClientConfig::new(ProtocolVersion::V311, "c".parse().unwrap());
    /// config.manual_acks = true;
    /// let mut client = Client::new(config).unwrap();
    /// client.handle_transport_open(Instant::ZERO).unwrap();
    /// client.handle_input(Instant::ZERO, &[0x20, 0x02, 0x00, 0x00]);
    /// let _ = client.poll_transmit();
    /// // A QoS 1 PUBLISH, identifier 7: delivered, not acknowledged yet.
    /// client.handle_input(Instant::ZERO, b"\x32\x06\x00\x01t\x00\x07x");
    /// let _connected = client.poll_event();
    /// let Some(Event::Message(message)) = client.poll_event() else { panic!() };
    /// assert_eq!(client.poll_transmit(), None);
    /// client.ack(Instant::ZERO, message.delivery.unwrap()).unwrap();
    /// assert_eq!(&client.poll_transmit().unwrap()[..], [0x40, 0x02, 0x00, 0x07]);
    /// ```
    pub fn ack(&mut self, now: Instant, delivery: DeliveryId) -> Result<(), AckError> {
        self.ack_with(now, delivery, PubAckReasonCode::Success)
    }

    /// [`ack`](Client::ack) with an MQTT 5 reason code: one of 0x80 and above refuses
    /// the message; for QoS 2 the identifier is then free for a new message
    /// ([MQTT-4.3.3-9]).
    pub fn ack_with(
        &mut self,
        now: Instant,
        delivery: DeliveryId,
        reason: PubAckReasonCode,
    ) -> Result<(), AckError> {
        self.ack_with_properties(now, delivery, reason, AckProperties::default())
    }

    /// [`ack_with`](Client::ack_with) with a Reason String and User Properties on the
    /// PUBACK or PUBREC (5.0). Where they would take the packet past the server's
    /// Maximum Packet Size, the User Properties and then the Reason String are left
    /// out.
    pub fn ack_with_properties(
        &mut self,
        now: Instant,
        delivery: DeliveryId,
        reason: PubAckReasonCode,
        properties: AckProperties,
    ) -> Result<(), AckError> {
        self.advance_clock(now);
        let plain = reason == PubAckReasonCode::Success && properties.is_empty();
        if !plain && !self.config.version.is_v5() {
            return Err(AckError::ReasonNeedsV5);
        }
        let (pid, qos) = self.pending_acks.take(delivery).ok_or(AckError::Unknown)?;
        let Some(packet_id) = PacketId::new(pid) else {
            return Err(AckError::Unknown);
        };
        let connected = self.state == State::Connected;
        match qos {
            QoS::ExactlyOnce => {
                let code = PubRecReasonCode::try_from(ReasonCode::from(reason))
                    .unwrap_or(PubRecReasonCode::UnspecifiedError);
                if code.is_error() {
                    self.session.incoming_qos2.remove(&pid);
                } else {
                    // Owned now: a repeat before PUBREL gets PUBREC again.
                    self.session.incoming_qos2.insert(pid);
                }
                if connected {
                    let mut rec = PubRec::new(packet_id);
                    rec.reason_code = code;
                    rec.properties = properties.into();
                    // [MQTT-3.5.2-2], [MQTT-3.5.2-3] (5.0)
                    self.fit_diagnostics(
                        &mut rec,
                        |p| p.properties.user_properties = UserProperties::new(),
                        |p| p.properties.reason_string = None,
                    );
                    self.send_part(&rec);
                }
            }
            _ => {
                // Without a connection the PUBACK has nowhere to go: the server sends
                // the message again after reconnecting, and it is delivered again (at
                // least once).
                if connected {
                    let mut puback = PubAck::new(packet_id);
                    puback.reason_code = reason;
                    puback.properties = properties.into();
                    // [MQTT-3.4.2-2], [MQTT-3.4.2-3] (5.0)
                    self.fit_diagnostics(
                        &mut puback,
                        |p| p.properties.user_properties = UserProperties::new(),
                        |p| p.properties.reason_string = None,
                    );
                    self.send_part(&puback);
                }
            }
        }
        Ok(())
    }

    /// Leaves out the User Properties and then, if still needed, the Reason String of
    /// a packet that would otherwise exceed the server's Maximum Packet Size: the
    /// sender never includes them past that size (5.0: [MQTT-3.4.2-2],
    /// [MQTT-3.4.2-3] for PUBACK, [MQTT-3.5.2-2], [MQTT-3.5.2-3] for PUBREC,
    /// [MQTT-3.14.2-3], [MQTT-3.14.2-4] for DISCONNECT).
    pub(super) fn fit_diagnostics<P: Body>(
        &self,
        packet: &mut P,
        drop_user_properties: impl FnOnce(&mut P),
        drop_reason_string: impl FnOnce(&mut P),
    ) {
        let Some(maximum) = self.limits.maximum_packet_size else {
            return;
        };
        let version = self.config.version;
        let too_large = |p: &P| encoded_len_of(p, version) > maximum as usize;
        if too_large(packet) {
            drop_user_properties(packet);
            if too_large(packet) {
                drop_reason_string(packet);
            }
        }
    }

    /// Delivers an incoming QoS 1/2 message for the application to acknowledge. A
    /// repeat of one still waiting is not delivered again.
    pub(super) fn deliver_for_ack(&mut self, publish: Publish, pid: u16) {
        let qos = publish.qos();
        if self.pending_acks.waits(pid, qos) {
            return;
        }
        let delivery = self.pending_acks.add(pid, qos);
        let mut message = Message::from_publish(publish);
        message.delivery = Some(delivery);
        self.events.push_back(Event::Message(message));
    }
}
