//! Serving while the dataset loads at startup (Redis 7.0 behaviour): a client that connects
//! during the load of a big RDB file or AOF directory gets `-LOADING` for commands without the
//! `loading` flag (GET, PING) and an answer for INFO (`loading:1` and the `loading_*` progress
//! fields), then the data once loaded. The load may finish before the client gets in (fast
//! machine): the racy part accepts either outcome, and the end state is always checked.
//! SHUTDOWN during the load exits without saving (the file keeps all its keys).

mod common;

use common::{parse_reply, server_argv, signal, wait_until, Kind, Reply, TestDir};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// These tests start CPU-heavy servers: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Keys DEBUG POPULATE creates: enough for a load that takes a while in a debug build.
const KEYS: i64 = 300_000;

struct Proc {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Proc {
    /// Starts the server in `dir` without waiting for it.
    fn spawn(kind: Kind, dir: &TestDir, args: &[&str]) -> Proc {
        let port = common::free_port();
        let log = dir.join(&format!("server-{port}.log"));
        let (bin, argv) = server_argv(kind, None, port, dir, &log, args);
        let child = Command::new(&bin)
            .args(&argv)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
        Proc { child, port, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Connects as soon as the port accepts (bounded).
    fn connect(&mut self) -> std::net::TcpStream {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut conn = None;
        let up = wait_until(Duration::from_secs(30), || {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("the server exited ({st})");
            }
            conn = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok();
            conn.is_some()
        });
        assert!(up, "the server never accepted a connection");
        let c = conn.unwrap_or_else(|| panic!("no connection"));
        c.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap_or_else(|e| panic!("timeout: {e}"));
        c
    }

    fn wait_exit(&mut self, secs: u64) -> std::process::ExitStatus {
        let mut status = None;
        let done = wait_until(Duration::from_secs(secs), || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        assert!(done, "the server did not exit:\n{}", self.log());
        status.unwrap_or_else(|| panic!("no status"))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- server log ---\n{}", self.log());
        }
        if let Ok(None) = self.child.try_wait() {
            signal(self.child.id(), libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// Sends `cmds` pipelined and reads one reply each.
fn pipeline(s: &mut std::net::TcpStream, cmds: &[&[&str]]) -> Vec<Reply> {
    let mut out = Vec::new();
    for c in cmds {
        out.extend(common::encode_command(c));
    }
    s.write_all(&out).unwrap_or_else(|e| panic!("write: {e}"));
    let mut buf = Vec::new();
    let mut replies = Vec::new();
    let mut chunk = [0u8; 65536];
    while replies.len() < cmds.len() {
        match parse_reply(&buf) {
            Ok(Some((r, used))) => {
                replies.push(r);
                buf.drain(..used);
                continue;
            }
            Ok(None) => {}
            Err(e) => panic!("bad reply: {e}"),
        }
        let n = s
            .read(&mut chunk)
            .unwrap_or_else(|e| panic!("read after {replies:?}: {e}"));
        assert!(n > 0, "connection closed after {replies:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
    replies
}

fn text(r: &Reply) -> String {
    match r {
        Reply::Bulk(Some(b)) | Reply::Simple(b) | Reply::Error(b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        other => format!("{other:?}"),
    }
}

fn field(info: &str, name: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
}

const LOADING_ERR: &str = "LOADING Redis is loading the dataset in memory";

/// Writes the dataset: `KEYS` keys by DEBUG POPULATE, then SAVE (RDB) or a rewrite (AOF).
fn make_dataset(kind: Kind, dir: &TestDir, aof: bool) {
    let mut args = vec!["--enable-debug-command", "yes"];
    if aof {
        args.extend(["--appendonly", "yes"]);
    }
    let mut p = Proc::spawn(kind, dir, &args);
    let mut s = p.connect();
    let up = wait_until(Duration::from_secs(30), || {
        text(&pipeline(&mut s, &[&["PING"]])[0]) == "PONG"
    });
    assert!(up);
    let n = KEYS.to_string();
    let r = pipeline(&mut s, &[&["DEBUG", "POPULATE", &n]]);
    assert_eq!(text(&r[0]), "OK");
    if aof {
        pipeline(&mut s, &[&["BGREWRITEAOF"]]);
        let done = wait_until(Duration::from_secs(120), || {
            let info = text(&pipeline(&mut s, &[&["INFO", "persistence"]])[0]);
            field(&info, "aof_rewrite_in_progress").as_deref() == Some("0")
                && field(&info, "aof_rewrites").as_deref() == Some("1")
        });
        assert!(done, "the rewrite did not finish");
    } else {
        assert_eq!(text(&pipeline(&mut s, &[&["SAVE"]])[0]), "OK");
    }
    let _ = s.write_all(&common::encode_command(&["SHUTDOWN", "NOSAVE"]));
    assert!(p.wait_exit(60).success());
}

/// Connects during the startup load: either the load is still running (GET and PING get
/// -LOADING, INFO answers with the loading fields) or it is over (normal answers). Then the
/// data, once loaded. Returns whether the load was seen.
fn check_serving_during_load(kind: Kind, dir: &TestDir, args: &[&str], total: u64) -> bool {
    let mut p = Proc::spawn(kind, dir, args);
    let mut s = p.connect();
    let r = pipeline(
        &mut s,
        &[&["GET", "key:7"], &["INFO", "persistence"], &["PING"]],
    );
    let info = text(&r[1]);
    let loading = field(&info, "loading").unwrap_or_default();
    let seen = loading == "1";
    if seen {
        assert_eq!(text(&r[0]), LOADING_ERR, "{r:?}");
        assert!(matches!(r[0], Reply::Error(_)));
        assert_eq!(text(&r[2]), LOADING_ERR);
        assert_eq!(field(&info, "async_loading").as_deref(), Some("0"));
        let start: i64 = field(&info, "loading_start_time")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(start > 1_600_000_000, "{info}");
        // 0 until the files are opened (the state between startup and Redis's startLoading).
        let t = field(&info, "loading_total_bytes").unwrap_or_default();
        assert!(t == total.to_string() || t == "0", "{total}: {info}");
        for f in [
            "loading_rdb_used_mem",
            "loading_loaded_bytes",
            "loading_eta_seconds",
        ] {
            let v = field(&info, f).unwrap_or_default();
            assert!(v.parse::<u64>().is_ok(), "{f}: {info}");
        }
        let counted: i64 = field(&info, "rdb_last_load_keys_loaded")
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1);
        assert!((0..=KEYS).contains(&counted), "{info}");
        let perc: f64 = field(&info, "loading_loaded_perc")
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1.0);
        assert!((0.0..=100.0).contains(&perc), "{info}");
        // The loading_* lines close the section, as in Redis.
        let last = info.trim_end().lines().last().unwrap_or_default();
        assert!(last.starts_with("loading_eta_seconds:"), "{info}");
        if matches!(kind, Kind::Ringkv(_)) && args.contains(&"--enable-debug-command") {
            // A reload now would save the still-empty dataset over the file being loaded: it
            // is refused, or (if the load just ended) runs on the whole dataset, which the
            // DBSIZE below checks.
            let r = text(&pipeline(&mut s, &[&["DEBUG", "RELOAD"]])[0]);
            assert!(
                r == LOADING_ERR || r == "OK",
                "DEBUG RELOAD during the load: {r}"
            );
        }
    } else {
        assert_eq!(loading, "0", "{info}");
        assert_eq!(text(&r[0]), "value:7");
        assert_eq!(text(&r[2]), "PONG");
        assert!(field(&info, "loading_start_time").is_none());
    }
    let done = wait_until(Duration::from_secs(120), || {
        let info = text(&pipeline(&mut s, &[&["INFO", "persistence"]])[0]);
        field(&info, "loading").as_deref() == Some("0")
    });
    assert!(done, "the load did not end");
    let r = pipeline(&mut s, &[&["GET", "key:7"], &["DBSIZE"], &["PING"]]);
    assert_eq!(text(&r[0]), "value:7");
    assert_eq!(r[1], Reply::Integer(KEYS));
    assert_eq!(text(&r[2]), "PONG");
    let log = p.log();
    let ready = log.find("Ready to accept connections");
    let loaded = log
        .find(&format!(
            "Done loading RDB, keys loaded: {KEYS}, keys expired: 0."
        ))
        .or_else(|| log.find("DB loaded from append only file"));
    assert!(
        loaded.is_some() && ready.is_some() && loaded < ready,
        "log order:\n{log}"
    );
    let _ = s.write_all(&common::encode_command(&["SHUTDOWN", "NOSAVE"]));
    assert!(p.wait_exit(60).success());
    seen
}

#[test]
fn a_client_connecting_during_the_rdb_load_gets_loading_then_the_data() {
    let _serial = serial();
    for shards in [1, 2] {
        let kind = Kind::Ringkv(shards);
        let dir = TestDir::new();
        make_dataset(kind, &dir, false);
        let total = std::fs::metadata(dir.join("dump.rdb"))
            .map(|m| m.len())
            .unwrap_or_else(|e| panic!("dump.rdb: {e}"));
        let args = ["--enable-debug-command", "yes"];
        let seen = check_serving_during_load(kind, &dir, &args, total);
        eprintln!("{shards} shard(s): load observed: {seen}");
    }
}

#[test]
fn a_client_connecting_during_the_aof_load_gets_loading_then_the_data() {
    let _serial = serial();
    for shards in [1, 2] {
        let kind = Kind::Ringkv(shards);
        let dir = TestDir::new();
        make_dataset(kind, &dir, true);
        let total: u64 = std::fs::read_dir(dir.join("appendonlydir"))
            .unwrap_or_else(|e| panic!("appendonlydir: {e}"))
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().ends_with(".manifest"))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        let seen = check_serving_during_load(kind, &dir, &["--appendonly", "yes"], total);
        eprintln!("{shards} shard(s): load observed: {seen}");
    }
}

/// SHUTDOWN while loading never saves (Redis forces NOSAVE): with save points configured, the
/// file still holds every key afterwards, whether the load was still running or not.
#[test]
fn shutdown_during_the_load_keeps_the_file_whole() {
    let _serial = serial();
    let kind = Kind::Ringkv(2);
    let dir = TestDir::new();
    make_dataset(kind, &dir, false);
    let mut p = Proc::spawn(kind, &dir, &["--save", "3600 1"]);
    let mut s = p.connect();
    let _ = s.write_all(&common::encode_command(&["SHUTDOWN"]));
    assert!(p.wait_exit(60).success(), "{}", p.log());
    drop(s);
    let mut p = Proc::spawn(kind, &dir, &[]);
    let mut s = p.connect();
    let done = wait_until(Duration::from_secs(120), || {
        let info = text(&pipeline(&mut s, &[&["INFO", "persistence"]])[0]);
        field(&info, "loading").as_deref() == Some("0")
    });
    assert!(done);
    assert_eq!(pipeline(&mut s, &[&["DBSIZE"]])[0], Reply::Integer(KEYS));
    let _ = s.write_all(&common::encode_command(&["SHUTDOWN", "NOSAVE"]));
    p.wait_exit(60);
}
