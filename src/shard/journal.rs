//! The single propagation point (DESIGN.md §5): every write becomes deterministic *effects*
//! (commands that reproduce it), each shard appends them to its own journal, and one consumer
//! (the AOF writer; later the replication feed) merges the journals into one Redis-format stream.
//!
//! - A handler that must not be replayed as received calls [`crate::commands::Ctx::rewrite`]
//!   (its effect replaces the command: `SET k v EX 10` → `SET k v PXAT <ms>`) or
//!   [`crate::commands::Ctx::also_propagate`] (an extra effect). Otherwise the dispatcher records
//!   the argv as received (refcounted `Bytes`, no copy), and only when the command changed data
//!   (`ctx.dirty` moved), like Redis's `call()`.
//! - Keys removed by lazy or active expiry become `DEL key`, or `UNLINK key` with
//!   `lazyfree-lazy-expire yes` (Redis's propagateDeletion; the db logs them while a consumer
//!   is attached).
//! - The effects of one execution unit (a command, an EXEC block, a multi-shard command) leave
//!   as one unit; the merger wraps a unit of several commands in `MULTI` ... `EXEC` and emits
//!   `SELECT` when the db changes, exactly as Redis's `propagatePendingCommands` /
//!   `feedAppendOnlyFile` do.
//!
//! When no consumer is attached ([`Hub::active`] false) the cost per command is one relaxed
//! load and a branch.
//!
//! Order: a unit takes a global sequence number while holding its shard's journal lock, so the
//! consumer can merge by sequence number: everything below the counter value it read before
//! draining has been pushed. Per-key order holds because a key's writes happen on its shard (or
//! under its lock, for a multi-shard unit, which numbers itself before unlocking).

use bytes::Bytes;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Condvar, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

/// `lazyfree-lazy-expire`, process-wide like the config it mirrors (CONFIG SET updates it).
static LAZY_EXPIRE: AtomicBool = AtomicBool::new(false);

/// Mirrors `lazyfree-lazy-expire` (at startup and on CONFIG SET).
pub fn set_lazy_expire(on: bool) {
    LAZY_EXPIRE.store(on, Ordering::Relaxed);
}

/// The command an expiry deletion propagates as: `UNLINK` with `lazyfree-lazy-expire yes`,
/// else `DEL` (Redis 7.0's propagateDeletion and the EXPIRE/GETEX past-deadline rewrite).
pub fn expiry_delete_command() -> Bytes {
    if LAZY_EXPIRE.load(Ordering::Relaxed) {
        Bytes::from_static(b"UNLINK")
    } else {
        Bytes::from_static(b"DEL")
    }
}

/// One effect: the db it runs against and its argv.
pub type Op = (u32, Vec<Bytes>);

/// What a shard's journal holds, in push order.
#[derive(Debug)]
pub enum Item {
    /// The effects of one execution unit, already RESP-encoded (`ops` = (db, bytes)).
    Unit { seq: u64, ops: Vec<(u32, Vec<u8>)> },
    /// A rewrite's cut on this shard: everything before it is in the new base.
    Cut { seq: u64, epoch: u64 },
}

impl Item {
    pub fn seq(&self) -> u64 {
        match self {
            Item::Unit { seq, .. } | Item::Cut { seq, .. } => *seq,
        }
    }
}

/// The per-shard recorder of the command being executed (lives in `ShardData`; handlers reach
/// it through `Ctx`).
#[derive(Default)]
pub struct Effects {
    /// A consumer is attached: record effects.
    pub on: bool,
    also: Vec<Op>,
    own: Option<Vec<Op>>,
    prevent: bool,
    /// Nesting depth of a unit being gathered (EXEC, multi-shard command): effects accumulate
    /// in `captured` instead of going to the journal after each command.
    capture: u32,
    captured: Vec<Op>,
}

impl Effects {
    /// Replaces the running command's own effect (may be called several times for several
    /// commands). Ignored unless the command turns out to have changed data.
    pub fn rewrite(&mut self, db: usize, argv: Vec<Bytes>) {
        if self.on {
            self.own
                .get_or_insert_with(Vec::new)
                .push((db as u32, argv));
        }
    }

    /// Adds an effect besides the command's own (Redis's `alsoPropagate`).
    pub fn also_propagate(&mut self, db: usize, argv: Vec<Bytes>) {
        if self.on {
            self.also.push((db as u32, argv));
        }
    }

    /// The running command propagates nothing of its own (Redis's `preventCommandPropagation`).
    pub fn prevent(&mut self) {
        self.prevent = true;
    }

    /// Starts gathering one unit over several commands.
    pub fn begin_unit(&mut self) {
        self.capture += 1;
    }

    /// Ends a unit started with [`Effects::begin_unit`]: returns its effects when this was the
    /// outermost level (the caller commits them or hands them to its coordinator).
    pub fn end_unit(&mut self) -> Option<Vec<Op>> {
        self.capture = self.capture.saturating_sub(1);
        (self.capture == 0).then(|| std::mem::take(&mut self.captured))
    }

    /// Appends effects gathered elsewhere (a remote shard's part of an EXEC block) to the unit
    /// being gathered, or commits them as one unit when none is open.
    pub fn absorb(&mut self, hub: &Hub, shard: usize, ops: Vec<Op>) {
        if self.capture > 0 {
            self.captured.extend(ops);
        } else {
            hub.push(shard, ops);
        }
    }

    /// Journals `argv` as an effect of work done outside a command's run (a blocked client
    /// served when a push arrives: `BLPOP` → `LPOP`/`RPOP`, `BLMOVE` → `LMOVE`, ...). It joins
    /// the unit being gathered, if any; otherwise it is a unit of its own.
    pub fn emit(&mut self, hub: &Hub, shard: usize, db: usize, argv: Vec<Bytes>) {
        if hub.active() {
            self.absorb(hub, shard, vec![(db as u32, argv)]);
        }
    }

    /// Switches recording (and the dbs' expiry logs) on or off.
    pub fn set_on(&mut self, on: bool, dbs: &mut [crate::keyspace::Db]) {
        self.on = on;
        for d in dbs {
            d.expired_log = on.then(Vec::new);
        }
        if !on {
            self.also.clear();
            self.own = None;
            self.captured.clear();
        }
    }

    fn drain_expired(&mut self, dbs: &mut [crate::keyspace::Db], out: &mut Vec<Op>) {
        for (i, d) in dbs.iter_mut().enumerate() {
            if let Some(log) = &mut d.expired_log {
                for k in log.drain(..) {
                    out.push((i as u32, vec![expiry_delete_command(), Bytes::from(k)]));
                }
            }
        }
    }

    /// After one command ran: gathers its effects (expired keys, `also`, then its own effect
    /// when `dirty` moved) into the current unit, committing the unit unless one is open.
    pub fn after_command(
        &mut self,
        hub: &Hub,
        shard: usize,
        dbs: &mut [crate::keyspace::Db],
        db: usize,
        argv: &[Bytes],
        dirty: u64,
    ) {
        let mut ops = std::mem::take(&mut self.captured);
        self.drain_expired(dbs, &mut ops);
        ops.append(&mut self.also);
        let own = self.own.take();
        if dirty > 0 && !self.prevent {
            match own {
                Some(o) => ops.extend(o),
                None => ops.push((db as u32, argv.to_vec())),
            }
        }
        self.prevent = false;
        if self.capture > 0 {
            self.captured = ops;
        } else if !ops.is_empty() {
            hub.push(shard, ops);
        }
    }

    /// Journals the keys expired outside a command (active expiry, a fetch for a multi-shard
    /// command): one `DEL` per unit, never wrapped, like Redis's `propagate_no_multi`.
    pub fn flush_expired(&mut self, hub: &Hub, shard: usize, dbs: &mut [crate::keyspace::Db]) {
        if !self.on {
            return;
        }
        let mut ops = Vec::new();
        self.drain_expired(dbs, &mut ops);
        for op in ops {
            hub.push(shard, vec![op]);
        }
    }
}

/// An integer argument of a rewritten effect (`PEXPIREAT k <ms>`).
pub fn int_arg(i: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(i).as_bytes())
}

/// Appends `argv` as a RESP multibulk.
pub fn encode(out: &mut Vec<u8>, argv: &[impl AsRef<[u8]>]) {
    let mut b = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(b.format(argv.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(b.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Wakes the consumer thread when something is pushed (a futex wake only when it sleeps).
#[derive(Default)]
struct Doorbell {
    lock: Mutex<()>,
    cv: Condvar,
    pending: AtomicBool,
    sleeping: AtomicBool,
}

impl Doorbell {
    fn ring(&self) {
        self.pending.store(true, Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) {
            let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            self.cv.notify_one();
        }
    }

    fn wait(&self, timeout: Duration) {
        let g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.sleeping.store(true, Ordering::SeqCst);
        if !self.pending.swap(false, Ordering::SeqCst) {
            let _ = self.cv.wait_timeout(g, timeout);
            self.pending.store(false, Ordering::SeqCst);
        }
        self.sleeping.store(false, Ordering::SeqCst);
    }
}

/// A level the consumer reaches (every unit numbered below it is written, or on disk) and the
/// replies waiting for it: `wait` says whether replies wait at all (the AOF is on with the
/// matching policy).
#[derive(Default)]
pub struct Watermark {
    level: AtomicU64,
    pub wait: AtomicBool,
    waiters: Mutex<Vec<Waker>>,
}

impl Watermark {
    fn reached(&self, upto: u64) -> bool {
        !self.wait.load(Ordering::SeqCst) || self.level.load(Ordering::SeqCst) >= upto
    }

    /// Consumer side: every unit numbered below `upto` got there; wakes waiting replies.
    pub fn set(&self, upto: u64) {
        self.level.fetch_max(upto, Ordering::SeqCst);
        self.release();
    }

    /// Wakes every waiting reply to re-check (after `wait` was switched off).
    pub fn release(&self) {
        let w = std::mem::take(&mut *self.waiters.lock().unwrap_or_else(|p| p.into_inner()));
        for w in w {
            w.wake();
        }
    }
}

/// Consumers of the merged stream: the AOF writer (it drains the journals while it runs) and
/// the replication stream (fed through the tap by whoever drains).
const ACTIVE_AOF: u8 = 1;
const ACTIVE_REPL: u8 = 2;

/// The db of an effect that selects nothing (the replication stream's PING, GETACK).
pub const NO_DB: u32 = u32::MAX;

/// Sees every merged item, in sequence order, whoever drains the journals (the replication
/// stream's encoder).
pub type Tap = Box<dyn FnMut(&[(usize, Item)]) + Send>;

/// The consumers' side of the merge: items drained but not ready yet, and the tap. One lock,
/// held over a whole drain, so items leave in sequence order even if the draining thread
/// changes (the AOF writer starts or stops while the replication stream runs).
#[derive(Default)]
struct Merge {
    held: Vec<(usize, Item)>,
    tap: Option<Tap>,
}

/// The process-wide side of propagation (in `Shared`): the shard journals, the sequence
/// counter, the consumer's doorbell and the two watermarks replies wait for.
pub struct Hub {
    active: AtomicU8,
    merge: Mutex<Merge>,
    seq: AtomicU64,
    journals: Vec<Mutex<Vec<Item>>>,
    bell: Doorbell,
    /// `write()`n to the AOF file: every policy's replies wait for it, so a process crash
    /// loses nothing acknowledged (Redis writes the AOF buffer in beforeSleep, before the
    /// replies of that event-loop turn are sent).
    pub written: Watermark,
    /// On disk (appendfsync always): those replies wait for the fsync too.
    pub durable: Watermark,
}

impl Hub {
    pub fn new(nshards: usize) -> Hub {
        Hub {
            active: AtomicU8::new(0),
            merge: Mutex::new(Merge::default()),
            seq: AtomicU64::new(0),
            journals: (0..nshards.max(1))
                .map(|_| Mutex::new(Vec::new()))
                .collect(),
            bell: Doorbell::default(),
            written: Watermark::default(),
            durable: Watermark::default(),
        }
    }

    /// Whether a consumer is attached (shards record effects).
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed) != 0
    }

    /// The AOF writer attached (it drains) or detached.
    pub fn set_active(&self, on: bool) {
        self.set_bit(ACTIVE_AOF, on);
    }

    /// The replication stream needs effects (a backlog exists).
    pub fn set_repl_active(&self, on: bool) {
        self.set_bit(ACTIVE_REPL, on);
    }

    fn set_bit(&self, bit: u8, on: bool) {
        if on {
            self.active.fetch_or(bit, Ordering::SeqCst);
        } else {
            self.active.fetch_and(!bit, Ordering::SeqCst);
        }
    }

    /// Whether the AOF writer drains the journals (else the replication stream does).
    pub fn aof_draining(&self) -> bool {
        self.active.load(Ordering::SeqCst) & ACTIVE_AOF != 0
    }

    /// Whether the replication stream takes effects.
    pub fn repl_active(&self) -> bool {
        self.active.load(Ordering::SeqCst) & ACTIVE_REPL != 0
    }

    /// Installs the tap every drain feeds.
    pub fn set_tap(&self, tap: Tap) {
        self.merge.lock().unwrap_or_else(|p| p.into_inner()).tap = Some(tap);
    }

    pub fn nshards(&self) -> usize {
        self.journals.len()
    }

    /// The next sequence number to be given out.
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    fn journal(&self, shard: usize) -> std::sync::MutexGuard<'_, Vec<Item>> {
        let j = &self.journals[shard.min(self.journals.len() - 1)];
        j.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends one unit to `shard`'s journal.
    pub fn push(&self, shard: usize, ops: Vec<Op>) {
        if ops.is_empty() {
            return;
        }
        let ops: Vec<(u32, Vec<u8>)> = ops
            .into_iter()
            .map(|(db, argv)| {
                let mut b =
                    Vec::with_capacity(16 + argv.iter().map(|a| a.len() + 16).sum::<usize>());
                encode(&mut b, &argv);
                (db, b)
            })
            .collect();
        {
            let mut j = self.journal(shard);
            let seq = self.seq.fetch_add(1, Ordering::SeqCst);
            j.push(Item::Unit { seq, ops });
        }
        self.bell.ring();
    }

    /// Marks a rewrite's cut in `shard`'s journal.
    pub fn push_cut(&self, shard: usize, epoch: u64) {
        {
            let mut j = self.journal(shard);
            let seq = self.seq.fetch_add(1, Ordering::SeqCst);
            j.push(Item::Cut { seq, epoch });
        }
        self.bell.ring();
    }

    /// Wakes the consumer (it has a control message, or must re-check something).
    pub fn wake_consumer(&self) {
        self.bell.ring();
    }

    /// Consumer side: moves every item numbered below the counter (read first) from the
    /// journals into the held ones, and returns the ready ones in sequence order (the rest stay
    /// held) with that counter value, after the tap saw them.
    pub fn take_ready(&self) -> (u64, Vec<(usize, Item)>) {
        let mut m = self.merge.lock().unwrap_or_else(|p| p.into_inner());
        let m = &mut *m;
        let limit = self.seq();
        for s in 0..self.journals.len() {
            let mut j = self.journal(s);
            m.held.extend(j.drain(..).map(|i| (s, i)));
        }
        m.held.sort_by_key(|(_, i)| i.seq());
        let n = m.held.partition_point(|(_, i)| i.seq() < limit);
        let rest = m.held.split_off(n);
        let ready = std::mem::replace(&mut m.held, rest);
        if let Some(tap) = &mut m.tap {
            if !ready.is_empty() {
                tap(&ready);
            }
        }
        (limit, ready)
    }

    /// Drops everything journaled so far (the consumer went away), unless the replication
    /// stream still takes it.
    pub fn clear(&self) {
        if self.repl_active() {
            return;
        }
        for s in 0..self.journals.len() {
            self.journal(s).clear();
        }
        self.merge
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .held
            .clear();
    }

    /// Consumer side: sleeps until something is pushed or `timeout` passes.
    pub fn wait_for_work(&self, timeout: Duration) {
        self.bell.wait(timeout);
    }

    /// Sets how replies wait: for the write (any policy with the AOF on) and for the fsync
    /// (`always`). Replies already waiting re-check.
    pub fn set_reply_wait(&self, written: bool, durable: bool) {
        self.written
            .wait
            .store(written || durable, Ordering::SeqCst);
        self.durable.wait.store(durable, Ordering::SeqCst);
        self.release_waiters();
    }

    /// Whether replies wait for the consumer at all (one relaxed load per reply batch).
    #[inline]
    pub fn replies_wait(&self) -> bool {
        self.written.wait.load(Ordering::Relaxed)
    }

    /// Waits until the units numbered below `upto` are written, and on disk when the policy
    /// asks for it (or until the waits are switched off).
    pub async fn acked(&self, upto: u64) {
        self.reach(&self.written, upto).await;
        self.reach(&self.durable, upto).await;
    }

    async fn reach(&self, mark: &Watermark, upto: u64) {
        poll_fn(|cx| {
            if mark.reached(upto) {
                return Poll::Ready(());
            }
            mark.waiters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(cx.waker().clone());
            if mark.reached(upto) {
                return Poll::Ready(());
            }
            self.bell.ring();
            Poll::Pending
        })
        .await
    }

    /// Releases every waiting reply (the AOF was switched off, failed, or changed policy).
    pub fn release_waiters(&self) {
        self.written.release();
        self.durable.release();
    }
}

/// Turns merged units into one Redis-format stream: `SELECT` when the db changes, `MULTI` /
/// `EXEC` around a unit of several commands (the `SELECT` for its first command before
/// `MULTI`, like Redis).
#[derive(Default)]
pub struct StreamEncoder {
    /// The db of the last command written (-1: none yet, so the first command selects).
    last_db: Option<u32>,
}

impl StreamEncoder {
    pub fn new() -> StreamEncoder {
        StreamEncoder::default()
    }

    /// Forgets the selected db (a new file starts, or a replica resynced).
    pub fn reset(&mut self) {
        self.last_db = None;
    }

    fn select(&mut self, out: &mut Vec<u8>, db: u32) {
        if db != NO_DB && self.last_db != Some(db) {
            let mut b = itoa::Buffer::new();
            encode(out, &[&b"SELECT"[..], b.format(db).as_bytes()]);
            self.last_db = Some(db);
        }
    }

    pub fn unit(&mut self, out: &mut Vec<u8>, ops: &[(u32, Vec<u8>)]) {
        match ops {
            [] => {}
            [(db, bytes)] => {
                self.select(out, *db);
                out.extend_from_slice(bytes);
            }
            [(first, _), ..] => {
                self.select(out, *first);
                out.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n");
                for (db, bytes) in ops {
                    self.select(out, *db);
                    out.extend_from_slice(bytes);
                }
                out.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn argv(s: &str) -> Vec<Bytes> {
        s.split(' ').map(b).collect()
    }

    fn stream(hub: &Hub) -> String {
        let mut enc = StreamEncoder::new();
        let mut out = Vec::new();
        for (_, item) in hub.take_ready().1 {
            if let Item::Unit { ops, .. } = item {
                enc.unit(&mut out, &ops);
            }
        }
        String::from_utf8_lossy(&out).replace("\r\n", " ")
    }

    #[test]
    fn own_argv_only_when_dirty_and_rewrite_replaces_it() {
        let hub = Hub::new(1);
        let mut dbs = vec![crate::keyspace::Db::new()];
        let mut fx = Effects::default();
        fx.set_on(true, &mut dbs);
        fx.after_command(&hub, 0, &mut dbs, 0, &argv("get k"), 0);
        fx.after_command(&hub, 0, &mut dbs, 0, &argv("set k v"), 1);
        fx.rewrite(0, argv("PEXPIREAT k 100"));
        fx.after_command(&hub, 0, &mut dbs, 0, &argv("expire k 10"), 1);
        // A rewrite of a command that changed nothing propagates nothing.
        fx.rewrite(0, argv("PEXPIREAT k 100"));
        fx.after_command(&hub, 0, &mut dbs, 0, &argv("expire nokey 10"), 0);
        assert_eq!(
            stream(&hub),
            "*2 $6 SELECT $1 0 *3 $3 set $1 k $1 v *3 $9 PEXPIREAT $1 k $3 100 "
        );
    }

    #[test]
    fn several_effects_are_wrapped_and_select_follows_the_db() {
        let hub = Hub::new(2);
        let mut dbs = vec![crate::keyspace::Db::new(), crate::keyspace::Db::new()];
        let mut fx = Effects::default();
        fx.set_on(true, &mut dbs);
        fx.begin_unit();
        fx.after_command(&hub, 0, &mut dbs, 1, &argv("set a 1"), 1);
        fx.after_command(&hub, 0, &mut dbs, 0, &argv("incr b"), 1);
        let ops = fx.end_unit().unwrap_or_default();
        hub.push(0, ops);
        hub.push(1, vec![(0, argv("set c 1"))]);
        assert_eq!(
            stream(&hub),
            "*2 $6 SELECT $1 1 *1 $5 MULTI *3 $3 set $1 a $1 1 *2 $6 SELECT $1 0 \
             *2 $4 incr $1 b *1 $4 EXEC *3 $3 set $1 c $1 1 "
        );
    }

    #[test]
    fn merge_follows_sequence_numbers_across_shards() {
        let hub = Hub::new(2);
        hub.push(1, vec![(0, argv("set x 1"))]);
        hub.push(0, vec![(0, argv("set y 1"))]);
        hub.push(1, vec![(0, argv("set z 1"))]);
        let order: Vec<usize> = hub.take_ready().1.iter().map(|(s, _)| *s).collect();
        assert_eq!(order, vec![1, 0, 1]);
    }

    /// Runs `cmds` through the command table against one shard with effects on and returns
    /// the propagated stream (the handlers' rewrites, as Redis 7.0 propagates them).
    fn effects_of(cmds: &[&str], now: i64) -> String {
        use crate::commands::{dispatch::resolve, Ctx, Handler};
        use rand::SeedableRng;
        let hub = Hub::new(1);
        let mut dbs: Vec<crate::keyspace::Db> =
            (0..16).map(|_| crate::keyspace::Db::new()).collect();
        let mut fx = Effects::default();
        fx.set_on(true, &mut dbs);
        hub.set_active(true);
        let mut stats = crate::shard::ShardStats::default();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        for c in cmds {
            let a = argv(c);
            let Ok(spec) = resolve(&a) else {
                panic!("unknown {c}")
            };
            let (Handler::Keyed(f) | Handler::Local(f)) = spec.handler else {
                panic!("not a keyed command: {c}")
            };
            let mut out = crate::resp::ReplyBuf::new(crate::resp::Proto::Resp2);
            let mut ctx = Ctx {
                dbs: &mut dbs,
                db: 0,
                now,
                out: &mut out,
                stats: &mut stats,
                rng: &mut rng,
                dirty: 0,
                effects: &mut fx,
            };
            f(&mut ctx, &a);
            let dirty = ctx.dirty;
            fx.after_command(&hub, 0, &mut dbs, 0, &a, dirty);
        }
        let text = stream(&hub);
        // "*3 $3 SET $1 k $1 v " → "SET k v"; one command per line.
        let mut lines = Vec::new();
        let mut cur: Vec<&str> = Vec::new();
        let mut want = 0;
        for w in text.split(' ').filter(|w| !w.is_empty()) {
            if let Some(n) = w.strip_prefix('*') {
                want = n.parse().unwrap_or(0);
                cur.clear();
            } else if !w.starts_with('$') {
                cur.push(w);
                if cur.len() == want {
                    lines.push(cur.join(" "));
                }
            }
        }
        lines.join("\n")
    }

    #[test]
    fn relative_expiries_propagate_as_absolute_ones() {
        let now = 1_000_000;
        assert_eq!(
            effects_of(
                &[
                    "set k v EX 10",
                    "set k v PX 5 GET",
                    "setex s 2 v",
                    "psetex p 3 v",
                    "expire k 100 NX",
                    "expire k 100 GT",
                    "pexpireat k 5",
                    "set g 1",
                    "getex g EX 7",
                    "getex g PERSIST",
                    "getex g PXAT 1",
                ],
                now
            ),
            "SELECT 0\nSET k v PXAT 1010000\nSET k v PXAT 1000005\nSET s v PXAT 1002000\n\
             SET p v PXAT 1000003\nPEXPIREAT k 1100000 GT\nDEL k\nset g 1\n\
             PEXPIREAT g 1007000\nPERSIST g\nDEL g"
        );
    }

    #[test]
    fn nondeterministic_and_reply_only_parts_are_rewritten() {
        let out = effects_of(
            &[
                "set a 1 GET",
                "getset a 2",
                "getdel a",
                "getdel a",
                "incrbyfloat f 1.5",
                "hincrbyfloat h x 0.5",
                "sadd s m",
                "spop s",
                "sadd t 1 2 3",
                "spop t 3",
            ],
            0,
        );
        assert_eq!(
            out,
            "SELECT 0\nset a 1\nSET a 2\nDEL a\nSET f 1.5 KEEPTTL\nHSET h x 0.5\nsadd s m\n\
             SREM s m\nsadd t 1 2 3\nDEL t"
        );
        // SPOP with a count smaller than the set: one SREM per member, as one unit.
        let out = effects_of(&["sadd u 1 2 3 4", "spop u 2"], 0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[2], "MULTI");
        assert!(lines[3].starts_with("SREM u ") && lines[4].starts_with("SREM u "));
        assert_eq!(lines[5], "EXEC");
    }

    #[test]
    fn lazy_expiry_is_a_del_before_the_command() {
        // A read that expires the key propagates the DEL alone; a write that expires it first
        // propagates DEL and itself as one unit (Redis 7.0 wraps them in MULTI/EXEC).
        let out = effects_of(&["set k v PXAT 5", "get k", "incr k"], 10);
        assert_eq!(out, "SELECT 0\nSET k v PXAT 5\nDEL k\nincr k");
        let out = effects_of(&["set k v PXAT 5", "incr k"], 10);
        assert_eq!(out, "SELECT 0\nSET k v PXAT 5\nMULTI\nDEL k\nincr k\nEXEC");
    }

    #[test]
    fn nothing_is_recorded_when_off() {
        let hub = Hub::new(1);
        let mut fx = Effects::default();
        fx.rewrite(0, argv("PEXPIREAT k 1"));
        let mut dbs = vec![crate::keyspace::Db::new()];
        fx.after_command(&hub, 0, &mut dbs, 0, &argv("set k v"), 1);
        // `after_command` is only called when on; a rewrite while off leaves nothing behind.
        assert!(fx.own.is_none());
    }
}
