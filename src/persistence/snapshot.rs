//! RDB persistence of the data node: BGSAVE/SAVE without fork, save points, the final save at
//! shutdown and the load at startup (DESIGN.md §6).
//!
//! A save is one [`consistent_cut`](crate::shard::cut) that begins a snapshot pass on every
//! non-empty db of every shard. Each shard then runs a background task that walks its passes
//! in bounded steps (sleeping between steps so its commands keep flowing) and sends the bytes,
//! as self-contained chunks (`SELECTDB n` + entries), to **one writer `std::thread`**. The writer
//! emits header + AUX, the chunks in arrival order, EOF + CRC64, and (for a file) fsyncs, renames
//! `temp-<pid>.rdb` over `dbfilename` and fsyncs the directory. Blocking file I/O never runs on
//! an executor. Shards stop stepping while more than [`MAX_PENDING`] bytes wait for the writer.
//!
//! [`write_rdb_to`] is the reusable part (any `Write` sink; the AOF rewrite can use it for its
//! RDB preamble). [`bgsave`] adds Redis's bookkeeping (status, times, `dirty`, log lines).

use crate::keyspace::{Db, Entry, EntrySerializer, NO_EXPIRE};
use crate::persistence::rdb::write::AuxFields;
use crate::persistence::rdb::{self, write::write_len, RdbWriter, WriteOptions};
use crate::shard::{cut, Shard};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// Bytes queued for the writer above which shards pause their walk (backpressure).
pub const MAX_PENDING: usize = 16 << 20;
/// A chunk is sent once it holds this much.
const CHUNK_BYTES: usize = 256 << 10;
/// Entries walked per `snapshot_step` call.
const STEP_ENTRIES: usize = 128;
/// Time a shard walks before letting its other tasks run.
const STEP_SLICE: Duration = Duration::from_micros(500);
/// Redis's CONFIG_BGSAVE_RETRY_DELAY: after a failed BGSAVE, save points wait this long.
const BGSAVE_RETRY_DELAY_SECS: i64 = 5;

/// Persistence state of the process (INFO persistence, MISCONF, the last load).
pub struct State {
    pub bgsave_in_progress: AtomicBool,
    /// Unix ms when the running save started.
    pub bgsave_started_ms: AtomicI64,
    pub last_bgsave_ok: AtomicBool,
    /// Duration of the last BGSAVE in seconds, -1 before the first.
    pub last_bgsave_time_sec: AtomicI64,
    /// Unix secs of the last BGSAVE attempt (save points retry a failed one after 5 s).
    pub last_bgsave_try: AtomicI64,
    pub rdb_saves: AtomicU64,
    /// What the last load (startup, DEBUG RELOAD) read.
    pub last_load_keys_loaded: AtomicU64,
    pub last_load_keys_expired: AtomicU64,
    /// Set by SHUTDOWN once it has carried out its own save decision.
    pub shutdown_handled: AtomicBool,
    /// Exit code decided by the final save (-1: not decided yet).
    pub exit_code: AtomicI64,
    /// The dataset load at startup (`-LOADING`, INFO's loading fields).
    pub loading: crate::persistence::loading::Loading,
}

impl Default for State {
    fn default() -> Self {
        State {
            bgsave_in_progress: AtomicBool::new(false),
            bgsave_started_ms: AtomicI64::new(0),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_time_sec: AtomicI64::new(-1),
            last_bgsave_try: AtomicI64::new(0),
            rdb_saves: AtomicU64::new(0),
            last_load_keys_loaded: AtomicU64::new(0),
            last_load_keys_expired: AtomicU64::new(0),
            shutdown_handled: AtomicBool::new(false),
            exit_code: AtomicI64::new(-1),
            loading: Default::default(),
        }
    }
}

impl State {
    /// `stop-writes-on-bgsave-error`: writes are refused while the last BGSAVE failed and save
    /// points are configured (Redis's writeCommandsDeniedByDiskError).
    pub fn refuses_writes(&self, cfg: &crate::config::Config) -> bool {
        cfg.stop_writes_on_bgsave_error
            && !cfg.save_params.is_empty()
            && !self.last_bgsave_ok.load(Ordering::Relaxed)
    }

    /// Seconds the running save has taken, -1 when none runs.
    pub fn current_bgsave_secs(&self) -> i64 {
        if self.bgsave_in_progress.load(Ordering::Relaxed) {
            (crate::keyspace::now_ms() - self.bgsave_started_ms.load(Ordering::Relaxed)) / 1000
        } else {
            -1
        }
    }
}

/// What a finished snapshot wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct SnapshotStats {
    pub keys: u64,
    pub bytes: u64,
    /// `dirty` at the cut: the changes the snapshot holds.
    pub dirty_at_cut: u64,
}

/// A one-value channel from the writer thread to an executor task (a waker doorbell: waking a
/// glommio task from a foreign thread is supported, see glommio-notes §5).
struct Oneshot<T> {
    slot: Mutex<(Option<T>, Option<Waker>)>,
}

impl<T> Oneshot<T> {
    fn new() -> Self {
        Oneshot {
            slot: Mutex::new((None, None)),
        }
    }

    fn send(&self, v: T) {
        let waker = {
            let mut s = self.slot.lock().unwrap_or_else(|p| p.into_inner());
            s.0 = Some(v);
            s.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    async fn recv(&self) -> T {
        std::future::poll_fn(|cx| {
            let mut s = self.slot.lock().unwrap_or_else(|p| p.into_inner());
            match s.0.take() {
                Some(v) => Poll::Ready(v),
                None => {
                    s.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

enum ToWriter {
    Chunk(Vec<u8>),
    ShardDone(u64),
}

/// What shards and the writer share during one snapshot.
struct Link {
    tx: crossbeam_channel::Sender<ToWriter>,
    pending: AtomicUsize,
    aborted: AtomicBool,
    /// Shard tasks still walking; an aborted snapshot waits for them to end their passes so
    /// that a next snapshot never has its passes ended by a stale task.
    walkers: AtomicUsize,
}

impl Link {
    /// Aborts and waits (bounded: a walker checks between steps) until every walker is gone.
    async fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.walkers.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
    }
}

fn ser_compressed(key: &[u8], e: &Entry, out: &mut Vec<u8>) {
    ser(key, e, out, true)
}

fn ser_plain(key: &[u8], e: &Entry, out: &mut Vec<u8>) {
    ser(key, e, out, false)
}

/// Like Redis 7.0's rdbSaveKeyValuePair, keys whose TTL passed are written too (the loader
/// drops them).
fn ser(key: &[u8], e: &Entry, out: &mut Vec<u8>, compress: bool) {
    let exp = (e.expire_at != NO_EXPIRE).then_some(e.expire_at);
    rdb::write_entry_with(out, key, &e.value, exp, rdb::Access::of(e), compress);
}

fn serializer(compress: bool) -> EntrySerializer {
    if compress {
        ser_compressed
    } else {
        ser_plain
    }
}

/// Begins a pass on every non-empty db of `sh` and starts its walking task; returns `dirty`.
fn begin_on_shard(sh: &Rc<Shard>, epoch: u32, ser: EntrySerializer, link: &Arc<Link>) -> u64 {
    {
        let mut data = sh.data.borrow_mut();
        for (i, db) in data.dbs.iter_mut().enumerate() {
            if !db.is_empty() {
                db.snapshot_begin(i, epoch, ser);
            }
        }
    }
    let dirty = sh.shared.dirty.total();
    link.walkers.fetch_add(1, Ordering::AcqRel);
    glommio::spawn_local(walk_shard(sh.clone(), link.clone())).detach();
    dirty
}

/// Appends what the passes of `dbs` produced, each db's bytes behind its `SELECTDB`, ending
/// the passes that are done. Returns (all done, keys of the passes ended).
fn drain_passes(dbs: &mut [Db], step: bool, buf: &mut Vec<u8>) -> (bool, u64) {
    let mut all_done = true;
    let mut keys = 0;
    for db in dbs.iter_mut() {
        let Some(index) = db.snapshot_db_index() else {
            continue;
        };
        let done = !step || db.snapshot_step(STEP_ENTRIES);
        let mut out = db.snapshot_take_output();
        if done {
            if let Some((info, rest)) = db.snapshot_end() {
                out.extend_from_slice(&rest);
                keys += info.keys;
            }
        } else {
            all_done = false;
        }
        if !out.is_empty() {
            buf.push(rdb::OPCODE_SELECTDB);
            write_len(buf, index as u64);
            buf.extend_from_slice(&out);
        }
    }
    (all_done, keys)
}

/// One shard's side of a snapshot: walk, drain, send; pause under backpressure; yield often.
async fn walk_shard(shard: Rc<Shard>, link: Arc<Link>) {
    walk(&shard, &link).await;
    link.walkers.fetch_sub(1, Ordering::AcqRel);
}

async fn walk(shard: &Shard, link: &Link) {
    let mut keys = 0;
    loop {
        if link.aborted.load(Ordering::Acquire) {
            let mut data = shard.data.borrow_mut();
            for db in data.dbs.iter_mut() {
                if db.snapshot_db_index().is_some() {
                    db.snapshot_end();
                }
            }
            return;
        }
        if link.pending.load(Ordering::Acquire) > MAX_PENDING {
            glommio::timer::sleep(Duration::from_millis(1)).await;
            continue;
        }
        let start = Instant::now();
        let mut buf = Vec::new();
        let done = loop {
            let (done, k) = {
                let mut data = shard.data.borrow_mut();
                drain_passes(&mut data.dbs, true, &mut buf)
            };
            keys += k;
            if done || buf.len() >= CHUNK_BYTES || start.elapsed() >= STEP_SLICE {
                break done;
            }
        };
        if !buf.is_empty() {
            link.pending.fetch_add(buf.len(), Ordering::AcqRel);
            let _ = link.tx.send(ToWriter::Chunk(buf));
        }
        if done {
            let _ = link.tx.send(ToWriter::ShardDone(keys));
            return;
        }
        glommio::timer::sleep(Duration::from_micros(20)).await;
    }
}

/// The AUX block for a snapshot taken now.
pub fn aux_now() -> AuxFields {
    AuxFields {
        ctime: crate::keyspace::now_ms() / 1000,
        used_mem: crate::server::info::rss_bytes(),
        repl: None,
        aof_base: false,
    }
}

/// Streams a consistent snapshot of the whole keyspace as one RDB stream into the sink that
/// `open` returns (called on the writer thread), then hands the sink to `finish` (also on the
/// writer thread: fsync, rename...). `held` is the number of cut-gate passes the caller itself
/// holds (1 inside a multi-shard EXEC block, else 0).
pub async fn write_rdb_to<W, O, F>(
    shard: &Rc<Shard>,
    held: usize,
    opts: WriteOptions,
    aux: AuxFields,
    open: O,
    finish: F,
) -> Result<SnapshotStats, String>
where
    W: Write,
    O: FnOnce() -> Result<W, String> + Send + 'static,
    F: FnOnce(W) -> Result<(), String> + Send + 'static,
{
    write_rdb_to_at_cut(shard, held, opts, aux, |_: &Rc<Shard>| {}, open, finish).await
}

/// [`write_rdb_to`] that also runs `at_cut` on every shard inside the cut, just before that
/// shard's snapshot begins (the AOF rewrite marks its journal cut there, so the RDB base and
/// the switch to the new incr file happen at the same point of each shard's stream).
pub async fn write_rdb_to_at_cut<W, O, H, F>(
    shard: &Rc<Shard>,
    held: usize,
    opts: WriteOptions,
    aux: AuxFields,
    at_cut: H,
    open: O,
    finish: F,
) -> Result<SnapshotStats, String>
where
    W: Write,
    O: FnOnce() -> Result<W, String> + Send + 'static,
    H: Fn(&Rc<Shard>) + Send + Sync + Clone + 'static,
    F: FnOnce(W) -> Result<(), String> + Send + 'static,
{
    write_rdb_to_at_cut_aux(shard, held, opts, |a| a, aux, at_cut, open, finish).await
}

/// [`write_rdb_to_at_cut`] whose AUX block is completed on the writer thread, after the cut
/// (`fill_aux`: a full sync waits there for the stream offset of its cut).
#[allow(clippy::too_many_arguments)]
pub async fn write_rdb_to_at_cut_aux<W, O, H, F, A>(
    shard: &Rc<Shard>,
    held: usize,
    opts: WriteOptions,
    fill_aux: A,
    aux: AuxFields,
    at_cut: H,
    open: O,
    finish: F,
) -> Result<SnapshotStats, String>
where
    W: Write,
    O: FnOnce() -> Result<W, String> + Send + 'static,
    H: Fn(&Rc<Shard>) + Send + Sync + Clone + 'static,
    F: FnOnce(W) -> Result<(), String> + Send + 'static,
    A: FnOnce(AuxFields) -> AuxFields + Send + 'static,
{
    let (tx, rx) = crossbeam_channel::unbounded();
    let link = Arc::new(Link {
        tx,
        pending: AtomicUsize::new(0),
        aborted: AtomicBool::new(false),
        walkers: AtomicUsize::new(0),
    });
    let epoch = crate::keyspace::snapshot::next_epoch();
    let ser = serializer(opts.compression);
    let l = link.clone();
    let cut = cut::consistent_cut_holding(shard, held, move |sh| {
        at_cut(sh);
        begin_on_shard(sh, epoch, ser, &l)
    })
    .await;
    let Some(dirties) = cut else {
        link.abort().await;
        return Err("could not take a consistent cut (another snapshot is starting)".into());
    };
    // The coordinator's reading: the other shards read after it released them.
    let dirty_at_cut = dirties.get(shard.id).copied().unwrap_or(0);
    let nshards = shard.nshards;
    let result = Arc::new(Oneshot::new());
    let r = result.clone();
    let wl = link.clone();
    let spawned = std::thread::Builder::new()
        .name("rdb-writer".into())
        .spawn(move || {
            let aux = fill_aux(aux);
            let res = write_stream(&wl, rx, nshards, opts, &aux, open, finish);
            if res.is_err() {
                wl.aborted.store(true, Ordering::Release);
            }
            r.send(res);
        });
    if let Err(e) = spawned {
        link.abort().await;
        return Err(format!("Can't start the RDB writer thread: {e}"));
    }
    let (keys, bytes) = match result.recv().await {
        Ok(r) => r,
        Err(e) => {
            link.abort().await;
            return Err(e);
        }
    };
    Ok(SnapshotStats {
        keys,
        bytes,
        dirty_at_cut,
    })
}

/// The writer thread: header + AUX, every chunk, EOF + CRC; returns (keys, bytes).
fn write_stream<W, O, F>(
    link: &Link,
    rx: crossbeam_channel::Receiver<ToWriter>,
    nshards: usize,
    opts: WriteOptions,
    aux: &AuxFields,
    open: O,
    finish: F,
) -> Result<(u64, u64), String>
where
    W: Write,
    O: FnOnce() -> Result<W, String>,
    F: FnOnce(W) -> Result<(), String>,
{
    let sink = open()?;
    let werr = |e: io::Error| format!("Write error saving DB on disk: {e}");
    let mut w = RdbWriter::new(io::BufWriter::with_capacity(1 << 20, sink), opts);
    w.header().map_err(werr)?;
    w.default_aux(aux).map_err(werr)?;
    let (mut done, mut keys) = (0, 0);
    while done < nshards {
        match rx.recv() {
            Ok(ToWriter::Chunk(b)) => {
                let r = w.chunk(&b);
                link.pending.fetch_sub(b.len(), Ordering::AcqRel);
                r.map_err(werr)?;
            }
            Ok(ToWriter::ShardDone(k)) => {
                done += 1;
                keys += k;
            }
            Err(_) => return Err("a shard stopped before finishing its snapshot".into()),
        }
    }
    let bytes = w.written() + 9;
    let buffered = w.finish().map_err(werr)?;
    let sink = buffered.into_inner().map_err(|e| werr(e.into_error()))?;
    finish(sink)?;
    Ok((keys, bytes))
}

/// Writes the snapshot to `dbfilename` in the working directory (which is `dir`) the crash-safe
/// way: `temp-<pid>.rdb`, fsync, rename, fsync of the directory.
pub async fn save_to_disk(shard: &Rc<Shard>, held: usize) -> Result<SnapshotStats, String> {
    let (opts, file) = {
        let c = shard.shared.config();
        (
            WriteOptions {
                compression: c.rdbcompression,
                checksum: c.rdbchecksum,
            },
            c.dbfilename.clone(),
        )
    };
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "?".into());
    let tmp = PathBuf::from(format!("temp-{}.rdb", std::process::id()));
    let (t1, t2, c1, c2) = (tmp.clone(), tmp.clone(), cwd.clone(), cwd);
    let open = move || {
        std::fs::File::create(&t1).map_err(|e| {
            format!(
                "Failed opening the temp RDB file {} (in server root dir {c1}) for saving: {}",
                t1.display(),
                crate::config::value::strerror(&e)
            )
        })
    };
    let finish = move |f: std::fs::File| {
        let res = f
            .sync_all()
            .map_err(|e| format!("Write error saving DB on disk: {e}"))
            .and_then(|()| {
                std::fs::rename(&t2, &file).map_err(|e| {
                    format!(
                        "Error moving temp DB file {} on the final destination {file} (in server root dir {c2}): {}",
                        t2.display(),
                        crate::config::value::strerror(&e)
                    )
                })
            });
        if res.is_err() {
            let _ = std::fs::remove_file(&t2);
            return res;
        }
        // The rename is durable once the directory is synced.
        std::fs::File::open(".")
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("Failed to fsync the directory after saving: {e}"))
    };
    // A replica's save names the master's offset its data holds, read inside the cut (the
    // coordinator's hook), so a restart can continue with a partial resync.
    let repl_info = Arc::new(std::sync::Mutex::new(None));
    let (at_cut_info, fill_info) = (repl_info.clone(), repl_info);
    let coordinator = shard.id;
    let at_cut = move |sh: &Rc<Shard>| {
        if sh.id == coordinator {
            let info = sh.shared.link.save_info(sh.shared.repl.replid());
            *at_cut_info.lock().unwrap_or_else(|p| p.into_inner()) = info;
        }
    };
    let fill_aux = move |mut aux: AuxFields| {
        aux.repl = fill_info.lock().unwrap_or_else(|p| p.into_inner()).take();
        aux
    };
    let res =
        write_rdb_to_at_cut_aux(shard, held, opts, fill_aux, aux_now(), at_cut, open, finish).await;
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// How a save was asked for (changes the log lines, like Redis's SAVE vs BGSAVE).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SaveKind {
    /// BGSAVE, save points.
    Background,
    /// SAVE, SHUTDOWN, FLUSHALL, DEBUG RELOAD (`rdb_saves` counts only SAVE, which counts
    /// itself, and BGSAVE).
    Foreground,
}

/// Claims the single save slot; false when a save is already running.
pub fn try_start(shard: &Shard) -> bool {
    let st = &shard.shared.persistence;
    if st.bgsave_in_progress.swap(true, Ordering::AcqRel) {
        return false;
    }
    st.bgsave_started_ms
        .store(crate::keyspace::now_ms(), Ordering::Relaxed);
    true
}

/// Runs a save whose slot [`try_start`] claimed, with Redis's bookkeeping and log lines.
pub async fn run_claimed(shard: &Rc<Shard>, held: usize, kind: SaveKind) -> Result<(), String> {
    let shared = shard.shared.clone();
    let st = &shared.persistence;
    let now_s = crate::keyspace::now_ms() / 1000;
    if kind == SaveKind::Background {
        st.last_bgsave_try.store(now_s, Ordering::Relaxed);
        tracing::info!("Background saving started by pid {}", std::process::id());
    }
    let started = Instant::now();
    let res = save_to_disk(shard, held).await;
    let secs = started.elapsed().as_secs() as i64;
    match &res {
        Ok(stats) => {
            tracing::info!("DB saved on disk");
            let cut = stats.dirty_at_cut;
            shared.dirty.saved_upto(cut);
            shared.lastsave.store(
                crate::keyspace::now_ms() / 1000,
                std::sync::atomic::Ordering::Relaxed,
            );
            st.last_bgsave_ok.store(true, Ordering::Relaxed);
            if kind == SaveKind::Background {
                st.rdb_saves.fetch_add(1, Ordering::Relaxed);
                tracing::info!("Background saving terminated with success");
            }
        }
        Err(e) => {
            tracing::warn!("{e}");
            if kind == SaveKind::Background {
                tracing::warn!("Background saving error");
                st.last_bgsave_ok.store(false, Ordering::Relaxed);
            }
        }
    }
    if kind == SaveKind::Background {
        st.last_bgsave_time_sec.store(secs, Ordering::Relaxed);
    }
    st.bgsave_in_progress.store(false, Ordering::Release);
    res.map(|_| ())
}

/// A foreground save (SAVE, SHUTDOWN, FLUSHALL): waits for a running BGSAVE to end first,
/// like Redis which kills the child; ours cannot be killed midway, so it is awaited. From
/// inside an EXEC block (`held` > 0) it does not wait: that BGSAVE may itself be waiting at
/// the cut gate for the block to end.
pub async fn save_now(shard: &Rc<Shard>, held: usize) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while !try_start(shard) {
        if held > 0 {
            let e = "Background save in progress: not saving from inside a transaction";
            tracing::warn!("{e}");
            return Err(e.into());
        }
        if Instant::now() > deadline {
            return Err("a background save did not finish".into());
        }
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    run_claimed(shard, held, SaveKind::Foreground).await
}

/// Starts a BGSAVE in the background on this shard; false when one already runs.
pub fn start_bgsave(shard: &Rc<Shard>) -> bool {
    if !try_start(shard) {
        return false;
    }
    let sh = shard.clone();
    glommio::spawn_local(async move {
        let _ = run_claimed(&sh, 0, SaveKind::Background).await;
    })
    .detach();
    true
}

/// serverCron's save points, run by shard 0 about every 100 ms.
pub fn cron(shard: &Rc<Shard>) {
    let shared = &shard.shared;
    // A sentinel shares the runtime but has no dataset to save.
    if shared.config().sentinel_mode {
        return;
    }
    let st = &shared.persistence;
    if st.bgsave_in_progress.load(Ordering::Relaxed) || shared.shutdown.requested().is_some() {
        return;
    }
    let now = crate::keyspace::now_ms() / 1000;
    let dirty = shared.dirty.since_save();
    let lastsave = shared.lastsave.load(Ordering::Relaxed);
    let retry_ok = st.last_bgsave_ok.load(Ordering::Relaxed)
        || now - st.last_bgsave_try.load(Ordering::Relaxed) > BGSAVE_RETRY_DELAY_SECS;
    let hit = shared
        .config()
        .save_params
        .iter()
        .find(|&&(secs, changes)| dirty >= changes && now - lastsave > secs as i64)
        .copied();
    if let (Some((secs, _)), true) = (hit, retry_ok) {
        tracing::info!("{dirty} changes in {secs} seconds. Saving...");
        start_bgsave(shard);
    }
}

/// The final save of a shutdown. On a replica the link first finishes the batch it is applying
/// and starts no other (`link.hold`), so the file names the offset its data holds and the
/// restarted replica continues with a partial resync. The hold ends if the save fails (the
/// server then goes on serving).
pub async fn save_final(shard: &Rc<Shard>) -> Result<(), String> {
    let link = &shard.shared.link;
    link.hold.store(true, Ordering::SeqCst);
    let start = Instant::now();
    while link.applying.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(1) {
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    let res = save_now(shard, 0).await;
    if res.is_err() {
        link.hold.store(false, Ordering::SeqCst);
    }
    res
}

/// The final save at shutdown (SIGTERM/SIGINT, or SHUTDOWN that left the decision to us):
/// run by shard 0 once shutdown is requested. Sets `exit_code` for the main thread; when the
/// save fails the shutdown is called off and the server keeps serving, like Redis.
pub async fn on_shutdown(shard: Rc<Shard>) {
    let shared = shard.shared.clone();
    if shared.config().sentinel_mode {
        return;
    }
    let st = &shared.persistence;
    loop {
        shared.shutdown.wait().await;
        if st.shutdown_handled.load(Ordering::Acquire) {
            break;
        }
        tracing::warn!("User requested shutdown...");
        // Never save while loading: that would overwrite the file with half of its data.
        let save = !shared.config().save_params.is_empty() && !st.loading.active();
        if !save {
            break;
        }
        tracing::info!("Saving the final RDB snapshot before exiting.");
        if save_final(&shard).await.is_ok() {
            break;
        }
        tracing::warn!("Error trying to save the DB, can't exit.");
        tracing::warn!(
            "Errors trying to shut down the server. Check the logs for more information."
        );
        shared.shutdown.cancel();
    }
    st.exit_code.store(0, Ordering::Release);
}

/// DEBUG RELOAD: save, empty every db, load the file back (on the executor's blocking thread),
/// and install the loaded dbs on every shard. Writes arriving on other shards between the save
/// and the install are lost, as they would wait in Redis, which blocks for the whole reload.
pub async fn debug_reload(shard: &Rc<Shard>, held: usize) -> Result<(), String> {
    save_now(shard, held).await?;
    let (file, databases) = {
        let c = shard.shared.config();
        (PathBuf::from(&c.dbfilename), c.databases)
    };
    let nshards = shard.nshards;
    let loaded = glommio::executor()
        .spawn_blocking(move || load_at_startup(&file, nshards, databases, None))
        .await?
        .map(|l| l.record(&shard.shared.persistence))
        .unwrap_or_else(|| {
            (0..nshards)
                .map(|_| (0..databases).map(|_| Db::new()).collect())
                .collect()
        });
    replace_all(shard, loaded).await;
    tracing::info!("DB reloaded by DEBUG RELOAD");
    Ok(())
}

/// Replaces the databases of every shard by `loaded` (one `Vec<Db>` per shard), keeping the
/// WATCHes on them (DEBUG RELOAD, a replica's full sync).
pub async fn replace_all(shard: &Rc<Shard>, loaded: Vec<Vec<Db>>) {
    let slots: Arc<Vec<Mutex<Option<Vec<Db>>>>> =
        Arc::new(loaded.into_iter().map(|d| Mutex::new(Some(d))).collect());
    crate::shard::Mesh::run_on_all(shard, move |sh| {
        let dbs = slots
            .get(sh.id)
            .and_then(|m| m.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(mut dbs) = dbs {
            let mut data = sh.data.borrow_mut();
            let logging = data.effects.on;
            for (i, db) in dbs.iter_mut().enumerate() {
                db.id = i as u32;
                db.expired_log = logging.then(Vec::new);
            }
            crate::shard::watch::carry_over(&mut data.dbs, &mut dbs);
            let old = std::mem::replace(&mut data.dbs, dbs);
            drop(data);
            drop(old);
        }
    })
    .await;
}

/// A loaded file: the dbs of every shard and what was read.
pub struct Loaded {
    pub dbs: Vec<Vec<Db>>,
    pub keys_loaded: u64,
    pub keys_expired: u64,
    /// `(repl-stream-db, repl-id, repl-offset)` when the file names a valid replication
    /// point (loadDataFromDisk's test: an id, an offset and a db, none of them -1).
    pub repl: Option<(usize, String, i64)>,
}

/// The replication point of a loaded file's AUX fields, when complete and valid.
fn repl_point(sum: &rdb::read::LoadSummary) -> Option<(usize, String, i64)> {
    let text = |k: &[u8]| std::str::from_utf8(sum.aux_field(k)?).ok();
    let id = text(b"repl-id")?;
    let offset: i64 = text(b"repl-offset")?.parse().ok()?;
    let db: i64 = text(b"repl-stream-db")?.parse().ok()?;
    (id.len() == 40 && offset != -1 && db >= 0).then(|| (db as usize, id.to_string(), offset))
}

impl Loaded {
    /// Records the counts for INFO and hands back the dbs.
    pub fn record(self, st: &State) -> Vec<Vec<Db>> {
        st.last_load_keys_loaded
            .store(self.keys_loaded, Ordering::Relaxed);
        st.last_load_keys_expired
            .store(self.keys_expired, Ordering::Relaxed);
        self.dbs
    }
}

/// Loads `path` at startup into per-shard dbs (`databases` each, keys routed by slot). Keys
/// already expired are dropped, as a master does. Logs Redis's lines. `Ok(None)` when there is
/// no file.
pub fn load_at_startup(
    path: &Path,
    nshards: usize,
    databases: usize,
    state: Option<&State>,
) -> Result<Option<Loaded>, String> {
    load_file(path, nshards, databases, state, false)
}

/// [`load_at_startup`]; `keep_expired`: keys already expired are loaded too, as a replica
/// loads its master's payload (the master's DELs come in the stream).
pub fn load_file(
    path: &Path,
    nshards: usize,
    databases: usize,
    state: Option<&State>,
    keep_expired: bool,
) -> Result<Option<Loaded>, String> {
    let progress = state.map(|s| &s.loading);
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "Fatal error loading the DB: {}. Exiting.",
                crate::config::value::strerror(&e)
            ))
        }
    };
    let started = Instant::now();
    if let Some(st) = state {
        st.loading
            .start_file(file.metadata().map_or(0, |m| m.len()));
        // Like Redis's startLoading: the counts restart and grow during the load.
        st.last_load_keys_loaded.store(0, Ordering::Relaxed);
        st.last_load_keys_expired.store(0, Ordering::Relaxed);
    }
    let mut shards: Vec<Vec<Db>> = (0..nshards)
        .map(|_| (0..databases).map(|_| Db::new()).collect())
        .collect();
    let now = crate::keyspace::now_ms();
    let mut loader = Loader {
        shards: &mut shards,
        nshards,
        databases,
        now,
        expired: 0,
        loaded: 0,
        progress,
        state,
        keep_expired,
    };
    let file = crate::persistence::loading::Counting {
        inner: file,
        loading: progress,
    };
    let reader = io::BufReader::with_capacity(1 << 20, file);
    match rdb::load_with(reader, &mut loader) {
        Ok(sum) => {
            let (loaded, expired) = (loader.loaded, loader.expired);
            if sum.checksum == rdb::read::Checksum::Disabled {
                tracing::info!("RDB file was saved with checksum disabled: no check performed.");
            }
            tracing::info!("Done loading RDB, keys loaded: {loaded}, keys expired: {expired}.");
            tracing::info!(
                "DB loaded from disk: {:.3} seconds",
                started.elapsed().as_secs_f64()
            );
            Ok(Some(Loaded {
                dbs: shards,
                keys_loaded: loaded,
                keys_expired: expired,
                repl: repl_point(&sum),
            }))
        }
        Err(e) => {
            if e.what == rdb::read::EOF_MSG {
                tracing::warn!("Short read or OOM loading DB. Unrecoverable error, aborting now.");
            } else if e.what == "RDB CRC error" {
                tracing::warn!("Wrong RDB checksum. Aborting now.");
            }
            Err(format!(
                "Internal error in RDB reading offset {}, file {} -> {}",
                e.offset,
                path.display(),
                e.what
            ))
        }
    }
}

struct Loader<'a> {
    shards: &'a mut Vec<Vec<Db>>,
    nshards: usize,
    databases: usize,
    now: i64,
    expired: u64,
    loaded: u64,
    progress: Option<&'a crate::persistence::loading::Loading>,
    /// Where INFO reads the running counts (`rdb_last_load_keys_*`).
    state: Option<&'a State>,
    keep_expired: bool,
}

impl Loader<'_> {
    /// Publishes the running counts every 1024 keys.
    fn count(&mut self, expired: bool) {
        if expired {
            self.expired += 1;
        } else {
            self.loaded += 1;
        }
        if let Some(st) = self
            .state
            .filter(|_| (self.loaded + self.expired).is_multiple_of(1024))
        {
            st.last_load_keys_loaded
                .store(self.loaded, Ordering::Relaxed);
            st.last_load_keys_expired
                .store(self.expired, Ordering::Relaxed);
        }
    }
}

impl rdb::Visitor for Loader<'_> {
    /// Logs the aux fields Redis logs, as they are read (rdbLoadRio).
    fn aux(&mut self, _offset: u64, key: &[u8], val: &[u8]) {
        let text = String::from_utf8_lossy(val);
        let num = || text.trim().parse::<i64>().unwrap_or(0);
        if key.first() == Some(&b'%') {
            tracing::info!("RDB '{}': {text}", String::from_utf8_lossy(key));
        } else if key.eq_ignore_ascii_case(b"redis-ver") {
            tracing::info!("Loading RDB produced by version {text}");
        } else if key.eq_ignore_ascii_case(b"ctime") {
            tracing::info!("RDB age {} seconds", (self.now / 1000 - num()).max(0));
        } else if key.eq_ignore_ascii_case(b"used-mem") {
            let m = num();
            tracing::info!(
                "RDB memory usage when created {:.2} Mb",
                m as f64 / 1048576.0
            );
            if let Some(l) = self.progress {
                l.set_rdb_used_mem(m.max(0) as u64);
            }
        } else if key.eq_ignore_ascii_case(b"aof-preamble") && num() != 0 {
            tracing::info!("RDB has an AOF tail");
        } else if key.eq_ignore_ascii_case(b"aof-base") && num() != 0 {
            tracing::info!("RDB is base AOF");
        }
    }

    fn select_db(&mut self, _offset: u64, db: u64) -> Result<(), String> {
        if db >= self.databases as u64 {
            return Err(format!(
                "FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting",
                self.databases
            ));
        }
        Ok(())
    }

    fn entry(&mut self, e: rdb::RdbEntry) -> Result<(), String> {
        if let Some(ms) = e.expire_ms {
            if ms < self.now && !self.keep_expired {
                self.count(true);
                return Ok(());
            }
        }
        let s = crate::shard::shard_of(&e.key, self.nshards);
        let db = self
            .shards
            .get_mut(s)
            .and_then(|d| d.get_mut(e.db))
            .ok_or_else(|| format!("db {} out of range", e.db))?;
        if db.get_live(&e.key, self.now).is_some() {
            return Err(format!(
                "Duplicate key '{}' found in RDB file",
                String::from_utf8_lossy(&e.key)
            ));
        }
        let mut entry = Entry::new(e.value);
        entry.expire_at = e.expire_ms.unwrap_or(NO_EXPIRE);
        entry.lru = crate::keyspace::evict::loaded_access(e.idle_secs, e.freq);
        db.put_entry(&e.key, entry);
        self.count(false);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Value;

    #[test]
    fn drained_chunks_form_a_loadable_file_with_every_db() {
        let mut dbs: Vec<Db> = (0..3).map(|_| Db::new()).collect();
        for i in 0..500 {
            dbs[0].set(format!("a{i}").as_bytes(), Value::from_bytes(b"x"));
        }
        dbs[2].set(b"b", Value::from_bytes(b"y"));
        dbs[2].set_expire(b"b", 4_000_000_000_000, 0);
        let epoch = crate::keyspace::snapshot::next_epoch();
        for (i, db) in dbs.iter_mut().enumerate() {
            if !db.is_empty() {
                db.snapshot_begin(i, epoch, serializer(true));
            }
        }
        let mut body = Vec::new();
        let mut keys = 0;
        loop {
            let (done, k) = drain_passes(&mut dbs, true, &mut body);
            keys += k;
            // Writes between steps do not change what the pass emits.
            dbs[0].set(b"a1", Value::from_bytes(b"changed"));
            if done {
                break;
            }
        }
        assert_eq!(keys, 501);
        let mut w = RdbWriter::new(Vec::new(), WriteOptions::default());
        w.header().unwrap();
        w.default_aux(&AuxFields::default()).unwrap();
        w.chunk(&body).unwrap();
        let file = w.finish().unwrap();
        let mut got = Vec::new();
        rdb::load(&file[..], |e| {
            got.push((e.db, e.key, e.value, e.expire_ms));
            Ok(())
        })
        .unwrap();
        assert_eq!(got.len(), 501);
        let a1 = got.iter().find(|g| g.1 == b"a1").unwrap();
        assert!(matches!(&a1.2, Value::Str(s) if s.as_bytes(&mut itoa::Buffer::new()) == b"x"));
        let b = got.iter().find(|g| g.1 == b"b").unwrap();
        assert_eq!((b.0, b.3), (2, Some(4_000_000_000_000)));
    }

    #[test]
    fn startup_load_routes_keys_and_drops_expired_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.rdb");
        let v = Value::from_bytes(b"v");
        let entries: Vec<(Vec<u8>, Option<i64>)> = (0..50)
            .map(|i| (format!("k{i}").into_bytes(), None))
            .chain([(b"old".to_vec(), Some(1000))])
            .collect();
        let dbs = [rdb::write::DbEntries {
            db: 3,
            entries: entries.iter().map(|(k, e)| (&k[..], &v, *e)).collect(),
        }];
        rdb::save_snapshot(&path, &AuxFields::default(), &dbs, WriteOptions::default()).unwrap();
        let Ok(Some(loaded)) = load_at_startup(&path, 2, 16, None) else {
            panic!("load failed")
        };
        assert_eq!((loaded.keys_loaded, loaded.keys_expired), (50, 1));
        let shards = loaded.dbs;
        let mut total = 0;
        for (s, dbs) in shards.iter().enumerate() {
            for (k, _) in dbs[3].iter() {
                assert_eq!(crate::shard::shard_of(k, 2), s);
                total += 1;
            }
        }
        assert_eq!(total, 50);
        // Too few databases, truncation and a bad checksum are errors naming the file.
        assert!(load_at_startup(&path, 1, 2, None).is_err());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 20]).unwrap();
        let Err(e) = load_at_startup(&path, 1, 16, None) else {
            panic!("loaded a bad file")
        };
        assert!(
            e.contains("dump.rdb") && e.contains("Unexpected EOF"),
            "{e}"
        );
        let mut bad = bytes.clone();
        let n = bad.len();
        bad[n - 1] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        let Err(e) = load_at_startup(&path, 1, 16, None) else {
            panic!("loaded a bad file")
        };
        assert!(e.contains("CRC"), "{e}");
        assert!(load_at_startup(&dir.path().join("none.rdb"), 1, 16, None)
            .unwrap()
            .is_none());
    }
}
