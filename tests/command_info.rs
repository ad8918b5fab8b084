//! COMMAND INFO (and bare COMMAND), COMMAND COUNT, COMMAND LIST and COMMAND GETKEYS of ringkv
//! against redis-server 7.0.15: for every command name ringkv lists, the reply bytes in RESP2
//! and RESP3 must be Redis's.
//!
//! One thing is compared modulo order: subcommand lists (and the whole reply of a bare
//! `COMMAND`) follow Redis's command dict, whose hash is seeded at random on every start, so
//! those are compared as sets of entries. Everything else, field order included, is exact.

mod common;

use common::{first_difference, hello3, parse_reply, show, RawConn, RedisServer, Reply, Server};
use std::collections::HashSet;

/// Commands ringkv has that redis-server 7.0.15 does not: they came in Redis 7.2.
const NOT_IN_REDIS_7_0: &[&str] = &["client|no-touch", "client|setinfo"];

/// Containers whose subcommand set differs from Redis's: ringkv has the 7.2 subcommands above
/// and lacks CLIENT CACHING/GETREDIR/TRACKING/TRACKINGINFO, MEMORY MALLOC-STATS/PURGE and
/// MODULE LOAD/LOADEX/UNLOAD. Their subcommands are compared on those both servers have (each
/// of those is also compared on its own).
const PARTIAL_CONTAINERS: &[&str] = &["client", "memory", "module"];

fn bulks(r: Reply) -> Vec<String> {
    let Reply::Array(Some(items)) = r else {
        panic!("not an array: {r:?}");
    };
    items.iter().map(name_of).collect()
}

fn names(conn: &mut RawConn, args: &[&str]) -> HashSet<String> {
    bulks(conn.cmd_reply(args)).into_iter().collect()
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

/// A list of COMMAND INFO entries in canonical form: every entry's subcommands sorted by name
/// (kept only if in `common` for the containers that may differ); with `top`, the entries
/// themselves filtered to `top` and sorted (a bare COMMAND).
fn canon_list(r: Reply, top: Option<&HashSet<String>>, common: &HashSet<String>) -> Reply {
    let Reply::Array(Some(items)) = r else {
        return r;
    };
    let mut items: Vec<Reply> = items
        .into_iter()
        .map(|e| canon_entry(e, common))
        .filter(|e| top.is_none_or(|t| t.contains(&entry_name(e))))
        .collect();
    if top.is_some() {
        items.sort_by_key(entry_name);
    }
    Reply::Array(Some(items))
}

fn entry_name(e: &Reply) -> String {
    match e {
        Reply::Array(Some(f)) if !f.is_empty() => name_of(&f[0]),
        _ => String::new(),
    }
}

/// One entry (name, arity, flags, first, last, step, ACL categories, tips, key specs,
/// subcommands) with its subcommands sorted by name.
fn canon_entry(e: Reply, common: &HashSet<String>) -> Reply {
    let Reply::Array(Some(mut fields)) = e else {
        return e;
    };
    assert_eq!(
        fields.len(),
        10,
        "COMMAND INFO entry with {} fields",
        fields.len()
    );
    let partial = PARTIAL_CONTAINERS.contains(&name_of(&fields[0]).as_str());
    if let Reply::Array(Some(subs)) = &mut fields[9] {
        subs.retain(|s| !partial || common.contains(&entry_name(s)));
        subs.sort_by_key(entry_name);
    }
    Reply::Array(Some(fields))
}

/// Sends `args` to both and checks the replies: equal bytes, or equal canonical forms.
fn compare(
    ours: &mut RawConn,
    redis: &mut RawConn,
    args: &[&str],
    top: Option<&HashSet<String>>,
    common: &HashSet<String>,
    what: &str,
) {
    let a = ours.cmd(args);
    let b = redis.cmd(args);
    if a == b {
        return;
    }
    if canon_list(parse(&a), top, common) != canon_list(parse(&b), top, common) {
        let (at, ours_near, redis_near) = first_difference(&a, &b);
        panic!(
            "{what}: reply differs for {args:?} at byte {at}\n ringkv: ...{ours_near}\n  redis: ...{redis_near}",
        );
    }
}

fn redis_names(conn: &mut RawConn) -> HashSet<String> {
    names(conn, &["COMMAND", "LIST"])
}

#[test]
fn command_info_matches_redis_server() {
    let redis = RedisServer::start(&[]);
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        let (mut ours, mut theirs) = (server.raw(), redis.raw());
        let what = format!("ringkv({shards} shards)");
        let our_names = bulks(ours.cmd_reply(&["COMMAND", "LIST"]));
        let redis_names = redis_names(&mut theirs);
        let common: HashSet<String> = our_names
            .iter()
            .filter(|n| redis_names.contains(*n))
            .cloned()
            .collect();
        let top: HashSet<String> = our_names
            .iter()
            .filter(|n| !n.contains('|') && !NOT_IN_REDIS_7_0.contains(&n.as_str()))
            .cloned()
            .collect();
        for proto in ["RESP2", "RESP3"] {
            if proto == "RESP3" {
                hello3(&mut ours);
                hello3(&mut theirs);
            }
            let what = format!("{what} {proto}");
            for name in &our_names {
                if NOT_IN_REDIS_7_0.contains(&name.as_str()) {
                    continue;
                }
                assert!(
                    redis_names.contains(name),
                    "{what}: {name} is not a command of Redis 7.0.15 (add it to the exceptions?)"
                );
                let args = ["COMMAND", "INFO", name];
                compare(&mut ours, &mut theirs, &args, None, &common, &what);
            }
            // Upper case, several names, unknown names, subcommand names.
            let args = [
                "COMMAND",
                "INFO",
                "GET",
                "nosuch",
                "get|x",
                "config|get|x",
                "CONFIG|GET",
                "get",
                "object|encoding",
            ];
            compare(&mut ours, &mut theirs, &args, None, &common, &what);
            // Bare COMMAND and COMMAND INFO: every top-level command ours has.
            for args in [&["COMMAND"][..], &["COMMAND", "INFO"][..]] {
                let listed: HashSet<String> = match parse(&ours.cmd(args)) {
                    Reply::Array(Some(items)) => items.iter().map(entry_name).collect(),
                    other => panic!("{what}: {args:?} is not an array: {other:?}"),
                };
                assert_eq!(listed, top, "{what}: {args:?} lists other commands");
                compare(&mut ours, &mut theirs, args, Some(&top), &common, &what);
            }
        }
    }
}

#[test]
fn command_count_and_list_match_redis_server() {
    let redis = RedisServer::start(&[]);
    let mut theirs = redis.raw();
    let redis_all = redis_names(&mut theirs);
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        let mut ours = server.raw();
        let ours_all = names(&mut ours, &["COMMAND", "LIST"]);
        let exceptions: HashSet<String> = NOT_IN_REDIS_7_0.iter().map(|s| s.to_string()).collect();
        let missing: Vec<&String> = ours_all
            .difference(&redis_all)
            .filter(|n| !exceptions.contains(*n))
            .collect();
        assert!(
            missing.is_empty(),
            "not commands of Redis 7.0.15: {missing:?}"
        );
        // COUNT is the number of top-level commands, as on Redis.
        for (conn, all) in [(&mut ours, &ours_all), (&mut theirs, &redis_all)] {
            let top = all.iter().filter(|n| !n.contains('|')).count() as i64;
            assert_eq!(conn.cmd_reply(&["COMMAND", "COUNT"]), Reply::Integer(top));
        }
        // Filters: ours lists exactly Redis's answer restricted to the commands ours has.
        let mut filters: Vec<[&str; 3]> = vec![["FILTERBY", "MODULE", "nosuch"]];
        let cats = [
            "keyspace",
            "read",
            "write",
            "set",
            "sortedset",
            "list",
            "hash",
            "string",
            "bitmap",
            "pubsub",
            "admin",
            "fast",
            "slow",
            "blocking",
            "dangerous",
            "connection",
            "transaction",
            "KEYSPACE",
            "nosuch",
        ];
        filters.extend(cats.iter().map(|c| ["FILTERBY", "ACLCAT", c]));
        let patterns = [
            "*", "h*", "client|*", "*|help", "?et", "[sz]add", "*RANGE*", "nosuch",
        ];
        filters.extend(patterns.iter().map(|p| ["FILTERBY", "PATTERN", p]));
        for f in &filters {
            let args = ["COMMAND", "LIST", f[0], f[1], f[2]];
            let got = names(&mut ours, &args);
            let want: HashSet<String> = names(&mut theirs, &args)
                .intersection(&ours_all)
                .cloned()
                .collect();
            let got: HashSet<String> = got.difference(&exceptions).cloned().collect();
            assert_eq!(got, want, "ringkv({shards} shards): COMMAND LIST {f:?}");
        }
        // Malformed filters: the same errors.
        for args in [
            &["COMMAND", "LIST", "FILTERBY"][..],
            &["COMMAND", "LIST", "FILTERBY", "ACLCAT"],
            &["COMMAND", "LIST", "FILTERBY", "nosuch", "x"],
            &["COMMAND", "LIST", "x", "y", "z"],
            &["COMMAND", "COUNT", "x"],
        ] {
            assert_eq!(
                show(&ours.cmd(args)),
                show(&theirs.cmd(args)),
                "ringkv({shards} shards): {args:?}"
            );
        }
    }
}

/// A command line of each key-spec shape (each is asked of COMMAND GETKEYS and of COMMAND
/// GETKEYSANDFLAGS, which gives every key the flags of the spec that found it, or for SET,
/// BITFIELD and SORT the flags their arguments imply): single key, all keys, step 2, last from the end,
/// numkeys (before and after a destination), keys in another database, unknown (SORT's BY and
/// STORE), variable flags (SET ... GET), subcommand keys; and the error cases.
const GETKEYS_CASES: &[&[&str]] = &[
    &["GET", "k"],
    &["set", "k", "v", "GET"],
    &["SET", "k", "v", "EX", "10"],
    &["MGET", "a", "b", "c"],
    &["DEL", "a", "b"],
    &["MSET", "a", "1", "b", "2"],
    &["MSETNX", "a", "1", "b", "2"],
    &["BLPOP", "a", "b", "0"],
    &["BRPOPLPUSH", "a", "b", "0"],
    &["RENAME", "a", "b"],
    &["LMOVE", "a", "b", "LEFT", "RIGHT"],
    &["SMOVE", "a", "b", "m"],
    &["SINTERSTORE", "d", "a", "b"],
    &["SINTERCARD", "2", "a", "b", "LIMIT", "1"],
    &["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"],
    &["ZINTER", "2", "a", "b", "WITHSCORES"],
    &["ZDIFF", "1", "a"],
    &["ZRANGESTORE", "d", "s", "0", "-1"],
    &["LMPOP", "2", "a", "b", "LEFT"],
    &["BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "2"],
    &["ZMPOP", "1", "a", "MIN"],
    &["BZMPOP", "0", "2", "a", "b", "MAX"],
    &["BZPOPMIN", "a", "b", "0"],
    &["COPY", "a", "b", "DB", "1", "REPLACE"],
    &["MOVE", "a", "1"],
    &["SORT", "k"],
    &["SORT", "k", "BY", "w_*", "GET", "o_*", "STORE", "d"],
    &["SORT_RO", "k", "BY", "w_*"],
    &["BITOP", "AND", "d", "a", "b"],
    &["BITFIELD", "k", "GET", "u8", "0"],
    &[
        "BITFIELD", "k", "GET", "u8", "0", "OVERFLOW", "SAT", "INCRBY", "u8", "0", "1",
    ],
    &["BITFIELD", "k", "GET", "u8"],
    &["BITFIELD_RO", "k", "GET", "u8", "0"],
    &["SORT", "k", "STORE", "d", "STORE", "e"],
    &["SORT", "k", "LIMIT", "0", "1", "GET", "store"],
    &["set", "k", "v", "NX", "get"],
    &["GETEX", "k", "PERSIST"],
    &["OBJECT", "ENCODING", "k"],
    &["MEMORY", "USAGE", "k"],
    &["WATCH", "a", "b"],
    &["EXISTS", "a", "a"],
    &["TOUCH", "a"],
    &["UNLINK", "a", "b"],
    &["PFCOUNT", "a"],
    // Errors: no key arguments, unknown command, wrong arity, bad numkeys.
    &["PING"],
    &["nosuch", "a"],
    &["GET"],
    &["GET", "a", "b"],
    &["ZUNIONSTORE", "d", "0", "a"],
    &["ZUNIONSTORE", "d", "5", "a"],
    &["LMPOP", "x", "a", "LEFT"],
    &["LMPOP", "0", "a", "LEFT"],
    &["LMPOP", "-1", "a", "LEFT"],
    &["SINTERCARD", "3", "a", "b"],
    &["ZINTER", "0", "a"],
    &["BZMPOP", "0", "x", "a", "MIN"],
    &["OBJECT", "nosuch", "k"],
    &["SPUBLISH", "ch", "msg"],
    &["SSUBSCRIBE", "ch"],
    &["COMMAND", "k"],
    &["COMMAND", "GETKEYS", "GET", "k"],
    &["CONFIG", "GET", "x"],
];

#[test]
fn command_getkeys_matches_redis_server() {
    let redis = RedisServer::start(&[]);
    let mut theirs = redis.raw();
    let ours_all = {
        let server = Server::ringkv(1, &[]);
        let mut c = server.raw();
        names(&mut c, &["COMMAND", "LIST"])
    };
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        let mut ours = server.raw();
        for (case, sub) in GETKEYS_CASES
            .iter()
            .flat_map(|c| [(c, "GETKEYS"), (c, "GETKEYSANDFLAGS")])
        {
            // A command ringkv does not have answers "Invalid command" on ringkv only.
            let name = case[0].to_lowercase();
            if name != "nosuch" && !ours_all.contains(&name) {
                let r = ours.cmd_reply(&[&["COMMAND", sub][..], case].concat());
                assert_eq!(
                    r,
                    Reply::Error(b"ERR Invalid command specified".to_vec()),
                    "{case:?}"
                );
                continue;
            }
            let args = [&["COMMAND", sub][..], case].concat();
            assert_eq!(
                show(&ours.cmd(&args)),
                show(&theirs.cmd(&args)),
                "ringkv({shards} shards): {args:?}"
            );
        }
        for args in [
            &["COMMAND", "GETKEYS"][..],
            &["COMMAND", "GETKEYS", "GET"],
            &["COMMAND", "GETKEYSANDFLAGS", "GET"],
        ] {
            assert_eq!(show(&ours.cmd(args)), show(&theirs.cmd(args)), "{args:?}");
        }
    }
}
