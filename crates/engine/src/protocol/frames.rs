//! The frames of protocol v1 as Rust types. Client frames (`op`) are decoded strictly; server
//! frames (`t`) are built by the helpers in [`super::codec`].

use serde::{Deserialize, Serialize};

/// The three channel types of RTM 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SessionKind {
    #[default]
    Rtm,
    Trtc,
}

/// A frame sent by a client, tagged by `op`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum ClientFrame {
    Hello(Hello),
    Ping(Ping),
    Logout(Logout),
    Subscribe(Subscribe),
    Unsubscribe(Unsubscribe),
    Publish(Publish),
}

impl ClientFrame {
    /// The request id, for frames that expect an answer.
    pub fn id(&self) -> Option<u64> {
        match self {
            ClientFrame::Hello(_) | ClientFrame::Ping(_) => None,
            ClientFrame::Logout(f) => Some(f.id),
            ClientFrame::Subscribe(f) => Some(f.id),
            ClientFrame::Unsubscribe(f) => Some(f.id),
            ClientFrame::Publish(f) => Some(f.id),
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
        }
    }

    /// Whether this op may carry a binary payload.
    pub fn takes_payload(&self) -> bool {
        matches!(self, ClientFrame::Publish(_))
    }
}

/// The first frame of every connection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hello {
    /// Protocol version the client speaks.
    pub v: u32,
    pub app_id: String,
    pub user_id: String,
    /// Login token (see SECURITY.md); absent or empty when the server runs without auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resume {
    pub session: String,
    pub secret: String,
    /// Server frames the client has received in that session.
    pub received: u64,
}

/// Heartbeat; `received` acknowledges server frames (lets the server trim its resume buffer).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ping {
    #[serde(default)]
    pub received: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Logout {
    pub id: u64,
}

fn yes() -> bool {
    true
}

/// Subscribe to a message channel (RTM `subscribe`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Unsubscribe {
    pub id: u64,
    pub channel: String,
}

/// Publish to a message channel or to a user. The payload is the binary frame's payload, or
/// `data` in a text frame (STRING messages only).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
}

/// What the server answers a `hello` with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Welcome {
    pub v: u32,
    pub session: String,
    pub resume_secret: String,
    pub resumed: bool,
    pub heartbeat: u32,
    pub server_time: u64,
    pub limits: WireLimits,
}

/// The limits a client needs to refuse bad calls before sending them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WireLimits {
    pub max_message_bytes: usize,
}

/// The fields of a message event, exactly as the RTM `message` event has them (minus
/// `message`, which is the frame's payload).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
