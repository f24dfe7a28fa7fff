//! Cluster recovery (docs/SCALING.md#recovery-after-a-node-dies): a node is killed with SIGKILL
//! while messages flow; its clients come back on another node and get every message they
//! missed, once and in order, and are told nothing was lost (`isResumed: true`).

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use piazza_engine::client::{
    ChannelSink, Client, ClientConfig, ClientEvent, LinkOperation, LinkState, Payload, PublishOptions, SubscribeOptions,
};
use piazza_engine::config::{Secret, ServerConfig};
use piazza_engine::server::Server;

#[path = "common/redis.rs"]
mod redis_server;

const NODE_TIMEOUT_MS: u64 = 600;
const SUBSCRIBERS: usize = 100;
const RATE: u64 = 500;

fn prefix() -> String {
    format!("piazza-recovery-{}-{}", std::process::id(), piazza_engine::time::now_ms())
}

fn config(url: &str, prefix: &str) -> ServerConfig {
    let mut config = ServerConfig::default();
    config.connection.connections_per_ip_per_second = 0;
    config.limits.publish_rate_per_channel = 0;
    config.cluster.node_id = Some("a".into());
    config.cluster.node_timeout_ms = NODE_TIMEOUT_MS;
    config.redis_url = Some(Secret::new(url.to_string()));
    config.cluster.prefix = prefix.to_string();
    config
}

/// A piazza-server process on Redis, killed when dropped.
async fn process_node(url: &str, prefix: &str, node: &str) -> (tokio::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_piazza-server"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--redis", url, "--redis-prefix", prefix])
        .args(["--node-id", node, "--node-timeout-ms", &NODE_TIMEOUT_MS.to_string(), "--log-level", "error"])
        .args(["--publish-rate-per-channel", "0", "--connections-per-ip-per-second", "0"])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    (child, format!("ws://127.0.0.1:{port}"))
}

async fn login(config: ClientConfig) -> (Client, tokio::sync::mpsc::UnboundedReceiver<ClientEvent>) {
    let (sink, events) = ChannelSink::new();
    let client = Client::new(config, Arc::new(sink)).unwrap();
    client.call(|c, r| c.login(r, None)).await.unwrap();
    (client, events)
}

/// What one subscriber saw: the sequence numbers in order, and its link states.
#[derive(Default, Debug)]
struct Seen {
    numbers: Vec<u64>,
    resumed: Vec<bool>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_stream_loses_nothing_for_its_clients() {
    let (url, prefix) = (redis_server::url(), prefix());
    let a = Server::start(config(&url, &prefix)).await.unwrap();
    let (mut b, b_url) = process_node(&url, &prefix, "b").await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // 100 subscribers on node B, failing over to A.
    let mut watchers = Vec::new();
    for i in 0..SUBSCRIBERS {
        let mut c = ClientConfig::new("app", &format!("sub{i}"), &b_url);
        c.endpoints = vec![b_url.clone(), a.url()];
        c.presence_timeout = 10;
        c.pong_timeout = Duration::from_millis(500);
        c.reconnect_initial = Duration::from_millis(50);
        c.reconnect_max = Duration::from_millis(200);
        c.request_timeout = Duration::from_secs(20);
        let (client, mut events) = login(c).await;
        let options = SubscribeOptions { with_presence: false, ..Default::default() };
        client.call(|c, r| c.subscribe(r, "feed", options)).await.unwrap();
        watchers.push(tokio::spawn(async move {
            let mut seen = Seen::default();
            while let Some(event) = events.recv().await {
                match event {
                    ClientEvent::Message { payload: Payload::Text(text), .. } => {
                        if text == "end" {
                            break;
                        }
                        seen.numbers.push(text.parse().unwrap());
                    }
                    ClientEvent::LinkState(s)
                        if s.current_state == LinkState::Connected && s.operation == LinkOperation::Reconnected =>
                    {
                        seen.resumed.push(s.is_resumed)
                    }
                    _ => {}
                }
            }
            drop(client);
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The publisher on node A: 500 messages a second; node B dies after a second of it.
    let (publisher, _events) = login(ClientConfig::new("app", "publisher", &a.url())).await;
    let started = Instant::now();
    let total = RATE * 3;
    let mut killed = false;
    for n in 0..total {
        let due = started + Duration::from_micros(n * 1_000_000 / RATE);
        tokio::time::sleep_until(due.into()).await;
        if !killed && n == RATE {
            b.start_kill().unwrap();
            let _ = b.wait().await;
            killed = true;
        }
        let text = Payload::Text(n.to_string());
        publisher.call(|c, r| c.publish(r, "feed", text, PublishOptions::default())).await.unwrap();
    }
    // Every subscriber is back (on A) before the end marker goes.
    tokio::time::sleep(Duration::from_secs(1)).await;
    publisher.call(|c, r| c.publish(r, "feed", Payload::Text("end".into()), PublishOptions::default())).await.unwrap();

    let mut lost = HashMap::new();
    for (i, watcher) in watchers.into_iter().enumerate() {
        let seen = tokio::time::timeout(Duration::from_secs(30), watcher).await.expect("in time").unwrap();
        let want: Vec<u64> = (0..total).collect();
        if seen.numbers != want {
            let missing = want.iter().filter(|n| !seen.numbers.contains(n)).count();
            lost.insert(i, (missing, seen.numbers.len()));
        }
        assert_eq!(seen.resumed, [true], "sub{i}: one reconnect, recovered ({} messages)", seen.numbers.len());
    }
    assert!(lost.is_empty(), "subscribers with messages lost or repeated (missing, received): {lost:?}");
}
