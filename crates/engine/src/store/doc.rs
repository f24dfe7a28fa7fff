//! The values a [`super::Store`] keeps besides documents: history entries and their retention.

use bytes::Bytes;

/// One stored message: when the server received it (ms), and its encoded body (opaque to the
/// store; unique per entry, so a store may use it as a set member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub ts: u64,
    pub body: Bytes,
}

/// How much history a channel keeps: the newest `max_count` entries, none older than
/// `max_age_ms` before `now_ms` (0 = no age limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_count: usize,
    pub max_age_ms: u64,
    pub now_ms: u64,
}

impl Retention {
    /// The oldest timestamp still kept.
    pub fn oldest(&self) -> u64 {
        if self.max_age_ms == 0 {
            0
        } else {
            self.now_ms.saturating_sub(self.max_age_ms)
        }
    }
}
