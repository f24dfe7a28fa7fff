//! The process's logging: the one `tracing` subscriber of the addon, installed on first use
//! (the first server, login or `setLogger`).
//!
//! Level: every open server and logged-in client holds a [`Claim`] on the level and format it
//! asked for (`logLevel`, default `warn`; `logFormat`, default `text`); the level in force is
//! the most verbose one claimed and goes back down when the claim is dropped (server closed,
//! client logged out or collected). With no claim, nothing is logged. `RUST_LOG`, when set,
//! decides the level instead, for good.
//!
//! Output: stderr (colours only on a terminal; text, or one JSON object per line while any
//! claim asked for JSON), or, after `setLogger(fn)`, the app's function: each record is
//! appended to a bounded queue as JSON and the first of a batch wakes JS through a weak
//! threadsafe function in non-blocking mode, so an engine thread never waits for JS. JS then
//! takes the whole batch at once (`takeLogs`). A full queue drops records and counts them.
//! Every output hides what [`logging::hidden`] names (WebSocket frame traces carry tokens).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use parking_lot::Mutex;
use piazza_engine::logging::{self, Demand, LevelFilter, LogFormat};
use tracing::field::{Field, Visit};
use tracing_log::NormalizeEvent;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::Context;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{fmt, reload, EnvFilter, Layer, Registry};

/// Records waiting for the app's logger before new ones are dropped.
const MAX_RECORDS: usize = 10_000;
const MAX_BYTES: usize = 8 << 20;

type Wake = ThreadsafeFunction<(), (), (), Status, false, true>;

/// Where records go: the app's logger (`setLogger`) instead of stderr.
static TO_JS: AtomicBool = AtomicBool::new(false);
/// stderr in JSON instead of text.
static JSON: AtomicBool = AtomicBool::new(false);

struct Logging {
    /// How the level is changed; `None` when `RUST_LOG` decides.
    reload: Option<reload::Handle<EnvFilter, Registry>>,
    /// Our subscriber is the process's, and receives the `log` crate's records.
    bridged: bool,
    /// The claims of the open servers and clients, and the level last put in force.
    demand: Mutex<(Demand, Option<LevelFilter>)>,
    queue: Arc<Queue>,
}

static LOGGING: OnceLock<Logging> = OnceLock::new();

fn level_filter(level: LevelFilter) -> EnvFilter {
    EnvFilter::builder().with_default_directive(level.into()).parse_lossy("")
}

/// The `log` crate's level for ours.
fn log_level(level: LevelFilter) -> log::LevelFilter {
    match level {
        LevelFilter::OFF => log::LevelFilter::Off,
        LevelFilter::ERROR => log::LevelFilter::Error,
        LevelFilter::WARN => log::LevelFilter::Warn,
        LevelFilter::INFO => log::LevelFilter::Info,
        LevelFilter::DEBUG => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    }
}

fn logging() -> &'static Logging {
    LOGGING.get_or_init(|| {
        use std::io::IsTerminal;
        let from_env = EnvFilter::try_from_default_env().ok();
        let rust_log = from_env.is_some();
        let (filter, handle) = reload::Layer::new(from_env.unwrap_or_else(|| level_filter(LevelFilter::OFF)));
        let queue = Arc::new(Queue::default());
        let text = fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter_fn(|meta| {
                !TO_JS.load(Ordering::Relaxed) && !JSON.load(Ordering::Relaxed) && !logging::hidden(meta)
            }));
        let json = fmt::layer().json().with_writer(std::io::stderr).with_filter(filter_fn(|meta| {
            !TO_JS.load(Ordering::Relaxed) && JSON.load(Ordering::Relaxed) && !logging::hidden(meta)
        }));
        let js = JsLayer { queue: queue.clone() }
            .with_filter(filter_fn(|meta| TO_JS.load(Ordering::Relaxed) && !logging::hidden(meta)));
        let subscriber = tracing_subscriber::registry().with(filter).with(text).with(json).with(js);
        // Another subscriber already installed in this process (by another addon) keeps the
        // records; ours then only counts claims.
        // Records of the `log` crate (rustls, tungstenite) too. The `log` macros check their
        // own maximum level before anything else: it follows ours (`apply`), so that the
        // per-frame trace records of tungstenite cost one comparison, not a call into the
        // subscriber (measured: 6 % of a client's reader thread in a flood).
        let bridged =
            tracing::subscriber::set_global_default(subscriber).is_ok() && tracing_log::LogTracer::init().is_ok();
        if bridged && !rust_log {
            log::set_max_level(log::LevelFilter::Off);
        }
        Logging { reload: (!rust_log).then_some(handle), bridged, demand: Mutex::new((Demand::default(), None)), queue }
    })
}

impl Logging {
    /// Puts the level and format of the current demand in force.
    fn apply(&self, demand: &mut (Demand, Option<LevelFilter>)) {
        JSON.store(demand.0.format() == LogFormat::Json, Ordering::Relaxed);
        let level = demand.0.level();
        if demand.1 != Some(level) {
            demand.1 = Some(level);
            if let Some(handle) = &self.reload {
                let _ = handle.reload(level_filter(level));
                if self.bridged {
                    log::set_max_level(log_level(level));
                }
            }
        }
    }
}

/// An open server's or logged-in client's claim on the process's log level and format;
/// dropping it gives the claim back.
pub struct Claim {
    level: LevelFilter,
    format: LogFormat,
}

impl Claim {
    /// Claims `level` (default `warn`) and `format` (default text); installs the subscriber
    /// on first use.
    pub fn new(level: Option<&str>, format: Option<LogFormat>) -> piazza_engine::Result<Claim> {
        let claim = Claim { level: logging::level_or_default(level)?, format: format.unwrap_or_default() };
        let logging = logging();
        let mut demand = logging.demand.lock();
        demand.0.add(claim.level, claim.format);
        logging.apply(&mut demand);
        Ok(claim)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let logging = logging();
        let mut demand = logging.demand.lock();
        demand.0.remove(self.level, self.format);
        logging.apply(&mut demand);
    }
}

/// Records for the app's logger: a JSON array's elements, and how to wake JS.
#[derive(Default)]
struct Queue {
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    json: String,
    count: usize,
    dropped: u64,
    scheduled: bool,
    wake: Option<Wake>,
}

impl Queue {
    fn push(&self, record: &str) {
        let mut p = self.pending.lock();
        if p.count >= MAX_RECORDS || p.json.len() + record.len() > MAX_BYTES {
            p.dropped += 1;
            return;
        }
        if !p.json.is_empty() {
            p.json.push(',');
        }
        p.json.push_str(record);
        p.count += 1;
        if !p.scheduled {
            if let Some(wake) = &p.wake {
                // Non-blocking: the call only queues a wake-up of the JS thread. Only a queued
                // call counts as scheduled: after `Closing` (JS is going away) records have no
                // reader any more; after any other failure the next record tries again.
                match wake.call((), ThreadsafeFunctionCallMode::NonBlocking) {
                    napi::Status::Ok | napi::Status::QueueFull => p.scheduled = true,
                    napi::Status::Closing | napi::Status::InvalidArg => p.wake = None,
                    _ => {}
                }
            }
        }
    }
}

/// Turns each event into a `LogRecord` (`{ level, target, message, fields, timestamp }`) for
/// the app's logger.
struct JsLayer {
    queue: Arc<Queue>,
}

#[derive(Default)]
struct Fields {
    message: String,
    fields: serde_json::Map<String, serde_json::Value>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        match field.name() {
            "message" => match value {
                serde_json::Value::String(s) => self.message = s,
                other => self.message = other.to_string(),
            },
            // What the `log` bridge adds; the target is the record's own.
            name if name.starts_with("log.") => {}
            name => {
                self.fields.insert(name.to_string(), value);
            }
        }
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.put(field, text.into());
    }
}

impl<S: tracing::Subscriber> Layer<S> for JsLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut fields = Fields::default();
        event.record(&mut fields);
        let timestamp =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let record = serde_json::json!({
            "level": meta.level().as_str().to_ascii_lowercase(),
            "target": meta.target(),
            "message": fields.message,
            "fields": fields.fields,
            "timestamp": timestamp,
        });
        self.queue.push(&record.to_string());
    }
}

/// Sends every record to `wake`'s JS side instead of stderr (`None`: back to stderr). `wake`
/// is called, weakly and never blocking an engine thread, when records are waiting; JS then
/// calls [`take_logs`].
#[napi]
pub fn set_logger(wake: Option<Function<(), ()>>) -> Result<()> {
    let wake =
        wake.map(|f| f.build_threadsafe_function().weak::<true>().callee_handled::<false>().build()).transpose()?;
    let logging = logging();
    let mut p = logging.queue.pending.lock();
    TO_JS.store(wake.is_some(), Ordering::Relaxed);
    p.scheduled = false;
    if wake.is_none() {
        p.json.clear();
        p.count = 0;
    } else if p.count > 0 {
        if let Some(wake) = &wake {
            wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
            p.scheduled = true;
        }
    }
    p.wake = wake;
    Ok(())
}

/// The records waiting for the app's logger, and how many were dropped since the last call.
#[napi(object)]
pub struct LogBatch {
    /// A JSON array of `LogRecord`s.
    pub json: String,
    pub dropped: f64,
}

/// Takes every record waiting for the app's logger.
#[napi]
pub fn take_logs() -> LogBatch {
    let mut p = logging().queue.pending.lock();
    p.scheduled = false;
    p.count = 0;
    let dropped = std::mem::take(&mut p.dropped) as f64;
    let json = format!("[{}]", std::mem::take(&mut p.json));
    LogBatch { json, dropped }
}
