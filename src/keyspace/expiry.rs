//! What a lookup does with a key whose TTL has passed (Redis's `expireIfNeeded` and
//! `lookupKey`). A master deletes it (and the deletion is propagated). A replica leaves expiry
//! to its master, whose `DEL` comes in the stream: reads treat the key as absent without
//! removing it; writes, which on a read-only replica come only from the master client, see the
//! key as it is (Redis: "when replicating commands from the master, keys are never considered
//! expired"); a writable replica's writes delete it first, as Redis forces for them.
//!
//! Process-wide (every shard applies the same rule), set by the replication layer when the
//! role or `replica-read-only` changes. Read only when a lookup meets an expired key.

use std::sync::atomic::{AtomicBool, Ordering};

static REPLICA: AtomicBool = AtomicBool::new(false);
static WRITABLE: AtomicBool = AtomicBool::new(false);

/// This server follows a master (or no longer does).
pub fn set_replica(on: bool) {
    REPLICA.store(on, Ordering::Release);
}

/// `replica-read-only no`.
pub fn set_writable(on: bool) {
    WRITABLE.store(on, Ordering::Release);
}

/// Whether this server is a replica: its expired keys wait for the master's `DEL`.
pub fn replica() -> bool {
    REPLICA.load(Ordering::Acquire)
}

/// What a lookup does with an expired key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OnExpired {
    /// Remove it (and log it for the `DEL` effect): a master.
    Delete,
    /// Report it absent, keep it: a replica's read.
    Hide,
    /// Report it present: the master's write on a read-only replica.
    Keep,
}

/// The rule for a read (`write` false) or a write lookup.
#[inline]
pub fn on_expired(write: bool) -> OnExpired {
    if !replica() {
        return OnExpired::Delete;
    }
    match (write, WRITABLE.load(Ordering::Acquire)) {
        (false, _) => OnExpired::Hide,
        (true, false) => OnExpired::Keep,
        (true, true) => OnExpired::Delete,
    }
}
