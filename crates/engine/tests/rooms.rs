//! TRTC-style rooms (docs/PROTOCOL.md#rooms-trtc): every exit reason, local and remote, exactly once; kick with a
//! re-entry ban; dismiss; scenes and roles; the same user id twice; custom messages; the admin
//! HTTP API.

mod common;

use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use piazza_engine::client::{Payload, Route};
use piazza_engine::protocol::{encode_binary, ExitReason, LeaveReason, RoomEvent, RoomId, SessionKind};
use piazza_engine::server::Server;
use piazza_engine::ErrorCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

async fn trtc(server: &Server, user: &str) -> TestClient {
    let mut config = config(server, "1400000001", user);
    config.kind = SessionKind::Trtc;
    config.presence_timeout = 0; // the server's rooms.dropTimeoutSeconds
    login_with(config).await
}

async fn enter(c: &TestClient, room: Value, role: &str, scene: &str) -> Result<Value, piazza_engine::Error> {
    c.ask(json!({"op":"enterRoom","room":room,"role":role,"scene":scene})).await
}

/// The next room event of `c` (`remoteEnter`, `remoteLeave`, `exit`).
async fn room_event(c: &mut TestClient) -> Value {
    c.next_of("room").await
}

fn app() -> String {
    "1400000001".into()
}

#[tokio::test]
async fn entering_announces_and_lists_members_and_numeric_and_string_ids_are_separate() {
    let server = server().await;
    let mut a = trtc(&server, "a").await;
    let first = enter(&a, json!(5), "anchor", "videoCall").await.unwrap();
    assert_eq!((first["room"].clone(), first["members"].clone()), (json!(5), json!([])));
    let b = trtc(&server, "b").await;
    let second = enter(&b, json!(5), "anchor", "videoCall").await.unwrap();
    assert_eq!(second["members"], json!(["a"]));
    assert_eq!(room_event(&mut a).await, json!({"event":"remoteEnter","userId":"b"}));
    // "5" is another room.
    let c = trtc(&server, "c").await;
    assert_eq!(enter(&c, json!("5"), "anchor", "videoCall").await.unwrap()["members"], json!([]));
    a.none_of("room", Duration::from_millis(150)).await;
    assert_eq!(server.stats().rooms, 2);
}

#[tokio::test]
async fn exit_tells_the_others_with_reason_0_and_works_outside_a_room_too() {
    let server = server().await;
    let mut a = trtc(&server, "a").await;
    let b = trtc(&server, "b").await;
    enter(&a, json!(7), "anchor", "videoCall").await.unwrap();
    enter(&b, json!(7), "anchor", "videoCall").await.unwrap();
    room_event(&mut a).await;
    b.ask(json!({"op":"exitRoom"})).await.unwrap();
    assert_eq!(room_event(&mut a).await, json!({"event":"remoteLeave","userId":"b","reason":0}));
    b.ask(json!({"op":"exitRoom"})).await.expect("exit when not in a room still succeeds");
    a.ask(json!({"op":"exitRoom"})).await.unwrap();
    assert_eq!(server.stats().rooms, 0);
}

#[tokio::test]
async fn a_kick_gives_reason_1_locally_reason_2_to_the_others_and_a_re_entry_ban() {
    let server = server_with(|c| c.rooms.kick_ban_seconds = 1).await;
    let mut a = trtc(&server, "a").await;
    let mut b = trtc(&server, "b").await;
    enter(&a, json!(9), "anchor", "videoCall").await.unwrap();
    enter(&b, json!(9), "anchor", "videoCall").await.unwrap();
    room_event(&mut a).await;
    let result = server.remove_users(&app(), &RoomId::Num(9), &["b".into(), "ghost".into()]).unwrap();
    assert_eq!(
        (result.removed.clone(), result.not_in_room.clone()),
        (vec!["b".to_string()], vec!["ghost".to_string()])
    );
    assert!(matches!(b.next_room().await, RoomEvent::Exit { reason: ExitReason::Removed, code: None, .. }));
    assert_eq!(a.next_room().await, RoomEvent::RemoteLeave { user_id: "b".into(), reason: LeaveReason::Removed });
    let e = enter(&b, json!(9), "anchor", "videoCall").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::TrtcRoomEnterFail);
    assert!(e.reason.contains("removed"), "{}", e.reason);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    enter(&b, json!(9), "anchor", "videoCall").await.expect("the ban is over");
    // Too many ids, bad ids, unknown rooms.
    let eleven: Vec<String> = (0..11).map(|i| format!("u{i}")).collect();
    assert_eq!(server.remove_users(&app(), &RoomId::Num(9), &eleven).unwrap_err().code, "InvalidParameter.UserIds");
    let missing = server.remove_users(&app(), &RoomId::Num(404), &["b".into()]).unwrap_err();
    assert_eq!((missing.status, missing.code), (404, "FailedOperation.RoomNotExist"));
}

#[tokio::test]
async fn dismiss_gives_everyone_reason_2_and_the_room_is_gone() {
    let server = server().await;
    let mut a = trtc(&server, "a").await;
    let mut b = trtc(&server, "b").await;
    enter(&a, json!("lobby"), "anchor", "videoCall").await.unwrap();
    enter(&b, json!("lobby"), "anchor", "videoCall").await.unwrap();
    room_event(&mut a).await;
    assert_eq!(server.dismiss_room(&app(), &RoomId::Str("lobby".into())).unwrap().members, 2);
    for c in [&mut a, &mut b] {
        assert!(matches!(c.next_room().await, RoomEvent::Exit { reason: ExitReason::Dismissed, .. }));
        c.none_of("room", Duration::from_millis(50)).await; // no remoteLeave on top
    }
    assert_eq!(server.stats().rooms, 0);
    assert_eq!(
        server.dismiss_room(&app(), &RoomId::Str("lobby".into())).unwrap_err().code,
        "FailedOperation.RoomNotExist"
    );
    // A new room of the same id starts empty.
    assert_eq!(enter(&a, json!("lobby"), "anchor", "videoCall").await.unwrap()["members"], json!([]));
}

#[tokio::test]
async fn a_member_that_drops_is_announced_with_reason_1_after_the_timeout() {
    let server = server_with(|c| c.rooms.drop_timeout_seconds = 1).await;
    let mut a = trtc(&server, "a").await;
    enter(&a, json!(11), "anchor", "videoCall").await.unwrap();
    let mut ws = raw(&server).await;
    ws.send(Message::Text(
        json!({"op":"hello","v":1,"appId":app(),"userId":"dropper","kind":"trtc","heartbeat":5,"presenceTimeout":0})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await["t"], "welcome");
    ws.send(Message::Text(json!({"op":"enterRoom","id":1,"room":11}).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut ws).await["t"], "ok");
    assert_eq!(room_event(&mut a).await["event"], "remoteEnter");
    let dropped = std::time::Instant::now();
    drop(ws);
    assert_eq!(room_event(&mut a).await, json!({"event":"remoteLeave","userId":"dropper","reason":1}));
    assert!(dropped.elapsed() >= Duration::from_millis(900), "not before the timeout");
}

#[tokio::test]
async fn exit_racing_a_disconnect_is_reported_exactly_once() {
    let server = server_with(|c| c.rooms.drop_timeout_seconds = 1).await;
    let mut watcher = trtc(&server, "watcher").await;
    enter(&watcher, json!(12), "anchor", "videoCall").await.unwrap();
    for round in 0..5 {
        let user = format!("racer{round}");
        let mut ws = raw(&server).await;
        ws.send(Message::Text(
            json!({"op":"hello","v":1,"appId":app(),"userId":user,"kind":"trtc","heartbeat":5,"presenceTimeout":1})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
        next_json(&mut ws).await;
        ws.send(Message::Text(json!({"op":"enterRoom","id":1,"room":12}).to_string().into())).await.unwrap();
        next_json(&mut ws).await;
        // exitRoom and the connection's end, back to back.
        ws.send(Message::Text(json!({"op":"exitRoom","id":2}).to_string().into())).await.unwrap();
        drop(ws);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut leaves = std::collections::BTreeMap::new();
    loop {
        match tokio::time::timeout(Duration::from_millis(200), watcher.next_of("room")).await {
            Ok(e) if e["event"] == "remoteLeave" => {
                *leaves.entry(e["userId"].as_str().unwrap().to_string()).or_insert(0) += 1
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert_eq!(leaves.len(), 5);
    assert!(leaves.values().all(|n| *n == 1), "{leaves:?}");
}

#[tokio::test]
async fn live_scenes_announce_anchors_only_and_switch_role_announces_or_retires() {
    let server = server().await;
    let mut anchor = trtc(&server, "anchor").await;
    enter(&anchor, json!(20), "anchor", "live").await.unwrap();
    let viewer = trtc(&server, "viewer").await;
    let answer = enter(&viewer, json!(20), "audience", "live").await.unwrap();
    assert_eq!(answer["members"], json!(["anchor"]));
    anchor.none_of("room", Duration::from_millis(100)).await; // an audience member enters silently
    viewer.ask(json!({"op":"switchRole","role":"anchor"})).await.unwrap();
    assert_eq!(room_event(&mut anchor).await, json!({"event":"remoteEnter","userId":"viewer"}));
    viewer.ask(json!({"op":"switchRole","role":"audience"})).await.unwrap();
    assert_eq!(room_event(&mut anchor).await, json!({"event":"remoteLeave","userId":"viewer","reason":3}));
    viewer.ask(json!({"op":"exitRoom"})).await.unwrap();
    anchor.none_of("room", Duration::from_millis(100)).await; // and leaves silently
    let late = trtc(&server, "late").await;
    assert_eq!(enter(&late, json!(20), "audience", "voiceChatRoom").await.unwrap()["members"], json!(["anchor"]));
    let e = viewer.ask(json!({"op":"switchRole","role":"anchor"})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::TrtcNotInRoom);
}

#[tokio::test]
async fn the_same_user_entering_again_replaces_the_older_instance_silently() {
    let server = server().await;
    let mut watcher = trtc(&server, "watcher").await;
    enter(&watcher, json!(30), "anchor", "videoCall").await.unwrap();
    let mut first = trtc(&server, "dup").await;
    enter(&first, json!(30), "anchor", "videoCall").await.unwrap();
    assert_eq!(room_event(&mut watcher).await["event"], "remoteEnter");
    let second = trtc(&server, "dup").await;
    assert_eq!(enter(&second, json!(30), "anchor", "videoCall").await.unwrap()["members"], json!(["watcher"]));
    let exit = first.next_room().await;
    let replaced = ErrorCode::TrtcUserEnteredElsewhere.code();
    assert!(
        matches!(exit, RoomEvent::Exit { reason: ExitReason::Removed, code: Some(c), .. } if c == replaced),
        "{exit:?}"
    );
    watcher.none_of("room", Duration::from_millis(150)).await;
    // The older instance's exit now changes nothing for the room.
    first.ask(json!({"op":"exitRoom"})).await.unwrap();
    watcher.none_of("room", Duration::from_millis(100)).await;
}

#[tokio::test]
async fn entry_errors_use_the_trtc_codes() {
    let server = server_with(|c| c.rooms.max_members = 1).await;
    let a = trtc(&server, "a").await;
    for (room, code) in [
        (json!(0), ErrorCode::TrtcRoomIdInvalid),
        (json!(4294967295u64), ErrorCode::TrtcRoomIdInvalid),
        (json!("bad/id"), ErrorCode::TrtcRoomIdInvalid),
    ] {
        assert_eq!(enter(&a, room, "anchor", "videoCall").await.unwrap_err().code, code);
    }
    enter(&a, json!(1), "anchor", "videoCall").await.unwrap();
    let b = trtc(&server, "b").await;
    assert_eq!(enter(&b, json!(1), "anchor", "videoCall").await.unwrap_err().code, ErrorCode::TrtcRoomFull);
    let rtm = login(&server, "rtm-user").await;
    assert_eq!(enter(&rtm, json!(2), "anchor", "videoCall").await.unwrap_err().code, ErrorCode::InvalidParameter);
}

#[tokio::test]
async fn custom_messages_reach_the_others_with_sequence_numbers_within_the_limits() {
    let server = server().await;
    let a = trtc(&server, "a").await;
    let mut b = trtc(&server, "b").await;
    enter(&a, json!(40), "anchor", "videoCall").await.unwrap();
    enter(&b, json!(40), "anchor", "videoCall").await.unwrap();
    let send = |seq: u64, cmd: u32, payload: Payload, reliable: bool| {
        let frame = serde_json::from_value(json!({"op":"customCmd","cmdId":cmd,"seq":seq,"reliable":reliable,"ordered":reliable,"messageType":"STRING"})).unwrap();
        a.client.request(Route::Ignore, frame, Some(payload))
    };
    send(1, 3, Payload::Text("hello".into()), true).unwrap();
    send(2, 3, Payload::Binary(vec![1, 2, 3].into()), true).unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        if let piazza_engine::client::ClientEvent::Cmd { header, payload } = b.next_event().await {
            got.push((serde_json::from_str::<Value>(header.get()).unwrap(), payload));
        }
    }
    assert_eq!(got[0].0, json!({"userId":"a","cmdId":3,"seq":1,"reliable":true}));
    assert_eq!(got[0].1, Payload::Text("hello".into()));
    assert_eq!(got[1].1, Payload::Binary(vec![1, 2, 3].into()));
    // Refused before sending.
    assert!(send(3, 0, Payload::Text("x".into()), true).is_err());
    assert!(send(3, 11, Payload::Text("x".into()), true).is_err());
    assert!(send(3, 1, Payload::Text("x".repeat(1025)), true).is_err());
    let mixed = serde_json::from_value(
        json!({"op":"customCmd","cmdId":1,"seq":3,"reliable":true,"ordered":false,"messageType":"STRING"}),
    )
    .unwrap();
    assert!(a.client.request(Route::Ignore, mixed, Some(Payload::Text("x".into()))).is_err());
    // The server enforces 30 per second per sender.
    let mut ws = raw(&server).await;
    ws.send(Message::Text(
        json!({"op":"hello","v":1,"appId":app(),"userId":"spammer","kind":"trtc","heartbeat":5,"presenceTimeout":5})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    next_json(&mut ws).await;
    ws.send(Message::Text(json!({"op":"enterRoom","id":1,"room":40}).to_string().into())).await.unwrap();
    next_json(&mut ws).await;
    for seq in 1..=60u64 {
        let header =
            json!({"op":"customCmd","cmdId":1,"seq":seq,"reliable":true,"ordered":true,"messageType":"STRING"});
        ws.send(Message::Binary(encode_binary(&header, b"x"))).await.unwrap();
    }
    let refused = next_json(&mut ws).await;
    assert_eq!(
        (refused["t"].as_str(), refused["name"].as_str()),
        (Some("err"), Some("RTM_ERROR_CHANNEL_PUBLISH_MESSAGE_TOO_FREQUENT"))
    );
}

async fn http(server: &Server, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
    let auth = token.map(|t| format!("authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!("{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_admin_http_api_needs_its_token_and_kicks_and_dismisses() {
    const TOKEN: &str = "admin-token-0123456789";
    let server = server_with(|c| c.admin_token = Some(piazza_engine::config::Secret::new(TOKEN))).await;
    let mut a = trtc(&server, "a").await;
    let mut b = trtc(&server, "b").await;
    enter(&a, json!(77), "anchor", "videoCall").await.unwrap();
    enter(&b, json!(77), "anchor", "videoCall").await.unwrap();
    room_event(&mut a).await;
    let kick = format!("/v1/apps/{}/rooms/77/remove-users", app());
    assert_eq!(http(&server, "POST", &kick, None, r#"{"userIds":["b"]}"#).await.0, 401);
    assert_eq!(http(&server, "POST", &kick, Some("wrong-token-0123456789"), r#"{"userIds":["b"]}"#).await.0, 401);
    assert_eq!(http(&server, "GET", "/metrics", None, "").await.0, 401);
    assert_eq!(http(&server, "GET", "/healthz", None, "").await.0, 200);
    let (status, body) = http(&server, "POST", &kick, Some(TOKEN), r#"{"userIds":["b","nobody"]}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"roomId":77,"removed":["b"],"notInRoom":["nobody"]}));
    assert!(matches!(b.next_room().await, RoomEvent::Exit { reason: ExitReason::Removed, .. }));
    assert_eq!(room_event(&mut a).await, json!({"event":"remoteLeave","userId":"b","reason":2}));
    let many = json!({"userIds": (0..11).map(|i| format!("u{i}")).collect::<Vec<_>>()}).to_string();
    let (status, body) = http(&server, "POST", &kick, Some(TOKEN), &many).await;
    assert_eq!((status, body["error"]["code"].clone()), (400, json!("InvalidParameter.UserIds")));
    let (status, body) = http(&server, "POST", &format!("/v1/apps/{}/rooms/78/dismiss", app()), Some(TOKEN), "").await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("FailedOperation.RoomNotExist")));
    // String room ids live under str-rooms, percent-encoded.
    let c = trtc(&server, "c").await;
    enter(&c, json!("my room"), "anchor", "videoCall").await.unwrap();
    let (status, body) =
        http(&server, "POST", &format!("/v1/apps/{}/str-rooms/my%20room/dismiss", app()), Some(TOKEN), "").await;
    assert_eq!((status, body), (200, json!({"roomId":"my room","members":1})));
    assert_eq!(http(&server, "GET", "/metrics", Some(TOKEN), "").await.0, 200);

    let open = server_with(|_| {}).await;
    assert_eq!(
        http(&open, "POST", &kick, Some(TOKEN), r#"{"userIds":["b"]}"#).await.0,
        404,
        "admin routes are off without a token"
    );
}

/// A switchRoom the target refuses (here: full; a ban is checked the same way) leaves the
/// member where it was: the others hear no leave and it is still in its room.
#[tokio::test]
async fn a_refused_switch_room_leaves_the_member_in_its_room() {
    let server = server_with(|c| c.rooms.max_members = 2).await;
    let mut watcher = trtc(&server, "watcher").await;
    let mover = trtc(&server, "mover").await;
    enter(&watcher, json!(60), "anchor", "videoCall").await.unwrap();
    enter(&mover, json!(60), "anchor", "videoCall").await.unwrap();
    assert_eq!(watcher.next_room().await, RoomEvent::RemoteEnter { user_id: "mover".into() });
    for user in ["b1", "b2"] {
        enter(&trtc(&server, user).await, json!(61), "anchor", "videoCall").await.unwrap();
    }
    let full = mover.ask(json!({"op":"switchRoom","room":61})).await.unwrap_err();
    assert_eq!(full.code, ErrorCode::TrtcRoomFull);
    watcher.none_of("room", Duration::from_millis(150)).await;
    // Still in room 60: a kick from it reaches the watcher as the mover's leave.
    server.remove_users(&app(), &RoomId::Num(60), &["mover".into()]).unwrap();
    assert_eq!(
        watcher.next_room().await,
        RoomEvent::RemoteLeave { user_id: "mover".into(), reason: LeaveReason::Removed }
    );
}
