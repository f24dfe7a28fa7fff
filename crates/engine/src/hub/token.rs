//! Tokens on a live session: the checks at login, stream-channel join, realtime join and room
//! entry; `renewToken`; and the timers that warn 30 s before a token expires
//! (`tokenPrivilegeWillExpire`) and end what it granted when it lapses unrenewed.

use std::sync::Arc;
use std::time::Duration;

use super::presence::{Done, PresenceEventType};
use super::{EndReason, Hub, Session};
use crate::auth::{Privileges, Verified};
use crate::error::{Error, ErrorCode, Result};
use crate::names;
use crate::protocol::{server, FrameKind, Hello, RenewToken, RoomId, SessionKind, TokenEvent, TokenEventType};
use crate::secret::Secret;
use crate::time::now_ms;

/// How long before expiry the client is warned.
pub const WARN_BEFORE: Duration = Duration::from_secs(30);

/// The `token` frame of a login token (`channel` empty) or of a stream channel's token.
pub(super) fn token_event(event_type: TokenEventType, channel: &str) -> tokio_tungstenite::tungstenite::Message {
    server::event(FrameKind::Token, &TokenEvent::new(event_type, channel))
}

impl Hub {
    /// Checks the token of a hello (any token, or none, in open development mode).
    pub(super) fn verify_hello(&self, hello: &Hello) -> Result<Verified> {
        let verified =
            self.shared.authority.verify(&hello.app_id, &hello.user_id, hello.token.as_ref().map(Secret::expose))?;
        if hello.kind == SessionKind::Rtm && !verified.privileges.login {
            return Err(Error::new(ErrorCode::LoginNotAuthorized, "the token does not grant login"));
        }
        Ok(verified)
    }

    /// Installs the login grant of a session and (re)starts its expiry timers.
    pub(super) fn grant_login(&self, session: &Arc<Session>, verified: Verified) {
        let expires_at = verified.expires_at;
        let generation = {
            let mut tokens = session.tokens.lock();
            tokens.login = verified;
            tokens.generation += 1;
            tokens.generation
        };
        self.schedule_expiry(session, None, expires_at, generation);
    }

    /// The privileges a session holds now.
    pub(super) fn privileges(&self, session: &Session) -> Privileges {
        session.tokens.lock().login.privileges.clone()
    }

    /// Checks a stream-channel join: its own token if it has one, else the login token.
    pub(super) fn authorize_stream(&self, session: &Arc<Session>, channel: &str, token: Option<&Secret>) -> Result<()> {
        let own = match token.filter(|t| !t.expose().is_empty()) {
            Some(t) if !self.shared.authority.is_open() => {
                Some(self.shared.authority.verify(&session.app, &session.user, Some(t.expose()))?)
            }
            _ => None,
        };
        let privileges = own.as_ref().map(|v| v.privileges.clone()).unwrap_or_else(|| self.privileges(session));
        if !privileges.stream_channels.allows(&channel.to_string()) {
            return Err(Error::new(
                ErrorCode::ChannelSubscribePermissionDenied,
                format!("the token does not grant stream channel {channel:?}"),
            ));
        }
        if let Some(verified) = own {
            let generation = {
                let mut tokens = session.tokens.lock();
                tokens.streams.insert(Arc::from(channel), verified.expires_at);
                tokens.generation += 1;
                tokens.generation
            };
            self.schedule_expiry(session, Some(Arc::from(channel)), verified.expires_at, generation);
        }
        Ok(())
    }

    /// Checks a realtime join against the `realtime` privilege.
    pub(super) fn authorize_scope(&self, session: &Session, scope: &str) -> Result<()> {
        if !self.privileges(session).realtime.allows(&scope.to_string()) {
            return Err(Error::new(
                ErrorCode::ChannelSubscribePermissionDenied,
                format!("the token does not grant realtime scope {scope:?}"),
            ));
        }
        Ok(())
    }

    /// Checks a room entry against the `rooms` privilege (of `token` when given).
    pub(super) fn authorize_room(&self, session: &Session, room: &RoomId, token: Option<&Secret>) -> Result<()> {
        let privileges = match token.filter(|t| !t.expose().is_empty()) {
            Some(t) if !self.shared.authority.is_open() => {
                self.shared
                    .authority
                    .verify(&session.app, &session.user, Some(t.expose()))
                    .map_err(|e| Error::new(ErrorCode::TrtcUserSigInvalid, e.reason))?
                    .privileges
            }
            _ => self.privileges(session),
        };
        if !privileges.rooms.allows(room) {
            return Err(Error::new(ErrorCode::TrtcUserSigInvalid, format!("the userSig does not grant room {room}")));
        }
        Ok(())
    }

    /// `renewToken`: replaces the login token, or the token of a joined stream channel, without
    /// reconnecting.
    pub fn renew_token(&self, session: &Arc<Session>, req: RenewToken) -> Result<Done> {
        let verified = self.shared.authority.verify(&session.app, &session.user, Some(req.token.expose()))?;
        match req.channel.filter(|c| !c.is_empty()) {
            None => self.grant_login(session, verified),
            Some(channel) => {
                names::channel(&channel)?;
                if !session.state.lock().streams.contains(channel.as_str()) {
                    return Err(Error::new(
                        ErrorCode::ChannelNotJoined,
                        format!("stream channel {channel:?} is not joined"),
                    ));
                }
                self.authorize_stream(session, &channel, Some(&req.token))?;
            }
        }
        Ok(Done { timestamp: now_ms() })
    }

    /// Warns 30 s before `expires_at` (unix seconds) and ends the grant at it, unless a newer
    /// token (another generation) replaced it meanwhile. The timer holds the hub and the
    /// session weakly and ends when the hub stops.
    fn schedule_expiry(&self, session: &Arc<Session>, channel: Option<Arc<str>>, expires_at: u64, generation: u64) {
        if expires_at == u64::MAX {
            return;
        }
        let session = Arc::downgrade(session);
        self.spawn_timer(move |hub| async move {
            let until = |at_ms: u64| Duration::from_millis(at_ms.saturating_sub(now_ms()));
            let expiry_ms = expires_at.saturating_mul(1000);
            // The hub and the session, if both are still there and this grant is still current.
            let current = || {
                let (hub, session) = (hub.upgrade()?, session.upgrade()?);
                let still = {
                    let tokens = session.tokens.lock();
                    let still = match &channel {
                        None => tokens.login.expires_at == expires_at,
                        Some(c) => tokens.streams.get(c) == Some(&expires_at),
                    };
                    still && tokens.generation >= generation && !session.is_ended()
                };
                still.then_some((hub, session))
            };
            tokio::time::sleep(until(expiry_ms.saturating_sub(WARN_BEFORE.as_millis() as u64))).await;
            let Some((hub, session)) = current() else { return };
            hub.push(&session, token_event(TokenEventType::WillExpire, channel.as_deref().unwrap_or("")));
            drop((hub, session));
            tokio::time::sleep(until(expiry_ms)).await;
            let Some((hub, session)) = current() else { return };
            match &channel {
                None => {
                    tracing::info!(?session, "login token expired unrenewed; ending the session");
                    hub.end_session(&session, EndReason::TokenExpired);
                }
                Some(c) => {
                    tracing::info!(?session, channel = %c, "stream-channel token expired unrenewed; leaving the channel");
                    session.tokens.lock().streams.remove(c);
                    let joined = session.state.lock().streams.remove(c);
                    if joined {
                        if let Some(app) = hub.app(&session.app) {
                            hub.leave_stream_channel(&app, c, &session, PresenceEventType::RemoteLeave);
                        }
                    }
                    hub.push(&session, token_event(TokenEventType::Expired, c));
                }
            }
        });
    }
}
