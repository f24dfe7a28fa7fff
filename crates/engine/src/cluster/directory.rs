//! The directory: who is where in the cluster. Each node publishes entries about its own
//! sessions (online users, channel members with their presence states, room members, topic
//! publishers, room bans) and keeps a mirror of the other nodes' entries, so that presence
//! queries, snapshots, room member lists and "is this user online" are answered from memory,
//! without a round trip to Redis on the request path.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::hub::roster::States;
use crate::protocol::{ChannelType, RoomId, Scene, SessionKind};

use super::sorted::Sorted;

/// One fact about a session of the node that owns the entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum Entry {
    /// A session is online.
    #[serde(rename = "online")]
    Online { app: String, kind: SessionKind, user: String, session: u64, timeout: u32 },
    /// A visible (not `beQuiet`) member of a message or stream channel, with its states.
    #[serde(rename = "member")]
    Member {
        app: String,
        ct: ChannelType,
        channel: String,
        user: String,
        #[serde(default, skip_serializing_if = "States::is_empty")]
        states: States,
        timeout: u32,
    },
    /// A member of a room (`announced`: others were told it entered).
    #[serde(rename = "room")]
    RoomMember { app: String, room: RoomId, user: String, announced: bool, scene: Scene, timeout: u32 },
    /// A publisher of a stream-channel topic.
    #[serde(rename = "publisher")]
    Publisher { app: String, channel: String, topic: String, user: String, meta: String, timeout: u32 },
    /// A user removed from a room, who may not enter it again until `until_ms` (Unix ms).
    #[serde(rename = "ban")]
    Ban { app: String, room: RoomId, user: String, until_ms: u64 },
}

impl Entry {
    /// The entry's key (unique per node): what it is about, not its details.
    pub fn key(&self) -> String {
        let parts: Vec<String> = match self {
            Entry::Online { app, kind, user, session, .. } => {
                vec!["online".into(), app.clone(), format!("{kind:?}"), user.clone(), session.to_string()]
            }
            Entry::Member { app, ct, channel, user, .. } => {
                vec!["member".into(), app.clone(), ct.as_str().into(), channel.clone(), user.clone()]
            }
            Entry::RoomMember { app, room, user, .. } => {
                vec!["room".into(), app.clone(), room_key(room), user.clone()]
            }
            Entry::Publisher { app, channel, topic, user, .. } => {
                vec!["publisher".into(), app.clone(), channel.clone(), topic.clone(), user.clone()]
            }
            Entry::Ban { app, room, user, .. } => vec!["ban".into(), app.clone(), room_key(room), user.clone()],
        };
        serde_json::to_string(&parts).expect("strings serialize")
    }

    /// Whether it is of the kinds every connection has (online, channel member), which the hub
    /// gives again from its own state rather than the cluster keeping a copy.
    pub fn is_common(&self) -> bool {
        matches!(self, Entry::Online { .. } | Entry::Member { .. })
    }

    /// Seconds the entry outlives a dead node before its user counts as gone.
    pub fn timeout(&self) -> u32 {
        match self {
            Entry::Online { timeout, .. }
            | Entry::Member { timeout, .. }
            | Entry::RoomMember { timeout, .. }
            | Entry::Publisher { timeout, .. } => *timeout,
            Entry::Ban { .. } => 0,
        }
    }
}

/// A room id as a key part (numbers and strings are separate namespaces).
pub fn room_key(room: &RoomId) -> String {
    match room {
        RoomId::Num(n) => format!("n{n}"),
        RoomId::Str(s) => format!("s{s}"),
    }
}

pub(super) use super::name::Name;
type RoomKey = (String, String);
/// (app, channel, topic).
type TopicKey = (String, String, String);
/// user → (node, meta).
type Publishers = BTreeMap<String, (String, String)>;

/// A node with entries in the indexes, by its place in [`Nodes`]: two bytes where its name
/// would take sixteen, in every session and channel member of the mirror.
type NodeIx = u16;

/// The nodes with entries in the indexes, each with how many it has there; a node without any
/// gives its place up to the next one.
#[derive(Default)]
struct Nodes {
    slots: Vec<Option<(Name, usize)>>,
}

impl Nodes {
    fn find(&self, node: &str) -> Option<NodeIx> {
        let i = self.slots.iter().position(|s| s.as_ref().is_some_and(|(name, _)| **name == *node))?;
        Some(i as NodeIx)
    }

    /// `node`'s place, taken if it has none; counts one entry more. `None` only if 65,536 nodes
    /// have entries at once.
    fn enter(&mut self, node: &str, names: &mut Names) -> Option<NodeIx> {
        let ix = match self.find(node) {
            Some(ix) => ix,
            None => {
                let free = self.slots.iter().position(Option::is_none);
                let i = free.unwrap_or(self.slots.len());
                if i > usize::from(NodeIx::MAX) {
                    return None;
                }
                let slot = Some((names.get(node), 0));
                match free {
                    Some(i) => self.slots[i] = slot,
                    None => self.slots.push(slot),
                }
                i as NodeIx
            }
        };
        if let Some((_, count)) = &mut self.slots[usize::from(ix)] {
            *count += 1;
        }
        Some(ix)
    }

    /// One entry of `ix` fewer; the place is freed at none.
    fn leave(&mut self, ix: NodeIx, names: &mut Names) {
        let slot = &mut self.slots[usize::from(ix)];
        if let Some((_, count)) = slot {
            *count -= 1;
            if *count == 0 {
                *slot = None;
                names.release(1);
            }
        }
    }

    /// Frees `ix`'s place whatever its count (its entries were all taken out).
    fn clear(&mut self, ix: NodeIx, names: &mut Names) {
        if self.slots[usize::from(ix)].take().is_some() {
            names.release(1);
        }
    }

    fn name(&self, ix: NodeIx) -> &str {
        self.slots[usize::from(ix)].as_ref().map_or("", |(name, _)| name)
    }
}

/// A session of a user on another node.
struct OnlineAt {
    session: u64,
    timeout: u32,
    node: NodeIx,
    kind: SessionKind,
}

/// A node holding a user in a channel. Most users are held by one node, so the list keeps one
/// inline; the last one is the one the questions answer with.
struct Held {
    /// `None` when empty (most members have no states): 8 bytes instead of a map's 24.
    states: Option<Box<States>>,
    timeout: u32,
    node: NodeIx,
}

impl Held {
    fn states(&self) -> States {
        self.states.as_deref().cloned().unwrap_or_default()
    }

    fn entry(&self, app: &str, ct: ChannelType, channel: &str, user: &str) -> Entry {
        let (app, channel, user) = (app.to_string(), channel.to_string(), user.to_string());
        Entry::Member { app, ct, channel, user, states: self.states(), timeout: self.timeout }
    }
}

impl OnlineAt {
    fn entry(&self, app: &str, user: &str) -> Entry {
        let (app, user) = (app.to_string(), user.to_string());
        Entry::Online { app, kind: self.kind, user, session: self.session, timeout: self.timeout }
    }
}

/// What the mirror knows of one user elsewhere: its sessions, and the channels where it is
/// visible with how many nodes hold it there. One map for both: a user's key and slot are paid
/// once, and a node is named by its place in [`Nodes`] (539 bytes per mirrored user of the scale
/// benchmark with two maps and node names, 406 with this map, 318 with one-pointer [`Name`]s:
/// tests/directory_memory.rs).
#[derive(Default)]
struct UserAt {
    sessions: SmallVec<[OnlineAt; 1]>,
    channels: SmallVec<[(ChannelType, Name, u32); 2]>,
}

/// (app, user) → the user's sessions and channels elsewhere.
type Users = HashMap<(Name, Name), UserAt>;
/// (app, channel type, channel) → user → the nodes holding the user there.
type Members = HashMap<(Name, ChannelType, Name), Sorted<SmallVec<[Held; 1]>>>;

/// Interned names (apps, users, channels, node ids): each is stored once however many indexes
/// mention it, and a question's strings are looked up here first, without allocating.
#[derive(Default)]
struct Names {
    set: HashSet<Name>,
    /// Names given up since the last sweep.
    released: usize,
}

impl Names {
    fn get(&mut self, name: &str) -> Name {
        if let Some(found) = self.set.get(name) {
            return found.clone();
        }
        let name = Name::new(name);
        self.set.insert(name.clone());
        name
    }

    fn find(&self, name: &str) -> Option<Name> {
        self.set.get(name).cloned()
    }

    /// Counts `count` references to names given up (at least as many as the names left unused);
    /// forgets the unused ones once they could be half the set, so the set stays within about
    /// twice the names in use, at an amortized constant cost per removal.
    fn release(&mut self, count: usize) {
        self.released += count;
        if self.released > self.set.len() / 2 + 1024 {
            self.sweep();
        }
    }

    fn sweep(&mut self) {
        self.set.retain(|name| Name::strong_count(name) > 1);
        self.released = 0;
        shrink(&mut self.set);
    }
}

/// Gives a collection's memory back after it emptied out to a quarter of its capacity.
trait Shrink {
    fn sizes(&self) -> (usize, usize);
    fn shrink_to_fit(&mut self);
}

impl<K: Eq + std::hash::Hash, V> Shrink for HashMap<K, V> {
    fn sizes(&self) -> (usize, usize) {
        (self.len(), self.capacity())
    }
    fn shrink_to_fit(&mut self) {
        HashMap::shrink_to_fit(self);
    }
}

impl<K: Eq + std::hash::Hash> Shrink for HashSet<K> {
    fn sizes(&self) -> (usize, usize) {
        (self.len(), self.capacity())
    }
    fn shrink_to_fit(&mut self) {
        HashSet::shrink_to_fit(self);
    }
}

fn shrink(collection: &mut impl Shrink) {
    let (len, capacity) = collection.sizes();
    if len < capacity / 4 {
        collection.shrink_to_fit();
    }
}

/// The other nodes' entries, indexed for the questions the hub asks. Every node holds one for
/// the whole cluster (at 100,000 users on six nodes, 83,000 users of the others), so the
/// common entries (sessions and channel members) are stored only in their indexes, with
/// interned names: tests/directory_memory.rs holds a mirrored user under 350 bytes. Rooms,
/// topic publishers and bans are few; they are kept whole per node and indexed beside.
#[derive(Default)]
pub struct Mirror {
    names: Names,
    users: Users,
    members: Members,
    /// The nodes with sessions or channel members in the indexes (a node without any is not
    /// looked for there).
    nodes: Nodes,
    /// Room members, publishers and bans, by node and key.
    others: HashMap<String, HashMap<String, Entry>>,
    rooms: HashMap<RoomKey, BTreeMap<String, (String, bool)>>,
    publishers: HashMap<TopicKey, Publishers>,
    bans: HashMap<(String, String, String), u64>,
}

/// What an online or member entry's key names (see [`Entry::key`]).
enum Parsed {
    Online { app: String, kind: SessionKind, user: String, session: u64 },
    Member { app: String, ct: ChannelType, channel: String, user: String },
}

fn parse_key(key: &str) -> Option<Parsed> {
    if !key.starts_with(r#"["online""#) && !key.starts_with(r#"["member""#) {
        return None;
    }
    let parts: Vec<String> = serde_json::from_str(key).ok()?;
    let [what, app, kind, a, b]: [String; 5] = parts.try_into().ok()?;
    match what.as_str() {
        "online" => {
            let kind = match kind.as_str() {
                "Rtm" => SessionKind::Rtm,
                "Trtc" => SessionKind::Trtc,
                _ => return None,
            };
            Some(Parsed::Online { app, kind, user: a, session: b.parse().ok()? })
        }
        _ => {
            let ct = [ChannelType::Message, ChannelType::Stream, ChannelType::User]
                .into_iter()
                .find(|ct| ct.as_str() == kind)?;
            Some(Parsed::Member { app, ct, channel: a, user: b })
        }
    }
}

impl Mirror {
    /// Records (or replaces) an entry of `node`.
    pub fn insert(&mut self, node: &str, entry: Entry) {
        match entry {
            Entry::Online { app, kind, user, session, timeout } => {
                let key = (self.names.get(&app), self.names.get(&user));
                let ix = self.nodes.find(node);
                let sessions = self.users.get_mut(&key).map(|at| &mut at.sessions);
                let same = |at: &&mut OnlineAt| Some(at.node) == ix && at.session == session && at.kind == kind;
                if let Some(at) = sessions.and_then(|s| s.iter_mut().find(same)) {
                    at.timeout = timeout;
                    return;
                }
                let Some(node) = self.nodes.enter(node, &mut self.names) else { return self.too_many(node) };
                self.users.entry(key).or_default().sessions.push(OnlineAt { session, timeout, node, kind });
            }
            Entry::Member { app, ct, channel, user, states, timeout } => {
                let (app, channel, user) = (self.names.get(&app), self.names.get(&channel), self.names.get(&user));
                let states = (!states.is_empty()).then(|| Box::new(states));
                let key = (app.clone(), ct, channel.clone());
                let ix = self.nodes.find(node);
                let holders = self.members.get_mut(&key).and_then(|m| m.get_mut(&user));
                if let Some(holders) = holders {
                    if let Some(i) = holders.iter().position(|h| Some(h.node) == ix) {
                        // The latest write answers the questions: the updated holder goes last.
                        let mut held = holders.remove(i);
                        held.states = states;
                        held.timeout = timeout;
                        holders.push(held);
                        return;
                    }
                }
                let Some(node) = self.nodes.enter(node, &mut self.names) else { return self.too_many(node) };
                let holders = self.members.entry(key).or_default().get_or_default(user.clone());
                holders.push(Held { states, timeout, node });
                let channels = &mut self.users.entry((app, user)).or_default().channels;
                match channels.iter_mut().find(|(t, c, _)| *t == ct && *c == channel) {
                    Some((_, _, count)) => *count += 1,
                    None => channels.push((ct, channel, 1)),
                }
            }
            entry => {
                let key = entry.key();
                if let Some(old) = self.others.get(node).and_then(|m| m.get(&key)).cloned() {
                    self.unindex(node, &old);
                }
                self.index(node, &entry);
                self.others.entry(node.to_string()).or_default().insert(key, entry);
            }
        }
    }

    fn too_many(&self, node: &str) {
        tracing::error!(node, "directory: 65,536 nodes have entries already; an entry of one more is not mirrored");
    }

    /// Removes a channel's member with no holders left, and the channel with no members left.
    fn drop_if_empty(&mut self, app: &Name, ct: ChannelType, channel: &Name, user: &Name) {
        let key = (app.clone(), ct, channel.clone());
        let Some(members) = self.members.get_mut(&key) else { return };
        if members.get(user).is_some_and(|holders| holders.is_empty()) {
            members.remove(user);
        }
        if members.is_empty() {
            self.members.remove(&key);
        }
    }

    /// Removes an entry of `node`.
    pub fn remove(&mut self, node: &str, key: &str) -> Option<Entry> {
        match parse_key(key) {
            Some(Parsed::Online { app, kind, user, session }) => {
                let ix = self.nodes.find(node)?;
                let names = (self.names.find(&app)?, self.names.find(&user)?);
                let at = self.users.get_mut(&names)?;
                let i = at.sessions.iter().position(|at| at.node == ix && at.session == session && at.kind == kind)?;
                let removed = at.sessions.remove(i);
                if at.sessions.is_empty() && at.channels.is_empty() {
                    self.users.remove(&names);
                }
                self.nodes.leave(ix, &mut self.names);
                // The names it referenced: app, user.
                self.names.release(2);
                Some(Entry::Online { app, kind, user, session, timeout: removed.timeout })
            }
            Some(Parsed::Member { app, ct, channel, user }) => {
                let ix = self.nodes.find(node)?;
                let names = (self.names.find(&app)?, ct, self.names.find(&channel)?);
                let user_name = self.names.find(&user)?;
                let members = self.members.get_mut(&names)?;
                let holders = members.get_mut(&user_name)?;
                let held = holders.iter().position(|h| h.node == ix)?;
                let held = holders.remove(held);
                self.drop_if_empty(&names.0, ct, &names.2, &user_name);
                self.forget_user_channel(&names.0, &user_name, ct, &names.2);
                self.nodes.leave(ix, &mut self.names);
                // The names it referenced: app, channel, user.
                self.names.release(3);
                Some(Entry::Member { app, ct, channel, user, states: held.states(), timeout: held.timeout })
            }
            None => {
                let entry = self.others.get_mut(node)?.remove(key)?;
                self.unindex(node, &entry);
                Some(entry)
            }
        }
    }

    fn forget_user_channel(&mut self, app: &Name, user: &Name, ct: ChannelType, channel: &Name) {
        let key = (app.clone(), user.clone());
        if let Some(at) = self.users.get_mut(&key) {
            let channels = &mut at.channels;
            if let Some(i) = channels.iter().position(|(t, c, _)| *t == ct && c == channel) {
                channels[i].2 -= 1;
                if channels[i].2 == 0 {
                    channels.swap_remove(i);
                }
            }
            if at.sessions.is_empty() && at.channels.is_empty() {
                self.users.remove(&key);
            }
        }
    }

    /// Replaces everything known about `node`.
    pub fn replace_node(&mut self, node: &str, entries: Vec<Entry>) {
        self.drop_node(node);
        for entry in entries {
            self.insert(node, entry);
        }
    }

    /// Forgets `node`; returns its entries.
    pub fn drop_node(&mut self, node: &str) -> Vec<Entry> {
        let mut entries = Vec::new();
        // The indexes are scanned only for a node that has entries there.
        if let Some(ix) = self.nodes.find(node) {
            self.drop_indexed(ix, &mut entries);
        }
        let others: Vec<Entry> = self.others.remove(node).map(|m| m.into_values().collect()).unwrap_or_default();
        for entry in &others {
            self.unindex(node, entry);
        }
        entries.extend(others);
        self.names.sweep();
        entries
    }

    /// Takes node `ix`'s sessions and channel members out of the indexes, into `entries`.
    fn drop_indexed(&mut self, ix: NodeIx, entries: &mut Vec<Entry>) {
        let mut left = Vec::new();
        self.members.retain(|(app, ct, channel), members| {
            members.retain(|user, holders| {
                holders.retain(|held| {
                    let mine = held.node == ix;
                    if mine {
                        left.push((app.clone(), user.clone(), *ct, channel.clone()));
                        entries.push(held.entry(app, *ct, channel, user));
                    }
                    !mine
                });
                !holders.is_empty()
            });
            !members.is_empty()
        });
        for (app, user, ct, channel) in &left {
            self.forget_user_channel(app, user, *ct, channel);
        }
        drop(left);
        self.users.retain(|(app, user), at| {
            at.sessions.retain(|session| {
                let mine = session.node == ix;
                if mine {
                    entries.push(session.entry(app, user));
                }
                !mine
            });
            !at.sessions.is_empty() || !at.channels.is_empty()
        });
        self.nodes.clear(ix, &mut self.names);
        shrink(&mut self.users);
        shrink(&mut self.members);
    }

    /// The entries of `node`.
    pub fn entries_of(&self, node: &str) -> Vec<Entry> {
        let mut entries = Vec::new();
        // The indexes are scanned only for a node that has entries there.
        if let Some(ix) = self.nodes.find(node) {
            for ((app, user), at) in &self.users {
                entries.extend(at.sessions.iter().filter(|s| s.node == ix).map(|s| s.entry(app, user)));
            }
            for ((app, ct, channel), members) in &self.members {
                for (user, holders) in members {
                    let mine = holders.iter().filter(|h| h.node == ix);
                    entries.extend(mine.map(|held| held.entry(app, *ct, channel, user)));
                }
            }
        }
        entries.extend(self.others.get(node).into_iter().flat_map(|m| m.values().cloned()));
        entries
    }

    fn index(&mut self, node: &str, entry: &Entry) {
        let node = node.to_string();
        match entry.clone() {
            Entry::RoomMember { app, room, user, announced, .. } => {
                self.rooms.entry((app, room_key(&room))).or_default().insert(user, (node, announced));
            }
            Entry::Publisher { app, channel, topic, user, meta, .. } => {
                self.publishers.entry((app, channel, topic)).or_default().insert(user, (node, meta));
            }
            Entry::Ban { app, room, user, until_ms } => {
                self.bans.insert((app, room_key(&room), user), until_ms);
            }
            Entry::Online { .. } | Entry::Member { .. } => {}
        }
    }

    fn unindex(&mut self, node: &str, entry: &Entry) {
        match entry {
            Entry::RoomMember { app, room, user, .. } => {
                let key = (app.clone(), room_key(room));
                if let Some(members) = self.rooms.get_mut(&key) {
                    if members.get(user).is_some_and(|(n, _)| n == node) {
                        members.remove(user);
                    }
                    if members.is_empty() {
                        self.rooms.remove(&key);
                    }
                }
            }
            Entry::Publisher { app, channel, topic, user, .. } => {
                let key = (app.clone(), channel.clone(), topic.clone());
                if let Some(publishers) = self.publishers.get_mut(&key) {
                    if publishers.get(user).is_some_and(|(n, _)| n == node) {
                        publishers.remove(user);
                    }
                    if publishers.is_empty() {
                        self.publishers.remove(&key);
                    }
                }
            }
            Entry::Ban { app, room, user, .. } => {
                self.bans.remove(&(app.clone(), room_key(room), user.clone()));
            }
            Entry::Online { .. } | Entry::Member { .. } => {}
        }
    }

    // ---- questions

    /// The members of a channel on other nodes, looked up by interned names.
    fn channel(&self, app: &str, ct: ChannelType, channel: &str) -> Option<&Sorted<SmallVec<[Held; 1]>>> {
        self.members.get(&(self.names.find(app)?, ct, self.names.find(channel)?))
    }

    /// The node whose entry answers for `user` in a channel (the latest of those holding it).
    fn held(&self, app: &str, ct: ChannelType, channel: &str, user: &str) -> Option<&Held> {
        self.channel(app, ct, channel)?.get(user)?.last()
    }

    /// Nodes (other than this one) where `user` has a session of `kind`.
    pub fn online(&self, app: &str, kind: SessionKind, user: &str) -> Vec<String> {
        let (Some(app), Some(user)) = (self.names.find(app), self.names.find(user)) else { return Vec::new() };
        let sessions = self.users.get(&(app, user)).map(|at| at.sessions.as_slice()).unwrap_or_default();
        sessions.iter().filter(|at| at.kind == kind).map(|at| self.nodes.name(at.node).to_string()).collect()
    }

    /// Visible members of a channel on other nodes: user → states.
    pub fn members(&self, app: &str, ct: ChannelType, channel: &str) -> BTreeMap<String, States> {
        self.channel(app, ct, channel)
            .map(|m| m.iter().filter_map(|(user, h)| Some((user.to_string(), h.last()?.states()))).collect())
            .unwrap_or_default()
    }

    /// How many visible members a channel has on other nodes (without copying them).
    pub fn member_count(&self, app: &str, ct: ChannelType, channel: &str) -> usize {
        self.channel(app, ct, channel).map_or(0, Sorted::len)
    }

    /// The first `limit` visible members of a channel on other nodes, by user id.
    pub fn first_members(&self, app: &str, ct: ChannelType, channel: &str, limit: usize) -> Vec<(String, States)> {
        self.channel(app, ct, channel)
            .map(|m| {
                m.iter().take(limit).filter_map(|(user, h)| Some((user.to_string(), h.last()?.states()))).collect()
            })
            .unwrap_or_default()
    }

    /// The states of `user` in a channel, if another node holds it there.
    pub fn member_states(&self, app: &str, ct: ChannelType, channel: &str, user: &str) -> Option<States> {
        self.held(app, ct, channel, user).map(Held::states)
    }

    /// Whether a node other than `except` holds `user` in a channel.
    pub fn member_held_elsewhere(&self, app: &str, ct: ChannelType, channel: &str, user: &str, except: &str) -> bool {
        self.channel(app, ct, channel)
            .and_then(|m| m.get(user))
            .is_some_and(|holders| holders.iter().any(|h| self.nodes.name(h.node) != except))
    }

    /// The node holding `user` in a channel, if another one does.
    pub fn member_node(&self, app: &str, ct: ChannelType, channel: &str, user: &str) -> Option<String> {
        self.held(app, ct, channel, user).map(|h| self.nodes.name(h.node).to_string())
    }

    /// Channels where `user` is visible on other nodes.
    pub fn user_channels(&self, app: &str, user: &str) -> Vec<(ChannelType, String)> {
        let (Some(app), Some(user)) = (self.names.find(app), self.names.find(user)) else { return Vec::new() };
        let Some(at) = self.users.get(&(app, user)) else { return Vec::new() };
        let mut channels: Vec<(ChannelType, String)> =
            at.channels.iter().map(|(t, c, _)| (*t, c.to_string())).collect();
        channels.sort();
        channels
    }

    /// Members of a room on other nodes: user → (node, announced).
    pub fn room_members(&self, app: &str, room: &RoomId) -> BTreeMap<String, (String, bool)> {
        self.rooms.get(&(app.to_string(), room_key(room))).cloned().unwrap_or_default()
    }

    /// Publishers of a topic on other nodes: user → meta.
    pub fn publishers(&self, app: &str, channel: &str, topic: &str) -> BTreeMap<String, String> {
        self.publishers
            .get(&(app.to_string(), channel.to_string(), topic.to_string()))
            .map(|m| m.iter().map(|(u, (_, meta))| (u.clone(), meta.clone())).collect())
            .unwrap_or_default()
    }

    /// Topics of a stream channel with publishers on other nodes: topic → (user → meta).
    pub fn topics(&self, app: &str, channel: &str) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for ((a, c, topic), publishers) in &self.publishers {
            if a == app && c == channel {
                let entry = out.entry(topic.clone()).or_default();
                for (user, (_, meta)) in publishers {
                    entry.insert(user.clone(), meta.clone());
                }
            }
        }
        out
    }

    /// Until when (Unix ms) `user` may not enter a room, if a ban recorded elsewhere applies.
    pub fn ban(&self, app: &str, room: &RoomId, user: &str) -> Option<u64> {
        self.bans.get(&(app.to_string(), room_key(room), user.to_string())).copied()
    }
}

#[cfg(test)]
#[path = "directory_tests.rs"]
mod tests;
