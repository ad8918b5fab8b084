//! WATCH follows Redis 7.0's modification signals, with 1 and 2 shards, for keys on every
//! shard and WATCH from a connection on either shard: a watched key that is absent, then
//! created and deleted again aborts EXEC; a command that opens a key for writing and changes
//! nothing does not; FLUSHALL/FLUSHDB/SWAPDB abort exactly when Redis's
//! `touchAllWatchedKeysInDb` says; a key already expired at WATCH is an absent key. SWAPDB
//! serves clients blocked on keys that exist after the swap. Each test also passes against
//! redis-server (`RINGKV_TEST_AGAINST_REDIS=1`).

mod common;

use common::{key_on_shard, RawConn, Server};
use std::time::Duration;

const ABORTED: &[u8] = b"*-1\r\n";
const RAN: &[u8] = b"*1\r\n+PONG\r\n";

/// WATCH `keys`, let `between` run (on `other` or `c` itself), then MULTI PING EXEC.
fn exec_after(
    c: &mut RawConn,
    other: &mut RawConn,
    keys: &[&str],
    between: &[(bool, Vec<&str>)],
) -> Vec<u8> {
    let mut watch = vec!["WATCH"];
    watch.extend_from_slice(keys);
    assert_eq!(c.cmd(&watch), b"+OK\r\n");
    for (own, cmd) in between {
        if *own {
            c.cmd(cmd);
        } else {
            other.cmd(cmd);
        }
    }
    assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["PING"]), b"+QUEUED\r\n");
    c.cmd(&["EXEC"])
}

fn keys_for(shards: usize) -> Vec<String> {
    (0..shards)
        .map(|s| key_on_shard("wa", "k", s, shards))
        .collect()
}

#[test]
fn absent_key_created_and_deleted_again_aborts() {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        let mut c = server.raw();
        let mut other = server.raw();
        for k in keys_for(shards) {
            let k = k.as_str();
            for own in [false, true] {
                let set = (own, vec!["SET", k, "1"]);
                let del = (own, vec!["DEL", k]);
                let r = exec_after(&mut c, &mut other, &[k], &[set, del]);
                assert_eq!(r, ABORTED, "{shards} shards, own={own}, key {k}");
            }
            // Absent and untouched (a DEL of the missing key is no change): EXEC runs.
            let r = exec_after(&mut c, &mut other, &[k], &[(false, vec!["DEL", k])]);
            assert_eq!(r, RAN, "{shards} shards, key {k}");
            // Created inside another client's transaction and deleted again.
            let tx = [
                (false, vec!["MULTI"]),
                (false, vec!["SET", k, "1"]),
                (false, vec!["DEL", k]),
                (false, vec!["EXEC"]),
            ];
            assert_eq!(exec_after(&mut c, &mut other, &[k], &tx), ABORTED);
        }
    }
}

#[test]
fn writes_that_change_nothing_do_not_abort() {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        let mut c = server.raw();
        let mut other = server.raw();
        let k = key_on_shard("wa", "k", shards - 1, shards);
        let far = key_on_shard("wa", "far", 0, shards);
        let k = k.as_str();
        let far = far.as_str();
        let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
            (vec!["RPUSH", k, "a"], vec!["LREM", k, "0", "zz"]),
            (vec!["SADD", k, "a"], vec!["SREM", k, "zz"]),
            (vec!["HSET", k, "f", "v"], vec!["HDEL", k, "zz"]),
            (vec!["ZADD", k, "1", "a"], vec!["ZADD", k, "XX", "1", "a"]),
            (vec!["ZADD", k, "1", "a"], vec!["ZREM", k, "zz"]),
            (vec!["SET", k, "v"], vec!["SETRANGE", k, "0", ""]),
            (vec!["SET", k, "v"], vec!["PERSIST", k]),
            (vec!["SET", k, "v"], vec!["SET", k, "w", "NX"]),
            (vec!["SADD", k, "a"], vec!["SADD", k, "a"]),
            (
                vec!["RPUSH", k, "a"],
                vec!["LINSERT", k, "BEFORE", "zz", "q"],
            ),
            (vec!["DEL", k], vec!["SET", k, "v", "XX"]),
            (vec!["DEL", k], vec!["EXPIRE", k, "10"]),
            // A multi-shard command (with 2 shards) that moves nothing.
            (vec!["SADD", k, "a"], vec!["SMOVE", k, far, "zz"]),
        ];
        for (setup, noop) in cases {
            c.cmd(&["FLUSHALL"]);
            c.cmd(&setup);
            let r = exec_after(&mut c, &mut other, &[k, far], &[(false, noop.clone())]);
            assert_eq!(r, RAN, "{shards} shards: {noop:?} after {setup:?}");
        }
        // SMOVE to a set that already has the member leaves the destination unchanged.
        c.cmd(&["FLUSHALL"]);
        c.cmd(&["SADD", k, "a"]);
        c.cmd(&["SADD", far, "a"]);
        let r = exec_after(
            &mut c,
            &mut other,
            &[far],
            &[(false, vec!["SMOVE", k, far, "a"])],
        );
        assert_eq!(r, RAN, "{shards} shards");
        // LTRIM is signalled even when it removes nothing (Redis does).
        c.cmd(&["FLUSHALL"]);
        c.cmd(&["RPUSH", k, "a"]);
        let r = exec_after(
            &mut c,
            &mut other,
            &[k],
            &[(false, vec!["LTRIM", k, "0", "-1"])],
        );
        assert_eq!(r, ABORTED);
        // The same commands changing something abort.
        c.cmd(&["FLUSHALL"]);
        c.cmd(&["SADD", k, "a"]);
        let smove = (false, vec!["SMOVE", k, far, "a"]);
        assert_eq!(exec_after(&mut c, &mut other, &[far], &[smove]), ABORTED);
    }
}

#[test]
fn flush_and_swapdb_abort_as_redis_7_0_does() {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        let mut c = server.raw();
        let mut other = server.raw();
        for k in keys_for(shards) {
            let k = k.as_str();
            c.cmd(&["FLUSHALL"]);
            // A watched key missing from the flushed db: no change.
            for flush in ["FLUSHALL", "FLUSHDB"] {
                let r = exec_after(&mut c, &mut other, &[k], &[(false, vec![flush])]);
                assert_eq!(r, RAN, "{flush} of an absent watched key, {shards} shards");
            }
            c.cmd(&["SET", k, "1"]);
            let r = exec_after(&mut c, &mut other, &[k], &[(false, vec!["FLUSHALL"])]);
            assert_eq!(r, ABORTED);
            // SWAPDB: a change when either db has the key.
            let r = exec_after(
                &mut c,
                &mut other,
                &[k],
                &[(false, vec!["SWAPDB", "0", "1"])],
            );
            assert_eq!(r, RAN, "absent from both dbs");
            other.cmd(&["SELECT", "1"]);
            other.cmd(&["SET", k, "1"]);
            other.cmd(&["SELECT", "0"]);
            let twice = [
                (false, vec!["SWAPDB", "0", "1"]),
                (false, vec!["SWAPDB", "0", "1"]),
            ];
            assert_eq!(exec_after(&mut c, &mut other, &[k], &twice), ABORTED);
            // Swapping two other dbs leaves db 0's watchers alone.
            let r = exec_after(
                &mut c,
                &mut other,
                &[k],
                &[(false, vec!["SWAPDB", "1", "2"])],
            );
            assert_eq!(r, RAN);
            other.cmd(&["FLUSHALL"]);
        }
    }
}

#[test]
fn debug_reload_touches_watched_keys_that_existed() {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &["--enable-debug-command", "yes"]);
        let mut c = server.raw();
        let mut other = server.raw();
        let keys = keys_for(shards);
        let present = keys[shards - 1].as_str();
        let absent = keys[0].as_str();
        let reload = || (false, vec!["DEBUG", "RELOAD"]);
        let r = exec_after(&mut c, &mut other, &[absent], &[reload()]);
        assert_eq!(r, RAN, "{shards} shards");
        c.cmd(&["SET", present, "1"]);
        let r = exec_after(&mut c, &mut other, &[absent, present], &[reload()]);
        assert_eq!(r, ABORTED, "{shards} shards");
        assert_eq!(c.cmd(&["GET", present]), b"$1\r\n1\r\n");
    }
}

#[test]
fn watch_and_expiry() {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        let mut c = server.raw();
        let mut other = server.raw();
        for k in keys_for(shards) {
            let k = k.as_str();
            // Expired before WATCH: an absent key; reading or removing it is no change.
            c.cmd(&["SET", k, "1", "PX", "20"]);
            std::thread::sleep(Duration::from_millis(60));
            let r = exec_after(&mut c, &mut other, &[k], &[(false, vec!["GET", k])]);
            assert_eq!(r, RAN, "{shards} shards");
            // Expiring between WATCH and EXEC aborts, read or not.
            for read in [false, true] {
                c.cmd(&["SET", k, "1", "PX", "20"]);
                assert_eq!(c.cmd(&["WATCH", k]), b"+OK\r\n");
                std::thread::sleep(Duration::from_millis(60));
                if read {
                    other.cmd(&["GET", k]);
                }
                c.cmd(&["MULTI"]);
                c.cmd(&["PING"]);
                assert_eq!(c.cmd(&["EXEC"]), ABORTED, "read={read}, {shards} shards");
            }
            // Created with a TTL after WATCH and expired before EXEC.
            let set = (false, vec!["SET", k, "1", "PX", "1"]);
            let r = exec_after(&mut c, &mut other, &[k], &[set]);
            assert_eq!(r, ABORTED);
        }
    }
}

#[test]
fn swapdb_serves_clients_blocked_on_keys_of_both_dbs() {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        let keys = keys_for(shards);
        let k0 = keys[0].as_str();
        let k1 = keys[shards - 1].as_str();
        let mut blocked = server.raw();
        let mut other = server.raw();
        blocked.send(&common::encode_command(&["BLPOP", k0, k1, "0"]));
        assert!(common::wait_until(Duration::from_secs(5), || {
            other
                .cmd(&["CLIENT", "LIST"])
                .windows(b"cmd=blpop".len())
                .any(|w| w == b"cmd=blpop")
        }));
        other.cmd(&["SELECT", "1"]);
        assert_eq!(other.cmd(&["RPUSH", k1, "x", "y"]), b":2\r\n");
        // A swap of other dbs wakes nobody.
        assert_eq!(other.cmd(&["SWAPDB", "1", "2"]), b"+OK\r\n");
        assert_eq!(other.cmd(&["SWAPDB", "1", "2"]), b"+OK\r\n");
        assert_eq!(other.cmd(&["SWAPDB", "0", "1"]), b"+OK\r\n");
        let reply = blocked
            .read_reply_bytes(Duration::from_secs(5))
            .expect("BLPOP served after SWAPDB");
        let want = format!("*2\r\n${}\r\n{k1}\r\n$1\r\nx\r\n", k1.len());
        assert_eq!(reply, want.as_bytes(), "{shards} shards");
        other.cmd(&["SELECT", "0"]);
        assert_eq!(other.cmd(&["LRANGE", k1, "0", "-1"]), b"*1\r\n$1\r\ny\r\n");

        // A blocked BLMOVE in db 2 is served when a list arrives there by SWAPDB; a
        // wrong-type value swapped in serves no one.
        let dst = key_on_shard("wa", "dst", 0, shards);
        let (src, dst) = (k1, dst.as_str());
        blocked.cmd(&["SELECT", "2"]);
        blocked.send(&common::encode_command(&[
            "BLMOVE", src, dst, "LEFT", "RIGHT", "0",
        ]));
        assert!(common::wait_until(Duration::from_secs(5), || {
            other
                .cmd(&["CLIENT", "LIST"])
                .windows(b"cmd=blmove".len())
                .any(|w| w == b"cmd=blmove")
        }));
        other.cmd(&["SELECT", "3"]);
        other.cmd(&["SET", src, "str"]);
        assert_eq!(other.cmd(&["SWAPDB", "2", "3"]), b"+OK\r\n");
        other.cmd(&["SELECT", "4"]);
        other.cmd(&["RPUSH", src, "1", "2"]);
        assert_eq!(other.cmd(&["SWAPDB", "2", "4"]), b"+OK\r\n");
        let reply = blocked
            .read_reply_bytes(Duration::from_secs(5))
            .expect("BLMOVE served after SWAPDB");
        assert_eq!(reply, b"$1\r\n1\r\n", "{shards} shards");
        other.cmd(&["SELECT", "2"]);
        assert_eq!(other.cmd(&["LRANGE", dst, "0", "-1"]), b"*1\r\n$1\r\n1\r\n");
        assert_eq!(other.cmd(&["LRANGE", src, "0", "-1"]), b"*1\r\n$1\r\n2\r\n");
    }
}

/// Optimistic locking: clients increment two counters (one per shard) with WATCH/GET/MULTI/
/// SET/EXEC; a transaction commits only if nobody changed either key in between, so the
/// counters always end equal to the number of committed transactions.
#[test]
fn check_and_set_across_shards_loses_no_update() {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        let a = key_on_shard("cas", "a", 0, shards);
        let b = key_on_shard("cas", "b", shards - 1, shards);
        let port = server.port;
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (a, b) = (a.clone(), b.clone());
                std::thread::spawn(move || {
                    let mut c = RawConn::connect(port);
                    let mut committed = 0u64;
                    for _ in 0..150 {
                        assert_eq!(c.cmd(&["WATCH", &a, &b]), b"+OK\r\n");
                        let read = |c: &mut RawConn, k: &str| match c.cmd_reply(&["GET", k]) {
                            common::Reply::Bulk(Some(v)) => String::from_utf8_lossy(&v)
                                .parse::<u64>()
                                .unwrap_or_else(|_| panic!("not a number: {v:?}")),
                            _ => 0,
                        };
                        let (x, y) = (read(&mut c, &a), read(&mut c, &b));
                        c.cmd(&["MULTI"]);
                        c.cmd(&["SET", &a, &(x + 1).to_string()]);
                        c.cmd(&["SET", &b, &(y + 1).to_string()]);
                        match c.cmd(&["EXEC"]).as_slice() {
                            b"*-1\r\n" => {}
                            b"*2\r\n+OK\r\n+OK\r\n" => committed += 1,
                            other => panic!("EXEC: {}", common::show(other)),
                        }
                    }
                    committed
                })
            })
            .collect();
        let committed: u64 = workers.into_iter().map(|w| w.join().expect("worker")).sum();
        assert!(committed > 0);
        let mut c = server.raw();
        let want = format!(
            "*2\r\n${n}\r\n{committed}\r\n${n}\r\n{committed}\r\n",
            n = committed.to_string().len()
        );
        assert_eq!(
            c.cmd(&["MGET", &a, &b]),
            want.as_bytes(),
            "{shards} shards, {committed} committed"
        );
    }
}
