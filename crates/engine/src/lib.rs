//! # piazza-engine
//!
//! The whole of Piazza that is not JavaScript: the wire protocol, the hub that owns sessions,
//! channels, presence and rooms, the WebSocket server around it, the broker seam that cluster
//! mode plugs Redis into, and the Rust client that the Node addon wraps.
//!
//! The crate knows nothing of Node-API. Events leave the client through the [`client::EventSink`]
//! trait, which the addon implements with a batching threadsafe function; the server is driven
//! through [`server::Server`]. The `piazza-server` binary is a thin command line over the same
//! [`server::Server`].
//!
//! Layers, from the bytes up:
//! - [`protocol`]: frames on the wire (JSON text frames; binary frames carry raw payloads).
//! - [`hub`]: the state (sessions, message channels, ...) and the operations on it.
//! - [`broker`]: how a published frame reaches the subscribers (in memory, or Redis).
//! - [`server`]: sockets, HTTP routes, per-connection reader/writer tasks, shutdown.
//! - [`client`]: the client link, requests, reconnects, events.

pub mod auth;
pub mod broker;
pub mod client;
pub mod cluster;
pub mod config;
pub mod error;
mod error_codes;
pub mod hub;
pub mod logging;
pub mod names;
pub mod options;
pub mod protocol;
pub mod secret;
pub mod server;
pub mod store;
pub mod time;
pub mod webhook;

pub use error::{Error, ErrorCode, Result};

/// The engine's version (shared by the addon, the server binary and the protocol `hello`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
