//! Logging: the engine only emits `tracing` events; it installs no subscriber. Where the
//! records go is the host's decision: the `piazza-server` binary writes them to stderr, the
//! Node addon to stderr or to the app's logger (`setLogger`).
//!
//! What the hosts share lives here: the `logLevel` and `logFormat` values ([`parse_level`],
//! [`LogFormat`]), the arithmetic of a process-wide level that several servers and clients ask
//! for at once ([`Demand`]), and the one rule every output applies ([`hidden`]).

use serde::{Deserialize, Serialize};
pub use tracing::level_filters::LevelFilter;

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

/// The `logLevel` a server or client asked for, `warn` when it gave none.
pub fn level_or_default(level: Option<&str>) -> Result<LevelFilter> {
    level.map_or(Ok(LevelFilter::WARN), parse_level)
}

/// `logFormat`: human-readable lines, or one JSON object per line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    /// Parses a `logFormat` value.
    pub fn parse(format: &str) -> Result<LogFormat> {
        match format {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(Error::invalid(format!("logFormat {other:?} is not one of 'text', 'json'"))),
        }
    }
}

/// What the open servers and clients of one process ask of its one subscriber: how many asked
/// for each level, and how many for JSON. The level in force is the most verbose one asked for
/// by anyone still open (none open: nothing is logged), so it goes back down when the verbose
/// one closes; the output is JSON while anyone open asked for JSON.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Demand {
    /// Indexed by [`slot`]: `none`, `error`, `warn`, `info`, `debug`, `trace`.
    levels: [usize; 6],
    json: usize,
}

const LEVELS: [LevelFilter; 6] = [
    LevelFilter::OFF,
    LevelFilter::ERROR,
    LevelFilter::WARN,
    LevelFilter::INFO,
    LevelFilter::DEBUG,
    LevelFilter::TRACE,
];

fn slot(level: LevelFilter) -> usize {
    LEVELS.iter().position(|l| *l == level).expect("every level filter has a slot")
}

impl Demand {
    /// One more open server or client asks for `level` and `format`.
    pub fn add(&mut self, level: LevelFilter, format: LogFormat) {
        self.levels[slot(level)] += 1;
        self.json += usize::from(format == LogFormat::Json);
    }

    /// A server or client that [`Demand::add`]ed the same `level` and `format` closed.
    pub fn remove(&mut self, level: LevelFilter, format: LogFormat) {
        let count = &mut self.levels[slot(level)];
        *count = count.checked_sub(1).expect("removed a level that was not added");
        if format == LogFormat::Json {
            self.json = self.json.checked_sub(1).expect("removed a JSON format that was not added");
        }
    }

    /// The level in force: the most verbose one asked for; `OFF` when nobody asks.
    pub fn level(&self) -> LevelFilter {
        (0..LEVELS.len()).rev().find(|&i| self.levels[i] > 0).map_or(LevelFilter::OFF, |i| LEVELS[i])
    }

    /// The format in force: JSON while anyone asks for it.
    pub fn format(&self) -> LogFormat {
        if self.json > 0 {
            LogFormat::Json
        } else {
            LogFormat::Text
        }
    }
}

/// Records no output may carry, whatever the level or `RUST_LOG` says: the WebSocket library
/// logs every frame's payload at `trace`, and frames carry tokens (`hello`, `renewToken`) and
/// message bodies. Every host filters its outputs with this.
pub fn hidden(meta: &tracing::Metadata<'_>) -> bool {
    *meta.level() == tracing::Level::TRACE
        && (meta.target().starts_with("tungstenite") || meta.target().starts_with("tokio_tungstenite"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_in_force_is_the_most_verbose_of_those_open_and_goes_back_down() {
        let mut demand = Demand::default();
        assert_eq!(demand.level(), LevelFilter::OFF, "nobody open: nothing is logged");
        demand.add(LevelFilter::ERROR, LogFormat::Text);
        assert_eq!(demand.level(), LevelFilter::ERROR, "an error-only process logs no warnings");
        demand.add(LevelFilter::DEBUG, LogFormat::Text);
        demand.add(LevelFilter::WARN, LogFormat::Text);
        demand.add(LevelFilter::DEBUG, LogFormat::Text);
        assert_eq!(demand.level(), LevelFilter::DEBUG);
        demand.remove(LevelFilter::DEBUG, LogFormat::Text);
        assert_eq!(demand.level(), LevelFilter::DEBUG, "one debug asker is still open");
        demand.remove(LevelFilter::DEBUG, LogFormat::Text);
        assert_eq!(demand.level(), LevelFilter::WARN, "back down when the verbose ones close");
        demand.remove(LevelFilter::WARN, LogFormat::Text);
        assert_eq!(demand.level(), LevelFilter::ERROR);
        demand.remove(LevelFilter::ERROR, LogFormat::Text);
        assert_eq!(demand, Demand::default());
    }

    #[test]
    fn none_asks_for_nothing_and_silences_a_process_where_nobody_asks_for_more() {
        let mut demand = Demand::default();
        demand.add(LevelFilter::OFF, LogFormat::Text);
        demand.add(LevelFilter::OFF, LogFormat::Text);
        assert_eq!(demand.level(), LevelFilter::OFF);
        demand.add(LevelFilter::INFO, LogFormat::Text);
        assert_eq!(demand.level(), LevelFilter::INFO);
        demand.remove(LevelFilter::INFO, LogFormat::Text);
        assert_eq!(demand.level(), LevelFilter::OFF);
    }

    #[test]
    fn json_is_in_force_while_anyone_open_asked_for_it() {
        let mut demand = Demand::default();
        assert_eq!(demand.format(), LogFormat::Text);
        demand.add(LevelFilter::WARN, LogFormat::Json);
        demand.add(LevelFilter::INFO, LogFormat::Text);
        assert_eq!(demand.format(), LogFormat::Json);
        demand.remove(LevelFilter::WARN, LogFormat::Json);
        assert_eq!(demand.format(), LogFormat::Text);
        assert_eq!(demand.level(), LevelFilter::INFO);
    }

    #[test]
    fn levels_and_formats_parse_and_bad_values_are_refused() {
        assert_eq!(parse_level("none").unwrap(), LevelFilter::OFF);
        assert_eq!(parse_level("debug").unwrap(), LevelFilter::DEBUG);
        assert!(parse_level("loud").unwrap_err().reason.contains("'none'"));
        assert_eq!(level_or_default(None).unwrap(), LevelFilter::WARN);
        assert_eq!(LogFormat::parse("json").unwrap(), LogFormat::Json);
        assert!(LogFormat::parse("xml").is_err());
        let format: LogFormat = serde_json::from_str("\"text\"").unwrap();
        assert_eq!(format, LogFormat::Text);
        assert!(serde_json::from_str::<LogFormat>("\"JSON\"").is_err());
    }

    #[test]
    fn websocket_frame_traces_are_hidden_and_nothing_else() {
        use tracing::{callsite::Identifier, field::FieldSet, metadata::Kind, Level, Metadata};
        struct Site;
        impl tracing::Callsite for Site {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                unimplemented!()
            }
        }
        static SITE: Site = Site;
        let meta = |target: &'static str, level| {
            Metadata::new("e", target, level, None, None, None, FieldSet::new(&[], Identifier(&SITE)), Kind::EVENT)
        };
        assert!(hidden(&meta("tungstenite::protocol", Level::TRACE)));
        assert!(hidden(&meta("tokio_tungstenite", Level::TRACE)));
        assert!(!hidden(&meta("tungstenite::protocol", Level::DEBUG)));
        assert!(!hidden(&meta("piazza_engine::server", Level::TRACE)));
    }
}
