//! The first byte of the fixed header: packet type and flags.

use super::{DecodeError, Sender};
use crate::types::ProtocolVersion;
use core::fmt;

/// The type of a control packet (the high four bits of its first byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// CONNECT (1).
    Connect = 1,
    /// CONNACK (2).
    ConnAck = 2,
    /// PUBLISH (3).
    Publish = 3,
    /// PUBACK (4).
    PubAck = 4,
    /// PUBREC (5).
    PubRec = 5,
    /// PUBREL (6).
    PubRel = 6,
    /// PUBCOMP (7).
    PubComp = 7,
    /// SUBSCRIBE (8).
    Subscribe = 8,
    /// SUBACK (9).
    SubAck = 9,
    /// UNSUBSCRIBE (10).
    Unsubscribe = 10,
    /// UNSUBACK (11).
    UnsubAck = 11,
    /// PINGREQ (12).
    PingReq = 12,
    /// PINGRESP (13).
    PingResp = 13,
    /// DISCONNECT (14).
    Disconnect = 14,
    /// AUTH (15, MQTT 5.0 only).
    Auth = 15,
}

impl PacketType {
    /// The type for the high four bits of a first byte; `None` for the reserved 0.
    pub const fn from_nibble(nibble: u8) -> Option<Self> {
        use PacketType::*;
        Some(match nibble {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 => Auth,
            _ => return None,
        })
    }

    /// The name the specification uses, e.g. `"PUBLISH"`.
    pub const fn name(self) -> &'static str {
        use PacketType::*;
        match self {
            Connect => "CONNECT",
            ConnAck => "CONNACK",
            Publish => "PUBLISH",
            PubAck => "PUBACK",
            PubRec => "PUBREC",
            PubRel => "PUBREL",
            PubComp => "PUBCOMP",
            Subscribe => "SUBSCRIBE",
            SubAck => "SUBACK",
            Unsubscribe => "UNSUBSCRIBE",
            UnsubAck => "UNSUBACK",
            PingReq => "PINGREQ",
            PingResp => "PINGRESP",
            Disconnect => "DISCONNECT",
            Auth => "AUTH",
        }
    }

    /// The flag bits every packet but PUBLISH must carry.
    pub(crate) const fn fixed_flags(self) -> u8 {
        match self {
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => 0b0010,
            _ => 0,
        }
    }

    /// Whether a client may send this packet type.
    const fn sent_by_client(self) -> bool {
        !matches!(
            self,
            PacketType::ConnAck | PacketType::SubAck | PacketType::UnsubAck | PacketType::PingResp
        )
    }

    /// Whether a server may send this packet type; in 3.1.1 a server never sends
    /// DISCONNECT (section 3.14: it is "sent from the Client to the Server").
    const fn sent_by_server(self, version: Option<ProtocolVersion>) -> bool {
        match self {
            PacketType::Connect
            | PacketType::Subscribe
            | PacketType::Unsubscribe
            | PacketType::PingReq => false,
            PacketType::Disconnect => !matches!(version, Some(ProtocolVersion::V311)),
            _ => true,
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Checks the first byte of a packet before anything else of it is read, so a wrong
/// type or flags are refused without waiting for the body.
#[inline]
pub(crate) fn check_first_byte(
    first: u8,
    version: Option<ProtocolVersion>,
    sender: Sender,
) -> Result<PacketType, DecodeError> {
    let nibble = first >> 4;
    let flags = first & 0x0F;
    // Type 0 is reserved in both versions, 15 in 3.1.1 ([MQTT-2.2.2-2] closes the
    // connection; [MQTT-4.8.0-1]).
    let packet = match PacketType::from_nibble(nibble) {
        Some(PacketType::Auth) if version == Some(ProtocolVersion::V311) => {
            return Err(DecodeError::ReservedPacketType(nibble));
        }
        Some(packet) => packet,
        None => return Err(DecodeError::ReservedPacketType(nibble)),
    };
    if packet == PacketType::Publish {
        // [MQTT-3.3.1-4]: both QoS bits set is malformed.
        if flags & 0b0110 == 0b0110 {
            return Err(DecodeError::InvalidQoS {
                field: "publish flags",
            });
        }
        // [MQTT-3.3.1-2]: DUP is 0 on every QoS 0 PUBLISH.
        if flags & 0b1110 == 0b1000 {
            return Err(DecodeError::DupWithQoS0);
        }
    } else if flags != packet.fixed_flags() {
        // [MQTT-2.2.2-1], [MQTT-2.2.2-2] (3.1.1); [MQTT-2.1.3-1] (5.0); and per packet
        // [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1], [MQTT-3.14.1-1], [MQTT-3.15.1-1].
        return Err(DecodeError::InvalidHeaderFlags { packet, flags });
    }
    if version.is_none() && packet != PacketType::Connect {
        // [MQTT-3.1.0-1]: the first packet from a client is CONNECT.
        return Err(DecodeError::ExpectedConnect(packet));
    }
    let allowed = match sender {
        Sender::Any => true,
        Sender::Client => packet.sent_by_client(),
        Sender::Server => packet.sent_by_server(version),
    };
    if !allowed {
        return Err(DecodeError::WrongDirection {
            what: packet.name(),
        });
    }
    Ok(packet)
}
