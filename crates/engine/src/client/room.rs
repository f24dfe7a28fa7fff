//! The TRTC room client as a pure state machine: what `TRTCCloud` (`lib/trtc.js`) decides, in
//! Rust, so a Rust program can enter and leave rooms without JavaScript.
//!
//! It owns the client's view of its room — the room entered, the announced members, the
//! sequence numbers of custom messages both ways, the rate buckets of custom messages, whether
//! the link is lost — and turns what happens (a call, a request's answer, a room event, a custom
//! message, a link state change, a room restore after a reconnect that could not resume) into
//! [`TrtcEvent`]s: exactly the TRTC callbacks with their TRTC arguments, in the order
//! `lib/trtc.js` emits them. The codes, messages, orderings and edge cases are those of the
//! JavaScript; where the JavaScript checks a type Rust makes impossible (a `null` params, a role
//! that is not 20 or 21), the check is the caller's.
//!
//! It does no I/O and knows no runtime: time comes in as [`Instant`]s, frames go out as values.
//! The driver (the client's link, or a test) does the waiting: it runs one operation at a time
//! (TRTCCloud queues them), sends the frames a method hands it, and reports each answer to the
//! matching `on_*_answer` method. An answer nobody waits for is ignored.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use super::events::{LinkReason, LinkState, LinkStateEvent, Payload};
use crate::error::{Error, ErrorCode};
use crate::hub::room::{
    CUSTOM_CMD_BYTES_PER_SECOND, CUSTOM_CMD_IDS, CUSTOM_CMD_RATE, MAX_CUSTOM_CMD_BYTES, MAX_ROOM_ID,
};
use crate::protocol::{
    CmdHeader, CustomCmd, EnterRoom, ExitReason, ExitRoom, LeaveReason, MessageType, Role, RoomEvent, RoomId, Scene,
    SwitchRole, SwitchRoom,
};
use crate::secret::Secret;

pub use super::trtc::TrtcEvent;

/// `TRTCParams` of `enterRoom`. As in the TRTC SDKs, `room_id` 0 and `str_room_id` `""` mean
/// "not given"; one must be given, and with both `room_id` wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterParams {
    pub sdk_app_id: u64,
    pub user_id: String,
    pub user_sig: Secret,
    pub room_id: u64,
    pub str_room_id: String,
    pub role: Role,
}

/// Who to be logged in as for an entry. The driver logs in again only when this differs from
/// the current login or the link is not CONNECTED (what TRTCCloud's `_connect` does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// `sdkAppId` in decimal: the RTM app id.
    pub app_id: String,
    pub user_id: String,
    pub user_sig: Secret,
}

/// What an entry needs done, in this order.
#[derive(Debug, Clone, PartialEq)]
pub struct EnterPlan {
    /// In a room now: send `exitRoom`, wait for its answer (whatever it is), call
    /// [`RoomClient::exited`] — entering elsewhere exits first, with `onExitRoom(0)`.
    pub exit_first: bool,
    /// Then log in as this (if not already), then send `frame` and report the answer (or the
    /// login's failure) to [`RoomClient::on_enter_answer`].
    pub login: Login,
    pub frame: EnterRoom,
}

/// The outcome of a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Next<T> {
    /// Send this request; its answer goes to the matching `on_*_answer` method.
    Send(T),
    /// Nothing to send: these events are the whole outcome.
    Done(Vec<TrtcEvent>),
}

/// Why a custom message was refused (TRTC's `sendCustomCmdMsg` just returns `false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmdRefusal {
    /// Not in a room, or destroyed.
    NotInRoom,
    /// `cmdId` outside 1..=10.
    CmdId(u32),
    /// `reliable` and `ordered` differ.
    ReliableNotOrdered,
    /// Larger than [`MAX_CUSTOM_CMD_BYTES`] (the size is given).
    TooLarge(usize),
    /// More than [`CUSTOM_CMD_RATE`] messages per second.
    TooFrequent,
    /// More than [`CUSTOM_CMD_BYTES_PER_SECOND`] bytes per second.
    TooManyBytes,
}

/// The TRTC code `onEnterRoom` / `onError` / `onSwitchRole` / `onSwitchRoom` report for an
/// error (JS `trtcCode`): TRTC codes as they are, login failures as their TRTC counterparts,
/// anything else `ERR_ROOM_ENTER_FAIL`.
pub fn trtc_code(code: ErrorCode) -> ErrorCode {
    use ErrorCode as C;
    match code {
        code if code.is_trtc() => code,
        C::InvalidAppId => C::TrtcSdkAppIdInvalid,
        C::InvalidUserId => C::TrtcUserIdInvalid,
        C::InvalidToken | C::TokenExpired | C::InconsistentAppid | C::LoginNotAuthorized => C::TrtcUserSigInvalid,
        C::LoginTimeout => C::TrtcEnterRoomTimeout,
        _ => C::TrtcRoomEnterFail,
    }
}

/// The message of a failed request: its reason, or (JS `err.reason || err.message`) the error's
/// text when the reason is empty.
fn message_of(error: &Error) -> String {
    Some(&error.reason).filter(|r| !r.is_empty()).cloned().unwrap_or_else(|| error.to_string())
}

/// `onError(code, message)` then `onEnterRoom(code)`: how every failed entry ends.
fn enter_failed(code: i32, message: String) -> Vec<TrtcEvent> {
    vec![TrtcEvent::Error { code, message }, TrtcEvent::EnterRoom { result: code.into() }]
}

/// `{roomId}` or `{strRoomId}` → the wire room id, or why not. With both, `roomId` wins (as
/// TRTC: "若两者都填，则优先选择 roomId"). String ids are checked by name rules
/// ([`crate::names::str_room_id`]) only when the request is submitted.
fn room_of(room_id: u64, str_room_id: &str) -> Result<RoomId, String> {
    match (room_id != 0, !str_room_id.is_empty()) {
        (false, false) => Err("give roomId or strRoomId".into()),
        (true, _) if room_id > MAX_ROOM_ID => Err(format!("roomId {room_id} is not an integer in 1..{MAX_ROOM_ID}")),
        (true, _) => Ok(RoomId::Num(room_id)),
        (false, true) => Ok(RoomId::Str(str_room_id.to_string())),
    }
}

/// A rate limit of `RATE` units per second with a burst of `RATE` (JS `Bucket`): all of `n` or
/// nothing. It counts what was spent, so the default is a full bucket whose clock starts at
/// the first take.
#[derive(Debug, Default)]
struct Bucket<const RATE: u32> {
    spent: f64,
    at: Option<Instant>,
}

impl<const RATE: u32> Bucket<RATE> {
    fn take(&mut self, n: usize, now: Instant) -> bool {
        let elapsed = self.at.map_or(0.0, |at| now.saturating_duration_since(at).as_secs_f64());
        self.spent = (self.spent - elapsed * f64::from(RATE)).max(0.0);
        self.at = Some(now);
        if f64::from(RATE) - self.spent < n as f64 {
            return false;
        }
        self.spent += n as f64;
        true
    }
}

/// `new Set(users)` as a list: without repeats, first occurrence first. Members are kept in the
/// order they became known, as the JS `Set`: the restore diff and `switchRoom` report that order.
fn unique(users: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    users.into_iter().filter(|u| seen.insert(u.clone())).collect()
}

/// The request in flight whose answer changes the state.
#[derive(Debug)]
enum Pending {
    Enter { started: Instant, room: RoomId },
    SwitchRole,
    SwitchRoom { room: RoomId },
}

/// One TRTCCloud's room state (`RoomClient::default()`). See the module documentation.
#[derive(Debug, Default)]
pub struct RoomClient {
    room: Option<RoomId>,
    /// The announced members, in the order they became known.
    members: Vec<String>,
    /// The last `seq` received per sender and cmdId, for gap detection.
    last_seq: HashMap<String, HashMap<u32, u64>>,
    /// The last `seq` sent per cmdId (never reset: receivers forget senders instead).
    sent_seq: HashMap<u32, u64>,
    messages: Bucket<CUSTOM_CMD_RATE>,
    bytes: Bucket<CUSTOM_CMD_BYTES_PER_SECOND>,
    /// The link dropped and has not come back (onConnectionLost was reported).
    lost: bool,
    destroyed: bool,
    pending: Option<Pending>,
}

impl RoomClient {
    /// The room entered, if any.
    pub fn room(&self) -> Option<&RoomId> {
        self.room.as_ref()
    }

    /// The announced members of the room, in the order they became known.
    pub fn members(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(String::as_str)
    }

    /// Whether the link is lost (between onConnectionLost and onConnectionRecovery).
    pub fn is_lost(&self) -> bool {
        self.lost
    }

    /// `enterRoom(params, scene)`. `called_at` is when the application called it: onEnterRoom
    /// reports the time from then, including any wait behind earlier operations. Bad
    /// parameters end here with `onError(code, …)` then `onEnterRoom(code)`.
    pub fn enter_room(&mut self, params: &EnterParams, scene: Scene, called_at: Instant) -> Next<EnterPlan> {
        if params.sdk_app_id == 0 {
            let message = format!("sdkAppId {} is not a positive integer", params.sdk_app_id);
            return Next::Done(enter_failed(ErrorCode::TrtcSdkAppIdInvalid.code(), message));
        }
        if params.user_id.is_empty() {
            let message = "userId must be a non-empty string".to_string();
            return Next::Done(enter_failed(ErrorCode::TrtcUserIdInvalid.code(), message));
        }
        let room = match room_of(params.room_id, &params.str_room_id) {
            Ok(room) => room,
            Err(why) => return Next::Done(enter_failed(ErrorCode::TrtcRoomIdInvalid.code(), why)),
        };
        self.pending = Some(Pending::Enter { started: called_at, room: room.clone() });
        let (app_id, user_id, user_sig) =
            (params.sdk_app_id.to_string(), params.user_id.clone(), params.user_sig.clone());
        let (login, frame) = (Login { app_id, user_id, user_sig }, EnterRoom { id: 0, room, role: params.role, scene });
        Next::Send(EnterPlan { exit_first: self.room.is_some(), login, frame })
    }

    /// The `enterRoom` answer (the members already there), or why the login or the entry
    /// failed. Success: `onEnterRoom(ms)`, then `onRemoteUserEnterRoom` for each member.
    pub fn on_enter_answer(&mut self, answer: Result<Vec<String>, Error>, now: Instant) -> Vec<TrtcEvent> {
        let Some(Pending::Enter { started, room }) = self.pending.take_if(|p| matches!(p, Pending::Enter { .. }))
        else {
            return Vec::new();
        };
        let members = match answer {
            Ok(members) => members,
            Err(e) => return enter_failed(trtc_code(e.code).code(), message_of(&e)),
        };
        self.room = Some(room);
        self.members = unique(members.clone());
        self.last_seq.clear();
        let ms = now.saturating_duration_since(started).as_millis();
        let mut events = vec![TrtcEvent::EnterRoom { result: i64::try_from(ms).unwrap_or(i64::MAX).max(1) }];
        events.extend(members.into_iter().map(|user_id| TrtcEvent::RemoteUserEnterRoom { user_id }));
        events
    }

    /// `exitRoom()`. In a room: send `exitRoom`, then call [`Self::exited`] once it is answered
    /// or failed. Outside one it still ends with `onExitRoom(0)`.
    pub fn exit_room(&mut self) -> Next<ExitRoom> {
        if self.room.is_some() {
            Next::Send(ExitRoom { id: 0 })
        } else {
            Next::Done(self.exited())
        }
    }

    /// Out of the room, whatever the way: no room, nobody announced.
    fn out_of_room(&mut self) {
        self.room = None;
        self.members.clear();
    }

    /// The `exitRoom` request is over, however it went: out of the room, `onExitRoom(0)`.
    pub fn exited(&mut self) -> Vec<TrtcEvent> {
        self.out_of_room();
        vec![TrtcEvent::ExitRoom { reason: ExitReason::Exited }]
    }

    /// `switchRole(role)`; outside a room `onSwitchRole(ERR_NOT_IN_ROOM, …)`.
    pub fn switch_role(&mut self, role: Role) -> Next<SwitchRole> {
        if self.room.is_none() {
            let message = "switchRole needs a room".to_string();
            return Next::Done(vec![TrtcEvent::SwitchRole { code: ErrorCode::TrtcNotInRoom.code(), message }]);
        }
        self.pending = Some(Pending::SwitchRole);
        Next::Send(SwitchRole { id: 0, role })
    }

    /// The `switchRole` answer: `onSwitchRole(0, "")` or `onSwitchRole(code, reason)`.
    pub fn on_switch_role_answer(&mut self, answer: Result<(), Error>) -> Vec<TrtcEvent> {
        if self.pending.take_if(|p| matches!(p, Pending::SwitchRole)).is_none() {
            return Vec::new();
        }
        vec![match answer {
            Ok(()) => TrtcEvent::SwitchRole { code: 0, message: String::new() },
            Err(e) => TrtcEvent::SwitchRole { code: trtc_code(e.code).code(), message: message_of(&e) },
        }]
    }

    /// `switchRoom({roomId | strRoomId, userSig})` (0 / `""`: not given; an empty userSig is not
    /// sent): the room id is checked before whether there is a room to leave.
    pub fn switch_room(&mut self, room_id: u64, str_room_id: &str, user_sig: &Secret) -> Next<SwitchRoom> {
        let refuse =
            |code: ErrorCode, message: String| Next::Done(vec![TrtcEvent::SwitchRoom { code: code.code(), message }]);
        let room = match room_of(room_id, str_room_id) {
            Ok(room) => room,
            Err(why) => return refuse(ErrorCode::TrtcRoomIdInvalid, why),
        };
        if self.room.is_none() {
            return refuse(ErrorCode::TrtcNotInRoom, "switchRoom needs a room".into());
        }
        self.pending = Some(Pending::SwitchRoom { room: room.clone() });
        let token = (!user_sig.expose().is_empty()).then(|| user_sig.clone());
        Next::Send(SwitchRoom { id: 0, room, token })
    }

    /// The `switchRoom` answer. Success: every old member leaves (reason 0), `onSwitchRoom(0,
    /// "")`, every new member enters. Failure: `onSwitchRoom(code, reason)`, nothing else.
    pub fn on_switch_room_answer(&mut self, answer: Result<Vec<String>, Error>) -> Vec<TrtcEvent> {
        let Some(Pending::SwitchRoom { room }) = self.pending.take_if(|p| matches!(p, Pending::SwitchRoom { .. }))
        else {
            return Vec::new();
        };
        let members = match answer {
            Ok(members) => members,
            Err(e) => return vec![TrtcEvent::SwitchRoom { code: trtc_code(e.code).code(), message: message_of(&e) }],
        };
        let old = std::mem::replace(&mut self.members, unique(members.clone()));
        let left = old.into_iter().map(|user_id| TrtcEvent::RemoteUserLeaveRoom { user_id, reason: LeaveReason::Left });
        let mut events: Vec<TrtcEvent> = left.collect();
        self.room = Some(room);
        self.last_seq.clear();
        events.push(TrtcEvent::SwitchRoom { code: 0, message: String::new() });
        events.extend(members.into_iter().map(|user_id| TrtcEvent::RemoteUserEnterRoom { user_id }));
        events
    }

    /// `destroy()`: from now on custom messages are refused. In a room: send `exitRoom` and
    /// call [`Self::exited`] (TRTCCloud waits at most a second before logging out anyway).
    pub fn destroy(&mut self) -> Next<ExitRoom> {
        let exit = !std::mem::replace(&mut self.destroyed, true) && self.room.is_some();
        if exit {
            Next::Send(ExitRoom { id: 0 })
        } else {
            Next::Done(Vec::new())
        }
    }

    /// A room event from the server. A remote leave also forgets the sender's sequences, so
    /// a user who comes back (counting from 1 again) shows no gap. The server's own exit
    /// reports `onError(code, message)` first when it has a non-zero code.
    pub fn on_room_event(&mut self, event: RoomEvent<'_>) -> Vec<TrtcEvent> {
        match event {
            RoomEvent::RemoteEnter { user_id } => {
                if !self.members.iter().any(|u| *u == user_id) {
                    self.members.push(user_id.to_string());
                }
                vec![TrtcEvent::RemoteUserEnterRoom { user_id: user_id.into_owned() }]
            }
            RoomEvent::RemoteLeave { user_id, reason } => {
                self.members.retain(|u| *u != user_id);
                self.last_seq.remove(&*user_id);
                vec![TrtcEvent::RemoteUserLeaveRoom { user_id: user_id.into_owned(), reason }]
            }
            RoomEvent::Exit { reason, code, message } => {
                self.out_of_room();
                let mut events = Vec::with_capacity(2);
                if let Some(code) = code.filter(|c| *c != 0) {
                    events.push(TrtcEvent::Error { code, message: message.into_owned() });
                }
                events.push(TrtcEvent::ExitRoom { reason });
                events
            }
        }
    }

    /// A custom message. A reliable one whose `seq` skips ahead of the last one from the same
    /// sender and cmdId reports `onMissCustomCmdMsg(…, 0, missed)` first; unreliable ones
    /// never do (they may be dropped), but still move the last `seq`.
    pub fn on_cmd(&mut self, header: &CmdHeader<'_>, data: Payload) -> Vec<TrtcEvent> {
        let (user_id, cmd_id, seq) = (header.user_id.to_string(), header.cmd_id, header.seq);
        let last = self.last_seq.entry(user_id.clone()).or_default().insert(cmd_id, seq);
        let mut events = Vec::with_capacity(2);
        if let Some(last) = last.filter(|last| header.reliable && seq > last.saturating_add(1)) {
            let (user_id, missed) = (user_id.clone(), seq - last - 1);
            events.push(TrtcEvent::MissCustomCmdMsg { user_id, cmd_id, err_code: 0, missed });
        }
        events.push(TrtcEvent::RecvCustomCmdMsg { user_id, cmd_id, seq, data });
        events
    }

    /// A link state change. DISCONNECTED: `onConnectionLost` then `onTryToReconnect` (once per
    /// outage); CONNECTED after that: `onConnectionRecovery`; FAILED in a room: out of it,
    /// `onError(ERR_ROOM_ENTER_FAIL, …)` then `onExitRoom(1)` — or, when the userSig expired
    /// unrenewed, `onError(ERR_SERVER_SSO_SIG_EXPIRED, …)` then `onExitRoom(0)`.
    pub fn on_link(&mut self, event: &LinkStateEvent) -> Vec<TrtcEvent> {
        match event.current_state {
            LinkState::Disconnected if !self.lost => {
                self.lost = true;
                vec![TrtcEvent::ConnectionLost, TrtcEvent::TryToReconnect]
            }
            LinkState::Connected if self.lost => {
                self.lost = false;
                vec![TrtcEvent::ConnectionRecovery]
            }
            LinkState::Failed if self.room.is_some() && event.reason_code == LinkReason::TokenExpired => {
                // Not a removal: the others see onRemoteUserLeaveRoom(you, 0), you see why first.
                self.out_of_room();
                let message = "the userSig expired and was not renewed (renewUserSig): the session ended".into();
                let code = ErrorCode::TrtcUserSigExpired.code();
                vec![TrtcEvent::Error { code, message }, TrtcEvent::ExitRoom { reason: ExitReason::Exited }]
            }
            LinkState::Failed if self.room.is_some() => {
                self.out_of_room();
                let code = serde_json::to_value(event.reason_code).ok();
                let code = code.as_ref().and_then(|c| c.as_str()).unwrap_or_default();
                let message = format!("the connection to the server ended: {} ({code})", event.reason);
                vec![
                    TrtcEvent::Error { code: ErrorCode::TrtcRoomEnterFail.code(), message },
                    TrtcEvent::ExitRoom { reason: ExitReason::Removed },
                ]
            }
            _ => Vec::new(),
        }
    }

    /// After a reconnect that could not resume, the client entered its room again: `Ok` with
    /// the members there now, or why it could not. Success reports who left while away
    /// (reason 0, in the order they were known) and then who came; failure is out of the room,
    /// `onError(code, reason)` then `onExitRoom(1)`.
    pub fn on_restored(&mut self, answer: Result<Vec<String>, Error>) -> Vec<TrtcEvent> {
        let members = match answer {
            Ok(members) => unique(members),
            Err(e) => {
                self.out_of_room();
                let code = trtc_code(e.code).code();
                return vec![
                    TrtcEvent::Error { code, message: e.reason },
                    TrtcEvent::ExitRoom { reason: ExitReason::Removed },
                ];
            }
        };
        let old = std::mem::replace(&mut self.members, members);
        let (was, is): (HashSet<&String>, HashSet<&String>) = (old.iter().collect(), self.members.iter().collect());
        let left = old.iter().filter(|u| !is.contains(u));
        let mut events: Vec<TrtcEvent> =
            left.map(|u| TrtcEvent::RemoteUserLeaveRoom { user_id: u.clone(), reason: LeaveReason::Left }).collect();
        let came = self.members.iter().filter(|u| !was.contains(u));
        events.extend(came.map(|u| TrtcEvent::RemoteUserEnterRoom { user_id: u.clone() }));
        events
    }

    /// `sendCustomCmdMsg(cmdId, data, reliable, ordered)`: the frame to send, or why not.
    /// Checks in the JavaScript's order; a message past the count limit but refused by the
    /// byte limit still used its count token. The `seq` counts only once the frame is sent:
    /// call [`Self::cmd_sent`] then, so refused or unsent messages leave no gap.
    pub fn check_send_cmd(
        &mut self,
        cmd_id: u32,
        data: &Payload,
        reliable: bool,
        ordered: bool,
        now: Instant,
    ) -> Result<CustomCmd, CmdRefusal> {
        if self.destroyed || self.room.is_none() {
            return Err(CmdRefusal::NotInRoom);
        }
        if !CUSTOM_CMD_IDS.contains(&cmd_id) {
            return Err(CmdRefusal::CmdId(cmd_id));
        }
        if reliable != ordered {
            return Err(CmdRefusal::ReliableNotOrdered);
        }
        let size = data.as_bytes().len();
        if size > MAX_CUSTOM_CMD_BYTES {
            return Err(CmdRefusal::TooLarge(size));
        }
        if !self.messages.take(1, now) {
            return Err(CmdRefusal::TooFrequent);
        }
        if !self.bytes.take(size, now) {
            return Err(CmdRefusal::TooManyBytes);
        }
        let message_type = if matches!(data, Payload::Text(_)) { MessageType::String } else { MessageType::Binary };
        let seq = self.sent_seq.get(&cmd_id).copied().unwrap_or(0) + 1;
        Ok(CustomCmd { cmd_id, seq, reliable, ordered, message_type })
    }

    /// The frame from [`Self::check_send_cmd`] was sent: its `seq` is used.
    pub fn cmd_sent(&mut self, cmd: &CustomCmd) {
        self.sent_seq.insert(cmd.cmd_id, cmd.seq);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::client::{LinkOperation, LinkReason};
    use TrtcEvent as E;

    const EXIT_0: E = E::ExitRoom { reason: ExitReason::Exited };
    const EXIT_1: E = E::ExitRoom { reason: ExitReason::Removed };

    fn params(room_id: u64, str_room_id: &str) -> EnterParams {
        let (user_id, user_sig, str_room_id) = ("me".into(), Secret::new("sig"), str_room_id.into());
        EnterParams { sdk_app_id: 1400000001, user_id, user_sig, room_id, str_room_id, role: Role::Anchor }
    }

    fn list(users: &[&str]) -> Vec<String> {
        users.iter().map(|u| u.to_string()).collect()
    }

    fn err(code: i32, message: &str) -> E {
        E::Error { code, message: message.into() }
    }

    fn enter(user: &str) -> E {
        E::RemoteUserEnterRoom { user_id: user.into() }
    }

    fn left(user: &str) -> E {
        E::RemoteUserLeaveRoom { user_id: user.into(), reason: LeaveReason::Left }
    }

    /// A client in room 1 with `members`, and the time it entered.
    fn entered(members: &[&str]) -> (RoomClient, Instant) {
        let (mut c, t) = (RoomClient::default(), Instant::now());
        c.enter_room(&params(1, ""), Scene::VideoCall, t);
        assert_eq!(c.on_enter_answer(Ok(list(members)), t)[0], E::EnterRoom { result: 1 });
        (c, t)
    }

    fn members(c: &RoomClient) -> Vec<&str> {
        c.members().collect()
    }

    fn cmd(c: &mut RoomClient, user: &str, cmd_id: u32, seq: u64, reliable: bool) -> Vec<E> {
        c.on_cmd(&CmdHeader { user_id: user.into(), cmd_id, seq, reliable }, Payload::Text("x".into()))
    }

    fn link(c: &mut RoomClient, state: LinkState) -> Vec<E> {
        let reason = LinkReason::KeepAliveTimeout;
        c.on_link(&LinkStateEvent::new(state, LinkState::Connected, LinkOperation::ServerTimeout, reason))
    }

    /// How many of `n` custom messages of `bytes` bytes at `at` are accepted.
    fn sends(c: &mut RoomClient, n: usize, bytes: usize, at: Instant) -> usize {
        let data = Payload::Binary(vec![0; bytes].into());
        (0..n).filter(|_| c.check_send_cmd(1, &data, true, true, at).is_ok()).count()
    }

    /// Bad entry parameters end with onError(code, why) then onEnterRoom(code), checked in the JS order.
    #[test]
    fn bad_entry_parameters_report_on_error_then_on_enter_room() {
        let no_app = EnterParams { sdk_app_id: 0, room_id: 0, ..params(1, "") };
        let no_user = EnterParams { user_id: String::new(), room_id: 0, ..params(1, "") };
        let (too_big, t) = (params(MAX_ROOM_ID + 1, ""), Instant::now());
        let cases = [(no_app, -3317), (no_user, -3319), (params(0, ""), -3318), (too_big, -3318)];
        for (p, code) in cases {
            let Next::Done(events) = RoomClient::default().enter_room(&p, Scene::Live, t) else { panic!("{p:?}") };
            assert!(matches!(&events[0], E::Error { code: c, .. } if *c == code), "{p:?}");
            assert_eq!(events[1..], [E::EnterRoom { result: code.into() }]);
        }
        // Both given: roomId wins, as in TRTC.
        let Next::Send(plan) = RoomClient::default().enter_room(&params(7, "x"), Scene::Live, t) else { panic!() };
        assert_eq!(plan.frame.room, RoomId::Num(7));
    }

    /// Entering reports the ms since the call (at least 1), then each member already there, in order.
    #[test]
    fn entering_reports_the_time_taken_then_the_members() {
        let (mut c, t) = (RoomClient::default(), Instant::now());
        let Next::Send(plan) = c.enter_room(&params(0, "r"), Scene::Live, t) else { panic!() };
        let room = RoomId::Str("r".into());
        assert_eq!((plan.exit_first, plan.login.app_id.as_str(), &plan.frame.room), (false, "1400000001", &room));
        let events = c.on_enter_answer(Ok(list(&["b", "a"])), t + Duration::from_millis(25));
        assert_eq!(events, [E::EnterRoom { result: 25 }, enter("b"), enter("a")]);
        assert_eq!((c.room(), members(&c)), (Some(&room), vec!["b", "a"]));
    }

    /// exitRoom ends with onExitRoom(0), in a room or not; entering while in a room exits it first.
    #[test]
    fn exiting_ends_with_exit_room_0_and_entering_exits_first() {
        assert_eq!(RoomClient::default().exit_room(), Next::Done(vec![EXIT_0]));
        assert_eq!(entered(&[]).0.exit_room(), Next::Send(ExitRoom { id: 0 }));
        let (mut c, t) = entered(&["w"]);
        let Next::Send(plan) = c.enter_room(&params(2, ""), Scene::VideoCall, t) else { panic!() };
        assert!(plan.exit_first);
        assert_eq!((c.exited(), c.room(), members(&c).len()), (vec![EXIT_0], None, 0));
        assert_eq!(c.on_enter_answer(Ok(vec![]), t), [E::EnterRoom { result: 1 }]);
        assert_eq!(c.room(), Some(&RoomId::Num(2)));
    }

    /// Failed logins and entries report TRTC codes; the message is the reason (or the error's text).
    #[test]
    fn failures_map_to_trtc_codes() {
        use ErrorCode::*;
        let rtm = [InvalidAppId, InvalidUserId, InvalidToken, TokenExpired, InconsistentAppid, LoginNotAuthorized];
        let trtc = [TrtcSdkAppIdInvalid, TrtcUserIdInvalid, TrtcUserSigInvalid, TrtcUserSigInvalid, TrtcUserSigInvalid];
        assert_eq!(rtm.map(trtc_code)[..5], trtc);
        assert_eq!(
            [LoginNotAuthorized, LoginTimeout, NotConnected, TrtcRoomFull].map(trtc_code),
            [TrtcUserSigInvalid, TrtcEnterRoomTimeout, TrtcRoomEnterFail, TrtcRoomFull]
        );
        let (mut c, t) = (RoomClient::default(), Instant::now());
        c.enter_room(&params(5, ""), Scene::VideoCall, t);
        let events = c.on_enter_answer(Err(Error::new(TrtcRoomFull, "full")), t);
        assert_eq!(events, [err(-102052, "full"), E::EnterRoom { result: -102052 }]);
        c.enter_room(&params(5, ""), Scene::VideoCall, t);
        let events = c.on_enter_answer(Err(Error::new(LoginTimeout, "")), t);
        assert_eq!((&events[0], c.room()), (&err(-3308, "RTM_ERROR_LOGIN_TIMEOUT: "), None));
    }

    /// Room events keep the member list; the server's exit is onError(code, message) if coded, then onExitRoom.
    #[test]
    fn room_events_keep_the_member_list_and_report_exits() {
        let (mut c, _) = entered(&["a"]);
        assert_eq!(c.on_room_event(RoomEvent::RemoteEnter { user_id: "b".into() }), [enter("b")]);
        let gone = c.on_room_event(RoomEvent::RemoteLeave { user_id: "a".into(), reason: LeaveReason::TimedOut });
        let timed_out = E::RemoteUserLeaveRoom { user_id: "a".into(), reason: LeaveReason::TimedOut };
        assert_eq!((gone, members(&c)), (vec![timed_out], vec!["b"]));
        let replaced = RoomEvent::Exit { reason: ExitReason::Removed, code: Some(-3340), message: "elsewhere".into() };
        assert_eq!(c.on_room_event(replaced), [err(-3340, "elsewhere"), EXIT_1]);
        assert_eq!((c.room(), members(&c).len()), (None, 0));
        let dismissed = RoomEvent::Exit { reason: ExitReason::Dismissed, code: Some(0), message: "gone".into() };
        assert_eq!(entered(&[]).0.on_room_event(dismissed), [E::ExitRoom { reason: ExitReason::Dismissed }]);
    }

    /// Lost: onConnectionLost + onTryToReconnect once; back: onConnectionRecovery; FAILED in a room: onExitRoom(1).
    #[test]
    fn link_loss_is_reported_once_then_recovery() {
        let (mut c, _) = entered(&[]);
        assert_eq!(link(&mut c, LinkState::Connected), []);
        assert_eq!(link(&mut c, LinkState::Disconnected), [E::ConnectionLost, E::TryToReconnect]);
        assert_eq!((link(&mut c, LinkState::Disconnected), c.is_lost()), (vec![], true));
        assert_eq!(link(&mut c, LinkState::Connected), [E::ConnectionRecovery]);
        assert_eq!(E::TryToReconnect.callback(), "onTryToReconnect");
        let why = "the connection to the server ended: Keep alive timeout (KEEP_ALIVE_TIMEOUT)";
        assert_eq!(link(&mut c, LinkState::Failed), [err(-3301, why), EXIT_1]);
        assert_eq!(link(&mut c, LinkState::Failed), []);
        // An expired userSig is no removal: onError(-70001, …) then onExitRoom(0).
        let (mut c, _) = entered(&[]);
        let expired = LinkStateEvent::new(
            LinkState::Failed,
            LinkState::Connected,
            LinkOperation::ServerReject,
            LinkReason::TokenExpired,
        );
        let events = c.on_link(&expired);
        assert!(matches!(&events[..], [E::Error { code: -70001, .. }, EXIT_0]), "{events:?}");
    }

    /// A restore reports who left while away (reason 0), then who came; a failed one is onError + onExitRoom(1).
    #[test]
    fn a_restore_reports_who_left_and_who_came_while_away() {
        let (mut c, _) = entered(&["c", "a", "b"]);
        let events = c.on_restored(Ok(list(&["b", "d", "e"])));
        assert_eq!(events, [left("c"), left("a"), enter("d"), enter("e")]);
        assert_eq!(members(&c), ["b", "d", "e"]);
        assert_eq!(c.on_restored(Ok(list(&["b", "d", "e"]))), []);
        let events = c.on_restored(Err(Error::new(ErrorCode::InvalidToken, "expired")));
        assert_eq!((events, c.room()), (vec![err(-3320, "expired"), EXIT_1], None));
    }

    /// Gaps are reported for reliable sequences only; a remote leave, an entry or a switch forgets sequences.
    #[test]
    fn gaps_are_reported_for_reliable_sequences_only() {
        let (mut c, t) = entered(&["a"]);
        assert_eq!(cmd(&mut c, "a", 3, 5, true).len(), 1, "the first message shows no gap");
        let events = cmd(&mut c, "a", 3, 9, true);
        assert_eq!(events[0], E::MissCustomCmdMsg { user_id: "a".into(), cmd_id: 3, err_code: 0, missed: 3 });
        let data = Payload::Text("x".into());
        assert_eq!(events[1], E::RecvCustomCmdMsg { user_id: "a".into(), cmd_id: 3, seq: 9, data });
        assert_eq!(cmd(&mut c, "a", 4, 1, true).len(), 1, "another cmdId counts apart");
        assert_eq!(cmd(&mut c, "a", 3, 20, false).len(), 1, "unreliable");
        assert_eq!(cmd(&mut c, "a", 3, 21, true).len(), 1, "the unreliable one moved the last seq");
        cmd(&mut c, "a", 1, 7, true);
        c.on_room_event(RoomEvent::RemoteLeave { user_id: "a".into(), reason: LeaveReason::Left });
        assert_eq!(cmd(&mut c, "a", 1, 9, true).len(), 1);
        c.enter_room(&params(2, ""), Scene::VideoCall, t);
        c.on_enter_answer(Ok(vec![]), t);
        assert_eq!(cmd(&mut c, "a", 1, 11, true).len(), 1);
        let Next::Send(frame) = c.switch_room(3, "", &Secret::new("")) else { panic!() };
        assert_eq!((frame.token, c.on_switch_room_answer(Ok(vec![])).len()), (None, 1), "no userSig, no token");
        assert_eq!(cmd(&mut c, "a", 1, 13, true).len(), 1);
    }

    /// Bad custom messages are refused: no room, cmdId outside 1..=10, reliable ≠ ordered, over 1 KB.
    #[test]
    fn bad_custom_messages_are_refused() {
        let (t, ok) = (Instant::now(), Payload::Binary(vec![0; MAX_CUSTOM_CMD_BYTES].into()));
        assert_eq!(RoomClient::default().check_send_cmd(1, &ok, true, true, t), Err(CmdRefusal::NotInRoom));
        let (mut c, _) = entered(&[]);
        assert_eq!(c.check_send_cmd(0, &ok, true, true, t), Err(CmdRefusal::CmdId(0)));
        assert_eq!(c.check_send_cmd(11, &ok, true, true, t), Err(CmdRefusal::CmdId(11)));
        assert_eq!(c.check_send_cmd(1, &ok, true, false, t), Err(CmdRefusal::ReliableNotOrdered));
        let big = Payload::Text("é".repeat(513));
        assert_eq!(c.check_send_cmd(1, &big, false, false, t), Err(CmdRefusal::TooLarge(1026)));
        assert_eq!(c.check_send_cmd(10, &ok, false, false, t).map(|f| f.message_type), Ok(MessageType::Binary));
    }

    /// Custom messages: at most 30 and 8 KB per second (burst, then per second; fake clock), as in the JS.
    #[test]
    fn custom_messages_are_limited_to_30_and_8_kb_per_second() {
        let ((mut c, _), t) = (entered(&[]), Instant::now());
        assert_eq!(sends(&mut c, 40, 0, t), 30);
        assert_eq!(sends(&mut c, 40, 0, t + Duration::from_millis(100)), 3);
        assert_eq!(sends(&mut c, 40, 0, t + Duration::from_secs(10)), 30, "the burst never exceeds 30");
        let refused = c.check_send_cmd(1, &Payload::Text(String::new()), true, true, t + Duration::from_secs(10));
        assert_eq!(refused, Err(CmdRefusal::TooFrequent));
        let mut c = entered(&[]).0;
        assert_eq!(sends(&mut c, 10, 1024, t), 8);
        assert_eq!(sends(&mut c, 40, 0, t), 20, "the 2 refused for bytes used count tokens");
        assert_eq!(sends(&mut c, 5, 1024, t + Duration::from_millis(500)), 4);
        let later = t + Duration::from_millis(600);
        assert_eq!((sends(&mut c, 1, 1024, later), sends(&mut c, 1, 800, later)), (0, 1), "all or nothing");
    }

    /// The seq counts per cmdId from 1 and moves only for messages sent, so refusals leave no gap.
    #[test]
    fn seq_counts_per_cmd_id_and_only_for_sent_messages() {
        let ((mut c, _), t, p) = (entered(&[]), Instant::now(), Payload::Text("hi".into()));
        let first = c.check_send_cmd(2, &p, true, true, t).unwrap();
        assert_eq!((first.seq, c.check_send_cmd(2, &p, true, true, t).unwrap().seq), (1, 1), "not sent yet");
        c.cmd_sent(&first);
        assert_eq!(
            c.check_send_cmd(2, &p, true, true, t).map(|f| (f.seq, f.message_type)),
            Ok((2, MessageType::String))
        );
        assert_eq!(c.check_send_cmd(3, &p, true, true, t).map(|f| f.seq), Ok(1));
    }

    /// switchRole: outside a room ERR_NOT_IN_ROOM; else onSwitchRole(0, "") or the failure's TRTC code.
    #[test]
    fn switch_role_reports_its_outcome() {
        let refused = vec![E::SwitchRole { code: -3341, message: "switchRole needs a room".into() }];
        assert_eq!(RoomClient::default().switch_role(Role::Audience), Next::Done(refused));
        let (mut c, _) = entered(&[]);
        assert_eq!(c.switch_role(Role::Audience), Next::Send(SwitchRole { id: 0, role: Role::Audience }));
        assert_eq!(c.on_switch_role_answer(Ok(())), [E::SwitchRole { code: 0, message: String::new() }]);
        c.switch_role(Role::Anchor);
        let events = c.on_switch_role_answer(Err(Error::new(ErrorCode::NotConnected, "dropped")));
        assert_eq!(events, [E::SwitchRole { code: -3301, message: "dropped".into() }]);
    }

    /// switchRoom: old members leave (0), onSwitchRoom(0, ""), new members enter; a failure changes nothing.
    #[test]
    fn switch_room_reports_leaves_then_the_switch_then_enters() {
        let refused =
            |room_id, str_room_id| match RoomClient::default().switch_room(room_id, str_room_id, &Secret::new("")) {
                Next::Done(events) => events,
                Next::Send(_) => panic!(),
            };
        let why = "give roomId or strRoomId";
        assert_eq!(refused(0, ""), [E::SwitchRoom { code: -3318, message: why.into() }]);
        let not_in = E::SwitchRoom { code: -3341, message: "switchRoom needs a room".into() };
        assert_eq!(refused(1, ""), [not_in]);
        let (mut c, _) = entered(&["a", "b"]);
        let Next::Send(frame) = c.switch_room(0, "next", &Secret::new("s")) else { panic!() };
        assert_eq!(frame.token, Some(Secret::new("s")));
        let ok = E::SwitchRoom { code: 0, message: String::new() };
        assert_eq!(c.on_switch_room_answer(Ok(list(&["c"]))), [left("a"), left("b"), ok, enter("c")]);
        c.switch_room(7, "", &Secret::new("s"));
        let events = c.on_switch_room_answer(Err(Error::new(ErrorCode::TrtcRoomFull, "full")));
        assert_eq!(events, [E::SwitchRoom { code: -102052, message: "full".into() }]);
        assert_eq!((c.room(), members(&c)), (Some(&RoomId::Str("next".into())), vec!["c"]));
    }

    /// destroy exits a room (once) and refuses custom messages from then on; stray answers are ignored.
    #[test]
    fn destroy_exits_once_and_stray_answers_are_ignored() {
        let (mut c, t) = entered(&[]);
        assert_eq!(c.destroy(), Next::Send(ExitRoom { id: 0 }));
        assert_eq!(c.check_send_cmd(1, &Payload::Text("x".into()), true, true, t), Err(CmdRefusal::NotInRoom));
        assert_eq!((c.destroy(), RoomClient::default().destroy()), (Next::Done(vec![]), Next::Done(vec![])));
        assert_eq!(c.on_enter_answer(Ok(list(&["a"])), t), []);
        assert_eq!((c.on_switch_role_answer(Ok(())), c.on_switch_room_answer(Ok(vec![]))), (vec![], vec![]));
    }
}
