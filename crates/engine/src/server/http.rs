//! The first request head of a connection, read by hand on `httparse`: a WebSocket upgrade is
//! answered here and the same socket goes to the WebSocket layer with nothing in between;
//! any other request goes, with the bytes read so far, to the HTTP routes (`server::api`, on
//! hyper). Also the short answers written before a connection is served (limits, bad heads).

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest request head accepted.
const MAX_HEAD: usize = 8 * 1024;

/// A parsed request head and the bytes read past it.
pub struct Request {
    pub method: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub rest: Vec<u8>,
    /// Everything read: the head, then `rest` (replayed to the HTTP routes).
    pub raw: Vec<u8>,
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
                        headers,
                        rest: buf[len..].to_vec(),
                        raw: buf,
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

/// Writes a refusal (`{"error": {"code", "message"}}`, the shape of every HTTP route's) and
/// closes: for what is answered before a connection is handed on (limits, bad heads, a
/// draining node, a bad upgrade).
pub async fn refuse<S: AsyncWrite + Unpin>(mut stream: S, status: u16, message: &str) {
    let (reason, code) = match status {
        400 => ("Bad Request", "InvalidParameter"),
        429 => ("Too Many Requests", "TooManyRequests"),
        431 => ("Request Header Fields Too Large", "HeaderTooLarge"),
        503 => ("Service Unavailable", "Unavailable"),
        _ => ("Error", "Error"),
    };
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}
