//! A consistent cut across shards: one instant at which every shard records something (the
//! start of a snapshot pass, a journal position), such that the recorded state is a prefix of
//! the history every client observed.
//!
//! Two things could make per-shard instants inconsistent, and each has its answer:
//!
//! - **A multi-shard transaction half written back.** Multi-shard work ([`super::multi`], EXEC
//!   across shards) runs inside the [`CutGate`]: a cut closes the gate, waits until no such work
//!   is in flight, and only then cuts; work arriving meanwhile waits at the gate.
//! - **Causality between single-shard commands** (SET a on shard 0, then SET b on shard 1 by the
//!   same client: a snapshot must not hold b without a). The other shards stop inside a mesh job
//!   and spin until the coordinator has seen all of them stopped; then the coordinator cuts and
//!   releases them, and each cuts before serving anything else. Every shard is stopped at the
//!   coordinator's instant, so anything a client saw acknowledged before a write that the cut
//!   holds is in the cut too. The stop lasts about one mesh hop.

use super::{Mesh, Shard};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest a shard spins waiting for the coordinator (a stuck coordinator must not hang the
/// server forever; the cut is then reported as failed).
const SPIN_LIMIT: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct CutGate {
    inflight: AtomicUsize,
    closed: AtomicBool,
    /// One cut at a time.
    cutting: AtomicBool,
}

/// Held by multi-shard work while it runs; a cut waits for every pass to drop.
pub struct GatePass<'a>(&'a CutGate);

impl Drop for GatePass<'_> {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl CutGate {
    /// Enters the gate, waiting while a cut is being taken (rare, about one hop long).
    pub async fn enter(&self) -> GatePass<'_> {
        loop {
            if !self.closed.load(Ordering::Acquire) {
                self.inflight.fetch_add(1, Ordering::AcqRel);
                if !self.closed.load(Ordering::Acquire) {
                    return GatePass(self);
                }
                self.inflight.fetch_sub(1, Ordering::AcqRel);
            }
            glommio::timer::sleep(Duration::from_micros(50)).await;
        }
    }

    /// Closes the gate: waits for any other closer, stops new multi-shard work and waits for
    /// the work in flight. Never call it while holding a [`GatePass`] (it would wait for
    /// itself).
    pub async fn close(&self) -> GateClosed<'_> {
        while self.cutting.swap(true, Ordering::AcqRel) {
            glommio::timer::sleep(Duration::from_micros(200)).await;
        }
        self.closed.store(true, Ordering::Release);
        while self.inflight.load(Ordering::Acquire) > 0 {
            glommio::timer::sleep(Duration::from_micros(50)).await;
        }
        GateClosed(self)
    }
}

impl CutGate {
    /// [`CutGate::close`] for a caller that itself holds `held` passes (a command inside a
    /// multi-shard EXEC block, e.g. FLUSHALL with save points): it waits until only its own
    /// passes are left instead of waiting for itself, and gives up (None) rather than wait for
    /// another closer, which may be waiting for the caller's block. Another block waiting for
    /// keys the caller has locked never gets far, so after [`HELD_WAIT`] the cut goes ahead:
    /// such a block has written nothing yet (blocks lock every key before their first write).
    pub async fn close_holding(&self, held: usize) -> Option<GateClosed<'_>> {
        if held == 0 {
            return Some(self.close().await);
        }
        if self.cutting.swap(true, Ordering::AcqRel) {
            return None;
        }
        self.closed.store(true, Ordering::Release);
        let start = Instant::now();
        while self.inflight.load(Ordering::Acquire) > held && start.elapsed() < HELD_WAIT {
            glommio::timer::sleep(Duration::from_micros(50)).await;
        }
        Some(GateClosed(self))
    }
}

/// How long a cut taken from inside a gate holder waits for the other holders.
const HELD_WAIT: Duration = Duration::from_millis(500);

/// The gate stays closed while this lives.
pub struct GateClosed<'a>(&'a CutGate);

impl Drop for GateClosed<'_> {
    fn drop(&mut self) {
        self.0.closed.store(false, Ordering::Release);
        self.0.cutting.store(false, Ordering::Release);
    }
}

/// Shared by the shards of one cut.
struct Rendezvous {
    arrived: AtomicUsize,
    released: AtomicBool,
    abandoned: AtomicBool,
}

/// Runs `f` on every shard at one consistent instant and returns the results in shard order.
/// Waits for a cut already being taken. None when a shard did not stop in time.
pub async fn consistent_cut<R, F>(shard: &Rc<Shard>, f: F) -> Option<Vec<R>>
where
    R: Send + 'static,
    F: Fn(&Rc<Shard>) -> R + Send + Sync + Clone + 'static,
{
    let _closed = shard.shared.cut_gate.close().await;
    stop_all_and_cut(shard, f).await
}

/// [`consistent_cut`] from a caller holding `held` gate passes (see [`CutGate::close_holding`]).
pub async fn consistent_cut_holding<R, F>(shard: &Rc<Shard>, held: usize, f: F) -> Option<Vec<R>>
where
    R: Send + 'static,
    F: Fn(&Rc<Shard>) -> R + Send + Sync + Clone + 'static,
{
    let _closed = shard.shared.cut_gate.close_holding(held).await?;
    stop_all_and_cut(shard, f).await
}

async fn stop_all_and_cut<R, F>(shard: &Rc<Shard>, f: F) -> Option<Vec<R>>
where
    R: Send + 'static,
    F: Fn(&Rc<Shard>) -> R + Send + Sync + Clone + 'static,
{
    if shard.nshards == 1 {
        return Some(vec![f(shard)]);
    }
    let rv = Arc::new(Rendezvous {
        arrived: AtomicUsize::new(0),
        released: AtomicBool::new(false),
        abandoned: AtomicBool::new(false),
    });
    let mut pending = Vec::new();
    for s in (0..shard.nshards).filter(|&s| s != shard.id) {
        let rv = rv.clone();
        let f = f.clone();
        pending.push(Mesh::submit::<Option<R>>(
            shard,
            s,
            Box::new(move |sh, resp| {
                rv.arrived.fetch_add(1, Ordering::AcqRel);
                let start = Instant::now();
                while !rv.released.load(Ordering::Acquire) {
                    if rv.abandoned.load(Ordering::Acquire) || start.elapsed() > SPIN_LIMIT {
                        rv.abandoned.store(true, Ordering::Release);
                        resp.send(sh, Box::new(None::<R>));
                        return;
                    }
                    std::hint::spin_loop();
                }
                let r = f(sh);
                resp.send(sh, Box::new(Some(r)));
            }),
        ));
    }
    let others = shard.nshards - 1;
    let start = Instant::now();
    while rv.arrived.load(Ordering::Acquire) < others {
        if start.elapsed() > SPIN_LIMIT || rv.abandoned.load(Ordering::Acquire) {
            rv.abandoned.store(true, Ordering::Release);
            break;
        }
        futures_lite::future::yield_now().await;
    }
    // Cut here and release in the same breath: no await between the two.
    let mine = (!rv.abandoned.load(Ordering::Acquire)).then(|| f(shard));
    rv.released.store(true, Ordering::Release);
    let mut theirs = Vec::with_capacity(others);
    for p in pending {
        theirs.push(p.await);
    }
    let mine = mine?;
    let mut out = Vec::with_capacity(shard.nshards);
    let mut theirs = theirs.into_iter();
    for s in 0..shard.nshards {
        if s == shard.id {
            out.push(None);
        } else {
            out.push(theirs.next().flatten());
        }
    }
    out[shard.id] = Some(mine);
    out.into_iter().collect()
}
