//! The supervisor of one login: connect, hello, run the link, reconnect — resuming the session
//! when the server still has it, rebuilding it when not.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, SinkExt, StreamExt};
use rand::Rng;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{
    encode_request, text_frame, timestamp_response, ClientEvent, EventKind, Inner, LinkOperation, LinkReason,
    LinkState, LinkStateEvent, Op, Payload, Pending, Phase, Restoring, SessionTicket,
};
use crate::error::{Error, ErrorCode};
use crate::protocol::{
    close, decode_server, ClientFrame, FrameKind, Hello, MessageType, Ping, Resume, RoomEvent, ServerFrame, Welcome,
    PROTOCOL_VERSION,
};

type Ws = WebSocketStream<super::transport::Transport>;

/// Why a connection attempt failed.
enum ConnectError {
    /// The server answered the hello with a refusal that retrying will not fix.
    Refused(Error, u16),
    /// The server could not be reached (or the link broke during the handshake).
    Unreachable(String),
}

/// Why a link ended.
enum LinkEnd {
    /// The client is no longer logged in (logout, or a newer login).
    Stopped,
    /// The server closed with a code that forbids reconnecting.
    Fatal(u16, String),
    /// The link dropped; reconnect.
    Lost(LinkOperation, LinkReason, String),
}

/// How the link came up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arrival {
    Login,
    Resumed,
    NewSession,
}

impl Inner {
    fn current(&self, generation: u64) -> bool {
        let state = self.state.lock();
        state.generation == generation && state.phase != Phase::Idle
    }

    /// Resolves once this login generation is over.
    async fn stopped(&self, generation: u64) {
        loop {
            let notified = self.stop.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.current(generation) {
                return;
            }
            notified.await;
        }
    }

    fn hello(&self) -> Hello {
        let state = self.state.lock();
        Hello {
            v: PROTOCOL_VERSION,
            app_id: self.config.app_id.clone(),
            user_id: self.config.user_id.clone(),
            token: state.token.clone(),
            kind: self.config.kind,
            heartbeat: self.config.heartbeat_interval,
            presence_timeout: self.config.presence_timeout,
            resume: state.session.as_ref().map(|s| Resume {
                session: s.id.clone(),
                secret: s.secret.clone(),
                received: self.received.load(Ordering::Acquire),
            }),
            agent: Some(format!("piazza-engine/{}", crate::VERSION)),
        }
    }

    /// The link is up: answer the login, resume (re-sending what the server never saw), or
    /// rebuild a new session from memory.
    fn on_connected(&self, generation: u64, welcome: &Welcome, first: bool) -> bool {
        let mut failed_in_flight = Vec::new();
        let (arrival, login, restoring) = {
            let mut state = self.state.lock();
            if state.generation != generation || state.phase == Phase::Idle {
                return false;
            }
            state.connected = true;
            // What was sent while the link was down goes after the requests re-sent below.
            let held = std::mem::take(&mut state.held);
            state.outgoing.extend(held);
            let dropped = std::mem::take(&mut state.held_dropped);
            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    kept = self.config.max_held_unanswered,
                    "realtime datagrams / custom messages sent while disconnected were dropped, oldest first"
                );
            }
            state.max_message_bytes = welcome.limits.max_message_bytes;
            state.max_realtime_bytes = welcome.limits.max_realtime_bytes;
            let same_session = state.session.as_ref().is_some_and(|s| s.id == welcome.session);
            state.session = Some(SessionTicket { id: welcome.session.clone(), secret: welcome.resume_secret.clone() });
            let epoch = state.epoch;
            if first {
                state.phase = Phase::LoggedIn;
                self.received.store(0, Ordering::Release);
                (Arrival::Login, state.pending.remove(&0), false)
            } else if welcome.resumed && same_session {
                // Requests sent on the dropped link that the server never handled go again, in
                // order, ahead of anything queued while disconnected.
                let mut again: Vec<(u64, Message)> = state
                    .pending
                    .iter()
                    .filter(|(id, p)| p.epoch < epoch && **id > welcome.last_request)
                    .filter_map(|(id, p)| p.frame.clone().map(|f| (*id, f)))
                    .collect();
                again.sort_by_key(|(id, _)| *id);
                for (_, frame) in again.into_iter().rev() {
                    state.outgoing.push_front(frame);
                }
                (Arrival::Resumed, None, false)
            } else {
                self.received.store(0, Ordering::Release);
                // What was in flight on the lost session cannot be known to have happened.
                let lost: Vec<u64> = state
                    .pending
                    .iter()
                    .filter(|(_, p)| p.epoch < epoch && matches!(p.op, Op::Request { .. }))
                    .map(|(id, _)| *id)
                    .collect();
                failed_in_flight = lost.into_iter().filter_map(|id| state.pending.remove(&id)).collect();
                let steps = state.memory.restore_steps();
                let presence = state.memory.presence_channels();
                state.views.mark_restoring(&presence);
                let deadline = Instant::now() + self.config.request_timeout;
                let mut frames = Vec::new();
                for step in &steps {
                    let id = state.take_id();
                    let mut frame = step.frame.clone();
                    frame.set_id(id);
                    frames.push(encode_request(&frame, None));
                    let op = Op::Restore { channel: step.channel.clone(), track: Box::new(step.frame.clone()) };
                    state.pending.insert(id, Pending { route: super::Route::Ignore, deadline, op, frame: None, epoch });
                }
                // Requests submitted while the link was down carry ids below the restore steps'
                // and would reach the new session after them (ids must increase within a
                // session): they are numbered again, after the steps, in their order.
                let mut queued: Vec<u64> = state
                    .pending
                    .iter()
                    .filter(|(_, p)| p.epoch == epoch && p.frame.is_some() && matches!(p.op, Op::Request { .. }))
                    .map(|(id, _)| *id)
                    .collect();
                queued.sort_unstable();
                let mut moved = std::collections::HashSet::new();
                let (mut renumbered, mut unsendable) = (Vec::new(), Vec::new());
                for old in queued {
                    let Some(mut pending) = state.pending.remove(&old) else { continue };
                    let Some(frame) = pending.frame.take() else { continue };
                    moved.insert(super::frame_key(&frame));
                    let id = state.take_id();
                    let Some(again) = crate::protocol::codec::with_id(&frame, id) else {
                        // Not a frame this client encodes: it cannot go in this session.
                        unsendable.push(pending);
                        continue;
                    };
                    pending.frame = Some(again.clone());
                    state.pending.insert(id, pending);
                    renumbered.push(again);
                }
                let rest: Vec<Message> =
                    state.outgoing.drain(..).filter(|m| !moved.contains(&super::frame_key(m))).collect();
                state.outgoing.extend(frames);
                state.outgoing.extend(renumbered);
                state.outgoing.extend(rest);
                failed_in_flight.extend(unsendable);
                let restoring = !steps.is_empty();
                state.restoring = restoring.then(|| Restoring::of(steps.len()));
                (Arrival::NewSession, None, restoring)
            }
        };
        for p in failed_in_flight {
            let reason = format!("{}: the connection dropped and the session could not be resumed", p.op.name());
            self.answer(p.route, Err(Error::new(ErrorCode::NotConnected, reason)));
        }
        match arrival {
            Arrival::Login => {
                self.set_link(LinkState::Connected, LinkOperation::Login, LinkReason::LoginSuccess);
                if let Some(pending) = login {
                    self.answer(pending.route, Ok(timestamp_response()));
                }
            }
            Arrival::Resumed => {
                let mut event = LinkStateEvent::new(
                    LinkState::Connected,
                    LinkState::Connected,
                    LinkOperation::Reconnected,
                    LinkReason::ReconnectSuccess,
                );
                event.is_resumed = true;
                event.affected_channels = self.state.lock().memory.channels();
                self.set_link_with(event);
            }
            Arrival::NewSession if !restoring => self.restored(Restoring::default()),
            Arrival::NewSession => {} // CONNECTED is reported once the restore is answered
        }
        self.outgoing_ready.notify_one();
        true
    }

    /// The first connection was refused, or never came: fail the login.
    fn fail_login(&self, generation: u64, error: Error, reason: LinkReason) {
        let login = {
            let mut state = self.state.lock();
            if state.generation != generation {
                return;
            }
            state.phase = Phase::Idle;
            state.pending.remove(&0)
        };
        self.set_link(LinkState::Failed, LinkOperation::Login, reason);
        self.fail_all(&Error::new(error.code, "login failed"));
        if let Some(pending) = login {
            self.answer(pending.route, Err(error));
        }
    }

    /// The server ended the session for good (same user id elsewhere, kicked, token expired).
    fn on_fatal(&self, generation: u64, code: u16, reason: &str) {
        {
            let mut state = self.state.lock();
            if state.generation != generation {
                return;
            }
            state.phase = Phase::Idle;
            state.connected = false;
            state.session = None;
            state.restoring = None;
            state.memory.clear();
            state.views.clear();
        }
        let link_reason = match code {
            close::REPLACED => LinkReason::SameUidLogin,
            close::KICKED => LinkReason::KickedOutByServer,
            close::TOKEN_EXPIRED => LinkReason::TokenExpired,
            close::UNSUPPORTED_VERSION => LinkReason::ServiceNotSupported,
            _ => LinkReason::LoginRejected,
        };
        tracing::warn!(user = %self.config.user_id, code, reason, "the server ended the session");
        self.set_link(LinkState::Failed, LinkOperation::ServerReject, link_reason);
        self.fail_all(&Error::new(ErrorCode::NotLogin, format!("the server ended the session: {reason}")));
    }

    /// The link dropped: report DISCONNECTED; requests stay pending for a resume.
    fn on_lost(&self, generation: u64, operation: LinkOperation, reason: LinkReason, detail: &str) -> bool {
        let (affected, logging_out) = {
            let mut state = self.state.lock();
            if state.generation != generation {
                return false;
            }
            state.connected = false;
            state.epoch += 1;
            // Everything queued is either pending (and will be re-sent or failed) or best effort.
            state.outgoing.clear();
            (state.memory.channels(), state.phase == Phase::LoggingOut)
        };
        if logging_out {
            self.finish_logout();
            return false;
        }
        tracing::info!(user = %self.config.user_id, detail, "link lost; reconnecting");
        let mut event = LinkStateEvent::new(LinkState::Disconnected, LinkState::Disconnected, operation, reason);
        event.affected_channels = affected;
        self.set_link_with(event);
        true
    }

    /// Handles one data frame from the server.
    fn on_frame(&self, bytes: &Bytes, binary: bool) {
        self.received.fetch_add(1, Ordering::AcqRel);
        let frame = match decode_server(bytes, binary) {
            Ok(frame) => frame,
            Err(e) => {
                tracing::warn!("ignoring an undecodable server frame: {e}");
                return;
            }
        };
        match frame {
            ServerFrame::Ok { id, response } => {
                let result = response.map(|r| r.to_owned()).unwrap_or_else(timestamp_response);
                self.complete(id, Ok(result));
            }
            ServerFrame::Err { id: Some(id), error } => self.complete(id, Err(error)),
            ServerFrame::Err { id: None, error } => tracing::warn!("server reported: {error}"),
            ServerFrame::Message { header, message_type, encrypted, offset, payload } => {
                if let Some(offset) = offset {
                    self.saw_offset(header, offset);
                }
                let payload = if encrypted {
                    match self.decrypt(payload, Some(message_type), header) {
                        Some(payload) => payload,
                        None => return,
                    }
                } else {
                    match message_type {
                        MessageType::Binary => Payload::Binary(Inner::received_payload(bytes, payload)),
                        MessageType::String => match std::str::from_utf8(payload) {
                            Ok(text) => Payload::Text(text.to_string()),
                            Err(_) => {
                                tracing::warn!("dropping a STRING message that is not UTF-8");
                                return;
                            }
                        },
                    }
                };
                self.sink.emit(ClientEvent::Message { header: header.to_owned(), payload });
            }
            ServerFrame::Welcome(_) | ServerFrame::Pong => {}
            ServerFrame::Realtime { scope, encrypted, payload } => {
                let data = if encrypted {
                    let context =
                        serde_json::json!({ "channelType": "REALTIME", "channelName": scope, "publisher": "" });
                    let context = serde_json::value::to_raw_value(&context).expect("valid JSON");
                    match self.decrypt(payload, Some(MessageType::Binary), &context) {
                        Some(Payload::Binary(data)) => data,
                        _ => return,
                    }
                } else {
                    Inner::received_payload(bytes, payload)
                };
                self.sink.emit(ClientEvent::Realtime { scope: scope.into_owned(), data });
            }
            ServerFrame::Cmd { header, message_type, payload } => {
                let payload = match message_type {
                    MessageType::Binary => Payload::Binary(Inner::received_payload(bytes, payload)),
                    MessageType::String => Payload::Text(String::from_utf8_lossy(payload).into_owned()),
                };
                self.sink.emit(ClientEvent::Cmd { header: header.to_owned(), payload });
            }
            ServerFrame::Room(event) => {
                if matches!(event, RoomEvent::Exit { .. }) {
                    // Removed, dismissed or replaced: nothing to restore after a reconnect.
                    self.state.lock().memory.left_room();
                }
                self.sink.emit(ClientEvent::Room(event));
            }
            ServerFrame::Event { kind: FrameKind::Presence, body } => {
                let replaced = self.state.lock().views.observe(body);
                let body = replaced.unwrap_or_else(|| body.to_owned());
                self.sink.emit(ClientEvent::Event { kind: EventKind::Presence, body });
            }
            ServerFrame::Event { kind, body } => {
                let kind = match kind {
                    FrameKind::Topic => EventKind::Topic,
                    FrameKind::Storage => EventKind::Storage,
                    FrameKind::Lock => EventKind::Lock,
                    _ => EventKind::Token,
                };
                self.sink.emit(ClientEvent::Event { kind, body: body.to_owned() })
            }
        }
    }
}

impl Inner {
    /// Opens an end-to-end encrypted payload, or reports (an `error` event) why it cannot.
    pub(super) fn decrypt(
        &self,
        sealed: &[u8],
        mt: Option<MessageType>,
        header: &serde_json::value::RawValue,
    ) -> Option<Payload> {
        let opened = match &self.cipher {
            Some(cipher) => cipher.open(sealed),
            None => Err(Error::new(
                ErrorCode::ChannelEncryptMessageFailed,
                "the payload is encrypted and this client has no cipherKey",
            )),
        };
        let failure = match opened {
            Ok(plain) => match mt {
                Some(MessageType::Binary) => return Some(Payload::Binary(Bytes::from(plain))),
                _ => match String::from_utf8(plain) {
                    Ok(text) => return Some(Payload::Text(text)),
                    Err(_) => {
                        Error::new(ErrorCode::ChannelEncryptMessageFailed, "the decrypted STRING message is not UTF-8")
                    }
                },
            },
            Err(e) => e,
        };
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Context {
            #[serde(default)]
            channel_type: String,
            #[serde(default)]
            channel_name: String,
            #[serde(default)]
            topic_name: String,
            #[serde(default)]
            publisher: String,
        }
        let context: Context = serde_json::from_str(header.get()).unwrap_or(Context {
            channel_type: String::new(),
            channel_name: String::new(),
            topic_name: String::new(),
            publisher: String::new(),
        });
        let body = serde_json::json!({
            "errorCode": failure.code.code(),
            "reason": failure.reason,
            "channelType": context.channel_type,
            "channelName": context.channel_name,
            "topicName": context.topic_name,
            "publisher": context.publisher,
            "timestamp": crate::time::now_ms(),
        });
        tracing::debug!(channel = %context.channel_name, publisher = %context.publisher, "{failure}");
        let body = serde_json::value::to_raw_value(&body).expect("valid JSON");
        self.sink.emit(ClientEvent::Event { kind: EventKind::Error, body });
        None
    }
}

/// Runs one login until logout or a fatal error.
pub(crate) async fn supervise(inner: Arc<Inner>, generation: u64) {
    let sweeper = tokio::spawn(sweep(inner.clone(), generation));
    let config = inner.config.clone();
    let login_deadline = Instant::now() + config.login_timeout;
    let mut ever_connected = false;
    // Until a welcome says otherwise (a TRTC client leaves it to the server).
    let mut presence_timeout = config.presence_timeout;
    let mut lost_at: Option<Instant> = None;
    let mut attempt: u32 = 0;
    let mut index = 0usize;
    let mut last_error = String::new();
    inner.set_link(LinkState::Connecting, LinkOperation::Login, LinkReason::Login);
    loop {
        let endpoint = config.endpoints[index % config.endpoints.len()].clone();
        index += 1;
        let outcome = tokio::select! {
            outcome = connect(&inner, &endpoint) => outcome,
            _ = inner.stopped(generation) => break,
            _ = tokio::time::sleep_until(login_deadline), if !ever_connected => Err(ConnectError::Unreachable("login timeout".into())),
        };
        match outcome {
            Ok((ws, welcome)) => {
                attempt = 0;
                // After a drop, try this endpoint first: it holds the session (in a cluster,
                // another node could only start a new one).
                index -= 1;
                let first = !ever_connected;
                ever_connected = true;
                if !inner.on_connected(generation, &welcome, first) {
                    break;
                }
                if welcome.presence_timeout > 0 {
                    presence_timeout = welcome.presence_timeout;
                }
                match run_link(&inner, ws, generation).await {
                    LinkEnd::Stopped => break,
                    LinkEnd::Fatal(code, reason) => {
                        inner.on_fatal(generation, code, &reason);
                        break;
                    }
                    LinkEnd::Lost(operation, reason, detail) => {
                        if !inner.on_lost(generation, operation, reason, &detail) {
                            break;
                        }
                        lost_at = Some(Instant::now());
                        last_error = detail;
                    }
                }
            }
            Err(ConnectError::Refused(error, code)) => {
                if ever_connected {
                    inner.on_fatal(generation, code, &error.to_string());
                } else {
                    let reason = match error.code {
                        ErrorCode::InvalidToken => LinkReason::InvalidToken,
                        ErrorCode::TokenExpired => LinkReason::TokenExpired,
                        ErrorCode::InconsistentAppid => LinkReason::InconsistentAppId,
                        ErrorCode::LoginNotAuthorized => LinkReason::LoginNotAuthorized,
                        ErrorCode::InvalidUserId => LinkReason::InvalidUserId,
                        ErrorCode::ServiceNotSupported => LinkReason::ServiceNotSupported,
                        _ => LinkReason::LoginRejected,
                    };
                    inner.fail_login(generation, error, reason);
                }
                break;
            }
            Err(ConnectError::Unreachable(error)) => {
                tracing::debug!(%endpoint, "connect failed: {error}");
                if error != "login timeout" {
                    last_error = format!("{endpoint}: {error}");
                }
                if !ever_connected && Instant::now() >= login_deadline {
                    let error = Error::new(
                        ErrorCode::LoginTimeout,
                        format!("no server reachable within {:?} (last error: {last_error})", config.login_timeout),
                    );
                    inner.fail_login(generation, error, LinkReason::LoginTimeout);
                    break;
                }
            }
        }
        // Past the presence timeout the server has ended the session: SUSPENDED (still trying).
        let suspended_at = lost_at.map(|t| t + Duration::from_secs(presence_timeout as u64));
        if suspended_at.is_some_and(|t| Instant::now() >= t) {
            inner.set_link(LinkState::Suspended, LinkOperation::AutoReconnect, LinkReason::ReconnectTimeout);
        }
        let delay = backoff(&config, attempt);
        attempt = attempt.saturating_add(1);
        let wake_at = Instant::now() + delay;
        tokio::select! {
            _ = tokio::time::sleep_until(wake_at) => {}
            _ = tokio::time::sleep_until(suspended_at.unwrap_or(wake_at)), if suspended_at.is_some_and(|t| t < wake_at) => {
                inner.set_link(LinkState::Suspended, LinkOperation::AutoReconnect, LinkReason::ReconnectTimeout);
                tokio::time::sleep_until(wake_at).await;
            }
            _ = inner.stopped(generation) => break,
        }
    }
    sweeper.abort();
}

/// Capped exponential backoff with jitter: a random delay in [d/2, d], d = initial · 2^attempt.
fn backoff(config: &super::ClientConfig, attempt: u32) -> Duration {
    let base = config.reconnect_initial.saturating_mul(1u32 << attempt.min(16)).min(config.reconnect_max);
    let jitter = rand::rng().random_range(0.5..=1.0);
    base.mul_f64(jitter)
}

/// Times out requests while the login lives.
async fn sweep(inner: Arc<Inner>, generation: u64) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        if inner.state.lock().generation != generation {
            return;
        }
        inner.expire(Instant::now());
    }
}

/// Connects, says hello, waits for the welcome.
async fn connect(inner: &Inner, endpoint: &str) -> Result<(Ws, Welcome), ConnectError> {
    let attempt = async {
        let config = WebSocketConfig::default().max_message_size(Some(64 << 20)).max_frame_size(Some(64 << 20));
        let transport = super::transport::connect(endpoint, &inner.tls)
            .await
            .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(endpoint, transport, Some(config))
            .await
            .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        let hello = text_frame(&ClientFrame::Hello(inner.hello()));
        ws.send(hello).await.map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        let mut refusal: Option<Error> = None;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => match decode_server(text.as_bytes(), false) {
                    Ok(ServerFrame::Welcome(welcome)) => return Ok((ws, *welcome)),
                    Ok(ServerFrame::Err { error, .. }) => refusal = Some(error),
                    Ok(_) => {}
                    Err(e) if e.starts_with("bad welcome") => return Err(ConnectError::Unreachable(e)),
                    Err(_) => {}
                },
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = close_parts(frame);
                    return Err(if close::is_fatal(code) || code == close::PROTOCOL_ERROR {
                        let error = refusal.unwrap_or_else(|| Error::new(ErrorCode::LoginRejected, reason));
                        ConnectError::Refused(error, code)
                    } else {
                        ConnectError::Unreachable(format!("closed during handshake ({code}: {reason})"))
                    });
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(ConnectError::Unreachable(e.to_string())),
                None => return Err(ConnectError::Unreachable("closed during handshake".into())),
            }
        }
    };
    tokio::time::timeout(inner.config.connect_timeout, attempt)
        .await
        .unwrap_or_else(|_| Err(ConnectError::Unreachable("handshake timed out".into())))
}

fn close_parts(frame: Option<CloseFrame>) -> (u16, String) {
    frame.map(|f| (u16::from(f.code), f.reason.to_string())).unwrap_or((close::NORMAL, String::new()))
}

/// A link that received this many frames since its last ping acknowledges them at the next
/// [`EARLY_ACK_EVERY`] instead of waiting for its heartbeat.
const EARLY_ACK_FRAMES: u64 = 64;
const EARLY_ACK_EVERY: Duration = Duration::from_secs(1);

/// Frames read in one burst at most (see `run_link`) before the application is woken.
const BURST_FRAMES: usize = 256;

/// Pauses reading while the event sink is congested (the application is not keeping up).
async fn wait_for_sink(inner: &Inner) {
    if let Some(room) = inner.sink.congestion() {
        room.await;
    }
}

/// Runs a connected link until it ends.
async fn run_link(inner: &Arc<Inner>, ws: Ws, generation: u64) -> LinkEnd {
    let (mut sink, mut source) = ws.split();
    let heartbeat = Duration::from_secs(inner.config.heartbeat_interval as u64);
    let writer_inner = inner.clone();
    let writer = tokio::spawn(async move {
        let inner = writer_inner;
        let mut ping = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
        let mut early = tokio::time::interval_at(Instant::now() + EARLY_ACK_EVERY, EARLY_ACK_EVERY);
        // What the last ping acknowledged.
        let mut acked = 0;
        let mut batch = Vec::new();
        loop {
            {
                let mut state = inner.state.lock();
                batch.extend(state.outgoing.drain(..));
            }
            if batch.is_empty() {
                let received = tokio::select! {
                    _ = inner.outgoing_ready.notified() => continue,
                    _ = ping.tick() => inner.received.load(Ordering::Acquire),
                    // A busy link acknowledges sooner than its heartbeat: the server keeps every
                    // frame not yet acknowledged for a resume, and at thousands of frames a
                    // second five seconds of them add up.
                    _ = early.tick() => match inner.received.load(Ordering::Acquire) {
                        received if received.saturating_sub(acked) >= EARLY_ACK_FRAMES => received,
                        _ => continue,
                    },
                };
                acked = received;
                // The next heartbeat ping is a heartbeat from this one.
                ping.reset();
                batch.push(text_frame(&ClientFrame::Ping(Ping { received })));
            }
            for frame in batch.drain(..) {
                if sink.feed(frame).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    // The server answers every ping; silence past a heartbeat plus the pong timeout means the
    // link is dead even if TCP has not noticed (a half-open connection).
    let dead_after = heartbeat + inner.config.pong_timeout;
    let mut check = tokio::time::interval(Duration::from_millis(250));
    let mut last_seen = Instant::now();
    let end = loop {
        tokio::select! {
            item = source.next() => {
                // The frames that are already here go through in one burst: the application is
                // woken once for all of their events.
                inner.sink.hold();
                let mut item = item;
                let mut burst = 0;
                let other = loop {
                    match item {
                        Some(Ok(Message::Text(text))) => inner.on_frame(text.as_ref(), false),
                        Some(Ok(Message::Binary(bytes))) => inner.on_frame(&bytes, true),
                        other => break Some(other),
                    }
                    burst += 1;
                    if burst == BURST_FRAMES {
                        break None;
                    }
                    match source.next().now_or_never() {
                        Some(next) => item = next,
                        None => break None,
                    }
                };
                if burst > 0 {
                    last_seen = Instant::now();
                }
                inner.sink.flush();
                wait_for_sink(inner).await;
                let Some(item) = other else { continue };
                match item {
                Some(Ok(Message::Text(_) | Message::Binary(_))) => unreachable!("handled in the burst"),
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = close_parts(frame);
                    if close::is_fatal(code) {
                        break LinkEnd::Fatal(code, reason);
                    }
                    if !inner.current(generation) {
                        break LinkEnd::Stopped;
                    }
                    break LinkEnd::Lost(LinkOperation::ServerTimeout, LinkReason::ConnectionError, format!("server closed ({code}: {reason})"));
                }
                Some(Ok(_)) => last_seen = Instant::now(),
                Some(Err(e)) => break LinkEnd::Lost(LinkOperation::NetworkChange, LinkReason::ConnectionError, e.to_string()),
                None => break LinkEnd::Lost(LinkOperation::NetworkChange, LinkReason::ConnectionError, "connection closed".into()),
                }
            }
            _ = check.tick() => {
                if last_seen.elapsed() > dead_after {
                    break LinkEnd::Lost(LinkOperation::HeartbeatTimeout, LinkReason::KeepAliveTimeout, "no answer from the server to the heartbeat".into());
                }
            }
            _ = inner.stopped(generation) => break LinkEnd::Stopped,
        }
    };
    writer.abort();
    end
}
