//! The startup AOF loader's [`Sink`]: the RDB part goes into `Shared::preload` (the shards swap
//! it in, as for an RDB file); the commands then run on the live shards through the execution
//! kernel, as the AOF client ([`crate::commands::apply::StreamClient`] with `Origin::Aof`).
//!
//! Every shard runs such a client (`loading::install_when_loaded`), fed over a bounded channel.
//! A keyed command whose keys all live on one shard goes to that shard's client, so it runs
//! inline there (no hop per command); the order that matters (per key) is kept, since one
//! shard's commands run in file order. Anything else (MULTI blocks, commands spanning shards,
//! whole-server commands) is a barrier: the other shards finish what they were given, then
//! shard 0's client runs it through the usual routing (hop, multi-shard unit), and shard 0
//! finishes it before the other shards get more. The feed tracks SELECT so each batch carries
//! its db; after a barrier it takes the db shard 0's client was left in (a SELECT inside
//! MULTI).

use super::loader::Sink;
use crate::commands::dispatch::resolve;
use crate::commands::spec::BLOCKING;
use crate::commands::Handler;
use crate::keyspace::{Db, Entry};
use crate::persistence::loading::Replay;
use crate::shard::{shard_of, Shared};
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;

/// Batches on their way to a shard at most (the loader reads ahead this far).
const IN_FLIGHT: usize = 8;
/// Commands sent to a shard at once.
const BATCH: usize = 512;

pub struct KernelFeed {
    shared: Arc<Shared>,
    ndbs: usize,
    /// The RDB part, per shard, until the first command.
    shards: Vec<Vec<Db>>,
    txs: Vec<SyncSender<Replay>>,
    /// Commands not sent yet, per shard.
    bufs: Vec<VecDeque<Vec<Bytes>>>,
    /// The db the next spread commands run in.
    db: usize,
    /// Everything goes to shard 0 (after a barrier, until a command for another shard).
    zero: bool,
    /// Inside a MULTI block (all of it goes to shard 0).
    multi: bool,
    /// No shard takes batches any more (shutting down): the rest is dropped.
    gone: bool,
    started: bool,
}

impl KernelFeed {
    pub fn new(shared: Arc<Shared>, ndbs: usize) -> KernelFeed {
        let n = shared.nshards.max(1);
        KernelFeed {
            shared,
            ndbs,
            shards: (0..n)
                .map(|_| (0..ndbs).map(|_| Db::new()).collect())
                .collect(),
            txs: Vec::new(),
            bufs: (0..n).map(|_| VecDeque::new()).collect(),
            db: 0,
            zero: false,
            multi: false,
            gone: false,
            started: false,
        }
    }

    /// Publishes the RDB part to the shards and opens the command channels (at the first
    /// command; the shards run commands once every shard swapped its part in).
    fn start(&mut self) -> bool {
        if !self.started && !self.gone {
            self.started = true;
            let shared = self.shared.clone();
            let loading = &shared.persistence.loading;
            if !loading.active() {
                // Only a load that runs while the shards serve can replay commands.
                tracing::warn!("AOF commands to replay but no shard is running");
                self.gone = true;
                return false;
            }
            let mut rxs = Vec::new();
            for _ in 0..self.bufs.len() {
                let (tx, rx) = sync_channel(IN_FLIGHT);
                self.txs.push(tx);
                rxs.push(Some(rx));
            }
            loading.set_replay(rxs);
            self.publish_preload();
            loading.publish();
        }
        !self.gone
    }

    fn publish_preload(&mut self) {
        let shards = std::mem::take(&mut self.shards);
        *self
            .shared
            .preload
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = shards.into_iter().map(Some).collect();
    }

    /// Sends shard `s` its buffered commands (`force`: even none, to set its db).
    fn flush(&mut self, s: usize, force: bool) {
        if self.gone || (self.bufs[s].is_empty() && !force) {
            return;
        }
        let batch = std::mem::take(&mut self.bufs[s]);
        let db = (!self.zero || force).then_some(self.db);
        if self.txs[s].send(Replay::Run { db, batch }).is_err() {
            self.gone = true;
        }
    }

    /// Waits until shard `s` ran everything it was sent; returns its client's db.
    fn wait(&mut self, s: usize, discard_multi: bool) -> Option<usize> {
        if self.gone {
            return None;
        }
        let (done, answer) = std::sync::mpsc::channel();
        if self.txs[s]
            .send(Replay::Sync {
                discard_multi,
                done,
            })
            .is_err()
        {
            self.gone = true;
            return None;
        }
        let db = answer.recv().ok();
        self.gone |= db.is_none();
        db
    }

    /// The shard a command runs on by itself: a keyed, non-blocking command whose keys all
    /// live on one shard.
    fn home(&self, argv: &[Bytes]) -> Option<usize> {
        let spec = resolve(argv).ok()?;
        if !matches!(spec.handler, Handler::Keyed(_)) || spec.flags & BLOCKING != 0 {
            return None;
        }
        let mut pos = Vec::new();
        spec.key_positions(argv, &mut pos);
        let n = self.bufs.len();
        let mut home = None;
        for i in pos {
            let s = shard_of(&argv[i], n);
            match home {
                None => home = Some(s),
                Some(h) if h != s => return None,
                _ => {}
            }
        }
        home
    }

    /// A valid `SELECT <db>`'s index.
    fn select(&self, argv: &[Bytes]) -> Option<usize> {
        if argv.len() != 2 || !argv[0].eq_ignore_ascii_case(b"select") {
            return None;
        }
        let i = crate::commands::parse_i64(&argv[1])?;
        (i >= 0 && (i as usize) < self.ndbs).then_some(i as usize)
    }

    fn push(&mut self, argv: Vec<Bytes>) {
        let n = self.bufs.len();
        if !self.multi {
            if !self.zero {
                if let Some(db) = self.select(&argv) {
                    if db != self.db {
                        for s in 0..n {
                            self.flush(s, false);
                        }
                        self.db = db;
                    }
                    return;
                }
            }
            if let Some(s) = self.home(&argv) {
                if self.zero && s != 0 {
                    // Leave the barrier: shard 0 finishes it first.
                    self.flush(0, false);
                    if let Some(db) = self.wait(0, false) {
                        self.db = db;
                    }
                    self.zero = false;
                }
                self.bufs[s].push_back(argv);
                if self.bufs[s].len() >= BATCH {
                    self.flush(s, false);
                }
                return;
            }
        }
        if !self.zero {
            // Enter a barrier: the other shards finish what they have.
            for s in 1..n {
                self.flush(s, false);
                self.wait(s, false);
            }
            self.flush(0, true);
            self.zero = true;
        }
        if argv[0].eq_ignore_ascii_case(b"multi") {
            self.multi = true;
        } else if argv[0].eq_ignore_ascii_case(b"exec") || argv[0].eq_ignore_ascii_case(b"discard")
        {
            self.multi = false;
        }
        self.bufs[0].push_back(argv);
        if self.bufs[0].len() >= BATCH {
            self.flush(0, false);
        }
    }
}

impl Sink for KernelFeed {
    fn put(&mut self, db: usize, key: &[u8], e: Entry) {
        let n = self.shards.len();
        if let Some(d) = self
            .shards
            .get_mut(shard_of(key, n))
            .and_then(|s| s.get_mut(db))
        {
            d.put_entry(key, e);
        }
    }

    fn run(&mut self, batch: VecDeque<Vec<Bytes>>) {
        if !self.start() {
            return;
        }
        for argv in batch {
            self.push(argv);
        }
    }

    fn sync(&mut self, discard_multi: bool) {
        if !self.started {
            return;
        }
        for s in 0..self.bufs.len() {
            self.flush(s, false);
        }
        for s in 0..self.bufs.len() {
            let db = self.wait(s, discard_multi && s == 0);
            if s == 0 && self.zero {
                if let Some(db) = db {
                    self.db = db;
                }
            }
        }
        if discard_multi {
            self.multi = false;
        }
    }
}

impl Drop for KernelFeed {
    /// No command came: the RDB part (if any) is the dataset, published as an RDB load's.
    /// Else closing the channels ends the shards' replay.
    fn drop(&mut self) {
        if !self.started && !self.shards.is_empty() {
            self.publish_preload();
        }
    }
}
