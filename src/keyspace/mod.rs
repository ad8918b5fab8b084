//! Per-shard databases: values, expiry, sampling. Synchronous and I/O-free, so everything here
//! unit-tests without an executor.

pub mod dense;
pub mod hash;
pub mod list;
pub mod notify;
pub mod set;
pub mod value;
pub mod zset;

pub use dense::Dense;
pub use hash::Hash;
pub use list::List;
pub use set::Set;
pub use value::{RString, Value};
pub use zset::ZSet;

use rand::Rng;

/// No expiry.
pub const NO_EXPIRE: i64 = -1;

pub struct Entry {
    pub value: Value,
    /// Absolute unix time in ms, or [`NO_EXPIRE`].
    pub expire_at: i64,
    /// LRU clock (seconds, wrapping) of the last access, for OBJECT IDLETIME.
    pub lru: u32,
    /// Changes on every write to the key (WATCH compares it at EXEC). Db's write methods set
    /// it from [`next_version`], so a key deleted and created again never repeats a version.
    pub version: u64,
}

impl Entry {
    pub fn new(value: Value) -> Self {
        Entry {
            value,
            expire_at: NO_EXPIRE,
            lru: lru_clock(),
            version: next_version(),
        }
    }
}

impl Clone for Entry {
    fn clone(&self) -> Self {
        Entry {
            value: self.value.clone(),
            expire_at: self.expire_at,
            lru: self.lru,
            version: self.version,
        }
    }
}

/// Versions are handed out to each shard thread in blocks, so they are unique process-wide
/// (SWAPDB moves entries between dbs) without a shared atomic on every write.
static VERSION_BLOCKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
const VERSION_BLOCK: u64 = 1 << 20;

thread_local! {
    static VERSION_NEXT: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// A fresh key version (never 0, which stands for "absent").
#[inline]
pub fn next_version() -> u64 {
    VERSION_NEXT.with(|c| {
        let (mut next, mut end) = c.get();
        if next == end {
            let block = VERSION_BLOCKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            next = block * VERSION_BLOCK;
            end = next + VERSION_BLOCK;
        }
        c.set((next + 1, end));
        next
    })
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

/// One logical database's part that lives on this shard.
#[derive(Default)]
pub struct Db {
    main: Dense<Entry>,
    /// Keys that carry a TTL (Redis's `db->expires`), for active expiry sampling and INFO.
    expires: Dense<()>,
    /// Keys written since tracking was switched on (multi-shard scratch databases).
    written: Option<Vec<Box<[u8]>>>,
    /// Keys removed by lazy or active expiry since last drained.
    pub expired_count: u64,
    /// This database's number, for keyspace events (SWAPDB swaps contents, not numbers).
    pub id: u32,
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
            written: Some(Vec::new()),
            ..Self::default()
        }
    }

    pub fn take_written(&mut self) -> Vec<Box<[u8]>> {
        self.written
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    #[inline]
    fn mark(&mut self, key: &[u8]) {
        if let Some(w) = &mut self.written {
            if !w.iter().any(|k| &**k == key) {
                w.push(key.into());
            }
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

    /// Position of a live `key`, removing it first if its TTL has passed. One hash lookup on
    /// the common path.
    #[inline]
    fn live_position(&mut self, key: &[u8], now: i64) -> Option<usize> {
        let i = self.main.position(key)?;
        let e = &self.main.slot(i).val;
        if e.expire_at != NO_EXPIRE && e.expire_at <= now {
            self.main.remove_at(i);
            self.expires.remove(key);
            self.expired_count += 1;
            notify::record(notify::NOTIFY_EXPIRED, "expired", self.id as usize, key);
            return None;
        }
        Some(i)
    }

    /// Removes `key` if its TTL has passed. Returns true when the key is (now) absent.
    #[inline]
    fn expire_if_needed(&mut self, key: &[u8], now: i64) -> bool {
        self.live_position(key, now).is_none()
    }

    /// Read access (expires lazily, updates the LRU clock).
    #[inline]
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        let i = self.live_position(key, now)?;
        let e = &mut self.main.slot_mut(i).val;
        e.lru = lru_clock();
        Some(e)
    }

    /// Read access without touching the LRU clock (OBJECT IDLETIME, TYPE of NO-TOUCH clients).
    pub fn peek(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        let i = self.live_position(key, now)?;
        Some(&self.main.slot(i).val)
    }

    /// Write access to an existing key (marks it written).
    #[inline]
    pub fn get_mut(&mut self, key: &[u8], now: i64) -> Option<&mut Entry> {
        let i = self.live_position(key, now)?;
        self.mark(key);
        let e = &mut self.main.slot_mut(i).val;
        e.lru = lru_clock();
        e.version = next_version();
        Some(e)
    }

    pub fn exists(&mut self, key: &[u8], now: i64) -> bool {
        !self.expire_if_needed(key, now)
    }

    /// Sets a value, discarding any TTL (SET semantics).
    pub fn set(&mut self, key: &[u8], value: Value) {
        self.mark(key);
        match self.main.find(key) {
            Ok(i) => {
                let e = &mut self.main.slot_mut(i).val;
                e.value = value;
                e.lru = lru_clock();
                e.version = next_version();
                if e.expire_at != NO_EXPIRE {
                    e.expire_at = NO_EXPIRE;
                    self.expires.remove(key);
                }
            }
            Err(hash) => {
                self.main.insert_hashed(hash, key.into(), Entry::new(value));
                notify::record(notify::NOTIFY_NEW, "new", self.id as usize, key);
            }
        }
    }

    /// Sets a value keeping the TTL of an existing key (KEEPTTL, SETRANGE, ...).
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value) {
        self.mark(key);
        match self.main.find(key) {
            Ok(i) => {
                let e = &mut self.main.slot_mut(i).val;
                e.value = value;
                e.lru = lru_clock();
                e.version = next_version();
            }
            Err(hash) => {
                self.main.insert_hashed(hash, key.into(), Entry::new(value));
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
    }

    /// [`Db::put_entry`] for a copy of an entry that lives elsewhere (a multi-shard command's
    /// fetch and write-back): no keyspace event, the command already reported its changes.
    pub fn install(&mut self, key: &[u8], mut entry: Entry) {
        self.mark(key);
        entry.version = next_version();
        let has_ttl = entry.expire_at != NO_EXPIRE;
        self.main.insert(key, entry);
        if has_ttl {
            self.expires.insert(key, ());
        } else {
            self.expires.remove(key);
        }
    }

    pub fn remove(&mut self, key: &[u8], now: i64) -> Option<Entry> {
        if self.expire_if_needed(key, now) {
            return None;
        }
        self.mark(key);
        self.expires.remove(key);
        self.main.remove(key).map(|(_, e)| e)
    }

    /// Sets the absolute expiry of an existing key; `NO_EXPIRE` persists it. Returns false when
    /// the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], at: i64, now: i64) -> bool {
        if self.expire_if_needed(key, now) {
            return false;
        }
        self.mark(key);
        let Some(e) = self.main.get_mut(key) else {
            return false;
        };
        e.expire_at = at;
        e.version = next_version();
        if at == NO_EXPIRE {
            self.expires.remove(key);
        } else {
            self.expires.insert(key, ());
        }
        true
    }

    /// The version of a live `key` (0 when absent), for WATCH. Expires lazily, so a watched
    /// key whose TTL passes reads as changed.
    pub fn version(&mut self, key: &[u8], now: i64) -> u64 {
        match self.live_position(key, now) {
            Some(i) => self.main.slot(i).val.version,
            None => 0,
        }
    }

    pub fn clear(&mut self) {
        self.main.clear();
        self.expires.clear();
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
    fn versions_change_on_every_write_and_expiry() {
        let mut db = Db::new();
        assert_eq!(db.version(b"a", 0), 0);
        db.set(b"a", Value::from_bytes(b"1"));
        let v1 = db.version(b"a", 0);
        assert_ne!(v1, 0);
        let _ = db.get(b"a", 0);
        assert_eq!(db.version(b"a", 0), v1, "reads keep the version");
        db.set_keep_ttl(b"a", Value::from_bytes(b"2"));
        let v2 = db.version(b"a", 0);
        assert_ne!(v2, v1);
        db.set_expire(b"a", 100, 0);
        let v3 = db.version(b"a", 0);
        assert_ne!(v3, v2);
        let _ = db.get_mut(b"a", 0);
        assert_ne!(db.version(b"a", 0), v3);
        assert_eq!(db.version(b"a", 100), 0, "expired reads as absent");
        db.set(b"a", Value::from_bytes(b"1"));
        let v4 = db.version(b"a", 0);
        db.remove(b"a", 0);
        db.put_entry(b"a", Entry::new(Value::from_bytes(b"1")));
        assert_ne!(db.version(b"a", 0), v4, "deleted and recreated is a change");
        db.clear();
        assert_eq!(db.version(b"a", 0), 0);
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
