//! The frames of an outbox, in fixed-size segments.
//!
//! A `VecDeque` that grows doubles its buffer and copies every element into the new one. The
//! outboxes of a channel's subscribers grow in step — they get the same frames at the same
//! moments — so with a thousand subscribers, each holding a few thousand frames not yet
//! acknowledged (a client acknowledges with its heartbeat, every 5 s by default), the copies
//! happened at the same moment and stalled delivery: p99 250 ms at 500 msg/s where it is 15 ms
//! without them (docs/BENCHMARKS.md). Here growing allocates one more segment and copies
//! nothing; only a queue's first segment grows the usual way, up to a segment's size, so an
//! outbox holding a few frames stays small. Segment sizes differ between queues (see
//! `Segmented::size`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Entries per segment, at most.
pub const SEGMENT: usize = 256;

/// A lone segment holding this many entries or fewer is not shrunk.
const MIN_KEPT: usize = 4;

/// Queues made so far (spreads their segment sizes).
static MADE: AtomicUsize = AtomicUsize::new(0);

/// A FIFO queue whose segments, except the first and the last, hold exactly `size` entries;
/// the first may have been popped from, the last is being filled.
pub(super) struct Segmented<T> {
    segments: VecDeque<VecDeque<T>>,
    len: usize,
    /// Entries per segment: between half of [`SEGMENT`] and all of it, different from one
    /// queue to the next, so that the queues of a channel's subscribers, which grow in step,
    /// do not all allocate their next segment during the same delivery (a thousand fresh
    /// allocations in one fan-out made it take up to 10 ms).
    size: usize,
}

impl<T> Default for Segmented<T> {
    fn default() -> Self {
        let half = SEGMENT / 2;
        let size = half + MADE.fetch_add(1, Ordering::Relaxed).wrapping_mul(97) % half;
        Segmented { segments: VecDeque::new(), len: 0, size }
    }
}

impl<T> Segmented<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn push_back(&mut self, value: T) {
        match self.segments.back_mut() {
            Some(last) if last.len() < self.size => last.push_back(value),
            // The first segment grows as a `VecDeque` does (a short queue stays small); the
            // ones after it are allocated whole and never grow.
            Some(_) => self.segments.push_back(single(VecDeque::with_capacity(self.size), value)),
            None => self.segments.push_back(single(VecDeque::new(), value)),
        }
        self.len += 1;
    }

    pub fn pop_front(&mut self) -> Option<T> {
        let lone = self.segments.len() == 1;
        let first = self.segments.front_mut()?;
        let value = first.pop_front();
        if first.is_empty() {
            self.segments.pop_front();
        } else if lone && first.len() <= first.capacity() / 4 && first.capacity() > MIN_KEPT {
            // A lone segment that emptied out to a quarter gives most of its room back: an idle
            // connection keeps a frame or two (its last pong) after a burst, not the burst's
            // high-water mark (amortized: it takes as many pops to get here as the copy costs).
            first.shrink_to(first.len() * 2);
        }
        if value.is_some() {
            self.len -= 1;
        }
        value
    }

    /// The entries from index `start` on, in order.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = &T> + '_ {
        let (segment, offset) = self.locate(start.min(self.len));
        let mut segments = self.segments.range(segment.min(self.segments.len())..);
        let first = segments.next().map(|s| s.range(offset.min(s.len())..));
        first.into_iter().flatten().chain(segments.flatten())
    }

    /// Keeps the first `len` entries, drops the rest.
    pub fn truncate(&mut self, len: usize) {
        while self.len > len {
            let Some(last) = self.segments.back_mut() else { break };
            let drop = (self.len - len).min(last.len());
            last.truncate(last.len() - drop);
            self.len -= drop;
            if last.is_empty() {
                self.segments.pop_back();
            }
        }
    }

    /// The segment and the offset in it of entry `index` (`index <= len`).
    fn locate(&self, index: usize) -> (usize, usize) {
        let first = self.segments.front().map_or(0, VecDeque::len);
        if index < first {
            return (0, index);
        }
        let rest = index - first;
        (1 + rest / self.size, rest % self.size)
    }
}

fn single<T>(mut segment: VecDeque<T>, value: T) -> VecDeque<T> {
    segment.push_back(value);
    segment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(q: &Segmented<usize>, from: usize) -> Vec<usize> {
        q.iter_from(from).copied().collect()
    }

    #[test]
    fn behaves_as_a_fifo_across_segments() {
        let mut q = Segmented::default();
        let mut model = VecDeque::new();
        let mut next = 0usize;
        // Pushes and pops in uneven steps, so segment boundaries fall everywhere.
        for round in 0..40 {
            for _ in 0..(round * 37 % 300) {
                q.push_back(next);
                model.push_back(next);
                next += 1;
            }
            for _ in 0..(round * 53 % 250) {
                assert_eq!(q.pop_front(), model.pop_front());
            }
            assert_eq!(q.len(), model.len());
            let size = q.size;
            for from in [0, 1, size - 1, size, size + 1, model.len() / 2, model.len(), model.len() + 5] {
                let expected: Vec<usize> = model.iter().skip(from).copied().collect();
                assert_eq!(collect(&q, from), expected, "round {round}, from {from}");
            }
            if round % 7 == 6 {
                let keep = model.len() / 3;
                q.truncate(keep);
                model.truncate(keep);
                assert_eq!(collect(&q, 0), model.iter().copied().collect::<Vec<_>>());
            }
        }
        while let Some(v) = model.pop_front() {
            assert_eq!(q.pop_front(), Some(v));
        }
        assert!(q.len() == 0 && q.pop_front().is_none() && q.segments.is_empty());
    }

    #[test]
    fn growing_never_moves_what_is_queued() {
        let mut q = Segmented::default();
        for i in 0..q.size {
            q.push_back(i);
        }
        let first = q.segments[0].as_slices().0.as_ptr();
        for i in q.size..10 * SEGMENT {
            q.push_back(i);
        }
        assert_eq!(q.segments[0].as_slices().0.as_ptr(), first, "the first segment was not copied");
        let middle = q.segments.len() - 1;
        assert!(q.segments.iter().take(middle).all(|s| s.len() == q.size), "full segments before the last");
        let sizes: std::collections::HashSet<usize> = (0..8).map(|_| Segmented::<u8>::default().size).collect();
        assert!(sizes.len() > 1 && sizes.iter().all(|s| (SEGMENT / 2..SEGMENT).contains(s)), "{sizes:?}");
        q.truncate(0);
        assert!(q.len() == 0 && q.segments.is_empty());
    }

    #[test]
    fn a_queue_that_emptied_out_gives_its_room_back() {
        // A burst of 40 frames, then acknowledgements down to the last one (an idle connection's
        // last pong): the lone segment keeps room for a few, not for 40.
        let mut q = Segmented::default();
        for i in 0..40 {
            q.push_back(i);
        }
        assert!(q.segments[0].capacity() >= 40);
        while q.len() > 1 {
            q.pop_front();
        }
        assert!(q.segments[0].capacity() <= MIN_KEPT, "{} kept", q.segments[0].capacity());
        assert_eq!(collect(&q, 0), [39]);
        // It still grows and stays in order afterwards.
        for i in 40..50 {
            q.push_back(i);
        }
        assert_eq!(collect(&q, 0), (39..50).collect::<Vec<_>>());
    }
}
