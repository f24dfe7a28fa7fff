//! Server → client frames, both ways: the server encodes them with the functions here and the
//! client decodes them into [`ServerFrame`]. Every frame's `t` is a [`FrameKind`]; no other
//! file spells one. Room events and their reasons are typed ([`RoomEvent`], [`ExitReason`],
//! [`LeaveReason`]), so a Rust program learns "I was removed" from a value, not from JSON.
//!
//! Event bodies that the client only passes on to JavaScript (presence, topic, token events,
//! the message header) stay borrowed raw JSON on the way in: the event path into JS is one JSON
//! string per batch, and re-encoding a typed value there would cost on every message. The
//! presence, topic and token bodies are typed in [`super::events`]: the hub encodes those types,
//! and `ClientEvent::presence`, `topic` and `token` decode a body on demand for Rust programs.

use std::borrow::Cow;

use bytes::{BufMut, BytesMut};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::codec::{encode_binary, split_binary};
use super::{MessageHeader, MessageType, Welcome};
use crate::error::{Error, ErrorCode};

/// The `t` of a server frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameKind {
    /// The answer to a `hello`.
    Welcome,
    /// The answer to a `ping`.
    Pong,
    /// A request succeeded: `id`, `r` (the RTM response object).
    Ok,
    /// A request (or a frame without an id) failed: `id`, `code`, `name`, `reason`.
    Err,
    /// A message or topic message (binary: header `mt`, `enc`, `e`; the payload).
    Msg,
    /// A realtime datagram (binary: header `scope`, `enc`; the payload).
    Rt,
    /// A TRTC custom message (binary: header `mt`, `e`; the payload).
    Cmd,
    /// A presence event (`e`: the RTM presence event).
    Presence,
    /// A stream-channel topic event (`e`: the RTM topic event).
    Topic,
    /// A room event (`e`: a [`RoomEvent`]).
    Room,
    /// A token event (`e`: the RTM token event).
    Token,
    /// A storage (metadata) event (`e`: the RTM storage event).
    Storage,
    /// A lock event (`e`: the RTM lock event).
    Lock,
}

impl FrameKind {
    /// The name JavaScript sees for a pass-through event (`presence`, `topic`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            FrameKind::Welcome => "welcome",
            FrameKind::Pong => "pong",
            FrameKind::Ok => "ok",
            FrameKind::Err => "err",
            FrameKind::Msg => "msg",
            FrameKind::Rt => "rt",
            FrameKind::Cmd => "cmd",
            FrameKind::Presence => "presence",
            FrameKind::Topic => "topic",
            FrameKind::Room => "room",
            FrameKind::Token => "token",
            FrameKind::Storage => "storage",
            FrameKind::Lock => "lock",
        }
    }
}

/// Why a remote member left a room: the `reason` of TRTC's `onRemoteUserLeaveRoom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaveReason {
    /// 0: it exited.
    Left,
    /// 1: its connection was lost for longer than its presence timeout.
    TimedOut,
    /// 2: the server removed it (kick, or its room was dismissed).
    Removed,
    /// 3: an anchor became audience in a scene where the audience is not announced.
    BecameAudience,
}

/// Why this client left a room: the `reason` of TRTC's `onExitRoom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitReason {
    /// 0: `exitRoom()` was called.
    Exited,
    /// 1: removed by the server (kick), or replaced by the same user id entering elsewhere.
    Removed,
    /// 2: the room was dismissed.
    Dismissed,
}

macro_rules! numbered {
    ($name:ident, $what:literal, $( $variant:ident = $n:literal ),* ) => {
        impl $name {
            /// The number TRTC uses for it.
            pub fn code(self) -> u8 {
                match self { $( $name::$variant => $n, )* }
            }

            /// The reason with TRTC's number `n`.
            pub fn from_code(n: u8) -> Option<Self> {
                match n { $( $n => Some($name::$variant), )* _ => None }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u8(self.code())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let n = u8::deserialize(d)?;
                $name::from_code(n).ok_or_else(|| serde::de::Error::custom(format!("{} {n} is not known", $what)))
            }
        }

        /// TRTC's number (an integer), not the variant's name.
        impl schemars::JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let names = [ $( format!("{} = {}", $n, stringify!($variant)) ),* ].join(", ");
                schemars::json_schema!({
                    "description": format!("The {} as TRTC numbers it: {names}.", $what),
                    "type": "integer",
                    "enum": [ $( $n ),* ]
                })
            }
        }
    };
}

numbered!(LeaveReason, "leave reason", Left = 0, TimedOut = 1, Removed = 2, BecameAudience = 3);
numbered!(ExitReason, "exit reason", Exited = 0, Removed = 1, Dismissed = 2);

/// A room event (`{"t":"room","e":{"event":…}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum RoomEvent<'a> {
    /// An announced member entered (every member in call scenes; anchors in LIVE and
    /// VoiceChatRoom).
    #[serde(rename_all = "camelCase")]
    RemoteEnter { user_id: Cow<'a, str> },
    /// An announced member left, with why.
    #[serde(rename_all = "camelCase")]
    RemoteLeave { user_id: Cow<'a, str>, reason: LeaveReason },
    /// To the member itself: it is out of the room. `code` is a TRTC error code reported first
    /// (`ERR_USER_ENTERED_ELSEWHERE` when the same user id took its place).
    #[serde(rename_all = "camelCase")]
    Exit {
        reason: ExitReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        message: Cow<'a, str>,
    },
}

impl RoomEvent<'_> {
    /// The same event owning its strings.
    pub fn into_owned(self) -> RoomEvent<'static> {
        match self {
            RoomEvent::RemoteEnter { user_id } => RoomEvent::RemoteEnter { user_id: Cow::Owned(user_id.into_owned()) },
            RoomEvent::RemoteLeave { user_id, reason } => {
                RoomEvent::RemoteLeave { user_id: Cow::Owned(user_id.into_owned()), reason }
            }
            RoomEvent::Exit { reason, code, message } => {
                RoomEvent::Exit { reason, code, message: Cow::Owned(message.into_owned()) }
            }
        }
    }
}

/// The header of a custom room message (`cmd`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CmdHeader<'a> {
    pub user_id: Cow<'a, str>,
    pub cmd_id: u32,
    pub seq: u64,
    pub reliable: bool,
}

/// A frame is kept until the client acknowledges it (answers to requests even longer, for
/// repeated ids), so its buffer is cut to its length: serde_json starts at 128 bytes, and a
/// `Bytes` made from a `Vec` with spare capacity allocates a header beside it.
fn text(value: &impl Serialize) -> Message {
    let mut json = serde_json::to_string(value).expect("frames always serialize");
    json.shrink_to_fit();
    Message::Text(Utf8Bytes::from(json))
}

/// `{"t":"welcome",…}`: the welcome's fields at the top level.
pub fn welcome(welcome: &Welcome) -> Message {
    #[derive(Serialize)]
    struct Frame<'a> {
        t: FrameKind,
        #[serde(flatten)]
        w: &'a Welcome,
    }
    text(&Frame { t: FrameKind::Welcome, w: welcome })
}

/// `{"t":"pong"}`.
pub fn pong() -> Message {
    // Every idle connection keeps its last pong until its next ping: a static one costs nothing.
    Message::Text(Utf8Bytes::from_static(r#"{"t":"pong"}"#))
}

/// `{"t":"ok","id":…,"r":{…}}`: the answer to a request; `r` is the RTM response object.
pub fn ok(id: u64, response: &impl Serialize) -> Message {
    #[derive(Serialize)]
    struct Ok<'a, T> {
        t: FrameKind,
        id: u64,
        r: &'a T,
    }
    text(&Ok { t: FrameKind::Ok, id, r: response })
}

/// `{"t":"err","id":…,"code":…,"name":"RTM_ERROR_…","reason":"…"}`; `id` is null when the
/// failed frame had none (or could not be read).
pub fn err(id: Option<u64>, error: &Error) -> Message {
    #[derive(Serialize)]
    struct Err<'a> {
        t: FrameKind,
        id: Option<u64>,
        code: i32,
        name: &'static str,
        reason: &'a str,
    }
    text(&Err { t: FrameKind::Err, id, code: error.code.code(), name: error.code.name(), reason: &error.reason })
}

/// `{"t":<kind>,"e":{…}}`: a server-pushed event (`presence`, `topic`, `token`).
pub fn event(kind: FrameKind, event: &impl Serialize) -> Message {
    #[derive(Serialize)]
    struct Event<'a, T> {
        t: FrameKind,
        e: &'a T,
    }
    text(&Event { t: kind, e: event })
}

/// A room event.
pub fn room(event: &RoomEvent<'_>) -> Message {
    self::event(FrameKind::Room, event)
}

/// A message event: binary frame with header `{"t":"msg","mt":…,"e":{…}}` and the message as
/// payload. `mt` repeats `e.messageType` so a client can route the payload without parsing `e`.
/// `enc: true` marks an end-to-end encrypted payload, opaque to the server.
pub fn message(header: &MessageHeader, payload: &[u8], encrypted: bool) -> Message {
    #[derive(Serialize)]
    struct Head<'a> {
        t: FrameKind,
        mt: MessageType,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        enc: bool,
        e: &'a MessageHeader,
    }
    Message::Binary(encode_binary(
        &Head { t: FrameKind::Msg, mt: header.message_type, enc: encrypted, e: header },
        payload,
    ))
}

/// A message frame (binary, from [`message`]) with its offset in its channel's recovery log:
/// `{"o":<offset>,` before the rest of the header. `None` for any other frame.
pub fn with_offset(frame: &Message, offset: u64) -> Option<Message> {
    let Message::Binary(data) = frame else { return None };
    let (header, start) = split_binary(data).ok()?;
    let rest = header.strip_prefix(b"{")?;
    let field = format!("{{\"o\":{offset},");
    let mut out = BytesMut::with_capacity(data.len() + field.len());
    out.put_u32((field.len() + rest.len()) as u32);
    out.put_slice(field.as_bytes());
    out.put_slice(rest);
    out.put_slice(&data[start..]);
    Some(Message::Binary(out.freeze()))
}

/// A realtime datagram: binary frame with header `{"t":"rt","scope":…}` and the data.
pub fn realtime(scope: &str, payload: &[u8], encrypted: bool) -> Message {
    #[derive(Serialize)]
    struct Head<'a> {
        t: FrameKind,
        scope: &'a str,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        enc: bool,
    }
    Message::Binary(encode_binary(&Head { t: FrameKind::Rt, scope, enc: encrypted }, payload))
}

/// A custom room message: binary frame with header `{"t":"cmd","mt":…,"e":{…}}` and the data.
pub fn cmd(header: &CmdHeader<'_>, message_type: MessageType, payload: &[u8]) -> Message {
    #[derive(Serialize)]
    struct Head<'a> {
        t: FrameKind,
        mt: MessageType,
        e: &'a CmdHeader<'a>,
    }
    Message::Binary(encode_binary(&Head { t: FrameKind::Cmd, mt: message_type, e: header }, payload))
}

/// A server frame as the client sees it, borrowing from the received bytes.
#[derive(Debug)]
pub enum ServerFrame<'a> {
    Welcome(Box<Welcome>),
    Pong,
    /// `response` absent means an empty answer (the client supplies a timestamp).
    Ok {
        id: u64,
        response: Option<&'a RawValue>,
    },
    Err {
        id: Option<u64>,
        error: Error,
    },
    Message {
        header: &'a RawValue,
        message_type: MessageType,
        encrypted: bool,
        /// Cluster recovery: the message's offset in its channel's log.
        offset: Option<u64>,
        payload: &'a [u8],
    },
    Realtime {
        scope: Cow<'a, str>,
        encrypted: bool,
        payload: &'a [u8],
    },
    Cmd {
        header: &'a RawValue,
        message_type: MessageType,
        payload: &'a [u8],
    },
    Room(RoomEvent<'static>),
    /// An event passed on as it is: presence, topic, token.
    Event {
        kind: FrameKind,
        body: &'a RawValue,
    },
}

/// The fields any server frame may have; [`decode_server`] turns them into a [`ServerFrame`].
#[derive(Deserialize)]
struct Envelope<'a> {
    t: FrameKind,
    #[serde(default)]
    id: Option<u64>,
    #[serde(borrow, default)]
    r: Option<&'a RawValue>,
    #[serde(borrow, default)]
    e: Option<&'a RawValue>,
    #[serde(default)]
    code: Option<i32>,
    #[serde(borrow, default)]
    reason: Option<Cow<'a, str>>,
    #[serde(default)]
    mt: Option<MessageType>,
    #[serde(borrow, default)]
    scope: Option<Cow<'a, str>>,
    #[serde(default)]
    enc: bool,
    #[serde(default)]
    o: Option<u64>,
}

/// Decodes a server frame (text: the whole message; binary: header and payload).
pub fn decode_server(data: &[u8], binary: bool) -> Result<ServerFrame<'_>, String> {
    let (json, payload) = if binary {
        let (header, offset) = split_binary(data)?;
        (header, &data[offset..])
    } else {
        (data, &data[data.len()..])
    };
    let envelope: Envelope = serde_json::from_slice(json).map_err(|e| format!("bad server frame: {e}"))?;
    let missing = |what: &str| format!("a {} frame without {what}", envelope.t.as_str());
    Ok(match envelope.t {
        FrameKind::Welcome => {
            let welcome = serde_json::from_slice(json).map_err(|e| format!("bad welcome: {e}"))?;
            ServerFrame::Welcome(Box::new(welcome))
        }
        FrameKind::Pong => ServerFrame::Pong,
        FrameKind::Ok => ServerFrame::Ok { id: envelope.id.ok_or_else(|| missing("id"))?, response: envelope.r },
        FrameKind::Err => {
            let code = envelope.code.and_then(ErrorCode::from_code).unwrap_or(ErrorCode::InvalidParameter);
            let reason = envelope.reason.as_deref().unwrap_or("server error without a reason");
            ServerFrame::Err { id: envelope.id, error: Error::new(code, reason) }
        }
        FrameKind::Msg => ServerFrame::Message {
            header: envelope.e.ok_or_else(|| missing("e"))?,
            message_type: envelope.mt.ok_or_else(|| missing("mt"))?,
            encrypted: envelope.enc,
            offset: envelope.o,
            payload,
        },
        FrameKind::Rt => ServerFrame::Realtime {
            scope: envelope.scope.ok_or_else(|| missing("scope"))?,
            encrypted: envelope.enc,
            payload,
        },
        FrameKind::Cmd => ServerFrame::Cmd {
            header: envelope.e.ok_or_else(|| missing("e"))?,
            message_type: envelope.mt.ok_or_else(|| missing("mt"))?,
            payload,
        },
        FrameKind::Room => {
            let body = envelope.e.ok_or_else(|| missing("e"))?;
            let event = match serde_json::from_str::<RoomEvent>(body.get()) {
                Ok(event) => event.into_owned(),
                Err(e) => lenient_room_event(body).ok_or_else(|| format!("bad room event: {e}"))?,
            };
            ServerFrame::Room(event)
        }
        kind @ (FrameKind::Presence | FrameKind::Topic | FrameKind::Token | FrameKind::Storage | FrameKind::Lock) => {
            ServerFrame::Event { kind, body: envelope.e.ok_or_else(|| missing("e"))? }
        }
    })
}

/// A room event a newer server may send with a reason this build does not know: the facts
/// that matter are kept — an `exit` still takes the client out of its room (as `Removed`, with
/// the server's code and message), a `remoteLeave` still says who left (as `Left`) — instead of
/// dropping the event.
fn lenient_room_event(body: &RawValue) -> Option<RoomEvent<'static>> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Loose {
        event: String,
        #[serde(default)]
        user_id: Option<String>,
        #[serde(default)]
        code: Option<i32>,
        #[serde(default)]
        message: Option<String>,
    }
    let loose: Loose = serde_json::from_str(body.get()).ok()?;
    tracing::warn!(event = %loose.event, "a room event with a reason this client does not know; read as the nearest one");
    match loose.event.as_str() {
        "exit" => Some(RoomEvent::Exit {
            reason: ExitReason::Removed,
            code: loose.code,
            message: Cow::Owned(loose.message.unwrap_or_default()),
        }),
        "remoteLeave" => {
            Some(RoomEvent::RemoteLeave { user_id: Cow::Owned(loose.user_id?), reason: LeaveReason::Left })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(message: &Message) -> (Vec<u8>, bool) {
        match message {
            Message::Text(t) => (t.as_bytes().to_vec(), false),
            Message::Binary(b) => (b.to_vec(), true),
            other => panic!("not a data frame: {other:?}"),
        }
    }

    #[test]
    fn every_frame_the_server_encodes_decodes_to_what_it_said() {
        let (data, bin) = bytes(&ok(7, &serde_json::json!({ "timestamp": 5 })));
        assert!(
            matches!(decode_server(&data, bin).unwrap(), ServerFrame::Ok { id: 7, response: Some(r) } if r.get() == r#"{"timestamp":5}"#)
        );

        let (data, bin) = bytes(&err(Some(3), &Error::new(ErrorCode::NotLogin, "no")));
        match decode_server(&data, bin).unwrap() {
            ServerFrame::Err { id: Some(3), error } => {
                assert_eq!((error.code, error.reason.as_str()), (ErrorCode::NotLogin, "no"))
            }
            other => panic!("{other:?}"),
        }

        let kicked = RoomEvent::Exit { reason: ExitReason::Removed, code: Some(-3340), message: "replaced".into() };
        let (data, bin) = bytes(&room(&kicked));
        assert!(String::from_utf8_lossy(&data).contains(r#""reason":1"#), "TRTC's number on the wire");
        assert!(matches!(decode_server(&data, bin).unwrap(), ServerFrame::Room(e) if e == kicked));

        let left = RoomEvent::RemoteLeave { user_id: "bob".into(), reason: LeaveReason::BecameAudience };
        let (data, bin) = bytes(&room(&left));
        assert!(matches!(decode_server(&data, bin).unwrap(), ServerFrame::Room(e) if e == left));

        let (data, bin) = bytes(&realtime("s", b"raw", true));
        assert!(matches!(decode_server(&data, bin).unwrap(),
            ServerFrame::Realtime { scope, encrypted: true, payload } if scope == "s" && payload == b"raw"));

        let header = CmdHeader { user_id: "u".into(), cmd_id: 2, seq: 9, reliable: true };
        let (data, bin) = bytes(&cmd(&header, MessageType::Binary, b"x"));
        match decode_server(&data, bin).unwrap() {
            ServerFrame::Cmd { header: h, message_type: MessageType::Binary, payload: b"x" } => {
                assert_eq!(serde_json::from_str::<CmdHeader>(h.get()).unwrap(), header)
            }
            other => panic!("{other:?}"),
        }

        let (data, bin) = bytes(&event(FrameKind::Presence, &serde_json::json!({ "eventType": "SNAPSHOT" })));
        assert!(matches!(decode_server(&data, bin).unwrap(), ServerFrame::Event { kind: FrameKind::Presence, .. }));
        let (data, bin) = bytes(&pong());
        assert!(matches!(decode_server(&data, bin).unwrap(), ServerFrame::Pong));
    }

    #[test]
    fn reasons_are_trtc_numbers_and_unknown_ones_are_refused() {
        assert_eq!(serde_json::to_string(&LeaveReason::Removed).unwrap(), "2");
        assert_eq!(serde_json::from_str::<ExitReason>("2").unwrap(), ExitReason::Dismissed);
        assert!(serde_json::from_str::<ExitReason>("9").is_err());
        assert!(decode_server(br#"{"t":"nonsense"}"#, false).is_err());
        // An exit with a reason from a newer server still takes the client out of its room.
        let newer = br#"{"t":"room","e":{"event":"exit","reason":9,"code":-1,"message":"m"}}"#;
        assert!(matches!(
            decode_server(newer, false).unwrap(),
            ServerFrame::Room(RoomEvent::Exit { reason: ExitReason::Removed, code: Some(-1), .. })
        ));
        let newer = br#"{"t":"room","e":{"event":"remoteLeave","userId":"u","reason":9}}"#;
        assert!(matches!(
            decode_server(newer, false).unwrap(),
            ServerFrame::Room(RoomEvent::RemoteLeave { reason: LeaveReason::Left, .. })
        ));
        assert!(decode_server(br#"{"t":"ok"}"#, false).is_err(), "an ok without an id");
    }
}
