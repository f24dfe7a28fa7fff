//! The Rust client the addon wraps (and that tests and the benchmark use directly).
//!
//! Calls are synchronous and cheap: they validate their arguments (a bad call is refused
//! before anything is sent), register the request, queue its frame, and return. The answer
//! arrives later as [`ClientEvent::Response`] through the [`EventSink`] (or through a oneshot
//! channel for Rust callers, see [`Client::call`]). This keeps the JavaScript thread's cost per
//! call to one native call, and lets answers cross into JS in the same batches as events.
//!
//! A supervisor task per login owns the connection ([`link`]): it connects (trying each
//! endpoint in turn, with capped exponential backoff and jitter), says hello, runs a reader and
//! a writer, sends heartbeats, and reconnects when the link drops. A reconnect first tries to
//! *resume* the session (nothing lost, nobody notices); when that is impossible it starts a new
//! session and rebuilds it from what the client remembers ([`memory`]).

mod checks;
mod config;
pub mod crypto;
mod events;
mod link;
mod memory;
mod ops;
mod restore;
pub mod room;
mod storage;
pub(crate) mod transport;
pub mod trtc;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::value::RawValue;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

pub use self::config::{ClientConfig, Encryption};
use self::crypto::Cipher;
pub use self::events::{
    ChannelSink, ClientEvent, EventKind, EventSink, LinkOperation, LinkReason, LinkState, LinkStateEvent, Payload,
};
use self::memory::{Memory, PresenceViews};
pub use self::ops::{CustomMessage, JoinOptions, WhoNowOptions};
use self::restore::Restoring;
pub use self::storage::{LockAction, MetadataOf};
use crate::error::{Error, ErrorCode, Result};
use crate::names;
pub use crate::protocol::SubscribeOptions;
use crate::protocol::{encode_binary, ChannelType, ClientFrame, Logout, MessageType, Publish, Subscribe, Unsubscribe};
pub use crate::store::{MetaItem, MetaMode, MetaOptions};
use crate::time::now_ms;

/// Where the answer to a request goes.
#[derive(Debug)]
pub enum Route {
    /// To the sink, as `ClientEvent::Response { tag, .. }`.
    Tag(u64),
    /// To a Rust caller waiting on a oneshot channel.
    Oneshot(oneshot::Sender<Result<Box<RawValue>>>),
    /// Nowhere.
    Ignore,
}

/// `publish` options (RTM `PublishOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishOptions {
    pub custom_type: String,
    pub channel_type: ChannelType,
    /// Keep the message in the channel's history (`storeInHistory`).
    pub store_in_history: bool,
}

/// The timeout of a request that may wait as long as it takes (a year).
const WAIT_FOREVER: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

/// What a pending request is.
#[derive(Debug)]
pub(crate) enum Op {
    Login,
    Logout,
    /// A request; `track` is kept when its success changes what the client remembers.
    Request {
        name: &'static str,
        track: Option<Box<ClientFrame>>,
    },
    /// A request rebuilding a new session after a reconnect that could not resume.
    Restore {
        channel: String,
        track: Box<ClientFrame>,
    },
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Login => "login",
            Op::Logout => "logout",
            Op::Request { name, .. } => name,
            Op::Restore { track, .. } => track.op(),
        }
    }

    /// The code a request of this kind fails with when no answer comes in time.
    fn timeout_code(&self) -> ErrorCode {
        match self.name() {
            "login" => ErrorCode::LoginTimeout,
            "subscribe" => ErrorCode::ChannelSubscribeTimeout,
            "publish" | "publishTopic" => ErrorCode::ChannelPublishMessageTimeout,
            "join" => ErrorCode::ChannelJoinFailed,
            "whoNow" | "whereNow" | "setState" | "getState" | "removeState" => ErrorCode::PresenceOperationTimeout,
            _ => ErrorCode::NotConnected,
        }
    }
}

pub(crate) struct Pending {
    route: Route,
    deadline: Instant,
    op: Op,
    /// The frame as sent, to send again after a resume if the server never saw it.
    frame: Option<Message>,
    /// The link epoch the request was submitted in.
    epoch: u64,
}

/// Where the client is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Idle,
    LoggingIn,
    LoggedIn,
    LoggingOut,
}

/// A session the client can ask to resume.
#[derive(Debug, Clone)]
pub(crate) struct SessionTicket {
    id: String,
    secret: String,
}

pub(crate) struct State {
    phase: Phase,
    link: LinkState,
    /// Incremented per login; a supervisor of an older generation stops.
    generation: u64,
    /// Incremented each time the link drops.
    epoch: u64,
    next_id: u64,
    pending: HashMap<u64, Pending>,
    /// Frames for the writer of the current link.
    outgoing: VecDeque<Message>,
    memory: Memory,
    views: PresenceViews,
    session: Option<SessionTicket>,
    restoring: Option<Restoring>,
    /// Whether a link is up now.
    connected: bool,
    /// Frames without an answer sent while the link is down (bounded, see
    /// `ClientConfig::max_held_unanswered`), and how many were dropped since it went down.
    held: VecDeque<Message>,
    held_dropped: u64,
    max_message_bytes: usize,
    max_realtime_bytes: usize,
    token: Option<crate::secret::Secret>,
}

pub(crate) struct Inner {
    config: ClientConfig,
    sink: Arc<dyn EventSink>,
    state: Mutex<State>,
    /// Data frames received in the current session (acknowledged with each ping; a resume
    /// continues after them).
    received: AtomicU64,
    /// Wakes the writer of the current link.
    outgoing_ready: Notify,
    /// Datagrams and custom messages dropped while the link was down, since the client started.
    held_dropped_total: std::sync::atomic::AtomicU64,
    /// Wakes the supervisor when it must stop (logout).
    stop: Notify,
    /// End-to-end encryption of payloads, when configured.
    cipher: Option<Cipher>,
    /// TLS settings for `wss://` endpoints.
    tls: Arc<rustls::ClientConfig>,
}

/// A client. Cheap to clone; every clone is the same client.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Client {
    /// Creates a client (validating the config); nothing connects until [`Client::login`].
    pub fn new(config: ClientConfig, sink: Arc<dyn EventSink>) -> Result<Client> {
        config.validate()?;
        let cipher = match &config.encryption {
            Some(e) => Some(Cipher::new(e.mode, e.cipher_key.expose(), &e.salt)?),
            None => None,
        };
        let tls = transport::tls_config(config.ca_certificates.as_deref())?;
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                sink,
                state: Mutex::new(State {
                    phase: Phase::Idle,
                    link: LinkState::Idle,
                    generation: 0,
                    epoch: 0,
                    next_id: 1,
                    pending: HashMap::new(),
                    outgoing: VecDeque::new(),
                    held: VecDeque::new(),
                    held_dropped: 0,
                    memory: Memory::default(),
                    views: PresenceViews::default(),
                    session: None,
                    restoring: None,
                    connected: false,
                    max_message_bytes: 32 * 1024,
                    max_realtime_bytes: 128_000,
                    token: None,
                }),
                received: AtomicU64::new(0),
                outgoing_ready: Notify::new(),
                held_dropped_total: std::sync::atomic::AtomicU64::new(0),
                stop: Notify::new(),
                cipher,
                tls,
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The current link state.
    /// Realtime datagrams and custom messages dropped because more than
    /// `max_held_unanswered` were sent while the link was down (oldest first), since start.
    pub fn held_dropped(&self) -> u64 {
        self.inner.held_dropped_total.load(Ordering::Relaxed)
    }

    pub fn link_state(&self) -> LinkState {
        self.inner.state.lock().link
    }

    /// Whether the client is logged in (or logging in, or reconnecting).
    pub fn is_active(&self) -> bool {
        self.inner.state.lock().phase != Phase::Idle
    }

    /// Starts logging in; the answer comes to `route`. Must run inside a tokio runtime.
    pub fn login(&self, route: Route, token: Option<String>) -> Result<()> {
        let generation = {
            let mut state = self.inner.state.lock();
            if state.phase != Phase::Idle {
                return Err(Error::new(ErrorCode::DuplicateOperation, "already logged in or logging in"));
            }
            state.phase = Phase::LoggingIn;
            state.generation += 1;
            state.token = token.filter(|t| !t.is_empty()).map(crate::secret::Secret::new);
            state.session = None;
            let deadline = Instant::now() + self.inner.config.login_timeout;
            let epoch = state.epoch;
            // Login's answer is keyed by id 0: it is not a wire request.
            state.pending.insert(0, Pending { route, deadline, op: Op::Login, frame: None, epoch });
            state.generation
        };
        tokio::spawn(link::supervise(self.inner.clone(), generation));
        Ok(())
    }

    /// Logs out: the server drops the session (others see the user leave at once), the link
    /// closes, and the client returns to IDLE. Resolves even when not logged in.
    pub fn logout(&self, route: Route) {
        let mut state = self.inner.state.lock();
        let epoch = state.epoch;
        match state.phase {
            Phase::Idle => {
                drop(state);
                self.inner.answer(route, Ok(timestamp_response()));
            }
            Phase::LoggingOut => {
                let id = state.take_id();
                let deadline = Instant::now() + self.inner.config.request_timeout;
                state.pending.insert(id, Pending { route, deadline, op: Op::Logout, frame: None, epoch });
            }
            Phase::LoggingIn | Phase::LoggedIn => {
                state.phase = Phase::LoggingOut;
                let id = state.take_id();
                if state.connected {
                    let deadline = Instant::now() + std::time::Duration::from_secs(2);
                    state.pending.insert(id, Pending { route, deadline, op: Op::Logout, frame: None, epoch });
                    state.outgoing.push_back(text_frame(&ClientFrame::Logout(Logout { id })));
                    drop(state);
                    self.inner.outgoing_ready.notify_one();
                } else {
                    let deadline = Instant::now();
                    state.pending.insert(id, Pending { route, deadline, op: Op::Logout, frame: None, epoch });
                    drop(state);
                    self.inner.finish_logout();
                }
            }
        }
    }

    /// RTM `subscribe`.
    pub fn subscribe(&self, route: Route, channel: &str, options: SubscribeOptions) -> Result<()> {
        names::channel(channel)?;
        let frame = ClientFrame::Subscribe(Subscribe::new(channel.to_string(), options));
        self.inner.submit_frame(route, frame, None)
    }

    /// RTM `unsubscribe`.
    pub fn unsubscribe(&self, route: Route, channel: &str) -> Result<()> {
        names::channel(channel)?;
        let frame = ClientFrame::Unsubscribe(Unsubscribe { id: 0, channel: channel.to_string() });
        self.inner.submit_frame(route, frame, None)
    }

    /// RTM `publish` to a message channel or (channelType USER) to a user.
    pub fn publish(&self, route: Route, channel: &str, payload: Payload, options: PublishOptions) -> Result<()> {
        match options.channel_type {
            ChannelType::Message => names::channel(channel)?,
            ChannelType::User => names::user_id(channel)?,
            ChannelType::Stream => {
                return Err(Error::new(
                    ErrorCode::InvalidChannelType,
                    "publish takes channelType MESSAGE or USER; stream channels use publishTopicMessage",
                ))
            }
        }
        names::custom_type(&options.custom_type)?;
        let max = self.inner.state.lock().max_message_bytes;
        let message_type = match payload {
            Payload::Text(_) => MessageType::String,
            Payload::Binary(_) => MessageType::Binary,
        };
        let sealed = self.inner.cipher.as_ref().map(|c| c.seal(payload.as_bytes()));
        let bytes = sealed.as_deref().unwrap_or(payload.as_bytes());
        if bytes.len() > max {
            return Err(Error::new(
                ErrorCode::ChannelMessageLengthExceedLimitation,
                format!(
                    "message is {} bytes{}; at most {max} are allowed",
                    bytes.len(),
                    if sealed.is_some() { " encrypted" } else { "" }
                ),
            ));
        }
        self.inner.submit(route, Op::Request { name: "publish", track: None }, |id| {
            let header = Publish {
                id,
                channel: channel.to_string(),
                channel_type: options.channel_type,
                message_type,
                custom_type: options.custom_type.clone(),
                data: None,
                encrypted: sealed.is_some(),
                store_in_history: options.store_in_history,
            };
            Message::Binary(encode_binary(&ClientFrame::Publish(header), bytes))
        })
    }

    /// Sends any request frame (its `id` is assigned here). Arguments are checked before
    /// anything is sent; `payload` goes with `publish`, `publishTopic` and `realtimeSend`.
    pub fn request(&self, route: Route, mut frame: ClientFrame, payload: Option<Payload>) -> Result<()> {
        let (max_message, max_realtime) = {
            let state = self.inner.state.lock();
            (state.max_message_bytes, state.max_realtime_bytes)
        };
        // Topic messages and realtime data are sealed here; `publish` seals its own.
        let payload = match (&mut frame, &self.inner.cipher, payload) {
            (ClientFrame::PublishTopic(f), Some(cipher), Some(p)) => {
                f.encrypted = true;
                f.message_type = match p {
                    Payload::Text(_) => MessageType::String,
                    Payload::Binary(_) => MessageType::Binary,
                };
                Some(Payload::Binary(Bytes::from(cipher.seal(p.as_bytes()))))
            }
            (ClientFrame::RealtimeSend(f), Some(cipher), Some(p)) => {
                f.encrypted = true;
                Some(Payload::Binary(Bytes::from(cipher.seal(p.as_bytes()))))
            }
            (_, _, payload) => payload,
        };
        checks::check_request(&frame, payload.as_ref(), max_message, max_realtime)?;
        match frame {
            ClientFrame::Publish(f) => {
                let options = PublishOptions {
                    custom_type: f.custom_type,
                    channel_type: f.channel_type,
                    store_in_history: f.store_in_history,
                };
                self.publish(route, &f.channel, payload.unwrap_or(Payload::Text(String::new())), options)
            }
            ClientFrame::Logout(_) => {
                self.logout(route);
                Ok(())
            }
            ClientFrame::Hello(_) | ClientFrame::Ping(_) => {
                Err(Error::invalid("hello and ping are sent by the client itself"))
            }
            ClientFrame::RealtimeSend(f) => {
                let bytes = payload.map(|p| p.as_bytes().to_vec()).unwrap_or_default();
                self.inner.send_unanswered(
                    "realtimeSend",
                    Message::Binary(encode_binary(&ClientFrame::RealtimeSend(f), &bytes)),
                )
            }
            ClientFrame::CustomCmd(mut f) => {
                let payload = payload.unwrap_or(Payload::Text(String::new()));
                f.message_type = match payload {
                    Payload::Text(_) => MessageType::String,
                    Payload::Binary(_) => MessageType::Binary,
                };
                let frame = Message::Binary(encode_binary(&ClientFrame::CustomCmd(f), payload.as_bytes()));
                self.inner.send_unanswered("customCmd", frame)
            }
            other => self.inner.submit_frame(route, other, payload),
        }
    }

    /// Runs a call and waits for its answer (for Rust callers).
    pub async fn call(&self, f: impl FnOnce(&Client, Route) -> Result<()>) -> Result<Box<RawValue>> {
        let (tx, rx) = oneshot::channel();
        f(self, Route::Oneshot(tx))?;
        rx.await.unwrap_or_else(|_| Err(Error::new(ErrorCode::NotConnected, "client dropped the request")))
    }
}

fn text_frame(value: &impl serde::Serialize) -> Message {
    Message::Text(Utf8Bytes::from(serde_json::to_string(value).expect("requests serialize")))
}

fn timestamp_response() -> Box<RawValue> {
    RawValue::from_string(format!(r#"{{"timestamp":{}}}"#, now_ms())).expect("valid JSON")
}

/// Encodes a request frame (with its payload, if any).
/// Identifies a queued frame: the address of its buffer, which its clones share (the copy in
/// `pending` and the one in `outgoing`).
fn frame_key(message: &Message) -> usize {
    match message {
        Message::Text(t) => t.as_str().as_ptr() as usize,
        Message::Binary(b) => b.as_ptr() as usize,
        _ => 0,
    }
}

fn encode_request(frame: &ClientFrame, payload: Option<&[u8]>) -> Message {
    match payload {
        Some(bytes) => Message::Binary(encode_binary(frame, bytes)),
        None => text_frame(frame),
    }
}

/// `{"code","name","reason"}` of an error, as an event body.
fn error_json(error: &Error) -> Box<RawValue> {
    let value = serde_json::json!({ "code": error.code.code(), "name": error.code.name(), "reason": error.reason });
    serde_json::value::to_raw_value(&value).expect("valid JSON")
}

impl State {
    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}

impl Inner {
    /// Registers a request frame (tracking it when it changes what the client remembers).
    fn submit_frame(&self, route: Route, mut frame: ClientFrame, payload: Option<Payload>) -> Result<()> {
        if let (ClientFrame::PublishTopic(f), Some(p)) = (&mut frame, &payload) {
            if !f.encrypted {
                f.message_type = match p {
                    Payload::Text(_) => MessageType::String,
                    Payload::Binary(_) => MessageType::Binary,
                };
            }
            f.data = None;
        }
        let track = Memory::tracks(&frame).then(|| Box::new(frame.clone()));
        let op = Op::Request { name: frame.op(), track };
        // `acquireLock { retry }` waits for the lock as long as it takes (SPEC §4.6): no timeout.
        let timeout = match &frame {
            ClientFrame::AcquireLock(f) if f.retry => WAIT_FOREVER,
            _ => self.config.request_timeout,
        };
        self.submit_within(route, op, timeout, |id| {
            frame.set_id(id);
            encode_request(&frame, payload.as_ref().map(Payload::as_bytes))
        })
    }

    /// Registers a request and queues its frame.
    fn submit(&self, route: Route, op: Op, frame: impl FnOnce(u64) -> Message) -> Result<()> {
        self.submit_within(route, op, self.config.request_timeout, frame)
    }

    /// Registers a request that fails with its TIMEOUT code unless answered within `timeout`.
    fn submit_within(
        &self,
        route: Route,
        op: Op,
        timeout: std::time::Duration,
        frame: impl FnOnce(u64) -> Message,
    ) -> Result<()> {
        let mut state = self.state.lock();
        match state.phase {
            Phase::LoggedIn | Phase::LoggingIn => {}
            Phase::Idle | Phase::LoggingOut => {
                return Err(Error::new(ErrorCode::NotLogin, format!("{} needs a logged-in client", op.name())))
            }
        }
        if state.pending.len() >= self.config.max_pending {
            return Err(Error::new(
                ErrorCode::OperationRateExceedLimitation,
                format!("{} requests are already waiting for an answer", state.pending.len()),
            ));
        }
        let id = state.take_id();
        let deadline = Instant::now() + timeout;
        let frame = frame(id);
        state.outgoing.push_back(frame.clone());
        let epoch = state.epoch;
        state.pending.insert(id, Pending { route, deadline, op, frame: Some(frame), epoch });
        let wake = state.outgoing.len() == 1;
        drop(state);
        if wake {
            self.outgoing_ready.notify_one();
        }
        Ok(())
    }

    /// Queues a frame that expects no answer (realtime datagrams).
    fn send_unanswered(&self, op: &'static str, frame: Message) -> Result<()> {
        let mut state = self.state.lock();
        if state.phase != Phase::LoggedIn {
            return Err(Error::new(ErrorCode::NotLogin, format!("{op} needs a logged-in client")));
        }
        if !state.connected {
            // Best effort: keep only the newest while the link is down.
            if state.held.len() >= self.config.max_held_unanswered.max(1) {
                state.held.pop_front();
                state.held_dropped += 1;
                self.held_dropped_total.fetch_add(1, Ordering::Relaxed);
            }
            state.held.push_back(frame);
            return Ok(());
        }
        state.outgoing.push_back(frame);
        let wake = state.outgoing.len() == 1;
        drop(state);
        if wake {
            self.outgoing_ready.notify_one();
        }
        Ok(())
    }

    /// Delivers an answer to its route.
    fn answer(&self, route: Route, result: Result<Box<RawValue>>) {
        match route {
            Route::Tag(tag) => self.sink.emit(ClientEvent::Response { tag, result }),
            Route::Oneshot(tx) => {
                let _ = tx.send(result);
            }
            Route::Ignore => {}
        }
    }

    /// Completes a pending request with the server's answer.
    fn complete(&self, id: u64, result: Result<Box<RawValue>>) {
        let mut room_restore = None;
        let (pending, restored) = {
            let mut state = self.state.lock();
            let Some(pending) = state.pending.remove(&id) else {
                return;
            };
            let mut restored = None;
            match (&pending.op, &result) {
                (Op::Request { track: Some(frame), .. }, Ok(answer)) => {
                    if let ClientFrame::RenewToken(f) = &**frame {
                        if f.channel.as_deref().unwrap_or("").is_empty() {
                            state.token = Some(f.token.clone());
                        }
                    }
                    state.memory.record(frame, answer);
                    match &**frame {
                        ClientFrame::Unsubscribe(f) => state.views.forget(ChannelType::Message, &f.channel),
                        ClientFrame::Leave(f) => state.views.forget(ChannelType::Stream, &f.channel),
                        _ => {}
                    }
                }
                (Op::Restore { channel, track }, result) => {
                    if let (ClientFrame::Subscribe(f), Some(restoring)) = (&**track, state.restoring.as_mut()) {
                        restoring.subscribe_answered(f, result);
                    }
                    match result {
                        Ok(answer) => state.memory.record(track, answer),
                        Err(e) => {
                            tracing::warn!(channel = %channel, "could not restore after reconnecting: {e}");
                            state.memory.forget(track);
                        }
                    }
                    if let ClientFrame::EnterRoom(_) = &**track {
                        // The application rebuilds its member list from the new room entry.
                        room_restore = Some(match result {
                            Ok(answer) => ClientEvent::Event { kind: EventKind::RoomRestored, body: answer.clone() },
                            Err(e) => ClientEvent::Event { kind: EventKind::RoomRestoreFailed, body: error_json(e) },
                        });
                    }
                    restored = state.restore_step_done(channel, result.is_ok());
                }
                _ => {}
            }
            (pending, restored)
        };
        if let Some(event) = room_restore {
            self.sink.emit(event);
        }
        if let Some(restored) = restored {
            self.restored(restored);
        }
        match pending.op {
            Op::Logout => {
                self.answer(pending.route, result.map(|_| timestamp_response()));
                self.finish_logout();
            }
            Op::Restore { .. } => {}
            Op::Request { name: "getMessages", .. } => {
                let result = result.map(|answer| self.history_answer(answer));
                self.answer(pending.route, result)
            }
            _ => self.answer(pending.route, result),
        }
    }

    /// Rejects every request whose deadline passed.
    fn expire(&self, now: Instant) {
        let expired: Vec<Pending> = {
            let mut state = self.state.lock();
            // Login is answered by the supervisor (it knows why no connection came).
            let ids: Vec<u64> = state
                .pending
                .iter()
                .filter(|(_, p)| p.deadline <= now && !matches!(p.op, Op::Login))
                .map(|(id, _)| *id)
                .collect();
            let expired: Vec<Pending> = ids.into_iter().filter_map(|id| state.pending.remove(&id)).collect();
            // Not sent yet (the link is down): the app is told TIMEOUT, so it must never go.
            if !state.connected {
                let unsent: std::collections::HashSet<usize> =
                    expired.iter().filter_map(|p| p.frame.as_ref()).map(frame_key).collect();
                if !unsent.is_empty() {
                    state.outgoing.retain(|m| !unsent.contains(&frame_key(m)));
                }
            }
            expired
        };
        let mut logout = false;
        for pending in expired {
            match pending.op {
                Op::Logout => {
                    logout = true;
                    self.answer(pending.route, Ok(timestamp_response()));
                }
                Op::Restore { channel, track } => {
                    let restored = {
                        let mut state = self.state.lock();
                        state.memory.forget(&track);
                        state.restore_step_done(&channel, false)
                    };
                    if let Some(restored) = restored {
                        self.restored(restored);
                    }
                }
                ref op => {
                    let error =
                        Error::new(op.timeout_code(), format!("no answer to {} within the request timeout", op.name()));
                    self.answer(pending.route, Err(error));
                }
            }
        }
        if logout {
            self.finish_logout();
        }
    }

    /// Rejects the pending requests `which` selects.
    fn fail_where(&self, error: &Error, which: impl Fn(&Pending) -> bool) {
        let failed: Vec<Pending> = {
            let mut state = self.state.lock();
            let ids: Vec<u64> = state.pending.iter().filter(|(_, p)| which(p)).map(|(id, _)| *id).collect();
            ids.into_iter().filter_map(|id| state.pending.remove(&id)).collect()
        };
        for p in failed {
            let error = Error::new(error.code, format!("{}: {}", p.op.name(), error.reason));
            self.answer(p.route, Err(error));
        }
    }

    /// Rejects every pending request (the session is gone).
    fn fail_all(&self, error: &Error) {
        self.state.lock().outgoing.clear();
        self.fail_where(error, |_| true);
    }

    /// Ends the session locally after a logout: stop the supervisor, go IDLE.
    fn finish_logout(&self) {
        let (previous, logouts) = {
            let mut state = self.state.lock();
            if state.phase == Phase::Idle {
                return;
            }
            state.phase = Phase::Idle;
            state.generation += 1;
            state.memory.clear();
            state.views.clear();
            state.session = None;
            state.restoring = None;
            state.connected = false;
            state.outgoing.clear();
            let logouts: Vec<Pending> = {
                let ids: Vec<u64> =
                    state.pending.iter().filter(|(_, p)| matches!(p.op, Op::Logout)).map(|(id, _)| *id).collect();
                ids.into_iter().filter_map(|id| state.pending.remove(&id)).collect()
            };
            let previous = std::mem::replace(&mut state.link, LinkState::Idle);
            (previous, logouts)
        };
        self.stop.notify_waiters();
        self.fail_all(&Error::new(ErrorCode::NotLogin, "logged out before the answer arrived"));
        for p in logouts {
            self.answer(p.route, Ok(timestamp_response()));
        }
        if previous != LinkState::Idle {
            self.sink.emit(ClientEvent::LinkState(LinkStateEvent::new(
                LinkState::Idle,
                previous,
                LinkOperation::Logout,
                LinkReason::Logout,
            )));
        }
    }

    /// Moves the link to `current` and reports it.
    fn set_link(&self, current: LinkState, operation: LinkOperation, reason: LinkReason) {
        self.set_link_with(LinkStateEvent::new(current, current, operation, reason));
    }

    fn set_link_with(&self, mut event: LinkStateEvent) {
        {
            let mut state = self.state.lock();
            if state.link == event.current_state && event.current_state != LinkState::Connected {
                return;
            }
            event.previous_state = std::mem::replace(&mut state.link, event.current_state);
        }
        self.sink.emit(ClientEvent::LinkState(event));
    }

    pub(crate) fn received_payload(bytes: &Bytes, payload: &[u8]) -> Bytes {
        // `payload` is a sub-slice of `bytes`: share it instead of copying.
        let offset = payload.as_ptr() as usize - bytes.as_ptr() as usize;
        bytes.slice(offset..offset + payload.len())
    }
}
