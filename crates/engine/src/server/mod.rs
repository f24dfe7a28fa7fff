//! The WebSocket server: a listener, an accept loop, one task pair per connection, HTTP routes
//! on the same port, and a graceful, idempotent shutdown.
//!
//! Shutdown: [`Server::close`] signals every task through a `watch` channel; each connection
//! ends its session (its outbox drains, then a 1001 close frame goes out), and `close` returns
//! once every connection task has dropped its `done` sender — or after a bounded wait.

pub mod api;
mod conn;
mod http;
mod metrics;
mod wsread;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;
use std::net::IpAddr;

use parking_lot::Mutex;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::config::ServerConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::hub::{Hub, Stats};

/// Plain HTTP connections open at once; more are refused with 503.
pub const HTTP_CONNECTIONS: usize = 1024;

/// How long `close()` waits for connections to drain before it gives up on them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

struct Inner {
    hub: Hub,
    addr: SocketAddr,
    secure: bool,
    shutdown: watch::Sender<bool>,
    /// Ends the accept loop, once the drain is over: until then new connections get plain HTTP
    /// (a readiness probe sees the 503 of a draining node) and WebSocket upgrades get 503.
    stop_accepting: watch::Sender<bool>,
    /// Receives `None` once every task holding a `done` sender has finished.
    done: tokio::sync::Mutex<Option<mpsc::Receiver<()>>>,
    /// The accept loop: `close()` waits for it to let go of the port.
    accepting: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
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
    /// Dropped when the task ends; `close()` waits for all of them (`None` in the accept
    /// loop's own copy: it outlives the drain).
    pub _done: Option<mpsc::Sender<()>>,
    /// Connections that have not said a valid hello yet.
    pub handshakes: Arc<Semaphore>,
    /// Plain HTTP connections (probes, metrics, the backend API, the admin page) open at once.
    pub http_slots: Arc<Semaphore>,
}

/// Loads the certificate chain and key of `tls`.
fn tls_acceptor(tls: &crate::config::TlsConfig) -> Result<TlsAcceptor> {
    let fail =
        |what: &str, e: &dyn std::fmt::Display| Error::new(ErrorCode::InitServiceFailed, format!("TLS {what}: {e}"));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert_path)
        .map_err(|e| fail(&format!("cannot read {}", tls.cert_path.display()), &e))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| fail("certificate", &e))?;
    if certs.is_empty() {
        return Err(fail("certificate", &format!("{} holds no certificate", tls.cert_path.display())));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key_path)
        .map_err(|e| fail(&format!("key {}", tls.key_path.display()), &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail("protocol versions", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| fail("certificate and key", &e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Where storage, locks and history live: Redis in cluster mode, a database file with
/// `storage.path`, else memory.
async fn open_store(config: &ServerConfig) -> Result<Arc<dyn crate::store::Store>> {
    if let Some(url) = &config.redis_url {
        let store = crate::store::RedisStore::connect(url.expose(), &config.cluster.prefix).await?;
        return Ok(Arc::new(store));
    }
    if let Some(path) = &config.storage.path {
        let dir = std::path::PathBuf::from(path);
        let sync = std::time::Duration::from_millis(config.storage.history_sync_ms);
        let store = tokio::task::spawn_blocking(move || crate::store::SqliteStore::open_with(&dir, sync))
            .await
            .map_err(|e| Error::new(ErrorCode::InitServiceFailed, format!("opening the storage database: {e}")))??;
        tracing::info!(path = %path, "storage in a database file");
        return Ok(Arc::new(store));
    }
    Ok(Arc::new(crate::store::MemoryStore::new()))
}

impl Server {
    /// Binds and starts serving. Must be called inside a tokio runtime. With `redisUrl` the
    /// node joins the cluster on that Redis (which must be reachable now).
    pub async fn start(config: ServerConfig) -> Result<Server> {
        config.validate()?;
        let bus: Option<Arc<dyn crate::cluster::bus::Bus>> = match &config.redis_url {
            Some(url) => {
                let node = config.cluster.node_id.clone().unwrap_or_else(random_node_id);
                let timeout = Duration::from_millis(config.cluster.node_timeout_ms);
                let bus =
                    crate::cluster::redis::RedisBus::connect(url.expose(), &config.cluster.prefix, &node, timeout)
                        .await?;
                tracing::info!(node = %node, prefix = %config.cluster.prefix, "cluster mode on Redis");
                Some(bus)
            }
            None => None,
        };
        Self::start_on(config, bus).await
    }

    /// Starts a node on a given cluster bus (`None`: alone). Tests use this with
    /// [`crate::cluster::bus::MemoryNet`].
    pub async fn start_on(config: ServerConfig, bus: Option<Arc<dyn crate::cluster::bus::Bus>>) -> Result<Server> {
        config.validate()?;
        let listener = listen(&config.host, config.port).await.map_err(|e| {
            Error::new(ErrorCode::InitServiceFailed, format!("cannot listen on {}:{}: {e}", config.host, config.port))
        })?;
        let addr = listener.local_addr().map_err(|e| Error::new(ErrorCode::InitServiceFailed, e.to_string()))?;
        let acceptor = config.tls.as_ref().map(tls_acceptor).transpose()?;
        let secure = acceptor.is_some();
        let max_connections = config.connection.max_connections;
        let handshakes = Arc::new(Semaphore::new(config.connection.max_pending_handshakes));
        if config.apps.is_empty() {
            tracing::warn!(
                "DEVELOPMENT MODE: no app certificates configured, so any app id, user id and token is accepted. \
                 Configure `apps: {{ <id>: {{ certificate }} }}` before exposing this server."
            );
        }
        let store = open_store(&config).await?;
        let config = Arc::new(config);
        let hub = match bus {
            Some(bus) => {
                let keep = (config.cluster.recovery_messages > 0).then_some(crate::cluster::LogKeep {
                    messages: config.cluster.recovery_messages,
                    seconds: config.cluster.recovery_seconds,
                });
                Hub::with_cluster(config, crate::cluster::Cluster::new(bus, keep), store)
            }
            None => Hub::with_store(config, store),
        };
        if let Some(webhooks) = &hub.config().webhooks {
            let node = hub.config().cluster.node_id.clone().unwrap_or_else(random_node_id);
            hub.set_webhooks(crate::webhook::Webhooks::start(webhooks.clone(), &node)?);
        }
        if hub.storage().kind() == "sqlite" {
            // A single node that restarted: nobody holds a lock any more.
            let freed = hub.storage().free_all_locks().await?;
            if freed > 0 {
                tracing::info!(freed, "locks held before the restart were freed");
            }
        }
        // The bus reports its link a moment after it started: a node that serves before that
        // would refuse its first cluster-wide requests ("cannot reach the cluster's Redis").
        let linked = std::time::Instant::now();
        while hub.cluster_up() == Some(false) {
            if linked.elapsed() >= Duration::from_secs(5) {
                tracing::warn!("the cluster's Redis link is not up after 5 s; serving anyway (cluster-wide requests are refused until it is)");
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (done_tx, done_rx) = mpsc::channel(1);
        let done = done_tx.downgrade();
        let http_slots = Arc::new(Semaphore::new(HTTP_CONNECTIONS));
        let ctx = ConnContext { hub: hub.clone(), shutdown: shutdown_rx, _done: Some(done_tx), handshakes, http_slots };
        tokio::spawn(interval_flusher(ctx.clone()));
        let ctx = ConnContext { _done: None, ..ctx };
        let (stop_accepting, accepting) = watch::channel(false);
        let slots = Arc::new(Semaphore::new(max_connections));
        let accepting = tokio::spawn(accept_loop(listener, ctx, done, slots, acceptor, accepting));
        let scheme = if secure { "wss" } else { "ws" };
        tracing::info!("piazza server listening on {scheme}://{addr}");
        Ok(Server {
            inner: Arc::new(Inner {
                hub,
                addr,
                secure,
                shutdown,
                stop_accepting,
                done: tokio::sync::Mutex::new(Some(done_rx)),
                accepting: tokio::sync::Mutex::new(Some(accepting)),
            }),
        })
    }

    /// `ws://host:port` of this server (`wss://` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.inner.secure { "wss" } else { "ws" };
        format!("{scheme}://{}", self.inner.addr)
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

    /// Graceful shutdown: refuse new WebSocket connections (503; plain HTTP is still served, so
    /// `/readyz` answers 503 while draining), stop the hub's timers (presence timeouts, token
    /// expiry, reaping), tell every client (close 1001 after its queue drained), wait for the
    /// connections to finish, then stop listening. Idempotent; concurrent calls all return once the server is
    /// closed. Once the last `Server` handle is dropped, no task holds the hub any more.
    pub async fn close(&self) {
        // Locks first: a node that is stopped leaves no lock held (its timers stop below).
        self.inner.hub.release_all_locks().await;
        let _ = self.inner.shutdown.send(true);
        // Every session with a connection is told (close 1001 once its queue drained); one
        // still opening (its login hook not yet run) is left to its connection, which sees the
        // flag above once the opening is done and ends it.
        let hub = &self.inner.hub;
        for session in hub.sessions() {
            let open = {
                let state = session.state.lock();
                state.opened && !state.detached
            };
            if open {
                hub.end_session(&session, crate::hub::EndReason::ServerShutdown);
            }
        }
        self.inner.hub.stop();
        let mut done = self.inner.done.lock().await;
        if let Some(mut rx) = done.take() {
            if tokio::time::timeout(DRAIN_TIMEOUT, rx.recv()).await.is_err() {
                tracing::warn!("some connections did not finish within {DRAIN_TIMEOUT:?}; closing anyway");
            }
            // The logouts of the shutdown are queued for the webhooks: a moment to send them.
            self.inner.hub.close_webhooks(Duration::from_secs(2)).await;
            self.inner.hub.leave_cluster();
            let _ = self.inner.stop_accepting.send(true);
            if let Some(accepting) = self.inner.accepting.lock().await.take() {
                let _ = accepting.await;
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

    /// The hub's shared state, weakly: it is gone once the server is closed and dropped.
    #[doc(hidden)]
    pub fn hub_weak(&self) -> std::sync::Weak<dyn std::any::Any + Send + Sync> {
        self.inner.hub.weak()
    }

    /// Whether `close()` has been called.
    pub fn is_closing(&self) -> bool {
        *self.inner.shutdown.borrow()
    }
}

/// A node id for a cluster node that was not given one.
fn random_node_id() -> String {
    format!("node-{:08x}", rand::random::<u32>())
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

/// New connections per IP address, pruned when the table grows.
#[derive(Default)]
struct PerIp {
    buckets: HashMap<IpAddr, crate::hub::rate::TokenBucket>,
}

impl PerIp {
    fn admit(&mut self, ip: IpAddr, rate: u32) -> bool {
        if rate == 0 {
            return true;
        }
        if self.buckets.len() > 10_000 {
            self.buckets.retain(|_, b| !b.is_full());
        }
        self.buckets.entry(ip).or_insert_with(|| crate::hub::rate::TokenBucket::new(rate)).try_take()
    }
}

async fn accept_loop(
    listener: TcpListener,
    ctx: ConnContext,
    done: mpsc::WeakSender<()>,
    slots: Arc<Semaphore>,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    let per_ip = Mutex::new(PerIp::default());
    let ip_rate = ctx.hub.config().connection.connections_per_ip_per_second;
    let handshake = Duration::from_millis(ctx.hub.config().connection.handshake_timeout_ms);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    if !per_ip.lock().admit(peer.ip(), ip_rate) {
                        tracing::warn!(%peer, "too many new connections from this address; refusing");
                        tokio::spawn(http::refuse(stream, 429, "too many connections from your address"));
                        continue;
                    }
                    let permit = match (slots.clone().try_acquire_owned(), ctx.handshakes.clone().try_acquire_owned()) {
                        (Ok(permit), Ok(handshake_permit)) => (permit, handshake_permit),
                        _ => {
                            tracing::warn!(%peer, "connection or handshake limit reached; refusing");
                            tokio::spawn(http::refuse(stream, 503, "server at its connection limit"));
                            continue;
                        }
                    };
                    // A connection accepted while the server drains gets a short answer (503, or the
                    // readiness probe's) and is not waited for.
                    let draining = *ctx.shutdown.borrow();
                    let ctx = ConnContext { _done: if draining { None } else { done.upgrade() }, ..ctx.clone() };
                    let (permit, handshake_permit) = permit;
                    // Plain and TLS connections are separate tasks: a task is as big as its
                    // largest state, and a plain connection must not pay for a TLS one.
                    match tls.clone() {
                        None => {
                            let accepted = conn::Accepted { stream, peer, ctx, handshake: handshake_permit, slot: permit };
                            tokio::spawn(conn::serve(Box::new(accepted)));
                        }
                        Some(acceptor) => {
                            tokio::spawn(async move {
                                match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                                    Ok(Ok(tls_stream)) => {
                                        let accepted = conn::Accepted {
                                            stream: tls_stream,
                                            peer,
                                            ctx,
                                            handshake: handshake_permit,
                                            slot: permit,
                                        };
                                        conn::serve(Box::new(accepted)).await
                                    }
                                    // The permits go with the task.
                                    Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                                }
                            });
                        }
                    }
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
}

/// Connections the kernel holds for `accept` (capped by `net.core.somaxconn`). Tokio's default,
/// 128, overflowed in a storm of 19,000 connections (400 handshakes at once): the dropped SYNs
/// were sent again a second later, so 1 % of the clients took over a second to connect.
const LISTEN_BACKLOG: u32 = 4096;

/// Listens on the first address `host` resolves to that can be bound (as
/// `TcpListener::bind` does), with [`LISTEN_BACKLOG`].
async fn listen(host: &str, port: u16) -> std::io::Result<TcpListener> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "the host resolves to no address");
    for addr in tokio::net::lookup_host((host, port)).await? {
        let bound = (|| {
            let socket =
                if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
            // As std does on Unix (a restarted server rebinds past TIME_WAIT); on Windows the
            // option would let two servers share a port.
            #[cfg(unix)]
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            socket.listen(LISTEN_BACKLOG)
        })();
        match bound {
            Ok(listener) => return Ok(listener),
            Err(e) => last = e,
        }
    }
    Err(last)
}
