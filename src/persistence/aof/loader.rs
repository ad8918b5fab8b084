//! Loading an AOF directory at startup (Redis's `loadAppendOnlyFiles` /
//! `loadSingleAppendOnlyFile`): the manifest's base file, then its incr files, each a stream of
//! RESP commands. This module only reads: it parses the frames, detects truncated tails and
//! garbage with Redis's outcomes and log lines, and hands the commands, in batches, to a
//! [`Sink`] (at startup the execution kernel, `commands::apply::StreamClient` as the AOF
//! client, on the live shards: see `persistence::loading`). It executes nothing itself.
//!
//! A file that starts with `REDIS` (a `.base.rdb` base, or an old single-file AOF with an RDB
//! preamble) is read by [`RdbBaseLoader`] (normally [`rdb_reader`]) first: that part is data,
//! not commands, and goes to [`Sink::put`]; any AOF commands after it then follow.

use super::manifest::Manifest;
use crate::keyspace::Entry;
use bytes::Bytes;
use std::collections::VecDeque;
use std::path::Path;

/// Loads an RDB base into the loader's sink; returns the bytes it consumed.
pub type RdbBaseLoader = fn(data: &[u8], sink: &mut Loader) -> Result<usize, String>;

/// The RDB reader of [`load_dir`]: every key goes to the sink; keys whose TTL already passed
/// are skipped (what Redis does loading as a master).
pub fn rdb_reader(data: &[u8], r: &mut Loader) -> Result<usize, String> {
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
        r.sink.put(e.db, &e.key, entry);
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

/// Where the loaded data goes.
pub trait Sink {
    /// A key of an RDB part (always before any command).
    fn put(&mut self, db: usize, key: &[u8], e: Entry);
    /// Commands to run in order, as the AOF client.
    fn run(&mut self, batch: VecDeque<Vec<Bytes>>);
    /// Returns once every command given so far ran; `discard_multi`: then drop the MULTI the
    /// stream left open (its queued commands never run).
    fn sync(&mut self, discard_multi: bool);
}

/// Commands handed to the sink at once (consecutive ones for the same shard then travel
/// together).
const BATCH: usize = 512;

/// Reads AOF files into a [`Sink`].
pub struct Loader {
    pub sink: Box<dyn Sink>,
    ndbs: usize,
    now: i64,
    /// Commands read.
    pub commands: u64,
    /// Told how many more bytes of the files were read (INFO's loading progress), every 1024
    /// commands like Redis.
    pub on_progress: Option<Box<dyn Fn(u64)>>,
    /// How much of the current file was reported.
    reported: usize,
    batch: VecDeque<Vec<Bytes>>,
    /// A MULTI of the stream is open (its EXEC not read yet).
    multi: bool,
}

impl Loader {
    pub fn new(sink: Box<dyn Sink>, ndbs: usize) -> Loader {
        Loader {
            sink,
            ndbs,
            now: crate::keyspace::now_ms(),
            commands: 0,
            on_progress: None,
            reported: 0,
            batch: VecDeque::new(),
            multi: false,
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
        self.multi
    }

    /// Queues one command for the sink; Err(name) for a command the server does not know
    /// (which ends the load, like Redis). Errors of known commands (arity, arguments) are
    /// the kernel's to answer and ignore.
    fn feed(&mut self, argv: Vec<Bytes>) -> Result<(), String> {
        if crate::commands::table::lookup(&argv[0]).is_none() {
            return Err(String::from_utf8_lossy(&argv[0]).into_owned());
        }
        if argv[0].eq_ignore_ascii_case(b"multi") {
            self.multi = true;
        } else if argv[0].eq_ignore_ascii_case(b"exec") || argv[0].eq_ignore_ascii_case(b"discard")
        {
            self.multi = false;
        }
        self.commands += 1;
        self.batch.push_back(argv);
        if self.batch.len() >= BATCH {
            self.flush();
        }
        Ok(())
    }

    fn flush(&mut self) {
        if !self.batch.is_empty() {
            self.sink.run(std::mem::take(&mut self.batch));
        }
    }

    /// Every command read so far has run; an open MULTI is dropped.
    fn settle(&mut self) {
        self.flush();
        let open = std::mem::take(&mut self.multi);
        self.sink.sync(open);
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
fn replay(data: &[u8], start: usize, r: &mut Loader) -> (Stop, usize) {
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
        if let Err(name) = r.feed(argv) {
            return (Stop::Unknown(name), valid_up_to);
        }
        valid_up_to = pos;
        if r.commands.is_multiple_of(1024) {
            r.report(pos);
        }
    }
    if r.in_multi() {
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
    r: &mut Loader,
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
    // The file's commands have all run (the "DB loaded" line times them) and a MULTI it left
    // open is dropped, whatever the outcome.
    r.settle();
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
    r: &mut Loader,
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
    use std::cell::RefCell;
    use std::rc::Rc;

    /// What the loader handed over: keys, commands, and the syncs (with their discard flag).
    #[derive(Default)]
    struct Seen {
        keys: Vec<(usize, Vec<u8>, Entry)>,
        cmds: Vec<Vec<Bytes>>,
        syncs: Vec<bool>,
    }

    struct Rec(Rc<RefCell<Seen>>);

    impl Sink for Rec {
        fn put(&mut self, db: usize, key: &[u8], e: Entry) {
            self.0.borrow_mut().keys.push((db, key.to_vec(), e));
        }
        fn run(&mut self, batch: VecDeque<Vec<Bytes>>) {
            self.0.borrow_mut().cmds.extend(batch);
        }
        fn sync(&mut self, discard_multi: bool) {
            self.0.borrow_mut().syncs.push(discard_multi);
        }
    }

    fn loader(ndbs: usize) -> (Loader, Rc<RefCell<Seen>>) {
        let seen = Rc::new(RefCell::new(Seen::default()));
        (Loader::new(Box::new(Rec(seen.clone())), ndbs), seen)
    }

    fn run(data: &[u8]) -> (Rc<RefCell<Seen>>, Stop, usize) {
        let (mut r, seen) = loader(16);
        let (stop, valid) = replay(data, 0, &mut r);
        r.settle();
        (seen, stop, valid)
    }

    fn names(seen: &Seen) -> Vec<String> {
        seen.cmds
            .iter()
            .map(|c| String::from_utf8_lossy(&c[0]).into_owned())
            .collect()
    }

    #[test]
    fn feeds_every_command_in_order_including_select_and_multi() {
        let data = b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n*5\r\n$4\r\nMSET\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n*1\r\n$4\r\nEXEC\r\n";
        let (seen, stop, valid) = run(data);
        assert!(matches!(stop, Stop::Eof));
        assert_eq!(valid, data.len());
        let seen = seen.borrow();
        assert_eq!(names(&seen), ["SELECT", "MULTI", "set", "MSET", "EXEC"]);
        assert_eq!(seen.cmds[3].len(), 5);
        assert_eq!(seen.syncs, [false]);
    }

    #[test]
    fn cut_tail_and_open_multi_are_short_reads_at_the_last_good_offset() {
        let one = b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n";
        let mut data = one.to_vec();
        data.extend_from_slice(b"*3\r\n$3\r\nset\r\n$1\r\nb\r\n$3\r\n1");
        let (seen, stop, valid) = run(&data);
        assert!(matches!(stop, Stop::Short));
        assert_eq!(valid, one.len());
        assert_eq!(seen.borrow().cmds.len(), 1);
        let mut data = one.to_vec();
        data.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nset\r\n$1\r\nb\r\n$1\r\n1\r\n");
        let (seen, stop, valid) = run(&data);
        assert!(matches!(stop, Stop::OpenMulti));
        assert_eq!(valid, one.len());
        // The open MULTI is dropped by the sink: its SET never runs.
        assert_eq!(seen.borrow().syncs, [true]);
    }

    #[test]
    fn rdb_part_loads_skipping_expired_keys_then_the_aof_tail_follows() {
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
        let (mut r, seen) = loader(16);
        assert_eq!(rdb_reader(&data, &mut r), Ok(rdb_len));
        let (stop, _) = replay(&data, rdb_len, &mut r);
        r.settle();
        assert!(matches!(stop, Stop::Eof));
        {
            let seen = seen.borrow();
            let keys: Vec<_> = seen
                .keys
                .iter()
                .map(|(db, k, e)| (*db, k.as_slice(), e.expire_at))
                .collect();
            assert_eq!(
                keys,
                [
                    (3, &b"live"[..], i64::MAX / 2),
                    (3, b"plain", crate::keyspace::NO_EXPIRE)
                ]
            );
            assert_eq!(names(&seen), ["set"]);
        }
        // A db the server does not have stops the load.
        let (mut r, _) = loader(2);
        assert!(rdb_reader(&data, &mut r).is_err());
    }

    #[test]
    fn garbage_is_a_format_error_and_unknown_commands_stop() {
        let (_, stop, _) = run(b"*1\r\n$4\r\nPING\r\ngarbage\r\n*1\r\n$4\r\nPING\r\n");
        assert!(matches!(stop, Stop::Format));
        let (seen, stop, _) = run(b"*1\r\n$4\r\nPING\r\n*1\r\n$7\r\nNOTACMD\r\n");
        assert!(matches!(stop, Stop::Unknown(n) if n == "NOTACMD"));
        assert_eq!(names(&seen.borrow()), ["PING"]);
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
        let (mut r, seen) = loader(16);
        let (t, c) = (total.clone(), calls.clone());
        r.on_progress = Some(Box::new(move |n| {
            t.fetch_add(n, Ordering::Relaxed);
            c.fetch_add(1, Ordering::Relaxed);
        }));
        let st = load_file(dir.path(), "a.aof", true, rdb_reader, &mut r);
        assert_eq!(st, Status::Ok);
        assert_eq!(total.load(Ordering::Relaxed), data.len() as u64);
        assert!(calls.load(Ordering::Relaxed) >= 3, "reported in steps");
        assert_eq!(seen.borrow().cmds.len(), 3000);
        assert_eq!(seen.borrow().syncs, [false]);
    }
}
