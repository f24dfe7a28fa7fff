//! Scale: how many connections one node holds, and a cluster of nodes on one machine.
//!
//! A process here may hold at most 20,000 file descriptors, so connections are spread over
//! several piazza-server nodes (cluster mode through Redis) and over several load-generator
//! processes (`piazza-bench scale-worker`), each holding at most [`WORKER_CONNECTIONS`].
//!
//! 1. **Connect storm**: every worker opens its share at once ([`CONCURRENCY`] handshakes in
//!    flight per worker), connection `i` on node `i % nodes`: hello, subscribe to `all` and,
//!    with presence, to `c<i % channels>` with presence (so every user is in a small presence
//!    channel too). Timed from the workers' start to the last subscribe answered.
//! 2. **Idle**: once the nodes are quiet again (3 to 30 s later), each node's RSS above its RSS
//!    before the storm, per connection it holds.
//! 3. **Broadcast**: one publisher on node 0 sends `broadcasts` messages to `all`, a second apart;
//!    every connection records the time from the send (the wall clock, which the processes
//!    share) to the arrival of each. Server CPU over that window, less the nodes' idle CPU over
//!    as long, per delivery; the load generator's the same way (it shares the cores).

use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::conn::{piazza_hello, until_text, ws_connect, ws_connect_from, Ws};
use crate::procs::{self, Server};
use crate::scenario::Metrics;
use crate::{wire, Peer};

/// Connections one load-generator process holds (below its 20,000 descriptors).
pub const WORKER_CONNECTIONS: usize = 17_000;
/// Handshakes in flight per worker during the storm.
const CONCURRENCY: usize = 200;
const MB: f64 = 1024.0 * 1024.0;

#[derive(Debug, Clone, Copy)]
pub struct ScaleLoad {
    pub connections: usize,
    pub nodes: usize,
    /// Presence channels (each connection joins `c<i % channels>` with presence); 0 = none.
    pub channels: u32,
    pub broadcasts: u32,
    /// Cluster mode through Redis (always with more than one node).
    pub cluster: bool,
}

fn wall_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

fn cpu(nodes: &[Server]) -> f64 {
    nodes.iter().map(Server::cpu_seconds).sum()
}

/// The nodes' CPU time in the kernel so far, in seconds.
fn kernel_cpu(nodes: &[Server]) -> f64 {
    nodes.iter().map(|s| procs::cpu_split(s.pid).1).sum()
}

/// Reads the next JSON line of a worker.
async fn next_json(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> Result<Value, String> {
    let line = tokio::time::timeout(Duration::from_secs(600), lines.next_line())
        .await
        .map_err(|_| "a worker said nothing for 10 minutes".to_string())?
        .map_err(|e| e.to_string())?
        .ok_or("a worker exited early")?;
    serde_json::from_str(&line).map_err(|e| format!("a worker said {line:?}: {e}"))
}

/// Runs the three phases (see the module docs) and returns their figures.
pub async fn run(load: &ScaleLoad) -> Result<Metrics, String> {
    if let Some(why) = procs::unavailable(if load.cluster { Peer::PiazzaRedis } else { Peer::Piazza }) {
        return Err(why);
    }
    let prefix = format!("piazza-scale-{}-{}", std::process::id(), wall_us());
    let mut nodes = Vec::new();
    for n in 0..load.nodes {
        // Up to 1,200 handshakes at once from the workers (the default allows 1,024 pending).
        let mut extra: Vec<String> = ["--max-pending-handshakes", "8192"].map(String::from).to_vec();
        if load.cluster {
            let node = format!("n{n}");
            extra.extend(
                ["--redis", &procs::redis_url(), "--redis-prefix", &prefix, "--node-id", &node].map(String::from),
            );
        }
        nodes.push(Server::start(Peer::Piazza, &extra).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base: Vec<u64> = nodes.iter().map(|s| procs::memory(s.pid).0).collect();
    let addrs = nodes.iter().map(|s| s.addr.clone()).collect::<Vec<_>>().join(",");

    let workers = load.connections.div_ceil(WORKER_CONNECTIONS);
    let per = load.connections.div_ceil(workers);
    let (started, storm_cpu) = (Instant::now(), cpu(&nodes));
    let mut children = Vec::new();
    for w in 0..workers {
        let first = w * per;
        let count = per.min(load.connections - first);
        let mut child = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
            .args(["scale-worker", "--addrs", &addrs, "--first", &first.to_string(), "--count", &count.to_string()])
            .args(["--channels", &load.channels.to_string(), "--broadcasts", &load.broadcasts.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start a worker: {e}"))?;
        let lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        children.push((child, lines));
    }
    let (mut connected, mut failed) = (0u64, 0u64);
    let mut errors = Vec::new();
    let mut connect_latency = Histogram::<u64>::new(3).expect("histogram");
    let mut held = vec![0u64; load.nodes];
    for (_, lines) in &mut children {
        let report = next_json(lines).await?;
        for (n, count) in report["per_node"].as_array().into_iter().flatten().enumerate() {
            held[n] += count.as_u64().unwrap_or(0);
        }
        for v in report["connect_us"].as_array().into_iter().flatten() {
            connect_latency.record(v.as_u64().unwrap_or(0).max(1)).expect("in range");
        }
        connected += report["connected"].as_u64().unwrap_or(0);
        failed += report["failed"].as_u64().unwrap_or(0);
        if let Some(e) = report["error"].as_str() {
            errors.push(e.to_string());
        }
    }
    let storm = started.elapsed();
    let storm_cpu = cpu(&nodes) - storm_cpu;
    // Idle memory: after the nodes have done with the storm (the last answer to a client is not
    // the last of the work: every node still applies the others' directory changes), when their
    // CPU over a second falls under 5 % of a core per 10,000 connections (their pings and
    // heartbeats keep 100,000 idle connections at about 20 % of a core here), at least 3 s and
    // at most 30 s after it.
    let settle_start = Instant::now();
    let quiet = 0.05 * connected.max(1) as f64 / 10_000.0;
    tokio::time::sleep(Duration::from_secs(2)).await;
    loop {
        let before = cpu(&nodes);
        tokio::time::sleep(Duration::from_secs(1)).await;
        if cpu(&nodes) - before < quiet || settle_start.elapsed() >= Duration::from_secs(30) {
            break;
        }
    }
    let settled = settle_start.elapsed();
    let rss: Vec<u64> = nodes.iter().map(|s| procs::memory(s.pid).0).collect();
    // Per connection that connected (and each node's per connection it holds).
    let per_conn: Vec<f64> =
        (0..load.nodes).map(|n| rss[n].saturating_sub(base[n]) as f64 / held[n].max(1) as f64).collect();

    // The nodes' and the load generator's CPU while idle, to take out of the broadcast's (the
    // load generator shares the two cores with the nodes).
    let worker_pids: Vec<u32> = children.iter().filter_map(|(c, _)| c.id()).collect();
    let workers_cpu = || worker_pids.iter().map(|p| procs::cpu_seconds(*p)).sum::<f64>();
    let (idle_cpu, idle_workers, idle_start) = (cpu(&nodes), workers_cpu(), Instant::now());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_seconds = idle_start.elapsed().as_secs_f64();
    let idle_rate = (cpu(&nodes) - idle_cpu) / idle_seconds;
    let workers_idle_rate = (workers_cpu() - idle_workers) / idle_seconds;

    let mut publisher = ws_connect(Peer::Piazza, &nodes[0].addr).await?;
    piazza_hello(&mut publisher, "publisher").await?;
    let (busy_cpu, busy_kernel, busy_start) = (cpu(&nodes), kernel_cpu(&nodes), Instant::now());
    let busy_workers = workers_cpu();
    for b in 0..load.broadcasts {
        let mut payload = wall_us().to_le_bytes().to_vec();
        payload.resize(128, b'.');
        let frame = wire::piazza_publish(u64::from(b) + 1, "all", &payload);
        publisher.send(Message::Binary(frame.into())).await.map_err(|e| e.to_string())?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let window = busy_start.elapsed().as_secs_f64();
    let busy = cpu(&nodes) - busy_cpu - idle_rate * window;
    let kernel_share = (kernel_cpu(&nodes) - busy_kernel) / (cpu(&nodes) - busy_cpu).max(1e-9);
    let load_busy = workers_cpu() - busy_workers - workers_idle_rate * window;

    let mut latency = Histogram::<u64>::new(3).expect("histogram");
    let (mut missing, mut broken) = (0u64, 0u64);
    for (child, _) in &mut children {
        let stdin = child.stdin.as_mut().expect("piped");
        stdin.write_all(b"stop\n").await.map_err(|e| e.to_string())?;
        stdin.flush().await.map_err(|e| e.to_string())?;
    }
    for (_, lines) in &mut children {
        let report = next_json(lines).await?;
        for v in report["latencies_us"].as_array().into_iter().flatten() {
            latency.record(v.as_u64().unwrap_or(0).max(1)).expect("in range");
        }
        missing += report["missing"].as_u64().unwrap_or(0);
        broken += report["broken"].as_u64().unwrap_or(0);
    }
    let rss_after: Vec<u64> = nodes.iter().map(|s| procs::memory(s.pid).1).collect();
    for node in nodes {
        node.stop().await;
    }
    if load.cluster {
        if let Err(e) = procs::forget_prefix(&procs::redis_url(), &prefix).await {
            eprintln!("scale: cannot delete the run's Redis keys: {e}");
        }
    }
    for e in errors.iter().take(3) {
        eprintln!("  worker: {e}");
    }

    let deliveries = latency.len() as f64;
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    let mut m = Metrics::new();
    m.insert("connections".into(), load.connections as f64);
    m.insert("nodes".into(), load.nodes as f64);
    m.insert("workers".into(), workers as f64);
    m.insert("presence_channels".into(), f64::from(load.channels));
    m.insert("connected".into(), connected as f64);
    m.insert("failed_connections".into(), failed as f64);
    m.insert("connect_storm_s".into(), storm.as_secs_f64());
    m.insert("connects_per_s".into(), connected as f64 / storm.as_secs_f64());
    m.insert("settle_s".into(), settled.as_secs_f64());
    m.insert("storm_server_cpu_us_per_connection".into(), storm_cpu * 1e6 / connected.max(1) as f64);
    // One connection's hello and subscribes, from its TCP connect to the last answer.
    m.insert("connect_p50_ms".into(), connect_latency.value_at_quantile(0.5) as f64 / 1000.0);
    m.insert("connect_p99_ms".into(), connect_latency.value_at_quantile(0.99) as f64 / 1000.0);
    m.insert("connect_max_ms".into(), connect_latency.max() as f64 / 1000.0);
    m.insert("rss_connected_mb_total".into(), rss.iter().sum::<u64>() as f64 / MB);
    m.insert("rss_connected_mb_max_node".into(), rss.iter().copied().max().unwrap_or(0) as f64 / MB);
    m.insert("rss_peak_mb_max_node".into(), rss_after.iter().copied().max().unwrap_or(0) as f64 / MB);
    let total_above: u64 = rss.iter().zip(&base).map(|(r, b)| r.saturating_sub(*b)).sum();
    m.insert("bytes_per_connection".into(), total_above as f64 / connected.max(1) as f64);
    m.insert("bytes_per_connection_max_node".into(), per_conn.iter().copied().fold(0.0, f64::max));
    m.insert("broadcasts".into(), f64::from(load.broadcasts));
    m.insert("deliveries".into(), deliveries);
    m.insert("missing_deliveries".into(), missing as f64);
    m.insert("broken_connections".into(), broken as f64);
    m.insert("broadcast_p50_ms".into(), ms(0.5));
    m.insert("broadcast_p99_ms".into(), ms(0.99));
    m.insert("broadcast_last_ms".into(), latency.max() as f64 / 1000.0);
    m.insert("broadcast_kernel_cpu_share".into(), kernel_share);
    m.insert("cpu_ns_per_delivery".into(), if deliveries > 0.0 { busy.max(0.0) * 1e9 / deliveries } else { 0.0 });
    m.insert(
        "load_generator_cpu_ns_per_delivery".into(),
        if deliveries > 0.0 { load_busy.max(0.0) * 1e9 / deliveries } else { 0.0 },
    );
    Ok(m)
}

/// One connection of the storm: hello, `all`, and its presence channel.
async fn connect(addr: &str, index: usize, channels: u32) -> Result<Ws, String> {
    // Each connection from its own loopback address (127.0.1.1 to 127.0.250.250, again after
    // 62,500), as from many client machines: see `ws_connect_from`.
    let source = std::net::Ipv4Addr::new(127, 0, (index / 250 % 250 + 1) as u8, (index % 250 + 1) as u8);
    let mut ws = ws_connect_from(Peer::Piazza, addr, Some(source)).await?;
    piazza_hello(&mut ws, &format!("u{index}")).await?;
    let all = r#"{"op":"subscribe","id":1,"channel":"all","withPresence":false}"#;
    ws.send(Message::Text(all.into())).await.map_err(|e| e.to_string())?;
    until_text(&mut ws, "subscribe all", |t| t.contains(r#""t":"ok""#)).await?;
    if channels > 0 {
        let channel = index % channels as usize;
        let own = format!(r#"{{"op":"subscribe","id":2,"channel":"c{channel}","withPresence":true}}"#);
        ws.send(Message::Text(own.into())).await.map_err(|e| e.to_string())?;
        until_text(&mut ws, "subscribe with presence", |t| t.contains(r#""t":"ok""#)).await?;
    }
    Ok(ws)
}

/// What one connection saw of the broadcast.
#[derive(Default)]
struct Seen {
    latencies_us: Vec<u64>,
    broken: bool,
}

/// Reads until told to stop; pings (acknowledging) every 30 s, as a quiet client does.
async fn listen(mut ws: Ws, index: usize, mut stop: watch::Receiver<bool>) -> Seen {
    let mut seen = Seen::default();
    let mut frames = 0u64;
    let offset = Duration::from_millis((index % 30_000) as u64);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + offset, Duration::from_secs(30));
    loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Binary(b))) => {
                    frames += 1;
                    if let Some(sent) = wire::piazza_payload(&b).and_then(|p| p.get(..8)) {
                        let sent = u64::from_le_bytes(sent.try_into().expect("8 bytes"));
                        seen.latencies_us.push(wall_us().saturating_sub(sent));
                    }
                }
                Some(Ok(Message::Text(_))) => frames += 1,
                Some(Ok(Message::Close(_)) | Err(_)) | None => {
                    seen.broken = true;
                    return seen;
                }
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                let frame = format!(r#"{{"op":"ping","received":{frames}}}"#);
                if ws.send(Message::Text(frame.into())).await.is_err() {
                    seen.broken = true;
                    return seen;
                }
            }
            _ = stop.changed() => return seen,
        }
    }
}

/// A connection of the storm, listening, and how long its hello and subscribes took (µs), or
/// why it failed.
type Opened = Result<(tokio::task::JoinHandle<Seen>, u64), String>;

/// `piazza-bench scale-worker`: opens connections `first..first + count` over `addrs`, says
/// how it went (one JSON line), listens until a line on stdin, then says what arrived.
pub async fn worker(addrs: Vec<String>, first: usize, count: usize, channels: u32, broadcasts: u32) {
    let started = Instant::now();
    // Each connection listens (and pings, as a real client does) from the moment it is open, not
    // from the end of the storm: a storm longer than two heartbeat intervals would otherwise see
    // its first connections closed as dead.
    let (stop_tx, stop_rx) = watch::channel(false);
    let opened: Vec<(usize, Opened)> = futures_util::stream::iter(first..first + count)
        .map(|i| {
            let addr = addrs[i % addrs.len()].clone();
            let stop = stop_rx.clone();
            async move {
                let start = Instant::now();
                let result = connect(&addr, i, channels).await;
                (i, result.map(|ws| (tokio::spawn(listen(ws, i, stop)), start.elapsed().as_micros() as u64)))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut error = None;
    let (mut tasks, mut connect_us) = (Vec::new(), Vec::new());
    let mut per_node = vec![0usize; addrs.len()];
    for (i, result) in opened {
        match result {
            Ok((task, us)) => {
                tasks.push(task);
                connect_us.push(us);
                per_node[i % addrs.len()] += 1;
            }
            Err(e) => error = error.or(Some(e)),
        }
    }
    let report = json!({"connected": tasks.len(), "failed": count - tasks.len(), "error": error,
        "seconds": started.elapsed().as_secs_f64(), "connect_us": connect_us, "per_node": per_node});
    println!("{report}");
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let _ = stdin.next_line().await;
    let _ = stop_tx.send(true);
    let (mut latencies, mut counts, mut broken) = (Vec::new(), Vec::new(), 0u64);
    for task in tasks {
        let seen = task.await.unwrap_or_default();
        counts.push(seen.latencies_us.len());
        broken += u64::from(seen.broken);
        latencies.extend(seen.latencies_us);
    }
    let expected = broadcasts as usize;
    let missing: usize =
        counts.iter().map(|c| expected.saturating_sub(*c)).sum::<usize>() + (count - counts.len()) * expected;
    println!("{}", json!({"latencies_us": latencies, "missing": missing, "broken": broken}));
}
