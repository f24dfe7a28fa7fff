//! The frames of storage, locks and history (docs/PROTOCOL.md#storage-locks-and-history): the
//! requests, and the `storage` / `lock` events the server sends.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::frames::{ChannelType, MessageType};
use crate::store::{LockDetail, LockEventType, MetaItem, MetaOptions, StorageData};

/// `setMetadata` / `updateMetadata` / `removeMetadata`: a channel's metadata (`channel` and
/// `channelType`) or a user's (`userId`), never both.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteMetadata {
    pub id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_type: Option<ChannelType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The items (for `removeMetadata`, none = all of them).
    #[serde(default)]
    pub items: Vec<MetaItem>,
    #[serde(default)]
    pub options: MetaOptions,
}

/// `getMetadata`: a channel's metadata or a user's.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetMetadata {
    pub id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_type: Option<ChannelType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// `subscribeUserMetadata` / `unsubscribeUserMetadata`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserMetadataRef {
    pub id: u64,
    pub user_id: String,
}

/// `setLock` (with `ttl`), `acquireLock` (with `retry`), `releaseLock`, `removeLock`,
/// `revokeLock` (with `owner`). A field an op does not take is refused, not ignored.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LockRequest {
    pub id: u64,
    pub channel_type: ChannelType,
    pub channel: String,
    pub lock_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retry: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// `getLock`: every lock of a channel.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetLock {
    pub id: u64,
    pub channel_type: ChannelType,
    pub channel: String,
}

/// `getMessages`: a page of a channel's history (`USER`: the caller's own inbox, `channel` =
/// its user id), newest first; `start` the newer bound (0 = now), `end` the older (0 = none).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetMessages {
    pub id: u64,
    pub channel_type: ChannelType,
    pub channel: String,
    /// Absent: 100, or the server's `storage.maxHistoryPage` when that is smaller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_count: Option<usize>,
    #[serde(default)]
    pub start: u64,
    #[serde(default)]
    pub end: u64,
}

/// `storageType` of a storage event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageType {
    User,
    Channel,
}

/// `eventType` of a storage event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageEventType {
    Snapshot,
    Set,
    Update,
    Remove,
}

/// The RTM `StorageEvent` (`t: "storage"`): the whole metadata after the change. For user
/// metadata `channelType` is `USER` and `channelName` the user id.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageEvent {
    pub channel_type: ChannelType,
    pub channel_name: String,
    pub publisher: String,
    pub storage_type: StorageType,
    pub event_type: StorageEventType,
    pub data: StorageData,
    pub timestamp: u64,
}

/// The RTM `LockEvent` (`t: "lock"`): `snapshot` lists every lock on a SNAPSHOT (empty
/// otherwise); `owner` is the holder after the change ('' = free).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LockEvent {
    pub channel_type: ChannelType,
    pub channel_name: String,
    pub event_type: LockEventType,
    pub lock_name: String,
    pub ttl: u32,
    pub publisher: String,
    pub snapshot: Vec<LockDetail>,
    pub owner: String,
    pub timestamp: u64,
}

/// One message of a `getMessages` answer on the wire. A text payload is the string itself; a
/// binary or end-to-end encrypted one is base64 (`encrypted`: the publisher's ciphertext, for
/// the client to decrypt). The client hands JavaScript the payload in its own type.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WireHistoryMessage {
    pub message: String,
    pub message_type: MessageType,
    pub custom_type: String,
    pub publisher: String,
    pub timestamp: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
}

/// The `getMessages` answer (`GetMessagesResponse`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GetMessagesResponse {
    pub message_list: Vec<WireHistoryMessage>,
    pub count: usize,
    pub new_start: u64,
    pub timestamp: u64,
}

impl GetMessagesResponse {
    /// The answer for a page of history.
    pub fn from_page(page: crate::store::HistoryPage) -> Self {
        use base64::Engine as _;
        let message_list: Vec<WireHistoryMessage> = page
            .messages
            .into_iter()
            .map(|m| {
                let message = match (m.message_type, m.encrypted) {
                    (MessageType::String, false) => String::from_utf8_lossy(&m.payload).into_owned(),
                    _ => base64::engine::general_purpose::STANDARD.encode(&m.payload),
                };
                WireHistoryMessage {
                    message,
                    message_type: m.message_type,
                    custom_type: m.custom_type,
                    publisher: m.publisher,
                    timestamp: m.timestamp,
                    encrypted: m.encrypted,
                }
            })
            .collect();
        GetMessagesResponse {
            count: message_list.len(),
            message_list,
            new_start: page.new_start,
            timestamp: crate::time::now_ms(),
        }
    }
}
