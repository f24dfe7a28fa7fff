//! The hub: every session, channel and subscription of a server node, and the operations on
//! them. Operations are synchronous and hold locks only briefly (never across `.await`); the
//! connection tasks call them and push the answers into the session's outbox.
//!
//! Locking order, to stay deadlock-free: app registry → app sessions → app channels →
//! channel members → session state → outbox.

mod channel;
pub mod outbox;
mod rate;
pub mod session;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

pub use self::channel::MessageChannel;
use self::outbox::Push;
use self::rate::TokenBucket;
pub use self::session::{Session, SubOptions};
use crate::broker::{Broker, Delivery, DeliveryHandler, MemoryBroker, Route};
use crate::config::ServerConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::names;
use crate::protocol::{close, codec, ClientFrame, Hello, Inbound, SessionKind, PROTOCOL_VERSION};
use crate::time::now_ms;

/// Counters of a node; read with [`Hub::stats`].
#[derive(Default)]
pub struct Counters {
    pub connections: AtomicU64,
    pub messages_in: AtomicU64,
    pub messages_out: AtomicU64,
    pub dropped: AtomicU64,
    pub slow_consumers: AtomicU64,
    pub bad_frames: AtomicU64,
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
}

/// Rate buckets by channel (or user-channel target), pruned when they are full again.
#[derive(Default)]
struct RateTable {
    buckets: HashMap<(bool, Arc<str>), TokenBucket>,
    prune_at: usize,
}

impl RateTable {
    fn try_take(&mut self, user_channel: bool, name: &Arc<str>, rate: u32) -> bool {
        if rate == 0 {
            return true;
        }
        if self.buckets.len() >= self.prune_at.max(1024) {
            // Drop idle buckets (a bucket that refilled completely is the same as a new one).
            self.buckets.retain(|_, b| !b.is_full());
            self.prune_at = self.buckets.len() * 2;
        }
        self.buckets
            .entry((user_channel, name.clone()))
            .or_insert_with(|| TokenBucket::new(rate))
            .try_take()
    }
}

/// Sessions of an app by kind and user id.
type SessionMap = HashMap<(SessionKind, Arc<str>), Arc<Session>>;

/// One app's world. Apps never see each other's sessions or channels.
pub struct App {
    pub id: Arc<str>,
    sessions: Mutex<SessionMap>,
    channels: RwLock<HashMap<Arc<str>, Arc<MessageChannel>>>,
    rates: Mutex<RateTable>,
}

impl App {
    fn new(id: Arc<str>) -> Self {
        App {
            id,
            sessions: Mutex::new(HashMap::new()),
            channels: RwLock::new(HashMap::new()),
            rates: Mutex::new(RateTable::default()),
        }
    }

    /// The RTM session of `user`, if online.
    pub fn rtm_session(&self, user: &str) -> Option<Arc<Session>> {
        self.sessions
            .lock()
            .get(&(SessionKind::Rtm, Arc::from(user)))
            .cloned()
    }
}

struct Shared {
    config: Arc<ServerConfig>,
    apps: RwLock<HashMap<Arc<str>, Arc<App>>>,
    counters: Counters,
    broker: Arc<dyn Broker>,
    next_session: AtomicU64,
}

/// The state of a node. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

/// Why a session ended, for logs and close frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Logout,
    ConnectionLost,
    Replaced,
    ServerShutdown,
}

#[derive(Serialize)]
struct TimestampResponse {
    timestamp: u64,
}

impl Hub {
    /// A hub with the in-memory broker.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Self::with_broker(config, Arc::new(MemoryBroker::new()))
    }

    pub fn with_broker(config: Arc<ServerConfig>, broker: Arc<dyn Broker>) -> Self {
        let shared = Arc::new(Shared {
            config,
            apps: RwLock::new(HashMap::new()),
            counters: Counters::default(),
            broker,
            next_session: AtomicU64::new(1),
        });
        let handler: std::sync::Weak<dyn DeliveryHandler> = Arc::downgrade(&shared) as _;
        shared.broker.set_handler(handler);
        Hub { shared }
    }

    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    fn broker(&self) -> &dyn Broker {
        &*self.shared.broker
    }

    fn app(&self, id: &str) -> Option<Arc<App>> {
        self.shared.apps.read().get(id).cloned()
    }

    fn app_or_create(&self, id: &str) -> Arc<App> {
        if let Some(app) = self.app(id) {
            return app;
        }
        let mut apps = self.shared.apps.write();
        apps.entry(Arc::from(id))
            .or_insert_with(|| Arc::new(App::new(Arc::from(id))))
            .clone()
    }

    /// Checks a `hello` and opens its session. A session of the same user id (and kind) in the
    /// same app is replaced: it is closed with SAME_UID_LOGIN.
    pub fn open_session(&self, hello: &Hello) -> Result<Arc<Session>> {
        if hello.v != PROTOCOL_VERSION {
            return Err(Error::new(
                ErrorCode::ServiceNotSupported,
                format!(
                    "protocol version {} is not supported; this server speaks {PROTOCOL_VERSION}",
                    hello.v
                ),
            ));
        }
        names::app_id(&hello.app_id)?;
        names::user_id(&hello.user_id)?;
        if !(1..=1800).contains(&hello.heartbeat) {
            return Err(Error::invalid(format!(
                "heartbeat {} is outside 1..=1800 seconds",
                hello.heartbeat
            )));
        }
        if !(1..=300).contains(&hello.presence_timeout) {
            return Err(Error::invalid(format!(
                "presenceTimeout {} is outside 1..=300 seconds",
                hello.presence_timeout
            )));
        }
        let app = self.app_or_create(&hello.app_id);
        let config = &self.shared.config;
        let session = Arc::new(Session::new(
            self.shared.next_session.fetch_add(1, Ordering::Relaxed),
            app.id.clone(),
            Arc::from(hello.user_id.as_str()),
            hello.kind,
            (hello.heartbeat, hello.presence_timeout),
            config.connection.outbound_queue_bytes,
            config.limits.publish_rate_per_channel,
        ));
        let replaced = app
            .sessions
            .lock()
            .insert((hello.kind, session.user.clone()), session.clone());
        if let Some(old) = replaced {
            tracing::info!(app = %app.id, user = %old.user, "same user id logged in again; closing the older session");
            self.end_session(&old, EndReason::Replaced);
        }
        tracing::debug!(?session, "session opened");
        Ok(session)
    }

    /// Removes a session from everything it joined. Idempotent.
    pub fn end_session(&self, session: &Arc<Session>, reason: EndReason) {
        let channels: Vec<Arc<str>> = {
            let mut state = session.state.lock();
            if state.ended {
                return;
            }
            state.ended = true;
            state.channels.drain().map(|(name, _)| name).collect()
        };
        if let Some(app) = self.app(&session.app) {
            for channel in channels {
                self.leave_channel(&app, &channel, session);
            }
            let mut sessions = app.sessions.lock();
            let key = (session.kind, session.user.clone());
            if sessions.get(&key).is_some_and(|s| s.id == session.id) {
                sessions.remove(&key);
            }
        }
        match reason {
            EndReason::Replaced => session.outbox.close(
                close::REPLACED,
                "SAME_UID_LOGIN: the same user id logged in from another connection",
            ),
            EndReason::ServerShutdown => session
                .outbox
                .close(close::GOING_AWAY, "server shutting down"),
            EndReason::Logout => session.outbox.close(close::NORMAL, "logged out"),
            EndReason::ConnectionLost => session.outbox.close(close::NORMAL, "connection lost"),
        }
        tracing::debug!(?session, ?reason, "session ended");
    }

    /// Pushes a frame into a session's outbox, counting overflows.
    pub fn push(&self, session: &Session, frame: Message) -> Push {
        let outcome = session.outbox.push(frame);
        if let Push::Overflow { dropped } = outcome {
            let c = &self.shared.counters;
            c.slow_consumers.fetch_add(1, Ordering::Relaxed);
            c.dropped.fetch_add(dropped as u64, Ordering::Relaxed);
            tracing::warn!(
                ?session,
                dropped,
                "slow consumer: outbound queue overflowed, closing its connection"
            );
        }
        outcome
    }

    /// Handles one request frame of a session and returns the answer frame. `hello`, `ping`
    /// and `logout` belong to the connection and are not handled here.
    pub fn handle(&self, session: &Arc<Session>, inbound: Inbound) -> Message {
        let Inbound { frame, payload } = inbound;
        let id = frame.id().unwrap_or(0);
        let result = match frame {
            ClientFrame::Subscribe(f) => self.subscribe(session, f).map(|r| codec::ok(id, &r)),
            ClientFrame::Unsubscribe(f) => self.unsubscribe(session, f).map(|r| codec::ok(id, &r)),
            ClientFrame::Publish(f) => self
                .publish(session, f, payload.unwrap_or_default())
                .map(|r| codec::ok(id, &r)),
            ClientFrame::Logout(_) => Ok(codec::ok(
                id,
                &TimestampResponse {
                    timestamp: now_ms(),
                },
            )),
            ClientFrame::Hello(_) | ClientFrame::Ping(_) => {
                Err(Error::invalid("hello and ping are not requests"))
            }
        };
        result.unwrap_or_else(|e| codec::err(Some(id), &e))
    }

    /// A snapshot of the node's state and counters.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        let (mut users, mut channels) = (0, 0);
        for app in self.shared.apps.read().values() {
            users += app.sessions.lock().len() as u64;
            channels += app.channels.read().len() as u64;
        }
        Stats {
            connections: c.connections.load(Ordering::Relaxed),
            users,
            channels,
            stream_channels: 0,
            rooms: 0,
            messages_in: c.messages_in.load(Ordering::Relaxed),
            messages_out: c.messages_out.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            slow_consumers: c.slow_consumers.load(Ordering::Relaxed),
            bad_frames: c.bad_frames.load(Ordering::Relaxed),
        }
    }

    /// Every open session (for shutdown).
    pub fn sessions(&self) -> Vec<Arc<Session>> {
        let apps: Vec<Arc<App>> = self.shared.apps.read().values().cloned().collect();
        apps.iter()
            .flat_map(|app| app.sessions.lock().values().cloned().collect::<Vec<_>>())
            .collect()
    }
}

impl DeliveryHandler for Shared {
    fn deliver(&self, delivery: &Delivery) {
        let hub = HubRef(self);
        hub.deliver(delivery);
    }
}

/// The hub seen from the broker's side (it only holds the shared state).
struct HubRef<'a>(&'a Shared);

impl HubRef<'_> {
    fn deliver(&self, delivery: &Delivery) {
        let shared = self.0;
        let (app, delivered) = match &delivery.route {
            Route::Channel { app, channel } => {
                let Some(app) = shared.apps.read().get(app).cloned() else {
                    return;
                };
                let channel = app.channels.read().get(channel).cloned();
                let Some(channel) = channel else { return };
                let mut overflows = Vec::new();
                let n = channel.fan_out(&delivery.frame, &mut overflows);
                (overflows, n)
            }
            Route::User { app, user } => {
                let Some(app) = shared.apps.read().get(app).cloned() else {
                    return;
                };
                let Some(session) = app.rtm_session(user) else {
                    return;
                };
                match session.outbox.push(delivery.frame.clone()) {
                    Push::Queued => (Vec::new(), 1),
                    Push::Overflow { dropped } => (vec![(session, dropped)], 0),
                    _ => (Vec::new(), 0),
                }
            }
        };
        let c = &shared.counters;
        c.messages_out
            .fetch_add(delivered as u64, Ordering::Relaxed);
        for (session, dropped) in app {
            c.slow_consumers.fetch_add(1, Ordering::Relaxed);
            c.dropped.fetch_add(dropped as u64, Ordering::Relaxed);
            tracing::warn!(
                ?session,
                dropped,
                "slow consumer: outbound queue overflowed, closing its connection"
            );
        }
    }
}

/// A budget for malformed frames: a burst of `burst`, refilled at one per second. A client
/// that keeps sending garbage is disconnected instead of costing the server error frames.
pub struct BadFrameBudget {
    bucket: TokenBucket,
}

impl BadFrameBudget {
    pub fn new(burst: u32) -> Self {
        BadFrameBudget {
            bucket: TokenBucket::with_burst(1, burst),
        }
    }

    /// Spends one; false once the budget is exhausted.
    pub fn spend(&mut self) -> bool {
        self.bucket.try_take()
    }
}
