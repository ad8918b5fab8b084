//! Multi-shard transactions (DESIGN.md §4), in the simple correct form: lock, fetch, execute,
//! write back.
//!
//! 1. The coordinator locks the involved keys on each shard *in shard order* (deadlock-free:
//!    every transaction acquires in the same order) and, in the same hop, fetches copies of
//!    their entries.
//! 2. It runs the commands unchanged against scratch databases holding just those entries; the
//!    scratch databases record which keys were written.
//! 3. It sends each shard the new state of its written keys and releases the locks, all shards
//!    in parallel.
//!
//! While the keys are locked, single-shard commands on them wait, so no client can observe half
//! of a transaction; commands on other keys keep running inline. Cost: one round trip per remote
//! shard to lock (sequential) and one to write back (parallel), plus copying the involved values.

use super::journal::Op;
use super::locks::LockKey;
use super::{Mesh, Shard};
use crate::commands::spec::CommandSpec;
use crate::commands::Ctx;
use crate::keyspace::{notify, now_ms, Db, Entry};
use crate::resp::{Proto, ReplyBuf};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::rc::Rc;

pub type KeyedFn = fn(&mut Ctx, &[Bytes]);

/// Groups the keys of `cmds` by owning shard (deduplicated, in shard order).
fn keys_by_shard(
    shard: &Shard,
    db: usize,
    cmds: &[(&'static CommandSpec, KeyedFn, Vec<Bytes>)],
) -> BTreeMap<usize, Vec<LockKey>> {
    let mut per: BTreeMap<usize, Vec<LockKey>> = BTreeMap::new();
    // Pipelined commands run as one transaction may name hundreds of keys: dedupe by set.
    let mut seen: hashbrown::HashSet<LockKey, foldhash::fast::FixedState> = Default::default();
    let mut pos = Vec::new();
    let ndbs = shard.data.borrow().dbs.len();
    for (spec, _, argv) in cmds {
        pos.clear();
        // COPY ... DB n names a key of another database: lock and fetch it there.
        spec.keys_with_db(argv, db, ndbs, &mut pos);
        for &(kdb, i) in &pos {
            let k: LockKey = (kdb as u32, argv[i].as_ref().into());
            if !seen.contains(&k) {
                seen.insert(k.clone());
                per.entry(shard.shard_of(&k.1)).or_default().push(k);
            }
        }
    }
    per
}

/// Runs `cmds` (keyed commands whose keys live on several shards) atomically and isolated,
/// returning their concatenated replies.
pub async fn execute(
    shard: &Rc<Shard>,
    db: usize,
    proto: Proto,
    cmds: Vec<(&'static CommandSpec, KeyedFn, Vec<Bytes>)>,
) -> Bytes {
    run(shard, db, proto, cmds, true, None).await.0 .0
}

/// [`execute`] that also hands back whether the replies stopped at the output limit
/// ([`ReplyBuf::closing`]) and each command with the µs its handler took (for the slow log of a
/// batch of pipelined commands run as one transaction).
pub async fn execute_timed(
    shard: &Rc<Shard>,
    db: usize,
    proto: Proto,
    cmds: Vec<(&'static CommandSpec, KeyedFn, Vec<Bytes>)>,
) -> ((Bytes, bool), Vec<(&'static CommandSpec, Vec<Bytes>, u64)>) {
    run(shard, db, proto, cmds, true, None).await
}

/// [`execute`] for a caller that already holds the locks of every key of `cmds` (a MULTI/EXEC
/// block locks all its keys for the whole block): fetch, execute, write back, no locking.
pub async fn execute_locked(
    shard: &Rc<Shard>,
    db: usize,
    proto: Proto,
    cmds: Vec<(&'static CommandSpec, KeyedFn, Vec<Bytes>)>,
    unit: Option<&mut Vec<Op>>,
) -> Bytes {
    run(shard, db, proto, cmds, false, unit).await.0 .0
}

async fn run(
    shard: &Rc<Shard>,
    db: usize,
    proto: Proto,
    cmds: Vec<(&'static CommandSpec, KeyedFn, Vec<Bytes>)>,
    take_locks: bool,
    unit: Option<&mut Vec<Op>>,
) -> ((Bytes, bool), Vec<(&'static CommandSpec, Vec<Bytes>, u64)>) {
    // A snapshot cut never sees half of this transaction. `execute_locked` runs inside an
    // EXEC block that already holds the gate.
    let _pass = match take_locks {
        true => Some(shard.shared.cut_gate.enter().await),
        false => None,
    };
    let per = keys_by_shard(shard, db, &cmds);
    let ndbs = shard.data.borrow().dbs.len();
    let mut scratch: Vec<Db> = (0..ndbs).map(|i| Db::tracking().with_id(i)).collect();

    // 1. Lock and fetch, one shard after the other in shard order.
    for (&s, keys) in &per {
        let keys = keys.clone();
        let (fetched, events): (Vec<(LockKey, Option<Entry>)>, _) =
            Mesh::run_async_on(shard, s, move |sh| async move {
                if take_locks {
                    sh.locks.lock(&keys).await;
                }
                let now = now_ms();
                let mut data = sh.data.borrow_mut();
                let data = &mut *data;
                let fetched = keys
                    .into_iter()
                    .map(|k| {
                        let e = data.dbs[k.0 as usize].fetch(&k.1, now);
                        (k, e)
                    })
                    .collect();
                // Keys this fetch expired are journaled before the unit that reads them,
                // and report it with the command's events.
                data.effects
                    .flush_expired(&sh.shared.hub, sh.id, &mut data.dbs);
                (fetched, notify::take())
            })
            .await;
        notify::absorb(events);
        for ((kdb, key), e) in fetched {
            if let Some(e) = e {
                scratch[kdb as usize].install(&key, e);
            }
        }
    }
    for d in &mut scratch {
        d.take_written();
    }

    // 2. Execute on the scratch databases.
    let mut out = ReplyBuf::new(proto);
    let mut usecs = Vec::with_capacity(cmds.len());
    let dirty = {
        let mut data = shard.data.borrow_mut();
        let data = &mut *data;
        let hub = &shard.shared.hub;
        let propagate = hub.active();
        if propagate != data.effects.on {
            data.effects.set_on(propagate, &mut data.dbs);
        }
        if propagate {
            data.effects.begin_unit();
        }
        let mut ctx = Ctx {
            dbs: &mut scratch,
            db,
            now: now_ms(),
            out: &mut out,
            stats: &mut data.stats,
            rng: &mut data.rng,
            dirty: 0,
            effects: &mut data.effects,
        };
        for (spec, f, argv) in &cmds {
            let t = super::clock::cycles();
            let mark = ctx.out.len();
            let before = ctx.dirty;
            let marks: Vec<usize> = ctx.dbs.iter().map(Db::written_len).collect();
            notify::command_begin();
            f(&mut ctx, argv);
            notify::command_end(ctx.dirty != before);
            if ctx.dirty == before {
                // Opened for writing, nothing changed: no write-back (WATCH would see one).
                for (d, n) in ctx.dbs.iter_mut().zip(marks) {
                    d.truncate_written(n);
                }
            }
            let usec = super::clock::to_us(super::clock::cycles().wrapping_sub(t));
            usecs.push(usec);
            // Counted like a command run in place (INFO commandstats, latencystats).
            let failed = ctx.out.buf.get(mark) == Some(&b'-');
            let st = ctx.stats.commands.entry(spec.name).or_default();
            st.record(usec);
            if failed {
                st.failed += 1;
            }
            ctx.stats.total_commands += 1;
            if propagate {
                let changed = ctx.dirty - before;
                // Scratch dbs never expire lazily into a log: pass none.
                ctx.effects
                    .after_command(hub, shard.id, &mut [], ctx.db, argv, changed);
            }
        }
        let dirty = ctx.dirty;
        if propagate {
            if let Some(ops) = data.effects.end_unit() {
                match unit {
                    Some(unit) => unit.extend(ops),
                    None => hub.push(shard.id, ops),
                }
            }
        }
        dirty
    };
    if dirty > 0 {
        shard.shared.dirty.add(shard.id, dirty);
    }

    // 3. Write back and unlock, all shards at once.
    let now = now_ms();
    let mut writes: BTreeMap<usize, Vec<(LockKey, Option<Entry>)>> = BTreeMap::new();
    for (i, d) in scratch.iter_mut().enumerate() {
        for key in d.take_written() {
            let e = d.written_back(&key, now);
            writes
                .entry(shard.shard_of(&key))
                .or_default()
                .push(((i as u32, key), e));
        }
    }
    let mut pending = Vec::new();
    for (&s, keys) in &per {
        let keys = keys.clone();
        let w = writes.remove(&s).unwrap_or_default();
        let apply = move |sh: &Rc<Shard>| {
            let waited = sh.blocking.has_waiters();
            let written: Vec<LockKey> = if waited {
                w.iter().map(|(k, _)| k.clone()).collect()
            } else {
                Vec::new()
            };
            {
                let now = now_ms();
                let mark = notify::pending_len();
                let mut data = sh.data.borrow_mut();
                for ((kdb, key), e) in w {
                    let db = &mut data.dbs[kdb as usize];
                    match e {
                        Some(e) => db.install(&key, e),
                        None => {
                            db.remove(&key, now);
                        }
                    }
                }
                notify::discard_modified_since(mark);
            }
            if take_locks {
                sh.locks.unlock(&keys);
            }
            // Clients blocked on a key this transaction filled are served now.
            for (kdb, key) in &written {
                super::blocking::signal(sh, *kdb, key);
            }
            if waited {
                super::blocking::serve_ready(sh);
            }
        };
        if s == shard.id {
            apply(shard);
        } else {
            pending.push(Mesh::submit::<()>(
                shard,
                s,
                Box::new(move |sh, resp| {
                    apply(sh);
                    resp.send(sh, Box::new(()));
                }),
            ));
        }
    }
    for p in pending {
        p.await;
    }
    let ran = cmds
        .into_iter()
        .zip(usecs)
        .map(|((spec, _, argv), usec)| (spec, argv, usec))
        .collect();
    let closing = out.closing;
    ((out.buf.freeze(), closing), ran)
}
