//! Cluster mode: several server nodes share channels, presence and rooms through a bus (Redis
//! in production, [`bus::MemoryNet`] in tests).
//!
//! - **Fan-out** ([`Cluster`] is the hub's [`Broker`]): a frame published on a node is pushed
//!   to that node's members at once and sent on the route's topic; every other node that has
//!   members for the route subscribed to the topic and delivers it to its own members. A node
//!   skips its own messages, so each member gets a frame exactly once. What is addressed to a
//!   user goes instead to the topics of the nodes where the directory has it online (each node
//!   subscribes its own, [`node_topic`]): a session costs no subscription. With recovery on, a
//!   message-channel message goes through the channel's recovery log instead ([`Bus::log`]):
//!   every node, its own included, delivers it as it comes back, with its offset
//!   (`hub::recovery`).
//! - **Directory** ([`directory`]): each node publishes entries about its sessions (online
//!   users, visible channel members and their states, room members, topic publishers, room
//!   bans) — stored under the node's key in the bus, and announced on the directory topic — and
//!   mirrors the other nodes' entries. Presence queries and snapshots read the mirror.
//! - **Controls**: what one node asks of the node holding a session (end it: the same user
//!   logged in elsewhere; remove room members; dismiss a room) travels as a delivery would.
//! - **Failures**: a node that stops heartbeating is declared dead; one survivor (the
//!   claimer) announces its users as timed out once their presence timeout has passed, unless
//!   they came back on another node, and clears its entries. When the bus is unreachable the
//!   hub refuses what needs it and tells presence listeners ERROR_OUT_OF_SERVICE; when it comes
//!   back, the node stores its entries again and reloads everyone else's.

pub mod bus;
pub mod directory;
mod heartbeat;
mod name;
pub mod redis;
mod sorted;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use bytes::{BufMut, Bytes, BytesMut};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tokio_tungstenite::tungstenite::Message;

use self::bus::{Bus, BusSink, DIRECTORY_TOPIC};
pub use self::bus::{LogKeep, LogRead};
pub use self::directory::{Entry, Mirror};
use crate::broker::{Audience, Broker, Delivery, DeliveryHandler, Route};
use crate::protocol::{RoomId, SessionKind};

/// What a node asks of the node that holds a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "camelCase")]
pub enum Control {
    /// End `user`'s RTM session on `node`: the same user id logged in on another node.
    #[serde(rename_all = "camelCase")]
    Replace { app: String, user: String, node: String },
    /// Take `user` out of `room` silently on `node`: the same user id entered it elsewhere.
    #[serde(rename_all = "camelCase")]
    RoomReplace { app: String, room: RoomId, user: String, node: String },
    /// Remove these members of a room (admin `removeUser`).
    #[serde(rename_all = "camelCase")]
    RoomRemove { app: String, room: RoomId, users: Vec<String>, caller: String },
    /// Dismiss a room (admin `dismissRoom`).
    #[serde(rename_all = "camelCase")]
    RoomDismiss { app: String, room: RoomId, caller: String },
}

/// What the hub does with what arrives from the cluster (besides deliveries).
pub trait ClusterEvents: Send + Sync {
    /// A control addressed to the members of a route on this node.
    fn control(&self, control: &Control);
    /// The bus became unreachable (`false`) or reachable again (`true`).
    fn link(&self, up: bool);
    /// A dead node's entries: this node is its claimer and must announce the users that did
    /// not come back.
    fn reap(&self, node: &str, entries: Vec<Entry>);
    /// This node's online and channel-member entries as they are now (see
    /// [`Entry::is_common`]), to store again after the bus comes back.
    fn entries(&self) -> Vec<Entry>;
}

/// The pub/sub topic of a route. Parts are length-prefixed, so no name can forge another's.
pub fn route_topic(route: &Route) -> String {
    fn part(s: &str) -> String {
        format!("{}:{s}", s.len())
    }
    match route {
        Route::Channel { app, channel } => format!("c/{}/{}", part(app), part(channel)),
        Route::Stream { app, channel } => format!("s/{}/{}", part(app), part(channel)),
        Route::User { app, user } => format!("u/{}/{}", part(app), part(user)),
        Route::Room { app, room } => format!("r/{}/{}", part(app), part(&directory::room_key(room))),
        Route::Realtime { app, scope } => format!("t/{}/{}", part(app), part(scope)),
        Route::UserMeta { app, user } => format!("m/{}/{}", part(app), part(user)),
    }
}

/// The pub/sub topic of one node, which only it subscribes: deliveries and controls addressed
/// to a user reach the nodes where it is online through theirs. (A topic per user was a
/// subscription per session: a Redis command in every login and logout, and the topic's name
/// held three times on the node — about 0.15 KB per connection.)
pub fn node_topic(node: &str) -> String {
    format!("n/{}:{node}", node.len())
}

// ---- wire forms of what crosses the bus

const KIND_DELIVERY: u8 = b'd';
const KIND_CONTROL: u8 = b'x';
const KIND_CHANGE: u8 = b'c';
const KIND_HELLO: u8 = b'h';

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum WireRoute {
    Channel { app: String, channel: String },
    Stream { app: String, channel: String },
    User { app: String, user: String },
    Room { app: String, room: RoomId },
    Realtime { app: String, scope: String },
    UserMeta { app: String, user: String },
}

impl From<&Route> for WireRoute {
    fn from(route: &Route) -> Self {
        match route {
            Route::Channel { app, channel } => {
                WireRoute::Channel { app: app.to_string(), channel: channel.to_string() }
            }
            Route::Stream { app, channel } => WireRoute::Stream { app: app.to_string(), channel: channel.to_string() },
            Route::User { app, user } => WireRoute::User { app: app.to_string(), user: user.to_string() },
            Route::Room { app, room } => WireRoute::Room { app: app.to_string(), room: room.clone() },
            Route::Realtime { app, scope } => WireRoute::Realtime { app: app.to_string(), scope: scope.to_string() },
            Route::UserMeta { app, user } => WireRoute::UserMeta { app: app.to_string(), user: user.to_string() },
        }
    }
}

impl From<WireRoute> for Route {
    fn from(route: WireRoute) -> Self {
        match route {
            WireRoute::Channel { app, channel } => Route::Channel { app: app.into(), channel: channel.into() },
            WireRoute::Stream { app, channel } => Route::Stream { app: app.into(), channel: channel.into() },
            WireRoute::User { app, user } => Route::User { app: app.into(), user: user.into() },
            WireRoute::Room { app, room } => Route::Room { app: app.into(), room },
            WireRoute::Realtime { app, scope } => Route::Realtime { app: app.into(), scope: scope.into() },
            WireRoute::UserMeta { app, user } => Route::UserMeta { app: app.into(), user: user.into() },
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum WireAudience {
    Messages,
    Presence,
    Everyone,
    BestEffort,
    Topic { topic: String, publisher: String },
    Metadata,
    Locks,
}

impl From<&Audience> for WireAudience {
    fn from(a: &Audience) -> Self {
        match a {
            Audience::Messages | Audience::Logged { .. } => WireAudience::Messages,
            Audience::Presence { .. } => WireAudience::Presence,
            Audience::Everyone => WireAudience::Everyone,
            Audience::BestEffort => WireAudience::BestEffort,
            Audience::Metadata => WireAudience::Metadata,
            Audience::Locks => WireAudience::Locks,
            Audience::TopicSubscribers { topic, publisher } => {
                WireAudience::Topic { topic: topic.to_string(), publisher: publisher.to_string() }
            }
        }
    }
}

impl From<WireAudience> for Audience {
    fn from(a: WireAudience) -> Self {
        match a {
            WireAudience::Messages => Audience::Messages,
            WireAudience::Presence => Audience::Presence { change: None },
            WireAudience::Everyone => Audience::Everyone,
            WireAudience::BestEffort => Audience::BestEffort,
            WireAudience::Metadata => Audience::Metadata,
            WireAudience::Locks => Audience::Locks,
            WireAudience::Topic { topic, publisher } => {
                Audience::TopicSubscribers { topic: topic.into(), publisher: publisher.into() }
            }
        }
    }
}

/// The header of a delivery on the bus; the frame's bytes follow it.
#[derive(Serialize, Deserialize)]
struct DeliveryHeader {
    /// The node that published it.
    n: String,
    r: WireRoute,
    a: WireAudience,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<String>,
    /// The frame is a text frame (else binary).
    #[serde(default)]
    t: bool,
}

/// A directory change: `v` None removes the entry `k` of node `n`.
#[derive(Serialize, Deserialize)]
struct Change {
    n: String,
    /// The key of a withdrawn entry; left out when the entry is given (its key follows from it):
    /// every node reads every change, so each byte saved is read by all of them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    k: String,
    #[serde(default)]
    v: Option<Entry>,
}

#[derive(Serialize, Deserialize)]
struct ControlMessage {
    n: String,
    c: Control,
}

/// `kind | u32 BE header length | header JSON | body`.
fn encode(kind: u8, header: &impl Serialize, body: &[u8]) -> Bytes {
    let header = serde_json::to_vec(header).expect("wire headers serialize");
    let mut out = BytesMut::with_capacity(5 + header.len() + body.len());
    out.put_u8(kind);
    out.put_u32(header.len() as u32);
    out.put_slice(&header);
    out.put_slice(body);
    out.freeze()
}

fn decode(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let kind = *bytes.first()?;
    let len = u32::from_be_bytes(bytes.get(1..5)?.try_into().ok()?) as usize;
    let header = bytes.get(5..5 + len)?;
    Some((kind, header, &bytes[5 + len..]))
}

fn encode_delivery(node: &str, delivery: &Delivery) -> Option<Bytes> {
    let (text, body): (bool, &[u8]) = match &delivery.frame {
        Message::Text(t) => (true, t.as_bytes()),
        Message::Binary(b) => (false, b),
        _ => return None,
    };
    let header = DeliveryHeader {
        n: node.to_string(),
        r: (&delivery.route).into(),
        a: (&delivery.audience).into(),
        s: delivery.skip.as_ref().map(|s| s.to_string()),
        t: text,
    };
    Some(encode(KIND_DELIVERY, &header, body))
}

fn decode_delivery(header: &[u8], body: &[u8]) -> Option<(String, Delivery)> {
    let h: DeliveryHeader = serde_json::from_slice(header).ok()?;
    let frame = if h.t {
        Message::Text(std::str::from_utf8(body).ok()?.to_string().into())
    } else {
        Message::Binary(Bytes::copy_from_slice(body))
    };
    let delivery = Delivery { route: h.r.into(), audience: h.a.into(), skip: h.s.map(Into::into), frame };
    Some((h.n, delivery))
}

/// One node's view of the cluster.
pub struct Cluster {
    node: Arc<str>,
    bus: Arc<dyn Bus>,
    handler: OnceLock<Weak<dyn DeliveryHandler>>,
    events: OnceLock<Weak<dyn ClusterEvents>>,
    up: AtomicBool,
    /// This node's room members, topic publishers and bans (stored again after the bus comes
    /// back). Its online and channel-member entries, one or more per connection, are not kept
    /// here: the hub has them and gives them again ([`ClusterEvents::entries`]).
    own: Mutex<Mirror>,
    mirror: RwLock<Mirror>,
    /// How often each node was reported dead or back: a reap goes on only while the count it
    /// started with holds (the node neither came back nor died again meanwhile).
    deaths: Mutex<HashMap<String, u64>>,
    /// Recovery logs of message channels (`None`: off).
    keep: Option<LogKeep>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("node", &self.node).field("up", &self.is_up()).finish()
    }
}

impl Cluster {
    /// A node on `bus`; `keep`: the recovery logs of message channels (`None`: off).
    pub fn new(bus: Arc<dyn Bus>, keep: Option<LogKeep>) -> Arc<Self> {
        Arc::new(Cluster {
            keep,
            node: Arc::from(bus.node()),
            bus,
            handler: OnceLock::new(),
            events: OnceLock::new(),
            up: AtomicBool::new(false),
            own: Mutex::new(Mirror::default()),
            mirror: RwLock::new(Mirror::default()),
            deaths: Mutex::new(HashMap::new()),
        })
    }

    /// Connects the cluster to its hub and starts the bus.
    pub fn start(self: &Arc<Self>, events: Weak<dyn ClusterEvents>) {
        let _ = self.events.set(events);
        self.bus.subscribe(&node_topic(&self.node));
        let sink: Weak<dyn BusSink> = Arc::downgrade(self) as _;
        self.bus.start(sink);
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// How often `node` was reported dead or back so far (see [`Cluster::reap_goes_on`]).
    pub fn deaths(&self, node: &str) -> u64 {
        self.deaths.lock().get(node).copied().unwrap_or(0)
    }

    /// Whether a reap of `node` that started at `deaths` goes on: the node did not heartbeat
    /// again since (it was only late, and its users never left) nor die again (a newer reap
    /// takes over).
    pub fn reap_goes_on(&self, node: &str, deaths: u64) -> bool {
        self.deaths(node) == deaths
    }

    /// Whether the bus is reachable.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Publishes (or replaces) an entry of this node.
    pub fn put(&self, entry: Entry) {
        let key = entry.key();
        if !entry.is_common() {
            self.own.lock().insert(&self.node, entry.clone());
        }
        let value = serde_json::to_vec(&entry).expect("entries serialize");
        self.bus.store(&key, Some(Bytes::from(value)));
        self.announce(&self.node, &key, Some(entry));
    }

    /// Puts the entry when `present`, withdraws it otherwise.
    pub fn set(&self, entry: Entry, present: bool) {
        if present {
            self.put(entry);
        } else {
            self.remove(&entry);
        }
    }

    /// Withdraws an entry of this node (the hub withdraws a common one only once it was put).
    pub fn remove(&self, entry: &Entry) {
        let key = entry.key();
        if !entry.is_common() && self.own.lock().remove(&self.node, &key).is_none() {
            return;
        }
        self.bus.store(&key, None);
        self.announce(&self.node, &key, None);
    }

    fn announce(&self, owner: &str, key: &str, value: Option<Entry>) {
        let k = if value.is_some() { String::new() } else { key.to_string() };
        let change = Change { n: owner.to_string(), k, v: value };
        self.bus.publish(DIRECTORY_TOPIC, encode(KIND_CHANGE, &change, &[]));
    }

    /// Runs `f` on the mirror of the other nodes' entries.
    pub fn mirror<R>(&self, f: impl FnOnce(&Mirror) -> R) -> R {
        f(&self.mirror.read())
    }

    /// Sends a control to the nodes with members on `route` (this one included).
    pub fn control(&self, route: &Route, control: Control) {
        if let Some(events) = self.events.get().and_then(Weak::upgrade) {
            events.control(&control);
        }
        let message = ControlMessage { n: self.node.to_string(), c: control };
        self.send(route, encode(KIND_CONTROL, &message, &[]));
    }

    /// Publishes on `route`'s topic; for a user, on the topics of the other nodes where the
    /// directory has it online (an RTM session: only those have a user route).
    fn send(&self, route: &Route, bytes: Bytes) {
        let Route::User { app, user } = route else {
            return self.bus.publish(&route_topic(route), bytes);
        };
        let mut nodes = self.mirror(|m| m.online(app, SessionKind::Rtm, user));
        nodes.sort_unstable();
        nodes.dedup();
        for node in nodes {
            self.bus.publish(&node_topic(&node), bytes.clone());
        }
    }

    /// The topic `route`'s deliveries arrive on at this node.
    fn topic(&self, route: &Route) -> String {
        match route {
            Route::User { .. } => node_topic(&self.node),
            route => route_topic(route),
        }
    }

    /// Clears a dead node (its claimer is done): withdraws its entries everywhere.
    pub fn clear_node(&self, node: &str, entries: &[Entry]) {
        for entry in entries {
            self.announce(node, &entry.key(), None);
        }
        self.mirror.write().drop_node(node);
        self.bus.forget(node);
    }

    /// Leaves the cluster (graceful shutdown).
    pub fn close(&self) {
        self.bus.close();
    }

    /// What recovery logs keep (`None`: recovery is off).
    pub fn recovery(&self) -> Option<LogKeep> {
        self.keep
    }

    /// Whether a delivery goes through its route's recovery log: messages of message channels.
    fn logged(&self, delivery: &Delivery) -> bool {
        self.keep.is_some()
            && matches!(delivery.route, Route::Channel { .. })
            && matches!(delivery.audience, Audience::Messages)
            && matches!(delivery.frame, Message::Binary(_))
    }

    /// Resolves once this node receives what is published on `route`.
    pub fn subscribed(&self, route: &Route) -> futures_util::future::BoxFuture<'static, ()> {
        self.bus.subscribed(&self.topic(route))
    }

    /// The messages of `route`'s recovery log after `after`, as frames carrying their offsets,
    /// oldest first; and the route's last offset.
    pub async fn read_log(&self, route: &Route, after: u64) -> Result<(Vec<(u64, Message)>, u64), String> {
        let keep = self.keep.ok_or("recovery is off")?;
        let read = self.bus.read_log(&route_topic(route), after, keep).await?;
        let frames = read
            .entries
            .iter()
            .filter_map(|(offset, bytes)| {
                let (kind, header, body) = decode(bytes)?;
                let (_, delivery) = (kind == KIND_DELIVERY).then(|| decode_delivery(header, body))??;
                Some((*offset, crate::protocol::server::with_offset(&delivery.frame, *offset)?))
            })
            .collect();
        Ok((frames, read.last))
    }
}

impl Broker for Cluster {
    fn set_handler(&self, handler: Weak<dyn DeliveryHandler>) {
        let _ = self.handler.set(handler);
    }

    fn publish(&self, delivery: Delivery) {
        if let (true, true, Some(keep)) = (self.logged(&delivery), self.is_up(), self.keep) {
            // Every node, this one too, delivers it as it comes back with its offset: one order
            // for all, the log's.
            if let Some(bytes) = encode_delivery(&self.node, &delivery) {
                self.bus.log(&route_topic(&delivery.route), bytes, keep);
            }
            return;
        }
        if let Some(bytes) = encode_delivery(&self.node, &delivery) {
            self.send(&delivery.route, bytes);
        }
        // This node's members get it at once; the bus copy is skipped when it comes back.
        if let Some(handler) = self.handler.get().and_then(Weak::upgrade) {
            handler.deliver(&delivery);
        }
    }

    fn subscribe(&self, route: &Route) {
        // A user's deliveries come on the node's own topic, subscribed for good at the start.
        if !matches!(route, Route::User { .. }) {
            self.bus.subscribe(&route_topic(route));
        }
    }

    fn unsubscribe(&self, route: &Route) {
        if !matches!(route, Route::User { .. }) {
            self.bus.unsubscribe(&route_topic(route));
        }
    }
}

impl Cluster {
    /// A message that did not reach its log: delivered to this node's members (without an
    /// offset), as a plain publish would have been.
    fn deliver_unlogged(&self, bytes: &[u8]) {
        let Some((KIND_DELIVERY, header, body)) = decode(bytes) else { return };
        let Some((_, delivery)) = decode_delivery(header, body) else { return };
        if let Some(handler) = self.handler.get().and_then(Weak::upgrade) {
            handler.deliver(&delivery);
        }
    }
}

impl BusSink for Cluster {
    fn unlogged(&self, bytes: &[u8]) {
        self.deliver_unlogged(bytes);
    }

    fn message(&self, _topic: &str, bytes: &[u8]) {
        if let Some((offset, bytes)) = bus::parse_logged(bytes) {
            let Some((KIND_DELIVERY, header, body)) = decode(bytes) else { return };
            let Some((_, mut delivery)) = decode_delivery(header, body) else { return };
            let Some(frame) = crate::protocol::server::with_offset(&delivery.frame, offset) else { return };
            delivery.frame = frame;
            delivery.audience = Audience::Logged { offset };
            if let Some(handler) = self.handler.get().and_then(Weak::upgrade) {
                handler.deliver(&delivery);
            }
            return;
        }
        let Some((kind, header, body)) = decode(bytes) else {
            tracing::warn!("undecodable cluster message ({} bytes)", bytes.len());
            return;
        };
        match kind {
            KIND_DELIVERY => {
                let Some((origin, delivery)) = decode_delivery(header, body) else { return };
                if *origin == *self.node {
                    return;
                }
                if let Some(handler) = self.handler.get().and_then(Weak::upgrade) {
                    handler.deliver(&delivery);
                }
            }
            KIND_CONTROL => {
                let Ok(message) = serde_json::from_slice::<ControlMessage>(header) else { return };
                if *message.n == *self.node {
                    return;
                }
                if let Some(events) = self.events.get().and_then(Weak::upgrade) {
                    events.control(&message.c);
                }
            }
            KIND_CHANGE => {
                let Ok(change) = serde_json::from_slice::<Change>(header) else { return };
                if *change.n == *self.node {
                    return;
                }
                let mut mirror = self.mirror.write();
                match change.v {
                    Some(entry) => mirror.insert(&change.n, entry),
                    None => {
                        mirror.remove(&change.n, &change.k);
                    }
                }
            }
            KIND_HELLO => {
                // A node (re)joined with a fresh store: load it.
                if let Ok(node) = serde_json::from_slice::<String>(header) {
                    if *node != *self.node {
                        self.bus.reload(Some(&node));
                    }
                }
            }
            _ => {}
        }
    }

    fn loaded(&self, node: &str, entries: Vec<(String, Bytes)>) {
        if *node == *self.node {
            return;
        }
        let entries: Vec<Entry> = entries.iter().filter_map(|(_, v)| serde_json::from_slice(v).ok()).collect();
        self.mirror.write().replace_node(node, entries);
    }

    fn link(&self, up: bool) {
        let was = self.up.swap(up, Ordering::AcqRel);
        if up && !was {
            // Store this node's entries again (the store may have been lost), tell the others
            // to load them, and load theirs.
            let mut own: Vec<Entry> = self.own.lock().entries_of(&self.node);
            own.extend(self.events.get().and_then(Weak::upgrade).map(|e| e.entries()).unwrap_or_default());
            for entry in own {
                let value = serde_json::to_vec(&entry).expect("entries serialize");
                self.bus.store(&entry.key(), Some(Bytes::from(value)));
            }
            self.bus.publish(DIRECTORY_TOPIC, encode(KIND_HELLO, &self.node.to_string(), &[]));
            self.bus.reload(None);
        }
        if up != was {
            tracing::warn!(node = %self.node, up, "cluster bus {}", if up { "reachable" } else { "unreachable" });
            if let Some(events) = self.events.get().and_then(Weak::upgrade) {
                events.link(up);
            }
        }
    }

    fn node_back(&self, node: &str) {
        tracing::warn!(node = %self.node, back = node, "a cluster node taken for dead heartbeats again");
        *self.deaths.lock().entry(node.to_string()).or_default() += 1;
    }

    fn node_down(&self, node: &str, claimed: bool) {
        tracing::warn!(node = %self.node, dead = node, claimed, "a cluster node stopped heartbeating");
        *self.deaths.lock().entry(node.to_string()).or_default() += 1;
        if claimed {
            if let Some(events) = self.events.get().and_then(Weak::upgrade) {
                let entries = self.mirror.read().entries_of(node);
                events.reap(node, entries);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_round_trip_through_the_wire_form() {
        let delivery = Delivery {
            route: Route::Stream { app: "a".into(), channel: "s".into() },
            audience: Audience::TopicSubscribers { topic: "t".into(), publisher: "p".into() },
            skip: Some("x".into()),
            frame: Message::Binary(Bytes::from_static(b"\x00\x00\x00\x02{}payload")),
        };
        let bytes = encode_delivery("n1", &delivery).unwrap();
        let (kind, header, body) = decode(&bytes).unwrap();
        assert_eq!(kind, KIND_DELIVERY);
        let (origin, back) = decode_delivery(header, body).unwrap();
        assert_eq!(origin, "n1");
        assert_eq!(back.route, delivery.route);
        assert_eq!(back.audience, delivery.audience);
        assert_eq!(back.skip, delivery.skip);
        assert_eq!(back.frame, delivery.frame);
        assert!(decode(b"d\x00\x00\x00\x09{}").is_none());
    }

    #[test]
    fn a_change_carries_its_key_only_when_it_withdraws() {
        let entry = Entry::Member {
            app: "a".into(),
            ct: crate::protocol::ChannelType::Message,
            channel: "c".into(),
            user: "u".into(),
            states: Default::default(),
            timeout: 5,
        };
        let put = serde_json::to_string(&Change { n: "n1".into(), k: String::new(), v: Some(entry.clone()) }).unwrap();
        assert_eq!(
            put,
            r#"{"n":"n1","v":{"t":"member","app":"a","ct":"MESSAGE","channel":"c","user":"u","timeout":5}}"#
        );
        let back: Change = serde_json::from_str(&put).unwrap();
        assert_eq!(back.v, Some(entry.clone()));
        let gone = serde_json::to_string(&Change { n: "n1".into(), k: entry.key(), v: None }).unwrap();
        let back: Change = serde_json::from_str(&gone).unwrap();
        assert_eq!((back.k, back.v), (entry.key(), None));
        // A stored value written with its empty states still reads.
        let old = r#"{"t":"member","app":"a","ct":"MESSAGE","channel":"c","user":"u","states":{},"timeout":5}"#;
        assert_eq!(serde_json::from_str::<Entry>(old).unwrap(), entry);
    }

    #[test]
    fn route_topics_cannot_be_forged_by_names() {
        let a = route_topic(&Route::Channel { app: "a/1:b".into(), channel: "c".into() });
        let b = route_topic(&Route::Channel { app: "a".into(), channel: "1:b/1:c".into() });
        assert_ne!(a, b);
    }
}
