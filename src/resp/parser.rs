//! Incremental, zero-copy request parser (Redis `processInputBuffer`, `processMultibulkBuffer`,
//! `processInlineBuffer` and `sdssplitargs`).
//!
//! A command's bytes stay at the front of the caller's buffer until the command is complete;
//! then the whole frame is split off once and every argument is a `Bytes` slice of it. While a
//! frame is incomplete the parser remembers how far it got (like Redis's `multibulklen` and
//! `bulklen`), so a big bulk arriving in many reads is never re-scanned.
//!
//! Contract with the caller: between calls that return `Ok(false)` only append to `buf`; never
//! consume or modify its front. After an `Err` the connection must be closed (the parser resets
//! itself, but the buffer is in an unspecified state).

use bytes::{Buf, Bytes, BytesMut};
use memchr::memchr2;

/// Redis `PROTO_INLINE_MAX_SIZE`: the longest inline request, or multibulk/bulk header line, that
/// may sit in the buffer without its line terminator.
pub const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;

/// Before authentication Redis accepts at most this many arguments per command...
const UNAUTH_MAX_MULTIBULK_LEN: i64 = 10;
/// ...and bulk arguments of at most this many bytes, so an anonymous client cannot make the
/// server buffer much.
const UNAUTH_MAX_BULK_LEN: i64 = 16384;

/// Limits the connection applies to requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseLimits {
    /// `proto-max-bulk-len`. Redis does not apply it to its master's stream: pass `u64::MAX`
    /// for a master client.
    pub proto_max_bulk_len: u64,
    /// False while the connection still has to AUTH (Redis `authRequired`).
    pub authenticated: bool,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            proto_max_bulk_len: 512 * 1024 * 1024,
            authenticated: true,
        }
    }
}

/// The protocol errors of Redis 7.0.15. After sending [`ProtocolError::reply`] Redis closes the
/// connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("Protocol error: too big inline request")]
    TooBigInlineRequest,
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    #[error("Protocol error: too big mbulk count string")]
    TooBigMbulkCountString,
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCountString,
    /// The byte found where a bulk header's `$` should be.
    #[error("Protocol error: expected '$', got '{}'", .0.escape_ascii())]
    ExpectedDollar(u8),
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
}

impl ProtocolError {
    /// Full reply bytes Redis sends before closing, e.g.
    /// `b"-ERR Protocol error: invalid bulk length\r\n"`.
    pub fn reply(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(b"-ERR ");
        match self {
            ProtocolError::ExpectedDollar(got) => {
                out.extend_from_slice(b"Protocol error: expected '$', got '");
                // Redis formats the raw byte with %c, then maps CR and LF to spaces so the
                // error stays one line.
                out.push(match got {
                    b'\r' | b'\n' => b' ',
                    b => *b,
                });
                out.push(b'\'');
            }
            other => out.extend_from_slice(other.to_string().as_bytes()),
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ReqType {
    #[default]
    Unknown,
    Inline,
    Multibulk,
}

/// What one attempt at the front of the buffer produced.
enum Step {
    NeedMore,
    /// A command with zero arguments, already consumed: skip it.
    Empty,
    Command,
}

/// Result of looking for a header line's `\r`.
enum Line {
    /// Index of the `\r`; the byte after it is in the buffer too.
    Found(usize),
    NeedMore,
    TooBig,
}

/// Incremental request parser; one per connection.
#[derive(Debug, Default)]
pub struct RequestParser {
    reqtype: ReqType,
    /// Arguments still expected by the multibulk being parsed (0: its header is not read yet).
    multibulklen: i64,
    /// Length of the bulk whose header was read but whose data is not complete yet.
    bulklen: Option<usize>,
    /// Bytes of the current frame already parsed (offset into the caller's buffer).
    pos: usize,
    /// Bytes of the current header/inline line already searched without finding its end, so
    /// a line trickling in byte by byte is not re-scanned from its start each time.
    scanned: usize,
    /// Argument ranges within the current frame; reused between commands.
    ranges: Vec<(usize, usize)>,
    last_inline: bool,
}

impl RequestParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse the next command from the front of `buf`, consuming its bytes.
    ///
    /// `Ok(true)`: `argv` was cleared and filled with at least one argument, each a zero-copy
    /// slice of the frame split off `buf`. `Ok(false)`: more bytes are needed. Empty commands
    /// (`*0\r\n`, `*-1\r\n`, blank inline lines) are skipped silently. `Err`: reply with
    /// [`ProtocolError::reply`] and close the connection.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParseLimits,
        argv: &mut Vec<Bytes>,
    ) -> Result<bool, ProtocolError> {
        loop {
            if self.reqtype == ReqType::Unknown {
                let Some(&first) = buf.first() else {
                    return Ok(false);
                };
                self.reqtype = if first == b'*' {
                    ReqType::Multibulk
                } else {
                    ReqType::Inline
                };
                self.last_inline = self.reqtype == ReqType::Inline;
            }
            let step = match self.reqtype {
                ReqType::Inline => self.parse_inline(buf, argv),
                _ => self.parse_multibulk(buf, limits, argv),
            };
            match step {
                Ok(Step::NeedMore) => return Ok(false),
                Ok(Step::Empty) => self.reset(),
                Ok(Step::Command) => {
                    self.reset();
                    return Ok(true);
                }
                Err(e) => {
                    self.reset();
                    return Err(e);
                }
            }
        }
    }

    /// True when the last command started (or returned) was an inline command; Redis treats
    /// some inline first words (`POST`, `Host:`) as a cross-protocol attack.
    pub fn last_was_inline(&self) -> bool {
        self.last_inline
    }

    /// Forget any partially parsed command (the caller must also drop the buffered bytes).
    pub fn reset(&mut self) {
        self.reqtype = ReqType::Unknown;
        self.multibulklen = 0;
        self.bulklen = None;
        self.pos = 0;
        self.scanned = 0;
        // Keep the argument table for the next command, unless one huge command grew it.
        if self.ranges.capacity() > 4096 {
            self.ranges = Vec::new();
        } else {
            self.ranges.clear();
        }
    }

    fn parse_inline(
        &mut self,
        buf: &mut BytesMut,
        argv: &mut Vec<Bytes>,
    ) -> Result<Step, ProtocolError> {
        // Redis looks for '\n' with strchr, which also stops at a NUL byte: a NUL before the
        // newline means "no newline yet". Only the first PROTO_INLINE_MAX_SIZE+1 bytes are
        // searched so the outcome does not depend on how the bytes were split into reads.
        let window = &buf[..buf.len().min(PROTO_INLINE_MAX_SIZE + 1)];
        let from = self.scanned.min(window.len());
        let found = memchr2(b'\n', 0, &window[from..]).map(|i| from + i);
        self.scanned = found.unwrap_or(window.len());
        let newline = match found {
            Some(i) if window[i] == b'\n' => i,
            _ => {
                return if buf.len() > PROTO_INLINE_MAX_SIZE {
                    Err(ProtocolError::TooBigInlineRequest)
                } else {
                    Ok(Step::NeedMore)
                };
            }
        };
        let line_len = if newline > 0 && buf[newline - 1] == b'\r' {
            newline - 1
        } else {
            newline
        };
        self.ranges.clear();
        if !split_args_in_place(&mut buf[..line_len], &mut self.ranges) {
            return Err(ProtocolError::UnbalancedQuotes);
        }
        if self.ranges.is_empty() {
            buf.advance(newline + 1);
            return Ok(Step::Empty);
        }
        let frame = buf.split_to(newline + 1).freeze();
        fill_argv(&frame, &self.ranges, argv);
        Ok(Step::Command)
    }

    fn parse_multibulk(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParseLimits,
        argv: &mut Vec<Bytes>,
    ) -> Result<Step, ProtocolError> {
        if self.multibulklen == 0 {
            let cr = match find_cr(buf, 0, &mut self.scanned) {
                Line::Found(cr) => cr,
                Line::NeedMore => return Ok(Step::NeedMore),
                Line::TooBig => return Err(ProtocolError::TooBigMbulkCountString),
            };
            let count = match string2ll(&buf[1..cr]) {
                Some(n) if n <= i64::from(i32::MAX) => n,
                _ => return Err(ProtocolError::InvalidMultibulkLength),
            };
            if count > UNAUTH_MAX_MULTIBULK_LEN && !limits.authenticated {
                return Err(ProtocolError::UnauthenticatedMultibulkLength);
            }
            // Redis skips the byte after '\r' without checking that it is '\n'.
            let header_len = cr + 2;
            if count <= 0 {
                buf.advance(header_len);
                return Ok(Step::Empty);
            }
            self.multibulklen = count;
            self.pos = header_len;
            self.scanned = 0;
            self.ranges.clear();
        }

        while self.multibulklen > 0 {
            let bulklen = match self.bulklen {
                Some(n) => n,
                None => {
                    let cr = match find_cr(buf, self.pos, &mut self.scanned) {
                        Line::Found(cr) => cr,
                        Line::NeedMore => return Ok(Step::NeedMore),
                        Line::TooBig => return Err(ProtocolError::TooBigBulkCountString),
                    };
                    let first = buf[self.pos];
                    if first != b'$' {
                        return Err(ProtocolError::ExpectedDollar(first));
                    }
                    let len = match string2ll(&buf[self.pos + 1..cr]) {
                        Some(n) if n >= 0 && n.unsigned_abs() <= limits.proto_max_bulk_len => n,
                        _ => return Err(ProtocolError::InvalidBulkLength),
                    };
                    if len > UNAUTH_MAX_BULK_LEN && !limits.authenticated {
                        return Err(ProtocolError::UnauthenticatedBulkLength);
                    }
                    let len = usize::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)?;
                    self.pos = cr + 2;
                    self.scanned = 0;
                    self.bulklen = Some(len);
                    len
                }
            };
            // The bulk and its trailing CRLF (which Redis skips without checking).
            let end = self.pos.saturating_add(bulklen);
            if buf.len().saturating_sub(end) < 2 {
                return Ok(Step::NeedMore);
            }
            self.ranges.push((self.pos, end));
            self.pos = end + 2;
            self.bulklen = None;
            self.multibulklen -= 1;
        }

        let frame = buf.split_to(self.pos).freeze();
        fill_argv(&frame, &self.ranges, argv);
        Ok(Step::Command)
    }
}

fn fill_argv(frame: &Bytes, ranges: &[(usize, usize)], argv: &mut Vec<Bytes>) {
    argv.clear();
    argv.extend(ranges.iter().map(|&(s, e)| frame.slice(s..e)));
}

/// Find the `\r` ending the header line that starts at `from`, the way Redis does it: strchr
/// (so a NUL byte hides any later `\r`), then require one more byte after the `\r`. A line
/// longer than PROTO_INLINE_MAX_SIZE is an error however the bytes arrived. `scanned` is how
/// much of the line earlier calls already searched; it is updated for the next call.
fn find_cr(buf: &[u8], from: usize, scanned: &mut usize) -> Line {
    let avail = buf.len().saturating_sub(from);
    let window = &buf[from..from + avail.min(PROTO_INLINE_MAX_SIZE + 1)];
    let start = (*scanned).min(window.len());
    let found = memchr2(b'\r', 0, &window[start..]).map(|i| start + i);
    *scanned = found.unwrap_or(window.len());
    match found {
        Some(i) if window[i] == b'\r' => {
            if i + 2 > avail {
                Line::NeedMore
            } else {
                Line::Found(from + i)
            }
        }
        _ if avail > PROTO_INLINE_MAX_SIZE => Line::TooBig,
        _ => Line::NeedMore,
    }
}

/// Redis `string2ll`: optional '-', no '+', no leading zeros, no spaces, at most 20 bytes,
/// within i64.
pub fn string2ll(s: &[u8]) -> Option<i64> {
    // LONG_STR_SIZE is 21: a longer string cannot be a valid long long.
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
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
    if negative {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// C `isspace` in the C locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Redis `sdssplitargs` into owned arguments (config lines, argv). `None` on unbalanced quotes.
/// Like the C version, the line ends at a NUL byte.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let end = memchr::memchr(0, line).unwrap_or(line.len());
    let mut buf = line[..end].to_vec();
    let mut ranges = Vec::new();
    split_args_in_place(&mut buf, &mut ranges)
        .then(|| ranges.iter().map(|&(a, b)| buf[a..b].to_vec()).collect())
}

/// Redis `sdssplitargs`, decoding in place: unescaping never makes a token longer than its
/// source, so each token is written over bytes already read, and `ranges` gets where it ended
/// up. Returns false on unbalanced quotes (or a closing quote followed by a non-space).
///
/// `line` holds no NUL (the caller stopped at one), so "past the end" plays the role of the C
/// string's terminator.
pub fn split_args_in_place(line: &mut [u8], ranges: &mut Vec<(usize, usize)>) -> bool {
    let n = line.len();
    let at = |line: &[u8], i: usize| if i < n { line[i] } else { 0 };
    let mut p = 0; // read position
    let mut w = 0; // write position, never ahead of p
    loop {
        while p < n && is_c_space(line[p]) {
            p += 1;
        }
        if p >= n {
            return true;
        }
        let start = w;
        let mut in_dq = false;
        let mut in_sq = false;
        let mut done = false;
        while !done {
            let c = at(line, p);
            if in_dq {
                let hex = match (
                    at(line, p + 1),
                    hex_value(at(line, p + 2)),
                    hex_value(at(line, p + 3)),
                ) {
                    (b'x', Some(h), Some(l)) if c == b'\\' => Some(h * 16 + l),
                    _ => None,
                };
                if let Some(byte) = hex {
                    line[w] = byte;
                    w += 1;
                    p += 3;
                } else if c == b'\\' && at(line, p + 1) != 0 {
                    p += 1;
                    line[w] = match line[p] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    };
                    w += 1;
                } else if c == b'"' {
                    let next = at(line, p + 1);
                    if next != 0 && !is_c_space(next) {
                        return false;
                    }
                    done = true;
                } else if c == 0 {
                    return false;
                } else {
                    line[w] = c;
                    w += 1;
                }
            } else if in_sq {
                if c == b'\\' && at(line, p + 1) == b'\'' {
                    p += 1;
                    line[w] = b'\'';
                    w += 1;
                } else if c == b'\'' {
                    let next = at(line, p + 1);
                    if next != 0 && !is_c_space(next) {
                        return false;
                    }
                    done = true;
                } else if c == 0 {
                    return false;
                } else {
                    line[w] = c;
                    w += 1;
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => {
                        line[w] = c;
                        w += 1;
                    }
                }
            }
            if p < n {
                p += 1;
            }
        }
        ranges.push((start, w));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: ParseLimits = ParseLimits {
        proto_max_bulk_len: 512 * 1024 * 1024,
        authenticated: true,
    };
    const NOAUTH: ParseLimits = ParseLimits {
        proto_max_bulk_len: 512 * 1024 * 1024,
        authenticated: false,
    };

    /// Everything the parser makes of `input` fed at once: the commands, then the error (if
    /// any), then the bytes left unconsumed.
    type Outcome = (Vec<Vec<Vec<u8>>>, Option<ProtocolError>, Vec<u8>);

    fn run(parser: &mut RequestParser, buf: &mut BytesMut, limits: &ParseLimits) -> Outcome {
        let mut cmds = Vec::new();
        let mut argv = Vec::new();
        loop {
            match parser.parse(buf, limits, &mut argv) {
                Ok(true) => cmds.push(argv.iter().map(|a| a.to_vec()).collect()),
                Ok(false) => return (cmds, None, buf.to_vec()),
                Err(e) => return (cmds, Some(e), buf.to_vec()),
            }
        }
    }

    fn parse_whole(input: &[u8], limits: &ParseLimits) -> Outcome {
        run(
            &mut RequestParser::new(),
            &mut BytesMut::from(input),
            limits,
        )
    }

    /// Feed `input` one byte at a time; the leftover is compared loosely (only whether the
    /// parser stopped in the same state), so the commands and error must match exactly.
    fn parse_bytewise(input: &[u8], limits: &ParseLimits) -> Outcome {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut all = (Vec::new(), None, Vec::new());
        for &b in input {
            buf.extend_from_slice(&[b]);
            let (cmds, err, rest) = run(&mut parser, &mut buf, limits);
            all.0.extend(cmds);
            all.2 = rest;
            if err.is_some() {
                all.1 = err;
                break;
            }
        }
        all
    }

    fn args(list: &[&[u8]]) -> Vec<Vec<u8>> {
        list.iter().map(|a| a.to_vec()).collect()
    }

    /// Cases run against redis-server 7.0.15 over a socket (requirepass set for the
    /// unauthenticated ones); the reply is exactly what Redis sent before closing.
    #[test]
    fn protocol_errors_match_redis() {
        let long = |prefix: &[u8], fill: u8| {
            let mut v = prefix.to_vec();
            v.resize(70_000, fill);
            v
        };
        let cases: Vec<(ParseLimits, Vec<u8>, &[u8])> = vec![
            (
                OPEN,
                b"*abc\r\n".to_vec(),
                b"-ERR Protocol error: invalid multibulk length\r\n",
            ),
            (
                OPEN,
                b"*2147483648\r\n".to_vec(),
                b"-ERR Protocol error: invalid multibulk length\r\n",
            ),
            (
                OPEN,
                b"*\r\n".to_vec(),
                b"-ERR Protocol error: invalid multibulk length\r\n",
            ),
            (
                OPEN,
                b"*01\r\n".to_vec(),
                b"-ERR Protocol error: invalid multibulk length\r\n",
            ),
            (
                OPEN,
                b"*+1\r\n".to_vec(),
                b"-ERR Protocol error: invalid multibulk length\r\n",
            ),
            (
                OPEN,
                b"*-0\r\n".to_vec(),
                b"-ERR Protocol error: invalid multibulk length\r\n",
            ),
            (
                OPEN,
                b"* 1\r\n".to_vec(),
                b"-ERR Protocol error: invalid multibulk length\r\n",
            ),
            (
                NOAUTH,
                b"*11\r\n".to_vec(),
                b"-ERR Protocol error: unauthenticated multibulk length\r\n",
            ),
            (
                NOAUTH,
                b"*abc\r\n".to_vec(),
                b"-ERR Protocol error: invalid multibulk length\r\n",
            ),
            (
                NOAUTH,
                b"*2147483648\r\n".to_vec(),
                b"-ERR Protocol error: invalid multibulk length\r\n",
            ),
            (
                OPEN,
                b"*1\r\nfoo\r\n".to_vec(),
                b"-ERR Protocol error: expected '$', got 'f'\r\n",
            ),
            (
                OPEN,
                b"*1\r\n\r\n\r\n".to_vec(),
                b"-ERR Protocol error: expected '$', got ' '\r\n",
            ),
            (
                OPEN,
                b"*1\r\n\n\r\n".to_vec(),
                b"-ERR Protocol error: expected '$', got ' '\r\n",
            ),
            (
                OPEN,
                b"*1\r\n\xff\r\n".to_vec(),
                b"-ERR Protocol error: expected '$', got '\xff'\r\n",
            ),
            (
                OPEN,
                b"*1\r\n$-1\r\n".to_vec(),
                b"-ERR Protocol error: invalid bulk length\r\n",
            ),
            (
                OPEN,
                b"*1\r\n$abc\r\n".to_vec(),
                b"-ERR Protocol error: invalid bulk length\r\n",
            ),
            (
                OPEN,
                b"*1\r\n$04\r\nPING\r\n".to_vec(),
                b"-ERR Protocol error: invalid bulk length\r\n",
            ),
            (
                OPEN,
                b"*1\r\n$\r\n".to_vec(),
                b"-ERR Protocol error: invalid bulk length\r\n",
            ),
            (
                OPEN,
                b"*1\r\n$536870913\r\n".to_vec(),
                b"-ERR Protocol error: invalid bulk length\r\n",
            ),
            (
                NOAUTH,
                b"*1\r\n$16385\r\n".to_vec(),
                b"-ERR Protocol error: unauthenticated bulk length\r\n",
            ),
            (
                NOAUTH,
                b"*1\r\n$-5\r\n".to_vec(),
                b"-ERR Protocol error: invalid bulk length\r\n",
            ),
            (
                OPEN,
                long(b"*", b'1'),
                b"-ERR Protocol error: too big mbulk count string\r\n",
            ),
            (
                OPEN,
                long(b"*1\r\n$", b'1'),
                b"-ERR Protocol error: too big bulk count string\r\n",
            ),
            (
                OPEN,
                long(b"*1\r\n", b'x'),
                b"-ERR Protocol error: too big bulk count string\r\n",
            ),
            (
                OPEN,
                long(b"", b'a'),
                b"-ERR Protocol error: too big inline request\r\n",
            ),
            (
                OPEN,
                b"SET \"a b\n".to_vec(),
                b"-ERR Protocol error: unbalanced quotes in request\r\n",
            ),
            (
                OPEN,
                b"SET \"a\"b\n".to_vec(),
                b"-ERR Protocol error: unbalanced quotes in request\r\n",
            ),
            (
                OPEN,
                b"SET 'a\n".to_vec(),
                b"-ERR Protocol error: unbalanced quotes in request\r\n",
            ),
            (
                OPEN,
                b"SET 'a'b\n".to_vec(),
                b"-ERR Protocol error: unbalanced quotes in request\r\n",
            ),
            (
                OPEN,
                b"ECHO \"abc\\\"\n".to_vec(),
                b"-ERR Protocol error: unbalanced quotes in request\r\n",
            ),
            (
                OPEN,
                b"ECHO a\"b\"c\n".to_vec(),
                b"-ERR Protocol error: unbalanced quotes in request\r\n",
            ),
        ];
        for (limits, input, reply) in &cases {
            let (cmds, err, _) = parse_whole(input, limits);
            assert!(cmds.is_empty(), "{:?}", input.escape_ascii().to_string());
            let err = err.unwrap_or_else(|| panic!("no error for {}", input.escape_ascii()));
            assert_eq!(err.reply(), *reply, "input {}", input.escape_ascii());
            let bytewise = parse_bytewise(input, limits);
            assert_eq!(bytewise.1, Some(err), "bytewise {}", input.escape_ascii());
        }
    }

    /// Inputs on which redis-server 7.0.15 neither replies nor closes: it waits for more.
    #[test]
    fn incomplete_requests_wait_like_redis() {
        let cases: &[(ParseLimits, &[u8])] = &[
            (OPEN, b"*2147483647\r\n"),
            (NOAUTH, b"*10\r\n"),
            (OPEN, b"*1\r\n$536870912\r\n"),
            (NOAUTH, b"*1\r\n$16384\r\n"),
            // strchr stops at NUL, so Redis never sees these lines end.
            (OPEN, b"*1\x00\r\n"),
            (OPEN, b"PI\x00NG\n"),
            (OPEN, b"*1\r"),
            (OPEN, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n"),
            (OPEN, b"*1\r\n$4\r\nPING\r"),
        ];
        for (limits, input) in cases {
            let (cmds, err, _) = parse_whole(input, limits);
            assert!(cmds.is_empty() && err.is_none(), "{}", input.escape_ascii());
        }
    }

    /// Inputs whose commands Redis executed (reply observed: PONG, or ECHO of the argument).
    /// An input and the argument lists of the commands parsed from it.
    type Expected<'a> = (&'a [u8], &'a [&'a [&'a [u8]]]);

    #[test]
    fn accepted_requests_match_redis() {
        let cases: &[Expected] = &[
            (b"*-1\r\nPING\r\n", &[&[b"PING"]]),
            (b"*0\r\nPING\r\n", &[&[b"PING"]]),
            (b"\r\nPING\r\n", &[&[b"PING"]]),
            (b"   \nPING\n", &[&[b"PING"]]),
            (b"PING\n", &[&[b"PING"]]),
            (b"PING\r\r\n", &[&[b"PING"]]),
            (b"ECHO \"a\\x41\\n\\t\\q\"\r\n", &[&[b"ECHO", b"aA\n\tq"]]),
            (b"ECHO 'it\\'s'\r\n", &[&[b"ECHO", b"it's"]]),
            // Redis skips the two bytes after a bulk, and the byte after a header's '\r',
            // without checking them.
            (b"*1\r\n$4\r\nPINGxx", &[&[b"PING"]]),
            (b"*1\rX$4\r\nPING\r\n", &[&[b"PING"]]),
            (b"ECHO \"\"\n", &[&[b"ECHO", b""]]),
            (b"ECHO a\x0bb\n", &[&[b"ECHO", b"a\x0bb"]]),
            (b"\x0bECHO x\n", &[&[b"ECHO", b"x"]]),
            (b"ECHO \"a\"\x0b\n", &[&[b"ECHO", b"a"]]),
            (
                b"*2\r\n$4\r\nECHO\r\n$1\r\n\x00\r\n",
                &[&[b"ECHO", b"\x00"]],
            ),
            (b"ECHO \"\\x4\"\n", &[&[b"ECHO", b"x4"]]),
            (b"ECHO \"\\xZZ\"\n", &[&[b"ECHO", b"xZZ"]]),
        ];
        for (input, want) in cases {
            let want: Vec<Vec<Vec<u8>>> = want.iter().map(|c| args(c)).collect();
            let (cmds, err, rest) = parse_whole(input, &OPEN);
            assert_eq!(err, None, "{}", input.escape_ascii());
            assert_eq!(cmds, want, "{}", input.escape_ascii());
            assert!(rest.is_empty());
            assert_eq!(
                parse_bytewise(input, &OPEN).0,
                want,
                "{}",
                input.escape_ascii()
            );
        }
    }

    #[test]
    fn multibulk_round_trip_is_zero_copy() {
        let input = b"*3\r\n$3\r\nSET\r\n$6\r\nkey:01\r\n$5\r\nhello\r\n";
        let mut buf = BytesMut::from(&input[..]);
        let mut parser = RequestParser::new();
        let mut argv = vec![Bytes::from_static(b"stale")];
        assert_eq!(parser.parse(&mut buf, &OPEN, &mut argv), Ok(true));
        assert_eq!(argv, vec![&b"SET"[..], b"key:01", b"hello"]);
        assert!(buf.is_empty());
        assert!(!parser.last_was_inline());
        // All arguments point into one frame: consecutive addresses with the framing between.
        let base = argv[0].as_ptr() as usize;
        assert_eq!(argv[1].as_ptr() as usize, base + 3 + 6);
        assert_eq!(argv[2].as_ptr() as usize, base + 3 + 6 + 6 + 6);
    }

    #[test]
    fn pipelined_commands_come_out_in_order() {
        let input =
            b"*1\r\n$4\r\nPING\r\nECHO hi\r\n*0\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$3\r\nGE";
        let (cmds, err, rest) = parse_whole(input, &OPEN);
        assert_eq!(err, None);
        assert_eq!(
            cmds,
            vec![
                args(&[b"PING"]),
                args(&[b"ECHO", b"hi"]),
                args(&[b"GET", b"k"])
            ]
        );
        assert_eq!(rest, b"*2\r\n$3\r\nGE");
    }

    #[test]
    fn inline_flag_follows_the_request_type() {
        let mut buf = BytesMut::from(&b"PING\r\n*1\r\n$4\r\nPING\r\n"[..]);
        let mut parser = RequestParser::new();
        let mut argv = Vec::new();
        assert_eq!(parser.parse(&mut buf, &OPEN, &mut argv), Ok(true));
        assert!(parser.last_was_inline());
        assert_eq!(parser.parse(&mut buf, &OPEN, &mut argv), Ok(true));
        assert!(!parser.last_was_inline());
    }

    #[test]
    fn inline_quoting_like_sdssplitargs() {
        let cases: &[(&[u8], &[&[u8]])] = &[
            (b"set k \"hello world\"\n", &[b"set", b"k", b"hello world"]),
            (b"  a   b\tc  \r\n", &[b"a", b"b", b"c"]),
            (b"'a b' \"c\\\"d\"\n", &[b"a b", b"c\"d"]),
            (b"\"\\xff\\x00\\xAb\"\n", &[b"\xff\x00\xab"]),
            (b"'no \\n escape'\n", &[b"no \\n escape"]),
            (b"\"\\a\\b\\r\"\n", &[b"\x07\x08\r"]),
            (b"a\"b\" a'b'\n", &[b"ab", b"ab"]),
            (b"\"a\\'\"\n", &[b"a'"]),
            (b"'' x\n", &[b"", b"x"]),
        ];
        for (input, want) in cases {
            let (cmds, err, _) = parse_whole(input, &OPEN);
            assert_eq!(err, None, "{}", input.escape_ascii());
            assert_eq!(cmds, vec![args(want)], "{}", input.escape_ascii());
        }
    }

    #[test]
    fn every_split_point_gives_the_same_commands() {
        let mut input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\n0123456789\r\nPING\n".to_vec();
        input.extend_from_slice(b"ECHO \"a\\x41\"\r\n*-1\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
        let whole = parse_whole(&input, &OPEN);
        assert_eq!(whole.0.len(), 4);
        for cut in 0..=input.len() {
            let mut parser = RequestParser::new();
            let mut buf = BytesMut::from(&input[..cut]);
            let (mut cmds, err, _) = run(&mut parser, &mut buf, &OPEN);
            assert_eq!(err, None);
            buf.extend_from_slice(&input[cut..]);
            let (more, err, rest) = run(&mut parser, &mut buf, &OPEN);
            cmds.extend(more);
            assert_eq!((cmds, err, rest), whole, "cut at {cut}");
        }
        assert_eq!(parse_bytewise(&input, &OPEN).0, whole.0);
    }

    /// The fuzz target's property on generated streams: random mixes of valid frames, inline
    /// lines and garbage, cut into random chunks, give what parsing the whole stream gives.
    #[test]
    fn random_chunking_equals_whole_parse() {
        use rand::{Rng, SeedableRng};
        let pieces: &[&[u8]] = &[
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
            b"*1\r\n$0\r\n\r\n",
            b"PING\r\n",
            b"ECHO \"a\\x41\" 'b\\'c'\n",
            b"\n",
            b"*0\r\n",
            b"*-1\r\n",
            b"$",
            b"*",
            b"\r",
            b"\x00",
            b"\"",
            b"'",
            b"12",
            b"-",
            b"*11\r\n",
            b"$16385\r\n",
        ];
        let mut rng = rand::rngs::SmallRng::seed_from_u64(42);
        for _ in 0..3000 {
            let mut input = Vec::new();
            for _ in 0..rng.random_range(1..12) {
                input.extend_from_slice(pieces[rng.random_range(0..pieces.len())]);
            }
            let limits = if rng.random_bool(0.5) { OPEN } else { NOAUTH };
            let whole = parse_whole(&input, &limits);
            let mut parser = RequestParser::new();
            let mut buf = BytesMut::new();
            let mut got: Outcome = (Vec::new(), None, Vec::new());
            let mut pos = 0;
            while pos < input.len() && got.1.is_none() {
                let end = (pos + rng.random_range(1..6)).min(input.len());
                buf.extend_from_slice(&input[pos..end]);
                pos = end;
                let (cmds, err, rest) = run(&mut parser, &mut buf, &limits);
                got.0.extend(cmds);
                (got.1, got.2) = (err, rest);
            }
            assert_eq!(got.0, whole.0, "{}", input.escape_ascii());
            assert_eq!(got.1, whole.1, "{}", input.escape_ascii());
            if whole.1.is_none() {
                assert_eq!(got.2, whole.2, "{}", input.escape_ascii());
            }
        }
    }

    #[test]
    fn big_bulk_is_not_rescanned() {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nSET\r\n$100000\r\n"[..]);
        let mut argv = Vec::new();
        assert_eq!(parser.parse(&mut buf, &OPEN, &mut argv), Ok(false));
        assert_eq!(parser.bulklen, Some(100_000));
        // A '\r' inside the value must not be taken for a header line.
        for _ in 0..100 {
            buf.extend_from_slice(&[b'\r'; 1000]);
            assert_eq!(parser.parse(&mut buf, &OPEN, &mut argv), Ok(false));
        }
        buf.extend_from_slice(b"\r\n");
        assert_eq!(parser.parse(&mut buf, &OPEN, &mut argv), Ok(true));
        assert_eq!(argv[1].len(), 100_000);
    }

    #[test]
    fn inline_line_of_exactly_the_limit_is_accepted() {
        let mut input = vec![b'a'; PROTO_INLINE_MAX_SIZE];
        input.push(b'\n');
        let (cmds, err, _) = parse_whole(&input, &OPEN);
        assert_eq!(err, None);
        assert_eq!(cmds[0][0].len(), PROTO_INLINE_MAX_SIZE);
        let mut input = vec![b'a'; PROTO_INLINE_MAX_SIZE + 1];
        input.push(b'\n');
        assert_eq!(
            parse_whole(&input, &OPEN).1,
            Some(ProtocolError::TooBigInlineRequest)
        );
    }

    #[test]
    fn master_limits_skip_proto_max_bulk_len() {
        let master = ParseLimits {
            proto_max_bulk_len: u64::MAX,
            authenticated: true,
        };
        let (_, err, _) = parse_whole(b"*1\r\n$9223372036854775807\r\n", &master);
        assert_eq!(err, None);
    }

    #[test]
    fn string2ll_matches_redis() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-1"), Some(-1));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"00",
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
        ] {
            assert_eq!(string2ll(bad), None, "{}", bad.escape_ascii());
        }
    }

    #[test]
    fn display_is_the_error_text() {
        assert_eq!(
            ProtocolError::ExpectedDollar(b'\n').to_string(),
            "Protocol error: expected '$', got '\\n'"
        );
        assert_eq!(
            ProtocolError::InvalidBulkLength.to_string(),
            "Protocol error: invalid bulk length"
        );
    }
}
