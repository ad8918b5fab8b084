//! ringkv as a replica: of a real redis-server 7.0.15 master (full sync to disk and diskless,
//! the stream with MULTI/EXEC, SELECT, rewritten commands and expiry, READONLY, masterauth,
//! partial resync after a link drop), `replicaof` in a config file, SLAVEOF NO ONE.

mod common;

use common::{rcmd as cmd, value_text as text};

use common::{RedisServer, Server};
use redis::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const DBS: [u32; 3] = [0, 3, 9];

/// A command whose error (e.g. -LOADING while the replica loads) is a value, not a panic: the
/// datasets then differ and the comparison is retried.
fn try_cmd(con: &mut redis::Connection, args: &[&str]) -> Value {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query::<Value>(con)
        .unwrap_or_else(|e| Value::SimpleString(format!("error: {e}")))
}

fn auth(con: &mut redis::Connection, pass: Option<&str>) {
    if let Some(p) = pass {
        cmd(con, &["AUTH", p]);
    }
}

/// Every key of the dbs in DBS: its type, its value (members sorted where the order is not
/// part of the value) and its absolute expire time.
fn dataset(port: u16, pass: Option<&str>) -> BTreeMap<String, String> {
    let mut con = common::client(port);
    auth(&mut con, pass);
    let mut out = BTreeMap::new();
    for db in DBS {
        try_cmd(&mut con, &["SELECT", &db.to_string()]);
        let keys = match try_cmd(&mut con, &["KEYS", "*"]) {
            Value::Array(a) => a.iter().map(text).collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        for k in keys {
            let ty = text(&try_cmd(&mut con, &["TYPE", &k]));
            let value = match ty.as_str() {
                "string" => text(&try_cmd(&mut con, &["GET", &k])),
                "list" => text(&try_cmd(&mut con, &["LRANGE", &k, "0", "-1"])),
                "set" => {
                    let mut m: Vec<String> = match try_cmd(&mut con, &["SMEMBERS", &k]) {
                        Value::Array(a) => a.iter().map(text).collect(),
                        _ => Vec::new(),
                    };
                    m.sort();
                    m.join(",")
                }
                "hash" => {
                    let mut m: Vec<String> = match try_cmd(&mut con, &["HGETALL", &k]) {
                        Value::Array(a) => a
                            .chunks(2)
                            .map(|p| text(&Value::Array(p.to_vec())))
                            .collect(),
                        _ => Vec::new(),
                    };
                    m.sort();
                    m.join(";")
                }
                "zset" => text(&try_cmd(&mut con, &["ZRANGE", &k, "0", "-1", "WITHSCORES"])),
                other => format!("<{other}>"),
            };
            let exp = text(&try_cmd(&mut con, &["PEXPIRETIME", &k]));
            out.insert(format!("{db}:{k}"), format!("{ty} {value} exp={exp}"));
        }
    }
    out
}

fn fill(master: u16, pass: Option<&str>) {
    let mut m = common::client(master);
    auth(&mut m, pass);
    cmd(&mut m, &["SET", "str", "hello"]);
    cmd(&mut m, &["SET", "num", "12345"]);
    cmd(&mut m, &["SET", "ttl", "v", "EX", "5000"]);
    cmd(&mut m, &["RPUSH", "list", "a", "b", "c", "a"]);
    cmd(&mut m, &["SADD", "set", "x", "y", "z", "1", "2"]);
    cmd(&mut m, &["HSET", "hash", "f1", "v1", "f2", "v2"]);
    cmd(&mut m, &["ZADD", "zset", "1", "a", "2.5", "b", "-3", "c"]);
    for i in 0..300 {
        cmd(&mut m, &["RPUSH", "biglist", &format!("element-{i}")]);
        cmd(
            &mut m,
            &["HSET", "bighash", &format!("f{i}"), &"x".repeat(i % 70)],
        );
    }
    cmd(&mut m, &["SELECT", "3"]);
    cmd(&mut m, &["SET", "in3", "three"]);
    cmd(&mut m, &["HSET", "h3", "a", "1"]);
    cmd(&mut m, &["PEXPIRE", "h3", "9000000"]);
    cmd(&mut m, &["SELECT", "9"]);
    cmd(&mut m, &["ZADD", "z9", "10", "ten"]);
}

fn same_dataset(master: u16, replica: u16, pass: Option<&str>) -> bool {
    let mut last = (BTreeMap::new(), BTreeMap::new());
    let ok = common::wait_until(WAIT, || {
        last = (dataset(master, pass), dataset(replica, pass));
        last.0 == last.1
    });
    if !ok {
        let (m, r) = last;
        for (k, v) in &m {
            if r.get(k) != Some(v) {
                eprintln!("master {k} = {v}; replica {:?}", r.get(k));
            }
        }
        for k in r.keys().filter(|k| !m.contains_key(*k)) {
            eprintln!("replica only: {k}");
        }
    }
    ok
}

/// The stream after the full sync: MULTI/EXEC, SELECT, INCRBYFLOAT (rewritten by the master),
/// a key that expires on the master (its DEL reaches the replica).
fn stream_writes(master: u16, pass: Option<&str>) {
    let mut m = common::client(master);
    auth(&mut m, pass);
    cmd(&mut m, &["SET", "after", "sync"]);
    cmd(&mut m, &["INCRBYFLOAT", "float", "1.5"]);
    cmd(&mut m, &["INCRBYFLOAT", "float", "0.25"]);
    redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("{t}a")
        .arg("1")
        .cmd("INCR")
        .arg("{t}a")
        .cmd("SET")
        .arg("other-shard-key")
        .arg("2")
        .cmd("SELECT")
        .arg("3")
        .cmd("SET")
        .arg("multi-in-3")
        .arg("yes")
        .query::<Value>(&mut m)
        .expect("MULTI/EXEC");
    cmd(&mut m, &["SELECT", "9"]);
    cmd(&mut m, &["SADD", "s9", "m"]);
    cmd(&mut m, &["SET", "short", "lived", "PX", "300"]);
}

fn replica_of_redis(shards: usize, diskless: &str) {
    let master = RedisServer::start(&[
        "--repl-diskless-sync",
        diskless,
        "--repl-diskless-sync-delay",
        "0",
    ]);
    fill(master.port, None);
    let mport = master.port.to_string();
    let replica = Server::ringkv(shards, &["--replicaof", "127.0.0.1", &mport]);
    assert!(
        same_dataset(master.port, replica.port, None),
        "full sync ({shards} shards, diskless {diskless})\nreplica log:\n{}",
        replica.log()
    );
    assert!(replica
        .log()
        .contains("MASTER <-> REPLICA sync: Finished with success"));
    stream_writes(master.port, None);
    let mut r = common::client(replica.port);
    assert!(
        common::wait_until(WAIT, || {
            cmd(&mut r, &["SELECT", "9"]);
            text(&cmd(&mut r, &["EXISTS", "short"])) == "0"
                && text(&cmd(&mut r, &["SISMEMBER", "s9", "m"])) == "1"
        }),
        "the master's expiry of `short` reaches the replica"
    );
    assert!(
        same_dataset(master.port, replica.port, None),
        "stream\n{}",
        replica.log()
    );
    cmd(&mut r, &["SELECT", "0"]);
    assert_eq!(text(&cmd(&mut r, &["GET", "float"])), "1.75");
    assert_eq!(
        replica.raw().cmd(&["SET", "k", "v"]),
        b"-READONLY You can't write against a read only replica.\r\n"
    );
}

#[test]
fn replica_of_redis_disk_sync_1_shard() {
    replica_of_redis(1, "no");
}

#[test]
fn replica_of_redis_disk_sync_2_shards() {
    replica_of_redis(2, "no");
}

#[test]
fn replica_of_redis_diskless_sync_2_shards() {
    replica_of_redis(2, "yes");
}

#[test]
fn masterauth_and_partial_resync_after_link_drop() {
    let master = RedisServer::start(&["--requirepass", "s3cret"]);
    fill(master.port, Some("s3cret"));
    let mport = master.port.to_string();
    let replica = Server::ringkv(
        2,
        &[
            "--replicaof",
            "127.0.0.1",
            &mport,
            "--masterauth",
            "s3cret",
            "--requirepass",
            "s3cret",
        ],
    );
    assert!(
        same_dataset(master.port, replica.port, Some("s3cret")),
        "{}",
        replica.log()
    );
    let mut m = common::client(master.port);
    auth(&mut m, Some("s3cret"));
    let partial_ok = |m: &mut redis::Connection| {
        let info = text(&cmd(m, &["INFO", "stats"]));
        info.lines()
            .find_map(|l| l.strip_prefix("sync_partial_ok:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert_eq!(partial_ok(&mut m), 0);
    let mut r = common::client(replica.port);
    auth(&mut r, Some("s3cret"));
    assert_eq!(
        text(&cmd(&mut r, &["CLIENT", "KILL", "TYPE", "master"])),
        "1"
    );
    assert!(
        common::wait_until(WAIT, || partial_ok(&mut m) == 1),
        "the replica continues with PSYNC after the drop\n{}",
        replica.log()
    );
    assert!(replica
        .log()
        .contains("Successful partial resynchronization with master."));
    stream_writes(master.port, Some("s3cret"));
    assert!(
        same_dataset(master.port, replica.port, Some("s3cret")),
        "{}",
        replica.log()
    );
}

#[test]
fn replicaof_in_config_file_then_slaveof_no_one() {
    let master = RedisServer::start(&[]);
    fill(master.port, None);
    let conf_dir = common::TestDir::new();
    let conf = conf_dir.join("replica.conf");
    std::fs::write(&conf, format!("replicaof 127.0.0.1 {}\n", master.port)).unwrap();
    let replica = Server::start(common::Kind::Ringkv(2), Some(&conf), &[]);
    assert!(
        same_dataset(master.port, replica.port, None),
        "{}",
        replica.log()
    );
    let mut r = common::client(replica.port);
    assert!(redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query::<Value>(&mut r)
        .is_err());
    // Same master again: nothing to do.
    assert_eq!(
        text(&cmd(
            &mut r,
            &["REPLICAOF", "127.0.0.1", &master.port.to_string()]
        )),
        "OK Already connected to specified master"
    );
    let e = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg("70000")
        .query::<Value>(&mut r)
        .unwrap_err();
    assert!(e.to_string().contains("Invalid master port"), "{e}");
    assert_eq!(text(&cmd(&mut r, &["SLAVEOF", "NO", "ONE"])), "OK");
    assert_eq!(text(&cmd(&mut r, &["SET", "k", "v"])), "OK");
    assert!(replica
        .log()
        .contains("MASTER MODE enabled (user request from 'id="));
    // Writes on the old master no longer arrive.
    let mut m = common::client(master.port);
    cmd(&mut m, &["SET", "late", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(text(&cmd(&mut r, &["EXISTS", "late"])), "0");
    // CONFIG REWRITE drops the replicaof line.
    assert_eq!(text(&cmd(&mut r, &["CONFIG", "REWRITE"])), "OK");
    let rewritten = std::fs::read_to_string(&conf).unwrap();
    assert!(!rewritten.contains("replicaof"), "{rewritten}");
}

#[test]
fn multi_queueing_on_a_replica_is_refused_like_redis() {
    let master = RedisServer::start(&[]);
    let mport = master.port.to_string();
    let replica = Server::ringkv(1, &["--replicaof", "127.0.0.1", &mport]);
    let mut conn = replica.raw();
    assert_eq!(conn.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(
        conn.cmd(&["SET", "a", "1"]),
        b"-READONLY You can't write against a read only replica.\r\n"
    );
    assert_eq!(conn.cmd(&["GET", "a"]), b"+QUEUED\r\n");
    assert_eq!(
        conn.cmd(&["EXEC"]),
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
}

#[test]
fn serve_stale_data_no_answers_masterdown_while_the_link_is_down() {
    // A master port nothing listens on: the link never comes up.
    let dead = common::free_port().to_string();
    let replica = Server::ringkv(
        2,
        &[
            "--replicaof",
            "127.0.0.1",
            &dead,
            "--replica-serve-stale-data",
            "no",
        ],
    );
    let mut c = replica.raw();
    let masterdown =
        b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n";
    assert_eq!(c.cmd(&["GET", "k"]), masterdown);
    assert_eq!(c.cmd(&["PING"]), masterdown);
    assert!(c.cmd(&["INFO", "server"]).starts_with(b"$"));
    assert_eq!(c.cmd(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), b"$-1\r\n");
}
