//! The members of one channel on this node, with their presence settings and states. Message
//! channels and stream channels share it: it answers "who gets this frame" for messages and
//! presence events, and "who is here" for snapshots.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio_tungstenite::tungstenite::Message;

use super::{Session, Tally};
use crate::broker::Audience;

pub use crate::protocol::events::{States, UserState};

pub struct Member {
    pub session: Arc<Session>,
    pub with_message: bool,
    pub with_presence: bool,
    /// `beQuiet`: receives events but is invisible to others.
    pub quiet: bool,
    /// `withMetadata`: receives the channel's storage events.
    pub with_metadata: bool,
    /// `withLock`: receives the channel's lock events.
    pub with_lock: bool,
    /// The roster version its presence SNAPSHOT was taken at (`None` until it is sent): it
    /// gets the events of later changes only, so none overtakes the SNAPSHOT and none repeats
    /// it (see `Hub::presence_snapshot`).
    pub presence_after: Option<u64>,
    /// Cluster recovery in progress (`subscribe` with `since`): the logged messages that reached
    /// it meanwhile, held until the recovery sends them after the log's (see `hub::recovery`).
    pub recovering: Option<Arc<parking_lot::Mutex<Held>>>,
    /// Logged messages up to this offset were sent by the recovery: skipped when they come live.
    pub replayed: u64,
    pub states: States,
}

impl Member {
    fn wants(&self, audience: &Audience) -> bool {
        match audience {
            Audience::Messages | Audience::Logged { .. } => self.with_message,
            Audience::Presence { change } => {
                self.with_presence
                    && self.presence_after.is_some_and(|after| change.is_none_or(|change| change > after))
            }
            Audience::Metadata => self.with_metadata,
            Audience::Locks => self.with_lock,
            Audience::Everyone | Audience::BestEffort => true,
            // Topic subscriptions live in the stream channel, which filters itself.
            Audience::TopicSubscribers { .. } => false,
        }
    }
}

/// Logged messages held for a recovering member, in the order they came (the log's).
#[derive(Default)]
pub struct Held {
    pub frames: Vec<(u64, Message)>,
    pub bytes: usize,
    /// More came than [`HELD_MAX_BYTES`]: the recovery reads them from the log instead.
    pub overflowed: bool,
}

/// Bytes of live messages held for one recovering member at most.
pub const HELD_MAX_BYTES: usize = 1024 * 1024;

impl Held {
    fn hold(&mut self, offset: u64, frame: &Message) {
        if self.overflowed || self.bytes + frame.len() > HELD_MAX_BYTES {
            self.overflowed = true;
            return;
        }
        self.bytes += frame.len();
        self.frames.push((offset, frame.clone()));
    }
}

/// Members by user id (one RTM session per user and app).
///
/// Most channels have a few members on a node (at 100,000 users in 10,000 channels of ten on six
/// nodes, one or two), so a roster is sized for that: the list grows one member at a time while
/// it is short (a `Vec` starts at four, 288 bytes for one member), and a user is found by going
/// through it until it holds more than [`SCANNED`] members; only then is an index kept (a map
/// of even one entry is over 100 bytes).
#[derive(Default)]
pub struct Roster {
    list: Vec<Member>,
    /// user → place in `list`: empty while the list is short, complete otherwise.
    index: HashMap<Arc<str>, usize>,
    /// The version of its last change others hear about (an arrival, a departure, states).
    version: u64,
}

/// Versions of roster changes, counted process-wide: a channel that empties is dropped and a
/// new one may take its name while the old one's last events are still on their way, so a
/// version must order changes across rosters too.
static CHANGES: AtomicU64 = AtomicU64::new(0);

/// A roster finds a user by going through at most this many members; a longer one keeps an
/// index (dropped again once it is down to half of this).
const SCANNED: usize = 16;

impl Roster {
    /// Adds a member, or updates the settings of the same user; returns whether it was new.
    pub fn upsert(&mut self, member: Member) -> bool {
        if let Some(i) = self.position(&member.session.user) {
            let existing = &mut self.list[i];
            // Another session of the user, or presence asked for now: a SNAPSHOT is due again.
            if existing.session.id != member.session.id || (member.with_presence && !existing.with_presence) {
                existing.presence_after = member.presence_after;
            }
            // Another session: its own recovery (or none), nothing replayed yet.
            if existing.session.id != member.session.id {
                existing.recovering = member.recovering.clone();
                existing.replayed = member.replayed;
            }
            existing.with_message = member.with_message;
            existing.with_presence = member.with_presence;
            existing.quiet = member.quiet;
            existing.with_metadata = member.with_metadata;
            existing.with_lock = member.with_lock;
            existing.session = member.session;
            return false;
        }
        let (i, user) = (self.list.len(), member.session.user.clone());
        if i == self.list.capacity() && i < SCANNED {
            // Doubling from one, not from four.
            self.list.reserve_exact(i.max(1));
        }
        self.list.push(member);
        if !self.index.is_empty() {
            self.index.insert(user, i);
        } else if self.list.len() > SCANNED {
            self.index = self.list.iter().enumerate().map(|(i, m)| (m.session.user.clone(), i)).collect();
        }
        self.changed();
        true
    }

    /// Where `user` is in the list.
    fn position(&self, user: &str) -> Option<usize> {
        if self.index.is_empty() {
            self.list.iter().position(|m| *m.session.user == *user)
        } else {
            self.index.get(user).copied()
        }
    }

    /// Removes `user` if its member belongs to session `session_id`.
    pub fn remove(&mut self, user: &str, session_id: u64) -> Option<Member> {
        let i = self.position(user)?;
        if self.list[i].session.id != session_id {
            return None;
        }
        self.changed();
        let member = self.list.swap_remove(i);
        if !self.index.is_empty() {
            self.index.remove(user);
            if i < self.list.len() {
                let moved = self.list[i].session.user.clone();
                self.index.insert(moved, i);
            }
            if self.list.len() <= SCANNED / 2 {
                self.index = HashMap::new();
            }
        }
        if self.list.len() < self.list.capacity() / 4 {
            // A crowd that left gives its room back (amortized: as many removals as it copies).
            self.list.shrink_to(self.list.len() * 2);
        }
        Some(member)
    }

    /// The version of the last change (see [`Audience::Presence`]).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Counts a change (of states, or of members); returns its version.
    pub fn changed(&mut self) -> u64 {
        self.version = CHANGES.fetch_add(1, Ordering::SeqCst) + 1;
        self.version
    }

    /// The version a SNAPSHOT taken now (under the roster's lock) shows: every change it
    /// shows has this version or a lower one, every later change a higher one.
    pub fn now(&self) -> u64 {
        CHANGES.load(Ordering::SeqCst)
    }

    pub fn get(&self, user: &str) -> Option<&Member> {
        self.position(user).map(|i| &self.list[i])
    }

    pub fn get_mut(&mut self, user: &str) -> Option<&mut Member> {
        self.position(user).map(|i| &mut self.list[i])
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Member> {
        self.list.iter()
    }

    /// Users others can see (not `beQuiet`).
    pub fn occupancy(&self) -> usize {
        self.list.iter().filter(|m| !m.quiet).count()
    }

    /// Who is here, with states (quiet members are invisible), sorted by user id.
    pub fn snapshot(&self) -> Vec<UserState> {
        self.first_visible(usize::MAX)
    }

    /// The first `limit` visible users by user id, sorted. Selecting before sorting keeps a
    /// join into a crowded channel O(n) and clones only the users kept.
    pub fn first_visible(&self, limit: usize) -> Vec<UserState> {
        let mut visible: Vec<&Member> = self.list.iter().filter(|m| !m.quiet).collect();
        let by_user = |a: &&Member, b: &&Member| a.session.user.cmp(&b.session.user);
        if visible.len() > limit {
            visible.select_nth_unstable_by(limit, by_user);
            visible.truncate(limit);
        }
        visible.sort_unstable_by(by_user);
        visible.into_iter().map(|m| UserState::new(&m.session.user, &m.states)).collect()
    }

    /// Pushes `frame` to the members in `audience` (except `skip`), recording the outcomes.
    pub fn deliver(&self, frame: &Message, audience: &Audience, skip: Option<&str>, tally: &mut Tally) {
        for member in self.list.iter().filter(|m| m.wants(audience)) {
            if skip.is_some_and(|s| *s == *member.session.user) {
                continue;
            }
            match (audience, &member.recovering) {
                (Audience::Logged { offset }, Some(held)) => {
                    held.lock().hold(*offset, frame);
                    continue;
                }
                (Audience::Logged { offset }, None) if *offset <= member.replayed => continue,
                // Not in the log (published while Redis was unreachable): a recovering member
                // cannot get it in order.
                (Audience::Messages, Some(_)) => continue,
                _ => {}
            }
            tally.record(&member.session, member.session.outbox.push(frame.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::session::QueueLimits;
    use crate::protocol::SessionKind;

    fn member(user: &str, id: u64) -> Member {
        let budget = Arc::new(crate::hub::budget::Budget::new(0));
        let limits = QueueLimits { unsent: 1 << 20, retain: 1 << 20, budget };
        let session = Session::new(id, Arc::from("app"), Arc::from(user), SessionKind::Rtm, (5, 5), limits);
        Member {
            session: Arc::new(session),
            with_message: true,
            with_presence: false,
            quiet: false,
            with_metadata: false,
            with_lock: false,
            presence_after: Some(0),
            recovering: None,
            replayed: 0,
            states: States::new(),
        }
    }

    #[test]
    fn a_roster_finds_its_members_at_every_size_and_stays_small_when_short() {
        let mut roster = Roster::default();
        assert!(roster.upsert(member("u0", 0)));
        assert_eq!(roster.list.capacity(), 1, "one member, room for one");
        assert!(roster.index.is_empty());
        // Up past the index's threshold and back down, checked against a model each step.
        let mut model: Vec<String> = vec!["u0".into()];
        for i in 1..40u64 {
            assert!(roster.upsert(member(&format!("u{i}"), i)));
            model.push(format!("u{i}"));
            assert_eq!(roster.index.is_empty(), roster.len() <= SCANNED, "{} members", roster.len());
            assert!(model.iter().all(|u| roster.get(u).is_some_and(|m| *m.session.user == **u)), "{i}");
            assert!(roster.get("nobody").is_none());
        }
        assert!(!roster.upsert(member("u7", 7)), "the same user again is an update");
        let order = (0..40u64).rev().step_by(3).chain((0..40u64).filter(|i| (39 - i) % 3 != 0));
        for (step, i) in order.enumerate() {
            let user = format!("u{i}");
            assert!(roster.remove(&user, i + 1000).is_none(), "another session's member stays");
            let removed = roster.remove(&user, i).is_some();
            assert_eq!(removed, model.contains(&user), "step {step}: {user}");
            model.retain(|u| *u != user);
            for u in &model {
                assert_eq!(roster.get(u).map(|m| &*m.session.user), Some(u.as_str()), "step {step}");
            }
            assert_eq!(roster.len(), model.len());
            assert!(roster.get(&user).is_none());
            assert!(roster.index.is_empty() || roster.index.len() == roster.len());
            if roster.len() <= SCANNED / 2 {
                assert!(roster.index.is_empty(), "{} members, still indexed", roster.len());
            }
            assert!(roster.list.capacity() <= 4 * roster.len() + 4, "{} kept", roster.list.capacity());
        }
        assert!(roster.is_empty() && model.is_empty());
    }
}
