//! Replication, master side, against redis-server 7.0.15 as the oracle: REPLCONF (every option
//! and error of replconfCommand), INFO replication and ROLE of a master, at 1 and 2 shards.
//! (PSYNC / full sync / the stream are not built yet; these tests cover what exists.)

mod common;

use common::{show, RawConn, RedisServer, Server};
use std::time::Duration;

const SHARDS: [usize; 2] = [1, 2];

/// The REPLCONF sessions compared byte for byte (each line one command).
const REPLCONF_CASES: &[&[&str]] = &[
    &["REPLCONF"],
    &["REPLCONF", "listening-port"],
    &["REPLCONF", "listening-port", "6380"],
    &["REPLCONF", "LISTENING-PORT", "70000"],
    &["REPLCONF", "listening-port", "-1"],
    &["REPLCONF", "listening-port", "x"],
    &["REPLCONF", "listening-port", "1", "foo", "1"],
    &["REPLCONF", "foo", "1"],
    &[
        "REPLCONF", "capa", "eof", "capa", "psync2", "capa", "whatever",
    ],
    &["REPLCONF", "rdb-only", "1"],
    &["REPLCONF", "rdb-only", "0"],
    &["REPLCONF", "rdb-only", "2"],
    &["REPLCONF", "rdb-only", "x"],
    &["REPLCONF", "rdb-filter-only", "functions"],
    &["REPLCONF", "rdb-filter-only", ""],
    &["REPLCONF", "rdb-filter-only", "functions keys"],
    &["REPLCONF", "ip-address", "10.0.0.1"],
];

fn replies(port: u16) -> Vec<Vec<u8>> {
    let mut c = RawConn::connect(port);
    let mut out: Vec<Vec<u8>> = REPLCONF_CASES.iter().map(|a| c.cmd(a)).collect();
    let long = "a".repeat(255);
    out.push(c.cmd(&["REPLCONF", "ip-address", &long]));
    let too_long = "a".repeat(256);
    out.push(c.cmd(&["REPLCONF", "ip-address", &too_long]));
    // ACK and GETACK from a client that is no replica: no reply at all (the PING sent right
    // after answers first); an ACK ends the command, so the option after it is not looked at.
    for args in [
        &["REPLCONF", "ack", "5"][..],
        &["REPLCONF", "ACK", "x"],
        &["REPLCONF", "getack", "*"],
        &["REPLCONF", "listening-port", "1", "ack", "5", "foo", "1"],
    ] {
        let mut bytes = common::encode_command(args);
        bytes.extend(common::encode_command(&["PING"]));
        c.send(&bytes);
        out.push(c.read_reply_bytes(Duration::from_secs(5)).expect("PING"));
    }
    out
}

#[test]
fn replconf_replies_as_redis() {
    let mut redis = RedisServer::start(&[]);
    let want = replies(redis.port);
    redis.terminate();
    for shards in SHARDS {
        let mut s = Server::ringkv(shards, &[]);
        let got = replies(s.port);
        s.terminate();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(show(g), show(w), "case {i} at {shards} shards");
        }
    }
}

/// `name:shape` of each INFO replication line: digits become `N`, a 40-hex id `ID`.
fn info_shape(port: u16) -> Vec<String> {
    let mut c = RawConn::connect(port);
    let r = c.cmd_reply(&["INFO", "replication"]);
    let common::Reply::Bulk(Some(text)) = r else {
        panic!("{r:?}");
    };
    String::from_utf8_lossy(&text)
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| {
            let Some((k, v)) = l.split_once(':') else {
                return l.to_string();
            };
            let shape = if v.len() == 40 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                "ID".to_string()
            } else if v.parse::<i64>().is_ok() {
                if v == "0" || v == "-1" {
                    v.to_string()
                } else {
                    "N".to_string()
                }
            } else {
                v.to_string()
            };
            format!("{k}:{shape}")
        })
        .collect()
}

#[test]
fn info_replication_and_role_of_a_master_without_replicas_match_redis() {
    let mut redis = RedisServer::start(&["--repl-backlog-size", "65536"]);
    let want = info_shape(redis.port);
    let want_role = RawConn::connect(redis.port).cmd(&["ROLE"]);
    redis.terminate();
    assert!(want.contains(&"master_replid2:ID".into()), "{want:?}");
    for shards in SHARDS {
        let mut s = Server::ringkv(shards, &["--repl-backlog-size", "65536"]);
        assert_eq!(info_shape(s.port), want, "at {shards} shards");
        assert_eq!(
            show(&RawConn::connect(s.port).cmd(&["ROLE"])),
            show(&want_role),
            "at {shards} shards"
        );
        s.terminate();
    }
}

/// A session of min-replicas-to-write on a master with no replica.
fn min_replicas_session(port: u16) -> Vec<String> {
    let mut c = RawConn::connect(port);
    let cmds: &[&[&str]] = &[
        &["SET", "k", "v"],
        &["CONFIG", "SET", "min-replicas-to-write", "1"],
        &["SET", "k", "v2"],
        &["GET", "k"],
        &["PING"],
        &["MULTI"],
        &["SET", "k", "v3"],
        &["EXEC"],
        &["CONFIG", "SET", "min-slaves-max-lag", "0"],
        &["SET", "k", "v4"],
        &[
            "CONFIG",
            "SET",
            "min-replicas-max-lag",
            "10",
            "min-slaves-to-write",
            "0",
        ],
        &["SET", "k", "v5"],
        &["GET", "k"],
    ];
    cmds.iter().map(|a| show(&c.cmd(a))).collect()
}

#[test]
fn min_replicas_to_write_without_replicas_gives_noreplicas_as_redis() {
    let mut redis = RedisServer::start(&[]);
    let want = min_replicas_session(redis.port);
    redis.terminate();
    assert!(want[2].contains("NOREPLICAS"), "{want:?}");
    for shards in SHARDS {
        let mut s = Server::ringkv(shards, &[]);
        assert_eq!(min_replicas_session(s.port), want, "at {shards} shards");
        s.terminate();
    }
}

/// A redis-server 7.0.15 replica follows ringkv (1 and 2 shards, diskless and disk-style
/// payloads): full sync of several types, dbs and a TTL, then streamed writes (other dbs,
/// INCRBYFLOAT's rewrite, MULTI/EXEC across shards), then a killed link continues with
/// +CONTINUE (sync_partial_ok moves) and the data is equal key by key (DUMP).
#[test]
fn redis_replica_follows_ringkv() {
    for shards in SHARDS {
        for diskless in ["yes", "no"] {
            let m = Server::ringkv(
                shards,
                &[
                    "--repl-diskless-sync",
                    diskless,
                    "--repl-diskless-sync-delay",
                    "0",
                ],
            );
            let mp = m.port;
            for (db, args) in [
                ("0", &["mset", "a", "1", "b", "2", "{x}c", "3"][..]),
                ("0", &["rpush", "l", "x", "y"]),
                ("0", &["hset", "h", "f", "v"]),
                ("0", &["sadd", "s", "m1", "m2"]),
                ("0", &["zadd", "z", "1", "one"]),
                ("3", &["set", "t", "v", "ex", "1000"]),
            ] {
                common::redis_cli_ok(
                    mp,
                    &["-n", db, args[0]]
                        .iter()
                        .chain(&args[1..])
                        .copied()
                        .collect::<Vec<_>>(),
                );
            }
            let r = RedisServer::start(&[
                "--replicaof",
                "127.0.0.1",
                &mp.to_string(),
                "--repl-diskless-load",
                "disabled",
            ]);
            let rp = r.port;
            let up = || {
                common::redis_cli_ok(rp, &["info", "replication"]).contains("master_link_status:up")
            };
            assert!(
                common::wait_until(Duration::from_secs(20), up),
                "replica never synced"
            );
            // The master's log names the replica by its listening port, as Redis's does.
            for line in [
                format!("Replica 127.0.0.1:{rp} asks for synchronization"),
                format!("Synchronization with replica 127.0.0.1:{rp} succeeded"),
            ] {
                assert!(m.wait_log(&line, Duration::from_secs(5)), "no '{line}'");
            }
            common::redis_cli_ok(mp, &["-n", "5", "set", "other", "db"]);
            common::redis_cli_ok(mp, &["incrbyfloat", "f", "1.5"]);
            let mut c = RawConn::connect(mp);
            c.cmd(&["MULTI"]);
            c.cmd(&["SET", "k1", "v1"]);
            c.cmd(&["SET", "k2", "v2"]);
            c.cmd(&["EXEC"]);
            let same = |key: &str, db: &str| {
                if key == "s" {
                    // A set's DUMP order depends on its hash table: compare members.
                    let members = |p: u16| {
                        let mut v: Vec<String> = common::redis_cli_ok(p, &["smembers", "s"])
                            .lines()
                            .map(str::to_string)
                            .collect();
                        v.sort();
                        v
                    };
                    return members(mp) == members(rp);
                }
                common::redis_cli(mp, &["-n", db, "--no-raw", "dump", key]).stdout
                    == common::redis_cli(rp, &["-n", db, "--no-raw", "dump", key]).stdout
            };
            let all_same = || {
                ["a", "b", "{x}c", "l", "h", "s", "z", "f", "k1", "k2"]
                    .iter()
                    .all(|k| same(k, "0"))
                    && same("t", "3")
                    && same("other", "5")
                    && common::redis_cli_ok(rp, &["get", "k2"]).trim() == "v2"
            };
            let differs: Vec<&str> = if common::wait_until(Duration::from_secs(10), all_same) {
                Vec::new()
            } else {
                ["a", "b", "{x}c", "l", "h", "s", "z", "f", "k1", "k2"]
                    .into_iter()
                    .filter(|k| !same(k, "0"))
                    .collect()
            };
            assert!(
                differs.is_empty(),
                "{shards} {diskless}: {differs:?} differ"
            );
            let ttl: i64 = common::redis_cli_ok(rp, &["-n", "3", "ttl", "t"])
                .trim()
                .parse()
                .unwrap_or(-9);
            assert!(ttl > 900, "ttl {ttl}");
            common::redis_cli_ok(mp, &["client", "kill", "type", "replica"]);
            common::redis_cli_ok(mp, &["set", "after", "kill"]);
            let cont = || {
                common::redis_cli_ok(mp, &["info", "stats"]).contains("sync_partial_ok:1")
                    && common::redis_cli_ok(rp, &["get", "after"]).trim() == "kill"
            };
            assert!(
                common::wait_until(Duration::from_secs(20), cont),
                "no +CONTINUE"
            );
            assert!(common::redis_cli_ok(mp, &["info", "stats"]).contains("sync_full:1"));
            drop(r);
            drop(m);
        }
    }
}

/// WAIT on a master without replicas, byte for byte against redis-server: argument errors,
/// the immediate answers, the timeout's count, the answer at once inside MULTI, COMMAND INFO
/// and COMMAND DOCS.
fn wait_session(port: u16) -> Vec<String> {
    let mut c = RawConn::connect(port);
    let cmds: &[&[&str]] = &[
        &["WAIT"],
        &["WAIT", "a", "0"],
        &["WAIT", "0", "a"],
        &["WAIT", "1", "-1"],
        &["WAIT", "0", "1.5"],
        &["WAIT", "1", "0x10"],
        &["WAIT", "99999999999999999999", "0"],
        &["WAIT", "0", "0"],
        &["WAIT", "-1", "0"],
        &["SET", "k", "v"],
        &["WAIT", "1", "50"],
        &["MULTI"],
        &["WAIT", "5", "0"],
        &["EXEC"],
        &["COMMAND", "INFO", "wait"],
        &["COMMAND", "DOCS", "wait"],
        &["COMMAND", "GETKEYS", "wait", "0", "0"],
    ];
    cmds.iter().map(|a| show(&c.cmd(a))).collect()
}

#[test]
fn wait_without_replicas_answers_as_redis() {
    let mut redis = RedisServer::start(&[]);
    let want = wait_session(redis.port);
    redis.terminate();
    for shards in SHARDS {
        let mut s = Server::ringkv(shards, &[]);
        assert_eq!(wait_session(s.port), want, "at {shards} shards");
        // A client gone while blocked in WAIT is no longer counted as blocked.
        let mut c = RawConn::connect(s.port);
        c.send(&common::encode_command(&["WAIT", "3", "0"]));
        let blocked = |n: &str| {
            let r = common::redis_cli_ok(s.port, &["info", "clients"]);
            r.contains(&format!("blocked_clients:{n}\r"))
        };
        assert!(common::wait_until(Duration::from_secs(5), || blocked("1")));
        drop(c);
        assert!(common::wait_until(Duration::from_secs(5), || blocked("0")));
        s.terminate();
    }
}
