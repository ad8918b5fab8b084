//! Differential tests: the same command sessions go to ringkv and to a real redis-server
//! 7.0.15, and the reply bytes must be identical.
//!
//! The corpus lives in `tests/differential/*.txt`, one command per line in redis-cli
//! quoting. A blank line ends a session; every session runs on a fresh connection after a
//! `FLUSHALL`. `#` starts a comment line. Line prefixes change how a line is run:
//!
//! - `@unordered CMD…`   compare an array reply as a multiset (KEYS, …)
//! - `@range LO HI CMD…` both replies must be integers in [LO, HI] (TTL, PTTL, IDLETIME)
//! - `@nocompare CMD…`   run it on both, do not compare (HELLO: ids differ)
//! - `@inline TEXT`      send TEXT + "\r\n" as an inline command on the session connection
//! - `@raw ARG…`         on a new connection send the concatenated args as raw bytes; compare
//!   everything received until the server goes idle, and whether it closed the connection
//! - `@rawbig N UNIT [PREFIX]` like `@raw` with PREFIX followed by UNIT repeated N times
//!
//! `RINGKV_DIFF_DUMP=1` prints the whole transcript (use with `--nocapture`);
//! `RINGKV_DIFF_ONLY=63-zset` runs only the corpus files whose path contains the text.

mod common;

use common::{parse_reply, show, split_args, Kind, RawConn, Reply, Server, REPLY_TIMEOUT};
use std::time::Duration;

/// How long a raw case waits for more bytes before deciding the server is done.
const RAW_IDLE: Duration = Duration::from_millis(300);

#[derive(Debug, Clone)]
enum Step {
    Cmd(Vec<Vec<u8>>),
    Unordered(Vec<Vec<u8>>),
    Range(i64, i64, Vec<Vec<u8>>),
    NoCompare(Vec<Vec<u8>>),
    Inline(Vec<u8>),
    Raw(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Line {
    file: String,
    lineno: usize,
    text: String,
    step: Step,
}

fn parse_line(text: &str) -> Result<Step, String> {
    let trimmed = text.trim_start();
    if let Some(rest) = trimmed.strip_prefix("@inline ") {
        return Ok(Step::Inline(rest.as_bytes().to_vec()));
    }
    let args = split_args(trimmed)?;
    let Some(first) = args.first() else {
        return Err("empty".into());
    };
    let word = String::from_utf8_lossy(first).into_owned();
    let rest = args[1..].to_vec();
    let need = |v: &Vec<Vec<u8>>| {
        if v.is_empty() {
            Err(format!("{word} needs a command"))
        } else {
            Ok(())
        }
    };
    match word.as_str() {
        "@unordered" => {
            need(&rest)?;
            Ok(Step::Unordered(rest))
        }
        "@nocompare" => {
            need(&rest)?;
            Ok(Step::NoCompare(rest))
        }
        "@range" => {
            if rest.len() < 3 {
                return Err("@range LO HI CMD…".into());
            }
            let num = |b: &[u8]| -> Result<i64, String> {
                String::from_utf8_lossy(b)
                    .parse()
                    .map_err(|_| "bad @range bound".to_string())
            };
            Ok(Step::Range(
                num(&rest[0])?,
                num(&rest[1])?,
                rest[2..].to_vec(),
            ))
        }
        "@raw" => Ok(Step::Raw(rest.concat())),
        "@rawbig" => {
            if rest.len() < 2 {
                return Err("@rawbig N UNIT [PREFIX]".into());
            }
            let n: usize = String::from_utf8_lossy(&rest[0])
                .parse()
                .map_err(|_| "bad @rawbig count".to_string())?;
            let mut bytes = rest.get(2).cloned().unwrap_or_default();
            for _ in 0..n {
                bytes.extend_from_slice(&rest[1]);
            }
            Ok(Step::Raw(bytes))
        }
        w if w.starts_with('@') => Err(format!("unknown directive {w}")),
        _ => Ok(Step::Cmd(args)),
    }
}

/// All sessions of all corpus files, in file-name order.
fn load_corpus() -> Vec<Vec<Line>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .filter(|p| {
            // RINGKV_DIFF_ONLY=<substring> runs only the matching corpus files.
            std::env::var("RINGKV_DIFF_ONLY")
                .map(|only| p.to_string_lossy().contains(&only))
                .unwrap_or(true)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus files in {}", dir.display());
    let mut sessions = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&path).expect("read corpus file");
        let mut cur: Vec<Line> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() {
                if !cur.is_empty() {
                    sessions.push(std::mem::take(&mut cur));
                }
                continue;
            }
            if raw.trim_start().starts_with('#') {
                continue;
            }
            let step = parse_line(raw).unwrap_or_else(|e| panic!("{name}:{}: {e}: {raw}", i + 1));
            cur.push(Line {
                file: name.clone(),
                lineno: i + 1,
                text: raw.to_string(),
                step,
            });
        }
        if !cur.is_empty() {
            sessions.push(cur);
        }
    }
    sessions
}

/// What one server did for one line, in comparable form.
#[derive(Debug, PartialEq)]
enum Outcome {
    Bytes(Vec<u8>),
    Sorted(Vec<String>),
    InRange(bool, Vec<u8>),
    RawResult(Vec<u8>, bool),
    Ignored,
    Failed(String),
}

impl Outcome {
    fn render(&self) -> String {
        match self {
            Outcome::Bytes(b) => show(b),
            Outcome::Sorted(v) => format!("(as set) {v:?}"),
            Outcome::InRange(ok, b) => format!("{} (in range: {ok})", show(b)),
            Outcome::RawResult(b, closed) => format!("{} [closed: {closed}]", show(b)),
            Outcome::Ignored => "(not compared)".into(),
            Outcome::Failed(e) => format!("FAILED: {e}"),
        }
    }
}

fn read_one(conn: &mut RawConn) -> Result<Vec<u8>, String> {
    conn.read_reply_bytes(REPLY_TIMEOUT)
        .map_err(|e| format!("{e:?}"))
}

/// `expect_raw`: for raw cases, how many bytes the oracle sent back; the subject is given
/// up to REPLY_TIMEOUT to send at least that many before idling out, so a slow machine
/// does not turn into a false mismatch.
fn run_step(port: u16, conn: &mut RawConn, step: &Step, expect_raw: usize) -> Outcome {
    let cmd = |conn: &mut RawConn, args: &[Vec<u8>]| {
        conn.send(&common::encode_command(args));
        read_one(conn)
    };
    let res = match step {
        Step::Cmd(args) => cmd(conn, args).map(Outcome::Bytes),
        Step::NoCompare(args) => cmd(conn, args).map(|_| Outcome::Ignored),
        Step::Unordered(args) => cmd(conn, args).map(|bytes| match parse_reply(&bytes) {
            Ok(Some((Reply::Array(Some(items)), _))) | Ok(Some((Reply::Set(items), _))) => {
                let mut v: Vec<String> = items.iter().map(|r| format!("{r:?}")).collect();
                v.sort();
                Outcome::Sorted(v)
            }
            _ => Outcome::Bytes(bytes),
        }),
        Step::Range(lo, hi, args) => cmd(conn, args).map(|bytes| match parse_reply(&bytes) {
            Ok(Some((Reply::Integer(n), _))) => Outcome::InRange(*lo <= n && n <= *hi, Vec::new()),
            _ => Outcome::InRange(false, bytes),
        }),
        Step::Inline(text) => {
            let mut b = text.clone();
            b.extend_from_slice(b"\r\n");
            conn.send(&b);
            read_one(conn).map(Outcome::Bytes)
        }
        Step::Raw(bytes) => {
            let mut c = RawConn::connect(port);
            c.send(bytes);
            let mut got = Vec::new();
            let mut closed = false;
            let deadline = std::time::Instant::now() + REPLY_TIMEOUT;
            while !closed && std::time::Instant::now() < deadline {
                let (more, c_closed) = c.read_until_idle_or_close(RAW_IDLE);
                got.extend_from_slice(&more);
                closed = c_closed;
                if got.len() >= expect_raw {
                    break;
                }
            }
            Ok(Outcome::RawResult(got, closed))
        }
    };
    res.unwrap_or_else(Outcome::Failed)
}

/// Runs the corpus on `subject` and `oracle`; returns one message per mismatch.
fn run_corpus(subject: &Server, oracle: &Server, subject_label: &str) -> Vec<String> {
    let dump = std::env::var("RINGKV_DIFF_DUMP").is_ok();
    let mut mismatches = Vec::new();
    for session in load_corpus() {
        let mut a = subject.raw();
        let mut b = oracle.raw();
        for c in [&mut a, &mut b] {
            let r = c.cmd(&["FLUSHALL"]);
            assert_eq!(r, b"+OK\r\n", "FLUSHALL before a session");
        }
        for line in &session {
            let want = run_step(oracle.port, &mut b, &line.step, 0);
            let expect_raw = match &want {
                Outcome::RawResult(bytes, _) => bytes.len(),
                _ => 0,
            };
            let got = run_step(subject.port, &mut a, &line.step, expect_raw);
            if dump {
                eprintln!(
                    "{}:{}: {}\n    => {}",
                    line.file,
                    line.lineno,
                    line.text,
                    want.render()
                );
            }
            let same = match (&got, &want) {
                (Outcome::InRange(x, _), Outcome::InRange(y, _)) => *x && *y,
                _ => got == want,
            };
            if !same {
                mismatches.push(format!(
                    "{}:{}: {}\n    {subject_label:>14}: {}\n    {:>14}: {}",
                    line.file,
                    line.lineno,
                    line.text,
                    got.render(),
                    "redis-server",
                    want.render()
                ));
                // A connection that stopped answering would make every later line wait
                // for a timeout: give up on the rest of this session.
                if matches!(got, Outcome::Failed(_)) {
                    mismatches.push(format!("{}: rest of this session skipped", line.file));
                    break;
                }
            }
        }
    }
    mismatches
}

fn compare(kind: Kind) {
    let oracle = Server::start(Kind::Redis, None, &[]);
    let subject = Server::start(kind, None, &[]);
    let label = if kind == Kind::Redis {
        "redis(subject)".to_string()
    } else {
        kind.label()
    };
    let mismatches = run_corpus(&subject, &oracle, &label);
    assert!(
        mismatches.is_empty(),
        "{} mismatching replies between {label} and redis-server:\n\n{}",
        mismatches.len(),
        mismatches.join("\n\n")
    );
}

/// Validates the corpus and the framework: redis against itself must agree (so every case
/// is deterministic or normalized).
#[test]
fn redis_vs_redis() {
    compare(Kind::Redis);
}

#[test]
fn ringkv_1_shard_vs_redis() {
    compare(Kind::Ringkv(1));
}

#[test]
fn ringkv_2_shards_vs_redis() {
    compare(Kind::Ringkv(2));
}

#[test]
fn corpus_parses_and_is_not_trivial() {
    let sessions = load_corpus();
    let lines: usize = sessions.iter().map(|s| s.len()).sum();
    assert!(sessions.len() > 20, "only {} sessions", sessions.len());
    assert!(lines > 300, "only {lines} lines");
}

#[test]
fn split_args_follows_redis_cli_quoting() {
    assert_eq!(
        split_args(r#"SET "a b" 'c\'d' "\x41\r\n" x"#).unwrap(),
        vec![
            b"SET".to_vec(),
            b"a b".to_vec(),
            b"c'd".to_vec(),
            b"A\r\n".to_vec(),
            b"x".to_vec()
        ]
    );
    assert_eq!(
        split_args(r#"SET """#).unwrap(),
        vec![b"SET".to_vec(), Vec::new()]
    );
    assert!(split_args(r#"SET "abc"#).is_err());
}

#[test]
fn reply_framing_handles_resp2_and_resp3() {
    let cases: &[(&[u8], Reply)] = &[
        (b"+OK\r\n", Reply::Simple(b"OK".to_vec())),
        (b"$-1\r\n", Reply::Bulk(None)),
        (b"*-1\r\n", Reply::Array(None)),
        (b"_\r\n", Reply::Null),
        (b",1.5\r\n", Reply::Double(b"1.5".to_vec())),
        (b"#t\r\n", Reply::Boolean(true)),
        (
            b"=8\r\ntxt:abcd\r\n",
            Reply::Verbatim(b"txt".to_vec(), b"abcd".to_vec()),
        ),
        (
            b"%1\r\n$1\r\na\r\n:1\r\n",
            Reply::Map(vec![(Reply::Bulk(Some(b"a".to_vec())), Reply::Integer(1))]),
        ),
        (b"~1\r\n:2\r\n", Reply::Set(vec![Reply::Integer(2)])),
        (
            b">1\r\n+x\r\n",
            Reply::Push(vec![Reply::Simple(b"x".to_vec())]),
        ),
    ];
    for (bytes, want) in cases {
        let (got, used) = parse_reply(bytes).unwrap().unwrap();
        assert_eq!(&got, want);
        assert_eq!(used, bytes.len());
        // Every strict prefix is incomplete, never an error.
        for cut in 0..bytes.len() {
            assert_eq!(
                parse_reply(&bytes[..cut]),
                Ok(None),
                "{}",
                show(&bytes[..cut])
            );
        }
    }
    assert!(parse_reply(b"?x\r\n").is_err());
}
