//! A session: one logged-in user of one app (one RTM login, or one TRTC room entry), with its
//! outbound queue and what it has joined. Channels hold `Arc<Session>`s and push frames straight
//! into the outbox; the writer of the attached connection drains it.
//!
//! A session outlives its connection: when the link drops, the session is *detached* for its
//! presence timeout — still a member everywhere, still queueing frames — and a client that comes
//! back with the session's id and secret resumes it. Past the timeout it ends (REMOTE_TIMEOUT).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rand::Rng;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::outbox::Outbox;
use super::room::CmdRate;
use super::roster::States;
use crate::auth::Verified;
use crate::protocol::{ChannelType, RoomId, SessionKind, SubscribeOptions};

/// What a session has joined; the hub keeps it in step with the channels.
#[derive(Debug, Default)]
pub struct SessionState {
    /// Message channels subscribed.
    pub channels: Subscribed,
    /// Stream channels joined.
    pub streams: HashSet<Arc<str>>,
    /// The TRTC room entered.
    pub room: Option<RoomId>,
    /// Counts detaches; a presence timeout only ends the session if no resume came since.
    pub detach_generation: u64,
    /// Whether no connection is attached now.
    pub detached: bool,
    /// Set once the session has been removed from the hub; nothing may be added after that.
    pub ended: bool,
    /// The session ended because its user moved to another node: its leaves are not news.
    pub moved: bool,
    /// Its opening is done (login hook included): from then on the server's shutdown may end
    /// it; one that opens meanwhile is ended by its connection (`server::conn`).
    pub opened: bool,
    /// What few sessions use, allocated by the first that does (`None` until then).
    rare: Option<Box<Rare>>,
    /// Locks this session holds, with their ttl.
    pub held_locks: super::locks::HeldLocks,
}

/// The message channels a session subscribed, with their options: a list searched in order
/// (at most `limits.maxSubscriptionsPerClient`, 100 by default; most sessions have one or two),
/// grown one at a time up to [`EXACT_CHANNELS`]: two channels take 48 bytes where a map's first
/// four buckets took 128.
#[derive(Debug, Default)]
pub struct Subscribed(Vec<(Arc<str>, SubscribeOptions)>);

/// Subscriptions up to which the list grows exactly.
const EXACT_CHANNELS: usize = 8;

impl Subscribed {
    pub fn contains_key(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| **n == *name)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `name`, or replaces its options.
    pub fn insert(&mut self, name: Arc<str>, options: SubscribeOptions) {
        if let Some(slot) = self.0.iter_mut().find(|(n, _)| **n == *name) {
            slot.1 = options;
            return;
        }
        if self.0.len() == self.0.capacity() && self.0.len() < EXACT_CHANNELS {
            self.0.reserve_exact(1);
        }
        self.0.push((name, options));
    }

    pub fn remove(&mut self, name: &str) -> Option<SubscribeOptions> {
        let i = self.0.iter().position(|(n, _)| **n == *name)?;
        let (_, options) = self.0.swap_remove(i);
        if self.0.len() < self.0.capacity() / 4 {
            self.0.shrink_to_fit();
        }
        Some(options)
    }

    /// Takes every subscription out.
    pub fn drain(&mut self) -> impl Iterator<Item = (Arc<str>, SubscribeOptions)> {
        std::mem::take(&mut self.0).into_iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &Arc<str>> {
        self.0.iter().map(|(n, _)| n)
    }
}

/// The parts of a session's state that most sessions never use: maps of 48 bytes each kept in
/// every session were what held `Session` in a 1,024-byte allocation (768 without them).
#[derive(Debug, Default)]
pub struct Rare {
    /// States set for channels not joined yet; applied on join.
    pub pending_states: HashMap<(ChannelType, Arc<str>), States>,
    /// Channels the user was visible in on another node when this session opened (it is moving
    /// here): joining them again is not news.
    pub arriving: HashSet<(ChannelType, Arc<str>)>,
    /// Users whose metadata this session subscribed to (`subscribeUserMetadata`).
    pub meta_subs: HashSet<Arc<str>>,
    /// Realtime scopes joined.
    pub scopes: HashSet<Arc<str>>,
}

impl SessionState {
    /// The rarely used parts, if any was used.
    pub fn rare(&self) -> Option<&Rare> {
        self.rare.as_deref()
    }

    /// The rarely used parts, if any was used, to change (nothing is made).
    pub fn rare_mut(&mut self) -> Option<&mut Rare> {
        self.rare.as_deref_mut()
    }

    /// The rarely used parts, made on first use.
    pub fn rare_or_new(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Default::default)
    }
}

/// Answers kept per session for repeated request ids.
pub const REMEMBERED_ANSWERS: usize = 64;

/// Largest answer kept for a repeated request id.
pub const MAX_REMEMBERED_ANSWER_BYTES: usize = 16 * 1024;

/// What is kept of a request's answer: its bytes, shared with the frame sent (not the
/// frame's 56-byte `Message`: a kept answer takes 48 bytes beside them).
#[derive(Debug)]
enum Kept {
    Pending,
    Text(Utf8Bytes),
    Binary(bytes::Bytes),
    TooLarge,
}

impl Kept {
    fn answer(message: &Message) -> Kept {
        match message {
            _ if message.len() > MAX_REMEMBERED_ANSWER_BYTES => Kept::TooLarge,
            Message::Text(text) => Kept::Text(text.clone()),
            Message::Binary(data) => Kept::Binary(data.clone()),
            // Answers are data frames; anything else is not kept.
            _ => Kept::TooLarge,
        }
    }

    fn message(&self) -> Option<Message> {
        match self {
            Kept::Text(text) => Some(Message::Text(text.clone())),
            Kept::Binary(bytes) => Some(Message::Binary(bytes.clone())),
            Kept::Pending | Kept::TooLarge => None,
        }
    }
}

/// The answers of a session's latest requests. Most sessions make a few requests (log in,
/// subscribe): the list grows one at a time up to [`EXACT_ANSWERS`] (two answers take 96 bytes
/// where a `VecDeque`'s first four slots took 256), by doubling past it.
type Answers = std::collections::VecDeque<(u64, Kept)>;

/// Kept answers up to which the list grows exactly.
const EXACT_ANSWERS: usize = 8;

/// What a request id is to a session (see [`Session::claim_request`]).
#[derive(Debug)]
pub enum Claim {
    /// Above every id so far: handle it.
    New,
    /// A repeat of an answered request: send this answer again.
    Answered(Message),
    /// A repeat of a request still being handled: its answer will come.
    Pending,
    /// A repeat older than the answers kept, or an id below the last one.
    Stale { last: u64 },
}

pub struct Session {
    /// Unique per server process (never reused).
    pub id: u64,
    /// What a client must present to resume this session.
    pub resume_secret: String,
    pub app: Arc<str>,
    pub user: Arc<str>,
    pub kind: SessionKind,
    pub heartbeat_secs: u32,
    pub presence_timeout_secs: u32,
    pub outbox: Outbox,
    pub state: Mutex<SessionState>,
    /// Highest request id handled; after a resume the client re-sends the requests after it.
    pub last_request: AtomicU64,
    /// Rate of TRTC custom messages (made by the first).
    pub(crate) cmd_rate: Mutex<Option<Box<CmdRate>>>,
    /// What the session's tokens grant, and until when.
    pub(crate) tokens: Mutex<Tokens>,
    /// The answers of its latest requests, to answer a repeated request id without running it
    /// again.
    answers: Mutex<Answers>,
    /// The queue of its storage requests (created with the first; see `hub::storage`).
    pub(crate) storage_jobs: Mutex<Option<tokio::sync::mpsc::Sender<super::storage::StorageJob>>>,
}

/// The tokens of a session: the login token's grant, the expiries of stream-channel tokens,
/// and a generation that makes older expiry timers harmless after a renewal.
#[derive(Debug)]
pub(crate) struct Tokens {
    pub login: Verified,
    pub streams: HashMap<Arc<str>, u64>,
    pub generation: u64,
}

/// Sizes of a session's outbox.
#[derive(Clone)]
pub struct QueueLimits {
    /// Unsent bytes before the slow-consumer policy applies.
    pub unsent: usize,
    /// Sent bytes kept for resume.
    pub retain: usize,
    /// The node's budget for every session's queued bytes.
    pub budget: Arc<super::budget::Budget>,
}

impl Session {
    pub fn new(
        id: u64,
        app: Arc<str>,
        user: Arc<str>,
        kind: SessionKind,
        timing: (u32, u32),
        queue: QueueLimits,
    ) -> Self {
        let secret: u128 = rand::rng().random();
        Session {
            id,
            resume_secret: format!("{secret:032x}"),
            app,
            user,
            kind,
            heartbeat_secs: timing.0,
            presence_timeout_secs: timing.1,
            outbox: Outbox::with_budget(queue.unsent, queue.retain, queue.budget),
            state: Mutex::new(SessionState::default()),
            last_request: AtomicU64::new(0),
            cmd_rate: Mutex::new(None),
            storage_jobs: Mutex::new(None),
            answers: Mutex::new(Answers::new()),
            tokens: Mutex::new(Tokens {
                login: Verified { expires_at: u64::MAX, privileges: Default::default() },
                streams: HashMap::new(),
                generation: 0,
            }),
        }
    }

    /// Claims request id `id`: new (above every id before), or a repeat (answered from memory,
    /// still being handled, or too old to be answered again).
    pub fn claim_request(&self, id: u64) -> Claim {
        let mut answers = self.answers.lock();
        let last = self.last_request.load(Ordering::Acquire);
        if id > last || (id == 0 && last == 0 && answers.is_empty()) {
            self.last_request.store(id, Ordering::Release);
            if answers.len() >= REMEMBERED_ANSWERS {
                // The oldest answered one goes; a request still pending is never forgotten.
                if let Some(i) = answers.iter().position(|(_, kept)| !matches!(kept, Kept::Pending)) {
                    answers.remove(i);
                }
            }
            if answers.len() == answers.capacity() && answers.len() < EXACT_ANSWERS {
                answers.reserve_exact(1);
            }
            answers.push_back((id, Kept::Pending));
            return Claim::New;
        }
        match answers.iter().find(|(a, _)| *a == id) {
            Some((_, Kept::Pending)) => Claim::Pending,
            Some((_, kept)) => kept.message().map_or(Claim::Stale { last }, Claim::Answered),
            None => Claim::Stale { last },
        }
    }

    /// Keeps the answer of request `id` (see [`Session::claim_request`]).
    pub fn remember_answer(&self, id: u64, answer: &Message) {
        if let Some(slot) = self.answers.lock().iter_mut().rev().find(|(a, _)| *a == id) {
            // Big answers (history pages, whole metadata) are not kept: a repeat of their id is
            // refused as too old rather than pinning their memory.
            slot.1 = Kept::answer(answer);
        }
    }

    /// Whether the session has ended.
    pub fn is_ended(&self) -> bool {
        self.state.lock().ended
    }

    /// Whether no connection is attached now.
    pub fn is_detached(&self) -> bool {
        self.state.lock().detached
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session#{}({}/{}/{:?})", self.id, self.app, self.user, self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every connection holds one `Session` in an `Arc` (16 bytes of counts before it). The
    /// allocator serves 768, 896 or 1,024 bytes (mimalloc's size classes): three maps most
    /// sessions never use held it at 992 bytes, in the largest; the TRTC custom-message rate
    /// (80 bytes) and the realtime scopes (a 48-byte set) at 872, in the middle one.
    #[test]
    fn a_session_fits_the_smallest_allocation() {
        let arc = std::mem::size_of::<Session>() + 16;
        assert!(arc <= 768, "Arc<Session> is {arc} bytes");
    }

    fn session() -> Session {
        let budget = Arc::new(super::super::budget::Budget::new(0));
        let limits = QueueLimits { unsent: 1 << 20, retain: 1 << 20, budget };
        Session::new(1, Arc::from("app"), Arc::from("u"), SessionKind::Rtm, (5, 5), limits)
    }

    #[test]
    fn answers_are_kept_in_a_list_that_grows_one_at_a_time_and_given_again() {
        let session = session();
        let text = Message::Text(r#"{"t":"ok","id":1}"#.into());
        let binary = Message::Binary(bytes::Bytes::from_static(&[0, 0, 0, 2, b'{', b'}', 9]));
        assert!(matches!(session.claim_request(1), Claim::New));
        assert!(matches!(session.claim_request(1), Claim::Pending));
        session.remember_answer(1, &text);
        assert!(matches!(session.claim_request(2), Claim::New));
        session.remember_answer(2, &binary);
        assert_eq!(session.answers.lock().capacity(), 2, "two answers, two slots");
        assert!(matches!(session.claim_request(1), Claim::Answered(ref m) if *m == text));
        assert!(matches!(session.claim_request(2), Claim::Answered(ref m) if *m == binary));
        // Too large to keep: a repeat is refused as stale, not run again.
        assert!(matches!(session.claim_request(3), Claim::New));
        session.remember_answer(3, &Message::Text("x".repeat(MAX_REMEMBERED_ANSWER_BYTES + 1).into()));
        assert!(matches!(session.claim_request(3), Claim::Stale { last: 3 }));
        // Past the exact steps the list doubles; at most REMEMBERED_ANSWERS are kept.
        for id in 4..=200 {
            assert!(matches!(session.claim_request(id), Claim::New));
            session.remember_answer(id, &text);
        }
        let answers = session.answers.lock();
        assert_eq!(answers.len(), REMEMBERED_ANSWERS);
        assert!(answers.capacity() <= 2 * REMEMBERED_ANSWERS);
        drop(answers);
        assert!(matches!(session.claim_request(137), Claim::Answered(_)));
        assert!(matches!(session.claim_request(136), Claim::Stale { .. }));
    }

    #[test]
    fn subscriptions_are_a_list_that_grows_one_at_a_time() {
        let mut channels = Subscribed::default();
        let quiet = SubscribeOptions { be_quiet: true, ..SubscribeOptions::default() };
        channels.insert(Arc::from("a"), SubscribeOptions::default());
        channels.insert(Arc::from("b"), SubscribeOptions::default());
        channels.insert(Arc::from("a"), quiet);
        assert_eq!((channels.len(), channels.0.capacity()), (2, 2));
        assert!(channels.contains_key("a") && channels.contains_key("b") && !channels.contains_key("c"));
        assert!(channels.remove("a").is_some_and(|o| o.be_quiet), "the options given last");
        assert!(channels.remove("a").is_none());
        for i in 0..100 {
            channels.insert(Arc::from(format!("c{i}")), SubscribeOptions::default());
        }
        assert_eq!(channels.len(), 101);
        for i in 0..100 {
            assert!(channels.remove(&format!("c{i}")).is_some());
        }
        assert!(channels.0.capacity() <= 8, "a crowd that left gives its room back");
        let names: Vec<Arc<str>> = channels.drain().map(|(name, _)| name).collect();
        assert_eq!(names, [Arc::from("b")]);
        assert!(channels.is_empty());
    }

    #[test]
    fn the_rare_parts_are_made_on_first_use() {
        let mut state = SessionState::default();
        assert!(state.rare().is_none() && state.rare_mut().is_none());
        state.rare_or_new().meta_subs.insert(Arc::from("u"));
        assert!(state.rare().is_some_and(|r| r.meta_subs.contains("u")));
    }
}
