//! The client's storage, lock and history operations (RTM `rtm.storage`, `rtm.lock`,
//! `rtm.history`), typed like the others in [`super::ops`], and what the client does to a
//! `getMessages` answer before handing it on: encrypted messages are opened with the client's
//! key (one it cannot open is reported as an `error` event and left out, as a live message
//! would be), and every payload is given in its own type — a STRING as text, a BINARY as base64
//! for the layer above to turn into bytes.

use base64::Engine as _;
use serde_json::value::RawValue;

use super::{Client, Inner, Payload, Route};
use crate::error::Result;
use crate::protocol::{
    ChannelType, ClientFrame, GetLock, GetMessages, GetMessagesResponse, GetMetadata, LockRequest, UserMetadataRef,
    WriteMetadata,
};
use crate::store::{MetaItem, MetaMode, MetaOptions};

/// Whose metadata: a channel's (MESSAGE or STREAM) or a user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataOf<'a> {
    Channel(ChannelType, &'a str),
    User(&'a str),
}

impl MetadataOf<'_> {
    fn parts(self) -> (Option<ChannelType>, Option<String>, Option<String>) {
        match self {
            MetadataOf::Channel(channel_type, channel) => (Some(channel_type), Some(channel.to_string()), None),
            MetadataOf::User(user) => (None, None, Some(user.to_string())),
        }
    }
}

/// A lock operation and what only it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockAction {
    /// `setLock` with its ttl in seconds (10–300).
    Set {
        ttl: u32,
    },
    /// `acquireLock`; `retry` waits (FIFO) until the lock is free.
    Acquire {
        retry: bool,
    },
    Release,
    Remove,
    /// `revokeLock`: take it from `owner`.
    Revoke {
        owner: String,
    },
}

impl Client {
    /// RTM `storage.set/update/removeChannelMetadata` and `…UserMetadata`.
    pub fn write_metadata(
        &self,
        route: Route,
        mode: MetaMode,
        of: MetadataOf<'_>,
        items: Vec<MetaItem>,
        options: MetaOptions,
    ) -> Result<()> {
        let (channel_type, channel, user_id) = of.parts();
        let frame = WriteMetadata { id: 0, channel_type, channel, user_id, items, options };
        let frame = match mode {
            MetaMode::Set => ClientFrame::SetMetadata(frame),
            MetaMode::Update => ClientFrame::UpdateMetadata(frame),
            MetaMode::Remove => ClientFrame::RemoveMetadata(frame),
        };
        self.request(route, frame, None)
    }

    /// RTM `storage.getChannelMetadata` / `getUserMetadata`.
    pub fn get_metadata(&self, route: Route, of: MetadataOf<'_>) -> Result<()> {
        let (channel_type, channel, user_id) = of.parts();
        self.request(route, ClientFrame::GetMetadata(GetMetadata { id: 0, channel_type, channel, user_id }), None)
    }

    /// RTM `storage.subscribeUserMetadata`: a SNAPSHOT, then every change of `user`'s metadata.
    pub fn subscribe_user_metadata(&self, route: Route, user: &str) -> Result<()> {
        let frame = UserMetadataRef { id: 0, user_id: user.to_string() };
        self.request(route, ClientFrame::SubscribeUserMetadata(frame), None)
    }

    /// RTM `storage.unsubscribeUserMetadata`.
    pub fn unsubscribe_user_metadata(&self, route: Route, user: &str) -> Result<()> {
        let frame = UserMetadataRef { id: 0, user_id: user.to_string() };
        self.request(route, ClientFrame::UnsubscribeUserMetadata(frame), None)
    }

    /// RTM `lock.setLock` / `acquireLock` / `releaseLock` / `removeLock` / `revokeLock`.
    pub fn lock(
        &self,
        route: Route,
        action: LockAction,
        channel_type: ChannelType,
        channel: &str,
        lock_name: &str,
    ) -> Result<()> {
        let mut frame = LockRequest {
            id: 0,
            channel_type,
            channel: channel.to_string(),
            lock_name: lock_name.to_string(),
            ttl: None,
            retry: false,
            owner: None,
        };
        let frame = match action {
            LockAction::Set { ttl } => {
                frame.ttl = Some(ttl);
                ClientFrame::SetLock(frame)
            }
            LockAction::Acquire { retry } => {
                frame.retry = retry;
                ClientFrame::AcquireLock(frame)
            }
            LockAction::Release => ClientFrame::ReleaseLock(frame),
            LockAction::Remove => ClientFrame::RemoveLock(frame),
            LockAction::Revoke { owner } => {
                frame.owner = Some(owner);
                ClientFrame::RevokeLock(frame)
            }
        };
        self.request(route, frame, None)
    }

    /// RTM `lock.getLock`.
    pub fn get_lock(&self, route: Route, channel_type: ChannelType, channel: &str) -> Result<()> {
        self.request(route, ClientFrame::GetLock(GetLock { id: 0, channel_type, channel: channel.to_string() }), None)
    }

    /// RTM `history.getMessages`: `count` messages at most (`None`: the server's default page),
    /// newest first, between `start` (the newer bound, 0 = now) and `end` (the older, 0 = none),
    /// in ms.
    pub fn get_messages(
        &self,
        route: Route,
        channel_type: ChannelType,
        channel: &str,
        count: Option<usize>,
        start: u64,
        end: u64,
    ) -> Result<()> {
        let frame = GetMessages { id: 0, channel_type, channel: channel.to_string(), message_count: count, start, end };
        self.request(route, ClientFrame::GetMessages(frame), None)
    }
}

impl Inner {
    /// A `getMessages` answer as the application sees it (see the module documentation). An
    /// answer that is not one is passed on as it is.
    pub(super) fn history_answer(&self, raw: Box<RawValue>) -> Box<RawValue> {
        let Ok(mut answer) = serde_json::from_str::<GetMessagesResponse>(raw.get()) else { return raw };
        let b64 = base64::engine::general_purpose::STANDARD;
        answer.message_list.retain_mut(|m| {
            if !m.encrypted {
                return true;
            }
            let Ok(sealed) = b64.decode(&m.message) else { return false };
            let context = serde_json::json!({ "channelType": "HISTORY", "channelName": "", "publisher": m.publisher });
            let context = RawValue::from_string(context.to_string()).expect("valid JSON");
            match self.decrypt(&sealed, Some(m.message_type), &context) {
                Some(Payload::Text(text)) => m.message = text,
                Some(Payload::Binary(bytes)) => m.message = b64.encode(&bytes),
                None => return false,
            }
            m.encrypted = false;
            true
        });
        answer.count = answer.message_list.len();
        RawValue::from_string(serde_json::to_string(&answer).expect("answers serialize")).unwrap_or(raw)
    }
}
