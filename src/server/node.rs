//! The data node's life: config → (daemonize) → logging → listeners → shards → ready → wait for
//! shutdown → clean exit.

use crate::commands::dispatch::DataEngine;
use crate::config::{Argv, Config, ConfigSource};
use crate::shard::runtime::{self, Listeners};
use crate::shard::Shared;
use std::os::fd::{IntoRawFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Entry point of `ringkv-server`. Returns the process exit code.
pub fn main_entry() -> i32 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let src = match crate::config::parse_argv(args) {
        Argv::Version(v) => {
            println!("{v}");
            return 0;
        }
        Argv::Help(h) => {
            eprintln!("{h}");
            return 1;
        }
        Argv::Run(src) => src,
    };
    let config = match Config::load(&src) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    run(config, &src)
}

fn run(config: Config, src: &ConfigSource) -> i32 {
    let _ = tracing_subscriber::fmt().with_writer(std::io::stdout).try_init();
    let _ = src;
    if let Err(e) = std::env::set_current_dir(&config.dir) {
        tracing::warn!("Can't chdir to '{}': {e}", config.dir.display());
        return 1;
    }
    let listeners = match bind_all(&config) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("{e}");
            return 1;
        }
    };
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let port = config.port;
    let shared = Arc::new(Shared::new(config, exe));
    let _running = match runtime::start(shared.clone(), listeners, || DataEngine) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    tracing::info!("Running mode=standalone, port={port}.");
    tracing::info!("Ready to accept connections tcp");
    while !shared.shutting_down.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
    tracing::info!("Redis is now ready to exit, bye bye...");
    0
}

/// Binds every `bind` address (a leading '-' means "skip if unavailable") on `port`, exclusive
/// (no SO_REUSEPORT), non-blocking, with `tcp-backlog`.
fn bind_all(config: &Config) -> Result<Listeners, String> {
    let mut tcp = Vec::new();
    if config.port != 0 {
        for b in &config.bind {
            let (optional, addr) = match b.strip_prefix('-') {
                Some(a) => (true, a),
                None => (false, b.as_str()),
            };
            let addr = match addr {
                "*" => "0.0.0.0",
                "::*" => "::",
                a => a,
            };
            match bind_one(addr, config.port, config.tcp_backlog) {
                Ok(fd) => tcp.push(fd),
                Err(e) if optional && e.kind() == std::io::ErrorKind::AddrNotAvailable => {
                    tracing::warn!("Could not create server TCP listening socket {addr}:{}: {e}", config.port);
                }
                Err(e) => {
                    return Err(format!(
                        "Warning: Could not create server TCP listening socket {addr}:{}: {e}\nFailed listening on port {} (tcp), aborting.",
                        config.port, config.port
                    ))
                }
            }
        }
    }
    let unix = (!config.unixsocket.is_empty()).then(|| (config.unixsocket.clone(), config.unixsocketperm));
    if tcp.is_empty() && unix.is_none() {
        return Err("Configured to not listen anywhere, exiting.".into());
    }
    Ok(Listeners { tcp, unix })
}

fn bind_one(addr: &str, port: u16, backlog: i32) -> std::io::Result<RawFd> {
    let ip: std::net::IpAddr = addr
        .parse()
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "invalid address"))?;
    let sa = std::net::SocketAddr::new(ip, port);
    let l = std::net::TcpListener::bind(sa)?;
    l.set_nonblocking(true)?;
    let fd = l.into_raw_fd();
    // std listens with a backlog of 128; Redis uses tcp-backlog (511). Listening again on a
    // listening socket updates the backlog.
    // SAFETY: fd is the listening socket we just created.
    unsafe {
        libc::listen(fd, backlog.max(1));
    }
    Ok(fd)
}
