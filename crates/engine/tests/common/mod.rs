//! Shared helpers of the engine's integration tests: a server on 127.0.0.1:0, logged-in
//! clients with a channel sink, and a raw WebSocket peer for protocol-level tests.
#![allow(dead_code)]

pub mod proxy;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use piazza_engine::client::{ChannelSink, Client, ClientConfig, ClientEvent, LinkStateEvent, Payload};
use piazza_engine::config::ServerConfig;
use piazza_engine::protocol::{PresenceEvent, PresenceEventType, RoomEvent, TokenEvent, TopicEvent, TopicEventType};
use piazza_engine::server::Server;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(12);

/// The frames of docs/protocol.schema.json compiled for validation: client frames as published;
/// server frames stricter than published (a field the schema does not name is an error here, so
/// a frame that carries more than its Rust type says is caught, while clients stay lenient).
struct FrameValidator {
    which: &'static str,
    tag: &'static str,
    schema: Value,
    validator: jsonschema::Validator,
}

fn client_frames() -> &'static FrameValidator {
    static VALIDATOR: OnceLock<FrameValidator> = OnceLock::new();
    VALIDATOR.get_or_init(|| FrameValidator::new("clientFrame", "op", false))
}

fn server_frames() -> &'static FrameValidator {
    static VALIDATOR: OnceLock<FrameValidator> = OnceLock::new();
    VALIDATOR.get_or_init(|| FrameValidator::new("serverFrame", "t", true))
}

/// The `r` of the answer to `getMessages` (`responses.getMessages` of the schema), strict.
fn get_messages_responses() -> &'static FrameValidator {
    static VALIDATOR: OnceLock<FrameValidator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let document = piazza_engine::protocol::schema::json_schema();
        let target = document["responses"]["getMessages"]["$ref"].as_str().unwrap();
        FrameValidator::with_root("responses.getMessages", target, true)
    })
}

/// Adds `unevaluatedProperties: false` to every object schema that names its properties, except
/// the definitions that another schema extends with properties of its own (the welcome's fields
/// beside `t`): those are closed by the schema extending them.
fn close_objects(schema: &mut Value) {
    fn extended(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let (Some(Value::String(target)), true) = (map.get("$ref"), map.contains_key("properties")) {
                    found.push(target.trim_start_matches("#/$defs/").to_string());
                }
                map.values().for_each(|v| extended(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| extended(v, found)),
            _ => {}
        }
    }
    fn close(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                    map.insert("unevaluatedProperties".into(), Value::Bool(false));
                }
                map.values_mut().for_each(close);
            }
            Value::Array(items) => items.iter_mut().for_each(close),
            _ => {}
        }
    }
    let mut open = Vec::new();
    extended(schema, &mut open);
    for (name, def) in schema["$defs"].as_object_mut().expect("$defs").iter_mut() {
        if open.contains(name) {
            def.as_object_mut().unwrap().values_mut().for_each(close);
        } else {
            close(def);
        }
    }
}

impl FrameValidator {
    fn new(which: &'static str, tag: &'static str, strict: bool) -> Self {
        Self::compile(which, tag, piazza_engine::protocol::schema::frame_schema(which), strict)
    }

    /// Validates against the definition `root` (a `$ref`) instead of a frame union.
    fn with_root(which: &'static str, root: &str, strict: bool) -> Self {
        let mut schema = piazza_engine::protocol::schema::frame_schema("serverFrame");
        schema["$ref"] = root.into();
        Self::compile(which, "", schema, strict)
    }

    fn compile(which: &'static str, tag: &'static str, mut schema: Value, strict: bool) -> Self {
        if strict {
            close_objects(&mut schema);
        }
        let validator =
            jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("the {which} schema compiles: {e}"));
        FrameValidator { which, tag, schema, validator }
    }

    /// Panics with the frame and what is wrong with it unless it matches the schema.
    fn check(&self, frame: &Value) {
        if self.validator.is_valid(frame) {
            return;
        }
        let mut errors: Vec<String> =
            self.validator.iter_errors(frame).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        // "not valid under any of the schemas" says little: explain with the variant of its tag.
        let union = self.schema["$ref"].as_str().unwrap().trim_start_matches("#/$defs/");
        let variants = self.schema["$defs"][union]["oneOf"].as_array().cloned().unwrap_or_default();
        if let Some(i) = variants.iter().position(|v| v["properties"][self.tag]["const"] == frame[self.tag]) {
            let mut variant = self.schema.clone();
            variant["$ref"] = format!("#/$defs/{union}/oneOf/{i}").into();
            let validator = jsonschema::validator_for(&variant).unwrap();
            errors.extend(validator.iter_errors(frame).map(|e| format!("{} at {}", e, e.instance_path())));
        }
        panic!(
            "a frame does not match the {} of docs/protocol.schema.json:\n{frame}\n{}",
            self.which,
            errors.join("\n")
        );
    }
}

/// Checks a frame the server sent (a text frame, or a binary frame's JSON header) against the
/// server frames of the schema.
pub fn check_server_frame(message: &Message) {
    let json: Value = match message {
        Message::Text(t) => serde_json::from_str(t).expect("a text frame is JSON"),
        Message::Binary(b) => {
            assert!(b.len() >= 4, "a binary frame has its header length");
            let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
            serde_json::from_slice(&b[4..4 + len]).expect("a binary frame's header is JSON")
        }
        _ => return,
    };
    server_frames().check(&json);
}

/// Checks the body of an event the client passed on as the server sent it (`e` of a `topic`,
/// `token`, `storage` or `lock` frame; presence bodies may be the client's own view).
fn check_event_body(kind: &str, body: &serde_json::value::RawValue) {
    if ["topic", "token", "storage", "lock"].contains(&kind) {
        let e: Value = serde_json::from_str(body.get()).unwrap();
        server_frames().check(&serde_json::json!({ "t": kind, "e": e }));
    }
}

/// Checks a frame a test sends against the client frames of the schema.
pub fn check_client_frame(frame: &Value) {
    client_frames().check(frame);
}

pub async fn server() -> Server {
    server_with(|_| {}).await
}

pub async fn server_with(adjust: impl FnOnce(&mut ServerConfig)) -> Server {
    let mut config = ServerConfig::default();
    // Every test client comes from 127.0.0.1; the per-IP limit has its own test.
    config.connection.connections_per_ip_per_second = 0;
    adjust(&mut config);
    Server::start(config).await.expect("server starts")
}

/// A client and the events it reports.
pub struct TestClient {
    pub client: Client,
    pub events: UnboundedReceiver<ClientEvent>,
    /// Events set aside while looking for another kind (e.g. by `next_link_state`).
    backlog: std::collections::VecDeque<ClientEvent>,
}

pub fn config(server: &Server, app: &str, user: &str) -> ClientConfig {
    ClientConfig::new(app, user, &server.url())
}

pub async fn login(server: &Server, user: &str) -> TestClient {
    login_with(config(server, "app", user)).await
}

pub async fn login_with(config: ClientConfig) -> TestClient {
    let (sink, events) = ChannelSink::new();
    let client = Client::new(config, Arc::new(sink)).expect("valid config");
    client.call(|c, r| c.login(r, None)).await.expect("login succeeds");
    TestClient { client, events, backlog: Default::default() }
}

impl TestClient {
    pub fn from_parts(client: Client, events: UnboundedReceiver<ClientEvent>) -> Self {
        TestClient { client, events, backlog: Default::default() }
    }
}

/// A message event flattened for assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub header: Value,
    pub payload: Payload,
}

impl TestClient {
    async fn recv(&mut self) -> ClientEvent {
        if let Some(event) = self.backlog.pop_front() {
            return event;
        }
        tokio::time::timeout(WAIT, self.events.recv()).await.expect("an event in time").expect("open")
    }

    /// The next event that is not a link-state change.
    pub async fn next_event(&mut self) -> ClientEvent {
        loop {
            let event = self.recv().await;
            if !matches!(event, ClientEvent::LinkState(_)) {
                return event;
            }
        }
    }

    /// The next message event (skipping presence, topic and realtime events).
    pub async fn next_message(&mut self) -> Received {
        loop {
            match self.next_event().await {
                ClientEvent::Message { header, payload } => {
                    let header: Value = serde_json::from_str(header.get()).unwrap();
                    // The `e` of the `msg` frame, as the server sent it.
                    let mt = header["messageType"].clone();
                    server_frames().check(&serde_json::json!({ "t": "msg", "mt": mt, "e": header }));
                    return Received { header, payload };
                }
                ClientEvent::Event { .. } | ClientEvent::Realtime { .. } => continue,
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    /// The next pass-through event of `kind` (`presence`, `topic`, `room`) as JSON, skipping
    /// others.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            match self.next_event().await {
                ClientEvent::Event { kind: k, body } if k.as_str() == kind => {
                    check_event_body(kind, &body);
                    return serde_json::from_str(body.get()).unwrap();
                }
                ClientEvent::Room(event) if kind == "room" => return serde_json::to_value(event).unwrap(),
                ClientEvent::Event { kind: k, body } => check_event_body(k.as_str(), &body),
                _ => {}
            }
        }
    }

    /// The next room event, typed, skipping others.
    pub async fn next_room(&mut self) -> RoomEvent<'static> {
        loop {
            if let ClientEvent::Room(event) = self.next_event().await {
                return event;
            }
        }
    }

    /// The next `kind` event whose `eventType` is `event_type`.
    pub async fn next_typed(&mut self, kind: &str, event_type: &str) -> Value {
        loop {
            let event = self.next_of(kind).await;
            if event["eventType"] == event_type {
                return event;
            }
        }
    }

    /// The next presence event of `event_type`, typed, skipping other events.
    pub async fn next_presence(&mut self, event_type: PresenceEventType) -> PresenceEvent {
        loop {
            if let Some(event) = self.next_event().await.presence() {
                let event = event.expect("a presence event the client can decode");
                if event.event_type == event_type {
                    return event;
                }
            }
        }
    }

    /// The next topic event of `event_type`, typed, skipping other events.
    pub async fn next_topic(&mut self, event_type: TopicEventType) -> TopicEvent {
        loop {
            if let Some(event) = self.next_event().await.topic() {
                let event = event.expect("a topic event the client can decode");
                if event.event_type == event_type {
                    return event;
                }
            }
        }
    }

    /// The next token event, typed, skipping other events.
    pub async fn next_token(&mut self) -> TokenEvent {
        loop {
            if let Some(event) = self.next_event().await.token() {
                return event.expect("a token event the client can decode");
            }
        }
    }

    /// The next realtime datagram.
    pub async fn next_realtime(&mut self) -> (String, bytes::Bytes) {
        loop {
            if let ClientEvent::Realtime { scope, data } = self.next_event().await {
                return (scope, data);
            }
        }
    }

    /// Logs out and waits for the answer.
    pub async fn logout(&self) {
        self.client
            .call(|c, r| {
                c.logout(r);
                Ok(())
            })
            .await
            .expect("logout is answered");
    }

    /// Sends a request frame and waits for its answer.
    pub async fn ask(&self, frame: Value) -> Result<Value, piazza_engine::Error> {
        self.ask_with(frame, None).await
    }

    pub async fn ask_with(&self, mut frame: Value, payload: Option<Payload>) -> Result<Value, piazza_engine::Error> {
        frame.as_object_mut().unwrap().entry("id").or_insert(0.into());
        check_client_frame(&frame);
        let get_messages = frame["op"] == "getMessages";
        let frame: piazza_engine::protocol::ClientFrame = serde_json::from_value(frame).expect("a valid frame");
        let answer: Value = serde_json::from_str(self.client.call(|c, r| c.request(r, frame, payload)).await?.get())
            .expect("an answer is JSON");
        server_frames().check(&serde_json::json!({ "t": "ok", "id": 0, "r": answer }));
        if get_messages {
            get_messages_responses().check(&answer);
        }
        Ok(answer)
    }

    /// The next link-state change; other events stay queued for the other helpers.
    pub async fn next_link_state(&mut self) -> LinkStateEvent {
        let mut skipped = Vec::new();
        let found = loop {
            match self.recv().await {
                ClientEvent::LinkState(state) => break state,
                other => skipped.push(other),
            }
        };
        for event in skipped.into_iter().rev() {
            self.backlog.push_front(event);
        }
        found
    }

    /// Asserts that no message arrives within `within`.
    pub async fn no_message(&mut self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        let backlog: Vec<_> = self.backlog.drain(..).collect();
        for event in backlog {
            if let ClientEvent::Message { header, .. } = event {
                panic!("unexpected message {}", header.get());
            }
        }
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            if let ClientEvent::Message { header, .. } = event {
                panic!("unexpected message {}", header.get());
            }
        }
    }

    /// Asserts that no event of `kind` (or realtime datagram, for "rt") arrives within `within`.
    pub async fn none_of(&mut self, kind: &str, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        let backlog: Vec<_> = self.backlog.drain(..).map(Some).collect();
        let mut events = backlog.into_iter();
        loop {
            let event = match events.next() {
                Some(event) => event,
                None => match tokio::time::timeout_at(deadline, self.events.recv()).await {
                    Ok(event) => event,
                    Err(_) => break,
                },
            };
            let Some(event) = event else { break };
            match event {
                ClientEvent::Event { kind: k, body } if k.as_str() == kind => {
                    panic!("unexpected {kind} event {}", body.get())
                }
                ClientEvent::Room(event) if kind == "room" => panic!("unexpected room event {event:?}"),
                ClientEvent::Realtime { scope, .. } if kind == "rt" => panic!("unexpected realtime data in {scope}"),
                ClientEvent::Message { header, .. } if kind == "message" => {
                    panic!("unexpected message {}", header.get())
                }
                _ => {}
            }
        }
    }
}

pub type RawWs = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A bare WebSocket to the server, for protocol tests.
pub async fn raw(server: &Server) -> RawWs {
    tokio_tungstenite::connect_async(server.url()).await.expect("connects").0
}

pub fn hello(app: &str, user: &str) -> Message {
    hello_with(app, user, 5, 5)
}

/// A hello with a heartbeat and a presence timeout in seconds (the server accepts 1 and up).
pub fn hello_with(app: &str, user: &str, heartbeat: u32, presence_timeout: u32) -> Message {
    Message::Text(
        serde_json::json!({"op":"hello","v":1,"appId":app,"userId":user,"heartbeat":heartbeat,"presenceTimeout":presence_timeout})
            .to_string()
            .into(),
    )
}

/// A raw connection that said hello and got its welcome.
pub async fn raw_session(server: &Server, user: &str) -> RawWs {
    let mut ws = raw(server).await;
    ws.send(hello("app", user)).await.unwrap();
    let welcome = next_json(&mut ws).await;
    assert_eq!(welcome["t"], "welcome", "{welcome}");
    ws
}

/// The next text frame as JSON.
pub async fn next_json(ws: &mut RawWs) -> Value {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("a frame in time") {
            Some(Ok(message @ Message::Text(_))) => {
                check_server_frame(&message);
                return serde_json::from_str(message.to_text().unwrap()).unwrap();
            }
            Some(Ok(message @ Message::Binary(_))) => check_server_frame(&message),
            Some(Ok(Message::Ping(_))) | Some(Ok(Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Reads until the close frame and returns its code and reason.
pub async fn close_of(ws: &mut RawWs) -> (u16, String) {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("a close in time") {
            Some(Ok(Message::Close(Some(frame)))) => return (frame.code.into(), frame.reason.to_string()),
            Some(Ok(Message::Close(None))) => return (1005, String::new()),
            Some(Ok(message)) => check_server_frame(&message),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// Waits until `check` holds for the server's stats.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The standalone `piazza-server` binary, killed when dropped; its stderr is collected.
pub struct Standalone {
    pub child: tokio::process::Child,
    pub url: String,
    logs: Arc<parking_lot::Mutex<Vec<u8>>>,
}

impl Standalone {
    /// Starts the binary on a free port with extra flags and environment, and waits until it
    /// accepts connections.
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> Standalone {
        use tokio::io::AsyncReadExt;
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_piazza-server"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(args)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("piazza-server starts");
        let logs = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = stderr.read(&mut buf).await {
                sink.lock().extend_from_slice(&buf[..n]);
            }
        });
        let deadline = tokio::time::Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "piazza-server did not listen in time");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Standalone { child, url: format!("ws://127.0.0.1:{port}"), logs }
    }

    /// Everything the server wrote to stderr so far.
    pub fn logs(&self) -> String {
        String::from_utf8_lossy(&self.logs.lock()).into_owned()
    }

    /// The server's resident memory in bytes (Linux).
    pub fn rss_bytes(&self) -> u64 {
        let pid = self.child.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
    }
}
