//! The hub in cluster mode: what it publishes to the directory, how it merges the other
//! nodes' members into presence answers, and what it does with controls, outages and dead
//! nodes (see `crate::cluster`). Every function here is a no-op for a node without a cluster.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::presence::{PresenceEvent, PresenceEventType};
use super::roster::{Member, States, UserState};
use super::{App, EndReason, Hub, Session, Shared};
use crate::broker::{Audience, Delivery, Route};
use crate::cluster::{Cluster, ClusterEvents, Control, Entry};
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::{server, ChannelType, ClientFrame, FrameKind, RoomId, Scene, SessionKind};
use crate::time::now_ms;

/// The hub's side of a cluster: holds the shared state weakly (the cluster outlives nothing).
pub(super) struct HubEvents(pub(super) Weak<Shared>);

/// A session's online entry.
fn online_entry(session: &Session) -> Entry {
    let (app, user) = (session.app.to_string(), session.user.to_string());
    Entry::Online { app, kind: session.kind, user, session: session.id, timeout: session.presence_timeout_secs }
}

/// A visible channel member's entry.
fn member_entry(app: &str, ct: ChannelType, channel: &str, session: &Session, states: &States) -> Entry {
    let (app, channel, user) = (app.to_string(), channel.to_string(), session.user.to_string());
    Entry::Member { app, ct, channel, user, states: states.clone(), timeout: session.presence_timeout_secs }
}

impl Hub {
    pub(super) fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.shared.cluster.as_ref()
    }

    /// The node's id in its cluster, if it is in one.
    pub fn cluster_node(&self) -> Option<String> {
        self.cluster().map(|c| c.node().to_string())
    }

    /// Whether this node can reach its cluster's Redis now (`None`: not in a cluster).
    pub fn cluster_up(&self) -> Option<bool> {
        self.cluster().map(|c| c.is_up())
    }

    /// Leaves the cluster (after the sessions ended, at shutdown).
    pub fn leave_cluster(&self) {
        if let Some(cluster) = self.cluster() {
            cluster.close();
        }
    }

    /// While the cluster bus is unreachable, requests whose effect must reach other nodes are
    /// refused with a code that says so; leaving and local-only requests still work.
    pub(super) fn check_cluster(&self, frame: &ClientFrame) -> Result<()> {
        let Some(cluster) = self.cluster() else { return Ok(()) };
        if cluster.is_up() {
            return Ok(());
        }
        let code = match frame {
            ClientFrame::Unsubscribe(_)
            | ClientFrame::Leave(_)
            | ClientFrame::LeaveTopic(_)
            | ClientFrame::UnsubscribeTopic(_)
            | ClientFrame::RealtimeLeave(_)
            | ClientFrame::ExitRoom(_)
            | ClientFrame::RenewToken(_)
            | ClientFrame::Logout(_)
            | ClientFrame::Hello(_)
            | ClientFrame::Ping(_) => return Ok(()),
            ClientFrame::WhoNow(_)
            | ClientFrame::WhereNow(_)
            | ClientFrame::SetState(_)
            | ClientFrame::GetState(_)
            | ClientFrame::RemoveState(_) => ErrorCode::PresenceNotConnected,
            ClientFrame::EnterRoom(_)
            | ClientFrame::SwitchRoom(_)
            | ClientFrame::SwitchRole(_)
            | ClientFrame::CustomCmd(_) => ErrorCode::TrtcRoomEnterFail,
            ClientFrame::SetLock(_)
            | ClientFrame::AcquireLock(_)
            | ClientFrame::ReleaseLock(_)
            | ClientFrame::RemoveLock(_)
            | ClientFrame::RevokeLock(_)
            | ClientFrame::GetLock(_) => ErrorCode::LockNotAvailable,
            ClientFrame::GetMessages(_) => ErrorCode::HistoryNotAvailable,
            f if super::storage::is_storage(f) => ErrorCode::StorageNotAvailable,
            _ => ErrorCode::ChannelNotAvailable,
        };
        Err(Error::new(
            code,
            format!("{} is unavailable: this node cannot reach the cluster's Redis; try again shortly", frame.op()),
        ))
    }

    /// Publishes a session's online entry (`true`) or withdraws it.
    pub(super) fn dir_online(&self, session: &Session, online: bool) {
        let Some(cluster) = self.cluster() else { return };
        cluster.set(online_entry(session), online);
    }

    /// This node's online sessions and visible channel members, read from the hub's own state:
    /// what the cluster stores again after its bus comes back. The hub is their only record on
    /// this node (a copy in the cluster cost about 0.4 KB per connection).
    fn own_entries(&self) -> Vec<Entry> {
        let apps: Vec<Arc<App>> = self.shared.apps.read().values().cloned().collect();
        let mut entries = Vec::new();
        for app in apps {
            let sessions: Vec<Arc<Session>> = app.sessions.lock().values().cloned().collect();
            entries.extend(sessions.iter().map(|session| online_entry(session)));
            let visible = |ct, channel: &str, member: &Member| {
                let states = (!member.quiet).then_some(&member.states)?;
                Some(member_entry(&app.id, ct, channel, &member.session, states))
            };
            let channels: Vec<_> = app.channels.read().values().cloned().collect();
            for channel in channels {
                let roster = channel.roster.read();
                entries.extend(roster.iter().filter_map(|m| visible(ChannelType::Message, &channel.name, m)));
            }
            let streams: Vec<_> = app.streams.read().values().cloned().collect();
            for stream in streams {
                let state = stream.state.lock();
                entries.extend(state.roster.iter().filter_map(|m| visible(ChannelType::Stream, &stream.name, m)));
            }
        }
        entries
    }

    /// Ends `user`'s RTM sessions on other nodes (SAME_UID_LOGIN across the cluster). The
    /// channels it was visible in there are remembered: joining them here is a move, not news.
    pub(super) fn replace_elsewhere(&self, session: &Session) {
        let Some(cluster) = self.cluster() else { return };
        let (app, kind, user) = (&*session.app, session.kind, &*session.user);
        if kind != SessionKind::Rtm {
            return;
        }
        let channels = cluster.mirror(|m| m.user_channels(app, user));
        if !channels.is_empty() {
            let mut state = session.state.lock();
            state.rare_or_new().arriving.extend(channels.into_iter().map(|(ct, c)| (ct, Arc::from(c.as_str()))));
        }
        for node in cluster.mirror(|m| m.online(app, kind, user)) {
            let route = Route::User { app: Arc::from(app), user: Arc::from(user) };
            cluster.control(&route, Control::Replace { app: app.to_string(), user: user.to_string(), node });
        }
    }

    /// Publishes a visible channel member with its states (`Some`), or withdraws it.
    pub(super) fn dir_member(
        &self,
        app: &str,
        ct: ChannelType,
        channel: &str,
        session: &Session,
        states: Option<&States>,
    ) {
        let Some(cluster) = self.cluster() else { return };
        let entry = member_entry(app, ct, channel, session, states.unwrap_or(&States::new()));
        cluster.set(entry, states.is_some());
    }

    /// Whether another node holds `user` in the channel (then a join here is a move, not news,
    /// and a leave here is not news either).
    pub(super) fn member_elsewhere(&self, app: &str, ct: ChannelType, channel: &str, user: &str) -> bool {
        self.cluster().is_some_and(|c| c.mirror(|m| m.member_node(app, ct, channel, user).is_some()))
    }

    /// Whether a join of `session` is its user moving here from another node (see
    /// [`Hub::replace_elsewhere`]), or the user is still visible elsewhere.
    pub(super) fn arriving(&self, app: &str, ct: ChannelType, channel: &str, session: &Session) -> bool {
        let remembered = session.state.lock().rare_mut().is_some_and(|r| r.arriving.remove(&(ct, Arc::from(channel))));
        remembered || self.member_elsewhere(app, ct, channel, &session.user)
    }

    /// Adds the other nodes' visible members to a local list sorted by user id (local entries
    /// win); with `limit`, only the first `limit` users of the result (`local` must then hold
    /// the first `limit` local ones), so a SNAPSHOT of a crowded channel does not copy it.
    pub(super) fn merge_members(
        &self,
        app: &str,
        ct: ChannelType,
        channel: &str,
        local: Vec<UserState>,
        limit: Option<usize>,
    ) -> Vec<UserState> {
        let Some(cluster) = self.cluster() else { return local };
        let remote = cluster.mirror(|m| match limit {
            Some(limit) => m.first_members(app, ct, channel, limit),
            None => m.members(app, ct, channel).into_iter().collect(),
        });
        if remote.is_empty() {
            return local;
        }
        let mut all: BTreeMap<String, UserState> =
            remote.iter().map(|(u, s)| (u.clone(), UserState::new(u, s))).collect();
        for user in local {
            all.insert(user.user_id.clone(), user);
        }
        all.into_values().take(limit.unwrap_or(usize::MAX)).collect()
    }

    /// Visible members of a channel across the cluster, given the local count and users.
    pub(super) fn cluster_occupancy(
        &self,
        app: &str,
        ct: ChannelType,
        channel: &str,
        local: usize,
        is_local: impl Fn(&str) -> bool,
    ) -> usize {
        let Some(cluster) = self.cluster() else { return local };
        // `is_local` may take a roster's lock: not while the mirror's is held (a roster's lock
        // is taken before the mirror's in `presence_snapshot`). A user on two nodes at once —
        // moving, while its old node's entry remains — counts once; in a channel with more than
        // EXACT_OCCUPANCY members elsewhere it may count twice for that moment: every join and
        // leave asks, and going through every member each time made a storm of joins quadratic.
        const EXACT_OCCUPANCY: usize = 1024;
        let remote = cluster.mirror(|m| {
            let count = m.member_count(app, ct, channel);
            if count > EXACT_OCCUPANCY {
                return Err(count);
            }
            Ok(m.first_members(app, ct, channel, count).into_iter().map(|(user, _)| user).collect::<Vec<_>>())
        });
        match remote {
            Ok(users) => local + users.iter().filter(|u| !is_local(u)).count(),
            Err(count) => local + count,
        }
    }

    /// A user's states in a channel on another node.
    pub(super) fn remote_states(&self, app: &str, ct: ChannelType, channel: &str, user: &str) -> Option<States> {
        self.cluster()?.mirror(|m| m.member_states(app, ct, channel, user))
    }

    /// Channels where `user` is visible on other nodes.
    pub(super) fn remote_channels(&self, app: &str, user: &str) -> Vec<(ChannelType, String)> {
        self.cluster().map(|c| c.mirror(|m| m.user_channels(app, user))).unwrap_or_default()
    }

    /// Whether `user` has an RTM session on another node.
    pub(super) fn online_elsewhere(&self, app: &str, user: &str) -> bool {
        self.cluster().is_some_and(|c| c.mirror(|m| !m.online(app, SessionKind::Rtm, user).is_empty()))
    }

    /// Publishes a topic publisher (`Some(meta)`), or withdraws it.
    pub(super) fn dir_publisher(&self, app: &str, channel: &str, topic: &str, session: &Session, meta: Option<&str>) {
        let Some(cluster) = self.cluster() else { return };
        let entry = Entry::Publisher {
            app: app.to_string(),
            channel: channel.to_string(),
            topic: topic.to_string(),
            user: session.user.to_string(),
            meta: meta.unwrap_or_default().to_string(),
            timeout: session.presence_timeout_secs,
        };
        cluster.set(entry, meta.is_some());
    }

    /// Publishers of a topic on other nodes: user → meta.
    pub(super) fn remote_publishers(&self, app: &str, channel: &str, topic: &str) -> BTreeMap<String, String> {
        self.cluster().map(|c| c.mirror(|m| m.publishers(app, channel, topic))).unwrap_or_default()
    }

    /// Topics of a stream channel with publishers on other nodes.
    pub(super) fn remote_topics(&self, app: &str, channel: &str) -> BTreeMap<String, BTreeMap<String, String>> {
        self.cluster().map(|c| c.mirror(|m| m.topics(app, channel))).unwrap_or_default()
    }

    /// Publishes a room member (`Some(announced)`), or withdraws it.
    pub(super) fn dir_room(&self, app: &str, room: &RoomId, session: &Session, scene: Scene, announced: Option<bool>) {
        let Some(cluster) = self.cluster() else { return };
        let entry = Entry::RoomMember {
            app: app.to_string(),
            room: room.clone(),
            user: session.user.to_string(),
            announced: announced.unwrap_or(false),
            scene,
            timeout: session.presence_timeout_secs,
        };
        cluster.set(entry, announced.is_some());
    }

    /// Members of a room on other nodes: user → (node, announced).
    pub(super) fn remote_room_members(&self, app: &str, room: &RoomId) -> BTreeMap<String, (String, bool)> {
        self.cluster().map(|c| c.mirror(|m| m.room_members(app, room))).unwrap_or_default()
    }

    /// Until when `user` is banned from a room by another node's `removeUser`.
    pub(super) fn remote_ban(&self, app: &str, room: &RoomId, user: &str) -> Option<u64> {
        self.cluster()?.mirror(|m| m.ban(app, room, user)).filter(|until| *until > now_ms())
    }

    /// Records a room ban for the whole cluster.
    pub(super) fn dir_ban(&self, app: &str, room: &RoomId, user: &str, until_ms: u64) {
        if let Some(cluster) = self.cluster() {
            cluster.put(Entry::Ban { app: app.to_string(), room: room.clone(), user: user.to_string(), until_ms });
        }
    }

    /// Sends a room control to the nodes holding the room's members.
    pub(super) fn room_control(&self, app: &str, room: &RoomId, control: Control) {
        if let Some(cluster) = self.cluster() {
            cluster.control(&Route::Room { app: Arc::from(app), room: room.clone() }, control);
        }
    }

    /// A control from another node (or from this one, for the members here).
    fn apply_control(&self, control: &Control) {
        let me = self.cluster().map(|c| c.node().to_string()).unwrap_or_default();
        match control {
            Control::Replace { app, user, node } if *node == me => {
                if let Some(session) = self.app(app).and_then(|a| a.rtm_session(user)) {
                    tracing::info!(%app, %user, "the same user id logged in on another node; ending the session here");
                    self.end_session(&session, EndReason::Moved);
                }
            }
            Control::RoomReplace { app, room, user, node } if *node == me => {
                if let Some(app) = self.app(app) {
                    self.replace_room_member_here(&app, room, user);
                }
            }
            Control::RoomRemove { app, room, users, caller } => {
                if let Some(app) = self.app(app) {
                    self.remove_room_members_here(&app, room, users, caller);
                }
            }
            Control::RoomDismiss { app, room, caller } => {
                if let Some(app) = self.app(app) {
                    self.dismiss_room_here(&app, room, caller);
                }
            }
            _ => {}
        }
    }

    /// The bus is gone: presence listeners here hear ERROR_OUT_OF_SERVICE for each channel.
    fn out_of_service(&self) {
        let apps: Vec<Arc<App>> = self.shared.apps.read().values().cloned().collect();
        for app in apps {
            let message: Vec<Arc<str>> = app.channels.read().keys().cloned().collect();
            let streams: Vec<Arc<str>> = app.streams.read().keys().cloned().collect();
            for (ct, names) in [(ChannelType::Message, message), (ChannelType::Stream, streams)] {
                for name in names {
                    let event = PresenceEvent::about(PresenceEventType::ErrorOutOfService, ct, &name, "");
                    let route = match ct {
                        ChannelType::Stream => Route::Stream { app: app.id.clone(), channel: name.clone() },
                        _ => Route::Channel { app: app.id.clone(), channel: name.clone() },
                    };
                    // Only this node's members: the bus is down anyway.
                    super::HubRef(&self.shared).deliver(&Delivery {
                        route,
                        audience: Audience::Presence { change: None },
                        skip: None,
                        frame: server::event(FrameKind::Presence, &event),
                    });
                }
            }
        }
    }

    /// Announces a dead node's users that did not come back, once their presence timeout has
    /// passed, then clears its entries. Runs on the node that claimed it.
    fn reap(&self, node: String, entries: Vec<Entry>) {
        if self.cluster().is_none() {
            return;
        }
        let detected = cluster_node_timeout(self);
        let Some(deaths) = self.cluster().map(|c| c.deaths(&node)) else { return };
        self.spawn_timer(move |weak| async move {
            // Group by timeout: each group is announced when its timeout has passed since the
            // node went silent (it was detected one node timeout late).
            let mut by_timeout: BTreeMap<u32, Vec<&Entry>> = BTreeMap::new();
            for entry in &entries {
                by_timeout.entry(entry.timeout()).or_default().push(entry);
            }
            let started = tokio::time::Instant::now();
            for (timeout, group) in by_timeout {
                let wait = Duration::from_secs(timeout as u64).saturating_sub(detected);
                tokio::time::sleep_until(started + wait).await;
                let Some(hub) = weak.upgrade() else { return };
                let Some(cluster) = hub.cluster() else { return };
                if !cluster.reap_goes_on(&node, deaths) {
                    // Back (it was only late: a busy machine, a slow Redis), or dead again and
                    // reaped anew.
                    tracing::warn!(node = %node, "a node taken for dead heartbeats again or died again; this reap stops");
                    return;
                }
                for entry in group {
                    hub.announce_gone(cluster, &node, entry);
                }
            }
            let Some(hub) = weak.upgrade() else { return };
            let Some(cluster) = hub.cluster() else { return };
            if !cluster.reap_goes_on(&node, deaths) {
                return;
            }
            cluster.clear_node(&node, &entries);
            tracing::info!(dead = %node, entries = entries.len(), "dead node's users timed out");
        });
    }

    /// Tells everyone that a dead node's user is gone, unless it came back somewhere.
    fn announce_gone(&self, cluster: &Cluster, dead: &str, entry: &Entry) {
        match entry {
            Entry::Member { app, ct, channel, user, .. } => {
                let moved = cluster.mirror(|m| m.member_held_elsewhere(app, *ct, channel, user, dead));
                let here = self.is_local_member(app, *ct, channel, user);
                if moved || here {
                    return;
                }
                self.hook_presence(app, *ct, channel, user, PresenceEventType::RemoteTimeout);
                let event = PresenceEvent::about(PresenceEventType::RemoteTimeout, *ct, channel, user);
                let route = match ct {
                    ChannelType::Stream => Route::Stream { app: app.as_str().into(), channel: channel.as_str().into() },
                    _ => Route::Channel { app: app.as_str().into(), channel: channel.as_str().into() },
                };
                self.broker().publish(Delivery {
                    route,
                    audience: Audience::Presence { change: None },
                    skip: Some(user.as_str().into()),
                    frame: server::event(FrameKind::Presence, &event),
                });
            }
            Entry::RoomMember { app, room, user, announced, .. } => {
                let moved = cluster.mirror(|m| m.room_members(app, room).get(user).is_some_and(|(n, _)| n != dead));
                let here = self.app(app).and_then(|a| Hub::room(&a, room)).is_some_and(|r| r.has(user));
                if moved || here {
                    return;
                }
                self.hook_room_exit(app, user, room, "timedOut");
                if *announced {
                    self.announce_room_timeout(app, room, user);
                }
            }
            Entry::Online { app, kind, user, .. } => {
                let elsewhere = cluster.mirror(|m| m.online(app, *kind, user).iter().any(|n| n != dead));
                let here =
                    self.app(app).is_some_and(|a| a.sessions.lock().keys().any(|k| k.0 == *kind && *k.1 == **user));
                if !elsewhere && !here {
                    self.hook_node_lost(app, user, *kind);
                }
            }
            Entry::Publisher { app, channel, topic, user, meta, .. } => {
                if self.is_local_member(app, ChannelType::Stream, channel, user) {
                    return;
                }
                self.announce_publisher_gone(app, channel, topic, user, meta);
            }
            _ => {}
        }
    }

    fn is_local_member(&self, app: &str, ct: ChannelType, channel: &str, user: &str) -> bool {
        let Some(app) = self.app(app) else { return false };
        self.presence_channel(&app, ct, channel).is_some_and(|c| c.roster(|r| r.get(user).is_some()))
    }
}

fn cluster_node_timeout(hub: &Hub) -> Duration {
    Duration::from_millis(hub.config().cluster.node_timeout_ms)
}

impl ClusterEvents for HubEvents {
    fn control(&self, control: &Control) {
        if let Some(shared) = self.0.upgrade() {
            Hub { shared }.apply_control(control);
        }
    }

    fn link(&self, up: bool) {
        if let Some(shared) = self.0.upgrade() {
            if !up {
                Hub { shared }.out_of_service();
            }
        }
    }

    fn reap(&self, node: &str, entries: Vec<Entry>) {
        if let Some(shared) = self.0.upgrade() {
            Hub { shared }.reap(node.to_string(), entries);
        }
    }

    fn entries(&self) -> Vec<Entry> {
        self.0.upgrade().map(|shared| Hub { shared }.own_entries()).unwrap_or_default()
    }
}
