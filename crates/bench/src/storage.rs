//! `piazza-bench storage`: what storage, locks and history cost, per store. Each store gets an
//! in-process server (`Server::start`): memory, SQLite in a temporary directory, and Redis on
//! 127.0.0.1:6379 in cluster mode under a fresh key prefix (started with scripts/redis.sh when
//! none answers; skipped with a note when that fails). Measured, one JSON object per line:
//!
//! - `storage-set-N` / `storage-get-N`: `setChannelMetadata` of one item (majorRevision -1) and
//!   `getChannelMetadata`, closed loop: N = 1 (one client, one request in flight), 64 (one
//!   client, 64 in flight) and 100 (100 clients, one in flight each, a channel each).
//! - `storage-fanout`: 1 publisher → 100 subscribers of one channel, 128 B, without and with
//!   `storeInHistory`; the publisher keeps at most 128 publishes unanswered and 256 undelivered.
//! - `storage-lock`: `acquireLock` + `releaseLock` round trips from one client.
//! - `redis-hset-1` / `redis-hset-64`: plain `HSET` on one connection, 1 and 64 in flight.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use piazza_engine::client::{
    ChannelSink, Client, ClientConfig, LockAction, MetaItem, MetaMode, MetaOptions, MetadataOf, Payload,
    PublishOptions, Route,
};
use piazza_engine::config::{Secret, ServerConfig};
use piazza_engine::protocol::ChannelType;
use piazza_engine::server::Server;
use serde::Serialize;
use tokio::sync::{oneshot, watch};

use crate::conn::{run_subscriber, Progress, Subscriber};
use crate::procs;
use crate::scenario::Metrics;
use crate::wire::{now_ns, Stamp};
use crate::Peer;

const APP: &str = "bench";
const MANY_CLIENTS: usize = 100;
const PIPELINE: usize = 64;
const SUBSCRIBERS: usize = 100;
const SIZE: usize = 128;
/// Messages published and not yet delivered to every subscriber, at most.
const DELIVERY_WINDOW: u64 = 256;
/// Publishes the fan-out publisher leaves unanswered at most: as many as may be undelivered, so
/// that in both phases the subscribers' window is what paces the publisher (with a smaller one,
/// the phase with history would measure how long an answer takes rather than what the fan-out
/// can carry; that time is reported on its own, `answer_p50_us`). The server takes up to 512
/// unanswered history publishes per session (256 in the store's hands, 256 queued).
const ANSWER_WINDOW: usize = DELIVERY_WINDOW as usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Memory,
    Sqlite,
    /// The SQLite store with `historySyncMs: 100` (history synced within 100 ms of its
    /// answer): the fan-out only, the rest is the same as `Sqlite`.
    SqliteDeferred,
    Redis,
}

impl Store {
    fn name(self) -> &'static str {
        match self {
            Store::Memory => "memory",
            Store::Sqlite => "sqlite",
            Store::SqliteDeferred => "sqlite-deferred",
            Store::Redis => "redis",
        }
    }
}

#[derive(Clone, Copy)]
struct Timing {
    warmup: Duration,
    window: Duration,
}

#[derive(Serialize)]
struct Outcome<'a> {
    scenario: &'a str,
    peer: &'a str,
    run: usize,
    quick: bool,
    note: &'a str,
    error: Option<String>,
    metrics: Metrics,
}

fn emit(scenario: &str, peer: &str, quick: bool, note: &str, result: Result<Metrics, String>) {
    let (metrics, error) = match result {
        Ok(metrics) => (metrics, None),
        Err(e) => {
            eprintln!("  {scenario} on {peer}: {e}");
            (Metrics::new(), Some(e))
        }
    };
    let outcome = Outcome { scenario, peer, run: 1, quick, note, error, metrics };
    println!("{}", serde_json::to_string(&outcome).expect("serializes"));
}

const SCENARIOS: [&str; 8] = [
    "storage-set-1",
    "storage-set-64",
    "storage-set-100",
    "storage-get-1",
    "storage-get-64",
    "storage-get-100",
    "storage-fanout",
    "storage-lock",
];

/// Runs every measurement (of `stores`, every store when empty; only the fan-out when
/// `fanout_only`) and prints one JSON object per line.
pub async fn run(quick: bool, stores: &[String], fanout_only: bool) {
    let timing = if quick {
        Timing { warmup: Duration::from_millis(250), window: Duration::from_secs(1) }
    } else {
        Timing { warmup: Duration::from_secs(1), window: Duration::from_secs(4) }
    };
    let redis = ensure_redis();
    if let Err(why) = &redis {
        eprintln!("storage: the Redis measurements are skipped: {why}");
    }
    for store in [Store::Memory, Store::Sqlite, Store::SqliteDeferred, Store::Redis] {
        if !stores.is_empty() && !stores.iter().any(|s| s == store.name()) {
            continue;
        }
        eprintln!("storage: {} store…", store.name());
        let url = match (&redis, store) {
            (Err(why), Store::Redis) => {
                for scenario in SCENARIOS {
                    emit(scenario, store.name(), quick, "", Err(why.clone()));
                }
                continue;
            }
            (Ok(url), _) => url.clone(),
            (Err(_), _) => String::new(),
        };
        match Running::start(store, &url).await {
            Ok(running) => {
                if fanout_only {
                    let name = store.name();
                    emit("storage-fanout", name, quick, &running.note, fanout_both(&running.server, timing).await);
                } else {
                    measure_store(&running, quick, timing).await;
                }
                running.stop().await;
            }
            Err(why) => {
                for scenario in SCENARIOS {
                    emit(scenario, store.name(), quick, "", Err(why.clone()));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    match &redis {
        _ if fanout_only || !stores.is_empty() => {}
        Ok(url) => {
            let note = redis_note();
            for in_flight in [1, PIPELINE] {
                eprintln!("storage: plain HSET, {in_flight} in flight…");
                emit(&format!("redis-hset-{in_flight}"), "redis", quick, &note, hset(url, in_flight, timing).await);
            }
        }
        Err(why) => {
            for in_flight in [1, PIPELINE] {
                emit(&format!("redis-hset-{in_flight}"), "redis", quick, "", Err(why.clone()));
            }
        }
    }
}

// ----- the servers

/// An in-process server on one store, with what to clean up after it.
struct Running {
    store: Store,
    server: Server,
    note: String,
    dir: Option<std::path::PathBuf>,
    redis: Option<(String, String)>,
}

fn unique() -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    format!("{}-{ms}", std::process::id())
}

impl Running {
    async fn start(store: Store, redis_url: &str) -> Result<Running, String> {
        let mut config = ServerConfig::default();
        config.limits.publish_rate_per_channel = 0;
        config.connection.connections_per_ip_per_second = 0;
        config.connection.frames_per_second = 0;
        let (mut dir, mut redis) = (None, None);
        let note = match store {
            Store::Memory => "in-process server, memory store".to_string(),
            Store::Sqlite | Store::SqliteDeferred => {
                let path = std::env::temp_dir().join(format!("piazza-bench-storage-{}", unique()));
                config.storage.path = Some(path.to_string_lossy().into_owned());
                dir = Some(path);
                let history = if store == Store::SqliteDeferred {
                    config.storage.history_sync_ms = 100;
                    "history synced within 100 ms of the answer (historySyncMs 100)".to_string()
                } else {
                    "history synced before each answer (historySyncMs 0, the default)".to_string()
                };
                format!(
                    "in-process server, SQLite file store (WAL, synchronous=FULL; {history}) in {} ({})",
                    std::env::temp_dir().display(),
                    filesystem_of(&std::env::temp_dir())
                )
            }
            Store::Redis => {
                let prefix = format!("piazza-bench-storage-{}", unique());
                config.redis_url = Some(Secret::new(redis_url.to_string()));
                config.cluster.prefix = prefix.clone();
                redis = Some((redis_url.to_string(), prefix));
                format!("in-process server in cluster mode, Redis store ({})", redis_note())
            }
        };
        let server = Server::start(config).await.map_err(|e| format!("the server did not start: {e}"))?;
        Ok(Running { store, server, note, dir, redis })
    }

    async fn stop(self) {
        self.server.close().await;
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((url, prefix)) = &self.redis {
            if let Err(e) = procs::forget_prefix(url, prefix).await {
                eprintln!("  could not delete the keys under {prefix}: {e}");
            }
        }
    }
}

/// The file system type of `dir` (from /proc/mounts: the longest mount point above it).
fn filesystem_of(dir: &std::path::Path) -> String {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, point, kind) = (f.next()?, f.next()?, f.next()?);
            dir.starts_with(point).then(|| (point.len(), kind.to_string()))
        })
        .max()
        .map(|(_, kind)| kind)
        .unwrap_or_else(|| "unknown file system".into())
}

async fn login(server: &Server, user: &str) -> Result<Client, String> {
    // Nobody reads the events of these clients: the sink drops them.
    let (sink, _events) = ChannelSink::new();
    let client = Client::new(ClientConfig::new(APP, user, &server.url()), Arc::new(sink)).map_err(|e| e.to_string())?;
    client.call(|c, r| c.login(r, None)).await.map_err(|e| format!("login: {e}"))?;
    Ok(client)
}

async fn logout(client: &Client) {
    let _ = client
        .call(|c, r| {
            c.logout(r);
            Ok(())
        })
        .await;
}

async fn measure_store(running: &Running, quick: bool, timing: Timing) {
    let (server, peer, note) = (&running.server, running.store.name(), running.note.as_str());
    if running.store == Store::SqliteDeferred {
        emit("storage-fanout", peer, quick, note, fanout_both(server, timing).await);
        return;
    }
    let one = match login(server, "meta-one").await {
        Ok(client) => client,
        Err(e) => {
            for scenario in SCENARIOS {
                emit(scenario, peer, quick, note, Err(e.clone()));
            }
            return;
        }
    };
    let many = futures_util::stream::iter(0..MANY_CLIENTS)
        .map(|i| async move { login(server, &format!("meta-{i}")).await })
        .buffer_unordered(20)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>();
    for op in [Op::Set, Op::Get] {
        let loops = vec![(one.clone(), "c-one".to_string())];
        emit(&format!("storage-{}-1", op.name()), peer, quick, note, closed_loops(loops, op, timing).await);
        let loops = vec![(one.clone(), "c-one".to_string()); PIPELINE];
        let scenario = format!("storage-{}-{PIPELINE}", op.name());
        emit(&scenario, peer, quick, note, closed_loops(loops, op, timing).await);
        let scenario = format!("storage-{}-{MANY_CLIENTS}", op.name());
        let result = match &many {
            Ok(many) => {
                let loops = many.iter().enumerate().map(|(i, c)| (c.clone(), format!("c-{i}"))).collect();
                closed_loops(loops, op, timing).await
            }
            Err(e) => Err(e.clone()),
        };
        emit(&scenario, peer, quick, note, result);
    }
    if let Ok(many) = &many {
        for client in many {
            logout(client).await;
        }
    }
    drop(many);
    emit("storage-fanout", peer, quick, note, fanout_both(server, timing).await);
    let lock = async {
        let ask = one.call(|c, r| c.lock(r, LockAction::Set { ttl: 60 }, ChannelType::Message, "c-lock", "l"));
        ask.await.map_err(|e| format!("setLock: {e}"))?;
        closed_loops(vec![(one.clone(), "c-lock".to_string())], Op::Lock, timing).await
    };
    emit("storage-lock", peer, quick, note, lock.await);
    logout(&one).await;
}

// ----- closed loops

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Set,
    Get,
    /// acquireLock then releaseLock: one round trip of each.
    Lock,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Set => "set",
            Op::Get => "get",
            Op::Lock => "lock",
        }
    }

    async fn once(self, client: &Client, channel: &str, n: u64) -> Result<(), String> {
        let of = MetadataOf::Channel(ChannelType::Message, channel);
        let answer = match self {
            Op::Set => {
                let item = MetaItem { key: "k".into(), value: format!("{n:016}"), revision: -1 };
                let options = MetaOptions::default();
                client.call(|c, r| c.write_metadata(r, MetaMode::Set, of, vec![item], options)).await
            }
            Op::Get => client.call(|c, r| c.get_metadata(r, of)).await,
            Op::Lock => {
                let acquire = LockAction::Acquire { retry: false };
                client
                    .call(|c, r| c.lock(r, acquire, ChannelType::Message, channel, "l"))
                    .await
                    .map_err(|e| e.to_string())?;
                client.call(|c, r| c.lock(r, LockAction::Release, ChannelType::Message, channel, "l")).await
            }
        };
        answer.map(drop).map_err(|e| e.to_string())
    }
}

const WARMING: u8 = 0;
const RECORDING: u8 = 1;
const STOPPING: u8 = 2;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

/// What one closed loop did while recording.
struct LoopTally {
    latency_us: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
}

/// One closed loop: `step(n)` again and again until told to stop; only steps that started and
/// ended while recording count.
async fn closed_loop<F, Fut>(mut step: F, phase: Arc<AtomicU8>) -> LoopTally
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut tally = LoopTally { latency_us: histogram(), errors: 0, first_error: None };
    let mut n = 0u64;
    loop {
        let before = phase.load(Ordering::Relaxed);
        if before == STOPPING {
            return tally;
        }
        let started = Instant::now();
        let result = step(n).await;
        n += 1;
        if before != RECORDING || phase.load(Ordering::Relaxed) != RECORDING {
            continue;
        }
        match result {
            Ok(()) => {
                let us = started.elapsed().as_micros() as u64;
                let _ = tally.latency_us.record(us.max(1));
            }
            Err(e) => {
                tally.errors += 1;
                tally.first_error.get_or_insert(e);
                // A refused request answers at once: do not spin on it.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

/// Runs the loops (one per entry) for the warm-up and the measured window.
async fn run_loops<F, Fut>(loops: Vec<F>, timing: Timing) -> Result<Metrics, String>
where
    F: FnMut(u64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let phase = Arc::new(AtomicU8::new(WARMING));
    let tasks: Vec<_> = loops.into_iter().map(|step| tokio::spawn(closed_loop(step, phase.clone()))).collect();
    let in_flight = tasks.len();
    tokio::time::sleep(timing.warmup).await;
    let (cpu0, t0) = (procs::cpu_seconds(std::process::id()), Instant::now());
    phase.store(RECORDING, Ordering::Relaxed);
    tokio::time::sleep(timing.window).await;
    phase.store(STOPPING, Ordering::Relaxed);
    let (cpu1, elapsed) = (procs::cpu_seconds(std::process::id()), t0.elapsed().as_secs_f64());
    let (mut latency, mut errors, mut first_error) = (histogram(), 0u64, None);
    for task in tasks {
        let tally = task.await.map_err(|e| e.to_string())?;
        latency.add(&tally.latency_us).expect("same bounds");
        errors += tally.errors;
        if first_error.is_none() {
            first_error = tally.first_error;
        }
    }
    if let Some(e) = &first_error {
        eprintln!("  {errors} request(s) failed, the first with: {e}");
    }
    if latency.is_empty() {
        return Err(format!("no request succeeded: {}", first_error.unwrap_or_default()));
    }
    let mut metrics = Metrics::new();
    metrics.insert("ops_per_s".into(), latency.len() as f64 / elapsed);
    metrics.insert("ops".into(), latency.len() as f64);
    metrics.insert("in_flight".into(), in_flight as f64);
    metrics.insert("p50_us".into(), latency.value_at_quantile(0.5) as f64);
    metrics.insert("p99_us".into(), latency.value_at_quantile(0.99) as f64);
    metrics.insert("max_us".into(), latency.max() as f64);
    metrics.insert("errors".into(), errors as f64);
    // Server and load generator share this process.
    metrics.insert("process_cpu_pct".into(), (cpu1 - cpu0) / elapsed * 100.0);
    Ok(metrics)
}

/// Closed loops of `op`, each on its own client and channel (a client may appear more than
/// once: that many requests in flight).
async fn closed_loops(loops: Vec<(Client, String)>, op: Op, timing: Timing) -> Result<Metrics, String> {
    let loops = loops
        .into_iter()
        .map(|(client, channel)| {
            let (client, channel) = (Arc::new(client), Arc::new(channel));
            move |n: u64| {
                let (client, channel) = (client.clone(), channel.clone());
                async move { op.once(&client, &channel, n).await }
            }
        })
        .collect();
    run_loops(loops, timing).await
}

// ----- fan-out with and without history

/// Rounds of the fan-out without and with `storeInHistory`, alternated so that a change of
/// the machine's load during the measurement weighs on both alike.
const FANOUT_ROUNDS: u32 = 2;

/// The fan-out without, then with `storeInHistory`, [`FANOUT_ROUNDS`] times (each on its own
/// channel and connections, each for half the window); rates and latencies are the rounds'
/// means, losses and errors their sums.
async fn fanout_both(server: &Server, timing: Timing) -> Result<Metrics, String> {
    let half = Timing { warmup: timing.warmup, window: timing.window / FANOUT_ROUNDS };
    let (mut off, mut on) = (Metrics::new(), Metrics::new());
    for round in 0..FANOUT_ROUNDS {
        for (into, store_in_history) in [(&mut off, false), (&mut on, true)] {
            let measured = fanout(server, 2 * round + u32::from(store_in_history), store_in_history, half).await?;
            for (name, value) in measured {
                let summed = matches!(name.as_str(), "lost" | "errors" | "failed_connections");
                let share = if summed { value } else { value / f64::from(FANOUT_ROUNDS) };
                *into.entry(name).or_insert(0.0) += share;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let mut metrics = Metrics::new();
    for (suffix, m) in [("off", &off), ("on", &on)] {
        for (name, value) in m {
            metrics.insert(format!("{name}_{suffix}"), *value);
        }
    }
    let rate = |m: &Metrics| m.get("deliveries_per_s").copied().unwrap_or(0.0);
    let (a, b) = (rate(&off), rate(&on));
    metrics.insert("cost_pct".into(), if a > 0.0 { (a - b) / a * 100.0 } else { 0.0 });
    let cpu = |m: &Metrics| m.get("cpu_ns_per_delivery").copied().unwrap_or(0.0);
    let (a, b) = (cpu(&off), cpu(&on));
    metrics.insert("cpu_cost_pct".into(), if a > 0.0 { (b - a) / a * 100.0 } else { 0.0 });
    Ok(metrics)
}

async fn fanout(server: &Server, channel: u32, store_in_history: bool, timing: Timing) -> Result<Metrics, String> {
    let addr = server.local_addr().to_string();
    let base = 10_000 * (channel as usize + 1);
    let subs: Vec<Subscriber> = futures_util::stream::iter(0..SUBSCRIBERS)
        .map(|i| {
            let addr = addr.clone();
            async move { Subscriber::connect(Peer::Piazza, &addr, base + i, channel, false).await }
        })
        .buffer_unordered(50)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let publisher = login(server, &format!("publisher-{channel}")).await?;
    let record = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut progress = Vec::new();
    let mut tasks = Vec::new();
    for sub in subs {
        let p = Arc::new(Progress::default());
        progress.push(p.clone());
        tasks.push(tokio::spawn(run_subscriber(sub, p, record.clone(), stop_rx.clone())));
    }
    let progress = Arc::new(progress);
    let running = Arc::new(AtomicBool::new(true));
    let answered = Arc::new(AtomicU64::new(0));
    let publishing = tokio::spawn(publish(
        publisher.clone(),
        channel,
        store_in_history,
        progress.clone(),
        running.clone(),
        answered.clone(),
    ));
    tokio::time::sleep(timing.warmup).await;
    record.store(true, Ordering::Relaxed);
    let received = || progress.iter().map(|p| p.received.load(Ordering::Relaxed)).sum::<u64>();
    let me = std::process::id();
    let (r0, a0, c0, t0) =
        (received(), answered.load(Ordering::Relaxed), crate::procs::cpu_seconds(me), Instant::now());
    tokio::time::sleep(timing.window).await;
    let (r1, a1, elapsed) = (received(), answered.load(Ordering::Relaxed), t0.elapsed().as_secs_f64());
    let cpu = crate::procs::cpu_seconds(me) - c0;
    running.store(false, Ordering::Relaxed);
    let (sent, publish_errors, answers) = publishing.await.map_err(|e| e.to_string())??;
    let deadline = Instant::now() + Duration::from_secs(5);
    while progress.iter().any(|p| p.last_seq.load(Ordering::Acquire) < sent) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);
    let (mut latency, mut lost, mut errors, mut failed) = (histogram(), 0u64, publish_errors, 0u64);
    for (task, p) in tasks.into_iter().zip(progress.iter()) {
        let tally = task.await.map_err(|e| e.to_string())?;
        latency.add(&tally.latency_us).expect("same bounds");
        lost += tally.gaps + sent.saturating_sub(p.last_seq.load(Ordering::Acquire));
        errors += tally.errors;
        failed += u64::from(tally.failed.is_some());
    }
    logout(&publisher).await;
    let mut metrics = Metrics::new();
    metrics.insert("deliveries_per_s".into(), (r1 - r0) as f64 / elapsed);
    metrics.insert("publishes_per_s".into(), (a1 - a0) as f64 / elapsed);
    // Server and load generator together (one process): what a delivery costs the machine.
    metrics.insert("cpu_ns_per_delivery".into(), cpu * 1e9 / (r1 - r0).max(1) as f64);
    metrics.insert("p50_us".into(), latency.value_at_quantile(0.5) as f64);
    metrics.insert("p99_us".into(), latency.value_at_quantile(0.99) as f64);
    // From the publish to its answer (with history: once the message is kept).
    metrics.insert("answer_p50_us".into(), answers.value_at_quantile(0.5) as f64);
    metrics.insert("answer_p99_us".into(), answers.value_at_quantile(0.99) as f64);
    metrics.insert("lost".into(), lost as f64);
    metrics.insert("errors".into(), errors as f64);
    metrics.insert("failed_connections".into(), failed as f64);
    Ok(metrics)
}

/// The publisher: stamped 128-byte messages, at most `ANSWER_WINDOW` unanswered and
/// `DELIVERY_WINDOW` not yet delivered to every subscriber. Returns the last sequence number,
/// the publishes refused and the times from publishes to their answers.
async fn publish(
    client: Client,
    channel: u32,
    store_in_history: bool,
    progress: Arc<Vec<Arc<Progress>>>,
    running: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
) -> Result<(u64, u64, Histogram<u64>), String> {
    let options = PublishOptions { store_in_history, ..Default::default() };
    let name = format!("c{channel}");
    let delivered = || progress.iter().map(|p| p.last_seq.load(Ordering::Acquire)).min().unwrap_or(0);
    let mut pending = FuturesUnordered::new();
    let (mut seq, mut errors, mut first_error) = (0u64, 0u64, None);
    let mut latency = histogram();
    let mut answer = |(result, sent): (Result<Result<_, piazza_engine::Error>, oneshot::error::RecvError>, Instant)| {
        answered.fetch_add(1, Ordering::Relaxed);
        let _ = latency.record(sent.elapsed().as_micros() as u64);
        let failure = match result {
            Ok(Ok(_)) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the client dropped the request".to_string(),
        };
        errors += 1;
        first_error.get_or_insert(failure);
    };
    while running.load(Ordering::Relaxed) {
        while pending.len() >= ANSWER_WINDOW {
            let result = pending.next().await.expect("not empty");
            answer(result);
        }
        while seq.saturating_sub(delivered()) >= DELIVERY_WINDOW && running.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        seq += 1;
        let payload = Payload::Binary(Stamp { stream: channel, seq, sent_ns: now_ns() }.binary(SIZE).into());
        let (tx, rx) = oneshot::channel();
        client.publish(Route::Oneshot(tx), &name, payload, options.clone()).map_err(|e| e.to_string())?;
        let sent = Instant::now();
        pending.push(async move { (rx.await, sent) });
    }
    while let Some(result) = pending.next().await {
        answer(result);
    }
    if let Some(e) = first_error {
        eprintln!("  {errors} publish(es) refused, the first with: {e}");
    }
    Ok((seq, errors, latency))
}

// ----- Redis

fn answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut tcp) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = tcp.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    tcp.write_all(b"PING\r\n").is_ok() && tcp.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// The Redis URL to use: `PIAZZA_BENCH_REDIS`, or 127.0.0.1:6379, started with
/// scripts/redis.sh when nothing answers there.
fn ensure_redis() -> Result<String, String> {
    if let Ok(url) = std::env::var("PIAZZA_BENCH_REDIS") {
        return Ok(url);
    }
    if answers(6379) {
        return Ok(procs::redis_url());
    }
    let script = procs::repo_root().join("scripts/redis.sh");
    eprintln!("storage: no Redis answers on 127.0.0.1:6379; running {}", script.display());
    let status = std::process::Command::new("bash")
        .arg(&script)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if status.success() && answers(6379) {
        Ok(procs::redis_url())
    } else {
        Err(format!("no Redis on 127.0.0.1:6379 and {} could not start one ({status})", script.display()))
    }
}

fn redis_note() -> String {
    let version = std::process::Command::new("redis-server").arg("--version").output().ok().and_then(|o| {
        String::from_utf8_lossy(&o.stdout).split_whitespace().find(|w| w.starts_with("v=")).map(String::from)
    });
    match version {
        Some(v) => format!("redis-server {} on the same machine", v.trim_start_matches("v=")),
        None => "Redis on the same machine".into(),
    }
}

/// Plain `HSET key k <16 digits>` from one multiplexed connection, `in_flight` at once.
async fn hset(url: &str, in_flight: usize, timing: Timing) -> Result<Metrics, String> {
    let conn = procs::redis_connection(url).await?;
    let key = format!("piazza-bench-hset-{}", unique());
    let loops = (0..in_flight)
        .map(|_| {
            let (conn, key) = (conn.clone(), key.clone());
            move |n: u64| {
                let (mut conn, key) = (conn.clone(), key.clone());
                async move {
                    let mut cmd = redis::cmd("HSET");
                    cmd.arg(&key).arg("k").arg(format!("{n:016}"));
                    cmd.query_async::<i64>(&mut conn).await.map(drop).map_err(|e| e.to_string())
                }
            }
        })
        .collect();
    let metrics = run_loops(loops, timing).await;
    let mut conn = conn;
    let _ = redis::cmd("DEL").arg(&key).query_async::<i64>(&mut conn).await;
    metrics
}
