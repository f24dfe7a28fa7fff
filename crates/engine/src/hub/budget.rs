//! The server-wide budget for queued outbound bytes.
//!
//! Each outbox is bounded (`connection.outboundQueueBytes`, 4 MiB by default), but 10,000 busy
//! connections could still ask for 40 GB. `connection.outboundBudgetBytes` (1 GiB by default,
//! 0 = none) bounds the sum of every session's kept bytes — frames not yet written and frames
//! written but not yet acknowledged (kept for a resume).
//!
//! Accounting: each outbox reports its kept bytes to the node's [`Budget`] once they moved by
//! [`GRANULE`] or more since its last report, and whenever they reach zero (one atomic operation
//! per 4 KiB that a queue grows or shrinks, none per frame), so the total is exact for idle
//! queues and within 4 KiB for each busy one.
//!
//! Policy: a fan-out or a push that finds the total above the budget wakes the node's shedder
//! task (which holds no other lock when it looks at the queues; at most one pass per 10 ms, and
//! after a pass that could not get under the target, twice as long each time up to a second),
//! and it brings the total back under three quarters of the budget, touching only queues that
//! hold at least [`GRANULE`]:
//! 1. the biggest holders of **sent but unacknowledged** frames forget them, biggest first: no
//!    frame is lost on a healthy link, but a resume of those sessions now fails (TooOld), and the
//!    client starts a new session (`isResumed: false`);
//! 2. the biggest **unsent** queues, biggest first, get the slow-consumer treatment: their unsent
//!    frames are dropped and counted, and the connection is closed with 4003, counted in
//!    `stats().slowConsumers` and `stats().budgetEvictions`; a detached session's frames are
//!    dropped (counted in `stats().dropped`) and it can no longer be resumed.
//!
//! Small queues are never touched while a bigger one remains. A pass that cannot get under the
//! target (bytes of sessions that already ended and are draining a graceful close) stops there.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::{Session, Tally};

/// Kept bytes are reported once they moved by this many bytes (or reached zero).
pub const GRANULE: usize = 4 * 1024;

/// The shedder's pause between passes, and the longest it backs off to.
const PASS_INTERVAL: Duration = Duration::from_millis(10);
const MAX_PASS_INTERVAL: Duration = Duration::from_secs(1);

/// The node's outbound budget: bytes kept by every outbox, against the limit.
pub struct Budget {
    limit: usize,
    used: AtomicUsize,
    /// Wakes the shedder task.
    wake: Notify,
    /// The shedder task was started.
    started: AtomicBool,
    /// When the last warning was logged (ms since the epoch): at most one a second.
    warned_ms: AtomicU64,
    /// Connections closed to get back under budget.
    pub evictions: AtomicU64,
    /// Sessions whose sent-but-unacknowledged frames were forgotten to get back under budget.
    pub trims: AtomicU64,
}

impl Budget {
    /// A budget of `limit` bytes; 0 = unlimited (still counted).
    pub fn new(limit: usize) -> Self {
        Budget {
            limit,
            used: AtomicUsize::new(0),
            wake: Notify::new(),
            started: AtomicBool::new(false),
            warned_ms: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            trims: AtomicU64::new(0),
        }
    }

    /// Bytes kept by every outbox now (within a [`GRANULE`] per busy outbox).
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Wakes the shedder if the total is above the budget (cheap when it is not).
    pub(super) fn check(&self) {
        if self.is_over() {
            self.wake.notify_one();
        }
    }

    /// Moves an outbox's report from `before` to `after` bytes.
    pub(super) fn report(&self, before: usize, after: usize) {
        if after > before {
            self.used.fetch_add(after - before, Ordering::Relaxed);
        } else if before > after {
            self.used.fetch_sub(before - after, Ordering::Relaxed);
        }
    }

    /// Whether the total is above the budget.
    pub fn is_over(&self) -> bool {
        self.limit > 0 && self.used() > self.limit
    }

    /// Brings the total back under three quarters of the budget (see the module docs), if it
    /// is over (only the node's shedder task calls it). `sessions` lists the node's sessions;
    /// it is called only when needed.
    pub(super) fn shed(&self, sessions: impl FnOnce() -> Vec<Arc<Session>>, tally: &mut Tally) {
        if !self.is_over() {
            return;
        }
        let target = self.limit / 4 * 3;
        let mut sessions: Vec<(usize, usize, Arc<Session>)> = sessions()
            .into_iter()
            .filter_map(|s| {
                let (unsent, sent) = s.outbox.kept_bytes();
                (unsent + sent >= GRANULE).then_some((unsent, sent, s))
            })
            .collect();
        // 1. Retained frames, biggest first.
        sessions.sort_unstable_by_key(|(_, sent, _)| std::cmp::Reverse(*sent));
        for (_, sent, session) in &sessions {
            if self.used() <= target || *sent < GRANULE {
                break;
            }
            session.outbox.forget_sent();
            self.trims.fetch_add(1, Ordering::Relaxed);
        }
        // 2. Unsent frames, biggest first: slow consumers.
        sessions.sort_unstable_by_key(|(unsent, _, _)| std::cmp::Reverse(*unsent));
        for (unsent, _, session) in &sessions {
            if self.used() <= target || *unsent < GRANULE {
                break;
            }
            let push = session.outbox.evict(self.limit);
            if matches!(push, super::Push::Overflow { .. }) {
                self.evictions.fetch_add(1, Ordering::Relaxed);
            }
            tally.record(session, push);
        }
        let now = crate::time::now_ms();
        if now.saturating_sub(self.warned_ms.swap(now, Ordering::Relaxed)) >= 1000 {
            tracing::warn!(used = self.used(), limit = self.limit, "outbound budget exceeded: shed the biggest queues");
        }
    }
}

impl super::Hub {
    /// Starts the node's shedder task, once, if there is a runtime to run it (the hub of a
    /// server always has one; a hub built in a plain unit test enforces nothing).
    pub(super) fn start_shedder(&self) {
        let budget = &self.shared.budget;
        if budget.limit == 0
            || tokio::runtime::Handle::try_current().is_err()
            || budget.started.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let budget = budget.clone();
        self.spawn_timer(move |hub| async move {
            let mut pause = PASS_INTERVAL;
            loop {
                budget.wake.notified().await;
                let Some(hub) = hub.upgrade() else { return };
                hub.shared.enforce_budget();
                drop(hub);
                // A pass that could not get back under budget (what is left cannot be shed yet:
                // graceful closes draining, small queues) is not repeated at once.
                pause = if budget.is_over() { (pause * 2).min(MAX_PASS_INTERVAL) } else { PASS_INTERVAL };
                tokio::time::sleep(pause).await;
            }
        });
    }
}

impl super::Shared {
    /// Applies the budget's policy if the node is over it. Only the shedder task calls it: it
    /// takes every app's session map and every outbox's lock, so it must hold no other lock.
    pub(super) fn enforce_budget(&self) {
        if !self.budget.is_over() {
            return;
        }
        let mut tally = Tally::default();
        self.budget.shed(|| self.all_sessions(), &mut tally);
        tally.commit(&self.counters);
    }

    /// Every session of the node.
    pub(super) fn all_sessions(&self) -> Vec<Arc<Session>> {
        let apps: Vec<Arc<super::App>> = self.apps.read().values().cloned().collect();
        apps.iter().flat_map(|app| app.sessions.lock().values().cloned().collect::<Vec<_>>()).collect()
    }
}

#[cfg(test)]
mod tests {
    use tokio_tungstenite::tungstenite::Message;

    use super::*;
    use crate::hub::outbox::Batch;
    use crate::hub::{Push, QueueLimits};
    use crate::protocol::{close, SessionKind};

    const KB: usize = 1024;

    fn session(id: u64, budget: &Arc<Budget>) -> Arc<Session> {
        let queue = QueueLimits { unsent: 1024 * KB, retain: 1024 * KB, budget: budget.clone() };
        Arc::new(Session::new(id, "app".into(), format!("u{id}").into(), SessionKind::Rtm, (5, 10), queue))
    }

    fn push(session: &Session, bytes: usize) {
        for _ in 0..bytes / KB {
            assert_eq!(session.outbox.push(Message::Binary(vec![0; KB].into())), Push::Queued);
        }
    }

    /// The writer of connection `conn` writes everything queued (nothing acknowledged yet).
    async fn write_all(session: &Session, conn: u64, ready: &tokio::sync::Notify) {
        while session.outbox.kept_bytes().0 > 0 {
            let mut batch = Batch::default();
            assert!(session.outbox.next_batch(conn, ready, &mut batch).await);
        }
    }

    #[tokio::test]
    async fn every_queued_byte_is_counted_and_given_back() {
        let budget = Arc::new(Budget::new(0));
        let a = session(1, &budget);
        let ready = a.outbox.attach(1, None).unwrap();
        push(&a, 100 * KB);
        assert_eq!(budget.used(), 100 * KB, "reported every 4 KiB");
        push(&a, 3 * KB);
        assert_eq!(budget.used(), 100 * KB, "within a granule of the truth");
        write_all(&a, 1, &ready).await;
        assert_eq!(budget.used(), 100 * KB, "sent but unacknowledged frames still count");
        a.outbox.ack(a.outbox.last_seq());
        assert_eq!(budget.used(), 0);
        push(&a, 40 * KB);
        drop(ready);
        drop(a);
        assert_eq!(budget.used(), 0, "a session that ends gives its bytes back");
        assert!(!budget.is_over(), "0 = no bound");
    }

    #[tokio::test]
    async fn the_biggest_holders_are_shed_first_retained_frames_before_connections() {
        let budget = Arc::new(Budget::new(512 * KB));
        let (writer, big, small) = (session(1, &budget), session(2, &budget), session(3, &budget));
        let writer_ready = writer.outbox.attach(1, None).unwrap();
        let _big_ready = big.outbox.attach(2, None).unwrap();
        let _small_ready = small.outbox.attach(3, None).unwrap();
        push(&writer, 256 * KB);
        write_all(&writer, 1, &writer_ready).await;
        push(&big, 240 * KB);
        push(&small, 64 * KB);
        assert_eq!(budget.used(), 560 * KB);
        let mut tally = Tally::default();
        budget.shed(|| vec![small.clone(), big.clone(), writer.clone()], &mut tally);
        // Forgetting the writer's unacknowledged 256 KiB was enough: nobody was disconnected.
        assert_eq!((budget.used(), budget.trims.load(Ordering::Relaxed)), (304 * KB, 1));
        assert_eq!(writer.outbox.kept_bytes(), (0, 0));
        assert!(big.outbox.closing().is_none() && tally.slow.is_empty());

        push(&big, 240 * KB);
        assert!(budget.is_over());
        let mut tally = Tally::default();
        budget.shed(|| vec![small.clone(), big.clone(), writer.clone()], &mut tally);
        // Then the biggest unsent queue, and only it.
        let closing = big.outbox.closing().expect("the biggest queue is closed");
        assert_eq!(closing.code, close::SLOW_CONSUMER);
        assert!(closing.reason.contains("outbound budget"), "{}", closing.reason);
        assert!(small.outbox.closing().is_none());
        assert_eq!((tally.slow.len(), tally.dropped), (1, 480));
        assert_eq!((budget.used(), budget.evictions.load(Ordering::Relaxed)), (64 * KB, 1));
    }

    #[tokio::test]
    async fn a_detached_session_over_budget_can_no_longer_be_resumed() {
        let budget = Arc::new(Budget::new(128 * KB));
        let away = session(1, &budget);
        push(&away, 160 * KB);
        let mut tally = Tally::default();
        budget.shed(|| vec![away.clone()], &mut tally);
        assert_eq!((tally.dropped, tally.slow.len(), budget.used()), (160, 0, 0));
        assert_eq!(away.outbox.push(Message::Binary(vec![0; KB].into())), Push::Lost { dropped: 1 });
        assert_eq!(budget.used(), 0, "nothing more is kept for a session that cannot be resumed");
        assert!(away.outbox.attach(2, Some(0)).is_err(), "frames were lost: no exact resume");
    }
}
