//! The @string family.

pub(crate) mod longdouble;

use super::errors;
use super::spec::*;
use super::{eq_ic, parse_i64, Ctx, Handler};
use crate::keyspace::notify::{NOTIFY_GENERIC, NOTIFY_STRING};
use crate::keyspace::{Db, Entry, RString, Value, NO_EXPIRE};
use crate::shard::journal::int_arg;
use bytes::Bytes;
use longdouble::{LongDouble, Parsed};

/// SET reads its key only with GET (Redis's `setGetKeys`).
fn set_key_flags(argv: &[Bytes], _pos: usize) -> KeyFlags {
    if argv.iter().skip(3).any(|a| eq_ic(a, "get")) {
        KS_RW | KS_ACCESS | KS_UPDATE
    } else {
        KS_OW | KS_UPDATE
    }
}

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
    )
    .with_key_specs(&[
        ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
    ]),
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
    )
    .with_key_specs(&[
        ks(KS_RW | KS_ACCESS | KS_UPDATE | KS_VARIABLE_FLAGS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)).notes("RW and ACCESS due to the optional `GET` argument"),
    ])
    .with_variable_key_flags(set_key_flags),
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
    )
    .with_key_specs(&[
        ks(KS_RW | KS_ACCESS | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
    ]),
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
    )
    .with_key_specs(&[
        ks(KS_RW | KS_ACCESS | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
    ]),
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
    )
    .with_key_specs(&[
        ks(KS_RW | KS_ACCESS | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
    ]),
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
    )
    .with_key_specs(&[
        ks(KS_RW | KS_ACCESS | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
    ]),
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
    )
    .with_key_specs(&[
        ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(-1, 1, 0)),
    ])
        .with_tips(&["request_policy:multi_shard"]),
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
    )
    .with_key_specs(&[
        ks(KS_OW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(-1, 2, 0)),
    ])
        .with_tips(&["request_policy:multi_shard", "response_policy:all_succeeded"]),
    spec(
        "setnx",
        3,
        WRITE | DENYOOM | FAST,
        Keys::Range(1, 1, 1),
        "string",
        "1.0.0",
        "Set the value of a key, only if the key does not exist",
        "O(1)",
        Handler::Keyed(setnx),
    )
    .with_key_specs(&[
        ks(KS_OW | KS_INSERT, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
    ]),
    spec(
        "setex",
        4,
        WRITE | DENYOOM,
        Keys::Range(1, 1, 1),
        "string",
        "2.0.0",
        "Set the value and expiration of a key",
        "O(1)",
        Handler::Keyed(setex),
    )
    .with_key_specs(&[
        ks(KS_OW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
    ]),
    spec(
        "psetex",
        4,
        WRITE | DENYOOM,
        Keys::Range(1, 1, 1),
        "string",
        "2.6.0",
        "Set the value and expiration in milliseconds of a key",
        "O(1)",
        Handler::Keyed(psetex),
    )
    .with_key_specs(&[
        ks(KS_OW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
    ]),
    spec(
        "getset",
        3,
        WRITE | DENYOOM | FAST,
        Keys::Range(1, 1, 1),
        "string",
        "1.0.0",
        "Set the string value of a key and return its old value",
        "O(1)",
        Handler::Keyed(getset),
    )
    .with_key_specs(&[
        ks(KS_RW | KS_ACCESS | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
    ]),
    spec(
        "getdel",
        2,
        WRITE | FAST,
        Keys::Range(1, 1, 1),
        "string",
        "6.2.0",
        "Get the value of a key and delete the key",
        "O(1)",
        Handler::Keyed(getdel),
    )
    .with_key_specs(&[
        ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
    ]),
    spec(
        "getex",
        -2,
        WRITE | FAST,
        Keys::Range(1, 1, 1),
        "string",
        "6.2.0",
        "Get the value of a key and optionally set its expiration",
        "O(1)",
        Handler::Keyed(getex),
    )
    .with_key_specs(&[
        ks(KS_RW | KS_ACCESS | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)).notes("RW and UPDATE because it changes the TTL"),
    ]),
    spec(
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        Keys::Range(1, 1, 1),
        "string",
        "2.6.0",
        "Increment the float value of a key by the given amount",
        "O(1)",
        Handler::Keyed(incrbyfloat),
    )
    .with_key_specs(&[
        ks(KS_RW | KS_ACCESS | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
    ]),
    spec(
        "append",
        3,
        WRITE | DENYOOM | FAST,
        Keys::Range(1, 1, 1),
        "string",
        "2.0.0",
        "Append a value to a key",
        "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
        Handler::Keyed(append),
    )
    .with_key_specs(&[
        ks(KS_RW | KS_INSERT, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
    ]),
    spec(
        "strlen",
        2,
        READONLY | FAST,
        Keys::Range(1, 1, 1),
        "string",
        "2.2.0",
        "Get the length of the value stored in a key",
        "O(1)",
        Handler::Keyed(strlen),
    )
    .with_key_specs(&[
        ks(KS_RO, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
    ]),
    spec(
        "getrange",
        4,
        READONLY,
        Keys::Range(1, 1, 1),
        "string",
        "2.4.0",
        "Get a substring of the string stored at a key",
        "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        Handler::Keyed(getrange),
    )
    .with_key_specs(&[
        ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
    ]),
    spec(
        "substr",
        4,
        READONLY,
        Keys::Range(1, 1, 1),
        "string",
        "1.0.0",
        "Get a substring of the string stored at a key",
        "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        Handler::Keyed(getrange),
    )
    .with_key_specs(&[
        ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
    ]),
    spec(
        "setrange",
        4,
        WRITE | DENYOOM,
        Keys::Range(1, 1, 1),
        "string",
        "2.2.0",
        "Overwrite part of a string at key starting at the specified offset",
        "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
        Handler::Keyed(setrange),
    )
    .with_key_specs(&[
        ks(KS_RW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
    ]),
    spec(
        "msetnx",
        -3,
        WRITE | DENYOOM,
        Keys::Range(1, -1, 2),
        "string",
        "1.0.1",
        "Set multiple keys to multiple values, only if none of the keys exist",
        "O(N) where N is the number of keys to set.",
        Handler::Keyed(msetnx),
    )
    .with_key_specs(&[
        ks(KS_OW | KS_INSERT, BeginSearch::Index(1), FindKeys::Range(-1, 2, 0)),
    ])
        .with_tips(&["request_policy:multi_shard", "response_policy:agg_min"]),
    spec(
        "lcs",
        -3,
        READONLY,
        Keys::Range(1, 2, 1),
        "string",
        "7.0.0",
        "Find longest common substring",
        "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        Handler::Keyed(lcs),
    )
    .with_key_specs(&[
        ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(1, 1, 0)),
    ]),
];

/// Redis's default `proto-max-bulk-len` (512 MB).
pub const PROTO_MAX_BULK_LEN: u64 = 512 * 1024 * 1024;

static MAX_BULK_LEN: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(PROTO_MAX_BULK_LEN);

/// `proto-max-bulk-len` as configured: the largest string SETRANGE, APPEND, SETBIT and
/// BITFIELD may build (Redis's `server.proto_max_bulk_len`).
#[inline]
pub fn max_bulk_len() -> u64 {
    MAX_BULK_LEN.load(std::sync::atomic::Ordering::Relaxed)
}

/// Applies `proto-max-bulk-len` (startup and CONFIG SET).
pub fn set_max_bulk_len(v: u64) {
    MAX_BULK_LEN.store(v, std::sync::atomic::Ordering::Relaxed);
}

/// The string held by a value, or WRONGTYPE. Every type check of the family goes through here
/// (and [`as_str_mut`]), so new value types get the right error without touching handlers.
#[inline]
pub fn as_str(v: &Value) -> Result<&RString, &'static str> {
    match v {
        Value::Str(s) => Ok(s),
        #[allow(unreachable_patterns)]
        _ => Err(errors::WRONGTYPE),
    }
}

#[inline]
pub fn as_str_mut(v: &mut Value) -> Result<&mut RString, &'static str> {
    match v {
        Value::Str(s) => Ok(s),
        #[allow(unreachable_patterns)]
        _ => Err(errors::WRONGTYPE),
    }
}

/// Redis's `checkStringLength`: may a string of `len` bytes grow by `add`?
pub fn check_string_length(len: u64, add: u64) -> Result<(), &'static str> {
    match len.checked_add(add) {
        Some(total) if total <= max_bulk_len() => Ok(()),
        _ => Err(errors::STRING_TOO_LONG),
    }
}

/// Reads a string value: Ok(None) when absent, Err on wrong type. Borrows only the databases
/// and counters, so the caller can write the reply from the borrowed value without a copy.
pub fn lookup_str<'a>(
    dbs: &'a mut [Db],
    db: usize,
    now: i64,
    stats: &mut crate::shard::ShardStats,
    key: &[u8],
) -> Result<Option<&'a RString>, &'static str> {
    super::lookup_read(&mut dbs[db], stats, now, key, as_str)
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

// ---- SET and its relatives -------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Debug)]
enum ExpireKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Options of SET (and of GETEX, which shares Redis's parser with other rules).
#[derive(Default, Debug)]
struct SetOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(&'a [u8], ExpireKind)>,
}

/// Redis's `parseExtendedStringArgumentsOrReply`: `for_set` selects SET's options (NX XX GET
/// KEEPTTL) over GETEX's (PERSIST). A repeated option is accepted; conflicting ones are a syntax
/// error. The expire value is validated later, after the whole line parsed.
fn parse_set_opts(args: &[Bytes], for_set: bool) -> Result<SetOpts<'_>, &'static str> {
    let mut o = SetOpts::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let next = args.get(i + 1);
        let kind = if eq_ic(a, "ex") {
            Some(ExpireKind::Ex)
        } else if eq_ic(a, "px") {
            Some(ExpireKind::Px)
        } else if eq_ic(a, "exat") {
            Some(ExpireKind::ExAt)
        } else if eq_ic(a, "pxat") {
            Some(ExpireKind::PxAt)
        } else {
            None
        };
        if for_set && eq_ic(a, "nx") && !o.xx {
            o.nx = true;
        } else if for_set && eq_ic(a, "xx") && !o.nx {
            o.xx = true;
        } else if for_set && eq_ic(a, "get") {
            o.get = true;
        } else if for_set && eq_ic(a, "keepttl") && o.expire.is_none() {
            o.keepttl = true;
        } else if !for_set && eq_ic(a, "persist") && o.expire.is_none() {
            o.persist = true;
        } else if let (Some(kind), Some(n)) = (kind, next) {
            if o.keepttl || o.persist || o.expire.is_some_and(|(_, k)| k != kind) {
                return Err(errors::SYNTAX);
            }
            o.expire = Some((n, kind));
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    Ok(o)
}

/// Redis's `getExpireMillisecondsOrReply`: the absolute expiry in ms. Err(None) is "not an
/// integer", Err(Some(())) an invalid expire time.
fn expire_at(arg: &[u8], kind: ExpireKind, now: i64) -> Result<i64, Option<()>> {
    let n = parse_i64(arg).ok_or(None)?;
    let seconds = matches!(kind, ExpireKind::Ex | ExpireKind::ExAt);
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(Some(()));
    }
    let ms = if seconds { n * 1000 } else { n };
    let at = match kind {
        ExpireKind::Ex | ExpireKind::Px => ms.checked_add(now).ok_or(Some(()))?,
        ExpireKind::ExAt | ExpireKind::PxAt => ms,
    };
    Ok(at)
}

fn expire_error(ctx: &mut Ctx, cmd: &str, e: Option<()>) {
    match e {
        None => ctx.error(errors::NOT_INTEGER),
        Some(()) => ctx.error(&errors::invalid_expire(cmd)),
    }
}

/// What SET-like commands reply when they did (or did not) set the key.
#[derive(Clone, Copy)]
enum SetReply {
    /// SET: +OK, or a null when NX/XX stopped it.
    Ok,
    /// SETNX: :1 or :0.
    Int,
}

/// Redis's `setGenericCommand`.
fn set_generic(ctx: &mut Ctx, cmd: &str, key: &[u8], val: &[u8], o: &SetOpts, reply: SetReply) {
    let now = ctx.now;
    let at = match o.expire {
        Some((arg, kind)) => match expire_at(arg, kind, now) {
            Ok(at) => Some(at),
            Err(e) => return expire_error(ctx, cmd, e),
        },
        None => None,
    };
    // With GET the old value is the reply, written before the key changes.
    let found = if o.get {
        match lookup_str(ctx.dbs, ctx.db, now, ctx.stats, key) {
            Ok(Some(s)) => {
                reply_string(ctx.out, s);
                true
            }
            Ok(None) => {
                ctx.out.null();
                false
            }
            Err(e) => return ctx.error(e),
        }
    } else if o.nx || o.xx {
        ctx.db().exists(key, now)
    } else {
        // A plain SET needs no lookup before the write.
        false
    };
    if (o.nx && found) || (o.xx && !found) {
        if !o.get {
            match reply {
                SetReply::Ok => ctx.out.null(),
                SetReply::Int => ctx.out.int(0),
            }
        }
        return;
    }
    let value = Value::from_bytes(val);
    let db = ctx.db();
    match at {
        Some(at) => db.put_entry(
            key,
            Entry {
                value,
                expire_at: at,
                lru: crate::keyspace::lru_clock(),
                snap: 0,
            },
        ),
        None if o.keepttl => db.set_keep_ttl(key, value),
        None => db.set(key, value),
    }
    ctx.dirty += 1;
    if let (Some(at), true) = (at, ctx.propagating()) {
        // Relative or not, an expiry propagates as an absolute one: SET k v PXAT <ms>.
        ctx.rewrite(vec![
            Bytes::from_static(b"SET"),
            Bytes::copy_from_slice(key),
            Bytes::copy_from_slice(val),
            Bytes::from_static(b"PXAT"),
            int_arg(at),
        ]);
    }
    ctx.notify(NOTIFY_STRING, "set", key);
    if at.is_some() {
        ctx.notify(NOTIFY_GENERIC, "expire", key);
    }
    if !o.get {
        match reply {
            SetReply::Ok => ctx.out.ok(),
            SetReply::Int => ctx.out.int(1),
        }
    }
}

fn set(ctx: &mut Ctx, argv: &[Bytes]) {
    match parse_set_opts(&argv[3..], true) {
        Ok(o) => {
            set_generic(ctx, "set", &argv[1], &argv[2], &o, SetReply::Ok);
            if o.get && o.expire.is_none() && ctx.propagating() {
                // Propagated without GET (the reply is not part of the effect).
                let mut v = argv[..3].to_vec();
                v.extend(argv[3..].iter().filter(|a| !eq_ic(a, "get")).cloned());
                ctx.rewrite(v);
            }
        }
        Err(e) => ctx.error(e),
    }
}

fn setnx(ctx: &mut Ctx, argv: &[Bytes]) {
    let o = SetOpts {
        nx: true,
        ..SetOpts::default()
    };
    set_generic(ctx, "setnx", &argv[1], &argv[2], &o, SetReply::Int)
}

fn setex(ctx: &mut Ctx, argv: &[Bytes]) {
    let o = SetOpts {
        expire: Some((&argv[2], ExpireKind::Ex)),
        ..SetOpts::default()
    };
    set_generic(ctx, "setex", &argv[1], &argv[3], &o, SetReply::Ok)
}

fn psetex(ctx: &mut Ctx, argv: &[Bytes]) {
    let o = SetOpts {
        expire: Some((&argv[2], ExpireKind::Px)),
        ..SetOpts::default()
    };
    set_generic(ctx, "psetex", &argv[1], &argv[3], &o, SetReply::Ok)
}

fn getset(ctx: &mut Ctx, argv: &[Bytes]) {
    let o = SetOpts {
        get: true,
        ..SetOpts::default()
    };
    set_generic(ctx, "getset", &argv[1], &argv[2], &o, SetReply::Ok);
    if ctx.propagating() {
        ctx.rewrite(vec![
            Bytes::from_static(b"SET"),
            argv[1].clone(),
            argv[2].clone(),
        ]);
    }
}

fn getdel(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    match lookup_str(ctx.dbs, ctx.db, now, ctx.stats, &argv[1]) {
        Ok(Some(s)) => reply_string(ctx.out, s),
        Ok(None) => return ctx.out.null(),
        Err(e) => return ctx.error(e),
    }
    ctx.db().remove(&argv[1], now);
    ctx.dirty += 1;
    ctx.rewrite(vec![Bytes::from_static(b"DEL"), argv[1].clone()]);
    ctx.notify(NOTIFY_GENERIC, "del", &argv[1]);
}

fn getex(ctx: &mut Ctx, argv: &[Bytes]) {
    let o = match parse_set_opts(&argv[2..], false) {
        Ok(o) => o,
        Err(e) => return ctx.error(e),
    };
    let now = ctx.now;
    let key = &argv[1];
    let at = o
        .expire
        .map(|(arg, kind)| (expire_at(arg, kind, now), kind));
    match lookup_str(ctx.dbs, ctx.db, now, ctx.stats, key) {
        Ok(Some(s)) => {
            if let Some((Err(e), _)) = at {
                return expire_error(ctx, "getex", e);
            }
            reply_string(ctx.out, s);
        }
        Ok(None) => return ctx.out.null(),
        Err(e) => return ctx.error(e),
    }
    let db = ctx.db();
    match at {
        Some((Ok(at), ExpireKind::ExAt | ExpireKind::PxAt)) if at <= now => {
            db.remove(key, now);
            ctx.dirty += 1;
            ctx.rewrite(vec![
                crate::shard::journal::expiry_delete_command(),
                key.clone(),
            ]);
            ctx.notify(NOTIFY_GENERIC, "del", key);
        }
        Some((Ok(at), _)) => {
            db.set_expire(key, at, now);
            ctx.dirty += 1;
            ctx.rewrite(vec![
                Bytes::from_static(b"PEXPIREAT"),
                key.clone(),
                int_arg(at),
            ]);
            ctx.notify(NOTIFY_GENERIC, "expire", key);
        }
        _ if o.persist => {
            let has_ttl = db.peek(key, now).is_some_and(|e| e.expire_at != NO_EXPIRE);
            if has_ttl {
                db.set_expire(key, NO_EXPIRE, now);
                ctx.dirty += 1;
                ctx.rewrite(vec![Bytes::from_static(b"PERSIST"), key.clone()]);
                ctx.notify(NOTIFY_GENERIC, "persist", key);
            }
        }
        _ => {}
    }
}

// ---- Counters --------------------------------------------------------------------------------

/// INCRBY's shard-local operation; the key keeps its TTL.
pub fn op_incrby(ctx: &mut Ctx, key: &[u8], delta: i64) -> Result<i64, &'static str> {
    let now = ctx.now;
    let db = ctx.db();
    let cur = match db.get_mut(key, now) {
        None => None,
        Some(e) => match as_str(&e.value)? {
            RString::Int(i) => Some(*i),
            RString::Bytes { buf, .. } => Some(parse_i64(buf).ok_or(errors::NOT_INTEGER)?),
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
    ctx.notify(NOTIFY_STRING, "incrby", key);
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
    match parse_i64(&argv[2]) {
        Some(d) => match d.checked_neg() {
            Some(d) => incr_reply(ctx, &argv[1], d),
            None => ctx.error(errors::DECR_OVERFLOW),
        },
        None => ctx.error(errors::NOT_INTEGER),
    }
}

/// INCRBYFLOAT's shard-local operation: the new value's text (Redis's long double arithmetic
/// and `%.17Lf` formatting). The key keeps its TTL.
pub fn op_incrbyfloat(ctx: &mut Ctx, key: &[u8], incr: &[u8]) -> Result<Vec<u8>, &'static str> {
    let now = ctx.now;
    let db = ctx.db();
    let cur = match db.get_mut(key, now) {
        None => LongDouble::from_i64(0),
        Some(e) => match as_str(&e.value)? {
            RString::Int(i) => LongDouble::from_i64(*i),
            RString::Bytes { buf, .. } => match LongDouble::parse(buf) {
                Some(Parsed::Finite(v)) => v,
                Some(Parsed::Inf) => return Err(errors::NOT_FLOAT_RESULT),
                None => return Err(errors::NOT_FLOAT),
            },
        },
    };
    let sum = match LongDouble::parse(incr) {
        Some(Parsed::Finite(d)) => cur.add(d).ok_or(errors::NOT_FLOAT_RESULT)?,
        Some(Parsed::Inf) => return Err(errors::NOT_FLOAT_RESULT),
        None => return Err(errors::NOT_FLOAT),
    };
    let text = sum.to_human().into_bytes();
    // Redis stores the text as a plain string object (embstr/raw), never int encoded.
    let value = Value::Str(RString::Bytes {
        buf: text.clone(),
        raw: false,
    });
    match db.get_mut(key, now) {
        Some(e) => e.value = value,
        None => db.set(key, value),
    }
    ctx.dirty += 1;
    ctx.notify(NOTIFY_STRING, "incrbyfloat", key);
    Ok(text)
}

fn incrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) {
    match op_incrbyfloat(ctx, &argv[1], &argv[2]) {
        Ok(v) => {
            ctx.out.bulk(&v);
            // Float arithmetic may differ elsewhere: propagate the result, keeping the TTL.
            if ctx.propagating() {
                ctx.rewrite(vec![
                    Bytes::from_static(b"SET"),
                    argv[1].clone(),
                    Bytes::from(v),
                    Bytes::from_static(b"KEEPTTL"),
                ]);
            }
        }
        Err(e) => ctx.error(e),
    }
}

// ---- Substrings ------------------------------------------------------------------------------

/// APPEND's shard-local operation: the new length.
pub fn op_append(db: &mut Db, key: &[u8], add: &[u8], now: i64) -> Result<usize, &'static str> {
    match db.get_mut(key, now) {
        None => {
            db.set(key, Value::from_bytes(add));
            Ok(add.len())
        }
        Some(e) => {
            let s = as_str_mut(&mut e.value)?;
            check_string_length(s.len() as u64, add.len() as u64)?;
            let buf = s.make_raw();
            buf.extend_from_slice(add);
            Ok(buf.len())
        }
    }
}

fn append(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    match op_append(ctx.db(), &argv[1], &argv[2], now) {
        Ok(n) => {
            ctx.dirty += 1;
            ctx.notify(NOTIFY_STRING, "append", &argv[1]);
            ctx.out.int(n as i64)
        }
        Err(e) => ctx.error(e),
    }
}

fn strlen(ctx: &mut Ctx, argv: &[Bytes]) {
    match lookup_str(ctx.dbs, ctx.db, ctx.now, ctx.stats, &argv[1]) {
        Ok(Some(s)) => ctx.out.int(s.len() as i64),
        Ok(None) => ctx.out.int(0),
        Err(e) => ctx.error(e),
    }
}

/// GETRANGE's index arithmetic: the byte range `[start, end]` of a string of `len` bytes, or
/// None when it is empty.
pub fn substr_range(mut start: i64, mut end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if (start < 0 && end < 0 && start > end) || len == 0 {
        return None;
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0).min(len - 1);
    (start <= end).then_some((start as usize, end as usize))
}

fn getrange(ctx: &mut Ctx, argv: &[Bytes]) {
    let (Some(start), Some(end)) = (parse_i64(&argv[2]), parse_i64(&argv[3])) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    match lookup_str(ctx.dbs, ctx.db, ctx.now, ctx.stats, &argv[1]) {
        Ok(Some(s)) => {
            let mut scratch = itoa::Buffer::new();
            let b = s.as_bytes(&mut scratch);
            match substr_range(start, end, b.len()) {
                Some((a, z)) => ctx.out.bulk(&b[a..=z]),
                None => ctx.out.bulk(b""),
            }
        }
        Ok(None) => ctx.out.bulk(b""),
        Err(e) => ctx.error(e),
    }
}

/// SETRANGE's shard-local operation: the string's length afterwards. Writes (and bumps
/// `dirty`) only when `val` is not empty.
pub fn op_setrange(
    db: &mut Db,
    key: &[u8],
    offset: u64,
    val: &[u8],
    now: i64,
) -> Result<(usize, bool), &'static str> {
    match db.get_mut(key, now) {
        None => {
            if val.is_empty() {
                return Ok((0, false));
            }
            check_string_length(offset, val.len() as u64)?;
            let mut buf = vec![0u8; offset as usize + val.len()];
            buf[offset as usize..].copy_from_slice(val);
            let n = buf.len();
            db.set(key, Value::raw(buf));
            Ok((n, true))
        }
        Some(e) => {
            let s = as_str_mut(&mut e.value)?;
            if val.is_empty() {
                return Ok((s.len(), false));
            }
            check_string_length(offset, val.len() as u64)?;
            let buf = s.make_raw();
            let off = offset as usize;
            if buf.len() < off + val.len() {
                buf.resize(off + val.len(), 0);
            }
            buf[off..off + val.len()].copy_from_slice(val);
            Ok((buf.len(), true))
        }
    }
}

fn setrange(ctx: &mut Ctx, argv: &[Bytes]) {
    let Some(offset) = parse_i64(&argv[2]) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    if offset < 0 {
        return ctx.error(errors::OFFSET_RANGE);
    }
    let now = ctx.now;
    match op_setrange(ctx.db(), &argv[1], offset as u64, &argv[3], now) {
        Ok((n, wrote)) => {
            ctx.dirty += wrote as u64;
            if wrote {
                ctx.notify(NOTIFY_STRING, "setrange", &argv[1]);
            }
            ctx.out.int(n as i64)
        }
        Err(e) => ctx.error(e),
    }
}

// ---- Several keys ----------------------------------------------------------------------------

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
        ctx.notify(NOTIFY_STRING, "set", &kv[0]);
    }
    ctx.out.ok();
}

fn msetnx(ctx: &mut Ctx, argv: &[Bytes]) {
    if argv.len().is_multiple_of(2) {
        return ctx.error(&errors::wrong_arity("msetnx"));
    }
    let now = ctx.now;
    if argv[1..]
        .iter()
        .step_by(2)
        .any(|k| ctx.dbs[ctx.db].exists(k, now))
    {
        return ctx.out.int(0);
    }
    for kv in argv[1..].chunks_exact(2) {
        ctx.db().set(&kv[0], Value::from_bytes(&kv[1]));
        ctx.dirty += 1;
        ctx.notify(NOTIFY_STRING, "set", &kv[0]);
    }
    ctx.out.int(1);
}

// ---- LCS -------------------------------------------------------------------------------------

/// One matching range of LCS IDX: positions in the first and second string, inclusive.
#[derive(Debug, PartialEq)]
pub struct LcsMatch {
    pub a: (u32, u32),
    pub b: (u32, u32),
    pub len: u32,
}

/// The LCS of `a` and `b` (when `want_string`), its length, and its matching ranges from the
/// end backwards, as Redis walks the table (`want_ranges`, filtered by `min_len`).
/// Err when the table would be too big.
pub fn op_lcs(
    a: &[u8],
    b: &[u8],
    want_string: bool,
    want_ranges: bool,
    min_len: u64,
) -> Result<(Vec<u8>, u32, Vec<LcsMatch>), &'static str> {
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Err(errors::LCS_TOO_LONG);
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    // Redis aborts when it cannot allocate the table; we refuse above the bulk limit.
    if cells.saturating_mul(4) > PROTO_MAX_BULK_LEN {
        return Err(errors::LCS_NO_MEMORY);
    }
    let w = blen + 1;
    let mut t = vec![0u32; cells as usize];
    for i in 1..=alen {
        for j in 1..=blen {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let total = t[alen * w + blen];
    let mut result = vec![0u8; if want_string { total as usize } else { 0 }];
    let mut ranges = Vec::new();
    if !(want_string || want_ranges) {
        return Ok((result, total, ranges));
    }
    let mut idx = total as usize;
    let (mut i, mut j) = (alen, blen);
    // `alen` in arange_start means "no current range", as in Redis.
    let (mut as_, mut ae, mut bs, mut be) = (alen, 0, 0, 0);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            if want_string {
                result[idx - 1] = a[i - 1];
            }
            if as_ == alen {
                (as_, ae, bs, be) = (i - 1, i - 1, j - 1, j - 1);
            } else if as_ == i && bs == j {
                as_ -= 1;
                bs -= 1;
            } else {
                emit = true;
            }
            if as_ == 0 || bs == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if as_ != alen {
                emit = true;
            }
        }
        if emit {
            let len = (ae - as_ + 1) as u32;
            if want_ranges && (min_len == 0 || len as u64 >= min_len) {
                ranges.push(LcsMatch {
                    a: (as_ as u32, ae as u32),
                    b: (bs as u32, be as u32),
                    len,
                });
            }
            as_ = alen;
        }
    }
    Ok((result, total, ranges))
}

fn lcs(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    let mut vals: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    for (v, key) in vals.iter_mut().zip(&argv[1..3]) {
        match lookup_str(ctx.dbs, ctx.db, now, ctx.stats, key) {
            Ok(Some(s)) => *v = s.clone().into_vec(),
            Ok(None) => {}
            Err(_) => return ctx.error(errors::LCS_TYPES),
        }
    }
    let (mut idx, mut len, mut withlen, mut min_len) = (false, false, false, 0u64);
    let mut i = 3;
    while i < argv.len() {
        let a = &argv[i];
        if eq_ic(a, "idx") {
            idx = true;
        } else if eq_ic(a, "len") {
            len = true;
        } else if eq_ic(a, "withmatchlen") {
            withlen = true;
        } else if eq_ic(a, "minmatchlen") && i + 1 < argv.len() {
            let Some(n) = parse_i64(&argv[i + 1]) else {
                return ctx.error(errors::NOT_INTEGER);
            };
            min_len = n.max(0) as u64;
            i += 1;
        } else {
            return ctx.error(errors::SYNTAX);
        }
        i += 1;
    }
    if idx && len {
        return ctx.error(errors::LCS_LEN_AND_IDX);
    }
    let (s, total, ranges) = match op_lcs(&vals[0], &vals[1], !len && !idx, idx, min_len) {
        Ok(r) => r,
        Err(e) => return ctx.error(e),
    };
    if idx {
        let out = &mut *ctx.out;
        out.map(2);
        out.bulk(b"matches");
        out.array(ranges.len());
        for m in &ranges {
            out.array(2 + withlen as usize);
            out.array(2);
            out.int(m.a.0 as i64);
            out.int(m.a.1 as i64);
            out.array(2);
            out.int(m.b.0 as i64);
            out.int(m.b.1 as i64);
            if withlen {
                out.int(m.len as i64);
            }
        }
        out.bulk(b"len");
        out.int(total as i64);
    } else if len {
        ctx.out.int(total as i64);
    } else {
        ctx.out.bulk(&s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_options_follow_redis_rules() {
        let args = |s: &str| -> Vec<Bytes> {
            s.split_whitespace()
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect()
        };
        assert!(parse_set_opts(&args("NX XX"), true).is_err());
        assert!(parse_set_opts(&args("NX NX GET"), true).is_ok());
        assert!(parse_set_opts(&args("EX 1 EX 2"), true).is_ok());
        assert!(parse_set_opts(&args("EX 1 PX 2"), true).is_err());
        assert!(parse_set_opts(&args("KEEPTTL EX 2"), true).is_err());
        assert!(parse_set_opts(&args("EX 2 KEEPTTL"), true).is_err());
        assert!(parse_set_opts(&args("EX"), true).is_err());
        assert!(parse_set_opts(&args("PERSIST"), true).is_err());
        assert!(parse_set_opts(&args("PERSIST"), false).is_ok());
        assert!(parse_set_opts(&args("PERSIST EX 1"), false).is_err());
        assert!(parse_set_opts(&args("NX"), false).is_err());
        // The value is only checked after parsing: a bad option wins over a bad number.
        assert!(parse_set_opts(&args("EX abc"), true).is_ok());
    }

    #[test]
    fn expire_times() {
        assert_eq!(expire_at(b"10", ExpireKind::Ex, 1000), Ok(11_000));
        assert_eq!(expire_at(b"10", ExpireKind::PxAt, 1000), Ok(10));
        assert_eq!(expire_at(b"0", ExpireKind::Ex, 1000), Err(Some(())));
        assert_eq!(expire_at(b"x", ExpireKind::Ex, 1000), Err(None));
        assert_eq!(
            expire_at(b"9223372036854775807", ExpireKind::Px, 1000),
            Err(Some(()))
        );
        assert_eq!(
            expire_at(b"9223372036854775807", ExpireKind::Ex, 0),
            Err(Some(()))
        );
    }

    #[test]
    fn getrange_indexes() {
        assert_eq!(substr_range(0, 4, 11), Some((0, 4)));
        assert_eq!(substr_range(-5, -1, 11), Some((6, 10)));
        assert_eq!(substr_range(5, 3, 11), None);
        assert_eq!(substr_range(-1, -5, 11), None);
        assert_eq!(substr_range(-100, 2, 11), Some((0, 2)));
        assert_eq!(substr_range(0, 100, 11), Some((0, 10)));
        assert_eq!(substr_range(i64::MIN, -1, 11), Some((0, 10)));
        assert_eq!(substr_range(0, -1, 0), None);
    }

    #[test]
    fn lcs_string_and_ranges() {
        let (s, n, r) = op_lcs(b"ohmytext", b"mynewtext", true, true, 0).unwrap_or_default();
        assert_eq!((s.as_slice(), n), (&b"mytext"[..], 6));
        assert_eq!(
            r,
            vec![
                LcsMatch {
                    a: (4, 7),
                    b: (5, 8),
                    len: 4
                },
                LcsMatch {
                    a: (2, 3),
                    b: (0, 1),
                    len: 2
                },
            ]
        );
        let (_, _, r) = op_lcs(b"ohmytext", b"mynewtext", false, true, 4).unwrap_or_default();
        assert_eq!(r.len(), 1);
        let (s, n, _) = op_lcs(b"", b"abc", true, false, 0).unwrap_or_default();
        assert_eq!((s.len(), n), (0, 0));
    }

    #[test]
    fn append_and_setrange_make_raw_strings() {
        let mut db = Db::new();
        db.set(b"n", Value::from_bytes(b"10"));
        assert_eq!(op_append(&mut db, b"n", b"5", 0), Ok(3));
        let enc = db.get(b"n", 0).map(|e| e.value.encoding());
        assert_eq!(enc, Some("raw"));
        assert_eq!(op_setrange(&mut db, b"z", 3, b"ab", 0), Ok((5, true)));
        assert_eq!(op_setrange(&mut db, b"none", 3, b"", 0), Ok((0, false)));
        assert_eq!(
            op_setrange(&mut db, b"z", PROTO_MAX_BULK_LEN, b"x", 0),
            Err(errors::STRING_TOO_LONG)
        );
        let v = db.get(b"z", 0).map(|e| e.value.clone());
        assert_eq!(v, Some(Value::raw(b"\0\0\0ab".to_vec())));
    }
}
