//! The scenarios: a load (subscribers, channels, publishers, payload size, closed loop or a fixed
//! rate) run against one peer, measured the same way for every peer.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::conn::{run_subscriber, Progress, Publisher, Subscriber};
use crate::procs::{self, Server};
use crate::wire::{now_ns, Stamp};
use crate::Peer;

/// Connections opened at once while setting up.
const CONNECT_CONCURRENCY: usize = 200;
const MB: f64 = 1024.0 * 1024.0;

#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Each publisher keeps at most `window` messages in flight (published, not yet delivered to
    /// every subscriber of their channel).
    ClosedLoop { window: u64 },
    /// Each publisher sends this many messages per second.
    Rate { per_second: f64 },
}

#[derive(Debug, Clone)]
pub struct Load {
    pub subscribers: usize,
    pub channels: u32,
    pub publishers: usize,
    pub size: usize,
    pub mode: Mode,
    pub warmup: Duration,
    pub duration: Duration,
}

pub type Metrics = BTreeMap<String, f64>;

/// Measures `load` against `server`.
pub async fn run_load(server: &Server, peer: Peer, load: &Load) -> Result<Metrics, String> {
    let mut metrics = Metrics::new();
    // Subscribers: subscriber i listens to channel i % channels.
    let subs: Vec<(u32, Subscriber)> = futures_util::stream::iter(0..load.subscribers)
        .map(|i| {
            let addr = server.addr.clone();
            let channel = (i % load.channels as usize) as u32;
            async move { Subscriber::connect(peer, &addr, i, channel, false).await.map(|s| (channel, s)) }
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let mut publishers = Vec::new();
    for p in 0..load.publishers {
        publishers.push(Publisher::connect(peer, &server.publish_addr, p, load.size).await?);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (rss_connected, _) = procs::memory(server.pid);
    metrics.insert("rss_connected_mb".into(), rss_connected as f64 / MB);

    let record = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut by_channel: HashMap<u32, Vec<Arc<Progress>>> = HashMap::new();
    let mut tasks = Vec::new();
    for (channel, sub) in subs {
        let progress = Arc::new(Progress::default());
        by_channel.entry(channel).or_default().push(progress.clone());
        tasks.push((
            channel,
            progress.clone(),
            tokio::spawn(run_subscriber(sub, progress, record.clone(), stop_rx.clone())),
        ));
    }
    let by_channel = Arc::new(by_channel);

    let publishing = Arc::new(AtomicBool::new(true));
    let mut publisher_tasks = Vec::new();
    for (p, publisher) in publishers.into_iter().enumerate() {
        let owned: Vec<u32> = (0..load.channels).filter(|c| *c as usize % load.publishers == p).collect();
        publisher_tasks.push(tokio::spawn(publish(
            publisher,
            owned,
            by_channel.clone(),
            load.mode,
            publishing.clone(),
        )));
    }

    tokio::time::sleep(load.warmup).await;
    record.store(true, Ordering::Relaxed);
    let received = || tasks.iter().map(|(_, p, _)| p.received.load(Ordering::Relaxed)).sum::<u64>();
    let (r0, s0, g0, t0) = (received(), server.cpu_seconds(), procs::cpu_seconds(std::process::id()), Instant::now());
    tokio::time::sleep(load.duration).await;
    let (r1, s1, g1, elapsed) =
        (received(), server.cpu_seconds(), procs::cpu_seconds(std::process::id()), t0.elapsed().as_secs_f64());
    publishing.store(false, Ordering::Relaxed);

    let mut sent: HashMap<u32, u64> = HashMap::new();
    let mut publish_errors = 0u64;
    for task in publisher_tasks {
        let (per_channel, errors) = task.await.map_err(|e| e.to_string())??;
        sent.extend(per_channel);
        publish_errors += errors;
    }
    // Let every subscriber catch up with what was sent (or give up after 5 s).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let behind =
            tasks.iter().any(|(c, p, _)| p.last_seq.load(Ordering::Acquire) < sent.get(c).copied().unwrap_or(0));
        if !behind || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    let (mut lost, mut duplicates, mut errors, mut failed) = (0u64, 0u64, publish_errors, 0u64);
    for (channel, progress, task) in tasks {
        let tally = task.await.map_err(|e| e.to_string())?;
        latency.add(&tally.latency_us).expect("same bounds");
        let behind = sent.get(&channel).copied().unwrap_or(0).saturating_sub(progress.last_seq.load(Ordering::Acquire));
        lost += tally.gaps + behind;
        duplicates += tally.duplicates;
        errors += tally.errors;
        if let Some(why) = tally.failed {
            if failed == 0 {
                eprintln!("  a subscriber failed: {why}");
            }
            failed += 1;
        }
    }
    let (_, rss_hwm) = procs::memory(server.pid);
    metrics.insert("deliveries_per_s".into(), (r1 - r0) as f64 / elapsed);
    metrics.insert("published".into(), sent.values().sum::<u64>() as f64);
    metrics.insert("p50_us".into(), latency.value_at_quantile(0.5) as f64);
    metrics.insert("p99_us".into(), latency.value_at_quantile(0.99) as f64);
    metrics.insert("p999_us".into(), latency.value_at_quantile(0.999) as f64);
    metrics.insert("max_us".into(), latency.max() as f64);
    metrics.insert("samples".into(), latency.len() as f64);
    metrics.insert("lost".into(), lost as f64);
    metrics.insert("duplicates".into(), duplicates as f64);
    metrics.insert("errors".into(), errors as f64);
    metrics.insert("failed_connections".into(), failed as f64);
    metrics.insert("server_cpu_pct".into(), (s1 - s0) / elapsed * 100.0);
    metrics.insert("generator_cpu_pct".into(), (g1 - g0) / elapsed * 100.0);
    metrics.insert("rss_hwm_mb".into(), rss_hwm as f64 / MB);
    Ok(metrics)
}

/// One publisher's loop; returns the last sequence number per channel and the errors it got.
async fn publish(
    mut publisher: Publisher,
    channels: Vec<u32>,
    progress: Arc<HashMap<u32, Vec<Arc<Progress>>>>,
    mode: Mode,
    running: Arc<AtomicBool>,
) -> Result<(HashMap<u32, u64>, u64), String> {
    let mut sent: HashMap<u32, u64> = channels.iter().map(|c| (*c, 0)).collect();
    if channels.is_empty() {
        return Ok((sent, 0));
    }
    // Fewest deliveries of a channel's messages so far: the in-flight count is sent − this.
    let delivered = |c: &u32| {
        progress.get(c).map(|subs| subs.iter().map(|p| p.last_seq.load(Ordering::Acquire)).min().unwrap_or(0))
    };
    let mut last_ack = Instant::now();
    let start = Instant::now();
    let mut i = 0u64;
    let mut budget = 0u64;
    while running.load(Ordering::Relaxed) {
        let channel = channels[(i % channels.len() as u64) as usize];
        match mode {
            Mode::ClosedLoop { window } => {
                // Count the in-flight messages only when the budget from the last count is spent.
                while budget == 0 {
                    let in_flight: u64 = sent.iter().map(|(c, n)| n - delivered(c).unwrap_or(*n).min(*n)).sum();
                    budget = window.saturating_sub(in_flight);
                    if budget == 0 {
                        publisher.flush().await?;
                        if !running.load(Ordering::Relaxed) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_micros(200)).await;
                    }
                }
                budget = budget.saturating_sub(1);
            }
            Mode::Rate { per_second } => {
                let at = start + Duration::from_secs_f64(i as f64 / per_second);
                tokio::time::sleep_until(at.into()).await;
            }
        }
        let seq = sent.get_mut(&channel).expect("owned");
        *seq += 1;
        publisher.feed(Stamp { stream: channel, seq: *seq, sent_ns: now_ns() }).await?;
        if matches!(mode, Mode::Rate { .. }) || i % 64 == 63 {
            publisher.flush().await?;
        }
        if last_ack.elapsed() > Duration::from_secs(1) {
            publisher.ack().await?;
            last_ack = Instant::now();
        }
        i += 1;
    }
    publisher.flush().await?;
    Ok((sent, publisher.errors.load(Ordering::Relaxed)))
}

/// Idle memory: `connections` subscribers over `connections / 10` channels, no traffic.
pub async fn run_idle(server: &Server, peer: Peer, connections: usize) -> Result<Metrics, String> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (base, _) = procs::memory(server.pid);
    let channels = (connections / 10).max(1);
    let subs: Vec<Subscriber> = futures_util::stream::iter(0..connections)
        .map(|i| {
            let addr = server.addr.clone();
            async move { Subscriber::connect(peer, &addr, i, (i % channels) as u32, false).await }
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let record = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks: Vec<_> = subs
        .into_iter()
        .map(|s| tokio::spawn(run_subscriber(s, Arc::new(Progress::default()), record.clone(), stop_rx.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss, hwm) = procs::memory(server.pid);
    let _ = stop_tx.send(true);
    let mut failed = 0;
    for task in tasks {
        if task.await.map_err(|e| e.to_string())?.failed.is_some() {
            failed += 1;
        }
    }
    let mut metrics = Metrics::new();
    metrics.insert("connections".into(), connections as f64);
    metrics.insert("rss_base_mb".into(), base as f64 / MB);
    metrics.insert("rss_connected_mb".into(), rss as f64 / MB);
    metrics.insert("rss_hwm_mb".into(), hwm as f64 / MB);
    metrics.insert("bytes_per_connection".into(), rss.saturating_sub(base) as f64 / connections as f64);
    metrics.insert("failed_connections".into(), failed as f64);
    Ok(metrics)
}

/// Join storm (Piazza only): `clients` sessions subscribe with presence to one channel at once.
pub async fn run_join_storm(server: &Server, clients: usize, settle: Duration) -> Result<Metrics, String> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (base, _) = procs::memory(server.pid);
    // Sessions first (logged in, nothing joined), then every subscribe at once.
    let sessions: Vec<Subscriber> = futures_util::stream::iter(0..clients)
        .map(|i| {
            let addr = server.addr.clone();
            // Each first subscribes to a channel of its own, so logins are done before the storm.
            async move { Subscriber::connect(Peer::Piazza, &addr, i, 1_000_000 + i as u32, false).await }
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let end = started + settle;
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|s| {
            tokio::spawn(async move {
                let Subscriber::Piazza(mut ws) = s else { unreachable!() };
                let join = r#"{"op":"subscribe","id":2,"channel":"storm","withPresence":true}"#;
                ws.send(Message::Text(join.into())).await.map_err(|e| e.to_string())?;
                let (mut snapshot_at, mut events, mut bytes) = (None, 0u64, 0u64);
                let mut frames = 0u64;
                let mut ack = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tokio::select! {
                        frame = ws.next() => match frame {
                            Some(Ok(Message::Text(t))) => {
                                frames += 1;
                                if t.contains(r#""t":"presence""#) {
                                    events += 1;
                                    bytes += t.len() as u64;
                                    if snapshot_at.is_none() && t.contains(r#""eventType":"SNAPSHOT""#) {
                                        snapshot_at = Some(started.elapsed());
                                    }
                                }
                            }
                            Some(Ok(_)) => frames += 1,
                            _ => return Err("connection ended during the storm".to_string()),
                        },
                        _ = ack.tick() => {
                            let ping = format!(r#"{{"op":"ping","received":{frames}}}"#);
                            ws.send(Message::Text(ping.into())).await.map_err(|e| e.to_string())?;
                        }
                        _ = tokio::time::sleep_until(end.into()) => break,
                    }
                }
                Ok::<_, String>((snapshot_at, events, bytes))
            })
        })
        .collect();
    let (mut last_snapshot, mut events, mut bytes, mut missing) = (Duration::ZERO, 0u64, 0u64, 0u64);
    for task in tasks {
        let (snapshot, e, b) = task.await.map_err(|e| e.to_string())??;
        match snapshot {
            Some(at) => last_snapshot = last_snapshot.max(at),
            None => missing += 1,
        }
        events += e;
        bytes += b;
    }
    let (rss, hwm) = procs::memory(server.pid);
    let mut metrics = Metrics::new();
    metrics.insert("clients".into(), clients as f64);
    metrics.insert("all_snapshots_s".into(), last_snapshot.as_secs_f64());
    metrics.insert("missing_snapshots".into(), missing as f64);
    metrics.insert("events_per_member".into(), events as f64 / clients as f64);
    metrics.insert("presence_kb_per_member".into(), bytes as f64 / clients as f64 / 1024.0);
    metrics.insert("rss_connected_mb".into(), rss as f64 / MB);
    metrics.insert("rss_hwm_mb".into(), hwm as f64 / MB);
    metrics.insert("bytes_per_member".into(), rss.saturating_sub(base) as f64 / clients as f64);
    Ok(metrics)
}
