//! What a client remembers of its session, so that a reconnect which could not resume can
//! rebuild it: subscriptions, stream channels with their topics and topic subscriptions, presence
//! states, realtime scopes — and, per channel with presence, who it last knew to be there, so the
//! fresh SNAPSHOT after such a reconnect can carry the delta (who joined and left meanwhile).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::protocol::{
    ChannelType, ClientFrame, EnterRoom, Join, JoinTopic, RealtimeScope, RoomId, SetState, Subscribe, SubscribeOptions,
    TopicUsers, UserMetadataRef,
};

type States = BTreeMap<String, String>;

/// A stream channel the client joined.
#[derive(Debug, Clone)]
pub(crate) struct StreamMemory {
    join: Join,
    /// Topic → meta, for the topics it publishes in.
    topics: BTreeMap<String, String>,
    /// Topic → publishers subscribed.
    subscribed: BTreeMap<String, BTreeSet<String>>,
}

/// Everything a new session needs to look like the old one.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    pub subscriptions: BTreeMap<String, SubscribeOptions>,
    streams: BTreeMap<String, StreamMemory>,
    states: BTreeMap<(ChannelType, String), States>,
    scopes: BTreeSet<String>,
    /// Users whose metadata is subscribed (`subscribeUserMetadata`).
    user_metadata: BTreeSet<String>,
    /// The TRTC room entered (with role and scene).
    room: Option<EnterRoom>,
    /// Cluster recovery: the offset of the last message received per subscribed channel.
    offsets: HashMap<String, u64>,
}

/// One request that rebuilds part of the session, and the channel it restores (for
/// `unrestoredChannels`).
pub(crate) struct RestoreStep {
    pub frame: ClientFrame,
    pub channel: String,
}

impl Memory {
    /// A message of a subscribed channel came with its recovery offset.
    pub fn saw_offset(&mut self, channel: &str, offset: u64) {
        if self.subscriptions.contains_key(channel) {
            self.offsets.insert(channel.to_string(), offset);
        }
    }

    /// Records a request the server accepted (`answer` is its response object).
    pub fn record(&mut self, frame: &ClientFrame, answer: &RawValue) {
        match frame {
            ClientFrame::Subscribe(f) => {
                self.subscriptions.insert(f.channel.clone(), f.options());
            }
            ClientFrame::Unsubscribe(f) => {
                self.subscriptions.remove(&f.channel);
                self.offsets.remove(&f.channel);
                self.states.remove(&(ChannelType::Message, f.channel.clone()));
            }
            ClientFrame::Join(f) => {
                let memory = StreamMemory { join: f.clone(), topics: BTreeMap::new(), subscribed: BTreeMap::new() };
                self.streams.insert(f.channel.clone(), memory);
            }
            ClientFrame::Leave(f) => {
                self.streams.remove(&f.channel);
                self.states.remove(&(ChannelType::Stream, f.channel.clone()));
            }
            ClientFrame::JoinTopic(f) => {
                if let Some(stream) = self.streams.get_mut(&f.channel) {
                    stream.topics.insert(f.topic.clone(), f.meta.clone());
                }
            }
            ClientFrame::LeaveTopic(f) => {
                if let Some(stream) = self.streams.get_mut(&f.channel) {
                    stream.topics.remove(&f.topic);
                }
            }
            ClientFrame::SubscribeTopic(f) => {
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Answer {
                    #[serde(default)]
                    succeed_users: Vec<String>,
                }
                let succeeded =
                    serde_json::from_str::<Answer>(answer.get()).map(|a| a.succeed_users).unwrap_or_default();
                if let Some(stream) = self.streams.get_mut(&f.channel) {
                    stream.subscribed.entry(f.topic.clone()).or_default().extend(succeeded);
                }
            }
            ClientFrame::UnsubscribeTopic(f) => {
                if let Some(stream) = self.streams.get_mut(&f.channel) {
                    match &f.users {
                        Some(users) => {
                            if let Some(set) = stream.subscribed.get_mut(&f.topic) {
                                for user in users {
                                    set.remove(user);
                                }
                            }
                        }
                        None => {
                            stream.subscribed.remove(&f.topic);
                        }
                    }
                }
            }
            ClientFrame::SubscribeUserMetadata(f) => {
                self.user_metadata.insert(f.user_id.clone());
            }
            ClientFrame::UnsubscribeUserMetadata(f) => {
                self.user_metadata.remove(&f.user_id);
            }
            ClientFrame::SetState(f) => {
                let states = self.states.entry((f.channel_type, f.channel.clone())).or_default();
                states.extend(f.states.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            ClientFrame::RemoveState(f) => {
                let key = (f.channel_type, f.channel.clone());
                match f.keys.as_deref() {
                    None | Some([]) => {
                        self.states.remove(&key);
                    }
                    Some(keys) => {
                        if let Some(states) = self.states.get_mut(&key) {
                            states.retain(|k, _| !keys.contains(k));
                        }
                    }
                }
            }
            ClientFrame::RealtimeJoin(f) => {
                self.scopes.insert(f.scope.clone());
            }
            ClientFrame::RealtimeLeave(f) => {
                self.scopes.remove(&f.scope);
            }
            ClientFrame::RenewToken(f) => {
                if let Some(stream) = f.channel.as_ref().and_then(|c| self.streams.get_mut(c)) {
                    stream.join.token = Some(f.token.clone());
                }
            }
            ClientFrame::EnterRoom(f) => self.room = Some(f.clone()),
            ClientFrame::ExitRoom(_) => self.room = None,
            ClientFrame::SwitchRole(f) => {
                if let Some(room) = self.room.as_mut() {
                    room.role = f.role;
                }
            }
            ClientFrame::SwitchRoom(f) => {
                if let Some(room) = self.room.as_mut() {
                    room.room = f.room.clone();
                }
            }
            _ => {}
        }
    }

    /// The server took the client out of its room (removed, dismissed, replaced).
    pub fn left_room(&mut self) {
        self.room = None;
    }

    /// Forgets what a failed restore step would have rebuilt, so later reconnects do not try it
    /// again (the application was told through `unrestoredChannels`).
    pub fn forget(&mut self, frame: &ClientFrame) {
        match frame {
            ClientFrame::Subscribe(f) => {
                self.subscriptions.remove(&f.channel);
                self.offsets.remove(&f.channel);
            }
            ClientFrame::Join(f) => {
                self.streams.remove(&f.channel);
            }
            ClientFrame::JoinTopic(f) => {
                if let Some(stream) = self.streams.get_mut(&f.channel) {
                    stream.topics.remove(&f.topic);
                }
            }
            ClientFrame::SubscribeTopic(f) => {
                if let Some(stream) = self.streams.get_mut(&f.channel) {
                    stream.subscribed.remove(&f.topic);
                }
            }
            ClientFrame::SetState(f) => {
                self.states.remove(&(f.channel_type, f.channel.clone()));
            }
            ClientFrame::RealtimeJoin(f) => {
                self.scopes.remove(&f.scope);
            }
            ClientFrame::EnterRoom(_) => self.room = None,
            ClientFrame::SubscribeUserMetadata(f) => {
                self.user_metadata.remove(&f.user_id);
            }
            _ => {}
        }
    }

    /// Whether a request changes what is remembered (and must be tracked until answered).
    pub fn tracks(frame: &ClientFrame) -> bool {
        matches!(
            frame,
            ClientFrame::Subscribe(_)
                | ClientFrame::Unsubscribe(_)
                | ClientFrame::Join(_)
                | ClientFrame::Leave(_)
                | ClientFrame::JoinTopic(_)
                | ClientFrame::LeaveTopic(_)
                | ClientFrame::SubscribeTopic(_)
                | ClientFrame::UnsubscribeTopic(_)
                | ClientFrame::SetState(_)
                | ClientFrame::RemoveState(_)
                | ClientFrame::RealtimeJoin(_)
                | ClientFrame::RealtimeLeave(_)
                | ClientFrame::EnterRoom(_)
                | ClientFrame::ExitRoom(_)
                | ClientFrame::SwitchRole(_)
                | ClientFrame::SwitchRoom(_)
                | ClientFrame::RenewToken(_)
                | ClientFrame::SubscribeUserMetadata(_)
                | ClientFrame::UnsubscribeUserMetadata(_)
        )
    }

    /// The requests that rebuild the session, in order: states first (the server applies them
    /// on join), then subscriptions and joins, then topics, then realtime scopes.
    pub fn restore_steps(&self) -> Vec<RestoreStep> {
        let mut steps = Vec::new();
        for ((channel_type, channel), states) in &self.states {
            let frame = ClientFrame::SetState(SetState {
                id: 0,
                channel: channel.clone(),
                channel_type: *channel_type,
                states: states.clone(),
            });
            steps.push(RestoreStep { frame, channel: channel.clone() });
        }
        for (channel, o) in &self.subscriptions {
            let mut subscribe = Subscribe::new(channel.clone(), *o);
            // In cluster mode with recovery: the messages after the last one received follow.
            subscribe.since = self.offsets.get(channel).copied();
            steps.push(RestoreStep { frame: ClientFrame::Subscribe(subscribe), channel: channel.clone() });
        }
        for (channel, stream) in &self.streams {
            steps.push(RestoreStep { frame: ClientFrame::Join(stream.join.clone()), channel: channel.clone() });
            for (topic, meta) in &stream.topics {
                let frame = ClientFrame::JoinTopic(JoinTopic {
                    id: 0,
                    channel: channel.clone(),
                    topic: topic.clone(),
                    meta: meta.clone(),
                });
                steps.push(RestoreStep { frame, channel: channel.clone() });
            }
            for (topic, users) in stream.subscribed.iter().filter(|(_, u)| !u.is_empty()) {
                let frame = ClientFrame::SubscribeTopic(TopicUsers {
                    id: 0,
                    channel: channel.clone(),
                    topic: topic.clone(),
                    users: Some(users.iter().cloned().collect()),
                });
                steps.push(RestoreStep { frame, channel: channel.clone() });
            }
        }
        for user in &self.user_metadata {
            let frame = ClientFrame::SubscribeUserMetadata(UserMetadataRef { id: 0, user_id: user.clone() });
            steps.push(RestoreStep { frame, channel: user.clone() });
        }
        for scope in &self.scopes {
            let frame = ClientFrame::RealtimeJoin(RealtimeScope { id: 0, scope: scope.clone() });
            steps.push(RestoreStep { frame, channel: scope.clone() });
        }
        if let Some(room) = &self.room {
            let channel = match &room.room {
                RoomId::Num(n) => n.to_string(),
                RoomId::Str(s) => s.clone(),
            };
            steps.push(RestoreStep { frame: ClientFrame::EnterRoom(room.clone()), channel });
        }
        steps
    }

    /// Every channel the session is in (for `affectedChannels`).
    pub fn channels(&self) -> Vec<String> {
        let mut all: Vec<String> = self.subscriptions.keys().chain(self.streams.keys()).cloned().collect();
        if let Some(room) = &self.room {
            all.push(match &room.room {
                RoomId::Num(n) => n.to_string(),
                RoomId::Str(s) => s.clone(),
            });
        }
        all.sort();
        all.dedup();
        all
    }

    /// Channels with presence that a restore will give a new SNAPSHOT.
    pub fn presence_channels(&self) -> Vec<(ChannelType, String)> {
        let messages =
            self.subscriptions.iter().filter(|(_, o)| o.with_presence).map(|(c, _)| (ChannelType::Message, c.clone()));
        let streams =
            self.streams.iter().filter(|(_, s)| s.join.with_presence).map(|(c, _)| (ChannelType::Stream, c.clone()));
        messages.chain(streams).collect()
    }

    /// Forgets everything (logout, or the server ended the session).
    pub fn clear(&mut self) {
        *self = Memory::default();
    }
}

/// Who the client last knew to be in each channel with presence.
#[derive(Debug, Default)]
pub(crate) struct PresenceViews {
    views: HashMap<(ChannelType, String), View>,
}

#[derive(Debug, Default)]
struct View {
    users: BTreeMap<String, States>,
    /// A restore is under way: the next SNAPSHOT gets the delta.
    restoring: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserStateLite {
    user_id: String,
    #[serde(default)]
    states: States,
}

#[derive(Deserialize, Default)]
struct UserListLite {
    #[serde(default)]
    users: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntervalLite {
    #[serde(default)]
    join: UserListLite,
    #[serde(default)]
    leave: UserListLite,
    #[serde(default)]
    timeout: UserListLite,
    #[serde(default)]
    user_state_list: Vec<UserStateLite>,
    #[serde(default)]
    total_occupancy: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PresenceLite {
    event_type: String,
    channel_type: ChannelType,
    channel_name: String,
    #[serde(default)]
    publisher: String,
    #[serde(default)]
    state_changed: States,
    #[serde(default)]
    snapshot: Option<Vec<UserStateLite>>,
    #[serde(default)]
    interval: Option<IntervalLite>,
}

impl PresenceViews {
    /// Marks channels whose next SNAPSHOT comes from a restore.
    pub fn mark_restoring(&mut self, channels: &[(ChannelType, String)]) {
        for key in channels {
            self.views.entry(key.clone()).or_default().restoring = true;
        }
    }

    pub fn forget(&mut self, channel_type: ChannelType, channel: &str) {
        self.views.remove(&(channel_type, channel.to_string()));
    }

    pub fn clear(&mut self) {
        self.views.clear();
    }

    /// Follows a presence event. Returns a replacement for it when it is a SNAPSHOT after a
    /// restore: the same event with `interval` holding who joined and left while the client was
    /// away (`join`, `leave`, `userStateList` of users whose states differ, `totalOccupancy`).
    pub fn observe(&mut self, body: &RawValue) -> Option<Box<RawValue>> {
        let event: PresenceLite = serde_json::from_str(body.get()).ok()?;
        let key = (event.channel_type, event.channel_name.clone());
        match event.event_type.as_str() {
            "SNAPSHOT" => {
                let users: BTreeMap<String, States> =
                    event.snapshot.unwrap_or_default().into_iter().map(|u| (u.user_id, u.states)).collect();
                // A crowded channel's SNAPSHOT lists only the first users: no delta can be
                // computed from it (the server's `interval.totalOccupancy` says the real size).
                let partial = event.interval.as_ref().is_some_and(|i| i.total_occupancy > users.len());
                let view = self.views.entry(key).or_default();
                let delta = (view.restoring && !partial).then(|| delta(&view.users, &users));
                view.users = users;
                view.restoring = false;
                let delta = delta?;
                let mut value: Value = serde_json::from_str(body.get()).ok()?;
                value["interval"] = delta;
                serde_json::value::to_raw_value(&value).ok()
            }
            "REMOTE_JOIN" => {
                self.views.entry(key).or_default().users.insert(event.publisher, event.state_changed);
                None
            }
            "REMOTE_LEAVE" | "REMOTE_TIMEOUT" => {
                if let Some(view) = self.views.get_mut(&key) {
                    view.users.remove(&event.publisher);
                }
                None
            }
            "REMOTE_STATE_CHANGED" => {
                self.views.entry(key).or_default().users.insert(event.publisher, event.state_changed);
                None
            }
            "INTERVAL" => {
                let view = self.views.entry(key).or_default();
                if let Some(interval) = event.interval {
                    for user in interval.join.users {
                        view.users.entry(user).or_default();
                    }
                    for user in interval.leave.users.into_iter().chain(interval.timeout.users) {
                        view.users.remove(&user);
                    }
                    for u in interval.user_state_list {
                        view.users.insert(u.user_id, u.states);
                    }
                }
                None
            }
            _ => None,
        }
    }
}

/// The `interval` object of a SNAPSHOT after a restore.
fn delta(before: &BTreeMap<String, States>, now: &BTreeMap<String, States>) -> Value {
    let joined: Vec<&String> = now.keys().filter(|u| !before.contains_key(*u)).collect();
    let left: Vec<&String> = before.keys().filter(|u| !now.contains_key(*u)).collect();
    let changed: Vec<Value> = now
        .iter()
        .filter(|(u, s)| before.get(*u).is_some_and(|old| old != *s))
        .map(|(u, s)| serde_json::json!({ "userId": u, "states": s, "statesCount": s.len() }))
        .collect();
    serde_json::json!({
        "join": { "users": joined, "userCount": joined.len() },
        "leave": { "users": left, "userCount": left.len() },
        "timeout": { "users": [], "userCount": 0 },
        "userStateList": changed,
        "totalOccupancy": now.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(value: Value) -> Box<RawValue> {
        serde_json::value::to_raw_value(&value).unwrap()
    }

    fn snapshot(users: &[&str]) -> Box<RawValue> {
        let users: Vec<Value> =
            users.iter().map(|u| serde_json::json!({"userId": u, "states": {}, "statesCount": 0})).collect();
        raw(serde_json::json!({"eventType":"SNAPSHOT","channelType":"MESSAGE","channelName":"c","publisher":"",
            "stateChanged":{},"interval":null,"snapshot":users,"timestamp":1}))
    }

    #[test]
    fn a_snapshot_after_a_restore_carries_who_joined_and_left() {
        let mut views = PresenceViews::default();
        assert!(views.observe(&snapshot(&["a", "b", "me"])).is_none(), "a first snapshot is passed through");
        views.observe(&raw(
            serde_json::json!({"eventType":"REMOTE_JOIN","channelType":"MESSAGE","channelName":"c","publisher":"c"}),
        ));
        views.mark_restoring(&[(ChannelType::Message, "c".into())]);
        let replaced = views.observe(&snapshot(&["b", "d", "me"])).expect("the delta is added");
        let value: Value = serde_json::from_str(replaced.get()).unwrap();
        assert_eq!(value["interval"]["join"], serde_json::json!({"users":["d"],"userCount":1}));
        assert_eq!(value["interval"]["leave"], serde_json::json!({"users":["a","c"],"userCount":2}));
        assert_eq!(value["interval"]["totalOccupancy"], 3);
        assert_eq!(value["eventType"], "SNAPSHOT");
        assert!(views.observe(&snapshot(&["b"])).is_none(), "only the first snapshot after the restore");
    }

    #[test]
    fn a_partial_snapshot_after_a_restore_is_passed_through_without_a_guessed_delta() {
        let mut views = PresenceViews::default();
        views.observe(&snapshot(&["a", "b", "me"]));
        views.mark_restoring(&[(ChannelType::Message, "c".into())]);
        let partial = raw(serde_json::json!({"eventType":"SNAPSHOT","channelType":"MESSAGE","channelName":"c",
            "publisher":"","stateChanged":{},"interval":{"totalOccupancy":500},
            "snapshot":[{"userId":"a","states":{},"statesCount":0}],"timestamp":1}));
        assert!(views.observe(&partial).is_none(), "the users past the cap are unknown, not gone");
        assert!(views.observe(&snapshot(&["b"])).is_none(), "the restore is over");
    }

    #[test]
    fn restore_steps_rebuild_states_first_then_joins_topics_and_scopes() {
        let mut memory = Memory::default();
        let ok = raw(serde_json::json!({"succeedUsers":["p"]}));
        let frames = [
            serde_json::json!({"op":"setState","id":1,"channel":"c","channelType":"MESSAGE","states":{"k":"v"}}),
            serde_json::json!({"op":"subscribe","id":2,"channel":"c"}),
            serde_json::json!({"op":"join","id":3,"channel":"s","withPresence":false}),
            serde_json::json!({"op":"joinTopic","id":4,"channel":"s","topic":"t","meta":"m"}),
            serde_json::json!({"op":"subscribeTopic","id":5,"channel":"s","topic":"t","users":["p","q"]}),
            serde_json::json!({"op":"realtimeJoin","id":6,"scope":"r"}),
        ];
        for f in frames {
            memory.record(&serde_json::from_value(f).unwrap(), &ok);
        }
        let ops: Vec<&str> = memory.restore_steps().iter().map(|s| s.frame.op()).collect();
        assert_eq!(ops, ["setState", "subscribe", "join", "joinTopic", "subscribeTopic", "realtimeJoin"]);
        let steps = memory.restore_steps();
        match &steps[4].frame {
            ClientFrame::SubscribeTopic(f) => assert_eq!(f.users.as_deref(), Some(&["p".to_string()][..])),
            other => panic!("{other:?}"),
        }
        assert_eq!(memory.presence_channels(), [(ChannelType::Message, "c".to_string())]);
        memory.record(&serde_json::from_value(serde_json::json!({"op":"leave","id":7,"channel":"s"})).unwrap(), &ok);
        assert_eq!(memory.channels(), ["c"]);
    }
}
