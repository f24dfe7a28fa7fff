//! The storage, lock and history operations of `NativeClient` (lib/storage.js, lib/lock.js,
//! lib/history.js call them): argument conversion onto the engine client's typed methods
//! (`piazza_engine::client::storage`). Like every operation, each returns `null` when the
//! request was queued, or the JSON of the error that refused it.

use napi_derive::napi;
use piazza_engine::client::{LockAction, MetaItem, MetaMode, MetaOptions, MetadataOf, Route};
use piazza_engine::{Error, ErrorCode};

use crate::client::{queued, NativeClient};
use crate::ops::channel_type;

/// Whose metadata: `channelName` + `channelType`, or `userId`.
#[napi(object)]
pub struct NativeMetadataTarget {
    pub channel_name: Option<String>,
    pub channel_type: Option<String>,
    pub user_id: Option<String>,
}

/// A `MetadataItem` (defaults applied in JS: value '', revision -1).
#[napi(object)]
pub struct NativeMetadataItem {
    pub key: String,
    pub value: String,
    pub revision: i64,
}

/// `MetadataOptions` (defaults applied in JS).
#[napi(object)]
pub struct NativeMetadataOptions {
    pub major_revision: i64,
    pub lock_name: String,
    pub add_time_stamp: bool,
    pub add_user_id: bool,
}

/// What only some lock operations take (defaults applied in JS).
#[napi(object)]
pub struct NativeLockOptions {
    /// A JS number: checked here, never wrapped.
    pub ttl: i64,
    pub retry: bool,
    pub owner: String,
}

/// `getMessages` options (defaults applied in JS).
#[napi(object)]
pub struct NativeHistoryOptions {
    /// Absent: the server's default page. A JS number: checked here, never wrapped.
    pub message_count: Option<i64>,
    pub start: i64,
    pub end: i64,
}

fn target(t: &NativeMetadataTarget) -> piazza_engine::Result<MetadataOf<'_>> {
    match (&t.channel_name, &t.channel_type, &t.user_id) {
        (Some(channel), Some(ct), None) => Ok(MetadataOf::Channel(channel_type(ct)?, channel)),
        (None, None, Some(user)) => Ok(MetadataOf::User(user)),
        _ => Err(Error::invalid("give either channelName with channelType, or userId")),
    }
}

fn millis(value: i64, what: &str) -> piazza_engine::Result<u64> {
    u64::try_from(value)
        .map_err(|_| Error::new(ErrorCode::HistoryInvalidTimestamp, format!("{what} {value} is negative")))
}

fn route(tag: u32) -> Route {
    Route::Tag(tag as u64)
}

#[napi]
impl NativeClient {
    /// `mode`: "set" | "update" | "remove".
    #[napi]
    pub fn write_metadata(
        &self,
        tag: u32,
        mode: String,
        target: NativeMetadataTarget,
        items: Vec<NativeMetadataItem>,
        options: NativeMetadataOptions,
    ) -> Option<String> {
        let mode = match mode.as_str() {
            "set" => MetaMode::Set,
            "update" => MetaMode::Update,
            "remove" => MetaMode::Remove,
            other => return queued(Err(Error::invalid(format!("unknown metadata mode {other:?}")))),
        };
        let items = items.into_iter().map(|i| MetaItem { key: i.key, value: i.value, revision: i.revision }).collect();
        let NativeMetadataOptions { major_revision, lock_name, add_time_stamp, add_user_id } = options;
        let options = MetaOptions { major_revision, lock_name, add_time_stamp, add_user_id };
        queued(self::target(&target).and_then(|of| self.client.write_metadata(route(tag), mode, of, items, options)))
    }

    #[napi]
    pub fn get_metadata(&self, tag: u32, target: NativeMetadataTarget) -> Option<String> {
        queued(self::target(&target).and_then(|of| self.client.get_metadata(route(tag), of)))
    }

    #[napi]
    pub fn subscribe_user_metadata(&self, tag: u32, user_id: String) -> Option<String> {
        queued(self.client.subscribe_user_metadata(route(tag), &user_id))
    }

    #[napi]
    pub fn unsubscribe_user_metadata(&self, tag: u32, user_id: String) -> Option<String> {
        queued(self.client.unsubscribe_user_metadata(route(tag), &user_id))
    }

    /// `op`: "set" | "acquire" | "release" | "remove" | "revoke".
    #[napi]
    pub fn lock(
        &self,
        tag: u32,
        op: String,
        channel: String,
        channel_type: String,
        lock_name: String,
        options: NativeLockOptions,
    ) -> Option<String> {
        let Ok(ttl) = u32::try_from(options.ttl) else {
            return queued(Err(Error::invalid(format!("ttl {} is outside 10..=300 seconds", options.ttl))));
        };
        let action = match op.as_str() {
            "set" => LockAction::Set { ttl },
            "acquire" => LockAction::Acquire { retry: options.retry },
            "release" => LockAction::Release,
            "remove" => LockAction::Remove,
            "revoke" => LockAction::Revoke { owner: options.owner },
            other => return queued(Err(Error::invalid(format!("unknown lock operation {other:?}")))),
        };
        queued(
            self::channel_type(&channel_type)
                .and_then(|ct| self.client.lock(route(tag), action, ct, &channel, &lock_name)),
        )
    }

    #[napi]
    pub fn get_lock(&self, tag: u32, channel: String, channel_type: String) -> Option<String> {
        queued(self::channel_type(&channel_type).and_then(|ct| self.client.get_lock(route(tag), ct, &channel)))
    }

    #[napi]
    pub fn get_messages(
        &self,
        tag: u32,
        channel: String,
        channel_type: String,
        options: NativeHistoryOptions,
    ) -> Option<String> {
        let result = (|| {
            let ct = self::channel_type(&channel_type)?;
            let (start, end) = (millis(options.start, "start")?, millis(options.end, "end")?);
            let count = options
                .message_count
                .map(|c| usize::try_from(c).map_err(|_| Error::invalid(format!("messageCount {c} is negative"))))
                .transpose()?;
            self.client.get_messages(route(tag), ct, &channel, count, start, end)
        })();
        queued(result)
    }
}
