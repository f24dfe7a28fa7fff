//! Surviving disconnects (README.md#surviving-disconnects): a TCP proxy between client and server
//! cuts, stalls or refuses connections; the server restarts on the same port. Each test says what
//! users of the SDKs we replace suffer from and proves Piazza does not.

mod common;

use std::time::Duration;

use common::proxy::Proxy;
use common::*;
use piazza_engine::client::{ClientConfig, LinkState, Payload, PublishOptions, Route};
use serde_json::json;

/// A client through `proxy` with a short pong timeout and quick reconnects.
async fn through(proxy: &Proxy, user: &str) -> TestClient {
    let mut config = ClientConfig::new("app", user, &proxy.url());
    config.presence_timeout = 5;
    config.pong_timeout = Duration::from_millis(500);
    config.reconnect_initial = Duration::from_millis(50);
    config.reconnect_max = Duration::from_millis(300);
    login_with(config).await
}

async fn wait_state(c: &mut TestClient, state: LinkState) -> piazza_engine::client::LinkStateEvent {
    loop {
        let event = c.next_link_state().await;
        if event.current_state == state {
            return event;
        }
    }
}

fn text(s: &str) -> Payload {
    Payload::Text(s.to_string())
}

#[tokio::test]
async fn an_abrupt_close_is_resumed_with_nothing_lost_and_nobody_noticing() {
    let server = server().await;
    let proxy = Proxy::start(server.local_addr()).await;
    let mut alice = through(&proxy, "alice").await;
    alice.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    let mut bob = login(&server, "bob").await;
    bob.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    bob.next_typed("presence", "SNAPSHOT").await;
    alice.next_typed("presence", "REMOTE_JOIN").await;

    proxy.cut();
    // Published while alice is away.
    for i in 0..20 {
        bob.client.call(|c, r| c.publish(r, "c", text(&format!("gap {i}")), PublishOptions::default())).await.unwrap();
    }
    let lost = wait_state(&mut alice, LinkState::Disconnected).await;
    assert_eq!(lost.affected_channels, ["c"]);
    let back = wait_state(&mut alice, LinkState::Connected).await;
    assert!(back.is_resumed, "{back:?}");
    assert_eq!(server.stats().users, 2);
    // Every message, once, in order (bob's own copies are skipped).
    let mut got = Vec::new();
    while got.len() < 20 {
        let m = alice.next_message().await;
        if let Payload::Text(t) = m.payload {
            got.push(t);
        }
    }
    assert_eq!(got, (0..20).map(|i| format!("gap {i}")).collect::<Vec<_>>());
    alice.no_message(Duration::from_millis(100)).await;
    // Nobody saw alice leave or join again.
    bob.none_of("presence", Duration::from_millis(200)).await;
    // And the subscription is intact.
    bob.client.call(|c, r| c.publish(r, "c", text("after"), PublishOptions::default())).await.unwrap();
    assert_eq!(alice.next_message().await.payload, text("after"));
}

#[tokio::test]
async fn requests_in_flight_when_the_link_drops_are_answered_once_after_the_resume() {
    let server = server_with(|c| c.limits.publish_rate_per_channel = 0).await;
    let proxy = Proxy::start(server.local_addr()).await;
    let alice = through(&proxy, "alice").await;
    let mut bob = login(&server, "bob").await;
    bob.ask(json!({"op":"subscribe","channel":"c","withPresence":false})).await.unwrap();
    let mut answers = Vec::new();
    for i in 0..50 {
        let (tx, rx) = tokio::sync::oneshot::channel();
        alice.client.publish(Route::Oneshot(tx), "c", text(&i.to_string()), PublishOptions::default()).unwrap();
        answers.push(rx);
        if i == 25 {
            proxy.cut();
        }
    }
    for rx in answers {
        rx.await.unwrap().expect("every publish is answered with success");
    }
    let mut got = Vec::new();
    while got.len() < 50 {
        if let Payload::Text(t) = bob.next_message().await.payload {
            got.push(t.parse::<usize>().unwrap());
        }
    }
    assert_eq!(got, (0..50).collect::<Vec<_>>(), "each message exactly once, in order");
    bob.no_message(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_half_open_link_is_detected_by_the_heartbeat_and_resumed() {
    let server = server().await;
    let proxy = Proxy::start(server.local_addr()).await;
    let mut alice = through(&proxy, "alice").await;
    alice.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    let bob = login(&server, "bob").await;
    proxy.stall();
    let started = std::time::Instant::now();
    let lost = wait_state(&mut alice, LinkState::Disconnected).await;
    assert_eq!(lost.reason_code, piazza_engine::client::LinkReason::KeepAliveTimeout);
    // heartbeat (5 s) + pong timeout (0.5 s), give or take a check interval.
    assert!(started.elapsed() < Duration::from_secs(7), "{:?}", started.elapsed());
    proxy.unstall();
    bob.client.call(|c, r| c.publish(r, "c", text("while stalled"), PublishOptions::default())).await.unwrap();
    let back = wait_state(&mut alice, LinkState::Connected).await;
    assert!(back.is_resumed);
    assert_eq!(alice.next_message().await.payload, text("while stalled"));
}

#[tokio::test]
async fn past_the_timeout_a_new_session_restores_everything_and_reports_the_delta() {
    let server = server().await;
    let proxy = Proxy::start(server.local_addr()).await;
    let mut alice = through(&proxy, "alice").await;
    alice.ask(json!({"op":"setState","channel":"c","channelType":"MESSAGE","states":{"mood":"ok"}})).await.unwrap();
    alice.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    alice.ask(json!({"op":"join","channel":"s"})).await.unwrap();
    alice.ask(json!({"op":"joinTopic","channel":"s","topic":"t","meta":"m"})).await.unwrap();
    let leaver = login(&server, "leaver").await;
    leaver.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    let mut watcher = login(&server, "watcher").await;
    watcher.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    alice.next_typed("presence", "REMOTE_JOIN").await;

    proxy.refuse(true);
    proxy.cut();
    wait_state(&mut alice, LinkState::Disconnected).await;
    // While alice is away: leaver goes, newcomer comes, and alice times out for the others.
    leaver.logout().await;
    let newcomer = login(&server, "newcomer").await;
    newcomer.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    let timeout = loop {
        let e = watcher.next_of("presence").await;
        if e["publisher"] == "alice" {
            break e;
        }
    };
    assert_eq!(timeout["eventType"], "REMOTE_TIMEOUT");
    wait_state(&mut alice, LinkState::Suspended).await;
    proxy.refuse(false);

    let back = wait_state(&mut alice, LinkState::Connected).await;
    assert!(!back.is_resumed);
    assert!(back.unrestored_channels.is_empty(), "{back:?}");
    // A fresh SNAPSHOT of c, with who joined and left meanwhile.
    let snapshot = loop {
        let e = alice.next_typed("presence", "SNAPSHOT").await;
        if e["channelName"] == "c" {
            break e;
        }
    };
    let users: Vec<_> = snapshot["snapshot"].as_array().unwrap().iter().map(|u| u["userId"].clone()).collect();
    assert_eq!(users, [json!("alice"), json!("newcomer"), json!("watcher")]);
    assert_eq!(snapshot["interval"]["join"]["users"], json!(["newcomer"]));
    assert_eq!(snapshot["interval"]["leave"]["users"], json!(["leaver"]));
    // Restored: the states, the stream channel with its topic role, the subscription.
    let state =
        watcher.ask(json!({"op":"getState","userId":"alice","channel":"c","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!(state["states"], json!({"mood":"ok"}));
    let joined = watcher.next_typed("presence", "REMOTE_JOIN").await;
    assert_eq!((joined["publisher"].clone(), joined["stateChanged"].clone()), (json!("alice"), json!({"mood":"ok"})));
    watcher.ask(json!({"op":"join","channel":"s"})).await.unwrap();
    let topics = watcher.next_typed("topic", "SNAPSHOT").await;
    assert_eq!(topics["topicInfos"][0]["publishers"][0]["publisherUserId"], "alice");
    newcomer.client.call(|c, r| c.publish(r, "c", text("hello again"), PublishOptions::default())).await.unwrap();
    assert_eq!(alice.next_message().await.payload, text("hello again"));
}

#[tokio::test]
async fn a_server_restart_on_the_same_port_starts_a_new_session_and_restores() {
    let first = server().await;
    let port = first.port();
    let mut alice = login_with({
        let mut c = config(&first, "app", "alice");
        c.reconnect_initial = Duration::from_millis(50);
        c.reconnect_max = Duration::from_millis(200);
        c
    })
    .await;
    alice.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    first.close().await;
    wait_state(&mut alice, LinkState::Disconnected).await;
    // Sent while the link is down: it goes after the restore, numbered after it (ids must
    // increase within the new session), and is answered.
    let client = alice.client.clone();
    let away = tokio::spawn(async move {
        client.call(|c, r| c.publish(r, "c", text("sent while away"), PublishOptions::default())).await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = server_with(|c| c.port = port).await;
    let back = wait_state(&mut alice, LinkState::Connected).await;
    assert!(!back.is_resumed);
    assert_eq!(back.affected_channels, ["c"]);
    away.await.unwrap().expect("the request sent while away is answered by the new session");
    assert_eq!(alice.next_message().await.payload, text("sent while away"));
    let bob = login(&second, "bob").await;
    bob.client.call(|c, r| c.publish(r, "c", text("on the new server"), PublishOptions::default())).await.unwrap();
    assert_eq!(alice.next_message().await.payload, text("on the new server"));
}

#[tokio::test]
async fn the_client_tries_each_access_point_in_turn() {
    let server = server().await;
    let mut config = ClientConfig::new("app", "alice", "ws://127.0.0.1:9");
    config.endpoints.push(server.url());
    config.reconnect_initial = Duration::from_millis(20);
    let alice = login_with(config).await;
    assert_eq!(alice.client.link_state(), LinkState::Connected);
}

#[tokio::test]
async fn after_a_drop_the_client_goes_back_to_the_access_point_that_holds_its_session() {
    // Two access points: the first holds the session; the second is another node that could
    // only start a new one.
    let (server, other) = (server().await, server().await);
    let proxy = Proxy::start(server.local_addr()).await;
    let mut config = ClientConfig::new("app", "alice", &proxy.url());
    config.endpoints.push(other.url());
    config.reconnect_initial = Duration::from_millis(20);
    let mut alice = login_with(config).await;
    alice.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    proxy.cut();
    wait_state(&mut alice, LinkState::Disconnected).await;
    let back = wait_state(&mut alice, LinkState::Connected).await;
    assert!(back.is_resumed, "{back:?}");
    assert_eq!((server.stats().users, other.stats().users), (1, 0));
}

#[tokio::test]
async fn datagrams_sent_while_the_link_is_down_are_bounded_newest_kept_drops_counted() {
    let server = server().await;
    let proxy = Proxy::start(server.local_addr()).await;
    let mut config = ClientConfig::new("app", "sender", &proxy.url());
    config.presence_timeout = 30;
    config.pong_timeout = Duration::from_millis(500);
    config.reconnect_initial = Duration::from_millis(50);
    config.reconnect_max = Duration::from_millis(100);
    config.max_held_unanswered = 16;
    let mut sender = login_with(config).await;
    sender.ask(json!({"op":"realtimeJoin","scope":"s"})).await.unwrap();
    let mut receiver = login(&server, "receiver").await;
    receiver.ask(json!({"op":"realtimeJoin","scope":"s"})).await.unwrap();
    proxy.refuse(true);
    proxy.cut();
    while sender.next_link_state().await.current_state != LinkState::Disconnected {}
    for i in 0..100u8 {
        sender.client.realtime_send("s", bytes::Bytes::from(vec![i])).unwrap();
    }
    assert_eq!(sender.client.held_dropped(), 84, "the oldest 84 of 100 dropped, counted");
    proxy.refuse(false);
    let mut got = Vec::new();
    while got.len() < 16 {
        got.push(receiver.next_realtime().await.1[0]);
    }
    assert_eq!(got, (84..100).collect::<Vec<u8>>(), "the newest 16, in order");
}

/// A client that receives many frames acknowledges them about every second, not only with its
/// heartbeat (30 s here): the server lets go of what it kept for a resume.
#[tokio::test]
async fn a_busy_client_acknowledges_before_its_heartbeat() {
    let server = server_with(|c| c.limits.publish_rate_per_channel = 0).await;
    let mut config = config(&server, "app", "bob");
    config.heartbeat_interval = 30;
    let mut bob = login_with(config).await;
    bob.ask(serde_json::json!({"op":"subscribe","channel":"busy"})).await.unwrap();
    let alice = login(&server, "alice").await;
    for i in 0..600 {
        let text = piazza_engine::client::Payload::Text(format!("m{i}"));
        alice.client.call(move |c, r| c.publish(r, "busy", text, Default::default())).await.unwrap();
    }
    for _ in 0..600 {
        bob.next_message().await;
    }
    let retained = || {
        let sessions = server.hub().sessions();
        let bob = sessions.iter().find(|s| &*s.user == "bob").expect("bob's session");
        bob.outbox.retained_frames()
    };
    // Only an early acknowledgement can let the server drop them: the heartbeat is 30 s away.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    // (What may stay: fewer than the 64 frames that make an early ping, and the pong.)
    while retained() > 64 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(retained() <= 64, "600 received, {} still kept: no acknowledgement before the heartbeat", retained());
}
