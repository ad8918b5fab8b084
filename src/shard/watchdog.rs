//! Keeps a shard executor from sleeping while it has runnable work.
//!
//! glommio 0.9.0 (the release on crates.io) can park an executor that still has runnable tasks:
//! when its preemption timer expires between the reactor poll and the run of the task queues
//! (easy on a loaded VM, where the thread can be descheduled for longer than the timer), the
//! run loop reads "preempted before running anything" as "nothing to run" and sleeps in
//! `io_uring_enter` until some unrelated event arrives. If the runnable task was the one that
//! would have produced the next event (a reply a client waits for, the cron's next timer, a
//! mesh message a peer waits for), nothing arrives and the shard stalls for good. Fixed upstream
//! in glommio/glommio#53 (September 2026), not released.
//!
//! Two measures, both cheap:
//! - a long preemption timer ([`PREEMPT_TIMER`]), so the window almost never opens (ringkv does
//!   not rely on timer preemption: long work yields explicitly);
//! - a thread that wakes every shard's [`Doorbell`] task every [`PERIOD`]: a foreign wake writes
//!   the sleeping executor's eventfd, and the next loop iteration runs its queues. A stall
//!   lasts at most one period.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

pub const PREEMPT_TIMER: Duration = Duration::from_secs(1);
pub const PERIOD: Duration = Duration::from_millis(100);

/// A waker that another thread can ring.
#[derive(Default)]
pub struct Doorbell {
    rung: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Doorbell {
    pub fn ring(&self) {
        self.rung.store(true, Ordering::Release);
        let w = match self.waker.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        if let Some(w) = w {
            w.wake();
        }
    }

    /// Resolves once rung (again).
    pub async fn wait(&self) {
        std::future::poll_fn(|cx| {
            if self.rung.swap(false, Ordering::AcqRel) {
                return Poll::Ready(());
            }
            match self.waker.lock() {
                Ok(mut g) => *g = Some(cx.waker().clone()),
                Err(p) => *p.into_inner() = Some(cx.waker().clone()),
            }
            if self.rung.swap(false, Ordering::AcqRel) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// Runs on each shard: answers the doorbell, which is all it takes to get the executor's loop
/// going again.
pub async fn answer(bell: Arc<Doorbell>) {
    loop {
        bell.wait().await;
    }
}

/// Starts the thread that rings every shard's doorbell each [`PERIOD`].
pub fn start(bells: Vec<Arc<Doorbell>>) {
    let spawned = std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || loop {
            std::thread::sleep(PERIOD);
            for b in &bells {
                b.ring();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("could not start the executor watchdog thread: {e}");
    }
}
