//! Storage, locks and history in the hub (SPEC §4.6). The store is asynchronous (a database
//! thread, or Redis), the hub is not: a session's storage requests go into its own bounded
//! queue, served by one task in the order they were sent (a `set` then an `update` from one
//! client happen in that order), and answered from there. Events go out through the broker like
//! every other event: channel metadata and lock events on the channel's route to members that
//! asked `withMetadata` / `withLock`, user-metadata events on the user's metadata route.
//!
//! Locks are in `hub::locks`.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::locks::LockVerb;
use super::{App, Hub, Session};
use crate::broker::{Audience, Delivery, Route};
use crate::error::{Error, ErrorCode, Result};
use crate::hub::channel::ChannelResponse;
use crate::names;
use crate::protocol::{
    server, ChannelType, ClientFrame, FrameKind, GetMessages, GetMetadata, LockEvent, StorageEvent, StorageEventType,
    StorageType, UserMetadataRef, WriteMetadata,
};
use crate::store::{HistoryKey, HistoryMessage, LockEventType, MetaMode, MetaTarget, StorageData};
use crate::time::now_ms;

/// Storage requests one session may have queued; more are refused (never dropped silently).
const QUEUE: usize = 256;

/// History appends of one session in the store's hands at once (see `storage_task`).
const APPENDS_IN_FLIGHT: usize = 256;

/// One job of a session's storage queue.
pub enum StorageJob {
    /// A storage, lock or history request.
    Request { id: Option<u64>, frame: ClientFrame },
    /// A `storeInHistory` publish, already delivered: keep it, then answer.
    Append(Append),
    /// `withMetadata` / `withLock` after a subscribe or join: the SNAPSHOT events.
    Snapshot { channel_type: ChannelType, channel: String, metadata: bool, locks: bool },
}

/// A `storeInHistory` publish waiting to be kept: its request, its answer, what to keep where.
pub struct Append {
    id: Option<u64>,
    response: ChannelResponse,
    key: HistoryKey,
    message: HistoryMessage,
}

impl StorageJob {
    fn id(&self) -> Option<u64> {
        match self {
            StorageJob::Request { id, .. } | StorageJob::Append(Append { id, .. }) => *id,
            StorageJob::Snapshot { .. } => None,
        }
    }
}

fn queue_full() -> Error {
    Error::new(
        ErrorCode::StorageOperationFailed,
        format!("more than {QUEUE} storage requests of this session are waiting; try again when they are answered"),
    )
}

/// A channel's order lock, held (see [`Hub::ordered`]).
pub(super) struct Ordered {
    hub: Hub,
    key: String,
    order: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for Ordered {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = self.hub.shared.channel_order.lock();
        // Ours and the map's: nobody else holds or waits for it.
        if Arc::strong_count(&self.order) == 2 {
            map.remove(&self.key);
        }
    }
}

/// Whether a frame is served by the storage queue.
pub fn is_storage(frame: &ClientFrame) -> bool {
    matches!(
        frame,
        ClientFrame::SetMetadata(_)
            | ClientFrame::UpdateMetadata(_)
            | ClientFrame::RemoveMetadata(_)
            | ClientFrame::GetMetadata(_)
            | ClientFrame::SubscribeUserMetadata(_)
            | ClientFrame::UnsubscribeUserMetadata(_)
            | ClientFrame::SetLock(_)
            | ClientFrame::AcquireLock(_)
            | ClientFrame::ReleaseLock(_)
            | ClientFrame::RemoveLock(_)
            | ClientFrame::RevokeLock(_)
            | ClientFrame::GetLock(_)
            | ClientFrame::GetMessages(_)
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChannelMetaResponse<'a> {
    channel_name: &'a str,
    channel_type: ChannelType,
    total_count: usize,
    timestamp: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserMetaResponse<'a> {
    user_id: &'a str,
    total_count: usize,
    timestamp: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChannelMetaData<'a> {
    channel_name: &'a str,
    channel_type: ChannelType,
    #[serde(flatten)]
    data: &'a StorageData,
    timestamp: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserMetaData<'a> {
    user_id: &'a str,
    #[serde(flatten)]
    data: &'a StorageData,
    timestamp: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserResponse<'a> {
    user_id: &'a str,
    timestamp: u64,
}

pub(super) fn ok(id: Option<u64>, response: &impl Serialize) -> Vec<Message> {
    vec![server::ok(id.unwrap_or(0), response)]
}

/// MESSAGE or STREAM: metadata and locks belong to those.
pub fn channel_kind(channel_type: ChannelType, channel: &str) -> Result<()> {
    if channel_type == ChannelType::User {
        return Err(Error::new(
            ErrorCode::InvalidChannelType,
            "metadata and locks belong to MESSAGE or STREAM channels",
        ));
    }
    names::channel(channel)
}

/// Whose metadata a request names: a channel (with its type) or a user, never both.
pub fn target(
    app: &str,
    channel_type: Option<ChannelType>,
    channel: Option<&str>,
    user: Option<&str>,
) -> Result<MetaTarget> {
    match (channel, user) {
        (Some(channel), None) => {
            let channel_type = channel_type.ok_or_else(|| Error::invalid("channel metadata needs channelType"))?;
            channel_kind(channel_type, channel)?;
            Ok(MetaTarget::Channel { app: app.into(), channel_type, channel: channel.into() })
        }
        (None, Some(user)) if channel_type.is_none() => {
            names::user_id(user)?;
            Ok(MetaTarget::User { app: app.into(), user: user.into() })
        }
        _ => Err(Error::invalid("give either channel (with channelType) or userId (without channelType)")),
    }
}

pub(super) fn route(app: &App, channel_type: ChannelType, channel: &str) -> Route {
    match channel_type {
        ChannelType::Stream => Route::Stream { app: app.id.clone(), channel: Arc::from(channel) },
        _ => Route::Channel { app: app.id.clone(), channel: Arc::from(channel) },
    }
}

impl Hub {
    /// Queues a storage job of a session; its answer comes from the session's storage task.
    pub(super) fn queue_storage(&self, session: &Arc<Session>, job: StorageJob) {
        let id = job.id();
        if self.storage_sender(session).try_send(job).is_err() {
            answer(self, session, id, server::err(id, &queue_full()));
        }
    }

    /// The session's storage queue (its task started with the first job).
    fn storage_sender(&self, session: &Arc<Session>) -> mpsc::Sender<StorageJob> {
        let mut slot = session.storage_jobs.lock();
        slot.get_or_insert_with(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let weak = Arc::downgrade(session);
            self.spawn_timer(move |hub| storage_task(hub, weak, rx));
            tx
        })
        .clone()
    }

    async fn run_storage(&self, session: &Arc<Session>, job: StorageJob) -> Result<Vec<Message>> {
        let app = self.session_app(session)?;
        // A request queued before a logout is not run after it (an `Append` is: its message was
        // delivered already).
        if session.is_ended() && !matches!(job, StorageJob::Append(_)) {
            return Err(Error::new(ErrorCode::NotLogin, "the session ended before this request ran"));
        }
        let storage = self.shared.storage.clone();
        match job {
            // The storage task hands appends to `keep` in batches; one that reaches here is kept alone.
            StorageJob::Append(append) => {
                let (_, result) = keep(storage, vec![append]).await.pop().expect("one answer per append");
                result
            }
            StorageJob::Snapshot { channel_type, channel, metadata, locks } => {
                // Under the channel's order lock: a write of this node is either in the
                // SNAPSHOT or announced after it; the member hears events only from here on.
                let ordered = self.ordered(&app.id, channel_type, &channel).await;
                let mut events = Vec::new();
                if metadata {
                    let target =
                        MetaTarget::Channel { app: app.id.to_string(), channel_type, channel: channel.clone() };
                    let data = storage.metadata(&target).await?;
                    let event = storage_event(
                        channel_type,
                        &channel,
                        "",
                        StorageType::Channel,
                        StorageEventType::Snapshot,
                        data,
                    );
                    events.push(server::event(FrameKind::Storage, &event));
                }
                if locks {
                    let snapshot = storage.locks(&app.id, channel_type, &channel).await?;
                    let event = LockEvent {
                        channel_type,
                        channel_name: channel.clone(),
                        event_type: LockEventType::Snapshot,
                        lock_name: String::new(),
                        ttl: 0,
                        publisher: String::new(),
                        snapshot,
                        owner: String::new(),
                        timestamp: now_ms(),
                    };
                    events.push(server::event(FrameKind::Lock, &event));
                }
                for event in events {
                    self.push(session, event);
                }
                self.storage_events_on(&app, channel_type, &channel, session, metadata, locks);
                drop(ordered);
                Ok(Vec::new())
            }
            StorageJob::Request { id, frame } => match frame {
                ClientFrame::SetMetadata(f) => self.write_metadata(session, &app, id, MetaMode::Set, f).await,
                ClientFrame::UpdateMetadata(f) => self.write_metadata(session, &app, id, MetaMode::Update, f).await,
                ClientFrame::RemoveMetadata(f) => self.write_metadata(session, &app, id, MetaMode::Remove, f).await,
                ClientFrame::GetMetadata(f) => self.get_metadata(&app, id, f).await,
                ClientFrame::SubscribeUserMetadata(f) => self.subscribe_user_metadata(session, &app, id, f).await,
                ClientFrame::UnsubscribeUserMetadata(f) => self.unsubscribe_user_metadata(session, &app, id, f),
                ClientFrame::SetLock(f) => self.lock_request(session, &app, id, LockVerb::Set, f).await,
                ClientFrame::AcquireLock(f) => self.lock_request(session, &app, id, LockVerb::Acquire, f).await,
                ClientFrame::ReleaseLock(f) => self.lock_request(session, &app, id, LockVerb::Release, f).await,
                ClientFrame::RemoveLock(f) => self.lock_request(session, &app, id, LockVerb::Remove, f).await,
                ClientFrame::RevokeLock(f) => self.lock_request(session, &app, id, LockVerb::Revoke, f).await,
                ClientFrame::GetLock(f) => self.get_lock(&app, id, f).await,
                ClientFrame::GetMessages(f) => self.get_messages(session, &app, id, f).await,
                other => Err(Error::invalid(format!("{} is not a storage request", other.op()))),
            },
        }
    }

    async fn write_metadata(
        &self,
        session: &Session,
        app: &App,
        id: Option<u64>,
        mode: MetaMode,
        f: WriteMetadata,
    ) -> Result<Vec<Message>> {
        let (target, total_count) = self.write_metadata_as(app, &session.user, mode, f).await?;
        let timestamp = now_ms();
        Ok(match &target {
            MetaTarget::Channel { channel_type, channel, .. } => ok(
                id,
                &ChannelMetaResponse { channel_name: channel, channel_type: *channel_type, total_count, timestamp },
            ),
            MetaTarget::User { user, .. } => ok(id, &UserMetaResponse { user_id: user, total_count, timestamp }),
        })
    }

    /// A metadata write by `by` (a session's user, or the backend API): whose metadata it was,
    /// and how many items it holds now. Members who asked are told.
    pub(super) async fn write_metadata_as(
        &self,
        app: &App,
        by: &str,
        mode: MetaMode,
        f: WriteMetadata,
    ) -> Result<(MetaTarget, usize)> {
        let target = target(&app.id, f.channel_type, f.channel.as_deref(), f.user_id.as_deref())?;
        let storage = self.shared.storage.clone();
        let ordered = match &target {
            MetaTarget::Channel { channel_type, channel, .. } => {
                Some(self.ordered(&app.id, *channel_type, channel).await)
            }
            MetaTarget::User { .. } => None,
        };
        let (data, changed) = storage.write_metadata(&target, mode, &f.items, &f.options, by).await?;
        let total_count = data.total_count;
        if changed {
            let event_type = match mode {
                MetaMode::Set => StorageEventType::Set,
                MetaMode::Update => StorageEventType::Update,
                MetaMode::Remove => StorageEventType::Remove,
            };
            self.announce_metadata(app, &target, by, event_type, data);
        }
        drop(ordered);
        Ok((target, total_count))
    }

    /// Takes the order lock of a channel's metadata and locks on this node (released, and
    /// forgotten when nobody else wants it, when the returned guard drops).
    pub(super) async fn ordered(&self, app: &str, channel_type: ChannelType, channel: &str) -> Ordered {
        let key = format!("{app}/{}/{channel}", channel_type.as_str());
        let order = self.shared.channel_order.lock().entry(key.clone()).or_default().clone();
        let guard = order.clone().lock_owned().await;
        Ordered { hub: self.clone(), key, order, guard: Some(guard) }
    }

    /// After its SNAPSHOT: a member of the channel hears its storage / lock events from now on.
    fn storage_events_on(
        &self,
        app: &App,
        channel_type: ChannelType,
        channel: &str,
        session: &Session,
        metadata: bool,
        locks: bool,
    ) {
        let enable = |member: Option<&mut super::roster::Member>| {
            if let Some(member) = member.filter(|m| m.session.id == session.id) {
                member.with_metadata |= metadata;
                member.with_lock |= locks;
            }
        };
        match channel_type {
            ChannelType::Stream => {
                if let Some(stream) = app.streams.read().get(channel).cloned() {
                    enable(stream.state.lock().roster.get_mut(&session.user));
                }
            }
            _ => {
                if let Some(ch) = app.channels.read().get(channel).cloned() {
                    enable(ch.roster.write().get_mut(&session.user));
                }
            }
        }
    }

    /// Sends a storage event about `target` to whoever asked for them.
    fn announce_metadata(
        &self,
        app: &App,
        target: &MetaTarget,
        by: &str,
        event_type: StorageEventType,
        data: StorageData,
    ) {
        let (route, audience, event) = match target {
            MetaTarget::Channel { channel_type, channel, .. } => (
                route(app, *channel_type, channel),
                Audience::Metadata,
                storage_event(*channel_type, channel, by, StorageType::Channel, event_type, data),
            ),
            MetaTarget::User { user, .. } => (
                Route::UserMeta { app: app.id.clone(), user: Arc::from(user.as_str()) },
                Audience::Everyone,
                storage_event(ChannelType::User, user, by, StorageType::User, event_type, data),
            ),
        };
        let frame = server::event(FrameKind::Storage, &event);
        self.broker().publish(Delivery { route, audience, skip: None, frame });
    }

    async fn get_metadata(&self, app: &App, id: Option<u64>, f: GetMetadata) -> Result<Vec<Message>> {
        let target = target(&app.id, f.channel_type, f.channel.as_deref(), f.user_id.as_deref())?;
        let data = self.shared.storage.metadata(&target).await?;
        let timestamp = now_ms();
        Ok(match &target {
            MetaTarget::Channel { channel_type, channel, .. } => {
                ok(id, &ChannelMetaData { channel_name: channel, channel_type: *channel_type, data: &data, timestamp })
            }
            MetaTarget::User { user, .. } => ok(id, &UserMetaData { user_id: user, data: &data, timestamp }),
        })
    }

    async fn subscribe_user_metadata(
        &self,
        session: &Arc<Session>,
        app: &Arc<App>,
        id: Option<u64>,
        f: UserMetadataRef,
    ) -> Result<Vec<Message>> {
        names::user_id(&f.user_id)?;
        let user: Arc<str> = Arc::from(f.user_id.as_str());
        {
            let mut state = session.state.lock();
            if state.ended {
                return Err(Error::new(ErrorCode::NotLogin, "session has ended"));
            }
            let max = self.config().storage.max_user_metadata_subscriptions;
            let subs = state.rare().map(|r| &r.meta_subs);
            if !subs.is_some_and(|s| s.contains(&user)) && subs.map_or(0, |s| s.len()) >= max {
                return Err(Error::new(
                    ErrorCode::StorageSubscribeUserExceedLimitation,
                    format!("already subscribed to the metadata of {max} users (storage.maxUserMetadataSubscriptions)"),
                ));
            }
            state.rare_or_new().meta_subs.insert(user.clone());
        }
        {
            let mut watchers = app.meta_watchers.lock();
            let route = || Route::UserMeta { app: app.id.clone(), user: user.clone() };
            self.broker().join_group(route, || {
                let list = watchers.entry(user.clone()).or_default();
                let first = list.is_empty();
                if !list.iter().any(|s| s.id == session.id) {
                    list.push(session.clone());
                }
                ((), first)
            });
        }
        if session.is_ended() {
            // The session ended meanwhile: its cleanup ran before this subscription existed.
            self.forget_meta_watch(app, &f.user_id, session);
            return Err(Error::new(ErrorCode::NotLogin, "session has ended"));
        }
        let target = MetaTarget::User { app: app.id.to_string(), user: f.user_id.clone() };
        let data = match self.shared.storage.metadata(&target).await {
            Ok(data) => data,
            Err(e) => {
                // Refused: the subscription does not stay half made.
                if let Some(rare) = session.state.lock().rare_mut() {
                    rare.meta_subs.remove(f.user_id.as_str());
                }
                self.forget_meta_watch(app, &f.user_id, session);
                return Err(e);
            }
        };
        let snapshot =
            storage_event(ChannelType::User, &f.user_id, "", StorageType::User, StorageEventType::Snapshot, data);
        let mut frames = ok(id, &UserResponse { user_id: &f.user_id, timestamp: now_ms() });
        frames.push(server::event(FrameKind::Storage, &snapshot));
        Ok(frames)
    }

    fn unsubscribe_user_metadata(
        &self,
        session: &Arc<Session>,
        app: &App,
        id: Option<u64>,
        f: UserMetadataRef,
    ) -> Result<Vec<Message>> {
        names::user_id(&f.user_id)?;
        if !session.state.lock().rare_mut().is_some_and(|r| r.meta_subs.remove(f.user_id.as_str())) {
            return Err(Error::new(
                ErrorCode::StorageNotSubscribe,
                format!("not subscribed to the metadata of {:?}", f.user_id),
            ));
        }
        self.forget_meta_watch(app, &f.user_id, session);
        Ok(ok(id, &UserResponse { user_id: &f.user_id, timestamp: now_ms() }))
    }

    pub(super) fn forget_meta_watch(&self, app: &App, user: &str, session: &Session) {
        let mut watchers = app.meta_watchers.lock();
        let route = || Route::UserMeta { app: app.id.clone(), user: Arc::from(user) };
        self.broker().leave_group(route, || {
            let list = watchers.get_mut(user)?;
            list.retain(|s| s.id != session.id);
            if list.is_empty() {
                watchers.remove(user)
            } else {
                None
            }
        });
    }

    async fn get_messages(
        &self,
        session: &Session,
        app: &App,
        id: Option<u64>,
        f: GetMessages,
    ) -> Result<Vec<Message>> {
        match f.channel_type {
            ChannelType::Message => names::channel(&f.channel)?,
            ChannelType::User => {
                names::user_id(&f.channel)?;
                if *f.channel != *session.user {
                    return Err(Error::new(
                        ErrorCode::HistoryPermissionDenied,
                        format!("USER history is read by its receiver with its own user id, not {:?}", f.channel),
                    ));
                }
            }
            ChannelType::Stream => {
                return Err(Error::new(ErrorCode::InvalidChannelType, "history is kept for MESSAGE and USER channels"))
            }
        }
        let key = HistoryKey { app: app.id.to_string(), channel_type: f.channel_type, channel: f.channel };
        let count = f.message_count.unwrap_or_else(|| self.config().storage.max_history_page.min(100));
        let query = crate::store::HistoryQuery { count, start: f.start, end: f.end };
        let page = self.shared.storage.history(&key, query).await?;
        Ok(ok(id, &crate::protocol::GetMessagesResponse::from_page(page)))
    }

    /// A `storeInHistory` publish: a place in the session's storage queue is taken first (a
    /// full queue refuses the publish before anyone gets it), then the message is delivered,
    /// then kept in history (in the session's storage order), then answered.
    pub(super) fn publish_and_keep(
        &self,
        session: &Arc<Session>,
        id: Option<u64>,
        f: crate::protocol::Publish,
        payload: bytes::Bytes,
    ) -> Result<Option<Message>> {
        let permit = self.storage_sender(session).try_reserve_owned().map_err(|_| queue_full())?;
        let (response, stored) = self.publish(session, f, payload)?;
        let (key, message) = stored.expect("a storeInHistory publish has something to keep");
        permit.send(StorageJob::Append(Append { id, response, key, message }));
        Ok(None)
    }
}

/// Sends the late answer of request `id`, kept for a repeat of the id.
pub(super) fn answer(hub: &Hub, session: &Arc<Session>, id: Option<u64>, frame: Message) {
    if let Some(id) = id {
        session.remember_answer(id, &frame);
    }
    hub.push(session, frame);
}

fn storage_event(
    channel_type: ChannelType,
    channel: &str,
    by: &str,
    storage_type: StorageType,
    event_type: StorageEventType,
    data: StorageData,
) -> StorageEvent {
    StorageEvent {
        channel_type,
        channel_name: channel.to_string(),
        publisher: by.to_string(),
        storage_type,
        event_type,
        data,
        timestamp: now_ms(),
    }
}

/// Keeps the messages of appends taken together (one call to the store) and makes each one's
/// answer, in order.
async fn keep(storage: Arc<crate::store::Storage>, batch: Vec<Append>) -> Vec<(Option<u64>, Result<Vec<Message>>)> {
    let (answers, items): (Vec<_>, Vec<_>) =
        batch.into_iter().map(|a| ((a.id, a.response), (a.key, a.message))).unzip();
    let kept = storage.append_history(items).await;
    answers
        .into_iter()
        .zip(kept)
        .map(|((id, response), kept)| {
            let answer = kept.map(|()| ok(id, &response)).map_err(|e| {
                Error::new(
                    ErrorCode::HistoryOperationFailed,
                    format!("the message was delivered but could not be kept in history: {}", e.reason),
                )
            });
            (id, answer)
        })
        .collect()
}

/// The session's storage task: its jobs in order, answered in order. History appends are
/// independent writes: those queued together go to the store in one call, and up to
/// [`APPENDS_IN_FLIGHT`] of them are in the store's hands without waiting for each other (the
/// file store commits what reaches it together in one transaction, one disk sync, and Redis
/// pipelines them), while the next ones keep arriving. Any other job waits until the appends
/// before it are answered, and runs alone.
async fn storage_task(
    hub: super::stop::WeakHub,
    session: std::sync::Weak<Session>,
    mut jobs: mpsc::Receiver<StorageJob>,
) {
    use futures_util::stream::{FuturesOrdered, StreamExt};
    let mut appends = FuturesOrdered::new();
    let mut in_flight = 0;
    let mut next: Option<StorageJob> = None;
    let mut open = true;
    loop {
        if let Some(job) = next.take_if(|_| appends.is_empty()) {
            let Some(hub) = hub.upgrade() else { return };
            // A request of a session that is gone is not run (nobody is there for its answer).
            let Some(session) = session.upgrade() else { continue };
            let id = job.id();
            let result = hub.run_storage(&session, job).await;
            answer_job(&hub, &session, id, result);
            continue;
        }
        if !open && next.is_none() && appends.is_empty() {
            return;
        }
        let take = open && next.is_none() && in_flight < APPENDS_IN_FLIGHT;
        tokio::select! {
            biased;
            Some(answers) = appends.next(), if !appends.is_empty() => {
                let answers: Vec<(Option<u64>, Result<Vec<Message>>)> = answers;
                in_flight -= answers.len();
                let Some(hub) = hub.upgrade() else { return };
                // The session may be gone: the appends after these are kept all the same (their
                // messages were delivered), only nobody is there for the answers.
                if let Some(session) = session.upgrade() {
                    for (id, result) in answers {
                        answer_job(&hub, &session, id, result);
                    }
                }
            }
            job = jobs.recv(), if take => match job {
                None => open = false,
                Some(StorageJob::Append(first)) => {
                    let mut batch = vec![first];
                    // What is queued behind it goes along, up to what may be in flight.
                    while in_flight + batch.len() < APPENDS_IN_FLIGHT {
                        match jobs.try_recv() {
                            Ok(StorageJob::Append(more)) => batch.push(more),
                            Ok(other) => {
                                next = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    in_flight += batch.len();
                    let Some(hub) = hub.upgrade() else { return };
                    appends.push_back(keep(hub.shared.storage.clone(), batch));
                }
                Some(other) => next = Some(other),
            },
        }
    }
}

/// Sends a storage job's frames; the first is its answer (none yet for an acquireLock that
/// waits), kept for a repeat of its id.
fn answer_job(hub: &Hub, session: &Arc<Session>, id: Option<u64>, result: Result<Vec<Message>>) {
    let frames = match result {
        Ok(frames) => frames,
        Err(e) => vec![server::err(id, &e)],
    };
    if let (Some(id), Some(answer)) = (id, frames.first()) {
        session.remember_answer(id, answer);
    }
    for frame in frames {
        hub.push(session, frame);
    }
}
