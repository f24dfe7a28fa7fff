//! The WebSocket server: a listener, an accept loop, one task pair per connection, HTTP routes
//! on the same port, and a graceful, idempotent shutdown.
//!
//! Shutdown: [`Server::close`] signals every task through a `watch` channel; each connection
//! ends its session (its outbox drains, then a 1001 close frame goes out), and `close` returns
//! once every connection task has dropped its `done` sender — or after a bounded wait.

mod conn;
mod http;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};

use crate::config::ServerConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::hub::{Hub, Stats};

/// How long `close()` waits for connections to drain before it gives up on them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

struct Inner {
    hub: Hub,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    /// Receives `None` once every task holding a `done` sender has finished.
    done: tokio::sync::Mutex<Option<mpsc::Receiver<()>>>,
}

/// A running server node. Cheap to clone; all clones control the same server.
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

/// What every connection task gets.
#[derive(Clone)]
pub(crate) struct ConnContext {
    pub hub: Hub,
    pub shutdown: watch::Receiver<bool>,
    /// Dropped when the task ends; `close()` waits for all of them.
    pub _done: mpsc::Sender<()>,
}

impl Server {
    /// Binds and starts serving. Must be called inside a tokio runtime.
    pub async fn start(config: ServerConfig) -> Result<Server> {
        config.validate()?;
        crate::logging::init(config.log_level.as_deref())?;
        let listener = TcpListener::bind((config.host.as_str(), config.port)).await.map_err(|e| {
            Error::new(ErrorCode::InitServiceFailed, format!("cannot listen on {}:{}: {e}", config.host, config.port))
        })?;
        let addr = listener.local_addr().map_err(|e| Error::new(ErrorCode::InitServiceFailed, e.to_string()))?;
        let max_connections = config.connection.max_connections;
        let hub = Hub::new(Arc::new(config));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (done_tx, done_rx) = mpsc::channel(1);
        let ctx = ConnContext { hub: hub.clone(), shutdown: shutdown_rx, _done: done_tx };
        tokio::spawn(interval_flusher(ctx.clone()));
        tokio::spawn(accept_loop(listener, ctx, Arc::new(Semaphore::new(max_connections))));
        tracing::info!("piazza server listening on ws://{addr}");
        Ok(Server { inner: Arc::new(Inner { hub, addr, shutdown, done: tokio::sync::Mutex::new(Some(done_rx)) }) })
    }

    /// `ws://host:port` of this server.
    pub fn url(&self) -> String {
        format!("ws://{}", self.inner.addr)
    }

    pub fn port(&self) -> u16 {
        self.inner.addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    pub fn stats(&self) -> Stats {
        self.inner.hub.stats()
    }

    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    /// Graceful shutdown: stop accepting, tell every client (close 1001 after its queue
    /// drained), wait for the connections to finish. Idempotent; concurrent calls all return
    /// once the server is closed.
    pub async fn close(&self) {
        let _ = self.inner.shutdown.send(true);
        let mut done = self.inner.done.lock().await;
        if let Some(mut rx) = done.take() {
            if tokio::time::timeout(DRAIN_TIMEOUT, rx.recv()).await.is_err() {
                tracing::warn!("some connections did not finish within {DRAIN_TIMEOUT:?}; closing anyway");
            }
            tracing::info!("piazza server on {} closed", self.inner.addr);
        }
    }

    /// TRTC RemoveUser: removes up to 10 users from a room (they get `onExitRoom(1)`, the others
    /// `onRemoteUserLeaveRoom(userId, 2)`) and bans them from it for `rooms.kickBanSeconds`.
    pub fn remove_users(
        &self,
        app: &str,
        room: &crate::protocol::RoomId,
        users: &[String],
    ) -> std::result::Result<crate::hub::room::RemoveUsersResult, crate::hub::room::AdminError> {
        self.inner.hub.remove_users(app, room, users, "server API")
    }

    /// TRTC DismissRoom: every member gets `onExitRoom(2)`; the room is gone.
    pub fn dismiss_room(
        &self,
        app: &str,
        room: &crate::protocol::RoomId,
    ) -> std::result::Result<crate::hub::room::DismissResult, crate::hub::room::AdminError> {
        self.inner.hub.dismiss_room(app, room, "server API")
    }

    /// Whether `close()` has been called.
    pub fn is_closing(&self) -> bool {
        *self.inner.shutdown.borrow()
    }
}

/// Sends the INTERVAL events of crowded channels every `presence.intervalSeconds`.
async fn interval_flusher(ctx: ConnContext) {
    let period = Duration::from_secs_f64(ctx.hub.config().presence.interval_seconds);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut shutdown = ctx.shutdown.clone();
    loop {
        tokio::select! {
            _ = tick.tick() => ctx.hub.flush_intervals(),
            _ = shutdown.changed() => return,
        }
    }
}

async fn accept_loop(listener: TcpListener, ctx: ConnContext, slots: Arc<Semaphore>) {
    let mut shutdown = ctx.shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    match slots.clone().try_acquire_owned() {
                        Ok(permit) => {
                            let ctx = ctx.clone();
                            tokio::spawn(async move {
                                conn::serve(stream, peer, ctx).await;
                                drop(permit);
                            });
                        }
                        Err(_) => {
                            tracing::warn!(%peer, "connection limit reached; refusing");
                            tokio::spawn(http::refuse_busy(stream));
                        }
                    }
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = shutdown.changed() => break,
        }
    }
}
