//! The latency chart of docs/BENCHMARKS.md: end-to-end latency percentiles per peer at 60 and
//! 500 messages per second into 1,000 subscribers (medians of the runs), on a log scale.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

/// `{ "latency60": { "piazza": { "p50_us": …, "p99_us": …, "p999_us": …, "max_us": … }, … }, … }`
type Input = BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>>;

const FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

const PERCENTILES: [(&str, &str); 4] = [("p50_us", "p50"), ("p99_us", "p99"), ("p999_us", "p99.9"), ("max_us", "max")];

pub fn color(peer: &str) -> RGBColor {
    match peer {
        "piazza" => RGBColor(214, 39, 40),
        "nats" => RGBColor(31, 119, 180),
        "socket-io" => RGBColor(44, 160, 44),
        _ => RGBColor(127, 127, 127),
    }
}

/// Makes DejaVu Sans the charts' sans-serif font.
pub fn use_dejavu() -> Result<(), String> {
    let font = FONTS
        .iter()
        .find_map(|p| std::fs::read(p).ok())
        .ok_or("no DejaVuSans.ttf found (apt-get install fonts-dejavu-core)")?;
    register_font("sans-serif", FontStyle::Normal, Box::leak(font.into_boxed_slice()))
        .map_err(|_| "the font could not be read".to_string())
}

pub fn draw(input: &Path, output: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let data: Input = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    use_dejavu()?;

    let root = BitMapBackend::new(output, (1500, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let root = root
        .titled("End-to-end latency into 1,000 subscribers (lower is better)", ("sans-serif", 22))
        .map_err(|e| e.to_string())?;
    let panels = root.split_evenly((1, 3));
    for (panel, scenario) in panels.iter().zip(["latency60", "latency500", "latency1000"]) {
        let Some(peers) = data.get(scenario) else { continue };
        let values = peers.values().flat_map(|m| PERCENTILES.iter().filter_map(|(k, _)| m.get(*k).copied()));
        let top = values.fold(1.0f64, f64::max) / 1000.0 * 2.0;
        let rate = scenario.trim_start_matches("latency");
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{rate} messages/s"), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0..PERCENTILES.len(), (0.05f64..top.max(1.0)).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_labels(PERCENTILES.len())
            .x_label_formatter(&|i| PERCENTILES.get(*i).map(|p| p.1.to_string()).unwrap_or_default())
            .y_desc("milliseconds")
            .draw()
            .map_err(|e| e.to_string())?;
        let lines = peers.iter().map(|(peer, metrics)| {
            let points = PERCENTILES
                .iter()
                .enumerate()
                .filter_map(|(i, (k, _))| metrics.get(*k).map(|us| (i, (us / 1000.0).max(0.05))))
                .collect();
            (peer.as_str(), points)
        });
        peer_lines(&mut chart, lines)?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// Draws each peer's points as a line with dots in the peer's colour, and the legend.
pub fn peer_lines<'a, 'p, X, Y>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    lines: impl IntoIterator<Item = (&'p str, Vec<(X::ValueType, Y::ValueType)>)>,
) -> Result<(), String>
where
    X: Ranged,
    Y: Ranged,
    X::ValueType: Copy + 'static,
    Y::ValueType: Copy + 'static,
{
    for (peer, points) in lines {
        let c = color(peer);
        chart
            .draw_series(LineSeries::new(points.clone(), c.stroke_width(3)))
            .map_err(|e| e.to_string())?
            .label(peer)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, c.filled()))).map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}
