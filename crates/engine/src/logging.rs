//! Logging: `tracing` to stderr. The level comes from `logLevel` (clients and servers) unless
//! `RUST_LOG` is set, which always wins. One global subscriber serves the whole process; the
//! most verbose level any open server or client asked for is the one in force.

use std::sync::OnceLock;

use parking_lot::Mutex;
use tracing_subscriber::{filter::LevelFilter, prelude::*, reload, EnvFilter, Registry};

use crate::error::{Error, Result};

/// Parses a `logLevel` value.
pub fn parse_level(level: &str) -> Result<LevelFilter> {
    Ok(match level {
        "debug" => LevelFilter::DEBUG,
        "info" => LevelFilter::INFO,
        "warn" => LevelFilter::WARN,
        "error" => LevelFilter::ERROR,
        "none" => LevelFilter::OFF,
        other => {
            return Err(Error::invalid(format!(
                "logLevel {other:?} is not one of 'debug', 'info', 'warn', 'error', 'none'"
            )))
        }
    })
}

struct Logging {
    handle: Option<reload::Handle<LevelFilter, Registry>>,
    level: Mutex<LevelFilter>,
}

fn stderr_layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| !prints_frames(meta)))
}

/// The WebSocket library logs every frame's payload at `trace`, and frames carry tokens (`hello`,
/// `renewToken`) and message bodies. Those lines never reach the log, whatever `RUST_LOG` says.
fn prints_frames(meta: &tracing::Metadata<'_>) -> bool {
    *meta.level() == tracing::Level::TRACE
        && (meta.target().starts_with("tungstenite") || meta.target().starts_with("tokio_tungstenite"))
}

static LOGGING: OnceLock<Logging> = OnceLock::new();

fn logging() -> &'static Logging {
    LOGGING.get_or_init(|| {
        if let Ok(filter) = EnvFilter::try_from_default_env() {
            // RUST_LOG wins over every logLevel.
            let _ = tracing_subscriber::registry().with(filter).with(stderr_layer()).try_init();
            Logging { handle: None, level: Mutex::new(LevelFilter::TRACE) }
        } else {
            let (layer, handle) = reload::Layer::new(LevelFilter::WARN);
            let _ = tracing_subscriber::registry().with(layer).with(stderr_layer()).try_init();
            Logging { handle: Some(handle), level: Mutex::new(LevelFilter::WARN) }
        }
    })
}

/// Makes sure logging is set up and at least as verbose as `level` (default `warn`).
pub fn init(level: Option<&str>) -> Result<()> {
    let wanted = match level {
        Some(l) => parse_level(l)?,
        None => LevelFilter::WARN,
    };
    let logging = logging();
    let mut current = logging.level.lock();
    if wanted > *current {
        *current = wanted;
        if let Some(handle) = &logging.handle {
            let _ = handle.modify(|f| *f = wanted);
        }
    }
    Ok(())
}
