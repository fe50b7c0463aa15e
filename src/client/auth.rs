//! Enhanced authentication (MQTT 5.0 section 4.12): the AUTH exchange while
//! connecting, and re-authentication while connected.

use super::{Client, DisconnectReason, Event, State};
use crate::codec::{Auth, AuthProperties, AuthReasonCode, Packet, ReasonCode};
use crate::string::MqttString;
use crate::time::Instant;
use bytes::Bytes;

/// Why an authentication command was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The configuration has no Authentication Method (or the protocol is 3.1.1).
    #[error("no authentication method configured")]
    NoMethod,
    /// No challenge waits for an answer.
    #[error("no authentication challenge to answer")]
    NotChallenged,
    /// Re-authentication needs a connection, and only one at a time.
    #[error("re-authentication needs a connection and none in progress")]
    NotReady,
}

/// Where an exchange stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(super) enum AuthState {
    /// No exchange under way.
    #[default]
    Idle,
    /// The server sent a challenge; the application has to answer.
    Challenged,
    /// The client answered or started re-authentication; the server has to reply.
    Waiting,
}

impl Client {
    /// Answers the server's [`Event::AuthChallenge`] with AUTH 0x18 (continue
    /// authentication, [MQTT-4.12.0-3]) carrying the configured method
    /// ([MQTT-4.12.0-5]) and `data`.
    pub fn auth_continue(&mut self, now: Instant, data: Option<Bytes>) -> Result<(), AuthError> {
        self.advance_clock(now);
        let method = self.auth_method().ok_or(AuthError::NoMethod)?;
        if self.auth_state != AuthState::Challenged || self.state == State::Disconnected {
            return Err(AuthError::NotChallenged);
        }
        self.send_auth(AuthReasonCode::ContinueAuthentication, method, data);
        Ok(())
    }

    /// Starts re-authentication while connected: AUTH 0x19 with the method of the
    /// first authentication ([MQTT-4.12.1-1]) and `data`. The server answers with
    /// challenges ([`Event::AuthChallenge`]) and then success
    /// ([`Event::Reauthenticated`]), or ends the connection. The exchange is bounded
    /// by the CONNACK timeout.
    pub fn reauthenticate(&mut self, now: Instant, data: Option<Bytes>) -> Result<(), AuthError> {
        self.advance_clock(now);
        let method = self.auth_method().ok_or(AuthError::NoMethod)?;
        if self.state != State::Connected || self.auth_state != AuthState::Idle {
            return Err(AuthError::NotReady);
        }
        self.auth_deadline = Some(self.now + self.config.connack_timeout);
        self.send_auth(AuthReasonCode::ReAuthenticate, method, data);
        Ok(())
    }

    /// The configured method, in 5.0.
    pub(super) fn auth_method(&self) -> Option<MqttString> {
        if !self.config.version.is_v5() {
            return None;
        }
        self.config.authentication_method.clone()
    }

    fn send_auth(&mut self, code: AuthReasonCode, method: MqttString, data: Option<Bytes>) {
        let mut auth = Auth::new(code);
        auth.properties = AuthProperties {
            authentication_method: Some(method),
            authentication_data: data,
            ..AuthProperties::default()
        }
        .into();
        self.send(&Packet::Auth(auth));
        self.auth_state = AuthState::Waiting;
    }

    /// An AUTH from the server, while connecting or connected.
    pub(super) fn on_auth(&mut self, auth: Auth) {
        let Some(method) = self.auth_method() else {
            // [MQTT-4.12.0-6] no AUTH when CONNECT had no Authentication Method.
            return self.protocol_error("AUTH without an authentication method");
        };
        // [MQTT-4.12.0-5] every AUTH carries the method of CONNECT.
        if auth.properties.authentication_method.as_ref() != Some(&method) {
            return self.protocol_error("AUTH with another authentication method");
        }
        match (auth.reason_code, self.state, self.auth_state) {
            // The server asks for more; while connecting, also before any answer.
            (AuthReasonCode::ContinueAuthentication, State::Connecting, _)
            | (AuthReasonCode::ContinueAuthentication, State::Connected, AuthState::Waiting) => {
                self.auth_state = AuthState::Challenged;
                self.events.push_back(Event::AuthChallenge {
                    data: auth.properties.authentication_data.clone(),
                    reauthentication: self.state == State::Connected,
                });
            }
            // Re-authentication succeeded.
            (AuthReasonCode::Success, State::Connected, AuthState::Waiting) => {
                self.auth_state = AuthState::Idle;
                self.auth_deadline = None;
                self.events.push_back(Event::Reauthenticated {
                    data: auth.properties.authentication_data.clone(),
                });
            }
            // Success comes as CONNACK while connecting; a server never starts
            // re-authentication.
            _ => self.protocol_error("AUTH out of sequence"),
        }
    }

    /// The re-authentication deadline passed without the server's answer.
    pub(super) fn auth_timeout(&mut self) {
        if self.auth_deadline.is_some_and(|d| self.now >= d) && self.state == State::Connected {
            self.auth_deadline = None;
            self.auth_state = AuthState::Idle;
            if self.config.version.is_v5() {
                self.send(&Packet::Disconnect(crate::codec::Disconnect::new(
                    crate::codec::DisconnectReasonCode::UnspecifiedError,
                )));
            }
            self.close(DisconnectReason::AuthTimeout);
        }
    }

    /// A CONNACK accepting the connection ends the exchange; its method must be the
    /// one of CONNECT ([MQTT-4.12.0-5]). False when it is not (the connection is then
    /// closing).
    pub(super) fn auth_connack(&mut self, method: Option<&MqttString>) -> bool {
        self.auth_state = AuthState::Idle;
        self.auth_deadline = None;
        if method.cloned() != self.auth_method() {
            self.protocol_violation(
                ReasonCode::ProtocolError,
                None,
                "CONNACK with another authentication method",
            );
            return false;
        }
        true
    }
}
