//! OBJECT ENCODING transitions at the configured thresholds: sorted sets (listpack →
//! skiplist, also for ZUNIONSTORE / ZRANGESTORE / RESTORE results), hashes (listpack →
//! hashtable), sets (intset → hashtable), lists (quicklist in 7.0), and CONFIG SET of the
//! thresholds taking effect on the next write. Passes against redis-server too
//! (`RINGKV_TEST_AGAINST_REDIS=1`).

mod common;

use common::{RawConn, Server};

fn enc(c: &mut RawConn, key: &str) -> String {
    let r = c.cmd(&["OBJECT", "ENCODING", key]);
    String::from_utf8_lossy(&r).trim().to_string()
}

fn transitions(shards: usize) {
    let server = Server::ringkv(shards, &[]);
    let mut c = server.raw();
    for (name, v) in [
        ("zset-max-listpack-entries", "4"),
        ("zset-max-listpack-value", "8"),
        ("hash-max-listpack-entries", "4"),
        ("hash-max-listpack-value", "8"),
        ("set-max-intset-entries", "4"),
    ] {
        assert_eq!(c.cmd(&["CONFIG", "SET", name, v]), b"+OK\r\n");
    }
    // Sorted sets: entries, then value length.
    for i in 0..4 {
        c.cmd(&["ZADD", "{t}z", &i.to_string(), &format!("m{i}")]);
    }
    assert_eq!(enc(&mut c, "{t}z"), "$8\r\nlistpack");
    c.cmd(&["ZADD", "{t}z", "9", "m9"]);
    assert_eq!(enc(&mut c, "{t}z"), "$8\r\nskiplist");
    c.cmd(&["ZADD", "{t}v", "1", "a-long-member"]);
    assert_eq!(enc(&mut c, "{t}v"), "$8\r\nskiplist");
    // Stores and RESTORE build the result in the encoding its size asks for.
    c.cmd(&["ZRANGESTORE", "{t}small", "{t}z", "0", "1"]);
    assert_eq!(enc(&mut c, "{t}small"), "$8\r\nlistpack");
    c.cmd(&["ZUNIONSTORE", "{t}u", "2", "{t}z", "{t}v"]);
    assert_eq!(enc(&mut c, "{t}u"), "$8\r\nskiplist");
    c.cmd(&["ZUNIONSTORE", "{t}u2", "1", "{t}small"]);
    assert_eq!(enc(&mut c, "{t}u2"), "$8\r\nlistpack");
    let dump = c.cmd(&["DUMP", "{t}z"]);
    let payload = common::parse_reply(&dump)
        .ok()
        .flatten()
        .and_then(|(r, _)| match r {
            common::Reply::Bulk(Some(b)) => Some(b),
            _ => None,
        })
        .expect("a DUMP payload");
    let mut restore = b"*4\r\n$7\r\nRESTORE\r\n$4\r\n{t}r\r\n$1\r\n0\r\n".to_vec();
    restore.extend(format!("${}\r\n", payload.len()).bytes());
    restore.extend(&payload);
    restore.extend(b"\r\n");
    c.send(&restore);
    assert_eq!(
        c.read_reply_bytes(common::REPLY_TIMEOUT).ok(),
        Some(b"+OK\r\n".to_vec())
    );
    assert_eq!(enc(&mut c, "{t}r"), "$8\r\nskiplist");

    // Hashes.
    for i in 0..4 {
        c.cmd(&["HSET", "h", &format!("f{i}"), "v"]);
    }
    assert_eq!(enc(&mut c, "h"), "$8\r\nlistpack");
    c.cmd(&["HSET", "h", "f9", "v"]);
    assert_eq!(enc(&mut c, "h"), "$9\r\nhashtable");
    c.cmd(&["HSET", "h2", "f", "a-long-value"]);
    assert_eq!(enc(&mut c, "h2"), "$9\r\nhashtable");

    // Sets: intset while small and integer.
    c.cmd(&["SADD", "s", "1", "2", "3", "4"]);
    assert_eq!(enc(&mut c, "s"), "$6\r\nintset");
    c.cmd(&["SADD", "s", "5"]);
    assert_eq!(enc(&mut c, "s"), "$9\r\nhashtable");
    c.cmd(&["SADD", "s2", "x"]);
    assert_eq!(enc(&mut c, "s2"), "$9\r\nhashtable");

    // A raised threshold applies to the next write of a new key.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "zset-max-listpack-entries", "128"]),
        b"+OK\r\n"
    );
    for i in 0..10 {
        c.cmd(&["ZADD", "{t}z2", &i.to_string(), &format!("m{i}")]);
    }
    assert_eq!(enc(&mut c, "{t}z2"), "$8\r\nlistpack");

    // Lists are quicklists in 7.0.
    c.cmd(&["RPUSH", "l", "a"]);
    assert_eq!(enc(&mut c, "l"), "$9\r\nquicklist");
}

#[test]
fn encodings_follow_thresholds_1_shard() {
    transitions(1);
}

#[test]
fn encodings_follow_thresholds_2_shards() {
    transitions(2);
}
