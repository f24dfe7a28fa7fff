//! Stream channels and topics (RTM `StreamChannel`, docs/PROTOCOL.md#stream-channels).
//!
//! A stream channel is a room: members join it, publish in topics they joined (≤ 8 each), and
//! receive a topic message only from the publishers they subscribed to in that topic (≤ 50
//! topics, ≤ 64 publishers per topic). All of a channel's state sits behind one mutex; frames
//! are encoded and handed to the broker after the lock is released (delivery locks it again).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use super::presence::{Arrival, IntervalBook, Presence};
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use super::channel::{check_payload, too_frequent, ChannelResponse};
use super::presence::{PresenceEvent, PresenceEventType};
use super::roster::{Member, Roster};
use super::{App, Hub, RateKey, Session, Tally};
use crate::broker::{Audience, Delivery, Route};
use crate::error::{Error, ErrorCode, Result};
use crate::names;
pub use crate::protocol::events::{PublisherInfo, TopicEvent, TopicEventType, TopicInfo};
use crate::protocol::{
    server, ChannelRef, ChannelType, FrameKind, Join, JoinTopic, MessageHeader, PublishTopic, TopicRef, TopicUsers,
};
use crate::time::now_ms;

/// Longest `meta` of a topic publisher, in bytes.
pub const MAX_TOPIC_META_BYTES: usize = 256;

/// SubscribeTopicErrorCode values of RTM 2 used in `failedDetails`.
mod subscribe_error {
    pub const INVALID_PARAMS: i32 = 4;
    pub const REMOTE_USER_IS_NOT_PUBLISHED: i32 = 5;
    pub const INVALID_REMOTE_USER: i32 = 6;
    pub const SUB_USER_EXCEED_LIMITATION: i32 = 20003;
}

#[derive(Default)]
struct Topic {
    /// Publisher → its meta.
    publishers: BTreeMap<Arc<str>, String>,
    /// Publisher → the sessions subscribed to it in this topic.
    subscribers: HashMap<Arc<str>, Vec<Arc<Session>>>,
}

impl Topic {
    fn is_unused(&self) -> bool {
        self.publishers.is_empty() && self.subscribers.values().all(Vec::is_empty)
    }
}

/// What one member does with topics.
#[derive(Default)]
struct MemberTopics {
    joined: BTreeSet<Arc<str>>,
    subscribed: HashMap<Arc<str>, BTreeSet<Arc<str>>>,
}

#[derive(Default)]
pub(crate) struct StreamState {
    pub(crate) roster: Roster,
    topics: HashMap<Arc<str>, Topic>,
    members: HashMap<Arc<str>, MemberTopics>,
}

/// One stream channel on this node.
pub struct StreamChannel {
    pub name: Arc<str>,
    pub(crate) state: Mutex<StreamState>,
    pub(crate) interval: Mutex<IntervalBook>,
}

/// `{ timestamp, channelName, topicName }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicResponse {
    pub timestamp: u64,
    pub channel_name: String,
    pub topic_name: String,
}

impl TopicResponse {
    fn now(channel: &str, topic: &str) -> Self {
        TopicResponse { timestamp: now_ms(), channel_name: channel.to_string(), topic_name: topic.to_string() }
    }
}

/// One entry of `failedDetails`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedDetail {
    pub user: String,
    pub error_code: i32,
    pub reason: String,
}

/// `SubscribeTopicResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeTopicResponse {
    pub timestamp: u64,
    pub channel_name: String,
    pub topic_name: String,
    pub succeed_users: Vec<String>,
    pub failed_users: Vec<String>,
    pub failed_details: Vec<FailedDetail>,
}

impl StreamState {
    fn topic_snapshot(&self) -> Vec<TopicInfo> {
        let mut infos: Vec<TopicInfo> = self
            .topics
            .iter()
            .filter(|(_, t)| !t.publishers.is_empty())
            .map(|(name, t)| TopicInfo {
                topic_name: name.to_string(),
                publishers: t
                    .publishers
                    .iter()
                    .map(|(u, m)| PublisherInfo { publisher_user_id: u.to_string(), publisher_meta: m.clone() })
                    .collect(),
                total_publisher: t.publishers.len(),
            })
            .collect();
        infos.sort_by(|a, b| a.topic_name.cmp(&b.topic_name));
        infos
    }

    /// Removes a member with its publisher roles and subscriptions; returns the member and the
    /// topics it published in.
    fn remove_member(&mut self, session: &Session) -> Option<(Member, Vec<TopicInfo>)> {
        let member = self.roster.remove(&session.user, session.id)?;
        let mine = self.members.remove(&session.user).unwrap_or_default();
        let mut published = Vec::new();
        for topic_name in &mine.joined {
            if let Some(topic) = self.topics.get_mut(topic_name) {
                if let Some(meta) = topic.publishers.remove(&session.user) {
                    published.push(TopicInfo::one_publisher(topic_name, &session.user, &meta));
                }
            }
        }
        for (topic_name, publishers) in &mine.subscribed {
            if let Some(topic) = self.topics.get_mut(topic_name) {
                for publisher in publishers {
                    if let Some(subs) = topic.subscribers.get_mut(publisher) {
                        subs.retain(|s| s.id != session.id);
                    }
                }
            }
        }
        self.topics.retain(|_, t| !t.is_unused());
        Some((member, published))
    }
}

impl StreamChannel {
    fn new(name: Arc<str>) -> Self {
        StreamChannel { name, state: Mutex::new(StreamState::default()), interval: Mutex::new(IntervalBook::default()) }
    }

    pub fn is_empty(&self) -> bool {
        self.state.lock().roster.is_empty()
    }

    /// Pushes a delivery to the local members it is for.
    pub(crate) fn deliver(&self, delivery: &Delivery, tally: &mut Tally) {
        let state = self.state.lock();
        if let Audience::TopicSubscribers { topic, publisher } = &delivery.audience {
            if let Some(subscribers) = state.topics.get(topic).and_then(|t| t.subscribers.get(publisher)) {
                for session in subscribers {
                    tally.record(session, session.outbox.push(delivery.frame.clone()));
                }
            }
            return;
        }
        state.roster.deliver(&delivery.frame, &delivery.audience, delivery.skip.as_deref(), tally);
    }
}

impl Hub {
    fn stream(&self, app: &App, name: &str) -> Option<Arc<StreamChannel>> {
        app.streams.read().get(name).cloned()
    }

    /// The stream channel a session has joined, or CHANNEL_NOT_JOINED.
    fn joined_stream(&self, session: &Session, name: &str) -> Result<(Arc<App>, Arc<StreamChannel>)> {
        names::channel(name)?;
        let not_joined = || Error::new(ErrorCode::ChannelNotJoined, format!("stream channel {name:?} is not joined"));
        if !session.state.lock().streams.contains(name) {
            return Err(not_joined());
        }
        let app = self.session_app(session)?;
        let stream = self.stream(&app, name).ok_or_else(not_joined)?;
        Ok((app, stream))
    }

    fn stream_route(app: &App, channel: &str) -> Route {
        Route::Stream { app: app.id.clone(), channel: Arc::from(channel) }
    }

    fn topic_event(&self, app: &App, channel: &str, event: &TopicEvent) {
        let frame = server::event(FrameKind::Topic, event);
        let skip = Some(Arc::from(event.publisher.as_str()));
        self.broker().publish(Delivery {
            route: Self::stream_route(app, channel),
            audience: Audience::Everyone,
            skip,
            frame,
        });
    }

    /// `StreamChannel.join`: presence and topic SNAPSHOTs for the joiner, REMOTE_JOIN for others.
    pub fn join_stream(&self, session: &Arc<Session>, req: Join, after: &mut Vec<Message>) -> Result<ChannelResponse> {
        names::channel(&req.channel)?;
        let limits = &self.config().limits;
        let app = self.session_app(session)?;
        let name: Arc<str> = Arc::from(req.channel.as_str());
        if session.state.lock().streams.contains(&name) {
            return Err(Error::new(ErrorCode::ChannelInReuse, format!("stream channel {name:?} is already joined")));
        }
        self.authorize_stream(session, &req.channel, req.token.as_ref())?;
        let states = {
            let state = session.state.lock();
            if state.ended {
                return Err(Error::new(ErrorCode::NotLogin, "session has ended"));
            }
            if state.streams.contains(&name) {
                return Err(Error::new(
                    ErrorCode::ChannelInReuse,
                    format!("stream channel {name:?} is already joined"),
                ));
            }
            if state.streams.len() >= limits.max_stream_channels_per_client {
                return Err(Error::new(
                    ErrorCode::ChannelInstanceExceedLimitation,
                    format!(
                        "already joined {} stream channels (limits.maxStreamChannelsPerClient)",
                        limits.max_stream_channels_per_client
                    ),
                ));
            }
            let pending = state.rare().and_then(|r| r.pending_states.get(&(ChannelType::Stream, name.clone())));
            pending.cloned().unwrap_or_default()
        };
        let member = Member {
            session: session.clone(),
            with_message: true,
            with_presence: req.with_presence,
            quiet: req.be_quiet,
            // Turned on with the SNAPSHOT (hub::storage): no event may come before it.
            with_metadata: false,
            with_lock: false,
            // Set with the presence SNAPSHOT, which follows the answer.
            presence_after: (!req.with_presence).then_some(0),
            recovering: None,
            replayed: 0,
            states: states.clone(),
        };
        let channel_name = name.clone();
        let joined = move |stream: &StreamChannel| -> Result<(Vec<TopicInfo>, usize, u64)> {
            let mut state = stream.state.lock();
            if state.roster.len() >= limits.max_stream_channel_users {
                return Err(Error::new(
                    ErrorCode::ChannelJoinFailed,
                    format!(
                        "stream channel {channel_name:?} is full ({} users, limits.maxStreamChannelUsers)",
                        limits.max_stream_channel_users
                    ),
                ));
            }
            state.roster.upsert(member);
            state.members.insert(session.user.clone(), MemberTopics::default());
            Ok((state.topic_snapshot(), state.roster.occupancy(), state.roster.version()))
        };
        let (stream, (topics, occupancy, change)) = {
            // The map's write lock is held while the member is added, so a concurrent removal
            // of the (momentarily empty) channel cannot orphan this member.
            let mut streams = app.streams.write();
            let (stream, result) = self.broker().join_group(
                || Self::stream_route(&app, &name),
                || {
                    let created = !streams.contains_key(&name);
                    let stream = streams
                        .entry(name.clone())
                        .or_insert_with(|| Arc::new(StreamChannel::new(name.clone())))
                        .clone();
                    let result = joined(&stream);
                    if created && result.is_err() {
                        streams.remove(&name);
                    }
                    let first = created && result.is_ok();
                    ((stream, result), first)
                },
            );
            (stream, result?)
        };
        let ended = {
            let mut state = session.state.lock();
            state.streams.insert(name.clone());
            if let Some(rare) = state.rare_mut() {
                rare.pending_states.remove(&(ChannelType::Stream, name.clone()));
            }
            state.ended
        };
        if ended {
            self.leave_stream_channel(&app, &name, session, PresenceEventType::RemoteLeave);
            return Err(Error::new(ErrorCode::NotLogin, "session has ended"));
        }
        let arrival = Arrival { session, states: &states, quiet: req.be_quiet, occupancy, change };
        self.arrive(&app, &Presence::Stream(stream), arrival);
        let topics = self.merge_topics(&app.id, &name, topics);
        after.push(server::event(FrameKind::Topic, &TopicEvent::new(TopicEventType::Snapshot, &name, "", topics)));
        Ok(ChannelResponse::now(req.channel))
    }

    /// `StreamChannel.leave`: drops every publisher role and subscription.
    pub fn leave_stream(&self, session: &Arc<Session>, req: ChannelRef) -> Result<ChannelResponse> {
        let (app, _) = self.joined_stream(session, &req.channel)?;
        session.state.lock().streams.remove(req.channel.as_str());
        self.leave_stream_channel(&app, &req.channel, session, PresenceEventType::RemoteLeave);
        Ok(ChannelResponse::now(req.channel))
    }

    pub(super) fn leave_stream_channel(&self, app: &App, name: &str, session: &Session, how: PresenceEventType) {
        let Some(stream) = self.stream(app, name) else { return };
        let (removed, occupancy, empty, change) = {
            let mut state = stream.state.lock();
            let removed = state.remove_member(session);
            (removed, state.roster.occupancy(), state.roster.is_empty(), state.roster.version())
        };
        let Some((member, published)) = removed else { return };
        for info in &published {
            self.dir_publisher(&app.id, name, &info.topic_name, session, None);
        }
        if !member.quiet {
            self.dir_member(&app.id, ChannelType::Stream, name, session, None);
        }
        // A user that moved to another node did not leave.
        let moved =
            session.state.lock().moved || self.member_elsewhere(&app.id, ChannelType::Stream, name, &session.user);
        if !published.is_empty() && !moved {
            self.topic_event(app, name, &TopicEvent::new(TopicEventType::RemoteLeave, name, &session.user, published));
        }
        if !member.quiet && !moved {
            let presence = Presence::Stream(stream.clone());
            let occupancy = self.occupancy_everywhere(app, &presence, occupancy);
            let event = PresenceEvent::about(how, ChannelType::Stream, name, &session.user);
            self.announce(app, &presence, occupancy, event, Some(change));
        }
        if empty {
            let mut streams = app.streams.write();
            self.broker().leave_group(
                || Self::stream_route(app, name),
                || match streams.get(name) {
                    Some(stream) if stream.is_empty() => streams.remove(name),
                    _ => None,
                },
            );
        }
    }

    /// `joinTopic`: become a publisher of a topic.
    pub fn join_topic(&self, session: &Arc<Session>, req: JoinTopic) -> Result<TopicResponse> {
        let (app, stream) = self.joined_stream(session, &req.channel)?;
        names::topic(&req.topic)?;
        if req.meta.len() > MAX_TOPIC_META_BYTES {
            return Err(Error::new(
                ErrorCode::ChannelInvalidTopicMeta,
                format!("topic meta is {} bytes; at most {MAX_TOPIC_META_BYTES} are allowed", req.meta.len()),
            ));
        }
        let max = self.config().limits.max_joined_topics;
        let topic: Arc<str> = Arc::from(req.topic.as_str());
        let announce = {
            let mut state = stream.state.lock();
            let state = &mut *state;
            let mine = state.members.get_mut(&session.user).ok_or_else(|| not_joined(&req.channel))?;
            if mine.joined.contains(&topic) {
                state
                    .topics
                    .entry(topic.clone())
                    .or_default()
                    .publishers
                    .insert(session.user.clone(), req.meta.clone());
                false
            } else {
                if mine.joined.len() >= max {
                    return Err(Error::new(
                        ErrorCode::ChannelExceedTopicLimitation,
                        format!("already publishing in {max} topics of {:?} (limits.maxJoinedTopics)", req.channel),
                    ));
                }
                mine.joined.insert(topic.clone());
                state
                    .topics
                    .entry(topic.clone())
                    .or_default()
                    .publishers
                    .insert(session.user.clone(), req.meta.clone());
                true
            }
        };
        self.dir_publisher(&app.id, &req.channel, &req.topic, session, Some(&req.meta));
        if announce {
            let info = TopicInfo::one_publisher(&req.topic, &session.user, &req.meta);
            self.topic_event(
                &app,
                &req.channel,
                &TopicEvent::new(TopicEventType::RemoteJoin, &req.channel, &session.user, vec![info]),
            );
        }
        Ok(TopicResponse::now(&req.channel, &req.topic))
    }

    /// `leaveTopic`: stop publishing in a topic (subscriptions are untouched).
    pub fn leave_topic(&self, session: &Arc<Session>, req: TopicRef) -> Result<TopicResponse> {
        let (app, stream) = self.joined_stream(session, &req.channel)?;
        names::topic(&req.topic)?;
        let meta = {
            let mut state = stream.state.lock();
            let state = &mut *state;
            let mine = state.members.get_mut(&session.user).ok_or_else(|| not_joined(&req.channel))?;
            if !mine.joined.remove(req.topic.as_str()) {
                return Err(topic_not_joined(&req.topic));
            }
            let meta = state.topics.get_mut(req.topic.as_str()).and_then(|t| t.publishers.remove(&session.user));
            state.topics.retain(|_, t| !t.is_unused());
            meta.unwrap_or_default()
        };
        self.dir_publisher(&app.id, &req.channel, &req.topic, session, None);
        let info = TopicInfo::one_publisher(&req.topic, &session.user, &meta);
        self.topic_event(
            &app,
            &req.channel,
            &TopicEvent::new(TopicEventType::RemoteLeave, &req.channel, &session.user, vec![info]),
        );
        Ok(TopicResponse::now(&req.channel, &req.topic))
    }

    /// `publishTopicMessage`: to the users subscribed to this publisher in this topic.
    pub fn publish_topic(&self, session: &Arc<Session>, req: PublishTopic, payload: Bytes) -> Result<TopicResponse> {
        let _receipt = super::latency::Receipt::begin();
        let (app, stream) = self.joined_stream(session, &req.channel)?;
        names::topic(&req.topic)?;
        names::custom_type(&req.custom_type)?;
        let limits = &self.config().limits;
        check_payload(&payload, req.message_type, limits.max_message_bytes, req.encrypted)?;
        {
            let state = stream.state.lock();
            let joined = state.members.get(&session.user).is_some_and(|m| m.joined.contains(req.topic.as_str()));
            if !joined {
                return Err(topic_not_joined(&req.topic));
            }
        }
        if !app.rates.lock().try_take(RateKey::Stream, &stream.name, limits.publish_rate_per_channel) {
            return Err(too_frequent(&req.channel, limits.publish_rate_per_channel));
        }
        let header = MessageHeader {
            channel_type: ChannelType::Stream,
            channel_name: req.channel.clone(),
            topic_name: req.topic.clone(),
            message_type: req.message_type,
            custom_type: req.custom_type,
            publisher: session.user.to_string(),
            timestamp: now_ms(),
        };
        let frame = server::message(&header, &payload, req.encrypted);
        self.counters().messages_in.fetch_add(1, Ordering::Relaxed);
        let audience =
            Audience::TopicSubscribers { topic: Arc::from(req.topic.as_str()), publisher: session.user.clone() };
        self.broker().publish(Delivery { route: Self::stream_route(&app, &req.channel), audience, skip: None, frame });
        Ok(TopicResponse { timestamp: header.timestamp, channel_name: req.channel, topic_name: req.topic })
    }

    /// `subscribeTopic`: incremental; each user succeeds or fails on its own.
    pub fn subscribe_topic(&self, session: &Arc<Session>, req: TopicUsers) -> Result<SubscribeTopicResponse> {
        let (app, stream) = self.joined_stream(session, &req.channel)?;
        names::topic(&req.topic)?;
        let remote = self.remote_publishers(&app.id, &req.channel, &req.topic);
        let limits = &self.config().limits;
        let topic_name: Arc<str> = Arc::from(req.topic.as_str());
        let mut response = SubscribeTopicResponse {
            timestamp: now_ms(),
            channel_name: req.channel.clone(),
            topic_name: req.topic.clone(),
            succeed_users: Vec::new(),
            failed_users: Vec::new(),
            failed_details: Vec::new(),
        };
        let mut fail = |user: &str, code: i32, reason: String| {
            response.failed_users.push(user.to_string());
            response.failed_details.push(FailedDetail { user: user.to_string(), error_code: code, reason });
        };
        let mut state = stream.state.lock();
        let state = &mut *state;
        let mine = state.members.get_mut(&session.user).ok_or_else(|| not_joined(&req.channel))?;
        if !mine.subscribed.contains_key(&topic_name) && mine.subscribed.len() >= limits.max_subscribed_topics {
            return Err(Error::new(
                ErrorCode::ChannelExceedTopicLimitation,
                format!(
                    "already subscribed to {} topics of {:?} (limits.maxSubscribedTopics)",
                    limits.max_subscribed_topics, req.channel
                ),
            ));
        }
        let topic = state.topics.entry(topic_name.clone()).or_default();
        let candidates: Vec<String> = match req.users {
            Some(users) => users,
            None => {
                let mut all: std::collections::BTreeSet<String> = remote.keys().cloned().collect();
                all.extend(topic.publishers.keys().map(|u| u.to_string()));
                all.into_iter().filter(|u| *u != *session.user).collect()
            }
        };
        let subscribed = mine.subscribed.entry(topic_name.clone()).or_default();
        let max = limits.max_publishers_per_topic_subscription;
        for user in candidates {
            if let Err(e) = names::user_id(&user) {
                fail(&user, subscribe_error::INVALID_PARAMS, e.reason);
            } else if *user == *session.user {
                fail(&user, subscribe_error::INVALID_REMOTE_USER, "a user cannot subscribe to itself".into());
            } else if subscribed.contains(user.as_str()) {
                response.succeed_users.push(user);
            } else if let Some(publisher) = topic
                .publishers
                .get_key_value(user.as_str())
                .map(|(p, _)| p.clone())
                .or_else(|| remote.contains_key(&user).then(|| Arc::from(user.as_str())))
            {
                if subscribed.len() >= max {
                    fail(&user, subscribe_error::SUB_USER_EXCEED_LIMITATION, format!("already subscribed to {max} publishers in this topic (limits.maxPublishersPerTopicSubscription)"));
                } else {
                    subscribed.insert(publisher.clone());
                    topic.subscribers.entry(publisher).or_default().push(session.clone());
                    response.succeed_users.push(user);
                }
            } else {
                fail(
                    &user,
                    subscribe_error::REMOTE_USER_IS_NOT_PUBLISHED,
                    format!("{user:?} does not publish in topic {:?}", req.topic),
                );
            }
        }
        Ok(response)
    }

    /// `unsubscribeTopic`: the given publishers, or (without `users`) the whole topic.
    pub fn unsubscribe_topic(&self, session: &Arc<Session>, req: TopicUsers) -> Result<TopicResponse> {
        let (_, stream) = self.joined_stream(session, &req.channel)?;
        names::topic(&req.topic)?;
        let mut state = stream.state.lock();
        let state = &mut *state;
        let mine = state.members.get_mut(&session.user).ok_or_else(|| not_joined(&req.channel))?;
        let Some(subscribed) = mine.subscribed.get_mut(req.topic.as_str()) else {
            return Err(Error::new(
                ErrorCode::ChannelTopicNotSubscribed,
                format!("topic {:?} is not subscribed", req.topic),
            ));
        };
        let dropped: Vec<Arc<str>> = match &req.users {
            Some(users) => users.iter().filter_map(|u| subscribed.take(u.as_str())).collect(),
            None => std::mem::take(subscribed).into_iter().collect(),
        };
        if req.users.is_none() {
            mine.subscribed.remove(req.topic.as_str());
        }
        if let Some(topic) = state.topics.get_mut(req.topic.as_str()) {
            for publisher in dropped {
                if let Some(subs) = topic.subscribers.get_mut(&publisher) {
                    subs.retain(|s| s.id != session.id);
                }
            }
        }
        state.topics.retain(|_, t| !t.is_unused());
        Ok(TopicResponse::now(&req.channel, &req.topic))
    }
}

impl Hub {
    /// Adds the publishers on other nodes to a topic snapshot.
    fn merge_topics(&self, app: &str, channel: &str, local: Vec<TopicInfo>) -> Vec<TopicInfo> {
        let remote = self.remote_topics(app, channel);
        if remote.is_empty() {
            return local;
        }
        let mut all: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> = remote;
        for info in local {
            let topic = all.entry(info.topic_name).or_default();
            for p in info.publishers {
                topic.insert(p.publisher_user_id, p.publisher_meta);
            }
        }
        all.into_iter()
            .map(|(topic_name, publishers)| TopicInfo {
                topic_name,
                total_publisher: publishers.len(),
                publishers: publishers
                    .into_iter()
                    .map(|(publisher_user_id, publisher_meta)| PublisherInfo { publisher_user_id, publisher_meta })
                    .collect(),
            })
            .collect()
    }

    /// Tells a stream channel's members that a dead node's publisher is gone from a topic.
    pub(super) fn announce_publisher_gone(&self, app: &str, channel: &str, topic: &str, user: &str, meta: &str) {
        let event = TopicEvent::new(
            TopicEventType::RemoteLeave,
            channel,
            user,
            vec![TopicInfo::one_publisher(topic, user, meta)],
        );
        self.broker().publish(Delivery {
            route: Route::Stream { app: Arc::from(app), channel: Arc::from(channel) },
            audience: Audience::Everyone,
            skip: Some(Arc::from(user)),
            frame: server::event(FrameKind::Topic, &event),
        });
    }
}

fn not_joined(channel: &str) -> Error {
    Error::new(ErrorCode::ChannelNotJoined, format!("stream channel {channel:?} is not joined"))
}

fn topic_not_joined(topic: &str) -> Error {
    Error::new(ErrorCode::ChannelTopicNotJoined, format!("topic {topic:?} is not joined (call joinTopic first)"))
}
