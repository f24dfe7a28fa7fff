//! The soak test's event sink: every event of a client life is checked as it arrives, in order.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use piazza_engine::client::{Client, ClientEvent, EventSink, LinkReason, LinkState, Payload, Route};
use piazza_engine::protocol::{ClientFrame, ExitReason, LeaveReason, PresenceEventType, RoomEvent};
use serde_json::Value;
use tokio::sync::oneshot;

use super::{Departure, Shared};

/// What the sink does, in event order, when an answer arrives.
pub enum Effect {
    None,
    Unsubscribed(String),
    Entered(String),
    Exited,
}

#[derive(Default)]
pub struct PeerState {
    /// scope → the users this client believes are there (from SNAPSHOT / enter answer and events).
    pub views: HashMap<String, HashSet<String>>,
    /// channel → stream → last seq received.
    pub streams: HashMap<String, HashMap<String, u64>>,
    /// (publisher, channel) → last state counter seen.
    pub states: HashMap<(String, String), u64>,
    /// channel → presence events (user, joined) that came before its SNAPSHOT.
    pub early: HashMap<String, Vec<(String, bool)>>,
    /// channel → the users its last SNAPSHOT listed.
    pub snapshots: HashMap<String, HashSet<String>>,
    pub in_room: Option<String>,
    pub expect_exit: bool,
    pub pending: HashMap<u64, (Effect, oneshot::Sender<Result<Value, String>>)>,
}

/// One client life's event sink: checks every event as it arrives, in order.
pub struct Peer {
    pub user: String,
    pub shared: Arc<Shared>,
    pub state: Mutex<PeerState>,
    pub next_tag: AtomicU64,
}

impl Peer {
    pub fn new(user: &str, shared: &Arc<Shared>) -> Arc<Peer> {
        Arc::new(Peer { user: user.into(), shared: shared.clone(), state: Default::default(), next_tag: 1.into() })
    }

    /// Sends a request frame; its answer comes back through the sink, in order with events.
    pub async fn ask(&self, client: &Client, mut frame: Value, effect: Effect) -> Result<Value, String> {
        frame["id"] = 0.into();
        let frame: ClientFrame = serde_json::from_value(frame).map_err(|e| e.to_string())?;
        let tag = self.next_tag.fetch_add(1, Relaxed);
        let (tx, rx) = oneshot::channel();
        self.state.lock().unwrap().pending.insert(tag, (effect, tx));
        if let Err(e) = client.request(Route::Tag(tag), frame, None) {
            self.state.lock().unwrap().pending.remove(&tag);
            return Err(e.to_string());
        }
        let answer = rx.await.unwrap_or_else(|_| Err("dropped".into()));
        if answer.is_err() {
            self.shared.counters.request_failed.fetch_add(1, Relaxed);
        }
        answer
    }

    fn on_message(&self, st: &mut PeerState, text: &str) {
        let c = &self.shared.counters;
        // "<publisher>/<life>/<channel>/<k>|<seq>"
        let Some((stream, seq)) = text.split_once('|') else { return };
        let (Some(channel), Ok(seq)) = (stream.split('/').nth(2), seq.parse::<u64>()) else { return };
        let Some(streams) = st.streams.get_mut(channel) else {
            c.received_unsubscribed.fetch_add(1, Relaxed);
            return;
        };
        c.received.fetch_add(1, Relaxed);
        match streams.get_mut(stream) {
            None => {
                streams.insert(stream.to_string(), seq);
            }
            Some(last) => {
                if seq == *last + 1 {
                    *last = seq;
                } else if seq <= *last {
                    self.shared.violation(
                        "message_repeated_or_reordered",
                        format!("{} got {stream} #{seq} after #{last}", self.user),
                    );
                } else {
                    self.shared.violation("message_lost", format!("{} got {stream} #{seq} after #{last}", self.user));
                    *last = seq;
                }
            }
        }
    }

    fn on_presence(&self, st: &mut PeerState, event: piazza_engine::protocol::PresenceEvent) {
        let channel = event.channel_name;
        let publisher = event.publisher;
        let sh = &self.shared;
        match event.event_type {
            PresenceEventType::Snapshot => {
                let users = event.snapshot.unwrap_or_default().into_iter().map(|u| u.user_id);
                let view: HashSet<String> = users.filter(|u| *u != self.user).collect();
                // Events that came before the SNAPSHOT must be in it: the last one per user
                // says whether that user is there.
                let mut last = HashMap::new();
                for (user, joined) in st.early.remove(&channel).unwrap_or_default() {
                    last.insert(user, joined);
                }
                for (user, joined) in last {
                    if joined != view.contains(&user) {
                        let what = if joined { "REMOTE_JOIN" } else { "a leave" };
                        let detail = format!(
                            "{} got {what} of {user} in {channel} before a SNAPSHOT that says otherwise",
                            self.user
                        );
                        sh.violation("event_before_snapshot", detail);
                    }
                }
                st.snapshots.insert(channel.clone(), view.clone());
                st.views.insert(channel, view);
            }
            PresenceEventType::Interval => sh.violation("interval_event", format!("{} in {channel}", self.user)),
            _ if publisher == self.user => {}
            PresenceEventType::RemoteJoin => {
                let Some(view) = st.views.get_mut(&channel) else {
                    st.early.entry(channel).or_default().push((publisher, true));
                    return;
                };
                if !view.insert(publisher.clone()) {
                    let listed = st.snapshots.get(&channel).is_some_and(|s| s.contains(&publisher));
                    let origin = if listed { "its SNAPSHOT listed it" } else { "after an earlier REMOTE_JOIN" };
                    sh.violation(
                        "join_twice",
                        format!("{} saw {publisher} join {channel} again ({origin})", self.user),
                    );
                }
            }
            PresenceEventType::RemoteLeave | PresenceEventType::RemoteTimeout => {
                let timeout = event.event_type == PresenceEventType::RemoteTimeout;
                let counter = if timeout { &sh.counters.remote_timeout } else { &sh.counters.remote_leave };
                counter.fetch_add(1, Relaxed);
                let Some(view) = st.views.get_mut(&channel) else {
                    st.early.entry(channel).or_default().push((publisher, false));
                    return;
                };
                let what = if timeout { "REMOTE_TIMEOUT" } else { "REMOTE_LEAVE" };
                if !view.remove(&publisher) {
                    sh.violation(
                        "leave_twice_or_unjoined",
                        format!("{} saw {what} of {publisher} in {channel}", self.user),
                    );
                }
                let want = if timeout { Departure::Timeout } else { Departure::Leave };
                let how = sh.departure(&publisher, &channel);
                if how != Some(want) {
                    sh.violation(
                        "leave_wrong_type",
                        format!("{} saw {what} of {publisher} in {channel}; it left by {how:?}", self.user),
                    );
                }
            }
            PresenceEventType::RemoteStateChanged => {
                let Some(n) = event.state_changed.get("n").and_then(|n| n.parse::<u64>().ok()) else { return };
                let last = st.states.entry((publisher.clone(), channel.clone())).or_default();
                if n <= *last {
                    sh.violation("state_reordered", format!("{} saw {publisher} state {n} after {last}", self.user));
                }
                *last = n;
            }
            PresenceEventType::ErrorOutOfService => sh.violation("out_of_service", channel),
        }
    }

    fn on_room(&self, st: &mut PeerState, event: RoomEvent<'static>) {
        let sh = &self.shared;
        match event {
            RoomEvent::RemoteEnter { user_id } => {
                let Some(view) = st.in_room.as_ref().and_then(|r| st.views.get_mut(r)) else { return };
                if !view.insert(user_id.to_string()) {
                    sh.violation("room_enter_twice", format!("{} saw {user_id} enter twice", self.user));
                }
            }
            RoomEvent::RemoteLeave { user_id, reason } => {
                let (counter, want) = match reason {
                    LeaveReason::Left => (&sh.counters.room_leave_left, Some(Departure::Leave)),
                    LeaveReason::TimedOut => (&sh.counters.room_leave_timed_out, Some(Departure::Timeout)),
                    LeaveReason::Removed => (&sh.counters.room_leave_removed, Some(Departure::Removed)),
                    LeaveReason::BecameAudience => (&sh.counters.room_leave_audience, None),
                };
                counter.fetch_add(1, Relaxed);
                let Some(room) = st.in_room.clone() else { return };
                let Some(view) = st.views.get_mut(&room) else { return };
                if !view.remove(user_id.as_ref()) {
                    sh.violation("room_leave_twice_or_unjoined", format!("{} saw {user_id} leave {room}", self.user));
                }
                let how = sh.departure(&user_id, &room);
                if how != want || want.is_none() {
                    sh.violation(
                        "room_leave_wrong_reason",
                        format!("{} saw {user_id} leave {room} with {reason:?}; it left by {how:?}", self.user),
                    );
                }
            }
            RoomEvent::Exit { reason, .. } => {
                if st.expect_exit && reason == ExitReason::Removed {
                    st.expect_exit = false;
                } else {
                    sh.violation("unexpected_exit", format!("{} exited with {reason:?}", self.user));
                }
                if let Some(room) = st.in_room.take() {
                    st.views.remove(&room);
                }
            }
        }
    }
}

impl EventSink for Peer {
    fn emit(&self, event: ClientEvent) {
        let mut st = self.state.lock().unwrap();
        match event {
            ClientEvent::Response { tag, result } => {
                let Some((effect, tx)) = st.pending.remove(&tag) else { return };
                let result = result.map(|raw| serde_json::from_str(raw.get()).unwrap_or(Value::Null));
                if let Ok(answer) = &result {
                    match effect {
                        Effect::None => {}
                        Effect::Unsubscribed(channel) => {
                            st.early.remove(&channel);
                            st.snapshots.remove(&channel);
                            st.views.remove(&channel);
                            st.streams.remove(&channel);
                        }
                        Effect::Entered(room) => {
                            let members = answer["members"].as_array().cloned().unwrap_or_default();
                            let members = members.iter().filter_map(|m| m.as_str().map(String::from));
                            st.views.insert(room.clone(), members.collect());
                            st.in_room = Some(room);
                        }
                        Effect::Exited => {
                            if let Some(room) = st.in_room.take() {
                                st.views.remove(&room);
                            }
                        }
                    }
                }
                let _ = tx.send(result.map_err(|e| e.to_string()));
            }
            ClientEvent::Message { payload: Payload::Text(text), .. } => self.on_message(&mut st, &text),
            ClientEvent::Message { .. } => {}
            ClientEvent::Room(event) => self.on_room(&mut st, event),
            ClientEvent::LinkState(link) if link.current_state == LinkState::Connected => {
                if link.is_resumed {
                    self.shared.counters.resumes.fetch_add(1, Relaxed);
                } else if link.reason_code != LinkReason::LoginSuccess {
                    // A reconnect that could not resume: a new session restored from memory;
                    // what happened meanwhile is not on a resumable path.
                    self.shared.counters.unresumed.fetch_add(1, Relaxed);
                    self.shared.violation("unresumed_reconnect", self.user.clone());
                    st.views.clear();
                    st.streams.values_mut().for_each(HashMap::clear);
                }
            }
            event => {
                if let Some(Ok(presence)) = event.presence() {
                    self.on_presence(&mut st, presence);
                }
            }
        }
    }
}
