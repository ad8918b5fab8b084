//! Values and their encodings.

/// Redis's OBJECT ENCODING limit for embstr.
const EMBSTR_MAX: usize = 44;

#[derive(Clone, Debug, PartialEq)]
pub enum RString {
    /// A string that is the canonical decimal form of an i64 (encoding "int").
    Int(i64),
    /// Bytes; `raw` is true once the string was modified in place (APPEND, SETRANGE, SETBIT),
    /// which Redis reports as "raw" whatever the length.
    Bytes { buf: Vec<u8>, raw: bool },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(RString),
    List(super::List),
    Hash(super::Hash),
    Set(super::Set),
    ZSet(super::ZSet),
}

impl Value {
    /// A string value as SET stores it: integer-looking strings become int encoded.
    pub fn from_bytes(b: &[u8]) -> Value {
        if b.len() <= 20 {
            if let Some(i) = parse_canonical_i64(b) {
                return Value::Str(RString::Int(i));
            }
        }
        Value::Str(RString::Bytes {
            buf: b.to_vec(),
            raw: false,
        })
    }

    pub fn from_int(i: i64) -> Value {
        Value::Str(RString::Int(i))
    }

    pub fn raw(buf: Vec<u8>) -> Value {
        Value::Str(RString::Bytes { buf, raw: true })
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(RString::Int(_)) => "int",
            Value::Str(RString::Bytes { buf, raw }) => {
                if !*raw && buf.len() <= EMBSTR_MAX {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }

    /// Approximate memory used by the value (MEMORY USAGE).
    pub fn mem_usage(&self) -> usize {
        match self {
            Value::Str(RString::Int(_)) => 16,
            Value::Str(RString::Bytes { buf, .. }) => 16 + buf.capacity(),
            Value::List(l) => l.mem_usage(),
            Value::Hash(h) => h.mem_usage(),
            Value::Set(s) => s.mem_usage(),
            Value::ZSet(z) => z.mem_usage(),
        }
    }
}

impl RString {
    /// The string's bytes, formatting ints into `scratch`.
    pub fn as_bytes<'a>(&'a self, scratch: &'a mut itoa::Buffer) -> &'a [u8] {
        match self {
            RString::Int(i) => scratch.format(*i).as_bytes(),
            RString::Bytes { buf, .. } => buf,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            RString::Int(i) => itoa::Buffer::new().format(*i).len(),
            RString::Bytes { buf, .. } => buf.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes for in-place modification (Redis's `dbUnshareStringValue`): an int becomes its
    /// decimal text, and the string is reported as "raw" from now on.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        match self {
            RString::Bytes { buf, raw } => {
                *raw = true;
                buf
            }
            RString::Int(i) => {
                let buf = itoa::Buffer::new().format(*i).as_bytes().to_vec();
                *self = RString::Bytes { buf, raw: true };
                self.make_raw()
            }
        }
    }

    /// Takes the bytes out for in-place modification (APPEND, SETRANGE, SETBIT).
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            RString::Int(i) => itoa::Buffer::new().format(i).as_bytes().to_vec(),
            RString::Bytes { buf, .. } => buf,
        }
    }
}

/// Parses an i64 written exactly as Redis's `string2ll` accepts: no spaces, no leading '+',
/// no leading zeros (except "0"), no "-0".
pub fn parse_canonical_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = (c - b'0') as i64;
        v = if neg {
            v.checked_mul(10)?.checked_sub(d)?
        } else {
            v.checked_mul(10)?.checked_add(d)?
        };
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ints() {
        assert_eq!(parse_canonical_i64(b"0"), Some(0));
        assert_eq!(parse_canonical_i64(b"-12"), Some(-12));
        assert_eq!(parse_canonical_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_canonical_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_canonical_i64(b"9223372036854775808"), None);
        assert_eq!(parse_canonical_i64(b"01"), None);
        assert_eq!(parse_canonical_i64(b"-0"), None);
        assert_eq!(parse_canonical_i64(b"+1"), None);
        assert_eq!(parse_canonical_i64(b" 1"), None);
    }

    #[test]
    fn encodings() {
        assert_eq!(Value::from_bytes(b"123").encoding(), "int");
        assert_eq!(Value::from_bytes(b"abc").encoding(), "embstr");
        assert_eq!(Value::from_bytes(&[b'x'; 45]).encoding(), "raw");
        assert_eq!(Value::raw(b"a".to_vec()).encoding(), "raw");
    }
}
