//! A TCP proxy for fault tests: sits between clients and a server and can cut every connection
//! abruptly, stall them (half-open: sockets stay open, nothing moves), refuse new ones, or hold
//! every answer (server to client) for a while, as a busy server would.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Flowing,
    Stalled,
}

struct Shared {
    target: Mutex<SocketAddr>,
    refuse: Mutex<bool>,
    mode: watch::Sender<Mode>,
    links: Mutex<Vec<JoinHandle<()>>>,
    /// How long each chunk from the server is held before it goes on to the client.
    delay: Arc<Mutex<Duration>>,
}

pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(Mode::Flowing);
        let shared = Arc::new(Shared {
            target: Mutex::new(target),
            refuse: Mutex::new(false),
            mode,
            links: Mutex::new(Vec::new()),
            delay: Arc::new(Mutex::new(Duration::ZERO)),
        });
        let accept_shared = shared.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                if *accept_shared.refuse.lock() {
                    drop(client);
                    continue;
                }
                let target = *accept_shared.target.lock();
                let mode = accept_shared.mode.subscribe();
                let delay = accept_shared.delay.clone();
                let link = tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else { return };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let (held_tx, held_rx) = tokio::sync::mpsc::unbounded_channel();
                    tokio::join!(
                        pump(cr, sw, mode.clone()),
                        pump(sr, HoldTx(held_tx), mode),
                        release(held_rx, cw, delay)
                    );
                });
                accept_shared.links.lock().push(link);
            }
        });
        Proxy { addr, shared, accept }
    }

    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Closes every proxied connection at once (both sides see the TCP connection die).
    pub fn cut(&self) {
        for link in self.shared.links.lock().drain(..) {
            link.abort();
        }
    }

    /// Stops forwarding on existing connections without closing them (half-open).
    pub fn stall(&self) {
        let _ = self.shared.mode.send(Mode::Stalled);
    }

    /// Forgets stalled connections (closes them) and forwards again.
    pub fn unstall(&self) {
        self.cut();
        let _ = self.shared.mode.send(Mode::Flowing);
    }

    /// Refuses (closes at once) new connections while `refuse` is set.
    pub fn refuse(&self, refuse: bool) {
        *self.shared.refuse.lock() = refuse;
    }

    /// Holds every chunk the server sends for `delay` before passing it on (order kept).
    pub fn delay_answers(&self, delay: Duration) {
        *self.shared.delay.lock() = delay;
    }

    /// Sends new connections to another server.
    pub fn retarget(&self, target: SocketAddr) {
        *self.shared.target.lock() = target;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Where a pump writes: the other socket, or the queue of held answers.
trait Sink {
    async fn put(&mut self, bytes: &[u8]) -> std::io::Result<()>;
}

impl Sink for tokio::net::tcp::OwnedWriteHalf {
    async fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write_all(bytes).await
    }
}

struct HoldTx(tokio::sync::mpsc::UnboundedSender<(Instant, Vec<u8>)>);

impl Sink for HoldTx {
    async fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.send((Instant::now(), bytes.to_vec())).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
    }
}

/// Passes held chunks on once each has waited the proxy's delay.
async fn release(
    mut held: tokio::sync::mpsc::UnboundedReceiver<(Instant, Vec<u8>)>,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Arc<Mutex<Duration>>,
) {
    while let Some((read_at, bytes)) = held.recv().await {
        let due = read_at + *delay.lock();
        tokio::time::sleep_until(due.into()).await;
        if to.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

async fn pump(mut from: tokio::net::tcp::OwnedReadHalf, mut to: impl Sink, mut mode: watch::Receiver<Mode>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if *mode.borrow_and_update() == Mode::Stalled {
            // Hold the sockets open and move nothing until the link is cut.
            if mode.changed().await.is_err() {
                return;
            }
            continue;
        }
        tokio::select! {
            read = from.read(&mut buf) => {
                let n = match read { Ok(0) | Err(_) => return, Ok(n) => n };
                if *mode.borrow() == Mode::Stalled {
                    continue; // swallowed, as by a dead network
                }
                if to.put(&buf[..n]).await.is_err() {
                    return;
                }
            }
            _ = mode.changed() => {}
        }
    }
}
