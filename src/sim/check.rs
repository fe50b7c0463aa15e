//! The record of a simulated run and the invariants checked over it.

use crate::client::{Event, PublishId, SubscribeId};
use crate::codec::Subscription;
use crate::time::Instant;
use crate::topic::{TopicFilter, TopicName};
use crate::types::QoS;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

#[derive(Debug)]
struct Sent {
    publisher: usize,
    topic: TopicName,
    payload: Bytes,
    qos: QoS,
    at: Instant,
    completions: usize,
    ok: bool,
    /// Order among this publisher's messages.
    seq: usize,
}

#[derive(Debug, Default)]
struct Receiver {
    /// Granted subscriptions: filter, granted QoS, since when.
    subscriptions: Vec<(TopicFilter, QoS, Instant)>,
    /// When the client's session was lost (its own SessionLost, or a broker restart
    /// without sessions).
    losses: Vec<Instant>,
    /// Every delivery: payload, QoS and time, in order.
    deliveries: Vec<(Bytes, QoS, Instant)>,
    /// Subscribe commands not yet answered, with their filters.
    pending_subscribes: BTreeMap<SubscribeId, Vec<Subscription>>,
}

impl Receiver {
    /// True when a subscription matching `sent` with QoS 1 or 2 stood when it was
    /// published and the session was not lost from then until `until` (the end of the
    /// run when `None`).
    fn subscribed_before(&self, sent: &Sent, until: Option<Instant>) -> bool {
        self.subscriptions.iter().any(|(filter, granted, since)| {
            *granted != QoS::AtMostOnce
                && filter.matches(&sent.topic)
                && *since <= sent.at
                && !self
                    .losses
                    .iter()
                    .any(|&lost| *since < lost && until.is_none_or(|u| lost <= u))
        })
    }
}

/// What happened in a run, for the checks.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    sent: BTreeMap<(usize, PublishId), Sent>,
    by_payload: BTreeMap<Bytes, (usize, PublishId)>,
    receivers: BTreeMap<usize, Receiver>,
    published_count: BTreeMap<usize, usize>,
    subscribe_completions: BTreeMap<(usize, SubscribeId), usize>,
    /// When any session was lost: a lost session may legitimately repeat a message
    /// (the Restore policy sends what was in flight again as new) or reorder.
    losses: Vec<Instant>,
    violations: Vec<String>,
}

impl Ledger {
    pub(crate) fn published(
        &mut self,
        publisher: usize,
        id: PublishId,
        (topic, payload, qos): (TopicName, Bytes, QoS),
        at: Instant,
    ) {
        let seq = self.published_count.entry(publisher).or_insert(0);
        *seq += 1;
        self.by_payload.insert(payload.clone(), (publisher, id));
        self.sent.insert(
            (publisher, id),
            Sent {
                publisher,
                topic,
                payload,
                qos,
                at,
                completions: 0,
                ok: false,
                seq: *seq,
            },
        );
    }

    pub(crate) fn subscribed(
        &mut self,
        client: usize,
        id: SubscribeId,
        filters: Vec<Subscription>,
    ) {
        self.subscribe_completions.insert((client, id), 0);
        self.receivers
            .entry(client)
            .or_default()
            .pending_subscribes
            .insert(id, filters);
    }

    /// A broker restart without sessions at `now`: every client's session is gone.
    pub(crate) fn lost_all(&mut self, now: Instant) {
        for receiver in self.receivers.values_mut() {
            receiver.losses.push(now);
        }
        self.losses.push(now);
    }

    /// True when a session was lost in `(from, to]`.
    fn loss_between(&self, from: Instant, to: Instant) -> bool {
        self.losses.iter().any(|&t| from < t && t <= to)
    }

    pub(crate) fn violation(&mut self, what: String) {
        if self.violations.len() < 100 {
            self.violations.push(what);
        }
    }

    pub(crate) fn client_event(&mut self, client: usize, event: &Event, now: Instant) {
        match event {
            Event::Published { id, result, .. } => match self.sent.get_mut(&(client, *id)) {
                Some(sent) => {
                    sent.completions += 1;
                    sent.ok = result.is_ok();
                    if sent.completions > 1 {
                        let what = format!("publish {id:?} of client {client} completed twice");
                        self.violation(what);
                    }
                }
                None => self.violation(format!("unknown publish {id:?} completed")),
            },
            Event::Subscribed { id, results, .. } => {
                let count = self.subscribe_completions.entry((client, *id)).or_insert(0);
                *count += 1;
                if *count > 1 {
                    self.violation(format!(
                        "subscribe {id:?} of client {client} completed twice"
                    ));
                }
                let receiver = self.receivers.entry(client).or_default();
                if let Some(filters) = receiver.pending_subscribes.remove(id) {
                    for (s, code) in filters.iter().zip(results) {
                        if let Some(qos) = code.granted_qos() {
                            receiver.subscriptions.push((s.filter.clone(), qos, now));
                        }
                    }
                }
            }
            Event::Resubscribed { results } => {
                let receiver = self.receivers.entry(client).or_default();
                for (filter, code) in results {
                    if let Some(qos) = code.granted_qos() {
                        receiver.subscriptions.push((filter.clone(), qos, now));
                    }
                }
            }
            Event::SessionLost { .. } => {
                let receiver = self.receivers.entry(client).or_default();
                receiver.losses.push(now);
                self.losses.push(now);
            }
            Event::Message(message) => {
                let receiver = self.receivers.entry(client).or_default();
                receiver
                    .deliveries
                    .push((message.payload.clone(), message.qos, now));
            }
            _ => {}
        }
    }

    /// Every command completed (at least once).
    pub(crate) fn all_completed(&self) -> bool {
        self.sent.values().all(|s| s.completions > 0)
            && self.subscribe_completions.values().all(|&c| c > 0)
    }

    pub(crate) fn delivered(&self, client: usize) -> Vec<Bytes> {
        self.receivers
            .get(&client)
            .map(|r| r.deliveries.iter().map(|(p, _, _)| p.clone()).collect())
            .unwrap_or_default()
    }

    /// The invariants, after the run settled: every command completed exactly once;
    /// every QoS 1 message delivered at least once and every QoS 2 message exactly once
    /// to every subscriber whose subscription stood before it was published and whose
    /// session was not lost since; QoS 0 at most once; first deliveries in publishing
    /// order per publisher and topic for QoS >= 1.
    pub(crate) fn check(&self, clients: usize) -> Result<(), String> {
        let mut problems = self.violations.clone();
        for sent in self.sent.values() {
            if sent.completions != 1 {
                problems.push(format!(
                    "publish {:?} of client {} completed {} times",
                    String::from_utf8_lossy(&sent.payload),
                    sent.publisher,
                    sent.completions
                ));
            }
        }
        for ((client, id), count) in &self.subscribe_completions {
            if *count != 1 {
                problems.push(format!(
                    "subscribe {id:?} of client {client} completed {count} times"
                ));
            }
        }
        for client in 0..clients {
            let Some(receiver) = self.receivers.get(&client) else {
                continue;
            };
            // First delivery time and highest QoS per payload; repeats at QoS 0 or 2
            // are faults unless a session was lost in between.
            let mut first: BTreeMap<&Bytes, (Instant, QoS)> = BTreeMap::new();
            for (payload, qos, at) in &receiver.deliveries {
                match first.get(payload) {
                    None => {
                        first.insert(payload, (*at, *qos));
                    }
                    Some(&(first_at, first_qos)) => {
                        let exactly = first_qos.max(*qos) == QoS::ExactlyOnce
                            || (first_qos, *qos) == (QoS::AtMostOnce, QoS::AtMostOnce);
                        if exactly && !self.loss_between(first_at, *at) {
                            problems.push(format!(
                                "client {client} got {:?} twice at {qos:?}",
                                String::from_utf8_lossy(payload)
                            ));
                        }
                    }
                }
            }
            for sent in self.sent.values() {
                if !sent.ok || sent.qos == QoS::AtMostOnce {
                    continue;
                }
                let required = receiver.subscribed_before(sent, None);
                if required && !first.contains_key(&sent.payload) {
                    problems.push(format!(
                        "client {client} never got {:?} ({:?} on {})",
                        String::from_utf8_lossy(&sent.payload),
                        sent.qos,
                        sent.topic.as_str()
                    ));
                }
            }
            // Order of first deliveries per publisher and topic, between losses.
            let mut last: BTreeMap<(usize, &str), usize> = BTreeMap::new();
            let mut seen: BTreeMap<&Bytes, ()> = BTreeMap::new();
            let mut previous_at = Instant::ZERO;
            for (payload, qos, at) in &receiver.deliveries {
                if self.loss_between(previous_at, *at) {
                    last.clear();
                }
                previous_at = *at;
                if seen.insert(payload, ()).is_some() || *qos == QoS::AtMostOnce {
                    continue;
                }
                let Some(sent) = self.by_payload.get(payload).and_then(|k| self.sent.get(k)) else {
                    continue;
                };
                // Only messages whose subscription stood, unbroken, from their publishing
                // to this delivery: one that missed it reached the subscriber through a
                // re-send, which the broker received after later messages.
                if !receiver.subscribed_before(sent, Some(*at)) {
                    continue;
                }
                let key = (sent.publisher, sent.topic.as_str());
                if last.get(&key).is_some_and(|&previous| sent.seq < previous) {
                    problems.push(format!(
                        "client {client} got {:?} after a later message of its publisher on that topic",
                        String::from_utf8_lossy(payload)
                    ));
                }
                last.insert(key, sent.seq);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }
}
