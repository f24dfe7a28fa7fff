//! Storage, locks and history over the wire (docs/PROTOCOL.md#storage-locks-and-history): the
//! events subscribers get, lock expiry of a holder whose connection is cut (through the TCP
//! proxy), a restart on the same data directory, and two cluster nodes racing on one Redis.

mod common;
#[path = "common/redis.rs"]
#[allow(dead_code)]
mod redis_server;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::*;
use piazza_engine::client::{ClientConfig, LinkState, Payload, PublishOptions};
use piazza_engine::config::Secret;
use piazza_engine::ErrorCode;
use serde_json::{json, Value};

fn set_meta(channel: &str, items: Value, options: Value) -> Value {
    json!({"op":"setMetadata","channelType":"MESSAGE","channel":channel,"items":items,"options":options})
}

fn lock(op: &str, channel: &str, name: &str) -> Value {
    json!({"op":op,"channelType":"MESSAGE","channel":channel,"lockName":name})
}

/// `acquireLock { retry: true }`, answered when the lock is acquired.
fn retry_acquire(
    c: &TestClient,
    channel: &str,
    name: &str,
) -> tokio::task::JoinHandle<Result<(), piazza_engine::Error>> {
    let frame: piazza_engine::protocol::ClientFrame = serde_json::from_value(
        json!({"op":"acquireLock","id":0,"channelType":"MESSAGE","channel":channel,"lockName":name,"retry":true}),
    )
    .unwrap();
    let client = c.client.clone();
    tokio::spawn(async move { client.call(|c, r| c.request(r, frame, None)).await.map(drop) })
}

async fn set_major(c: &TestClient, value: &str, major: i64) -> Result<Value, piazza_engine::Error> {
    c.ask(set_meta("race", json!([{"key":"k","value":value}]), json!({ "majorRevision": major }))).await
}

#[tokio::test]
async fn subscribers_get_a_snapshot_then_every_change_with_the_whole_metadata() {
    let server = server().await;
    let alice = login(&server, "alice").await;
    alice.ask(set_meta("board", json!([{"key":"topic","value":"hello"}]), json!({}))).await.unwrap();
    let mut bob = login(&server, "bob").await;
    bob.ask(json!({"op":"subscribe","channel":"board","withMetadata":true,"withLock":true})).await.unwrap();
    let snapshot = bob.next_typed("storage", "SNAPSHOT").await;
    assert_eq!(snapshot["data"]["metadata"]["topic"]["value"], "hello");
    assert_eq!((snapshot["storageType"].as_str(), snapshot["channelName"].as_str()), (Some("CHANNEL"), Some("board")));
    assert_eq!(bob.next_typed("lock", "SNAPSHOT").await["snapshot"], json!([]));

    let answer = alice
        .ask(set_meta("board", json!([{"key":"pen","value":"red"}]), json!({"addUserId":true,"addTimeStamp":true})))
        .await
        .unwrap();
    assert_eq!((answer["channelName"].as_str(), answer["totalCount"].as_u64()), (Some("board"), Some(2)));
    let set = bob.next_typed("storage", "SET").await;
    assert_eq!(set["publisher"], "alice");
    assert_eq!(set["data"]["totalCount"], 2);
    assert_eq!(set["data"]["metadata"]["pen"]["authorUid"], "alice");
    assert!(set["data"]["metadata"]["pen"]["updated"].as_u64().unwrap() > 0);

    // A stale majorRevision changes nothing and tells nobody.
    let stale = alice.ask(set_meta("board", json!([{"key":"pen","value":"blue"}]), json!({"majorRevision":1}))).await;
    assert_eq!(stale.unwrap_err().code, ErrorCode::StorageOutdatedRevision);
    let got = alice.ask(json!({"op":"getMetadata","channelType":"MESSAGE","channel":"board"})).await.unwrap();
    assert_eq!((got["majorRevision"].as_i64(), got["metadata"]["pen"]["value"].as_str()), (Some(2), Some("red")));

    // Locks: SET, ACQUIRED, RELEASED to withLock subscribers.
    alice
        .ask(json!({"op":"setLock","channelType":"MESSAGE","channel":"board","lockName":"pen","ttl":10}))
        .await
        .unwrap();
    assert_eq!(bob.next_typed("lock", "SET").await["lockName"], "pen");
    alice.ask(lock("acquireLock", "board", "pen")).await.unwrap();
    let acquired = bob.next_typed("lock", "ACQUIRED").await;
    assert_eq!((acquired["owner"].as_str(), acquired["ttl"].as_u64()), (Some("alice"), Some(10)));
    let busy = bob.ask(lock("acquireLock", "board", "pen")).await.unwrap_err();
    assert_eq!(busy.code, ErrorCode::LockAcquireFailed);
    // Only the holder writes under the lock.
    let guarded = json!({"lockName":"pen"});
    let refused = bob.ask(set_meta("board", json!([{"key":"x","value":"1"}]), guarded.clone())).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::StorageLockNotAcquired);
    alice.ask(set_meta("board", json!([{"key":"x","value":"1"}]), guarded)).await.unwrap();
    // A waiter with retry gets it when the holder releases.
    let waiter = retry_acquire(&bob, "board", "pen");
    tokio::time::sleep(Duration::from_millis(100)).await;
    alice.ask(lock("releaseLock", "board", "pen")).await.unwrap();
    waiter.await.unwrap().expect("the waiter acquires the lock");
    let locks = alice.ask(json!({"op":"getLock","channelType":"MESSAGE","channel":"board"})).await.unwrap();
    assert_eq!(locks["lockDetails"], json!([{"lockName":"pen","owner":"bob","ttl":10}]));
    // Fields that do not belong to an op are refused.
    let stray = json!({"op":"releaseLock","channelType":"MESSAGE","channel":"board","lockName":"pen","ttl":10});
    assert_eq!(bob.ask(stray).await.unwrap_err().code, ErrorCode::InvalidParameter);
    // Logout releases at once.
    bob.logout().await;
    let mut carol = login(&server, "carol").await;
    carol.ask(json!({"op":"subscribe","channel":"board","withLock":true})).await.unwrap();
    let snapshot = carol.next_typed("lock", "SNAPSHOT").await;
    assert_eq!(snapshot["snapshot"], json!([{"lockName":"pen","owner":"","ttl":10}]), "released at logout");
}

#[tokio::test]
async fn user_metadata_subscribers_get_a_snapshot_and_changes() {
    let server = server().await;
    let alice = login(&server, "alice").await;
    let mut bob = login(&server, "bob").await;
    let answer = bob.ask(json!({"op":"subscribeUserMetadata","userId":"alice"})).await.unwrap();
    assert_eq!(answer["userId"], "alice");
    let snapshot = bob.next_typed("storage", "SNAPSHOT").await;
    assert_eq!((snapshot["channelType"].as_str(), snapshot["storageType"].as_str()), (Some("USER"), Some("USER")));
    alice.ask(json!({"op":"setMetadata","userId":"alice","items":[{"key":"mood","value":"happy"}]})).await.unwrap();
    let set = bob.next_typed("storage", "SET").await;
    assert_eq!(
        (set["channelName"].as_str(), set["data"]["metadata"]["mood"]["value"].as_str()),
        (Some("alice"), Some("happy"))
    );
    bob.ask(json!({"op":"unsubscribeUserMetadata","userId":"alice"})).await.unwrap();
    let again = bob.ask(json!({"op":"unsubscribeUserMetadata","userId":"alice"})).await.unwrap_err();
    assert_eq!(again.code, ErrorCode::StorageNotSubscribe);
    alice.ask(json!({"op":"removeMetadata","userId":"alice"})).await.unwrap();
    bob.none_of("storage", Duration::from_millis(200)).await;
    let both = json!({"op":"getMetadata","userId":"alice","channelType":"MESSAGE","channel":"x"});
    assert_eq!(alice.ask(both).await.unwrap_err().code, ErrorCode::InvalidParameter);
}

#[tokio::test]
async fn history_keeps_what_was_asked_in_its_type_and_user_history_only_for_its_receiver() {
    let server = server().await;
    let alice = login(&server, "alice").await;
    let bob = login(&server, "bob").await;
    let keep = PublishOptions { store_in_history: true, ..Default::default() };
    let publish = |payload: Payload, options: PublishOptions| {
        alice.client.call(move |c, r| c.publish(r, "news", payload, options))
    };
    publish(Payload::Text("one".into()), keep.clone()).await.unwrap();
    publish(Payload::Text("not kept".into()), PublishOptions::default()).await.unwrap();
    publish(Payload::Binary(bytes::Bytes::from_static(&[1, 2, 255])), keep.clone()).await.unwrap();
    let page = bob.ask(json!({"op":"getMessages","channelType":"MESSAGE","channel":"news"})).await.unwrap();
    let list = page["messageList"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{page}");
    assert_eq!((list[0]["messageType"].as_str(), list[0]["message"].as_str()), (Some("BINARY"), Some("AQL/")));
    assert_eq!((list[1]["message"].as_str(), list[1]["publisher"].as_str()), (Some("one"), Some("alice")));
    assert_eq!(page["newStart"], 0);

    let direct = PublishOptions {
        channel_type: piazza_engine::protocol::ChannelType::User,
        store_in_history: true,
        ..Default::default()
    };
    alice.client.call(move |c, r| c.publish(r, "bob", Payload::Text("hi bob".into()), direct)).await.unwrap();
    let inbox = bob.ask(json!({"op":"getMessages","channelType":"USER","channel":"bob"})).await.unwrap();
    assert_eq!(inbox["messageList"][0]["message"], "hi bob");
    let peek = alice.ask(json!({"op":"getMessages","channelType":"USER","channel":"bob"})).await.unwrap_err();
    assert_eq!(peek.code, ErrorCode::HistoryPermissionDenied);
}

/// A client through `proxy` that comes back quickly; its session times out (5 s) before a
/// lock's ttl (10 s) is over, so the expiry must outlive the session.
async fn through(proxy: &Proxy, user: &str) -> TestClient {
    let mut config = ClientConfig::new("app", user, &proxy.url());
    config.presence_timeout = 5;
    config.pong_timeout = Duration::from_millis(500);
    config.reconnect_initial = Duration::from_millis(50);
    config.reconnect_max = Duration::from_millis(200);
    login_with(config).await
}

#[tokio::test]
async fn a_cut_holder_keeps_its_lock_for_the_ttl_then_it_expires_to_the_next_waiter() {
    let server = server().await;
    let proxy = Proxy::start(server.local_addr()).await;
    let holder = through(&proxy, "holder").await;
    holder.ask(json!({"op":"setLock","channelType":"MESSAGE","channel":"c","lockName":"l","ttl":10})).await.unwrap();
    holder.ask(lock("acquireLock", "c", "l")).await.unwrap();
    let mut watcher = login(&server, "watcher").await;
    watcher.ask(json!({"op":"subscribe","channel":"c","withLock":true})).await.unwrap();
    watcher.next_typed("lock", "SNAPSHOT").await;
    proxy.refuse(true);
    proxy.cut();
    let cut = Instant::now();
    let waiter = retry_acquire(&watcher, "c", "l");
    let expired = watcher.next_typed("lock", "EXPIRED").await;
    let after = cut.elapsed();
    assert!(after >= Duration::from_millis(9500) && after < Duration::from_secs(12), "expired after {after:?}");
    assert_eq!((expired["lockName"].as_str(), expired["owner"].as_str()), (Some("l"), Some("")));
    waiter.await.unwrap().expect("the waiter gets the expired lock");
    assert_eq!(watcher.next_typed("lock", "ACQUIRED").await["owner"], "watcher");
}

#[tokio::test]
async fn a_holder_that_resumes_within_the_ttl_keeps_its_lock() {
    let server = server().await;
    let proxy = Proxy::start(server.local_addr()).await;
    let mut holder = through(&proxy, "holder").await;
    holder.ask(json!({"op":"setLock","channelType":"MESSAGE","channel":"c","lockName":"l","ttl":10})).await.unwrap();
    holder.ask(lock("acquireLock", "c", "l")).await.unwrap();
    proxy.cut();
    while holder.next_link_state().await.current_state != LinkState::Disconnected {}
    loop {
        let event = holder.next_link_state().await;
        if event.current_state == LinkState::Connected {
            assert!(event.is_resumed, "the session resumed");
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(11)).await;
    let locks = holder.ask(json!({"op":"getLock","channelType":"MESSAGE","channel":"c"})).await.unwrap();
    assert_eq!(locks["lockDetails"][0]["owner"], "holder", "kept past the ttl");
}

static NEXT: AtomicU32 = AtomicU32::new(1);

/// A fresh data directory for one test (removed first if a run left it): its path, as the
/// path and as the string the config takes.
fn data_dir(name: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!(
        "piazza-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.to_string_lossy().to_string();
    (dir, path)
}

/// A server on the file store in `path`, without the per-channel publish rate, whose history
/// pages may hold 500 messages.
async fn busy_file_server(path: &str) -> piazza_engine::server::Server {
    let path = path.to_string();
    server_with(|c| {
        c.storage.path = Some(path);
        c.storage.max_history_page = 500;
        c.limits.publish_rate_per_channel = 0;
    })
    .await
}

#[tokio::test]
async fn a_restarted_server_on_the_same_data_dir_has_its_metadata_history_and_free_locks() {
    let (dir, path) = data_dir("restart");
    let first = server_with(|c| c.storage.path = Some(path.clone())).await;
    let alice = login(&first, "alice").await;
    alice.ask(set_meta("c", json!([{"key":"k","value":"v"}]), json!({}))).await.unwrap();
    let keep = PublishOptions { store_in_history: true, ..Default::default() };
    alice.client.call(move |c, r| c.publish(r, "c", Payload::Text("kept".into()), keep)).await.unwrap();
    alice.ask(json!({"op":"setLock","channelType":"MESSAGE","channel":"c","lockName":"l","ttl":30})).await.unwrap();
    alice.ask(lock("acquireLock", "c", "l")).await.unwrap();
    drop(alice);
    first.close().await;

    let second = server_with(|c| c.storage.path = Some(path.clone())).await;
    let bob = login(&second, "bob").await;
    let meta = bob.ask(json!({"op":"getMetadata","channelType":"MESSAGE","channel":"c"})).await.unwrap();
    assert_eq!(meta["metadata"]["k"]["value"], "v");
    let page = bob.ask(json!({"op":"getMessages","channelType":"MESSAGE","channel":"c"})).await.unwrap();
    assert_eq!(page["messageList"][0]["message"], "kept");
    let locks = bob.ask(json!({"op":"getLock","channelType":"MESSAGE","channel":"c"})).await.unwrap();
    assert_eq!(locks["lockDetails"], json!([{"lockName":"l","owner":"","ttl":30}]), "defined, not held");
    second.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Hundreds of `storeInHistory` publishes in flight at once on the file store (no more than a
/// session may queue; its storage task hands what is queued to the store together): every one
/// answered, every one kept in the order sent, and a metadata write sent between them answered
/// too.
#[tokio::test]
async fn pipelined_history_publishes_are_all_kept_in_order_on_the_file_store() {
    use futures_util::future::{join_all, BoxFuture};
    let (dir, path) = data_dir("pipelined");
    let server = busy_file_server(&path).await;
    let alice = login(&server, "alice").await;
    let keep = PublishOptions { store_in_history: true, ..Default::default() };
    // The order answers arrive in (each call notes its place in the sending order).
    let answered = std::sync::Mutex::new(Vec::new());
    let answered = &answered;
    let mut calls: Vec<BoxFuture<'_, Result<(), piazza_engine::Error>>> = Vec::new();
    let alice = &alice;
    for i in 0..250 {
        let keep = keep.clone();
        let text = Payload::Text(format!("m{i}"));
        let place = calls.len();
        calls.push(Box::pin(async move {
            let answer = alice.client.call(move |c, r| c.publish(r, "pipe", text, keep)).await.map(drop);
            answered.lock().unwrap().push(place);
            answer
        }));
        if i == 124 {
            let place = calls.len();
            calls.push(Box::pin(async move {
                let answer = alice.ask(set_meta("pipe", json!([{"key":"half","value":"v"}]), json!({}))).await;
                answered.lock().unwrap().push(place);
                answer.map(drop)
            }));
        }
    }
    let answers = join_all(calls).await;
    assert!(answers.iter().all(|a| a.is_ok()), "{:?}", answers.iter().find(|a| a.is_err()));
    let order = answered.lock().unwrap().clone();
    assert_eq!(order, (0..251).collect::<Vec<_>>(), "answered in the order sent, the metadata write in its place");
    let page = alice.ask(json!({"op":"getMessages","channelType":"MESSAGE","channel":"pipe","messageCount":500})).await;
    let page = page.unwrap();
    let kept: Vec<&str> =
        page["messageList"].as_array().unwrap().iter().map(|m| m["message"].as_str().unwrap()).collect();
    let sent: Vec<String> = (0..250).rev().map(|i| format!("m{i}")).collect();
    assert_eq!(kept, sent, "all kept, newest first, in the order they were sent");
    let meta = alice.ask(json!({"op":"getMetadata","channelType":"MESSAGE","channel":"pipe"})).await.unwrap();
    assert_eq!(meta["metadata"]["half"]["value"], "v");
    server.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// `storeInHistory` publishes sent right before a logout: their messages were delivered, so
/// they are kept even though the session ends while they are in the store's hands (the file
/// store: its answers take a disk sync).
#[tokio::test]
async fn history_publishes_sent_just_before_a_logout_are_all_kept() {
    let (dir, path) = data_dir("logout");
    let server = busy_file_server(&path).await;
    let alice = login(&server, "alice").await;
    let keep = PublishOptions { store_in_history: true, ..Default::default() };
    for i in 0..200 {
        let (tx, _answer) = tokio::sync::oneshot::channel();
        let text = Payload::Text(format!("m{i}"));
        alice.client.publish(piazza_engine::client::Route::Oneshot(tx), "bye", text, keep.clone()).unwrap();
    }
    alice.logout().await;
    drop(alice);
    let bob = login(&server, "bob").await;
    let ask = json!({"op":"getMessages","channelType":"MESSAGE","channel":"bye","messageCount":500});
    let deadline = Instant::now() + Duration::from_secs(5);
    let count = loop {
        let page = bob.ask(ask.clone()).await.unwrap();
        let count = page["messageList"].as_array().unwrap().len();
        if count == 200 || Instant::now() > deadline {
            break count;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(count, 200, "every message delivered before the logout is in history");
    server.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn two_nodes_racing_on_one_redis_have_exactly_one_winner() {
    let prefix = format!("storagerace{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let url = redis_server::url();
    let node = |id: &'static str| {
        let (url, prefix) = (url.clone(), prefix.clone());
        server_with(move |c| {
            c.redis_url = Some(Secret::new(url));
            c.cluster.prefix = prefix;
            c.cluster.node_id = Some(id.into());
        })
    };
    let (a, b) = (node("a").await, node("b").await);
    let alice = login(&a, "alice").await;
    let bob = login(&b, "bob").await;
    alice.ask(set_meta("race", json!([{"key":"k","value":"0"}]), json!({}))).await.unwrap();
    for round in 0..5 {
        let major = round + 1;
        let (x, y) = tokio::join!(set_major(&alice, "a", major), set_major(&bob, "b", major));
        assert_eq!([&x, &y].iter().filter(|r| r.is_ok()).count(), 1, "round {round}: {x:?} {y:?}");
        let loser = if x.is_err() { x } else { y };
        assert_eq!(loser.unwrap_err().code, ErrorCode::StorageOutdatedRevision);
    }
    alice.ask(json!({"op":"setLock","channelType":"MESSAGE","channel":"race","lockName":"l","ttl":10})).await.unwrap();
    let (x, y) = tokio::join!(alice.ask(lock("acquireLock", "race", "l")), bob.ask(lock("acquireLock", "race", "l")));
    assert_eq!([&x, &y].iter().filter(|r| r.is_ok()).count(), 1, "{x:?} {y:?}");
    let winner = if x.is_ok() { "alice" } else { "bob" };
    let locks = bob.ask(json!({"op":"getLock","channelType":"MESSAGE","channel":"race"})).await.unwrap();
    assert_eq!(locks["lockDetails"][0]["owner"], winner);
    // Events cross nodes: a subscriber on b hears a change made on a.
    let mut carol = login(&b, "carol").await;
    carol.ask(json!({"op":"subscribe","channel":"race","withMetadata":true})).await.unwrap();
    carol.next_typed("storage", "SNAPSHOT").await;
    alice.ask(set_meta("race", json!([{"key":"k2","value":"x"}]), json!({}))).await.unwrap();
    assert_eq!(carol.next_typed("storage", "SET").await["publisher"], "alice");
}

#[tokio::test]
async fn a_server_process_killed_and_started_again_on_its_data_dir_has_everything_it_answered() {
    let (dir, data_dir) = data_dir("kill");
    let mut first = Standalone::start(&["--data-dir", &data_dir], &[]).await;
    let alice = login_with(ClientConfig::new("app", "alice", &first.url)).await;
    for i in 0..20 {
        alice.ask(set_meta("c", json!([{"key":format!("k{i}"),"value":"v"}]), json!({}))).await.unwrap();
    }
    let keep = PublishOptions { store_in_history: true, ..Default::default() };
    alice.client.call(move |c, r| c.publish(r, "c", Payload::Text("kept".into()), keep)).await.unwrap();
    alice.ask(json!({"op":"setLock","channelType":"MESSAGE","channel":"c","lockName":"l","ttl":60})).await.unwrap();
    alice.ask(lock("acquireLock", "c", "l")).await.unwrap();
    // SIGKILL: no shutdown, no flush — what was answered must already be on disk.
    first.child.kill().await.unwrap();
    drop(alice);

    let second = Standalone::start(&["--data-dir", &data_dir], &[]).await;
    let bob = login_with(ClientConfig::new("app", "bob", &second.url)).await;
    let meta = bob.ask(json!({"op":"getMetadata","channelType":"MESSAGE","channel":"c"})).await.unwrap();
    assert_eq!((meta["totalCount"].as_u64(), meta["majorRevision"].as_i64()), (Some(20), Some(20)));
    let page = bob.ask(json!({"op":"getMessages","channelType":"MESSAGE","channel":"c"})).await.unwrap();
    assert_eq!(page["messageList"][0]["message"], "kept");
    let locks = bob.ask(json!({"op":"getLock","channelType":"MESSAGE","channel":"c"})).await.unwrap();
    assert_eq!(locks["lockDetails"], json!([{"lockName":"l","owner":"","ttl":60}]), "defined, not held");
    assert!(second.logs().contains("locks held before the restart were freed"), "{}", second.logs());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_waiting_acquire_outlasts_the_request_timeout_and_pages_default_to_the_server_limit() {
    let server = server_with(|c| c.storage.max_history_page = 2).await;
    let holder = login(&server, "holder").await;
    holder.ask(json!({"op":"setLock","channelType":"MESSAGE","channel":"c","lockName":"l"})).await.unwrap();
    holder.ask(lock("acquireLock", "c", "l")).await.unwrap();
    let mut config = ClientConfig::new("app", "patient", &server.url());
    config.request_timeout = Duration::from_millis(300);
    let patient = login_with(config).await;
    let waiter = retry_acquire(&patient, "c", "l");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    holder.ask(lock("releaseLock", "c", "l")).await.unwrap();
    waiter.await.unwrap().expect("a waiting acquire is not cut by the request timeout");

    let keep = PublishOptions { store_in_history: true, ..Default::default() };
    for text in ["a", "b", "c"] {
        let options = keep.clone();
        holder.client.call(move |c, r| c.publish(r, "c", Payload::Text(text.into()), options)).await.unwrap();
        // One millisecond each: a page never splits a millisecond.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let page = holder.ask(json!({"op":"getMessages","channelType":"MESSAGE","channel":"c"})).await.unwrap();
    assert_eq!(page["count"], 2, "no messageCount: the server's maxHistoryPage (2), not 100: {page}");
}

#[tokio::test]
async fn storage_options_that_cannot_work_are_refused_at_start() {
    let mut both = piazza_engine::config::ServerConfig::default();
    both.storage.path = Some("/tmp/x".into());
    both.redis_url = Some(Secret::new("redis://127.0.0.1:6379".to_string()));
    let err = piazza_engine::server::Server::start(both).await.err().expect("refused");
    assert!(err.reason.contains("cluster mode"), "{err}");
    let mut zero = piazza_engine::config::ServerConfig::default();
    zero.storage.max_history_page = 0;
    let err = piazza_engine::server::Server::start(zero).await.err().expect("refused");
    assert!(err.reason.contains("storage.maxHistoryPage"), "{err}");
}

#[tokio::test]
async fn a_lock_acquired_as_its_session_logs_out_is_released_not_leaked() {
    use futures_util::SinkExt;
    let server = server().await;
    let mut ws = raw_session(&server, "quitter").await;
    let frame = |v: Value| tokio_tungstenite::tungstenite::Message::Text(v.to_string().into());
    ws.send(frame(json!({"op":"setLock","id":1,"channelType":"MESSAGE","channel":"c","lockName":"l"}))).await.unwrap();
    assert_eq!(next_json(&mut ws).await["t"], "ok");
    // The acquire and the logout leave back to back: the logout overtakes the storage queue.
    ws.feed(frame(json!({"op":"acquireLock","id":2,"channelType":"MESSAGE","channel":"c","lockName":"l"})))
        .await
        .unwrap();
    ws.feed(frame(json!({"op":"logout","id":3}))).await.unwrap();
    ws.flush().await.unwrap();
    let other = login(&server, "other").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let locks = other.ask(json!({"op":"getLock","channelType":"MESSAGE","channel":"c"})).await.unwrap();
    assert_eq!(locks["lockDetails"][0]["owner"], "", "nobody holds it after the logout");
}

#[tokio::test]
async fn closing_a_server_releases_the_locks_its_sessions_hold() {
    let dir = std::env::temp_dir().join(format!(
        "piazza-close-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.to_string_lossy().to_string();
    let server = server_with(|c| c.storage.path = Some(path.clone())).await;
    let holder = login(&server, "holder").await;
    holder.ask(json!({"op":"setLock","channelType":"MESSAGE","channel":"c","lockName":"l"})).await.unwrap();
    holder.ask(lock("acquireLock", "c", "l")).await.unwrap();
    server.close().await;
    // Read the file directly (a restart would free every lock anyway).
    let store = std::sync::Arc::new(piazza_engine::store::SqliteStore::open(&dir).unwrap());
    let storage = piazza_engine::store::Storage::new(store, Default::default());
    let locks = storage.locks("app", piazza_engine::protocol::ChannelType::Message, "c").await.unwrap();
    assert_eq!(locks[0].owner, "", "released by the shutdown");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn metadata_and_history_pages_stay_within_their_byte_budgets() {
    let server = server_with(|c| {
        c.storage.max_metadata_bytes = 2000;
        c.storage.history_page_bytes = 3000;
        c.limits.publish_rate_per_channel = 0;
    })
    .await;
    let alice = login(&server, "alice").await;
    let big = "v".repeat(1500);
    alice.ask(set_meta("c", json!([{"key":"a","value":big}]), json!({}))).await.unwrap();
    let over = alice.ask(set_meta("c", json!([{"key":"b","value":big}]), json!({}))).await.unwrap_err();
    assert_eq!(over.code, ErrorCode::StorageMetadataLengthOverflow);
    let keep = PublishOptions { store_in_history: true, ..Default::default() };
    for _ in 0..6 {
        let options = keep.clone();
        let payload = Payload::Text("m".repeat(1000));
        alice.client.call(move |c, r| c.publish(r, "c", payload, options)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let page =
        alice.ask(json!({"op":"getMessages","channelType":"MESSAGE","channel":"c","messageCount":10})).await.unwrap();
    let n = page["messageList"].as_array().unwrap().len();
    assert!((1..6).contains(&n), "a page of 6 × 1000 bytes is cut under 3000 bytes: {n}");
    assert!(page["newStart"].as_u64().unwrap() > 0, "and says where the next page starts");
}
