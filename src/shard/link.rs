//! The replica side's process-wide state, pure data: which master to follow, the state of the
//! link to it (INFO replication / ROLE read it), and the gates the dispatcher applies to normal
//! clients of a replica (READONLY, MASTERDOWN). The link task (`replication::replica`) writes
//! it; no I/O here.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;

pub use super::repl::LinkState;

fn state_from_u8(v: u8) -> LinkState {
    match v {
        1 => LinkState::Connecting,
        2 => LinkState::Handshake,
        3 => LinkState::Sync,
        4 => LinkState::Connected,
        _ => LinkState::Connect,
    }
}

fn state_to_u8(s: LinkState) -> u8 {
    match s {
        LinkState::Connect => 0,
        LinkState::Connecting => 1,
        LinkState::Handshake => 2,
        LinkState::Sync => 3,
        LinkState::Connected => 4,
    }
}

/// The link to this server's master.
#[derive(Default)]
pub struct MasterLink {
    /// `Some((host, port))` while this server is a replica.
    master: Mutex<Option<(String, u16)>>,
    /// Moves on every REPLICAOF that changes the master: the link task starts over.
    pub generation: AtomicU64,
    state: AtomicU8,
    /// Unix ms of the last byte received from the master.
    pub last_io: AtomicI64,
    /// Full sync: payload size (-1 unknown, 0 for an EOF-marked payload) and bytes read.
    pub sync_total_bytes: AtomicI64,
    pub sync_read_bytes: AtomicI64,
    /// Unix ms of the last I/O of the full sync transfer.
    pub sync_last_io: AtomicI64,
    /// Unix ms since when the link is down; 0 when it was never up.
    pub down_since: AtomicI64,
    /// Stream bytes read from the master / applied (outside MULTI); offsets of the master's
    /// stream (`slave_read_repl_offset`, `slave_repl_offset`). -1: no master client.
    pub read_reploff: AtomicI64,
    pub reploff: AtomicI64,
    /// Whether a (cached) master exists, i.e. the offsets above mean something.
    pub has_master_client: AtomicBool,
    /// Set while this server is a replica: the dispatcher then applies the READONLY and
    /// MASTERDOWN gates to normal clients (one relaxed load on the hot path otherwise).
    pub gate: AtomicBool,
    /// Set by `CLIENT KILL TYPE master` or REPLICAOF: the link task drops the connection.
    pub drop_link: AtomicBool,
    /// Set while the link applies a batch of stream commands. A snapshot cut taken then cannot
    /// name the offset its data holds, so that snapshot carries no replication AUX fields.
    pub applying: AtomicBool,
    /// Set by a shutdown about to save: the link starts no new batch, so the final save can
    /// name its offset and the restarted replica continues with a partial resync.
    pub hold: AtomicBool,
    /// The db the master client selected as of `reploff` (`repl-stream-db`).
    pub stream_db: AtomicUsize,
    /// `(repl-stream-db, repl-id, repl-offset)` read from the RDB loaded at startup: a
    /// restarted replica's cached master (taken by the link task).
    pub restored: Mutex<Option<(usize, String, i64)>>,
}

impl MasterLink {
    pub fn master(&self) -> Option<(String, u16)> {
        self.master
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn is_replica(&self) -> bool {
        self.master
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Sets (or clears) the master; the link task notices through `generation`.
    pub fn set_master(&self, m: Option<(String, u16)>) {
        self.gate.store(m.is_some(), Ordering::Release);
        crate::keyspace::expiry::set_replica(m.is_some());
        *self.master.lock().unwrap_or_else(|p| p.into_inner()) = m;
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The replication AUX fields for a snapshot cut taken now, as Redis's
    /// rdbPopulateSaveInfo gives them on a replica: the master's id, the applied offset and
    /// the stream's db. None when the data at the cut does not match one offset (no master
    /// client, a batch half applied, a full sync in progress). Called inside the cut, where
    /// the link's shard is stopped, so the fields read together.
    pub fn save_info(&self, replid: String) -> Option<(usize, String, i64)> {
        if !self.is_replica()
            || self.state() == LinkState::Sync
            || !self.has_master_client.load(Ordering::SeqCst)
            || self.applying.load(Ordering::SeqCst)
        {
            return None;
        }
        let offset = self.reploff.load(Ordering::SeqCst);
        (offset >= 0 && replid.len() == 40)
            .then(|| (self.stream_db.load(Ordering::SeqCst), replid, offset))
    }

    pub fn state(&self) -> LinkState {
        state_from_u8(self.state.load(Ordering::Acquire))
    }

    pub fn set_state(&self, s: LinkState) {
        self.state.store(state_to_u8(s), Ordering::Release);
    }
}
