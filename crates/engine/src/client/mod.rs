//! The Rust client the addon wraps (and that tests and the benchmark use directly).
//!
//! Calls are synchronous and cheap: they validate their arguments (a bad call is refused
//! before anything is sent), register the request, queue its frame, and return. The answer
//! arrives later as [`ClientEvent::Response`] through the [`EventSink`] (or through a oneshot
//! channel for Rust callers, see [`Client::call`]). This keeps the JavaScript thread's cost per
//! call to one native call, and lets answers cross into JS in the same batches as events.
//!
//! A supervisor task per login owns the connection: it connects (trying each endpoint in turn,
//! with capped exponential backoff and jitter), says hello, runs a reader and a writer, sends
//! heartbeats, and reconnects when the link drops.

mod config;
mod events;
mod link;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::value::RawValue;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

pub use self::config::ClientConfig;
pub use self::events::{
    ChannelSink, ClientEvent, EventSink, LinkOperation, LinkReason, LinkState, LinkStateEvent, Payload,
};
use crate::error::{Error, ErrorCode, Result};
use crate::names;
use crate::protocol::{encode_binary, ChannelType, ClientFrame, Logout, MessageType, Publish, Subscribe, Unsubscribe};
use crate::time::now_ms;

/// Where the answer to a request goes.
#[derive(Debug)]
pub enum Route {
    /// To the sink, as `ClientEvent::Response { tag, .. }`.
    Tag(u64),
    /// To a Rust caller waiting on a oneshot channel.
    Oneshot(oneshot::Sender<Result<Box<RawValue>>>),
    /// Nowhere (internal requests).
    Ignore,
}

/// `subscribe` options (RTM `SubscribeOptions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribeOptions {
    pub with_message: bool,
    pub with_presence: bool,
    pub be_quiet: bool,
    pub with_metadata: bool,
    pub with_lock: bool,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            with_message: true,
            with_presence: true,
            be_quiet: false,
            with_metadata: false,
            with_lock: false,
        }
    }
}

/// `publish` options (RTM `PublishOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishOptions {
    pub custom_type: String,
    pub channel_type: ChannelType,
}

/// What a pending request was, so its answer can update the client's own state.
#[derive(Debug)]
pub(crate) enum Op {
    Login,
    Logout,
    Subscribe(String, SubscribeOptions),
    Unsubscribe(String),
    Publish,
    /// Re-subscribing after a reconnect that started a new session.
    Restore(String),
    /// Any other request, by its op name.
    Other(&'static str),
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Login => "login",
            Op::Logout => "logout",
            Op::Subscribe(..) | Op::Restore(_) => "subscribe",
            Op::Unsubscribe(_) => "unsubscribe",
            Op::Publish => "publish",
            Op::Other(name) => name,
        }
    }

    /// The code a request of this kind fails with when no answer comes in time.
    fn timeout_code(&self) -> ErrorCode {
        match self {
            Op::Login => ErrorCode::LoginTimeout,
            Op::Subscribe(..) | Op::Restore(_) => ErrorCode::ChannelSubscribeTimeout,
            Op::Publish | Op::Other("publishTopic") => ErrorCode::ChannelPublishMessageTimeout,
            Op::Other("join") => ErrorCode::ChannelJoinFailed,
            _ => ErrorCode::NotConnected,
        }
    }
}

pub(crate) struct Pending {
    route: Route,
    deadline: Instant,
    op: Op,
}

/// Where the client is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Idle,
    LoggingIn,
    LoggedIn,
    LoggingOut,
}

pub(crate) struct State {
    phase: Phase,
    link: LinkState,
    /// Incremented per login; a supervisor of an older generation stops.
    generation: u64,
    next_id: u64,
    pending: HashMap<u64, Pending>,
    /// Frames for the writer of the current link (kept across reconnects).
    outgoing: VecDeque<Message>,
    /// Message channels subscribed, to restore them on a new session.
    subscriptions: BTreeMap<String, SubscribeOptions>,
    /// Whether a link is up now.
    connected: bool,
    max_message_bytes: usize,
    max_realtime_bytes: usize,
    token: Option<String>,
}

pub(crate) struct Inner {
    config: ClientConfig,
    sink: Arc<dyn EventSink>,
    state: Mutex<State>,
    /// Wakes the writer of the current link.
    outgoing_ready: Notify,
    /// Wakes the supervisor when it must stop (logout).
    stop: Notify,
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
        crate::logging::init(config.log_level.as_deref())?;
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                sink,
                state: Mutex::new(State {
                    phase: Phase::Idle,
                    link: LinkState::Idle,
                    generation: 0,
                    next_id: 1,
                    pending: HashMap::new(),
                    outgoing: VecDeque::new(),
                    subscriptions: BTreeMap::new(),
                    connected: false,
                    max_message_bytes: 32 * 1024,
                    max_realtime_bytes: 128_000,
                    token: None,
                }),
                outgoing_ready: Notify::new(),
                stop: Notify::new(),
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The current link state.
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
            state.token = token.filter(|t| !t.is_empty());
            let deadline = Instant::now() + self.inner.config.login_timeout;
            // Login's answer is keyed by id 0: it is not a wire request.
            state.pending.insert(0, Pending { route, deadline, op: Op::Login });
            state.generation
        };
        tokio::spawn(link::supervise(self.inner.clone(), generation));
        Ok(())
    }

    /// Logs out: the server drops the session (others see the user leave at once), the link
    /// closes, and the client returns to IDLE. Resolves even when not logged in.
    pub fn logout(&self, route: Route) {
        let mut state = self.inner.state.lock();
        match state.phase {
            Phase::Idle => {
                drop(state);
                self.inner.answer(route, Ok(timestamp_response()));
            }
            Phase::LoggingOut => {
                let id = state.take_id();
                let deadline = Instant::now() + self.inner.config.request_timeout;
                state.pending.insert(id, Pending { route, deadline, op: Op::Logout });
            }
            Phase::LoggingIn | Phase::LoggedIn => {
                state.phase = Phase::LoggingOut;
                let id = state.take_id();
                if state.connected {
                    let deadline = Instant::now() + std::time::Duration::from_secs(2);
                    state.pending.insert(id, Pending { route, deadline, op: Op::Logout });
                    state.outgoing.push_back(text_frame(&ClientFrame::Logout(Logout { id })));
                    drop(state);
                    self.inner.outgoing_ready.notify_one();
                } else {
                    let deadline = Instant::now();
                    state.pending.insert(id, Pending { route, deadline, op: Op::Logout });
                    drop(state);
                    self.inner.finish_logout();
                }
            }
        }
    }

    /// RTM `subscribe`.
    pub fn subscribe(&self, route: Route, channel: &str, options: SubscribeOptions) -> Result<()> {
        names::channel(channel)?;
        self.inner
            .submit(route, Op::Subscribe(channel.to_string(), options), |id| subscribe_frame(id, channel, options))
    }

    /// RTM `unsubscribe`.
    pub fn unsubscribe(&self, route: Route, channel: &str) -> Result<()> {
        names::channel(channel)?;
        self.inner.submit(route, Op::Unsubscribe(channel.to_string()), |id| {
            text_frame(&ClientFrame::Unsubscribe(Unsubscribe { id, channel: channel.to_string() }))
        })
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
        let bytes = payload.as_bytes();
        if bytes.len() > max {
            return Err(Error::new(
                ErrorCode::ChannelMessageLengthExceedLimitation,
                format!("message is {} bytes; at most {max} are allowed", bytes.len()),
            ));
        }
        let message_type = match payload {
            Payload::Text(_) => MessageType::String,
            Payload::Binary(_) => MessageType::Binary,
        };
        self.inner.submit(route, Op::Publish, |id| {
            let header = Publish {
                id,
                channel: channel.to_string(),
                channel_type: options.channel_type,
                message_type,
                custom_type: options.custom_type.clone(),
                data: None,
            };
            Message::Binary(encode_binary(&ClientFrame::Publish(header), bytes))
        })
    }

    /// Sends any request frame (its `id` is assigned here). Arguments are checked before
    /// anything is sent; `payload` goes with `publish`, `publishTopic` and `realtimeSend`.
    pub fn request(&self, route: Route, frame: ClientFrame, payload: Option<Payload>) -> Result<()> {
        let (max_message, max_realtime) = {
            let state = self.inner.state.lock();
            (state.max_message_bytes, state.max_realtime_bytes)
        };
        check_request(&frame, payload.as_ref(), max_message, max_realtime)?;
        match frame {
            ClientFrame::Subscribe(f) => {
                let options = SubscribeOptions {
                    with_message: f.with_message,
                    with_presence: f.with_presence,
                    be_quiet: f.be_quiet,
                    with_metadata: f.with_metadata,
                    with_lock: f.with_lock,
                };
                self.subscribe(route, &f.channel, options)
            }
            ClientFrame::Unsubscribe(f) => self.unsubscribe(route, &f.channel),
            ClientFrame::Publish(f) => {
                let options = PublishOptions { custom_type: f.custom_type, channel_type: f.channel_type };
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
            mut other => {
                let op = Op::Other(other.op());
                let bytes = match (&mut other, &payload) {
                    (ClientFrame::PublishTopic(f), Some(p)) => {
                        f.message_type = match p {
                            Payload::Text(_) => MessageType::String,
                            Payload::Binary(_) => MessageType::Binary,
                        };
                        f.data = None;
                        Some(p.as_bytes())
                    }
                    _ => None,
                };
                self.inner.submit(route, op, |id| {
                    other.set_id(id);
                    match bytes {
                        Some(bytes) => Message::Binary(encode_binary(&other, bytes)),
                        None => text_frame(&other),
                    }
                })
            }
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

fn subscribe_frame(id: u64, channel: &str, options: SubscribeOptions) -> Message {
    text_frame(&ClientFrame::Subscribe(Subscribe {
        id,
        channel: channel.to_string(),
        with_message: options.with_message,
        with_presence: options.with_presence,
        be_quiet: options.be_quiet,
        with_metadata: options.with_metadata,
        with_lock: options.with_lock,
    }))
}

fn timestamp_response() -> Box<RawValue> {
    RawValue::from_string(format!(r#"{{"timestamp":{}}}"#, now_ms())).expect("valid JSON")
}

/// The client-side checks of a request: names, sizes, payloads (the server checks again).
fn check_request(
    frame: &ClientFrame,
    payload: Option<&Payload>,
    max_message: usize,
    max_realtime: usize,
) -> Result<()> {
    let too_big = |len: usize, max: usize, what: &str| {
        Error::new(
            ErrorCode::ChannelMessageLengthExceedLimitation,
            format!("{what} is {len} bytes; at most {max} are allowed"),
        )
    };
    match frame {
        ClientFrame::Join(f) => names::channel(&f.channel),
        ClientFrame::Leave(f) => names::channel(&f.channel),
        ClientFrame::JoinTopic(f) => {
            names::channel(&f.channel)?;
            names::topic(&f.topic)?;
            if f.meta.len() > crate::hub::MAX_TOPIC_META_BYTES {
                return Err(Error::new(
                    ErrorCode::ChannelInvalidTopicMeta,
                    format!(
                        "topic meta is {} bytes; at most {} are allowed",
                        f.meta.len(),
                        crate::hub::MAX_TOPIC_META_BYTES
                    ),
                ));
            }
            Ok(())
        }
        ClientFrame::LeaveTopic(f) => names::channel(&f.channel).and_then(|_| names::topic(&f.topic)),
        ClientFrame::PublishTopic(f) => {
            names::channel(&f.channel)?;
            names::topic(&f.topic)?;
            names::custom_type(&f.custom_type)?;
            let len =
                payload.map(|p| p.as_bytes().len()).ok_or_else(|| Error::invalid("publishTopic needs a message"))?;
            if len > max_message {
                return Err(too_big(len, max_message, "message"));
            }
            Ok(())
        }
        ClientFrame::SubscribeTopic(f) | ClientFrame::UnsubscribeTopic(f) => {
            names::channel(&f.channel).and_then(|_| names::topic(&f.topic))
        }
        ClientFrame::RealtimeJoin(f) | ClientFrame::RealtimeLeave(f) => names::scope(&f.scope),
        ClientFrame::RealtimeSend(f) => {
            names::scope(&f.scope)?;
            let len = payload.map(|p| p.as_bytes().len()).unwrap_or(0);
            if len > max_realtime {
                return Err(too_big(len, max_realtime, "realtime data"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

impl State {
    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}

impl Inner {
    /// Registers a request and queues its frame.
    fn submit(&self, route: Route, op: Op, frame: impl FnOnce(u64) -> Message) -> Result<()> {
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
        let deadline = Instant::now() + self.config.request_timeout;
        state.outgoing.push_back(frame(id));
        state.pending.insert(id, Pending { route, deadline, op });
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
        let pending = {
            let mut state = self.state.lock();
            let Some(pending) = state.pending.remove(&id) else {
                return;
            };
            if result.is_ok() {
                match &pending.op {
                    Op::Subscribe(channel, options) => {
                        state.subscriptions.insert(channel.clone(), *options);
                    }
                    Op::Unsubscribe(channel) => {
                        state.subscriptions.remove(channel);
                    }
                    _ => {}
                }
            } else if let Op::Restore(channel) = &pending.op {
                state.subscriptions.remove(channel);
            }
            pending
        };
        if matches!(pending.op, Op::Logout) {
            self.answer(pending.route, result.map(|_| timestamp_response()));
            self.finish_logout();
            return;
        }
        self.answer(pending.route, result);
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
            ids.into_iter().filter_map(|id| state.pending.remove(&id)).collect()
        };
        let mut logout = false;
        for pending in expired {
            match pending.op {
                Op::Logout => {
                    logout = true;
                    self.answer(pending.route, Ok(timestamp_response()));
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

    /// Rejects every pending request (the session is gone).
    fn fail_all(&self, error: &Error) {
        let pending: Vec<Pending> = {
            let mut state = self.state.lock();
            state.outgoing.clear();
            state.pending.drain().map(|(_, p)| p).collect()
        };
        for p in pending {
            let error = Error::new(error.code, format!("{}: {}", p.op.name(), error.reason));
            self.answer(p.route, Err(error));
        }
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
            state.subscriptions.clear();
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
