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
                    "DIGEST",
                    "    Output a hex signature representing the current DB content.",
                    "DIGEST-VALUE <key> [<key> ...]",
                    "    Output a hex signature of the values of all the specified keys.",
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
                    "SLEEP <seconds>",
                    "    Stop the server for <seconds>. Decimals allowed.",
                    "STRINGMATCH-TEST",
                    "    Run a fuzz tester against the stringmatchlen() function.",
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
            let on = parse_i64(&argv[2]).unwrap_or(0) != 0;
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
        } else {
            conn.error(&format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
                String::from_utf8_lossy(sub)
            ));
        }
    })
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
