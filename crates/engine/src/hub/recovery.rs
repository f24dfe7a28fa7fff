//! Cluster recovery (docs/SCALING.md#recovery-after-a-node-dies): in cluster mode each message
//! channel keeps its recent messages in a log in Redis, each with an offset that its frame
//! carries (`o`). A client whose node died reconnects to another node and subscribes again with
//! `since`, the offset of the last message it got; this module sends it what it missed, once and
//! in order, before the live messages, and answers whether nothing was lost.
//!
//! The new member is added to the roster "recovering": logged messages that reach it meanwhile
//! are not sent, only their offsets noted. Once the node's subscription to the channel is active
//! (so every later message reaches it), the log is read after `since` and, under the roster's
//! lock (which every delivery holds), the answer and what was read are sent; if a live message
//! newer than the read came meanwhile, the log is read again from there. When the read covers
//! every live message seen, the member goes live, skipping the offsets it was sent.

use std::sync::Arc;
use std::time::Duration;

use tokio_tungstenite::tungstenite::Message;

use super::channel::ChannelResponse;
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
    pub response: ChannelResponse,
    pub presence: bool,
    pub snapshot: Option<StorageJob>,
}

/// What one pass under the roster's lock found.
enum Pass {
    /// Everything up to this offset is sent and the member is live.
    Live,
    /// Sent up to this offset; a newer live message came: read again.
    Again(u64),
    /// The member is gone (unsubscribed, session ended).
    Gone,
}

impl Hub {
    /// What recovery logs keep, when this node is in a cluster with recovery on.
    pub(super) fn recovery(&self) -> Option<LogKeep> {
        self.cluster().and_then(|c| c.recovery())
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
    let _ = tokio::time::timeout(SUBSCRIBE_WAIT, cluster.subscribed(&route)).await;
    let Recovery { id, channel, since, mut response, presence, snapshot } = recovery;
    let mut sent = since;
    let mut answer = None;
    for read in 0..MAX_READS {
        let mut result = cluster.read_log(&route, sent).await;
        let mut whole = true;
        if let Ok((_, last)) = &result {
            if *last < sent {
                // The log is younger than the client's offset (it expired, or Redis lost it):
                // everything in it is new to the client, and what came before it is lost.
                whole = false;
                sent = 0;
                result = cluster.read_log(&route, 0).await;
            }
        }
        let (frames, last_read) = match result {
            Ok((frames, last)) => {
                // Nothing missing: nothing came since, or the log starts right after `sent`.
                whole &= last == sent || frames.first().is_some_and(|(o, _)| *o == sent + 1);
                (frames, last.max(sent))
            }
            Err(e) => {
                tracing::warn!(channel = %channel, "recovery: {e}");
                whole = false;
                (Vec::new(), sent)
            }
        };
        if read == 0 {
            // Whether the client gets every message after `since`: known at the first read.
            response.recovered = Some(whole);
            answer = Some(server::ok(id.unwrap_or(0), &response));
        }
        let give_up = read + 1 == MAX_READS;
        match pass(&hub, &session, &channel, id, &mut answer, frames, sent, last_read, give_up) {
            Pass::Live => break,
            Pass::Gone => {
                // Left meanwhile: the request is still answered.
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

/// One pass under the roster's lock: the answer (first pass), the frames read, and then either
/// the member goes live, or a newer live message means another read.
#[allow(clippy::too_many_arguments)]
fn pass(
    hub: &Hub,
    session: &Arc<Session>,
    channel: &str,
    id: Option<u64>,
    answer: &mut Option<Message>,
    frames: Vec<(u64, Message)>,
    sent: u64,
    last_read: u64,
    give_up: bool,
) -> Pass {
    let Some(app) = hub.app(&session.app) else { return Pass::Gone };
    let Some(channel) = app.channels.read().get(channel).cloned() else { return Pass::Gone };
    let mut roster = channel.roster.write();
    let Some(member) = roster.get_mut(&session.user).filter(|m| m.session.id == session.id) else {
        return Pass::Gone;
    };
    let Some(seen) = member.recovering.clone() else { return Pass::Live };
    if let Some(answer) = answer.take() {
        if let Some(id) = id {
            session.remember_answer(id, &answer);
        }
        hub.push(session, answer);
    }
    let mut upto = sent;
    for (offset, frame) in frames {
        if offset > upto {
            hub.push(session, frame);
            upto = offset;
        }
    }
    let upto = upto.max(last_read);
    let newest_live = seen.load(std::sync::atomic::Ordering::Acquire);
    if newest_live > upto && !give_up {
        return Pass::Again(upto);
    }
    member.recovering = None;
    member.replayed = upto;
    Pass::Live
}
