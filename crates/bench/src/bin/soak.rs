//! Soak test (`npm run soak`, a 60-second version in `npm test`): N Rust clients churn against
//! the release `piazza-server` binary for T seconds — subscribe/unsubscribe, publish with
//! sequence numbers, presence states, TRTC rooms (enter, exit, kick through the admin HTTP
//! API), abrupt cuts the client resumes from (a TCP proxy per client), kills without resume,
//! logouts and relogins — and checks that
//! - on resumable paths every published message arrives exactly once and in order per
//!   publisher (a gap or a repeat in a subscriber's sequence is a violation);
//! - every departure reaches each observer exactly once with its type: logout/unsubscribe →
//!   REMOTE_LEAVE, a kill → REMOTE_TIMEOUT (rooms: exit 0, timeout 1, kick 2), and a resumed
//!   cut produces none; after the churn stops each observer's view equals who is there;
//! - the server's RSS and open fds stay flat: sampled every second, the least-squares slope per
//!   hour after a warm-up of 10 % of the run.
//!
//! It prints one JSON object and exits non-zero when any violation was seen.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use piazza_engine::client::{Client, ClientConfig, LinkState, Payload, PublishOptions, Route};
use piazza_engine::protocol::SessionKind;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[path = "soak/peer.rs"]
mod peer;
use peer::{Effect, Peer};

/// Seconds a dropped RTM session is kept for a resume (the smallest a client may ask for).
const PRESENCE_TIMEOUT: u32 = 5;
/// Seconds a dropped room member is kept (`--room-drop-timeout-seconds`).
const ROOM_DROP_TIMEOUT: u64 = 3;
const APP: &str = "soak";
const TRTC_APP: &str = "1400000001";
const ADMIN_TOKEN: &str = "soak-admin-token-0123456789";
const ROOM_SHARE: usize = 6; // one client in ROOM_SHARE is a TRTC client

#[derive(Parser, Debug)]
#[command(about = "Piazza soak test: churning clients against piazza-server, with loss, leave and leak checks")]
struct Args {
    /// Length of the churn in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Clients at once (one in six is a TRTC room client).
    #[arg(long, default_value_t = 200)]
    clients: usize,
    /// The piazza-server binary [default: target/release/piazza-server, kept current by cargo build].
    #[arg(long)]
    server: Option<PathBuf>,
    /// Random seed [default: from the clock].
    #[arg(long)]
    seed: Option<u64>,
}

/// xorshift64*: enough randomness for churn without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.next() % (to - from))
    }
}

/// How a member left a channel or room, registered before the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Departure {
    Leave,
    Timeout,
    Removed,
}

/// Counters, reported by name.
macro_rules! counters {
    ($($name:ident),*) => {
        #[derive(Default)]
        struct Counters { $($name: AtomicU64,)* }
        impl Counters {
            fn report(&self) -> serde_json::Map<String, Value> {
                let mut map = serde_json::Map::new();
                $(map.insert(stringify!($name).into(), self.$name.load(Relaxed).into());)*
                map
            }
        }
    };
}

counters! {
    logins, login_failed, published, publish_failed, received, received_unsubscribed, states_set, subscribes,
    unsubscribes, request_failed, cuts, resumes, unresumed, kills, logouts, room_enters, room_exits, kicks,
    remote_leave, remote_timeout, room_leave_left, room_leave_timed_out, room_leave_removed, room_leave_audience
}

struct Shared {
    counters: Counters,
    violations: Mutex<BTreeMap<&'static str, u64>>,
    examples: Mutex<Vec<String>>,
    /// (user, scope) → how it last left; scope is a channel or `room:<id>`.
    departures: Mutex<HashMap<(String, String), Departure>>,
    /// scope → who is in it now (after a successful subscribe/enter, until a departure).
    members: Mutex<HashMap<String, HashSet<String>>>,
    /// stream → (last seq answered ok, last seq tried): a stream is one publisher life in one
    /// channel until a publish fails.
    streams: Mutex<HashMap<String, (u64, u64)>>,
    stop: AtomicBool,
    state_counter: AtomicU64,
    server: SocketAddr,
}

impl Shared {
    fn violation(&self, kind: &'static str, detail: String) {
        *self.violations.lock().unwrap().entry(kind).or_default() += 1;
        let mut examples = self.examples.lock().unwrap();
        if examples.len() < 20 {
            examples.push(format!("{kind}: {detail}"));
        }
    }
    fn depart(&self, user: &str, scope: &str, how: Departure) {
        self.departures.lock().unwrap().insert((user.to_string(), scope.to_string()), how);
        if let Some(set) = self.members.lock().unwrap().get_mut(scope) {
            set.remove(user);
        }
    }
    fn arrive(&self, user: &str, scope: &str) {
        self.members.lock().unwrap().entry(scope.to_string()).or_default().insert(user.to_string());
    }
    fn departure(&self, user: &str, scope: &str) -> Option<Departure> {
        self.departures.lock().unwrap().get(&(user.to_string(), scope.to_string())).copied()
    }
    fn stopping(&self) -> bool {
        self.stop.load(Relaxed)
    }
}

/// A TCP proxy in front of one client: `cut` closes its connection abruptly; `refuse` turns
/// new connections away (a client that cannot come back: killed).
struct Proxy {
    addr: SocketAddr,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    refuse: Arc<AtomicBool>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Default::default();
        let refuse = Arc::new(AtomicBool::new(false));
        let (l, r) = (links.clone(), refuse.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if r.load(Relaxed) {
                    continue; // dropped: closed at once
                }
                let link = tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                let mut links = l.lock().unwrap();
                links.retain(|link| !link.is_finished());
                links.push(link);
            }
        });
        Ok(Proxy { addr, links, refuse, accept })
    }
    fn cut(&self) {
        self.links.lock().unwrap().drain(..).for_each(|link| link.abort());
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// A client life still logged in at the end, with its proxy.
type Life = (Client, Arc<Peer>, Proxy);

/// A life of a client: logged in through `proxy`, or `None` when login failed.
async fn login(shared: &Arc<Shared>, proxy: &Proxy, user: &str, trtc: bool) -> Option<(Client, Arc<Peer>)> {
    let url = format!("ws://{}", proxy.addr);
    let mut config = ClientConfig::new(if trtc { TRTC_APP } else { APP }, user, &url);
    if trtc {
        config.kind = SessionKind::Trtc;
        config.presence_timeout = 0; // the server's rooms.dropTimeoutSeconds
    } else {
        config.presence_timeout = PRESENCE_TIMEOUT;
    }
    config.pong_timeout = Duration::from_secs(2);
    config.reconnect_initial = Duration::from_millis(50);
    config.reconnect_max = Duration::from_millis(300);
    let peer = Peer::new(user, shared);
    let client = Client::new(config, peer.clone()).expect("a valid config");
    match client.call(|c, r| c.login(r, None)).await {
        Ok(_) => {
            shared.counters.logins.fetch_add(1, Relaxed);
            Some((client, peer))
        }
        Err(e) => {
            shared.counters.login_failed.fetch_add(1, Relaxed);
            shared.violation("login_failed", format!("{user}: {e}"));
            client.logout(Route::Ignore);
            None
        }
    }
}

/// Kills a life: the link is cut and cannot come back; waits until the server has timed it
/// out (`wait`), then drops it locally.
async fn kill(proxy: &Proxy, client: Client, wait: Duration) {
    proxy.refuse.store(true, Relaxed);
    proxy.cut();
    tokio::time::sleep(wait).await;
    logout(&client).await;
    proxy.refuse.store(false, Relaxed);
}

async fn logout(client: &Client) {
    let _ = client
        .call(|c, r| {
            c.logout(r);
            Ok(())
        })
        .await;
}

/// An RTM client slot: lives of subscribe/publish/state churn until the run stops. Returns
/// the last life when it is still logged in.
async fn rtm_slot(shared: Arc<Shared>, slot: usize, channels: usize, seed: u64) -> Option<Life> {
    let mut rng = Rng(seed);
    let user = format!("u{slot}");
    let proxy = Proxy::start(shared.server).await.expect("proxy");
    let counters = &shared.counters;
    let mut life = 0u64;
    // channel → when this user last left it: not back within 3 s, so that each observer has
    // heard of the departure before the next one (of another type) is registered.
    let mut left: HashMap<String, Instant> = HashMap::new();
    tokio::time::sleep(rng.millis(0, 2000)).await;
    while !shared.stopping() {
        life += 1;
        let Some((client, peer)) = login(&shared, &proxy, &user, false).await else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let born = Instant::now();
        // channel → (stream, next seq, since)
        let mut mine: HashMap<String, (String, u64, Instant)> = HashMap::new();
        let mut streams = 0u64;
        let ended = loop {
            if mine.len() < 3 {
                let channel = format!("c{}", rng.below(channels));
                let recently = left.get(&channel).is_some_and(|at| at.elapsed() < Duration::from_secs(3));
                if !mine.contains_key(&channel) && !recently {
                    peer.state.lock().unwrap().streams.entry(channel.clone()).or_default();
                    let frame = json!({"op":"subscribe","channel":channel});
                    counters.subscribes.fetch_add(1, Relaxed);
                    if peer.ask(&client, frame, Effect::None).await.is_ok() {
                        shared.arrive(&user, &channel);
                        streams += 1;
                        let stream = format!("{user}/{life}/{channel}/{streams}");
                        mine.insert(channel, (stream, 1, Instant::now()));
                    } else {
                        peer.state.lock().unwrap().streams.remove(&channel);
                    }
                }
            }
            if shared.stopping() {
                break false;
            }
            tokio::time::sleep(rng.millis(100, 400)).await;
            let keys: Vec<String> = mine.keys().cloned().collect();
            if keys.is_empty() {
                continue;
            }
            let channel = keys[rng.below(keys.len())].clone();
            let roll = rng.unit();
            let old_enough = born.elapsed() > Duration::from_secs(3);
            if roll < 0.70 {
                let (stream, seq, _) = mine.get_mut(&channel).unwrap();
                let text = format!("{stream}|{seq}");
                let result = client.call(|c, r| c.publish(r, &channel, Payload::Text(text), PublishOptions::default()));
                let result = result.await;
                let mut all = shared.streams.lock().unwrap();
                let entry = all.entry(stream.clone()).or_default();
                entry.1 = *seq;
                if result.is_ok() {
                    counters.published.fetch_add(1, Relaxed);
                    entry.0 = *seq;
                    *seq += 1;
                } else {
                    // Delivered or not: unknown. Continue in a new stream.
                    counters.publish_failed.fetch_add(1, Relaxed);
                    streams += 1;
                    *stream = format!("{user}/{life}/{channel}/{streams}");
                    *seq = 1;
                }
            } else if roll < 0.76 {
                let n = shared.state_counter.fetch_add(1, Relaxed) + 1;
                let frame =
                    json!({"op":"setState","channel":channel,"channelType":"MESSAGE","states":{"n":n.to_string()}});
                if peer.ask(&client, frame, Effect::None).await.is_ok() {
                    counters.states_set.fetch_add(1, Relaxed);
                }
            } else if roll < 0.82 {
                if mine[&channel].2.elapsed() > Duration::from_secs(1) {
                    shared.depart(&user, &channel, Departure::Leave);
                    left.insert(channel.clone(), Instant::now());
                    mine.remove(&channel);
                    counters.unsubscribes.fetch_add(1, Relaxed);
                    let frame = json!({"op":"unsubscribe","channel":channel});
                    let _ = peer.ask(&client, frame, Effect::Unsubscribed(channel)).await;
                }
            } else if roll < 0.84 {
                if client.link_state() == LinkState::Connected {
                    counters.cuts.fetch_add(1, Relaxed);
                    proxy.cut();
                }
            } else if roll < 0.845 && old_enough {
                mine.keys().for_each(|c| shared.depart(&user, c, Departure::Leave));
                counters.logouts.fetch_add(1, Relaxed);
                logout(&client).await;
                break true;
            } else if roll < 0.85 && old_enough {
                mine.keys().for_each(|c| shared.depart(&user, c, Departure::Timeout));
                counters.kills.fetch_add(1, Relaxed);
                kill(&proxy, client.clone(), Duration::from_secs(u64::from(PRESENCE_TIMEOUT) + 3)).await;
                break true;
            }
        };
        if !ended {
            return Some((client, peer, proxy));
        }
        tokio::time::sleep(rng.millis(200, 1000)).await;
    }
    None
}

/// A TRTC client slot: lives of entering, leaving and being kicked from rooms.
async fn trtc_slot(shared: Arc<Shared>, slot: usize, rooms: usize, seed: u64) -> Option<Life> {
    let mut rng = Rng(seed);
    let user = format!("t{slot}");
    let proxy = Proxy::start(shared.server).await.expect("proxy");
    let counters = &shared.counters;
    tokio::time::sleep(rng.millis(0, 2000)).await;
    while !shared.stopping() {
        let Some((client, peer)) = login(&shared, &proxy, &user, true).await else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let born = Instant::now();
        let mut room: Option<(u64, Instant)> = None;
        let ended = loop {
            if room.is_none() {
                let id = rng.below(rooms) as u64;
                let frame = json!({"op":"enterRoom","room":id,"role":"anchor","scene":"videoCall"});
                let scope = format!("room:{id}");
                if peer.ask(&client, frame, Effect::Entered(scope.clone())).await.is_ok() {
                    counters.room_enters.fetch_add(1, Relaxed);
                    shared.arrive(&user, &scope);
                    room = Some((id, Instant::now()));
                }
            }
            if shared.stopping() {
                break false;
            }
            tokio::time::sleep(rng.millis(200, 600)).await;
            let Some((id, since)) = room else { continue };
            let scope = format!("room:{id}");
            let settled = since.elapsed() > Duration::from_secs(2);
            let roll = rng.unit();
            if roll < 0.08 && settled {
                shared.depart(&user, &scope, Departure::Leave);
                counters.room_exits.fetch_add(1, Relaxed);
                let _ = peer.ask(&client, json!({"op":"exitRoom"}), Effect::Exited).await;
                room = None;
            } else if roll < 0.11 && settled {
                shared.depart(&user, &scope, Departure::Removed);
                peer.state.lock().unwrap().expect_exit = true;
                counters.kicks.fetch_add(1, Relaxed);
                let (status, body) = kick(shared.server, id, &user).await;
                if status != 200 || body["removed"] != json!([user]) {
                    shared.violation("kick_failed", format!("{user} from {id}: {status} {body}"));
                }
                let deadline = Instant::now() + Duration::from_secs(5);
                while peer.state.lock().unwrap().in_room.is_some() && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                if peer.state.lock().unwrap().in_room.take().is_some() {
                    shared.violation("kick_exit_missing", format!("{user} from {id}"));
                }
                // kickBanSeconds is 1.
                tokio::time::sleep(Duration::from_millis(1200)).await;
                room = None;
            } else if roll < 0.13 {
                if client.link_state() == LinkState::Connected {
                    counters.cuts.fetch_add(1, Relaxed);
                    proxy.cut();
                }
            } else if roll < 0.14 && born.elapsed() > Duration::from_secs(3) {
                shared.depart(&user, &scope, Departure::Leave);
                counters.logouts.fetch_add(1, Relaxed);
                logout(&client).await;
                break true;
            } else if roll < 0.15 && born.elapsed() > Duration::from_secs(3) {
                shared.depart(&user, &scope, Departure::Timeout);
                counters.kills.fetch_add(1, Relaxed);
                kill(&proxy, client.clone(), Duration::from_secs(ROOM_DROP_TIMEOUT + 3)).await;
                break true;
            }
        };
        if !ended {
            return Some((client, peer, proxy));
        }
        tokio::time::sleep(rng.millis(200, 1000)).await;
    }
    None
}

/// POST /v1/apps/{app}/rooms/{id}/remove-users on the admin HTTP API.
async fn kick(server: SocketAddr, room: u64, user: &str) -> (u16, Value) {
    let body = json!({ "userIds": [user] }).to_string();
    let request = format!(
        "POST /v1/apps/{TRTC_APP}/rooms/{room}/remove-users HTTP/1.1\r\nhost: soak\r\nauthorization: Bearer {ADMIN_TOKEN}\r\n\
         content-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let mut tcp = TcpStream::connect(server).await?;
        tcp.write_all(request.as_bytes()).await?;
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await?;
        std::io::Result::Ok(answer)
    };
    match tokio::time::timeout(Duration::from_secs(5), exchange).await {
        Ok(Ok(answer)) if answer.len() > 12 => {
            let status = answer[9..12].parse().unwrap_or(0);
            let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
            (status, serde_json::from_str(body).unwrap_or(Value::Null))
        }
        other => (0, Value::String(format!("{other:?}"))),
    }
}

/// The server's RSS (bytes) and open fds, from /proc.
fn sample(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let rss = line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some((rss, fds))
}

/// Least-squares slope of `ys` over `xs`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}

/// `--server`, else target/release/piazza-server, brought up to date by cargo (a no-op when it
/// is; without cargo an existing binary is used as it is).
fn server_binary(args: &Args) -> PathBuf {
    if let Some(path) = &args.server {
        return path.clone();
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join("target/release/piazza-server");
    let built = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "-q", "-p", "piazza-engine", "--bin", "piazza-server"])
        .current_dir(&root)
        .status();
    match built {
        Ok(status) if status.success() => {}
        other if path.exists() => eprintln!("soak: cargo build of piazza-server: {other:?}; using {}", path.display()),
        other => panic!("cargo build of piazza-server failed: {other:?}"),
    }
    path
}

async fn start_server(binary: &PathBuf) -> (tokio::process::Child, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = std::fs::File::create(std::env::temp_dir().join("piazza-soak-server.log")).expect("log file");
    let child = tokio::process::Command::new(binary)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--log-level", "warn"])
        .args(["--connections-per-ip-per-second", "0", "--publish-rate-per-channel", "0"])
        .args(["--presence-interval-threshold", "100000", "--presence-snapshot-max-users", "100000"])
        .args(["--room-drop-timeout-seconds", &ROOM_DROP_TIMEOUT.to_string(), "--kick-ban-seconds", "1"])
        .env("PIAZZA_ADMIN_TOKEN", ADMIN_TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{} starts: {e}", binary.display()));
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "piazza-server did not listen in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (child, addr)
}

/// After the churn: each live client's view of every channel and room equals who is there, and
/// it has the last message of every stream it followed.
fn final_check(shared: &Shared, live: &[Life]) {
    let members = shared.members.lock().unwrap().clone();
    let streams = shared.streams.lock().unwrap().clone();
    for (_, peer, _) in live {
        let st = peer.state.lock().unwrap();
        for (scope, view) in &st.views {
            let mut truth = members.get(scope).cloned().unwrap_or_default();
            truth.remove(&peer.user);
            for missing in truth.difference(view) {
                shared.violation("join_missed", format!("{} does not see {missing} in {scope}", peer.user));
            }
            for extra in view.difference(&truth) {
                shared.violation("leave_missed", format!("{} still sees {extra} in {scope}", peer.user));
            }
        }
        for (channel, followed) in &st.streams {
            if !st.views.contains_key(channel) {
                shared.violation("snapshot_missing", format!("{} in {channel}", peer.user));
            }
            for (stream, last) in followed {
                let Some((ok, tried)) = streams.get(stream) else { continue };
                if last < ok || last > tried {
                    shared.violation("message_tail_lost", format!("{} got {stream} to #{last} of #{ok}", peer.user));
                }
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let seed = args.seed.unwrap_or_else(|| piazza_engine::time::now_ms() | 1);
    let binary = server_binary(&args);
    let (mut child, server) = start_server(&binary).await;
    let pid = child.id().expect("running");
    let shared = Arc::new(Shared {
        counters: Counters::default(),
        violations: Default::default(),
        examples: Default::default(),
        departures: Default::default(),
        members: Default::default(),
        streams: Default::default(),
        stop: AtomicBool::new(false),
        state_counter: AtomicU64::new(0),
        server,
    });
    let started = Instant::now();
    let samples: Arc<Mutex<Vec<(f64, u64, u64)>>> = Default::default();
    let sampler = {
        let samples = samples.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Some((rss, fds)) = sample(pid) {
                    samples.lock().unwrap().push((started.elapsed().as_secs_f64(), rss, fds));
                }
            }
        })
    };
    let trtc = args.clients / ROOM_SHARE;
    let rtm = args.clients - trtc;
    let channels = (rtm / 8).max(2);
    let rooms = (trtc / 5).max(1);
    let mut rng = Rng(seed);
    let mut slots = Vec::new();
    for slot in 0..rtm {
        slots.push(tokio::spawn(rtm_slot(shared.clone(), slot, channels, rng.next() | 1)));
    }
    for slot in 0..trtc {
        slots.push(tokio::spawn(trtc_slot(shared.clone(), slot, rooms, rng.next() | 1)));
    }
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    shared.stop.store(true, Relaxed);
    let mut live = Vec::new();
    for slot in slots {
        if let Some(life) = slot.await.expect("a slot does not panic") {
            live.push(life);
        }
    }
    // Every departure is due by now (kills waited out their timeouts); let the last events land.
    tokio::time::sleep(Duration::from_secs(2)).await;
    final_check(&shared, &live);
    let duration = started.elapsed().as_secs_f64();
    sampler.abort();
    let samples = samples.lock().unwrap().clone();
    // Counted before the server goes: what the live clients see of its end is not churn.
    let violations = shared.violations.lock().unwrap().clone();
    let examples = shared.examples.lock().unwrap().clone();
    let _ = child.kill().await;

    let warm = duration.min(args.seconds as f64) * 0.1;
    let steady: Vec<_> = samples.iter().filter(|s| s.0 >= warm && s.0 <= args.seconds as f64 + 1.0).collect();
    let mb = |b: u64| (b as f64 / 1048576.0 * 10.0).round() / 10.0;
    let rss_points: Vec<_> = steady.iter().map(|s| (s.0 / 3600.0, s.1 as f64 / 1048576.0)).collect();
    let fd_points: Vec<_> = steady.iter().map(|s| (s.0 / 3600.0, s.2 as f64)).collect();
    let first = steady.first().map(|s| (s.1, s.2)).unwrap_or_default();
    let last = steady.last().map(|s| (s.1, s.2)).unwrap_or_default();
    let c = &shared.counters;
    let total: u64 = violations.values().sum();
    let report = json!({
        "durationSeconds": args.seconds,
        "wallSeconds": (duration * 10.0).round() / 10.0,
        "seed": seed,
        "clients": args.clients,
        "rtmClients": rtm,
        "trtcClients": trtc,
        "channels": channels,
        "rooms": rooms,
        "counters": c.report(),
        "violations": total,
        "violationsByKind": violations,
        "violationExamples": examples,
        "rssMb": { "start": mb(first.0), "end": mb(last.0), "max": mb(steady.iter().map(|s| s.1).max().unwrap_or(0)) },
        "fds": { "start": first.1, "end": last.1, "max": steady.iter().map(|s| s.2).max().unwrap_or(0) },
        "rssSlopeMbPerHour": (slope(&rss_points) * 10.0).round() / 10.0,
        "fdsSlopePerHour": (slope(&fd_points) * 10.0).round() / 10.0,
        "warmupSeconds": (warm * 10.0).round() / 10.0,
        "samples": steady.len(),
    });
    println!("{report}");
    if total > 0 || c.published.load(Relaxed) == 0 {
        std::process::exit(1);
    }
}
