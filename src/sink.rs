//! The JavaScript event path.
//!
//! Engine threads append each event to a batch: one JSON array in a `String` plus one byte
//! buffer holding binary payloads. The first event of a batch wakes the JS thread through a
//! weak threadsafe function (weak, so it never keeps Node alive); the JS side then calls
//! `drain()` and dispatches the whole batch (`_drain` in `lib/rtm.js` and `lib/trtc.js`).
//! Building JS objects on the main thread is the cost that matters, and one `JSON.parse` per
//! batch is the cheapest way to build many.
//! [`JsSink::push`] is that batching for any kind of entry: client events here, TRTC events
//! in `trtc.rs` (each `NativeTrtc` has a `JsSink` of its own).
//!
//! Entry shapes (see `lib/rtm.js`, `_dispatch`):
//! - `["r", tag, {response}]` / `["e", tag, code, "NAME", "reason"]`: request answers
//! - `["m", channelType, channelName, topicName, messageType, customType, publisher, timestamp,
//!   "text"]` or `[…, timestamp, null, off, len]`: a message event, its six strings as indices
//!   into the batch's string table, which is the batch's last entry, `["S", "MESSAGE", "c", …]`
//!   (index 1 is its first string). A stream of messages repeats the same few names: the table
//!   sends each once per batch, and JS builds each event from it with one object literal of a
//!   fixed shape instead of parsing the names and keys again (measured: 2.5× the events per
//!   second through `JSON.parse` alone).
//! - `["message", {event…, "message": "text"}]` or `["message", {event…, "message": null}, off, len]`:
//!   a message whose header has another shape (what a newer server might send)
//! - `["linkState", {event}]`, `[kind, {event}]` for pass-through events (`presence`, `topic`,
//!   `token`, `error`, `roomRestored`, `roomRestoreFailed`), `["room", {event}]`
//! - `["rt", "scope", off, len]`: a realtime datagram
//! - `["cmd", {header}, "text"]` or `["cmd", {header}, off, len]`: a custom room message
//!
//! Bursts: the reader goes through the frames that arrived together before it wakes JS
//! ([`EventSink::hold`] / [`EventSink::flush`], at most 256 frames), so a flood reaches JS in
//! batches even when JS keeps up: a wake-up and a drain cost more than an event.
//!
//! Bound: while more than `HIGH_WATER` events (or bytes of payload) wait for JS, the client
//! stops reading from its socket ([`EventSink::congestion`]); TCP back-pressure then reaches
//! the server, whose slow-consumer policy decides. Nothing is dropped here.
//!
//! Wake-ups: nothing polls, so an entry reaches JS only if a wake-up follows it. Invariant:
//! while entries wait, `scheduled` is set and a wake-up is queued (or being retried). `drain`
//! clears `scheduled` and takes the batch under one lock, so an entry appended after the take
//! finds `scheduled` clear and wakes again, and one appended before is in the take; a wake-up
//! that finds the batch already taken drains nothing, which is harmless. What
//! `napi_call_threadsafe_function` returns decides the rest (Node's `ThreadSafeFunction::Push`,
//! napi-rs 3's `ThreadsafeFunction::call`):
//! - `Ok`: queued; the JS callback drains every entry appended so far.
//! - `QueueFull`: only with a bounded queue (this one is unbounded): calls queued before ours
//!   have not run yet, and the first of them drains this batch too.
//! - `Closing`, `InvalidArg`: the environment is being torn down (napi-rs also answers
//!   `Closing` once the function is finalized); no JS runs again, so the sink closes: it drops
//!   what waits and what comes, and no longer holds the reader back.
//! - anything else (Node returns nothing else today): a thread of its own retries, after 1 ms
//!   doubling to at most 100 ms, until a call is queued, a drain takes the batch or the sink is
//!   gone; `scheduled` stays set meanwhile, so pushing threads do not pile up failing calls.
//!
//! A blocking call would not help: with an unbounded queue `Blocking` differs from
//! `NonBlocking` only in never returning `QueueFull`, and `push` also runs on the JS thread (an
//! answer given at once, such as `logout` while idle), where a blocking call may deadlock.

use std::fmt::Write;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use parking_lot::Mutex;
use piazza_engine::client::{ClientEvent, EventSink, Payload};
use tokio::sync::Notify;

/// Events waiting for JS before the client stops reading.
const HIGH_WATER_EVENTS: usize = 65_536;
const HIGH_WATER_BYTES: usize = 64 << 20;

/// Pause before the first retry of a failed wake-up; it doubles up to `RETRY_MAX`.
const RETRY_FIRST: Duration = Duration::from_millis(1);
const RETRY_MAX: Duration = Duration::from_millis(100);

/// The JS callback that drains (weak, unbounded queue: `MaxQueueSize` 0).
pub type Wake = ThreadsafeFunction<(), (), (), Status, false, true>;

#[derive(Default)]
struct Batch {
    json: String,
    bin: Vec<u8>,
    count: usize,
    /// The batch's string table (message events): its strings, and the JSON of the table.
    strings: Strings,
    /// The reader is in a burst ([`EventSink::hold`]): entries wait for its `flush` to wake.
    held: bool,
    /// A wake-up is queued, or being retried, for the entries here; cleared by `drain`.
    scheduled: bool,
    /// The last wake-up failed and the retry thread has not queued one since.
    failed: bool,
    /// The retry thread runs.
    retrying: bool,
    /// No JS will run again (see the module documentation): entries are dropped.
    closed: bool,
}

struct Shared {
    batch: Mutex<Batch>,
    drained: Notify,
    wake: Wake,
}

/// What a wake-up call came to.
enum Woken {
    /// A call is queued that will drain this batch.
    Queued,
    /// The JS environment is going away.
    Closed,
    /// Nothing is queued: try again.
    Failed,
}

impl Shared {
    fn congested(&self) -> bool {
        let batch = self.batch.lock();
        batch.count > HIGH_WATER_EVENTS || batch.bin.len() > HIGH_WATER_BYTES
    }

    fn call_wake(&self) -> Woken {
        match self.wake.call((), ThreadsafeFunctionCallMode::NonBlocking) {
            Status::Ok | Status::QueueFull => Woken::Queued,
            Status::Closing | Status::InvalidArg => Woken::Closed,
            _ => Woken::Failed,
        }
    }

    /// Wakes the JS thread for a batch that has just been scheduled (called without the lock).
    fn wake(self: &Arc<Self>) {
        match self.call_wake() {
            Woken::Queued => {}
            Woken::Closed => self.close(),
            Woken::Failed => {
                let mut batch = self.batch.lock();
                batch.failed = true;
                if !batch.retrying {
                    batch.retrying = true;
                    drop(batch);
                    self.retry();
                }
            }
        }
    }

    /// Retries a failed wake-up from a thread of its own (engine threads must not sleep).
    fn retry(self: &Arc<Self>) {
        let shared = Arc::downgrade(self);
        let spawned = std::thread::Builder::new().name("piazza-wake-retry".into()).spawn(move || retry_loop(shared));
        if spawned.is_err() {
            // No thread: the next entry wakes again.
            let mut batch = self.batch.lock();
            batch.retrying = false;
            batch.failed = false;
            batch.scheduled = false;
        }
    }

    /// No JS will run again: drops what waits and what comes, and releases a waiting reader.
    fn close(&self) {
        {
            let mut batch = self.batch.lock();
            *batch = Batch { closed: true, retrying: batch.retrying, ..Batch::default() };
        }
        self.drained.notify_waiters();
    }
}

/// The retry thread: wakes again until a call is queued, a drain took the batch, or the sink is
/// gone (it holds the sink only while it calls, so it never keeps the function alive).
fn retry_loop(shared: Weak<Shared>) {
    let mut pause = RETRY_FIRST;
    loop {
        std::thread::sleep(pause);
        pause = (pause * 2).min(RETRY_MAX);
        let Some(shared) = shared.upgrade() else { return };
        {
            let mut batch = shared.batch.lock();
            if batch.closed || !batch.failed {
                batch.retrying = false;
                return;
            }
            batch.failed = false;
        }
        match shared.call_wake() {
            Woken::Queued => pause = RETRY_FIRST,
            Woken::Closed => shared.close(),
            Woken::Failed => shared.batch.lock().failed = true,
        }
    }
}

pub struct JsSink {
    shared: Arc<Shared>,
}

impl JsSink {
    pub fn new(wake: Wake) -> Self {
        JsSink { shared: Arc::new(Shared { batch: Mutex::new(Batch::default()), drained: Notify::new(), wake }) }
    }

    /// Takes the batch: the JSON array text and the binary payloads it points into. Clearing
    /// `scheduled` and taking happen under one lock (see the module documentation).
    pub fn drain(&self) -> (String, Vec<u8>) {
        let (mut json, bin, strings) = {
            let mut batch = self.shared.batch.lock();
            batch.scheduled = false;
            batch.failed = false;
            batch.count = 0;
            let strings = std::mem::take(&mut batch.strings);
            (std::mem::take(&mut batch.json), std::mem::take(&mut batch.bin), strings)
        };
        self.shared.drained.notify_waiters();
        if json.is_empty() {
            json.push('[');
        }
        if !strings.list.is_empty() {
            json.push_str(",[\"S\"");
            json.push_str(&strings.json);
            json.push(']');
        }
        json.push(']');
        (json, bin)
    }

    /// Appends one entry to the batch: `write` appends its JSON (an array) to the batch text
    /// and any binary payload to the buffer (the entry gives the offset and length). The first
    /// entry of a batch wakes JS (see the module documentation). Any kind of entry goes through here: client events
    /// ([`EventSink::emit`]) and TRTC events (`trtc.rs`).
    pub fn push(&self, write: impl FnOnce(&mut String, &mut Vec<u8>)) {
        let mut batch = self.shared.batch.lock();
        if batch.closed {
            return;
        }
        let b = &mut *batch;
        b.json.push(if b.json.is_empty() { '[' } else { ',' });
        write(&mut b.json, &mut b.bin);
        b.count += 1;
        if !b.scheduled && !b.held {
            b.scheduled = true;
            drop(batch);
            self.shared.wake();
        }
    }

    /// Appends a message event as an `"m"` entry (see the module documentation): the header
    /// is read outside the batch's lock, its names go through the batch's string table.
    fn push_message(&self, header: &serde_json::value::RawValue, payload: &Payload) {
        let text = header.get();
        // What comes before the timestamp (the names) usually repeats the previous message's.
        let Some((names, timestamp)) = split_timestamp(text) else {
            return self.push(|json, bin| write_message(json, bin, header, payload));
        };
        let mut batch = self.shared.batch.lock();
        if batch.closed {
            return;
        }
        let b = &mut *batch;
        let indices = match b.strings.repeat(names) {
            Some(indices) => indices,
            None => {
                let parsed = Head::read(text).or_else(|| serde_json::from_str::<Head<'_>>(text).ok());
                let Some(head) = parsed else {
                    drop(batch);
                    // Another shape: the header as it came.
                    return self.push(|json, bin| write_message(json, bin, header, payload));
                };
                let indices = [
                    &head.channel_type,
                    &head.channel_name,
                    &head.topic_name,
                    &head.message_type,
                    &head.custom_type,
                    &head.publisher,
                ]
                .map(|value| b.strings.index(value));
                b.strings.remember(names, indices);
                indices
            }
        };
        b.json.push_str(if b.json.is_empty() { "[[\"m\"" } else { ",[\"m\"" });
        for index in indices {
            b.json.push(',');
            push_u64(&mut b.json, index as u64);
        }
        b.json.push(',');
        b.json.push_str(timestamp);
        b.json.push(',');
        match payload {
            Payload::Text(text) => {
                push_json_str(&mut b.json, text);
                b.json.push(']');
            }
            Payload::Binary(bytes) => {
                let offset = b.bin.len();
                b.bin.extend_from_slice(bytes);
                let _ = write!(b.json, "null,{offset},{}]", bytes.len());
            }
        }
        b.count += 1;
        if !b.scheduled && !b.held {
            b.scheduled = true;
            drop(batch);
            self.shared.wake();
        }
    }

    /// Ends a burst: wakes JS for what waits (see [`EventSink::hold`]).
    fn flush_held(&self) {
        let mut batch = self.shared.batch.lock();
        batch.held = false;
        if batch.closed || batch.scheduled || batch.json.is_empty() {
            return;
        }
        batch.scheduled = true;
        drop(batch);
        self.shared.wake();
    }

    /// Whether no entry waits for JS.
    pub fn is_empty(&self) -> bool {
        self.shared.batch.lock().json.is_empty()
    }

    /// While too much waits for JS, a future that resolves once it has room again (what
    /// [`EventSink::congestion`] returns).
    pub fn backlog(&self) -> Option<Pin<Box<dyn Future<Output = ()> + Send>>> {
        if !self.shared.congested() {
            return None;
        }
        let shared = self.shared.clone();
        Some(Box::pin(async move {
            loop {
                let drained = shared.drained.notified();
                tokio::pin!(drained);
                drained.as_mut().enable();
                if !shared.congested() {
                    return;
                }
                drained.await;
            }
        }))
    }
}

/// The header of a message event as the server sends it (the names borrowed when they hold no
/// escapes). Any other field makes it another shape.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Head<'a> {
    #[serde(borrow)]
    channel_type: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    channel_name: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    topic_name: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    message_type: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    custom_type: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    publisher: std::borrow::Cow<'a, str>,
    /// Sent as its digits (see `split_timestamp`); read to check the shape.
    #[serde(rename = "timestamp")]
    _timestamp: u64,
}

impl<'a> Head<'a> {
    /// Reads a header in the order and form the server writes it (`MessageHeader`'s fields,
    /// strings without escapes) without a parser; `None` for anything else (serde reads it).
    fn read(text: &'a str) -> Option<Head<'a>> {
        let mut rest = text.strip_prefix('{')?;
        let mut field = |key: &str| -> Option<&'a str> {
            rest = rest.strip_prefix('"')?.strip_prefix(key)?.strip_prefix("\":\"")?;
            let end = rest.find('"')?;
            let value = &rest[..end];
            if value.contains('\\') {
                return None;
            }
            rest = &rest[end + 1..];
            rest = rest.strip_prefix(',')?;
            Some(value)
        };
        let channel_type = field("channelType")?;
        let channel_name = field("channelName")?;
        let topic_name = field("topicName")?;
        let message_type = field("messageType")?;
        let custom_type = field("customType")?;
        let publisher = field("publisher")?;
        let digits = rest.strip_prefix("\"timestamp\":")?.strip_suffix('}')?;
        let timestamp = digits.parse().ok()?;
        Some(Head {
            channel_type: channel_type.into(),
            channel_name: channel_name.into(),
            topic_name: topic_name.into(),
            message_type: message_type.into(),
            custom_type: custom_type.into(),
            publisher: publisher.into(),
            _timestamp: timestamp,
        })
    }
}

/// A header split before its timestamp (`MessageHeader` ends with it): the names part, and the
/// timestamp's digits.
fn split_timestamp(text: &str) -> Option<(&str, &str)> {
    const KEY: &str = ",\"timestamp\":";
    // From the end: the closing brace, the digits, the key (no substring search).
    let body = text.strip_suffix('}')?;
    let digits_at = body.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (head, digits) = body.split_at(digits_at);
    let names = head.strip_suffix(KEY)?;
    (!digits.is_empty()).then_some((names, digits))
}

/// Appends the decimal digits of `n` (`write!` goes through the formatting machinery: several
/// times slower, and this runs seven times per message event).
fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[at..]).expect("ASCII digits"));
}

/// Strings a batch's table holds before new ones are sent again instead of looked up (a batch
/// of messages from thousands of channels keeps its lookups short).
const TABLE_MAX: usize = 256;

/// A batch's string table: the strings (index 1 is the first), the JSON of the table's
/// elements (`,"MESSAGE","c",…`), and the last header's names with their indices (a stream of
/// messages repeats the same names: one comparison finds all six).
#[derive(Default)]
struct Strings {
    list: Vec<Box<str>>,
    json: String,
    /// The names part of the last header read, and its indices.
    names: String,
    indices: [u32; 6],
}

impl Strings {
    /// The indices of a header whose names are the last one's.
    fn repeat(&self, names: &str) -> Option<[u32; 6]> {
        (!self.names.is_empty() && self.names == names).then_some(self.indices)
    }

    fn remember(&mut self, names: &str, indices: [u32; 6]) {
        self.names.clear();
        self.names.push_str(names);
        self.indices = indices;
    }

    fn index(&mut self, value: &str) -> u32 {
        let found = self.list.iter().take(TABLE_MAX).position(|s| **s == *value);
        let index = match found {
            Some(at) => at + 1,
            None => {
                self.list.push(value.into());
                self.json.push(',');
                push_json_str(&mut self.json, value);
                self.list.len()
            }
        };
        index as u32
    }
}

pub(crate) fn push_json_str(out: &mut String, value: &str) {
    if value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        // Nothing to escape (the common case): no temporary string.
        out.push('"');
        out.push_str(value);
        out.push('"');
    } else {
        // serde_json writes a quoted, escaped string.
        out.push_str(&serde_json::to_string(value).expect("strings serialize"));
    }
}

/// Appends a `"message"` entry: the header object as it came, with `message` appended.
fn write_message(json: &mut String, bin: &mut Vec<u8>, header: &serde_json::value::RawValue, payload: &Payload) {
    let head = header.get().trim_end();
    let head = head.strip_suffix('}').unwrap_or(head);
    json.push_str("[\"message\",");
    json.push_str(head);
    json.push_str(if head.ends_with('{') { "\"message\":" } else { ",\"message\":" });
    match payload {
        Payload::Text(text) => {
            push_json_str(json, text);
            json.push_str("}]");
        }
        Payload::Binary(bytes) => {
            let offset = bin.len();
            bin.extend_from_slice(bytes);
            let _ = write!(json, "null}},{offset},{}]", bytes.len());
        }
    }
}

/// Appends the entry of one client event (see the module documentation for the shapes).
fn write_event(json: &mut String, bin: &mut Vec<u8>, event: ClientEvent) {
    match event {
        ClientEvent::Response { tag, result: Ok(body) } => {
            json.push_str(&format!("[\"r\",{tag},"));
            json.push_str(body.get());
            json.push(']');
        }
        ClientEvent::Response { tag, result: Err(error) } => {
            json.push_str(&format!("[\"e\",{tag},{},\"{}\",", error.code.code(), error.code.name()));
            push_json_str(json, &error.reason);
            json.push(']');
        }
        ClientEvent::Message { header, payload } => write_message(json, bin, &header, &payload),
        ClientEvent::Event { kind, body } => {
            json.push('[');
            push_json_str(json, kind.as_str());
            json.push(',');
            json.push_str(body.get());
            json.push(']');
        }
        ClientEvent::Room(event) => {
            json.push_str("[\"room\",");
            json.push_str(&serde_json::to_string(&event).expect("room events serialize"));
            json.push(']');
        }
        ClientEvent::Cmd { header, payload } => {
            json.push_str("[\"cmd\",");
            json.push_str(header.get());
            match payload {
                Payload::Text(text) => {
                    json.push(',');
                    push_json_str(json, &text);
                    json.push(']');
                }
                Payload::Binary(bytes) => {
                    let offset = bin.len();
                    bin.extend_from_slice(&bytes);
                    json.push_str(&format!(",{offset},{}]", bytes.len()));
                }
            }
        }
        ClientEvent::Realtime { scope, data } => {
            let offset = bin.len();
            bin.extend_from_slice(&data);
            json.push_str("[\"rt\",");
            push_json_str(json, &scope);
            json.push_str(&format!(",{offset},{}]", data.len()));
        }
        ClientEvent::LinkState(state) => {
            json.push_str("[\"linkState\",");
            json.push_str(&serde_json::to_string(&state).expect("link state serializes"));
            json.push(']');
        }
    }
}

impl EventSink for JsSink {
    fn emit(&self, event: ClientEvent) {
        match event {
            ClientEvent::Message { header, payload } => self.push_message(&header, &payload),
            event => self.push(|json, bin| write_event(json, bin, event)),
        }
    }

    fn hold(&self) {
        self.shared.batch.lock().held = true;
    }

    fn flush(&self) {
        self.flush_held();
    }

    fn congestion(&self) -> Option<Pin<Box<dyn Future<Output = ()> + Send>>> {
        self.backlog()
    }
}
