//! Server commands: CONFIG INFO TIME SHUTDOWN LASTSAVE ROLE MODULE. (DBSIZE FLUSHDB FLUSHALL
//! SWAPDB are in keys.rs with the rest of the keyspace commands; COMMAND, SLOWLOG, LATENCY,
//! MONITOR, MEMORY and DEBUG live in `introspect`.)

use super::client::reply_help;
use super::errors;
use super::spec::*;
use super::{eq_ic, BoxFuture, Ctx, Handler};
use crate::net::Conn;
use crate::server::info::{self, ShardSnapshot};
use crate::shard::{Mesh, ShardStats};
use bytes::Bytes;
use std::sync::atomic::Ordering;

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "time",
        1,
        LOADING | STALE | FAST,
        Keys::None,
        "server",
        "2.6.0",
        "Return the current server time",
        "O(1)",
        Handler::Local(time),
    )
    .with_tips(&["nondeterministic_output"]),
    container(
        "config",
        "server",
        "2.0.0",
        "A container for server configuration commands",
        CONFIG_SUBCOMMANDS,
    ),
    spec(
        "info",
        -1,
        LOADING | STALE | SENTINEL | DANGEROUS,
        Keys::None,
        "server",
        "1.0.0",
        "Get information and statistics about the server",
        "O(1)",
        Handler::Coord(info_cmd),
    )
    .with_tips(&[
        "nondeterministic_output",
        "request_policy:all_shards",
        "response_policy:special",
    ]),
    spec(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | SENTINEL | ALLOW_BUSY,
        Keys::None,
        "server",
        "1.0.0",
        "Synchronously save the dataset to disk and then shut down the server",
        "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        Handler::Coord(shutdown),
    ),
    spec(
        "lastsave",
        1,
        LOADING | STALE | FAST,
        Keys::None,
        "server",
        "1.0.0",
        "Get the UNIX time stamp of the last successful save to disk",
        "O(1)",
        Handler::Conn(lastsave),
    )
    .with_tips(&["nondeterministic_output"])
    .with_acl(&["@admin", "@dangerous"]),
    spec(
        "role",
        1,
        NOSCRIPT | LOADING | STALE | FAST | SENTINEL,
        Keys::None,
        "server",
        "2.8.12",
        "Return the role of the instance in the context of replication",
        "O(1)",
        Handler::Conn(role),
    )
    .with_acl(&["@admin", "@dangerous"]),
    container(
        "module",
        "server",
        "4.0.0",
        "A container for module commands",
        MODULE_SUBCOMMANDS,
    ),
];

static MODULE_SUBCOMMANDS: &[CommandSpec] = &[
    spec(
        "module|list",
        2,
        ADMIN | NOSCRIPT,
        Keys::None,
        "server",
        "4.0.0",
        "List all modules loaded by the server",
        "O(N) where N is the number of loaded modules.",
        Handler::Conn(module_list),
    )
    .with_tips(&["nondeterministic_output_order"]),
    spec(
        "module|load",
        -3,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        Keys::None,
        "server",
        "4.0.0",
        "Load a module",
        "O(1)",
        Handler::Conn(module_load),
    )
    .with_acl(&["@admin", "@dangerous"]),
    spec(
        "module|loadex",
        -3,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        Keys::None,
        "server",
        "7.0.0",
        "Load a module with extended parameters",
        "O(1)",
        Handler::Conn(module_load),
    )
    .with_acl(&["@admin", "@dangerous"]),
    spec(
        "module|unload",
        3,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        Keys::None,
        "server",
        "4.0.0",
        "Unload a module",
        "O(1)",
        Handler::Conn(module_unload),
    )
    .with_acl(&["@admin", "@dangerous"]),
    spec(
        "module|help",
        2,
        LOADING | STALE,
        Keys::None,
        "server",
        "5.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
        Handler::Conn(module_help),
    ),
];

static CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    spec(
        "config|get",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        Keys::None,
        "server",
        "2.0.0",
        "Get the values of configuration parameters",
        "O(N) when N is the number of configuration parameters provided",
        Handler::Conn(config_get),
    ),
    spec(
        "config|set",
        -4,
        ADMIN | NOSCRIPT | LOADING | STALE,
        Keys::None,
        "server",
        "2.0.0",
        "Set configuration parameters to the given values",
        "O(N) when N is the number of configuration parameters provided",
        Handler::Conn(config_set),
    )
    .with_tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    spec(
        "config|rewrite",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        Keys::None,
        "server",
        "2.8.0",
        "Rewrite the configuration file with the in memory configuration",
        "O(1)",
        Handler::Conn(config_rewrite),
    ),
    spec(
        "config|resetstat",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        Keys::None,
        "server",
        "2.0.0",
        "Reset the stats returned by INFO",
        "O(1)",
        Handler::Coord(config_resetstat),
    ),
    spec(
        "config|help",
        2,
        LOADING | STALE,
        Keys::None,
        "server",
        "5.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
        Handler::Conn(config_help),
    ),
];

fn time(ctx: &mut Ctx, _argv: &[Bytes]) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk_int(d.as_secs() as i64);
    ctx.out.bulk_int(d.subsec_micros() as i64);
}

fn config_get(conn: &mut Conn, argv: &[Bytes]) {
    let pats: Vec<&[u8]> = argv[2..].iter().map(|b| &b[..]).collect();
    let pairs = conn.shard.shared.config().get(&pats);
    conn.out.map(pairs.len());
    for (k, v) in pairs {
        conn.out.bulk(k.as_bytes());
        conn.out.bulk(v.as_bytes());
    }
}

fn config_set(conn: &mut Conn, argv: &[Bytes]) {
    let args: Vec<&[u8]> = argv[2..].iter().map(|b| &b[..]).collect();
    let local = super::introspect::is_local(conn);
    let shared = conn.shard.shared.clone();
    let res = {
        let mut cfg = shared.config_mut();
        let old = cfg.clone();
        match cfg.set_from(&args, local) {
            Ok(changed) => match apply_config(&cfg, &changed, &shared) {
                Ok(()) => Ok(changed),
                Err(e) => {
                    // All or nothing, like Redis: a side effect that fails restores the old
                    // values (and the side effects already applied, by applying them again).
                    *cfg = old;
                    let _ = apply_config(&cfg, &changed, &shared);
                    Err(e)
                }
            },
            Err(e) => Err(e),
        }
    };
    match res {
        Ok(changed) => {
            shared.bump_config_epoch();
            // The AOF's side effects start threads and tasks: run them without the config lock.
            match crate::persistence::aof::config_changed(&conn.shard, &changed) {
                Ok(()) => conn.out.ok(),
                Err(e) => conn.error(&format!(
                    "ERR CONFIG SET failed (possibly related to argument 'appendonly') - {e}"
                )),
            }
        }
        Err(e) => conn.error(&e),
    }
}

/// Carries out what changing these directives means for the running server (Redis's `apply`
/// functions). The error is the full reply text.
fn apply_config(
    cfg: &crate::config::Config,
    changed: &[&'static str],
    shared: &crate::shard::Shared,
) -> Result<(), String> {
    use crate::server::log;
    let failed = |name: &str, why: String| {
        format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
    };
    for name in changed {
        match *name {
            "loglevel" => {
                if let Some(l) = cfg.get_one("loglevel").and_then(|v| log::Level::parse(&v)) {
                    log::set_level(l);
                }
            }
            "logfile" => {
                log::set_logfile(&cfg.logfile).map_err(|e| failed(name, e.to_string()))?;
            }
            "dir" => {
                std::env::set_current_dir(&cfg.dir).map_err(|e| failed(name, e.to_string()))?;
            }
            "replica-read-only" => crate::keyspace::expiry::set_writable(!cfg.replica_read_only),
            // resizeReplicationBacklog: never below 16 KB.
            "repl-backlog-size" => shared.repl.resize_backlog(
                (cfg.repl_backlog_size as usize).max(crate::shard::repl::MIN_BACKLOG),
            ),
            "slowlog-log-slower-than" => shared
                .slowlog_slower_than
                .store(cfg.slowlog_log_slower_than, Ordering::Relaxed),
            "slowlog-max-len" => shared
                .slowlog_max_len
                .store(cfg.slowlog_max_len, Ordering::Relaxed),
            "client-output-buffer-limit" => {
                crate::net::obuf::set_limits(&cfg.client_output_buffer_limit)
            }
            name if crate::keyspace::encoding::is_threshold(name) => {
                crate::keyspace::encoding::apply_config(cfg)
            }
            "notify-keyspace-events" => {
                crate::keyspace::notify::set_flags(cfg.notify_keyspace_flags)
            }
            "maxmemory" | "maxmemory-policy" | "maxmemory-samples" | "lfu-log-factor"
            | "lfu-decay-time" => crate::keyspace::evict::apply_config(cfg),
            "proto-max-bulk-len" => {
                crate::commands::string::set_max_bulk_len(cfg.proto_max_bulk_len)
            }
            "port" | "bind" => {
                crate::net::listener::rebind(shared, &cfg.bind, cfg.port, cfg.tcp_backlog).map_err(
                    |_| {
                        let why = match *name {
                            "port" => "Unable to listen on this port. Check server logs.",
                            _ => "Failed to bind to specified addresses.",
                        };
                        failed(name, why.to_string())
                    },
                )?
            }
            // maxclients, requirepass, timeout, the parser's proto-max-bulk-len and the like are read
            // through the config (connections refresh their cache on the epoch bump).
            _ => {}
        }
    }
    Ok(())
}

fn config_rewrite(conn: &mut Conn, _argv: &[Bytes]) {
    let res = conn.shard.shared.config().rewrite();
    match res {
        Ok(()) => {
            tracing::info!("CONFIG REWRITE executed with success.");
            conn.out.ok()
        }
        Err(e) => {
            tracing::warn!("CONFIG REWRITE failed: {e}");
            conn.error(&e)
        }
    }
}

fn config_resetstat<'a>(conn: &'a mut Conn, _argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        Mesh::run_on_all(&conn.shard, |sh| {
            sh.data.borrow_mut().stats = ShardStats::default();
        })
        .await;
        let shared = &conn.shard.shared;
        shared.total_connections.store(0, Ordering::Relaxed);
        shared.rejected_connections.store(0, Ordering::Relaxed);
        crate::keyspace::evict::reset_stats();
        conn.out.ok();
    })
}

fn config_help(conn: &mut Conn, _argv: &[Bytes]) {
    reply_help(
        &mut conn.out,
        &[
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
}

fn info_cmd<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        let args: Vec<&[u8]> = argv[1..].iter().map(|b| &b[..]).collect();
        let sections = info::select_sections(&args);
        let mut snap = ShardSnapshot::default();
        for s in Mesh::run_on_all(&conn.shard, |sh| ShardSnapshot::of(sh)).await {
            snap.merge(s);
        }
        let shared = conn.shard.shared.clone();
        let text = {
            let cfg = shared.config();
            info::render(&sections, &snap, &shared, &cfg)
        };
        conn.out.verbatim(text.as_bytes());
    })
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. Saves first when asked to (SAVE) or when
/// save points are configured (unless NOSAVE); a failed save keeps the server running and
/// replies an error, unless FORCE. ABORT has no shutdown in progress to stop, since ours starts
/// at once.
fn shutdown<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        let (mut save, mut nosave, mut abort, mut force) = (false, false, false, false);
        for a in &argv[1..] {
            if eq_ic(a, "nosave") {
                nosave = true;
            } else if eq_ic(a, "save") {
                save = true;
            } else if eq_ic(a, "now") {
            } else if eq_ic(a, "force") {
                force = true;
            } else if eq_ic(a, "abort") {
                abort = true;
            } else {
                return conn.error(errors::SYNTAX);
            }
        }
        if (save && nosave) || (abort && argv.len() > 2) {
            return conn.error(errors::SYNTAX);
        }
        if abort {
            return conn.error("ERR No shutdown in progress.");
        }
        tracing::warn!("User requested shutdown...");
        let shared = conn.shard.shared.clone();
        // Like Redis: never save while loading (the file would lose what is not loaded yet).
        let save = save && !shared.persistence.loading.active();
        let nosave = nosave || shared.persistence.loading.active();
        if save || (!nosave && !shared.config().save_params.is_empty()) {
            tracing::info!("Saving the final RDB snapshot before exiting.");
            let shard = conn.shard.clone();
            if crate::persistence::snapshot::save_final(&shard)
                .await
                .is_err()
                && !force
            {
                tracing::warn!("Error trying to save the DB, can't exit.");
                tracing::warn!(
                    "Errors trying to shut down the server. Check the logs for more information."
                );
                return conn.error("ERR Errors trying to SHUTDOWN. Check logs.");
            }
        }
        shared
            .persistence
            .shutdown_handled
            .store(true, Ordering::Release);
        conn.shutdown_requested = true;
        shared.shutdown.request(libc::SIGTERM);
        // Like Redis, a successful SHUTDOWN closes the connection without a reply.
        conn.close_after_reply = true;
    })
}

fn lastsave(conn: &mut Conn, _argv: &[Bytes]) {
    let t = conn.shard.shared.lastsave.load(Ordering::Relaxed);
    conn.out.int(t);
}

fn role(conn: &mut Conn, _argv: &[Bytes]) {
    crate::replication::report::role(&conn.shard.shared, &mut conn.out);
}

fn module_list(conn: &mut Conn, _argv: &[Bytes]) {
    conn.out.array(0);
}

const MODULE_NOT_ALLOWED: &str = "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// `enable-module-command` guards LOAD, LOADEX and UNLOAD (Redis's `CMD_PROTECTED`).
fn module_allowed(conn: &mut Conn) -> bool {
    let allowed = match conn.shard.shared.config().enable_module_command {
        crate::config::Protection::Yes => true,
        crate::config::Protection::Local => super::introspect::is_local(conn),
        crate::config::Protection::No => false,
    };
    if !allowed {
        conn.error(MODULE_NOT_ALLOWED);
    }
    allowed
}

/// ringkv loads no modules: when allowed, MODULE LOAD fails the way Redis's does for a library
/// it cannot load (the reason goes to the log).
fn module_load(conn: &mut Conn, argv: &[Bytes]) {
    if module_allowed(conn) {
        tracing::warn!(
            "Module {} failed to load: ringkv does not load Redis modules",
            String::from_utf8_lossy(&argv[2])
        );
        conn.error("ERR Error loading the extension. Please check the server logs.");
    }
}

fn module_unload(conn: &mut Conn, _argv: &[Bytes]) {
    if module_allowed(conn) {
        conn.error("ERR Error unloading module: no such module with that name");
    }
}

fn module_help(conn: &mut Conn, _argv: &[Bytes]) {
    reply_help(
        &mut conn.out,
        &[
            "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
        ],
    );
}
