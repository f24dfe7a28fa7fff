//! Channel and user metadata: the items, their revisions and the whole set's `majorRevision`
//! (SPEC §4.6). [`apply`] computes a change from the current document; it is pure, so every
//! store runs the same rules.

use std::collections::{BTreeMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::StorageConfig;
use crate::error::{Error, ErrorCode, Result};

/// An item as a caller writes it (`MetadataItem`): `revision` -1 = no check, 0 = only when the
/// key does not exist yet, a positive one = only when it is the item's current revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetaItem {
    pub key: String,
    #[serde(default)]
    pub value: String,
    #[serde(default = "no_check")]
    pub revision: i64,
}

fn no_check() -> i64 {
    -1
}

/// An item as stored and reported (`MetaDataDetail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetaDetail {
    pub value: String,
    pub revision: i64,
    pub updated: u64,
    pub author_uid: String,
}

/// A channel's or user's whole metadata (`StorageData`): the stored document too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct StorageData {
    pub total_count: usize,
    pub major_revision: i64,
    pub metadata: BTreeMap<String, MetaDetail>,
}

/// set (upsert the items), update (only existing items) or remove (the items, or all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MetaMode {
    Set,
    Update,
    Remove,
}

/// `MetadataOptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MetaOptions {
    /// -1 = no check, 0 = only when there is no metadata yet, positive = only at this revision.
    pub major_revision: i64,
    /// Only the holder of this lock (of the same channel) may write; '' = no lock.
    pub lock_name: String,
    pub add_time_stamp: bool,
    pub add_user_id: bool,
}

impl Default for MetaOptions {
    fn default() -> Self {
        MetaOptions { major_revision: -1, lock_name: String::new(), add_time_stamp: false, add_user_id: false }
    }
}

fn outdated(reason: String) -> Error {
    Error::new(ErrorCode::StorageOutdatedRevision, reason)
}

/// Checks the items of a write against the limits: keys present, unique and short enough,
/// values short enough, revisions valid.
pub fn check_items(mode: MetaMode, items: &[MetaItem], limits: &StorageConfig) -> Result<()> {
    if items.is_empty() && mode != MetaMode::Remove {
        return Err(Error::new(ErrorCode::StorageInvalidArgument, "data must hold at least one item"));
    }
    if items.len() > limits.max_metadata_items {
        return Err(Error::new(
            ErrorCode::StorageMetadataItemExceedLimitation,
            format!("{} items in one call; at most {} are allowed", items.len(), limits.max_metadata_items),
        ));
    }
    let mut seen = HashSet::new();
    for item in items {
        if item.key.is_empty() {
            return Err(Error::new(ErrorCode::StorageInvalidKey, "an item key must not be empty"));
        }
        if item.key.len() > limits.max_metadata_key_bytes {
            return Err(Error::new(
                ErrorCode::StorageKeyLengthOverflow,
                format!(
                    "key {:?} is {} bytes; at most {} are allowed",
                    item.key,
                    item.key.len(),
                    limits.max_metadata_key_bytes
                ),
            ));
        }
        if item.value.len() > limits.max_metadata_value_bytes {
            return Err(Error::new(
                ErrorCode::StorageValueLengthOverflow,
                format!(
                    "the value of {:?} is {} bytes; at most {} are allowed",
                    item.key,
                    item.value.len(),
                    limits.max_metadata_value_bytes
                ),
            ));
        }
        if item.revision < -1 {
            return Err(Error::new(
                ErrorCode::StorageInvalidRevision,
                format!("revision {} of {:?} is not -1, 0 or positive", item.revision, item.key),
            ));
        }
        if !seen.insert(item.key.as_str()) {
            return Err(Error::new(ErrorCode::StorageDuplicateKey, format!("key {:?} appears twice", item.key)));
        }
    }
    Ok(())
}

/// The metadata after a write by `author` at `now`, or `None` when it changes nothing. A failed
/// check changes nothing: every check runs before the first change.
pub fn apply(
    current: Option<StorageData>,
    mode: MetaMode,
    items: &[MetaItem],
    options: &MetaOptions,
    author: &str,
    now: u64,
    limits: &StorageConfig,
) -> Result<Option<StorageData>> {
    let exists = current.is_some();
    let mut data = current.unwrap_or_default();
    match options.major_revision {
        -1 => {}
        0 if exists && data.total_count > 0 => {
            return Err(outdated(format!("majorRevision 0 asks for no metadata, but it is at {}", data.major_revision)))
        }
        0 => {}
        r if r < -1 => {
            return Err(Error::new(
                ErrorCode::StorageInvalidRevision,
                format!("majorRevision {r} is not -1, 0 or positive"),
            ))
        }
        r if r != data.major_revision => {
            return Err(outdated(format!("majorRevision {r} is outdated; the metadata is at {}", data.major_revision)))
        }
        _ => {}
    }
    for item in items {
        let found = data.metadata.get(&item.key);
        match (item.revision, found) {
            (-1, _) => {}
            (0, Some(existing)) => {
                return Err(outdated(format!(
                    "revision 0 asks for a new key, but {:?} exists at revision {}",
                    item.key, existing.revision
                )))
            }
            (0, None) => {}
            (r, Some(existing)) if existing.revision != r => {
                return Err(outdated(format!(
                    "revision {r} of {:?} is outdated; it is at {}",
                    item.key, existing.revision
                )))
            }
            (r, None) if mode != MetaMode::Remove => {
                return Err(outdated(format!("revision {r} of {:?} is outdated; the key does not exist", item.key)))
            }
            _ => {}
        }
        if mode == MetaMode::Update && found.is_none() {
            return Err(Error::new(ErrorCode::StorageInvalidKey, format!("update: there is no item {:?}", item.key)));
        }
    }
    let mut changed = false;
    match mode {
        MetaMode::Remove if items.is_empty() => {
            changed = !data.metadata.is_empty();
            data.metadata.clear();
        }
        MetaMode::Remove => {
            for item in items {
                changed |= data.metadata.remove(&item.key).is_some();
            }
        }
        MetaMode::Set | MetaMode::Update => {
            let added = items.iter().filter(|i| !data.metadata.contains_key(&i.key)).count();
            if data.metadata.len() + added > limits.max_metadata_items {
                return Err(Error::new(
                    ErrorCode::StorageMetadataItemExceedLimitation,
                    format!(
                        "{} items after this write; at most {} are allowed",
                        data.metadata.len() + added,
                        limits.max_metadata_items
                    ),
                ));
            }
            for item in items {
                let revision = data.metadata.get(&item.key).map_or(1, |d| d.revision + 1);
                let detail = MetaDetail {
                    value: item.value.clone(),
                    revision,
                    updated: if options.add_time_stamp { now } else { 0 },
                    author_uid: if options.add_user_id { author.to_string() } else { String::new() },
                };
                data.metadata.insert(item.key.clone(), detail);
            }
            changed = true;
        }
    }
    if !changed {
        return Ok(None);
    }
    data.major_revision += 1;
    data.total_count = data.metadata.len();
    Ok(Some(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str, value: &str, revision: i64) -> MetaItem {
        MetaItem { key: key.into(), value: value.into(), revision }
    }

    fn set(current: Option<StorageData>, items: &[MetaItem], major: i64) -> Result<Option<StorageData>> {
        let options = MetaOptions { major_revision: major, ..MetaOptions::default() };
        apply(current, MetaMode::Set, items, &options, "alice", 5, &StorageConfig::default())
    }

    #[test]
    fn revisions_count_changes_and_stale_ones_change_nothing() {
        let one = set(None, &[item("a", "1", -1)], -1).unwrap().unwrap();
        assert_eq!((one.major_revision, one.metadata["a"].revision, one.total_count), (1, 1, 1));
        let two = set(Some(one.clone()), &[item("a", "2", 1), item("b", "x", 0)], 1).unwrap().unwrap();
        assert_eq!((two.major_revision, two.metadata["a"].revision, two.metadata["b"].revision), (2, 2, 1));
        let stale = set(Some(two.clone()), &[item("a", "3", -1)], 1).unwrap_err();
        assert_eq!(stale.code, ErrorCode::StorageOutdatedRevision);
        let stale_item = set(Some(two.clone()), &[item("b", "y", -1), item("a", "3", 1)], -1).unwrap_err();
        assert_eq!(stale_item.code, ErrorCode::StorageOutdatedRevision);
        let exists = set(Some(two), &[item("a", "3", 0)], -1).unwrap_err();
        assert_eq!(exists.code, ErrorCode::StorageOutdatedRevision);
    }

    #[test]
    fn stamps_only_when_asked() {
        let options = MetaOptions { add_time_stamp: true, add_user_id: true, ..MetaOptions::default() };
        let data = apply(None, MetaMode::Set, &[item("k", "v", -1)], &options, "bob", 42, &StorageConfig::default())
            .unwrap()
            .unwrap();
        assert_eq!((data.metadata["k"].updated, data.metadata["k"].author_uid.as_str()), (42, "bob"));
        let plain = set(None, &[item("k", "v", -1)], -1).unwrap().unwrap();
        assert_eq!((plain.metadata["k"].updated, plain.metadata["k"].author_uid.as_str()), (0, ""));
    }

    #[test]
    fn update_needs_the_key_and_remove_all_clears() {
        let data = set(None, &[item("a", "1", -1)], -1).unwrap().unwrap();
        let options = MetaOptions::default();
        let limits = StorageConfig::default();
        let err = apply(Some(data.clone()), MetaMode::Update, &[item("z", "1", -1)], &options, "a", 1, &limits);
        assert_eq!(err.unwrap_err().code, ErrorCode::StorageInvalidKey);
        let cleared = apply(Some(data), MetaMode::Remove, &[], &options, "a", 1, &limits).unwrap().unwrap();
        assert_eq!((cleared.total_count, cleared.major_revision), (0, 2));
        assert_eq!(apply(Some(cleared), MetaMode::Remove, &[], &options, "a", 1, &limits).unwrap(), None);
    }

    #[test]
    fn limits_are_checked_with_their_codes() {
        let limits = StorageConfig {
            max_metadata_items: 2,
            max_metadata_key_bytes: 4,
            max_metadata_value_bytes: 4,
            ..StorageConfig::default()
        };
        let code = |items: &[MetaItem]| check_items(MetaMode::Set, items, &limits).unwrap_err().code;
        assert_eq!(code(&[item("longkey", "v", -1)]), ErrorCode::StorageKeyLengthOverflow);
        assert_eq!(code(&[item("k", "long value", -1)]), ErrorCode::StorageValueLengthOverflow);
        assert_eq!(code(&[item("k", "v", -1), item("k", "w", -1)]), ErrorCode::StorageDuplicateKey);
        assert_eq!(code(&[item("", "v", -1)]), ErrorCode::StorageInvalidKey);
        assert_eq!(code(&[]), ErrorCode::StorageInvalidArgument);
        let full = apply(
            None,
            MetaMode::Set,
            &[item("a", "", -1), item("b", "", -1)],
            &MetaOptions::default(),
            "u",
            0,
            &limits,
        )
        .unwrap();
        let over = apply(full, MetaMode::Set, &[item("c", "", -1)], &MetaOptions::default(), "u", 0, &limits);
        assert_eq!(over.unwrap_err().code, ErrorCode::StorageMetadataItemExceedLimitation);
    }
}
