//! The backend API (SPEC §12): what an app's own server does without holding a WebSocket —
//! publish to a channel or to a user, ask who is where, read and write metadata, list, kick
//! and dismiss room members, read the node's counters. One typed request, [`ApiRequest`],
//! serves both doors: the HTTP routes (`server::api`) build it from the path and body, and the
//! Node `Server` methods send it as JSON. Failures are [`AdminError`]s: an HTTP status, a code
//! (the RTM name for RTM failures, TRTC server-API names for rooms) and a message.

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use super::room::AdminError;
use super::{App, Hub};
use crate::error::{Error, ErrorCode};
use crate::names;
use crate::protocol::{ChannelType, MessageType, Publish, Role, RoomId, WhereNow, WhoNow, WriteMetadata};
use crate::store::{MetaItem, MetaMode, MetaOptions, MetaTarget};
use crate::time::now_ms;

/// Who publishes, and who writes metadata, when the backend does not say (`publisher`).
pub const API_PUBLISHER: &str = "server";

/// One backend-API operation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum ApiRequest {
    /// RTM `publish` from the backend: to a MESSAGE channel, or (`channelType: USER`) to the
    /// user named by `channel`. `message` is text (STRING), `messageBase64` bytes (BINARY).
    Publish {
        app_id: String,
        channel: String,
        #[serde(default)]
        channel_type: ChannelType,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        message_base64: Option<String>,
        #[serde(default)]
        custom_type: String,
        #[serde(default)]
        store_in_history: bool,
        /// The user id receivers see as the publisher (default [`API_PUBLISHER`]).
        #[serde(default)]
        publisher: Option<String>,
    },
    /// `presence.whoNow`: 50 users a page; `page` is the previous answer's `nextPage`.
    WhoNow {
        app_id: String,
        channel: String,
        #[serde(default = "message_channel")]
        channel_type: ChannelType,
        #[serde(default = "yes")]
        included_user_id: bool,
        #[serde(default)]
        included_state: bool,
        #[serde(default)]
        page: Option<String>,
    },
    /// `presence.whereNow`.
    WhereNow { app_id: String, user_id: String },
    /// A channel's metadata (`channel` + `channelType`) or a user's (`userId`).
    GetMetadata {
        app_id: String,
        #[serde(default)]
        channel: Option<String>,
        #[serde(default)]
        channel_type: Option<ChannelType>,
        #[serde(default)]
        user_id: Option<String>,
    },
    /// `setChannelMetadata` / `setUserMetadata` (and update / remove by `mode`).
    WriteMetadata {
        app_id: String,
        mode: MetaMode,
        #[serde(default)]
        channel: Option<String>,
        #[serde(default)]
        channel_type: Option<ChannelType>,
        #[serde(default)]
        user_id: Option<String>,
        #[serde(default)]
        items: Vec<MetaItem>,
        #[serde(default)]
        options: MetaOptions,
    },
    /// The members of a TRTC room on every node, with their roles.
    RoomMembers { app_id: String, room_id: RoomId },
    /// TRTC RemoveUser.
    RemoveUsers { app_id: String, room_id: RoomId, user_ids: Vec<String> },
    /// TRTC DismissRoom.
    DismissRoom { app_id: String, room_id: RoomId },
    /// This node's counters and sizes (`server.stats()`).
    Stats {},
    /// The node's counters and its apps with their sizes (the admin page).
    Overview {},
    /// An app's channels on this node with their member counts (the admin page).
    Channels { app_id: String },
    /// An app's rooms on this node with their members and roles (the admin page).
    Rooms { app_id: String },
}

/// Most entries a listing returns (`truncated` says when there were more).
const LIST_MAX: usize = 1_000;

fn yes() -> bool {
    true
}

fn message_channel() -> ChannelType {
    ChannelType::Message
}

impl ApiRequest {
    /// The app the request is about (`None`: node-wide).
    pub fn app_id(&self) -> Option<&str> {
        match self {
            ApiRequest::Publish { app_id, .. }
            | ApiRequest::WhoNow { app_id, .. }
            | ApiRequest::WhereNow { app_id, .. }
            | ApiRequest::GetMetadata { app_id, .. }
            | ApiRequest::WriteMetadata { app_id, .. }
            | ApiRequest::RoomMembers { app_id, .. }
            | ApiRequest::RemoveUsers { app_id, .. }
            | ApiRequest::DismissRoom { app_id, .. }
            | ApiRequest::Channels { app_id }
            | ApiRequest::Rooms { app_id } => Some(app_id),
            ApiRequest::Stats {} | ApiRequest::Overview {} => None,
        }
    }
}

/// The HTTP status of an engine failure.
pub fn status_of(code: ErrorCode) -> u16 {
    use ErrorCode::*;
    match code {
        ChannelReceiverOffline | InvalidAppId => 404,
        ChannelPublishMessageTooFrequent | OperationRateExceedLimitation | ChannelSubscribeTooFrequent => 429,
        StorageInvalidRevision | StorageOutdatedRevision | StorageLockNotAcquired | DuplicateOperation => 409,
        NotConnected
        | ServiceNotSupported
        | StorageOperationFailed
        | StorageOperationTimeout
        | StorageNotAvailable
        | HistoryOperationFailed
        | NotInitialized => 503,
        _ => 400,
    }
}

impl From<Error> for AdminError {
    fn from(e: Error) -> Self {
        AdminError { status: status_of(e.code), code: e.code.name(), message: e.reason }
    }
}

impl Hub {
    /// Runs one backend-API request; `caller` names it in the logs.
    pub async fn api(&self, request: ApiRequest, caller: &str) -> Result<Value, AdminError> {
        if let Some(app) = request.app_id() {
            names::app_id(app).map_err(|e| AdminError { status: 400, code: e.code.name(), message: e.reason })?;
            let apps = &self.config().apps;
            if !apps.is_empty() && !apps.contains_key(app) {
                return Err(Error::new(ErrorCode::InvalidAppId, format!("no app {app:?} is configured")).into());
            }
        }
        match request {
            ApiRequest::Publish {
                app_id,
                channel,
                channel_type,
                message,
                message_base64,
                custom_type,
                store_in_history,
                publisher,
            } => {
                let (message_type, payload) = match (message, message_base64) {
                    (Some(text), None) => (MessageType::String, Bytes::from(text)),
                    (None, Some(encoded)) => {
                        use base64::Engine;
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(encoded.as_bytes())
                            .map_err(|e| Error::invalid(format!("messageBase64 is not base64: {e}")))?;
                        (MessageType::Binary, Bytes::from(bytes))
                    }
                    _ => {
                        return Err(
                            Error::invalid("give `message` (text) or `messageBase64` (bytes), one of them").into()
                        )
                    }
                };
                let publisher = publisher.unwrap_or_else(|| API_PUBLISHER.to_string());
                names::user_id(&publisher)?;
                let app = self.app_or_create(&app_id);
                let req = Publish {
                    id: 0,
                    channel,
                    channel_type,
                    message_type,
                    custom_type,
                    data: None,
                    encrypted: false,
                    store_in_history,
                };
                let (response, stored) = self.publish_as(&app, &publisher, req, payload)?;
                if let Some(item) = stored {
                    let kept = self.storage().append_history(vec![item]).await.pop().expect("one answer per message");
                    kept.map_err(|e| AdminError {
                        status: 500,
                        code: ErrorCode::ChannelMessageDeliveredButStoreFailed.name(),
                        message: format!("the message was delivered but could not be kept in history: {}", e.reason),
                    })?;
                }
                Ok(serde_json::to_value(&response).expect("serializes"))
            }
            ApiRequest::WhoNow { app_id, channel, channel_type, included_user_id, included_state, page } => {
                let app = self.api_app(&app_id);
                let req = WhoNow { id: 0, channel, channel_type, included_user_id, included_state, page };
                Ok(serde_json::to_value(self.who_now_in(&app, req)?).expect("serializes"))
            }
            ApiRequest::WhereNow { app_id, user_id } => {
                let app = self.api_app(&app_id);
                Ok(serde_json::to_value(self.where_now_in(&app, WhereNow { id: 0, user_id })?).expect("serializes"))
            }
            ApiRequest::GetMetadata { app_id, channel, channel_type, user_id } => {
                let target = super::storage::target(&app_id, channel_type, channel.as_deref(), user_id.as_deref())?;
                let data = self.storage().metadata(&target).await?;
                let mut answer = who(&target);
                answer["totalCount"] = json!(data.total_count);
                answer["majorRevision"] = json!(data.major_revision);
                answer["metadata"] = serde_json::to_value(&data.metadata).expect("serializes");
                Ok(answer)
            }
            ApiRequest::WriteMetadata { app_id, mode, channel, channel_type, user_id, items, options } => {
                if !options.lock_name.is_empty() {
                    // A lock is held by a session; the backend has none, so the write would
                    // always be refused for the lock.
                    return Err(Error::invalid("lockName: the backend holds no lock (write without it)").into());
                }
                let app = self.api_app(&app_id);
                let f = WriteMetadata { id: 0, channel_type, channel, user_id, items, options };
                let (target, total_count) = self.write_metadata_as(&app, API_PUBLISHER, mode, f).await?;
                let mut answer = who(&target);
                answer["totalCount"] = json!(total_count);
                Ok(answer)
            }
            ApiRequest::RoomMembers { app_id, room_id } => self.room_members(&app_id, &room_id),
            ApiRequest::RemoveUsers { app_id, room_id, user_ids } => {
                let result = self.remove_users(&app_id, &room_id, &user_ids, caller)?;
                Ok(with_room(serde_json::to_value(result).expect("serializes"), &room_id))
            }
            ApiRequest::DismissRoom { app_id, room_id } => {
                let result = self.dismiss_room(&app_id, &room_id, caller)?;
                Ok(with_room(serde_json::to_value(result).expect("serializes"), &room_id))
            }
            ApiRequest::Stats {} => Ok(serde_json::to_value(self.stats()).expect("serializes")),
            ApiRequest::Overview {} => Ok(self.overview()),
            ApiRequest::Channels { app_id } => Ok(self.channel_list(&app_id)),
            ApiRequest::Rooms { app_id } => Ok(self.room_listing(&app_id)),
        }
    }

    /// The node's stats and its apps, sorted by id.
    fn overview(&self) -> Value {
        let mut apps: Vec<Arc<App>> = self.shared.apps.read().values().cloned().collect();
        apps.sort_by(|a, b| a.id.cmp(&b.id));
        let apps: Vec<Value> = apps
            .iter()
            .map(|app| {
                json!({
                    "appId": &*app.id,
                    "sessions": app.sessions.lock().len(),
                    "channels": app.channels.read().len(),
                    "streamChannels": app.streams.read().len(),
                    "rooms": Hub::room_count(app),
                })
            })
            .collect();
        json!({ "node": self.stats(), "apps": apps, "timestamp": now_ms() })
    }

    /// An app's message and stream channels here, by name, with their member counts.
    fn channel_list(&self, app_id: &str) -> Value {
        let app = self.api_app(app_id);
        let mut channels: Vec<(ChannelType, Arc<str>, usize)> = Vec::new();
        for (name, channel) in app.channels.read().iter() {
            channels.push((ChannelType::Message, name.clone(), channel.len()));
        }
        for (name, stream) in app.streams.read().iter() {
            channels.push((ChannelType::Stream, name.clone(), stream.state.lock().roster.len()));
        }
        channels.sort_by(|a, b| (&a.1, a.0.as_str()).cmp(&(&b.1, b.0.as_str())));
        let truncated = channels.len() > LIST_MAX;
        let list: Vec<Value> = channels
            .into_iter()
            .take(LIST_MAX)
            .map(|(channel_type, name, members)| {
                json!({ "channelName": &*name, "channelType": channel_type, "members": members })
            })
            .collect();
        json!({ "channels": list, "truncated": truncated, "timestamp": now_ms() })
    }

    /// An app's rooms here with their members and roles.
    fn room_listing(&self, app_id: &str) -> Value {
        let mut rooms = Hub::room_list(&self.api_app(app_id));
        rooms.sort_by(|a, b| a.id.cmp(&b.id));
        let truncated = rooms.len() > LIST_MAX;
        let list: Vec<Value> = rooms
            .iter()
            .take(LIST_MAX)
            .map(|room| {
                let mut members = room.members();
                members.sort_by(|a, b| a.0.cmp(&b.0));
                let members: Vec<Value> =
                    members.iter().map(|(user, role)| json!({ "userId": &**user, "role": role })).collect();
                json!({ "roomId": room.id, "scene": room.scene, "members": members })
            })
            .collect();
        json!({ "rooms": list, "truncated": truncated, "timestamp": now_ms() })
    }

    /// The app an API read is about: this node's, or an empty stand-in when nobody of the app
    /// is connected here (a read must not create it).
    fn api_app(&self, id: &str) -> Arc<App> {
        self.app(id).unwrap_or_else(|| Arc::new(App::new(Arc::from(id))))
    }

    /// Everyone in a room, on every node: local members with their role, members on other
    /// nodes as the directory knows them (announced there = anchor: in the call scenes every
    /// member is an anchor, in the live scenes only anchors are announced).
    fn room_members(&self, app_id: &str, id: &RoomId) -> Result<Value, AdminError> {
        super::room::check_room_id(id).map_err(|e| AdminError {
            status: 400,
            code: "InvalidParameter.RoomId",
            message: e.reason,
        })?;
        let local = self.app(app_id).and_then(|a| Hub::room(&a, id));
        let mut members: std::collections::BTreeMap<String, Role> = self
            .remote_room_members(app_id, id)
            .into_iter()
            .map(|(user, (_node, announced))| (user, if announced { Role::Anchor } else { Role::Audience }))
            .collect();
        let scene = local.as_ref().map(|room| room.scene);
        if let Some(room) = &local {
            members.extend(room.members().into_iter().map(|(user, role)| (user.to_string(), role)));
        }
        if local.is_none() && members.is_empty() {
            return Err(AdminError {
                status: 404,
                code: "FailedOperation.RoomNotExist",
                message: format!("room {id} does not exist in app {app_id:?}"),
            });
        }
        let list: Vec<Value> =
            members.into_iter().map(|(user, role)| json!({ "userId": user, "role": role })).collect();
        let mut answer = json!({ "total": list.len(), "members": list, "timestamp": now_ms() });
        if let Some(scene) = scene {
            answer["scene"] = json!(scene);
        }
        Ok(with_room(answer, id))
    }
}

/// `{channelName, channelType}` or `{userId}` of a metadata answer.
fn who(target: &MetaTarget) -> Value {
    match target {
        MetaTarget::Channel { channel_type, channel, .. } => {
            json!({ "channelName": channel, "channelType": channel_type, "timestamp": now_ms() })
        }
        MetaTarget::User { user, .. } => json!({ "userId": user, "timestamp": now_ms() }),
    }
}

fn with_room(mut value: Value, room: &RoomId) -> Value {
    value["roomId"] = serde_json::to_value(room).expect("serializes");
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_the_node_server_sends_them() {
        let publish: ApiRequest = serde_json::from_str(
            r#"{"op":"publish","appId":"a","channel":"c","message":"hi","customType":"t","storeInHistory":true}"#,
        )
        .unwrap();
        assert!(matches!(
            publish,
            ApiRequest::Publish { channel_type: ChannelType::Message, store_in_history: true, .. }
        ));
        let who: ApiRequest = serde_json::from_str(r#"{"op":"whoNow","appId":"a","channel":"c"}"#).unwrap();
        assert!(matches!(who, ApiRequest::WhoNow { included_user_id: true, included_state: false, .. }));
        let unknown = serde_json::from_str::<ApiRequest>(r#"{"op":"whereNow","appId":"a","userId":"u","x":1}"#);
        assert!(unknown.unwrap_err().to_string().contains("unknown field"));
        let stats: ApiRequest = serde_json::from_str(r#"{"op":"stats"}"#).unwrap();
        assert_eq!(stats.app_id(), None);
    }

    #[test]
    fn failures_map_to_statuses() {
        assert_eq!(status_of(ErrorCode::ChannelReceiverOffline), 404);
        assert_eq!(status_of(ErrorCode::ChannelPublishMessageTooFrequent), 429);
        assert_eq!(status_of(ErrorCode::InvalidChannelName), 400);
        assert_eq!(status_of(ErrorCode::StorageOutdatedRevision), 409);
    }
}
