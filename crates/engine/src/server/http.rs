//! HTTP on the WebSocket port: reading a request head, the upgrade answer, and the plain
//! routes — `GET /healthz` (the process answers), `GET /readyz` (it should get traffic: not
//! draining, and in cluster mode its Redis is reachable), `GET /metrics`, and the admin API (`POST /v1/apps/{app}/rooms/{id}/
//! remove-users | dismiss`, the same under `/str-rooms/`). Hand-rolled on `httparse` because the
//! routes are few and the upgrade must hand the same socket to the WebSocket layer.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::hub::Hub;

/// Largest request head accepted.
const MAX_HEAD: usize = 8 * 1024;
/// Largest admin request body accepted.
const MAX_BODY: usize = 64 * 1024;

/// A parsed request head and the bytes read past it.
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub rest: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The `Sec-WebSocket-Key` of a valid upgrade request.
    pub fn websocket_key(&self) -> Option<&str> {
        let upgrade = self.header("upgrade")?.eq_ignore_ascii_case("websocket");
        let connection = self.header("connection")?.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
        let version = self.header("sec-websocket-version") == Some("13");
        (upgrade && connection && version && self.method == "GET").then(|| self.header("sec-websocket-key")).flatten()
    }

    pub fn wants_upgrade(&self) -> bool {
        self.header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
    }
}

/// Why no request could be read.
#[derive(Debug)]
pub enum HeadError {
    Closed,
    TooLarge,
    Malformed,
    Timeout,
}

/// Reads one request head within `timeout`.
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S, timeout: Duration) -> Result<Request, HeadError> {
    tokio::time::timeout(timeout, async {
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream.read(&mut chunk).await.map_err(|_| HeadError::Closed)?;
            if n == 0 {
                return Err(HeadError::Closed);
            }
            buf.extend_from_slice(&chunk[..n]);
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let headers = req
                        .headers
                        .iter()
                        .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).trim().to_string()))
                        .collect();
                    return Ok(Request {
                        method: req.method.unwrap_or("").to_string(),
                        path: req.path.unwrap_or("/").to_string(),
                        headers,
                        rest: buf[len..].to_vec(),
                    });
                }
                Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => continue,
                Ok(httparse::Status::Partial) => return Err(HeadError::TooLarge),
                Err(_) => return Err(HeadError::Malformed),
            }
        }
    })
    .await
    .unwrap_or(Err(HeadError::Timeout))
}

/// Writes a complete response and closes.
pub async fn respond<S: AsyncWrite + Unpin>(stream: &mut S, status: u16, content_type: &str, body: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn json_error(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

/// Answers a request that is not a WebSocket upgrade.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, request: Request, hub: &Hub, peer: SocketAddr) {
    let path = request.path.split('?').next().unwrap_or("").to_string();
    let admin = hub.config().admin_token.clone();
    let metrics_token = hub.config().metrics_token.clone();
    let presented = request.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("").trim();
    let authorized = || admin.as_ref().is_some_and(|token| token.matches(presented));
    // The metrics token reads /metrics and nothing else; the admin token reads it too.
    let may_read_metrics = (admin.is_none() && metrics_token.is_none())
        || authorized()
        || metrics_token.as_ref().is_some_and(|token| token.matches(presented));
    match (request.method.as_str(), path.as_str()) {
        ("GET", "/healthz") => respond(stream, 200, "application/json", r#"{"status":"ok"}"#).await,
        ("GET", "/readyz") => {
            let (status, body) = readiness(hub);
            respond(stream, status, "application/json", &body).await
        }
        ("GET", "/metrics") if !may_read_metrics => unauthorized(stream).await,
        ("GET", "/metrics") => {
            respond(
                stream,
                200,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                &super::metrics::render(hub),
            )
            .await
        }
        (_, "/healthz" | "/readyz" | "/metrics") => {
            respond(stream, 405, "application/json", &json_error("method not allowed")).await
        }
        (_, p) if p.starts_with("/v1/") => {
            if admin.is_none() {
                return respond(
                    stream,
                    404,
                    "application/json",
                    &json_error("the admin API is off (no adminToken configured)"),
                )
                .await;
            }
            if !authorized() {
                return unauthorized(stream).await;
            }
            if request.method != "POST" {
                return respond(stream, 405, "application/json", &json_error("admin routes take POST")).await;
            }
            let body = match read_body(stream, &request).await {
                Ok(body) => body,
                Err(status) => {
                    return respond(stream, status, "application/json", &json_error("bad request body")).await
                }
            };
            let (status, answer) = admin_route(hub, p, &body, peer);
            respond(stream, status, "application/json", &answer).await
        }
        _ if request.wants_upgrade() => {
            respond(stream, 400, "application/json", &json_error("invalid WebSocket upgrade request")).await
        }
        _ => respond(stream, 404, "application/json", &json_error("no such route")).await,
    }
}

/// `GET /readyz`: 200 while the node should get traffic, 503 while, in cluster mode, it cannot
/// reach Redis (it refuses what needs the cluster then) or once it is stopped (a closing server
/// stops accepting at once, so over HTTP a probe mostly sees the refused connection).
pub fn readiness(hub: &Hub) -> (u16, String) {
    let draining = hub.is_stopped();
    let redis = match hub.cluster_up() {
        None => "not used",
        Some(true) => "up",
        Some(false) => "unreachable",
    };
    let ready = !draining && redis != "unreachable";
    let body = serde_json::json!({ "ready": ready, "draining": draining, "redis": redis }).to_string();
    (if ready { 200 } else { 503 }, body)
}

async fn unauthorized<S: AsyncWrite + Unpin>(stream: &mut S) {
    respond(stream, 401, "application/json", &json_error("missing or wrong admin token (Authorization: Bearer …)"))
        .await
}

/// Reads the body announced by `content-length` (bounded).
async fn read_body<S: AsyncRead + Unpin>(stream: &mut S, request: &Request) -> Result<Vec<u8>, u16> {
    let length: usize = match request.header("content-length") {
        Some(v) => v.parse().map_err(|_| 400u16)?,
        None => 0,
    };
    if length > MAX_BODY {
        return Err(413);
    }
    let mut body = request.rest.clone();
    if body.len() > length {
        body.truncate(length);
    }
    let missing = length - body.len();
    if missing > 0 {
        let mut rest = vec![0u8; missing];
        tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut rest))
            .await
            .map_err(|_| 408u16)?
            .map_err(|_| 400u16)?;
        body.extend_from_slice(&rest);
    }
    Ok(body)
}

/// Decodes `%XX` escapes of a path segment.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn admin_error(error: &crate::hub::room::AdminError) -> (u16, String) {
    (error.status, serde_json::json!({ "error": { "code": error.code, "message": error.message } }).to_string())
}

/// Runs one admin route; returns the status and the JSON answer.
fn admin_route(hub: &Hub, path: &str, body: &[u8], peer: SocketAddr) -> (u16, String) {
    use crate::hub::room::AdminError;
    use crate::protocol::RoomId;
    let parts: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    let not_found = || (404, json_error("no such admin route"));
    let [apps, app, kind, room, action] = parts[..] else { return not_found() };
    if apps != "apps" {
        return not_found();
    }
    let (Some(app), Some(room)) = (percent_decode(app), percent_decode(room)) else {
        return (400, json_error("bad percent-encoding in the path"));
    };
    let room = match kind {
        "rooms" => match room.parse::<u64>() {
            Ok(n) => RoomId::Num(n),
            Err(_) => {
                return admin_error(&AdminError {
                    status: 400,
                    code: "InvalidParameter.RoomId",
                    message: format!("roomId {room:?} is not a number (string ids go under /str-rooms/)"),
                })
            }
        },
        "str-rooms" => RoomId::Str(room),
        _ => return not_found(),
    };
    let caller = format!("admin HTTP API from {peer}");
    let result = match action {
        "remove-users" => {
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "camelCase", deny_unknown_fields)]
            struct Body {
                user_ids: Vec<String>,
            }
            let body: Body = match serde_json::from_slice(body) {
                Ok(body) => body,
                Err(e) => return (400, json_error(&format!("body must be {{\"userIds\": [...]}}: {e}"))),
            };
            hub.remove_users(&app, &room, &body.user_ids, &caller).map(|r| serde_json::to_value(r).expect("serializes"))
        }
        "dismiss" => hub.dismiss_room(&app, &room, &caller).map(|r| serde_json::to_value(r).expect("serializes")),
        _ => return not_found(),
    };
    match result {
        Ok(mut value) => {
            value["roomId"] = serde_json::to_value(&room).expect("serializes");
            (200, value.to_string())
        }
        Err(e) => admin_error(&e),
    }
}

/// Refuses a connection before reading anything (connection limits).
pub async fn refuse<S: AsyncWrite + Unpin>(mut stream: S, status: u16, message: &'static str) {
    respond(&mut stream, status, "application/json", &json_error(message)).await;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_node_is_ready_until_it_drains() {
        let hub = Hub::new(Arc::new(crate::config::ServerConfig::default()));
        assert_eq!(readiness(&hub), (200, r#"{"draining":false,"ready":true,"redis":"not used"}"#.to_string()));
        hub.stop();
        assert_eq!(readiness(&hub), (503, r#"{"draining":true,"ready":false,"redis":"not used"}"#.to_string()));
    }
}
