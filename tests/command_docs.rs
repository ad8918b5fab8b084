//! COMMAND DOCS of ringkv and ringkv-sentinel against redis-server and redis-sentinel 7.0.15:
//! for every command name ringkv lists, the reply bytes in RESP2 and RESP3 must be Redis's.
//!
//! One thing is compared modulo order: the `subcommands` map (and the whole reply of a bare
//! `COMMAND DOCS`) follows Redis's command dict, whose hash is seeded at random on every start
//! (two redis-servers list CONFIG's subcommands in different orders), so those maps are
//! compared as sets of name -> docs pairs. Everything else, field order included, is exact.

mod common;

use common::{
    first_difference, free_port, hello3, kill_pid, parse_reply, redis_cli, show, wait_until,
    RawConn, RedisServer, Reply, Server, TestDir,
};
use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SENTINEL_BIN: &str = env!("CARGO_BIN_EXE_ringkv-sentinel");

/// Commands ringkv has that redis-server 7.0.15 does not (they came in Redis 7.2), so Redis
/// answers no docs for them.
const NOT_IN_REDIS_7_0: &[&str] = &["client|no-touch", "client|setinfo"];

/// Containers whose subcommand set differs from Redis's: ringkv has the 7.2 subcommands
/// above and lacks CLIENT CACHING/GETREDIR/TRACKING/TRACKINGINFO,
/// MEMORY MALLOC-STATS/PURGE and MODULE LOAD/LOADEX/UNLOAD. Their `subcommands` map is
/// compared on the subcommands both servers have (each of those is also compared on its own).
const PARTIAL_CONTAINERS: &[&str] = &["client", "memory", "module"];

fn names(conn: &mut RawConn) -> Vec<String> {
    let Reply::Array(Some(items)) = conn.cmd_reply(&["COMMAND", "LIST"]) else {
        panic!("COMMAND LIST is not an array");
    };
    items
        .into_iter()
        .map(|r| match r {
            Reply::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("COMMAND LIST item {other:?}"),
        })
        .collect()
}

fn parse(bytes: &[u8]) -> Reply {
    match parse_reply(bytes) {
        Ok(Some((r, _))) => r,
        other => panic!("unparsable reply {other:?}: {}", show(bytes)),
    }
}

fn name_of(r: &Reply) -> String {
    match r {
        Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("a command name should be a bulk string: {other:?}"),
    }
}

/// The (key, value) pairs of a map reply, RESP3 map or RESP2 flat array.
fn pairs(r: Reply) -> (bool, Vec<(Reply, Reply)>) {
    match r {
        Reply::Map(p) => (true, p),
        Reply::Array(Some(items)) => {
            assert!(items.len() % 2 == 0, "odd RESP2 map");
            let mut it = items.into_iter();
            let mut p = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                p.push((k, v));
            }
            (false, p)
        }
        other => panic!("not a map: {other:?}"),
    }
}

fn from_pairs(resp3: bool, p: Vec<(Reply, Reply)>) -> Reply {
    if resp3 {
        Reply::Map(p)
    } else {
        Reply::Array(Some(p.into_iter().flat_map(|(k, v)| [k, v]).collect()))
    }
}

/// A `name -> docs` map in canonical form: entries sorted by name, each entry's subcommands
/// sorted too, and, for the containers `keep` says may differ, kept only if in `common`.
fn canon_commands(r: Reply, keep: &dyn Fn(&str) -> bool, common: &HashSet<String>) -> Reply {
    let (resp3, p) = pairs(r);
    let mut p: Vec<(Reply, Reply)> = p
        .into_iter()
        .filter(|(k, _)| keep(&name_of(k)))
        .map(|(k, v)| {
            let name = name_of(&k);
            let v = canon_docs(v, &name, common);
            (k, v)
        })
        .collect();
    p.sort_by_key(|(k, _)| name_of(k));
    from_pairs(resp3, p)
}

/// One command's docs map with its `subcommands` canonical.
fn canon_docs(r: Reply, name: &str, common: &HashSet<String>) -> Reply {
    let (resp3, p) = pairs(r);
    let partial = PARTIAL_CONTAINERS.contains(&name);
    let p = p
        .into_iter()
        .map(|(k, v)| {
            if k == Reply::Bulk(Some(b"subcommands".to_vec())) {
                let v = canon_commands(v, &|n| !partial || common.contains(n), common);
                (k, v)
            } else {
                (k, v)
            }
        })
        .collect();
    from_pairs(resp3, p)
}

/// Sends `args` to both and checks the replies: equal bytes, or (when the reply holds maps in
/// dict order) equal canonical forms. `what` names the case in the failure.
fn compare(
    ours: &mut RawConn,
    redis: &mut RawConn,
    args: &[&str],
    keep_top: &dyn Fn(&str) -> bool,
    common: &HashSet<String>,
    what: &str,
) {
    let a = ours.cmd(args);
    let b = redis.cmd(args);
    if a == b {
        return;
    }
    let ca = canon_commands(parse(&a), keep_top, common);
    let cb = canon_commands(parse(&b), keep_top, common);
    if ca != cb {
        // Show where the bytes first part, not the whole (long) replies.
        let (at, ours_near, redis_near) = first_difference(&a, &b);
        panic!(
            "{what}: COMMAND DOCS differs for {args:?} at byte {at}\n ringkv: ...{ours_near}\n  redis: ...{redis_near}",
        );
    }
}

/// Every name `ours` lists, in RESP2 then RESP3, plus the bare form and unknown names.
fn compare_all(ours: &mut RawConn, redis: &mut RawConn, skip: &[&str], what: &str) {
    let our_names = names(ours);
    let redis_names: HashSet<String> = names(redis).into_iter().collect();
    let common: HashSet<String> = our_names
        .iter()
        .filter(|n| redis_names.contains(*n))
        .cloned()
        .collect();
    let top: HashSet<String> = our_names
        .iter()
        .filter(|n| !n.contains('|') && !skip.contains(&n.as_str()))
        .cloned()
        .collect();
    let all = |_: &str| true;
    for proto in ["RESP2", "RESP3"] {
        if proto == "RESP3" {
            hello3(ours);
            hello3(redis);
        }
        let what = format!("{what} {proto}");
        for name in &our_names {
            if skip.contains(&name.as_str()) {
                continue;
            }
            assert!(
                redis_names.contains(name),
                "{what}: {name} is not a command of Redis 7.0.15 (add it to the exceptions?)"
            );
            compare(
                ours,
                redis,
                &["COMMAND", "DOCS", name],
                &all,
                &common,
                &what,
            );
        }
        // Upper case, several names, unknown names and malformed subcommand names.
        compare(
            ours,
            redis,
            &[
                "COMMAND",
                "DOCS",
                "GET",
                "nosuch",
                "get|x",
                "config|get|x",
                "CONFIG|GET",
                "get",
            ],
            &all,
            &common,
            &what,
        );
        compare(
            ours,
            redis,
            &["COMMAND", "DOCS", "nosuch"],
            &all,
            &common,
            &what,
        );
        // No argument: every top-level command ours has, as a set of name -> docs pairs.
        let bare = ours.cmd(&["COMMAND", "DOCS"]);
        let (_, p) = pairs(parse(&bare));
        let listed: HashSet<String> = p
            .iter()
            .map(|(k, _)| name_of(k))
            .filter(|n| !skip.contains(&n.as_str()))
            .collect();
        assert_eq!(
            listed, top,
            "{what}: bare COMMAND DOCS lists other commands"
        );
        compare(
            ours,
            redis,
            &["COMMAND", "DOCS"],
            &|n| top.contains(n),
            &common,
            &what,
        );
    }
}

#[test]
fn command_docs_match_redis_server() {
    let redis = RedisServer::start(&[]);
    for shards in [1, 2] {
        let ours = Server::ringkv(shards, &[]);
        compare_all(
            &mut ours.raw(),
            &mut redis.raw(),
            NOT_IN_REDIS_7_0,
            &format!("ringkv({shards} shards)"),
        );
    }
}

/// A sentinel process monitoring `master_port`, stopped by pid on drop.
struct Sentinel {
    child: Child,
    port: u16,
    _dir: TestDir,
}

impl Sentinel {
    fn start(bin: &str, master_port: u16) -> Sentinel {
        let dir = TestDir::new();
        let port = free_port();
        let conf = dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 \
                 {master_port} 1\n",
                dir.path_str()
            ),
        )
        .expect("write sentinel.conf");
        let mut child = Command::new(bin)
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
        let pid = child.id();
        let up = wait_until(Duration::from_secs(10), || {
            matches!(child.try_wait(), Ok(Some(_)))
                || String::from_utf8_lossy(&redis_cli(port, &["INFO", "server"]).stdout)
                    .contains(&format!("process_id:{pid}\r\n"))
        });
        let s = Sentinel {
            child,
            port,
            _dir: dir,
        };
        assert!(up, "{bin} did not start on port {port}");
        s
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        kill_pid(self.child.id());
        let _ = self.child.wait();
    }
}

#[test]
fn command_docs_match_redis_sentinel() {
    let master = RedisServer::start(&[]);
    let ours = Sentinel::start(SENTINEL_BIN, master.port);
    let redis = Sentinel::start("redis-sentinel", master.port);
    let (mut a, mut b) = (RawConn::connect(ours.port), RawConn::connect(redis.port));
    let ours_names: HashSet<String> = names(&mut a).into_iter().collect();
    let redis_names: HashSet<String> = names(&mut b).into_iter().collect();
    assert_eq!(ours_names, redis_names, "sentinel COMMAND LIST differs");
    compare_all(&mut a, &mut b, &[], "ringkv-sentinel");
    // SENTINEL and its subcommands exist only in sentinel mode: no docs on a data node.
    let data = Server::ringkv(1, &[]);
    let args = ["COMMAND", "DOCS", "sentinel", "sentinel|masters"];
    assert_eq!(show(&data.raw().cmd(&args)), show(&master.raw().cmd(&args)));
}
