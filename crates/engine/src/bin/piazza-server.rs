//! `piazza-server`: the standalone Piazza server node (no Node.js needed).
//!
//! Settings come from, in increasing precedence: built-in defaults, a TOML file (`--config`,
//! the same keys as `Server.start(options)`), environment variables, and flags.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
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
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the effective configuration as TOML and exit.
    PrintConfig,
}

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
    let config = match load(&cli) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("piazza-server: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::PrintConfig) = cli.command {
        print!("{}", toml::to_string(&config).expect("config serializes"));
        return ExitCode::SUCCESS;
    }
    let server = match Server::start(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("piazza-server: {e}");
            return ExitCode::from(1);
        }
    };
    println!("piazza-server {} listening on {}", piazza_engine::VERSION, server.url());
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.close().await;
    ExitCode::SUCCESS
}
