//! Generic key commands across shards: SCAN's guarantee with a cursor spanning shards, KEYS and
//! RANDOMKEY gathering from every shard, expired keys hidden everywhere, COPY ... DB n and
//! SWAPDB with keys on different shards. Each test also passes against redis-server
//! (`RINGKV_TEST_AGAINST_REDIS=1`).

mod common;

use common::{key_on_shard, Reply, Server};
use std::collections::HashSet;
use std::time::Duration;

fn bulk_list(r: Reply) -> Vec<Vec<u8>> {
    match r {
        Reply::Array(Some(items)) => items
            .into_iter()
            .map(|i| match i {
                Reply::Bulk(Some(b)) => b,
                other => panic!("not a bulk: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

/// Runs a whole SCAN with `extra` options, calling `between` after every step; returns every
/// key returned (with repeats) and the number of calls.
fn full_scan(
    c: &mut common::RawConn,
    extra: &[&str],
    mut between: impl FnMut(&mut common::RawConn, usize),
) -> (Vec<Vec<u8>>, usize) {
    let mut cursor = b"0".to_vec();
    let mut keys = Vec::new();
    let mut calls = 0;
    loop {
        let mut args: Vec<&[u8]> = vec![b"SCAN", &cursor];
        args.extend(extra.iter().map(|s| s.as_bytes()));
        let Reply::Array(Some(mut parts)) = c.cmd_reply(&args) else {
            panic!("SCAN reply");
        };
        let page = bulk_list(parts.pop().expect("keys"));
        let Some(Reply::Bulk(Some(next))) = parts.pop() else {
            panic!("SCAN cursor");
        };
        keys.extend(page);
        calls += 1;
        between(c, calls);
        if next == b"0" {
            return (keys, calls);
        }
        cursor = next;
        assert!(calls < 100_000, "SCAN does not terminate");
    }
}

#[test]
fn scan_returns_every_stable_key_across_shards_under_churn() {
    let server = Server::ringkv(2, &[]);
    let mut c = server.raw();
    let mut mset: Vec<String> = vec!["MSET".into()];
    for i in 0..500 {
        mset.push(format!("stable:{i}"));
        mset.push("v".into());
    }
    assert_eq!(c.cmd(&mset), b"+OK\r\n");
    let (keys, calls) = full_scan(&mut c, &["COUNT", "7"], |c, n| {
        // Churn: add and remove other keys between the calls.
        c.cmd(&["SET", &format!("tmp:{n}"), "x"]);
        if n > 3 {
            c.cmd(&["DEL", &format!("tmp:{}", n - 3)]);
        }
    });
    let seen: HashSet<Vec<u8>> = keys.into_iter().collect();
    for i in 0..500 {
        assert!(
            seen.contains(format!("stable:{i}").as_bytes()),
            "stable:{i} missed"
        );
    }
    assert!(calls > 10, "COUNT 7 over 500 keys took {calls} calls");
}

#[test]
fn scan_match_type_and_keys_gather_from_every_shard() {
    let server = Server::ringkv(2, &[]);
    let mut c = server.raw();
    let a = key_on_shard("a", "x", 0, 2);
    let b = key_on_shard("b", "x", 1, 2);
    c.cmd(&["MSET", &a, "1", &b, "2", "other", "3"]);
    let (keys, _) = full_scan(&mut c, &["MATCH", "*x"], |_, _| {});
    let mut keys: Vec<String> = keys
        .into_iter()
        .map(|k| String::from_utf8_lossy(&k).into_owned())
        .collect();
    keys.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(keys, want);
    let (keys, _) = full_scan(&mut c, &["TYPE", "list"], |_, _| {});
    assert!(keys.is_empty());
    let mut all: Vec<Vec<u8>> = bulk_list(c.cmd_reply(&["KEYS", "*"]));
    all.sort();
    let mut want: Vec<Vec<u8>> = vec![a.into(), b.into(), b"other".to_vec()];
    want.sort();
    assert_eq!(all, want);
}

#[test]
fn expired_keys_are_hidden_and_dbsize_counts_them_until_reclaimed() {
    let server = Server::ringkv(2, &[]);
    let mut c = server.raw();
    let keys: Vec<String> = (0..2).map(|s| key_on_shard("e", "k", s, 2)).collect();
    for k in &keys {
        c.cmd(&["SET", k, "v", "PX", "1"]);
    }
    c.cmd(&["SET", "live", "v"]);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        bulk_list(c.cmd_reply(&["KEYS", "*"])),
        vec![b"live".to_vec()]
    );
    let (scanned, _) = full_scan(&mut c, &[], |_, _| {});
    assert_eq!(scanned, vec![b"live".to_vec()]);
    for _ in 0..20 {
        assert_eq!(c.cmd(&["RANDOMKEY"]), b"$4\r\nlive\r\n");
    }
    // Before reclaiming, DBSIZE may still count them (Redis counts unreclaimed keys).
    let Reply::Integer(n) = c.cmd_reply(&["DBSIZE"]) else {
        panic!("DBSIZE");
    };
    assert!((1..=3).contains(&n), "DBSIZE {n}");
    for k in &keys {
        assert_eq!(c.cmd(&["TTL", k]), b":-2\r\n");
        assert_eq!(c.cmd(&["EXISTS", k]), b":0\r\n");
    }
    // Touched, they are reclaimed: DBSIZE is exact again.
    assert_eq!(c.cmd(&["DBSIZE"]), b":1\r\n");
}

#[test]
fn randomkey_reaches_every_shard() {
    let server = Server::ringkv(2, &[]);
    let mut c = server.raw();
    let a = key_on_shard("r", "x", 0, 2);
    let b = key_on_shard("r", "y", 1, 2);
    c.cmd(&["MSET", &a, "1", &b, "2"]);
    let mut seen = HashSet::new();
    for _ in 0..200 {
        if let Reply::Bulk(Some(k)) = c.cmd_reply(&["RANDOMKEY"]) {
            seen.insert(k);
        }
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen.len(), 2, "RANDOMKEY only returned {seen:?}");
}

#[test]
fn copy_to_another_db_across_shards() {
    let server = Server::ringkv(2, &[]);
    let mut c = server.raw();
    let src = key_on_shard("s", "src", 0, 2);
    let dst = key_on_shard("d", "dst", 1, 2);
    c.cmd(&["SET", &src, "hello", "EX", "100"]);
    c.cmd(&["SELECT", "1"]);
    c.cmd(&["SET", &dst, "taken"]);
    c.cmd(&["SELECT", "0"]);
    // The destination in db 1 exists: without REPLACE nothing happens.
    assert_eq!(c.cmd(&["COPY", &src, &dst, "DB", "1"]), b":0\r\n");
    assert_eq!(
        c.cmd(&["COPY", &src, &dst, "DB", "1", "REPLACE"]),
        b":1\r\n"
    );
    assert_eq!(c.cmd(&["EXISTS", &dst]), b":0\r\n", "db 0 untouched");
    c.cmd(&["SELECT", "1"]);
    assert_eq!(c.cmd(&["GET", &dst]), b"$5\r\nhello\r\n");
    let Reply::Integer(ttl) = c.cmd_reply(&["TTL", &dst]) else {
        panic!("TTL");
    };
    assert!((90..=100).contains(&ttl), "TTL kept: {ttl}");
    c.cmd(&["SELECT", "0"]);
    assert_eq!(c.cmd(&["GET", &src]), b"$5\r\nhello\r\n");
}

#[test]
fn swapdb_and_flushdb_act_on_every_shard() {
    let server = Server::ringkv(2, &[]);
    let mut c = server.raw();
    let a = key_on_shard("w", "a", 0, 2);
    let b = key_on_shard("w", "b", 1, 2);
    c.cmd(&["MSET", &a, "1", &b, "2"]);
    assert_eq!(c.cmd(&["SWAPDB", "0", "5"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]), b":0\r\n");
    c.cmd(&["SELECT", "5"]);
    assert_eq!(c.cmd(&["DBSIZE"]), b":2\r\n");
    assert_eq!(c.cmd(&["MGET", &a, &b]), b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(c.cmd(&["FLUSHDB"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]), b":0\r\n");
}
