//! Cluster recovery (docs/SCALING.md#recovery-after-a-node-dies): in cluster mode each message
//! channel keeps its recent messages in a log in Redis, each with an offset that its frame
//! carries (`o`). A client whose node died reconnects to another node and subscribes again with
//! `since`, the offset of the last message it got; this module sends it what it missed, once and
//! in order, before the live messages, and answers whether nothing was lost.
//!
//! The new member is added to the roster "recovering": logged messages that reach it meanwhile
//! are held, not sent. Once the node's subscription to the channel is active (so every later
//! message reaches it), the log is read after `since`; then, under the roster's lock (which
//! every delivery holds), the answer goes, the messages read, and the held ones that follow
//! them without a gap, and the member is live (skipping offsets it was sent). A gap between what
//! was read and what was held (or too much held) means another read from where it stopped.
//!
//! Offsets grow across a log's lives: a log that expired or was lost starts again above any
//! offset it had (the counter restarts from the clock), so an old `since` is never mistaken for
//! a position in a new log.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use parking_lot::Mutex;

use tokio_tungstenite::tungstenite::Message;

use super::channel::ChannelResponse;
use super::roster::Held;
use super::stop::WeakHub;
use super::storage::StorageJob;
use super::{Hub, Session};
use crate::broker::Route;
use crate::cluster::LogKeep;
use crate::protocol::{server, ChannelType};

/// Reads of the log before a recovering member goes live regardless (reporting a loss).
const MAX_READS: usize = 20;
/// How long to wait for the node's subscription to a channel before reading its log anyway.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(2);

/// A `subscribe` with `since` whose answer waits for its recovery.
pub(super) struct Recovery {
    pub id: Option<u64>,
    pub channel: String,
    pub since: u64,
    /// The member's held messages: identify the member this recovery is for.
    pub token: Arc<Mutex<Held>>,
    pub response: ChannelResponse,
    pub presence: bool,
    pub snapshot: Option<StorageJob>,
}

/// What one pass under the roster's lock found.
enum Pass {
    /// Everything up to here is sent and the member is live.
    Live,
    /// Sent up to this offset; what follows must be read from the log.
    Again(u64),
    /// The member is gone (unsubscribed, session ended, subscribed again).
    Gone,
}

impl Hub {
    /// What recovery logs keep, when this node is in a cluster with recovery on.
    pub(super) fn recovery(&self) -> Option<LogKeep> {
        self.cluster().and_then(|c| c.recovery())
    }

    /// With recovery on, what to wait for before answering a `subscribe` of `channel`: the
    /// node's Redis subscription to it, when not active yet (`None`: nothing to wait for).
    pub(super) fn until_subscribed(&self, session: &Session, channel: &str) -> Option<BoxFuture<'static, ()>> {
        use futures_util::FutureExt;
        self.recovery()?;
        let route = Route::Channel { app: session.app.clone(), channel: Arc::from(channel) };
        let mut wait = self.cluster()?.subscribed(&route);
        (&mut wait).now_or_never().is_none().then_some(wait)
    }

    /// Answers a `subscribe` once `wait` resolves (or after [`SUBSCRIBE_WAIT`]), then sends its
    /// SNAPSHOTs: a message published after the answer reaches the new member.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn answer_when_subscribed(
        &self,
        session: &Arc<Session>,
        wait: BoxFuture<'static, ()>,
        id: Option<u64>,
        response: ChannelResponse,
        channel: String,
        presence: bool,
        snapshot: Option<StorageJob>,
    ) {
        let session = session.clone();
        self.spawn_timer(move |hub| async move {
            let _ = tokio::time::timeout(SUBSCRIBE_WAIT, wait).await;
            let Some(hub) = hub.upgrade() else { return };
            let answer = server::ok(id.unwrap_or(0), &response);
            if let Some(id) = id {
                session.remember_answer(id, &answer);
            }
            hub.push(&session, answer);
            if presence {
                hub.presence_snapshot(&session, ChannelType::Message, &channel);
            }
            if let Some(job) = snapshot {
                hub.queue_storage(&session, job);
            }
        });
    }

    /// Recovers a new member that subscribed with `since`, then answers (see the module).
    pub(super) fn recover(&self, session: &Arc<Session>, recovery: Recovery) {
        let session = session.clone();
        self.spawn_timer(move |hub| run(hub, session, recovery));
    }
}

async fn run(hub: WeakHub, session: Arc<Session>, recovery: Recovery) {
    let Some(hub) = hub.upgrade() else { return };
    let Some(cluster) = hub.cluster().cloned() else { return };
    let route = Route::Channel { app: session.app.clone(), channel: Arc::from(recovery.channel.as_str()) };
    let confirmed = tokio::time::timeout(SUBSCRIBE_WAIT, cluster.subscribed(&route)).await.is_ok();
    let Recovery { id, channel, since, token, mut response, presence, snapshot } = recovery;
    // Replayed at most: half of what a connection may have queued.
    let mut budget = hub.config().connection.outbound_queue_bytes / 2;
    let mut sent = since;
    let mut answer = None;
    for read in 0..MAX_READS {
        let (mut frames, last_read, mut whole) = match cluster.read_log(&route, sent).await {
            // Nothing missing: nothing came since, or the log starts right after `sent`.
            Ok((frames, last)) => {
                let whole = last == sent || frames.first().is_some_and(|(o, _)| *o == sent + 1);
                (frames, last.max(sent), whole && last >= sent)
            }
            Err(e) => {
                tracing::warn!(channel = %channel, "recovery: {e}");
                (Vec::new(), sent, false)
            }
        };
        // More than a connection can take at once: the oldest are dropped.
        let mut bytes: usize = frames.iter().map(|(_, f)| f.len()).sum();
        while bytes > budget && !frames.is_empty() {
            bytes -= frames.remove(0).1.len();
            whole = false;
        }
        budget -= bytes;
        if read == 0 {
            // Whether the client gets every message after `since`: known at the first read
            // (later reads only fill what came while reading).
            response.recovered = Some(whole && confirmed);
            answer = Some(server::ok(id.unwrap_or(0), &response));
        }
        let give_up = read + 1 == MAX_READS;
        match pass(&hub, &session, &channel, id, &token, &mut answer, frames, last_read, give_up) {
            Pass::Live => break,
            Pass::Gone => {
                // Left or replaced meanwhile: the request is still answered.
                if let Some(answer) = answer.take() {
                    if let Some(id) = id {
                        session.remember_answer(id, &answer);
                    }
                    hub.push(&session, answer);
                }
                return;
            }
            Pass::Again(upto) => sent = upto,
        }
    }
    if presence {
        hub.presence_snapshot(&session, ChannelType::Message, &channel);
    }
    if let Some(job) = snapshot {
        hub.queue_storage(&session, job);
    }
}

/// One pass under the roster's lock: the answer (first pass), the messages read, then the held
/// ones that follow without a gap; the member goes live when nothing is missing.
#[allow(clippy::too_many_arguments)]
fn pass(
    hub: &Hub,
    session: &Arc<Session>,
    channel: &str,
    id: Option<u64>,
    token: &Arc<Mutex<Held>>,
    answer: &mut Option<Message>,
    frames: Vec<(u64, Message)>,
    last_read: u64,
    give_up: bool,
) -> Pass {
    let Some(app) = hub.app(&session.app) else { return Pass::Gone };
    let Some(channel) = app.channels.read().get(channel).cloned() else { return Pass::Gone };
    let mut roster = channel.roster.write();
    let ours = |m: &&mut super::roster::Member| {
        m.session.id == session.id && m.recovering.as_ref().is_some_and(|t| Arc::ptr_eq(t, token))
    };
    let Some(member) = roster.get_mut(&session.user).filter(ours) else { return Pass::Gone };
    if let Some(answer) = answer.take() {
        if let Some(id) = id {
            session.remember_answer(id, &answer);
        }
        hub.push(session, answer);
    }
    let mut upto = 0;
    for (offset, frame) in frames {
        if offset > upto {
            hub.push(session, frame);
            upto = offset;
        }
    }
    let mut upto = upto.max(last_read);
    let mut held = token.lock();
    if held.overflowed && !give_up {
        // Too much came meanwhile: read it from the log (holding again from now on).
        *held = Held::default();
        return Pass::Again(upto);
    }
    let frames = std::mem::take(&mut held.frames);
    held.bytes = 0;
    for (i, (offset, frame)) in frames.iter().enumerate() {
        if *offset <= upto {
            continue;
        }
        if *offset != upto + 1 && !give_up {
            // A gap: what is missing is in the log; keep the rest held.
            held.frames = frames[i..].to_vec();
            held.bytes = held.frames.iter().map(|(_, f)| f.len()).sum();
            return Pass::Again(upto);
        }
        hub.push(session, frame.clone());
        upto = *offset;
    }
    if give_up {
        tracing::warn!(user = %session.user, "recovery: the log could not be read to the end; going live");
    }
    drop(held);
    member.recovering = None;
    member.replayed = upto;
    Pass::Live
}
