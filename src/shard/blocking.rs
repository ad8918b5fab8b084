//! Clients blocked on keys (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP):
//! Redis's `blocking.c`, spread over shards.
//!
//! A blocked client is one [`Waiter`] (an `Arc`, shared by every shard it waits on). Each shard
//! owning one of its keys keeps it in the FIFO queue of that key, ordered by the waiter's
//! process-wide ticket, so the longest-waiting client is served first even when waiters come
//! from several shards. After every command that wrote a key with waiters (and after a
//! multi-shard write-back) the shard serves the queue: while the key holds a non-empty
//! list/zset, the first waiter still waiting is *claimed* (a CAS on its state, so a client
//! waiting on keys of several shards is served exactly once) and its command is run against
//! the key on this shard, atomically with respect to every other command here. The reply
//! travels back through the waiter and its waker; timeouts, CLIENT UNBLOCK and disconnection
//! claim the waiter the same way, so exactly one of them wins.
//!
//! Cost for commands on keys nobody waits for: one `Cell` read (`has_waiters`).

use super::Shard;
use crate::commands::dispatch::{run_here, RunClock};
use crate::commands::spec::CommandSpec;
use crate::commands::Ctx;
use crate::keyspace::{now_ms, Value};
use crate::resp::{Proto, ReplyBuf};
use bytes::Bytes;
use hashbrown::HashMap;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

/// Orders waiters process-wide (FIFO across shards).
static TICKETS: AtomicU64 = AtomicU64::new(1);
/// Clients currently blocked on keys (INFO clients `blocked_clients`).
static BLOCKED_CLIENTS: AtomicU64 = AtomicU64::new(0);

pub fn blocked_clients() -> u64 {
    BLOCKED_CLIENTS.load(Ordering::Relaxed)
}

pub type KeyedFn = fn(&mut Ctx, &[Bytes]);

/// What a key must hold for a waiter to be served from it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Wants {
    List,
    ZSet,
}

/// How a waiter is served from one of its keys: `f` runs on the owning shard with the argv
/// `rewrite` builds for that key (the blocking command narrowed to the one ready key).
pub struct Request {
    pub db: usize,
    pub proto: Proto,
    pub spec: &'static CommandSpec,
    pub f: KeyedFn,
    pub argv: Vec<Bytes>,
    pub wants: Wants,
    pub rewrite: fn(&[Bytes], &[u8]) -> Vec<Bytes>,
}

/// How a blocked command ended.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Served: the reply bytes (in the client's protocol).
    Reply(Bytes),
    /// The deadline passed, or CLIENT UNBLOCK ... TIMEOUT.
    TimedOut,
    /// CLIENT UNBLOCK ... ERROR.
    Unblocked,
    /// REPLICAOF made this server follow another master (Redis's disconnectAllBlockedClients):
    /// an error, then the connection closes.
    RoleChanged,
    /// The client went away.
    Gone,
}

const WAITING: u8 = 0;
const CLAIMED: u8 = 1;

pub struct Waiter {
    pub ticket: u64,
    pub client_id: u64,
    pub req: Request,
    state: AtomicU8,
    outcome: Mutex<Option<Outcome>>,
    waker: Mutex<Option<Waker>>,
}

impl Waiter {
    pub fn new(client_id: u64, req: Request) -> Arc<Waiter> {
        Arc::new(Waiter {
            ticket: TICKETS.fetch_add(1, Ordering::Relaxed),
            client_id,
            req,
            state: AtomicU8::new(WAITING),
            outcome: Mutex::new(None),
            waker: Mutex::new(None),
        })
    }

    #[inline]
    pub fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }

    /// Takes the right to end this wait; true for exactly one caller.
    pub fn claim(&self) -> bool {
        self.state
            .compare_exchange(WAITING, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Ends the wait (the caller holds the claim) and wakes the blocked connection. Call with
    /// no RefCell borrow held: the waker may run the connection's task at once.
    pub fn finish(&self, o: Outcome) {
        *lock(&self.outcome) = Some(o);
        self.wake();
    }

    /// Claims and finishes in one go; false when someone else got there first.
    pub fn end(&self, o: Outcome) -> bool {
        if self.claim() {
            self.finish(o);
            true
        } else {
            false
        }
    }

    pub fn wake(&self) {
        let w = lock(&self.waker).take();
        if let Some(w) = w {
            w.wake();
        }
    }

    /// The outcome once the wait ended; otherwise registers `waker`.
    pub fn poll_outcome(&self, waker: &Waker) -> Option<Outcome> {
        *lock(&self.waker) = Some(waker.clone());
        lock(&self.outcome).take()
    }

    /// Counts the client as blocked until the returned guard drops.
    pub fn count_blocked() -> BlockedGuard {
        BLOCKED_CLIENTS.fetch_add(1, Ordering::Relaxed);
        BlockedGuard
    }
}

pub struct BlockedGuard;

impl Drop for BlockedGuard {
    fn drop(&mut self) {
        BLOCKED_CLIENTS.fetch_sub(1, Ordering::Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

type QueueKey = (u32, Box<[u8]>);

/// One shard's wait queues.
#[derive(Default)]
pub struct Registry {
    queues: RefCell<HashMap<QueueKey, VecDeque<Arc<Waiter>>>>,
    /// Entries over all queues: the cheap "anyone waiting here?" check.
    count: Cell<usize>,
    /// Keys written since the last serve.
    ready: RefCell<Vec<QueueKey>>,
    serving: Cell<bool>,
    /// Non-zero while a MULTI/EXEC block runs here: serving waits until the block ends, as
    /// Redis serves blocked clients after EXEC, not between its commands.
    hold: Cell<u32>,
}

impl Registry {
    #[inline]
    pub fn has_waiters(&self) -> bool {
        self.count.get() != 0
    }

    /// Waiters queued here (all keys).
    pub fn len(&self) -> usize {
        self.count.get()
    }

    pub fn is_empty(&self) -> bool {
        self.count.get() == 0
    }

    fn enqueue(&self, db: u32, key: &[u8], w: &Arc<Waiter>) {
        let mut q = self.queues.borrow_mut();
        let queue = q.entry((db, key.into())).or_default();
        if queue.iter().any(|x| Arc::ptr_eq(x, w)) {
            return;
        }
        let at = queue.partition_point(|x| x.ticket < w.ticket);
        queue.insert(at, w.clone());
        self.count.set(self.count.get() + 1);
    }

    /// Takes `w` out of every queue of this shard.
    fn remove(&self, w: &Arc<Waiter>, keys: &[(u32, Bytes)]) {
        let mut q = self.queues.borrow_mut();
        for (db, key) in keys {
            let k: QueueKey = (*db, key.as_ref().into());
            if let Some(queue) = q.get_mut(&k) {
                let before = queue.len();
                queue.retain(|x| !Arc::ptr_eq(x, w));
                self.count.set(self.count.get() - (before - queue.len()));
                if queue.is_empty() {
                    q.remove(&k);
                }
            }
        }
    }

    /// Marks every waited-for key of `dbs` ready (serving checks what each holds).
    fn ready_dbs(&self, dbs: &[u32]) {
        let q = self.queues.borrow();
        let mut ready = self.ready.borrow_mut();
        ready.extend(q.keys().filter(|(db, _)| dbs.contains(db)).cloned());
    }

    fn has_queue(&self, db: u32, key: &[u8]) -> bool {
        self.queues
            .borrow()
            .contains_key(&(db, Box::<[u8]>::from(key)))
    }
}

/// Holds serving on this shard (MULTI/EXEC); the pending keys are served when it drops.
pub struct Hold {
    shard: Rc<Shard>,
}

pub fn hold(shard: &Rc<Shard>) -> Hold {
    shard.blocking.hold.set(shard.blocking.hold.get() + 1);
    Hold {
        shard: shard.clone(),
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let r = &self.shard.blocking;
        r.hold.set(r.hold.get().saturating_sub(1));
        if r.hold.get() == 0 {
            serve_ready(&self.shard);
        }
    }
}

/// Registers `w` for `keys` (all owned by this shard), after any multi-shard transaction
/// holding them is done, and serves it at once when one of them is already ready.
pub async fn register(shard: Rc<Shard>, w: Arc<Waiter>, keys: Vec<(u32, Bytes)>) {
    if !shard.locks.is_empty() {
        let lk: Vec<super::locks::LockKey> =
            keys.iter().map(|(d, k)| (*d, k.as_ref().into())).collect();
        shard.locks.wait_unlocked(&lk).await;
    }
    if !w.is_waiting() {
        return;
    }
    for (db, key) in &keys {
        shard.blocking.enqueue(*db, key, &w);
    }
    for (db, key) in &keys {
        signal(&shard, *db, key);
    }
    serve_ready(&shard);
}

/// Takes `w` out of this shard's queues (its wait ended elsewhere).
pub fn unregister(shard: &Rc<Shard>, w: &Arc<Waiter>, keys: &[(u32, Bytes)]) {
    shard.blocking.remove(w, keys);
}

/// Notes that `key` of `db` was written; [`serve_ready`] serves its waiters. Cheap when
/// nobody waits on this shard.
#[inline]
pub fn signal(shard: &Shard, db: u32, key: &[u8]) {
    let r = &shard.blocking;
    if r.has_waiters() && r.has_queue(db, key) {
        r.ready.borrow_mut().push((db, key.into()));
    }
}

/// Signals every key of `dbs` somebody waits on, then serves (SWAPDB: Redis's
/// `scanDatabaseForReadyKeys`; the waiters are served from what the db holds now).
pub fn signal_dbs(shard: &Shard, dbs: &[u32]) {
    if shard.blocking.has_waiters() {
        shard.blocking.ready_dbs(dbs);
        serve_ready(shard);
    }
}

/// Signals every key `spec` names in `argv` (run from `db`), then serves.
pub fn signal_command(shard: &Shard, spec: &'static CommandSpec, db: usize, argv: &[Bytes]) {
    if !shard.blocking.has_waiters() {
        return;
    }
    let mut pos = Vec::new();
    spec.keys_with_db(argv, db, shard.blocking_ndbs(), &mut pos);
    for (kdb, i) in pos {
        signal(shard, kdb as u32, &argv[i]);
    }
    serve_ready(shard);
}

/// Serves the waiters of every signalled key, unless serving is held (MULTI/EXEC) or already
/// running further up the stack (a served BLMOVE writes its destination, which signals).
pub fn serve_ready(shard: &Shard) {
    let r = &shard.blocking;
    if r.serving.get() || r.hold.get() > 0 {
        return;
    }
    r.serving.set(true);
    loop {
        let next = r.ready.borrow_mut().pop();
        let Some((db, key)) = next else { break };
        if !shard.locks.is_empty() && shard.locks.any_locked(std::iter::once((db, &*key))) {
            // A multi-shard transaction holds the key (and may write back a copy of it):
            // serve once it is released.
            let Some(sh) = super::current() else { continue };
            glommio::spawn_local(async move {
                sh.locks.wait_unlocked(&[(db, key.clone())]).await;
                signal(&sh, db, &key);
                serve_ready(&sh);
            })
            .detach();
            continue;
        }
        serve_key(shard, db, &key);
    }
    r.serving.set(false);
}

/// Whether `key` of `db` holds what `wants` asks for, non-empty.
fn is_ready(shard: &Shard, db: u32, key: &[u8], wants: Wants) -> bool {
    let mut data = shard.data.borrow_mut();
    let Some(d) = data.dbs.get_mut(db as usize) else {
        return false;
    };
    match d.get(key, now_ms()).map(|e| &e.value) {
        Some(Value::List(l)) => wants == Wants::List && !l.is_empty(),
        Some(Value::ZSet(z)) => wants == Wants::ZSet && !z.is_empty(),
        _ => false,
    }
}

/// Serves the waiters of one key, oldest first, while the key stays ready.
fn serve_key(shard: &Shard, db: u32, key: &[u8]) {
    loop {
        let front = {
            let q = shard.blocking.queues.borrow();
            q.get(&(db, Box::<[u8]>::from(key)))
                .and_then(|queue| queue.front().cloned())
        };
        let Some(w) = front else { return };
        if w.is_waiting() {
            if !is_ready(shard, db, key, w.req.wants) {
                return;
            }
            if w.claim() {
                let argv = (w.req.rewrite)(&w.req.argv, key);
                let mut out = ReplyBuf::new(w.req.proto);
                let mut clock = RunClock::start();
                run_here(
                    shard, w.req.db, &mut out, w.req.spec, w.req.f, &argv, &mut clock,
                );
                uncount_call(shard, w.req.spec.name);
                w.finish(Outcome::Reply(out.buf.freeze()));
            }
        }
        // Served here, or ended elsewhere: out of this queue (its other queues are cleaned
        // by the connection when it wakes).
        let mut q = shard.blocking.queues.borrow_mut();
        let k: QueueKey = (db, key.into());
        if let Some(queue) = q.get_mut(&k) {
            if queue.front().is_some_and(|x| Arc::ptr_eq(x, &w)) {
                queue.pop_front();
                shard.blocking.count.set(shard.blocking.count.get() - 1);
            }
            if queue.is_empty() {
                q.remove(&k);
            }
        }
    }
}

/// Redis 7.0 counts a blocking command's call once, when it first runs (INFO commandstats,
/// `total_commands_processed`); serving it later is not another call.
fn uncount_call(shard: &Shard, name: &'static str) {
    let mut data = shard.data.borrow_mut();
    data.stats.total_commands = data.stats.total_commands.saturating_sub(1);
    if let Some(st) = data.stats.commands.get_mut(name) {
        st.calls = st.calls.saturating_sub(1);
    }
}

impl Shard {
    fn blocking_ndbs(&self) -> usize {
        self.data.borrow().dbs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> Request {
        fn noop(_: &mut Ctx, _: &[Bytes]) {}
        fn same(a: &[Bytes], _: &[u8]) -> Vec<Bytes> {
            a.to_vec()
        }
        Request {
            db: 0,
            proto: Proto::Resp2,
            spec: &crate::commands::list::COMMANDS[0],
            f: noop,
            argv: Vec::new(),
            wants: Wants::List,
            rewrite: same,
        }
    }

    #[test]
    fn exactly_one_claim_wins() {
        let w = Waiter::new(1, req());
        assert!(w.is_waiting());
        assert!(w.end(Outcome::TimedOut));
        assert!(!w.claim());
        assert!(!w.end(Outcome::Gone));
        let waker = futures_lite::future::block_on(std::future::poll_fn(|cx| {
            std::task::Poll::Ready(cx.waker().clone())
        }));
        assert_eq!(w.poll_outcome(&waker), Some(Outcome::TimedOut));
    }

    #[test]
    fn queues_keep_ticket_order_and_count() {
        let r = Registry::default();
        let a = Waiter::new(1, req());
        let b = Waiter::new(2, req());
        // Registered out of order (b's shard job arrived first): a is still served first.
        r.enqueue(0, b"k", &b);
        r.enqueue(0, b"k", &a);
        r.enqueue(0, b"k", &a);
        assert_eq!(r.len(), 2);
        {
            let q = r.queues.borrow();
            let queue = q.get(&(0, Box::<[u8]>::from(&b"k"[..])));
            let order: Vec<u64> = queue
                .map(|q| q.iter().map(|w| w.client_id).collect())
                .unwrap_or_default();
            assert_eq!(order, vec![1, 2]);
        }
        // SWAPDB of dbs 0 and 1 readies the keys waited for there, not db 2's.
        r.enqueue(2, b"x", &b);
        r.ready_dbs(&[0, 1]);
        assert_eq!(*r.ready.borrow(), vec![(0, Box::<[u8]>::from(&b"k"[..]))]);
        r.remove(&b, &[(2, Bytes::from_static(b"x"))]);
        r.remove(&a, &[(0, Bytes::from_static(b"k"))]);
        r.remove(&b, &[(0, Bytes::from_static(b"k"))]);
        assert!(!r.has_waiters());
        assert!(r.queues.borrow().is_empty());
    }
}
