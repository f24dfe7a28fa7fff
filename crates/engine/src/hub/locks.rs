//! Locks in the hub (SPEC §4.6): the lock requests, their events, the FIFO queues of
//! `acquireLock { retry }`, and what happens to the locks of a session whose connection drops
//! (they expire after their ttl unless it comes back) or that logs out (released at once).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use super::storage::{answer, channel_kind, ok, route};
use super::{App, Hub, Session};
use crate::broker::{Audience, Delivery};
use crate::error::{Error, ErrorCode, Result};
use crate::names;
use crate::protocol::{server, ChannelType, FrameKind, GetLock, LockEvent, LockRequest};
use crate::store::{LockDetail, LockEventType, LockOp};
use crate::time::now_ms;

/// `acquireLock { retry }` one session may have waiting at once
/// (RTM_ERROR_LOCK_OPERATION_FAILED past it).
const MAX_WAITS: usize = 64;

/// How often a waiting `acquireLock` looks again without being woken (changes on other nodes).
const LOCK_POLL: Duration = Duration::from_millis(250);

/// A lock a session holds (by channel type, channel, name), with its ttl in seconds.
pub type HeldLocks = HashMap<(ChannelType, Arc<str>, Arc<str>), u32>;

/// The FIFO queues of `acquireLock { retry }` on this node, by app, channel and lock.
/// One lock of one app: app, channel type, channel, lock name.
type LockKey = (Arc<str>, ChannelType, Arc<str>, Arc<str>);

#[derive(Default)]
pub struct LockWaiters {
    queues: HashMap<LockKey, VecDeque<u64>>,
    /// Waiting acquires per session id.
    per_session: HashMap<u64, usize>,
    next: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LockResponse<'a> {
    channel_name: &'a str,
    channel_type: ChannelType,
    lock_name: &'a str,
    timestamp: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LocksResponse<'a> {
    channel_name: &'a str,
    channel_type: ChannelType,
    total_locks: usize,
    lock_details: &'a [LockDetail],
    timestamp: u64,
}

impl Hub {
    pub(super) async fn get_lock(&self, app: &App, id: Option<u64>, f: GetLock) -> Result<Vec<Message>> {
        channel_kind(f.channel_type, &f.channel)?;
        let locks = self.shared.storage.locks(&app.id, f.channel_type, &f.channel).await?;
        Ok(ok(
            id,
            &LocksResponse {
                channel_name: &f.channel,
                channel_type: f.channel_type,
                total_locks: locks.len(),
                lock_details: &locks,
                timestamp: now_ms(),
            },
        ))
    }

    pub(super) async fn lock_request(
        &self,
        session: &Arc<Session>,
        app: &App,
        id: Option<u64>,
        verb: LockVerb,
        f: LockRequest,
    ) -> Result<Vec<Message>> {
        channel_kind(f.channel_type, &f.channel)?;
        verb.check_fields(&f)?;
        let user = session.user.to_string();
        let op = match verb {
            LockVerb::Set => LockOp::Set { ttl: f.ttl.unwrap_or(10) },
            LockVerb::Acquire => LockOp::Acquire { user: user.clone() },
            LockVerb::Release => LockOp::Release { user: user.clone() },
            LockVerb::Remove => LockOp::Remove,
            LockVerb::Revoke => {
                let owner = f.owner.clone().unwrap_or_default();
                names::user_id(&owner)?;
                LockOp::Revoke { owner }
            }
        };
        let storage = self.shared.storage.clone();
        // Ordered against the SNAPSHOTs of new withLock members (see hub::storage).
        let ordered = self.ordered(&app.id, f.channel_type, &f.channel).await;
        let outcome = match storage.lock(&app.id, f.channel_type, &f.channel, &f.lock_name, &op).await {
            Ok(outcome) => outcome,
            Err(e) if e.code == ErrorCode::LockAcquireFailed && f.retry => {
                self.wait_for_lock(session, id, f.channel_type, &f.channel, &f.lock_name)?;
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        };
        let key = (f.channel_type, Arc::<str>::from(f.channel.as_str()), Arc::<str>::from(f.lock_name.as_str()));
        match verb {
            LockVerb::Acquire => self.hold_lock(session, key, outcome.detail.ttl),
            LockVerb::Set => {}
            // Whoever held it on this node holds it no more.
            LockVerb::Release | LockVerb::Remove | LockVerb::Revoke => {
                for holder in app.sessions.lock().values() {
                    holder.state.lock().held_locks.remove(&key);
                }
            }
        }
        if let Some(event) = outcome.event {
            self.announce_lock(app, f.channel_type, &f.channel, &session.user, event, &outcome.detail);
        }
        drop(ordered);
        Ok(ok(
            id,
            &LockResponse {
                channel_name: &f.channel,
                channel_type: f.channel_type,
                lock_name: &f.lock_name,
                timestamp: now_ms(),
            },
        ))
    }

    /// Tells `withLock` members of a lock change, and wakes this node's waiters.
    pub(super) fn announce_lock(
        &self,
        app: &App,
        channel_type: ChannelType,
        channel: &str,
        by: &str,
        event_type: LockEventType,
        detail: &LockDetail,
    ) {
        let event = LockEvent {
            channel_type,
            channel_name: channel.to_string(),
            event_type,
            lock_name: detail.lock_name.clone(),
            ttl: detail.ttl,
            publisher: by.to_string(),
            snapshot: Vec::new(),
            owner: detail.owner.clone(),
            timestamp: now_ms(),
        };
        let frame = server::event(FrameKind::Lock, &event);
        self.broker().publish(Delivery {
            route: route(app, channel_type, channel),
            audience: Audience::Locks,
            skip: None,
            frame,
        });
        self.shared.lock_changed.notify_waiters();
    }

    /// `acquireLock { retry }` on a held lock: wait in this node's FIFO queue for it, until it is
    /// acquired, the session ends, or (if the session was in the channel) it leaves the channel.
    fn wait_for_lock(
        &self,
        session: &Arc<Session>,
        id: Option<u64>,
        channel_type: ChannelType,
        channel: &str,
        name: &str,
    ) -> Result<()> {
        let (channel, name): (Arc<str>, Arc<str>) = (Arc::from(channel), Arc::from(name));
        let queue = (session.app.clone(), channel_type, channel.clone(), name.clone());
        let session_id = session.id;
        let ticket = {
            let mut waiters = self.shared.lock_waiters.lock();
            let waiting = waiters.per_session.entry(session_id).or_default();
            if *waiting >= MAX_WAITS {
                return Err(Error::new(
                    ErrorCode::LockOperationFailed,
                    format!("{MAX_WAITS} acquireLock calls of this session are already waiting"),
                ));
            }
            *waiting += 1;
            waiters.next += 1;
            let ticket = waiters.next;
            waiters.queues.entry(queue.clone()).or_default().push_back(ticket);
            ticket
        };
        let member_at_start = is_member(session, channel_type, &channel);
        let weak_session = Arc::downgrade(session);
        let changed = self.shared.lock_changed.clone();
        self.spawn_timer(move |hub| async move {
            let leave = |hub: &Hub| {
                let mut waiters = hub.shared.lock_waiters.lock();
                if let Some(q) = waiters.queues.get_mut(&queue) {
                    q.retain(|t| *t != ticket);
                    if q.is_empty() {
                        waiters.queues.remove(&queue);
                    }
                }
                if let Some(waiting) = waiters.per_session.get_mut(&session_id) {
                    *waiting -= 1;
                    if *waiting == 0 {
                        waiters.per_session.remove(&session_id);
                    }
                }
                drop(waiters);
                hub.shared.lock_changed.notify_waiters();
            };
            loop {
                let notified = changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let Some(hub) = hub.upgrade() else { return };
                // A waiter whose session is gone leaves the queue (or it would block it).
                let Some(session) = weak_session.upgrade() else { return leave(&hub) };
                if session.is_ended() {
                    return leave(&hub);
                }
                if member_at_start && !is_member(&session, channel_type, &channel) {
                    leave(&hub);
                    let error =
                        Error::new(ErrorCode::LockAcquireFailed, "the channel was left while waiting for the lock");
                    return answer(&hub, &session, id, server::err(id, &error));
                }
                let first = hub.shared.lock_waiters.lock().queues.get(&queue).and_then(|q| q.front().copied());
                if first == Some(ticket) {
                    let op = LockOp::Acquire { user: session.user.to_string() };
                    let storage = hub.shared.storage.clone();
                    match storage.lock(&session.app, channel_type, &channel, &name, &op).await {
                        Ok(outcome) => {
                            leave(&hub);
                            let key = (channel_type, channel.clone(), name.clone());
                            hub.hold_lock(&session, key, outcome.detail.ttl);
                            if let (Some(event), Ok(app)) = (outcome.event, hub.session_app(&session)) {
                                hub.announce_lock(&app, channel_type, &channel, &session.user, event, &outcome.detail);
                            }
                            let response = LockResponse {
                                channel_name: &channel,
                                channel_type,
                                lock_name: &name,
                                timestamp: now_ms(),
                            };
                            return answer(&hub, &session, id, server::ok(id.unwrap_or(0), &response));
                        }
                        Err(e) if e.code == ErrorCode::LockAcquireFailed => {}
                        Err(e) => {
                            leave(&hub);
                            return answer(&hub, &session, id, server::err(id, &e));
                        }
                    }
                }
                drop((hub, session));
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep(LOCK_POLL) => {}
                }
            }
        });
        Ok(())
    }

    /// Records a lock a session just acquired. Acquired while its connection is away, the ttl
    /// runs from now; acquired after the session ended (a logout overtook the request), it is
    /// released at once — a lock is never left with nobody to let it go.
    fn hold_lock(&self, session: &Arc<Session>, key: (ChannelType, Arc<str>, Arc<str>), ttl: u32) {
        let (ended, detached) = {
            let mut state = session.state.lock();
            if !state.ended {
                state.held_locks.insert(key.clone(), ttl);
            }
            (state.ended, state.detached.then_some(state.detach_generation))
        };
        if ended {
            let Ok(app) = self.session_app(session) else { return };
            let mut held = HeldLocks::new();
            held.insert(key, ttl);
            self.release_locks(app, session.user.clone(), held);
        } else if let Some(generation) = detached {
            self.expire_after_ttl(session, key, ttl, generation);
        }
    }

    /// Releases `held` locks of `user` (spawned: the store is asynchronous).
    fn release_locks(&self, app: Arc<App>, user: Arc<str>, held: HeldLocks) {
        if held.is_empty() {
            return;
        }
        let hub = self.clone();
        tokio::spawn(async move { hub.release_now(&app, &user, held).await });
    }

    async fn release_now(&self, app: &Arc<App>, user: &Arc<str>, held: HeldLocks) {
        for ((channel_type, channel, name), _) in held {
            let op = LockOp::Release { user: user.to_string() };
            match self.shared.storage.lock(&app.id, channel_type, &channel, &name, &op).await {
                Ok(outcome) => {
                    if let Some(event) = outcome.event {
                        self.announce_lock(app, channel_type, &channel, user, event, &outcome.detail);
                    }
                }
                Err(e) => tracing::debug!(lock = %name, error = %e, "a lock of an ended session was already gone"),
            }
        }
    }

    /// Server shutdown: every lock held by a session of this node is released (awaited), so a
    /// node that is stopped (a rolling deploy) leaves no lock held.
    pub async fn release_all_locks(&self) {
        let apps: Vec<Arc<App>> = self.shared.apps.read().values().cloned().collect();
        for app in apps {
            let sessions: Vec<Arc<Session>> = app.sessions.lock().values().cloned().collect();
            for session in sessions {
                let held = std::mem::take(&mut session.state.lock().held_locks);
                if !held.is_empty() {
                    self.release_now(&app, &session.user, held).await;
                }
            }
        }
    }

    /// A session's connection dropped: each lock it holds expires after its ttl unless the
    /// session is resumed (`generation` is the detach's) or its user is back in a new session.
    pub(super) fn locks_on_detach(&self, session: &Arc<Session>, generation: u64) {
        let held: Vec<_> = session.state.lock().held_locks.iter().map(|(k, ttl)| (k.clone(), *ttl)).collect();
        for (key, ttl) in held {
            self.expire_after_ttl(session, key, ttl, generation);
        }
    }

    /// Expires lock `key` of a detached session `ttl` seconds from now, unless the session is
    /// resumed meanwhile (its detach generation moves on) or its user is back in a new session.
    /// The timer holds the session: it may end (presence timeout) before the ttl is over.
    fn expire_after_ttl(
        &self,
        session: &Arc<Session>,
        key: (ChannelType, Arc<str>, Arc<str>),
        ttl: u32,
        generation: u64,
    ) {
        let session = session.clone();
        let (channel_type, channel, name) = key;
        {
            self.spawn_timer(move |hub| async move {
                tokio::time::sleep(Duration::from_secs(ttl as u64)).await;
                let Some(hub) = hub.upgrade() else { return };
                let key = (channel_type, channel.clone(), name.clone());
                {
                    let mut state = session.state.lock();
                    if state.detach_generation != generation || state.moved || !state.held_locks.contains_key(&key) {
                        return;
                    }
                    state.held_locks.remove(&key);
                }
                let Ok(app) = hub.session_app(&session) else { return };
                if let Some(current) = app.rtm_session(&session.user).filter(|s| s.id != session.id && !s.is_detached())
                {
                    // The user is back in a new session: it holds the lock now.
                    current.state.lock().held_locks.insert(key, ttl);
                    return;
                }
                let op = LockOp::Expire { user: session.user.to_string() };
                match hub.shared.storage.lock(&app.id, channel_type, &channel, &name, &op).await {
                    Ok(outcome) => {
                        if let Some(event) = outcome.event {
                            hub.announce_lock(&app, channel_type, &channel, &session.user, event, &outcome.detail);
                        }
                    }
                    Err(e) => tracing::warn!(?session, lock = %name, error = %e, "a lock could not be expired"),
                }
            });
        }
    }

    /// A session ended: its user-metadata subscriptions go; on logout its locks are released at
    /// once, when replaced by a new session of its user they move to it, when its user moved to
    /// another node they stay held (that node does not know; see docs/SCALING.md), otherwise (a
    /// timeout) the timers started at the drop expire them.
    pub(super) fn storage_session_ended(&self, app: &Arc<App>, session: &Arc<Session>, reason: super::EndReason) {
        let logout = reason == super::EndReason::Logout;
        let (subs, held) = {
            let mut state = session.state.lock();
            let subs: Vec<Arc<str>> = state.rare_mut().map(|r| r.meta_subs.drain().collect()).unwrap_or_default();
            let release = logout || (!state.detached && reason != super::EndReason::Moved);
            let held = if release { std::mem::take(&mut state.held_locks) } else { HeldLocks::new() };
            (subs, held)
        };
        for user in subs {
            self.forget_meta_watch(app, &user, session);
        }
        if held.is_empty() {
            return;
        }
        if !logout {
            if let Some(current) = app.rtm_session(&session.user).filter(|s| s.id != session.id) {
                current.state.lock().held_locks.extend(held);
                return;
            }
        }
        self.release_locks(app.clone(), session.user.clone(), held);
    }
}

fn is_member(session: &Session, channel_type: ChannelType, channel: &str) -> bool {
    let state = session.state.lock();
    match channel_type {
        ChannelType::Stream => state.streams.contains(channel),
        _ => state.channels.contains_key(channel),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LockVerb {
    Set,
    Acquire,
    Release,
    Remove,
    Revoke,
}

impl LockVerb {
    /// `ttl` belongs to setLock, `retry` to acquireLock, `owner` (required) to revokeLock: a
    /// field sent to another op is refused, not ignored.
    fn check_fields(self, f: &LockRequest) -> Result<()> {
        names::lock_name(&f.lock_name)?;
        let stray = |field: &str| Err(Error::invalid(format!("{field} does not apply to this lock operation")));
        if f.ttl.is_some() && self != LockVerb::Set {
            return stray("ttl");
        }
        if f.retry && self != LockVerb::Acquire {
            return stray("retry");
        }
        match (self, &f.owner) {
            (LockVerb::Revoke, None) => Err(Error::invalid("revokeLock needs the owner")),
            (LockVerb::Revoke, Some(_)) => Ok(()),
            (_, Some(_)) => stray("owner"),
            _ => Ok(()),
        }
    }
}
