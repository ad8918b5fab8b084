//! The @list family: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LREM LTRIM
//! LINSERT LPOS LMOVE RPOPLPUSH LMPOP.
//!
//! The blocking variants (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP) are in `blocking.rs`.
//!
//! Argument checks happen in Redis's order (some commands look the key up before parsing an
//! index, some after), since the order decides which error a client sees.

use super::errors;
use super::spec::*;
use super::{eq_ic, parse_i64, Ctx, Handler};
use crate::keyspace::list::End;
use crate::keyspace::notify::NOTIFY_LIST;
use crate::keyspace::{Db, List, Value};
use crate::resp::ReplyBuf;
use crate::shard::ShardStats;
use bytes::Bytes;

pub const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
pub const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
pub const LPOS_RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
pub const LPOS_COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
pub const LPOS_MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";
pub const NUMKEYS_NOT_POSITIVE: &str = "ERR numkeys should be greater than 0";
pub const COUNT_NOT_POSITIVE: &str = "ERR count should be greater than 0";

const PUSH_COMPLEXITY: &str = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.";

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("lpush", -3, WRITE | DENYOOM | FAST, Keys::Range(1, 1, 1), "list", "1.0.0", "Prepend one or multiple elements to a list", PUSH_COMPLEXITY, Handler::Keyed(lpush))
        .with_key_specs(&[
            ks(KS_RW | KS_INSERT, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("rpush", -3, WRITE | DENYOOM | FAST, Keys::Range(1, 1, 1), "list", "1.0.0", "Append one or multiple elements to a list", PUSH_COMPLEXITY, Handler::Keyed(rpush))
        .with_key_specs(&[
            ks(KS_RW | KS_INSERT, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("lpushx", -3, WRITE | DENYOOM | FAST, Keys::Range(1, 1, 1), "list", "2.2.0", "Prepend an element to a list, only if the list exists", PUSH_COMPLEXITY, Handler::Keyed(lpushx))
        .with_key_specs(&[
            ks(KS_RW | KS_INSERT, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("rpushx", -3, WRITE | DENYOOM | FAST, Keys::Range(1, 1, 1), "list", "2.2.0", "Append an element to a list, only if the list exists", PUSH_COMPLEXITY, Handler::Keyed(rpushx))
        .with_key_specs(&[
            ks(KS_RW | KS_INSERT, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("lpop", -2, WRITE | FAST, Keys::Range(1, 1, 1), "list", "1.0.0", "Remove and get the first elements in a list", "O(N) where N is the number of elements returned", Handler::Keyed(lpop))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("rpop", -2, WRITE | FAST, Keys::Range(1, 1, 1), "list", "1.0.0", "Remove and get the last elements in a list", "O(N) where N is the number of elements returned", Handler::Keyed(rpop))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("llen", 2, READONLY | FAST, Keys::Range(1, 1, 1), "list", "1.0.0", "Get the length of a list", "O(1)", Handler::Keyed(llen))
        .with_key_specs(&[
            ks(KS_RO, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("lrange", 4, READONLY, Keys::Range(1, 1, 1), "list", "1.0.0", "Get a range of elements from a list", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", Handler::Keyed(lrange))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("lindex", 3, READONLY, Keys::Range(1, 1, 1), "list", "1.0.0", "Get an element from a list by its index", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).", Handler::Keyed(lindex))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("lset", 4, WRITE | DENYOOM, Keys::Range(1, 1, 1), "list", "1.0.0", "Set the value of an element in a list by its index", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).", Handler::Keyed(lset))
        .with_key_specs(&[
            ks(KS_RW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("lrem", 4, WRITE, Keys::Range(1, 1, 1), "list", "1.0.0", "Remove elements from a list", "O(N+M) where N is the length of the list and M is the number of elements removed.", Handler::Keyed(lrem))
        .with_key_specs(&[
            ks(KS_RW | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("ltrim", 4, WRITE, Keys::Range(1, 1, 1), "list", "1.0.0", "Trim a list to the specified range", "O(N) where N is the number of elements to be removed by the operation.", Handler::Keyed(ltrim))
        .with_key_specs(&[
            ks(KS_RW | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("linsert", 5, WRITE | DENYOOM, Keys::Range(1, 1, 1), "list", "2.2.0", "Insert an element before or after another element in a list", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).", Handler::Keyed(linsert))
        .with_key_specs(&[
            ks(KS_RW | KS_INSERT, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("lpos", -3, READONLY, Keys::Range(1, 1, 1), "list", "6.0.6", "Return the index of matching elements on a list", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.", Handler::Keyed(lpos))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("lmove", 5, WRITE | DENYOOM, Keys::Range(1, 2, 1), "list", "6.2.0", "Pop an element from a list, push it to another list and return it", "O(1)", Handler::Keyed(lmove))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_RW | KS_INSERT, BeginSearch::Index(2), FindKeys::Range(0, 1, 0)),
        ]),
    spec("rpoplpush", 3, WRITE | DENYOOM, Keys::Range(1, 2, 1), "list", "1.2.0", "Remove the last element in a list, prepend it to another list and return it", "O(1)", Handler::Keyed(rpoplpush))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_RW | KS_INSERT, BeginSearch::Index(2), FindKeys::Range(0, 1, 0)),
        ]),
    spec("lmpop", -4, WRITE, Keys::Custom(lmpop_keys), "list", "7.0.0", "Pop elements from a list", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", Handler::Keyed(lmpop))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Keynum(0, 1, 1)),
        ]),
];

// ---- lookups ---------------------------------------------------------------------------------

#[inline]
pub fn as_list(v: &Value) -> Result<&List, &'static str> {
    match v {
        Value::List(l) => Ok(l),
        _ => Err(errors::WRONGTYPE),
    }
}

#[inline]
pub fn as_list_mut(v: &mut Value) -> Result<&mut List, &'static str> {
    match v {
        Value::List(l) => Ok(l),
        _ => Err(errors::WRONGTYPE),
    }
}

/// Reads a list (Redis's lookupKeyRead: counts keyspace hits and misses). Borrows only the
/// databases and counters, so the caller can write the reply straight from the list.
fn lookup_read<'a>(
    dbs: &'a mut [Db],
    db: usize,
    now: i64,
    stats: &mut ShardStats,
    key: &[u8],
) -> Result<Option<&'a List>, &'static str> {
    super::lookup_read(&mut dbs[db], stats, now, key, as_list)
}

/// Write access to a list; Ok(None) when the key is absent.
fn lookup_write<'a>(
    db: &'a mut Db,
    key: &[u8],
    now: i64,
) -> Result<Option<&'a mut List>, &'static str> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(e) => as_list_mut(&mut e.value).map(Some),
    }
}

/// Fails with WRONGTYPE when `key` holds something else than a list.
fn check_list(db: &mut Db, key: &[u8], now: i64) -> Result<bool, &'static str> {
    match db.peek(key, now) {
        None => Ok(false),
        Some(e) => as_list(&e.value).map(|_| true),
    }
}

/// An empty list never stays in the keyspace.
fn remove_if_empty(db: &mut Db, key: &[u8], now: i64) {
    if matches!(db.peek(key, now), Some(e) if matches!(&e.value, Value::List(l) if l.is_empty())) {
        db.remove(key, now);
    }
}

pub fn parse_end(arg: &[u8]) -> Result<End, &'static str> {
    if eq_ic(arg, "left") {
        Ok(End::Head)
    } else if eq_ic(arg, "right") {
        Ok(End::Tail)
    } else {
        Err(errors::SYNTAX)
    }
}

/// Redis's getRangeLongFromObjectOrReply(min, LONG_MAX, msg): `msg` answers both a
/// non-integer and an out-of-range value.
fn parse_at_least(arg: &[u8], min: i64, msg: &'static str) -> Result<i64, &'static str> {
    match parse_i64(arg) {
        Some(v) if v >= min => Ok(v),
        _ => Err(msg),
    }
}

fn parse_index(arg: &[u8]) -> Result<i64, &'static str> {
    parse_i64(arg).ok_or(errors::NOT_INTEGER)
}

// ---- shard-local operations ------------------------------------------------------------------

/// LPUSH/RPUSH (and the X variants with `only_existing`): the list's new length, 0 when
/// `only_existing` and the key is absent.
pub fn op_push(
    db: &mut Db,
    key: &[u8],
    now: i64,
    end: End,
    items: &[Bytes],
    only_existing: bool,
) -> Result<usize, &'static str> {
    if let Some(l) = lookup_write(db, key, now)? {
        for i in items {
            l.push(end, i);
        }
        return Ok(l.len());
    }
    if only_existing {
        return Ok(0);
    }
    let mut l = List::default();
    for i in items {
        l.push(end, i);
    }
    let n = l.len();
    db.set(key, Value::List(l));
    Ok(n)
}

/// Pops up to `count` elements from one end, in pop order. None when the key is absent.
pub fn op_pop(
    db: &mut Db,
    key: &[u8],
    now: i64,
    end: End,
    count: usize,
) -> Result<Option<Vec<Box<[u8]>>>, &'static str> {
    let Some(l) = lookup_write(db, key, now)? else {
        return Ok(None);
    };
    let n = count.min(l.len());
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        if let Some(v) = l.pop(end) {
            out.push(v);
        }
    }
    remove_if_empty(db, key, now);
    Ok(Some(out))
}

/// LMOVE: pops from `src`'s `from` end and pushes to `dst`'s `to` end (the same list when
/// `src == dst`). None when `src` is absent. `dst` is type-checked before anything moves.
pub fn op_move(
    db: &mut Db,
    src: &[u8],
    dst: &[u8],
    now: i64,
    from: End,
    to: End,
) -> Result<Option<Box<[u8]>>, &'static str> {
    if !check_list(db, src, now)? {
        return Ok(None);
    }
    check_list(db, dst, now)?;
    let Some(value) = lookup_write(db, src, now)?.and_then(|l| l.pop(from)) else {
        return Ok(None);
    };
    match lookup_write(db, dst, now)? {
        Some(l) => l.push(to, &value),
        None => {
            let mut l = List::default();
            l.push(to, &value);
            db.set(dst, Value::List(l));
        }
    }
    remove_if_empty(db, src, now);
    Ok(Some(value))
}

/// LPOS's search: indexes of the matches of `item`, starting at the `rank`th match (negative:
/// searching from the tail), at most `count` of them (0: all), looking at no more than
/// `maxlen` elements (0: all).
pub fn op_pos(l: &List, item: &[u8], rank: i64, count: usize, maxlen: usize) -> Vec<usize> {
    // Redis negates a negative rank in a C long: LONG_MIN stays negative, and every match
    // then counts as past the rank.
    let skip = if rank == i64::MIN {
        0
    } else {
        rank.unsigned_abs().saturating_sub(1)
    };
    let limit = if maxlen == 0 { usize::MAX } else { maxlen };
    let want = if count == 0 { usize::MAX } else { count };
    let mut out = Vec::new();
    let mut matches: u64 = 0;
    let mut visit = |i: usize, e: &[u8]| {
        if e == item {
            matches += 1;
            if matches > skip {
                out.push(i);
            }
        }
        out.len() < want
    };
    if rank > 0 {
        for (i, e) in l.iter().enumerate().take(limit) {
            if !visit(i, e) {
                break;
            }
        }
    } else {
        for (i, e) in l.iter().enumerate().rev().take(limit) {
            if !visit(i, e) {
                break;
            }
        }
    }
    out
}

// ---- handlers --------------------------------------------------------------------------------

fn push_generic(ctx: &mut Ctx, argv: &[Bytes], end: End, only_existing: bool) {
    let now = ctx.now;
    match op_push(ctx.db(), &argv[1], now, end, &argv[2..], only_existing) {
        Ok(n) => {
            if n > 0 {
                ctx.dirty += (argv.len() - 2) as u64;
                ctx.notify(NOTIFY_LIST, push_event(end), &argv[1]);
            }
            ctx.out.int(n as i64);
        }
        Err(e) => ctx.error(e),
    }
}

fn push_event(end: End) -> &'static str {
    match end {
        End::Head => "lpush",
        End::Tail => "rpush",
    }
}

/// Keyspace events of a pop: `lpop`/`rpop`, then `del` when the list is gone.
fn notify_pop(ctx: &mut Ctx, end: End, key: &[u8]) {
    let event = match end {
        End::Head => "lpop",
        End::Tail => "rpop",
    };
    ctx.notify(NOTIFY_LIST, event, key);
    ctx.notify_if_removed(key);
}

fn lpush(ctx: &mut Ctx, argv: &[Bytes]) {
    push_generic(ctx, argv, End::Head, false)
}

fn rpush(ctx: &mut Ctx, argv: &[Bytes]) {
    push_generic(ctx, argv, End::Tail, false)
}

fn lpushx(ctx: &mut Ctx, argv: &[Bytes]) {
    push_generic(ctx, argv, End::Head, true)
}

fn rpushx(ctx: &mut Ctx, argv: &[Bytes]) {
    push_generic(ctx, argv, End::Tail, true)
}

fn reply_items(out: &mut ReplyBuf, items: &[Box<[u8]>]) {
    out.array(items.len());
    for i in items {
        out.bulk(i);
    }
}

fn pop_generic(ctx: &mut Ctx, argv: &[Bytes], end: End) {
    if argv.len() > 3 {
        let e = errors::wrong_arity(if end == End::Head { "lpop" } else { "rpop" });
        ctx.error(&e);
        return;
    }
    let count = match argv.get(2).map(|a| parse_at_least(a, 0, NOT_POSITIVE)) {
        None => None,
        Some(Ok(n)) => Some(n as usize),
        Some(Err(e)) => return ctx.error(e),
    };
    let now = ctx.now;
    // COUNT 0 pops nothing but still distinguishes a missing key (null) from a list ([]).
    let res = match count {
        Some(0) => check_list(ctx.db(), &argv[1], now).map(|found| found.then(Vec::new)),
        _ => op_pop(ctx.db(), &argv[1], now, end, count.unwrap_or(1)),
    };
    match res {
        Err(e) => ctx.error(e),
        Ok(None) if count.is_some() => ctx.out.null_array(),
        Ok(None) => ctx.out.null(),
        Ok(Some(items)) => {
            ctx.dirty += items.len() as u64;
            if !items.is_empty() {
                notify_pop(ctx, end, &argv[1]);
            }
            match (count, items.first()) {
                (None, Some(v)) => ctx.out.bulk(v),
                (None, None) => ctx.out.null(),
                (Some(_), _) => reply_items(ctx.out, &items),
            }
        }
    }
}

fn lpop(ctx: &mut Ctx, argv: &[Bytes]) {
    pop_generic(ctx, argv, End::Head)
}

fn rpop(ctx: &mut Ctx, argv: &[Bytes]) {
    pop_generic(ctx, argv, End::Tail)
}

fn llen(ctx: &mut Ctx, argv: &[Bytes]) {
    match lookup_read(ctx.dbs, ctx.db, ctx.now, ctx.stats, &argv[1]) {
        Ok(l) => ctx.out.int(l.map_or(0, |l| l.len() as i64)),
        Err(e) => ctx.error(e),
    }
}

fn lrange(ctx: &mut Ctx, argv: &[Bytes]) {
    let (start, end) = match (parse_index(&argv[2]), parse_index(&argv[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return ctx.error(e),
    };
    match lookup_read(ctx.dbs, ctx.db, ctx.now, ctx.stats, &argv[1]) {
        Ok(None) => ctx.out.array(0),
        Ok(Some(l)) => {
            // Written straight from the list: no intermediate copy of the range.
            let (first, n) = l.range(start, end);
            ctx.out.array(n);
            for item in l.iter_range(first, n) {
                if ctx.out.stop() {
                    break;
                }
                ctx.out.bulk(item);
            }
        }
        Err(e) => {
            count_and_reply(ctx.stats, ctx.out, e);
        }
    }
}

/// `ctx.error` for handlers that hold a borrow of the databases.
fn count_and_reply(stats: &mut ShardStats, out: &mut ReplyBuf, e: &str) {
    super::count_error(stats, e);
    out.error(e);
}

fn lindex(ctx: &mut Ctx, argv: &[Bytes]) {
    let l = match lookup_read(ctx.dbs, ctx.db, ctx.now, ctx.stats, &argv[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return ctx.out.null(),
        Err(e) => return count_and_reply(ctx.stats, ctx.out, e),
    };
    match parse_index(&argv[2]) {
        Ok(i) => match l.get(i) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        },
        Err(e) => count_and_reply(ctx.stats, ctx.out, e),
    }
}

fn lset(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    let res = match lookup_write(ctx.db(), &argv[1], now) {
        Ok(None) => Err(errors::NO_SUCH_KEY),
        Err(e) => Err(e),
        Ok(Some(l)) => match parse_index(&argv[2]) {
            Ok(i) if l.set(i, &argv[3]) => Ok(()),
            Ok(_) => Err(INDEX_OUT_OF_RANGE),
            Err(e) => Err(e),
        },
    };
    match res {
        Ok(()) => {
            ctx.dirty += 1;
            ctx.notify(NOTIFY_LIST, "lset", &argv[1]);
            ctx.out.ok();
        }
        Err(e) => ctx.error(e),
    }
}

fn lrem(ctx: &mut Ctx, argv: &[Bytes]) {
    let count = match parse_index(&argv[2]) {
        Ok(c) => c,
        Err(e) => return ctx.error(e),
    };
    let now = ctx.now;
    let db = ctx.db();
    let res = lookup_write(db, &argv[1], now).map(|l| l.map_or(0, |l| l.remove(count, &argv[3])));
    match res {
        Ok(n) => {
            remove_if_empty(ctx.db(), &argv[1], now);
            ctx.dirty += n as u64;
            if n > 0 {
                ctx.notify(NOTIFY_LIST, "lrem", &argv[1]);
                ctx.notify_if_removed(&argv[1]);
            }
            ctx.out.int(n as i64);
        }
        Err(e) => ctx.error(e),
    }
}

fn ltrim(ctx: &mut Ctx, argv: &[Bytes]) {
    let (start, end) = match (parse_index(&argv[2]), parse_index(&argv[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return ctx.error(e),
    };
    let now = ctx.now;
    let res = lookup_write(ctx.db(), &argv[1], now).map(|l| l.map(|l| l.trim(start, end)));
    match res {
        Ok(n) => {
            remove_if_empty(ctx.db(), &argv[1], now);
            if n.is_some() {
                // Redis signals LTRIM to WATCH even when it removes nothing.
                ctx.db().signal_modified_key(&argv[1]);
                ctx.notify(NOTIFY_LIST, "ltrim", &argv[1]);
                ctx.notify_if_removed(&argv[1]);
            }
            ctx.dirty += n.unwrap_or(0) as u64;
            ctx.out.ok();
        }
        Err(e) => ctx.error(e),
    }
}

fn linsert(ctx: &mut Ctx, argv: &[Bytes]) {
    let end = if eq_ic(&argv[2], "after") {
        End::Tail
    } else if eq_ic(&argv[2], "before") {
        End::Head
    } else {
        return ctx.error(errors::SYNTAX);
    };
    let now = ctx.now;
    let res = lookup_write(ctx.db(), &argv[1], now).map(|l| match l {
        None => 0,
        Some(l) => {
            if l.insert(end, &argv[3], &argv[4]) {
                l.len() as i64
            } else {
                -1
            }
        }
    });
    match res {
        Ok(n) => {
            if n > 0 {
                ctx.dirty += 1;
                ctx.notify(NOTIFY_LIST, "linsert", &argv[1]);
            }
            ctx.out.int(n);
        }
        Err(e) => ctx.error(e),
    }
}

fn lpos(ctx: &mut Ctx, argv: &[Bytes]) {
    let mut rank = 1i64;
    let mut count: Option<usize> = None;
    let mut maxlen = 0usize;
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let opt = &argv[j];
        if more && eq_ic(opt, "rank") {
            j += 1;
            match parse_index(&argv[j]) {
                Ok(0) => return ctx.error(LPOS_RANK_ZERO),
                Ok(r) => rank = r,
                Err(e) => return ctx.error(e),
            }
        } else if more && eq_ic(opt, "count") {
            j += 1;
            match parse_at_least(&argv[j], 0, LPOS_COUNT_NEGATIVE) {
                Ok(c) => count = Some(c as usize),
                Err(e) => return ctx.error(e),
            }
        } else if more && eq_ic(opt, "maxlen") {
            j += 1;
            match parse_at_least(&argv[j], 0, LPOS_MAXLEN_NEGATIVE) {
                Ok(m) => maxlen = m as usize,
                Err(e) => return ctx.error(e),
            }
        } else {
            return ctx.error(errors::SYNTAX);
        }
        j += 1;
    }
    let found = match lookup_read(ctx.dbs, ctx.db, ctx.now, ctx.stats, &argv[1]) {
        Ok(Some(l)) => op_pos(l, &argv[2], rank, count.unwrap_or(1), maxlen),
        Ok(None) => Vec::new(),
        Err(e) => return ctx.error(e),
    };
    match (count, found.first()) {
        (Some(_), _) => {
            ctx.out.array(found.len());
            for i in found {
                if ctx.out.stop() {
                    break;
                }
                ctx.out.int(i as i64);
            }
        }
        (None, Some(&i)) => ctx.out.int(i as i64),
        (None, None) => ctx.out.null(),
    }
}

fn move_generic(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) {
    let now = ctx.now;
    match op_move(ctx.db(), src, dst, now, from, to) {
        Ok(Some(v)) => {
            ctx.dirty += 1;
            ctx.notify(NOTIFY_LIST, push_event(to), dst);
            notify_pop(ctx, from, src);
            ctx.out.bulk(&v);
        }
        Ok(None) => ctx.out.null(),
        Err(e) => ctx.error(e),
    }
}

fn lmove(ctx: &mut Ctx, argv: &[Bytes]) {
    match (parse_end(&argv[3]), parse_end(&argv[4])) {
        (Ok(from), Ok(to)) => move_generic(ctx, &argv[1], &argv[2], from, to),
        (Err(e), _) | (_, Err(e)) => ctx.error(e),
    }
}

fn rpoplpush(ctx: &mut Ctx, argv: &[Bytes]) {
    move_generic(ctx, &argv[1], &argv[2], End::Tail, End::Head)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: the keys, when numkeys is valid
/// (otherwise none, and the handler reports the error).
fn lmpop_keys(argv: &[Bytes], out: &mut Vec<usize>) {
    mpop_keys(argv, 1, out)
}

/// The keys of an `... numkeys key [key ...]` command whose numkeys is at `numkeys_idx`.
pub fn mpop_keys(argv: &[Bytes], numkeys_idx: usize, out: &mut Vec<usize>) {
    let Some(n) = argv.get(numkeys_idx).and_then(|a| parse_i64(a)) else {
        return;
    };
    if n < 1 || n as u64 >= (argv.len() - numkeys_idx) as u64 {
        return;
    }
    out.extend(numkeys_idx + 1..=numkeys_idx + n as usize);
}

/// LMPOP's arguments after numkeys: (first key index, number of keys, end, count).
fn parse_mpop(
    argv: &[Bytes],
    numkeys_idx: usize,
) -> Result<(usize, usize, End, usize), &'static str> {
    let numkeys = parse_at_least(&argv[numkeys_idx], 1, NUMKEYS_NOT_POSITIVE)?;
    let where_idx = (numkeys as u64).saturating_add(numkeys_idx as u64 + 1);
    if where_idx >= argv.len() as u64 {
        return Err(errors::SYNTAX);
    }
    let where_idx = where_idx as usize;
    let end = parse_end(&argv[where_idx])?;
    let mut count = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count.is_none() && j + 1 < argv.len() && eq_ic(&argv[j], "count") {
            j += 1;
            count = Some(parse_at_least(&argv[j], 1, COUNT_NOT_POSITIVE)? as usize);
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok((numkeys_idx + 1, numkeys as usize, end, count.unwrap_or(1)))
}

fn lmpop(ctx: &mut Ctx, argv: &[Bytes]) {
    let (first, n, end, count) = match parse_mpop(argv, 1) {
        Ok(p) => p,
        Err(e) => return ctx.error(e),
    };
    let now = ctx.now;
    for key in &argv[first..first + n] {
        match op_pop(ctx.db(), key, now, end, count) {
            Err(e) => return ctx.error(e),
            Ok(Some(items)) if !items.is_empty() => {
                ctx.dirty += items.len() as u64;
                notify_pop(ctx, end, key);
                ctx.out.array(2);
                ctx.out.bulk(key);
                reply_items(ctx.out, &items);
                return;
            }
            Ok(_) => {}
        }
    }
    ctx.out.null_array();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(items: &[&str]) -> Vec<Bytes> {
        items
            .iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    fn contents(db: &mut Db, key: &[u8]) -> Option<Vec<String>> {
        db.get(key, 0).map(|e| match &e.value {
            Value::List(l) => l
                .iter()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect(),
            _ => vec!["<not a list>".into()],
        })
    }

    #[test]
    fn push_pop_and_empty_lists_leave_the_keyspace() {
        let mut db = Db::new();
        assert_eq!(
            op_push(&mut db, b"k", 0, End::Tail, &b(&["a"]), true),
            Ok(0)
        );
        assert!(contents(&mut db, b"k").is_none());
        assert_eq!(
            op_push(&mut db, b"k", 0, End::Head, &b(&["a", "b", "c"]), false),
            Ok(3)
        );
        assert_eq!(
            contents(&mut db, b"k"),
            Some(vec!["c".into(), "b".into(), "a".into()])
        );
        let popped = op_pop(&mut db, b"k", 0, End::Tail, 2)
            .unwrap_or_default()
            .unwrap_or_default();
        assert_eq!(popped, vec![Box::from(&b"a"[..]), Box::from(&b"b"[..])]);
        assert_eq!(
            op_pop(&mut db, b"k", 0, End::Head, 10).map(|v| v.map(|v| v.len())),
            Ok(Some(1))
        );
        assert!(!db.exists(b"k", 0));
        assert_eq!(op_pop(&mut db, b"k", 0, End::Head, 1), Ok(None));
    }

    #[test]
    fn wrong_type_is_reported() {
        let mut db = Db::new();
        db.set(b"s", Value::from_bytes(b"x"));
        assert_eq!(
            op_push(&mut db, b"s", 0, End::Tail, &b(&["a"]), false),
            Err(errors::WRONGTYPE)
        );
        assert_eq!(
            op_pop(&mut db, b"s", 0, End::Tail, 1),
            Err(errors::WRONGTYPE)
        );
        op_push(&mut db, b"l", 0, End::Tail, &b(&["a"]), false).ok();
        assert_eq!(
            op_move(&mut db, b"l", b"s", 0, End::Head, End::Head),
            Err(errors::WRONGTYPE)
        );
        // Nothing moved.
        assert_eq!(contents(&mut db, b"l"), Some(vec!["a".into()]));
    }

    #[test]
    fn move_rotates_and_deletes_the_drained_source() {
        let mut db = Db::new();
        op_push(&mut db, b"l", 0, End::Tail, &b(&["a", "b", "c"]), false).ok();
        assert_eq!(
            op_move(&mut db, b"l", b"l", 0, End::Tail, End::Head),
            Ok(Some(Box::from(&b"c"[..])))
        );
        assert_eq!(
            contents(&mut db, b"l"),
            Some(vec!["c".into(), "a".into(), "b".into()])
        );
        for _ in 0..3 {
            assert!(matches!(
                op_move(&mut db, b"l", b"m", 0, End::Head, End::Tail),
                Ok(Some(_))
            ));
        }
        assert!(!db.exists(b"l", 0));
        assert_eq!(
            contents(&mut db, b"m"),
            Some(vec!["c".into(), "a".into(), "b".into()])
        );
    }

    #[test]
    fn lpos_rank_count_maxlen() {
        let mut l = List::default();
        for s in ["a", "b", "c", "1", "2", "3", "c", "c"] {
            l.push(End::Tail, s.as_bytes());
        }
        assert_eq!(op_pos(&l, b"c", 1, 1, 0), vec![2]);
        assert_eq!(op_pos(&l, b"c", 2, 1, 0), vec![6]);
        assert_eq!(op_pos(&l, b"c", -1, 0, 0), vec![7, 6, 2]);
        assert_eq!(op_pos(&l, b"c", 1, 0, 0), vec![2, 6, 7]);
        assert_eq!(op_pos(&l, b"c", 2, 2, 0), vec![6, 7]);
        assert_eq!(op_pos(&l, b"c", 1, 0, 3), vec![2]);
        assert_eq!(op_pos(&l, b"c", -1, 0, 2), vec![7, 6]);
        assert_eq!(op_pos(&l, b"x", 1, 0, 0), Vec::<usize>::new());
    }

    #[test]
    fn mpop_key_positions() {
        let mut out = Vec::new();
        mpop_keys(&b(&["lmpop", "2", "a", "b", "left"]), 1, &mut out);
        assert_eq!(out, vec![2, 3]);
        out.clear();
        mpop_keys(&b(&["lmpop", "3", "a", "b"]), 1, &mut out);
        assert!(out.is_empty());
        mpop_keys(&b(&["lmpop", "0", "a"]), 1, &mut out);
        assert!(out.is_empty());
    }
}
