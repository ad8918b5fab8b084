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
    /// `min-replicas-to-write` / `min-replicas-max-lag`, when both are set.
    pub min_replicas: Option<(i64, i64)>,
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
    /// While a command's replies are silenced (CLIENT REPLY OFF/SKIP): the push frames it
    /// wrote (subscribe confirmations), which Redis delivers anyway (`CLIENT_PUSHING`).
    pub kept_pushes: Option<Vec<u8>>,
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
    /// What REPLCONF set (listening port, capabilities; replica connections).
    pub replconf: crate::shard::repl::ReplConf,
    /// While an EXEC block that spans shards runs: the effects of its commands so far. The
    /// block awaits other shards between its commands and other clients run meanwhile, so its
    /// unit is gathered here, on the connection, rather than in the shard's open unit (which
    /// would take in their effects too).
    pub block_unit: Option<Vec<crate::shard::journal::Op>>,
}

impl Conn {
    pub fn id(&self) -> u64 {
        self.handle.id
    }

    /// The `client-output-buffer-limit` class this connection is in now (Redis's
    /// getClientType: a subscribed client is pubsub; MONITOR counts as normal).
    pub fn obuf_class(&self) -> super::obuf::Class {
        match &self.pubsub {
            Some(s) if s.active() => super::obuf::Class::Pubsub,
            _ => super::obuf::Class::Normal,
        }
    }

    /// Checks the replies held (`pending` bytes not taken by the kernel yet) against the
    /// output buffer limits; past them, drops the replies and closes the connection, as Redis
    /// does. True when it was closed.
    pub fn over_output_limit(&mut self, pending: usize) -> bool {
        // A reply cut short at the hard limit (ReplyBuf::stop) closes the client whatever
        // its class: the truncated reply must never reach it.
        if !self.out.closing {
            let class = self.obuf_class();
            if !super::obuf::limited(class) {
                return false;
            }
            let now = super::obuf::now_secs();
            if !super::obuf::over_limit(class, pending as u64, now, &self.handle.obuf_soft_since) {
                return false;
            }
        }
        self.handle.info.borrow_mut().omem = pending;
        super::obuf::close(&self.handle);
        self.out.buf.clear();
        self.close_after_reply = true;
        true
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
        min_replicas: crate::replication::report::min_replicas(&c),
        replica_read_only: c.get_one("replica-read-only").as_deref() != Some("no"),
        replica_serve_stale: c.get_one("replica-serve-stale-data").as_deref() != Some("no"),
    }
}
