//! The @string family.

use super::errors;
use super::spec::*;
use super::{eq_ic, parse_i64, Ctx, Handler};
use crate::keyspace::{Entry, RString, Value};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "get",
        2,
        READONLY | FAST,
        Keys::Range(1, 1, 1),
        "string",
        "1.0.0",
        "Get the value of a key",
        "O(1)",
        Handler::Keyed(get),
    ),
    spec(
        "set",
        -3,
        WRITE | DENYOOM,
        Keys::Range(1, 1, 1),
        "string",
        "1.0.0",
        "Set the string value of a key",
        "O(1)",
        Handler::Keyed(set),
    ),
    spec(
        "incr",
        2,
        WRITE | DENYOOM | FAST,
        Keys::Range(1, 1, 1),
        "string",
        "1.0.0",
        "Increment the integer value of a key by one",
        "O(1)",
        Handler::Keyed(incr),
    ),
    spec(
        "decr",
        2,
        WRITE | DENYOOM | FAST,
        Keys::Range(1, 1, 1),
        "string",
        "1.0.0",
        "Decrement the integer value of a key by one",
        "O(1)",
        Handler::Keyed(decr),
    ),
    spec(
        "incrby",
        3,
        WRITE | DENYOOM | FAST,
        Keys::Range(1, 1, 1),
        "string",
        "1.0.0",
        "Increment the integer value of a key by the given amount",
        "O(1)",
        Handler::Keyed(incrby),
    ),
    spec(
        "decrby",
        3,
        WRITE | DENYOOM | FAST,
        Keys::Range(1, 1, 1),
        "string",
        "1.0.0",
        "Decrement the integer value of a key by the given number",
        "O(1)",
        Handler::Keyed(decrby),
    ),
    spec(
        "mget",
        -2,
        READONLY | FAST,
        Keys::Range(1, -1, 1),
        "string",
        "1.0.0",
        "Get the values of all the given keys",
        "O(N) where N is the number of keys to retrieve.",
        Handler::Keyed(mget),
    ),
    spec(
        "mset",
        -3,
        WRITE | DENYOOM,
        Keys::Range(1, -1, 2),
        "string",
        "1.0.1",
        "Set multiple keys to multiple values",
        "O(N) where N is the number of keys to set.",
        Handler::Keyed(mset),
    ),
];

/// Reads a string value: Ok(None) when absent, Err on wrong type. Borrows only the databases
/// and counters, so the caller can write the reply from the borrowed value without a copy.
pub fn lookup_str<'a>(
    dbs: &'a mut [crate::keyspace::Db],
    db: usize,
    now: i64,
    stats: &mut crate::shard::ShardStats,
    key: &[u8],
) -> Result<Option<&'a RString>, &'static str> {
    match dbs[db].get(key, now) {
        None => {
            stats.keyspace_misses += 1;
            Ok(None)
        }
        Some(e) => {
            stats.keyspace_hits += 1;
            match &e.value {
                Value::Str(s) => Ok(Some(s)),
                #[allow(unreachable_patterns)]
                _ => Err(errors::WRONGTYPE),
            }
        }
    }
}

pub fn reply_string(out: &mut crate::resp::ReplyBuf, s: &RString) {
    match s {
        RString::Int(i) => out.bulk_int(*i),
        RString::Bytes { buf, .. } => out.bulk(buf),
    }
}

pub fn op_get<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a RString>, &'static str> {
    lookup_str(ctx.dbs, ctx.db, ctx.now, ctx.stats, key)
}

fn get(ctx: &mut Ctx, argv: &[Bytes]) {
    match lookup_str(ctx.dbs, ctx.db, ctx.now, ctx.stats, &argv[1]) {
        Ok(Some(s)) => reply_string(ctx.out, s),
        Ok(None) => ctx.out.null(),
        Err(e) => ctx.error(e),
    }
}

#[derive(PartialEq)]
enum Cond {
    Always,
    Nx,
    Xx,
}

enum Ttl {
    Clear,
    Keep,
    At(i64),
}

fn set(ctx: &mut Ctx, argv: &[Bytes]) {
    let mut cond = Cond::Always;
    let mut ttl = Ttl::Clear;
    let mut ttl_set = false;
    let mut want_get = false;
    let mut i = 3;
    while i < argv.len() {
        let a = &argv[i];
        let next = argv.get(i + 1);
        if eq_ic(a, "nx") && cond != Cond::Xx {
            cond = Cond::Nx;
        } else if eq_ic(a, "xx") && cond != Cond::Nx {
            cond = Cond::Xx;
        } else if eq_ic(a, "get") {
            want_get = true;
        } else if eq_ic(a, "keepttl") && !ttl_set {
            ttl = Ttl::Keep;
            ttl_set = true;
        } else if !ttl_set
            && next.is_some()
            && (eq_ic(a, "ex") || eq_ic(a, "px") || eq_ic(a, "exat") || eq_ic(a, "pxat"))
        {
            let Some(n) = next.and_then(|n| parse_i64(n)) else {
                return ctx.error(errors::NOT_INTEGER);
            };
            let unit_ms = eq_ic(a, "px") || eq_ic(a, "pxat");
            let absolute = eq_ic(a, "exat") || eq_ic(a, "pxat");
            if n <= 0 {
                return ctx.error(errors::INVALID_EXPIRE);
            }
            let ms = if unit_ms {
                Some(n)
            } else {
                n.checked_mul(1000)
            };
            let at = match ms {
                Some(ms) if absolute => Some(ms),
                Some(ms) => ms.checked_add(ctx.now),
                None => None,
            };
            let Some(at) = at else {
                return ctx.error(errors::INVALID_EXPIRE);
            };
            ttl = Ttl::At(at);
            ttl_set = true;
            i += 1;
        } else {
            return ctx.error(errors::SYNTAX);
        }
        i += 1;
    }
    let key = &argv[1];
    let now = ctx.now;
    let old = if want_get {
        match op_get(ctx, key) {
            Err(e) => return ctx.error(e),
            Ok(v) => Some(v.cloned()),
        }
    } else {
        None
    };
    let exists = match &old {
        Some(v) => v.is_some(),
        None => ctx.db().exists(key, now),
    };
    let apply = match cond {
        Cond::Always => true,
        Cond::Nx => !exists,
        Cond::Xx => exists,
    };
    if apply {
        let value = Value::from_bytes(&argv[2]);
        let db = ctx.db();
        match ttl {
            Ttl::Clear => db.set(key, value),
            Ttl::Keep => db.set_keep_ttl(key, value),
            Ttl::At(at) => db.put_entry(
                key,
                Entry {
                    value,
                    expire_at: at,
                    lru: (now / 1000) as u32,
                },
            ),
        }
        ctx.dirty += 1;
    }
    match old {
        Some(Some(v)) => reply_string(ctx.out, &v),
        Some(None) => ctx.out.null(),
        None if apply => ctx.out.ok(),
        None => ctx.out.null(),
    }
}

/// INCRBY's shard-local operation.
pub fn op_incrby(ctx: &mut Ctx, key: &[u8], delta: i64) -> Result<i64, &'static str> {
    let now = ctx.now;
    let db = ctx.db();
    let cur = match db.get_mut(key, now) {
        None => None,
        Some(e) => match &e.value {
            Value::Str(RString::Int(i)) => Some(*i),
            Value::Str(RString::Bytes { buf, .. }) => match parse_i64(buf) {
                Some(i) => Some(i),
                None => return Err(errors::NOT_INTEGER),
            },
        },
    };
    let v = cur
        .unwrap_or(0)
        .checked_add(delta)
        .ok_or(errors::OVERFLOW)?;
    match db.get_mut(key, now) {
        Some(e) => e.value = Value::from_int(v),
        None => db.set(key, Value::from_int(v)),
    }
    ctx.dirty += 1;
    Ok(v)
}

fn incr_reply(ctx: &mut Ctx, key: &[u8], delta: i64) {
    match op_incrby(ctx, key, delta) {
        Ok(v) => ctx.out.int(v),
        Err(e) => ctx.error(e),
    }
}

fn incr(ctx: &mut Ctx, argv: &[Bytes]) {
    incr_reply(ctx, &argv[1], 1)
}

fn decr(ctx: &mut Ctx, argv: &[Bytes]) {
    incr_reply(ctx, &argv[1], -1)
}

fn incrby(ctx: &mut Ctx, argv: &[Bytes]) {
    match parse_i64(&argv[2]) {
        Some(d) => incr_reply(ctx, &argv[1], d),
        None => ctx.error(errors::NOT_INTEGER),
    }
}

fn decrby(ctx: &mut Ctx, argv: &[Bytes]) {
    match parse_i64(&argv[2]).and_then(|d| d.checked_neg()) {
        Some(d) => incr_reply(ctx, &argv[1], d),
        None if parse_i64(&argv[2]).is_some() => ctx.error("ERR decrement would overflow"),
        None => ctx.error(errors::NOT_INTEGER),
    }
}

fn mget(ctx: &mut Ctx, argv: &[Bytes]) {
    ctx.out.array(argv.len() - 1);
    for k in &argv[1..] {
        match lookup_str(ctx.dbs, ctx.db, ctx.now, ctx.stats, k) {
            Ok(Some(s)) => reply_string(ctx.out, s),
            _ => ctx.out.null(),
        }
    }
}

fn mset(ctx: &mut Ctx, argv: &[Bytes]) {
    if argv.len().is_multiple_of(2) {
        return ctx.error(&errors::wrong_arity("mset"));
    }
    for kv in argv[1..].chunks_exact(2) {
        ctx.db().set(&kv[0], Value::from_bytes(&kv[1]));
        ctx.dirty += 1;
    }
    ctx.out.ok();
}
