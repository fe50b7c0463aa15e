//! Commands of the client and the outgoing publish flow: checks against the server's
//! limits, the queue, flow control and packet identifiers.

use super::alias::{AliasUse, TopicAliasMode};
use super::{
    Client, Message, PublishError, PublishFailure, PublishId, QueueOverflow, Queued, State,
    StateError, SubscribeError, SubscribeId, UnsubscribeId,
};
use crate::codec::{
    Disconnect, DisconnectProperties, DisconnectReasonCode, MAX_REMAINING_LENGTH, Packet, Publish,
    Subscribe, SubscribeProperties, Subscription, Unsubscribe, UnsubscribeProperties,
    encoded_len_of,
};
use crate::session::{Outgoing, Request};
use crate::time::Instant;
use crate::topic::TopicFilter;
use crate::types::{PacketId, QoS, QosPid};
use alloc::vec::Vec;
use core::num::NonZeroU16;

impl Client {
    /// Publishes `message`. QoS 0 completes once written; QoS 1 and 2 once the server
    /// acknowledges. Without a connection, or with the server's Receive Maximum
    /// reached, the message waits in order in a bounded queue.
    ///
    /// Refused at once, with nothing sent: a QoS above the server's Maximum QoS, Retain
    /// when the server has none, a packet larger than the server's Maximum Packet Size,
    /// a full queue.
    pub fn publish(&mut self, now: Instant, message: Message) -> Result<PublishId, PublishError> {
        self.advance_clock(now);
        let qos = message.qos;
        // The identifier is a placeholder until the message is sent; it has the size of
        // any other, so the size check below holds for the real one.
        let qos_pid = QosPid::new(qos, Some(PacketId::MAX)).unwrap_or_default();
        let publish = message.into_publish(qos_pid);
        self.check_publish(&publish)?;
        let direct = self.state == State::Connected
            && self.queue.is_empty()
            && self.session.awaiting_resend == 0
            && (qos == QoS::AtMostOnce || self.has_send_quota());
        let queued = Queued {
            id: PublishId(0),
            publish,
            since: self.now,
        };
        if !direct {
            if self.state != State::Connected
                && qos == QoS::AtMostOnce
                && !self.config.queue_qos0_offline
            {
                let id = PublishId(self.next_handle());
                self.published(id, Err(PublishFailure::Offline));
                return Ok(id);
            }
            self.make_room(queued.weight())?;
        }
        let id = PublishId(self.next_handle());
        let queued = Queued { id, ..queued };
        if direct {
            // Fails only when every identifier is taken: refuse rather than stall.
            if self.transmit(queued).is_err() {
                return Err(PublishError::PacketIdsExhausted);
            }
        } else {
            self.queue.push_back(queued);
        }
        Ok(id)
    }

    /// Makes room in the queue for a message of `weight` bytes: refuses it, or drops
    /// the oldest waiting messages, as configured.
    fn make_room(&mut self, weight: usize) -> Result<(), PublishError> {
        let full = PublishError::QueueFull {
            capacity: self.config.max_queued,
        };
        if weight > self.config.max_queued_bytes {
            return Err(full);
        }
        let fits = |c: &Client| {
            c.queue.len() < c.config.max_queued
                && c.queue.bytes() + weight <= c.config.max_queued_bytes
        };
        if !fits(self) {
            // Expired messages hold no room: they complete now.
            self.drop_expired();
        }
        while !fits(self) {
            if self.config.queue_overflow == QueueOverflow::RejectNew {
                return Err(full);
            }
            let Some(oldest) = self.queue.pop_front() else {
                return Err(full);
            };
            self.published(oldest.id, Err(PublishFailure::Dropped));
        }
        Ok(())
    }

    /// Completes and removes the waiting messages whose Message Expiry Interval has
    /// passed.
    fn drop_expired(&mut self) {
        let now = self.now;
        for queued in self.queue.take_expired(now) {
            self.published(queued.id, Err(PublishFailure::Expired));
        }
    }

    /// Subscribes to `filters` (at least one) with their QoS and MQTT 5 options.
    ///
    /// Without a connection the SUBSCRIBE goes out right after the next CONNACK.
    /// Completes with [`Event::Subscribed`](super::Event::Subscribed).
    pub fn subscribe(
        &mut self,
        now: Instant,
        filters: Vec<Subscription>,
    ) -> Result<SubscribeId, SubscribeError> {
        self.subscribe_with_properties(now, filters, SubscribeProperties::default())
    }

    /// [`subscribe`](Client::subscribe) with MQTT 5 properties: a Subscription
    /// Identifier, User Properties.
    pub fn subscribe_with_properties(
        &mut self,
        now: Instant,
        filters: Vec<Subscription>,
        properties: SubscribeProperties,
    ) -> Result<SubscribeId, SubscribeError> {
        self.advance_clock(now);
        if filters.is_empty() {
            return Err(SubscribeError::NoFilters);
        }
        let limits = self.limits;
        if !limits.wildcard_subscription_available
            && filters.iter().any(|s| s.filter.has_wildcards())
        {
            return Err(SubscribeError::WildcardsNotSupported);
        }
        if !limits.shared_subscription_available && filters.iter().any(|s| s.filter.is_shared()) {
            return Err(SubscribeError::SharedNotSupported);
        }
        if !limits.subscription_identifiers_available
            && properties.subscription_identifier.is_some()
        {
            return Err(SubscribeError::SubscriptionIdentifiersNotSupported);
        }
        let placeholder = PacketId::MAX;
        let mut packet = Subscribe::new(placeholder, filters);
        packet.properties = properties.into();
        self.check_request(&packet)?;
        let handle = self.issue_request(|packet_id, handle| {
            packet.packet_id = packet_id;
            Request::Subscribe {
                id: Some(SubscribeId(handle)),
                packet,
            }
        })?;
        Ok(SubscribeId(handle))
    }

    /// Unsubscribes from `filters` (at least one). Completes with
    /// [`Event::Unsubscribed`](super::Event::Unsubscribed).
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        filters: Vec<TopicFilter>,
    ) -> Result<UnsubscribeId, SubscribeError> {
        self.unsubscribe_with_properties(now, filters, UnsubscribeProperties::default())
    }

    /// [`unsubscribe`](Client::unsubscribe) with MQTT 5 User Properties.
    pub fn unsubscribe_with_properties(
        &mut self,
        now: Instant,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
    ) -> Result<UnsubscribeId, SubscribeError> {
        self.advance_clock(now);
        if filters.is_empty() {
            return Err(SubscribeError::NoFilters);
        }
        let mut packet = Unsubscribe::new(PacketId::MAX, filters);
        packet.properties = properties.into();
        self.check_request(&packet)?;
        let handle = self.issue_request(|packet_id, handle| {
            packet.packet_id = packet_id;
            Request::Unsubscribe {
                id: UnsubscribeId(handle),
                packet,
            }
        })?;
        Ok(UnsubscribeId(handle))
    }

    /// Ends the connection gracefully with DISCONNECT carrying `reason`:
    /// `NormalDisconnection` (0x00), `DisconnectWithWillMessage` (0x04: the server
    /// publishes the Will), or another code a client may send (0x80-0x83, 0x90,
    /// 0x93-0x99). `session_expiry` overrides the Session Expiry Interval of CONNECT.
    ///
    /// MQTT 3.1.1 has neither reason codes nor session expiry: DISCONNECT is sent
    /// without them, and `DisconnectWithWillMessage` closes without DISCONNECT, which
    /// is how that version makes the server publish the Will.
    ///
    /// The session stays with the client; reports [`Event::Disconnected`](super::Event::Disconnected) with
    /// [`DisconnectReason::ByClient`](super::DisconnectReason::ByClient).
    ///
    /// ```
    /// # use mqtt_sansio::*;
    /// let mut config = ClientConfig::new(ProtocolVersion::V5, "c".parse().unwrap());
    /// config.session_expiry_interval = 60;
    /// let mut client = Client::new(config).unwrap();
    /// client.handle_transport_open(Instant::ZERO).unwrap();
    /// client.handle_input(Instant::ZERO, &[0x20, 0x03, 0x00, 0x00, 0x00]);
    /// let _ = client.poll_transmit();
    /// client.disconnect(Instant::ZERO, DisconnectReasonCode::NormalDisconnection, Some(0)).unwrap();
    /// // DISCONNECT 0x00 with Session Expiry Interval 0: the session ends now.
    /// assert_eq!(&client.poll_transmit().unwrap()[..], [0xE0, 0x07, 0x00, 0x05, 0x11, 0, 0, 0, 0]);
    /// ```
    pub fn disconnect(
        &mut self,
        now: Instant,
        reason: DisconnectReasonCode,
        session_expiry: Option<u32>,
    ) -> Result<(), StateError> {
        let properties = DisconnectProperties {
            session_expiry_interval: session_expiry,
            ..DisconnectProperties::default()
        };
        self.disconnect_with_properties(now, reason, properties)
    }

    /// [`disconnect`](Client::disconnect) with all MQTT 5 DISCONNECT properties:
    /// Session Expiry Interval, Reason String, User Properties (a Server Reference is
    /// the server's to send). Where they would take the packet past the server's
    /// Maximum Packet Size, the User Properties and then the Reason String are left
    /// out.
    pub fn disconnect_with_properties(
        &mut self,
        now: Instant,
        reason: DisconnectReasonCode,
        properties: DisconnectProperties,
    ) -> Result<(), StateError> {
        use DisconnectReasonCode::*;
        self.advance_clock(now);
        let session_expiry = properties.session_expiry_interval;
        // MQTT 5.0 section 3.14.2.1: the codes a client may send.
        let client_may_send = matches!(
            reason,
            NormalDisconnection
                | DisconnectWithWillMessage
                | UnspecifiedError
                | MalformedPacket
                | ProtocolError
                | ImplementationSpecificError
                | TopicNameInvalid
                | ReceiveMaximumExceeded
                | TopicAliasInvalid
                | PacketTooLarge
                | MessageRateTooHigh
                | QuotaExceeded
                | AdministrativeAction
                | PayloadFormatInvalid
        );
        if !client_may_send {
            return Err(StateError::ServerOnlyReason(reason));
        }
        if self.state == State::Disconnected {
            // Between attempts: stop reconnecting, leaving nothing armed.
            return if self.stop_reconnecting() {
                Ok(())
            } else {
                Err(StateError::NotConnected)
            };
        }
        let v5 = self.config.version.is_v5();
        // MQTT 5.0 section 3.14.2.2.2: a client whose CONNECT had a Session Expiry
        // Interval of 0 may not set a non-zero one on DISCONNECT.
        if v5 && self.config.session_expiry_interval == 0 && session_expiry.is_some_and(|s| s != 0)
        {
            return Err(StateError::SessionExpiryWasZero);
        }
        self.stop_reconnecting();
        let silent = reason == DisconnectWithWillMessage && !v5;
        if self.state == State::Connected && !silent {
            let mut packet = Disconnect::new(if v5 { reason } else { NormalDisconnection });
            if v5 {
                packet.properties = DisconnectProperties {
                    server_reference: None,
                    ..properties
                }
                .into();
                // [MQTT-3.14.2-3], [MQTT-3.14.2-4] (5.0)
                self.fit_diagnostics(
                    &mut packet,
                    |p| p.properties.user_properties = Default::default(),
                    |p| p.properties.reason_string = None,
                );
            }
            self.send(&Packet::Disconnect(packet));
        }
        self.close(super::DisconnectReason::ByClient);
        Ok(())
    }

    // ---- internals ----

    /// Refuses what the server's limits forbid ([MQTT-3.2.2-11], [MQTT-3.2.2-14],
    /// [MQTT-3.2.2-15]) and what the client may not send.
    fn check_publish(&self, publish: &Publish) -> Result<(), PublishError> {
        if publish.topic.is_empty() {
            return Err(PublishError::EmptyTopic);
        }
        let qos = publish.qos();
        // [MQTT-3.2.2-11] never above the server's Maximum QoS.
        if qos > self.limits.maximum_qos {
            return Err(PublishError::QoSNotSupported {
                requested: qos,
                maximum: self.limits.maximum_qos,
            });
        }
        // [MQTT-3.2.2-14] no RETAIN 1 after Retain Available 0.
        if publish.retain && !self.limits.retain_available {
            return Err(PublishError::RetainNotSupported);
        }
        if let Some(alias) = publish.properties.topic_alias {
            if self.config.topic_alias_mode != TopicAliasMode::Manual {
                return Err(PublishError::PropertyNotAllowed("topic alias"));
            }
            // [MQTT-3.2.2-17] never above the server's Topic Alias Maximum.
            if alias.get() > self.limits.topic_alias_maximum {
                return Err(PublishError::TopicAliasTooLarge {
                    alias: alias.get(),
                    maximum: self.limits.topic_alias_maximum,
                });
            }
        }
        if !publish.properties.subscription_identifiers.is_empty() {
            return Err(PublishError::PropertyNotAllowed("subscription identifier"));
        }
        crate::codec::Body::check(publish, self.config.version).map_err(PublishError::Invalid)?;
        let may_be_huge = publish.payload.len() >= (crate::codec::MAX_PACKET_SIZE / 2) as usize
            || !publish.properties.is_empty();
        match self.oversize(publish, may_be_huge) {
            Some((size, maximum)) => Err(PublishError::PacketTooLarge { size, maximum }),
            None => Ok(()),
        }
    }

    fn check_request<P: crate::codec::Body>(&self, packet: &P) -> Result<(), SubscribeError> {
        crate::codec::Body::check(packet, self.config.version).map_err(SubscribeError::Invalid)?;
        match self.oversize(packet, true) {
            Some((size, maximum)) => Err(SubscribeError::PacketTooLarge { size, maximum }),
            None => Ok(()),
        }
    }

    /// [MQTT-3.2.2-15] the client never sends a packet larger than the server's
    /// Maximum Packet Size: the size and the maximum when `packet` would be.
    ///
    /// Without a server limit the protocol's own applies (a Remaining Length of at most
    /// 268,435,455); `may_be_huge` says whether the packet could come near it (a
    /// PUBLISH only with a huge payload or with properties).
    fn oversize<P: crate::codec::Body>(
        &self,
        packet: &P,
        may_be_huge: bool,
    ) -> Option<(usize, u32)> {
        let maximum = match self.limits.maximum_packet_size {
            Some(maximum) => maximum,
            None if may_be_huge => crate::codec::MAX_PACKET_SIZE,
            None => return None,
        };
        let size = encoded_len_of(packet, self.config.version);
        (size > maximum as usize).then_some((size, maximum))
    }

    /// Gives a checked request an identifier and a handle, then records and sends it.
    fn issue_request(
        &mut self,
        make: impl FnOnce(PacketId, u64) -> Request,
    ) -> Result<u64, SubscribeError> {
        let packet_id = self
            .session
            .allocate_packet_id()
            .ok_or(SubscribeError::PacketIdsExhausted)?;
        let handle = self.next_handle();
        let request = make(packet_id, handle);
        self.send_request(packet_id, request);
        Ok(handle)
    }

    /// Records `request` and sends it when connected; otherwise it goes out after the
    /// next CONNACK. SUBSCRIBE is not a PUBLISH, so Receive Maximum never delays it
    /// ([MQTT-3.3.4-8]).
    fn send_request(&mut self, packet_id: PacketId, request: Request) {
        if self.state == State::Connected {
            self.send_request_packet(&request);
        }
        self.session.insert_request(packet_id, request);
    }

    pub(super) fn send_request_packet(&mut self, request: &Request) {
        match request {
            Request::Subscribe { packet, .. } => self.send_part(packet),
            Request::Unsubscribe { packet, .. } => self.send_part(packet),
        }
    }

    /// True when one more QoS 1/2 PUBLISH fits the send quota: the server's Receive
    /// Maximum and the local cap ([MQTT-3.3.4-7], [MQTT-4.9.0-2]).
    pub(super) fn has_send_quota(&self) -> bool {
        let cap = self
            .limits
            .receive_maximum
            .min(self.config.max_inflight.get());
        self.session.publishes_on_wire() < usize::from(cap)
    }

    /// Sends a message now. QoS 0 completes at once; QoS 1/2 takes a fresh identifier
    /// ([MQTT-4.3.2-1], [MQTT-4.3.3-1]) with DUP 0 ([MQTT-4.3.2-2], [MQTT-4.3.3-2]
    /// (5.0)) and stays in the session until acknowledged. Gives the message back when
    /// no identifier is free.
    pub(super) fn transmit(&mut self, queued: Queued) -> Result<(), Queued> {
        let Queued {
            id,
            mut publish,
            since,
        } = queued;
        let qos = publish.qos();
        if qos == QoS::AtMostOnce {
            self.send_new_publish(&mut publish);
            self.published(id, Ok(()));
            return Ok(());
        }
        let Some(packet_id) = self.session.allocate_packet_id() else {
            return Err(Queued { id, publish, since });
        };
        publish.qos_pid = QosPid::new(qos, Some(packet_id)).unwrap_or_default();
        publish.dup = false;
        self.send_new_publish(&mut publish);
        let seq = self.session.next_seq();
        self.session.insert_publish(
            packet_id,
            Outgoing {
                id,
                seq,
                publish,
                released: false,
                awaiting_resend: false,
                sent_at: self.now,
            },
        );
        Ok(())
    }

    /// Writes a message's first PUBLISH, with a Topic Alias when the mode and the
    /// server allow one. `publish` keeps its full topic and loses any alias: a re-sent
    /// PUBLISH never uses one, as aliases end with their connection ([MQTT-3.3.2-7]).
    fn send_new_publish(&mut self, publish: &mut Publish) {
        // Reading through an empty property box would allocate one: look first.
        let chosen = if publish.properties.is_empty() {
            None
        } else {
            publish.properties.topic_alias.take()
        };
        match self.alias_for(publish, chosen) {
            Some(alias) => self.send_part(&alias.apply(publish)),
            None => self.send_publish(publish),
        }
    }

    /// The alias to send `publish` with, if any.
    fn alias_for(&mut self, publish: &Publish, chosen: Option<NonZeroU16>) -> Option<AliasUse> {
        if !self.config.version.is_v5()
            || self.config.topic_alias_mode == TopicAliasMode::Off
            || !self.outbound_aliases.enabled()
        {
            return None;
        }
        // Setting an alias adds up to 4 bytes (the property and its length): never
        // past the server's Maximum Packet Size ([MQTT-3.2.2-15]).
        if let Some(maximum) = self.limits.maximum_packet_size {
            if encoded_len_of(publish, self.config.version) + 4 > maximum as usize {
                return None;
            }
        }
        match self.config.topic_alias_mode {
            TopicAliasMode::Off => None,
            TopicAliasMode::Auto => self.outbound_aliases.auto(&publish.topic),
            TopicAliasMode::Manual => {
                chosen.and_then(|alias| self.outbound_aliases.manual(alias, &publish.topic))
            }
        }
    }

    /// Writes a PUBLISH. Without properties, the common case, its layout is fixed and
    /// it goes straight into the transmit buffer, skipping the generic encoder's size
    /// pass and stack buffer; the bytes are the same.
    pub(super) fn send_publish(&mut self, publish: &Publish) {
        let topic = publish.topic.as_bytes();
        let packet_id = publish.packet_id();
        let v5 = self.config.version.is_v5();
        let remaining = 2
            + topic.len()
            + if packet_id.is_some() { 2 } else { 0 }
            + usize::from(v5)
            + publish.payload.len();
        if !publish.properties.is_empty() || remaining > MAX_REMAINING_LENGTH as usize {
            return self.send_part(publish);
        }
        let mut head = [0u8; 5];
        head[0] = crate::codec::Body::first_byte(publish);
        let mut len = 1;
        let mut rest = remaining as u32;
        loop {
            let byte = (rest & 0x7F) as u8;
            rest >>= 7;
            head[len] = if rest > 0 { byte | 0x80 } else { byte };
            len += 1;
            if rest == 0 {
                break;
            }
        }
        let before = self.tx.len();
        self.tx.reserve(len + remaining);
        self.tx.extend_from_slice(&head[..len]);
        self.tx
            .extend_from_slice(&(topic.len() as u16).to_be_bytes());
        self.tx.extend_from_slice(topic);
        if let Some(packet_id) = packet_id {
            self.tx.extend_from_slice(&packet_id.get().to_be_bytes());
        }
        if v5 {
            // Property Length 0.
            self.tx.extend_from_slice(&[0]);
        }
        self.tx.extend_from_slice(&publish.payload);
        self.sent(before);
    }

    /// Sends queued messages while the connection and the send quota allow, oldest
    /// first; messages the current server refuses complete as failed.
    pub(super) fn pump(&mut self) {
        // [MQTT-4.4.0-1] re-sends left over from the reconnection go before anything
        // new, as the send quota allows.
        while self.state == State::Connected
            && self.session.awaiting_resend > 0
            && self.has_send_quota()
        {
            let Some(pid) = self.session.next_awaiting_resend() else {
                break;
            };
            self.resend_publish(pid);
        }
        if self.session.awaiting_resend > 0 {
            return;
        }
        while self.state == State::Connected {
            let Some(front) = self.queue.front() else {
                break;
            };
            if front.publish.qos() != QoS::AtMostOnce && !self.has_send_quota() {
                break;
            }
            let Some(mut queued) = self.queue.pop_front() else {
                break;
            };
            // [MQTT-3.3.2-5], [MQTT-3.3.2-6], which bind a server holding messages,
            // applied to the client's own queue: a message whose expiry interval passed
            // while it waited is not sent; otherwise it goes with what is left of it.
            // Once sent, expiry no longer applies ([MQTT-4.3.3-7]): re-sends go as is.
            match queued.expiry_left(self.now) {
                Some(0) => {
                    self.published(queued.id, Err(PublishFailure::Expired));
                    continue;
                }
                left @ Some(_) => queued.publish.properties.message_expiry_interval = left,
                None => {}
            }
            if let Err(error) = self.check_publish(&queued.publish) {
                self.published(queued.id, Err(PublishFailure::NotAllowed(error)));
                continue;
            }
            if let Err(back) = self.transmit(queued) {
                self.queue.push_front(back);
                break;
            }
        }
    }
}
