//! The directory: who is where in the cluster. Each node publishes entries about its own
//! sessions (online users, channel members with their presence states, room members, topic
//! publishers, room bans) and keeps a mirror of the other nodes' entries, so that presence
//! queries, snapshots, room member lists and "is this user online" are answered from memory,
//! without a round trip to Redis on the request path.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::hub::roster::States;
use crate::protocol::{ChannelType, RoomId, Scene, SessionKind};

/// One fact about a session of the node that owns the entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum Entry {
    /// A session is online.
    #[serde(rename = "online")]
    Online { app: String, kind: SessionKind, user: String, session: u64, timeout: u32 },
    /// A visible (not `beQuiet`) member of a message or stream channel, with its states.
    #[serde(rename = "member")]
    Member { app: String, ct: ChannelType, channel: String, user: String, states: States, timeout: u32 },
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

type ChannelKey = (String, ChannelType, String);
type RoomKey = (String, String);
/// (app, channel, topic).
type TopicKey = (String, String, String);
/// user → (node, meta).
type Publishers = BTreeMap<String, (String, String)>;
/// (app, kind, user) → the (node, session) of each of the user's sessions elsewhere.
type Online = HashMap<(String, SessionKind, String), Vec<(Arc<str>, u64)>>;
/// (app, user) → (channel type, channel, how many nodes list the user there).
type UserChannels = HashMap<(String, String), Vec<(ChannelType, String, usize)>>;

/// The other nodes' entries, indexed for the questions the hub asks. Every node holds one
/// for the whole cluster, so the per-user indexes are kept small: a user's sessions and
/// channels are short vectors (most users have one session and a few channels), node ids
/// are shared.
#[derive(Default)]
pub struct Mirror {
    by_node: HashMap<String, HashMap<String, Entry>>,
    /// Node ids, shared by the indexes.
    node_ids: HashMap<String, Arc<str>>,
    online: Online,
    members: HashMap<ChannelKey, BTreeMap<String, (Arc<str>, States)>>,
    user_channels: UserChannels,
    rooms: HashMap<RoomKey, BTreeMap<String, (String, bool)>>,
    publishers: HashMap<TopicKey, Publishers>,
    bans: HashMap<(String, String, String), u64>,
}

impl Mirror {
    /// Records (or replaces) an entry of `node`.
    pub fn insert(&mut self, node: &str, entry: Entry) {
        let key = entry.key();
        if let Some(old) = self.by_node.get(node).and_then(|m| m.get(&key)).cloned() {
            self.unindex(node, &old);
        }
        self.index(node, &entry);
        self.by_node.entry(node.to_string()).or_default().insert(key, entry);
    }

    /// Removes an entry of `node`.
    pub fn remove(&mut self, node: &str, key: &str) -> Option<Entry> {
        let entry = self.by_node.get_mut(node)?.remove(key)?;
        self.unindex(node, &entry);
        Some(entry)
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
        let entries: Vec<Entry> = self.by_node.remove(node).map(|m| m.into_values().collect()).unwrap_or_default();
        self.node_ids.remove(node);
        for entry in &entries {
            self.unindex(node, entry);
        }
        entries
    }

    /// The entries of `node`.
    pub fn entries_of(&self, node: &str) -> Vec<Entry> {
        self.by_node.get(node).map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    fn index(&mut self, node: &str, entry: &Entry) {
        let id = self.node_ids.entry(node.to_string()).or_insert_with(|| Arc::from(node)).clone();
        let node = node.to_string();
        match entry.clone() {
            Entry::Online { app, kind, user, session, .. } => {
                let sessions = self.online.entry((app, kind, user)).or_default();
                if !sessions.iter().any(|(n, s)| **n == *node && *s == session) {
                    sessions.push((id, session));
                }
            }
            Entry::Member { app, ct, channel, user, states, .. } => {
                self.members.entry((app.clone(), ct, channel.clone())).or_default().insert(user.clone(), (id, states));
                let channels = self.user_channels.entry((app, user)).or_default();
                match channels.iter_mut().find(|(t, c, _)| *t == ct && *c == channel) {
                    Some((_, _, count)) => *count += 1,
                    None => channels.push((ct, channel, 1)),
                }
            }
            Entry::RoomMember { app, room, user, announced, .. } => {
                self.rooms.entry((app, room_key(&room))).or_default().insert(user, (node, announced));
            }
            Entry::Publisher { app, channel, topic, user, meta, .. } => {
                self.publishers.entry((app, channel, topic)).or_default().insert(user, (node, meta));
            }
            Entry::Ban { app, room, user, until_ms } => {
                self.bans.insert((app, room_key(&room), user), until_ms);
            }
        }
    }

    fn unindex(&mut self, node: &str, entry: &Entry) {
        match entry {
            Entry::Online { app, kind, user, session, .. } => {
                let key = (app.clone(), *kind, user.clone());
                if let Some(sessions) = self.online.get_mut(&key) {
                    sessions.retain(|(n, s)| !(**n == *node && s == session));
                    if sessions.is_empty() {
                        self.online.remove(&key);
                    }
                }
            }
            Entry::Member { app, ct, channel, user, .. } => {
                let key = (app.clone(), *ct, channel.clone());
                if let Some(members) = self.members.get_mut(&key) {
                    if members.get(user).is_some_and(|(n, _)| **n == *node) {
                        members.remove(user);
                    }
                    if members.is_empty() {
                        self.members.remove(&key);
                    }
                }
                let ukey = (app.clone(), user.clone());
                if let Some(channels) = self.user_channels.get_mut(&ukey) {
                    if let Some(i) = channels.iter().position(|(t, c, _)| t == ct && c == channel) {
                        channels[i].2 -= 1;
                        if channels[i].2 == 0 {
                            channels.swap_remove(i);
                        }
                    }
                    if channels.is_empty() {
                        self.user_channels.remove(&ukey);
                    }
                }
            }
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
        }
    }

    // ---- questions

    /// Nodes (other than this one) where `user` has a session of `kind`.
    pub fn online(&self, app: &str, kind: SessionKind, user: &str) -> Vec<String> {
        self.online
            .get(&(app.to_string(), kind, user.to_string()))
            .map(|s| s.iter().map(|(node, _)| node.to_string()).collect())
            .unwrap_or_default()
    }

    /// Visible members of a channel on other nodes: user → states.
    pub fn members(&self, app: &str, ct: ChannelType, channel: &str) -> BTreeMap<String, States> {
        self.members
            .get(&(app.to_string(), ct, channel.to_string()))
            .map(|m| m.iter().map(|(user, (_, states))| (user.clone(), states.clone())).collect())
            .unwrap_or_default()
    }

    /// How many visible members a channel has on other nodes (without copying them).
    pub fn member_count(&self, app: &str, ct: ChannelType, channel: &str) -> usize {
        self.members.get(&(app.to_string(), ct, channel.to_string())).map_or(0, BTreeMap::len)
    }

    /// The first `limit` visible members of a channel on other nodes, by user id.
    pub fn first_members(&self, app: &str, ct: ChannelType, channel: &str, limit: usize) -> Vec<(String, States)> {
        self.members
            .get(&(app.to_string(), ct, channel.to_string()))
            .map(|m| m.iter().take(limit).map(|(user, (_, states))| (user.clone(), states.clone())).collect())
            .unwrap_or_default()
    }

    /// The states of `user` in a channel, if another node holds it there.
    pub fn member_states(&self, app: &str, ct: ChannelType, channel: &str, user: &str) -> Option<States> {
        self.members.get(&(app.to_string(), ct, channel.to_string()))?.get(user).map(|(_, states)| states.clone())
    }

    /// The node holding `user` in a channel, if another one does.
    pub fn member_node(&self, app: &str, ct: ChannelType, channel: &str, user: &str) -> Option<String> {
        self.members.get(&(app.to_string(), ct, channel.to_string()))?.get(user).map(|(node, _)| node.to_string())
    }

    /// Channels where `user` is visible on other nodes.
    pub fn user_channels(&self, app: &str, user: &str) -> Vec<(ChannelType, String)> {
        self.user_channels
            .get(&(app.to_string(), user.to_string()))
            .map(|c| {
                let mut channels: Vec<(ChannelType, String)> = c.iter().map(|(t, c, _)| (*t, c.clone())).collect();
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
    fn keys_cannot_collide_across_separators() {
        let a = member("b:c", "a").key();
        let b = member("c", "a:b").key();
        assert_ne!(a, b);
        let num = Entry::Ban { app: "a".into(), room: RoomId::Num(5), user: "u".into(), until_ms: 1 };
        let text = Entry::Ban { app: "a".into(), room: RoomId::Str("5".into()), user: "u".into(), until_ms: 1 };
        assert_ne!(num.key(), text.key());
    }
}
