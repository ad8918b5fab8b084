//! Loading an AOF directory at startup (Redis's `loadAppendOnlyFiles` /
//! `loadSingleAppendOnlyFile`): the manifest's base file, then its incr files, each a stream of
//! RESP commands replayed through the command table into per-shard databases (on the
//! loader thread; the shards take them in at the end). Truncated tails and garbage get Redis's
//! outcome and log lines.
//!
//! A file that starts with `REDIS` (a `.base.rdb` base, or an old single-file AOF with an RDB
//! preamble) is read by [`RdbBaseLoader`] (normally [`rdb_reader`]) first; any AOF commands
//! after the RDB part are then replayed.

use super::manifest::Manifest;
use crate::commands::dispatch::resolve;
use crate::commands::{Ctx, Handler};
use crate::keyspace::{Db, Entry};
use crate::resp::{Proto, ReplyBuf};
use crate::shard::journal::Effects;
use crate::shard::{shard_of, ShardStats};
use bytes::Bytes;
use std::path::Path;

/// Loads an RDB base into the replayer; returns the bytes it consumed.
pub type RdbBaseLoader = fn(data: &[u8], sink: &mut Replayer) -> Result<usize, String>;

/// The RDB reader of [`load_dir`]: every key is routed to its shard by slot; keys whose TTL
/// already passed are skipped (what Redis does loading as a master).
pub fn rdb_reader(data: &[u8], r: &mut Replayer) -> Result<usize, String> {
    let now = r.now;
    let ndbs = r.ndbs;
    let sum = crate::persistence::rdb::read::load(data, |e| {
        if e.db >= ndbs {
            return Err(format!(
                "FATAL: Data file was created with a Redis server configured to handle more than {ndbs} databases. Exiting"
            ));
        }
        if e.expire_ms.is_some_and(|ms| ms < now) {
            return Ok(());
        }
        let mut entry = Entry::new(e.value);
        entry.expire_at = e.expire_ms.unwrap_or(crate::keyspace::NO_EXPIRE);
        entry.lru = crate::keyspace::evict::loaded_access(e.idle_secs, e.freq);
        r.put(e.db, &e.key, entry);
        Ok(())
    })
    .map_err(|e| format!("Internal error in RDB reading offset {} -> {}", e.offset, e.what))?;
    usize::try_from(sum.bytes).map_err(|_| "RDB base too large".to_string())
}

/// Outcome of one file or of the whole directory (Redis's AOF_* codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    NotExist,
    Empty,
    OpenErr,
    Truncated,
    Failed,
}

/// Replays commands into per-shard databases (a fake client with no connection).
pub struct Replayer {
    pub shards: Vec<Vec<Db>>,
    db: usize,
    ndbs: usize,
    multi: Option<Vec<Vec<Bytes>>>,
    stats: ShardStats,
    rng: rand::rngs::SmallRng,
    effects: Effects,
    now: i64,
    pub commands: u64,
    /// Told how many more bytes of the files were read (INFO's loading progress), every 1024
    /// commands like Redis.
    pub on_progress: Option<Box<dyn Fn(u64)>>,
    /// How much of the current file was reported.
    reported: usize,
}

/// What a command did to the replay.
enum Step {
    Done,
    Unknown(String),
}

impl Replayer {
    pub fn new(nshards: usize, ndbs: usize) -> Replayer {
        use rand::SeedableRng;
        Replayer {
            shards: (0..nshards.max(1))
                .map(|_| (0..ndbs).map(|_| Db::new()).collect())
                .collect(),
            db: 0,
            ndbs,
            multi: None,
            stats: ShardStats::default(),
            rng: rand::rngs::SmallRng::seed_from_u64(0),
            effects: Effects::default(),
            now: crate::keyspace::now_ms(),
            commands: 0,
            on_progress: None,
            reported: 0,
        }
    }

    /// Reports the current file as read up to `upto`.
    fn report(&mut self, upto: usize) {
        if let Some(f) = &self.on_progress {
            f(upto.saturating_sub(self.reported) as u64);
        }
        self.reported = self.reported.max(upto);
    }

    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Stores a loaded key (for the RDB base reader).
    pub fn put(&mut self, db: usize, key: &[u8], e: Entry) {
        let s = shard_of(key, self.shards.len());
        if let Some(d) = self.shards[s].get_mut(db) {
            d.put_entry(key, e);
        }
    }

    fn exec(&mut self, argv: Vec<Bytes>) -> Step {
        let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
        if let Some(q) = &mut self.multi {
            if name != "exec" {
                if crate::commands::table::lookup(&argv[0]).is_none() {
                    return Step::Unknown(String::from_utf8_lossy(&argv[0]).into_owned());
                }
                q.push(argv);
                return Step::Done;
            }
        }
        let spec = match resolve(&argv) {
            Ok(s) => s,
            Err(_) if crate::commands::table::lookup(&argv[0]).is_none() => {
                return Step::Unknown(String::from_utf8_lossy(&argv[0]).into_owned())
            }
            // Wrong arity or an unknown subcommand: Redis would run it and get an error reply.
            Err(_) => return Step::Done,
        };
        self.commands += 1;
        match spec.name {
            "multi" => self.multi = Some(Vec::new()),
            "exec" => {
                for cmd in self.multi.take().unwrap_or_default() {
                    self.exec(cmd);
                }
            }
            "select" => {
                if let Some(i) = crate::commands::parse_i64(&argv[1]) {
                    if i >= 0 && (i as usize) < self.ndbs {
                        self.db = i as usize;
                    }
                }
            }
            "flushall" => {
                for s in &mut self.shards {
                    for d in s.iter_mut() {
                        d.clear();
                    }
                }
            }
            "flushdb" => {
                let db = self.db;
                for s in &mut self.shards {
                    s[db].clear();
                }
            }
            "swapdb" => {
                let a = crate::commands::parse_i64(&argv[1]);
                let b = crate::commands::parse_i64(&argv[2]);
                if let (Some(a), Some(b)) = (a, b) {
                    let ok = |i: i64| i >= 0 && (i as usize) < self.ndbs;
                    if ok(a) && ok(b) {
                        for s in &mut self.shards {
                            s.swap(a as usize, b as usize);
                        }
                    }
                }
            }
            "sort" => {
                // A coordinator in the server; here its keyed step runs with every key at hand.
                let n = self.shards.len();
                let src = argv.get(1).and_then(|k| {
                    self.shards[shard_of(k, n)][self.db]
                        .get_live(k, self.now)
                        .map(|e| &e.value)
                });
                if let Some((spec, step)) = crate::commands::sort::replay_step(&argv, src) {
                    if let Handler::Keyed(f) = spec.handler {
                        self.keyed(spec, f, &step);
                    }
                }
            }
            // Keyless work (PING, ...) and connection or whole-server commands other than the
            // ones above change no data.
            _ => {
                if let Handler::Keyed(f) = spec.handler {
                    self.keyed(spec, f, &argv);
                }
            }
        }
        Step::Done
    }

    fn keyed(
        &mut self,
        spec: &'static crate::commands::CommandSpec,
        f: fn(&mut Ctx, &[Bytes]),
        argv: &[Bytes],
    ) {
        let n = self.shards.len();
        let mut pos = Vec::new();
        spec.keys_with_db(argv, self.db, self.ndbs, &mut pos);
        let mut owners = pos.iter().map(|&(_, i)| shard_of(&argv[i], n));
        let first = owners.next().unwrap_or(0);
        let one_db = pos.iter().all(|&(d, _)| d == self.db);
        let mut out = ReplyBuf::new(Proto::Resp2);
        if owners.all(|s| s == first) && one_db {
            let mut ctx = Ctx {
                dbs: &mut self.shards[first],
                db: self.db,
                now: self.now,
                out: &mut out,
                stats: &mut self.stats,
                rng: &mut self.rng,
                dirty: 0,
                effects: &mut self.effects,
            };
            f(&mut ctx, argv);
            return;
        }
        // Keys on several shards (or dbs): run against scratch dbs, then write back.
        let mut scratch: Vec<Db> = (0..self.ndbs).map(|_| Db::tracking()).collect();
        for &(d, i) in &pos {
            let key = &argv[i];
            let s = shard_of(key, n);
            if let Some(e) = self.shards[s][d].peek(key, self.now).cloned() {
                scratch[d].put_entry(key, e);
            }
        }
        for d in &mut scratch {
            d.take_written();
        }
        let mut ctx = Ctx {
            dbs: &mut scratch,
            db: self.db,
            now: self.now,
            out: &mut out,
            stats: &mut self.stats,
            rng: &mut self.rng,
            dirty: 0,
            effects: &mut self.effects,
        };
        f(&mut ctx, argv);
        for (d, sdb) in scratch.iter_mut().enumerate() {
            for key in sdb.take_written() {
                let s = shard_of(&key, n);
                match sdb.peek(&key, self.now).cloned() {
                    Some(e) => self.shards[s][d].put_entry(&key, e),
                    None => {
                        self.shards[s][d].remove(&key, self.now);
                    }
                }
            }
        }
    }
}

/// Where parsing one file stopped.
enum Stop {
    Eof,
    /// Unexpected end of file (a cut tail).
    Short,
    /// The data ends inside a MULTI (treated as a cut tail at the MULTI).
    OpenMulti,
    /// Not the RESP the AOF is made of.
    Format,
    Unknown(String),
}

/// `fgets`-like: the next line (with its `\n`, at most 1023 bytes) or None at end of data.
fn next_line<'a>(data: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    if *pos >= data.len() {
        return None;
    }
    let rest = &data[*pos..];
    let cap = rest.len().min(1023);
    let n = match memchr::memchr(b'\n', &rest[..cap]) {
        Some(i) => i + 1,
        None => cap,
    };
    *pos += n;
    Some(&rest[..n])
}

/// C's `atoi`/`strtol` on the start of `b`.
fn atol(b: &[u8]) -> i64 {
    let mut i = 0;
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    let neg = i < b.len() && b[i] == b'-';
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let mut n: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        n = n.saturating_mul(10).saturating_add((b[i] - b'0') as i64);
        i += 1;
    }
    if neg {
        -n
    } else {
        n
    }
}

/// Parses and replays one AOF-format stream from `start`; returns where it stopped and the
/// offset just after the last complete command outside a MULTI (Redis's `valid_up_to`, or
/// `valid_before_multi` when the data ends inside a MULTI).
fn replay(data: &[u8], start: usize, r: &mut Replayer) -> (Stop, usize) {
    let mut pos = start;
    let mut valid_up_to = start;
    let mut valid_before_multi = start;
    while let Some(line) = next_line(data, &mut pos) {
        if line[0] == b'#' {
            continue;
        }
        if line[0] != b'*' {
            return (Stop::Format, valid_up_to);
        }
        if line.len() == 1 {
            return (Stop::Short, valid_up_to);
        }
        let argc = atol(&line[1..]);
        if argc < 1 {
            return (Stop::Format, valid_up_to);
        }
        let mut argv = Vec::with_capacity(argc.min(1024) as usize);
        for _ in 0..argc {
            let Some(l) = next_line(data, &mut pos) else {
                return (Stop::Short, valid_up_to);
            };
            if l[0] != b'$' {
                return (Stop::Format, valid_up_to);
            }
            let len = atol(&l[1..]).max(0) as usize;
            if data.len() - pos < len {
                return (Stop::Short, valid_up_to);
            }
            argv.push(Bytes::copy_from_slice(&data[pos..pos + len]));
            pos += len;
            if data.len() - pos < 2 {
                return (Stop::Short, valid_up_to);
            }
            pos += 2;
        }
        let is_multi = argv[0].eq_ignore_ascii_case(b"multi");
        if is_multi {
            valid_before_multi = valid_up_to;
        }
        if let Step::Unknown(name) = r.exec(argv) {
            return (Stop::Unknown(name), valid_up_to);
        }
        valid_up_to = pos;
        if r.commands.is_multiple_of(1024) {
            r.report(pos);
        }
    }
    if r.in_multi() {
        r.multi = None;
        return (Stop::OpenMulti, valid_before_multi);
    }
    (Stop::Eof, valid_up_to)
}

/// Loads one file of the directory (Redis's `loadSingleAppendOnlyFile`).
pub fn load_file(
    dir: &Path,
    name: &str,
    load_truncated: bool,
    rdb: RdbBaseLoader,
    r: &mut Replayer,
) -> Status {
    let path = dir.join(name);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(
                "The append log file {name} doesn't exist: {}",
                crate::config::value::strerror(&e)
            );
            return Status::NotExist;
        }
        Err(e) => {
            tracing::warn!(
                "Fatal error: can't open the append log file {name} for reading: {}",
                crate::config::value::strerror(&e)
            );
            return Status::OpenErr;
        }
    };
    if data.is_empty() {
        return Status::Empty;
    }
    r.reported = 0;
    let mut start = 0;
    if data.starts_with(b"REDIS") {
        tracing::info!("Reading RDB base file on AOF loading...");
        match rdb(&data, r) {
            Ok(n) => start = n,
            Err(e) => {
                tracing::warn!("{e}");
                tracing::warn!("Error reading the RDB base file {name}, AOF loading aborted");
                return Status::Failed;
            }
        }
    }
    r.report(start);
    let (stop, valid_up_to) = replay(&data, start, r);
    r.report(data.len());
    match stop {
        Stop::Eof => Status::Ok,
        Stop::Unknown(cmd) => {
            tracing::warn!("Unknown command '{cmd}' reading the append only file {name}");
            Status::Failed
        }
        Stop::Format => {
            tracing::warn!(
                "Bad file format reading the append only file {name}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"
            );
            Status::Failed
        }
        Stop::Short | Stop::OpenMulti => {
            if matches!(stop, Stop::OpenMulti) {
                tracing::warn!("Revert incomplete MULTI/EXEC transaction in AOF file {name}");
            }
            if load_truncated {
                tracing::warn!("!!! Warning: short read while loading the AOF file {name}!!!");
                tracing::warn!("!!! Truncating the AOF {name} at offset {valid_up_to} !!!");
                let cut = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(valid_up_to as u64));
                match cut {
                    Ok(()) => {
                        tracing::warn!(
                            "AOF {name} loaded anyway because aof-load-truncated is enabled"
                        );
                        return Status::Truncated;
                    }
                    Err(e) => tracing::warn!(
                        "Error truncating the AOF file {name}: {}",
                        crate::config::value::strerror(&e)
                    ),
                }
            }
            tracing::warn!(
                "Unexpected end of file reading the append only file {name}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
            );
            Status::Failed
        }
    }
}

/// Loads every file of the manifest in order (Redis's `loadAppendOnlyFiles`). Returns the
/// status and the size of the base file (for auto-aof-rewrite's base size).
pub fn load_dir(
    dir: &Path,
    m: &Manifest,
    load_truncated: bool,
    rdb: RdbBaseLoader,
    r: &mut Replayer,
    progress: Option<&crate::persistence::loading::Loading>,
) -> (Status, u64) {
    let files = m.load_order();
    if files.is_empty() {
        return (Status::NotExist, 0);
    }
    let mut total = 0u64;
    for f in &files {
        match std::fs::metadata(dir.join(&f.name)) {
            Ok(md) => total += md.len(),
            Err(e) => {
                if e.kind() == std::io::ErrorKind::NotFound {
                    tracing::warn!(
                        "The append log file {} doesn't exist: {}",
                        f.name,
                        crate::config::value::strerror(&e)
                    );
                }
                return (Status::Failed, 0);
            }
        }
    }
    if total == 0 {
        return (Status::Empty, 0);
    }
    if let Some(l) = progress {
        l.start_file(total);
    }
    let base_size = m
        .base
        .as_ref()
        .and_then(|b| std::fs::metadata(dir.join(&b.name)).ok())
        .map_or(0, |md| md.len());
    let n = files.len();
    let mut ret = Status::Ok;
    for (i, f) in files.iter().enumerate() {
        let last = i + 1 == n;
        let is_base = m.base.as_ref().is_some_and(|b| b.name == f.name);
        let start = std::time::Instant::now();
        ret = load_file(dir, &f.name, load_truncated, rdb, r);
        if ret == Status::Ok || (ret == Status::Truncated && last) {
            tracing::info!(
                "DB loaded from {} file {}: {:.3} seconds",
                if is_base { "base" } else { "incr" },
                f.name,
                start.elapsed().as_secs_f32()
            );
        }
        if ret == Status::Empty && !is_base {
            ret = Status::Ok;
        }
        if ret == Status::Truncated && !last {
            tracing::warn!("Fatal error: the truncated file is not the last file");
            return (Status::Failed, base_size);
        }
        if matches!(ret, Status::OpenErr | Status::Failed | Status::NotExist) {
            return (Status::Failed, base_size);
        }
    }
    (ret, base_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(data: &[u8]) -> (Replayer, Stop, usize) {
        let mut r = Replayer::new(2, 16);
        let (stop, valid) = replay(data, 0, &mut r);
        (r, stop, valid)
    }

    fn get(r: &mut Replayer, db: usize, key: &[u8]) -> Option<Entry> {
        let s = shard_of(key, r.shards.len());
        r.shards[s][db].peek(key, 0).cloned()
    }

    #[test]
    fn replays_select_multi_and_cross_shard_commands() {
        let data = b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n*5\r\n$4\r\nMSET\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n*1\r\n$4\r\nEXEC\r\n";
        let (mut r, stop, valid) = run(data);
        assert!(matches!(stop, Stop::Eof));
        assert_eq!(valid, data.len());
        for k in [&b"a"[..], b"b", b"c"] {
            assert!(get(&mut r, 2, k).is_some(), "{k:?}");
            assert!(get(&mut r, 0, k).is_none());
        }
    }

    #[test]
    fn cut_tail_and_open_multi_are_short_reads_at_the_last_good_offset() {
        let one = b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n";
        let mut data = one.to_vec();
        data.extend_from_slice(b"*3\r\n$3\r\nset\r\n$1\r\nb\r\n$3\r\n1");
        let (_, stop, valid) = run(&data);
        assert!(matches!(stop, Stop::Short));
        assert_eq!(valid, one.len());
        let mut data = one.to_vec();
        data.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nset\r\n$1\r\nb\r\n$1\r\n1\r\n");
        let (mut r, stop, valid) = run(&data);
        assert!(matches!(stop, Stop::OpenMulti));
        assert_eq!(valid, one.len());
        assert!(get(&mut r, 0, b"b").is_none());
    }

    #[test]
    fn rdb_part_loads_skipping_expired_keys_then_the_aof_tail_replays() {
        use crate::keyspace::Value;
        use crate::persistence::rdb::{RdbWriter, WriteOptions};
        let mut w = RdbWriter::new(Vec::new(), WriteOptions::default());
        w.header().unwrap();
        w.select_db(3).unwrap();
        w.entry(b"live", &Value::from_bytes(b"v"), Some(i64::MAX / 2))
            .unwrap();
        w.entry(b"dead", &Value::from_bytes(b"x"), Some(5)).unwrap();
        w.entry(b"plain", &Value::from_int(9), None).unwrap();
        let mut data = w.finish().unwrap();
        let rdb_len = data.len();
        data.extend_from_slice(b"*3\r\n$3\r\nset\r\n$4\r\ntail\r\n$1\r\n1\r\n");
        let mut r = Replayer::new(2, 16);
        assert_eq!(rdb_reader(&data, &mut r), Ok(rdb_len));
        let (stop, _) = replay(&data, rdb_len, &mut r);
        assert!(matches!(stop, Stop::Eof));
        assert_eq!(
            get(&mut r, 3, b"live").map(|e| e.expire_at),
            Some(i64::MAX / 2)
        );
        assert!(get(&mut r, 3, b"plain").is_some());
        assert!(get(&mut r, 3, b"dead").is_none());
        assert!(get(&mut r, 0, b"tail").is_some());
        // A db the server does not have stops the load.
        let mut r = Replayer::new(1, 2);
        assert!(rdb_reader(&data, &mut r).is_err());
    }

    #[test]
    fn garbage_is_a_format_error_and_unknown_commands_stop() {
        let (_, stop, _) = run(b"*1\r\n$4\r\nPING\r\ngarbage\r\n*1\r\n$4\r\nPING\r\n");
        assert!(matches!(stop, Stop::Format));
        let (_, stop, _) = run(b"*1\r\n$7\r\nNOTACMD\r\n");
        assert!(matches!(stop, Stop::Unknown(n) if n == "NOTACMD"));
    }

    #[test]
    fn progress_is_reported_in_steps_and_adds_up_to_the_file_size() {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let mut data = Vec::new();
        for i in 0..3000 {
            let k = format!("k{i}");
            crate::shard::journal::encode(&mut data, &["SET", k.as_str(), "v"]);
        }
        std::fs::write(dir.path().join("a.aof"), &data).unwrap();
        let total = Arc::new(AtomicU64::new(0));
        let calls = Arc::new(AtomicU64::new(0));
        let mut r = Replayer::new(2, 16);
        let (t, c) = (total.clone(), calls.clone());
        r.on_progress = Some(Box::new(move |n| {
            t.fetch_add(n, Ordering::Relaxed);
            c.fetch_add(1, Ordering::Relaxed);
        }));
        let st = load_file(dir.path(), "a.aof", true, rdb_reader, &mut r);
        assert_eq!(st, Status::Ok);
        assert_eq!(total.load(Ordering::Relaxed), data.len() as u64);
        assert!(calls.load(Ordering::Relaxed) >= 3, "reported in steps");
        assert_eq!(r.shards.iter().map(|s| s[0].len()).sum::<usize>(), 3000);
    }
}
