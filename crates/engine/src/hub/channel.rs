//! Message channels (RTM `subscribe` / `unsubscribe` / `publish`, SPEC §4.1) and user channels.
//!
//! A channel exists while it has subscribers on this node. A publish is encoded once into a
//! frame that every subscriber's outbox receives as the same `Bytes`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use super::outbox::Push;
use super::{App, Hub, Session, SubOptions};
use crate::broker::{Delivery, Route};
use crate::error::{Error, ErrorCode, Result};
use crate::names;
use crate::protocol::{
    codec, ChannelType, MessageHeader, MessageType, Publish, Subscribe, Unsubscribe,
};
use crate::time::now_ms;

struct Member {
    session: Arc<Session>,
    options: SubOptions,
}

/// The subscribers of one message channel on this node.
pub struct MessageChannel {
    pub name: Arc<str>,
    members: RwLock<Members>,
}

#[derive(Default)]
struct Members {
    list: Vec<Member>,
    /// Session id → position in `list`, for O(1) removal.
    index: HashMap<u64, usize>,
}

impl MessageChannel {
    fn new(name: Arc<str>) -> Self {
        MessageChannel {
            name,
            members: RwLock::new(Members::default()),
        }
    }

    /// Pushes `frame` to every member that wants messages; returns how many got it. Members
    /// whose queue overflowed are collected in `overflows` for the caller to count.
    pub(crate) fn fan_out(
        &self,
        frame: &Message,
        overflows: &mut Vec<(Arc<Session>, usize)>,
    ) -> usize {
        let members = self.members.read();
        let mut delivered = 0;
        for member in members.list.iter().filter(|m| m.options.with_message) {
            match member.session.outbox.push(frame.clone()) {
                Push::Queued => delivered += 1,
                Push::Overflow { dropped } => overflows.push((member.session.clone(), dropped)),
                Push::Dropped | Push::Closed => {}
            }
        }
        delivered
    }

    fn insert(&self, session: &Arc<Session>, options: SubOptions) {
        let mut members = self.members.write();
        if let Some(&i) = members.index.get(&session.id) {
            members.list[i].options = options;
            return;
        }
        let position = members.list.len();
        members.list.push(Member {
            session: session.clone(),
            options,
        });
        members.index.insert(session.id, position);
    }

    /// Removes a session; returns whether the channel is now empty.
    fn remove(&self, session_id: u64) -> bool {
        let mut members = self.members.write();
        if let Some(i) = members.index.remove(&session_id) {
            members.list.swap_remove(i);
            if i < members.list.len() {
                let moved = members.list[i].session.id;
                members.index.insert(moved, i);
            }
        }
        members.list.is_empty()
    }

    /// Subscribers on this node.
    pub fn len(&self) -> usize {
        self.members.read().list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `SubscribeResponse`, `UnsubscribeResponse`, `PublishResponse`: `{ timestamp, channelName }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelResponse {
    pub timestamp: u64,
    pub channel_name: String,
}

impl Hub {
    /// RTM `subscribe`: joins a message channel (idempotent; a second call updates options).
    pub fn subscribe(&self, session: &Arc<Session>, req: Subscribe) -> Result<ChannelResponse> {
        names::channel(&req.channel)?;
        let options = SubOptions {
            with_message: req.with_message,
            with_presence: req.with_presence,
            be_quiet: req.be_quiet,
            with_metadata: req.with_metadata,
            with_lock: req.with_lock,
        };
        let app = self
            .app(&session.app)
            .ok_or_else(|| Error::new(ErrorCode::NotLogin, "session has ended"))?;
        let name: Arc<str> = Arc::from(req.channel.as_str());
        {
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
        }
        self.join_channel(&app, &name, session, options);
        Ok(ChannelResponse {
            timestamp: now_ms(),
            channel_name: req.channel,
        })
    }

    /// RTM `unsubscribe`.
    pub fn unsubscribe(&self, session: &Arc<Session>, req: Unsubscribe) -> Result<ChannelResponse> {
        names::channel(&req.channel)?;
        let removed = session
            .state
            .lock()
            .channels
            .remove(req.channel.as_str())
            .is_some();
        if !removed {
            return Err(Error::new(
                ErrorCode::ChannelNotSubscribed,
                format!("not subscribed to channel {:?}", req.channel),
            ));
        }
        if let Some(app) = self.app(&session.app) {
            self.leave_channel(&app, &req.channel, session);
        }
        Ok(ChannelResponse {
            timestamp: now_ms(),
            channel_name: req.channel,
        })
    }

    fn join_channel(
        &self,
        app: &App,
        name: &Arc<str>,
        session: &Arc<Session>,
        options: SubOptions,
    ) {
        // The channel map lock is held while the member is added, so a concurrent removal of
        // the (momentarily empty) channel cannot orphan this member.
        {
            let channels = app.channels.read();
            if let Some(channel) = channels.get(name) {
                channel.insert(session, options);
                return;
            }
        }
        let mut channels = app.channels.write();
        let mut created = false;
        let channel = channels.entry(name.clone()).or_insert_with(|| {
            created = true;
            Arc::new(MessageChannel::new(name.clone()))
        });
        channel.insert(session, options);
        if created {
            self.broker().subscribe(&Route::Channel {
                app: app.id.clone(),
                channel: name.clone(),
            });
        }
    }

    pub(super) fn leave_channel(&self, app: &App, name: &str, session: &Session) {
        let empty = match app.channels.read().get(name) {
            Some(channel) => channel.remove(session.id),
            None => return,
        };
        if empty {
            let mut channels = app.channels.write();
            if channels.get(name).is_some_and(|c| c.is_empty()) {
                let (name, _) = channels.remove_entry(name).expect("checked above");
                self.broker().unsubscribe(&Route::Channel {
                    app: app.id.clone(),
                    channel: name,
                });
            }
        }
    }

    /// RTM `publish` to a message channel or (channelType USER) to one user.
    pub fn publish(
        &self,
        session: &Arc<Session>,
        req: Publish,
        payload: Bytes,
    ) -> Result<ChannelResponse> {
        let limits = &self.config().limits;
        names::custom_type(&req.custom_type)?;
        if payload.len() > limits.max_message_bytes {
            return Err(Error::new(
                ErrorCode::ChannelMessageLengthExceedLimitation,
                format!(
                    "message is {} bytes; at most {} are allowed",
                    payload.len(),
                    limits.max_message_bytes
                ),
            ));
        }
        if req.message_type == MessageType::String && std::str::from_utf8(&payload).is_err() {
            return Err(Error::new(
                ErrorCode::ChannelInvalidMessage,
                "a STRING message must be valid UTF-8",
            ));
        }
        let app = self
            .app(&session.app)
            .ok_or_else(|| Error::new(ErrorCode::NotLogin, "session has ended"))?;
        let (route, channel_name) = match req.channel_type {
            ChannelType::Message => {
                names::channel(&req.channel)?;
                let name: Arc<str> = Arc::from(req.channel.as_str());
                if !app
                    .rates
                    .lock()
                    .try_take(false, &name, limits.publish_rate_per_channel)
                {
                    return Err(too_frequent(&req.channel, limits.publish_rate_per_channel));
                }
                (
                    Route::Channel {
                        app: app.id.clone(),
                        channel: name,
                    },
                    req.channel.clone(),
                )
            }
            ChannelType::User => {
                names::user_id(&req.channel)?;
                if app.rtm_session(&req.channel).is_none() {
                    return Err(Error::new(
                        ErrorCode::ChannelReceiverOffline,
                        format!("user {:?} is not online", req.channel),
                    ));
                }
                let user: Arc<str> = Arc::from(req.channel.as_str());
                if !app
                    .rates
                    .lock()
                    .try_take(true, &user, limits.publish_rate_per_channel)
                {
                    return Err(too_frequent(&req.channel, limits.publish_rate_per_channel));
                }
                // The receiver sees the publisher as the channel, so a reply goes back to it.
                (
                    Route::User {
                        app: app.id.clone(),
                        user,
                    },
                    session.user.to_string(),
                )
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
            publisher: session.user.to_string(),
            timestamp: now_ms(),
        };
        let frame = codec::message_event(&header, &payload);
        self.counters().messages_in.fetch_add(1, Ordering::Relaxed);
        self.broker().publish(Delivery { route, frame });
        Ok(ChannelResponse {
            timestamp: header.timestamp,
            channel_name: req.channel,
        })
    }
}

fn too_frequent(channel: &str, rate: u32) -> Error {
    Error::new(
        ErrorCode::ChannelPublishMessageTooFrequent,
        format!(
            "more than {rate} messages per second into {channel:?} (limits.publishRatePerChannel)"
        ),
    )
}
