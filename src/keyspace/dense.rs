//! A hash table with dense storage (the indexmap design), used for every keyed table.
//!
//! Entries live in a `Vec` and a `HashTable<u32>` maps hashes to positions. Deleting moves the
//! last entry into the hole (`swap_remove`), so entries only ever move *down*. That makes a
//! cursor walking positions downwards safe for SCAN: an entry present for the whole scan is
//! returned at least once, whatever inserts, deletes or growth happen between calls (see
//! glommio-notes.md §7, where raw bucket cursors were measured to miss entries). It also gives
//! O(1) uniform random sampling for RANDOMKEY and active expiry.

use hashbrown::HashTable;
use std::hash::BuildHasher;

/// The hasher of every table: fixed, so a key's hash can be computed without its table.
const HASHER: foldhash::fast::FixedState =
    foldhash::fast::FixedState::with_seed(0x9e37_79b9_7f4a_7c15);

/// The hash [`Dense`] uses for `key`.
#[inline]
pub fn hash_of(key: &[u8]) -> u64 {
    HASHER.hash_one(key)
}

pub struct Slot<V> {
    hash: u64,
    pub key: Box<[u8]>,
    pub val: V,
}

pub struct Dense<V> {
    idx: HashTable<u32>,
    slots: Vec<Slot<V>>,
    hasher: foldhash::fast::FixedState,
}

impl<V: Clone> Clone for Dense<V> {
    fn clone(&self) -> Self {
        let mut d = Dense::new();
        for s in &self.slots {
            d.insert_new(s.key.clone(), s.val.clone());
        }
        d
    }
}

impl<V: std::fmt::Debug> std::fmt::Debug for Dense<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.slots
                    .iter()
                    .map(|s| (String::from_utf8_lossy(&s.key), &s.val)),
            )
            .finish()
    }
}

/// Equal when both hold the same keys with equal values, whatever the order.
impl<V: PartialEq> PartialEq for Dense<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<V> Default for Dense<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> Dense<V> {
    pub fn new() -> Self {
        Dense {
            idx: HashTable::new(),
            slots: Vec::new(),
            hasher: HASHER,
        }
    }

    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    #[inline]
    pub fn position(&self, key: &[u8]) -> Option<usize> {
        let h = self.hash(key);
        let slots = &self.slots;
        self.idx
            .find(h, |&i| &*slots[i as usize].key == key)
            .map(|&i| i as usize)
    }

    /// The position of `key`, or its hash when absent so that an insert that follows does not
    /// hash the key again (SET of a new key).
    #[inline]
    pub fn find(&self, key: &[u8]) -> Result<usize, u64> {
        let h = self.hash(key);
        let slots = &self.slots;
        self.idx
            .find(h, |&i| &*slots[i as usize].key == key)
            .map(|&i| i as usize)
            .ok_or(h)
    }

    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.position(key).map(|i| &self.slots[i].val)
    }

    #[inline]
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.position(key).map(move |i| &mut self.slots[i].val)
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.position(key).is_some()
    }

    pub fn slot(&self, i: usize) -> &Slot<V> {
        &self.slots[i]
    }

    pub fn slot_mut(&mut self, i: usize) -> &mut Slot<V> {
        &mut self.slots[i]
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: &[u8], val: V) -> Option<V> {
        match self.find(key) {
            Ok(i) => Some(std::mem::replace(&mut self.slots[i].val, val)),
            Err(hash) => {
                self.insert_hashed(hash, key.into(), val);
                None
            }
        }
    }

    /// Inserts a key known to be absent.
    pub fn insert_new(&mut self, key: Box<[u8]>, val: V) -> usize {
        let hash = self.hash(&key);
        self.insert_hashed(hash, key, val)
    }

    /// Inserts a key known to be absent whose hash ([`Dense::find`]) is known.
    pub fn insert_hashed(&mut self, hash: u64, key: Box<[u8]>, val: V) -> usize {
        let pos = self.slots.len();
        let slots = &self.slots;
        self.idx
            .insert_unique(hash, pos as u32, |&j| slots[j as usize].hash);
        self.slots.push(Slot { hash, key, val });
        pos
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<(Box<[u8]>, V)> {
        let h = self.hash(key);
        let slots = &self.slots;
        let entry = self
            .idx
            .find_entry(h, |&i| &*slots[i as usize].key == key)
            .ok()?;
        let (i, _) = entry.remove();
        Some(self.take_at(i as usize))
    }

    /// Removes the entry at position `i` (its index entry must already be gone).
    fn take_at(&mut self, i: usize) -> (Box<[u8]>, V) {
        let last = self.slots.len() - 1;
        if i != last {
            let lh = self.slots[last].hash;
            if let Some(p) = self.idx.find_mut(lh, |&j| j as usize == last) {
                *p = i as u32;
            }
        }
        let s = self.slots.swap_remove(i);
        if self.slots.len() < self.slots.capacity() / 4 && self.slots.capacity() > 64 {
            self.slots.shrink_to(self.slots.len() * 2);
            let slots = &self.slots;
            self.idx
                .shrink_to(slots.len() * 2, |&j| slots[j as usize].hash);
        }
        (s.key, s.val)
    }

    pub fn remove_at(&mut self, i: usize) -> (Box<[u8]>, V) {
        let h = self.slots[i].hash;
        if let Ok(e) = self.idx.find_entry(h, |&j| j as usize == i) {
            e.remove();
        }
        self.take_at(i)
    }

    pub fn clear(&mut self) {
        self.idx.clear();
        self.slots.clear();
        self.slots.shrink_to_fit();
        self.idx.shrink_to_fit(|_| 0);
    }

    /// Empties the table, handing over its entries (in position order) without the index.
    pub fn take_slots(&mut self) -> Vec<Slot<V>> {
        self.idx.clear();
        self.idx.shrink_to_fit(|_| 0);
        std::mem::take(&mut self.slots)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.slots.iter().map(|s| (&*s.key, &s.val))
    }

    /// One SCAN step. Cursor 0 starts at the top; positions are walked downwards. Returns the
    /// next cursor (0 when done). `visit` gets the position of each visited slot.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(usize)) -> u64 {
        let len = self.slots.len() as u64;
        let mut pos = if cursor == 0 { len } else { cursor.min(len) };
        let mut n = 0;
        while pos > 0 && n < count.max(1) {
            pos -= 1;
            visit(pos as usize);
            n += 1;
        }
        pos
    }

    pub fn capacity_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot<V>>() + self.idx.capacity() * 5
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn insert_get_remove() {
        let mut d = Dense::new();
        for i in 0..1000u32 {
            assert!(d.insert(format!("k{i}").as_bytes(), i).is_none());
        }
        assert_eq!(d.len(), 1000);
        for i in (0..1000u32).step_by(2) {
            assert_eq!(d.remove(format!("k{i}").as_bytes()).map(|x| x.1), Some(i));
        }
        for i in 0..1000u32 {
            assert_eq!(
                d.get(format!("k{i}").as_bytes()).copied(),
                (i % 2 == 1).then_some(i)
            );
        }
    }

    #[test]
    fn scan_returns_every_stable_key_under_churn() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for _ in 0..50 {
            let mut d = Dense::new();
            for i in 0..500u32 {
                d.insert(format!("stable{i}").as_bytes(), 0u32);
            }
            let mut seen = std::collections::HashSet::new();
            let mut cursor = 0;
            let mut next_tmp = 0;
            loop {
                let mut keys = Vec::new();
                cursor = d.scan(cursor, 10, |i| keys.push(d.slot(i).key.clone()));
                seen.extend(keys);
                for _ in 0..rng.random_range(0..40) {
                    if rng.random_bool(0.5) {
                        d.insert(format!("tmp{next_tmp}").as_bytes(), 1);
                        next_tmp += 1;
                    } else {
                        let i = rng.random_range(0..next_tmp.max(1));
                        d.remove(format!("tmp{i}").as_bytes());
                    }
                }
                if cursor == 0 {
                    break;
                }
            }
            for i in 0..500u32 {
                assert!(seen.contains(format!("stable{i}").as_bytes()));
            }
        }
    }
}
