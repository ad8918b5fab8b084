//! The data node's life: config → (daemonize) → logging → listeners → shards → ready → wait for
//! shutdown → clean exit.

use crate::commands::dispatch::DataEngine;
use crate::config::{Argv, Config, ConfigSource, LogLevel, Supervised};
use crate::server::notify::{self, SupervisedMode};
use crate::server::{banner, log, process, uring, ShutdownSignal};
use crate::shard::runtime::{self, Listeners};
use crate::shard::Shared;
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
    if src.sentinel {
        return crate::sentinel::run::run_from(&src);
    }
    let config = match Config::load(&src) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return 1;
        }
    };
    run(config, &src)
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

fn supervised_mode(s: Supervised) -> SupervisedMode {
    match s {
        Supervised::No => SupervisedMode::No,
        Supervised::Upstart => SupervisedMode::Upstart,
        Supervised::Systemd => SupervisedMode::Systemd,
        Supervised::Auto => SupervisedMode::Auto,
    }
}

/// Runs the data node in Redis's startup order (server.c main): supervision, daemonize (before
/// any thread), logging, startup lines, file limits, io_uring probe, pidfile, listeners, shards,
/// ready; then waits for a shutdown request.
fn run(mut config: Config, src: &ConfigSource) -> i32 {
    let supervised = notify::resolve_supervised(supervised_mode(config.supervised));
    let daemonized = config.daemonize && supervised == SupervisedMode::No;
    if daemonized {
        if let Err(e) = process::daemonize() {
            eprintln!("Can't daemonize: {e}");
            return 1;
        }
    }
    if let Err(e) = log::init(log_level(config.loglevel), &config.logfile, 'C') {
        eprintln!("Can't open the log file: {e}");
        return 1;
    }
    banner::log_starting();
    banner::log_version();
    let argv0 = std::env::args()
        .next()
        .unwrap_or_else(|| "ringkv-server".into());
    banner::log_config_source(
        src.file.is_some() || !src.overrides.is_empty() || src.stdin,
        &argv0,
    );
    log::set_role('M');
    let ineffective = config.ineffective_changed();
    if !ineffective.is_empty() {
        tracing::warn!(
            "These configuration directives are accepted but have no effect in ringkv yet: {}",
            ineffective.join(", ")
        );
    }
    match banner::adjust_open_files_limit(config.maxclients) {
        Ok(m) => config.maxclients = m,
        Err(()) => return 1,
    }
    if let Err(e) = uring::probe_executor() {
        tracing::warn!("{e}");
        return 1;
    }
    if let Err(e) = std::env::set_current_dir(&config.dir) {
        tracing::warn!("Can't chdir to '{}': {e}", config.dir.display());
        return 1;
    }
    crate::persistence::tempfiles::remove_stale(std::path::Path::new("."), &config.dbfilename);
    let pidfile = process::create_pidfile(&config.pidfile, daemonized);
    let signal = match ShutdownSignal::install() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("Can't install signal handlers: {e}");
            return 1;
        }
    };
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
    let (port, logo) = (config.port, config.always_show_logo);
    let shared = Arc::new(Shared::new(config, exe, signal.clone()));
    crate::replication::stream::start(&shared);
    banner::log_logo_or_mode(logo, banner::Mode::Standalone, port);
    tracing::info!("Server initialized");
    // Like Redis, clients are served while the dataset loads (commands without the `loading`
    // flag get -LOADING): the shards start with empty dbs and take the loaded ones at the end.
    // With nothing on disk there is no load: the (new, empty) files are set up first, so no
    // write is served before the AOF records it.
    let on_disk = dataset_on_disk(&shared);
    if on_disk {
        shared.persistence.loading.begin();
        shared.shutdown.set_loading(true);
    } else if !load_from_disk(&shared) {
        return 1;
    }
    let _running = match runtime::start(shared.clone(), listeners, || DataEngine) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("{e}");
            return 1;
        }
    };
    if on_disk {
        match load_while_serving(&shared) {
            Loaded::Done => {}
            Loaded::Failed => return 1,
            Loaded::ShutDown => return exit_clean(&shared, supervised, pidfile.as_deref()),
        }
    }
    tracing::info!("Ready to accept connections");
    if supervised == SupervisedMode::Systemd {
        notify::notify_ready(false);
    }
    // A second SIGINT exits at once: leave no half-written snapshot behind.
    signal.set_force_exit_hook(|| {
        let _ = std::fs::remove_file(format!("temp-{}.rdb", std::process::id()));
    });
    // Shard 0 carries out the final save (persistence::snapshot::on_shutdown); when it fails
    // the request is called off and we keep serving.
    'serving: loop {
        while signal.requested().is_none() {
            std::thread::sleep(Duration::from_millis(100));
        }
        loop {
            if shared.persistence.exit_code.load(Ordering::Acquire) != -1 {
                break 'serving;
            }
            if signal.requested().is_none() {
                continue 'serving;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    exit_clean(&shared, supervised, pidfile.as_deref())
}

/// The end of a clean shutdown: AOF flushed, pidfile removed, Redis's last line. Returns 0.
fn exit_clean(
    shared: &Arc<Shared>,
    supervised: SupervisedMode,
    pidfile: Option<&std::path::Path>,
) -> i32 {
    shared.shutting_down.store(true, Ordering::Relaxed);
    crate::persistence::aof::shutdown(shared);
    if supervised == SupervisedMode::Systemd {
        notify::notify_stopping();
    }
    if let Some(p) = pidfile {
        let _ = process::remove_pidfile(p);
    }
    tracing::warn!("Redis is now ready to exit, bye bye...");
    0
}

/// How the startup load ended.
enum Loaded {
    Done,
    /// The files could not be loaded: exit 1, like Redis.
    Failed,
    /// A shutdown was carried out during the load (without saving, like Redis).
    ShutDown,
}

/// Whether there is a dataset to load: the AOF directory's manifest or an old-style AOF file
/// with `appendonly yes`, else the RDB file.
fn dataset_on_disk(shared: &Shared) -> bool {
    let cfg = shared.config();
    if cfg.appendonly {
        crate::persistence::aof::files_exist(&cfg)
    } else {
        std::path::Path::new(&cfg.dbfilename).is_file()
    }
}

/// Like Redis's loadDataFromDisk: the AOF when it is enabled (its files are opened and the
/// writer started too), else the RDB file, into `shared.preload`. False: exit 1.
fn load_from_disk(shared: &Arc<Shared>) -> bool {
    if crate::persistence::aof::startup(shared).is_err() {
        return false;
    }
    match load_dataset(shared) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("{e}");
            false
        }
    }
}

/// [`load_from_disk`] on a helper thread while the shards serve clients; then every shard
/// takes its loaded dbs and the loading state ends. A shutdown requested meanwhile ends the
/// process without waiting for the load.
fn load_while_serving(shared: &Arc<Shared>) -> Loaded {
    let sh = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("loader".into())
        .spawn(move || load_from_disk(&sh));
    let loader = match spawned {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("Can't start the loading thread: {e}");
            return Loaded::Failed;
        }
    };
    let shut_down = || shared.persistence.exit_code.load(Ordering::Acquire) != -1;
    while !loader.is_finished() {
        if shut_down() {
            return Loaded::ShutDown;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if !loader.join().unwrap_or(false) {
        return Loaded::Failed;
    }
    let loading = &shared.persistence.loading;
    loading.publish();
    while !loading.all_installed(shared.nshards) {
        if shut_down() {
            return Loaded::ShutDown;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    loading.finish();
    shared.shutdown.set_loading(false);
    Loaded::Done
}

/// Loads `dir/dbfilename` (the working directory is `dir`) into `shared.preload` (the loader
/// thread of [`load_while_serving`]).
fn load_dataset(shared: &Shared) -> Result<(), String> {
    let (file, databases) = {
        let c = shared.config();
        if c.appendonly {
            return Ok(());
        }
        (std::path::PathBuf::from(&c.dbfilename), c.databases)
    };
    let loaded = crate::persistence::snapshot::load_at_startup(
        &file,
        shared.nshards,
        databases,
        Some(&shared.persistence),
    );
    if let Some(mut loaded) = loaded? {
        *shared
            .link
            .restored
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = loaded.repl.take();
        let dbs = loaded.record(&shared.persistence);
        *shared.preload.lock().unwrap_or_else(|p| p.into_inner()) =
            dbs.into_iter().map(Some).collect();
    }
    Ok(())
}

/// How long startup retries a port in use. A process killed with -9 keeps its listening
/// sockets in LISTEN for a few ms after it was reaped (its io_uring rings hold them through
/// their pending accepts, and the kernel tears a dead process's rings down in a worker
/// afterwards; SO_REUSEADDR does not cover a listening socket), so a supervisor's immediate
/// restart would otherwise fail. A port held by a live server still fails, this much later.
const BIND_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Binds every `bind` address on `port` ([`crate::net::listener::bind_tcp`]) and notes the
/// unix socket to serve.
pub fn bind_all(config: &Config) -> Result<Listeners, String> {
    let deadline = std::time::Instant::now() + BIND_RETRY;
    let tcp = loop {
        match crate::net::listener::bind_tcp(&config.bind, config.port, config.tcp_backlog) {
            Err(e)
                if e.kind == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            r => break r,
        }
    }
    .map_err(|e| {
        format!(
            "{}\nFailed listening on port {} (tcp), aborting.",
            e.msg, config.port
        )
    })?;
    let unix =
        (!config.unixsocket.is_empty()).then(|| (config.unixsocket.clone(), config.unixsocketperm));
    if tcp.is_empty() && unix.is_none() {
        return Err("Configured to not listen anywhere, exiting.".into());
    }
    Ok(Listeners { tcp, unix })
}
