//! Message channels (RTM `subscribe` / `unsubscribe` / `publish`; docs/PROTOCOL.md#operations and
//! #presence) and user channels.
//!
//! A channel exists on a node while it has members there. A publish is encoded once into a
//! frame that every subscriber's outbox receives as the same `Bytes`. Subscribing announces a
//! presence REMOTE_JOIN to the others and gives the subscriber a SNAPSHOT.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use super::presence::{Arrival, IntervalBook, Presence, PresenceEvent, PresenceEventType};
use super::roster::{Member, Roster};
use super::{App, Hub, Session};
use crate::broker::{Audience, Delivery, Route};
use crate::error::{Error, ErrorCode, Result};
use crate::names;
use crate::protocol::{server, ChannelType, MessageHeader, MessageType, Publish, Subscribe, Unsubscribe};
use crate::store::{HistoryKey, HistoryMessage};
use crate::time::now_ms;

/// The members of one message channel on this node.
pub struct MessageChannel {
    pub name: Arc<str>,
    pub(crate) roster: RwLock<Roster>,
    pub(crate) interval: Mutex<IntervalBook>,
}

impl MessageChannel {
    fn new(name: Arc<str>) -> Self {
        MessageChannel { name, roster: RwLock::new(Roster::default()), interval: Mutex::new(IntervalBook::default()) }
    }

    /// Members on this node.
    pub fn len(&self) -> usize {
        self.roster.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `SubscribeResponse`, `UnsubscribeResponse`, `PublishResponse`: `{ timestamp, channelName }`;
/// a `subscribe` with `since` also says whether every message after it was `recovered`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelResponse {
    pub timestamp: u64,
    pub channel_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered: Option<bool>,
}

impl ChannelResponse {
    pub fn now(channel: impl Into<String>) -> Self {
        ChannelResponse { timestamp: now_ms(), channel_name: channel.into(), recovered: None }
    }
}

/// Checks a payload against the size limit and its declared type.
/// An encrypted payload is opaque: only its size is checked.
pub(super) fn check_payload(payload: &[u8], message_type: MessageType, max: usize, encrypted: bool) -> Result<()> {
    if payload.len() > max {
        return Err(Error::new(
            ErrorCode::ChannelMessageLengthExceedLimitation,
            format!("message is {} bytes; at most {max} are allowed", payload.len()),
        ));
    }
    if !encrypted && message_type == MessageType::String && std::str::from_utf8(payload).is_err() {
        return Err(Error::new(ErrorCode::ChannelInvalidMessage, "a STRING message must be valid UTF-8"));
    }
    Ok(())
}

pub(super) fn too_frequent(channel: &str, rate: u32) -> Error {
    Error::new(
        ErrorCode::ChannelPublishMessageTooFrequent,
        format!("more than {rate} messages per second into {channel:?} (limits.publishRatePerChannel)"),
    )
}

/// A new member that recovers (cluster recovery): the offset it has, and its held messages
/// (which identify it).
pub(super) type Recovering = (u64, Arc<parking_lot::Mutex<super::roster::Held>>);

/// What subscribing did to a channel's roster.
enum Added {
    /// A new member: the occupancy and the roster's version.
    New(usize, u64),
    /// The user was a member: its options were updated (`was_quiet`: before).
    Updated { was_quiet: bool },
}

/// A message to keep in history: where, and what.
pub type Stored = Option<(HistoryKey, HistoryMessage)>;

impl Hub {
    /// RTM `subscribe`: joins a message channel (a second call updates the options). With
    /// the offset to recover after when the new member recovers (see `hub::recovery`).
    pub fn subscribe(&self, session: &Arc<Session>, req: Subscribe) -> Result<(ChannelResponse, Option<Recovering>)> {
        names::channel(&req.channel)?;
        let options = req.options();
        let app = self.session_app(session)?;
        // The channel's own name when it exists: each member's subscription holds no copy.
        let known = app.channels.read().get_key_value(req.channel.as_str()).map(|(name, _)| name.clone());
        let name: Arc<str> = known.unwrap_or_else(|| Arc::from(req.channel.as_str()));
        let states = {
            let mut state = session.state.lock();
            if state.ended {
                return Err(Error::new(ErrorCode::NotLogin, "session has ended"));
            }
            let max = self.config().limits.max_subscriptions_per_client;
            if !state.channels.contains_key(&name) && state.channels.len() >= max {
                return Err(Error::new(
                    ErrorCode::ChannelInstanceExceedLimitation,
                    format!("already subscribed to {max} message channels (limits.maxSubscriptionsPerClient)"),
                ));
            }
            state.channels.insert(name.clone(), options);
            let pending = state.rare_mut().and_then(|r| r.pending_states.remove(&(ChannelType::Message, name.clone())));
            pending.unwrap_or_default()
        };
        let recovering = req.since.is_some() && options.with_message && self.recovery().is_some();
        let token: Option<Arc<parking_lot::Mutex<super::roster::Held>>> = recovering.then(Default::default);
        let member = Member {
            session: session.clone(),
            with_message: options.with_message,
            with_presence: options.with_presence,
            quiet: options.be_quiet,
            // Turned on with the SNAPSHOT (hub::storage): no event may come before it.
            with_metadata: false,
            with_lock: false,
            // Set with the presence SNAPSHOT, which follows the answer.
            presence_after: (!options.with_presence).then_some(0),
            // Cluster recovery: the messages after `since` come from the log first.
            recovering: token.clone(),
            replayed: 0,
            states: states.clone(),
        };
        let (channel, added) = self.join_channel(&app, &name, member);
        let joined = match added {
            Added::New(occupancy, change) => Some((occupancy, change)),
            Added::Updated { was_quiet } => {
                if was_quiet != options.be_quiet {
                    // The directory follows the member's visibility: other nodes count it there.
                    let states = channel.roster.read().get(&session.user).map(|m| m.states.clone());
                    let visible = states.filter(|_| !options.be_quiet);
                    self.dir_member(&app.id, ChannelType::Message, &name, session, visible.as_ref());
                }
                None
            }
        };
        if session.is_ended() {
            self.leave_channel(&app, &name, session, PresenceEventType::RemoteLeave);
            return Err(Error::new(ErrorCode::NotLogin, "session has ended"));
        }
        let since = req.since.zip(token).filter(|_| joined.is_some());
        if let Some((occupancy, change)) = joined {
            let arrival = Arrival { session, states: &states, quiet: options.be_quiet, occupancy, change };
            self.arrive(&app, &Presence::Message(channel), arrival);
        }
        Ok((ChannelResponse::now(req.channel), since))
    }

    /// RTM `unsubscribe`.
    pub fn unsubscribe(&self, session: &Arc<Session>, req: Unsubscribe) -> Result<ChannelResponse> {
        names::channel(&req.channel)?;
        let removed = session.state.lock().channels.remove(req.channel.as_str()).is_some();
        if !removed {
            return Err(Error::new(
                ErrorCode::ChannelNotSubscribed,
                format!("not subscribed to channel {:?}", req.channel),
            ));
        }
        if let Some(app) = self.app(&session.app) {
            self.leave_channel(&app, &req.channel, session, PresenceEventType::RemoteLeave);
        }
        Ok(ChannelResponse::now(req.channel))
    }

    /// Adds a member, or updates the user's options.
    fn join_channel(&self, app: &App, name: &Arc<str>, member: Member) -> (Arc<MessageChannel>, Added) {
        let add = |channel: &MessageChannel| {
            let mut roster = channel.roster.write();
            let was_quiet = roster.get(&member.session.user).map(|m| m.quiet);
            match roster.upsert(member) {
                true => Added::New(roster.occupancy(), roster.version()),
                false => Added::Updated { was_quiet: was_quiet.unwrap_or_default() },
            }
        };
        // The channel map lock is held while the member is added, so a concurrent removal of
        // the (momentarily empty) channel cannot orphan this member.
        {
            let channels = app.channels.read();
            if let Some(channel) = channels.get(name) {
                return (channel.clone(), add(channel));
            }
        }
        let mut channels = app.channels.write();
        let route = || Route::Channel { app: app.id.clone(), channel: name.clone() };
        self.broker().join_group(route, || {
            let mut created = false;
            let channel = channels
                .entry(name.clone())
                .or_insert_with(|| {
                    created = true;
                    Arc::new(MessageChannel::new(name.clone()))
                })
                .clone();
            let joined = add(&channel);
            ((channel, joined), created)
        })
    }

    /// Removes a session from a channel and tells the others how it went (`how`).
    pub(super) fn leave_channel(&self, app: &App, name: &str, session: &Session, how: PresenceEventType) {
        let Some(channel) = app.channels.read().get(name).cloned() else { return };
        let (removed, occupancy, empty, change) = {
            let mut roster = channel.roster.write();
            (roster.remove(&session.user, session.id), roster.occupancy(), roster.is_empty(), roster.version())
        };
        let Some(member) = removed else { return };
        if !member.quiet {
            self.dir_member(&app.id, ChannelType::Message, name, session, None);
            // A user that moved to another node did not leave.
            let moved =
                session.state.lock().moved || self.member_elsewhere(&app.id, ChannelType::Message, name, &session.user);
            if !moved {
                let presence = Presence::Message(channel.clone());
                let occupancy = self.occupancy_everywhere(app, &presence, occupancy);
                let event = PresenceEvent::about(how, ChannelType::Message, name, &session.user);
                self.announce(app, &presence, occupancy, event, Some(change));
            }
        }
        if empty {
            let mut channels = app.channels.write();
            let route = || Route::Channel { app: app.id.clone(), channel: Arc::from(name) };
            self.broker().leave_group(route, || match channels.get(name) {
                Some(channel) if channel.is_empty() => channels.remove(name),
                _ => None,
            });
        }
    }

    /// RTM `publish` to a message channel or (channelType USER) to one user.
    /// With `storeInHistory`, also what to keep in which history (the caller keeps it, then
    /// answers).
    pub fn publish(&self, session: &Arc<Session>, req: Publish, payload: Bytes) -> Result<(ChannelResponse, Stored)> {
        let app = self.session_app(session)?;
        self.publish_as(&app, &session.user, req, payload)
    }

    /// A publish by `publisher` (a session's user, or the backend API's publisher).
    pub(super) fn publish_as(
        &self,
        app: &App,
        publisher: &str,
        req: Publish,
        payload: Bytes,
    ) -> Result<(ChannelResponse, Stored)> {
        let _receipt = super::latency::Receipt::begin();
        let limits = &self.config().limits;
        names::custom_type(&req.custom_type)?;
        check_payload(&payload, req.message_type, limits.max_message_bytes, req.encrypted)?;
        let (route, audience, channel_name) = match req.channel_type {
            ChannelType::Message => {
                names::channel(&req.channel)?;
                let name: Arc<str> = Arc::from(req.channel.as_str());
                if !app.rates.lock().try_take(super::RateKey::Channel, &name, limits.publish_rate_per_channel) {
                    return Err(too_frequent(&req.channel, limits.publish_rate_per_channel));
                }
                (Route::Channel { app: app.id.clone(), channel: name }, Audience::Messages, req.channel.clone())
            }
            ChannelType::User => {
                names::user_id(&req.channel)?;
                if app.rtm_session(&req.channel).is_none() && !self.online_elsewhere(&app.id, &req.channel) {
                    return Err(Error::new(
                        ErrorCode::ChannelReceiverOffline,
                        format!("user {:?} is not online", req.channel),
                    ));
                }
                let user: Arc<str> = Arc::from(req.channel.as_str());
                if !app.rates.lock().try_take(super::RateKey::User, &user, limits.publish_rate_per_channel) {
                    return Err(too_frequent(&req.channel, limits.publish_rate_per_channel));
                }
                // The receiver sees the publisher as the channel, so a reply goes back to it.
                (Route::User { app: app.id.clone(), user }, Audience::Everyone, publisher.to_string())
            }
            ChannelType::Stream => {
                return Err(Error::new(
                    ErrorCode::InvalidChannelType,
                    "publish takes MESSAGE or USER; stream channels use publishTopicMessage",
                ))
            }
        };
        let header = MessageHeader {
            channel_type: req.channel_type,
            channel_name,
            topic_name: String::new(),
            message_type: req.message_type,
            custom_type: req.custom_type,
            publisher: publisher.to_string(),
            timestamp: now_ms(),
        };
        let frame = server::message(&header, &payload, req.encrypted);
        self.counters().messages_in.fetch_add(1, Ordering::Relaxed);
        self.broker().publish(Delivery { route, audience, skip: None, frame });
        if req.channel_type == ChannelType::Message {
            let (custom, encrypted) = (&header.custom_type, req.encrypted);
            self.hook_message(&app.id, &req.channel, publisher, req.message_type, custom, encrypted, &payload);
        }
        // USER history is the receiver's inbox: it is named by the receiver.
        let stored = req.store_in_history.then(|| {
            let key =
                HistoryKey { app: app.id.to_string(), channel_type: req.channel_type, channel: req.channel.clone() };
            let message = HistoryMessage {
                publisher: header.publisher.clone(),
                custom_type: header.custom_type.clone(),
                message_type: req.message_type,
                encrypted: req.encrypted,
                timestamp: header.timestamp,
                payload,
            };
            (key, message)
        });
        Ok((ChannelResponse { timestamp: header.timestamp, channel_name: req.channel, recovered: None }, stored))
    }
}
