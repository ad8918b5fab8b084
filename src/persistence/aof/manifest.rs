//! Redis 7's multi-part AOF manifest (`appendonlydir/appendonly.aof.manifest`), byte-for-byte
//! what redis-server 7.0.15 writes: one line per file, `file <name> seq <n> type <b|h|i>\n`,
//! the base first, then history files, then incr files.

use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Base,
    History,
    Incr,
}

impl FileType {
    fn letter(self) -> char {
        match self {
            FileType::Base => 'b',
            FileType::History => 'h',
            FileType::Incr => 'i',
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofInfo {
    pub name: String,
    pub seq: i64,
    pub kind: FileType,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofInfo>,
    pub history: Vec<AofInfo>,
    pub incrs: Vec<AofInfo>,
    pub base_seq: i64,
    pub incr_seq: i64,
}

/// A manifest Redis would refuse, with the line it stopped at (Redis's fatal manifest error).
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct ManifestError {
    pub line: Option<(usize, String)>,
    pub reason: &'static str,
}

pub fn manifest_name(aof_filename: &str) -> String {
    format!("{aof_filename}.manifest")
}

pub fn temp_manifest_name(aof_filename: &str) -> String {
    format!("temp-{aof_filename}.manifest")
}

/// Splits a line into words the way `sdssplitargs` does (quotes with escapes honoured).
fn split_args(line: &str) -> Option<Vec<String>> {
    let b = line.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Some(out);
        }
        let mut cur = Vec::new();
        if b[i] == b'"' || b[i] == b'\'' {
            let q = b[i];
            i += 1;
            loop {
                if i >= b.len() {
                    return None;
                }
                if q == b'"' && b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                    let c = b[i];
                    if c == b'x' && i + 2 < b.len() {
                        let h = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
                        cur.push(u8::from_str_radix(h, 16).ok()?);
                        i += 2;
                    } else {
                        cur.push(match c {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            c => c,
                        });
                    }
                } else if b[i] == q {
                    i += 1;
                    if i < b.len() && !b[i].is_ascii_whitespace() {
                        return None;
                    }
                    break;
                } else {
                    cur.push(b[i]);
                }
                i += 1;
            }
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                cur.push(b[i]);
                i += 1;
            }
        }
        out.push(String::from_utf8_lossy(&cur).into_owned());
    }
}

/// `sdsneedsrepr`: a name with spaces, quotes or unprintable bytes is written quoted.
fn repr(name: &str) -> String {
    let needs = name.bytes().any(|c| {
        c == b'\\'
            || c == b'"'
            || c == b'\n'
            || c == b'\r'
            || c == b'\t'
            || c == 7
            || c == 8
            || !c.is_ascii_graphic()
    });
    if !needs {
        return name.to_string();
    }
    let mut s = String::from("\"");
    for c in name.bytes() {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => s.push(c as char),
            c => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
    s
}

impl Manifest {
    /// Parses a manifest (Redis's `aofLoadManifestFromFile`, with its error texts).
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        let mut maxseq = 0;
        let text = String::from_utf8_lossy(text);
        if text.is_empty() {
            return Err(ManifestError {
                line: None,
                reason: "Found an empty AOF manifest",
            });
        }
        for (i, raw) in text.split_inclusive('\n').enumerate() {
            let linenum = i + 1;
            if raw.starts_with('#') {
                continue;
            }
            let line = raw.trim_matches(|c| c == ' ' || c == '\t' || c == '\r' || c == '\n');
            let err = |reason| ManifestError {
                line: Some((linenum, line.to_string())),
                reason,
            };
            if !raw.ends_with('\n') {
                return Err(err("The AOF manifest file contains too long line"));
            }
            if line.is_empty() {
                return Err(err("Invalid AOF manifest file format"));
            }
            let argv = match split_args(line) {
                Some(a) if a.len() >= 6 && a.len() % 2 == 0 => a,
                _ => return Err(err("Invalid AOF manifest file format")),
            };
            let (mut name, mut seq, mut kind) = (None, 0i64, None);
            for pair in argv.chunks(2) {
                let k = pair[0].to_ascii_lowercase();
                match k.as_str() {
                    "file" => {
                        if pair[1].contains('/') {
                            return Err(err("File can't be a path, just a filename"));
                        }
                        name = Some(pair[1].clone());
                    }
                    "seq" => seq = atoll(&pair[1]),
                    "type" => kind = pair[1].bytes().next(),
                    _ => {}
                }
            }
            let (Some(name), Some(kind)) = (name, kind) else {
                return Err(err("Invalid AOF manifest file format"));
            };
            if seq == 0 {
                return Err(err("Invalid AOF manifest file format"));
            }
            match kind {
                b'b' => {
                    if m.base.is_some() {
                        return Err(err("Found duplicate base file information"));
                    }
                    m.base = Some(AofInfo {
                        name,
                        seq,
                        kind: FileType::Base,
                    });
                    m.base_seq = seq;
                }
                b'h' => m.history.push(AofInfo {
                    name,
                    seq,
                    kind: FileType::History,
                }),
                b'i' => {
                    if seq <= maxseq {
                        return Err(err("Found a non-monotonic sequence number"));
                    }
                    m.incrs.push(AofInfo {
                        name,
                        seq,
                        kind: FileType::Incr,
                    });
                    m.incr_seq = seq;
                    maxseq = seq;
                }
                _ => return Err(err("Unknown AOF file type")),
            }
        }
        Ok(m)
    }

    /// The manifest's text (Redis's `getAofManifestAsString`).
    pub fn render(&self) -> String {
        let mut s = String::new();
        for ai in self
            .base
            .iter()
            .chain(self.history.iter())
            .chain(self.incrs.iter())
        {
            let _ = writeln!(
                s,
                "file {} seq {} type {}",
                repr(&ai.name),
                ai.seq,
                ai.kind.letter()
            );
        }
        s
    }

    /// Adds a new incr file (`<name>.<seq>.incr.aof`) and returns its name.
    pub fn new_incr(&mut self, aof_filename: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{aof_filename}.{}.incr.aof", self.incr_seq);
        self.incrs.push(AofInfo {
            name: name.clone(),
            seq: self.incr_seq,
            kind: FileType::Incr,
        });
        name
    }

    /// Adds a new base file, turning the previous one into history; returns its name.
    pub fn new_base(&mut self, aof_filename: &str, rdb: bool) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = FileType::History;
            self.history.insert(0, old);
        }
        self.base_seq += 1;
        let name = format!(
            "{aof_filename}.{}.base.{}",
            self.base_seq,
            if rdb { "rdb" } else { "aof" }
        );
        self.base = Some(AofInfo {
            name: name.clone(),
            seq: self.base_seq,
            kind: FileType::Base,
        });
        name
    }

    /// After a rewrite: every incr file but the last becomes history (Redis's
    /// `markRewrittenIncrAofAsHistory`).
    pub fn mark_rewritten_incrs_as_history(&mut self) {
        let keep = self.incrs.pop();
        for mut ai in self.incrs.drain(..) {
            ai.kind = FileType::History;
            self.history.push(ai);
        }
        self.incrs.extend(keep);
    }

    /// The files loaded at startup, in order: the base, then the incr files.
    pub fn load_order(&self) -> Vec<&AofInfo> {
        self.base.iter().chain(self.incrs.iter()).collect()
    }
}

/// C's `atoll`: leading digits (with an optional sign), 0 when there are none.
fn atoll(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for c in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.wrapping_mul(10).wrapping_add((c - b'0') as i64);
    }
    if neg {
        -n
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_redis_writes_and_parses_it_back() {
        let mut m = Manifest::default();
        m.new_base("appendonly.aof", false);
        m.new_incr("appendonly.aof");
        assert_eq!(
            m.render(),
            "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        );
        // A rewrite: new incr at its start, new base at its end.
        m.new_incr("appendonly.aof");
        m.new_base("appendonly.aof", false);
        m.mark_rewritten_incrs_as_history();
        assert_eq!(
            m.render(),
            "file appendonly.aof.2.base.aof seq 2 type b\n\
             file appendonly.aof.1.base.aof seq 1 type h\n\
             file appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        let back = Manifest::parse(m.render().as_bytes()).map_err(|e| e.reason);
        assert_eq!(back.as_ref().map(|b| b.render()), Ok(m.render()));
    }

    #[test]
    fn rejects_what_redis_rejects() {
        let reason = |t: &str| Manifest::parse(t.as_bytes()).err().map(|e| e.reason);
        assert_eq!(reason(""), Some("Found an empty AOF manifest"));
        assert_eq!(
            reason("file a seq 1 type b\nfile b seq 2 type b\n"),
            Some("Found duplicate base file information")
        );
        assert_eq!(
            reason("file a seq 2 type i\nfile b seq 1 type i\n"),
            Some("Found a non-monotonic sequence number")
        );
        assert_eq!(
            reason("file a seq 1 type x\n"),
            Some("Unknown AOF file type")
        );
        assert_eq!(
            reason("file a seq 1\n"),
            Some("Invalid AOF manifest file format")
        );
        assert_eq!(
            reason("file d/a seq 1 type b\n"),
            Some("File can't be a path, just a filename")
        );
        assert!(Manifest::parse(b"# comment\nfile a seq 1 type b\n").is_ok());
    }
}
