//! Server behaviour: slow consumers, the same user id twice, graceful close, stats.

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use piazza_engine::client::{LinkReason, LinkState, Payload, Route, SubscribeOptions};
use piazza_engine::hub::Stats;
use piazza_engine::server::Server;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_consumer_that_stops_reading_is_disconnected_and_counted() {
    let server = server_with(|c| {
        c.limits.publish_rate_per_channel = 0;
        c.connection.max_frame_bytes = 40 * 1024;
        c.limits.max_realtime_bytes = 32 * 1024;
        c.connection.outbound_queue_bytes = 256 * 1024;
    })
    .await;
    // A raw subscriber that never reads again.
    let mut stuck = raw_session(&server, "stuck").await;
    let subscribe = json!({"op":"subscribe","id":1,"channel":"firehose","withPresence":false});
    stuck.send(Message::Text(subscribe.to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut stuck).await["t"], "ok");
    let mut healthy = login(&server, "healthy").await;
    healthy.client.call(|c, r| c.subscribe(r, "firehose", SubscribeOptions::default())).await.unwrap();
    let publisher = login(&server, "publisher").await;
    publish_until(&server, &publisher, "firehose", 20, |s| s.slow_consumers > 0).await;
    let stats = server.stats();
    assert_eq!(stats.slow_consumers, 1);
    assert!(stats.dropped > 0);
    // The healthy subscriber keeps receiving.
    publisher
        .client
        .call(|c, r| c.publish(r, "firehose", Payload::Text("after".into()), Default::default()))
        .await
        .unwrap();
    loop {
        if healthy.next_message().await.payload == Payload::Text("after".into()) {
            break;
        }
    }
}

/// Publishes 4 KiB messages into `channel`, `burst` every 5 ms, until `done` says so.
async fn publish_until(
    server: &Server,
    publisher: &TestClient,
    channel: &str,
    burst: usize,
    done: impl Fn(&Stats) -> bool,
) {
    let payload = Payload::Binary(vec![7u8; 4 * 1024].into());
    let mut sent = 0;
    while !done(&server.stats()) {
        for _ in 0..burst {
            publisher.client.publish(Route::Ignore, channel, payload.clone(), Default::default()).unwrap();
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(sent < 200_000, "never reached: {:?}", server.stats());
    }
}

/// Reads `ws` until a frame containing `needle`, or its close (code and reason).
async fn read_until(ws: &mut RawWs, needle: &[u8]) -> Option<(u16, String)> {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("a frame in time") {
            Some(Ok(Message::Close(Some(f)))) => return Some((f.code.into(), f.reason.to_string())),
            Some(Ok(m)) if m.clone().into_data().windows(needle.len()).any(|w| w == needle) => return None,
            Some(Ok(_)) => {}
            other => panic!("the connection ended without a close: {other:?}"),
        }
    }
}

#[tokio::test]
async fn past_the_node_wide_budget_the_biggest_queue_is_closed_first() {
    let server = server_with(|c| {
        c.limits.publish_rate_per_channel = 0;
        c.connection.max_frame_bytes = 40 * 1024;
        c.limits.max_realtime_bytes = 32 * 1024;
        c.connection.outbound_queue_bytes = 1024 * 1024;
        c.connection.outbound_budget_bytes = 1536 * 1024;
        c.connection.resume_buffer_bytes = 32 * 1024;
    })
    .await;
    // Two subscribers that stop reading, each alone in its channel.
    let mut big = raw_session(&server, "big").await;
    let mut small = raw_session(&server, "small").await;
    for (ws, channel) in [(&mut big, "a"), (&mut small, "b")] {
        let subscribe = json!({"op":"subscribe","id":1,"channel":channel,"withPresence":false});
        ws.send(Message::Text(subscribe.to_string().into())).await.unwrap();
        assert_eq!(next_json(ws).await["t"], "ok");
    }
    let publisher = login(&server, "publisher").await;
    // "big" queues about 900 KiB (its own bound is 1 MiB), then "small" grows until the queues
    // together pass 1.5 MiB: the biggest queue goes, not the one that was growing.
    publish_until(&server, &publisher, "a", 5, |s| s.outbound_bytes >= 900 * 1024).await;
    publish_until(&server, &publisher, "b", 5, |s| s.budget_evictions > 0).await;
    let stats = server.stats();
    assert_eq!((stats.budget_evictions, stats.slow_consumers), (1, 1), "{stats:?}");
    assert!(stats.dropped > 0 && stats.outbound_bytes <= 1536 * 1024, "{stats:?}");
    let (code, reason) = read_until(&mut big, b"never sent").await.expect("closed");
    assert_eq!(code, 4003);
    assert!(reason.contains("outbound budget"), "{reason}");
    // "small" was left alone: it reads everything queued for it, and what comes next.
    publisher.client.call(|c, r| c.publish(r, "b", Payload::Text("after".into()), Default::default())).await.unwrap();
    assert_eq!(read_until(&mut small, b"after").await, None, "still connected");
    assert_eq!(server.stats().slow_consumers, 1);
}

#[tokio::test]
async fn the_same_user_id_logging_in_again_replaces_the_older_session() {
    let server = server().await;
    let mut first = login(&server, "dup").await;
    let _second = login(&server, "dup").await;
    let state = loop {
        let state = first.next_link_state().await;
        if state.current_state == LinkState::Failed {
            break state;
        }
    };
    assert_eq!(state.reason_code, LinkReason::SameUidLogin);
    assert!(!first.client.is_active());
    assert_eq!(server.stats().users, 1);
}

#[tokio::test]
async fn close_drains_tells_clients_and_is_idempotent() {
    let server = server().await;
    let mut ws = raw_session(&server, "u").await;
    let closing = server.clone();
    let (a, b) = tokio::join!(closing.close(), server.close());
    let _ = (a, b);
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1001);
    assert!(reason.contains("shutting down"));
    server.close().await;
    assert!(tokio::net::TcpStream::connect(server.local_addr()).await.is_err(), "still accepting");
}

#[tokio::test]
async fn clients_see_the_server_going_away_as_a_disconnect() {
    let server = server().await;
    let mut alice = login(&server, "alice").await;
    server.close().await;
    while alice.next_link_state().await.current_state != LinkState::Disconnected {}
    assert!(alice.client.is_active(), "a client keeps trying after the server went away");
    alice.logout().await;
    assert!(!alice.client.is_active());
}

/// A GET with an optional bearer token: the status and the body.
async fn get(server: &Server, path: &str, token: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
    let auth = token.map(|t| format!("authorization: Bearer {t}\r\n")).unwrap_or_default();
    tcp.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{auth}\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    let status = answer[9..12].parse().unwrap();
    (status, answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

#[tokio::test]
async fn the_metrics_token_reads_metrics_and_nothing_else() {
    const ADMIN: &str = "admin-token-0123456789";
    const METRICS: &str = "metrics-token-0123456789";
    let server = server_with(|c| {
        c.admin_token = Some(piazza_engine::config::Secret::new(ADMIN));
        c.metrics_token = Some(piazza_engine::config::Secret::new(METRICS));
    })
    .await;
    assert_eq!(get(&server, "/metrics", None).await.0, 401);
    assert_eq!(get(&server, "/metrics", Some("wrong-token-0123456789")).await.0, 401);
    assert_eq!(get(&server, "/metrics", Some(METRICS)).await.0, 200);
    assert_eq!(get(&server, "/metrics", Some(ADMIN)).await.0, 200);
    // The admin API refuses the metrics token (a scraper cannot kick anyone).
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
    let body = r#"{"userIds":["b"]}"#;
    let request = format!(
        "POST /v1/apps/app/rooms/1/remove-users HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer {METRICS}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    // A short metrics token is refused at start.
    let mut config = piazza_engine::config::ServerConfig::default();
    config.metrics_token = Some(piazza_engine::config::Secret::new("short"));
    assert!(config.validate().unwrap_err().to_string().contains("metricsToken"));
}

#[tokio::test]
async fn stats_count_connections_users_channels_and_messages() {
    let server = server().await;
    let a = login(&server, "a").await;
    let mut b = login(&server, "b").await;
    b.client.call(|c, r| c.subscribe(r, "c1", SubscribeOptions::default())).await.unwrap();
    b.client.call(|c, r| c.subscribe(r, "c2", SubscribeOptions::default())).await.unwrap();
    a.client.call(|c, r| c.publish(r, "c1", Payload::Text("x".into()), Default::default())).await.unwrap();
    b.next_message().await;
    let s = server.stats();
    assert_eq!((s.connections, s.users, s.channels, s.messages_in, s.messages_out), (2, 2, 2, 1, 1));
    // The same figures on /metrics, named by the Prometheus conventions.
    let (status, text) = get(&server, "/metrics", None).await;
    assert_eq!(status, 200);
    for line in [
        "piazza_connections 2",
        "piazza_sessions 2",
        "piazza_channels 2",
        "piazza_publishes_total 1",
        "piazza_frames_delivered_total 1",
        "piazza_frames_dropped_total{reason=\"queue_overflow\"} 0",
        "piazza_frames_dropped_total{reason=\"realtime_congested\"} 0",
        "piazza_slow_consumers_total 0",
        "piazza_budget_resume_trims_total 0",
        &format!("piazza_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION")),
        "# TYPE piazza_frames_delivered counter",
        "# EOF",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    for name in [
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "process_open_fds ",
        "process_start_time_seconds ",
    ] {
        assert!(text.lines().any(|l| l.starts_with(name)), "no {name} in\n{text}");
    }
    // The latency histogram samples one push in eight: 24 more publishes give it samples.
    for i in 0..24 {
        a.client.call(|c, r| c.publish(r, "c1", Payload::Text(format!("{i}")), Default::default())).await.unwrap();
        b.next_message().await;
    }
    let mut sampled = None;
    for _ in 0..200 {
        let (_, text) = get(&server, "/metrics", None).await;
        let count = text.lines().find_map(|l| l.strip_prefix("piazza_delivery_latency_seconds_count "));
        if let Some(count) = count.and_then(|c| c.parse::<u64>().ok()).filter(|c| *c >= 1) {
            sampled = Some((count, text));
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (count, text) = sampled.expect("latency samples");
    assert!(count <= 25, "{count} samples of 25 deliveries");
    let inf = format!("piazza_delivery_latency_seconds_bucket{{le=\"+Inf\"}} {count}");
    for line in ["# TYPE piazza_delivery_latency_seconds histogram", inf.as_str()] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    a.logout().await;
    eventually("a's session to end", || server.stats().users == 1).await;
    eventually("a's connection to close", || server.stats().connections == 1).await;
}
