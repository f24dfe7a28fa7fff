//! The backend HTTP API (docs/openapi.json, SPEC §12): every route, who may call it, what it
//! does, and how bodies are read (chunked, too large, not JSON), over plain sockets.

mod common;

use std::collections::BTreeSet;
use std::collections::HashMap;

use common::*;
use piazza_engine::config::{AppConfig, Secret};
use piazza_engine::protocol::SessionKind;
use piazza_engine::server::api::ROUTES;
use piazza_engine::server::Server;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ADMIN: &str = "admin-token-0123456789";
const METRICS: &str = "metrics-token-0123456789";
const KEY_ONE: &str = "api-key-of-app-one-0123";
const KEY_TWO: &str = "api-key-of-app-two-0123";

/// A parsed answer: status, headers (lowercased names), body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// Reads one answer (with a content-length) from a kept-alive connection.
async fn read_answer(tcp: &mut TcpStream) -> Answer {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk)).await.expect("an answer in time").unwrap();
        assert!(n > 0, "the connection closed before an answer: {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let status = head[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").map(|(_, v)| v.parse().unwrap()).unwrap_or(0);
    while buf.len() < head_end + length {
        let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk)).await.expect("a body in time").unwrap();
        assert!(n > 0, "the connection closed inside a body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or(Value::Null);
    Answer { status, headers, body }
}

fn request(method: &str, path: &str, token: Option<&str>, body: &str) -> String {
    let auth = token.map(|t| format!("authorization: Bearer {t}\r\n")).unwrap_or_default();
    format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// One request on a new connection.
async fn call(server: &Server, method: &str, path: &str, token: Option<&str>, body: &str) -> Answer {
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    tcp.write_all(request(method, path, token, body).as_bytes()).await.unwrap();
    read_answer(&mut tcp).await
}

async fn admin(server: &Server, method: &str, path: &str, body: Value) -> Answer {
    let body = if body.is_null() { String::new() } else { body.to_string() };
    call(server, method, path, Some(ADMIN), &body).await
}

/// A concrete path of a route pattern.
fn concrete(pattern: &str) -> String {
    pattern
        .replace("{appId}", "one")
        .replace("{channel}", "c")
        .replace("{userId}", "u")
        .replace("{roomId}", "7")
        .replace("{strRoomId}", "r")
}

#[tokio::test]
async fn every_route_refuses_callers_without_the_right_token() {
    let server = server_with(|c| {
        c.admin_token = Some(Secret::new(ADMIN));
        c.metrics_token = Some(Secret::new(METRICS));
        c.apps = HashMap::from([
            (
                "one".to_string(),
                AppConfig { certificate: Secret::new("certificate-of-one-0123"), api_key: Some(Secret::new(KEY_ONE)) },
            ),
            (
                "two".to_string(),
                AppConfig { certificate: Secret::new("certificate-of-two-0123"), api_key: Some(Secret::new(KEY_TWO)) },
            ),
        ]);
    })
    .await;
    let mut checked = 0;
    for route in ROUTES.iter().filter(|r| r.path.starts_with("/v1/")) {
        for method in route.methods {
            let path = concrete(route.path);
            let nobody = call(&server, method, &path, None, "").await;
            assert_eq!((nobody.status, nobody.code()), (401, "Unauthorized"), "{method} {path}");
            let wrong = call(&server, method, &path, Some("not-a-token-of-anyone-0123"), "").await;
            assert_eq!(wrong.status, 401, "{method} {path}");
            let scraper = call(&server, method, &path, Some(METRICS), "").await;
            assert_eq!((scraper.status, scraper.code()), (403, "Forbidden"), "{method} {path}");
            let other_app = call(&server, method, &path, Some(KEY_TWO), "").await;
            assert_eq!((other_app.status, other_app.code()), (403, "Forbidden"), "{method} {path}: {other_app:?}");
            // The app's own key and the admin token get past the door (to the route's own
            // answer: a 404 for a room nobody is in, 200 for the rest).
            for token in [KEY_ONE, ADMIN] {
                let own = call(&server, method, &path, Some(token), "").await;
                let node_wide = (path == "/v1/stats" || path == "/v1/overview") && token == KEY_ONE;
                let expected: &[u16] = if node_wide { &[403] } else { &[200, 400, 404] };
                assert!(expected.contains(&own.status), "{method} {path} with {token}: {own:?}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 16, "only {checked} routes checked");
    // An app that is not configured does not exist for the admin either.
    let ghost = admin(&server, "GET", "/v1/apps/ghost/users/u/presence", Value::Null).await;
    assert_eq!((ghost.status, ghost.code()), (404, "RTM_ERROR_INVALID_APP_ID"));
    // Probes are open; /metrics takes the metrics or admin token.
    assert_eq!(call(&server, "GET", "/healthz", None, "").await.status, 200);
    assert_eq!(call(&server, "GET", "/readyz", None, "").await.status, 200);
    assert_eq!(call(&server, "GET", "/metrics", None, "").await.status, 401);
    assert_eq!(call(&server, "GET", "/metrics", Some(KEY_ONE), "").await.status, 403);
    // The admin page loads without a token (it holds no data; its calls need the token).
    let page = call(&server, "GET", "/admin", None, "").await;
    assert_eq!((page.status, page.header("content-type")), (200, Some("text/html; charset=utf-8")));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert!(page.header("content-security-policy").is_some_and(|p| p.contains("frame-ancestors 'none'")));
    // A short API key is refused at start.
    let config = piazza_engine::config::ServerConfig {
        apps: HashMap::from([(
            "one".to_string(),
            AppConfig { certificate: Secret::new("certificate-of-one-0123"), api_key: Some(Secret::new("short")) },
        )]),
        ..Default::default()
    };
    assert!(config.validate().unwrap_err().to_string().contains("apiKey"));
    // Two apps with one key, or a key equal to a token, are refused (who would it be?).
    let twice = |key_two: &str, admin: Option<&str>| piazza_engine::config::ServerConfig {
        admin_token: admin.map(Secret::new),
        apps: HashMap::from([
            (
                "one".to_string(),
                AppConfig { certificate: Secret::new("certificate-of-one-0123"), api_key: Some(Secret::new(KEY_ONE)) },
            ),
            (
                "two".to_string(),
                AppConfig { certificate: Secret::new("certificate-of-two-0123"), api_key: Some(Secret::new(key_two)) },
            ),
        ]),
        ..Default::default()
    };
    assert!(twice(KEY_ONE, None).validate().unwrap_err().to_string().contains("must all differ"));
    assert!(twice(KEY_TWO, Some(KEY_TWO)).validate().unwrap_err().to_string().contains("must all differ"));
    assert!(twice(KEY_TWO, Some(ADMIN)).validate().is_ok());
    // A malformed app id is bad input, not an unknown app; a bad escape is refused.
    let malformed = admin(&server, "GET", "/v1/apps/a%2Fb/users/u/presence", Value::Null).await;
    assert_eq!((malformed.status, malformed.code()), (400, "RTM_ERROR_INVALID_APP_ID"));
    let escape = admin(&server, "GET", "/v1/apps/one/users/%+f/presence", Value::Null).await;
    assert_eq!(escape.status, 400, "{escape:?}");
}

#[tokio::test]
async fn without_an_admin_token_or_api_key_the_backend_api_is_off() {
    let server = server().await;
    let off = call(&server, "GET", "/v1/stats", None, "").await;
    assert_eq!(off.status, 404);
    assert!(off.body["error"]["message"].as_str().unwrap().contains("adminToken"), "{off:?}");
}

fn admin_server() -> impl std::future::Future<Output = Server> {
    server_with(|c| c.admin_token = Some(Secret::new(ADMIN)))
}

#[tokio::test]
async fn publish_reaches_channels_and_users_and_is_kept_in_history() {
    let server = admin_server().await;
    let mut alice = login(&server, "alice").await;
    alice.ask(json!({"op":"subscribe","channel":"news","withPresence":false})).await.unwrap();
    let sent = admin(
        &server,
        "POST",
        "/v1/apps/app/channels/news/messages",
        json!({"message":"hello","customType":"notice","storeInHistory":true}),
    )
    .await;
    assert_eq!(sent.status, 200, "{sent:?}");
    assert_eq!(sent.body["channelName"], "news");
    let got = alice.next_message().await;
    assert_eq!(
        (got.header["publisher"].as_str(), got.header["customType"].as_str(), got.header["channelType"].as_str()),
        (Some("server"), Some("notice"), Some("MESSAGE"))
    );
    assert_eq!(got.payload, piazza_engine::client::Payload::Text("hello".into()));
    // Bytes, and another publisher name.
    let sent = admin(
        &server,
        "POST",
        "/v1/apps/app/channels/news/messages",
        json!({"messageBase64":"AAEC","publisher":"backend-7"}),
    )
    .await;
    assert_eq!(sent.status, 200, "{sent:?}");
    let got = alice.next_message().await;
    assert_eq!(
        (got.header["publisher"].as_str(), got.header["messageType"].as_str()),
        (Some("backend-7"), Some("BINARY"))
    );
    assert_eq!(got.payload, piazza_engine::client::Payload::Binary(bytes::Bytes::from_static(&[0, 1, 2])));
    // History holds the stored one.
    let history = alice.ask(json!({"op":"getMessages","channelType":"MESSAGE","channel":"news"})).await.unwrap();
    let list = history["messageList"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{history}");
    assert_eq!((list[0]["publisher"].as_str(), list[0]["customType"].as_str()), (Some("server"), Some("notice")));
    // To a user: the receiver sees the publisher as the channel.
    let to_alice = admin(&server, "POST", "/v1/apps/app/users/alice/messages", json!({"message":"psst"})).await;
    assert_eq!(to_alice.status, 200, "{to_alice:?}");
    let got = alice.next_message().await;
    assert_eq!(
        (got.header["channelType"].as_str(), got.header["channelName"].as_str()),
        (Some("USER"), Some("server"))
    );
    let offline = admin(&server, "POST", "/v1/apps/app/users/nobody/messages", json!({"message":"?"})).await;
    assert_eq!((offline.status, offline.code()), (404, "RTM_ERROR_CHANNEL_RECEIVER_OFFLINE"));
    // Bad input: both or neither payload, a bad name, an unknown field, bad base64.
    for body in [
        json!({"message":"a","messageBase64":"AA=="}),
        json!({}),
        json!({"message":"a","publisher":"bad/name"}),
        json!({"message":"a","sender":"x"}),
        json!({"messageBase64":"***"}),
        json!({"message":"a","channelType":"USER"}),
        json!({"message":"a","op":"stats"}),
    ] {
        let refused = admin(&server, "POST", "/v1/apps/app/channels/news/messages", body.clone()).await;
        assert_eq!(refused.status, 400, "{body}: {refused:?}");
    }
    let bad_channel = admin(&server, "POST", "/v1/apps/app/channels/a%20b%2Fc/messages", json!({"message":"a"})).await;
    assert_eq!((bad_channel.status, bad_channel.code()), (400, "RTM_ERROR_INVALID_CHANNEL_NAME"));
}

#[tokio::test]
async fn who_now_pages_through_a_channel_and_where_now_finds_a_user() {
    let server = admin_server().await;
    let mut clients = Vec::new();
    for i in 0..60 {
        let c = login(&server, &format!("u{i:02}")).await;
        c.ask(json!({"op":"subscribe","channel":"hall"})).await.unwrap();
        clients.push(c);
    }
    clients[0]
        .ask(json!({"op":"setState","channel":"hall","channelType":"MESSAGE","states":{"mood":"ok"}}))
        .await
        .unwrap();
    let first = admin(&server, "GET", "/v1/apps/app/channels/hall/presence?includedState=true", Value::Null).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["totalOccupancy"], 60);
    let occupants = first.body["occupants"].as_array().unwrap();
    assert_eq!((occupants.len(), occupants[0]["userId"].as_str()), (50, Some("u00")));
    assert_eq!(occupants[0]["states"], json!({"mood":"ok"}));
    let page = first.body["nextPage"].as_str().unwrap().to_string();
    let next =
        admin(&server, "GET", &format!("/v1/apps/app/channels/hall/presence?page={}", urlencode(&page)), Value::Null)
            .await;
    let rest: Vec<&str> =
        next.body["occupants"].as_array().unwrap().iter().map(|o| o["userId"].as_str().unwrap()).collect();
    assert_eq!((rest.len(), rest[0], next.body["nextPage"].as_str()), (10, "u50", Some("")));
    let counted = admin(&server, "GET", "/v1/apps/app/channels/hall/presence?includedUserId=false", Value::Null).await;
    assert_eq!((counted.body["totalOccupancy"].clone(), counted.body["occupants"].clone()), (json!(60), json!([])));
    let empty =
        admin(&server, "GET", "/v1/apps/app/channels/nobody-here/presence?channelType=STREAM", Value::Null).await;
    assert_eq!((empty.status, empty.body["totalOccupancy"].clone()), (200, json!(0)));
    let whereabouts = admin(&server, "GET", "/v1/apps/app/users/u07/presence", Value::Null).await;
    assert_eq!(whereabouts.body["channels"], json!([{"channelName":"hall","channelType":"MESSAGE"}]));
    for (path, what) in [
        ("/v1/apps/app/channels/hall/presence?channelType=USER", "channelType"),
        ("/v1/apps/app/channels/hall/presence?includedState=maybe", "includedState"),
        ("/v1/apps/app/channels/hall/presence?colour=red", "colour"),
        ("/v1/apps/app/channels/hall/presence?page=garbage", "page"),
    ] {
        let refused = admin(&server, "GET", path, Value::Null).await;
        assert_eq!(refused.status, 400, "{path}: {refused:?}");
        assert!(refused.body["error"]["message"].as_str().unwrap().contains(what) || what == "page", "{refused:?}");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn metadata_routes_set_update_read_and_remove_and_members_hear_them() {
    let server = admin_server().await;
    let mut watcher = login(&server, "watcher").await;
    watcher.ask(json!({"op":"subscribe","channel":"room-1","withMetadata":true})).await.unwrap();
    watcher.next_typed("storage", "SNAPSHOT").await;
    let path = "/v1/apps/app/channels/room-1/metadata";
    let set =
        admin(&server, "PUT", path, json!({"items":[{"key":"topic","value":"rust"},{"key":"size","value":"3"}]})).await;
    assert_eq!((set.status, set.body["totalCount"].clone()), (200, json!(2)), "{set:?}");
    let event = watcher.next_typed("storage", "SET").await;
    assert_eq!(event["publisher"], "server");
    let update = admin(&server, "PATCH", path, json!({"items":[{"key":"size","value":"4"}]})).await;
    assert_eq!(update.status, 200, "{update:?}");
    let read = admin(&server, "GET", path, Value::Null).await;
    assert_eq!(read.body["metadata"]["size"]["value"], "4", "{read:?}");
    assert_eq!(read.body["metadata"]["topic"]["value"], "rust");
    let revision = read.body["metadata"]["size"]["revision"].as_i64().unwrap();
    // A stale revision is a conflict.
    let stale =
        admin(&server, "PATCH", path, json!({"items":[{"key":"size","value":"5","revision":revision + 10}]})).await;
    assert_eq!((stale.status, stale.code()), (409, "RTM_ERROR_STORAGE_OUTDATED_REVISION"), "{stale:?}");
    let removed = admin(&server, "DELETE", path, json!({"items":[{"key":"topic"}]})).await;
    assert_eq!(removed.body["totalCount"], 1, "{removed:?}");
    let all_gone = admin(&server, "DELETE", path, Value::Null).await;
    assert_eq!(all_gone.body["totalCount"], 0, "{all_gone:?}");
    // A stream channel's metadata is another one.
    let stream = admin(&server, "GET", "/v1/apps/app/channels/room-1/metadata?channelType=STREAM", Value::Null).await;
    assert_eq!((stream.body["channelType"].as_str(), stream.body["totalCount"].clone()), (Some("STREAM"), json!(0)));
    // A user's.
    let user = "/v1/apps/app/users/watcher/metadata";
    let set =
        admin(&server, "PUT", user, json!({"items":[{"key":"title","value":"ops"}],"options":{"addUserId":true}}))
            .await;
    assert_eq!((set.status, set.body["userId"].as_str()), (200, Some("watcher")), "{set:?}");
    let read = admin(&server, "GET", user, Value::Null).await;
    assert_eq!(read.body["metadata"]["title"]["authorUid"], "server", "{read:?}");
    let bad = admin(&server, "PUT", user, json!({"items":[{"key":"","value":"x"}]})).await;
    assert_eq!(bad.status, 400, "{bad:?}");
    // The backend holds no lock: a write under one is refused, not always failed.
    let locked =
        admin(&server, "PUT", path, json!({"items":[{"key":"k","value":"v"}],"options":{"lockName":"l"}})).await;
    assert_eq!(locked.status, 400, "{locked:?}");
    assert!(locked.body["error"]["message"].as_str().unwrap().contains("lockName"));
}

#[tokio::test]
async fn room_routes_list_kick_and_dismiss() {
    let server = admin_server().await;
    let mut members = Vec::new();
    for (user, role) in [("host", "anchor"), ("fan", "audience")] {
        let mut config = config(&server, "app", user);
        config.kind = SessionKind::Trtc;
        let c = login_with(config).await;
        c.ask(json!({"op":"enterRoom","room":"live-1","role":role,"scene":"live"})).await.unwrap();
        members.push(c);
    }
    let listed = admin(&server, "GET", "/v1/apps/app/str-rooms/live-1/members", Value::Null).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(listed.body["members"], json!([{"userId":"fan","role":"audience"},{"userId":"host","role":"anchor"}]));
    assert_eq!((listed.body["roomId"].as_str(), listed.body["scene"].as_str()), (Some("live-1"), Some("live")));
    // The admin page's listings: rooms with members and roles, channels with counts, apps.
    let rooms = admin(&server, "GET", "/v1/apps/app/rooms", Value::Null).await;
    assert_eq!(
        rooms.body["rooms"],
        json!([{"roomId":"live-1","scene":"live","members":[{"userId":"fan","role":"audience"},{"userId":"host","role":"anchor"}]}])
    );
    let mut rtm = login(&server, "reader").await;
    rtm.ask(json!({"op":"subscribe","channel":"news"})).await.unwrap();
    rtm.next_typed("presence", "SNAPSHOT").await;
    let channels = admin(&server, "GET", "/v1/apps/app/channels", Value::Null).await;
    assert_eq!(channels.body["channels"], json!([{"channelName":"news","channelType":"MESSAGE","members":1}]));
    assert_eq!(channels.body["truncated"], false);
    let overview = admin(&server, "GET", "/v1/overview", Value::Null).await;
    assert_eq!(overview.body["apps"], json!([{"appId":"app","sessions":3,"channels":1,"streamChannels":0,"rooms":1}]));
    assert_eq!(overview.body["node"]["connections"], 3);
    let numeric = admin(&server, "GET", "/v1/apps/app/rooms/live-1/members", Value::Null).await;
    assert_eq!((numeric.status, numeric.code()), (400, "InvalidParameter.RoomId"));
    let absent = admin(&server, "GET", "/v1/apps/app/rooms/9/members", Value::Null).await;
    assert_eq!((absent.status, absent.code()), (404, "FailedOperation.RoomNotExist"));
    let kicked = admin(&server, "POST", "/v1/apps/app/str-rooms/live-1/remove-users", json!({"userIds":["fan"]})).await;
    assert_eq!(kicked.body["removed"], json!(["fan"]), "{kicked:?}");
    let dismissed = admin(&server, "POST", "/v1/apps/app/str-rooms/live-1/dismiss", Value::Null).await;
    assert_eq!((dismissed.status, dismissed.body["members"].clone()), (200, json!(1)), "{dismissed:?}");
    let stats = admin(&server, "GET", "/v1/stats", Value::Null).await;
    assert_eq!((stats.status, stats.body["rooms"].clone()), (200, json!(0)), "{stats:?}");
    assert!(stats.body["connections"].as_u64().unwrap() >= 2);
}

#[tokio::test]
async fn bodies_may_be_chunked_are_bounded_and_connections_stay_open() {
    let server = admin_server().await;
    let mut alice = login(&server, "alice").await;
    alice.ask(json!({"op":"subscribe","channel":"c","withPresence":false})).await.unwrap();
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    // A chunked body, in two chunks.
    let body = r#"{"message":"chunked"}"#;
    let (a, b) = body.split_at(9);
    let chunked = format!(
        "POST /v1/apps/app/channels/c/messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {ADMIN}\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    tcp.write_all(chunked.as_bytes()).await.unwrap();
    let answer = read_answer(&mut tcp).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(alice.next_message().await.payload, piazza_engine::client::Payload::Text("chunked".into()));
    // The same connection serves the next requests (keep-alive), including a 405 with Allow
    // and a bad JSON body.
    tcp.write_all(request("GET", "/healthz", None, "").as_bytes()).await.unwrap();
    assert_eq!(read_answer(&mut tcp).await.status, 200);
    tcp.write_all(request("DELETE", "/v1/apps/app/rooms/1/dismiss", Some(ADMIN), "").as_bytes()).await.unwrap();
    let wrong_method = read_answer(&mut tcp).await;
    assert_eq!((wrong_method.status, wrong_method.header("allow")), (405, Some("POST")));
    tcp.write_all(request("POST", "/v1/apps/app/channels/c/messages", Some(ADMIN), "{nope").as_bytes()).await.unwrap();
    let bad_json = read_answer(&mut tcp).await;
    assert_eq!((bad_json.status, bad_json.code()), (400, "InvalidParameter"));
    tcp.write_all(request("GET", "/v1/stats", Some(ADMIN), "").as_bytes()).await.unwrap();
    assert_eq!(read_answer(&mut tcp).await.status, 200);
    // Over 64 KiB: announced by length, or sent in chunks.
    let big = format!(r#"{{"message":"{}"}}"#, "x".repeat(70 * 1024));
    let too_long = call(&server, "POST", "/v1/apps/app/channels/c/messages", Some(ADMIN), &big).await;
    assert_eq!((too_long.status, too_long.code()), (413, "PayloadTooLarge"));
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let head = format!(
        "POST /v1/apps/app/channels/c/messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {ADMIN}\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..20 {
        let piece = "y".repeat(4096);
        if tcp.write_all(format!("{:x}\r\n{piece}\r\n", piece.len()).as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    let too_many_chunks = read_answer(&mut tcp).await;
    assert_eq!(too_many_chunks.status, 413);
    // Unknown routes say so.
    let nowhere = admin(&server, "GET", "/v1/apps/app/nowhere", Value::Null).await;
    assert_eq!((nowhere.status, nowhere.code()), (404, "NotFound"));
}

#[test]
fn the_openapi_file_lists_every_route_and_no_other() {
    let file = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json")).unwrap();
    let spec: Value = serde_json::from_str(&file).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            documented.insert((method.to_uppercase(), path.clone()));
            assert!(operation["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}: responses");
            assert!(operation["operationId"].is_string(), "{method} {path}: operationId");
        }
    }
    let routed: BTreeSet<(String, String)> =
        ROUTES.iter().flat_map(|r| r.methods.iter().map(|m| (m.to_string(), r.path.to_string()))).collect();
    assert_eq!(documented, routed, "docs/openapi.json and server::api::ROUTES differ");
}
