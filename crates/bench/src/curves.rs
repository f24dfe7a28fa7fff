//! How cost grows: the fan-out (closed loop, one publisher) against the number of subscribers,
//! and a fixed publish rate into 1,000 subscribers against the rate, for each peer; and the
//! chart of both (docs/BENCHMARKS.md). One process per peer holds every subscriber, so the
//! subscriber axis stops at 19,000: a process here may hold at most 20,000 descriptors (the
//! scale scenarios go further with several processes).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use plotters::prelude::*;
use serde::Serialize;

use crate::procs::Server;
use crate::scenario::{self, Load, Metrics, Mode};
use crate::Peer;

pub const SUBSCRIBERS: [usize; 5] = [100, 1_000, 5_000, 10_000, 19_000];
pub const RATES: [f64; 5] = [60.0, 250.0, 500.0, 1_000.0, 2_000.0];

#[derive(Serialize)]
struct Outcome<'a> {
    scenario: String,
    peer: Peer,
    run: usize,
    note: &'a str,
    error: Option<String>,
    metrics: Metrics,
}

fn base() -> Load {
    Load {
        subscribers: 1_000,
        channels: 1,
        publishers: 1,
        size: 128,
        mode: Mode::ClosedLoop { window: 256 },
        warmup: Duration::from_secs(1),
        duration: Duration::from_secs(4),
    }
}

async fn measure(peer: Peer, load: &Load) -> Result<(String, Metrics), String> {
    let server = Server::start(peer, &[]).await?;
    let note = server.note.clone();
    let result = scenario::run_load(&server, peer, load).await;
    server.stop().await;
    result.map(|m| (note, m))
}

/// Measures every point for every peer; one JSON line per point on stdout (`curve-subscribers-N`,
/// `curve-rate-R`).
pub async fn run(peers: &[Peer], runs: usize) {
    let mut points: Vec<(String, Load)> =
        SUBSCRIBERS.iter().map(|&n| (format!("curve-subscribers-{n}"), Load { subscribers: n, ..base() })).collect();
    points.extend(
        RATES.iter().map(|&r| (format!("curve-rate-{r}"), Load { mode: Mode::Rate { per_second: r }, ..base() })),
    );
    for run in 1..=runs {
        for (scenario, load) in &points {
            for &peer in peers {
                eprintln!("curve run {run}/{runs}: {scenario} on {peer:?}…");
                let (note, metrics, error) = match measure(peer, load).await {
                    Ok((note, metrics)) => (note, metrics, None),
                    Err(e) => {
                        eprintln!("  skipped: {e}");
                        (String::new(), Metrics::new(), Some(e))
                    }
                };
                let outcome = Outcome { scenario: scenario.clone(), peer, run, note: &note, error, metrics };
                println!("{}", serde_json::to_string(&outcome).expect("serializes"));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// `{ "curve-subscribers-100": { "piazza": { "deliveries_per_s": …, "p99_us": … }, … }, … }`
type Input = BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>>;

/// Draws the four panels: deliveries/s and p99 against subscribers, and against the rate.
pub fn draw(input: &Path, output: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let data: Input = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    crate::plot::use_dejavu()?;
    let root = BitMapBackend::new(output, (1400, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let root = root
        .titled("How cost grows: one publisher, 128-byte messages, each peer in one process", ("sans-serif", 22))
        .map_err(|e| e.to_string())?;
    let panels = root.split_evenly((2, 2));
    let subscribers: Vec<(f64, String)> =
        SUBSCRIBERS.iter().map(|n| (*n as f64, format!("curve-subscribers-{n}"))).collect();
    let rates: Vec<(f64, String)> = RATES.iter().map(|r| (*r, format!("curve-rate-{r}"))).collect();
    let specs = [
        (&subscribers, "deliveries_per_s", "subscribers (closed loop)", "deliveries/s", 1e-6),
        (&subscribers, "p99_us", "subscribers (closed loop)", "p99, ms", 1e-3),
        (&rates, "deliveries_per_s", "messages/s into 1,000 subscribers", "deliveries/s", 1e-6),
        (&rates, "p99_us", "messages/s into 1,000 subscribers", "p99, ms", 1e-3),
    ];
    for (panel, (xs, metric, x_desc, y_desc, scale)) in panels.iter().zip(specs) {
        let series: BTreeMap<&str, Vec<(f64, f64)>> = ["piazza", "nats", "bare"]
            .into_iter()
            .map(|peer| {
                let points = xs
                    .iter()
                    .filter_map(|(x, key)| data.get(key)?.get(peer)?.get(metric).map(|v| (*x, (v * scale).max(1e-3))))
                    .collect();
                (peer, points)
            })
            .collect();
        let ys = series.values().flatten().map(|p| p.1);
        let (low, high) = ys.fold((f64::MAX, 0.0f64), |(l, h), y| (l.min(y), h.max(y)));
        if high == 0.0 {
            continue;
        }
        let (x0, x1) = (xs[0].0 * 0.8, xs[xs.len() - 1].0 * 1.25);
        let unit = if metric == "deliveries_per_s" { "M " } else { "" };
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{y_desc} vs {x_desc}"), ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d((x0..x1).log_scale(), (low * 0.7..high * 1.4).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(if high / low < 10.0 { 20 } else { 8 })
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| if *v >= 10.0 { format!("{v:.0}") } else { format!("{v:.2}") })
            .light_line_style(WHITE)
            .y_desc(format!("{unit}{y_desc}"))
            .x_desc(x_desc)
            .draw()
            .map_err(|e| e.to_string())?;
        crate::plot::peer_lines(&mut chart, series)?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}
