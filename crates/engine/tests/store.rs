//! The `Store` contract (SPEC §4.6), run identically on the three stores: in memory, SQLite
//! (a database file, also reopened to prove it survives) and Redis (the one on 6379 if it
//! answers, else a private `redis-server`; a fresh key prefix per test). Two parts: the
//! primitives a backend implements, and the semantics `Storage` builds on them — including the
//! races that must have exactly one winner.

#[path = "common/redis.rs"]
#[allow(dead_code)]
mod redis_server;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use piazza_engine::config::StorageConfig;
use piazza_engine::protocol::{ChannelType, MessageType};
use piazza_engine::store::{
    HistoryEntry, HistoryKey, HistoryMessage, HistoryQuery, LockEventType, LockOp, MemoryStore, MetaItem, MetaMode,
    MetaOptions, MetaTarget, RedisStore, Retention, SqliteStore, Storage, Store,
};
use piazza_engine::ErrorCode;

static NEXT: AtomicU32 = AtomicU32::new(1);

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "piazza-store-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

async fn redis() -> Arc<dyn Store> {
    let prefix = format!("storetest{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    Arc::new(RedisStore::connect(&redis_server::url(), &prefix).await.expect("redis store connects"))
}

fn keep(max_count: usize) -> Retention {
    Retention { max_count, max_age_ms: 0, now_ms: 0 }
}

fn entry(ts: u64, body: &str) -> HistoryEntry {
    HistoryEntry { ts, body: Bytes::from(body.to_string()) }
}

/// Appends one entry, which must be kept.
async fn append(store: &dyn Store, key: String, entry: HistoryEntry, keep: Retention) {
    let kept = store.append(vec![(key, entry)], keep).await.unwrap();
    assert_eq!(kept.len(), 1, "one result per entry");
    kept.into_iter().next().unwrap().unwrap();
}

/// The primitives: documents with compare-and-set, history lists with retention.
async fn primitives(store: Arc<dyn Store>) {
    let k = |s: &str| s.to_string();
    assert_eq!(store.get(vec![k("a"), k("b")]).await.unwrap(), vec![None, None]);
    assert!(store.swap(vec![(k("a"), None)], vec![(k("a"), Some(k("1")))]).await.unwrap());
    assert!(!store.swap(vec![(k("a"), None)], vec![(k("a"), Some(k("2")))]).await.unwrap(), "stale expect refused");
    assert_eq!(store.get(vec![k("a")]).await.unwrap(), vec![Some(k("1"))]);
    // Several keys: all must match, and then all are written.
    let wrong = vec![(k("a"), Some(k("1"))), (k("b"), Some(k("x")))];
    assert!(!store.swap(wrong, vec![(k("a"), Some(k("3")))]).await.unwrap());
    let right = vec![(k("a"), Some(k("1"))), (k("b"), None)];
    assert!(store.swap(right, vec![(k("a"), Some(k("4"))), (k("b"), Some(k("y")))]).await.unwrap());
    assert_eq!(store.get(vec![k("a"), k("b")]).await.unwrap(), vec![Some(k("4")), Some(k("y"))]);
    assert!(store.swap(vec![(k("b"), Some(k("y")))], vec![(k("b"), None)]).await.unwrap(), "None deletes");
    assert_eq!(store.get(vec![k("b")]).await.unwrap(), vec![None]);

    // History: newest first, bounded by start/end/limit, trimmed by count and by age.
    for ts in 1..=5 {
        append(&*store, k("h"), entry(ts * 10, &format!("m{ts}")), keep(4)).await;
    }
    let all = store.range(k("h"), u64::MAX, 0, 100, keep(4)).await.unwrap();
    let ts: Vec<u64> = all.iter().map(|e| e.ts).collect();
    assert_eq!(ts, vec![50, 40, 30, 20], "count retention keeps the newest 4");
    assert_eq!(all[0].body, Bytes::from("m5"));
    let window = store.range(k("h"), 40, 30, 100, keep(4)).await.unwrap();
    assert_eq!(window.iter().map(|e| e.ts).collect::<Vec<_>>(), vec![40, 30], "bounds are inclusive");
    assert_eq!(store.range(k("h"), u64::MAX, 0, 1, keep(4)).await.unwrap().len(), 1);
    let aged = Retention { max_count: 100, max_age_ms: 25, now_ms: 60 };
    let young = store.range(k("h"), u64::MAX, 0, 100, aged).await.unwrap();
    assert_eq!(young.iter().map(|e| e.ts).collect::<Vec<_>>(), vec![50, 40], "age retention drops older than 35");
    // Same timestamp twice: both kept (entries are distinct by body).
    append(&*store, k("same"), entry(7, "x"), keep(10)).await;
    append(&*store, k("same"), entry(7, "y"), keep(10)).await;
    assert_eq!(store.range(k("same"), 7, 7, 10, keep(10)).await.unwrap().len(), 2);
    // Binary bodies survive untouched.
    let bytes = Bytes::from_static(&[0, 159, 146, 150, 10, 255]);
    append(&*store, k("bin"), HistoryEntry { ts: 1, body: bytes.clone() }, keep(10)).await;
    assert_eq!(store.range(k("bin"), 1, 1, 10, keep(10)).await.unwrap()[0].body, bytes);
    // Several entries in one call, to two lists: one result each, each list in order.
    let batch: Vec<(String, HistoryEntry)> =
        (1..=6).map(|i| (k(if i % 2 == 0 { "even" } else { "odd" }), entry(100 + i, &format!("b{i}")))).collect();
    let kept = store.append(batch, keep(10)).await.unwrap();
    assert_eq!(kept.len(), 6);
    assert!(kept.iter().all(|r| r.is_ok()), "{kept:?}");
    let bodies = |key: &str| {
        let store = store.clone();
        let key = k(key);
        async move {
            let found = store.range(key, u64::MAX, 0, 10, keep(10)).await.unwrap();
            found.into_iter().map(|e| String::from_utf8(e.body.to_vec()).unwrap()).collect::<Vec<_>>()
        }
    };
    assert_eq!(bodies("even").await, vec!["b6", "b4", "b2"]);
    assert_eq!(bodies("odd").await, vec!["b5", "b3", "b1"]);
    assert!(store.append(Vec::new(), keep(10)).await.unwrap().is_empty(), "nothing to append");
}

fn channel(name: &str) -> MetaTarget {
    MetaTarget::Channel { app: "app".into(), channel_type: ChannelType::Message, channel: name.into() }
}

fn item(key: &str, value: &str, revision: i64) -> MetaItem {
    MetaItem { key: key.into(), value: value.into(), revision }
}

fn major(revision: i64) -> MetaOptions {
    MetaOptions { major_revision: revision, ..MetaOptions::default() }
}

/// The semantics of Storage on this store.
async fn semantics(store: Arc<dyn Store>) {
    let storage = Arc::new(Storage::new(store, StorageConfig::default()));
    let target = channel("room");
    let (data, changed) =
        storage.write_metadata(&target, MetaMode::Set, &[item("topic", "hi", -1)], &major(-1), "alice").await.unwrap();
    assert!(changed);
    assert_eq!((data.major_revision, data.total_count), (1, 1));
    assert_eq!(storage.metadata(&target).await.unwrap(), data);

    // Two writers with the same majorRevision at once: exactly one wins, the other is refused
    // with OUTDATED_REVISION and changed nothing.
    let writes = (0..2).map(|i| {
        let (storage, target) = (storage.clone(), target.clone());
        tokio::spawn(async move {
            storage
                .write_metadata(&target, MetaMode::Update, &[item("topic", &format!("w{i}"), -1)], &major(1), "w")
                .await
        })
    });
    let results: Vec<_> = futures_util::future::join_all(writes).await.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    let loser = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(loser.code, ErrorCode::StorageOutdatedRevision);
    let after = storage.metadata(&target).await.unwrap();
    assert_eq!(after.major_revision, 2);

    // A lock-guarded write: only the holder.
    let app = "app";
    let ct = ChannelType::Message;
    storage.lock(app, ct, "room", "pen", &LockOp::Set { ttl: 10 }).await.unwrap();
    let guarded = MetaOptions { lock_name: "pen".into(), ..MetaOptions::default() };
    let refused = storage.write_metadata(&target, MetaMode::Set, &[item("x", "1", -1)], &guarded, "bob").await;
    assert_eq!(refused.unwrap_err().code, ErrorCode::StorageLockNotAcquired);
    storage.lock(app, ct, "room", "pen", &LockOp::Acquire { user: "bob".into() }).await.unwrap();
    storage.write_metadata(&target, MetaMode::Set, &[item("x", "1", -1)], &guarded, "bob").await.unwrap();

    // Two acquires at once: exactly one ACQUIRED.
    storage.lock(app, ct, "room", "mic", &LockOp::Set { ttl: 10 }).await.unwrap();
    let acquires = ["carol", "dave"].map(|user| {
        let storage = storage.clone();
        tokio::spawn(async move {
            storage.lock("app", ChannelType::Message, "room", "mic", &LockOp::Acquire { user: user.into() }).await
        })
    });
    let results: Vec<_> = futures_util::future::join_all(acquires).await.into_iter().map(|r| r.unwrap()).collect();
    let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert_eq!(won[0].event, Some(LockEventType::Acquired));
    assert_eq!(results.iter().find_map(|r| r.as_ref().err()).unwrap().code, ErrorCode::LockAcquireFailed);
    let locks = storage.locks(app, ct, "room").await.unwrap();
    assert_eq!(locks.len(), 2);
    assert_eq!(locks.iter().find(|l| l.lock_name == "mic").unwrap().owner, won[0].detail.owner);

    // History pages: newest first, never splitting a millisecond, payload types kept.
    let key = HistoryKey { app: app.into(), channel_type: ct, channel: "room".into() };
    // Recent timestamps: the default retention drops messages older than 7 days.
    let t0 = piazza_engine::time::now_ms() - 10_000;
    let stamps = [100, 200, 200, 300, 400].map(|t| t0 + t);
    for (i, ts) in stamps.iter().enumerate() {
        let (message_type, payload) = if i % 2 == 0 {
            (MessageType::String, Bytes::from(format!("text {i}")))
        } else {
            (MessageType::Binary, Bytes::from(vec![i as u8, 0, 255]))
        };
        let message = HistoryMessage {
            publisher: "alice".into(),
            custom_type: if i == 0 { "first".into() } else { String::new() },
            message_type,
            encrypted: i == 4,
            timestamp: *ts,
            payload,
        };
        let kept = storage.append_history(vec![(key.clone(), message)]).await;
        assert!(matches!(kept.as_slice(), [Ok(())]), "{kept:?}");
    }
    let page = storage.history(&key, HistoryQuery { count: 3, start: 0, end: 0 }).await.unwrap();
    let ts: Vec<u64> = page.messages.iter().map(|m| m.timestamp).collect();
    assert_eq!(ts, vec![t0 + 400, t0 + 300], "the 200s are not split: they start the next page");
    assert_eq!(page.new_start, t0 + 200);
    assert!(page.messages[0].encrypted);
    assert_eq!(page.messages[1].payload, Bytes::from(vec![3u8, 0, 255]));
    assert_eq!(page.messages[1].message_type, MessageType::Binary);
    let next = storage.history(&key, HistoryQuery { count: 3, start: page.new_start, end: 0 }).await.unwrap();
    assert_eq!(next.messages.iter().map(|m| m.timestamp).collect::<Vec<_>>(), vec![t0 + 200, t0 + 200, t0 + 100]);
    assert_eq!(next.new_start, 0);
    assert_eq!(next.messages[2].custom_type, "first");
    assert_eq!(next.messages[2].payload, Bytes::from("text 0"));
    let one_ms = storage.history(&key, HistoryQuery { count: 1, start: t0 + 200, end: 0 }).await.unwrap();
    assert_eq!(one_ms.messages.len(), 2, "two messages in one millisecond come together");
    assert_eq!(one_ms.new_start, t0 + 100);
    let bad = storage.history(&key, HistoryQuery { count: 1, start: t0 + 100, end: t0 + 200 }).await.unwrap_err();
    assert_eq!(bad.code, ErrorCode::HistoryInvalidTimestamp);
    let too_many = storage.history(&key, HistoryQuery { count: 101, start: 0, end: 0 }).await.unwrap_err();
    assert_eq!(too_many.code, ErrorCode::InvalidParameter);
}

/// The SQLite store trims a history list every so many appends *to that list*: lists whose
/// appends interleave are all trimmed (none grows without bound on disk).
#[tokio::test]
async fn sqlite_trims_every_history_list_even_when_appends_interleave() {
    let dir = temp_dir();
    let store = SqliteStore::open(&dir).unwrap();
    let lists = ["a", "b", "c", "d"];
    for round in 0..3 {
        let batch: Vec<(String, HistoryEntry)> =
            (0..800).map(|i| (lists[i % 4].to_string(), entry((round * 800 + i) as u64, "x"))).collect();
        assert!(store.append(batch, keep(10)).await.unwrap().iter().all(|r| r.is_ok()));
    }
    for list in lists {
        assert_eq!(store.range(list.to_string(), u64::MAX, 0, 100, keep(10)).await.unwrap().len(), 10);
    }
    let db = rusqlite::Connection::open(dir.join(piazza_engine::store::SQLITE_FILE_NAME)).unwrap();
    let rows = |list: &str| -> i64 {
        db.query_row("SELECT count(*) FROM history WHERE key = ?1", [list], |r| r.get(0)).unwrap()
    };
    for list in lists {
        // 600 appended: trimmed at the 1st, the 257th and the 513th (to 10), then 87 more.
        assert_eq!(rows(list), 10 + 87, "list {list}: rows kept on disk");
    }
    // A quiet list (fewer appends than a trim waits for) is trimmed once the store reopens.
    let batch: Vec<(String, HistoryEntry)> = (0..30).map(|i| ("quiet".to_string(), entry(i, "q"))).collect();
    assert!(store.append(batch, keep(10)).await.unwrap().iter().all(|r| r.is_ok()));
    assert_eq!(rows("quiet"), 30);
    drop(store);
    let store = SqliteStore::open(&dir).unwrap();
    append(&store, "quiet".to_string(), entry(100, "q"), keep(10)).await;
    assert_eq!(rows("quiet"), 10, "trimmed at its first append after the reopen");
}

#[tokio::test]
async fn memory_store_keeps_the_contract() {
    primitives(Arc::new(MemoryStore::new())).await;
    semantics(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn sqlite_store_keeps_the_contract_and_survives_reopening() {
    let dir = temp_dir();
    primitives(Arc::new(SqliteStore::open(&dir.join("a")).unwrap())).await;
    semantics(Arc::new(SqliteStore::open(&dir.join("b")).unwrap())).await;
    // Reopened: the documents and history are there.
    let store = Arc::new(SqliteStore::open(&dir.join("b")).unwrap());
    let storage = Storage::new(store, StorageConfig::default());
    assert_eq!(storage.metadata(&channel("room")).await.unwrap().major_revision, 3);
    let key = HistoryKey { app: "app".into(), channel_type: ChannelType::Message, channel: "room".into() };
    assert_eq!(storage.history(&key, HistoryQuery { count: 10, start: 0, end: 0 }).await.unwrap().messages.len(), 5);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn redis_store_keeps_the_contract() {
    primitives(redis().await).await;
    semantics(redis().await).await;
}

/// Many writers on one store: every change lands exactly once (no lost update).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_are_never_lost() {
    let dir = temp_dir();
    let stores: Vec<Arc<dyn Store>> =
        vec![Arc::new(MemoryStore::new()), Arc::new(SqliteStore::open(&dir).unwrap()), redis().await];
    for store in stores {
        let kind = store.kind();
        let storage = Arc::new(Storage::new(store, StorageConfig::default()));
        let tasks = (0..20).map(|i| {
            let storage = storage.clone();
            tokio::spawn(async move {
                storage
                    .write_metadata(
                        &channel("count"),
                        MetaMode::Set,
                        &[item(&format!("k{i}"), "v", -1)],
                        &major(-1),
                        "u",
                    )
                    .await
            })
        });
        for result in futures_util::future::join_all(tasks).await {
            result.unwrap().unwrap();
        }
        let data = storage.metadata(&channel("count")).await.unwrap();
        assert_eq!((data.total_count, data.major_revision), (20, 20), "{kind}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `historySyncMs`, an appended message is answered before its log is synced, and synced
/// within the interval: whatever comes after it (reads, a steady stream of jobs), unless a
/// synced write (metadata) synced it first.
#[tokio::test]
async fn sqlite_history_is_synced_within_the_interval() {
    use std::time::{Duration, Instant};
    let interval = Duration::from_millis(300);
    let dir = temp_dir();
    let store = SqliteStore::open_with(&dir, interval).unwrap();
    let k = |s: &str| s.to_string();
    let synced_within = |store: &SqliteStore, syncs: u64| {
        let started = Instant::now();
        while store.history_syncs() < syncs {
            assert!(started.elapsed() < interval * 4, "no sync after {:?}", started.elapsed());
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    // Answered first, synced later — also when a read comes in between.
    append(&store, k("h"), entry(1, "one"), keep(10)).await;
    assert_eq!(store.history_syncs(), 0, "answered before the sync");
    assert_eq!(store.range(k("h"), u64::MAX, 0, 10, keep(10)).await.unwrap().len(), 1);
    synced_within(&store, 1);
    // A steady stream of jobs does not postpone it.
    let busy = Instant::now();
    let mut ts = 2;
    while busy.elapsed() < interval * 3 {
        append(&store, k("h"), entry(ts, "busy"), keep(10)).await;
        store.range(k("h"), u64::MAX, 0, 1, keep(10)).await.unwrap();
        ts += 1;
    }
    assert!(store.history_syncs() >= 2, "{} syncs in {:?} of appends", store.history_syncs(), busy.elapsed());
    // A metadata write (synced before its answer) syncs the log, the append before it too.
    let before = store.history_syncs();
    append(&store, k("h"), entry(ts, "then metadata"), keep(10)).await;
    assert!(store.swap(vec![(k("a"), None)], vec![(k("a"), Some(k("1")))]).await.unwrap());
    std::thread::sleep(interval * 2);
    assert_eq!(store.history_syncs(), before, "nothing left to sync");
    let _ = std::fs::remove_dir_all(&dir);
}
