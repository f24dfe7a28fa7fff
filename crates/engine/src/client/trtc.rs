//! The TRTC room client, running: [`Trtc`] drives a [`RoomClient`] over the [`Client`] of the
//! current identity, so a Rust program (and `TRTCCloud` in Node, through the addon) enters and
//! leaves rooms with TRTC's calls and callbacks and no JavaScript.
//!
//! - **One client per identity.** An entry logs in as its `sdkAppId` / `userId` / `userSig`
//!   (a TRTC session, [`SessionKind::Trtc`]); the next entry reuses that client while the
//!   identity is the same and the link CONNECTED, and otherwise logs the old one out and a new
//!   one in.
//! - **One operation at a time.** Calls return at once and queue; a task per handle runs them
//!   in call order, sends what the room client asks for through the client's typed operations
//!   (`enter_room`, `exit_room`, `switch_role`, `switch_room`) and reports each answer back.
//!   Custom messages are not queued: [`Trtc::send_custom_cmd`] checks and sends at once.
//! - **Events in order.** Each client reports to a sink placed in front of it that routes what
//!   the room machinery consumes — the answers to its requests, room events, custom messages,
//!   room restores, token events (userSig expiry), link states — to the task, in the order the
//!   client reported them. Nothing of that reaches the RTM-level sink given to [`Trtc::new`],
//!   except link states, which are also passed on; everything else goes only there.
//! - **Out through [`TrtcSink`]**, as [`TrtcEvent`]s: the TRTC callbacks with their arguments.
//!
//! A handle is *idle* ([`Trtc::is_idle`]) when no call is queued or running and no client is
//! logged in (or trying to be): a host that keeps a process alive for it may let go then, and
//! [`TrtcSink::idle`] says when that may have become true.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::room::{CmdRefusal, EnterParams, Login, Next, RoomClient};
use super::{Client, ClientConfig, ClientEvent, CustomMessage, EventKind, EventSink, LinkState, Payload, Route};
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::{CmdHeader, CustomCmd, ExitReason, LeaveReason, MessageType, Role, Scene, SessionKind};
use crate::secret::Secret;

/// How long `destroy` waits for the room exit to be answered before logging out anyway.
const DESTROY_PATIENCE: Duration = Duration::from_secs(1);

/// `onWarning(WARNING_USER_SIG_WILL_EXPIRE, …)`: the userSig of the room session expires in 30
/// s (the server's warning lead); `renewUserSig` with a new one keeps the session. A Piazza
/// code (TRTC has no such warning), listed in docs/ERRORS.md.
pub const WARNING_USER_SIG_WILL_EXPIRE: i32 = 9001;

/// A TRTC callback with its TRTC arguments; the variant is the callback (see [`Self::callback`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrtcEvent {
    /// `onEnterRoom(result)`: milliseconds the entry took (≥ 1), or a negative TRTC code.
    EnterRoom { result: i64 },
    /// `onExitRoom(reason)`.
    ExitRoom { reason: ExitReason },
    /// `onRemoteUserEnterRoom(userId)`.
    RemoteUserEnterRoom { user_id: String },
    /// `onRemoteUserLeaveRoom(userId, reason)`.
    RemoteUserLeaveRoom { user_id: String, reason: LeaveReason },
    /// `onError(code, message)`: a TRTC code (or the server's code of a room exit).
    Error { code: i32, message: String },
    /// `onWarning(code, message)`: [`WARNING_USER_SIG_WILL_EXPIRE`] only (Piazza's).
    Warning { code: i32, message: String },
    /// `onSwitchRole(code, message)`: 0 and `""` on success.
    SwitchRole { code: i32, message: String },
    /// `onSwitchRoom(code, message)`: 0 and `""` on success.
    SwitchRoom { code: i32, message: String },
    /// `onConnectionLost()`: the link dropped.
    ConnectionLost,
    /// `onTryToReconnect()`: the client is reconnecting.
    TryToReconnect,
    /// `onConnectionRecovery()`: the link is back.
    ConnectionRecovery,
    /// `onRecvCustomCmdMsg(userId, cmdId, seq, data)`.
    RecvCustomCmdMsg { user_id: String, cmd_id: u32, seq: u64, data: Payload },
    /// `onMissCustomCmdMsg(userId, cmdId, errCode, missed)`.
    MissCustomCmdMsg { user_id: String, cmd_id: u32, err_code: i32, missed: u64 },
}

impl TrtcEvent {
    /// The TRTC callback's name (`onEnterRoom`, …), which is also the JavaScript event name.
    pub fn callback(&self) -> &'static str {
        match self {
            TrtcEvent::EnterRoom { .. } => "onEnterRoom",
            TrtcEvent::ExitRoom { .. } => "onExitRoom",
            TrtcEvent::RemoteUserEnterRoom { .. } => "onRemoteUserEnterRoom",
            TrtcEvent::RemoteUserLeaveRoom { .. } => "onRemoteUserLeaveRoom",
            TrtcEvent::Error { .. } => "onError",
            TrtcEvent::Warning { .. } => "onWarning",
            TrtcEvent::SwitchRole { .. } => "onSwitchRole",
            TrtcEvent::SwitchRoom { .. } => "onSwitchRoom",
            TrtcEvent::ConnectionLost => "onConnectionLost",
            TrtcEvent::TryToReconnect => "onTryToReconnect",
            TrtcEvent::ConnectionRecovery => "onConnectionRecovery",
            TrtcEvent::RecvCustomCmdMsg { .. } => "onRecvCustomCmdMsg",
            TrtcEvent::MissCustomCmdMsg { .. } => "onMissCustomCmdMsg",
        }
    }
}

/// Where a [`Trtc`]'s events go, in the order they happened.
pub trait TrtcSink: Send + Sync + 'static {
    fn emit(&self, event: TrtcEvent);

    /// The handle may have become idle ([`Trtc::is_idle`]): an operation ended, or the session
    /// did. Called after the events that led there.
    fn idle(&self) {}

    /// As [`EventSink::congestion`]: while too many events wait, a future that resolves once
    /// there is room again; the client stops reading from the server meanwhile.
    fn congestion(&self) -> Option<Pin<Box<dyn Future<Output = ()> + Send>>> {
        None
    }
}

/// A [`TrtcSink`] that forwards events into an unbounded tokio channel.
pub struct TrtcChannelSink(mpsc::UnboundedSender<TrtcEvent>);

impl TrtcChannelSink {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<TrtcEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (TrtcChannelSink(tx), rx)
    }
}

impl TrtcSink for TrtcChannelSink {
    fn emit(&self, event: TrtcEvent) {
        let _ = self.0.send(event);
    }
}

/// Why [`Trtc::send_custom_cmd`] sent nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdError {
    /// TRTC's rules refused it (not in a room, cmdId, size, rate…).
    Refused(CmdRefusal),
    /// The client could not send it (not logged in, …).
    Failed(Error),
}

/// A call, queued for the task.
enum Call {
    Enter {
        params: EnterParams,
        scene: Scene,
        called_at: Instant,
    },
    Exit,
    SwitchRole(Role),
    SwitchRoom {
        room_id: u64,
        str_room_id: String,
        user_sig: Secret,
    },
    Report(Vec<TrtcEvent>),
    RenewUserSig(Secret),
    Destroy,
    /// The handle was dropped: log out and stop.
    Close,
}

enum Input {
    Call(Call),
    /// An event of the client with this serial number.
    Event(u64, ClientEvent),
}

/// The room state and the client to send custom messages through: custom messages are checked
/// and sent on the caller's thread, everything else on the task.
struct Local {
    room: RoomClient,
    client: Option<Client>,
}

struct Shared {
    local: Mutex<Local>,
    sink: Arc<dyn TrtcSink>,
    /// Calls queued or running.
    queued: AtomicUsize,
    /// A client is logged in or logging in, as far as the task has seen: set before a login,
    /// cleared (after the events that came with it) when the session ends.
    active: AtomicBool,
    destroyed: AtomicBool,
}

impl Shared {
    fn is_idle(&self) -> bool {
        // `queued` first: only callers raise it, and `active` is raised only while a call runs.
        self.queued.load(Ordering::SeqCst) == 0 && !self.active.load(Ordering::SeqCst)
    }
}

/// A TRTC room client (`TRTCCloud`). Calls need a tokio runtime only in [`Trtc::new`]. Dropping
/// the handle logs its client out.
pub struct Trtc {
    shared: Arc<Shared>,
    calls: mpsc::UnboundedSender<Input>,
}

impl Trtc {
    /// A handle whose clients are configured as `template` (its `app_id`, `user_id` and `kind`
    /// are replaced by each entry's identity and [`SessionKind::Trtc`]; `presence_timeout` 0
    /// means the server's `rooms.dropTimeoutSeconds`). `rest` receives the client events the
    /// rooms do not consume. Checks the configuration; spawns the task, so it must run inside a
    /// tokio runtime.
    pub fn new(template: ClientConfig, sink: Arc<dyn TrtcSink>, rest: Option<Arc<dyn EventSink>>) -> Result<Trtc> {
        let mut template = template;
        (template.app_id, template.user_id, template.kind) = ("1".into(), "check".into(), SessionKind::Trtc);
        Client::new(template.clone(), Arc::new(Discard))?;
        let shared = Arc::new(Shared {
            local: Mutex::new(Local { room: RoomClient::default(), client: None }),
            sink,
            queued: AtomicUsize::new(0),
            active: AtomicBool::new(false),
            destroyed: AtomicBool::new(false),
        });
        let (calls, inbox) = mpsc::unbounded_channel();
        let driver = Driver {
            shared: shared.clone(),
            template,
            rest,
            inbox,
            events: calls.downgrade(),
            later: VecDeque::new(),
            session: None,
            serial: 0,
            tag: 0,
        };
        tokio::spawn(driver.run());
        Ok(Trtc { shared, calls })
    }

    fn queue(&self, call: Call) -> Result<()> {
        if self.shared.destroyed.load(Ordering::SeqCst) {
            return Err(Error::invalid("this TRTC handle was destroyed"));
        }
        self.shared.queued.fetch_add(1, Ordering::SeqCst);
        if self.calls.send(Input::Call(call)).is_err() {
            self.shared.queued.fetch_sub(1, Ordering::SeqCst);
        }
        Ok(())
    }

    /// `enterRoom(params, scene)`: exits the current room first, if any; the outcome is
    /// `onEnterRoom` (with `onError` first on failure). The time reported counts from now.
    pub fn enter_room(&self, params: EnterParams, scene: Scene) -> Result<()> {
        self.queue(Call::Enter { params, scene, called_at: Instant::now() })
    }

    /// `exitRoom()`: ends with `onExitRoom(0)`, in a room or not.
    pub fn exit_room(&self) -> Result<()> {
        self.queue(Call::Exit)
    }

    /// `switchRole(role)`: `onSwitchRole(code, message)`.
    pub fn switch_role(&self, role: Role) -> Result<()> {
        self.queue(Call::SwitchRole(role))
    }

    /// `switchRoom({roomId | strRoomId, userSig})`, 0 / `""` meaning "not given":
    /// `onSwitchRoom(code, message)`, with the members' leaves and enters around it.
    pub fn switch_room(&self, room_id: u64, str_room_id: &str, user_sig: &str) -> Result<()> {
        let (str_room_id, user_sig) = (str_room_id.to_string(), Secret::new(user_sig));
        self.queue(Call::SwitchRoom { room_id, str_room_id, user_sig })
    }

    /// `renewUserSig(userSig)`: replaces the token of the logged-in client (the server's
    /// `renewToken`) once the calls queued before are done, so the session outlives the old
    /// userSig; a refusal is `onError(code, message)`. Without a client it does nothing.
    pub fn renew_user_sig(&self, user_sig: &str) -> Result<()> {
        self.queue(Call::RenewUserSig(Secret::new(user_sig)))
    }

    /// Reports `events` once the calls queued before are done: the outcome of a call its caller
    /// refused itself (the Node binding's checks of JavaScript types), in call order.
    pub fn report(&self, events: Vec<TrtcEvent>) -> Result<()> {
        self.queue(Call::Report(events))
    }

    /// `destroy()`: from now on calls are refused and custom messages too; once the calls
    /// queued before are done, exits the room if in one (waiting at most a second for the
    /// answer) and logs out. A second call does nothing.
    pub fn destroy(&self) {
        if self.shared.destroyed.swap(true, Ordering::SeqCst) {
            return;
        }
        self.shared.queued.fetch_add(1, Ordering::SeqCst);
        if self.calls.send(Input::Call(Call::Destroy)).is_err() {
            self.shared.queued.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// `sendCustomCmdMsg(cmdId, data, reliable, ordered)`, sent at once: the `seq` it was sent
    /// with, or why not.
    pub fn send_custom_cmd(
        &self,
        cmd_id: u32,
        data: Payload,
        reliable: bool,
        ordered: bool,
    ) -> std::result::Result<u64, CmdError> {
        if self.shared.destroyed.load(Ordering::SeqCst) {
            return Err(CmdError::Refused(CmdRefusal::NotInRoom));
        }
        let mut local = self.shared.local.lock();
        let cmd = local.room.check_send_cmd(cmd_id, &data, reliable, ordered, Instant::now());
        let cmd = cmd.map_err(CmdError::Refused)?;
        let client = local.client.as_ref().ok_or(CmdError::Refused(CmdRefusal::NotInRoom))?;
        let message = CustomMessage { cmd_id, seq: cmd.seq, reliable, ordered };
        client.send_custom_cmd(message, data).map_err(CmdError::Failed)?;
        local.room.cmd_sent(&cmd);
        Ok(cmd.seq)
    }

    /// The next custom message of `cmd_id` is sent with `seq` `last + 1`; receivers report the
    /// numbers skipped as missed (how tests make a gap).
    pub fn continue_seq(&self, cmd_id: u32, last: u64) {
        let cmd = CustomCmd { cmd_id, seq: last, reliable: true, ordered: true, message_type: MessageType::String };
        self.shared.local.lock().room.cmd_sent(&cmd);
    }

    /// Whether no call is queued or running and no client is logged in (or logging in, or
    /// reconnecting). Events reported before it became idle have all reached the sink.
    pub fn is_idle(&self) -> bool {
        self.shared.is_idle()
    }

    /// The room entered and its announced members, in the order they became known.
    pub fn room(&self) -> Option<(crate::protocol::RoomId, Vec<String>)> {
        let local = self.shared.local.lock();
        local.room.room().map(|room| (room.clone(), local.room.members().map(str::to_string).collect()))
    }
}

impl Drop for Trtc {
    fn drop(&mut self) {
        let _ = self.calls.send(Input::Call(Call::Close));
    }
}

/// A sink for the client that only checks the configuration.
struct Discard;

impl EventSink for Discard {
    fn emit(&self, _: ClientEvent) {}
}

/// The sink in front of a client: what the rooms consume goes to the task (tagged with the
/// client's serial number), the rest to the RTM-level sink.
struct Interposer {
    serial: u64,
    task: mpsc::WeakUnboundedSender<Input>,
    rest: Option<Arc<dyn EventSink>>,
    sink: Arc<dyn TrtcSink>,
}

impl EventSink for Interposer {
    fn emit(&self, event: ClientEvent) {
        let consumed = match &event {
            ClientEvent::Response { .. } | ClientEvent::Room(_) | ClientEvent::Cmd { .. } => true,
            ClientEvent::Event { kind, .. } => {
                matches!(kind, EventKind::RoomRestored | EventKind::RoomRestoreFailed | EventKind::Token)
            }
            ClientEvent::LinkState(state) => {
                if let Some(rest) = &self.rest {
                    rest.emit(ClientEvent::LinkState(state.clone()));
                }
                true
            }
            ClientEvent::Message { .. } | ClientEvent::Realtime { .. } => false,
        };
        if !consumed {
            if let Some(rest) = &self.rest {
                rest.emit(event);
            }
        } else if let Some(task) = self.task.upgrade() {
            let _ = task.send(Input::Event(self.serial, event));
        }
    }

    fn congestion(&self) -> Option<Pin<Box<dyn Future<Output = ()> + Send>>> {
        self.rest.as_ref().and_then(|rest| rest.congestion()).or_else(|| self.sink.congestion())
    }
}

/// The client of the current identity.
struct Session {
    serial: u64,
    login: Login,
    client: Client,
}

/// The members in an `enterRoom` / `switchRoom` answer (also the body of a room restore).
fn members_of(answer: &RawValue) -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        members: Vec<String>,
    }
    let answer: Answer = serde_json::from_str(answer.get())
        .map_err(|e| Error::new(ErrorCode::TrtcRoomEnterFail, format!("an unreadable room answer: {e}")))?;
    Ok(answer.members)
}

/// The error of a failed room restore (`{"code","name","reason"}`).
fn error_of(body: &RawValue) -> Error {
    #[derive(Deserialize)]
    struct Body {
        code: i32,
        #[serde(default)]
        reason: String,
    }
    match serde_json::from_str::<Body>(body.get()) {
        Ok(b) => Error::new(ErrorCode::from_code(b.code).unwrap_or(ErrorCode::TrtcRoomEnterFail), b.reason),
        Err(e) => Error::new(ErrorCode::TrtcRoomEnterFail, format!("an unreadable restore failure: {e}")),
    }
}

/// A token event: the login token's `WILL_EXPIRE` is `onWarning(WARNING_USER_SIG_WILL_EXPIRE,
/// …)` (in a room or not yet: a userSig with less than 30 s left is warned about at once);
/// anything else is nothing (its end comes as the link's FAILED, `TOKEN_EXPIRED`: see
/// [`RoomClient::on_link`]).
fn warning_of(body: &RawValue) -> Vec<TrtcEvent> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        #[serde(default)]
        event_type: String,
        #[serde(default)]
        channel_name: String,
    }
    match serde_json::from_str::<Body>(body.get()) {
        Ok(b) if b.event_type == "WILL_EXPIRE" && b.channel_name.is_empty() => vec![TrtcEvent::Warning {
            code: WARNING_USER_SIG_WILL_EXPIRE,
            message: "the userSig expires in 30 s: call renewUserSig with a new one to stay in the room".into(),
        }],
        _ => Vec::new(),
    }
}

/// The task of a handle: runs the calls one at a time and handles every client event.
struct Driver {
    shared: Arc<Shared>,
    template: ClientConfig,
    rest: Option<Arc<dyn EventSink>>,
    inbox: mpsc::UnboundedReceiver<Input>,
    /// For the interposers: weak, so only the handle keeps the inbox open.
    events: mpsc::WeakUnboundedSender<Input>,
    /// Calls that came while one was running.
    later: VecDeque<Call>,
    session: Option<Session>,
    serial: u64,
    tag: u64,
}

impl Driver {
    async fn run(mut self) {
        loop {
            let call = match self.later.pop_front() {
                Some(call) => call,
                None => match self.inbox.recv().await {
                    Some(Input::Call(call)) => call,
                    Some(Input::Event(serial, event)) => {
                        self.on_event(serial, event);
                        continue;
                    }
                    None => Call::Close,
                },
            };
            if let Call::Close = call {
                break;
            }
            self.run_call(call).await;
            self.shared.queued.fetch_sub(1, Ordering::SeqCst);
            self.settled();
        }
        if let Some(session) = self.end_session() {
            session.client.logout(Route::Ignore);
        }
    }

    fn local(&self) -> MutexGuard<'_, Local> {
        self.shared.local.lock()
    }

    fn emit(&self, events: Vec<TrtcEvent>) {
        for event in events {
            self.shared.sink.emit(event);
        }
    }

    /// Tells the sink when the handle may have become idle.
    fn settled(&self) {
        if self.shared.is_idle() {
            self.shared.sink.idle();
        }
    }

    async fn run_call(&mut self, call: Call) {
        match call {
            Call::Enter { params, scene, called_at } => self.enter(params, scene, called_at).await,
            Call::Exit => self.exit(None).await,
            Call::SwitchRole(role) => {
                let next = self.local().room.switch_role(role);
                let events = match next {
                    Next::Done(events) => events,
                    Next::Send(frame) => {
                        let answer = self.ask(|c, r| c.switch_role(r, frame.role), None).await;
                        self.local().room.on_switch_role_answer(answer.map(|_| ()))
                    }
                };
                self.emit(events);
            }
            Call::SwitchRoom { room_id, str_room_id, user_sig } => {
                let next = self.local().room.switch_room(room_id, &str_room_id, &user_sig);
                let events = match next {
                    Next::Done(events) => events,
                    Next::Send(frame) => {
                        let token = frame.token.map(|t| t.expose().to_string());
                        let answer = self.ask(|c, r| c.switch_room(r, frame.room, token), None).await;
                        self.local().room.on_switch_room_answer(answer.and_then(|a| members_of(&a)))
                    }
                };
                self.emit(events);
            }
            Call::Report(events) => self.emit(events),
            Call::RenewUserSig(user_sig) => {
                if self.session.is_none() {
                    return;
                }
                let token = user_sig.expose().to_string();
                match self.ask(|c, r| c.renew_token(r, &token, None), None).await {
                    Ok(_) => {
                        if let Some(session) = &mut self.session {
                            session.login.user_sig = user_sig;
                        }
                    }
                    Err(e) => {
                        let code = super::room::trtc_code(e.code).code();
                        self.emit(vec![TrtcEvent::Error { code, message: format!("renewUserSig: {}", e.reason) }]);
                    }
                }
            }
            Call::Destroy => {
                let next = self.local().room.destroy();
                if let Next::Send(_) = next {
                    self.exit(Some(DESTROY_PATIENCE)).await;
                }
                self.logout().await;
            }
            Call::Close => {}
        }
    }

    async fn enter(&mut self, params: EnterParams, scene: Scene, called_at: Instant) {
        let next = self.local().room.enter_room(&params, scene, called_at);
        let plan = match next {
            Next::Done(events) => return self.emit(events),
            Next::Send(plan) => plan,
        };
        if plan.exit_first {
            self.exit(None).await;
        }
        let answer = match self.connect(&plan.login).await {
            Ok(()) => {
                let frame = plan.frame;
                let answer = self.ask(|c, r| c.enter_room(r, frame.room, frame.role, frame.scene), None).await;
                answer.and_then(|a| members_of(&a))
            }
            Err(e) => Err(e),
        };
        let events = self.local().room.on_enter_answer(answer, Instant::now());
        self.emit(events);
    }

    /// Exits the room, if in one (waiting for the answer at most `patience`, whatever it is),
    /// then reports `onExitRoom(0)`.
    async fn exit(&mut self, patience: Option<Duration>) {
        let next = self.local().room.exit_room();
        if let Next::Send(_) = next {
            let _ = self.ask(|c, r| c.exit_room(r), patience).await;
        }
        let events = match next {
            Next::Done(events) => events,
            Next::Send(_) => self.local().room.exited(),
        };
        self.emit(events);
    }

    /// Logs in as `login`, unless the current client is that identity and CONNECTED; another
    /// client is logged out first.
    async fn connect(&mut self, login: &Login) -> Result<()> {
        if let Some(session) = &self.session {
            if session.login == *login && session.client.link_state() == LinkState::Connected {
                return Ok(());
            }
        }
        self.logout().await;
        self.serial += 1;
        let mut config = self.template.clone();
        (config.app_id, config.user_id) = (login.app_id.clone(), login.user_id.clone());
        let sink = Interposer {
            serial: self.serial,
            task: self.events.clone(),
            rest: self.rest.clone(),
            sink: self.shared.sink.clone(),
        };
        let client = Client::new(config, Arc::new(sink))?;
        self.session = Some(Session { serial: self.serial, login: login.clone(), client: client.clone() });
        self.local().client = Some(client);
        self.shared.active.store(true, Ordering::SeqCst);
        let token = Some(login.user_sig.expose().to_string());
        self.ask(|c, r| c.login(r, token), None).await.map(|_| ())
    }

    /// Takes the session away: its events are ignored from now on.
    fn end_session(&mut self) -> Option<Session> {
        self.local().client = None;
        self.shared.active.store(false, Ordering::SeqCst);
        self.session.take()
    }

    /// Logs the current client out, if any, and waits for it.
    async fn logout(&mut self) {
        let Some(session) = self.end_session() else { return };
        let tag = self.next_tag();
        session.client.logout(Route::Tag(tag));
        let _ = self.wait(session.serial, tag, None).await;
    }

    fn next_tag(&mut self) -> u64 {
        self.tag += 1;
        self.tag
    }

    /// Sends a request through the current client and waits for its answer (at most
    /// `patience`: then a timeout error).
    async fn ask(
        &mut self,
        send: impl FnOnce(&Client, Route) -> Result<()>,
        patience: Option<Duration>,
    ) -> Result<Box<RawValue>> {
        let Some(session) = &self.session else {
            return Err(Error::new(ErrorCode::NotLogin, "the room needs a logged-in client"));
        };
        let (serial, client) = (session.serial, session.client.clone());
        let tag = self.next_tag();
        send(&client, Route::Tag(tag))?;
        let deadline = patience.map(|p| tokio::time::Instant::now() + p);
        self.wait(serial, tag, deadline).await
    }

    /// Waits for the answer `tag` of client `serial`, handling every other event meanwhile and
    /// setting calls aside for later.
    async fn wait(&mut self, serial: u64, tag: u64, deadline: Option<tokio::time::Instant>) -> Result<Box<RawValue>> {
        loop {
            let input = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, self.inbox.recv()).await {
                    Ok(input) => input,
                    Err(_) => return Err(Error::new(ErrorCode::NotConnected, "no answer in time")),
                },
                None => self.inbox.recv().await,
            };
            match input {
                Some(Input::Event(s, ClientEvent::Response { tag: t, result })) if (s, t) == (serial, tag) => {
                    return result
                }
                Some(Input::Event(s, event)) => self.on_event(s, event),
                Some(Input::Call(call)) => self.later.push_back(call),
                None => return Err(Error::new(ErrorCode::NotConnected, "the TRTC handle was dropped")),
            }
        }
    }

    /// An event of client `serial`: room events, custom messages, restores and link states
    /// of the current client become TRTC events; anything else (answers nobody waits for,
    /// events of a client logged out) is dropped.
    fn on_event(&mut self, serial: u64, event: ClientEvent) {
        if self.session.as_ref().map(|s| s.serial) != Some(serial) {
            return;
        }
        let mut ended = false;
        let events = {
            let mut local = self.local();
            let room = &mut local.room;
            match event {
                ClientEvent::Room(event) => room.on_room_event(event),
                ClientEvent::Cmd { header, payload } => match serde_json::from_str::<CmdHeader>(header.get()) {
                    Ok(header) => room.on_cmd(&header, payload),
                    Err(e) => {
                        tracing::warn!("dropping a custom message with an unreadable header: {e}");
                        Vec::new()
                    }
                },
                ClientEvent::LinkState(state) => {
                    ended = matches!(state.current_state, LinkState::Idle | LinkState::Failed);
                    room.on_link(&state)
                }
                ClientEvent::Event { kind: EventKind::RoomRestored, body } => room.on_restored(members_of(&body)),
                ClientEvent::Event { kind: EventKind::RoomRestoreFailed, body } => {
                    room.on_restored(Err(error_of(&body)))
                }
                ClientEvent::Event { kind: EventKind::Token, body } => warning_of(&body),
                _ => Vec::new(),
            }
        };
        self.emit(events);
        if ended {
            self.shared.active.store(false, Ordering::SeqCst);
            self.settled();
        }
    }
}
