//! The lexical layer of redis.conf, shared by file parsing, argv and CONFIG SET:
//! argument splitting with quotes (sdssplitargs), quoting for output (sdscatrepr),
//! memory units (memtoull), strict integers (string2ll) and glob matching (stringmatch).

/// Splits a line into arguments like Redis' `sdssplitargs` (one implementation, shared with the
/// inline request parser): whitespace separates, `"..."` takes `\n \r \t \b \a \\ \" \xHH`
/// escapes, `'...'` takes `\'`. `None` means unbalanced quotes.
pub use crate::resp::parser::split_args;

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Quotes bytes like Redis' `sdscatrepr`, so that [`split_args`] reads them back.
pub fn repr(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &c in s {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}

/// Parses a memory value like Redis' `memtoull`: digits with an optional unit
/// `b`, `k`=1000, `kb`=1024, `m`, `mb`, `g`, `gb` (case-insensitive). An empty string is 0.
pub fn parse_memory(s: &[u8]) -> Option<u64> {
    if s.first() == Some(&b'-') {
        return None;
    }
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let unit = s[digits..].to_ascii_lowercase();
    let mul: u64 = match unit.as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits >= 128 {
        return None;
    }
    let mut val: u64 = 0;
    for &c in &s[..digits] {
        val = val.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    // Redis does not check the multiplication for overflow either.
    Some(val.wrapping_mul(mul))
}

/// Strict integer parsing like Redis' `string2ll`: optional `-`, no `+`, no spaces,
/// no leading zeros.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i128).wrapping_neg() as i64)
    } else {
        i64::try_from(v).ok()
    }
}

/// Like C `strtoll(s, &end, 10)` with `*end == '\0'` required: leading whitespace and a
/// sign are allowed, an empty digit string is 0 only if nothing at all follows.
pub fn parse_strtoll(s: &[u8], radix: u32) -> Option<i64> {
    let start = s.iter().take_while(|c| is_space(**c)).count();
    let rest = &s[start..];
    let (neg, body) = match rest.first() {
        Some(b'-') => (true, &rest[1..]),
        Some(b'+') => (false, &rest[1..]),
        _ => (false, rest),
    };
    if body.is_empty() {
        // strtoll consumed nothing: end points at the start of the string.
        return if s.is_empty() { Some(0) } else { None };
    }
    let mut v: i128 = 0;
    for &c in body {
        let d = (c as char).to_digit(radix)?;
        v = v * i128::from(radix) + i128::from(d);
        if v > i128::from(i64::MAX) + 1 {
            return None;
        }
    }
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

pub use crate::glob::stringmatch as glob_match;

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    #[test]
    fn splits_like_sdssplitargs() {
        assert_eq!(split("  save 900   1 ").unwrap(), vec!["save", "900", "1"]);
        assert_eq!(
            split(r#"requirepass "a b\n\x41""#).unwrap(),
            vec!["requirepass", "a b\nA"]
        );
        assert_eq!(split(r#"x 'it\'s' """#).unwrap(), vec!["x", "it's", ""]);
        assert_eq!(
            split(r#"a"b c"d"#),
            None,
            "closing quote must be followed by a space"
        );
        assert_eq!(split(r#"bind "a"#), None);
        assert_eq!(split("x 'a"), None);
        assert_eq!(split(r#"ab"c d" e"#).unwrap(), vec!["abc d", "e"]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn repr_round_trips() {
        let raw = b"a\"b\\c\n\x01 d";
        let quoted = repr(raw);
        assert_eq!(quoted, r#""a\"b\\c\n\x01 d""#);
        assert_eq!(split_args(quoted.as_bytes()).unwrap(), vec![raw.to_vec()]);
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory(b"1k"), Some(1000));
        assert_eq!(parse_memory(b"1kb"), Some(1024));
        assert_eq!(parse_memory(b"1KB"), Some(1024));
        assert_eq!(parse_memory(b"2m"), Some(2_000_000));
        assert_eq!(parse_memory(b"2Mb"), Some(2 * 1024 * 1024));
        assert_eq!(parse_memory(b"3g"), Some(3_000_000_000));
        assert_eq!(parse_memory(b"3gb"), Some(3 << 30));
        assert_eq!(parse_memory(b"5b"), Some(5));
        assert_eq!(parse_memory(b""), Some(0));
        assert_eq!(parse_memory(b"1x"), None);
        assert_eq!(parse_memory(b"-1"), None);
        assert_eq!(parse_memory(b"1 kb"), None);
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-5"), Some(-5));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b""), None);
        assert_eq!(parse_strtoll(b"0777", 8), Some(0o777));
        assert_eq!(parse_strtoll(b"778", 8), None);
        assert_eq!(parse_strtoll(b"-3", 10), Some(-3));
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"*", b"port", true));
        assert!(glob_match(b"max*", b"maxmemory-policy", true));
        assert!(glob_match(b"MAX*", b"maxmemory", true));
        assert!(!glob_match(b"MAX*", b"maxmemory", false));
        assert!(glob_match(b"p?rt", b"port", true));
        assert!(glob_match(b"[ps]ort", b"sort", true));
        assert!(!glob_match(b"[^ps]ort", b"port", true));
        assert!(glob_match(b"[a-c]x", b"bx", true));
        assert!(glob_match(b"a\\*", b"a*", true));
        assert!(!glob_match(b"a\\*", b"ab", true));
        assert!(!glob_match(b"port?", b"port", true));
        assert!(glob_match(b"*port*", b"tls-port", true));
    }
}
