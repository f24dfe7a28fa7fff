//! One connection, from the first HTTP byte to the close frame.
//!
//! 1. Read the HTTP head: plain requests go to [`super::http`], upgrades get a 101.
//! 2. Wait for `hello` (within the handshake timeout) and open the session.
//! 3. A writer task drains the session's outbox into the socket, one flush per batch; this
//!    task reads frames, answers requests, and watches heartbeats, the outbox's close and the
//!    server's shutdown.
//! 4. When the link ends, the session ends and the writer is given a moment to send its close.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::http::{self, HeadError};
use super::ConnContext;
use crate::error::{Error, ErrorCode};
use crate::hub::outbox::Batch;
use crate::hub::{EndReason, Opened, Session};
use crate::protocol::{close, codec, decode_client, ClientFrame, Hello, Welcome, WireLimits, PROTOCOL_VERSION};
use crate::time::now_ms;

/// How long a closing connection waits for the peer's close reply.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Malformed frames tolerated in a burst before the connection is closed (1008).
const BAD_FRAME_BURST: u32 = 50;

/// Connection ids (unique per process): a session knows which connection it is attached to.
static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

type Sink<S> = SplitSink<WebSocketStream<S>, Message>;
type Source<S> = SplitStream<WebSocketStream<S>>;

fn ws_config(max_frame: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(32 * 1024)
        .max_message_size(Some(max_frame))
        .max_frame_size(Some(max_frame))
}

/// Serves one accepted socket to the end.
pub(crate) async fn serve<S>(
    mut stream: S,
    peer: SocketAddr,
    ctx: ConnContext,
    handshake: tokio::sync::OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = ctx.hub.config().connection.clone();
    let handshake_deadline = Instant::now() + Duration::from_millis(limits.handshake_timeout_ms);
    let request = match http::read_head(&mut stream, Duration::from_millis(limits.handshake_timeout_ms)).await {
        Ok(request) => request,
        Err(HeadError::TooLarge) => return http::respond(&mut stream, 431, "text/plain", "header too large").await,
        Err(HeadError::Malformed) => return http::respond(&mut stream, 400, "text/plain", "malformed request").await,
        Err(HeadError::Closed | HeadError::Timeout) => return,
    };
    let Some(key) = request.websocket_key() else {
        return http::serve(&mut stream, request, &ctx.hub, peer).await;
    };
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    if stream.write_all(answer.as_bytes()).await.is_err() {
        return;
    }
    let ws = WebSocketStream::from_partially_read(
        stream,
        request.rest,
        Role::Server,
        Some(ws_config(limits.max_frame_bytes)),
    )
    .await;
    let counters = ctx.hub.counters();
    counters.connections.fetch_add(1, Ordering::Relaxed);
    let (mut sink, mut source) = ws.split();
    let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let hello = tokio::time::timeout_at(handshake_deadline, read_hello(&mut source)).await;
    // The handshake is over (one way or another): the slot goes back.
    drop(handshake);
    match hello {
        Ok(Ok(hello)) => match ctx.hub.open_session(&hello, conn) {
            Ok(opened) => run_session(opened, conn, &hello, sink, source, &ctx, peer).await,
            Err(error) => {
                let code = if error.code == ErrorCode::ServiceNotSupported {
                    close::UNSUPPORTED_VERSION
                } else {
                    close::AUTH_FAILED
                };
                refuse(&mut sink, &error, code).await;
            }
        },
        Ok(Err(Some((error, code)))) => refuse(&mut sink, &error, code).await,
        Ok(Err(None)) => {}
        Err(_) => {
            let _ = sink.send(codec::close(close::HANDSHAKE_TIMEOUT, "no hello within the handshake timeout")).await;
        }
    }
    counters.connections.fetch_sub(1, Ordering::Relaxed);
}

/// Sends an error frame and a close frame, for a refused handshake.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(sink: &mut Sink<S>, error: &Error, code: u16) {
    tracing::debug!("handshake refused: {error}");
    let _ = sink.feed(codec::err(None, error)).await;
    let _ = sink.send(codec::close(code, &error.to_string())).await;
}

/// Waits for the `hello` frame. `Err(None)`: the peer went away; `Err(Some(..))`: refuse.
async fn read_hello<S: AsyncRead + AsyncWrite + Unpin>(source: &mut Source<S>) -> Result<Hello, Option<(Error, u16)>> {
    #[derive(Deserialize)]
    struct Peek {
        op: Option<String>,
        v: Option<u32>,
    }
    loop {
        let message = match source.next().await {
            Some(Ok(m)) => m,
            Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size }))) => {
                let reason = format!("message of {size} bytes exceeds maxFrameBytes {max_size}");
                return Err(Some((Error::invalid(reason), close::TOO_BIG)));
            }
            Some(Err(WsError::Utf8(e))) => {
                let reason = format!("text frame is not valid UTF-8: {e}");
                return Err(Some((Error::invalid(reason), close::INVALID_DATA)));
            }
            _ => return Err(None),
        };
        let raw = match &message {
            Message::Text(t) => t.as_bytes().to_vec(),
            Message::Binary(_) => Vec::new(),
            Message::Close(_) => return Err(None),
            _ => continue,
        };
        if let Ok(Peek { op: Some(op), v: Some(v) }) = serde_json::from_slice::<Peek>(&raw) {
            if op == "hello" && v != PROTOCOL_VERSION {
                let reason = format!("protocol version {v} is not supported; this server speaks {PROTOCOL_VERSION}");
                return Err(Some((Error::new(ErrorCode::ServiceNotSupported, reason), close::UNSUPPORTED_VERSION)));
            }
        }
        return match decode_client(message) {
            Ok(inbound) => match inbound.frame {
                ClientFrame::Hello(hello) => Ok(hello),
                other => Err(Some((
                    Error::invalid(format!("the first frame must be hello, not {}", other.op())),
                    close::PROTOCOL_ERROR,
                ))),
            },
            Err(e) => Err(Some((e.error, close::PROTOCOL_ERROR))),
        };
    }
}

/// Why the read loop ended.
#[derive(Debug)]
enum End {
    /// The peer closed (or the socket ended).
    Closed,
    /// No frame for two heartbeat intervals.
    Dead,
    /// We asked to close and the peer did not answer in time.
    CloseTimeout,
    /// Another connection resumed the session.
    Replaced,
    /// The socket failed.
    Failed(String),
}

async fn run_session<S>(
    opened: Opened,
    conn: u64,
    hello: &Hello,
    mut sink: Sink<S>,
    mut source: Source<S>,
    ctx: &ConnContext,
    peer: SocketAddr,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let hub = &ctx.hub;
    let Opened { session, resumed, ready } = opened;
    tracing::info!(%peer, app = %session.app, user = %session.user, kind = ?session.kind, resumed, "logged in");
    let welcome = Welcome {
        v: PROTOCOL_VERSION,
        session: session.id.to_string(),
        resume_secret: session.resume_secret.clone(),
        resumed,
        last_request: session.last_request.load(Ordering::Acquire),
        heartbeat: hello.heartbeat,
        presence_timeout: session.presence_timeout_secs,
        server_time: now_ms(),
        limits: WireLimits {
            max_message_bytes: hub.config().limits.max_message_bytes,
            max_realtime_bytes: hub.config().limits.max_realtime_bytes,
        },
    };
    #[derive(serde::Serialize)]
    struct WelcomeFrame<'a> {
        t: &'static str,
        #[serde(flatten)]
        w: &'a Welcome,
    }
    // The welcome is not part of the session's frame sequence: it goes out directly.
    if sink.send(codec::plain(&WelcomeFrame { t: "welcome", w: &welcome })).await.is_err() {
        hub.detach(&session, conn);
        return;
    }
    let mut writer = tokio::spawn(write_loop(sink, session.clone(), conn, ready));

    let end = read_loop(&mut source, &session, conn, ctx).await;
    let detail = match &end {
        End::Closed => "closed".to_string(),
        End::CloseTimeout => "no close reply in time".to_string(),
        End::Replaced => "resumed on another connection".to_string(),
        End::Dead => {
            session.outbox.close_now(close::HEARTBEAT_TIMEOUT, "no heartbeat for two intervals");
            "heartbeat timeout".to_string()
        }
        End::Failed(error) => error.clone(),
    };
    tracing::info!(%peer, app = %session.app, user = %session.user, detail, "connection ended");
    let mut finished = false;
    if session.outbox.closing().is_some() {
        // Let the writer send the close frame (with its reason) before the session detaches.
        finished = tokio::time::timeout(CLOSE_GRACE, &mut writer).await.is_ok();
    }
    // Unless the session ended (logout, replaced, shutdown), it outlives this connection.
    hub.detach(&session, conn);
    if !finished && tokio::time::timeout(CLOSE_GRACE, &mut writer).await.is_err() {
        writer.abort();
    }
}

async fn read_loop<S>(source: &mut Source<S>, session: &Arc<Session>, conn: u64, ctx: &ConnContext) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hub = &ctx.hub;
    let heartbeat = Duration::from_secs(session.heartbeat_secs as u64);
    let dead_after = heartbeat * 2 + Duration::from_millis(500);
    let mut tick = tokio::time::interval((heartbeat / 4).max(Duration::from_millis(250)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_seen = Instant::now();
    let mut close_deadline: Option<Instant> = None;
    let mut shutdown = ctx.shutdown.clone();
    let mut bad_frames = crate::hub::BadFrameBudget::new(BAD_FRAME_BURST);
    let rate = hub.config().connection.frames_per_second;
    let mut frames = crate::hub::rate::TokenBucket::with_burst(rate, rate.saturating_mul(2));
    if *shutdown.borrow_and_update() {
        hub.end_session(session, EndReason::ServerShutdown);
    }
    loop {
        tokio::select! {
            item = source.next() => {
                let message = match item {
                    Some(Ok(message)) => message,
                    Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size }))) => {
                        session.outbox.close_now(
                            close::TOO_BIG,
                            format!("message of {size} bytes exceeds maxFrameBytes {max_size}"),
                        );
                        return End::Failed("oversize frame".into());
                    }
                    Some(Err(WsError::Utf8(e))) => {
                        ctx.hub.counters().bad_frames.fetch_add(1, Ordering::Relaxed);
                        session.outbox.close_now(close::INVALID_DATA, format!("text frame is not valid UTF-8: {e}"));
                        return End::Failed("invalid UTF-8".into());
                    }
                    Some(Err(e)) => return End::Failed(e.to_string()),
                    None => return End::Closed,
                };
                last_seen = Instant::now();
                match message {
                    Message::Text(_) | Message::Binary(_) if close_deadline.is_none() => {
                        if !frames.try_take() {
                            session.outbox.close_now(close::POLICY, format!("more than {rate} frames per second"));
                            continue;
                        }
                        handle_frame(message, session, ctx, &mut bad_frames);
                    }
                    Message::Close(_) => return End::Closed,
                    _ => {}
                }
            }
            _ = tick.tick() => {
                if !session.outbox.is_attached(conn) && !session.is_ended() {
                    return End::Replaced;
                }
                if close_deadline.is_none() && last_seen.elapsed() > dead_after {
                    return End::Dead;
                }
            }
            _ = session.outbox.closed(), if close_deadline.is_none() => {
                close_deadline = Some(Instant::now() + CLOSE_GRACE);
            }
            _ = sleep_until(close_deadline.unwrap_or_else(Instant::now)), if close_deadline.is_some() => {
                return End::CloseTimeout;
            }
            _ = shutdown.changed() => {
                hub.end_session(session, EndReason::ServerShutdown);
            }
        }
    }
}

fn handle_frame(
    message: Message,
    session: &Arc<Session>,
    ctx: &ConnContext,
    bad_frames: &mut crate::hub::BadFrameBudget,
) {
    let hub = &ctx.hub;
    match decode_client(message) {
        Ok(inbound) => match &inbound.frame {
            ClientFrame::Ping(ping) => {
                session.outbox.ack(ping.received);
                hub.push(session, codec::plain(&serde_json::json!({ "t": "pong" })));
            }
            ClientFrame::Hello(_) => {
                let error = Error::invalid("hello was already received on this connection");
                hub.push(session, codec::err(None, &error));
            }
            ClientFrame::Logout(_) => {
                hub.handle(session, inbound);
                hub.end_session(session, EndReason::Logout);
            }
            _ => hub.handle(session, inbound),
        },
        Err(e) => {
            hub.counters().bad_frames.fetch_add(1, Ordering::Relaxed);
            if bad_frames.spend() {
                hub.push(session, codec::err(e.id, &e.error));
            } else {
                session.outbox.close_now(close::POLICY, "too many malformed frames");
            }
        }
    }
}

async fn write_loop<S>(mut sink: Sink<S>, session: Arc<Session>, conn: u64, ready: Arc<tokio::sync::Notify>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut batch = Batch::default();
    loop {
        if !session.outbox.next_batch(conn, &ready, &mut batch).await {
            // Another connection resumed the session.
            let _ = sink.send(codec::close(close::GOING_AWAY, "session resumed on another connection")).await;
            return;
        }
        for frame in batch.frames.drain(..) {
            if sink.feed(frame).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
        if let Some(closing) = batch.close.take() {
            let _ = sink.send(codec::close(closing.code, &closing.reason)).await;
            return;
        }
    }
}
