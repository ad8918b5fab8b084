//! MULTI/EXEC across shards: transfers between keys on both shards keep a constant sum for
//! every concurrent reader, WATCH aborts when a watched key on any shard changes, and the
//! command sequence Sentinel sends inside MULTI is accepted. Each test also passes against
//! redis-server (`RINGKV_TEST_AGAINST_REDIS=1`).

mod common;

use common::{key_on_shard, Reply, Server};

fn int(r: &Reply) -> i64 {
    match r {
        Reply::Integer(i) => *i,
        Reply::Bulk(Some(b)) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not a number: {b:?}")),
        other => panic!("not an integer: {other:?}"),
    }
}

#[test]
fn transfers_between_shards_keep_the_sum_for_every_reader() {
    let server = Server::ringkv(2, &[]);
    let a = key_on_shard("acct", "a", 0, 2);
    let b = key_on_shard("acct", "b", 1, 2);
    let mut c = server.raw();
    c.cmd(&["MSET", &a, "1000", &b, "1000"]);

    let port = server.port;
    let mut workers = Vec::new();
    for w in 0..4 {
        let (a, b) = (a.clone(), b.clone());
        workers.push(std::thread::spawn(move || {
            let mut c = common::RawConn::connect(port);
            for i in 0..200 {
                let x = ((w * 7 + i) % 13 + 1).to_string();
                assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
                assert_eq!(c.cmd(&["INCRBY", &a, &format!("-{x}")]), b"+QUEUED\r\n");
                assert_eq!(c.cmd(&["INCRBY", &b, &x]), b"+QUEUED\r\n");
                let Reply::Array(Some(r)) = c.cmd_reply(&["EXEC"]) else {
                    panic!("EXEC reply");
                };
                assert_eq!(r.len(), 2);
                assert_eq!(int(&r[0]) + int(&r[1]), 2000, "EXEC saw a partial transfer");
            }
        }));
    }
    for _ in 0..2 {
        let (a, b) = (a.clone(), b.clone());
        workers.push(std::thread::spawn(move || {
            let mut c = common::RawConn::connect(port);
            for _ in 0..300 {
                let Reply::Array(Some(r)) = c.cmd_reply(&["MGET", &a, &b]) else {
                    panic!("MGET reply");
                };
                assert_eq!(int(&r[0]) + int(&r[1]), 2000, "MGET saw a partial transfer");
                // A single-key reader inside its own transaction must agree too.
                c.cmd(&["MULTI"]);
                c.cmd(&["GET", &a]);
                c.cmd(&["GET", &b]);
                let Reply::Array(Some(r)) = c.cmd_reply(&["EXEC"]) else {
                    panic!("EXEC reply");
                };
                assert_eq!(
                    int(&r[0]) + int(&r[1]),
                    2000,
                    "EXEC read a partial transfer"
                );
            }
        }));
    }
    for w in workers {
        w.join().expect("worker");
    }
    let Reply::Array(Some(r)) = c.cmd_reply(&["MGET", &a, &b]) else {
        panic!("MGET reply");
    };
    assert_eq!(int(&r[0]) + int(&r[1]), 2000);
    assert_ne!(int(&r[0]), 1000, "the transfers ran");
}

#[test]
fn watch_aborts_when_a_key_on_any_shard_changes() {
    let server = Server::ringkv(2, &[]);
    let a = key_on_shard("w", "a", 0, 2);
    let b = key_on_shard("w", "b", 1, 2);
    let mut c = server.raw();
    let mut other = server.raw();
    c.cmd(&["MSET", &a, "1", &b, "1"]);

    for (changed, change) in [
        (&b, vec!["SET", &b, "2"]),
        (&a, vec!["DEL", &a]),
        (&b, vec!["EXPIRE", &b, "100"]),
        (&a, vec!["FLUSHALL"]),
    ] {
        c.cmd(&["SET", changed, "1"]);
        assert_eq!(c.cmd(&["WATCH", &a, &b]), b"+OK\r\n");
        other.cmd(&change);
        c.cmd(&["MULTI"]);
        c.cmd(&["SET", &a, "tx"]);
        assert_eq!(c.cmd(&["EXEC"]), b"*-1\r\n", "{change:?} must abort");
        assert_ne!(c.cmd(&["GET", &a]), b"$2\r\ntx\r\n");
    }

    // Untouched watched keys let EXEC run, and EXEC forgets them.
    c.cmd(&["MSET", &a, "1", &b, "1"]);
    c.cmd(&["WATCH", &a, &b]);
    other.cmd(&["SET", "unrelated", "1"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["INCR", &a]);
    c.cmd(&["INCR", &b]);
    assert_eq!(c.cmd(&["EXEC"]), b"*2\r\n:2\r\n:2\r\n");
    other.cmd(&["SET", &a, "9"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["GET", &a]);
    assert_eq!(c.cmd(&["EXEC"]), b"*1\r\n$1\r\n9\r\n");

    // A key whose TTL passes between WATCH and EXEC counts as changed.
    c.cmd(&["SET", &b, "1", "PX", "30"]);
    c.cmd(&["WATCH", &b]);
    std::thread::sleep(std::time::Duration::from_millis(60));
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    assert_eq!(c.cmd(&["EXEC"]), b"*-1\r\n");
}

#[test]
fn sentinel_failover_sequence_is_accepted_inside_multi() {
    let server = Server::ringkv(2, &[]);
    let mut c = server.raw();
    let mut victim = server.raw();
    victim.cmd(&["CLIENT", "SETNAME", "victim"]);
    assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
    for cmd in [
        vec!["REPLICAOF", "NO", "ONE"],
        vec!["CONFIG", "REWRITE"],
        vec!["CLIENT", "KILL", "TYPE", "normal"],
        vec!["CLIENT", "KILL", "TYPE", "pubsub"],
    ] {
        assert_eq!(c.cmd(&cmd), b"+QUEUED\r\n", "{cmd:?}");
    }
    let Reply::Array(Some(r)) = c.cmd_reply(&["EXEC"]) else {
        panic!("EXEC must run the block");
    };
    assert_eq!(r.len(), 4);
    // CLIENT KILL TYPE normal closes the other client (and this one, like Redis).
    assert!(matches!(r[2], Reply::Integer(n) if n >= 1), "{:?}", r[2]);
}

#[test]
fn client_list_shows_multi_state() {
    let server = Server::ringkv(2, &[]);
    let mut c = server.raw();
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["CLIENT", "LIST"]);
    let Reply::Array(Some(r)) = c.cmd_reply(&["EXEC"]) else {
        panic!("EXEC reply");
    };
    let Reply::Bulk(Some(line)) = &r[1] else {
        panic!("CLIENT LIST reply");
    };
    let line = String::from_utf8_lossy(line);
    assert!(line.contains("flags=x "), "{line}");
    assert!(line.contains("multi=2 "), "{line}");
    let Reply::Bulk(Some(after)) = c.cmd_reply(&["CLIENT", "LIST"]) else {
        panic!("CLIENT LIST reply");
    };
    let after = String::from_utf8_lossy(&after);
    assert!(
        after.contains("flags=N ") && after.contains("multi=-1 "),
        "{after}"
    );
}

/// The commands of a RESP stream (an AOF), each as its arguments.
fn stream_commands(mut bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut cmds = Vec::new();
    while let Ok(Some((Reply::Array(Some(items)), used))) = common::parse_reply(bytes) {
        cmds.push(
            items
                .into_iter()
                .map(|r| match r {
                    Reply::Bulk(Some(b)) => b,
                    other => panic!("not a bulk argument: {other:?}"),
                })
                .collect(),
        );
        bytes = &bytes[used..];
    }
    cmds
}

/// While a block whose keys live on both shards waits for the other shard, other clients'
/// writes on its shard run; they must be journaled as their own units, never inside the block's
/// MULTI ... EXEC (which would hold them back until the block ends and make them part of it).
#[test]
fn other_clients_writes_stay_out_of_a_cross_shard_block() {
    let server = Server::ringkv(2, &["--appendonly", "yes", "--appendfsync", "no"]);
    let a = key_on_shard("blk", "a", 0, 2);
    let b = key_on_shard("blk", "b", 1, 2);
    let port = server.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..2 {
        let stop = stop.clone();
        writers.push(std::thread::spawn(move || {
            let mut c = common::RawConn::connect(port);
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                assert_eq!(c.cmd(&["SET", &format!("other:{w}:{i}"), "x"]), b"+OK\r\n");
                i += 1;
            }
        }));
    }
    let mut c = server.raw();
    for i in 0..300 {
        let v = i.to_string();
        assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["SET", &a, &v]), b"+QUEUED\r\n");
        assert_eq!(c.cmd(&["SET", &b, &v]), b"+QUEUED\r\n");
        assert_eq!(c.cmd(&["INCR", &a]), b"+QUEUED\r\n");
        assert!(matches!(c.cmd_reply(&["EXEC"]), Reply::Array(Some(_))));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    // appendfsync no: the file catches up shortly after the replies; wait (bounded) for
    // every block to be there.
    let dir = server.dir.join("appendonlydir");
    let read_all = || {
        let mut bytes = Vec::new();
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
            .collect();
        names.sort();
        for p in names {
            bytes.extend(std::fs::read(p).unwrap());
        }
        stream_commands(&bytes)
    };
    let mut blocks = 0;
    assert!(common::wait_until(
        std::time::Duration::from_secs(10),
        || {
            let cmds = read_all();
            blocks = cmds
                .iter()
                .filter(|c| c[0].eq_ignore_ascii_case(b"MULTI"))
                .count();
            blocks >= 300
        }
    ));
    let mut inside = false;
    for cmd in read_all() {
        let name = String::from_utf8_lossy(&cmd[0]).to_ascii_uppercase();
        match name.as_str() {
            "MULTI" => inside = true,
            "EXEC" => inside = false,
            _ if inside => assert!(
                !cmd.iter().any(|a| a.starts_with(b"other:")),
                "another client's write inside a block: {}",
                common::show_args(&cmd)
            ),
            _ => {}
        }
    }
}
