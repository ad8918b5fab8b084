//! SIGTERM/SIGINT → orderly shutdown; SIGHUP and SIGPIPE ignored (Redis `setupSignalHandlers`).
//!
//! glommio has no signal API, so a plain thread blocks in `signal_hook`'s iterator and rings a
//! "bell": it records the signal number and wakes every executor task that awaits
//! [`ShutdownSignal::wait`] (glommio-notes §5). The thread, not a real handler, does the logging,
//! so it may allocate and take locks.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Poll, Waker};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::log::{self, Level};

/// The process-wide shutdown request: which signal (or SHUTDOWN path) asked, and who to wake.
pub struct ShutdownSignal {
    /// 0 while no shutdown is requested, else the signal number (Redis `last_sig_received`).
    requested: AtomicI32,
    /// Redis words the first line differently while the dataset is loading.
    loading: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
    /// Run before `exit(1)` on a second SIGINT (Redis removes its temp RDB file there).
    force_exit_hook: Mutex<Option<ForceExitHook>>,
}

type ForceExitHook = Box<dyn Fn() + Send + Sync>;

static INSTALLED: OnceLock<Arc<ShutdownSignal>> = OnceLock::new();

impl Default for ShutdownSignal {
    fn default() -> Self {
        ShutdownSignal::new()
    }
}

impl ShutdownSignal {
    /// A bell not connected to any signal (tests, or a process that wires signals itself).
    pub fn new() -> ShutdownSignal {
        ShutdownSignal {
            requested: AtomicI32::new(0),
            loading: AtomicBool::new(false),
            wakers: Mutex::new(Vec::new()),
            force_exit_hook: Mutex::new(None),
        }
    }

    /// Ignores SIGHUP and SIGPIPE and starts the thread that turns SIGTERM/SIGINT into a
    /// shutdown request. Idempotent: a second call returns the same bell.
    pub fn install() -> io::Result<Arc<ShutdownSignal>> {
        if let Some(bell) = INSTALLED.get() {
            return Ok(bell.clone());
        }
        // SAFETY: installing SIG_IGN has no handler code to be unsafe in.
        unsafe {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        let mut signals = Signals::new([SIGTERM, SIGINT])?;
        let bell = Arc::new(ShutdownSignal::new());
        let ours = INSTALLED.get_or_init(|| bell.clone()).clone();
        let thread_bell = ours.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    thread_bell.on_signal(sig);
                }
            })?;
        Ok(ours)
    }

    /// The signal number that requested shutdown, if any.
    pub fn requested(&self) -> Option<i32> {
        match self.requested.load(Ordering::SeqCst) {
            0 => None,
            sig => Some(sig),
        }
    }

    /// Requests shutdown (first request wins the recorded number) and wakes all waiters.
    pub fn request(&self, sig: i32) {
        // 0 means "none", so a caller passing 0 still counts as a request.
        let sig = if sig == 0 { SIGTERM } else { sig };
        let _ = self
            .requested
            .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|p| p.into_inner()));
        for w in wakers {
            w.wake();
        }
    }

    /// Calls off a requested shutdown whose final save failed (Redis keeps serving then).
    pub fn cancel(&self) {
        self.requested.store(0, Ordering::SeqCst);
    }

    /// Tells the signal thread whether the dataset is loading (changes the log wording).
    pub fn set_loading(&self, loading: bool) {
        self.loading.store(loading, Ordering::Relaxed);
    }

    /// Cleanup to run when a second SIGINT makes the process exit at once (e.g. removing a
    /// half-written `temp-<pid>.rdb`). It runs on the signal thread; keep it short.
    pub fn set_force_exit_hook(&self, hook: impl Fn() + Send + Sync + 'static) {
        *self
            .force_exit_hook
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Box::new(hook));
    }

    /// Resolves with the signal number once shutdown is requested. Works from any executor or
    /// thread: it registers its waker, then re-checks the flag, so a concurrent request is never
    /// missed.
    pub fn wait(&self) -> impl Future<Output = i32> + '_ {
        std::future::poll_fn(move |cx| {
            if let Some(sig) = self.requested() {
                return Poll::Ready(sig);
            }
            {
                let mut wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
                if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    wakers.push(cx.waker().clone());
                }
            }
            match self.requested() {
                Some(sig) => Poll::Ready(sig),
                None => Poll::Pending,
            }
        })
    }

    /// What the signal thread does (Redis `sigShutdownHandler`): a second SIGINT during a
    /// pending shutdown exits at once with status 1.
    fn on_signal(&self, sig: i32) {
        match shutdown_action(
            sig,
            self.requested().is_some(),
            self.loading.load(Ordering::Relaxed),
        ) {
            SignalAction::ExitNow(msg) => {
                log::from_signal_handler(Level::Warning, msg);
                if let Some(hook) = &*self
                    .force_exit_hook
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                {
                    hook();
                }
                // Not a clean shutdown, hence status 1 (Redis does the same).
                std::process::exit(1);
            }
            SignalAction::Schedule(msg) => {
                log::from_signal_handler(Level::Warning, msg);
                self.request(sig);
            }
        }
    }
}

/// The decision `sigShutdownHandler` makes, separated so it can be tested without exiting.
#[derive(Debug, PartialEq, Eq)]
pub enum SignalAction {
    Schedule(&'static str),
    ExitNow(&'static str),
}

pub fn shutdown_action(sig: i32, already_requested: bool, loading: bool) -> SignalAction {
    if already_requested && sig == SIGINT {
        return SignalAction::ExitNow("You insist... exiting now.");
    }
    if loading {
        return SignalAction::Schedule(
            "Received shutdown signal during loading, scheduling shutdown.",
        );
    }
    SignalAction::Schedule(match sig {
        SIGINT => "Received SIGINT scheduling shutdown...",
        SIGTERM => "Received SIGTERM scheduling shutdown...",
        _ => "Received shutdown signal, scheduling shutdown...",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn redis_wording_and_second_sigint() {
        assert_eq!(
            shutdown_action(SIGTERM, false, false),
            SignalAction::Schedule("Received SIGTERM scheduling shutdown...")
        );
        assert_eq!(
            shutdown_action(SIGINT, false, false),
            SignalAction::Schedule("Received SIGINT scheduling shutdown...")
        );
        assert_eq!(
            shutdown_action(SIGINT, true, false),
            SignalAction::ExitNow("You insist... exiting now.")
        );
        // A second SIGTERM just schedules again.
        assert!(matches!(
            shutdown_action(SIGTERM, true, false),
            SignalAction::Schedule(_)
        ));
        assert_eq!(
            shutdown_action(SIGTERM, false, true),
            SignalAction::Schedule("Received shutdown signal during loading, scheduling shutdown.")
        );
    }

    #[test]
    fn first_request_wins_and_wakes_waiters() {
        let bell = Arc::new(ShutdownSignal::new());
        assert_eq!(bell.requested(), None);
        let b2 = bell.clone();
        let waiter = std::thread::spawn(move || futures_lite::future::block_on(b2.wait()));
        std::thread::sleep(Duration::from_millis(20));
        bell.request(SIGINT);
        bell.request(SIGTERM);
        assert_eq!(waiter.join().unwrap(), SIGINT);
        assert_eq!(bell.requested(), Some(SIGINT));
        // Awaiting after the fact resolves immediately.
        assert_eq!(futures_lite::future::block_on(bell.wait()), SIGINT);
    }

    #[test]
    fn glommio_executor_wakes_on_foreign_request() {
        let bell = Arc::new(ShutdownSignal::new());
        let b2 = bell.clone();
        let handle = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .io_memory(1 << 20)
            .spawn(move || async move { b2.wait().await })
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        bell.request(SIGTERM);
        assert_eq!(handle.join().unwrap(), SIGTERM);
    }

    #[test]
    fn real_sigterm_is_caught_not_fatal() {
        let bell = ShutdownSignal::install().unwrap();
        assert!(Arc::ptr_eq(&bell, &ShutdownSignal::install().unwrap()));
        // SAFETY: sending a signal to ourselves; the handler above keeps it from killing us.
        unsafe { libc::kill(libc::getpid(), SIGTERM) };
        assert_eq!(futures_lite::future::block_on(bell.wait()), SIGTERM);
    }

    /// Runs in a re-executed copy of the test binary (see `second_sigint_exits_1`).
    #[test]
    #[ignore = "helper run in a child process"]
    fn second_sigint_child_helper() {
        let Ok(marker) = std::env::var("RINGKV_SIGINT_MARKER") else {
            return;
        };
        let bell = ShutdownSignal::install().unwrap();
        bell.set_force_exit_hook(move || {
            let _ = std::fs::write(&marker, "hook ran");
        });
        // SAFETY: signals to ourselves, caught by the signal thread.
        unsafe { libc::kill(libc::getpid(), SIGINT) };
        assert_eq!(futures_lite::future::block_on(bell.wait()), SIGINT);
        unsafe { libc::kill(libc::getpid(), SIGINT) };
        std::thread::sleep(Duration::from_secs(10));
    }

    #[test]
    fn second_sigint_exits_1() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("marker");
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "server::signals::tests::second_sigint_child_helper",
                "--ignored",
                "--test-threads=1",
            ])
            .env("RINGKV_SIGINT_MARKER", &marker)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), "hook ran");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let logged: Vec<&str> = stdout
            .lines()
            .filter_map(|l| l.split_once(":signal-handler (").map(|(_, r)| r))
            .filter_map(|r| r.split_once(") ").map(|(_, m)| m))
            .collect();
        assert_eq!(
            logged,
            [
                "Received SIGINT scheduling shutdown...",
                "You insist... exiting now."
            ],
            "{stdout}"
        );
    }
}
