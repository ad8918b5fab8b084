//! The data node's dispatcher: resolves each command against the table, applies the gates
//! (arity, auth), and routes it: keys on this shard run inline, keys on one other shard hop
//! there (consecutive commands for that shard travel together), keys on several shards run as a
//! multi-shard transaction.

use super::errors;
use super::introspect;
use super::spec::{
    CommandSpec, BLOCKING, DENYOOM, LOADING, MAY_REPLICATE, NO_AUTH, OWN_EFFECTS, WRITE,
};
use super::table::{lookup, lookup_sub};
use super::transaction;
use super::{Ctx, Handler};
use crate::keyspace::{notify, now_ms};
use crate::net::session::ReplyMode;
use crate::net::{Conn, Engine};
use crate::resp::{Proto, ReplyBuf};
use crate::shard::locks::LockKey;
use crate::shard::{clock, multi, Mesh, Shard};
use bytes::Bytes;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::Ordering;

pub struct DataEngine;

impl Engine for DataEngine {
    #[allow(clippy::manual_async_fn)]
    fn take_over<'a, S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + 'a>(
        &'a self,
        conn: &'a mut Conn,
        stream: &'a mut S,
        inbuf: &'a mut bytes::BytesMut,
    ) -> impl std::future::Future<Output = bool> + 'a {
        async move {
            if conn.replconf.start.is_none() {
                return false;
            }
            crate::replication::sync::serve(conn, stream, inbuf).await;
            true
        }
    }

    async fn run(&self, conn: &mut Conn, queue: &mut VecDeque<Vec<Bytes>>) {
        let mut clock = RunClock::start();
        // With the AOF on, the replies of this run leave once its writes are in the file (on
        // disk under appendfsync always): one write (and fsync) covers every connection's
        // writes of the moment, like Redis's beforeSleep.
        let hub = &conn.shard.shared.hub;
        let wait = hub.replies_wait();
        let seq0 = if wait { hub.seq() } else { 0 };
        while let Some(argv) = queue.pop_front() {
            if conn.close_after_reply || conn.handle.killed.get() {
                queue.clear();
                return;
            }
            let mark = conn.out.len();
            let skip = match conn.reply_mode {
                ReplyMode::On => false,
                ReplyMode::Off => true,
                ReplyMode::SkipNext => {
                    conn.reply_mode = ReplyMode::Skip;
                    true
                }
                ReplyMode::Skip => {
                    conn.reply_mode = ReplyMode::On;
                    false
                }
            };
            let silenced_as = conn.reply_mode;
            if skip {
                conn.kept_pushes = Some(Vec::new());
            }
            execute(conn, argv, queue, &mut clock).await;
            let kept = conn.kept_pushes.take();
            // Replies past client-output-buffer-limit close the client, as Redis's addReply
            // checks them; the rest of its pipeline is dropped.
            if conn.over_output_limit(conn.out.len()) {
                queue.clear();
                break;
            }
            // CLIENT REPLY ON answers even though replies were off (or skipped) when it
            // arrived: Redis clears the flags before it replies.
            let turned_on = silenced_as != ReplyMode::On && conn.reply_mode == ReplyMode::On;
            if skip && !turned_on {
                conn.out.buf.truncate(mark);
                if let Some(kept) = kept {
                    conn.out.raw(&kept);
                }
                if conn.reply_mode == ReplyMode::Skip {
                    conn.reply_mode = ReplyMode::On;
                }
            }
        }
        if wait {
            let hub = &conn.shard.shared.hub;
            let upto = hub.seq();
            if upto != seq0 {
                hub.acked(upto).await;
            }
        }
    }
}

/// The command (or subcommand) whose arity `argv` gets wrong, if it names one.
fn arity_rejected(argv: &[Bytes]) -> Option<&'static CommandSpec> {
    let spec = lookup(&argv[0])?;
    if !arity_ok(spec.arity, argv.len()) {
        return Some(spec);
    }
    let sub = lookup_sub(spec, argv.get(1)?)?;
    (!arity_ok(sub.arity, argv.len())).then_some(sub)
}

/// Redis's rejectCommand: the call never ran, it counts in `rejected_calls`.
fn count_rejected(conn: &Conn, spec: &'static CommandSpec) {
    let mut d = conn.shard.data.borrow_mut();
    d.stats.commands.entry(spec.name).or_default().rejected += 1;
}

/// Finds the spec for argv (descending into subcommands) or the error Redis gives.
pub fn resolve(argv: &[Bytes]) -> Result<&'static CommandSpec, String> {
    let Some(spec) = lookup(&argv[0]) else {
        return Err(errors::unknown_command(argv));
    };
    if !arity_ok(spec.arity, argv.len()) {
        return Err(errors::wrong_arity(spec.name));
    }
    if spec.subcommands.is_empty() {
        return Ok(spec);
    }
    let Some(sub) = lookup_sub(spec, &argv[1]) else {
        return Err(errors::unknown_subcommand(&argv[1], spec.name));
    };
    if !arity_ok(sub.arity, argv.len()) {
        return Err(errors::wrong_arity(sub.name));
    }
    Ok(sub)
}

#[inline]
fn arity_ok(arity: i32, argc: usize) -> bool {
    let argc = argc as i32;
    if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

/// `stop-writes-on-bgsave-error`: the last BGSAVE failed, so writes (and PING, like Redis)
/// are refused until a save succeeds.
fn misconf(conn: &Conn) -> bool {
    let shared = &conn.shard.shared;
    !shared
        .persistence
        .last_bgsave_ok
        .load(std::sync::atomic::Ordering::Relaxed)
        && shared.persistence.refuses_writes(&shared.config())
}

/// A replica with `replica-read-only yes` refuses writes from normal clients (EXEC of a block
/// holding one too), like Redis's processCommand. True when the command was rejected.
fn replica_read_only_rejects(conn: &mut Conn, spec: &CommandSpec) -> bool {
    if !conn.cfg.replica_read_only {
        return false;
    }
    let write = spec.flags & WRITE != 0
        || (spec.name == "exec"
            && conn
                .multi
                .as_ref()
                .is_some_and(|m| m.cmds.iter().any(|(s, _)| s.flags & WRITE != 0)));
    if !write {
        return false;
    }
    reject_as(conn, spec, errors::READONLY);
    true
}

/// `replica-serve-stale-data no` while the link to the master is not up: only commands with
/// the `stale` flag run. True when the command was rejected.
fn master_down_rejects(conn: &mut Conn, spec: &CommandSpec) -> bool {
    if conn.cfg.replica_serve_stale
        || spec.flags & super::spec::STALE != 0
        || conn.shard.shared.link.state() == crate::shard::link::LinkState::Connected
    {
        return false;
    }
    reject_as(conn, spec, errors::MASTERDOWN);
    true
}

/// Redis's rejectCommand with a full error (prefix included): EXEC discards the transaction
/// (`-EXECABORT Transaction discarded because of: <error>`), anything else flags it.
fn reject_as(conn: &mut Conn, spec: &CommandSpec, err: &str) {
    if spec.name == "exec" {
        transaction::reset(conn);
        conn.error(&format!(
            "EXECABORT Transaction discarded because of: {err}"
        ));
    } else {
        transaction::flag(conn);
        conn.error(err);
    }
}

/// Whether a command is refused while memory is over `maxmemory` (Redis's processCommand):
/// `denyoom` commands, EXEC of a block holding one, and anything queued in MULTI.
fn oom_rejects(conn: &Conn, spec: &CommandSpec) -> bool {
    if spec.flags & DENYOOM != 0 {
        return true;
    }
    match &conn.multi {
        Some(m) if spec.name == "exec" => m.cmds.iter().any(|(s, _)| s.flags & DENYOOM != 0),
        Some(_) => !matches!(spec.name, "discard" | "quit" | "reset"),
        None => false,
    }
}

/// Where a keyed command runs.
enum Route {
    One(usize),
    Multi,
}

fn route(shard: &Shard, spec: &CommandSpec, argv: &[Bytes]) -> Route {
    if shard.nshards == 1 {
        return Route::One(0);
    }
    if let super::spec::Keys::Range(1, 1, 1) = spec.keys {
        return Route::One(shard.shard_of(&argv[1]));
    }
    let mut pos = Vec::new();
    spec.key_positions(argv, &mut pos);
    let mut target = None;
    for i in pos {
        let s = shard.shard_of(&argv[i]);
        match target {
            None => target = Some(s),
            Some(t) if t != s => return Route::Multi,
            _ => {}
        }
    }
    Route::One(target.unwrap_or(shard.id))
}

fn lock_keys(spec: &CommandSpec, db: usize, argv: &[Bytes]) -> Vec<LockKey> {
    let mut pos = Vec::new();
    spec.keys_with_db(argv, db, usize::MAX, &mut pos);
    pos.into_iter()
        .map(|(kdb, i)| (kdb as u32, argv[i].as_ref().into()))
        .collect()
}

async fn execute(
    conn: &mut Conn,
    argv: Vec<Bytes>,
    queue: &mut VecDeque<Vec<Bytes>>,
    clock: &mut RunClock,
) {
    let start = conn.out.len();
    let spec = match resolve(&argv) {
        Ok(s) => s,
        Err(e) => {
            // A known command with the wrong arity is a rejected call of it.
            if let Some(spec) = arity_rejected(&argv) {
                count_rejected(conn, spec);
            }
            transaction::flag(conn);
            conn.error(&e);
            return;
        }
    };
    if !conn.authenticated && spec.flags & NO_AUTH == 0 {
        count_rejected(conn, spec);
        transaction::flag(conn);
        conn.error(errors::NOAUTH);
        return;
    }
    // The gates of a socket client. A socket-less session (the AOF being loaded, a replica's
    // master) passes them as Redis's fake AOF client and master client do: it is never
    // refused for -OOM (nor evicts for itself), -MISCONF or -LOADING, nor held by a pause.
    if conn.origin.is_none() {
        if crate::keyspace::evict::over_limit()
            && !replica_ignores_maxmemory(conn)
            && !crate::shard::evict::perform(&conn.shard.clone()).await
            && oom_rejects(conn, spec)
        {
            count_rejected(conn, spec);
            return transaction::reject_oom(conn, spec);
        }
        let replica = conn.shard.shared.link.gate.load(Ordering::Relaxed);
        if replica && replica_read_only_rejects(conn, spec) {
            return;
        }
        if super::pubsub::in_resp2_context(conn) && super::pubsub::gate(conn, spec, &argv) {
            count_rejected(conn, spec);
            return;
        }
        if (spec.flags & WRITE != 0 || spec.name == "ping") && misconf(conn) {
            count_rejected(conn, spec);
            transaction::flag(conn);
            conn.error(errors::MISCONF);
            return;
        }
        if spec.flags & WRITE != 0 && !crate::replication::master::enough_good_replicas(conn) {
            count_rejected(conn, spec);
            transaction::flag(conn);
            conn.error(errors::NOREPLICAS);
            return;
        }
        if replica && master_down_rejects(conn, spec) {
            return;
        }
        if spec.flags & LOADING == 0 && conn.shard.shared.persistence.loading.active() {
            count_rejected(conn, spec);
            transaction::flag(conn);
            conn.error(crate::persistence::loading::LOADING_ERR);
            return;
        }
        // Like Redis, a pause holds a write even when it would only be queued by MULTI.
        if conn.shard.shared.pause_until.load(Ordering::Relaxed) != 0 {
            wait_client_pause(conn, spec).await;
        }
    }
    if transaction::queues(conn, spec) {
        transaction::queue(conn, spec, argv);
        return;
    }
    conn.handle.info.borrow_mut().last_cmd = spec.name;
    // MONITOR sees a command once it ran (Redis's call()), with the db it left selected; a
    // blocking command when it starts.
    let mut monitor_argv = None;
    if conn.shard.shared.monitors.load(Ordering::Relaxed) != 0 {
        if spec.flags & BLOCKING != 0 {
            introspect::monitor_feed(conn, spec, &argv);
        } else {
            monitor_argv = Some(argv.clone());
        }
    }
    // CLIENT TRACKING: the keys a read-only command reads, remembered once it ran.
    let tracked = notify::tracking().then(|| super::tracking::read_keys(spec, &argv));
    match spec.handler {
        // Outside MULTI a blocking command may wait (it runs its own keyed attempt first). A
        // socket-less session never blocks (Redis's CLIENT_DENY_BLOCKING): it gets the
        // immediate form, as inside MULTI.
        Handler::Keyed(f) if spec.flags & BLOCKING != 0 && conn.origin.is_none() => {
            super::blocking::run(conn, spec, f, argv).await;
            *clock = RunClock::start();
        }
        Handler::Keyed(f) => keyed(conn, spec, f, argv, queue, clock).await,
        Handler::Local(f) => {
            let shard = conn.shard.clone();
            let usec = run_here(&shard, conn.db, &mut conn.out, spec, f, &argv, clock);
            introspect::slowlog_maybe_record(conn, spec, &argv, usec);
        }
        Handler::Conn(f) => {
            let t = clock::cycles();
            f(conn, &argv);
            let usec = record(&conn.shard, spec, t);
            introspect::slowlog_maybe_record(conn, spec, &argv, usec);
        }
        Handler::Coord(f) => {
            let t = clock::cycles();
            if spec.flags & (WRITE | OWN_EFFECTS) == WRITE && conn.shard.shared.hub.active() {
                coord_write(conn, f, &argv).await;
            } else {
                f(conn, &argv).await;
            }
            let usec = record(&conn.shard, spec, t);
            introspect::slowlog_maybe_record(conn, spec, &argv, usec);
            *clock = RunClock::start();
        }
        Handler::Container => {}
    }
    super::wait::after_command(conn);
    if let Some(argv) = monitor_argv {
        introspect::monitor_feed(conn, spec, &argv);
    }
    if let Some(mut events) = notify::take() {
        let modified = crate::net::tracking::split_modified(&mut events);
        crate::net::pubsub::publish_events(&conn.shard, events).await;
        // A connection subscribed to its own keyspace events (RESP3) gets them before the
        // command's reply, as in Redis.
        if let Some(sub) = &conn.pubsub {
            let pending = sub.take_pending();
            if !pending.is_empty() {
                let reply = conn.out.buf.split_off(start);
                conn.out.buf.extend_from_slice(&pending);
                conn.out.buf.unsplit(reply);
            }
        }
        // Invalidations of keys this command changed reach its own connection after its
        // reply (Redis 7.0's tracking_pending_keys).
        crate::net::tracking::invalidate(&conn.shard, modified, Some(conn.id())).await;
    }
    if let Some(read) = tracked {
        super::tracking::after_command(conn, spec, read, start).await;
    }
}

/// `replica-ignore-maxmemory yes` on a replica (Redis's isSafeToPerformEvictions): neither
/// evictions nor -OOM; the master's DELs keep the dataset in line with the master's.
fn replica_ignores_maxmemory(conn: &Conn) -> bool {
    conn.shard.shared.link.gate.load(Ordering::Relaxed)
        && conn
            .shard
            .shared
            .config()
            .get_one("replica-ignore-maxmemory")
            .as_deref()
            != Some("no")
}

/// A whole-server write (FLUSHALL, FLUSHDB, SWAPDB) while effects are recorded: it spans
/// shards, and propagates as received when it succeeded. It enters the multi-shard gate unless
/// it runs inside a cross-shard EXEC block, which holds the gate already.
pub async fn coord_write(
    conn: &mut Conn,
    f: for<'a> fn(&'a mut Conn, &'a [Bytes]) -> super::BoxFuture<'a>,
    argv: &[Bytes],
) {
    let shard = conn.shard.clone();
    let _cross = match conn.block_unit {
        None => Some(shard.shared.cut_gate.enter().await),
        Some(_) => None,
    };
    let mark = conn.out.len();
    f(conn, argv).await;
    if conn.out.buf.get(mark) != Some(&b'-') {
        {
            let mut data = shard.data.borrow_mut();
            let data = &mut *data;
            data.effects
                .flush_expired(&shard.shared.hub, shard.id, &mut data.dbs);
        }
        let op = vec![(conn.db as u32, argv.to_vec())];
        transaction::block_absorb(conn, op);
    }
}

/// CLIENT PAUSE: holds the command while a pause covers it (all commands, or only writes).
async fn wait_client_pause(conn: &Conn, spec: &CommandSpec) {
    let shared = &conn.shard.shared;
    loop {
        let until = shared.pause_until.load(Ordering::Relaxed);
        let now = now_ms();
        if until <= now {
            return;
        }
        let writes_only = shared.pause_writes_only.load(Ordering::Relaxed);
        // EXEC counts as a write when it would run one.
        let writes = spec.flags & (WRITE | MAY_REPLICATE) != 0
            || (spec.name == "exec"
                && conn.multi.as_ref().is_some_and(|m| {
                    m.cmds
                        .iter()
                        .any(|(s, _)| s.flags & (WRITE | MAY_REPLICATE) != 0)
                }));
        if writes_only && !writes {
            return;
        }
        let wait = (until - now).clamp(1, 10) as u64;
        glommio::timer::sleep(std::time::Duration::from_millis(wait)).await;
    }
}

/// Counts a command run on this shard; returns its duration in µs.
fn record(shard: &Shard, spec: &'static CommandSpec, t: u64) -> u64 {
    let usec = clock::to_us(clock::cycles().wrapping_sub(t));
    let mut d = shard.data.borrow_mut();
    d.stats.total_commands += 1;
    d.stats.commands.entry(spec.name).or_default().record(usec);
    usec
}

/// Time for a run of commands: the wall clock read once for the run (expiry decisions), and the
/// cycle clock chained from one command to the next (durations).
pub struct RunClock {
    pub now_ms: i64,
    pub last: u64,
}

impl RunClock {
    pub fn start() -> RunClock {
        RunClock {
            now_ms: now_ms(),
            last: clock::cycles(),
        }
    }

    /// Microseconds since the previous reading.
    #[inline]
    pub fn lap_us(&mut self) -> u64 {
        let c = clock::cycles();
        let us = clock::to_us(c.wrapping_sub(self.last));
        self.last = c;
        us
    }
}

/// Runs a keyed or local handler against this shard's data; returns its duration in µs.
pub fn run_here(
    shard: &Shard,
    db: usize,
    out: &mut ReplyBuf,
    spec: &'static CommandSpec,
    f: fn(&mut Ctx, &[Bytes]),
    argv: &[Bytes],
    clock: &mut RunClock,
) -> u64 {
    let mark = out.len();
    let mut guard = shard.data.borrow_mut();
    let data = &mut *guard;
    let hub = &shard.shared.hub;
    let propagate = hub.active();
    if propagate != data.effects.on {
        data.effects.set_on(propagate, &mut data.dbs);
    }
    // WATCH: keys this command opens for writing count as modified only if it changes something.
    let watching = data
        .dbs
        .get_mut(db)
        .is_some_and(|d| d.watch_begin_command());
    let mut ctx = Ctx {
        dbs: &mut data.dbs,
        db,
        now: clock.now_ms,
        out,
        stats: &mut data.stats,
        rng: &mut data.rng,
        dirty: 0,
        effects: &mut data.effects,
    };
    notify::command_begin();
    f(&mut ctx, argv);
    crate::keyspace::evict::command_done();
    let dirty = ctx.dirty;
    notify::command_end(dirty > 0);
    if watching {
        data.dbs[db].watch_end_command(dirty > 0);
    }
    if propagate {
        data.effects
            .after_command(hub, shard.id, &mut data.dbs, db, argv, dirty);
    }
    let failed = out.buf.get(mark) == Some(&b'-');
    data.stats.total_commands += 1;
    let st = data.stats.commands.entry(spec.name).or_default();
    let usec = clock.lap_us();
    st.record(usec);
    if failed {
        st.failed += 1;
    }
    if dirty > 0 {
        shard.shared.dirty.add(shard.id, dirty);
        if shard.blocking.has_waiters() {
            drop(guard);
            crate::shard::blocking::signal_command(shard, spec, db, argv);
        }
    }
    usec
}

type KeyedFn = fn(&mut Ctx, &[Bytes]);

/// Runs one keyed command through the normal routing (inline, one hop, or multi-shard), with
/// no squashing of the commands that follow; its reply goes to `conn.out`.
pub async fn run_keyed(conn: &mut Conn, spec: &'static CommandSpec, f: KeyedFn, argv: Vec<Bytes>) {
    let mut clock = RunClock::start();
    keyed(conn, spec, f, argv, &mut VecDeque::new(), &mut clock).await
}
type Batch = Vec<(&'static CommandSpec, KeyedFn, Vec<Bytes>)>;

async fn keyed(
    conn: &mut Conn,
    spec: &'static CommandSpec,
    f: fn(&mut Ctx, &[Bytes]),
    argv: Vec<Bytes>,
    queue: &mut VecDeque<Vec<Bytes>>,
    clock: &mut RunClock,
) {
    let shard = conn.shard.clone();
    match route(&shard, spec, &argv) {
        Route::One(s) if s == shard.id => {
            if !shard.locks.is_empty() {
                let keys = lock_keys(spec, conn.db, &argv);
                shard.locks.wait_unlocked(&keys).await;
                *clock = RunClock::start();
            }
            let usec = run_here(&shard, conn.db, &mut conn.out, spec, f, &argv, clock);
            introspect::slowlog_maybe_record(conn, spec, &argv, usec);
        }
        Route::One(s) => {
            let mut batch: Batch = vec![(spec, f, argv)];
            // Squash: the following commands for the same shard ride in the same message.
            while let Some(next) = queue.front() {
                match squashable(conn, &shard, next, s) {
                    Some((nspec, nf)) => {
                        if let Some(a) = queue.pop_front() {
                            conn.handle.info.borrow_mut().last_cmd = nspec.name;
                            batch.push((nspec, nf, a));
                        }
                    }
                    None => break,
                }
            }
            let ((reply, closing), events, ran) =
                run_remote(&shard, s, conn.db, conn.proto(), batch).await;
            notify::absorb(events);
            conn.out.absorb(&reply, closing);
            introspect::after_remote(conn, ran);
            *clock = RunClock::start();
        }
        Route::Multi => multi_batch(conn, &shard, spec, f, argv, queue, clock).await,
    }
}

/// Runs a keyed command as a multi-shard transaction, together with the keyed commands that
/// follow it in the pipeline (one lock/fetch and one write-back round for the lot instead of
/// one per command). Running them as one isolated unit is one of the interleavings Redis
/// allows, and they still run in order, each answered in order.
async fn multi_batch(
    conn: &mut Conn,
    shard: &Rc<Shard>,
    spec: &'static CommandSpec,
    f: KeyedFn,
    argv: Vec<Bytes>,
    queue: &mut VecDeque<Vec<Bytes>>,
    clock: &mut RunClock,
) {
    let t = clock::cycles();
    let mut cmds: Batch = vec![(spec, f, argv)];
    while cmds.len() < MULTI_SQUASH_MAX {
        let Some(next) = queue.front() else { break };
        let Some((nspec, nf)) = multi_squashable(conn, shard, next) else {
            break;
        };
        if let Some(a) = queue.pop_front() {
            conn.handle.info.borrow_mut().last_cmd = nspec.name;
            cmds.push((nspec, nf, a));
        }
    }
    let single = cmds.len() == 1;
    let ((reply, closing), ran) = multi::execute_timed(shard, conn.db, conn.proto(), cmds).await;
    conn.out.absorb(&reply, closing);
    if introspect::wants_argv(&conn.shard) {
        for (spec, argv, usec) in ran {
            // A command alone counts its whole transaction, as before.
            let usec = match single {
                true => clock::to_us(clock::cycles().wrapping_sub(t)),
                false => usec,
            };
            introspect::slowlog_maybe_record(conn, spec, &argv, usec);
        }
    }
    *clock = RunClock::start();
}

/// At most this many pipelined commands run as one multi-shard transaction.
const MULTI_SQUASH_MAX: usize = 32;

/// Whether the next queued command may join a multi-shard transaction of the commands before
/// it: a keyed, non-blocking command that passes every gate `execute` would apply, while no
/// MONITOR watches and no effects are recorded (a replica or the AOF would see the batch as
/// one MULTI/EXEC unit).
fn multi_squashable(
    conn: &Conn,
    shard: &Shard,
    argv: &[Bytes],
) -> Option<(&'static CommandSpec, KeyedFn)> {
    let shared = &shard.shared;
    if conn.reply_mode != ReplyMode::On
        || !conn.authenticated
        || conn.close_after_reply
        || conn.handle.killed.get()
        || crate::keyspace::evict::over_limit()
        || shared.monitors.load(Ordering::Relaxed) != 0
        || shared.hub.active()
        || shared.pause_until.load(Ordering::Relaxed) != 0
        || shared.persistence.loading.active()
        || conn.multi.is_some()
        // Keyspace events a subscribed connection gets go before each command's reply.
        || conn.pubsub.is_some()
    {
        return None;
    }
    let spec = resolve(argv).ok()?;
    let Handler::Keyed(f) = spec.handler else {
        return None;
    };
    if spec.flags & BLOCKING != 0 || (spec.flags & WRITE != 0 && misconf(conn)) {
        return None;
    }
    Some((spec, f))
}

fn squashable(
    conn: &Conn,
    shard: &Shard,
    argv: &[Bytes],
    target: usize,
) -> Option<(&'static CommandSpec, KeyedFn)> {
    // Over maxmemory, each command goes through the gate (eviction, -OOM) on its own; with a
    // MONITOR attached each command goes on its own, to be shown once it ran.
    if conn.reply_mode != ReplyMode::On
        || !conn.authenticated
        || crate::keyspace::evict::over_limit()
        || shard.shared.monitors.load(Ordering::Relaxed) != 0
        // A tracking client's reads are remembered command by command.
        || notify::tracking()
    {
        return None;
    }
    let spec = resolve(argv).ok()?;
    let Handler::Keyed(f) = spec.handler else {
        return None;
    };
    if spec.flags & BLOCKING != 0 {
        return None;
    }
    match route(shard, spec, argv) {
        Route::One(s) if s == target => Some((spec, f)),
        _ => None,
    }
}

/// What a remote shard sends back for a batch: the replies, whether they stopped at the
/// output limit ([`ReplyBuf::closing`]: the client is closed as if they were built here), the
/// keyspace events, and the commands slow enough for the slow log (see [`introspect::Ran`]).
type RemoteReply = (
    (Bytes, bool),
    Option<Vec<notify::Event>>,
    Vec<introspect::Ran>,
);

/// Sends a batch of single-shard commands to shard `target` and returns their replies and
/// keyspace events.
async fn run_remote(
    shard: &Rc<Shard>,
    target: usize,
    db: usize,
    proto: Proto,
    batch: Batch,
) -> RemoteReply {
    Mesh::submit::<RemoteReply>(
        shard,
        target,
        Box::new(move |sh, resp| {
            let blocked = !sh.locks.is_empty()
                && batch.iter().any(|(spec, _, argv)| {
                    sh.locks
                        .any_locked(lock_keys(spec, db, argv).iter().map(|(d, k)| (*d, &**k)))
                });
            let mut ran = introspect::RanLog::new(sh);
            if !blocked {
                let mut out = ReplyBuf::new(proto);
                let mut clock = RunClock::start();
                for (spec, f, argv) in batch {
                    let usec = run_here(sh, db, &mut out, spec, f, &argv, &mut clock);
                    ran.note(spec, argv, usec);
                }
                let closing = out.closing;
                resp.send(
                    sh,
                    Box::new(((out.buf.freeze(), closing), notify::take(), ran.done())),
                );
                return;
            }
            let sh = sh.clone();
            glommio::spawn_local(async move {
                let mut out = ReplyBuf::new(proto);
                for (spec, f, argv) in batch {
                    sh.locks.wait_unlocked(&lock_keys(spec, db, &argv)).await;
                    let usec = run_here(&sh, db, &mut out, spec, f, &argv, &mut RunClock::start());
                    ran.note(spec, argv, usec);
                }
                let closing = out.closing;
                resp.send(
                    &sh,
                    Box::new(((out.buf.freeze(), closing), notify::take(), ran.done())),
                );
            })
            .detach();
        }),
    )
    .await
}
