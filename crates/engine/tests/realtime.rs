//! Realtime channels (webxdc shape, docs/PROTOCOL.md#realtime-channels).

mod common;

use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use piazza_engine::client::Payload;
use piazza_engine::protocol::encode_binary;
use piazza_engine::ErrorCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

async fn send(c: &TestClient, scope: &str, data: &[u8]) {
    let frame = serde_json::from_value(json!({"op":"realtimeSend","scope":scope})).unwrap();
    c.client.request(piazza_engine::client::Route::Ignore, frame, Some(Payload::Binary(data.to_vec().into()))).unwrap();
}

#[tokio::test]
async fn data_reaches_the_other_members_of_the_scope_only() {
    let server = server().await;
    let mut a = login(&server, "a").await;
    let mut b = login(&server, "b").await;
    let mut c = login(&server, "c").await;
    let mut other_app = login_with(config(&server, "app2", "d")).await;
    for member in [&a, &b] {
        member.ask(json!({"op":"realtimeJoin","scope":"chat-1"})).await.unwrap();
    }
    c.ask(json!({"op":"realtimeJoin","scope":"chat-2"})).await.unwrap();
    other_app.ask(json!({"op":"realtimeJoin","scope":"chat-1"})).await.unwrap();
    send(&a, "chat-1", &[1, 2, 3]).await;
    assert_eq!(b.next_realtime().await, ("chat-1".to_string(), bytes::Bytes::from_static(&[1, 2, 3])));
    a.none_of("rt", Duration::from_millis(100)).await; // not the sender
    c.none_of("rt", Duration::from_millis(20)).await; // another scope
    other_app.none_of("rt", Duration::from_millis(20)).await; // another app
}

#[tokio::test]
async fn nothing_is_stored_for_late_joiners() {
    let server = server().await;
    let a = login(&server, "a").await;
    a.ask(json!({"op":"realtimeJoin","scope":"s"})).await.unwrap();
    send(&a, "s", b"before").await;
    let mut late = login(&server, "late").await;
    late.ask(json!({"op":"realtimeJoin","scope":"s"})).await.unwrap();
    late.none_of("rt", Duration::from_millis(150)).await;
    send(&a, "s", b"after").await;
    assert_eq!(late.next_realtime().await.1, bytes::Bytes::from_static(b"after"));
}

#[tokio::test]
async fn joining_twice_and_using_a_left_scope_are_refused() {
    let server = server().await;
    let a = login(&server, "a").await;
    a.ask(json!({"op":"realtimeJoin","scope":"s"})).await.unwrap();
    let e = a.ask(json!({"op":"realtimeJoin","scope":"s"})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::DuplicateOperation);
    a.ask(json!({"op":"realtimeLeave","scope":"s"})).await.unwrap();
    let e = a.ask(json!({"op":"realtimeLeave","scope":"s"})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ChannelNotJoined);
    let too_big = serde_json::from_value(json!({"op":"realtimeSend","scope":"s"})).unwrap();
    let e =
        a.client.request(piazza_engine::client::Route::Ignore, too_big, Some(Payload::Binary(vec![0; 128_001].into())));
    assert_eq!(e.unwrap_err().code, ErrorCode::ChannelMessageLengthExceedLimitation);
}

#[tokio::test]
async fn the_server_refuses_oversize_or_unjoined_sends_with_an_error_frame() {
    let server = server().await;
    let mut ws = raw_session(&server, "raw").await;
    ws.send(Message::Binary(encode_binary(&json!({"op":"realtimeSend","scope":"s"}), b"x"))).await.unwrap();
    let err = next_json(&mut ws).await;
    assert_eq!((err["t"].as_str(), err["name"].as_str()), (Some("err"), Some("RTM_ERROR_CHANNEL_NOT_JOINED")));
    ws.send(Message::Text(json!({"op":"realtimeJoin","id":1,"scope":"s"}).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut ws).await["t"], "ok");
    ws.send(Message::Binary(encode_binary(&json!({"op":"realtimeSend","scope":"s"}), &vec![0; 128_001])))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["name"], "RTM_ERROR_CHANNEL_MESSAGE_LENGTH_EXCEED_LIMITATION");
}

#[tokio::test]
async fn a_slow_receiver_loses_datagrams_that_are_counted_and_stays_connected() {
    let server = server_with(|c| c.connection.outbound_queue_bytes = 512 * 1024).await;
    let sender = login(&server, "sender").await;
    sender.ask(json!({"op":"realtimeJoin","scope":"s"})).await.unwrap();
    // A receiver that does not read.
    let mut stuck = raw_session(&server, "stuck").await;
    stuck.send(Message::Text(json!({"op":"realtimeJoin","id":1,"scope":"s"}).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut stuck).await["t"], "ok");
    let mut sent = 0;
    while server.stats().realtime_dropped == 0 {
        for _ in 0..20 {
            send(&sender, "s", &[7u8; 60_000]).await;
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(sent < 20_000, "no datagram was ever dropped");
    }
    let stats = server.stats();
    assert!(stats.realtime_dropped > 0 && stats.dropped >= stats.realtime_dropped);
    assert_eq!(stats.slow_consumers, 0, "best-effort data never disconnects a receiver");
    assert_eq!(stats.users, 2);
}
