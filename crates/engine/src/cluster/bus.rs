//! The bus: what cluster mode needs from the shared engine underneath, and nothing more —
//! topics to publish on and subscribe to, a per-node store of directory entries that outlives
//! a node only for a while, node liveness, and whether the engine is reachable.
//!
//! Two implementations: [`super::redis::RedisBus`] (Redis pub/sub, hashes, expiring keys) and
//! [`MemoryNet`] (several nodes in one process, for tests). The cluster logic above the bus is
//! the same for both, so the contract tests run against both.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::mpsc;

/// What a bus reports to its node.
pub trait BusSink: Send + Sync {
    /// A message on a topic this node subscribed to (or on the directory topic).
    fn message(&self, topic: &str, bytes: &[u8]);
    /// Every directory entry `node` stored (after [`Bus::reload`]).
    fn loaded(&self, node: &str, entries: Vec<(String, Bytes)>);
    /// The shared engine became reachable (`true`) or unreachable (`false`).
    fn link(&self, up: bool);
    /// `node` stopped heartbeating. Exactly one surviving node gets `claimed`: it announces
    /// the dead node's users and clears its entries.
    fn node_down(&self, node: &str, claimed: bool);
    /// `node`, reported down before, heartbeats again (it was only late): its users were not
    /// gone, and a claimer that has not announced them yet must not.
    fn node_back(&self, _node: &str) {}
    /// A message given to [`Bus::log`] could not be logged (the engine failed): `bytes` as given.
    fn unlogged(&self, bytes: &[u8]);
}

/// The topic every node subscribes to: directory changes and "reload me".
pub const DIRECTORY_TOPIC: &str = "directory";

/// The first byte of a logged message on its topic: `L<offset>\n<bytes>` (see [`Bus::log`]).
pub const LOGGED: u8 = b'L';

/// How much of a topic's recovery log to keep: `messages` at most, none older than `seconds`,
/// and the log itself `seconds` after its last message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogKeep {
    pub messages: usize,
    pub seconds: u64,
}

/// A read of a recovery log: entries after the asked offset, oldest first, and the offset of
/// the topic's last message (0: none, or the log expired).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LogRead {
    pub entries: Vec<(u64, Bytes)>,
    pub last: u64,
}

/// A logged message as it travels on its topic.
pub fn logged(offset: u64, bytes: &[u8]) -> Bytes {
    let head = format!("{offset}\n");
    let mut out = BytesMut::with_capacity(1 + head.len() + bytes.len());
    out.put_u8(LOGGED);
    out.put_slice(head.as_bytes());
    out.put_slice(bytes);
    out.freeze()
}

/// The offset and bytes of a logged message (`None`: not one).
pub fn parse_logged(message: &[u8]) -> Option<(u64, &[u8])> {
    let rest = message.strip_prefix(&[LOGGED])?;
    let newline = rest.iter().position(|b| *b == b'\n')?;
    let offset = std::str::from_utf8(&rest[..newline]).ok()?.parse().ok()?;
    Some((offset, &rest[newline + 1..]))
}

/// The shared engine, seen from one node. Calls never block: work is queued and done in order.
pub trait Bus: Send + Sync {
    /// This node's id.
    fn node(&self) -> &str;
    /// Starts delivering events to `sink` (called once).
    fn start(&self, sink: Weak<dyn BusSink>);
    fn publish(&self, topic: &str, bytes: Bytes);
    /// Appends `bytes` to the recovery log of `topic` under the topic's next offset and
    /// publishes it on the topic as [`logged`], in one atomic step: the log's order is the order
    /// every node receives them in.
    fn log(&self, topic: &str, bytes: Bytes, keep: LogKeep);
    /// The recovery log of `topic` after offset `after` (at most `keep.messages` entries).
    fn read_log(&self, topic: &str, after: u64, keep: LogKeep) -> BoxFuture<'static, Result<LogRead, String>>;
    fn subscribe(&self, topic: &str);
    /// Resolves once this node's subscription to `topic` is active: what is published on it
    /// from then on reaches the node.
    fn subscribed(&self, topic: &str) -> BoxFuture<'static, ()>;
    fn unsubscribe(&self, topic: &str);
    /// Stores (or, with `None`, removes) one of this node's directory entries.
    fn store(&self, key: &str, value: Option<Bytes>);
    /// Removes every stored entry of a dead node (its claimer is done with it).
    fn forget(&self, node: &str);
    /// Asks for the stored entries of `node`, or of every live node; they arrive through
    /// [`BusSink::loaded`].
    fn reload(&self, node: Option<&str>);
    /// Leaves the cluster: stops heartbeating and removes this node's entries.
    fn close(&self);
}

// ---------------------------------------------------------------------------------------------
// In memory: several nodes of one process.

struct NetNode {
    sink: Option<Weak<dyn BusSink>>,
    topics: HashSet<String>,
    store: HashMap<String, Bytes>,
    alive: bool,
    up: bool,
}

enum NetEvent {
    Message { to: String, topic: String, bytes: Bytes },
    Loaded { to: String, node: String, entries: Vec<(String, Bytes)> },
    Link { to: String, up: bool },
    Down { to: String, node: String, claimed: bool },
}

/// One topic's recovery log on a [`MemoryNet`]: its last offset, and entries with their time.
#[derive(Default)]
struct NetLog {
    last: u64,
    entries: VecDeque<(u64, Bytes, Instant)>,
    touched: Option<Instant>,
}

struct NetInner {
    nodes: Mutex<HashMap<String, NetNode>>,
    logs: Mutex<HashMap<String, NetLog>>,
    events: mpsc::UnboundedSender<NetEvent>,
    node_timeout: Duration,
}

/// An in-process stand-in for Redis: nodes created from one net see each other. Events are
/// delivered by one task, in order, like messages from a Redis connection.
#[derive(Clone)]
pub struct MemoryNet {
    inner: Arc<NetInner>,
}

impl MemoryNet {
    /// A net whose nodes are declared dead `node_timeout` after they are killed.
    pub fn new(node_timeout: Duration) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<NetEvent>();
        let inner = Arc::new(NetInner {
            nodes: Mutex::new(HashMap::new()),
            logs: Mutex::new(HashMap::new()),
            events: tx,
            node_timeout,
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let Some(inner) = weak.upgrade() else { return };
                let to = match &event {
                    NetEvent::Message { to, .. }
                    | NetEvent::Loaded { to, .. }
                    | NetEvent::Link { to, .. }
                    | NetEvent::Down { to, .. } => to.clone(),
                };
                let sink = inner.nodes.lock().get(&to).filter(|n| n.alive).and_then(|n| n.sink.clone());
                let Some(sink) = sink.and_then(|s| s.upgrade()) else { continue };
                match event {
                    NetEvent::Message { topic, bytes, .. } => sink.message(&topic, &bytes),
                    NetEvent::Loaded { node, entries, .. } => sink.loaded(&node, entries),
                    NetEvent::Link { up, .. } => sink.link(up),
                    NetEvent::Down { node, claimed, .. } => sink.node_down(&node, claimed),
                }
            }
        });
        MemoryNet { inner }
    }

    /// A node of this net.
    pub fn node(&self, id: &str) -> Arc<MemoryBus> {
        self.inner.nodes.lock().insert(
            id.to_string(),
            NetNode { sink: None, topics: HashSet::new(), store: HashMap::new(), alive: true, up: true },
        );
        Arc::new(MemoryBus { id: id.to_string(), net: self.inner.clone() })
    }

    /// Kills `id` without a goodbye (as a crashed process); the others learn it after the
    /// node timeout.
    pub fn kill(&self, id: &str) {
        if let Some(node) = self.inner.nodes.lock().get_mut(id) {
            node.alive = false;
        }
        // Held weakly: a net dropped meanwhile reports nothing.
        let (net, wait) = (Arc::downgrade(&self.inner), self.inner.node_timeout);
        let dead = id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let Some(inner) = net.upgrade() else { return };
            let survivors: Vec<String> =
                inner.nodes.lock().iter().filter(|(_, n)| n.alive).map(|(id, _)| id.clone()).collect();
            for (i, to) in survivors.into_iter().enumerate() {
                let _ = inner.events.send(NetEvent::Down { to, node: dead.clone(), claimed: i == 0 });
            }
        });
    }

    /// Makes the shared engine unreachable (or reachable again) for every node.
    pub fn set_link(&self, up: bool) {
        let mut nodes = self.inner.nodes.lock();
        for (id, node) in nodes.iter_mut().filter(|(_, n)| n.alive) {
            node.up = up;
            let _ = self.inner.events.send(NetEvent::Link { to: id.clone(), up });
        }
    }
}

/// One node on a [`MemoryNet`].
pub struct MemoryBus {
    id: String,
    net: Arc<NetInner>,
}

impl MemoryBus {
    fn up(&self) -> bool {
        self.net.nodes.lock().get(&self.id).is_some_and(|n| n.alive && n.up)
    }
}

impl Bus for MemoryBus {
    fn node(&self) -> &str {
        &self.id
    }

    fn start(&self, sink: Weak<dyn BusSink>) {
        if let Some(node) = self.net.nodes.lock().get_mut(&self.id) {
            node.sink = Some(sink);
            node.topics.insert(DIRECTORY_TOPIC.to_string());
        }
        let _ = self.net.events.send(NetEvent::Link { to: self.id.clone(), up: true });
    }

    fn publish(&self, topic: &str, bytes: Bytes) {
        if !self.up() {
            return;
        }
        for (id, node) in self.net.nodes.lock().iter() {
            if node.alive && node.up && node.topics.contains(topic) {
                let event = NetEvent::Message { to: id.clone(), topic: topic.to_string(), bytes: bytes.clone() };
                let _ = self.net.events.send(event);
            }
        }
    }

    fn log(&self, topic: &str, bytes: Bytes, keep: LogKeep) {
        if !self.up() {
            return;
        }
        {
            let mut logs = self.net.logs.lock();
            let log = logs.entry(topic.to_string()).or_default();
            let now = Instant::now();
            let ttl = Duration::from_secs(keep.seconds);
            if log.touched.is_some_and(|t| now.duration_since(t) > ttl) {
                // The log expires; its offset counter is kept (as on Redis, for longer).
                log.entries.clear();
            }
            log.last += 1;
            if log.last == 1 {
                // A new log: its offsets start above any it had before (as on Redis).
                log.last = u64::try_from(
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis(),
                )
                .unwrap_or(0)
                    * 1000
                    + 1;
            }
            log.touched = Some(now);
            log.entries.push_back((log.last, bytes.clone(), now));
            while log.entries.len() > keep.messages
                || log.entries.front().is_some_and(|(_, _, at)| now.duration_since(*at) > ttl)
            {
                log.entries.pop_front();
            }
            // Sent while the log's lock is held: the events task delivers in the order sent.
            self.publish(topic, logged(log.last, &bytes));
        };
    }

    fn read_log(&self, topic: &str, after: u64, keep: LogKeep) -> BoxFuture<'static, Result<LogRead, String>> {
        let read = if !self.up() {
            Err("the cluster's engine is unreachable".to_string())
        } else {
            let logs = self.net.logs.lock();
            let ttl = Duration::from_secs(keep.seconds);
            Ok(match logs.get(topic) {
                None => LogRead::default(),
                Some(log) => LogRead {
                    entries: log
                        .entries
                        .iter()
                        .filter(|(o, _, at)| *o > after && at.elapsed() <= ttl)
                        .map(|(o, b, _)| (*o, b.clone()))
                        .collect(),
                    last: log.last,
                },
            })
        };
        Box::pin(async move { read })
    }

    fn subscribe(&self, topic: &str) {
        if let Some(node) = self.net.nodes.lock().get_mut(&self.id) {
            node.topics.insert(topic.to_string());
        }
    }

    fn subscribed(&self, _topic: &str) -> BoxFuture<'static, ()> {
        // Subscriptions here take effect at once.
        Box::pin(async {})
    }

    fn unsubscribe(&self, topic: &str) {
        if let Some(node) = self.net.nodes.lock().get_mut(&self.id) {
            node.topics.remove(topic);
        }
    }

    fn store(&self, key: &str, value: Option<Bytes>) {
        if !self.up() {
            return;
        }
        if let Some(node) = self.net.nodes.lock().get_mut(&self.id) {
            match value {
                Some(v) => node.store.insert(key.to_string(), v),
                None => node.store.remove(key),
            };
        }
    }

    fn forget(&self, node: &str) {
        self.net.nodes.lock().remove(node);
    }

    fn reload(&self, node: Option<&str>) {
        let nodes = self.net.nodes.lock();
        for (id, n) in nodes.iter().filter(|(id, n)| *id != &self.id && node.is_none_or(|want| want == *id) && n.alive)
        {
            let entries = n.store.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let _ = self.net.events.send(NetEvent::Loaded { to: self.id.clone(), node: id.clone(), entries });
        }
    }

    fn close(&self) {
        self.net.nodes.lock().remove(&self.id);
    }
}
