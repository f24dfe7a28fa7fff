//! The directory: who is where in the cluster. Each node publishes entries about its own
//! sessions (online users, channel members with their presence states, room members, topic
//! publishers, room bans) and keeps a mirror of the other nodes' entries, so that presence
//! queries, snapshots, room member lists and "is this user online" are answered from memory,
//! without a round trip to Redis on the request path.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

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

/// A name shared by every index that mentions it (see [`Names`]).
pub(super) type Name = Arc<str>;
type RoomKey = (String, String);
/// (app, channel, topic).
type TopicKey = (String, String, String);
/// user → (node, meta).
type Publishers = BTreeMap<String, (String, String)>;

/// Where a user has a session: the node, the session, the entry's timeout.
struct OnlineAt {
    node: Name,
    session: u64,
    timeout: u32,
}

/// A node holding a user in a channel. Most users are held by one node, so the list keeps one
/// inline; the last one is the one the questions answer with.
struct Held {
    node: Name,
    /// `None` when empty (most members have no states): 8 bytes instead of a map's 24.
    states: Option<Box<States>>,
    timeout: u32,
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
    fn entry(&self, app: &str, kind: SessionKind, user: &str) -> Entry {
        let (app, user) = (app.to_string(), user.to_string());
        Entry::Online { app, kind, user, session: self.session, timeout: self.timeout }
    }
}

/// (app, kind, user) → the user's sessions elsewhere.
type Online = HashMap<(Name, SessionKind, Name), SmallVec<[OnlineAt; 1]>>;
/// (app, channel type, channel) → user → the nodes holding the user there.
type Members = HashMap<(Name, ChannelType, Name), Sorted<SmallVec<[Held; 1]>>>;
/// (app, user) → (channel type, channel, how many nodes hold the user there).
type UserChannels = HashMap<(Name, Name), SmallVec<[(ChannelType, Name, u32); 2]>>;

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
        let name: Name = Arc::from(name);
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
        self.set.retain(|name| Arc::strong_count(name) > 1);
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
/// interned names: tests/directory_memory.rs holds a mirrored user under 600 bytes. Rooms,
/// topic publishers and bans are few; they are kept whole per node and indexed beside.
#[derive(Default)]
pub struct Mirror {
    names: Names,
    online: Online,
    members: Members,
    user_channels: UserChannels,
    /// How many sessions and channel members each node has in the indexes (a node without any
    /// is not looked for there).
    counts: HashMap<Name, usize>,
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
                let key = (self.names.get(&app), kind, self.names.get(&user));
                let sessions = self.online.entry(key).or_default();
                match sessions.iter_mut().find(|at| *at.node == *node && at.session == session) {
                    Some(at) => at.timeout = timeout,
                    None => {
                        let node = self.names.get(node);
                        *self.counts.entry(node.clone()).or_default() += 1;
                        sessions.push(OnlineAt { node, session, timeout });
                    }
                }
            }
            Entry::Member { app, ct, channel, user, states, timeout } => {
                let (app, channel, user) = (self.names.get(&app), self.names.get(&channel), self.names.get(&user));
                let states = (!states.is_empty()).then(|| Box::new(states));
                let holders =
                    self.members.entry((app.clone(), ct, channel.clone())).or_default().get_or_default(user.clone());
                if let Some(i) = holders.iter().position(|h| *h.node == *node) {
                    // The latest write answers the questions: the updated holder goes last.
                    let mut held = holders.remove(i);
                    held.states = states;
                    held.timeout = timeout;
                    holders.push(held);
                    return;
                }
                let node = self.names.get(node);
                *self.counts.entry(node.clone()).or_default() += 1;
                holders.push(Held { node, states, timeout });
                let channels = self.user_channels.entry((app, user)).or_default();
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

    /// Removes an entry of `node`.
    pub fn remove(&mut self, node: &str, key: &str) -> Option<Entry> {
        match parse_key(key) {
            Some(Parsed::Online { app, kind, user, session }) => {
                let names = (self.names.find(&app)?, kind, self.names.find(&user)?);
                let sessions = self.online.get_mut(&names)?;
                let at = sessions.iter().position(|at| *at.node == *node && at.session == session)?;
                let at = sessions.remove(at);
                if sessions.is_empty() {
                    self.online.remove(&names);
                }
                self.uncount(node);
                // The names it referenced: app, user, node.
                self.names.release(3);
                Some(Entry::Online { app, kind, user, session, timeout: at.timeout })
            }
            Some(Parsed::Member { app, ct, channel, user }) => {
                let names = (self.names.find(&app)?, ct, self.names.find(&channel)?);
                let user_name = self.names.find(&user)?;
                let members = self.members.get_mut(&names)?;
                let holders = members.get_mut(&user_name)?;
                let held = holders.iter().position(|h| *h.node == *node)?;
                let held = holders.remove(held);
                if holders.is_empty() {
                    members.remove(&user_name);
                    if members.is_empty() {
                        self.members.remove(&names);
                    }
                }
                self.forget_user_channel(&names.0, &user_name, ct, &names.2);
                self.uncount(node);
                // The names it referenced: app, channel, user, node.
                self.names.release(4);
                Some(Entry::Member { app, ct, channel, user, states: held.states(), timeout: held.timeout })
            }
            None => {
                let entry = self.others.get_mut(node)?.remove(key)?;
                self.unindex(node, &entry);
                Some(entry)
            }
        }
    }

    /// One online or member entry of `node` fewer.
    fn uncount(&mut self, node: &str) {
        if let Some(count) = self.counts.get_mut(node) {
            *count -= 1;
            if *count == 0 {
                self.counts.remove(node);
            }
        }
    }

    fn forget_user_channel(&mut self, app: &Name, user: &Name, ct: ChannelType, channel: &Name) {
        let key = (app.clone(), user.clone());
        if let Some(channels) = self.user_channels.get_mut(&key) {
            if let Some(i) = channels.iter().position(|(t, c, _)| *t == ct && c == channel) {
                channels[i].2 -= 1;
                if channels[i].2 == 0 {
                    channels.swap_remove(i);
                }
            }
            if channels.is_empty() {
                self.user_channels.remove(&key);
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
        if self.counts.remove(node).is_some() {
            self.drop_indexed(node, &mut entries);
        }
        let others: Vec<Entry> = self.others.remove(node).map(|m| m.into_values().collect()).unwrap_or_default();
        for entry in &others {
            self.unindex(node, entry);
        }
        entries.extend(others);
        self.names.sweep();
        entries
    }

    /// Takes `node`'s sessions and channel members out of the indexes, into `entries`.
    fn drop_indexed(&mut self, node: &str, entries: &mut Vec<Entry>) {
        self.online.retain(|(app, kind, user), sessions| {
            sessions.retain(|at| {
                let mine = *at.node == *node;
                if mine {
                    entries.push(at.entry(app, *kind, user));
                }
                !mine
            });
            !sessions.is_empty()
        });
        let mut left = Vec::new();
        self.members.retain(|(app, ct, channel), members| {
            members.retain(|user, holders| {
                holders.retain(|held| {
                    let mine = *held.node == *node;
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
        shrink(&mut self.online);
        shrink(&mut self.members);
        shrink(&mut self.user_channels);
        shrink(&mut self.counts);
    }

    /// The entries of `node`.
    pub fn entries_of(&self, node: &str) -> Vec<Entry> {
        let mut entries = Vec::new();
        // The indexes are scanned only for a node that has entries there.
        if !self.counts.contains_key(node) {
            entries.extend(self.others.get(node).into_iter().flat_map(|m| m.values().cloned()));
            return entries;
        }
        for ((app, kind, user), sessions) in &self.online {
            entries.extend(sessions.iter().filter(|at| *at.node == *node).map(|at| at.entry(app, *kind, user)));
        }
        for ((app, ct, channel), members) in &self.members {
            for (user, holders) in members {
                let mine = holders.iter().filter(|h| *h.node == *node);
                entries.extend(mine.map(|held| held.entry(app, *ct, channel, user)));
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
        self.online
            .get(&(app, kind, user))
            .map(|s| s.iter().map(|at| at.node.to_string()).collect())
            .unwrap_or_default()
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
            .is_some_and(|holders| holders.iter().any(|h| *h.node != *except))
    }

    /// The node holding `user` in a channel, if another one does.
    pub fn member_node(&self, app: &str, ct: ChannelType, channel: &str, user: &str) -> Option<String> {
        self.held(app, ct, channel, user).map(|h| h.node.to_string())
    }

    /// Channels where `user` is visible on other nodes.
    pub fn user_channels(&self, app: &str, user: &str) -> Vec<(ChannelType, String)> {
        let (Some(app), Some(user)) = (self.names.find(app), self.names.find(user)) else { return Vec::new() };
        self.user_channels
            .get(&(app, user))
            .map(|c| {
                let mut channels: Vec<(ChannelType, String)> = c.iter().map(|(t, c, _)| (*t, c.to_string())).collect();
                channels.sort();
                channels
            })
            .unwrap_or_default()
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
mod tests {
    use super::*;

    fn member(user: &str, channel: &str) -> Entry {
        Entry::Member {
            app: "a".into(),
            ct: ChannelType::Message,
            channel: channel.into(),
            user: user.into(),
            states: States::new(),
            timeout: 5,
        }
    }

    #[test]
    fn entries_are_indexed_and_unindexed() {
        let mut mirror = Mirror::default();
        mirror.insert("n1", member("u1", "c"));
        mirror.insert("n2", member("u2", "c"));
        mirror.insert("n1", member("u1", "d"));
        assert_eq!(mirror.members("a", ChannelType::Message, "c").len(), 2);
        assert_eq!(mirror.user_channels("a", "u1").len(), 2);
        let key = member("u1", "c").key();
        assert!(mirror.remove("n1", &key).is_some());
        assert_eq!(mirror.members("a", ChannelType::Message, "c").keys().collect::<Vec<_>>(), ["u2"]);
        assert_eq!(mirror.drop_node("n2").len(), 1);
        assert!(mirror.members("a", ChannelType::Message, "c").is_empty());
        assert_eq!(mirror.user_channels("a", "u1"), vec![(ChannelType::Message, "d".to_string())]);
    }

    #[test]
    fn removals_by_key_give_back_the_whole_entry() {
        let mut mirror = Mirror::default();
        let states: States = [("mood".to_string(), "ok".to_string())].into();
        let with_states = Entry::Member {
            app: "a".into(),
            ct: ChannelType::Stream,
            channel: "s".into(),
            user: "u:1".into(),
            states: states.clone(),
            timeout: 7,
        };
        let online =
            Entry::Online { app: "a".into(), kind: SessionKind::Trtc, user: "u:1".into(), session: 42, timeout: 9 };
        let ban = Entry::Ban { app: "a".into(), room: RoomId::Num(5), user: "u:1".into(), until_ms: 1 };
        for entry in [&with_states, &online, &ban] {
            mirror.insert("n1", entry.clone());
        }
        assert_eq!(mirror.member_states("a", ChannelType::Stream, "s", "u:1"), Some(states));
        assert_eq!(mirror.online("a", SessionKind::Trtc, "u:1"), ["n1"]);
        assert!(mirror.online("a", SessionKind::Rtm, "u:1").is_empty());
        let mut all = mirror.entries_of("n1");
        all.sort_by_key(Entry::key);
        let mut expected = vec![with_states.clone(), online.clone(), ban.clone()];
        expected.sort_by_key(Entry::key);
        assert_eq!(all, expected);
        // Another node's key removes nothing; the owner's gives the entry back as it was.
        assert_eq!(mirror.remove("n2", &online.key()), None);
        assert_eq!(mirror.remove("n1", &online.key()), Some(online));
        assert_eq!(mirror.remove("n1", &with_states.key()), Some(with_states));
        assert_eq!(mirror.remove("n1", &ban.key()), Some(ban));
        assert!(mirror.entries_of("n1").is_empty());
        assert!(mirror.user_channels("a", "u:1").is_empty());
        assert_eq!(mirror.remove("n1", r#"["member","a"]"#), None);
    }

    #[test]
    fn a_user_held_by_two_nodes_stays_until_both_let_go() {
        let mut mirror = Mirror::default();
        mirror.insert("n1", member("u", "c"));
        mirror.insert("n2", member("u", "c"));
        assert_eq!(mirror.member_node("a", ChannelType::Message, "c", "u").as_deref(), Some("n2"));
        assert_eq!(mirror.member_count("a", ChannelType::Message, "c"), 1);
        assert_eq!(mirror.drop_node("n2").len(), 1);
        assert_eq!(mirror.member_node("a", ChannelType::Message, "c", "u").as_deref(), Some("n1"));
        assert_eq!(mirror.user_channels("a", "u"), vec![(ChannelType::Message, "c".to_string())]);
        // Inserting the same entry again replaces it rather than adding a holder.
        mirror.insert("n1", member("u", "c"));
        assert_eq!(mirror.remove("n1", &member("u", "c").key()).map(|e| e.key()), Some(member("u", "c").key()));
        assert!(mirror.members("a", ChannelType::Message, "c").is_empty());
        assert!(mirror.user_channels("a", "u").is_empty());
        mirror.drop_node("n1");
        assert!(mirror.names.set.is_empty());
    }

    #[test]
    fn every_kind_of_key_is_read_back() {
        let mut mirror = Mirror::default();
        let odd = "u \"quoted\" \\ ü 🙂";
        let mut entries = Vec::new();
        for kind in [SessionKind::Rtm, SessionKind::Trtc] {
            entries.push(Entry::Online { app: "a".into(), kind, user: odd.into(), session: u64::MAX, timeout: 1 });
        }
        for ct in [ChannelType::Message, ChannelType::Stream, ChannelType::User] {
            entries.push(Entry::Member {
                app: "a".into(),
                ct,
                channel: odd.into(),
                user: odd.into(),
                states: States::new(),
                timeout: 1,
            });
        }
        for entry in &entries {
            mirror.insert("n1", entry.clone());
        }
        for entry in entries {
            assert_eq!(mirror.remove("n1", &entry.key()), Some(entry));
        }
        assert!(mirror.counts.is_empty() && mirror.online.is_empty() && mirror.members.is_empty());
    }

    #[test]
    fn the_latest_write_answers_and_any_other_holder_counts() {
        let mut mirror = Mirror::default();
        let with = |mood: &str| Entry::Member {
            app: "a".into(),
            ct: ChannelType::Message,
            channel: "c".into(),
            user: "u".into(),
            states: [("mood".to_string(), mood.to_string())].into(),
            timeout: 5,
        };
        mirror.insert("n1", with("old"));
        mirror.insert("n2", with("moved"));
        mirror.insert("n1", with("new"));
        let states = mirror.member_states("a", ChannelType::Message, "c", "u").unwrap();
        assert_eq!(states["mood"], "new");
        assert!(mirror.member_held_elsewhere("a", ChannelType::Message, "c", "u", "n1"));
        mirror.drop_node("n2");
        assert!(!mirror.member_held_elsewhere("a", ChannelType::Message, "c", "u", "n1"));
        assert!(!mirror.member_held_elsewhere("a", ChannelType::Message, "d", "u", "n9"));
    }

    #[test]
    fn names_of_removed_entries_do_not_pile_up() {
        let mut mirror = Mirror::default();
        for i in 0..20_000 {
            let (user, channel) = (format!("u{i}"), format!("private-{i}"));
            let entry = member(&user, &channel);
            mirror.insert("n1", entry.clone());
            mirror
                .insert("n1", Entry::Online { app: "a".into(), kind: SessionKind::Rtm, user, session: 1, timeout: 1 });
            mirror.remove("n1", &entry.key());
        }
        // 20,000 users online, their 20,000 private channels gone.
        let in_use = 20_000 + 2;
        assert!(mirror.names.set.len() <= in_use * 3 / 2 + 2048, "{} names kept", mirror.names.set.len());
    }

    #[test]
    fn keys_cannot_collide_across_separators() {
        let a = member("b:c", "a").key();
        let b = member("c", "a:b").key();
        assert_ne!(a, b);
        let num = Entry::Ban { app: "a".into(), room: RoomId::Num(5), user: "u".into(), until_ms: 1 };
        let text = Entry::Ban { app: "a".into(), room: RoomId::Str("5".into()), user: "u".into(), until_ms: 1 };
        assert_ne!(num.key(), text.key());
    }
}
