//! Locks of a channel (SPEC §4.6): one document per channel, lock name → ttl and owner.
//! [`apply`] computes one operation on it; it is pure, so every store runs the same rules.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};

/// Shortest and longest lock ttl, seconds (the SDK's bounds).
pub const TTL_RANGE: std::ops::RangeInclusive<u32> = 10..=300;

/// A lock as reported (`LockDetail`): `owner` '' when nobody holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LockDetail {
    pub lock_name: String,
    pub owner: String,
    pub ttl: u32,
}

/// The stored state of one lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockState {
    pub ttl: u32,
    pub owner: String,
}

/// A channel's locks by name: the stored document.
pub type LocksDoc = BTreeMap<String, LockState>;

/// `LockEventType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LockEventType {
    Snapshot,
    Set,
    Removed,
    Acquired,
    Released,
    Expired,
}

/// One operation on a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOp {
    /// `setLock`: define it (free) with this ttl.
    Set { ttl: u32 },
    /// `removeLock`.
    Remove,
    /// `acquireLock`: take it when free (or already ours).
    Acquire { user: String },
    /// `releaseLock`: give it back (only its owner).
    Release { user: String },
    /// `revokeLock`: take it away from `owner`.
    Revoke { owner: String },
    /// The owner's connection stayed away for the ttl: free it, if `user` still owns it.
    Expire { user: String },
}

/// What an operation did: the lock after it, and the event to tell subscribers (`None`: nothing
/// changed, e.g. acquiring a lock one already holds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOutcome {
    pub event: Option<LockEventType>,
    pub detail: LockDetail,
}

fn not_exist(name: &str) -> Error {
    Error::new(ErrorCode::LockNotExist, format!("there is no lock {name:?} in this channel (setLock defines one)"))
}

/// Applies `op` to lock `name` in `doc`.
pub fn apply(doc: &mut LocksDoc, name: &str, op: &LockOp, max_locks: usize) -> Result<LockOutcome> {
    let outcome = |event, state: &LockState| LockOutcome {
        event,
        detail: LockDetail { lock_name: name.to_string(), owner: state.owner.clone(), ttl: state.ttl },
    };
    if let LockOp::Set { ttl } = op {
        if !TTL_RANGE.contains(ttl) {
            return Err(Error::invalid(format!("ttl {ttl} is outside 10..=300 seconds")));
        }
        if doc.contains_key(name) {
            return Err(Error::new(ErrorCode::LockAlreadyExist, format!("lock {name:?} already exists")));
        }
        if doc.len() >= max_locks {
            return Err(Error::new(
                ErrorCode::LockOperationFailed,
                format!("this channel has {} locks; at most {max_locks} are allowed", doc.len()),
            ));
        }
        let state = LockState { ttl: *ttl, owner: String::new() };
        let result = outcome(Some(LockEventType::Set), &state);
        doc.insert(name.to_string(), state);
        return Ok(result);
    }
    if let LockOp::Remove = op {
        let state = doc.remove(name).ok_or_else(|| not_exist(name))?;
        return Ok(outcome(Some(LockEventType::Removed), &state));
    }
    let state = doc.get_mut(name).ok_or_else(|| not_exist(name))?;
    let event = match op {
        LockOp::Acquire { user } if state.owner == *user => None,
        LockOp::Acquire { user } if state.owner.is_empty() => {
            state.owner = user.clone();
            Some(LockEventType::Acquired)
        }
        LockOp::Acquire { .. } => {
            return Err(Error::new(ErrorCode::LockAcquireFailed, format!("lock {name:?} is held by {:?}", state.owner)))
        }
        LockOp::Release { user } | LockOp::Revoke { owner: user } if state.owner != *user => {
            let held = if state.owner.is_empty() { "nobody".to_string() } else { format!("{:?}", state.owner) };
            return Err(Error::new(
                ErrorCode::LockNotAcquired,
                format!("lock {name:?} is not held by {user:?} (it is held by {held})"),
            ));
        }
        LockOp::Release { .. } | LockOp::Revoke { .. } => {
            state.owner.clear();
            Some(LockEventType::Released)
        }
        LockOp::Expire { user } if state.owner == *user => {
            state.owner.clear();
            Some(LockEventType::Expired)
        }
        LockOp::Expire { .. } => None,
        LockOp::Set { .. } | LockOp::Remove => unreachable!("handled above"),
    };
    Ok(outcome(event, state))
}

/// Every lock of a channel, by name.
pub fn details(doc: &LocksDoc) -> Vec<LockDetail> {
    doc.iter().map(|(name, s)| LockDetail { lock_name: name.clone(), owner: s.owner.clone(), ttl: s.ttl }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> String {
        name.to_string()
    }

    #[test]
    fn a_lock_goes_round() {
        let mut doc = LocksDoc::new();
        assert_eq!(apply(&mut doc, "l", &LockOp::Set { ttl: 5 }, 10).unwrap_err().code, ErrorCode::InvalidParameter);
        assert_eq!(apply(&mut doc, "l", &LockOp::Set { ttl: 10 }, 10).unwrap().event, Some(LockEventType::Set));
        assert_eq!(apply(&mut doc, "l", &LockOp::Set { ttl: 10 }, 10).unwrap_err().code, ErrorCode::LockAlreadyExist);
        let a = LockOp::Acquire { user: user("a") };
        assert_eq!(apply(&mut doc, "l", &a, 10).unwrap().event, Some(LockEventType::Acquired));
        assert_eq!(apply(&mut doc, "l", &a, 10).unwrap().event, None);
        let b = LockOp::Acquire { user: user("b") };
        assert_eq!(apply(&mut doc, "l", &b, 10).unwrap_err().code, ErrorCode::LockAcquireFailed);
        let release_b = LockOp::Release { user: user("b") };
        assert_eq!(apply(&mut doc, "l", &release_b, 10).unwrap_err().code, ErrorCode::LockNotAcquired);
        assert_eq!(apply(&mut doc, "l", &LockOp::Expire { user: user("b") }, 10).unwrap().event, None);
        let expired = apply(&mut doc, "l", &LockOp::Expire { user: user("a") }, 10).unwrap();
        assert_eq!((expired.event, expired.detail.owner.as_str()), (Some(LockEventType::Expired), ""));
        apply(&mut doc, "l", &b, 10).unwrap();
        let revoked = apply(&mut doc, "l", &LockOp::Revoke { owner: user("b") }, 10).unwrap();
        assert_eq!(revoked.event, Some(LockEventType::Released));
        assert_eq!(apply(&mut doc, "l", &LockOp::Remove, 10).unwrap().event, Some(LockEventType::Removed));
        assert_eq!(apply(&mut doc, "l", &a, 10).unwrap_err().code, ErrorCode::LockNotExist);
    }

    #[test]
    fn locks_per_channel_are_bounded() {
        let mut doc = LocksDoc::new();
        apply(&mut doc, "a", &LockOp::Set { ttl: 10 }, 1).unwrap();
        assert_eq!(apply(&mut doc, "b", &LockOp::Set { ttl: 10 }, 1).unwrap_err().code, ErrorCode::LockOperationFailed);
    }
}
