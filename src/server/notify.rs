//! `supervised no|upstart|systemd|auto` and sd_notify without libsystemd.
//!
//! The systemd notify protocol is one datagram of `KEY=VALUE\n` lines sent to the unix socket
//! named by `$NOTIFY_SOCKET`; a leading `@` names a Linux abstract socket. That is all
//! `sd_notify(3)` does for us, so we speak it directly.
//!
//! Redis's messages (server.c): `STATUS=Redis is loading...` when supervision starts,
//! `STATUS=Ready to accept connections` (a replica: `... in read-only mode. Waiting for MASTER
//! <-> REPLICA sync`) then `READY=1` once data is loaded, and `STOPPING=1` when shutdown begins.
//! Each is its own datagram, as Redis sends them.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use tracing::{debug, info, warn};

pub const STATUS_LOADING: &str = "STATUS=ringkv is loading...\n";
pub const STATUS_READY: &str = "STATUS=Ready to accept connections\n";
pub const STATUS_READY_REPLICA: &str =
    "STATUS=Ready to accept connections in read-only mode. Waiting for MASTER <-> REPLICA sync\n";
pub const READY: &str = "READY=1\n";
pub const STOPPING: &str = "STOPPING=1\n";

/// The `supervised` directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupervisedMode {
    No,
    Upstart,
    Systemd,
    Auto,
}

/// Sends `msg` to `$NOTIFY_SOCKET`. `Ok(false)` when the variable is unset (not supervised by
/// systemd), `Ok(true)` when the datagram went out.
pub fn sd_notify(msg: &str) -> io::Result<bool> {
    match std::env::var_os("NOTIFY_SOCKET") {
        None => Ok(false),
        Some(sock) => {
            let sock = sock
                .into_string()
                .map_err(|_| io::Error::other("NOTIFY_SOCKET is not UTF-8"))?;
            notify_socket_send(&sock, msg).map(|()| true)
        }
    }
}

/// Sends one notify datagram to `socket` (a path, or `@name` for an abstract socket).
pub fn notify_socket_send(socket: &str, msg: &str) -> io::Result<()> {
    let addr = match socket.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())?
        }
        None => SocketAddr::from_pathname(socket)?,
    };
    let sock = UnixDatagram::unbound()?;
    let sent = sock.send_to_addr(msg.as_bytes(), &addr)?;
    if sent != msg.len() {
        return Err(io::Error::other("short write to NOTIFY_SOCKET"));
    }
    Ok(())
}

/// Sends a notify message when supervised by systemd, logging failures the way Redis's
/// `redisCommunicateSystemd` does. Returns whether it was delivered.
pub fn communicate_systemd(msg: &str) -> bool {
    match sd_notify(msg) {
        Ok(true) => true,
        Ok(false) => {
            warn!("systemd supervision error: NOTIFY_SOCKET not found!");
            false
        }
        Err(e) => {
            warn!("systemd supervision error: sd_notify: {e}");
            false
        }
    }
}

/// Resolves `supervised` at startup (Redis `redisIsSupervised`): `auto` picks upstart when
/// `UPSTART_JOB` is set, else systemd when `NOTIFY_SOCKET` is. Returns the mode in effect
/// (`No` when supervision could not be set up). Call it before daemonizing: a supervised
/// server does not fork.
///
/// For upstart this stops the process with SIGSTOP, which is upstart's readiness protocol
/// (`expect stop`); it also unsets `UPSTART_JOB`, so it must run while single-threaded.
pub fn resolve_supervised(mode: SupervisedMode) -> SupervisedMode {
    let mode = match mode {
        SupervisedMode::Auto => {
            if std::env::var_os("UPSTART_JOB").is_some() {
                debug!("Upstart supervision detected.");
                SupervisedMode::Upstart
            } else if std::env::var_os("NOTIFY_SOCKET").is_some() {
                debug!("Systemd supervision detected.");
                SupervisedMode::Systemd
            } else {
                SupervisedMode::No
            }
        }
        m => m,
    };
    match mode {
        SupervisedMode::Upstart => {
            if std::env::var_os("UPSTART_JOB").is_none() {
                warn!("upstart supervision requested, but UPSTART_JOB not found!");
                return SupervisedMode::No;
            }
            info!("supervised by upstart, will stop to signal readiness.");
            // SAFETY: raise only delivers a signal to ourselves; remove_var runs while the
            // process is single-threaded (documented precondition).
            unsafe {
                libc::raise(libc::SIGSTOP);
                std::env::remove_var("UPSTART_JOB");
            }
            SupervisedMode::Upstart
        }
        SupervisedMode::Systemd => {
            if !communicate_systemd(STATUS_LOADING) {
                return SupervisedMode::No;
            }
            info!(
                "Supervised by systemd. Please make sure you set appropriate values for \
                 TimeoutStartSec and TimeoutStopSec in your service unit."
            );
            SupervisedMode::Systemd
        }
        _ => SupervisedMode::No,
    }
}

/// The readiness notification Redis sends once data is loaded and listeners are up.
pub fn notify_ready(is_replica: bool) {
    communicate_systemd(if is_replica {
        STATUS_READY_REPLICA
    } else {
        STATUS_READY
    });
    communicate_systemd(READY);
}

/// Sent when shutdown begins (right after `User requested shutdown...`).
pub fn notify_stopping() {
    communicate_systemd(STOPPING);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn recv(sock: &UnixDatagram) -> String {
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn notify_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let p = path.to_str().unwrap();
        notify_socket_send(p, STATUS_READY).unwrap();
        notify_socket_send(p, READY).unwrap();
        notify_socket_send(p, STOPPING).unwrap();
        assert_eq!(recv(&server), "STATUS=Ready to accept connections\n");
        assert_eq!(recv(&server), "READY=1\n");
        assert_eq!(recv(&server), "STOPPING=1\n");
    }

    #[test]
    fn notify_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("ringkv-test-notify-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        notify_socket_send(&format!("@{name}"), READY).unwrap();
        assert_eq!(recv(&server), "READY=1\n");
    }

    #[test]
    fn notify_to_missing_socket_fails() {
        assert!(notify_socket_send("/nonexistent/notify.sock", READY).is_err());
    }

    /// Runs in a re-executed copy of the test binary with NOTIFY_SOCKET set by the parent
    /// (changing the environment inside a multi-threaded test process would be racy).
    #[test]
    #[ignore = "helper run in a child process"]
    fn supervised_child_helper() {
        if std::env::var_os("RINGKV_NOTIFY_CHILD").is_none() {
            return;
        }
        assert_eq!(
            resolve_supervised(SupervisedMode::Auto),
            SupervisedMode::Systemd
        );
        notify_ready(true);
        notify_stopping();
    }

    #[test]
    fn auto_detects_systemd_and_sends_redis_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "server::notify::tests::supervised_child_helper",
                "--ignored",
                "--test-threads=1",
            ])
            .env("RINGKV_NOTIFY_CHILD", "1")
            .env("NOTIFY_SOCKET", &path)
            .env_remove("UPSTART_JOB")
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let got: Vec<String> = (0..4).map(|_| recv(&server)).collect();
        assert_eq!(got, [STATUS_LOADING, STATUS_READY_REPLICA, READY, STOPPING]);
    }

    #[test]
    fn no_supervision_without_environment() {
        // `supervised no` never looks at the environment.
        assert_eq!(resolve_supervised(SupervisedMode::No), SupervisedMode::No);
    }
}
