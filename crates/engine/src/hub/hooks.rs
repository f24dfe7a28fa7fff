//! What the hub tells the webhooks (`crate::webhook`): one call per thing that happened, each a
//! cheap no-op without webhooks. Each fires on the node where it happened, so a cluster sends
//! each event once. The payload is built only when the event is wanted.

use bytes::Bytes;
use serde_json::json;

use super::{EndReason, Hub, Session};
use crate::protocol::{ChannelType, MessageType, PresenceEventType, Role, RoomId, Scene, SessionKind};

fn kind(session: &Session) -> &'static str {
    match session.kind {
        SessionKind::Rtm => "rtm",
        SessionKind::Trtc => "trtc",
    }
}

impl Hub {
    /// Sets the node's webhooks (once, at start).
    pub fn set_webhooks(&self, webhooks: std::sync::Arc<crate::webhook::Webhooks>) {
        let _ = self.shared.webhooks.set(webhooks);
    }

    /// Gives the webhooks up to `grace` to send what is queued, then stops them.
    pub async fn close_webhooks(&self, grace: std::time::Duration) {
        if let Some(hooks) = self.shared.webhooks.get() {
            hooks.close(grace).await;
        }
    }

    /// The webhooks' counters, when there are webhooks.
    pub fn webhook_counters(&self) -> Option<&crate::webhook::WebhookCounters> {
        self.shared.webhooks.get().map(|w| &*w.counters)
    }

    /// `user.login`: a new session (not a resumed one).
    pub(super) fn hook_login(&self, session: &Session) {
        if let Some(hooks) = self.shared.webhooks.get() {
            hooks.emit("user.login", &session.app, json!({ "userId": &*session.user, "kind": kind(session) }));
        }
    }

    /// `user.timeout` (no connection came back within the presence timeout) or `user.logout`
    /// with its reason. A session that moved to another node did not end for the user.
    pub(super) fn hook_session_end(&self, session: &Session, reason: EndReason) {
        let Some(hooks) = self.shared.webhooks.get() else { return };
        let reason = match reason {
            EndReason::Moved => return,
            EndReason::Timeout => {
                let fields = json!({ "userId": &*session.user, "kind": kind(session) });
                return hooks.emit("user.timeout", &session.app, fields);
            }
            EndReason::Logout => "logout",
            EndReason::ResumeFailed => "resumeFailed",
            EndReason::Replaced => "replaced",
            EndReason::ServerShutdown => "serverShutdown",
            EndReason::TokenExpired => "tokenExpired",
        };
        let fields = json!({ "userId": &*session.user, "kind": kind(session), "reason": reason });
        hooks.emit("user.logout", &session.app, fields);
    }

    /// `presence.join` / `presence.leave` of an opted-in channel.
    pub(super) fn hook_presence(
        &self,
        app: &str,
        channel_type: ChannelType,
        channel: &str,
        user: &str,
        event: PresenceEventType,
    ) {
        let Some(hooks) = self.shared.webhooks.get() else { return };
        let (event_type, how) = match event {
            PresenceEventType::RemoteJoin => ("presence.join", None),
            PresenceEventType::RemoteLeave => ("presence.leave", Some("leave")),
            PresenceEventType::RemoteTimeout => ("presence.leave", Some("timeout")),
            _ => return,
        };
        if !hooks.wants_presence(channel) {
            return;
        }
        let mut fields = json!({ "userId": user, "channelName": channel, "channelType": channel_type });
        if let Some(how) = how {
            fields["reason"] = json!(how);
        }
        hooks.emit(event_type, app, fields);
    }

    /// `room.enter`.
    pub(super) fn hook_room_enter(&self, session: &Session, room: &RoomId, role: Role, scene: Scene) {
        if let Some(hooks) = self.shared.webhooks.get() {
            let fields = json!({ "userId": &*session.user, "roomId": room, "role": role, "scene": scene });
            hooks.emit("room.enter", &session.app, fields);
        }
    }

    /// `room.exit` with why: `left`, `timedOut` (its connection was lost past the drop
    /// timeout), `removed` (removeUser), `dismissed` (dismissRoom).
    pub(super) fn hook_room_exit(&self, app: &str, user: &str, room: &RoomId, reason: &'static str) {
        if let Some(hooks) = self.shared.webhooks.get() {
            let fields = json!({ "userId": user, "roomId": room, "reason": reason });
            hooks.emit("room.exit", app, fields);
        }
    }

    /// `user.timeout` for a user whose node stopped answering (announced by the node that
    /// cleans up after it, once for the cluster).
    pub(super) fn hook_node_lost(&self, app: &str, user: &str, kind: SessionKind) {
        if let Some(hooks) = self.shared.webhooks.get() {
            let kind = match kind {
                SessionKind::Rtm => "rtm",
                SessionKind::Trtc => "trtc",
            };
            hooks.emit("user.timeout", app, json!({ "userId": user, "kind": kind, "nodeLost": true }));
        }
    }

    /// `message.publish` into an opted-in message channel: text as `message`, bytes (and
    /// end-to-end encrypted payloads) as `messageBase64`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn hook_message(
        &self,
        app: &str,
        channel: &str,
        publisher: &str,
        message_type: MessageType,
        custom_type: &str,
        encrypted: bool,
        payload: &Bytes,
    ) {
        let Some(hooks) = self.shared.webhooks.get() else { return };
        if !hooks.wants_messages(channel) {
            return;
        }
        let mut fields = json!({
            "channelName": channel,
            "channelType": ChannelType::Message,
            "publisher": publisher,
            "messageType": message_type.as_str(),
            "customType": custom_type,
        });
        match std::str::from_utf8(payload) {
            Ok(text) if message_type == MessageType::String && !encrypted => fields["message"] = json!(text),
            _ => {
                use base64::Engine;
                fields["messageBase64"] = json!(base64::engine::general_purpose::STANDARD.encode(payload));
                fields["encrypted"] = json!(encrypted);
            }
        }
        hooks.emit("message.publish", app, fields);
    }
}
