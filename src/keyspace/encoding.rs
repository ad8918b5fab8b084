//! The encoding thresholds (`hash-max-listpack-*`, `set-max-intset-entries`,
//! `zset-max-listpack-*`), mirrored in process-wide atomics so a value checks them without
//! the config lock. CONFIG SET changes them for the next write, as in Redis: a value past a
//! new, lower threshold converts when it is next written to.

use std::sync::atomic::{AtomicUsize, Ordering};

static HASH_ENTRIES: AtomicUsize = AtomicUsize::new(super::hash::MAX_LISTPACK_ENTRIES);
static HASH_VALUE: AtomicUsize = AtomicUsize::new(super::hash::MAX_LISTPACK_VALUE);
static SET_INTSET_ENTRIES: AtomicUsize = AtomicUsize::new(super::set::MAX_INTSET_ENTRIES);
static ZSET_ENTRIES: AtomicUsize = AtomicUsize::new(super::zset::MAX_LISTPACK_ENTRIES);
static ZSET_VALUE: AtomicUsize = AtomicUsize::new(super::zset::MAX_LISTPACK_VALUE);

pub fn hash_max_entries() -> usize {
    HASH_ENTRIES.load(Ordering::Relaxed)
}
pub fn hash_max_value() -> usize {
    HASH_VALUE.load(Ordering::Relaxed)
}
pub fn set_max_intset_entries() -> usize {
    SET_INTSET_ENTRIES.load(Ordering::Relaxed)
}
pub fn zset_max_entries() -> usize {
    ZSET_ENTRIES.load(Ordering::Relaxed)
}
pub fn zset_max_value() -> usize {
    ZSET_VALUE.load(Ordering::Relaxed)
}

/// Whether `name` is one of the directives mirrored here (CONFIG SET applies them).
pub fn is_threshold(name: &str) -> bool {
    matches!(
        name,
        "hash-max-listpack-entries"
            | "hash-max-listpack-value"
            | "hash-max-ziplist-entries"
            | "hash-max-ziplist-value"
            | "set-max-intset-entries"
            | "zset-max-listpack-entries"
            | "zset-max-listpack-value"
            | "zset-max-ziplist-entries"
            | "zset-max-ziplist-value"
    )
}

/// Applies the configured thresholds (startup and CONFIG SET).
pub fn apply_config(cfg: &crate::config::Config) {
    let get = |name: &str, cell: &AtomicUsize| {
        if let Some(v) = cfg.get_one(name).and_then(|v| v.parse::<usize>().ok()) {
            cell.store(v, Ordering::Relaxed);
        }
    };
    get("hash-max-listpack-entries", &HASH_ENTRIES);
    get("hash-max-listpack-value", &HASH_VALUE);
    get("set-max-intset-entries", &SET_INTSET_ENTRIES);
    get("zset-max-listpack-entries", &ZSET_ENTRIES);
    get("zset-max-listpack-value", &ZSET_VALUE);
}
