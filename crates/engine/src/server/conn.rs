//! One connection, from the first HTTP byte to the close frame.
//!
//! 1. Read the HTTP head: plain requests go to [`super::http`], upgrades get a 101.
//! 2. Wait for `hello` (within the handshake timeout) and open the session.
//! 3. A writer task drains the session's outbox into the socket, one write per batch; this
//!    task reads frames, answers requests, and watches heartbeats and the outbox's close (the
//!    server's shutdown closes the outboxes: `Server::close`).
//!
//! The server reads client frames with its own reader ([`super::wsread`]: nothing kept between
//! frames) and writes its own frames (they are unmasked and simple): the outbox encodes a batch
//! into one buffer, and the writer writes it with one call. The replies the reader makes (pong
//! and close) are collected in a small [`Control`] buffer that the writer sends too.
//! 4. When the link ends, the session ends and the writer is given a moment to send its close.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::Message;

use super::http::{self, HeadError};
use super::wsread::{Control, FrameReader, ReadError};
use super::ConnContext;
use crate::error::{Error, ErrorCode};
use crate::hub::outbox::Batch;
use crate::hub::{EndReason, Opened, Session};
use crate::protocol::{close, codec, decode_client, server, ClientFrame, Hello, Welcome, WireLimits, PROTOCOL_VERSION};
use crate::time::now_ms;

/// How long a closing connection waits for the peer's close reply.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Malformed frames tolerated in a burst before the connection is closed (1008).
const BAD_FRAME_BURST: u32 = 50;

/// Connection ids (unique per process): a session knows which connection it is attached to.
static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

type Source<S> = FrameReader<ReadHalf<S>>;
type Sink<S> = WriteHalf<S>;

/// Writes frames straight to the socket (before the writer task exists, or for a last close).
async fn send_now<S: AsyncWrite>(sink: &mut Sink<S>, frames: &[Message]) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    for frame in frames {
        codec::ws_encode(frame, &mut bytes);
    }
    sink.write_all(&bytes).await?;
    sink.flush().await
}

/// What serving an open session needs, and nothing more (every byte is in every connection's
/// task for as long as it lasts): the semaphores and the shutdown's receiver stay behind.
struct Opening<S> {
    sink: Sink<S>,
    source: Source<S>,
    control: Arc<Control>,
    session: Arc<Session>,
    ready: Arc<tokio::sync::Notify>,
    conn: u64,
    hub: crate::hub::Hub,
    /// Dropped when the connection ends; `Server::close` waits for all of them.
    done: Option<tokio::sync::mpsc::Sender<()>>,
    peer: SocketAddr,
    /// The connection's place under the server's limit.
    slot: tokio::sync::OwnedSemaphorePermit,
}

/// An accepted socket and what serving it needs: `slot` is the connection's place under the
/// server's limit, given back when it ends.
pub(crate) struct Accepted<S> {
    pub stream: S,
    pub peer: SocketAddr,
    pub ctx: ConnContext,
    pub handshake: tokio::sync::OwnedSemaphorePermit,
    pub slot: tokio::sync::OwnedSemaphorePermit,
}

/// Serves one accepted socket to the end.
///
/// Spawned as the task itself (no wrapping block): a task is as big as its future for as long
/// as the connection lasts — in steps of 128 bytes, tokio's alignment. An `async fn` keeps its
/// arguments for its whole life beside the locals it moves them into, so what it needs comes in
/// one box (8 bytes kept, where the arguments were 136, and a TLS stream alone 1,216), and the
/// session's part is written here rather than in an `async fn` of its own (whose arguments
/// were kept again: 96 bytes).
pub(crate) async fn serve<S>(accepted: Box<Accepted<S>>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // The handshake's buffers live on the heap only while it runs (and the box of `accepted`
    // is freed with them): the task that serves the connection for hours stays small.
    let Some(Opening { sink, mut source, control, session, ready, conn, hub, done: _done, peer, slot: _slot }) =
        Box::pin(open(accepted)).await
    else {
        return;
    };
    let hub = &hub;
    let mut writer = tokio::spawn(write_loop(hub.clone(), sink, control, session.clone(), conn, ready));
    let end = read_loop(&mut source, &session, conn, hub).await;
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
    hub.counters().connections.fetch_sub(1, Ordering::Relaxed);
}

/// HTTP upgrade, `hello`, session: returns the open connection with what serving it needs of
/// the context, or `None` once it was refused, served as plain HTTP, or went away.
async fn open<S>(accepted: Box<Accepted<S>>) -> Option<Opening<S>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Accepted { mut stream, peer, ctx, handshake, slot: place } = *accepted;
    let limits = ctx.hub.config().connection.clone();
    let handshake_deadline = Instant::now() + Duration::from_millis(limits.handshake_timeout_ms);
    let request = match http::read_head(&mut stream, Duration::from_millis(limits.handshake_timeout_ms)).await {
        Ok(request) => request,
        Err(HeadError::TooLarge) => {
            http::refuse(&mut stream, 431, "the request head is over 8 KiB").await;
            return None;
        }
        Err(HeadError::Malformed) => {
            http::refuse(&mut stream, 400, "malformed HTTP request").await;
            return None;
        }
        Err(HeadError::Closed | HeadError::Timeout) => return None,
    };
    let Some(key) = request.websocket_key() else {
        if request.wants_upgrade() {
            http::refuse(&mut stream, 400, "invalid WebSocket upgrade request").await;
            return None;
        }
        // Plain HTTP: no handshake slot is held while the connection is kept alive, but one of
        // the few plain-HTTP slots is (idle keep-alive connections cannot crowd out clients).
        drop(handshake);
        let Ok(slot) = ctx.http_slots.clone().try_acquire_owned() else {
            http::refuse(&mut stream, 503, "too many plain HTTP connections").await;
            return None;
        };
        super::api::serve(stream, request.raw, ctx.hub.clone(), peer, ctx.shutdown.clone()).await;
        drop(slot);
        return None;
    };
    if *ctx.shutdown.borrow() {
        http::refuse(&mut stream, 503, "the server is shutting down").await;
        return None;
    }
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    if stream.write_all(answer.as_bytes()).await.is_err() {
        return None;
    }
    let (read, mut sink) = tokio::io::split(stream);
    let control = Arc::new(Control::default());
    let mut source = FrameReader::new(read, &request.rest, limits.max_frame_bytes, control.clone());
    let counters = ctx.hub.counters();
    counters.connections.fetch_add(1, Ordering::Relaxed);
    let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let hello = tokio::time::timeout_at(handshake_deadline, read_hello(&mut source)).await;
    // The handshake is over (one way or another): the slot goes back.
    drop(handshake);
    match hello {
        Ok(Ok(hello)) => match ctx.hub.open_session(&hello, conn) {
            Ok(opened) => {
                if welcome(&mut sink, &opened, &hello, &ctx, peer).await.is_err() {
                    ctx.hub.detach(&opened.session, conn);
                } else {
                    // The server's shutdown ends the sessions with a connection (`Server::close`),
                    // which closes their outboxes; one that opened while it did so ends here.
                    // The read loop does not wait for it: a `watch` receiver's `changed()` made
                    // every connection's task larger.
                    if *ctx.shutdown.borrow() {
                        ctx.hub.end_session(&opened.session, EndReason::ServerShutdown);
                    }
                    let Opened { session, ready, .. } = opened;
                    let ConnContext { hub, _done: done, .. } = ctx;
                    return Some(Opening { sink, source, control, session, ready, conn, hub, done, peer, slot: place });
                }
            }
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
            let _ =
                send_now(&mut sink, &[codec::close(close::HANDSHAKE_TIMEOUT, "no hello within the handshake timeout")])
                    .await;
        }
    }
    counters.connections.fetch_sub(1, Ordering::Relaxed);
    None
}

/// Sends the `welcome` of a session just opened.
async fn welcome<S: AsyncWrite>(
    sink: &mut Sink<S>,
    opened: &Opened,
    hello: &Hello,
    ctx: &ConnContext,
    peer: SocketAddr,
) -> std::io::Result<()> {
    let hub = &ctx.hub;
    let (session, resumed) = (&opened.session, opened.resumed);
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
    // The welcome is not part of the session's frame sequence: it goes out directly.
    send_now(sink, &[server::welcome(&welcome)]).await
}

/// Sends an error frame and a close frame, for a refused handshake.
async fn refuse<S: AsyncWrite>(sink: &mut Sink<S>, error: &Error, code: u16) {
    tracing::debug!("handshake refused: {error}");
    let _ = send_now(sink, &[server::err(None, error), codec::close(code, &error.to_string())]).await;
}

/// Waits for the `hello` frame. `Err(None)`: the peer went away; `Err(Some(..))`: refuse.
async fn read_hello<S: AsyncRead>(source: &mut Source<S>) -> Result<Hello, Option<(Error, u16)>> {
    #[derive(Deserialize)]
    struct Peek {
        op: Option<String>,
        v: Option<u32>,
    }
    loop {
        let message = match source.next().await {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Err(e.close_code().map(|code| (Error::invalid(e.to_string()), code))),
            None => return Err(None),
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

/// The frames of an open session's connection, until it ends. A function returning an `async`
/// block, not an `async fn`: the block uses its captures in place, where an `async fn` keeps its
/// arguments beside the locals it moves them into (32 bytes of every connection's task).
#[allow(clippy::manual_async_fn)]
fn read_loop<'a, S>(
    source: &'a mut Source<S>,
    session: &'a Arc<Session>,
    conn: u64,
    hub: &'a crate::hub::Hub,
) -> impl std::future::Future<Output = End> + 'a
where
    S: AsyncRead + 'a,
{
    async move {
        let heartbeat = Duration::from_secs(session.heartbeat_secs as u64);
        let dead_after = heartbeat * 2 + Duration::from_millis(500);
        let mut tick = tokio::time::interval((heartbeat / 4).max(Duration::from_millis(250)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_seen = Instant::now();
        let mut close_deadline: Option<Instant> = None;
        let mut bad_frames = crate::hub::BadFrameBudget::new(BAD_FRAME_BURST);
        let rate = hub.config().connection.frames_per_second;
        let mut frames = crate::hub::rate::TokenBucket::with_burst(rate, rate.saturating_mul(2));
        loop {
            tokio::select! {
                item = source.next() => {
                    let message = match item {
                        Some(Ok(message)) => message,
                        Some(Err(e)) => {
                            if matches!(e, ReadError::Utf8 | ReadError::Protocol(_)) {
                                hub.counters().bad_frames.fetch_add(1, Ordering::Relaxed);
                            }
                            if let Some(code) = e.close_code() {
                                session.outbox.close_now(code, e.to_string());
                            }
                            return End::Failed(e.to_string());
                        }
                        None => return End::Closed,
                    };
                    last_seen = Instant::now();
                    match message {
                        Message::Text(_) | Message::Binary(_) if close_deadline.is_none() => {
                            if !frames.try_take() {
                                // Graceful: the answers already queued go out before the close.
                                session.outbox.close(close::POLICY, format!("more than {rate} frames per second"));
                                continue;
                            }
                            handle_frame(message, session, hub, &mut bad_frames);
                        }
                        // The reader put its close reply in `Control`, for the writer.
                        Message::Close(_) => return End::Closed,
                        _ => {}
                    }
                }
                _ = tick.tick() => {
                    if !session.outbox.is_attached(conn) && !session.is_ended() {
                        return End::Replaced;
                    }
                    match close_deadline {
                        Some(deadline) if Instant::now() >= deadline => return End::CloseTimeout,
                        None if last_seen.elapsed() > dead_after => return End::Dead,
                        _ => {}
                    }
                }
                _ = session.outbox.closed(), if close_deadline.is_none() => {
                    // The ticks keep the close deadline: a `Sleep` of its own in this `select!` made
                    // the task of every connection 128 bytes larger for the moments after a close.
                    let deadline = Instant::now() + CLOSE_GRACE;
                    close_deadline = Some(deadline);
                    tick = tokio::time::interval_at(deadline, CLOSE_GRACE);
                }
            }
        }
    }
}

fn handle_frame(
    message: Message,
    session: &Arc<Session>,
    hub: &crate::hub::Hub,
    bad_frames: &mut crate::hub::BadFrameBudget,
) {
    match decode_client(message) {
        Ok(inbound) => match &inbound.frame {
            ClientFrame::Ping(ping) => {
                session.outbox.ack(ping.received);
                hub.push(session, server::pong());
            }
            ClientFrame::Hello(_) => {
                let error = Error::invalid("hello was already received on this connection");
                hub.push(session, server::err(None, &error));
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
                hub.push(session, server::err(e.id, &e.error));
            } else {
                // Graceful: the error frames already queued go out before the close.
                session.outbox.close(close::POLICY, "too many malformed frames");
            }
        }
    }
}

async fn write_loop<S>(
    hub: crate::hub::Hub,
    mut sink: Sink<S>,
    control: Arc<Control>,
    session: Arc<Session>,
    conn: u64,
    ready: Arc<tokio::sync::Notify>,
) where
    S: AsyncWrite,
{
    let mut batch = Batch::default();
    loop {
        tokio::select! {
            biased;
            _ = control.ready.notified() => {
                let bytes = std::mem::take(&mut *control.bytes.lock());
                if sink.write_all(&bytes).await.is_err() || sink.flush().await.is_err() {
                    return;
                }
            }
            attached = session.outbox.next_batch(conn, &ready, &mut batch) => {
                if !attached {
                    if session.outbox.attached().is_some() {
                        // Another connection resumed the session.
                        let close = codec::close(close::GOING_AWAY, "session resumed on another connection");
                        let _ = send_now(&mut sink, &[close]).await;
                    } else {
                        // This connection ended (the peer closed): send what the reader
                        // answered (its close reply).
                        let bytes = std::mem::take(&mut *control.bytes.lock());
                        let _ = sink.write_all(&bytes).await;
                        let _ = sink.flush().await;
                    }
                    return;
                }
                if !batch.bytes.is_empty() && sink.write_all(&batch.bytes).await.is_err() {
                    return;
                }
                if let Some(large) = &batch.large {
                    if sink.write_all(large).await.is_err() {
                        return;
                    }
                }
                if let Some(closing) = batch.close.take() {
                    let _ = send_now(&mut sink, &[codec::close(closing.code, &closing.reason)]).await;
                    return;
                }
                if sink.flush().await.is_err() {
                    return;
                }
                if batch.receipt != 0 {
                    hub.observe_delivery(batch.receipt);
                }
                batch.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a connection's task holds for as long as the connection lasts is the future `serve`
    /// returns (tokio rounds a task up to 128 bytes). It was 1,720 bytes in a release build while
    /// `run_session` took the WebSocket stream (296 bytes) by value — an `async fn` keeps its
    /// arguments besides the locals it moves them into — and a wrapping block held the arguments
    /// of `serve` once more: heaptrack counted 2,048 bytes per connection task. 1,472 bytes in a
    /// test build after that (one node's RSS per connection at 19,000 fell by 0.23 KB), 1,224
    /// since `serve` takes its arguments in a box and runs the session itself (the arguments of
    /// both were kept beside the locals made of them), 968 since the read loop waits neither on
    /// a `Sleep` of its own for the close deadline nor on the shutdown's `watch` (the same in a
    /// release build: its task went from 1,408 bytes, in mimalloc's 1,536-byte class, to 1,152,
    /// in the 1,280 one; 0.27 KB less RSS per connection at 19,000); 696 with Piazza's own frame
    /// reader in place of the WebSocket library's stream (72 bytes where it took 344); 600 since
    /// the read loop is an `async` block (an `async fn` kept its arguments twice) and `serve`
    /// keeps only what serving needs of the context. A task is the future and 160 bytes, in
    /// steps of 128: a future of up to 608 bytes fits 768, one of mimalloc's classes. The bound
    /// keeps it there.
    #[tokio::test]
    async fn a_connection_task_stays_small() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let hub = crate::hub::Hub::new(Arc::new(crate::config::ServerConfig::default()));
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        let slots = Arc::new(tokio::sync::Semaphore::new(2));
        let (handshake, slot) =
            (slots.clone().try_acquire_owned().unwrap(), slots.clone().try_acquire_owned().unwrap());
        let ctx = ConnContext { hub, shutdown, _done: None, handshakes: slots.clone(), http_slots: slots };
        let task = serve(Box::new(Accepted { stream, peer, ctx, handshake, slot }));
        let size = std::mem::size_of_val(&task);
        println!("serve: {size} bytes");
        assert!(size <= 608, "a connection's task holds {size} bytes");
        drop((task, client));
    }
}
