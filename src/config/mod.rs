//! ringkv configuration: redis.conf parsing (Redis 7.0.15 syntax and directives),
//! redis-server style argv, the declarative directive registry, and the logic behind
//! CONFIG GET / SET / REWRITE.
//!
//! One table ([`registry::DIRECTIVES`]) drives everything. Values live in a per-directive
//! store; the typed `pub` fields of [`Config`] are a read view refreshed after every
//! change, so code outside this module reads them but changes values through
//! [`Config::set`] (CONFIG SET) or the dedicated setters ([`Config::set_replicaof`]).

mod argv;
mod error;
pub mod registry;
mod rewrite;
pub mod syntax;
pub mod value;

use std::io::Read;
use std::path::{Path, PathBuf};

pub use argv::{parse_argv, usage_string, version_string, Argv, ConfigSource};
pub use error::ConfigError;
pub use value::{ObufLimit, Value};

use registry::{Directive, DIRECTIVES, EFFECTIVE, HIDDEN, IMMUTABLE, MULTI_ARG, PROTECTED};
use syntax::{glob_match, split_args};
use value::SetCtx;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
    Nothing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Supervised {
    No,
    Upstart,
    Systemd,
    Auto,
}

/// `enable-debug-command` / `enable-protected-configs` / `enable-module-command`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protection {
    No,
    Yes,
    /// Only from loopback or unix-socket clients.
    Local,
}

/// `shutdown-on-sigterm` / `shutdown-on-sigint`: `default` is all false.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShutdownFlags {
    pub save: bool,
    pub nosave: bool,
    pub now: bool,
    pub force: bool,
}

/// A `sentinel ...` line from the config, kept for the Sentinel module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentinelLine {
    pub linenum: usize,
    pub line: String,
    /// The words after `sentinel`.
    pub args: Vec<Vec<u8>>,
}

/// CONFIG HELP lines (Redis 7.0 text).
pub const CONFIG_HELP: &[&str] = &[
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
];

/// Whether CONFIG SET's value for this directive must be redacted from SLOWLOG/MONITOR
/// (`requirepass`, `masterauth`, `masteruser`).
pub fn is_sensitive(name: &[u8]) -> bool {
    registry::lookup(name).is_some_and(|(i, _)| DIRECTIVES[i].has(registry::SENSITIVE))
}

/// Nested `include` depth at which loading stops (Redis would recurse until it crashes).
const MAX_INCLUDE_DEPTH: usize = 64;

#[derive(Clone, Debug)]
pub struct Config {
    /// The config file (absolute), needed by CONFIG REWRITE and INFO `config_file`.
    pub config_file: Option<PathBuf>,
    pub sentinel_mode: bool,
    pub port: u16,
    /// As written; a leading `-` marks an optional address.
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub requirepass: Option<Vec<u8>>,
    /// Seconds.
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub tcp_backlog: i32,
    pub maxclients: u64,
    pub databases: usize,
    pub shards: usize,
    pub loglevel: LogLevel,
    pub logfile: String,
    pub daemonize: bool,
    pub pidfile: String,
    pub supervised: Supervised,
    pub always_show_logo: bool,
    pub unixsocket: String,
    pub unixsocketperm: u32,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub hz: u32,
    pub enable_debug_command: Protection,
    pub enable_module_command: Protection,
    pub enable_protected_configs: Protection,
    pub shutdown_on_sigterm: ShutdownFlags,
    pub shutdown_on_sigint: ShutdownFlags,
    pub shutdown_timeout: u64,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: u64,
    pub latency_tracking: bool,
    /// (seconds, changes) save points; empty means snapshots are off.
    pub save_params: Vec<(u64, u64)>,
    /// Absolute; the server chdirs into it at startup and after CONFIG SET dir.
    pub dir: PathBuf,
    pub dbfilename: String,
    /// As CONFIG GET shows it (`AKE`).
    pub notify_keyspace_events: String,
    /// The same as flag bits (`value::NOTIFY_*`).
    pub notify_keyspace_flags: u32,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub maxmemory_samples: u32,
    pub appendonly: bool,
    /// `everysec`, `always` or `no`.
    pub appendfsync: String,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    pub stop_writes_on_bgsave_error: bool,
    pub replicaof: Option<(String, u16)>,
    pub masterauth: Option<Vec<u8>>,
    pub masteruser: Option<String>,
    pub replica_read_only: bool,
    pub repl_backlog_size: u64,
    pub replica_priority: u64,
    pub io_threads: u32,
    /// normal, replica, pubsub.
    pub client_output_buffer_limit: [ObufLimit; 3],
    /// `rename-command old new` lines, in order (applied by the command table).
    pub rename_commands: Vec<(Vec<u8>, Vec<u8>)>,
    /// `user ...` lines (the words after `user`).
    pub users: Vec<Vec<Vec<u8>>>,
    /// The data node's first `user` line (number, text): refused once the whole file was read
    /// and checked like Redis checks it (so a duplicate user gets Redis's error first).
    user_line: Option<(usize, Vec<u8>)>,
    /// `sentinel ...` lines, only in sentinel mode.
    pub sentinel_lines: Vec<SentinelLine>,

    values: Vec<Value>,
    explicit: Vec<bool>,
    other_ineffective: Vec<String>,
}

fn lower(s: &[u8]) -> String {
    String::from_utf8_lossy(s).to_ascii_lowercase()
}

fn strerror_of(e: &std::io::Error) -> String {
    value::strerror(e)
}

/// The data node has no ACL yet: a `user` line is refused rather than ignored, so a server
/// never runs without the users its file asks for.
pub const USER_UNSUPPORTED: &str = "The 'user' directive is not supported by the ringkv data node yet (it has no ACL users; only the default user with requirepass)";

impl Config {
    /// Built-in defaults (no file), as redis-server without arguments.
    #[allow(clippy::should_implement_trait)]
    pub fn default() -> Config {
        let mut c = Config {
            config_file: None,
            sentinel_mode: false,
            port: 6379,
            bind: Vec::new(),
            protected_mode: true,
            requirepass: None,
            timeout: 0,
            tcp_keepalive: 300,
            tcp_backlog: 511,
            maxclients: 10000,
            databases: 16,
            shards: 1,
            loglevel: LogLevel::Notice,
            logfile: String::new(),
            daemonize: false,
            pidfile: String::new(),
            supervised: Supervised::No,
            always_show_logo: false,
            unixsocket: String::new(),
            unixsocketperm: 0,
            proto_max_bulk_len: 512 << 20,
            client_query_buffer_limit: 1 << 30,
            hz: 10,
            enable_debug_command: Protection::No,
            enable_module_command: Protection::No,
            enable_protected_configs: Protection::No,
            shutdown_on_sigterm: ShutdownFlags::default(),
            shutdown_on_sigint: ShutdownFlags::default(),
            shutdown_timeout: 10,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            latency_tracking: true,
            save_params: Vec::new(),
            dir: PathBuf::new(),
            dbfilename: String::new(),
            notify_keyspace_events: String::new(),
            notify_keyspace_flags: 0,
            maxmemory: 0,
            maxmemory_policy: String::new(),
            maxmemory_samples: 5,
            appendonly: false,
            appendfsync: String::new(),
            rdbcompression: true,
            rdbchecksum: true,
            stop_writes_on_bgsave_error: true,
            replicaof: None,
            masterauth: None,
            masteruser: None,
            replica_read_only: true,
            repl_backlog_size: 1 << 20,
            replica_priority: 100,
            io_threads: 1,
            client_output_buffer_limit: value::OBUF_DEFAULTS,
            rename_commands: Vec::new(),
            users: Vec::new(),
            user_line: None,
            sentinel_lines: Vec::new(),
            values: DIRECTIVES.iter().map(value::default_value).collect(),
            explicit: vec![false; DIRECTIVES.len()],
            other_ineffective: Vec::new(),
        };
        c.sync();
        c
    }

    /// Loads the file, then stdin, then the command-line overrides, as redis-server does.
    pub fn load(src: &ConfigSource) -> Result<Config, ConfigError> {
        let mut text = Vec::new();
        if let Some(file) = &src.file {
            text = read_config_path(file)?;
        }
        if src.stdin {
            std::io::stdin()
                .read_to_end(&mut text)
                .map_err(|e| ConfigError::Stdin(strerror_of(&e)))?;
        }
        if !src.overrides.is_empty() {
            text.push(b'\n');
            text.extend_from_slice(src.overrides.as_bytes());
        }
        let mut c = Config::default();
        c.config_file = src.file.clone();
        c.sentinel_mode = src.sentinel;
        c.load_text(&text)?;
        Ok(c)
    }

    /// Parses config text on top of the current values (what `load` does after reading).
    pub fn load_text(&mut self, text: &[u8]) -> Result<(), ConfigError> {
        let mut ctx = SetCtx {
            reading_file: true,
            save_loaded: false,
        };
        self.load_string(text, &mut ctx, 0)?;
        if let Some((linenum, line)) = &self.user_line {
            return Err(ConfigError::at(*linenum, line, USER_UNSUPPORTED));
        }
        if !self.logfile.is_empty() {
            if let Err(e) = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&self.logfile)
            {
                return Err(ConfigError::Fatal {
                    line: None,
                    reason: format!("Can't open the log file: {}", strerror_of(&e)),
                });
            }
        }
        if self.bool_of("cluster-enabled") && self.replicaof.is_some() {
            return Err(ConfigError::Fatal {
                line: None,
                reason: "replicaof directive not allowed in cluster mode".into(),
            });
        }
        self.clamp_hz();
        self.sync();
        Ok(())
    }

    fn load_string(
        &mut self,
        text: &[u8],
        ctx: &mut SetCtx,
        depth: usize,
    ) -> Result<(), ConfigError> {
        for (i, raw) in text.split(|c| *c == b'\n').enumerate() {
            let linenum = i + 1;
            let line = trim(raw);
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            let Some(argv) = split_args(line) else {
                return Err(ConfigError::at(
                    linenum,
                    line,
                    "Unbalanced quotes in configuration line",
                ));
            };
            if argv.is_empty() {
                continue;
            }
            let name = lower(&argv[0]);
            let argc = argv.len();
            if let Some((idx, _)) = registry::lookup(name.as_bytes()) {
                let d = &DIRECTIVES[idx];
                if !d.has(MULTI_ARG) && argc != 2 {
                    return Err(ConfigError::at(linenum, line, "wrong number of arguments"));
                }
                let args: Vec<Vec<u8>> = if d.has(MULTI_ARG) && argc == 2 && !argv[1].is_empty() {
                    // `--save "60 1"` arrives as one word: split it like Redis does.
                    split_args(&argv[1]).unwrap_or_default()
                } else {
                    argv[1..].to_vec()
                };
                let parsed = value::parse(d, &self.values[idx], &args, ctx)
                    .map_err(|reason| ConfigError::at(linenum, line, reason))?;
                self.values[idx] = parsed.value;
                self.explicit[idx] = true;
                // Later lines (a relative `dir`, `cluster-enabled`) may depend on this one.
                self.sync();
                continue;
            }
            if registry::DEPRECATED.contains(&name.as_str()) && argc == 2 {
                continue;
            }
            match name.as_str() {
                "include" if argc == 2 => {
                    if depth >= MAX_INCLUDE_DEPTH {
                        return Err(ConfigError::at(linenum, line, "Too many nested includes"));
                    }
                    let path = PathBuf::from(String::from_utf8_lossy(&argv[1]).into_owned());
                    let content = read_config_path(&path)?;
                    self.load_string(&content, ctx, depth + 1)?;
                }
                "rename-command" if argc == 3 => {
                    self.rename_commands
                        .push((argv[1].clone(), argv[2].clone()));
                    self.note_ineffective("rename-command");
                }
                "user" if argc >= 2 => {
                    // Checked as Redis does (duplicates, bad rules). Sentinel enforces ACL
                    // users; the data node has no ACL yet and refuses them after the read.
                    let all = self.enum_of("acl-pubsub-default") == 1;
                    crate::sentinel::acl::check_config_user(&argv, &self.users, all)
                        .map_err(|e| ConfigError::at(linenum, line, e))?;
                    self.users.push(argv[1..].to_vec());
                    if !self.sentinel_mode && self.user_line.is_none() {
                        self.user_line = Some((linenum, line.to_vec()));
                    }
                }
                "loadmodule" if argc >= 2 => self.note_ineffective("loadmodule"),
                _ if name.contains('.') => {
                    if argc < 2 {
                        return Err(ConfigError::at(
                            linenum,
                            line,
                            "Module config specified without value",
                        ));
                    }
                    self.note_ineffective(&name);
                }
                "sentinel" => {
                    if argc != 1 {
                        if !self.sentinel_mode {
                            return Err(ConfigError::at(
                                linenum,
                                line,
                                "sentinel directive while not in sentinel mode",
                            ));
                        }
                        self.sentinel_lines.push(SentinelLine {
                            linenum,
                            line: String::from_utf8_lossy(line).into_owned(),
                            args: argv[1..].to_vec(),
                        });
                    }
                }
                _ => {
                    return Err(ConfigError::at(
                        linenum,
                        line,
                        "Bad directive or wrong number of arguments",
                    ));
                }
            }
        }
        Ok(())
    }

    fn note_ineffective(&mut self, name: &str) {
        if !self.other_ineffective.iter().any(|n| n == name) {
            self.other_ineffective.push(name.to_string());
        }
    }

    /// Directives explicitly set in the loaded configuration that ringkv accepts but
    /// does not act on (yet). The server logs them once at startup.
    pub fn ineffective(&self) -> Vec<String> {
        let mut out: Vec<String> = DIRECTIVES
            .iter()
            .zip(&self.explicit)
            .filter(|(d, set)| **set && !EFFECTIVE.contains(&d.name))
            .map(|(d, _)| d.name.to_string())
            .collect();
        out.extend(self.other_ineffective.iter().cloned());
        out
    }

    /// The subset of [`Config::ineffective`] whose value differs from the default: the
    /// settings a user would miss (a stock redis.conf spells out many defaults).
    pub fn ineffective_changed(&self) -> Vec<String> {
        let mut out: Vec<String> = DIRECTIVES
            .iter()
            .zip(&self.explicit)
            .zip(&self.values)
            .filter(|((d, set), v)| {
                **set && !EFFECTIVE.contains(&d.name) && **v != value::default_value(d)
            })
            .map(|((d, _), _)| d.name.to_string())
            .collect();
        out.extend(self.other_ineffective.iter().cloned());
        out
    }

    /// CONFIG GET: (name, value) pairs for every directive matching one of the patterns
    /// (Redis glob, case-insensitive). An exact name answers under the name asked for.
    pub fn get(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for pat in patterns {
            if !pat.iter().any(|c| matches!(c, b'[' | b'*' | b'?')) {
                let key = String::from_utf8_lossy(pat).into_owned();
                if out.iter().any(|(k, _)| *k == key) {
                    continue;
                }
                if let Some((idx, _)) = registry::lookup(pat) {
                    out.push((key, value::format(&DIRECTIVES[idx], &self.values[idx])));
                }
                continue;
            }
            for (idx, d) in DIRECTIVES.iter().enumerate() {
                if d.has(HIDDEN) {
                    continue;
                }
                for name in std::iter::once(d.name).chain(d.alias) {
                    if out.iter().any(|(k, _)| k == name) || !glob_match(pat, name.as_bytes(), true)
                    {
                        continue;
                    }
                    out.push((name.to_string(), value::format(d, &self.values[idx])));
                }
            }
        }
        out
    }

    /// The CONFIG GET value of one directive (name or alias).
    pub fn get_one(&self, name: &str) -> Option<String> {
        registry::lookup(name.as_bytes())
            .map(|(idx, _)| value::format(&DIRECTIVES[idx], &self.values[idx]))
    }

    /// CONFIG SET from a client that is not local (loopback/unix socket); see
    /// [`Config::set_from`].
    pub fn set(&mut self, args: &[&[u8]]) -> Result<Vec<&'static str>, String> {
        self.set_from(args, false)
    }

    /// CONFIG SET `name value [name value ...]`, all or nothing. Returns the primary names
    /// whose value changed (the caller applies them: rebind on `port`/`bind`, chdir on
    /// `dir`, ...), or the full error text without the leading `-`.
    pub fn set_from(
        &mut self,
        args: &[&[u8]],
        local_client: bool,
    ) -> Result<Vec<&'static str>, String> {
        if args.is_empty() {
            return Err("ERR wrong number of arguments for 'config|set' command".into());
        }
        if args.len() % 2 == 1 {
            return Err("ERR syntax error".into());
        }
        let mut chosen: Vec<(usize, bool)> = Vec::new();
        for pair in args.chunks(2) {
            let name = pair[0];
            let shown = String::from_utf8_lossy(name);
            let Some(found) = registry::lookup(name) else {
                return Err(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{shown}'"
                ));
            };
            let d = &DIRECTIVES[found.0];
            let protected_ok = match self.enable_protected_configs {
                Protection::Yes => true,
                Protection::Local => local_client,
                Protection::No => false,
            };
            if d.has(IMMUTABLE) || (d.has(PROTECTED) && !protected_ok) {
                let why = if d.has(IMMUTABLE) {
                    "can't set immutable config"
                } else {
                    "can't set protected config"
                };
                return Err(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{shown}') - {why}"
                ));
            }
            if chosen.contains(&found) {
                return Err(format!("ERR CONFIG SET failed (possibly related to argument '{shown}') - duplicate parameter"));
            }
            chosen.push(found);
        }

        let mut values = self.values.clone();
        let mut changed: Vec<&'static str> = Vec::new();
        for (pair, (idx, via_alias)) in args.chunks(2).zip(&chosen) {
            let d: &Directive = &DIRECTIVES[*idx];
            let words: Vec<Vec<u8>> = if d.has(MULTI_ARG) {
                if pair[1].is_empty() {
                    Vec::new()
                } else {
                    pair[1].split(|c| *c == b' ').map(<[u8]>::to_vec).collect()
                }
            } else {
                vec![pair[1].to_vec()]
            };
            let mut ctx = SetCtx::default();
            match value::parse(d, &values[*idx], &words, &mut ctx) {
                Ok(p) => {
                    if p.changed && !changed.contains(&d.name) {
                        changed.push(d.name);
                    }
                    values[*idx] = p.value;
                }
                Err(reason) => {
                    let shown = if *via_alias {
                        d.alias.unwrap_or(d.name)
                    } else {
                        d.name
                    };
                    return Err(format!(
                        "ERR CONFIG SET failed (possibly related to argument '{shown}') - {reason}"
                    ));
                }
            }
        }
        self.values = values;
        self.clamp_hz();
        self.sync();
        Ok(changed)
    }

    /// REPLICAOF / SLAVEOF: `None` is `NO ONE`.
    pub fn set_replicaof(&mut self, master: Option<(String, u16)>) {
        if let Some((idx, _)) = registry::lookup(b"replicaof") {
            self.values[idx] = Value::ReplicaOf(master);
            self.sync();
        }
    }

    /// CONFIG REWRITE: rewrites the config file in place, keeping comments and lines it
    /// does not own. The error is the full reply text without the leading `-`.
    pub fn rewrite(&self) -> Result<(), String> {
        self.rewrite_with(&[])
    }

    /// CONFIG REWRITE plus lines owned by another module, given as (option key, lines):
    /// Sentinel passes `("sentinel myid", vec!["sentinel myid <id>"])`,
    /// `("sentinel monitor", ...)` and so on; old lines with the same key (`sentinel` +
    /// first word, in sentinel mode) are replaced in place, leftovers removed.
    pub fn rewrite_with(&self, extra: &[(&str, Vec<String>)]) -> Result<(), String> {
        let Some(path) = &self.config_file else {
            return Err("ERR The server is running without a config file".into());
        };
        rewrite::rewrite_file(path, self, extra)
            .map_err(|e| format!("ERR Rewriting config file: {}", strerror_of(&e)))
    }

    /// The text CONFIG REWRITE would write for `old` (the current file content).
    pub fn rewrite_content(&self, old: &[u8]) -> Vec<u8> {
        rewrite::rewritten_content(old, self, &[])
    }

    pub(crate) fn value_at(&self, idx: usize) -> &Value {
        &self.values[idx]
    }

    fn clamp_hz(&mut self) {
        if let Some((idx, _)) = registry::lookup(b"hz") {
            if let Value::Num(n) = self.values[idx] {
                self.values[idx] = Value::Num(n.clamp(1, 500));
            }
        }
    }

    fn val(&self, name: &str) -> Option<&Value> {
        registry::lookup(name.as_bytes()).map(|(i, _)| &self.values[i])
    }

    fn num_of(&self, name: &str) -> i128 {
        match self.val(name) {
            Some(Value::Num(n)) => *n,
            _ => 0,
        }
    }

    fn u64_of(&self, name: &str) -> u64 {
        u64::try_from(self.num_of(name)).unwrap_or(0)
    }

    fn bool_of(&self, name: &str) -> bool {
        matches!(self.val(name), Some(Value::Bool(true)))
    }

    fn bytes_of(&self, name: &str) -> Option<Vec<u8>> {
        match self.val(name) {
            Some(Value::Str(s)) => s.clone(),
            _ => None,
        }
    }

    fn string_of(&self, name: &str) -> String {
        self.bytes_of(name)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    fn enum_of(&self, name: &str) -> u32 {
        match self.val(name) {
            Some(Value::Enum(e)) => *e,
            _ => 0,
        }
    }

    fn formatted(&self, name: &str) -> String {
        self.get_one(name).unwrap_or_default()
    }

    /// Refreshes the typed fields from the value store.
    fn sync(&mut self) {
        let protection = |v: u32| match v {
            1 => Protection::Yes,
            2 => Protection::Local,
            _ => Protection::No,
        };
        let shutdown = |v: u32| ShutdownFlags {
            save: v & registry::SHUTDOWN_SAVE != 0,
            nosave: v & registry::SHUTDOWN_NOSAVE != 0,
            now: v & registry::SHUTDOWN_NOW != 0,
            force: v & registry::SHUTDOWN_FORCE != 0,
        };
        self.port = u16::try_from(self.num_of("port")).unwrap_or(6379);
        self.bind = match self.val("bind") {
            Some(Value::Bind(b)) => b.clone(),
            _ => Vec::new(),
        };
        self.protected_mode = self.bool_of("protected-mode");
        self.requirepass = self.bytes_of("requirepass");
        self.timeout = self.u64_of("timeout");
        self.tcp_keepalive = self.u64_of("tcp-keepalive");
        self.tcp_backlog = i32::try_from(self.num_of("tcp-backlog")).unwrap_or(511);
        self.maxclients = self.u64_of("maxclients");
        self.databases = usize::try_from(self.num_of("databases")).unwrap_or(16);
        self.shards = usize::try_from(self.num_of("shards")).unwrap_or(1);
        self.loglevel = match self.enum_of("loglevel") {
            0 => LogLevel::Debug,
            1 => LogLevel::Verbose,
            3 => LogLevel::Warning,
            4 => LogLevel::Nothing,
            _ => LogLevel::Notice,
        };
        self.logfile = self.string_of("logfile");
        self.daemonize = self.bool_of("daemonize");
        self.pidfile = self.string_of("pidfile");
        self.supervised = match self.enum_of("supervised") {
            1 => Supervised::Upstart,
            2 => Supervised::Systemd,
            3 => Supervised::Auto,
            _ => Supervised::No,
        };
        self.always_show_logo = self.bool_of("always-show-logo");
        self.unixsocket = self.string_of("unixsocket");
        self.unixsocketperm = u32::try_from(self.num_of("unixsocketperm")).unwrap_or(0);
        self.proto_max_bulk_len = self.u64_of("proto-max-bulk-len");
        self.client_query_buffer_limit = self.u64_of("client-query-buffer-limit");
        self.hz = u32::try_from(self.num_of("hz")).unwrap_or(10);
        self.enable_debug_command = protection(self.enum_of("enable-debug-command"));
        self.enable_module_command = protection(self.enum_of("enable-module-command"));
        self.enable_protected_configs = protection(self.enum_of("enable-protected-configs"));
        self.shutdown_on_sigterm = shutdown(self.enum_of("shutdown-on-sigterm"));
        self.shutdown_on_sigint = shutdown(self.enum_of("shutdown-on-sigint"));
        self.shutdown_timeout = self.u64_of("shutdown-timeout");
        self.slowlog_log_slower_than =
            i64::try_from(self.num_of("slowlog-log-slower-than")).unwrap_or(10000);
        self.slowlog_max_len = self.u64_of("slowlog-max-len");
        self.latency_tracking = self.bool_of("latency-tracking");
        self.save_params = match self.val("save") {
            Some(Value::Save(s)) => s.clone(),
            _ => Vec::new(),
        };
        if let Some(Value::Dir(d)) = self.val("dir") {
            self.dir = d.clone();
        }
        self.dbfilename = self.string_of("dbfilename");
        self.notify_keyspace_flags = match self.val("notify-keyspace-events") {
            Some(Value::Notify(f)) => *f,
            _ => 0,
        };
        self.notify_keyspace_events = value::notify_string(self.notify_keyspace_flags);
        self.maxmemory = self.u64_of("maxmemory");
        self.maxmemory_policy = self.formatted("maxmemory-policy");
        self.maxmemory_samples = u32::try_from(self.num_of("maxmemory-samples")).unwrap_or(5);
        self.appendonly = self.bool_of("appendonly");
        self.appendfsync = self.formatted("appendfsync");
        self.rdbcompression = self.bool_of("rdbcompression");
        self.rdbchecksum = self.bool_of("rdbchecksum");
        self.stop_writes_on_bgsave_error = self.bool_of("stop-writes-on-bgsave-error");
        self.replicaof = match self.val("replicaof") {
            Some(Value::ReplicaOf(r)) => r.clone(),
            _ => None,
        };
        self.masterauth = self.bytes_of("masterauth");
        self.masteruser = self
            .bytes_of("masteruser")
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        self.replica_read_only = self.bool_of("replica-read-only");
        self.repl_backlog_size = self.u64_of("repl-backlog-size");
        self.replica_priority = self.u64_of("replica-priority");
        self.io_threads = u32::try_from(self.num_of("io-threads")).unwrap_or(1);
        if let Some(Value::Obuf(o)) = self.val("client-output-buffer-limit") {
            self.client_output_buffer_limit = *o;
        }
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if matches!(first, b' ' | b'\t' | b'\r' | b'\n') {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if matches!(last, b' ' | b'\t' | b'\r' | b'\n') {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Reads a config file, or every file matching a glob (alphabetical; no match is fine).
fn read_config_path(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let text = path.to_string_lossy();
    let open_err = |p: &Path, e: std::io::Error| ConfigError::Open {
        path: p.to_path_buf(),
        reason: strerror_of(&e),
    };
    if text.contains(['*', '?', '[']) {
        let mut out = Vec::new();
        let Ok(paths) = glob::glob(&text) else {
            return Ok(out);
        };
        let mut files: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        files.sort();
        for f in files {
            let content = std::fs::read(&f).map_err(|e| open_err(&f, e))?;
            out.extend_from_slice(&content);
        }
        return Ok(out);
    }
    std::fs::read(path).map_err(|e| open_err(path, e))
}

#[cfg(test)]
mod tests;
