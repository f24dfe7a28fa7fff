//! `NativeTrtc`: the engine's TRTC room client ([`Trtc`]) behind `TRTCCloud`. The calls queue
//! and return at once (`sendCustomCmdMsg` sends at once and says whether it did); the TRTC
//! callbacks come back in batches through a [`JsSink`] of its own, as the RTM events of a
//! `NativeClient` do: one JSON array per wake-up of the JS thread, each entry the callback's
//! name and its arguments, `["onExitRoom", 1]`, `["onError", -3340, "…"]`. Binary custom
//! message data is in the batch's buffer: `["onRecvCustomCmdMsg", userId, cmdId, seq, off,
//! len]` (text data: `[…, seq, "text"]`). `["idle"]` means the handle may have become idle:
//! JS asks [`NativeTrtc::idle`] then, to know whether to let the process go.
//!
//! Arguments arrive checked by `lib/trtc.js` where the check is about JavaScript types (a
//! `null` params, a non-integer sdkAppId, a role that is not 20 or 21…); such a refusal is
//! reported through [`NativeTrtc::refuse`], in call order. Everything else is the engine's.

use std::fmt::Write;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use parking_lot::Mutex;
use piazza_engine::client::room::{EnterParams, TrtcEvent};
use piazza_engine::client::trtc::{Trtc, TrtcSink};
use piazza_engine::client::{ClientConfig, Payload};
use piazza_engine::logging::LogFormat;
use piazza_engine::protocol::{Role, Scene};
use piazza_engine::secret::Secret;
use piazza_engine::{Error, ErrorCode};

use crate::client::EventBatch;
use crate::error;
use crate::logging::Claim;
use crate::sink::{push_json_str, JsSink};

/// `TRTCParams`, checked in JS: `roomId` 0 and `strRoomId` `""` mean "not given".
#[napi(object)]
pub struct NativeTrtcParams {
    pub sdk_app_id: f64,
    pub user_id: String,
    pub user_sig: String,
    pub room_id: f64,
    pub str_room_id: String,
    /// 20 anchor, 21 audience.
    pub role: u32,
}

/// TRTC events into the batch of a [`JsSink`].
struct Batched(Arc<JsSink>);

impl TrtcSink for Batched {
    fn emit(&self, event: TrtcEvent) {
        self.0.push(|json, bin| write_event(json, bin, event));
    }

    fn idle(&self) {
        self.0.push(|json, _| json.push_str("[\"idle\"]"));
    }

    fn congestion(&self) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> {
        self.0.backlog()
    }
}

/// `["callback", …args]`.
fn write_event(json: &mut String, bin: &mut Vec<u8>, event: TrtcEvent) {
    json.push('[');
    push_json_str(json, event.callback());
    match event {
        TrtcEvent::EnterRoom { result } => {
            let _ = write!(json, ",{result}");
        }
        TrtcEvent::ExitRoom { reason } => {
            let _ = write!(json, ",{}", reason.code());
        }
        TrtcEvent::RemoteUserEnterRoom { user_id } => {
            json.push(',');
            push_json_str(json, &user_id);
        }
        TrtcEvent::RemoteUserLeaveRoom { user_id, reason } => {
            json.push(',');
            push_json_str(json, &user_id);
            let _ = write!(json, ",{}", reason.code());
        }
        TrtcEvent::Error { code, message }
        | TrtcEvent::Warning { code, message }
        | TrtcEvent::SwitchRole { code, message }
        | TrtcEvent::SwitchRoom { code, message } => {
            let _ = write!(json, ",{code},");
            push_json_str(json, &message);
        }
        TrtcEvent::ConnectionLost | TrtcEvent::TryToReconnect | TrtcEvent::ConnectionRecovery => {}
        TrtcEvent::RecvCustomCmdMsg { user_id, cmd_id, seq, data } => {
            json.push(',');
            push_json_str(json, &user_id);
            let _ = write!(json, ",{cmd_id},{seq},");
            match data {
                Payload::Text(text) => push_json_str(json, &text),
                Payload::Binary(bytes) => {
                    let _ = write!(json, "{},{}", bin.len(), bytes.len());
                    bin.extend_from_slice(&bytes);
                }
            }
        }
        TrtcEvent::MissCustomCmdMsg { user_id, cmd_id, err_code, missed } => {
            json.push(',');
            push_json_str(json, &user_id);
            let _ = write!(json, ",{cmd_id},{err_code},{missed}");
        }
    }
    json.push(']');
}

fn role(role: u32) -> Result<Role> {
    match role {
        20 => Ok(Role::Anchor),
        21 => Ok(Role::Audience),
        other => Err(error::to_napi(&Error::invalid(format!("role {other} is not a TRTCRoleType")))),
    }
}

/// A whole number in 0..=u64::MAX, or `None`.
fn whole(n: f64) -> Option<u64> {
    (n.fract() == 0.0 && n >= 0.0 && n <= u64::MAX as f64).then_some(n as u64)
}

#[napi]
pub struct NativeTrtc {
    trtc: Trtc,
    sink: Arc<JsSink>,
    /// `logLevel` and `logFormat`, claimed from the first entry until the handle is idle.
    log_options: (Option<String>, Option<LogFormat>),
    log: Mutex<Option<Claim>>,
}

#[napi]
impl NativeTrtc {
    /// Checks the options (the `TRTCCloud` options JSON, with `kind: 'trtc'`; throws the error
    /// JSON on bad values). `wake` is called (weakly) when events are waiting.
    #[napi(constructor)]
    pub fn new(options_json: String, wake: Function<(), ()>) -> Result<Self> {
        let env_endpoint = std::env::var("PIAZZA_URL").ok().filter(|v| !v.is_empty());
        let config = ClientConfig::from_rtm_options("1", "check", &options_json, env_endpoint)
            .map_err(|e| error::to_napi(&e))?;
        let wake = wake.build_threadsafe_function().weak::<true>().callee_handled::<false>().build()?;
        let sink = Arc::new(JsSink::new(wake));
        let log_options = (config.log_level.clone(), config.log_format);
        let events = Arc::new(Batched(sink.clone()));
        let trtc = within_runtime_if_available(|| Trtc::new(config, events, None)).map_err(|e| error::to_napi(&e))?;
        Ok(NativeTrtc { trtc, sink, log_options, log: Mutex::new(None) })
    }

    /// Takes every event waiting for JS.
    #[napi]
    pub fn drain(&self) -> EventBatch {
        let (json, bin) = self.sink.drain();
        EventBatch { json, bin: (!bin.is_empty()).then(|| bin.into()) }
    }

    /// Whether nothing is queued or running, no client is logged in and no event waits for JS:
    /// then JS may let the process go. An idle handle also gives up its log level claim.
    #[napi]
    pub fn idle(&self) -> bool {
        let idle = self.trtc.is_idle() && self.sink.is_empty();
        if idle {
            self.log.lock().take();
        }
        idle
    }

    #[napi]
    pub fn enter_room(&self, params: NativeTrtcParams, scene: u32) -> Result<()> {
        {
            let mut log = self.log.lock();
            if log.is_none() {
                *log = Some(
                    Claim::new(self.log_options.0.as_deref(), self.log_options.1).map_err(|e| error::to_napi(&e))?,
                );
            }
        }
        let scene = match scene {
            0 => Scene::VideoCall,
            1 => Scene::Live,
            2 => Scene::AudioCall,
            3 => Scene::VoiceChatRoom,
            other => return Err(error::to_napi(&Error::invalid(format!("scene {other} is not a TRTCAppScene")))),
        };
        // JS passes integers; one past u64 is refused as TRTC refuses any bad sdkAppId.
        let Some(sdk_app_id) = whole(params.sdk_app_id) else {
            let message = format!("sdkAppId {} is not a positive integer", params.sdk_app_id);
            return self.refuse("enterRoom".into(), ErrorCode::TrtcSdkAppIdInvalid.code(), message);
        };
        let room_id = whole(params.room_id).ok_or_else(|| {
            error::to_napi(&Error::invalid(format!("roomId {} is not a whole number", params.room_id)))
        })?;
        let params = EnterParams {
            sdk_app_id,
            user_id: params.user_id,
            user_sig: Secret::new(params.user_sig),
            room_id,
            str_room_id: params.str_room_id,
            role: role(params.role)?,
        };
        self.trtc.enter_room(params, scene).map_err(|e| error::to_napi(&e))
    }

    #[napi]
    pub fn exit_room(&self) -> Result<()> {
        self.trtc.exit_room().map_err(|e| error::to_napi(&e))
    }

    /// `role`: 20 or 21.
    #[napi]
    pub fn switch_role(&self, role: u32) -> Result<()> {
        self.trtc.switch_role(self::role(role)?).map_err(|e| error::to_napi(&e))
    }

    /// `room_id` 0 / `str_room_id` `""`: not given; `user_sig` `""`: none.
    #[napi]
    pub fn switch_room(&self, room_id: f64, str_room_id: String, user_sig: String) -> Result<()> {
        let room_id = whole(room_id)
            .ok_or_else(|| error::to_napi(&Error::invalid(format!("roomId {room_id} is not a whole number"))))?;
        self.trtc.switch_room(room_id, &str_room_id, &user_sig).map_err(|e| error::to_napi(&e))
    }

    /// Replaces the userSig of the session (after the calls queued); refused: onError.
    #[napi]
    pub fn renew_user_sig(&self, user_sig: String) -> Result<()> {
        self.trtc.renew_user_sig(&user_sig).map_err(|e| error::to_napi(&e))
    }

    /// Reports the refusal of a call JS checked (`operation`: `enterRoom` → onError then
    /// onEnterRoom(code); `switchRole` / `switchRoom` → onSwitchRole / onSwitchRoom), in call
    /// order.
    #[napi]
    pub fn refuse(&self, operation: String, code: i32, message: String) -> Result<()> {
        let events = match operation.as_str() {
            "enterRoom" => vec![TrtcEvent::Error { code, message }, TrtcEvent::EnterRoom { result: code.into() }],
            "switchRole" => vec![TrtcEvent::SwitchRole { code, message }],
            "switchRoom" => vec![TrtcEvent::SwitchRoom { code, message }],
            other => return Err(error::to_napi(&Error::invalid(format!("{other:?} reports no refusal")))),
        };
        self.trtc.report(events).map_err(|e| error::to_napi(&e))
    }

    /// Sends a custom message now; false when refused or not sent.
    #[napi]
    pub fn send_custom_cmd_msg(
        &self,
        cmd_id: f64,
        data: Either<String, Uint8Array>,
        reliable: bool,
        ordered: bool,
    ) -> bool {
        let Some(cmd_id) = whole(cmd_id).and_then(|n| u32::try_from(n).ok()) else { return false };
        self.trtc.send_custom_cmd(cmd_id, crate::ops::payload(data), reliable, ordered).is_ok()
    }

    /// The next custom message of `cmd_id` goes with `seq` `last + 1` (tests make gaps so).
    #[napi]
    pub fn continue_seq(&self, cmd_id: u32, last: f64) {
        self.trtc.continue_seq(cmd_id, whole(last).unwrap_or(0));
    }

    /// Exits the room (announced; at most a second's wait) and logs out, after the calls queued.
    #[napi]
    pub fn destroy(&self) {
        self.trtc.destroy();
    }
}
