//! Process wiring for sentinel mode, in redis-server's order: config (mandatory and writable),
//! daemonize, logging (role `X`), pidfile, listener, one executor running the accept loop and
//! the sentinel timer; `Sentinel ID is ...` and `+monitor` per master; wait for shutdown.

use super::{config, failover, random_id, with_state, Loc, Sentinel};
use crate::config::{Argv, Config, ConfigSource, LogLevel};
use crate::server::log;
use crate::server::{banner, process, ShutdownSignal};
use crate::shard::runtime;
use crate::shard::Shared;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Entry point of `ringkv-sentinel` (argv as redis-sentinel takes it).
pub fn main_entry() -> i32 {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if !args.iter().skip(1).any(|a| a == "--sentinel") {
        args.push("--sentinel".into());
    }
    match crate::config::parse_argv(args) {
        Argv::Version(v) => {
            println!("{v}");
            0
        }
        Argv::Help(h) => {
            eprintln!("{h}");
            1
        }
        Argv::Run(src) => run_from(&src),
    }
}

fn log_level(l: LogLevel) -> log::Level {
    match l {
        LogLevel::Debug => log::Level::Debug,
        LogLevel::Verbose => log::Level::Verbose,
        LogLevel::Notice => log::Level::Notice,
        LogLevel::Warning => log::Level::Warning,
        LogLevel::Nothing => log::Level::Nothing,
    }
}

/// Whether the config text sets `name` itself (so sentinel's own default must not apply).
fn sets_directive(src: &ConfigSource, name: &str) -> bool {
    let mut text = Vec::new();
    if let Some(f) = &src.file {
        text = std::fs::read(f).unwrap_or_default();
    }
    text.push(b'\n');
    text.extend_from_slice(src.overrides.as_bytes());
    String::from_utf8_lossy(&text).lines().any(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case(name))
    })
}

/// Sentinel mode for a parsed argv (also used by `ringkv-server ... --sentinel`).
pub fn run_from(src: &ConfigSource) -> i32 {
    let mut cfg = match Config::load(src) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return 1;
        }
    };
    // Sentinel's defaults differ from the data node's (initSentinelConfig).
    if !sets_directive(src, "port") {
        let _ = cfg.set(&[b"port", b"26379"]);
    }
    if !sets_directive(src, "protected-mode") {
        let _ = cfg.set(&[b"protected-mode", b"no"]);
    }
    cfg.shards = 1;
    // Redis applies `dir` (chdir) while reading the file, so relative paths in sentinel lines
    // (scripts) and in logfile/pidfile are relative to it: change directory before using them.
    if let Err(e) = std::env::set_current_dir(&cfg.dir) {
        eprintln!("Can't chdir to '{}': {e}", cfg.dir.display());
        return 1;
    }
    let mut state = Sentinel::new(cfg.clone());
    if let Err(e) = config::apply(&mut state, &cfg.sentinel_lines) {
        eprint!("{e}");
        return 1;
    }
    use crate::server::notify::{self, SupervisedMode};
    let supervised = notify::resolve_supervised(match cfg.supervised {
        crate::config::Supervised::No => SupervisedMode::No,
        crate::config::Supervised::Upstart => SupervisedMode::Upstart,
        crate::config::Supervised::Systemd => SupervisedMode::Systemd,
        crate::config::Supervised::Auto => SupervisedMode::Auto,
    });
    let daemonized = cfg.daemonize && supervised == SupervisedMode::No;
    if daemonized {
        if let Err(e) = process::daemonize() {
            eprintln!("Can't daemonize: {e}");
            return 1;
        }
    }
    if let Err(e) = log::init(log_level(cfg.loglevel), &cfg.logfile, 'X') {
        eprintln!("Can't open the log file: {e}");
        return 1;
    }
    // sentinelCheckConfigFile, before the startup lines as in redis-server.
    match &cfg.config_file {
        None => {
            tracing::warn!("Sentinel needs config file on disk to save state. Exiting...");
            return 1;
        }
        Some(p) => {
            let c = std::ffi::CString::new(p.display().to_string()).unwrap_or_default();
            // SAFETY: access() only reads the NUL-terminated path.
            if unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0 {
                let e = std::io::Error::last_os_error();
                let msg = e.to_string();
                let msg = msg
                    .split(" (os error")
                    .next()
                    .unwrap_or_default()
                    .to_string();
                tracing::warn!(
                    "Sentinel config file {} is not writable: {msg}. Exiting...",
                    p.display()
                );
                return 1;
            }
        }
    }
    banner::log_starting();
    banner::log_version();
    tracing::warn!("Configuration loaded");
    let pidfile = process::create_pidfile(&cfg.pidfile, daemonized);
    let signal = match ShutdownSignal::install() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("Can't install signal handlers: {e}");
            return 1;
        }
    };
    let listeners = match crate::server::node::bind_all(&cfg) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("{e}");
            return 1;
        }
    };
    banner::log_logo_or_mode(cfg.always_show_logo, banner::Mode::Sentinel, cfg.port);
    // ACLLoadUsersAtStartup: `requirepass` first, then the `user` lines.
    let mut acl = super::acl::Acl::new(cfg.requirepass.as_deref());
    for (name, value) in cfg.get(&[b"acl-pubsub-default", b"acllog-max-len", b"aclfile"]) {
        match name.as_str() {
            "acl-pubsub-default" => acl.pubsub_default_all = value == "allchannels",
            "aclfile" => acl.aclfile = Some(value).filter(|v| !v.is_empty()),
            _ => acl.log_max_len = value.parse().unwrap_or(128),
        }
    }
    if acl.aclfile.is_some() && !cfg.users.is_empty() {
        tracing::warn!("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.");
        return 1;
    }
    if let Err(e) = acl.load_config_users(&cfg.users) {
        tracing::warn!("{e}");
        tracing::warn!("Critical error while loading ACLs. Exiting.");
        return 1;
    }
    if acl.aclfile.is_some() {
        if let Err(e) = acl.load_file() {
            tracing::warn!("Aborting Redis startup because of ACL errors: {e}");
            return 1;
        }
    } else {
        state.user_lines = acl.config_lines();
    }
    let acl = Arc::new(std::sync::Mutex::new(Some(acl)));
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let shared = Arc::new(Shared::new(cfg, exe, signal.clone()));
    // The state is built on the executor thread (it is Rc-based); the parsed config travels
    // there as a plain value.
    let state = Arc::new(std::sync::Mutex::new(Some(state)));
    let factory = move || {
        let seed = state.lock().ok().and_then(|mut g| g.take());
        let mut s = seed.unwrap_or_else(|| Sentinel::new(Config::default()));
        let first_start = s.myid.is_empty();
        if first_start {
            s.myid = random_id();
            s.flush_config();
        }
        tracing::warn!("Sentinel ID is {}", s.myid);
        let st = Rc::new(RefCell::new(s));
        with_state(&st, |s| {
            for mi in 0..s.masters.len() {
                let d = s.describe(Loc::Master(mi));
                let q = s.masters[mi].quorum;
                s.event(log::Level::Warning, "+monitor", format!("{d} quorum {q}"));
            }
        });
        glommio::spawn_local(failover::timer(st.clone())).detach();
        let acl = acl
            .lock()
            .ok()
            .and_then(|mut g| g.take())
            .unwrap_or_else(|| super::acl::Acl::new(st.borrow().config.requirepass.as_deref()));
        super::commands::SentinelEngine {
            st,
            acl: RefCell::new(acl),
            subscribers: RefCell::default(),
            tracking: RefCell::default(),
        }
    };
    let _running = match runtime::start(shared.clone(), listeners, factory) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("{e}");
            return 1;
        }
    };
    if supervised == SupervisedMode::Systemd {
        notify::notify_ready(false);
    }
    while signal.requested().is_none() {
        std::thread::sleep(Duration::from_millis(100));
    }
    shared.shutting_down.store(true, Ordering::Relaxed);
    tracing::warn!("User requested shutdown...");
    if supervised == SupervisedMode::Systemd {
        notify::notify_stopping();
    }
    if let Some(p) = &pidfile {
        let _ = process::remove_pidfile(p);
    }
    tracing::warn!("Sentinel is now ready to exit, bye bye...");
    0
}
