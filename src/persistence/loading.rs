//! The dataset load at startup while clients are already served (Redis's startLoading /
//! loadingAbsProgress / stopLoading).
//!
//! The shards start with empty databases and accept connections at once; a helper thread (the
//! main thread, see `server::node`) reads the RDB file or the AOF directory into per-shard
//! databases, so no executor is ever blocked by the load. Meanwhile commands without the
//! `loading` flag get `-LOADING` (the dispatcher asks [`Loading::active`]) and INFO shows the
//! progress. When the load is done every shard swaps the loaded databases in
//! ([`install_when_loaded`]), and only then is the flag cleared, so no command that passed the
//! check can see the empty databases.

use crate::commands::apply::{Origin, StreamClient};
use crate::keyspace::Db;
use crate::shard::Shard;
use bytes::Bytes;
use std::collections::VecDeque;
use std::io::Read;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Duration;

/// The reply to a command refused while loading.
pub const LOADING_ERR: &str = "LOADING Redis is loading the dataset in memory";

/// Loading state and progress, as INFO persistence reports it.
#[derive(Default)]
pub struct Loading {
    active: AtomicBool,
    /// Unix seconds when the load started.
    start_time: AtomicI64,
    total_bytes: AtomicU64,
    loaded_bytes: AtomicU64,
    /// The `used-mem` aux field of the RDB being loaded.
    rdb_used_mem: AtomicU64,
    /// The loaded databases are ready in `Shared::preload`: shards take them in.
    ready: AtomicBool,
    /// How many shards took their databases in.
    installed: AtomicUsize,
    /// The AOF commands to replay, for shard 0 to take once the databases are in.
    replay: std::sync::Mutex<Option<Receiver<Replay>>>,
}

/// What the AOF loader thread sends the shard that replays its commands.
pub enum Replay {
    /// Commands to run in order, as the AOF client.
    Run(VecDeque<Vec<Bytes>>),
    /// Answer on `done` once everything before ran (dropping an open MULTI first if asked).
    Sync {
        discard_multi: bool,
        done: std::sync::mpsc::Sender<()>,
    },
}

impl Loading {
    /// Whether the dataset is being loaded (commands without the `loading` flag are refused).
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Marks the load as started (before the shards accept connections).
    pub fn begin(&self) {
        self.start_time
            .store(crate::keyspace::now_ms() / 1000, Ordering::Relaxed);
        self.total_bytes.store(0, Ordering::Relaxed);
        self.loaded_bytes.store(0, Ordering::Relaxed);
        self.rdb_used_mem.store(0, Ordering::Relaxed);
        self.ready.store(false, Ordering::Release);
        self.installed.store(0, Ordering::Release);
        self.active.store(true, Ordering::Release);
    }

    /// A file (or a set of AOF files) of `total` bytes starts loading (Redis's startLoading).
    pub fn start_file(&self, total: u64) {
        self.start_time
            .store(crate::keyspace::now_ms() / 1000, Ordering::Relaxed);
        self.total_bytes.store(total, Ordering::Relaxed);
        self.loaded_bytes.store(0, Ordering::Relaxed);
        self.rdb_used_mem.store(0, Ordering::Relaxed);
    }

    /// `n` more bytes were read.
    pub fn progress(&self, n: u64) {
        self.loaded_bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// The RDB's `used-mem` aux field.
    pub fn set_rdb_used_mem(&self, m: u64) {
        self.rdb_used_mem.store(m, Ordering::Relaxed);
    }

    /// Commands follow the loaded databases: shard 0 runs what comes on `rx` (before
    /// [`Loading::publish`]).
    pub fn set_replay(&self, rx: Receiver<Replay>) {
        *self.replay.lock().unwrap_or_else(|p| p.into_inner()) = Some(rx);
    }

    /// The loaded databases are in `Shared::preload`: the shards may take them.
    pub fn publish(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Whether `nshards` shards took their databases in.
    pub fn all_installed(&self, nshards: usize) -> bool {
        self.installed.load(Ordering::Acquire) >= nshards
    }

    /// The load is over (Redis's stopLoading): commands run normally from now on.
    pub fn finish(&self) {
        self.active.store(false, Ordering::Release);
    }

    /// The `loading_*` lines INFO persistence shows at its end while loading (Redis 7.0's
    /// formulas: a fake 1 s ETA in the first second).
    pub fn info(&self, o: &mut String) {
        use std::fmt::Write as _;
        if !self.active() {
            return;
        }
        let start = self.start_time.load(Ordering::Relaxed);
        let total = self.total_bytes.load(Ordering::Relaxed);
        let loaded = self.loaded_bytes.load(Ordering::Relaxed);
        let used_mem = self.rdb_used_mem.load(Ordering::Relaxed);
        let (mut perc, mut remaining) = (0.0f64, 1i64);
        if total != 0 {
            perc = loaded as f64 / total as f64 * 100.0;
            remaining = total as i64 - loaded as i64;
        } else if used_mem != 0 {
            perc = (loaded as f64 / used_mem as f64 * 100.0).min(99.99);
            remaining = (used_mem as i64 - loaded as i64).max(1);
        }
        let elapsed = crate::keyspace::now_ms() / 1000 - start;
        let eta = if elapsed == 0 {
            1
        } else {
            elapsed * remaining / (loaded as i64 + 1)
        };
        let _ = write!(
            o,
            "loading_start_time:{start}\r\nloading_total_bytes:{total}\r\n\
             loading_rdb_used_mem:{used_mem}\r\nloading_loaded_bytes:{loaded}\r\n\
             loading_loaded_perc:{perc:.2}\r\nloading_eta_seconds:{eta}\r\n"
        );
    }
}

/// A reader that reports every byte it reads as loading progress.
pub struct Counting<'a, R> {
    pub inner: R,
    pub loading: Option<&'a Loading>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(l) = self.loading {
            l.progress(n as u64);
        }
        Ok(n)
    }
}

/// Runs on every shard from its start: waits (without blocking the executor) for the loaded
/// databases, swaps them in, and counts itself installed. Returns at once when no load runs.
pub async fn install_when_loaded(shard: Rc<Shard>) {
    let loading = &shard.shared.persistence.loading;
    if !loading.active() {
        return;
    }
    while !loading.ready.load(Ordering::Acquire) {
        if !loading.active() {
            return;
        }
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    let dbs = shard
        .shared
        .preload
        .lock()
        .ok()
        .and_then(|mut p| p.get_mut(shard.id).and_then(Option::take));
    if let Some(dbs) = dbs {
        install(&shard, dbs);
    }
    loading.installed.fetch_add(1, Ordering::AcqRel);
    if shard.id == 0 {
        let rx = loading.replay.lock().ok().and_then(|mut r| r.take());
        if let Some(rx) = rx {
            replay(shard, rx).await;
        }
    }
}

/// Runs the AOF's commands through the kernel as the AOF client, once every shard has its
/// databases (a command hopping to a shard that has not swapped yet would be lost).
async fn replay(shard: Rc<Shard>, rx: Receiver<Replay>) {
    let loading = &shard.shared.persistence.loading;
    while !loading.all_installed(shard.nshards) {
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    let mut client = StreamClient::new(shard.clone(), Origin::Aof);
    loop {
        match rx.try_recv() {
            Ok(Replay::Run(mut batch)) => client.run(&mut batch).await,
            Ok(Replay::Sync {
                discard_multi,
                done,
            }) => {
                if discard_multi {
                    client.discard_multi();
                }
                let _ = done.send(());
            }
            Err(TryRecvError::Empty) => {
                glommio::timer::sleep(Duration::from_micros(200)).await;
            }
            Err(TryRecvError::Disconnected) => return,
        }
    }
}

/// Replaces the shard's (empty) databases by the loaded ones.
fn install(shard: &Shard, mut dbs: Vec<Db>) {
    let mut data = shard.data.borrow_mut();
    if dbs.len() != data.dbs.len() {
        return;
    }
    let logging = data.effects.on;
    for (i, db) in dbs.iter_mut().enumerate() {
        db.id = i as u32;
        db.expired_log = logging.then(Vec::new);
    }
    let old = std::mem::replace(&mut data.dbs, dbs);
    drop(data);
    drop(old);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_lines_follow_redis_formulas() {
        let l = Loading::default();
        let mut o = String::new();
        l.info(&mut o);
        assert!(o.is_empty(), "nothing while not loading");
        l.begin();
        l.start_file(1000);
        l.progress(250);
        l.info(&mut o);
        let lines: Vec<&str> = o.split("\r\n").collect();
        assert!(lines[0].starts_with("loading_start_time:"));
        assert_eq!(lines[1], "loading_total_bytes:1000");
        assert_eq!(lines[2], "loading_rdb_used_mem:0");
        assert_eq!(lines[3], "loading_loaded_bytes:250");
        assert_eq!(lines[4], "loading_loaded_perc:25.00");
        assert!(lines[5].starts_with("loading_eta_seconds:"));
        l.finish();
        assert!(!l.active());
    }

    #[test]
    fn used_mem_estimate_never_reaches_100_percent() {
        let l = Loading::default();
        l.begin();
        l.set_rdb_used_mem(100);
        l.progress(500);
        let mut o = String::new();
        l.info(&mut o);
        assert!(o.contains("loading_loaded_perc:99.99\r\n"), "{o}");
    }

    #[test]
    fn counting_reader_reports_progress() {
        let l = Loading::default();
        let mut r = Counting {
            inner: &b"hello world"[..],
            loading: Some(&l),
        };
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello world");
        assert_eq!(l.loaded_bytes.load(Ordering::Relaxed), 11);
    }
}
