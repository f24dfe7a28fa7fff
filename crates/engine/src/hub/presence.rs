//! Presence (docs/PROTOCOL.md#presence, README "Presence"): events as the RTM `presence` listener receives them, temporary user
//! states, `whoNow` / `whereNow`, and interval mode.
//!
//! Events are encoded once per channel and delivered to the members that asked for presence,
//! never to their subject. In a crowded channel (visible occupancy above
//! `presence.intervalThreshold`) joins, leaves, timeouts and state changes are folded into an
//! [`IntervalBook`] and go out as one INTERVAL event per `presence.intervalSeconds`, so a join
//! storm of N users costs each member a handful of events instead of N.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;

use super::channel::MessageChannel;
use super::roster::Roster;
use super::stream::StreamChannel;
use super::{App, Hub, Session};
use crate::broker::{Audience, Delivery, Route};
use crate::error::{Error, ErrorCode, Result};
use crate::names;
pub use crate::protocol::events::{IntervalDetail, PresenceEvent, PresenceEventType, States, UserList, UserState};
use crate::protocol::{server, ChannelType, FrameKind, GetState, RemoveState, SetState, WhereNow, WhoNow};
use crate::time::now_ms;

/// Longest state key, in bytes.
pub const MAX_STATE_KEY_BYTES: usize = 64;
/// Longest state value, in bytes.
pub const MAX_STATE_VALUE_BYTES: usize = 8 * 1024;
/// Channels a session may hold states for before joining them.
pub const MAX_PENDING_STATE_CHANNELS: usize = 100;
/// Occupants per `whoNow` page.
pub const WHO_NOW_PAGE: usize = 50;

/// A member just added to a channel's roster (see [`Hub::arrive`]).
pub(super) struct Arrival<'a> {
    pub session: &'a Session,
    pub states: &'a States,
    pub quiet: bool,
    /// The local roster's visible count and version, taken when the member was added.
    pub occupancy: usize,
    pub change: u64,
}

/// Changes folded while a channel is in interval mode.
#[derive(Debug, Default)]
pub struct IntervalBook {
    join: Vec<String>,
    leave: Vec<String>,
    timeout: Vec<String>,
    states: BTreeMap<String, States>,
}

impl IntervalBook {
    fn is_empty(&self) -> bool {
        self.join.is_empty() && self.leave.is_empty() && self.timeout.is_empty() && self.states.is_empty()
    }

    fn fold(&mut self, event: &PresenceEvent) {
        let user = event.publisher.clone();
        match event.event_type {
            PresenceEventType::RemoteJoin => {
                self.leave.retain(|u| *u != user);
                self.timeout.retain(|u| *u != user);
                if !event.state_changed.is_empty() {
                    self.states.insert(user.clone(), event.state_changed.clone());
                }
                self.join.push(user);
            }
            PresenceEventType::RemoteLeave | PresenceEventType::RemoteTimeout => {
                let joined_here = self.join.iter().position(|u| *u == user);
                self.states.remove(&user);
                if let Some(i) = joined_here {
                    // Joined and left within one interval: nobody needs to hear of it.
                    self.join.remove(i);
                } else if event.event_type == PresenceEventType::RemoteLeave {
                    self.leave.push(user);
                } else {
                    self.timeout.push(user);
                }
            }
            PresenceEventType::RemoteStateChanged => {
                self.states.insert(user, event.state_changed.clone());
            }
            _ => {}
        }
    }

    fn take(&mut self, total_occupancy: usize) -> Option<IntervalDetail> {
        if self.is_empty() {
            return None;
        }
        let book = std::mem::take(self);
        Some(IntervalDetail {
            join: book.join.into(),
            leave: book.leave.into(),
            timeout: book.timeout.into(),
            user_state_list: book.states.iter().map(|(u, s)| UserState::new(u, s)).collect(),
            total_occupancy,
        })
    }
}

/// A message channel or a stream channel, seen from presence.
pub(super) enum Presence {
    Message(Arc<MessageChannel>),
    Stream(Arc<StreamChannel>),
}

impl Presence {
    pub(super) fn channel_type(&self) -> ChannelType {
        match self {
            Presence::Message(_) => ChannelType::Message,
            Presence::Stream(_) => ChannelType::Stream,
        }
    }

    pub(super) fn name(&self) -> &Arc<str> {
        match self {
            Presence::Message(c) => &c.name,
            Presence::Stream(s) => &s.name,
        }
    }

    /// Runs `f` on the channel's roster (under its lock).
    pub(super) fn roster<R>(&self, f: impl FnOnce(&mut Roster) -> R) -> R {
        match self {
            Presence::Message(c) => f(&mut c.roster.write()),
            Presence::Stream(s) => f(&mut s.state.lock().roster),
        }
    }

    pub(super) fn book(&self) -> &Mutex<IntervalBook> {
        match self {
            Presence::Message(c) => &c.interval,
            Presence::Stream(s) => &s.interval,
        }
    }

    pub(super) fn route(&self, app: &App) -> Route {
        match self {
            Presence::Message(c) => Route::Channel { app: app.id.clone(), channel: c.name.clone() },
            Presence::Stream(s) => Route::Stream { app: app.id.clone(), channel: s.name.clone() },
        }
    }
}

/// Checks states to set: key and value sizes (the count is checked against the merge).
pub fn check_states(states: &BTreeMap<String, String>) -> Result<()> {
    for (key, value) in states {
        if key.is_empty() {
            return Err(Error::new(ErrorCode::PresenceInvalidStateKey, "a state key must not be empty"));
        }
        if key.len() > MAX_STATE_KEY_BYTES {
            return Err(Error::new(
                ErrorCode::PresenceStateKeySizeOverflow,
                format!("state key {key:?} is {} bytes; at most {MAX_STATE_KEY_BYTES} are allowed", key.len()),
            ));
        }
        if value.len() > MAX_STATE_VALUE_BYTES {
            return Err(Error::new(
                ErrorCode::PresenceStateValueSizeOverflow,
                format!(
                    "the value of state {key:?} is {} bytes; at most {MAX_STATE_VALUE_BYTES} are allowed",
                    value.len()
                ),
            ));
        }
    }
    Ok(())
}

fn presence_channel_type(channel_type: ChannelType) -> Result<()> {
    if channel_type == ChannelType::User {
        return Err(Error::new(ErrorCode::InvalidChannelType, "presence applies to MESSAGE and STREAM channels"));
    }
    Ok(())
}

/// Merges `new` into `states`, refusing to go past `max` keys.
fn merge(states: &mut States, new: &BTreeMap<String, String>, max: usize) -> Result<()> {
    let added = new.keys().filter(|k| !states.contains_key(*k)).count();
    if states.len() + added > max {
        return Err(Error::new(
            ErrorCode::PresenceStateCountOverflow,
            format!("a user may hold at most {max} states per channel (limits.maxStatesPerUser)"),
        ));
    }
    states.extend(new.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(())
}

/// `{ timestamp }`.
#[derive(Debug, Serialize)]
pub struct Done {
    pub timestamp: u64,
}

/// `GetStateResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetStateResponse {
    pub timestamp: u64,
    pub user_id: String,
    pub states: States,
    pub states_count: usize,
}

/// `WhoNowResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WhoNowResponse {
    pub timestamp: u64,
    pub total_occupancy: usize,
    pub occupants: Vec<UserState>,
    pub next_page: String,
}

/// `{ channelName, channelType }` of `WhereNowResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelDetail {
    pub channel_name: String,
    pub channel_type: ChannelType,
}

/// `WhereNowResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WhereNowResponse {
    pub timestamp: u64,
    pub channels: Vec<ChannelDetail>,
    pub total_channel: usize,
}

/// An opaque `nextPage` bookmark: the hex of the last user id of the page.
fn bookmark(user: &str) -> String {
    user.bytes().map(|b| format!("{b:02x}")).collect()
}

fn read_bookmark(page: &str) -> Result<String> {
    let bad = || Error::new(ErrorCode::PresenceInvalidArgument, "page is not a bookmark returned by whoNow");
    if !page.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes: Result<Vec<u8>> =
        (0..page.len()).step_by(2).map(|i| u8::from_str_radix(&page[i..i + 2], 16).map_err(|_| bad())).collect();
    String::from_utf8(bytes?).map_err(|_| bad())
}

impl Hub {
    /// The channel of `channel_type` named `name` on this node, if it has members here.
    pub(super) fn presence_channel(&self, app: &App, channel_type: ChannelType, name: &str) -> Option<Presence> {
        match channel_type {
            ChannelType::Message => app.channels.read().get(name).cloned().map(Presence::Message),
            ChannelType::Stream => app.streams.read().get(name).cloned().map(Presence::Stream),
            ChannelType::User => None,
        }
    }

    /// Presence of a new member of a message or stream channel: its arrival is announced
    /// (unless it is quiet, or moving here from another node). Its SNAPSHOT follows the answer
    /// ([`Hub::presence_snapshot`]).
    pub(super) fn arrive(&self, app: &App, presence: &Presence, arrival: Arrival<'_>) {
        let (ct, name, session) = (presence.channel_type(), presence.name(), arrival.session);
        let occupancy = self.occupancy_everywhere(app, presence, arrival.occupancy);
        if !arrival.quiet {
            // A user that another node holds is moving here: not news for anyone.
            let moved = self.arriving(&app.id, ct, name, session);
            self.dir_member(&app.id, ct, name, session, Some(arrival.states));
            if !moved {
                let event = PresenceEvent::about(PresenceEventType::RemoteJoin, ct, name, &session.user)
                    .with_states(arrival.states);
                self.announce(app, presence, occupancy, event, Some(arrival.change));
            }
        }
    }

    /// Sends a new member that asked for presence its SNAPSHOT, and from then on the events of
    /// later changes. Both happen under the roster's lock, which every delivery into the
    /// channel holds: no event comes before the SNAPSHOT, and none about a change it shows.
    pub(super) fn presence_snapshot(&self, session: &Arc<Session>, channel_type: ChannelType, name: &str) {
        let Some(app) = self.app(&session.app) else { return };
        let Some(channel) = self.presence_channel(&app, channel_type, name) else { return };
        let cap = self.config().presence.snapshot_max_users;
        channel.roster(|roster| {
            let pending =
                roster.get(&session.user).is_some_and(|m| m.session.id == session.id && m.presence_after.is_none());
            if !pending {
                return;
            }
            let users = self.merge_members(&app.id, channel_type, name, roster.first_visible(cap), Some(cap));
            let occupancy =
                self.cluster_occupancy(&app.id, channel_type, name, roster.occupancy(), |u| roster.get(u).is_some());
            let event = self.snapshot_event(channel_type, name, users, occupancy);
            self.push(session, server::event(FrameKind::Presence, &event));
            let version = roster.now();
            if let Some(member) = roster.get_mut(&session.user) {
                member.presence_after = Some(version);
            }
        });
    }

    /// The SNAPSHOT a joiner gets: at most `presence.snapshotMaxUsers` users (the first by user
    /// id); a bigger channel's says its size (`occupancy`, visible users across the cluster) in
    /// `interval.totalOccupancy`, and the rest is a `whoNow` away.
    pub(super) fn snapshot_event(
        &self,
        channel_type: ChannelType,
        channel: &str,
        mut users: Vec<UserState>,
        occupancy: usize,
    ) -> PresenceEvent {
        users.truncate(self.config().presence.snapshot_max_users);
        let (listed, total) = (users.len(), occupancy.max(users.len()));
        let mut event = PresenceEvent::snapshot(channel_type, channel, users);
        if listed < total {
            event.interval = Some(IntervalDetail { total_occupancy: total, ..IntervalDetail::default() });
        }
        event
    }

    /// Visible users of a channel across the cluster, given the local occupancy.
    pub(super) fn occupancy_everywhere(&self, app: &App, channel: &Presence, local: usize) -> usize {
        self.cluster_occupancy(&app.id, channel.channel_type(), channel.name(), local, |user| {
            channel.roster(|r| r.get(user).is_some())
        })
    }

    /// Sends a presence event about a change in `channel`, or folds it into the channel's
    /// interval book when the channel is crowded (`occupancy` is the count after the change).
    /// `change` is the roster version of a local change (see [`Audience::Presence`]).
    pub(super) fn announce(
        &self,
        app: &App,
        channel: &Presence,
        occupancy: usize,
        event: PresenceEvent,
        change: Option<u64>,
    ) {
        self.hook_presence(&app.id, channel.channel_type(), channel.name(), &event.publisher, event.event_type);
        let mut book = channel.book().lock();
        if occupancy > self.config().presence.interval_threshold {
            book.fold(&event);
            return;
        }
        let folded = book.take(occupancy);
        drop(book);
        let route = channel.route(app);
        if let Some(interval) = folded {
            self.send_interval(route.clone(), channel, interval);
        }
        let frame = server::event(FrameKind::Presence, &event);
        let skip = Some(Arc::from(event.publisher.as_str()));
        self.broker().publish(Delivery { route, audience: Audience::Presence { change }, skip, frame });
    }

    fn send_interval(&self, route: Route, channel: &Presence, interval: IntervalDetail) {
        let event = PresenceEvent::interval(channel.channel_type(), channel.name(), interval);
        let frame = server::event(FrameKind::Presence, &event);
        self.broker().publish(Delivery { route, audience: Audience::Presence { change: None }, skip: None, frame });
    }

    /// Sends the INTERVAL event of every channel that folded changes (called every
    /// `presence.intervalSeconds`).
    pub fn flush_intervals(&self) {
        let apps: Vec<Arc<App>> = self.shared.apps.read().values().cloned().collect();
        for app in apps {
            let channels: Vec<Presence> = app
                .channels
                .read()
                .values()
                .cloned()
                .map(Presence::Message)
                .chain(app.streams.read().values().cloned().map(Presence::Stream))
                .collect();
            for channel in channels {
                let occupancy = channel.roster(|r| r.occupancy());
                let occupancy = self.occupancy_everywhere(&app, &channel, occupancy);
                let folded = channel.book().lock().take(occupancy);
                if let Some(interval) = folded {
                    self.send_interval(channel.route(&app), &channel, interval);
                }
            }
        }
    }

    /// Whether the session is a member of the channel.
    fn is_member(&self, session: &Session, channel_type: ChannelType, name: &str) -> bool {
        let state = session.state.lock();
        match channel_type {
            ChannelType::Message => state.channels.contains_key(name),
            ChannelType::Stream => state.streams.contains(name),
            ChannelType::User => false,
        }
    }

    /// `presence.setState`: merges states; others see REMOTE_STATE_CHANGED with the user's
    /// states now. Before joining, the states wait and apply on join.
    pub fn set_state(&self, session: &Arc<Session>, req: SetState) -> Result<Done> {
        names::channel(&req.channel)?;
        presence_channel_type(req.channel_type)?;
        check_states(&req.states)?;
        self.change_states(session, req.channel_type, &req.channel, |states, max| merge(states, &req.states, max))
    }

    /// `presence.removeState`: the given keys, or all states.
    pub fn remove_state(&self, session: &Arc<Session>, req: RemoveState) -> Result<Done> {
        names::channel(&req.channel)?;
        presence_channel_type(req.channel_type)?;
        self.change_states(session, req.channel_type, &req.channel, |states, _| {
            match req.keys.as_deref() {
                None | Some([]) => states.clear(),
                Some(keys) => states.retain(|k, _| !keys.contains(k)),
            }
            Ok(())
        })
    }

    fn change_states(
        &self,
        session: &Arc<Session>,
        channel_type: ChannelType,
        name: &str,
        change: impl FnOnce(&mut States, usize) -> Result<()>,
    ) -> Result<Done> {
        let max = self.config().limits.max_states_per_user;
        let app = self.session_app(session)?;
        let channel =
            self.presence_channel(&app, channel_type, name).filter(|_| self.is_member(session, channel_type, name));
        let Some(channel) = channel else {
            let mut state = session.state.lock();
            let key = (channel_type, Arc::from(name));
            let pending = state.rare().map(|r| &r.pending_states);
            if !pending.is_some_and(|p| p.contains_key(&key))
                && pending.map_or(0, |p| p.len()) >= MAX_PENDING_STATE_CHANNELS
            {
                return Err(Error::new(
                    ErrorCode::PresenceCachedTooManyStates,
                    format!("states are waiting for {MAX_PENDING_STATE_CHANNELS} channels not joined yet"),
                ));
            }
            let pending = &mut state.rare_or_new().pending_states;
            let states = pending.entry(key.clone()).or_default();
            let changed = change(states, max);
            if states.is_empty() {
                pending.remove(&key);
            }
            changed?;
            return Ok(Done { timestamp: now_ms() });
        };
        let changed = channel.roster(|roster| -> Result<Option<(States, bool, usize, u64)>> {
            let occupancy = roster.occupancy();
            let Some(member) = roster.get_mut(&session.user) else { return Ok(None) };
            let before = member.states.clone();
            change(&mut member.states, max)?;
            if member.states == before {
                return Ok(None);
            }
            let (states, quiet) = (member.states.clone(), member.quiet);
            Ok(Some((states, quiet, occupancy, roster.changed())))
        })?;
        if let Some((states, quiet, occupancy, version)) = changed {
            if !quiet {
                self.dir_member(&app.id, channel_type, name, session, Some(&states));
                let occupancy = self.occupancy_everywhere(&app, &channel, occupancy);
                let event =
                    PresenceEvent::about(PresenceEventType::RemoteStateChanged, channel_type, name, &session.user)
                        .with_states(&states);
                self.announce(&app, &channel, occupancy, event, Some(version));
            }
        }
        Ok(Done { timestamp: now_ms() })
    }

    /// `presence.getState`: a user's states in a channel (quiet users do not exist for others).
    pub fn get_state(&self, session: &Arc<Session>, req: GetState) -> Result<GetStateResponse> {
        names::channel(&req.channel)?;
        names::user_id(&req.user_id)?;
        presence_channel_type(req.channel_type)?;
        let app = self.session_app(session)?;
        let not_there = || {
            Error::new(
                ErrorCode::PresenceUserNotExist,
                format!(
                    "user {:?} is not present in {} channel {:?}",
                    req.user_id,
                    req.channel_type.as_str(),
                    req.channel
                ),
            )
        };
        let own = *session.user == *req.user_id;
        let states = match self.presence_channel(&app, req.channel_type, &req.channel) {
            Some(channel) => {
                channel.roster(|r| r.get(&req.user_id).filter(|m| own || !m.quiet).map(|m| m.states.clone()))
            }
            None => None,
        };
        let states = states.or_else(|| self.remote_states(&app.id, req.channel_type, &req.channel, &req.user_id));
        let states = match states {
            Some(states) => states,
            None if own => {
                let state = session.state.lock();
                let pending = state.rare().map(|r| &r.pending_states);
                pending
                    .and_then(|p| p.get(&(req.channel_type, Arc::from(req.channel.as_str()))))
                    .cloned()
                    .ok_or_else(not_there)?
            }
            None => return Err(not_there()),
        };
        Ok(GetStateResponse { timestamp: now_ms(), user_id: req.user_id, states_count: states.len(), states })
    }

    /// `presence.whoNow`: visible users, 50 per page, sorted by user id.
    pub fn who_now(&self, session: &Arc<Session>, req: WhoNow) -> Result<WhoNowResponse> {
        let app = self.session_app(session)?;
        self.who_now_in(&app, req)
    }

    /// `whoNow` in an app (a session's, or the backend API's).
    pub(super) fn who_now_in(&self, app: &App, req: WhoNow) -> Result<WhoNowResponse> {
        names::channel(&req.channel)?;
        presence_channel_type(req.channel_type)?;
        let after = req.page.as_deref().filter(|p| !p.is_empty()).map(read_bookmark).transpose()?;
        let users = match self.presence_channel(app, req.channel_type, &req.channel) {
            Some(channel) => channel.roster(|r| r.snapshot()),
            None => Vec::new(),
        };
        let users = self.merge_members(&app.id, req.channel_type, &req.channel, users, None);
        let total_occupancy = users.len();
        let start = match &after {
            Some(last) => users.partition_point(|u| u.user_id <= *last),
            None => 0,
        };
        let end = (start + WHO_NOW_PAGE).min(users.len());
        let next_page = if end < users.len() { bookmark(&users[end - 1].user_id) } else { String::new() };
        let occupants = if req.included_user_id {
            users[start..end]
                .iter()
                .map(|u| if req.included_state { u.clone() } else { UserState::new(&u.user_id, &States::new()) })
                .collect()
        } else {
            Vec::new()
        };
        Ok(WhoNowResponse { timestamp: now_ms(), total_occupancy, occupants, next_page })
    }

    /// `presence.whereNow`: the channels a user is visibly in.
    pub fn where_now(&self, session: &Arc<Session>, req: WhereNow) -> Result<WhereNowResponse> {
        let app = self.session_app(session)?;
        self.where_now_in(&app, req)
    }

    /// `whereNow` in an app (a session's, or the backend API's).
    pub(super) fn where_now_in(&self, app: &App, req: WhereNow) -> Result<WhereNowResponse> {
        names::user_id(&req.user_id)?;
        let mut channels = Vec::new();
        if let Some(target) = app.rtm_session(&req.user_id) {
            let (messages, streams): (Vec<Arc<str>>, Vec<Arc<str>>) = {
                let state = target.state.lock();
                (state.channels.keys().cloned().collect(), state.streams.iter().cloned().collect())
            };
            for (channel_type, names) in [(ChannelType::Message, messages), (ChannelType::Stream, streams)] {
                for name in names {
                    let visible = self
                        .presence_channel(app, channel_type, &name)
                        .is_some_and(|c| c.roster(|r| r.get(&req.user_id).is_some_and(|m| !m.quiet)));
                    if visible {
                        channels.push(ChannelDetail { channel_name: name.to_string(), channel_type });
                    }
                }
            }
        }
        for (channel_type, name) in self.remote_channels(&app.id, &req.user_id) {
            if !channels.iter().any(|c| c.channel_type == channel_type && c.channel_name == name) {
                channels.push(ChannelDetail { channel_name: name, channel_type });
            }
        }
        channels.sort_by(|a, b| {
            (a.channel_type.as_str(), &a.channel_name).cmp(&(b.channel_type.as_str(), &b.channel_name))
        });
        Ok(WhereNowResponse { timestamp: now_ms(), total_channel: channels.len(), channels })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: PresenceEventType, user: &str) -> PresenceEvent {
        PresenceEvent::about(kind, ChannelType::Message, "c", user)
    }

    #[test]
    fn an_interval_folds_changes_and_cancels_join_then_leave() {
        let mut book = IntervalBook::default();
        book.fold(&event(PresenceEventType::RemoteJoin, "a"));
        book.fold(&event(PresenceEventType::RemoteJoin, "b"));
        book.fold(&event(PresenceEventType::RemoteLeave, "b"));
        book.fold(&event(PresenceEventType::RemoteTimeout, "c"));
        book.fold(&event(PresenceEventType::RemoteLeave, "d"));
        let mut states = States::new();
        states.insert("typing".into(), "yes".into());
        book.fold(&event(PresenceEventType::RemoteStateChanged, "a").with_states(&states));
        let detail = book.take(60).unwrap();
        assert_eq!(detail.join, UserList::from(vec!["a".to_string()]));
        assert_eq!(detail.leave, UserList::from(vec!["d".to_string()]));
        assert_eq!(detail.timeout, UserList::from(vec!["c".to_string()]));
        assert_eq!(detail.user_state_list, vec![UserState::new("a", &states)]);
        assert_eq!(detail.total_occupancy, 60);
        assert!(book.take(60).is_none());
    }

    #[test]
    fn bookmarks_round_trip_and_garbage_is_refused() {
        assert_eq!(read_bookmark(&bookmark("user 42|x")).unwrap(), "user 42|x");
        assert_eq!(read_bookmark("zz").unwrap_err().code, ErrorCode::PresenceInvalidArgument);
        assert!(read_bookmark("abc").is_err());
    }

    #[test]
    fn states_are_bounded_with_their_codes() {
        let mut big = BTreeMap::new();
        big.insert("k".repeat(65), "v".into());
        assert_eq!(check_states(&big).unwrap_err().code, ErrorCode::PresenceStateKeySizeOverflow);
        let mut big = BTreeMap::new();
        big.insert("k".into(), "v".repeat(8193));
        assert_eq!(check_states(&big).unwrap_err().code, ErrorCode::PresenceStateValueSizeOverflow);
        let mut empty = BTreeMap::new();
        empty.insert(String::new(), "v".into());
        assert_eq!(check_states(&empty).unwrap_err().code, ErrorCode::PresenceInvalidStateKey);
        let mut states = States::new();
        let three: BTreeMap<String, String> = (0..3).map(|i| (i.to_string(), "v".into())).collect();
        assert_eq!(merge(&mut states, &three, 2).unwrap_err().code, ErrorCode::PresenceStateCountOverflow);
        merge(&mut states, &three, 3).unwrap();
        merge(&mut states, &three, 3).unwrap(); // same keys again: no growth
    }
}
