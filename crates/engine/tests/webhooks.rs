//! Webhooks (docs/OPERATIONS.md "Webhooks", SPEC §12) against a local receiver: what is sent
//! and signed, retries after failures, the bounded queue under a dead receiver, and delivery
//! to clients going on at full speed while the receiver sleeps.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use piazza_engine::config::Secret;
use piazza_engine::protocol::SessionKind;
use piazza_engine::server::Server;
use piazza_engine::webhook::WebhooksConfig;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::mpsc;

const SECRET: &str = "webhook-secret-0123456789";

/// How the receiver answers.
#[derive(Default)]
struct Mode {
    /// Answer 500 to this many requests first.
    fail_first: AtomicU32,
    /// Wait this long before answering.
    delay_ms: AtomicU64,
    /// Never answer.
    hang: AtomicBool,
    /// Answer with this status (0: 500 while failing, else 200).
    status: AtomicU32,
}

/// One request the receiver got.
struct Hook {
    timestamp: String,
    signature: String,
    body: Bytes,
}

impl Hook {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A webhook receiver on a free port.
async fn receiver() -> (String, Arc<Mode>, mpsc::UnboundedReceiver<Hook>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let mode = Arc::new(Mode::default());
    let (tx, rx) = mpsc::unbounded_channel();
    let serving = mode.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (mode, tx) = (serving.clone(), tx.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let (mode, tx) = (mode.clone(), tx.clone());
                    async move {
                        let header =
                            |n: &str| request.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                        let (timestamp, signature) = (header("x-piazza-timestamp"), header("x-piazza-signature"));
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        let _ = tx.send(Hook { timestamp, signature, body });
                        if mode.hang.load(Ordering::Relaxed) {
                            std::future::pending::<()>().await;
                        }
                        let delay = mode.delay_ms.load(Ordering::Relaxed);
                        if delay > 0 {
                            tokio::time::sleep(Duration::from_millis(delay)).await;
                        }
                        let failing =
                            mode.fail_first.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
                        let status = match mode.status.load(Ordering::Relaxed) {
                            0 if failing.is_ok() => 500,
                            0 => 200,
                            fixed => fixed as u16,
                        };
                        let mut answer = hyper::Response::new(Full::new(Bytes::new()));
                        *answer.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        Ok::<_, Infallible>(answer)
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    (format!("http://{addr}/hooks/piazza"), mode, rx)
}

fn hooks(url: &str, adjust: impl FnOnce(&mut WebhooksConfig)) -> WebhooksConfig {
    let mut config: WebhooksConfig =
        serde_json::from_value(json!({ "urls": [url], "secret": SECRET, "retryBaseMs": 20 })).unwrap();
    adjust(&mut config);
    config
}

async fn next_hook(rx: &mut mpsc::UnboundedReceiver<Hook>) -> Hook {
    tokio::time::timeout(WAIT, rx.recv()).await.expect("a webhook in time").expect("receiver open")
}

/// The next event of `event_type`, skipping others.
async fn next_of(rx: &mut mpsc::UnboundedReceiver<Hook>, event_type: &str) -> Value {
    loop {
        let event = next_hook(rx).await.json();
        if event["type"] == event_type {
            return event;
        }
    }
}

#[tokio::test]
async fn events_are_signed_and_say_who_logged_in_joined_entered_published_and_left() {
    let (url, _mode, mut rx) = receiver().await;
    let server = server_with(|c| {
        c.admin_token = Some(Secret::new("admin-token-0123456789"));
        c.webhooks = Some(hooks(&url, |w| {
            w.presence_channels = vec!["lobby*".into()];
            w.message_channels = vec!["orders-*".into()];
        }));
    })
    .await;
    let alice = login(&server, "alice").await;
    let hook = next_hook(&mut rx).await;
    // The signature is HMAC-SHA256 of "<timestamp>.<body>" under the shared secret.
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{}.", hook.timestamp).as_bytes());
    mac.update(&hook.body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hook.signature, format!("v1={expected}"));
    let sent_at: u64 = hook.timestamp.parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(now.abs_diff(sent_at) <= 5, "timestamp {sent_at} against {now}");
    let login = hook.json();
    assert_eq!(
        (login["type"].as_str(), login["appId"].as_str(), login["userId"].as_str()),
        (Some("user.login"), Some("app"), Some("alice"))
    );
    assert_eq!(login["kind"], "rtm");
    assert!(login["id"].as_str().is_some_and(|id| !id.is_empty()) && login["timestamp"].is_u64());

    // Presence: only the opted-in channels.
    alice.ask(json!({"op":"subscribe","channel":"chat"})).await.unwrap();
    alice.ask(json!({"op":"subscribe","channel":"lobby-1"})).await.unwrap();
    let joined = next_hook(&mut rx).await.json();
    assert_eq!(
        joined,
        json!({"id": joined["id"], "type": "presence.join", "appId": "app", "timestamp": joined["timestamp"],
               "userId": "alice", "channelName": "lobby-1", "channelType": "MESSAGE"})
    );
    // Messages: only the opted-in channels.
    publish(&alice, json!({"op":"publish","channel":"chat","messageType":"STRING"}), "not sent").await;
    publish(
        &alice,
        json!({"op":"publish","channel":"orders-eu","messageType":"STRING","customType":"order"}),
        "order 7",
    )
    .await;
    let message = next_hook(&mut rx).await.json();
    assert_eq!(
        (
            message["type"].as_str(),
            message["channelName"].as_str(),
            message["publisher"].as_str(),
            message["message"].as_str(),
            message["customType"].as_str()
        ),
        (Some("message.publish"), Some("orders-eu"), Some("alice"), Some("order 7"), Some("order"))
    );

    // Rooms: enter, and exit with the reason.
    let mut config = config(&server, "app", "bob");
    config.kind = SessionKind::Trtc;
    let bob = login_with(config).await;
    assert_eq!(next_of(&mut rx, "user.login").await["kind"], "trtc");
    bob.ask(json!({"op":"enterRoom","room":42,"role":"anchor","scene":"videoCall"})).await.unwrap();
    let entered = next_of(&mut rx, "room.enter").await;
    assert_eq!(
        (entered["roomId"].clone(), entered["role"].as_str(), entered["scene"].as_str()),
        (json!(42), Some("anchor"), Some("videoCall"))
    );
    server.remove_users("app", &piazza_engine::protocol::RoomId::Num(42), &["bob".into()]).unwrap();
    let exited = next_of(&mut rx, "room.exit").await;
    assert_eq!((exited["userId"].as_str(), exited["reason"].as_str()), (Some("bob"), Some("removed")));
    bob.ask(json!({"op":"enterRoom","room":43,"role":"anchor","scene":"videoCall"})).await.unwrap();
    next_of(&mut rx, "room.enter").await;
    server.dismiss_room("app", &piazza_engine::protocol::RoomId::Num(43)).unwrap();
    assert_eq!(next_of(&mut rx, "room.exit").await["reason"], "dismissed");

    // A logout leaves the opted-in channel, then ends the session.
    alice.logout().await;
    let left = next_of(&mut rx, "presence.leave").await;
    assert_eq!((left["channelName"].as_str(), left["reason"].as_str()), (Some("lobby-1"), Some("leave")));
    let logout = next_of(&mut rx, "user.logout").await;
    assert_eq!((logout["userId"].as_str(), logout["reason"].as_str()), (Some("alice"), Some("logout")));
    let counters = server.hub().webhook_counters().unwrap();
    eventually("every event taken", || counters.sent.load(Ordering::Relaxed) >= 10).await;
    assert_eq!(counters.failed_attempts.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_backoff_until_it_is_taken() {
    let (url, mode, mut rx) = receiver().await;
    mode.fail_first.store(2, Ordering::Relaxed);
    let server = server_with(|c| c.webhooks = Some(hooks(&url, |w| w.retry_base_ms = 50))).await;
    let _alice = login(&server, "alice").await;
    let started = Instant::now();
    let first = next_hook(&mut rx).await.json();
    let second = next_hook(&mut rx).await.json();
    let third = next_hook(&mut rx).await.json();
    // The same event three times (500, 500, 200), 50 ms then 100 ms apart at least.
    assert_eq!((first["id"].clone(), first["type"].clone()), (third["id"].clone(), json!("user.login")));
    assert_eq!(second["id"], first["id"]);
    assert!(started.elapsed() >= Duration::from_millis(140), "backoff: {:?}", started.elapsed());
    let counters = server.hub().webhook_counters().unwrap();
    eventually("the third attempt counted", || counters.sent.load(Ordering::Relaxed) == 1).await;
    assert_eq!(counters.failed_attempts.load(Ordering::Relaxed), 2);
    // A refusal (a 4xx but 408 and 429) is not retried: it would be refused again.
    mode.status.store(403, Ordering::Relaxed);
    let refusing = server_with(|c| c.webhooks = Some(hooks(&url, |w| w.max_attempts = 5))).await;
    let _carol = login(&refusing, "carol").await;
    let counters = refusing.hub().webhook_counters().unwrap();
    eventually("refused once, given up", || counters.dropped_gave_up.load(Ordering::Relaxed) == 1).await;
    assert_eq!(counters.failed_attempts.load(Ordering::Relaxed), 1);
    mode.status.store(0, Ordering::Relaxed);
    while rx.try_recv().is_ok() {}
    // Given up after maxAttempts: counted, and the next event goes on.
    mode.fail_first.store(100, Ordering::Relaxed);
    let server = server_with(|c| c.webhooks = Some(hooks(&url, |w| w.max_attempts = 3))).await;
    let _bob = login(&server, "bob").await;
    let counters = server.hub().webhook_counters().unwrap();
    eventually("given up", || counters.dropped_gave_up.load(Ordering::Relaxed) == 1).await;
    assert_eq!(counters.failed_attempts.load(Ordering::Relaxed), 3);
    let metrics = reqwest_metrics(&server).await;
    for line in [
        "piazza_webhooks_dropped_total{reason=\"gave_up\"} 1",
        "piazza_webhook_attempts_failed_total 3",
        "piazza_webhooks_queued 0",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

/// `GET /metrics` (open: no token configured).
async fn reqwest_metrics(server: &Server) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn a_dead_receiver_fills_a_bounded_queue_and_the_rest_is_dropped_and_counted() {
    let (url, mode, mut rx) = receiver().await;
    mode.hang.store(true, Ordering::Relaxed);
    let server = server_with(|c| {
        c.webhooks = Some(hooks(&url, |w| {
            w.queue_size = 5;
            w.timeout_ms = 200;
            w.max_attempts = 2;
        }))
    })
    .await;
    let mut clients = Vec::new();
    for i in 0..30 {
        clients.push(login(&server, &format!("u{i}")).await);
    }
    let counters = server.hub().webhook_counters().unwrap();
    // One event is being tried; at most five wait; the rest were dropped at once.
    let dropped = counters.dropped_queue_full.load(Ordering::Relaxed);
    assert!(dropped >= 24, "dropped {dropped}");
    assert!(counters.queued.load(Ordering::Relaxed) <= 5);
    // The node is unaffected: the clients talk.
    clients[0].ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    let mut reader = login(&server, "reader").await;
    reader.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    publish(&clients[0], json!({"op":"publish","channel":"c","messageType":"STRING"}), "still here").await;
    assert_eq!(reader.next_message().await.payload, piazza_engine::client::Payload::Text("still here".into()));
    // Each event was tried twice (200 ms each), then given up; the queue drains.
    assert!(next_hook(&mut rx).await.json()["type"] == "user.login");
    eventually("the queue drained", || counters.queued.load(Ordering::Relaxed) == 0).await;
    assert!(counters.dropped_gave_up.load(Ordering::Relaxed) >= 1);
}

async fn publish(client: &TestClient, frame: Value, text: &str) {
    client.ask_with(frame, Some(piazza_engine::client::Payload::Text(text.into()))).await.unwrap();
}

/// Publishes `count` messages into `channel` and waits until every reader has them all: the
/// time it took.
async fn fan_out(server: &Server, readers: &mut [TestClient], count: usize) -> Duration {
    let publisher = login(server, "publisher").await;
    let started = Instant::now();
    for i in 0..count {
        publish(&publisher, json!({"op":"publish","channel":"orders-fan","messageType":"STRING"}), &format!("m{i}"))
            .await;
    }
    for reader in readers.iter_mut() {
        for _ in 0..count {
            reader.next_message().await;
        }
    }
    publisher.logout().await;
    started.elapsed()
}

#[tokio::test]
async fn a_receiver_that_sleeps_does_not_slow_delivery() {
    const READERS: usize = 10;
    const MESSAGES: usize = 1_000;
    let mut times = Vec::new();
    for with_hooks in [false, true, false, true] {
        let (url, mode, _rx) = receiver().await;
        mode.delay_ms.store(1_000, Ordering::Relaxed);
        let server = server_with(|c| {
            c.limits.publish_rate_per_channel = 0;
            if with_hooks {
                c.webhooks = Some(hooks(&url, |w| {
                    w.message_channels = vec!["orders-*".into()];
                    w.queue_size = 100;
                }));
            }
        })
        .await;
        let mut readers = Vec::new();
        for i in 0..READERS {
            let reader = login(&server, &format!("r{i}")).await;
            reader.ask(json!({"op":"subscribe","channel":"orders-fan","withPresence":false})).await.unwrap();
            readers.push(reader);
        }
        let took = fan_out(&server, &mut readers, MESSAGES).await;
        if with_hooks {
            // The receiver took at most a couple of events; the queue filled; the rest dropped.
            let counters = server.hub().webhook_counters().unwrap();
            assert!(counters.dropped_queue_full.load(Ordering::Relaxed) >= (MESSAGES - 110) as u64);
        }
        times.push((with_hooks, took));
    }
    let best = |hooks: bool| times.iter().filter(|(h, _)| *h == hooks).map(|(_, t)| *t).min().unwrap();
    let (without, with) = (best(false), best(true));
    println!("fan-out of {MESSAGES} messages to {READERS} readers: {without:?} without webhooks, {with:?} with a receiver that sleeps 1 s");
    assert!(with <= without * 2 + Duration::from_millis(300), "{with:?} with webhooks against {without:?} without");
}
