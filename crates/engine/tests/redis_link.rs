//! The link between a cluster node and Redis under load: a Redis that answers late — because it
//! is busy, or because the node's own runtime is busy, as during a storm of connections — is not
//! an outage. Only a Redis that leaves two heartbeats in a row unanswered for the node timeout,
//! or whose connection dies (`cluster.rs`' outage test), is. And a node taken for dead while only
//! late keeps its users.

mod common;

#[path = "common/redis.rs"]
mod redis_server;

use std::net::SocketAddr;
use std::time::Duration;

use common::proxy::Proxy;
use common::*;
use piazza_engine::client::{ClientConfig, ClientEvent, Payload, PublishOptions};
use piazza_engine::config::{Secret, ServerConfig};
use piazza_engine::protocol::ChannelType;
use piazza_engine::server::Server;
use serde_json::json;

const NODE_TIMEOUT_MS: u64 = 2000;

async fn node(name: &str, redis: &Proxy, prefix: &str) -> Server {
    let mut config = ServerConfig::default();
    config.connection.connections_per_ip_per_second = 0;
    config.cluster.node_id = Some(name.to_string());
    config.cluster.node_timeout_ms = NODE_TIMEOUT_MS;
    config.cluster.prefix = prefix.to_string();
    config.redis_url = Some(Secret::new(format!("redis://{}", redis.addr)));
    Server::start(config).await.expect("node starts")
}

async fn rtm(server: &Server, user: &str) -> TestClient {
    rtm_with(server, user, 5).await
}

async fn rtm_with(server: &Server, user: &str, presence_timeout: u32) -> TestClient {
    let mut config = ClientConfig::new("app", user, &server.url());
    config.presence_timeout = presence_timeout;
    login_with(config).await
}

fn redis_addr() -> SocketAddr {
    redis_server::url().trim_start_matches("redis://").parse().expect("a redis://host:port URL")
}

/// `GET /readyz`: its status.
async fn readyz(server: &Server) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
    tcp.write_all(b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_later_than_a_third_of_the_node_timeout_are_not_an_outage() {
    let redis = Proxy::start(redis_addr()).await;
    let prefix = format!("piazza-test-link-{}", std::process::id());
    let (a, b) = (node("a", &redis, &prefix).await, node("b", &redis, &prefix).await);
    let mut listener = rtm(&a, "listener").await;
    listener.ask(json!({"op":"subscribe","channel":"c","withPresence":true})).await.unwrap();
    listener.next_typed("presence", "SNAPSHOT").await;
    let talker = rtm(&b, "talker").await;
    talker.ask(json!({"op":"subscribe","channel":"c","withPresence":false})).await.unwrap();
    listener.next_typed("presence", "REMOTE_JOIN").await;
    assert_eq!(readyz(&a).await, 200);

    // Every answer of Redis now takes 900 ms: longer than a third of the node timeout (what a
    // node used to wait before it called Redis unreachable), well within the timeout itself.
    redis.delay_answers(Duration::from_millis(900));
    let started = std::time::Instant::now();

    // A first subscribe on a node waits for Redis to confirm the node's subscription: late,
    // but not refused.
    let newcomer = rtm(&b, "newcomer").await;
    newcomer.ask(json!({"op":"subscribe","channel":"fresh","withPresence":true})).await.expect("not refused");
    // A publish goes through the channel's recovery log and back: it arrives, late.
    talker
        .client
        .call(|c, r| c.publish(r, "c", Payload::Text("late but there".into()), PublishOptions::default()))
        .await
        .expect("not refused");
    // Presence is still answered from the directory.
    let who = listener.ask(json!({"op":"whoNow","channel":"c","channelType":"MESSAGE"})).await.expect("answered");
    assert_eq!(who["totalOccupancy"], 2, "{who}");
    loop {
        match listener.next_event().await {
            ClientEvent::Message { payload, .. } => {
                assert_eq!(payload, Payload::Text("late but there".into()));
                break;
            }
            ClientEvent::Event { kind, body } if kind.as_str() == "presence" => {
                panic!("no presence event while Redis is only slow: {}", body.get())
            }
            _ => {}
        }
    }
    // Several heartbeats go by: both nodes stay ready, and the listener hears nothing about
    // presence (no ERROR_OUT_OF_SERVICE, no leave and join again).
    while started.elapsed() < Duration::from_millis(3 * NODE_TIMEOUT_MS) {
        assert_eq!(readyz(&a).await, 200, "node a stays ready after {:?}", started.elapsed());
        assert_eq!(readyz(&b).await, 200, "node b stays ready after {:?}", started.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    listener.none_of("presence", Duration::from_millis(500)).await;
    let who = listener.ask(json!({"op":"whoNow","channel":"fresh","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!(who["totalOccupancy"], 1, "the newcomer is in the directory: {who}");

    // Redis that stops answering altogether is an outage: two heartbeats in a row unanswered
    // for the node timeout each, so it is noticed after about twice the node timeout.
    redis.stall();
    let stalled = std::time::Instant::now();
    let out = listener.next_typed("presence", "ERROR_OUT_OF_SERVICE").await;
    assert_eq!(out["channelName"], "c");
    let noticed = stalled.elapsed();
    assert!(
        noticed >= Duration::from_millis(2 * NODE_TIMEOUT_MS),
        "one late beat is tolerated: noticed after {noticed:?}"
    );
    assert!(noticed < Duration::from_millis(4 * NODE_TIMEOUT_MS), "noticed after {noticed:?}");
    assert_eq!(readyz(&a).await, 503);
    redis.unstall();
    drop((a, b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_taken_for_dead_that_heartbeats_again_keeps_its_users() {
    let (to_a, to_b) = (Proxy::start(redis_addr()).await, Proxy::start(redis_addr()).await);
    let prefix = format!("piazza-test-back-{}", std::process::id());
    let (a, b) = (node("a", &to_a, &prefix).await, node("b", &to_b, &prefix).await);
    let mut listener = rtm(&a, "listener").await;
    listener.ask(json!({"op":"subscribe","channel":"c","withPresence":true})).await.unwrap();
    listener.next_typed("presence", "SNAPSHOT").await;
    let far = rtm_with(&b, "far", 6).await;
    far.ask(json!({"op":"subscribe","channel":"c","withPresence":false})).await.unwrap();
    listener.next_typed("presence", "REMOTE_JOIN").await;

    // Node b's heartbeats stop reaching Redis for longer than the node timeout (2 s): node a
    // takes it for dead and claims it, then waits for its users' presence timeout (6 s).
    let mut redis = redis::Client::open(redis_server::url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let claim = format!("{prefix}:reap:b");
    to_b.stall();
    let stalled = std::time::Instant::now();
    loop {
        let claimer: Option<String> = redis::cmd("GET").arg(&claim).query_async(&mut redis).await.unwrap();
        if claimer.as_deref() == Some("a") {
            break;
        }
        assert!(stalled.elapsed() < Duration::from_millis(4500), "a takes b for dead and claims it: {claimer:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    to_b.unstall();
    // b beats again before the timeout is up: "far" never left, and nobody is told it did.
    listener.none_of("presence", Duration::from_secs(6)).await;
    let claimer: Option<String> = redis::cmd("GET").arg(&claim).query_async(&mut redis).await.unwrap();
    assert_eq!(claimer, None, "b's beat lifted the claim");
    let who = listener.ask(json!({"op":"whoNow","channel":"c","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!(who["totalOccupancy"], 2, "b's user is still listed: {who}");
    let talker = rtm(&a, "talker").await;
    talker
        .client
        .call(|c, r| {
            c.publish(
                r,
                "far",
                Payload::Text("still there?".into()),
                PublishOptions { channel_type: ChannelType::User, ..Default::default() },
            )
        })
        .await
        .expect("b's user is online");
    let mut far = far;
    assert_eq!(far.next_message().await.payload, Payload::Text("still there?".into()));
    drop((a, b));
}
