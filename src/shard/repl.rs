//! Process-wide replication state (ha-spec A1, A7, A12): the replication ids and offsets, the
//! backlog, the role and, on a replica, what its link to the master looks like. Pure data, no
//! I/O: the master side (`replication::master`) and the replica side (`replication::replica`)
//! both read and write it through `shared.repl`, and INFO / ROLE read it.
//!
//! Offsets count every byte of the replication stream. `master_repl_offset` is the offset of the
//! last byte produced (master) or fed verbatim from the master (replica); the backlog holds the
//! bytes `first_byte_offset ..= master_repl_offset`. Replica connections read the stream out of
//! the backlog at their own position and hold a *pin* there: the backlog never drops a byte a
//! pinned reader has not read yet, so it may hold more than `repl-backlog-size` (as Redis 7.0's
//! shared replication buffer does; INFO's histlen then exceeds the size). The readers' own
//! output limits bound that (see `replication::master`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::Waker;

/// 40 random hex characters (a replication id).
pub fn random_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..40)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// The smallest backlog (`CONFIG_REPL_BACKLOG_MIN_SIZE`).
pub const MIN_BACKLOG: usize = 16 * 1024;

/// Set in the epoch of a journal cut taken for a full sync (AOF rewrite epochs never have it).
pub const CUT_EPOCH_BIT: u64 = 1 << 62;

/// Sequence-to-offset marks kept for WAIT (clients waiting on older points wait a bit longer).
const SEQ_MARKS: usize = 4096;

/// The replid2 of a server with no previous history.
pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

/// The ring of the last stream bytes.
pub struct Backlog {
    buf: VecDeque<u8>,
    /// `repl-backlog-size`: the bytes kept when no reader pins older ones.
    size: usize,
    /// Offset of `buf[0]` (Redis's `repl_backlog->offset`).
    first: i64,
}

impl Backlog {
    /// An empty backlog whose first byte will be `next_offset`.
    fn new(size: usize, next_offset: i64) -> Backlog {
        Backlog {
            buf: VecDeque::new(),
            size: size.max(1),
            first: next_offset,
        }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn histlen(&self) -> usize {
        self.buf.len()
    }

    /// Offset of the first byte held (`repl_backlog_first_byte_offset`).
    pub fn first_byte_offset(&self) -> i64 {
        self.first
    }

    /// Drops the oldest bytes beyond `size`, never past `keep_from` (the lowest pinned offset).
    fn trim(&mut self, keep_from: Option<i64>) {
        if self.buf.len() <= self.size {
            return;
        }
        let mut drop = self.buf.len() - self.size;
        if let Some(k) = keep_from {
            let allowed = (k - self.first).max(0) as usize;
            drop = drop.min(allowed);
        }
        if drop > 0 {
            self.buf.drain(..drop);
            self.first += drop as i64;
        }
    }

    /// Bytes from offset `from` on, at most `max` (None when `from` is no longer held or lies
    /// beyond the end + 1).
    fn bytes_from(&self, from: i64, max: usize) -> Option<Vec<u8>> {
        let end = self.first + self.buf.len() as i64;
        if from < self.first || from > end {
            return None;
        }
        let start = (from - self.first) as usize;
        let stop = (start + max).min(self.buf.len());
        let (a, b) = self.buf.as_slices();
        let mut out = Vec::with_capacity(stop - start);
        if start < a.len() {
            out.extend_from_slice(&a[start..stop.min(a.len())]);
        }
        if stop > a.len() {
            out.extend_from_slice(&b[start.saturating_sub(a.len())..stop - a.len()]);
        }
        Some(out)
    }
}

/// What this server is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Master,
    Replica { host: String, port: u16 },
}

/// The replica's link to its master (`repl_state` reduced to what INFO and ROLE show).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    Connect,
    Connecting,
    Handshake,
    Sync,
    Connected,
}

impl LinkState {
    /// The name ROLE gives the state.
    pub fn role_name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// The replica side's view of its link, filled by `replication::replica`, read by INFO / ROLE.
#[derive(Clone, Debug)]
pub struct LinkInfo {
    pub state: LinkState,
    /// Whether a master client (or a cached one) exists: INFO prints offsets of 1 / ROLE -1
    /// otherwise.
    pub has_master: bool,
    /// Unix ms of the last byte read from the master.
    pub last_io: i64,
    /// The payload size (-1 unknown, 0 for an EOF-marked transfer) and the bytes read of it.
    pub sync_total_bytes: i64,
    pub sync_read_bytes: i64,
    /// Unix ms of the last payload read.
    pub sync_last_io: i64,
    /// Unix ms the link went down (0: never connected).
    pub down_since: i64,
    /// Offset read from the master socket, and applied.
    pub read_reploff: i64,
    pub reploff: i64,
}

impl Default for LinkInfo {
    fn default() -> LinkInfo {
        LinkInfo {
            state: LinkState::Connect,
            has_master: false,
            last_io: 0,
            sync_total_bytes: -1,
            sync_read_bytes: 0,
            sync_last_io: 0,
            down_since: 0,
            read_reploff: 0,
            reploff: 0,
        }
    }
}

/// A replica attached to this server (a client that sent SYNC / PSYNC), as INFO and ROLE show
/// it. The connection serving it owns the rest of its state.
#[derive(Clone, Debug)]
pub struct ReplicaInfo {
    /// The client id of its connection.
    pub id: u64,
    /// `REPLCONF ip-address`, else the peer's address.
    pub ip: String,
    /// `REPLCONF listening-port` (0 when never sent).
    pub port: u16,
    pub state: ReplicaState,
    /// Last `REPLCONF ACK` offset.
    pub ack_off: i64,
    /// Unix ms of the last ACK (or `\n`).
    pub ack_time: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaState {
    /// Waiting for, or during, the snapshot.
    WaitBgsave,
    /// The payload is being sent.
    SendBulk,
    Online,
}

impl ReplicaState {
    pub fn info_name(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsave => "wait_bgsave",
            ReplicaState::SendBulk => "send_bulk",
            ReplicaState::Online => "online",
        }
    }
}

/// What a connection told us with REPLCONF (kept on the connection; it becomes a
/// [`ReplicaInfo`] when the connection sends SYNC / PSYNC).
#[derive(Clone, Debug, Default)]
pub struct ReplConf {
    /// `listening-port` (0 when never sent).
    pub listening_port: u16,
    /// `ip-address`.
    pub ip_address: Option<String>,
    /// `capa eof` and `capa psync2`.
    pub capa_eof: bool,
    pub capa_psync2: bool,
    /// `rdb-only 1`: the payload only, no stream (redis-cli --rdb).
    pub rdb_only: bool,
    /// `rdb-filter-only functions` (no keys in the payload).
    pub rdb_filter_functions: bool,
    /// This connection is a replica (after SYNC / PSYNC): ACKs are taken.
    pub is_replica: bool,
    /// Set by SYNC / PSYNC: how the feed starts (the connection then serves the replica).
    pub start: Option<FeedStart>,
    /// The journal's sequence counter after this client's last command: WAIT waits for the
    /// stream offset that corresponds to it (Redis's `c->woff`, see `commands::wait`).
    pub woff_seq: u64,
    /// EXEC is running this client's block: WAIT answers at once (Redis's CLIENT_MULTI).
    pub in_exec: bool,
}

/// How a replica's feed starts.
#[derive(Clone, Copy, Debug)]
pub enum FeedStart {
    /// `+CONTINUE`: the backlog from this offset.
    Continue { from: i64 },
    /// A full sync; `psync` false for the old SYNC (no `+FULLRESYNC` line).
    Full { psync: bool },
}

/// Ids, offsets and backlog, changed together under one lock.
pub struct Ids {
    pub replid: String,
    pub replid2: String,
    pub second_replid_offset: i64,
    pub master_repl_offset: i64,
    pub backlog: Option<Backlog>,
    /// Reader pins: reader id → the next offset it will read.
    pins: BTreeMap<u64, i64>,
}

impl Ids {
    fn keep_from(&self) -> Option<i64> {
        self.pins.values().copied().min()
    }
}

/// `shared.repl`.
pub struct Repl {
    ids: Mutex<Ids>,
    role: Mutex<Role>,
    link: Mutex<LinkInfo>,
    /// Attached replicas (INFO slaveN, ROLE, WAIT, min-replicas).
    replicas: Mutex<Vec<ReplicaInfo>>,
    /// Tasks waiting for stream bytes (replica feeds) or ACKs (WAIT).
    waiters: Mutex<Vec<Waker>>,
    /// The next unit of the stream must select its db again (full sync started, promotion).
    force_select: AtomicBool,
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    /// Full-sync cuts: (cut id, the stream offset at the cut), recorded by the stream tap.
    cuts: Mutex<Vec<(u64, i64)>>,
    next_cut: AtomicU64,
    /// WAIT asked for `REPLCONF GETACK *` in the stream.
    pub getack_wanted: AtomicBool,
    /// (journal sequence number, stream offset) after each batch the stream tap fed: every
    /// unit numbered below the first had reached the stream at the second (oldest first).
    seq_marks: Mutex<VecDeque<(u64, i64)>>,
    // --- replica side additions (branch repl-replica) go below this line ---
}

impl Default for Repl {
    fn default() -> Repl {
        Repl::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Repl {
    pub fn new() -> Repl {
        Repl {
            ids: Mutex::new(Ids {
                replid: random_id(),
                replid2: NO_REPLID.to_string(),
                second_replid_offset: -1,
                master_repl_offset: 0,
                backlog: None,
                pins: BTreeMap::new(),
            }),
            role: Mutex::new(Role::Master),
            link: Mutex::new(LinkInfo::default()),
            replicas: Mutex::new(Vec::new()),
            waiters: Mutex::new(Vec::new()),
            force_select: AtomicBool::new(true),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
            cuts: Mutex::new(Vec::new()),
            next_cut: AtomicU64::new(1),
            getack_wanted: AtomicBool::new(false),
            seq_marks: Mutex::new(VecDeque::new()),
        }
    }

    /// The ids, offsets and backlog, locked (keep the guard short).
    pub fn ids(&self) -> std::sync::MutexGuard<'_, Ids> {
        lock(&self.ids)
    }

    pub fn replid(&self) -> String {
        self.ids().replid.clone()
    }

    pub fn offset(&self) -> i64 {
        self.ids().master_repl_offset
    }

    pub fn role(&self) -> Role {
        lock(&self.role).clone()
    }

    pub fn set_role(&self, role: Role) {
        *lock(&self.role) = role;
    }

    pub fn is_replica(&self) -> bool {
        matches!(*lock(&self.role), Role::Replica { .. })
    }

    pub fn link(&self) -> LinkInfo {
        lock(&self.link).clone()
    }

    /// Changes the link info (replica side).
    pub fn update_link(&self, f: impl FnOnce(&mut LinkInfo)) {
        f(&mut lock(&self.link));
    }

    /// `shiftReplicationId` (REPLICAOF NO ONE): the current history becomes the secondary one,
    /// valid up to the next offset; a new replid; the stream selects its db again.
    pub fn shift_replid(&self) {
        let mut ids = self.ids();
        ids.replid2 = std::mem::replace(&mut ids.replid, random_id());
        ids.second_replid_offset = ids.master_repl_offset + 1;
        self.force_select.store(true, Ordering::SeqCst);
    }

    /// A new replid and no secondary one (`changeReplicationId` + `clearReplicationId2`).
    pub fn new_history(&self) {
        let mut ids = self.ids();
        ids.replid = random_id();
        ids.replid2 = NO_REPLID.to_string();
        ids.second_replid_offset = -1;
    }

    /// Replica after `+FULLRESYNC <replid> <offset>`: takes the master's id and offset, forgets
    /// the secondary id and empties the backlog so it continues at `offset + 1`.
    pub fn adopt(&self, replid: &str, offset: i64) {
        let mut ids = self.ids();
        ids.replid = replid.to_string();
        ids.replid2 = NO_REPLID.to_string();
        ids.second_replid_offset = -1;
        ids.master_repl_offset = offset;
        if let Some(b) = &mut ids.backlog {
            *b = Backlog::new(b.size, offset + 1);
        }
        ids.pins.clear();
    }

    /// Replica after `+CONTINUE <newid>` with a new id: the old one becomes the secondary id
    /// valid up to the next offset (replicationDiscardCachedMaster's psync2 path).
    pub fn adopt_continue(&self, replid: &str) {
        let mut ids = self.ids();
        if ids.replid != replid {
            ids.replid2 = std::mem::replace(&mut ids.replid, replid.to_string());
            ids.second_replid_offset = ids.master_repl_offset + 1;
        }
    }

    /// Sets the offset directly (replica restored from the RDB AUX fields, or a master rebased
    /// at startup). Empties the backlog.
    pub fn set_offset(&self, offset: i64) {
        let mut ids = self.ids();
        ids.master_repl_offset = offset;
        if let Some(b) = &mut ids.backlog {
            *b = Backlog::new(b.size, offset + 1);
        }
    }

    /// Creates the backlog (no-op when it exists): its first byte is the next offset.
    pub fn create_backlog(&self, size: usize) {
        let mut ids = self.ids();
        if ids.backlog.is_none() {
            let next = ids.master_repl_offset + 1;
            ids.backlog = Some(Backlog::new(size, next));
        }
    }

    /// Frees the backlog (repl-backlog-ttl on a master with no replicas).
    pub fn free_backlog(&self) {
        let mut ids = self.ids();
        ids.backlog = None;
        ids.pins.clear();
    }

    pub fn has_backlog(&self) -> bool {
        self.ids().backlog.is_some()
    }

    /// CONFIG SET repl-backlog-size.
    pub fn resize_backlog(&self, size: usize) {
        let mut ids = self.ids();
        let keep = ids.keep_from();
        if let Some(b) = &mut ids.backlog {
            b.size = size.max(1);
            b.trim(keep);
        }
    }

    /// Appends stream bytes: advances the offset and fills the backlog, when one exists
    /// (a master without backlog produces no offsets). Returns whether they were taken.
    pub fn append(&self, bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return false;
        }
        {
            let mut ids = self.ids();
            let keep = ids.keep_from();
            let Some(b) = &mut ids.backlog else {
                return false;
            };
            b.buf.extend(bytes);
            b.trim(keep);
            ids.master_repl_offset += bytes.len() as i64;
        }
        self.wake();
        true
    }

    /// Replica: its master's stream, fed verbatim into its own backlog (and offset), for
    /// sub-replicas and a later promotion.
    pub fn feed_verbatim(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        {
            let mut ids = self.ids();
            let keep = ids.keep_from();
            ids.master_repl_offset += bytes.len() as i64;
            if let Some(b) = &mut ids.backlog {
                b.buf.extend(bytes);
                b.trim(keep);
            }
        }
        self.wake();
    }

    /// Stream bytes from offset `from` on (at most `max`); None when the backlog no longer (or
    /// never) held them.
    pub fn bytes_from(&self, from: i64, max: usize) -> Option<Vec<u8>> {
        self.ids().backlog.as_ref()?.bytes_from(from, max)
    }

    /// Whether PSYNC `<replid> <offset>` can continue from the backlog (A3 step 6).
    pub fn can_continue(&self, replid: &str, offset: i64) -> bool {
        let ids = self.ids();
        let id_ok =
            replid == ids.replid || (replid == ids.replid2 && offset <= ids.second_replid_offset);
        let Some(b) = &ids.backlog else {
            return false;
        };
        id_ok && offset >= b.first && offset <= ids.master_repl_offset + 1
    }

    /// Pins the stream for reader `id` at `offset` (the next byte it will read).
    pub fn pin(&self, id: u64, offset: i64) {
        self.ids().pins.insert(id, offset);
    }

    /// Drops reader `id`'s pin.
    pub fn unpin(&self, id: u64) {
        let mut ids = self.ids();
        ids.pins.remove(&id);
        let keep = ids.keep_from();
        if let Some(b) = &mut ids.backlog {
            b.trim(keep);
        }
    }

    /// Reader `id` read up to (not including) `offset`; returns how far behind the end it is.
    pub fn advance_pin(&self, id: u64, offset: i64) -> i64 {
        let mut ids = self.ids();
        if let Some(p) = ids.pins.get_mut(&id) {
            *p = offset;
        }
        let keep = ids.keep_from();
        let end = ids.master_repl_offset + 1;
        if let Some(b) = &mut ids.backlog {
            b.trim(keep);
        }
        end - offset
    }

    /// Takes the forced-SELECT flag (the stream producer resets its SELECT state on true).
    pub fn take_force_select(&self) -> bool {
        self.force_select.swap(false, Ordering::SeqCst)
    }

    /// The next stream unit must select its db again (`slaveseldb = -1`).
    pub fn force_select(&self) {
        self.force_select.store(true, Ordering::SeqCst);
    }

    /// The attached replicas.
    pub fn replicas(&self) -> Vec<ReplicaInfo> {
        lock(&self.replicas).clone()
    }

    pub fn replica_count(&self) -> usize {
        lock(&self.replicas).len()
    }

    pub fn add_replica(&self, r: ReplicaInfo) {
        let mut v = lock(&self.replicas);
        v.retain(|x| x.id != r.id);
        v.push(r);
    }

    pub fn remove_replica(&self, id: u64) {
        lock(&self.replicas).retain(|x| x.id != id);
        self.unpin(id);
        self.wake();
    }

    /// Changes replica `id`'s entry.
    pub fn update_replica(&self, id: u64, f: impl FnOnce(&mut ReplicaInfo)) {
        if let Some(r) = lock(&self.replicas).iter_mut().find(|r| r.id == id) {
            f(r);
        }
        self.wake();
    }

    /// Online replicas whose last ACK is within `max_lag_s` seconds of `now_ms`.
    pub fn good_replicas(&self, now_ms: i64, max_lag_s: i64) -> usize {
        lock(&self.replicas)
            .iter()
            .filter(|r| r.state == ReplicaState::Online && now_ms - r.ack_time <= max_lag_s * 1000)
            .count()
    }

    /// Online replicas that acknowledged `offset`.
    pub fn acked(&self, offset: i64) -> usize {
        lock(&self.replicas)
            .iter()
            .filter(|r| r.state == ReplicaState::Online && r.ack_off >= offset)
            .count()
    }

    /// Stream side: every journal unit numbered below `seq` is in the stream now.
    pub fn mark_seq(&self, seq: u64) {
        let off = self.offset();
        {
            let mut m = lock(&self.seq_marks);
            if m.back().is_some_and(|b| b.1 == off) {
                // Nothing streamed since the last mark (the same offset serves both).
                if let Some(b) = m.back_mut() {
                    b.0 = b.0.max(seq);
                }
            } else {
                m.push_back((seq, off));
            }
            if m.len() > SEQ_MARKS {
                m.pop_front();
            }
        }
        self.wake();
    }

    /// The stream offset once every journal unit numbered below `seq` had reached it; None
    /// while the stream has not got there. A point older than the marks kept gets the oldest
    /// one (a later offset: WAIT then waits for a little more than it needed).
    pub fn offset_at_seq(&self, seq: u64) -> Option<i64> {
        if seq == 0 {
            return Some(0);
        }
        let m = lock(&self.seq_marks);
        m.iter().find(|(s, _)| *s >= seq).map(|(_, o)| *o)
    }

    /// A new full-sync cut id (marked in the journals with [`CUT_EPOCH_BIT`] set).
    pub fn new_cut(&self) -> u64 {
        self.next_cut.fetch_add(1, Ordering::SeqCst) | CUT_EPOCH_BIT
    }

    /// Stream side: cut `id` happened at `offset` (only its first shard's marker counts).
    pub fn record_cut(&self, id: u64, offset: i64) -> bool {
        let mut c = lock(&self.cuts);
        if c.iter().any(|(i, _)| *i == id) {
            return false;
        }
        c.push((id, offset));
        if c.len() > 64 {
            c.remove(0);
        }
        true
    }

    /// The offset of cut `id`, once the stream has reached it.
    pub fn peek_cut(&self, id: u64) -> Option<i64> {
        lock(&self.cuts).iter().find(|(x, _)| *x == id).map(|c| c.1)
    }

    /// The offset of cut `id`, once the stream has reached it (taken out).
    pub fn take_cut(&self, id: u64) -> Option<i64> {
        let mut c = lock(&self.cuts);
        let i = c.iter().position(|(x, _)| *x == id)?;
        Some(c.remove(i).1)
    }

    /// Registers a waker for the next stream append or replica change.
    pub fn register(&self, w: &Waker) {
        let mut v = lock(&self.waiters);
        if !v.iter().any(|x| x.will_wake(w)) {
            v.push(w.clone());
        }
    }

    /// Wakes every registered task.
    pub fn wake(&self) {
        let v = std::mem::take(&mut *lock(&self.waiters));
        for w in v {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_move_only_with_a_backlog() {
        let r = Repl::new();
        assert!(!r.append(b"abc"));
        assert_eq!(r.offset(), 0);
        r.create_backlog(4);
        assert!(r.append(b"abc"));
        assert_eq!(r.offset(), 3);
        assert_eq!(r.bytes_from(1, 100).as_deref(), Some(&b"abc"[..]));
        r.append(b"defg");
        // Only the last 4 bytes are kept: offsets 4..=7.
        assert_eq!(
            r.ids().backlog.as_ref().map(|b| b.first_byte_offset()),
            Some(4)
        );
        assert_eq!(r.bytes_from(3, 100), None);
        assert_eq!(r.bytes_from(5, 2).as_deref(), Some(&b"ef"[..]));
        assert_eq!(r.bytes_from(8, 2).as_deref(), Some(&b""[..]));
        assert_eq!(r.bytes_from(9, 2), None);
    }

    #[test]
    fn a_pin_keeps_unread_bytes_until_read() {
        let r = Repl::new();
        r.create_backlog(2);
        r.pin(7, 1);
        r.append(b"abcdef");
        assert_eq!(r.ids().backlog.as_ref().map(|b| b.histlen()), Some(6));
        assert_eq!(r.advance_pin(7, 5), 2);
        assert_eq!(r.bytes_from(5, 10).as_deref(), Some(&b"ef"[..]));
        r.unpin(7);
        assert_eq!(r.ids().backlog.as_ref().map(|b| b.histlen()), Some(2));
    }

    #[test]
    fn continue_rules_follow_replid2_and_its_offset() {
        let r = Repl::new();
        r.create_backlog(100);
        r.append(b"0123456789");
        let old = r.replid();
        assert!(r.can_continue(&old, 11));
        assert!(!r.can_continue(&old, 12));
        assert!(!r.can_continue("?", 1));
        r.shift_replid();
        assert!(r.take_force_select() && !r.take_force_select());
        r.append(b"ab");
        assert!(r.can_continue(&old, 11));
        assert!(!r.can_continue(&old, 12));
        assert!(r.can_continue(&r.replid(), 13));
    }
}
