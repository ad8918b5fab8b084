//! ringkv as a replica of redis-server 7.0.15: keys whose TTL has passed are hidden from reads
//! but stay until the master's DEL arrives (Redis's lookupKey / expireIfNeeded on a replica),
//! and the replica-side INFO fields (`slave_priority`, `replica_announced`) and the
//! `REPLCONF ip-address` of `replica-announce-ip` reach the master.

mod common;

use common::{RedisServer, Server};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn info_field(port: u16, section: &str, field: &str) -> Option<String> {
    let out = common::redis_cli_ok(port, &["INFO", section]);
    out.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_string())
    })
}

fn linked(replica: u16) -> bool {
    info_field(replica, "replication", "master_link_status").as_deref() == Some("up")
}

/// `kind` started as a replica of `master` (with `extra` arguments), once its link is up.
fn linked_replica(kind: common::Kind, master: u16, extra: &[&str]) -> Server {
    let mport = master.to_string();
    let mut args = vec!["--replicaof", "127.0.0.1", &mport];
    args.extend_from_slice(extra);
    let replica = Server::start(kind, None, &args);
    assert!(
        common::wait_until(WAIT, || linked(replica.port)),
        "{}",
        replica.log()
    );
    replica
}

fn expired_keys_wait_for_the_masters_del(shards: usize) {
    let master = RedisServer::start(&["--enable-debug-command", "yes"]);
    let replica = linked_replica(common::Kind::Ringkv(shards), master.port, &[]);
    let mut m = master.raw();
    // The master keeps logically expired keys until something touches them.
    assert_eq!(m.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), b"+OK\r\n");
    let (a, b) = (
        common::key_on_shard("gone", "", 0, 2),
        common::key_on_shard("gone", "", 1, 2),
    );
    for k in [&a, &b] {
        assert_eq!(m.cmd(&["SET", k, "v"]), b"+OK\r\n");
        assert_eq!(m.cmd(&["PEXPIRE", k, "300"]), b":1\r\n");
    }
    assert_eq!(m.cmd(&["SET", "live", "x"]), b"+OK\r\n");
    let mut r = replica.raw();
    assert!(common::wait_until(WAIT, || r.cmd(&["GET", "live"]) == b"$1\r\nx\r\n"));
    std::thread::sleep(Duration::from_millis(500));
    // Hidden from every read, still counted by DBSIZE.
    assert_eq!(r.cmd(&["GET", &a]), b"$-1\r\n");
    assert_eq!(r.cmd(&["EXISTS", &a, &b]), b":0\r\n");
    assert_eq!(r.cmd(&["TTL", &b]), b":-2\r\n");
    assert_eq!(r.cmd(&["MGET", &a, &b]), b"*2\r\n$-1\r\n$-1\r\n");
    assert_eq!(r.cmd(&["KEYS", "*"]), b"*1\r\n$4\r\nlive\r\n");
    assert_eq!(
        r.cmd(&["SCAN", "0", "COUNT", "100"]),
        b"*2\r\n$1\r\n0\r\n*1\r\n$4\r\nlive\r\n"
    );
    assert_eq!(
        r.cmd(&["DBSIZE"]),
        b":3\r\n",
        "expired keys stay until the master's DEL\nmaster log:\n{}\nreplica log:\n{}",
        master.log(),
        replica.log()
    );
    // Reads did not delete them: still counted.
    assert_eq!(r.cmd(&["DBSIZE"]), b":3\r\n");
    // The master touches one: its DEL removes it on the replica.
    assert_eq!(m.cmd(&["GET", &a]), b"$-1\r\n");
    assert!(
        common::wait_until(WAIT, || r.cmd(&["DBSIZE"]) == b":2\r\n"),
        "the master's DEL arrives\n{}",
        replica.log()
    );
    assert_eq!(m.cmd(&["EXISTS", &b]), b":0\r\n");
    assert!(common::wait_until(WAIT, || r.cmd(&["DBSIZE"]) == b":1\r\n"));
}

#[test]
fn expired_keys_wait_for_the_masters_del_1_shard() {
    expired_keys_wait_for_the_masters_del(1);
}

#[test]
fn expired_keys_wait_for_the_masters_del_2_shards() {
    expired_keys_wait_for_the_masters_del(2);
}

#[test]
fn replica_priority_announced_and_announce_ip_reach_info_and_the_master() {
    let master = RedisServer::start(&[]);
    let replica = linked_replica(
        common::Kind::Ringkv(2),
        master.port,
        &[
            "--replica-priority",
            "42",
            "--replica-announced",
            "no",
            "--replica-announce-ip",
            "10.1.2.3",
            "--replica-announce-port",
            "7777",
        ],
    );
    assert_eq!(
        info_field(replica.port, "replication", "slave_priority").as_deref(),
        Some("42")
    );
    assert_eq!(
        info_field(replica.port, "replication", "replica_announced").as_deref(),
        Some("0")
    );
    // The replica's link is up before the master has its first ACK (state=online then).
    let mut slave0 = String::new();
    assert!(
        common::wait_until(WAIT, || {
            slave0 = info_field(master.port, "replication", "slave0").unwrap_or_default();
            slave0.starts_with("ip=10.1.2.3,port=7777,state=online")
        }),
        "{slave0}"
    );
    let mut r = replica.raw();
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "replica-priority", "7"]),
        b"+OK\r\n"
    );
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "slave-priority"]),
        b"*2\r\n$14\r\nslave-priority\r\n$1\r\n7\r\n"
    );
    assert_eq!(
        info_field(replica.port, "replication", "slave_priority").as_deref(),
        Some("7")
    );
}

/// REPLICAOF host port on a master: its blocked clients get Redis's -UNBLOCKED error and are
/// disconnected (disconnectAllBlockedClients); they would wait for writes a replica never takes.
fn replicaof_drops_blocked_clients(server: Server) {
    let master = RedisServer::start(&[]);
    let mut blocked = server.raw();
    blocked.send(&common::encode_command(&["BLPOP", "some-list", "0"]));
    let mut other = server.raw();
    other.send(&common::encode_command(&["BZPOPMIN", "some-zset", "0"]));
    assert!(common::wait_until(WAIT, || {
        info_field(server.port, "clients", "blocked_clients").as_deref() == Some("2")
    }));
    let mut admin = server.raw();
    assert_eq!(
        admin.cmd(&["REPLICAOF", "127.0.0.1", &master.port.to_string()]),
        b"+OK\r\n"
    );
    let err = b"-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n";
    for c in [&mut blocked, &mut other] {
        let (bytes, closed) = c.read_until_idle_or_close(Duration::from_secs(5));
        assert_eq!(common::show(&bytes), common::show(err));
        assert!(closed || c.is_closed(Duration::from_secs(5)));
    }
    assert_eq!(admin.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn replicaof_drops_blocked_clients_ringkv_2_shards() {
    replicaof_drops_blocked_clients(Server::ringkv(2, &[]));
}

#[test]
fn replicaof_drops_blocked_clients_redis() {
    replicaof_drops_blocked_clients(RedisServer::start(&[]));
}

/// `replica-ignore-maxmemory yes` (the default): a replica over `maxmemory` neither evicts on
/// a client's command nor answers -OOM; its dataset stays the master's.
#[test]
fn replica_ignores_maxmemory_by_default() {
    let master = RedisServer::start(&[]);
    let mut m = master.raw();
    let big = "x".repeat(10_000);
    for i in 0..300 {
        assert_eq!(m.cmd(&["SET", &format!("k{i}"), &big]), b"+OK\r\n");
    }
    let replica = linked_replica(
        common::Kind::Ringkv(2),
        master.port,
        &["--maxmemory", "1mb", "--maxmemory-policy", "allkeys-random"],
    );
    let mut r = replica.raw();
    assert!(common::wait_until(WAIT, || r.cmd(&["DBSIZE"]) == b":300\r\n"));
    for i in 0..50 {
        let reply = r.cmd(&["GET", &format!("k{i}")]);
        assert!(reply.starts_with(b"$10000\r\n"), "{}", common::show(&reply));
    }
    assert_eq!(r.cmd(&["DBSIZE"]), b":300\r\n");
    assert_eq!(
        info_field(replica.port, "stats", "evicted_keys").as_deref(),
        Some("0")
    );
}

/// `repl-diskless-load` takes Redis's values (a full sync always keeps serving the old dataset
/// until the new one is loaded, which is `swapdb`'s behaviour); replica directives and their
/// `slave-` aliases answer CONFIG GET / SET as in redis-server.
fn replica_directives(server: Server) {
    let mut c = server.raw();
    for v in ["swapdb", "on-empty-db", "disabled"] {
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "repl-diskless-load", v]),
            b"+OK\r\n"
        );
        let want = format!("*2\r\n$18\r\nrepl-diskless-load\r\n${}\r\n{v}\r\n", v.len());
        assert_eq!(
            common::show(&c.cmd(&["CONFIG", "GET", "repl-diskless-load"])),
            common::show(want.as_bytes())
        );
    }
    assert!(c
        .cmd(&["CONFIG", "SET", "repl-diskless-load", "sometimes"])
        .starts_with(b"-ERR CONFIG SET failed"));
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "slave-ignore-maxmemory", "no"]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "replica-ignore-maxmemory"]),
        b"*2\r\n$24\r\nreplica-ignore-maxmemory\r\n$2\r\nno\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "replica-announced", "no"]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "replica-announced"]),
        b"*2\r\n$17\r\nreplica-announced\r\n$2\r\nno\r\n"
    );
}

#[test]
fn replica_directives_ringkv() {
    replica_directives(Server::ringkv(1, &[]));
}

#[test]
fn replica_directives_redis() {
    replica_directives(RedisServer::start(&[]));
}

/// A deadline already past, set on a replica (a writable one here; a PEXPIREAT of the master
/// that arrives late is the same case): Redis's checkAlreadyExpired does not delete on a
/// replica, it sets the deadline, so the key is hidden from reads and DBSIZE still counts it.
fn past_deadline_on_a_replica(kind: common::Kind) {
    let master = RedisServer::start(&[]);
    let replica = linked_replica(kind, master.port, &["--replica-read-only", "no"]);
    let mut r = replica.raw();
    let (a, b) = (
        common::key_on_shard("past", "", 0, 2),
        common::key_on_shard("past", "", 1, 2),
    );
    for (k, cmd) in [(&a, "PEXPIREAT"), (&b, "EXPIREAT")] {
        assert_eq!(r.cmd(&["SET", k, "v"]), b"+OK\r\n");
        assert_eq!(r.cmd(&[cmd, k, "1"]), b":1\r\n", "{cmd} in the past");
    }
    assert_eq!(r.cmd(&["EXISTS", &a, &b]), b":0\r\n", "{}", kind.label());
    assert_eq!(r.cmd(&["DBSIZE"]), b":2\r\n", "{}", kind.label());
}

#[test]
fn past_deadline_on_a_replica_ringkv_1_shard() {
    past_deadline_on_a_replica(common::Kind::Ringkv(1));
}

#[test]
fn past_deadline_on_a_replica_ringkv_2_shards() {
    past_deadline_on_a_replica(common::Kind::Ringkv(2));
}

#[test]
fn past_deadline_on_a_replica_redis() {
    past_deadline_on_a_replica(common::Kind::Redis);
}
