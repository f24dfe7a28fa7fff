//! Webhooks (SPEC §12): the node POSTs what happened — logins, logouts, presence timeouts, room
//! enters and exits with their reason, and, for the channels an app opts in by pattern, presence
//! joins and leaves and messages — to the configured URLs, as JSON signed with HMAC-SHA256.
//!
//! Never on the delivery path: [`Webhooks::emit`] serializes the event once and offers it to
//! each URL's bounded queue without waiting (a full queue drops the event and counts it). One
//! task per URL sends its queue in order over one kept-alive connection; a failure (an error, a
//! timeout, a status that is not 2xx) is retried with exponential backoff, up to
//! `maxAttempts`, then given up and counted; a refusal (4xx but 408 and 429) is not retried. While a receiver is down its queue fills and the
//! newest events are dropped: the node's memory stays bounded, and delivery to clients does
//! not notice.
//!
//! Signature: `x-piazza-signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` with
//! `x-piazza-timestamp: <unix seconds>`, fresh for every attempt (a receiver refuses stale ones).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::config::Secret;
use crate::error::{Error, Result};

/// `webhooks` of the server options.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Where every event is POSTed (`http://` or `https://`).
    pub urls: Vec<String>,
    /// The HMAC-SHA256 key of `x-piazza-signature` (at least 16 characters).
    pub secret: Secret,
    /// `presence.join` / `presence.leave` for the channels matching one of these patterns
    /// (`*` stands for any run of characters; `*` alone for every channel). None by default.
    #[serde(default)]
    pub presence_channels: Vec<String>,
    /// `message.publish` for the message channels matching one of these. None by default.
    #[serde(default)]
    pub message_channels: Vec<String>,
    /// Events waiting per URL; past it the newest are dropped and counted (default 10,000).
    #[serde(default = "default_queue")]
    pub queue_size: usize,
    /// One attempt's limit, connecting included (default 5,000 ms).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Attempts per event before it is given up (default 6).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// The first retry's wait; each next one doubles, up to 30 s (default 500 ms).
    #[serde(default = "default_retry")]
    pub retry_base_ms: u64,
}

fn default_queue() -> usize {
    10_000
}
fn default_timeout() -> u64 {
    5_000
}
fn default_attempts() -> u32 {
    6
}
fn default_retry() -> u64 {
    500
}

impl WebhooksConfig {
    pub fn validate(&self) -> Result<()> {
        if self.urls.is_empty() {
            return Err(Error::invalid("webhooks.urls needs at least one URL"));
        }
        for url in &self.urls {
            Target::parse(url)?;
        }
        if self.secret.expose().len() < 16 {
            return Err(Error::invalid("webhooks.secret must be at least 16 characters"));
        }
        if !(1..=1_000_000).contains(&self.queue_size) {
            return Err(Error::invalid("webhooks.queueSize must be within 1..=1000000"));
        }
        if !(1..=600_000).contains(&self.timeout_ms) || !(1..=100).contains(&self.max_attempts) {
            return Err(Error::invalid("webhooks.timeoutMs is 1..=600000 and webhooks.maxAttempts 1..=100"));
        }
        if self.retry_base_ms > 60_000 {
            return Err(Error::invalid("webhooks.retryBaseMs must be at most 60000"));
        }
        Ok(())
    }
}

/// A URL split for sending.
#[derive(Debug, Clone)]
struct Target {
    url: String,
    authority: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target> {
        let uri: hyper::Uri = url.parse().map_err(|e| Error::invalid(format!("webhook URL {url:?}: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(Error::invalid(format!("webhook URL {url:?} must be http:// or https:// with a host")));
        }
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(Error::invalid(format!(
                "webhook URL {url:?} carries credentials (user:password@): the signature authenticates the node"
            )));
        }
        let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        let path = uri.path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into());
        Ok(Target { url: url.to_string(), authority, path })
    }
}

/// Whether `name` matches `pattern` (`*` = any run of characters).
pub fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// What the webhooks did (for `/metrics`).
#[derive(Debug, Default)]
pub struct WebhookCounters {
    /// Events a receiver took (2xx).
    pub sent: AtomicU64,
    /// Attempts that failed (each retry counts).
    pub failed_attempts: AtomicU64,
    /// Events dropped because a URL's queue was full.
    pub dropped_queue_full: AtomicU64,
    /// Events given up after `maxAttempts`.
    pub dropped_gave_up: AtomicU64,
    /// Events waiting in the queues now.
    pub queued: AtomicU64,
}

/// The webhooks of a node: the patterns, and one queue per URL.
pub struct Webhooks {
    config: WebhooksConfig,
    queues: Vec<mpsc::Sender<Bytes>>,
    next_id: AtomicU64,
    /// The node's id and a random value of this start: event ids never repeat across restarts.
    prefix: String,
    pub counters: Arc<WebhookCounters>,
    /// Set by [`Webhooks::close`]: the senders stop.
    stop: tokio::sync::watch::Sender<bool>,
}

impl Webhooks {
    /// Starts one sending task per URL (inside a tokio runtime). The tasks end once this is
    /// dropped and their queues are sent (or given up).
    pub fn start(config: WebhooksConfig, node: &str) -> Result<Arc<Webhooks>> {
        config.validate()?;
        let counters = Arc::new(WebhookCounters::default());
        let tls = crate::client::transport::tls_config(None)?;
        let mut queues = Vec::new();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        for url in &config.urls {
            let (tx, rx) = mpsc::channel(config.queue_size);
            let sender = Sender {
                target: Target::parse(url)?,
                secret: config.secret.clone(),
                timeout: Duration::from_millis(config.timeout_ms),
                attempts: config.max_attempts,
                retry_base: Duration::from_millis(config.retry_base_ms),
                tls: tls.clone(),
                counters: counters.clone(),
                connection: None,
            };
            tokio::spawn(sender.run(rx, stopped.clone()));
            queues.push(tx);
        }
        let prefix = format!("{node}-{:08x}", rand::random::<u32>());
        Ok(Arc::new(Webhooks { config, queues, next_id: AtomicU64::new(1), prefix, counters, stop }))
    }

    /// Whether presence joins and leaves of `channel` are sent.
    pub fn wants_presence(&self, channel: &str) -> bool {
        self.config.presence_channels.iter().any(|p| matches(p, channel))
    }

    /// Whether messages of `channel` are sent.
    pub fn wants_messages(&self, channel: &str) -> bool {
        self.config.message_channels.iter().any(|p| matches(p, channel))
    }

    /// Queues one event (`fields` are merged after `id`, `type`, `appId`, `timestamp`); never
    /// waits. A full queue drops it (counted).
    pub fn emit(&self, event_type: &str, app: &str, fields: Value) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut event = serde_json::json!({
            "id": format!("{}-{id}", self.prefix),
            "type": event_type,
            "appId": app,
            "timestamp": crate::time::now_ms(),
        });
        if let (Some(event), Value::Object(fields)) = (event.as_object_mut(), fields) {
            event.extend(fields);
        }
        let body = Bytes::from(event.to_string());
        for queue in &self.queues {
            match queue.try_send(body.clone()) {
                Ok(()) => {
                    self.counters.queued.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    self.counters.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

impl Webhooks {
    /// The node is closing: waits up to `grace` for the queues to empty (the logouts of the
    /// shutdown are in them), then stops the senders; what is still queued is dropped and
    /// counted.
    pub async fn close(&self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        while self.counters.queued.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = self.stop.send(true);
    }
}

/// The signature header's value for `body` sent at `timestamp` (unix seconds).
pub fn signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(3 + digest.len() * 2);
    hex.push_str("v1=");
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// One URL's sending task.
struct Sender {
    target: Target,
    secret: Secret,
    timeout: Duration,
    attempts: u32,
    retry_base: Duration,
    tls: Arc<rustls::ClientConfig>,
    counters: Arc<WebhookCounters>,
    connection: Option<SendRequest<Full<Bytes>>>,
}

impl Sender {
    async fn run(mut self, mut queue: mpsc::Receiver<Bytes>, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let body = tokio::select! {
                biased;
                _ = stop.wait_for(|stopped| *stopped) => break,
                body = queue.recv() => match body {
                    Some(body) => body,
                    None => return,
                },
            };
            self.counters.queued.fetch_sub(1, Ordering::Relaxed);
            tokio::select! {
                biased;
                _ = stop.wait_for(|stopped| *stopped) => {
                    self.counters.dropped_gave_up.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                () = self.deliver(&body) => {}
            }
        }
        // Stopped: what waits is dropped, and counted.
        queue.close();
        while queue.recv().await.is_some() {
            self.counters.queued.fetch_sub(1, Ordering::Relaxed);
            self.counters.dropped_gave_up.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends one event, retrying what may succeed later.
    async fn deliver(&mut self, body: &Bytes) {
        let mut attempt = 1;
        loop {
            let outcome = tokio::time::timeout(self.timeout, self.send(body)).await;
            let (why, status) = match outcome {
                Ok(Ok(status)) if (200..300).contains(&status) => {
                    self.counters.sent.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Ok(Ok(status)) => (format!("status {status}"), Some(status)),
                Ok(Err(e)) => (e, None),
                Err(_) => (format!("no answer within {:?}", self.timeout), None),
            };
            self.counters.failed_attempts.fetch_add(1, Ordering::Relaxed);
            // The connection may be half-used: the next attempt opens a new one.
            if status.is_none() {
                self.connection = None;
            }
            // A refusal (4xx but 408 and 429) will be refused again: no retry.
            let refused = status.is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429);
            if refused || attempt >= self.attempts {
                self.counters.dropped_gave_up.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(url = %self.target.url, attempts = attempt, "webhook given up: {why}");
                return;
            }
            tracing::debug!(url = %self.target.url, attempt, "webhook attempt failed: {why}");
            let wait = self.retry_base.saturating_mul(1 << (attempt - 1).min(16));
            tokio::time::sleep(wait.min(Duration::from_secs(30))).await;
            attempt += 1;
        }
    }

    /// One attempt: the status of the answer.
    async fn send(&mut self, body: &Bytes) -> std::result::Result<u16, String> {
        let connection = match self.connection.as_mut() {
            Some(c) if !c.is_closed() => c,
            _ => {
                let stream = crate::client::transport::connect(&self.target.url, &self.tls)
                    .await
                    .map_err(|e| format!("connect: {e}"))?;
                let (send, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .map_err(|e| format!("handshake: {e}"))?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                self.connection.insert(send)
            }
        };
        let timestamp = crate::time::now_ms() / 1000;
        let request = hyper::Request::post(&self.target.path)
            .header(hyper::header::HOST, &self.target.authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, concat!("piazza/", env!("CARGO_PKG_VERSION")))
            .header("x-piazza-timestamp", timestamp.to_string())
            .header("x-piazza-signature", signature(self.secret.expose(), timestamp, body))
            .body(Full::new(body.clone()))
            .map_err(|e| format!("request: {e}"))?;
        connection.ready().await.map_err(|e| format!("connection: {e}"))?;
        let answer = connection.send_request(request).await.map_err(|e| format!("send: {e}"))?;
        let status = answer.status().as_u16();
        // Read to the end (bounded), so that the connection can take the next request.
        use http_body_util::BodyExt;
        let _ = http_body_util::Limited::new(answer.into_body(), 64 * 1024).collect().await;
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_runs_of_characters() {
        for (pattern, name, expected) in [
            ("*", "anything", true),
            ("lobby", "lobby", true),
            ("lobby", "lobby-2", false),
            ("lobby*", "lobby-2", true),
            ("*-ops", "team-ops", true),
            ("*-ops", "team-ops-2", false),
            ("a*b*c", "a-b-c", true),
            ("a*b*c", "a-c", false),
            ("ab*ba", "aba", false),
        ] {
            assert_eq!(matches(pattern, name), expected, "{pattern} ~ {name}");
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Checked against an independent computation (Python's hmac module):
        // hmac.new(b"secret-secret-secret", b"1700000000.{}", sha256).hexdigest()
        assert_eq!(
            signature("secret-secret-secret", 1_700_000_000, b"{}"),
            "v1=9abb7ec2de5533bf35e03b3947b220889dd81b1238d43182a426463aafcc6e8c"
        );
    }
}
