//! notification-script and client-reconfig-script execution (`sentinelScheduleScriptExecution`,
//! `sentinelRunPendingScripts`, `sentinelCollectTerminatedScripts`,
//! `sentinelKillTimedoutScripts`): a bounded queue, at most 16 running, exit code 1 or a signal
//! means "retry" (delay doubling from script-retry-delay, at most 10 attempts), a script
//! running longer than script-max-runtime is killed. The timer drives it; spawning is
//! fork+exec through `std::process::Command` and never waits.

use super::{mstime, Ms, Sentinel};
use crate::server::log::Level;
use std::process::{Command, Stdio};

const MAX_RUNNING: usize = 16;
const MAX_QUEUE: usize = 256;
const MAX_RETRY: u32 = 10;

pub struct ScriptJob {
    pub argv: Vec<String>,
    pub child: Option<std::process::Child>,
    /// When running: the start time; when scheduled: not before this time (0: at once).
    pub start_time: Ms,
    pub retry_num: u32,
}

impl ScriptJob {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }
}

/// Queues `argv` (script path first), dropping the oldest job that is not running when the
/// queue is full.
pub fn schedule(s: &mut Sentinel, argv: Vec<String>) {
    s.scripts.push(ScriptJob {
        argv,
        child: None,
        start_time: 0,
        retry_num: 0,
    });
    if s.scripts.len() > MAX_QUEUE {
        if let Some(i) = s.scripts.iter().position(|j| j.child.is_none()) {
            s.scripts.remove(i);
            tracing::warn!(
                "Sentinel: the script queue exceeded {MAX_QUEUE} jobs: the oldest one not running was dropped"
            );
        }
    }
}

/// Scripts must not inherit the sentinel's sockets (listener, links, clients): some of them
/// are created without close-on-exec (dup'ed listeners, io_uring accepts). The child marks every
/// descriptor above stderr close-on-exec just before exec, so std's own error pipe keeps
/// working.
fn no_inherited_fds(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    let max_fd = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur.min(65_536) as libc::c_int
    } else {
        1024
    };
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe calls (close_range / fcntl) on descriptor numbers.
    unsafe {
        cmd.pre_exec(move || {
            const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
            let r = libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
            if r != 0 {
                for fd in 3..max_fd {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            Ok(())
        });
    }
}

fn retry_delay(s: &Sentinel, retry_num: u32) -> Ms {
    let mut d = s.timings.script_retry_delay;
    for _ in 1..retry_num {
        d = d.saturating_mul(2);
    }
    d
}

/// One timer step: reap finished scripts, kill the ones over time, start pending ones.
pub fn run(s: &mut Sentinel) {
    let now = mstime();
    let mut i = 0;
    while i < s.scripts.len() {
        let done = match s.scripts[i].child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(status))) => Some(status),
            _ => None,
        };
        let Some(status) = done else {
            i += 1;
            continue;
        };
        use std::os::unix::process::ExitStatusExt;
        let signal = status.signal().unwrap_or(0);
        let code = status.code().unwrap_or(0);
        let retry_num = s.scripts[i].retry_num;
        if (signal != 0 || code == 1) && retry_num != MAX_RETRY {
            let delay = retry_delay(s, retry_num);
            let job = &mut s.scripts[i];
            job.child = None;
            job.start_time = now.saturating_add(delay);
            i += 1;
        } else {
            let job = s.scripts.remove(i);
            if signal != 0 || code != 0 {
                s.event(
                    Level::Warning,
                    "-script-error",
                    format!("{} {signal} {code}", job.argv[0]),
                );
            }
        }
    }
    let max_runtime = s.timings.script_max_runtime;
    let mut timed_out = Vec::new();
    for job in &mut s.scripts {
        if let Some(c) = job.child.as_mut() {
            if now - job.start_time > max_runtime {
                let _ = c.kill();
                timed_out.push(format!("{} {}", job.argv[0], c.id()));
                // Reaped (and retried, as killed by a signal) on a later step.
                job.start_time = now;
            }
        }
    }
    for msg in timed_out {
        s.event(Level::Warning, "-script-timeout", msg);
    }
    let mut running = s.scripts.iter().filter(|j| j.child.is_some()).count();
    for job in &mut s.scripts {
        if running >= MAX_RUNNING {
            break;
        }
        if job.child.is_some() || (job.start_time != 0 && job.start_time > now) {
            continue;
        }
        job.retry_num += 1;
        job.start_time = now;
        let mut cmd = Command::new(&job.argv[0]);
        cmd.args(&job.argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        no_inherited_fds(&mut cmd);
        match cmd.spawn() {
            Ok(c) => {
                job.child = Some(c);
                running += 1;
            }
            Err(e) => {
                tracing::warn!("Error executing script '{}': {e}", job.argv[0]);
                job.start_time = now.saturating_add(s.timings.script_retry_delay);
            }
        }
    }
    s.scripts
        .retain(|j| j.child.is_some() || j.retry_num < MAX_RETRY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_from_the_second_attempt() {
        let s = Sentinel::new(crate::config::Config::default());
        assert_eq!(retry_delay(&s, 1), 30_000);
        assert_eq!(retry_delay(&s, 2), 60_000);
        assert_eq!(retry_delay(&s, 4), 240_000);
    }
}
