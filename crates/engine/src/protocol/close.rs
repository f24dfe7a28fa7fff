//! WebSocket close codes Piazza uses, with the reason text sent alongside. Codes below 4000 are
//! the RFC 6455 ones; 4000–4099 are Piazza's own.

/// Normal close (logout, or the client closed).
pub const NORMAL: u16 = 1000;
/// The server is shutting down; reconnect (to another node) later.
pub const GOING_AWAY: u16 = 1001;
/// The peer broke the protocol (bad handshake frame, bad binary framing).
pub const PROTOCOL_ERROR: u16 = 1002;
/// A text frame that is not valid UTF-8.
pub const INVALID_DATA: u16 = 1007;
/// Too many malformed frames, or more frames per second than the server allows.
pub const POLICY: u16 = 1008;
/// A WebSocket message larger than the server's `maxFrameBytes`.
pub const TOO_BIG: u16 = 1009;
/// The server failed internally.
pub const INTERNAL: u16 = 1011;
/// No valid `hello` within the handshake timeout.
pub const HANDSHAKE_TIMEOUT: u16 = 4000;
/// The `hello` was refused (bad app id, user id or token); the reason names the RTM code.
pub const AUTH_FAILED: u16 = 4001;
/// The same user id logged in elsewhere (SAME_UID_LOGIN); do not reconnect.
pub const REPLACED: u16 = 4002;
/// The connection's outbound queue overflowed (slow consumer).
pub const SLOW_CONSUMER: u16 = 4003;
/// No frame from the client for two heartbeat intervals.
pub const HEARTBEAT_TIMEOUT: u16 = 4004;
/// The client speaks a protocol version the server does not.
pub const UNSUPPORTED_VERSION: u16 = 4005;
/// Removed by the server (admin action).
pub const KICKED: u16 = 4006;
/// The login token expired and was not renewed.
pub const TOKEN_EXPIRED: u16 = 4007;

/// Whether a client should stop reconnecting after this close code.
pub fn is_fatal(code: u16) -> bool {
    matches!(code, AUTH_FAILED | REPLACED | UNSUPPORTED_VERSION | KICKED | TOKEN_EXPIRED)
}
