//! What the server sends: CONNACK and session resumption, incoming messages, the
//! acknowledgements of the client's own packets, DISCONNECT.

use super::alias::AliasFault;
use super::{
    Client, Connected, DisconnectReason, Event, Message, PublishFailure, Queued, ServerLimits,
    SessionLostPolicy, State,
};
use crate::codec::{
    AckProperties, ConnAck, Disconnect, Packet, PropertyBox, PubAck, PubComp, PubCompReasonCode,
    PubRec, PubRel, PubRelReasonCode, Publish, ReasonCode, SubAck, Subscribe, Subscription,
    UnsubAck, UnsubAckReasonCode,
};
use crate::session::{Outgoing, Request, Tracked};
use crate::types::{PacketId, QoS, QosPid};
use alloc::vec::Vec;
use core::time::Duration;

impl Client {
    pub(super) fn handle_packet(&mut self, packet: Packet) {
        if self.state == State::Connecting {
            // [MQTT-3.2.0-1] the server sends CONNACK before anything else (AUTH aside,
            // which this client does not negotiate).
            match packet {
                Packet::ConnAck(connack) => self.on_connack(connack),
                Packet::Auth(auth) => self.on_auth(auth),
                _ => self.protocol_error("packet before CONNACK"),
            }
            return;
        }
        match packet {
            Packet::Publish(publish) => self.on_publish(publish),
            Packet::PubAck(ack) => self.on_puback(ack),
            Packet::PubRec(rec) => self.on_pubrec(rec),
            Packet::PubRel(rel) => self.on_pubrel(rel),
            Packet::PubComp(comp) => self.on_pubcomp(comp),
            Packet::SubAck(ack) => self.on_suback(ack),
            Packet::UnsubAck(ack) => self.on_unsuback(ack),
            Packet::PingResp => {}
            Packet::Disconnect(disconnect) => self.on_disconnect(disconnect),
            // [MQTT-3.2.0-2] one CONNACK per connection.
            Packet::ConnAck(_) => self.protocol_error("second CONNACK"),
            Packet::Auth(auth) => self.on_auth(auth),
            // The client decoder refuses the packets only a client sends.
            _ => self.protocol_error("unexpected packet"),
        }
    }

    fn on_connack(&mut self, connack: ConnAck) {
        let props = &connack.properties;
        if connack.reason_code.is_error() {
            let reason = DisconnectReason::Refused {
                reason_code: connack.reason_code,
                reason_string: props.reason_string.clone(),
                server_reference: props.server_reference.clone(),
                user_properties: props.user_properties.clone(),
            };
            // [MQTT-4.13.2-1] a CONNACK of 0x80 or above means the connection is over.
            self.close(reason);
            return;
        }
        // [MQTT-3.2.2-4] (5.0) Session Present 1 answering Clean Start 1 (a client
        // without session state) closes the connection.
        if connack.session_present && self.config.clean_start {
            self.protocol_error("session present after clean start");
            return;
        }
        if !self.auth_connack(props.authentication_method.as_ref()) {
            return;
        }
        self.connack_deadline = None;
        self.state = State::Connected;
        self.reconnect_connected();
        self.limits = if self.config.version.is_v5() {
            ServerLimits::from_connack(props)
        } else {
            ServerLimits::default()
        };
        // [MQTT-3.2.2-21] a Server Keep Alive replaces the client's keep alive.
        let keep_alive = self
            .limits
            .server_keep_alive
            .unwrap_or(self.config.keep_alive);
        self.keep_alive = Duration::from_secs(u64::from(keep_alive));
        // [MQTT-3.2.2-18] no aliases unless the server gave a Topic Alias Maximum.
        let alias_maximum = if self.config.topic_alias_mode == super::TopicAliasMode::Off {
            0
        } else {
            self.limits.topic_alias_maximum
        };
        self.outbound_aliases.reset(alias_maximum);
        let expected = self.expect_session;
        self.expect_session = !self.config.clean_start;
        self.events.push_back(Event::Connected(Connected {
            session_present: connack.session_present,
            assigned_client_id: props.assigned_client_identifier.clone(),
            keep_alive,
            limits: self.limits,
            properties: connack.properties.clone(),
        }));
        if connack.session_present {
            self.resume_session();
        } else if expected || !self.session.is_empty() {
            self.session_lost();
        }
        // Requests not yet acknowledged go out again (after re-sent PUBLISH/PUBREL).
        let requests = self.session.requests_in_order();
        for request in &requests {
            self.send_request_packet(request);
        }
        self.pump();
    }

    /// [MQTT-4.4.0-1] Session Present 1: every unacknowledged PUBLISH again with DUP 1
    /// ([MQTT-3.3.1-1]) and its identifier, every PUBREC'd one as PUBREL, in the order
    /// sent ([MQTT-4.6.0-1], [MQTT-4.6.0-4]), before anything new. Re-sent PUBLISHes
    /// use the send quota of the new connection ([MQTT-3.3.4-7]); those beyond it go
    /// out, still ahead of new messages, as acknowledgements free it.
    fn resume_session(&mut self) {
        let order = self.session.publishes_in_order();
        for &pid in &order {
            let released = self.session.publish(pid).is_some_and(|o| o.released);
            self.session.set_awaiting_resend(pid, !released);
        }
        for pid in order {
            let Some(entry) = self.session.publish(pid) else {
                continue;
            };
            if entry.released {
                let Some(packet_id) = PacketId::new(pid) else {
                    continue;
                };
                self.send_ack(0x62, packet_id);
            } else if self.has_send_quota() {
                self.resend_publish(pid);
            }
        }
    }

    /// Sends the PUBLISH holding `pid` again, with DUP 1 and its original identifier.
    pub(super) fn resend_publish(&mut self, pid: u16) {
        self.session.set_awaiting_resend(pid, false);
        let Some(entry) = self.session.publish_mut(pid) else {
            return;
        };
        entry.publish.dup = true;
        let publish = entry.publish.clone();
        self.send_publish(&publish);
    }

    /// Session Present 0 while the client held session state: [MQTT-3.2.2-5] (5.0) the
    /// state is discarded, and the policy says what becomes of it.
    fn session_lost(&mut self) {
        // The server's QoS 2 state went with the session, and no acknowledgement is
        // owed for what it sent before.
        self.session.incoming_qos2.clear();
        self.pending_acks.clear();
        let pids = self.session.publishes_in_order();
        let in_flight = pids.len();
        let subscriptions = core::mem::take(&mut self.session.subscriptions);
        let mut restored = Vec::with_capacity(in_flight);
        for pid in pids {
            let Some(entry) = self.session.remove_publish(pid) else {
                continue;
            };
            match self.config.session_lost_policy {
                SessionLostPolicy::Restore => restored.push(Queued {
                    id: entry.id,
                    // Its expiry interval, as sent, counts from the first sending.
                    since: entry.sent_at,
                    publish: entry.publish,
                }),
                SessionLostPolicy::Fail => {
                    self.published(entry.id, Err(PublishFailure::SessionLost))
                }
            }
        }
        self.events.push_back(Event::SessionLost {
            in_flight,
            subscriptions: subscriptions.len(),
        });
        // As first published: the order of last steps put a released QoS 2 message
        // behind PUBLISHes sent after it.
        restored.sort_unstable_by_key(|queued| queued.id);
        // Restored messages were sent before anything still queued: they go first.
        for queued in restored.into_iter().rev() {
            self.queue.push_front(queued);
        }
        if self.config.session_lost_policy == SessionLostPolicy::Restore {
            for (filter, tracked) in subscriptions {
                let Some(packet_id) = self.session.allocate_packet_id() else {
                    break;
                };
                // Subscribed again as first asked: same options, same Subscription
                // Identifier and User Properties.
                let subscription = Subscription {
                    filter,
                    options: tracked.options,
                };
                let mut packet = Subscribe::new(packet_id, alloc::vec![subscription]);
                packet.properties = tracked.properties;
                // Sent by `on_connack` with the other pending requests.
                self.session
                    .insert_request(packet_id, Request::Subscribe { id: None, packet });
            }
        }
    }

    fn on_publish(&mut self, mut publish: Publish) {
        if !self.resolve_topic_alias(&mut publish) {
            return;
        }
        let manual = self.config.manual_acks;
        if let (true, Some(packet_id)) = (manual, publish.packet_id()) {
            let pid = packet_id.get();
            let qos = publish.qos();
            if qos == QoS::ExactlyOnce && self.session.incoming_qos2.contains(&pid) {
                // Acknowledged already: a repeat before PUBREL gets PUBREC again
                // ([MQTT-4.3.3-10]).
                self.send_ack(0x50, packet_id);
                return;
            }
            if !self.pending_acks.waits(pid, qos) && !self.within_receive_maximum() {
                return;
            }
            self.deliver_for_ack(publish, pid);
            return;
        }
        match publish.qos_pid {
            QosPid::AtMostOnce => self.deliver(publish),
            QosPid::AtLeastOnce(packet_id) => {
                self.deliver(publish);
                // [MQTT-4.3.2-4] PUBACK with the PUBLISH's identifier, in order of
                // arrival ([MQTT-4.6.0-2]).
                self.send_ack(0x40, packet_id);
            }
            QosPid::ExactlyOnce(packet_id) => {
                let pid = packet_id.get();
                if self.session.incoming_qos2.contains(&pid) {
                    // [MQTT-4.3.3-10] a repeat before PUBREL is acknowledged again and
                    // not delivered again.
                    self.send_ack(0x50, packet_id);
                    return;
                }
                if !self.within_receive_maximum() {
                    return;
                }
                self.session.incoming_qos2.insert(pid);
                self.deliver(publish);
                // [MQTT-4.3.3-8] PUBREC with the PUBLISH's identifier.
                self.send_ack(0x50, packet_id);
            }
        }
    }

    /// Room for one more incoming QoS 1/2 message under the client's Receive Maximum;
    /// false when the server exceeded it (and the connection is closing). In flight
    /// are the QoS 2 messages awaiting PUBREL and, with manual acknowledgement, the
    /// messages the application has not acknowledged; 3.1.1 has no Receive Maximum, the
    /// server was never told one.
    fn within_receive_maximum(&mut self) -> bool {
        let in_flight = self.session.incoming_qos2.len() + self.pending_acks.len();
        if self.config.version.is_v5()
            && in_flight >= usize::from(self.config.receive_maximum.get())
        {
            self.protocol_violation(
                ReasonCode::ReceiveMaximumExceeded,
                None,
                "server exceeded the client's receive maximum",
            );
            return false;
        }
        true
    }

    /// Applies an incoming Topic Alias; false when it broke the protocol (and the
    /// connection is closing).
    fn resolve_topic_alias(&mut self, publish: &mut Publish) -> bool {
        let maximum = self.config.topic_alias_maximum;
        match self.inbound_aliases.resolve(publish, maximum) {
            Ok(()) => true,
            // [MQTT-3.3.2-10] aliases from 1 up to the maximum this client sent.
            Err(AliasFault::AboveMaximum) => {
                self.protocol_violation(
                    ReasonCode::TopicAliasInvalid,
                    None,
                    "topic alias above the client's maximum",
                );
                false
            }
            Err(AliasFault::Unknown) => {
                self.protocol_error("topic alias without a mapping");
                false
            }
        }
    }

    fn deliver(&mut self, publish: Publish) {
        self.events
            .push_back(Event::Message(Message::from_publish(publish)));
    }

    fn on_puback(&mut self, ack: PubAck) {
        let pid = ack.packet_id.get();
        let expected = |o: &Outgoing| o.publish.qos() == QoS::AtLeastOnce;
        let what = "PUBACK for no QoS 1 PUBLISH in flight";
        self.complete_acknowledged(pid, expected, ack.reason_code.into(), ack.properties, what);
    }

    /// Completes the message holding `pid` when `expected` holds of it, failed when
    /// `code` is 0x80 or above ([MQTT-4.4.0-2]); an acknowledgement for nothing in
    /// flight is a protocol error.
    fn complete_acknowledged(
        &mut self,
        pid: u16,
        expected: impl Fn(&Outgoing) -> bool,
        code: ReasonCode,
        properties: PropertyBox<AckProperties>,
        what: &'static str,
    ) {
        if !self.session.publish(pid).is_some_and(expected) {
            return self.protocol_error(what);
        }
        let result = if code.is_error() {
            Err(PublishFailure::Rejected {
                reason_code: code,
                reason_string: properties.reason_string.clone(),
            })
        } else {
            Ok(())
        };
        self.complete(pid, result, properties);
    }

    fn on_pubrec(&mut self, rec: PubRec) {
        let pid = rec.packet_id.get();
        let released = match self.session.publish(pid) {
            Some(entry) if entry.publish.qos() == QoS::ExactlyOnce => entry.released,
            _ => {
                // 5.0: PUBREL 0x92 tells the server the identifier is unknown.
                let mut rel = PubRel::new(rec.packet_id);
                rel.reason_code = PubRelReasonCode::PacketIdentifierNotFound;
                if !self.config.version.is_v5() {
                    rel.reason_code = PubRelReasonCode::Success;
                }
                self.send_part(&rel);
                return;
            }
        };
        if rec.reason_code.is_error() {
            // [MQTT-4.4.0-2] acknowledged as failed; no PUBREL follows.
            let result = Err(PublishFailure::Rejected {
                reason_code: rec.reason_code.into(),
                reason_string: rec.properties.reason_string.clone(),
            });
            self.complete(pid, result, rec.properties);
            return;
        }
        if !released {
            // PUBRELs are re-sent in the order of the PUBRECs ([MQTT-4.6.0-4]).
            let seq = self.session.next_seq();
            if let Some(entry) = self.session.publish_mut(pid) {
                // [MQTT-4.3.3-6] from here on the PUBLISH is never sent again.
                entry.released = true;
                entry.seq = seq;
            }
        }
        // [MQTT-4.3.3-4] PUBREL with the same identifier, in order of the PUBRECs
        // ([MQTT-4.6.0-4]); a repeated PUBREC gets a repeated PUBREL.
        self.send_ack(0x62, rec.packet_id);
    }

    fn on_pubcomp(&mut self, comp: PubComp) {
        let pid = comp.packet_id.get();
        let expected = |o: &Outgoing| o.released;
        let what = "PUBCOMP for no PUBREL in flight";
        self.complete_acknowledged(
            pid,
            expected,
            comp.reason_code.into(),
            comp.properties,
            what,
        );
    }

    /// An outgoing QoS 1/2 message is done: a send slot opens for the queue.
    fn complete(
        &mut self,
        pid: u16,
        result: Result<(), PublishFailure>,
        properties: PropertyBox<AckProperties>,
    ) {
        if let Some(entry) = self.session.remove_publish(pid) {
            self.events.push_back(Event::Published {
                id: entry.id,
                result,
                properties,
            });
        }
        self.pump();
    }

    fn on_pubrel(&mut self, rel: PubRel) {
        // [MQTT-4.3.3-11] PUBCOMP with the same identifier; 5.0 says 0x92 when the
        // identifier is unknown. After it the identifier is free for a new message
        // ([MQTT-4.3.3-12]).
        let known = self.session.incoming_qos2.remove(&rel.packet_id.get());
        if !known && self.config.version.is_v5() {
            let mut comp = PubComp::new(rel.packet_id);
            comp.reason_code = PubCompReasonCode::PacketIdentifierNotFound;
            self.send_part(&comp);
        } else {
            self.send_ack(0x70, rel.packet_id);
        }
    }

    fn on_suback(&mut self, ack: SubAck) {
        let pid = ack.packet_id.get();
        let Some(Request::Subscribe { id, packet }) = self.session.request(pid).cloned() else {
            return self.protocol_error("SUBACK for no SUBSCRIBE in flight");
        };
        // [MQTT-3.9.3-1] one reason code per filter, in order.
        if ack.reason_codes.len() != packet.filters.len() {
            return self.protocol_error("SUBACK reason codes do not match the filters");
        }
        self.session.remove_request(pid);
        for (subscription, code) in packet.filters.iter().zip(&ack.reason_codes) {
            if code.is_error() {
                self.session.subscriptions.remove(&subscription.filter);
            } else {
                let tracked = Tracked {
                    options: subscription.options,
                    properties: packet.properties.clone(),
                };
                self.session
                    .subscriptions
                    .insert(subscription.filter.clone(), tracked);
            }
        }
        self.events.push_back(match id {
            Some(id) => Event::Subscribed {
                id,
                results: ack.reason_codes,
                properties: ack.properties,
            },
            None => Event::Resubscribed {
                results: packet
                    .filters
                    .into_iter()
                    .map(|s| s.filter)
                    .zip(ack.reason_codes)
                    .collect(),
            },
        });
        // The identifier is free again: a message may have waited for it.
        self.pump();
    }

    fn on_unsuback(&mut self, ack: UnsubAck) {
        let pid = ack.packet_id.get();
        let Some(Request::Unsubscribe { id, packet }) = self.session.request(pid).cloned() else {
            return self.protocol_error("UNSUBACK for no UNSUBSCRIBE in flight");
        };
        let results = if self.config.version.is_v5() {
            // [MQTT-3.11.3-1] one reason code per filter, in order.
            if ack.reason_codes.len() != packet.filters.len() {
                return self.protocol_error("UNSUBACK reason codes do not match the filters");
            }
            ack.reason_codes
        } else {
            alloc::vec![UnsubAckReasonCode::Success; packet.filters.len()]
        };
        self.session.remove_request(pid);
        for (filter, code) in packet.filters.iter().zip(&results) {
            if !code.is_error() {
                self.session.subscriptions.remove(filter);
            }
        }
        self.events.push_back(Event::Unsubscribed {
            id,
            results,
            properties: ack.properties,
        });
        // The identifier is free again: a message may have waited for it.
        self.pump();
    }

    fn on_disconnect(&mut self, disconnect: Disconnect) {
        let props = &disconnect.properties;
        self.close(DisconnectReason::ByServer {
            reason_code: disconnect.reason_code,
            reason_string: props.reason_string.clone(),
            server_reference: props.server_reference.clone(),
            user_properties: props.user_properties.clone(),
        });
    }
}
