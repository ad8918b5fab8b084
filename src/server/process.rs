//! Daemonizing and the pid file (Redis `daemonize`, `createPidFile`, `finishShutdown`).
//!
//! `daemonize` forks, so it must run while the process has a single thread: before glommio
//! executors, the signal thread, or anything else spawns threads. It checks that and refuses
//! otherwise, because a fork taken while another thread holds the allocator lock deadlocks the
//! child.

use std::io;
use std::path::Path;

use tracing::info;

/// The pid file Redis uses when daemonized without `pidfile` (CONFIG_DEFAULT_PID_FILE).
pub const DEFAULT_PIDFILE: &str = "/var/run/redis.pid";

/// Number of threads in this process, from /proc/self/status.
pub fn thread_count() -> io::Result<usize> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no Threads: line in /proc/self/status"))
}

/// Forks into the background: the parent exits 0, the child starts a new session and points
/// stdin/stdout/stderr at /dev/null (so `logfile ""` logs nowhere, as in Redis).
pub fn daemonize() -> io::Result<()> {
    let threads = thread_count()?;
    if threads != 1 {
        return Err(io::Error::other(format!(
            "daemonize must run before any thread starts ({threads} threads running)"
        )));
    }
    daemonize_unchecked()
}

fn daemonize_unchecked() -> io::Result<()> {
    // SAFETY: the process is single-threaded (checked by the caller), so the child inherits no
    // lock held by another thread.
    match unsafe { libc::fork() } {
        -1 => return Err(io::Error::last_os_error()),
        0 => {}
        // SAFETY: the parent leaves without running destructors or atexit handlers of the
        // child's state; _exit skips flushing stdio buffers the child now owns too.
        _ => unsafe { libc::_exit(0) },
    }
    // SAFETY: setsid has no memory effects; failure (already a group leader) cannot happen in
    // a fresh child and would be harmless.
    unsafe { libc::setsid() };
    let devnull = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    use std::os::fd::AsRawFd;
    for fd in [libc::STDIN_FILENO, libc::STDOUT_FILENO, libc::STDERR_FILENO] {
        // SAFETY: dup2 onto the standard descriptors, which we own.
        if unsafe { libc::dup2(devnull.as_raw_fd(), fd) } == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    super::log::mark_daemonized();
    Ok(())
}

/// Redis's pidfile rule: the configured `pidfile`, or the default one when daemonized, or
/// none; written at once (a failure is logged, not fatal, as in Redis). Returns the path to
/// remove at exit.
pub fn create_pidfile(configured: &str, daemonized: bool) -> Option<std::path::PathBuf> {
    let path = if !configured.is_empty() {
        std::path::PathBuf::from(configured)
    } else if daemonized {
        std::path::PathBuf::from(DEFAULT_PIDFILE)
    } else {
        return None;
    };
    if let Err(e) = write_pidfile(&path) {
        tracing::warn!("Failed to write PID file: {e}");
    }
    Some(path)
}

/// Writes `"<pid>\n"` to `path`. Redis does this best-effort; the error is returned so the
/// caller can decide (and log) rather than failing silently.
pub fn write_pidfile(path: &Path) -> io::Result<()> {
    std::fs::write(path, format!("{}\n", std::process::id()))
}

/// Removes the pid file at shutdown, logging Redis's line. A missing file is not an error.
pub fn remove_pidfile(path: &Path) -> io::Result<()> {
    info!("Removing the pid file.");
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn pidfile_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ringkv.pid");
        write_pidfile(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            format!("{}\n", std::process::id())
        );
        remove_pidfile(&p).unwrap();
        assert!(!p.exists());
        remove_pidfile(&p).unwrap();
    }

    #[test]
    fn daemonize_refuses_with_threads() {
        // The test harness runs us on a worker thread, so there are at least two.
        let err = daemonize().unwrap_err();
        assert!(
            err.to_string().contains("before any thread starts"),
            "{err}"
        );
    }

    /// Runs in a re-executed copy of the test binary (see `daemonize_detaches`).
    #[test]
    #[ignore = "helper run in a child process"]
    fn daemonize_child_helper() {
        let Ok(out) = std::env::var("RINGKV_DAEMON_PIDFILE") else {
            return;
        };
        daemonize_unchecked().unwrap();
        // SAFETY: getsid(0) only reads our session id.
        let sid = unsafe { libc::getsid(0) };
        let pid = std::process::id();
        let stdout_is_null = std::fs::read_link("/proc/self/fd/1")
            .map(|p| p == Path::new("/dev/null"))
            .unwrap_or(false);
        std::fs::write(&out, format!("{pid} {sid} {stdout_is_null}\n")).unwrap();
        // Exit before the harness prints anything into /dev/null.
        std::process::exit(0);
    }

    #[test]
    fn daemonize_detaches() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("daemon.txt");
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new(exe)
            .args([
                "--exact",
                "server::process::tests::daemonize_child_helper",
                "--ignored",
                "--test-threads=1",
            ])
            .env("RINGKV_DAEMON_PIDFILE", &out)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let child_pid = child.id();
        // The parent half of the fork exits 0 right away.
        assert!(child.wait().unwrap().success());
        let mut text = String::new();
        for _ in 0..200 {
            if let Ok(t) = std::fs::read_to_string(&out) {
                if t.ends_with('\n') {
                    text = t;
                    break;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        let f: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(f.len(), 3, "daemon wrote {text:?}");
        let (pid, sid): (u32, u32) = (f[0].parse().unwrap(), f[1].parse().unwrap());
        assert_ne!(pid, child_pid, "the daemon is the forked grandchild");
        assert_eq!(pid, sid, "the daemon leads its own session");
        assert_eq!(f[2], "true", "stdout goes to /dev/null");
    }
}
