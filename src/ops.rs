//! The typed operations of `NativeClient`: one method per request, each a few lines of argument
//! conversion onto the engine client's typed method (`piazza_engine::client::ops`). Rooms are
//! driven by the engine's TRTC client through `NativeTrtc` (`trtc.rs`), not from here. JavaScript
//! never builds a protocol frame. Like the calls in `client.rs`, each returns `null` when the
//! request was queued (its answer arrives as `["r", tag, …]` / `["e", tag, …]` in the event
//! batches) or the JSON of the error that refused it.

use std::collections::BTreeMap;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use piazza_engine::client::{JoinOptions, Payload, Route, WhoNowOptions};
use piazza_engine::protocol::ChannelType;
use piazza_engine::Error;

use crate::client::{queued, NativeClient};

/// `StreamChannel.join` options (defaults applied in JS).
#[napi(object)]
pub struct NativeJoinOptions {
    pub token: Option<String>,
    pub with_presence: bool,
    pub be_quiet: bool,
    pub with_metadata: bool,
    pub with_lock: bool,
}

/// `presence.whoNow` options (defaults applied in JS).
#[napi(object)]
pub struct NativeWhoNowOptions {
    pub included_user_id: bool,
    pub included_state: bool,
    pub page: Option<String>,
}

fn route(tag: u32) -> Route {
    Route::Tag(tag as u64)
}

pub(crate) fn payload(message: Either<String, Uint8Array>) -> Payload {
    match message {
        Either::A(text) => Payload::Text(text),
        Either::B(bytes) => Payload::Binary(bytes::Bytes::copy_from_slice(&bytes)),
    }
}

/// "MESSAGE" | "STREAM" | "USER".
pub(crate) fn channel_type(name: &str) -> piazza_engine::Result<ChannelType> {
    match name {
        "MESSAGE" => Ok(ChannelType::Message),
        "STREAM" => Ok(ChannelType::Stream),
        "USER" => Ok(ChannelType::User),
        other => Err(Error::new(
            piazza_engine::ErrorCode::InvalidChannelType,
            format!("channelType {other:?} is not MESSAGE, STREAM or USER"),
        )),
    }
}

#[napi]
impl NativeClient {
    #[napi]
    pub fn join(&self, tag: u32, channel: String, options: NativeJoinOptions) -> Option<String> {
        let NativeJoinOptions { token, with_presence, be_quiet, with_metadata, with_lock } = options;
        let options = JoinOptions { token, with_presence, be_quiet, with_metadata, with_lock };
        queued(self.client.join(route(tag), &channel, options))
    }

    #[napi]
    pub fn leave(&self, tag: u32, channel: String) -> Option<String> {
        queued(self.client.leave(route(tag), &channel))
    }

    #[napi]
    pub fn join_topic(&self, tag: u32, channel: String, topic: String, meta: String) -> Option<String> {
        queued(self.client.join_topic(route(tag), &channel, &topic, &meta))
    }

    #[napi]
    pub fn leave_topic(&self, tag: u32, channel: String, topic: String) -> Option<String> {
        queued(self.client.leave_topic(route(tag), &channel, &topic))
    }

    #[napi]
    pub fn publish_topic(
        &self,
        tag: u32,
        channel: String,
        topic: String,
        message: Either<String, Uint8Array>,
        custom_type: String,
    ) -> Option<String> {
        queued(self.client.publish_topic(route(tag), &channel, &topic, payload(message), &custom_type))
    }

    /// `users` absent: every publisher of the topic.
    #[napi]
    pub fn subscribe_topic(
        &self,
        tag: u32,
        channel: String,
        topic: String,
        users: Option<Vec<String>>,
    ) -> Option<String> {
        queued(self.client.subscribe_topic(route(tag), &channel, &topic, users))
    }

    #[napi]
    pub fn unsubscribe_topic(
        &self,
        tag: u32,
        channel: String,
        topic: String,
        users: Option<Vec<String>>,
    ) -> Option<String> {
        queued(self.client.unsubscribe_topic(route(tag), &channel, &topic, users))
    }

    #[napi]
    pub fn realtime_join(&self, tag: u32, scope: String) -> Option<String> {
        queued(self.client.realtime_join(route(tag), &scope))
    }

    #[napi]
    pub fn realtime_leave(&self, tag: u32, scope: String) -> Option<String> {
        queued(self.client.realtime_leave(route(tag), &scope))
    }

    #[napi]
    pub fn who_now(
        &self,
        tag: u32,
        channel: String,
        channel_type: String,
        options: NativeWhoNowOptions,
    ) -> Option<String> {
        let NativeWhoNowOptions { included_user_id, included_state, page } = options;
        let options = WhoNowOptions { included_user_id, included_state, page };
        queued(self::channel_type(&channel_type).and_then(|ct| self.client.who_now(route(tag), &channel, ct, options)))
    }

    #[napi]
    pub fn where_now(&self, tag: u32, user_id: String) -> Option<String> {
        queued(self.client.where_now(route(tag), &user_id))
    }

    #[napi]
    pub fn set_state(
        &self,
        tag: u32,
        channel: String,
        channel_type: String,
        states: std::collections::HashMap<String, String>,
    ) -> Option<String> {
        let states: BTreeMap<String, String> = states.into_iter().collect();
        queued(self::channel_type(&channel_type).and_then(|ct| self.client.set_state(route(tag), &channel, ct, states)))
    }

    #[napi]
    pub fn get_state(&self, tag: u32, user_id: String, channel: String, channel_type: String) -> Option<String> {
        queued(
            self::channel_type(&channel_type).and_then(|ct| self.client.get_state(route(tag), &user_id, &channel, ct)),
        )
    }

    /// `keys` absent: every state of this user in the channel.
    #[napi]
    pub fn remove_state(
        &self,
        tag: u32,
        channel: String,
        channel_type: String,
        keys: Option<Vec<String>>,
    ) -> Option<String> {
        queued(
            self::channel_type(&channel_type).and_then(|ct| self.client.remove_state(route(tag), &channel, ct, keys)),
        )
    }

    /// The login token (`channel` absent) or a joined stream channel's.
    #[napi]
    pub fn renew_token(&self, tag: u32, token: String, channel: Option<String>) -> Option<String> {
        queued(self.client.renew_token(route(tag), &token, channel.as_deref()))
    }
}
