//! The declarative command spec: one per command, the single source of truth for arity, flags,
//! key positions, ACL categories and COMMAND DOCS text. Routing reads key positions from it.

use super::Handler;
use bytes::Bytes;

pub type Flags = u32;
pub const WRITE: Flags = 1 << 0;
pub const READONLY: Flags = 1 << 1;
pub const DENYOOM: Flags = 1 << 2;
pub const ADMIN: Flags = 1 << 3;
pub const PUBSUB: Flags = 1 << 4;
pub const NOSCRIPT: Flags = 1 << 5;
pub const BLOCKING: Flags = 1 << 6;
pub const LOADING: Flags = 1 << 7;
pub const STALE: Flags = 1 << 8;
pub const SKIP_MONITOR: Flags = 1 << 9;
pub const SKIP_SLOWLOG: Flags = 1 << 10;
pub const FAST: Flags = 1 << 11;
pub const NO_AUTH: Flags = 1 << 12;
pub const MAY_REPLICATE: Flags = 1 << 13;
pub const NO_MULTI: Flags = 1 << 14;
pub const ALLOW_BUSY: Flags = 1 << 15;
pub const SENTINEL: Flags = 1 << 16;
pub const NO_MANDATORY_KEYS: Flags = 1 << 17;
pub const DANGEROUS: Flags = 1 << 18;
/// ringkv-internal: a coordinating command whose keyed steps record its effects (SORT), so
/// the dispatcher does not propagate it as a whole. Not reported by COMMAND INFO.
pub const OWN_EFFECTS: Flags = 1 << 19;
/// Refused while a replica loads its dataset asynchronously (Redis's `no_async_loading`).
/// ringkv loads synchronously, so this is reported by COMMAND INFO only.
pub const NO_ASYNC_LOADING: Flags = 1 << 20;
/// The key positions need a look at the arguments beyond what the key specs describe (Redis
/// has a `getkeys_proc` for the command): COMMAND INFO shows `movablekeys`.
pub const GETKEYS_PROC: Flags = 1 << 21;

/// Key-spec flags (Redis's `CMD_KEY_*`): how a command uses the keys a spec finds.
pub type KeyFlags = u16;
pub const KS_RO: KeyFlags = 1 << 0;
pub const KS_RW: KeyFlags = 1 << 1;
pub const KS_OW: KeyFlags = 1 << 2;
pub const KS_RM: KeyFlags = 1 << 3;
pub const KS_ACCESS: KeyFlags = 1 << 4;
pub const KS_UPDATE: KeyFlags = 1 << 5;
pub const KS_INSERT: KeyFlags = 1 << 6;
pub const KS_DELETE: KeyFlags = 1 << 7;
pub const KS_NOT_KEY: KeyFlags = 1 << 8;
pub const KS_INCOMPLETE: KeyFlags = 1 << 9;
pub const KS_VARIABLE_FLAGS: KeyFlags = 1 << 10;

/// The key-spec flags in the order and spelling Redis reports them.
pub const KEY_FLAG_NAMES: &[(KeyFlags, &str)] = &[
    (KS_RO, "RO"),
    (KS_RW, "RW"),
    (KS_OW, "OW"),
    (KS_RM, "RM"),
    (KS_ACCESS, "access"),
    (KS_UPDATE, "update"),
    (KS_INSERT, "insert"),
    (KS_DELETE, "delete"),
    (KS_NOT_KEY, "not_key"),
    (KS_INCOMPLETE, "incomplete"),
    (KS_VARIABLE_FLAGS, "variable_flags"),
];

/// Where the search for a key spec's keys starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BeginSearch {
    /// At this argv index.
    Index(i32),
    /// After the last (startfrom < 0: counting from the end) occurrence of the keyword,
    /// searching from argv index `startfrom`.
    Keyword(&'static str, i32),
    /// Not describable (the keys are found by the command's own parser).
    Unknown,
}

/// How the keys are found from where the search began.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FindKeys {
    /// (lastkey, keystep, limit): lastkey relative to the start (< 0: from the end of argv).
    Range(i32, i32, i32),
    /// (keynumidx, firstkey, keystep): the number of keys is at keynumidx, relative to the
    /// start, and the keys begin at firstkey.
    Keynum(i32, i32, i32),
    Unknown,
}

/// One of Redis's key specs, as COMMAND INFO reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KeySpec {
    /// Empty: none.
    pub notes: &'static str,
    pub flags: KeyFlags,
    pub begin: BeginSearch,
    pub find: FindKeys,
}

/// Shorthand for table literals: `ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), ...)`.
pub const fn ks(flags: KeyFlags, begin: BeginSearch, find: FindKeys) -> KeySpec {
    KeySpec {
        notes: "",
        flags,
        begin,
        find,
    }
}

impl KeySpec {
    pub const fn notes(mut self, notes: &'static str) -> Self {
        self.notes = notes;
        self
    }
}

/// Where a command's keys are in argv.
#[derive(Clone, Copy)]
pub enum Keys {
    None,
    /// Redis's legacy (first, last, step); last < 0 counts from the end.
    Range(i32, i32, i32),
    /// Computed from the arguments: pushes argv indexes. Used where the positions depend on
    /// the arguments (numkeys, COPY ... DB n). A key in another database than the
    /// connection's (COPY's DB n, MOVE's target) is preceded by the marker `IN_DB + n`.
    Custom(fn(&[Bytes], &mut Vec<usize>)),
}

/// Marker pushed by a [`Keys::Custom`] function before a key position: the next key lives in
/// database `marker - IN_DB`, not the connection's.
pub const IN_DB: usize = usize::MAX / 2;

#[derive(Clone, Copy)]
pub struct CommandSpec {
    /// Lower case.
    pub name: &'static str,
    /// Redis arity: n = exactly n arguments (with the name), -n = at least n.
    pub arity: i32,
    pub flags: Flags,
    pub keys: Keys,
    /// (first, last, step) reported by COMMAND INFO.
    pub legacy_keys: (i32, i32, i32),
    /// The command's group: "string", "generic", "bitmap", "connection", "server", ...
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    pub handler: Handler,
    pub subcommands: &'static [CommandSpec],
    /// COMMAND INFO's tips (`nondeterministic_output`, `request_policy:...`), as in Redis's
    /// command JSON.
    pub tips: &'static [&'static str],
    /// ACL categories Redis's command JSON names explicitly (beyond those derived from flags
    /// and group), e.g. ROLE's `@admin @dangerous`.
    pub acl_extra: &'static [&'static str],
    /// Whether the command's group gives it an ACL category (`list` -> `@list`...); Redis
    /// gives none to a few commands (SORT is `@set @sortedset @list`, PUBSUB HELP only `@slow`).
    pub group_acl: bool,
    /// Redis's key specs, in its order (COMMAND INFO, COMMAND GETKEYSANDFLAGS).
    pub key_specs: &'static [KeySpec],
    /// For a command whose key flags depend on its arguments (a `variable_flags` or unknown
    /// key spec: SET ... GET, BITFIELD ... SET, SORT ... STORE): the flags of the key at argv
    /// index `pos`, as Redis's own key parser for the command gives them.
    pub variable_key_flags: Option<fn(&[Bytes], usize) -> KeyFlags>,
}

/// Shorthand for table literals: `spec("get", 2, READONLY | FAST, Keys::Range(1, 1, 1), ...)`.
#[allow(clippy::too_many_arguments)]
pub const fn spec(
    name: &'static str,
    arity: i32,
    flags: Flags,
    keys: Keys,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    complexity: &'static str,
    handler: Handler,
) -> CommandSpec {
    let legacy_keys = match keys {
        Keys::Range(a, b, c) => (a, b, c),
        _ => (0, 0, 0),
    };
    CommandSpec {
        name,
        arity,
        flags,
        keys,
        legacy_keys,
        group,
        since,
        summary,
        complexity,
        handler,
        subcommands: &[],
        tips: &[],
        acl_extra: &[],
        group_acl: true,
        key_specs: &[],
        variable_key_flags: None,
    }
}

/// A container command (CLIENT, CONFIG, ...) whose work is done by its subcommands.
pub const fn container(
    name: &'static str,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    subcommands: &'static [CommandSpec],
) -> CommandSpec {
    CommandSpec {
        name,
        arity: -2,
        flags: 0,
        keys: Keys::None,
        legacy_keys: (0, 0, 0),
        group,
        since,
        summary,
        complexity: "Depends on subcommand.",
        handler: Handler::Container,
        subcommands,
        tips: &[],
        acl_extra: &[],
        group_acl: true,
        key_specs: &[],
        variable_key_flags: None,
    }
}

impl CommandSpec {
    pub const fn with_legacy_keys(mut self, first: i32, last: i32, step: i32) -> Self {
        self.legacy_keys = (first, last, step);
        self
    }

    pub const fn with_tips(mut self, tips: &'static [&'static str]) -> Self {
        self.tips = tips;
        self
    }

    pub const fn with_acl(mut self, categories: &'static [&'static str]) -> Self {
        self.acl_extra = categories;
        self
    }

    pub const fn with_key_specs(mut self, key_specs: &'static [KeySpec]) -> Self {
        self.key_specs = key_specs;
        self
    }

    /// Marks the command as finding its keys with its own parser (see [`GETKEYS_PROC`]).
    pub const fn with_getkeys_proc(mut self) -> Self {
        self.flags |= GETKEYS_PROC;
        self
    }

    pub const fn with_variable_key_flags(mut self, f: fn(&[Bytes], usize) -> KeyFlags) -> Self {
        self.variable_key_flags = Some(f);
        self
    }

    /// No ACL category from the group (see [`CommandSpec::group_acl`]).
    pub const fn without_group_acl(mut self) -> Self {
        self.group_acl = false;
        self
    }

    /// Redis's `movablekeys`: a key spec that is not a plain index + range, or a command
    /// that finds its keys by parsing its arguments.
    pub fn movable_keys(&self) -> bool {
        self.flags & GETKEYS_PROC != 0
            || self.key_specs.iter().any(|k| {
                !matches!(k.begin, BeginSearch::Index(_)) || !matches!(k.find, FindKeys::Range(..))
            })
    }

    /// Redis's `doesCommandHaveKeys`: a key spec naming real keys (SPUBLISH's shard channel
    /// is `not_key`), or a key parser of its own.
    pub fn has_keys(&self) -> bool {
        self.flags & GETKEYS_PROC != 0 || self.key_specs.iter().any(|k| k.flags & KS_NOT_KEY == 0)
    }

    /// Redis's `getKeysFromCommandWithSpecs` (COMMAND GETKEYS / GETKEYSANDFLAGS): the argv
    /// indexes of the keys of `argv` (the command line, name first) with the key-spec flags
    /// each is used with. The key specs answer when they can; otherwise (an unknown,
    /// incomplete or variable spec, or arguments they cannot make sense of) the command's own
    /// key positions do, as Redis's per-command key parser would. Empty: no valid keys.
    pub fn keys_and_flags(&self, argv: &[Bytes]) -> Vec<(usize, KeyFlags)> {
        let variable = self
            .key_specs
            .iter()
            .any(|k| k.flags & KS_VARIABLE_FLAGS != 0);
        if !variable {
            if let Some(keys) = self.keys_from_specs(argv) {
                return keys;
            }
        }
        if !self.keynums_valid(argv) {
            return Vec::new();
        }
        let mut pos = Vec::new();
        self.key_positions(argv, &mut pos);
        pos.into_iter()
            .map(|i| {
                let flags = match self.variable_key_flags {
                    Some(f) => f(argv, i),
                    None => self.flags_of_position(argv, i),
                };
                (i, flags & !KS_VARIABLE_FLAGS)
            })
            .collect()
    }

    /// The flags of the first key spec that finds argv index `pos` (0 when none does).
    fn flags_of_position(&self, argv: &[Bytes], pos: usize) -> KeyFlags {
        self.key_specs
            .iter()
            .find(|k| {
                let mut found = Vec::new();
                spec_keys(k, argv, &mut found).is_some() && found.contains(&pos)
            })
            .map_or(0, |k| k.flags)
    }

    /// `getKeysUsingKeySpecs`: None when a spec is unknown, incomplete or out of range.
    fn keys_from_specs(&self, argv: &[Bytes]) -> Option<Vec<(usize, KeyFlags)>> {
        let mut keys = Vec::new();
        for k in self.key_specs {
            if k.flags & KS_NOT_KEY != 0 {
                continue;
            }
            let mut found = Vec::new();
            spec_keys(k, argv, &mut found)?;
            if k.flags & KS_INCOMPLETE != 0 {
                return None;
            }
            keys.extend(found.into_iter().map(|i| (i, k.flags)));
        }
        Some(keys)
    }

    /// Whether every `numkeys` spec finds a positive count of keys that fit in `argv`: Redis's
    /// key parsers find no keys at all otherwise (ZUNIONSTORE d 0 a has no destination either).
    fn keynums_valid(&self, argv: &[Bytes]) -> bool {
        self.key_specs.iter().all(|k| match (k.begin, k.find) {
            (BeginSearch::Index(begin), FindKeys::Keynum(idx, first, step)) => {
                let numkeys = usize::try_from(begin + idx)
                    .ok()
                    .and_then(|i| argv.get(i))
                    .and_then(|b| super::parse_i64(b));
                match numkeys {
                    Some(n) if n >= 1 => {
                        (begin + first) as i64 + (n - 1) * (step as i64) < (argv.len() as i64)
                    }
                    _ => false,
                }
            }
            _ => true,
        })
    }

    pub fn is_write(&self) -> bool {
        self.flags & WRITE != 0
    }

    /// Argument positions of the keys in `argv`.
    pub fn key_positions(&self, argv: &[Bytes], out: &mut Vec<usize>) {
        match self.keys {
            Keys::None => {}
            Keys::Range(first, last, step) => {
                let argc = argv.len() as i32;
                let last = if last < 0 {
                    argc + last
                } else {
                    last.min(argc - 1)
                };
                let mut i = first;
                while i <= last && i > 0 && step > 0 {
                    out.push(i as usize);
                    i += step;
                }
            }
            Keys::Custom(f) => {
                let mut raw = Vec::new();
                f(argv, &mut raw);
                for i in raw {
                    if i < IN_DB && !out.contains(&i) {
                        out.push(i);
                    }
                }
            }
        }
    }

    /// The keys of `argv` as (database, argv index), the connection being in `db` and the
    /// server having `ndbs` databases (a target database out of range is left to the handler
    /// to reject; its key is taken in `db`).
    pub fn keys_with_db(
        &self,
        argv: &[Bytes],
        db: usize,
        ndbs: usize,
        out: &mut Vec<(usize, usize)>,
    ) {
        match self.keys {
            Keys::Custom(f) => {
                let mut raw = Vec::new();
                f(argv, &mut raw);
                let mut next_db = db;
                for i in raw {
                    if i >= IN_DB {
                        next_db = if i - IN_DB < ndbs { i - IN_DB } else { db };
                        continue;
                    }
                    out.push((next_db, i));
                    next_db = db;
                }
            }
            _ => {
                let mut pos = Vec::new();
                self.key_positions(argv, &mut pos);
                out.extend(pos.into_iter().map(|i| (db, i)));
            }
        }
    }

    /// The categories COMMAND INFO and ACL see, in Redis's category-table order: a container
    /// is only `@slow`.
    pub fn reported_acl_categories(&self) -> Vec<&'static str> {
        let mut cats = if matches!(self.handler, super::Handler::Container) {
            vec!["@slow"]
        } else {
            self.acl_categories()
        };
        cats.sort_by_key(|c| {
            ACL_ORDER
                .iter()
                .position(|o| o == c)
                .unwrap_or(ACL_ORDER.len())
        });
        cats
    }

    /// ACL categories, derived like Redis does from flags and group.
    pub fn acl_categories(&self) -> Vec<&'static str> {
        let mut c = Vec::new();
        if self.flags & WRITE != 0 {
            c.push("@write");
        }
        if self.flags & READONLY != 0 {
            c.push("@read");
        }
        let group = if self.group_acl { self.group } else { "" };
        match group {
            "string" => c.push("@string"),
            "bitmap" => c.push("@bitmap"),
            "generic" => c.push("@keyspace"),
            "connection" => c.push("@connection"),
            "list" => c.push("@list"),
            "hash" => c.push("@hash"),
            "set" => c.push("@set"),
            "sorted-set" => c.push("@sortedset"),
            "pubsub" => c.push("@pubsub"),
            "transactions" => c.push("@transaction"),
            _ => {}
        }
        if self.flags & ADMIN != 0 {
            c.push("@admin");
        }
        if self.flags & (ADMIN | DANGEROUS) != 0 {
            c.push("@dangerous");
        }
        if self.flags & FAST != 0 {
            c.push("@fast");
        } else {
            c.push("@slow");
        }
        if self.flags & BLOCKING != 0 {
            c.push("@blocking");
        }
        for e in self.acl_extra {
            if !c.contains(e) {
                c.push(e);
            }
        }
        c
    }
}

/// The argv indexes one key spec finds in `argv` (pushed to `out`); None when the spec
/// cannot say (unknown) or the arguments do not fit it. A keyword that is absent finds no keys.
fn spec_keys(k: &KeySpec, argv: &[Bytes], out: &mut Vec<usize>) -> Option<()> {
    let argc = argv.len() as i64;
    let first = match k.begin {
        BeginSearch::Index(i) => i as i64,
        BeginSearch::Keyword(word, startfrom) => {
            let (start, step) = if startfrom > 0 {
                (startfrom as i64, 1)
            } else {
                (argc + startfrom as i64, -1)
            };
            let mut i = start;
            let mut first = 0;
            while (1..argc).contains(&i) {
                if argv[i as usize].eq_ignore_ascii_case(word.as_bytes()) {
                    first = i + 1;
                    break;
                }
                i += step;
            }
            if first == 0 {
                return Some(());
            }
            first
        }
        BeginSearch::Unknown => return None,
    };
    let (first, last, step) = match k.find {
        FindKeys::Range(lastkey, keystep, limit) => {
            let last = if lastkey >= 0 {
                first + lastkey as i64
            } else if limit == 0 {
                argc + lastkey as i64
            } else {
                first + (argc - first) / limit as i64 + lastkey as i64
            };
            (first, last, keystep as i64)
        }
        FindKeys::Keynum(keynumidx, firstkey, keystep) => {
            let at = usize::try_from(first + keynumidx as i64).ok()?;
            let numkeys = super::parse_i64(argv.get(at)?)?;
            if numkeys < 0 {
                return None;
            }
            let first = first + firstkey as i64;
            (first, first + numkeys - 1, keystep as i64)
        }
        FindKeys::Unknown => return None,
    };
    if last >= argc || last < first || first >= argc || step <= 0 {
        return None;
    }
    let mut i = first;
    while i <= last {
        out.push(i as usize);
        i += step;
    }
    Some(())
}

/// Redis's ACL category table (`ACLCommandCategories`), in its order.
pub const ACL_ORDER: &[&str] = &[
    "@keyspace",
    "@read",
    "@write",
    "@set",
    "@sortedset",
    "@list",
    "@hash",
    "@string",
    "@bitmap",
    "@hyperloglog",
    "@geo",
    "@stream",
    "@pubsub",
    "@admin",
    "@fast",
    "@slow",
    "@blocking",
    "@dangerous",
    "@connection",
    "@transaction",
    "@scripting",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|a| Bytes::from(a.to_string())).collect()
    }

    fn found(k: KeySpec, line: &str) -> Option<Vec<usize>> {
        let mut out = Vec::new();
        spec_keys(&k, &argv(line), &mut out).map(|()| out)
    }

    #[test]
    fn range_specs_count_from_the_start_or_the_end() {
        let single = ks(KS_RO, BeginSearch::Index(1), FindKeys::Range(0, 1, 0));
        assert_eq!(found(single, "get k"), Some(vec![1]));
        let pairs = ks(KS_OW, BeginSearch::Index(1), FindKeys::Range(-1, 2, 0));
        assert_eq!(found(pairs, "mset a 1 b 2"), Some(vec![1, 3]));
        let but_timeout = ks(KS_RW, BeginSearch::Index(1), FindKeys::Range(-2, 1, 0));
        assert_eq!(found(but_timeout, "blpop a b 0"), Some(vec![1, 2]));
        // XREAD-like: the keys are the first half of what follows the keyword.
        let half = ks(
            KS_RO,
            BeginSearch::Keyword("STREAMS", 1),
            FindKeys::Range(-1, 1, 2),
        );
        assert_eq!(
            found(half, "xread count 1 streams a b 0 0"),
            Some(vec![4, 5])
        );
        assert_eq!(found(half, "xread count 1"), Some(vec![]));
    }

    #[test]
    fn keynum_specs_reject_counts_that_do_not_fit() {
        let k = ks(KS_RO, BeginSearch::Index(2), FindKeys::Keynum(0, 1, 1));
        assert_eq!(found(k, "zunionstore d 2 a b"), Some(vec![3, 4]));
        assert_eq!(found(k, "zunionstore d 3 a b"), None);
        assert_eq!(found(k, "zunionstore d x a b"), None);
        assert_eq!(found(k, "zunionstore d -1 a"), None);
        let unknown = ks(KS_RO, BeginSearch::Unknown, FindKeys::Unknown);
        assert_eq!(found(unknown, "sort k by x"), None);
    }
}
