//! `piazza-bench`: the load generator behind `npm run bench` (docs/BENCHMARKS.md).
//!
//! `run` measures scenarios against Piazza and its peers (nats-server, a Socket.IO 4 server, a
//! bare tokio-tungstenite broadcast), each in a fresh server process, and prints one JSON
//! object per measurement. `bare-server` is that baseline server; `blast` is a fake Piazza
//! server that floods one client with messages (the JS event-path scenario); `plot` draws the
//! latency chart of the report. `storage` measures metadata, locks and history per store
//! (memory, SQLite, Redis) against in-process servers.

mod bare;
mod blast;
mod conn;
mod curves;
mod plot;
mod procs;
mod scale;
mod scenario;
mod storage;
mod wire;

use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

use scenario::{Load, Metrics, Mode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Peer {
    Piazza,
    Nats,
    SocketIo,
    Bare,
    /// One piazza-server in cluster mode (every publish also goes through Redis).
    PiazzaRedis,
    /// Two piazza-server nodes on one Redis: publishers on node A, subscribers on node B.
    PiazzaTwoNodes,
    /// `PiazzaTwoNodes` with cluster recovery off (`--recovery-messages 0`): what recovery costs.
    PiazzaTwoNodesNoRecovery,
}

impl Peer {
    /// The wire protocol the load generator speaks to this peer.
    pub fn protocol(self) -> Peer {
        match self {
            Peer::PiazzaRedis | Peer::PiazzaTwoNodes | Peer::PiazzaTwoNodesNoRecovery => Peer::Piazza,
            other => other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// 1 publisher → 1,000 subscribers of one channel, 128 B, closed loop.
    Fanout,
    /// 10,000 subscribers over 1,000 channels, 100 publishers, 128 B, closed loop.
    Channels,
    /// 60 messages/s into 1,000 subscribers: latency.
    Latency60,
    /// 500 messages/s into 1,000 subscribers: latency.
    Latency500,
    /// 1,000 messages/s into 1,000 subscribers: latency.
    Latency1000,
    /// 10,000 idle connections: server memory per connection.
    Idle,
    /// 10,000 clients subscribe with presence to one channel at once (Piazza only).
    JoinStorm,
    /// 19,000 connections on one node (the per-process descriptor limit here): connect storm,
    /// memory per connection, broadcasts to all (Piazza only; see `scale`).
    ScaleNode,
    /// 100,000 connections on 6 cluster nodes through Redis, each user also in one of 10,000
    /// presence channels: connect storm, memory, broadcasts to all (Piazza only).
    ScaleCluster,
}

#[derive(Parser)]
#[command(name = "piazza-bench", about = "Piazza load generator and peer comparison")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure scenarios against peers; one JSON object per line on stdout.
    Run {
        #[arg(long, value_delimiter = ',', default_values = ["fanout", "channels", "latency60", "latency500", "latency1000", "idle", "join-storm"])]
        scenarios: Vec<Scenario>,
        #[arg(long, value_delimiter = ',', default_values = ["piazza", "nats", "socket-io", "bare"])]
        peers: Vec<Peer>,
        /// Smaller and shorter: the whole matrix in under a minute.
        #[arg(long)]
        quick: bool,
        /// Repeat each measurement.
        #[arg(long, default_value_t = 1)]
        runs: usize,
    },
    /// Storage, locks and history per store (memory, SQLite, Redis), in-process servers; one
    /// JSON object per line on stdout.
    Storage {
        /// Shorter windows: every store in under a minute.
        #[arg(long)]
        quick: bool,
        /// Only these stores (memory, sqlite, sqlite-deferred, redis); all when not given.
        #[arg(long, value_delimiter = ',')]
        stores: Vec<String>,
        /// Only the fan-out with and without history (to look into its cost).
        #[arg(long)]
        fanout_only: bool,
    },
    /// The bare tokio-tungstenite broadcast server (a baseline peer).
    BareServer {
        #[arg(long)]
        port: u16,
    },
    /// A fake Piazza server that sends `events` messages to each client that subscribes.
    Blast {
        #[arg(long)]
        port: u16,
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[arg(long, default_value_t = 64)]
        size: usize,
    },
    /// The scale scenario with any sizes (one JSON line of metrics on stdout).
    Scale {
        #[arg(long, default_value_t = 19_000)]
        connections: usize,
        #[arg(long, default_value_t = 1)]
        nodes: usize,
        /// Presence channels each connection also joins one of (0 = none).
        #[arg(long, default_value_t = 0)]
        channels: u32,
        #[arg(long, default_value_t = 5)]
        broadcasts: u32,
        /// Cluster mode even with one node.
        #[arg(long)]
        cluster: bool,
    },
    /// One load-generator process of the scale scenarios (started by them).
    ScaleWorker {
        #[arg(long, value_delimiter = ',')]
        addrs: Vec<String>,
        #[arg(long)]
        first: usize,
        #[arg(long)]
        count: usize,
        #[arg(long)]
        channels: u32,
        #[arg(long)]
        broadcasts: u32,
    },
    /// How cost grows: fan-out against subscribers, latency against the publish rate, per peer
    /// (one JSON line per point on stdout).
    Curves {
        #[arg(long, value_delimiter = ',', default_values = ["piazza", "nats", "bare"])]
        peers: Vec<Peer>,
        #[arg(long, default_value_t = 1)]
        runs: usize,
    },
    /// Draw the cost-curves chart from the medians file the report script writes.
    PlotCurves {
        #[arg(long)]
        input: std::path::PathBuf,
        #[arg(long)]
        output: std::path::PathBuf,
    },
    /// Draw the latency chart from the medians file the report script writes.
    Plot {
        #[arg(long)]
        input: std::path::PathBuf,
        #[arg(long)]
        output: std::path::PathBuf,
    },
}

#[derive(Serialize)]
struct Outcome {
    scenario: Scenario,
    peer: Peer,
    run: usize,
    quick: bool,
    note: String,
    /// Why there are no metrics (the peer is not installed, or the run failed).
    error: Option<String>,
    metrics: Metrics,
}

fn load(scenario: Scenario, quick: bool) -> Load {
    let (duration, warmup) = if quick {
        (Duration::from_secs(2), Duration::from_millis(500))
    } else {
        (Duration::from_secs(5), Duration::from_secs(1))
    };
    let base = Load {
        subscribers: 1000,
        channels: 1,
        publishers: 1,
        size: 128,
        mode: Mode::ClosedLoop { window: 256 },
        warmup,
        duration,
    };
    match scenario {
        Scenario::Fanout => base,
        Scenario::Channels => Load {
            subscribers: if quick { 2_000 } else { 10_000 },
            channels: if quick { 200 } else { 1_000 },
            publishers: if quick { 20 } else { 100 },
            ..base
        },
        Scenario::Latency60 => Load { mode: Mode::Rate { per_second: 60.0 }, duration: duration * 2, ..base },
        Scenario::Latency500 => Load { mode: Mode::Rate { per_second: 500.0 }, ..base },
        Scenario::Latency1000 => Load { mode: Mode::Rate { per_second: 1000.0 }, ..base },
        Scenario::Idle | Scenario::JoinStorm | Scenario::ScaleNode | Scenario::ScaleCluster => base,
    }
}

/// The scale scenarios' sizes.
fn scale_load(scenario: Scenario, quick: bool) -> Option<scale::ScaleLoad> {
    let (connections, nodes, channels) = match (scenario, quick) {
        (Scenario::ScaleNode, false) => (19_000, 1, 0),
        (Scenario::ScaleNode, true) => (4_000, 1, 0),
        (Scenario::ScaleCluster, false) => (100_000, 6, 10_000),
        (Scenario::ScaleCluster, true) => (12_000, 3, 1_200),
        _ => return None,
    };
    Some(scale::ScaleLoad { connections, nodes, channels, broadcasts: 5, cluster: nodes > 1 })
}

async fn measure(scenario: Scenario, peer: Peer, quick: bool) -> Result<(String, Metrics), String> {
    if let Some(load) = scale_load(scenario, quick) {
        // One note for both scale scenarios (the report keys notes by peer).
        let note = "piazza-server (release), max-pending-handshakes 8192; scale-cluster: 6 nodes in cluster mode on one Redis, recovery on; load generator in processes of at most 17,000 connections".to_string();
        return scale::run(&load).await.map(|m| (note, m));
    }
    let server = procs::Server::start(peer, &[]).await?;
    let note = server.note.clone();
    let result = match scenario {
        Scenario::Idle => scenario::run_idle(&server, peer, if quick { 2_000 } else { 10_000 }).await,
        Scenario::JoinStorm => {
            let settle = Duration::from_secs(if quick { 4 } else { 8 });
            scenario::run_join_storm(&server, if quick { 2_000 } else { 10_000 }, settle).await
        }
        _ => scenario::run_load(&server, peer, &load(scenario, quick)).await,
    };
    server.stop().await;
    result.map(|m| (note, m))
}

#[tokio::main(worker_threads = 2)]
async fn main() {
    match Cli::parse().command {
        Command::Run { scenarios, peers, quick, runs } => {
            for run in 1..=runs {
                for &scenario in &scenarios {
                    for &peer in &peers {
                        let piazza_only =
                            matches!(scenario, Scenario::JoinStorm | Scenario::ScaleNode | Scenario::ScaleCluster);
                        if piazza_only && peer != Peer::Piazza {
                            continue;
                        }
                        eprintln!("run {run}/{runs}: {scenario:?} on {peer:?}…");
                        let (note, metrics, error) = match measure(scenario, peer, quick).await {
                            Ok((note, metrics)) => (note, metrics, None),
                            Err(e) => {
                                eprintln!("  skipped: {e}");
                                (String::new(), Metrics::new(), Some(e))
                            }
                        };
                        let outcome = Outcome { scenario, peer, run, quick, note, error, metrics };
                        println!("{}", serde_json::to_string(&outcome).expect("serializes"));
                        // Let the kernel reclaim the closed sockets before the next server starts.
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }
        Command::Storage { quick, stores, fanout_only } => storage::run(quick, &stores, fanout_only).await,
        Command::BareServer { port } => bare::serve(port).await,
        Command::Scale { connections, nodes, channels, broadcasts, cluster } => {
            let load = scale::ScaleLoad { connections, nodes, channels, broadcasts, cluster: cluster || nodes > 1 };
            match scale::run(&load).await {
                Ok(metrics) => println!("{}", serde_json::to_string(&metrics).expect("serializes")),
                Err(e) => {
                    eprintln!("scale: {e}");
                    std::process::exit(1);
                }
            }
        }
        Command::ScaleWorker { addrs, first, count, channels, broadcasts } => {
            scale::worker(addrs, first, count, channels, broadcasts).await
        }
        Command::Blast { port, events, size } => blast::serve(port, events, size).await,
        Command::Curves { peers, runs } => curves::run(&peers, runs).await,
        Command::PlotCurves { input, output } => {
            if let Err(e) = curves::draw(&input, &output) {
                eprintln!("plot-curves: {e}");
                std::process::exit(1);
            }
        }
        Command::Plot { input, output } => {
            if let Err(e) = plot::draw(&input, &output) {
                eprintln!("plot: {e}");
                std::process::exit(1);
            }
        }
    }
}
