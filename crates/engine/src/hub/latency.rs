//! The delivery latency histogram (`piazza_delivery_latency_seconds` in `/metrics`): from the
//! receipt of a publish (the server has read and decoded it) to the end of the socket write
//! that carries its frame to a receiver.
//!
//! Sampled, so that it costs nothing per frame: a publish stamps its receipt time into a
//! thread-local while it fans out (`Receipt`); an outbox that has no sample pending remembers
//! the stamp with the sequence number of the frame just queued; the writer that sends that
//! frame observes the time once its write is done. So each connection contributes one sample
//! per write, for the first stamped frame queued after its previous sample: busy and idle
//! connections alike. Frames that arrive from other cluster nodes carry no stamp (their
//! receipt happened on another clock), nor do events that are not publishes.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::Instant;

use prometheus_client::metrics::histogram::Histogram;

thread_local! {
    static RECEIPT: Cell<u64> = const { Cell::new(0) };
}

/// Microseconds on a process-wide monotonic clock; never 0 (0 means "no stamp").
pub fn now_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64 + 1
}

/// The stamp of the publish being fanned out on this thread (0: none).
pub fn current() -> u64 {
    RECEIPT.with(Cell::get)
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

/// The histogram, in seconds: 100 µs to 5 s.
pub fn histogram() -> Histogram {
    Histogram::new([0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
}

/// Records one delivery stamped at `receipt` (from [`now_us`]).
pub fn observe(histogram: &Histogram, receipt: u64) {
    histogram.observe(now_us().saturating_sub(receipt) as f64 / 1e6);
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
}
