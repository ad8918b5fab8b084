//! The append-only file, Redis 7's multi-part layout (`appenddirname/` with a base file, incr
//! files and a manifest; see [`manifest`]).
//!
//! - Writing: one helper thread (`aof-writer`) is the consumer of the shard journals
//!   ([`crate::shard::journal`]): it merges them into one stream, appends it to the current incr
//!   file and fsyncs per `appendfsync` (`always`: before the replies of those writes leave, one
//!   fdatasync per batch; `everysec`: once a second; `no`: never). No file I/O on an executor.
//! - Loading: at startup, on a helper thread while the executors answer `-LOADING`
//!   ([`loader`], [`crate::persistence::loading`]); an old-style single AOF file is first
//!   migrated into the directory (`upgrade_legacy`).
//! - Rewriting without fork (BGREWRITEAOF, `CONFIG SET appendonly yes`, auto-aof-rewrite):
//!   multi-shard units are held for a moment, each shard serializes its part of the dataset
//!   and marks a cut in its journal in the same step, the writer opens a new incr file for
//!   everything after the cuts, writes the new base, and switches the manifest.
//!
//! The base is an RDB file (`<name>.<n>.base.rdb`, manifest `type b`) with
//! `aof-use-rdb-preamble yes` (the default): the snapshot machinery of
//! [`crate::persistence::snapshot`] streams it, and each shard marks its journal cut inside the
//! snapshot's consistent cut. With `aof-use-rdb-preamble no` it is the AOF-format
//! `.base.aof` ([`rewrite`]). Both load ([`loader::rdb_reader`] for RDB bases).

pub mod check;
pub mod feed;
pub mod loader;
pub mod manifest;
pub mod rewrite;

use crate::commands::spec::{spec, CommandSpec, Keys, ADMIN, NOSCRIPT, NO_ASYNC_LOADING};
use crate::commands::{BoxFuture, Handler};
use crate::config::Config;
use crate::keyspace::now_ms;
use crate::net::Conn;
use crate::shard::journal::{Item, StreamEncoder};
use crate::shard::{Mesh, Shard, Shared};
use bytes::Bytes;
use manifest::Manifest;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub static COMMANDS: &[CommandSpec] = &[spec(
    "bgrewriteaof",
    1,
    ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
    Keys::None,
    "server",
    "1.0.0",
    "Asynchronously rewrite the append-only file",
    "O(1)",
    Handler::Coord(bgrewriteaof),
)];

pub const REWRITE_IN_PROGRESS: &str =
    "ERR Background append only file rewriting already in progress";

/// Why the AOF could not be read or opened (the details are logged the way Redis logs them;
/// at startup the process then exits 1, like Redis).
#[derive(Debug, thiserror::Error)]
pub enum AofError {
    #[error("bad AOF manifest")]
    Manifest,
    #[error("can't load the append only file")]
    Load,
    #[error("{0}")]
    Io(String),
}

/// `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    Always,
    EverySec,
    No,
}

/// The AOF directives the writer and loader use.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `appenddirname` (relative to `dir`, the working directory).
    pub dir: PathBuf,
    pub filename: String,
    pub fsync: Fsync,
    pub load_truncated: bool,
    pub auto_percentage: u64,
    pub auto_min_size: u64,
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Settings {
        let get = |n: &str| cfg.get_one(n).unwrap_or_default();
        Settings {
            dir: cfg.dir.join(get("appenddirname")),
            filename: get("appendfilename"),
            fsync: match get("appendfsync").as_str() {
                "always" => Fsync::Always,
                "no" => Fsync::No,
                _ => Fsync::EverySec,
            },
            load_truncated: get("aof-load-truncated") != "no",
            auto_percentage: get("auto-aof-rewrite-percentage").parse().unwrap_or(100),
            auto_min_size: get("auto-aof-rewrite-min-size").parse().unwrap_or(64 << 20),
        }
    }
}

/// The new base a rewrite hands to the writer.
enum Base {
    /// AOF-format commands, to be written by the writer.
    Aof(Vec<Vec<u8>>),
    /// An RDB base already written and fsynced at [`rdb_temp_name`].
    Rdb,
    /// The base could not be produced.
    Failed(String),
}

/// Where a rewrite streams its RDB base before the writer renames it.
fn rdb_temp_name() -> String {
    format!("temp-rewriteaof-bg-{}.aof", std::process::id())
}

/// `aof-use-rdb-preamble`.
fn use_rdb_preamble(cfg: &Config) -> bool {
    cfg.get_one("aof-use-rdb-preamble").as_deref() != Some("no")
}

fn rdb_opts(cfg: &Config) -> crate::persistence::rdb::WriteOptions {
    crate::persistence::rdb::WriteOptions {
        compression: cfg.rdbcompression,
        checksum: cfg.rdbchecksum,
    }
}

fn rdb_aux() -> crate::persistence::rdb::write::AuxFields {
    let mut aux = crate::persistence::snapshot::aux_now();
    aux.aof_base = true;
    aux
}

enum Control {
    BeginRewrite { epoch: u64, enabling: bool },
    Base { epoch: u64, base: Base },
    SetFsync(Fsync),
    Stop(crossbeam_channel::Sender<()>),
}

/// The AOF's shared state (in `Shared`): the writer's control channel and what INFO shows.
pub struct Aof {
    ctl: Mutex<Option<crossbeam_channel::Sender<Control>>>,
    pub enabled: AtomicBool,
    pub rewrite_in_progress: AtomicBool,
    pub rewrite_scheduled: AtomicBool,
    pub rewrites: AtomicU64,
    /// Rewrites failed since the last one that succeeded (aof_rewrites_consecutive_failures).
    pub rewrite_failures: AtomicU64,
    /// Duration of the last rewrite in seconds (-1: none yet).
    pub last_rewrite_time_sec: AtomicI64,
    /// Unix ms the running rewrite started.
    pub rewrite_started_ms: AtomicI64,
    pub last_bgrewrite_ok: AtomicBool,
    pub last_write_ok: AtomicBool,
    pub current_size: AtomicU64,
    pub base_size: AtomicU64,
    epoch: AtomicU64,
    acked_epoch: AtomicU64,
    finished_epoch: AtomicU64,
}

impl Default for Aof {
    fn default() -> Aof {
        Aof {
            ctl: Mutex::new(None),
            enabled: AtomicBool::new(false),
            rewrite_in_progress: AtomicBool::new(false),
            rewrite_scheduled: AtomicBool::new(false),
            rewrites: AtomicU64::new(0),
            rewrite_failures: AtomicU64::new(0),
            last_rewrite_time_sec: AtomicI64::new(-1),
            rewrite_started_ms: AtomicI64::new(0),
            last_bgrewrite_ok: AtomicBool::new(true),
            last_write_ok: AtomicBool::new(true),
            current_size: AtomicU64::new(0),
            base_size: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            acked_epoch: AtomicU64::new(0),
            finished_epoch: AtomicU64::new(0),
        }
    }
}

impl Aof {
    fn send(&self, shared: &Shared, c: Control) -> bool {
        let ok = match &*self.ctl.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(tx) => tx.send(c).is_ok(),
            None => false,
        };
        shared.hub.wake_consumer();
        ok
    }

    /// INFO persistence's AOF lines (Redis 7.0 names and order).
    pub fn info(&self, o: &mut String) {
        use std::fmt::Write as _;
        let on = self.enabled.load(Ordering::Relaxed);
        let running = self.rewrite_in_progress.load(Ordering::Relaxed);
        let cur = if running {
            (now_ms() - self.rewrite_started_ms.load(Ordering::Relaxed)) / 1000
        } else {
            -1
        };
        let ok = |b: &AtomicBool| {
            if b.load(Ordering::Relaxed) {
                "ok"
            } else {
                "err"
            }
        };
        let _ = write!(
            o,
            "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\n\
             aof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\n\
             aof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\n\
             aof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\n\
             aof_last_cow_size:0\r\n",
            on as u8,
            running as u8,
            self.rewrite_scheduled.load(Ordering::Relaxed) as u8,
            self.last_rewrite_time_sec.load(Ordering::Relaxed),
            cur,
            ok(&self.last_bgrewrite_ok),
            self.rewrites.load(Ordering::Relaxed),
            self.rewrite_failures.load(Ordering::Relaxed),
            ok(&self.last_write_ok),
        );
    }

    /// The lines INFO persistence adds at its end while the AOF is on.
    pub fn info_tail(&self, o: &mut String) {
        use std::fmt::Write as _;
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        let _ = write!(
            o,
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:0\r\n\
             aof_buffer_length:0\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\n",
            self.current_size.load(Ordering::Relaxed),
            self.base_size.load(Ordering::Relaxed),
        );
    }
}

fn strerror(e: &std::io::Error) -> String {
    crate::config::value::strerror(e)
}

/// Writes `text` to `dir/name` atomically (temp file, fsync, rename, dir fsync).
fn write_atomic(dir: &Path, name: &str, temp: &str, text: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(temp);
    {
        let mut f = File::create(&tmp)?;
        f.write_all(text)?;
        f.sync_data()?;
    }
    std::fs::rename(&tmp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

fn persist_manifest(s: &Settings, m: &Manifest) -> std::io::Result<()> {
    let r = write_atomic(
        &s.dir,
        &manifest::manifest_name(&s.filename),
        &manifest::temp_manifest_name(&s.filename),
        m.render().as_bytes(),
    );
    if let Err(e) = &r {
        tracing::warn!(
            "Can't open the AOF manifest file {}: {}",
            manifest::manifest_name(&s.filename),
            strerror(e)
        );
    }
    r
}

fn open_append(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
}

/// Reads the manifest from disk (None when the directory or the manifest is absent; Redis
/// exits on a bad manifest, and so does the caller).
pub fn read_manifest(s: &Settings) -> Result<Option<Manifest>, AofError> {
    let path = s.dir.join(manifest::manifest_name(&s.filename));
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            tracing::warn!(
                "Fatal error: can't open the AOF manifest file {} for reading: {}",
                path.display(),
                strerror(&e)
            );
            return Err(AofError::Manifest);
        }
    };
    match Manifest::parse(&text) {
        Ok(m) => Ok(Some(m)),
        Err(e) => {
            tracing::warn!("\n*** FATAL AOF MANIFEST FILE ERROR ***\n");
            if let Some((n, line)) = &e.line {
                tracing::warn!("Reading the manifest file, at line {n}\n");
                tracing::warn!(">>> '{line}'\n");
            }
            tracing::warn!("{}\n", e.reason);
            Err(AofError::Manifest)
        }
    }
}

/// The running rewrite, from the writer's side.
struct Rewrite {
    epoch: u64,
    enabling: bool,
    cut_seen: Vec<bool>,
    file: File,
    /// The incr file receiving what follows the cuts (a temp name when enabling).
    name: String,
    enc: StreamEncoder,
    size: u64,
}

/// The writer thread's state.
struct Writer {
    s: Settings,
    shared: Arc<Shared>,
    manifest: Manifest,
    /// The incr file being appended to (None while the AOF is being switched on).
    file: Option<File>,
    enc: StreamEncoder,
    rw: Option<Rewrite>,
    last_fsync: Instant,
    unsynced: bool,
    incr_size: u64,
}

impl Writer {
    fn sync(&mut self) {
        let mut ok = true;
        if let Some(f) = &self.file {
            ok &= f.sync_data().is_ok();
        }
        if let Some(r) = &self.rw {
            ok &= r.file.sync_data().is_ok();
        }
        if !ok {
            tracing::warn!("Fail to fsync the AOF file");
            self.shared
                .aof
                .last_write_ok
                .store(false, Ordering::Relaxed);
        }
        self.last_fsync = Instant::now();
        self.unsynced = false;
    }

    /// Writes out everything ready in the journals; fsyncs per policy.
    fn drain(&mut self) {
        let (limit, ready) = self.shared.hub.take_ready();
        if ready.is_empty() {
            self.acked(limit);
            return;
        }
        let mut old = Vec::new();
        let mut new = Vec::new();
        for (s, item) in ready {
            match item {
                Item::Unit { ops, .. } => match &mut self.rw {
                    Some(r) if r.cut_seen.get(s).copied().unwrap_or(true) => {
                        r.enc.unit(&mut new, &ops)
                    }
                    // Before the cut of a switch-on: already in the new base.
                    Some(r) if r.enabling => {}
                    _ => self.enc.unit(&mut old, &ops),
                },
                Item::Cut { epoch, .. } => {
                    if let Some(r) = &mut self.rw {
                        if r.epoch == epoch {
                            if let Some(c) = r.cut_seen.get_mut(s) {
                                *c = true;
                            }
                        }
                    }
                }
            }
        }
        let mut ok = true;
        if !old.is_empty() {
            if let Some(f) = &mut self.file {
                ok &= f.write_all(&old).is_ok();
                self.incr_size += old.len() as u64;
            }
        }
        if !new.is_empty() {
            if let Some(r) = &mut self.rw {
                ok &= r.file.write_all(&new).is_ok();
                r.size += new.len() as u64;
            }
        }
        let aof = &self.shared.aof;
        if !ok {
            tracing::warn!("Error writing to the AOF file: short write or I/O error");
        }
        aof.last_write_ok.store(ok, Ordering::Relaxed);
        aof.current_size
            .fetch_add((old.len() + new.len()) as u64, Ordering::Relaxed);
        self.unsynced = true;
        match self.s.fsync {
            Fsync::Always => self.sync(),
            Fsync::EverySec if self.last_fsync.elapsed() >= Duration::from_secs(1) => self.sync(),
            _ => {}
        }
        self.acked(limit);
    }

    /// Everything numbered below `limit` is written (and fsynced under `always`): its replies
    /// may leave.
    fn acked(&self, limit: u64) {
        let hub = &self.shared.hub;
        hub.written.set(limit);
        if self.s.fsync == Fsync::Always {
            hub.durable.set(limit);
        }
    }

    fn begin_rewrite(&mut self, epoch: u64, enabling: bool) -> std::io::Result<()> {
        let n = self.shared.hub.nshards();
        let (name, manifest) = if enabling {
            (format!("temp-{}.incr", self.s.filename), None)
        } else {
            let mut m = self.manifest.clone();
            let name = m.new_incr(&self.s.filename);
            (name, Some(m))
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.s.dir.join(&name))
            .inspect_err(|e| {
                tracing::warn!("Can't open the append-only file {name}: {}", strerror(e))
            })?;
        if let Some(m) = manifest {
            persist_manifest(&self.s, &m)?;
            self.manifest = m;
        }
        tracing::info!("Creating AOF incr file {name} on background rewrite");
        self.rw = Some(Rewrite {
            epoch,
            enabling,
            cut_seen: vec![false; n],
            file,
            name,
            enc: StreamEncoder::new(),
            size: 0,
        });
        Ok(())
    }

    /// Makes a (non-enabling) rewrite's incr file the current one: it was added to the manifest
    /// when the rewrite started and already holds what followed the cuts, so a rewrite that
    /// fails later keeps it (Redis keeps the incr file opened by a failed rewrite too) and
    /// every acknowledged write stays in the files the manifest loads, in order. Returns a
    /// switch-on rewrite untouched (its temp incr only becomes an AOF file on success).
    fn adopt_incr(&mut self, rw: Rewrite) -> Option<Rewrite> {
        if rw.enabling {
            return Some(rw);
        }
        if let Some(old) = &self.file {
            if old.sync_data().is_err() {
                tracing::warn!("Fail to fsync the AOF file");
                self.shared
                    .aof
                    .last_write_ok
                    .store(false, Ordering::Relaxed);
            }
        }
        self.file = Some(rw.file);
        self.enc = rw.enc;
        self.incr_size = rw.size;
        None
    }

    fn finish_rewrite(&mut self, epoch: u64, base: Base) -> std::io::Result<()> {
        if let Base::Failed(why) = base {
            return Err(std::io::Error::other(why));
        }
        // The cuts were journaled before the base was sent: take them in.
        for _ in 0..1000 {
            self.drain();
            if self
                .rw
                .as_ref()
                .is_none_or(|r| r.epoch != epoch || r.cut_seen.iter().all(|c| *c))
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let Some(rw) = self.rw.take() else {
            return Err(std::io::Error::other("no rewrite in progress"));
        };
        let complete = rw.epoch == epoch && rw.cut_seen.iter().all(|c| *c);
        // The new incr file is in the manifest since the rewrite started: it is the current
        // incr file from now on, whatever happens to the base.
        let enabling = self.adopt_incr(rw);
        if !complete {
            if let Some(rw) = enabling {
                self.rw = Some(rw);
            }
            return Err(std::io::Error::other("the rewrite's cut is incomplete"));
        }
        if let Some(rw) = &enabling {
            rw.file.sync_data()?;
        }
        let temp = rdb_temp_name();
        let rdb = matches!(base, Base::Rdb);
        let base_size = match base {
            Base::Aof(chunks) => {
                let mut f = File::create(self.s.dir.join(&temp))?;
                let mut n = 0;
                for c in &chunks {
                    f.write_all(c)?;
                    n += c.len() as u64;
                }
                f.sync_data()?;
                n
            }
            _ => std::fs::metadata(self.s.dir.join(&temp))?.len(),
        };
        tracing::info!("Background AOF rewrite terminated with success");
        let mut m = self.manifest.clone();
        let base = m.new_base(&self.s.filename, rdb);
        std::fs::rename(self.s.dir.join(&temp), self.s.dir.join(&base))?;
        tracing::info!("Successfully renamed the temporary AOF base file {temp} into {base}");
        if let Some(rw) = &enabling {
            let name = m.new_incr(&self.s.filename);
            std::fs::rename(self.s.dir.join(&rw.name), self.s.dir.join(&name))?;
            tracing::info!(
                "Successfully renamed the temporary AOF incr file {} into {name}",
                rw.name
            );
        }
        m.mark_rewritten_incrs_as_history();
        persist_manifest(&self.s, &m)?;
        self.manifest = m;
        if let Some(rw) = enabling {
            self.file = Some(rw.file);
            self.enc = rw.enc;
            self.incr_size = rw.size;
        }
        // Remove the history files, then record that they are gone.
        let history = std::mem::take(&mut self.manifest.history);
        for h in &history {
            tracing::info!("Removing the history file {} in the background", h.name);
            let _ = std::fs::remove_file(self.s.dir.join(&h.name));
        }
        if !history.is_empty() {
            let _ = persist_manifest(&self.s, &self.manifest);
        }
        let aof = &self.shared.aof;
        aof.base_size.store(base_size, Ordering::Relaxed);
        aof.current_size
            .store(base_size + self.incr_size, Ordering::Relaxed);
        tracing::info!("Background AOF rewrite finished successfully");
        Ok(())
    }

    fn run(mut self, rx: crossbeam_channel::Receiver<Control>) {
        loop {
            let timeout = match self.s.fsync {
                Fsync::EverySec if self.unsynced => Duration::from_millis(200),
                _ => Duration::from_secs(1),
            };
            self.shared.hub.wait_for_work(timeout);
            while let Ok(c) = rx.try_recv() {
                match c {
                    Control::BeginRewrite { epoch, enabling } => {
                        self.drain();
                        let ok = self.begin_rewrite(epoch, enabling).is_ok();
                        let aof = &self.shared.aof;
                        aof.acked_epoch
                            .store(if ok { epoch } else { u64::MAX }, Ordering::SeqCst);
                    }
                    Control::Base { epoch, base } => {
                        let res = self.finish_rewrite(epoch, base);
                        let shared = self.shared.clone();
                        let aof = &shared.aof;
                        if let Err(e) = &res {
                            tracing::warn!("Background AOF rewrite failed: {e}");
                            if let Some(r) = self.rw.take().and_then(|r| self.adopt_incr(r)) {
                                let _ = std::fs::remove_file(self.s.dir.join(&r.name));
                            }
                            let _ = std::fs::remove_file(self.s.dir.join(rdb_temp_name()));
                        }
                        aof.last_bgrewrite_ok.store(res.is_ok(), Ordering::Relaxed);
                        if res.is_ok() {
                            aof.rewrites.fetch_add(1, Ordering::Relaxed);
                            aof.rewrite_failures.store(0, Ordering::Relaxed);
                            aof.rewrite_failures.store(0, Ordering::Relaxed);
                            if self.file.is_some() {
                                aof.enabled.store(true, Ordering::Relaxed);
                            }
                        } else {
                            aof.rewrite_failures.fetch_add(1, Ordering::Relaxed);
                        }
                        aof.finished_epoch.store(epoch, Ordering::SeqCst);
                    }
                    Control::SetFsync(f) => self.s.fsync = f,
                    Control::Stop(done) => {
                        self.drain();
                        self.sync();
                        let _ = done.send(());
                        return;
                    }
                }
            }
            self.drain();
            if self.s.fsync == Fsync::EverySec
                && self.unsynced
                && self.last_fsync.elapsed() >= Duration::from_secs(1)
            {
                self.sync();
            }
        }
    }
}

fn spawn_writer(shared: &Arc<Shared>, w: Writer) -> std::io::Result<()> {
    let (tx, rx) = crossbeam_channel::unbounded();
    *shared.aof.ctl.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
    std::thread::Builder::new()
        .name("aof-writer".into())
        .spawn(move || w.run(rx))
        .map(|_| ())
}

/// Where a Redis < 7 single-file AOF lives: `appendfilename` in `dir` (the parent of
/// `appenddirname`).
fn legacy_path(s: &Settings) -> PathBuf {
    s.dir.with_file_name(&s.filename)
}

/// Whether `appendonly yes` has files to load: the directory's manifest, or an old-style
/// single AOF file to migrate.
pub fn files_exist(cfg: &Config) -> bool {
    let s = Settings::from_config(cfg);
    s.dir.join(manifest::manifest_name(&s.filename)).is_file() || legacy_path(&s).is_file()
}

/// Redis 7.0's upgrade of an old-style single AOF file (`loadAppendOnlyFiles` +
/// `aofUpgradePrepare`): when `dir/appendfilename` exists and the AOF directory is absent, or
/// has no manifest, or names only that file as its base without holding it, the file becomes
/// the base (seq 1) of a new manifest and moves into the directory. Each step can be redone
/// after a crash; a failure is fatal, like Redis.
fn upgrade_legacy(s: &Settings, m: &mut Manifest) -> Result<(), AofError> {
    let legacy = legacy_path(s);
    if !legacy.is_file() {
        return Ok(());
    }
    let moved = s.dir.join(&s.filename);
    let upgrade = !s.dir.is_dir()
        || (m.base.is_none() && m.incrs.is_empty())
        || (m.incrs.is_empty()
            && m.base.as_ref().is_some_and(|b| b.name == s.filename)
            && !moved.exists());
    if !upgrade {
        return Ok(());
    }
    let dirname = s
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Err(e) = std::fs::create_dir_all(&s.dir) {
        tracing::warn!(
            "Can't open or create append-only dir {dirname}: {}",
            strerror(&e)
        );
        return Err(AofError::Io(strerror(&e)));
    }
    m.base = Some(manifest::AofInfo {
        name: s.filename.clone(),
        seq: 1,
        kind: manifest::FileType::Base,
    });
    m.base_seq = 1;
    persist_manifest(s, m).map_err(|e| AofError::Io(strerror(&e)))?;
    if let Err(e) = std::fs::rename(&legacy, &moved) {
        tracing::warn!(
            "Error trying to move the old AOF file {} into dir {dirname}: {}",
            s.filename,
            strerror(&e)
        );
        return Err(AofError::Io(strerror(&e)));
    }
    tracing::info!(
        "Successfully migrated an old-style AOF file ({}) into the AOF directory ({dirname}).",
        s.filename
    );
    Ok(())
}

/// Startup with `appendonly yes` (Redis's loadDataFromDisk + aofOpenIfNeededOnServerStart):
/// loads the directory into `shared.preload`, opens (or creates) the files and starts the
/// writer. An error means exit(1), like Redis.
pub fn startup(shared: &Arc<Shared>) -> Result<(), AofError> {
    let (s, ndbs, preamble) = {
        let cfg = shared.config();
        if !cfg.appendonly {
            return Ok(());
        }
        (
            Settings::from_config(&cfg),
            cfg.databases,
            use_rdb_preamble(&cfg),
        )
    };
    let mut m = read_manifest(&s)?.unwrap_or_default();
    upgrade_legacy(&s, &mut m)?;
    let start = Instant::now();
    let feed = feed::KernelFeed::new(shared.clone(), ndbs);
    let mut r = loader::Loader::new(Box::new(feed), ndbs);
    let sh = shared.clone();
    r.on_progress = Some(Box::new(move |n| sh.persistence.loading.progress(n)));
    let (status, base_size) = loader::load_dir(
        &s.dir,
        &m,
        s.load_truncated,
        loader::rdb_reader,
        &mut r,
        Some(&shared.persistence.loading),
    );
    match status {
        loader::Status::Failed | loader::Status::OpenErr => return Err(AofError::Load),
        loader::Status::NotExist => {}
        _ => tracing::info!(
            "DB loaded from append only file: {:.3} seconds",
            start.elapsed().as_secs_f32()
        ),
    }
    // The dataset is in place: the RDB part in the preload, every command run on the shards.
    drop(r);
    if let Err(e) = std::fs::create_dir_all(&s.dir) {
        tracing::warn!(
            "Can't open or create append-only dir {}: {}",
            s.dir.display(),
            strerror(&e)
        );
        return Err(AofError::Io(strerror(&e)));
    }
    let mut base_size = base_size;
    if m.base.is_none() && m.incrs.is_empty() {
        // Starting with an empty dataset: an empty base.
        let name = m.new_base(&s.filename, preamble);
        if let Err(e) = File::create(s.dir.join(&name)).and_then(|f| f.sync_data()) {
            tracing::warn!("Can't create the AOF base file {name}: {}", strerror(&e));
            return Err(AofError::Io(strerror(&e)));
        }
        base_size = 0;
        tracing::info!("Creating AOF base file {name} on server start");
    }
    let existing = !m.incrs.is_empty();
    let name = match m.incrs.last() {
        Some(i) => i.name.clone(),
        None => m.new_incr(&s.filename),
    };
    let file = match open_append(&s.dir.join(&name)) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!("Can't open the append-only file {name}: {}", strerror(&e));
            return Err(AofError::Io(strerror(&e)));
        }
    };
    persist_manifest(&s, &m).map_err(|e| AofError::Io(strerror(&e)))?;
    let incr_size = file.metadata().map_or(0, |md| md.len());
    if existing {
        tracing::info!("Opening AOF incr file {name} on server start");
    } else {
        tracing::info!("Creating AOF incr file {name} on server start");
    }
    let total: u64 = m
        .load_order()
        .iter()
        .filter_map(|f| std::fs::metadata(s.dir.join(&f.name)).ok())
        .map(|md| md.len())
        .sum();
    shared.aof.base_size.store(base_size, Ordering::Relaxed);
    shared.aof.current_size.store(total, Ordering::Relaxed);
    shared.aof.enabled.store(true, Ordering::Relaxed);
    shared.hub.set_reply_wait(true, s.fsync == Fsync::Always);
    shared.hub.set_active(true);
    let w = Writer {
        s,
        shared: shared.clone(),
        manifest: m,
        file: Some(file),
        enc: StreamEncoder::new(),
        rw: None,
        last_fsync: Instant::now(),
        unsynced: false,
        incr_size,
    };
    spawn_writer(shared, w).map_err(|e| {
        tracing::warn!("Can't start the AOF writer: {e}");
        AofError::Io(strerror(&e))
    })
}

/// Stops the writer after it wrote and fsynced everything, blocking the calling thread (the
/// main thread at shutdown).
pub fn stop(shared: &Shared) {
    if let Some(rx) = request_stop(shared) {
        let _ = rx.recv_timeout(Duration::from_secs(30));
    }
    stopped(shared);
}

/// [`stop`] from an executor (CONFIG SET appendonly no): waits without blocking the thread.
pub async fn stop_async(shared: &Shared) {
    if let Some(rx) = request_stop(shared) {
        let start = Instant::now();
        while rx.try_recv().is_err() && start.elapsed() < Duration::from_secs(30) {
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
    }
    stopped(shared);
}

fn request_stop(shared: &Shared) -> Option<crossbeam_channel::Receiver<()>> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    shared.aof.send(shared, Control::Stop(tx)).then_some(rx)
}

fn stopped(shared: &Shared) {
    *shared.aof.ctl.lock().unwrap_or_else(|p| p.into_inner()) = None;
    shared.aof.enabled.store(false, Ordering::Relaxed);
    shared.hub.set_reply_wait(false, false);
    shared.hub.set_active(false);
    shared.hub.clear();
}

/// Flushes and fsyncs the AOF at shutdown (Redis's prepareForShutdown does the same).
pub fn shutdown(shared: &Shared) {
    if shared.aof.enabled.load(Ordering::Relaxed)
        || shared.aof.ctl.lock().map(|c| c.is_some()).unwrap_or(false)
    {
        stop(shared);
    }
}

/// Waits (polling, off the hot path) until `f` holds, at most `limit`.
async fn wait_until(limit: Duration, f: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while !f() {
        if start.elapsed() > limit {
            return false;
        }
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    true
}

/// A rewrite without fork, driven from an executor: see the module comment. `enabling`:
/// the AOF is being switched on (everything before the cuts is in the base).
pub async fn rewrite(shard: Rc<Shard>, enabling: bool) -> bool {
    let shared = shard.shared.clone();
    let aof = &shared.aof;
    let epoch = aof.epoch.fetch_add(1, Ordering::SeqCst) + 1;
    aof.rewrite_started_ms.store(now_ms(), Ordering::Relaxed);
    aof.rewrite_scheduled.store(false, Ordering::Relaxed);
    let started = Instant::now();
    let fail = |why: &str| {
        tracing::warn!("Background AOF rewrite failed: {why}");
        aof.last_bgrewrite_ok.store(false, Ordering::Relaxed);
        aof.rewrite_failures.fetch_add(1, Ordering::Relaxed);
        aof.rewrite_in_progress.store(false, Ordering::SeqCst);
        false
    };
    if !aof.send(&shared, Control::BeginRewrite { epoch, enabling }) {
        return fail("the AOF writer is not running");
    }
    let acked = wait_until(Duration::from_secs(10), || {
        let a = aof.acked_epoch.load(Ordering::SeqCst);
        a == epoch || a == u64::MAX
    })
    .await;
    if !acked || aof.acked_epoch.load(Ordering::SeqCst) != epoch {
        aof.acked_epoch.store(0, Ordering::SeqCst);
        return fail("can't open a new incr file");
    }
    tracing::info!(
        "Background append only file rewriting started by pid {}",
        std::process::id()
    );
    let (preamble, opts, dir) = {
        let cfg = shared.config();
        (
            use_rdb_preamble(&cfg),
            rdb_opts(&cfg),
            Settings::from_config(&cfg).dir,
        )
    };
    let base = if preamble {
        rdb_base(&shard, epoch, opts, dir).await
    } else {
        Base::Aof(aof_base(&shard, epoch).await)
    };
    if !aof.send(&shared, Control::Base { epoch, base }) {
        return fail("the AOF writer stopped");
    }
    let done = wait_until(Duration::from_secs(3600), || {
        aof.finished_epoch.load(Ordering::SeqCst) >= epoch
    })
    .await;
    aof.rewrite_in_progress.store(false, Ordering::SeqCst);
    if done {
        aof.last_rewrite_time_sec
            .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
    }
    done && aof.last_bgrewrite_ok.load(Ordering::Relaxed)
}

/// Each shard's part of the rewrite, inside the cut: journal the pending expirations, then
/// mark the cut (what follows goes to the new incr file).
fn mark_cut(sh: &Shard, epoch: u64) {
    let hub = &sh.shared.hub;
    let mut data = sh.data.borrow_mut();
    let data = &mut *data;
    if data.effects.on != hub.active() {
        data.effects.set_on(hub.active(), &mut data.dbs);
    }
    data.effects.flush_expired(hub, sh.id, &mut data.dbs);
    hub.push_cut(sh.id, epoch);
}

/// The `aof-use-rdb-preamble no` base: every shard serializes its keys as commands in the
/// same step as its cut.
async fn aof_base(shard: &Rc<Shard>, epoch: u64) -> Vec<Vec<u8>> {
    let closed = shard.shared.cut_gate.close().await;
    let mut chunks = Vec::with_capacity(shard.nshards);
    for s in 0..shard.nshards {
        let chunk = Mesh::run_on(shard, s, move |sh| {
            mark_cut(sh, epoch);
            let now = now_ms();
            let data = sh.data.borrow();
            let mut out = Vec::new();
            for (i, db) in data.dbs.iter().enumerate() {
                rewrite::rewrite_db(&mut out, i, db, now);
            }
            out
        })
        .await;
        chunks.push(chunk);
    }
    drop(closed);
    chunks
}

/// The `aof-use-rdb-preamble yes` base: an RDB snapshot whose consistent cut also marks each
/// shard's journal cut, streamed by the snapshot writer thread to the temp base file (fsynced).
async fn rdb_base(
    shard: &Rc<Shard>,
    epoch: u64,
    opts: crate::persistence::rdb::WriteOptions,
    dir: PathBuf,
) -> Base {
    let path = dir.join(rdb_temp_name());
    let res = crate::persistence::snapshot::write_rdb_to_at_cut(
        shard,
        0,
        opts,
        rdb_aux(),
        move |sh: &Rc<Shard>| mark_cut(sh, epoch),
        move || {
            File::create(&path).map_err(|e| {
                format!(
                    "Can't open the temp AOF base file {}: {}",
                    path.display(),
                    strerror(&e)
                )
            })
        },
        |f: File| f.sync_data().map_err(|e| strerror(&e)),
    )
    .await;
    match res {
        Ok(_) => Base::Rdb,
        Err(e) => Base::Failed(e),
    }
}

/// BGREWRITEAOF with the AOF off: serialize every shard, then a helper thread writes the base
/// file and a manifest naming it (the incr files listed before, if any, stay listed).
async fn rewrite_base_only(shard: Rc<Shard>) {
    let shared = shard.shared.clone();
    let started = Instant::now();
    shared
        .aof
        .rewrite_started_ms
        .store(now_ms(), Ordering::Relaxed);
    let (settings, preamble, opts) = {
        let cfg = shared.config();
        (
            Settings::from_config(&cfg),
            use_rdb_preamble(&cfg),
            rdb_opts(&cfg),
        )
    };
    let mut chunks = Vec::with_capacity(shard.nshards);
    let mut base_ok = true;
    if preamble {
        let path = settings.dir.join(rdb_temp_name());
        let dir = settings.dir.clone();
        let res = crate::persistence::snapshot::write_rdb_to(
            &shard,
            0,
            opts,
            rdb_aux(),
            move || {
                std::fs::create_dir_all(&dir)
                    .and_then(|_| File::create(&path))
                    .map_err(|e| strerror(&e))
            },
            |f: File| f.sync_data().map_err(|e| strerror(&e)),
        )
        .await;
        if let Err(e) = res {
            tracing::warn!("Background AOF rewrite failed: {e}");
            base_ok = false;
        }
    }
    for s in (0..shard.nshards).filter(|_| !preamble) {
        chunks.push(
            Mesh::run_on(&shard, s, |sh| {
                let now = now_ms();
                let data = sh.data.borrow();
                let mut out = Vec::new();
                for (i, db) in data.dbs.iter().enumerate() {
                    rewrite::rewrite_db(&mut out, i, db, now);
                }
                out
            })
            .await,
        );
    }
    let done = Arc::new(AtomicI64::new(0));
    let flag = done.clone();
    let spawned = std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || {
            let ok = base_ok && write_base_only(&settings, preamble, &chunks).is_ok();
            flag.store(if ok { 1 } else { 2 }, Ordering::SeqCst);
        });
    let ok = spawned.is_ok()
        && wait_until(Duration::from_secs(3600), || {
            done.load(Ordering::SeqCst) != 0
        })
        .await
        && done.load(Ordering::SeqCst) == 1;
    let aof = &shared.aof;
    aof.last_bgrewrite_ok.store(ok, Ordering::Relaxed);
    if ok {
        aof.rewrites.fetch_add(1, Ordering::Relaxed);
        aof.last_rewrite_time_sec
            .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
    } else {
        aof.rewrite_failures.fetch_add(1, Ordering::Relaxed);
    }
    aof.rewrite_in_progress.store(false, Ordering::SeqCst);
}

/// Writes the AOF-format base from `chunks`, or (`rdb`) takes the RDB base already written
/// at [`rdb_temp_name`], and switches the manifest to it.
fn write_base_only(s: &Settings, rdb: bool, chunks: &[Vec<u8>]) -> std::io::Result<()> {
    let r = (|| {
        std::fs::create_dir_all(&s.dir)?;
        let mut m = read_manifest(s)
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .unwrap_or_default();
        let temp = rdb_temp_name();
        if !rdb {
            let mut f = File::create(s.dir.join(&temp))?;
            for c in chunks {
                f.write_all(c)?;
            }
            f.sync_data()?;
        }
        tracing::info!("Background AOF rewrite terminated with success");
        let base = m.new_base(&s.filename, rdb);
        std::fs::rename(s.dir.join(&temp), s.dir.join(&base))?;
        tracing::info!("Successfully renamed the temporary AOF base file {temp} into {base}");
        persist_manifest(s, &m)?;
        let history = std::mem::take(&mut m.history);
        for h in &history {
            tracing::info!("Removing the history file {} in the background", h.name);
            let _ = std::fs::remove_file(s.dir.join(&h.name));
        }
        if !history.is_empty() {
            persist_manifest(s, &m)?;
        }
        tracing::info!("Background AOF rewrite finished successfully");
        Ok(())
    })();
    if let Err(e) = &r {
        tracing::warn!("Background AOF rewrite failed: {e}");
    }
    r
}

/// Starts a rewrite in the background unless one runs; false when one was running.
pub fn start_rewrite(shard: &Rc<Shard>, enabling: bool) -> bool {
    if shard
        .shared
        .aof
        .rewrite_in_progress
        .swap(true, Ordering::SeqCst)
    {
        return false;
    }
    let sh = shard.clone();
    glommio::spawn_local(async move {
        let ok = rewrite(sh.clone(), enabling).await;
        if enabling && !ok {
            tracing::warn!("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
            stop_async(&sh.shared).await;
        }
    })
    .detach();
    true
}

/// Switches the AOF on at runtime (Redis's startAppendOnly): the writer starts with no
/// file, and the rewrite's base plus what followed its cut become the new files.
pub fn enable(shard: &Rc<Shard>) -> Result<(), String> {
    let shared = &shard.shared;
    if shared.aof.ctl.lock().map(|c| c.is_some()).unwrap_or(false) {
        return Ok(());
    }
    let s = Settings::from_config(&shared.config());
    if let Err(e) = std::fs::create_dir_all(&s.dir) {
        return Err(format!(
            "Can't open or create append-only dir {}: {}",
            s.dir.display(),
            strerror(&e)
        ));
    }
    let m = read_manifest(&s)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    shared.hub.set_reply_wait(true, s.fsync == Fsync::Always);
    let w = Writer {
        s,
        shared: shared.clone(),
        manifest: m,
        file: None,
        enc: StreamEncoder::new(),
        rw: None,
        last_fsync: Instant::now(),
        unsynced: false,
        incr_size: 0,
    };
    spawn_writer(shared, w).map_err(|e| e.to_string())?;
    shared.hub.set_active(true);
    if !start_rewrite(shard, true) {
        shared.aof.rewrite_scheduled.store(true, Ordering::Relaxed);
    }
    Ok(())
}

/// CONFIG SET side effects for the AOF directives.
pub fn config_changed(shard: &Rc<Shard>, changed: &[&str]) -> Result<(), String> {
    let shared = &shard.shared;
    for name in changed {
        match *name {
            "appendonly" => {
                let on = shared.config().appendonly;
                let running = shared.aof.ctl.lock().map(|c| c.is_some()).unwrap_or(false);
                if on && !running && shared.persistence.loading.active() {
                    // The rewrite's base must hold the dataset being loaded: switch on after.
                    let shard = shard.clone();
                    glommio::spawn_local(async move {
                        let loading = &shard.shared.persistence.loading;
                        while loading.active() {
                            glommio::timer::sleep(Duration::from_millis(10)).await;
                        }
                        let running = shard.shared.aof.ctl.lock().map(|c| c.is_some());
                        if shard.shared.config().appendonly && !running.unwrap_or(true) {
                            if let Err(e) = enable(&shard) {
                                tracing::warn!("Can't enable the AOF: {e}");
                            }
                        }
                    })
                    .detach();
                } else if on && !running {
                    enable(shard)?;
                } else if !on && running {
                    // The reply does not wait for the final fsync (Redis's stopAppendOnly
                    // fsyncs in the background too).
                    let shard = shard.clone();
                    glommio::spawn_local(async move {
                        stop_async(&shard.shared).await;
                        // Switched on again meanwhile: that CONFIG SET found the writer still
                        // running and did nothing.
                        if shard.shared.config().appendonly {
                            if let Err(e) = enable(&shard) {
                                tracing::warn!("Can't enable the AOF: {e}");
                            }
                        }
                    })
                    .detach();
                }
            }
            "lazyfree-lazy-expire" => crate::shard::journal::set_lazy_expire(
                shared.config().get_one(name).as_deref() == Some("yes"),
            ),
            "appendfsync" => {
                let f = Settings::from_config(&shared.config()).fsync;
                shared.aof.send(shared, Control::SetFsync(f));
                let on = shared.aof.ctl.lock().map(|c| c.is_some()).unwrap_or(false);
                shared.hub.set_reply_wait(on, on && f == Fsync::Always);
            }
            _ => {}
        }
    }
    Ok(())
}

/// serverCron's AOF part (run by shard 0): a scheduled rewrite, and auto-aof-rewrite when
/// the AOF grew by `auto-aof-rewrite-percentage` over its base and passed the minimum size.
pub fn cron(shard: &Rc<Shard>) {
    let aof = &shard.shared.aof;
    if aof.rewrite_in_progress.load(Ordering::Relaxed) {
        return;
    }
    // A BGREWRITEAOF that came during a BGSAVE runs once the save is done, AOF on or off.
    if aof.rewrite_scheduled.load(Ordering::Relaxed) {
        if !shard
            .shared
            .persistence
            .bgsave_in_progress
            .load(Ordering::Relaxed)
        {
            start_requested_rewrite(shard);
        }
        return;
    }
    if !aof.enabled.load(Ordering::Relaxed) {
        return;
    }
    let s = Settings::from_config(&shard.shared.config());
    let cur = aof.current_size.load(Ordering::Relaxed);
    if s.auto_percentage == 0 || cur <= s.auto_min_size {
        return;
    }
    let base = aof.base_size.load(Ordering::Relaxed).max(1);
    let growth = (cur * 100 / base).saturating_sub(100);
    if growth >= s.auto_percentage {
        tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
        start_rewrite(shard, false);
    }
}

fn bgrewriteaof<'a>(conn: &'a mut Conn, _argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        let shard = conn.shard.clone();
        let aof = &shard.shared.aof;
        if aof.rewrite_in_progress.load(Ordering::SeqCst) {
            conn.error(REWRITE_IN_PROGRESS);
            return;
        }
        // Redis's answer while another child (a BGSAVE) runs: the cron starts it afterwards.
        if shard
            .shared
            .persistence
            .bgsave_in_progress
            .load(Ordering::SeqCst)
        {
            aof.rewrite_scheduled.store(true, Ordering::Relaxed);
            conn.out
                .simple("Background append only file rewriting scheduled");
            return;
        }
        if start_requested_rewrite(&shard) {
            conn.out
                .simple("Background append only file rewriting started");
        } else {
            conn.error(REWRITE_IN_PROGRESS);
        }
    })
}

/// Starts the rewrite BGREWRITEAOF asked for; false when one is already running.
fn start_requested_rewrite(shard: &Rc<Shard>) -> bool {
    let aof = &shard.shared.aof;
    let off = !aof.enabled.load(Ordering::Relaxed)
        && !aof.ctl.lock().map(|c| c.is_some()).unwrap_or(false);
    if off {
        // With the AOF off, Redis writes a new base file (and a manifest naming it) only.
        if aof.rewrite_in_progress.swap(true, Ordering::SeqCst) {
            return false;
        }
        aof.rewrite_scheduled.store(false, Ordering::Relaxed);
        glommio::spawn_local(rewrite_base_only(shard.clone())).detach();
        return true;
    }
    start_rewrite(shard, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(root: &Path) -> Settings {
        Settings {
            dir: root.join("appendonlydir"),
            filename: "appendonly.aof".into(),
            fsync: Fsync::EverySec,
            load_truncated: true,
            auto_percentage: 100,
            auto_min_size: 64 << 20,
        }
    }

    fn base_only() -> Manifest {
        Manifest::parse(b"file appendonly.aof seq 1 type b\n").unwrap()
    }

    #[test]
    fn legacy_file_moves_into_the_directory_as_the_base() {
        let root = tempfile::tempdir().unwrap();
        let s = settings(root.path());
        std::fs::write(root.path().join("appendonly.aof"), b"*1\r\n$4\r\nPING\r\n").unwrap();
        let mut m = Manifest::default();
        upgrade_legacy(&s, &mut m).unwrap();
        assert_eq!(m, base_only());
        assert!(!root.path().join("appendonly.aof").exists());
        assert_eq!(
            std::fs::read(s.dir.join("appendonly.aof")).unwrap(),
            b"*1\r\n$4\r\nPING\r\n"
        );
        assert_eq!(
            read_manifest(&s).unwrap(),
            Some(base_only()),
            "the manifest is on disk"
        );
    }

    #[test]
    fn an_interrupted_upgrade_is_redone() {
        // A crash after the manifest was written but before the file moved.
        let root = tempfile::tempdir().unwrap();
        let s = settings(root.path());
        std::fs::create_dir_all(&s.dir).unwrap();
        std::fs::write(root.path().join("appendonly.aof"), b"x").unwrap();
        let mut m = base_only();
        persist_manifest(&s, &m).unwrap();
        upgrade_legacy(&s, &mut m).unwrap();
        assert!(s.dir.join("appendonly.aof").exists());
        assert!(!root.path().join("appendonly.aof").exists());
    }

    #[test]
    fn a_directory_in_use_is_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let s = settings(root.path());
        std::fs::create_dir_all(&s.dir).unwrap();
        std::fs::write(root.path().join("appendonly.aof"), b"old").unwrap();
        let mut m = Manifest::parse(
            b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
        )
        .unwrap();
        let before = m.clone();
        upgrade_legacy(&s, &mut m).unwrap();
        assert_eq!(m, before);
        assert!(root.path().join("appendonly.aof").exists());
        // No file at all: nothing to do either.
        let empty = tempfile::tempdir().unwrap();
        let mut m = Manifest::default();
        upgrade_legacy(&settings(empty.path()), &mut m).unwrap();
        assert_eq!(m, Manifest::default());
    }
}
