//! CLIENT TRACKING on the data node (client-side caching): RESP3 push invalidations, RESP2
//! redirection to a `__redis__:invalidate` subscriber, BCAST with prefixes, NOLOOP, OPTIN with
//! CLIENT CACHING, FLUSHALL/FLUSHDB null invalidations, and that a key on any shard reaches a
//! tracking client on any shard. Byte for byte as redis-server 7.0.15
//! (`RINGKV_TEST_AGAINST_REDIS=1` runs them against it).

mod common;

use common::{hello3, key_on_shard, RawConn, Server};
use std::time::Duration;

const PUSH_WAIT: Duration = Duration::from_secs(5);

fn push(keys: &[&str]) -> Vec<u8> {
    let mut v = b">2\r\n$10\r\ninvalidate\r\n".to_vec();
    v.extend(format!("*{}\r\n", keys.len()).bytes());
    for k in keys {
        v.extend(format!("${}\r\n{k}\r\n", k.len()).bytes());
    }
    v
}

fn message(keys: Option<&[&str]>) -> Vec<u8> {
    let mut v = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n".to_vec();
    match keys {
        None => v.extend(b"$-1\r\n"),
        Some(keys) => {
            v.extend(format!("*{}\r\n", keys.len()).bytes());
            for k in keys {
                v.extend(format!("${}\r\n{k}\r\n", k.len()).bytes());
            }
        }
    }
    v
}

fn next(c: &mut RawConn) -> Vec<u8> {
    c.read_reply_bytes(PUSH_WAIT).expect("an invalidation")
}

fn nothing_pending(c: &mut RawConn) {
    // A PING answers right away: anything queued before it would come first.
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

/// Enough tracking connections that both shards hold some, whichever way they spread.
const TRACKERS: usize = 4;

fn resp3_default_mode(shards: usize) {
    let server = Server::ringkv(shards, &[]);
    let keys: Vec<String> = (0..shards.max(2))
        .map(|s| key_on_shard(&format!("k{s}_"), "", s % shards, shards))
        .collect();
    let mut writer = server.raw();
    let mut trackers: Vec<RawConn> = (0..TRACKERS).map(|_| server.raw()).collect();
    for t in trackers.iter_mut() {
        hello3(t);
        assert_eq!(t.cmd(&["CLIENT", "TRACKING", "on"]), b"+OK\r\n");
        for k in &keys {
            // Missing keys are tracked too.
            assert_eq!(t.cmd(&["GET", k]), b"_\r\n");
        }
    }
    for k in &keys {
        assert_eq!(writer.cmd(&["SET", k, "v"]), b"+OK\r\n");
        for t in trackers.iter_mut() {
            assert_eq!(next(t), push(&[k]));
        }
    }
    // Invalidated keys leave the table: a second write sends nothing.
    assert_eq!(writer.cmd(&["SET", &keys[0], "w"]), b"+OK\r\n");
    for t in trackers.iter_mut() {
        nothing_pending(t);
    }
    // A client's own write invalidates its cache after the write's reply (no NOLOOP).
    let t = &mut trackers[0];
    assert_eq!(t.cmd(&["GET", &keys[1]]), b"$1\r\nv\r\n");
    assert_eq!(t.cmd(&["DEL", &keys[1]]), b":1\r\n");
    assert_eq!(next(t), push(&[&keys[1]]));
    // FLUSHALL: everybody drops everything.
    assert_eq!(writer.cmd(&["FLUSHALL"]), b"+OK\r\n");
    for t in trackers.iter_mut() {
        assert_eq!(next(t), b">2\r\n$10\r\ninvalidate\r\n_\r\n");
    }
    let t = &mut trackers[1];
    assert_eq!(
        t.cmd(&["CLIENT", "TRACKINGINFO"]),
        b"%3\r\n$5\r\nflags\r\n~1\r\n$2\r\non\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n"
    );
    assert_eq!(t.cmd(&["CLIENT", "GETREDIR"]), b":0\r\n");
    let info = String::from_utf8_lossy(&writer.cmd(&["INFO", "clients"])).to_string();
    assert!(
        info.contains(&format!("tracking_clients:{TRACKERS}\r\n")),
        "{info}"
    );
    assert_eq!(t.cmd(&["CLIENT", "TRACKING", "off"]), b"+OK\r\n");
    assert_eq!(t.cmd(&["CLIENT", "GETREDIR"]), b":-1\r\n");
    drop(trackers);
    assert!(common::wait_until(PUSH_WAIT, || {
        String::from_utf8_lossy(&writer.cmd(&["INFO", "clients"]))
            .contains("tracking_clients:0\r\n")
    }));
}

#[test]
fn resp3_push_invalidations_1_shard() {
    resp3_default_mode(1);
}

#[test]
fn resp3_push_invalidations_2_shards() {
    resp3_default_mode(2);
}

fn resp2_redirect(shards: usize) {
    let server = Server::ringkv(shards, &[]);
    let x = key_on_shard("x", "", 0, shards);
    let y = key_on_shard("y", "", shards - 1, shards);
    for _ in 0..2 {
        let mut sub = server.raw();
        let id = String::from_utf8_lossy(&sub.cmd(&["CLIENT", "ID"]))
            .trim_start_matches(':')
            .trim()
            .to_string();
        assert_eq!(
            sub.cmd(&["SUBSCRIBE", "__redis__:invalidate"]),
            b"*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n"
        );
        let mut c = server.raw();
        assert_eq!(
            c.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", "999999"]),
            b"-ERR The client ID you want redirect to does not exist\r\n"
        );
        assert_eq!(
            c.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &id]),
            b"+OK\r\n"
        );
        assert_eq!(
            c.cmd(&["CLIENT", "GETREDIR"]),
            format!(":{id}\r\n").as_bytes()
        );
        assert_eq!(c.cmd(&["MGET", &x, &y]), b"*2\r\n$-1\r\n$-1\r\n");
        let mut w = server.raw();
        assert_eq!(w.cmd(&["MSET", &x, "1", &y, "2"]), b"+OK\r\n");
        let mut got = vec![next(&mut sub), next(&mut sub)];
        got.sort();
        let mut want = vec![message(Some(&[&x])), message(Some(&[&y]))];
        want.sort();
        assert_eq!(got, want);
        assert_eq!(c.cmd(&["GET", &x]), b"$1\r\n1\r\n");
        assert_eq!(w.cmd(&["FLUSHDB"]), b"+OK\r\n");
        assert_eq!(next(&mut sub), message(None));
    }
}

#[test]
fn resp2_redirect_to_subscriber_1_shard() {
    resp2_redirect(1);
}

#[test]
fn resp2_redirect_to_subscriber_2_shards() {
    resp2_redirect(2);
}

fn bcast_optin(shards: usize) {
    let server = Server::ringkv(shards, &[]);
    let mut d = server.raw();
    hello3(&mut d);
    assert_eq!(
        d.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "p:", "NOLOOP"]),
        b"+OK\r\n"
    );
    let mut w = server.raw();
    assert_eq!(
        w.cmd(&["MSET", "p:1", "a", "p:2", "b", "q", "c"]),
        b"+OK\r\n"
    );
    assert_eq!(next(&mut d), push(&["p:1", "p:2"]));
    // NOLOOP: its own writes are not reported back.
    assert_eq!(d.cmd(&["SET", "p:3", "x"]), b"+OK\r\n");
    nothing_pending(&mut d);
    assert_eq!(w.cmd(&["INCR", "p:n"]), b":1\r\n");
    assert_eq!(next(&mut d), push(&["p:n"]));
    let info = String::from_utf8_lossy(&w.cmd(&["INFO", "stats"])).to_string();
    assert!(info.contains("tracking_total_prefixes:1\r\n"), "{info}");

    // OPTIN: only reads right after CLIENT CACHING yes are tracked.
    let mut o = server.raw();
    hello3(&mut o);
    assert_eq!(o.cmd(&["CLIENT", "TRACKING", "on", "OPTIN"]), b"+OK\r\n");
    assert_eq!(
        o.cmd(&["CLIENT", "CACHING", "no"]),
        b"-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n"
    );
    assert_eq!(o.cmd(&["GET", "a"]), b"_\r\n");
    assert_eq!(o.cmd(&["CLIENT", "CACHING", "yes"]), b"+OK\r\n");
    assert_eq!(o.cmd(&["GET", "b"]), b"_\r\n");
    assert_eq!(o.cmd(&["GET", "c"]), b"_\r\n");
    assert_eq!(w.cmd(&["MSET", "a", "1", "b", "2", "c", "3"]), b"+OK\r\n");
    assert_eq!(next(&mut o), push(&["b"]));
    nothing_pending(&mut o);
}

#[test]
fn bcast_noloop_and_optin_1_shard() {
    bcast_optin(1);
}

#[test]
fn bcast_noloop_and_optin_2_shards() {
    bcast_optin(2);
}
