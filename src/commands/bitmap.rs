//! The @bitmap family: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO.
//!
//! Bitmaps are strings; bit 0 is the most significant bit of the first byte.

use super::errors;
use super::spec::*;
use super::string::{as_str, as_str_mut, lookup_str, max_bulk_len};
use super::{eq_ic, parse_i64, Ctx, Handler};
use crate::keyspace::notify::{NOTIFY_GENERIC, NOTIFY_STRING};
use crate::keyspace::{Db, Value};
use bytes::Bytes;

/// BITFIELD only reads its key when every operation is a well-formed GET or OVERFLOW
/// (Redis's `bitfieldGetKeys`: anything else, a syntax error included, counts as a write).
fn bitfield_key_flags(argv: &[Bytes], _pos: usize) -> KeyFlags {
    let mut i = 2;
    while i < argv.len() {
        let rest = argv.len() - i - 1;
        if eq_ic(&argv[i], "get") && rest >= 2 {
            i += 3;
        } else if eq_ic(&argv[i], "overflow") && rest >= 1 {
            i += 2;
        } else {
            return KS_RW | KS_ACCESS | KS_UPDATE;
        }
    }
    KS_RO | KS_ACCESS
}

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "setbit",
        4,
        WRITE | DENYOOM,
        Keys::Range(1, 1, 1),
        "bitmap",
        "2.2.0",
        "Sets or clears the bit at offset in the string value stored at key",
        "O(1)",
        Handler::Keyed(setbit),
    )
    .with_key_specs(&[ks(
        KS_RW | KS_ACCESS | KS_UPDATE,
        BeginSearch::Index(1),
        FindKeys::Range(0, 1, 0),
    )]),
    spec(
        "getbit",
        3,
        READONLY | FAST,
        Keys::Range(1, 1, 1),
        "bitmap",
        "2.2.0",
        "Returns the bit value at offset in the string value stored at key",
        "O(1)",
        Handler::Keyed(getbit),
    )
    .with_key_specs(&[ks(
        KS_RO | KS_ACCESS,
        BeginSearch::Index(1),
        FindKeys::Range(0, 1, 0),
    )]),
    spec(
        "bitcount",
        -2,
        READONLY,
        Keys::Range(1, 1, 1),
        "bitmap",
        "2.6.0",
        "Count set bits in a string",
        "O(N)",
        Handler::Keyed(bitcount),
    )
    .with_key_specs(&[ks(
        KS_RO | KS_ACCESS,
        BeginSearch::Index(1),
        FindKeys::Range(0, 1, 0),
    )]),
    spec(
        "bitpos",
        -3,
        READONLY,
        Keys::Range(1, 1, 1),
        "bitmap",
        "2.8.7",
        "Find first bit set or clear in a string",
        "O(N)",
        Handler::Keyed(bitpos),
    )
    .with_key_specs(&[ks(
        KS_RO | KS_ACCESS,
        BeginSearch::Index(1),
        FindKeys::Range(0, 1, 0),
    )]),
    spec(
        "bitop",
        -4,
        WRITE | DENYOOM,
        Keys::Range(2, -1, 1),
        "bitmap",
        "2.6.0",
        "Perform bitwise operations between strings",
        "O(N)",
        Handler::Keyed(bitop),
    )
    .with_key_specs(&[
        ks(
            KS_OW | KS_UPDATE,
            BeginSearch::Index(2),
            FindKeys::Range(0, 1, 0),
        ),
        ks(
            KS_RO | KS_ACCESS,
            BeginSearch::Index(3),
            FindKeys::Range(-1, 1, 0),
        ),
    ]),
    spec(
        "bitfield",
        -2,
        WRITE | DENYOOM,
        Keys::Range(1, 1, 1),
        "bitmap",
        "3.2.0",
        "Perform arbitrary bitfield integer operations on strings",
        "O(1) for each subcommand specified",
        Handler::Keyed(bitfield),
    )
    .with_key_specs(&[ks(
        KS_RW | KS_ACCESS | KS_UPDATE | KS_VARIABLE_FLAGS,
        BeginSearch::Index(1),
        FindKeys::Range(0, 1, 0),
    )
    .notes("This command allows both access and modification of the key")])
    .with_variable_key_flags(bitfield_key_flags),
    spec(
        "bitfield_ro",
        -2,
        READONLY | FAST,
        Keys::Range(1, 1, 1),
        "bitmap",
        "6.0.0",
        "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
        "O(1) for each subcommand specified",
        Handler::Keyed(bitfield_ro),
    )
    .with_key_specs(&[ks(
        KS_RO | KS_ACCESS,
        BeginSearch::Index(1),
        FindKeys::Range(0, 1, 0),
    )]),
];

/// Redis's `getBitOffsetFromArgument`: a bit offset below 2^32 (512 MB of bits); with `hash`,
/// `#n` means n * `bits`.
fn bit_offset(arg: &[u8], hash_bits: Option<u32>) -> Result<u64, &'static str> {
    let (digits, mult) = match (arg.first(), hash_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], bits as i64),
        _ => (arg, 1),
    };
    let n = parse_i64(digits)
        .ok_or(errors::BIT_OFFSET)?
        .wrapping_mul(mult);
    if n < 0 || (n as u64 >> 3) >= max_bulk_len() {
        return Err(errors::BIT_OFFSET);
    }
    Ok(n as u64)
}

/// Write access to a string's bytes, created or zero-padded so that bit `max_bit` exists
/// (Redis's `lookupStringForBitCommand`). Returns the bytes and whether the key was created or
/// grown.
fn string_for_bits<'a>(
    db: &'a mut Db,
    key: &[u8],
    max_bit: u64,
    now: i64,
) -> Result<(&'a mut Vec<u8>, bool), &'static str> {
    let need = (max_bit >> 3) as usize + 1;
    if db.get_mut(key, now).is_none() {
        db.set(key, Value::raw(vec![0u8; need]));
        let e = db.get_mut(key, now).ok_or(errors::NO_SUCH_KEY)?;
        return Ok((as_str_mut(&mut e.value)?.make_raw(), true));
    }
    let e = db.get_mut(key, now).ok_or(errors::NO_SUCH_KEY)?;
    let buf = as_str_mut(&mut e.value)?.make_raw();
    let grown = buf.len() < need;
    if grown {
        buf.resize(need, 0);
    }
    Ok((buf, grown))
}

// ---- SETBIT GETBIT ---------------------------------------------------------------------------

/// SETBIT's shard-local operation: the previous bit and whether anything changed.
pub fn op_setbit(
    db: &mut Db,
    key: &[u8],
    offset: u64,
    on: bool,
    now: i64,
) -> Result<(bool, bool), &'static str> {
    let (buf, grown) = string_for_bits(db, key, offset, now)?;
    let byte = (offset >> 3) as usize;
    let mask = 0x80u8 >> (offset & 7);
    let old = buf[byte] & mask != 0;
    if on {
        buf[byte] |= mask;
    } else {
        buf[byte] &= !mask;
    }
    Ok((old, grown || old != on))
}

fn setbit(ctx: &mut Ctx, argv: &[Bytes]) {
    let offset = match bit_offset(&argv[2], None) {
        Ok(o) => o,
        Err(e) => return ctx.error(e),
    };
    let on = match parse_i64(&argv[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return ctx.error(errors::BIT_VALUE),
    };
    let now = ctx.now;
    match op_setbit(ctx.db(), &argv[1], offset, on, now) {
        Ok((old, changed)) => {
            ctx.dirty += changed as u64;
            if changed {
                ctx.notify(NOTIFY_STRING, "setbit", &argv[1]);
            }
            ctx.out.int(old as i64)
        }
        Err(e) => ctx.error(e),
    }
}

/// The bit at `offset` of `b` (0 past the end).
pub fn get_bit(b: &[u8], offset: u64) -> bool {
    b.get((offset >> 3) as usize)
        .is_some_and(|&c| c & (0x80 >> (offset & 7)) != 0)
}

fn getbit(ctx: &mut Ctx, argv: &[Bytes]) {
    let offset = match bit_offset(&argv[2], None) {
        Ok(o) => o,
        Err(e) => return ctx.error(e),
    };
    match lookup_str(ctx.dbs, ctx.db, ctx.now, ctx.stats, &argv[1]) {
        Ok(Some(s)) => {
            let mut scratch = itoa::Buffer::new();
            let bit = get_bit(s.as_bytes(&mut scratch), offset);
            ctx.out.int(bit as i64)
        }
        Ok(None) => ctx.out.int(0),
        Err(e) => ctx.error(e),
    }
}

// ---- BITCOUNT BITPOS -------------------------------------------------------------------------

/// Resolves a BITCOUNT/BITPOS range the way Redis does: negative indexes count from the end,
/// then clamp. Returns the inclusive bit range, or None when empty. `len` is in units (bytes
/// or bits).
fn bit_range(mut start: i64, mut end: i64, len: i64, unit_bits: bool) -> Option<(u64, u64)> {
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end {
        return None;
    }
    let (s, e) = (start as u64, end as u64);
    Some(if unit_bits {
        (s, e)
    } else {
        (s * 8, e * 8 + 7)
    })
}

/// Set bits of `b` within the inclusive bit range.
pub fn count_bits(b: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let mut n: u64 = b[fb..=lb].iter().map(|c| c.count_ones() as u64).sum();
    // Drop the bits of the edge bytes that are outside the range.
    n -= (b[fb] & !(0xffu8 >> (first & 7))).count_ones() as u64;
    n -= (b[lb] & (0x7fu8 >> (last & 7))).count_ones() as u64;
    n
}

/// The first bit equal to `bit` within the inclusive bit range.
pub fn find_bit(b: &[u8], first: u64, last: u64, bit: bool) -> Option<u64> {
    let mut i = first;
    while i <= last {
        let byte = b[(i >> 3) as usize];
        // Whole bytes that cannot hold the bit are skipped at once.
        if i & 7 == 0 && i + 7 <= last && byte == if bit { 0 } else { 0xff } {
            i += 8;
            continue;
        }
        if (byte & (0x80 >> (i & 7)) != 0) == bit {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn parse_unit(a: &[u8]) -> Option<bool> {
    if eq_ic(a, "bit") {
        Some(true)
    } else if eq_ic(a, "byte") {
        Some(false)
    } else {
        None
    }
}

fn bitcount(ctx: &mut Ctx, argv: &[Bytes]) {
    let s = match lookup_str(ctx.dbs, ctx.db, ctx.now, ctx.stats, &argv[1]) {
        Ok(Some(s)) => s,
        Ok(None) => return ctx.out.int(0),
        Err(e) => return ctx.error(e),
    };
    let mut scratch = itoa::Buffer::new();
    let b = s.as_bytes(&mut scratch);
    let range = match argv.len() {
        2 => bit_range(0, -1, b.len() as i64, false),
        4 | 5 => {
            let (Some(start), Some(end)) = (parse_i64(&argv[2]), parse_i64(&argv[3])) else {
                return ctx.error(errors::NOT_INTEGER);
            };
            if start < 0 && end < 0 && start > end {
                return ctx.out.int(0);
            }
            let bits = match argv.get(4) {
                None => false,
                Some(u) => match parse_unit(u) {
                    Some(bits) => bits,
                    None => return ctx.error(errors::SYNTAX),
                },
            };
            let len = b.len() as i64 * if bits { 8 } else { 1 };
            bit_range(start, end, len, bits)
        }
        _ => return ctx.error(errors::SYNTAX),
    };
    let n = range.map_or(0, |(f, l)| count_bits(b, f, l));
    ctx.out.int(n as i64)
}

fn bitpos(ctx: &mut Ctx, argv: &[Bytes]) {
    let bit = match parse_i64(&argv[2]) {
        Some(0) => false,
        Some(1) => true,
        Some(_) => return ctx.error(errors::BIT_ARG),
        None => return ctx.error(errors::NOT_INTEGER),
    };
    let s = match lookup_str(ctx.dbs, ctx.db, ctx.now, ctx.stats, &argv[1]) {
        Ok(Some(s)) => s,
        // A missing key is an endless run of zeros.
        Ok(None) => return ctx.out.int(if bit { -1 } else { 0 }),
        Err(e) => return ctx.error(e),
    };
    let mut scratch = itoa::Buffer::new();
    let b = s.as_bytes(&mut scratch);
    let (range, end_given) = match argv.len() {
        3 => (bit_range(0, -1, b.len() as i64, false), false),
        4..=6 => {
            let Some(start) = parse_i64(&argv[3]) else {
                return ctx.error(errors::NOT_INTEGER);
            };
            let bits = match argv.get(5) {
                None => false,
                Some(u) => match parse_unit(u) {
                    Some(bits) => bits,
                    None => return ctx.error(errors::SYNTAX),
                },
            };
            let end = match argv.get(4) {
                None => -1,
                Some(e) => match parse_i64(e) {
                    Some(e) => e,
                    None => return ctx.error(errors::NOT_INTEGER),
                },
            };
            let len = b.len() as i64 * if bits { 8 } else { 1 };
            (bit_range(start, end, len, bits), argv.len() >= 5)
        }
        _ => return ctx.error(errors::SYNTAX),
    };
    let Some((first, last)) = range else {
        return ctx.out.int(-1);
    };
    let pos = match find_bit(b, first, last, bit) {
        Some(p) => p as i64,
        None if bit || end_given => -1,
        // Looking for a 0 without an explicit end: the string is padded with zeros on the right.
        None => last as i64 + 1,
    };
    ctx.out.int(pos)
}

// ---- BITOP -----------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP's computation: missing bytes of shorter sources count as zero.
pub fn op_bitop(op: BitOp, srcs: &[Vec<u8>]) -> Vec<u8> {
    let maxlen = srcs.iter().map(Vec::len).max().unwrap_or(0);
    let mut res = vec![0u8; maxlen];
    let Some((first, rest)) = srcs.split_first() else {
        return res;
    };
    res[..first.len()].copy_from_slice(first);
    match op {
        BitOp::Not => res.iter_mut().for_each(|c| *c = !*c),
        BitOp::And => {
            for s in rest {
                for (i, r) in res.iter_mut().enumerate() {
                    *r &= s.get(i).copied().unwrap_or(0);
                }
            }
        }
        BitOp::Or | BitOp::Xor => {
            for s in rest {
                for (r, &c) in res.iter_mut().zip(s) {
                    if op == BitOp::Or {
                        *r |= c
                    } else {
                        *r ^= c
                    }
                }
            }
        }
    }
    res
}

fn bitop(ctx: &mut Ctx, argv: &[Bytes]) {
    let name = &argv[1];
    let op = if eq_ic(name, "and") {
        BitOp::And
    } else if eq_ic(name, "or") {
        BitOp::Or
    } else if eq_ic(name, "xor") {
        BitOp::Xor
    } else if eq_ic(name, "not") {
        BitOp::Not
    } else {
        return ctx.error(errors::SYNTAX);
    };
    if op == BitOp::Not && argv.len() != 4 {
        return ctx.error(errors::BITOP_NOT_ONE_KEY);
    }
    let now = ctx.now;
    let mut srcs = Vec::with_capacity(argv.len() - 3);
    for k in &argv[3..] {
        match lookup_str(ctx.dbs, ctx.db, now, ctx.stats, k) {
            Ok(Some(s)) => srcs.push(s.clone().into_vec()),
            Ok(None) => srcs.push(Vec::new()),
            Err(e) => return ctx.error(e),
        }
    }
    let res = op_bitop(op, &srcs);
    let n = res.len();
    let db = ctx.db();
    if n > 0 {
        db.set(&argv[2], Value::raw(res));
        ctx.dirty += 1;
        ctx.notify(NOTIFY_STRING, "set", &argv[2]);
    } else if db.remove(&argv[2], now).is_some() {
        ctx.dirty += 1;
        ctx.notify(NOTIFY_GENERIC, "del", &argv[2]);
    }
    ctx.out.int(n as i64)
}

// ---- BITFIELD --------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

#[derive(Clone, Copy, Debug)]
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

/// Reads `bits` (1..=64) bits at bit `offset`, most significant first; bytes past the end are 0.
pub fn get_field(b: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for i in 0..bits as u64 {
        v = v << 1 | get_bit(b, offset + i) as u64;
    }
    v
}

fn get_signed_field(b: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_field(b, offset, bits);
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Writes the low `bits` bits of `v` at bit `offset`; the bytes must exist.
pub fn set_field(b: &mut [u8], offset: u64, bits: u32, v: u64) {
    for i in 0..bits as u64 {
        let bit = v >> (bits as u64 - 1 - i) & 1 == 1;
        let pos = offset + i;
        let mask = 0x80u8 >> (pos & 7);
        if let Some(c) = b.get_mut((pos >> 3) as usize) {
            if bit {
                *c |= mask
            } else {
                *c &= !mask
            }
        }
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: Some(value to store) on overflow (for FAIL the
/// value is irrelevant), None when `value + incr` fits.
pub fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & !(u64::MAX.checked_shl(bits).unwrap_or(0));
    if value > max || (incr > 0 && incr > maxincr) {
        Some(match ow {
            Overflow::Wrap => wrap(),
            _ => max,
        })
    } else if incr < 0 && incr < minincr {
        Some(match ow {
            Overflow::Wrap => wrap(),
            _ => 0,
        })
    } else {
        None
    }
}

/// Redis's `checkSignedBitfieldOverflow`, see [`unsigned_overflow`].
pub fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                (c | mask) as i64
            } else {
                (c & !mask) as i64
            }
        } else {
            c as i64
        }
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(match ow {
            Overflow::Wrap => wrap(),
            _ => max,
        })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(match ow {
            Overflow::Wrap => wrap(),
            _ => min,
        })
    } else {
        None
    }
}

fn parse_field_type(a: &[u8]) -> Result<(bool, u32), &'static str> {
    let signed = match a.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(errors::BITFIELD_TYPE),
    };
    match parse_i64(&a[1..]) {
        Some(n) if n >= 1 && n <= if signed { 64 } else { 63 } => Ok((signed, n as u32)),
        _ => Err(errors::BITFIELD_TYPE),
    }
}

fn parse_fields(argv: &[Bytes]) -> Result<Vec<Field>, &'static str> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < argv.len() {
        let rem = argv.len() - j - 1;
        let a = &argv[j];
        let kind = if eq_ic(a, "get") && rem >= 2 {
            0
        } else if eq_ic(a, "set") && rem >= 3 {
            1
        } else if eq_ic(a, "incrby") && rem >= 3 {
            2
        } else if eq_ic(a, "overflow") && rem >= 1 {
            let t = &argv[j + 1];
            overflow = if eq_ic(t, "wrap") {
                Overflow::Wrap
            } else if eq_ic(t, "sat") {
                Overflow::Sat
            } else if eq_ic(t, "fail") {
                Overflow::Fail
            } else {
                return Err(errors::BITFIELD_OVERFLOW);
            };
            j += 2;
            continue;
        } else {
            return Err(errors::SYNTAX);
        };
        let (signed, bits) = parse_field_type(&argv[j + 1])?;
        let offset = bit_offset(&argv[j + 2], Some(bits))?;
        let op = if kind == 0 {
            FieldOp::Get
        } else {
            let v = parse_i64(&argv[j + 3]).ok_or(errors::NOT_INTEGER)?;
            if kind == 1 {
                FieldOp::Set(v)
            } else {
                FieldOp::IncrBy(v)
            }
        };
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            overflow,
        });
        j += if kind == 0 { 3 } else { 4 };
    }
    Ok(fields)
}

/// One BITFIELD reply element.
#[derive(Debug, PartialEq)]
pub enum FieldReply {
    Int(i64),
    /// OVERFLOW FAIL stopped the write.
    Null,
}

fn read_field(b: &[u8], f: &Field) -> FieldReply {
    FieldReply::Int(if f.signed {
        get_signed_field(b, f.offset, f.bits)
    } else {
        get_field(b, f.offset, f.bits) as i64
    })
}

/// Runs write fields (SET/INCRBY, and GETs between them) over `buf`; returns the replies and
/// how many fields changed the string.
fn apply_fields(buf: &mut [u8], fields: &[Field], grown: bool) -> (Vec<FieldReply>, u64) {
    let mut out = Vec::with_capacity(fields.len());
    let mut changes = 0;
    for f in fields {
        let reply = match (f.op, f.signed) {
            (FieldOp::Get, _) => read_field(buf, f),
            (FieldOp::Set(v) | FieldOp::IncrBy(v), true) => {
                let old = get_signed_field(buf, f.offset, f.bits);
                let (ov, new, ret) = if let FieldOp::IncrBy(_) = f.op {
                    let ov = signed_overflow(old, v, f.bits, f.overflow);
                    let new = ov.unwrap_or(old.wrapping_add(v));
                    (ov.is_some(), new, new)
                } else {
                    let ov = signed_overflow(v, 0, f.bits, f.overflow);
                    (ov.is_some(), ov.unwrap_or(v), old)
                };
                if ov && f.overflow == Overflow::Fail {
                    FieldReply::Null
                } else {
                    set_field(buf, f.offset, f.bits, new as u64);
                    changes += (grown || old != new) as u64;
                    FieldReply::Int(ret)
                }
            }
            (FieldOp::Set(v) | FieldOp::IncrBy(v), false) => {
                let old = get_field(buf, f.offset, f.bits);
                let (ov, new, ret) = if let FieldOp::IncrBy(_) = f.op {
                    let ov = unsigned_overflow(old, v, f.bits, f.overflow);
                    let new = ov.unwrap_or(old.wrapping_add(v as u64));
                    (ov.is_some(), new, new)
                } else {
                    let ov = unsigned_overflow(v as u64, 0, f.bits, f.overflow);
                    (ov.is_some(), ov.unwrap_or(v as u64), old)
                };
                if ov && f.overflow == Overflow::Fail {
                    FieldReply::Null
                } else {
                    set_field(buf, f.offset, f.bits, new);
                    changes += (grown || old != new) as u64;
                    FieldReply::Int(ret as i64)
                }
            }
        };
        out.push(reply);
    }
    (out, changes)
}

fn bitfield_generic(ctx: &mut Ctx, argv: &[Bytes], read_only: bool) {
    let fields = match parse_fields(argv) {
        Ok(f) => f,
        Err(e) => return ctx.error(e),
    };
    let max_write = fields
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + f.bits as u64 - 1)
        .max();
    let now = ctx.now;
    let replies = match max_write {
        None => match lookup_str(ctx.dbs, ctx.db, now, ctx.stats, &argv[1]) {
            Err(e) => return ctx.error(e),
            Ok(s) => {
                let mut scratch = itoa::Buffer::new();
                let b = s.map_or(&[][..], |s| s.as_bytes(&mut scratch));
                fields.iter().map(|f| read_field(b, f)).collect()
            }
        },
        Some(_) if read_only => return ctx.error(errors::BITFIELD_RO_GET),
        Some(max_bit) => {
            // Type check before creating anything.
            if let Some(e) = ctx.db().get(&argv[1], now) {
                if let Err(e) = as_str(&e.value) {
                    return ctx.error(e);
                }
            }
            let (buf, grown) = match string_for_bits(ctx.db(), &argv[1], max_bit, now) {
                Ok(r) => r,
                Err(e) => return ctx.error(e),
            };
            let (replies, changes) = apply_fields(buf, &fields, grown);
            ctx.dirty += changes;
            if changes > 0 {
                ctx.notify(NOTIFY_STRING, "setbit", &argv[1]);
            }
            replies
        }
    };
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            FieldReply::Int(v) => ctx.out.int(v),
            FieldReply::Null => ctx.out.null(),
        }
    }
}

fn bitfield(ctx: &mut Ctx, argv: &[Bytes]) {
    bitfield_generic(ctx, argv, false)
}

fn bitfield_ro(ctx: &mut Ctx, argv: &[Bytes]) {
    bitfield_generic(ctx, argv, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_offsets() {
        assert_eq!(bit_offset(b"7", None), Ok(7));
        assert_eq!(bit_offset(b"4294967295", None), Ok(4294967295));
        assert!(bit_offset(b"4294967296", None).is_err());
        assert!(bit_offset(b"-1", None).is_err());
        assert!(bit_offset(b"#2", None).is_err());
        assert_eq!(bit_offset(b"#2", Some(8)), Ok(16));
        assert!(bit_offset(b"#536870912", Some(8)).is_err());
    }

    #[test]
    fn bitcount_and_bitpos_ranges() {
        let b = b"foobar";
        assert_eq!(count_bits(b, 0, 47), 26);
        assert_eq!(count_bits(b, 8, 15), 6);
        assert_eq!(count_bits(b, 5, 30), 17);
        let b = [0xffu8, 0xf0, 0x00];
        assert_eq!(find_bit(&b, 0, 23, false), Some(12));
        assert_eq!(find_bit(&b, 0, 23, true), Some(0));
        assert_eq!(find_bit(&b, 16, 23, true), None);
        assert_eq!(find_bit(&b, 7, 15, true), Some(7));
        assert_eq!(bit_range(0, -1, 3, false), Some((0, 23)));
        assert_eq!(bit_range(2, 1, 3, false), None);
        assert_eq!(bit_range(-8, -1, 24, true), Some((16, 23)));
    }

    #[test]
    fn bitop_pads_with_zeros() {
        let a = vec![0xff, 0x0f];
        let b = vec![0xf0, 0xf0, 0xaa];
        assert_eq!(
            op_bitop(BitOp::And, &[a.clone(), b.clone()]),
            vec![0xf0, 0x00, 0x00]
        );
        assert_eq!(
            op_bitop(BitOp::Or, &[a.clone(), b.clone()]),
            vec![0xff, 0xff, 0xaa]
        );
        assert_eq!(
            op_bitop(BitOp::Xor, &[a.clone(), b]),
            vec![0x0f, 0xff, 0xaa]
        );
        assert_eq!(op_bitop(BitOp::Not, &[a]), vec![0x00, 0xf0]);
    }

    #[test]
    fn bitfield_overflow_math() {
        // u2 at 3 + 1: overflows to 0 (wrap), 3 (sat).
        assert_eq!(unsigned_overflow(3, 1, 2, Overflow::Wrap), Some(0));
        assert_eq!(unsigned_overflow(3, 1, 2, Overflow::Sat), Some(3));
        assert_eq!(unsigned_overflow(2, 1, 2, Overflow::Sat), None);
        assert_eq!(unsigned_overflow(0, -5, 2, Overflow::Sat), Some(0));
        assert_eq!(unsigned_overflow(0, -5, 2, Overflow::Wrap), Some(3));
        // i8 127 + 1 wraps to -128; saturates at 127; -300 saturates at -128.
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Wrap), Some(-128));
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Sat), Some(127));
        assert_eq!(signed_overflow(0, -300, 8, Overflow::Sat), Some(-128));
        assert_eq!(signed_overflow(-1, 1, 8, Overflow::Sat), None);
        assert_eq!(
            signed_overflow(i64::MAX, i64::MAX, 64, Overflow::Wrap),
            Some(-2)
        );
        assert_eq!(signed_overflow(-1, i64::MAX, 64, Overflow::Sat), None);
        // SET checks the value itself: 200 does not fit in i8.
        assert_eq!(signed_overflow(200, 0, 8, Overflow::Wrap), Some(-56));
    }

    #[test]
    fn fields_round_trip() {
        let mut b = vec![0u8; 3];
        set_field(&mut b, 4, 12, 0xabc);
        assert_eq!(b, vec![0x0a, 0xbc, 0x00]);
        assert_eq!(get_field(&b, 4, 12), 0xabc);
        assert_eq!(get_signed_field(&b, 8, 4), -5);
        assert_eq!(get_field(&b, 20, 8), 0);
    }
}
