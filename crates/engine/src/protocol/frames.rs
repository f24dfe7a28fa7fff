//! The frames of protocol v1 as Rust types. Client frames (`op`) are decoded strictly; server
//! frames (`t`) are built by the helpers in [`super::codec`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::storage::{GetLock, GetMessages, GetMetadata, LockRequest, UserMetadataRef, WriteMetadata};
use crate::secret::Secret;

fn is_false(value: &bool) -> bool {
    !*value
}

/// The three channel types of RTM 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChannelType {
    #[default]
    Message,
    Stream,
    User,
}

impl ChannelType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelType::Message => "MESSAGE",
            ChannelType::Stream => "STREAM",
            ChannelType::User => "USER",
        }
    }
}

/// Whether a payload is text (delivered as a JS string) or bytes (delivered as `Uint8Array`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageType {
    String,
    Binary,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::String => "STRING",
            MessageType::Binary => "BINARY",
        }
    }
}

/// Which API a session belongs to. An RTM login and a TRTC room entry with the same user id
/// are separate sessions (an Electron app typically runs both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum SessionKind {
    #[default]
    Rtm,
    Trtc,
}

/// A frame sent by a client, tagged by `op`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum ClientFrame {
    Hello(Hello),
    Ping(Ping),
    Logout(Logout),
    Subscribe(Subscribe),
    Unsubscribe(Unsubscribe),
    Publish(Publish),
    Join(Join),
    Leave(ChannelRef),
    JoinTopic(JoinTopic),
    LeaveTopic(TopicRef),
    PublishTopic(PublishTopic),
    SubscribeTopic(TopicUsers),
    UnsubscribeTopic(TopicUsers),
    RealtimeJoin(RealtimeScope),
    RealtimeLeave(RealtimeScope),
    RealtimeSend(RealtimeSend),
    WhoNow(WhoNow),
    WhereNow(WhereNow),
    SetState(SetState),
    GetState(GetState),
    RemoveState(RemoveState),
    EnterRoom(EnterRoom),
    ExitRoom(ExitRoom),
    SwitchRole(SwitchRole),
    SwitchRoom(SwitchRoom),
    CustomCmd(CustomCmd),
    RenewToken(RenewToken),
    SetMetadata(WriteMetadata),
    UpdateMetadata(WriteMetadata),
    RemoveMetadata(WriteMetadata),
    GetMetadata(GetMetadata),
    SubscribeUserMetadata(UserMetadataRef),
    UnsubscribeUserMetadata(UserMetadataRef),
    SetLock(LockRequest),
    AcquireLock(LockRequest),
    ReleaseLock(LockRequest),
    RemoveLock(LockRequest),
    RevokeLock(LockRequest),
    GetLock(GetLock),
    GetMessages(GetMessages),
}

impl ClientFrame {
    /// The request id, for frames that expect an answer.
    pub fn id(&self) -> Option<u64> {
        Some(match self {
            ClientFrame::Hello(_) | ClientFrame::Ping(_) | ClientFrame::RealtimeSend(_) | ClientFrame::CustomCmd(_) => {
                return None
            }
            ClientFrame::Logout(f) => f.id,
            ClientFrame::Subscribe(f) => f.id,
            ClientFrame::Unsubscribe(f) => f.id,
            ClientFrame::Publish(f) => f.id,
            ClientFrame::Join(f) => f.id,
            ClientFrame::Leave(f) => f.id,
            ClientFrame::JoinTopic(f) => f.id,
            ClientFrame::LeaveTopic(f) => f.id,
            ClientFrame::PublishTopic(f) => f.id,
            ClientFrame::SubscribeTopic(f) | ClientFrame::UnsubscribeTopic(f) => f.id,
            ClientFrame::RealtimeJoin(f) | ClientFrame::RealtimeLeave(f) => f.id,
            ClientFrame::WhoNow(f) => f.id,
            ClientFrame::WhereNow(f) => f.id,
            ClientFrame::SetState(f) => f.id,
            ClientFrame::GetState(f) => f.id,
            ClientFrame::RemoveState(f) => f.id,
            ClientFrame::EnterRoom(f) => f.id,
            ClientFrame::ExitRoom(f) => f.id,
            ClientFrame::SwitchRole(f) => f.id,
            ClientFrame::SwitchRoom(f) => f.id,
            ClientFrame::RenewToken(f) => f.id,
            ClientFrame::SetMetadata(f) | ClientFrame::UpdateMetadata(f) | ClientFrame::RemoveMetadata(f) => f.id,
            ClientFrame::GetMetadata(f) => f.id,
            ClientFrame::SubscribeUserMetadata(f) | ClientFrame::UnsubscribeUserMetadata(f) => f.id,
            ClientFrame::SetLock(f)
            | ClientFrame::AcquireLock(f)
            | ClientFrame::ReleaseLock(f)
            | ClientFrame::RemoveLock(f)
            | ClientFrame::RevokeLock(f) => f.id,
            ClientFrame::GetLock(f) => f.id,
            ClientFrame::GetMessages(f) => f.id,
        })
    }

    /// Sets the request id (clients number their requests when they send them).
    pub fn set_id(&mut self, id: u64) {
        match self {
            ClientFrame::Hello(_) | ClientFrame::Ping(_) | ClientFrame::RealtimeSend(_) | ClientFrame::CustomCmd(_) => {
            }
            ClientFrame::Logout(f) => f.id = id,
            ClientFrame::Subscribe(f) => f.id = id,
            ClientFrame::Unsubscribe(f) => f.id = id,
            ClientFrame::Publish(f) => f.id = id,
            ClientFrame::Join(f) => f.id = id,
            ClientFrame::Leave(f) => f.id = id,
            ClientFrame::JoinTopic(f) => f.id = id,
            ClientFrame::LeaveTopic(f) => f.id = id,
            ClientFrame::PublishTopic(f) => f.id = id,
            ClientFrame::SubscribeTopic(f) | ClientFrame::UnsubscribeTopic(f) => f.id = id,
            ClientFrame::RealtimeJoin(f) | ClientFrame::RealtimeLeave(f) => f.id = id,
            ClientFrame::WhoNow(f) => f.id = id,
            ClientFrame::WhereNow(f) => f.id = id,
            ClientFrame::SetState(f) => f.id = id,
            ClientFrame::GetState(f) => f.id = id,
            ClientFrame::RemoveState(f) => f.id = id,
            ClientFrame::EnterRoom(f) => f.id = id,
            ClientFrame::ExitRoom(f) => f.id = id,
            ClientFrame::SwitchRole(f) => f.id = id,
            ClientFrame::SwitchRoom(f) => f.id = id,
            ClientFrame::RenewToken(f) => f.id = id,
            ClientFrame::SetMetadata(f) | ClientFrame::UpdateMetadata(f) | ClientFrame::RemoveMetadata(f) => f.id = id,
            ClientFrame::GetMetadata(f) => f.id = id,
            ClientFrame::SubscribeUserMetadata(f) | ClientFrame::UnsubscribeUserMetadata(f) => f.id = id,
            ClientFrame::SetLock(f)
            | ClientFrame::AcquireLock(f)
            | ClientFrame::ReleaseLock(f)
            | ClientFrame::RemoveLock(f)
            | ClientFrame::RevokeLock(f) => f.id = id,
            ClientFrame::GetLock(f) => f.id = id,
            ClientFrame::GetMessages(f) => f.id = id,
        }
    }

    /// The op name, for logs and error reasons.
    pub fn op(&self) -> &'static str {
        match self {
            ClientFrame::Hello(_) => "hello",
            ClientFrame::Ping(_) => "ping",
            ClientFrame::Logout(_) => "logout",
            ClientFrame::Subscribe(_) => "subscribe",
            ClientFrame::Unsubscribe(_) => "unsubscribe",
            ClientFrame::Publish(_) => "publish",
            ClientFrame::Join(_) => "join",
            ClientFrame::Leave(_) => "leave",
            ClientFrame::JoinTopic(_) => "joinTopic",
            ClientFrame::LeaveTopic(_) => "leaveTopic",
            ClientFrame::PublishTopic(_) => "publishTopic",
            ClientFrame::SubscribeTopic(_) => "subscribeTopic",
            ClientFrame::UnsubscribeTopic(_) => "unsubscribeTopic",
            ClientFrame::RealtimeJoin(_) => "realtimeJoin",
            ClientFrame::RealtimeLeave(_) => "realtimeLeave",
            ClientFrame::RealtimeSend(_) => "realtimeSend",
            ClientFrame::WhoNow(_) => "whoNow",
            ClientFrame::WhereNow(_) => "whereNow",
            ClientFrame::SetState(_) => "setState",
            ClientFrame::GetState(_) => "getState",
            ClientFrame::RemoveState(_) => "removeState",
            ClientFrame::EnterRoom(_) => "enterRoom",
            ClientFrame::ExitRoom(_) => "exitRoom",
            ClientFrame::SwitchRole(_) => "switchRole",
            ClientFrame::SwitchRoom(_) => "switchRoom",
            ClientFrame::CustomCmd(_) => "customCmd",
            ClientFrame::RenewToken(_) => "renewToken",
            ClientFrame::SetMetadata(_) => "setMetadata",
            ClientFrame::UpdateMetadata(_) => "updateMetadata",
            ClientFrame::RemoveMetadata(_) => "removeMetadata",
            ClientFrame::GetMetadata(_) => "getMetadata",
            ClientFrame::SubscribeUserMetadata(_) => "subscribeUserMetadata",
            ClientFrame::UnsubscribeUserMetadata(_) => "unsubscribeUserMetadata",
            ClientFrame::SetLock(_) => "setLock",
            ClientFrame::AcquireLock(_) => "acquireLock",
            ClientFrame::ReleaseLock(_) => "releaseLock",
            ClientFrame::RemoveLock(_) => "removeLock",
            ClientFrame::RevokeLock(_) => "revokeLock",
            ClientFrame::GetLock(_) => "getLock",
            ClientFrame::GetMessages(_) => "getMessages",
        }
    }

    /// Whether this op may carry a binary payload.
    pub fn takes_payload(&self) -> bool {
        matches!(
            self,
            ClientFrame::Publish(_)
                | ClientFrame::PublishTopic(_)
                | ClientFrame::RealtimeSend(_)
                | ClientFrame::CustomCmd(_)
        )
    }
}

/// The first frame of every connection.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hello {
    /// Protocol version the client speaks.
    pub v: u32,
    pub app_id: String,
    pub user_id: String,
    /// Login token (see SECURITY.md); absent or empty when the server runs without auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    #[serde(default)]
    pub kind: SessionKind,
    /// Seconds between the client's pings; the server drops the link after two silent intervals.
    pub heartbeat: u32,
    /// Seconds the session outlives a lost connection before others see it time out.
    pub presence_timeout: u32,
    /// Reserved for session resume: the session to continue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
    /// Free-form client description for logs (e.g. `piazza-node/0.1.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

/// Which session a reconnecting client wants back, and how far it got.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resume {
    pub session: String,
    pub secret: String,
    /// Server frames the client has received in that session.
    pub received: u64,
}

/// Heartbeat; `received` acknowledges server frames (lets the server trim its resume buffer).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ping {
    #[serde(default)]
    pub received: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Logout {
    pub id: u64,
}

fn yes() -> bool {
    true
}

/// Subscribe to a message channel (RTM `subscribe`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subscribe {
    pub id: u64,
    pub channel: String,
    #[serde(default = "yes")]
    pub with_message: bool,
    #[serde(default = "yes")]
    pub with_presence: bool,
    #[serde(default)]
    pub be_quiet: bool,
    #[serde(default)]
    pub with_metadata: bool,
    #[serde(default)]
    pub with_lock: bool,
    /// Cluster recovery: the offset (`o`) of the last message of this channel the client got
    /// before its node went away; the messages after it follow the answer (`recovered` says
    /// whether all of them were still kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
}

/// The options of RTM `subscribe` (`SubscribeOptions`): what the client asks for, and what the
/// hub keeps per subscription. The default is the `subscribe` frame's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribeOptions {
    pub with_message: bool,
    pub with_presence: bool,
    pub be_quiet: bool,
    pub with_metadata: bool,
    pub with_lock: bool,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            with_message: yes(),
            with_presence: yes(),
            be_quiet: false,
            with_metadata: false,
            with_lock: false,
        }
    }
}

impl Subscribe {
    /// The frame subscribing to `channel` with `options` (its `id` is set when it is sent).
    pub fn new(channel: String, options: SubscribeOptions) -> Self {
        let SubscribeOptions { with_message, with_presence, be_quiet, with_metadata, with_lock } = options;
        Subscribe { id: 0, channel, with_message, with_presence, be_quiet, with_metadata, with_lock, since: None }
    }

    pub fn options(&self) -> SubscribeOptions {
        SubscribeOptions {
            with_message: self.with_message,
            with_presence: self.with_presence,
            be_quiet: self.be_quiet,
            with_metadata: self.with_metadata,
            with_lock: self.with_lock,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Unsubscribe {
    pub id: u64,
    pub channel: String,
}

/// Publish to a message channel or to a user. The payload is the binary frame's payload, or
/// `data` in a text frame (STRING messages only).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Publish {
    pub id: u64,
    pub channel: String,
    #[serde(default)]
    pub channel_type: ChannelType,
    pub message_type: MessageType,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub custom_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The payload is end-to-end encrypted (opaque to the server).
    #[serde(default, skip_serializing_if = "is_false")]
    pub encrypted: bool,
    /// Keep the message in the channel's history (`storeInHistory`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub store_in_history: bool,
}

/// Join a stream channel (RTM `StreamChannel.join`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Join {
    pub id: u64,
    pub channel: String,
    /// The stream-channel token (see SECURITY.md); empty or absent without auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    #[serde(default = "yes")]
    pub with_presence: bool,
    #[serde(default)]
    pub be_quiet: bool,
    #[serde(default)]
    pub with_metadata: bool,
    #[serde(default)]
    pub with_lock: bool,
}

/// A request naming a stream channel (`leave`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelRef {
    pub id: u64,
    pub channel: String,
}

/// Become a publisher of a topic (`joinTopic`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JoinTopic {
    pub id: u64,
    pub channel: String,
    pub topic: String,
    #[serde(default)]
    pub meta: String,
}

/// A request naming a topic (`leaveTopic`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopicRef {
    pub id: u64,
    pub channel: String,
    pub topic: String,
}

/// Publish in a topic; the payload as for `publish`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishTopic {
    pub id: u64,
    pub channel: String,
    pub topic: String,
    pub message_type: MessageType,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub custom_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The payload is end-to-end encrypted (opaque to the server).
    #[serde(default, skip_serializing_if = "is_false")]
    pub encrypted: bool,
}

/// `subscribeTopic` / `unsubscribeTopic`: publishers of a topic (`users` absent = all).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopicUsers {
    pub id: u64,
    pub channel: String,
    pub topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<String>>,
}

/// Join or leave a realtime channel (webxdc `joinRealtimeChannel`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RealtimeScope {
    pub id: u64,
    pub scope: String,
}

/// A realtime datagram: best effort, no answer; the payload is the data.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RealtimeSend {
    pub scope: String,
    /// The payload is end-to-end encrypted (opaque to the server).
    #[serde(default, skip_serializing_if = "is_false")]
    pub encrypted: bool,
}

/// Replaces the login token (no `channel`) or the token of a joined stream channel.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenewToken {
    pub id: u64,
    pub token: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// Who is in a channel (`presence.whoNow` / `getOnlineUsers`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WhoNow {
    pub id: u64,
    pub channel: String,
    pub channel_type: ChannelType,
    #[serde(default = "yes")]
    pub included_user_id: bool,
    #[serde(default)]
    pub included_state: bool,
    /// The `nextPage` bookmark of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

/// Where a user is (`presence.whereNow` / `getUserChannels`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WhereNow {
    pub id: u64,
    pub user_id: String,
}

/// Sets (merges) the caller's temporary states in a channel.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetState {
    pub id: u64,
    pub channel: String,
    pub channel_type: ChannelType,
    pub states: std::collections::BTreeMap<String, String>,
}

/// A user's states in a channel.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetState {
    pub id: u64,
    pub user_id: String,
    pub channel: String,
    pub channel_type: ChannelType,
}

/// Removes the caller's states (`keys` absent or empty: all of them).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoveState {
    pub id: u64,
    pub channel: String,
    pub channel_type: ChannelType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
}

/// A TRTC room: numeric `roomId` (1..=4294967294) or string `strRoomId`; the two are separate
/// namespaces (`5` and `"5"` are different rooms).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RoomId {
    Num(u64),
    Str(String),
}

impl std::fmt::Display for RoomId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RoomId::Num(n) => write!(f, "{n}"),
            RoomId::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// TRTC roles (`TRTCRoleType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    #[default]
    Anchor,
    Audience,
}

/// TRTC scenes (`TRTCAppScene`). In LIVE and VoiceChatRoom only anchors are announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum Scene {
    #[default]
    VideoCall,
    Live,
    AudioCall,
    VoiceChatRoom,
}

impl Scene {
    /// Whether audience members are silent (not announced).
    pub fn has_audience(self) -> bool {
        matches!(self, Scene::Live | Scene::VoiceChatRoom)
    }
}

/// Enter a room (TRTC `enterRoom`); the session's user id and app are those of its hello.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnterRoom {
    pub id: u64,
    pub room: RoomId,
    #[serde(default)]
    pub role: Role,
    #[serde(default)]
    pub scene: Scene,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExitRoom {
    pub id: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SwitchRole {
    pub id: u64,
    pub role: Role,
}

/// Leave the current room and enter another in one step (TRTC `switchRoom`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SwitchRoom {
    pub id: u64,
    pub room: RoomId,
    /// A room token (userSig) for the new room, when auth is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
}

/// A custom message to the others in the room (TRTC `sendCustomCmdMsg`); no answer. `seq`
/// counts per sender and `cmdId`, so receivers can detect gaps.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomCmd {
    pub cmd_id: u32,
    pub seq: u64,
    pub reliable: bool,
    pub ordered: bool,
    pub message_type: MessageType,
}

/// What the server answers a `hello` with.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Welcome {
    pub v: u32,
    pub session: String,
    pub resume_secret: String,
    /// Whether the `resume` of the hello was honoured: the session, its memberships and its
    /// frame sequence continue.
    pub resumed: bool,
    /// Highest request id the session handled; a resumed client re-sends the requests after it.
    #[serde(default)]
    pub last_request: u64,
    pub heartbeat: u32,
    /// Seconds the session outlives a lost connection (the hello's `presenceTimeout`, or the
    /// server's `rooms.dropTimeoutSeconds` for a TRTC hello that left it to the server).
    #[serde(default)]
    pub presence_timeout: u32,
    pub server_time: u64,
    pub limits: WireLimits,
}

/// The limits a client needs to refuse bad calls before sending them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WireLimits {
    pub max_message_bytes: usize,
    pub max_realtime_bytes: usize,
}

/// The fields of a message event, exactly as the RTM `message` event has them (minus
/// `message`, which is the frame's payload).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MessageHeader {
    pub channel_type: ChannelType,
    pub channel_name: String,
    pub topic_name: String,
    pub message_type: MessageType,
    pub custom_type: String,
    pub publisher: String,
    pub timestamp: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_options_default_to_what_the_frame_defaults_to() {
        let frame: Subscribe = serde_json::from_str(r#"{"id":1,"channel":"c"}"#).unwrap();
        assert_eq!(frame.options(), SubscribeOptions::default());
        let options = SubscribeOptions { with_message: false, be_quiet: true, with_lock: true, ..Default::default() };
        assert_eq!(Subscribe::new("c".into(), options).options(), options);
    }
}
