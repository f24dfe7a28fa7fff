//! The bounded outbound queue of one session.
//!
//! Publishers push already-encoded frames (the same `Bytes` for every subscriber); the
//! connection's writer task takes everything queued in one go and writes it with a single
//! flush, so a burst costs one syscall per connection rather than one per frame.
//!
//! Overflow policy (slow consumer): when a push would take the queue past its byte bound, the
//! queue is emptied, the frames in it are counted as dropped, and the connection is closed with
//! close code 4003 "slow consumer". A consumer that cannot keep up is told and disconnected; it
//! never silently misses messages while believing it is connected. Best-effort frames (realtime
//! datagrams) use [`Outbox::push_droppable`], which drops just that frame (and counts it) once
//! the queue is half full, before the hard bound is reached.

use std::collections::VecDeque;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

use crate::protocol::close;

/// What happened to a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    Queued,
    /// The queue overflowed: this and every queued frame were dropped, the link is closing.
    Overflow {
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

#[derive(Default)]
struct Inner {
    queue: VecDeque<Message>,
    bytes: usize,
    closing: Option<Closing>,
}

/// The outbound queue of a session; see the module docs for the policy.
pub struct Outbox {
    inner: Mutex<Inner>,
    /// Wakes the writer when frames arrive or a close is requested.
    ready: Notify,
    /// Wakes the reader when a close is requested (slow consumer, kick, replaced).
    closed: Notify,
    limit: usize,
}

fn frame_len(message: &Message) -> usize {
    match message {
        Message::Text(t) => t.len(),
        Message::Binary(b) => b.len(),
        _ => 16,
    }
}

/// Frames the writer took, and the close to send after them if the outbox is closing.
#[derive(Default)]
pub struct Batch {
    pub frames: Vec<Message>,
    pub close: Option<Closing>,
}

impl Outbox {
    pub fn new(limit: usize) -> Self {
        Outbox { inner: Mutex::new(Inner::default()), ready: Notify::new(), closed: Notify::new(), limit }
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
        if droppable && inner.bytes + len > self.limit / 2 {
            return Push::Dropped;
        }
        if inner.bytes + len > self.limit {
            let dropped = inner.queue.len() + 1;
            inner.queue.clear();
            inner.bytes = 0;
            inner.closing = Some(Closing {
                code: close::SLOW_CONSUMER,
                reason: format!("slow consumer: more than {} bytes queued", self.limit),
            });
            drop(inner);
            self.ready.notify_one();
            self.closed.notify_waiters();
            return Push::Overflow { dropped };
        }
        let wake = inner.queue.is_empty();
        inner.queue.push_back(message);
        inner.bytes += len;
        drop(inner);
        if wake {
            self.ready.notify_one();
        }
        Push::Queued
    }

    /// Asks the writer to send what is queued, then close with `code` (graceful). A later close
    /// does not replace an earlier one.
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
            inner.queue.clear();
            inner.bytes = 0;
        }
        inner.closing = Some(Closing { code, reason });
        drop(inner);
        self.ready.notify_one();
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
            if self.inner.lock().closing.is_some() {
                return;
            }
            notified.await;
        }
    }

    /// Waits for frames (or a close) and takes everything queued.
    pub async fn next_batch(&self, batch: &mut Batch) {
        loop {
            {
                let mut inner = self.inner.lock();
                if !inner.queue.is_empty() {
                    batch.frames.extend(inner.queue.drain(..));
                    inner.bytes = 0;
                    return;
                }
                if let Some(closing) = &inner.closing {
                    batch.close = Some(closing.clone());
                    return;
                }
            }
            self.ready.notified().await;
        }
    }

    /// Bytes queued now (for tests and stats).
    pub fn queued_bytes(&self) -> usize {
        self.inner.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> Message {
        Message::Binary(vec![0u8; n].into())
    }

    #[tokio::test]
    async fn a_burst_is_taken_in_one_batch() {
        let outbox = Outbox::new(1000);
        for _ in 0..5 {
            assert_eq!(outbox.push(frame(10)), Push::Queued);
        }
        let mut batch = Batch::default();
        outbox.next_batch(&mut batch).await;
        assert_eq!(batch.frames.len(), 5);
        assert_eq!(outbox.queued_bytes(), 0);
    }

    #[tokio::test]
    async fn overflow_drops_everything_and_closes_with_4003() {
        let outbox = Outbox::new(100);
        assert_eq!(outbox.push(frame(60)), Push::Queued);
        assert_eq!(outbox.push(frame(60)), Push::Overflow { dropped: 2 });
        assert_eq!(outbox.push(frame(1)), Push::Closed);
        let mut batch = Batch::default();
        outbox.next_batch(&mut batch).await;
        assert!(batch.frames.is_empty());
        assert_eq!(batch.close.unwrap().code, close::SLOW_CONSUMER);
    }

    #[tokio::test]
    async fn droppable_frames_go_first_and_graceful_close_drains() {
        let outbox = Outbox::new(100);
        assert_eq!(outbox.push(frame(40)), Push::Queued);
        assert_eq!(outbox.push_droppable(frame(20)), Push::Dropped);
        outbox.close(close::GOING_AWAY, "bye");
        let mut batch = Batch::default();
        outbox.next_batch(&mut batch).await;
        assert_eq!(batch.frames.len(), 1);
        assert!(batch.close.is_none());
        outbox.next_batch(&mut batch).await;
        assert_eq!(batch.close.unwrap().code, close::GOING_AWAY);
    }
}
