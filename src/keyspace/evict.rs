//! `maxmemory` eviction and the per-key access data it reads (Redis's `evict.c` and the LFU
//! half of `object.c`).
//!
//! The settings (`maxmemory`, `maxmemory-policy`, `maxmemory-samples`, `lfu-log-factor`,
//! `lfu-decay-time`) are mirrored in process-wide atomics ([`apply_config`]) so the keyspace
//! reads them without the config lock.
//!
//! [`Entry::lru`] holds, like Redis's 24-bit `robj->lru`, either the LRU clock of the last
//! access (seconds) or, under an LFU policy, `minutes << 8 | counter`: the last decrement time
//! in minutes (16 bits) and a logarithmic access counter (8 bits).
//!
//! Eviction is approximated like Redis's: `maxmemory-samples` keys are sampled from each db of
//! the shard (all keys, or the keys with a TTL for `volatile-*`), the best candidates join a
//! pool of [`POOL_SIZE`] kept across the keys evicted in one run, and the best of the pool is
//! deleted; random policies pick a random key from the dbs in turn.

use super::{notify, Db, Entry, NO_EXPIRE};
use rand::Rng;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

/// Redis's `maxmemory-policy` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    NoEviction,
}

impl Policy {
    pub fn parse(s: &str) -> Option<Policy> {
        Some(match s {
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            "allkeys-lru" => Policy::AllkeysLru,
            "allkeys-lfu" => Policy::AllkeysLfu,
            "allkeys-random" => Policy::AllkeysRandom,
            "noeviction" => Policy::NoEviction,
            _ => return None,
        })
    }

    fn from_u8(v: u8) -> Policy {
        [
            Policy::VolatileLru,
            Policy::VolatileLfu,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
            Policy::AllkeysLru,
            Policy::AllkeysLfu,
            Policy::AllkeysRandom,
            Policy::NoEviction,
        ]
        .get(v as usize)
        .copied()
        .unwrap_or(Policy::NoEviction)
    }

    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::VolatileLfu | Policy::AllkeysLfu)
    }

    pub fn is_lru(self) -> bool {
        matches!(self, Policy::VolatileLru | Policy::AllkeysLru)
    }

    fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

static MAXMEMORY: AtomicU64 = AtomicU64::new(0);
static POLICY: AtomicU8 = AtomicU8::new(Policy::NoEviction as u8);
static SAMPLES: AtomicU32 = AtomicU32::new(5);
static LFU_LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
static LFU_DECAY_TIME: AtomicU32 = AtomicU32::new(1);
/// INFO stats `evicted_keys`, over all shards.
static EVICTED_KEYS: AtomicU64 = AtomicU64::new(0);

/// Redis's LFU_INIT_VAL: the counter of a new key, so it is not evicted before it had a chance
/// to be used.
pub const LFU_INIT_VAL: u32 = 5;

/// Applies the eviction settings (startup and CONFIG SET).
pub fn configure(maxmemory: u64, policy: &str, samples: u32, log_factor: u32, decay_time: u32) {
    MAXMEMORY.store(maxmemory, Ordering::Relaxed);
    let p = Policy::parse(policy).unwrap_or(Policy::NoEviction);
    POLICY.store(p as u8, Ordering::Relaxed);
    SAMPLES.store(samples.max(1), Ordering::Relaxed);
    LFU_LOG_FACTOR.store(log_factor, Ordering::Relaxed);
    LFU_DECAY_TIME.store(decay_time, Ordering::Relaxed);
}

/// [`configure`] from the configuration.
pub fn apply_config(cfg: &crate::config::Config) {
    let num = |name: &str, default: u32| {
        cfg.get_one(name)
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(default)
    };
    configure(
        cfg.maxmemory,
        &cfg.maxmemory_policy,
        cfg.maxmemory_samples,
        num("lfu-log-factor", 10),
        num("lfu-decay-time", 1),
    );
}

#[inline]
pub fn policy() -> Policy {
    Policy::from_u8(POLICY.load(Ordering::Relaxed))
}

/// `maxmemory` in bytes (0: no limit).
#[inline]
pub fn maxmemory() -> u64 {
    MAXMEMORY.load(Ordering::Relaxed)
}

pub fn evicted_keys() -> u64 {
    EVICTED_KEYS.load(Ordering::Relaxed)
}

pub fn reset_stats() {
    EVICTED_KEYS.store(0, Ordering::Relaxed);
}

/// The memory `maxmemory` is compared with: the allocator's count.
pub fn used_memory() -> u64 {
    crate::alloc::used_memory() as u64
}

/// Whether the process is above `maxmemory` (never without a limit or without the counting
/// allocator).
pub fn over_limit() -> bool {
    let max = maxmemory();
    max != 0 && used_memory() > max
}

// ---------------------------------------------------------------------------------------------
// Access data (LRU clock or LFU counter)

/// The access field of a key created now.
#[inline]
pub fn initial_access() -> u32 {
    if policy().is_lfu() {
        lfu_minutes() << 8 | LFU_INIT_VAL
    } else {
        super::lru_clock()
    }
}

thread_local! {
    /// Under an LFU policy, the key hash (with the low bit set, so never 0) of the entry the
    /// running command created: the command's own lookup of it right after creating it is not
    /// an access (Redis creates the object after its lookup missed).
    static CREATED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Notes that the entry of the key hashing to `hash` was just created.
#[inline]
pub fn note_created(hash: u64) {
    if policy().is_lfu() {
        CREATED.with(|c| c.set(hash | 1));
    }
}

/// The command ended: the next lookup of what it created counts again.
#[inline]
pub fn command_done() {
    CREATED.with(|c| c.set(0));
}

/// Records an access to an entry (Redis's lookupKey: updateLFU or the LRU clock).
#[inline]
pub fn touch(e: &mut Entry, key: &[u8]) {
    if policy().is_lfu() {
        let created = CREATED.with(|c| c.get());
        if created != 0 && created == super::dense::hash_of(key) | 1 {
            return;
        }
        let c = lfu_log_incr(lfu_decr_and_return(e.lru), &mut rand::rng());
        e.lru = lfu_minutes() << 8 | c;
    } else {
        e.lru = super::lru_clock();
    }
}

/// The access field for a key loaded (RDB `IDLE`/`FREQ`, RESTORE `IDLETIME`/`FREQ`): only the
/// data matching the current policy family is used, as in Redis's objectSetLRUOrLFU.
pub fn loaded_access(idle_secs: Option<u64>, freq: Option<u8>) -> u32 {
    if policy().is_lfu() {
        match freq {
            Some(f) => lfu_minutes() << 8 | f as u32,
            None => initial_access(),
        }
    } else {
        match idle_secs {
            Some(idle) => super::lru_clock().wrapping_sub(idle.min(u32::MAX as u64) as u32),
            None => super::lru_clock(),
        }
    }
}

/// Seconds since the last access (LRU clock; meaningful under non-LFU policies).
pub fn idle_secs(access: u32) -> u64 {
    super::lru_clock().wrapping_sub(access) as u64
}

/// The decayed LFU counter (OBJECT FREQ, the RDB `FREQ` opcode).
pub fn lfu_freq(access: u32) -> u8 {
    lfu_decr_and_return(access) as u8
}

/// Minutes of the unix clock, 16 bits (Redis's LFUGetTimeInMinutes).
fn lfu_minutes() -> u32 {
    (super::lru_clock() / 60) & 0xFFFF
}

fn lfu_elapsed_minutes(ldt: u32) -> u32 {
    let now = lfu_minutes();
    if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    }
}

/// The counter decremented by one per `lfu-decay-time` minutes since its last decrement.
fn lfu_decr_and_return(access: u32) -> u32 {
    let ldt = (access >> 8) & 0xFFFF;
    let counter = access & 0xFF;
    let period = LFU_DECAY_TIME.load(Ordering::Relaxed);
    // lfu-decay-time 0: the counter never decays.
    let periods = lfu_elapsed_minutes(ldt).checked_div(period).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// Logarithmic increment: the higher the counter, the less likely it grows (Redis's
/// LFULogIncr).
fn lfu_log_incr(counter: u32, rng: &mut impl Rng) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * LFU_LOG_FACTOR.load(Ordering::Relaxed) as f64 + 1.0);
    if rng.random::<f64>() < p {
        counter + 1
    } else {
        counter
    }
}

// ---------------------------------------------------------------------------------------------
// Eviction

/// How many candidates the pool keeps (Redis's EVPOOL_SIZE).
pub const POOL_SIZE: usize = 16;

/// A candidate: its score (higher evicts first), db index and key.
type Candidate = (u64, usize, Box<[u8]>);

/// The state of one eviction run on a shard (its pool, and where random eviction is).
#[derive(Default)]
pub struct Evictor {
    pool: Vec<Candidate>,
    next_db: usize,
    /// Keys evicted by this run.
    pub evicted: u64,
}

fn score(p: Policy, e: &Entry) -> u64 {
    match p {
        Policy::AllkeysLru | Policy::VolatileLru => idle_secs(e.lru),
        Policy::AllkeysLfu | Policy::VolatileLfu => 255 - lfu_decr_and_return(e.lru) as u64,
        Policy::VolatileTtl => u64::MAX - e.expire_at.max(0) as u64,
        _ => 0,
    }
}

impl Evictor {
    /// Evicts one key from `dbs` under the current policy, never one for which `skip(db, key)`
    /// holds (keys locked by a multi-shard transaction). Returns false when there is nothing
    /// the policy may evict (or the policy is noeviction).
    pub fn evict_one(
        &mut self,
        dbs: &mut [Db],
        rng: &mut impl Rng,
        skip: impl Fn(usize, &[u8]) -> bool,
    ) -> bool {
        let p = policy();
        let pick = match p {
            Policy::NoEviction => None,
            Policy::AllkeysRandom | Policy::VolatileRandom => self.pick_random(p, dbs, rng),
            _ => self.pick_from_pool(p, dbs, rng),
        }
        .filter(|(db, key)| !skip(*db, key));
        let Some((db, key)) = pick else {
            return false;
        };
        if let Some(d) = dbs.get_mut(db) {
            d.evict_key(&key);
        }
        self.evicted += 1;
        EVICTED_KEYS.fetch_add(1, Ordering::Relaxed);
        true
    }

    fn pick_random(
        &mut self,
        p: Policy,
        dbs: &mut [Db],
        rng: &mut impl Rng,
    ) -> Option<(usize, Box<[u8]>)> {
        for _ in 0..dbs.len() {
            let i = self.next_db % dbs.len();
            self.next_db = self.next_db.wrapping_add(1);
            let d = &dbs[i];
            let key = if p.volatile() {
                if d.expires.is_empty() {
                    continue;
                }
                d.expires
                    .slot(rng.random_range(0..d.expires.len()))
                    .key
                    .clone()
            } else {
                if d.main.is_empty() {
                    continue;
                }
                d.main.slot(rng.random_range(0..d.main.len())).key.clone()
            };
            return Some((i, key));
        }
        None
    }

    fn pick_from_pool(
        &mut self,
        p: Policy,
        dbs: &mut [Db],
        rng: &mut impl Rng,
    ) -> Option<(usize, Box<[u8]>)> {
        let samples = SAMPLES.load(Ordering::Relaxed) as usize;
        // Bounded: a TTL index holding only stale keys must not spin forever.
        for _ in 0..64 {
            let mut sampled_any = false;
            for (i, d) in dbs.iter().enumerate() {
                let n = if p.volatile() {
                    d.expires.len()
                } else {
                    d.main.len()
                };
                if n == 0 {
                    continue;
                }
                sampled_any = true;
                for _ in 0..samples.min(n) {
                    let j = rng.random_range(0..n);
                    let key = if p.volatile() {
                        &d.expires.slot(j).key
                    } else {
                        &d.main.slot(j).key
                    };
                    let Some(e) = d.main.get(key) else {
                        continue;
                    };
                    self.offer((score(p, e), i, key.clone()));
                }
            }
            if !sampled_any {
                return None;
            }
            // Best candidate last; skip the ones deleted (or persisted) since they joined.
            while let Some((_, db, key)) = self.pool.pop() {
                let Some(d) = dbs.get(db) else { continue };
                match d.main.get(&key) {
                    Some(e) if !p.volatile() || e.expire_at != NO_EXPIRE => {
                        return Some((db, key));
                    }
                    _ => {}
                }
            }
        }
        None
    }

    /// Adds a candidate to the pool (ascending by score, at most [`POOL_SIZE`]).
    fn offer(&mut self, c: Candidate) {
        if self.pool.iter().any(|(_, db, k)| *db == c.1 && *k == c.2) {
            return;
        }
        if self.pool.len() >= POOL_SIZE {
            if self.pool[0].0 >= c.0 {
                return;
            }
            self.pool.remove(0);
        }
        let at = self.pool.partition_point(|x| x.0 <= c.0);
        self.pool.insert(at, c);
    }
}

impl Db {
    /// Deletes `key` for eviction: like a DEL (WATCH sees the change), with an `evicted`
    /// keyspace event, and propagated as `DEL` through the expiry log.
    pub fn evict_key(&mut self, key: &[u8]) -> bool {
        let Some(i) = self.main.position(key) else {
            return false;
        };
        self.mark(key);
        // Redis signals an evicted key as modified: WATCH of it aborts.
        self.touch(key);
        self.before_write_at(i);
        self.main.remove_at(i);
        self.expires.remove(key);
        if let Some(log) = &mut self.expired_log {
            log.push(key.into());
        }
        notify::record(notify::NOTIFY_EVICTED, "evicted", self.id as usize, key);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Value;

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        let mut rng = rand::rng();
        // A fresh counter always grows by one (p = 1 at LFU_INIT_VAL).
        assert_eq!(lfu_log_incr(LFU_INIT_VAL, &mut rng), LFU_INIT_VAL + 1);
        assert_eq!(lfu_log_incr(255, &mut rng), 255);
        let mut c = LFU_INIT_VAL;
        for _ in 0..1000 {
            c = lfu_log_incr(c, &mut rng);
        }
        assert!(
            c > 6 && c < 40,
            "factor 10: 1000 hits give a low counter, got {c}"
        );
        // Decay: one per minute elapsed (lfu-decay-time 1).
        let now = lfu_minutes();
        let three_min_ago = now.wrapping_sub(3) & 0xFFFF;
        assert_eq!(lfu_decr_and_return(three_min_ago << 8 | 10), 7);
        assert_eq!(lfu_decr_and_return(three_min_ago << 8 | 2), 0);
        assert_eq!(lfu_decr_and_return(now << 8 | 10), 10);
    }

    #[test]
    fn pool_keeps_the_best_candidates() {
        let mut ev = Evictor::default();
        for s in 0..40u64 {
            ev.offer((s, 0, format!("k{s}").into_bytes().into()));
        }
        assert_eq!(ev.pool.len(), POOL_SIZE);
        assert_eq!(ev.pool.last().map(|c| c.0), Some(39));
        assert_eq!(ev.pool[0].0, 40 - POOL_SIZE as u64);
    }

    #[test]
    fn evict_key_logs_a_del_and_leaves_no_ttl() {
        let mut db = Db::new();
        db.expired_log = Some(Vec::new());
        db.set(b"a", Value::from_bytes(b"1"));
        db.set_expire(b"a", i64::MAX, 0);
        assert!(db.evict_key(b"a"));
        assert!(!db.evict_key(b"a"));
        assert_eq!(db.len(), 0);
        assert_eq!(db.expires_len(), 0);
        assert_eq!(db.expired_log.as_deref(), Some(&[Box::from(&b"a"[..])][..]));
        assert_eq!(db.expired_count, 0, "an eviction is not an expiry");
    }
}
