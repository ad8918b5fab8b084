//! The socket-less session: runs a stream of commands (the AOF being loaded, the replication
//! stream from a master) through exactly the path client commands take
//! ([`DataEngine`](super::dispatch::DataEngine)), as a client that has no socket. Replies are
//! dropped.

use super::dispatch::DataEngine;
use crate::net::client::ClientHandle;
use crate::net::session::{conn_config, ReplyMode};
use crate::net::{Conn, Engine};
use crate::resp::{Proto, ReplyBuf};
use crate::shard::Shard;
use bytes::Bytes;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::Ordering;

pub use crate::net::session::Origin;

/// A client without a socket that speaks for `origin`.
pub struct StreamClient {
    conn: Conn,
}

impl StreamClient {
    pub fn new(shard: Rc<Shard>, origin: Origin) -> StreamClient {
        let id = shard.shared.next_client_id.fetch_add(1, Ordering::Relaxed);
        let name = match origin {
            Origin::Aof => "aof",
            Origin::Master => "master",
        };
        let handle = Rc::new(ClientHandle::new(id, name.into(), String::new(), -1, false));
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
            },
        }
    }

    /// Runs every command of `queue` in order, as the client of `origin`; replies are
    /// discarded. Returns when all have executed.
    pub async fn run(&mut self, queue: &mut VecDeque<Vec<Bytes>>) {
        self.conn.refresh_config();
        // Nothing from the stream may close or silence this session.
        self.conn.close_after_reply = false;
        self.conn.reply_mode = ReplyMode::On;
        DataEngine.run(&mut self.conn, queue).await;
        self.conn.out.buf.clear();
    }

    pub fn db(&self) -> usize {
        self.conn.db
    }

    pub fn set_db(&mut self, db: usize) {
        self.conn.db = db;
    }

    pub fn in_multi(&self) -> bool {
        self.conn.multi.is_some()
    }

    /// Drops an open transaction (the link to the master broke in the middle of one).
    pub fn discard_multi(&mut self) {
        self.conn.multi = None;
        self.conn.watched.clear();
    }
}
