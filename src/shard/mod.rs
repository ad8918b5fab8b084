//! Shard executors: one glommio executor per shard, the channel mesh between them, key routing,
//! key locks and multi-shard transactions.

pub mod blocking;
pub mod clock;
pub mod cut;
pub mod dirty;
pub mod evict;
pub mod journal;
pub mod link;
pub mod locks;
pub mod mesh;
pub mod multi;
pub mod origin;
pub mod repl;
pub mod route;
pub mod runtime;
pub mod watch;
pub mod watchdog;

pub use mesh::Mesh;
pub use route::{key_slot, shard_of};

use crate::config::Config;
use crate::keyspace::Db;
use crate::net::client::ClientHandle;
use hashbrown::HashMap;
use locks::Locks;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// State shared by every shard of the process. Hot-path code reads it rarely (config is cached
/// per connection and refreshed when `config_epoch` moves).
pub struct Shared {
    pub config: RwLock<Config>,
    pub config_epoch: AtomicU64,
    pub nshards: usize,
    pub run_id: String,
    pub started: Instant,
    pub started_unix: i64,
    pub executable: String,
    pub next_client_id: AtomicU64,
    pub connected_clients: AtomicU64,
    pub total_connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    /// Changes since the last save (rdb_changes_since_last_save).
    pub dirty: dirty::Dirty,
    pub lastsave: AtomicI64,
    pub shutting_down: AtomicBool,
    /// CLIENT PAUSE: deadline in unix ms and whether only writes are paused.
    pub pause_until: AtomicI64,
    pub pause_writes_only: AtomicBool,
    pub port: std::sync::atomic::AtomicU16,
    /// The TCP listening sockets (CONFIG SET port / bind replace them).
    pub listeners: crate::net::listener::TcpListeners,
    /// Signals and SHUTDOWN both end up here; the main thread carries the shutdown out.
    pub shutdown: Arc<crate::server::ShutdownSignal>,
    /// `slowlog-log-slower-than` (µs; negative disables) and `slowlog-max-len`, mirrored here
    /// so the dispatcher checks them without the config lock (CONFIG SET refreshes them).
    pub slowlog_slower_than: AtomicI64,
    pub slowlog_max_len: AtomicU64,
    /// SLOWLOG entry ids, unique over all shards.
    pub slowlog_next_id: AtomicU64,
    /// The slow log, one for the process as in Redis.
    pub slowlog: crate::commands::introspect::SlowLog,
    /// MONITOR connections attached anywhere; the dispatcher feeds them only when non-zero.
    pub monitors: std::sync::atomic::AtomicUsize,
    pub monitor_sinks: std::sync::Mutex<Vec<Arc<MonitorSink>>>,
    /// DEBUG SET-ACTIVE-EXPIRE: whether the shards' expiry cycles run.
    pub active_expire: AtomicBool,
    /// DEBUG PAUSE-CRON: the per-shard cron skips its work while set.
    pub pause_cron: AtomicBool,
    /// Multi-shard work passes through here so a snapshot cut never sees half of it.
    pub cut_gate: cut::CutGate,
    /// RDB persistence state (saves in progress, last status, last load).
    pub persistence: crate::persistence::snapshot::State,
    /// The propagation point: shard journals and their consumer's side (AOF, replicas).
    pub hub: journal::Hub,
    /// The append-only file (INFO persistence, BGREWRITEAOF, CONFIG SET appendonly).
    pub aof: crate::persistence::aof::Aof,
    /// Databases loaded at startup, taken by each shard as it starts (nothing on disk) or when
    /// the load ends (`persistence::loading`).
    pub preload: std::sync::Mutex<Vec<Option<Vec<Db>>>>,
    /// Replica side: the master followed and the state of the link to it.
    pub link: link::MasterLink,
    /// Replication ids, offsets, backlog, role and link state (`repl.rs`).
    pub repl: repl::Repl,
}

/// Where a MONITOR connection's lines go: any shard appends, the monitor's shard drains.
#[derive(Default)]
pub struct MonitorSink {
    pub id: u64,
    pub lines: std::sync::Mutex<Vec<u8>>,
    pub waker: std::sync::Mutex<Option<std::task::Waker>>,
    pub closed: AtomicBool,
}

/// One SLOWLOG entry.
#[derive(Clone)]
pub struct SlowlogEntry {
    pub id: u64,
    pub time: i64,
    pub usec: u64,
    pub argv: Vec<bytes::Bytes>,
    pub addr: String,
    pub name: String,
}

impl Shared {
    pub fn new(
        config: Config,
        executable: String,
        shutdown: Arc<crate::server::ShutdownSignal>,
    ) -> Shared {
        let nshards = config.shards.max(1);
        crate::keyspace::notify::set_flags(config.notify_keyspace_flags);
        crate::keyspace::evict::apply_config(&config);
        crate::keyspace::encoding::apply_config(&config);
        crate::alloc::mark_startup();
        crate::commands::string::set_max_bulk_len(config.proto_max_bulk_len);
        journal::set_lazy_expire(config.get_one("lazyfree-lazy-expire").as_deref() == Some("yes"));
        crate::net::obuf::set_limits(&config.client_output_buffer_limit);
        let run_id: String = {
            use rand::Rng;
            let mut rng = rand::rng();
            (0..40)
                .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
                .collect()
        };
        let port = config.port;
        let slower_than = config.slowlog_log_slower_than;
        let max_len = config.slowlog_max_len;
        Shared {
            config: RwLock::new(config),
            config_epoch: AtomicU64::new(0),
            nshards,
            run_id,
            started: Instant::now(),
            started_unix: crate::keyspace::now_ms() / 1000,
            executable,
            next_client_id: AtomicU64::new(1),
            connected_clients: AtomicU64::new(0),
            total_connections: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            dirty: dirty::Dirty::new(nshards),
            lastsave: AtomicI64::new(crate::keyspace::now_ms() / 1000),
            shutting_down: AtomicBool::new(false),
            pause_until: AtomicI64::new(0),
            pause_writes_only: AtomicBool::new(false),
            port: std::sync::atomic::AtomicU16::new(port),
            listeners: Default::default(),
            shutdown,
            slowlog_slower_than: AtomicI64::new(slower_than),
            slowlog_max_len: AtomicU64::new(max_len),
            slowlog_next_id: AtomicU64::new(0),
            slowlog: Default::default(),
            monitors: std::sync::atomic::AtomicUsize::new(0),
            monitor_sinks: std::sync::Mutex::new(Vec::new()),
            active_expire: AtomicBool::new(true),
            pause_cron: AtomicBool::new(false),
            cut_gate: cut::CutGate::default(),
            persistence: Default::default(),
            hub: journal::Hub::new(nshards),
            aof: crate::persistence::aof::Aof::default(),
            preload: std::sync::Mutex::new(Vec::new()),
            link: Default::default(),
            repl: repl::Repl::new(),
        }
    }

    /// A snapshot of the configuration.
    pub fn config(&self) -> std::sync::RwLockReadGuard<'_, Config> {
        match self.config.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn config_mut(&self) -> std::sync::RwLockWriteGuard<'_, Config> {
        match self.config.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn bump_config_epoch(&self) {
        self.config_epoch.fetch_add(1, Ordering::Release);
    }
}

/// Latency histogram buckets per command: bucket `b` counts calls that took less than `2^b` µs
/// (the last bucket takes everything longer).
pub const LATENCY_BUCKETS: usize = 32;

/// Per-command statistics (INFO commandstats, LATENCY HISTOGRAM).
#[derive(Default, Clone, Copy)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
    pub hist: [u32; LATENCY_BUCKETS],
}

impl CmdStat {
    /// Counts one call that took `usec`.
    #[inline]
    pub fn record(&mut self, usec: u64) {
        self.calls += 1;
        self.usec += usec;
        let b = ((64 - usec.leading_zeros()) as usize).min(LATENCY_BUCKETS - 1);
        self.hist[b] = self.hist[b].saturating_add(1);
    }
}

/// Redis's instantaneous metrics (trackInstantaneousMetric): a rate sampled every 100 ms,
/// averaged over the last 16 samples.
#[derive(Default, Clone, Copy)]
pub struct RateSampler {
    samples: [f64; 16],
    idx: usize,
    last_ms: i64,
    last_value: u64,
}

impl RateSampler {
    /// Records `value` (a running total) at `now_ms`.
    pub fn sample(&mut self, now_ms: i64, value: u64) {
        if self.last_ms > 0 && now_ms > self.last_ms {
            let per_sec = value.saturating_sub(self.last_value) as f64 * 1000.0
                / (now_ms - self.last_ms) as f64;
            self.samples[self.idx] = per_sec;
            self.idx = (self.idx + 1) % self.samples.len();
        }
        self.last_ms = now_ms;
        self.last_value = value;
    }

    /// The average rate per second over the samples.
    pub fn rate(&self) -> f64 {
        self.samples.iter().sum::<f64>() / self.samples.len() as f64
    }
}

#[derive(Default)]
pub struct ShardStats {
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub total_commands: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub commands: HashMap<&'static str, CmdStat>,
    pub errors: HashMap<String, u64>,
    pub total_error_replies: u64,
    /// Commands, input bytes and output bytes per second (INFO instantaneous_*).
    pub inst_ops: RateSampler,
    pub inst_input: RateSampler,
    pub inst_output: RateSampler,
}

/// What one shard owns: its part of every database and its counters.
pub struct ShardData {
    pub dbs: Vec<Db>,
    pub stats: ShardStats,
    pub rng: rand::rngs::SmallRng,
    /// Effects of the command being executed (see [`journal`]).
    pub effects: journal::Effects,
}

pub struct Shard {
    pub id: usize,
    pub nshards: usize,
    pub data: RefCell<ShardData>,
    pub mesh: Mesh,
    pub locks: Locks,
    /// Clients blocked on this shard's keys (BLPOP & co).
    pub blocking: blocking::Registry,
    pub shared: Arc<Shared>,
    /// Connections accepted by this shard (CLIENT LIST / KILL gather these from every shard).
    pub clients: RefCell<HashMap<u64, Rc<ClientHandle>>>,
}

impl Shard {
    pub fn new(id: usize, shared: Arc<Shared>) -> Shard {
        use rand::SeedableRng;
        let nshards = shared.nshards;
        let databases = shared.config().databases;
        let preloaded = shared
            .preload
            .lock()
            .ok()
            .and_then(|mut p| p.get_mut(id).and_then(Option::take));
        let mut dbs = preloaded
            .filter(|d| d.len() == databases)
            .unwrap_or_else(|| (0..databases).map(|_| Db::new()).collect());
        for (i, db) in dbs.iter_mut().enumerate() {
            db.id = i as u32;
        }
        Shard {
            id,
            nshards,
            data: RefCell::new(ShardData {
                dbs,
                stats: ShardStats::default(),
                rng: rand::rngs::SmallRng::from_rng(&mut rand::rng()),
                effects: journal::Effects::default(),
            }),
            mesh: Mesh::new(nshards),
            locks: Locks::default(),
            blocking: blocking::Registry::default(),
            shared,
            clients: RefCell::new(HashMap::new()),
        }
    }

    #[inline]
    pub fn shard_of(&self, key: &[u8]) -> usize {
        shard_of(key, self.nshards)
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Shard>>> = const { RefCell::new(None) };
}

/// The shard of the executor running on this thread.
pub fn current() -> Option<Rc<Shard>> {
    CURRENT.with(|c| c.borrow().clone())
}

pub(crate) fn set_current(s: Rc<Shard>) {
    CURRENT.with(|c| *c.borrow_mut() = Some(s));
}
