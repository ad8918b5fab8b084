//! Sentinel mode's command table (what `COMMAND`, ACL categories and ACL permission bits read):
//! the data node's [`CommandSpec`]s for the commands both modes share, and the same kind of
//! spec for the sentinel-only ones (SENTINEL, ACL and the CLIENT/COMMAND subcommands the data
//! node lacks). Every command and subcommand gets an id, its ACL permission bit.

use crate::commands::spec::*;
use crate::commands::{table as data_table, Handler};
use crate::net::Conn;
use bytes::Bytes;
use std::sync::LazyLock;

/// Sentinel-only specs are executed by the sentinel engine by name, never through this.
const NOT_DISPATCHED: Handler = Handler::Conn(not_dispatched);

fn not_dispatched(conn: &mut Conn, argv: &[Bytes]) {
    conn.error(&crate::commands::errors::unknown_subcommand(
        argv.get(1).map_or(&b""[..], |b| &b[..]),
        &String::from_utf8_lossy(&argv[0]).to_ascii_lowercase(),
    ));
}

/// The 15 top-level commands of redis-sentinel 7.0.
const TOP_LEVEL: &[&str] = &[
    "auth",
    "client",
    "hello",
    "ping",
    "psubscribe",
    "publish",
    "punsubscribe",
    "subscribe",
    "unsubscribe",
    "sentinel",
    "acl",
    "command",
    "info",
    "role",
    "shutdown",
];

/// CLIENT's subcommands in 7.0 (the data node also has 7.2's, which sentinel 7.0 lacks).
const CLIENT_SUBS_70: &[&str] = &[
    "caching",
    "getname",
    "getredir",
    "help",
    "id",
    "info",
    "kill",
    "list",
    "no-evict",
    "pause",
    "reply",
    "setname",
    "tracking",
    "trackinginfo",
    "unblock",
    "unpause",
];

pub static SENTINEL_CMD: CommandSpec = CommandSpec {
    flags: ADMIN | SENTINEL,
    handler: NOT_DISPATCHED,
    ..container(
        "sentinel",
        "sentinel",
        "2.8.4",
        "A container for Sentinel commands",
        SENTINEL_SUBS,
    )
};

pub static ACL_CMD: CommandSpec = CommandSpec {
    flags: SENTINEL,
    handler: NOT_DISPATCHED,
    ..container(
        "acl",
        "server",
        "6.0.0",
        "A container for Access List Control commands ",
        ACL_SUBS,
    )
};

#[rustfmt::skip]
static SENTINEL_SUBS: &[CommandSpec] = &[
    spec("sentinel|ckquorum", 3, ADMIN | SENTINEL, Keys::None, "sentinel", "2.8.4",
        "Check for a Sentinel quorum",
        "", NOT_DISPATCHED),
    spec("sentinel|config", -3, ADMIN | SENTINEL, Keys::None, "sentinel", "6.2.0",
        "Configure Sentinel",
        "O(1)", NOT_DISPATCHED),
    spec("sentinel|debug", -2, ADMIN | SENTINEL, Keys::None, "sentinel", "7.0.0",
        "List or update the current configurable parameters",
        "O(N) where N is the number of configurable parameters", NOT_DISPATCHED),
    spec("sentinel|failover", 3, ADMIN | SENTINEL, Keys::None, "sentinel", "2.8.4",
        "Force a failover",
        "", NOT_DISPATCHED),
    spec("sentinel|flushconfig", 2, ADMIN | SENTINEL, Keys::None, "sentinel", "2.8.4",
        "Rewrite configuration file",
        "O(1)", NOT_DISPATCHED),
    spec("sentinel|get-master-addr-by-name", 3, ADMIN | SENTINEL, Keys::None, "sentinel", "2.8.4",
        "Get port and address of a master",
        "O(1)", NOT_DISPATCHED),
    spec("sentinel|help", 2, LOADING | STALE | SENTINEL | SENTINEL, Keys::None, "sentinel", "6.2.0",
        "Show helpful text about the different subcommands",
        "O(1)", NOT_DISPATCHED),
    spec("sentinel|info-cache", -3, ADMIN | SENTINEL, Keys::None, "sentinel", "3.2.0",
        "Get cached INFO from the instances in the deployment",
        "O(N) where N is the number of instances", NOT_DISPATCHED),
    spec("sentinel|is-master-down-by-addr", 6, ADMIN | SENTINEL, Keys::None, "sentinel", "2.8.4",
        "Check if a master is down",
        "O(1)", NOT_DISPATCHED),
    spec("sentinel|master", 3, ADMIN | SENTINEL, Keys::None, "sentinel", "2.8.4",
        "Shows the state of a master",
        "O(1)", NOT_DISPATCHED),
    spec("sentinel|masters", 2, ADMIN | SENTINEL, Keys::None, "sentinel", "2.8.4",
        "List the monitored masters",
        "O(N) where N is the number of masters", NOT_DISPATCHED),
    spec("sentinel|monitor", 6, ADMIN | SENTINEL, Keys::None, "sentinel", "2.8.4",
        "Start monitoring",
        "O(1)", NOT_DISPATCHED),
    spec("sentinel|myid", 2, ADMIN | SENTINEL, Keys::None, "sentinel", "6.2.0",
        "Get the Sentinel instance ID",
        "O(1)", NOT_DISPATCHED),
    spec("sentinel|pending-scripts", 2, ADMIN | SENTINEL, Keys::None, "sentinel", "2.8.4",
        "Get information about pending scripts",
        "", NOT_DISPATCHED),
    spec("sentinel|remove", 3, ADMIN | SENTINEL, Keys::None, "sentinel", "2.8.4",
        "Stop monitoring",
        "O(1)", NOT_DISPATCHED),
    spec("sentinel|replicas", 3, ADMIN | SENTINEL, Keys::None, "sentinel", "5.0.0",
        "List the monitored replicas",
        "O(N) where N is the number of replicas", NOT_DISPATCHED),
    spec("sentinel|reset", 3, ADMIN | SENTINEL, Keys::None, "sentinel", "2.8.4",
        "Reset masters by name pattern",
        "O(N) where N is the number of monitored masters", NOT_DISPATCHED),
    spec("sentinel|sentinels", 3, ADMIN | SENTINEL, Keys::None, "sentinel", "2.8.4",
        "List the Sentinel instances",
        "O(N) where N is the number of Sentinels", NOT_DISPATCHED),
    spec("sentinel|set", -5, ADMIN | SENTINEL, Keys::None, "sentinel", "2.8.4",
        "Change the configuration of a monitored master",
        "O(1)", NOT_DISPATCHED),
    spec("sentinel|simulate-failure", -3, ADMIN | SENTINEL, Keys::None, "sentinel", "3.2.0",
        "Simulate failover scenarios",
        "", NOT_DISPATCHED),
    spec("sentinel|slaves", 3, ADMIN | SENTINEL, Keys::None, "sentinel", "2.8.0",
        "List the monitored slaves",
        "O(N) where N is the number of slaves", NOT_DISPATCHED),
];

#[rustfmt::skip]
static ACL_SUBS: &[CommandSpec] = &[
    spec("acl|cat", -2, NOSCRIPT | LOADING | STALE | SENTINEL, Keys::None, "server", "6.0.0",
        "List the ACL categories or the commands inside a category",
        "O(1) since the categories and commands are a fixed set.", NOT_DISPATCHED),
    spec("acl|deluser", -3, ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, Keys::None, "server", "6.0.0",
        "Remove the specified ACL users and the associated rules",
        "O(1) amortized time considering the typical user.", NOT_DISPATCHED),
    spec("acl|dryrun", -4, ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, Keys::None, "server", "7.0.0",
        "Returns whether the user can execute the given command without executing the command.",
        "O(1).", NOT_DISPATCHED),
    spec("acl|genpass", -2, NOSCRIPT | LOADING | STALE | SENTINEL, Keys::None, "server", "6.0.0",
        "Generate a pseudorandom secure password to use for ACL users",
        "O(1)", NOT_DISPATCHED),
    spec("acl|getuser", 3, ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, Keys::None, "server", "6.0.0",
        "Get the rules for a specific ACL user",
        "O(N). Where N is the number of password, command and pattern rules that the user has.", NOT_DISPATCHED),
    spec("acl|help", 2, LOADING | STALE | SENTINEL, Keys::None, "server", "6.0.0",
        "Show helpful text about the different subcommands",
        "O(1)", NOT_DISPATCHED),
    spec("acl|list", 2, ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, Keys::None, "server", "6.0.0",
        "List the current ACL rules in ACL config file format",
        "O(N). Where N is the number of configured users.", NOT_DISPATCHED),
    spec("acl|load", 2, ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, Keys::None, "server", "6.0.0",
        "Reload the ACLs from the configured ACL file",
        "O(N). Where N is the number of configured users.", NOT_DISPATCHED),
    spec("acl|log", -2, ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, Keys::None, "server", "6.0.0",
        "List latest events denied because of ACLs in place",
        "O(N) with N being the number of entries shown.", NOT_DISPATCHED),
    spec("acl|save", 2, ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, Keys::None, "server", "6.0.0",
        "Save the current ACL rules in the configured ACL file",
        "O(N). Where N is the number of configured users.", NOT_DISPATCHED),
    spec("acl|setuser", -3, ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, Keys::None, "server", "6.0.0",
        "Modify or create the rules for a specific ACL user",
        "O(N). Where N is the number of rules provided.", NOT_DISPATCHED),
    spec("acl|users", 2, ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, Keys::None, "server", "6.0.0",
        "List the username of all the configured ACL rules",
        "O(N). Where N is the number of configured users.", NOT_DISPATCHED),
    spec("acl|whoami", 2, NOSCRIPT | LOADING | STALE | SENTINEL, Keys::None, "server", "6.0.0",
        "Return the name of the user associated to the current connection",
        "O(1)", NOT_DISPATCHED),
];

/// CLIENT subcommands of 7.0 the data node does not have (client-side caching); the sentinel
/// runs them itself ([`crate::net::tracking::options`]).
#[rustfmt::skip]
static CLIENT_EXTRA: &[CommandSpec] = &[
    spec("client|caching", 3, NOSCRIPT | LOADING | STALE | SENTINEL, Keys::None, "connection", "6.0.0",
        "Instruct the server about tracking or not keys in the next request",
        "O(1)", NOT_DISPATCHED)
        .with_acl(&["@connection"]),
    spec("client|getredir", 2, NOSCRIPT | LOADING | STALE | SENTINEL, Keys::None, "connection", "6.0.0",
        "Get tracking notifications redirection client ID if any",
        "O(1)", NOT_DISPATCHED)
        .with_acl(&["@connection"]),
    spec("client|tracking", -3, NOSCRIPT | LOADING | STALE | SENTINEL, Keys::None, "connection", "6.0.0",
        "Enable or disable server assisted client side caching support",
        "O(1). Some options may introduce additional complexity.", NOT_DISPATCHED)
        .with_acl(&["@connection"]),
    spec("client|trackinginfo", 2, NOSCRIPT | LOADING | STALE | SENTINEL, Keys::None, "connection", "6.2.0",
        "Return information about server assisted client side caching for the current connection",
        "O(1)", NOT_DISPATCHED)
        .with_acl(&["@connection"]),
];

/// COMMAND's subcommands beyond the data node's (none since the data node has
/// GETKEYSANDFLAGS).
static COMMAND_EXTRA: &[CommandSpec] = &[];

/// One command or subcommand of the sentinel-mode table; its index is its ACL id.
pub struct Cmd {
    pub spec: &'static CommandSpec,
    pub parent: Option<usize>,
    /// Ids of the subcommands (empty for plain commands).
    pub subs: std::ops::Range<usize>,
    /// The subcommand specs, in id order (what COMMAND INFO nests).
    pub sub_specs: &'static [CommandSpec],
    /// ACL categories (computed once: ACL rules and descriptions ask for them often).
    pub categories: Vec<&'static str>,
}

pub struct Table {
    pub cmds: Vec<Cmd>,
    /// Ids of the top-level commands.
    pub top: Vec<usize>,
}

fn leak(v: Vec<CommandSpec>) -> &'static [CommandSpec] {
    Box::leak(v.into_boxed_slice())
}

fn build() -> Table {
    let mut cmds = Vec::new();
    let mut top = Vec::new();
    for name in TOP_LEVEL {
        let (spec, subs): (&'static CommandSpec, &'static [CommandSpec]) = match *name {
            "sentinel" => (&SENTINEL_CMD, SENTINEL_SUBS),
            "acl" => (&ACL_CMD, ACL_SUBS),
            _ => {
                let Some(spec) = data_table::lookup(name.as_bytes()) else {
                    continue;
                };
                let subs = match *name {
                    "client" => {
                        let mut v: Vec<CommandSpec> = spec
                            .subcommands
                            .iter()
                            .filter(|s| CLIENT_SUBS_70.contains(&sub_name(s.name)))
                            // The sentinel runs its own tracking subcommands (no keys).
                            .filter(|s| !CLIENT_EXTRA.iter().any(|e| e.name == s.name))
                            .copied()
                            .collect();
                        v.extend(CLIENT_EXTRA.iter().copied());
                        v.sort_by_key(|s| s.name);
                        leak(v)
                    }
                    "command" => {
                        let mut v: Vec<CommandSpec> =
                            crate::commands::introspect::command_subcommands().to_vec();
                        v.extend(COMMAND_EXTRA.iter().copied());
                        v.sort_by_key(|s| s.name);
                        leak(v)
                    }
                    _ => spec.subcommands,
                };
                (spec, subs)
            }
        };
        let id = cmds.len();
        top.push(id);
        let first = id + 1;
        cmds.push(Cmd {
            spec,
            parent: None,
            subs: first..first + subs.len(),
            sub_specs: subs,
            categories: spec.reported_acl_categories(),
        });
        for s in subs {
            cmds.push(Cmd {
                spec: s,
                parent: Some(id),
                subs: 0..0,
                sub_specs: &[],
                categories: s.reported_acl_categories(),
            });
        }
    }
    Table { cmds, top }
}

fn sub_name(full: &str) -> &str {
    full.split_once('|').map_or(full, |(_, s)| s)
}

static TABLE: LazyLock<Table> = LazyLock::new(build);

pub fn table() -> &'static Table {
    &TABLE
}

impl Table {
    /// A top-level command by name (any case).
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        self.top
            .iter()
            .copied()
            .find(|&i| self.cmds[i].spec.name.as_bytes().eq_ignore_ascii_case(name))
    }

    /// A subcommand of `parent` by its short name (any case).
    pub fn lookup_sub(&self, parent: usize, name: &[u8]) -> Option<usize> {
        self.cmds[parent].subs.clone().find(|&i| {
            sub_name(self.cmds[i].spec.name)
                .as_bytes()
                .eq_ignore_ascii_case(name)
        })
    }

    /// `name` or `parent|sub`.
    pub fn lookup_full(&self, name: &[u8]) -> Option<usize> {
        match name.iter().position(|&c| c == b'|') {
            None => self.lookup(name),
            Some(i) => self.lookup_sub(self.lookup(&name[..i])?, &name[i + 1..]),
        }
    }

    /// The command `argv` runs, as Redis's `lookupCommand`: a container with an argument
    /// resolves to its subcommand (None when that is unknown).
    pub fn resolve(&self, argv: &[Bytes]) -> Option<usize> {
        let id = self.lookup(argv.first()?)?;
        if self.cmds[id].subs.is_empty() || argv.len() < 2 {
            return Some(id);
        }
        self.lookup_sub(id, &argv[1])
    }

    /// Whether the command only dispatches to subcommands (COMMAND is not: it runs bare).
    pub fn is_container(&self, id: usize) -> bool {
        !self.cmds[id].subs.is_empty() && self.cmds[id].spec.name != "command"
    }

    /// The ACL categories of a command (as COMMAND INFO shows them).
    pub fn categories(&self, id: usize) -> &[&'static str] {
        &self.cmds[id].categories
    }

    /// Every id in Redis's iteration shape: each command followed by its subcommands.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_mode_has_15_commands_and_72_names() {
        let t = table();
        assert_eq!(t.top.len(), 15);
        assert_eq!(t.len(), 72);
        assert_eq!(
            t.cmds[t.lookup_full(b"SENTINEL|Masters").unwrap()]
                .spec
                .arity,
            2
        );
        assert!(t.lookup_full(b"client|setinfo").is_none());
        assert!(t.lookup_full(b"client|tracking").is_some());
        let role = t.lookup(b"role").unwrap();
        assert_eq!(t.categories(role), vec!["@admin", "@fast", "@dangerous"]);
    }
}
