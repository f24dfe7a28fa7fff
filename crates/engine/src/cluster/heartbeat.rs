//! The Redis bus's heartbeat: every `nodeTimeoutMs / 3` a node refreshes its heartbeat key and
//! its directory's expiry and reads the other nodes' heartbeats, in one round trip.
//!
//! It runs on a thread and a tokio runtime of its own, with its own connection: a node whose
//! runtime is busy (a storm of connections, a burst of directory changes) still beats on time,
//! and a beat never waits behind a long pipeline of commands. What it finds goes to the node's
//! runtime over a channel. A node whose runtime stops taking those findings for three node
//! timeouts stops beating, so a wedged node is still taken for dead.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::{mpsc, watch};

use super::bus::BusSink;
use super::redis::{report, report_down, until_closed, Connector, Keys, DIRECTORY_TTL_MS};

/// What one heartbeat found (and the count of "down" reports when it began), or why it failed.
type Beat = std::result::Result<(Found, u64), String>;

#[derive(Default)]
struct Found {
    /// Nodes whose heartbeat expired, and whether this node claimed each.
    dead: Vec<(String, bool)>,
    /// Nodes reported dead before that heartbeat again, from the same process.
    back: Vec<String>,
}

pub(super) struct Heartbeat {
    keys: Keys,
    connector: Connector,
    /// This process's heartbeat value: a node id that heartbeats again with another value was
    /// restarted (its earlier users are gone), not only late.
    token: String,
    /// Findings sent and not yet taken by the node's runtime.
    unheard: Arc<AtomicUsize>,
    /// How often the link was reported down (see `RedisBus::start`).
    downs: Arc<AtomicU64>,
}

impl Heartbeat {
    pub(super) fn new(keys: Keys, connector: Connector, downs: Arc<AtomicU64>) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let token = format!("{}-{nanos}", std::process::id());
        Heartbeat { keys, connector, token, unheard: Arc::new(AtomicUsize::new(0)), downs }
    }

    /// Starts the heartbeat thread and the task that takes its findings to `sink`; both end
    /// when the bus is closed or dropped.
    pub(super) fn start(self, closed: watch::Receiver<bool>, sink: Weak<dyn BusSink>) {
        let (beats, findings) = mpsc::unbounded_channel();
        tokio::spawn(until_closed(closed.clone(), heard(findings, sink, self.unheard.clone(), self.downs.clone())));
        let started = std::thread::Builder::new().name("piazza-heartbeat".into()).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    self.unheard.fetch_add(1, Ordering::AcqRel);
                    let _ = beats.send(Err(format!("no runtime for the heartbeat: {e}")));
                    return;
                }
            };
            runtime.block_on(until_closed(closed, self.run(beats)));
        });
        if let Err(e) = started {
            tracing::error!("cannot start the cluster heartbeat thread: {e}");
        }
    }

    async fn run(self, beats: mpsc::UnboundedSender<Beat>) {
        let period = (self.connector.timeout / 3).max(Duration::from_millis(100));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Three node timeouts of findings the node's runtime did not take.
        let wedged = (3 * self.connector.timeout.as_millis() / period.as_millis().max(1)) as usize;
        let mut conn: Option<ConnectionManager> = None;
        let mut seen = Seen::default();
        // Beats in a row that went unanswered in time.
        let mut late = 0u32;
        loop {
            tick.tick().await;
            if self.unheard.load(Ordering::Acquire) > wedged {
                continue;
            }
            if conn.is_none() {
                match self.connector.connect().await {
                    Ok(connected) => conn = Some(connected),
                    Err(why) => {
                        if !self.send(&beats, Err(why)) {
                            return;
                        }
                        continue;
                    }
                }
            }
            let Some(connected) = conn.as_mut() else { continue };
            let downs = self.downs.load(Ordering::Acquire);
            let beat = match self.beat(connected, &mut seen).await {
                Ok(found) => {
                    late = 0;
                    Ok((found, downs))
                }
                // One beat unanswered within the node timeout is a busy Redis or a busy machine;
                // two in a row, or a failed connection, is an outage.
                Err(e) if e.is_timeout() && late == 0 => {
                    late += 1;
                    tracing::warn!("redis heartbeat unanswered within the node timeout; one more try");
                    continue;
                }
                Err(e) => {
                    if e.is_timeout() {
                        // The connection manager reconnects only after an I/O error: a silent
                        // connection is replaced.
                        conn = None;
                        late = 0;
                    }
                    Err(e.to_string())
                }
            };
            if !self.send(&beats, beat) {
                return;
            }
        }
    }

    fn send(&self, beats: &mpsc::UnboundedSender<Beat>, beat: Beat) -> bool {
        self.unheard.fetch_add(1, Ordering::AcqRel);
        beats.send(beat).is_ok()
    }

    async fn beat(&self, conn: &mut ConnectionManager, seen: &mut Seen) -> redis::RedisResult<Found> {
        let keys = &self.keys;
        let own = keys.heartbeat(&keys.node);
        let mut read = vec![own.clone()];
        read.extend(seen.known.iter().map(|node| keys.heartbeat(node)));
        // The heartbeats are read before the members: a node that leaves cleanly leaves the
        // members before it drops its heartbeat, so it is never read as a death.
        let (_, _, beats, nodes): ((), (), Vec<Option<String>>, Vec<String>) = redis::pipe()
            .cmd("SET")
            .arg(&own)
            .arg(&self.token)
            .arg("PX")
            .arg(self.connector.timeout.as_millis() as u64)
            .cmd("SADD")
            .arg(keys.nodes())
            .arg(&keys.node)
            .cmd("PEXPIRE")
            .arg(keys.dir(&keys.node))
            .arg(DIRECTORY_TTL_MS)
            .ignore()
            // Taken for dead while only late, this node may have been claimed: a claim is
            // lifted by its next beat, so it can be claimed again if it really dies.
            .cmd("DEL")
            .arg(keys.reap(&keys.node))
            .ignore()
            .cmd("MGET")
            .arg(&read)
            .cmd("SMEMBERS")
            .arg(keys.nodes())
            .query_async(conn)
            .await?;
        let others: Vec<String> = nodes.into_iter().filter(|n| *n != keys.node).collect();
        // Worked on copies, kept only once every query of the beat succeeded: a beat that fails
        // half-way reports nothing and leaves nothing half-reported.
        let mut found = Found::default();
        let (mut reported, mut tokens) = (seen.reported.clone(), seen.tokens.clone());
        for (node, beat) in seen.known.iter().zip(beats.into_iter().skip(1)) {
            match beat {
                Some(token) => {
                    if reported.remove(node) && tokens.get(node) == Some(&token) {
                        found.back.push(node.clone());
                    }
                    tokens.insert(node.clone(), token);
                }
                // A node that left cleanly is no longer a member: nothing to report.
                None if others.contains(node) && !reported.contains(node) => {
                    // The claim's own answer may have been lost to a timeout once: a claim this
                    // node already holds is still its claim.
                    let (_, holder): (Option<String>, Option<String>) = redis::pipe()
                        .cmd("SET")
                        .arg(keys.reap(node))
                        .arg(&keys.node)
                        .arg("NX")
                        .arg("PX")
                        .arg(DIRECTORY_TTL_MS)
                        .cmd("GET")
                        .arg(keys.reap(node))
                        .query_async(conn)
                        .await?;
                    found.dead.push((node.clone(), holder.as_deref() == Some(keys.node.as_str())));
                    reported.insert(node.clone());
                }
                None => {}
            }
        }
        reported.retain(|n| others.contains(n));
        tokens.retain(|n, _| others.contains(n));
        *seen = Seen { known: others, reported, tokens };
        Ok(found)
    }
}

/// What the heartbeat remembers between beats.
#[derive(Default)]
struct Seen {
    /// The other nodes as of the last beat: their heartbeats are read in the next beat.
    known: Vec<String>,
    /// Nodes reported dead (and not back since).
    reported: HashSet<String>,
    /// The last heartbeat value of each node.
    tokens: HashMap<String, String>,
}

/// Takes the heartbeat's findings to the cluster, on the node's runtime.
async fn heard(
    mut beats: mpsc::UnboundedReceiver<Beat>,
    sink: Weak<dyn BusSink>,
    unheard: Arc<AtomicUsize>,
    downs: Arc<AtomicU64>,
) {
    while let Some(beat) = beats.recv().await {
        unheard.fetch_sub(1, Ordering::AcqRel);
        let Some(node) = sink.upgrade() else { return };
        match beat {
            Ok((found, downs_then)) => {
                // A "down" reported since the beat began (the pub/sub connection lost, say) is
                // newer news than this answer: the next beat decides.
                if downs.load(Ordering::Acquire) == downs_then {
                    report(&sink, true);
                }
                for back in found.back {
                    node.node_back(&back);
                }
                for (dead, claimed) in found.dead {
                    node.node_down(&dead, claimed);
                }
            }
            Err(e) => {
                tracing::warn!("redis heartbeat failed: {e}");
                report_down(&sink, &downs);
            }
        }
    }
}
