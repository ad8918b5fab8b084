//! `ringkv-check-aof`: redis-check-aof 7.0's checks, messages and exit codes. It takes a
//! manifest (multi-part AOF: the base, then each incr file) or a single AOF file, reports where
//! the valid prefix ends, and with `--fix` truncates a bad tail after asking (only the last
//! file may be cut). `--truncate-to-timestamp <ts>` cuts the last file at the first `#TS:`
//! annotation later than `ts`.

use super::manifest::Manifest;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// The process exit code a check ends with.
pub type Exit = i32;

enum Outcome {
    Ok,
    Empty,
    Truncated,
    TimestampTruncated,
}

struct Checker<'a> {
    out: &'a mut dyn Write,
    input: &'a mut dyn BufRead,
    /// Lines consumed so far, over every file (redis-check-aof's global `line`).
    line: i64,
    to_timestamp: i64,
    fix: bool,
}

/// `fgets(buf, cap)` over `data` at `pos`.
fn fgets<'d>(data: &'d [u8], pos: &mut usize, cap: usize) -> Option<&'d [u8]> {
    if *pos >= data.len() {
        return None;
    }
    let rest = &data[*pos..];
    let lim = rest.len().min(cap - 1);
    let n = memchr::memchr(b'\n', &rest[..lim]).map_or(lim, |i| i + 1);
    *pos += n;
    Some(&rest[..n])
}

/// `strtol(b, &end, 10)`: the value and how many bytes it used.
fn strtol(b: &[u8]) -> (i64, usize) {
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    let neg = i < b.len() && b[i] == b'-';
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let start = i;
    let mut v: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        v = v.saturating_mul(10).saturating_add((b[i] - b'0') as i64);
        i += 1;
    }
    if i == start {
        return (0, 0);
    }
    (if neg { -v } else { v }, i)
}

/// One file's parse state.
struct Scan<'d> {
    data: &'d [u8],
    pos: usize,
    /// Offset of the item being read when an error was found (`epos`).
    epos: usize,
    error: Option<String>,
    eof: bool,
}

impl Scan<'_> {
    fn err(&mut self, msg: String) {
        self.error = Some(format!("0x{:16x}: {msg}", self.epos));
    }

    fn newline(&mut self, b: &[u8], line: &mut i64) -> bool {
        if b.len() < 2 || &b[..2] != b"\r\n" {
            let c0 = b.first().copied().unwrap_or(0);
            let c1 = b.get(1).copied().unwrap_or(0);
            self.err(format!("Expected \\r\\n, got: {c0:02x}{c1:02x}"));
            return false;
        }
        *line += 1;
        true
    }

    fn read_long(&mut self, prefix: u8, line: &mut i64) -> Option<i64> {
        self.epos = self.pos;
        let Some(buf) = fgets(self.data, &mut self.pos, 128) else {
            self.eof = true;
            return None;
        };
        if buf[0] != prefix {
            self.err(format!(
                "Expected prefix '{}', got: '{}'",
                prefix as char, buf[0] as char
            ));
            return None;
        }
        let (v, used) = strtol(&buf[1..]);
        let rest = &buf[1 + used..];
        self.newline(rest, line).then_some(v)
    }

    fn read_string(&mut self, line: &mut i64) -> Option<Vec<u8>> {
        let len = self.read_long(b'$', line)?;
        if !(0..=i64::MAX - 2).contains(&len) {
            self.err(format!(
                "Expected to read string of {len} bytes, which is not in the suitable range"
            ));
            return None;
        }
        let want = len as usize + 2;
        self.epos = self.pos;
        let have = (self.data.len() - self.pos).min(want);
        let bytes = &self.data[self.pos..self.pos + have];
        self.pos += have;
        if have != want {
            self.eof = true;
            self.err(format!("Expected to read {want} bytes, got {have} bytes"));
            return None;
        }
        if !self.newline(&bytes[want - 2..], line) {
            return None;
        }
        Some(bytes[..want - 2].to_vec())
    }
}

impl Checker<'_> {
    fn say(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
        let _ = self.out.flush();
    }

    /// redis-check-aof's `checkSingleAof`. Err is the exit code.
    fn check_single(
        &mut self,
        name: &str,
        path: &Path,
        last_file: bool,
        preamble: bool,
    ) -> Result<Outcome, Exit> {
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) => {
                self.say(&format!(
                    "Cannot open file {}: {}, aborting...\n",
                    path.display(),
                    crate::config::value::strerror(&e)
                ));
                return Err(1);
            }
        };
        let size = data.len();
        if size == 0 {
            return Ok(Outcome::Empty);
        }
        let mut start = 0;
        if preamble {
            match check_rdb(self.out, name, &data) {
                Some(n) => {
                    self.say("RDB preamble is OK, proceeding with AOF tail...\n");
                    start = n.min(size);
                }
                None => {
                    self.say("RDB preamble of AOF file is not sane, aborting.\n");
                    return Err(1);
                }
            }
        }
        let mut s = Scan {
            data: &data,
            pos: start,
            epos: start,
            error: None,
            eof: false,
        };
        let mut pos = start;
        let mut multi = 0i32;
        let path_str = path.display().to_string();
        loop {
            if multi == 0 {
                pos = s.pos;
            }
            let Some(&c) = data.get(s.pos) else {
                s.eof = true;
                break;
            };
            if c == b'#' {
                s.epos = s.pos;
                let Some(buf) = fgets(&data, &mut s.pos, 1024) else {
                    break;
                };
                if self.to_timestamp != 0 && buf.starts_with(b"#TS:") {
                    let (ts, used) = strtol(&buf[4..]);
                    if buf.get(4 + used) != Some(&b'\r') || used == 0 {
                        self.say("Invalid timestamp annotation\n");
                        return Err(1);
                    }
                    if ts > self.to_timestamp {
                        let at = s.epos;
                        if at == 0 {
                            self.say(&format!(
                                "AOF {path_str} has nothing before timestamp {}, aborting...\n",
                                self.to_timestamp
                            ));
                            return Err(1);
                        }
                        if !last_file {
                            self.say(&format!("Failed to truncate AOF {path_str} to timestamp {} to offset {at} because it is not the last file.\n", self.to_timestamp));
                            self.say("If you insist, please delete all files after this file according to the manifest file and delete the corresponding records in manifest file manually. Then re-run redis-check-aof.\n");
                            return Err(1);
                        }
                        if truncate(path, at as u64).is_err() {
                            self.say(&format!(
                                "Failed to truncate AOF {path_str} to timestamp {}\n",
                                self.to_timestamp
                            ));
                            return Err(1);
                        }
                        return Ok(Outcome::TimestampTruncated);
                    }
                }
            } else if c == b'*' {
                let Some(argc) = s.read_long(b'*', &mut self.line) else {
                    break;
                };
                let mut ok = true;
                for i in 0..argc.max(0) {
                    let Some(arg) = s.read_string(&mut self.line) else {
                        ok = false;
                        break;
                    };
                    if i == 0 {
                        if arg.eq_ignore_ascii_case(b"multi") {
                            multi += 1;
                            if multi > 1 {
                                s.err(format!("Unexpected MULTI in AOF {path_str}"));
                                ok = false;
                                break;
                            }
                        } else if arg.eq_ignore_ascii_case(b"exec") {
                            multi -= 1;
                            if multi != 0 {
                                s.err(format!("Unexpected EXEC in AOF {path_str}"));
                                ok = false;
                                break;
                            }
                        }
                    }
                }
                if !ok {
                    break;
                }
            } else {
                self.say(&format!("AOF {name} format error\n"));
                break;
            }
        }
        if s.eof && multi != 0 && s.error.is_none() {
            s.err("Reached EOF before reading EXEC for MULTI".into());
        }
        if let Some(e) = &s.error {
            self.say(&format!("{e}\n"));
        }
        let diff = size - pos;
        if diff == 0 && self.to_timestamp != 0 {
            self.say(&format!(
                "Truncate nothing in AOF {name} to timestamp {}\n",
                self.to_timestamp
            ));
            return Ok(Outcome::Ok);
        }
        self.say(&format!(
            "AOF analyzed: filename={name}, size={size}, ok_up_to={pos}, ok_up_to_line={}, diff={diff}\n",
            self.line
        ));
        if diff > 0 {
            if !self.fix {
                self.say(&format!(
                    "AOF {name} is not valid. Use the --fix option to try fixing it.\n"
                ));
                return Err(1);
            }
            if !last_file {
                self.say(&format!(
                    "Failed to truncate AOF {name} because it is not the last file\n"
                ));
                return Err(1);
            }
            self.say(&format!(
                "This will shrink the AOF {name} from {size} bytes, with {diff} bytes, to {pos} bytes\n"
            ));
            self.say("Continue? [y/N]: ");
            let mut answer = String::new();
            let yes = self.input.read_line(&mut answer).is_ok()
                && answer
                    .as_bytes()
                    .first()
                    .is_some_and(|c| c.eq_ignore_ascii_case(&b'y'));
            if !yes {
                self.say("Aborting...\n");
                return Err(1);
            }
            if truncate(path, pos as u64).is_err() {
                self.say(&format!("Failed to truncate AOF {name}\n"));
                return Err(1);
            }
            return Ok(Outcome::Truncated);
        }
        Ok(Outcome::Ok)
    }

    fn report(&mut self, kind: &str, name: &str, o: Outcome) {
        let msg = match o {
            Outcome::Ok => format!("{kind}AOF {name} is valid\n"),
            Outcome::Empty => format!("{kind}AOF {name} is empty\n"),
            Outcome::TimestampTruncated => format!(
                "Successfully truncated AOF {name} to timestamp {}\n",
                self.to_timestamp
            ),
            Outcome::Truncated => format!("Successfully truncated AOF {name}\n"),
        };
        self.say(&msg);
    }

    fn multi_part(&mut self, dir: &Path, manifest_path: &Path) -> Result<(), Exit> {
        self.say("Start checking Multi Part AOF\n");
        let text = std::fs::read(manifest_path).map_err(|e| {
            self.say(&format!(
                "Fatal error: can't open the AOF manifest file {} for reading: {}\n",
                manifest_path.display(),
                crate::config::value::strerror(&e)
            ));
            1
        })?;
        let m = Manifest::parse(&text).map_err(|e| {
            self.say("\n*** FATAL AOF MANIFEST FILE ERROR ***\n");
            if let Some((n, line)) = &e.line {
                self.say(&format!("Reading the manifest file, at line {n}\n"));
                self.say(&format!(">>> '{line}'\n"));
            }
            self.say(&format!("{}\n", e.reason));
            1
        })?;
        let total = m.load_order().len();
        let mut n = 0;
        if let Some(base) = &m.base {
            n += 1;
            let path = dir.join(&base.name);
            let rdb = is_rdb(&path);
            self.say(&format!(
                "Start to check BASE AOF ({} format).\n",
                if rdb { "RDB" } else { "RESP" }
            ));
            let o = self.check_single(&base.name, &path, n == total, rdb)?;
            self.report("BASE ", &base.name, o);
        }
        if !m.incrs.is_empty() {
            self.say("Start to check INCR files.\n");
            for f in &m.incrs {
                n += 1;
                let o = self.check_single(&f.name, &dir.join(&f.name), n == total, false)?;
                self.report("INCR ", &f.name, o);
            }
        }
        self.say("All AOF files and manifest are valid\n");
        Ok(())
    }
}

fn truncate(path: &Path, len: u64) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .set_len(len)
}

/// redis-check-rdb's report on an RDB base (or preamble), as redis-check-aof prints it.
struct RdbReport<'a> {
    out: &'a mut dyn Write,
    doing: &'static str,
    keys: u64,
    expires: u64,
    already_expired: u64,
    now: i64,
}

impl crate::persistence::rdb::Visitor for RdbReport<'_> {
    fn stage(&mut self, doing: &'static str) {
        self.doing = doing;
    }

    fn aux(&mut self, offset: u64, key: &[u8], val: &[u8]) {
        let _ = writeln!(
            self.out,
            "[offset {offset}] AUX FIELD {} = '{}'",
            String::from_utf8_lossy(key),
            String::from_utf8_lossy(val)
        );
    }

    fn select_db(&mut self, offset: u64, db: u64) -> Result<(), String> {
        let _ = writeln!(self.out, "[offset {offset}] Selecting DB ID {db}");
        Ok(())
    }

    fn begin_key(&mut self, _offset: u64, _type_id: u8, _key: &[u8]) {
        self.keys += 1;
    }

    fn entry(&mut self, e: crate::persistence::rdb::RdbEntry) -> Result<(), String> {
        if let Some(ms) = e.expire_ms {
            self.expires += 1;
            if ms < self.now {
                self.already_expired += 1;
            }
        }
        Ok(())
    }

    fn function(&mut self, _code: &[u8]) -> Result<(), String> {
        Ok(())
    }

    fn checksum(&mut self, offset: u64, c: crate::persistence::rdb::read::Checksum) {
        use crate::persistence::rdb::read::Checksum;
        let _ = match c {
            Checksum::Ok => writeln!(self.out, "[offset {offset}] Checksum OK"),
            Checksum::Disabled => writeln!(
                self.out,
                "[offset {offset}] RDB file was saved with checksum disabled: no check performed."
            ),
            Checksum::Absent => Ok(()),
        };
    }
}

/// Checks the RDB part of `data`; returns its length, or None (report printed) when broken.
fn check_rdb(out: &mut dyn Write, name: &str, data: &[u8]) -> Option<usize> {
    let _ = writeln!(out, "[offset 0] Checking RDB file {name}");
    let mut v = RdbReport {
        out,
        doing: "start",
        keys: 0,
        expires: 0,
        already_expired: 0,
        now: crate::keyspace::now_ms(),
    };
    let res = crate::persistence::rdb::load_with(data, &mut v);
    let n = match res {
        Ok(sum) => {
            let _ = writeln!(v.out, "[offset {}] \\o/ RDB looks OK! \\o/", sum.bytes);
            usize::try_from(sum.bytes).ok()
        }
        Err(e) => {
            let _ = writeln!(
                v.out,
                "--- RDB ERROR DETECTED ---\n[offset {}] {}\n[additional info] While doing: {}",
                e.offset, e.what, v.doing
            );
            None
        }
    };
    let _ = write!(
        v.out,
        "[info] {} keys read\n[info] {} expires\n[info] {} already expired\n",
        v.keys, v.expires, v.already_expired
    );
    let _ = v.out.flush();
    n
}

fn is_rdb(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|d| d.len() >= 8 && d.starts_with(b"REDIS"))
}

fn is_manifest(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|d| {
        d.split(|c| *c == b'\n')
            .any(|l| !l.starts_with(b"#") && l.starts_with(b"file"))
    })
}

/// Runs the tool on `args` (without the program name); `prog` is used in the usage text.
pub fn run(prog: &str, args: &[String], out: &mut dyn Write, input: &mut dyn BufRead) -> Exit {
    let usage = |out: &mut dyn Write| {
        let _ = writeln!(
            out,
            "Usage: {prog} [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>"
        );
        1
    };
    let (path, fix, ts) = match args {
        [p] => (p.clone(), false, 0),
        [f, p] if f == "--fix" => (p.clone(), true, 0),
        [f, t, p] if f == "--truncate-to-timestamp" => match t.parse::<i64>() {
            Ok(ts) => (p.clone(), false, ts),
            Err(_) => {
                let _ = writeln!(out, "Invalid timestamp, aborting...");
                return 1;
            }
        },
        _ => return usage(out),
    };
    let path = PathBuf::from(path);
    if let Err(e) = std::fs::metadata(&path) {
        let _ = writeln!(
            out,
            "Cannot open file {}: {}",
            path.display(),
            crate::config::value::strerror(&e)
        );
        return 1;
    }
    let mut c = Checker {
        out,
        input,
        line: 1,
        to_timestamp: ts,
        fix,
    };
    let name = path.display().to_string();
    let res = if is_manifest(&path) {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        c.multi_part(&dir, &path)
    } else {
        c.say("Start checking Old-Style AOF\n");
        let rdb = is_rdb(&path);
        c.check_single(&name, &path, true, rdb)
            .map(|o| c.report("", &name, o))
    };
    match res {
        Ok(()) => 0,
        Err(code) => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: &[&str], answer: &str) -> (i32, String) {
        let mut out = Vec::new();
        let mut input = std::io::Cursor::new(answer.as_bytes().to_vec());
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let code = run("redis-check-aof", &args, &mut out, &mut input);
        (code, String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn reports_a_cut_tail_like_redis_check_aof_and_fixes_it_when_told_yes() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let Ok(dir) = dir else { return };
        let f = dir.path().join("a.aof");
        let good = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n";
        let mut data = good.to_vec();
        data.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$5\r\n12");
        assert!(std::fs::write(&f, &data).is_ok());
        let p = f.display().to_string();
        let (code, out) = check(&[&p], "");
        assert_eq!(code, 1);
        assert_eq!(
            out,
            format!(
                "Start checking Old-Style AOF\n0x              4a: Expected to read 7 bytes, got 2 bytes\n\
                 AOF analyzed: filename={p}, size={}, ok_up_to={}, ok_up_to_line=19, diff=26\n\
                 AOF {p} is not valid. Use the --fix option to try fixing it.\n",
                data.len(),
                good.len()
            )
        );
        let (code, out) = check(&["--fix", &p], "n\n");
        assert_eq!(code, 1);
        assert!(out.ends_with("Continue? [y/N]: Aborting...\n"), "{out}");
        let (code, out) = check(&["--fix", &p], "y\n");
        assert_eq!(code, 0, "{out}");
        assert!(
            out.ends_with(&format!("Successfully truncated AOF {p}\n")),
            "{out}"
        );
        assert_eq!(std::fs::read(&f).ok(), Some(good.to_vec()));
        let (code, out) = check(&[&p], "");
        assert_eq!(code, 0);
        assert!(out.ends_with(&format!("AOF {p} is valid\n")), "{out}");
    }

    #[test]
    fn usage_and_open_multi() {
        let (code, out) = check(&[], "");
        assert_eq!(code, 1);
        assert_eq!(
            out,
            "Usage: redis-check-aof [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>\n"
        );
        let Ok(dir) = tempfile::tempdir() else { return };
        let f = dir.path().join("m.aof");
        assert!(std::fs::write(&f, b"*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nPING\r\n").is_ok());
        let (code, out) = check(&[&f.display().to_string()], "");
        assert_eq!(code, 1);
        // The same text as redis-check-aof 7.0.15 on this file.
        assert!(
            out.contains("0x              17: Reached EOF before reading EXEC for MULTI\n"),
            "{out}"
        );
        assert!(
            out.contains("size=29, ok_up_to=0, ok_up_to_line=7, diff=29\n"),
            "{out}"
        );
    }
}
