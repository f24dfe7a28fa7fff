//! [`Storage`]: metadata, locks and history on any [`Store`], with the semantics of SPEC §4.6
//! written once. Every change is a read, a pure computation ([`super::metadata::apply`],
//! [`super::locks::apply`]) and a compare-and-set [`Store::swap`] of what was read, retried when
//! another writer (on this node or another) changed it meanwhile.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use super::locks::{self, LocksDoc};
use super::metadata::{self, MetaItem, MetaMode, MetaOptions, StorageData};
use super::{Doc, HistoryEntry, LockDetail, LockOp, LockOutcome, Retention, Store};
use crate::config::StorageConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::{ChannelType, MessageType};
use crate::time::now_ms;

/// Attempts at a compare-and-set before giving up with the operation's FAILED code.
const MAX_ATTEMPTS: usize = 64;

/// Whose metadata: a channel's (by type and name) or a user's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaTarget {
    Channel { app: String, channel_type: ChannelType, channel: String },
    User { app: String, user: String },
}

// Keys use '/', which no app id, user id or channel name may contain (crate::names).
impl MetaTarget {
    fn key(&self) -> String {
        match self {
            MetaTarget::Channel { app, channel_type, channel } => {
                format!("meta/c/{app}/{}/{channel}", channel_type.as_str())
            }
            MetaTarget::User { app, user } => format!("meta/u/{app}/{user}"),
        }
    }
}

fn locks_key(app: &str, channel_type: ChannelType, channel: &str) -> String {
    format!("locks/{app}/{}/{channel}", channel_type.as_str())
}

/// Which history list: a message channel's, or a user's inbox (`USER`, named by the receiver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryKey {
    pub app: String,
    pub channel_type: ChannelType,
    pub channel: String,
}

impl HistoryKey {
    fn key(&self) -> String {
        format!("hist/{}/{}/{}", self.app, self.channel_type.as_str(), self.channel)
    }
}

/// A stored message, in the type it was published in (`encrypted`: the payload is the
/// publisher's ciphertext, kept as it was relayed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryMessage {
    pub publisher: String,
    pub custom_type: String,
    pub message_type: MessageType,
    pub encrypted: bool,
    pub timestamp: u64,
    pub payload: Bytes,
}

/// `getMessages` options: `start` the newer bound (0 = now), `end` the older one (0 = none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    pub count: usize,
    pub start: u64,
    pub end: u64,
}

/// One page, newest first; `new_start` is where the next page starts (0: no more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    pub messages: Vec<HistoryMessage>,
    pub new_start: u64,
}

#[derive(Serialize, Deserialize)]
struct HistoryHeader {
    /// Unique per entry (node tag and sequence): a store may keep entries in a set.
    u: String,
    p: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    c: String,
    m: MessageType,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    e: bool,
}

/// How many bytes a history message takes in a `getMessages` answer (about).
fn wire_size(m: &HistoryMessage) -> usize {
    let payload = match (m.message_type, m.encrypted) {
        (MessageType::String, false) => {
            // JSON escaping: control characters take 6 bytes, quotes and backslashes 2.
            m.payload
                .iter()
                .map(|b| {
                    if *b < 0x20 {
                        6
                    } else if *b == b'"' || *b == b'\\' {
                        2
                    } else {
                        1
                    }
                })
                .sum()
        }
        _ => m.payload.len().div_ceil(3) * 4,
    };
    payload + m.publisher.len() + m.custom_type.len() + 120
}

/// Metadata, locks and history of a node (or a cluster: the store is shared).
pub struct Storage {
    store: Arc<dyn Store>,
    config: StorageConfig,
    tag: u64,
    seq: AtomicU64,
}

fn parse<T: for<'de> Deserialize<'de> + Default>(doc: &Doc, code: ErrorCode) -> Result<T> {
    match doc {
        None => Ok(T::default()),
        Some(text) => {
            serde_json::from_str(text).map_err(|e| Error::new(code, format!("stored document unreadable: {e}")))
        }
    }
}

fn to_doc<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("storage documents serialize")
}

impl Storage {
    pub fn new(store: Arc<dyn Store>, config: StorageConfig) -> Self {
        Storage { store, config, tag: rand::random::<u64>(), seq: AtomicU64::new(0) }
    }

    pub fn config(&self) -> &StorageConfig {
        &self.config
    }

    pub fn kind(&self) -> &'static str {
        self.store.kind()
    }

    /// set / update / remove items of `target`'s metadata as `author`. Answers the metadata after
    /// the write (unchanged when the write changed nothing) and whether it changed.
    pub async fn write_metadata(
        &self,
        target: &MetaTarget,
        mode: MetaMode,
        items: &[MetaItem],
        options: &MetaOptions,
        author: &str,
    ) -> Result<(StorageData, bool)> {
        metadata::check_items(mode, items, &self.config)?;
        let key = target.key();
        let guard = match (options.lock_name.as_str(), target) {
            ("", _) => None,
            (name, MetaTarget::Channel { app, channel_type, channel }) => {
                crate::names::lock_name(name).map_err(|e| Error::new(ErrorCode::StorageInvalidLockName, e.reason))?;
                Some((locks_key(app, *channel_type, channel), name))
            }
            (_, MetaTarget::User { .. }) => {
                return Err(Error::new(
                    ErrorCode::StorageInvalidLockName,
                    "lockName guards channel metadata only (locks belong to channels)",
                ))
            }
        };
        for _ in 0..MAX_ATTEMPTS {
            let mut keys = vec![key.clone()];
            keys.extend(guard.as_ref().map(|(k, _)| k.clone()));
            let docs = self.store.get(keys.clone()).await?;
            if let Some((_, name)) = &guard {
                let locks: LocksDoc = parse(&docs[1], ErrorCode::StorageOperationFailed)?;
                match locks.get(*name) {
                    None => {
                        return Err(Error::new(
                            ErrorCode::StorageLockNotAcquired,
                            format!("lock {name:?} does not exist in this channel"),
                        ))
                    }
                    Some(lock) if lock.owner != author => {
                        return Err(Error::new(
                            ErrorCode::StorageLockNotAcquired,
                            format!("lock {name:?} is not held by {author:?}; only its holder may write"),
                        ))
                    }
                    Some(_) => {}
                }
            }
            let current: Option<StorageData> = match &docs[0] {
                None => None,
                doc => Some(parse(doc, ErrorCode::StorageOperationFailed)?),
            };
            let Some(next) = metadata::apply(current.clone(), mode, items, options, author, now_ms(), &self.config)?
            else {
                return Ok((current.unwrap_or_default(), false));
            };
            // The whole metadata travels in every storage event and answer: it must fit.
            let doc = to_doc(&next);
            if doc.len() > self.config.max_metadata_bytes {
                return Err(Error::new(
                    ErrorCode::StorageMetadataLengthOverflow,
                    format!(
                        "the metadata would be {} bytes (as JSON); at most {} are allowed (storage.maxMetadataBytes)",
                        doc.len(),
                        self.config.max_metadata_bytes
                    ),
                ));
            }
            let expect: Vec<(String, Doc)> = keys.into_iter().zip(docs).collect();
            if self.store.swap(expect, vec![(key.clone(), Some(doc))]).await? {
                return Ok((next, true));
            }
        }
        Err(Error::new(ErrorCode::StorageOperationFailed, "the metadata kept changing under this write; try again"))
    }

    /// `target`'s metadata (empty when it has none).
    pub async fn metadata(&self, target: &MetaTarget) -> Result<StorageData> {
        let docs = self.store.get(vec![target.key()]).await?;
        parse(&docs[0], ErrorCode::StorageOperationFailed)
    }

    /// One lock operation in a channel.
    pub async fn lock(
        &self,
        app: &str,
        channel_type: ChannelType,
        channel: &str,
        name: &str,
        op: &LockOp,
    ) -> Result<LockOutcome> {
        crate::names::lock_name(name)?;
        let key = locks_key(app, channel_type, channel);
        for _ in 0..MAX_ATTEMPTS {
            let docs = self.store.get(vec![key.clone()]).await?;
            let mut doc: LocksDoc = parse(&docs[0], ErrorCode::LockOperationFailed)?;
            let outcome = locks::apply(&mut doc, name, op, self.config.max_locks_per_channel)?;
            if outcome.event.is_none() {
                return Ok(outcome);
            }
            let write = if doc.is_empty() { None } else { Some(to_doc(&doc)) };
            let old = docs.into_iter().next().flatten();
            if self.store.swap(vec![(key.clone(), old)], vec![(key.clone(), write)]).await? {
                return Ok(outcome);
            }
        }
        Err(Error::new(ErrorCode::LockOperationFailed, "the locks kept changing under this operation; try again"))
    }

    /// Frees every held lock of every channel (a single node starting again on its database:
    /// nobody is connected, so nobody holds anything). Answers how many were freed.
    pub async fn free_all_locks(&self) -> Result<usize> {
        let mut freed = 0;
        for key in self.store.keys("locks/".into()).await? {
            for _ in 0..MAX_ATTEMPTS {
                let docs = self.store.get(vec![key.clone()]).await?;
                let mut doc: LocksDoc = parse(&docs[0], ErrorCode::LockOperationFailed)?;
                let held = doc.values().filter(|l| !l.owner.is_empty()).count();
                if held == 0 {
                    break;
                }
                doc.values_mut().for_each(|l| l.owner.clear());
                let old = docs.into_iter().next().flatten();
                if self.store.swap(vec![(key.clone(), old)], vec![(key.clone(), Some(to_doc(&doc)))]).await? {
                    freed += held;
                    break;
                }
            }
        }
        Ok(freed)
    }

    /// Every lock of a channel.
    pub async fn locks(&self, app: &str, channel_type: ChannelType, channel: &str) -> Result<Vec<LockDetail>> {
        let docs = self.store.get(vec![locks_key(app, channel_type, channel)]).await?;
        Ok(locks::details(&parse(&docs[0], ErrorCode::LockOperationFailed)?))
    }

    fn retention(&self) -> Retention {
        Retention {
            max_count: self.config.history_max_messages,
            max_age_ms: self.config.history_max_age_seconds.saturating_mul(1000),
            now_ms: now_ms(),
        }
    }

    /// Keeps messages in their history lists (`(key, message)`); one result per message, in
    /// order: a message whose result is an error was not kept.
    pub async fn append_history(&self, items: Vec<(HistoryKey, HistoryMessage)>) -> Vec<Result<()>> {
        let count = items.len();
        let entries = items.into_iter().map(|(key, message)| (key.key(), self.entry(&message))).collect();
        match self.store.append(entries, self.retention()).await {
            Ok(kept) if kept.len() == count => kept,
            Ok(_) => {
                vec![Err(Error::new(ErrorCode::HistoryOperationFailed, "the store lost track of an append")); count]
            }
            Err(e) => vec![Err(e); count],
        }
    }

    /// A message as its history list keeps it: a JSON header line, then the payload as sent.
    fn entry(&self, message: &HistoryMessage) -> HistoryEntry {
        let header = HistoryHeader {
            // Fixed width: a store that orders equal timestamps by body (Redis) keeps them in order.
            u: format!("{:016x}.{:016x}", self.tag, self.seq.fetch_add(1, Ordering::Relaxed)),
            p: message.publisher.clone(),
            c: message.custom_type.clone(),
            m: message.message_type,
            e: message.encrypted,
        };
        let header = serde_json::to_vec(&header).expect("history headers serialize");
        let mut body = BytesMut::with_capacity(header.len() + 1 + message.payload.len());
        body.put_slice(&header);
        body.put_u8(b'\n');
        body.put_slice(&message.payload);
        HistoryEntry { ts: message.timestamp, body: body.freeze() }
    }

    fn decode(entry: HistoryEntry) -> Result<HistoryMessage> {
        let broken =
            |why: &str| Error::new(ErrorCode::HistoryOperationFailed, format!("stored message unreadable: {why}"));
        let split = entry.body.iter().position(|b| *b == b'\n').ok_or_else(|| broken("no header"))?;
        let header: HistoryHeader = serde_json::from_slice(&entry.body[..split]).map_err(|e| broken(&e.to_string()))?;
        Ok(HistoryMessage {
            publisher: header.p,
            custom_type: header.c,
            message_type: header.m,
            encrypted: header.e,
            timestamp: entry.ts,
            payload: entry.body.slice(split + 1..),
        })
    }

    /// A page of `key`'s history, newest first. A page never splits one millisecond: when the
    /// message after the page has the same timestamp as the page's last ones, those move to the
    /// next page (so `new_start`, a timestamp, starts the next page exactly). Only when more
    /// than `count` messages share one millisecond does a page hold more than `count`.
    pub async fn history(&self, key: &HistoryKey, query: HistoryQuery) -> Result<HistoryPage> {
        let max = self.config.max_history_page;
        if query.count == 0 || query.count > max {
            return Err(Error::invalid(format!("messageCount {} is outside 1..={max}", query.count)));
        }
        let start = if query.start == 0 { u64::MAX } else { query.start };
        if query.end > start {
            return Err(Error::new(
                ErrorCode::HistoryInvalidTimestamp,
                format!("end {} is newer than start {start}: start is the newer bound", query.end),
            ));
        }
        let keep = self.retention();
        let list = key.key();
        let mut entries = self.store.range(list.clone(), start, query.end, query.count + 1, keep).await?;
        let mut new_start = 0;
        if entries.len() > query.count {
            let next = entries[query.count].ts;
            entries.truncate(query.count);
            while entries.last().is_some_and(|e| e.ts == next) {
                entries.pop();
            }
            new_start = next;
            if entries.is_empty() {
                // More than `count` messages in one millisecond: that millisecond is the page.
                entries = self.store.range(list.clone(), next, next, usize::MAX, keep).await?;
                let older =
                    if next == 0 { Vec::new() } else { self.store.range(list, next - 1, query.end, 1, keep).await? };
                new_start = older.first().map_or(0, |e| e.ts);
            }
        }
        let mut messages = entries.into_iter().map(Self::decode).collect::<Result<Vec<_>>>()?;
        // A page must fit a connection's outbound queue: past `historyPageBytes` (as sent:
        // base64 or escaped text) it ends at a millisecond boundary, and the next page starts
        // there. The first millisecond of a page always stays.
        let mut bytes = 0;
        let mut cut = None;
        for (i, m) in messages.iter().enumerate() {
            bytes += wire_size(m);
            if bytes > self.config.history_page_bytes && i > 0 {
                let ts = m.timestamp;
                let first = messages.iter().position(|x| x.timestamp == ts).unwrap_or(i);
                if first > 0 {
                    cut = Some((first, ts));
                }
                break;
            }
        }
        if let Some((at, ts)) = cut {
            messages.truncate(at);
            new_start = ts;
        }
        Ok(HistoryPage { messages, new_start })
    }
}
