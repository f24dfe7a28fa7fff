//! Exactly-once requests (docs/PROTOCOL.md#request-ids): request ids increase within a session;
//! a repeated id is answered from the server's memory of its answer and never executed again —
//! also when a client re-sends a publish after resuming on a new connection (through the TCP
//! proxy) because it never saw the first answer.

mod common;

use std::time::Duration;

use common::proxy::Proxy;
use common::*;
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

fn text(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

fn publish(id: u64, body: &str) -> Message {
    text(json!({"op":"publish","id":id,"channel":"c","messageType":"STRING","data":body}))
}

/// The next answer (`ok` / `err`), skipping events.
async fn answer(ws: &mut RawWs) -> Value {
    loop {
        let frame = next_json(ws).await;
        if frame["t"] == "ok" || frame["t"] == "err" {
            return frame;
        }
    }
}

#[tokio::test]
async fn a_repeated_id_is_answered_again_and_not_run_again() {
    let server = server_with(|c| c.limits.publish_rate_per_channel = 0).await;
    let mut reader = login(&server, "reader").await;
    reader.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    let mut ws = raw_session(&server, "writer").await;
    ws.send(publish(7, "once")).await.unwrap();
    let first = answer(&mut ws).await;
    ws.send(publish(7, "once")).await.unwrap();
    let again = answer(&mut ws).await;
    assert_eq!((first["t"].as_str(), first["id"].as_u64()), (Some("ok"), Some(7)));
    assert_eq!(again, first, "the same answer, from memory");
    // An id below the last one whose answer is not kept, or never used, is refused.
    ws.send(publish(3, "old")).await.unwrap();
    let refused = answer(&mut ws).await;
    assert_eq!((refused["t"].as_str(), refused["id"].as_u64()), (Some("err"), Some(3)));
    assert!(refused["reason"].as_str().unwrap().contains("must increase"), "{refused}");
    let received = reader.next_message().await;
    assert_eq!(received.payload, piazza_engine::client::Payload::Text("once".into()));
    reader.no_message(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_publish_re_sent_after_a_resume_whose_answer_was_lost_is_delivered_once() {
    let server = server_with(|c| c.limits.publish_rate_per_channel = 0).await;
    let mut reader = login(&server, "reader").await;
    reader.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    let proxy = Proxy::start(server.local_addr()).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(proxy.url()).await.unwrap();
    ws.send(hello_with("app", "writer", 30, 30)).await.unwrap();
    let welcome = next_json(&mut ws).await;
    // The publish goes out and is delivered; the link dies before its answer is read.
    ws.send(publish(1, "exactly once")).await.unwrap();
    let received = reader.next_message().await;
    assert_eq!(received.payload, piazza_engine::client::Payload::Text("exactly once".into()));
    proxy.cut();
    drop(ws);
    // Resume on a new connection (no frame after the welcome was received), and send the publish
    // again.
    let (mut ws, _) = tokio_tungstenite::connect_async(proxy.url()).await.unwrap();
    let resume = json!({"session": welcome["session"], "secret": welcome["resumeSecret"], "received": 0});
    let hello =
        json!({"op":"hello","v":1,"appId":"app","userId":"writer","heartbeat":30,"presenceTimeout":30,"resume":resume});
    ws.send(text(hello)).await.unwrap();
    let welcome = next_json(&mut ws).await;
    assert_eq!((welcome["resumed"].as_bool(), welcome["lastRequest"].as_u64()), (Some(true), Some(1)), "{welcome}");
    ws.send(publish(1, "exactly once")).await.unwrap();
    // The answer comes (replayed from the resume buffer, and again for the repeat), the same.
    let first = answer(&mut ws).await;
    assert_eq!((first["t"].as_str(), first["id"].as_u64()), (Some("ok"), Some(1)), "{first}");
    assert_eq!(answer(&mut ws).await, first);
    reader.no_message(Duration::from_millis(500)).await;
}
