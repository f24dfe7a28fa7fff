//! The JavaScript event path.
//!
//! Engine threads append each event to a batch: one JSON array in a `String` plus one byte
//! buffer holding binary payloads. The first event of a batch wakes the JS thread through a
//! weak threadsafe function (weak, so it never keeps Node alive); the JS side then calls
//! `drain()` once and dispatches the whole batch. Building JS objects on the main thread is the
//! cost that matters, and one `JSON.parse` per batch is the cheapest way to build many.
//! [`JsSink::push`] is that batching for any kind of entry: client events here, TRTC events
//! in `trtc.rs` (each `NativeTrtc` has a `JsSink` of its own).
//!
//! Entry shapes (see `index.js`, `dispatch`):
//! - `["r", tag, {response}]` / `["e", tag, code, "NAME", "reason"]`: request answers
//! - `["message", {event…, "message": "text"}]` or `["message", {event…, "message": null}, off, len]`
//! - `["linkState", {event}]`, `[kind, {event}]` for pass-through events (`presence`, `topic`,
//!   `token`, `error`, `roomRestored`, `roomRestoreFailed`), `["room", {event}]`
//! - `["rt", "scope", off, len]`: a realtime datagram
//! - `["cmd", {header}, "text"]` or `["cmd", {header}, off, len]`: a custom room message
//!
//! Bound: while more than `HIGH_WATER` events (or bytes of payload) wait for JS, the client
//! stops reading from its socket ([`EventSink::congestion`]); TCP back-pressure then reaches
//! the server, whose slow-consumer policy decides. Nothing is dropped here.

use std::fmt::Write;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use parking_lot::Mutex;
use piazza_engine::client::{ClientEvent, EventSink, Payload};
use tokio::sync::Notify;

/// Events waiting for JS before the client stops reading.
const HIGH_WATER_EVENTS: usize = 65_536;
const HIGH_WATER_BYTES: usize = 64 << 20;

pub type Wake = ThreadsafeFunction<(), (), (), Status, false, true>;

#[derive(Default)]
struct Batch {
    json: String,
    bin: Vec<u8>,
    count: usize,
    scheduled: bool,
}

struct Shared {
    batch: Mutex<Batch>,
    drained: Notify,
}

impl Shared {
    fn congested(&self) -> bool {
        let batch = self.batch.lock();
        batch.count > HIGH_WATER_EVENTS || batch.bin.len() > HIGH_WATER_BYTES
    }
}

pub struct JsSink {
    shared: Arc<Shared>,
    wake: Wake,
}

impl JsSink {
    pub fn new(wake: Wake) -> Self {
        JsSink { shared: Arc::new(Shared { batch: Mutex::new(Batch::default()), drained: Notify::new() }), wake }
    }

    /// Takes the batch: the JSON array text and the binary payloads it points into.
    pub fn drain(&self) -> (String, Vec<u8>) {
        let (mut json, bin) = {
            let mut batch = self.shared.batch.lock();
            batch.scheduled = false;
            batch.count = 0;
            (std::mem::take(&mut batch.json), std::mem::take(&mut batch.bin))
        };
        self.shared.drained.notify_waiters();
        if json.is_empty() {
            json.push('[');
        }
        json.push(']');
        (json, bin)
    }

    /// Appends one entry to the batch: `write` appends its JSON (an array) to the batch text
    /// and any binary payload to the buffer (the entry gives the offset and length). The first
    /// entry of a batch wakes JS. Any kind of entry goes through here: client events
    /// ([`EventSink::emit`]) and TRTC events (`trtc.rs`).
    pub fn push(&self, write: impl FnOnce(&mut String, &mut Vec<u8>)) {
        let mut batch = self.shared.batch.lock();
        let b = &mut *batch;
        b.json.push(if b.json.is_empty() { '[' } else { ',' });
        write(&mut b.json, &mut b.bin);
        b.count += 1;
        if !b.scheduled {
            b.scheduled = true;
            drop(batch);
            self.wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
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
        ClientEvent::Message { header, payload } => {
            // The header is the event object; append `message` before its closing brace.
            let head = header.get().trim_end();
            let head = head.strip_suffix('}').unwrap_or(head);
            json.push_str("[\"message\",");
            json.push_str(head);
            json.push_str(if head.ends_with('{') { "\"message\":" } else { ",\"message\":" });
            match payload {
                Payload::Text(text) => {
                    push_json_str(json, &text);
                    json.push_str("}]");
                }
                Payload::Binary(bytes) => {
                    let offset = bin.len();
                    bin.extend_from_slice(&bytes);
                    let _ = write!(json, "null}},{offset},{}]", bytes.len());
                }
            }
        }
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
        self.push(|json, bin| write_event(json, bin, event));
    }

    fn congestion(&self) -> Option<Pin<Box<dyn Future<Output = ()> + Send>>> {
        self.backlog()
    }
}
