//! The hub: every session, channel and subscription of a server node, and the operations on
//! them. Operations are synchronous and hold locks only briefly (never across `.await`); the
//! connection tasks call them and push the answers into the session's outbox.
//!
//! Locking order, to stay deadlock-free: app registry → app sessions → app channels →
//! channel members → session state → outbox.

pub mod api;
mod budget;
mod channel;
mod cluster;
#[cfg(test)]
mod events_tests;
mod frames;
mod hooks;
pub mod latency;
mod locks;
pub mod outbox;
pub mod presence;
pub(crate) mod rate;
mod realtime;
mod recovery;
pub mod room;
pub mod roster;
pub mod session;
mod stats;
mod stop;
mod storage;
mod stream;
mod token;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

pub use self::channel::{ChannelResponse, MessageChannel};
use self::outbox::{Push, ResumeGap};
use self::presence::PresenceEventType;
use self::rate::TokenBucket;
pub use self::session::{Claim, QueueLimits, Session};
pub use self::stats::{Counters, Stats, Tally};
pub use self::storage::{channel_kind as lock_channel, target as storage_target};
pub use self::stream::{StreamChannel, TopicEvent, TopicInfo, MAX_TOPIC_META_BYTES};
use crate::broker::{Broker, Delivery, DeliveryHandler, MemoryBroker, Route};
use crate::cluster::{Cluster, ClusterEvents};
use crate::config::ServerConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::names;
use crate::protocol::{
    close, server, ChannelType, ClientFrame, Hello, Inbound, LeaveReason, SessionKind, PROTOCOL_VERSION,
};
use crate::time::now_ms;

/// What a publish rate applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RateKey {
    Channel,
    User,
    Stream,
}

/// Rate buckets by channel (or user-channel target), pruned when they are full again.
#[derive(Default)]
struct RateTable {
    buckets: HashMap<(RateKey, Arc<str>), TokenBucket>,
    prune_at: usize,
}

impl RateTable {
    fn try_take(&mut self, kind: RateKey, name: &Arc<str>, rate: u32) -> bool {
        if rate == 0 {
            return true;
        }
        if self.buckets.len() >= self.prune_at.max(1024) {
            // Drop idle buckets (a bucket that refilled completely is the same as a new one).
            self.buckets.retain(|_, b| !b.is_full());
            self.prune_at = self.buckets.len() * 2;
        }
        self.buckets.entry((kind, name.clone())).or_insert_with(|| TokenBucket::new(rate)).try_take()
    }
}

/// Sessions of an app by kind, user id and — for TRTC, where one user may run several
/// instances — session id (0 for RTM, which has one session per user).
type SessionKey = (SessionKind, Arc<str>, u64);
type SessionMap = HashMap<SessionKey, Arc<Session>>;

fn session_key(kind: SessionKind, user: Arc<str>, id: u64) -> SessionKey {
    match kind {
        SessionKind::Rtm => (kind, user, 0),
        SessionKind::Trtc => (kind, user, id),
    }
}

/// One app's world. Apps never see each other's sessions or channels.
pub struct App {
    pub id: Arc<str>,
    sessions: Mutex<SessionMap>,
    channels: RwLock<HashMap<Arc<str>, Arc<MessageChannel>>>,
    streams: RwLock<HashMap<Arc<str>, Arc<StreamChannel>>>,
    scopes: Mutex<realtime::Scopes>,
    rooms: Mutex<room::Rooms>,
    rates: Mutex<RateTable>,
    /// Local subscribers of users' metadata, by user.
    meta_watchers: Mutex<HashMap<Arc<str>, Vec<Arc<Session>>>>,
}

impl App {
    fn new(id: Arc<str>) -> Self {
        App {
            id,
            sessions: Mutex::new(HashMap::new()),
            channels: RwLock::new(HashMap::new()),
            streams: RwLock::new(HashMap::new()),
            scopes: Mutex::new(HashMap::new()),
            rooms: Mutex::new(room::Rooms::default()),
            rates: Mutex::new(RateTable::default()),
            meta_watchers: Mutex::new(HashMap::new()),
        }
    }

    /// The RTM session of `user`, if online.
    pub fn rtm_session(&self, user: &str) -> Option<Arc<Session>> {
        self.sessions.lock().get(&session_key(SessionKind::Rtm, Arc::from(user), 0)).cloned()
    }
}

struct Shared {
    config: Arc<ServerConfig>,
    authority: crate::auth::Authority,
    apps: RwLock<HashMap<Arc<str>, Arc<App>>>,
    counters: Counters,
    broker: Arc<dyn Broker>,
    next_session: AtomicU64,
    /// Cluster mode: the other nodes (the broker is then this cluster too).
    cluster: Option<Arc<Cluster>>,
    cluster_events: std::sync::OnceLock<Arc<cluster::HubEvents>>,
    /// Fired by [`Hub::stop`]: ends the hub's timers.
    stop: stop::Stop,
    /// Metadata, locks and history (in memory, a database file, or Redis).
    storage: Arc<crate::store::Storage>,
    /// `acquireLock { retry }` queues, and what wakes them.
    lock_waiters: Mutex<locks::LockWaiters>,
    lock_changed: Arc<tokio::sync::Notify>,
    /// Per channel: orders this node's metadata and lock writes (with their events) against
    /// the SNAPSHOTs of new `withMetadata` / `withLock` members (see `hub::storage`).
    channel_order: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Bytes queued for every session, against `connection.outboundBudgetBytes`.
    budget: Arc<budget::Budget>,
    /// Publish receipt to socket write, sampled (`hub::latency`).
    latency: latency::Latency,
    /// Where events are POSTed, when configured (see `hub::hooks`).
    webhooks: std::sync::OnceLock<Arc<crate::webhook::Webhooks>>,
}

/// The state of a node. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

/// Why a session ended, for logs, close frames and the presence event others get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The client logged out: REMOTE_LEAVE at once.
    Logout,
    /// No connection came back within the presence timeout: REMOTE_TIMEOUT.
    Timeout,
    /// The client came back but the session could not be resumed exactly.
    ResumeFailed,
    /// The same user id logged in again (SAME_UID_LOGIN).
    Replaced,
    /// The same user id logged in on another node (SAME_UID_LOGIN): the user is still there, so
    /// nobody is told it left.
    Moved,
    ServerShutdown,
    /// The login token lapsed unrenewed (close 4007).
    TokenExpired,
}

/// A session opened for a `hello`: new, or resumed.
pub struct Opened {
    pub session: Arc<Session>,
    pub resumed: bool,
    /// Wakes this connection's writer.
    pub ready: Arc<tokio::sync::Notify>,
}

/// The `ok` frame answering request `id`.
fn reply(id: Option<u64>, response: &impl Serialize) -> Option<Message> {
    Some(server::ok(id.unwrap_or(0), response))
}

#[derive(Serialize)]
struct TimestampResponse {
    timestamp: u64,
}

impl Hub {
    /// A hub with the in-memory broker and storage in memory.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Self::with_broker(config, Arc::new(MemoryBroker::new()))
    }

    /// A hub alone, with its storage in `store`.
    pub fn with_store(config: Arc<ServerConfig>, store: Arc<dyn crate::store::Store>) -> Self {
        Self::build(config, Arc::new(MemoryBroker::new()), None, store)
    }

    /// A hub in cluster mode: fan-out, presence and rooms are shared through `cluster`, storage
    /// through `store` (Redis).
    pub fn with_cluster(config: Arc<ServerConfig>, cluster: Arc<Cluster>, store: Arc<dyn crate::store::Store>) -> Self {
        let hub = Self::build(config, cluster.clone(), Some(cluster.clone()), store);
        let events = Arc::new(cluster::HubEvents(Arc::downgrade(&hub.shared)));
        let weak: std::sync::Weak<dyn ClusterEvents> = Arc::downgrade(&events) as _;
        let _ = hub.shared.cluster_events.set(events);
        cluster.start(weak);
        hub
    }

    pub fn with_broker(config: Arc<ServerConfig>, broker: Arc<dyn Broker>) -> Self {
        Self::build(config, broker, None, Arc::new(crate::store::MemoryStore::new()))
    }

    fn build(
        config: Arc<ServerConfig>,
        broker: Arc<dyn Broker>,
        cluster: Option<Arc<Cluster>>,
        store: Arc<dyn crate::store::Store>,
    ) -> Self {
        // What one storage event or history page may weigh: it must fit a connection's queue.
        let mut limits = config.storage.clone();
        let half_queue = config.connection.outbound_queue_bytes / 2;
        limits.max_metadata_bytes = limits.max_metadata_bytes.min(half_queue);
        limits.history_page_bytes = limits.history_page_bytes.min(half_queue);
        let storage = Arc::new(crate::store::Storage::new(store, limits));
        let authority = crate::auth::Authority::new(
            config.apps.iter().map(|(id, app)| (id.clone(), app.certificate.clone())).collect(),
        );
        let budget = Arc::new(budget::Budget::new(config.connection.outbound_budget_bytes));
        let shared = Arc::new(Shared {
            budget,
            authority,
            config,
            apps: RwLock::new(HashMap::new()),
            counters: Counters::default(),
            broker,
            next_session: AtomicU64::new(1),
            cluster,
            cluster_events: std::sync::OnceLock::new(),
            stop: stop::Stop::default(),
            storage,
            lock_waiters: Mutex::new(locks::LockWaiters::default()),
            webhooks: std::sync::OnceLock::new(),
            latency: latency::Latency::default(),
            lock_changed: Arc::new(tokio::sync::Notify::new()),
            channel_order: Mutex::new(HashMap::new()),
        });
        let handler: std::sync::Weak<dyn DeliveryHandler> = Arc::downgrade(&shared) as _;
        shared.broker.set_handler(handler);
        Hub { shared }
    }

    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    /// Metadata, locks and history.
    pub fn storage(&self) -> &Arc<crate::store::Storage> {
        &self.shared.storage
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

    /// The app of a live session.
    fn session_app(&self, session: &Session) -> Result<Arc<App>> {
        self.app(&session.app).ok_or_else(|| Error::new(ErrorCode::NotLogin, "session has ended"))
    }

    fn app_or_create(&self, id: &str) -> Arc<App> {
        if let Some(app) = self.app(id) {
            return app;
        }
        let mut apps = self.shared.apps.write();
        apps.entry(Arc::from(id)).or_insert_with(|| Arc::new(App::new(Arc::from(id)))).clone()
    }

    /// Checks a `hello` and opens its session for connection `conn`: resumes the session it
    /// names when that is possible, otherwise starts a new one. A session of the same user id
    /// (and kind) in the same app is replaced: it is closed with SAME_UID_LOGIN.
    pub fn open_session(&self, hello: &Hello, conn: u64) -> Result<Opened> {
        if hello.v != PROTOCOL_VERSION {
            return Err(Error::new(
                ErrorCode::ServiceNotSupported,
                format!("protocol version {} is not supported; this server speaks {PROTOCOL_VERSION}", hello.v),
            ));
        }
        names::app_id(&hello.app_id)?;
        names::user_id(&hello.user_id)?;
        if !(1..=1800).contains(&hello.heartbeat) {
            return Err(Error::invalid(format!("heartbeat {} is outside 1..=1800 seconds", hello.heartbeat)));
        }
        let server_default = hello.kind == SessionKind::Trtc && hello.presence_timeout == 0;
        if !server_default && !(1..=300).contains(&hello.presence_timeout) {
            return Err(Error::invalid(format!(
                "presenceTimeout {} is outside 1..=300 seconds",
                hello.presence_timeout
            )));
        }
        let verified = self.verify_hello(hello)?;
        let app = self.app_or_create(&hello.app_id);
        let user = Arc::<str>::from(hello.user_id.as_str());
        if let Some(resume) = &hello.resume {
            let resume_id = resume.session.parse::<u64>().unwrap_or(0);
            let existing = app.sessions.lock().get(&session_key(hello.kind, user.clone(), resume_id)).cloned();
            match existing {
                Some(session) if session.id.to_string() == resume.session && session.resume_secret == resume.secret => {
                    match session.outbox.attach(conn, Some(resume.received)) {
                        Ok(ready) => {
                            let resumed = {
                                let mut state = session.state.lock();
                                state.detached = false;
                                state.detach_generation += 1;
                                !state.ended
                            };
                            if resumed {
                                tracing::info!(?session, "session resumed");
                                self.grant_login(&session, verified);
                                return Ok(Opened { session, resumed: true, ready });
                            }
                        }
                        Err(gap) => {
                            tracing::info!(?session, ?gap, "session cannot be resumed; starting a new one");
                            let reason = match gap {
                                ResumeGap::Lost | ResumeGap::TooOld { .. } => EndReason::ResumeFailed,
                            };
                            self.end_session(&session, reason);
                        }
                    }
                }
                _ => tracing::debug!(user = %hello.user_id, "no session to resume; starting a new one"),
            }
        }
        let connection = &self.shared.config.connection;
        // A TRTC client may leave the drop timeout to the server (presenceTimeout 0).
        let presence_timeout = match (hello.kind, hello.presence_timeout) {
            (SessionKind::Trtc, 0) => self.shared.config.rooms.drop_timeout_seconds,
            (_, t) => t,
        };
        let session = Arc::new(Session::new(
            self.shared.next_session.fetch_add(1, Ordering::Relaxed),
            app.id.clone(),
            user.clone(),
            hello.kind,
            (hello.heartbeat, presence_timeout),
            QueueLimits {
                unsent: connection.outbound_queue_bytes,
                retain: connection.resume_buffer_bytes,
                budget: self.shared.budget.clone(),
            },
        ));
        let ready = session.outbox.attach(conn, None).expect("a new outbox accepts its first connection");
        self.start_shedder();
        let key = session_key(hello.kind, user, session.id);
        let replaced = {
            let mut sessions = app.sessions.lock();
            // User-channel messages for an RTM user reach its session here (in a cluster they come
            // to this node's own channel: the route subscribes nothing).
            let route = || Route::User { app: app.id.clone(), user: session.user.clone() };
            self.broker().join_group(route, || {
                let replaced = sessions.insert(key, session.clone());
                let first = hello.kind == SessionKind::Rtm && replaced.is_none();
                (replaced, first)
            })
        };
        if let Some(old) = replaced {
            tracing::info!(app = %app.id, user = %old.user, "same user id logged in again; closing the older session");
            self.end_session(&old, EndReason::Replaced);
        }
        self.grant_login(&session, verified);
        self.dir_online(&session, true);
        self.replace_elsewhere(&session);
        tracing::debug!(?session, "session opened");
        self.hook_login(&session);
        session.state.lock().opened = true;
        Ok(Opened { session, resumed: false, ready })
    }

    /// Connection `conn` of a session is gone. If it was the attached one, the session stays
    /// (a member everywhere, queueing frames) for its presence timeout, then ends with
    /// REMOTE_TIMEOUT unless a client resumed it meanwhile.
    pub fn detach(&self, session: &Arc<Session>, conn: u64) {
        if !session.outbox.detach(conn) {
            return;
        }
        let generation = {
            let mut state = session.state.lock();
            if state.ended {
                return;
            }
            state.detached = true;
            state.detach_generation += 1;
            state.detach_generation
        };
        let timeout = std::time::Duration::from_secs(session.presence_timeout_secs as u64);
        tracing::debug!(?session, ?timeout, "session detached");
        self.locks_on_detach(session, generation);
        let session = Arc::downgrade(session);
        self.spawn_timer(move |hub| async move {
            tokio::time::sleep(timeout).await;
            let (Some(hub), Some(session)) = (hub.upgrade(), session.upgrade()) else { return };
            let expired = {
                let state = session.state.lock();
                state.detached && state.detach_generation == generation && !state.ended
            };
            if expired {
                tracing::info!(?session, "presence timeout: session ended");
                hub.end_session(&session, EndReason::Timeout);
            }
        });
    }

    /// Removes a session from everything it joined. Idempotent.
    pub fn end_session(&self, session: &Arc<Session>, reason: EndReason) {
        let (channels, streams, scopes, room) = {
            let mut state = session.state.lock();
            if state.ended {
                return;
            }
            state.ended = true;
            state.moved = reason == EndReason::Moved;
            let channels: Vec<Arc<str>> = state.channels.drain().map(|(name, _)| name).collect();
            let streams: Vec<Arc<str>> = state.streams.drain().collect();
            let scopes: Vec<Arc<str>> = state.rare_mut().map(|r| r.scopes.drain().collect()).unwrap_or_default();
            (channels, streams, scopes, state.room.clone())
        };
        if let Some(app) = self.app(&session.app) {
            let how = match reason {
                EndReason::Timeout => PresenceEventType::RemoteTimeout,
                _ => PresenceEventType::RemoteLeave,
            };
            for channel in channels {
                self.leave_channel(&app, &channel, session, how);
            }
            for stream in streams {
                self.leave_stream_channel(&app, &stream, session, how);
            }
            for scope in scopes {
                self.leave_scope(&app, &scope, session);
            }
            if let Some(room) = room {
                let reason = match reason {
                    EndReason::Timeout | EndReason::ResumeFailed => LeaveReason::TimedOut,
                    _ => LeaveReason::Left,
                };
                self.leave_room(&app, &room, session, reason);
            }
            self.storage_session_ended(&app, session, reason);
            let mut sessions = app.sessions.lock();
            let key = session_key(session.kind, session.user.clone(), session.id);
            let route = || Route::User { app: app.id.clone(), user: session.user.clone() };
            self.broker().leave_group(route, || {
                let mine = sessions.get(&key).is_some_and(|s| s.id == session.id);
                let removed = if mine { sessions.remove(&key) } else { None };
                // Only an RTM session has a user route.
                removed.filter(|s| s.kind == SessionKind::Rtm)
            });
        }
        self.dir_online(session, false);
        match reason {
            EndReason::Replaced | EndReason::Moved => session
                .outbox
                .close(close::REPLACED, "SAME_UID_LOGIN: the same user id logged in from another connection"),
            EndReason::ServerShutdown => session.outbox.close(close::GOING_AWAY, "server shutting down"),
            EndReason::Logout => session.outbox.close(close::NORMAL, "logged out"),
            EndReason::Timeout | EndReason::ResumeFailed => session.outbox.close(close::NORMAL, "session ended"),
            EndReason::TokenExpired => {
                session.outbox.close(close::TOKEN_EXPIRED, "TOKEN_EXPIRED: the login token expired and was not renewed")
            }
        }
        tracing::debug!(?session, ?reason, "session ended");
        self.hook_session_end(session, reason);
    }

    /// Pushes a frame into a session's outbox, counting overflows.
    pub fn push(&self, session: &Arc<Session>, frame: Message) -> Push {
        let outcome = session.outbox.push(frame);
        if !matches!(outcome, Push::Queued) {
            let mut tally = Tally::default();
            tally.record(session, outcome);
            tally.delivered = 0;
            tally.commit(&self.shared.counters);
        }
        self.shared.budget.check();
        outcome
    }

    /// Handles one request frame of a session: pushes its answer, then any events that follow
    /// from it (e.g. the SNAPSHOT after a join). `hello`, `ping` and `logout` belong to the
    /// connection and are not handled here.
    pub fn handle(&self, session: &Arc<Session>, inbound: Inbound) {
        let Inbound { frame, payload } = inbound;
        let id = frame.id();
        if let Some(id) = id {
            // Exactly once: a repeated id is answered from memory, never run again.
            match session.claim_request(id) {
                session::Claim::New => {}
                session::Claim::Answered(answer) => {
                    self.push(session, answer);
                    return;
                }
                session::Claim::Pending => return,
                session::Claim::Stale { last } => {
                    let error = Error::invalid(format!(
                        "request id {id} is not above the last one ({last}) and its answer is no longer kept: \
                         request ids must increase within a session"
                    ));
                    self.push(session, server::err(Some(id), &error));
                    return;
                }
            }
        }
        let payload = payload.unwrap_or_default();
        if let Err(e) = self.check_cluster(&frame) {
            let answer = server::err(id, &e);
            if let Some(id) = id {
                session.remember_answer(id, &answer);
            }
            self.push(session, answer);
            return;
        }
        if storage::is_storage(&frame) {
            self.queue_storage(session, storage::StorageJob::Request { id, frame });
            return;
        }
        // withPresence: its SNAPSHOT follows a successful subscribe or join.
        let mut presence = match &frame {
            ClientFrame::Subscribe(f) if f.with_presence => Some((ChannelType::Message, f.channel.clone())),
            ClientFrame::Join(f) if f.with_presence => Some((ChannelType::Stream, f.channel.clone())),
            _ => None,
        };
        // withMetadata / withLock: their SNAPSHOTs follow a successful subscribe or join.
        let snapshot = |channel_type, channel: &String, metadata, locks| {
            let channel = channel.clone();
            (metadata || locks).then_some(storage::StorageJob::Snapshot { channel_type, channel, metadata, locks })
        };
        let mut snapshot = match &frame {
            ClientFrame::Subscribe(f) => snapshot(ChannelType::Message, &f.channel, f.with_metadata, f.with_lock),
            ClientFrame::Join(f) => snapshot(ChannelType::Stream, &f.channel, f.with_metadata, f.with_lock),
            _ => None,
        };
        let mut after = Vec::new();
        let result: Result<Option<Message>> = match frame {
            ClientFrame::Subscribe(f) => self
                .subscribe(session, f)
                .map(|(r, recovering)| self.answer_subscribe(session, id, r, recovering, &mut presence, &mut snapshot)),
            ClientFrame::Unsubscribe(f) => self.unsubscribe(session, f).map(|r| reply(id, &r)),
            ClientFrame::Publish(f) if f.store_in_history => self.publish_and_keep(session, id, f, payload),
            ClientFrame::Publish(f) => self.publish(session, f, payload).map(|(r, _)| reply(id, &r)),
            ClientFrame::Join(f) => self.join_stream(session, f, &mut after).map(|r| reply(id, &r)),
            ClientFrame::Leave(f) => self.leave_stream(session, f).map(|r| reply(id, &r)),
            ClientFrame::JoinTopic(f) => self.join_topic(session, f).map(|r| reply(id, &r)),
            ClientFrame::LeaveTopic(f) => self.leave_topic(session, f).map(|r| reply(id, &r)),
            ClientFrame::PublishTopic(f) => self.publish_topic(session, f, payload).map(|r| reply(id, &r)),
            ClientFrame::SubscribeTopic(f) => self.subscribe_topic(session, f).map(|r| reply(id, &r)),
            ClientFrame::UnsubscribeTopic(f) => self.unsubscribe_topic(session, f).map(|r| reply(id, &r)),
            ClientFrame::RealtimeJoin(f) => self.realtime_join(session, f).map(|r| reply(id, &r)),
            ClientFrame::RealtimeLeave(f) => self.realtime_leave(session, f).map(|r| reply(id, &r)),
            ClientFrame::RealtimeSend(f) => self.realtime_send(session, f, payload).map(|()| None),
            ClientFrame::WhoNow(f) => self.who_now(session, f).map(|r| reply(id, &r)),
            ClientFrame::WhereNow(f) => self.where_now(session, f).map(|r| reply(id, &r)),
            ClientFrame::SetState(f) => self.set_state(session, f).map(|r| reply(id, &r)),
            ClientFrame::GetState(f) => self.get_state(session, f).map(|r| reply(id, &r)),
            ClientFrame::RemoveState(f) => self.remove_state(session, f).map(|r| reply(id, &r)),
            ClientFrame::EnterRoom(f) => self.enter_room(session, f).map(|r| reply(id, &r)),
            ClientFrame::ExitRoom(f) => self.exit_room(session, f).map(|r| reply(id, &r)),
            ClientFrame::SwitchRole(f) => self.switch_role(session, f).map(|r| reply(id, &r)),
            ClientFrame::SwitchRoom(f) => self.switch_room(session, f).map(|r| reply(id, &r)),
            ClientFrame::CustomCmd(f) => self.custom_cmd(session, f, payload).map(|()| None),
            ClientFrame::RenewToken(f) => self.renew_token(session, f).map(|r| reply(id, &r)),
            ClientFrame::Logout(_) => Ok(reply(id, &TimestampResponse { timestamp: now_ms() })),
            ClientFrame::Hello(_) | ClientFrame::Ping(_) => Err(Error::invalid("hello and ping are not requests")),
            other => Err(Error::invalid(format!("{} is not handled here", other.op()))),
        };
        match result {
            Ok(answer) => {
                if let Some(answer) = answer {
                    if let Some(id) = id {
                        session.remember_answer(id, &answer);
                    }
                    self.push(session, answer);
                }
                if let Some((channel_type, channel)) = presence {
                    self.presence_snapshot(session, channel_type, &channel);
                }
                for frame in after {
                    self.push(session, frame);
                }
                if let Some(job) = snapshot {
                    self.queue_storage(session, job);
                }
            }
            Err(e) => {
                let answer = server::err(id, &e);
                if let Some(id) = id {
                    session.remember_answer(id, &answer);
                }
                self.push(session, answer);
            }
        }
    }

    /// A snapshot of the node's state and counters.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        let (mut users, mut channels, mut streams, mut rooms) = (0, 0, 0, 0);
        for app in self.shared.apps.read().values() {
            users += app.sessions.lock().len() as u64;
            channels += app.channels.read().len() as u64;
            streams += app.streams.read().len() as u64;
            rooms += Self::room_count(app) as u64;
        }
        Stats {
            connections: c.connections.load(Ordering::Relaxed),
            users,
            channels,
            stream_channels: streams,
            rooms,
            messages_in: c.messages_in.load(Ordering::Relaxed),
            messages_out: c.messages_out.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            slow_consumers: c.slow_consumers.load(Ordering::Relaxed),
            bad_frames: c.bad_frames.load(Ordering::Relaxed),
            realtime_dropped: c.realtime_dropped.load(Ordering::Relaxed),
            outbound_bytes: self.shared.budget.used() as u64,
            budget_evictions: self.shared.budget.evictions.load(Ordering::Relaxed),
            queue_dropped: c.queue_dropped.load(Ordering::Relaxed),
            budget_trims: self.shared.budget.trims.load(Ordering::Relaxed),
        }
    }

    /// A write carried a frame of a publish received at `receipt` (`hub::latency`).
    pub fn observe_delivery(&self, receipt: u64) {
        self.shared.latency.observe(receipt);
    }

    /// The delivery latency histogram now (for `/metrics`).
    pub fn delivery_latency(&self) -> latency::LatencySnapshot {
        self.shared.latency.snapshot()
    }

    /// Every open session (for shutdown).
    pub fn sessions(&self) -> Vec<Arc<Session>> {
        self.shared.all_sessions()
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
        let app_id = match &delivery.route {
            Route::Channel { app, .. }
            | Route::Stream { app, .. }
            | Route::User { app, .. }
            | Route::Realtime { app, .. }
            | Route::UserMeta { app, .. }
            | Route::Room { app, .. } => app,
        };
        let Some(app) = shared.apps.read().get(app_id).cloned() else { return };
        let mut tally = Tally::default();
        match &delivery.route {
            Route::Channel { channel, .. } => {
                let Some(channel) = app.channels.read().get(channel).cloned() else { return };
                let roster = channel.roster.read();
                roster.deliver(&delivery.frame, &delivery.audience, delivery.skip.as_deref(), &mut tally);
            }
            Route::Stream { channel, .. } => {
                let Some(stream) = app.streams.read().get(channel).cloned() else { return };
                stream.deliver(delivery, &mut tally);
            }
            Route::User { user, .. } => {
                let Some(session) = app.rtm_session(user) else { return };
                tally.record(&session, session.outbox.push(delivery.frame.clone()));
            }
            Route::Realtime { scope, .. } => {
                let members = app.scopes.lock().get(scope).cloned().unwrap_or_default();
                realtime::deliver(&members, delivery, &mut tally);
            }
            Route::UserMeta { user, .. } => {
                let watchers = app.meta_watchers.lock().get(user).cloned().unwrap_or_default();
                for session in watchers {
                    tally.record(&session, session.outbox.push(delivery.frame.clone()));
                }
            }
            Route::Room { room, .. } => {
                let Some(room) = Hub::room(&app, room) else { return };
                room.deliver(delivery, delivery.audience == crate::broker::Audience::BestEffort, &mut tally);
            }
        }
        tally.commit(&shared.counters);
        shared.budget.check();
    }
}

/// A budget for malformed frames: a burst of `burst`, refilled at one per second. A client
/// that keeps sending garbage is disconnected instead of costing the server error frames.
pub struct BadFrameBudget {
    bucket: TokenBucket,
}

impl BadFrameBudget {
    pub fn new(burst: u32) -> Self {
        BadFrameBudget { bucket: TokenBucket::with_burst(1, burst) }
    }

    /// Spends one; false once the budget is exhausted.
    pub fn spend(&mut self) -> bool {
        self.bucket.try_take()
    }
}
