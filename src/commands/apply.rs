//! A socket-less session: runs a stream of commands (the AOF being loaded, a replica's master
//! stream) through exactly the path client commands take ([`DataEngine`]: table lookup, arity,
//! routing inline / hop / multi-shard, MULTI/EXEC with its cross-shard atomicity, effects
//! recording, keyspace events, blocking-key wakeups), as a client without a socket.
//!
//! The client's `origin` makes the dispatcher treat it as Redis treats its fake AOF client and
//! its master client: no AUTH check, no -LOADING, no -OOM (and no eviction of its own), no
//! CLIENT PAUSE, no -MISCONF, and blocking commands answer at once. Replies are dropped; a
//! command that fails is not fatal (Redis ignores the error replies of both).

use super::dispatch::DataEngine;
use crate::net::client::ClientHandle;
use crate::net::session::{conn_config, Conn, ReplyMode};
use crate::net::Engine;
use crate::resp::{Proto, ReplyBuf};
use crate::shard::Shard;
use bytes::Bytes;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::Ordering;

pub use crate::shard::origin::Origin;

/// The client id of the AOF loading session (Redis's CLIENT_ID_AOF).
pub const AOF_CLIENT_ID: u64 = u64::MAX;

pub struct StreamClient {
    conn: Conn,
}

impl StreamClient {
    /// A session on `shard` (the executor it runs on) speaking for `origin`. The AOF session
    /// has Redis's AOF client id; a master session takes the next client id.
    pub fn new(shard: Rc<Shard>, origin: Origin) -> StreamClient {
        let id = match origin {
            Origin::Aof => AOF_CLIENT_ID,
            Origin::Master => shard.shared.next_client_id.fetch_add(1, Ordering::Relaxed),
        };
        let handle = Rc::new(ClientHandle::new(
            id,
            String::new(),
            String::new(),
            -1,
            false,
        ));
        StreamClient::with_handle(shard, origin, handle)
    }

    /// A session with a handle of the caller's (e.g. a master client with its peer address,
    /// registered where CLIENT LIST sees it).
    pub fn with_handle(shard: Rc<Shard>, origin: Origin, handle: Rc<ClientHandle>) -> StreamClient {
        let epoch = shard.shared.config_epoch.load(Ordering::Acquire);
        let cfg = conn_config(&shard, epoch);
        StreamClient {
            conn: Conn {
                shard,
                handle,
                out: ReplyBuf::new(Proto::Resp2),
                db: 0,
                authenticated: true,
                reply_mode: ReplyMode::On,
                close_after_reply: false,
                cfg,
                shutdown_requested: false,
                monitor: None,
                multi: None,
                watched: Vec::new(),
                pubsub: None,
                origin: Some(origin),
                kept_pushes: None,
                replconf: Default::default(),
                block_unit: None,
            },
        }
    }

    /// Runs every command of `queue` in order, as the client of `origin`; replies are
    /// discarded. Returns when all have executed (effects recorded, data changed).
    pub async fn run(&mut self, queue: &mut VecDeque<Vec<Bytes>>) {
        let conn = &mut self.conn;
        conn.refresh_config();
        while !queue.is_empty() {
            // QUIT, CLIENT KILL or CLIENT REPLY in the stream must not stop or mute it.
            conn.close_after_reply = false;
            conn.handle.killed.set(false);
            conn.reply_mode = ReplyMode::On;
            DataEngine.run(conn, queue).await;
            conn.out.buf.clear();
        }
    }

    pub fn origin(&self) -> Origin {
        self.conn.origin.unwrap_or(Origin::Aof)
    }

    pub fn db(&self) -> usize {
        self.conn.db
    }

    /// Selects `db` (as SELECT would); an index past `databases` is ignored.
    pub fn set_db(&mut self, db: usize) {
        self.conn.refresh_config();
        debug_assert!(db < self.conn.cfg.databases, "db {db} out of range");
        if db < self.conn.cfg.databases {
            self.conn.db = db;
            self.conn.handle.info.borrow_mut().db = db;
        }
    }

    /// Whether a MULTI of the stream is open (its commands queued, EXEC not seen yet).
    pub fn in_multi(&self) -> bool {
        self.conn.multi.is_some()
    }

    /// Drops an open MULTI (what DISCARD does): the queued commands never run.
    pub fn discard_multi(&mut self) {
        if self.conn.multi.is_some() {
            super::transaction::reset(&mut self.conn);
        }
    }

    pub fn handle(&self) -> &Rc<ClientHandle> {
        &self.conn.handle
    }

    /// The session's connection state, for the callers that need more than the above.
    pub fn conn_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}
