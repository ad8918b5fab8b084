//! Transactions: MULTI EXEC DISCARD WATCH UNWATCH (Redis 7.0 semantics).
//!
//! While a connection is in MULTI the dispatcher hands every command except
//! EXEC/DISCARD/MULTI/WATCH/QUIT/RESET to [`queue`]. A command rejected at queue time (unknown,
//! wrong arity, not allowed in a transaction) marks the transaction so EXEC answers EXECABORT.
//!
//! WATCH registers each key, existing or not, on the shard owning it, with the connection's
//! dirty flag ([`crate::shard::watch`]); any modification of the key there marks the flag (as
//! Redis's `touchWatchedKey` sets `CLIENT_DIRTY_CAS`). EXEC checks the flag, and whether a
//! watched key's TTL has passed, while holding the locks of every key of the block, so nothing
//! can change in between, and unregisters the keys in the same hop.
//!
//! EXEC runs the block in one of two ways:
//! - every command keyed or keyless-local and every key on this connection's shard: checked and
//!   run synchronously, with no await in between, so nothing interleaves;
//! - otherwise the block's keys (and the watched keys) are locked on each shard in shard order,
//!   the commands run in order (keyed ones on their owning shard, or as a multi-shard command
//!   without re-locking; connection and coordinator commands on the connection), then
//!   everything is unlocked. Other clients' commands on those keys wait, so no one sees half a
//!   transaction.

use super::dispatch::{run_here, RunClock};
use super::introspect;
use super::spec::*;
use super::{BoxFuture, Handler};
use crate::keyspace::now_ms;
use crate::net::Conn;
use crate::resp::ReplyBuf;
use crate::shard::locks::LockKey;
use crate::shard::watch::{self, Token};
use crate::shard::{clock, multi, Mesh, Shard};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::rc::Rc;

pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
pub const NESTED: &str = "ERR MULTI calls can not be nested";
pub const EXEC_WITHOUT_MULTI: &str = "ERR EXEC without MULTI";
pub const DISCARD_WITHOUT_MULTI: &str = "ERR DISCARD without MULTI";
pub const WATCH_IN_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
pub const NOT_IN_MULTI: &str = "ERR Command not allowed inside a transaction";

const TX: Flags = NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY;

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "multi",
        1,
        TX,
        Keys::None,
        "transactions",
        "1.2.0",
        "Mark the start of a transaction block",
        "O(1)",
        Handler::Conn(multi_cmd),
    ),
    spec(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG,
        Keys::None,
        "transactions",
        "1.2.0",
        "Execute all commands issued after MULTI",
        "Depends on commands in the transaction",
        Handler::Coord(exec),
    ),
    spec(
        "discard",
        1,
        TX,
        Keys::None,
        "transactions",
        "2.0.0",
        "Discard all commands issued after MULTI",
        "O(N), when N is the number of queued commands",
        Handler::Conn(discard),
    ),
    spec(
        "watch",
        -2,
        TX,
        Keys::Range(1, -1, 1),
        "transactions",
        "2.2.0",
        "Watch the given keys to determine execution of the MULTI/EXEC block",
        "O(1) for every key.",
        Handler::Coord(watch),
    )
    .with_key_specs(&[ks(KS_RO, BeginSearch::Index(1), FindKeys::Range(-1, 1, 0))]),
    spec(
        "unwatch",
        1,
        TX,
        Keys::None,
        "transactions",
        "2.2.0",
        "Forget about all watched keys",
        "O(1)",
        Handler::Conn(unwatch),
    ),
    // Replication is not there yet; these exist so that Sentinel's
    // `MULTI; REPLICAOF ...; CONFIG REWRITE; CLIENT KILL ...; EXEC` is accepted at queue time.
    spec(
        "replicaof",
        3,
        ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING,
        Keys::None,
        "server",
        "5.0.0",
        "Make the server a replica of another instance, or promote it as master.",
        "O(1)",
        Handler::Conn(replicaof),
    ),
    spec(
        "slaveof",
        3,
        ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING,
        Keys::None,
        "server",
        "1.0.0",
        "Make the server a replica of another instance, or promote it as master.",
        "O(1)",
        Handler::Conn(replicaof),
    ),
];

/// A connection's open transaction.
#[derive(Default)]
pub struct MultiState {
    pub cmds: Vec<(&'static CommandSpec, Vec<Bytes>)>,
    /// A command was rejected at queue time: EXEC answers EXECABORT.
    pub aborted: bool,
}

/// A watched key, and the connection's dirty flag its shard marks when the key is modified
/// (the same token for every key of the connection).
pub struct Watched {
    pub db: u32,
    pub key: Bytes,
    pub token: Token,
}

/// Whether the dispatcher must queue `spec` instead of running it (the connection is in MULTI).
pub fn queues(conn: &Conn, spec: &CommandSpec) -> bool {
    conn.multi.is_some()
        && !matches!(
            spec.name,
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        )
}

/// Queues a command of an open transaction (or rejects it, aborting the transaction).
pub fn queue(conn: &mut Conn, spec: &'static CommandSpec, argv: Vec<Bytes>) {
    if spec.flags & NO_MULTI != 0 {
        flag(conn);
        conn.error(NOT_IN_MULTI);
        return;
    }
    let Some(m) = conn.multi.as_mut() else {
        return;
    };
    m.cmds.push((spec, argv));
    conn.handle.info.borrow_mut().multi = m.cmds.len() as i64;
    conn.out.simple("QUEUED");
}

/// A command was rejected while in MULTI (Redis's flagTransaction).
pub fn flag(conn: &mut Conn) {
    if let Some(m) = conn.multi.as_mut() {
        m.aborted = true;
    }
}

/// Rejects a command before it runs (Redis's rejectCommand): `why` is the error without its
/// `ERR ` prefix. A rejected EXEC discards the transaction and says why.
pub fn reject(conn: &mut Conn, spec: &CommandSpec, why: &str) {
    if spec.name == "exec" {
        reset(conn);
        conn.error(&format!(
            "EXECABORT Transaction discarded because of: {why}"
        ));
    } else {
        flag(conn);
        conn.error(&format!("ERR {why}"));
    }
}

/// Rejects a command with `-OOM` (maxmemory): an EXEC discards the transaction, anything
/// else flags it.
pub fn reject_oom(conn: &mut Conn, spec: &CommandSpec) {
    if spec.name == "exec" {
        reset(conn);
        conn.error(&format!(
            "EXECABORT Transaction discarded because of: {}",
            super::errors::OOM
        ));
    } else {
        flag(conn);
        conn.error(super::errors::OOM);
    }
}

/// Drops the transaction and the watched keys (DISCARD, EXEC, RESET).
pub fn reset(conn: &mut Conn) {
    conn.multi = None;
    conn.watched.clear();
    let mut i = conn.handle.info.borrow_mut();
    i.multi = -1;
    i.flags.retain(|c| c != 'x');
}

fn multi_cmd(conn: &mut Conn, _argv: &[Bytes]) {
    if conn.multi.is_some() {
        conn.error(NESTED);
        return;
    }
    conn.multi = Some(MultiState::default());
    {
        let mut i = conn.handle.info.borrow_mut();
        i.multi = 0;
        i.flags.push('x');
    }
    conn.out.ok();
}

fn discard(conn: &mut Conn, _argv: &[Bytes]) {
    if conn.multi.is_none() {
        conn.error(DISCARD_WITHOUT_MULTI);
        return;
    }
    reset(conn);
    conn.out.ok();
}

fn unwatch(conn: &mut Conn, _argv: &[Bytes]) {
    conn.watched.clear();
    conn.out.ok();
}

fn replicaof(conn: &mut Conn, argv: &[Bytes]) {
    crate::replication::replica::replicaof_command(conn, argv);
}

fn watch<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        if conn.multi.is_some() {
            conn.error(WATCH_IN_MULTI);
            return;
        }
        let db = conn.db;
        let token = match conn.watched.first() {
            Some(w) => w.token.clone(),
            None => watch::new_token(),
        };
        for key in &argv[1..] {
            if conn
                .watched
                .iter()
                .any(|w| w.db == db as u32 && w.key == *key)
            {
                continue;
            }
            let s = conn.shard.shard_of(key);
            let (k, t) = (key.clone(), token.clone());
            Mesh::run_on(&conn.shard, s, move |sh| {
                sh.data.borrow_mut().dbs[db].watch_key(&k, &t, now_ms())
            })
            .await;
            conn.watched.push(Watched {
                db: db as u32,
                key: key.clone(),
                token: token.clone(),
            });
        }
        conn.out.ok();
    })
}

fn exec<'a>(conn: &'a mut Conn, _argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        let Some(m) = conn.multi.take() else {
            conn.error(EXEC_WITHOUT_MULTI);
            return;
        };
        let watched = std::mem::take(&mut conn.watched);
        if m.aborted {
            reset(conn);
            conn.error(EXECABORT);
            return;
        }
        conn.replconf.in_exec = true;
        run_block(conn, m.cmds, watched).await;
        conn.replconf.in_exec = false;
        reset(conn);
    })
}

/// The keys a block locks: every key of its keyed commands (in the db each runs against,
/// following SELECTs) and every watched key, grouped by owning shard in shard order.
fn block_keys(
    conn: &Conn,
    cmds: &[(&'static CommandSpec, Vec<Bytes>)],
    watched: &[Watched],
) -> BTreeMap<usize, Vec<LockKey>> {
    let shard = &conn.shard;
    let ndbs = conn.cfg.databases;
    let mut per: BTreeMap<usize, Vec<LockKey>> = BTreeMap::new();
    let mut add = |k: LockKey| {
        let list = per.entry(shard.shard_of(&k.1)).or_default();
        if !list.contains(&k) {
            list.push(k);
        }
    };
    for w in watched {
        add((w.db, w.key.as_ref().into()));
    }
    let mut db = conn.db;
    let mut pos = Vec::new();
    for (spec, argv) in cmds {
        if spec.name == "select" {
            if let Some(i) = super::parse_i64(&argv[1]) {
                if i >= 0 && (i as usize) < ndbs {
                    db = i as usize;
                }
            }
            continue;
        }
        pos.clear();
        spec.keys_with_db(argv, db, ndbs, &mut pos);
        for &(kdb, i) in &pos {
            add((kdb as u32, argv[i].as_ref().into()));
        }
    }
    per
}

/// Checks the watched keys of `shard` (the caller holds their locks) and unregisters them:
/// false when one of them has passed its TTL (Redis's `isWatchedKeyExpired`). The dirty flag
/// itself is checked by the caller once every shard's keys are locked.
fn watch_check(shard: &Shard, watched: &[(u32, Bytes)], token: Option<&Token>) -> bool {
    let Some(token) = token else {
        return true;
    };
    let now = now_ms();
    let mut data = shard.data.borrow_mut();
    let mut intact = true;
    for (db, key) in watched {
        let Some(d) = data.dbs.get_mut(*db as usize) else {
            continue;
        };
        intact &= !d.watched_key_expired(key, token, now);
        d.unwatch_key(key, token);
    }
    intact
}

/// The watched keys owned by shard `s`.
fn watched_on(shard: &Shard, watched: &[Watched], s: usize) -> Vec<(u32, Bytes)> {
    watched
        .iter()
        .filter(|w| shard.shard_of(&w.key) == s)
        .map(|w| (w.db, w.key.clone()))
        .collect()
}

async fn run_block(
    conn: &mut Conn,
    cmds: Vec<(&'static CommandSpec, Vec<Bytes>)>,
    watched: Vec<Watched>,
) {
    let shard = conn.shard.clone();
    let per = block_keys(conn, &cmds, &watched);
    let simple = cmds
        .iter()
        .all(|(s, _)| matches!(s.handler, Handler::Keyed(_) | Handler::Local(_)));
    let here = per.keys().all(|&s| s == shard.id);
    if simple && here {
        // All on this shard: wait for multi-shard transactions holding our keys, then check and
        // run with no await in between.
        if let Some(keys) = per.get(&shard.id) {
            shard.locks.wait_unlocked(keys).await;
        }
        let token = watched.first().map(|w| w.token.clone());
        let mine = watched_on(&shard, &watched, shard.id);
        let intact = watch_check(&shard, &mine, token.as_ref());
        if !intact || token.as_ref().is_some_and(watch::is_dirty) {
            conn.out.null_array();
            return;
        }
        conn.out.array(cmds.len());
        let mut clock = RunClock::start();
        // Blocked clients are served after the block, not between its commands.
        let hold = crate::shard::blocking::hold(&shard);
        shard.data.borrow_mut().effects.begin_unit();
        for (spec, argv) in &cmds {
            if let Handler::Keyed(f) | Handler::Local(f) = spec.handler {
                let usec = run_here(&shard, conn.db, &mut conn.out, spec, f, argv, &mut clock);
                introspect::exec_ran(conn, spec, argv, usec);
            }
        }
        commit_unit(&shard);
        drop(hold);
        return;
    }
    // Lock everything, one shard after the other in shard order, checking the watched keys
    // of each shard once its locks are held. A snapshot cut waits for the whole block.
    let _pass = shard.shared.cut_gate.enter().await;
    let token = watched.first().map(|w| w.token.clone());
    let mut intact = true;
    for (&s, keys) in &per {
        let keys = keys.clone();
        let w = watched_on(&shard, &watched, s);
        let t = token.clone();
        let ok = Mesh::run_async_on(&shard, s, move |sh| async move {
            sh.locks.lock(&keys).await;
            watch_check(&sh, &w, t.as_ref())
        })
        .await;
        intact &= ok;
    }
    // Every watched key is locked now: nothing can mark the flag any more.
    intact &= !token.as_ref().is_some_and(watch::is_dirty);
    if intact {
        conn.out.array(cmds.len());
        conn.block_unit = Some(Vec::new());
        for (spec, argv) in cmds {
            let t = clock::cycles();
            run_one(conn, spec, argv.clone()).await;
            let usec = clock::to_us(clock::cycles().wrapping_sub(t));
            introspect::exec_ran(conn, spec, &argv, usec);
        }
        // One MULTI/EXEC in the stream (the hub ignores an empty unit).
        if let Some(unit) = conn.block_unit.take() {
            shard.shared.hub.push(shard.id, unit);
        }
    } else {
        conn.out.null_array();
    }
    unlock_all(&shard, per).await;
}

/// Runs one command of a block whose keys are all locked by the block.
async fn run_one(conn: &mut Conn, spec: &'static CommandSpec, argv: Vec<Bytes>) {
    let shard = conn.shard.clone();
    match spec.handler {
        Handler::Keyed(f) => {
            let mut pos = Vec::new();
            spec.key_positions(&argv, &mut pos);
            let mut owners = pos.iter().map(|&i| shard.shard_of(&argv[i]));
            let first = owners.next().unwrap_or(shard.id);
            let db = conn.db;
            if owners.all(|s| s == first) && !has_other_db_keys(spec, &argv, db) {
                if first == shard.id {
                    run_into_block(conn, spec, f, &argv);
                } else {
                    let proto = conn.proto();
                    let (reply, ops) = Mesh::run_on(&shard, first, move |sh| {
                        let mut out = ReplyBuf::new(proto);
                        let ops = run_captured(sh, db, &mut out, spec, f, &argv);
                        let events = crate::keyspace::notify::take();
                        (out.buf.freeze(), (ops, events))
                    })
                    .await;
                    let (ops, events) = ops;
                    crate::keyspace::notify::absorb(events);
                    conn.out.raw(&reply);
                    // That shard's part of the block joins the block's unit.
                    block_absorb(conn, ops);
                }
            } else {
                let proto = conn.proto();
                let reply = multi::execute_locked(
                    &shard,
                    db,
                    proto,
                    vec![(spec, f, argv)],
                    conn.block_unit.as_mut(),
                )
                .await;
                conn.out.raw(&reply);
            }
        }
        Handler::Local(f) => run_into_block(conn, spec, f, &argv),
        Handler::Conn(f) => f(conn, &argv),
        Handler::Coord(f) => {
            if spec.flags & (WRITE | OWN_EFFECTS) == WRITE && shard.shared.hub.active() {
                super::dispatch::coord_write(conn, f, &argv).await;
            } else {
                f(conn, &argv).await;
            }
        }
        Handler::Container => {}
    }
}

/// Runs a command of a cross-shard block on `shard` with nothing awaited in between, and
/// returns its effects (for the block's unit) instead of journaling them.
fn run_captured(
    shard: &Shard,
    db: usize,
    out: &mut ReplyBuf,
    spec: &'static CommandSpec,
    f: multi::KeyedFn,
    argv: &[Bytes],
) -> Vec<crate::shard::journal::Op> {
    shard.data.borrow_mut().effects.begin_unit();
    run_here(shard, db, out, spec, f, argv, &mut RunClock::start());
    let ops = shard.data.borrow_mut().effects.end_unit();
    ops.unwrap_or_default()
}

/// [`run_captured`] on this connection's shard, its effects into the block's unit.
fn run_into_block(conn: &mut Conn, spec: &'static CommandSpec, f: multi::KeyedFn, argv: &[Bytes]) {
    let shard = conn.shard.clone();
    let ops = run_captured(&shard, conn.db, &mut conn.out, spec, f, argv);
    block_absorb(conn, ops);
}

/// Adds effects to the cross-shard block being run, or journals them as a unit of their own
/// when no block runs.
pub(crate) fn block_absorb(conn: &mut Conn, ops: Vec<crate::shard::journal::Op>) {
    match conn.block_unit.as_mut() {
        Some(unit) => unit.extend(ops),
        None => conn.shard.shared.hub.push(conn.shard.id, ops),
    }
}

/// Ends the unit an EXEC block gathered on this shard and journals it (one MULTI/EXEC).
fn commit_unit(shard: &Shard) {
    let mut data = shard.data.borrow_mut();
    if let Some(ops) = data.effects.end_unit() {
        shard.shared.hub.push(shard.id, ops);
    }
}

/// COPY ... DB n and MOVE name a key in another db: run them through the multi-shard path,
/// which fetches from the right db.
fn has_other_db_keys(spec: &CommandSpec, argv: &[Bytes], db: usize) -> bool {
    let mut pos = Vec::new();
    spec.keys_with_db(argv, db, usize::MAX, &mut pos);
    pos.iter().any(|&(d, _)| d != db)
}

async fn unlock_all(shard: &Rc<Shard>, per: BTreeMap<usize, Vec<LockKey>>) {
    for (s, keys) in per {
        Mesh::run_on(shard, s, move |sh| sh.locks.unlock(&keys)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_commands_run_immediately_others_queue() {
        let names: Vec<&str> = COMMANDS.iter().map(|s| s.name).collect();
        for n in ["multi", "exec", "discard", "watch", "unwatch"] {
            assert!(names.contains(&n));
        }
        let watch = COMMANDS.iter().find(|s| s.name == "watch");
        assert!(matches!(watch.map(|s| s.keys), Some(Keys::Range(1, -1, 1))));
    }
}
