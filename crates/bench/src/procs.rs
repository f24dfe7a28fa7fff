//! The servers under test, each in its own process, and what `/proc` says about them.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::Peer;

/// A running server (one process, or two cluster nodes), killed when dropped.
pub struct Server {
    children: Vec<Child>,
    /// The process the subscribers connect to (its memory is what the report gives).
    pub pid: u32,
    /// Where subscribers connect.
    pub addr: String,
    /// Where publishers connect (another node for `PiazzaTwoNodes`).
    pub publish_addr: String,
    /// What the report should say about this peer (version, settings).
    pub note: String,
    /// The key prefix of a cluster's Redis, deleted when the server stops.
    pub redis_prefix: Option<String>,
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn sibling(name: &str) -> PathBuf {
    std::env::current_exe().expect("own path").with_file_name(name)
}

/// Where the repository is (for the Socket.IO server script and its node_modules).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The nats-server binary, if the machine has one.
pub fn nats_binary() -> Option<PathBuf> {
    let candidates = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"];
    candidates.iter().map(PathBuf::from).find(|p| p.exists()).or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).map(|d| d.join("nats-server")).find(|p| p.exists())
    })
}

/// Why a peer cannot run here, if it cannot.
pub fn unavailable(peer: Peer) -> Option<String> {
    match peer {
        Peer::Nats if nats_binary().is_none() => {
            Some("nats-server is not installed (apt-get install nats-server)".into())
        }
        Peer::SocketIo if !repo_root().join("node_modules/socket.io").exists() => {
            Some("the socket.io npm package is not installed (npm install)".into())
        }
        Peer::PiazzaRedis | Peer::PiazzaTwoNodes | Peer::PiazzaTwoNodesNoRecovery if !redis_reachable() => {
            Some(format!("no Redis answers at {} (bash scripts/redis.sh starts one)", redis_url()))
        }
        Peer::Piazza | Peer::PiazzaRedis | Peer::PiazzaTwoNodes | Peer::PiazzaTwoNodesNoRecovery
            if !sibling("piazza-server").exists() =>
        {
            Some(format!("{} is missing (cargo build --release -p piazza-engine)", sibling("piazza-server").display()))
        }
        _ => None,
    }
}

fn redis_reachable() -> bool {
    let url = redis_url();
    let hostport =
        url.trim_start_matches("redis://").split(['/', '?']).next().unwrap_or("").rsplit('@').next().unwrap_or("");
    std::net::TcpStream::connect(hostport).is_ok()
}

async fn wait_listening(port: u16) -> Result<(), String> {
    for _ in 0..500 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(format!("nothing listens on port {port} after 10 s"))
}

/// The Redis the cluster peers use (`npm run bench` starts one with scripts/redis.sh).
pub fn redis_url() -> String {
    std::env::var("PIAZZA_BENCH_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

impl Server {
    /// Starts `peer` on a free loopback port (two nodes on two ports for `PiazzaTwoNodes`).
    pub async fn start(peer: Peer, extra: &[String]) -> Result<Server, String> {
        let prefix = format!("piazza-bench-{}-{}", std::process::id(), now_ms());
        let cluster = |node: &str| -> Vec<String> {
            let own = ["--redis", &redis_url(), "--redis-prefix", &prefix, "--node-id", node].map(String::from);
            [&own[..], extra].concat()
        };
        match peer {
            Peer::PiazzaRedis => {
                let mut server = Server::start_one(Peer::Piazza, &cluster("a")).await?;
                server.redis_prefix = Some(prefix.clone());
                server.note = format!("{}; cluster mode on Redis ({}), one node", server.note, redis_version());
                Ok(server)
            }
            Peer::PiazzaTwoNodes | Peer::PiazzaTwoNodesNoRecovery => {
                let off = peer == Peer::PiazzaTwoNodesNoRecovery;
                let node = |name: &str| {
                    let mut args = cluster(name);
                    if off {
                        args.extend(["--recovery-messages".to_string(), "0".to_string()]);
                    }
                    args
                };
                let publishing = Server::start_one(Peer::Piazza, &node("a")).await?;
                let mut server = Server::start_one(Peer::Piazza, &node("b")).await?;
                server.note = format!(
                    "{}; cluster mode on Redis ({}), publishers on node A, subscribers on node B, CPU of both nodes, recovery {}",
                    server.note,
                    redis_version(),
                    if off { "off" } else { "on (1000 messages per channel)" }
                );
                server.publish_addr = publishing.addr.clone();
                server.redis_prefix = Some(prefix.clone());
                server.children.extend(publishing.children);
                Ok(server)
            }
            _ => Server::start_one(peer, extra).await,
        }
    }

    async fn start_one(peer: Peer, extra: &[String]) -> Result<Server, String> {
        if let Some(why) = unavailable(peer) {
            return Err(why);
        }
        let port = free_port();
        let p = port.to_string();
        // BENCH_SERVER_LOGS=1 shows the servers' warnings (on stderr), for a run that went wrong.
        let show_logs = std::env::var_os("BENCH_SERVER_LOGS").is_some();
        let (mut command, note) = match peer {
            Peer::Piazza => {
                let mut c = Command::new(sibling("piazza-server"));
                c.args(["--host", "127.0.0.1", "--port", &p, "--log-level", if show_logs { "warn" } else { "error" }]);
                // Benchmark settings: the per-channel publish limit (60/s) and the per-IP and
                // per-connection rate limits are off; everything else is the default.
                c.args(["--publish-rate-per-channel", "0", "--connections-per-ip-per-second", "0"]);
                c.args(["--frames-per-second", "0"]);
                c.args(extra);
                (c, "piazza-server (release), publishRatePerChannel 0, per-IP and frame rate limits off".to_string())
            }
            Peer::Nats => {
                let bin = nats_binary().expect("checked");
                let version = std::process::Command::new(&bin)
                    .arg("--version")
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                    .unwrap_or_default();
                let mut c = Command::new(bin);
                c.args(["-a", "127.0.0.1", "-p", &p]);
                (c, version)
            }
            Peer::SocketIo => {
                let mut c = Command::new("node");
                c.arg(repo_root().join("bench/socketio-server.js")).arg(&p);
                c.current_dir(repo_root());
                (c, String::new())
            }
            Peer::PiazzaRedis | Peer::PiazzaTwoNodes | Peer::PiazzaTwoNodesNoRecovery => {
                unreachable!("started as Piazza nodes")
            }
            Peer::Bare => {
                let mut c = Command::new(std::env::current_exe().expect("own path"));
                c.args(["bare-server", "--port", &p]);
                (c, "tokio-tungstenite 0.30 with its default buffers, a tokio broadcast channel per channel".into())
            }
        };
        let logs = if show_logs { Stdio::inherit() } else { Stdio::null() };
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(logs).kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| format!("cannot start {peer:?}: {e}"))?;
        let pid = child.id().ok_or("the server exited at once")?;
        let mut note = note;
        if peer == Peer::SocketIo {
            // The script prints its version line once it listens.
            let stdout = child.stdout.take().expect("piped");
            let mut lines = BufReader::new(stdout).lines();
            let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
                .await
                .map_err(|_| "the Socket.IO server did not start in 10 s".to_string())?
                .map_err(|e| e.to_string())?
                .ok_or("the Socket.IO server exited")?;
            note = line;
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        }
        wait_listening(port).await?;
        let addr = format!("127.0.0.1:{port}");
        Ok(Server { children: vec![child], pid, publish_addr: addr.clone(), addr, note, redis_prefix: None })
    }

    /// CPU time (user + system) of every process of this server so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        self.children.iter().filter_map(|c| c.id()).map(cpu_seconds).sum()
    }

    pub async fn stop(mut self) {
        for child in &mut self.children {
            let _ = child.kill().await;
        }
        if let Some(prefix) = &self.redis_prefix {
            if let Err(e) = forget_prefix(&redis_url(), prefix).await {
                eprintln!("cannot delete the run's Redis keys under {prefix}: {e}");
            }
        }
    }
}

fn now_ms() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

/// `redis-server --version`, for the report.
fn redis_version() -> String {
    std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout).split_whitespace().find(|w| w.starts_with("v=")).map(String::from)
        })
        .map(|v| format!("redis-server {}", v.trim_start_matches("v=")))
        .unwrap_or_else(|| "redis".into())
}

/// CPU time (user + system) a process used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let (user, system) = cpu_split(pid);
    user + system
}

/// CPU time a process used so far in user space and in the kernel, in seconds.
pub fn cpu_split(pid: u32) -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return (0.0, 0.0) };
    // The command name may hold spaces: fields start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) / hz, ticks(12) / hz)
}

/// Resident memory of a process now and its high-water mark, in bytes.
pub fn memory(pid: u32) -> (u64, u64) {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return (0, 0) };
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

pub async fn redis_connection(url: &str) -> Result<redis::aio::MultiplexedConnection, String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())
}

/// Deletes every key under `prefix:` (what one run left behind), with UNLINK: the memory is
/// freed off Redis's main thread. Left to expire instead, a run's directories (six hashes of
/// 50,000 fields in the 100,000 run) would be freed in one expire cycle that stalls Redis for
/// a second or more in the middle of a later run.
pub async fn forget_prefix(url: &str, prefix: &str) -> Result<(), String> {
    let mut conn = redis_connection(url).await?;
    let mut cursor = 0u64;
    loop {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor).arg("MATCH").arg(format!("{prefix}:*")).arg("COUNT").arg(1000);
        let (next, keys): (u64, Vec<String>) = scan.query_async(&mut conn).await.map_err(|e| e.to_string())?;
        if !keys.is_empty() {
            redis::cmd("UNLINK").arg(&keys).query_async::<i64>(&mut conn).await.map_err(|e| e.to_string())?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}
