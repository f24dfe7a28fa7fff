//! The wire protocol as a third-party client sees it: handshake, strict decoding, error frames,
//! close codes (docs/PROTOCOL.md).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use futures_util::SinkExt;
use piazza_engine::protocol::encode_binary;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

fn text(value: serde_json::Value) -> Message {
    Message::Text(value.to_string().into())
}

#[tokio::test]
async fn requests_are_answered_with_their_id() {
    let server = server().await;
    let mut ws = raw_session(&server, "u").await;
    ws.send(text(json!({"op":"subscribe","id":41,"channel":"c","withPresence":false}))).await.unwrap();
    let ok = next_json(&mut ws).await;
    assert_eq!((ok["t"].as_str(), ok["id"].as_u64()), (Some("ok"), Some(41)));
    assert_eq!(ok["r"]["channelName"], "c");
    ws.send(text(json!({"op":"publish","id":42,"channel":"c","messageType":"STRING","data":"hi"}))).await.unwrap();
    // The subscriber (itself) gets the message as a binary frame, then the answer.
    let answer = next_json(&mut ws).await;
    assert_eq!((answer["t"].as_str(), answer["id"].as_u64()), (Some("ok"), Some(42)));
}

#[tokio::test]
async fn malformed_and_unknown_frames_get_error_frames_and_the_link_survives() {
    let server = server().await;
    let mut ws = raw_session(&server, "u").await;
    let cases = [
        (Message::Text("{not json".into()), None, "malformed frame"),
        (text(json!({"op":"teleport","id":7})), Some(7), "unknown variant"),
        (text(json!({"op":"subscribe","id":8,"channel":"c","extra":true})), Some(8), "unknown field"),
        (text(json!({"op":"subscribe","id":9})), Some(9), "missing field"),
        (Message::Binary(Bytes::from_static(&[0, 0, 0, 50, b'{'])), None, "runs past"),
        (
            Message::Binary(encode_binary(&json!({"op":"subscribe","id":10,"channel":"c"}), b"x")),
            Some(10),
            "carries no payload",
        ),
        (
            text(json!({"op":"publish","id":11,"channel":"c","messageType":"BINARY","data":"x"})),
            Some(11),
            "binary frames",
        ),
        (
            Message::Binary(encode_binary(
                &json!({"op":"publish","id":12,"channel":"c","messageType":"STRING"}),
                &[0xff, 0xfe],
            )),
            Some(12),
            "UTF-8",
        ),
    ];
    for (frame, id, reason) in cases {
        ws.send(frame).await.unwrap();
        let err = next_json(&mut ws).await;
        assert_eq!(err["t"], "err", "{err}");
        assert_eq!(err["id"].as_u64(), id, "{err}");
        assert!(err["reason"].as_str().unwrap().contains(reason), "{err} should mention {reason:?}");
        assert!(err["code"].as_i64().unwrap() < 0);
        assert!(err["name"].as_str().unwrap().starts_with("RTM_ERROR_"));
    }
    ws.send(text(json!({"op":"subscribe","id":13,"channel":"still-works"}))).await.unwrap();
    assert_eq!(next_json(&mut ws).await["t"], "ok");
    assert!(server.stats().bad_frames >= 7);
}

#[tokio::test]
async fn an_oversize_frame_closes_with_1009_and_a_reason() {
    let server = server_with(|c| {
        c.connection.max_frame_bytes = 64 * 1024;
        c.limits.max_realtime_bytes = 32 * 1024;
    })
    .await;
    let mut ws = raw_session(&server, "u").await;
    let _ = ws.send(Message::Binary(vec![0u8; 10 * 1024 * 1024].into())).await;
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1009);
    assert!(reason.contains("exceeds maxFrameBytes"), "{reason}");
    // The server still serves others.
    raw_session(&server, "other").await;
}

#[tokio::test]
async fn a_flood_of_garbage_is_cut_off_with_1008() {
    let server = server().await;
    let mut ws = raw_session(&server, "u").await;
    for _ in 0..200 {
        if ws.send(Message::Text("garbage".into())).await.is_err() {
            break;
        }
    }
    let (code, _) = close_of(&mut ws).await;
    assert_eq!(code, 1008);
}

#[tokio::test]
async fn the_first_frame_must_be_a_hello_of_a_known_version() {
    let server = server().await;
    let mut ws = raw(&server).await;
    ws.send(text(json!({"op":"subscribe","id":1,"channel":"c"}))).await.unwrap();
    assert_eq!(next_json(&mut ws).await["t"], "err");
    assert_eq!(close_of(&mut ws).await.0, 1002);

    let mut ws = raw(&server).await;
    ws.send(text(json!({"op":"hello","v":2,"appId":"a","userId":"u","heartbeat":5,"presenceTimeout":5,"future":1})))
        .await
        .unwrap();
    let err = next_json(&mut ws).await;
    assert!(err["reason"].as_str().unwrap().contains("version 2"), "{err}");
    assert_eq!(close_of(&mut ws).await.0, 4005);

    let mut ws = raw(&server).await;
    ws.send(hello("app", "bad/user")).await.unwrap();
    assert_eq!(next_json(&mut ws).await["name"], "RTM_ERROR_INVALID_USER_ID");
    assert_eq!(close_of(&mut ws).await.0, 4001);
}

#[tokio::test]
async fn a_silent_connection_is_closed_at_the_handshake_timeout() {
    let server = server_with(|c| c.connection.handshake_timeout_ms = 200).await;
    let mut ws = raw(&server).await;
    let (code, _) = close_of(&mut ws).await;
    assert_eq!(code, 4000);
}

#[tokio::test]
async fn a_peer_that_stops_sending_is_detected_after_two_heartbeats() {
    let server = server().await;
    let mut ws = raw(&server).await;
    ws.send(hello_with("app", "sleepy", 1, 1)).await.unwrap();
    assert_eq!(next_json(&mut ws).await["t"], "welcome");
    eventually("the session to exist", || server.stats().users == 1).await;
    let started = std::time::Instant::now();
    let (code, _) = close_of(&mut ws).await;
    assert_eq!(code, 4004);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(4), "{waited:?}");
    // The session outlives the connection for its presence timeout (1 s here), then ends.
    assert_eq!(server.stats().users, 1);
    eventually("the session to end", || server.stats().users == 0).await;
}

#[tokio::test]
async fn pings_keep_a_connection_alive() {
    let server = server().await;
    let mut ws = raw(&server).await;
    ws.send(hello_with("app", "awake", 1, 1)).await.unwrap();
    assert_eq!(next_json(&mut ws).await["t"], "welcome");
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        ws.send(text(json!({"op":"ping","received":1}))).await.unwrap();
        assert_eq!(next_json(&mut ws).await["t"], "pong");
    }
    assert_eq!(server.stats().users, 1);
}

#[tokio::test]
async fn plain_http_routes_answer_on_the_same_port() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = server().await;
    for (request, expect) in [
        ("GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n", "200 OK"),
        ("GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n", "piazza_connections"),
        ("GET /nope HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n", "404"),
        ("BLAH\r\n\r\n", "400"),
    ] {
        let mut tcp = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        assert!(answer.contains(expect), "{request:?} → {answer}");
    }
}

#[tokio::test]
async fn websocket_pings_are_answered_alongside_queued_frames() {
    let server = server().await;
    let mut ws = raw_session(&server, "u").await;
    ws.send(Message::Ping(Bytes::from_static(b"are you there"))).await.unwrap();
    ws.send(text(json!({"op":"subscribe","id":1,"channel":"c","withPresence":false}))).await.unwrap();
    let (mut pong, mut answer) = (false, false);
    while !(pong && answer) {
        match tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut ws)).await.unwrap() {
            Some(Ok(Message::Pong(p))) => {
                assert_eq!(&p[..], b"are you there");
                pong = true;
            }
            Some(Ok(Message::Text(t))) => answer |= t.contains(r#""t":"ok""#),
            other => panic!("{other:?}"),
        }
    }
    // A client-initiated close is answered with a close.
    ws.close(None).await.unwrap();
    let (code, _) = close_of(&mut ws).await;
    assert_eq!(code, 1005, "the close is echoed (without a code, as sent)");
}

#[test]
#[should_panic(expected = "does not match the serverFrame")]
fn the_schema_check_refuses_a_server_frame_field_its_type_does_not_have() {
    check_server_frame(&text(json!({"t": "pong", "extra": 1})));
}

#[test]
#[should_panic(expected = "does not match the serverFrame")]
fn the_schema_check_refuses_an_event_body_its_type_does_not_describe() {
    let e = json!({"eventType": "EXPIRED", "reason": "r", "channelName": "", "timestamp": 1});
    check_server_frame(&text(json!({"t": "token", "e": e})));
}

#[test]
#[should_panic(expected = "does not match the clientFrame")]
fn the_schema_check_refuses_a_client_frame_with_an_unknown_field() {
    check_client_frame(&json!({"op": "subscribe", "id": 1, "channel": "c", "bogus": true}));
}
