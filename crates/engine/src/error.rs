//! Errors: one typed error with a stable RTM code, converted to a JS error in exactly one place
//! (the addon) and to an error frame in exactly one place ([`crate::protocol`]).

use std::fmt;

pub use crate::error_codes::ErrorCode;

/// A failed operation: the RTM code and a reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub reason: String,
}

/// Result of an engine operation.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(code: ErrorCode, reason: impl Into<String>) -> Self {
        Error { code, reason: reason.into() }
    }

    /// `RTM_ERROR_INVALID_PARAMETER` with a reason.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidParameter, reason)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.reason)
    }
}

impl std::error::Error for Error {}

impl ErrorCode {
    /// A one-line description for the error table in the docs.
    pub fn describe(self) -> String {
        let specific = match self {
            ErrorCode::Ok => "No error.",
            ErrorCode::NotLogin => "The call needs a logged-in client (call `login` first).",
            ErrorCode::InvalidAppId => "The app id is empty, too long or has characters outside the allowed set.",
            ErrorCode::InvalidToken => "The token is missing, malformed or its signature does not verify.",
            ErrorCode::InvalidUserId => {
                "The user id is empty, longer than 64 characters or has characters outside the allowed set."
            }
            ErrorCode::InvalidChannelName => {
                "The channel name is empty, longer than 64 characters or has characters outside the allowed set."
            }
            ErrorCode::TokenExpired => "The token's expiry has passed.",
            ErrorCode::LoginTimeout => "No server could be reached within the login timeout.",
            ErrorCode::LoginRejected => "The server refused the login.",
            ErrorCode::InvalidParameter => {
                "An argument or option is missing, of the wrong type or out of range; the reason names it."
            }
            ErrorCode::InconsistentAppid => "The token was issued for another app id or user id.",
            ErrorCode::DuplicateOperation => "The operation is already done or under way (e.g. `login` twice).",
            ErrorCode::InstanceAlreadyReleased => "The stream channel instance was released; create a new one.",
            ErrorCode::InvalidChannelType => "The channel type is not valid for this call.",
            ErrorCode::InvalidEncryptionParameter => "The encryption mode, key or 32-byte salt is invalid.",
            ErrorCode::OperationRateExceedLimitation => "Too many requests are waiting for an answer.",
            ErrorCode::NotConnected => "The connection dropped before the answer arrived.",
            ErrorCode::InvalidPrivateConfig => "An endpoint or access point is not a ws:// or wss:// URL.",
            ErrorCode::ChannelNotJoined => "The stream channel has not been joined.",
            ErrorCode::ChannelNotSubscribed => "The channel is not subscribed.",
            ErrorCode::ChannelInstanceExceedLimitation => "Too many channels subscribed or joined by this client.",
            ErrorCode::ChannelMessageLengthExceedLimitation => {
                "The payload is larger than the server's maxMessageBytes."
            }
            ErrorCode::ChannelInvalidMessage => "The message is not valid (e.g. a STRING message that is not UTF-8).",
            ErrorCode::ChannelInvalidTopicName => {
                "The topic name is empty, too long or has characters outside the allowed set."
            }
            ErrorCode::ChannelExceedTopicLimitation => "Too many topics joined or subscribed in this stream channel.",
            ErrorCode::ChannelTopicNotJoined => "Publishing needs `joinTopic` first.",
            ErrorCode::ChannelPublishMessageTooFrequent => {
                "The channel's publish rate limit was hit; the message was refused, not dropped."
            }
            ErrorCode::ChannelPublishMessageTimeout => "No answer to the publish within the request timeout.",
            ErrorCode::ChannelSubscribeTimeout => "No answer to the subscribe within the request timeout.",
            ErrorCode::ChannelCustomTypeLengthOverflow => "customType is longer than 32 bytes.",
            ErrorCode::ChannelReceiverOffline => "The user of a USER-channel message is not online.",
            ErrorCode::ServiceNotSupported => "The server does not speak this client's protocol version.",
            ErrorCode::InitServiceFailed => "The server could not start (e.g. the port is taken).",
            ErrorCode::TrtcRoomEnterFail => {
                "TRTC: entering the room failed (e.g. removed by the host and still banned); the message says why."
            }
            ErrorCode::TrtcEnterRoomTimeout => "TRTC: no server answered the room entry in time.",
            ErrorCode::TrtcEnterRoomParamNull => "TRTC: enterRoom was called without parameters.",
            ErrorCode::TrtcSdkAppIdInvalid => "TRTC: sdkAppId is not a positive integer.",
            ErrorCode::TrtcRoomIdInvalid => {
                "TRTC: roomId is not in 1..4294967294, strRoomId is not a valid id, or both or neither were given."
            }
            ErrorCode::TrtcUserIdInvalid => "TRTC: the user id is not valid.",
            ErrorCode::TrtcUserSigInvalid => {
                "TRTC: the userSig is missing, forged, expired, for another app or user, or lacks the room privilege."
            }
            ErrorCode::TrtcQuitRoomTimeout => "TRTC: no answer to exitRoom in time (the room is left locally anyway).",
            ErrorCode::TrtcUserEnteredElsewhere => {
                "TRTC (Piazza): the same user id entered this room from another instance, which replaced this one."
            }
            ErrorCode::TrtcNotInRoom => "TRTC (Piazza): the call needs the instance to be in a room.",
            ErrorCode::TrtcRoomFull => "TRTC: the room has rooms.maxMembers members already.",
            _ => "",
        };
        if !specific.is_empty() {
            return specific.to_string();
        }
        let name = self.name().trim_start_matches("RTM_ERROR_").trim_start_matches("ERR_");
        let mut text = name.replace('_', " ").to_lowercase();
        if let Some(first) = text.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        text
    }
}

impl ErrorCode {
    /// Whether this is a TRTC room code (`ERR_*`, reported through `onEnterRoom` / `onError`).
    pub fn is_trtc(self) -> bool {
        self.name().starts_with("ERR_")
    }
}

/// The error tables as Markdown (the body of `docs/ERRORS.md`).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "## RTM (rejections of RTM calls, `ErrorCode`)\n\n| code | name | meaning |\n| ---: | --- | --- |\n",
    );
    for code in ErrorCode::ALL.iter().filter(|c| !c.is_trtc()) {
        out.push_str(&format!("| {} | `{}` | {} |\n", code.code(), code.name(), code.describe()));
    }
    out.push_str("\n## TRTC (`onEnterRoom(result < 0)`, `onError`, `onSwitchRole`, `onSwitchRoom`; `TRTCErrorCode`)\n\n| code | name | meaning |\n| ---: | --- | --- |\n");
    for code in ErrorCode::ALL.iter().filter(|c| c.is_trtc()) {
        out.push_str(&format!("| {} | `{}` | {} |\n", code.code(), code.name(), code.describe()));
    }
    out
}
