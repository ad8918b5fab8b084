//! Behaviour of the ringkv-server process: startup, config files, argv, signals, auth,
//! limits, daemonize, and cross-shard atomicity of MSET/MGET.

mod common;

use common::{
    key_on_shard, key_shard, kill_pid, pid_alive, ringkv_bin, run_bounded, server_argv, wait_until,
    Kind, RawConn, Server, TestDir,
};
use std::time::Duration;

#[test]
fn startup_log_says_ready() {
    let server = Server::ringkv(2, &[]);
    assert!(
        server.wait_log("Ready to accept connections", Duration::from_secs(10)),
        "log:\n{}",
        server.log()
    );
}

#[test]
fn stock_debian_redis_conf_loads() {
    let dir = TestDir::new();
    let conf = dir.join("redis.conf");
    std::fs::copy("/etc/redis/redis.conf", &conf)
        .expect("/etc/redis/redis.conf (scripts/test.sh installs redis-server)");
    let pidfile = dir.join("redis.pid");
    let pidfile = pidfile.to_string_lossy();
    let server = Server::start(
        Kind::Ringkv(2),
        Some(&conf),
        &[
            "--daemonize",
            "no",
            "--pidfile",
            &pidfile,
            "--supervised",
            "no",
        ],
    );
    let mut c = server.raw();
    assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    // Values from the stock file are in effect.
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "databases"]),
        b"*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"
    );
}

#[test]
fn bad_directive_is_fatal() {
    let dir = TestDir::new();
    let conf = dir.join("bad.conf");
    std::fs::write(&conf, "port 0\n# comment\nnosuchdirective yes\n").expect("write conf");
    let conf = conf.to_string_lossy();
    let out = run_bounded(20, &ringkv_bin(), &[&conf]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("*** FATAL CONFIG FILE ERROR"), "{text}");
    assert!(text.contains("at line 3"), "{text}");
    assert!(text.contains(">>> 'nosuchdirective yes'"), "{text}");
    assert!(
        text.contains("Bad directive or wrong number of arguments"),
        "{text}"
    );
}

#[test]
fn version_and_help_flags() {
    let out = run_bounded(20, &ringkv_bin(), &["-v"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "-v: {}", out.status);
    assert!(
        stdout.contains("v=") && stdout.contains("bits=64"),
        "{stdout}"
    );
    let out = run_bounded(20, &ringkv_bin(), &["--version"]);
    assert!(out.status.success());

    let out = run_bounded(20, &ringkv_bin(), &["-h"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("Usage:"), "{text}");
    assert!(text.contains("--port"), "{text}");
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let mut server = Server::ringkv(2, &[]);
    let status = server.terminate().expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status}");
    let log = server.log();
    assert!(
        log.contains("Received SIGTERM scheduling shutdown"),
        "{log}"
    );
    assert!(log.contains("ready to exit, bye bye"), "{log}");
}

#[test]
fn shutdown_nosave_closes() {
    let mut server = Server::ringkv(2, &[]);
    let mut c = server.raw();
    c.send(&common::encode_command(&["SHUTDOWN", "NOSAVE"]));
    assert!(
        c.is_closed(Duration::from_secs(10)),
        "connection stays open"
    );
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("process exits after SHUTDOWN");
    assert!(status.success(), "exit status {status}");
}

#[test]
fn requirepass_and_auth() {
    let server = Server::ringkv(2, &["--requirepass", "pw"]);
    let mut c = server.raw();
    assert_eq!(
        c.cmd(&["GET", "k"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        c.cmd(&["AUTH", "bad"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        c.cmd(&["AUTH", "default", "bad"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        c.cmd(&["GET", "k"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(c.cmd(&["AUTH", "pw"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), b"$-1\r\n");

    let mut c = server.raw();
    assert_eq!(
        c.cmd(&["HELLO", "3", "AUTH", "default", "bad"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    match c.cmd_reply(&["HELLO", "3", "AUTH", "default", "pw", "SETNAME", "x"]) {
        common::Reply::Map(pairs) => {
            let get = |k: &[u8]| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == common::Reply::Bulk(Some(k.to_vec())))
                    .map(|(_, v)| v.clone())
            };
            assert_eq!(get(b"proto"), Some(common::Reply::Integer(3)));
            assert_eq!(
                get(b"version"),
                Some(common::Reply::Bulk(Some(b"7.0.15".to_vec())))
            );
            assert_eq!(
                get(b"mode"),
                Some(common::Reply::Bulk(Some(b"standalone".to_vec())))
            );
            assert_eq!(
                get(b"role"),
                Some(common::Reply::Bulk(Some(b"master".to_vec())))
            );
        }
        other => panic!("HELLO 3 must reply with a map, got {other:?}"),
    }
    assert_eq!(c.cmd(&["CLIENT", "GETNAME"]), b"$1\r\nx\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), b"_\r\n");
}

#[test]
fn maxclients_rejects_extra_client() {
    let server = Server::ringkv(2, &["--maxclients", "2"]);
    let mut a = server.raw();
    // The harness's readiness probe may not be reaped yet: wait (bounded) until `a` is the only
    // client, so the count below is exactly a + b.
    assert!(
        wait_until(Duration::from_secs(10), || {
            let info = String::from_utf8_lossy(&a.cmd(&["INFO", "clients"])).to_string();
            info.contains("connected_clients:1\r\n")
        }),
        "the readiness probe connection was never released"
    );
    let mut b = server.raw();
    assert_eq!(a.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(b.cmd(&["PING"]), b"+PONG\r\n");
    let mut c = RawConn::connect(server.port);
    let (got, closed) = c.read_until_idle_or_close(Duration::from_secs(2));
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR max number of clients reached\r\n"
    );
    assert!(closed, "third client must be disconnected");
    drop(a);
    // Once a slot is free again a new client is served (bounded retry: the close is async).
    assert!(wait_until(Duration::from_secs(10), || {
        let mut d = RawConn::connect(server.port);
        d.send(b"*1\r\n$4\r\nPING\r\n");
        d.read_reply_bytes(Duration::from_secs(2)).ok().as_deref() == Some(b"+PONG\r\n")
    }));
}

#[test]
fn config_set_get_rewrite_round_trip() {
    let dir = TestDir::new();
    let conf = dir.join("ringkv.conf");
    std::fs::write(
        &conf,
        "# my settings\nmaxmemory 1mb\nmaxmemory-policy allkeys-lru\n",
    )
    .expect("write conf");
    // CONFIG REWRITE persists `dir`: point it at a directory that outlives this server.
    let dir_s = dir.path_str();
    let server = Server::start(Kind::Ringkv(2), Some(&conf), &["--dir", &dir_s]);
    let mut c = server.raw();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        b"*2\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n"
    );
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", "2mb"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        b"*2\r\n$9\r\nmaxmemory\r\n$7\r\n2097152\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "nosuch", "1"]),
        b"-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "slowlog-max-len", "64"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).expect("read rewritten conf");
    assert!(text.contains("# my settings"), "comments kept:\n{text}");
    assert!(text.contains("maxmemory 2mb"), "{text}");
    assert!(text.contains("maxmemory-policy allkeys-lru"), "{text}");
    assert!(text.contains("slowlog-max-len 64"), "{text}");
    assert!(text.contains("# Generated by CONFIG REWRITE"), "{text}");
    drop(c);
    drop(server);

    // The rewritten file starts a server with the same values.
    let server = Server::start(Kind::Ringkv(2), Some(&conf), &[]);
    let mut c = server.raw();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        b"*2\r\n$9\r\nmaxmemory\r\n$7\r\n2097152\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "slowlog-max-len"]),
        b"*2\r\n$15\r\nslowlog-max-len\r\n$2\r\n64\r\n"
    );
}

#[test]
fn daemonize_writes_pidfile() {
    let dir = TestDir::new();
    let port = common::free_port();
    let logfile = dir.join("server.log");
    let pidfile = dir.join("ringkv.pid");
    let pidfile_s = pidfile.to_string_lossy().into_owned();
    let (bin, argv) = server_argv(
        Kind::Ringkv(2),
        None,
        port,
        &dir,
        &logfile,
        &["--daemonize", "yes", "--pidfile", &pidfile_s],
    );
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    // The foreground process forks and exits at once.
    let out = run_bounded(20, &bin, &argv);
    assert!(out.status.success(), "daemonizing parent: {}", out.status);
    assert!(
        wait_until(Duration::from_secs(10), || std::fs::read_to_string(
            &pidfile
        )
        .is_ok_and(|s| s.trim().parse::<u32>().is_ok())),
        "no pidfile; log:\n{}",
        std::fs::read_to_string(&logfile).unwrap_or_default()
    );
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .expect("pid in pidfile");
    struct KillOnDrop(u32);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            if pid_alive(self.0) {
                kill_pid(self.0);
            }
        }
    }
    let guard = KillOnDrop(pid);
    assert!(pid_alive(pid), "pid {pid} from pidfile is not running");
    assert!(
        wait_until(Duration::from_secs(10), || {
            common::send_raw(port, b"*1\r\n$4\r\nPING\r\n") == b"+PONG\r\n"
        }),
        "daemon does not answer PING"
    );
    assert!(kill_pid(pid), "daemon ignored SIGTERM");
    drop(guard);
    assert!(
        wait_until(Duration::from_secs(10), || !pidfile.exists()),
        "pidfile not removed at shutdown"
    );
}

#[test]
fn mset_is_never_seen_half_done_across_shards() {
    const SHARDS: usize = 2;
    const WRITES: u64 = 1500;
    const READS: usize = 1500;
    let server = Server::ringkv(SHARDS, &[]);
    let keys: Vec<String> = vec![
        key_on_shard("a", "x", 0, SHARDS),
        key_on_shard("b", "y", 1, SHARDS),
        key_on_shard("c", "z", 0, SHARDS),
        key_on_shard("d", "w", 1, SHARDS),
    ];
    assert_ne!(
        key_shard(keys[0].as_bytes(), SHARDS),
        key_shard(keys[1].as_bytes(), SHARDS)
    );
    let port = server.port;
    std::thread::scope(|s| {
        let keys = &keys;
        s.spawn(move || {
            let mut con = common::client(port);
            for i in 1..=WRITES {
                let pairs: Vec<(&str, u64)> = keys.iter().map(|k| (k.as_str(), i)).collect();
                let _: () = redis::cmd("MSET")
                    .arg(&pairs)
                    .query(&mut con)
                    .expect("MSET");
            }
        });
        for reader in 0..3 {
            s.spawn(move || {
                let mut con = common::client(port);
                let mut last = 0u64;
                for _ in 0..READS {
                    let vals: Vec<Option<u64>> =
                        redis::cmd("MGET").arg(keys).query(&mut con).expect("MGET");
                    let first = vals[0];
                    assert!(
                        vals.iter().all(|v| *v == first),
                        "reader {reader} saw half an MSET: {vals:?}"
                    );
                    let cur = first.unwrap_or(0);
                    assert!(
                        cur >= last,
                        "reader {reader} went back from {last} to {cur}"
                    );
                    last = cur;
                }
            });
        }
    });
    let mut con = common::client(port);
    let vals: Vec<Option<u64>> = redis::cmd("MGET").arg(&keys).query(&mut con).expect("MGET");
    assert!(vals.iter().all(|v| *v == Some(WRITES)), "{vals:?}");
}

#[test]
fn crc16_matches_redis_cluster() {
    // Reference values from the Redis Cluster spec and CLUSTER KEYSLOT.
    assert_eq!(common::crc16(b"123456789"), 0x31C3);
    assert_eq!(common::key_slot(b"foo"), 12182);
    assert_eq!(
        common::key_slot(b"{user1000}.following"),
        common::key_slot(b"user1000")
    );
    assert_eq!(
        common::key_slot(b"foo{}{bar}"),
        common::crc16(b"foo{}{bar}") % 16384
    );
    assert_eq!(
        common::key_slot(b"foo{{bar}}zap"),
        common::crc16(b"{bar") % 16384
    );
}
