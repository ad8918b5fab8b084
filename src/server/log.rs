//! Logging in Redis's exact line shape, behind `tracing`.
//!
//! Every line is `pid:R dd Mon yyyy hh:mm:ss.mmm L message` (Redis `serverLogRaw`), because log
//! scrapers, testcontainers wait strategies and operators' grep habits key on that shape.
//! `R` is the role (`M` master, `S` replica, `X` sentinel, `C` fork child) and `L` the level
//! (`.` debug, `-` verbose, `*` notice, `#` warning).
//!
//! Level, role and log file all change at runtime (`CONFIG SET loglevel`, `REPLICAOF`,
//! `CONFIG SET logfile` is not in Redis but a reopen is handy), so they live in one global
//! [`LogState`] of atomics read by the [`RedisLayer`] on every event.
//!
//! tracing → Redis levels: TRACE → debug, DEBUG → verbose, INFO → notice, WARN/ERROR → warning.
//! Events bridged from the `log` crate (glommio logs through it) go through the same layer.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// Redis verbosity levels, in Redis's order (`LL_DEBUG` .. `LL_NOTHING`): a line is written when
/// its level is at least the configured one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 0,
    Verbose = 1,
    Notice = 2,
    Warning = 3,
    /// `loglevel nothing`: not even warnings.
    Nothing = 4,
}

impl Level {
    fn from_u8(v: u8) -> Level {
        match v {
            0 => Level::Debug,
            1 => Level::Verbose,
            2 => Level::Notice,
            3 => Level::Warning,
            _ => Level::Nothing,
        }
    }

    /// The level character in a log line (`c[level]` with `c = ".-*#"` in Redis).
    pub fn marker(self) -> char {
        match self {
            Level::Debug => '.',
            Level::Verbose => '-',
            Level::Notice => '*',
            Level::Warning | Level::Nothing => '#',
        }
    }

    /// The Redis level a tracing event is logged at.
    pub fn of_tracing(level: &tracing::Level) -> Level {
        match *level {
            tracing::Level::TRACE => Level::Debug,
            tracing::Level::DEBUG => Level::Verbose,
            tracing::Level::INFO => Level::Notice,
            _ => Level::Warning,
        }
    }

    /// The `loglevel` directive's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Verbose => "verbose",
            Level::Notice => "notice",
            Level::Warning => "warning",
            Level::Nothing => "nothing",
        }
    }

    /// Parses a `loglevel` value (case-insensitive, as Redis enum configs are).
    pub fn parse(s: &str) -> Option<Level> {
        [
            Level::Debug,
            Level::Verbose,
            Level::Notice,
            Level::Warning,
            Level::Nothing,
        ]
        .into_iter()
        .find(|l| l.name().eq_ignore_ascii_case(s))
    }
}

/// Where lines go.
enum Sink {
    Stdout,
    /// Opened in append mode for each line, as Redis does, so that `logrotate` moving the file
    /// away needs no signal: the next line recreates it.
    File(String),
}

/// The runtime-changeable logging state shared by the layer and the setters.
pub struct LogState {
    verbosity: AtomicU8,
    role: AtomicU8,
    /// Set after `daemonize`: stdout is /dev/null then, so stdout lines are skipped outright.
    daemonized: AtomicBool,
    sink: Mutex<Sink>,
}

impl LogState {
    const fn new() -> LogState {
        LogState {
            verbosity: AtomicU8::new(Level::Notice as u8),
            role: AtomicU8::new(b'M'),
            daemonized: AtomicBool::new(false),
            sink: Mutex::new(Sink::Stdout),
        }
    }

    fn verbosity(&self) -> Level {
        Level::from_u8(self.verbosity.load(Ordering::Relaxed))
    }

    fn passes(&self, level: Level) -> bool {
        passes(level, self.verbosity())
    }

    fn set_logfile(&self, path: &str) -> io::Result<()> {
        let sink = if path.is_empty() {
            Sink::Stdout
        } else {
            // Redis refuses to start (and CONFIG SET fails) when the file cannot be opened.
            open_append(path)?;
            Sink::File(path.to_string())
        };
        *self.sink.lock().unwrap_or_else(|p| p.into_inner()) = sink;
        Ok(())
    }

    /// Writes one complete line (newline included) with a single write call, so lines from
    /// several executors never interleave.
    fn write(&self, line: &[u8]) {
        let sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        // Logging must never take the server down: write errors are dropped, like Redis does.
        let _ = match &*sink {
            Sink::Stdout => {
                if self.daemonized.load(Ordering::Relaxed) {
                    return;
                }
                let mut out = io::stdout().lock();
                out.write_all(line).and_then(|()| out.flush())
            }
            Sink::File(path) => open_append(path).and_then(|mut f| f.write_all(line)),
        };
    }

    fn to_stdout(&self) -> bool {
        matches!(
            *self.sink.lock().unwrap_or_else(|p| p.into_inner()),
            Sink::Stdout
        )
    }
}

fn open_append(path: &str) -> io::Result<std::fs::File> {
    OpenOptions::new().append(true).create(true).open(path)
}

static STATE: LogState = LogState::new();

/// Whether a line at `level` is written under `loglevel verbosity` (`level < verbosity` drops).
pub fn passes(level: Level, verbosity: Level) -> bool {
    level != Level::Nothing && level >= verbosity
}

/// Installs the Redis-format layer as the global tracing subscriber (with the `log` bridge, so
/// glommio's warnings show) and sets the initial level, log file and role.
pub fn init(level: Level, logfile: &str, role: char) -> io::Result<()> {
    set_level(level);
    set_role(role);
    set_logfile(logfile)?;
    tracing_subscriber::registry()
        .with(RedisLayer { state: &STATE })
        .try_init()
        .map_err(|e| io::Error::other(e.to_string()))
}

/// `CONFIG SET loglevel`.
pub fn set_level(level: Level) {
    STATE.verbosity.store(level as u8, Ordering::Relaxed);
}

/// The current `loglevel`.
pub fn level() -> Level {
    STATE.verbosity()
}

/// The role character of later lines: `M`, `S`, `X` or `C`.
pub fn set_role(role: char) {
    let byte = if role.is_ascii() { role as u8 } else { b'?' };
    STATE.role.store(byte, Ordering::Relaxed);
}

/// Switches to another log file (`""` = stdout). Fails, leaving the old one, if the file
/// cannot be opened for appending.
pub fn set_logfile(path: &str) -> io::Result<()> {
    STATE.set_logfile(path)
}

/// Whether lines currently go to stdout (`logfile ""`); the banner decision needs it.
pub fn logs_to_stdout() -> bool {
    STATE.to_stdout()
}

/// Called by `daemonize`: stdout is /dev/null from now on.
pub(crate) fn mark_daemonized() {
    STATE.daemonized.store(true, Ordering::Relaxed);
}

/// Writes `text` as is, without the line prefix (Redis `LL_RAW`, used for the logo), if
/// `level` passes the filter.
pub fn raw(level: Level, text: &str) {
    if STATE.passes(level) {
        STATE.write(text.as_bytes());
    }
}

/// Writes a line in the shape Redis uses from signal handlers:
/// `pid:signal-handler (unixtime) msg`.
pub fn from_signal_handler(level: Level, msg: &str) {
    if !STATE.passes(level) {
        return;
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let line = format!("{}:signal-handler ({}) {}\n", std::process::id(), secs, msg);
    STATE.write(line.as_bytes());
}

/// Local wall-clock time broken down as `localtime_r` gives it, plus milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub mday: i32,
    /// 0-based month.
    pub mon: i32,
    pub year: i32,
    pub hour: i32,
    pub min: i32,
    pub sec: i32,
    pub millis: u32,
}

impl Stamp {
    pub fn now() -> Stamp {
        let mut tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        // SAFETY: gettimeofday writes only into `tv`; a null timezone is allowed.
        unsafe { libc::gettimeofday(&mut tv, std::ptr::null_mut()) };
        // SAFETY: an all-zero `tm` is a valid value; localtime_r fills it from `tv_sec`.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers refer to live locals.
        unsafe { libc::localtime_r(&tv.tv_sec, &mut tm) };
        Stamp {
            mday: tm.tm_mday,
            mon: tm.tm_mon,
            year: tm.tm_year + 1900,
            hour: tm.tm_hour,
            min: tm.tm_min,
            sec: tm.tm_sec,
            millis: (tv.tv_usec / 1000) as u32,
        }
    }
}

/// `%b` in the C locale (Redis never calls setlocale for LC_TIME, so its months are English).
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Appends one log line: printf `"%d:%c %s %c %s\n"` where the time is strftime
/// `"%d %b %Y %H:%M:%S."` followed by `%03d` milliseconds.
pub fn format_line(out: &mut String, pid: u32, role: char, stamp: &Stamp, level: Level, msg: &str) {
    let month = MONTHS
        .get(usize::try_from(stamp.mon).unwrap_or(0))
        .copied()
        .unwrap_or("Jan");
    let _ = writeln!(
        out,
        "{}:{} {:02} {} {} {:02}:{:02}:{:02}.{:03} {} {}",
        pid,
        role,
        stamp.mday,
        month,
        stamp.year,
        stamp.hour,
        stamp.min,
        stamp.sec,
        stamp.millis,
        level.marker(),
        msg
    );
}

/// The tracing layer writing Redis-format lines.
pub struct RedisLayer {
    state: &'static LogState,
}

impl<S: Subscriber> Layer<S> for RedisLayer {
    fn register_callsite(
        &self,
        _metadata: &'static Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        // The level changes at runtime, so the answer must never be cached per callsite.
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        self.state.passes(Level::of_tracing(metadata.level()))
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = Level::of_tracing(event.metadata().level());
        if !self.state.passes(level) {
            return;
        }
        let mut msg = MessageVisitor::default();
        event.record(&mut msg);
        msg.text.push_str(&msg.extra);
        // Our own lines read like Redis's; lines from other crates (glommio via `log`) say
        // where they come from.
        let target = msg
            .log_target
            .as_deref()
            .unwrap_or_else(|| event.metadata().target());
        let text = if target.starts_with("ringkv") {
            msg.text
        } else {
            format!("{target}: {}", msg.text)
        };
        let role = char::from(self.state.role.load(Ordering::Relaxed));
        let mut line = String::with_capacity(text.len() + 48);
        format_line(
            &mut line,
            std::process::id(),
            role,
            &Stamp::now(),
            level,
            &text,
        );
        self.state.write(line.as_bytes());
    }
}

/// Collects `message` first, then other fields as ` key=value`; drops the `log.*` bookkeeping
/// fields the `log` bridge adds (keeping `log.target` aside).
#[derive(Default)]
struct MessageVisitor {
    text: String,
    extra: String,
    log_target: Option<String>,
}

impl MessageVisitor {
    fn field(&mut self, field: &Field, value: &dyn std::fmt::Debug, is_str: Option<&str>) {
        let name = field.name();
        if name == "message" {
            let _ = write!(self.text, "{value:?}");
        } else if name == "log.target" {
            self.log_target = is_str.map(str::to_string);
        } else if !name.starts_with("log.") {
            match is_str {
                Some(s) => {
                    let _ = write!(self.extra, " {name}={s}");
                }
                None => {
                    let _ = write!(self.extra, " {name}={value:?}");
                }
            }
        }
    }
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, &value, Some(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.field(field, value, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            mday: 5,
            mon: 10,
            year: 2026,
            hour: 7,
            min: 3,
            sec: 9,
            millis: 42,
        }
    }

    #[test]
    fn line_has_redis_shape() {
        let mut s = String::new();
        format_line(
            &mut s,
            4242,
            'M',
            &stamp(),
            Level::Notice,
            "Ready to accept connections",
        );
        assert_eq!(
            s,
            "4242:M 05 Nov 2026 07:03:09.042 * Ready to accept connections\n"
        );
    }

    #[test]
    fn level_markers_and_roles() {
        let mut s = String::new();
        for (lvl, c) in [
            (Level::Debug, '.'),
            (Level::Verbose, '-'),
            (Level::Notice, '*'),
            (Level::Warning, '#'),
        ] {
            s.clear();
            format_line(&mut s, 1, 'S', &stamp(), lvl, "x");
            let parts: Vec<&str> = s.trim_end().split(' ').collect();
            // pid:R, dd, Mon, yyyy, hh:mm:ss.mmm, L, message
            assert_eq!(parts.len(), 7, "{s}");
            assert_eq!(parts[0], "1:S");
            assert_eq!(parts[5], c.to_string());
        }
    }

    #[test]
    fn real_clock_stamp_is_well_formed() {
        let mut s = String::new();
        format_line(&mut s, 7, 'X', &Stamp::now(), Level::Warning, "hello world");
        let rest = s.strip_prefix("7:X ").unwrap_or_default();
        let b = rest.as_bytes();
        // "dd Mon yyyy hh:mm:ss.mmm " is 25 bytes; 0-based offsets below.
        assert!(
            b[0].is_ascii_digit() && b[1].is_ascii_digit() && b[2] == b' ',
            "{s}"
        );
        assert!(MONTHS.contains(&&rest[3..6]), "{s}");
        assert_eq!(&rest[6..7], " ");
        assert!(rest[7..11].bytes().all(|c| c.is_ascii_digit()), "{s}");
        assert_eq!(&rest[11..12], " ");
        assert_eq!(b[14], b':');
        assert_eq!(b[17], b':');
        assert_eq!(b[20], b'.');
        assert!(rest[21..24].bytes().all(|c| c.is_ascii_digit()), "{s}");
        assert_eq!(&rest[24..], " # hello world\n");
    }

    #[test]
    fn filtering_follows_redis_verbosity() {
        assert!(passes(Level::Warning, Level::Notice));
        assert!(passes(Level::Notice, Level::Notice));
        assert!(!passes(Level::Verbose, Level::Notice));
        assert!(passes(Level::Debug, Level::Debug));
        assert!(!passes(Level::Warning, Level::Nothing));
        assert_eq!(Level::of_tracing(&tracing::Level::TRACE), Level::Debug);
        assert_eq!(Level::of_tracing(&tracing::Level::DEBUG), Level::Verbose);
        assert_eq!(Level::of_tracing(&tracing::Level::INFO), Level::Notice);
        assert_eq!(Level::of_tracing(&tracing::Level::WARN), Level::Warning);
        assert_eq!(Level::of_tracing(&tracing::Level::ERROR), Level::Warning);
        assert_eq!(Level::parse("VERBOSE"), Some(Level::Verbose));
        assert_eq!(Level::parse("loud"), None);
    }

    /// Drives a private state through a scoped subscriber: real tracing macros, a real file.
    #[test]
    fn layer_writes_filtered_lines_to_logfile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ringkv.log");
        let path = path.to_str().unwrap();
        let state: &'static LogState = Box::leak(Box::new(LogState::new()));
        state.set_logfile(path).unwrap();
        state.role.store(b'S', Ordering::Relaxed);
        let sub = tracing_subscriber::registry().with(RedisLayer { state });
        tracing::subscriber::with_default(sub, || {
            tracing::info!("notice line");
            tracing::debug!("verbose hidden");
            state
                .verbosity
                .store(Level::Verbose as u8, Ordering::Relaxed);
            tracing::debug!(port = 6380, "verbose shown");
            state
                .verbosity
                .store(Level::Nothing as u8, Ordering::Relaxed);
            tracing::error!("never");
        });
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let pid = std::process::id();
        assert!(lines[0].starts_with(&format!("{pid}:S ")), "{text}");
        assert!(lines[0].ends_with(" * notice line"), "{text}");
        assert!(lines[1].ends_with(" - verbose shown port=6380"), "{text}");
    }

    /// Runs in a re-executed copy of the test binary: `init` installs a process-global
    /// subscriber, which must not leak into the other tests.
    #[test]
    #[ignore = "helper run in a child process"]
    fn global_init_child_helper() {
        let Ok(path) = std::env::var("RINGKV_LOG_CHILD_FILE") else {
            return;
        };
        init(Level::Notice, &path, 'C').unwrap();
        tracing::warn!("oO0OoO0OoO0Oo ringkv is starting oO0OoO0OoO0Oo");
        set_role('M');
        // What glommio does: log through the `log` crate.
        ::log::warn!(target: "glommio::sys::uring", "registering buffers failed");
        ::log::info!(target: "glommio::sys::uring", "an info line");
        ::log::debug!(target: "glommio::sys::uring", "hidden at notice");
        set_level(Level::Warning);
        tracing::info!("hidden at warning");
        set_level(Level::Debug);
        tracing::trace!("debug line");
        raw(Level::Notice, "RAW\n");
        from_signal_handler(Level::Warning, "Received SIGTERM scheduling shutdown...");
    }

    #[test]
    fn global_init_bridges_log_and_changes_at_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("global.log");
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "server::log::tests::global_init_child_helper",
                "--ignored",
                "--test-threads=1",
            ])
            .env("RINGKV_LOG_CHILD_FILE", &path)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(lines[0].contains(":C "), "{text}");
        assert!(
            lines[0].ends_with(" # oO0OoO0OoO0Oo ringkv is starting oO0OoO0OoO0Oo"),
            "{text}"
        );
        assert!(lines[1].contains(":M "), "{text}");
        assert!(
            lines[1].ends_with(" # glommio::sys::uring: registering buffers failed"),
            "{text}"
        );
        assert!(
            lines[2].ends_with(" * glommio::sys::uring: an info line"),
            "{text}"
        );
        assert!(lines[3].ends_with(" . debug line"), "{text}");
        assert_eq!(lines[4], "RAW");
        let pid_prefix = lines[0].split(':').next().unwrap_or_default();
        assert!(
            lines[5].starts_with(&format!("{pid_prefix}:signal-handler (")),
            "{text}"
        );
        assert!(
            lines[5].ends_with(") Received SIGTERM scheduling shutdown..."),
            "{text}"
        );
    }

    #[test]
    fn unopenable_logfile_is_refused() {
        let state = LogState::new();
        assert!(state.set_logfile("/nonexistent-dir/x/ringkv.log").is_err());
        assert!(state.to_stdout());
    }
}
