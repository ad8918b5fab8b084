//! DEBUG: the subcommands operators and test suites use, answered as Redis 7.0 (debug.c).
//!
//! DEBUG is gated by `enable-debug-command`; each subcommand that has no meaning in ringkv's
//! design still answers what Redis answers, with a comment saying why.

use super::client::reply_help;
use super::errors;
use super::introspect::is_local;
use super::spec::*;
use super::{eq_ic, parse_i64, BoxFuture, Handler};
use crate::config::Protection;
use crate::keyspace::{Entry, Value};
use crate::net::Conn;
use crate::shard::{Mesh, Shard};
use bytes::Bytes;
use std::sync::atomic::Ordering;

pub static COMMANDS: &[CommandSpec] = &[spec(
    "debug",
    -2,
    ADMIN | NOSCRIPT | LOADING | STALE | PROTECTED_DEBUG,
    Keys::None,
    "server",
    "1.0.0",
    "A container for debugging commands",
    "Depends on subcommand.",
    Handler::Coord(debug),
)];

/// DEBUG is `protected` in Redis (enable-debug-command); we have no flag bit for that, so the
/// check lives in the handler and this is 0.
const PROTECTED_DEBUG: Flags = 0;

const DEBUG_NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

fn debug<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        let allowed = match conn.shard.shared.config().enable_debug_command {
            Protection::Yes => true,
            Protection::Local => is_local(conn),
            Protection::No => false,
        };
        if !allowed {
            return conn.error(DEBUG_NOT_ALLOWED);
        }
        let sub = &argv[1];
        let n = argv.len();
        if eq_ic(sub, "help") && n == 2 {
            reply_help(
                &mut conn.out,
                &[
                    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "CHANGE-REPL-ID",
                    "    Change the replication IDs of the instance.",
                    "    Dangerous: should be used only for testing the replication subsystem.",
                    "DIGEST",
                    "    Output a hex signature representing the current DB content.",
                    "DIGEST-VALUE <key> [<key> ...]",
                    "    Output a hex signature of the values of all the specified keys.",
                    "ERROR <string>",
                    "    Return a Redis protocol error with <string> as message. Useful for clients",
                    "    unit tests to simulate Redis errors.",
                    "LOG <message>",
                    "    Write <message> to the server log.",
                    "OBJECT <key>",
                    "    Show low level info about the `key` and associated value.",
                    "POPULATE <count> [<prefix>] [<size>]",
                    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
                    "    it is used instead of the 'key' prefix. These are not propagated to",
                    "    replicas. Cluster slots are not respected so keys not belonging to the",
                    "    current node can be created in cluster mode.",
                    "SET-ACTIVE-EXPIRE <0|1>",
                    "    Setting it to 0 disables expiring keys in background when they are not",
                    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                    "    default.",
                    "QUICKLIST-PACKED-THRESHOLD <size>",
                    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
                    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
                    "SLEEP <seconds>",
                    "    Stop the server for <seconds>. Decimals allowed.",
                    "STRINGMATCH-TEST",
                    "    Run a fuzz tester against the stringmatchlen() function.",
                    "LISTPACK <key>",
                    "    Show low level info about the listpack encoding of <key>.",
                    "QUICKLIST <key> [<0|1>]",
                    "    Show low level info about the quicklist encoding of <key>.",
                    "    The optional argument (0 by default) sets the level of detail",
                    "PAUSE-CRON <0|1>",
                    "    Stop periodic cron job processing.",
                ],
            );
        } else if eq_ic(sub, "sleep") && n == 3 {
            let secs: f64 = std::str::from_utf8(&argv[2])
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0.0);
            if secs > 0.0 && secs.is_finite() {
                // Like Redis, the sleep blocks the executing thread: every client of this
                // shard waits, which is what tests use DEBUG SLEEP for.
                std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
            }
            conn.out.ok();
        } else if eq_ic(sub, "reload") {
            // DEBUG may run during the startup load (it has the `loading` flag); a reload then
            // would save the still-empty dataset over the file being loaded.
            if conn.shard.shared.persistence.loading.active() {
                conn.error(crate::persistence::loading::LOADING_ERR);
                return;
            }
            let shard = conn.shard.clone();
            let held = usize::from(super::persist::in_exec(conn));
            match crate::persistence::snapshot::debug_reload(&shard, held).await {
                Ok(()) => conn.out.ok(),
                Err(e) => conn.error(&format!("ERR Error trying to load the RDB dump: {e}")),
            }
        } else if eq_ic(sub, "set-active-expire") && n == 3 {
            let on = atoi(&argv[2]) != 0;
            conn.shard.shared.active_expire.store(on, Ordering::Relaxed);
            conn.out.ok();
        } else if eq_ic(sub, "object") && n == 3 {
            debug_object(conn, argv[2].clone()).await;
        } else if eq_ic(sub, "stringmatch-test") && n == 2 {
            stringmatch_fuzz(&mut rand::rng());
            conn.out
                .simple("Apparently Redis did not crash: test passed");
        } else if eq_ic(sub, "digest") && n == 2 {
            debug_digest(conn).await;
        } else if eq_ic(sub, "digest-value") {
            debug_digest_value(conn, &argv[2..]).await;
        } else if eq_ic(sub, "populate") && (3..=5).contains(&n) {
            debug_populate(conn, argv).await;
        } else if eq_ic(sub, "quicklist-packed-threshold") && n == 3 {
            match crate::config::syntax::parse_memory(&argv[2]) {
                Some(sz) if sz <= (1u64 << 32) - (1 << 20) => {
                    let sz = if sz == 0 { 1 << 30 } else { sz };
                    PACKED_THRESHOLD.store(sz, Ordering::Relaxed);
                    conn.out.ok();
                }
                _ => conn.error(
                    "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
                ),
            }
        } else if eq_ic(sub, "pause-cron") && n == 3 {
            let on = atoi(&argv[2]) != 0;
            conn.shard.shared.pause_cron.store(on, Ordering::Relaxed);
            conn.out.ok();
        } else if eq_ic(sub, "change-repl-id") && n == 2 {
            tracing::warn!("Changing replication IDs after receiving DEBUG change-repl-id");
            conn.shard.shared.repl.new_history();
            conn.out.ok();
        } else if eq_ic(sub, "listpack") && n == 3 {
            debug_encoding_repr(conn, argv[2].clone(), "listpack", false).await;
        } else if eq_ic(sub, "quicklist") && (n == 3 || n == 4) {
            let full = argv.get(3).is_some_and(|a| atoi(a) != 0);
            debug_encoding_repr(conn, argv[2].clone(), "quicklist", full).await;
        } else if eq_ic(sub, "error") && n == 3 {
            // Redis sends the string as the whole error line, newlines mapped to spaces.
            let line: Vec<u8> = argv[2]
                .iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
                .collect();
            conn.error(&String::from_utf8_lossy(&line));
        } else if eq_ic(sub, "log") && n == 3 {
            tracing::warn!("DEBUG LOG: {}", String::from_utf8_lossy(&argv[2]));
            conn.out.ok();
        } else {
            conn.error(&unknown_subcommand(sub));
        }
    })
}

/// Redis's addReplySubcommandSyntaxError: the name cut at 128 bytes, newlines as spaces.
fn unknown_subcommand(sub: &[u8]) -> String {
    let name: Vec<u8> = sub
        .iter()
        .take(128)
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect();
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
        String::from_utf8_lossy(&name)
    )
}

/// C's `atoi`: leading blanks, an optional sign, then digits; anything else reads as 0.
fn atoi(a: &[u8]) -> i64 {
    let s = std::str::from_utf8(a).unwrap_or("").trim_start();
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .take(18)
        .collect();
    let v: i64 = digits.parse().unwrap_or(0);
    if neg {
        -v
    } else {
        v
    }
}

/// DEBUG QUICKLIST-PACKED-THRESHOLD: ringkv's list nodes have a fixed byte size and an element
/// larger than a node always gets a node of its own (Redis's "plain" node), so the threshold
/// changes no layout; it is validated and kept as Redis does, for the reply and DEBUG QUICKLIST.
static PACKED_THRESHOLD: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1 << 30);

/// DEBUG LISTPACK / DEBUG QUICKLIST: Redis prints the encoding's internals on stdout and
/// replies a status; the error for a missing key or another encoding is Redis's. ringkv's
/// internals differ, so what is printed is its own description of the value.
async fn debug_encoding_repr(conn: &mut Conn, key: Bytes, encoding: &'static str, full: bool) {
    let target = conn.shard.shard_of(&key);
    let db = conn.db;
    let found: Option<Option<String>> = Mesh::run_on(&conn.shard, target, move |sh| {
        let mut d = sh.data.borrow_mut();
        let now = crate::keyspace::now_ms();
        let e = d.dbs[db].peek(&key, now)?;
        if e.value.encoding() != encoding {
            return Some(None);
        }
        let mut text = format!(
            "{{{encoding} key:{} encoding:{} bytes:{} packed_threshold:{}",
            String::from_utf8_lossy(&key),
            encoding,
            e.value.mem_usage(),
            PACKED_THRESHOLD.load(Ordering::Relaxed)
        );
        if full {
            text.push_str(&format!(" mem_usage_detail:{}", e.value.mem_usage()));
        }
        text.push('}');
        Some(Some(text))
    })
    .await;
    match found {
        None => conn.error(errors::NO_SUCH_KEY),
        Some(None) if encoding == "listpack" => conn.error("ERR Not a listpack encoded object."),
        Some(None) => conn.error("ERR Not a quicklist encoded object."),
        Some(Some(text)) => {
            println!("{text}");
            let what = if encoding == "listpack" {
                "Listpack structure printed on stdout"
            } else {
                "Quicklist structure printed on stdout"
            };
            conn.out.simple(what);
        }
    }
}

/// DEBUG DIGEST: every shard xors its keys' digests per db, combined in db order as Redis does.
/// Not a point-in-time cut across shards: run it on a quiet dataset, as tests do.
async fn debug_digest(conn: &mut Conn) {
    let parts = Mesh::run_on_all(&conn.shard, |sh| {
        let d = sh.data.borrow();
        d.dbs
            .iter()
            .map(super::digest::op_db_digest)
            .collect::<Vec<_>>()
    })
    .await;
    let d = super::digest::dataset_digest(&parts);
    conn.out.simple(&super::digest::hex(&d));
}

/// DEBUG DIGEST-VALUE key ...: each value's digest (zeros when missing), read on the key's shard
/// without expiring it (Redis looks in the dict directly).
async fn debug_digest_value(conn: &mut Conn, keys: &[Bytes]) {
    let mut out = Vec::with_capacity(keys.len().min(1024));
    for key in keys {
        let key = key.clone();
        let db = conn.db;
        let target = conn.shard.shard_of(&key);
        let d = Mesh::run_on(&conn.shard, target, move |sh| {
            let d = sh.data.borrow();
            let e = d.dbs[db].get_raw(&key);
            super::digest::value_digest(e)
        })
        .await;
        out.push(d);
    }
    conn.out.array(out.len());
    for d in &out {
        conn.out.simple(&super::digest::hex(d));
    }
}

/// DEBUG STRINGMATCH-TEST: Redis's `stringmatchlen_fuzz_test`, random patterns against random
/// strings; passing means the matcher neither panicked nor hung.
fn stringmatch_fuzz(rng: &mut impl rand::Rng) {
    let mut pat = Vec::with_capacity(256);
    let mut text = Vec::with_capacity(256);
    for _ in 0..100_000 {
        pat.clear();
        text.clear();
        let (plen, tlen) = (rng.random_range(0..32), rng.random_range(0..32));
        const PAT: &[u8] = b"*?[]^-\\ab";
        const TEXT: &[u8] = b"ab-[]\\";
        pat.extend((0..plen).map(|_| PAT[rng.random_range(0..PAT.len())]));
        text.extend((0..tlen).map(|_| TEXT[rng.random_range(0..TEXT.len())]));
        let _ = crate::glob::stringmatch(&pat, &text, rng.random_bool(0.5));
    }
}

async fn debug_object(conn: &mut Conn, key: Bytes) {
    let target = conn.shard.shard_of(&key);
    let db = conn.db;
    let line: Option<String> = Mesh::run_on(&conn.shard, target, move |sh| {
        let mut d = sh.data.borrow_mut();
        let now = crate::keyspace::now_ms();
        let e = d.dbs[db].peek(&key, now)?;
        let idle = crate::keyspace::lru_clock().wrapping_sub(e.lru);
        // Approximates the RDB serialized length; exact for strings.
        let ser = match &e.value {
            Value::Str(r) => r.len() + 1,
            other => other.mem_usage(),
        };
        Some(format!(
            "Value at:{:p} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
            e as *const Entry,
            e.value.encoding(),
            ser,
            e.lru & 0xFF_FFFF,
            idle
        ))
    })
    .await;
    match line {
        Some(l) => conn.out.simple(&l),
        None => conn.error(errors::NO_SUCH_KEY),
    }
}

/// Creates `count` keys `prefix:<n>` (value `value:<n>`, padded with zeros / cut to `size`
/// when given) on their owning shards, skipping keys that already exist, as Redis does.
pub fn op_populate(sh: &Shard, db: usize, count: u64, prefix: &[u8], size: Option<usize>) -> u64 {
    let mut d = sh.data.borrow_mut();
    let now = crate::keyspace::now_ms();
    let mut added = 0;
    for j in 0..count {
        let key = [prefix, b":", j.to_string().as_bytes()].concat();
        if sh.shard_of(&key) != sh.id || d.dbs[db].exists(&key, now) {
            continue;
        }
        let mut val = format!("value:{j}").into_bytes();
        if let Some(size) = size {
            val.resize(size, 0);
        }
        d.dbs[db].set(&key, Value::from_bytes(&val));
        added += 1;
    }
    added
}

async fn debug_populate(conn: &mut Conn, argv: &[Bytes]) {
    let count = match parse_i64(&argv[2]) {
        Some(c) if c >= 0 => c as u64,
        _ => return conn.error("ERR value is out of range, must be positive"),
    };
    let prefix = argv
        .get(3)
        .cloned()
        .unwrap_or_else(|| Bytes::from_static(b"key"));
    let size = match argv.get(4) {
        None => None,
        Some(a) => match parse_i64(a) {
            Some(s) if s >= 0 => Some(s as usize),
            _ => return conn.error("ERR value is out of range, must be positive"),
        },
    };
    let db = conn.db;
    let added: u64 = Mesh::run_on_all(&conn.shard, move |sh| {
        op_populate(sh, db, count, &prefix, size)
    })
    .await
    .into_iter()
    .sum();
    conn.shard.shared.dirty.add(conn.shard.id, added);
    conn.out.ok();
}
