//! Per-shard databases: values, expiry, sampling. Synchronous and I/O-free, so everything here
//! unit-tests without an executor.

pub mod dense;
pub mod encoding;
pub mod evict;
pub mod expiry;
pub mod hash;
pub mod list;
pub mod notify;
pub mod set;
pub mod snapshot;
pub mod value;
pub mod zset;

pub use dense::Dense;
pub use hash::Hash;
pub use list::List;
pub use set::Set;
pub use snapshot::{EntrySerializer, PassInfo};
pub use value::{RString, Value};
pub use zset::ZSet;

use crate::shard::watch::{Token, Watchers};
use rand::Rng;

/// No expiry.
pub const NO_EXPIRE: i64 = -1;

pub struct Entry {
    pub value: Value,
    /// Absolute unix time in ms, or [`NO_EXPIRE`].
    pub expire_at: i64,
    /// LRU clock (seconds, wrapping) of the last access, for OBJECT IDLETIME; under an LFU
    /// policy the LFU time and counter instead (see [`evict`]).
    pub lru: u32,
    /// The epoch of the last snapshot pass that emitted this entry (see [`snapshot`]).
    pub snap: u32,
}

impl Entry {
    pub fn new(value: Value) -> Self {
        Entry {
            value,
            expire_at: NO_EXPIRE,
            lru: evict::initial_access(),
            snap: 0,
        }
    }
}

impl Clone for Entry {
    fn clone(&self) -> Self {
        Entry {
            value: self.value.clone(),
            expire_at: self.expire_at,
            lru: self.lru,
            snap: self.snap,
        }
    }
}

static LRU_CLOCK: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Seconds resolution clock for LRU idle time. Like Redis's `server.lruclock`, it is a cached
/// value refreshed by the cron ([`update_lru_clock`]), so writes don't read the system clock.
#[inline]
pub fn lru_clock() -> u32 {
    match LRU_CLOCK.load(std::sync::atomic::Ordering::Relaxed) {
        0 => update_lru_clock(),
        c => c,
    }
}

pub fn update_lru_clock() -> u32 {
    let c = (now_ms() / 1000) as u32;
    LRU_CLOCK.store(c, std::sync::atomic::Ordering::Relaxed);
    c
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The keys a tracking database saw written, in order, each once. A transaction may touch
/// hundreds of keys (pipelined MSETs run together), so past a few keys a set answers
/// "already marked?" instead of a scan.
#[derive(Default)]
struct Written {
    keys: Vec<Box<[u8]>>,
    /// Every key of `keys`, once `keys` has grown past [`Written::SCAN_MAX`]; empty before.
    seen: hashbrown::HashSet<Box<[u8]>, foldhash::fast::FixedState>,
}

impl Written {
    const SCAN_MAX: usize = 8;

    fn mark(&mut self, key: &[u8]) {
        if self.keys.len() < Self::SCAN_MAX {
            if !self.keys.iter().any(|k| &**k == key) {
                self.keys.push(key.into());
            }
            return;
        }
        if self.seen.is_empty() {
            self.seen.extend(self.keys.iter().cloned());
        }
        if !self.seen.contains(key) {
            self.seen.insert(key.into());
            self.keys.push(key.into());
        }
    }
}

/// One logical database's part that lives on this shard.
#[derive(Default)]
pub struct Db {
    main: Dense<Entry>,
    /// Keys that carry a TTL (Redis's `db->expires`), for active expiry sampling and INFO.
    expires: Dense<()>,
    /// Keys written since tracking was switched on (multi-shard scratch databases).
    written: Option<Written>,
    /// Keys removed by lazy or active expiry since last drained.
    pub expired_count: u64,
    /// A snapshot pass in progress (see [`snapshot`]).
    pass: Option<Box<snapshot::Pass>>,
    /// While effects are propagated (AOF, replicas): the keys expired here, drained into
    /// `DEL` effects (see `shard::journal`).
    pub expired_log: Option<Vec<Box<[u8]>>>,
    /// This database's number, for keyspace events (SWAPDB swaps contents, not numbers).
    pub id: u32,
    /// Keys WATCHed here (see `shard::watch`); like `id`, they stay with the number.
    watch: Watchers,
}

impl Db {
    pub fn new() -> Self {
        Self::default()
    }

    /// Database number `id` (keyspace events name it).
    pub fn with_id(self, id: usize) -> Self {
        Db {
            id: id as u32,
            ..self
        }
    }

    /// A scratch database that records which keys are written.
    pub fn tracking() -> Self {
        Db {
            written: Some(Written::default()),
            ..Self::default()
        }
    }

    pub fn take_written(&mut self) -> Vec<Box<[u8]>> {
        match &mut self.written {
            Some(w) => {
                w.seen.clear();
                std::mem::take(&mut w.keys)
            }
            None => Vec::new(),
        }
    }

    /// How many keys [`Db::take_written`] would return now.
    pub fn written_len(&self) -> usize {
        self.written.as_ref().map_or(0, |w| w.keys.len())
    }

    /// Forgets the keys marked written after the first `n` (a command that opened them for
    /// writing and changed nothing: its write-back would count as a modification).
    pub fn truncate_written(&mut self, n: usize) {
        if let Some(w) = &mut self.written {
            if !w.seen.is_empty() {
                for k in w.keys.iter().skip(n) {
                    w.seen.remove(k);
                }
            }
            w.keys.truncate(n);
        }
    }

    #[inline]
    fn mark(&mut self, key: &[u8]) {
        if let Some(w) = &mut self.written {
            w.mark(key);
        }
    }

    /// Serialize before mutate: a write to the entry at position `i` first lets a running
    /// snapshot pass emit its old contents. One branch when no pass runs.
    #[inline]
    fn before_write_at(&mut self, i: usize) {
        if let Some(p) = self.pass.as_deref_mut() {
            let s = self.main.slot_mut(i);
            p.emit(&s.key, &mut s.val);
        }
    }

    /// An entry created (or replaced) after the cut is not part of a running pass.
    #[inline]
    fn tag_new_at(&mut self, i: usize) {
        if let Some(p) = self.pass.as_deref() {
            self.main.slot_mut(i).val.snap = p.epoch;
        }
    }

    pub fn len(&self) -> usize {
        self.main.len()
    }

    pub fn is_empty(&self) -> bool {
        self.main.is_empty()
    }

    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// Position of a live `key`, removing it first if its TTL has passed (on a replica: see
    /// [`expiry`]; `write` says which kind of lookup this is). One hash lookup on the common
    /// path.
    #[inline]
    fn live_position(&mut self, key: &[u8], now: i64, write: bool) -> Option<usize> {
        let i = self.main.position(key)?;
        let e = &self.main.slot(i).val;
        if e.expire_at != NO_EXPIRE && e.expire_at <= now {
            match expiry::on_expired(write) {
                expiry::OnExpired::Delete => {}
                expiry::OnExpired::Hide => return None,
                expiry::OnExpired::Keep => return Some(i),
            }
            self.before_write_at(i);
            self.main.remove_at(i);
            self.expires.remove(key);
            self.expired_count += 1;
            if let Some(log) = &mut self.expired_log {
                log.push(key.into());
            }
            notify::record(notify::NOTIFY_EXPIRED, "expired", self.id as usize, key);
            self.tracked_modified(key);
            if !self.watch.is_empty() {
                self.watch.touch_expired(key);
            }
            return None;
        }
        Some(i)
    }

    /// Removes `key` if its TTL has passed. Returns true when the key is (now) absent.
    #[inline]
    fn expire_if_needed(&mut self, key: &[u8], now: i64) -> bool {
        self.live_position(key, now, false).is_none()
    }

    /// [`Db::expire_if_needed`] for a lookup that writes.
    #[inline]
    fn expire_if_needed_for_write(&mut self, key: &[u8], now: i64) -> bool {
        self.live_position(key, now, true).is_none()
    }

    /// Read access (expires lazily, updates the LRU clock).
    #[inline]
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        let i = self.live_position(key, now, false)?;
        let e = &mut self.main.slot_mut(i).val;
        evict::touch(e, key);
        Some(e)
    }

    /// Read access without touching the LRU clock (OBJECT IDLETIME, TYPE of NO-TOUCH clients).
    pub fn peek(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        let i = self.live_position(key, now, false)?;
        Some(&self.main.slot(i).val)
    }

    /// Write access to an existing key (marks it written).
    #[inline]
    pub fn get_mut(&mut self, key: &[u8], now: i64) -> Option<&mut Entry> {
        let i = self.live_position(key, now, true)?;
        self.mark(key);
        if !self.watch.is_empty() {
            self.watch.opened(key);
        }
        notify::opened(self.id, key);
        self.before_write_at(i);
        let e = &mut self.main.slot_mut(i).val;
        evict::touch(e, key);
        Some(e)
    }

    pub fn exists(&mut self, key: &[u8], now: i64) -> bool {
        !self.expire_if_needed(key, now)
    }

    /// Sets a value, discarding any TTL (SET semantics).
    pub fn set(&mut self, key: &[u8], value: Value) {
        self.mark(key);
        self.touch(key);
        match self.main.find(key) {
            Ok(i) => {
                self.before_write_at(i);
                let e = &mut self.main.slot_mut(i).val;
                e.value = value;
                evict::touch(e, key);
                if e.expire_at != NO_EXPIRE {
                    e.expire_at = NO_EXPIRE;
                    self.expires.remove(key);
                }
            }
            Err(hash) => {
                evict::note_created(hash);
                let i = self.main.insert_hashed(hash, key.into(), Entry::new(value));
                self.tag_new_at(i);
                notify::record(notify::NOTIFY_NEW, "new", self.id as usize, key);
            }
        }
    }

    /// Sets a value keeping the TTL of an existing key (KEEPTTL, SETRANGE, ...).
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value) {
        self.mark(key);
        self.touch(key);
        match self.main.find(key) {
            Ok(i) => {
                self.before_write_at(i);
                let e = &mut self.main.slot_mut(i).val;
                e.value = value;
                evict::touch(e, key);
            }
            Err(hash) => {
                evict::note_created(hash);
                let i = self.main.insert_hashed(hash, key.into(), Entry::new(value));
                self.tag_new_at(i);
                notify::record(notify::NOTIFY_NEW, "new", self.id as usize, key);
            }
        }
    }

    /// Inserts a whole entry (value and TTL), replacing any existing one.
    pub fn put_entry(&mut self, key: &[u8], entry: Entry) {
        if notify::wants(notify::NOTIFY_NEW) && self.main.get(key).is_none() {
            notify::record(notify::NOTIFY_NEW, "new", self.id as usize, key);
        }
        self.install(key, entry);
        self.tracked_modified(key);
    }

    /// [`Db::put_entry`] for a copy of an entry that lives elsewhere (a multi-shard command's
    /// fetch and write-back): no keyspace event, the command already reported its changes.
    pub fn install(&mut self, key: &[u8], entry: Entry) {
        self.mark(key);
        // Not a modification for client tracking: a fetched copy, or the write-back of one
        // the coordinator already reported.
        if !self.watch.is_empty() {
            self.watch.touch(key);
        }
        let has_ttl = entry.expire_at != NO_EXPIRE;
        let i = match self.main.find(key) {
            Ok(i) => {
                self.before_write_at(i);
                self.main.slot_mut(i).val = entry;
                i
            }
            Err(hash) => {
                evict::note_created(hash);
                self.main.insert_hashed(hash, key.into(), entry)
            }
        };
        self.tag_new_at(i);
        if has_ttl {
            self.expires.insert(key, ());
        } else {
            self.expires.remove(key);
        }
    }

    pub fn remove(&mut self, key: &[u8], now: i64) -> Option<Entry> {
        if self.expire_if_needed_for_write(key, now) {
            return None;
        }
        let i = self.main.position(key)?;
        self.mark(key);
        self.touch(key);
        self.expires.remove(key);
        self.before_write_at(i);
        Some(self.main.remove_at(i).1)
    }

    /// Sets the absolute expiry of an existing key; `NO_EXPIRE` persists it. Returns false when
    /// the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], at: i64, now: i64) -> bool {
        if self.expire_if_needed_for_write(key, now) {
            return false;
        }
        let Some(i) = self.main.position(key) else {
            return false;
        };
        self.mark(key);
        self.touch(key);
        self.before_write_at(i);
        let e = &mut self.main.slot_mut(i).val;
        e.expire_at = at;
        if at == NO_EXPIRE {
            self.expires.remove(key);
        } else {
            self.expires.insert(key, ());
        }
        true
    }

    /// A watched key was modified (Redis's `touchWatchedKey`).
    #[inline]
    fn touch(&mut self, key: &[u8]) {
        if !self.watch.is_empty() {
            self.watch.touch(key);
        }
        self.tracked_modified(key);
    }

    /// Client tracking: `key` was modified here (see `net::tracking`).
    #[inline(always)]
    fn tracked_modified(&self, key: &[u8]) {
        notify::modified(self.id, key);
    }

    /// Marks the watchers of `key` dirty now, for a command that counts no change but is one
    /// for WATCH (LTRIM that removes nothing: Redis signals it anyway).
    pub fn signal_modified_key(&mut self, key: &[u8]) {
        self.touch(key);
    }

    /// WATCH: registers `t` for `key` (existing or not). A key whose TTL already passed is
    /// left in place, flagged for `t`: its removal will be no change (Redis's `watchForKey`).
    pub fn watch_key(&mut self, key: &[u8], t: &Token, now: i64) {
        let expired = self.is_expired_in_place(key, now);
        self.watch.add(key, t, expired);
    }

    fn is_expired_in_place(&self, key: &[u8], now: i64) -> bool {
        matches!(self.main.get(key), Some(e) if e.expire_at != NO_EXPIRE && e.expire_at <= now)
    }

    /// EXEC is done with `t`'s watch of `key`.
    pub fn unwatch_key(&mut self, key: &[u8], t: &Token) {
        self.watch.remove(key, t);
    }

    /// Whether `key`, watched by `t`, is present with its TTL passed (Redis's
    /// `isWatchedKeyExpired`: EXEC aborts), unless it was already expired for `t` at WATCH.
    pub fn watched_key_expired(&self, key: &[u8], t: &Token, now: i64) -> bool {
        self.is_expired_in_place(key, now) && !self.watch.expired_flag(key, t)
    }

    /// A copy of `key`'s entry for a multi-shard command's scratch database. On a replica the
    /// copy is taken even when expired, so the scratch lookups apply the replica's rule (the
    /// master's writes see the key, reads do not); on a master an expired key is removed.
    pub fn fetch(&mut self, key: &[u8], now: i64) -> Option<Entry> {
        if expiry::replica() {
            let i = self.main.position(key)?;
            let e = &mut self.main.slot_mut(i).val;
            evict::touch(e, key);
            return Some(e.clone());
        }
        self.get(key, now).cloned()
    }

    /// What a scratch database hands back for `key` once the command ran (see [`Db::fetch`]):
    /// on a replica the entry as it is, expired or not; on a master a live entry only.
    pub fn written_back(&mut self, key: &[u8], now: i64) -> Option<Entry> {
        if expiry::replica() {
            return self.get_raw(key).cloned();
        }
        self.peek(key, now).cloned()
    }

    /// Whether `key` is in the table, expired or not (Redis's `dictFind` on `db->dict`).
    pub fn contains_raw(&self, key: &[u8]) -> bool {
        self.main.get(key).is_some()
    }

    /// The entry as stored, even when logically expired (DEBUG DIGEST-VALUE).
    pub fn get_raw(&self, key: &[u8]) -> Option<&Entry> {
        self.main.get(key)
    }

    /// The dispatcher runs a command on this db: see [`Watchers::begin_command`].
    #[inline]
    pub fn watch_begin_command(&mut self) -> bool {
        self.watch.begin_command()
    }

    /// See [`Watchers::end_command`].
    pub fn watch_end_command(&mut self, changed: bool) {
        self.watch.end_command(changed);
    }

    /// The watch table, taken out (SWAPDB keeps it with the db number).
    pub fn take_watchers(&mut self) -> Watchers {
        std::mem::take(&mut self.watch)
    }

    pub fn set_watchers(&mut self, w: Watchers) {
        self.watch = w;
    }

    pub fn clear(&mut self) {
        if !self.watch.is_empty() {
            let main = &self.main;
            crate::shard::watch::touch_all(&mut self.watch, |k| main.get(k).is_some(), |_| None);
        }
        match self.pass.as_deref_mut() {
            // The pass still owes the flushed entries: hand it the table (O(1)).
            Some(p) => p.detached.push(self.main.take_slots()),
            None => self.main.clear(),
        }
        self.expires.clear();
    }

    /// Starts a snapshot pass at this instant (the cut), as db number `db_index`, emitting
    /// entries through `ser`. All dbs of one snapshot share `epoch` ([`snapshot::next_epoch`]).
    /// A pass already running is replaced (its output is lost).
    pub fn snapshot_begin(&mut self, db_index: usize, epoch: u32, ser: EntrySerializer) {
        self.pass = Some(Box::new(snapshot::Pass {
            epoch,
            db_index,
            cursor: self.main.len(),
            detached: Vec::new(),
            ser,
            out: Vec::new(),
            keys: 0,
            expires: 0,
            keys_at_cut: self.main.len() as u64,
            expires_at_cut: self.expires.len() as u64,
        }));
    }

    pub fn snapshot_running(&self) -> bool {
        self.pass.is_some()
    }

    /// The db number the running pass writes under (it moves with the db under SWAPDB).
    pub fn snapshot_db_index(&self) -> Option<usize> {
        self.pass.as_deref().map(|p| p.db_index)
    }

    /// Walks up to `budget` entries of the running pass. Returns true once the pass has met
    /// every entry of the cut (then drain the output and call [`Db::snapshot_end`]).
    pub fn snapshot_step(&mut self, budget: usize) -> bool {
        let Some(p) = self.pass.as_deref_mut() else {
            return true;
        };
        let mut n = 0;
        while n < budget {
            let Some(t) = p.detached.last_mut() else {
                break;
            };
            match t.pop() {
                Some(mut s) => {
                    p.emit(&s.key, &mut s.val);
                    n += 1;
                }
                None => {
                    p.detached.pop();
                }
            }
        }
        p.cursor = p.cursor.min(self.main.len());
        while n < budget && p.cursor > 0 {
            p.cursor -= 1;
            let s = self.main.slot_mut(p.cursor);
            p.emit(&s.key, &mut s.val);
            n += 1;
        }
        p.detached.is_empty() && p.cursor == 0
    }

    /// The bytes the pass has produced since the last call.
    pub fn snapshot_take_output(&mut self) -> Vec<u8> {
        self.pass
            .as_deref_mut()
            .map(|p| std::mem::take(&mut p.out))
            .unwrap_or_default()
    }

    /// Bytes waiting in the pass's output.
    pub fn snapshot_pending_bytes(&self) -> usize {
        self.pass.as_deref().map_or(0, |p| p.out.len())
    }

    /// Ends (or abandons) the pass: its counters and any output not yet taken.
    pub fn snapshot_end(&mut self) -> Option<(PassInfo, Vec<u8>)> {
        self.pass.take().map(|mut p| {
            let out = std::mem::take(&mut p.out);
            (p.info(), out)
        })
    }

    /// Read access through a shared borrow, for commands reading several keys at once (SINTER,
    /// SUNION, ...): an expired key reads as absent but is not removed, so callers expire
    /// the keys with [`Db::get`] first.
    pub fn get_live(&self, key: &[u8], now: i64) -> Option<&Entry> {
        self.main
            .get(key)
            .filter(|e| e.expire_at == NO_EXPIRE || e.expire_at > now)
    }

    /// One SCAN step over this db's part (see [`Dense::scan`]); expired keys are skipped.
    pub fn scan(
        &self,
        cursor: u64,
        count: usize,
        now: i64,
        mut f: impl FnMut(&[u8], &Entry),
    ) -> u64 {
        self.main.scan(cursor, count, |i| {
            let s = self.main.slot(i);
            if s.val.expire_at == NO_EXPIRE || s.val.expire_at > now {
                f(&s.key, &s.val)
            }
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.main.iter()
    }

    /// A uniformly random live key.
    pub fn random_key(&mut self, now: i64, rng: &mut impl Rng) -> Option<Box<[u8]>> {
        for _ in 0..100 {
            if self.main.is_empty() {
                return None;
            }
            let i = rng.random_range(0..self.main.len());
            let s = self.main.slot(i);
            if s.val.expire_at != NO_EXPIRE && s.val.expire_at <= now {
                let k = s.key.clone();
                self.expire_if_needed(&k, now);
                continue;
            }
            return Some(s.key.clone());
        }
        // Mostly expired keys: fall back to a walk.
        self.main
            .iter()
            .find(|(_, e)| e.expire_at == NO_EXPIRE || e.expire_at > now)
            .map(|(k, _)| k.into())
    }

    /// One round of active expiry: samples up to `samples` keys with a TTL and removes the
    /// expired ones. Returns (sampled, expired) so the caller can repeat while the expired
    /// ratio stays high (Redis's activeExpireCycle).
    pub fn active_expire(
        &mut self,
        now: i64,
        samples: usize,
        rng: &mut impl Rng,
    ) -> (usize, usize) {
        let mut sampled = 0;
        let mut expired = 0;
        for _ in 0..samples {
            if self.expires.is_empty() {
                break;
            }
            sampled += 1;
            let i = rng.random_range(0..self.expires.len());
            let key = self.expires.slot(i).key.clone();
            let dead = matches!(self.main.get(&key), Some(e) if e.expire_at != NO_EXPIRE && e.expire_at <= now);
            if dead {
                self.expire_if_needed(&key, now);
                expired += 1;
            } else if self.main.get(&key).is_none() {
                self.expires.remove(&key);
            }
        }
        (sampled, expired)
    }

    /// Sum of TTLs remaining (ms) over a sample, for INFO keyspace avg_ttl.
    pub fn avg_ttl(&self, now: i64) -> i64 {
        let n = self.expires.len().min(64);
        if n == 0 {
            return 0;
        }
        let mut sum = 0i64;
        let mut cnt = 0i64;
        for i in 0..n {
            if let Some(e) = self.main.get(&self.expires.slot(i).key) {
                if e.expire_at > now {
                    sum += e.expire_at - now;
                    cnt += 1;
                }
            }
        }
        if cnt == 0 {
            0
        } else {
            sum / cnt
        }
    }

    pub fn approx_bytes(&self) -> usize {
        self.main.capacity_bytes() + self.expires.capacity_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_expiry_and_ttl_bookkeeping() {
        let mut db = Db::new();
        db.set(b"a", Value::from_bytes(b"1"));
        assert!(db.set_expire(b"a", 1000, 0));
        assert_eq!(db.expires_len(), 1);
        assert!(db.get(b"a", 999).is_some());
        assert!(db.get(b"a", 1000).is_none());
        assert_eq!(db.len(), 0);
        assert_eq!(db.expires_len(), 0);
        assert_eq!(db.expired_count, 1);
    }

    #[test]
    fn set_clears_ttl_keep_ttl_keeps_it() {
        let mut db = Db::new();
        db.set(b"a", Value::from_bytes(b"1"));
        db.set_expire(b"a", 5000, 0);
        db.set_keep_ttl(b"a", Value::from_bytes(b"2"));
        assert_eq!(db.get(b"a", 0).map(|e| e.expire_at), Some(5000));
        db.set(b"a", Value::from_bytes(b"3"));
        assert_eq!(db.get(b"a", 0).map(|e| e.expire_at), Some(NO_EXPIRE));
        assert_eq!(db.expires_len(), 0);
    }

    #[test]
    fn tracking_records_writes_once() {
        let mut db = Db::tracking();
        db.set(b"a", Value::from_bytes(b"1"));
        db.set(b"a", Value::from_bytes(b"2"));
        let _ = db.get(b"b", 0);
        db.remove(b"a", 0);
        assert_eq!(db.take_written(), vec![Box::<[u8]>::from(&b"a"[..])]);
    }

    #[test]
    fn tracking_dedupes_many_keys_and_truncates() {
        let mut db = Db::tracking();
        let key = |i: usize| format!("k{i}").into_bytes();
        for i in 0..20 {
            db.set(&key(i), Value::from_bytes(b"v"));
        }
        // Past the scan threshold: rewrites are still recorded once.
        for i in 0..20 {
            db.set(&key(i), Value::from_bytes(b"w"));
        }
        assert_eq!(db.written_len(), 20);
        // A command that changed nothing forgets what it marked; marking again records it.
        db.truncate_written(12);
        assert_eq!(db.written_len(), 12);
        db.set(&key(15), Value::from_bytes(b"x"));
        db.set(&key(3), Value::from_bytes(b"x"));
        let written = db.take_written();
        let want: Vec<Box<[u8]>> = (0..12)
            .chain([15])
            .map(|i| key(i).into_boxed_slice())
            .collect();
        assert_eq!(written, want);
        // take_written starts over.
        db.set(&key(3), Value::from_bytes(b"y"));
        assert_eq!(db.take_written(), vec![key(3).into_boxed_slice()]);
    }

    #[test]
    fn watchers_see_creation_deletion_expiry_and_flush_but_not_reads() {
        use crate::shard::watch::{is_dirty, new_token, swap_dbs};
        let mut db = Db::new();
        let t = new_token();
        db.watch_key(b"a", &t, 0);
        let _ = db.get(b"a", 0);
        db.remove(b"a", 0);
        db.clear();
        assert!(
            !is_dirty(&t),
            "an absent key that stays absent is unchanged"
        );
        db.set(b"a", Value::from_bytes(b"1"));
        db.remove(b"a", 0);
        assert!(is_dirty(&t), "created and deleted again is a change");

        let t = new_token();
        db.set(b"b", Value::from_bytes(b"1"));
        db.set_expire(b"b", 100, 0);
        db.watch_key(b"b", &t, 0);
        assert!(!db.watched_key_expired(b"b", &t, 99));
        assert!(
            db.watched_key_expired(b"b", &t, 100),
            "EXEC sees the TTL passed"
        );
        let _ = db.get(b"b", 100);
        assert!(is_dirty(&t), "expiry is a change");

        // A key already expired at WATCH stays until something removes it, and its removal
        // is no change for that watcher (it is for one that watched it alive).
        let (t, alive) = (new_token(), new_token());
        db.set(b"c", Value::from_bytes(b"1"));
        db.set_expire(b"c", 100, 0);
        db.watch_key(b"c", &alive, 0);
        db.watch_key(b"c", &t, 200);
        assert_eq!(db.len(), 1, "WATCH does not remove the expired key");
        assert!(!db.watched_key_expired(b"c", &t, 200));
        assert!(db.watched_key_expired(b"c", &alive, 200));
        let _ = db.get(b"c", 200);
        assert!(!is_dirty(&t));
        assert!(is_dirty(&alive));
        db.set(b"c", Value::from_bytes(b"2"));
        assert!(is_dirty(&t), "created again after the removal: a change");

        // Opened for writing inside a command that changed nothing: no change.
        db.set(b"d", Value::from_bytes(b"1"));
        let t = new_token();
        db.watch_key(b"d", &t, 0);
        assert!(db.watch_begin_command());
        let _ = db.get_mut(b"d", 0);
        db.watch_end_command(false);
        assert!(!is_dirty(&t));
        db.clear();
        assert!(is_dirty(&t), "FLUSHDB of a present watched key is a change");

        // SWAPDB: a watched absent key stays unchanged unless the other db has it live.
        let mut dbs: Vec<Db> = (0..3).map(|i| Db::new().with_id(i)).collect();
        let (t0, t1) = (new_token(), new_token());
        dbs[0].watch_key(b"x", &t0, 0);
        dbs[0].watch_key(b"y", &t1, 0);
        dbs[1].set(b"y", Value::from_bytes(b"1"));
        swap_dbs(&mut dbs, 0, 1, 0);
        assert!(!is_dirty(&t0));
        assert!(is_dirty(&t1));
        assert_eq!((dbs[0].id, dbs[1].id), (0, 1));
        assert!(dbs[0].get(b"y", 0).is_some());
        dbs[0].set(b"x", Value::from_bytes(b"1"));
        assert!(is_dirty(&t0), "the watch table stays with db 0");
    }

    #[test]
    fn active_expire_removes_dead_keys() {
        let mut db = Db::new();
        let mut rng = rand::rng();
        for i in 0..100 {
            let k = format!("k{i}");
            db.set(k.as_bytes(), Value::from_bytes(b"v"));
            db.set_expire(k.as_bytes(), if i < 50 { 10 } else { 1_000_000 }, 0);
        }
        for _ in 0..50 {
            db.active_expire(100, 20, &mut rng);
        }
        assert_eq!(db.len(), 50);
    }
}
