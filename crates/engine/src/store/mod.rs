//! Storage, locks and history (SPEC §4.6): what outlives a session.
//!
//! Two layers:
//! - [`Store`], the seam: a few primitives a backend implements — documents read and replaced
//!   with a multi-key compare-and-set ([`Store::swap`]), and per-channel history lists
//!   ([`Store::append`], [`Store::range`]). Three implementations: [`MemoryStore`] (the embedded
//!   default), [`SqliteStore`] (a database file for one node that must survive restarts) and
//!   [`RedisStore`] (cluster mode). Each passes the same contract suite (`tests/store.rs`).
//! - [`Storage`], the semantics on top, written once: metadata revisions and `majorRevision`
//!   compare-and-set, lock-guarded writes, locks, history paging and retention. Every change is
//!   read → computed in Rust → written with `swap`, retried when another writer got there first,
//!   so two racing writers on two nodes cannot both win: exactly one `swap` matches.
//!
//! Nothing here blocks a tokio worker: the SQLite store runs on its own thread, Redis is async.

mod doc;
mod locks;
mod memory;
mod metadata;
mod redis;
mod service;
mod sqlite;

use std::future::Future;
use std::pin::Pin;

pub use self::doc::{HistoryEntry, Retention};
pub use self::locks::{LockDetail, LockEventType, LockOp, LockOutcome};
pub use self::memory::MemoryStore;
pub use self::metadata::{MetaDetail, MetaItem, MetaMode, MetaOptions, StorageData};
pub use self::redis::RedisStore;
pub use self::service::{HistoryKey, HistoryMessage, HistoryPage, HistoryQuery, MetaTarget, Storage};
pub use self::sqlite::{SqliteStore, FILE_NAME as SQLITE_FILE_NAME};
use crate::error::Result;

/// What a [`Store`] call returns: owned arguments in, a `Send` future out.
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T>> + Send>>;

/// A document: its JSON text, or `None` when there is none.
pub type Doc = Option<String>;

/// The backend seam. Keys are opaque strings built by [`Storage`]; documents are compared as
/// whole strings (every change bumps a revision inside them, so an equal string is the same
/// version).
pub trait Store: Send + Sync + 'static {
    /// The documents at `keys`, in order.
    fn get(&self, keys: Vec<String>) -> StoreFuture<Vec<Doc>>;

    /// Atomically: when every key of `expect` still holds its document (`None`: no document),
    /// writes every entry of `write` (`None` deletes) and answers `true`; otherwise writes
    /// nothing and answers `false`. Durable before it answers on stores that persist.
    fn swap(&self, expect: Vec<(String, Doc)>, write: Vec<(String, Doc)>) -> StoreFuture<bool>;

    /// Appends each entry to its history list (`(key, entry)`, in order), then drops what `keep`
    /// no longer allows. One result per entry: on the memory and SQLite stores an entry whose
    /// result is an error was not kept (a failure of the whole call: none was); on Redis an
    /// error may also mean the answer was lost after the append ran (a timeout, a dropped
    /// connection). Durable before it answers on stores that persist (the SQLite store's
    /// `history_sync` may defer the sync, see its documentation).
    fn append(&self, entries: Vec<(String, HistoryEntry)>, keep: Retention) -> StoreFuture<Vec<Result<()>>>;

    /// The entries of `key` with `end <= ts <= start`, newest first, at most `limit`, none older
    /// than `keep` allows.
    fn range(&self, key: String, start: u64, end: u64, limit: usize, keep: Retention)
        -> StoreFuture<Vec<HistoryEntry>>;

    /// The keys of every document whose key starts with `prefix` (maintenance, not the hot path).
    fn keys(&self, prefix: String) -> StoreFuture<Vec<String>>;

    /// Which backend this is (`memory`, `sqlite`, `redis`), for logs and `stats`.
    fn kind(&self) -> &'static str;
}
