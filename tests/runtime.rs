//! The shard runtime as a client sees it: pipelines whose commands hop between shards come back
//! in order, multi-shard commands are atomic, idle timeouts and the unix socket work.

mod common;

use common::*;
use std::io::{Read, Write};
use std::time::Duration;

#[test]
fn pipelined_commands_across_shards_reply_in_order() {
    for shards in [1, 2, 3] {
        let server = Server::ringkv(shards, &[]);
        let mut c = server.raw();
        let n = 300;
        let mut req = Vec::new();
        for i in 0..n {
            req.extend_from_slice(&encode_command(&[
                "SET",
                &format!("key:{i}"),
                &format!("v{i}"),
            ]));
            req.extend_from_slice(&encode_command(&["GET", &format!("key:{i}")]));
            req.extend_from_slice(&encode_command(&["PING"]));
        }
        c.send(&req);
        for i in 0..n {
            assert_eq!(
                c.read_reply_bytes(Duration::from_secs(10)).unwrap(),
                b"+OK\r\n"
            );
            let v = format!("v{i}");
            let want = format!("${}\r\n{v}\r\n", v.len());
            assert_eq!(
                String::from_utf8_lossy(&c.read_reply_bytes(Duration::from_secs(10)).unwrap()),
                want,
                "GET key:{i} with {shards} shards"
            );
            assert_eq!(
                c.read_reply_bytes(Duration::from_secs(10)).unwrap(),
                b"+PONG\r\n"
            );
        }
    }
}

#[test]
fn multi_key_commands_span_shards() {
    let server = Server::ringkv(2, &[]);
    let mut c = server.raw();
    let a = key_on_shard("a", "", 0, 2);
    let b = key_on_shard("b", "", 1, 2);
    assert_eq!(c.cmd(&["MSET", &a, "1", &b, "2"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&["MGET", &a, &b, "nokey"]),
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n"
    );
    assert_eq!(c.cmd(&["EXISTS", &a, &b, &a]), b":3\r\n");
    // MSETNX is all or nothing across shards.
    let fresh = key_on_shard("fresh", "", 0, 2);
    assert_eq!(c.cmd(&["MSETNX", &fresh, "x", &b, "y"]), b":0\r\n");
    assert_eq!(c.cmd(&["GET", &fresh]), b"$-1\r\n");
    assert_eq!(c.cmd(&["DEL", &a, &b, &fresh]), b":2\r\n");
    assert_eq!(c.cmd(&["MGET", &a, &b]), b"*2\r\n$-1\r\n$-1\r\n");
}

#[test]
fn concurrent_cross_shard_transfers_keep_their_sum() {
    // Writers move units between two keys on different shards with MSET of both new values
    // computed from an MGET; readers check that every MGET sees a consistent total. MSET is
    // atomic across shards, so each MGET sees either both old or both new values.
    let server = Server::ringkv(2, &[]);
    let a = key_on_shard("acct", "a", 0, 2);
    let b = key_on_shard("acct", "b", 1, 2);
    let mut c = server.raw();
    assert_eq!(c.cmd(&["MSET", &a, "1000", &b, "0"]), b"+OK\r\n");
    let port = server.port;
    let writer = {
        let (a, b) = (a.clone(), b.clone());
        std::thread::spawn(move || {
            let mut c = RawConn::connect(port);
            for i in 0..500 {
                let x = 1000 - (i % 1000);
                let reply = c.cmd(&["MSET", &a, &x.to_string(), &b, &(1000 - x).to_string()]);
                assert_eq!(reply, b"+OK\r\n");
            }
        })
    };
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (a, b) = (a.clone(), b.clone());
            std::thread::spawn(move || {
                let mut c = RawConn::connect(port);
                for _ in 0..500 {
                    match c.cmd_reply(&["MGET", &a, &b]) {
                        Reply::Array(Some(items)) => {
                            let n: Vec<i64> = items
                                .iter()
                                .map(|r| match r {
                                    Reply::Bulk(Some(v)) => {
                                        String::from_utf8_lossy(v).parse().unwrap()
                                    }
                                    other => panic!("unexpected {other:?}"),
                                })
                                .collect();
                            assert_eq!(n[0] + n[1], 1000, "saw half of an MSET: {n:?}");
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let server = Server::ringkv(1, &["--timeout", "1"]);
    let mut c = server.raw();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    assert!(
        c.is_closed(Duration::from_secs(10)),
        "idle client must be closed"
    );
}

#[test]
fn unix_socket_serves_commands() {
    let dir = TestDir::new();
    let path = dir.join("ringkv.sock");
    let p = path.to_string_lossy().to_string();
    let server = Server::ringkv(2, &["--unixsocket", &p, "--unixsocketperm", "700"]);
    let mut s = std::os::unix::net::UnixStream::connect(&path).expect("connect unix socket");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nu\r\n$1\r\n1\r\n*2\r\n$3\r\nGET\r\n$1\r\nu\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < b"+OK\r\n$1\r\n1\r\n".len() {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "unix socket closed");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"+OK\r\n$1\r\n1\r\n");
    // The same key is visible over TCP.
    assert_eq!(server.raw().cmd(&["GET", "u"]), b"$1\r\n1\r\n");
}

#[test]
fn second_server_on_same_port_fails() {
    let server = Server::ringkv(1, &[]);
    let port = server.port.to_string();
    let out = run_bounded(
        20,
        &ringkv_bin(),
        &[
            "--port",
            &port,
            "--save",
            "",
            "--dir",
            &server.dir.path_str(),
        ],
    );
    assert!(
        !out.status.success(),
        "a second server must not share the port"
    );
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("Address already in use"), "{text}");
}
