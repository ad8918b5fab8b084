//! Pub/sub across shards: subscribers accepted by any shard receive what any connection
//! publishes, PUBLISH counts receivers on every shard, PUBSUB sees subscriptions everywhere,
//! RESP2 array frames and RESP3 push frames. Each test also passes against redis-server
//! (`RINGKV_TEST_AGAINST_REDIS=1`).

mod common;

use common::{encode_command, RawConn, Reply, Server, REPLY_TIMEOUT};

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Some(s.as_bytes().to_vec()))
}

/// Enough connections that, whichever way the listener spreads them, both shards hold some.
const SUBSCRIBERS: usize = 8;

#[test]
fn publish_reaches_subscribers_on_every_shard_resp2() {
    let server = Server::ringkv(2, &[]);
    let mut subs: Vec<RawConn> = (0..SUBSCRIBERS).map(|_| server.raw()).collect();
    for (i, s) in subs.iter_mut().enumerate() {
        if i % 2 == 0 {
            assert_eq!(
                s.cmd(&["SUBSCRIBE", "news"]),
                b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
            );
        } else {
            assert_eq!(
                s.cmd(&["PSUBSCRIBE", "n*"]),
                b"*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n"
            );
        }
    }
    let mut publisher = server.raw();
    assert_eq!(
        publisher.cmd_reply(&["PUBLISH", "news", "hello"]),
        Reply::Integer(SUBSCRIBERS as i64)
    );
    for (i, s) in subs.iter_mut().enumerate() {
        let expect = if i % 2 == 0 {
            Reply::Array(Some(vec![bulk("message"), bulk("news"), bulk("hello")]))
        } else {
            Reply::Array(Some(vec![
                bulk("pmessage"),
                bulk("n*"),
                bulk("news"),
                bulk("hello"),
            ]))
        };
        assert_eq!(s.read_reply(), expect, "subscriber {i}");
    }
    assert_eq!(
        publisher.cmd_reply(&["PUBSUB", "NUMSUB", "news", "none"]),
        Reply::Array(Some(vec![
            bulk("news"),
            Reply::Integer(SUBSCRIBERS as i64 / 2),
            bulk("none"),
            Reply::Integer(0)
        ]))
    );
    assert_eq!(
        publisher.cmd_reply(&["PUBSUB", "NUMPAT"]),
        Reply::Integer(1)
    );
    assert_eq!(
        publisher.cmd_reply(&["PUBSUB", "CHANNELS"]),
        Reply::Array(Some(vec![bulk("news")]))
    );

    // Subscribed mode (RESP2) allows only the pub/sub commands, PING and QUIT/RESET.
    let s = &mut subs[0];
    assert_eq!(
        s.cmd(&["GET", "k"]),
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(s.cmd(&["PING"]), b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert_eq!(
        s.cmd(&["UNSUBSCRIBE"]),
        b"*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:0\r\n"
    );
    assert_eq!(s.cmd(&["GET", "k"]), b"$-1\r\n");

    // A closed subscriber is forgotten by its shard.
    drop(subs);
    assert!(common::wait_until(REPLY_TIMEOUT, || {
        publisher.cmd_reply(&["PUBLISH", "news", "x"]) == Reply::Integer(0)
    }));
}

#[test]
fn resp3_push_frames_and_shard_channels() {
    let server = Server::ringkv(2, &[]);
    let mut subs: Vec<RawConn> = (0..4).map(|_| server.raw()).collect();
    for s in &mut subs {
        s.cmd(&["HELLO", "3"]);
        assert_eq!(
            s.cmd(&["SSUBSCRIBE", "orders"]),
            b">3\r\n$10\r\nssubscribe\r\n$6\r\norders\r\n:1\r\n"
        );
        // RESP3 subscribers keep running ordinary commands.
        assert_eq!(s.cmd(&["GET", "k"]), b"_\r\n");
    }
    let mut publisher = server.raw();
    assert_eq!(
        publisher.cmd_reply(&["SPUBLISH", "orders", "o1"]),
        Reply::Integer(4)
    );
    assert_eq!(
        publisher.cmd_reply(&["PUBLISH", "orders", "o1"]),
        Reply::Integer(0),
        "shard channels are their own namespace"
    );
    for s in &mut subs {
        let bytes = s.read_reply_bytes(REPLY_TIMEOUT).expect("smessage");
        assert_eq!(
            bytes,
            b">3\r\n$8\r\nsmessage\r\n$6\r\norders\r\n$2\r\no1\r\n"
        );
    }
    assert_eq!(
        publisher.cmd_reply(&["PUBSUB", "SHARDNUMSUB", "orders"]),
        Reply::Array(Some(vec![bulk("orders"), Reply::Integer(4)]))
    );

    // Publishing to itself: the message comes before the PUBLISH reply, as in Redis.
    let s = &mut subs[0];
    s.cmd(&["SUBSCRIBE", "me"]);
    s.send(&encode_command(&["PUBLISH", "me", "hi"]));
    let msg = s.read_reply_bytes(REPLY_TIMEOUT).expect("message");
    assert_eq!(msg, b">3\r\n$7\r\nmessage\r\n$2\r\nme\r\n$2\r\nhi\r\n");
    assert_eq!(s.read_reply(), Reply::Integer(1));
}

#[test]
fn client_list_counts_subscriptions() {
    let server = Server::ringkv(2, &[]);
    let mut s = server.raw();
    s.cmd(&["SUBSCRIBE", "a"]);
    s.cmd(&["SUBSCRIBE", "b"]);
    s.cmd(&["PSUBSCRIBE", "c*"]);
    let mut other = server.raw();
    let list = String::from_utf8_lossy(&other.cmd(&["CLIENT", "LIST"])).to_string();
    let line = list
        .lines()
        .find(|l| l.contains("flags=P"))
        .unwrap_or_else(|| panic!("no subscribed client in {list}"));
    assert!(line.contains(" sub=2 psub=1 ssub=0 "), "{line}");
}
