//! RDB persistence of the data node, checked against the real redis-server 7.0.15: files move
//! both ways (ringkv SAVE → redis-server loads, redis-server SAVE → ringkv loads) with every
//! type and encoding size class, TTLs and several dbs, with 1 and 2 shards; BGSAVE under writes
//! writes a consistent cut; data survives restarts (SHUTDOWN SAVE, SIGTERM with save points,
//! DEBUG RELOAD) against an in-memory model; corrupt files stop startup cleanly; a failed
//! BGSAVE turns on MISCONF; saves from inside MULTI/EXEC do not deadlock.

mod common;

use common::{run_bounded, wait_until, RawConn, RedisServer, Reply, Server, TestDir};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The tests of this file run one at a time: they start several servers each, several of
/// them CPU-heavy, on a machine with 2 cores.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn args(s: &[&str]) -> Vec<Vec<u8>> {
    s.iter().map(|a| a.as_bytes().to_vec()).collect()
}

/// Commands creating keys of every type and encoding size class.
fn fill_commands(prefix: &str) -> Vec<Vec<Vec<u8>>> {
    let k = |n: &str| format!("{prefix}{n}");
    let mut c = vec![
        args(&["SET", &k("s_int8"), "12"]),
        args(&["SET", &k("s_int16"), "-300"]),
        args(&["SET", &k("s_int32"), "70000"]),
        args(&["SET", &k("s_int64"), "9999999999"]),
        args(&["SET", &k("s_small"), "hello"]),
        args(&["SET", &k("s_empty"), ""]),
        args(&["SET", &k("s_lzf"), &"a".repeat(100)]),
        args(&["SET", &k("s_ttl"), "v", "PX", "100000000"]),
        args(&[
            "RPUSH",
            &k("l_small"),
            "a",
            "1",
            "-5",
            "300",
            "70000",
            "hello",
        ]),
        args(&["HSET", &k("h_small"), "f1", "v1", "f2", "2"]),
        args(&["HSET", &k("h_long"), "long", &"x".repeat(100)]),
        args(&["SADD", &k("set_int"), "1", "2", "-70000"]),
        args(&["SADD", &k("set_str"), "a", "b"]),
        args(&[
            "ZADD",
            &k("z_small"),
            "1",
            "a",
            "2.5",
            "b",
            "-0.125",
            "c",
            "inf",
            "d",
        ]),
        args(&["ZADD", &k("z_long"), "1", &"m".repeat(100)]),
        args(&["PEXPIRE", &k("z_long"), "200000000"]),
    ];
    let mut bin = vec![b"SET".to_vec(), k("s_bin").into_bytes()];
    bin.push((0..=255u8).collect());
    c.push(bin);
    let mut l = args(&["RPUSH", &k("l_big")]);
    for i in 0..3000 {
        l.push(format!("element-{i}").into_bytes());
    }
    l.push(vec![b'z'; 20000]);
    c.push(l);
    let mut h = args(&["HSET", &k("h_big")]);
    for i in 0..600 {
        h.push(format!("f{i}").into_bytes());
        h.push(format!("v{i}").into_bytes());
    }
    c.push(h);
    let mut s = args(&["SADD", &k("set_bigint")]);
    for i in 0..600 {
        s.push(i.to_string().into_bytes());
    }
    c.push(s);
    let mut s = args(&["SADD", &k("set_bigstr")]);
    for i in 0..600 {
        s.push(format!("m{i}").into_bytes());
    }
    c.push(s);
    let mut z = args(&["ZADD", &k("z_big")]);
    for i in 0..200 {
        z.push(format!("{}", i as f64 / 3.0).into_bytes());
        z.push(format!("m{i}").into_bytes());
    }
    c.push(z);
    c
}

fn ok(r: Reply) {
    assert!(!matches!(r, Reply::Error(_)), "unexpected error {r:?}");
}

/// Fills dbs 0 and 5 of `port` with every kind of key.
fn fill(port: u16) {
    let mut c = RawConn::connect(port);
    for (db, prefix) in [("0", "a:"), ("5", "b:")] {
        ok(c.cmd_reply(&["SELECT", db]));
        for cmd in fill_commands(prefix) {
            ok(c.cmd_reply(&cmd));
        }
    }
}

/// One key as it reads: type, value in a canonical form, TTL in ms (-1 none).
type Image = BTreeMap<(u8, Vec<u8>), (String, Vec<Vec<u8>>, i64)>;

fn image(port: u16) -> Image {
    let mut c = common::client(port);
    let mut out = Image::new();
    for db in 0..16u8 {
        redis::cmd("SELECT").arg(db).query::<()>(&mut c).unwrap();
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
        for key in keys {
            let t: String = redis::cmd("TYPE").arg(&key).query(&mut c).unwrap();
            let mut v: Vec<Vec<u8>> = match t.as_str() {
                "string" => vec![redis::cmd("GET").arg(&key).query(&mut c).unwrap()],
                "list" => redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query(&mut c)
                    .unwrap(),
                "hash" => redis::cmd("HGETALL").arg(&key).query(&mut c).unwrap(),
                "set" => redis::cmd("SMEMBERS").arg(&key).query(&mut c).unwrap(),
                "zset" => redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query(&mut c)
                    .unwrap(),
                other => panic!("unexpected type {other}"),
            };
            if t == "hash" {
                let mut pairs: Vec<Vec<u8>> = v.chunks(2).map(|p| p.concat()).collect();
                pairs.sort();
                v = pairs;
            } else if t == "set" {
                v.sort();
            }
            let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut c).unwrap();
            out.insert((db, key), (t, v, ttl));
        }
    }
    out
}

/// Same keys, types and values; TTLs both absent or within a minute of each other.
fn assert_same(a: &Image, b: &Image, what: &str) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}: key sets differ"
    );
    for (k, (t, v, ttl)) in a {
        let (t2, v2, ttl2) = &b[k];
        assert_eq!((t, v), (t2, v2), "{what}: {k:?}");
        assert_eq!(*ttl < 0, *ttl2 < 0, "{what}: TTL of {k:?}");
        assert!((ttl - ttl2).abs() < 60_000, "{what}: TTL of {k:?}");
    }
}

fn copy_to(file: &Path, dir: &TestDir) {
    std::fs::copy(file, dir.join("dump.rdb")).unwrap();
}

#[test]
fn ringkv_save_loads_in_redis_server_and_passes_redis_check_rdb() {
    let _serial = serial();
    for shards in [1, 2] {
        let s = Server::ringkv(shards, &[]);
        fill(s.port);
        let want = image(s.port);
        assert_eq!(s.raw().cmd_reply(&["SAVE"]), Reply::Simple(b"OK".to_vec()));
        let file = s.dir.join("dump.rdb");
        let out = run_bounded(30, "redis-check-rdb", &[file.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(text.contains("\\o/ RDB looks OK! \\o/"), "{text}");
        let dir = TestDir::new();
        copy_to(&file, &dir);
        let r = RedisServer::start(&["--dir", &dir.path_str(), "--dbfilename", "dump.rdb"]);
        assert_same(&want, &image(r.port), &format!("{shards} shards → redis"));
    }
}

#[test]
fn redis_server_save_loads_in_ringkv() {
    let _serial = serial();
    let r = RedisServer::start(&[]);
    fill(r.port);
    let want = image(r.port);
    assert_eq!(r.raw().cmd_reply(&["SAVE"]), Reply::Simple(b"OK".to_vec()));
    for shards in [1, 2] {
        let dir = TestDir::new();
        copy_to(&r.dir.join("dump.rdb"), &dir);
        let s = Server::ringkv(shards, &["--dir", &dir.path_str()]);
        assert_same(&want, &image(s.port), &format!("redis → {shards} shards"));
        assert!(s.log().contains("DB loaded from disk"), "{}", s.log());
        assert_eq!(
            info_field(&mut s.raw(), "rdb_last_load_keys_loaded"),
            want.len().to_string()
        );
    }
}

fn info_field(c: &mut RawConn, name: &str) -> String {
    let Reply::Bulk(Some(text)) = c.cmd_reply(&["INFO", "persistence"]) else {
        panic!("INFO failed");
    };
    let text = String::from_utf8_lossy(&text).to_string();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[test]
fn bgsave_while_clients_write_serves_them_and_saves_a_consistent_cut() {
    let _serial = serial();
    let shards = 2;
    let s = Server::ringkv(shards, &["--enable-debug-command", "yes"]);
    let mut c = s.raw();
    // Enough data that the walk spans many steps.
    ok(c.cmd_reply(&["DEBUG", "POPULATE", "200000", "fill", "64"]));
    let ka = common::key_on_shard("grp:a", "", 0, shards);
    let kb = common::key_on_shard("grp:b", "", 1, shards);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let port = s.port;
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (stop, ka, kb) = (stop.clone(), ka.clone(), kb.clone());
            let ca = common::key_on_shard(&format!("ctr{w}a"), "", 0, shards);
            let cb = common::key_on_shard(&format!("ctr{w}b"), "", 1, shards);
            std::thread::spawn(move || {
                let mut c = RawConn::connect(port);
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let v = format!("{w}-{n}");
                    ok(c.cmd_reply(&["MSET", &ka, &v, &kb, &v]));
                    // Causality: ctr{w}:a is incremented (and acknowledged) before
                    // ctr{w}:b, on the other shard; a cut never holds b ahead of a.
                    ok(c.cmd_reply(&["INCR", &ca]));
                    ok(c.cmd_reply(&["INCR", &cb]));
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    // Several saves while the writers run; every file must hold a consistent cut.
    for round in 0..5 {
        assert_eq!(
            c.cmd_reply(&["BGSAVE"]),
            Reply::Simple(b"Background saving started".to_vec())
        );
        assert_eq!(
            c.cmd_reply(&["BGSAVE"]),
            Reply::Error(b"ERR Background save already in progress".to_vec())
        );
        // Other clients are served while the save runs.
        assert_eq!(c.cmd_reply(&["PING"]), Reply::Simple(b"PONG".to_vec()));
        assert!(wait_until(Duration::from_secs(120), || info_field(
            &mut c,
            "rdb_bgsave_in_progress"
        ) == "0"));
        assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
        check_cut(&s.dir.join("dump.rdb"), &ka, &kb, shards, round);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let done: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(done.iter().all(|&n| n > 0));
}

/// The file holds all 200000 filler keys, both keys of every MSET group or neither, and no
/// `b` counter ahead of its `a` counter.
fn check_cut(file: &Path, ka: &str, kb: &str, shards: usize, round: usize) {
    let bytes = std::fs::read(file).unwrap();
    let mut vals: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut fill_keys = 0;
    ringkv::persistence::rdb::load(&bytes[..], |e| {
        if e.key.starts_with(b"fill:") {
            fill_keys += 1;
        } else if let ringkv::keyspace::Value::Str(v) = &e.value {
            vals.insert(e.key.clone(), v.as_bytes(&mut itoa::Buffer::new()).to_vec());
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(fill_keys, 200000);
    assert_eq!(
        vals.get(ka.as_bytes()),
        vals.get(kb.as_bytes()),
        "round {round}: MSET group split by the cut"
    );
    for w in 0..2 {
        let get = |p: &str, s: usize| -> i64 {
            let k = common::key_on_shard(&format!("ctr{w}{p}"), "", s, shards);
            vals.get(k.as_bytes())
                .map(|v| String::from_utf8_lossy(v).parse().unwrap())
                .unwrap_or(0)
        };
        let (a, b) = (get("a", 0), get("b", 1));
        assert!(
            a == b || a == b + 1,
            "round {round}, writer {w}: a={a} b={b}"
        );
    }
}

/// A server process started by [`spawn_ringkv`]; killed if the test panics.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl std::ops::Deref for Child {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Child {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Starts ringkv on an existing dir; returns the process (not waiting for readiness).
fn spawn_ringkv(dir: &Path, port: u16, extra: &[&str]) -> Child {
    let mut a: Vec<String> = vec![
        "--port".into(),
        port.to_string(),
        "--dir".into(),
        dir.display().to_string(),
        "--logfile".into(),
        dir.join("server.log").display().to_string(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    Child(
        Command::new(common::ringkv_bin())
            .args(&a)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// Waits (bounded) until the server answers PING on a fresh connection, like the harness.
fn wait_pong(port: u16) {
    use std::io::{Read, Write};
    let pong = || -> Option<()> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        s.write_all(b"*1\r\n$4\r\nPING\r\n").ok()?;
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).ok()?;
        (&buf == b"+PONG\r\n").then_some(())
    };
    assert!(wait_until(Duration::from_secs(60), || pong().is_some()));
}

fn wait_exit(child: &mut Child, secs: u64) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("server did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn corrupt_or_truncated_file_stops_startup_with_the_offset_and_no_panic() {
    let _serial = serial();
    let s = Server::ringkv(1, &[]);
    fill(s.port);
    assert_eq!(s.raw().cmd_reply(&["SAVE"]), Reply::Simple(b"OK".to_vec()));
    let good = std::fs::read(s.dir.join("dump.rdb")).unwrap();
    let mut flipped = good.clone();
    let n = flipped.len();
    flipped[n - 3] ^= 0x40;
    let cases = [
        ("checksum", flipped, "RDB CRC error"),
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            "Unexpected EOF",
        ),
    ];
    for (what, bytes, needle) in cases {
        if common::against_redis() {
            continue;
        }
        let dir = TestDir::new();
        std::fs::write(dir.join("dump.rdb"), &bytes).unwrap();
        let mut child = spawn_ringkv(dir.path(), common::free_port(), &[]);
        let st = wait_exit(&mut child, 60);
        let mut err = String::new();
        use std::io::Read;
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        assert!(!st.success(), "{what}: exit {st}");
        assert!(
            !err.contains("panicked") && !log.contains("panicked"),
            "{err}{log}"
        );
        assert!(
            log.contains(needle) && log.contains("dump.rdb") && log.contains("offset"),
            "{what}: {log}"
        );
    }
}

#[test]
fn failed_bgsave_turns_on_misconf_until_a_save_succeeds() {
    let _serial = serial();
    let s = Server::ringkv(2, &["--save", "3600 1"]);
    let mut c = s.raw();
    ok(c.cmd_reply(&["SET", "k", "v"]));
    // Root ignores permissions: make the rename fail with a non-empty directory in the way.
    let blocker = s.dir.join("dump.rdb");
    std::fs::create_dir_all(blocker.join("x")).unwrap();
    assert_eq!(
        c.cmd_reply(&["BGSAVE"]),
        Reply::Simple(b"Background saving started".to_vec())
    );
    assert!(wait_until(Duration::from_secs(30), || info_field(
        &mut c,
        "rdb_last_bgsave_status"
    ) == "err"));
    let misconf = b"MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.".to_vec();
    assert_eq!(
        c.cmd_reply(&["SET", "k", "w"]),
        Reply::Error(misconf.clone())
    );
    assert_eq!(c.cmd_reply(&["PING"]), Reply::Error(misconf));
    assert_eq!(c.cmd_reply(&["GET", "k"]), Reply::Bulk(Some(b"v".to_vec())));
    assert_eq!(c.cmd_reply(&["SAVE"]), Reply::Error(b"ERR".to_vec()));
    std::fs::remove_dir_all(&blocker).unwrap();
    assert_eq!(
        c.cmd_reply(&["BGSAVE"]),
        Reply::Simple(b"Background saving started".to_vec())
    );
    assert!(wait_until(Duration::from_secs(30), || info_field(
        &mut c,
        "rdb_last_bgsave_status"
    ) == "ok"));
    assert_eq!(
        c.cmd_reply(&["SET", "k", "w"]),
        Reply::Simple(b"OK".to_vec())
    );
    assert!(s.log().contains("Background saving error"), "{}", s.log());
}

#[test]
fn save_inside_multi_is_refused_and_flushall_inside_exec_saves_without_deadlock() {
    let _serial = serial();
    let shards = 2;
    let s = Server::ringkv(
        shards,
        &["--save", "3600 1", "--enable-debug-command", "yes"],
    );
    let mut c = s.raw();
    ok(c.cmd_reply(&["MULTI"]));
    assert_eq!(
        c.cmd_reply(&["SAVE"]),
        Reply::Error(b"ERR Command not allowed inside a transaction".to_vec())
    );
    assert_eq!(
        c.cmd_reply(&["EXEC"]),
        Reply::Error(b"EXECABORT Transaction discarded because of previous errors.".to_vec())
    );
    let ka = common::key_on_shard("x", "", 0, shards);
    let kb = common::key_on_shard("y", "", 1, shards);
    ok(c.cmd_reply(&["MULTI"]));
    c.cmd_reply(&["SET", &ka, "1"]);
    c.cmd_reply(&["SET", &kb, "1"]);
    c.cmd_reply(&["FLUSHALL"]);
    c.cmd_reply(&["SET", &kb, "after"]);
    c.cmd_reply(&["BGSAVE"]);
    // read_reply is bounded: a deadlock fails here instead of hanging.
    let Reply::Array(Some(r)) = c.cmd_reply(&["EXEC"]) else {
        panic!("EXEC failed");
    };
    assert_eq!(r.len(), 5);
    assert_eq!(r[2], Reply::Simple(b"OK".to_vec()));
    assert_eq!(r[4], Reply::Simple(b"Background saving scheduled".to_vec()));
    // The scheduled BGSAVE (FLUSHALL's own save is not counted, as in Redis).
    assert!(wait_until(Duration::from_secs(30), || info_field(
        &mut c,
        "rdb_saves"
    ) == "1"
        && info_field(&mut c, "rdb_bgsave_in_progress") == "0"));
    let bytes = std::fs::read(s.dir.join("dump.rdb")).unwrap();
    let mut keys = Vec::new();
    ringkv::persistence::rdb::load(&bytes[..], |e| {
        keys.push(e.key);
        Ok(())
    })
    .unwrap();
    assert_eq!(keys, vec![kb.clone().into_bytes()]);
    // DEBUG RELOAD inside a multi-shard block saves and reloads without deadlock.
    ok(c.cmd_reply(&["MULTI"]));
    c.cmd_reply(&["SET", &ka, "2"]);
    c.cmd_reply(&["DEBUG", "RELOAD"]);
    c.cmd_reply(&["GET", &ka]);
    let Reply::Array(Some(r)) = c.cmd_reply(&["EXEC"]) else {
        panic!("EXEC failed");
    };
    assert_eq!(r[1], Reply::Simple(b"OK".to_vec()));
    assert_eq!(r[2], Reply::Bulk(Some(b"2".to_vec())));
    assert_eq!(
        c.cmd_reply(&["GET", &kb]),
        Reply::Bulk(Some(b"after".to_vec()))
    );
}

/// The model: db → key → (kind, canonical value).
type Model = BTreeMap<(u8, String), Vec<String>>;

fn model_image(m: &Model) -> BTreeMap<(u8, Vec<u8>), Vec<Vec<u8>>> {
    m.iter()
        .map(|((db, k), v)| {
            (
                (*db, k.clone().into_bytes()),
                v.iter().map(|s| s.clone().into_bytes()).collect(),
            )
        })
        .collect()
}

fn server_values(port: u16) -> BTreeMap<(u8, Vec<u8>), Vec<Vec<u8>>> {
    std::panic::catch_unwind(|| image(port))
        .unwrap_or_else(|_| {
            let log = std::fs::read_to_string(LOG.with(|l| l.borrow().clone())).unwrap_or_default();
            panic!("server on port {port} failed; log:\n{log}")
        })
        .into_iter()
        .map(|(k, (_, v, _))| (k, v))
        .collect()
}

thread_local! {
    static LOG: std::cell::RefCell<std::path::PathBuf> = Default::default();
}

#[test]
fn model_based_random_ops_and_restarts() {
    let _serial = serial();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    let dir = TestDir::new();
    LOG.with(|l| *l.borrow_mut() = dir.join("server.log"));
    let mut model = Model::new();
    let mut port = common::free_port();
    let mut child = spawn_ringkv(
        dir.path(),
        port,
        &[
            "--shards",
            "2",
            "--save",
            "",
            "--enable-debug-command",
            "yes",
        ],
    );
    wait_pong(port);
    for round in 0..6 {
        let mut c = RawConn::connect(port);
        for _ in 0..300 {
            let db = rng.random_range(0..3u8);
            ok(c.cmd_reply(&["SELECT", &db.to_string()]));
            let key = format!("k{}", rng.random_range(0..40));
            let kind = key.as_bytes()[1] % 3;
            match rng.random_range(0..4) {
                0 => {
                    ok(c.cmd_reply(&["DEL", &key]));
                    model.remove(&(db, key));
                }
                _ => match kind {
                    0 => {
                        let v = rng.random_range(0..1000).to_string();
                        ok(c.cmd_reply(&["SET", &key, &v]));
                        model.insert((db, key), vec![v]);
                    }
                    1 => {
                        let v = format!("e{}", rng.random_range(0..1000));
                        ok(c.cmd_reply(&["RPUSH", &key, &v]));
                        model.entry((db, key)).or_default().push(v);
                    }
                    _ => {
                        let v = format!("m{}", rng.random_range(0..20));
                        ok(c.cmd_reply(&["SADD", &key, &v]));
                        let e = model.entry((db, key)).or_default();
                        if !e.contains(&v) {
                            e.push(v);
                            e.sort();
                        }
                    }
                },
            }
        }
        assert_eq!(
            server_values(port),
            model_image(&model),
            "round {round} before restart"
        );
        match round % 4 {
            0 => {
                c.send(&common::encode_command(&["SHUTDOWN", "SAVE"]));
                assert!(wait_exit(&mut child, 60).success());
            }
            3 => {
                // Crash after a BGSAVE: the restart has exactly what the BGSAVE saw.
                ok(c.cmd_reply(&["BGSAVE"]));
                assert!(wait_until(Duration::from_secs(60), || info_field(
                    &mut c,
                    "rdb_bgsave_in_progress"
                ) == "0"));
                ok(c.cmd_reply(&["SELECT", "0"]));
                ok(c.cmd_reply(&["SET", "lost", "1"]));
                common::signal(child.id(), libc::SIGKILL);
                wait_exit(&mut child, 60);
            }
            1 => {
                ok(c.cmd_reply(&["CONFIG", "SET", "save", "3600 1"]));
                common::signal(child.id(), libc::SIGTERM);
                assert!(wait_exit(&mut child, 60).success());
            }
            _ => {
                ok(c.cmd_reply(&["DEBUG", "RELOAD"]));
                assert_eq!(
                    server_values(port),
                    model_image(&model),
                    "after DEBUG RELOAD"
                );
                c.send(&common::encode_command(&["SHUTDOWN", "SAVE"]));
                assert!(wait_exit(&mut child, 60).success());
            }
        }
        port = common::free_port();
        child = spawn_ringkv(
            dir.path(),
            port,
            &[
                "--shards",
                "2",
                "--save",
                "",
                "--enable-debug-command",
                "yes",
            ],
        );
        wait_pong(port);
        assert_eq!(
            server_values(port),
            model_image(&model),
            "round {round} after restart"
        );
    }
    common::signal(child.id(), libc::SIGTERM);
    wait_exit(&mut child, 60);
}

#[test]
fn save_points_trigger_a_background_save_and_move_lastsave() {
    let _serial = serial();
    let s = Server::ringkv(2, &["--save", "1 1"]);
    let mut c = s.raw();
    let Reply::Integer(before) = c.cmd_reply(&["LASTSAVE"]) else {
        panic!("LASTSAVE")
    };
    ok(c.cmd_reply(&["SET", "k", "v"]));
    assert!(s.wait_log(
        "Background saving terminated with success",
        Duration::from_secs(30)
    ));
    assert!(
        s.log().contains("changes in 1 seconds. Saving..."),
        "{}",
        s.log()
    );
    assert!(s.dir.join("dump.rdb").exists());
    let Reply::Integer(after) = c.cmd_reply(&["LASTSAVE"]) else {
        panic!("LASTSAVE")
    };
    assert!(after > before);
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    assert_ne!(info_field(&mut c, "rdb_saves"), "0");
}

#[test]
fn sigterm_with_a_failing_final_save_keeps_serving_then_saves_on_the_next() {
    let _serial = serial();
    let mut s = Server::ringkv(2, &["--save", "3600 1"]);
    let mut c = s.raw();
    ok(c.cmd_reply(&["SET", "k", "v"]));
    let blocker = s.dir.join("dump.rdb");
    std::fs::create_dir_all(blocker.join("x")).unwrap();
    common::signal(s.pid, libc::SIGTERM);
    assert!(s.wait_log(
        "Error trying to save the DB, can't exit.",
        Duration::from_secs(30)
    ));
    assert_eq!(c.cmd_reply(&["GET", "k"]), Reply::Bulk(Some(b"v".to_vec())));
    assert_eq!(
        c.cmd_reply(&["SHUTDOWN"]),
        Reply::Error(b"ERR Errors trying to SHUTDOWN. Check logs.".to_vec())
    );
    std::fs::remove_dir_all(&blocker).unwrap();
    let st = s.terminate().expect("exited");
    assert!(st.success(), "{st}");
    let mut keys = Vec::new();
    ringkv::persistence::rdb::load(&std::fs::read(&blocker).unwrap()[..], |e| {
        keys.push(e.key);
        Ok(())
    })
    .unwrap();
    assert_eq!(keys, vec![b"k".to_vec()]);
}

#[test]
fn rdbchecksum_no_writes_a_zero_trailer_and_rdbcompression_no_keeps_strings_plain() {
    let _serial = serial();
    let s = Server::ringkv(2, &["--rdbchecksum", "no", "--rdbcompression", "no"]);
    let mut c = s.raw();
    let long = "a".repeat(1000);
    ok(c.cmd_reply(&["SET", "long", &long]));
    assert_eq!(c.cmd_reply(&["SAVE"]), Reply::Simple(b"OK".to_vec()));
    let bytes = std::fs::read(s.dir.join("dump.rdb")).unwrap();
    assert_eq!(&bytes[bytes.len() - 8..], &[0u8; 8]);
    // Uncompressed: the value is in the file as is.
    assert!(bytes.windows(long.len()).any(|w| w == long.as_bytes()));
    let dir = TestDir::new();
    copy_to(&s.dir.join("dump.rdb"), &dir);
    let r = RedisServer::start(&["--dir", &dir.path_str()]);
    assert!(r
        .log()
        .contains("RDB file was saved with checksum disabled"));
    assert_same(&image(s.port), &image(r.port), "rdbchecksum no");
}

#[test]
fn flushall_with_the_aof_on_and_save_points_saves_without_deadlock() {
    let _serial = serial();
    let shards = 2;
    let s = Server::ringkv(shards, &["--appendonly", "yes", "--save", "3600 1"]);
    let mut c = s.raw();
    let ka = common::key_on_shard("x", "", 0, shards);
    let kb = common::key_on_shard("y", "", 1, shards);
    ok(c.cmd_reply(&["MSET", &ka, "1", &kb, "2"]));
    // Bounded replies: a save waiting for the AOF path's own gate pass would time out here.
    assert_eq!(c.cmd_reply(&["FLUSHALL"]), Reply::Simple(b"OK".to_vec()));
    ok(c.cmd_reply(&["MULTI"]));
    c.cmd_reply(&["SET", &ka, "1"]);
    c.cmd_reply(&["SET", &kb, "2"]);
    c.cmd_reply(&["FLUSHALL"]);
    let Reply::Array(Some(r)) = c.cmd_reply(&["EXEC"]) else {
        panic!("EXEC failed");
    };
    assert_eq!(r[2], Reply::Simple(b"OK".to_vec()));
    let bytes = std::fs::read(s.dir.join("dump.rdb")).unwrap();
    let sum = ringkv::persistence::rdb::load(&bytes[..], |_| Ok(())).unwrap();
    assert_eq!(sum.keys, 0);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
}
