//! The deployment files of conf/ (redis-master.conf, redis-replica.conf, sentinel.conf) load
//! without error and do what their comments say: the data nodes daemonize, write their pid
//! file and log file, require the password, persist with AOF (RDB preamble) so a restart keeps
//! the data; the replica file follows a password-protected master; the sentinel file monitors
//! it with auth-pass. Ports and folders are changed for the test (the folder in a copy of the
//! file, since `dir` must exist when it is read; the rest on the command line). Every process
//! is stopped by pid, every wait is bounded.

mod common;

use common::{against_redis, free_port, kill_pid, pid_alive, redis_cli, ringkv_bin, wait_until};
use common::{RedisServer, TestDir};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The password the files of conf/ share.
const PASS: &str = "change-me-ha-secret";
const SENTINEL_BIN: &str = env!("CARGO_BIN_EXE_ringkv-sentinel");

fn conf_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("conf")
        .join(name)
}

/// A copy of conf/`name` in `dir` with its `dir` line pointing at `data`.
fn conf_copy(name: &str, dir: &TestDir, data: &Path) -> PathBuf {
    let text = std::fs::read_to_string(conf_path(name)).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("dir ")),
        "{name} sets dir"
    );
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("dir ") {
                format!("dir {}\n", data.display())
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let out = dir.join(name);
    std::fs::write(&out, text).unwrap();
    out
}

fn auth_cli(port: u16, args: &[&str]) -> String {
    let mut full = vec!["-a", PASS, "--no-auth-warning"];
    full.extend_from_slice(args);
    String::from_utf8_lossy(&redis_cli(port, &full).stdout).into_owned()
}

/// A daemonized data node: the pid comes from its pid file.
struct Daemon {
    pid: u32,
    port: u16,
    pidfile: PathBuf,
    logfile: PathBuf,
}

impl Daemon {
    /// Runs `bin conf --port P --pidfile .. --logfile .. args`; the started process must exit 0
    /// (daemonize yes forks) and the daemon must answer on the port.
    fn start(conf: &Path, dir: &TestDir, tag: &str, shards: usize, args: &[&str]) -> Daemon {
        let port = free_port();
        let pidfile = dir.join(&format!("{tag}.pid"));
        let logfile = dir.join(&format!("{tag}.log"));
        let mut argv: Vec<String> = vec![
            conf.display().to_string(),
            "--port".into(),
            port.to_string(),
            "--pidfile".into(),
            pidfile.display().to_string(),
            "--logfile".into(),
            logfile.display().to_string(),
        ];
        if !against_redis() {
            argv.extend(["--shards".to_string(), shards.to_string()]);
        }
        argv.extend(args.iter().map(|s| s.to_string()));
        let mut child = Command::new(ringkv_bin())
            .args(&argv)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn server");
        let launcher = child.id();
        let mut status = None;
        wait_until(Duration::from_secs(10), || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        });
        let Some(status) = status else {
            kill_pid(launcher);
            let _ = child.wait();
            panic!("daemonize yes: the launching process did not exit");
        };
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        assert!(
            status.success(),
            "{} failed: {status}\n{err}",
            conf.display()
        );
        assert!(
            wait_until(Duration::from_secs(10), || std::fs::read_to_string(
                &pidfile
            )
            .is_ok_and(|s| s.trim().parse::<u32>().is_ok())),
            "no pid file {}",
            pidfile.display()
        );
        let pid: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let d = Daemon {
            pid,
            port,
            pidfile,
            logfile,
        };
        assert_ne!(
            pid, launcher,
            "daemonize yes forks: the daemon is another process"
        );
        assert!(pid_alive(pid), "daemon {pid} is not running");
        assert!(
            wait_until(Duration::from_secs(10), || auth_cli(port, &["PING"])
                == "PONG\n"),
            "daemon does not answer PING with the password:\n{}",
            d.log()
        );
        d
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.logfile).unwrap_or_default()
    }

    fn config(&self, name: &str) -> String {
        let out = auth_cli(self.port, &["CONFIG", "GET", name]);
        out.lines().nth(1).unwrap_or_default().to_string()
    }

    /// SHUTDOWN with the password; the daemon exits and removes its pid file.
    fn shutdown(&mut self) {
        let _ = redis_cli(self.port, &["-a", PASS, "--no-auth-warning", "SHUTDOWN"]);
        assert!(
            wait_until(Duration::from_secs(15), || !pid_alive(self.pid)),
            "daemon {} survived SHUTDOWN",
            self.pid
        );
        assert!(
            wait_until(Duration::from_secs(5), || !self.pidfile.exists()),
            "pid file left after SHUTDOWN"
        );
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if pid_alive(self.pid) {
            kill_pid(self.pid);
        }
    }
}

fn master_conf_loads(shards: usize) {
    let dir = TestDir::new();
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    let conf = conf_copy("redis-master.conf", &dir, &data);
    let mut d = Daemon::start(&conf, &dir, "master", shards, &[]);
    // requirepass: without the password nothing but AUTH/HELLO.
    let noauth = String::from_utf8_lossy(&redis_cli(d.port, &["GET", "k"]).stdout).into_owned();
    assert!(noauth.starts_with("NOAUTH"), "got {noauth:?}");
    assert_eq!(d.config("daemonize"), "yes");
    assert_eq!(d.config("appendonly"), "yes");
    assert_eq!(d.config("aof-use-rdb-preamble"), "yes");
    assert_eq!(d.config("save"), "3600 1 300 100 60 10000");
    assert_eq!(d.config("masterauth"), PASS);
    assert_eq!(d.config("dir"), data.display().to_string());
    assert!(
        d.log().contains("Ready to accept connections"),
        "{}",
        d.log()
    );
    assert_eq!(auth_cli(d.port, &["SET", "deploy", "kept"]), "OK\n");
    // Redis 7 multi-part AOF under dir, base in RDB format.
    let aofdir = data.join("appendonlydir");
    assert!(
        wait_until(Duration::from_secs(10), || aofdir
            .join("appendonly.aof.manifest")
            .exists()
            && aofdir.join("appendonly.aof.1.base.rdb").exists()),
        "no AOF with RDB preamble in {}",
        aofdir.display()
    );
    d.shutdown();
    // The same file again: the data is back (AOF + final save).
    let d = Daemon::start(&conf, &dir, "master2", shards, &[]);
    assert_eq!(auth_cli(d.port, &["GET", "deploy"]), "kept\n");
}

#[test]
fn master_conf_loads_daemonizes_and_persists_1_shard() {
    master_conf_loads(1);
}

#[test]
fn master_conf_loads_daemonizes_and_persists_2_shards() {
    master_conf_loads(2);
}

/// A password-protected redis-server master.
fn redis_master() -> common::Server {
    RedisServer::start(&["--requirepass", PASS, "--repl-diskless-sync-delay", "0"])
}

#[test]
fn replica_conf_follows_a_password_protected_master() {
    let master = redis_master();
    let dir = TestDir::new();
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    let conf = conf_copy("redis-replica.conf", &dir, &data);
    let replicaof = format!("127.0.0.1 {}", master.port);
    let d = Daemon::start(&conf, &dir, "replica", 1, &["--replicaof", &replicaof]);
    assert_eq!(auth_cli(master.port, &["SET", "from", "master"]), "OK\n");
    assert!(
        wait_until(Duration::from_secs(30), || {
            auth_cli(d.port, &["GET", "from"]) == "master\n"
        }),
        "the replica did not sync with masterauth:\n{}",
        d.log()
    );
    let info = auth_cli(d.port, &["INFO", "replication"]);
    assert!(info.contains("role:slave\r\n"), "{info}");
    assert!(info.contains("master_link_status:up\r\n"), "{info}");
    assert!(info.contains("slave_priority:100\r\n"), "{info}");
    assert!(auth_cli(d.port, &["SET", "x", "1"]).starts_with("READONLY"));
    assert_eq!(d.config("replica-serve-stale-data"), "yes");
    assert_eq!(d.config("appendonly"), "yes");
}

/// conf/sentinel.conf with the monitored port, the sentinel's port and its files changed.
fn sentinel_conf(dir: &TestDir, port: u16, master_port: u16) -> PathBuf {
    let text = std::fs::read_to_string(conf_path("sentinel.conf")).unwrap();
    let mut out = String::new();
    for l in text.lines() {
        let l = if l.starts_with("port ") {
            format!("port {port}")
        } else if l.starts_with("dir ") {
            format!("dir {}", dir.path_str())
        } else if l.starts_with("daemonize ") {
            "daemonize yes".to_string()
        } else if l.starts_with("pidfile ") {
            format!("pidfile {}", dir.join("sentinel.pid").display())
        } else if l.starts_with("logfile ") {
            format!("logfile {}", dir.join("sentinel.log").display())
        } else if l.starts_with("sentinel monitor mymaster 127.0.0.1 6379 ") {
            l.replace(" 6379 ", &format!(" {master_port} "))
        } else if l.starts_with("sentinel down-after-milliseconds mymaster ") {
            "sentinel down-after-milliseconds mymaster 1000".to_string()
        } else {
            l.to_string()
        };
        out.push_str(&l);
        out.push('\n');
    }
    assert!(out.contains(&format!(
        "sentinel monitor mymaster 127.0.0.1 {master_port} 2\n"
    )));
    assert!(out.contains(&format!("sentinel auth-pass mymaster {PASS}\n")));
    let path = dir.join("sentinel.conf");
    std::fs::write(&path, out).unwrap();
    path
}

fn sentinel_conf_monitors(redis_sentinel: bool) {
    let master = redis_master();
    let replicaof = format!("127.0.0.1 {}", master.port);
    let _replica = RedisServer::start(&[
        "--requirepass",
        PASS,
        "--masterauth",
        PASS,
        "--replicaof",
        &replicaof,
    ]);
    let dir = TestDir::new();
    let port = free_port();
    let conf = sentinel_conf(&dir, port, master.port);
    let mut cmd = if redis_sentinel {
        let mut c = Command::new("redis-server");
        c.arg(&conf).arg("--sentinel");
        c
    } else {
        let mut c = Command::new(SENTINEL_BIN);
        c.arg(&conf);
        c
    };
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run sentinel");
    assert!(status.success(), "sentinel.conf: {status}");
    let pidfile = dir.join("sentinel.pid");
    assert!(
        wait_until(Duration::from_secs(10), || std::fs::read_to_string(
            &pidfile
        )
        .is_ok_and(|s| s.trim().parse::<u32>().is_ok())),
        "sentinel wrote no pid file"
    );
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            kill_pid(self.0);
        }
    }
    let _kill = Kill(pid);
    let cli = |args: &[&str]| String::from_utf8_lossy(&redis_cli(port, args).stdout).into_owned();
    // The replica is only discovered through the master's INFO, which needs auth-pass.
    let found = wait_until(Duration::from_secs(20), || {
        cli(&["SENTINEL", "replicas", "mymaster"])
            .lines()
            .filter(|l| *l == "name")
            .count()
            == 1
    });
    let log = std::fs::read_to_string(dir.join("sentinel.log")).unwrap_or_default();
    assert!(found, "sentinel did not discover the replica:\n{log}");
    let m = cli(&["SENTINEL", "master", "mymaster"]);
    let flags = m.lines().skip_while(|l| *l != "flags").nth(1);
    assert_eq!(flags, Some("master"), "{m}");
    // The sentinel saved its state into the file.
    let saved = std::fs::read_to_string(&conf).unwrap();
    assert!(saved.contains("sentinel myid "), "{saved}");
}

#[test]
fn sentinel_conf_monitors_with_auth_pass_ringkv_sentinel() {
    sentinel_conf_monitors(false);
}

#[test]
fn sentinel_conf_monitors_with_auth_pass_redis_sentinel() {
    sentinel_conf_monitors(true);
}
