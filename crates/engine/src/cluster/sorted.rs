//! A map from names to values in name order, for the members of one channel in the directory
//! mirror. Most channels have a few members on any node: a `BTreeMap` allocates a leaf with room
//! for eleven entries from the first (about 700 bytes with the mirror's values), which at 10,000
//! small presence channels was 9 MB of a node's own directory (heaptrack; about 3 MB now). Up to
//! [`FEW`] entries live in a sorted `Vec` grown one entry at a time (exactly as large as its
//! entries); past that, in a `BTreeMap`, so a channel of 100,000 members costs what it did (and
//! inserting stays logarithmic). A map that shrinks to half of [`FEW`] goes back to the `Vec`.

use std::collections::BTreeMap;

use super::directory::Name;

/// Entries kept in the `Vec` form at most.
const FEW: usize = 16;

#[derive(Debug)]
pub(super) enum Sorted<V> {
    Few(Vec<(Name, V)>),
    Many(BTreeMap<Name, V>),
}

impl<V> Default for Sorted<V> {
    fn default() -> Self {
        Sorted::Few(Vec::new())
    }
}

/// Where `key` is in a sorted `Vec`, or where it would go.
fn search<V>(few: &[(Name, V)], key: &str) -> Result<usize, usize> {
    few.binary_search_by(|(k, _)| (**k).cmp(key))
}

impl<V> Sorted<V> {
    pub fn len(&self) -> usize {
        match self {
            Sorted::Few(few) => few.len(),
            Sorted::Many(many) => many.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        match self {
            Sorted::Few(few) => search(few, key).ok().map(|i| &few[i].1),
            Sorted::Many(many) => many.get(key),
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        match self {
            Sorted::Few(few) => search(few, key).ok().map(|i| &mut few[i].1),
            Sorted::Many(many) => many.get_mut(key),
        }
    }

    /// The value of `key`, inserted as `V::default()` when missing.
    pub fn get_or_default(&mut self, key: Name) -> &mut V
    where
        V: Default,
    {
        if let Sorted::Few(few) = self {
            if few.len() >= FEW && search(few, &key).is_err() {
                *self = Sorted::Many(std::mem::take(few).into_iter().collect());
            }
        }
        match self {
            Sorted::Few(few) => {
                let i = match search(few, &key) {
                    Ok(i) => i,
                    Err(i) => {
                        few.reserve_exact(1);
                        few.insert(i, (key, V::default()));
                        i
                    }
                };
                &mut few[i].1
            }
            Sorted::Many(many) => many.entry(key).or_default(),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        let removed = match self {
            Sorted::Few(few) => search(few, key).ok().map(|i| few.remove(i).1),
            Sorted::Many(many) => many.remove(key),
        };
        self.settle();
        removed
    }

    /// Keeps the entries for which `keep` says so (it may change their values).
    pub fn retain(&mut self, mut keep: impl FnMut(&Name, &mut V) -> bool) {
        match self {
            Sorted::Few(few) => few.retain_mut(|(k, v)| keep(k, v)),
            Sorted::Many(many) => many.retain(|k, v| keep(k, v)),
        }
        self.settle();
    }

    /// The entries in name order.
    pub fn iter(&self) -> Iter<'_, V> {
        match self {
            Sorted::Few(few) => Iter::Few(few.iter()),
            Sorted::Many(many) => Iter::Many(many.iter()),
        }
    }

    /// A `Vec` that lost entries gives its room back; a `BTreeMap` down to half of [`FEW`]
    /// becomes a `Vec` again.
    fn settle(&mut self) {
        match self {
            Sorted::Few(few) => {
                if few.capacity() > few.len() * 2 {
                    few.shrink_to_fit();
                }
            }
            Sorted::Many(many) => {
                if many.len() <= FEW / 2 {
                    let mut few = Vec::with_capacity(many.len());
                    few.extend(std::mem::take(many));
                    *self = Sorted::Few(few);
                }
            }
        }
    }
}

pub(super) enum Iter<'a, V> {
    Few(std::slice::Iter<'a, (Name, V)>),
    Many(std::collections::btree_map::Iter<'a, Name, V>),
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a Name, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Few(few) => few.next().map(|(k, v)| (k, v)),
            Iter::Many(many) => many.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Few(few) => few.size_hint(),
            Iter::Many(many) => many.size_hint(),
        }
    }
}

impl<V> ExactSizeIterator for Iter<'_, V> {}

impl<'a, V> IntoIterator for &'a Sorted<V> {
    type Item = (&'a Name, &'a V);
    type IntoIter = Iter<'a, V>;

    fn into_iter(self) -> Iter<'a, V> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys<V>(map: &Sorted<V>) -> Vec<String> {
        map.iter().map(|(k, _)| k.to_string()).collect()
    }

    #[test]
    fn stays_in_name_order_across_both_forms_and_back() {
        let mut map: Sorted<u32> = Sorted::default();
        let mut expected = std::collections::BTreeMap::new();
        // A scrambled order of 40 names: through the Vec form into the BTreeMap form.
        for i in 0..40u32 {
            let name = format!("u{:02}", (i * 17) % 40);
            *map.get_or_default(Name::new(name.as_str())) += i;
            expected.insert(name, i);
            assert_eq!(map.len(), expected.len());
            assert_eq!(matches!(map, Sorted::Few(_)), expected.len() <= FEW, "form at {}", expected.len());
        }
        assert_eq!(keys(&map), expected.keys().cloned().collect::<Vec<_>>());
        assert_eq!(map.get("u07"), expected.get("u07"));
        *map.get_mut("u07").expect("present") = 99;
        assert_eq!(map.get("u07"), Some(&99));
        assert_eq!(map.get("nobody"), None);
        // Nine left: still a BTreeMap; down to half of FEW: the Vec form again, order kept.
        map.retain(|k, _| &**k < "u09");
        assert!(matches!(map, Sorted::Many(_)));
        assert_eq!(map.remove("u08"), Some(expected["u08"]));
        assert!(matches!(map, Sorted::Few(_)));
        assert_eq!(keys(&map), (0..8).map(|i| format!("u{i:02}")).collect::<Vec<_>>());
        assert_eq!(map.remove("u03"), Some(expected["u03"]));
        assert_eq!(map.remove("u03"), None);
        assert_eq!(map.len(), 7);
        assert_eq!(map.get("u04"), expected.get("u04"));
    }

    #[test]
    fn a_full_vec_takes_an_existing_name_in_place() {
        let mut map: Sorted<u32> = Sorted::default();
        for i in 0..FEW as u32 {
            *map.get_or_default(Name::new(format!("u{i:02}").as_str())) = i;
        }
        // A name already there, with the Vec full: found, not a seventeenth entry, same form.
        *map.get_or_default(Name::new("u05")) += 100;
        assert!(matches!(map, Sorted::Few(_)));
        assert_eq!(map.len(), FEW);
        assert_eq!(map.get("u05"), Some(&105));
        // A new name past FEW: the BTreeMap form, everything kept.
        map.get_or_default(Name::new("u99"));
        assert!(matches!(map, Sorted::Many(_)));
        assert_eq!(map.len(), FEW + 1);
        assert_eq!(map.get("u05"), Some(&105));
        assert_eq!(map.iter().len(), FEW + 1);
        // `retain` may change the values it keeps, in either form.
        map.retain(|_, v| {
            *v += 1;
            *v % 2 == 0
        });
        assert_eq!(map.get("u05"), Some(&106));
        assert!(map.iter().all(|(_, v)| v % 2 == 0));
    }

    #[test]
    fn a_few_entries_take_room_for_themselves_only() {
        let mut map: Sorted<u64> = Sorted::default();
        for name in ["c", "a", "b"] {
            map.get_or_default(Name::new(name));
        }
        let Sorted::Few(few) = &map else { panic!("three entries are few") };
        assert_eq!(few.capacity(), 3);
        map.remove("a");
        map.remove("b");
        let Sorted::Few(few) = &map else { panic!("still few") };
        assert_eq!(few.capacity(), 1);
        assert_eq!(keys(&map), ["c"]);
    }
}
