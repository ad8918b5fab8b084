//! Messages between shard executors.
//!
//! One glommio shared channel per ordered pair of shards. Everything one shard has for a peer
//! during one loop iteration (jobs from every connection, results of jobs the peer sent) is
//! gathered in an outbox and leaves as one message, so a peer is woken once per iteration no
//! matter how many connections hop to it (glommio-notes.md §3: a hop costs tens of µs, most of it
//! the wake-up).

use super::Shard;
use glommio::channels::shared_channel::{ConnectedReceiver, ConnectedSender};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

pub type AnyBox = Box<dyn Any + Send>;
/// Work sent to a peer shard: runs there with that shard, answers through the [`Responder`]
/// (at once, or later from a task when it had to wait for a key lock).
pub type Job = Box<dyn FnOnce(&Rc<Shard>, Responder) + Send>;

pub struct Msg {
    jobs: Vec<(u32, Job)>,
    results: Vec<(u32, AnyBox)>,
}

/// Where a job's result goes: back to the shard that sent it, under its token.
pub struct Responder {
    peer: usize,
    token: u32,
}

impl Responder {
    pub fn send(self, shard: &Rc<Shard>, result: AnyBox) {
        shard.mesh.push_result(shard, self.peer, self.token, result);
    }
}

#[derive(Default)]
struct Outbox {
    jobs: Vec<(u32, Job)>,
    results: Vec<(u32, AnyBox)>,
    flush_scheduled: bool,
}

#[derive(Default)]
struct PendingSlot {
    result: Option<AnyBox>,
    waker: Option<Waker>,
    in_use: bool,
    /// The waiting future was dropped (its connection went away): free the slot on arrival.
    abandoned: bool,
}

pub struct Mesh {
    senders: RefCell<Vec<Option<Rc<ConnectedSender<Msg>>>>>,
    outboxes: Vec<RefCell<Outbox>>,
    pending: RefCell<Vec<PendingSlot>>,
    free: RefCell<Vec<u32>>,
    /// Messages sent (for INFO / tests of batching).
    pub messages_sent: Cell<u64>,
}

impl Mesh {
    pub fn new(n: usize) -> Mesh {
        Mesh {
            senders: RefCell::new((0..n).map(|_| None).collect()),
            outboxes: (0..n).map(|_| RefCell::new(Outbox::default())).collect(),
            pending: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
            messages_sent: Cell::new(0),
        }
    }

    pub fn set_sender(&self, peer: usize, tx: ConnectedSender<Msg>) {
        self.senders.borrow_mut()[peer] = Some(Rc::new(tx));
    }

    fn alloc_token(&self) -> u32 {
        let mut pending = self.pending.borrow_mut();
        let t = match self.free.borrow_mut().pop() {
            Some(t) => t,
            None => {
                pending.push(PendingSlot::default());
                (pending.len() - 1) as u32
            }
        };
        pending[t as usize].in_use = true;
        t
    }

    fn complete(&self, token: u32, result: AnyBox) {
        // Wake only after every borrow is released: glommio may run a woken or spawned task
        // right away, and that task borrows these cells again.
        let waker = {
            let mut pending = self.pending.borrow_mut();
            match pending.get_mut(token as usize) {
                Some(slot) if slot.abandoned => {
                    *slot = PendingSlot::default();
                    self.free.borrow_mut().push(token);
                    None
                }
                Some(slot) if slot.in_use => {
                    slot.result = Some(result);
                    slot.waker.take()
                }
                _ => None,
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn push_job(&self, shard: &Rc<Shard>, peer: usize, token: u32, job: Job) {
        let first = {
            let mut ob = self.outboxes[peer].borrow_mut();
            ob.jobs.push((token, job));
            !std::mem::replace(&mut ob.flush_scheduled, true)
        };
        if first {
            Self::schedule_flush(shard, peer);
        }
    }

    fn push_result(&self, shard: &Rc<Shard>, peer: usize, token: u32, result: AnyBox) {
        let first = {
            let mut ob = self.outboxes[peer].borrow_mut();
            ob.results.push((token, result));
            !std::mem::replace(&mut ob.flush_scheduled, true)
        };
        if first {
            Self::schedule_flush(shard, peer);
        }
    }

    fn schedule_flush(shard: &Rc<Shard>, peer: usize) {
        let shard = shard.clone();
        // Runs after the tasks that are already runnable in this iteration, so their jobs for
        // the same peer ride in the same message.
        glommio::spawn_local(async move {
            let msg = {
                let mut ob = shard.mesh.outboxes[peer].borrow_mut();
                ob.flush_scheduled = false;
                Msg {
                    jobs: std::mem::take(&mut ob.jobs),
                    results: std::mem::take(&mut ob.results),
                }
            };
            // At startup a peer's job can arrive before this shard's sender to that peer is
            // connected: wait for it rather than drop the message (its caller would hang).
            let mut tx = shard.mesh.senders.borrow()[peer].clone();
            while tx.is_none() {
                glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
                tx = shard.mesh.senders.borrow()[peer].clone();
            }
            if let Some(tx) = tx {
                shard
                    .mesh
                    .messages_sent
                    .set(shard.mesh.messages_sent.get() + 1);
                if tx.send(msg).await.is_err() {
                    tracing::debug!("shard {peer} channel closed");
                }
            }
        })
        .detach();
    }

    /// Runs `f` on shard `target` and returns its result. Local targets run inline.
    pub async fn run_on<R, F>(shard: &Rc<Shard>, target: usize, f: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(&Rc<Shard>) -> R + Send + 'static,
    {
        if target == shard.id {
            return f(shard);
        }
        Self::submit(
            shard,
            target,
            Box::new(move |sh, resp| {
                let r = f(sh);
                resp.send(sh, Box::new(r));
            }),
        )
        .await
    }

    /// Queues a raw job for `target` now and returns a future of the result it sends back
    /// (of type `R`). Queuing happens before the first poll, so several submits made before
    /// awaiting travel together.
    pub fn submit<R: 'static>(
        shard: &Rc<Shard>,
        target: usize,
        job: Job,
    ) -> impl Future<Output = R> + 'static {
        let token = shard.mesh.alloc_token();
        shard.mesh.push_job(shard, target, token, job);
        let pending = PendingResult {
            shard: shard.clone(),
            token,
            done: false,
        };
        async move {
            match pending.await.downcast::<R>() {
                Ok(r) => *r,
                // A job always answers with the type its submitter expects; anything else is a
                // bug in ringkv, not something a client can cause.
                Err(_) => panic!("shard job answered with an unexpected type"),
            }
        }
    }

    /// Like [`Mesh::run_on`] for work that may have to wait on the target (key locks): `f`
    /// builds a future there, which runs as a task of the target shard.
    pub async fn run_async_on<R, F, Fut>(shard: &Rc<Shard>, target: usize, f: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(Rc<Shard>) -> Fut + Send + 'static,
        Fut: Future<Output = R> + 'static,
    {
        if target == shard.id {
            return f(shard.clone()).await;
        }
        Self::submit(
            shard,
            target,
            Box::new(move |sh, resp| {
                let sh = sh.clone();
                glommio::spawn_local(async move {
                    let r = f(sh.clone()).await;
                    resp.send(&sh, Box::new(r));
                })
                .detach();
            }),
        )
        .await
    }

    /// Runs `f` on every shard (this one inline) and returns the results in shard order.
    pub async fn run_on_all<R, F>(shard: &Rc<Shard>, f: F) -> Vec<R>
    where
        R: Send + 'static,
        F: Fn(&Rc<Shard>) -> R + Send + Sync + Clone + 'static,
    {
        let mut futs = Vec::with_capacity(shard.nshards);
        for s in 0..shard.nshards {
            if s != shard.id {
                let f = f.clone();
                futs.push(Some(Self::submit::<R>(
                    shard,
                    s,
                    Box::new(move |sh, resp| {
                        let r = f(sh);
                        resp.send(sh, Box::new(r));
                    }),
                )));
            } else {
                futs.push(None);
            }
        }
        let mut out = Vec::with_capacity(shard.nshards);
        for (s, fut) in futs.into_iter().enumerate() {
            match fut {
                Some(fut) => out.push(fut.await),
                None => {
                    debug_assert_eq!(s, shard.id);
                    out.push(f(shard))
                }
            }
        }
        out
    }
}

struct PendingResult {
    shard: Rc<Shard>,
    token: u32,
    done: bool,
}

impl Drop for PendingResult {
    fn drop(&mut self) {
        if !self.done {
            let mut pending = self.shard.mesh.pending.borrow_mut();
            let slot = &mut pending[self.token as usize];
            if slot.result.take().is_some() {
                *slot = PendingSlot::default();
                self.shard.mesh.free.borrow_mut().push(self.token);
            } else {
                slot.abandoned = true;
                slot.waker = None;
            }
        }
    }
}

impl Future for PendingResult {
    type Output = AnyBox;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<AnyBox> {
        let token = self.token;
        let shard = self.shard.clone();
        let mesh = &shard.mesh;
        let mut pending = mesh.pending.borrow_mut();
        let slot = &mut pending[token as usize];
        if let Some(r) = slot.result.take() {
            *slot = PendingSlot::default();
            mesh.free.borrow_mut().push(token);
            self.done = true;
            Poll::Ready(r)
        } else {
            slot.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Receives everything peer shards send to this one. One task per peer.
pub async fn receive_loop(shard: Rc<Shard>, peer: usize, rx: ConnectedReceiver<Msg>) {
    while let Some(msg) = rx.recv().await {
        for (token, job) in msg.jobs {
            job(&shard, Responder { peer, token });
        }
        for (token, result) in msg.results {
            shard.mesh.complete(token, result);
        }
    }
}
