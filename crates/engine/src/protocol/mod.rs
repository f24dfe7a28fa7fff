//! Wire protocol v1 (documented for third parties in `docs/PROTOCOL.md`).
//!
//! Every WebSocket data message is one frame:
//! - a **text** message is a JSON object;
//! - a **binary** message is `u32` big-endian header length `H`, then `H` bytes of JSON header,
//!   then the raw payload (message bytes travel as they are: no base64).
//!
//! Client frames carry `op` (and `id` when they expect an answer); server frames carry `t`.
//! Decoding is strict: unknown ops and unknown fields are errors, reported with an error frame;
//! nothing here panics on any input.

pub mod close;
pub mod codec;
pub mod events;
mod frames;
pub mod schema;
pub mod server;
pub mod storage;

pub use codec::{decode_client, encode_binary, DecodeError, Inbound};
pub use events::{PresenceEvent, PresenceEventType, TokenEvent, TokenEventType, TopicEvent, TopicEventType};
pub use frames::*;
pub use server::{decode_server, CmdHeader, ExitReason, FrameKind, LeaveReason, RoomEvent, ServerFrame};
pub use storage::{GetMessagesResponse, LockEvent, StorageEvent, StorageEventType, StorageType, WireHistoryMessage};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest JSON header of a binary frame.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
