//! The plain HTTP routes, on hyper: `GET /healthz`, `GET /readyz`, `GET /metrics` and the
//! backend API under `/v1/` (docs/openapi.json). They share the WebSocket port: the first
//! request head of a connection is read by `server::http`; an upgrade goes to the WebSocket
//! path untouched, anything else is handed here with the bytes already read, and hyper serves
//! the connection from then on (keep-alive, chunked bodies, pipelining).
//!
//! [`ROUTES`] is the one table of routes: requests are matched against it, and
//! `tests/http_api.rs` checks docs/openapi.json against it.
//!
//! Limits: at most [`super::HTTP_CONNECTIONS`] plain HTTP connections at once (503 past it),
//! each closed after 10 s without a request head or once 5 minutes old, bodies up to 64 KiB.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;

use crate::hub::api::ApiRequest;
use crate::hub::room::AdminError;
use crate::hub::Hub;
use crate::protocol::{ChannelType, RoomId};
use crate::store::MetaMode;

/// The operator's page (`GET /admin`): one file, embedded in the binary.
const ADMIN_PAGE: &str = include_str!("admin.html");

/// Largest request body accepted (413 past it).
pub const MAX_BODY: usize = 64 * 1024;
/// A kept-alive connection that sends no complete request head for this long is closed.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// A plain HTTP connection is closed (after the request in progress) once it is this old: one
/// that never reads its answers cannot hold its slot for ever.
const MAX_LIFETIME: Duration = Duration::from_secs(300);

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Health,
    Ready,
    Metrics,
    AdminPage,
    Stats,
    Overview,
    Channels,
    Rooms,
    PublishChannel,
    PublishUser,
    ChannelPresence,
    UserPresence,
    ChannelMetadata,
    UserMetadata,
    RoomMembers,
    RemoveUsers,
    Dismiss,
}

/// One route: the methods it takes, its path pattern (`{name}` is one path segment).
pub struct Route {
    pub methods: &'static [&'static str],
    pub path: &'static str,
    pub op: Op,
}

const META: &[&str] = &["GET", "PUT", "PATCH", "DELETE"];

/// Every route.
pub const ROUTES: &[Route] = &[
    Route { methods: &["GET"], path: "/healthz", op: Op::Health },
    Route { methods: &["GET"], path: "/readyz", op: Op::Ready },
    Route { methods: &["GET"], path: "/metrics", op: Op::Metrics },
    Route { methods: &["GET"], path: "/admin", op: Op::AdminPage },
    Route { methods: &["GET"], path: "/v1/stats", op: Op::Stats },
    Route { methods: &["GET"], path: "/v1/overview", op: Op::Overview },
    Route { methods: &["GET"], path: "/v1/apps/{appId}/channels", op: Op::Channels },
    Route { methods: &["GET"], path: "/v1/apps/{appId}/rooms", op: Op::Rooms },
    Route { methods: &["POST"], path: "/v1/apps/{appId}/channels/{channel}/messages", op: Op::PublishChannel },
    Route { methods: &["POST"], path: "/v1/apps/{appId}/users/{userId}/messages", op: Op::PublishUser },
    Route { methods: &["GET"], path: "/v1/apps/{appId}/channels/{channel}/presence", op: Op::ChannelPresence },
    Route { methods: &["GET"], path: "/v1/apps/{appId}/users/{userId}/presence", op: Op::UserPresence },
    Route { methods: META, path: "/v1/apps/{appId}/channels/{channel}/metadata", op: Op::ChannelMetadata },
    Route { methods: META, path: "/v1/apps/{appId}/users/{userId}/metadata", op: Op::UserMetadata },
    Route { methods: &["GET"], path: "/v1/apps/{appId}/rooms/{roomId}/members", op: Op::RoomMembers },
    Route { methods: &["POST"], path: "/v1/apps/{appId}/rooms/{roomId}/remove-users", op: Op::RemoveUsers },
    Route { methods: &["POST"], path: "/v1/apps/{appId}/rooms/{roomId}/dismiss", op: Op::Dismiss },
    Route { methods: &["GET"], path: "/v1/apps/{appId}/str-rooms/{strRoomId}/members", op: Op::RoomMembers },
    Route { methods: &["POST"], path: "/v1/apps/{appId}/str-rooms/{strRoomId}/remove-users", op: Op::RemoveUsers },
    Route { methods: &["POST"], path: "/v1/apps/{appId}/str-rooms/{strRoomId}/dismiss", op: Op::Dismiss },
];

/// A failed request: status, code, message (`{"error": {"code", "message"}}`).
struct Failure {
    status: u16,
    code: &'static str,
    message: String,
    allow: Option<String>,
}

fn fail(status: u16, code: &'static str, message: impl Into<String>) -> Failure {
    Failure { status, code, message: message.into(), allow: None }
}

impl From<AdminError> for Failure {
    fn from(e: AdminError) -> Self {
        fail(e.status, e.code, e.message)
    }
}

impl From<crate::error::Error> for Failure {
    fn from(e: crate::error::Error) -> Self {
        AdminError::from(e).into()
    }
}

/// The bytes of a connection's first request head, read already, then the socket.
struct Replay<S> {
    read: Bytes,
    stream: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Replay<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        if !self.read.is_empty() {
            let n = self.read.len().min(buf.remaining());
            let head = self.read.split_to(n);
            buf.put_slice(&head);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Replay<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Serves a connection whose first request (its bytes in `read`) is not a WebSocket upgrade,
/// until the client closes it, it idles past [`HEAD_TIMEOUT`], or the server closes.
pub async fn serve<S>(stream: S, read: Vec<u8>, hub: Hub, peer: SocketAddr, mut shutdown: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = hyper_util::rt::TokioIo::new(Replay { read: Bytes::from(read), stream });
    let service = hyper::service::service_fn(move |request| {
        let hub = hub.clone();
        async move { Ok::<_, Infallible>(handle(&hub, request, peer).await) }
    });
    // A connection that arrives while the server drains gets its answer, then is closed.
    let draining = *shutdown.borrow_and_update();
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(64 * 1024)
        .keep_alive(!draining)
        .serve_connection(io, service);
    tokio::pin!(connection);
    if draining {
        let _ = tokio::time::timeout(Duration::from_secs(5), connection).await;
        return;
    }
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, "HTTP connection ended: {e}");
            }
        }
        _ = tokio::time::sleep(MAX_LIFETIME) => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), connection).await;
        }
        _ = shutdown.changed() => {
            // The request in progress is answered, then the connection closes.
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), connection).await;
        }
    }
}

/// Finds the route of a path: the route, and the decoded `{name}` segments in order. A path
/// that matches a route's pattern under another method gives the allowed methods.
fn route(method: &str, path: &str) -> Result<(&'static Route, Vec<String>), Failure> {
    let segments: Vec<&str> = path.split('/').collect();
    let mut allowed: Vec<&str> = Vec::new();
    for route in ROUTES {
        let pattern: Vec<&str> = route.path.split('/').collect();
        if pattern.len() != segments.len() {
            continue;
        }
        let mut params = Vec::new();
        let matched = pattern.iter().zip(&segments).all(|(p, s)| {
            if p.starts_with('{') {
                params.push(*s);
                !s.is_empty()
            } else {
                p == s
            }
        });
        if !matched {
            continue;
        }
        if !route.methods.contains(&method) {
            allowed.extend(route.methods);
            continue;
        }
        let params = params
            .into_iter()
            .map(|p| percent_decode(p).ok_or_else(|| fail(400, "InvalidParameter", "bad percent-encoding in the path")))
            .collect::<Result<_, _>>()?;
        return Ok((route, params));
    }
    if allowed.is_empty() {
        return Err(fail(404, "NotFound", format!("no route {path}")));
    }
    let mut failure = fail(405, "MethodNotAllowed", format!("{path} takes {}", allowed.join(", ")));
    failure.allow = Some(allowed.join(", "));
    Err(failure)
}

/// Who is asking.
#[derive(Debug, PartialEq)]
enum Caller {
    Admin,
    /// The API key of this app.
    App(String),
    Metrics,
    /// No credential, or one nobody configured.
    Nobody,
}

fn caller(hub: &Hub, presented: Option<&str>) -> Caller {
    let config = hub.config();
    let Some(presented) = presented.filter(|p| !p.is_empty()) else { return Caller::Nobody };
    if config.admin_token.as_ref().is_some_and(|t| t.matches(presented)) {
        return Caller::Admin;
    }
    if config.metrics_token.as_ref().is_some_and(|t| t.matches(presented)) {
        return Caller::Metrics;
    }
    // Every key is compared (no early exit that would time which app's key is closest).
    let mut found = None;
    for (app, entry) in &config.apps {
        if entry.api_key.as_ref().is_some_and(|k| k.matches(presented)) {
            found = Some(app.clone());
        }
    }
    found.map_or(Caller::Nobody, Caller::App)
}

async fn handle(hub: &Hub, request: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
    match answer(hub, request, peer).await {
        Ok((status, content_type, body)) => response(status, content_type, body),
        Err(failure) => {
            let body = json!({ "error": { "code": failure.code, "message": failure.message } }).to_string();
            let mut response = response(failure.status, "application/json", Bytes::from(body));
            if let Some(allow) = failure.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
                response.headers_mut().insert(ALLOW, allow);
            }
            response
        }
    }
}

fn response(status: u16, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if content_type.starts_with("text/html") {
        // The admin page: never framed, its own scripts and calls only.
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        headers.insert(
            "content-security-policy",
            HeaderValue::from_static(
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            ),
        );
        headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    }
    response
}

type Answer = (u16, &'static str, Bytes);

fn json_answer(status: u16, value: &Value) -> Answer {
    (status, "application/json", Bytes::from(value.to_string()))
}

async fn answer(hub: &Hub, request: Request<Incoming>, peer: SocketAddr) -> Result<Answer, Failure> {
    let (parts, body) = request.into_parts();
    let (route, params) = route(parts.method.as_str(), parts.uri.path())?;
    let presented = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.strip_prefix("Bearer ").unwrap_or("").trim());
    let caller = caller(hub, presented);
    let config = hub.config();
    match route.op {
        Op::Health => return Ok(json_answer(200, &json!({ "status": "ok" }))),
        Op::Ready => {
            let (status, value) = readiness(hub);
            return Ok(json_answer(status, &value));
        }
        Op::AdminPage => {
            // The page holds no data: it asks for the admin token and calls the API with it.
            return Ok((200, "text/html; charset=utf-8", Bytes::from_static(ADMIN_PAGE.as_bytes())));
        }
        Op::Metrics => {
            let open = config.admin_token.is_none() && config.metrics_token.is_none();
            if !open && caller != Caller::Admin && caller != Caller::Metrics {
                return Err(refused(&caller, "/metrics takes the admin or the metrics token"));
            }
            let text = super::metrics::render(hub);
            return Ok((200, "application/openmetrics-text; version=1.0.0; charset=utf-8", Bytes::from(text)));
        }
        _ => {}
    }
    let keys = config.apps.values().any(|a| a.api_key.is_some());
    if config.admin_token.is_none() && !keys {
        return Err(fail(404, "NotFound", "the backend API is off: configure adminToken, or an app's apiKey"));
    }
    // The door first: nothing of the request is read for a caller who may not make it.
    let app = route.path.starts_with("/v1/apps/").then(|| params[0].as_str());
    match (&caller, app) {
        (Caller::Admin, _) => {}
        (Caller::App(key_app), Some(app)) if key_app == app => {}
        (Caller::App(key_app), Some(_)) => {
            return Err(fail(403, "Forbidden", format!("this API key belongs to app {key_app:?}")));
        }
        (Caller::App(_), None) => return Err(fail(403, "Forbidden", "node-wide routes take the admin token")),
        _ => return Err(refused(&caller, "the backend API takes the admin token or the app's API key")),
    }
    let query = Query::parse(parts.uri.query().unwrap_or(""))?;
    let body = read_body(body).await?;
    let request = api_request(route, &parts.method, &params, query, &body)?;
    let who = match &caller {
        Caller::App(app) => format!("backend API (key of app {app}) from {peer}"),
        _ => format!("backend API (admin) from {peer}"),
    };
    let value = hub.api(request, &who).await?;
    Ok(json_answer(200, &value))
}

fn refused(caller: &Caller, what: &str) -> Failure {
    match caller {
        Caller::Nobody => {
            fail(401, "Unauthorized", format!("missing or unknown token (Authorization: Bearer …): {what}"))
        }
        _ => fail(403, "Forbidden", format!("this token may not use this route: {what}")),
    }
}

/// Reads a body up to [`MAX_BODY`] (chunked or with a length).
async fn read_body(body: Incoming) -> Result<Bytes, Failure> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            Err(fail(413, "PayloadTooLarge", format!("the body is over {MAX_BODY} bytes")))
        }
        Err(e) => Err(fail(400, "InvalidParameter", format!("the body could not be read: {e}"))),
    }
}

/// A JSON body (an empty body reads as `{}`).
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Failure> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| fail(400, "InvalidParameter", format!("bad JSON body: {e}")))
}

/// The query string, every parameter known to its route (an unknown one is refused).
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: &str) -> Result<Query, Failure> {
        let mut pairs = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_decode(&s.replace('+', " "))
                    .ok_or_else(|| fail(400, "InvalidParameter", "bad percent-encoding in the query"))
            };
            pairs.push((decode(name)?, decode(value)?));
        }
        Ok(Query(pairs))
    }

    fn take(&mut self, name: &str) -> Option<String> {
        let at = self.0.iter().position(|(n, _)| n == name)?;
        Some(self.0.remove(at).1)
    }

    fn flag(&mut self, name: &str, default: bool) -> Result<bool, Failure> {
        match self.take(name).as_deref() {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(fail(400, "InvalidParameter", format!("{name} is true or false, not {other:?}"))),
        }
    }

    fn channel_type(&mut self) -> Result<ChannelType, Failure> {
        match self.take("channelType").as_deref() {
            None | Some("MESSAGE") => Ok(ChannelType::Message),
            Some("STREAM") => Ok(ChannelType::Stream),
            Some(other) => {
                Err(fail(400, "InvalidParameter", format!("channelType is MESSAGE or STREAM, not {other:?}")))
            }
        }
    }

    /// Refuses what is left.
    fn done(self) -> Result<(), Failure> {
        match self.0.first() {
            None => Ok(()),
            Some((name, _)) => Err(fail(400, "InvalidParameter", format!("unknown query parameter {name:?}"))),
        }
    }
}

/// A request whose body holds the rest of its fields: the body's object joins what the path
/// says (`op`, ids), and the whole is read as an [`ApiRequest`], with its rules (unknown fields
/// refused). A body field that the path sets is refused, not overridden.
fn with_body(path: Value, body: &[u8]) -> Result<ApiRequest, Failure> {
    let Value::Object(mut fields) = path else { unreachable!("the path's fields are an object") };
    let body: serde_json::Map<String, Value> = parse(body)?;
    for (key, value) in body {
        if fields.contains_key(&key) || key == "op" {
            return Err(fail(400, "InvalidParameter", format!("{key} comes from the path, not the body")));
        }
        fields.insert(key, value);
    }
    serde_json::from_value(Value::Object(fields))
        .map_err(|e| fail(400, "InvalidParameter", format!("bad JSON body: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// Builds the API request of a route from its path parameters, query and body.
fn api_request(
    route: &Route,
    method: &Method,
    params: &[String],
    mut query: Query,
    body: &[u8],
) -> Result<ApiRequest, Failure> {
    let op = route.op;
    let app_id = params.first().cloned().unwrap_or_default();
    let second = params.get(1).cloned().unwrap_or_default();
    let room_id = || -> Result<RoomId, Failure> {
        if route.path.contains("/str-rooms/") {
            return Ok(RoomId::Str(second.clone()));
        }
        second.parse::<u64>().map(RoomId::Num).map_err(|_| {
            let message = format!("roomId {second:?} is not a number (string ids go under /str-rooms/)");
            fail(400, "InvalidParameter.RoomId", message)
        })
    };
    let request = match op {
        Op::Stats => {
            parse::<Empty>(body)?;
            ApiRequest::Stats {}
        }
        Op::Overview => {
            parse::<Empty>(body)?;
            ApiRequest::Overview {}
        }
        Op::Channels => {
            parse::<Empty>(body)?;
            ApiRequest::Channels { app_id }
        }
        Op::Rooms => {
            parse::<Empty>(body)?;
            ApiRequest::Rooms { app_id }
        }
        Op::PublishChannel | Op::PublishUser => {
            let channel_type = if op == Op::PublishUser { ChannelType::User } else { ChannelType::Message };
            let path = json!({ "op": "publish", "appId": app_id, "channel": second, "channelType": channel_type });
            with_body(path, body)?
        }
        Op::ChannelPresence => {
            parse::<Empty>(body)?;
            ApiRequest::WhoNow {
                app_id,
                channel: second,
                channel_type: query.channel_type()?,
                included_user_id: query.flag("includedUserId", true)?,
                included_state: query.flag("includedState", false)?,
                page: query.take("page"),
            }
        }
        Op::UserPresence => {
            parse::<Empty>(body)?;
            ApiRequest::WhereNow { app_id, user_id: second }
        }
        Op::ChannelMetadata | Op::UserMetadata => {
            let (channel, channel_type, user_id) = if op == Op::ChannelMetadata {
                (Some(second), Some(query.channel_type()?), None)
            } else {
                (None, None, Some(second))
            };
            let mode = match *method {
                Method::GET => {
                    parse::<Empty>(body)?;
                    None
                }
                Method::PUT => Some(MetaMode::Set),
                Method::PATCH => Some(MetaMode::Update),
                _ => Some(MetaMode::Remove),
            };
            match mode {
                None => ApiRequest::GetMetadata { app_id, channel, channel_type, user_id },
                Some(mode) => {
                    let mut path = json!({ "op": "writeMetadata", "appId": app_id, "mode": mode });
                    match (channel, channel_type, user_id) {
                        (Some(channel), Some(channel_type), _) => {
                            path["channel"] = json!(channel);
                            path["channelType"] = json!(channel_type);
                        }
                        (_, _, user_id) => path["userId"] = json!(user_id),
                    }
                    with_body(path, body)?
                }
            }
        }
        Op::RoomMembers => {
            parse::<Empty>(body)?;
            ApiRequest::RoomMembers { room_id: room_id()?, app_id }
        }
        Op::RemoveUsers => {
            let path = json!({ "op": "removeUsers", "appId": app_id, "roomId": room_id()? });
            with_body(path, body)
                .map_err(|f| fail(400, f.code, format!("body must be {{\"userIds\": [...]}}: {}", f.message)))?
        }
        Op::Dismiss => {
            parse::<Empty>(body)?;
            ApiRequest::DismissRoom { room_id: room_id()?, app_id }
        }
        Op::Health | Op::Ready | Op::Metrics | Op::AdminPage => unreachable!("answered before"),
    };
    query.done()?;
    Ok(request)
}

/// `GET /readyz`: 200 while the node should get traffic, 503 while, in cluster mode, it cannot
/// reach Redis (it refuses what needs the cluster then) or once it is stopped.
pub fn readiness(hub: &Hub) -> (u16, Value) {
    let draining = hub.is_stopped();
    let redis = match hub.cluster_up() {
        None => "not used",
        Some(true) => "up",
        Some(false) => "unreachable",
    };
    let ready = !draining && redis != "unreachable";
    (if ready { 200 } else { 503 }, json!({ "ready": ready, "draining": draining, "redis": redis }))
}

/// Decodes `%XX` escapes.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_node_is_ready_until_it_drains() {
        let hub = Hub::new(Arc::new(crate::config::ServerConfig::default()));
        assert_eq!(readiness(&hub), (200, json!({"draining": false, "ready": true, "redis": "not used"})));
        hub.stop();
        assert_eq!(readiness(&hub), (503, json!({"draining": true, "ready": false, "redis": "not used"})));
    }

    #[test]
    fn paths_find_their_route_or_say_what_is_wrong() {
        let (found, params) = route("POST", "/v1/apps/a/channels/my%20chan/messages").ok().unwrap();
        assert_eq!((found.op, params), (Op::PublishChannel, vec!["a".to_string(), "my chan".to_string()]));
        let (found, _) = route("GET", "/v1/apps/a/str-rooms/r/members").ok().unwrap();
        assert_eq!(found.op, Op::RoomMembers);
        let wrong = route("DELETE", "/v1/apps/a/rooms/1/dismiss").err().unwrap();
        assert_eq!((wrong.status, wrong.allow.as_deref()), (405, Some("POST")));
        assert_eq!(route("GET", "/v1/apps//users/u/presence").err().unwrap().status, 404);
        assert_eq!(route("GET", "/nope").err().unwrap().status, 404);
    }
}
