//! Every server option as one table: the key of [`ServerConfig`] it sets (the camelCase path
//! that `Server.start(options)` and the TOML file use), its command-line flag, its environment
//! variable and its help line.
//!
//! `ServerConfig` is the one definition of what an option is, its type and its default; this
//! table only names the three other ways to reach it, and a test walks the serialized default
//! configuration to prove that every option has a row (an option added to `ServerConfig`
//! without one fails the build's tests). The `piazza-server` binary builds its flags from these
//! rows (and `npx piazza-rtc-server` runs that binary), so flag, env variable and TOML key cannot
//! drift apart. Values are collected into a JSON tree and the tree is deserialized once: the
//! serde rules of `ServerConfig` (unknown keys refused, types, defaults) apply to all sources.

use serde_json::{Map, Value};

use crate::config::ServerConfig;

/// How a raw string (from a flag or an environment variable) becomes a value of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole number within `0..=max`.
    Int(u64),
    /// A decimal number.
    Float,
    /// Text (host names, ids, levels).
    Text,
    /// A file path.
    Path,
    /// Text that is a secret: never shown in help output or `print-config`.
    Secret,
    /// `ID=CERTIFICATE`, repeatable (comma-separated in the environment variable).
    App,
    /// `ID=KEY`: the backend API key of an app (`apps.<id>.apiKey`), repeatable
    /// (comma-separated in the environment variable).
    AppKey,
    /// A list of texts, repeatable or comma-separated.
    List,
}

/// One option.
#[derive(Debug, Clone, Copy)]
pub struct ServerOption {
    /// The camelCase key path in `ServerConfig` (`limits.maxMessageBytes`).
    pub key: &'static str,
    /// The long flag without its dashes.
    pub flag: &'static str,
    /// The environment variable.
    pub env: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

const U16: Kind = Kind::Int(u16::MAX as u64);
const U32: Kind = Kind::Int(u32::MAX as u64);
const U64: Kind = Kind::Int(u64::MAX);

macro_rules! options {
    ($( $key:literal, $flag:literal, $env:literal, $kind:expr, $help:literal; )*) => {
        /// Every server option, in the order `--help` lists them.
        pub const OPTIONS: &[ServerOption] = &[
            $( ServerOption { key: $key, flag: $flag, env: $env, kind: $kind, help: $help }, )*
        ];
    };
}

options! {
    "host", "host", "PIAZZA_HOST", Kind::Text, "Interface to listen on";
    "port", "port", "PIAZZA_PORT", U16, "Port to listen on, 0 = any free port";
    "logLevel", "log-level", "PIAZZA_LOG_LEVEL", Kind::Text, "Log level: debug, info, warn, error or none (RUST_LOG overrides)";
    "logFormat", "log-format", "PIAZZA_LOG_FORMAT", Kind::Text, "Log format on stderr: text or json (one object per line) [default: text]";
    "apps", "app", "PIAZZA_APPS", Kind::App, "An app with token authentication, as ID=CERTIFICATE (repeatable; env: comma-separated). Without any, the server runs in an open development mode";
    "apps.*.apiKey", "app-api-key", "PIAZZA_APP_API_KEYS", Kind::AppKey, "The backend API key of an app, as ID=KEY (at least 16 characters; repeatable; env: comma-separated): the routes under /v1/apps/ID/ only";
    "adminToken", "admin-token", "PIAZZA_ADMIN_TOKEN", Kind::Secret, "Bearer token of the admin HTTP API (at least 16 characters); prefer the env variable";
    "metricsToken", "metrics-token", "PIAZZA_METRICS_TOKEN", Kind::Secret, "Bearer token that reads /metrics and nothing else (at least 16 characters); prefer the env variable";
    "tls.certPath", "tls-cert", "PIAZZA_TLS_CERT", Kind::Path, "PEM certificate chain: serve wss:// (with --tls-key)";
    "tls.keyPath", "tls-key", "PIAZZA_TLS_KEY", Kind::Path, "PEM private key of --tls-cert";
    "limits.maxMessageBytes", "max-message-bytes", "PIAZZA_MAX_MESSAGE_BYTES", U64, "Largest message payload in bytes";
    "limits.publishRatePerChannel", "publish-rate-per-channel", "PIAZZA_PUBLISH_RATE_PER_CHANNEL", U32, "Publishes per second into one channel, 0 = unlimited";
    "limits.maxSubscriptionsPerClient", "max-subscriptions-per-client", "PIAZZA_MAX_SUBSCRIPTIONS_PER_CLIENT", U64, "Message channels one client may subscribe to";
    "limits.maxStreamChannelsPerClient", "max-stream-channels-per-client", "PIAZZA_MAX_STREAM_CHANNELS_PER_CLIENT", U64, "Stream channels one client may join";
    "limits.maxStreamChannelUsers", "max-stream-channel-users", "PIAZZA_MAX_STREAM_CHANNEL_USERS", U64, "Users in one stream channel";
    "limits.maxJoinedTopics", "max-joined-topics", "PIAZZA_MAX_JOINED_TOPICS", U64, "Topics one user may publish in, per stream channel";
    "limits.maxSubscribedTopics", "max-subscribed-topics", "PIAZZA_MAX_SUBSCRIBED_TOPICS", U64, "Topics one user may subscribe to, per stream channel";
    "limits.maxPublishersPerTopicSubscription", "max-publishers-per-topic-subscription", "PIAZZA_MAX_PUBLISHERS_PER_TOPIC_SUBSCRIPTION", U64, "Publishers one user may subscribe to in one topic";
    "limits.maxRealtimeBytes", "max-realtime-bytes", "PIAZZA_MAX_REALTIME_BYTES", U64, "Largest realtime-channel datagram in bytes";
    "limits.maxStatesPerUser", "max-states-per-user", "PIAZZA_MAX_STATES_PER_USER", U64, "Presence states one user may hold per channel";
    "connection.maxConnections", "max-connections", "PIAZZA_MAX_CONNECTIONS", U64, "Connections accepted at once";
    "connection.outboundQueueBytes", "outbound-queue-bytes", "PIAZZA_OUTBOUND_QUEUE_BYTES", U64, "Bytes queued for one connection before it is closed as a slow consumer";
    "connection.outboundBudgetBytes", "outbound-budget-bytes", "PIAZZA_OUTBOUND_BUDGET_BYTES", U64, "Bytes queued for all connections together before the biggest queues are shed (0 = no bound)";
    "connection.maxFrameBytes", "max-frame-bytes", "PIAZZA_MAX_FRAME_BYTES", U64, "Largest WebSocket message accepted, in bytes (at most 64 MiB)";
    "connection.handshakeTimeoutMs", "handshake-timeout-ms", "PIAZZA_HANDSHAKE_TIMEOUT_MS", U64, "Milliseconds allowed from TCP accept to a complete hello";
    "connection.resumeBufferBytes", "resume-buffer-bytes", "PIAZZA_RESUME_BUFFER_BYTES", U64, "Bytes of sent frames kept per session for lossless resume";
    "connection.maxPendingHandshakes", "max-pending-handshakes", "PIAZZA_MAX_PENDING_HANDSHAKES", U64, "Connections still in their handshake at once";
    "connection.connectionsPerIpPerSecond", "connections-per-ip-per-second", "PIAZZA_CONNECTIONS_PER_IP_PER_SECOND", U32, "New connections per second from one IP address, 0 = unlimited";
    "connection.framesPerSecond", "frames-per-second", "PIAZZA_FRAMES_PER_SECOND", U32, "Frames per second one connection may send, 0 = unlimited";
    "presence.intervalThreshold", "presence-interval-threshold", "PIAZZA_PRESENCE_INTERVAL_THRESHOLD", U64, "Visible users above which a channel sends INTERVAL presence events";
    "presence.intervalSeconds", "presence-interval-seconds", "PIAZZA_PRESENCE_INTERVAL_SECONDS", Kind::Float, "Seconds between INTERVAL presence events";
    "presence.snapshotMaxUsers", "presence-snapshot-max-users", "PIAZZA_PRESENCE_SNAPSHOT_MAX_USERS", U64, "Users listed in a SNAPSHOT; a bigger channel's SNAPSHOT says its size in interval.totalOccupancy";
    "rooms.dropTimeoutSeconds", "room-drop-timeout-seconds", "PIAZZA_ROOM_DROP_TIMEOUT_SECONDS", U32, "Seconds a dropped room member stays before others hear reason 1";
    "rooms.kickBanSeconds", "kick-ban-seconds", "PIAZZA_KICK_BAN_SECONDS", U32, "Seconds a user removed from a room cannot re-enter it";
    "rooms.maxMembers", "max-room-members", "PIAZZA_MAX_ROOM_MEMBERS", U64, "Members of one room";
    "redisUrl", "redis", "PIAZZA_REDIS_URL", Kind::Secret, "Cluster mode: the Redis the nodes share, e.g. redis://127.0.0.1:6379 (prefer the env variable when it holds a password)";
    "cluster.prefix", "redis-prefix", "PIAZZA_REDIS_PREFIX", Kind::Text, "Cluster mode: prefix of every Redis key and channel";
    "cluster.nodeId", "node-id", "PIAZZA_NODE_ID", Kind::Text, "Cluster mode: this node's id [default: random]";
    "cluster.nodeTimeoutMs", "node-timeout-ms", "PIAZZA_NODE_TIMEOUT_MS", U64, "Cluster mode: milliseconds without a heartbeat before a node counts as dead";
    "cluster.recoveryMessages", "recovery-messages", "PIAZZA_RECOVERY_MESSAGES", U64, "Cluster mode: messages of each message channel kept in Redis, so a client whose node died gets what it missed on another (0 = off)";
    "cluster.recoverySeconds", "recovery-seconds", "PIAZZA_RECOVERY_SECONDS", U64, "Cluster mode: seconds a channel's recovery log outlives its last message (and the oldest message kept)";
    "storage.path", "data-dir", "PIAZZA_DATA_DIR", Kind::Path, "Directory of the storage database (metadata, locks, history survive restarts); without it they live in memory (cluster mode: in Redis)";
    "storage.maxMetadataItems", "max-metadata-items", "PIAZZA_MAX_METADATA_ITEMS", U64, "Items in one channel's or user's metadata";
    "storage.maxMetadataKeyBytes", "max-metadata-key-bytes", "PIAZZA_MAX_METADATA_KEY_BYTES", U64, "Longest metadata item key, bytes";
    "storage.maxMetadataValueBytes", "max-metadata-value-bytes", "PIAZZA_MAX_METADATA_VALUE_BYTES", U64, "Longest metadata item value, bytes";
    "storage.maxMetadataBytes", "max-metadata-bytes", "PIAZZA_MAX_METADATA_BYTES", U64, "Largest whole metadata of a channel or user as JSON, bytes (capped at half of --outbound-queue-bytes)";
    "storage.historyPageBytes", "history-page-bytes", "PIAZZA_HISTORY_PAGE_BYTES", U64, "Bytes of messages in one getMessages answer; past them the page ends early (capped at half of --outbound-queue-bytes)";
    "storage.maxUserMetadataSubscriptions", "max-user-metadata-subscriptions", "PIAZZA_MAX_USER_METADATA_SUBSCRIPTIONS", U64, "Users whose metadata one client may subscribe to";
    "storage.maxLocksPerChannel", "max-locks-per-channel", "PIAZZA_MAX_LOCKS_PER_CHANNEL", U64, "Locks in one channel";
    "storage.historyMaxMessages", "history-max-messages", "PIAZZA_HISTORY_MAX_MESSAGES", U64, "Messages kept in history per channel (or user inbox)";
    "storage.historyMaxAgeSeconds", "history-max-age-seconds", "PIAZZA_HISTORY_MAX_AGE_SECONDS", U64, "Seconds a stored message is kept, 0 = until the count drops it";
    "storage.maxHistoryPage", "max-history-page", "PIAZZA_MAX_HISTORY_PAGE", U64, "Largest messageCount of one getMessages page";
    "storage.historySyncMs", "history-sync-ms", "PIAZZA_HISTORY_SYNC_MS", U64, "Database file: 0 (default) = a storeInHistory message is on disk before its answer, as metadata and locks always are; N = it is in the file before its answer and on disk within N ms (for slow disks)";
    "webhooks.urls", "webhook-url", "PIAZZA_WEBHOOK_URLS", Kind::List, "Webhooks: POST events to this URL (http:// or https://; repeatable; env: comma-separated); needs --webhook-secret";
    "webhooks.secret", "webhook-secret", "PIAZZA_WEBHOOK_SECRET", Kind::Secret, "Webhooks: the HMAC-SHA256 key of x-piazza-signature (at least 16 characters); prefer the env variable";
    "webhooks.presenceChannels", "webhook-presence-channels", "PIAZZA_WEBHOOK_PRESENCE_CHANNELS", Kind::List, "Webhooks: channels whose presence joins and leaves are sent ('*' = any run of characters; comma-separated) [default: none]";
    "webhooks.messageChannels", "webhook-message-channels", "PIAZZA_WEBHOOK_MESSAGE_CHANNELS", Kind::List, "Webhooks: message channels whose messages are sent (patterns as above) [default: none]";
    "webhooks.queueSize", "webhook-queue-size", "PIAZZA_WEBHOOK_QUEUE_SIZE", U64, "Webhooks: events waiting per URL; past it the newest are dropped and counted [default: 10000]";
    "webhooks.timeoutMs", "webhook-timeout-ms", "PIAZZA_WEBHOOK_TIMEOUT_MS", U64, "Webhooks: one attempt's limit in milliseconds [default: 5000]";
    "webhooks.maxAttempts", "webhook-max-attempts", "PIAZZA_WEBHOOK_MAX_ATTEMPTS", U32, "Webhooks: attempts per event [default: 6]";
    "webhooks.retryBaseMs", "webhook-retry-base-ms", "PIAZZA_WEBHOOK_RETRY_BASE_MS", U64, "Webhooks: the first retry's wait in milliseconds, doubling up to 30 s [default: 500]";
}

/// The port the standalone server listens on when no source sets one (`Server.start` in Node
/// defaults to 0, any free port, which suits tests and embedding but not a deployment).
pub const STANDALONE_PORT: u16 = 7700;

impl ServerOption {
    /// The row of a key path, if any.
    pub fn find(key: &str) -> Option<&'static ServerOption> {
        OPTIONS.iter().find(|o| o.key == key)
    }

    /// The default of this option as `--help` shows it (the standalone default for `port`),
    /// or `None` where there is none to show (secrets, optional values).
    pub fn default_text(&self) -> Option<String> {
        if self.key == "port" {
            return Some(STANDALONE_PORT.to_string());
        }
        if matches!(self.kind, Kind::Secret | Kind::App | Kind::AppKey) {
            return None;
        }
        let tree = serde_json::to_value(ServerConfig::default()).expect("config serializes");
        match lookup(&tree, self.key)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            v => Some(v.to_string()),
        }
    }

    /// Parses one raw value (from a flag or the environment) and stores it in `tree`.
    /// An `App`, `AppKey` or `List` value is added to what is already there; everything else
    /// replaces.
    pub fn apply(&self, tree: &mut Value, raw: &str) -> Result<(), String> {
        // A secret's value is never repeated back (error output ends up in logs).
        let shown = if matches!(self.kind, Kind::Secret | Kind::App | Kind::AppKey) {
            "the value".to_string()
        } else {
            format!("{raw:?}")
        };
        let bad = |what: &str| format!("--{} ({}): {shown} {what}", self.flag, self.env);
        let value = match self.kind {
            Kind::Int(max) => match raw.trim().parse::<u64>() {
                Ok(n) if n <= max => Value::from(n),
                _ => return Err(bad(&format!("is not a whole number in 0..={max}"))),
            },
            Kind::Float => match raw.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Value::from(x),
                _ => return Err(bad("is not a number")),
            },
            Kind::Text | Kind::Path | Kind::Secret => Value::String(raw.to_string()),
            Kind::App => {
                let (id, certificate) = raw.split_once('=').ok_or_else(|| bad("is not ID=CERTIFICATE"))?;
                let apps = slot(tree, self.key);
                if !apps.is_object() {
                    *apps = Value::Object(Map::new());
                }
                let mut app = Map::new();
                app.insert("certificate".into(), Value::String(certificate.to_string()));
                apps.as_object_mut().expect("apps is an object").insert(id.to_string(), Value::Object(app));
                return Ok(());
            }
            Kind::AppKey => {
                let (id, key) = raw.split_once('=').ok_or_else(|| bad("is not ID=KEY"))?;
                let app = slot(tree, &format!("apps.{id}"));
                if !app.is_object() {
                    *app = Value::Object(Map::new());
                }
                app.as_object_mut()
                    .expect("an app is an object")
                    .insert("apiKey".into(), Value::String(key.to_string()));
                return Ok(());
            }
            Kind::List => {
                let list = slot(tree, self.key);
                if !list.is_array() {
                    *list = Value::Array(Vec::new());
                }
                let items = raw.split(',').map(str::trim).filter(|i| !i.is_empty());
                list.as_array_mut().expect("a list").extend(items.map(|i| Value::String(i.to_string())));
                return Ok(());
            }
        };
        *slot(tree, self.key) = value;
        Ok(())
    }
}

/// The value at a dotted key path, if present.
pub fn lookup<'a>(tree: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.').try_fold(tree, |node, part| node.get(part))
}

/// The value at a dotted key path, mutably, if present.
pub fn lookup_mut<'a>(tree: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    key.split('.').try_fold(tree, |node, part| node.get_mut(part))
}

/// The slot at a dotted key path, creating the objects on the way.
fn slot<'a>(tree: &'a mut Value, key: &str) -> &'a mut Value {
    key.split('.').fold(tree, |node, part| {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        node.as_object_mut().expect("object").entry(part.to_string()).or_insert(Value::Null)
    })
}

/// Merges `over` into `base`, key by key (objects recursively; anything else replaces).
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                merge(base.entry(key).or_insert(Value::Null), value);
            }
        }
        (base, over) => *base = over,
    }
}

/// Turns the merged tree into a checked configuration; a standalone server without a port
/// from any source listens on [`STANDALONE_PORT`].
pub fn finish(mut tree: Value) -> crate::Result<ServerConfig> {
    if lookup(&tree, "port").is_none_or(Value::is_null) {
        *slot(&mut tree, "port") = Value::from(STANDALONE_PORT);
    }
    if let Some(tls) = tree.get("tls").and_then(Value::as_object) {
        if tls.get("certPath").is_none_or(Value::is_null) || tls.get("keyPath").is_none_or(Value::is_null) {
            return Err(crate::Error::invalid(
                "TLS needs both --tls-cert and --tls-key (tls.certPath and tls.keyPath)",
            ));
        }
    }
    let config: ServerConfig =
        serde_json::from_value(tree).map_err(|e| crate::Error::invalid(format!("server options: {e}")))?;
    config.validate()?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every leaf of the configuration (a value, an optional value, the apps map, or a nested
    /// optional object such as `tls`) — the keys an option row must exist for.
    fn leaves(prefix: &str, value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) if prefix != "apps" => {
                for (key, value) in map {
                    let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    leaves(&path, value, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }

    #[test]
    fn every_config_key_has_a_flag_an_env_variable_and_a_toml_key() {
        let mut keys = Vec::new();
        leaves("", &serde_json::to_value(ServerConfig::default()).unwrap(), &mut keys);
        for key in keys {
            // `tls` is null by default: its rows are its two fields.
            let covered =
                ServerOption::find(&key).is_some() || OPTIONS.iter().any(|o| o.key.starts_with(&format!("{key}.")));
            assert!(covered, "server option {key} has no row in options.rs (flag, env variable, help)");
        }
    }

    #[test]
    fn flags_and_env_variables_are_unique_and_every_row_names_a_real_key() {
        let mut flags = std::collections::HashSet::new();
        let mut envs = std::collections::HashSet::new();
        for o in OPTIONS {
            assert!(flags.insert(o.flag), "flag --{} twice", o.flag);
            assert!(envs.insert(o.env), "env {} twice", o.env);
            let mut tree = Value::Object(Map::new());
            let sample = match o.kind {
                Kind::Int(_) => "1",
                Kind::Float => "1.5",
                Kind::App => "app=0123456789abcdef",
                Kind::AppKey => "app=0123456789abcdefgh",
                _ => "x",
            };
            o.apply(&mut tree, sample).unwrap();
            // A key that ServerConfig does not have is refused by deny_unknown_fields.
            let err = serde_json::from_value::<ServerConfig>(tree).err().map(|e| e.to_string());
            assert!(!err.unwrap_or_default().contains("unknown field"), "row {} names no config key", o.key);
        }
    }

    #[test]
    fn a_tree_without_a_port_listens_on_7700_and_sources_merge_key_by_key() {
        let mut tree: Value = serde_json::json!({ "limits": { "maxMessageBytes": 1000 } });
        merge(&mut tree, serde_json::json!({ "limits": { "publishRatePerChannel": 5 } }));
        ServerOption::find("host").unwrap().apply(&mut tree, "0.0.0.0").unwrap();
        let config = finish(tree).unwrap();
        assert_eq!(config.port, STANDALONE_PORT);
        assert_eq!(config.host, "0.0.0.0");
        assert_eq!(config.limits.max_message_bytes, 1000);
        assert_eq!(config.limits.publish_rate_per_channel, 5);
    }

    #[test]
    fn bad_values_are_refused_with_the_flag_and_variable_named() {
        let mut tree = Value::Object(Map::new());
        let err = ServerOption::find("port").unwrap().apply(&mut tree, "70000").unwrap_err();
        assert!(err.contains("--port") && err.contains("PIAZZA_PORT"), "{err}");
        let err = ServerOption::find("apps").unwrap().apply(&mut tree, "no-equals-secret").unwrap_err();
        assert!(err.contains("ID=CERTIFICATE") && !err.contains("no-equals-secret"), "a secret is not repeated: {err}");
        ServerOption::find("tls.certPath").unwrap().apply(&mut tree, "/c.pem").unwrap();
        assert!(finish(tree).unwrap_err().to_string().contains("--tls-key"));
    }

    #[test]
    fn help_shows_the_defaults_of_server_config() {
        assert_eq!(ServerOption::find("limits.maxMessageBytes").unwrap().default_text().as_deref(), Some("32768"));
        assert_eq!(ServerOption::find("port").unwrap().default_text().as_deref(), Some("7700"));
        assert_eq!(ServerOption::find("adminToken").unwrap().default_text(), None);
    }
}
