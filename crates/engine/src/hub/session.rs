//! A session: one logged-in user of one app (one RTM login, or one TRTC room entry), with its
//! outbound queue and what it has subscribed to. Channels hold `Arc<Session>`s and push frames
//! straight into the outbox; the connection's writer drains it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;

use super::outbox::Outbox;
use super::rate::TokenBucket;
use crate::protocol::SessionKind;

/// Subscription options of one message channel (RTM `subscribe` options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubOptions {
    pub with_message: bool,
    pub with_presence: bool,
    pub be_quiet: bool,
    pub with_metadata: bool,
    pub with_lock: bool,
}

/// What a session has joined; the hub keeps it in step with the channels.
#[derive(Debug, Default)]
pub struct SessionState {
    /// Message channels subscribed.
    pub channels: HashMap<Arc<str>, SubOptions>,
    /// Stream channels joined.
    pub streams: HashSet<Arc<str>>,
    /// Realtime scopes joined.
    pub scopes: HashSet<Arc<str>>,
    /// Set once the session has been removed from the hub; nothing may be added after that.
    pub ended: bool,
}

pub struct Session {
    /// Unique per server process (never reused).
    pub id: u64,
    pub app: Arc<str>,
    pub user: Arc<str>,
    pub kind: SessionKind,
    pub heartbeat_secs: u32,
    pub presence_timeout_secs: u32,
    pub outbox: Outbox,
    pub state: Mutex<SessionState>,
    /// Rate of user-channel messages into this session (same limit as a channel).
    pub inbound_rate: Mutex<TokenBucket>,
}

impl Session {
    pub fn new(
        id: u64,
        app: Arc<str>,
        user: Arc<str>,
        kind: SessionKind,
        timing: (u32, u32),
        queue_limit: usize,
        rate: u32,
    ) -> Self {
        Session {
            id,
            app,
            user,
            kind,
            heartbeat_secs: timing.0,
            presence_timeout_secs: timing.1,
            outbox: Outbox::new(queue_limit),
            state: Mutex::new(SessionState::default()),
            inbound_rate: Mutex::new(TokenBucket::new(rate)),
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session#{}({}/{}/{:?})", self.id, self.app, self.user, self.kind)
    }
}
