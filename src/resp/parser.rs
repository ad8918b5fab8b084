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
        self.ranges.clear();
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
        let newline = match memchr2(b'\n', 0, window) {
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
            let cr = match find_cr(buf, 0) {
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
            self.ranges.clear();
        }

        while self.multibulklen > 0 {
            let bulklen = match self.bulklen {
                Some(n) => n,
                None => {
                    let cr = match find_cr(buf, self.pos) {
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
/// longer than PROTO_INLINE_MAX_SIZE is an error however the bytes arrived.
fn find_cr(buf: &[u8], from: usize) -> Line {
    let avail = buf.len().saturating_sub(from);
    let window = &buf[from..from + avail.min(PROTO_INLINE_MAX_SIZE + 1)];
    match memchr2(b'\r', 0, window) {
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

/// Redis `sdssplitargs`, decoding in place: unescaping never makes a token longer than its
/// source, so each token is written over bytes already read, and `ranges` gets where it ended
/// up. Returns false on unbalanced quotes (or a closing quote followed by a non-space).
///
/// `line` holds no NUL (the caller stopped at one), so "past the end" plays the role of the C
/// string's terminator.
fn split_args_in_place(line: &mut [u8], ranges: &mut Vec<(usize, usize)>) -> bool {
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
                let hex = match (at(line, p + 1), hex_value(at(line, p + 2)), hex_value(at(line, p + 3))) {
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
