//! # piazza-node: the Node-API binding of the Piazza engine
//!
//! This crate is glue only: each `#[napi]` class wraps an engine handle and each method is a
//! few lines of argument conversion. Events leave the engine through [`sink::JsSink`], which
//! batches them into one JSON string (plus one buffer of binary payloads) per wake-up of the
//! JavaScript thread. The public API (`RTM`, `Server`, `TRTCCloud`, error objects) is the thin
//! typed JavaScript layer in `index.js` / `index.d.ts` over the binding this crate generates.
//!
//! Errors cross as JSON (`{"code","name","reason"}`) in exactly one place, [`error::encode`];
//! `index.js` turns them into RTM `ErrorInfo`-shaped `Error`s.

mod client;
mod error;
mod logging;
mod ops;
mod server;
mod sink;
mod storage;
mod trtc;

use napi_derive::napi;
use piazza_engine::ErrorCode;

/// The engine version.
#[napi]
pub fn version() -> String {
    piazza_engine::VERSION.to_string()
}

/// Makes a signed token (HS256 JWT). `options_json`: `{ appId, appCertificate, userId,
/// expireSeconds, privileges? }`. Throws the error JSON on bad options.
#[napi]
pub fn generate_token(options_json: String) -> napi::Result<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Options {
        app_id: String,
        app_certificate: String,
        user_id: String,
        expire_seconds: f64,
        #[serde(default)]
        privileges: Option<piazza_engine::auth::Privileges>,
    }
    let options: Options = serde_json::from_str(&options_json)
        .map_err(|e| error::to_napi(&piazza_engine::Error::invalid(format!("generateToken options: {e}"))))?;
    if options.expire_seconds.fract() != 0.0 || options.expire_seconds < 0.0 {
        return Err(error::to_napi(&piazza_engine::Error::invalid("expireSeconds must be a whole number of seconds")));
    }
    piazza_engine::auth::generate_token(
        &options.app_id,
        &options.app_certificate,
        &options.user_id,
        options.expire_seconds as u64,
        options.privileges.unwrap_or_default(),
    )
    .map_err(|e| error::to_napi(&e))
}

/// Every RTM error code as JSON: `[{ "code": -10002, "name": "RTM_ERROR_NOT_LOGIN", "description": "…" }, …]`.
#[napi]
pub fn error_table() -> String {
    let rows: Vec<_> = ErrorCode::ALL
        .iter()
        .map(|c| serde_json::json!({ "code": c.code(), "name": c.name(), "description": c.describe() }))
        .collect();
    serde_json::Value::Array(rows).to_string()
}
