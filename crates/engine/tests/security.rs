//! Security (docs/PROTOCOL.md#security, SECURITY.md): token checks with precise codes, privileges, expiry and renewal,
//! app isolation, TLS with certificate verification, end-to-end encryption, and no secrets in
//! logs.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use piazza_engine::auth::{generate_token, Grant, Privileges};
use piazza_engine::client::crypto::Mode;
use piazza_engine::client::{
    ChannelSink, Client, ClientConfig, ClientEvent, Encryption, LinkReason, LinkState, Payload, PublishOptions,
};
use piazza_engine::config::{AppConfig, Secret, ServerConfig, TlsConfig};
use piazza_engine::protocol::{RoomId, SessionKind, TokenEventType};
use piazza_engine::server::Server;
use piazza_engine::ErrorCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

const CERT: &str = "app-certificate-0123456789";

fn with_auth(c: &mut ServerConfig) {
    c.apps = HashMap::from([("app".to_string(), AppConfig { certificate: Secret::new(CERT), api_key: None })]);
}

fn token(user: &str, seconds: u64, privileges: Privileges) -> String {
    generate_token("app", CERT, user, seconds, privileges).unwrap()
}

/// Logs in with `token`; returns the client or the login error (and the FAILED reason).
async fn try_login(
    server: &Server,
    app: &str,
    user: &str,
    token: Option<&str>,
) -> Result<TestClient, (piazza_engine::Error, LinkReason)> {
    let (sink, mut events) = ChannelSink::new();
    let client = Client::new(config(server, app, user), std::sync::Arc::new(sink)).unwrap();
    match client.call(|c, r| c.login(r, token.map(str::to_string))).await {
        Ok(_) => Ok(TestClient::from_parts(client, events)),
        Err(e) => {
            let reason = loop {
                match events.recv().await {
                    Some(ClientEvent::LinkState(s)) if s.current_state == LinkState::Failed => break s.reason_code,
                    Some(_) => {}
                    None => panic!("no FAILED state"),
                }
            };
            Err((e, reason))
        }
    }
}

#[tokio::test]
async fn every_bad_token_is_refused_with_the_precise_code_and_reason() {
    let server = server_with(with_auth).await;
    let good = token("alice", 60, Privileges::default());
    let forged = generate_token("app", "some-other-certificate!!", "alice", 60, Privileges::default()).unwrap();
    let other_app = generate_token("app2", CERT, "alice", 60, Privileges::default()).unwrap();
    let no_login = token("alice", 60, Privileges { login: false, ..Default::default() });
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, ErrorCode, LinkReason, &'a str);
    let cases: Vec<Case> = vec![
        ("app", "alice", None, ErrorCode::InvalidToken, LinkReason::InvalidToken, "no token"),
        ("app", "alice", Some("garbage"), ErrorCode::InvalidToken, LinkReason::InvalidToken, "malformed"),
        ("app", "alice", Some(&forged), ErrorCode::InvalidToken, LinkReason::InvalidToken, "signature"),
        (
            "app",
            "alice",
            Some(&other_app),
            ErrorCode::InconsistentAppid,
            LinkReason::InconsistentAppId,
            "issued for app \"app2\"",
        ),
        ("app", "bob", Some(&good), ErrorCode::InvalidToken, LinkReason::InvalidToken, "issued for user \"alice\""),
        ("unknown", "alice", Some(&good), ErrorCode::InvalidAppId, LinkReason::LoginRejected, "not configured"),
        (
            "app",
            "alice",
            Some(&no_login),
            ErrorCode::LoginNotAuthorized,
            LinkReason::LoginNotAuthorized,
            "does not grant login",
        ),
    ];
    for (app, user, token, code, reason, words) in cases {
        let (e, link) = try_login(&server, app, user, token).await.err().expect("refused");
        assert_eq!((e.code, link), (code, reason), "{e}");
        assert!(e.reason.contains(words), "{e} should say {words:?}");
        assert!(!e.reason.contains(CERT) && token.is_none_or(|t| !e.reason.contains(t)));
    }
    assert!(try_login(&server, "app", "alice", Some(&good)).await.is_ok());
    assert_eq!(server.stats().users, 1);
}

#[tokio::test]
async fn an_expired_token_is_refused_and_expiry_is_strict() {
    let server = server_with(with_auth).await;
    let short = token("alice", 1, Privileges::default());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (e, reason) = try_login(&server, "app", "alice", Some(&short)).await.err().unwrap();
    assert_eq!((e.code, reason), (ErrorCode::TokenExpired, LinkReason::TokenExpired));
}

#[tokio::test]
async fn privileges_limit_stream_channels_realtime_scopes_and_rooms() {
    let server = server_with(with_auth).await;
    let limited = Privileges {
        stream_channels: Grant::Only(vec!["allowed".into()]),
        realtime: Grant::Only(vec!["scope-ok".into()]),
        ..Default::default()
    };
    let alice = try_login(&server, "app", "alice", Some(&token("alice", 60, limited))).await.ok().unwrap();
    alice.ask(json!({"op":"join","channel":"allowed"})).await.unwrap();
    let e = alice.ask(json!({"op":"join","channel":"forbidden"})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ChannelSubscribePermissionDenied);
    // A stream-channel token of its own can grant what the login token does not.
    let channel_token =
        token("alice", 60, Privileges { stream_channels: Grant::Only(vec!["forbidden".into()]), ..Default::default() });
    alice.ask(json!({"op":"join","channel":"forbidden","token":channel_token})).await.unwrap();
    alice.ask(json!({"op":"realtimeJoin","scope":"scope-ok"})).await.unwrap();
    let e = alice.ask(json!({"op":"realtimeJoin","scope":"scope-no"})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ChannelSubscribePermissionDenied);

    let mut trtc_config = config(&server, "app", "carol");
    trtc_config.kind = SessionKind::Trtc;
    trtc_config.presence_timeout = 0;
    let (sink, events) = ChannelSink::new();
    let carol = Client::new(trtc_config, std::sync::Arc::new(sink)).unwrap();
    let sig = token("carol", 60, Privileges { rooms: Grant::Only(vec![RoomId::Num(1)]), ..Default::default() });
    carol.call(|c, r| c.login(r, Some(sig))).await.unwrap();
    let carol = TestClient::from_parts(carol, events);
    carol.ask(json!({"op":"enterRoom","room":1})).await.unwrap();
    assert_eq!(carol.ask(json!({"op":"enterRoom","room":2})).await.unwrap_err().code, ErrorCode::TrtcUserSigInvalid);
    assert_eq!(carol.ask(json!({"op":"enterRoom","room":"1"})).await.unwrap_err().code, ErrorCode::TrtcUserSigInvalid);
}

#[tokio::test]
async fn a_lapsing_token_warns_then_ends_the_session_unless_renewed() {
    let server = server_with(with_auth).await;
    // Expires within 2 s: the 30-second warning is due at once.
    let mut lapsing =
        try_login(&server, "app", "lapsing", Some(&token("lapsing", 2, Privileges::default()))).await.ok().unwrap();
    let warned = lapsing.next_token().await;
    assert_eq!((warned.event_type, warned.channel_name.as_str()), (TokenEventType::WillExpire, ""));
    let failed = loop {
        let state = lapsing.next_link_state().await;
        if state.current_state == LinkState::Failed {
            break state;
        }
    };
    assert_eq!(failed.reason_code, LinkReason::TokenExpired);

    let mut renewed =
        try_login(&server, "app", "renewed", Some(&token("renewed", 2, Privileges::default()))).await.ok().unwrap();
    renewed.next_token().await;
    let fresh = token("renewed", 3600, Privileges::default());
    renewed.ask(json!({"op":"renewToken","token":fresh})).await.unwrap();
    let e = renewed
        .ask(json!({"op":"renewToken","token":token("someone-else", 60, Privileges::default())}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidToken);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(renewed.client.link_state(), LinkState::Connected, "a renewed token keeps the session");
    renewed.ask(json!({"op":"subscribe","channel":"still-here"})).await.unwrap();
}

#[tokio::test]
async fn an_open_server_accepts_anything_and_renew_is_a_no_op() {
    let server = server().await;
    let alice = try_login(&server, "any-app", "alice", Some("not-even-a-jwt")).await.ok().unwrap();
    alice.ask(json!({"op":"renewToken","token":"whatever"})).await.unwrap();
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

#[tokio::test]
async fn tls_serves_wss_and_the_client_verifies_the_certificate() {
    let server =
        server_with(|c| c.tls = Some(TlsConfig { cert_path: fixture("server.pem"), key_path: fixture("server.key") }))
            .await;
    assert!(server.url().starts_with("wss://127.0.0.1:"), "{}", server.url());
    let ca = std::fs::read_to_string(fixture("ca.pem")).unwrap();
    for host in ["127.0.0.1", "localhost"] {
        let mut c = ClientConfig::new("app", "alice", &format!("wss://{host}:{}", server.port()));
        c.ca_certificates = Some(ca.clone());
        let alice = login_with(c).await;
        alice.ask(json!({"op":"subscribe","channel":"secure"})).await.unwrap();
    }
    // Not trusted: another CA, or the public roots.
    for ca in [Some(std::fs::read_to_string(fixture("other-ca.pem")).unwrap()), None] {
        let mut c = ClientConfig::new("app", "mallory", &server.url());
        c.ca_certificates = ca;
        c.login_timeout = Duration::from_millis(600);
        let (sink, _events) = ChannelSink::new();
        let client = Client::new(c, std::sync::Arc::new(sink)).unwrap();
        let e = client.call(|c, r| c.login(r, None)).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::LoginTimeout);
        assert!(e.reason.contains("certificate") || e.reason.contains("UnknownIssuer"), "{}", e.reason);
    }
    // A plain ws:// client cannot talk to it either.
    let mut c = ClientConfig::new("app", "plain", &format!("ws://127.0.0.1:{}", server.port()));
    c.login_timeout = Duration::from_millis(600);
    let (sink, _events) = ChannelSink::new();
    assert!(Client::new(c, std::sync::Arc::new(sink)).unwrap().call(|c, r| c.login(r, None)).await.is_err());
}

fn encrypted(server: &Server, user: &str, mode: Mode, key: &str) -> ClientConfig {
    let mut c = config(server, "app", user);
    c.encryption = Some(Encryption { mode, cipher_key: Secret::new(key), salt: vec![42; 32] });
    c
}

#[tokio::test]
async fn payloads_are_encrypted_end_to_end_and_the_server_sees_no_plaintext() {
    let server = server().await;
    let mut bob = login_with(encrypted(&server, "bob", Mode::Aes256Gcm, "shared secret")).await;
    let alice = login_with(encrypted(&server, "alice", Mode::Aes256Gcm, "shared secret")).await;
    bob.ask(json!({"op":"subscribe","channel":"c","withPresence":false})).await.unwrap();
    // What the server relays, read by a plain subscriber.
    let mut spy = raw_session(&server, "spy").await;
    spy.send(Message::Text(json!({"op":"subscribe","id":1,"channel":"c","withPresence":false}).to_string().into()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut spy).await["t"], "ok");

    alice
        .client
        .call(|c, r| c.publish(r, "c", Payload::Text("meet at the old mill".into()), PublishOptions::default()))
        .await
        .unwrap();
    alice
        .client
        .call(|c, r| c.publish(r, "c", Payload::Binary(vec![1, 2, 3, 4, 5, 6, 7, 8].into()), PublishOptions::default()))
        .await
        .unwrap();
    let text = bob.next_message().await;
    assert_eq!(
        (text.payload, text.header["messageType"].clone()),
        (Payload::Text("meet at the old mill".into()), json!("STRING"))
    );
    assert_eq!(bob.next_message().await.payload, Payload::Binary(vec![1, 2, 3, 4, 5, 6, 7, 8].into()));
    for _ in 0..2 {
        let frame = loop {
            match tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut spy)).await.unwrap() {
                Some(Ok(Message::Binary(b))) => break b,
                Some(Ok(_)) => continue,
                other => panic!("{other:?}"),
            }
        };
        assert!(!frame.windows(8).any(|w| w == b"old mill"), "plaintext on the server");
        assert!(!frame.windows(4).any(|w| w == [1, 2, 3, 4]), "plaintext bytes on the server");
    }
    // Topic messages and realtime data too.
    bob.ask(json!({"op":"join","channel":"s"})).await.unwrap();
    alice.ask(json!({"op":"join","channel":"s"})).await.unwrap();
    alice.ask(json!({"op":"joinTopic","channel":"s","topic":"t"})).await.unwrap();
    bob.ask(json!({"op":"subscribeTopic","channel":"s","topic":"t","users":["alice"]})).await.unwrap();
    alice
        .ask_with(
            json!({"op":"publishTopic","channel":"s","topic":"t","messageType":"STRING"}),
            Some(Payload::Text("topic secret".into())),
        )
        .await
        .unwrap();
    assert_eq!(bob.next_message().await.payload, Payload::Text("topic secret".into()));
    bob.ask(json!({"op":"realtimeJoin","scope":"r"})).await.unwrap();
    alice.ask(json!({"op":"realtimeJoin","scope":"r"})).await.unwrap();
    let frame = serde_json::from_value(json!({"op":"realtimeSend","scope":"r"})).unwrap();
    alice
        .client
        .request(piazza_engine::client::Route::Ignore, frame, Some(Payload::Binary(vec![9, 9, 9].into())))
        .unwrap();
    assert_eq!(bob.next_realtime().await.1, bytes::Bytes::from_static(&[9, 9, 9]));
}

#[tokio::test]
async fn a_receiver_with_another_key_gets_a_decryption_report_not_garbage() {
    let server = server().await;
    let alice = login_with(encrypted(&server, "alice", Mode::Aes256Gcm, "right key")).await;
    let mut wrong = login_with(encrypted(&server, "wrong", Mode::Aes256Gcm, "wrong key")).await;
    let mut other_mode = login_with(encrypted(&server, "other-mode", Mode::Aes128Gcm, "right key")).await;
    let mut none = login(&server, "no-key").await;
    for c in [&wrong, &other_mode, &none] {
        c.ask(json!({"op":"subscribe","channel":"c","withPresence":false})).await.unwrap();
    }
    alice
        .client
        .call(|c, r| c.publish(r, "c", Payload::Text("hello".into()), PublishOptions::default()))
        .await
        .unwrap();
    for c in [&mut wrong, &mut other_mode, &mut none] {
        let report = c.next_of("error").await;
        assert_eq!(report["errorCode"], ErrorCode::ChannelEncryptMessageFailed.code());
        assert_eq!((report["channelName"].as_str(), report["publisher"].as_str()), (Some("c"), Some("alice")));
        assert!(
            report["reason"].as_str().unwrap().contains("decrypt")
                || report["reason"].as_str().unwrap().contains("encrypted")
        );
        c.no_message(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn bad_encryption_settings_are_refused_at_construction() {
    let server = server().await;
    for (mode, key, salt) in [(Mode::Aes256Gcm, "", 32), (Mode::Aes128Gcm, "k", 16), (Mode::Aes256Gcm, "k", 0)] {
        let mut c = config(&server, "app", "u");
        c.encryption = Some(Encryption { mode, cipher_key: Secret::new(key), salt: vec![0; salt] });
        let (sink, _) = ChannelSink::new();
        let e = Client::new(c, std::sync::Arc::new(sink)).err().unwrap();
        assert_eq!(e.code, ErrorCode::InvalidEncryptionParameter);
    }
}

#[tokio::test]
async fn tokens_and_certificates_never_reach_the_logs() {
    // The standalone server with every log line on, and a mix of good and bad logins.
    let admin = "admin-token-abcdefghijklmnop";
    let app = format!("app={CERT}");
    let server = Standalone::start(&["--app", &app, "--admin-token", admin], &[("RUST_LOG", "trace")]).await;
    let good = token("alice", 60, Privileges::default());
    let forged = generate_token("app", "forged-certificate-0000", "alice", 60, Privileges::default()).unwrap();
    let (sink, _e) = ChannelSink::new();
    let c = Client::new(ClientConfig::new("app", "alice", &server.url), std::sync::Arc::new(sink)).unwrap();
    c.call(|c, r| c.login(r, Some(good.clone()))).await.unwrap();
    let renew = serde_json::from_value(json!({"op":"renewToken","id":0,"token":good})).unwrap();
    c.call(|c, r| c.request(r, renew, None)).await.unwrap();
    let (sink, _e) = ChannelSink::new();
    let c = Client::new(ClientConfig::new("app", "alice", &server.url), std::sync::Arc::new(sink)).unwrap();
    assert!(c.call(|c, r| c.login(r, Some(forged.clone()))).await.is_err());
    // An admin call with a wrong token, and one with the right token.
    let http = server.url.replace("ws://", "");
    for (bearer, status) in [("wrong-admin-token-guess", "401"), (admin, "HTTP/1.1 ")] {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tokio::net::TcpStream::connect(&http).await.unwrap();
        let request = format!("POST /v1/apps/app/rooms/1/dismiss HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer {bearer}\r\ncontent-length: 0\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 ") && answer.contains(status) && answer.contains("401") != (bearer == admin)
        );
        assert!(!answer.contains(bearer), "{answer}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = server.logs();
    assert!(logs.contains("logged in"), "the logs are on: {logs}");
    for secret in [good.as_str(), forged.as_str(), CERT, admin, "wrong-admin-token-guess"] {
        assert!(!logs.contains(secret), "a secret leaked into the logs");
    }
    assert!(!logs.contains(&good[good.len() - 20..]), "not even part of a token");
}

#[tokio::test]
async fn the_token_subcommand_makes_tokens_the_server_accepts() {
    let server = server_with(with_auth).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_piazza-server"))
        .args(["token", "--app-id", "app", "--user-id", "carol", "--expire-seconds", "60"])
        .args(["--privileges", r#"{"streamChannels":["s1"]}"#])
        .env("PIAZZA_APP_CERTIFICATE", CERT)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let made = String::from_utf8(output.stdout).unwrap();
    let carol = try_login(&server, "app", "carol", Some(made.trim())).await.map_err(|e| e.0).unwrap();
    carol.ask(json!({"op":"join","channel":"s1"})).await.unwrap();
    let refused = carol.ask(json!({"op":"join","channel":"s2"})).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::ChannelSubscribePermissionDenied, "{refused:?}");
    // A bad request fails with a message, not a token.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_piazza-server"))
        .args(["token", "--app-id", "app", "--user-id", "bad/user", "--app-certificate", CERT])
        .output()
        .unwrap();
    assert!(!output.status.success() && output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("user"));
}

#[tokio::test]
async fn apps_share_nothing_and_a_session_acts_only_as_its_user() {
    let server = server().await;
    // The same user id, channel, stream channel, room and scope in two apps.
    let mut a = login_with(config(&server, "app-a", "same")).await;
    let b = login_with(config(&server, "app-b", "same")).await;
    a.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    a.ask(json!({"op":"join","channel":"s"})).await.unwrap();
    a.ask(json!({"op":"realtimeJoin","scope":"r"})).await.unwrap();
    a.ask(json!({"op":"setState","channel":"c","channelType":"MESSAGE","states":{"mood":"a"}})).await.unwrap();
    // A's own snapshots.
    while tokio::time::timeout(Duration::from_millis(150), a.next_event()).await.is_ok() {}
    b.ask(json!({"op":"subscribe","channel":"c"})).await.unwrap();
    b.ask(json!({"op":"join","channel":"s"})).await.unwrap();
    b.ask(json!({"op":"realtimeJoin","scope":"r"})).await.unwrap();
    // Presence: B sees only itself (and A never hears of B).
    let who = b.ask(json!({"op":"whoNow","channel":"c","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!(who["totalOccupancy"], 1, "{who}");
    let state = b.ask(json!({"op":"getState","userId":"same","channel":"c","channelType":"MESSAGE"})).await;
    assert!(state.map(|s| s["statesCount"] == 0).unwrap_or(true), "app-a's state is invisible to app-b");
    let wherever = b.ask(json!({"op":"whereNow","userId":"same"})).await.unwrap();
    assert_eq!(wherever["totalChannel"], 2, "only app-b's own channels: {wherever}");
    a.none_of("presence", Duration::from_millis(100)).await;
    // Messages and topics stay inside the app (realtime data: tests/realtime.rs).
    b.ask(json!({"op":"publish","channel":"c","messageType":"STRING","data":"b"})).await.unwrap();
    b.ask(json!({"op":"joinTopic","channel":"s","topic":"t","meta":""})).await.unwrap();
    a.no_message(Duration::from_millis(200)).await;
    a.none_of("topic", Duration::from_millis(50)).await;
    // A frame cannot claim another publisher: the field does not exist.
    let mut raw = raw_session(&server, "raw").await;
    let forged = json!({"op":"publish","id":1,"channel":"c","messageType":"STRING","data":"x","publisher":"same"});
    raw.send(Message::Text(forged.to_string().into())).await.unwrap();
    let err = next_json(&mut raw).await;
    assert!(err["reason"].as_str().unwrap().contains("unknown field `publisher`"), "{err}");
}
