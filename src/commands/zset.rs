//! Sorted-set commands (Redis 7.0 `t_zset.c`): specs, shard-local operations and handlers.
//! The blocking variants (BZPOPMIN BZPOPMAX BZMPOP) live with the blocking machinery.

use super::glob::stringmatch;
use super::spec::*;
use super::{count_error, eq_ic, errors, parse_i64, Ctx, Handler};
use crate::keyspace::notify::{NOTIFY_GENERIC, NOTIFY_ZSET};
use crate::keyspace::zset::{LexBound, LexRange, ScoreRange};
use crate::keyspace::{Db, Value, ZSet};
use crate::resp::{Proto, ReplyBuf};
use crate::shard::ShardStats;
use bytes::Bytes;
use rand::Rng;

const G: &str = "sorted-set";

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("zadd", -4, WRITE | DENYOOM | FAST, Keys::Range(1, 1, 1), G, "1.2.0", "Add one or more members to a sorted set, or update its score if it already exists", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", Handler::Keyed(zadd))
        .with_key_specs(&[
            ks(KS_RW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zincrby", 4, WRITE | DENYOOM | FAST, Keys::Range(1, 1, 1), G, "1.2.0", "Increment the score of a member in a sorted set", "O(log(N)) where N is the number of elements in the sorted set.", Handler::Keyed(zincrby))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zrem", -3, WRITE | FAST, Keys::Range(1, 1, 1), G, "1.2.0", "Remove one or more members from a sorted set", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", Handler::Keyed(zrem))
        .with_key_specs(&[
            ks(KS_RW | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zcard", 2, READONLY | FAST, Keys::Range(1, 1, 1), G, "1.2.0", "Get the number of members in a sorted set", "O(1)", Handler::Keyed(zcard))
        .with_key_specs(&[
            ks(KS_RO, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zcount", 4, READONLY | FAST, Keys::Range(1, 1, 1), G, "2.0.0", "Count the members in a sorted set with scores within the given values", "O(log(N)) with N being the number of elements in the sorted set.", Handler::Keyed(zcount))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zlexcount", 4, READONLY | FAST, Keys::Range(1, 1, 1), G, "2.8.9", "Count the number of members in a sorted set between a given lexicographical range", "O(log(N)) with N being the number of elements in the sorted set.", Handler::Keyed(zlexcount))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zscore", 3, READONLY | FAST, Keys::Range(1, 1, 1), G, "1.2.0", "Get the score associated with the given member in a sorted set", "O(1)", Handler::Keyed(zscore))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zmscore", -3, READONLY | FAST, Keys::Range(1, 1, 1), G, "6.2.0", "Get the score associated with the given members in a sorted set", "O(N) where N is the number of members being requested.", Handler::Keyed(zmscore))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zrank", 3, READONLY | FAST, Keys::Range(1, 1, 1), G, "2.0.0", "Determine the index of a member in a sorted set", "O(log(N))", Handler::Keyed(zrank))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zrevrank", 3, READONLY | FAST, Keys::Range(1, 1, 1), G, "2.0.0", "Determine the index of a member in a sorted set, with scores ordered from high to low", "O(log(N))", Handler::Keyed(zrevrank))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zrange", -4, READONLY, Keys::Range(1, 1, 1), G, "1.2.0", "Return a range of members in a sorted set", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", Handler::Keyed(zrange))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zrangestore", -5, WRITE | DENYOOM, Keys::Range(1, 2, 1), G, "6.2.0", "Store a range of members from sorted set into another key", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.", Handler::Keyed(zrangestore))
        .with_key_specs(&[
            ks(KS_OW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(2), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zrevrange", -4, READONLY, Keys::Range(1, 1, 1), G, "1.2.0", "Return a range of members in a sorted set, by index, with scores ordered from high to low", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", Handler::Keyed(zrevrange))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zrangebyscore", -4, READONLY, Keys::Range(1, 1, 1), G, "1.0.5", "Return a range of members in a sorted set, by score", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", Handler::Keyed(zrangebyscore))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zrevrangebyscore", -4, READONLY, Keys::Range(1, 1, 1), G, "2.2.0", "Return a range of members in a sorted set, by score, with scores ordered from high to low", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", Handler::Keyed(zrevrangebyscore))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zrangebylex", -4, READONLY, Keys::Range(1, 1, 1), G, "2.8.9", "Return a range of members in a sorted set, by lexicographical range", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", Handler::Keyed(zrangebylex))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zrevrangebylex", -4, READONLY, Keys::Range(1, 1, 1), G, "2.8.9", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", Handler::Keyed(zrevrangebylex))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zremrangebyrank", 4, WRITE, Keys::Range(1, 1, 1), G, "2.0.0", "Remove all members in a sorted set within the given indexes", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", Handler::Keyed(zremrangebyrank))
        .with_key_specs(&[
            ks(KS_RW | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zremrangebyscore", 4, WRITE, Keys::Range(1, 1, 1), G, "1.2.0", "Remove all members in a sorted set within the given scores", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", Handler::Keyed(zremrangebyscore))
        .with_key_specs(&[
            ks(KS_RW | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zremrangebylex", 4, WRITE, Keys::Range(1, 1, 1), G, "2.8.9", "Remove all members in a sorted set between the given lexicographical range", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", Handler::Keyed(zremrangebylex))
        .with_key_specs(&[
            ks(KS_RW | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zpopmin", -2, WRITE | FAST, Keys::Range(1, 1, 1), G, "5.0.0", "Remove and return members with the lowest scores in a sorted set", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", Handler::Keyed(zpopmin))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zpopmax", -2, WRITE | FAST, Keys::Range(1, 1, 1), G, "5.0.0", "Remove and return members with the highest scores in a sorted set", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", Handler::Keyed(zpopmax))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    spec("zmpop", -4, WRITE, Keys::Custom(numkeys_at_1), G, "7.0.0", "Remove and return members with scores in a sorted set", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", Handler::Keyed(zmpop))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Keynum(0, 1, 1)),
        ]),
    spec("zrandmember", -2, READONLY, Keys::Range(1, 1, 1), G, "6.2.0", "Get one or multiple random elements from a sorted set", "O(N) where N is the number of elements returned", Handler::Keyed(zrandmember))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output"]),
    spec("zunion", -3, READONLY, Keys::Custom(numkeys_at_1), G, "6.2.0", "Add multiple sorted sets", "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", Handler::Keyed(zunion))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Keynum(0, 1, 1)),
        ]),
    spec("zinter", -3, READONLY, Keys::Custom(numkeys_at_1), G, "6.2.0", "Intersect multiple sorted sets", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", Handler::Keyed(zinter))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Keynum(0, 1, 1)),
        ]),
    spec("zdiff", -3, READONLY, Keys::Custom(numkeys_at_1), G, "6.2.0", "Subtract multiple sorted sets", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", Handler::Keyed(zdiff))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Keynum(0, 1, 1)),
        ]),
    spec("zintercard", -3, READONLY, Keys::Custom(numkeys_at_1), G, "7.0.0", "Intersect multiple sorted sets and return the cardinality of the result", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.", Handler::Keyed(zintercard))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Keynum(0, 1, 1)),
        ]),
    spec("zunionstore", -4, WRITE | DENYOOM, Keys::Custom(dst_and_numkeys_at_2), G, "2.0.0", "Add multiple sorted sets and store the resulting sorted set in a new key", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", Handler::Keyed(zunionstore))
        .with_legacy_keys(1, 1, 1)
        .with_key_specs(&[
            ks(KS_OW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(2), FindKeys::Keynum(0, 1, 1)),
        ]),
    spec("zinterstore", -4, WRITE | DENYOOM, Keys::Custom(dst_and_numkeys_at_2), G, "2.0.0", "Intersect multiple sorted sets and store the resulting sorted set in a new key", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", Handler::Keyed(zinterstore))
        .with_legacy_keys(1, 1, 1)
        .with_key_specs(&[
            ks(KS_OW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(2), FindKeys::Keynum(0, 1, 1)),
        ]),
    spec("zdiffstore", -4, WRITE | DENYOOM, Keys::Custom(dst_and_numkeys_at_2), G, "6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", Handler::Keyed(zdiffstore))
        .with_legacy_keys(1, 1, 1)
        .with_key_specs(&[
            ks(KS_OW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(2), FindKeys::Keynum(0, 1, 1)),
        ]),
    spec("zscan", -3, READONLY, Keys::Range(1, 1, 1), G, "2.8.0", "Incrementally iterate sorted sets elements and associated scores", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", Handler::Keyed(zscan))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output"]),
];

// ---- key specs -------------------------------------------------------------------------------

/// `CMD numkeys key...` (ZUNION ZINTER ZDIFF ZINTERCARD ZMPOP).
fn numkeys_at_1(argv: &[Bytes], out: &mut Vec<usize>) {
    push_numkeys(argv, 1, out);
}

/// `CMD dst numkeys key...` (ZUNIONSTORE ZINTERSTORE ZDIFFSTORE).
fn dst_and_numkeys_at_2(argv: &[Bytes], out: &mut Vec<usize>) {
    if argv.len() > 1 {
        out.push(1);
    }
    push_numkeys(argv, 2, out);
}

fn push_numkeys(argv: &[Bytes], at: usize, out: &mut Vec<usize>) {
    let Some(n) = argv.get(at).and_then(|b| parse_i64(b)) else {
        return;
    };
    if n < 1 {
        return;
    }
    let n = (n as u64).min(argv.len() as u64) as usize;
    for i in at + 1..(at + 1 + n).min(argv.len()) {
        out.push(i);
    }
}

// ---- errors ----------------------------------------------------------------------------------

const MINMAX_NOT_FLOAT: &str = "ERR min or max is not a float";
const MINMAX_NOT_LEX: &str = "ERR min or max not valid string range item";
const NX_XX: &str = "ERR XX and NX options at the same time are not compatible";
const GT_LT_NX: &str = "ERR GT, LT, and/or NX options at the same time are not compatible";
const INCR_PAIR: &str = "ERR INCR option supports a single increment-element pair";
const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";
const WEIGHT_NOT_FLOAT: &str = "ERR weight value is not a float";
const LIMIT_RANK: &str =
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
const WITHSCORES_LEX: &str = "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
const NUMKEYS_POSITIVE: &str = "ERR numkeys should be greater than 0";
const COUNT_POSITIVE: &str = "ERR count should be greater than 0";
const LIMIT_NEGATIVE: &str = "ERR LIMIT can't be negative";
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
const OUT_OF_RANGE: &str = "ERR value is out of range";
const RANDMEMBER_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

fn fail(stats: &mut ShardStats, out: &mut ReplyBuf, e: &str) {
    count_error(stats, e);
    out.error(e);
}

// ---- parsing ---------------------------------------------------------------------------------

/// C `strtod` over the whole of `s` (no trailing bytes): decimal, `inf`/`infinity`, `nan`.
/// Returns the value and whether it over- or underflowed (ERANGE).
fn strtod_full(s: &[u8]) -> Option<(f64, bool)> {
    let t = std::str::from_utf8(s).ok()?;
    let body = t.trim_start_matches(['+', '-']);
    if t.len() - body.len() > 1 || body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" || lower == "nan" {
        let v: f64 = t.parse().ok()?;
        return Some((v, false));
    }
    // Rust accepts the same decimal syntax as strtod, except that it also accepts nothing
    // strtod rejects; hex floats (which strtod takes) are not supported.
    if !body
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let v: f64 = t.parse().ok()?;
    let mantissa_nonzero = body
        .split(['e', 'E'])
        .next()
        .is_some_and(|m| m.bytes().any(|c| (b'1'..=b'9').contains(&c)));
    let erange = v.is_infinite() || (v == 0.0 && mantissa_nonzero);
    Some((v, erange))
}

/// Redis's `getDoubleFromObject` (`string2d`): no leading space, no trailing bytes, no NaN,
/// no overflow or underflow to zero.
pub fn parse_score(s: &[u8]) -> Option<f64> {
    if s.first().is_none_or(|c| c.is_ascii_whitespace()) {
        return None;
    }
    match strtod_full(s)? {
        (v, false) if !v.is_nan() => Some(v),
        _ => None,
    }
}

/// One end of a score range (`zslParseRange`): `(` for exclusive, then strtod (leading
/// spaces allowed, overflow allowed, no NaN).
fn parse_range_item(s: &[u8]) -> Option<(f64, bool)> {
    let (ex, body) = match s.first() {
        Some(b'(') => (true, &s[1..]),
        _ => (false, s),
    };
    let start = body
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(body.len());
    let (v, _) = strtod_full(&body[start..])?;
    (!v.is_nan()).then_some((v, ex))
}

pub fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, &'static str> {
    let (min, minex) = parse_range_item(min).ok_or(MINMAX_NOT_FLOAT)?;
    let (max, maxex) = parse_range_item(max).ok_or(MINMAX_NOT_FLOAT)?;
    Ok(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

fn parse_lex_item(s: &[u8]) -> Option<LexBound> {
    match s.first()? {
        b'+' if s.len() == 1 => Some(LexBound::Max),
        b'-' if s.len() == 1 => Some(LexBound::Min),
        b'(' => Some(LexBound::Excl(s[1..].to_vec())),
        b'[' => Some(LexBound::Incl(s[1..].to_vec())),
        _ => None,
    }
}

pub fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, &'static str> {
    match (parse_lex_item(min), parse_lex_item(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(MINMAX_NOT_LEX),
    }
}

fn parse_long(b: &[u8]) -> Result<i64, &'static str> {
    parse_i64(b).ok_or(errors::NOT_INTEGER)
}

// ---- lookups ---------------------------------------------------------------------------------

fn as_zset(v: &Value) -> Result<&ZSet, &'static str> {
    match v {
        Value::ZSet(z) => Ok(z),
        _ => Err(errors::WRONGTYPE),
    }
}

/// A read lookup (`lookupKeyRead`): counts keyspace hits and misses.
fn read_zset<'a>(
    db: &'a mut Db,
    stats: &mut ShardStats,
    now: i64,
    key: &[u8],
) -> Result<Option<&'a ZSet>, &'static str> {
    super::lookup_read(db, stats, now, key, as_zset)
}

/// A write lookup (`lookupKeyWrite`): no hit/miss accounting.
fn write_zset<'a>(
    db: &'a mut Db,
    now: i64,
    key: &[u8],
) -> Result<Option<&'a mut ZSet>, &'static str> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(errors::WRONGTYPE),
        },
    }
}

/// Removes `key` when its zset became empty (an empty collection never stays in the keyspace).
fn drop_if_empty(db: &mut Db, now: i64, key: &[u8]) {
    if matches!(db.peek(key, now), Some(e) if matches!(&e.value, Value::ZSet(z) if z.is_empty())) {
        db.remove(key, now);
    }
}

// ---- replies ---------------------------------------------------------------------------------

/// Members with optional scores: RESP2 a flat array, RESP3 `[member, score]` pairs.
fn reply_members<'a>(
    out: &mut ReplyBuf,
    items: impl ExactSizeIterator<Item = (&'a [u8], f64)>,
    withscores: bool,
) {
    let n = items.len();
    let nested = withscores && out.proto == Proto::Resp3;
    out.array(if withscores && !nested { n * 2 } else { n });
    for (m, s) in items {
        if out.stop() {
            break;
        }
        if nested {
            out.array(2);
        }
        out.bulk(m);
        if withscores {
            out.double(s);
        }
    }
}

// ---- ZADD ZINCRBY ----------------------------------------------------------------------------

#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct ZaddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub ch: bool,
    pub incr: bool,
}

/// What ZADD did: counts, and the final score of the (single) INCR member when it applied.
#[derive(Debug, PartialEq)]
pub struct ZaddResult {
    pub added: usize,
    pub updated: usize,
    pub incr_score: Option<f64>,
}

/// Redis's `zsetAdd` over every pair, creating the key unless XX. Err on WRONGTYPE or a NaN
/// increment (pairs already applied stay applied, as in Redis).
pub fn op_zadd(
    db: &mut Db,
    now: i64,
    key: &[u8],
    f: ZaddFlags,
    pairs: &[(f64, &[u8])],
) -> Result<ZaddResult, &'static str> {
    let mut r = ZaddResult {
        added: 0,
        updated: 0,
        incr_score: None,
    };
    if write_zset(db, now, key)?.is_none() {
        if f.xx {
            return Ok(r);
        }
        let mut z = ZSet::new();
        if pairs
            .first()
            .is_some_and(|p| p.1.len() > crate::keyspace::encoding::zset_max_value())
        {
            z = ZSet::new_skiplist();
        }
        db.set(key, Value::ZSet(z));
    }
    let Ok(Some(z)) = write_zset(db, now, key) else {
        return Ok(r);
    };
    for &(score, member) in pairs {
        match z.score(member) {
            Some(cur) => {
                if f.nx {
                    continue;
                }
                let mut new = score;
                if f.incr {
                    new += cur;
                    if new.is_nan() {
                        return Err(NAN_SCORE);
                    }
                }
                if (f.lt && new >= cur) || (f.gt && new <= cur) {
                    continue;
                }
                if new != cur {
                    z.insert(member, new);
                    r.updated += 1;
                }
                r.incr_score = Some(new);
            }
            None => {
                if f.xx {
                    continue;
                }
                z.insert(member, score);
                r.added += 1;
                r.incr_score = Some(score);
            }
        }
    }
    Ok(r)
}

fn zadd_generic(ctx: &mut Ctx, argv: &[Bytes], mut f: ZaddFlags) {
    let mut i = 2;
    while i < argv.len() {
        let o = &argv[i];
        if eq_ic(o, "nx") {
            f.nx = true;
        } else if eq_ic(o, "xx") {
            f.xx = true;
        } else if eq_ic(o, "ch") {
            f.ch = true;
        } else if eq_ic(o, "incr") {
            f.incr = true;
        } else if eq_ic(o, "gt") {
            f.gt = true;
        } else if eq_ic(o, "lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &argv[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return ctx.error(errors::SYNTAX);
    }
    if f.nx && f.xx {
        return ctx.error(NX_XX);
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return ctx.error(GT_LT_NX);
    }
    if f.incr && rest.len() > 2 {
        return ctx.error(INCR_PAIR);
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for p in rest.chunks_exact(2) {
        let Some(s) = parse_score(&p[0]) else {
            return ctx.error(errors::NOT_FLOAT);
        };
        pairs.push((s, &p[1][..]));
    }
    let now = ctx.now;
    match op_zadd(ctx.db(), now, &argv[1], f, &pairs) {
        Err(e) => ctx.error(e),
        Ok(r) => {
            ctx.dirty += (r.added + r.updated) as u64;
            if r.added + r.updated > 0 {
                let event = if f.incr { "zincr" } else { "zadd" };
                ctx.notify(NOTIFY_ZSET, event, &argv[1]);
            }
            if f.incr {
                match r.incr_score {
                    Some(s) => ctx.out.double(s),
                    None => ctx.out.null(),
                }
            } else {
                let n = if f.ch { r.added + r.updated } else { r.added };
                ctx.out.int(n as i64);
            }
        }
    }
}

fn zadd(ctx: &mut Ctx, argv: &[Bytes]) {
    zadd_generic(ctx, argv, ZaddFlags::default());
}

fn zincrby(ctx: &mut Ctx, argv: &[Bytes]) {
    let f = ZaddFlags {
        incr: true,
        ..ZaddFlags::default()
    };
    zadd_generic(ctx, argv, f);
}

// ---- simple reads ----------------------------------------------------------------------------

fn zrem(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    let key = &argv[1];
    let deleted = match write_zset(ctx.db(), now, key) {
        Err(e) => return ctx.error(e),
        Ok(None) => 0,
        Ok(Some(z)) => argv[2..].iter().filter(|m| z.remove(m).is_some()).count(),
    };
    drop_if_empty(ctx.db(), now, key);
    ctx.dirty += deleted as u64;
    if deleted > 0 {
        ctx.notify(NOTIFY_ZSET, "zrem", key);
        ctx.notify_if_removed(key);
    }
    ctx.out.int(deleted as i64);
}

/// Runs `f` on the zset at argv[1] (read lookup); `missing` replies for an absent key.
fn with_zset(
    ctx: &mut Ctx,
    key: &[u8],
    missing: fn(&mut ReplyBuf),
    f: impl FnOnce(&ZSet, &mut ReplyBuf),
) {
    match read_zset(&mut ctx.dbs[ctx.db], ctx.stats, ctx.now, key) {
        Err(e) => fail(ctx.stats, ctx.out, e),
        Ok(None) => missing(ctx.out),
        Ok(Some(z)) => f(z, ctx.out),
    }
}

fn zero(out: &mut ReplyBuf) {
    out.int(0);
}

fn null(out: &mut ReplyBuf) {
    out.null();
}

fn zcard(ctx: &mut Ctx, argv: &[Bytes]) {
    with_zset(ctx, &argv[1], zero, |z, out| out.int(z.len() as i64));
}

fn zcount(ctx: &mut Ctx, argv: &[Bytes]) {
    let r = match parse_score_range(&argv[2], &argv[3]) {
        Ok(r) => r,
        Err(e) => return ctx.error(e),
    };
    with_zset(ctx, &argv[1], zero, |z, out| {
        out.int(z.range_by_score(&r, false).count() as i64)
    });
}

fn zlexcount(ctx: &mut Ctx, argv: &[Bytes]) {
    let r = match parse_lex_range(&argv[2], &argv[3]) {
        Ok(r) => r,
        Err(e) => return ctx.error(e),
    };
    with_zset(ctx, &argv[1], zero, |z, out| {
        out.int(z.range_by_lex(&r, false).count() as i64)
    });
}

fn zscore(ctx: &mut Ctx, argv: &[Bytes]) {
    with_zset(ctx, &argv[1], null, |z, out| match z.score(&argv[2]) {
        Some(s) => out.double(s),
        None => out.null(),
    });
}

fn zmscore(ctx: &mut Ctx, argv: &[Bytes]) {
    let members = &argv[2..];
    let z = match read_zset(&mut ctx.dbs[ctx.db], ctx.stats, ctx.now, &argv[1]) {
        Err(e) => return fail(ctx.stats, ctx.out, e),
        Ok(z) => z,
    };
    ctx.out.array(members.len());
    for m in members {
        match z.and_then(|z| z.score(m)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
}

fn rank_generic(ctx: &mut Ctx, argv: &[Bytes], rev: bool) {
    with_zset(ctx, &argv[1], null, |z, out| match z.rank(&argv[2], rev) {
        Some(r) => out.int(r as i64),
        None => out.null(),
    });
}

fn zrank(ctx: &mut Ctx, argv: &[Bytes]) {
    rank_generic(ctx, argv, false);
}

fn zrevrank(ctx: &mut Ctx, argv: &[Bytes]) {
    rank_generic(ctx, argv, true);
}

// ---- the ZRANGE family -----------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Debug)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

/// A parsed range query.
#[derive(Debug)]
pub enum RangeQuery {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Selects the elements of a query, in reply order.
pub fn op_select<'a>(
    z: &'a ZSet,
    q: &'a RangeQuery,
    rev: bool,
    offset: i64,
    limit: i64,
) -> Vec<(&'a [u8], f64)> {
    let take = if limit < 0 {
        usize::MAX
    } else {
        limit as usize
    };
    match q {
        RangeQuery::Rank(start, end) => {
            let len = z.len() as i64;
            let mut start = if *start < 0 { len + start } else { *start };
            let mut end = if *end < 0 { len + end } else { *end };
            if start < 0 {
                start = 0;
            }
            if start > end || start >= len {
                return Vec::new();
            }
            if end >= len {
                end = len - 1;
            }
            z.range_by_rank(start as usize, end as usize, rev).collect()
        }
        RangeQuery::Score(r) => {
            if offset < 0 || (offset > 0 && offset as usize >= z.len()) {
                return Vec::new();
            }
            z.range_by_score(r, rev)
                .skip(offset as usize)
                .take(take)
                .collect()
        }
        RangeQuery::Lex(r) => {
            if offset < 0 {
                return Vec::new();
            }
            z.range_by_lex(r, rev)
                .skip(offset as usize)
                .take(take)
                .collect()
        }
    }
}

/// Redis's `zrangeGenericCommand`: `key min max [options]` at `argv[at..]`; with `store` the
/// destination is argv[1].
fn zrange_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    at: usize,
    store: bool,
    mut rt: RangeType,
    mut dir: Direction,
) {
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = at + 3;
    while j < argv.len() {
        let a = &argv[j];
        let left = argv.len() - j - 1;
        if !store && eq_ic(a, "withscores") {
            withscores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            match (parse_long(&argv[j + 1]), parse_long(&argv[j + 2])) {
                (Ok(o), Ok(l)) => {
                    offset = o;
                    limit = l;
                }
                (Err(e), _) | (_, Err(e)) => return ctx.error(e),
            }
            j += 2;
        } else if dir == Direction::Auto && eq_ic(a, "rev") {
            dir = Direction::Reverse;
        } else if rt == RangeType::Auto && eq_ic(a, "bylex") {
            rt = RangeType::Lex;
        } else if rt == RangeType::Auto && eq_ic(a, "byscore") {
            rt = RangeType::Score;
        } else {
            return ctx.error(errors::SYNTAX);
        }
        j += 1;
    }
    if dir == Direction::Auto {
        dir = Direction::Forward;
    }
    if rt == RangeType::Auto {
        rt = RangeType::Rank;
    }
    if limit != -1 && rt == RangeType::Rank {
        return ctx.error(LIMIT_RANK);
    }
    if withscores && rt == RangeType::Lex {
        return ctx.error(WITHSCORES_LEX);
    }
    let rev = dir == Direction::Reverse;
    let (mut a, mut b) = (&argv[at + 1], &argv[at + 2]);
    if rev && rt != RangeType::Rank {
        std::mem::swap(&mut a, &mut b);
    }
    let q = match rt {
        RangeType::Score => parse_score_range(a, b).map(RangeQuery::Score),
        RangeType::Lex => parse_lex_range(a, b).map(RangeQuery::Lex),
        _ => match (parse_long(a), parse_long(b)) {
            (Ok(s), Ok(e)) => Ok(RangeQuery::Rank(s, e)),
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
    };
    let q = match q {
        Ok(q) => q,
        Err(e) => return ctx.error(e),
    };
    let now = ctx.now;
    let src = match read_zset(&mut ctx.dbs[ctx.db], ctx.stats, now, &argv[at]) {
        Err(e) => return fail(ctx.stats, ctx.out, e),
        Ok(z) => z,
    };
    if !store {
        match src {
            None => ctx.out.array(0),
            Some(z) => {
                let items = op_select(z, &q, rev, offset, limit);
                reply_members(ctx.out, items.into_iter(), withscores);
            }
        }
        return;
    }
    let mut dst = ZSet::new();
    if let Some(z) = src {
        for (m, s) in op_select(z, &q, rev, offset, limit) {
            dst.insert(m, s);
        }
    }
    store_result(ctx, &argv[1], dst, "zrangestore");
}

/// Stores a computed zset at `dst` (or deletes `dst` when empty) and replies its size.
fn store_result(ctx: &mut Ctx, dst: &[u8], z: ZSet, event: &'static str) {
    let now = ctx.now;
    let n = z.len();
    if n > 0 {
        ctx.db().set(dst, Value::ZSet(z));
        ctx.dirty += 1;
        ctx.notify(NOTIFY_ZSET, event, dst);
    } else if ctx.db().remove(dst, now).is_some() {
        ctx.dirty += 1;
        ctx.notify(NOTIFY_GENERIC, "del", dst);
    }
    ctx.out.int(n as i64);
}

fn zrange(ctx: &mut Ctx, argv: &[Bytes]) {
    zrange_generic(ctx, argv, 1, false, RangeType::Auto, Direction::Auto);
}

fn zrangestore(ctx: &mut Ctx, argv: &[Bytes]) {
    zrange_generic(ctx, argv, 2, true, RangeType::Auto, Direction::Auto);
}

fn zrevrange(ctx: &mut Ctx, argv: &[Bytes]) {
    zrange_generic(ctx, argv, 1, false, RangeType::Rank, Direction::Reverse);
}

fn zrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) {
    zrange_generic(ctx, argv, 1, false, RangeType::Score, Direction::Forward);
}

fn zrevrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) {
    zrange_generic(ctx, argv, 1, false, RangeType::Score, Direction::Reverse);
}

fn zrangebylex(ctx: &mut Ctx, argv: &[Bytes]) {
    zrange_generic(ctx, argv, 1, false, RangeType::Lex, Direction::Forward);
}

fn zrevrangebylex(ctx: &mut Ctx, argv: &[Bytes]) {
    zrange_generic(ctx, argv, 1, false, RangeType::Lex, Direction::Reverse);
}

// ---- ZREMRANGEBY* ----------------------------------------------------------------------------

/// Removes the elements a query selects; returns how many.
pub fn op_remrange(
    db: &mut Db,
    now: i64,
    key: &[u8],
    q: &RangeQuery,
) -> Result<usize, &'static str> {
    let Some(z) = write_zset(db, now, key)? else {
        return Ok(0);
    };
    let victims: Vec<Box<[u8]>> = op_select(z, q, false, 0, -1)
        .into_iter()
        .map(|(m, _)| m.into())
        .collect();
    for m in &victims {
        z.remove(m);
    }
    drop_if_empty(db, now, key);
    Ok(victims.len())
}

fn remrange(ctx: &mut Ctx, argv: &[Bytes], q: Result<RangeQuery, &'static str>) {
    let q = match q {
        Ok(q) => q,
        Err(e) => return ctx.error(e),
    };
    let now = ctx.now;
    match op_remrange(ctx.db(), now, &argv[1], &q) {
        Ok(n) => {
            ctx.dirty += n as u64;
            if n > 0 {
                let event = match q {
                    RangeQuery::Rank(..) => "zremrangebyrank",
                    RangeQuery::Score(_) => "zremrangebyscore",
                    RangeQuery::Lex(_) => "zremrangebylex",
                };
                ctx.notify(NOTIFY_ZSET, event, &argv[1]);
                ctx.notify_if_removed(&argv[1]);
            }
            ctx.out.int(n as i64);
        }
        Err(e) => ctx.error(e),
    }
}

fn zremrangebyrank(ctx: &mut Ctx, argv: &[Bytes]) {
    let q = parse_long(&argv[2]).and_then(|s| parse_long(&argv[3]).map(|e| RangeQuery::Rank(s, e)));
    remrange(ctx, argv, q);
}

fn zremrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) {
    remrange(
        ctx,
        argv,
        parse_score_range(&argv[2], &argv[3]).map(RangeQuery::Score),
    );
}

fn zremrangebylex(ctx: &mut Ctx, argv: &[Bytes]) {
    remrange(
        ctx,
        argv,
        parse_lex_range(&argv[2], &argv[3]).map(RangeQuery::Lex),
    );
}

// ---- ZPOPMIN ZPOPMAX ZMPOP -------------------------------------------------------------------

/// Pops up to `count` elements from the low (or high, `max`) end of the first non-empty key
/// among `keys`. Ok(None) when no key exists.
#[allow(clippy::type_complexity)]
pub fn op_pop(
    db: &mut Db,
    now: i64,
    keys: &[Bytes],
    max: bool,
    count: usize,
) -> Result<Option<(Bytes, Vec<(Box<[u8]>, f64)>)>, &'static str> {
    for key in keys {
        let Some(z) = write_zset(db, now, key)? else {
            continue;
        };
        let mut popped = Vec::with_capacity(count.min(z.len()));
        while popped.len() < count {
            let Some((m, s)) = z.first(max) else { break };
            z.remove(&m);
            popped.push((m, s));
        }
        drop_if_empty(db, now, key);
        return Ok(Some((key.clone(), popped)));
    }
    Ok(None)
}

fn zpop_minmax(ctx: &mut Ctx, argv: &[Bytes], max: bool) {
    if argv.len() > 3 {
        return ctx.error(errors::SYNTAX);
    }
    let count = match argv.get(2) {
        None => None,
        Some(c) => match parse_i64(c) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return ctx.error(MUST_BE_POSITIVE),
        },
    };
    let now = ctx.now;
    let popped = match op_pop(ctx.db(), now, &argv[1..2], max, count.unwrap_or(1)) {
        Err(e) => return ctx.error(e),
        Ok(None) => return ctx.out.array(0),
        Ok(Some((_, p))) => p,
    };
    ctx.dirty += popped.len() as u64;
    if !popped.is_empty() {
        ctx.notify(
            NOTIFY_ZSET,
            if max { "zpopmax" } else { "zpopmin" },
            &argv[1],
        );
        ctx.notify_if_removed(&argv[1]);
    }
    // RESP3 nests the pairs only when a COUNT was given.
    let nested = ctx.out.proto == Proto::Resp3 && count.is_some();
    ctx.out.array(if nested {
        popped.len()
    } else {
        popped.len() * 2
    });
    for (m, s) in &popped {
        if nested {
            ctx.out.array(2);
        }
        ctx.out.bulk(m);
        ctx.out.double(*s);
    }
}

fn zpopmin(ctx: &mut Ctx, argv: &[Bytes]) {
    zpop_minmax(ctx, argv, false);
}

fn zpopmax(ctx: &mut Ctx, argv: &[Bytes]) {
    zpop_minmax(ctx, argv, true);
}

fn zmpop(ctx: &mut Ctx, argv: &[Bytes]) {
    let numkeys = match parse_i64(&argv[1]) {
        Some(n) if n >= 1 => n as u64,
        _ => return ctx.error(NUMKEYS_POSITIVE),
    };
    let where_idx = numkeys.saturating_add(2);
    if where_idx >= argv.len() as u64 {
        return ctx.error(errors::SYNTAX);
    }
    let where_idx = where_idx as usize;
    let max = if eq_ic(&argv[where_idx], "min") {
        false
    } else if eq_ic(&argv[where_idx], "max") {
        true
    } else {
        return ctx.error(errors::SYNTAX);
    };
    let mut count: Option<usize> = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count.is_none() && eq_ic(&argv[j], "count") && j + 1 < argv.len() {
            j += 1;
            match parse_i64(&argv[j]) {
                Some(n) if n >= 1 => count = Some(n as usize),
                _ => return ctx.error(COUNT_POSITIVE),
            }
        } else {
            return ctx.error(errors::SYNTAX);
        }
        j += 1;
    }
    let now = ctx.now;
    match op_pop(ctx.db(), now, &argv[2..where_idx], max, count.unwrap_or(1)) {
        Err(e) => ctx.error(e),
        Ok(None) => ctx.out.null_array(),
        Ok(Some((key, popped))) => {
            ctx.dirty += popped.len() as u64;
            ctx.notify(NOTIFY_ZSET, if max { "zpopmax" } else { "zpopmin" }, &key);
            ctx.notify_if_removed(&key);
            ctx.out.array(2);
            ctx.out.bulk(&key);
            ctx.out.array(popped.len());
            for (m, s) in &popped {
                ctx.out.array(2);
                ctx.out.bulk(m);
                ctx.out.double(*s);
            }
        }
    }
}

// ---- ZRANDMEMBER -----------------------------------------------------------------------------

fn zrandmember(ctx: &mut Ctx, argv: &[Bytes]) {
    if argv.len() < 3 {
        let z = match read_zset(&mut ctx.dbs[ctx.db], ctx.stats, ctx.now, &argv[1]) {
            Err(e) => return fail(ctx.stats, ctx.out, e),
            Ok(None) => return ctx.out.null(),
            Ok(Some(z)) => z,
        };
        let i = ctx.rng.random_range(0..z.len().max(1));
        return ctx.out.bulk(&z.scores.slot(i).key);
    }
    let l = match parse_i64(&argv[2]) {
        None => return ctx.error(errors::NOT_INTEGER),
        Some(i64::MIN) => return ctx.error(RANDMEMBER_RANGE),
        Some(l) => l,
    };
    if argv.len() > 4 || (argv.len() == 4 && !eq_ic(&argv[3], "withscores")) {
        return ctx.error(errors::SYNTAX);
    }
    let withscores = argv.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return ctx.error(OUT_OF_RANGE);
    }
    let z = match read_zset(&mut ctx.dbs[ctx.db], ctx.stats, ctx.now, &argv[1]) {
        Err(e) => return fail(ctx.stats, ctx.out, e),
        Ok(None) => return ctx.out.array(0),
        Ok(Some(z)) => z,
    };
    if l == 0 {
        return ctx.out.array(0);
    }
    let size = z.len();
    if l < 0 {
        // Drawn as the reply is written: the count is the client's, not the data's.
        let picks = (0..l.unsigned_abs()).map(|_| {
            let s = z.scores.slot(ctx.rng.random_range(0..size));
            (&s.key[..], s.val)
        });
        return reply_members(ctx.out, ExactLen(picks, l.unsigned_abs()), withscores);
    }
    let pick: Vec<(&[u8], f64)> = if l as u64 >= size as u64 {
        // Redis walks a small set's listpack from its tail here.
        z.iter(true).collect()
    } else {
        // Partial Fisher-Yates over positions: `l` distinct members in random order.
        let mut pos: Vec<usize> = (0..size).collect();
        let n = l as usize;
        for i in 0..n {
            let j = ctx.rng.random_range(i..size);
            pos.swap(i, j);
        }
        pos[..n]
            .iter()
            .map(|&i| {
                let s = z.scores.slot(i);
                (&s.key[..], s.val)
            })
            .collect()
    };
    reply_members(ctx.out, pick.into_iter(), withscores);
}

/// An iterator with a known length that `Map` over a `u64` range cannot state itself.
struct ExactLen<I>(I, u64);

impl<I: Iterator> Iterator for ExactLen<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        let item = self.0.next()?;
        self.1 -= 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.1).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

impl<I: Iterator> ExactSizeIterator for ExactLen<I> {}

// ---- ZUNION ZINTER ZDIFF and their STORE forms, ZINTERCARD -----------------------------------

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, v: f64, a: Aggregate) {
    match a {
        Aggregate::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v;
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

/// One input of a set operation: a zset's or a set's members (sets score 1), its weight, and
/// the argv index of its key (the same key twice is the same input).
struct Input {
    items: Vec<(Box<[u8]>, f64)>,
    lookup: Option<crate::keyspace::Dense<f64>>,
    weight: f64,
}

impl Input {
    fn find(&self, m: &[u8]) -> Option<f64> {
        self.lookup.as_ref().and_then(|d| d.get(m).copied())
    }
}

fn read_input(
    db: &mut Db,
    stats: &mut ShardStats,
    now: i64,
    key: &[u8],
) -> Result<Input, &'static str> {
    let mut inp = Input {
        items: Vec::new(),
        lookup: None,
        weight: 1.0,
    };
    let id = db.id as usize;
    match db.get(key, now) {
        None => {
            stats.keyspace_misses += 1;
            super::key_miss(id, key);
        }
        Some(e) => {
            stats.keyspace_hits += 1;
            match &e.value {
                Value::ZSet(z) => {
                    inp.items = z.iter(false).map(|(m, s)| (m.into(), s)).collect();
                    inp.lookup = Some(z.scores.clone());
                }
                Value::Set(s) => {
                    inp.items = s
                        .iter()
                        .map(|m| (m.to_vec().into_boxed_slice(), 1.0))
                        .collect();
                    let mut d = crate::keyspace::Dense::new();
                    for (m, _) in &inp.items {
                        d.insert_new(m.clone(), 1.0);
                    }
                    inp.lookup = Some(d);
                }
                _ => return Err(errors::WRONGTYPE),
            }
        }
    }
    Ok(inp)
}

/// Computes a union, intersection or difference into a fresh zset.
fn op_combine(
    mut inputs: Vec<Input>,
    op: SetOp,
    agg: Aggregate,
    card_limit: Option<usize>,
) -> (ZSet, usize) {
    let mut out = ZSet::new_skiplist();
    let mut card = 0usize;
    if op != SetOp::Diff {
        inputs.sort_by_key(|i| i.items.len());
    }
    match op {
        SetOp::Inter => {
            let Some((first, rest)) = inputs.split_first() else {
                return (out, 0);
            };
            for (m, s) in &first.items {
                let mut score = first.weight * s;
                if score.is_nan() {
                    score = 0.0;
                }
                let mut all = true;
                for o in rest {
                    match o.find(m) {
                        Some(v) => aggregate(&mut score, v * o.weight, agg),
                        None => {
                            all = false;
                            break;
                        }
                    }
                }
                if !all {
                    continue;
                }
                if let Some(limit) = card_limit {
                    card += 1;
                    if limit != 0 && card >= limit {
                        break;
                    }
                } else {
                    out.insert(m, score);
                }
            }
        }
        SetOp::Union => {
            let mut acc: crate::keyspace::Dense<f64> = crate::keyspace::Dense::new();
            for inp in &inputs {
                for (m, s) in &inp.items {
                    let mut score = inp.weight * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, score, agg),
                        None => {
                            acc.insert_new(m.clone(), score);
                        }
                    }
                }
            }
            for (m, s) in acc.iter() {
                out.insert(m, *s);
            }
        }
        SetOp::Diff => {
            if let Some((first, rest)) = inputs.split_first() {
                for (m, s) in &first.items {
                    if rest.iter().all(|o| o.find(m).is_none()) {
                        out.insert(m, *s);
                    }
                }
            }
        }
    }
    (out, card)
}

/// Redis's `zunionInterDiffGenericCommand`. `dst`: the STORE forms; `card`: ZINTERCARD.
fn combine_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    dst: Option<&[u8]>,
    nk_at: usize,
    op: SetOp,
    card: bool,
) {
    let setnum = match parse_i64(&argv[nk_at]) {
        None => return ctx.error(errors::NOT_INTEGER),
        Some(n) => n,
    };
    if setnum < 1 {
        let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
        return ctx.error(&format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
    }
    if setnum as u64 > (argv.len() - nk_at - 1) as u64 {
        return ctx.error(errors::SYNTAX);
    }
    let setnum = setnum as usize;
    let now = ctx.now;
    let mut inputs = Vec::with_capacity(setnum);
    for key in &argv[nk_at + 1..nk_at + 1 + setnum] {
        match read_input(&mut ctx.dbs[ctx.db], ctx.stats, now, key) {
            Ok(i) => inputs.push(i),
            Err(e) => return ctx.error(e),
        }
    }
    let (mut agg, mut withscores, mut limit) = (Aggregate::Sum, false, 0usize);
    let mut j = nk_at + 1 + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = &argv[j];
        if op != SetOp::Diff && !card && remaining > setnum && eq_ic(a, "weights") {
            j += 1;
            for inp in inputs.iter_mut() {
                match parse_score(&argv[j]) {
                    Some(w) => inp.weight = w,
                    None => return ctx.error(WEIGHT_NOT_FLOAT),
                }
                j += 1;
            }
        } else if op != SetOp::Diff && !card && remaining >= 2 && eq_ic(a, "aggregate") {
            let v = &argv[j + 1];
            agg = if eq_ic(v, "sum") {
                Aggregate::Sum
            } else if eq_ic(v, "min") {
                Aggregate::Min
            } else if eq_ic(v, "max") {
                Aggregate::Max
            } else {
                return ctx.error(errors::SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card && eq_ic(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card && remaining >= 2 && eq_ic(a, "limit") {
            match parse_i64(&argv[j + 1]) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => return ctx.error(LIMIT_NEGATIVE),
            }
            j += 2;
        } else {
            return ctx.error(errors::SYNTAX);
        }
    }
    let (mut z, n) = op_combine(inputs, op, agg, card.then_some(limit));
    if card {
        return ctx.out.int(n as i64);
    }
    match dst {
        Some(dst) => {
            z.convert_to_listpack_if_fits();
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            store_result(ctx, dst, z, event);
        }
        None => {
            let items: Vec<_> = z.iter(false).collect();
            reply_members(ctx.out, items.into_iter(), withscores);
        }
    }
}

fn zunion(ctx: &mut Ctx, argv: &[Bytes]) {
    combine_generic(ctx, argv, None, 1, SetOp::Union, false);
}

fn zinter(ctx: &mut Ctx, argv: &[Bytes]) {
    combine_generic(ctx, argv, None, 1, SetOp::Inter, false);
}

fn zdiff(ctx: &mut Ctx, argv: &[Bytes]) {
    combine_generic(ctx, argv, None, 1, SetOp::Diff, false);
}

fn zintercard(ctx: &mut Ctx, argv: &[Bytes]) {
    combine_generic(ctx, argv, None, 1, SetOp::Inter, true);
}

fn zunionstore(ctx: &mut Ctx, argv: &[Bytes]) {
    combine_generic(ctx, argv, Some(&argv[1]), 2, SetOp::Union, false);
}

fn zinterstore(ctx: &mut Ctx, argv: &[Bytes]) {
    combine_generic(ctx, argv, Some(&argv[1]), 2, SetOp::Inter, false);
}

fn zdiffstore(ctx: &mut Ctx, argv: &[Bytes]) {
    combine_generic(ctx, argv, Some(&argv[1]), 2, SetOp::Diff, false);
}

// ---- ZSCAN -----------------------------------------------------------------------------------

fn zscan(ctx: &mut Ctx, argv: &[Bytes]) {
    let Some(cursor) = super::keys::parse_cursor(&argv[2]) else {
        return ctx.error(errors::INVALID_CURSOR);
    };
    let z = match read_zset(&mut ctx.dbs[ctx.db], ctx.stats, ctx.now, &argv[1]) {
        Err(e) => return fail(ctx.stats, ctx.out, e),
        Ok(None) => {
            ctx.out.array(2);
            ctx.out.bulk(b"0");
            return ctx.out.array(0);
        }
        Ok(Some(z)) => z,
    };
    let (mut count, mut pattern) = (10usize, None);
    let mut i = 3;
    while i < argv.len() {
        let has_value = i + 1 < argv.len();
        if eq_ic(&argv[i], "count") && has_value {
            match parse_i64(&argv[i + 1]) {
                None => return fail(ctx.stats, ctx.out, errors::NOT_INTEGER),
                Some(n) if n < 1 => return fail(ctx.stats, ctx.out, errors::SYNTAX),
                Some(n) => count = usize::try_from(n).unwrap_or(usize::MAX),
            }
        } else if eq_ic(&argv[i], "match") && has_value {
            pattern = Some(&argv[i + 1][..]).filter(|p| *p != b"*");
        } else {
            return fail(ctx.stats, ctx.out, errors::SYNTAX);
        }
        i += 2;
    }
    let keep = |m: &[u8]| pattern.is_none_or(|p| stringmatch(p, m, false));
    let (next, items): (u64, Vec<(&[u8], f64)>) = if z.is_listpack() {
        // A listpack is returned whole, in order, like Redis does for small encodings.
        (0, z.iter(false).filter(|(m, _)| keep(m)).collect())
    } else {
        let mut v = Vec::new();
        let next = z.scores.scan(cursor, count, |i| {
            let s = z.scores.slot(i);
            if keep(&s.key) {
                v.push((&s.key[..], s.val));
            }
        });
        (next, v)
    };
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(items.len() * 2);
    for (m, s) in items {
        ctx.out.bulk(m);
        let mut b = bytes::BytesMut::new();
        crate::resp::write_double(s, &mut b);
        ctx.out.bulk(&b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_parsing_follows_string2d() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b"0e-400"), Some(0.0));
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b"1 "), None);
        assert_eq!(parse_score(b""), None);
        assert_eq!(parse_score(b"abc"), None);
    }

    #[test]
    fn ranges_parse_like_redis() {
        let r = parse_score_range(b"(1", b"+inf").unwrap_or_else(|e| panic!("{e}"));
        assert!(r.minex && !r.maxex && r.max.is_infinite());
        assert_eq!(parse_score_range(b"x", b"1"), Err(MINMAX_NOT_FLOAT));
        assert_eq!(parse_lex_range(b"a", b"+"), Err(MINMAX_NOT_LEX));
        assert_eq!(parse_lex_range(b"-x", b"+"), Err(MINMAX_NOT_LEX));
        assert!(parse_lex_range(b"[a", b"(b").is_ok());
    }

    #[test]
    fn zadd_flags_and_removal_of_empty_keys() {
        let mut db = Db::new();
        let f = ZaddFlags::default();
        let r = op_zadd(&mut db, 0, b"z", f, &[(1.0, b"a"), (2.0, b"b")]);
        assert_eq!(r.map(|r| r.added), Ok(2));
        let gt = ZaddFlags {
            gt: true,
            ch: true,
            ..f
        };
        let r = op_zadd(&mut db, 0, b"z", gt, &[(0.5, b"a"), (3.0, b"b")]);
        assert_eq!(r.map(|r| r.updated), Ok(1));
        let xx = ZaddFlags { xx: true, ..f };
        assert_eq!(
            op_zadd(&mut db, 0, b"nokey", xx, &[(1.0, b"a")]).map(|r| r.added),
            Ok(0)
        );
        assert!(!db.exists(b"nokey", 0));
        let q = RangeQuery::Rank(0, -1);
        assert_eq!(op_remrange(&mut db, 0, b"z", &q), Ok(2));
        assert!(!db.exists(b"z", 0));
    }

    #[test]
    fn pop_takes_from_the_requested_end() {
        let mut db = Db::new();
        let pairs: Vec<(f64, &[u8])> = vec![(1.0, b"a"), (2.0, b"b"), (3.0, b"c")];
        let _ = op_zadd(&mut db, 0, b"z", ZaddFlags::default(), &pairs);
        let keys = [Bytes::from_static(b"z")];
        let got = op_pop(&mut db, 0, &keys, true, 2).ok().flatten();
        let names: Vec<_> = got
            .map(|(_, v)| v.into_iter().map(|(m, _)| m.to_vec()).collect())
            .unwrap_or_default();
        assert_eq!(names, vec![b"c".to_vec(), b"b".to_vec()]);
    }
}
