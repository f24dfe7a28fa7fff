//! After a reconnect that could not resume: the restore steps' answers are counted, and once
//! the last one is in, `CONNECTED` is reported with what could not be rebuilt — and, in cluster
//! mode with recovery, whether every message channel got what it missed (`isResumed`). Each
//! message's recovery offset is remembered for its channel (the next restore's `since`).

use serde_json::value::RawValue;

use super::{Inner, LinkOperation, LinkReason, LinkState, LinkStateEvent, State};
use crate::error::Result;
use crate::protocol::{ChannelType, Subscribe};

/// A restore in progress: answers still expected, channels that failed.
#[derive(Debug, Default)]
pub(crate) struct Restoring {
    waiting: usize,
    unrestored: Vec<String>,
    /// Subscriptions with messages restored, and how many the server said it recovered whole
    /// (cluster recovery, with `since`).
    message_channels: usize,
    recovered: usize,
}

impl Restoring {
    /// A restore of `steps` steps.
    pub(super) fn of(steps: usize) -> Restoring {
        Restoring { waiting: steps, ..Restoring::default() }
    }

    /// A restored subscription was answered.
    pub(super) fn subscribe_answered(&mut self, f: &Subscribe, result: &Result<Box<RawValue>>) {
        self.message_channels += usize::from(f.with_message);
        if f.since.is_some() && f.with_message {
            let whole = result.as_ref().is_ok_and(|answer| {
                serde_json::from_str::<serde_json::Value>(answer.get())
                    .is_ok_and(|a| a["recovered"] == serde_json::Value::Bool(true))
            });
            self.recovered += usize::from(whole);
        }
    }
}

impl State {
    /// One restore step was answered; returns the finished restore after the last one.
    pub(super) fn restore_step_done(&mut self, channel: &str, ok: bool) -> Option<Restoring> {
        let restoring = self.restoring.as_mut()?;
        if !ok && !restoring.unrestored.iter().any(|c| c == channel) {
            restoring.unrestored.push(channel.to_string());
        }
        restoring.waiting -= 1;
        if restoring.waiting == 0 {
            self.restoring.take()
        } else {
            None
        }
    }
}

impl Inner {
    /// A restore finished: report CONNECTED with the channels that could not be rebuilt.
    pub(super) fn restored(&self, restored: Restoring) {
        let mut event = LinkStateEvent::new(
            LinkState::Connected,
            LinkState::Connected,
            LinkOperation::Reconnected,
            LinkReason::ReconnectSuccess,
        );
        event.affected_channels = self.state.lock().memory.channels();
        // Every message channel got what it missed (cluster recovery): nothing was lost. A
        // channel without an offset (no message yet when the link dropped) cannot say so.
        event.is_resumed = restored.message_channels > 0
            && restored.recovered == restored.message_channels
            && restored.unrestored.is_empty();
        event.unrestored_channels = restored.unrestored;
        self.set_link_with(event);
    }

    /// A message came with its recovery offset: remembered for its channel.
    pub(crate) fn saw_offset(&self, header: &RawValue, offset: u64) {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Where {
            channel_type: ChannelType,
            channel_name: String,
        }
        if let Ok(at) = serde_json::from_str::<Where>(header.get()) {
            if at.channel_type == ChannelType::Message {
                self.state.lock().memory.saw_offset(&at.channel_name, offset);
            }
        }
    }
}
