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
mod server;
mod sink;

use napi_derive::napi;
use piazza_engine::ErrorCode;

/// The engine version.
#[napi]
pub fn version() -> String {
    piazza_engine::VERSION.to_string()
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
