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

use parking_lot::Mutex;

use tokio_tungstenite::tungstenite::Message;

use super::channel::{ChannelResponse, Recovering};
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

/// A `subscribe` whose answer waits (cluster recovery), and what follows the answer.
struct Deferred {
    id: Option<u64>,
    response: ChannelResponse,
    /// A presence SNAPSHOT follows (`withPresence`).
    presence: bool,
    /// Storage and lock SNAPSHOTs follow (`withMetadata` / `withLock`).
    snapshot: Option<StorageJob>,
}

impl Deferred {
    /// The SNAPSHOTs that follow the answer.
    fn then(self, hub: &Hub, session: &Arc<Session>) {
        if self.presence {
            hub.presence_snapshot(session, ChannelType::Message, &self.response.channel_name);
        }
        if let Some(job) = self.snapshot {
            hub.queue_storage(session, job);
        }
    }
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

    /// The answer to a successful `subscribe`: now (`Some`), or, with recovery on, later —
    /// after the recovery of a member that asked for it (`recovering`), or once the node's Redis
    /// subscription to the channel is active (its messages reach the node only through Redis,
    /// so a message published after the answer must find it subscribed). A deferred answer
    /// takes the SNAPSHOTs that follow it (`presence`, `snapshot`) along.
    pub(super) fn answer_subscribe(
        &self,
        session: &Arc<Session>,
        id: Option<u64>,
        response: ChannelResponse,
        recovering: Option<Recovering>,
        presence: &mut Option<(ChannelType, String)>,
        snapshot: &mut Option<StorageJob>,
    ) -> Option<Message> {
        use futures_util::FutureExt;
        let waiting = match (recovering, self.recovery().and(self.cluster())) {
            (Some(recovering), _) => Err(recovering),
            (None, Some(cluster)) => {
                let route =
                    Route::Channel { app: session.app.clone(), channel: Arc::from(response.channel_name.as_str()) };
                let mut wait = cluster.subscribed(&route);
                match (&mut wait).now_or_never() {
                    Some(()) => return super::reply(id, &response),
                    None => Ok(wait),
                }
            }
            (None, None) => return super::reply(id, &response),
        };
        let deferred = Deferred { id, response, presence: presence.take().is_some(), snapshot: snapshot.take() };
        let session = session.clone();
        match waiting {
            Err((since, token)) => self.spawn_timer(move |hub| run(hub, session, since, token, deferred)),
            Ok(wait) => self.spawn_timer(move |hub| async move {
                let _ = tokio::time::timeout(SUBSCRIBE_WAIT, wait).await;
                let Some(hub) = hub.upgrade() else { return };
                send_answer(&hub, &session, deferred.id, server::ok(deferred.id.unwrap_or(0), &deferred.response));
                deferred.then(&hub, &session);
            }),
        }
        None
    }
}

/// Sends a deferred answer, kept for a repeat of its id.
fn send_answer(hub: &Hub, session: &Arc<Session>, id: Option<u64>, answer: Message) {
    if let Some(id) = id {
        session.remember_answer(id, &answer);
    }
    hub.push(session, answer);
}

async fn run(hub: WeakHub, session: Arc<Session>, since: u64, token: Arc<Mutex<Held>>, mut deferred: Deferred) {
    let Some(hub) = hub.upgrade() else { return };
    let Some(cluster) = hub.cluster().cloned() else { return };
    let channel = deferred.response.channel_name.clone();
    let route = Route::Channel { app: session.app.clone(), channel: Arc::from(channel.as_str()) };
    let confirmed = tokio::time::timeout(SUBSCRIBE_WAIT, cluster.subscribed(&route)).await.is_ok();
    let id = deferred.id;
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
            deferred.response.recovered = Some(whole && confirmed);
            answer = Some(server::ok(id.unwrap_or(0), &deferred.response));
        }
        let give_up = read + 1 == MAX_READS;
        match pass(&hub, &session, &channel, id, &token, &mut answer, frames, last_read, give_up) {
            Pass::Live => break,
            Pass::Gone => {
                // Left or replaced meanwhile: the request is still answered.
                if let Some(answer) = answer.take() {
                    send_answer(&hub, &session, id, answer);
                }
                return;
            }
            Pass::Again(upto) => sent = upto,
        }
    }
    deferred.then(&hub, &session);
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
        send_answer(hub, session, id, answer);
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
