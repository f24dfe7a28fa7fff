//! Hostile input (docs/PROTOCOL.md#connection-limits): the frame decoder under property tests, malformed and oversize
//! frames before and after login, floods, connection limits, and proof that the server stays up,
//! keeps serving honest clients, and keeps its memory bounded.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use futures_util::{SinkExt, StreamExt};
use piazza_engine::client::{ClientConfig, Payload, PublishOptions, SubscribeOptions};
use piazza_engine::protocol::{decode_client, encode_binary};
use proptest::prelude::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

/// Valid client frames, the seeds of the mutation test.
fn valid_frames() -> Vec<String> {
    [
        json!({"op":"hello","v":1,"appId":"app","userId":"u","heartbeat":5,"presenceTimeout":5,"token":"t"}),
        json!({"op":"subscribe","id":1,"channel":"c","withMessage":true,"withPresence":true}),
        json!({"op":"publish","id":2,"channel":"c","messageType":"STRING","data":"hello","customType":"x"}),
        json!({"op":"join","id":3,"channel":"s","token":"t","withPresence":true}),
        json!({"op":"publishTopic","id":4,"channel":"s","topic":"t","messageType":"STRING","data":"x"}),
        json!({"op":"setState","id":5,"channel":"c","channelType":"MESSAGE","states":{"a":"b"}}),
        json!({"op":"enterRoom","id":6,"room":7,"role":"anchor","scene":"videoCall"}),
        json!({"op":"realtimeJoin","id":7,"scope":"s"}),
        json!({"op":"ping","received":9}),
    ]
    .iter()
    .map(|v| v.to_string())
    .collect()
}

/// What the decoder must do with any input: answer, never panic; an error names the problem.
fn decode_is_total(message: Message) {
    if let Err(e) = decode_client(message) {
        assert!(e.error.code.code() < 0);
        assert!(!e.error.reason.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_decoder_answers_any_text(text in ".{0,300}") {
        decode_is_total(Message::Text(text.into()));
    }

    #[test]
    fn the_decoder_answers_any_binary(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        decode_is_total(Message::Binary(data.into()));
    }

    #[test]
    fn the_decoder_answers_mutated_valid_frames(
        seed in 0usize..9,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
        as_binary in any::<bool>(),
    ) {
        let mut bytes = valid_frames()[seed].clone().into_bytes();
        for (at, byte, kind) in edits {
            let i = at.index(bytes.len().max(1));
            let last = bytes.len().saturating_sub(1);
            match kind {
                0 if !bytes.is_empty() => bytes[i.min(last)] = byte,
                1 => bytes.insert(i.min(bytes.len()), byte),
                _ => bytes.truncate(i),
            }
        }
        if as_binary {
            let header: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(json!({"op":"publish"}));
            decode_is_total(Message::Binary(encode_binary(&header, &bytes)));
        } else if let Ok(text) = String::from_utf8(bytes) {
            decode_is_total(Message::Text(text.into()));
        }
    }
}

#[test]
fn the_seed_frames_are_valid() {
    for frame in valid_frames() {
        decode_client(Message::Text(frame.clone().into())).unwrap_or_else(|e| panic!("{frame}: {:?}", e.error));
    }
}

/// A text frame whose payload is not UTF-8, which a well-behaved WebSocket library refuses to
/// send: it goes out as a raw frame.
fn invalid_utf8_text() -> Message {
    Message::Frame(Frame::message(Bytes::from_static(&[b'{', 0xff, 0xfe, b'}']), OpCode::Data(Data::Text), true))
}

#[tokio::test]
async fn invalid_utf8_text_is_closed_with_1007_before_and_after_login() {
    let server = server().await;
    let mut ws = raw_session(&server, "u").await;
    ws.send(invalid_utf8_text()).await.unwrap();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1007);
    assert!(reason.contains("UTF-8"), "{reason}");

    let mut ws = raw(&server).await;
    ws.send(invalid_utf8_text()).await.unwrap();
    assert_eq!(next_json(&mut ws).await["t"], "err");
    assert_eq!(close_of(&mut ws).await.0, 1007);
    assert!(server.stats().bad_frames >= 1);
    raw_session(&server, "still-served").await;
}

#[test]
fn a_frame_limit_past_64_mib_is_refused_at_start() {
    use piazza_engine::config::{ServerConfig, MAX_FRAME_BYTES_CAP};
    // A frame's declared length is room the server makes before reading it.
    let mut config = ServerConfig::default();
    config.connection.max_frame_bytes = MAX_FRAME_BYTES_CAP + 1;
    config.connection.outbound_queue_bytes = MAX_FRAME_BYTES_CAP + 1;
    assert!(config.validate().unwrap_err().to_string().contains("at most 64 MiB"));
    config.connection.max_frame_bytes = MAX_FRAME_BYTES_CAP;
    config.validate().unwrap();
}

/// A raw data frame (`fin` false: more fragments follow).
fn fragment(data: &str, opcode: Data, fin: bool) -> Message {
    Message::Frame(Frame::message(Bytes::copy_from_slice(data.as_bytes()), OpCode::Data(opcode), fin))
}

#[tokio::test]
async fn websocket_frames_are_read_as_rfc_6455_says() {
    let server = server().await;
    let mut ws = raw_session(&server, "u").await;
    // A ping is answered with a pong carrying its data.
    ws.send(Message::Ping(Bytes::from_static(b"are you there"))).await.unwrap();
    let pong = tokio::time::timeout(WAIT, ws.next()).await.expect("a pong in time");
    assert!(matches!(pong, Some(Ok(Message::Pong(ref data))) if data == "are you there"), "{pong:?}");
    // A request in three fragments is one request.
    let request = json!({"op":"subscribe","id":1,"channel":"c"}).to_string();
    let (a, rest) = request.split_at(10);
    let (b, c) = rest.split_at(10);
    for frame in [fragment(a, Data::Text, false), fragment(b, Data::Continue, false), fragment(c, Data::Continue, true)]
    {
        ws.send(frame).await.unwrap();
    }
    let answer = next_json(&mut ws).await;
    assert_eq!((&answer["t"], &answer["id"]), (&json!("ok"), &json!(1)), "{answer}");
    // A continuation with no message to continue is a protocol error: 1002 with a reason.
    ws.send(fragment("x", Data::Continue, true)).await.unwrap();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1002);
    assert!(reason.contains("continuation"), "{reason}");

    // A reserved bit set, before login.
    let mut ws = raw(&server).await;
    let mut frame = Frame::message(Bytes::from_static(b"{}"), OpCode::Data(Data::Text), true);
    frame.header_mut().rsv1 = true;
    ws.send(Message::Frame(frame)).await.unwrap();
    assert_eq!(next_json(&mut ws).await["t"], "err");
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1002);
    assert!(reason.contains("reserved"), "{reason}");
    raw_session(&server, "still-served").await;
}

#[tokio::test]
async fn garbage_before_hello_is_refused_without_opening_a_session() {
    let server = server().await;
    let cases = [
        (Message::Text("{not json".into()), 1002),
        (Message::Binary(Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef, 0, 1])), 1002),
        (Message::Text(json!({"op":"teleport"}).to_string().into()), 1002),
        (Message::Binary(vec![7u8; 10 * 1024 * 1024].into()), 1009),
    ];
    for (frame, expected) in cases {
        let mut ws = raw(&server).await;
        let _ = ws.send(frame).await;
        let (code, reason) = close_of(&mut ws).await;
        assert_eq!(code, expected, "{reason}");
    }
    assert_eq!(server.stats().users, 0);
    raw_session(&server, "honest").await;
}

/// Sends a request on a fresh TCP connection and returns the whole answer.
async fn http(server: &piazza_engine::server::Server, request: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
    let _ = tcp.write_all(request.as_bytes()).await;
    let mut answer = String::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_string(&mut answer)).await;
    answer
}

#[tokio::test]
async fn pending_handshakes_are_capped_and_slots_free_at_the_handshake_timeout() {
    let server = server_with(|c| {
        c.connection.max_pending_handshakes = 4;
        c.connection.handshake_timeout_ms = 500;
    })
    .await;
    // Four sockets that connect and say nothing hold every handshake slot.
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(tokio::net::TcpStream::connect(server.local_addr()).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = http(&server, "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    // The silent ones are dropped at the handshake timeout; an honest client gets in.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let answer = http(&server, "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let honest = login(&server, "honest").await;
    honest.client.call(|c, r| c.subscribe(r, "c", SubscribeOptions::default())).await.unwrap();
    drop(silent);
}

#[tokio::test]
async fn new_connections_per_ip_are_rate_limited() {
    let server = server_with(|c| c.connection.connections_per_ip_per_second = 5).await;
    let mut admitted = 0;
    let mut refused = 0;
    for _ in 0..20 {
        let answer = http(&server, "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await;
        if answer.starts_with("HTTP/1.1 200") {
            admitted += 1;
        } else {
            assert!(answer.starts_with("HTTP/1.1 429") && answer.contains("too many connections"), "{answer}");
            refused += 1;
        }
    }
    // A burst of five, then about five a second.
    assert!((5..=9).contains(&admitted), "{admitted} admitted");
    assert!(refused >= 11, "{refused} refused");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    raw_session(&server, "later").await;
}

#[tokio::test]
async fn a_frame_flood_after_login_is_closed_with_1008_while_others_are_served() {
    let server = server_with(|c| c.connection.frames_per_second = 100).await;
    let mut alice = login(&server, "alice").await;
    let bob = login(&server, "bob").await;
    alice.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();

    let mut flood = raw_session(&server, "flooder").await;
    let ping = Message::Text(json!({"op":"ping","received":0}).to_string().into());
    for _ in 0..1000 {
        if flood.feed(ping.clone()).await.is_err() {
            break;
        }
    }
    let _ = flood.flush().await;
    let (code, reason) = close_of(&mut flood).await;
    assert_eq!(code, 1008);
    assert!(reason.contains("100 frames per second"), "{reason}");

    bob.client
        .call(|c, r| c.publish(r, "c", Payload::Text("still here".into()), PublishOptions::default()))
        .await
        .unwrap();
    assert_eq!(alice.next_message().await.payload, Payload::Text("still here".into()));
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_traffic_leaves_the_server_up_with_bounded_memory() {
    let server = Standalone::start(
        &["--log-level", "error", "--connections-per-ip-per-second", "0", "--publish-rate-per-channel", "0"],
        &[],
    )
    .await;
    let url = server.url.clone();
    let mut alice = login_with(ClientConfig::new("app", "alice", &url)).await;
    let bob = login_with(ClientConfig::new("app", "bob", &url)).await;
    alice.client.call(|c, r| c.subscribe(r, "honest", SubscribeOptions::default())).await.unwrap();
    let connect = || async { tokio_tungstenite::connect_async(url.as_str()).await.map(|c| c.0) };

    let attack = || async {
        let mut tasks = Vec::new();
        // Oversize frames, before and after hello.
        for i in 0..10 {
            tasks.push(tokio::spawn({
                let ws = connect().await;
                async move {
                    let Ok(mut ws) = ws else { return };
                    if i % 2 == 0 {
                        let _ = ws.send(hello("app", &format!("big{i}"))).await;
                    }
                    let _ = ws.send(Message::Binary(vec![1u8; 10 * 1024 * 1024].into())).await;
                    while let Some(Ok(_)) = ws.next().await {}
                }
            }));
        }
        // Frames just under the limit, full of garbage, until the server cuts the connection.
        for i in 0..20 {
            tasks.push(tokio::spawn({
                let ws = connect().await;
                async move {
                    let Ok(mut ws) = ws else { return };
                    let _ = ws.send(hello("app", &format!("junk{i}"))).await;
                    for _ in 0..100 {
                        if ws.send(Message::Binary(vec![0xee; 200 * 1024].into())).await.is_err() {
                            break;
                        }
                    }
                    while let Some(Ok(_)) = ws.next().await {}
                }
            }));
        }
        // A subscriber that never reads, fed large messages by a fast publisher.
        let mut sleeper = connect().await.unwrap();
        sleeper.send(hello("app", "sleeper")).await.unwrap();
        sleeper
            .send(Message::Text(json!({"op":"subscribe","id":1,"channel":"firehose"}).to_string().into()))
            .await
            .unwrap();
        let mut publisher = connect().await.unwrap();
        publisher.send(hello("app", "publisher")).await.unwrap();
        let body = "x".repeat(30 * 1024);
        for id in 0..600u64 {
            let frame = json!({"op":"publish","id":id,"channel":"firehose","messageType":"STRING","data":body});
            if publisher.send(Message::Text(frame.to_string().into())).await.is_err() {
                break;
            }
            if id % 50 == 0 {
                // Drain the publisher's answers so it is not the slow one.
                while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(1), publisher.next()).await {}
            }
        }
        for task in tasks {
            let _ = tokio::time::timeout(WAIT, task).await;
        }
        drop(sleeper);
        drop(publisher);
    };

    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.rss_bytes();
    attack().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_one = server.rss_bytes();
    attack().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_two = server.rss_bytes();
    const MB: u64 = 1024 * 1024;
    eprintln!(
        "server RSS: before {} MB, after one attack {} MB, after two {} MB",
        before / MB,
        after_one / MB,
        after_two / MB
    );
    assert!(after_one < before + 96 * MB, "memory grew from {before} to {after_one}");
    assert!(after_two < after_one + 24 * MB, "memory keeps growing: {after_one} → {after_two}");

    // The honest pair never noticed.
    bob.client
        .call(|c, r| c.publish(r, "honest", Payload::Text("fine".into()), PublishOptions::default()))
        .await
        .unwrap();
    assert_eq!(alice.next_message().await.payload, Payload::Text("fine".into()));
}
