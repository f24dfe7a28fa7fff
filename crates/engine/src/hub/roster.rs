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
#[derive(Default)]
pub struct Roster {
    list: Vec<Member>,
    index: HashMap<Arc<str>, usize>,
    /// The version of its last change others hear about (an arrival, a departure, states).
    version: u64,
}

/// Versions of roster changes, counted process-wide: a channel that empties is dropped and a
/// new one may take its name while the old one's last events are still on their way, so a
/// version must order changes across rosters too.
static CHANGES: AtomicU64 = AtomicU64::new(0);

impl Roster {
    /// Adds a member, or updates the settings of the same user; returns whether it was new.
    pub fn upsert(&mut self, member: Member) -> bool {
        if let Some(&i) = self.index.get(&member.session.user) {
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
        self.index.insert(member.session.user.clone(), self.list.len());
        self.list.push(member);
        self.changed();
        true
    }

    /// Removes `user` if its member belongs to session `session_id`.
    pub fn remove(&mut self, user: &str, session_id: u64) -> Option<Member> {
        let &i = self.index.get(user)?;
        if self.list[i].session.id != session_id {
            return None;
        }
        self.index.remove(user);
        self.changed();
        let member = self.list.swap_remove(i);
        if i < self.list.len() {
            let moved = self.list[i].session.user.clone();
            self.index.insert(moved, i);
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
        self.index.get(user).map(|&i| &self.list[i])
    }

    pub fn get_mut(&mut self, user: &str) -> Option<&mut Member> {
        self.index.get(user).map(|&i| &mut self.list[i])
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
