//! Turning io_uring / glommio executor start-up failures into advice an operator can act on.
//!
//! The usual causes (conventions.md "io_uring deployment"): a low `ulimit -l` (glommio refuses
//! below 512 KiB; older kernels answer ENOMEM at ring setup), Docker's default seccomp profile
//! blocking `io_uring_*` (EPERM), the `kernel.io_uring_disabled` sysctl (EPERM), and kernels
//! without io_uring (ENOSYS). glommio reports these only when the executor thread is joined
//! (glommio-notes §1), so [`probe_executor`] starts and joins a throwaway executor up front.

use std::fmt::Display;

/// Current soft RLIMIT_MEMLOCK in bytes (`None` = unlimited or unknown).
fn memlock_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into `lim` only.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } == -1
        || lim.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    Some(lim.rlim_cur)
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

const MEMLOCK_FIX: &str = "Raise the locked-memory limit: `ulimit -l unlimited` (or at least \
    `ulimit -l 65536`) in the shell, `LimitMEMLOCK=infinity` in the systemd unit, \
    `--ulimit memlock=-1` for `docker run` (`ulimits: memlock: -1` in compose), or a `memlock` \
    line in /etc/security/limits.conf.";

/// An actionable explanation of an executor start-up error (the error's Display text).
pub fn explain_executor_error(err: &dyn Display) -> String {
    let text = err.to_string();
    let lower = text.to_ascii_lowercase();
    let has = |needle: &str| lower.contains(needle);
    let advice = if has("memlock") {
        let current = memlock_limit()
            .map(|b| format!("{} KiB", b / 1024))
            .unwrap_or_else(|| "unlimited".into());
        format!(
            "io_uring needs locked memory, and the RLIMIT_MEMLOCK limit ({current}) is below \
             the 512 KiB each executor needs. {MEMLOCK_FIX}"
        )
    } else if has("os error 12") || has("cannot allocate memory") {
        format!(
            "io_uring ring setup ran out of locked memory (ENOMEM); kernels before 5.12 charge \
             rings to RLIMIT_MEMLOCK. {MEMLOCK_FIX}"
        )
    } else if has("os error 1)") || has("operation not permitted") {
        let sysctl = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
            .map(|v| format!(" (it is {} here)", v.trim()))
            .unwrap_or_default();
        format!(
            "the kernel refused io_uring_setup (EPERM). Inside a container this is the default \
             seccomp profile of Docker 25+/containerd, which blocks io_uring: run with \
             `--security-opt seccomp=unconfined` or a profile that allows io_uring_setup, \
             io_uring_enter and io_uring_register. On the host, check the sysctl \
             `kernel.io_uring_disabled`{sysctl}: 0 allows io_uring, 1 restricts it to the \
             `kernel.io_uring_group` group, 2 disables it."
        )
    } else if has("os error 38") || has("function not implemented") {
        format!(
            "this kernel ({}) has no io_uring (ENOSYS). ringkv needs Linux 5.8 or newer with \
             CONFIG_IO_URING enabled (gVisor and some sandboxes do not provide it).",
            kernel_release()
        )
    } else {
        "could not start an io_uring executor. Check `ulimit -l` (needs at least 512 KiB per \
         executor), container seccomp profiles (`--security-opt seccomp=unconfined`) and the \
         kernel.io_uring_disabled sysctl."
            .to_string()
    };
    format!("Failed to start the I/O executor: {text}. {advice}")
}

/// Starts and joins a minimal glommio executor, so that io_uring problems are reported before
/// the shards start. Returns the explained error on failure.
pub fn probe_executor() -> Result<(), String> {
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(64 << 10)
        .spawn(|| async {})
        .and_then(|h| h.join())
        .map_err(|e| explain_executor_error(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    #[test]
    fn eperm_points_at_seccomp_and_sysctl() {
        let e = glommio::GlommioError::<()>::IoError(io::Error::from_raw_os_error(libc::EPERM));
        let m = explain_executor_error(&e);
        assert!(m.contains("Operation not permitted"), "{m}");
        assert!(m.contains("--security-opt seccomp=unconfined"), "{m}");
        assert!(m.contains("kernel.io_uring_disabled"), "{m}");
    }

    #[test]
    fn enosys_points_at_kernel() {
        let e = glommio::GlommioError::<()>::IoError(io::Error::from_raw_os_error(libc::ENOSYS));
        let m = explain_executor_error(&e);
        assert!(m.contains("no io_uring (ENOSYS)"), "{m}");
        assert!(m.contains("5.8"), "{m}");
    }

    #[test]
    fn enomem_points_at_memlock() {
        let e = glommio::GlommioError::<()>::IoError(io::Error::from_raw_os_error(libc::ENOMEM));
        let m = explain_executor_error(&e);
        assert!(m.contains("LimitMEMLOCK=infinity"), "{m}");
        assert!(m.contains("--ulimit memlock=-1"), "{m}");
    }

    /// Runs in a child whose RLIMIT_MEMLOCK the parent lowered (see `low_memlock_is_explained`).
    #[test]
    #[ignore = "helper run in a child process"]
    fn low_memlock_child_helper() {
        if std::env::var_os("RINGKV_MEMLOCK_CHILD").is_none() {
            return;
        }
        match probe_executor() {
            Ok(()) => println!("PROBE-OK"),
            Err(m) => println!("PROBE-ERR {m}"),
        }
    }

    #[test]
    fn low_memlock_is_explained() {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = Command::new(exe);
        cmd.args([
            "--exact",
            "server::uring::tests::low_memlock_child_helper",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RINGKV_MEMLOCK_CHILD", "1");
        // SAFETY: setrlimit is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: 256 * 1024,
                    rlim_max: 256 * 1024,
                };
                if libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.find("PROBE-").map(|i| &l[i..]))
            .unwrap_or_default();
        assert!(line.starts_with("PROBE-ERR "), "child said: {stdout}");
        // glommio's own text, as it surfaces at join().
        assert!(line.contains("MemLockLimit(262144/524288)"), "{line}");
        assert!(line.contains("(256 KiB)"), "{line}");
        assert!(line.contains("ulimit -l"), "{line}");
        assert!(line.contains("LimitMEMLOCK=infinity"), "{line}");
        assert!(line.contains("--ulimit memlock=-1"), "{line}");
    }

    #[test]
    fn probe_succeeds_here() {
        probe_executor().unwrap();
    }
}
