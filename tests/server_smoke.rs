//! The harness works: connect, accept, PINGREQ.
mod server_peer;
use mqtt_sansio::*;
use server_peer::*;

#[test]
fn a_connected_client_gets_pingresp() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut peer = ClientPeer::connected(ServerConfig::default(), version);
        peer.send(Packet::PingReq);
        assert_eq!(peer.received(), vec![Packet::PingResp]);
    }
}
