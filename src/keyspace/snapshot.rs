//! Point-in-time snapshots of a [`Db`] without fork and without copying the dataset
//! (DESIGN.md §6).
//!
//! A pass starts at a *cut* ([`Db::snapshot_begin`], O(1)) and then walks the table in steps
//! ([`Db::snapshot_step`]) while the db keeps serving writes. Every entry carries the epoch of
//! the last pass that emitted it (`Entry::snap`):
//!
//! - the walk emits each entry whose tag is not the current epoch and tags it;
//! - a write to an entry not yet emitted serializes the old entry first and tags it
//!   ("serialize before mutate"), so the pass sees every key as it was at the cut;
//! - an entry created after the cut is tagged at creation and never emitted;
//! - FLUSHDB/FLUSHALL detach the whole table in O(1) and the pass finishes walking it.
//!
//! The walk goes down positions like SCAN ([`super::Dense`] only ever moves an entry down), so
//! every entry present at the cut is met at least once; the tag makes it at most once.
//!
//! The keyspace knows nothing of file formats: the caller passes the serializer (a plain fn,
//! for RDB `persistence::rdb`'s entry writer) and drains the bytes with
//! [`Db::snapshot_take_output`].

use super::dense::Slot;
use super::Entry;
use std::sync::atomic::{AtomicU32, Ordering};

/// Serializes one entry (key, value, TTL) at the end of `out`.
pub type EntrySerializer = fn(key: &[u8], entry: &Entry, out: &mut Vec<u8>);

/// Epochs are process-wide, so an entry that moves between dbs (MOVE, SWAPDB, a multi-shard
/// write-back) never carries a tag that a later pass mistakes for its own. 0 is "never".
static EPOCH: AtomicU32 = AtomicU32::new(0);

/// A fresh epoch for one snapshot (all dbs of one snapshot share it).
pub fn next_epoch() -> u32 {
    loop {
        let e = EPOCH.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if e != 0 {
            return e;
        }
    }
}

/// The state of a pass over one db.
pub(super) struct Pass {
    pub epoch: u32,
    /// The db index this pass belongs to (the db object may move under SWAPDB).
    pub db_index: usize,
    /// Positions at or above `cursor` of the live table have been walked.
    pub cursor: usize,
    /// Tables detached by a flush during the pass; walked first.
    pub detached: Vec<Vec<Slot<Entry>>>,
    pub ser: EntrySerializer,
    pub out: Vec<u8>,
    pub keys: u64,
    pub expires: u64,
    /// Keys and keys with a TTL at the cut (for RESIZEDB).
    pub keys_at_cut: u64,
    pub expires_at_cut: u64,
}

impl Pass {
    /// Emits `e` unless this pass already has (or it is newer than the cut).
    #[inline]
    pub fn emit(&mut self, key: &[u8], e: &mut Entry) {
        if e.snap == self.epoch {
            return;
        }
        e.snap = self.epoch;
        (self.ser)(key, e, &mut self.out);
        self.keys += 1;
        if e.expire_at != super::NO_EXPIRE {
            self.expires += 1;
        }
    }
}

/// What a finished or running pass reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassInfo {
    pub db_index: usize,
    pub keys: u64,
    pub expires: u64,
    pub keys_at_cut: u64,
    pub expires_at_cut: u64,
}

impl Pass {
    pub fn info(&self) -> PassInfo {
        PassInfo {
            db_index: self.db_index,
            keys: self.keys,
            expires: self.expires,
            keys_at_cut: self.keys_at_cut,
            expires_at_cut: self.expires_at_cut,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Db, Value, NO_EXPIRE};
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;

    type Image = BTreeMap<Vec<u8>, (Vec<u8>, i64)>;

    fn ser(key: &[u8], e: &Entry, out: &mut Vec<u8>) {
        let mut b = itoa::Buffer::new();
        let v = match &e.value {
            Value::Str(s) => s.as_bytes(&mut b),
            _ => b"?",
        };
        for part in [key, v] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
        out.extend_from_slice(&e.expire_at.to_le_bytes());
    }

    /// Decodes what `ser` wrote; a key emitted twice fails the test.
    fn decode(mut b: &[u8], into: &mut Image) {
        fn part<'a>(b: &mut &'a [u8]) -> &'a [u8] {
            let n = u32::from_le_bytes(b[..4].try_into().unwrap()) as usize;
            let p = &b[4..4 + n];
            *b = &b[4 + n..];
            p
        }
        while !b.is_empty() {
            let k = part(&mut b).to_vec();
            let v = part(&mut b).to_vec();
            let exp = i64::from_le_bytes(b[..8].try_into().unwrap());
            b = &b[8..];
            assert!(
                into.insert(k.clone(), (v, exp)).is_none(),
                "emitted twice: {k:?}"
            );
        }
    }

    fn image(db: &Db) -> Image {
        db.iter()
            .map(|(k, e)| {
                let mut out = Vec::new();
                ser(k, e, &mut out);
                let mut one = Image::new();
                decode(&out, &mut one);
                one.into_iter().next().unwrap()
            })
            .collect()
    }

    /// Random writes, deletes, expiries and flushes between steps never change what the pass
    /// emits: exactly the db as it was at the cut, each key once.
    #[test]
    fn pass_emits_the_cut_under_concurrent_writes() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(42);
        for round in 0..60 {
            let mut db = Db::new();
            let n = rng.random_range(0..400);
            for i in 0..n {
                db.set(format!("k{i}").as_bytes(), Value::from_bytes(b"v0"));
                if i % 7 == 0 {
                    db.set_expire(format!("k{i}").as_bytes(), 1_000_000, 0);
                }
            }
            let cut = image(&db);
            db.snapshot_begin(3, next_epoch(), ser);
            let mut got = Image::new();
            let mut now = 0;
            loop {
                let done = db.snapshot_step(rng.random_range(1..20));
                decode(&db.snapshot_take_output(), &mut got);
                if done {
                    break;
                }
                for _ in 0..rng.random_range(0..30) {
                    let k = format!("k{}", rng.random_range(0..n.max(1) + 50));
                    let k = k.as_bytes();
                    match rng.random_range(0..8) {
                        0 => db.set(k, Value::from_bytes(b"v1")),
                        1 => db.set_keep_ttl(k, Value::from_bytes(b"v2")),
                        2 => {
                            db.remove(k, now);
                        }
                        3 => {
                            db.set_expire(k, now + 5, now);
                        }
                        4 => {
                            if let Some(e) = db.get_mut(k, now) {
                                e.value = Value::from_bytes(b"v3");
                            }
                        }
                        5 => db.put_entry(k, Entry::new(Value::from_bytes(b"v4"))),
                        6 => now += 10, // lets short TTLs pass: lazy expiry deletes
                        _ if round % 5 == 0 && rng.random_bool(0.05) => db.clear(),
                        _ => {
                            let _ = db.get(k, now);
                        }
                    }
                }
                db.active_expire(now, 10, &mut rng);
            }
            let (info, rest) = db.snapshot_end().unwrap();
            decode(&rest, &mut got);
            assert_eq!(got, cut, "round {round}");
            assert_eq!(info.db_index, 3);
            assert_eq!(info.keys, cut.len() as u64);
            assert_eq!(info.keys_at_cut, cut.len() as u64);
            let exp = cut.values().filter(|v| v.1 != NO_EXPIRE).count() as u64;
            assert_eq!((info.expires, info.expires_at_cut), (exp, exp));
        }
    }

    #[test]
    fn a_second_pass_emits_everything_again() {
        let mut db = Db::new();
        for i in 0..10 {
            db.set(format!("k{i}").as_bytes(), Value::from_bytes(b"v"));
        }
        for _ in 0..2 {
            db.snapshot_begin(0, next_epoch(), ser);
            while !db.snapshot_step(3) {}
            let mut got = Image::new();
            decode(&db.snapshot_end().unwrap().1, &mut got);
            assert_eq!(got.len(), 10);
        }
        assert!(!db.snapshot_running());
    }
}
