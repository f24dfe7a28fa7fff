//! Server configuration: what `Server.start(options)`, the `piazza-server` flags, env vars and
//! TOML file all turn into. Field names are the camelCase keys of SPEC §3 and §8.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A secret (token, certificate): serialized as itself, but never printed by `Debug`, so it
/// cannot leak into logs.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares in constant time (no early exit on the first differing byte).
    pub fn matches(&self, candidate: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), candidate.as_bytes());
        let mut diff = a.len() ^ b.len();
        for i in 0..a.len().max(b.len()) {
            diff |= (a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0)) as usize;
        }
        diff == 0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Everything a server node needs to start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Interface to listen on.
    pub host: String,
    /// Port to listen on; 0 picks a free port (read it back from the server).
    pub port: u16,
    /// Per-server limits (SPEC §8).
    pub limits: Limits,
    /// Per-connection resources and timeouts.
    pub connection: ConnectionConfig,
    /// Presence behaviour of crowded channels.
    pub presence: PresenceConfig,
    /// TRTC rooms.
    pub rooms: RoomsConfig,
    /// Bearer token of the admin HTTP API (`/v1/...`, and `/metrics`); without it the admin
    /// routes are off.
    pub admin_token: Option<Secret>,
    /// `debug | info | warn | error | none`; `RUST_LOG` overrides.
    pub log_level: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            limits: Limits::default(),
            connection: ConnectionConfig::default(),
            presence: PresenceConfig::default(),
            rooms: RoomsConfig::default(),
            admin_token: None,
            log_level: None,
        }
    }
}

/// The limits of SPEC §8; defaults follow the seed documents.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Limits {
    /// Largest message / topic message payload, in bytes.
    pub max_message_bytes: usize,
    /// Publishes per second into one channel (all publishers together); 0 = unlimited.
    pub publish_rate_per_channel: u32,
    /// Message channels one client may subscribe to.
    pub max_subscriptions_per_client: usize,
    /// Stream channels one client may join.
    pub max_stream_channels_per_client: usize,
    /// Users in one stream channel.
    pub max_stream_channel_users: usize,
    /// Topics one user may publish in (joinTopic), per stream channel.
    pub max_joined_topics: usize,
    /// Topics one user may subscribe to, per stream channel.
    pub max_subscribed_topics: usize,
    /// Publishers one user may subscribe to in one topic.
    pub max_publishers_per_topic_subscription: usize,
    /// Largest realtime-channel datagram, in bytes.
    pub max_realtime_bytes: usize,
    /// Presence states (key → value) one user may hold in one channel.
    pub max_states_per_user: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 32 * 1024,
            publish_rate_per_channel: 60,
            max_subscriptions_per_client: 100,
            max_stream_channels_per_client: 100,
            max_stream_channel_users: 1000,
            max_joined_topics: 8,
            max_subscribed_topics: 50,
            max_publishers_per_topic_subscription: 64,
            max_realtime_bytes: 128_000,
            max_states_per_user: 32,
        }
    }
}

/// Resources of one connection. The outbound queue bound is the slow-consumer policy: a
/// connection whose queue would exceed `outboundQueueBytes` is closed with close code 4003
/// ("slow consumer") and counted in `stats().slowConsumers`; nothing is dropped silently.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ConnectionConfig {
    /// Connections the server accepts at once; more are refused with HTTP 503.
    pub max_connections: usize,
    /// Bytes queued for one connection before it counts as a slow consumer.
    pub outbound_queue_bytes: usize,
    /// Largest WebSocket message accepted; bigger ones close the connection with 1009.
    pub max_frame_bytes: usize,
    /// Time allowed from TCP accept to a complete `hello`, in milliseconds.
    pub handshake_timeout_ms: u64,
    /// Bytes of already-sent frames kept per session so a reconnecting client can resume
    /// without losing what was in flight.
    pub resume_buffer_bytes: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            max_connections: 100_000,
            outbound_queue_bytes: 4 * 1024 * 1024,
            max_frame_bytes: 256 * 1024,
            handshake_timeout_ms: 5_000,
            resume_buffer_bytes: 1024 * 1024,
        }
    }
}

/// Interval mode (SPEC §4.3): past `intervalThreshold` visible users, a channel's joins,
/// leaves, timeouts and state changes are folded into one INTERVAL event per
/// `intervalSeconds` instead of one event per change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PresenceConfig {
    pub interval_threshold: usize,
    pub interval_seconds: f64,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig { interval_threshold: 50, interval_seconds: 5.0 }
    }
}

/// TRTC rooms (SPEC §5).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RoomsConfig {
    /// Seconds a room member whose connection dropped stays in the room before the others hear
    /// `onRemoteUserLeaveRoom(userId, 1)`, when its TRTCCloud did not set `presenceTimeout`.
    pub drop_timeout_seconds: u32,
    /// Seconds a user removed by `removeUser` cannot enter that room again.
    pub kick_ban_seconds: u32,
    /// Members of one room.
    pub max_members: usize,
}

impl Default for RoomsConfig {
    fn default() -> Self {
        RoomsConfig { drop_timeout_seconds: 10, kick_ban_seconds: 60, max_members: 1000 }
    }
}

impl ServerConfig {
    /// Parses the JSON form used by the addon (`Server.start(options)`).
    pub fn from_json(json: &str) -> Result<Self> {
        let config: ServerConfig =
            serde_json::from_str(json).map_err(|e| Error::invalid(format!("server options: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    /// Rejects settings that cannot work.
    pub fn validate(&self) -> Result<()> {
        let l = &self.limits;
        if l.max_message_bytes == 0 || l.max_message_bytes > 16 * 1024 * 1024 {
            return Err(Error::invalid("limits.maxMessageBytes must be 1..=16777216"));
        }
        for (name, value) in [
            ("maxSubscriptionsPerClient", l.max_subscriptions_per_client),
            ("maxStreamChannelsPerClient", l.max_stream_channels_per_client),
            ("maxStreamChannelUsers", l.max_stream_channel_users),
            ("maxJoinedTopics", l.max_joined_topics),
            ("maxSubscribedTopics", l.max_subscribed_topics),
            ("maxPublishersPerTopicSubscription", l.max_publishers_per_topic_subscription),
            ("maxRealtimeBytes", l.max_realtime_bytes),
            ("maxStatesPerUser", l.max_states_per_user),
        ] {
            if value == 0 {
                return Err(Error::invalid(format!("limits.{name} must be at least 1")));
            }
        }
        let c = &self.connection;
        if c.max_frame_bytes < l.max_message_bytes.max(l.max_realtime_bytes) + 1024 {
            return Err(Error::invalid(
                "connection.maxFrameBytes must exceed limits.maxMessageBytes and limits.maxRealtimeBytes by at least 1024 bytes of header",
            ));
        }
        if c.outbound_queue_bytes < c.max_frame_bytes {
            return Err(Error::invalid("connection.outboundQueueBytes must be at least connection.maxFrameBytes"));
        }
        if c.max_connections == 0 || c.handshake_timeout_ms == 0 {
            return Err(Error::invalid("connection.maxConnections and handshakeTimeoutMs must be positive"));
        }
        if !(1..=300).contains(&self.rooms.drop_timeout_seconds) || self.rooms.max_members == 0 {
            return Err(Error::invalid("rooms.dropTimeoutSeconds must be 1..=300 and rooms.maxMembers at least 1"));
        }
        if !(0.1..=3600.0).contains(&self.presence.interval_seconds) {
            return Err(Error::invalid("presence.intervalSeconds must be within 0.1..=3600"));
        }
        if self.admin_token.as_ref().is_some_and(|t| t.expose().len() < 16) {
            return Err(Error::invalid("adminToken must be at least 16 characters"));
        }
        if let Some(level) = &self.log_level {
            crate::logging::parse_level(level)?;
        }
        Ok(())
    }
}
