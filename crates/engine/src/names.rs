//! Validation of the names users choose: app ids, user ids, channel and topic names, custom
//! types. One rule set — 1–64 characters from letters, digits, space and
//! ``!#$%&()+,-:;<=>?@[]^_{}~|``, no leading `_`; `customType` at most 32 bytes — shared by the
//! client (refuse before sending) and the server (never trust the client).

use crate::error::{Error, ErrorCode, Result};

/// Longest channel, topic or user id, in characters (all allowed characters are ASCII).
pub const MAX_NAME_LEN: usize = 64;
/// Longest `customType`, in bytes.
pub const MAX_CUSTOM_TYPE_LEN: usize = 32;

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || " !#$%&()+,-:;<=>?@[]^_{}~|".contains(c)
}

/// Why a name is not acceptable, or `None` when it is.
fn problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!("is {} characters long; at most {MAX_NAME_LEN} are allowed", name.len()));
    }
    if name.starts_with('_') {
        return Some("must not start with '_'".into());
    }
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        return Some(format!("contains {bad:?}; allowed are letters, digits, space and !#$%&()+,-:;<=>?@[]^_{{}}~|"));
    }
    None
}

fn check(name: &str, what: &str, code: ErrorCode) -> Result<()> {
    match problem(name) {
        None => Ok(()),
        Some(p) => Err(Error::new(code, format!("{what} {name:?} {p}"))),
    }
}

/// A message or stream channel name.
pub fn channel(name: &str) -> Result<()> {
    check(name, "channel name", ErrorCode::InvalidChannelName)
}

/// A user id.
pub fn user_id(name: &str) -> Result<()> {
    check(name, "user id", ErrorCode::InvalidUserId)
}

/// A topic name inside a stream channel.
pub fn topic(name: &str) -> Result<()> {
    check(name, "topic name", ErrorCode::ChannelInvalidTopicName)
}

/// A lock name (RTM `setLock`…): the same characters as a channel name.
pub fn lock_name(name: &str) -> Result<()> {
    check(name, "lock name", ErrorCode::LockInvalidName)
}

/// An app id (the TRTC `sdkAppId` in decimal is one too).
pub fn app_id(name: &str) -> Result<()> {
    check(name, "app id", ErrorCode::InvalidAppId)
}

/// A realtime-channel scope: the same characters as a channel name.
pub fn scope(name: &str) -> Result<()> {
    check(name, "realtime scope", ErrorCode::InvalidChannelName)
}

/// The characters of a TRTC `strRoomId` besides letters and digits (TRTCParams: "letters,
/// digits, space and `!#$%&()+-:;<=.>?@[]^_{}|~,`", 89 in all).
const ROOM_ID_PUNCTUATION: &str = " !#$%&()+-:;<=.>?@[]^_{}|~,";

/// A TRTC `strRoomId`, as TRTC takes it: 1–64 bytes from its 89 characters (a leading `_` and
/// `.` included, unlike channel names). Client and server check with this one definition.
pub fn str_room_id(id: &str) -> Result<()> {
    let bad = |why: String| Err(Error::new(ErrorCode::TrtcRoomIdInvalid, format!("strRoomId {id:?} {why}")));
    if id.is_empty() || id.len() > MAX_NAME_LEN {
        return bad(format!("is {} bytes long; 1 to {MAX_NAME_LEN} are allowed", id.len()));
    }
    match id.chars().find(|c| !c.is_ascii_alphanumeric() && !ROOM_ID_PUNCTUATION.contains(*c)) {
        Some(c) => bad(format!("contains {c:?}; allowed are letters, digits, space and {}", &ROOM_ID_PUNCTUATION[1..])),
        None => Ok(()),
    }
}

/// A message `customType`: at most 32 bytes.
pub fn custom_type(value: &str) -> Result<()> {
    if value.len() > MAX_CUSTOM_TYPE_LEN {
        return Err(Error::new(
            ErrorCode::ChannelCustomTypeLengthOverflow,
            format!("customType is {} bytes; at most {MAX_CUSTOM_TYPE_LEN} are allowed", value.len()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_allowed_character() {
        channel("abc XYZ 019 !#$%&()+,-:;<=>?@[]^_{}~|").unwrap();
        channel(&"a".repeat(64)).unwrap();
    }

    #[test]
    fn rejects_with_the_right_code_and_a_reason() {
        let e = channel("").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidChannelName);
        assert_eq!(channel(&"a".repeat(65)).unwrap_err().code, ErrorCode::InvalidChannelName);
        assert!(channel("_hidden").unwrap_err().reason.contains("'_'"));
        assert!(channel("a/b").unwrap_err().reason.contains("'/'"));
        assert_eq!(channel("é").unwrap_err().code, ErrorCode::InvalidChannelName);
        assert_eq!(user_id("a.b").unwrap_err().code, ErrorCode::InvalidUserId);
        assert_eq!(topic("").unwrap_err().code, ErrorCode::ChannelInvalidTopicName);
        assert_eq!(custom_type(&"x".repeat(33)).unwrap_err().code, ErrorCode::ChannelCustomTypeLengthOverflow);
        custom_type(&"x".repeat(32)).unwrap();
    }

    #[test]
    fn str_room_ids_take_trtc_s_89_characters_and_64_bytes() {
        let all: String = ('a'..='z').chain('A'..='Z').chain('0'..='9').chain(ROOM_ID_PUNCTUATION.chars()).collect();
        assert_eq!(all.len(), 89);
        str_room_id(&all[..64]).unwrap();
        str_room_id(&all[25..]).unwrap();
        str_room_id("_lobby.1").unwrap();
        for bad in ["", "a/b", "é", "a*", "'", "\"\"", "`"] {
            assert_eq!(str_room_id(bad).unwrap_err().code, ErrorCode::TrtcRoomIdInvalid, "{bad:?}");
        }
        assert!(str_room_id(&"a".repeat(65)).is_err());
    }
}
