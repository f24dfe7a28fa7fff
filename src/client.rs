//! `NativeClient`: the engine client behind `RTM` and `TRTCCloud`. Every call is synchronous;
//! it returns `null` when the request was queued, or the JSON of the error that refused it
//! (bad arguments, not logged in). Answers and events arrive through [`JsSink`]. The login and
//! message-channel calls are here; the other operations, one typed method each, in `ops.rs`.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use piazza_engine::client::{Client, ClientConfig, PublishOptions, Route, SubscribeOptions};
use piazza_engine::logging::LogFormat;
use piazza_engine::names;
use piazza_engine::protocol::ChannelType;

use crate::error;
use crate::logging::Claim;
use crate::sink::JsSink;

/// A batch of events for JS: a JSON array and the binary payloads it points into.
#[napi(object)]
pub struct EventBatch {
    pub json: String,
    pub bin: Option<Buffer>,
}

/// `subscribe` options as booleans (defaults applied in JS).
#[napi(object)]
pub struct NativeSubscribeOptions {
    pub with_message: bool,
    pub with_presence: bool,
    pub be_quiet: bool,
    pub with_metadata: bool,
    pub with_lock: bool,
}

#[napi]
pub struct NativeClient {
    pub(crate) client: Client,
    sink: Arc<JsSink>,
    /// `logLevel` and `logFormat`, claimed from login to logout.
    log_options: (Option<String>, Option<LogFormat>),
    log: parking_lot::Mutex<Option<Claim>>,
    /// `rtmConfig` keys that are no option (see `ClientConfig::unknown_options`).
    unknown_options: Vec<String>,
}

pub(crate) fn queued(result: piazza_engine::Result<()>) -> Option<String> {
    result.err().map(|e| error::encode(&e))
}

#[napi]
impl NativeClient {
    /// Validates the configuration (throws the error JSON on bad values) and creates the
    /// client. `wake` is called (weakly, never keeping Node alive) when events are waiting.
    #[napi(constructor)]
    pub fn new(app_id: String, user_id: String, options_json: String, wake: Function<(), ()>) -> Result<Self> {
        let env_endpoint = std::env::var("PIAZZA_URL").ok().filter(|v| !v.is_empty());
        let config = ClientConfig::from_rtm_options(&app_id, &user_id, &options_json, env_endpoint)
            .map_err(|e| error::to_napi(&e))?;
        let wake = wake.build_threadsafe_function().weak::<true>().callee_handled::<false>().build()?;
        let sink = Arc::new(JsSink::new(wake));
        let log_options = (config.log_level.clone(), config.log_format);
        let unknown_options = config.unknown_options.clone();
        let client = Client::new(config, sink.clone()).map_err(|e| error::to_napi(&e))?;
        Ok(NativeClient { client, sink, log_options, log: parking_lot::Mutex::new(None), unknown_options })
    }

    /// The `rtmConfig` keys that are neither options nor SDK options ignored by name (a typo,
    /// e.g. `presenceTimout`; nested ones as `privateConfig.key`). They have no effect.
    #[napi]
    pub fn unknown_options(&self) -> Vec<String> {
        self.unknown_options.clone()
    }

    /// Takes every event waiting for JS.
    #[napi]
    pub fn drain(&self) -> EventBatch {
        let (json, bin) = self.sink.drain();
        EventBatch { json, bin: (!bin.is_empty()).then(|| bin.into()) }
    }

    /// Starts logging in; from now until logout the client's `logLevel` counts towards the
    /// process's (see `logging.rs`).
    #[napi]
    pub fn login(&self, tag: u32, token: Option<String>) -> Option<String> {
        {
            let mut log = self.log.lock();
            if log.is_none() {
                match Claim::new(self.log_options.0.as_deref(), self.log_options.1) {
                    Ok(claim) => *log = Some(claim),
                    Err(e) => return Some(error::encode(&e)),
                }
            }
        }
        queued(napi::bindgen_prelude::within_runtime_if_available(|| self.client.login(Route::Tag(tag as u64), token)))
    }

    #[napi]
    pub fn logout(&self, tag: u32) {
        napi::bindgen_prelude::within_runtime_if_available(|| self.client.logout(Route::Tag(tag as u64)));
        self.log.lock().take();
    }

    #[napi]
    pub fn subscribe(&self, tag: u32, channel: String, options: NativeSubscribeOptions) -> Option<String> {
        let options = SubscribeOptions {
            with_message: options.with_message,
            with_presence: options.with_presence,
            be_quiet: options.be_quiet,
            with_metadata: options.with_metadata,
            with_lock: options.with_lock,
        };
        queued(self.client.subscribe(Route::Tag(tag as u64), &channel, options))
    }

    #[napi]
    pub fn unsubscribe(&self, tag: u32, channel: String) -> Option<String> {
        queued(self.client.unsubscribe(Route::Tag(tag as u64), &channel))
    }

    /// `channel_type` is "MESSAGE" or "USER" (validated in JS).
    #[napi]
    pub fn publish(
        &self,
        tag: u32,
        channel: String,
        message: Either<String, Uint8Array>,
        custom_type: String,
        channel_type: String,
        store_in_history: bool,
    ) -> Option<String> {
        let payload = crate::ops::payload(message);
        let channel_type = if channel_type == "USER" { ChannelType::User } else { ChannelType::Message };
        let options = PublishOptions { custom_type, channel_type, store_in_history };
        queued(self.client.publish(Route::Tag(tag as u64), &channel, payload, options))
    }

    /// Checks a name by the rules of its kind (`channel`, `topic`, `user`, `scope`); returns the
    /// error JSON, or null when it is acceptable.
    #[napi]
    pub fn check_name(&self, kind: String, name: String) -> Option<String> {
        let result = match kind.as_str() {
            "channel" => names::channel(&name),
            "topic" => names::topic(&name),
            "user" => names::user_id(&name),
            _ => names::scope(&name),
        };
        queued(result)
    }

    /// Sends a realtime datagram (no answer; best effort).
    #[napi]
    pub fn realtime_send(&self, scope: String, data: Uint8Array) -> Option<String> {
        queued(self.client.realtime_send(&scope, bytes::Bytes::copy_from_slice(&data)))
    }

    /// The current link state (`IDLE`, `CONNECTING`, …).
    #[napi]
    pub fn link_state(&self) -> String {
        serde_json::to_value(self.client.link_state())
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}
