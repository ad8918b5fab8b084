//! The startup lines, in Redis's order (server.c `main`), and the open-files limit.
//!
//! 1. [`log_starting`]: `oO0OoO0OoO0Oo ringkv is starting oO0OoO0OoO0Oo`
//! 2. [`log_version`]: `ringkv version=…, bits=64, commit=00000000, modified=0, pid=N, just started`
//! 3. [`log_config_source`]: `Configuration loaded` or the no-config warning
//! 4. [`adjust_open_files_limit`]: `Increased maximum number of open files to …`
//! 5. [`log_logo_or_mode`]: the logo, or `Running mode=standalone, port=6379.`
//!
//! The first three are warnings in Redis so that they show even with `loglevel warning`.
//! Redis 7.0.15 prints them with role `C` (its `server.pid` is not set yet, so they look like a
//! child's); `log::init(.., 'C')` then `log::set_role('M')` after them reproduces that exactly.
//! Real output for comparison (`redis-server --port 0 --unixsocket ...`):
//!
//! ```text
//! 23792:C 22 Nov 2026 05:39:22.279 # oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo
//! 23792:C 22 Nov 2026 05:39:22.279 # Redis version=7.0.15, bits=64, commit=00000000, modified=0, pid=23792, just started
//! 23792:C 22 Nov 2026 05:39:22.279 # Configuration loaded
//! 23792:M 22 Nov 2026 05:39:22.300 * Running mode=standalone, port=0.
//! 23792:M 22 Nov 2026 05:39:22.300 # Server initialized
//! 23792:M 22 Nov 2026 05:39:22.306 * The server is now ready to accept connections at /tmp/rs-plumb.sock
//! 23792:signal-handler (1795325962) Received SIGTERM scheduling shutdown...
//! 23792:M 22 Nov 2026 05:39:22.811 # User requested shutdown...
//! ```

use std::io::IsTerminal;

use tracing::{info, warn};

use super::log::{self, Level};

/// Redis reserves this many descriptors beyond `maxclients` (CONFIG_MIN_RESERVED_FDS).
pub const MIN_RESERVED_FDS: u64 = 32;

/// `standalone` or `sentinel` (Redis also has `cluster`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Standalone,
    Sentinel,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Standalone => "standalone",
            Mode::Sentinel => "sentinel",
        }
    }
}

pub fn log_starting() {
    warn!("oO0OoO0OoO0Oo ringkv is starting oO0OoO0OoO0Oo");
}

/// The version line. ringkv has no git sha baked in, so it reports Redis's "unknown" values.
pub fn version_line(pid: u32) -> String {
    format!(
        "ringkv version={} (Redis {} compatible), bits={}, commit=00000000, modified=0, pid={}, just started",
        crate::RINGKV_VERSION,
        crate::REDIS_VERSION,
        usize::BITS,
        pid
    )
}

pub fn log_version() {
    warn!("{}", version_line(std::process::id()));
}

/// Redis decides by `argc == 1`: any argument at all (a file or `--port`) counts as loaded.
pub fn log_config_source(any_args: bool, argv0: &str) {
    if any_args {
        warn!("Configuration loaded");
    } else {
        warn!(
            "Warning: no config file specified, using the default config. In order to specify a \
             config file use {argv0} /path/to/redis.conf"
        );
    }
}

/// What raising RLIMIT_NOFILE achieved.
#[derive(Debug, PartialEq, Eq)]
pub enum NofileOutcome {
    /// The limit was already high enough.
    Unchanged,
    /// Raised to what was asked.
    Increased { from: u64, to: u64 },
    /// Raised only to `limit` (or not at all): `maxclients` must shrink to `maxclients`.
    Reduced {
        limit: u64,
        maxclients: u64,
        errno: i32,
    },
    /// Even the reserved descriptors do not fit: Redis exits.
    Insufficient { current: u64, needed: u64 },
}

/// Redis `adjustOpenFilesLimit`'s search: try `maxclients + 32`, then step down by 16 until a
/// `setrlimit` succeeds or the old limit is reached. `set` tries one limit and returns the errno
/// on failure.
pub fn plan_nofile(
    current: u64,
    maxclients: u64,
    mut set: impl FnMut(u64) -> Result<(), i32>,
) -> NofileOutcome {
    let wanted = maxclients + MIN_RESERVED_FDS;
    if current >= wanted {
        return NofileOutcome::Unchanged;
    }
    let mut best = wanted;
    let mut errno = 0;
    while best > current {
        match set(best) {
            Ok(()) => break,
            Err(e) => errno = e,
        }
        if best < 16 {
            best = current;
            break;
        }
        best -= 16;
    }
    best = best.max(current);
    if best >= wanted {
        return NofileOutcome::Increased {
            from: current,
            to: wanted,
        };
    }
    if best <= MIN_RESERVED_FDS {
        return NofileOutcome::Insufficient {
            current,
            needed: wanted,
        };
    }
    NofileOutcome::Reduced {
        limit: best,
        maxclients: best - MIN_RESERVED_FDS,
        errno,
    }
}

/// Raises RLIMIT_NOFILE for `maxclients` and logs Redis's lines. Returns the `maxclients` to
/// use, or `Err(())` after logging when the server cannot start (Redis exits 1 there).
#[allow(clippy::result_unit_err)]
pub fn adjust_open_files_limit(maxclients: u64) -> Result<u64, ()> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into `lim` only.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == -1 {
        let err = std::io::Error::last_os_error();
        warn!(
            "Unable to obtain the current NOFILE limit ({err}), assuming 1024 and setting the \
             max clients configuration accordingly."
        );
        return Ok(1024 - MIN_RESERVED_FDS);
    }
    let outcome = plan_nofile(lim.rlim_cur, maxclients, |n| {
        let new = libc::rlimit {
            rlim_cur: n,
            rlim_max: n,
        };
        // SAFETY: setrlimit reads `new` only.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } == -1 {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            Ok(())
        }
    });
    log_nofile(&outcome, maxclients)
}

#[allow(clippy::result_unit_err)]
pub fn log_nofile(outcome: &NofileOutcome, maxclients: u64) -> Result<u64, ()> {
    match *outcome {
        NofileOutcome::Unchanged => Ok(maxclients),
        NofileOutcome::Increased { from, to } => {
            info!(
                "Increased maximum number of open files to {to} (it was originally set to {from})."
            );
            Ok(maxclients)
        }
        NofileOutcome::Insufficient { current, needed } => {
            warn!(
                "Your current 'ulimit -n' of {current} is not enough for the server to start. \
                 Please increase your open file limit to at least {needed}. Exiting."
            );
            Err(())
        }
        NofileOutcome::Reduced {
            limit,
            maxclients: reduced,
            errno,
        } => {
            let wanted = maxclients + MIN_RESERVED_FDS;
            warn!(
                "You requested maxclients of {maxclients} requiring at least {wanted} max file \
                 descriptors."
            );
            warn!(
                "Server can't set maximum open files to {wanted} because of OS error: {}.",
                strerror(errno)
            );
            warn!(
                "Current maximum open files is {limit}. maxclients has been reduced to {reduced} \
                 to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."
            );
            Ok(reduced)
        }
    }
}

/// C's strerror text (without Rust's " (os error N)" suffix), as Redis prints it.
fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Our own logo (Redis's is under its licence): a ring of keys.
pub fn logo(mode: Mode, port: u16, pid: u32) -> String {
    let version = format!(
        "ringkv {} (Redis {} compatible) {} bit",
        crate::RINGKV_VERSION,
        crate::REDIS_VERSION,
        usize::BITS
    );
    let mode = format!("Running in {} mode", mode.name());
    let port = format!("Port: {port}");
    let pid = format!("PID: {pid}");
    format!(
        "
              .-~~~~~~-.
           .'  k  v  k  '.        {version}
          /  v  .----.  v \\
         |  k  /      \\  k |      {mode}
         |  v |  ring  | v |      {port}
         |  k  \\      /  k |      {pid}
          \\  v  '----'  v /
           '.  k  v  k  .'
              '-~~~~~~-'

"
    )
}

/// Whether to draw the logo: `always-show-logo yes`, or logging to a terminal stdout.
pub fn show_logo(always_show_logo: bool) -> bool {
    always_show_logo || (log::logs_to_stdout() && std::io::stdout().is_terminal())
}

/// Draws the logo (raw, at notice level) or logs `Running mode=…, port=….`.
pub fn log_logo_or_mode(always_show_logo: bool, mode: Mode, port: u16) {
    if show_logo(always_show_logo) {
        log::raw(Level::Notice, &logo(mode, port, std::process::id()));
    } else {
        info!("Running mode={}, port={port}.", mode.name());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_line_shape() {
        let l = version_line(77);
        assert!(l.starts_with("ringkv version="), "{l}");
        assert!(l.contains("(Redis 7.0.15 compatible), bits=64, commit=00000000, modified=0, pid=77, just started"), "{l}");
    }

    #[test]
    fn nofile_already_enough() {
        assert_eq!(
            plan_nofile(65536, 10000, |_| panic!("no setrlimit needed")),
            NofileOutcome::Unchanged
        );
    }

    #[test]
    fn nofile_raised() {
        let mut tried = vec![];
        let o = plan_nofile(1024, 10000, |n| {
            tried.push(n);
            Ok(())
        });
        assert_eq!(
            o,
            NofileOutcome::Increased {
                from: 1024,
                to: 10032
            }
        );
        assert_eq!(tried, vec![10032]);
        assert_eq!(log_nofile(&o, 10000), Ok(10000));
    }

    #[test]
    fn nofile_capped_by_hard_limit() {
        // Hard limit 4096: every attempt above it fails with EPERM.
        let o = plan_nofile(1024, 10000, |n| {
            if n <= 4096 {
                Ok(())
            } else {
                Err(libc::EPERM)
            }
        });
        assert_eq!(
            o,
            NofileOutcome::Reduced {
                limit: 4096,
                maxclients: 4064,
                errno: libc::EPERM
            }
        );
        assert_eq!(log_nofile(&o, 10000), Ok(4064));
        assert_eq!(strerror(libc::EPERM), "Operation not permitted");
    }

    #[test]
    fn nofile_cannot_raise_at_all() {
        let o = plan_nofile(20, 10000, |_| Err(libc::EPERM));
        assert_eq!(
            o,
            NofileOutcome::Insufficient {
                current: 20,
                needed: 10032
            }
        );
        assert_eq!(log_nofile(&o, 10000), Err(()));
    }

    #[test]
    fn logo_carries_mode_port_pid() {
        let l = logo(Mode::Sentinel, 26379, 99);
        assert!(l.contains("Running in sentinel mode"));
        assert!(l.contains("Port: 26379"));
        assert!(l.contains("PID: 99"));
        assert!(l.contains("Redis 7.0.15 compatible"));
        assert!(l.ends_with("\n\n"));
    }
}
