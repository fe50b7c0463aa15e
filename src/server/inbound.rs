//! What the client sends once connected: messages, acknowledgements of the server's
//! messages, subscription requests, PINGREQ.

use super::event::{InboundId, InboundMessage, RequestedSubscription};
use super::session::{Incoming, Outgoing};
use super::{ServerConnection, ServerEvent, ServerState, SubscribeRequest, UnsubscribeRequest};
use crate::client::Message;
use crate::client::alias::AliasFault;
use crate::codec::{
    DisconnectReasonCode, Packet, PubAck, PubComp, PubCompReasonCode, PubRec, PubRel,
    PubRelReasonCode, Publish, SubAckReasonCode, Subscribe, Unsubscribe,
};
use crate::types::{PacketId, QoS, QosPid};

impl ServerConnection {
    pub(super) fn handle_packet(&mut self, packet: Packet) {
        match self.state {
            ServerState::AwaitingConnect => {
                if let Packet::Connect(connect) = packet {
                    self.on_connect(connect);
                } else {
                    // [MQTT-3.1.0-1] the decoder lets only CONNECT through first.
                    self.protocol_error("first packet is not CONNECT");
                }
                return;
            }
            ServerState::AwaitingAnswer => {
                if let Packet::Auth(auth) = packet {
                    self.on_auth(auth);
                }
                return;
            }
            ServerState::Connected => {}
            ServerState::Closed => return,
        }
        match packet {
            Packet::Publish(publish) => self.on_publish(publish),
            Packet::PubAck(ack) => self.on_puback(ack),
            Packet::PubRec(rec) => self.on_pubrec(rec),
            Packet::PubRel(rel) => self.on_pubrel(rel),
            Packet::PubComp(comp) => self.on_pubcomp(comp),
            Packet::Subscribe(subscribe) => self.on_subscribe(subscribe),
            Packet::Unsubscribe(unsubscribe) => self.on_unsubscribe(unsubscribe),
            // [MQTT-3.12.4-1]
            Packet::PingReq => self.send(&Packet::PingResp),
            Packet::Disconnect(disconnect) => self.on_disconnect(disconnect),
            Packet::Auth(auth) => self.on_auth(auth),
            // [MQTT-3.1.0-2]
            Packet::Connect(_) => self.protocol_error("second CONNECT"),
            // The server decoder refuses the packets only a server sends.
            _ => self.protocol_error("unexpected packet"),
        }
    }

    fn on_publish(&mut self, mut publish: Publish) {
        // 5.0 section 3.2.2.3.4: above the Maximum QoS the server stated.
        if publish.qos() > self.config.maximum_qos {
            self.violation(
                DisconnectReasonCode::QoSNotSupported,
                None,
                "qos above maximum",
            );
            return;
        }
        // 5.0 section 3.2.2.3.5: retain while Retain Available is 0.
        if publish.retain && !self.config.retain_available {
            self.violation(
                DisconnectReasonCode::RetainNotSupported,
                None,
                "retain unsupported",
            );
            return;
        }
        if !self.resolve_alias(&mut publish) {
            return;
        }
        match publish.qos_pid {
            QosPid::AtMostOnce => self.deliver(publish, None),
            QosPid::AtLeastOnce(pid) => {
                if self.unacked_qos1.contains(&pid.get()) {
                    // A re-send of a message the broker has not acknowledged yet: its
                    // acknowledgement will answer both.
                    return;
                }
                if !self.within_receive_maximum() {
                    return;
                }
                if self.config.manual_acks {
                    self.unacked_qos1.insert(pid.get());
                    self.deliver(publish, Some((pid, QoS::AtLeastOnce)));
                } else {
                    self.deliver(publish, None);
                    // [MQTT-4.3.2-4]
                    self.send_part(&PubAck::new(pid));
                }
            }
            QosPid::ExactlyOnce(pid) => self.on_publish_qos2(publish, pid),
        }
    }

    fn on_publish_qos2(&mut self, publish: Publish, pid: PacketId) {
        let known = self
            .session
            .as_ref()
            .and_then(|s| s.incoming_qos2.get(&pid.get()).copied());
        match known {
            // [MQTT-4.3.3-10] a repeat before PUBREL is acknowledged, not delivered.
            Some(Incoming::Received) => self.send_part(&PubRec::new(pid)),
            Some(Incoming::Unacked) => {}
            None => {
                if !self.within_receive_maximum() {
                    return;
                }
                let state = if self.config.manual_acks {
                    Incoming::Unacked
                } else {
                    Incoming::Received
                };
                if let Some(session) = &mut self.session {
                    session.incoming_qos2.insert(pid.get(), state);
                }
                if self.config.manual_acks {
                    self.deliver(publish, Some((pid, QoS::ExactlyOnce)));
                } else {
                    self.deliver(publish, None);
                    // [MQTT-4.3.3-8]
                    self.send_part(&PubRec::new(pid));
                }
            }
        }
    }

    /// [MQTT-3.3.4-7] (binding the client) enforced: one more QoS 1/2 message than the
    /// Receive Maximum the server sent is DISCONNECT 0x93 (5.0 section 3.3.4).
    fn within_receive_maximum(&mut self) -> bool {
        // 3.1.1 has no Receive Maximum: the client was never told one.
        if !self.is_v5() {
            return true;
        }
        let in_flight =
            self.unacked_qos1.len() + self.session.as_ref().map_or(0, |s| s.incoming_qos2.len());
        if in_flight >= usize::from(self.config.receive_maximum.max(1)) {
            self.violation(
                DisconnectReasonCode::ReceiveMaximumExceeded,
                None,
                "receive maximum exceeded",
            );
            return false;
        }
        true
    }

    /// Resolves or records the Topic Alias of `publish` (5.0 section 3.3.2.3.4) and
    /// strips it. False when the connection was closed for it.
    fn resolve_alias(&mut self, publish: &mut Publish) -> bool {
        if publish.properties.topic_alias.is_none() && publish.topic.is_empty() {
            self.protocol_error("empty topic without topic alias");
            return false;
        }
        let maximum = self.config.topic_alias_maximum;
        match self.inbound_aliases.resolve(publish, maximum) {
            Ok(()) => {
                publish.properties.topic_alias = None;
                true
            }
            // [MQTT-3.3.2-12] aliases from 1 to the maximum the server sent; beyond it
            // DISCONNECT 0x94.
            Err(AliasFault::AboveMaximum) => {
                self.violation(
                    DisconnectReasonCode::TopicAliasInvalid,
                    None,
                    "topic alias above maximum",
                );
                false
            }
            // An alias never set on this connection ([MQTT-3.3.2-7]) is a protocol error.
            Err(AliasFault::Unknown) => {
                self.protocol_error("unknown topic alias");
                false
            }
        }
    }

    fn deliver(&mut self, publish: Publish, id: Option<(PacketId, QoS)>) {
        let id = id.map(|(packet_id, qos)| InboundId {
            packet_id,
            qos,
            epoch: self.epoch,
        });
        let mut message = Message::from_publish(publish);
        message.dup = false;
        self.events
            .push_back(ServerEvent::Message(InboundMessage { message, id }));
    }

    fn on_pubrel(&mut self, rel: PubRel) {
        let pid = rel.packet_id;
        let known = self
            .session
            .as_mut()
            .and_then(|s| s.incoming_qos2.get(&pid.get()).copied());
        let mut comp = PubComp::new(pid);
        match known {
            Some(Incoming::Received) => {
                if let Some(session) = &mut self.session {
                    session.incoming_qos2.remove(&pid.get());
                }
            }
            // PUBREL before the broker acknowledged: the client broke the flow.
            Some(Incoming::Unacked) => {
                self.protocol_error("PUBREL before PUBREC");
                return;
            }
            // 5.0 section 3.7.2.1: 0x92 for an identifier the server does not know.
            None if self.is_v5() => comp.reason_code = PubCompReasonCode::PacketIdentifierNotFound,
            None => {}
        }
        // [MQTT-4.3.3-11]
        self.send_part(&comp);
    }

    /// The message in flight to the client under identifier `pid`, if any.
    fn outgoing(&self, pid: u16) -> Option<&Outgoing> {
        self.session.as_ref().and_then(|s| s.outgoing.get(&pid))
    }

    /// The flow of `pid` is complete: the identifier is free and the next queued
    /// message may take the slot.
    fn complete_outgoing(&mut self, pid: u16) {
        if let Some(session) = &mut self.session {
            session.remove_outgoing(pid);
        }
        self.pump();
    }

    fn on_puback(&mut self, ack: PubAck) {
        let pid = ack.packet_id.get();
        let qos1 = self
            .outgoing(pid)
            .is_some_and(|o| o.publish.qos() == QoS::AtLeastOnce);
        if qos1 {
            self.complete_outgoing(pid);
        }
    }

    fn on_pubrec(&mut self, rec: PubRec) {
        let pid = rec.packet_id;
        let state = self
            .outgoing(pid.get())
            .filter(|o| o.publish.qos() == QoS::ExactlyOnce)
            .map(|o| o.released);
        match state {
            // [MQTT-4.4.0-2] a refusal completes the message.
            Some(false) if rec.reason_code.is_error() => self.complete_outgoing(pid.get()),
            Some(_) => {
                if let Some(session) = &mut self.session {
                    let seq = session.next_seq();
                    session.set_pending(pid.get(), false);
                    if let Some(out) = session.outgoing.get_mut(&pid.get()) {
                        out.released = true;
                        out.seq = seq;
                    }
                }
                // [MQTT-4.3.3-4]
                self.send_part(&PubRel::new(pid));
            }
            None => {
                let mut rel = PubRel::new(pid);
                if self.is_v5() {
                    rel.reason_code = PubRelReasonCode::PacketIdentifierNotFound;
                }
                self.send_part(&rel);
            }
        }
    }

    fn on_pubcomp(&mut self, comp: PubComp) {
        let pid = comp.packet_id.get();
        let released = self.outgoing(pid).is_some_and(|o| o.released);
        if released {
            self.complete_outgoing(pid);
        }
    }

    fn on_subscribe(&mut self, subscribe: Subscribe) {
        // 5.0 section 3.2.2.3.12: a Subscription Identifier the server does not offer.
        if subscribe.properties.subscription_identifier.is_some()
            && !self.config.subscription_identifiers_available
        {
            self.violation(
                DisconnectReasonCode::SubscriptionIdentifiersNotSupported,
                None,
                "subscription identifiers unsupported",
            );
            return;
        }
        let Some(session) = &self.session else { return };
        let filters = subscribe
            .filters
            .into_iter()
            .map(|subscription| {
                let filter = &subscription.filter;
                let refused = if filter.is_shared() && !self.config.shared_subscription_available {
                    Some(SubAckReasonCode::SharedSubscriptionsNotSupported)
                } else if filter.has_wildcards() && !self.config.wildcard_subscription_available {
                    Some(SubAckReasonCode::WildcardSubscriptionsNotSupported)
                } else {
                    None
                };
                RequestedSubscription {
                    exists: session.subscriptions.contains_key(filter),
                    refused,
                    subscription,
                }
            })
            .collect();
        self.events
            .push_back(ServerEvent::Subscribe(SubscribeRequest {
                packet_id: subscribe.packet_id,
                epoch: self.epoch,
                filters,
                properties: subscribe.properties,
            }));
    }

    fn on_unsubscribe(&mut self, unsubscribe: Unsubscribe) {
        let Some(session) = &self.session else { return };
        let filters = unsubscribe
            .filters
            .into_iter()
            .map(|f| {
                let exists = session.subscriptions.contains_key(&f);
                (f, exists)
            })
            .collect();
        self.events
            .push_back(ServerEvent::Unsubscribe(UnsubscribeRequest {
                packet_id: unsubscribe.packet_id,
                epoch: self.epoch,
                filters,
                properties: unsubscribe.properties,
            }));
    }
}
