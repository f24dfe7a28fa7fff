//! TRTC-style rooms (SPEC §5): enter/exit with exit reasons, roles and scenes, kick and dismiss,
//! custom messages.
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
    codec, CustomCmd, EnterRoom, ExitRoom, Role, RoomId, Scene, SessionKind, SwitchRole, SwitchRoom,
};
use crate::time::now_ms;

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

/// Remote-leave reasons of `onRemoteUserLeaveRoom`.
pub mod leave {
    pub const LEFT: u8 = 0;
    pub const TIMED_OUT: u8 = 1;
    pub const REMOVED: u8 = 2;
    pub const BECAME_AUDIENCE: u8 = 3;
}

/// Local exit reasons of `onExitRoom`.
pub mod exit {
    pub const EXITED: u8 = 0;
    pub const REMOVED: u8 = 1;
    pub const DISMISSED: u8 = 2;
}

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

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "camelCase")]
enum RoomEvent<'a> {
    #[serde(rename_all = "camelCase")]
    RemoteEnter { user_id: &'a str },
    #[serde(rename_all = "camelCase")]
    RemoteLeave { user_id: &'a str, reason: u8 },
    #[serde(rename_all = "camelCase")]
    Exit {
        reason: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        message: &'a str,
    },
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

/// Checks a room id: numbers in 1..=4294967294, strings by the name rules.
pub fn check_room_id(room: &RoomId) -> Result<()> {
    let bad = |why: String| Error::new(ErrorCode::TrtcRoomIdInvalid, why);
    match room {
        RoomId::Num(n) if (1..=MAX_ROOM_ID).contains(n) => Ok(()),
        RoomId::Num(n) => Err(bad(format!("roomId {n} is outside 1..={MAX_ROOM_ID}"))),
        RoomId::Str(s) => names::channel(s).map_err(|e| bad(e.reason.replace("channel name", "strRoomId"))),
    }
}

fn frame(event: &RoomEvent) -> Message {
    codec::event("room", event)
}

impl Hub {
    fn room_route(app: &App, room: &RoomId) -> Route {
        Route::Room { app: app.id.clone(), room: room.clone() }
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
            self.leave_room(&app, &current, session, leave::LEFT);
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
        let (room, replaced, members) = {
            let mut rooms = app.rooms.lock();
            if let Some(until) = rooms.bans.get(&(id.clone(), session.user.clone())).copied() {
                let now = Instant::now();
                if until > now {
                    return Err(Error::new(
                        ErrorCode::TrtcRoomEnterFail,
                        format!(
                            "removed from room {id} by the server; entering again is possible in {} s",
                            (until - now).as_secs().max(1)
                        ),
                    ));
                }
                rooms.bans.remove(&(id.clone(), session.user.clone()));
            }
            let room = rooms
                .rooms
                .entry(id.clone())
                .or_insert_with(|| Arc::new(Room { id: id.clone(), scene, members: Mutex::new(BTreeMap::new()) }))
                .clone();
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
                    if members.len() >= max {
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
            let others: Vec<String> = members
                .iter()
                .filter(|(user, m)| **user != session.user && m.announced(scene))
                .map(|(user, _)| user.to_string())
                .collect();
            drop(members);
            (room, replaced, others)
        };
        session.state.lock().room = Some(id.clone());
        let announced = role == Role::Anchor || !room.scene.has_audience();
        match replaced {
            Some(old) => {
                old.state.lock().room = None;
                let message = format!("user {:?} entered room {id} from another instance", &*session.user);
                let event = RoomEvent::Exit {
                    reason: exit::REMOVED,
                    code: Some(ErrorCode::TrtcUserEnteredElsewhere.code()),
                    message: &message,
                };
                self.push(&old, frame(&event));
                tracing::info!(app = %app.id, room = %id, user = %session.user, "same user id entered again; the older instance was replaced");
            }
            None if announced => {
                self.room_announce(app, &id, &session.user, &RoomEvent::RemoteEnter { user_id: &session.user });
            }
            None => {}
        }
        Ok(EnterRoomResponse { timestamp: now_ms(), room: id, scene: room.scene, members })
    }

    /// Removes a session from a room, announcing `reason` to the others (once).
    pub(super) fn leave_room(&self, app: &App, id: &RoomId, session: &Session, reason: u8) -> bool {
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
        if empty {
            rooms.rooms.remove(id);
        }
        drop(rooms);
        if member.announced(room.scene) {
            self.room_announce(app, id, &session.user, &RoomEvent::RemoteLeave { user_id: &session.user, reason });
        }
        true
    }

    /// TRTC `exitRoom`: the others hear `reason 0` before this answer goes out.
    pub fn exit_room(&self, session: &Arc<Session>, _req: ExitRoom) -> Result<super::presence::Done> {
        let app = self.session_app(session)?;
        let current = session.state.lock().room.clone();
        if let Some(id) = current {
            self.leave_room(&app, &id, session, leave::LEFT);
        }
        Ok(super::presence::Done { timestamp: now_ms() })
    }

    /// TRTC `switchRole`: in LIVE / VoiceChatRoom, becoming an anchor announces the user and
    /// becoming audience retires it (reason 3).
    pub fn switch_role(&self, session: &Arc<Session>, req: SwitchRole) -> Result<RoleResponse> {
        let app = self.session_app(session)?;
        let id = session
            .state
            .lock()
            .room
            .clone()
            .ok_or_else(|| Error::new(ErrorCode::TrtcNotInRoom, "switchRole needs a room"))?;
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
        if room.scene.has_audience() && previous != req.role {
            let event = match req.role {
                Role::Anchor => RoomEvent::RemoteEnter { user_id: &session.user },
                Role::Audience => RoomEvent::RemoteLeave { user_id: &session.user, reason: leave::BECAME_AUDIENCE },
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
        let current = session
            .state
            .lock()
            .room
            .clone()
            .ok_or_else(|| Error::new(ErrorCode::TrtcNotInRoom, "switchRoom needs a room"))?;
        let (role, scene) = match app.rooms.lock().rooms.get(&current) {
            Some(room) => {
                let role = room.members.lock().get(&session.user).map(|m| m.role).unwrap_or_default();
                (role, room.scene)
            }
            None => (Role::Anchor, Scene::VideoCall),
        };
        self.leave_room(&app, &current, session, leave::LEFT);
        self.join_room(&app, session, req.room, role, scene)
    }

    /// TRTC `sendCustomCmdMsg`: to every other member of the room.
    pub fn custom_cmd(&self, session: &Arc<Session>, req: CustomCmd, payload: Bytes) -> Result<()> {
        if !(1..=10).contains(&req.cmd_id) {
            return Err(Error::invalid(format!("cmdId {} is outside 1..=10", req.cmd_id)));
        }
        if req.reliable != req.ordered {
            return Err(Error::invalid("reliable and ordered must be both true or both false"));
        }
        check_payload(&payload, req.message_type, MAX_CUSTOM_CMD_BYTES, false)?;
        let id = session
            .state
            .lock()
            .room
            .clone()
            .ok_or_else(|| Error::new(ErrorCode::TrtcNotInRoom, "custom messages need a room"))?;
        {
            let mut rate = session.cmd_rate.lock();
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
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Header<'a> {
            user_id: &'a str,
            cmd_id: u32,
            seq: u64,
            reliable: bool,
        }
        #[derive(Serialize)]
        struct Head<'a> {
            t: &'static str,
            mt: crate::protocol::MessageType,
            e: Header<'a>,
        }
        let header = Head {
            t: "cmd",
            mt: req.message_type,
            e: Header { user_id: &session.user, cmd_id: req.cmd_id, seq: req.seq, reliable: req.reliable },
        };
        let frame = Message::Binary(codec::encode_binary(&header, &payload));
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
        let app = self.app(app_id).ok_or_else(not_found)?;
        let ban = Duration::from_secs(self.config().rooms.kick_ban_seconds as u64);
        let mut removed = Vec::new();
        let mut not_in_room = Vec::new();
        let mut leaving = Vec::new();
        let scene = {
            let mut rooms = app.rooms.lock();
            let room = rooms.rooms.get(id).cloned().ok_or_else(not_found)?;
            let mut members = room.members.lock();
            for user in users {
                match members.remove(user.as_str()) {
                    Some(member) => {
                        removed.push(user.clone());
                        leaving.push(member);
                    }
                    None => not_in_room.push(user.clone()),
                }
                if !ban.is_zero() {
                    rooms.bans.insert((id.clone(), Arc::from(user.as_str())), Instant::now() + ban);
                }
            }
            if members.is_empty() {
                drop(members);
                rooms.rooms.remove(id);
            }
            // Forget bans that ran out.
            let now = Instant::now();
            rooms.bans.retain(|_, until| *until > now);
            room.scene
        };
        // Announced with no lock held: delivery takes the room lock again.
        let message = format!("removed from room {id} by the server");
        for member in &leaving {
            member.session.state.lock().room = None;
            self.push(
                &member.session,
                frame(&RoomEvent::Exit { reason: exit::REMOVED, code: None, message: &message }),
            );
            if member.announced(scene) {
                let event = RoomEvent::RemoteLeave { user_id: &member.session.user, reason: leave::REMOVED };
                self.room_announce(&app, id, &member.session.user, &event);
            }
        }
        tracing::info!(app = app_id, room = %id, ?removed, ?not_in_room, caller, ban_seconds = ban.as_secs(), "users removed from room");
        Ok(RemoveUsersResult { removed, not_in_room })
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
        let app = self.app(app_id).ok_or_else(not_found)?;
        let room = app.rooms.lock().rooms.remove(id).ok_or_else(not_found)?;
        let members = std::mem::take(&mut *room.members.lock());
        let message = format!("room {id} was dismissed by the server");
        for member in members.values() {
            member.session.state.lock().room = None;
            self.push(
                &member.session,
                frame(&RoomEvent::Exit { reason: exit::DISMISSED, code: None, message: &message }),
            );
        }
        tracing::info!(app = app_id, room = %id, members = members.len(), caller, "room dismissed");
        Ok(DismissResult { members: members.len() })
    }

    /// Rooms with members on this node.
    pub(super) fn room_count(app: &App) -> usize {
        app.rooms.lock().rooms.len()
    }

    pub(super) fn room(app: &App, id: &RoomId) -> Option<Arc<Room>> {
        app.rooms.lock().rooms.get(id).cloned()
    }
}
