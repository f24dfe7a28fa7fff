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
    config.limits.max_subscriptions_per_client = 1000;
    config.connection.frames_per_second = 0;
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

/// The next frame of a raw connection as JSON: a text frame whole, a binary one's header.
async fn next_frame(ws: &mut common::RawWs) -> serde_json::Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a frame").unwrap().unwrap();
        common::check_server_frame(&message);
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Binary(data) => {
                let len = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
                let mut header: serde_json::Value = serde_json::from_slice(&data[4..4 + len]).unwrap();
                header["payload"] = String::from_utf8_lossy(&data[4 + len..]).into();
                return header;
            }
            _ => {}
        }
    }
}

async fn send(ws: &mut common::RawWs, frame: serde_json::Value) {
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::Text(frame.to_string().into())).await.unwrap();
}

/// The wire contract, as a third-party client sees it: message frames carry `o`; a `subscribe`
/// with `since` answers `recovered` and sends what came after `since` that the log still
/// keeps, then the live messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_since_sends_what_the_log_keeps_and_says_whether_anything_is_missing() {
    use piazza_engine::cluster::bus::{Bus, MemoryNet};
    use serde_json::json;
    let net = MemoryNet::new(Duration::from_millis(NODE_TIMEOUT_MS));
    let mut config = ServerConfig::default();
    config.connection.connections_per_ip_per_second = 0;
    config.connection.frames_per_second = 0;
    config.limits.publish_rate_per_channel = 0;
    config.cluster.node_id = Some("a".into());
    config.cluster.recovery_messages = 3;
    let bus: Arc<dyn Bus> = net.node("a");
    let server = Server::start_on(config, Some(bus)).await.unwrap();
    let mut watcher = common::raw_session(&server, "watcher").await;
    send(&mut watcher, json!({"op":"subscribe","id":1,"channel":"c","withPresence":false})).await;
    assert!(next_frame(&mut watcher).await["r"]["recovered"].is_null(), "no since, no recovered");
    let mut publisher = common::raw_session(&server, "publisher").await;
    for n in 0..6 {
        let publish = json!({"op":"publish","id":n + 1,"channel":"c","messageType":"STRING","data":format!("m{n}")});
        send(&mut publisher, publish).await;
        assert_eq!(next_frame(&mut publisher).await["t"], "ok");
    }
    let mut offsets = Vec::new();
    for n in 0..6 {
        let frame = next_frame(&mut watcher).await;
        assert_eq!((frame["t"].as_str(), frame["payload"].as_str()), (Some("msg"), Some(format!("m{n}").as_str())));
        offsets.push(frame["o"].as_u64().expect("an offset"));
    }
    assert!(offsets.windows(2).all(|w| w[1] == w[0] + 1), "consecutive: {offsets:?}");

    let since = |user: &str, o: u64| {
        (user.to_string(), json!({"op":"subscribe","id":1,"channel":"c","withPresence":false,"since":o}))
    };
    // Since the 2nd: the log kept the last 3 only — recovered: false, and those 3 follow.
    let (user, frame) = since("late", offsets[1]);
    let mut late = common::raw_session(&server, &user).await;
    send(&mut late, frame).await;
    assert_eq!(next_frame(&mut late).await["r"]["recovered"], false);
    for (n, offset) in offsets.iter().enumerate().skip(3) {
        let frame = next_frame(&mut late).await;
        assert_eq!((frame["payload"].as_str(), frame["o"].as_u64()), (Some(format!("m{n}").as_str()), Some(*offset)));
    }
    // Since the 4th: all kept — recovered: true, the 5th and 6th follow, then live ones.
    let (user, frame) = since("behind", offsets[3]);
    let mut behind = common::raw_session(&server, &user).await;
    send(&mut behind, frame).await;
    assert_eq!(next_frame(&mut behind).await["r"]["recovered"], true);
    for n in 4..6 {
        assert_eq!(next_frame(&mut behind).await["payload"], format!("m{n}"));
    }
    // Since the last: nothing missed.
    let (user, frame) = since("current", offsets[5]);
    let mut current = common::raw_session(&server, &user).await;
    send(&mut current, frame).await;
    assert_eq!(next_frame(&mut current).await["r"]["recovered"], true);
    send(&mut publisher, json!({"op":"publish","id":7,"channel":"c","messageType":"STRING","data":"m6"})).await;
    for ws in [&mut late, &mut behind, &mut current, &mut watcher] {
        let frame = next_frame(ws).await;
        assert_eq!((frame["payload"].as_str(), frame["o"].as_u64()), (Some("m6"), Some(offsets[5] + 1)), "live, once");
    }
}

/// With recovery on, a node delivers a channel's messages as they come back from Redis: a
/// subscribe is answered only once they reach the node, so a message published right after
/// the answer is never lost (200 fresh channels subscribed at once, then published to at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_published_right_after_a_subscribe_answer_arrives() {
    use futures_util::future::join_all;
    let (url, prefix) = (redis_server::url(), prefix());
    let a = Server::start(config(&url, &prefix)).await.unwrap();
    let mut c = ClientConfig::new("app", "sub", &a.url());
    c.max_pending = 10_000;
    let (subscriber, mut events) = login(c).await;
    let mut c = ClientConfig::new("app", "pub", &a.url());
    c.max_pending = 10_000;
    let (publisher, _) = login(c).await;
    let channels: Vec<String> = (0..200).map(|n| format!("fresh{n}")).collect();
    let options = SubscribeOptions { with_presence: false, ..Default::default() };
    let subscribed = join_all(channels.iter().map(|ch| subscriber.call(move |c, r| c.subscribe(r, ch, options)))).await;
    assert!(subscribed.iter().all(Result::is_ok));
    let published = join_all(channels.iter().map(|ch| {
        let text = Payload::Text(ch.clone());
        publisher.call(move |c, r| c.publish(r, ch, text, PublishOptions::default()))
    }))
    .await;
    assert!(published.iter().all(Result::is_ok));
    let mut got = std::collections::BTreeSet::new();
    while got.len() < channels.len() {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Some(ClientEvent::Message { payload: Payload::Text(t), .. })) => {
                got.insert(t);
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    assert_eq!(got.len(), channels.len(), "messages lost on fresh channels: {}", channels.len() - got.len());
}
