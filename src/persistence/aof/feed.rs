//! The startup AOF loader's [`Sink`]: the RDB part goes into `Shared::preload` (the shards swap
//! it in, as for an RDB file); the commands then run on the live shards through the execution
//! kernel, as the AOF client ([`crate::commands::apply::StreamClient`] with `Origin::Aof`, on
//! shard 0; keys of other shards hop there like any client's). The loader thread hands the
//! batches over a bounded channel that shard 0 drains (`loading::install_when_loaded`).

use super::loader::Sink;
use crate::keyspace::{Db, Entry};
use crate::persistence::loading::Replay;
use crate::shard::{shard_of, Shared};
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;

/// Batches on their way to shard 0 at most (the loader reads ahead this far).
const IN_FLIGHT: usize = 8;

pub struct KernelFeed {
    shared: Arc<Shared>,
    /// The RDB part, per shard, until the first command.
    shards: Vec<Vec<Db>>,
    tx: Option<SyncSender<Replay>>,
    /// Shard 0 stopped taking batches (shutting down): the rest is dropped.
    gone: bool,
}

impl KernelFeed {
    pub fn new(shared: Arc<Shared>, ndbs: usize) -> KernelFeed {
        let n = shared.nshards.max(1);
        KernelFeed {
            shared,
            shards: (0..n)
                .map(|_| (0..ndbs).map(|_| Db::new()).collect())
                .collect(),
            tx: None,
            gone: false,
        }
    }

    /// Publishes the RDB part to the shards and opens the command channel (at the first
    /// command; shard 0 runs commands once every shard swapped its part in).
    fn start(&mut self) -> Option<&SyncSender<Replay>> {
        if self.tx.is_none() && !self.gone {
            let shared = self.shared.clone();
            let loading = &shared.persistence.loading;
            if !loading.active() {
                // Only a load that runs while the shards serve can replay commands.
                tracing::warn!("AOF commands to replay but no shard is running");
                self.gone = true;
                return None;
            }
            let (tx, rx) = sync_channel(IN_FLIGHT);
            loading.set_replay(rx);
            self.publish_preload();
            loading.publish();
            self.tx = Some(tx);
        }
        self.tx.as_ref()
    }

    fn publish_preload(&mut self) {
        let shards = std::mem::take(&mut self.shards);
        *self
            .shared
            .preload
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = shards.into_iter().map(Some).collect();
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
        if let Some(tx) = self.start() {
            if tx.send(Replay::Run(batch)).is_err() {
                self.gone = true;
            }
        }
    }

    fn sync(&mut self, discard_multi: bool) {
        let Some(tx) = &self.tx else { return };
        let (done, wait) = std::sync::mpsc::channel();
        if tx
            .send(Replay::Sync {
                discard_multi,
                done,
            })
            .is_err()
            || wait.recv().is_err()
        {
            self.gone = true;
        }
    }
}

impl Drop for KernelFeed {
    /// No command came: the RDB part (if any) is the dataset, published as an RDB load's.
    /// Else closing the channel ends shard 0's replay.
    fn drop(&mut self) {
        if self.tx.is_none() && !self.shards.is_empty() {
            self.publish_preload();
        }
    }
}
