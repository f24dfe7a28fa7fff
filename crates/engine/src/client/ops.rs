//! The client's typed operations: one method per request of the protocol, with typed
//! arguments. Each builds its frame itself and goes through [`Client::request`], which checks
//! the arguments and numbers the request — so a Rust program (and the Node binding) never
//! builds a JSON frame, and every check lives in one place. The answer arrives through the
//! route, as for `subscribe` and `publish`.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{Client, Payload, Route};
use crate::error::Result;
use crate::protocol::{
    ChannelRef, ChannelType, ClientFrame, CustomCmd, EnterRoom, ExitRoom, GetState, Join, JoinTopic, MessageType,
    PublishTopic, RealtimeScope, RealtimeSend, RemoveState, RenewToken, Role, RoomId, Scene, SetState, SwitchRole,
    SwitchRoom, TopicRef, TopicUsers, WhereNow, WhoNow,
};
use crate::secret::Secret;

/// The options of RTM `StreamChannel.join` (`JoinChannelOptions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinOptions {
    /// The stream channel's own token; `None` uses the login token's privileges.
    pub token: Option<String>,
    pub with_presence: bool,
    pub be_quiet: bool,
    pub with_metadata: bool,
    pub with_lock: bool,
}

impl Default for JoinOptions {
    fn default() -> Self {
        JoinOptions { token: None, with_presence: true, be_quiet: false, with_metadata: false, with_lock: false }
    }
}

/// The options of RTM `presence.whoNow` / `getOnlineUsers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoNowOptions {
    pub included_user_id: bool,
    pub included_state: bool,
    /// The `nextPage` bookmark of the previous page.
    pub page: Option<String>,
}

impl Default for WhoNowOptions {
    fn default() -> Self {
        WhoNowOptions { included_user_id: true, included_state: false, page: None }
    }
}

/// A TRTC custom message (`sendCustomCmdMsg`); `seq` counts per `cmd_id` from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomMessage {
    pub cmd_id: u32,
    pub seq: u64,
    pub reliable: bool,
    pub ordered: bool,
}

fn message_type(payload: &Payload) -> MessageType {
    match payload {
        Payload::Text(_) => MessageType::String,
        Payload::Binary(_) => MessageType::Binary,
    }
}

impl Client {
    /// RTM `StreamChannel.join`.
    pub fn join(&self, route: Route, channel: &str, options: JoinOptions) -> Result<()> {
        let JoinOptions { token, with_presence, be_quiet, with_metadata, with_lock } = options;
        let frame = Join {
            id: 0,
            channel: channel.to_string(),
            token: token.filter(|t| !t.is_empty()).map(Secret::new),
            with_presence,
            be_quiet,
            with_metadata,
            with_lock,
        };
        self.request(route, ClientFrame::Join(frame), None)
    }

    /// RTM `StreamChannel.leave`: drops every topic role and subscription in it.
    pub fn leave(&self, route: Route, channel: &str) -> Result<()> {
        self.request(route, ClientFrame::Leave(ChannelRef { id: 0, channel: channel.to_string() }), None)
    }

    /// RTM `StreamChannel.joinTopic`: become a publisher of `topic`, announced with `meta`.
    pub fn join_topic(&self, route: Route, channel: &str, topic: &str, meta: &str) -> Result<()> {
        let frame = JoinTopic { id: 0, channel: channel.to_string(), topic: topic.to_string(), meta: meta.to_string() };
        self.request(route, ClientFrame::JoinTopic(frame), None)
    }

    /// RTM `StreamChannel.leaveTopic`.
    pub fn leave_topic(&self, route: Route, channel: &str, topic: &str) -> Result<()> {
        let frame = TopicRef { id: 0, channel: channel.to_string(), topic: topic.to_string() };
        self.request(route, ClientFrame::LeaveTopic(frame), None)
    }

    /// RTM `StreamChannel.publishTopicMessage`.
    pub fn publish_topic(
        &self,
        route: Route,
        channel: &str,
        topic: &str,
        payload: Payload,
        custom_type: &str,
    ) -> Result<()> {
        let frame = PublishTopic {
            id: 0,
            channel: channel.to_string(),
            topic: topic.to_string(),
            message_type: message_type(&payload),
            custom_type: custom_type.to_string(),
            data: None,
            encrypted: false,
        };
        self.request(route, ClientFrame::PublishTopic(frame), Some(payload))
    }

    /// RTM `StreamChannel.subscribeTopic`: `users` are added to what is subscribed (`None`:
    /// every publisher of the topic).
    pub fn subscribe_topic(&self, route: Route, channel: &str, topic: &str, users: Option<Vec<String>>) -> Result<()> {
        let frame = TopicUsers { id: 0, channel: channel.to_string(), topic: topic.to_string(), users };
        self.request(route, ClientFrame::SubscribeTopic(frame), None)
    }

    /// RTM `StreamChannel.unsubscribeTopic` (`None`: the whole topic).
    pub fn unsubscribe_topic(
        &self,
        route: Route,
        channel: &str,
        topic: &str,
        users: Option<Vec<String>>,
    ) -> Result<()> {
        let frame = TopicUsers { id: 0, channel: channel.to_string(), topic: topic.to_string(), users };
        self.request(route, ClientFrame::UnsubscribeTopic(frame), None)
    }

    /// webxdc `joinRealtimeChannel`: receive the datagrams of `scope`.
    pub fn realtime_join(&self, route: Route, scope: &str) -> Result<()> {
        self.request(route, ClientFrame::RealtimeJoin(RealtimeScope { id: 0, scope: scope.to_string() }), None)
    }

    /// The realtime channel's `leave`.
    pub fn realtime_leave(&self, route: Route, scope: &str) -> Result<()> {
        self.request(route, ClientFrame::RealtimeLeave(RealtimeScope { id: 0, scope: scope.to_string() }), None)
    }

    /// The realtime channel's `send`: best effort, no answer.
    pub fn realtime_send(&self, scope: &str, data: Bytes) -> Result<()> {
        let frame = RealtimeSend { scope: scope.to_string(), encrypted: false };
        self.request(Route::Ignore, ClientFrame::RealtimeSend(frame), Some(Payload::Binary(data)))
    }

    /// RTM `presence.whoNow`.
    pub fn who_now(
        &self,
        route: Route,
        channel: &str,
        channel_type: ChannelType,
        options: WhoNowOptions,
    ) -> Result<()> {
        let WhoNowOptions { included_user_id, included_state, page } = options;
        let frame =
            WhoNow { id: 0, channel: channel.to_string(), channel_type, included_user_id, included_state, page };
        self.request(route, ClientFrame::WhoNow(frame), None)
    }

    /// RTM `presence.whereNow`.
    pub fn where_now(&self, route: Route, user_id: &str) -> Result<()> {
        self.request(route, ClientFrame::WhereNow(WhereNow { id: 0, user_id: user_id.to_string() }), None)
    }

    /// RTM `presence.setState`: merges `states` into this user's temporary states.
    pub fn set_state(
        &self,
        route: Route,
        channel: &str,
        channel_type: ChannelType,
        states: BTreeMap<String, String>,
    ) -> Result<()> {
        let frame = SetState { id: 0, channel: channel.to_string(), channel_type, states };
        self.request(route, ClientFrame::SetState(frame), None)
    }

    /// RTM `presence.getState`.
    pub fn get_state(&self, route: Route, user_id: &str, channel: &str, channel_type: ChannelType) -> Result<()> {
        let frame = GetState { id: 0, user_id: user_id.to_string(), channel: channel.to_string(), channel_type };
        self.request(route, ClientFrame::GetState(frame), None)
    }

    /// RTM `presence.removeState` (`None`: every state of this user in the channel).
    pub fn remove_state(
        &self,
        route: Route,
        channel: &str,
        channel_type: ChannelType,
        keys: Option<Vec<String>>,
    ) -> Result<()> {
        let frame = RemoveState { id: 0, channel: channel.to_string(), channel_type, keys };
        self.request(route, ClientFrame::RemoveState(frame), None)
    }

    /// TRTC `enterRoom` (the session must be a TRTC one: `ClientConfig::kind`).
    pub fn enter_room(&self, route: Route, room: RoomId, role: Role, scene: Scene) -> Result<()> {
        self.request(route, ClientFrame::EnterRoom(EnterRoom { id: 0, room, role, scene }), None)
    }

    /// TRTC `exitRoom`.
    pub fn exit_room(&self, route: Route) -> Result<()> {
        self.request(route, ClientFrame::ExitRoom(ExitRoom { id: 0 }), None)
    }

    /// TRTC `switchRole`.
    pub fn switch_role(&self, route: Route, role: Role) -> Result<()> {
        self.request(route, ClientFrame::SwitchRole(SwitchRole { id: 0, role }), None)
    }

    /// TRTC `switchRoom`, with the new room's userSig when auth is on.
    pub fn switch_room(&self, route: Route, room: RoomId, token: Option<String>) -> Result<()> {
        let token = token.filter(|t| !t.is_empty()).map(Secret::new);
        self.request(route, ClientFrame::SwitchRoom(SwitchRoom { id: 0, room, token }), None)
    }

    /// TRTC `sendCustomCmdMsg`: no answer; refused before sending when out of bounds.
    pub fn send_custom_cmd(&self, message: CustomMessage, payload: Payload) -> Result<()> {
        let CustomMessage { cmd_id, seq, reliable, ordered } = message;
        let frame = CustomCmd { cmd_id, seq, reliable, ordered, message_type: message_type(&payload) };
        self.request(Route::Ignore, ClientFrame::CustomCmd(frame), Some(payload))
    }

    /// RTM `renewToken`: the login token (`channel` `None`) or a joined stream channel's.
    pub fn renew_token(&self, route: Route, token: &str, channel: Option<&str>) -> Result<()> {
        let frame = RenewToken { id: 0, token: Secret::new(token), channel: channel.map(str::to_string) };
        self.request(route, ClientFrame::RenewToken(frame), None)
    }
}
