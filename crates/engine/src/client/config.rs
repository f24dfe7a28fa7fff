//! Client configuration: the RTM `rtmConfig` object (README.md#rtm-client) validated into a
//! [`ClientConfig`]. Out-of-range values throw at construction, before anything connects.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::crypto::Mode;
use crate::error::{Error, ErrorCode, Result};
use crate::logging::LogFormat;
use crate::names;
use crate::protocol::SessionKind;
use crate::secret::Secret;

/// End-to-end encryption settings (RTM `encryptionMode`, `cipherKey`, `salt`).
#[derive(Debug, Clone)]
pub struct Encryption {
    pub mode: Mode,
    pub cipher_key: Secret,
    pub salt: Vec<u8>,
}

/// Everything a client needs to log in.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub app_id: String,
    pub user_id: String,
    /// Servers to try, in order (`privateConfig.accessPointHosts`, else `endpoint`).
    pub endpoints: Vec<String>,
    pub kind: SessionKind,
    /// Seconds, 5..=300.
    pub presence_timeout: u32,
    /// Seconds, 5..=1800.
    pub heartbeat_interval: u32,
    /// A request without an answer after this long is rejected with a timeout code.
    pub request_timeout: Duration,
    /// `login` gives up after this long without a connection.
    pub login_timeout: Duration,
    /// One connection attempt (TCP + WebSocket + hello) may take this long.
    pub connect_timeout: Duration,
    /// After a heartbeat, how long to wait for a frame before declaring the link dead (detects
    /// half-open connections that TCP has not noticed).
    pub pong_timeout: Duration,
    /// First reconnect delay; doubles per failed attempt up to `reconnect_max`, with jitter.
    pub reconnect_initial: Duration,
    pub reconnect_max: Duration,
    /// Requests in flight at once; more are rejected (OPERATION_RATE_EXCEED_LIMITATION).
    pub max_pending: usize,
    /// Realtime datagrams and TRTC custom messages kept while the link is down, sent when it is
    /// back; past this the oldest are dropped (counted, and logged when the link returns).
    pub max_held_unanswered: usize,
    /// `logLevel`; the engine only validates it, the host (the Node addon) applies it.
    pub log_level: Option<String>,
    /// `logFormat`, for the host as `log_level`.
    pub log_format: Option<LogFormat>,
    /// End-to-end payload encryption.
    pub encryption: Option<Encryption>,
    /// PEM certificates to trust for `wss://` instead of the web PKI roots.
    pub ca_certificates: Option<String>,
    /// Keys of `rtmConfig` that are neither options here nor agora-rtm-sdk options ignored by
    /// name ([`IGNORED_RTM_OPTIONS`]), e.g. a typo: `presenceTimout`, `privateConfig.acessPointHosts`.
    /// They have no effect; the host warns about each.
    pub unknown_options: Vec<String>,
}

/// agora-rtm-sdk 2.x `rtmConfig` keys accepted and ignored: they have no meaning for a
/// self-hosted server (log upload, Agora's cloud proxy, numeric user ids).
pub const IGNORED_RTM_OPTIONS: &[&str] = &["logUpload", "cloudProxy", "useStringUserId"];

/// agora-rtm-sdk 2.x `privateConfig` keys accepted and ignored (only `accessPointHosts` applies).
pub const IGNORED_PRIVATE_CONFIG_OPTIONS: &[&str] =
    &["serviceType", "eventUploadHosts", "logUploadHosts", "originDomains", "domainMode"];

impl ClientConfig {
    /// A config with the defaults of RTM 2 (presence timeout 300 s, heartbeat 5 s).
    pub fn new(app_id: &str, user_id: &str, endpoint: &str) -> Self {
        ClientConfig {
            app_id: app_id.to_string(),
            user_id: user_id.to_string(),
            endpoints: vec![endpoint.to_string()],
            kind: SessionKind::Rtm,
            presence_timeout: 300,
            heartbeat_interval: 5,
            request_timeout: Duration::from_secs(10),
            login_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            pong_timeout: Duration::from_secs(5),
            reconnect_initial: Duration::from_millis(200),
            reconnect_max: Duration::from_secs(10),
            max_pending: 100_000,
            max_held_unanswered: 256,
            log_level: None,
            log_format: None,
            encryption: None,
            ca_certificates: None,
            unknown_options: Vec::new(),
        }
    }

    /// Checks every value; the error names the offending option.
    pub fn validate(&self) -> Result<()> {
        names::app_id(&self.app_id)?;
        names::user_id(&self.user_id)?;
        let server_default = self.kind == SessionKind::Trtc && self.presence_timeout == 0;
        if !server_default && !(5..=300).contains(&self.presence_timeout) {
            return Err(Error::invalid(format!(
                "presenceTimeout {} is outside [5, 300] seconds",
                self.presence_timeout
            )));
        }
        if !(5..=1800).contains(&self.heartbeat_interval) {
            return Err(Error::invalid(format!(
                "heartbeatInterval {} is outside [5, 1800] seconds",
                self.heartbeat_interval
            )));
        }
        if self.endpoints.is_empty() {
            return Err(Error::invalid(
                "no server to connect to: pass `endpoint` (or privateConfig.accessPointHosts), or set PIAZZA_URL",
            ));
        }
        for endpoint in &self.endpoints {
            if !(endpoint.starts_with("ws://") || endpoint.starts_with("wss://")) {
                return Err(Error::new(
                    ErrorCode::InvalidPrivateConfig,
                    format!("endpoint {endpoint:?} must be a ws:// or wss:// URL"),
                ));
            }
        }
        if let Some(level) = &self.log_level {
            crate::logging::parse_level(level)?;
        }
        if let Some(e) = &self.encryption {
            if e.cipher_key.expose().is_empty() {
                return Err(Error::new(
                    ErrorCode::InvalidEncryptionParameter,
                    "encryption needs a non-empty cipherKey",
                ));
            }
            if e.salt.len() != 32 {
                return Err(Error::new(
                    ErrorCode::InvalidEncryptionParameter,
                    format!("salt must be 32 bytes, got {}", e.salt.len()),
                ));
            }
        }
        Ok(())
    }

    /// Builds a config from the RTM constructor arguments; `options` is the JSON of
    /// `rtmConfig` (plus Piazza's `endpoint`). `env_endpoint` is `PIAZZA_URL`.
    pub fn from_rtm_options(app_id: &str, user_id: &str, options: &str, env_endpoint: Option<String>) -> Result<Self> {
        let options: RtmOptions = if options.trim().is_empty() {
            RtmOptions::default()
        } else {
            serde_json::from_str(options).map_err(|e| Error::invalid(format!("rtmConfig: {e}")))?
        };
        let mut config = ClientConfig::new(app_id, user_id, "");
        config.endpoints.clear();
        config.unknown_options = unknown(&options.other, IGNORED_RTM_OPTIONS, "");
        let tls = options.tls.unwrap_or(options.ca_certificates.is_some());
        if let Some(private) = options.private_config {
            let mut unknown_private = unknown(&private.other, IGNORED_PRIVATE_CONFIG_OPTIONS, "privateConfig.");
            config.unknown_options.append(&mut unknown_private);
            for host in private.access_point_hosts.unwrap_or_default() {
                config.endpoints.push(access_point_url(&host, tls)?);
            }
        }
        if config.endpoints.is_empty() {
            if let Some(endpoint) = options.endpoint.or(env_endpoint) {
                config.endpoints.push(endpoint);
            }
        }
        if let Some(v) = options.presence_timeout {
            config.presence_timeout = whole_seconds("presenceTimeout", v)?;
        }
        if let Some(v) = options.heartbeat_interval {
            config.heartbeat_interval = whole_seconds("heartbeatInterval", v)?;
        }
        if let Some(ms) = options.request_timeout_ms {
            config.request_timeout = Duration::from_millis(ms.clamp(100, 600_000));
        }
        if let Some(ms) = options.login_timeout_ms {
            config.login_timeout = Duration::from_millis(ms.clamp(100, 600_000));
        }
        if let Some(ms) = options.pong_timeout_ms {
            config.pong_timeout = Duration::from_millis(ms.clamp(200, 60_000));
        }
        config.log_level = options.log_level;
        config.log_format = options.log_format;
        config.ca_certificates = options.ca_certificates;
        if let Some(mode) = Mode::parse(options.encryption_mode.as_deref())? {
            config.encryption = Some(Encryption {
                mode,
                cipher_key: options.cipher_key.unwrap_or_else(|| Secret::new("")),
                salt: options.salt.unwrap_or_default(),
            });
        }
        if let Some(kind) = options.kind {
            config.kind = kind;
            if kind == SessionKind::Trtc && options.presence_timeout.is_none() {
                // TRTC clients leave the drop timeout to the server's rooms.dropTimeoutSeconds.
                config.presence_timeout = 0;
            }
        }
        config.validate()?;
        Ok(config)
    }
}

/// The keys of `other` not in `ignored`, with `prefix` (for messages).
fn unknown(other: &BTreeMap<String, IgnoredAny>, ignored: &[&str], prefix: &str) -> Vec<String> {
    other.keys().filter(|k| !ignored.contains(&k.as_str())).map(|k| format!("{prefix}{k}")).collect()
}

/// An `accessPointHosts` entry as a URL: a `ws://` or `wss://` URL as it is, or the SDK's plain
/// host name (`host`, `host:port`, `[v6]:port`) with `wss://` when `tls`, else `ws://`.
pub fn access_point_url(host: &str, tls: bool) -> Result<String> {
    if host.contains("://") {
        return Ok(host.to_string());
    }
    let bad = |why: &str| {
        Error::new(
            ErrorCode::InvalidPrivateConfig,
            format!("accessPointHosts entry {host:?} {why}: give a host name (`host` or `host:port`) or a ws:// / wss:// URL"),
        )
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control() || "/?#@\\".contains(c)) {
        return Err(bad("is not a host name"));
    }
    let port = if let Some(rest) = host.strip_prefix('[') {
        let Some((addr, after)) = rest.split_once(']') else { return Err(bad("has an unclosed '['")) };
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad("is not an IPv6 address in brackets"));
        }
        match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(|| bad("has text after ']'"))?),
        }
    } else {
        match host.split_once(':') {
            None => None,
            Some(("", _)) => return Err(bad("has no host")),
            Some((_, port)) => Some(port),
        }
    };
    if let Some(port) = port {
        if !matches!(port.parse::<u16>(), Ok(p) if p > 0) {
            return Err(bad("has no valid port (1-65535; an IPv6 address needs brackets)"));
        }
    }
    Ok(format!("{}://{host}", if tls { "wss" } else { "ws" }))
}

fn whole_seconds(name: &str, value: f64) -> Result<u32> {
    if value.fract() != 0.0 || !(0.0..=u32::MAX as f64).contains(&value) {
        return Err(Error::invalid(format!("{name} must be a whole number of seconds, got {value}")));
    }
    Ok(value as u32)
}

/// `rtmConfig` as the RTM 2 SDK defines it, plus `endpoint`. Options of the cloud SDK that
/// have no meaning here (`logUpload`, `cloudProxy`, `useStringUserId`, upload hosts) are
/// accepted and ignored so ported code runs unchanged.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RtmOptions {
    endpoint: Option<String>,
    presence_timeout: Option<f64>,
    heartbeat_interval: Option<f64>,
    log_level: Option<String>,
    log_format: Option<LogFormat>,
    private_config: Option<PrivateConfig>,
    request_timeout_ms: Option<u64>,
    login_timeout_ms: Option<u64>,
    pong_timeout_ms: Option<u64>,
    /// Which API the client serves (`trtc` for TRTCCloud).
    kind: Option<SessionKind>,
    encryption_mode: Option<String>,
    cipher_key: Option<Secret>,
    salt: Option<Vec<u8>>,
    /// PEM certificates to trust for wss:// (a private CA).
    ca_certificates: Option<String>,
    /// Whether plain host names in `accessPointHosts` use wss:// (default: when
    /// `caCertificates` is set).
    tls: Option<bool>,
    /// Every other key: an ignored SDK option, or an unknown one (see `unknown_options`).
    #[serde(flatten)]
    other: BTreeMap<String, IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrivateConfig {
    access_point_hosts: Option<Vec<String>>,
    #[serde(flatten)]
    other: BTreeMap<String, IgnoredAny>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_are_refused_with_a_reason() {
        let e = ClientConfig::from_rtm_options("app", "u", r#"{"endpoint":"ws://x","presenceTimeout":4}"#, None)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameter);
        assert!(e.reason.contains("presenceTimeout 4"));
        let e = ClientConfig::from_rtm_options("app", "u", r#"{"endpoint":"ws://x","heartbeatInterval":1801}"#, None)
            .unwrap_err();
        assert!(e.reason.contains("heartbeatInterval"));
        let e = ClientConfig::from_rtm_options("app", "bad/user", r#"{"endpoint":"ws://x"}"#, None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidUserId);
        let e = ClientConfig::from_rtm_options("app", "u", "{}", None).unwrap_err();
        assert!(e.reason.contains("PIAZZA_URL"));
    }

    #[test]
    fn access_points_win_over_endpoint_and_env_fills_in() {
        let c = ClientConfig::from_rtm_options(
            "app",
            "u",
            r#"{"endpoint":"ws://e","privateConfig":{"accessPointHosts":["ws://a","ws://b"]},"logUpload":true}"#,
            None,
        )
        .unwrap();
        assert_eq!(c.endpoints, ["ws://a", "ws://b"]);
        let c = ClientConfig::from_rtm_options("app", "u", "", Some("ws://env".into())).unwrap();
        assert_eq!(c.endpoints, ["ws://env"]);
    }

    #[test]
    fn access_points_take_plain_host_names() {
        let c = ClientConfig::from_rtm_options(
            "app",
            "u",
            r#"{"privateConfig":{"accessPointHosts":["127.0.0.1:7700","localhost","[::1]:80","wss://w/x"]}}"#,
            None,
        )
        .unwrap();
        assert_eq!(c.endpoints, ["ws://127.0.0.1:7700", "ws://localhost", "ws://[::1]:80", "wss://w/x"]);
        let c = ClientConfig::from_rtm_options(
            "app",
            "u",
            r#"{"caCertificates":"PEM","privateConfig":{"accessPointHosts":["rtm.example:443"]}}"#,
            None,
        )
        .unwrap();
        assert_eq!(c.endpoints, ["wss://rtm.example:443"]);
        let c = ClientConfig::from_rtm_options(
            "app",
            "u",
            r#"{"tls":true,"privateConfig":{"accessPointHosts":["rtm.example"]}}"#,
            None,
        )
        .unwrap();
        assert_eq!(c.endpoints, ["wss://rtm.example"]);
        for bad in ["", "a b", "host:0", "host:x", "::1", ":80", "h/path", "[::1", "[zz]:1", "u@h", "http://h"] {
            let json = format!(r#"{{"privateConfig":{{"accessPointHosts":[{bad:?}]}}}}"#);
            let e = ClientConfig::from_rtm_options("app", "u", &json, None).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidPrivateConfig, "{bad:?}: {}", e.reason);
        }
    }

    #[test]
    fn sdk_options_are_ignored_by_name_and_others_reported() {
        let c = ClientConfig::from_rtm_options(
            "app",
            "u",
            r#"{"endpoint":"ws://x","logUpload":true,"cloudProxy":false,"useStringUserId":true,"presenceTimout":20,
               "privateConfig":{"serviceType":["MESSAGE"],"eventUploadHosts":[],"logUploadHosts":[],"originDomains":[],
               "domainMode":1,"acessPointHosts":["a"]}}"#,
            None,
        )
        .unwrap();
        assert_eq!(c.unknown_options, ["presenceTimout", "privateConfig.acessPointHosts"]);
        assert_eq!(c.presence_timeout, 300);
        assert_eq!(c.endpoints, ["ws://x"]);
    }

    #[test]
    fn log_level_and_format_are_checked_for_the_host() {
        let c =
            ClientConfig::from_rtm_options("app", "u", r#"{"endpoint":"ws://x","logFormat":"json"}"#, None).unwrap();
        assert_eq!(c.log_format, Some(LogFormat::Json));
        let e =
            ClientConfig::from_rtm_options("app", "u", r#"{"endpoint":"ws://x","logFormat":"xml"}"#, None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameter);
        assert!(e.reason.contains("xml"), "{}", e.reason);
        let e =
            ClientConfig::from_rtm_options("app", "u", r#"{"endpoint":"ws://x","logLevel":"loud"}"#, None).unwrap_err();
        assert!(e.reason.contains("logLevel"), "{}", e.reason);
    }
}
