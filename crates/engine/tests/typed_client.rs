//! The Rust client as a typed API: a program uses stream channels, topics, presence, realtime
//! channels and rooms through typed methods and typed events — it never builds a JSON frame,
//! and learns "I was removed from the room" from a value.

mod common;

use std::collections::BTreeMap;

use common::*;
use piazza_engine::client::{CustomMessage, JoinOptions, Payload, Route, WhoNowOptions};
use piazza_engine::protocol::{ChannelType, ExitReason, LeaveReason, Role, RoomEvent, RoomId, Scene, SessionKind};
use serde_json::Value;

fn value(raw: impl AsRef<serde_json::value::RawValue>) -> Value {
    serde_json::from_str(raw.as_ref().get()).unwrap()
}

/// Stream channels, topics and presence through typed calls.
#[tokio::test]
async fn streams_topics_and_presence_without_a_json_frame() {
    let server = server().await;
    let alice = login(&server, "alice").await;
    let mut bob = login(&server, "bob").await;
    for c in [&alice, &bob] {
        c.client.call(|c, r| c.join(r, "match", JoinOptions::default())).await.unwrap();
    }
    alice.client.call(|c, r| c.join_topic(r, "match", "moves", "white")).await.unwrap();
    bob.client.call(|c, r| c.subscribe_topic(r, "match", "moves", Some(vec!["alice".into()]))).await.unwrap();
    alice.client.call(|c, r| c.publish_topic(r, "match", "moves", Payload::Text("e2e4".into()), "move")).await.unwrap();
    let got = bob.next_message().await;
    assert_eq!((got.header["publisher"].as_str(), got.payload), (Some("alice"), Payload::Text("e2e4".into())));

    let states = BTreeMap::from([("mood".to_string(), "calm".to_string())]);
    alice.client.call(|c, r| c.set_state(r, "match", ChannelType::Stream, states)).await.unwrap();
    let state = value(alice.client.call(|c, r| c.get_state(r, "alice", "match", ChannelType::Stream)).await.unwrap());
    assert_eq!(state["states"]["mood"], "calm");
    let who = WhoNowOptions { included_state: true, ..Default::default() };
    let page = value(bob.client.call(|c, r| c.who_now(r, "match", ChannelType::Stream, who)).await.unwrap());
    assert_eq!(page["totalOccupancy"], 2);
    let wher = value(bob.client.call(|c, r| c.where_now(r, "alice")).await.unwrap());
    assert_eq!(wher["totalChannel"], 1);
    alice.client.call(|c, r| c.remove_state(r, "match", ChannelType::Stream, None)).await.unwrap();
    // Bad arguments are refused before anything is sent.
    assert!(alice.client.join(Route::Ignore, "bad/name", JoinOptions::default()).is_err());
    alice.client.call(|c, r| c.leave(r, "match")).await.unwrap();
}

/// Realtime datagrams through typed calls.
#[tokio::test]
async fn realtime_channels_without_a_json_frame() {
    let server = server().await;
    let alice = login(&server, "alice").await;
    let mut bob = login(&server, "bob").await;
    bob.client.call(|c, r| c.realtime_join(r, "board")).await.unwrap();
    alice.client.call(|c, r| c.realtime_join(r, "board")).await.unwrap();
    alice.client.realtime_send("board", bytes::Bytes::from_static(b"stroke")).unwrap();
    assert_eq!(bob.next_realtime().await, ("board".to_string(), bytes::Bytes::from_static(b"stroke")));
    assert!(alice.client.realtime_send("board", vec![0u8; 200_000].into()).is_err(), "over the limit: refused");
    alice.client.call(|c, r| c.realtime_leave(r, "board")).await.unwrap();
}

/// Rooms: enter, custom messages, a kick — the kicked client gets `ExitReason::Removed`, the
/// other `LeaveReason::Removed`, as values.
#[tokio::test]
async fn rooms_report_reasons_as_values() {
    let server = server().await;
    let trtc = |user: &'static str| {
        let mut config = config(&server, "1400000001", user);
        config.kind = SessionKind::Trtc;
        config.presence_timeout = 0;
        login_with(config)
    };
    let mut host = trtc("host").await;
    let mut guest = trtc("guest").await;
    host.client.call(|c, r| c.enter_room(r, RoomId::Num(12), Role::Anchor, Scene::VideoCall)).await.unwrap();
    guest.client.call(|c, r| c.enter_room(r, RoomId::Num(12), Role::Anchor, Scene::VideoCall)).await.unwrap();
    assert_eq!(host.next_room().await, RoomEvent::RemoteEnter { user_id: "guest".into() });

    let message = CustomMessage { cmd_id: 1, seq: 1, reliable: true, ordered: true };
    guest.client.send_custom_cmd(message.clone(), Payload::Text("hi".into())).unwrap();
    loop {
        if let piazza_engine::client::ClientEvent::Cmd { payload, .. } = host.next_event().await {
            assert_eq!(payload, Payload::Text("hi".into()));
            break;
        }
    }
    let bad = CustomMessage { cmd_id: 11, ..message };
    assert!(guest.client.send_custom_cmd(bad, Payload::Text("x".into())).is_err(), "cmdId 11 is refused");

    server.remove_users("1400000001", &RoomId::Num(12), &["guest".into()]).unwrap();
    assert!(matches!(guest.next_room().await, RoomEvent::Exit { reason: ExitReason::Removed, .. }));
    assert_eq!(
        host.next_room().await,
        RoomEvent::RemoteLeave { user_id: "guest".into(), reason: LeaveReason::Removed }
    );
    host.client.call(|c, r| c.switch_role(r, Role::Audience)).await.unwrap();
    host.client.call(|c, r| c.exit_room(r)).await.unwrap();
}
