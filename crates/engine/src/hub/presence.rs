//! Presence events (SPEC §4.3) as the RTM `presence` listener receives them, encoded once per
//! channel and delivered to the members that asked for presence.

use serde::Serialize;

use super::roster::{States, UserState};
use crate::protocol::ChannelType;
use crate::time::now_ms;

/// `PresenceEventType` of RTM 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PresenceEventType {
    Snapshot,
    Interval,
    RemoteJoin,
    RemoteLeave,
    RemoteTimeout,
    RemoteStateChanged,
    ErrorOutOfService,
}

/// `{ users, userCount }`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserList {
    pub users: Vec<String>,
    pub user_count: usize,
}

impl From<Vec<String>> for UserList {
    fn from(users: Vec<String>) -> Self {
        UserList { user_count: users.len(), users }
    }
}

/// The `interval` payload: what happened during one interval in a crowded channel.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct IntervalDetail {
    pub join: UserList,
    pub leave: UserList,
    pub timeout: UserList,
    pub user_state_list: Vec<UserState>,
    pub total_occupancy: usize,
}

/// The RTM `PresenceEvent`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PresenceEvent {
    pub event_type: PresenceEventType,
    pub channel_type: ChannelType,
    pub channel_name: String,
    pub publisher: String,
    pub state_changed: States,
    pub interval: Option<IntervalDetail>,
    pub snapshot: Option<Vec<UserState>>,
    pub timestamp: u64,
}

impl PresenceEvent {
    /// An event about `publisher` (join, leave, timeout, state change).
    pub fn about(event_type: PresenceEventType, channel_type: ChannelType, channel: &str, publisher: &str) -> Self {
        PresenceEvent {
            event_type,
            channel_type,
            channel_name: channel.to_string(),
            publisher: publisher.to_string(),
            state_changed: States::new(),
            interval: None,
            snapshot: None,
            timestamp: now_ms(),
        }
    }

    /// The SNAPSHOT a user gets when it joins.
    pub fn snapshot(channel_type: ChannelType, channel: &str, users: Vec<UserState>) -> Self {
        PresenceEvent { snapshot: Some(users), ..Self::about(PresenceEventType::Snapshot, channel_type, channel, "") }
    }
}
