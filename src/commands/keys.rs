//! Generic key commands (@keyspace): DEL UNLINK EXISTS TOUCH TYPE, the EXPIRE/TTL family,
//! PERSIST RENAME RENAMENX COPY MOVE OBJECT, and the whole-keyspace ones that gather over every
//! shard: KEYS SCAN RANDOMKEY DBSIZE FLUSHDB FLUSHALL SWAPDB.
//!
//! A SCAN cursor is `position * nshards + shard`: the shard being walked and the position in
//! that shard's dense table (walked downwards, see [`crate::keyspace::Dense::scan`]), so 0 is
//! both the start and the end, and every key present for the whole scan is returned.

use super::errors;
use super::glob::stringmatch;
use super::spec::*;
use super::{eq_ic, parse_i64, BoxFuture, Ctx, Handler};
use crate::keyspace::evict;
use crate::keyspace::notify::{self, NOTIFY_GENERIC};
use crate::keyspace::{now_ms, Db, Entry, RString, Value, NO_EXPIRE};
use crate::net::Conn;
use crate::resp::{Proto, ReplyBuf};
use crate::shard::Mesh;
use bytes::Bytes;
use rand::Rng;

pub static COMMANDS: &[CommandSpec] = &[
    spec("del", -2, WRITE, Keys::Range(1, -1, 1), "generic", "1.0.0", "Delete a key", "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).", Handler::Keyed(del))
        .with_key_specs(&[
            ks(KS_RM | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(-1, 1, 0)),
        ])
        .with_tips(&["request_policy:multi_shard", "response_policy:agg_sum"]),
    spec("unlink", -2, WRITE | FAST, Keys::Range(1, -1, 1), "generic", "4.0.0", "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.", Handler::Keyed(del))
        .with_key_specs(&[
            ks(KS_RM | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(-1, 1, 0)),
        ])
        .with_tips(&["request_policy:multi_shard", "response_policy:agg_sum"]),
    spec("exists", -2, READONLY | FAST, Keys::Range(1, -1, 1), "generic", "1.0.0", "Determine if a key exists", "O(N) where N is the number of keys to check.", Handler::Keyed(exists))
        .with_key_specs(&[
            ks(KS_RO, BeginSearch::Index(1), FindKeys::Range(-1, 1, 0)),
        ])
        .with_tips(&["request_policy:multi_shard", "response_policy:agg_sum"]),
    spec("touch", -2, READONLY | FAST, Keys::Range(1, -1, 1), "generic", "3.2.1", "Alters the last access time of a key(s). Returns the number of existing keys specified.", "O(N) where N is the number of keys that will be touched.", Handler::Keyed(touch))
        .with_key_specs(&[
            ks(KS_RO, BeginSearch::Index(1), FindKeys::Range(-1, 1, 0)),
        ])
        .with_tips(&["request_policy:multi_shard", "response_policy:agg_sum"]),
    spec("type", 2, READONLY | FAST, Keys::Range(1, 1, 1), "generic", "1.0.0", "Determine the type stored at key", "O(1)", Handler::Keyed(type_cmd))
        .with_key_specs(&[
            ks(KS_RO, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("expire", -3, WRITE | FAST, Keys::Range(1, 1, 1), "generic", "1.0.0", "Set a key's time to live in seconds", "O(1)", Handler::Keyed(expire))
        .with_key_specs(&[
            ks(KS_RW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("pexpire", -3, WRITE | FAST, Keys::Range(1, 1, 1), "generic", "2.6.0", "Set a key's time to live in milliseconds", "O(1)", Handler::Keyed(pexpire))
        .with_key_specs(&[
            ks(KS_RW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("expireat", -3, WRITE | FAST, Keys::Range(1, 1, 1), "generic", "1.2.0", "Set the expiration for a key as a UNIX timestamp", "O(1)", Handler::Keyed(expireat))
        .with_key_specs(&[
            ks(KS_RW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("pexpireat", -3, WRITE | FAST, Keys::Range(1, 1, 1), "generic", "2.6.0", "Set the expiration for a key as a UNIX timestamp specified in milliseconds", "O(1)", Handler::Keyed(pexpireat))
        .with_key_specs(&[
            ks(KS_RW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("expiretime", 2, READONLY | FAST, Keys::Range(1, 1, 1), "generic", "7.0.0", "Get the expiration Unix timestamp for a key", "O(1)", Handler::Keyed(expiretime))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("pexpiretime", 2, READONLY | FAST, Keys::Range(1, 1, 1), "generic", "7.0.0", "Get the expiration Unix timestamp for a key in milliseconds", "O(1)", Handler::Keyed(pexpiretime))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("ttl", 2, READONLY | FAST, Keys::Range(1, 1, 1), "generic", "1.0.0", "Get the time to live for a key in seconds", "O(1)", Handler::Keyed(ttl))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output"]),
    spec("pttl", 2, READONLY | FAST, Keys::Range(1, 1, 1), "generic", "2.6.0", "Get the time to live for a key in milliseconds", "O(1)", Handler::Keyed(pttl))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output"]),
    spec("persist", 2, WRITE | FAST, Keys::Range(1, 1, 1), "generic", "2.2.0", "Remove the expiration from a key", "O(1)", Handler::Keyed(persist))
        .with_key_specs(&[
            ks(KS_RW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("rename", 3, WRITE, Keys::Range(1, 2, 1), "generic", "1.0.0", "Rename a key", "O(1)", Handler::Keyed(rename))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_OW | KS_UPDATE, BeginSearch::Index(2), FindKeys::Range(0, 1, 0)),
        ]),
    spec("renamenx", 3, WRITE | FAST, Keys::Range(1, 2, 1), "generic", "1.0.0", "Rename a key, only if the new key does not exist", "O(1)", Handler::Keyed(renamenx))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_OW | KS_INSERT, BeginSearch::Index(2), FindKeys::Range(0, 1, 0)),
        ]),
    spec("copy", -3, WRITE | DENYOOM, Keys::Custom(copy_keys), "generic", "6.2.0", "Copy a key", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.", Handler::Keyed(copy))
        .with_legacy_keys(1, 2, 1)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_OW | KS_UPDATE, BeginSearch::Index(2), FindKeys::Range(0, 1, 0)),
        ]),
    spec("move", 3, WRITE | FAST, Keys::Custom(move_keys), "generic", "1.0.0", "Move a key to another database", "O(1)", Handler::Keyed(move_cmd))
        .with_legacy_keys(1, 1, 1)
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("keys", 2, READONLY | DANGEROUS, Keys::None, "generic", "1.0.0", "Find all keys matching the given pattern", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.", Handler::Coord(keys))
        .with_tips(&["request_policy:all_shards", "nondeterministic_output_order"]),
    spec("scan", -2, READONLY, Keys::None, "generic", "2.8.0", "Incrementally iterate the keys space", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", Handler::Coord(scan))
        .with_tips(&["nondeterministic_output", "request_policy:special"]),
    spec("randomkey", 1, READONLY, Keys::None, "generic", "1.0.0", "Return a random key from the keyspace", "O(1)", Handler::Coord(randomkey))
        .with_tips(&["request_policy:all_shards", "nondeterministic_output"]),
    spec("dbsize", 1, READONLY | FAST, Keys::None, "server", "1.0.0", "Return the number of keys in the selected database", "O(1)", Handler::Coord(dbsize))
        .with_tips(&["request_policy:all_shards", "response_policy:agg_sum"])
        .with_acl(&["@keyspace"]),
    spec("flushdb", -1, WRITE | DANGEROUS, Keys::None, "server", "1.0.0", "Remove all keys from the current database", "O(N) where N is the number of keys in the selected database", Handler::Coord(flushdb))
        .with_tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .with_acl(&["@keyspace"]),
    spec("flushall", -1, WRITE | DANGEROUS, Keys::None, "server", "1.0.0", "Remove all keys from all databases", "O(N) where N is the total number of keys in all databases", Handler::Coord(flushall))
        .with_tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .with_acl(&["@keyspace"]),
    spec("swapdb", 3, WRITE | FAST | DANGEROUS, Keys::None, "server", "4.0.0", "Swaps two Redis databases", "O(N) where N is the count of clients watching or blocking on keys from both databases.", Handler::Coord(swapdb))
        .with_acl(&["@keyspace"]),
    container("object", "generic", "2.2.3", "A container for object introspection commands", OBJECT_SUBCOMMANDS),
];

static OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    spec(
        "object|encoding",
        3,
        READONLY,
        Keys::Range(2, 2, 1),
        "generic",
        "2.2.3",
        "Inspect the internal encoding of a Redis object",
        "O(1)",
        Handler::Keyed(object_encoding),
    )
    .with_key_specs(&[ks(KS_RO, BeginSearch::Index(2), FindKeys::Range(0, 1, 0))])
    .with_tips(&["nondeterministic_output"]),
    spec(
        "object|freq",
        3,
        READONLY,
        Keys::Range(2, 2, 1),
        "generic",
        "4.0.0",
        "Get the logarithmic access frequency counter of a Redis object",
        "O(1)",
        Handler::Keyed(object_freq),
    )
    .with_key_specs(&[ks(KS_RO, BeginSearch::Index(2), FindKeys::Range(0, 1, 0))])
    .with_tips(&["nondeterministic_output"]),
    spec(
        "object|idletime",
        3,
        READONLY,
        Keys::Range(2, 2, 1),
        "generic",
        "2.2.3",
        "Get the time since a Redis object was last accessed",
        "O(1)",
        Handler::Keyed(object_idletime),
    )
    .with_key_specs(&[ks(KS_RO, BeginSearch::Index(2), FindKeys::Range(0, 1, 0))])
    .with_tips(&["nondeterministic_output"]),
    spec(
        "object|refcount",
        3,
        READONLY,
        Keys::Range(2, 2, 1),
        "generic",
        "2.2.3",
        "Get the number of references to the value of the key",
        "O(1)",
        Handler::Keyed(object_refcount),
    )
    .with_key_specs(&[ks(KS_RO, BeginSearch::Index(2), FindKeys::Range(0, 1, 0))])
    .with_tips(&["nondeterministic_output"]),
    spec(
        "object|help",
        2,
        LOADING | STALE,
        Keys::None,
        "generic",
        "6.2.0",
        "Show helpful text about the different subcommands",
        "O(1)",
        Handler::Local(object_help),
    ),
];

// ---------------------------------------------------------------------------------------------
// Key specs that depend on the arguments.

/// Parses a database index the way Redis's `getIntFromObject` does (a C int).
fn parse_db_index(b: &[u8]) -> Option<i64> {
    parse_i64(b).filter(|n| i32::try_from(*n).is_ok())
}

/// COPY source destination [DB n] [REPLACE]: the destination lives in db n when given.
fn copy_keys(argv: &[Bytes], out: &mut Vec<usize>) {
    out.push(1);
    if argv.len() < 3 {
        return;
    }
    let mut target = None;
    let mut j = 3;
    while j < argv.len() {
        if eq_ic(&argv[j], "db") && j + 1 < argv.len() {
            target = parse_db_index(&argv[j + 1]).and_then(|n| usize::try_from(n).ok());
            j += 1;
        }
        j += 1;
    }
    if let Some(n) = target {
        out.push(IN_DB + n);
    }
    out.push(2);
}

/// MOVE key db: the key in this db and the same key in the target db (so both are locked).
fn move_keys(argv: &[Bytes], out: &mut Vec<usize>) {
    out.push(1);
    if let Some(n) = argv
        .get(2)
        .and_then(|b| parse_db_index(b))
        .and_then(|n| usize::try_from(n).ok())
    {
        out.push(IN_DB + n);
        out.push(1);
    }
}

// ---------------------------------------------------------------------------------------------
// DEL UNLINK EXISTS TOUCH TYPE

fn del(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    let mut n = 0;
    for k in &argv[1..] {
        if ctx.db().remove(k, now).is_some() {
            n += 1;
            ctx.notify(NOTIFY_GENERIC, "del", k);
        }
    }
    ctx.dirty += n as u64;
    ctx.out.int(n);
}

/// A read lookup as Redis's lookupKeyReadWithFlags does it: lazy expiry, a keyspace hit or
/// miss counted (INFO stats), the LRU clock updated unless `notouch`.
fn lookup_read<'a>(ctx: &'a mut Ctx, key: &[u8], notouch: bool) -> Option<&'a Entry> {
    lookup_read_with(ctx, key, notouch, true)
}

/// OBJECT's lookup (LOOKUP_NOTOUCH | LOOKUP_NONOTIFY): no LRU update, no `keymiss` event.
fn object_lookup<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Option<&'a Entry> {
    lookup_read_with(ctx, key, true, false)
}

fn lookup_read_with<'a>(
    ctx: &'a mut Ctx,
    key: &[u8],
    notouch: bool,
    notify: bool,
) -> Option<&'a Entry> {
    let (now, dbi) = (ctx.now, ctx.db);
    let db = &mut ctx.dbs[dbi];
    let e = if notouch {
        db.peek(key, now)
    } else {
        db.get(key, now)
    };
    if e.is_some() {
        ctx.stats.keyspace_hits += 1;
    } else {
        ctx.stats.keyspace_misses += 1;
        if notify {
            super::key_miss(dbi, key);
        }
    }
    e
}

fn exists(ctx: &mut Ctx, argv: &[Bytes]) {
    let n = argv[1..]
        .iter()
        .filter(|k| lookup_read(ctx, k, true).is_some())
        .count();
    ctx.out.int(n as i64);
}

fn touch(ctx: &mut Ctx, argv: &[Bytes]) {
    let n = argv[1..]
        .iter()
        .filter(|k| lookup_read(ctx, k, false).is_some())
        .count();
    ctx.out.int(n as i64);
}

fn type_cmd(ctx: &mut Ctx, argv: &[Bytes]) {
    let t = lookup_read(ctx, &argv[1], true).map_or("none", |e| e.value.type_name());
    ctx.out.simple(t);
}

// ---------------------------------------------------------------------------------------------
// EXPIRE PEXPIRE EXPIREAT PEXPIREAT

/// EXPIRE's NX XX GT LT.
#[derive(Default, Clone, Copy, Debug, PartialEq)]
pub struct ExpireFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
}

pub fn parse_expire_flags(args: &[Bytes]) -> Result<ExpireFlags, String> {
    let mut f = ExpireFlags::default();
    for a in args {
        if eq_ic(a, "nx") {
            f.nx = true;
        } else if eq_ic(a, "xx") {
            f.xx = true;
        } else if eq_ic(a, "gt") {
            f.gt = true;
        } else if eq_ic(a, "lt") {
            f.lt = true;
        } else {
            return Err(errors::unsupported_option(a));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(errors::EXPIRE_NX_CONFLICT.into());
    }
    if f.gt && f.lt {
        return Err(errors::EXPIRE_GT_LT_CONFLICT.into());
    }
    Ok(f)
}

/// Converts EXPIRE's argument to an absolute unix time in ms, or None on overflow (Redis's
/// checks: the unit conversion, then adding the base time).
pub fn expire_deadline(n: i64, seconds: bool, base: i64) -> Option<i64> {
    let ms = if seconds { n.checked_mul(1000)? } else { n };
    if ms > i64::MAX - base {
        return None;
    }
    Some(ms + base)
}

/// Whether an EXPIRE-family deadline deletes the key at once (Redis's checkAlreadyExpired). A
/// replica sets a past deadline instead: the key is then hidden from reads and goes with the
/// master's DEL, so a PEXPIREAT that reaches it late (the stream is behind the master's
/// clock) does not make it drop a key its master still holds.
fn deadline_passed(when: i64, now: i64) -> bool {
    when <= now && !crate::keyspace::expiry::replica()
}

/// Sets `key` to expire at `when` under `flags`. Returns whether the TTL was set (1) or not
/// (0); a time already past deletes the key and counts as set.
pub fn op_expire(db: &mut Db, key: &[u8], when: i64, flags: ExpireFlags, now: i64) -> bool {
    let Some(e) = db.get_mut(key, now) else {
        return false;
    };
    let current = e.expire_at;
    if (flags.nx && current != NO_EXPIRE)
        || (flags.xx && current == NO_EXPIRE)
        || (flags.gt && (current == NO_EXPIRE || when <= current))
        || (flags.lt && current != NO_EXPIRE && when >= current)
    {
        return false;
    }
    if deadline_passed(when, now) {
        db.remove(key, now);
    } else {
        db.set_expire(key, when, now);
    }
    true
}

fn expire_generic(ctx: &mut Ctx, argv: &[Bytes], seconds: bool, absolute: bool, name: &str) {
    let flags = match parse_expire_flags(&argv[3..]) {
        Ok(f) => f,
        Err(e) => return ctx.error(&e),
    };
    let Some(n) = parse_i64(&argv[2]) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    let base = if absolute { 0 } else { ctx.now };
    let Some(when) = expire_deadline(n, seconds, base) else {
        return ctx.error(&errors::invalid_expire(name));
    };
    let now = ctx.now;
    let set = op_expire(ctx.db(), &argv[1], when, flags, now);
    if set {
        ctx.dirty += 1;
        let deleted = deadline_passed(when, now);
        if ctx.propagating() {
            // Absolute, so a replay later sets the same deadline (Redis: PEXPIREAT with the
            // flags kept, or DEL/UNLINK when the deadline had already passed).
            let effect = if deleted {
                vec![
                    crate::shard::journal::expiry_delete_command(),
                    argv[1].clone(),
                ]
            } else {
                let mut v = vec![
                    Bytes::from_static(b"PEXPIREAT"),
                    argv[1].clone(),
                    crate::shard::journal::int_arg(when),
                ];
                v.extend_from_slice(&argv[3..]);
                v
            };
            ctx.rewrite(effect);
        }
        let event = if deleted { "del" } else { "expire" };
        ctx.notify(NOTIFY_GENERIC, event, &argv[1]);
    }
    ctx.out.int(set as i64);
}

fn expire(ctx: &mut Ctx, argv: &[Bytes]) {
    expire_generic(ctx, argv, true, false, "expire")
}

fn pexpire(ctx: &mut Ctx, argv: &[Bytes]) {
    expire_generic(ctx, argv, false, false, "pexpire")
}

fn expireat(ctx: &mut Ctx, argv: &[Bytes]) {
    expire_generic(ctx, argv, true, true, "expireat")
}

fn pexpireat(ctx: &mut Ctx, argv: &[Bytes]) {
    expire_generic(ctx, argv, false, true, "pexpireat")
}

// ---------------------------------------------------------------------------------------------
// TTL PTTL EXPIRETIME PEXPIRETIME PERSIST

/// Redis's ttlGenericCommand: -2 no key, -1 no TTL, else the remaining (or absolute) time,
/// seconds rounded to the nearest.
pub fn op_ttl(db: &mut Db, key: &[u8], ms: bool, absolute: bool, now: i64) -> i64 {
    let Some(e) = db.peek(key, now) else {
        return -2;
    };
    if e.expire_at == NO_EXPIRE {
        return -1;
    }
    let t = if absolute {
        e.expire_at
    } else {
        e.expire_at - now
    }
    .max(0);
    if ms {
        t
    } else {
        (t + 500) / 1000
    }
}

fn ttl_generic(ctx: &mut Ctx, argv: &[Bytes], ms: bool, absolute: bool) {
    let now = ctx.now;
    let t = op_ttl(ctx.db(), &argv[1], ms, absolute, now);
    if t == -2 {
        ctx.stats.keyspace_misses += 1;
        super::key_miss(ctx.db, &argv[1]);
    } else {
        ctx.stats.keyspace_hits += 1;
    }
    ctx.out.int(t);
}

fn ttl(ctx: &mut Ctx, argv: &[Bytes]) {
    ttl_generic(ctx, argv, false, false)
}

fn pttl(ctx: &mut Ctx, argv: &[Bytes]) {
    ttl_generic(ctx, argv, true, false)
}

fn expiretime(ctx: &mut Ctx, argv: &[Bytes]) {
    ttl_generic(ctx, argv, false, true)
}

fn pexpiretime(ctx: &mut Ctx, argv: &[Bytes]) {
    ttl_generic(ctx, argv, true, true)
}

fn persist(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    let db = ctx.db();
    let had_ttl = db
        .peek(&argv[1], now)
        .is_some_and(|e| e.expire_at != NO_EXPIRE);
    if had_ttl {
        db.set_expire(&argv[1], NO_EXPIRE, now);
        ctx.dirty += 1;
        ctx.notify(NOTIFY_GENERIC, "persist", &argv[1]);
    }
    ctx.out.int(had_ttl as i64);
}

// ---------------------------------------------------------------------------------------------
// RENAME RENAMENX COPY MOVE

#[derive(Debug, PartialEq)]
pub enum Renamed {
    Done,
    /// RENAMENX found the destination taken (or source and destination are the same key).
    Kept,
}

/// Renames `src` to `dst` keeping its TTL. Err(NO_SUCH_KEY) when `src` is absent.
pub fn op_rename(
    db: &mut Db,
    src: &[u8],
    dst: &[u8],
    nx: bool,
    now: i64,
) -> Result<Renamed, &'static str> {
    if !db.exists(src, now) {
        return Err(errors::NO_SUCH_KEY);
    }
    if src == dst {
        return Ok(if nx { Renamed::Kept } else { Renamed::Done });
    }
    if nx && db.exists(dst, now) {
        return Ok(Renamed::Kept);
    }
    let Some(entry) = db.remove(src, now) else {
        return Err(errors::NO_SUCH_KEY);
    };
    // Like Redis (dbDelete + dbAdd): the destination is a new key ("new" event).
    db.remove(dst, now);
    db.put_entry(dst, entry);
    Ok(Renamed::Done)
}

fn rename_generic(ctx: &mut Ctx, argv: &[Bytes], nx: bool) {
    let now = ctx.now;
    match op_rename(ctx.db(), &argv[1], &argv[2], nx, now) {
        Err(e) => ctx.error(e),
        Ok(r) => {
            let moved = r == Renamed::Done && argv[1] != argv[2];
            if moved {
                ctx.dirty += 1;
                ctx.notify(NOTIFY_GENERIC, "rename_from", &argv[1]);
                ctx.notify(NOTIFY_GENERIC, "rename_to", &argv[2]);
            }
            if nx {
                ctx.out.int(moved as i64);
            } else {
                ctx.out.ok();
            }
        }
    }
}

fn rename(ctx: &mut Ctx, argv: &[Bytes]) {
    rename_generic(ctx, argv, false)
}

fn renamenx(ctx: &mut Ctx, argv: &[Bytes]) {
    rename_generic(ctx, argv, true)
}

/// Copies `src` of db `from` to `dst` of db `to` with its TTL. Returns false when `src` is
/// absent or `dst` exists and `replace` is off.
pub fn op_copy(
    dbs: &mut [Db],
    from: usize,
    to: usize,
    src: &[u8],
    dst: &[u8],
    replace: bool,
    now: i64,
) -> bool {
    let Some(entry) = dbs[from].get(src, now).cloned() else {
        super::key_miss(from, src);
        return false;
    };
    if !replace && dbs[to].exists(dst, now) {
        return false;
    }
    // Like Redis (dbDelete + dbAdd): the destination is a new key ("new" event).
    dbs[to].remove(dst, now);
    dbs[to].put_entry(dst, Entry::clone(&entry));
    true
}

/// Resolves a database index argument: the integer errors of Redis's `getIntFromObject`, then
/// the range error.
fn db_index(arg: &[u8], ndbs: usize) -> Result<usize, &'static str> {
    let n = parse_i64(arg).ok_or(errors::NOT_INTEGER)?;
    let n = i32::try_from(n).map_err(|_| errors::INT_RANGE)?;
    usize::try_from(n)
        .ok()
        .filter(|&n| n < ndbs)
        .ok_or(errors::DB_INDEX)
}

fn copy(ctx: &mut Ctx, argv: &[Bytes]) {
    let mut replace = false;
    let mut to = ctx.db;
    let mut j = 3;
    while j < argv.len() {
        if eq_ic(&argv[j], "replace") {
            replace = true;
        } else if eq_ic(&argv[j], "db") && j + 1 < argv.len() {
            match db_index(&argv[j + 1], ctx.dbs.len()) {
                Ok(n) => to = n,
                Err(e) => return ctx.error(e),
            }
            j += 1;
        } else {
            return ctx.error(errors::SYNTAX);
        }
        j += 1;
    }
    if to == ctx.db && argv[1] == argv[2] {
        return ctx.error(errors::SAME_OBJECT);
    }
    let (from, now) = (ctx.db, ctx.now);
    let done = op_copy(ctx.dbs, from, to, &argv[1], &argv[2], replace, now);
    if done {
        ctx.dirty += 1;
        notify::record(NOTIFY_GENERIC, "copy_to", to, &argv[2]);
    }
    ctx.out.int(done as i64);
}

/// Moves `key` from db `from` to db `to` with its TTL, unless it is absent or taken there.
pub fn op_move(dbs: &mut [Db], from: usize, to: usize, key: &[u8], now: i64) -> bool {
    if !dbs[from].exists(key, now) || dbs[to].exists(key, now) {
        return false;
    }
    match dbs[from].remove(key, now) {
        Some(e) => {
            dbs[to].put_entry(key, e);
            true
        }
        None => false,
    }
}

fn move_cmd(ctx: &mut Ctx, argv: &[Bytes]) {
    let to = match db_index(&argv[2], ctx.dbs.len()) {
        Ok(n) => n,
        Err(e) => return ctx.error(e),
    };
    if to == ctx.db {
        return ctx.error(errors::SAME_OBJECT);
    }
    let (from, now) = (ctx.db, ctx.now);
    let done = op_move(ctx.dbs, from, to, &argv[1], now);
    if done {
        ctx.dirty += 1;
        notify::record(NOTIFY_GENERIC, "move_from", from, &argv[1]);
        notify::record(NOTIFY_GENERIC, "move_to", to, &argv[1]);
    }
    ctx.out.int(done as i64);
}

// ---------------------------------------------------------------------------------------------
// OBJECT

/// The maxmemory-policy family: (LRU or LFU based, LFU based).
fn eviction_policy() -> (bool, bool) {
    crate::shard::current().map_or((false, false), |sh| {
        let cfg = sh.shared.config();
        let p = cfg.maxmemory_policy.as_str();
        let lfu = p.contains("lfu");
        ((p.contains("lru") || lfu) && cfg.maxmemory != 0, lfu)
    })
}

fn object_encoding(ctx: &mut Ctx, argv: &[Bytes]) {
    match object_lookup(ctx, &argv[2]).map(|e| e.value.encoding()) {
        Some(enc) => ctx.out.bulk(enc.as_bytes()),
        None => ctx.out.null(),
    }
}

/// Redis keeps one shared object for each integer 0..9999 (unless an LRU/LFU maxmemory policy
/// needs per-key access data), which OBJECT REFCOUNT shows as INT_MAX.
pub fn refcount(v: &Value, shared_ints: bool) -> i64 {
    match v {
        Value::Str(RString::Int(i)) if shared_ints && (0..10_000).contains(i) => i32::MAX as i64,
        _ => 1,
    }
}

fn object_refcount(ctx: &mut Ctx, argv: &[Bytes]) {
    let shared_ints = !eviction_policy().0;
    match object_lookup(ctx, &argv[2]).map(|e| refcount(&e.value, shared_ints)) {
        Some(n) => ctx.out.int(n),
        None => ctx.out.null(),
    }
}

/// Seconds since the entry was last accessed, on the cached LRU clock that stamps accesses
/// (mixing it with the precise clock made IDLETIME read 1 right after a write near a second
/// boundary).
fn idle_secs(e: &Entry) -> i64 {
    crate::keyspace::lru_clock().wrapping_sub(e.lru) as i64
}

fn object_idletime(ctx: &mut Ctx, argv: &[Bytes]) {
    let Some(idle) = object_lookup(ctx, &argv[2]).map(idle_secs) else {
        return ctx.out.null();
    };
    if eviction_policy().1 {
        return ctx.error(errors::LFU_SELECTED);
    }
    ctx.out.int(idle);
}

/// The LFU counter, decayed by the minutes since its last decrement (Redis's
/// LFUDecrAndReturn); the lookup does not count as an access.
fn object_freq(ctx: &mut Ctx, argv: &[Bytes]) {
    let Some(freq) = object_lookup(ctx, &argv[2]).map(|e| evict::lfu_freq(e.lru)) else {
        return ctx.out.null();
    };
    if !eviction_policy().1 {
        return ctx.error(errors::LFU_NOT_SELECTED);
    }
    ctx.out.int(freq as i64);
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

fn object_help(ctx: &mut Ctx, _argv: &[Bytes]) {
    ctx.out.array(OBJECT_HELP.len());
    for l in OBJECT_HELP {
        ctx.out.simple(l);
    }
}

// ---------------------------------------------------------------------------------------------
// KEYS SCAN RANDOMKEY (gather over every shard)

/// The live keys of `db` matching `pattern` (`*` skips matching).
fn matching_keys<'a>(
    db: &'a Db,
    pattern: &'a [u8],
    now: i64,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    let all = pattern == b"*";
    db.iter()
        .filter(move |(k, e)| {
            (e.expire_at == NO_EXPIRE || e.expire_at > now)
                && (all || stringmatch(pattern, k, false))
        })
        .map(|(k, _)| k)
}

/// The live keys of `db` matching `pattern` (`*` skips matching).
pub fn op_keys(db: &Db, pattern: &[u8], now: i64) -> Vec<Box<[u8]>> {
    matching_keys(db, pattern, now).map(Into::into).collect()
}

/// KEYS on one shard: its matching keys as reply bulks, written as they are found (no copy of
/// the keys besides the reply), how many, and whether the reply stopped at the output limit.
fn op_keys_reply(db: &Db, pattern: &[u8], now: i64, proto: Proto) -> (usize, Bytes, bool) {
    let mut out = ReplyBuf::new(proto);
    let mut n = 0;
    for k in matching_keys(db, pattern, now) {
        if out.stop() {
            break;
        }
        out.bulk(k);
        n += 1;
    }
    (n, out.buf.freeze(), out.closing)
}

fn keys<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        let db = conn.db;
        let pattern = argv[1].clone();
        let proto = conn.proto();
        let parts = Mesh::run_on_all(&conn.shard, move |sh| {
            op_keys_reply(&sh.data.borrow().dbs[db], &pattern, now_ms(), proto)
        })
        .await;
        let n = parts.iter().map(|p| p.0).sum();
        conn.out.array(n);
        for (_, bulks, closing) in &parts {
            conn.out.absorb(bulks, *closing);
        }
    })
}

/// Parses a SCAN cursor like Redis's `strtoul`-based parser: an optional sign (a negative
/// number wraps), decimal digits, nothing else; the empty string is 0.
pub fn parse_cursor(b: &[u8]) -> Option<u64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return if b.is_empty() { Some(0) } else { None };
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Splits a SCAN cursor into (shard, position in that shard's table).
pub fn decode_cursor(cursor: u64, nshards: usize) -> (usize, u64) {
    let n = nshards.max(1) as u64;
    ((cursor % n) as usize, cursor / n)
}

pub fn encode_cursor(shard: usize, pos: u64, nshards: usize) -> u64 {
    pos.saturating_mul(nshards as u64)
        .saturating_add(shard as u64)
}

pub struct ScanOpts {
    pub count: usize,
    pub pattern: Option<Bytes>,
    pub type_name: Option<Bytes>,
}

pub fn parse_scan_opts(args: &[Bytes]) -> Result<ScanOpts, &'static str> {
    let mut o = ScanOpts {
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = 0;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if eq_ic(&args[i], "count") && has_value {
            let n = parse_i64(&args[i + 1]).ok_or(errors::NOT_INTEGER)?;
            if n < 1 {
                return Err(errors::SYNTAX);
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if eq_ic(&args[i], "match") && has_value {
            let p = args[i + 1].clone();
            o.pattern = (&p[..] != b"*").then_some(p);
        } else if eq_ic(&args[i], "type") && has_value {
            o.type_name = Some(args[i + 1].clone());
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    Ok(o)
}

/// One SCAN step on one shard's db: visits up to `count` slots below `pos` (0 = from the top)
/// and returns (next position or 0 when done, the live keys passing the filters, slots
/// visited).
pub fn op_scan(
    db: &Db,
    pos: u64,
    count: usize,
    pattern: Option<&[u8]>,
    type_name: Option<&[u8]>,
    now: i64,
) -> (u64, Vec<Box<[u8]>>, usize) {
    let top = if pos == 0 {
        db.len() as u64
    } else {
        pos.min(db.len() as u64)
    };
    let mut keys = Vec::new();
    let next = db.scan(pos, count, now, |k, e| {
        if pattern.is_none_or(|p| stringmatch(p, k, false))
            && type_name.is_none_or(|t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes()))
        {
            keys.push(k.into());
        }
    });
    (next, keys, (top - next) as usize)
}

fn scan<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        let Some(cursor) = parse_cursor(&argv[1]) else {
            return conn.error(errors::INVALID_CURSOR);
        };
        let opts = match parse_scan_opts(&argv[2..]) {
            Ok(o) => o,
            Err(e) => return conn.error(e),
        };
        let n = conn.shard.nshards;
        let db = conn.db;
        let (mut shard, mut pos) = decode_cursor(cursor, n);
        let mut keys = Vec::new();
        let mut visited = 0usize;
        // Walk shard after shard until COUNT slots were visited or the last shard is done.
        let next = loop {
            let want = opts.count.saturating_sub(visited).max(1);
            let pattern = opts.pattern.clone();
            let type_name = opts.type_name.clone();
            let (next, got, v) = Mesh::run_on(&conn.shard, shard, move |sh| {
                op_scan(
                    &sh.data.borrow().dbs[db],
                    pos,
                    want,
                    pattern.as_deref(),
                    type_name.as_deref(),
                    now_ms(),
                )
            })
            .await;
            keys.extend(got);
            visited += v;
            if next != 0 {
                break encode_cursor(shard, next, n);
            }
            shard += 1;
            pos = 0;
            if shard >= n {
                break 0;
            }
            if visited >= opts.count {
                break encode_cursor(shard, 0, n);
            }
        };
        conn.out.array(2);
        conn.out.bulk(itoa::Buffer::new().format(next).as_bytes());
        conn.out.array(keys.len());
        for k in &keys {
            if conn.out.stop() {
                break;
            }
            conn.out.bulk(k);
        }
    })
}

fn randomkey<'a>(conn: &'a mut Conn, _argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        let db = conn.db;
        let mut sizes =
            Mesh::run_on_all(&conn.shard, move |sh| sh.data.borrow().dbs[db].len()).await;
        // Pick a shard weighted by its share of the db, then a key there; a shard whose keys
        // all turned out expired drops out.
        loop {
            let total: usize = sizes.iter().sum();
            if total == 0 {
                return conn.out.null();
            }
            let mut r = rand::rng().random_range(0..total);
            let mut target = 0;
            for (s, &len) in sizes.iter().enumerate() {
                if r < len {
                    target = s;
                    break;
                }
                r -= len;
            }
            let key = Mesh::run_on(&conn.shard, target, move |sh| {
                let mut data = sh.data.borrow_mut();
                let data = &mut *data;
                data.dbs[db].random_key(now_ms(), &mut data.rng)
            })
            .await;
            match key {
                Some(k) => return conn.out.bulk(&k),
                None => sizes[target] = 0,
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------
// DBSIZE FLUSHDB FLUSHALL SWAPDB

fn dbsize<'a>(conn: &'a mut Conn, _argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        let db = conn.db;
        // Like Redis, counts keys whose TTL passed but that were not reclaimed yet.
        let n: usize = Mesh::run_on_all(&conn.shard, move |sh| sh.data.borrow().dbs[db].len())
            .await
            .into_iter()
            .sum();
        conn.out.int(n as i64);
    })
}

/// FLUSHDB/FLUSHALL [ASYNC|SYNC].
fn flush_mode_ok(argv: &[Bytes]) -> bool {
    match argv.len() {
        1 => true,
        2 => eq_ic(&argv[1], "async") || eq_ic(&argv[1], "sync"),
        _ => false,
    }
}

/// Empties db `which` (None: every db) on every shard; returns the number of keys removed.
async fn flush(conn: &Conn, which: Option<usize>) -> u64 {
    let removed: u64 = Mesh::run_on_all(&conn.shard, move |sh| {
        let mut data = sh.data.borrow_mut();
        let mut removed = 0;
        for (i, d) in data.dbs.iter_mut().enumerate() {
            if which.is_none_or(|w| w == i) {
                removed += d.len() as u64;
                d.clear();
            }
        }
        removed
    })
    .await
    .into_iter()
    .sum();
    // Every tracking client drops its whole cache (trackingInvalidateKeysOnFlush).
    crate::net::tracking::flush(&conn.shard).await;
    removed
}

fn flushdb<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        if !flush_mode_ok(argv) {
            return conn.error(errors::SYNTAX);
        }
        let removed = flush(conn, Some(conn.db)).await;
        conn.shard.shared.dirty.add(conn.shard.id, removed);
        conn.out.ok();
    })
}

fn flushall<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        if !flush_mode_ok(argv) {
            return conn.error(errors::SYNTAX);
        }
        let removed = flush(conn, None).await;
        let shared = conn.shard.shared.clone();
        // Like redis-server 7.0.15: dirty grows by the keys removed, and with save points the
        // now empty dataset is saved at once (which resets it).
        shared.dirty.add(conn.shard.id, removed);
        if !shared.config().save_params.is_empty() {
            // A gate pass is held by the EXEC block, or by the AOF's write path (coord_write).
            let held = usize::from(super::persist::in_exec(conn) || conn.shard.shared.hub.active());
            let shard = conn.shard.clone();
            let _ = crate::persistence::snapshot::save_now(&shard, held).await;
        }
        conn.out.ok();
    })
}

fn swapdb<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        let Some(a) = parse_db_index(&argv[1]) else {
            return conn.error(errors::INVALID_FIRST_DB);
        };
        let Some(b) = parse_db_index(&argv[2]) else {
            return conn.error(errors::INVALID_SECOND_DB);
        };
        let ndbs = conn.shard.data.borrow().dbs.len() as i64;
        if !(0..ndbs).contains(&a) || !(0..ndbs).contains(&b) {
            return conn.error(errors::DB_INDEX);
        }
        let (a, b) = (a as usize, b as usize);
        if a != b {
            Mesh::run_on_all(&conn.shard, move |sh| {
                let now = now_ms();
                crate::shard::watch::swap_dbs(&mut sh.data.borrow_mut().dbs, a, b, now);
                // Clients blocked on keys of either db are served from what is there now.
                crate::shard::blocking::signal_dbs(sh, &[a as u32, b as u32]);
            })
            .await;
        }
        conn.shard.shared.dirty.add(conn.shard.id, 1);
        conn.out.ok();
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_with(keys: &[&str]) -> Db {
        let mut db = Db::new();
        for k in keys {
            db.set(k.as_bytes(), Value::from_bytes(b"v"));
        }
        db
    }

    #[test]
    fn cursor_round_trips_and_zero_is_start() {
        for n in 1..5 {
            for s in 0..n {
                for pos in [0u64, 1, 7, 1 << 40] {
                    assert_eq!(decode_cursor(encode_cursor(s, pos, n), n), (s, pos));
                }
            }
            assert_eq!(decode_cursor(0, n), (0, 0));
        }
    }

    #[test]
    fn cursor_parses_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"+12"), Some(12));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b"abc"), None);
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"1 "), None);
        assert_eq!(parse_cursor(b"-"), None);
    }

    #[test]
    fn scan_over_shards_returns_every_key_once_without_churn() {
        let n = 3;
        let mut shards: Vec<Db> = (0..n).map(|_| Db::new()).collect();
        for i in 0..100 {
            let k = format!("k{i}");
            shards[crate::shard::shard_of(k.as_bytes(), n)]
                .set(k.as_bytes(), Value::from_bytes(b"v"));
        }
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            let (s, pos) = decode_cursor(cursor, n);
            let (next, keys, _) = op_scan(&shards[s], pos, 7, None, None, 0);
            seen.extend(keys);
            cursor = if next != 0 {
                encode_cursor(s, next, n)
            } else if s + 1 < n {
                encode_cursor(s + 1, 0, n)
            } else {
                0
            };
            if cursor == 0 {
                break;
            }
        }
        seen.sort();
        let before = seen.len();
        seen.dedup();
        assert_eq!(before, 100);
        assert_eq!(seen.len(), 100);
    }

    #[test]
    fn scan_filters_match_type_and_expired() {
        let mut db = db_with(&["one", "two", "three"]);
        db.set_expire(b"two", 10, 0);
        let (next, mut keys, visited) = op_scan(&db, 0, 10, Some(b"t*"), None, 100);
        keys.sort();
        assert_eq!((next, visited), (0, 3));
        assert_eq!(keys, vec![Box::<[u8]>::from(&b"three"[..])]);
        let (_, keys, _) = op_scan(&db, 0, 10, None, Some(b"hash"), 100);
        assert!(keys.is_empty());
        let (_, keys, _) = op_scan(&db, 0, 10, None, Some(b"STRING"), 100);
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn keys_skips_expired_and_matches_globs() {
        let mut db = db_with(&["hello", "hallo", "h?llo", "x"]);
        db.set_expire(b"hallo", 10, 0);
        let mut k = op_keys(&db, b"h?llo", 100);
        k.sort();
        assert_eq!(k.len(), 2);
        assert_eq!(op_keys(&db, b"h\\?llo", 100).len(), 1);
        assert_eq!(op_keys(&db, b"*", 100).len(), 3);
    }

    #[test]
    fn expire_flags_parse_and_conflict() {
        let b = |v: &[&str]| {
            v.iter()
                .map(|s| Bytes::from(s.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            parse_expire_flags(&b(&["xx", "GT"])),
            Ok(ExpireFlags {
                xx: true,
                gt: true,
                ..Default::default()
            })
        );
        assert_eq!(
            parse_expire_flags(&b(&["nx", "xx"])),
            Err(errors::EXPIRE_NX_CONFLICT.to_string())
        );
        assert_eq!(
            parse_expire_flags(&b(&["gt", "lt"])),
            Err(errors::EXPIRE_GT_LT_CONFLICT.to_string())
        );
        assert_eq!(
            parse_expire_flags(&b(&["bad"])),
            Err("ERR Unsupported option bad".to_string())
        );
    }

    #[test]
    fn expire_deadline_overflow() {
        assert_eq!(expire_deadline(10, true, 5), Some(10_005));
        assert_eq!(expire_deadline(i64::MAX, true, 0), None);
        assert_eq!(expire_deadline(i64::MAX / 1000, true, 1_000_000), None);
        assert_eq!(expire_deadline(i64::MIN, true, 0), None);
        assert_eq!(expire_deadline(-5, false, 0), Some(-5));
    }

    #[test]
    fn expire_gt_lt_nx_xx_semantics() {
        let mut db = db_with(&["k"]);
        let none = ExpireFlags::default();
        let gt = ExpireFlags { gt: true, ..none };
        let lt = ExpireFlags { lt: true, ..none };
        let xx = ExpireFlags { xx: true, ..none };
        assert!(!op_expire(&mut db, b"k", 5000, gt, 0), "GT on no TTL fails");
        assert!(!op_expire(&mut db, b"k", 5000, xx, 0));
        assert!(
            op_expire(&mut db, b"k", 5000, lt, 0),
            "LT on no TTL succeeds"
        );
        assert!(!op_expire(&mut db, b"k", 6000, lt, 0));
        assert!(op_expire(&mut db, b"k", 6000, gt, 0));
        assert_eq!(op_ttl(&mut db, b"k", true, false, 0), 6000);
        assert!(op_expire(&mut db, b"k", 0, none, 10), "past time deletes");
        assert_eq!(op_ttl(&mut db, b"k", true, false, 10), -2);
        assert!(!op_expire(&mut db, b"nokey", 100, none, 0));
    }

    #[test]
    fn ttl_rounds_seconds_like_redis() {
        let mut db = db_with(&["k"]);
        db.set_expire(b"k", 4_102_444_800_555, 0);
        assert_eq!(op_ttl(&mut db, b"k", false, true, 0), 4_102_444_801);
        assert_eq!(op_ttl(&mut db, b"k", true, true, 0), 4_102_444_800_555);
        assert_eq!(op_ttl(&mut db, b"nokey", false, false, 0), -2);
        db.set(b"p", Value::from_bytes(b"v"));
        assert_eq!(op_ttl(&mut db, b"p", false, false, 0), -1);
    }

    #[test]
    fn rename_keeps_ttl_and_copy_move_across_dbs() {
        let mut dbs = vec![Db::new(), Db::new()];
        dbs[0].set(b"a", Value::from_bytes(b"1"));
        dbs[0].set_expire(b"a", 9_000, 0);
        assert_eq!(
            op_rename(&mut dbs[0], b"a", b"b", false, 0),
            Ok(Renamed::Done)
        );
        assert_eq!(op_ttl(&mut dbs[0], b"b", true, false, 0), 9_000);
        assert_eq!(
            op_rename(&mut dbs[0], b"a", b"c", false, 0),
            Err(errors::NO_SUCH_KEY)
        );
        assert_eq!(
            op_rename(&mut dbs[0], b"b", b"b", true, 0),
            Ok(Renamed::Kept)
        );
        assert!(op_copy(&mut dbs, 0, 1, b"b", b"b", false, 0));
        assert!(!op_copy(&mut dbs, 0, 1, b"b", b"b", false, 0));
        assert_eq!(op_ttl(&mut dbs[1], b"b", true, false, 0), 9_000);
        assert!(!op_move(&mut dbs, 0, 1, b"b", 0), "taken in the target db");
        dbs[1].remove(b"b", 0);
        assert!(op_move(&mut dbs, 0, 1, b"b", 0));
        assert!(!dbs[0].exists(b"b", 0));
    }

    #[test]
    fn copy_key_spec_exposes_target_db() {
        let argv: Vec<Bytes> = ["COPY", "s", "d", "DB", "3", "REPLACE"]
            .iter()
            .map(|s| Bytes::from(s.to_string()))
            .collect();
        let spec = COMMANDS
            .iter()
            .find(|s| s.name == "copy")
            .expect("copy spec");
        let mut pos = Vec::new();
        spec.key_positions(&argv, &mut pos);
        assert_eq!(pos, vec![1, 2]);
        let mut with_db = Vec::new();
        spec.keys_with_db(&argv, 0, 16, &mut with_db);
        assert_eq!(with_db, vec![(0, 1), (3, 2)]);
        with_db.clear();
        spec.keys_with_db(&argv, 0, 2, &mut with_db);
        assert_eq!(
            with_db,
            vec![(0, 1), (0, 2)],
            "out of range target falls back"
        );
    }

    #[test]
    fn shared_integer_refcount() {
        assert_eq!(refcount(&Value::from_bytes(b"100"), true), i32::MAX as i64);
        assert_eq!(refcount(&Value::from_bytes(b"100"), false), 1);
        assert_eq!(refcount(&Value::from_bytes(b"12345"), true), 1);
        assert_eq!(refcount(&Value::from_bytes(b"-1"), true), 1);
    }
}
