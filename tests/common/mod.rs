//! Test harness shared by the integration tests: start servers (ringkv and a real
//! redis-server) on free ports in temp dirs, talk to them with raw RESP bytes, with the
//! `redis` crate, or with the real `redis-cli`.
//!
//! Every wait is bounded; no test asserts a timing. Servers are killed by pid on drop.
//!
//! Setting `RINGKV_TEST_AGAINST_REDIS=1` makes every "ringkv" server a real redis-server
//! (the `--shards` argument is dropped). That validates the tests themselves against the
//! oracle: a test that fails in that mode is a wrong test, not a ringkv bug.

// Each test crate uses a different subset of the harness.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a server gets to answer PING after spawn.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a single reply may take before the harness gives up.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server gets to exit after SIGTERM before SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

pub const RINGKV_BIN: &str = env!("CARGO_BIN_EXE_ringkv-server");
pub const REDIS_BIN: &str = "redis-server";

/// True when the ringkv tests are pointed at redis-server to validate them.
pub fn against_redis() -> bool {
    std::env::var("RINGKV_TEST_AGAINST_REDIS").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The binary the "ringkv" servers run.
pub fn ringkv_bin() -> String {
    if against_redis() {
        REDIS_BIN.to_string()
    } else {
        RINGKV_BIN.to_string()
    }
}

/// A port that was free a moment ago (bind to :0 and release it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// A temporary directory removed on drop.
pub struct TestDir {
    inner: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir {
            inner: tempfile::Builder::new()
                .prefix("ringkv-test-")
                .tempdir()
                .expect("create temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.inner.path()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.inner.path().join(name)
    }

    pub fn path_str(&self) -> String {
        self.inner.path().to_string_lossy().into_owned()
    }
}

impl Default for TestDir {
    fn default() -> Self {
        TestDir::new()
    }
}

/// A running server process (ringkv or redis-server) that this test owns.
pub struct Server {
    pub pid: u32,
    pub port: u16,
    pub dir: TestDir,
    pub child: Option<Child>,
    pub logfile: PathBuf,
    pub bin: String,
}

/// Which server to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// ringkv with this many shards.
    Ringkv(usize),
    /// The real redis-server (the oracle).
    Redis,
}

impl Kind {
    pub fn label(self) -> String {
        match self {
            Kind::Ringkv(n) => format!("ringkv({n} shards)"),
            Kind::Redis => "redis-server".to_string(),
        }
    }
}

/// Starts a real redis-server (7.0.15 from Debian).
pub struct RedisServer;

impl RedisServer {
    pub fn start(args: &[&str]) -> Server {
        Server::start(Kind::Redis, None, args)
    }
}

impl Server {
    /// ringkv with `shards` shards and extra `--directive value` args.
    pub fn ringkv(shards: usize, args: &[&str]) -> Server {
        Server::start(Kind::Ringkv(shards), None, args)
    }

    /// Starts `kind` with an optional config file (first argument, as redis-server takes it),
    /// then the harness args (port, dir, logfile, no snapshots), then `args` (which win).
    /// Panics, with the server log, if it does not answer PING within START_TIMEOUT.
    pub fn start(kind: Kind, conf: Option<&Path>, args: &[&str]) -> Server {
        let dir = TestDir::new();
        let port = free_port();
        let logfile = dir.join("server.log");
        let (bin, argv) = server_argv(kind, conf, port, &dir, &logfile, args);
        let child = Command::new(&bin)
            .args(&argv)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                std::fs::File::create(dir.join("stdout.log")).expect("create stdout.log"),
            ))
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("stderr.log")).expect("create stderr.log"),
            ))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {bin}: {e} (is it installed/built?)"));
        let mut server = Server {
            pid: child.id(),
            port,
            dir,
            child: Some(child),
            logfile,
            bin,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    panic!(
                        "{} exited during startup ({status}).\n{}",
                        self.bin,
                        self.diagnostics()
                    );
                }
            }
            if let Some(reply) = ping_once(self.port) {
                // -NOAUTH (requirepass) also proves the server is serving; -LOADING does not.
                if reply.starts_with(b"+")
                    || (reply.starts_with(b"-") && !reply.starts_with(b"-LOADING"))
                {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not answer PING on port {} within {:?}.\n{}",
                    self.bin,
                    self.port,
                    START_TIMEOUT,
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Log, stdout and stderr of the server, for failure messages.
    pub fn diagnostics(&self) -> String {
        let mut s = String::new();
        for name in ["server.log", "stdout.log", "stderr.log"] {
            let text = std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
            let tail: String = text
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            s.push_str(&format!("--- {name} (tail) ---\n{tail}\n"));
        }
        s
    }

    /// The server log file content so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.logfile).unwrap_or_default()
    }

    /// Waits (bounded) until the log contains `needle`; returns whether it did.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.log().contains(needle))
    }

    /// A raw RESP connection to this server.
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    /// A `redis` crate connection to this server.
    pub fn client(&self) -> redis::Connection {
        client(self.port)
    }

    /// Sends SIGTERM and waits (bounded) for the exit; returns the exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        signal(self.pid, libc::SIGTERM);
        wait_child(&mut child, STOP_TIMEOUT).or_else(|| {
            signal(self.pid, libc::SIGKILL);
            child.wait().ok();
            None
        })
    }

    /// Waits (bounded) for the process to exit on its own (after SHUTDOWN, say).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let status = wait_child(child, timeout)?;
        self.child = None;
        Some(status)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(self.pid, libc::SIGTERM);
            if wait_child(&mut child, STOP_TIMEOUT).is_none() {
                signal(self.pid, libc::SIGKILL);
                let _ = child.wait();
            }
        }
    }
}

/// Builds the program and argv for a server: `[conf] --port P --dir D --logfile L --save ""
/// [--shards N] args...`.
pub fn server_argv(
    kind: Kind,
    conf: Option<&Path>,
    port: u16,
    dir: &TestDir,
    logfile: &Path,
    args: &[&str],
) -> (String, Vec<String>) {
    let bin = match kind {
        Kind::Ringkv(_) => ringkv_bin(),
        Kind::Redis => REDIS_BIN.to_string(),
    };
    let mut argv: Vec<String> = Vec::new();
    if let Some(conf) = conf {
        argv.push(conf.to_string_lossy().into_owned());
    }
    let port = port.to_string();
    let logfile = logfile.to_string_lossy().into_owned();
    for a in [
        "--port",
        &port,
        "--dir",
        &dir.path_str(),
        "--logfile",
        &logfile,
        "--save",
        "",
    ] {
        argv.push(a.to_string());
    }
    if let Kind::Ringkv(n) = kind {
        if !against_redis() {
            argv.push("--shards".to_string());
            argv.push(n.to_string());
        }
    }
    argv.extend(args.iter().map(|s| s.to_string()));
    (bin, argv)
}

fn ping_once(port: u16) -> Option<Vec<u8>> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    s.write_all(b"*1\r\n$4\r\nPING\r\n").ok()?;
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).ok()?;
    (n > 0).then(|| buf[..n].to_vec())
}

/// Sends `sig` to `pid` (ignoring errors: the process may be gone already).
pub fn signal(pid: u32, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// True when `pid` names a live (non-zombie) process.
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // Field 3 follows the parenthesised command name.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}

/// Kills a process that is not our child (a daemonized server) by pid: SIGTERM, bounded
/// wait, then SIGKILL. Returns true if it exited after SIGTERM.
pub fn kill_pid(pid: u32) -> bool {
    signal(pid, libc::SIGTERM);
    if wait_until(STOP_TIMEOUT, || !pid_alive(pid)) {
        return true;
    }
    signal(pid, libc::SIGKILL);
    wait_until(STOP_TIMEOUT, || !pid_alive(pid));
    false
}

fn wait_child(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a command to completion under coreutils `timeout` (so it is always bounded).
pub fn run_bounded(secs: u64, program: &str, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("-k")
        .arg("5")
        .arg(secs.to_string())
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Output of the real redis-cli against 127.0.0.1:`port` (bounded to 60 s).
pub fn redis_cli(port: u16, args: &[&str]) -> Output {
    let port = port.to_string();
    let mut full = vec!["-h", "127.0.0.1", "-p", &port];
    full.extend_from_slice(args);
    run_bounded(60, "redis-cli", &full)
}

/// redis-cli stdout as a string; panics with stderr if it failed.
pub fn redis_cli_ok(port: u16, args: &[&str]) -> String {
    let out = redis_cli(port, args);
    assert!(
        out.status.success(),
        "redis-cli {args:?} failed: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `redis` crate connection with bounded timeouts.
pub fn client(port: u16) -> redis::Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client url");
    let con = c
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"));
    con.set_read_timeout(Some(REPLY_TIMEOUT))
        .expect("set_read_timeout");
    con.set_write_timeout(Some(REPLY_TIMEOUT))
        .expect("set_write_timeout");
    con
}

// ---------------------------------------------------------------------------------------
// Raw RESP

/// One command through redis-rs; an error reply panics with the command in the message.
pub fn rcmd(con: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query::<redis::Value>(con)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// A redis-rs reply as text: scalars as redis-cli prints them, arrays comma-joined.
pub fn value_text(v: &redis::Value) -> String {
    use redis::Value;
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Nil => "(nil)".into(),
        Value::Okay => "OK".into(),
        Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join(","),
        other => format!("{other:?}"),
    }
}

/// RESP multibulk encoding of one command.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A parsed RESP2/RESP3 reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Integer(i64),
    /// `$-1` is `Bulk(None)`.
    Bulk(Option<Vec<u8>>),
    /// `*-1` is `Array(None)`.
    Array(Option<Vec<Reply>>),
    /// RESP3 `_`.
    Null,
    /// RESP3 `,` kept as text so comparisons are exact.
    Double(Vec<u8>),
    Boolean(bool),
    BigNumber(Vec<u8>),
    /// RESP3 `!`.
    BlobError(Vec<u8>),
    /// RESP3 `=`: format and text.
    Verbatim(Vec<u8>, Vec<u8>),
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    Push(Vec<Reply>),
    /// RESP3 `|` attributes followed by the reply they annotate.
    Attribute(Vec<(Reply, Reply)>, Box<Reply>),
}

/// Parses one reply at the start of `buf`. `Ok(None)`: incomplete. `Err`: not RESP.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    let Some(line_end) = find_crlf(buf) else {
        return Ok(None);
    };
    if buf.is_empty() {
        return Ok(None);
    }
    let line = &buf[1..line_end];
    let after = line_end + 2;
    let int = |l: &[u8]| -> Result<i64, String> {
        std::str::from_utf8(l)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| format!("bad integer {:?}", String::from_utf8_lossy(l)))
    };
    match buf[0] {
        b'+' => Ok(Some((Reply::Simple(line.to_vec()), after))),
        b'-' => Ok(Some((Reply::Error(line.to_vec()), after))),
        b':' => Ok(Some((Reply::Integer(int(line)?), after))),
        b',' => Ok(Some((Reply::Double(line.to_vec()), after))),
        b'(' => Ok(Some((Reply::BigNumber(line.to_vec()), after))),
        b'_' => Ok(Some((Reply::Null, after))),
        b'#' => match line {
            b"t" => Ok(Some((Reply::Boolean(true), after))),
            b"f" => Ok(Some((Reply::Boolean(false), after))),
            _ => Err("bad boolean".into()),
        },
        b'$' | b'!' | b'=' => {
            let n = int(line)?;
            if n < 0 {
                return if buf[0] == b'$' {
                    Ok(Some((Reply::Bulk(None), after)))
                } else {
                    Err("negative length".into())
                };
            }
            let n = n as usize;
            if buf.len() < after + n + 2 {
                return Ok(None);
            }
            if &buf[after + n..after + n + 2] != b"\r\n" {
                return Err("bulk not terminated by CRLF".into());
            }
            let data = buf[after..after + n].to_vec();
            let reply = match buf[0] {
                b'$' => Reply::Bulk(Some(data)),
                b'!' => Reply::BlobError(data),
                _ => {
                    if data.len() < 4 || data[3] != b':' {
                        return Err("bad verbatim string".into());
                    }
                    Reply::Verbatim(data[..3].to_vec(), data[4..].to_vec())
                }
            };
            Ok(Some((reply, after + n + 2)))
        }
        b'*' | b'~' | b'>' => {
            let n = int(line)?;
            if n < 0 {
                return if buf[0] == b'*' {
                    Ok(Some((Reply::Array(None), after)))
                } else {
                    Err("negative aggregate length".into())
                };
            }
            let mut pos = after;
            let mut items = Vec::new();
            for _ in 0..n {
                match parse_reply(&buf[pos..])? {
                    None => return Ok(None),
                    Some((r, used)) => {
                        items.push(r);
                        pos += used;
                    }
                }
            }
            let reply = match buf[0] {
                b'*' => Reply::Array(Some(items)),
                b'~' => Reply::Set(items),
                _ => Reply::Push(items),
            };
            Ok(Some((reply, pos)))
        }
        b'%' | b'|' => {
            let n = int(line)?;
            if n < 0 {
                return Err("negative map length".into());
            }
            let mut pos = after;
            let mut pairs = Vec::new();
            for _ in 0..n {
                let Some((k, used)) = parse_reply(&buf[pos..])? else {
                    return Ok(None);
                };
                pos += used;
                let Some((v, used)) = parse_reply(&buf[pos..])? else {
                    return Ok(None);
                };
                pos += used;
                pairs.push((k, v));
            }
            if buf[0] == b'%' {
                Ok(Some((Reply::Map(pairs), pos)))
            } else {
                let Some((inner, used)) = parse_reply(&buf[pos..])? else {
                    return Ok(None);
                };
                Ok(Some((Reply::Attribute(pairs, Box::new(inner)), pos + used)))
            }
        }
        other => Err(format!("unknown RESP type byte {:?}", other as char)),
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// Why a raw read ended without a reply.
#[derive(Debug, PartialEq)]
pub enum ReadError {
    Timeout,
    Closed,
    Protocol(String),
}

/// A raw TCP connection speaking RESP bytes.
pub struct RawConn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream.set_nodelay(true).ok();
        RawConn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Writes bytes; a failed write (peer closed) is not a panic, the next read reports it.
    pub fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// Reads exactly one full reply and returns its bytes.
    pub fn read_reply_bytes(&mut self, timeout: Duration) -> Result<Vec<u8>, ReadError> {
        let deadline = Instant::now() + timeout;
        loop {
            match parse_reply(&self.buf) {
                Ok(Some((_, used))) => {
                    let bytes = self.buf[..used].to_vec();
                    self.buf.drain(..used);
                    return Ok(bytes);
                }
                Ok(None) => {}
                Err(e) => return Err(ReadError::Protocol(e)),
            }
            self.fill(deadline)?;
        }
    }

    /// One reply, parsed; panics on timeout/close (use the `_bytes` form to inspect those).
    pub fn read_reply(&mut self) -> Reply {
        let bytes = self
            .read_reply_bytes(REPLY_TIMEOUT)
            .unwrap_or_else(|e| panic!("no reply: {e:?}"));
        match parse_reply(&bytes) {
            Ok(Some((r, _))) => r,
            other => panic!("unparsable reply {other:?}"),
        }
    }

    /// Sends one command and returns the bytes of its reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send(&encode_command(args));
        self.read_reply_bytes(REPLY_TIMEOUT)
            .unwrap_or_else(|e| panic!("no reply to {:?}: {e:?}", show_args(args)))
    }

    /// Sends one command and returns its parsed reply.
    pub fn cmd_reply<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        let bytes = self.cmd(args);
        match parse_reply(&bytes) {
            Ok(Some((r, _))) => r,
            other => panic!("unparsable reply {other:?}"),
        }
    }

    /// Reads whatever arrives until the peer closes or nothing arrives for `idle`
    /// (bounded overall by REPLY_TIMEOUT). Returns (bytes, closed).
    pub fn read_until_idle_or_close(&mut self, idle: Duration) -> (Vec<u8>, bool) {
        let overall = Instant::now() + REPLY_TIMEOUT;
        let mut closed = false;
        loop {
            let deadline = (Instant::now() + idle).min(overall);
            match self.fill(deadline) {
                Ok(()) => {}
                Err(ReadError::Closed) => {
                    closed = true;
                    break;
                }
                Err(_) => break,
            }
            if Instant::now() > overall {
                break;
            }
        }
        (std::mem::take(&mut self.buf), closed)
    }

    /// True when the peer has closed the connection (bounded wait of `timeout`).
    pub fn is_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            match self.fill(deadline) {
                Err(ReadError::Closed) => return true,
                Err(_) => return false,
                Ok(()) => {}
            }
        }
    }

    fn fill(&mut self, deadline: Instant) -> Result<(), ReadError> {
        let now = Instant::now();
        if now >= deadline {
            return Err(ReadError::Timeout);
        }
        let wait = (deadline - now).max(Duration::from_millis(1));
        self.stream.set_read_timeout(Some(wait)).ok();
        let mut chunk = [0u8; 16384];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(ReadError::Closed),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                Err(ReadError::Timeout)
            }
            // A reset after the server closed counts as closed.
            Err(_) => Err(ReadError::Closed),
        }
    }
}

/// Connects, sends `bytes`, returns the bytes of one full reply (empty on timeout/close).
pub fn send_raw(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut c = RawConn::connect(port);
    c.send(bytes);
    c.read_reply_bytes(REPLY_TIMEOUT).unwrap_or_default()
}

/// Printable form of raw bytes (`\r\n` etc. escaped), for failure messages.
pub fn show(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// Where two replies first differ: the byte offset and ~200 bytes of each around it, shown
/// with [`show`] (for failure messages about long replies).
#[allow(dead_code)]
pub fn first_difference(ours: &[u8], theirs: &[u8]) -> (usize, String, String) {
    let at = ours.iter().zip(theirs).take_while(|(x, y)| x == y).count();
    let from = at.saturating_sub(200);
    (
        at,
        show(&ours[from..ours.len().min(at + 200)]),
        show(&theirs[from..theirs.len().min(at + 200)]),
    )
}

/// Switches a raw connection to RESP3.
#[allow(dead_code)]
pub fn hello3(conn: &mut RawConn) {
    let r = conn.cmd_reply(&["HELLO", "3"]);
    assert!(matches!(r, Reply::Map(_)), "HELLO 3: {r:?}");
}

pub fn show_args<A: AsRef<[u8]>>(args: &[A]) -> String {
    args.iter()
        .map(|a| format!("\"{}\"", show(a.as_ref())))
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------
// Key placement

/// CRC16-XMODEM (poly 0x1021, init 0), the checksum Redis Cluster uses for slots.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Redis Cluster hash slot of a key, honouring `{hash tags}`.
pub fn key_slot(key: &[u8]) -> u16 {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return crc16(&key[open + 1..open + 1 + len]) % 16384;
            }
        }
    }
    crc16(key) % 16384
}

/// The ringkv shard owning `key` with `shards` shards.
pub fn key_shard(key: &[u8], shards: usize) -> usize {
    key_slot(key) as usize % shards
}

/// A key named `{prefix<i>}suffix` for the smallest i whose shard is `shard`.
pub fn key_on_shard(prefix: &str, suffix: &str, shard: usize, shards: usize) -> String {
    (0..10_000)
        .map(|i| format!("{{{prefix}{i}}}{suffix}"))
        .find(|k| key_shard(k.as_bytes(), shards) == shard)
        .expect("some tag lands on every shard")
}

// ---------------------------------------------------------------------------------------
// redis-cli-like argument splitting (sdssplitargs)

/// Splits a line like redis-cli does: whitespace-separated, "double quotes" with
/// \n \r \t \b \a \\ \" \xHH escapes, 'single quotes' with \' only.
pub fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Ok(out);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= b.len() {
                    return Err("unbalanced double quotes".into());
                }
                if b[i] == b'\\'
                    && i + 3 < b.len()
                    && b[i + 1] == b'x'
                    && is_hex(b[i + 2])
                    && is_hex(b[i + 3])
                {
                    cur.push(hex(b[i + 2]) * 16 + hex(b[i + 3]));
                    i += 4;
                    continue;
                }
                if b[i] == b'\\' && i + 1 < b.len() {
                    let c = match b[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    };
                    cur.push(c);
                    i += 2;
                    continue;
                }
                if b[i] == b'"' {
                    if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                        return Err("closing quote must be followed by a space".into());
                    }
                    i += 1;
                    break;
                }
                cur.push(b[i]);
                i += 1;
            } else if in_sq {
                if i >= b.len() {
                    return Err("unbalanced single quotes".into());
                }
                if b[i] == b'\\' && i + 1 < b.len() && b[i + 1] == b'\'' {
                    cur.push(b'\'');
                    i += 2;
                    continue;
                }
                if b[i] == b'\'' {
                    if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                        return Err("closing quote must be followed by a space".into());
                    }
                    i += 1;
                    break;
                }
                cur.push(b[i]);
                i += 1;
            } else {
                if i >= b.len() || b[i].is_ascii_whitespace() {
                    break;
                }
                match b[i] {
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
                i += 1;
            }
        }
        out.push(cur);
    }
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Runs `redis-benchmark -q -n 20000 -P 16 -t <tests>` against 127.0.0.1:`port` (bounded) and
/// returns (test name, requests per second) for each result line. Panics with the output when
/// the tool fails or when one of `expect` reports no positive rate.
pub fn redis_benchmark(port: u16, tests: &str, expect: &[&str]) -> Vec<(String, f64)> {
    redis_benchmark_n(port, tests, expect, 20000)
}

/// `redis_benchmark` with `requests` requests per test (`-n`), for long test lists
/// that must stay quick on a debug build.
pub fn redis_benchmark_n(
    port: u16,
    tests: &str,
    expect: &[&str],
    requests: u32,
) -> Vec<(String, f64)> {
    let port = port.to_string();
    let requests = requests.to_string();
    let out = run_bounded(
        300,
        "redis-benchmark",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-q",
            "-n",
            &requests,
            "-t",
            tests,
            "-P",
            "16",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "redis-benchmark failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Progress lines ("SET: rps=...") are overwritten via \r; result lines carry
    // "requests per second".
    let results: Vec<(String, f64)> = stdout
        .split(['\r', '\n'])
        .filter_map(|line| {
            let (name, rest) = line.split_once(": ")?;
            let rps = rest.split_whitespace().next()?.parse::<f64>().ok()?;
            rest.contains("requests per second")
                .then(|| (name.trim().to_string(), rps))
        })
        .collect();
    for name in expect {
        let rps = results
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| *r)
            .unwrap_or_else(|| panic!("{name} missing from redis-benchmark output:\n{stdout}"));
        assert!(rps > 0.0, "{name} reported {rps} requests per second");
    }
    results
}
