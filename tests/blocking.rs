//! Blocking pops (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP) and CLIENT
//! UNBLOCK on a running server with 1 and 2 shards, keys placed on every shard: served by a
//! push from another client, FIFO between waiters, one client waiting on two shards served
//! once, timeouts, BLMOVE across shards, disconnects, MULTI. Each test also passes against
//! redis-server (`RINGKV_TEST_AGAINST_REDIS=1`).

mod common;

use common::{key_on_shard, wait_until, RawConn, Reply, Server};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn for_shards(test: impl Fn(&Server, usize)) {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        test(&server, shards);
    }
}

/// A key on each shard (the same key twice with one shard).
fn keys(prefix: &str, shards: usize) -> (String, String) {
    (
        key_on_shard(prefix, "a", 0, shards),
        key_on_shard(prefix, "b", shards - 1, shards),
    )
}

fn send(c: &mut RawConn, args: &[&str]) {
    c.send(&common::encode_command(args));
}

fn reply(c: &mut RawConn) -> Vec<u8> {
    c.read_reply_bytes(WAIT)
        .unwrap_or_else(|e| panic!("no reply: {e:?}"))
}

fn bulk(items: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for i in items {
        out.extend_from_slice(format!("${}\r\n{i}\r\n", i.len()).as_bytes());
    }
    out
}

/// Waits until `n` clients are blocked (INFO clients), so a push reaches a waiting client.
fn wait_blocked(server: &Server, n: usize) {
    let mut c = server.raw();
    let want = format!("blocked_clients:{n}\r\n");
    assert!(
        wait_until(WAIT, || {
            let info = c.cmd(&["INFO", "clients"]);
            String::from_utf8_lossy(&info).contains(&want)
        }),
        "never saw {want}"
    );
}

#[test]
fn immediate_pops_reply_like_the_non_blocking_forms() {
    for_shards(|server, shards| {
        let (k0, k1) = keys("imm", shards);
        let mut c = server.raw();
        c.cmd(&["RPUSH", &k1, "x", "y", "z"]);
        assert_eq!(c.cmd(&["BLPOP", &k0, &k1, "0"]), bulk(&[&k1, "x"]));
        assert_eq!(c.cmd(&["BRPOP", &k0, &k1, "0"]), bulk(&[&k1, "z"]));
        assert_eq!(
            c.cmd(&["BLMPOP", "0", "2", &k0, &k1, "LEFT", "COUNT", "5"]),
            format!("*2\r\n${}\r\n{k1}\r\n*1\r\n$1\r\ny\r\n", k1.len()).into_bytes()
        );
        c.cmd(&["ZADD", &k0, "1.5", "m", "2", "n"]);
        assert_eq!(c.cmd(&["BZPOPMAX", &k1, &k0, "0"]), bulk(&[&k0, "n", "2"]));
        assert_eq!(
            c.cmd(&["BZMPOP", "0", "1", &k0, "MIN"]),
            format!(
                "*2\r\n${}\r\n{k0}\r\n*1\r\n*2\r\n$1\r\nm\r\n$3\r\n1.5\r\n",
                k0.len()
            )
            .into_bytes()
        );
        c.cmd(&["SET", &k0, "str"]);
        assert!(c.cmd(&["BLPOP", &k1, &k0, "0"]).starts_with(b"-WRONGTYPE"));
        assert_eq!(
            c.cmd(&["BLPOP", &k1, "-1"]),
            b"-ERR timeout is negative\r\n".to_vec()
        );
        assert_eq!(
            c.cmd(&["BZPOPMIN", &k1, "x"]),
            b"-ERR timeout is not a float or out of range\r\n".to_vec()
        );
    });
}

#[test]
fn a_push_serves_the_blocked_client_on_any_shard() {
    for_shards(|server, shards| {
        let (k0, k1) = keys("srv", shards);
        for key in [&k0, &k1] {
            let mut a = server.raw();
            let mut b = server.raw();
            // A command pipelined behind the blocking one waits for it.
            a.send(
                &[
                    common::encode_command(&["BRPOP", "nokey", key, "0"]),
                    common::encode_command(&["PING"]),
                ]
                .concat(),
            );
            wait_blocked(server, 1);
            assert_eq!(b.cmd(&["LPUSH", key, "v1", "v2"]), b":2\r\n".to_vec());
            assert_eq!(reply(&mut a), bulk(&[key, "v1"]));
            assert_eq!(reply(&mut a), b"+PONG\r\n".to_vec());
            assert_eq!(b.cmd(&["LRANGE", key, "0", "-1"]), bulk(&["v2"]));
            // Zsets: served by ZADD.
            b.cmd(&["DEL", key]);
            send(&mut a, &["BZPOPMIN", key, "0"]);
            wait_blocked(server, 1);
            b.cmd(&["ZADD", key, "3", "m", "1", "l"]);
            assert_eq!(reply(&mut a), bulk(&[key, "l", "1"]));
        }
    });
}

#[test]
fn waiters_are_served_in_arrival_order() {
    for_shards(|server, shards| {
        let (_, k1) = keys("fifo", shards);
        let mut first = server.raw();
        let mut second = server.raw();
        let mut p = server.raw();
        send(&mut first, &["BLPOP", &k1, "0"]);
        wait_blocked(server, 1);
        send(&mut second, &["BLPOP", "other", &k1, "0"]);
        wait_blocked(server, 2);
        p.cmd(&["RPUSH", &k1, "one"]);
        assert_eq!(reply(&mut first), bulk(&[&k1, "one"]));
        p.cmd(&["RPUSH", &k1, "two"]);
        assert_eq!(reply(&mut second), bulk(&[&k1, "two"]));
        wait_blocked(server, 0);
    });
}

#[test]
fn a_client_blocked_on_two_shards_is_served_once() {
    for_shards(|server, shards| {
        let (k0, k1) = keys("once", shards);
        if k0 == k1 {
            return;
        }
        let mut a = server.raw();
        let mut p = server.raw();
        send(&mut a, &["BLPOP", &k0, &k1, "0"]);
        wait_blocked(server, 1);
        // Both pushes in one batch: both keys become ready at (nearly) the same time.
        p.send(
            &[
                common::encode_command(&["RPUSH", &k0, "e0"]),
                common::encode_command(&["RPUSH", &k1, "e1"]),
            ]
            .concat(),
        );
        assert_eq!(reply(&mut p), b":1\r\n".to_vec());
        assert_eq!(reply(&mut p), b":1\r\n".to_vec());
        let got = reply(&mut a);
        assert!(
            got == bulk(&[&k0, "e0"]) || got == bulk(&[&k1, "e1"]),
            "{}",
            String::from_utf8_lossy(&got)
        );
        // Nothing else was popped, and A is no longer blocked.
        let left = [
            p.cmd(&["LRANGE", &k0, "0", "-1"]),
            p.cmd(&["LRANGE", &k1, "0", "-1"]),
        ];
        let remaining: usize = left.iter().filter(|r| r.as_slice() != b"*0\r\n").count();
        assert_eq!(remaining, 1, "{left:?}");
        assert_eq!(a.cmd(&["PING"]), b"+PONG\r\n".to_vec());
        wait_blocked(server, 0);
    });
}

#[test]
fn timeouts_reply_nil() {
    for_shards(|server, shards| {
        let (k0, k1) = keys("tmo", shards);
        let mut c = server.raw();
        assert_eq!(c.cmd(&["BLPOP", &k0, &k1, "0.05"]), b"*-1\r\n".to_vec());
        assert_eq!(c.cmd(&["BZPOPMIN", &k1, "0.05"]), b"*-1\r\n".to_vec());
        assert_eq!(
            c.cmd(&["BLMPOP", "0.05", "2", &k0, &k1, "RIGHT"]),
            b"*-1\r\n".to_vec()
        );
        // BLMOVE times out with a null array too (Redis 7.0), unlike its immediate nil.
        assert_eq!(
            c.cmd(&["BLMOVE", &k0, &k1, "LEFT", "RIGHT", "0.05"]),
            b"*-1\r\n".to_vec()
        );
        c.cmd(&["HELLO", "3"]);
        assert_eq!(c.cmd(&["BRPOP", &k1, "0.05"]), b"_\r\n".to_vec());
        assert_eq!(
            c.cmd(&["BZMPOP", "0.05", "1", &k0, "MAX"]),
            b"_\r\n".to_vec()
        );
        wait_blocked(server, 0);
    });
}

#[test]
fn blmove_across_shards_feeds_a_client_blocked_on_the_destination() {
    for_shards(|server, shards| {
        let (src, dst) = keys("mv", shards);
        let (src, dst) = if src == dst {
            (src, format!("{dst}2"))
        } else {
            (src, dst)
        };
        let mut mover = server.raw();
        let mut reader = server.raw();
        let mut p = server.raw();
        send(&mut reader, &["BLPOP", &dst, "0"]);
        wait_blocked(server, 1);
        send(&mut mover, &["BLMOVE", &src, &dst, "RIGHT", "LEFT", "0"]);
        wait_blocked(server, 2);
        p.cmd(&["RPUSH", &src, "a", "b"]);
        assert_eq!(reply(&mut mover), b"$1\r\nb\r\n".to_vec());
        assert_eq!(reply(&mut reader), bulk(&[&dst, "b"]));
        assert_eq!(p.cmd(&["LRANGE", &src, "0", "-1"]), bulk(&["a"]));
        assert_eq!(p.cmd(&["EXISTS", &dst]), b":0\r\n".to_vec());
        // BRPOPLPUSH into a list that exists.
        p.cmd(&["DEL", &src]);
        p.cmd(&["RPUSH", &dst, "old"]);
        send(&mut mover, &["BRPOPLPUSH", &src, &dst, "0"]);
        wait_blocked(server, 1);
        p.cmd(&["RPUSH", &src, "new"]);
        assert_eq!(reply(&mut mover), b"$3\r\nnew\r\n".to_vec());
        assert_eq!(p.cmd(&["LRANGE", &dst, "0", "-1"]), bulk(&["new", "old"]));
        // A destination of another type: WRONGTYPE, and the element stays in the source.
        p.cmd(&["DEL", &src]);
        p.cmd(&["SET", &dst, "str"]);
        send(&mut mover, &["BLMOVE", &src, &dst, "LEFT", "LEFT", "0"]);
        wait_blocked(server, 1);
        p.cmd(&["RPUSH", &src, "x"]);
        assert!(reply(&mut mover).starts_with(b"-WRONGTYPE"));
        assert_eq!(p.cmd(&["LRANGE", &src, "0", "-1"]), bulk(&["x"]));
    });
}

#[test]
fn client_unblock_timeout_and_error() {
    for_shards(|server, shards| {
        let (k0, _) = keys("unb", shards);
        let mut a = server.raw();
        let mut c = server.raw();
        let id = match a.cmd_reply(&["CLIENT", "ID"]) {
            Reply::Integer(n) => n.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(c.cmd(&["CLIENT", "UNBLOCK", &id]), b":0\r\n".to_vec());
        send(&mut a, &["BLPOP", &k0, "0"]);
        wait_blocked(server, 1);
        let list = String::from_utf8_lossy(&c.cmd(&["CLIENT", "LIST", "ID", &id])).into_owned();
        assert!(list.contains("flags=b "), "{list}");
        assert!(list.contains("cmd=blpop "), "{list}");
        assert_eq!(c.cmd(&["CLIENT", "UNBLOCK", &id]), b":1\r\n".to_vec());
        assert_eq!(reply(&mut a), b"*-1\r\n".to_vec());
        send(&mut a, &["BZPOPMIN", &k0, "0"]);
        wait_blocked(server, 1);
        assert_eq!(
            c.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]),
            b":1\r\n".to_vec()
        );
        assert_eq!(
            reply(&mut a),
            b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n".to_vec()
        );
        assert_eq!(
            c.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]),
            b":0\r\n".to_vec()
        );
        assert_eq!(
            c.cmd(&["CLIENT", "UNBLOCK", &id, "MAYBE"]),
            b"-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n".to_vec()
        );
        // Still usable, and the key was never touched.
        c.cmd(&["RPUSH", &k0, "v"]);
        assert_eq!(a.cmd(&["LLEN", &k0]), b":1\r\n".to_vec());
    });
}

#[test]
fn a_client_that_disconnects_while_blocked_loses_nothing() {
    for_shards(|server, shards| {
        let (k0, k1) = keys("gone", shards);
        let mut a = server.raw();
        send(&mut a, &["BLPOP", &k0, &k1, "0"]);
        wait_blocked(server, 1);
        drop(a);
        wait_blocked(server, 0);
        let mut p = server.raw();
        p.cmd(&["RPUSH", &k1, "kept"]);
        p.cmd(&["RPUSH", &k0, "kept0"]);
        assert_eq!(p.cmd(&["LRANGE", &k1, "0", "-1"]), bulk(&["kept"]));
        assert_eq!(p.cmd(&["LRANGE", &k0, "0", "-1"]), bulk(&["kept0"]));
    });
}

#[test]
fn inside_multi_blocking_commands_do_not_block() {
    for_shards(|server, shards| {
        let (k0, k1) = keys("multi", shards);
        let mut c = server.raw();
        c.cmd(&["MULTI"]);
        c.cmd(&["BLPOP", &k0, &k1, "0"]);
        c.cmd(&["BLMOVE", &k0, &k0, "LEFT", "LEFT", "0"]);
        c.cmd(&["BZPOPMIN", &k0, "0"]);
        assert_eq!(c.cmd(&["EXEC"]), b"*3\r\n*-1\r\n$-1\r\n*-1\r\n".to_vec());
        // A transaction that pushes and pops the key a client waits for: the waiter is
        // served after EXEC, with what EXEC left.
        let mut w = server.raw();
        send(&mut w, &["BLPOP", &k1, "0"]);
        wait_blocked(server, 1);
        c.cmd(&["MULTI"]);
        c.cmd(&["RPUSH", &k1, "a", "b"]);
        c.cmd(&["LPOP", &k1]);
        assert_eq!(c.cmd(&["EXEC"]), b"*2\r\n:2\r\n$1\r\na\r\n".to_vec());
        assert_eq!(reply(&mut w), bulk(&[&k1, "b"]));
    });
}

#[test]
fn any_write_that_fills_the_key_serves_and_other_types_do_not() {
    for_shards(|server, shards| {
        let (k0, k1) = keys("fill", shards);
        let mut a = server.raw();
        let mut p = server.raw();
        send(&mut a, &["BLPOP", &k1, "0"]);
        wait_blocked(server, 1);
        // Another type, then a delete: still blocked (Redis 7.0).
        p.cmd(&["SET", &k1, "str"]);
        p.cmd(&["DEL", &k1]);
        // RENAME from a key of the other shard (a multi-shard command) fills it.
        p.cmd(&["RPUSH", &k0, "r1", "r2"]);
        assert_eq!(p.cmd(&["RENAME", &k0, &k1]), b"+OK\r\n".to_vec());
        assert_eq!(reply(&mut a), bulk(&[&k1, "r1"]));
        assert_eq!(p.cmd(&["LRANGE", &k1, "0", "-1"]), bulk(&["r2"]));
        // MOVE from another database.
        p.cmd(&["DEL", &k1]);
        send(&mut a, &["BRPOP", &k1, "0"]);
        wait_blocked(server, 1);
        p.cmd(&["SELECT", "1"]);
        p.cmd(&["RPUSH", &k1, "moved"]);
        assert_eq!(p.cmd(&["MOVE", &k1, "0"]), b":1\r\n".to_vec());
        assert_eq!(reply(&mut a), bulk(&[&k1, "moved"]));
        // A zset waiter ignores a list and is served by ZUNIONSTORE into its key.
        p.cmd(&["SELECT", "0"]);
        send(&mut a, &["BZPOPMIN", &k1, "0"]);
        wait_blocked(server, 1);
        p.cmd(&["RPUSH", &k1, "l"]);
        p.cmd(&["DEL", &k1]);
        p.cmd(&["ZADD", &k0, "7", "z"]);
        assert_eq!(p.cmd(&["ZUNIONSTORE", &k1, "1", &k0]), b":1\r\n".to_vec());
        assert_eq!(reply(&mut a), bulk(&[&k1, "z", "7"]));
    });
}

#[test]
fn commands_pipelined_behind_a_waiter_that_disconnects_never_run() {
    for_shards(|server, shards| {
        let (k0, _) = keys("pipe", shards);
        let mut a = server.raw();
        a.send(
            &[
                common::encode_command(&["BLPOP", &k0, "0"]),
                common::encode_command(&["SET", "after", "1"]),
            ]
            .concat(),
        );
        wait_blocked(server, 1);
        drop(a);
        wait_blocked(server, 0);
        let mut p = server.raw();
        assert_eq!(p.cmd(&["EXISTS", "after"]), b":0\r\n".to_vec());
    });
}

/// Issue 14 item 2: the first waiter's destination holds another type, so it gets WRONGTYPE
/// and the element stays for the next waiter, which must be served (it once stayed blocked
/// forever, intermittently). Repeated, with the destinations on every shard, to catch it.
#[test]
fn a_wrongtype_destination_does_not_strand_the_next_waiter() {
    for_shards(|server, shards| {
        let mut admin = server.raw();
        for round in 0..20 {
            for (i, cmd) in ["BRPOPLPUSH", "BLMOVE"].iter().enumerate() {
                let p = format!("wt{round}-{i}");
                let src = key_on_shard(&p, "src", 0, shards);
                let bad = key_on_shard(&p, "bad", round % shards, shards);
                let good = key_on_shard(&p, "good", shards - 1, shards);
                assert_eq!(admin.cmd(&["SET", &bad, "str"]), b"+OK\r\n");
                let args = |dst: &str| -> Vec<String> {
                    let mut a = vec![cmd.to_string(), src.clone(), dst.to_string()];
                    if *cmd == "BLMOVE" {
                        a.extend(["RIGHT".into(), "LEFT".into()]);
                    }
                    a.push("0".into());
                    a
                };
                let mut first = server.raw();
                let mut second = server.raw();
                let a = args(&bad);
                send(
                    &mut first,
                    &a.iter().map(String::as_str).collect::<Vec<_>>(),
                );
                wait_blocked(server, 1);
                let b = args(&good);
                send(
                    &mut second,
                    &b.iter().map(String::as_str).collect::<Vec<_>>(),
                );
                wait_blocked(server, 2);
                assert_eq!(admin.cmd(&["LPUSH", &src, "x"]), b":1\r\n");
                assert!(
                    reply(&mut first).starts_with(b"-WRONGTYPE"),
                    "{cmd} round {round} at {shards} shards"
                );
                assert_eq!(reply(&mut second), b"$1\r\nx\r\n", "{cmd} round {round}");
                assert_eq!(admin.cmd(&["LRANGE", &good, "0", "-1"]), bulk(&["x"]));
                assert_eq!(admin.cmd(&["EXISTS", &src]), b":0\r\n");
                wait_blocked(server, 0);
            }
        }
    });
}

/// Issue 14 item 13: BZMPOP, BZPOPMIN and BLMPOP serve the first blocked client first, per key,
/// and never wait on their non-key arguments (a push to a key named like an option serves no
/// one).
#[test]
fn mpop_and_bzpop_serve_in_arrival_order_and_wait_on_keys_only() {
    for_shards(|server, shards| {
        let (k0, k1) = keys("m13", shards);
        let mut admin = server.raw();
        let cases: [(Vec<String>, &str); 3] = [
            (
                vec![
                    "BZMPOP".into(),
                    "0".into(),
                    "1".into(),
                    k0.clone(),
                    "MIN".into(),
                    "COUNT".into(),
                    "1".into(),
                ],
                "zset",
            ),
            (
                vec!["BZPOPMIN".into(), k0.clone(), k1.clone(), "0".into()],
                "zset",
            ),
            (
                vec![
                    "BLMPOP".into(),
                    "0".into(),
                    "2".into(),
                    k1.clone(),
                    k0.clone(),
                    "LEFT".into(),
                    "COUNT".into(),
                    "1".into(),
                ],
                "list",
            ),
        ];
        for (args, kind) in cases {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut first = server.raw();
            let mut second = server.raw();
            send(&mut first, &a);
            wait_blocked(server, 1);
            send(&mut second, &a);
            wait_blocked(server, 2);
            // Pushes to keys named like the options and numbers serve nobody.
            for fake in ["MIN", "COUNT", "1", "0", "LEFT"] {
                if kind == "zset" {
                    admin.cmd(&["ZADD", fake, "1", "m"]);
                } else {
                    admin.cmd(&["RPUSH", fake, "m"]);
                }
            }
            admin.cmd(&["DEL", "MIN", "COUNT", "1", "0", "LEFT"]);
            wait_blocked(server, 2);
            if kind == "zset" {
                assert_eq!(admin.cmd(&["ZADD", &k0, "1", "one"]), b":1\r\n");
            } else {
                assert_eq!(admin.cmd(&["RPUSH", &k0, "one"]), b":1\r\n");
            }
            let r = reply(&mut first);
            assert!(
                String::from_utf8_lossy(&r).contains("one"),
                "{a:?}: the first blocked client is served first: {r:?}"
            );
            wait_blocked(server, 1);
            if kind == "zset" {
                admin.cmd(&["ZADD", &k0, "2", "two"]);
            } else {
                admin.cmd(&["RPUSH", &k0, "two"]);
            }
            let r = reply(&mut second);
            assert!(String::from_utf8_lossy(&r).contains("two"), "{a:?}: {r:?}");
            wait_blocked(server, 0);
            admin.cmd(&["DEL", &k0, &k1]);
        }
    });
}
