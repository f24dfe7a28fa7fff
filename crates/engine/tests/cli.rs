//! The `piazza-server` command line: every option of the table in `options.rs` is a flag, an
//! environment variable and a TOML key, with the documented precedence (`print-config` shows
//! the effective settings without starting a server).

use std::process::{Command, Output};

use piazza_engine::options::OPTIONS;

fn piazza_server(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_piazza-server"));
    cmd.args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("PIAZZA_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("piazza-server runs")
}

fn config_of(output: Output) -> toml::Table {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    toml::from_str(&String::from_utf8(output.stdout).unwrap()).expect("print-config prints TOML")
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("piazza-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// `--help` lists every option's flag and environment variable.
#[test]
fn help_lists_every_option_with_its_flag_and_env_variable() {
    let output = piazza_server(&["--help"], &[]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for option in OPTIONS {
        assert!(help.contains(&format!("--{}", option.flag)), "--{} missing from --help", option.flag);
        assert!(help.contains(option.env), "{} missing from --help", option.env);
    }
    assert!(help.contains("[default: 7700]"), "the standalone port default is shown");
}

/// A TOML file that does not set `port` listens on 7700, as without a file (it used to pick a
/// random port).
#[test]
fn a_config_file_without_a_port_listens_on_7700() {
    let file = temp_file("noport.toml", "host = \"0.0.0.0\"\n[limits]\nmaxRealtimeBytes = 2000\n");
    let config = config_of(piazza_server(&["--config", file.to_str().unwrap(), "print-config"], &[]));
    assert_eq!(config["port"].as_integer(), Some(7700));
    assert_eq!(config["host"].as_str(), Some("0.0.0.0"));
    assert_eq!(config["limits"]["maxRealtimeBytes"].as_integer(), Some(2000));
    std::fs::remove_file(file).ok();
}

/// Defaults < TOML < environment < flags, key by key (options the file does not name keep
/// their defaults).
#[test]
fn flags_beat_the_environment_which_beats_the_file() {
    let file = temp_file("layers.toml", "port = 7100\n[limits]\nmaxJoinedTopics = 3\nmaxSubscribedTopics = 4\n");
    let path = file.to_str().unwrap();
    let env = [("PIAZZA_MAX_SUBSCRIBED_TOPICS", "5"), ("PIAZZA_PORT", "7200")];
    let config = config_of(piazza_server(&["--config", path, "--port", "7300", "print-config"], &env));
    assert_eq!(config["port"].as_integer(), Some(7300), "flag over env over file");
    assert_eq!(config["limits"]["maxSubscribedTopics"].as_integer(), Some(5), "env over file");
    assert_eq!(config["limits"]["maxJoinedTopics"].as_integer(), Some(3), "file over default");
    assert_eq!(config["limits"]["maxMessageBytes"].as_integer(), Some(32768), "default");
    std::fs::remove_file(file).ok();
}

/// The options that had no flag or variable before now have both.
#[test]
fn every_limit_is_reachable_by_flag_and_by_env() {
    let flags = [
        (
            "--max-stream-channels-per-client",
            "PIAZZA_MAX_STREAM_CHANNELS_PER_CLIENT",
            "limits",
            "maxStreamChannelsPerClient",
        ),
        ("--max-stream-channel-users", "PIAZZA_MAX_STREAM_CHANNEL_USERS", "limits", "maxStreamChannelUsers"),
        ("--max-joined-topics", "PIAZZA_MAX_JOINED_TOPICS", "limits", "maxJoinedTopics"),
        ("--max-subscribed-topics", "PIAZZA_MAX_SUBSCRIBED_TOPICS", "limits", "maxSubscribedTopics"),
        (
            "--max-publishers-per-topic-subscription",
            "PIAZZA_MAX_PUBLISHERS_PER_TOPIC_SUBSCRIPTION",
            "limits",
            "maxPublishersPerTopicSubscription",
        ),
        ("--max-realtime-bytes", "PIAZZA_MAX_REALTIME_BYTES", "limits", "maxRealtimeBytes"),
        ("--presence-snapshot-max-users", "PIAZZA_PRESENCE_SNAPSHOT_MAX_USERS", "presence", "snapshotMaxUsers"),
    ];
    for (flag, env, section, key) in flags {
        let by_flag = config_of(piazza_server(&[flag, "7", "print-config"], &[]));
        assert_eq!(by_flag[section][key].as_integer(), Some(7), "{flag}");
        let by_env = config_of(piazza_server(&["print-config"], &[(env, "9")]));
        assert_eq!(by_env[section][key].as_integer(), Some(9), "{env}");
    }
}

/// Bad values are refused with the option named, before anything starts; secrets are masked.
#[test]
fn bad_values_are_refused_and_secrets_masked() {
    let output = piazza_server(&["--port", "99999", "print-config"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--port"));
    let file = temp_file("typo.toml", "[limits]\nmaxMessageByte = 10\n");
    let output = piazza_server(&["--config", file.to_str().unwrap(), "print-config"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("maxMessageByte") && stderr.contains("typo.toml"), "{stderr}");
    std::fs::remove_file(file).ok();
    // A wrong type is reported with its line, never with the value (it may be a secret).
    let file = temp_file("secret.toml", "port = 7700\n[apps]\nmyapp = \"CERT-SHOULD-NOT-LEAK-0123\"\n");
    let output = piazza_server(&["--config", file.to_str().unwrap(), "print-config"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 3") && !stderr.contains("CERT-SHOULD-NOT-LEAK"), "{stderr}");
    std::fs::remove_file(file).ok();
    let output = piazza_server(&["--app", "CERT-SHOULD-NOT-LEAK-4567", "print-config"], &[]);
    assert!(!String::from_utf8_lossy(&output.stderr).contains("CERT-SHOULD-NOT-LEAK"));
    let secret = "a-certificate-of-16+";
    let config = config_of(piazza_server(
        &["--app", &format!("one={secret}"), "print-config"],
        &[("PIAZZA_ADMIN_TOKEN", "an-admin-token-of-16+")],
    ));
    assert_eq!(config["apps"]["one"]["certificate"].as_str(), Some("***"));
    assert_eq!(config["adminToken"].as_str(), Some("***"));
    // An app's API key and the webhooks (set in the file) are read and their secrets masked.
    let file = temp_file(
        "hooks.toml",
        "[apps.myapp]\ncertificate = \"certificate-0123456789\"\napiKey = \"KEY-SHOULD-NOT-LEAK-0123\"\n\
         [webhooks]\nurls = [\"https://backend.example/hooks\"]\nsecret = \"HOOK-SHOULD-NOT-LEAK-0123\"\nmessageChannels = [\"orders-*\"]\n",
    );
    let output = piazza_server(&["--config", file.to_str().unwrap(), "print-config"], &[]);
    let printed = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(!printed.contains("SHOULD-NOT-LEAK"), "{printed}");
    let config = config_of(output);
    assert_eq!(config["apps"]["myapp"]["apiKey"].as_str(), Some("***"));
    assert_eq!(config["webhooks"]["secret"].as_str(), Some("***"));
    assert_eq!(config["webhooks"]["messageChannels"][0].as_str(), Some("orders-*"));
    assert_eq!(config["webhooks"]["queueSize"].as_integer(), Some(10_000));
    // The same by flags and environment variables: lists comma-separated, keys as ID=KEY.
    let config = config_of(piazza_server(
        &[
            "--app",
            "one=certificate-0123456789",
            "--app-api-key",
            "one=KEY-SHOULD-NOT-LEAK-4567",
            "--webhook-url",
            "https://a.example/h,https://b.example/h",
            "--webhook-message-channels",
            "orders-*",
            "--webhook-max-attempts",
            "3",
            "print-config",
        ],
        &[("PIAZZA_WEBHOOK_SECRET", "HOOK-SHOULD-NOT-LEAK-4567")],
    ));
    assert_eq!(config["apps"]["one"]["apiKey"].as_str(), Some("***"));
    let urls: Vec<&str> = config["webhooks"]["urls"].as_array().unwrap().iter().map(|u| u.as_str().unwrap()).collect();
    assert_eq!(urls, ["https://a.example/h", "https://b.example/h"]);
    assert_eq!(config["webhooks"]["messageChannels"][0].as_str(), Some("orders-*"));
    assert_eq!(config["webhooks"]["maxAttempts"].as_integer(), Some(3));
    assert_eq!(config["webhooks"]["secret"].as_str(), Some("***"));
    // A webhook URL that is not http(s) is refused at start.
    let file = temp_file("badhook.toml", "[webhooks]\nurls = [\"ftp://x/\"]\nsecret = \"webhook-secret-0123456789\"\n");
    let output = piazza_server(&["--config", file.to_str().unwrap(), "print-config"], &[]);
    assert_ne!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stderr).contains("http://"), "{}", String::from_utf8_lossy(&output.stderr));
}

/// Starts the server on a free port, waits for its "listening" line and stops it: what it
/// wrote to stderr meanwhile (the start-up records: development mode, listening).
fn stderr_of_a_start(args: &[&str]) -> String {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_piazza-server"));
    cmd.args(["--host", "127.0.0.1", "--port", "0"]).args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("PIAZZA_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("piazza-server runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("listening on"), "{line}");
    // The start-up records are written before the "listening" line; nothing else is waited for.
    child.kill().unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stderr).unwrap()
}

/// `--log-format json`: one JSON object per line on stderr, no colour codes; text on a pipe has
/// no colour codes either; `--log-level none` writes nothing.
#[test]
fn log_format_json_writes_one_object_per_line_and_none_writes_nothing() {
    let stderr = stderr_of_a_start(&["--log-format", "json"]);
    let records: Vec<serde_json::Value> =
        stderr.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}"))).collect();
    assert!(records
        .iter()
        .any(|r| r["level"] == "WARN"
            && r["fields"]["message"].as_str().is_some_and(|m| m.starts_with("DEVELOPMENT MODE"))));
    assert!(records.iter().any(|r| r["level"] == "INFO" && r["target"].as_str().is_some()));
    let text = stderr_of_a_start(&["--log-format", "text"]);
    assert!(text.contains("DEVELOPMENT MODE") && !text.contains('\x1b'), "{text}");
    assert_eq!(stderr_of_a_start(&["--log-level", "none"]), "");
    let only_errors = stderr_of_a_start(&["--log-level", "error"]);
    assert!(!only_errors.contains("WARN") && !only_errors.contains("WARNING"), "{only_errors}");
    let output = piazza_server(&["--log-format", "xml", "print-config"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("xml"));
}

/// The server turns transparent huge pages off for itself (a huge page is resident whole: 7 % of
/// a node's RSS at 100,000 connections), unless `MIMALLOC_ALLOW_THP` is set, which the
/// allocator then follows.
#[cfg(target_os = "linux")]
#[test]
fn transparent_huge_pages_are_off_unless_the_allocator_is_told_otherwise() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let thp_enabled = |allow: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_piazza-server"));
        cmd.args(["--host", "127.0.0.1", "--port", "0", "--log-level", "none"]).env_remove("MIMALLOC_ALLOW_THP");
        if let Some(allow) = allow {
            cmd.env("MIMALLOC_ALLOW_THP", allow);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("piazza-server runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.contains("listening on"), "{line}");
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        // Absent from kernels before 5.0: then there is nothing to check.
        status.lines().find_map(|l| l.strip_prefix("THP_enabled:")).map(|v| v.trim() == "1")
    };
    // Only where this process may have them (a kernel with THP support, not turned off by the
    // parent: the setting is inherited).
    let here = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if here.lines().any(|l| l.starts_with("THP_enabled:") && l.ends_with('1')) {
        assert_eq!(thp_enabled(None), Some(false), "huge pages are off by default");
        assert_eq!(thp_enabled(Some("1")), Some(true), "MIMALLOC_ALLOW_THP=1 keeps them");
    }
}
