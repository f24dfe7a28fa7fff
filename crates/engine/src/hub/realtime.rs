//! Realtime channels (webxdc `joinRealtimeChannel`, docs/PROTOCOL.md#realtime-channels): private, per-scope, ephemeral
//! datagrams. Only peers connected now receive; nothing is stored; the sender does not get its
//! own data. Delivery is best effort: a datagram for a congested receiver is dropped and
//! counted (`stats().realtimeDropped`), never silently.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;

use super::{Hub, Session, Tally};
use crate::broker::{Audience, Delivery, Route};
use crate::error::{Error, ErrorCode, Result};
use crate::names;
use crate::protocol::{server, RealtimeScope, RealtimeSend};
use crate::time::now_ms;

/// The sessions in each scope of an app, on this node.
pub(crate) type Scopes = HashMap<Arc<str>, Vec<Arc<Session>>>;

/// `{ timestamp, scope }`.
#[derive(Debug, Serialize)]
pub struct ScopeResponse {
    pub timestamp: u64,
    pub scope: String,
}

/// Pushes a datagram to every member of a scope but the sender.
pub(crate) fn deliver(members: &[Arc<Session>], delivery: &Delivery, tally: &mut Tally) {
    for session in members {
        if delivery.skip.as_deref().is_some_and(|s| *s == *session.user) {
            continue;
        }
        tally.record(session, session.outbox.push_droppable(delivery.frame.clone()));
    }
}

impl Hub {
    /// Joins a realtime scope.
    pub fn realtime_join(&self, session: &Arc<Session>, req: RealtimeScope) -> Result<ScopeResponse> {
        names::scope(&req.scope)?;
        self.authorize_scope(session, &req.scope)?;
        let app = self.session_app(session)?;
        let scope: Arc<str> = Arc::from(req.scope.as_str());
        {
            let mut state = session.state.lock();
            if state.ended {
                return Err(Error::new(ErrorCode::NotLogin, "session has ended"));
            }
            if !state.rare_or_new().scopes.insert(scope.clone()) {
                return Err(Error::new(
                    ErrorCode::DuplicateOperation,
                    format!("realtime scope {scope:?} is already joined"),
                ));
            }
        }
        let mut scopes = app.scopes.lock();
        let route = || Route::Realtime { app: app.id.clone(), scope: scope.clone() };
        self.broker().join_group(route, || {
            let members = scopes.entry(scope.clone()).or_default();
            members.push(session.clone());
            ((), members.len() == 1)
        });
        Ok(ScopeResponse { timestamp: now_ms(), scope: req.scope })
    }

    /// Leaves a realtime scope.
    pub fn realtime_leave(&self, session: &Arc<Session>, req: RealtimeScope) -> Result<ScopeResponse> {
        names::scope(&req.scope)?;
        if !session.state.lock().rare_mut().is_some_and(|r| r.scopes.remove(req.scope.as_str())) {
            return Err(Error::new(
                ErrorCode::ChannelNotJoined,
                format!("realtime scope {:?} is not joined", req.scope),
            ));
        }
        if let Some(app) = self.app(&session.app) {
            self.leave_scope(&app, &req.scope, session);
        }
        Ok(ScopeResponse { timestamp: now_ms(), scope: req.scope })
    }

    pub(super) fn leave_scope(&self, app: &super::App, scope: &str, session: &Session) {
        let mut scopes = app.scopes.lock();
        let Some(members) = scopes.get_mut(scope) else { return };
        members.retain(|s| s.id != session.id);
        let empty = members.is_empty();
        let route = || Route::Realtime { app: app.id.clone(), scope: Arc::from(scope) };
        self.broker().leave_group(route, || if empty { scopes.remove(scope) } else { None });
    }

    /// Sends a datagram to the other members of a scope.
    pub fn realtime_send(&self, session: &Arc<Session>, req: RealtimeSend, payload: Bytes) -> Result<()> {
        let max = self.config().limits.max_realtime_bytes;
        if payload.len() > max {
            return Err(Error::new(
                ErrorCode::ChannelMessageLengthExceedLimitation,
                format!("realtime data is {} bytes; at most {max} are allowed", payload.len()),
            ));
        }
        if !session.state.lock().rare().is_some_and(|r| r.scopes.contains(req.scope.as_str())) {
            return Err(Error::new(
                ErrorCode::ChannelNotJoined,
                format!("realtime scope {:?} is not joined", req.scope),
            ));
        }
        let frame = server::realtime(&req.scope, &payload, req.encrypted);
        self.counters().messages_in.fetch_add(1, Ordering::Relaxed);
        let route = Route::Realtime { app: session.app.clone(), scope: Arc::from(req.scope.as_str()) };
        self.broker().publish(Delivery {
            route,
            audience: Audience::Everyone,
            skip: Some(session.user.clone()),
            frame,
        });
        Ok(())
    }
}
