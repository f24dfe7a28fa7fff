//! A node's counters, the stats snapshot `server.stats()` returns, and the tally one fan-out
//! keeps before adding it to the counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;

use super::outbox::Push;
use super::Session;

/// Counters of a node; read with [`Hub::stats`].
#[derive(Default)]
pub struct Counters {
    pub connections: AtomicU64,
    pub messages_in: AtomicU64,
    pub messages_out: AtomicU64,
    pub dropped: AtomicU64,
    pub slow_consumers: AtomicU64,
    pub bad_frames: AtomicU64,
    pub realtime_dropped: AtomicU64,
    /// Frames dropped from queues that overflowed (`dropped` less the realtime datagrams),
    /// counted apart so that the metric never goes down between two reads.
    pub queue_dropped: AtomicU64,
}

/// A snapshot of a node's state and counters (`server.stats()`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Open WebSocket connections.
    pub connections: u64,
    /// Sessions (logged-in users).
    pub users: u64,
    /// Message channels with at least one subscriber.
    pub channels: u64,
    pub stream_channels: u64,
    pub rooms: u64,
    /// Publishes accepted.
    pub messages_in: u64,
    /// Frames delivered into subscribers' queues by fan-out.
    pub messages_out: u64,
    /// Frames dropped (slow consumers' queues, best-effort datagrams).
    pub dropped: u64,
    /// Connections closed because they could not keep up.
    pub slow_consumers: u64,
    /// Client frames that could not be decoded.
    pub bad_frames: u64,
    /// Realtime datagrams dropped for congested receivers (best effort, counted).
    pub realtime_dropped: u64,
    /// Bytes queued for every session now (unsent, and sent but not acknowledged), within 4 KiB
    /// per busy queue, against `connection.outboundBudgetBytes`.
    pub outbound_bytes: u64,
    /// Connections closed (also counted in `slow_consumers`) because the node's queues together
    /// passed `connection.outboundBudgetBytes`: the biggest queues go first.
    pub budget_evictions: u64,
    /// Frames dropped from overflowing queues (for `/metrics`; `dropped` includes them).
    #[serde(skip)]
    pub queue_dropped: u64,
    /// Sessions whose unacknowledged frames the budget forgot (their next resume starts anew;
    /// for `/metrics`).
    #[serde(skip)]
    pub budget_trims: u64,
}

/// What one fan-out did: how many got the frame, how many frames were dropped, and who
/// turned out to be a slow consumer. Counted into the node's counters once per fan-out.
#[derive(Default)]
pub struct Tally {
    pub delivered: u64,
    pub dropped: u64,
    pub realtime_dropped: u64,
    pub queue_dropped: u64,
    pub slow: Vec<Arc<Session>>,
}

impl Tally {
    pub fn record(&mut self, session: &Arc<Session>, push: Push) {
        match push {
            Push::Queued => self.delivered += 1,
            Push::Overflow { dropped } => {
                self.dropped += dropped as u64;
                self.queue_dropped += dropped as u64;
                self.slow.push(session.clone());
            }
            Push::Lost { dropped } => {
                self.dropped += dropped as u64;
                self.queue_dropped += dropped as u64;
            }
            Push::Dropped => {
                self.dropped += 1;
                self.realtime_dropped += 1;
            }
            Push::Closed => {}
        }
    }

    pub(super) fn commit(self, counters: &Counters) {
        counters.messages_out.fetch_add(self.delivered, Ordering::Relaxed);
        counters.dropped.fetch_add(self.dropped, Ordering::Relaxed);
        counters.realtime_dropped.fetch_add(self.realtime_dropped, Ordering::Relaxed);
        counters.queue_dropped.fetch_add(self.queue_dropped, Ordering::Relaxed);
        counters.slow_consumers.fetch_add(self.slow.len() as u64, Ordering::Relaxed);
        for session in self.slow {
            tracing::warn!(?session, "slow consumer: outbound queue overflowed, closing its connection");
        }
    }
}
