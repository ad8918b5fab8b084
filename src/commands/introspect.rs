//! Introspection commands: COMMAND, SLOWLOG, LATENCY, MONITOR, MEMORY.
//!
//! COMMAND answers from the spec table (the single source of truth); SLOWLOG is one log for the
//! process, written where the command's connection lives (a command run on another shard
//! reports its duration back); the latency histograms are kept per shard and merged on read; MONITOR lines are produced where a command
//! executes and pushed to every attached monitor's sink.

use super::client::reply_help;
use super::docs;
use super::errors;
use super::spec::*;
use super::table;
use super::{eq_ic, parse_i64, BoxFuture, Ctx, Handler};
use crate::keyspace::Entry;
use crate::net::Conn;
use crate::resp::ReplyBuf;
use crate::shard::{CmdStat, Mesh, MonitorSink, Shard, Shared, SlowlogEntry};
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::sync::Arc;

const ADMIN_FLAGS: Flags = ADMIN | NOSCRIPT | LOADING | STALE;

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "command",
        -1,
        LOADING | STALE | SENTINEL,
        Keys::None,
        "server",
        "2.8.13",
        "Get array of Redis command details",
        "O(N) where N is the total number of Redis commands",
        Handler::Conn(command_all),
    )
    .with_tips(&["nondeterministic_output_order"])
    .with_acl(&["@connection"]),
    container(
        "slowlog",
        "server",
        "2.2.12",
        "A container for slow log commands",
        SLOWLOG_SUBCOMMANDS,
    ),
    container(
        "latency",
        "server",
        "2.8.13",
        "A container for latency diagnostics commands",
        LATENCY_SUBCOMMANDS,
    ),
    container(
        "memory",
        "server",
        "4.0.0",
        "A container for memory diagnostics commands",
        MEMORY_SUBCOMMANDS,
    ),
    spec(
        "monitor",
        1,
        ADMIN_FLAGS,
        Keys::None,
        "server",
        "1.0.0",
        "Listen for all requests received by the server in real time",
        "",
        Handler::Conn(monitor),
    ),
];

static COMMAND_SUBCOMMANDS_LIST: &[CommandSpec] = &[
    spec(
        "command|count",
        2,
        LOADING | STALE | SENTINEL,
        Keys::None,
        "server",
        "2.8.13",
        "Get total number of Redis commands",
        "O(1)",
        Handler::Conn(command_count),
    )
    .with_acl(&["@connection"]),
    spec(
        "command|info",
        -2,
        LOADING | STALE | SENTINEL,
        Keys::None,
        "server",
        "2.8.13",
        "Get array of specific Redis command details, or all when no argument is given.",
        "O(N) where N is the number of commands to look up",
        Handler::Conn(command_info),
    )
    .with_tips(&["nondeterministic_output_order"])
    .with_acl(&["@connection"]),
    spec(
        "command|docs",
        -2,
        LOADING | STALE | SENTINEL,
        Keys::None,
        "server",
        "7.0.0",
        "Get array of specific Redis command documentation",
        "O(N) where N is the number of commands to look up",
        Handler::Conn(command_docs),
    )
    .with_tips(&["nondeterministic_output_order"])
    .with_acl(&["@connection"]),
    spec(
        "command|list",
        -2,
        LOADING | STALE | SENTINEL,
        Keys::None,
        "server",
        "7.0.0",
        "Get an array of Redis command names",
        "O(N) where N is the total number of Redis commands",
        Handler::Conn(command_list),
    )
    .with_tips(&["nondeterministic_output_order"])
    .with_acl(&["@connection"]),
    spec(
        "command|getkeys",
        -4,
        LOADING | STALE | SENTINEL,
        Keys::None,
        "server",
        "2.8.13",
        "Extract keys given a full Redis command",
        "O(N) where N is the number of arguments to the command",
        Handler::Conn(command_getkeys),
    )
    .with_acl(&["@connection"]),
    spec(
        "command|getkeysandflags",
        -4,
        LOADING | STALE | SENTINEL,
        Keys::None,
        "server",
        "7.0.0",
        "Extract keys and access flags given a full Redis command",
        "O(N) where N is the number of arguments to the command",
        Handler::Conn(command_getkeysandflags),
    )
    .with_acl(&["@connection"]),
    spec(
        "command|help",
        2,
        LOADING | STALE | SENTINEL,
        Keys::None,
        "server",
        "5.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
        Handler::Conn(command_help),
    )
    .with_acl(&["@connection"]),
];

/// COMMAND is both a command (no arguments) and a container; the table keeps it as a plain
/// command and `command_all` dispatches the subcommands itself, with the same arity errors.
pub fn command_subcommands() -> &'static [CommandSpec] {
    COMMAND_SUBCOMMANDS_LIST
}

static SLOWLOG_SUBCOMMANDS: &[CommandSpec] = &[
    spec(
        "slowlog|get",
        -2,
        ADMIN | LOADING | STALE,
        Keys::None,
        "server",
        "2.2.12",
        "Get the slow log's entries",
        "O(N) where N is the number of entries returned",
        Handler::Conn(slowlog_get),
    )
    .with_tips(&["request_policy:all_nodes", "nondeterministic_output"]),
    spec(
        "slowlog|len",
        2,
        ADMIN | LOADING | STALE,
        Keys::None,
        "server",
        "2.2.12",
        "Get the slow log's length",
        "O(1)",
        Handler::Conn(slowlog_len),
    )
    .with_tips(&[
        "request_policy:all_nodes",
        "response_policy:agg_sum",
        "nondeterministic_output",
    ]),
    spec(
        "slowlog|reset",
        2,
        ADMIN | LOADING | STALE,
        Keys::None,
        "server",
        "2.2.12",
        "Clear all entries from the slow log",
        "O(N) where N is the number of entries in the slowlog",
        Handler::Conn(slowlog_reset),
    )
    .with_tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    spec(
        "slowlog|help",
        2,
        LOADING | STALE,
        Keys::None,
        "server",
        "6.2.0",
        "Show helpful text about the different subcommands",
        "O(1)",
        Handler::Conn(slowlog_help),
    ),
];

static LATENCY_SUBCOMMANDS: &[CommandSpec] = &[
    spec(
        "latency|latest",
        2,
        ADMIN_FLAGS,
        Keys::None,
        "server",
        "2.8.13",
        "Return the latest latency samples for all events.",
        "O(1)",
        Handler::Conn(latency_latest),
    )
    .with_tips(&[
        "nondeterministic_output",
        "request_policy:all_nodes",
        "response_policy:special",
    ]),
    spec(
        "latency|histogram",
        -2,
        ADMIN_FLAGS,
        Keys::None,
        "server",
        "7.0.0",
        "Return the cumulative distribution of latencies of a subset of commands or all.",
        "O(N) where N is the number of commands with latency information being retrieved.",
        Handler::Coord(latency_histogram),
    )
    .with_tips(&[
        "nondeterministic_output",
        "request_policy:all_nodes",
        "response_policy:special",
    ]),
    spec(
        "latency|reset",
        -2,
        ADMIN_FLAGS,
        Keys::None,
        "server",
        "2.8.13",
        "Reset latency data for one or more events.",
        "O(1)",
        Handler::Conn(latency_reset),
    )
    .with_tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    spec(
        "latency|doctor",
        2,
        ADMIN_FLAGS,
        Keys::None,
        "server",
        "2.8.13",
        "Return a human readable latency analysis report.",
        "O(1)",
        Handler::Conn(latency_doctor),
    )
    .with_tips(&[
        "nondeterministic_output",
        "request_policy:all_nodes",
        "response_policy:special",
    ]),
    spec(
        "latency|history",
        3,
        ADMIN_FLAGS,
        Keys::None,
        "server",
        "2.8.13",
        "Return timestamp-latency samples for the event.",
        "O(1)",
        Handler::Conn(latency_history),
    )
    .with_tips(&[
        "nondeterministic_output",
        "request_policy:all_nodes",
        "response_policy:special",
    ]),
    spec(
        "latency|graph",
        3,
        ADMIN_FLAGS,
        Keys::None,
        "server",
        "2.8.13",
        "Return a latency graph for the event.",
        "O(1)",
        Handler::Conn(latency_graph),
    )
    .with_tips(&[
        "nondeterministic_output",
        "request_policy:all_nodes",
        "response_policy:special",
    ]),
    spec(
        "latency|help",
        2,
        LOADING | STALE,
        Keys::None,
        "server",
        "2.8.13",
        "Show helpful text about the different subcommands.",
        "O(1)",
        Handler::Conn(latency_help),
    ),
];

static MEMORY_SUBCOMMANDS: &[CommandSpec] = &[
    spec(
        "memory|usage",
        -3,
        READONLY,
        Keys::Range(2, 2, 1),
        "server",
        "4.0.0",
        "Estimate the memory usage of a key",
        "O(N) where N is the number of samples.",
        Handler::Keyed(memory_usage),
    )
    .with_key_specs(&[ks(KS_RO, BeginSearch::Index(2), FindKeys::Range(0, 1, 0))]),
    spec(
        "memory|doctor",
        2,
        0,
        Keys::None,
        "server",
        "4.0.0",
        "Outputs memory problems report",
        "O(1)",
        Handler::Conn(memory_doctor),
    )
    .with_tips(&[
        "nondeterministic_output",
        "request_policy:all_shards",
        "response_policy:special",
    ]),
    spec(
        "memory|stats",
        2,
        0,
        Keys::None,
        "server",
        "4.0.0",
        "Show memory usage details",
        "O(1)",
        Handler::Coord(memory_stats),
    )
    .with_tips(&[
        "nondeterministic_output",
        "request_policy:all_shards",
        "response_policy:special",
    ]),
    spec(
        "memory|help",
        2,
        LOADING | STALE,
        Keys::None,
        "server",
        "4.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
        Handler::Conn(memory_help),
    ),
];

// ---------------------------------------------------------------------------------------------
// COMMAND

fn command_all(conn: &mut Conn, argv: &[Bytes]) {
    if argv.len() == 1 {
        let all: Vec<&CommandSpec> = listed().collect();
        conn.out.array(all.len());
        for s in all {
            write_info(&mut conn.out, s);
        }
        return;
    }
    let Some(sub) = command_subcommands()
        .iter()
        .find(|s| s.name.as_bytes()[8..].eq_ignore_ascii_case(&argv[1]))
    else {
        return conn.error(&errors::unknown_subcommand(&argv[1], "command"));
    };
    let argc = argv.len() as i32;
    let ok = if sub.arity >= 0 {
        argc == sub.arity
    } else {
        argc >= -sub.arity
    };
    if !ok {
        return conn.error(&errors::wrong_arity(sub.name));
    }
    if let Handler::Conn(f) = sub.handler {
        conn.handle.info.borrow_mut().last_cmd = sub.name;
        f(conn, argv);
    }
}

fn command_count(conn: &mut Conn, _argv: &[Bytes]) {
    conn.out.int(listed().count() as i64);
}

/// COMMAND HELP's lines (the data node and the sentinel answer the same text).
pub const COMMAND_HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
];

fn command_help(conn: &mut Conn, _argv: &[Bytes]) {
    reply_help(&mut conn.out, COMMAND_HELP);
}

/// The commands COMMAND shows: the table without the security traps (POST, Host:), which
/// Redis keeps outside its command table and ringkv marks by having no summary.
fn listed() -> impl Iterator<Item = &'static CommandSpec> {
    table::all().filter(|s| !s.summary.is_empty())
}

/// Looks a name up as a command or a `parent|sub` subcommand.
fn lookup_full(name: &[u8]) -> Option<&'static CommandSpec> {
    match name.iter().position(|&c| c == b'|') {
        None => table::lookup(name).filter(|s| !s.summary.is_empty()),
        Some(i) => {
            let parent = table::lookup(&name[..i])?;
            lookup_sub_of(parent, &name[i + 1..])
        }
    }
}

/// `parent|name` among the subcommands of `parent` (COMMAND's included).
fn lookup_sub_of(parent: &'static CommandSpec, name: &[u8]) -> Option<&'static CommandSpec> {
    if parent.name == "command" {
        return command_subcommands()
            .iter()
            .find(|s| s.name.as_bytes()[8..].eq_ignore_ascii_case(name));
    }
    table::lookup_sub(parent, name)
}

fn subcommands_of(s: &'static CommandSpec) -> &'static [CommandSpec] {
    if s.name == "command" {
        command_subcommands()
    } else {
        s.subcommands
    }
}

fn command_info(conn: &mut Conn, argv: &[Bytes]) {
    if argv.len() == 2 {
        return command_all(conn, &argv[..1]);
    }
    conn.out.array(argv.len() - 2);
    for name in &argv[2..] {
        match lookup_full(name) {
            Some(s) => write_info(&mut conn.out, s),
            None => conn.out.null(),
        }
    }
}

/// One COMMAND INFO entry: name, arity, flags, first/last/step, ACL categories, tips, key
/// specs, subcommands.
fn write_info(out: &mut ReplyBuf, s: &'static CommandSpec) {
    write_info_with(out, s, subcommands_of(s));
}

/// One COMMAND INFO entry with the given subcommands (sentinel mode has its own set).
pub fn write_info_with(out: &mut ReplyBuf, s: &CommandSpec, subs: &'static [CommandSpec]) {
    out.array(10);
    out.bulk(s.name.as_bytes());
    out.int(s.arity as i64);
    let mut flags: Vec<&str> = Vec::new();
    for (f, n) in REPORTED_FLAGS {
        if *f == MOVABLE_KEYS {
            if s.movable_keys() {
                flags.push(n);
            }
        } else if s.flags & f != 0 {
            flags.push(n);
        }
    }
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    let (first, last, step) = s.legacy_keys;
    out.int(first as i64);
    out.int(last as i64);
    out.int(step as i64);
    let cats = s.reported_acl_categories();
    out.set(cats.len());
    for c in cats {
        out.simple(c);
    }
    out.set(s.tips.len());
    for t in s.tips {
        out.bulk(t.as_bytes());
    }
    write_key_specs(out, s);
    // Redis: a set when there are no subcommands, an array otherwise (RESP3 shows it).
    if subs.is_empty() {
        out.set(0);
    } else {
        out.array(subs.len());
    }
    for sub in subs {
        write_info(out, sub);
    }
}

/// Stands for "keys computed from the arguments" in [`REPORTED_FLAGS`].
const MOVABLE_KEYS: Flags = 0;

/// The flags COMMAND INFO shows, in Redis 7.0's order (`addReplyCommandFlags`); `sentinel`
/// is internal and not shown.
const REPORTED_FLAGS: &[(Flags, &str)] = &[
    (WRITE, "write"),
    (READONLY, "readonly"),
    (DENYOOM, "denyoom"),
    (ADMIN, "admin"),
    (PUBSUB, "pubsub"),
    (NOSCRIPT, "noscript"),
    (BLOCKING, "blocking"),
    (LOADING, "loading"),
    (STALE, "stale"),
    (SKIP_MONITOR, "skip_monitor"),
    (SKIP_SLOWLOG, "skip_slowlog"),
    (FAST, "fast"),
    (NO_AUTH, "no_auth"),
    (MAY_REPLICATE, "may_replicate"),
    (NO_MANDATORY_KEYS, "no_mandatory_keys"),
    (NO_ASYNC_LOADING, "no_async_loading"),
    (NO_MULTI, "no_multi"),
    (MOVABLE_KEYS, "movablekeys"),
    (ALLOW_BUSY, "allow_busy"),
];

/// A command's key specs: a set of maps (notes, flags, begin_search, find_keys).
fn write_key_specs(out: &mut ReplyBuf, s: &CommandSpec) {
    out.set(s.key_specs.len());
    for k in s.key_specs {
        out.map(if k.notes.is_empty() { 3 } else { 4 });
        if !k.notes.is_empty() {
            out.bulk(b"notes");
            out.bulk(k.notes.as_bytes());
        }
        out.bulk(b"flags");
        write_key_flags(out, k.flags);
        out.bulk(b"begin_search");
        out.map(2);
        out.bulk(b"type");
        match k.begin {
            BeginSearch::Index(index) => {
                out.bulk(b"index");
                out.bulk(b"spec");
                out.map(1);
                out.bulk(b"index");
                out.int(index as i64);
            }
            BeginSearch::Keyword(keyword, startfrom) => {
                out.bulk(b"keyword");
                out.bulk(b"spec");
                out.map(2);
                out.bulk(b"keyword");
                out.bulk(keyword.as_bytes());
                out.bulk(b"startfrom");
                out.int(startfrom as i64);
            }
            BeginSearch::Unknown => {
                out.bulk(b"unknown");
                out.bulk(b"spec");
                out.map(0);
            }
        }
        out.bulk(b"find_keys");
        out.map(2);
        out.bulk(b"type");
        let fields: &[(&[u8], i32)] = match k.find {
            FindKeys::Range(lastkey, keystep, limit) => {
                out.bulk(b"range");
                &[
                    (b"lastkey", lastkey),
                    (b"keystep", keystep),
                    (b"limit", limit),
                ]
            }
            FindKeys::Keynum(keynumidx, firstkey, keystep) => {
                out.bulk(b"keynum");
                &[
                    (b"keynumidx", keynumidx),
                    (b"firstkey", firstkey),
                    (b"keystep", keystep),
                ]
            }
            FindKeys::Unknown => {
                out.bulk(b"unknown");
                &[]
            }
        };
        out.bulk(b"spec");
        out.map(fields.len());
        for (name, v) in fields {
            out.bulk(name);
            out.int(*v as i64);
        }
    }
}

/// Key-spec flags as a set of status strings, in Redis's order.
fn write_key_flags(out: &mut ReplyBuf, flags: KeyFlags) {
    let names: Vec<&str> = KEY_FLAG_NAMES
        .iter()
        .filter(|(f, _)| flags & f != 0)
        .map(|(_, n)| *n)
        .collect();
    out.set(names.len());
    for n in names {
        out.simple(n);
    }
}

fn command_docs(conn: &mut Conn, argv: &[Bytes]) {
    let specs: Vec<&'static CommandSpec> = if argv.len() == 2 {
        listed().collect()
    } else {
        argv[2..].iter().filter_map(|n| lookup_full(n)).collect()
    };
    conn.out.map(specs.len());
    for s in specs {
        conn.out.bulk(s.name.as_bytes());
        docs::write_docs(&mut conn.out, &doc_cmd(s));
    }
}

/// The head of a command's docs, from its spec.
fn doc_head(s: &CommandSpec) -> docs::Head {
    docs::Head {
        group: s.group,
        since: s.since,
        summary: s.summary,
        complexity: s.complexity,
    }
}

fn doc_cmd(s: &'static CommandSpec) -> docs::DocCmd {
    docs::DocCmd {
        name: s.name,
        head: doc_head(s),
        subcommands: subcommands_of(s).iter().map(doc_cmd).collect(),
    }
}

/// COMMAND DOCS for a server whose command table is `table` (full names, "parent|sub"; the
/// sentinel's): `requested` are the names asked for (none: every top-level command). Names
/// not in the table are skipped, as Redis does. The head of each command comes from its docs
/// entry when it has one of its own (sentinel-only commands), else from the data node's spec.
pub fn command_docs_for_table(out: &mut ReplyBuf, table: &[&'static str], requested: &[Bytes]) {
    let find = |name: &[u8]| {
        table
            .iter()
            .copied()
            .find(|n| n.as_bytes().eq_ignore_ascii_case(name))
    };
    let names: Vec<&'static str> = if requested.is_empty() {
        table.iter().copied().filter(|n| !n.contains('|')).collect()
    } else {
        requested.iter().filter_map(|n| find(n)).collect()
    };
    let cmds: Vec<docs::DocCmd> = names
        .into_iter()
        .filter_map(|name| {
            let subs = if name.contains('|') {
                Vec::new()
            } else {
                table
                    .iter()
                    .filter(|n| n.split_once('|').is_some_and(|(p, _)| p == name))
                    .filter_map(|n| table_doc_cmd(n, Vec::new()))
                    .collect()
            };
            table_doc_cmd(name, subs)
        })
        .collect();
    out.map(cmds.len());
    for c in &cmds {
        out.bulk(c.name.as_bytes());
        docs::write_docs(out, c);
    }
}

fn table_doc_cmd(name: &'static str, subcommands: Vec<docs::DocCmd>) -> Option<docs::DocCmd> {
    let head = match docs::find(name).and_then(|d| d.head) {
        Some(h) => h,
        None => doc_head(lookup_full(name.as_bytes())?),
    };
    Some(docs::DocCmd {
        name,
        head,
        subcommands,
    })
}

fn command_list(conn: &mut Conn, argv: &[Bytes]) {
    enum Filter<'a> {
        All,
        Module,
        AclCat(String),
        Pattern(&'a [u8]),
    }
    let filter = match argv.len() {
        2 => Filter::All,
        5 if eq_ic(&argv[2], "filterby") => {
            if eq_ic(&argv[3], "module") {
                Filter::Module
            } else if eq_ic(&argv[3], "aclcat") {
                Filter::AclCat(format!("@{}", String::from_utf8_lossy(&argv[4])).to_lowercase())
            } else if eq_ic(&argv[3], "pattern") {
                Filter::Pattern(&argv[4])
            } else {
                return conn.error(errors::SYNTAX);
            }
        }
        _ => return conn.error(errors::SYNTAX),
    };
    let mut names: Vec<&'static str> = Vec::new();
    for s in listed() {
        for c in std::iter::once(s).chain(subcommands_of(s).iter()) {
            let keep = match &filter {
                Filter::All => true,
                Filter::Module => false,
                Filter::AclCat(cat) => c.reported_acl_categories().contains(&cat.as_str()),
                Filter::Pattern(p) => crate::glob::stringmatch(p, c.name.as_bytes(), true),
            };
            if keep {
                names.push(c.name);
            }
        }
    }
    conn.out.array(names.len());
    for n in names {
        conn.out.bulk(n.as_bytes());
    }
}

fn command_getkeys(conn: &mut Conn, argv: &[Bytes]) {
    getkeys(conn, argv, false);
}

fn command_getkeysandflags(conn: &mut Conn, argv: &[Bytes]) {
    getkeys(conn, argv, true);
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS: the keys of the command line after the subcommand
/// name, each with its key-spec flags when `with_flags`.
fn getkeys(conn: &mut Conn, argv: &[Bytes], with_flags: bool) {
    let cmd = &argv[2..];
    let Some(mut s) = table::lookup(&cmd[0]) else {
        return conn.error("ERR Invalid command specified");
    };
    if !subcommands_of(s).is_empty() {
        match lookup_sub_of(s, &cmd[1]) {
            Some(sub) => s = sub,
            None => return conn.error("ERR Invalid command specified"),
        }
    }
    if !s.has_keys() {
        return conn.error("ERR The command has no key arguments");
    }
    let argc = cmd.len() as i32;
    if (s.arity > 0 && argc != s.arity) || argc < -s.arity {
        return conn.error("ERR Invalid number of arguments specified for command");
    }
    let keys = s.keys_and_flags(cmd);
    if keys.is_empty() && s.flags & NO_MANDATORY_KEYS == 0 {
        return conn.error("ERR Invalid arguments specified for command");
    }
    conn.out.array(keys.len());
    for (i, flags) in keys {
        if with_flags {
            conn.out.array(2);
            conn.out.bulk(&cmd[i]);
            write_key_flags(&mut conn.out, flags);
        } else {
            conn.out.bulk(&cmd[i]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SLOWLOG

/// Redis keeps at most this many arguments of a slow command, and this many bytes of each.
const SLOWLOG_ENTRY_MAX_ARGC: usize = 32;
const SLOWLOG_ENTRY_MAX_STRING: usize = 128;

/// The slow log: one list for the whole process, newest first, like Redis's `server.slowlog`.
#[derive(Default)]
pub struct SlowLog {
    entries: std::sync::Mutex<std::collections::VecDeque<SlowlogEntry>>,
    /// Mirror of the list length, so a command that is not slow checks the trim without the
    /// lock.
    len: std::sync::atomic::AtomicUsize,
}

impl SlowLog {
    fn entries(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<SlowlogEntry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Redis's slowlogPushEntryIfNeeded: adds the entry made by `entry` when the command took
    /// at least `slower_than` µs (`usec` None: a command that cannot be slow, trim only), then
    /// trims the log to `max_len` (a lowered limit takes effect with the next command). A
    /// negative threshold or a zero length leaves the log alone.
    fn push_if_needed(
        &self,
        (slower_than, max_len): (i64, usize),
        usec: Option<u64>,
        entry: impl FnOnce() -> SlowlogEntry,
    ) {
        if slower_than < 0 || max_len == 0 {
            return;
        }
        let slow = usec.is_some_and(|u| u >= slower_than as u64);
        if !slow && self.len.load(Ordering::Relaxed) <= max_len {
            return;
        }
        let mut log = self.entries();
        if slow {
            log.push_front(entry());
        }
        log.truncate(max_len);
        self.len.store(log.len(), Ordering::Relaxed);
    }

    fn reset(&self) {
        let mut log = self.entries();
        log.clear();
        self.len.store(0, Ordering::Relaxed);
    }
}

/// Records a command of `conn` that took `usec` (wherever it ran) in the slow log when it was
/// slow enough. Called once per executed command, in execution order.
pub fn slowlog_maybe_record(conn: &Conn, spec: &CommandSpec, argv: &[Bytes], usec: u64) {
    if spec.flags & SKIP_SLOWLOG != 0 {
        return;
    }
    let shared = &conn.shard.shared;
    shared
        .slowlog
        .push_if_needed(slowlog_limits(shared), Some(usec), || {
            slowlog_entry(shared, argv, usec, &conn.handle)
        });
}

/// `slowlog-log-slower-than` and `slowlog-max-len`.
fn slowlog_limits(shared: &Shared) -> (i64, usize) {
    (
        shared.slowlog_slower_than.load(Ordering::Relaxed),
        shared.slowlog_max_len.load(Ordering::Relaxed) as usize,
    )
}

/// A command run for a connection on another shard, slow enough for the slow log: its spec,
/// arguments and duration. The connection's shard records it (it knows the client).
pub type Ran = (&'static CommandSpec, Vec<Bytes>, u64);

/// Gathers, on the shard running a batch for another shard's connection, the commands the slow
/// log will want.
pub struct RanLog {
    threshold: i64,
    ran: Vec<Ran>,
}

impl RanLog {
    pub fn new(shard: &Shard) -> RanLog {
        RanLog {
            threshold: shard.shared.slowlog_slower_than.load(Ordering::Relaxed),
            ran: Vec::new(),
        }
    }

    pub fn note(&mut self, spec: &'static CommandSpec, argv: Vec<Bytes>, usec: u64) {
        if self.threshold >= 0 && usec >= self.threshold as u64 && spec.flags & SKIP_SLOWLOG == 0 {
            self.ran.push((spec, argv, usec));
        }
    }

    pub fn done(self) -> Vec<Ran> {
        self.ran
    }
}

/// Back on the connection's shard after a remote batch: its slow commands go to the slow log,
/// in execution order.
pub fn after_remote(conn: &Conn, ran: Vec<Ran>) {
    if ran.is_empty() {
        let shared = &conn.shard.shared;
        // Not slow (None): only the trim to a lowered slowlog-max-len; no entry is made.
        shared
            .slowlog
            .push_if_needed(slowlog_limits(shared), None, || {
                slowlog_entry(shared, &[], 0, &conn.handle)
            });
    }
    for (spec, argv, usec) in ran {
        slowlog_maybe_record(conn, spec, &argv, usec);
    }
}

/// A command EXEC ran (Redis runs each through call()): MONITOR shows it and the slow log
/// may record it, before EXEC itself.
pub fn exec_ran(conn: &Conn, spec: &CommandSpec, argv: &[Bytes], usec: u64) {
    slowlog_maybe_record(conn, spec, argv, usec);
    if conn.shard.shared.monitors.load(Ordering::Relaxed) != 0 {
        monitor_feed(conn, spec, argv);
    }
}

/// Whether a command's arguments must be kept after it runs elsewhere (for the slow log).
pub fn wants_argv(shard: &Shard) -> bool {
    shard.shared.slowlog_slower_than.load(Ordering::Relaxed) >= 0
}

fn slowlog_entry(
    shared: &Shared,
    argv: &[Bytes],
    usec: u64,
    h: &crate::net::client::ClientHandle,
) -> SlowlogEntry {
    let keep = argv.len().min(SLOWLOG_ENTRY_MAX_ARGC);
    let mut args: Vec<Bytes> = Vec::with_capacity(keep);
    for (i, a) in argv.iter().take(keep).enumerate() {
        if keep != argv.len() && i == keep - 1 {
            args.push(Bytes::from(format!(
                "... ({} more arguments)",
                argv.len() - keep + 1
            )));
        } else if a.len() > SLOWLOG_ENTRY_MAX_STRING {
            let mut s = a[..SLOWLOG_ENTRY_MAX_STRING].to_vec();
            s.extend_from_slice(
                format!("... ({} more bytes)", a.len() - SLOWLOG_ENTRY_MAX_STRING).as_bytes(),
            );
            args.push(Bytes::from(s));
        } else {
            args.push(a.clone());
        }
    }
    let i = h.info.borrow();
    SlowlogEntry {
        id: shared.slowlog_next_id.fetch_add(1, Ordering::Relaxed),
        time: crate::keyspace::now_ms() / 1000,
        usec,
        argv: args,
        addr: if h.is_unix {
            format!("{}:0", h.addr)
        } else {
            h.addr.clone()
        },
        name: i
            .name
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default(),
    }
}

fn slowlog_get(conn: &mut Conn, argv: &[Bytes]) {
    let count = match argv.get(2) {
        None => 10,
        Some(a) => match parse_i64(a) {
            Some(n) if n >= -1 => n,
            _ => return conn.error("ERR count should be greater than or equal to -1"),
        },
    };
    let entries: Vec<SlowlogEntry> = {
        let log = conn.shard.shared.slowlog.entries();
        let n = if count < 0 {
            log.len()
        } else {
            (count as usize).min(log.len())
        };
        log.iter().take(n).cloned().collect()
    };
    let out = &mut conn.out;
    out.array(entries.len());
    for e in entries {
        out.array(6);
        out.int(e.id as i64);
        out.int(e.time);
        out.int(e.usec as i64);
        out.array(e.argv.len());
        for a in &e.argv {
            out.bulk(a);
        }
        out.bulk(e.addr.as_bytes());
        out.bulk(e.name.as_bytes());
    }
}

fn slowlog_len(conn: &mut Conn, _argv: &[Bytes]) {
    let n = conn.shard.shared.slowlog.entries().len();
    conn.out.int(n as i64);
}

fn slowlog_reset(conn: &mut Conn, _argv: &[Bytes]) {
    conn.shard.shared.slowlog.reset();
    conn.out.ok();
}

fn slowlog_help(conn: &mut Conn, _argv: &[Bytes]) {
    reply_help(
        &mut conn.out,
        &[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// LATENCY

fn latency_latest(conn: &mut Conn, _argv: &[Bytes]) {
    // No latency monitor events are tracked (latency-monitor-threshold 0 in Redis gives the
    // same empty reply).
    conn.out.array(0);
}

fn latency_history(conn: &mut Conn, _argv: &[Bytes]) {
    conn.out.array(0);
}

fn latency_graph(conn: &mut Conn, argv: &[Bytes]) {
    conn.error(&format!(
        "ERR No samples available for event '{}'",
        String::from_utf8_lossy(&argv[2])
    ));
}

fn latency_reset(conn: &mut Conn, _argv: &[Bytes]) {
    conn.out.int(0);
}

fn latency_doctor(conn: &mut Conn, _argv: &[Bytes]) {
    conn.out.verbatim(b"I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n");
}

fn latency_help(conn: &mut Conn, _argv: &[Bytes]) {
    reply_help(
        &mut conn.out,
        &[
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
}

/// Power-of-two latency bucket of a duration: bucket `b` holds durations below `2^b` µs.
pub fn latency_bucket(usec: u64) -> usize {
    ((64 - usec.leading_zeros()) as usize).min(crate::shard::LATENCY_BUCKETS - 1)
}

fn latency_histogram<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        let wanted: Option<Vec<&'static str>> = if argv.len() > 2 {
            Some(
                argv[2..]
                    .iter()
                    .filter_map(|n| lookup_full(n))
                    .flat_map(|s| {
                        // A container name stands for all its subcommands.
                        if s.subcommands.is_empty() {
                            vec![s.name]
                        } else {
                            s.subcommands.iter().map(|c| c.name).collect()
                        }
                    })
                    .collect(),
            )
        } else {
            None
        };
        let mut merged: Vec<(&'static str, CmdStat)> = Vec::new();
        let per_shard = Mesh::run_on_all(&conn.shard, |sh| {
            sh.data
                .borrow()
                .stats
                .commands
                .iter()
                .map(|(k, v)| (*k, *v))
                .collect::<Vec<_>>()
        })
        .await;
        for (name, st) in per_shard.into_iter().flatten() {
            if let Some(w) = &wanted {
                if !w.contains(&name) {
                    continue;
                }
            }
            match merged.iter_mut().find(|(n, _)| *n == name) {
                Some((_, m)) => {
                    m.calls += st.calls;
                    for (a, b) in m.hist.iter_mut().zip(st.hist.iter()) {
                        *a += b;
                    }
                }
                None => merged.push((name, st)),
            }
        }
        merged.retain(|(_, st)| st.calls > 0);
        let out = &mut conn.out;
        out.map(merged.len());
        for (name, st) in merged {
            out.bulk(name.as_bytes());
            out.map(2);
            out.bulk(b"calls");
            out.int(st.calls as i64);
            out.bulk(b"histogram_usec");
            let used: Vec<(usize, u64)> = st
                .hist
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(b, n)| (b, u64::from(*n)))
                .collect();
            out.map(used.len());
            let mut cumulative = 0;
            for (b, n) in used {
                cumulative += n;
                out.int(1i64 << b);
                out.int(cumulative as i64);
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------
// MEMORY

/// Approximate bytes used by a key and its value, like Redis's `objectComputeSize` plus the
/// key's sds and dict entry.
pub fn op_memory_usage(key: &[u8], e: &Entry) -> usize {
    e.value.mem_usage() + key.len() + 1 + 24
}

fn memory_usage(ctx: &mut Ctx, argv: &[Bytes]) {
    let mut i = 3;
    while i < argv.len() {
        if eq_ic(&argv[i], "samples") && i + 1 < argv.len() {
            match parse_i64(&argv[i + 1]) {
                Some(n) if n >= 0 => {}
                _ => return ctx.error(errors::NOT_INTEGER),
            }
            i += 2;
        } else {
            return ctx.error(errors::SYNTAX);
        }
    }
    let now = ctx.now;
    let key = &argv[2];
    match ctx.db().peek(key, now) {
        Some(e) => {
            let n = op_memory_usage(key, e);
            ctx.out.int(n as i64);
        }
        None => ctx.out.null(),
    }
}

fn memory_doctor(conn: &mut Conn, _argv: &[Bytes]) {
    conn.out.verbatim(b"Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n");
}

fn memory_stats<'a>(conn: &'a mut Conn, _argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        let per_shard = Mesh::run_on_all(&conn.shard, |sh| {
            let d = sh.data.borrow();
            let keys: usize = d.dbs.iter().map(|db| db.len()).sum();
            let bytes: usize = d.dbs.iter().map(|db| db.approx_bytes()).sum();
            (keys, bytes)
        })
        .await;
        let keys: usize = per_shard.iter().map(|p| p.0).sum();
        let dataset: usize = per_shard.iter().map(|p| p.1).sum();
        let rss = crate::server::info::rss_bytes();
        let out = &mut conn.out;
        out.map(6);
        out.bulk(b"peak.allocated");
        out.int(rss as i64);
        out.bulk(b"total.allocated");
        out.int(rss as i64);
        out.bulk(b"keys.count");
        out.int(keys as i64);
        out.bulk(b"keys.bytes-per-key");
        out.int(dataset.checked_div(keys).unwrap_or(0) as i64);
        out.bulk(b"dataset.bytes");
        out.int(dataset as i64);
        out.bulk(b"rss-overhead.bytes");
        out.int(rss.saturating_sub(dataset as u64) as i64);
    })
}

fn memory_help(conn: &mut Conn, _argv: &[Bytes]) {
    reply_help(
        &mut conn.out,
        &[
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return memory problems reports.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// MONITOR

fn monitor(conn: &mut Conn, _argv: &[Bytes]) {
    if conn.monitor.is_some() {
        return;
    }
    let sink = Arc::new(MonitorSink {
        id: conn.handle.id,
        ..Default::default()
    });
    let shared = &conn.shard.shared;
    lock(&shared.monitor_sinks).push(sink.clone());
    shared.monitors.fetch_add(1, Ordering::Relaxed);
    conn.handle.info.borrow_mut().flags = "O".into();
    conn.monitor = Some(sink);
    conn.out.ok();
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Removes a closing MONITOR connection's sink.
pub fn monitor_detach(shared: &Shared, sink: &Arc<MonitorSink>) {
    sink.closed.store(true, Ordering::Relaxed);
    let mut sinks = lock(&shared.monitor_sinks);
    let before = sinks.len();
    sinks.retain(|s| !Arc::ptr_eq(s, sink));
    if sinks.len() != before {
        shared.monitors.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Waits until the sink has lines (or was closed) and takes them.
pub async fn monitor_wait(sink: &MonitorSink) -> Vec<u8> {
    std::future::poll_fn(|cx| {
        {
            let mut lines = lock(&sink.lines);
            if !lines.is_empty() || sink.closed.load(Ordering::Relaxed) {
                return std::task::Poll::Ready(std::mem::take(&mut *lines));
            }
        }
        *lock(&sink.waker) = Some(cx.waker().clone());
        // Re-check after registering, so a line pushed in between is not missed.
        let mut lines = lock(&sink.lines);
        if !lines.is_empty() {
            return std::task::Poll::Ready(std::mem::take(&mut *lines));
        }
        std::task::Poll::Pending
    })
    .await
}

/// The dispatcher's hook: called for every command while a monitor is attached.
pub fn monitor_feed(conn: &Conn, spec: &CommandSpec, argv: &[Bytes]) {
    if spec.flags & (SKIP_MONITOR | ADMIN) != 0 || spec.flags & NO_AUTH != 0 {
        return;
    }
    let line = monitor_line(conn, argv);
    let sinks: Vec<Arc<MonitorSink>> = lock(&conn.shard.shared.monitor_sinks).clone();
    for s in sinks {
        lock(&s.lines).extend_from_slice(&line);
        // Release the lock before waking: the woken task may run at once and lock it.
        let waker = lock(&s.waker).take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// `+<unix time>.<µs> [<db> <addr>] "arg" ...` with arguments quoted like `sdscatrepr`.
fn monitor_line(conn: &Conn, argv: &[Bytes]) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let h = &conn.handle;
    let addr = if h.is_unix {
        format!("unix:{}", h.addr)
    } else {
        h.addr.clone()
    };
    let mut out = format!(
        "+{}.{:06} [{} {}]",
        now.as_secs(),
        now.subsec_micros(),
        conn.db,
        addr
    )
    .into_bytes();
    for a in argv {
        out.push(b' ');
        repr(&mut out, a);
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Redis's `sdscatrepr`.
pub fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c),
            c => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

// ---------------------------------------------------------------------------------------------
// Protected commands

/// Whether a connection counts as local for `enable-*-command local` (loopback or unix socket).
pub fn is_local(conn: &Conn) -> bool {
    let h = &conn.handle;
    h.is_unix
        || h.addr.starts_with("127.")
        || h.addr.starts_with("[::1]")
        || h.addr.starts_with("::1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64) -> SlowlogEntry {
        SlowlogEntry {
            id,
            time: 0,
            usec: 0,
            argv: vec![Bytes::from(format!("c{id}"))],
            addr: String::new(),
            name: String::new(),
        }
    }

    fn ids(log: &SlowLog) -> Vec<u64> {
        log.entries().iter().map(|e| e.id).collect()
    }

    #[test]
    fn slowlog_keeps_newest_first_within_max_len() {
        let log = SlowLog::default();
        for id in 0..5 {
            log.push_if_needed((0, 3), Some(0), || entry(id));
        }
        assert_eq!(ids(&log), vec![4, 3, 2]);
        // Faster than the threshold: not recorded.
        log.push_if_needed((100, 3), Some(99), || entry(9));
        assert_eq!(ids(&log), vec![4, 3, 2]);
        log.push_if_needed((100, 3), Some(100), || entry(5));
        assert_eq!(ids(&log), vec![5, 4, 3]);
    }

    #[test]
    fn slowlog_lowered_max_len_trims_on_the_next_command() {
        let log = SlowLog::default();
        for id in 0..4 {
            log.push_if_needed((0, 10), Some(0), || entry(id));
        }
        // Disabled (negative threshold or zero length): nothing changes, not even the trim.
        log.push_if_needed((-1, 2), None, || entry(99));
        log.push_if_needed((0, 0), Some(5), || entry(99));
        assert_eq!(ids(&log), vec![3, 2, 1, 0]);
        log.push_if_needed((0, 2), None, || entry(99));
        assert_eq!(ids(&log), vec![3, 2]);
        log.reset();
        assert!(ids(&log).is_empty());
    }

    #[test]
    fn repr_quotes_like_sdscatrepr() {
        let mut out = Vec::new();
        repr(&mut out, b"a \"b\"\\\n\x01");
        assert_eq!(out, b"\"a \\\"b\\\"\\\\\\n\\x01\"".to_vec());
    }

    #[test]
    fn latency_buckets_are_powers_of_two() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(1), 1);
        assert_eq!(latency_bucket(3), 2);
        assert_eq!(latency_bucket(4), 3);
        assert_eq!(latency_bucket(u64::MAX), crate::shard::LATENCY_BUCKETS - 1);
    }

    #[test]
    fn docs_for_a_table_take_heads_from_docs_or_spec_and_skip_unknown_names() {
        let table = ["ping", "sentinel", "sentinel|myid", "sentinel|reset"];
        let mut out = ReplyBuf::new(crate::resp::Proto::Resp3);
        let asked = [
            Bytes::from_static(b"SENTINEL|MYID"),
            Bytes::from_static(b"get"),
            Bytes::from_static(b"Ping"),
        ];
        command_docs_for_table(&mut out, &table, &asked);
        let text = String::from_utf8_lossy(&out.buf).into_owned();
        // GET is not in the table: two entries, named in lower case.
        assert!(
            text.starts_with("%2\r\n$13\r\nsentinel|myid\r\n%4\r\n"),
            "{text}"
        );
        assert!(text.contains("$4\r\nping\r\n"), "{text}");
        assert!(text.contains("Ping the server"), "{text}");
        // No names: the top-level commands, SENTINEL with the subcommands of the table only.
        let mut out = ReplyBuf::new(crate::resp::Proto::Resp3);
        command_docs_for_table(&mut out, &table, &[]);
        let text = String::from_utf8_lossy(&out.buf).into_owned();
        assert!(text.starts_with("%2\r\n$4\r\nping\r\n"), "{text}");
        assert!(text.contains("$11\r\nsubcommands\r\n%2\r\n"), "{text}");
        assert!(text.contains("sentinel|reset") && !text.contains("sentinel|masters"));
    }

    #[test]
    fn command_subcommands_are_named_by_full_name() {
        for s in command_subcommands() {
            assert!(s.name.starts_with("command|"));
        }
        assert!(lookup_full(b"command|docs").is_some());
        assert!(lookup_full(b"GET").is_some());
        assert!(lookup_full(b"config|nosuch").is_none());
    }
}
