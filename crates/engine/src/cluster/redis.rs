//! The Redis bus (the `redis` crate: maintained, tokio-native, with a reconnecting
//! multiplexed connection and async pub/sub).
//!
//! Keys and channels, all under `<prefix>:`:
//! - `t:<topic>` — pub/sub channels: one per route with members somewhere, and `t:directory`;
//! - `dir:<node>` — HASH of the node's directory entries (JSON), expiring unless refreshed;
//! - `node:<node>` — the node's heartbeat, a key with a TTL of the node timeout;
//! - `nodes` — SET of the nodes that joined (the dead are removed by their claimer);
//! - `reap:<node>` — who claimed a dead node (SET NX, expiring).
//!
//! Commands go out in order from one task, pipelined in batches; pub/sub has its own
//! connection, re-established (and re-subscribed) after a loss. Pub/sub is at-most-once: what
//! was published while a node's subscription connection was down is lost to that node.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{mpsc, watch};

use super::bus::{Bus, BusSink, LogKeep, LogRead, DIRECTORY_TOPIC};
use super::heartbeat::Heartbeat;
use crate::error::{Error, ErrorCode, Result};

enum Op {
    Publish(String, Bytes),
    /// Keys of the offset counter, the log stream and the topic; the bytes; what to keep.
    Log([String; 3], Bytes, LogKeep),
    Store(String, Option<Bytes>),
    Forget(String),
    Reload(Option<String>),
    Close,
}

enum SubOp {
    Subscribe(Arc<str>),
    Unsubscribe(Arc<str>),
}

struct Pending {
    ops: mpsc::UnboundedReceiver<Op>,
    subs: mpsc::UnboundedReceiver<SubOp>,
    commands: ConnectionManager,
    /// For the heartbeat's own connection, and fresh command connections.
    connector: Connector,
}

/// One node on a Redis server.
pub struct RedisBus {
    node: String,
    prefix: String,
    client: redis::Client,
    node_timeout: Duration,
    ops: mpsc::UnboundedSender<Op>,
    subs: mpsc::UnboundedSender<SubOp>,
    pending: Mutex<Option<Pending>>,
    /// `true` once the node left: ends its heartbeat and pub/sub tasks (so does dropping it).
    closed: watch::Sender<bool>,
    /// For reads that need an answer (recovery logs), beside the command task's pipeline.
    reads: ConnectionManager,
    /// Which subscriptions are active, and who waits for one.
    active: Arc<Mutex<Active>>,
}

/// The topics (full channel names) the pub/sub connection has subscribed, confirmed by Redis,
/// and the waiters for others.
#[derive(Default)]
struct Active {
    topics: HashSet<Arc<str>>,
    waiters: HashMap<String, Vec<tokio::sync::oneshot::Sender<()>>>,
}

impl Active {
    fn confirmed(&mut self, topic: &Arc<str>) {
        self.topics.insert(topic.clone());
        for waiter in self.waiters.remove(&**topic).unwrap_or_default() {
            let _ = waiter.send(());
        }
    }
}

/// Appends a message to a topic's recovery log and publishes it with its offset (see
/// [`Bus::log`]). KEYS: offset counter, log stream, topic; ARGV: bytes, messages, seconds of
/// the log, seconds of the counter (it outlives the log: a client whose offset equals it after
/// a quiet spell missed nothing).
const LOG_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local o = redis.call('INCR', KEYS[1])
if o == 1 then
  -- A new log (or one that expired): its offsets start above any it had before.
  o = redis.call('INCRBY', KEYS[1], now * 1000)
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'o', o, 'p', ARGV[1])
redis.call('XTRIM', KEYS[2], 'MINID', '~', now - tonumber(ARGV[3]) * 1000)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[3])
-- Lua's tostring would print a large offset in exponent form.
redis.call('PUBLISH', KEYS[3], 'L' .. string.format('%.0f', o) .. '\n' .. ARGV[1])
return o
"#;

/// Reads a recovery log after an offset. KEYS: offset counter, log stream; ARGV: after, at
/// most. Returns the last offset, then offset and bytes of each entry, oldest first.
const READ_SCRIPT: &str = r#"
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = last - tonumber(ARGV[1])
local out = {last}
if n <= 0 then return out end
if n > tonumber(ARGV[2]) then n = tonumber(ARGV[2]) end
local rows = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', n)
for i = #rows, 1, -1 do
  local f = rows[i][2]
  out[#out + 1] = f[2]
  out[#out + 1] = f[4]
end
return out
"#;

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        f.debug_struct("RedisBus").field("node", &self.node).field("prefix", &self.prefix).finish()
    }
}

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::InitServiceFailed, format!("cannot reach Redis for cluster mode: {e}"))
}

impl RedisBus {
    /// Connects to Redis (it must be reachable now; later outages are survived).
    pub async fn connect(url: &str, prefix: &str, node: &str, node_timeout: Duration) -> Result<Arc<RedisBus>> {
        let client = redis::Client::open(url).map_err(|e| Error::invalid(format!("redisUrl: {}", e.category())))?;
        // Answers wait up to the node timeout (see `Connector`).
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(node_timeout))
            .set_response_timeout(Some(node_timeout))
            .set_number_of_retries(1)
            .set_max_delay((node_timeout / 3).max(Duration::from_millis(100)));
        let connector = Connector { client: client.clone(), config, timeout: node_timeout };
        let commands = connector.connect().await.map_err(unavailable)?;
        let mut probe = commands.clone();
        redis::cmd("PING").query_async::<()>(&mut probe).await.map_err(unavailable)?;
        let reads = commands.clone();
        let (ops_tx, ops) = mpsc::unbounded_channel();
        let (subs_tx, subs) = mpsc::unbounded_channel();
        Ok(Arc::new(RedisBus {
            node: node.to_string(),
            prefix: prefix.to_string(),
            client,
            node_timeout,
            ops: ops_tx,
            subs: subs_tx,
            pending: Mutex::new(Some(Pending { ops, subs, commands, connector })),
            closed: watch::channel(false).0,
            reads,
            active: Arc::new(Mutex::new(Active::default())),
        }))
    }

    fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.prefix)
    }
}

impl Bus for RedisBus {
    fn node(&self) -> &str {
        &self.node
    }

    fn start(&self, sink: Weak<dyn BusSink>) {
        let Some(Pending { ops, subs, commands, connector }) = self.pending.lock().take() else { return };
        let keys = Keys { prefix: self.prefix.clone(), node: self.node.clone() };
        // How often the link was reported down: a heartbeat's "up" counts only if no "down" was
        // reported since it began (a beat answered just before Redis went away must not undo
        // the pub/sub connection's news).
        let downs = Arc::new(AtomicU64::new(0));
        tokio::spawn(command_loop(keys.clone(), commands, connector.clone(), ops, sink.clone(), downs.clone()));
        // The command task ends by itself once it has sent the goodbye of `close`.
        Heartbeat::new(keys.clone(), connector, downs.clone()).start(self.closed.subscribe(), sink.clone());
        let reader = reader_thread(self.closed.subscribe());
        let pubsub =
            pubsub_loop(keys, self.client.clone(), reader, subs, sink, self.active.clone(), self.node_timeout, downs);
        tokio::spawn(until_closed(self.closed.subscribe(), pubsub));
    }

    fn publish(&self, topic: &str, bytes: Bytes) {
        let _ = self.ops.send(Op::Publish(self.key(&format!("t:{topic}")), bytes));
    }

    fn log(&self, topic: &str, bytes: Bytes, keep: LogKeep) {
        let keys =
            [self.key(&format!("logseq:{topic}")), self.key(&format!("log:{topic}")), self.key(&format!("t:{topic}"))];
        let _ = self.ops.send(Op::Log(keys, bytes, keep));
    }

    fn read_log(
        &self,
        topic: &str,
        after: u64,
        keep: LogKeep,
    ) -> BoxFuture<'static, std::result::Result<LogRead, String>> {
        let mut conn = self.reads.clone();
        let (seq, log) = (self.key(&format!("logseq:{topic}")), self.key(&format!("log:{topic}")));
        Box::pin(async move {
            let values: Vec<redis::Value> = redis::cmd("EVAL")
                .arg(READ_SCRIPT)
                .arg(2)
                .arg(&seq)
                .arg(&log)
                .arg(after)
                .arg(keep.messages)
                .query_async(&mut conn)
                .await
                .map_err(|e| format!("reading the recovery log failed: {e}"))?;
            let number = |v: &redis::Value| -> Option<u64> {
                match v {
                    redis::Value::Int(n) => u64::try_from(*n).ok(),
                    redis::Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
                    _ => None,
                }
            };
            let bad = || "the recovery log answered something unexpected".to_string();
            let last = values.first().and_then(number).ok_or_else(bad)?;
            let mut entries = Vec::with_capacity(values.len() / 2);
            for pair in values[1..].chunks(2) {
                let [offset, redis::Value::BulkString(bytes)] = pair else { return Err(bad()) };
                let offset = number(offset).ok_or_else(bad)?;
                if offset > after {
                    entries.push((offset, Bytes::copy_from_slice(bytes)));
                }
            }
            Ok(LogRead { entries, last })
        })
    }

    fn subscribe(&self, topic: &str) {
        let _ = self.subs.send(SubOp::Subscribe(self.key(&format!("t:{topic}")).into()));
    }

    fn subscribed(&self, topic: &str) -> BoxFuture<'static, ()> {
        let full = self.key(&format!("t:{topic}"));
        let mut active = self.active.lock();
        if active.topics.contains(full.as_str()) {
            return Box::pin(async {});
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        active.waiters.entry(full).or_default().push(tx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }

    fn unsubscribe(&self, topic: &str) {
        let full = self.key(&format!("t:{topic}"));
        // Not active from now on: a recovery waits for the subscription that follows.
        self.active.lock().topics.remove(full.as_str());
        let _ = self.subs.send(SubOp::Unsubscribe(full.into()));
    }

    fn store(&self, key: &str, value: Option<Bytes>) {
        let _ = self.ops.send(Op::Store(key.to_string(), value));
    }

    fn forget(&self, node: &str) {
        let _ = self.ops.send(Op::Forget(node.to_string()));
    }

    fn reload(&self, node: Option<&str>) {
        let _ = self.ops.send(Op::Reload(node.map(str::to_string)));
    }

    fn close(&self) {
        self.closed.send_replace(true);
        let _ = self.ops.send(Op::Close);
    }
}

/// Opens command connections whose answers may take up to the node timeout: a busy Redis, or
/// this node's own runtime busy with a storm of connections, is late without being away. Only
/// no answer within the node timeout (after which the other nodes count this node as dead) or a
/// dead connection is an outage.
#[derive(Clone)]
pub(super) struct Connector {
    client: redis::Client,
    config: ConnectionManagerConfig,
    pub(super) timeout: Duration,
}

impl Connector {
    pub(super) async fn connect(&self) -> std::result::Result<ConnectionManager, String> {
        match tokio::time::timeout(self.timeout, self.client.get_connection_manager_with_config(self.config.clone()))
            .await
        {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out".into()),
        }
    }
}

/// Runs `task` until the bus is closed or dropped.
pub(super) async fn until_closed(mut closed: watch::Receiver<bool>, task: impl std::future::Future<Output = ()>) {
    tokio::select! {
        biased;
        _ = closed.wait_for(|closed| *closed) => {}
        () = task => {}
    }
}

#[derive(Clone)]
pub(super) struct Keys {
    pub(super) prefix: String,
    pub(super) node: String,
}

impl Keys {
    pub(super) fn dir(&self, node: &str) -> String {
        format!("{}:dir:{node}", self.prefix)
    }
    pub(super) fn heartbeat(&self, node: &str) -> String {
        format!("{}:node:{node}", self.prefix)
    }
    pub(super) fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }
    pub(super) fn reap(&self, node: &str) -> String {
        format!("{}:reap:{node}", self.prefix)
    }
    fn topic_prefix(&self) -> String {
        format!("{}:t:", self.prefix)
    }
}

/// How long a node's directory outlives its last heartbeat: longer than any presence timeout,
/// so the claimer of a dead node can still read it.
pub(super) const DIRECTORY_TTL_MS: u64 = 15 * 60 * 1000;
/// Ops taken in one pipeline.
const BATCH: usize = 512;
/// How long a recovery log's offset counter outlives the channel's last message.
const COUNTER_TTL_SECONDS: u64 = 7 * 24 * 3600;

/// Reports the link down (and counts it).
pub(super) fn report_down(sink: &Weak<dyn BusSink>, downs: &AtomicU64) {
    downs.fetch_add(1, Ordering::AcqRel);
    report(sink, false);
}

pub(super) fn report(sink: &Weak<dyn BusSink>, up: bool) {
    if let Some(sink) = sink.upgrade() {
        sink.link(up);
    }
}

async fn command_loop(
    keys: Keys,
    mut conn: ConnectionManager,
    connector: Connector,
    mut ops: mpsc::UnboundedReceiver<Op>,
    sink: Weak<dyn BusSink>,
    downs: Arc<AtomicU64>,
) {
    // Pipelines in a row that went unanswered within the node timeout.
    let mut late = 0u32;
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(first) = ops.recv().await {
        batch.push(first);
        while batch.len() < BATCH {
            match ops.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let mut pipe = redis::pipe();
        let mut commands = 0usize;
        let mut reloads = Vec::new();
        let mut logged = Vec::new();
        let mut close = false;
        let mut merging = Merge::default();
        for op in batch.drain(..) {
            commands += !matches!(op, Op::Reload(_)) as usize;
            // Publishes to one channel merge across directory stores (which nobody reads in
            // step with them); anything else ends the run, so every other order is kept.
            if !matches!(op, Op::Publish(..) | Op::Store(..)) {
                merging.flush(&mut pipe);
            }
            match op {
                Op::Publish(channel, bytes) => merging.add(&mut pipe, channel, bytes),
                Op::Log([seq, log, topic], bytes, keep) => {
                    pipe.cmd("EVAL").arg(LOG_SCRIPT).arg(3).arg(seq).arg(log).arg(topic);
                    pipe.arg(bytes.as_ref()).arg(keep.messages).arg(keep.seconds).arg(COUNTER_TTL_SECONDS).ignore();
                    logged.push(bytes);
                }
                Op::Store(key, Some(value)) => {
                    pipe.cmd("HSET").arg(keys.dir(&keys.node)).arg(key).arg(value.as_ref()).ignore();
                }
                Op::Store(key, None) => {
                    pipe.cmd("HDEL").arg(keys.dir(&keys.node)).arg(key).ignore();
                }
                Op::Forget(node) => {
                    // UNLINK: a big directory is freed off Redis's main thread.
                    pipe.cmd("UNLINK").arg(keys.dir(&node)).ignore();
                    pipe.cmd("SREM").arg(keys.nodes()).arg(&node).ignore();
                }
                Op::Reload(node) => reloads.push(node),
                Op::Close => close = true,
            }
        }
        merging.flush(&mut pipe);
        if close {
            // Out of the members first: a beat that reads the members after this never reads
            // this node's heartbeat as missing (a clean leave is not a death).
            pipe.cmd("SREM").arg(keys.nodes()).arg(&keys.node).ignore();
            pipe.cmd("UNLINK").arg(keys.heartbeat(&keys.node)).arg(keys.dir(&keys.node)).ignore();
        }
        if commands > 0 {
            let result = pipe.query_async::<()>(&mut conn).await;
            if let Err(e) = &result {
                tracing::warn!("redis commands failed: {e}");
                // Messages that may not have reached their log still reach this node's members
                // (if a late pipeline did run after all, they get such a message twice).
                if let Some(sink) = sink.upgrade() {
                    for bytes in logged.drain(..) {
                        sink.unlogged(&bytes);
                    }
                }
            }
            match result {
                Ok(()) => late = 0,
                // Unanswered within the node timeout: a busy Redis or a busy node, not an outage
                // by itself (the heartbeat decides that). A connection that stays silent is
                // replaced: the connection manager only reconnects after an I/O error.
                Err(e) if e.is_timeout() => {
                    late += 1;
                    if late >= 2 {
                        if let Ok(fresh) = connector.connect().await {
                            conn = fresh;
                            late = 0;
                        }
                    }
                }
                Err(_) => report_down(&sink, &downs),
            }
        }
        for node in reloads {
            if let Err(e) = reload(&keys, &mut conn, node, &sink).await {
                tracing::warn!("redis reload failed: {e}");
                report_down(&sink, &downs);
            }
        }
        if close {
            return;
        }
    }
}

async fn reload(
    keys: &Keys,
    conn: &mut ConnectionManager,
    node: Option<String>,
    sink: &Weak<dyn BusSink>,
) -> redis::RedisResult<()> {
    let nodes: Vec<String> = match node {
        Some(node) => vec![node],
        None => redis::cmd("SMEMBERS").arg(keys.nodes()).query_async(conn).await?,
    };
    for node in nodes.into_iter().filter(|n| *n != keys.node) {
        let entries: Vec<(String, Vec<u8>)> = redis::cmd("HGETALL").arg(keys.dir(&node)).query_async(conn).await?;
        let Some(sink) = sink.upgrade() else { return Ok(()) };
        sink.loaded(&node, entries.into_iter().map(|(k, v)| (k, Bytes::from(v))).collect());
    }
    Ok(())
}

/// Run every second on the pub/sub reader's thread (see [`set_reader_tidy`]).
static READER_TIDY: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Sets what the pub/sub reader's thread runs every second (once per process). The standalone
/// server gives back there the memory that the other threads freed: the queued messages are
/// allocated on the reader's thread and freed on the workers', and an allocator with per-thread
/// heaps (mimalloc) reclaims such frees only when the owning thread allocates enough or
/// collects — a reader that went quiet after a storm otherwise held the drained queue's pages.
pub fn set_reader_tidy(tidy: fn()) {
    let _ = READER_TIDY.set(tidy);
}

/// A thread and a runtime of its own for the pub/sub connection's reader, until the bus closes
/// (the current runtime if the thread cannot start).
///
/// The reader parses every message as it arrives and queues it, unbounded, for the task that
/// applies it. In a connect storm a node receives the other nodes' directory changes faster
/// than it applies them while it also serves its clients, and the queue peaked at 76 MB at
/// 100,000 connections on six nodes (heaptrack: the parsed values and the queue's blocks). Each
/// thread allocates from its own heap (mimalloc), so on the reader's thread the queue takes
/// pages of its own that are given back whole once it drains; on the workers' threads it was
/// interleaved with the sessions and directory entries allocated at the same time, and the
/// node's RSS kept the storm's peak (docs/SCALING.md).
fn reader_thread(closed: watch::Receiver<bool>) -> tokio::runtime::Handle {
    // Without a tidy the thread sleeps until the bus closes: nothing but the reader wakes it.
    let tidy = READER_TIDY.get().copied();
    let tidy = async move {
        let Some(tidy) = tidy else { return std::future::pending().await };
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            tidy();
        }
    };
    let started = tokio::runtime::Builder::new_current_thread().enable_all().build().and_then(|runtime| {
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("piazza-pubsub".into())
            .spawn(move || runtime.block_on(until_closed(closed, tidy)))?;
        Ok(handle)
    });
    started.unwrap_or_else(|e| {
        tracing::warn!("no thread of its own for the redis pub/sub reader ({e}): it shares the server's");
        tokio::runtime::Handle::current()
    })
}

#[allow(clippy::too_many_arguments)]
async fn pubsub_loop(
    keys: Keys,
    client: redis::Client,
    reader: tokio::runtime::Handle,
    mut subs: mpsc::UnboundedReceiver<SubOp>,
    sink: Weak<dyn BusSink>,
    active: Arc<Mutex<Active>>,
    timeout: Duration,
    downs: Arc<AtomicU64>,
) {
    let topic_prefix = keys.topic_prefix();
    // The same names as the confirmed ones (`Active::topics`): one allocation per topic for both.
    let mut topics: HashSet<Arc<str>> = HashSet::new();
    topics.insert(format!("{topic_prefix}{DIRECTORY_TOPIC}").into());
    let mut backoff = Duration::from_millis(50);
    loop {
        if sink.upgrade().is_none() {
            return;
        }
        // Take subscription changes that came while disconnected.
        while let Ok(op) = subs.try_recv() {
            match op {
                SubOp::Subscribe(t) => topics.insert(t),
                SubOp::Unsubscribe(t) => topics.remove(&t),
            };
        }
        let connected = async {
            // Connected on the reader's runtime: its socket and the task that reads it live there.
            // The attempt has its own timeout there: the one below only stops waiting for it.
            let client = client.clone();
            let attempt = async move { tokio::time::timeout(timeout, client.get_async_pubsub()).await };
            let pubsub = match reader.spawn(attempt).await {
                Ok(Ok(connected)) => connected?,
                Ok(Err(_)) => return Err(redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut))),
                Err(e) => {
                    let stopped = (redis::ErrorKind::Io, "the pub/sub reader stopped", e.to_string());
                    return Err(redis::RedisError::from(stopped));
                }
            };
            let (mut sub_sink, stream) = pubsub.split();
            let all: Vec<&str> = topics.iter().map(|t| &**t).collect();
            sub_sink.subscribe(all).await?;
            redis::RedisResult::Ok((sub_sink, stream))
        };
        let (mut sub_sink, mut stream) = match tokio::time::timeout(timeout, connected).await {
            Ok(Ok(parts)) => parts,
            failed => {
                let why = failed
                    .map_or_else(|_| "timed out".to_string(), |r| r.err().map(|e| e.to_string()).unwrap_or_default());
                tracing::warn!("redis pub/sub connection failed: {why}");
                report_down(&sink, &downs);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        {
            let mut active = active.lock();
            for topic in &topics {
                active.confirmed(topic);
            }
        }
        loop {
            tokio::select! {
                message = stream.next() => match message {
                    Some(message) => {
                        let Some(sink) = sink.upgrade() else { return };
                        let topic = message.get_channel_name().strip_prefix(topic_prefix.as_str()).unwrap_or_default();
                        for bytes in unmerge(message.get_payload_bytes()) {
                            sink.message(topic, bytes);
                        }
                    }
                    None => break,
                },
                op = subs.recv() => {
                    let Some(op) = op else { return };
                    // Every change already queued goes in one round trip: a storm of first
                    // subscribes would otherwise wait for Redis one channel at a time.
                    let mut ops = vec![op];
                    while ops.len() < SUB_BATCH {
                        match subs.try_recv() {
                            Ok(op) => ops.push(op),
                            Err(_) => break,
                        }
                    }
                    if apply(&mut sub_sink, &mut topics, &active, ops).await.is_err() {
                        break;
                    }
                }
            }
        }
        tracing::warn!("redis pub/sub connection lost; reconnecting");
        active.lock().topics.clear();
        report_down(&sink, &downs);
    }
}

/// The first byte of several messages to one channel sent as one `PUBLISH`: `M`, then each
/// message as `u32 BE length | bytes`. No single message starts with it (their kinds are `d`,
/// `x`, `c`, `h`, and `L` for logged ones).
const MERGED: u8 = b'M';
/// At most this many bytes merged into one `PUBLISH`.
const MERGE_BYTES: usize = 64 * 1024;

/// A run of publishes to one channel, sent as one `PUBLISH`: a storm of joins announces three
/// directory changes per connection, and one message per change cost Redis and every node a
/// delivery each.
#[derive(Default)]
struct Merge {
    channel: String,
    messages: Vec<Bytes>,
    bytes: usize,
}

impl Merge {
    fn add(&mut self, pipe: &mut redis::Pipeline, channel: String, bytes: Bytes) {
        if channel != self.channel || 1 + self.bytes + 4 + bytes.len() > MERGE_BYTES {
            self.flush(pipe);
            self.channel = channel;
        }
        self.bytes += bytes.len() + 4;
        self.messages.push(bytes);
    }

    /// The messages as one payload: `M`, then each as `u32 BE length | bytes`.
    fn merged(&self) -> Vec<u8> {
        let mut merged = Vec::with_capacity(1 + self.bytes);
        merged.push(MERGED);
        for message in &self.messages {
            merged.extend_from_slice(&(message.len() as u32).to_be_bytes());
            merged.extend_from_slice(message);
        }
        merged
    }

    fn flush(&mut self, pipe: &mut redis::Pipeline) {
        match self.messages.len() {
            0 => {}
            1 => {
                pipe.cmd("PUBLISH").arg(&self.channel).arg(self.messages[0].as_ref()).ignore();
            }
            _ => {
                pipe.cmd("PUBLISH").arg(&self.channel).arg(self.merged()).ignore();
            }
        }
        self.messages.clear();
        self.bytes = 0;
    }
}

/// The messages of one pub/sub payload: itself, or the ones merged into it (a malformed
/// remainder is dropped).
fn unmerge(payload: &[u8]) -> Vec<&[u8]> {
    let Some(mut rest) = payload.strip_prefix(&[MERGED]) else { return vec![payload] };
    let mut out = Vec::new();
    while let Some(len) = rest.get(..4) {
        let len = u32::from_be_bytes(len.try_into().expect("four bytes")) as usize;
        let Some(message) = rest.get(4..4 + len) else { break };
        out.push(message);
        rest = &rest[4 + len..];
    }
    out
}

/// Subscription changes taken in one round trip.
const SUB_BATCH: usize = 1024;

/// Applies subscription changes in order, each run of subscribes (or unsubscribes) as one
/// command; a topic is active once Redis confirmed its subscription. If a command fails, the
/// changes after it are still recorded, for the reconnection to apply.
async fn apply(
    sub_sink: &mut redis::aio::PubSubSink,
    topics: &mut HashSet<Arc<str>>,
    active: &Mutex<Active>,
    ops: Vec<SubOp>,
) -> redis::RedisResult<()> {
    let mut ops = ops.into_iter().peekable();
    while let Some(first) = ops.next() {
        let subscribe = matches!(first, SubOp::Subscribe(_));
        let mut run = vec![first];
        while let Some(op) = ops.next_if(|op| matches!(op, SubOp::Subscribe(_)) == subscribe) {
            run.push(op);
        }
        let run: Vec<Arc<str>> = run.into_iter().map(|(SubOp::Subscribe(t) | SubOp::Unsubscribe(t))| t).collect();
        let result = if subscribe {
            // Recorded first: if the command fails, the reconnection subscribes them all.
            let new: Vec<&str> = run.iter().filter(|t| topics.insert((*t).clone())).map(|t| &**t).collect();
            let result = if new.is_empty() { Ok(()) } else { sub_sink.subscribe(&new).await };
            if result.is_ok() {
                let mut active = active.lock();
                for topic in &run {
                    active.confirmed(topic);
                }
            }
            result
        } else {
            {
                let mut active = active.lock();
                for topic in &run {
                    active.topics.remove(topic);
                }
            }
            let gone: Vec<&str> = run.iter().filter(|t| topics.remove(*t)).map(|t| &**t).collect();
            if gone.is_empty() {
                Ok(())
            } else {
                sub_sink.unsubscribe(&gone).await
            }
        };
        if result.is_err() {
            for op in ops {
                match op {
                    SubOp::Subscribe(t) => {
                        topics.insert(t);
                    }
                    SubOp::Unsubscribe(t) => {
                        active.lock().topics.remove(&t);
                        topics.remove(&t);
                    }
                }
            }
            return result;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "redis_tests.rs"]
mod tests;
