//! What the broker sends through the connection: messages for the client, answers to
//! its requests, acknowledgements of its messages, DISCONNECT.

use super::session::{Incoming, Outgoing, Queued};
use super::{
    DropReason, Granted, InboundId, ServerConnection, ServerError, ServerEvent, ServerSession,
    ServerState, SubscribeRequest, Unanswered, UnsubscribeRequest,
};
use crate::client::Message;
use crate::codec::{
    AckProperties, DisconnectReasonCode, PropertyBox, PubAck, PubRec, PubRel, Publish, SubAck,
    SubAckReasonCode, UnsubAck, UnsubAckReasonCode, UserProperties, encoded_len_of,
};
use crate::time::Instant;
use crate::topic::TopicName;
use crate::types::{QoS, QosPid};
use alloc::vec::Vec;

impl ServerConnection {
    /// Hands the session a message for the client, at the QoS the broker chose (the
    /// lower of the published and the granted QoS, [MQTT-3.8.4-8]), with the
    /// Subscription Identifiers and Retain flag the subscription calls for. QoS 1/2
    /// messages wait in the session while the client is offline or at its Receive
    /// Maximum; a QoS 0 message for an offline client is dropped.
    pub fn publish(&mut self, now: Instant, message: Message) -> Result<(), ServerError> {
        if self.state == ServerState::Closed {
            // A session whose expiry passed is gone, even before the driver's timer
            // fired ([MQTT-4.1.0-2] (5.0)).
            self.handle_timeout(now);
        }
        self.advance_clock(now);
        let Some(session) = &mut self.session else {
            return Err(ServerError::NoSession);
        };
        if message.qos == QoS::AtMostOnce {
            if self.state == ServerState::Connected {
                self.send_message(message, self.now);
            } else {
                self.dropped(message.topic, DropReason::Offline);
            }
            return Ok(());
        }
        if session.queue.len() >= self.config.max_queued_messages {
            self.dropped(message.topic, DropReason::QueueFull);
            return Err(ServerError::QueueFull);
        }
        session.queue.push_back(Queued {
            message,
            queued_at: self.now,
        });
        self.pump();
        Ok(())
    }

    /// Sends queued messages while the client's Receive Maximum allows
    /// ([MQTT-3.3.4-9]).
    pub(super) fn pump(&mut self) {
        let Some(session) = &self.session else { return };
        let mut on_wire = session.on_wire();
        // Re-sends of a resumed session first, in their order, then the queue.
        let mut resends = if session.on_wire() < session.in_flight() {
            session
                .outgoing_in_order()
                .into_iter()
                .filter(|pid| session.outgoing.get(pid).is_some_and(|o| o.pending))
                .collect()
        } else {
            Vec::new()
        }
        .into_iter();
        while self.state == ServerState::Connected
            && on_wire < usize::from(self.limits.receive_maximum)
        {
            if let Some(pid) = resends.next() {
                if self.resend(pid) {
                    on_wire += 1;
                }
                continue;
            }
            let Some(queued) = self.session.as_mut().and_then(|s| s.queue.pop_front()) else {
                return;
            };
            self.send_message(queued.message, queued.queued_at);
            on_wire = self.session.as_ref().map_or(0, ServerSession::on_wire);
        }
    }

    /// Sends one message that waited since `queued_at`: expiry, identifier, size and
    /// alias handled here.
    fn send_message(&mut self, mut message: Message, queued_at: Instant) {
        if let Some(interval) = message.properties.message_expiry_interval {
            let waited = self.now.saturating_duration_since(queued_at).as_secs();
            // [MQTT-3.3.2-5] expired before delivery began: deleted.
            if waited >= u64::from(interval) {
                self.dropped(message.topic, DropReason::Expired);
                return;
            }
            // [MQTT-3.3.2-6] the interval less the time it waited.
            message.properties.message_expiry_interval = Some(interval - waited as u32);
        }
        // [MQTT-3.3.1-3] DUP 0 on a first transmission.
        message.dup = false;
        if self.version == Some(crate::types::ProtocolVersion::V311) {
            // A 5.0 publisher's properties have no place in a 3.1.1 PUBLISH.
            message.properties = PropertyBox::new();
        }
        // [MQTT-3.1.2-27] / [MQTT-3.3.2-11] aliases are this connection's choice
        // (`send_with_alias`): one the broker's message carries is never sent as is.
        if message.properties.topic_alias.is_some() {
            message.properties.topic_alias = None;
        }
        let qos = message.qos;
        let qos_pid = match qos {
            QoS::AtMostOnce => QosPid::AtMostOnce,
            _ => {
                let Some(pid) = self.session.as_mut().and_then(|s| s.allocate_packet_id()) else {
                    self.dropped(message.topic, DropReason::QueueFull);
                    return;
                };
                if qos == QoS::AtLeastOnce {
                    QosPid::AtLeastOnce(pid)
                } else {
                    QosPid::ExactlyOnce(pid)
                }
            }
        };
        let publish = message.into_publish(qos_pid);
        let Some(version) = self.version else { return };
        // [MQTT-3.1.2-24] never larger than the client's Maximum Packet Size;
        // [MQTT-3.1.2-25] dropped as if delivered.
        if encoded_len_of(&publish, version) > self.limits.maximum_packet_size as usize {
            self.dropped(publish.topic, DropReason::PacketTooLarge);
            return;
        }
        if let (Some(pid), Some(session)) = (publish.packet_id(), self.session.as_mut()) {
            let seq = session.next_seq();
            session.outgoing.insert(
                pid.get(),
                Outgoing {
                    publish: publish.clone(),
                    released: false,
                    seq,
                    pending: false,
                },
            );
        }
        self.send_with_alias(&publish);
    }

    /// Writes `publish`, with a Topic Alias when the client accepts them and the alias
    /// keeps the packet within the client's maximum.
    fn send_with_alias(&mut self, publish: &Publish) {
        let fits =
            |p: &Publish, v| encoded_len_of(p, v) + 4 <= self.limits.maximum_packet_size as usize;
        let use_alias =
            self.outbound_aliases.enabled() && self.version.is_some_and(|v| fits(publish, v));
        // [MQTT-3.1.2-26] / [MQTT-3.3.2-11] the alias table stays within the client's
        // Topic Alias Maximum.
        match use_alias
            .then(|| self.outbound_aliases.auto(&publish.topic))
            .flatten()
        {
            Some(alias) => self.send_part(&alias.apply(publish)),
            None => self.send_part(publish),
        }
    }

    /// Re-sends what was in flight when the session was resumed, in the original order
    /// ([MQTT-4.4.0-1]): PUBREL at once; PUBLISH with DUP 1, never with a Topic Alias,
    /// as the client's Receive Maximum on this connection allows ([MQTT-3.3.4-9]).
    pub(super) fn resend_in_flight(&mut self) {
        let Some(session) = &mut self.session else {
            return;
        };
        let order = session.outgoing_in_order();
        for &pid in &order {
            if session.outgoing.get(&pid).is_some_and(|o| !o.released) {
                session.set_pending(pid, true);
            }
        }
        // Released messages still count against the quota until PUBCOMP.
        let mut on_wire = session.on_wire();
        for pid in order {
            let Some(out) = self.session.as_ref().and_then(|s| s.outgoing.get(&pid)) else {
                continue;
            };
            if out.released {
                if let Some(packet_id) = out.publish.packet_id() {
                    self.send_part(&PubRel::new(packet_id));
                }
            } else if on_wire < usize::from(self.limits.receive_maximum) && self.resend(pid) {
                on_wire += 1;
            }
        }
    }

    /// Sends the PUBLISH of in-flight message `pid` again; false when it was dropped
    /// instead.
    fn resend(&mut self, pid: u16) -> bool {
        let Some(session) = self.session.as_mut() else {
            return false;
        };
        session.set_pending(pid, false);
        // [MQTT-4.3.3-6] never the PUBLISH again once released.
        let Some(out) = session.outgoing.get(&pid).filter(|o| !o.released) else {
            return false;
        };
        let mut publish = out.publish.clone();
        // [MQTT-3.3.1-1]
        publish.dup = true;
        if !self.is_v5() {
            // The session may come from a 5.0 connection of the same client.
            publish.properties = PropertyBox::new();
        }
        let Some(version) = self.version else {
            return false;
        };
        // [MQTT-3.1.2-24], [MQTT-3.1.2-25] (5.0): this connection's client may accept less
        // than the one the message was first sent to: dropped as if delivered.
        if encoded_len_of(&publish, version) > self.limits.maximum_packet_size as usize {
            if let Some(session) = &mut self.session {
                session.remove_outgoing(pid);
            }
            self.dropped(publish.topic, DropReason::PacketTooLarge);
            return false;
        }
        self.send_part(&publish);
        true
    }

    fn dropped(&mut self, topic: TopicName, reason: DropReason) {
        self.events
            .push_back(ServerEvent::Dropped { topic, reason });
    }

    /// The broker owns the message `id` (manual acknowledgement): PUBACK, or PUBREC for
    /// QoS 2 ([MQTT-4.3.2-4], [MQTT-4.3.3-8]).
    pub fn ack(&mut self, now: Instant, id: InboundId) -> Result<(), ServerError> {
        self.advance_clock(now);
        if self.state != ServerState::Connected || id.epoch != self.epoch {
            return Err(ServerError::Stale);
        }
        let pid = id.packet_id;
        if id.qos == QoS::AtLeastOnce {
            if !self.unacked_qos1.remove(&pid.get()) {
                return Err(ServerError::UnknownMessage);
            }
            self.send_part(&PubAck::new(pid));
            return Ok(());
        }
        let state = self
            .session
            .as_mut()
            .and_then(|s| s.incoming_qos2.get_mut(&pid.get()));
        match state {
            Some(state @ Incoming::Unacked) => *state = Incoming::Received,
            _ => return Err(ServerError::UnknownMessage),
        }
        self.send_part(&PubRec::new(pid));
        Ok(())
    }

    /// Answers a SUBSCRIBE with one result per filter, in order ([MQTT-3.8.4-1],
    /// [MQTT-3.8.4-6] (5.0), [MQTT-3.9.3-1]). Granted filters are added to the session,
    /// replacing an identical one ([MQTT-3.8.4-3]), at no more than the server's
    /// Maximum QoS. On an error (a stale request, a wrong number of results) nothing
    /// changed and the request comes back. Refusals the connection imposes (see
    /// [`RequestedSubscription::refused`](super::RequestedSubscription)) win.
    pub fn answer_subscribe(
        &mut self,
        now: Instant,
        request: SubscribeRequest,
        results: &[SubAckReasonCode],
    ) -> Result<Vec<SubAckReasonCode>, Unanswered<SubscribeRequest>> {
        self.answer_subscribe_with_properties(now, request, results, AckProperties::new())
    }

    /// [`answer_subscribe`](Self::answer_subscribe) with a Reason String and User
    /// Properties for the SUBACK (5.0). They are left out when the client set Request
    /// Problem Information 0 ([MQTT-3.1.2-29]), and each is left out when it would make
    /// the SUBACK larger than the client's Maximum Packet Size ([MQTT-3.9.2-1],
    /// [MQTT-3.9.2-2]).
    pub fn answer_subscribe_with_properties(
        &mut self,
        now: Instant,
        request: SubscribeRequest,
        results: &[SubAckReasonCode],
        properties: AckProperties,
    ) -> Result<Vec<SubAckReasonCode>, Unanswered<SubscribeRequest>> {
        self.advance_clock(now);
        if let Err(error) = self.check_request(request.epoch, request.filters.len(), results.len())
        {
            return Err(Unanswered { error, request });
        }
        let v5 = self.is_v5();
        let identifier = request.properties.subscription_identifier;
        let mut codes = Vec::with_capacity(results.len());
        for (requested, &result) in request.filters.into_iter().zip(results) {
            let mut code = requested.refused.unwrap_or(result);
            if let Some(qos) = code.granted_qos() {
                let qos = qos.min(self.config.maximum_qos);
                code = SubAckReasonCode::granted(qos);
                let mut options = requested.subscription.options;
                options.qos = qos;
                if let Some(session) = &mut self.session {
                    session.subscriptions.insert(
                        requested.subscription.filter,
                        Granted {
                            options,
                            identifier,
                        },
                    );
                }
            } else if !v5 {
                // 3.1.1 has one failure return code.
                code = SubAckReasonCode::UnspecifiedError;
            }
            codes.push(code);
        }
        if self.state == ServerState::Connected {
            // [MQTT-3.8.4-2] the SUBSCRIBE's identifier.
            let mut suback = SubAck::new(request.packet_id, codes.clone());
            suback.properties = self.fitting_diagnostics(properties, |p| {
                let mut sized = suback.clone();
                sized.properties = p.clone();
                self.encoded_len(&sized)
            });
            self.send_part(&suback);
        }
        Ok(codes)
    }

    /// Answers an UNSUBSCRIBE ([MQTT-3.10.4-4], [MQTT-3.10.4-5]): every filter answered
    /// `Success` is removed from the session ([MQTT-3.10.4-1]); messages already in
    /// flight for it complete ([MQTT-3.10.4-3]).
    pub fn answer_unsubscribe(
        &mut self,
        now: Instant,
        request: UnsubscribeRequest,
        results: &[UnsubAckReasonCode],
    ) -> Result<(), Unanswered<UnsubscribeRequest>> {
        self.answer_unsubscribe_with_properties(now, request, results, AckProperties::new())
    }

    /// [`answer_unsubscribe`](Self::answer_unsubscribe) with a Reason String and User
    /// Properties for the UNSUBACK (5.0). They are left out when the client set Request
    /// Problem Information 0 ([MQTT-3.1.2-29]), and each is left out when it would make
    /// the UNSUBACK larger than the client's Maximum Packet Size ([MQTT-3.11.2-1],
    /// [MQTT-3.11.2-2]).
    pub fn answer_unsubscribe_with_properties(
        &mut self,
        now: Instant,
        request: UnsubscribeRequest,
        results: &[UnsubAckReasonCode],
        properties: AckProperties,
    ) -> Result<(), Unanswered<UnsubscribeRequest>> {
        self.advance_clock(now);
        if let Err(error) = self.check_request(request.epoch, request.filters.len(), results.len())
        {
            return Err(Unanswered { error, request });
        }
        for ((filter, _), result) in request.filters.iter().zip(results) {
            if *result == UnsubAckReasonCode::Success {
                if let Some(session) = &mut self.session {
                    session.subscriptions.remove(filter);
                }
            }
        }
        if self.state == ServerState::Connected {
            // [MQTT-3.10.4-4] in 3.1.1 too: its UNSUBACK has no reason codes (the codec
            // refuses to encode them, and the UNSUBACK was never sent).
            let codes = if self.is_v5() {
                results.to_vec()
            } else {
                Vec::new()
            };
            let mut unsuback = UnsubAck::new(request.packet_id, codes);
            unsuback.properties = self.fitting_diagnostics(properties, |p| {
                let mut sized = unsuback.clone();
                sized.properties = p.clone();
                self.encoded_len(&sized)
            });
            self.send_part(&unsuback);
        }
        Ok(())
    }

    /// The Reason String and User Properties the broker wants on an acknowledgement,
    /// less what the client must not get: none in 3.1.1, none when the client set
    /// Request Problem Information 0 ([MQTT-3.1.2-29]), and none that would make the
    /// packet (`len` sizes it with given properties) larger than the client's Maximum
    /// Packet Size: the User Properties go first, then the Reason String.
    fn fitting_diagnostics(
        &self,
        wanted: AckProperties,
        len: impl Fn(&PropertyBox<AckProperties>) -> usize,
    ) -> PropertyBox<AckProperties> {
        if !self.is_v5() || !self.limits.request_problem_information {
            return PropertyBox::new();
        }
        let maximum = self.limits.maximum_packet_size as usize;
        let AckProperties {
            reason_string,
            user_properties,
        } = wanted;
        let candidates = [
            (reason_string.clone(), user_properties.clone()),
            (reason_string, UserProperties::new()),
            (None, user_properties),
        ];
        for (reason_string, user_properties) in candidates {
            let properties = PropertyBox::from(AckProperties {
                reason_string,
                user_properties,
            });
            if len(&properties) <= maximum {
                return properties;
            }
        }
        PropertyBox::new()
    }

    fn encoded_len<P: crate::codec::Body>(&self, packet: &P) -> usize {
        self.version.map_or(0, |v| encoded_len_of(packet, v))
    }

    fn check_request(&self, epoch: u64, expected: usize, given: usize) -> Result<(), ServerError> {
        if self.session.as_ref().is_none_or(|s| s.epoch != epoch) {
            return Err(ServerError::Stale);
        }
        if expected != given {
            return Err(ServerError::ResultCount { expected, given });
        }
        Ok(())
    }

    /// Ends the connection from the server side: DISCONNECT with `reason_code` (5.0),
    /// then [`ServerEvent::Closed`]. The Will is published (after its delay), as for
    /// any end the client did not ask for.
    pub fn disconnect(
        &mut self,
        now: Instant,
        reason_code: DisconnectReasonCode,
    ) -> Result<(), ServerError> {
        self.advance_clock(now);
        if self.state != ServerState::Connected {
            return Err(ServerError::WrongState(
                "disconnect needs a connected client",
            ));
        }
        if reason_code == DisconnectReasonCode::DisconnectWithWillMessage {
            return Err(ServerError::ReasonNotAllowed);
        }
        self.send_disconnect(reason_code);
        self.close(super::CloseReason::ByServer { reason_code });
        Ok(())
    }
}

impl SubscribeRequest {
    /// Every filter granted at the QoS it asked for: the answer of a broker without
    /// authorisation rules.
    pub fn grant_all(&self) -> Vec<SubAckReasonCode> {
        self.filters
            .iter()
            .map(|f| SubAckReasonCode::granted(f.subscription.options.qos))
            .collect()
    }
}

impl UnsubscribeRequest {
    /// `Success` for the filters the session has, `NoSubscriptionExisted` for the rest.
    pub fn remove_existing(&self) -> Vec<UnsubAckReasonCode> {
        self.filters
            .iter()
            .map(|(_, exists)| {
                if *exists {
                    UnsubAckReasonCode::Success
                } else {
                    UnsubAckReasonCode::NoSubscriptionExisted
                }
            })
            .collect()
    }
}
