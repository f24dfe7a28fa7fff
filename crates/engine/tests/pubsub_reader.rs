//! A cluster node reads Redis pub/sub on a thread of its own (`cluster/redis.rs`,
//! `reader_thread`: its queue of parsed messages then takes memory it gives back whole after a
//! storm), delivers what it reads from there, and the thread ends with the node. Its own test
//! binary: the threads of the process are counted, and no other test may start nodes meanwhile.
#![cfg(target_os = "linux")]

mod common;

#[path = "common/redis.rs"]
mod redis_server;

use std::time::Duration;

use common::*;
use piazza_engine::client::{ClientEvent, Payload, PublishOptions};
use piazza_engine::config::{Secret, ServerConfig};
use piazza_engine::server::Server;
use serde_json::json;

/// The `status` files of this process's threads named `piazza-pubsub`.
fn reader_statuses() -> Vec<String> {
    let tasks = std::fs::read_dir("/proc/self/task").expect("Linux /proc");
    tasks
        .filter_map(|t| {
            let path = t.ok()?.path();
            let name = std::fs::read_to_string(path.join("comm")).ok()?;
            (name.trim() == "piazza-pubsub").then(|| std::fs::read_to_string(path.join("status")).ok()).flatten()
        })
        .collect()
}

fn readers() -> usize {
    reader_statuses().len()
}

/// How many times the reader threads were scheduled: a thread that nothing wakes (its runtime
/// has no task) never adds to it.
fn reader_switches() -> u64 {
    let switches = |status: &String| -> u64 {
        status
            .lines()
            .filter(|l| l.starts_with("voluntary_ctxt_switches:") || l.starts_with("nonvoluntary_ctxt_switches:"))
            .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
            .sum()
    };
    reader_statuses().iter().map(switches).sum()
}

async fn until_readers(count: usize) {
    for _ in 0..100 {
        if readers() == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} pub/sub reader threads, expected {count}", readers());
}

async fn node(name: &str, prefix: &str) -> Server {
    let mut config = ServerConfig::default();
    config.connection.connections_per_ip_per_second = 0;
    config.cluster.node_id = Some(name.to_string());
    config.cluster.prefix = prefix.to_string();
    config.redis_url = Some(Secret::new(redis_server::url()));
    Server::start(config).await.expect("node starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_node_reads_pub_sub_on_a_thread_of_its_own_until_it_closes() {
    let prefix = format!("piazza-test-reader-{}", std::process::id());
    assert_eq!(readers(), 0);
    let (a, b) = (node("a", &prefix).await, node("b", &prefix).await);
    until_readers(2).await;

    // What node a reads from Redis on its reader thread, a directory change and then a message,
    // reaches a's subscriber.
    let mut listener = login(&a, "listener").await;
    listener.ask(json!({"op":"subscribe","channel":"c","withPresence":true})).await.unwrap();
    listener.next_typed("presence", "SNAPSHOT").await;
    let talker = login(&b, "talker").await;
    talker.ask(json!({"op":"subscribe","channel":"c","withPresence":false})).await.unwrap();
    listener.next_typed("presence", "REMOTE_JOIN").await;
    let who = listener.ask(json!({"op":"whoNow","channel":"c","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!(who["totalOccupancy"], 2, "node a's mirror has node b's member: {who}");
    // The message is read on a reader thread: that thread wakes for it (were the connection read
    // on the server's runtime, the reader threads would sleep through it).
    let before = reader_switches();
    talker
        .client
        .call(|c, r| c.publish(r, "c", Payload::Text("across".into()), PublishOptions::default()))
        .await
        .expect("published");
    loop {
        if let ClientEvent::Message { payload, .. } = listener.next_event().await {
            assert_eq!(payload, Payload::Text("across".into()));
            break;
        }
    }
    assert!(reader_switches() > before, "a reader thread read the message");

    drop((listener, talker));
    a.close().await;
    until_readers(1).await;
    b.close().await;
    until_readers(0).await;
}
