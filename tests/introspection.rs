//! Introspection seen from clients and tools: CLIENT LIST/KILL over every shard, INFO, CONFIG
//! SET side effects, COMMAND shapes (and redis-cli's interactive help that needs COMMAND DOCS),
//! SLOWLOG, MONITOR, DEBUG, SHUTDOWN.
//!
//! Connections land on shards as the kernel spreads them, so the multi-shard tests open
//! several connections: with 2 shards they end up on both.

mod common;

use common::{against_redis, run_bounded, wait_until, RawConn, Reply, Server};
use std::time::Duration;

/// Connections each test opens to cover every shard.
const CONNS: usize = 8;

fn text(r: &Reply) -> String {
    match r {
        Reply::Bulk(Some(b)) | Reply::Simple(b) | Reply::Verbatim(_, b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        other => panic!("not a text reply: {other:?}"),
    }
}

fn int(r: &Reply) -> i64 {
    match r {
        Reply::Integer(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

fn client_id(c: &mut RawConn) -> i64 {
    int(&c.cmd_reply(&["CLIENT", "ID"]))
}

/// The value of `field` in INFO text.
fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim_end().to_string())
}

fn conns(port: u16) -> Vec<RawConn> {
    (0..CONNS).map(|_| RawConn::connect(port)).collect()
}

#[test]
fn client_list_shows_clients_of_every_shard() {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        let mut cs = conns(server.port);
        let ids: Vec<i64> = cs.iter_mut().map(client_id).collect();
        cs[3].cmd(&["CLIENT", "SETNAME", "named-client"]);
        let list = text(&cs[0].cmd_reply(&["CLIENT", "LIST"]));
        for id in &ids {
            assert!(
                list.lines().any(|l| l.starts_with(&format!("id={id} "))),
                "{shards} shards: client {id} missing from\n{list}"
            );
        }
        assert!(list.contains("name=named-client "), "{list}");
        assert!(list.contains("cmd=client|list "), "{list}");
        // Filters apply on every shard.
        let one = text(&cs[0].cmd_reply(&["CLIENT", "LIST", "ID", &ids[5].to_string()]));
        assert_eq!(one.lines().count(), 1, "{one}");
        assert!(one.starts_with(&format!("id={} ", ids[5])), "{one}");
        let normal = text(&cs[0].cmd_reply(&["CLIENT", "LIST", "TYPE", "normal"]));
        assert_eq!(normal.lines().count(), CONNS, "{normal}");
        let pubsub = text(&cs[0].cmd_reply(&["CLIENT", "LIST", "TYPE", "pubsub"]));
        assert_eq!(pubsub, "");
        // CLIENT INFO describes the caller only.
        let me = text(&cs[2].cmd_reply(&["CLIENT", "INFO"]));
        assert!(me.starts_with(&format!("id={} ", ids[2])), "{me}");
        assert!(me.ends_with('\n'));
    }
}

#[test]
fn client_kill_id_closes_clients_on_any_shard() {
    let server = Server::ringkv(2, &[]);
    let mut cs = conns(server.port);
    let ids: Vec<i64> = cs.iter_mut().map(client_id).collect();
    let (killer, victims) = cs.split_at_mut(1);
    for (v, id) in victims.iter_mut().zip(&ids[1..]) {
        let r = killer[0].cmd_reply(&["CLIENT", "KILL", "ID", &id.to_string()]);
        assert_eq!(r, Reply::Integer(1), "kill {id}");
        assert!(
            v.is_closed(Duration::from_secs(5)),
            "client {id} still open"
        );
    }
    // Nobody left but the killer; it skips itself by default.
    assert_eq!(
        killer[0].cmd_reply(&["CLIENT", "KILL", "TYPE", "normal"]),
        Reply::Integer(0)
    );
    assert_eq!(
        killer[0].cmd_reply(&["CLIENT", "KILL", "ID", "999999"]),
        Reply::Integer(0)
    );
    // The old form by address.
    let mut other = RawConn::connect(server.port);
    let list = text(&other.cmd_reply(&["CLIENT", "INFO"]));
    let addr = list
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .expect("addr field")
        .to_string();
    assert_eq!(
        killer[0].cmd_reply(&["CLIENT", "KILL", &addr]),
        Reply::Simple(b"OK".to_vec())
    );
    assert!(other.is_closed(Duration::from_secs(5)));
    // SKIPME no: the caller is killed too, after its reply.
    let r = killer[0].cmd_reply(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no"]);
    assert_eq!(r, Reply::Integer(1));
    assert!(killer[0].is_closed(Duration::from_secs(5)));
}

#[test]
fn info_reports_sane_figures_from_all_shards() {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        let mut cs = conns(server.port);
        for (i, c) in cs.iter_mut().enumerate() {
            for j in 0..5 {
                c.cmd(&["SET", &format!("key:{i}:{j}"), "v"]);
            }
            c.cmd(&["GET", &format!("key:{i}:0")]);
            c.cmd(&["GET", "nokey"]);
        }
        cs[0].cmd(&["SELECT", "3"]);
        cs[0].cmd(&["SET", "in-db3", "v", "EX", "1000"]);
        cs[1].cmd(&["NOSUCHCOMMAND"]);
        let info = text(&cs[1].cmd_reply(&["INFO"]));
        assert!(info.starts_with("# Server\r\n"), "{info}");
        assert_eq!(
            info_field(&info, "redis_version").as_deref(),
            Some("7.0.15")
        );
        let run_id = info_field(&info, "run_id").expect("run_id");
        assert_eq!(run_id.len(), 40);
        assert!(run_id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(info_field(&info, "tcp_port"), Some(server.port.to_string()));
        if !against_redis() {
            assert_eq!(info_field(&info, "shards"), Some(shards.to_string()));
            assert!(info_field(&info, "ringkv_version").is_some());
        }
        let clients: usize = info_field(&info, "connected_clients")
            .and_then(|v| v.parse().ok())
            .expect("connected_clients");
        assert_eq!(clients, CONNS);
        let used: u64 = info_field(&info, "used_memory")
            .and_then(|v| v.parse().ok())
            .expect("used_memory");
        assert!(used > 0);
        assert!(info_field(&info, "used_cpu_user").is_some());
        let hits: u64 = info_field(&info, "keyspace_hits")
            .and_then(|v| v.parse().ok())
            .expect("hits");
        let misses: u64 = info_field(&info, "keyspace_misses")
            .and_then(|v| v.parse().ok())
            .expect("misses");
        if !against_redis() {
            assert_eq!((hits, misses), (CONNS as u64, CONNS as u64), "{info}");
        }
        assert_eq!(
            info_field(&info, "db0").as_deref(),
            Some(format!("keys={},expires=0,avg_ttl=0", CONNS * 5).as_str())
        );
        let db3 = info_field(&info, "db3").expect("db3 line");
        assert!(db3.starts_with("keys=1,expires=1,avg_ttl="), "{db3}");
        assert_eq!(
            info_field(&info, "errorstat_ERR").as_deref(),
            Some("count=1")
        );
        assert!(
            info_field(&info, "cmdstat_set").is_none(),
            "not a default section"
        );
        let all = text(&cs[1].cmd_reply(&["INFO", "commandstats"]));
        let set = info_field(&all, "cmdstat_set").expect("cmdstat_set");
        assert!(
            set.starts_with(&format!("calls={},", CONNS * 5 + 1)),
            "{set}"
        );
        // Sections are case-insensitive; unknown ones are empty.
        let ks = text(&cs[1].cmd_reply(&["INFO", "KEYSPACE"]));
        assert!(ks.starts_with("# Keyspace\r\n"), "{ks}");
        assert_eq!(text(&cs[1].cmd_reply(&["INFO", "nosuch"])), "");
        // RESP3: a verbatim string.
        cs[2].cmd(&["HELLO", "3"]);
        match cs[2].cmd_reply(&["INFO", "server"]) {
            Reply::Verbatim(fmt, body) => {
                assert_eq!(fmt, b"txt");
                assert!(body.starts_with(b"# Server\r\n"));
            }
            other => panic!("INFO in RESP3: {other:?}"),
        }
    }
}

#[test]
fn config_set_applies_at_once() {
    let server = Server::ringkv(2, &[]);
    let mut c = RawConn::connect(server.port);
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "loglevel", "warning"]),
        b"+OK\r\n".to_vec()
    );
    let r = c.cmd_reply(&["CONFIG", "GET", "loglevel"]);
    assert_eq!(
        r,
        Reply::Array(Some(vec![
            Reply::Bulk(Some(b"loglevel".to_vec())),
            Reply::Bulk(Some(b"warning".to_vec())),
        ]))
    );
    // maxclients counts every shard's connections.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxclients", "3"]),
        b"+OK\r\n".to_vec()
    );
    let mut second = RawConn::connect(server.port);
    second.cmd(&["PING"]);
    let mut third = RawConn::connect(server.port);
    third.cmd(&["PING"]);
    let mut fourth = RawConn::connect(server.port);
    let (bytes, closed) = fourth.read_until_idle_or_close(Duration::from_millis(500));
    assert_eq!(bytes, b"-ERR max number of clients reached\r\n".to_vec());
    assert!(closed);
    drop(second);
    drop(third);
    c.cmd(&["CONFIG", "SET", "maxclients", "10000"]);
    // requirepass reaches connections on every shard.
    c.cmd(&["CONFIG", "SET", "requirepass", "secret"]);
    let mut late = conns(server.port);
    for l in late.iter_mut() {
        assert_eq!(
            l.cmd(&["GET", "k"]),
            b"-NOAUTH Authentication required.\r\n".to_vec()
        );
    }
    // RESETSTAT clears the counters of every shard.
    c.cmd(&["AUTH", "secret"]);
    c.cmd(&["CONFIG", "RESETSTAT"]);
    let info = text(&c.cmd_reply(&["INFO", "stats"]));
    let processed: u64 = info_field(&info, "total_commands_processed")
        .and_then(|v| v.parse().ok())
        .expect("total_commands_processed");
    assert!(processed <= 2, "{info}");
    assert_eq!(
        info_field(&info, "total_error_replies").as_deref(),
        Some("0")
    );
}

#[test]
fn command_table_shapes() {
    let server = Server::ringkv(1, &[]);
    let mut c = RawConn::connect(server.port);
    let count = int(&c.cmd_reply(&["COMMAND", "COUNT"]));
    match c.cmd_reply(&["COMMAND"]) {
        Reply::Array(Some(all)) => {
            assert_eq!(all.len() as i64, count);
            for entry in &all {
                let Reply::Array(Some(fields)) = entry else {
                    panic!("entry {entry:?}");
                };
                assert_eq!(fields.len(), 10, "{entry:?}");
            }
        }
        other => panic!("COMMAND: {other:?}"),
    }
    // COMMAND INFO get, exactly as Redis 7.0 answers it.
    let get = c.cmd(&["COMMAND", "INFO", "get"]);
    assert!(get.starts_with(
        b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n"
    ));
    // Containers list their subcommands.
    match c.cmd_reply(&["COMMAND", "INFO", "config"]) {
        Reply::Array(Some(v)) => match &v[0] {
            Reply::Array(Some(f)) => match &f[9] {
                Reply::Array(Some(subs)) => assert!(subs.len() >= 4, "{subs:?}"),
                other => panic!("subcommands {other:?}"),
            },
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    // COMMAND DOCS: name -> summary, since, group, complexity.
    match c.cmd_reply(&["COMMAND", "DOCS", "get", "client"]) {
        Reply::Array(Some(v)) => {
            assert_eq!(v.len(), 4);
            assert_eq!(v[0], Reply::Bulk(Some(b"get".to_vec())));
            let Reply::Array(Some(doc)) = &v[1] else {
                panic!("{v:?}");
            };
            assert_eq!(doc[0], Reply::Bulk(Some(b"summary".to_vec())));
            assert_eq!(
                doc[1],
                Reply::Bulk(Some(b"Get the value of a key".to_vec()))
            );
            assert!(doc.contains(&Reply::Bulk(Some(b"group".to_vec()))));
            let Reply::Array(Some(client)) = &v[3] else {
                panic!("{v:?}");
            };
            assert!(client.contains(&Reply::Bulk(Some(b"subcommands".to_vec()))));
        }
        other => panic!("{other:?}"),
    }
    let list = c.cmd_reply(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "client|*"]);
    let Reply::Array(Some(names)) = list else {
        panic!("{list:?}");
    };
    assert!(names.contains(&Reply::Bulk(Some(b"client|kill".to_vec()))));
    assert_eq!(
        c.cmd(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]),
        b"*2\r\n$1\r\na\r\n$1\r\nb\r\n".to_vec()
    );
}

#[test]
fn redis_cli_interactive_help_uses_command_docs() {
    let server = Server::ringkv(2, &[]);
    // redis-cli only offers `help <command>` on a terminal; `script` gives it one.
    let cmd = format!(
        "printf 'help client list\\nquit\\n' | TERM=dumb script -qec 'redis-cli -p {}' /dev/null",
        server.port
    );
    let out = run_bounded(20, "sh", &["-c", &cmd]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("summary:") && shown.contains("Get the list of client connections"),
        "{shown}"
    );
    assert!(
        shown.contains("group:") && shown.contains("connection"),
        "{shown}"
    );
}

#[test]
fn slowlog_records_debug_sleep() {
    let server = Server::ringkv(
        2,
        &[
            "--enable-debug-command",
            "yes",
            "--slowlog-log-slower-than",
            "5000",
        ],
    );
    let mut c = RawConn::connect(server.port);
    c.cmd(&["CLIENT", "SETNAME", "sleeper"]);
    c.cmd(&["SLOWLOG", "RESET"]);
    assert_eq!(c.cmd(&["DEBUG", "SLEEP", "0.02"]), b"+OK\r\n".to_vec());
    let r = c.cmd_reply(&["SLOWLOG", "GET", "1"]);
    let Reply::Array(Some(entries)) = r else {
        panic!("{r:?}");
    };
    assert_eq!(entries.len(), 1);
    let Reply::Array(Some(e)) = &entries[0] else {
        panic!("{entries:?}");
    };
    assert_eq!(e.len(), 6);
    assert!(int(&e[2]) >= 20_000, "duration {:?}", e[2]);
    assert_eq!(
        e[3],
        Reply::Array(Some(vec![
            Reply::Bulk(Some(b"DEBUG".to_vec())),
            Reply::Bulk(Some(b"SLEEP".to_vec())),
            Reply::Bulk(Some(b"0.02".to_vec())),
        ]))
    );
    assert_eq!(e[5], Reply::Bulk(Some(b"sleeper".to_vec())));
    assert!(int(&c.cmd_reply(&["SLOWLOG", "LEN"])) >= 1);
    c.cmd(&["SLOWLOG", "RESET"]);
    // Only the commands after the reset can be there (a slow machine may log those).
    let after = c.cmd(&["SLOWLOG", "GET"]);
    assert!(!String::from_utf8_lossy(&after).contains("SLEEP"));
}

#[test]
fn monitor_sees_commands_from_every_shard() {
    let server = Server::ringkv(2, &[]);
    let mut m = RawConn::connect(server.port);
    assert_eq!(m.cmd(&["MONITOR"]), b"+OK\r\n".to_vec());
    let mut cs = conns(server.port);
    for (i, c) in cs.iter_mut().enumerate() {
        c.cmd(&["SET", &format!("mon:{i}"), "a b"]);
    }
    let mut seen = String::new();
    let all_seen = wait_until(Duration::from_secs(10), || {
        let (bytes, _) = m.read_until_idle_or_close(Duration::from_millis(200));
        seen.push_str(&String::from_utf8_lossy(&bytes));
        (0..CONNS).all(|i| seen.contains(&format!("\"SET\" \"mon:{i}\" \"a b\"\r\n")))
    });
    assert!(all_seen, "monitor output:\n{seen}");
    for line in seen.lines() {
        assert!(
            line.starts_with('+') && line.contains(" [0 127.0.0.1:"),
            "{line}"
        );
    }
    // A closed monitor stops costing anything and does not break later commands.
    drop(m);
    assert_eq!(cs[0].cmd(&["GET", "mon:0"]), b"$3\r\na b\r\n".to_vec());
}

#[test]
fn debug_is_gated_and_populate_places_keys_on_their_shards() {
    let server = Server::ringkv(2, &[]);
    let mut c = RawConn::connect(server.port);
    assert_eq!(
        c.cmd(&["DEBUG", "SLEEP", "0"]),
        b"-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n".to_vec()
    );
    let server = Server::ringkv(2, &["--enable-debug-command", "local"]);
    let mut c = RawConn::connect(server.port);
    assert_eq!(c.cmd(&["DEBUG", "POPULATE", "100"]), b"+OK\r\n".to_vec());
    assert_eq!(c.cmd_reply(&["DBSIZE"]), Reply::Integer(100));
    for i in [0, 17, 99] {
        assert_eq!(
            c.cmd_reply(&["GET", &format!("key:{i}")]),
            Reply::Bulk(Some(format!("value:{i}").into_bytes()))
        );
    }
    assert_eq!(
        c.cmd(&["DEBUG", "POPULATE", "3", "p", "10"]),
        b"+OK\r\n".to_vec()
    );
    assert_eq!(
        c.cmd_reply(&["GET", "p:1"]),
        Reply::Bulk(Some(b"value:1\0\0\0".to_vec()))
    );
    let usage = int(&c.cmd_reply(&["MEMORY", "USAGE", "key:5"]));
    assert!(usage > 0);
    let obj = text(&c.cmd_reply(&["DEBUG", "OBJECT", "key:5"]));
    assert!(obj.contains(" encoding:embstr "), "{obj}");
}

#[test]
fn shutdown_closes_without_reply_and_stops_the_server() {
    let mut server = Server::ringkv(2, &[]);
    let mut c = RawConn::connect(server.port);
    assert_eq!(
        c.cmd(&["SHUTDOWN", "ABORT"]),
        b"-ERR No shutdown in progress.\r\n".to_vec()
    );
    c.send(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n");
    let (bytes, closed) = c.read_until_idle_or_close(Duration::from_secs(5));
    assert!(bytes.is_empty(), "{bytes:?}");
    assert!(closed);
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

/// instantaneous_ops_per_sec and the kbps figures follow the load, as on Redis (sampled every
/// 100 ms over the last 16 samples), summed over the shards.
#[test]
fn info_instantaneous_figures_follow_the_load() {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        let port = server.port;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let load: Vec<_> = (0..4)
            .map(|i| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut c = RawConn::connect(port);
                    let mut n = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 2_000_000 {
                        c.cmd(&["SET", &format!("k{i}:{}", n % 100), "value"]);
                        n += 1;
                    }
                })
            })
            .collect();
        let mut probe = RawConn::connect(port);
        let busy = |c: &mut RawConn| {
            let info = text(&c.cmd_reply(&["INFO", "stats"]));
            let ops: u64 = info_field(&info, "instantaneous_ops_per_sec")
                .and_then(|v| v.parse().ok())
                .expect("instantaneous_ops_per_sec");
            let kin: f64 = info_field(&info, "instantaneous_input_kbps")
                .and_then(|v| v.parse().ok())
                .expect("instantaneous_input_kbps");
            let kout: f64 = info_field(&info, "instantaneous_output_kbps")
                .and_then(|v| v.parse().ok())
                .expect("instantaneous_output_kbps");
            ops > 0 && kin > 0.0 && kout > 0.0
        };
        let seen = wait_until(Duration::from_secs(20), || busy(&mut probe));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in load {
            let _ = t.join();
        }
        assert!(seen, "instantaneous figures stayed at zero under load");
        // Idle again (but for this probe's own INFO, at most 50 a second): the average decays
        // within the 16 samples.
        let idle = wait_until(Duration::from_secs(20), || {
            let info = text(&probe.cmd_reply(&["INFO", "stats"]));
            info_field(&info, "instantaneous_ops_per_sec")
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|ops| ops < 200)
        });
        assert!(
            idle,
            "instantaneous_ops_per_sec did not fall once the load stopped"
        );
    }
}

#[test]
fn proto_max_bulk_len_set_at_runtime_bounds_string_growth() {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        let mut c = RawConn::connect(server.port);
        let too_big = b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n".to_vec();
        let bad_offset = b"-ERR bit offset is not an integer or out of range\r\n".to_vec();
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]),
            b"+OK\r\n"
        );
        assert_eq!(c.cmd(&["SETRANGE", "k", "1048576", "x"]), too_big);
        assert_eq!(c.cmd(&["SETRANGE", "k", "1048575", "x"]), b":1048576\r\n");
        let filler = "x".repeat(1048572);
        assert_eq!(c.cmd(&["SET", "a", "1234"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["APPEND", "a", &filler]), b":1048576\r\n");
        assert_eq!(c.cmd(&["APPEND", "a", "y"]), too_big);
        assert_eq!(c.cmd(&["SETBIT", "b", "8388608", "1"]), bad_offset);
        assert_eq!(c.cmd(&["SETBIT", "b", "8388607", "1"]), b":0\r\n");
        assert_eq!(
            c.cmd(&["BITFIELD", "b", "SET", "u8", "8388608", "1"]),
            bad_offset
        );
        // Raised again: the same commands go through.
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "proto-max-bulk-len", "512mb"]),
            b"+OK\r\n"
        );
        assert_eq!(c.cmd(&["SETRANGE", "k", "1048576", "x"]), b":1048577\r\n");
        assert_eq!(c.cmd(&["APPEND", "a", "y"]), b":1048577\r\n");
        assert_eq!(c.cmd(&["SETBIT", "b", "8388608", "1"]), b":0\r\n");
    }
}
