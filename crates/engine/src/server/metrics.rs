//! `GET /metrics`: the node's stats in the Prometheus text format, named by the Prometheus
//! conventions (base units, `_total` on counters, a `reason` label instead of one metric per
//! cause, the standard `process_*` metrics, `piazza_build_info`), encoded by `prometheus-client`.
//!
//! Readable with the admin token or with the read-only `metricsToken` (which opens nothing
//! else); open when neither is configured.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::hub::Hub;

type Labels = Vec<(&'static str, &'static str)>;

fn gauge(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let metric = Gauge::<i64>::default();
    metric.set(i64::try_from(value).unwrap_or(i64::MAX));
    registry.register(name, help, metric);
}

fn counter(registry: &mut Registry, name: &str, help: &str, value: u64) {
    // `prometheus-client` adds the `_total` suffix of a counter.
    let metric = Counter::<u64>::default();
    metric.inc_by(value);
    registry.register(name, help, metric);
}

/// The exposition text of `hub`'s node.
pub fn render(hub: &Hub) -> String {
    let s = hub.stats();
    let mut registry = Registry::default();
    registry.register(
        "piazza_build",
        "The build of this node",
        Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
    );
    gauge(&mut registry, "piazza_connections", "Open WebSocket connections", s.connections);
    gauge(&mut registry, "piazza_sessions", "Sessions (logged-in RTM users and TRTC instances)", s.users);
    gauge(&mut registry, "piazza_channels", "Message channels with subscribers on this node", s.channels);
    gauge(&mut registry, "piazza_stream_channels", "Stream channels with members on this node", s.stream_channels);
    gauge(&mut registry, "piazza_rooms", "Rooms with members on this node", s.rooms);
    gauge(&mut registry, "piazza_outbound_queued_bytes", "Bytes queued for all connections", s.outbound_bytes);
    gauge(
        &mut registry,
        "piazza_outbound_budget_bytes",
        "connection.outboundBudgetBytes (0 = none)",
        hub.config().connection.outbound_budget_bytes as u64,
    );
    counter(&mut registry, "piazza_publishes", "Publishes accepted", s.messages_in);
    counter(&mut registry, "piazza_frames_delivered", "Frames queued for receivers by fan-out", s.messages_out);
    let dropped = Family::<Labels, Counter>::default();
    // Frames dropped from queues that overflowed (slow consumers, the budget, detached sessions)
    // and best-effort realtime datagrams for congested receivers.
    dropped.get_or_create(&vec![("reason", "queue_overflow")]).inc_by(s.queue_dropped);
    dropped.get_or_create(&vec![("reason", "realtime_congested")]).inc_by(s.realtime_dropped);
    registry.register("piazza_frames_dropped", "Frames dropped, by reason", dropped);
    counter(&mut registry, "piazza_slow_consumers", "Connections closed as slow consumers", s.slow_consumers);
    counter(
        &mut registry,
        "piazza_budget_evictions",
        "Connections closed to keep all queues within the outbound budget",
        s.budget_evictions,
    );
    counter(
        &mut registry,
        "piazza_budget_resume_trims",
        "Sessions whose unacknowledged frames were forgotten to keep within the outbound budget",
        s.budget_trims,
    );
    counter(&mut registry, "piazza_bad_frames", "Client frames that could not be decoded", s.bad_frames);
    registry.register(
        "piazza_delivery_latency_seconds",
        "From a publish's receipt to the socket write carrying its frame, sampled",
        hub.delivery_latency(),
    );
    if let Some(w) = hub.webhook_counters() {
        use std::sync::atomic::Ordering::Relaxed;
        counter(&mut registry, "piazza_webhooks_sent", "Webhook events a receiver took (2xx)", w.sent.load(Relaxed));
        let attempts = w.failed_attempts.load(Relaxed);
        counter(
            &mut registry,
            "piazza_webhook_attempts_failed",
            "Webhook attempts that failed (retried or not)",
            attempts,
        );
        let dropped = Family::<Labels, Counter>::default();
        dropped.get_or_create(&vec![("reason", "queue_full")]).inc_by(w.dropped_queue_full.load(Relaxed));
        dropped.get_or_create(&vec![("reason", "gave_up")]).inc_by(w.dropped_gave_up.load(Relaxed));
        registry.register("piazza_webhooks_dropped", "Webhook events dropped, by reason", dropped);
        gauge(&mut registry, "piazza_webhooks_queued", "Webhook events waiting to be sent", w.queued.load(Relaxed));
    }
    process(&mut registry);
    let mut out = String::new();
    encode(&mut out, &registry).expect("writing to a String cannot fail");
    out
}

/// The standard process metrics (Linux: from /proc).
#[cfg(target_os = "linux")]
fn process(registry: &mut Registry) {
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name (which may hold spaces): utime 11, stime 12,
        // starttime 19 (in ticks since boot), rss 21 (pages).
        let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("").split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let cpu = Counter::<f64, std::sync::atomic::AtomicU64>::default();
        cpu.inc_by((field(11) + field(12)) as f64 / ticks);
        registry.register("process_cpu_seconds", "User and system CPU time spent, in seconds", cpu);
        gauge(registry, "process_resident_memory_bytes", "Resident memory size in bytes", field(21) * page);
        let boot = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| s.lines().find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse::<u64>().ok())));
        if let Some(boot) = boot {
            let start = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
            start.set(boot as f64 + field(19) as f64 / ticks);
            registry.register(
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch, in seconds",
                start,
            );
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        gauge(registry, "process_open_fds", "Open file descriptors", fds.count() as u64);
    }
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        gauge(registry, "process_max_fds", "Maximum open file descriptors", limit.rlim_cur);
    }
}

#[cfg(not(target_os = "linux"))]
fn process(_registry: &mut Registry) {}
