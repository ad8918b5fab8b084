//! SLOWLOG as one log for the whole server (commands run on any shard, ids increasing,
//! slowlog-max-len, GET/LEN/RESET), and what EXEC shows to SLOWLOG and MONITOR and how CLIENT
//! PAUSE WRITE holds it, all as Redis 7.0.15 does. Run with 1 and 2 shards: with 2, the keys
//! used live on both shards, so some commands run on another shard than the connection's.

mod common;

use common::{key_on_shard, wait_until, RawConn, Reply, Server};
use std::time::Duration;

const SHARDS: [usize; 2] = [1, 2];

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Some(s.as_bytes().to_vec()))
}

fn int(r: &Reply) -> i64 {
    match r {
        Reply::Integer(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

/// One SLOWLOG GET entry: (id, arguments, client address, client name).
struct Entry {
    id: i64,
    args: Vec<Reply>,
    addr: Reply,
    name: Reply,
}

fn slowlog_get(c: &mut RawConn, count: &str) -> Vec<Entry> {
    let r = c.cmd_reply(&["SLOWLOG", "GET", count]);
    let Reply::Array(Some(entries)) = r else {
        panic!("{r:?}");
    };
    entries
        .into_iter()
        .map(|e| {
            let Reply::Array(Some(f)) = e else {
                panic!("{e:?}");
            };
            assert_eq!(f.len(), 6, "{f:?}");
            // time and duration are integers
            int(&f[1]);
            assert!(int(&f[2]) >= 0);
            let Reply::Array(Some(args)) = f[3].clone() else {
                panic!("{f:?}");
            };
            Entry {
                id: int(&f[0]),
                args,
                addr: f[4].clone(),
                name: f[5].clone(),
            }
        })
        .collect()
}

fn args(a: &[&str]) -> Vec<Reply> {
    a.iter().map(|s| bulk(s)).collect()
}

/// The client's `addr=` from CLIENT INFO.
fn my_addr(c: &mut RawConn) -> String {
    let r = c.cmd_reply(&["CLIENT", "INFO"]);
    let Reply::Bulk(Some(info)) = r else {
        panic!("{r:?}");
    };
    let info = String::from_utf8_lossy(&info).into_owned();
    info.split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .expect("addr field")
        .to_string()
}

/// Keys on shard 0 and on the last shard (the same shard with 1 shard).
fn keys(shards: usize) -> (String, String) {
    (
        key_on_shard("a", "", 0, shards),
        key_on_shard("b", "", shards - 1, shards),
    )
}

#[test]
fn slowlog_records_commands_of_every_shard_in_one_log() {
    for shards in SHARDS {
        let server = Server::ringkv(shards, &["--slowlog-log-slower-than", "0"]);
        let (ka, kb) = keys(shards);
        // Several connections, so that with 2 shards some sit on each shard.
        let mut conns: Vec<RawConn> = (0..4).map(|_| RawConn::connect(server.port)).collect();
        for (i, c) in conns.iter_mut().enumerate() {
            assert_eq!(c.cmd(&["CLIENT", "SETNAME", &format!("c{i}")]), b"+OK\r\n");
        }
        conns[0].cmd(&["SLOWLOG", "RESET"]);
        for (i, c) in conns.iter_mut().enumerate() {
            assert_eq!(c.cmd(&["SET", &ka, &format!("v{i}")]), b"+OK\r\n");
            assert_eq!(c.cmd(&["SET", &kb, &format!("w{i}")]), b"+OK\r\n");
        }
        // A command whose keys are on both shards.
        assert_eq!(conns[1].cmd(&["MSET", &ka, "x", &kb, "y"]), b"+OK\r\n");
        let log = slowlog_get(&mut conns[2], "-1");
        // Newest first, ids one apart.
        for w in log.windows(2) {
            assert_eq!(w[0].id, w[1].id + 1, "{shards} shards");
        }
        assert_eq!(log[0].args, args(&["MSET", &ka, "x", &kb, "y"]));
        assert_eq!(log[0].name, bulk("c1"));
        // Oldest first: SLOWLOG RESET, then each connection's two SETs.
        let mut old: Vec<&Entry> = log.iter().rev().collect();
        assert_eq!(old.remove(0).args, args(&["SLOWLOG", "RESET"]));
        let n = conns.len();
        for (i, c) in conns.iter_mut().enumerate() {
            let addr = my_addr(c);
            for (key, val) in [(&ka, format!("v{i}")), (&kb, format!("w{i}"))] {
                let e = old.remove(0);
                assert_eq!(e.args, args(&["SET", key, &val]), "{shards} shards");
                assert_eq!(e.addr, bulk(&addr), "{shards} shards");
                assert_eq!(e.name, bulk(&format!("c{i}")), "{shards} shards");
            }
        }
        assert_eq!(old.len(), 1, "only the MSET is left");
        // LEN counts the entries GET showed plus the GET itself and the CLIENT INFOs.
        let len = int(&conns[0].cmd_reply(&["SLOWLOG", "LEN"]));
        assert_eq!(len as usize, log.len() + 1 + n);
        // GET with a count gives the newest ones.
        let two = slowlog_get(&mut conns[3], "2");
        assert_eq!(two.len(), 2);
        assert_eq!(two[0].args, args(&["SLOWLOG", "LEN"]));
        assert_eq!(two[0].id, two[1].id + 1);
        assert!(slowlog_get(&mut conns[3], "0").is_empty());
        // RESET empties the one log, whichever connection asks; ids go on.
        let last_id = two[0].id;
        assert_eq!(conns[3].cmd(&["SLOWLOG", "RESET"]), b"+OK\r\n");
        let after = slowlog_get(&mut conns[0], "-1");
        assert_eq!(after.len(), 1, "{shards} shards");
        assert_eq!(after[0].args, args(&["SLOWLOG", "RESET"]));
        assert!(after[0].id > last_id);
    }
}

#[test]
fn slowlog_max_len_bounds_the_log() {
    for shards in SHARDS {
        let server = Server::ringkv(
            shards,
            &["--slowlog-log-slower-than", "0", "--slowlog-max-len", "3"],
        );
        let (ka, kb) = keys(shards);
        let mut c = RawConn::connect(server.port);
        for i in 0..5 {
            c.cmd(&["SET", &ka, &i.to_string()]);
            c.cmd(&["GET", &kb]);
        }
        let log = slowlog_get(&mut c, "-1");
        assert_eq!(log.len(), 3, "{shards} shards");
        assert_eq!(log[0].args, args(&["GET", &kb]));
        assert_eq!(log[1].args, args(&["SET", &ka, "4"]));
        assert_eq!(log[2].args, args(&["GET", &kb]));
        // Raising it keeps what is there; lowering it trims with the next command, slow or not.
        c.cmd(&["CONFIG", "SET", "slowlog-max-len", "10"]);
        c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "1000000000"]);
        assert_eq!(int(&c.cmd_reply(&["SLOWLOG", "LEN"])), 4);
        c.cmd(&["CONFIG", "SET", "slowlog-max-len", "2"]);
        assert_eq!(int(&c.cmd_reply(&["SLOWLOG", "LEN"])), 2);
        let log = slowlog_get(&mut c, "-1");
        assert_eq!(
            log[0].args,
            args(&["CONFIG", "SET", "slowlog-max-len", "10"])
        );
    }
}

/// MONITOR lines without their timestamp and client address: `[db] "arg" ...`.
fn monitor_lines(m: &mut RawConn, want: usize) -> Vec<String> {
    let mut text = String::new();
    wait_until(Duration::from_secs(10), || {
        let (bytes, _) = m.read_until_idle_or_close(Duration::from_millis(100));
        text.push_str(&String::from_utf8_lossy(&bytes));
        text.lines().count() >= want
    });
    text.lines()
        .map(|l| {
            let db = l.split('[').nth(1).and_then(|r| r.split(' ').next());
            let rest = l.split_once("] ").map(|(_, r)| r);
            format!("[{}] {}", db.unwrap_or("?"), rest.unwrap_or(l))
        })
        .collect()
}

#[test]
fn exec_feeds_its_commands_to_monitor_and_slowlog() {
    for shards in SHARDS {
        let server = Server::ringkv(shards, &["--slowlog-log-slower-than", "0"]);
        let (ka, kb) = keys(shards);
        let mut m = RawConn::connect(server.port);
        assert_eq!(m.cmd(&["MONITOR"]), b"+OK\r\n");
        let mut c = RawConn::connect(server.port);
        c.cmd(&["SLOWLOG", "RESET"]);
        let mut script = Vec::new();
        for cmd in [
            vec!["MULTI"],
            vec!["SET", &ka, "1"],
            vec!["INCR", &ka],
            vec!["SET", &kb, "2"],
            vec!["MGET", &ka, &kb],
            vec!["EXEC"],
            vec!["SELECT", "1"],
            vec!["PING"],
            vec!["SELECT", "0"],
            // A transaction refused at EXEC: MONITOR shows MULTI and EXEC only.
            vec!["MULTI"],
            vec!["SET", "x"],
            vec!["EXEC"],
        ] {
            script.extend_from_slice(&common::encode_command(&cmd));
        }
        c.send(&script);
        let mut replies = Vec::new();
        for _ in 0..12 {
            replies.push(c.read_reply());
        }
        assert_eq!(
            replies[5],
            Reply::Array(Some(vec![
                Reply::Simple(b"OK".to_vec()),
                Reply::Integer(2),
                Reply::Simple(b"OK".to_vec()),
                Reply::Array(Some(vec![bulk("2"), bulk("2")])),
            ]))
        );
        // (SLOWLOG is an admin command: MONITOR never shows it.)
        let expect = [
            "[0] \"MULTI\"".to_string(),
            format!("[0] \"SET\" \"{ka}\" \"1\""),
            format!("[0] \"INCR\" \"{ka}\""),
            format!("[0] \"SET\" \"{kb}\" \"2\""),
            format!("[0] \"MGET\" \"{ka}\" \"{kb}\""),
            "[0] \"EXEC\"".to_string(),
            // Shown once it ran: with the db it selected.
            "[1] \"SELECT\" \"1\"".to_string(),
            "[1] \"PING\"".to_string(),
            "[0] \"SELECT\" \"0\"".to_string(),
            "[0] \"MULTI\"".to_string(),
            "[0] \"EXEC\"".to_string(),
        ];
        assert_eq!(
            monitor_lines(&mut m, expect.len()),
            expect,
            "{shards} shards"
        );
        // The slow log has the commands EXEC ran but not EXEC itself.
        let log = slowlog_get(&mut c, "-1");
        let got: Vec<Vec<Reply>> = log.into_iter().rev().map(|e| e.args).collect();
        let want = vec![
            args(&["SLOWLOG", "RESET"]),
            args(&["MULTI"]),
            args(&["SET", &ka, "1"]),
            args(&["INCR", &ka]),
            args(&["SET", &kb, "2"]),
            args(&["MGET", &ka, &kb]),
            args(&["SELECT", "1"]),
            args(&["PING"]),
            args(&["SELECT", "0"]),
            args(&["MULTI"]),
        ];
        assert_eq!(got, want, "{shards} shards");
    }
}

#[test]
fn client_pause_write_holds_exec_with_writes() {
    for shards in SHARDS {
        let server = Server::ringkv(shards, &[]);
        let (ka, kb) = keys(shards);
        let mut admin = RawConn::connect(server.port);
        let mut w = RawConn::connect(server.port);
        let mut r = RawConn::connect(server.port);
        assert_eq!(w.cmd(&["MULTI"]), b"+OK\r\n");
        assert_eq!(w.cmd(&["SET", &ka, "1"]), b"+QUEUED\r\n");
        assert_eq!(r.cmd(&["MULTI"]), b"+OK\r\n");
        assert_eq!(r.cmd(&["GET", &kb]), b"+QUEUED\r\n");
        assert_eq!(
            admin.cmd(&["CLIENT", "PAUSE", "60000", "WRITE"]),
            b"+OK\r\n"
        );
        // A read-only EXEC runs; one with a write waits, as does a write being queued.
        assert_eq!(r.cmd(&["EXEC"]), b"*1\r\n$-1\r\n");
        w.send(&common::encode_command(&["EXEC"]));
        assert_eq!(r.cmd(&["MULTI"]), b"+OK\r\n");
        r.send(&common::encode_command(&["SET", &kb, "2"]));
        assert!(w.read_reply_bytes(Duration::from_millis(300)).is_err());
        assert!(r.read_reply_bytes(Duration::from_millis(300)).is_err());
        assert_eq!(admin.cmd(&["GET", &ka]), b"$-1\r\n");
        assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
        assert_eq!(
            w.read_reply(),
            Reply::Array(Some(vec![Reply::Simple(b"OK".to_vec())]))
        );
        assert_eq!(r.read_reply(), Reply::Simple(b"QUEUED".to_vec()));
        assert_eq!(r.cmd(&["EXEC"]), b"*1\r\n+OK\r\n");
        assert_eq!(
            admin.cmd(&["MGET", &ka, &kb]),
            b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
        );
    }
}
