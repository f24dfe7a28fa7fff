//! Graceful close (RFC 6455 §7, docs/PROTOCOL.md#closing): whenever the server closes a
//! connection — a bad hello, malformed frames, a flood, a slow consumer, a shutdown — a client
//! that is still sending gets the error frame and the close frame with its code and reason, not
//! a TCP reset that throws away what was in flight.

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// Everything the server sends until the connection ends: the text frames as JSON, and the
/// close code and reason (`None`: the connection ended without a close frame, e.g. a reset).
async fn drain(ws: &mut RawWs) -> (Vec<Value>, Option<(u16, String)>) {
    let mut frames = Vec::new();
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("the server ends the connection in time") {
            Some(Ok(Message::Text(t))) => frames.push(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(Some(f)))) => return (frames, Some((f.code.into(), f.reason.to_string()))),
            Some(Ok(Message::Close(None))) => return (frames, Some((1005, String::new()))),
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                eprintln!("connection ended with {e}");
                return (frames, None);
            }
            None => return (frames, None),
        }
    }
}

/// Sends `n` frames without reading anything (a client busy sending).
async fn burst(ws: &mut RawWs, n: usize, frame: &str) {
    for _ in 0..n {
        if ws.feed(Message::Text(frame.to_string().into())).await.is_err() {
            break;
        }
    }
    let _ = ws.flush().await;
}

#[tokio::test]
async fn malformed_frames_in_a_burst_get_their_errors_and_the_close_not_a_reset() {
    let server = server().await;
    let mut ws = raw_session(&server, "alice").await;
    burst(&mut ws, 400, "{ not json").await;
    let (frames, close) = drain(&mut ws).await;
    assert!(frames.iter().any(|f| f["t"] == "err"), "error frames arrive: {frames:?} {close:?}");
    assert_eq!(close, Some((1008, "too many malformed frames".to_string())));
}

#[tokio::test]
async fn a_refused_hello_followed_by_a_burst_gets_the_error_and_the_close() {
    let server = server().await;
    let mut ws = raw(&server).await;
    let bad =
        serde_json::json!({"op":"hello","v":1,"appId":"app","userId":"bad/user","heartbeat":5,"presenceTimeout":5});
    ws.feed(Message::Text(bad.to_string().into())).await.unwrap();
    burst(&mut ws, 400, r#"{"op":"ping"}"#).await;
    let (frames, close) = drain(&mut ws).await;
    assert_eq!(frames.first().map(|f| f["t"].clone()), Some("err".into()), "{frames:?}");
    let (code, reason) = close.expect("a close frame, not a reset");
    assert_eq!(code, 4001, "{reason}");
}

#[tokio::test]
async fn a_flood_gets_the_close_with_its_reason() {
    let server = server_with(|c| c.connection.frames_per_second = 20).await;
    let mut ws = raw_session(&server, "alice").await;
    burst(&mut ws, 600, r#"{"op":"ping"}"#).await;
    let (_, close) = drain(&mut ws).await;
    let (code, reason) = close.expect("a close frame, not a reset");
    assert_eq!(code, 1008);
    assert!(reason.contains("frames per second"), "{reason}");
}

#[tokio::test]
async fn a_shutdown_reaches_a_client_that_is_still_sending() {
    let server = server().await;
    let mut ws = raw_session(&server, "alice").await;
    let sender = tokio::spawn(async move {
        burst(&mut ws, 300, r#"{"op":"ping"}"#).await;
        let closing = server.close();
        let drained = drain(&mut ws);
        let (_, (_, close)) = tokio::join!(closing, drained);
        close
    });
    let close = sender.await.unwrap();
    assert_eq!(close.map(|c| c.0), Some(1001), "going away, not a reset");
}

#[tokio::test]
async fn a_slow_consumer_reads_what_was_queued_then_its_close() {
    let server = server_with(|c| {
        c.connection.outbound_queue_bytes = 64 * 1024;
        c.connection.max_frame_bytes = 32 * 1024;
        c.limits.max_message_bytes = 20_000;
        c.limits.max_realtime_bytes = 20_000;
        c.limits.publish_rate_per_channel = 0;
    })
    .await;
    let mut reader = raw(&server).await;
    reader.send(hello_with("app", "reader", 60, 60)).await.unwrap();
    assert_eq!(next_json(&mut reader).await["t"], "welcome");
    reader
        .send(Message::Text(serde_json::json!({"op":"subscribe","id":1,"channel":"c"}).to_string().into()))
        .await
        .unwrap();
    let writer = login(&server, "writer").await;
    // Far more than the socket buffers and the 64 KiB queue hold, while the reader reads nothing.
    let big = "x".repeat(19_000);
    for _ in 0..600 {
        let payload = piazza_engine::client::Payload::Text(big.clone());
        let options = piazza_engine::client::PublishOptions::default();
        let _ = writer.client.call(move |c, r| c.publish(r, "c", payload, options)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, close) = drain(&mut reader).await;
    let (code, _) = close.expect("a close frame after the queued frames, not a reset");
    assert_eq!(code, 4003);
}

/// One plain HTTP request on a new connection: the status line, or `None` when the
/// connection was refused.
async fn http_status(server: &piazza_engine::server::Server, request: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.local_addr()).await.ok()?;
    tcp.write_all(request.as_bytes()).await.ok()?;
    let mut answer = String::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_string(&mut answer)).await;
    answer.lines().next().map(|l| format!("{l}\n{}", answer.split("\r\n\r\n").nth(1).unwrap_or("")))
}

#[tokio::test]
async fn while_it_drains_a_node_says_so_on_readyz_and_refuses_new_websockets() {
    let server = server().await;
    // A client that never answers the close keeps the drain going for the close grace.
    let _silent = raw_session(&server, "silent").await;
    let closing = {
        let server = server.clone();
        tokio::spawn(async move { server.close().await })
    };
    let readyz = "GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    let mut draining = None;
    for _ in 0..100 {
        let answer = http_status(&server, readyz).await.expect("a draining node still answers HTTP");
        if answer.starts_with("HTTP/1.1 503") {
            draining = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let draining = draining.expect("readyz turned 503 while draining");
    assert!(draining.contains(r#""draining":true"#), "{draining}");
    let upgrade = "GET / HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let refused = http_status(&server, upgrade).await.expect("an answer");
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    closing.await.unwrap();
    // Closed: nothing listens any more.
    assert!(tokio::net::TcpStream::connect(server.local_addr()).await.is_err());
}

#[tokio::test]
async fn a_client_that_never_answers_the_close_is_let_go_after_the_grace() {
    use tokio::io::AsyncReadExt;
    let server = server().await;
    let mut ws = raw_session(&server, "alice").await;
    ws.send(Message::Text(r#"{"op":"logout","id":1}"#.into())).await.unwrap();
    // From here on the client reads bytes and never answers the close frame (the WebSocket
    // library would): the server waits its grace (2 s) for the reply, then closes the socket.
    let (mut tcp, started) = (ws.into_inner(), std::time::Instant::now());
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut got)).await;
    let waited = started.elapsed();
    assert!(matches!(read, Ok(Ok(_))), "the server closes the socket: {read:?}");
    // A close frame (0x88) came before the socket closed.
    assert!(got.windows(2).any(|w| w[0] == 0x88 && usize::from(w[1]) <= 125), "{got:?}");
    assert!(waited >= Duration::from_millis(1500), "it waited for the close reply: {waited:?}");
    assert!(waited < Duration::from_secs(6), "{waited:?}");
}
