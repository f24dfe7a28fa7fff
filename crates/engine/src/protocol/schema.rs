//! The machine-readable schema of protocol v1 (`docs/protocol.schema.json`, printed by
//! `piazza-server schema`), generated from the Rust types of the frames, so it cannot drift
//! from them: client frames as the server reads them (defaults make fields optional, unknown
//! fields are refused), server frames as the server writes them.
//!
//! Server frames are built by the functions of [`super::server`]; [`ServerFrameSchema`] only
//! describes their envelope, for the schema.

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use super::server::{CmdHeader, RoomEvent};
use super::{
    ClientFrame, GetMessagesResponse, LockEvent, MessageHeader, MessageType, PresenceEvent, StorageEvent, TokenEvent,
    TopicEvent, Welcome,
};

/// A frame sent by the server, tagged by `t`. A text frame is this JSON object; a binary frame
/// (`msg`, `rt`, `cmd`) is a `u32` big-endian header length, this object as its JSON header,
/// then the raw payload.
#[derive(JsonSchema)]
#[schemars(rename = "ServerFrame")]
#[serde(tag = "t", rename_all = "lowercase")]
#[allow(dead_code)]
enum ServerFrameSchema {
    /// The answer to a `hello`: the fields of `Welcome` beside `t`.
    Welcome(Welcome),
    /// The answer to a `ping`.
    Pong,
    /// A request succeeded: `r` is the RTM response object of the call (for `getMessages`, a
    /// `GetMessagesResponse`).
    Ok { id: u64, r: Map<String, Value> },
    /// A request (or a frame without an id) failed; `id` is null when the failed frame had none
    /// or it could not be read. `name` is the symbolic name of `code` (docs/ERRORS.md).
    Err { id: Option<u64>, code: i32, name: String, reason: String },
    /// Binary frame header of a message or topic message: `mt` repeats `e.messageType`, `enc`
    /// marks an end-to-end encrypted payload; the payload is the message.
    Msg {
        /// Cluster recovery: the message's offset in its channel's log (message channels, in
        /// cluster mode with recovery on); a `subscribe` with `since` resumes after it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        o: Option<u64>,
        mt: MessageType,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        enc: bool,
        e: MessageHeader,
    },
    /// Binary frame header of a realtime datagram; the payload is the data.
    Rt {
        scope: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        enc: bool,
    },
    /// Binary frame header of a TRTC custom message; the payload is the data.
    Cmd { mt: MessageType, e: CmdHeader<'static> },
    /// A presence event.
    Presence { e: PresenceEvent },
    /// A stream-channel topic event.
    Topic { e: TopicEvent },
    /// A room event.
    Room { e: RoomEvent<'static> },
    /// A token event.
    Token { e: TokenEvent },
    /// A storage (metadata) event.
    Storage { e: StorageEvent },
    /// A lock event.
    Lock { e: LockEvent },
}

/// The schema of protocol v1 as one JSON Schema (draft 2020-12) document: the frames' types in
/// `$defs`, `clientFrame` and `serverFrame` referring to the two unions (`$defs/ClientFrame`
/// tagged by `op`, `$defs/ServerFrame` tagged by `t`), and `responses` naming the typed `r` of
/// some `ok` frames.
pub fn json_schema() -> Value {
    let mut client = SchemaSettings::draft2020_12().for_deserialize().into_generator();
    let client_frame = client.subschema_for::<ClientFrame>();
    let mut server = SchemaSettings::draft2020_12().for_serialize().into_generator();
    let server_frame = server.subschema_for::<ServerFrameSchema>();
    let get_messages = server.subschema_for::<GetMessagesResponse>();

    let mut defs = client.take_definitions(true);
    for (name, schema) in server.take_definitions(true) {
        match defs.get(&name) {
            Some(same) if *same == schema => {}
            Some(_) => panic!("the schema of {name} differs between client and server frames"),
            None => {
                defs.insert(name, schema);
            }
        }
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Piazza protocol v1",
        "description": "Every frame of Piazza protocol v1 (docs/PROTOCOL.md), generated from the engine's Rust types \
            by `piazza-server schema`. Client frames carry `op`, server frames `t`.",
        "clientFrame": client_frame,
        "serverFrame": server_frame,
        "responses": { "getMessages": get_messages },
        "$defs": defs,
    })
}

/// The schema document as `piazza-server schema` prints it (and docs/protocol.schema.json
/// holds it): pretty-printed, ending with a newline.
pub fn json_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).expect("a schema always serializes");
    text.push('\n');
    text
}

/// A schema of the document that validates one kind of frame: `which` is `clientFrame` or
/// `serverFrame`. For validators (the tests check every frame they exchange against it).
pub fn frame_schema(which: &str) -> Value {
    let mut document = json_schema();
    let root = document.as_object_mut().expect("an object");
    let frame = root.remove(which).unwrap_or_else(|| panic!("no {which} in the schema"));
    json!({
        "$schema": root["$schema"],
        "$defs": root["$defs"],
        "$ref": frame["$ref"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_frame_unions_are_defined() {
        let schema = json_schema();
        assert_eq!(schema["clientFrame"]["$ref"], "#/$defs/ClientFrame");
        assert_eq!(schema["serverFrame"]["$ref"], "#/$defs/ServerFrame");
        for name in ["ClientFrame", "ServerFrame", "Welcome", "PresenceEvent", "RoomEvent", "LockEvent"] {
            assert!(schema["$defs"].get(name).is_some(), "{name} is defined");
        }
        assert_eq!(frame_schema("serverFrame")["$ref"], "#/$defs/ServerFrame");
    }
}
