//! Tokens (docs/PROTOCOL.md#tokens): HS256 JWTs made and checked with `jsonwebtoken`, never hand-rolled crypto.
//!
//! A token names its app (`app`), its user (`sub`), its expiry (`exp`, checked strictly: no
//! leeway) and its privileges: login, stream channels, rooms and realtime scopes, each "*" or a
//! list. `userSig` of TRTC rooms and stream-channel tokens are the same kind of token.
//!
//! A refusal says which check failed — users of the SDKs we replace complain most about vague
//! auth errors — but never repeats the token or the certificate.

use std::collections::HashMap;

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};
use crate::names;
use crate::protocol::RoomId;
use crate::secret::Secret;
use crate::time::now_ms;

/// The issuer written into every token.
const ISSUER: &str = "piazza";

/// "*" (anything) or a list of names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Grant<T> {
    #[default]
    All,
    Only(Vec<T>),
}

impl<T: PartialEq> Grant<T> {
    pub fn allows(&self, item: &T) -> bool {
        match self {
            Grant::All => true,
            Grant::Only(items) => items.contains(item),
        }
    }
}

impl<T: Serialize> Serialize for Grant<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Grant::All => s.serialize_str("*"),
            Grant::Only(items) => items.serialize(s),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Grant<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<T> {
            Star(String),
            List(Vec<T>),
        }
        match Raw::deserialize(d)? {
            Raw::Star(s) if s == "*" => Ok(Grant::All),
            Raw::Star(s) => Err(serde::de::Error::custom(format!("expected \"*\" or a list, got {s:?}"))),
            Raw::List(items) => Ok(Grant::Only(items)),
        }
    }
}

fn yes() -> bool {
    true
}

/// What a token allows. Absent fields allow everything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Privileges {
    #[serde(default = "yes")]
    pub login: bool,
    #[serde(default)]
    pub stream_channels: Grant<String>,
    #[serde(default)]
    pub rooms: Grant<RoomId>,
    #[serde(default)]
    pub realtime: Grant<String>,
}

impl Default for Privileges {
    fn default() -> Self {
        Privileges { login: true, stream_channels: Grant::All, rooms: Grant::All, realtime: Grant::All }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    app: String,
    sub: String,
    iat: u64,
    exp: u64,
    #[serde(default)]
    privileges: Privileges,
}

/// What a verified token grants, and until when (seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub expires_at: u64,
    pub privileges: Privileges,
}

/// Longest token lifetime, in seconds (24 h, as RTM tokens).
pub const MAX_EXPIRE_SECONDS: u64 = 86_400;

/// Makes a token for `user` of `app`, signed with the app's certificate.
pub fn generate_token(
    app: &str,
    certificate: &str,
    user: &str,
    expire_seconds: u64,
    privileges: Privileges,
) -> Result<String> {
    names::app_id(app)?;
    names::user_id(user)?;
    if certificate.len() < 16 {
        return Err(Error::invalid("appCertificate must be at least 16 characters"));
    }
    if !(1..=MAX_EXPIRE_SECONDS).contains(&expire_seconds) {
        return Err(Error::invalid(format!("expireSeconds {expire_seconds} is outside 1..={MAX_EXPIRE_SECONDS}")));
    }
    let now = now_ms() / 1000;
    let claims = Claims {
        iss: ISSUER.into(),
        app: app.into(),
        sub: user.into(),
        iat: now,
        exp: now + expire_seconds,
        privileges,
    };
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(certificate.as_bytes()))
        .map_err(|e| Error::invalid(format!("cannot sign the token: {e}")))
}

/// The server side: the certificates of the apps it serves. With none, the server runs in an
/// open development mode and accepts any token.
#[derive(Debug, Clone, Default)]
pub struct Authority {
    apps: HashMap<String, Secret>,
}

impl Authority {
    pub fn new(apps: HashMap<String, Secret>) -> Self {
        Authority { apps }
    }

    /// Whether tokens are ignored (no app has a certificate).
    pub fn is_open(&self) -> bool {
        self.apps.is_empty()
    }

    /// Checks a token for `user` of `app`. The error says which check failed.
    pub fn verify(&self, app: &str, user: &str, token: Option<&str>) -> Result<Verified> {
        if self.is_open() {
            return Ok(Verified { expires_at: u64::MAX, privileges: Privileges::default() });
        }
        let Some(certificate) = self.apps.get(app) else {
            return Err(Error::new(ErrorCode::InvalidAppId, format!("app {app:?} is not configured on this server")));
        };
        let token = token.map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
            Error::new(ErrorCode::InvalidToken, "no token: this server requires a signed token (see generateToken)")
        })?;
        // Read the claims first, unverified, only to say precisely what is wrong.
        let mut peek = Validation::new(Algorithm::HS256);
        peek.insecure_disable_signature_validation();
        peek.validate_exp = false;
        peek.required_spec_claims.clear();
        let claims = decode::<Claims>(token, &DecodingKey::from_secret(&[]), &peek)
            .map_err(|e| Error::new(ErrorCode::InvalidToken, format!("malformed token ({e})")))?
            .claims;
        if claims.app != app {
            return Err(Error::new(
                ErrorCode::InconsistentAppid,
                format!("the token was issued for app {:?}, not {app:?}", claims.app),
            ));
        }
        if claims.sub != user {
            return Err(Error::new(
                ErrorCode::InvalidToken,
                format!("the token was issued for user {:?}, not {user:?}", claims.sub),
            ));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        match decode::<Claims>(token, &DecodingKey::from_secret(certificate.expose().as_bytes()), &validation) {
            Ok(data) => Ok(Verified { expires_at: data.claims.exp, privileges: data.claims.privileges }),
            Err(e) => Err(match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    Error::new(ErrorCode::TokenExpired, format!("the token expired at {} (unix seconds)", claims.exp))
                }
                jsonwebtoken::errors::ErrorKind::InvalidSignature => Error::new(
                    ErrorCode::InvalidToken,
                    "the token's signature does not verify (signed with another certificate, or altered)",
                ),
                other => Error::new(ErrorCode::InvalidToken, format!("the token is not valid ({other:?})")),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "0123456789abcdef0123";

    fn authority() -> Authority {
        Authority::new(HashMap::from([("app".to_string(), Secret::new(CERT))]))
    }

    #[test]
    fn a_good_token_verifies_with_its_privileges() {
        let privileges =
            Privileges { rooms: Grant::Only(vec![RoomId::Num(7), RoomId::Str("lobby".into())]), ..Default::default() };
        let token = generate_token("app", CERT, "alice", 60, privileges.clone()).unwrap();
        let verified = authority().verify("app", "alice", Some(&token)).unwrap();
        assert_eq!(verified.privileges, privileges);
        assert!(
            verified.privileges.rooms.allows(&RoomId::Num(7))
                && !verified.privileges.rooms.allows(&RoomId::Str("7".into()))
        );
    }

    #[test]
    fn every_refusal_says_which_check_failed() {
        let a = authority();
        let good = generate_token("app", CERT, "alice", 60, Privileges::default()).unwrap();
        let cases: Vec<(Option<String>, &str, &str, ErrorCode, &str)> = vec![
            (None, "app", "alice", ErrorCode::InvalidToken, "no token"),
            (Some("not.a.jwt".into()), "app", "alice", ErrorCode::InvalidToken, "malformed"),
            (Some(good.clone()), "other", "alice", ErrorCode::InvalidAppId, "not configured"),
            (
                Some(generate_token("app2", CERT, "alice", 60, Privileges::default()).unwrap()),
                "app",
                "alice",
                ErrorCode::InconsistentAppid,
                "app \"app2\"",
            ),
            (Some(good.clone()), "app", "bob", ErrorCode::InvalidToken, "user \"alice\""),
            (
                Some(generate_token("app", "another-certificate-xyz", "alice", 60, Privileges::default()).unwrap()),
                "app",
                "alice",
                ErrorCode::InvalidToken,
                "signature",
            ),
        ];
        for (token, app, user, code, words) in cases {
            let e = a.verify(app, user, token.as_deref()).unwrap_err();
            assert_eq!(e.code, code, "{e}");
            assert!(e.reason.contains(words), "{e} should say {words:?}");
            assert!(!e.reason.contains(CERT));
            if let Some(t) = token {
                assert!(!e.reason.contains(&t), "the reason must not repeat the token");
            }
        }
    }

    #[test]
    fn expiry_is_strict() {
        let claims = Claims {
            iss: ISSUER.into(),
            app: "app".into(),
            sub: "alice".into(),
            iat: 0,
            exp: now_ms() / 1000 - 1,
            privileges: Privileges::default(),
        };
        let expired =
            encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(CERT.as_bytes())).unwrap();
        let e = authority().verify("app", "alice", Some(&expired)).unwrap_err();
        assert_eq!(e.code, ErrorCode::TokenExpired);
    }

    #[test]
    fn generate_checks_its_arguments() {
        assert!(generate_token("app", CERT, "alice", 0, Privileges::default()).is_err());
        assert!(generate_token("app", CERT, "alice", 86_401, Privileges::default()).is_err());
        assert!(generate_token("app", "short", "alice", 60, Privileges::default()).is_err());
        assert_eq!(
            generate_token("app", CERT, "bad/user", 60, Privileges::default()).unwrap_err().code,
            ErrorCode::InvalidUserId
        );
        let p: Privileges =
            serde_json::from_str(r#"{"login":false,"streamChannels":["a"],"rooms":"*","realtime":[]}"#).unwrap();
        assert_eq!(
            (p.login, p.stream_channels, p.realtime),
            (false, Grant::Only(vec!["a".to_string()]), Grant::Only(vec![]))
        );
        assert!(serde_json::from_str::<Privileges>(r#"{"rooms":"some"}"#).is_err());
    }
}
