//! The append-only file: what ringkv writes reloads into the same data (every type, TTLs,
//! MULTI/EXEC, several dbs, a rewrite in between); an AOF directory written by redis-server
//! 7.0.15 loads into ringkv and ringkv's loads into redis-server; with `appendfsync always`
//! every acknowledged write survives kill -9; a cut tail and garbage get Redis's outcome.

mod common;

use common::{
    encode_command, key_on_shard, parse_reply, server_argv, signal, wait_until, Kind, RawConn,
    Reply, TestDir,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The tests of this file start several servers each (and kill them): one at a time keeps the
/// machine's two cores for the servers under test.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A server process in a directory the test keeps across restarts.
struct Proc {
    child: Option<Child>,
    pid: u32,
    port: u16,
    log: std::path::PathBuf,
}

impl Proc {
    /// Starts `kind` in `dir`; None when it exited (the test then reads the log).
    fn start(kind: Kind, dir: &TestDir, args: &[&str]) -> (Option<Proc>, String) {
        let port = common::free_port();
        let log = dir.join(&format!("server-{port}.log"));
        let (bin, argv) = server_argv(kind, None, port, dir, &log, args);
        let mut child = Command::new(&bin)
            .args(&argv)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join(&format!("stderr-{port}.log")))
                    .unwrap_or_else(|e| panic!("create stderr log: {e}")),
            ))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
        let pid = child.id();
        let mut exited = false;
        let up = wait_until(Duration::from_secs(20), || {
            if let Ok(Some(_)) = child.try_wait() {
                exited = true;
                return true;
            }
            ping(port)
        });
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if exited || !up {
            if !exited {
                signal(pid, libc::SIGKILL);
            }
            let _ = child.wait();
            return (None, text);
        }
        (
            Some(Proc {
                child: Some(child),
                pid,
                port,
                log,
            }),
            text,
        )
    }

    fn must_start(kind: Kind, dir: &TestDir, args: &[&str]) -> Proc {
        let (p, log) = Proc::start(kind, dir, args);
        p.unwrap_or_else(|| panic!("{kind:?} did not start:\n{log}"))
    }

    fn conn(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM and wait (the AOF is flushed and fsynced on the way out).
    fn stop(mut self) {
        if let Some(mut c) = self.child.take() {
            signal(self.pid, libc::SIGTERM);
            let done = wait_until(Duration::from_secs(20), || {
                matches!(c.try_wait(), Ok(Some(_)))
            });
            if !done {
                signal(self.pid, libc::SIGKILL);
                let _ = c.wait();
            }
        }
    }

    fn kill9(mut self) {
        if let Some(mut c) = self.child.take() {
            signal(self.pid, libc::SIGKILL);
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let err = self.log.with_file_name(format!("stderr-{}.log", self.port));
            eprintln!(
                "--- server log ---\n{}\n--- stderr ---\n{}",
                self.log(),
                std::fs::read_to_string(err).unwrap_or_default()
            );
        }
        if let Some(mut c) = self.child.take() {
            signal(self.pid, libc::SIGKILL);
            let _ = c.wait();
        }
    }
}

fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
        return false;
    }
    let mut b = [0u8; 64];
    matches!(s.read(&mut b), Ok(n) if n > 0 && b[0] == b'+')
}

fn cmd(c: &mut RawConn, args: &[&str]) -> Reply {
    c.cmd_reply(args)
}

fn bulk(r: Reply) -> Vec<u8> {
    match r {
        Reply::Bulk(Some(b)) | Reply::Simple(b) => b,
        other => panic!("not a bulk: {other:?}"),
    }
}

fn strings(r: Reply) -> Vec<Vec<u8>> {
    match r {
        Reply::Array(Some(items)) => items.into_iter().map(bulk).collect(),
        other => panic!("not an array: {other:?}"),
    }
}

fn int(r: Reply) -> i64 {
    match r {
        Reply::Integer(i) => i,
        other => panic!("not an integer: {other:?}"),
    }
}

/// Every key of every db: (db, key) → (type, value, absolute expiry in ms or -1).
type Dump = BTreeMap<(u32, String), (String, String, i64)>;

fn dump(c: &mut RawConn) -> Dump {
    let mut out = Dump::new();
    for db in 0..16u32 {
        cmd(c, &["SELECT", &db.to_string()]);
        for key in strings(cmd(c, &["KEYS", "*"])) {
            let k = String::from_utf8_lossy(&key).into_owned();
            let ty = String::from_utf8_lossy(&bulk(cmd(c, &["TYPE", &k]))).into_owned();
            let mut items: Vec<String> = match ty.as_str() {
                "string" => vec![bulk(cmd(c, &["GET", &k]))],
                "list" => strings(cmd(c, &["LRANGE", &k, "0", "-1"])),
                "set" => strings(cmd(c, &["SMEMBERS", &k])),
                "zset" => strings(cmd(c, &["ZRANGE", &k, "0", "-1", "WITHSCORES"])),
                "hash" => strings(cmd(c, &["HGETALL", &k])),
                other => panic!("unexpected type {other}"),
            }
            .into_iter()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect();
            if ty == "set" {
                items.sort();
            }
            if ty == "hash" {
                let mut pairs: Vec<String> = items.chunks(2).map(|p| p.join("=")).collect();
                pairs.sort();
                items = pairs;
            }
            let at = int(cmd(c, &["PEXPIRETIME", &k]));
            out.insert((db, k), (ty, items.join(","), at));
        }
    }
    cmd(c, &["SELECT", "0"]);
    out
}

/// Writes of every type, with relative and absolute expiries, rewrites (INCRBYFLOAT, SPOP,
/// GETEX...), MULTI/EXEC over both shards, several dbs, FLUSHDB and SWAPDB.
fn workload(c: &mut RawConn, round: &str) {
    let k = |n: &str| format!("{round}:{n}");
    let a = key_on_shard(&k("a"), "", 0, 2);
    let b = key_on_shard(&k("b"), "", 1, 2);
    let run: Vec<Vec<String>> = vec![
        vec!["SET".into(), a.clone(), "1".into()],
        vec![
            "SET".into(),
            b.clone(),
            "v".into(),
            "EX".into(),
            "1000".into(),
        ],
        vec!["SETEX".into(), k("sx"), "500".into(), "x".into()],
        vec!["PSETEX".into(), k("psx"), "500000".into(), "x".into()],
        vec!["SET".into(), k("g"), "old".into(), "GET".into()],
        vec!["GETSET".into(), k("g"), "new".into()],
        vec!["APPEND".into(), k("g"), "er".into()],
        vec!["INCRBYFLOAT".into(), k("f"), "1.5".into()],
        vec!["INCRBYFLOAT".into(), k("f"), "0.25".into()],
        vec!["INCR".into(), k("n")],
        vec!["EXPIRE".into(), k("n"), "300".into()],
        // SORT ... STORE propagates as the client sent it (pattern keys on any shard).
        vec!["RPUSH".into(), k("srt"), "3".into(), "1".into(), "2".into()],
        vec!["SET".into(), k("w_1"), "30".into()],
        vec!["SET".into(), k("w_2"), "20".into()],
        vec!["SET".into(), k("w_3"), "10".into()],
        vec![
            "SORT".into(),
            k("srt"),
            "BY".into(),
            k("w_*"),
            "STORE".into(),
            k("sorted"),
        ],
        vec![
            "SET".into(),
            k("p"),
            "1".into(),
            "PX".into(),
            "900000".into(),
        ],
        vec!["PERSIST".into(), k("p")],
        vec!["SET".into(), k("gx"), "1".into()],
        vec!["GETEX".into(), k("gx"), "EX".into(), "700".into()],
        vec!["SET".into(), k("gone"), "1".into()],
        vec!["GETDEL".into(), k("gone")],
        vec!["SET".into(), k("past"), "1".into()],
        vec!["PEXPIREAT".into(), k("past"), "1000".into()],
        vec!["RPUSH".into(), k("l"), "x".into(), "y".into(), "z".into()],
        vec!["LPUSH".into(), k("l"), "w".into()],
        vec!["LPOP".into(), k("l")],
        vec![
            "HSET".into(),
            k("h"),
            "f1".into(),
            "v1".into(),
            "f2".into(),
            "v2".into(),
        ],
        vec!["HINCRBYFLOAT".into(), k("h"), "fl".into(), "2.5".into()],
        vec!["HDEL".into(), k("h"), "f2".into()],
        vec![
            "SADD".into(),
            k("s"),
            "1".into(),
            "2".into(),
            "3".into(),
            "4".into(),
            "five".into(),
        ],
        vec!["SPOP".into(), k("s")],
        vec!["SPOP".into(), k("s"), "2".into()],
        vec![
            "ZADD".into(),
            k("z"),
            "1.5".into(),
            "m1".into(),
            "2".into(),
            "m2".into(),
            "-inf".into(),
            "m3".into(),
        ],
        vec!["ZINCRBY".into(), k("z"), "0.1".into(), "m1".into()],
        vec!["PEXPIRE".into(), k("z"), "800000".into()],
        vec![
            "MSET".into(),
            a.clone(),
            "10".into(),
            b.clone(),
            "20".into(),
            k("c"),
            "30".into(),
        ],
        vec!["MULTI".into()],
        vec!["INCR".into(), a.clone()],
        vec!["INCR".into(), b.clone()],
        vec!["SELECT".into(), "3".into()],
        vec!["SET".into(), k("indb3"), "yes".into()],
        vec!["SELECT".into(), "0".into()],
        vec!["EXEC".into()],
        vec!["SELECT".into(), "5".into()],
        vec!["RPUSH".into(), k("l5"), "q".into()],
        vec!["SELECT".into(), "6".into()],
        vec!["SET".into(), k("flushed"), "1".into()],
        vec!["FLUSHDB".into()],
        vec!["SET".into(), k("in6"), "1".into()],
        vec!["SWAPDB".into(), "6".into(), "7".into()],
        vec!["SELECT".into(), "0".into()],
        vec!["RENAME".into(), a.clone(), format!("{a}:renamed")],
    ];
    for argv in run {
        let r = c.cmd(&argv);
        assert!(
            !r.starts_with(b"-"),
            "{argv:?} -> {}",
            String::from_utf8_lossy(&r)
        );
    }
}

fn info_field(c: &mut RawConn, field: &str) -> String {
    let text = String::from_utf8_lossy(&bulk(cmd(c, &["INFO", "persistence"]))).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_default()
}

fn wait_rewrite_done(c: &mut RawConn) {
    let ok = wait_until(Duration::from_secs(20), || {
        info_field(c, "aof_rewrite_in_progress") == "0" && info_field(c, "aof_enabled") == "1"
    });
    assert!(ok, "the AOF rewrite did not finish");
}

fn manifest(dir: &TestDir) -> String {
    std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap_or_default()
}

const AOF: &[&str] = &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"];

#[test]
fn every_type_survives_restart_and_a_rewrite_and_loads_into_redis() {
    let _serial = serial();
    let dir = TestDir::new();
    let p = Proc::must_start(Kind::Ringkv(2), &dir, AOF);
    let mut c = p.conn();
    workload(&mut c, "r1");
    assert_eq!(
        bulk(cmd(&mut c, &["BGREWRITEAOF"])),
        b"Background append only file rewriting started"
    );
    wait_rewrite_done(&mut c);
    assert!(
        manifest(&dir).starts_with("file appendonly.aof.2.base.aof seq 2 type b\n"),
        "{}",
        manifest(&dir)
    );
    workload(&mut c, "r2");
    let before = dump(&mut c);
    assert!(before.len() > 30, "{before:?}");
    drop(c);
    p.stop();

    let p = Proc::must_start(Kind::Ringkv(2), &dir, AOF);
    assert!(
        p.log().contains("DB loaded from append only file"),
        "{}",
        p.log()
    );
    let after = dump(&mut p.conn());
    assert_eq!(before, after);
    p.stop();

    // The same directory read by the real redis-server.
    let r = Proc::must_start(Kind::Redis, &dir, AOF);
    let in_redis = dump(&mut r.conn());
    assert_eq!(before, in_redis);
    r.stop();
}

#[test]
fn a_directory_written_by_redis_loads_into_ringkv() {
    let _serial = serial();
    let dir = TestDir::new();
    let r = Proc::must_start(Kind::Redis, &dir, AOF);
    let mut c = r.conn();
    workload(&mut c, "r1");
    cmd(&mut c, &["BGREWRITEAOF"]);
    wait_rewrite_done(&mut c);
    workload(&mut c, "r2");
    let before = dump(&mut c);
    drop(c);
    r.stop();
    for shards in [1, 2] {
        let p = Proc::must_start(Kind::Ringkv(shards), &dir, AOF);
        let after = dump(&mut p.conn());
        assert_eq!(before, after, "{shards} shards");
        p.stop();
    }
}

/// The default `aof-use-rdb-preamble yes`: the rewrite base is an RDB file.
const AOF_RDB_BASE: &[&str] = &["--appendonly", "yes"];

#[test]
fn rdb_base_written_by_redis_loads_into_ringkv() {
    let _serial = serial();
    let dir = TestDir::new();
    let r = Proc::must_start(Kind::Redis, &dir, AOF_RDB_BASE);
    let mut c = r.conn();
    workload(&mut c, "r1");
    cmd(&mut c, &["BGREWRITEAOF"]);
    wait_rewrite_done(&mut c);
    assert!(
        manifest(&dir).starts_with("file appendonly.aof.2.base.rdb seq 2 type b\n"),
        "{}",
        manifest(&dir)
    );
    workload(&mut c, "r2");
    let before = dump(&mut c);
    assert!(before.len() > 30, "{before:?}");
    drop(c);
    r.stop();
    for shards in [1, 2] {
        let p = Proc::must_start(Kind::Ringkv(shards), &dir, AOF_RDB_BASE);
        let after = dump(&mut p.conn());
        assert_eq!(before, after, "{shards} shards");
        p.stop();
    }
    // ringkv-check-aof checks the RDB base and reports it like redis-check-aof.
    let run = |bin: &str, arg: &Path| {
        let out = common::run_bounded(30, bin, &[&arg.to_string_lossy()]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let ours = env!("CARGO_BIN_EXE_ringkv-check-aof");
    for f in ["appendonly.aof.manifest", "appendonly.aof.2.base.rdb"] {
        let path = dir.join("appendonlydir").join(f);
        let theirs = run("redis-check-aof", &path);
        assert_eq!(theirs.0, Some(0), "{}", theirs.1);
        assert!(theirs.1.contains("RDB looks OK"), "{}", theirs.1);
        assert_eq!(run(ours, &path), theirs);
    }
}

#[test]
fn rdb_base_written_by_ringkv_survives_restart_and_loads_into_redis() {
    let _serial = serial();
    let dir = TestDir::new();
    let p = Proc::must_start(Kind::Ringkv(2), &dir, AOF_RDB_BASE);
    assert!(
        manifest(&dir).starts_with("file appendonly.aof.1.base.rdb seq 1 type b\n"),
        "{}",
        manifest(&dir)
    );
    let mut c = p.conn();
    workload(&mut c, "r1");
    assert_eq!(
        bulk(cmd(&mut c, &["BGREWRITEAOF"])),
        b"Background append only file rewriting started"
    );
    wait_rewrite_done(&mut c);
    assert!(
        manifest(&dir).starts_with("file appendonly.aof.2.base.rdb seq 2 type b\n"),
        "{}",
        manifest(&dir)
    );
    let base = std::fs::read(dir.join("appendonlydir/appendonly.aof.2.base.rdb")).unwrap();
    assert!(
        base.starts_with(b"REDIS0010"),
        "{:?}",
        &base[..base.len().min(16)]
    );
    workload(&mut c, "r2");
    let before = dump(&mut c);
    assert!(before.len() > 30, "{before:?}");
    drop(c);
    p.stop();

    let p = Proc::must_start(Kind::Ringkv(2), &dir, AOF_RDB_BASE);
    let after = dump(&mut p.conn());
    assert_eq!(before, after);
    p.stop();

    let r = Proc::must_start(Kind::Redis, &dir, AOF_RDB_BASE);
    let in_redis = dump(&mut r.conn());
    assert_eq!(before, in_redis);
    r.stop();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringkv-check-aof"))
        .arg(dir.join("appendonlydir/appendonly.aof.manifest"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("RDB preamble is OK"), "{text}");
}

#[test]
fn switching_appendonly_on_at_runtime_rewrites_then_appends() {
    let _serial = serial();
    let dir = TestDir::new();
    let p = Proc::must_start(Kind::Ringkv(2), &dir, &["--aof-use-rdb-preamble", "no"]);
    let mut c = p.conn();
    workload(&mut c, "before");
    assert_eq!(
        bulk(cmd(&mut c, &["CONFIG", "SET", "appendonly", "yes"])),
        b"OK"
    );
    wait_rewrite_done(&mut c);
    assert_eq!(
        manifest(&dir),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    workload(&mut c, "after");
    let before = dump(&mut c);
    drop(c);
    p.stop();
    let p = Proc::must_start(Kind::Ringkv(2), &dir, AOF);
    let mut c = p.conn();
    assert_eq!(before, dump(&mut c));
    // Off (later writes are not in the files), then on again (a new base holds them).
    assert_eq!(
        bulk(cmd(&mut c, &["CONFIG", "SET", "appendonly", "no"])),
        b"OK"
    );
    assert!(wait_until(Duration::from_secs(20), || info_field(
        &mut c,
        "aof_enabled"
    ) == "0"));
    cmd(&mut c, &["SET", "while-off", "1"]);
    assert_eq!(
        bulk(cmd(&mut c, &["CONFIG", "SET", "appendonly", "yes"])),
        b"OK"
    );
    wait_rewrite_done(&mut c);
    let before = dump(&mut c);
    drop(c);
    p.stop();
    let p = Proc::must_start(Kind::Ringkv(2), &dir, AOF);
    let mut c = p.conn();
    assert_eq!(before, dump(&mut c));
    assert_eq!(bulk(cmd(&mut c, &["GET", "while-off"])), b"1");
    drop(c);
    p.stop();
}

#[test]
fn appendfsync_always_keeps_every_acknowledged_write_across_kill_9() {
    let _serial = serial();
    let dir = TestDir::new();
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--aof-use-rdb-preamble",
        "no",
    ];
    let mut acked: Vec<String> = Vec::new();
    for round in 0..4 {
        let p = Proc::must_start(Kind::Ringkv(2), &dir, &args);
        let mut c = p.conn();
        for k in &acked {
            assert_eq!(
                bulk(cmd(&mut c, &["GET", k])),
                b"1",
                "round {round}: lost {k}"
            );
        }
        // Pipelined writes; the kill lands while some are in flight.
        let port = p.port;
        let writer = std::thread::spawn(move || {
            let mut c = RawConn::connect(port);
            let mut done = Vec::new();
            for i in 0..400 {
                let key = format!("k{round}:{i}");
                c.send(&encode_command(&["SET", key.as_str(), "1"]));
                match c.read_reply_bytes(Duration::from_secs(5)) {
                    Ok(r) if r == b"+OK\r\n" => done.push(key),
                    _ => break,
                }
            }
            done
        });
        std::thread::sleep(Duration::from_millis(150 + 50 * round));
        p.kill9();
        acked.extend(writer.join().unwrap_or_default());
    }
    let p = Proc::must_start(Kind::Ringkv(2), &dir, &args);
    let mut c = p.conn();
    for k in &acked {
        assert_eq!(
            bulk(cmd(&mut c, &["GET", k])),
            b"1",
            "lost acknowledged {k}"
        );
    }
    assert!(!acked.is_empty());
    p.stop();
}

fn incr_file(dir: &TestDir) -> std::path::PathBuf {
    dir.join("appendonlydir/appendonly.aof.1.incr.aof")
}

fn append(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    f.write_all(bytes).unwrap_or_else(|e| panic!("append: {e}"));
}

/// A directory whose incr file holds `SET a 1`, `SET b 2`.
fn two_keys(dir: &TestDir) {
    let p = Proc::must_start(Kind::Ringkv(2), dir, AOF);
    let mut c = p.conn();
    cmd(&mut c, &["SET", "a", "1"]);
    cmd(&mut c, &["SET", "b", "2"]);
    drop(c);
    p.stop();
}

#[test]
fn truncated_tail_loads_with_aof_load_truncated_yes_and_fails_with_no() {
    let _serial = serial();
    let dir = TestDir::new();
    two_keys(&dir);
    let good = std::fs::metadata(incr_file(&dir))
        .map(|m| m.len())
        .unwrap_or(0);
    append(&incr_file(&dir), b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$5\r\n12");

    let mut args = AOF.to_vec();
    args.extend(["--aof-load-truncated", "no"]);
    let (p, log) = Proc::start(Kind::Ringkv(2), &dir, &args);
    assert!(
        p.is_none(),
        "started with a cut tail and aof-load-truncated no"
    );
    assert!(
        log.contains(
            "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof"
        ),
        "{log}"
    );

    let p = Proc::must_start(Kind::Ringkv(2), &dir, AOF);
    let log = p.log();
    assert!(
        log.contains(
            "!!! Warning: short read while loading the AOF file appendonly.aof.1.incr.aof!!!"
        ),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "!!! Truncating the AOF appendonly.aof.1.incr.aof at offset {good} !!!"
        )),
        "{log}"
    );
    assert!(
        log.contains(
            "AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated is enabled"
        ),
        "{log}"
    );
    let mut c = p.conn();
    assert_eq!(bulk(cmd(&mut c, &["GET", "b"])), b"2");
    assert_eq!(cmd(&mut c, &["GET", "c"]), Reply::Bulk(None));
    p.stop();
    // Cut at the last complete command, then appended to.
    let p = Proc::must_start(Kind::Ringkv(2), &dir, AOF);
    assert_eq!(bulk(cmd(&mut p.conn(), &["GET", "a"])), b"1");
    p.stop();
}

#[test]
fn garbage_in_the_middle_is_a_bad_format_like_redis() {
    let _serial = serial();
    let dir = TestDir::new();
    two_keys(&dir);
    append(
        &incr_file(&dir),
        b"this is not resp\r\n*3\r\n$3\r\nSET\r\n$1\r\nd\r\n$1\r\n4\r\n",
    );
    for kind in [Kind::Ringkv(2), Kind::Redis] {
        let (p, log) = Proc::start(kind, &dir, AOF);
        assert!(p.is_none(), "{kind:?} started on a garbled AOF");
        assert!(
            log.contains("Bad file format reading the append only file appendonly.aof.1.incr.aof: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"),
            "{kind:?}: {log}"
        );
    }
}

#[test]
fn reply_parser_sanity() {
    // The harness parser is what the dumps rely on.
    assert!(matches!(
        parse_reply(b":1\r\n"),
        Ok(Some((Reply::Integer(1), 4)))
    ));
}

#[test]
fn bgrewriteaof_with_the_aof_off_writes_a_base_redis_loads() {
    let _serial = serial();
    let dir = TestDir::new();
    let p = Proc::must_start(Kind::Ringkv(2), &dir, &["--aof-use-rdb-preamble", "no"]);
    let mut c = p.conn();
    workload(&mut c, "off");
    let before = dump(&mut c);
    assert_eq!(
        bulk(cmd(&mut c, &["BGREWRITEAOF"])),
        b"Background append only file rewriting started"
    );
    assert!(wait_until(Duration::from_secs(20), || {
        info_field(&mut c, "aof_rewrite_in_progress") == "0"
            && info_field(&mut c, "aof_rewrites") == "1"
    }));
    assert_eq!(
        manifest(&dir),
        "file appendonly.aof.1.base.aof seq 1 type b\n"
    );
    drop(c);
    p.stop();
    let r = Proc::must_start(Kind::Redis, &dir, AOF);
    assert_eq!(before, dump(&mut r.conn()));
    r.stop();
}

/// ringkv-check-aof and redis-check-aof print the same report on the same files.
#[test]
fn check_aof_reports_like_redis_check_aof() {
    let _serial = serial();
    let dir = TestDir::new();
    two_keys(&dir);
    append(&incr_file(&dir), b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$5\r\n12");
    let manifest = dir.join("appendonlydir/appendonly.aof.manifest");
    let m = manifest.to_string_lossy().into_owned();
    let ours = env!("CARGO_BIN_EXE_ringkv-check-aof");
    let run = |bin: &str, args: &[&str]| {
        let out = common::run_bounded(30, bin, args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let theirs = run("redis-check-aof", &[&m]);
    assert_eq!(run(ours, &[&m]), theirs);
    assert_eq!(theirs.0, Some(1));
    let incr = incr_file(&dir).to_string_lossy().into_owned();
    assert_eq!(run(ours, &[&incr]), run("redis-check-aof", &[&incr]));
    // --fix answers from stdin: with nothing to read it aborts, like redis-check-aof.
    let fixed = run(ours, &["--fix", &m]);
    assert_eq!(fixed.0, Some(1));
    assert!(
        fixed.1.ends_with("Continue? [y/N]: Aborting...\n"),
        "{}",
        fixed.1
    );
}

/// Rewrites while clients write across both shards (multi-shard MSET, MULTI/EXEC, INCR): the
/// base plus what followed each shard's cut rebuilds exactly the final data (a unit counted in
/// both, or in neither, would show as a wrong counter).
#[test]
fn rewrites_under_concurrent_cross_shard_writes_lose_and_repeat_nothing() {
    concurrent_rewrites(AOF);
}

#[test]
fn rdb_base_rewrites_under_concurrent_cross_shard_writes_lose_and_repeat_nothing() {
    concurrent_rewrites(AOF_RDB_BASE);
}

fn concurrent_rewrites(args: &[&str]) {
    let _serial = serial();
    let dir = TestDir::new();
    let p = Proc::must_start(Kind::Ringkv(2), &dir, args);
    let port = p.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..3 {
        let stop = stop.clone();
        workers.push(std::thread::spawn(move || {
            let mut c = RawConn::connect(port);
            let a = key_on_shard(&format!("w{w}a"), "", 0, 2);
            let b = key_on_shard(&format!("w{w}b"), "", 1, 2);
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 5000 {
                let v = i.to_string();
                let r = match i % 3 {
                    0 => c.cmd(&["MSET", a.as_str(), v.as_str(), b.as_str(), v.as_str()]),
                    1 => {
                        c.cmd(&["MULTI"]);
                        c.cmd(&["INCR", a.as_str()]);
                        c.cmd(&["INCR", b.as_str()]);
                        c.cmd(&["EXEC"])
                    }
                    _ => c.cmd(&["INCR", &format!("{{w{w}}}count")]),
                };
                assert!(!r.starts_with(b"-"), "{}", String::from_utf8_lossy(&r));
                i += 1;
            }
        }));
    }
    let mut c = p.conn();
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(100));
        cmd(&mut c, &["BGREWRITEAOF"]);
        wait_rewrite_done(&mut c);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.join().unwrap_or_else(|_| panic!("a writer failed"));
    }
    let before = dump(&mut c);
    drop(c);
    p.stop();
    let p = Proc::must_start(Kind::Ringkv(2), &dir, args);
    assert_eq!(before, dump(&mut p.conn()));
    p.stop();
}

/// A rewrite that fails after its cut (here: the temp base file can't be created because a
/// directory holds its name) keeps the incr file it opened, so every acknowledged write, made
/// before, during and after the failed rewrite, is loaded at the next start.
#[test]
fn a_failed_rewrite_loses_no_acknowledged_write() {
    let _serial = serial();
    for shards in [1, 2] {
        for preamble in ["no", "yes"] {
            let dir = TestDir::new();
            let args = ["--appendonly", "yes", "--aof-use-rdb-preamble", preamble];
            let p = Proc::must_start(Kind::Ringkv(shards), &dir, &args);
            let mut c = p.conn();
            for i in 0..20 {
                cmd(&mut c, &["SET", &format!("before{i}"), "1"]);
            }
            let blocker = dir.join(&format!("appendonlydir/temp-rewriteaof-bg-{}.aof", p.pid));
            std::fs::create_dir_all(&blocker).unwrap_or_else(|e| panic!("mkdir: {e}"));
            let r = cmd(&mut c, &["BGREWRITEAOF"]);
            assert_eq!(
                bulk(r),
                b"Background append only file rewriting started".to_vec()
            );
            for i in 0..20 {
                cmd(&mut c, &["SET", &format!("during{i}"), "1"]);
            }
            let done = wait_until(Duration::from_secs(20), || {
                info_field(&mut c, "aof_rewrite_in_progress") == "0"
            });
            assert!(done, "the rewrite did not end");
            assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "err");
            for i in 0..20 {
                cmd(&mut c, &["SET", &format!("after{i}"), "1"]);
            }
            cmd(&mut c, &["INCR", "before0"]);
            let _ = std::fs::remove_dir(&blocker);
            drop(c);
            p.stop();
            let p = Proc::must_start(Kind::Ringkv(shards), &dir, &args);
            let mut c = p.conn();
            assert_eq!(
                int(cmd(&mut c, &["DBSIZE"])),
                60,
                "{shards} shards, preamble {preamble}"
            );
            assert_eq!(bulk(cmd(&mut c, &["GET", "before0"])), b"2".to_vec());
            for prefix in ["before", "during", "after"] {
                for i in 1..20 {
                    let k = format!("{prefix}{i}");
                    assert_eq!(bulk(cmd(&mut c, &["GET", &k])), b"1".to_vec(), "{k}");
                }
            }
            // The next rewrite succeeds and keeps everything too.
            cmd(&mut c, &["BGREWRITEAOF"]);
            wait_rewrite_done(&mut c);
            assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
            for i in 0..10 {
                cmd(&mut c, &["SET", &format!("final{i}"), "1"]);
            }
            drop(c);
            p.stop();
            let p = Proc::must_start(Kind::Ringkv(shards), &dir, &args);
            let mut c = p.conn();
            assert_eq!(int(cmd(&mut c, &["DBSIZE"])), 70);
            drop(c);
            p.stop();
        }
    }
}

/// Expired keys reach the AOF as `DEL`, or `UNLINK` with `lazyfree-lazy-expire yes` (lazy
/// expiry, EXPIRE and GETEX with a past deadline alike); a client's UNLINK stays UNLINK.
/// Checked against redis-server too.
#[test]
fn expired_keys_propagate_as_del_or_unlink_like_redis() {
    let _serial = serial();
    for kind in [Kind::Ringkv(1), Kind::Ringkv(2), Kind::Redis] {
        for lazy in ["no", "yes"] {
            let dir = TestDir::new();
            let args = ["--appendonly", "yes", "--lazyfree-lazy-expire", lazy];
            let p = Proc::must_start(kind, &dir, &args);
            let mut c = p.conn();
            cmd(&mut c, &["SET", "a", "1", "PX", "1"]);
            let gone = wait_until(Duration::from_secs(10), || {
                cmd(&mut c, &["GET", "a"]) == Reply::Bulk(None)
            });
            assert!(gone);
            cmd(&mut c, &["SET", "b", "1"]);
            cmd(&mut c, &["EXPIRE", "b", "-1"]);
            cmd(&mut c, &["SET", "c", "1"]);
            cmd(&mut c, &["UNLINK", "c"]);
            cmd(&mut c, &["SET", "d", "1"]);
            cmd(&mut c, &["GETEX", "d", "PXAT", "1"]);
            // Switched at runtime, the other way round.
            let other = if lazy == "yes" { "no" } else { "yes" };
            cmd(&mut c, &["CONFIG", "SET", "lazyfree-lazy-expire", other]);
            cmd(&mut c, &["SET", "e", "1"]);
            cmd(&mut c, &["EXPIRE", "e", "0"]);
            drop(c);
            p.stop();
            let text = String::from_utf8_lossy(
                &std::fs::read(incr_file(&dir)).unwrap_or_else(|e| panic!("read incr: {e}")),
            )
            .into_owned();
            let del = if lazy == "yes" { "UNLINK" } else { "DEL" };
            for k in ["a", "b", "d"] {
                let want = format!("*2\r\n${}\r\n{del}\r\n$1\r\n{k}\r\n", del.len());
                assert!(text.contains(&want), "{kind:?} lazy {lazy}: {k}\n{text:?}");
            }
            assert!(
                text.contains("*2\r\n$6\r\nunlink\r\n$1\r\nc\r\n")
                    || text.contains("*2\r\n$6\r\nUNLINK\r\n$1\r\nc\r\n"),
                "{kind:?}: {text:?}"
            );
            assert!(
                !text.contains("\r\nDEL\r\n$1\r\nc\r\n"),
                "{kind:?}: {text:?}"
            );
            let other = if lazy == "yes" { "DEL" } else { "UNLINK" };
            let want = format!("*2\r\n${}\r\n{other}\r\n$1\r\ne\r\n", other.len());
            assert!(text.contains(&want), "{kind:?} runtime switch: {text:?}");
        }
    }
}

/// A Redis < 7 single `appendonly.aof` in `dir` (plain commands, or an RDB preamble followed by
/// commands) is moved into `appenddirname` as the base of a new manifest, with Redis's log
/// line, and loads; checked against redis-server too.
#[test]
fn an_old_style_appendonly_aof_is_upgraded_to_the_multi_part_layout() {
    let _serial = serial();
    for kind in [Kind::Ringkv(1), Kind::Ringkv(2), Kind::Redis] {
        for preamble in [false, true] {
            let dir = TestDir::new();
            let mut legacy = Vec::new();
            if preamble {
                let p = Proc::must_start(kind, &dir, &[]);
                let mut c = p.conn();
                cmd(&mut c, &["SET", "r", "from-rdb"]);
                cmd(&mut c, &["SADD", "s", "m1", "m2"]);
                cmd(&mut c, &["SAVE"]);
                drop(c);
                p.stop();
                let rdb = dir.join("dump.rdb");
                legacy = std::fs::read(&rdb).unwrap_or_else(|e| panic!("read dump.rdb: {e}"));
                let _ = std::fs::remove_file(&rdb);
            }
            for argv in [
                &["SELECT", "0"][..],
                &["SET", "a", "1"],
                &["RPUSH", "l", "x", "y"],
                &["SELECT", "1"],
                &["SET", "b", "2"],
            ] {
                legacy.extend(encode_command(argv));
            }
            std::fs::write(dir.join("appendonly.aof"), &legacy)
                .unwrap_or_else(|e| panic!("write appendonly.aof: {e}"));
            let p = Proc::must_start(kind, &dir, &["--appendonly", "yes"]);
            let log = p.log();
            assert!(
                log.contains("Successfully migrated an old-style AOF file (appendonly.aof) into the AOF directory (appendonlydir)."),
                "{kind:?}: {log}"
            );
            assert!(!dir.join("appendonly.aof").exists());
            assert_eq!(
                std::fs::read(dir.join("appendonlydir/appendonly.aof")).ok(),
                Some(legacy.clone())
            );
            assert_eq!(
                manifest(&dir),
                "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
                "{kind:?}"
            );
            let mut c = p.conn();
            let check = |c: &mut RawConn, extra: bool| {
                cmd(c, &["SELECT", "0"]);
                assert_eq!(bulk(cmd(c, &["GET", "a"])), b"1".to_vec(), "{kind:?}");
                assert_eq!(
                    strings(cmd(c, &["LRANGE", "l", "0", "-1"])),
                    vec![b"x".to_vec(), b"y".to_vec()]
                );
                if preamble {
                    assert_eq!(bulk(cmd(c, &["GET", "r"])), b"from-rdb".to_vec());
                    assert_eq!(int(cmd(c, &["SCARD", "s"])), 2);
                }
                if extra {
                    assert_eq!(bulk(cmd(c, &["GET", "c"])), b"3".to_vec());
                }
                cmd(c, &["SELECT", "1"]);
                assert_eq!(bulk(cmd(c, &["GET", "b"])), b"2".to_vec());
            };
            check(&mut c, false);
            cmd(&mut c, &["SELECT", "0"]);
            cmd(&mut c, &["SET", "c", "3"]);
            drop(c);
            p.stop();
            let p = Proc::must_start(kind, &dir, &["--appendonly", "yes"]);
            assert!(!p.log().contains("old-style"), "{kind:?}: {}", p.log());
            let mut c = p.conn();
            check(&mut c, true);
            drop(c);
            p.stop();
        }
    }
}

/// An AOF written by hand (the way a client's writes reach it): MULTI/EXEC whose keys live on
/// different shards, SELECT of several dbs (also inside MULTI), absolute expiries in the past
/// and the future (SET PXAT, PEXPIREAT), DEL of expired keys, every collection type. Loaded by
/// redis-server and by ringkv at 1 and 2 shards, every key, type, value and TTL is the same.
#[test]
fn a_hand_written_aof_loads_into_ringkv_as_into_redis() {
    let _serial = serial();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let past = (now - 60_000).to_string();
    let future = (now + 3_600_000).to_string();
    let a0 = key_on_shard("a", "", 0, 2);
    let b1 = key_on_shard("b", "", 1, 2);
    let c0 = key_on_shard("c", "", 0, 2);
    let d1 = key_on_shard("d", "", 1, 2);
    let l0 = key_on_shard("list", "", 0, 2);
    let l1 = key_on_shard("list", "", 1, 2);
    let s0 = key_on_shard("set", "", 0, 2);
    let s1 = key_on_shard("set", "", 1, 2);
    let (p, f) = (past.as_str(), future.as_str());
    let cmds: Vec<Vec<&str>> = vec![
        vec!["SELECT", "0"],
        vec!["SET", "plain", "v"],
        vec!["SET", "gone", "v", "PXAT", p],
        vec!["SET", "kept", "v", "PXAT", f],
        vec!["RPUSH", &l0, "a", "b", "c"],
        vec!["HSET", "h", "f1", "v1", "f2", "v2"],
        vec!["SADD", &s0, "x", "y", "z"],
        vec!["SADD", &s1, "y", "w"],
        vec!["ZADD", "z", "1", "a", "2.5", "b", "-3", "c"],
        vec!["MULTI"],
        vec!["SET", &a0, "1"],
        vec!["SET", &b1, "2"],
        vec!["LMOVE", &l0, &l1, "LEFT", "RIGHT"],
        vec!["SINTERSTORE", &c0, &s0, &s1],
        vec!["INCRBY", &d1, "7"],
        vec!["EXEC"],
        vec!["MSET", &a0, "10", &b1, "20"],
        vec!["RENAME", &a0, "renamed"],
        vec!["SELECT", "3"],
        vec!["SET", "d3", "v"],
        vec!["PEXPIREAT", "d3", f],
        vec!["SET", "d3gone", "v"],
        vec!["PEXPIREAT", "d3gone", p],
        vec!["HSET", "h3", "a", "1"],
        vec!["HINCRBY", "h3", "a", "4"],
        vec!["ZADD", "z3", "5", "m"],
        vec!["PEXPIREAT", "z3", f],
        vec!["MULTI"],
        vec!["SELECT", "5"],
        vec!["SET", &a0, "in5"],
        vec!["SET", &b1, "in5", "PXAT", f],
        vec!["RPUSH", "l5", "q"],
        vec!["SELECT", "3"],
        vec!["SET", "back3", "v"],
        vec!["EXEC"],
        // The db selected inside MULTI stays selected after EXEC.
        vec!["SET", "after_exec", "v"],
        vec!["SELECT", "1"],
        vec!["SET", "e", "v", "PXAT", p],
        vec!["DEL", "e"],
        vec!["SET", "e2", "v"],
        vec!["PEXPIREAT", "e2", p],
        vec!["DEL", "e2"],
        vec!["SET", "e3", "v", "PXAT", p],
        vec!["SET", "e3", "new"],
        vec!["SADD", "s", "1", "2", "3"],
        vec!["SREM", "s", "2"],
        vec!["MULTI"],
        vec!["DEL", &c0, &d1],
        vec!["SET", &c0, "c"],
        vec!["HSET", &d1, "k", "v"],
        vec!["EXEC"],
        vec!["SELECT", "0"],
        vec!["INCR", "counter"],
        vec!["DEL", &d1],
    ];
    let mut incr = Vec::new();
    for c in &cmds {
        incr.extend_from_slice(&encode_command(c));
    }
    let write = |dir: &TestDir| {
        let d = dir.join("appendonlydir");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("appendonly.aof.manifest"),
            "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
        )
        .unwrap();
        std::fs::write(d.join("appendonly.aof.1.base.aof"), b"").unwrap();
        std::fs::write(d.join("appendonly.aof.1.incr.aof"), &incr).unwrap();
    };
    let load = |kind: Kind| {
        let dir = TestDir::new();
        write(&dir);
        let p = Proc::must_start(kind, &dir, AOF);
        let d = dump(&mut p.conn());
        p.stop();
        d
    };
    let want = load(Kind::Redis);
    // The test means something: the stream left keys of every kind in several dbs.
    assert!(want.contains_key(&(5, b1.clone())) && want.contains_key(&(3, "after_exec".into())));
    assert!(!want.contains_key(&(0, "gone".into())) && !want.contains_key(&(1, "e".into())));
    for shards in [1, 2] {
        assert_eq!(load(Kind::Ringkv(shards)), want, "{shards} shards");
    }
}
