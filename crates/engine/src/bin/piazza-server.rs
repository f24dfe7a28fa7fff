//! `piazza-server`: the standalone Piazza server node (no Node.js needed).
//!
//! Settings come from, in increasing precedence: built-in defaults, a TOML file (`--config`,
//! the same keys as `Server.start(options)`), environment variables, and flags.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: the hub allocates small, short-lived buffers per request and per write batch from
/// several threads; with glibc malloc the allocator took about a fifth of the server's cycles in
/// the many-channels benchmark, and mimalloc delivers 25 % more there (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use piazza_engine::config::ServerConfig;
use piazza_engine::server::Server;

#[derive(Parser, Debug)]
#[command(name = "piazza-server", version, about = "Piazza real-time signaling server", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// TOML file with server options (same keys as Server.start options, camelCase).
    #[arg(long, env = "PIAZZA_CONFIG")]
    config: Option<PathBuf>,
    /// Interface to listen on.
    #[arg(long, env = "PIAZZA_HOST")]
    host: Option<String>,
    /// Port to listen on (0 = any free port) [default: 7700].
    #[arg(long, env = "PIAZZA_PORT")]
    port: Option<u16>,
    /// Log level: debug, info, warn, error or none (RUST_LOG overrides).
    #[arg(long, env = "PIAZZA_LOG_LEVEL")]
    log_level: Option<String>,
    /// Largest message payload in bytes [default: 32768].
    #[arg(long, env = "PIAZZA_MAX_MESSAGE_BYTES")]
    max_message_bytes: Option<usize>,
    /// Publishes per second into one channel, 0 = unlimited [default: 60].
    #[arg(long, env = "PIAZZA_PUBLISH_RATE_PER_CHANNEL")]
    publish_rate_per_channel: Option<u32>,
    /// Message channels one client may subscribe to [default: 100].
    #[arg(long, env = "PIAZZA_MAX_SUBSCRIPTIONS_PER_CLIENT")]
    max_subscriptions_per_client: Option<usize>,
    /// Connections accepted at once [default: 100000].
    #[arg(long, env = "PIAZZA_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Bytes queued for one connection before it is closed as a slow consumer [default: 4194304].
    #[arg(long, env = "PIAZZA_OUTBOUND_QUEUE_BYTES")]
    outbound_queue_bytes: Option<usize>,
    /// Largest WebSocket message accepted, in bytes [default: 262144].
    #[arg(long, env = "PIAZZA_MAX_FRAME_BYTES")]
    max_frame_bytes: Option<usize>,
    /// Milliseconds allowed from TCP accept to a complete hello [default: 5000].
    #[arg(long, env = "PIAZZA_HANDSHAKE_TIMEOUT_MS")]
    handshake_timeout_ms: Option<u64>,
    /// Bytes of sent frames kept per session for lossless resume [default: 1048576].
    #[arg(long, env = "PIAZZA_RESUME_BUFFER_BYTES")]
    resume_buffer_bytes: Option<usize>,
    /// Presence states one user may hold per channel [default: 32].
    #[arg(long, env = "PIAZZA_MAX_STATES_PER_USER")]
    max_states_per_user: Option<usize>,
    /// Visible users above which a channel sends INTERVAL presence events [default: 50].
    #[arg(long, env = "PIAZZA_PRESENCE_INTERVAL_THRESHOLD")]
    presence_interval_threshold: Option<usize>,
    /// Seconds between INTERVAL presence events [default: 5].
    #[arg(long, env = "PIAZZA_PRESENCE_INTERVAL_SECONDS")]
    presence_interval_seconds: Option<f64>,
    /// Seconds a dropped room member stays before others hear reason 1 [default: 10].
    #[arg(long, env = "PIAZZA_ROOM_DROP_TIMEOUT_SECONDS")]
    room_drop_timeout_seconds: Option<u32>,
    /// Seconds a user removed from a room cannot re-enter it [default: 60].
    #[arg(long, env = "PIAZZA_KICK_BAN_SECONDS")]
    kick_ban_seconds: Option<u32>,
    /// Members of one room [default: 1000].
    #[arg(long, env = "PIAZZA_MAX_ROOM_MEMBERS")]
    max_room_members: Option<usize>,
    /// Bearer token of the admin HTTP API (≥ 16 characters); prefer the env variable.
    #[arg(long, env = "PIAZZA_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// An app with token authentication, as ID=CERTIFICATE (repeatable; env: comma-separated).
    /// Without any, the server runs in an open development mode.
    #[arg(long = "app", env = "PIAZZA_APPS", value_delimiter = ',', hide_env_values = true)]
    apps: Vec<String>,
    /// PEM certificate chain: serve wss:// (with --tls-key).
    #[arg(long, env = "PIAZZA_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "PIAZZA_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Connections still in their handshake at once [default: 1024].
    #[arg(long, env = "PIAZZA_MAX_PENDING_HANDSHAKES")]
    max_pending_handshakes: Option<usize>,
    /// New connections per second from one IP address, 0 = unlimited [default: 100].
    #[arg(long, env = "PIAZZA_CONNECTIONS_PER_IP_PER_SECOND")]
    connections_per_ip_per_second: Option<u32>,
    /// Frames per second one connection may send, 0 = unlimited [default: 10000].
    #[arg(long, env = "PIAZZA_FRAMES_PER_SECOND")]
    frames_per_second: Option<u32>,
    /// Cluster mode: the Redis the nodes share, e.g. redis://127.0.0.1:6379 (prefer the env
    /// variable when it holds a password).
    #[arg(long = "redis", env = "PIAZZA_REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,
    /// Cluster mode: prefix of every Redis key and channel [default: piazza].
    #[arg(long, env = "PIAZZA_REDIS_PREFIX")]
    redis_prefix: Option<String>,
    /// Cluster mode: this node's id [default: random].
    #[arg(long, env = "PIAZZA_NODE_ID")]
    node_id: Option<String>,
    /// Cluster mode: milliseconds without a heartbeat before a node counts as dead [default: 3000].
    #[arg(long, env = "PIAZZA_NODE_TIMEOUT_MS")]
    node_timeout_ms: Option<u64>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the effective configuration as TOML (secrets masked) and exit.
    PrintConfig,
    /// Print the error-code table (Markdown) and exit.
    Errors,
    /// Make a token for an app backend: prints a signed token (JWT, HS256) for a user.
    Token {
        /// The app id.
        #[arg(long)]
        app_id: String,
        /// The app's certificate (prefer the env variable).
        #[arg(long, env = "PIAZZA_APP_CERTIFICATE", hide_env_values = true)]
        app_certificate: String,
        /// The user id.
        #[arg(long)]
        user_id: String,
        /// Lifetime in seconds, 1–86400.
        #[arg(long, default_value_t = 3600)]
        expire_seconds: u64,
        /// Privileges as JSON, e.g. '{"rooms":[123],"streamChannels":"*"}' [default: everything].
        #[arg(long)]
        privileges: Option<String>,
    },
}

const ERRORS_HEADER: &str = "# Error codes\n\nEvery rejection of a Piazza call is an `RTMError` (an `Error`) with `errorCode`\n(= `code`), `operation`, `reason` and `error: true`; its message starts with the symbolic name.\nThe codes are those of the RTM 2 SDK (`agora-rtm-sdk` 2.x), exported as `ErrorCode`; the TRTC\ncodes of rooms are those of `trtc-electron-sdk`, exported as `TRTCErrorCode`.\nGenerated by `piazza-server errors`; a test keeps it current.\n\n";

fn load(cli: &Cli) -> Result<ServerConfig, String> {
    let mut config = match &cli.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => ServerConfig { port: 7700, ..ServerConfig::default() },
    };
    macro_rules! set {
        ($field:expr, $value:expr) => {
            if let Some(v) = $value.clone() {
                $field = v;
            }
        };
    }
    set!(config.host, cli.host);
    set!(config.port, cli.port);
    if cli.log_level.is_some() {
        config.log_level = cli.log_level.clone();
    }
    set!(config.limits.max_message_bytes, cli.max_message_bytes);
    set!(config.limits.publish_rate_per_channel, cli.publish_rate_per_channel);
    set!(config.limits.max_subscriptions_per_client, cli.max_subscriptions_per_client);
    set!(config.connection.max_connections, cli.max_connections);
    set!(config.connection.outbound_queue_bytes, cli.outbound_queue_bytes);
    set!(config.connection.max_frame_bytes, cli.max_frame_bytes);
    set!(config.connection.handshake_timeout_ms, cli.handshake_timeout_ms);
    set!(config.connection.resume_buffer_bytes, cli.resume_buffer_bytes);
    set!(config.limits.max_states_per_user, cli.max_states_per_user);
    set!(config.presence.interval_threshold, cli.presence_interval_threshold);
    set!(config.presence.interval_seconds, cli.presence_interval_seconds);
    set!(config.rooms.drop_timeout_seconds, cli.room_drop_timeout_seconds);
    set!(config.rooms.kick_ban_seconds, cli.kick_ban_seconds);
    set!(config.rooms.max_members, cli.max_room_members);
    if let Some(token) = &cli.admin_token {
        config.admin_token = Some(piazza_engine::config::Secret::new(token.clone()));
    }
    for app in &cli.apps {
        let (id, certificate) = app.split_once('=').ok_or_else(|| "--app takes ID=CERTIFICATE".to_string())?;
        let certificate = piazza_engine::config::Secret::new(certificate);
        config.apps.insert(id.to_string(), piazza_engine::config::AppConfig { certificate });
    }
    if let (Some(cert_path), Some(key_path)) = (&cli.tls_cert, &cli.tls_key) {
        config.tls =
            Some(piazza_engine::config::TlsConfig { cert_path: cert_path.clone(), key_path: key_path.clone() });
    }
    set!(config.connection.max_pending_handshakes, cli.max_pending_handshakes);
    set!(config.connection.connections_per_ip_per_second, cli.connections_per_ip_per_second);
    set!(config.connection.frames_per_second, cli.frames_per_second);
    if let Some(url) = &cli.redis_url {
        config.redis_url = Some(piazza_engine::config::Secret::new(url.clone()));
    }
    set!(config.cluster.prefix, cli.redis_prefix);
    if cli.node_id.is_some() {
        config.cluster.node_id = cli.node_id.clone();
    }
    set!(config.cluster.node_timeout_ms, cli.node_timeout_ms);
    if config.log_level.is_none() {
        config.log_level = Some("info".into());
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Errors) => {
            print!("{ERRORS_HEADER}{}", piazza_engine::error::markdown_table());
            return ExitCode::SUCCESS;
        }
        Some(Command::Token { app_id, app_certificate, user_id, expire_seconds, privileges }) => {
            let privileges = match privileges.as_deref().map(serde_json::from_str).transpose() {
                Ok(p) => p.unwrap_or_default(),
                Err(e) => {
                    eprintln!("piazza-server token: --privileges: {e}");
                    return ExitCode::from(2);
                }
            };
            return match piazza_engine::auth::generate_token(
                app_id,
                app_certificate,
                user_id,
                *expire_seconds,
                privileges,
            ) {
                Ok(token) => {
                    println!("{token}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("piazza-server token: {e}");
                    ExitCode::from(2)
                }
            };
        }
        _ => {}
    }
    let config = match load(&cli) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("piazza-server: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::PrintConfig) = cli.command {
        print!("{}", toml::to_string(&config.redacted()).expect("config serializes"));
        return ExitCode::SUCCESS;
    }
    let config_is_open = config.apps.is_empty();
    let server = match Server::start(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("piazza-server: {e}");
            return ExitCode::from(1);
        }
    };
    println!("piazza-server {} listening on {}", piazza_engine::VERSION, server.url());
    if config_is_open {
        eprintln!(
            "WARNING: no app certificates configured (--app ID=CERTIFICATE): development mode, any token is accepted"
        );
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.close().await;
    ExitCode::SUCCESS
}
