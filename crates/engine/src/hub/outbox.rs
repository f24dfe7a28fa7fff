//! The bounded, sequenced outbound queue of one session.
//!
//! Publishers push already-encoded frames (the same `Bytes` for every subscriber); the writer
//! of the connection the session is attached to takes everything unsent in one go and writes
//! it with a single flush, so a burst costs one syscall per connection, not one per frame.
//!
//! Every frame gets a sequence number (1, 2, …). Frames already written are kept, up to
//! `retain` bytes, until the client acknowledges them (its pings carry how many frames it has
//! received). When a connection drops, the session stays alive for its presence timeout; frames
//! keep queueing, and a client that comes back with `resume` gets every frame after the last
//! one it received — the ones lost in flight and the ones queued while it was away.
//!
//! Overflow policy:
//! - attached (slow consumer): when unsent frames would exceed `limit` bytes, the queue is
//!   emptied, the frames are counted as dropped, and the connection is closed with 4003. A
//!   consumer that cannot keep up is told and disconnected; it is never left connected while
//!   silently missing messages.
//! - detached: past `limit` bytes the session can no longer be resumed exactly; the frames are
//!   dropped (counted) and the next reconnect starts a new session.
//! - best-effort frames (realtime datagrams, [`Outbox::push_droppable`]) are dropped, and
//!   counted, once the unsent bytes reach half the limit; they never close a connection.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

use super::budget::{Budget, GRANULE};
use super::frames::Segmented;
use crate::protocol::{close, codec};

/// What happened to a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    Queued,
    /// The queue overflowed while attached: this and every unsent frame were dropped and the
    /// connection is closing (slow consumer).
    Overflow {
        dropped: usize,
    },
    /// The queue overflowed while detached: the frames were dropped and the session can no
    /// longer be resumed exactly.
    Lost {
        dropped: usize,
    },
    /// A droppable frame was dropped because the queue is congested.
    Dropped,
    /// The outbox is closed; the frame was not queued.
    Closed,
}

/// A close the writer must send once the queue is drained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closing {
    pub code: u16,
    pub reason: String,
}

/// Why a resume cannot continue the session's frame sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeGap {
    /// Frames were dropped while the session was detached.
    Lost,
    /// The client's position is older than the oldest frame kept.
    TooOld { received: u64, oldest: u64 },
}

#[derive(Default)]
struct Inner {
    /// Frames kept: sent-but-unacknowledged ones, then unsent ones (in segments: see
    /// `hub::frames`).
    frames: Segmented<Message>,
    /// Sequence number of `frames[0]` (sequence numbers start at 1).
    base: u64,
    /// Sequence number of the next frame to write.
    next_send: u64,
    unsent_bytes: usize,
    sent_bytes: usize,
    closing: Option<Closing>,
    /// The connection the session is attached to, and how to wake its writer.
    attachment: Option<(u64, Arc<Notify>)>,
    /// Frames were dropped while detached: the session cannot be resumed exactly.
    lost: bool,
    /// Kept bytes as last reported to the node's budget (within a granule of the truth).
    reported: usize,
    /// The latency sample pending (`hub::latency`): the sequence number of a queued frame and
    /// its publish's receipt time (0: none).
    sample: (u64, u64),
}

/// The outbound queue of a session; see the module docs for the policy.
pub struct Outbox {
    inner: Mutex<Inner>,
    /// Wakes the reader when a close is requested (slow consumer, kick, replaced).
    closed: Notify,
    limit: usize,
    retain: usize,
    /// The node's budget for queued outbound bytes, kept informed of this queue's size.
    budget: Option<Arc<Budget>>,
}

fn frame_len(message: &Message) -> usize {
    match message {
        Message::Text(t) => t.len(),
        Message::Binary(b) => b.len(),
        _ => 16,
    }
}

/// Frames the writer took, already encoded as WebSocket frames into one buffer, and the close
/// to send after them if the outbox is closing.
#[derive(Default)]
pub struct Batch {
    pub bytes: Vec<u8>,
    /// The payload of a big frame whose header ends `bytes`: written after `bytes`, shared with
    /// every other receiver instead of copied into each connection's buffer.
    pub large: Option<bytes::Bytes>,
    /// How many frames `bytes` (and `large`) hold.
    pub frames: usize,
    pub close: Option<Closing>,
    /// The outbox had nothing more to send when this batch was taken.
    pub drained: bool,
    /// The receipt time of a publish whose frame this batch carries (`hub::latency`; 0: none).
    pub receipt: u64,
}

/// A batch stops growing past this many bytes (the rest waits for the next write), so a
/// writer's buffer stays small however much is queued.
pub const BATCH_BYTES: usize = 64 * 1024;

/// Frames from this size on are not copied into the batch (see [`Batch::large`]): a big event
/// sent to thousands of members (an INTERVAL of a join storm) would otherwise cost its size in
/// every connection's buffer at once.
pub const LARGE_FRAME: usize = 16 * 1024;

impl Batch {
    /// Empties the batch for reuse. The buffer is given back once the queue is empty: a writer
    /// that ran dry holds nothing (heaptrack, 19,000 idle connections with presence: their
    /// writers' kept buffers were 11 MB, 6 % of the heap); one that is busy keeps it between
    /// batches up to twice [`BATCH_BYTES`]. The next batch allocates it again, once, at its size.
    pub fn clear(&mut self) {
        self.bytes.clear();
        if self.drained || self.bytes.capacity() > 2 * BATCH_BYTES {
            self.bytes = Vec::new();
        }
        self.large = None;
        self.frames = 0;
        self.drained = false;
        self.receipt = 0;
    }
}

impl Inner {
    fn unsent_index(&self) -> usize {
        (self.next_send - self.base) as usize
    }

    /// Forgets sent frames beyond the retention budget.
    fn trim(&mut self, retain: usize) {
        while self.sent_bytes > retain && self.next_send > self.base {
            let frame = self.frames.pop_front().expect("a sent frame");
            self.sent_bytes -= frame_len(&frame);
            self.base += 1;
        }
    }

    fn wake(&self) {
        if let Some((_, notify)) = &self.attachment {
            notify.notify_one();
        }
    }

    fn drop_unsent(&mut self) -> usize {
        let keep = self.unsent_index();
        let dropped = self.frames.len() - keep;
        self.frames.truncate(keep);
        self.unsent_bytes = 0;
        // Its frame is gone (and its sequence number will be reused).
        self.sample = (0, 0);
        dropped
    }

    /// Drops every unsent frame (plus `extra` not queued): the session can no longer be
    /// resumed exactly, and an attached connection is closed as a slow consumer.
    fn overflow(&mut self, extra: usize, reason: impl FnOnce() -> String) -> Push {
        let dropped = self.drop_unsent() + extra;
        self.lost = true;
        if self.attachment.is_none() || self.closing.is_some() {
            return Push::Lost { dropped };
        }
        self.closing = Some(Closing { code: close::SLOW_CONSUMER, reason: reason() });
        self.wake();
        Push::Overflow { dropped }
    }
}

impl Outbox {
    /// An outbox holding at most `limit` unsent bytes and keeping `retain` bytes of sent frames
    /// for resume.
    pub fn new(limit: usize, retain: usize) -> Self {
        Outbox {
            inner: Mutex::new(Inner { base: 1, next_send: 1, ..Inner::default() }),
            closed: Notify::new(),
            limit,
            retain,
            budget: None,
        }
    }

    /// [`Outbox::new`], counted in the node's outbound `budget`.
    pub fn with_budget(limit: usize, retain: usize, budget: Arc<Budget>) -> Self {
        let mut outbox = Outbox::new(limit, retain);
        outbox.budget = Some(budget);
        outbox
    }

    /// Tells the budget this queue's size, when it moved by a granule or more, or reached zero.
    fn settle(&self, inner: &mut Inner) {
        if let Some(budget) = &self.budget {
            let kept = inner.unsent_bytes + inner.sent_bytes;
            if kept.abs_diff(inner.reported) >= GRANULE || (kept == 0 && inner.reported != 0) {
                budget.report(inner.reported, kept);
                inner.reported = kept;
            }
        }
    }

    /// Queues a frame that must arrive (messages, events, responses).
    pub fn push(&self, message: Message) -> Push {
        self.push_inner(message, false)
    }

    /// Queues a best-effort frame, dropped (and reported) when the queue is half full.
    pub fn push_droppable(&self, message: Message) -> Push {
        self.push_inner(message, true)
    }

    fn push_inner(&self, message: Message, droppable: bool) -> Push {
        let len = frame_len(&message);
        let mut inner = self.inner.lock();
        if inner.closing.is_some() {
            return Push::Closed;
        }
        if droppable && inner.unsent_bytes + len > self.limit / 2 {
            return Push::Dropped;
        }
        if inner.lost && inner.attachment.is_none() {
            // Frames were already lost while detached: no resume can deliver this one, and the
            // next connection starts a new session. Counted, not kept.
            return if droppable { Push::Dropped } else { Push::Lost { dropped: 1 } };
        }
        if inner.unsent_bytes + len > self.limit {
            // Frames are gone: a later resume could not be exact.
            let push = inner.overflow(1, || format!("slow consumer: more than {} bytes queued", self.limit));
            self.settle(&mut inner);
            drop(inner);
            if matches!(push, Push::Overflow { .. }) {
                self.closed.notify_waiters();
            }
            return push;
        }
        // Wake the writer only if it may be idle, and after letting go of the lock (the writer
        // takes it next).
        let wake = if inner.unsent_bytes == 0 { inner.attachment.as_ref().map(|(_, n)| n.clone()) } else { None };
        inner.frames.push_back(message);
        inner.unsent_bytes += len;
        if inner.sample.1 == 0 && inner.attachment.is_some() {
            let receipt = super::latency::sample();
            if receipt != 0 {
                inner.sample = (inner.base + inner.frames.len() as u64 - 1, receipt);
            }
        }
        self.settle(&mut inner);
        drop(inner);
        if let Some(notify) = wake {
            notify.notify_one();
        }
        Push::Queued
    }

    /// Attaches a connection (`id`); returns the notify its writer waits on. With `resume`
    /// (frames the client already received), continues the sequence after them, or says why
    /// it cannot.
    pub fn attach(&self, id: u64, resume: Option<u64>) -> Result<Arc<Notify>, ResumeGap> {
        let mut inner = self.inner.lock();
        if let Some(received) = resume {
            if inner.lost {
                return Err(ResumeGap::Lost);
            }
            let sent_end = inner.next_send - 1;
            if received + 1 < inner.base || received > sent_end {
                return Err(ResumeGap::TooOld { received, oldest: inner.base });
            }
            // Rewind: everything after `received` is sent again.
            let resend: usize = inner
                .frames
                .iter_from((received + 1 - inner.base) as usize)
                .take((sent_end - received) as usize)
                .map(frame_len)
                .sum();
            inner.sent_bytes -= resend;
            inner.unsent_bytes += resend;
            inner.next_send = received + 1;
            // What the client has is acknowledged.
            while inner.base <= received {
                let frame = inner.frames.pop_front().expect("an acknowledged frame");
                inner.sent_bytes -= frame_len(&frame);
                inner.base += 1;
            }
            self.settle(&mut inner);
        }
        if let Some((_, old)) = inner.attachment.take() {
            old.notify_one();
        }
        // A close belonged to the previous connection; the new one starts open. (Sessions that
        // ended are never attached again.)
        inner.closing = None;
        let notify = Arc::new(Notify::new());
        inner.attachment = Some((id, notify.clone()));
        if inner.unsent_bytes > 0 || inner.closing.is_some() {
            notify.notify_one();
        }
        Ok(notify)
    }

    /// Detaches connection `id`; returns whether it was the one attached.
    pub fn detach(&self, id: u64) -> bool {
        let mut inner = self.inner.lock();
        match &inner.attachment {
            Some((current, notify)) if *current == id => {
                notify.notify_one();
                inner.attachment = None;
                // A sample waiting out a disconnection would measure the disconnection.
                inner.sample = (0, 0);
                true
            }
            _ => false,
        }
    }

    /// The connection attached now, if any.
    pub fn attached(&self) -> Option<u64> {
        self.inner.lock().attachment.as_ref().map(|(id, _)| *id)
    }

    /// Whether connection `id` is the one attached.
    pub fn is_attached(&self, id: u64) -> bool {
        self.inner.lock().attachment.as_ref().is_some_and(|(current, _)| *current == id)
    }

    /// Forgets sent frames the client has received (`received` = frames received so far).
    pub fn ack(&self, received: u64) {
        let mut inner = self.inner.lock();
        while inner.base <= received && inner.base < inner.next_send {
            let frame = inner.frames.pop_front().expect("a sent frame");
            inner.sent_bytes -= frame_len(&frame);
            inner.base += 1;
        }
        self.settle(&mut inner);
    }

    /// Forgets every sent frame not yet acknowledged (the budget needs the room): a resume
    /// from before them is no longer possible.
    pub fn forget_sent(&self) {
        let mut inner = self.inner.lock();
        inner.trim(0);
        self.settle(&mut inner);
    }

    /// Drops every unsent frame and closes the connection as a slow consumer (the budget
    /// needs the room); see [`Push`] for the outcome.
    pub fn evict(&self, budget: usize) -> Push {
        let mut inner = self.inner.lock();
        if inner.unsent_bytes == 0 || inner.closing.is_some() {
            // A graceful close is draining (the session ended): its frames go out as promised.
            return Push::Closed;
        }
        let push = inner.overflow(0, || {
            format!("slow consumer: the server's outbound budget ({budget} bytes) is used up and this queue was among the biggest")
        });
        self.settle(&mut inner);
        drop(inner);
        if matches!(push, Push::Overflow { .. }) {
            self.closed.notify_waiters();
        }
        push
    }

    /// Unsent and sent-but-unacknowledged bytes kept now.
    pub fn kept_bytes(&self) -> (usize, usize) {
        let inner = self.inner.lock();
        (inner.unsent_bytes, inner.sent_bytes)
    }

    /// Asks the writer to send what is queued, then close with `code` (graceful). A later
    /// close does not replace an earlier one.
    pub fn close(&self, code: u16, reason: impl Into<String>) {
        self.close_inner(code, reason.into(), false)
    }

    /// Drops what is queued and closes at once (protocol violations, oversize frames).
    pub fn close_now(&self, code: u16, reason: impl Into<String>) {
        self.close_inner(code, reason.into(), true)
    }

    fn close_inner(&self, code: u16, reason: String, discard: bool) {
        let mut inner = self.inner.lock();
        if inner.closing.is_some() {
            return;
        }
        if discard {
            inner.drop_unsent();
            self.settle(&mut inner);
        }
        inner.closing = Some(Closing { code, reason });
        inner.wake();
        drop(inner);
        self.closed.notify_waiters();
    }

    /// The close requested, if any.
    pub fn closing(&self) -> Option<Closing> {
        self.inner.lock().closing.clone()
    }

    /// Waits until a close is requested.
    pub async fn closed(&self) {
        loop {
            let notified = self.closed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.lock().closing.is_some() {
                return;
            }
            notified.await;
        }
    }

    /// Waits for frames (or a close) for connection `id` and takes unsent frames (up to about
    /// [`BATCH_BYTES`]), encoded into `batch.bytes`: copying under the lock is cheaper than
    /// sharing each frame with the writer. Returns false once `id` is no longer the attached
    /// connection: its writer must stop.
    pub async fn next_batch(&self, id: u64, ready: &Notify, batch: &mut Batch) -> bool {
        loop {
            {
                let mut inner = self.inner.lock();
                if inner.attachment.as_ref().is_none_or(|(current, _)| *current != id) {
                    return false;
                }
                if inner.unsent_index() < inner.frames.len() {
                    let start = inner.unsent_index();
                    let mut taken = 0usize;
                    for frame in inner.frames.iter_from(start) {
                        let large = frame_len(frame) >= LARGE_FRAME;
                        if taken > 0 && (batch.bytes.len() >= BATCH_BYTES || large) {
                            break;
                        }
                        taken += 1;
                        batch.frames += 1;
                        if large {
                            batch.large = codec::ws_encode_split(frame, &mut batch.bytes);
                            break;
                        }
                        codec::ws_encode(frame, &mut batch.bytes);
                    }
                    let bytes: usize = inner.frames.iter_from(start).take(taken).map(frame_len).sum();
                    inner.next_send += taken as u64;
                    if inner.sample.1 != 0 && inner.sample.0 < inner.next_send {
                        batch.receipt = std::mem::take(&mut inner.sample).1;
                    }
                    batch.drained = inner.unsent_index() == inner.frames.len();
                    inner.sent_bytes += bytes;
                    inner.unsent_bytes -= bytes;
                    inner.trim(self.retain);
                    self.settle(&mut inner);
                    return true;
                }
                if let Some(closing) = &inner.closing {
                    batch.close = Some(closing.clone());
                    return true;
                }
            }
            ready.notified().await;
        }
    }

    /// Unsent bytes now (for tests and stats).
    pub fn queued_bytes(&self) -> usize {
        self.inner.lock().unsent_bytes
    }

    /// Sent frames kept for a resume (not yet acknowledged), for tests and stats.
    pub fn retained_frames(&self) -> usize {
        self.inner.lock().unsent_index()
    }

    /// Sequence number of the last frame queued (0 before the first).
    pub fn last_seq(&self) -> u64 {
        let inner = self.inner.lock();
        inner.base + inner.frames.len() as u64 - 1
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.report(self.inner.get_mut().reported, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> Message {
        Message::Binary(vec![n as u8; n].into())
    }

    async fn take(outbox: &Outbox, id: u64, ready: &Notify) -> Batch {
        let mut batch = Batch::default();
        assert!(outbox.next_batch(id, ready, &mut batch).await);
        batch
    }

    #[tokio::test]
    async fn a_burst_is_taken_in_one_batch() {
        let outbox = Outbox::new(1000, 1000);
        let ready = outbox.attach(1, None).unwrap();
        for _ in 0..5 {
            assert_eq!(outbox.push(frame(10)), Push::Queued);
        }
        assert_eq!(take(&outbox, 1, &ready).await.frames, 5);
        assert_eq!(outbox.queued_bytes(), 0);
    }

    #[tokio::test]
    async fn overflow_when_attached_drops_everything_and_closes_with_4003() {
        let outbox = Outbox::new(100, 100);
        let ready = outbox.attach(1, None).unwrap();
        assert_eq!(outbox.push(frame(60)), Push::Queued);
        assert_eq!(outbox.push(frame(60)), Push::Overflow { dropped: 2 });
        assert_eq!(outbox.push(frame(1)), Push::Closed);
        let batch = take(&outbox, 1, &ready).await;
        assert_eq!(batch.frames, 0);
        assert_eq!(batch.close.unwrap().code, close::SLOW_CONSUMER);
    }

    #[tokio::test]
    async fn droppable_frames_go_first_and_graceful_close_drains() {
        let outbox = Outbox::new(100, 100);
        let ready = outbox.attach(1, None).unwrap();
        assert_eq!(outbox.push(frame(40)), Push::Queued);
        assert_eq!(outbox.push_droppable(frame(20)), Push::Dropped);
        outbox.close(close::GOING_AWAY, "bye");
        let batch = take(&outbox, 1, &ready).await;
        assert_eq!(batch.frames, 1);
        assert!(batch.close.is_none());
        assert_eq!(take(&outbox, 1, &ready).await.close.unwrap().code, close::GOING_AWAY);
    }

    #[tokio::test]
    async fn resume_resends_what_the_client_missed_and_what_queued_meanwhile() {
        let outbox = Outbox::new(1000, 1000);
        let ready = outbox.attach(1, None).unwrap();
        for n in 1..=4 {
            outbox.push(frame(n));
        }
        assert_eq!(take(&outbox, 1, &ready).await.frames, 4);
        assert!(outbox.detach(1));
        outbox.push(frame(5));
        // The client got frames 1 and 2 before the link dropped.
        let ready = outbox.attach(2, Some(2)).unwrap();
        let batch = take(&outbox, 2, &ready).await;
        let mut expected = Vec::new();
        for n in 3..=5 {
            codec::ws_encode(&frame(n), &mut expected);
        }
        assert_eq!(batch.bytes, expected);
        assert_eq!(outbox.last_seq(), 5);
    }

    #[tokio::test]
    async fn a_replaced_writer_stops_and_acks_trim_the_retained_frames() {
        let outbox = Outbox::new(1000, 1000);
        let old = outbox.attach(1, None).unwrap();
        outbox.push(frame(1));
        outbox.push(frame(2));
        assert_eq!(take(&outbox, 1, &old).await.frames, 2);
        outbox.ack(1);
        assert_eq!(outbox.attach(3, Some(0)).unwrap_err(), ResumeGap::TooOld { received: 0, oldest: 2 });
        let _new = outbox.attach(2, Some(1)).unwrap();
        let mut batch = Batch::default();
        assert!(!outbox.next_batch(1, &old, &mut batch).await, "the old writer is told to stop");
    }

    #[tokio::test]
    async fn a_big_backlog_is_taken_in_bounded_batches_in_order() {
        let outbox = Outbox::new(1 << 20, 1 << 20);
        let ready = outbox.attach(1, None).unwrap();
        for _ in 0..100 {
            outbox.push(frame(2000));
        }
        let (mut frames, mut batches) = (0, 0);
        while frames < 100 {
            let batch = take(&outbox, 1, &ready).await;
            assert!(batch.bytes.len() < BATCH_BYTES + 2010);
            frames += batch.frames;
            batches += 1;
        }
        assert_eq!((frames, outbox.queued_bytes()), (100, 0));
        assert!(batches >= 3, "{batches} batches");
    }

    #[tokio::test]
    async fn a_big_frame_is_shared_not_copied_and_an_idle_writer_gives_its_buffer_back() {
        let outbox = Outbox::new(1 << 20, 1 << 20);
        let ready = outbox.attach(1, None).unwrap();
        let big = frame(LARGE_FRAME + 10);
        for message in [frame(100), frame(120), big.clone(), frame(5)] {
            outbox.push(message);
        }
        // The small frames before it go as one batch, without the big one.
        let mut batch = take(&outbox, 1, &ready).await;
        let mut expected = Vec::new();
        codec::ws_encode(&frame(100), &mut expected);
        codec::ws_encode(&frame(120), &mut expected);
        assert_eq!((batch.frames, &batch.bytes, batch.large.is_none(), batch.drained), (2, &expected, true, false));
        batch.clear();
        // The big one: its header in `bytes`, its payload the very bytes that were queued.
        assert!(outbox.next_batch(1, &ready, &mut batch).await);
        let Message::Binary(payload) = &big else { unreachable!() };
        let large = batch.large.clone().expect("passed through");
        assert_eq!((batch.frames, large.as_ptr(), large.len()), (1, payload.as_ptr(), payload.len()));
        let mut whole = batch.bytes.clone();
        whole.extend_from_slice(&large);
        let mut expected = Vec::new();
        codec::ws_encode(&big, &mut expected);
        assert_eq!(whole, expected, "header + payload is the frame");
        batch.clear();
        // A burst grows the buffer; once the queue is empty it is given back.
        for _ in 0..20 {
            outbox.push(frame(3000));
        }
        assert!(outbox.next_batch(1, &ready, &mut batch).await);
        assert!(batch.drained && batch.frames == 21 && batch.bytes.capacity() > 20 * 3000);
        batch.clear();
        assert_eq!(batch.bytes.capacity(), 0);
        // So is a small one: an idle connection holds no buffer at all.
        outbox.push(frame(10));
        assert!(outbox.next_batch(1, &ready, &mut batch).await);
        assert!(batch.drained && batch.bytes.capacity() > 0);
        batch.clear();
        assert_eq!(batch.bytes.capacity(), 0);
    }

    #[tokio::test]
    async fn overflow_while_detached_makes_the_session_unresumable() {
        let outbox = Outbox::new(100, 100);
        outbox.push(frame(60));
        assert_eq!(outbox.push(frame(60)), Push::Lost { dropped: 2 });
        assert_eq!(outbox.attach(1, Some(0)).unwrap_err(), ResumeGap::Lost);
        assert!(outbox.closing().is_none(), "nobody to close");
    }
}
