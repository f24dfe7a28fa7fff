//! The delivery latency histogram (`piazza_delivery_latency_seconds` in `/metrics`): from the
//! receipt of a publish (the server has read and decoded it) to the end of the socket write
//! that carries its frame to a receiver.
//!
//! Sampled, so that it costs nothing per frame: a publish stamps its receipt time into a
//! thread-local while it fans out (`Receipt`); one push in eight into an outbox that has no
//! sample pending leaves the stamp there with the sequence number of the frame just queued;
//! the writer that sends that frame observes the time once its write is done. So receivers are
//! sampled evenly along a fan-out, busy and idle connections alike, at most one sample pending
//! per connection, and observing is two atomic additions. Frames that arrive from other cluster nodes carry no stamp (their
//! receipt happened on another clock), nor do events that are not publishes.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

thread_local! {
    static RECEIPT: Cell<u64> = const { Cell::new(0) };
    static STRIDE: Cell<u32> = const { Cell::new(0) };
}

/// One push in this many that could take a sample takes it (a fan-out to 1,000 receivers
/// gives about 125 samples, spread over the receivers).
const STRIDE_LEN: u32 = 8;

/// Microseconds on a process-wide monotonic clock; never 0 (0 means "no stamp").
pub fn now_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64 + 1
}

/// The stamp of the publish being fanned out on this thread (0: none).
pub fn current() -> u64 {
    RECEIPT.with(Cell::get)
}

/// For a push into an outbox with no sample pending: the stamp to keep, one push in
/// [`STRIDE_LEN`] (0: none).
pub fn sample() -> u64 {
    let receipt = current();
    if receipt == 0 {
        return 0;
    }
    let turn = STRIDE.with(|s| {
        let n = s.get().wrapping_add(1);
        s.set(n);
        n
    });
    if turn.is_multiple_of(STRIDE_LEN) {
        receipt
    } else {
        0
    }
}

/// Stamps this thread's pushes with the receipt time of a publish until dropped.
pub struct Receipt {
    previous: u64,
}

impl Receipt {
    pub fn begin() -> Receipt {
        Receipt { previous: RECEIPT.with(|r| r.replace(now_us())) }
    }
}

impl Drop for Receipt {
    fn drop(&mut self) {
        RECEIPT.with(|r| r.set(self.previous));
    }
}

/// Upper bounds of the buckets, in microseconds (100 µs to 5 s; then +Inf).
const BOUNDS_US: [u64; 15] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000,
];

/// The histogram: two relaxed atomic additions per observation, no lock (the writers of every
/// connection observe into it).
#[derive(Debug, Default)]
pub struct Latency {
    /// Per bucket (not cumulative), the last one past every bound.
    buckets: [AtomicU64; BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
}

impl Latency {
    /// Records one delivery stamped at `receipt` (from [`now_us`]).
    pub fn observe(&self, receipt: u64) {
        let us = now_us().saturating_sub(receipt);
        let bucket = BOUNDS_US.iter().position(|b| us <= *b).unwrap_or(BOUNDS_US.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// What `/metrics` encodes.
    pub fn snapshot(&self) -> LatencySnapshot {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let bounds = BOUNDS_US.iter().map(|b| *b as f64 / 1e6).chain(std::iter::once(f64::MAX));
        LatencySnapshot {
            sum: self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
            count: counts.iter().sum(),
            buckets: bounds.zip(counts).collect(),
        }
    }
}

/// The histogram at one moment, in seconds.
#[derive(Debug)]
pub struct LatencySnapshot {
    sum: f64,
    count: u64,
    buckets: Vec<(f64, u64)>,
}

impl TypedMetric for LatencySnapshot {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for LatencySnapshot {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(self.sum, self.count, &self.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_stamps_this_thread_until_it_is_dropped() {
        assert_eq!(current(), 0);
        {
            let _outer = Receipt::begin();
            let stamp = current();
            assert!(stamp > 0);
            {
                let _inner = Receipt::begin();
                assert!(current() >= stamp);
            }
            assert_eq!(current(), stamp);
        }
        assert_eq!(current(), 0);
    }

    #[test]
    fn observations_land_in_their_buckets() {
        let latency = Latency::default();
        // The clock starts at its first use: let 30 ms pass on it.
        now_us();
        std::thread::sleep(std::time::Duration::from_millis(35));
        latency.observe(now_us());
        latency.observe(now_us().saturating_sub(30_000));
        let snapshot = latency.snapshot();
        assert_eq!(snapshot.count, 2);
        assert_eq!(snapshot.buckets.len(), BOUNDS_US.len() + 1);
        assert_eq!(snapshot.buckets[0].1, 1, "{snapshot:?}");
        assert_eq!(snapshot.buckets[8].1, 1, "30 ms is in the 50 ms bucket: {snapshot:?}");
        assert!(snapshot.sum >= 0.03 && snapshot.sum < 0.05, "{snapshot:?}");
    }
}
