//! Per-connection state that commands read and change (SELECT, HELLO, AUTH, CLIENT ...).

use super::client::ClientHandle;
use crate::resp::{Proto, ReplyBuf};
use crate::shard::Shard;
use std::rc::Rc;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// Skipping the reply of the current command.
    Skip,
}

/// Limits and settings a connection caches from the config (refreshed when the config epoch
/// moves), so the hot path never takes the config lock.
#[derive(Clone)]
pub struct ConnConfig {
    pub epoch: u64,
    pub requirepass: Option<Vec<u8>>,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub databases: usize,
    pub timeout: u64,
    /// `replica-read-only` and `replica-serve-stale-data` (gates of a replica).
    pub replica_read_only: bool,
    pub replica_serve_stale: bool,
}

pub struct Conn {
    pub shard: Rc<Shard>,
    pub handle: Rc<ClientHandle>,
    pub out: ReplyBuf,
    pub db: usize,
    pub authenticated: bool,
    pub reply_mode: ReplyMode,
    /// Close once the pending replies are written (QUIT, protocol errors, CLIENT KILL).
    pub close_after_reply: bool,
    pub cfg: ConnConfig,
    /// Set when a command asked the server to shut down.
    pub shutdown_requested: bool,
    /// Set by MONITOR: the lines this connection streams.
    pub monitor: Option<std::sync::Arc<crate::shard::MonitorSink>>,
    /// Set by MULTI: the queued commands of the open transaction.
    pub multi: Option<crate::commands::transaction::MultiState>,
    /// Keys WATCHed, with the versions they had then.
    pub watched: Vec<crate::commands::transaction::Watched>,
    /// Set by the first (P|S)SUBSCRIBE: this connection's subscriptions and message mailbox.
    pub pubsub: Option<std::rc::Rc<super::pubsub::Subscriber>>,
    /// Set for a socket-less session (the AOF loader, a replica's master stream): the
    /// dispatcher's client gates (AUTH, -LOADING, OOM, CLIENT PAUSE, MISCONF) do not apply.
    /// None for socket clients.
    pub origin: Option<crate::shard::origin::Origin>,
}

impl Conn {
    pub fn id(&self) -> u64 {
        self.handle.id
    }

    pub fn proto(&self) -> Proto {
        self.out.proto
    }

    /// Writes an error reply and counts it (INFO errorstats).
    pub fn error(&mut self, e: &str) {
        crate::commands::count_error(&mut self.shard.data.borrow_mut().stats, e);
        self.out.error(e);
    }

    pub fn refresh_config(&mut self) {
        let epoch = self
            .shard
            .shared
            .config_epoch
            .load(std::sync::atomic::Ordering::Acquire);
        if epoch != self.cfg.epoch {
            self.cfg = conn_config(&self.shard, epoch);
        }
    }
}

pub fn conn_config(shard: &Shard, epoch: u64) -> ConnConfig {
    let c = shard.shared.config();
    ConnConfig {
        epoch,
        requirepass: c.requirepass.clone(),
        proto_max_bulk_len: c.proto_max_bulk_len,
        client_query_buffer_limit: c.client_query_buffer_limit,
        databases: c.databases,
        timeout: c.timeout,
        replica_read_only: c.get_one("replica-read-only").as_deref() != Some("no"),
        replica_serve_stale: c.get_one("replica-serve-stale-data").as_deref() != Some("no"),
    }
}
