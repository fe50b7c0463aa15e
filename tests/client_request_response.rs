//! MQTT 5 request/response and the properties that travel with messages: response
//! topic and correlation data both ways, Response Information from CONNACK,
//! Subscription Identifiers and User Properties on delivery, expiry surfaced.

mod peer;
use bytes::Bytes;
use mqtt_sansio::*;
use peer::*;

const V5: ProtocolVersion = ProtocolVersion::V5;

#[test]
fn response_topic_and_correlation_data_go_out_with_a_publish() {
    let mut p = Peer::connected(V5);
    let mut request = message("svc/req", b"ping", QoS::AtLeastOnce);
    request.properties.response_topic = Some(topic("svc/resp/7"));
    request.properties.correlation_data = Some(Bytes::from_static(b"\x00\x07"));
    request
        .properties
        .user_properties
        .push(s("trace"), s("abc"));
    p.publish(request);
    let sent = publishes(&p.sent());
    assert_eq!(sent.len(), 1);
    let props = &sent[0].properties;
    assert_eq!(props.response_topic, Some(topic("svc/resp/7")));
    assert_eq!(
        props.correlation_data,
        Some(Bytes::from_static(b"\x00\x07"))
    );
    assert_eq!(props.user_properties.get("trace"), Some("abc"));
}

#[test]
fn a_delivered_message_carries_its_properties() {
    let mut p = Peer::connected(V5);
    let mut incoming = publish("svc/req", b"ping", QosPid::AtMostOnce);
    incoming.properties.response_topic = Some(topic("svc/resp/9"));
    incoming.properties.correlation_data = Some(Bytes::from_static(b"id-9"));
    incoming.properties.message_expiry_interval = Some(30);
    incoming
        .properties
        .subscription_identifiers
        .push(SubscriptionId::new(42).unwrap());
    incoming.properties.user_properties.push(s("k"), s("v"));
    p.send(incoming);
    let got = messages(&p.events());
    assert_eq!(got.len(), 1);
    let props = &got[0].properties;
    assert_eq!(props.response_topic, Some(topic("svc/resp/9")));
    assert_eq!(props.correlation_data, Some(Bytes::from_static(b"id-9")));
    assert_eq!(props.message_expiry_interval, Some(30));
    assert_eq!(
        props.subscription_identifiers.iter().collect::<Vec<_>>(),
        vec![SubscriptionId::new(42).unwrap()]
    );
    assert_eq!(props.user_properties.get("k"), Some("v"));
}

#[test]
fn response_information_is_asked_for_and_exposed() {
    let mut p = Peer::configured(V5, |c| c.request_response_information = true);
    let connect = p.open();
    assert_eq!(connect.properties.request_response_information, Some(true));
    let mut props = ConnAckProperties::new();
    props.response_information = Some(s("responses/client-1"));
    p.send(connack_with_props(props));
    match p.events().as_slice() {
        [Event::Connected(c)] => assert_eq!(
            c.properties.response_information,
            Some(s("responses/client-1"))
        ),
        other => panic!("{other:?}"),
    }
}
