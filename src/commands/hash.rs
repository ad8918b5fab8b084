//! The @hash family.

use super::errors;
use super::glob::stringmatch;
use super::keys::parse_cursor;
use super::spec::*;
use super::string::longdouble::{LongDouble, Parsed};
use super::{eq_ic, parse_i64, Ctx, Handler};
use crate::keyspace::notify::NOTIFY_HASH;
use crate::keyspace::{Db, Hash, Value};
use crate::resp::{Proto, ReplyBuf};
use crate::shard::ShardStats;
use bytes::Bytes;
use rand::Rng;

const K1: Keys = Keys::Range(1, 1, 1);

macro_rules! hcmd {
    ($name:expr, $arity:expr, $flags:expr, $since:expr, $summary:expr, $cx:expr, $h:ident) => {
        spec(
            $name,
            $arity,
            $flags,
            K1,
            "hash",
            $since,
            $summary,
            $cx,
            Handler::Keyed($h),
        )
    };
}

pub static COMMANDS: &[CommandSpec] = &[
    hcmd!("hset", -4, WRITE | DENYOOM | FAST, "2.0.0", "Set the string value of a hash field", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.", hset)
        .with_key_specs(&[
            ks(KS_RW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    hcmd!("hmset", -4, WRITE | DENYOOM | FAST, "2.0.0", "Set multiple hash fields to multiple values", "O(N) where N is the number of fields being set.", hmset)
        .with_key_specs(&[
            ks(KS_RW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    hcmd!("hsetnx", 4, WRITE | DENYOOM | FAST, "2.0.0", "Set the value of a hash field, only if the field does not exist", "O(1)", hsetnx)
        .with_key_specs(&[
            ks(KS_RW | KS_INSERT, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    hcmd!("hget", 3, READONLY | FAST, "2.0.0", "Get the value of a hash field", "O(1)", hget)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    hcmd!("hmget", -3, READONLY | FAST, "2.0.0", "Get the values of all the given hash fields", "O(N) where N is the number of fields being requested.", hmget)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    hcmd!("hdel", -3, WRITE | FAST, "2.0.0", "Delete one or more hash fields", "O(N) where N is the number of fields to be removed.", hdel)
        .with_key_specs(&[
            ks(KS_RW | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    hcmd!("hlen", 2, READONLY | FAST, "2.0.0", "Get the number of fields in a hash", "O(1)", hlen)
        .with_key_specs(&[
            ks(KS_RO, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    hcmd!("hstrlen", 3, READONLY | FAST, "3.2.0", "Get the length of the value of a hash field", "O(1)", hstrlen)
        .with_key_specs(&[
            ks(KS_RO, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    hcmd!("hexists", 3, READONLY | FAST, "2.0.0", "Determine if a hash field exists", "O(1)", hexists)
        .with_key_specs(&[
            ks(KS_RO, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    hcmd!("hkeys", 2, READONLY, "2.0.0", "Get all the fields in a hash", "O(N) where N is the size of the hash.", hkeys)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output_order"]),
    hcmd!("hvals", 2, READONLY, "2.0.0", "Get all the values in a hash", "O(N) where N is the size of the hash.", hvals)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output_order"]),
    hcmd!("hgetall", 2, READONLY, "2.0.0", "Get all the fields and values in a hash", "O(N) where N is the size of the hash.", hgetall)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output_order"]),
    hcmd!("hincrby", 4, WRITE | DENYOOM | FAST, "2.0.0", "Increment the integer value of a hash field by the given number", "O(1)", hincrby)
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    hcmd!("hincrbyfloat", 4, WRITE | DENYOOM | FAST, "2.6.0", "Increment the float value of a hash field by the given amount", "O(1)", hincrbyfloat)
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    hcmd!("hrandfield", -2, READONLY, "6.2.0", "Get one or multiple random fields from a hash", "O(N) where N is the number of fields returned", hrandfield)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output"]),
    hcmd!("hscan", -3, READONLY, "2.8.0", "Incrementally iterate hash fields and associated values", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", hscan)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output"]),
];

// ---- Lookups ---------------------------------------------------------------------------------

/// Reads a hash: Ok(None) when absent, Err on wrong type. Borrows only the databases and the
/// counters, so the caller can reply from the borrowed value.
pub fn lookup_hash<'a>(
    dbs: &'a mut [Db],
    db: usize,
    now: i64,
    stats: &mut ShardStats,
    key: &[u8],
) -> Result<Option<&'a Hash>, &'static str> {
    super::lookup_read(&mut dbs[db], stats, now, key, |v| match v {
        Value::Hash(h) => Ok(h),
        _ => Err(errors::WRONGTYPE),
    })
}

/// Write access to an existing hash.
pub fn hash_mut<'a>(
    db: &'a mut Db,
    key: &[u8],
    now: i64,
) -> Result<Option<&'a mut Hash>, &'static str> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Hash(h) => Ok(Some(h)),
            _ => Err(errors::WRONGTYPE),
        },
    }
}

/// Write access to a hash, created empty when absent (the caller must then write to it).
fn hash_or_create<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<&'a mut Hash, &'static str> {
    if !db.exists(key, now) {
        db.set(key, Value::Hash(Hash::new()));
    }
    match hash_mut(db, key, now)? {
        Some(h) => Ok(h),
        None => Err(errors::NO_SUCH_KEY),
    }
}

// ---- Shard-local operations ------------------------------------------------------------------

/// HSET/HMSET: sets the pairs; returns how many fields are new.
pub fn op_hset(db: &mut Db, key: &[u8], pairs: &[Bytes], now: i64) -> Result<usize, &'static str> {
    let h = hash_or_create(db, key, now)?;
    // Convert once up front when any pair is too long, as hashTypeTryConversion does.
    for p in pairs.chunks_exact(2) {
        h.fit(&p[0], &p[1]);
    }
    Ok(pairs
        .chunks_exact(2)
        .filter(|p| h.set(&p[0], &p[1]))
        .count())
}

pub fn op_hsetnx(
    db: &mut Db,
    key: &[u8],
    field: &[u8],
    value: &[u8],
    now: i64,
) -> Result<bool, &'static str> {
    if let Some(h) = hash_mut(db, key, now)? {
        if h.contains(field) {
            return Ok(false);
        }
    }
    hash_or_create(db, key, now)?.set(field, value);
    Ok(true)
}

/// HDEL: removes the fields, and the key with its last field; returns how many went.
pub fn op_hdel(db: &mut Db, key: &[u8], fields: &[Bytes], now: i64) -> Result<usize, &'static str> {
    let Some(h) = hash_mut(db, key, now)? else {
        return Ok(0);
    };
    let mut n = 0;
    for f in fields {
        if h.remove(f) {
            n += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if h.is_empty() {
        db.remove(key, now);
    }
    Ok(n)
}

pub fn op_hincrby(
    db: &mut Db,
    key: &[u8],
    field: &[u8],
    incr: i64,
    now: i64,
) -> Result<i64, &'static str> {
    let cur = match hash_mut(db, key, now)?.and_then(|h| h.get(field)) {
        None => 0,
        Some(v) => parse_i64(v).ok_or(errors::HASH_NOT_INTEGER)?,
    };
    let new = cur.checked_add(incr).ok_or(errors::OVERFLOW)?;
    hash_or_create(db, key, now)?.set(field, itoa::Buffer::new().format(new).as_bytes());
    Ok(new)
}

/// HINCRBYFLOAT with INCRBYFLOAT's long double arithmetic and formatting; the new text.
pub fn op_hincrbyfloat(
    db: &mut Db,
    key: &[u8],
    field: &[u8],
    incr: &[u8],
    now: i64,
) -> Result<Vec<u8>, &'static str> {
    let incr = match LongDouble::parse(incr) {
        Some(Parsed::Finite(d)) => d,
        Some(Parsed::Inf) => return Err(errors::NAN_OR_INFINITY),
        None => return Err(errors::NOT_FLOAT),
    };
    let cur = match hash_mut(db, key, now)?.and_then(|h| h.get(field)) {
        None => LongDouble::from_i64(0),
        Some(v) => match LongDouble::parse(v) {
            Some(Parsed::Finite(v)) => v,
            Some(Parsed::Inf) => return Err(errors::NOT_FLOAT_RESULT),
            None => return Err(errors::HASH_NOT_FLOAT),
        },
    };
    let text = cur
        .add(incr)
        .ok_or(errors::NOT_FLOAT_RESULT)?
        .to_human()
        .into_bytes();
    hash_or_create(db, key, now)?.set(field, &text);
    Ok(text)
}

/// The positions a count argument picks (HRANDFIELD, SRANDMEMBER, ZRANDMEMBER with a count):
/// a negative count draws `|count|` positions with repetition, one at a time as the reply is
/// written, so nothing is allocated for the count itself (Redis streams these replies too and
/// stops once the output buffer limit closes the client); a count at least the size gives the
/// whole collection in order; otherwise distinct random picks, bounded by the size.
pub fn pick_random<R: Rng>(len: usize, count: i64, rng: &mut R) -> RandomPicks<'_, R> {
    let picks = if len == 0 || count == 0 {
        Picks::Distinct(Vec::new().into_iter())
    } else if count < 0 {
        Picks::Repeat(count.unsigned_abs())
    } else if count as u64 >= len as u64 {
        Picks::Distinct((0..len).collect::<Vec<_>>().into_iter())
    } else {
        Picks::Distinct(
            rand::seq::index::sample(rng, len, count as usize)
                .into_vec()
                .into_iter(),
        )
    };
    RandomPicks { rng, len, picks }
}

/// The iterator [`pick_random`] returns.
pub struct RandomPicks<'r, R> {
    rng: &'r mut R,
    len: usize,
    picks: Picks,
}

enum Picks {
    Distinct(std::vec::IntoIter<usize>),
    Repeat(u64),
}

impl<R: Rng> Iterator for RandomPicks<'_, R> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match &mut self.picks {
            Picks::Distinct(it) => it.next(),
            Picks::Repeat(0) => None,
            Picks::Repeat(left) => {
                *left -= 1;
                Some(self.rng.random_range(0..self.len))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match &self.picks {
            Picks::Distinct(it) => it.len(),
            Picks::Repeat(left) => usize::try_from(*left).unwrap_or(usize::MAX),
        };
        (n, Some(n))
    }
}

impl<R: Rng> ExactSizeIterator for RandomPicks<'_, R> {}

// ---- Handlers --------------------------------------------------------------------------------

fn hset_common(ctx: &mut Ctx, argv: &[Bytes], hmset: bool) {
    if argv.len() % 2 == 1 {
        let name = if hmset { "hmset" } else { "hset" };
        return ctx.error(&errors::wrong_arity(name));
    }
    let now = ctx.now;
    match op_hset(ctx.db(), &argv[1], &argv[2..], now) {
        Ok(n) => {
            ctx.dirty += ((argv.len() - 2) / 2) as u64;
            ctx.notify(NOTIFY_HASH, "hset", &argv[1]);
            if hmset {
                ctx.out.ok()
            } else {
                ctx.out.int(n as i64)
            }
        }
        Err(e) => ctx.error(e),
    }
}

fn hset(ctx: &mut Ctx, argv: &[Bytes]) {
    hset_common(ctx, argv, false)
}

fn hmset(ctx: &mut Ctx, argv: &[Bytes]) {
    hset_common(ctx, argv, true)
}

fn hsetnx(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    match op_hsetnx(ctx.db(), &argv[1], &argv[2], &argv[3], now) {
        Ok(set) => {
            ctx.dirty += set as u64;
            if set {
                ctx.notify(NOTIFY_HASH, "hset", &argv[1]);
            }
            ctx.out.int(set as i64)
        }
        Err(e) => ctx.error(e),
    }
}

/// Runs `f` on the hash (None when absent) with the reply buffer, or replies the error.
fn with_hash(
    ctx: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(Option<&Hash>, &mut ReplyBuf, &mut rand::rngs::SmallRng),
) {
    match lookup_hash(ctx.dbs, ctx.db, ctx.now, ctx.stats, key) {
        Ok(h) => f(h, ctx.out, ctx.rng),
        Err(e) => {
            super::count_error(ctx.stats, e);
            ctx.out.error(e)
        }
    }
}

fn hget(ctx: &mut Ctx, argv: &[Bytes]) {
    with_hash(ctx, &argv[1], |h, out, _| {
        match h.and_then(|h| h.get(&argv[2])) {
            Some(v) => out.bulk(v),
            None => out.null(),
        }
    })
}

fn hmget(ctx: &mut Ctx, argv: &[Bytes]) {
    with_hash(ctx, &argv[1], |h, out, _| {
        out.array(argv.len() - 2);
        for f in &argv[2..] {
            match h.and_then(|h| h.get(f)) {
                Some(v) => out.bulk(v),
                None => out.null(),
            }
        }
    })
}

fn hdel(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    match op_hdel(ctx.db(), &argv[1], &argv[2..], now) {
        Ok(n) => {
            ctx.dirty += n as u64;
            if n > 0 {
                ctx.notify(NOTIFY_HASH, "hdel", &argv[1]);
                ctx.notify_if_removed(&argv[1]);
            }
            ctx.out.int(n as i64)
        }
        Err(e) => ctx.error(e),
    }
}

fn hlen(ctx: &mut Ctx, argv: &[Bytes]) {
    with_hash(ctx, &argv[1], |h, out, _| {
        out.int(h.map_or(0, |h| h.len()) as i64)
    })
}

fn hstrlen(ctx: &mut Ctx, argv: &[Bytes]) {
    with_hash(ctx, &argv[1], |h, out, _| {
        out.int(h.and_then(|h| h.get(&argv[2])).map_or(0, |v| v.len()) as i64)
    })
}

fn hexists(ctx: &mut Ctx, argv: &[Bytes]) {
    with_hash(ctx, &argv[1], |h, out, _| {
        out.int(h.is_some_and(|h| h.contains(&argv[2])) as i64)
    })
}

fn hkeys(ctx: &mut Ctx, argv: &[Bytes]) {
    with_hash(ctx, &argv[1], |h, out, _| {
        out.array(h.map_or(0, |h| h.len()));
        for (f, _) in h.iter().flat_map(|h| h.iter()) {
            if out.stop() {
                break;
            }
            out.bulk(f);
        }
    })
}

fn hvals(ctx: &mut Ctx, argv: &[Bytes]) {
    with_hash(ctx, &argv[1], |h, out, _| {
        out.array(h.map_or(0, |h| h.len()));
        for (_, v) in h.iter().flat_map(|h| h.iter()) {
            if out.stop() {
                break;
            }
            out.bulk(v);
        }
    })
}

fn hgetall(ctx: &mut Ctx, argv: &[Bytes]) {
    with_hash(ctx, &argv[1], |h, out, _| {
        out.map(h.map_or(0, |h| h.len()));
        for (f, v) in h.iter().flat_map(|h| h.iter()) {
            if out.stop() {
                break;
            }
            out.bulk(f);
            out.bulk(v);
        }
    })
}

fn hincrby(ctx: &mut Ctx, argv: &[Bytes]) {
    let Some(incr) = parse_i64(&argv[3]) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    let now = ctx.now;
    match op_hincrby(ctx.db(), &argv[1], &argv[2], incr, now) {
        Ok(v) => {
            ctx.dirty += 1;
            ctx.notify(NOTIFY_HASH, "hincrby", &argv[1]);
            ctx.out.int(v)
        }
        Err(e) => ctx.error(e),
    }
}

fn hincrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    match op_hincrbyfloat(ctx.db(), &argv[1], &argv[2], &argv[3], now) {
        Ok(v) => {
            ctx.dirty += 1;
            ctx.notify(NOTIFY_HASH, "hincrbyfloat", &argv[1]);
            ctx.out.bulk(&v);
            if ctx.propagating() {
                // Propagate the result, not the float arithmetic.
                ctx.rewrite(vec![
                    Bytes::from_static(b"HSET"),
                    argv[1].clone(),
                    argv[2].clone(),
                    Bytes::copy_from_slice(&v),
                ]);
            }
        }
        Err(e) => ctx.error(e),
    }
}

/// Parses a count argument in [-LONG_MAX, LONG_MAX] like `getRangeLongFromObjectOrReply`.
pub fn parse_random_count(b: &[u8]) -> Result<i64, &'static str> {
    match parse_i64(b) {
        None => Err(errors::NOT_INTEGER),
        Some(i64::MIN) => Err(errors::LONG_RANGE),
        Some(n) => Ok(n),
    }
}

fn hrandfield(ctx: &mut Ctx, argv: &[Bytes]) {
    if argv.len() == 2 {
        return with_hash(ctx, &argv[1], |h, out, rng| {
            match h.filter(|h| !h.is_empty()) {
                Some(h) => out.bulk(h.nth(rng.random_range(0..h.len())).0),
                None => out.null(),
            }
        });
    }
    let count = match parse_random_count(&argv[2]) {
        Ok(n) => n,
        Err(e) => return ctx.error(e),
    };
    let withvalues = match argv.len() {
        3 => false,
        4 if eq_ic(&argv[3], "withvalues") => true,
        _ => return ctx.error(errors::SYNTAX),
    };
    if withvalues && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
        return ctx.error(errors::VALUE_OUT_OF_RANGE);
    }
    with_hash(ctx, &argv[1], |h, out, rng| {
        let Some(h) = h else {
            return out.array(0);
        };
        let picks = pick_random(h.len(), count, rng);
        let resp3 = out.proto == Proto::Resp3;
        let n = picks.len();
        out.array(if withvalues && !resp3 { n * 2 } else { n });
        for i in picks {
            if out.stop() {
                break;
            }
            let (f, v) = h.nth(i);
            if withvalues && resp3 {
                out.array(2);
            }
            out.bulk(f);
            if withvalues {
                out.bulk(v);
            }
        }
    })
}

/// SCAN options of HSCAN/SSCAN/ZSCAN (Redis's `scanGenericCommand`): (COUNT, MATCH).
pub fn parse_scan_opts(args: &[Bytes]) -> Result<(usize, Option<&[u8]>), &'static str> {
    let mut count = 10usize;
    let mut pattern = None;
    let mut i = 0;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if eq_ic(&args[i], "count") && has_value {
            let n = parse_i64(&args[i + 1]).ok_or(errors::NOT_INTEGER)?;
            if n < 1 {
                return Err(errors::SYNTAX);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if eq_ic(&args[i], "match") && has_value {
            pattern = Some(&args[i + 1][..]).filter(|p| *p != b"*");
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    Ok((count, pattern))
}

/// Writes a scan reply: the cursor, then the flat list of items.
pub fn reply_scan(out: &mut ReplyBuf, cursor: u64, items: &[Vec<u8>]) {
    out.array(2);
    out.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    out.array(items.len());
    for it in items {
        out.bulk(it);
    }
}

fn hscan(ctx: &mut Ctx, argv: &[Bytes]) {
    let Some(cursor) = parse_cursor(&argv[2]) else {
        return ctx.error(errors::INVALID_CURSOR);
    };
    let h = match lookup_hash(ctx.dbs, ctx.db, ctx.now, ctx.stats, &argv[1]) {
        Ok(Some(h)) => h,
        Ok(None) => return reply_scan(ctx.out, 0, &[]),
        Err(e) => return ctx.error(e),
    };
    let (count, pattern) = match parse_scan_opts(&argv[3..]) {
        Ok(o) => o,
        Err(e) => return ctx.error(e),
    };
    let mut items = Vec::new();
    let next = h.scan(cursor, count, |f, v| {
        if pattern.is_none_or(|p| stringmatch(p, f, false)) {
            items.push(f.to_vec());
            items.push(v.to_vec());
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
    fn hset_hdel_remove_empty_key() {
        let mut db = Db::new();
        assert_eq!(
            op_hset(&mut db, b"h", &b(&["a", "1", "b", "2", "a", "3"]), 0),
            Ok(2)
        );
        assert_eq!(op_hdel(&mut db, b"h", &b(&["a", "x"]), 0), Ok(1));
        assert!(db.exists(b"h", 0));
        assert_eq!(op_hdel(&mut db, b"h", &b(&["b"]), 0), Ok(1));
        assert!(!db.exists(b"h", 0));
        db.set(b"s", Value::from_bytes(b"x"));
        assert_eq!(
            op_hset(&mut db, b"s", &b(&["a", "1"]), 0),
            Err(errors::WRONGTYPE)
        );
    }

    #[test]
    fn hincr_errors_and_text() {
        let mut db = Db::new();
        assert_eq!(op_hincrby(&mut db, b"h", b"n", 5, 0), Ok(5));
        assert_eq!(
            op_hincrby(&mut db, b"h", b"n", i64::MAX, 0),
            Err(errors::OVERFLOW)
        );
        op_hset(&mut db, b"h", &b(&["s", "abc"]), 0).ok();
        assert_eq!(
            op_hincrby(&mut db, b"h", b"s", 1, 0),
            Err(errors::HASH_NOT_INTEGER)
        );
        assert_eq!(
            op_hincrbyfloat(&mut db, b"h", b"f", b"0.1", 0),
            Ok(b"0.1".to_vec())
        );
        assert_eq!(
            op_hincrbyfloat(&mut db, b"h", b"f", b"0.2", 0),
            Ok(b"0.3".to_vec())
        );
        assert_eq!(
            op_hincrbyfloat(&mut db, b"h", b"s", b"1", 0),
            Err(errors::HASH_NOT_FLOAT)
        );
        assert_eq!(
            op_hincrbyfloat(&mut db, b"h", b"f", b"inf", 0),
            Err(errors::NAN_OR_INFINITY)
        );
    }

    #[test]
    fn random_picks() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        assert_eq!(
            pick_random(3, 10, &mut rng).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(pick_random(3, -10, &mut rng).count(), 10);
        let mut p: Vec<usize> = pick_random(10, 5, &mut rng).collect();
        p.sort();
        p.dedup();
        assert_eq!(p.len(), 5);
        assert_eq!(pick_random(0, 5, &mut rng).len(), 0);
        // A huge negative count costs nothing until it is drawn.
        let mut huge = pick_random(2, -999_999_999_999, &mut rng);
        assert_eq!(huge.len(), 999_999_999_999);
        assert!(huge.next().is_some_and(|i| i < 2));
    }
}
