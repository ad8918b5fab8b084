//! Software x87 `long double` (64-bit significand, 15-bit exponent) for INCRBYFLOAT.
//!
//! Redis parses INCRBYFLOAT operands with `strtold`, adds them as 80-bit long doubles and prints
//! the sum with `%.17Lf` minus trailing zeros. An `f64` gives different text for everyday inputs
//! (`0.1 + 0.2` is `0.3` in Redis, `0.30000000000000004` in f64), so we emulate the format:
//! correctly rounded parsing, one correctly rounded addition, exact decimal printing.

use std::cmp::Ordering;

/// Largest binary exponent of a long double's leading bit (x87: 16383).
const MAX_EXP: i64 = 16383;
/// Smallest normal exponent of the leading bit; below it we treat the value as underflow.
const MIN_EXP: i64 = -16382;
/// Fraction digits printed by `%.17Lf`.
const FRAC_DIGITS: u32 = 17;
const TEN_POW_17: u128 = 100_000_000_000_000_000;

/// A finite long double: `mant * 2^exp`, `mant` normalized (top bit set) or zero.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LongDouble {
    neg: bool,
    mant: u64,
    exp: i64,
}

/// What `strtold` accepted: a finite value or an infinity (NaN and range errors are rejected,
/// as Redis's `string2ld` does).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Parsed {
    Finite(LongDouble),
    Inf,
}

impl LongDouble {
    pub fn from_i64(i: i64) -> LongDouble {
        let m = i.unsigned_abs();
        if m == 0 {
            return LongDouble {
                neg: false,
                mant: 0,
                exp: 0,
            };
        }
        let z = m.leading_zeros();
        LongDouble {
            neg: i < 0,
            mant: m << z,
            exp: -(z as i64),
        }
    }

    /// Parses like Redis's `string2ld`: the whole input must be a `strtold` number, no leading
    /// space, no NaN, no overflow to infinity or underflow to zero.
    pub fn parse(s: &[u8]) -> Option<Parsed> {
        // Redis copies into a 5 KiB buffer and refuses longer input.
        if s.is_empty() || s.len() >= 5 * 1024 || s[0].is_ascii_whitespace() || s[0] == 0x0b {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Parsed::Inf);
        }
        let v = if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
            parse_hex(neg, &body[2..])?
        } else {
            parse_dec(neg, body)?
        };
        Some(Parsed::Finite(v))
    }

    /// The correctly rounded sum, or None when it overflows to infinity.
    pub fn add(self, o: LongDouble) -> Option<LongDouble> {
        if o.mant == 0 {
            return Some(if self.mant == 0 {
                LongDouble {
                    neg: self.neg && o.neg,
                    ..self
                }
            } else {
                self
            });
        }
        if self.mant == 0 {
            return Some(o);
        }
        // Far apart: the smaller one is below a quarter ulp of the larger and cannot change it.
        if self.exp - o.exp > 130 {
            return Some(self);
        }
        if o.exp - self.exp > 130 {
            return Some(o);
        }
        let emin = self.exp.min(o.exp);
        let a = Big::from_u64(self.mant).shl((self.exp - emin) as usize);
        let b = Big::from_u64(o.mant).shl((o.exp - emin) as usize);
        let (neg, sum) = if self.neg == o.neg {
            (self.neg, a.add(&b))
        } else {
            match a.cmp(&b) {
                Ordering::Equal => return Some(LongDouble::from_i64(0)),
                Ordering::Greater => (self.neg, a.sub(&b)),
                Ordering::Less => (o.neg, b.sub(&a)),
            }
        };
        round(neg, sum, emin, false)
    }

    /// The nearest `f64` (BLPOP's timeouts need no more than millisecond precision).
    pub fn to_f64(self) -> f64 {
        let m = (self.mant as f64) * 2f64.powi(self.exp.clamp(-2000, 2000) as i32);
        if self.neg {
            -m
        } else {
            m
        }
    }

    /// `%.17Lf` with trailing zeros (and a trailing '.') removed, "-0" printed as "0": Redis's
    /// `ld2string(..., LD_STR_HUMAN)`.
    pub fn to_human(self) -> String {
        let mut out = String::new();
        if self.neg {
            out.push('-');
        }
        let (int_digits, frac) = if self.exp >= 0 {
            let int = Big::from_u64(self.mant).shl(self.exp as usize);
            (int.to_decimal(), 0u128)
        } else {
            let s = (-self.exp) as u32;
            let (int, f) = if s >= 64 {
                (0, self.mant)
            } else {
                (self.mant >> s, self.mant & ((1u64 << s) - 1))
            };
            // f < 2^64 and 10^17 < 2^57, so the product fits; below 2^-121 it rounds to zero.
            let p = f as u128 * TEN_POW_17;
            let q = if s >= 128 {
                0
            } else {
                let q = p >> s;
                let rem = p - (q << s);
                let half = 1u128 << (s - 1);
                match rem.cmp(&half) {
                    Ordering::Greater => q + 1,
                    Ordering::Equal if q & 1 == 1 => q + 1,
                    _ => q,
                }
            };
            if q == TEN_POW_17 {
                ((int as u128 + 1).to_string(), 0)
            } else {
                (int.to_string(), q)
            }
        };
        out.push_str(&int_digits);
        if frac != 0 {
            let mut digits = format!("{frac:0width$}", width = FRAC_DIGITS as usize);
            while digits.ends_with('0') {
                digits.pop();
            }
            out.push('.');
            out.push_str(&digits);
        }
        if out == "-0" {
            out.remove(0);
        }
        out
    }
}

/// Rounds `n * 2^exp` to 64 significant bits, ties to even (`sticky` says whether nonzero bits
/// were already dropped below `n`). None on overflow or underflow.
fn round(neg: bool, n: Big, exp: i64, sticky: bool) -> Option<LongDouble> {
    let bits = n.bits();
    if bits == 0 {
        return Some(LongDouble {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    let (mut mant, mut exp) = if bits <= 64 {
        let m = n.low_u64();
        (m << (64 - bits), exp - (64 - bits) as i64)
    } else {
        let shift = bits - 64;
        let (top, _) = n.shr(shift);
        let m = top.low_u64();
        let round_bit = n.bit(shift - 1);
        let rest = sticky || below_nonzero(&n, shift - 1);
        let up = round_bit && (rest || m & 1 == 1);
        let exp = exp + shift as i64;
        match (up, m.checked_add(1)) {
            (false, _) => (m, exp),
            (true, Some(m)) => (m, exp),
            (true, None) => (1u64 << 63, exp + 1),
        }
    };
    if mant == 0 {
        mant = 1u64 << 63;
        exp += 1;
    }
    let top = exp + 63;
    if !(MIN_EXP..=MAX_EXP).contains(&top) {
        return None;
    }
    Some(LongDouble { neg, mant, exp })
}

fn below_nonzero(n: &Big, bits: usize) -> bool {
    (0..bits / 32).any(|i| n.0.get(i).copied().unwrap_or(0) != 0)
        || (!bits.is_multiple_of(32)
            && n.0.get(bits / 32).copied().unwrap_or(0) & ((1u32 << (bits % 32)) - 1) != 0)
}

fn parse_dec(neg: bool, s: &[u8]) -> Option<LongDouble> {
    let mut d = Big::default();
    let mut ndigits = 0i64; // significant digits accumulated (after leading zeros)
    let mut frac_digits = 0i64;
    let mut any = false;
    let mut i = 0;
    let mut seen_dot = false;
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_digit() {
            any = true;
            if seen_dot {
                frac_digits += 1;
            }
            if ndigits > 0 || c != b'0' {
                d = d.mul_small(10).add_small((c - b'0') as u32);
                ndigits += 1;
            }
        } else if c == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            break;
        }
        i += 1;
    }
    if !any {
        return None;
    }
    let mut e10 = 0i64;
    if i < s.len() {
        if s[i] | 0x20 != b'e' {
            return None;
        }
        i += 1;
        let eneg = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        if i >= s.len() {
            return None;
        }
        for &c in &s[i..] {
            if !c.is_ascii_digit() {
                return None;
            }
            e10 = (e10 * 10 + (c - b'0') as i64).min(1_000_000);
        }
        if eneg {
            e10 = -e10;
        }
    }
    if d.bits() == 0 {
        return Some(LongDouble {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    let e = e10 - frac_digits;
    // Beyond these the value surely overflows (1.19e4932) or underflows (3.4e-4932).
    if ndigits + e > 4935 || ndigits + e < -4935 {
        return None;
    }
    if e >= 0 {
        let mut n = d;
        for _ in 0..e {
            n = n.mul_small(10);
        }
        round(neg, n, 0, false)
    } else {
        let mut m = Big::from_u64(1);
        for _ in 0..-e {
            m = m.mul_small(10);
        }
        // Scale so the quotient has 65..=67 bits: enough for the 64-bit result and a round bit.
        let k = (m.bits() + 66).saturating_sub(d.bits());
        let mut n = d.shl(k);
        let mut q: u128 = 0;
        for b in (0..=68).rev() {
            let t = m.shl(b);
            if n.cmp(&t) != Ordering::Less {
                n = n.sub(&t);
                q |= 1u128 << b;
            }
        }
        let sticky = n.bits() != 0;
        round(neg, Big::from_u128(q), -(k as i64), sticky)
    }
}

fn parse_hex(neg: bool, s: &[u8]) -> Option<LongDouble> {
    let mut d = Big::default();
    let mut frac_digits = 0i64;
    let mut any = false;
    let mut seen_dot = false;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if let Some(v) = (c as char).to_digit(16) {
            any = true;
            if seen_dot {
                frac_digits += 1;
            }
            if d.bits() < 20_000 {
                d = d.mul_small(16).add_small(v);
            } else if !seen_dot {
                frac_digits -= 1;
            }
        } else if c == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            break;
        }
        i += 1;
    }
    if !any {
        return None;
    }
    let mut e2 = 0i64;
    if i < s.len() {
        if s[i] | 0x20 != b'p' {
            return None;
        }
        i += 1;
        let eneg = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        if i >= s.len() {
            return None;
        }
        for &c in &s[i..] {
            if !c.is_ascii_digit() {
                return None;
            }
            e2 = (e2 * 10 + (c - b'0') as i64).min(1_000_000);
        }
        if eneg {
            e2 = -e2;
        }
    }
    if d.bits() == 0 {
        return Some(LongDouble {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    round(neg, d, e2 - 4 * frac_digits, false)
}

/// A little-endian unsigned big integer, just what parsing and printing need.
#[derive(Clone, Debug, Default, PartialEq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        Big::from_u128(v as u128)
    }

    fn from_u128(mut v: u128) -> Big {
        let mut limbs = Vec::new();
        while v != 0 {
            limbs.push(v as u32);
            v >>= 32;
        }
        Big(limbs)
    }

    fn trim(mut self) -> Big {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        self
    }

    fn bits(&self) -> usize {
        match self.0.last() {
            None => 0,
            Some(&top) => self.0.len() * 32 - top.leading_zeros() as usize,
        }
    }

    fn bit(&self, i: usize) -> bool {
        self.0.get(i / 32).is_some_and(|l| l >> (i % 32) & 1 == 1)
    }

    fn low_u64(&self) -> u64 {
        let lo = self.0.first().copied().unwrap_or(0) as u64;
        let hi = self.0.get(1).copied().unwrap_or(0) as u64;
        lo | hi << 32
    }

    fn mul_small(self, m: u32) -> Big {
        let mut carry = 0u64;
        let mut limbs = self.0;
        for l in limbs.iter_mut() {
            let v = *l as u64 * m as u64 + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            limbs.push(carry as u32);
        }
        Big(limbs).trim()
    }

    fn add_small(self, a: u32) -> Big {
        self.add(&Big::from_u64(a as u64))
    }

    fn add(&self, o: &Big) -> Big {
        let n = self.0.len().max(o.0.len());
        let mut out = Vec::with_capacity(n + 1);
        let mut carry = 0u64;
        for i in 0..n {
            let v = self.0.get(i).copied().unwrap_or(0) as u64
                + o.0.get(i).copied().unwrap_or(0) as u64
                + carry;
            out.push(v as u32);
            carry = v >> 32;
        }
        if carry != 0 {
            out.push(carry as u32);
        }
        Big(out).trim()
    }

    /// `self - o`, for `self >= o`.
    fn sub(&self, o: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let v = self.0[i] as i64 - o.0.get(i).copied().unwrap_or(0) as i64 - borrow;
            if v < 0 {
                out.push((v + (1i64 << 32)) as u32);
                borrow = 1;
            } else {
                out.push(v as u32);
                borrow = 0;
            }
        }
        Big(out).trim()
    }

    fn cmp(&self, o: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&o.0.len())
            .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
    }

    fn shl(&self, n: usize) -> Big {
        if self.0.is_empty() {
            return Big::default();
        }
        let (limbs, bits) = (n / 32, n % 32);
        let mut out = vec![0u32; limbs];
        let mut carry = 0u32;
        for &l in &self.0 {
            if bits == 0 {
                out.push(l);
            } else {
                out.push(l << bits | carry);
                carry = l >> (32 - bits);
            }
        }
        if carry != 0 {
            out.push(carry);
        }
        Big(out).trim()
    }

    /// `self >> n`, and whether any shifted-out bit was set.
    fn shr(&self, n: usize) -> (Big, bool) {
        let (limbs, bits) = (n / 32, n % 32);
        if limbs >= self.0.len() {
            return (Big::default(), self.bits() != 0);
        }
        let dropped = below_nonzero(self, n);
        let src = &self.0[limbs..];
        let mut out = Vec::with_capacity(src.len());
        for i in 0..src.len() {
            let lo = src[i] >> bits;
            let hi = if bits == 0 {
                0
            } else {
                src.get(i + 1).copied().unwrap_or(0) << (32 - bits)
            };
            out.push(lo | hi);
        }
        (Big(out).trim(), dropped)
    }

    fn to_decimal(&self) -> String {
        if self.0.is_empty() {
            return "0".into();
        }
        let mut chunks = Vec::new();
        let mut cur = self.0.clone();
        while !cur.is_empty() {
            let mut rem = 0u64;
            for l in cur.iter_mut().rev() {
                let v = rem << 32 | *l as u64;
                *l = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            chunks.push(rem as u32);
            while cur.last() == Some(&0) {
                cur.pop();
            }
        }
        let mut s = String::new();
        for (i, c) in chunks.iter().rev().enumerate() {
            if i == 0 {
                s.push_str(&c.to_string());
            } else {
                s.push_str(&format!("{c:09}"));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> Option<String> {
        let (Some(Parsed::Finite(x)), Some(Parsed::Finite(y))) = (
            LongDouble::parse(a.as_bytes()),
            LongDouble::parse(b.as_bytes()),
        ) else {
            return None;
        };
        x.add(y).map(|v| v.to_human())
    }

    #[test]
    fn sums_print_like_redis() {
        // Replies of redis-server 7.0.15 (x86-64) to SET a; INCRBYFLOAT a b.
        assert_eq!(incr("0.1", "0.2").as_deref(), Some("0.3"));
        assert_eq!(incr("1.5", "0.1").as_deref(), Some("1.6"));
        assert_eq!(incr("10.50", "0").as_deref(), Some("10.5"));
        assert_eq!(incr("5.0e3", "200").as_deref(), Some("5200"));
        assert_eq!(incr("3", "0.000000000000000001").as_deref(), Some("3"));
        assert_eq!(incr("-1.5", "1.5").as_deref(), Some("0"));
        assert_eq!(incr("1", "0x10").as_deref(), Some("17"));
        assert_eq!(
            incr("123456789012345678", "1").as_deref(),
            Some("123456789012345679")
        );
    }

    #[test]
    fn parse_rejects_what_strtold_or_redis_rejects() {
        for bad in [
            "", " 1", "1 ", "abc", "nan", "1e", "1e+", "0x", ".", "-", "1.5.2", "1e99999",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(LongDouble::parse(b"inf"), Some(Parsed::Inf));
        assert_eq!(LongDouble::parse(b"-Infinity"), Some(Parsed::Inf));
        assert!(LongDouble::parse(b".5").is_some());
        assert!(LongDouble::parse(b"5.").is_some());
    }

    #[test]
    fn int_round_trip() {
        for i in [0i64, 1, -1, 42, i64::MAX, i64::MIN] {
            assert_eq!(LongDouble::from_i64(i).to_human(), i.to_string());
        }
    }
}
