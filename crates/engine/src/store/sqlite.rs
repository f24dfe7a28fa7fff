//! The SQLite store: one database file (`<dir>/piazza.sqlite3`) for a node that must keep its
//! storage across restarts. SQLite (rusqlite, with SQLite compiled in) rather than another
//! embedded database: one file, transactions, a write-ahead log, and a format anyone can open
//! with the `sqlite3` tool to inspect or back up.
//!
//! Durability: WAL with `synchronous=FULL`, so a metadata or lock change is on disk when its
//! answer goes out. A history append is answered once it is in the write-ahead log (it survives
//! a crash of the server process) and synced to disk within `history_sync` (it survives a
//! power loss from then on): batches of appends alone commit with `synchronous=NORMAL`, and an
//! fsync of the log when the interval is up (or the next commit with `synchronous=FULL` that
//! writes) syncs them. With `history_sync` zero, appends are synced before their answers too.
//!
//! Nothing blocks a tokio worker: the connection lives on its own thread, which takes jobs from
//! a queue and runs everything queued at that moment in one transaction (one fsync for the
//! batch: group commit), each job in its own savepoint (history appends need none: each entry is
//! one statement, which SQLite undoes by itself when it fails). Answers are sent after the
//! commit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::{Doc, HistoryEntry, Retention, Store, StoreFuture};
use crate::error::{Error, ErrorCode, Result};

/// The database file inside the storage directory.
pub const FILE_NAME: &str = "piazza.sqlite3";

/// Jobs run in one transaction at most.
const BATCH: usize = 256;

/// A history list is trimmed (count and age) after this many appends to it (reads skip what is
/// beyond retention meanwhile): the trim scans the newest `max_count` entries of the list, so
/// doing it less often makes an append cheaper.
const TRIM_EVERY: u32 = 256;

/// What a job leaves to do once its transaction committed (or failed): send its answer.
type Reply = Box<dyn FnOnce(std::result::Result<(), String>) + Send>;
/// A job runs in the batch's transaction (`Some`), or is refused without running (`None`: the
/// transaction could not begin, or an earlier job's failure rolled it back).
type Work = Box<dyn FnOnce(Option<&Connection>) -> Reply + Send>;

struct Job {
    /// Whether the job's change must be on disk before its answer (every job but a history
    /// append, unless `history_sync` is zero).
    synced: bool,
    work: Work,
}

pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    history_sync: Duration,
    /// Syncs of the log that history appends left unsynced.
    syncs: Arc<AtomicU64>,
    /// Appends to each history list since its last trim (used on the database thread only;
    /// see `due`).
    untrimmed: Arc<parking_lot::Mutex<HashMap<String, u32>>>,
}

fn failed(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::StorageOperationFailed, format!("the storage database failed: {e}"))
}

fn clamp(ts: u64) -> i64 {
    i64::try_from(ts).unwrap_or(i64::MAX)
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS docs (key TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (key TEXT NOT NULL, ts INTEGER NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS history_by_key_ts ON history (key, ts);
";

impl SqliteStore {
    /// Opens (creating when missing) the database in directory `dir`; every change is on disk
    /// before its answer.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, Duration::ZERO)
    }

    /// Opens the database in `dir`; history appends are synced to disk within `history_sync`
    /// of their answers (see the module's documentation), every other change before its answer.
    pub fn open_with(dir: &Path, history_sync: Duration) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| failed(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(FILE_NAME);
        let conn = Connection::open(&path).map_err(|e| failed(format!("cannot open {}: {e}", path.display())))?;
        // Another process (or a server still closing) may hold the write lock for a moment.
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(failed)?;
        conn.execute_batch(SCHEMA).map_err(failed)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let syncs = Arc::new(AtomicU64::new(0));
        std::thread::Builder::new()
            .name("piazza-sqlite".into())
            .spawn({
                let syncs = syncs.clone();
                let wal = path.with_file_name(format!("{FILE_NAME}-wal"));
                move || run(conn, queue, history_sync, wal, syncs)
            })
            .map_err(|e| failed(format!("cannot start the storage thread: {e}")))?;
        Ok(SqliteStore { jobs, history_sync, syncs, untrimmed: Arc::default() })
    }

    /// How many times the log was synced for history appends answered before their sync.
    pub fn history_syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Runs `work` on the database thread, inside a transaction; answers after the commit.
    fn submit<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreFuture<T> {
        self.submit_as(true, false, work)
    }

    /// [`Self::submit`]; `synced`: whether the commit must reach the disk before the answer;
    /// `atomic`: whether `work` changes nothing when it fails (one statement), so that it needs
    /// no savepoint of its own.
    fn submit_as<T: Send + 'static>(
        &self,
        synced: bool,
        atomic: bool,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreFuture<T> {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let work: Work = Box::new(move |conn: Option<&Connection>| -> Reply {
            let result = match conn {
                None => Err("the storage transaction is not open".to_string()),
                Some(conn) if atomic => work(conn).map_err(|e| e.to_string()),
                Some(conn) => {
                    // Prepared once: parsing them for every job cost as much as the work.
                    let savepoint = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(drop);
                    let result = savepoint("SAVEPOINT job").and_then(|()| work(conn));
                    if result.is_err() {
                        let _ = savepoint("ROLLBACK TO job");
                    }
                    let _ = savepoint("RELEASE job");
                    result.map_err(|e| e.to_string())
                }
            };
            Box::new(move |commit| {
                let answer = match (commit, result) {
                    (Err(e), _) => Err(failed(e)),
                    (Ok(()), result) => result.map_err(failed),
                };
                let _ = tx.send(answer);
            })
        });
        let sent = self.jobs.send(Job { synced, work });
        Box::pin(async move {
            sent.map_err(|_| failed("the storage thread has stopped"))?;
            rx.await.map_err(|_| failed("the storage thread has stopped"))?
        })
    }
}

/// Syncs what commits with `synchronous=NORMAL` left unsynced: they are in the write-ahead log,
/// which an fsync makes durable (a checkpoint would too, but skips it while another process
/// reads the database, e.g. a backup).
fn sync(wal: &Path, syncs: &AtomicU64) {
    match std::fs::File::open(wal).and_then(|f| f.sync_data()) {
        Ok(()) => {
            syncs.fetch_add(1, Ordering::Relaxed);
        }
        // No log: everything is in the database file (a checkpoint reset it), synced.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::error!(error = %e, "storage database: syncing the history to disk failed"),
    }
}

/// The database thread: batches of jobs, one transaction each.
fn run(conn: Connection, queue: mpsc::Receiver<Job>, history_sync: Duration, wal: PathBuf, syncs: Arc<AtomicU64>) {
    // When the oldest commit not yet synced must be synced.
    let mut sync_by: Option<Instant> = None;
    let mut full = true;
    loop {
        // Due: sync now, even while jobs keep coming.
        if sync_by.is_some_and(|by| Instant::now() >= by) {
            sync(&wal, &syncs);
            sync_by = None;
        }
        let first = match sync_by {
            None => match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            Some(by) => match queue.recv_timeout(by.saturating_duration_since(Instant::now())) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    sync(&wal, &syncs);
                    return;
                }
            },
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let synced = batch.iter().any(|job| job.synced);
        if synced != full {
            let pragma = if synced { "PRAGMA synchronous = FULL" } else { "PRAGMA synchronous = NORMAL" };
            match conn.execute_batch(pragma) {
                Ok(()) => full = synced,
                Err(e) => tracing::error!(error = %e, "storage database: {pragma} failed"),
            }
        }
        let changes = conn.total_changes();
        let begun = conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| e.to_string());
        // Jobs run only inside the transaction: if it could not begin, or a failure rolled it
        // back (SQLite then returns to autocommit), the rest are refused without running — a
        // write is never made durable while its answer says it failed.
        let replies: Vec<Reply> = batch
            .into_iter()
            .map(|job| {
                let open = begun.is_ok() && !conn.is_autocommit();
                (job.work)(open.then_some(&conn))
            })
            .collect();
        let committed = match begun {
            Ok(()) if conn.is_autocommit() => Err("the storage transaction was rolled back".to_string()),
            Ok(()) => conn.execute_batch("COMMIT").map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
            tracing::error!(error = ?committed, "storage database: a transaction failed");
        } else if conn.total_changes() == changes {
            // Nothing written (reads, a compare that failed): SQLite neither wrote nor synced.
        } else if full {
            // A commit with synchronous=FULL synced the whole log, earlier commits too.
            sync_by = None;
        } else if sync_by.is_none() {
            sync_by = Some(Instant::now() + history_sync);
        }
        for reply in replies {
            reply(committed.clone());
        }
    }
}

/// The error of a job whose transaction was rolled back under it.
fn rolled_back() -> rusqlite::Error {
    let code = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT);
    rusqlite::Error::SqliteFailure(code, Some("the storage transaction was rolled back".into()))
}

/// Lists counted in `untrimmed` at most; past that the counts start over.
const UNTRIMMED_LISTS: usize = 100_000;

/// Counts an append to `key`; whether its list is due for a trim: its first append since the
/// store opened (or since the counts started over), then every [`TRIM_EVERY`] appends. So a
/// quiet list is trimmed at least once per start of the server, and the counts stay bounded.
fn due(untrimmed: &mut HashMap<String, u32>, key: &str) -> bool {
    if let Some(count) = untrimmed.get_mut(key) {
        *count += 1;
        if *count < TRIM_EVERY {
            return false;
        }
        *count = 0;
        return true;
    }
    if untrimmed.len() >= UNTRIMMED_LISTS {
        untrimmed.clear();
    }
    untrimmed.insert(key.to_string(), 0);
    true
}

/// Drops what `keep` no longer allows from the history list `key`; each statement is atomic.
fn trim(conn: &Connection, key: &str, keep: Retention) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "DELETE FROM history WHERE key = ?1 AND rowid IN \
         (SELECT rowid FROM history WHERE key = ?1 ORDER BY ts DESC, rowid DESC LIMIT -1 OFFSET ?2)",
    )?
    .execute(params![key, keep.max_count as i64])?;
    if keep.oldest() > 0 {
        conn.prepare_cached("DELETE FROM history WHERE key = ?1 AND ts < ?2")?
            .execute(params![key, clamp(keep.oldest())])?;
    }
    Ok(())
}

fn read(conn: &Connection, key: &str) -> rusqlite::Result<Doc> {
    conn.prepare_cached("SELECT doc FROM docs WHERE key = ?1")?.query_row([key], |row| row.get(0)).optional()
}

impl Store for SqliteStore {
    fn get(&self, keys: Vec<String>) -> StoreFuture<Vec<Doc>> {
        self.submit(move |conn| keys.iter().map(|k| read(conn, k)).collect())
    }

    fn swap(&self, expect: Vec<(String, Doc)>, write: Vec<(String, Doc)>) -> StoreFuture<bool> {
        self.submit(move |conn| {
            for (key, want) in &expect {
                if read(conn, key)? != *want {
                    return Ok(false);
                }
            }
            for (key, doc) in &write {
                match doc {
                    Some(doc) => conn
                        .prepare_cached(
                            "INSERT INTO docs (key, doc) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET doc = ?2",
                        )?
                        .execute(params![key, doc])?,
                    None => conn.prepare_cached("DELETE FROM docs WHERE key = ?1")?.execute([key])?,
                };
            }
            Ok(true)
        })
    }

    fn append(&self, entries: Vec<(String, HistoryEntry)>, keep: Retention) -> StoreFuture<Vec<Result<()>>> {
        // No savepoint: each insert is one statement, which SQLite undoes by itself when it fails
        // (that entry's answer says so) — unless the failure rolled back the whole transaction
        // (a full disk, an I/O error): then the job stops there, before anything else could
        // commit on its own, and the batch is answered as failed.
        let untrimmed = self.untrimmed.clone();
        self.submit_as(self.history_sync.is_zero(), true, move |conn| {
            let mut untrimmed = untrimmed.lock();
            let mut insert = conn.prepare_cached("INSERT INTO history (key, ts, body) VALUES (?1, ?2, ?3)")?;
            let mut kept = Vec::with_capacity(entries.len());
            for (key, entry) in &entries {
                let inserted = insert.execute(params![key, clamp(entry.ts), entry.body.as_ref()]).map(drop);
                // Trimming scans the list: it runs every TRIM_EVERY appends to it, not on each.
                // Reads stay exact meanwhile (`range` looks at the newest `max_count` only, none
                // too old).
                let trimmed = match inserted {
                    Ok(()) if due(&mut untrimmed, key) => trim(conn, key, keep),
                    _ => Ok(()),
                };
                if conn.is_autocommit() {
                    return Err(inserted.and(trimmed).err().unwrap_or_else(rolled_back));
                }
                if let Err(e) = trimmed {
                    // Retention is space, not an answer: the next trim of the list retries.
                    tracing::warn!(error = %e, "storage database: trimming a history list failed");
                }
                kept.push(inserted.map_err(failed));
            }
            Ok(kept)
        })
    }

    fn range(
        &self,
        key: String,
        start: u64,
        end: u64,
        limit: usize,
        keep: Retention,
    ) -> StoreFuture<Vec<HistoryEntry>> {
        self.submit(move |conn| {
            let mut query = conn.prepare_cached(
                "SELECT ts, body FROM (SELECT rowid, ts, body FROM history WHERE key = ?1 \
                 ORDER BY ts DESC, rowid DESC LIMIT ?5) \
                 WHERE ts <= ?2 AND ts >= ?3 ORDER BY ts DESC, rowid DESC LIMIT ?4",
            )?;
            let limit = i64::try_from(limit).unwrap_or(-1);
            let newest = i64::try_from(keep.max_count).unwrap_or(-1);
            let bounds = params![key, clamp(start), clamp(end.max(keep.oldest())), limit, newest];
            let rows = query.query_map(bounds, |row| {
                let ts: i64 = row.get(0)?;
                let body: Vec<u8> = row.get(1)?;
                Ok(HistoryEntry { ts: ts as u64, body: body.into() })
            })?;
            rows.collect()
        })
    }

    fn keys(&self, prefix: String) -> StoreFuture<Vec<String>> {
        self.submit(move |conn| {
            let mut query = conn.prepare_cached("SELECT key FROM docs WHERE substr(key, 1, ?2) = ?1")?;
            let rows = query.query_map(params![prefix, prefix.len() as i64], |row| row.get(0))?;
            rows.collect()
        })
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }
}
