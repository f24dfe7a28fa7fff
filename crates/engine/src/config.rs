//! Server configuration: what `Server.start(options)`, the `piazza-server` flags, env vars and
//! TOML file all turn into. Field names are the camelCase keys of `Server.start` (README
//! "Server") and of the limits table in docs/PROTOCOL.md#connection-limits.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use crate::secret::Secret;

/// Everything a server node needs to start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Interface to listen on.
    pub host: String,
    /// Port to listen on; 0 picks a free port (read it back from the server).
    pub port: u16,
    /// Per-server limits (README "RTM client", docs/PROTOCOL.md#connection-limits).
    pub limits: Limits,
    /// Per-connection resources and timeouts.
    pub connection: ConnectionConfig,
    /// Presence behaviour of crowded channels.
    pub presence: PresenceConfig,
    /// TRTC rooms.
    pub rooms: RoomsConfig,
    /// Apps and their token certificates. With none, the server runs in an open development
    /// mode: any token (or none) is accepted.
    pub apps: std::collections::HashMap<String, AppConfig>,
    /// Serve `wss://` with this certificate chain and key (PEM files).
    pub tls: Option<TlsConfig>,
    /// Bearer token of the admin HTTP API (`/v1/...`, and `/metrics`); without it the admin
    /// routes are off.
    pub admin_token: Option<Secret>,
    /// Bearer token that reads `/metrics` and nothing else (for a Prometheus scraper, which
    /// should not hold the token that can kick users).
    pub metrics_token: Option<Secret>,
    /// `debug | info | warn | error | none`; `RUST_LOG` overrides. The engine only emits the
    /// records; the host (the binary, the Node addon) writes them.
    pub log_level: Option<String>,
    /// `text` (default) or `json` (one object per line).
    pub log_format: Option<crate::logging::LogFormat>,
    /// Cluster mode: the Redis server the nodes share (`redis://host:port/db`). Without it the
    /// node is alone and keeps everything in memory.
    pub redis_url: Option<Secret>,
    /// Cluster mode: settings of the node and of the keys it uses in Redis.
    pub cluster: ClusterConfig,
    /// Storage, locks and history: where they live and their limits.
    pub storage: StorageConfig,
    /// POST events (logins, logouts, room exits, opted-in presence and messages) to these URLs,
    /// signed (docs/OPERATIONS.md "Webhooks"; set in the options object or the TOML file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<crate::webhook::WebhooksConfig>,
}

/// Storage, locks and history (SPEC §4.6). Without `path` (and without `redisUrl`) they live in
/// memory; with `path` in a SQLite database in that directory; in cluster mode in Redis.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Directory of the database file (`piazza.sqlite3`), created when missing.
    pub path: Option<String>,
    /// Items in one channel's or user's metadata (RTM_ERROR_STORAGE_METADATA_ITEM_EXCEED_LIMITATION).
    pub max_metadata_items: usize,
    /// Longest item key, bytes (RTM_ERROR_STORAGE_KEY_LENGTH_OVERFLOW).
    pub max_metadata_key_bytes: usize,
    /// Longest item value, bytes (RTM_ERROR_STORAGE_VALUE_LENGTH_OVERFLOW).
    pub max_metadata_value_bytes: usize,
    /// Largest whole metadata of a channel or user as JSON, bytes: it travels in every storage
    /// event (RTM_ERROR_STORAGE_METADATA_LENGTH_OVERFLOW). Capped at half of
    /// `connection.outboundQueueBytes` (an event must fit a connection's queue).
    pub max_metadata_bytes: usize,
    /// Users whose metadata one client may subscribe to (RTM_ERROR_STORAGE_SUBSCRIBE_USER_EXCEED_LIMITATION).
    pub max_user_metadata_subscriptions: usize,
    /// Locks in one channel (RTM_ERROR_LOCK_OPERATION_FAILED).
    pub max_locks_per_channel: usize,
    /// Messages kept per channel (or user inbox); older ones are dropped.
    pub history_max_messages: usize,
    /// Age after which a stored message is dropped, seconds; 0 = kept until the count drops it.
    pub history_max_age_seconds: u64,
    /// Largest `messageCount` of one `getMessages` page (RTM_ERROR_INVALID_PARAMETER).
    pub max_history_page: usize,
    /// Bytes of messages in one `getMessages` answer; past them the page ends early (with
    /// `newStart`). Capped at half of `connection.outboundQueueBytes`.
    pub history_page_bytes: usize,
    /// Database file: 0 (the default) syncs a `storeInHistory` message to disk before its
    /// answer, as metadata and lock changes always are; N > 0 answers once it is in the file
    /// (safe from a crash of the server) and syncs it within N milliseconds (for disks whose
    /// sync is slow). At most 60000.
    pub history_sync_ms: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            path: None,
            max_metadata_items: 256,
            max_metadata_key_bytes: 256,
            max_metadata_value_bytes: 32 * 1024,
            max_metadata_bytes: 1024 * 1024,
            max_user_metadata_subscriptions: 100,
            max_locks_per_channel: 100,
            history_max_messages: 1000,
            history_max_age_seconds: 7 * 24 * 3600,
            max_history_page: 100,
            history_page_bytes: 1024 * 1024,
            history_sync_ms: 0,
        }
    }
}

/// Cluster mode (with `redisUrl`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Every key and pub/sub channel starts with `<prefix>:`; nodes of one cluster share it.
    pub prefix: String,
    /// This node's name in the cluster (default: random).
    pub node_id: Option<String>,
    /// A node whose heartbeat is older than this is dead; the survivors time out its users.
    /// It heartbeats three times per period.
    pub node_timeout_ms: u64,
    /// Messages of each message channel kept in Redis for recovery: a client that comes back
    /// on any node (its node died) gets what it missed, once and in order. 0 = off.
    pub recovery_messages: usize,
    /// Seconds a channel's recovery log is kept after its last message (and the oldest age of
    /// a message in it).
    pub recovery_seconds: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            prefix: "piazza".into(),
            node_id: None,
            node_timeout_ms: 3000,
            recovery_messages: 1000,
            recovery_seconds: 300,
        }
    }
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
            metrics_token: None,
            apps: Default::default(),
            tls: None,
            log_level: None,
            log_format: None,
            redis_url: None,
            storage: StorageConfig::default(),
            cluster: ClusterConfig::default(),
            webhooks: None,
        }
    }
}

/// The per-server limits; defaults follow the vendors' documented limits (Agora RTM 2, TRTC,
/// webxdc).
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
    /// Bytes queued for all connections together (unsent, and sent but unacknowledged); past
    /// it the biggest queues are shed first (see `hub::budget`). 0 = no node-wide bound.
    pub outbound_budget_bytes: usize,
    /// Largest WebSocket message accepted; bigger ones close the connection with 1009.
    pub max_frame_bytes: usize,
    /// Time allowed from TCP accept to a complete `hello`, in milliseconds.
    pub handshake_timeout_ms: u64,
    /// Bytes of already-sent frames kept per session so a reconnecting client can resume
    /// without losing what was in flight.
    pub resume_buffer_bytes: usize,
    /// Connections still in their handshake (no valid hello yet) at once; more are refused.
    pub max_pending_handshakes: usize,
    /// New connections per second from one IP address (a burst of as many); 0 = unlimited.
    pub connections_per_ip_per_second: u32,
    /// Frames per second one connection may send (a burst of twice as many); past it the
    /// connection is closed with 1008. 0 = unlimited.
    pub frames_per_second: u32,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            max_connections: 100_000,
            outbound_queue_bytes: 4 * 1024 * 1024,
            outbound_budget_bytes: 1024 * 1024 * 1024,
            max_frame_bytes: 256 * 1024,
            handshake_timeout_ms: 5_000,
            resume_buffer_bytes: 1024 * 1024,
            max_pending_handshakes: 1024,
            connections_per_ip_per_second: 100,
            frames_per_second: 10_000,
        }
    }
}

/// Interval mode (README "Presence"): past `intervalThreshold` visible users, a channel's joins,
/// leaves, timeouts and state changes are folded into one INTERVAL event per
/// `intervalSeconds` instead of one event per change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PresenceConfig {
    pub interval_threshold: usize,
    pub interval_seconds: f64,
    /// Users listed in the SNAPSHOT a joiner gets. A bigger channel's SNAPSHOT lists the first
    /// ones (by user id) and says the channel's size in `interval.totalOccupancy`; `whoNow`
    /// pages through everyone. Without a cap, a join storm of N users sends N² entries.
    pub snapshot_max_users: usize,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig { interval_threshold: 50, interval_seconds: 5.0, snapshot_max_users: 200 }
    }
}

/// One app with token authentication.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppConfig {
    /// The secret tokens of this app are signed with (at least 16 characters).
    pub certificate: Secret,
    /// Bearer key of this app's backend API calls (`/v1/apps/{this app}/…` only; at least 16
    /// characters). Without it only the admin token reaches the app's routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
}

/// TLS for `wss://`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the certificate chain.
    pub cert_path: std::path::PathBuf,
    /// PEM file with the private key.
    pub key_path: std::path::PathBuf,
}

/// TRTC rooms (README "Rooms (TRTC)").
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

/// The largest `connection.maxFrameBytes`: a message is at most 16 MiB (`limits.maxMessageBytes`),
/// and a frame's declared length is room the server makes before reading it.
pub const MAX_FRAME_BYTES_CAP: usize = 64 * 1024 * 1024;

impl ServerConfig {
    /// The configuration with every secret replaced by `***` (for printing).
    pub fn redacted(&self) -> ServerConfig {
        let mut copy = self.clone();
        if copy.admin_token.is_some() {
            copy.admin_token = Some(Secret::new("***"));
        }
        if copy.metrics_token.is_some() {
            copy.metrics_token = Some(Secret::new("***"));
        }
        for app in copy.apps.values_mut() {
            app.certificate = Secret::new("***");
            if app.api_key.is_some() {
                app.api_key = Some(Secret::new("***"));
            }
        }
        if let Some(webhooks) = copy.webhooks.as_mut() {
            webhooks.secret = Secret::new("***");
        }
        if copy.redis_url.is_some() {
            // A Redis URL may carry a password.
            copy.redis_url = Some(Secret::new("***"));
        }
        copy
    }

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
        let s = &self.storage;
        for (name, value) in [
            ("maxMetadataItems", s.max_metadata_items),
            ("maxMetadataKeyBytes", s.max_metadata_key_bytes),
            ("maxMetadataValueBytes", s.max_metadata_value_bytes),
            ("maxLocksPerChannel", s.max_locks_per_channel),
            ("historyMaxMessages", s.history_max_messages),
            ("maxHistoryPage", s.max_history_page),
            ("maxMetadataBytes", s.max_metadata_bytes),
            ("historyPageBytes", s.history_page_bytes),
        ] {
            if value == 0 {
                return Err(Error::invalid(format!("storage.{name} must be at least 1")));
            }
        }
        if s.history_sync_ms > 60_000 {
            return Err(Error::invalid("storage.historySyncMs must be at most 60000 (a minute)"));
        }
        if s.path.is_some() && self.redis_url.is_some() {
            return Err(Error::invalid(
                "storage.path (--data-dir) does not apply in cluster mode: storage lives in the cluster's Redis",
            ));
        }
        if s.path.as_deref() == Some("") {
            return Err(Error::invalid("storage.path must name a directory"));
        }
        let c = &self.connection;
        if c.max_frame_bytes < l.max_message_bytes.max(l.max_realtime_bytes) + 1024 {
            return Err(Error::invalid(
                "connection.maxFrameBytes must exceed limits.maxMessageBytes and limits.maxRealtimeBytes by at least 1024 bytes of header",
            ));
        }
        if c.max_frame_bytes > MAX_FRAME_BYTES_CAP {
            return Err(Error::invalid("connection.maxFrameBytes must be at most 64 MiB"));
        }
        if c.outbound_queue_bytes < c.max_frame_bytes {
            return Err(Error::invalid("connection.outboundQueueBytes must be at least connection.maxFrameBytes"));
        }
        if c.outbound_budget_bytes != 0 && c.outbound_budget_bytes < c.outbound_queue_bytes {
            return Err(Error::invalid(
                "connection.outboundBudgetBytes must be 0 (no bound) or at least connection.outboundQueueBytes",
            ));
        }
        if c.max_connections == 0 || c.handshake_timeout_ms == 0 || c.max_pending_handshakes == 0 {
            return Err(Error::invalid(
                "connection.maxConnections, handshakeTimeoutMs and maxPendingHandshakes must be positive",
            ));
        }
        if !(1..=300).contains(&self.rooms.drop_timeout_seconds) || self.rooms.max_members == 0 {
            return Err(Error::invalid("rooms.dropTimeoutSeconds must be 1..=300 and rooms.maxMembers at least 1"));
        }
        if self.presence.snapshot_max_users == 0 {
            return Err(Error::invalid("presence.snapshotMaxUsers must be at least 1"));
        }
        if !(0.1..=3600.0).contains(&self.presence.interval_seconds) {
            return Err(Error::invalid("presence.intervalSeconds must be within 0.1..=3600"));
        }
        for (id, app) in &self.apps {
            crate::names::app_id(id)?;
            if app.certificate.expose().len() < 16 {
                return Err(Error::invalid(format!("the certificate of app {id:?} must be at least 16 characters")));
            }
            if app.api_key.as_ref().is_some_and(|k| k.expose().len() < 16) {
                return Err(Error::invalid(format!("the apiKey of app {id:?} must be at least 16 characters")));
            }
        }
        if self.admin_token.as_ref().is_some_and(|t| t.expose().len() < 16) {
            return Err(Error::invalid("adminToken must be at least 16 characters"));
        }
        if self.metrics_token.as_ref().is_some_and(|t| t.expose().len() < 16) {
            return Err(Error::invalid("metricsToken must be at least 16 characters"));
        }
        if let Some(webhooks) = &self.webhooks {
            webhooks.validate()?;
        }
        // Each credential names one caller: a key shared by two apps, or equal to a token,
        // would be granted to whichever is looked at first.
        let mut credentials: Vec<&str> =
            self.apps.values().filter_map(|a| a.api_key.as_ref()).map(|k| k.expose()).collect();
        credentials.extend(self.admin_token.iter().chain(&self.metrics_token).map(|t| t.expose()));
        let count = credentials.len();
        credentials.sort_unstable();
        credentials.dedup();
        if credentials.len() != count {
            return Err(Error::invalid("adminToken, metricsToken and the apps' apiKeys must all differ"));
        }
        if let Some(level) = &self.log_level {
            crate::logging::parse_level(level)?;
        }
        if let Some(url) = &self.redis_url {
            let url = url.expose();
            if url.starts_with("rediss://") {
                // Said at start-up, not as a connection error on every retry.
                return Err(Error::invalid(
                    "redisUrl: rediss:// (TLS to Redis) is not built in; reach Redis over a private network, \
                     a unix socket (redis+unix://) or a TLS tunnel",
                ));
            }
            if !(url.starts_with("redis://") || url.starts_with("redis+unix://")) {
                return Err(Error::invalid("redisUrl must be a redis:// or redis+unix:// URL"));
            }
        }
        let prefix_ok = !self.cluster.prefix.is_empty()
            && self.cluster.prefix.len() <= 64
            && self.cluster.prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        if !prefix_ok {
            return Err(Error::invalid("cluster.prefix takes 1-64 letters, digits, '-', '_', '.', ':'"));
        }
        if let Some(node) = &self.cluster.node_id {
            if node.is_empty()
                || node.len() > 64
                || !node.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return Err(Error::invalid("cluster.nodeId takes 1-64 letters, digits, '-', '_', '.'"));
            }
        }
        if self.cluster.recovery_messages > 100_000 {
            return Err(Error::invalid("cluster.recoveryMessages must be at most 100000 (0 = off)"));
        }
        if !(1..=86_400).contains(&self.cluster.recovery_seconds) {
            return Err(Error::invalid("cluster.recoverySeconds must be within 1..=86400"));
        }
        if !(300..=600_000).contains(&self.cluster.node_timeout_ms) {
            return Err(Error::invalid("cluster.nodeTimeoutMs must be within 300..=600000"));
        }
        Ok(())
    }
}
