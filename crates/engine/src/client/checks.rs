//! The client-side checks of a request: names, sizes, payloads — a bad call is refused before
//! anything is sent (the server checks again, for clients that are not this one).

use super::Payload;
use crate::error::{Error, ErrorCode, Result};
use crate::names;
use crate::protocol::{ChannelType, ClientFrame};

/// The client-side checks of a request: names, sizes, payloads (the server checks again).
pub(super) fn check_request(
    frame: &ClientFrame,
    payload: Option<&Payload>,
    max_message: usize,
    max_realtime: usize,
) -> Result<()> {
    let too_big = |len: usize, max: usize, what: &str| {
        Error::new(
            ErrorCode::ChannelMessageLengthExceedLimitation,
            format!("{what} is {len} bytes; at most {max} are allowed"),
        )
    };
    match frame {
        ClientFrame::Subscribe(f) => names::channel(&f.channel),
        ClientFrame::Unsubscribe(f) => names::channel(&f.channel),
        ClientFrame::Join(f) => names::channel(&f.channel),
        ClientFrame::Leave(f) => names::channel(&f.channel),
        ClientFrame::JoinTopic(f) => {
            names::channel(&f.channel)?;
            names::topic(&f.topic)?;
            if f.meta.len() > crate::hub::MAX_TOPIC_META_BYTES {
                return Err(Error::new(
                    ErrorCode::ChannelInvalidTopicMeta,
                    format!(
                        "topic meta is {} bytes; at most {} are allowed",
                        f.meta.len(),
                        crate::hub::MAX_TOPIC_META_BYTES
                    ),
                ));
            }
            Ok(())
        }
        ClientFrame::LeaveTopic(f) => names::channel(&f.channel).and_then(|_| names::topic(&f.topic)),
        ClientFrame::PublishTopic(f) => {
            names::channel(&f.channel)?;
            names::topic(&f.topic)?;
            names::custom_type(&f.custom_type)?;
            let len =
                payload.map(|p| p.as_bytes().len()).ok_or_else(|| Error::invalid("publishTopic needs a message"))?;
            if len > max_message {
                return Err(too_big(len, max_message, "message"));
            }
            Ok(())
        }
        ClientFrame::SubscribeTopic(f) | ClientFrame::UnsubscribeTopic(f) => {
            names::channel(&f.channel).and_then(|_| names::topic(&f.topic))
        }
        ClientFrame::RealtimeJoin(f) | ClientFrame::RealtimeLeave(f) => names::scope(&f.scope),
        ClientFrame::RealtimeSend(f) => {
            names::scope(&f.scope)?;
            let len = payload.map(|p| p.as_bytes().len()).unwrap_or(0);
            if len > max_realtime {
                return Err(too_big(len, max_realtime, "realtime data"));
            }
            Ok(())
        }
        ClientFrame::WhoNow(f) => names::channel(&f.channel).and_then(|_| presence_type(f.channel_type)),
        ClientFrame::WhereNow(f) => names::user_id(&f.user_id),
        ClientFrame::SetState(f) => {
            names::channel(&f.channel)?;
            presence_type(f.channel_type)?;
            crate::hub::presence::check_states(&f.states)
        }
        ClientFrame::GetState(f) => {
            names::user_id(&f.user_id)?;
            names::channel(&f.channel)?;
            presence_type(f.channel_type)
        }
        ClientFrame::RemoveState(f) => names::channel(&f.channel).and_then(|_| presence_type(f.channel_type)),
        ClientFrame::EnterRoom(f) => crate::hub::room::check_room_id(&f.room),
        ClientFrame::SwitchRoom(f) => crate::hub::room::check_room_id(&f.room),
        ClientFrame::CustomCmd(f) => {
            if !crate::hub::room::CUSTOM_CMD_IDS.contains(&f.cmd_id) {
                return Err(Error::invalid(format!(
                    "cmdId {} is outside {:?}",
                    f.cmd_id,
                    crate::hub::room::CUSTOM_CMD_IDS
                )));
            }
            if f.reliable != f.ordered {
                return Err(Error::invalid("reliable and ordered must be both true or both false"));
            }
            let len = payload.map(|p| p.as_bytes().len()).unwrap_or(0);
            if len > crate::hub::room::MAX_CUSTOM_CMD_BYTES {
                return Err(too_big(len, crate::hub::room::MAX_CUSTOM_CMD_BYTES, "custom message"));
            }
            Ok(())
        }
        ClientFrame::SetMetadata(f) | ClientFrame::UpdateMetadata(f) | ClientFrame::RemoveMetadata(f) => {
            crate::hub::storage_target("", f.channel_type, f.channel.as_deref(), f.user_id.as_deref()).map(drop)
        }
        ClientFrame::GetMetadata(f) => {
            crate::hub::storage_target("", f.channel_type, f.channel.as_deref(), f.user_id.as_deref()).map(drop)
        }
        ClientFrame::SubscribeUserMetadata(f) | ClientFrame::UnsubscribeUserMetadata(f) => names::user_id(&f.user_id),
        ClientFrame::SetLock(f)
        | ClientFrame::AcquireLock(f)
        | ClientFrame::ReleaseLock(f)
        | ClientFrame::RemoveLock(f)
        | ClientFrame::RevokeLock(f) => {
            crate::hub::lock_channel(f.channel_type, &f.channel)?;
            names::lock_name(&f.lock_name)
        }
        ClientFrame::GetLock(f) => crate::hub::lock_channel(f.channel_type, &f.channel),
        ClientFrame::GetMessages(f) => match f.channel_type {
            ChannelType::Message => names::channel(&f.channel),
            ChannelType::User => names::user_id(&f.channel),
            ChannelType::Stream => {
                Err(Error::new(ErrorCode::InvalidChannelType, "history is kept for MESSAGE and USER channels"))
            }
        },
        _ => Ok(()),
    }
}

fn presence_type(channel_type: ChannelType) -> Result<()> {
    if channel_type == ChannelType::User {
        return Err(Error::new(ErrorCode::InvalidChannelType, "presence applies to MESSAGE and STREAM channels"));
    }
    Ok(())
}
