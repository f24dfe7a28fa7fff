//! TRTC-style rooms (docs/PROTOCOL.md#rooms-trtc): enter/exit with exit reasons, roles and scenes,
//! kick and dismiss, custom messages.
//!
//! Reasons are data, decided here once: a member is removed from a room in exactly one place
//! (under the room's lock), and whoever removes it announces it — so each remote leave is
//! reported once per session, even when an exit, a drop and a kick race.
//!
//! Room events (`{"t":"room","e":{"event":…}}`):
//! - `remoteEnter {userId}` — an announced member entered (all members in call scenes; anchors in
//!   LIVE / VoiceChatRoom);
//! - `remoteLeave {userId, reason}` — 0 left, 1 timed out, 2 removed by the server, 3 anchor
//!   became audience;
//! - `exit {reason, code?, message}` — to the member itself: 1 removed (kick, or replaced by the
//!   same user id entering elsewhere, with `code` ERR_USER_ENTERED_ELSEWHERE), 2 room dismissed.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::channel::check_payload;
use super::rate::TokenBucket;
use super::{App, Hub, Session};
use crate::broker::{Audience, Delivery, Route};
use crate::error::{Error, ErrorCode, Result};
use crate::names;
use crate::protocol::{
    server, CmdHeader, CustomCmd, EnterRoom, ExitReason, ExitRoom, LeaveReason, Role, RoomEvent, RoomId, Scene,
    SessionKind, SwitchRole, SwitchRoom,
};
use crate::time::now_ms;

/// The `cmdId`s of custom messages (TRTC: 1–10).
pub const CUSTOM_CMD_IDS: std::ops::RangeInclusive<u32> = 1..=10;
/// Largest custom message, in bytes.
pub const MAX_CUSTOM_CMD_BYTES: usize = 1024;
/// Custom messages per second per sender.
pub const CUSTOM_CMD_RATE: u32 = 30;
/// Custom message bytes per second per sender.
pub const CUSTOM_CMD_BYTES_PER_SECOND: u32 = 8 * 1024;
/// Largest numeric room id (TRTC: 1..=4294967294).
pub const MAX_ROOM_ID: u64 = 4_294_967_294;
/// Most user ids one `removeUser` call may name.
pub const MAX_REMOVE_USERS: usize = 10;

struct RoomMember {
    session: Arc<Session>,
    role: Role,
}

impl RoomMember {
    fn announced(&self, scene: Scene) -> bool {
        !scene.has_audience() || self.role == Role::Anchor
    }
}

/// One room on this node.
pub struct Room {
    pub id: RoomId,
    pub scene: Scene,
    members: Mutex<BTreeMap<Arc<str>, RoomMember>>,
}

impl Room {
    /// Pushes a delivery to every member but `skip`; custom messages that are not reliable are
    /// best effort.
    pub(crate) fn deliver(&self, delivery: &Delivery, droppable: bool, tally: &mut super::Tally) {
        let members = self.members.lock();
        for (user, member) in members.iter() {
            if delivery.skip.as_deref().is_some_and(|s| **user == *s) {
                continue;
            }
            let push = if droppable {
                member.session.outbox.push_droppable(delivery.frame.clone())
            } else {
                member.session.outbox.push(delivery.frame.clone())
            };
            tally.record(&member.session, push);
        }
    }

    pub fn len(&self) -> usize {
        self.members.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The members here and their roles.
    pub fn members(&self) -> Vec<(Arc<str>, Role)> {
        self.members.lock().iter().map(|(user, member)| (user.clone(), member.role)).collect()
    }

    /// Whether `user` is a member here.
    pub fn has(&self, user: &str) -> bool {
        self.members.lock().contains_key(user)
    }
}

/// The rooms of an app and who may not re-enter them yet.
#[derive(Default)]
pub(crate) struct Rooms {
    rooms: HashMap<RoomId, Arc<Room>>,
    bans: HashMap<(RoomId, Arc<str>), Instant>,
}

/// The rate of custom messages of one sender.
pub(crate) struct CmdRate {
    messages: TokenBucket,
    bytes: TokenBucket,
}

impl Default for CmdRate {
    fn default() -> Self {
        CmdRate { messages: TokenBucket::new(CUSTOM_CMD_RATE), bytes: TokenBucket::new(CUSTOM_CMD_BYTES_PER_SECOND) }
    }
}

/// The answer to `enterRoom` / `switchRoom`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnterRoomResponse {
    pub timestamp: u64,
    pub room: RoomId,
    pub scene: Scene,
    /// The announced members already there (each becomes an `onRemoteUserEnterRoom`).
    pub members: Vec<String>,
}

/// `{ timestamp, role }`.
#[derive(Debug, Serialize)]
pub struct RoleResponse {
    pub timestamp: u64,
    pub role: Role,
}

/// An admin-API failure: an HTTP status and a TRTC-server-API-style error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl AdminError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        AdminError { status, code, message: message.into() }
    }
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// What `removeUser` did.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RemoveUsersResult {
    pub removed: Vec<String>,
    pub not_in_room: Vec<String>,
}

/// What `dismissRoom` did.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DismissResult {
    pub members: usize,
}

/// Checks a room id: numbers in 1..=4294967294, strings by TRTC's `strRoomId` rules
/// ([`names::str_room_id`], which the client checks with too).
pub fn check_room_id(room: &RoomId) -> Result<()> {
    let bad = |why: String| Error::new(ErrorCode::TrtcRoomIdInvalid, why);
    match room {
        RoomId::Num(n) if (1..=MAX_ROOM_ID).contains(n) => Ok(()),
        RoomId::Num(n) => Err(bad(format!("roomId {n} is outside 1..={MAX_ROOM_ID}"))),
        RoomId::Str(s) => names::str_room_id(s),
    }
}

/// The room the session is in, or TRTC_NOT_IN_ROOM saying what needed one.
fn current_room(session: &Session, what: &str) -> Result<RoomId> {
    session.state.lock().room.clone().ok_or_else(|| Error::new(ErrorCode::TrtcNotInRoom, what.to_string()))
}

fn banned(id: &RoomId, seconds: u64) -> Error {
    Error::new(
        ErrorCode::TrtcRoomEnterFail,
        format!("removed from room {id} by the server; entering again is possible in {seconds} s"),
    )
}

/// A ban on this node keeping `session`'s user out of room `id` (an expired one is forgotten).
fn local_ban_refusal(bans: &mut HashMap<(RoomId, Arc<str>), Instant>, session: &Session, id: &RoomId) -> Option<Error> {
    let key = (id.clone(), session.user.clone());
    let until = bans.get(&key).copied()?;
    let now = Instant::now();
    if until > now {
        return Some(banned(id, (until - now).as_secs().max(1)));
    }
    bans.remove(&key);
    None
}

fn frame(event: &RoomEvent) -> Message {
    server::room(event)
}

impl Hub {
    fn room_route(app: &App, room: &RoomId) -> Route {
        Route::Room { app: app.id.clone(), room: room.clone() }
    }

    /// Takes a room out of this node's rooms when `empty` (no local member left).
    fn forget_room_if(&self, app: &App, rooms: &mut Rooms, id: &RoomId, empty: bool) -> Option<Arc<Room>> {
        self.broker().leave_group(|| Self::room_route(app, id), || if empty { rooms.rooms.remove(id) } else { None })
    }

    fn room_announce(&self, app: &App, room: &RoomId, skip: &str, event: &RoomEvent) {
        let delivery = Delivery {
            route: Self::room_route(app, room),
            audience: Audience::Everyone,
            skip: Some(Arc::from(skip)),
            frame: frame(event),
        };
        self.broker().publish(delivery);
    }

    /// TRTC `enterRoom`.
    pub fn enter_room(&self, session: &Arc<Session>, req: EnterRoom) -> Result<EnterRoomResponse> {
        if session.kind != SessionKind::Trtc {
            return Err(Error::invalid("rooms are for TRTC sessions (hello kind \"trtc\")"));
        }
        check_room_id(&req.room)?;
        self.authorize_room(session, &req.room, None)?;
        let app = self.session_app(session)?;
        let current = session.state.lock().room.clone();
        if let Some(current) = current {
            // Entering while in a room exits that one first.
            self.leave_room(&app, &current, session, LeaveReason::Left);
        }
        self.join_room(&app, session, req.room, req.role, req.scene)
    }

    fn join_room(
        &self,
        app: &Arc<App>,
        session: &Arc<Session>,
        id: RoomId,
        role: Role,
        scene: Scene,
    ) -> Result<EnterRoomResponse> {
        let max = self.config().rooms.max_members;
        if let Some(refusal) = self.remote_ban_refusal(app, session, &id) {
            return Err(refusal);
        }
        let remote = self.remote_room_members(&app.id, &id);
        let elsewhere = remote.get(&*session.user).map(|(node, _)| node.clone());
        let (room, replaced, members) = {
            let mut rooms = app.rooms.lock();
            if let Some(refusal) = local_ban_refusal(&mut rooms.bans, session, &id) {
                return Err(refusal);
            }
            let room = self.broker().join_group(
                || Self::room_route(app, &id),
                || {
                    let mut created = false;
                    let room = rooms.rooms.entry(id.clone()).or_insert_with(|| {
                        created = true;
                        Arc::new(Room { id: id.clone(), scene, members: Mutex::new(BTreeMap::new()) })
                    });
                    (room.clone(), created)
                },
            );
            let mut members = room.members.lock();
            let replaced = match members.get_mut(&session.user) {
                Some(existing) if existing.session.id != session.id => {
                    // The same user id entered again: the new session takes its place silently.
                    let old = std::mem::replace(&mut existing.session, session.clone());
                    existing.role = role;
                    Some(old)
                }
                Some(existing) => {
                    existing.role = role;
                    None
                }
                None => {
                    let remote_only = remote.keys().filter(|u| !members.contains_key(u.as_str())).count();
                    if members.len() + remote_only >= max && elsewhere.is_none() {
                        return Err(Error::new(
                            ErrorCode::TrtcRoomFull,
                            format!("room {id} has {max} members (rooms.maxMembers)"),
                        ));
                    }
                    members.insert(session.user.clone(), RoomMember { session: session.clone(), role });
                    None
                }
            };
            let scene = room.scene;
            let mut others: std::collections::BTreeSet<String> = members
                .iter()
                .filter(|(user, m)| **user != session.user && m.announced(scene))
                .map(|(user, _)| user.to_string())
                .collect();
            others.extend(
                remote.iter().filter(|(u, (_, announced))| *announced && **u != *session.user).map(|(u, _)| u.clone()),
            );
            let others: Vec<String> = others.into_iter().collect();
            drop(members);
            (room, replaced, others)
        };
        session.state.lock().room = Some(id.clone());
        let announced = role == Role::Anchor || !room.scene.has_audience();
        self.dir_room(&app.id, &id, session, room.scene, Some(announced));
        if let Some(node) = elsewhere {
            // The same user id is in this room on another node: this session takes its place
            // there silently, as it would on one node.
            let control = crate::cluster::Control::RoomReplace {
                app: app.id.to_string(),
                room: id.clone(),
                user: session.user.to_string(),
                node,
            };
            self.room_control(&app.id, &id, control);
            return Ok(EnterRoomResponse { timestamp: now_ms(), room: id, scene: room.scene, members });
        }
        if replaced.is_none() {
            self.hook_room_enter(session, &id, role, room.scene);
        }
        match replaced {
            Some(old) => {
                old.state.lock().room = None;
                let message = format!("user {:?} entered room {id} from another instance", &*session.user);
                let event = RoomEvent::Exit {
                    reason: ExitReason::Removed,
                    code: Some(ErrorCode::TrtcUserEnteredElsewhere.code()),
                    message: Cow::Borrowed(&message),
                };
                self.push(&old, frame(&event));
                tracing::info!(app = %app.id, room = %id, user = %session.user, "same user id entered again; the older instance was replaced");
            }
            None if announced => {
                self.room_announce(
                    app,
                    &id,
                    &session.user,
                    &RoomEvent::RemoteEnter { user_id: Cow::Borrowed(&session.user) },
                );
            }
            None => {}
        }
        Ok(EnterRoomResponse { timestamp: now_ms(), room: id, scene: room.scene, members })
    }

    /// Removes a session from a room, announcing `reason` to the others (once).
    pub(super) fn leave_room(&self, app: &App, id: &RoomId, session: &Session, reason: LeaveReason) -> bool {
        {
            let mut state = session.state.lock();
            if state.room.as_ref() == Some(id) {
                state.room = None;
            }
        }
        let mut rooms = app.rooms.lock();
        let Some(room) = rooms.rooms.get(id).cloned() else { return false };
        let mut members = room.members.lock();
        let Some(member) = members.get(&session.user) else { return false };
        if member.session.id != session.id {
            return false;
        }
        let member = members.remove(&session.user).expect("checked above");
        let empty = members.is_empty();
        drop(members);
        self.forget_room_if(app, &mut rooms, id, empty);
        drop(rooms);
        self.dir_room(&app.id, id, session, room.scene, None);
        // A user that moved to another node did not leave.
        let moved = session.state.lock().moved || self.remote_room_members(&app.id, id).contains_key(&*session.user);
        if !moved {
            let why = match reason {
                LeaveReason::TimedOut => "timedOut",
                LeaveReason::Removed => "removed",
                LeaveReason::Left | LeaveReason::BecameAudience => "left",
            };
            self.hook_room_exit(&app.id, &session.user, id, why);
        }
        if member.announced(room.scene) && !moved {
            self.room_announce(
                app,
                id,
                &session.user,
                &RoomEvent::RemoteLeave { user_id: Cow::Borrowed(&session.user), reason },
            );
        }
        true
    }

    /// TRTC `exitRoom`: the others hear `reason 0` before this answer goes out.
    pub fn exit_room(&self, session: &Arc<Session>, _req: ExitRoom) -> Result<super::presence::Done> {
        let app = self.session_app(session)?;
        let current = session.state.lock().room.clone();
        if let Some(id) = current {
            self.leave_room(&app, &id, session, LeaveReason::Left);
        }
        Ok(super::presence::Done { timestamp: now_ms() })
    }

    /// TRTC `switchRole`: in LIVE / VoiceChatRoom, becoming an anchor announces the user and
    /// becoming audience retires it (reason 3).
    pub fn switch_role(&self, session: &Arc<Session>, req: SwitchRole) -> Result<RoleResponse> {
        let app = self.session_app(session)?;
        let id = current_room(session, "switchRole needs a room")?;
        let room = app
            .rooms
            .lock()
            .rooms
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::new(ErrorCode::TrtcNotInRoom, "the room is gone"))?;
        let previous = {
            let mut members = room.members.lock();
            let member = members
                .get_mut(&session.user)
                .filter(|m| m.session.id == session.id)
                .ok_or_else(|| Error::new(ErrorCode::TrtcNotInRoom, "not a member of the room"))?;
            std::mem::replace(&mut member.role, req.role)
        };
        self.dir_room(&app.id, &id, session, room.scene, Some(req.role == Role::Anchor || !room.scene.has_audience()));
        if room.scene.has_audience() && previous != req.role {
            let event = match req.role {
                Role::Anchor => RoomEvent::RemoteEnter { user_id: Cow::Borrowed(&session.user) },
                Role::Audience => RoomEvent::RemoteLeave {
                    user_id: Cow::Borrowed(&session.user),
                    reason: LeaveReason::BecameAudience,
                },
            };
            self.room_announce(&app, &id, &session.user, &event);
        }
        Ok(RoleResponse { timestamp: now_ms(), role: req.role })
    }

    /// TRTC `switchRoom`: leave (reason 0), then enter the other room with the same role.
    pub fn switch_room(&self, session: &Arc<Session>, req: SwitchRoom) -> Result<EnterRoomResponse> {
        check_room_id(&req.room)?;
        self.authorize_room(session, &req.room, req.token.as_ref())?;
        let app = self.session_app(session)?;
        let current = current_room(session, "switchRoom needs a room")?;
        let (role, scene) = match app.rooms.lock().rooms.get(&current) {
            Some(room) => {
                let role = room.members.lock().get(&session.user).map(|m| m.role).unwrap_or_default();
                (role, room.scene)
            }
            None => (Role::Anchor, Scene::VideoCall),
        };
        // What would refuse the entry is checked before the old room is left, so a refused
        // switch leaves the session where it was (client and server agree); only a room that
        // fills up in between can still refuse after the leave.
        self.switch_refusal(&app, session, &req.room)?;
        self.leave_room(&app, &current, session, LeaveReason::Left);
        self.join_room(&app, session, req.room, role, scene)
    }

    /// A ban in the cluster's directory keeping `session`'s user out of room `id`.
    fn remote_ban_refusal(&self, app: &App, session: &Session, id: &RoomId) -> Option<Error> {
        let until = self.remote_ban(&app.id, id, &session.user)?;
        let seconds = (until.saturating_sub(now_ms()) / 1000).max(1);
        Some(banned(id, seconds))
    }

    /// Why entering room `id` would be refused now (a ban, or a full room), if it would.
    fn switch_refusal(&self, app: &App, session: &Session, id: &RoomId) -> Result<()> {
        if let Some(refusal) = self.remote_ban_refusal(app, session, id) {
            return Err(refusal);
        }
        let max = self.config().rooms.max_members;
        let remote = self.remote_room_members(&app.id, id);
        let mut rooms = app.rooms.lock();
        if let Some(refusal) = local_ban_refusal(&mut rooms.bans, session, id) {
            return Err(refusal);
        }
        let local: Vec<Arc<str>> = match rooms.rooms.get(id) {
            Some(room) => room.members.lock().keys().cloned().collect(),
            None => Vec::new(),
        };
        let already = local.contains(&session.user) || remote.contains_key(&*session.user);
        let count = local.len() + remote.keys().filter(|u| !local.iter().any(|l| **l == ***u)).count();
        if !already && count >= max {
            return Err(Error::new(ErrorCode::TrtcRoomFull, format!("room {id} has {max} members (rooms.maxMembers)")));
        }
        Ok(())
    }

    /// TRTC `sendCustomCmdMsg`: to every other member of the room.
    pub fn custom_cmd(&self, session: &Arc<Session>, req: CustomCmd, payload: Bytes) -> Result<()> {
        if !CUSTOM_CMD_IDS.contains(&req.cmd_id) {
            return Err(Error::invalid(format!("cmdId {} is outside {CUSTOM_CMD_IDS:?}", req.cmd_id)));
        }
        if req.reliable != req.ordered {
            return Err(Error::invalid("reliable and ordered must be both true or both false"));
        }
        check_payload(&payload, req.message_type, MAX_CUSTOM_CMD_BYTES, false)?;
        let id = current_room(session, "custom messages need a room")?;
        {
            let mut rate = session.cmd_rate.lock();
            let rate = rate.get_or_insert_with(Default::default);
            if !rate.messages.try_take() {
                return Err(Error::new(
                    ErrorCode::ChannelPublishMessageTooFrequent,
                    format!("more than {CUSTOM_CMD_RATE} custom messages per second"),
                ));
            }
            for _ in 0..payload.len() {
                if !rate.bytes.try_take() {
                    return Err(Error::new(
                        ErrorCode::ChannelPublishMessageTooFrequent,
                        format!("more than {CUSTOM_CMD_BYTES_PER_SECOND} bytes of custom messages per second"),
                    ));
                }
            }
        }
        let header = CmdHeader {
            user_id: Cow::Borrowed(&session.user),
            cmd_id: req.cmd_id,
            seq: req.seq,
            reliable: req.reliable,
        };
        let frame = server::cmd(&header, req.message_type, &payload);
        self.counters().messages_in.fetch_add(1, Ordering::Relaxed);
        let app = self.session_app(session)?;
        let audience = if req.reliable { Audience::Everyone } else { Audience::BestEffort };
        self.broker().publish(Delivery {
            route: Self::room_route(&app, &id),
            audience,
            skip: Some(session.user.clone()),
            frame,
        });
        Ok(())
    }

    /// `Server.removeUser` / `POST …/remove-users`: the users get `onExitRoom(1)`, the others
    /// `onRemoteUserLeaveRoom(userId, 2)`, and they cannot re-enter for `rooms.kickBanSeconds`.
    pub fn remove_users(
        &self,
        app_id: &str,
        id: &RoomId,
        users: &[String],
        caller: &str,
    ) -> std::result::Result<RemoveUsersResult, AdminError> {
        if users.is_empty() || users.len() > MAX_REMOVE_USERS {
            return Err(AdminError::new(
                400,
                "InvalidParameter.UserIds",
                format!("name 1 to {MAX_REMOVE_USERS} user ids, got {}", users.len()),
            ));
        }
        if let Some(bad) = users.iter().find(|u| names::user_id(u).is_err()) {
            return Err(AdminError::new(400, "InvalidParameter.UserIds", format!("{bad:?} is not a valid user id")));
        }
        check_room_id(id).map_err(|e| AdminError::new(400, "InvalidParameter.RoomId", e.reason))?;
        let not_found = || {
            AdminError::new(404, "FailedOperation.RoomNotExist", format!("room {id} does not exist in app {app_id:?}"))
        };
        let remote = self.remote_room_members(app_id, id);
        let local: Vec<String> = match self.app(app_id).and_then(|a| Hub::room(&a, id)) {
            Some(room) => users.iter().filter(|u| room.has(u)).cloned().collect(),
            None if remote.is_empty() => return Err(not_found()),
            None => Vec::new(),
        };
        let (removed, not_in_room): (Vec<String>, Vec<String>) =
            users.iter().cloned().partition(|u| local.contains(u) || remote.contains_key(u));
        let ban = self.config().rooms.kick_ban_seconds as u64;
        if ban > 0 {
            let app = self.app_or_create(app_id);
            let mut rooms = app.rooms.lock();
            let until = Instant::now() + Duration::from_secs(ban);
            for user in users {
                rooms.bans.insert((id.clone(), Arc::from(user.as_str())), until);
                self.dir_ban(app_id, id, user, now_ms() + ban * 1000);
            }
            // Forget bans that ran out.
            let now = Instant::now();
            rooms.bans.retain(|_, until| *until > now);
        }
        let control = crate::cluster::Control::RoomRemove {
            app: app_id.to_string(),
            room: id.clone(),
            users: removed.clone(),
            caller: caller.to_string(),
        };
        match self.cluster() {
            // The cluster applies it here too.
            Some(_) => self.room_control(app_id, id, control),
            None => {
                if let Some(app) = self.app(app_id) {
                    self.remove_room_members_here(&app, id, &removed, caller);
                }
            }
        }
        tracing::info!(app = app_id, room = %id, ?removed, ?not_in_room, caller, ban_seconds = ban, "users removed from room");
        Ok(RemoveUsersResult { removed, not_in_room })
    }

    /// Removes this node's members among `users` from a room: they get `onExitRoom(1)`, the
    /// others `onRemoteUserLeaveRoom(userId, 2)`.
    pub(super) fn remove_room_members_here(&self, app: &Arc<App>, id: &RoomId, users: &[String], caller: &str) {
        let ban = Duration::from_secs(self.config().rooms.kick_ban_seconds as u64);
        let mut leaving = Vec::new();
        let scene = {
            let mut rooms = app.rooms.lock();
            if !ban.is_zero() {
                for user in users {
                    rooms.bans.insert((id.clone(), Arc::from(user.as_str())), Instant::now() + ban);
                }
            }
            let Some(room) = rooms.rooms.get(id).cloned() else { return };
            let mut members = room.members.lock();
            for user in users {
                if let Some(member) = members.remove(user.as_str()) {
                    leaving.push(member);
                }
            }
            let empty = members.is_empty();
            drop(members);
            self.forget_room_if(app, &mut rooms, id, empty);
            room.scene
        };
        // Announced with no lock held: delivery takes the room lock again.
        let message = format!("removed from room {id} by the server");
        for member in &leaving {
            self.hook_room_exit(&app.id, &member.session.user, id, "removed");
            member.session.state.lock().room = None;
            self.dir_room(&app.id, id, &member.session, scene, None);
            self.push(
                &member.session,
                frame(&RoomEvent::Exit { reason: ExitReason::Removed, code: None, message: Cow::Borrowed(&message) }),
            );
            if member.announced(scene) {
                let event = RoomEvent::RemoteLeave {
                    user_id: Cow::Borrowed(&member.session.user),
                    reason: LeaveReason::Removed,
                };
                self.room_announce(app, id, &member.session.user, &event);
            }
        }
        if !leaving.is_empty() {
            tracing::info!(app = %app.id, room = %id, removed = leaving.len(), caller, "room members removed here");
        }
    }

    /// Takes `user` out of a room here without telling anyone but the user: the same user id
    /// entered the room on another node.
    pub(super) fn replace_room_member_here(&self, app: &Arc<App>, id: &RoomId, user: &str) {
        let removed = {
            let mut rooms = app.rooms.lock();
            let Some(room) = rooms.rooms.get(id).cloned() else { return };
            let mut members = room.members.lock();
            let removed = members.remove(user).map(|m| (m, room.scene));
            let empty = members.is_empty();
            drop(members);
            self.forget_room_if(app, &mut rooms, id, empty);
            removed
        };
        let Some((member, scene)) = removed else { return };
        member.session.state.lock().room = None;
        self.dir_room(&app.id, id, &member.session, scene, None);
        let message = format!("user {user:?} entered room {id} from another instance");
        let event = RoomEvent::Exit {
            reason: ExitReason::Removed,
            code: Some(ErrorCode::TrtcUserEnteredElsewhere.code()),
            message: Cow::Borrowed(&message),
        };
        self.push(&member.session, frame(&event));
    }

    /// Tells a room's members that a dead node's member timed out (`onRemoteUserLeaveRoom(1)`).
    pub(super) fn announce_room_timeout(&self, app: &str, room: &RoomId, user: &str) {
        self.broker().publish(Delivery {
            route: Route::Room { app: Arc::from(app), room: room.clone() },
            audience: Audience::Everyone,
            skip: Some(Arc::from(user)),
            frame: frame(&RoomEvent::RemoteLeave { user_id: Cow::Borrowed(user), reason: LeaveReason::TimedOut }),
        });
    }

    /// `Server.dismissRoom` / `POST …/dismiss`: every member gets `onExitRoom(2)`; the room is gone.
    pub fn dismiss_room(
        &self,
        app_id: &str,
        id: &RoomId,
        caller: &str,
    ) -> std::result::Result<DismissResult, AdminError> {
        check_room_id(id).map_err(|e| AdminError::new(400, "InvalidParameter.RoomId", e.reason))?;
        let not_found = || {
            AdminError::new(404, "FailedOperation.RoomNotExist", format!("room {id} does not exist in app {app_id:?}"))
        };
        let remote = self.remote_room_members(app_id, id);
        let local = self.app(app_id).and_then(|a| Hub::room(&a, id)).map(|r| r.len());
        let members = match local {
            None if remote.is_empty() => return Err(not_found()),
            local => local.unwrap_or(0) + remote.len(),
        };
        let control = crate::cluster::Control::RoomDismiss {
            app: app_id.to_string(),
            room: id.clone(),
            caller: caller.to_string(),
        };
        match self.cluster() {
            // The cluster applies it here too.
            Some(_) => self.room_control(app_id, id, control),
            None => {
                if let Some(app) = self.app(app_id) {
                    self.dismiss_room_here(&app, id, caller);
                }
            }
        }
        tracing::info!(app = app_id, room = %id, members, caller, "room dismissed");
        Ok(DismissResult { members })
    }

    /// Dismisses a room's members on this node: each gets `onExitRoom(2)`.
    pub(super) fn dismiss_room_here(&self, app: &Arc<App>, id: &RoomId, caller: &str) {
        let Some(room) = self.forget_room_if(app, &mut app.rooms.lock(), id, true) else { return };
        let members = std::mem::take(&mut *room.members.lock());
        let message = format!("room {id} was dismissed by the server");
        for member in members.values() {
            self.hook_room_exit(&app.id, &member.session.user, id, "dismissed");
            member.session.state.lock().room = None;
            self.dir_room(&app.id, id, &member.session, room.scene, None);
            self.push(
                &member.session,
                frame(&RoomEvent::Exit { reason: ExitReason::Dismissed, code: None, message: Cow::Borrowed(&message) }),
            );
        }
        tracing::debug!(app = %app.id, room = %id, members = members.len(), caller, "room members dismissed here");
    }

    /// The rooms with members on this node.
    pub(super) fn room_list(app: &App) -> Vec<Arc<Room>> {
        app.rooms.lock().rooms.values().cloned().collect()
    }

    /// Rooms with members on this node.
    pub(super) fn room_count(app: &App) -> usize {
        app.rooms.lock().rooms.len()
    }

    pub(super) fn room(app: &App, id: &RoomId) -> Option<Arc<Room>> {
        app.rooms.lock().rooms.get(id).cloned()
    }
}
