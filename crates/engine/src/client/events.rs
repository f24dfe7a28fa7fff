//! What a client reports: answers to requests, messages, pass-through server events, and link
//! state changes. They leave the engine through [`EventSink`], in the order they happened.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use crate::error::Error;
use crate::protocol::{PresenceEvent, RoomEvent, TokenEvent, TopicEvent};
use crate::time::now_ms;

/// A message payload, in the type it was published in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Text(String),
    Binary(Bytes),
}

impl Payload {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Payload::Text(s) => s.as_bytes(),
            Payload::Binary(b) => b,
        }
    }
}

/// One event from a client, in the order it happened.
#[derive(Debug)]
pub enum ClientEvent {
    /// The answer to a request submitted with [`super::Route::Tag`]: the RTM response object,
    /// or the error.
    Response { tag: u64, result: Result<Box<RawValue>, Error> },
    /// A `message` event: `header` is the RTM message event object without `message`.
    Message { header: Box<RawValue>, payload: Payload },
    /// An event passed on as its RTM event object (JSON): presence, topic and token events from
    /// the server, and the client's own `error` and room-restore reports.
    Event { kind: EventKind, body: Box<RawValue> },
    /// A room event: someone entered or left, with why, or this client is out of its room.
    Room(RoomEvent<'static>),
    /// The link changed state (`linkState`).
    LinkState(LinkStateEvent),
    /// A realtime-channel datagram.
    Realtime { scope: String, data: Bytes },
    /// A TRTC custom message: its header (`userId`, `cmdId`, `seq`, `reliable`) and the payload
    /// in the type it was sent in.
    Cmd { header: Box<RawValue>, payload: Payload },
}

impl ClientEvent {
    /// This presence event, typed; `None` for any other event.
    ///
    /// The body stays raw JSON in [`ClientEvent::Event`] and is decoded here, on demand, because
    /// the Node binding forwards it untouched into the one JSON string of each batch: decoding
    /// every event up front (and encoding it again for JavaScript) would cost on the hot path
    /// for a value JavaScript never sees. A Rust program that wants the value pays for it here.
    pub fn presence(&self) -> Option<Result<PresenceEvent, serde_json::Error>> {
        self.decode(EventKind::Presence)
    }

    /// This topic event of a stream channel, typed (decoded on demand, see
    /// [`ClientEvent::presence`]); `None` for any other event.
    pub fn topic(&self) -> Option<Result<TopicEvent, serde_json::Error>> {
        self.decode(EventKind::Topic)
    }

    /// This token event, typed (decoded on demand, see [`ClientEvent::presence`]); `None` for
    /// any other event.
    pub fn token(&self) -> Option<Result<TokenEvent, serde_json::Error>> {
        self.decode(EventKind::Token)
    }

    /// This storage event, typed (decoded on demand, see [`ClientEvent::presence`]).
    pub fn storage(&self) -> Option<Result<crate::protocol::StorageEvent, serde_json::Error>> {
        self.decode(EventKind::Storage)
    }

    /// This lock event, typed (decoded on demand, see [`ClientEvent::presence`]).
    pub fn lock(&self) -> Option<Result<crate::protocol::LockEvent, serde_json::Error>> {
        self.decode(EventKind::Lock)
    }

    fn decode<T: DeserializeOwned>(&self, want: EventKind) -> Option<Result<T, serde_json::Error>> {
        match self {
            ClientEvent::Event { kind, body } if *kind == want => Some(serde_json::from_str(body.get())),
            _ => None,
        }
    }
}

/// What an [`ClientEvent::Event`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// An RTM presence event.
    Presence,
    /// An RTM topic event of a stream channel.
    Topic,
    /// An RTM token event (`WILL_EXPIRE`, `EXPIRED`).
    Token,
    /// An RTM storage event (channel or user metadata).
    Storage,
    /// An RTM lock event.
    Lock,
    /// A message that could not be delivered (`RTM_ERROR_CHANNEL_ENCRYPT_MESSAGE_FAILED`…).
    Error,
    /// The room was entered again after a reconnect that could not resume (the `enterRoom`
    /// answer).
    RoomRestored,
    /// The room could not be entered again after such a reconnect (the error).
    RoomRestoreFailed,
}

impl EventKind {
    /// The name the JavaScript layer dispatches on.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Presence => "presence",
            EventKind::Topic => "topic",
            EventKind::Token => "token",
            EventKind::Storage => "storage",
            EventKind::Lock => "lock",
            EventKind::Error => "error",
            EventKind::RoomRestored => "roomRestored",
            EventKind::RoomRestoreFailed => "roomRestoreFailed",
        }
    }
}

/// RTM 2 link states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LinkState {
    Idle,
    Connecting,
    Connected,
    Disconnected,
    Suspended,
    Failed,
}

/// RTM 2 link operations (what caused a state change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LinkOperation {
    Login,
    Logout,
    ServerReject,
    AutoReconnect,
    Reconnected,
    HeartbeatTimeout,
    ServerTimeout,
    NetworkChange,
}

/// RTM 2 reason codes (`LinkStateChangeReasonCode`) Piazza reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LinkReason {
    Login,
    LoginSuccess,
    LoginTimeout,
    LoginNotAuthorized,
    LoginRejected,
    Logout,
    AutoReconnect,
    ReconnectSuccess,
    ReconnectTimeout,
    InvalidToken,
    TokenExpired,
    InconsistentAppId,
    InvalidUserId,
    SameUidLogin,
    KickedOutByServer,
    KeepAliveTimeout,
    ConnectionError,
    ServiceNotSupported,
}

impl LinkReason {
    /// The RTM description text of the reason (`LinkStateChangeReasonDescription`).
    pub fn description(self) -> &'static str {
        match self {
            LinkReason::Login => "Perform login operation",
            LinkReason::LoginSuccess => "Login success",
            LinkReason::LoginTimeout => "Login timeout",
            LinkReason::LoginNotAuthorized => "Login not authorized",
            LinkReason::LoginRejected => "Login rejected",
            LinkReason::Logout => "Logout success",
            LinkReason::AutoReconnect => "Reconnecting",
            LinkReason::ReconnectSuccess => "Reconnect success",
            LinkReason::ReconnectTimeout => "Reconnect timeout",
            LinkReason::InvalidToken => "Invalid token",
            LinkReason::TokenExpired => "Token expired",
            LinkReason::InconsistentAppId => "Inconsistent app ID",
            LinkReason::InvalidUserId => "Invalid user ID",
            LinkReason::SameUidLogin => "The same uid login on another device",
            LinkReason::KickedOutByServer => "Kicked out by server",
            LinkReason::KeepAliveTimeout => "Keep alive timeout",
            LinkReason::ConnectionError => "Connection error",
            LinkReason::ServiceNotSupported => "Service not supported",
        }
    }
}

/// The `linkState` event, field for field as RTM 2 has it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkStateEvent {
    pub current_state: LinkState,
    pub previous_state: LinkState,
    pub service_type: &'static str,
    pub operation: LinkOperation,
    pub reason: String,
    pub reason_code: LinkReason,
    pub affected_channels: Vec<String>,
    pub unrestored_channels: Vec<String>,
    pub is_resumed: bool,
    pub timestamp: u64,
}

impl LinkStateEvent {
    pub fn new(current: LinkState, previous: LinkState, operation: LinkOperation, reason: LinkReason) -> Self {
        LinkStateEvent {
            current_state: current,
            previous_state: previous,
            service_type: "MESSAGE",
            operation,
            reason: reason.description().to_string(),
            reason_code: reason,
            affected_channels: Vec::new(),
            unrestored_channels: Vec::new(),
            is_resumed: false,
            timestamp: now_ms(),
        }
    }
}

/// Where a client's events go. The addon implements it with a batching threadsafe function;
/// [`ChannelSink`] hands them to Rust code.
pub trait EventSink: Send + Sync + 'static {
    fn emit(&self, event: ClientEvent);

    /// The reader goes through frames that arrived together: the events emitted until
    /// [`EventSink::flush`] may wait for it, so that the application is woken once for all of
    /// them (waking it costs more than an event).
    fn hold(&self) {}

    /// The burst is over: what [`EventSink::hold`] kept waiting goes out.
    fn flush(&self) {}

    /// When the sink holds too many undelivered events, a future that resolves once it has
    /// room again. The client stops reading from the server meanwhile, so back-pressure
    /// reaches the server (whose slow-consumer policy then applies) instead of memory growing.
    fn congestion(&self) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> {
        None
    }
}

/// An [`EventSink`] that forwards events into an unbounded tokio channel.
pub struct ChannelSink(mpsc::UnboundedSender<ClientEvent>);

impl ChannelSink {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<ClientEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (ChannelSink(tx), rx)
    }
}

impl EventSink for ChannelSink {
    fn emit(&self, event: ClientEvent) {
        let _ = self.0.send(event);
    }
}
