//! Reply encoder for RESP2 and RESP3 (Redis `addReply*`). Every reply shape that differs between
//! the protocols is decided here, in one place, from the connection's [`Proto`].

use bytes::{BufMut, BytesMut};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The protocol a connection speaks (`HELLO 2` / `HELLO 3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Proto {
    #[default]
    Resp2,
    Resp3,
}

/// A connection's pending output.
#[derive(Debug, Default)]
pub struct ReplyBuf {
    pub buf: BytesMut,
    pub proto: Proto,
    /// Set once the connection is to be closed (Redis's `CLIENT_CLOSE_ASAP`, raised by the
    /// output buffer limit): a reply whose size the client chose stops being produced, so it
    /// costs neither memory nor time past the limit.
    pub closing: bool,
}

const CRLF: &[u8] = b"\r\n";

/// `client-output-buffer-limit normal`'s hard limit in bytes (0: none), set by the network
/// layer's limits: a reply whose size the client chose stops once its buffer reaches it.
static HARD_LIMIT: AtomicUsize = AtomicUsize::new(0);

/// Sets the hard limit [`ReplyBuf::stop`] applies (startup and CONFIG SET).
pub fn set_hard_limit(bytes: u64) {
    HARD_LIMIT.store(
        usize::try_from(bytes).unwrap_or(usize::MAX),
        Ordering::Relaxed,
    );
}

impl ReplyBuf {
    /// Whether a reply being streamed should stop: [`Self::closing`], raised here once the
    /// buffer reaches the normal class's hard limit (the connection then closes this client,
    /// as Redis's checkClientOutputBufferLimits does mid-reply).
    #[inline]
    pub fn stop(&mut self) -> bool {
        if !self.closing {
            let limit = HARD_LIMIT.load(Ordering::Relaxed);
            self.closing = limit != 0 && self.buf.len() >= limit;
        }
        self.closing
    }

    /// Appends a reply (or part of one) built in another buffer, another shard's, with its
    /// outcome: cut short at the limit, it closes this client too.
    pub fn absorb(&mut self, part: &[u8], closing: bool) {
        self.buf.extend_from_slice(part);
        self.closing |= closing;
    }

    pub fn new(proto: Proto) -> Self {
        ReplyBuf {
            buf: BytesMut::with_capacity(16 * 1024),
            proto,
            closing: false,
        }
    }

    /// `+OK`
    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    /// `+s`. CR and LF in `s` become spaces so the reply stays one line.
    pub fn simple(&mut self, s: &str) {
        self.line(b'+', s.as_bytes());
    }

    /// `-e`, where `e` carries its own code (`"ERR syntax error"`, `"WRONGTYPE ..."`). CR and LF
    /// become spaces, as Redis does for formatted errors, so client text cannot break framing.
    pub fn error(&mut self, e: &str) {
        self.line(b'-', e.as_bytes());
    }

    fn line(&mut self, prefix: u8, s: &[u8]) {
        self.buf.reserve(s.len() + 3);
        self.buf.put_u8(prefix);
        if s.iter().any(|&c| c == b'\r' || c == b'\n') {
            self.buf.extend(s.iter().map(|&c| match c {
                b'\r' | b'\n' => b' ',
                c => c,
            }));
        } else {
            self.buf.put_slice(s);
        }
        self.buf.put_slice(CRLF);
    }

    fn header(&mut self, prefix: u8, n: u64) {
        let mut digits = itoa::Buffer::new();
        self.buf.put_u8(prefix);
        self.buf.put_slice(digits.format(n).as_bytes());
        self.buf.put_slice(CRLF);
    }

    /// `:v`
    pub fn int(&mut self, v: i64) {
        let mut digits = itoa::Buffer::new();
        self.buf.put_u8(b':');
        self.buf.put_slice(digits.format(v).as_bytes());
        self.buf.put_slice(CRLF);
    }

    /// `$len\r\nb\r\n`
    pub fn bulk(&mut self, b: &[u8]) {
        self.buf.reserve(b.len() + 16);
        self.header(b'$', b.len() as u64);
        self.buf.put_slice(b);
        self.buf.put_slice(CRLF);
    }

    /// A bulk string holding the decimal text of `v` (GET of an int-encoded string).
    pub fn bulk_int(&mut self, v: i64) {
        let mut digits = itoa::Buffer::new();
        self.bulk(digits.format(v).as_bytes());
    }

    /// The null reply: RESP2 `$-1`, RESP3 `_`.
    pub fn null(&mut self) {
        self.buf.put_slice(match self.proto {
            Proto::Resp2 => b"$-1\r\n",
            Proto::Resp3 => b"_\r\n",
        });
    }

    /// The null array: RESP2 `*-1`, RESP3 `_`.
    pub fn null_array(&mut self) {
        self.buf.put_slice(match self.proto {
            Proto::Resp2 => b"*-1\r\n",
            Proto::Resp3 => b"_\r\n",
        });
    }

    /// `*len`
    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as u64);
    }

    /// RESP3 `%len`; RESP2 a flat array of `2*len` elements.
    pub fn map(&mut self, len: usize) {
        match self.proto {
            Proto::Resp2 => self.header(b'*', 2 * len as u64),
            Proto::Resp3 => self.header(b'%', len as u64),
        }
    }

    /// RESP3 `~len`; RESP2 `*len`.
    pub fn set(&mut self, len: usize) {
        let prefix = match self.proto {
            Proto::Resp2 => b'*',
            Proto::Resp3 => b'~',
        };
        self.header(prefix, len as u64);
    }

    /// RESP3 `>len`; RESP2 `*len` (pub/sub messages).
    pub fn push(&mut self, len: usize) {
        let prefix = match self.proto {
            Proto::Resp2 => b'*',
            Proto::Resp3 => b'>',
        };
        self.header(prefix, len as u64);
    }

    /// Redis `addReplyDouble`: RESP3 `,<%.17g>`, RESP2 a bulk string with the same text;
    /// infinities are `inf` / `-inf`.
    pub fn double(&mut self, d: f64) {
        let mut tmp = [0u8; DOUBLE_BUF_LEN];
        let n = fmt_g17(d, &mut tmp);
        match self.proto {
            Proto::Resp2 => self.bulk(&tmp[..n]),
            Proto::Resp3 => {
                self.buf.put_u8(b',');
                self.buf.put_slice(&tmp[..n]);
                self.buf.put_slice(CRLF);
            }
        }
    }

    /// RESP3 `#t`/`#f`; RESP2 `:1`/`:0`.
    pub fn boolean(&mut self, b: bool) {
        self.buf.put_slice(match (self.proto, b) {
            (Proto::Resp2, true) => b":1\r\n",
            (Proto::Resp2, false) => b":0\r\n",
            (Proto::Resp3, true) => b"#t\r\n",
            (Proto::Resp3, false) => b"#f\r\n",
        });
    }

    /// Verbatim text (`txt`): RESP3 `=len\r\ntxt:...`; RESP2 a plain bulk string.
    pub fn verbatim(&mut self, b: &[u8]) {
        self.verbatim_ext(b"txt", b);
    }

    /// Verbatim string with a 3-byte format `ext` (`txt`, `mkd`), Redis `addReplyVerbatim`.
    pub fn verbatim_ext(&mut self, ext: &[u8; 3], b: &[u8]) {
        match self.proto {
            Proto::Resp2 => self.bulk(b),
            Proto::Resp3 => {
                self.buf.reserve(b.len() + 20);
                self.header(b'=', b.len() as u64 + 4);
                self.buf.put_slice(ext);
                self.buf.put_u8(b':');
                self.buf.put_slice(b);
                self.buf.put_slice(CRLF);
            }
        }
    }

    /// Append pre-encoded bytes.
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.put_slice(b);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Longest `%.17g` output is 24 bytes (`-1.2345678901234567e-308`).
const DOUBLE_BUF_LEN: usize = 32;

/// Write `d` as C `printf("%.17g")` (glibc) does, the text Redis 7.0 uses for doubles in
/// replies: `inf`, `-inf`, `nan` (`-nan` when the sign bit is set), `-0`, `0.10000000000000001`,
/// `1e+100`.
pub fn format_double(d: f64, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut tmp = [0u8; DOUBLE_BUF_LEN];
    let n = fmt_g17(d, &mut tmp);
    out.write_all(&tmp[..n])
}

/// [`format_double`] appended to a `BytesMut`.
pub fn write_double(d: f64, out: &mut BytesMut) {
    let mut tmp = [0u8; DOUBLE_BUF_LEN];
    let n = fmt_g17(d, &mut tmp);
    out.put_slice(&tmp[..n]);
}

/// `%.17g` into `out`, returning the length. No heap allocation: Rust's exact `{:.16e}`
/// formatting gives the 17 correctly rounded significant digits (ties to even, like glibc), and
/// this function applies %g's choice between fixed and exponent notation and its trimming of
/// trailing zeros.
fn fmt_g17(d: f64, out: &mut [u8; DOUBLE_BUF_LEN]) -> usize {
    use std::io::Write;

    let mut o = StackOut { buf: out, len: 0 };
    if d.is_sign_negative() {
        o.put(b"-");
    }
    if d.is_nan() {
        o.put(b"nan");
        return o.len;
    }
    if d.is_infinite() {
        o.put(b"inf");
        return o.len;
    }

    // "D.DDDDDDDDDDDDDDDDe<exp>": 17 significant digits.
    let mut sci = [0u8; DOUBLE_BUF_LEN];
    let sci_len = {
        let mut cursor = std::io::Cursor::new(&mut sci[..]);
        if write!(cursor, "{:.16e}", d.abs()).is_err() {
            return o.len; // cannot happen: the text fits in 32 bytes
        }
        cursor.position() as usize
    };
    let sci = &sci[..sci_len];
    let Some(e_pos) = sci.iter().position(|&c| c == b'e') else {
        return o.len;
    };
    let mut digits = [0u8; 17];
    let mut nd = 0;
    for &c in &sci[..e_pos] {
        if c.is_ascii_digit() && nd < digits.len() {
            digits[nd] = c;
            nd += 1;
        }
    }
    let exp: i32 = std::str::from_utf8(&sci[e_pos + 1..])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // %g drops trailing zeros of the significand.
    while nd > 1 && digits[nd - 1] == b'0' {
        nd -= 1;
    }
    let digits = &digits[..nd];

    if !(-4..17).contains(&exp) {
        o.put(&digits[..1]);
        if digits.len() > 1 {
            o.put(b".");
            o.put(&digits[1..]);
        }
        o.put(if exp < 0 { b"e-" } else { b"e+" });
        let mut e = itoa::Buffer::new();
        let e = e.format(exp.unsigned_abs());
        if e.len() < 2 {
            o.put(b"0");
        }
        o.put(e.as_bytes());
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            o.put(digits);
            for _ in digits.len()..int_len {
                o.put(b"0");
            }
        } else {
            o.put(&digits[..int_len]);
            o.put(b".");
            o.put(&digits[int_len..]);
        }
    } else {
        o.put(b"0.");
        for _ in 0..(-exp - 1) {
            o.put(b"0");
        }
        o.put(digits);
    }
    o.len
}

struct StackOut<'a> {
    buf: &'a mut [u8; DOUBLE_BUF_LEN],
    len: usize,
}

impl StackOut<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn both(f: impl Fn(&mut ReplyBuf)) -> (Vec<u8>, Vec<u8>) {
        let mut r2 = ReplyBuf::new(Proto::Resp2);
        let mut r3 = ReplyBuf::new(Proto::Resp3);
        f(&mut r2);
        f(&mut r3);
        (r2.buf.to_vec(), r3.buf.to_vec())
    }

    fn check(f: impl Fn(&mut ReplyBuf), resp2: &[u8], resp3: &[u8]) {
        let (r2, r3) = both(f);
        assert_eq!(
            r2.escape_ascii().to_string(),
            resp2.escape_ascii().to_string()
        );
        assert_eq!(
            r3.escape_ascii().to_string(),
            resp3.escape_ascii().to_string()
        );
    }

    #[test]
    fn replies_in_both_protocols() {
        check(|r| r.ok(), b"+OK\r\n", b"+OK\r\n");
        check(|r| r.simple("PONG"), b"+PONG\r\n", b"+PONG\r\n");
        check(
            |r| r.error("ERR syntax error"),
            b"-ERR syntax error\r\n",
            b"-ERR syntax error\r\n",
        );
        check(
            |r| r.error("ERR a\r\nb"),
            b"-ERR a  b\r\n",
            b"-ERR a  b\r\n",
        );
        check(|r| r.int(-42), b":-42\r\n", b":-42\r\n");
        check(
            |r| r.int(i64::MIN),
            b":-9223372036854775808\r\n",
            b":-9223372036854775808\r\n",
        );
        check(
            |r| r.bulk(b"a\r\nb"),
            b"$4\r\na\r\nb\r\n",
            b"$4\r\na\r\nb\r\n",
        );
        check(|r| r.bulk(b""), b"$0\r\n\r\n", b"$0\r\n\r\n");
        check(|r| r.bulk_int(-17), b"$3\r\n-17\r\n", b"$3\r\n-17\r\n");
        check(|r| r.null(), b"$-1\r\n", b"_\r\n");
        check(|r| r.null_array(), b"*-1\r\n", b"_\r\n");
        check(|r| r.array(3), b"*3\r\n", b"*3\r\n");
        check(|r| r.map(2), b"*4\r\n", b"%2\r\n");
        check(|r| r.set(5), b"*5\r\n", b"~5\r\n");
        check(|r| r.push(3), b"*3\r\n", b">3\r\n");
        check(|r| r.boolean(true), b":1\r\n", b"#t\r\n");
        check(|r| r.boolean(false), b":0\r\n", b"#f\r\n");
        check(
            |r| r.verbatim(b"# Server"),
            b"$8\r\n# Server\r\n",
            b"=12\r\ntxt:# Server\r\n",
        );
        check(|r| r.raw(b"+X\r\n"), b"+X\r\n", b"+X\r\n");
        let (r2, _) = both(|r| {
            r.array(2);
            r.bulk(b"a");
            r.int(1);
        });
        assert_eq!(r2, b"*2\r\n$1\r\na\r\n:1\r\n");
        let r = ReplyBuf::new(Proto::Resp3);
        assert!(r.is_empty());
        assert_eq!(r.len(), 0);
    }

    /// Observed from redis-server 7.0.15 (ZSCORE under RESP2 and after HELLO 3).
    #[test]
    fn doubles_match_redis() {
        check(
            |r| r.double(0.1),
            b"$19\r\n0.10000000000000001\r\n",
            b",0.10000000000000001\r\n",
        );
        check(|r| r.double(f64::INFINITY), b"$3\r\ninf\r\n", b",inf\r\n");
        check(
            |r| r.double(f64::NEG_INFINITY),
            b"$4\r\n-inf\r\n",
            b",-inf\r\n",
        );
        check(|r| r.double(1e100), b"$6\r\n1e+100\r\n", b",1e+100\r\n");
        check(
            |r| r.double(123456.789),
            b"$10\r\n123456.789\r\n",
            b",123456.789\r\n",
        );
        check(
            |r| r.double(1e-5),
            b"$22\r\n1.0000000000000001e-05\r\n",
            b",1.0000000000000001e-05\r\n",
        );
        check(|r| r.double(1e17), b"$5\r\n1e+17\r\n", b",1e+17\r\n");
        check(|r| r.double(0.0), b"$1\r\n0\r\n", b",0\r\n");
    }

    fn libc_g17(d: f64) -> Vec<u8> {
        let mut buf = [0u8; 64];
        // SAFETY: the buffer is 64 bytes, snprintf writes at most that many including the NUL,
        // and the format takes exactly one double.
        let n = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.17g".as_ptr(), d) };
        buf[..n as usize].to_vec()
    }

    fn ours(d: f64) -> Vec<u8> {
        let mut v = Vec::new();
        format_double(d, &mut v).unwrap();
        v
    }

    #[test]
    fn format_double_equals_glibc_printf() {
        let specials = [
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.5,
            1e-4,
            1e-5,
            f64::from_bits(1e-4f64.to_bits() - 1),
            1e16,
            1e17,
            12345678901234567.0,
            1234567890123456.0 + 0.75, // a tie at the 17th digit: both round half to even
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            std::f64::consts::PI,
            100.0,
            0.1 + 0.2,
        ];
        for d in specials {
            assert_eq!(
                ours(d).escape_ascii().to_string(),
                libc_g17(d).escape_ascii().to_string(),
                "{d:e}"
            );
        }
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for _ in 0..200_000 {
            let d = f64::from_bits(rng.random::<u64>());
            assert_eq!(ours(d), libc_g17(d), "{d:e}");
            let scaled = rng.random_range(-1e6..1e6) * 10f64.powi(rng.random_range(-25..25));
            assert_eq!(ours(scaled), libc_g17(scaled), "{scaled:e}");
            let short = f64::from(rng.random_range(-100_000i32..100_000)) / 1000.0;
            assert_eq!(ours(short), libc_g17(short), "{short:e}");
        }
    }
}
