//! The bodies of the `presence`, `topic` and `token` server frames (the `e` of
//! docs/PROTOCOL.md#server-frames), both ways: the hub builds and encodes these values, and a
//! Rust client decodes the same types (`ClientEvent::presence`, `topic`, `token`). Field names,
//! casing and omissions are the wire format the JavaScript layer and third-party clients read,
//! so a change here is a protocol change.
//!
//! Decoding is lenient about fields it does not know (a newer server may add some) and strict
//! about event types: an `eventType` this build does not know is a decode error, not a guess.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ChannelType;
use crate::time::now_ms;

/// A user's temporary presence states in one channel: key → value.
pub type States = BTreeMap<String, String>;

/// `UserState` of the RTM API: a user and its states.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UserState {
    pub user_id: String,
    pub states: States,
    pub states_count: usize,
}

impl UserState {
    pub fn new(user: &str, states: &States) -> Self {
        UserState { user_id: user.to_string(), states: states.clone(), states_count: states.len() }
    }
}

/// `PresenceEventType` of RTM 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
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

/// The `interval` payload: what happened during one interval in a crowded channel (or, in a
/// SNAPSHOT, the channel's size when the snapshot lists only its first users).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct IntervalDetail {
    pub join: UserList,
    pub leave: UserList,
    pub timeout: UserList,
    pub user_state_list: Vec<UserState>,
    pub total_occupancy: usize,
}

/// The RTM `PresenceEvent`. `interval` and `snapshot` are always on the wire (`null` when
/// absent), as RTM has them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
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

    /// The INTERVAL event of a crowded channel.
    pub fn interval(channel_type: ChannelType, channel: &str, interval: IntervalDetail) -> Self {
        PresenceEvent {
            interval: Some(interval),
            ..Self::about(PresenceEventType::Interval, channel_type, channel, "")
        }
    }

    pub fn with_states(mut self, states: &States) -> Self {
        self.state_changed = states.clone();
        self
    }
}

/// `TopicEventType` of RTM 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TopicEventType {
    /// The topics of a stream channel, to a member that just joined it.
    Snapshot,
    /// A member joined topics as a publisher.
    RemoteJoin,
    /// A member left topics (or the channel) as a publisher.
    RemoteLeave,
}

/// `{ publisherUserId, publisherMeta }`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PublisherInfo {
    pub publisher_user_id: String,
    pub publisher_meta: String,
}

/// `{ topicName, publishers, totalPublisher }`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TopicInfo {
    pub topic_name: String,
    pub publishers: Vec<PublisherInfo>,
    pub total_publisher: usize,
}

impl TopicInfo {
    /// A topic with one publisher.
    pub fn one_publisher(topic: &str, user: &str, meta: &str) -> Self {
        TopicInfo {
            topic_name: topic.to_string(),
            publishers: vec![PublisherInfo { publisher_user_id: user.to_string(), publisher_meta: meta.to_string() }],
            total_publisher: 1,
        }
    }
}

/// The RTM `TopicEvent`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TopicEvent {
    pub event_type: TopicEventType,
    pub channel_name: String,
    pub publisher: String,
    pub topic_infos: Vec<TopicInfo>,
    pub total_topics: usize,
    pub timestamp: u64,
}

impl TopicEvent {
    pub fn new(event_type: TopicEventType, channel: &str, publisher: &str, topic_infos: Vec<TopicInfo>) -> Self {
        TopicEvent {
            event_type,
            channel_name: channel.to_string(),
            publisher: publisher.to_string(),
            total_topics: topic_infos.len(),
            topic_infos,
            timestamp: now_ms(),
        }
    }
}

/// `TokenEventType`: the warning 30 s before a token expires, and its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenEventType {
    WillExpire,
    Expired,
}

impl TokenEventType {
    /// The `reason` text the server sends with it.
    pub fn reason(self) -> &'static str {
        match self {
            TokenEventType::WillExpire => "The token is about to expire",
            TokenEventType::Expired => "The token expired",
        }
    }
}

/// `affectedResources` of a token event.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AffectedResources {
    pub message_channels: Vec<String>,
    pub stream_channels: Vec<String>,
}

/// The `token` event (RTM `TokenEvent`, plus `channelName`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TokenEvent {
    pub event_type: TokenEventType,
    pub reason: String,
    /// '' for the login token; the stream channel otherwise.
    pub channel_name: String,
    pub affected_resources: AffectedResources,
    pub timestamp: u64,
}

impl TokenEvent {
    /// The event about the login token (`channel` empty) or a stream channel's token.
    pub fn new(event_type: TokenEventType, channel: &str) -> Self {
        let stream_channels = if channel.is_empty() { vec![] } else { vec![channel.to_string()] };
        TokenEvent {
            event_type,
            reason: event_type.reason().to_string(),
            channel_name: channel.to_string(),
            affected_resources: AffectedResources { message_channels: vec![], stream_channels },
            timestamp: now_ms(),
        }
    }
}
