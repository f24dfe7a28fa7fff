//! A name of the directory mirror (app, user, channel, node id), shared by every index that
//! mentions it. An `Arc<str>` is a pointer and a length, sixteen bytes in every key and list
//! that holds it; a [`Name`] keeps the length in its allocation beside the bytes and is one
//! pointer. The mirror holds a user of another node in about five places (its key in the users'
//! map, its place in two channels, the interned set) and each of its channels' names once more
//! in its list: with the slack of the maps, 406 → 318 bytes per mirrored user
//! (tests/directory_memory.rs), 7 MB of a node at 83,000 of them.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use triomphe::ThinArc;

/// A shared, immutable string behind one pointer; compares, hashes and orders as its `str`.
#[derive(Clone)]
pub struct Name(ThinArc<(), u8>);

impl Name {
    pub fn new(name: &str) -> Self {
        Name(ThinArc::from_header_and_slice((), name.as_bytes()))
    }

    /// How many `Name`s share this one's string.
    pub fn strong_count(this: &Self) -> usize {
        ThinArc::strong_count(&this.0)
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        // SAFETY: the bytes were copied from a `str` by `Name::new`, the only constructor, and
        // a `ThinArc`'s slice is never changed afterwards.
        unsafe { std::str::from_utf8_unchecked(&self.0.slice) }
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Name {}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        (**self).cmp(&**other)
    }
}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use super::*;

    #[test]
    fn a_name_is_one_pointer_and_behaves_as_its_string() {
        assert_eq!(std::mem::size_of::<Name>(), 8);
        assert_eq!(std::mem::size_of::<Option<Name>>(), 8);
        let (a, b) = (Name::new("bob"), Name::new("alice"));
        assert_eq!(&*a, "bob");
        assert_eq!(&*Name::new(""), "");
        assert_eq!(&*Name::new("ünïcode ✓"), "ünïcode ✓");
        assert!(b < a && a == Name::new("bob"));
        // Looked up by `&str` in hashed and ordered collections.
        let set: HashSet<Name> = [a.clone(), b.clone()].into_iter().collect();
        assert!(set.contains("bob") && set.contains("alice") && !set.contains("carol"));
        let map: BTreeMap<Name, u8> = [(a.clone(), 1), (b, 2)].into_iter().collect();
        assert_eq!((map.get("bob"), map.keys().next().map(|k| &**k)), (Some(&1), Some("alice")));
        assert_eq!(Name::strong_count(&a), 3, "a, the set's and the map's");
        drop((set, map));
        assert_eq!(Name::strong_count(&a), 1);
    }
}
