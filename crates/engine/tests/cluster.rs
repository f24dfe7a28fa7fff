//! Cluster mode (docs/PROTOCOL.md#cluster-mode): three nodes sharing channels, presence and rooms. Every scenario
//! runs twice — on the in-process bus ([`MemoryNet`]) and on a real Redis — so the two bus
//! implementations keep one contract. Redis tests use a fresh key prefix each; the Redis at
//! 127.0.0.1:6379 is used when it answers, else a private `redis-server` is started.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use piazza_engine::client::{
    ClientConfig, ClientEvent, LinkReason, LinkState, Payload, PublishOptions, SubscribeOptions,
};
use piazza_engine::cluster::bus::{parse_logged, Bus, LogKeep, LogRead, MemoryNet};
use piazza_engine::cluster::redis::RedisBus;
use piazza_engine::config::{Secret, ServerConfig};
use piazza_engine::protocol::SessionKind;
use piazza_engine::server::Server;
use serde_json::json;

#[path = "common/redis.rs"]
mod redis_server;

const NODE_TIMEOUT_MS: u64 = 600;

/// Where the nodes of one test meet.
enum Backend {
    Memory(MemoryNet),
    Redis { url: String, prefix: String },
}

static NEXT_PREFIX: AtomicU32 = AtomicU32::new(1);

impl Backend {
    fn memory() -> Backend {
        Backend::Memory(MemoryNet::new(Duration::from_millis(NODE_TIMEOUT_MS)))
    }

    fn redis() -> Backend {
        let prefix = format!("piazza-test-{}-{}", std::process::id(), NEXT_PREFIX.fetch_add(1, Ordering::Relaxed));
        Backend::Redis { url: redis_server::url(), prefix }
    }

    fn name(&self) -> &'static str {
        match self {
            Backend::Memory(_) => "memory",
            Backend::Redis { .. } => "redis",
        }
    }

    fn config(&self, node: &str) -> ServerConfig {
        let mut config = ServerConfig::default();
        config.connection.connections_per_ip_per_second = 0;
        config.cluster.node_id = Some(node.to_string());
        config.cluster.node_timeout_ms = NODE_TIMEOUT_MS;
        config.rooms.kick_ban_seconds = 30;
        if let Backend::Redis { url, prefix } = self {
            config.redis_url = Some(Secret::new(url.clone()));
            config.cluster.prefix = prefix.clone();
        }
        config
    }

    async fn node(&self, name: &str) -> Server {
        self.node_with(name, |_| {}).await
    }

    async fn node_with(&self, name: &str, adjust: impl FnOnce(&mut ServerConfig)) -> Server {
        let mut config = self.config(name);
        adjust(&mut config);
        let server = match self {
            Backend::Memory(net) => {
                let bus: Arc<dyn Bus> = net.node(name);
                Server::start_on(config, Some(bus)).await.expect("node starts")
            }
            Backend::Redis { .. } => Server::start(config).await.expect("node starts"),
        };
        // Let the node's subscriptions and directory settle.
        tokio::time::sleep(Duration::from_millis(150)).await;
        server
    }
}

/// A logged-in RTM client of `server` with short timeouts.
async fn rtm(server: &Server, user: &str) -> TestClient {
    let mut config = ClientConfig::new("app", user, &server.url());
    config.presence_timeout = 5;
    login_with(config).await
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Runs `scenario` on both backends.
macro_rules! both {
    ($memory:ident, $redis:ident, $scenario:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $memory() {
            $scenario(Backend::memory()).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $redis() {
            $scenario(Backend::redis()).await;
        }
    };
}

both!(fan_out_reaches_every_node_exactly_once_memory, fan_out_reaches_every_node_exactly_once_redis, fan_out);

async fn fan_out(backend: Backend) {
    let (a, b, c) = (backend.node("a").await, backend.node("b").await, backend.node("c").await);
    let publisher = rtm(&a, "pub").await;
    let mut subs = Vec::new();
    for (i, node) in [&a, &b, &c, &c].into_iter().enumerate() {
        let sub = rtm(node, &format!("sub{i}")).await;
        sub.client.call(|cl, r| cl.subscribe(r, "news", SubscribeOptions::default())).await.unwrap();
        subs.push(sub);
    }
    settle().await;
    for n in 0..30 {
        let text = format!("m{n}");
        publisher
            .client
            .call(|cl, r| cl.publish(r, "news", Payload::Text(text), PublishOptions::default()))
            .await
            .unwrap();
    }
    for sub in &mut subs {
        for n in 0..30 {
            let got = sub.next_message().await;
            assert_eq!(got.payload, Payload::Text(format!("m{n}")), "[{}] in order", backend.name());
            assert_eq!(got.header["publisher"], "pub");
        }
        sub.no_message(Duration::from_millis(100)).await;
    }

    // A user channel finds its user on another node; an absent user is offline everywhere.
    let mut far = rtm(&c, "far").await;
    settle().await;
    let direct = PublishOptions { channel_type: piazza_engine::protocol::ChannelType::User, ..Default::default() };
    publisher.client.call(|cl, r| cl.publish(r, "far", Payload::Text("psst".into()), direct.clone())).await.unwrap();
    let got = far.next_message().await;
    assert_eq!((got.payload, got.header["channelName"].clone()), (Payload::Text("psst".into()), json!("pub")));
    let offline =
        publisher.client.call(|cl, r| cl.publish(r, "nobody", Payload::Text("x".into()), direct)).await.unwrap_err();
    assert_eq!(offline.code, piazza_engine::ErrorCode::ChannelReceiverOffline);

    // Realtime data and stream topics cross nodes too.
    for client in [&publisher, &far] {
        client.ask(json!({"op":"realtimeJoin","scope":"game"})).await.unwrap();
    }
    settle().await;
    let frame = serde_json::from_value(json!({"op":"realtimeSend","scope":"game"})).unwrap();
    let data = Some(Payload::Binary(bytes::Bytes::from_static(b"dx")));
    publisher.client.request(piazza_engine::client::Route::Ignore, frame, data).unwrap();
    assert_eq!(far.next_realtime().await, ("game".to_string(), bytes::Bytes::from_static(b"dx")));

    publisher.ask(json!({"op":"join","channel":"stage"})).await.unwrap();
    publisher.ask(json!({"op":"joinTopic","channel":"stage","topic":"video","meta":"hd"})).await.unwrap();
    // The directory is replicated asynchronously (milliseconds).
    settle().await;
    far.ask(json!({"op":"join","channel":"stage"})).await.unwrap();
    let snapshot = far.next_typed("topic", "SNAPSHOT").await;
    assert_eq!(snapshot["topicInfos"][0]["publishers"][0]["publisherUserId"], "pub", "{snapshot}");
    let subscribed = far.ask(json!({"op":"subscribeTopic","channel":"stage","topic":"video"})).await.unwrap();
    assert_eq!(subscribed["succeedUsers"], json!(["pub"]), "{subscribed}");
    settle().await;
    publisher
        .ask_with(
            json!({"op":"publishTopic","channel":"stage","topic":"video","messageType":"STRING"}),
            Some(Payload::Text("frame".into())),
        )
        .await
        .unwrap();
    let got = far.next_message().await;
    assert_eq!((got.payload, got.header["topicName"].clone()), (Payload::Text("frame".into()), json!("video")));
}

both!(presence_spans_the_cluster_memory, presence_spans_the_cluster_redis, presence);

async fn presence(backend: Backend) {
    let (a, b, c) = (backend.node("a").await, backend.node("b").await, backend.node("c").await);
    let mut watcher = rtm(&a, "watcher").await;
    watcher.ask(json!({"op":"subscribe","channel":"room","withPresence":true})).await.unwrap();
    watcher.next_typed("presence", "SNAPSHOT").await;
    let bob = rtm(&b, "bob").await;
    bob.ask(json!({"op":"setState","channel":"room","channelType":"MESSAGE","states":{"mood":"calm"}})).await.unwrap();
    bob.ask(json!({"op":"subscribe","channel":"room","withPresence":true})).await.unwrap();
    let join = watcher.next_typed("presence", "REMOTE_JOIN").await;
    assert_eq!((join["publisher"].clone(), join["stateChanged"]["mood"].clone()), (json!("bob"), json!("calm")));
    let mut carol = rtm(&c, "carol").await;
    carol.ask(json!({"op":"subscribe","channel":"room","withPresence":true})).await.unwrap();
    let snapshot = carol.next_typed("presence", "SNAPSHOT").await;
    let users: Vec<&str> =
        snapshot["snapshot"].as_array().unwrap().iter().map(|u| u["userId"].as_str().unwrap()).collect();
    assert_eq!(users, ["bob", "carol", "watcher"], "[{}] {snapshot}", backend.name());
    settle().await;

    let who = watcher
        .ask(json!({"op":"whoNow","channel":"room","channelType":"MESSAGE","includedState":true}))
        .await
        .unwrap();
    assert_eq!(who["totalOccupancy"], 3, "{who}");
    assert_eq!(who["occupants"][0]["states"]["mood"], "calm");
    let wherever = watcher.ask(json!({"op":"whereNow","userId":"carol"})).await.unwrap();
    assert_eq!(wherever["channels"], json!([{"channelName":"room","channelType":"MESSAGE"}]), "{wherever}");
    let state =
        carol.ask(json!({"op":"getState","userId":"bob","channel":"room","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!(state["states"]["mood"], "calm");

    bob.ask(json!({"op":"setState","channel":"room","channelType":"MESSAGE","states":{"mood":"happy"}})).await.unwrap();
    let changed = carol.next_typed("presence", "REMOTE_STATE_CHANGED").await;
    assert_eq!(changed["stateChanged"]["mood"], "happy");
    bob.ask(json!({"op":"unsubscribe","channel":"room"})).await.unwrap();
    assert_eq!(watcher.next_typed("presence", "REMOTE_LEAVE").await["publisher"], "bob");
    settle().await;
    let who = carol.ask(json!({"op":"whoNow","channel":"room","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!(who["totalOccupancy"], 2, "{who}");
}

both!(rooms_span_the_cluster_memory, rooms_span_the_cluster_redis, rooms);

async fn trtc(server: &Server, user: &str) -> TestClient {
    let mut config = ClientConfig::new("1400000001", user, &server.url());
    config.kind = SessionKind::Trtc;
    config.presence_timeout = 5;
    login_with(config).await
}

async fn enter(c: &TestClient, room: u64) -> Result<serde_json::Value, piazza_engine::Error> {
    c.ask(json!({"op":"enterRoom","room":room,"role":"anchor","scene":"videoCall"})).await
}

async fn rooms(backend: Backend) {
    let (a, b, c) = (backend.node("a").await, backend.node("b").await, backend.node("c").await);
    let mut ann = trtc(&a, "ann").await;
    let mut ben = trtc(&b, "ben").await;
    assert_eq!(enter(&ann, 7).await.unwrap()["members"], json!([]));
    settle().await;
    assert_eq!(enter(&ben, 7).await.unwrap()["members"], json!(["ann"]), "[{}]", backend.name());
    assert_eq!(ann.next_of("room").await, json!({"event":"remoteEnter","userId":"ben"}));

    // The admin API of node C (which has no member of the room) removes ben from node B.
    settle().await;
    let removed =
        c.remove_users("1400000001", &piazza_engine::protocol::RoomId::Num(7), &["ben".into(), "zed".into()]).unwrap();
    assert_eq!((removed.removed, removed.not_in_room), (vec!["ben".to_string()], vec!["zed".to_string()]));
    let exit = ben.next_of("room").await;
    assert_eq!((exit["event"].clone(), exit["reason"].clone()), (json!("exit"), json!(1)), "{exit}");
    assert_eq!(ann.next_of("room").await, json!({"event":"remoteLeave","userId":"ben","reason":2}));
    // The ban holds on every node.
    settle().await;
    let again = trtc(&a, "ben").await;
    let refused = enter(&again, 7).await.unwrap_err();
    assert!(refused.reason.contains("removed from room"), "{refused:?}");

    // The same user id entering on another node takes the place silently.
    let cid = trtc(&c, "cid").await;
    enter(&cid, 7).await.unwrap();
    assert_eq!(ann.next_of("room").await["userId"], "cid");
    settle().await;
    let cid_again = trtc(&b, "cid").await;
    let entered = enter(&cid_again, 7).await.unwrap();
    assert_eq!(entered["members"], json!(["ann"]));
    ann.none_of("room", Duration::from_millis(300)).await;

    // Dismissed through node A: everyone anywhere gets exit 2.
    settle().await;
    let dismissed = a.dismiss_room("1400000001", &piazza_engine::protocol::RoomId::Num(7)).unwrap();
    assert_eq!(dismissed.members, 2);
    assert_eq!(ann.next_of("room").await["reason"], 2);
    let mut cid_again = cid_again;
    loop {
        let event = cid_again.next_of("room").await;
        if event["event"] == "exit" {
            assert_eq!(event["reason"], 2);
            break;
        }
    }
}

both!(
    same_user_on_another_node_replaces_the_session_memory,
    same_user_on_another_node_replaces_the_session_redis,
    same_user
);

async fn same_user(backend: Backend) {
    let (a, b) = (backend.node("a").await, backend.node("b").await);
    let mut watcher = rtm(&a, "watcher").await;
    watcher.ask(json!({"op":"subscribe","channel":"c","withPresence":true})).await.unwrap();
    let mut first = rtm(&a, "dup").await;
    first.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    watcher.next_typed("presence", "REMOTE_JOIN").await;
    settle().await;
    let second = rtm(&b, "dup").await;
    second.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    let failed = loop {
        let state = first.next_link_state().await;
        if state.current_state == LinkState::Failed {
            break state;
        }
    };
    assert_eq!(failed.reason_code, LinkReason::SameUidLogin, "[{}]", backend.name());
    // The user never left: the watcher hears nothing.
    watcher.none_of("presence", Duration::from_millis(400)).await;
    let who = watcher.ask(json!({"op":"whoNow","channel":"c","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!(who["totalOccupancy"], 2, "{who}");
    // Node a heard of the replacement on its own channel: no session has a channel of its own.
    if let Backend::Redis { url, prefix } = &backend {
        let mut redis = redis::Client::open(url.as_str()).unwrap().get_connection().unwrap();
        let topics: Vec<String> =
            redis::cmd("PUBSUB").arg("CHANNELS").arg(format!("{prefix}*")).query(&mut redis).unwrap();
        assert!(
            topics.iter().any(|t| t.ends_with("n/1:a")) && topics.iter().any(|t| t.ends_with("n/1:b")),
            "{topics:?}"
        );
        assert!(!topics.iter().any(|t| t.contains("u/")), "{topics:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_subscribes_again_quiet_or_not_is_counted_so_on_other_nodes() {
    let backend = Backend::memory();
    let (a, b) = (backend.node("a").await, backend.node("b").await);
    let watcher = rtm(&a, "watcher").await;
    let shy = rtm(&b, "shy").await;
    let counted = || async {
        settle().await;
        let who = watcher.ask(json!({"op":"whoNow","channel":"c","channelType":"MESSAGE"})).await.unwrap();
        who["totalOccupancy"].clone()
    };
    shy.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    assert_eq!(counted().await, 1);
    shy.ask(json!({"op":"subscribe","channel":"c","beQuiet":true})).await.unwrap();
    assert_eq!(counted().await, 0, "quiet now");
    shy.ask(json!({"op":"subscribe","channel":"c","beQuiet":false})).await.unwrap();
    assert_eq!(counted().await, 1, "visible again");
    shy.ask(json!({"op":"subscribe","channel":"c","beQuiet":true})).await.unwrap();
    shy.ask(json!({"op":"unsubscribe","channel":"c"})).await.unwrap();
    assert_eq!(counted().await, 0, "gone");
}

/// The events of `client` until a presence event of `event_type` about `user`.
async fn presence_about(client: &mut TestClient, event_type: &str, user: &str) -> serde_json::Value {
    loop {
        let event = client.next_typed("presence", event_type).await;
        if event["publisher"] == user {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_times_out_its_users_and_its_clients_fail_over_memory() {
    let backend = Backend::memory();
    let Backend::Memory(net) = &backend else { unreachable!() };
    let (a, b) = (backend.node("a").await, backend.node("b").await);
    let (mut watcher, mut roamer, _stayer) = dead_node_setup(&a, &b).await;
    // A crash as the cluster sees it: the node goes silent, then its sockets close.
    net.kill("b");
    b.close().await;
    dead_node_checks(&a, &mut watcher, &mut roamer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_times_out_its_users_and_its_clients_fail_over_redis() {
    let backend = Backend::redis();
    let Backend::Redis { url, prefix } = &backend else { unreachable!() };
    let a = backend.node("a").await;
    // Node B is a process of its own, killed with SIGKILL.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_piazza-server"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--redis", url, "--redis-prefix", prefix])
        .args(["--node-id", "b", "--node-timeout-ms", &NODE_TIMEOUT_MS.to_string(), "--log-level", "error"])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let b_url = format!("ws://127.0.0.1:{port}");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    settle().await;
    let mut watcher = rtm(&a, "watcher").await;
    watcher.ask(json!({"op":"subscribe","channel":"c","withPresence":true})).await.unwrap();
    watcher.next_typed("presence", "SNAPSHOT").await;
    let mut roamer = roaming_client(&b_url, &a.url()).await;
    roamer.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    let mut stayer_config = ClientConfig::new("app", "stayer", &b_url);
    stayer_config.presence_timeout = 5;
    let stayer = login_with(stayer_config).await;
    stayer.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    presence_about(&mut watcher, "REMOTE_JOIN", "roamer").await;
    presence_about(&mut watcher, "REMOTE_JOIN", "stayer").await;
    child.start_kill().unwrap();
    let _ = child.wait().await;
    drop(stayer);
    dead_node_checks(&a, &mut watcher, &mut roamer).await;
}

/// A client that tries `first`, then `second`.
async fn roaming_client(first: &str, second: &str) -> TestClient {
    let mut config = ClientConfig::new("app", "roamer", first);
    config.endpoints = vec![first.to_string(), second.to_string()];
    config.presence_timeout = 5;
    config.reconnect_initial = Duration::from_millis(50);
    config.reconnect_max = Duration::from_millis(200);
    login_with(config).await
}

async fn dead_node_setup(a: &Server, b: &Server) -> (TestClient, TestClient, TestClient) {
    let mut watcher = rtm(a, "watcher").await;
    watcher.ask(json!({"op":"subscribe","channel":"c","withPresence":true})).await.unwrap();
    watcher.next_typed("presence", "SNAPSHOT").await;
    let roamer = roaming_client(&b.url(), &a.url()).await;
    roamer.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    let stayer = rtm(b, "stayer").await;
    stayer.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    presence_about(&mut watcher, "REMOTE_JOIN", "roamer").await;
    presence_about(&mut watcher, "REMOTE_JOIN", "stayer").await;
    (watcher, roamer, stayer)
}

async fn dead_node_checks(a: &Server, watcher: &mut TestClient, roamer: &mut TestClient) {
    let started = std::time::Instant::now();
    // The roamer comes back through node A and restores its subscription.
    loop {
        let state = roamer.next_link_state().await;
        if state.current_state == LinkState::Connected {
            break;
        }
    }
    // The stayer, who did not come back, times out within its presence timeout (5 s).
    let timeout = presence_about(watcher, "REMOTE_TIMEOUT", "stayer").await;
    assert_eq!(timeout["channelName"], "c");
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(8), "{waited:?}");
    // The roamer never left for anyone.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let who = watcher.ask(json!({"op":"whoNow","channel":"c","channelType":"MESSAGE"})).await.unwrap();
    let users: Vec<&str> = who["occupants"].as_array().unwrap().iter().map(|u| u["userId"].as_str().unwrap()).collect();
    assert_eq!(users, ["roamer", "watcher"], "{who}");
    let mut saw_roamer_leave = false;
    while let Ok(event) = tokio::time::timeout(Duration::from_millis(100), watcher.next_of("presence")).await {
        saw_roamer_leave |= event["publisher"] == "roamer";
    }
    assert!(!saw_roamer_leave, "the roamer moved; nobody should hear it leave");
    // And the roamer, now on node A, still talks to the channel.
    roamer
        .client
        .call(|c, r| c.publish(r, "c", Payload::Text("still here".into()), PublishOptions::default()))
        .await
        .unwrap();
    assert_eq!(watcher.next_message().await.payload, Payload::Text("still here".into()));
    assert!(a.stats().users >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_is_survived_and_service_comes_back_by_itself() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut redis = redis_server::spawn(port);
    let backend = Backend::Redis { url: format!("redis://127.0.0.1:{port}"), prefix: "outage".into() };
    let (a, b) = (backend.node("a").await, backend.node("b").await);
    let mut listener = rtm(&a, "listener").await;
    listener.ask(json!({"op":"subscribe","channel":"c","withPresence":true})).await.unwrap();
    listener.next_typed("presence", "SNAPSHOT").await;
    let mut talker = rtm(&b, "talker").await;
    talker.ask(json!({"op":"subscribe","channel":"c","withPresence":false})).await.unwrap();
    talker.ask(json!({"op":"join","channel":"stage"})).await.unwrap();
    settle().await;
    assert_eq!(readyz(&a).await, (200, "up".to_string()));

    redis.kill();
    // Presence listeners hear that presence is out of service; publishing is refused clearly.
    let out = listener.next_typed("presence", "ERROR_OUT_OF_SERVICE").await;
    assert_eq!(out["channelName"], "c");
    let refused = talker
        .client
        .call(|c, r| c.publish(r, "c", Payload::Text("lost?".into()), PublishOptions::default()))
        .await
        .unwrap_err();
    assert_eq!(refused.code, piazza_engine::ErrorCode::ChannelNotAvailable, "{refused:?}");
    assert!(refused.reason.contains("Redis"), "{refused:?}");
    let who = listener.ask(json!({"op":"whoNow","channel":"c","channelType":"MESSAGE"})).await.unwrap_err();
    assert_eq!(who.code, piazza_engine::ErrorCode::PresenceNotConnected);
    assert_eq!(readyz(&b).await, (503, "unreachable".to_string()), "not ready while Redis is away");
    assert_eq!(readyz(&a).await.0, 503);

    // Redis comes back (empty, as after a restart): the nodes store their directories again.
    let _redis = redis_server::spawn(port);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let sent =
            talker.client.call(|c, r| c.publish(r, "c", Payload::Text("back".into()), PublishOptions::default())).await;
        if sent.is_ok() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "service did not come back: {sent:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Deliveries resume once both nodes re-subscribed.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut got = false;
    while !got && std::time::Instant::now() < deadline {
        let _ =
            talker.client.call(|c, r| c.publish(r, "c", Payload::Text("ping".into()), PublishOptions::default())).await;
        while let Ok(event) = tokio::time::timeout(Duration::from_millis(200), listener.next_event()).await {
            if matches!(event, ClientEvent::Message { .. }) {
                got = true;
            }
        }
    }
    assert!(got, "messages flow again across nodes");
    assert_eq!(readyz(&a).await, (200, "up".to_string()), "ready again");
    assert_eq!(readyz(&b).await.0, 200);
    settle().await;
    let who = listener.ask(json!({"op":"whoNow","channel":"c","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!(who["totalOccupancy"], 2, "the directory is whole again: {who}");
    // What node b stored again came from its hub: the talker's session (a user channel finds
    // it from node a) and its message and stream channels (whereNow from node a).
    let where_ = listener.ask(json!({"op":"whereNow","userId":"talker"})).await.unwrap();
    assert_eq!(where_["totalChannel"], 2, "{where_}");
    let direct = PublishOptions { channel_type: piazza_engine::protocol::ChannelType::User, ..Default::default() };
    listener.client.call(|c, r| c.publish(r, "talker", Payload::Text("psst".into()), direct)).await.unwrap();
    // It arrives: node b subscribed its own channel again.
    loop {
        let got = talker.next_message().await;
        if got.payload == Payload::Text("psst".into()) {
            break;
        }
    }
}

/// `GET /readyz`: the status and what it says of Redis.
async fn readyz(server: &Server) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
    tcp.write_all(b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body: serde_json::Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or("")).unwrap();
    (status, body["redis"].as_str().unwrap_or("").to_string())
}

/// The bus contract, checked on both implementations directly.
mod contract {
    use super::*;
    use bytes::Bytes;
    use parking_lot::Mutex;
    use piazza_engine::cluster::bus::BusSink;

    #[derive(Default)]
    struct Recorder {
        messages: Mutex<Vec<(String, Vec<u8>)>>,
        loaded: Mutex<Vec<(String, usize)>>,
        downs: Mutex<Vec<(String, bool)>>,
        up: Mutex<Option<bool>>,
    }

    impl BusSink for Recorder {
        fn message(&self, topic: &str, bytes: &[u8]) {
            self.messages.lock().push((topic.to_string(), bytes.to_vec()));
        }
        fn loaded(&self, node: &str, entries: Vec<(String, Bytes)>) {
            self.loaded.lock().push((node.to_string(), entries.len()));
        }
        fn link(&self, up: bool) {
            *self.up.lock() = Some(up);
        }
        fn node_down(&self, node: &str, claimed: bool) {
            self.downs.lock().push((node.to_string(), claimed));
        }
        fn unlogged(&self, bytes: &[u8]) {
            self.messages.lock().push(("unlogged".to_string(), bytes.to_vec()));
        }
    }

    async fn eventually(what: &str, check: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !check() {
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn buses(backend: &Backend, names: &[&str]) -> Vec<Arc<dyn Bus>> {
        let mut out: Vec<Arc<dyn Bus>> = Vec::new();
        for name in names {
            out.push(match backend {
                Backend::Memory(net) => net.node(name),
                Backend::Redis { url, prefix } => {
                    RedisBus::connect(url, prefix, name, Duration::from_millis(NODE_TIMEOUT_MS)).await.unwrap()
                }
            });
        }
        out
    }

    async fn contract(backend: Backend) {
        let buses = buses(&backend, &["x", "y", "z"]).await;
        let sinks: Vec<Arc<Recorder>> = (0..3).map(|_| Arc::new(Recorder::default())).collect();
        for (bus, sink) in buses.iter().zip(&sinks) {
            let weak: std::sync::Weak<dyn BusSink> = Arc::downgrade(sink) as _;
            bus.start(weak);
        }
        // Node x's sink, by itself (dropping it ends x's heartbeat).
        let x = sinks[0].clone();
        let sinks: Vec<Arc<Recorder>> = sinks
            .into_iter()
            .enumerate()
            .map(|(i, s)| if i == 0 { Arc::new(Recorder::default()) } else { s })
            .collect();
        eventually("the buses to be up", || {
            *x.up.lock() == Some(true) && sinks[1..].iter().all(|s| *s.up.lock() == Some(true))
        })
        .await;
        // Only subscribers get a topic's messages, in order, once each.
        buses[1].subscribe("t1");
        buses[2].subscribe("t1");
        buses[2].subscribe("t2");
        tokio::time::sleep(Duration::from_millis(200)).await;
        for i in 0..20u8 {
            buses[0].publish("t1", Bytes::from(vec![i]));
        }
        buses[0].publish("t2", Bytes::from_static(b"only z"));
        eventually("deliveries", || sinks[1].messages.lock().len() == 20 && sinks[2].messages.lock().len() == 21).await;
        let got: Vec<u8> = sinks[1]
            .messages
            .lock()
            .iter()
            .map(|(t, b)| {
                assert_eq!(t, "t1");
                b[0]
            })
            .collect();
        assert_eq!(got, (0..20).collect::<Vec<u8>>());
        assert!(x.messages.lock().is_empty(), "no subscription, no message");
        buses[2].unsubscribe("t2");
        tokio::time::sleep(Duration::from_millis(200)).await;
        buses[0].publish("t2", Bytes::from_static(b"nobody"));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(sinks[2].messages.lock().len(), 21);

        // A log: consecutive offsets (starting above any earlier life of the log), published with
        // them to subscribers in order, read back after any offset.
        let keep = LogKeep { messages: 5, seconds: 60 };
        buses[1].subscribe("t3");
        assert!(tokio::time::timeout(Duration::from_secs(2), buses[1].subscribed("t3")).await.is_ok(), "confirmed");
        for i in 0..8u8 {
            buses[0].log("t3", Bytes::from(vec![i]), keep);
        }
        let t3 =
            || sinks[1].messages.lock().iter().filter(|(t, _)| t == "t3").map(|(_, b)| b.clone()).collect::<Vec<_>>();
        eventually("logged deliveries", || t3().len() == 8).await;
        let delivered: Vec<(u64, u8)> = t3()
            .iter()
            .map(|m| {
                let (offset, bytes) = parse_logged(m).expect("a logged message");
                (offset, bytes[0])
            })
            .collect();
        let first = delivered[0].0;
        assert!(first > 1_000_000, "a new log starts from the clock: {first}");
        assert_eq!(delivered, (0..8u8).map(|i| (first + u64::from(i), i)).collect::<Vec<_>>());
        let read = buses[2].read_log("t3", first + 4, keep).await.unwrap();
        assert_eq!(read.last, first + 7);
        assert_eq!(
            read.entries.iter().map(|(o, b)| (*o, b[0])).collect::<Vec<_>>(),
            [(first + 5, 5), (first + 6, 6), (first + 7, 7)]
        );
        let all = buses[2].read_log("t3", 0, keep).await.unwrap();
        assert!(all.entries.len() >= 5 && all.entries.len() < 8, "kept about 5: {}", all.entries.len());
        assert_eq!(all.entries.last().unwrap().0, first + 7);
        assert_eq!(buses[2].read_log("t3", first + 7, keep).await.unwrap().entries, []);
        assert_eq!(buses[2].read_log("never", 3, keep).await.unwrap(), LogRead::default());

        // Stored entries are loaded by the others.
        buses[0].store("k1", Some(Bytes::from_static(b"v1")));
        buses[0].store("k2", Some(Bytes::from_static(b"v2")));
        buses[0].store("k2", None);
        tokio::time::sleep(Duration::from_millis(200)).await;
        buses[1].reload(Some("x"));
        eventually("a reload", || sinks[1].loaded.lock().contains(&("x".to_string(), 1))).await;

        // A silent node is reported down to each survivor, with exactly one claimer.
        match &backend {
            Backend::Memory(net) => net.kill("x"),
            // Without its node, a Redis bus stops heartbeating: a crash as the others see it.
            Backend::Redis { .. } => drop(x),
        }
        eventually("the death of x", || sinks[1].downs.lock().len() + sinks[2].downs.lock().len() == 2).await;
        let claims =
            sinks[1..].iter().flat_map(|s| s.downs.lock().clone()).filter(|(n, claimed)| n == "x" && *claimed).count();
        assert_eq!(claims, 1, "[{}] one claimer", backend.name());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_memory_bus_keeps_the_contract() {
        contract(Backend::memory()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_redis_bus_keeps_the_contract() {
        contract(Backend::redis()).await;
    }
}

both!(interval_mode_counts_the_whole_cluster_memory, interval_mode_counts_the_whole_cluster_redis, interval_mode);

async fn interval_mode(backend: Backend) {
    let crowded = |c: &mut ServerConfig| {
        c.presence.interval_threshold = 3;
        c.presence.interval_seconds = 0.3;
    };
    let a = backend.node_with("a", crowded).await;
    let b = backend.node_with("b", crowded).await;
    let mut watcher = rtm(&a, "watcher").await;
    watcher.ask(json!({"op":"subscribe","channel":"crowd","withPresence":true})).await.unwrap();
    let mut others = Vec::new();
    for (i, node) in [&a, &b, &b, &a, &b].into_iter().enumerate() {
        let user = rtm(node, &format!("u{i}")).await;
        user.ask(json!({"op":"subscribe","channel":"crowd","withPresence":false})).await.unwrap();
        others.push(user);
        settle().await;
    }
    // Past three visible users (counted across both nodes) the joins come folded into
    // INTERVAL events; the last one counts everyone.
    let mut joined = std::collections::BTreeSet::new();
    let last = loop {
        let interval = watcher.next_typed("presence", "INTERVAL").await;
        for user in interval["interval"]["join"]["users"].as_array().unwrap() {
            joined.insert(user.as_str().unwrap().to_string());
        }
        if ["u2", "u3", "u4"].iter().all(|u| joined.contains(*u)) {
            break interval;
        }
    };
    assert_eq!(last["interval"]["totalOccupancy"], 6, "[{}] {last}", backend.name());
    assert!(!joined.contains("u0") && !joined.contains("u1"), "the first joins came one by one: {joined:?}");
    let who = watcher.ask(json!({"op":"whoNow","channel":"crowd","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!(who["totalOccupancy"], 6);
}

both!(
    a_capped_snapshot_lists_the_first_users_of_the_cluster_memory,
    a_capped_snapshot_lists_the_first_users_of_the_cluster_redis,
    capped_snapshot
);

async fn capped_snapshot(backend: Backend) {
    let capped = |c: &mut ServerConfig| c.presence.snapshot_max_users = 2;
    let a = backend.node_with("a", capped).await;
    let b = backend.node_with("b", capped).await;
    let mut members = Vec::new();
    for (user, node) in [("dan", &a), ("cat", &b), ("bob", &a), ("amy", &b)] {
        let member = rtm(node, user).await;
        member.ask(json!({"op":"subscribe","channel":"crowd","withPresence":false})).await.unwrap();
        members.push(member);
    }
    settle().await;
    // The first two by user id, whichever node holds them; the count is everyone's.
    let mut zed = rtm(&a, "zed").await;
    zed.ask(json!({"op":"subscribe","channel":"crowd","withPresence":true})).await.unwrap();
    let snapshot = zed.next_typed("presence", "SNAPSHOT").await;
    let users: Vec<&str> =
        snapshot["snapshot"].as_array().unwrap().iter().map(|u| u["userId"].as_str().unwrap()).collect();
    assert_eq!(users, ["amy", "bob"], "[{}] {snapshot}", backend.name());
    assert_eq!(snapshot["interval"]["totalOccupancy"], 5, "[{}] {snapshot}", backend.name());
}
