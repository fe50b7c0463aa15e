//! The life of a connection and its session: CONNECT, the broker's answer, enhanced
//! authentication, the end of the connection, the Will and the session expiry.

use super::event::PendingWill;
use super::{
    AcceptError, AcceptOptions, ClientLimits, CloseReason, ConnectRequest, ServerConnection,
    ServerError, ServerEvent, ServerSession, ServerState, Unanswered,
};
use crate::client::Message;
use crate::codec::{
    Auth, AuthReasonCode, ConnAck, Connect, ConnectReasonCode, DecodeError, DisconnectReasonCode,
    MAX_PACKET_SIZE, Packet, PropertyBox, PublishProperties, encoded_len_of,
};
use crate::time::Instant;
use crate::types::ProtocolVersion;
use alloc::boxed::Box;
use bytes::Bytes;
use core::time::Duration;

impl ServerConnection {
    /// CONNECT arrived (the decoder lets nothing else through first, [MQTT-3.1.0-1]).
    pub(super) fn on_connect(&mut self, connect: Box<Connect>) {
        if self.state != ServerState::AwaitingConnect {
            // [MQTT-3.1.0-2] a second CONNECT is a protocol error.
            self.protocol_error("second CONNECT");
            return;
        }
        let version = self.decoder.version().unwrap_or(ProtocolVersion::V5);
        self.version = Some(version);
        if version == ProtocolVersion::V311 && connect.client_id.is_empty() && !connect.clean_start
        {
            // [MQTT-3.1.3-8] (3.1.1): an empty ClientId needs Clean Session 1.
            self.refuse(ConnectReasonCode::ClientIdentifierNotValid);
            return;
        }
        if let Some(will) = &connect.will {
            // [MQTT-3.2.2-12] a Will QoS above the server's Maximum QoS, and
            // [MQTT-3.2.2-13] a retained Will without retain support, are refused.
            if will.qos > self.config.maximum_qos {
                self.refuse(ConnectReasonCode::QoSNotSupported);
                return;
            }
            if will.retain && !self.config.retain_available {
                self.refuse(ConnectReasonCode::RetainNotSupported);
                return;
            }
        }
        self.auth_method = connect.properties.authentication_method.clone();
        self.state = ServerState::AwaitingAnswer;
        self.events
            .push_back(ServerEvent::Connect(ConnectRequest { connect, version }));
    }

    /// The decoder refused the input.
    pub(super) fn decode_failed(&mut self, error: DecodeError) {
        if let DecodeError::UnsupportedProtocolVersion(_) = error {
            // [MQTT-3.1.2-2] (3.1.1 and 5.0): CONNACK "unacceptable protocol version",
            // in the 3.1.1 form every version can read, then close.
            let before = self.tx.len();
            self.tx.extend_from_slice(&[0x20, 0x02, 0x00, 0x01]);
            self.sent(before);
            self.close(CloseReason::Rejected {
                reason_code: ConnectReasonCode::UnsupportedProtocolVersion,
            });
            return;
        }
        let code = crate::codec::DisconnectReasonCode::try_from(error.reason_code())
            .unwrap_or(DisconnectReasonCode::ProtocolError);
        // [MQTT-3.1.4-1] a malformed CONNECT (or a first packet that is no CONNECT,
        // [MQTT-3.1.0-1]) closes the connection; no DISCONNECT before CONNACK.
        self.violation(code, Some(error), "undecodable packet");
    }

    /// Refuses the CONNECT before the broker sees it.
    fn refuse(&mut self, reason_code: ConnectReasonCode) {
        if let Some(code) = self.connack_code(reason_code) {
            self.send_connack(ConnAck::new(code));
        }
        self.close(CloseReason::Rejected { reason_code });
    }

    /// The code to send, if any. 3.1.1 has return codes 1 to 5 only; a refusal none of
    /// them fits closes the connection without a CONNACK ([MQTT-3.2.2-6] (3.1.1)).
    fn connack_code(&self, reason_code: ConnectReasonCode) -> Option<ConnectReasonCode> {
        use ConnectReasonCode::*;
        if self.is_v5() || reason_code.v311_return_code().is_some() {
            return Some(reason_code);
        }
        match reason_code {
            Banned | BadAuthenticationMethod => Some(NotAuthorized),
            ServerBusy
            | QuotaExceeded
            | ConnectionRateExceeded
            | UseAnotherServer
            | ServerMoved => Some(ServerUnavailable),
            _ => None,
        }
    }

    fn send_connack(&mut self, connack: ConnAck) {
        self.send(&Packet::ConnAck(connack));
    }

    /// Accepts the connection: CONNACK 0x00 ([MQTT-3.1.4-5]). With Clean Start 0,
    /// `session` is the session the broker holds for the Client Identifier (from
    /// [`resume_session`](Self::resume_session) of the connection that had it); with
    /// Clean Start 1 it is ignored ([MQTT-3.1.2-4]).
    ///
    /// On an error nothing changed and the request and the session come back in
    /// [`Unanswered`], to answer again; except that after
    /// [`ServerError::ConnAckTooLarge`] the client has been refused (the session still
    /// comes back).
    pub fn accept(
        &mut self,
        now: Instant,
        request: ConnectRequest,
        session: Option<ServerSession>,
        options: AcceptOptions,
    ) -> Result<(), Box<AcceptError>> {
        self.advance_clock(now);
        let back = |error, request, session| {
            Err(Box::new(Unanswered {
                error,
                request: (request, session),
            }))
        };
        if self.state != ServerState::AwaitingAnswer {
            let error = ServerError::WrongState("accept needs an unanswered CONNECT");
            return back(error, request, session);
        }
        let connect = &request.connect;
        let v5 = self.is_v5();
        let assigned = connect.client_id.is_empty();
        // [MQTT-3.1.3-6] an empty ClientID gets a unique one from the broker.
        let client_id = match (assigned, &options.assigned_client_id) {
            (false, _) => connect.client_id.clone(),
            (true, Some(id)) => id.clone(),
            (true, None) => return back(ServerError::AssignedIdRequired, request, session),
        };
        let props = &connect.properties;
        let limits = if v5 {
            ClientLimits {
                receive_maximum: props.receive_maximum.map_or(u16::MAX, |r| r.get()),
                maximum_packet_size: props
                    .maximum_packet_size
                    .map_or(MAX_PACKET_SIZE, |m| m.get()),
                topic_alias_maximum: props.topic_alias_maximum.unwrap_or(0),
                request_problem_information: props.request_problem_information.unwrap_or(true),
            }
        } else {
            ClientLimits::default()
        };
        // [MQTT-3.1.2-4] Clean Start 1 discards the session; [MQTT-3.1.2-5] Clean Start
        // 0 continues it; [MQTT-3.1.2-6] or starts a new one.
        let session_present = session.is_some() && !connect.clean_start;

        let mut connack = ConnAck::new(ConnectReasonCode::Success);
        // [MQTT-3.2.2-2] / [MQTT-3.2.2-3]
        connack.session_present = session_present;
        if v5 {
            let mut p = self.config.connack_properties();
            if assigned {
                // [MQTT-3.1.3-7] / [MQTT-3.2.2-16]
                p.assigned_client_identifier = Some(client_id.clone());
            }
            p.session_expiry_interval = options.session_expiry_interval;
            if props.request_response_information == Some(true) {
                // [MQTT-3.1.2-28] only when asked for.
                p.response_information = options.response_information.clone();
            }
            p.authentication_method = self.auth_method.clone();
            p.authentication_data = options.authentication_data.clone();
            connack.properties = PropertyBox::from(p);
            let maximum = limits.maximum_packet_size as usize;
            if encoded_len_of(&connack, ProtocolVersion::V5) > maximum {
                // [MQTT-3.1.2-24] not even the CONNACK fits the client's maximum.
                self.refuse(ConnectReasonCode::PacketTooLarge);
                return back(ServerError::ConnAckTooLarge, request, session);
            }
            let mut diagnostics = connack.clone();
            diagnostics.properties.reason_string = options.reason_string;
            diagnostics.properties.user_properties = options.user_properties;
            // [MQTT-3.2.2-19] / [MQTT-3.2.2-20] no Reason String or User Properties
            // that would make the CONNACK too large for the client.
            if encoded_len_of(&diagnostics, ProtocolVersion::V5) <= maximum {
                connack = diagnostics;
            }
        }

        let connect = request.connect;
        let props = &connect.properties;
        let mut session = session
            .filter(|_| session_present)
            .unwrap_or_else(|| ServerSession::new(client_id.clone()));
        session.expiry_interval = if v5 {
            options
                .session_expiry_interval
                .or(props.session_expiry_interval)
                .unwrap_or(0)
        } else if connect.clean_start {
            0
        } else {
            u32::MAX
        };
        self.connect_expiry_zero = props.session_expiry_interval.unwrap_or(0) == 0;
        session.epoch += 1;
        self.epoch = session.epoch;
        // [MQTT-4.3.3-8] QoS 2 messages the broker never acknowledged (manual acks):
        // their handles are stale now, so the client's re-sent PUBLISH ([MQTT-4.4.0-1])
        // goes to the broker again instead of waiting for an `ack` that cannot come.
        session
            .incoming_qos2
            .retain(|_, state| *state != super::session::Incoming::Unacked);
        self.limits = limits;
        // [MQTT-3.1.2-27] no aliases towards a client that accepts none.
        self.outbound_aliases.reset(self.limits.topic_alias_maximum);
        self.inbound_aliases.clear();
        // [MQTT-3.2.2-22] the client's keep alive unless the server imposes one.
        let keep_alive = match self.config.server_keep_alive {
            Some(k) if v5 => k,
            _ => connect.keep_alive,
        };
        self.keep_alive = Duration::from_secs(u64::from(keep_alive));
        // [MQTT-3.1.2-7] the Will is stored with the session.
        self.will = connect.will.as_ref().map(|will| PendingWill {
            message: Message {
                topic: will.topic.clone(),
                payload: will.payload.clone(),
                qos: will.qos,
                // [MQTT-3.1.2-14] / [MQTT-3.1.2-15]
                retain: will.retain,
                dup: false,
                delivery: None,
                properties: will_publish_properties(will),
            },
            delay: Duration::from_secs(u64::from(will.properties.will_delay_interval.unwrap_or(0))),
        });
        self.send_connack(connack);
        self.client_id = Some(client_id);
        self.session = Some(session);
        self.state = ServerState::Connected;
        self.connect_deadline = None;
        self.last_received = self.now;
        if session_present {
            self.resend_in_flight();
        }
        self.pump();
        // Packets that arrived behind the CONNECT.
        self.process_input();
        Ok(())
    }

    /// Refuses the connection with `reason_code` (0x80 or above): CONNACK with
    /// Session Present 0 ([MQTT-3.2.2-6] (5.0)), then the connection closes
    /// ([MQTT-3.2.2-7], [MQTT-3.1.4-2] (5.0)). In 3.1.1 a code without a 3.1.1 return code
    /// is sent as the one that fits ("not authorized" for 0x8A and 0x8C, "server
    /// unavailable" for 0x89, 0x97, 0x9C, 0x9D, 0x9F); when none fits, the connection
    /// closes without a CONNACK ([MQTT-3.2.2-6] (3.1.1)).
    pub fn reject(
        &mut self,
        now: Instant,
        request: ConnectRequest,
        reason_code: ConnectReasonCode,
    ) -> Result<(), Unanswered<ConnectRequest>> {
        self.advance_clock(now);
        let error = if self.state != ServerState::AwaitingAnswer {
            ServerError::WrongState("reject needs an unanswered CONNECT")
        } else if !reason_code.is_error() {
            ServerError::ReasonNotAllowed
        } else {
            self.refuse(reason_code);
            return Ok(());
        };
        Err(Unanswered { error, request })
    }

    /// Sends the next challenge of an enhanced authentication: AUTH 0x18 with the
    /// CONNECT's method ([MQTT-4.12.0-2]), during CONNECT or a re-authentication.
    pub fn auth_continue(&mut self, now: Instant, data: Option<Bytes>) -> Result<(), ServerError> {
        self.advance_clock(now);
        let allowed = match self.state {
            ServerState::AwaitingAnswer => true,
            ServerState::Connected => self.reauthenticating,
            _ => false,
        };
        self.send_auth(AuthReasonCode::ContinueAuthentication, data, allowed)
    }

    /// Ends a re-authentication the client started with success: AUTH 0x00.
    pub fn auth_success(&mut self, now: Instant, data: Option<Bytes>) -> Result<(), ServerError> {
        self.advance_clock(now);
        let allowed = self.state == ServerState::Connected && self.reauthenticating;
        self.send_auth(AuthReasonCode::Success, data, allowed)?;
        self.reauthenticating = false;
        Ok(())
    }

    fn send_auth(
        &mut self,
        reason_code: AuthReasonCode,
        data: Option<Bytes>,
        allowed: bool,
    ) -> Result<(), ServerError> {
        // [MQTT-4.12.0-6] no AUTH when the CONNECT had no Authentication Method.
        let Some(method) = self.auth_method.clone().filter(|_| allowed) else {
            return Err(ServerError::WrongState("no authentication under way"));
        };
        let mut auth = Auth::new(reason_code);
        auth.properties.authentication_method = Some(method);
        auth.properties.authentication_data = data;
        self.send(&Packet::Auth(auth));
        Ok(())
    }

    /// AUTH from the client.
    pub(super) fn on_auth(&mut self, auth: Auth) {
        let expected = match (self.state, auth.reason_code) {
            (ServerState::AwaitingAnswer, AuthReasonCode::ContinueAuthentication) => Some(false),
            (ServerState::Connected, AuthReasonCode::ReAuthenticate) if !self.reauthenticating => {
                Some(true)
            }
            (ServerState::Connected, AuthReasonCode::ContinueAuthentication)
                if self.reauthenticating =>
            {
                Some(true)
            }
            _ => None,
        };
        let same_method =
            self.auth_method.is_some() && auth.properties.authentication_method == self.auth_method;
        match expected {
            // 5.0 section 4.12: the method stays that of CONNECT.
            Some(reauthenticate) if same_method => {
                self.reauthenticating = reauthenticate;
                self.events.push_back(ServerEvent::Auth {
                    data: auth.properties.authentication_data.clone(),
                    reauthenticate,
                });
            }
            _ => self.protocol_error("unexpected AUTH"),
        }
    }

    /// DISCONNECT from the client.
    pub(super) fn on_disconnect(&mut self, disconnect: crate::codec::Disconnect) {
        if let Some(expiry) = disconnect.properties.session_expiry_interval {
            // 5.0 section 3.14.2.2.2: raising a zero Session Expiry Interval at
            // DISCONNECT is a protocol error.
            if self.connect_expiry_zero && expiry != 0 {
                self.protocol_error("session expiry raised from zero at DISCONNECT");
                return;
            }
            if let Some(session) = &mut self.session {
                session.expiry_interval = expiry;
            }
        }
        if disconnect.reason_code == DisconnectReasonCode::NormalDisconnection {
            // [MQTT-3.14.4-3] / [MQTT-3.1.2-10] a normal DISCONNECT discards the Will.
            self.will = None;
        }
        self.close(CloseReason::ByClient {
            reason_code: disconnect.reason_code,
        });
    }

    /// The network connection ends for `reason`. The session stays until it expires;
    /// the Will waits for its delay unless a normal DISCONNECT removed it.
    pub(super) fn close(&mut self, reason: CloseReason) {
        let was_connected = self.state == ServerState::Connected;
        self.state = ServerState::Closed;
        self.connect_deadline = None;
        self.reauthenticating = false;
        self.rx.clear();
        self.unacked_qos1.clear();
        self.inbound_aliases.clear();
        self.outbound_aliases.reset(0);
        self.events.push_back(ServerEvent::Closed { reason });
        if !was_connected {
            return;
        }
        if let Some(will) = &self.will {
            // [MQTT-3.1.2-8] after the Will Delay Interval or the end of the
            // session, whichever comes first.
            self.will_deadline = Some(self.now + will.delay);
        }
        let expiry = self.session.as_ref().map_or(0, |s| s.expiry_interval);
        self.session_deadline =
            (expiry != u32::MAX).then(|| self.now + Duration::from_secs(u64::from(expiry)));
        // Deadlines already reached are handled at once.
        self.handle_timeout(self.now);
    }

    pub(super) fn publish_will(&mut self) {
        self.will_deadline = None;
        if let Some(will) = self.will.take() {
            self.events.push_back(ServerEvent::Will(will.message));
        }
    }

    /// The session ends here: the Will, if still waiting, is due now.
    pub(super) fn drop_session(&mut self) {
        self.session_deadline = None;
        self.publish_will();
        if self.session.take().is_some() {
            self.events.push_back(ServerEvent::SessionEnded);
        }
    }

    /// A new connection of the same Client Identifier asks to continue the session
    /// (Clean Start 0). A live connection is closed first with DISCONNECT 0x8E
    /// ([MQTT-3.1.4-3] (5.0)); a Will still waiting for its delay is not sent
    /// ([MQTT-3.1.3-9] (5.0)). Returns the session for [`accept`](Self::accept).
    pub fn resume_session(&mut self, now: Instant) -> Option<ServerSession> {
        // Deadlines reached by `now` first, even if the driver's timer has not fired:
        // an expired session is gone ([MQTT-4.1.0-2] (5.0)) and a Will whose delay
        // passed is due ([MQTT-3.1.3-9] (5.0) only holds it back before that).
        self.handle_timeout(now);
        self.take_over();
        if self.will_deadline.is_some() {
            self.will_deadline = None;
            self.will = None;
        }
        self.session_deadline = None;
        self.session.take()
    }

    /// A new connection of the same Client Identifier starts clean (Clean Start 1), or
    /// the broker discards the session: a live connection is closed with DISCONNECT
    /// 0x8E ([MQTT-3.1.4-3] (5.0)), the Will is published if still waiting (the session
    /// ends), and [`ServerEvent::SessionEnded`] follows.
    pub fn end_session(&mut self, now: Instant) {
        // Deadlines reached by `now` first, as in `resume_session`.
        self.handle_timeout(now);
        self.take_over();
        self.drop_session();
    }

    fn take_over(&mut self) {
        if self.state != ServerState::Closed {
            self.send_disconnect(DisconnectReasonCode::SessionTakenOver);
            self.close(CloseReason::TakenOver);
        }
    }
}

/// The PUBLISH properties of a Will: all of its properties except the delay.
fn will_publish_properties(will: &crate::codec::Will) -> PropertyBox<PublishProperties> {
    let w = &will.properties;
    let p = PublishProperties {
        payload_format_indicator: w.payload_format_indicator,
        message_expiry_interval: w.message_expiry_interval,
        content_type: w.content_type.clone(),
        response_topic: w.response_topic.clone(),
        correlation_data: w.correlation_data.clone(),
        // [MQTT-3.1.3-10] (5.0) User Properties in their order.
        user_properties: w.user_properties.clone(),
        ..PublishProperties::new()
    };
    PropertyBox::from(p)
}
