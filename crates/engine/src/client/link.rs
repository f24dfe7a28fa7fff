//! The supervisor of one login: connect, hello, run the link, reconnect.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{
    text_frame, timestamp_response, ClientEvent, Inner, LinkOperation, LinkReason, LinkState, Op, Payload, Phase,
};
use crate::error::{Error, ErrorCode};
use crate::protocol::{close, decode_server, ClientFrame, Hello, MessageType, Ping, Welcome, PROTOCOL_VERSION};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

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
            resume: None,
            agent: Some(format!("piazza-engine/{}", crate::VERSION)),
        }
    }

    /// The link is up: answer the login, or restore subscriptions after a reconnect.
    fn on_connected(&self, generation: u64, welcome: &Welcome, first: bool) -> bool {
        let login = {
            let mut state = self.state.lock();
            if state.generation != generation || state.phase == Phase::Idle {
                return false;
            }
            state.connected = true;
            state.max_message_bytes = welcome.limits.max_message_bytes;
            state.max_realtime_bytes = welcome.limits.max_realtime_bytes;
            if first {
                state.phase = Phase::LoggedIn;
                state.pending.remove(&0)
            } else {
                // A new session: subscribe again to what the old one had, ahead of anything
                // queued meanwhile.
                let channels: Vec<_> = state.subscriptions.iter().map(|(c, o)| (c.clone(), *o)).collect();
                for (channel, options) in channels.into_iter().rev() {
                    let id = state.take_id();
                    let frame = super::subscribe_frame(id, &channel, options);
                    state.outgoing.push_front(frame);
                    let deadline = Instant::now() + self.config.request_timeout;
                    state
                        .pending
                        .insert(id, super::Pending { route: super::Route::Ignore, deadline, op: Op::Restore(channel) });
                }
                None
            }
        };
        if first {
            self.set_link(LinkState::Connected, LinkOperation::Login, LinkReason::LoginSuccess);
            if let Some(pending) = login {
                self.answer(pending.route, Ok(timestamp_response()));
            }
        } else {
            self.set_link(LinkState::Connected, LinkOperation::Reconnected, LinkReason::ReconnectSuccess);
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
            state.subscriptions.clear();
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

    /// The link dropped: fail what was in flight and report DISCONNECTED.
    fn on_lost(&self, generation: u64, operation: LinkOperation, reason: LinkReason, detail: &str) -> bool {
        let (in_flight, logging_out) = {
            let mut state = self.state.lock();
            if state.generation != generation {
                return false;
            }
            state.connected = false;
            state.outgoing.clear();
            let ids: Vec<u64> = state
                .pending
                .iter()
                .filter(|(_, p)| !matches!(p.op, Op::Login | Op::Logout))
                .map(|(id, _)| *id)
                .collect();
            let in_flight: Vec<_> = ids.into_iter().filter_map(|id| state.pending.remove(&id)).collect();
            (in_flight, state.phase == Phase::LoggingOut)
        };
        if logging_out {
            self.finish_logout();
            return false;
        }
        tracing::info!(user = %self.config.user_id, detail, "link lost; reconnecting");
        self.set_link(LinkState::Disconnected, operation, reason);
        for p in in_flight {
            let error = Error::new(
                ErrorCode::NotConnected,
                format!("{}: the connection dropped before the answer arrived", p.op.name()),
            );
            self.answer(p.route, Err(error));
        }
        true
    }

    /// Handles one data frame from the server.
    fn on_frame(&self, bytes: &Bytes, binary: bool) {
        let (frame, payload) = match decode_server(bytes, binary) {
            Ok(decoded) => decoded,
            Err(e) => {
                tracing::warn!("ignoring an undecodable server frame: {e}");
                return;
            }
        };
        match frame.t.as_ref() {
            "ok" => {
                if let Some(id) = frame.id {
                    let result = frame.r.map(|r| r.to_owned()).unwrap_or_else(timestamp_response);
                    self.complete(id, Ok(result));
                }
            }
            "err" => match frame.id {
                Some(id) => self.complete(id, Err(frame.error())),
                None => tracing::warn!("server reported: {}", frame.error()),
            },
            "msg" => {
                let Some(header) = frame.e else { return };
                let payload = match frame.mt {
                    Some(MessageType::Binary) => Payload::Binary(Inner::received_payload(bytes, payload)),
                    _ => match std::str::from_utf8(payload) {
                        Ok(text) => Payload::Text(text.to_string()),
                        Err(_) => {
                            tracing::warn!("dropping a STRING message that is not UTF-8");
                            return;
                        }
                    },
                };
                self.sink.emit(ClientEvent::Message { header: header.to_owned(), payload });
            }
            "pong" => {}
            "rt" => {
                let Some(scope) = frame.scope else { return };
                let data = Inner::received_payload(bytes, payload);
                self.sink.emit(ClientEvent::Realtime { scope: scope.into_owned(), data });
            }
            kind => {
                if let Some(body) = frame.e {
                    self.sink.emit(ClientEvent::Event { kind: kind.to_string(), body: body.to_owned() });
                }
            }
        }
    }
}

/// Runs one login until logout or a fatal error.
pub(crate) async fn supervise(inner: Arc<Inner>, generation: u64) {
    let sweeper = tokio::spawn(sweep(inner.clone(), generation));
    let config = inner.config.clone();
    let started = Instant::now();
    let mut ever_connected = false;
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
        };
        match outcome {
            Ok((ws, welcome)) => {
                attempt = 0;
                let first = !ever_connected;
                ever_connected = true;
                if !inner.on_connected(generation, &welcome, first) {
                    break;
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
                        ErrorCode::ServiceNotSupported => LinkReason::ServiceNotSupported,
                        _ => LinkReason::LoginRejected,
                    };
                    inner.fail_login(generation, error, reason);
                }
                break;
            }
            Err(ConnectError::Unreachable(error)) => {
                tracing::debug!(%endpoint, "connect failed: {error}");
                last_error = format!("{endpoint}: {error}");
                if !ever_connected && started.elapsed() >= config.login_timeout {
                    let error = Error::new(
                        ErrorCode::LoginTimeout,
                        format!("no server reachable within {:?} (last error: {last_error})", config.login_timeout),
                    );
                    inner.fail_login(generation, error, LinkReason::LoginTimeout);
                    break;
                }
            }
        }
        let delay = backoff(&config, attempt);
        attempt = attempt.saturating_add(1);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = inner.stopped(generation) => break,
        }
    }
    sweeper.abort();
    let _ = last_error;
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
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(endpoint, Some(config), true)
            .await
            .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        let hello = text_frame(&ClientFrame::Hello(inner.hello()));
        ws.send(hello).await.map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        let mut refusal: Option<Error> = None;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let Ok((frame, _)) = decode_server(text.as_bytes(), false) else {
                        continue;
                    };
                    match frame.t.as_ref() {
                        "welcome" => {
                            let welcome: Welcome = serde_json::from_str(&text)
                                .map_err(|e| ConnectError::Unreachable(format!("bad welcome: {e}")))?;
                            return Ok((ws, welcome));
                        }
                        "err" => refusal = Some(frame.error()),
                        _ => {}
                    }
                }
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
        let mut batch = Vec::new();
        loop {
            {
                let mut state = inner.state.lock();
                batch.extend(state.outgoing.drain(..));
            }
            if batch.is_empty() {
                tokio::select! {
                    _ = inner.outgoing_ready.notified() => continue,
                    _ = ping.tick() => batch.push(text_frame(&ClientFrame::Ping(Ping::default()))),
                }
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
    let dead_after = heartbeat * 2 + Duration::from_secs(1);
    let mut check = tokio::time::interval(Duration::from_millis(500));
    let mut last_seen = Instant::now();
    let end = loop {
        tokio::select! {
            item = source.next() => match item {
                Some(Ok(Message::Text(text))) => {
                    inner.on_frame(text.as_ref(), false);
                    wait_for_sink(inner).await;
                    last_seen = Instant::now();
                }
                Some(Ok(Message::Binary(bytes))) => {
                    inner.on_frame(&bytes, true);
                    wait_for_sink(inner).await;
                    last_seen = Instant::now();
                }
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
            },
            _ = check.tick() => {
                if last_seen.elapsed() > dead_after {
                    break LinkEnd::Lost(LinkOperation::HeartbeatTimeout, LinkReason::KeepAliveTimeout, "no frame from the server for two heartbeat intervals".into());
                }
            }
            _ = inner.stopped(generation) => break LinkEnd::Stopped,
        }
    };
    writer.abort();
    end
}
