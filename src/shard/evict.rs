//! Enforcing `maxmemory` across shards (Redis's performEvictions).
//!
//! The limit applies to the process total (the allocator's count, [`crate::alloc`]). Before a
//! command runs while the total is above the limit, the shard of the connection evicts from
//! its own part of the keyspace until the total is back under the limit; when it has nothing
//! left that the policy may evict, the other shards evict from theirs in turn. The command is
//! refused (`-OOM`) only when no shard can free enough.

use super::{Mesh, Shard};
use crate::keyspace::evict::{self, Evictor, Policy};
use crate::keyspace::notify;
use std::rc::Rc;

/// Evicts until the process is under `maxmemory`. Returns false when it could not get there
/// (then a command flagged `denyoom` is refused).
pub async fn perform(shard: &Rc<Shard>) -> bool {
    if !evict::over_limit() {
        return true;
    }
    if evict::policy() == Policy::NoEviction {
        return false;
    }
    if evict_here(shard) {
        return true;
    }
    for i in 1..shard.nshards {
        let target = (shard.id + i) % shard.nshards;
        let (ok, events) = Mesh::run_on(shard, target, |sh| (evict_here(sh), notify::take())).await;
        notify::absorb(events);
        if ok {
            return true;
        }
    }
    !evict::over_limit()
}

/// Evicts from this shard's keyspace while the process is over the limit. Returns whether it
/// got under the limit (like Redis's EVICT_OK: the count moves with every allocation of every
/// thread, so it is judged when the loop stops, not re-read later).
pub fn evict_here(shard: &Shard) -> bool {
    let mut guard = shard.data.borrow_mut();
    let data = &mut *guard;
    let hub = &shard.shared.hub;
    let propagate = hub.active();
    if propagate != data.effects.on {
        data.effects.set_on(propagate, &mut data.dbs);
    }
    let mut ev = Evictor::default();
    let mut freed_enough = false;
    let locks = &shard.locks;
    let skip = |db: usize, key: &[u8]| {
        !locks.is_empty() && locks.any_locked(std::iter::once((db as u32, key)))
    };
    loop {
        if !evict::over_limit() {
            freed_enough = true;
            break;
        }
        if !ev.evict_one(&mut data.dbs, &mut data.rng, skip) {
            break;
        }
    }
    if ev.evicted > 0 {
        data.effects.flush_expired(hub, shard.id, &mut data.dbs);
    }
    freed_enough
}
