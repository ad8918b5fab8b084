//! The directive table: one declarative entry per redis.conf directive (Redis 7.0.15
//! `static_configs[]`), plus ringkv's own `shards`. File parsing, CONFIG GET/SET/REWRITE
//! and the aliases are all driven from [`DIRECTIVES`].

/// CONFIG SET refuses it (`can't set immutable config`).
pub const IMMUTABLE: u32 = 1 << 0;
/// Its value is redacted from logs/slowlog/monitor by the command layer.
pub const SENSITIVE: u32 = 1 << 1;
/// Not matched by CONFIG GET glob patterns, only by its exact name.
pub const HIDDEN: u32 = 1 << 2;
/// CONFIG SET needs `enable-protected-configs` (`can't set protected config`).
pub const PROTECTED: u32 = 1 << 3;
/// Refused while loading the dataset (LOADING error).
pub const DENY_LOADING: u32 = 1 << 4;
/// Takes several arguments (`save 3600 1 300 100`); a single argument is split on spaces.
pub const MULTI_ARG: u32 = 1 << 5;
/// Setting it to the same value still counts as a change (TLS files re-read).
pub const VOLATILE: u32 = 1 << 6;

const I32_MAX: i128 = i32::MAX as i128;
const I32_MIN: i128 = i32::MIN as i128;
const U32_MAX: i128 = u32::MAX as i128;
const I64_MAX: i128 = i64::MAX as i128;
const U64_MAX: i128 = u64::MAX as i128;

/// How a number is written and read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumFmt {
    Int,
    /// Accepts units (`64mb`); CONFIG GET prints bytes; REWRITE prints `64mb`.
    Memory,
    /// Accepts units or `N%` (stored negative, as Redis does).
    MemoryPercent,
    /// `unixsocketperm 700`
    Octal,
}

/// Directives whose value needs its own parser and printer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    Dir,
    Save,
    ClientOutputBufferLimit,
    OomScoreAdjValues,
    NotifyKeyspaceEvents,
    Bind,
    ReplicaOf,
    LatencyTrackingInfoPercentiles,
    /// ringkv: number of shard executors.
    Shards,
}

pub type StrCheck = fn(&[u8]) -> Result<(), &'static str>;
pub type EnumCheck = fn(u32) -> Result<(), &'static str>;

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Bool(bool),
    Num {
        min: i128,
        max: i128,
        default: i128,
        /// Redis checks the bounds of unsigned C types on the unsigned value.
        unsigned: bool,
        fmt: NumFmt,
    },
    Str {
        default: Option<&'static str>,
        /// An empty string means "unset" (NULL in Redis): not rewritten.
        empty_is_null: bool,
        check: Option<StrCheck>,
    },
    Enum {
        values: &'static [(&'static str, u32)],
        default: u32,
        check: Option<EnumCheck>,
    },
    Special(Special),
}

#[derive(Clone, Copy, Debug)]
pub struct Directive {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub flags: u32,
    pub kind: Kind,
}

impl Directive {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

const fn d(name: &'static str, alias: Option<&'static str>, flags: u32, kind: Kind) -> Directive {
    Directive {
        name,
        alias,
        flags,
        kind,
    }
}

const fn num(min: i128, max: i128, default: i128, unsigned: bool, fmt: NumFmt) -> Kind {
    Kind::Num {
        min,
        max,
        default,
        unsigned,
        fmt,
    }
}

pub const MAXMEMORY_POLICY_ENUM: &[(&str, u32)] = &[
    ("volatile-lru", 0),
    ("volatile-lfu", 1),
    ("volatile-random", 2),
    ("volatile-ttl", 3),
    ("allkeys-lru", 4),
    ("allkeys-lfu", 5),
    ("allkeys-random", 6),
    ("noeviction", 7),
];
pub const SYSLOG_FACILITY_ENUM: &[(&str, u32)] = &[
    ("user", 0),
    ("local0", 1),
    ("local1", 2),
    ("local2", 3),
    ("local3", 4),
    ("local4", 5),
    ("local5", 6),
    ("local6", 7),
    ("local7", 8),
];
/// Redis 7.0 knows debug..warning; `nothing` (7.2) is accepted as well.
pub const LOGLEVEL_ENUM: &[(&str, u32)] = &[
    ("debug", 0),
    ("verbose", 1),
    ("notice", 2),
    ("warning", 3),
    ("nothing", 4),
];
pub const SUPERVISED_MODE_ENUM: &[(&str, u32)] =
    &[("upstart", 1), ("systemd", 2), ("auto", 3), ("no", 0)];
pub const AOF_FSYNC_ENUM: &[(&str, u32)] = &[("everysec", 2), ("always", 1), ("no", 0)];
pub const SHUTDOWN_SAVE: u32 = 1;
pub const SHUTDOWN_NOSAVE: u32 = 2;
pub const SHUTDOWN_NOW: u32 = 4;
pub const SHUTDOWN_FORCE: u32 = 8;
pub const SHUTDOWN_ON_SIG_ENUM: &[(&str, u32)] = &[
    ("default", 0),
    ("save", SHUTDOWN_SAVE),
    ("nosave", SHUTDOWN_NOSAVE),
    ("now", SHUTDOWN_NOW),
    ("force", SHUTDOWN_FORCE),
];
pub const REPL_DISKLESS_LOAD_ENUM: &[(&str, u32)] =
    &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
pub const TLS_AUTH_CLIENTS_ENUM: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("optional", 2)];
pub const OOM_SCORE_ADJ_ENUM: &[(&str, u32)] =
    &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
pub const ACL_PUBSUB_DEFAULT_ENUM: &[(&str, u32)] = &[("allchannels", 1), ("resetchannels", 0)];
pub const SANITIZE_DUMP_PAYLOAD_ENUM: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("clients", 2)];
pub const PROTECTED_ACTION_ENUM: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("local", 2)];
pub const CLUSTER_PREFERRED_ENDPOINT_TYPE_ENUM: &[(&str, u32)] =
    &[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)];
pub const PROPAGATION_ERROR_BEHAVIOR_ENUM: &[(&str, u32)] =
    &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)];

fn valid_hostname(v: &[u8]) -> Result<(), &'static str> {
    if v.len() >= 256 {
        return Err("Hostnames must be less than 256 characters");
    }
    if v.iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'.')
    {
        Ok(())
    } else {
        Err("Hostnames may only contain alphanumeric characters, hyphens or dots")
    }
}

fn is_base_name(v: &[u8]) -> bool {
    !v.contains(&b'/')
}

fn valid_dbfilename(v: &[u8]) -> Result<(), &'static str> {
    if is_base_name(v) {
        Ok(())
    } else {
        Err("dbfilename can't be a path, just a filename")
    }
}

fn valid_aof_filename(v: &[u8]) -> Result<(), &'static str> {
    if v.is_empty() {
        Err("appendfilename can't be empty")
    } else if !is_base_name(v) {
        Err("appendfilename can't be a path, just a filename")
    } else {
        Ok(())
    }
}

fn valid_aof_dirname(v: &[u8]) -> Result<(), &'static str> {
    if v.is_empty() {
        Err("appenddirname can't be empty")
    } else if !is_base_name(v) {
        Err("appenddirname can't be a path, just a dirname")
    } else {
        Ok(())
    }
}

/// `proc-title-template`: only the variables Redis knows, balanced braces.
fn valid_proc_title(v: &[u8]) -> Result<(), &'static str> {
    const ERR: &str = "template format is invalid or contains unknown variables";
    const VARS: &[&[u8]] = &[
        b"title",
        b"listen-addr",
        b"server-mode",
        b"port",
        b"tls-port",
        b"unixsocket",
        b"config-file",
    ];
    let mut rest = v;
    let mut out_len = 0usize;
    while let Some(&c) = rest.first() {
        if c == b'{' {
            let end = rest.iter().position(|&c| c == b'}').ok_or(ERR)?;
            if !VARS.contains(&&rest[1..end]) {
                return Err(ERR);
            }
            out_len += 1;
            rest = &rest[end + 1..];
        } else if c == b'}' {
            return Err(ERR);
        } else {
            out_len += 1;
            rest = &rest[1..];
        }
    }
    // An all-blank title is refused too.
    if out_len == 0 || v.iter().all(|c| *c == b' ') {
        return Err(ERR);
    }
    Ok(())
}

fn valid_shutdown_flags(v: u32) -> Result<(), &'static str> {
    if v & SHUTDOWN_SAVE != 0 && v & SHUTDOWN_NOSAVE != 0 {
        Err("shutdown options SAVE and NOSAVE can't be used simultaneously")
    } else {
        Ok(())
    }
}

/// Directives ringkv honours (or will honour in the current milestone). Everything else
/// in [`DIRECTIVES`] is accepted for compatibility and reported by `Config::ineffective`.
pub const EFFECTIVE: &[&str] = &[
    "bind",
    "port",
    "protected-mode",
    "requirepass",
    "timeout",
    "tcp-keepalive",
    "tcp-backlog",
    "maxclients",
    "databases",
    "loglevel",
    "logfile",
    "daemonize",
    "pidfile",
    "supervised",
    "always-show-logo",
    "unixsocket",
    "unixsocketperm",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "hz",
    "enable-debug-command",
    "shutdown-on-sigterm",
    "shutdown-on-sigint",
    "shutdown-timeout",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "latency-tracking",
    "save",
    "dir",
    "dbfilename",
    "notify-keyspace-events",
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "appendonly",
    "appendfsync",
    "appendfilename",
    "appenddirname",
    "aof-load-truncated",
    "aof-use-rdb-preamble",
    "aof-timestamp-enabled",
    "auto-aof-rewrite-percentage",
    "auto-aof-rewrite-min-size",
    "rdbcompression",
    "rdbchecksum",
    "stop-writes-on-bgsave-error",
    "replica-read-only",
    "replicaof",
    "masterauth",
    "masteruser",
    "repl-backlog-size",
    "replica-priority",
    "lazyfree-lazy-eviction",
    "lazyfree-lazy-expire",
    "lazyfree-lazy-server-del",
    "lazyfree-lazy-user-del",
    "lazyfree-lazy-user-flush",
    "io-threads",
    "shards",
];

/// Every directive, in Redis' `static_configs[]` order, then ringkv's own.
pub const DIRECTIVES: &[Directive] = &[
    d("rdbchecksum", None, IMMUTABLE, Kind::Bool(true)),
    d("daemonize", None, IMMUTABLE, Kind::Bool(false)),
    d("io-threads-do-reads", None, IMMUTABLE, Kind::Bool(false)),
    d("always-show-logo", None, IMMUTABLE, Kind::Bool(false)),
    d("protected-mode", None, 0, Kind::Bool(true)),
    d("rdbcompression", None, 0, Kind::Bool(true)),
    d("rdb-del-sync-files", None, 0, Kind::Bool(false)),
    d("activerehashing", None, 0, Kind::Bool(true)),
    d("stop-writes-on-bgsave-error", None, 0, Kind::Bool(true)),
    d("set-proc-title", None, IMMUTABLE, Kind::Bool(true)),
    d("dynamic-hz", None, 0, Kind::Bool(true)),
    d("lazyfree-lazy-eviction", None, 0, Kind::Bool(false)),
    d("lazyfree-lazy-expire", None, 0, Kind::Bool(false)),
    d("lazyfree-lazy-server-del", None, 0, Kind::Bool(false)),
    d("lazyfree-lazy-user-del", None, 0, Kind::Bool(false)),
    d("lazyfree-lazy-user-flush", None, 0, Kind::Bool(false)),
    d("repl-disable-tcp-nodelay", None, 0, Kind::Bool(false)),
    d("repl-diskless-sync", None, 0, Kind::Bool(true)),
    d("aof-rewrite-incremental-fsync", None, 0, Kind::Bool(true)),
    d("no-appendfsync-on-rewrite", None, 0, Kind::Bool(false)),
    d("cluster-require-full-coverage", None, 0, Kind::Bool(true)),
    d("rdb-save-incremental-fsync", None, 0, Kind::Bool(true)),
    d("aof-load-truncated", None, 0, Kind::Bool(true)),
    d("aof-use-rdb-preamble", None, 0, Kind::Bool(true)),
    d("aof-timestamp-enabled", None, 0, Kind::Bool(false)),
    d(
        "cluster-replica-no-failover",
        Some("cluster-slave-no-failover"),
        0,
        Kind::Bool(false),
    ),
    d(
        "replica-lazy-flush",
        Some("slave-lazy-flush"),
        0,
        Kind::Bool(false),
    ),
    d(
        "replica-serve-stale-data",
        Some("slave-serve-stale-data"),
        0,
        Kind::Bool(true),
    ),
    d(
        "replica-read-only",
        Some("slave-read-only"),
        0,
        Kind::Bool(true),
    ),
    d(
        "replica-ignore-maxmemory",
        Some("slave-ignore-maxmemory"),
        0,
        Kind::Bool(true),
    ),
    d("jemalloc-bg-thread", None, 0, Kind::Bool(true)),
    d("activedefrag", None, 0, Kind::Bool(false)),
    d("syslog-enabled", None, IMMUTABLE, Kind::Bool(false)),
    d("cluster-enabled", None, IMMUTABLE, Kind::Bool(false)),
    d("appendonly", None, DENY_LOADING, Kind::Bool(false)),
    d("cluster-allow-reads-when-down", None, 0, Kind::Bool(false)),
    d(
        "cluster-allow-pubsubshard-when-down",
        None,
        0,
        Kind::Bool(true),
    ),
    d("crash-log-enabled", None, 0, Kind::Bool(true)),
    d("crash-memcheck-enabled", None, 0, Kind::Bool(true)),
    d("use-exit-on-panic", None, HIDDEN, Kind::Bool(false)),
    d("disable-thp", None, IMMUTABLE, Kind::Bool(true)),
    d("cluster-allow-replica-migration", None, 0, Kind::Bool(true)),
    d("replica-announced", None, 0, Kind::Bool(true)),
    d("latency-tracking", None, 0, Kind::Bool(true)),
    d("aof-disable-auto-gc", None, 0, Kind::Bool(false)),
    d(
        "replica-ignore-disk-write-errors",
        None,
        0,
        Kind::Bool(false),
    ),
    d(
        "aclfile",
        None,
        IMMUTABLE,
        Kind::Str {
            default: Some(""),
            empty_is_null: false,
            check: None,
        },
    ),
    d(
        "unixsocket",
        None,
        IMMUTABLE,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "pidfile",
        None,
        IMMUTABLE,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "replica-announce-ip",
        Some("slave-announce-ip"),
        0,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "masteruser",
        None,
        SENSITIVE,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "cluster-announce-ip",
        None,
        0,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "cluster-config-file",
        None,
        IMMUTABLE,
        Kind::Str {
            default: Some("nodes.conf"),
            empty_is_null: false,
            check: None,
        },
    ),
    d(
        "cluster-announce-hostname",
        None,
        0,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: Some(valid_hostname),
        },
    ),
    d(
        "syslog-ident",
        None,
        IMMUTABLE,
        Kind::Str {
            default: Some("redis"),
            empty_is_null: false,
            check: None,
        },
    ),
    d(
        "dbfilename",
        None,
        PROTECTED,
        Kind::Str {
            default: Some("dump.rdb"),
            empty_is_null: false,
            check: Some(valid_dbfilename),
        },
    ),
    d(
        "appendfilename",
        None,
        IMMUTABLE,
        Kind::Str {
            default: Some("appendonly.aof"),
            empty_is_null: false,
            check: Some(valid_aof_filename),
        },
    ),
    d(
        "appenddirname",
        None,
        IMMUTABLE,
        Kind::Str {
            default: Some("appendonlydir"),
            empty_is_null: false,
            check: Some(valid_aof_dirname),
        },
    ),
    d(
        "server_cpulist",
        None,
        IMMUTABLE,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "bio_cpulist",
        None,
        IMMUTABLE,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "aof_rewrite_cpulist",
        None,
        IMMUTABLE,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "bgsave_cpulist",
        None,
        IMMUTABLE,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "ignore-warnings",
        None,
        0,
        Kind::Str {
            default: Some(""),
            empty_is_null: false,
            check: None,
        },
    ),
    d(
        "proc-title-template",
        None,
        0,
        Kind::Str {
            default: Some("{title} {listen-addr} {server-mode}"),
            empty_is_null: false,
            check: Some(valid_proc_title),
        },
    ),
    d(
        "bind-source-addr",
        None,
        0,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "logfile",
        None,
        IMMUTABLE,
        Kind::Str {
            default: Some(""),
            empty_is_null: false,
            check: None,
        },
    ),
    d(
        "masterauth",
        None,
        SENSITIVE,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "requirepass",
        None,
        SENSITIVE,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "supervised",
        None,
        IMMUTABLE,
        Kind::Enum {
            values: SUPERVISED_MODE_ENUM,
            default: 0,
            check: None,
        },
    ),
    d(
        "syslog-facility",
        None,
        IMMUTABLE,
        Kind::Enum {
            values: SYSLOG_FACILITY_ENUM,
            default: 1,
            check: None,
        },
    ),
    d(
        "repl-diskless-load",
        None,
        DENY_LOADING,
        Kind::Enum {
            values: REPL_DISKLESS_LOAD_ENUM,
            default: 0,
            check: None,
        },
    ),
    d(
        "loglevel",
        None,
        0,
        Kind::Enum {
            values: LOGLEVEL_ENUM,
            default: 2,
            check: None,
        },
    ),
    d(
        "maxmemory-policy",
        None,
        0,
        Kind::Enum {
            values: MAXMEMORY_POLICY_ENUM,
            default: 7,
            check: None,
        },
    ),
    d(
        "appendfsync",
        None,
        0,
        Kind::Enum {
            values: AOF_FSYNC_ENUM,
            default: 2,
            check: None,
        },
    ),
    d(
        "oom-score-adj",
        None,
        0,
        Kind::Enum {
            values: OOM_SCORE_ADJ_ENUM,
            default: 0,
            check: None,
        },
    ),
    d(
        "acl-pubsub-default",
        None,
        0,
        Kind::Enum {
            values: ACL_PUBSUB_DEFAULT_ENUM,
            default: 0,
            check: None,
        },
    ),
    d(
        "sanitize-dump-payload",
        None,
        0,
        Kind::Enum {
            values: SANITIZE_DUMP_PAYLOAD_ENUM,
            default: 0,
            check: None,
        },
    ),
    d(
        "enable-protected-configs",
        None,
        IMMUTABLE,
        Kind::Enum {
            values: PROTECTED_ACTION_ENUM,
            default: 0,
            check: None,
        },
    ),
    d(
        "enable-debug-command",
        None,
        IMMUTABLE,
        Kind::Enum {
            values: PROTECTED_ACTION_ENUM,
            default: 0,
            check: None,
        },
    ),
    d(
        "enable-module-command",
        None,
        IMMUTABLE,
        Kind::Enum {
            values: PROTECTED_ACTION_ENUM,
            default: 0,
            check: None,
        },
    ),
    d(
        "cluster-preferred-endpoint-type",
        None,
        0,
        Kind::Enum {
            values: CLUSTER_PREFERRED_ENDPOINT_TYPE_ENUM,
            default: 0,
            check: None,
        },
    ),
    d(
        "propagation-error-behavior",
        None,
        0,
        Kind::Enum {
            values: PROPAGATION_ERROR_BEHAVIOR_ENUM,
            default: 0,
            check: None,
        },
    ),
    d(
        "shutdown-on-sigint",
        None,
        MULTI_ARG,
        Kind::Enum {
            values: SHUTDOWN_ON_SIG_ENUM,
            default: 0,
            check: Some(valid_shutdown_flags),
        },
    ),
    d(
        "shutdown-on-sigterm",
        None,
        MULTI_ARG,
        Kind::Enum {
            values: SHUTDOWN_ON_SIG_ENUM,
            default: 0,
            check: Some(valid_shutdown_flags),
        },
    ),
    d(
        "databases",
        None,
        IMMUTABLE,
        num(1, I32_MAX, 16, false, NumFmt::Int),
    ),
    d("port", None, 0, num(0, 65535, 6379, false, NumFmt::Int)),
    d(
        "io-threads",
        None,
        IMMUTABLE,
        num(1, 128, 1, false, NumFmt::Int),
    ),
    d(
        "auto-aof-rewrite-percentage",
        None,
        0,
        num(0, I32_MAX, 100, false, NumFmt::Int),
    ),
    d(
        "cluster-replica-validity-factor",
        Some("cluster-slave-validity-factor"),
        0,
        num(0, I32_MAX, 10, false, NumFmt::Int),
    ),
    d(
        "list-max-listpack-size",
        Some("list-max-ziplist-size"),
        0,
        num(I32_MIN, I32_MAX, -2, false, NumFmt::Int),
    ),
    d(
        "tcp-keepalive",
        None,
        0,
        num(0, I32_MAX, 300, false, NumFmt::Int),
    ),
    d(
        "cluster-migration-barrier",
        None,
        0,
        num(0, I32_MAX, 1, false, NumFmt::Int),
    ),
    d(
        "active-defrag-cycle-min",
        None,
        0,
        num(1, 99, 1, false, NumFmt::Int),
    ),
    d(
        "active-defrag-cycle-max",
        None,
        0,
        num(1, 99, 25, false, NumFmt::Int),
    ),
    d(
        "active-defrag-threshold-lower",
        None,
        0,
        num(0, 1000, 10, false, NumFmt::Int),
    ),
    d(
        "active-defrag-threshold-upper",
        None,
        0,
        num(0, 1000, 100, false, NumFmt::Int),
    ),
    d(
        "lfu-log-factor",
        None,
        0,
        num(0, I32_MAX, 10, false, NumFmt::Int),
    ),
    d(
        "lfu-decay-time",
        None,
        0,
        num(0, I32_MAX, 1, false, NumFmt::Int),
    ),
    d(
        "replica-priority",
        Some("slave-priority"),
        0,
        num(0, I32_MAX, 100, false, NumFmt::Int),
    ),
    d(
        "repl-diskless-sync-delay",
        None,
        0,
        num(0, I32_MAX, 5, false, NumFmt::Int),
    ),
    d(
        "maxmemory-samples",
        None,
        0,
        num(1, I32_MAX, 5, false, NumFmt::Int),
    ),
    d(
        "maxmemory-eviction-tenacity",
        None,
        0,
        num(0, 100, 10, false, NumFmt::Int),
    ),
    d("timeout", None, 0, num(0, I32_MAX, 0, false, NumFmt::Int)),
    d(
        "replica-announce-port",
        Some("slave-announce-port"),
        0,
        num(0, 65535, 0, false, NumFmt::Int),
    ),
    d(
        "tcp-backlog",
        None,
        IMMUTABLE,
        num(0, I32_MAX, 511, false, NumFmt::Int),
    ),
    d(
        "cluster-port",
        None,
        IMMUTABLE,
        num(0, 65535, 0, false, NumFmt::Int),
    ),
    d(
        "cluster-announce-bus-port",
        None,
        0,
        num(0, 65535, 0, false, NumFmt::Int),
    ),
    d(
        "cluster-announce-port",
        None,
        0,
        num(0, 65535, 0, false, NumFmt::Int),
    ),
    d(
        "cluster-announce-tls-port",
        None,
        0,
        num(0, 65535, 0, false, NumFmt::Int),
    ),
    d(
        "repl-timeout",
        None,
        0,
        num(1, I32_MAX, 60, false, NumFmt::Int),
    ),
    d(
        "repl-ping-replica-period",
        Some("repl-ping-slave-period"),
        0,
        num(1, I32_MAX, 10, false, NumFmt::Int),
    ),
    d(
        "list-compress-depth",
        None,
        0,
        num(0, I32_MAX, 0, false, NumFmt::Int),
    ),
    d(
        "rdb-key-save-delay",
        None,
        HIDDEN,
        num(I32_MIN, I32_MAX, 0, false, NumFmt::Int),
    ),
    d(
        "key-load-delay",
        None,
        HIDDEN,
        num(I32_MIN, I32_MAX, 0, false, NumFmt::Int),
    ),
    d(
        "active-expire-effort",
        None,
        0,
        num(1, 10, 1, false, NumFmt::Int),
    ),
    d("hz", None, 0, num(0, I32_MAX, 10, false, NumFmt::Int)),
    d(
        "min-replicas-to-write",
        Some("min-slaves-to-write"),
        0,
        num(0, I32_MAX, 0, false, NumFmt::Int),
    ),
    d(
        "min-replicas-max-lag",
        Some("min-slaves-max-lag"),
        0,
        num(0, I32_MAX, 10, false, NumFmt::Int),
    ),
    d(
        "watchdog-period",
        None,
        HIDDEN,
        num(0, I32_MAX, 0, false, NumFmt::Int),
    ),
    d(
        "shutdown-timeout",
        None,
        0,
        num(0, I32_MAX, 10, false, NumFmt::Int),
    ),
    d(
        "repl-diskless-sync-max-replicas",
        None,
        0,
        num(0, I32_MAX, 0, false, NumFmt::Int),
    ),
    d(
        "maxclients",
        None,
        0,
        num(1, U32_MAX, 10000, true, NumFmt::Int),
    ),
    d(
        "unixsocketperm",
        None,
        IMMUTABLE,
        num(0, 0o777, 0, true, NumFmt::Octal),
    ),
    d(
        "socket-mark-id",
        None,
        IMMUTABLE,
        num(0, U32_MAX, 0, true, NumFmt::Int),
    ),
    d(
        "active-defrag-max-scan-fields",
        None,
        0,
        num(1, I64_MAX, 1000, false, NumFmt::Int),
    ),
    d(
        "slowlog-max-len",
        None,
        0,
        num(0, I64_MAX, 128, false, NumFmt::Int),
    ),
    d(
        "acllog-max-len",
        None,
        0,
        num(0, I64_MAX, 128, false, NumFmt::Int),
    ),
    d(
        "busy-reply-threshold",
        Some("lua-time-limit"),
        0,
        num(0, I64_MAX, 5000, false, NumFmt::Int),
    ),
    d(
        "cluster-node-timeout",
        None,
        0,
        num(0, I64_MAX, 15000, false, NumFmt::Int),
    ),
    d(
        "slowlog-log-slower-than",
        None,
        0,
        num(-1, I64_MAX, 10000, false, NumFmt::Int),
    ),
    d(
        "latency-monitor-threshold",
        None,
        0,
        num(0, I64_MAX, 0, false, NumFmt::Int),
    ),
    d(
        "proto-max-bulk-len",
        None,
        0,
        num(
            1024 * 1024,
            I64_MAX,
            512 * 1024 * 1024,
            false,
            NumFmt::Memory,
        ),
    ),
    d(
        "stream-node-max-entries",
        None,
        0,
        num(0, I64_MAX, 100, false, NumFmt::Int),
    ),
    d(
        "repl-backlog-size",
        None,
        0,
        num(1, I64_MAX, 1024 * 1024, false, NumFmt::Memory),
    ),
    d(
        "maxmemory",
        None,
        0,
        num(0, U64_MAX, 0, true, NumFmt::Memory),
    ),
    d(
        "cluster-link-sendbuf-limit",
        None,
        0,
        num(0, U64_MAX, 0, true, NumFmt::Memory),
    ),
    d(
        "hash-max-listpack-entries",
        Some("hash-max-ziplist-entries"),
        0,
        num(0, I64_MAX, 512, true, NumFmt::Int),
    ),
    d(
        "set-max-intset-entries",
        None,
        0,
        num(0, I64_MAX, 512, true, NumFmt::Int),
    ),
    d(
        "zset-max-listpack-entries",
        Some("zset-max-ziplist-entries"),
        0,
        num(0, I64_MAX, 128, true, NumFmt::Int),
    ),
    d(
        "active-defrag-ignore-bytes",
        None,
        0,
        num(1, I64_MAX, 100 << 20, true, NumFmt::Memory),
    ),
    d(
        "hash-max-listpack-value",
        Some("hash-max-ziplist-value"),
        0,
        num(0, I64_MAX, 64, true, NumFmt::Memory),
    ),
    d(
        "stream-node-max-bytes",
        None,
        0,
        num(0, I64_MAX, 4096, true, NumFmt::Memory),
    ),
    d(
        "zset-max-listpack-value",
        Some("zset-max-ziplist-value"),
        0,
        num(0, I64_MAX, 64, true, NumFmt::Memory),
    ),
    d(
        "hll-sparse-max-bytes",
        None,
        0,
        num(0, I64_MAX, 3000, true, NumFmt::Memory),
    ),
    d(
        "tracking-table-max-keys",
        None,
        0,
        num(0, I64_MAX, 1000000, true, NumFmt::Int),
    ),
    d(
        "client-query-buffer-limit",
        None,
        0,
        num(
            1024 * 1024,
            I64_MAX,
            1024 * 1024 * 1024,
            true,
            NumFmt::Memory,
        ),
    ),
    d(
        "maxmemory-clients",
        None,
        0,
        num(-100, I64_MAX, 0, false, NumFmt::MemoryPercent),
    ),
    d(
        "repl-backlog-ttl",
        None,
        0,
        num(0, I64_MAX, 60 * 60, false, NumFmt::Int),
    ),
    d(
        "auto-aof-rewrite-min-size",
        None,
        0,
        num(0, I64_MAX, 64 * 1024 * 1024, false, NumFmt::Memory),
    ),
    d(
        "loading-process-events-interval-bytes",
        None,
        HIDDEN,
        num(1024, I32_MAX, 1024 * 1024 * 2, false, NumFmt::Int),
    ),
    d("tls-port", None, 0, num(0, 65535, 0, false, NumFmt::Int)),
    d(
        "tls-session-cache-size",
        None,
        0,
        num(0, I32_MAX, 20 * 1024, false, NumFmt::Int),
    ),
    d(
        "tls-session-cache-timeout",
        None,
        0,
        num(0, I32_MAX, 300, false, NumFmt::Int),
    ),
    d("tls-cluster", None, 0, Kind::Bool(false)),
    d("tls-replication", None, 0, Kind::Bool(false)),
    d(
        "tls-auth-clients",
        None,
        0,
        Kind::Enum {
            values: TLS_AUTH_CLIENTS_ENUM,
            default: 1,
            check: None,
        },
    ),
    d("tls-prefer-server-ciphers", None, 0, Kind::Bool(false)),
    d("tls-session-caching", None, 0, Kind::Bool(true)),
    d(
        "tls-cert-file",
        None,
        VOLATILE,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "tls-key-file",
        None,
        VOLATILE,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "tls-key-file-pass",
        None,
        0,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "tls-client-cert-file",
        None,
        VOLATILE,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "tls-client-key-file",
        None,
        VOLATILE,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "tls-client-key-file-pass",
        None,
        0,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "tls-dh-params-file",
        None,
        VOLATILE,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "tls-ca-cert-file",
        None,
        VOLATILE,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "tls-ca-cert-dir",
        None,
        VOLATILE,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "tls-protocols",
        None,
        0,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "tls-ciphers",
        None,
        0,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "tls-ciphersuites",
        None,
        0,
        Kind::Str {
            default: None,
            empty_is_null: true,
            check: None,
        },
    ),
    d(
        "dir",
        None,
        PROTECTED | DENY_LOADING,
        Kind::Special(Special::Dir),
    ),
    d("save", None, MULTI_ARG, Kind::Special(Special::Save)),
    d(
        "client-output-buffer-limit",
        None,
        MULTI_ARG,
        Kind::Special(Special::ClientOutputBufferLimit),
    ),
    d(
        "oom-score-adj-values",
        None,
        MULTI_ARG,
        Kind::Special(Special::OomScoreAdjValues),
    ),
    d(
        "notify-keyspace-events",
        None,
        0,
        Kind::Special(Special::NotifyKeyspaceEvents),
    ),
    d("bind", None, MULTI_ARG, Kind::Special(Special::Bind)),
    d(
        "replicaof",
        Some("slaveof"),
        IMMUTABLE | MULTI_ARG,
        Kind::Special(Special::ReplicaOf),
    ),
    d(
        "latency-tracking-info-percentiles",
        None,
        MULTI_ARG,
        Kind::Special(Special::LatencyTrackingInfoPercentiles),
    ),
    d("shards", None, IMMUTABLE, Kind::Special(Special::Shards)),
];

/// Accepted and ignored, as Redis 7.0 does (`deprecated_configs[]`), with 2..=2 words.
pub const DEPRECATED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];

/// Finds a directive by name or alias, case-insensitively. Returns its index and whether
/// the alias matched.
pub fn lookup(name: &[u8]) -> Option<(usize, bool)> {
    DIRECTIVES.iter().enumerate().find_map(|(i, d)| {
        if d.name.as_bytes().eq_ignore_ascii_case(name) {
            Some((i, false))
        } else if d
            .alias
            .is_some_and(|a| a.as_bytes().eq_ignore_ascii_case(name))
        {
            Some((i, true))
        } else {
            None
        }
    })
}
