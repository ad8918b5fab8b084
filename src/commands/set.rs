//! The @set family.

use super::errors;
use super::glob::stringmatch;
use super::hash::{parse_random_count, parse_scan_opts, pick_random, reply_scan};
use super::keys::parse_cursor;
use super::spec::*;
use super::{eq_ic, parse_i64, Ctx, Handler};
use crate::keyspace::notify::{self, NOTIFY_GENERIC, NOTIFY_SET};
use crate::keyspace::set::Member;
use crate::keyspace::{Db, Set, Value};
use crate::resp::ReplyBuf;
use bytes::Bytes;
use rand::Rng;

const K1: Keys = Keys::Range(1, 1, 1);
const ALL: Keys = Keys::Range(1, -1, 1);

macro_rules! scmd {
    ($name:expr, $arity:expr, $flags:expr, $keys:expr, $since:expr, $summary:expr, $cx:expr, $h:ident) => {
        spec(
            $name,
            $arity,
            $flags,
            $keys,
            "set",
            $since,
            $summary,
            $cx,
            Handler::Keyed($h),
        )
    };
}

/// SINTERCARD's keys: `numkeys key [key ...]`.
fn numkeys_keys(argv: &[Bytes], out: &mut Vec<usize>) {
    if let Some(n) = argv.get(1).and_then(|b| parse_i64(b)) {
        if n > 0 && (n as u64) <= (argv.len() as u64).saturating_sub(2) {
            out.extend(2..2 + n as usize);
        }
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    scmd!("sadd", -3, WRITE | DENYOOM | FAST, K1, "1.0.0", "Add one or more members to a set", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", sadd)
        .with_key_specs(&[
            ks(KS_RW | KS_INSERT, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    scmd!("srem", -3, WRITE | FAST, K1, "1.0.0", "Remove one or more members from a set", "O(N) where N is the number of members to be removed.", srem)
        .with_key_specs(&[
            ks(KS_RW | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    scmd!("smembers", 2, READONLY, K1, "1.0.0", "Get all the members in a set", "O(N) where N is the set cardinality.", smembers)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output_order"]),
    scmd!("sismember", 3, READONLY | FAST, K1, "1.0.0", "Determine if a given value is a member of a set", "O(1)", sismember)
        .with_key_specs(&[
            ks(KS_RO, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    scmd!("smismember", -3, READONLY | FAST, K1, "6.2.0", "Returns the membership associated with the given elements for a set", "O(N) where N is the number of elements being checked for membership", smismember)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    scmd!("scard", 2, READONLY | FAST, K1, "1.0.0", "Get the number of members in a set", "O(1)", scard)
        .with_key_specs(&[
            ks(KS_RO, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    scmd!("spop", -2, WRITE | FAST, K1, "1.0.0", "Remove and return one or multiple random members from a set", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", spop)
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output"]),
    scmd!("srandmember", -2, READONLY, K1, "1.0.0", "Get one or multiple random members from a set", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", srandmember)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output"]),
    scmd!("smove", 4, WRITE | FAST, Keys::Range(1, 2, 1), "1.0.0", "Move a member from one set to another", "O(1)", smove)
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_RW | KS_INSERT, BeginSearch::Index(2), FindKeys::Range(0, 1, 0)),
        ]),
    scmd!("sinter", -2, READONLY, ALL, "1.0.0", "Intersect multiple sets", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", sinter)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(-1, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output_order"]),
    scmd!("sintercard", -3, READONLY, Keys::Custom(numkeys_keys), "7.0.0", "Intersect multiple sets and return the cardinality of the result", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", sintercard)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Keynum(0, 1, 1)),
        ]),
    scmd!("sinterstore", -3, WRITE | DENYOOM, ALL, "1.0.0", "Intersect multiple sets and store the resulting set in a key", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", sinterstore)
        .with_key_specs(&[
            ks(KS_RW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(2), FindKeys::Range(-1, 1, 0)),
        ]),
    scmd!("sunion", -2, READONLY, ALL, "1.0.0", "Add multiple sets", "O(N) where N is the total number of elements in all given sets.", sunion)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(-1, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output_order"]),
    scmd!("sunionstore", -3, WRITE | DENYOOM, ALL, "1.0.0", "Add multiple sets and store the resulting set in a key", "O(N) where N is the total number of elements in all given sets.", sunionstore)
        .with_key_specs(&[
            ks(KS_OW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(2), FindKeys::Range(-1, 1, 0)),
        ]),
    scmd!("sdiff", -2, READONLY, ALL, "1.0.0", "Subtract multiple sets", "O(N) where N is the total number of elements in all given sets.", sdiff)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(-1, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output_order"]),
    scmd!("sdiffstore", -3, WRITE | DENYOOM, ALL, "1.0.0", "Subtract multiple sets and store the resulting set in a key", "O(N) where N is the total number of elements in all given sets.", sdiffstore)
        .with_key_specs(&[
            ks(KS_OW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(2), FindKeys::Range(-1, 1, 0)),
        ]),
    scmd!("sscan", -3, READONLY, K1, "2.8.0", "Incrementally iterate Set elements", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", sscan)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output"]),
];

// ---- Lookups ---------------------------------------------------------------------------------

fn as_set(v: &Value) -> Result<&Set, &'static str> {
    match v {
        Value::Set(s) => Ok(s),
        _ => Err(errors::WRONGTYPE),
    }
}

/// Reads a set: Ok(None) when absent, Err on wrong type.
pub fn lookup_set<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a Set>, &'static str> {
    super::lookup_read(&mut ctx.dbs[ctx.db], ctx.stats, ctx.now, key, as_set)
}

pub fn set_mut<'a>(
    db: &'a mut Db,
    key: &[u8],
    now: i64,
) -> Result<Option<&'a mut Set>, &'static str> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Set(s) => Ok(Some(s)),
            _ => Err(errors::WRONGTYPE),
        },
    }
}

/// Several sets at once (missing keys are None); Err when any key holds another type.
fn load_sets<'a>(
    db: &'a mut Db,
    keys: &[Bytes],
    now: i64,
) -> Result<Vec<Option<&'a Set>>, &'static str> {
    for k in keys {
        if db.get(k, now).is_none() {
            super::key_miss(db.id as usize, k);
        }
    }
    let db: &'a Db = db;
    keys.iter()
        .map(|k| db.get_live(k, now).map(|e| as_set(&e.value)).transpose())
        .collect()
}

// ---- Shard-local operations ------------------------------------------------------------------

pub fn op_sadd(
    db: &mut Db,
    key: &[u8],
    members: &[Bytes],
    now: i64,
) -> Result<usize, &'static str> {
    if set_mut(db, key, now)?.is_none() {
        db.set(key, Value::Set(Set::for_member(&members[0])));
    }
    let Some(s) = set_mut(db, key, now)? else {
        return Ok(0);
    };
    Ok(members.iter().filter(|m| s.add(m)).count())
}

/// Removes members, and the key with its last member; how many went.
pub fn op_srem(
    db: &mut Db,
    key: &[u8],
    members: &[Bytes],
    now: i64,
) -> Result<usize, &'static str> {
    let Some(s) = set_mut(db, key, now)? else {
        return Ok(0);
    };
    let n = members.iter().filter(|m| s.remove(m)).count();
    if s.is_empty() {
        db.remove(key, now);
    }
    Ok(n)
}

/// SPOP: removes up to `count` random members (all of them, in order, when count >= size).
pub fn op_spop(
    db: &mut Db,
    key: &[u8],
    count: usize,
    now: i64,
    rng: &mut impl Rng,
) -> Result<Option<Vec<Vec<u8>>>, &'static str> {
    let Some(s) = set_mut(db, key, now)? else {
        return Ok(None);
    };
    let popped = if count >= s.len() {
        let all = s.iter().map(|m| m.to_vec()).collect();
        db.remove(key, now);
        return Ok(Some(all));
    } else {
        (0..count)
            .map(|_| s.take_nth(rng.random_range(0..s.len())))
            .collect()
    };
    Ok(Some(popped))
}

/// SMOVE: true when the member moved (or, for src == dst, is there).
pub fn op_smove(
    db: &mut Db,
    src: &[u8],
    dst: &[u8],
    member: &[u8],
    now: i64,
) -> Result<bool, &'static str> {
    let Some(s) = set_mut(db, src, now)? else {
        return Ok(false);
    };
    let in_src = s.contains(member);
    // The destination is only read until it changes: a member already there leaves it
    // unmodified (WATCH does not see it, as in Redis).
    let dst_has = match db.get(dst, now) {
        Some(e) => Some(as_set(&e.value)?.contains(member)),
        None => None,
    };
    if src == dst {
        return Ok(in_src);
    }
    let id = db.id as usize;
    let Some(s) = set_mut(db, src, now)? else {
        return Ok(false);
    };
    if !s.remove(member) {
        return Ok(false);
    }
    // Events in Redis's order: the source's, then the destination's (created: "new").
    notify::record(NOTIFY_SET, "srem", id, src);
    if s.is_empty() {
        db.remove(src, now);
        notify::record(NOTIFY_GENERIC, "del", id, src);
    }
    match dst_has {
        Some(true) => {}
        Some(false) => {
            if let Some(d) = set_mut(db, dst, now)? {
                d.add(member);
                notify::record(NOTIFY_SET, "sadd", id, dst);
            }
        }
        None => {
            let mut d = Set::for_member(member);
            d.add(member);
            db.set(dst, Value::Set(d));
            notify::record(NOTIFY_SET, "sadd", id, dst);
        }
    }
    Ok(true)
}

#[derive(Clone, Copy, PartialEq)]
pub enum SetOp {
    Inter,
    Union,
    Diff,
}

/// SINTER/SUNION/SDIFF over `keys`: the resulting members, in the order Redis replies them
/// (the smallest set's order for SINTER, the result set's order otherwise). `limit` stops an
/// intersection early (SINTERCARD; 0 = no limit).
pub fn op_combine(
    db: &mut Db,
    keys: &[Bytes],
    op: SetOp,
    limit: usize,
    now: i64,
) -> Result<Vec<Vec<u8>>, &'static str> {
    let sets = load_sets(db, keys, now)?;
    Ok(match op {
        SetOp::Inter => {
            if sets.iter().any(|s| s.is_none()) {
                return Ok(Vec::new());
            }
            let mut sets: Vec<&Set> = sets.into_iter().flatten().collect();
            sets.sort_by_key(|s| s.len());
            let Some((first, rest)) = sets.split_first() else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for m in first.iter() {
                if rest.iter().all(|s| s.contains_member(m)) {
                    out.push(m.to_vec());
                    if limit != 0 && out.len() >= limit {
                        break;
                    }
                }
            }
            out
        }
        SetOp::Union => {
            let mut acc = Set::default();
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    acc.add(&m.to_vec());
                }
            }
            acc.iter().map(|m| m.to_vec()).collect()
        }
        SetOp::Diff => {
            let Some(Some(first)) = sets.first() else {
                return Ok(Vec::new());
            };
            let mut acc = Set::default();
            for m in first.iter() {
                if !sets[1..].iter().flatten().any(|s| s.contains_member(m)) {
                    acc.add(&m.to_vec());
                }
            }
            acc.iter().map(|m| m.to_vec()).collect()
        }
    })
}

/// The *STORE variants: writes the result to `dst` (deleting it when empty); its size.
pub fn op_store(
    db: &mut Db,
    dst: &[u8],
    keys: &[Bytes],
    op: SetOp,
    now: i64,
) -> Result<(usize, bool), &'static str> {
    let members = op_combine(db, keys, op, 0, now)?;
    if members.is_empty() {
        let removed = db.remove(dst, now).is_some();
        return Ok((0, removed));
    }
    let s = Set::from_members(members.iter().map(|m| &m[..]));
    let n = s.len();
    db.set(dst, Value::Set(s));
    Ok((n, true))
}

// ---- Handlers --------------------------------------------------------------------------------

fn reply_members(out: &mut ReplyBuf, members: &[Vec<u8>]) {
    out.set(members.len());
    for m in members {
        out.bulk(m);
    }
}

fn reply_member(out: &mut ReplyBuf, m: Member<'_>) {
    match m {
        Member::Int(i) => out.bulk_int(i),
        Member::Bytes(b) => out.bulk(b),
    }
}

fn sadd(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    match op_sadd(ctx.db(), &argv[1], &argv[2..], now) {
        Ok(n) => {
            ctx.dirty += n as u64;
            if n > 0 {
                ctx.notify(NOTIFY_SET, "sadd", &argv[1]);
            }
            ctx.out.int(n as i64)
        }
        Err(e) => ctx.error(e),
    }
}

fn srem(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    match op_srem(ctx.db(), &argv[1], &argv[2..], now) {
        Ok(n) => {
            ctx.dirty += n as u64;
            if n > 0 {
                ctx.notify(NOTIFY_SET, "srem", &argv[1]);
                ctx.notify_if_removed(&argv[1]);
            }
            ctx.out.int(n as i64)
        }
        Err(e) => ctx.error(e),
    }
}

/// Runs `f` on the set (None when absent) with the reply buffer, or replies the error.
fn with_set(
    ctx: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(Option<&Set>, &mut ReplyBuf, &mut rand::rngs::SmallRng),
) {
    let (now, db) = (ctx.now, ctx.db);
    let r = match ctx.dbs[db].get(key, now) {
        None => {
            ctx.stats.keyspace_misses += 1;
            super::key_miss(db, key);
            Ok(None)
        }
        Some(e) => {
            ctx.stats.keyspace_hits += 1;
            as_set(&e.value).map(Some)
        }
    };
    match r {
        Ok(s) => f(s, ctx.out, ctx.rng),
        Err(e) => {
            super::count_error(ctx.stats, e);
            ctx.out.error(e)
        }
    }
}

fn smembers(ctx: &mut Ctx, argv: &[Bytes]) {
    with_set(ctx, &argv[1], |s, out, _| {
        out.set(s.map_or(0, |s| s.len()));
        for m in s.iter().flat_map(|s| s.iter()) {
            if out.stop() {
                break;
            }
            reply_member(out, m);
        }
    })
}

fn sismember(ctx: &mut Ctx, argv: &[Bytes]) {
    with_set(ctx, &argv[1], |s, out, _| {
        out.int(s.is_some_and(|s| s.contains(&argv[2])) as i64)
    })
}

fn smismember(ctx: &mut Ctx, argv: &[Bytes]) {
    with_set(ctx, &argv[1], |s, out, _| {
        out.array(argv.len() - 2);
        for m in &argv[2..] {
            out.int(s.is_some_and(|s| s.contains(m)) as i64);
        }
    })
}

fn scard(ctx: &mut Ctx, argv: &[Bytes]) {
    with_set(ctx, &argv[1], |s, out, _| {
        out.int(s.map_or(0, |s| s.len()) as i64)
    })
}

fn spop(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    let count = match argv.len() {
        2 => None,
        // getPositiveLongFromObjectOrReply: one message for non-numbers and negatives.
        3 => match parse_i64(&argv[2]) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return ctx.error(errors::MUST_BE_POSITIVE),
        },
        _ => return ctx.error(errors::SYNTAX),
    };
    let db = ctx.db;
    match op_spop(&mut ctx.dbs[db], &argv[1], count.unwrap_or(1), now, ctx.rng) {
        Err(e) => ctx.error(e),
        Ok(popped) => {
            let popped = popped.unwrap_or_default();
            ctx.dirty += popped.len() as u64;
            if ctx.propagating() && !popped.is_empty() {
                // Randomness is not replayed: SREM what was popped (DEL when a count took
                // the whole set), like Redis 7.0.
                let key = argv[1].clone();
                if count.is_some() && !ctx.dbs[db].exists(&key, now) {
                    ctx.rewrite(vec![Bytes::from_static(b"DEL"), key]);
                } else {
                    for m in &popped {
                        ctx.rewrite(vec![
                            Bytes::from_static(b"SREM"),
                            key.clone(),
                            Bytes::copy_from_slice(m),
                        ]);
                    }
                }
            }
            if !popped.is_empty() {
                ctx.notify(NOTIFY_SET, "spop", &argv[1]);
                ctx.notify_if_removed(&argv[1]);
            }
            match count {
                Some(_) => reply_members(ctx.out, &popped),
                None => match popped.first() {
                    Some(m) => ctx.out.bulk(m),
                    None => ctx.out.null(),
                },
            }
        }
    }
}

fn srandmember(ctx: &mut Ctx, argv: &[Bytes]) {
    let count = match argv.len() {
        2 => None,
        3 => match parse_random_count(&argv[2]) {
            Ok(n) => Some(n),
            Err(e) => return ctx.error(e),
        },
        _ => return ctx.error(errors::SYNTAX),
    };
    with_set(ctx, &argv[1], |s, out, rng| match count {
        None => match s.filter(|s| !s.is_empty()) {
            Some(s) => reply_member(out, s.nth(rng.random_range(0..s.len()))),
            None => out.null(),
        },
        Some(count) => {
            let Some(s) = s else {
                return out.array(0);
            };
            let picks = pick_random(s.len(), count, rng);
            out.array(picks.len());
            for i in picks {
                if out.stop() {
                    break;
                }
                reply_member(out, s.nth(i));
            }
        }
    })
}

fn smove(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    match op_smove(ctx.db(), &argv[1], &argv[2], &argv[3], now) {
        Ok(moved) => {
            if moved && argv[1] != argv[2] {
                ctx.dirty += 1;
            }
            ctx.out.int(moved as i64)
        }
        Err(e) => ctx.error(e),
    }
}

fn combine(ctx: &mut Ctx, keys: &[Bytes], op: SetOp) {
    let now = ctx.now;
    match op_combine(ctx.db(), keys, op, 0, now) {
        Ok(m) => reply_members(ctx.out, &m),
        Err(e) => ctx.error(e),
    }
}

fn store(ctx: &mut Ctx, argv: &[Bytes], op: SetOp) {
    let now = ctx.now;
    match op_store(ctx.db(), &argv[1], &argv[2..], op, now) {
        Ok((n, changed)) => {
            ctx.dirty += changed as u64;
            if n > 0 {
                let event = match op {
                    SetOp::Inter => "sinterstore",
                    SetOp::Union => "sunionstore",
                    SetOp::Diff => "sdiffstore",
                };
                ctx.notify(NOTIFY_SET, event, &argv[1]);
            } else if changed {
                ctx.notify(NOTIFY_GENERIC, "del", &argv[1]);
            }
            ctx.out.int(n as i64)
        }
        Err(e) => ctx.error(e),
    }
}

fn sinter(ctx: &mut Ctx, argv: &[Bytes]) {
    combine(ctx, &argv[1..], SetOp::Inter)
}

fn sunion(ctx: &mut Ctx, argv: &[Bytes]) {
    combine(ctx, &argv[1..], SetOp::Union)
}

fn sdiff(ctx: &mut Ctx, argv: &[Bytes]) {
    combine(ctx, &argv[1..], SetOp::Diff)
}

fn sinterstore(ctx: &mut Ctx, argv: &[Bytes]) {
    store(ctx, argv, SetOp::Inter)
}

fn sunionstore(ctx: &mut Ctx, argv: &[Bytes]) {
    store(ctx, argv, SetOp::Union)
}

fn sdiffstore(ctx: &mut Ctx, argv: &[Bytes]) {
    store(ctx, argv, SetOp::Diff)
}

fn sintercard(ctx: &mut Ctx, argv: &[Bytes]) {
    let numkeys = match parse_i64(&argv[1]) {
        Some(n) if n > 0 => n as u64,
        _ => return ctx.error(errors::NUMKEYS_POSITIVE),
    };
    if numkeys > (argv.len() - 2) as u64 {
        return ctx.error(errors::NUMKEYS_TOO_MANY);
    }
    let end = 2 + numkeys as usize;
    let mut limit = 0usize;
    let mut i = end;
    while i < argv.len() {
        if eq_ic(&argv[i], "limit") && i + 1 < argv.len() {
            match parse_i64(&argv[i + 1]) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => return ctx.error(errors::LIMIT_NEGATIVE),
            }
            i += 2;
        } else {
            return ctx.error(errors::SYNTAX);
        }
    }
    let now = ctx.now;
    match op_combine(ctx.db(), &argv[2..end], SetOp::Inter, limit, now) {
        Ok(m) => ctx.out.int(m.len() as i64),
        Err(e) => ctx.error(e),
    }
}

fn sscan(ctx: &mut Ctx, argv: &[Bytes]) {
    let Some(cursor) = parse_cursor(&argv[2]) else {
        return ctx.error(errors::INVALID_CURSOR);
    };
    let (now, db) = (ctx.now, ctx.db);
    let s = match ctx.dbs[db].get(&argv[1], now).map(|e| as_set(&e.value)) {
        Some(Ok(s)) => s,
        None => {
            super::key_miss(db, &argv[1]);
            return reply_scan(ctx.out, 0, &[]);
        }
        Some(Err(e)) => {
            super::count_error(ctx.stats, e);
            return ctx.out.error(e);
        }
    };
    let (count, pattern) = match parse_scan_opts(&argv[3..]) {
        Ok(o) => o,
        Err(e) => {
            super::count_error(ctx.stats, e);
            return ctx.out.error(e);
        }
    };
    let mut items = Vec::new();
    let next = s.scan(cursor, count, |m| {
        let m = m.to_vec();
        if pattern.is_none_or(|p| stringmatch(p, &m, false)) {
            items.push(m);
        }
    });
    reply_scan(ctx.out, next, &items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn b(s: &[&str]) -> Vec<Bytes> {
        s.iter()
            .map(|x| Bytes::copy_from_slice(x.as_bytes()))
            .collect()
    }

    #[test]
    fn store_ops_and_empty_results() {
        let mut db = Db::new();
        op_sadd(&mut db, b"a", &b(&["3", "1", "2"]), 0).ok();
        op_sadd(&mut db, b"b", &b(&["2", "3", "x"]), 0).ok();
        assert_eq!(
            op_combine(&mut db, &b(&["a", "b"]), SetOp::Inter, 0, 0),
            Ok(vec![b"2".to_vec(), b"3".to_vec()])
        );
        assert_eq!(
            op_combine(&mut db, &b(&["a", "b"]), SetOp::Diff, 0, 0),
            Ok(vec![b"1".to_vec()])
        );
        assert_eq!(
            op_combine(&mut db, &b(&["a", "nokey"]), SetOp::Union, 0, 0).map(|v| v.len()),
            Ok(3)
        );
        assert_eq!(
            op_combine(&mut db, &b(&["a", "b"]), SetOp::Inter, 1, 0).map(|v| v.len()),
            Ok(1)
        );
        assert_eq!(
            op_store(&mut db, b"d", &b(&["a", "b"]), SetOp::Inter, 0),
            Ok((2, true))
        );
        assert_eq!(
            op_store(&mut db, b"d", &b(&["a", "nokey"]), SetOp::Inter, 0),
            Ok((0, true))
        );
        assert!(!db.exists(b"d", 0));
        db.set(b"str", Value::from_bytes(b"v"));
        assert_eq!(
            op_combine(&mut db, &b(&["nokey", "str"]), SetOp::Inter, 0, 0),
            Err(errors::WRONGTYPE)
        );
    }

    #[test]
    fn smove_and_spop_remove_empty_keys() {
        let mut db = Db::new();
        op_sadd(&mut db, b"s", &b(&["m"]), 0).ok();
        assert_eq!(op_smove(&mut db, b"s", b"d", b"m", 0), Ok(true));
        assert!(!db.exists(b"s", 0));
        assert_eq!(op_smove(&mut db, b"d", b"d", b"m", 0), Ok(true));
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        assert_eq!(
            op_spop(&mut db, b"d", 5, 0, &mut rng),
            Ok(Some(vec![b"m".to_vec()]))
        );
        assert!(!db.exists(b"d", 0));
    }

    #[test]
    fn sintercard_keys_follow_numkeys() {
        let mut out = Vec::new();
        numkeys_keys(&b(&["sintercard", "2", "a", "b", "LIMIT", "1"]), &mut out);
        assert_eq!(out, vec![2, 3]);
        out.clear();
        numkeys_keys(&b(&["sintercard", "5", "a"]), &mut out);
        assert!(out.is_empty());
    }
}
