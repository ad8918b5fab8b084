//! WATCH bookkeeping: Redis's `db->watched_keys` and `CLIENT_DIRTY_CAS`, spread over shards.
//!
//! A connection that WATCHes gets one [`Token`] (an `Arc<AtomicBool>`, the "dirty CAS" flag).
//! Each watched key is registered, on the shard owning it, in the [`Watchers`] table of its
//! database (a [`crate::keyspace::Db`] field) with a weak reference to the token — whether the
//! key exists or not. The Db marks the tokens of a key when the key is modified (Redis's
//! `signalModifiedKey` → `touchWatchedKey`): created, overwritten, deleted, expired, given a
//! TTL, or opened for writing by a command that then changed something. FLUSHDB/FLUSHALL and
//! SWAPDB follow Redis 7.0's `touchAllWatchedKeysInDb`. EXEC aborts when the token is marked.
//!
//! A command that opens a key for writing and leaves it unchanged (LREM with no match, SREM of
//! a missing member...) must not count: while a command runs, `get_mut` of a watched key only
//! notes the key ([`Watchers::begin_command`]); the dispatcher settles the notes after the
//! command from its change count ([`Watchers::end_command`]), as Redis signals a key only
//! together with `server.dirty`.
//!
//! Cost when nothing is watched in a db: one `is_empty` branch per write and per command.
//!
//! Tokens are weak in the tables: a connection that UNWATCHes, DISCARDs or goes away just drops
//! its token. EXEC unregisters its keys in the hop that locks them; other dead watchers leave
//! when their key is touched or watched again, or when the table has doubled since the last
//! sweep.

use hashbrown::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

/// A connection's "dirty CAS" flag, shared with the tables of every shard it watches keys on.
pub type Token = Arc<AtomicBool>;

pub fn new_token() -> Token {
    Arc::new(AtomicBool::new(false))
}

/// Whether a modification of a watched key marked `t` (EXEC then answers a null array).
pub fn is_dirty(t: &Token) -> bool {
    t.load(Ordering::Acquire)
}

/// One watcher of a key.
struct Watcher {
    token: Weak<AtomicBool>,
    /// The key was already expired (but not yet removed) when this watcher started watching
    /// it, or SWAPDB brought it in expired (Redis's `watchedKey.expired`): its removal is no
    /// logical change, and EXEC ignores its expiry.
    expired: bool,
}

#[derive(Default)]
struct Entry {
    watchers: Vec<Watcher>,
}

/// The watched keys of one database on one shard.
#[derive(Default)]
pub struct Watchers {
    keys: HashMap<Box<[u8]>, Entry>,
    /// A command is running: `get_mut` of a watched key waits for [`Watchers::end_command`].
    defer: bool,
    pending: Vec<Box<[u8]>>,
    sweep_at: usize,
}

impl Watchers {
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Registers `t` as watching `key`; `expired`: the key is there with its TTL passed.
    pub fn add(&mut self, key: &[u8], t: &Token, expired: bool) {
        if self.keys.len() >= self.sweep_at {
            self.sweep();
            self.sweep_at = self.keys.len() * 2 + 64;
        }
        if !self.keys.contains_key(key) {
            self.keys.insert(key.into(), Entry::default());
        }
        let Some(e) = self.keys.get_mut(key) else {
            return;
        };
        let w = Arc::downgrade(t);
        // Watchers that went away (UNWATCH, DISCARD, disconnect) leave here.
        e.watchers.retain(|x| x.token.strong_count() > 0);
        if !e.watchers.iter().any(|x| x.token.ptr_eq(&w)) {
            e.watchers.push(Watcher { token: w, expired });
        }
    }

    /// Forgets `t` for `key` (EXEC is done with it).
    pub fn remove(&mut self, key: &[u8], t: &Token) {
        let w = Arc::downgrade(t);
        if let Some(e) = self.keys.get_mut(key) {
            e.watchers
                .retain(|x| !x.token.ptr_eq(&w) && x.token.strong_count() > 0);
            if e.watchers.is_empty() {
                self.keys.remove(key);
            }
        }
    }

    /// Drops the entries whose watchers are all gone.
    fn sweep(&mut self) {
        self.keys.retain(|_, e| {
            e.watchers.retain(|x| x.token.strong_count() > 0);
            !e.watchers.is_empty()
        });
    }

    pub fn is_watched(&self, key: &[u8]) -> bool {
        self.keys.contains_key(key)
    }

    /// `key` was modified: every watcher is dirty, and no longer needs the entry.
    pub fn touch(&mut self, key: &[u8]) {
        if let Some(e) = self.keys.remove(key) {
            for w in &e.watchers {
                mark(&w.token);
            }
        }
    }

    /// `key` was removed because its TTL passed: a change for its watchers, except those that
    /// started watching it already expired (their flag is cleared: the key is now simply
    /// absent).
    pub fn touch_expired(&mut self, key: &[u8]) {
        let Some(e) = self.keys.get_mut(key) else {
            return;
        };
        e.watchers.retain_mut(|w| {
            if w.expired {
                w.expired = false;
                true
            } else {
                mark(&w.token);
                false
            }
        });
        if e.watchers.is_empty() {
            self.keys.remove(key);
        }
    }

    /// Whether `t` watches `key` with the "already expired" flag (EXEC ignores its expiry).
    pub fn expired_flag(&self, key: &[u8], t: &Token) -> bool {
        let w = Arc::downgrade(t);
        self.keys
            .get(key)
            .is_some_and(|e| e.watchers.iter().any(|x| x.expired && x.token.ptr_eq(&w)))
    }

    /// `get_mut` of `key`: a change now, or at the end of the running command if it counts one.
    #[inline]
    pub fn opened(&mut self, key: &[u8]) {
        if !self.keys.contains_key(key) {
            return;
        }
        if self.defer {
            if !self.pending.iter().any(|k| **k == *key) {
                self.pending.push(key.into());
            }
        } else {
            self.touch(key);
        }
    }

    /// A command starts; returns whether anything is watched (then call
    /// [`Watchers::end_command`] after it).
    #[inline]
    pub fn begin_command(&mut self) -> bool {
        if self.keys.is_empty() {
            return false;
        }
        self.defer = true;
        true
    }

    /// The command ended; `changed`: it counted a change (its `dirty` moved). Keys it opened
    /// for writing are touched only then.
    pub fn end_command(&mut self, changed: bool) {
        self.defer = false;
        let pending = std::mem::take(&mut self.pending);
        if changed {
            for k in &pending {
                self.touch(k);
            }
        }
    }

    /// The watched keys (for FLUSH and SWAPDB).
    pub fn keys(&self) -> Vec<Box<[u8]>> {
        self.keys.keys().cloned().collect()
    }
}

fn mark(token: &Weak<AtomicBool>) {
    if let Some(t) = token.upgrade() {
        t.store(true, Ordering::Release);
    }
}

/// What FLUSHDB/FLUSHALL (`replaced_with` = None) or SWAPDB (the db taking its place) does to
/// the watchers of a db being emptied (Redis 7.0's `touchAllWatchedKeysInDb`):
/// `in_emptied(key)`: the key is in the emptied db (expired or not); `in_replacement(key)`:
/// None when absent from the replacement, Some(expired) otherwise.
pub fn touch_all(
    w: &mut Watchers,
    in_emptied: impl Fn(&[u8]) -> bool,
    in_replacement: impl Fn(&[u8]) -> Option<bool>,
) {
    let mut gone = Vec::new();
    for (key, e) in w.keys.iter_mut() {
        let emptied = in_emptied(key);
        let replacement = in_replacement(key);
        if !emptied && replacement.is_none() {
            continue;
        }
        e.watchers.retain_mut(|x| {
            match (x.expired, replacement) {
                // Already expired key now gone: no logical change.
                (true, None) => x.expired = false,
                // Expired key stays expired.
                (true, Some(true)) => {}
                // A missing key replaced by an expired one: not a change yet.
                (false, Some(true)) if !emptied => x.expired = true,
                _ => {
                    mark(&x.token);
                    return false;
                }
            }
            true
        });
        if e.watchers.is_empty() {
            gone.push(key.clone());
        }
    }
    for k in gone {
        w.keys.remove(&k);
    }
}

/// SWAPDB `a` `b` on one shard: swaps the contents, keeps each number's watch table, and
/// touches the watched keys as Redis 7.0 does for both dbs.
pub fn swap_dbs(dbs: &mut [crate::keyspace::Db], a: usize, b: usize, now: i64) {
    if a == b || a >= dbs.len() || b >= dbs.len() {
        return;
    }
    let mut wa = dbs[a].take_watchers();
    let mut wb = dbs[b].take_watchers();
    let in_db =
        |d: &crate::keyspace::Db, k: &[u8]| d.contains_raw(k).then(|| d.get_live(k, now).is_none());
    if !wa.is_empty() {
        touch_all(&mut wa, |k| dbs[a].contains_raw(k), |k| in_db(&dbs[b], k));
    }
    if !wb.is_empty() {
        touch_all(&mut wb, |k| dbs[b].contains_raw(k), |k| in_db(&dbs[a], k));
    }
    dbs.swap(a, b);
    (dbs[a].id, dbs[b].id) = (a as u32, b as u32);
    dbs[a].set_watchers(wa);
    dbs[b].set_watchers(wb);
}

/// DEBUG RELOAD installs freshly loaded dbs: the watched keys of the emptied ones are touched
/// as by FLUSHALL, and the watch tables move to the new dbs.
pub fn carry_over(old: &mut [crate::keyspace::Db], new: &mut [crate::keyspace::Db]) {
    for (o, n) in old.iter_mut().zip(new.iter_mut()) {
        let mut w = o.take_watchers();
        if !w.is_empty() {
            touch_all(&mut w, |k| o.contains_raw(k), |_| None);
            n.set_watchers(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_marks_every_watcher_once_and_forgets_the_key() {
        let mut w = Watchers::default();
        let (a, b) = (new_token(), new_token());
        w.add(b"k", &a, false);
        w.add(b"k", &b, false);
        w.add(b"k", &a, false);
        w.add(b"other", &a, false);
        assert_eq!(w.len(), 2);
        w.touch(b"nope");
        assert!(!is_dirty(&a));
        w.touch(b"k");
        assert!(is_dirty(&a) && is_dirty(&b));
        assert!(!w.is_watched(b"k"));
        assert!(w.is_watched(b"other"));
    }

    #[test]
    fn opened_keys_count_only_when_the_command_changed_something() {
        let mut w = Watchers::default();
        let t = new_token();
        w.add(b"k", &t, false);
        assert!(w.begin_command());
        w.opened(b"k");
        w.end_command(false);
        assert!(!is_dirty(&t), "a no-op write is not a change");
        assert!(w.begin_command());
        w.opened(b"k");
        w.end_command(true);
        assert!(is_dirty(&t));
        // Outside a command (blocked client served, write-back): opening is a change.
        let u = new_token();
        w.add(b"k", &u, false);
        w.opened(b"k");
        assert!(is_dirty(&u));
        assert!(
            !Watchers::default().begin_command(),
            "nothing watched: no bookkeeping"
        );
    }

    #[test]
    fn dropped_tokens_are_swept_and_remove_unregisters() {
        let mut w = Watchers::default();
        for i in 0..100 {
            let t = new_token();
            w.add(format!("k{i}").as_bytes(), &t, false);
        }
        let keep = new_token();
        w.add(b"kept", &keep, false);
        assert!(w.len() < 101, "dead entries are swept as the table grows");
        assert!(w.is_watched(b"kept"));
        for _ in 0..10 {
            w.add(b"kept", &new_token(), false);
        }
        assert_eq!(w.keys.get(&b"kept"[..]).map(|e| e.watchers.len()), Some(2));
        w.remove(b"kept", &keep);
        assert!(!w.is_watched(b"kept"));
    }

    #[test]
    fn flush_and_swap_follow_touch_all_watched_keys_in_db() {
        let t = new_token();
        let mut w = Watchers::default();
        w.add(b"absent", &t, false);
        // FLUSHALL with a watched key missing from the db: no change.
        touch_all(&mut w, |_| false, |_| None);
        assert!(!is_dirty(&t));
        // SWAPDB bringing an expired key over it: still no change, and its later expiry
        // is none either.
        touch_all(&mut w, |_| false, |_| Some(true));
        assert!(!is_dirty(&t) && w.expired_flag(b"absent", &t));
        w.touch_expired(b"absent");
        assert!(!is_dirty(&t) && !w.expired_flag(b"absent", &t));
        // A live key swapped in is a change.
        touch_all(&mut w, |_| false, |_| Some(false));
        assert!(is_dirty(&t));
        // A key present in the flushed db is a change.
        let u = new_token();
        w.add(b"present", &u, false);
        touch_all(&mut w, |k| k == b"present", |_| None);
        assert!(is_dirty(&u));
    }
}
