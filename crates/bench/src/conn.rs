//! Connections of the load generator to each peer: subscribers that record every delivery,
//! and publishers that send stamped payloads.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::wire::{self, Nats, Stamp};
use crate::Peer;

pub type Ws = WebSocketStream<TcpStream>;
type Result<T> = std::result::Result<T, String>;

/// How long to wait for any single answer while setting up.
const SETUP: Duration = Duration::from_secs(30);

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn channel_name(channel: u32) -> String {
    format!("c{channel}")
}

pub async fn ws_connect(peer: Peer, addr: &str) -> Result<Ws> {
    ws_connect_from(peer, addr, None).await
}

/// [`ws_connect`] from a given loopback source address (any of 127.0.0.0/8 reaches a server on
/// 127.0.0.1). The kernel picks a connection's source port by trying ports until the four-tuple
/// is free; from one source address to a few server ports, with tens of thousands of
/// connections open, that search made `connect` the machine's busiest call (a third of both
/// cores in a 100,000-connection storm, in `__inet_check_established`). Clients spread over
/// many addresses, as real ones are, find a free port at once.
pub async fn ws_connect_from(peer: Peer, addr: &str, source: Option<std::net::Ipv4Addr>) -> Result<Ws> {
    let path = if peer.protocol() == Peer::SocketIo { "/socket.io/?EIO=4&transport=websocket" } else { "/" };
    let tcp = match source {
        None => TcpStream::connect(addr).await.map_err(err)?,
        Some(source) => {
            use std::os::fd::AsRawFd;
            let target: std::net::SocketAddr = addr.parse().map_err(err)?;
            let socket = tokio::net::TcpSocket::new_v4().map_err(err)?;
            // The port is left to `connect`, which then needs only the four-tuple to be free.
            let on: libc::c_int = 1;
            // SAFETY: a valid socket and a c_int option of the size given.
            let set = unsafe {
                libc::setsockopt(
                    socket.as_raw_fd(),
                    libc::IPPROTO_IP,
                    libc::IP_BIND_ADDRESS_NO_PORT,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if set != 0 {
                return Err(format!("IP_BIND_ADDRESS_NO_PORT: {}", std::io::Error::last_os_error()));
            }
            socket.bind(std::net::SocketAddr::new(source.into(), 0)).map_err(err)?;
            socket.connect(target).await.map_err(err)?
        }
    };
    tcp.set_nodelay(true).map_err(err)?;
    // Small buffers on the generator's side: it holds up to 10,000 connections.
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024).write_buffer_size(16 * 1024);
    let (ws, _) = tokio_tungstenite::client_async_with_config(format!("ws://{addr}{path}"), tcp, Some(config))
        .await
        .map_err(err)?;
    Ok(ws)
}

/// Reads text frames until one satisfies `done`; answers Engine.IO pings on the way.
pub async fn until_text(ws: &mut Ws, what: &str, mut done: impl FnMut(&str) -> bool) -> Result<()> {
    let wait = async {
        while let Some(frame) = ws.next().await {
            match frame.map_err(err)? {
                Message::Text(t) if done(&t) => return Ok(()),
                Message::Text(t) if t.as_str() == "2" => ws.send(Message::Text("3".into())).await.map_err(err)?,
                Message::Text(t) if t.contains(r#""t":"err""#) => return Err(format!("{what}: {t}")),
                Message::Close(c) => return Err(format!("{what}: closed {c:?}")),
                _ => {}
            }
        }
        Err(format!("{what}: connection ended"))
    };
    tokio::time::timeout(SETUP, wait).await.map_err(|_| format!("{what}: no answer in {SETUP:?}"))?
}

pub async fn piazza_hello(ws: &mut Ws, user: &str) -> Result<()> {
    let hello = format!(
        r#"{{"op":"hello","v":1,"appId":"bench","userId":"{user}","heartbeat":60,"presenceTimeout":5,"agent":"piazza-bench"}}"#
    );
    ws.send(Message::Text(hello.into())).await.map_err(err)?;
    until_text(ws, "hello", |t| t.contains(r#""t":"welcome""#)).await
}

async fn sio_open(ws: &mut Ws) -> Result<()> {
    until_text(ws, "engine.io open", |t| t.starts_with('0')).await?;
    ws.send(Message::Text("40".into())).await.map_err(err)?;
    until_text(ws, "socket.io connect", |t| t.starts_with("40")).await
}

/// NATS: INFO, CONNECT, and a PING/PONG round trip so what was sent before is in effect.
pub struct NatsConn {
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    buf: BytesMut,
}

impl NatsConn {
    async fn connect(addr: &str) -> Result<NatsConn> {
        let tcp = TcpStream::connect(addr).await.map_err(err)?;
        tcp.set_nodelay(true).map_err(err)?;
        let (read, write) = tcp.into_split();
        let mut conn = NatsConn { read, write, buf: BytesMut::with_capacity(16 * 1024) };
        conn.write
            .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false,\"lang\":\"rust\",\"version\":\"0\",\"protocol\":1}\r\n")
            .await
            .map_err(err)?;
        Ok(conn)
    }

    async fn next(&mut self) -> Result<Nats> {
        loop {
            if let Some(m) = wire::nats_parse(&mut self.buf)? {
                return Ok(m);
            }
            if self.read.read_buf(&mut self.buf).await.map_err(err)? == 0 {
                return Err("NATS connection closed".into());
            }
        }
    }

    async fn sync(&mut self) -> Result<()> {
        self.write.write_all(b"PING\r\n").await.map_err(err)?;
        let wait = async {
            loop {
                match self.next().await? {
                    Nats::Pong => return Ok(()),
                    Nats::Err(e) => return Err(e),
                    Nats::Ping => self.write.write_all(b"PONG\r\n").await.map_err(err)?,
                    _ => {}
                }
            }
        };
        tokio::time::timeout(SETUP, wait).await.map_err(|_| "NATS: no PONG".to_string())?
    }
}

/// A connected subscriber, subscribed to one channel.
pub enum Subscriber {
    Piazza(Ws),
    Nats(NatsConn),
    SocketIo(Ws),
    Bare(Ws),
}

impl Subscriber {
    /// Connects and subscribes; returns once the subscription is in effect.
    pub async fn connect(peer: Peer, addr: &str, index: usize, channel: u32, presence: bool) -> Result<Subscriber> {
        let name = channel_name(channel);
        Ok(match peer.protocol() {
            Peer::Piazza => {
                let mut ws = ws_connect(peer, addr).await?;
                piazza_hello(&mut ws, &format!("s{index}")).await?;
                let sub = format!(r#"{{"op":"subscribe","id":1,"channel":"{name}","withPresence":{presence}}}"#);
                ws.send(Message::Text(sub.into())).await.map_err(err)?;
                until_text(&mut ws, "subscribe", |t| t.contains(r#""t":"ok""#)).await?;
                Subscriber::Piazza(ws)
            }
            Peer::Nats => {
                let mut conn = NatsConn::connect(addr).await?;
                conn.write.write_all(format!("SUB {name} 1\r\n").as_bytes()).await.map_err(err)?;
                conn.sync().await?;
                Subscriber::Nats(conn)
            }
            Peer::SocketIo => {
                let mut ws = ws_connect(peer, addr).await?;
                sio_open(&mut ws).await?;
                // The server acknowledges the join (42 → 43 with the ack id 1).
                ws.send(Message::Text(format!("421[\"sub\",\"{name}\"]").into())).await.map_err(err)?;
                until_text(&mut ws, "join", |t| t.starts_with("431")).await?;
                Subscriber::SocketIo(ws)
            }
            Peer::Bare => {
                let mut ws = ws_connect(peer, addr).await?;
                ws.send(Message::Text(format!("sub {channel}").into())).await.map_err(err)?;
                until_text(&mut ws, "bare subscribe", |t| t == "ok").await?;
                Subscriber::Bare(ws)
            }
            Peer::PiazzaRedis | Peer::PiazzaTwoNodes | Peer::PiazzaTwoNodesNoRecovery => {
                unreachable!("protocol() speaks Piazza to them")
            }
        })
    }
}

/// What one subscriber saw, shared with the scenario while it runs.
#[derive(Default)]
pub struct Progress {
    /// Messages delivered to this subscriber.
    pub received: AtomicU64,
    /// The highest sequence number seen on its channel.
    pub last_seq: AtomicU64,
}

/// What one subscriber reports at the end.
pub struct Tally {
    pub latency_us: Histogram<u64>,
    pub duplicates: u64,
    pub gaps: u64,
    pub errors: u64,
    /// The connection ended before it was told to stop.
    pub failed: Option<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency_us: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
            duplicates: 0,
            gaps: 0,
            errors: 0,
            failed: None,
        }
    }

    fn delivered(&mut self, stamp: Stamp, progress: &Progress, record: &AtomicBool) {
        let last = progress.last_seq.load(Ordering::Relaxed);
        if stamp.seq <= last {
            self.duplicates += 1;
        } else {
            self.gaps += stamp.seq - last - 1;
            progress.last_seq.store(stamp.seq, Ordering::Release);
        }
        progress.received.fetch_add(1, Ordering::Relaxed);
        if record.load(Ordering::Relaxed) {
            let us = wire::now_ns().saturating_sub(stamp.sent_ns) / 1000;
            let _ = self.latency_us.record(us.max(1));
        }
    }
}

/// Runs a subscriber until `stop`; counts and times every delivery.
pub async fn run_subscriber(
    sub: Subscriber,
    progress: Arc<Progress>,
    record: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
) -> Tally {
    let mut tally = Tally::new();
    let result: Result<()> = async {
        match sub {
            Subscriber::Piazza(mut ws) => {
                // Acknowledge received frames as the SDK does: with its heartbeat (5 s by
                // default, its shortest), and at the next second once 64 frames arrived since
                // the last acknowledgement; the server keeps what is not acknowledged.
                let mut frames = 0u64;
                let (mut acked, mut pinged) = (0u64, Instant::now());
                let mut ack = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tokio::select! {
                        frame = ws.next() => match frame {
                            Some(Ok(Message::Binary(b))) => {
                                frames += 1;
                                match wire::piazza_payload(&b).and_then(Stamp::read_binary) {
                                    Some(stamp) => tally.delivered(stamp, &progress, &record),
                                    None => tally.errors += 1,
                                }
                            }
                            Some(Ok(Message::Text(t))) => {
                                frames += 1;
                                if t.contains(r#""t":"err""#) {
                                    tally.errors += 1;
                                }
                            }
                            Some(Ok(Message::Close(c))) => return Err(format!("closed: {c:?}")),
                            Some(Ok(_)) => {}
                            Some(Err(e)) => return Err(e.to_string()),
                            None => return Err("connection ended".into()),
                        },
                        _ = ack.tick() => {
                            if frames - acked < 64 && pinged.elapsed() < Duration::from_millis(4500) {
                                continue;
                            }
                            let ping = format!(r#"{{"op":"ping","received":{frames}}}"#);
                            ws.send(Message::Text(ping.into())).await.map_err(err)?;
                            (acked, pinged) = (frames, Instant::now());
                        }
                        _ = stop.changed() => return Ok(()),
                    }
                }
            }
            Subscriber::Nats(mut conn) => loop {
                tokio::select! {
                    m = conn.next() => match m? {
                        Nats::Msg(payload) => match Stamp::read_binary(&payload) {
                            Some(stamp) => tally.delivered(stamp, &progress, &record),
                            None => tally.errors += 1,
                        },
                        Nats::Ping => conn.write.write_all(b"PONG\r\n").await.map_err(err)?,
                        Nats::Err(e) => return Err(e),
                        _ => {}
                    },
                    _ = stop.changed() => return Ok(()),
                }
            },
            Subscriber::SocketIo(mut ws) | Subscriber::Bare(mut ws) => loop {
                tokio::select! {
                    frame = ws.next() => match frame {
                        Some(Ok(Message::Text(t))) => {
                            if t.as_str() == "2" {
                                ws.send(Message::Text("3".into())).await.map_err(err)?;
                            } else if let Some(stamp) = wire::sio_stamp(&t) {
                                tally.delivered(stamp, &progress, &record);
                            }
                        }
                        Some(Ok(Message::Binary(b))) => match Stamp::read_binary(&b) {
                            Some(stamp) => tally.delivered(stamp, &progress, &record),
                            None => tally.errors += 1,
                        },
                        Some(Ok(Message::Close(c))) => return Err(format!("closed: {c:?}")),
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(e.to_string()),
                        None => return Err("connection ended".into()),
                    },
                    _ = stop.changed() => return Ok(()),
                }
            },
        }
    }
    .await;
    if let Err(e) = result {
        tally.failed = Some(e);
    }
    tally
}

enum Writer {
    Ws(SplitSink<Ws, Message>),
    Nats(OwnedWriteHalf),
}

/// A connected publisher. A background task drains what the server sends it (answers, pings).
pub struct Publisher {
    peer: Peer,
    writer: Writer,
    /// NATS: bytes not yet written.
    pending: Vec<u8>,
    next_id: u64,
    size: usize,
    /// Frames the server sent (Piazza), for the acknowledgements in pings.
    frames: Arc<AtomicU64>,
    /// Error answers (refused publishes).
    pub errors: Arc<AtomicU64>,
    drain: tokio::task::JoinHandle<()>,
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.drain.abort();
    }
}

async fn drain_ws(mut read: SplitStream<Ws>, frames: Arc<AtomicU64>, errors: Arc<AtomicU64>) {
    while let Some(Ok(frame)) = read.next().await {
        frames.fetch_add(1, Ordering::Relaxed);
        if let Message::Text(t) = frame {
            if t.contains(r#""t":"err""#) {
                errors.fetch_add(1, Ordering::Relaxed);
                if errors.load(Ordering::Relaxed) == 1 {
                    eprintln!("  publisher got an error: {t}");
                }
            }
        }
    }
}

impl Publisher {
    pub async fn connect(peer: Peer, addr: &str, index: usize, size: usize) -> Result<Publisher> {
        let frames = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let (writer, drain) = match peer.protocol() {
            Peer::Nats => {
                let mut conn = NatsConn::connect(addr).await?;
                conn.sync().await?;
                let NatsConn { mut read, write, .. } = conn;
                // Nothing comes back but PINGs every two minutes; a run is shorter.
                let drain = tokio::spawn(async move {
                    let mut sink = [0u8; 4096];
                    while let Ok(1..) = read.read(&mut sink).await {}
                });
                (Writer::Nats(write), drain)
            }
            _ => {
                let mut ws = ws_connect(peer, addr).await?;
                match peer.protocol() {
                    Peer::Piazza => piazza_hello(&mut ws, &format!("p{index}")).await?,
                    Peer::SocketIo => sio_open(&mut ws).await?,
                    _ => {
                        ws.send(Message::Text("pub".into())).await.map_err(err)?;
                        until_text(&mut ws, "bare publisher", |t| t == "ok").await?;
                    }
                }
                let (write, read) = ws.split();
                let drain = tokio::spawn(drain_ws(read, frames.clone(), errors.clone()));
                (Writer::Ws(write), drain)
            }
        };
        Ok(Publisher { peer: peer.protocol(), writer, pending: Vec::new(), next_id: 1, size, frames, errors, drain })
    }

    /// Queues one stamped message for `channel` (sent at the next flush or when buffers fill).
    pub async fn feed(&mut self, stamp: Stamp) -> Result<()> {
        let channel = stamp.stream;
        match (&mut self.writer, self.peer) {
            (Writer::Ws(sink), Peer::Piazza) => {
                let id = self.next_id;
                self.next_id += 1;
                let frame = wire::piazza_publish(id, &channel_name(channel), &stamp.binary(self.size));
                sink.feed(Message::Binary(frame.into())).await.map_err(err)
            }
            (Writer::Ws(sink), Peer::SocketIo) => {
                let text = wire::sio_event("pub", &[&channel_name(channel), &stamp.text(self.size)]);
                sink.feed(Message::Text(text.into())).await.map_err(err)
            }
            (Writer::Ws(sink), _) => {
                let mut frame = channel.to_le_bytes().to_vec();
                frame.extend_from_slice(&stamp.binary(self.size));
                sink.feed(Message::Binary(frame.into())).await.map_err(err)
            }
            (Writer::Nats(write), _) => {
                let payload = stamp.binary(self.size);
                self.pending
                    .extend_from_slice(format!("PUB {} {}\r\n", channel_name(channel), payload.len()).as_bytes());
                self.pending.extend_from_slice(&payload);
                self.pending.extend_from_slice(b"\r\n");
                if self.pending.len() >= 32 * 1024 {
                    write.write_all(&self.pending).await.map_err(err)?;
                    self.pending.clear();
                }
                Ok(())
            }
        }
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> Result<()> {
        match &mut self.writer {
            Writer::Ws(sink) => sink.flush().await.map_err(err),
            Writer::Nats(write) => {
                if !self.pending.is_empty() {
                    write.write_all(&self.pending).await.map_err(err)?;
                    self.pending.clear();
                }
                write.flush().await.map_err(err)
            }
        }
    }

    /// Piazza: acknowledge the frames received so far (the SDK does this with each heartbeat).
    pub async fn ack(&mut self) -> Result<()> {
        if let (Writer::Ws(sink), Peer::Piazza) = (&mut self.writer, self.peer) {
            let ping = format!(r#"{{"op":"ping","received":{}}}"#, self.frames.load(Ordering::Relaxed));
            sink.send(Message::Text(ping.into())).await.map_err(err)?;
        }
        Ok(())
    }
}
