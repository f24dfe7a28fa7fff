//! The in-memory store: the embedded default. Everything is gone when the process ends.

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;

use super::{Doc, HistoryEntry, Retention, Store, StoreFuture};
use crate::error::Result;

#[derive(Default)]
pub struct MemoryStore {
    docs: Mutex<HashMap<String, String>>,
    history: Mutex<HashMap<String, VecDeque<HistoryEntry>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

fn trim(list: &mut VecDeque<HistoryEntry>, keep: Retention) {
    while list.len() > keep.max_count {
        list.pop_front();
    }
    let oldest = keep.oldest();
    while list.front().is_some_and(|e| e.ts < oldest) {
        list.pop_front();
    }
}

impl Store for MemoryStore {
    fn get(&self, keys: Vec<String>) -> StoreFuture<Vec<Doc>> {
        let docs = self.docs.lock();
        let found = keys.iter().map(|k| docs.get(k).cloned()).collect();
        Box::pin(async move { Ok(found) })
    }

    fn swap(&self, expect: Vec<(String, Doc)>, write: Vec<(String, Doc)>) -> StoreFuture<bool> {
        let mut docs = self.docs.lock();
        let matches = expect.iter().all(|(k, want)| docs.get(k) == want.as_ref());
        if matches {
            for (key, doc) in write {
                match doc {
                    Some(doc) => docs.insert(key, doc),
                    None => docs.remove(&key),
                };
            }
        }
        Box::pin(async move { Ok(matches) })
    }

    fn append(&self, entries: Vec<(String, HistoryEntry)>, keep: Retention) -> StoreFuture<Vec<Result<()>>> {
        let mut history = self.history.lock();
        let kept = entries
            .into_iter()
            .map(|(key, entry)| {
                let list = history.entry(key).or_default();
                // Keep the list sorted by time even if two appends arrive out of order.
                let at = list.iter().rposition(|e| e.ts <= entry.ts).map_or(0, |i| i + 1);
                list.insert(at, entry);
                trim(list, keep);
                Ok(())
            })
            .collect();
        Box::pin(async { Ok(kept) })
    }

    fn range(
        &self,
        key: String,
        start: u64,
        end: u64,
        limit: usize,
        keep: Retention,
    ) -> StoreFuture<Vec<HistoryEntry>> {
        let mut history = self.history.lock();
        let found = match history.get_mut(&key) {
            Some(list) => {
                trim(list, keep);
                list.iter().rev().filter(|e| e.ts <= start && e.ts >= end).take(limit).cloned().collect()
            }
            None => Vec::new(),
        };
        Box::pin(async move { Ok(found) })
    }

    fn keys(&self, prefix: String) -> StoreFuture<Vec<String>> {
        let keys = self.docs.lock().keys().filter(|k| k.starts_with(&prefix)).cloned().collect();
        Box::pin(async move { Ok(keys) })
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}
