//! Sentinel's ACL, as redis-sentinel 7.0 enforces it: users with on/off, SHA-256 password
//! hashes, and selectors (a root one plus `(...)` ones) holding command permission bits over
//! the sentinel-mode command table ([`super::cmdtable`]), key patterns and channel patterns.
//! Rule parsing follows `ACLSetUser`/`ACLSetSelector`; descriptions follow
//! `ACLDescribeUser` (category best-fit, then single commands).

use super::cmdtable::{table, Table};
use crate::commands::spec::{ACL_ORDER, NO_AUTH};
use bytes::Bytes;
use std::collections::HashMap;

/// Bit 127 of a selector's bitmap: set only by `+@all`/`allcommands` ("future commands").
const FUTURE: u128 = 1 << 127;
const KEY_READ: u8 = 1;
const KEY_WRITE: u8 = 2;
const KEY_ALL: u8 = KEY_READ | KEY_WRITE;

#[derive(Clone, Default)]
pub struct Selector {
    pub allkeys: bool,
    pub allchannels: bool,
    pub allcommands: bool,
    /// Permission bit per command id, plus [`FUTURE`].
    bits: u128,
    /// Allowed first arguments of otherwise denied plain commands (`+ping|x`).
    firstargs: Vec<(usize, Vec<String>)>,
    keys: Vec<(String, u8)>,
    channels: Vec<String>,
}

#[derive(Clone)]
pub struct User {
    pub name: &'static str,
    pub enabled: bool,
    pub nopass: bool,
    /// `sanitize-payload` (Some(true)) / `skip-sanitize-payload` (Some(false)) / neither.
    sanitize: Option<bool>,
    /// Lower-case hex SHA-256 of each password.
    pub passwords: Vec<String>,
    /// `[0]` is the root selector.
    pub selectors: Vec<Selector>,
}

/// Why a command was refused (ordered as Redis ranks them when picking the error to report).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Denied {
    Cmd,
    Channel,
}

/// One ACL LOG entry (`ACLLogEntry`).
pub struct LogEntry {
    pub count: u64,
    /// `command`, `channel` or `auth`.
    pub reason: &'static str,
    pub object: String,
    pub username: String,
    /// ms since the epoch of the last occurrence.
    pub ctime: i64,
    /// CLIENT INFO line of the client that caused it.
    pub client_info: String,
}

/// Entries are merged with a similar one at most this old (`ACL_LOG_GROUPING_MAX_TIME_DELTA`).
const LOG_GROUPING_MS: i64 = 60_000;

pub struct Acl {
    pub users: Vec<User>,
    /// ACL LOG, newest first.
    pub log: std::collections::VecDeque<LogEntry>,
    /// `acllog-max-len`.
    pub log_max_len: usize,
    /// The user each authenticated connection (client id) runs as.
    pub conn_user: HashMap<u64, &'static str>,
    /// User names handed out as `&'static str` (CLIENT LIST's `user=`): leaked once per name.
    names: Vec<&'static str>,
    /// Set when the default user is switched off: the first client id that must AUTH.
    /// Connections that were already in as the default user stay in, as in Redis.
    pub default_off_from: Option<u64>,
    /// `acl-pubsub-default allchannels` (7.0's default is `resetchannels`).
    pub pubsub_default_all: bool,
    /// `aclfile`: where ACL LOAD / ACL SAVE read and write the users.
    pub aclfile: Option<String>,
}

pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn err_text(op: &str, why: &str) -> String {
    format!("ERR Error in ACL SETUSER modifier '{op}': {why}")
}

const E_UNKNOWN: &str = "Unknown command or category name in ACL";
const E_SYNTAX: &str = "Syntax error";
const E_KEYS: &str = "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
const E_CHANNELS: &str = "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels";
const E_NOPASS: &str = "The password you are trying to remove from the user does not exist";
const E_HASH: &str = "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";
const E_FIRSTARG: &str = "Allowing first-arg of a subcommand is not supported";

impl Selector {
    fn new(pubsub_default_all: bool) -> Selector {
        Selector {
            allchannels: pubsub_default_all,
            ..Selector::default()
        }
    }

    fn bit(&self, id: usize) -> bool {
        self.bits & (1u128 << id) != 0
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if on {
            self.bits |= 1u128 << id;
        } else {
            self.bits &= !(1u128 << id);
            self.allcommands = false;
        }
    }

    /// `ACLChangeSelectorPerm`: the command and all its subcommands.
    fn change_perm(&mut self, t: &Table, id: usize, allow: bool) {
        self.set_bit(id, allow);
        self.firstargs.retain(|(i, _)| *i != id);
        for s in t.cmds[id].subs.clone() {
            self.set_bit(s, allow);
        }
    }

    fn set_category(&mut self, t: &Table, cat: &str, allow: bool) -> bool {
        let cat = format!("@{}", cat.to_ascii_lowercase());
        if !ACL_ORDER.contains(&cat.as_str()) {
            return false;
        }
        for id in 0..t.len() {
            if t.categories(id).contains(&cat.as_str()) {
                self.change_perm(t, id, allow);
            }
        }
        true
    }

    /// `ACLSetSelector`: one rule; the error is the reason text.
    fn apply(&mut self, t: &Table, op: &str) -> Result<(), &'static str> {
        let lower = op.to_ascii_lowercase();
        let b = op.as_bytes();
        match lower.as_str() {
            "allkeys" | "~*" => {
                self.allkeys = true;
                self.keys.clear();
            }
            "resetkeys" => {
                self.allkeys = false;
                self.keys.clear();
            }
            "allchannels" | "&*" => {
                self.allchannels = true;
                self.channels.clear();
            }
            "resetchannels" => {
                self.allchannels = false;
                self.channels.clear();
            }
            "allcommands" | "+@all" => {
                self.bits = u128::MAX;
                self.allcommands = true;
                self.firstargs.clear();
            }
            "nocommands" | "-@all" => {
                self.bits = 0;
                self.allcommands = false;
                self.firstargs.clear();
            }
            _ if b[0] == b'~' || b[0] == b'%' => {
                if self.allkeys {
                    return Err(E_KEYS);
                }
                let (flags, offset) = if b[0] == b'%' {
                    let mut flags = 0;
                    let mut i = 1;
                    loop {
                        match b.get(i).map(u8::to_ascii_uppercase) {
                            Some(b'R') if flags & KEY_READ == 0 => flags |= KEY_READ,
                            Some(b'W') if flags & KEY_WRITE == 0 => flags |= KEY_WRITE,
                            Some(b'~') => {
                                i += 1;
                                break;
                            }
                            // `%R` without `~` ends the loop in Redis with the whole op
                            // consumed: an empty pattern.
                            None => break,
                            _ => return Err(E_SYNTAX),
                        }
                        i += 1;
                    }
                    // redis-sentinel 7.0.15 answers `%~k` and `%` with a syntax error.
                    if flags == 0 {
                        return Err(E_SYNTAX);
                    }
                    (flags, i)
                } else {
                    (KEY_ALL, 1)
                };
                let pat = &op[offset.min(op.len())..];
                if has_spaces(pat) {
                    return Err(E_SYNTAX);
                }
                match self.keys.iter_mut().find(|(p, _)| p == pat) {
                    Some(k) => k.1 |= flags,
                    None => self.keys.push((pat.to_string(), flags)),
                }
                self.allkeys = false;
            }
            _ if b[0] == b'&' => {
                if self.allchannels {
                    return Err(E_CHANNELS);
                }
                let pat = &op[1..];
                if has_spaces(pat) {
                    return Err(E_SYNTAX);
                }
                if !self.channels.iter().any(|c| c == pat) {
                    self.channels.push(pat.to_string());
                }
                self.allchannels = false;
            }
            _ if b[0] == b'+' && b.get(1) != Some(&b'@') => match op[1..].rfind('|') {
                None => {
                    let id = t.lookup_full(&b[1..]).ok_or(E_UNKNOWN)?;
                    self.change_perm(t, id, true);
                }
                Some(i) => {
                    let (name, sub) = (&op[1..1 + i], &op[2 + i..]);
                    let id = t.lookup_full(name.as_bytes()).ok_or(E_UNKNOWN)?;
                    if t.cmds[id].parent.is_some() {
                        return Err(E_FIRSTARG);
                    }
                    if sub.is_empty() {
                        return Err(E_SYNTAX);
                    }
                    if !t.cmds[id].subs.is_empty() {
                        let sid = t.lookup_sub(id, sub.as_bytes()).ok_or(E_UNKNOWN)?;
                        self.change_perm(t, sid, true);
                    } else {
                        match self.firstargs.iter_mut().find(|(i, _)| *i == id) {
                            Some((_, v)) => {
                                if !v.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                                    v.push(sub.to_string());
                                }
                            }
                            None => self.firstargs.push((id, vec![sub.to_string()])),
                        }
                    }
                }
            },
            _ if b[0] == b'-' && b.get(1) != Some(&b'@') => {
                let id = t.lookup_full(&b[1..]).ok_or(E_UNKNOWN)?;
                self.change_perm(t, id, false);
            }
            _ if (b[0] == b'+' || b[0] == b'-') && b.get(1) == Some(&b'@') => {
                if !self.set_category(t, &op[2..], b[0] == b'+') {
                    return Err(E_UNKNOWN);
                }
            }
            _ => return Err(E_SYNTAX),
        }
        Ok(())
    }

    /// Count of commands in `cat` whose bit is on / off.
    fn count_category(&self, t: &Table, cat: &str) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        for id in 0..t.len() {
            if t.categories(id).contains(&cat) {
                if self.bit(id) {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }

    /// `ACLDescribeSelectorCommandRules`: `+@all`/`-@all`, best-fitting categories, then
    /// single commands (Redis emits those in its dict order; we use table order).
    pub fn describe_commands(&self, t: &Table) -> String {
        let additive = self.bits & FUTURE == 0;
        let mut rules = String::from(if additive { "-@all " } else { "+@all " });
        let mut fake = Selector {
            bits: if additive { 0 } else { u128::MAX },
            ..Selector::default()
        };
        let mut temp = Selector {
            bits: self.bits,
            ..Selector::default()
        };
        let mut applied = [false; ACL_ORDER.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (j, cat) in ACL_ORDER.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (on, off) = temp.count_category(t, cat);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(j) = best else { break };
            let cat = &ACL_ORDER[j][1..];
            fake.set_category(t, cat, additive);
            temp.set_category(t, cat, !additive);
            rules.push_str(if additive { "+@" } else { "-@" });
            rules.push_str(cat);
            rules.push(' ');
            applied[j] = true;
        }
        for id in 0..t.len() {
            let user = self.bit(id);
            if user != fake.bit(id) {
                rules.push(if user { '+' } else { '-' });
                rules.push_str(t.cmds[id].spec.name);
                rules.push(' ');
                fake.change_perm(t, id, user);
            }
            if !user {
                if let Some((_, args)) = self.firstargs.iter().find(|(i, _)| *i == id) {
                    for a in args {
                        rules.push_str(&format!("+{}|{a} ", t.cmds[id].spec.name));
                    }
                }
            }
        }
        rules.pop();
        rules
    }

    fn describe_keys(&self) -> String {
        if self.allkeys {
            return "~*".into();
        }
        let v: Vec<String> = self.keys.iter().map(|(p, f)| key_pattern(p, *f)).collect();
        v.join(" ")
    }

    fn describe_channels(&self) -> String {
        if self.allchannels {
            return "&*".into();
        }
        let v: Vec<String> = self.channels.iter().map(|c| format!("&{c}")).collect();
        v.join(" ")
    }

    /// `ACLDescribeSelector`: keys, channels, commands as one rule string.
    fn describe(&self, t: &Table) -> String {
        let mut s = String::new();
        if self.allkeys {
            s.push_str("~* ");
        } else {
            for (p, f) in &self.keys {
                s.push_str(&key_pattern(p, *f));
                s.push(' ');
            }
        }
        if self.allchannels {
            s.push_str("&* ");
        } else {
            s.push_str("resetchannels ");
            for c in &self.channels {
                s.push('&');
                s.push_str(c);
                s.push(' ');
            }
        }
        s.push_str(&self.describe_commands(t));
        s
    }

    /// `ACLSelectorCheckCmd` for a sentinel-mode command (no command has keys).
    fn check(&self, t: &Table, id: usize, argv: &[Bytes]) -> Result<(), (Denied, usize)> {
        let cmd = &t.cmds[id];
        if !self.allcommands && cmd.spec.flags & NO_AUTH == 0 && !self.bit(id) {
            let idx = if cmd.parent.is_some() { 2 } else { 1 };
            let allowed = argv.get(idx).is_some_and(|a| {
                self.firstargs
                    .iter()
                    .find(|(i, _)| *i == id)
                    .is_some_and(|(_, v)| v.iter().any(|x| x.as_bytes().eq_ignore_ascii_case(a)))
            });
            if argv.len() < 2 || !allowed {
                return Err((Denied::Cmd, 0));
            }
        }
        if self.allchannels {
            return Ok(());
        }
        for (idx, is_pattern) in channel_args(cmd.spec.name, argv) {
            if !channel_allowed(&self.channels, &argv[idx], is_pattern) {
                return Err((Denied::Channel, idx));
            }
        }
        Ok(())
    }
}

/// The channel arguments ACL checks (publish and subscribe, not unsubscribe) and whether each
/// is a pattern.
fn channel_args(name: &str, argv: &[Bytes]) -> Vec<(usize, bool)> {
    match name {
        "subscribe" => (1..argv.len()).map(|i| (i, false)).collect(),
        "psubscribe" => (1..argv.len()).map(|i| (i, true)).collect(),
        "publish" if argv.len() > 1 => vec![(1, false)],
        _ => Vec::new(),
    }
}

fn key_pattern(p: &str, flags: u8) -> String {
    match flags {
        KEY_READ => format!("%R~{p}"),
        KEY_WRITE => format!("%W~{p}"),
        _ => format!("~{p}"),
    }
}

fn has_spaces(s: &str) -> bool {
    s.bytes().any(|c| c.is_ascii_whitespace() || c == 0)
}

fn valid_hash(h: &str) -> bool {
    h.len() == 64
        && h.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

impl User {
    fn new(name: &'static str, pubsub_default_all: bool) -> User {
        User {
            name,
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            selectors: vec![Selector::new(pubsub_default_all)],
        }
    }

    /// `ACLSetUser`: one rule.
    fn apply(&mut self, t: &Table, op: &str, pubsub_default_all: bool) -> Result<(), &'static str> {
        if op.is_empty() {
            return Ok(());
        }
        let lower = op.to_ascii_lowercase();
        let b = op.as_bytes();
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "skip-sanitize-payload" => self.sanitize = Some(false),
            "sanitize-payload" => self.sanitize = Some(true),
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "clearselectors" => self.selectors.truncate(1),
            "reset" => {
                self.nopass = false;
                self.passwords.clear();
                let root = &mut self.selectors[0];
                root.allkeys = false;
                root.keys.clear();
                root.allchannels = pubsub_default_all;
                root.channels.clear();
                self.enabled = false;
                self.sanitize = Some(true);
                self.selectors.truncate(1);
                self.selectors[0].apply(t, "-@all")?;
            }
            _ if b[0] == b'>' || b[0] == b'#' => {
                let hash = if b[0] == b'>' {
                    sha256_hex(&b[1..])
                } else if valid_hash(&op[1..]) {
                    op[1..].to_string()
                } else {
                    return Err(E_HASH);
                };
                if !self.passwords.contains(&hash) {
                    self.passwords.push(hash);
                }
                self.nopass = false;
            }
            _ if b[0] == b'<' || b[0] == b'!' => {
                let hash = if b[0] == b'<' {
                    sha256_hex(&b[1..])
                } else if valid_hash(&op[1..]) {
                    op[1..].to_string()
                } else {
                    return Err(E_HASH);
                };
                let i = self
                    .passwords
                    .iter()
                    .position(|p| *p == hash)
                    .ok_or(E_NOPASS)?;
                self.passwords.remove(i);
            }
            _ if b[0] == b'(' && b[b.len() - 1] == b')' && b.len() >= 2 => {
                let mut s = Selector::new(pubsub_default_all);
                for inner in op[1..op.len() - 1].split_ascii_whitespace() {
                    s.apply(t, inner)?;
                }
                self.selectors.push(s);
            }
            _ => self.selectors[0].apply(t, op)?,
        }
        Ok(())
    }

    /// `ACLDescribeUser`: the rule string ACL LIST and the config rewrite show.
    pub fn describe(&self, t: &Table) -> String {
        let mut s = String::new();
        for f in self.flags() {
            s.push_str(f);
            s.push(' ');
        }
        for p in &self.passwords {
            s.push('#');
            s.push_str(p);
            s.push(' ');
        }
        s.push_str(&self.selectors[0].describe(t));
        for sel in &self.selectors[1..] {
            s.push_str(&format!(" ({})", sel.describe(t)));
        }
        s
    }

    /// User flags in Redis's order.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        match self.sanitize {
            Some(false) => f.push("skip-sanitize-payload"),
            Some(true) => f.push("sanitize-payload"),
            None => {}
        }
        f
    }

    /// (commands, keys, channels) of selector `i`, as ACL GETUSER shows them.
    pub fn selector_fields(&self, t: &Table, i: usize) -> [(&'static str, String); 3] {
        let s = &self.selectors[i];
        [
            ("commands", s.describe_commands(t)),
            ("keys", s.describe_keys()),
            ("channels", s.describe_channels()),
        ]
    }

    /// `ACLCheckAllUserCommandPerm`: Ok, or the most relevant refusal and its argv index.
    pub fn check(&self, t: &Table, id: usize, argv: &[Bytes]) -> Result<(), (Denied, usize)> {
        let mut worst = (Denied::Cmd, 0);
        for s in &self.selectors {
            match s.check(t, id, argv) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    if e.0 > worst.0 || (e.0 == worst.0 && e.1 > worst.1) {
                        worst = e;
                    }
                }
            }
        }
        Err(worst)
    }
}

/// The new user's channel patterns when they are not a superset of the old user's (so some
/// subscriptions may have lost their permission); None when nothing was revoked.
fn channels_revoked(old: &User, new: &User) -> Option<Vec<String>> {
    if new.selectors.iter().any(|s| s.allchannels) {
        return None;
    }
    let upcoming: Vec<String> = new
        .selectors
        .iter()
        .flat_map(|s| s.channels.iter().cloned())
        .collect();
    let superset = old
        .selectors
        .iter()
        .all(|s| !s.allchannels && s.channels.iter().all(|c| upcoming.contains(c)));
    (!superset).then_some(upcoming)
}

/// `ACLCheckChannelAgainstList`: a pattern subscription needs the same pattern literally, a
/// channel needs a matching pattern.
pub fn channel_allowed(allowed: &[String], channel: &[u8], is_pattern: bool) -> bool {
    allowed.iter().any(|p| {
        if is_pattern {
            p.as_bytes() == channel
        } else {
            crate::glob::stringmatch(p.as_bytes(), channel, false)
        }
    })
}

/// `ACLMergeSelectorArguments`: `(` ... `)` spread over several arguments become one rule.
/// The error is the index of the argument opening the unclosed selector.
fn merge_selector_args(args: &[String]) -> Result<Vec<String>, usize> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (j, a) in args.iter().enumerate() {
        if let Some((start, mut sel)) = open.take() {
            sel.push(' ');
            sel.push_str(a);
            if a.ends_with(')') {
                out.push(sel);
            } else {
                open = Some((start, sel));
            }
            continue;
        }
        if a.starts_with('(') && !a.ends_with(')') {
            open = Some((j, a.clone()));
            continue;
        }
        out.push(a.clone());
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(out),
    }
}

fn unmatched(args: &[String], start: usize) -> String {
    format!(
        "ERR Unmatched parenthesis in acl selector starting at '{}'.",
        args[start]
    )
}

/// `ACLAppendUserForLoading`: the checks Redis makes on a `user` line while reading the config
/// file (`earlier`: the user lines before it). Unknown commands/categories are left to the
/// loading at startup. The error is the config-file error text; like Redis, it quotes the
/// line's argument at the index of the failing rule (Redis indexes the rules but prints
/// from the whole line).
pub fn check_config_user(
    argv: &[Vec<u8>],
    earlier: &[Vec<Vec<u8>>],
    pubsub_default_all: bool,
) -> Result<(), String> {
    let shown = |i: usize| String::from_utf8_lossy(argv.get(i).map_or(&[][..], |v| v)).into_owned();
    let fail =
        |i: usize, why: &str| Err(format!("Error in user declaration '{}': {why}", shown(i)));
    if earlier.iter().any(|u| u.first() == argv.get(1)) {
        return fail(
            1,
            "Duplicate user found. A user can only be defined once in config files",
        );
    }
    let rules: Vec<String> = argv
        .iter()
        .skip(2)
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    // Redis reports whatever errno was left over here: a failed command lookup.
    let merged = match merge_selector_args(&rules) {
        Ok(m) => m,
        Err(start) => return fail(start, E_UNKNOWN),
    };
    let t = table();
    let mut fake = User::new("", pubsub_default_all);
    for (j, r) in merged.iter().enumerate() {
        match fake.apply(t, r, pubsub_default_all) {
            Err(why) if why != E_UNKNOWN => return fail(j, why),
            _ => {}
        }
    }
    Ok(())
}

impl Acl {
    /// The default user: on, all commands, keys and channels, with `requirepass` as its
    /// password (nopass without one).
    pub fn new(requirepass: Option<&[u8]>) -> Acl {
        let t = table();
        let mut d = User::new("default", false);
        for r in ["+@all", "~*", "&*", "on", "nopass"] {
            let _ = d.apply(t, r, false);
        }
        if let Some(p) = requirepass {
            d.nopass = false;
            d.passwords = vec![sha256_hex(p)];
        }
        Acl {
            users: vec![d],
            conn_user: HashMap::new(),
            names: vec!["default"],
            default_off_from: None,
            pubsub_default_all: false,
            log: std::collections::VecDeque::new(),
            log_max_len: 128,
            aclfile: None,
        }
    }

    fn intern(&mut self, name: &str) -> &'static str {
        if let Some(n) = self.names.iter().find(|n| **n == name) {
            return n;
        }
        let n: &'static str = Box::leak(name.to_string().into_boxed_str());
        self.names.push(n);
        n
    }

    pub fn user(&self, name: &[u8]) -> Option<&User> {
        self.users.iter().find(|u| u.name.as_bytes() == name)
    }

    /// Users sorted by name (Redis keeps them in a radix tree).
    pub fn sorted_users(&self) -> Vec<&User> {
        let mut v: Vec<&User> = self.users.iter().collect();
        v.sort_by(|a, b| a.name.cmp(b.name));
        v
    }

    /// Whether a connection that never authenticated may run commands (default user on and
    /// without password).
    pub fn default_open(&self) -> bool {
        self.users
            .iter()
            .any(|u| u.name == "default" && u.enabled && u.nopass)
    }

    /// The user `name` authenticates with `pass`.
    pub fn check(&self, name: &[u8], pass: &[u8]) -> Option<&'static str> {
        let u = self.user(name)?;
        if !u.enabled {
            return None;
        }
        if u.nopass {
            return Some(u.name);
        }
        let h = sha256_hex(pass);
        u.passwords.contains(&h).then_some(u.name)
    }

    /// ACL SETUSER: applies the rules to a copy and keeps it only when all of them are valid;
    /// the error is Redis's reply text. `Ok(Some(channels))`: an existing user lost channel
    /// permissions, and its subscribed connections must be checked against `channels` (the
    /// patterns of all its new selectors), as `ACLKillPubsubClientsIfNeeded`.
    pub fn setuser(&mut self, name: &str, rules: &[String]) -> Result<Option<Vec<String>>, String> {
        if has_spaces(name) {
            return Err("ERR Usernames can't contain spaces or null characters".into());
        }
        let t = table();
        let rules = merge_selector_args(rules).map_err(|i| unmatched(rules, i))?;
        let existing = self.users.iter().position(|u| u.name == name);
        let mut user = match existing {
            Some(i) => self.users[i].clone(),
            None => User::new("", self.pubsub_default_all),
        };
        for r in &rules {
            user.apply(t, r, self.pubsub_default_all)
                .map_err(|why| err_text(r, why))?;
        }
        let mut revoked = None;
        match existing {
            Some(i) => {
                revoked = channels_revoked(&self.users[i], &user);
                user.name = self.users[i].name;
                self.users[i] = user;
            }
            None => {
                user.name = self.intern(name);
                self.users.push(user);
            }
        }
        Ok(revoked)
    }

    /// The `user` lines of the config file (`ACLLoadConfiguredUsers`): each user is reset,
    /// then given its rules. The error is the log line Redis writes before exiting.
    pub fn load_config_users(&mut self, users: &[Vec<Vec<u8>>]) -> Result<(), String> {
        let t = table();
        for line in users {
            let Some((name, rules)) = line.split_first() else {
                continue;
            };
            let name = String::from_utf8_lossy(name).into_owned();
            let rules: Vec<String> = rules
                .iter()
                .map(|r| String::from_utf8_lossy(r).into_owned())
                .collect();
            let rules = merge_selector_args(&rules).map_err(|i| unmatched(&rules, i))?;
            let pubsub = self.pubsub_default_all;
            // Only the default user exists already; it is reset first.
            let mut user = match self.users.iter().find(|u| u.name == name) {
                Some(u) => {
                    let mut u = u.clone();
                    let _ = u.apply(t, "reset", pubsub);
                    u
                }
                None => User::new("", pubsub),
            };
            for r in &rules {
                user.apply(t, r, pubsub).map_err(|why| {
                    format!("Error loading ACL rule '{r}' for the user named '{name}': {why}")
                })?;
            }
            match self.users.iter().position(|u| u.name == name) {
                Some(i) => {
                    user.name = self.users[i].name;
                    self.users[i] = user;
                }
                None => {
                    user.name = self.intern(&name);
                    self.users.push(user);
                }
            }
        }
        Ok(())
    }

    /// `addACLLogEntry`: a similar entry among the 10 newest (same reason, object and user,
    /// at most a minute old) is bumped and moved to the front; otherwise a new one is added.
    pub fn log_denial(&mut self, mut e: LogEntry) {
        let similar = self.log.iter().take(10).position(|x| {
            x.reason == e.reason
                && x.object == e.object
                && x.username == e.username
                && e.ctime - x.ctime <= LOG_GROUPING_MS
        });
        if let Some(i) = similar {
            if let Some(mut x) = self.log.remove(i) {
                x.count += 1;
                x.ctime = e.ctime;
                x.client_info = std::mem::take(&mut e.client_info);
                self.log.push_front(x);
            }
            return;
        }
        self.log.push_front(e);
        self.log.truncate(self.log_max_len);
    }

    /// `ACLLoadFromFile`: replaces every user with those of the ACL file, or changes nothing
    /// and returns Redis's error text. On success returns the names of the users that were
    /// replaced: their connections must be closed (Redis frees the old user objects).
    pub fn load_file(&mut self) -> Result<Vec<&'static str>, String> {
        let Some(path) = self.aclfile.clone() else {
            return Err(String::new());
        };
        let text = std::fs::read(&path).map_err(|e| {
            let why = e.to_string();
            let why = why.split(" (os error").next().unwrap_or_default();
            format!("Error loading ACLs, opening file '{path}': {why}")
        })?;
        let t = table();
        let pubsub = self.pubsub_default_all;
        let mut errors = String::new();
        let mut loaded: Vec<(String, User)> = Vec::new();
        for (i, raw) in text.split(|&c| c == b'\n').enumerate() {
            let n = i + 1;
            let line = String::from_utf8_lossy(raw);
            let line = line.trim_matches([' ', '\t', '\r', '\n']);
            if line.is_empty() {
                continue;
            }
            let argv: Vec<&str> = line.split(' ').collect();
            if argv[0] != "user" || argv.len() < 2 {
                errors.push_str(&format!(
                    "{path}:{n} should start with user keyword followed by the username. "
                ));
                continue;
            }
            let name = argv[1];
            if has_spaces(name) {
                errors.push_str(&format!(
                    "'{path}:{n}: username '{name}' contains invalid characters. "
                ));
                continue;
            }
            if loaded.iter().any(|(u, _)| u == name) {
                errors.push_str(&format!(
                    "WARNING: Duplicate user '{name}' found on line {n}. "
                ));
                continue;
            }
            let rules: Vec<String> = argv[2..].iter().map(|r| r.to_string()).collect();
            let merged = merge_selector_args(&rules).unwrap_or_else(|_| {
                errors.push_str(&format!(
                    "{path}:{n}: Unmatched parenthesis in selector definition."
                ));
                Vec::new()
            });
            let mut user = User::new("", pubsub);
            let mut syntax_error = false;
            for r in &merged {
                let r = r.trim_matches(['\t', '\r', '\n']);
                if let Err(why) = user.apply(t, r, pubsub) {
                    if why == E_UNKNOWN {
                        errors.push_str(&format!(
                            "{path}:{n}: Error in applying operation '{r}': {why}. "
                        ));
                    } else if !syntax_error {
                        errors.push_str(&format!("{path}:{n}: {why}. "));
                        syntax_error = true;
                    }
                }
            }
            if errors.is_empty() {
                loaded.push((name.to_string(), user));
            }
        }
        if !errors.is_empty() {
            errors.push_str("WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
            return Err(errors);
        }
        let replaced: Vec<&'static str> = self
            .users
            .iter()
            .map(|u| u.name)
            .filter(|n| *n != "default")
            .collect();
        let mut users = Vec::new();
        let mut has_default = false;
        for (name, mut u) in loaded {
            has_default |= name == "default";
            u.name = self.intern(&name);
            users.push(u);
        }
        if !has_default {
            let mut d = User::new("default", pubsub);
            for r in ["+@all", "~*", "&*", "on", "nopass"] {
                let _ = d.apply(t, r, pubsub);
            }
            users.push(d);
        }
        self.users = users;
        Ok(replaced)
    }

    /// `ACLSaveToFile`: every user in config-file form, written to a temporary file renamed
    /// over the ACL file.
    pub fn save_file(&self) -> std::io::Result<()> {
        let Some(path) = &self.aclfile else {
            return Err(std::io::Error::other("no aclfile"));
        };
        let mut text = String::new();
        for l in self.config_lines() {
            text.push_str(&l);
            text.push('\n');
        }
        let tmp = format!("{path}.tmp-{}", std::process::id());
        let r = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
        if r.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        r
    }

    /// `user ...` lines for the config rewrite, users sorted by name.
    pub fn config_lines(&self) -> Vec<String> {
        let t = table();
        self.sorted_users()
            .iter()
            .map(|u| format!("user {} {}", u.name, u.describe(t)))
            .collect()
    }

    /// Whether `user` may run command `id` with `argv`.
    pub fn check_perm(&self, user: &str, id: usize, argv: &[Bytes]) -> Result<(), (Denied, usize)> {
        match self.users.iter().find(|u| u.name == user) {
            Some(u) => u.check(table(), id, argv),
            // A deleted user's connections are closed; until then they may do nothing.
            None => Err((Denied::Cmd, 0)),
        }
    }
}

/// SHA-256 of `data` as lower-case hex (how Redis stores ACL passwords).
pub fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, c) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (a, b) in h.iter_mut().zip(v) {
            *a = a.wrapping_add(b);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    fn argv(a: &[&str]) -> Vec<Bytes> {
        a.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn config_user_lines_are_checked_like_redis() {
        let line =
            |l: &str| -> Vec<Vec<u8>> { l.split(' ').map(|w| w.as_bytes().to_vec()).collect() };
        let check = |l: &str| check_config_user(&line(l), &[line("alice on")], false);
        assert_eq!(check("user bob on +ping"), Ok(()));
        assert_eq!(
            check("user bob on +nosuch"),
            Ok(()),
            "left to the startup load"
        );
        assert_eq!(
            check("user alice off"),
            Err("Error in user declaration 'alice': Duplicate user found. A user can only be defined once in config files".into())
        );
        assert_eq!(
            check("user bob on bogus"),
            Err("Error in user declaration 'bob': Syntax error".into())
        );
        assert_eq!(
            check("user bob on +nosuch bogus"),
            Err("Error in user declaration 'on': Syntax error".into())
        );
        assert_eq!(
            check("user bob (~x"),
            Err("Error in user declaration 'user': Unknown command or category name in ACL".into())
        );
    }

    #[test]
    fn acl_file_load_and_save() {
        let dir = std::env::temp_dir().join(format!("ringkv-aclfile-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("users.acl").display().to_string();
        let mut a = Acl::new(None);
        a.aclfile = Some(path.clone());
        assert!(a
            .load_file()
            .unwrap_err()
            .starts_with("Error loading ACLs, opening file"));
        std::fs::write(&path, "user alice on >pw +ping\n\nuser bob bogus\nfoo\n").unwrap();
        assert_eq!(
            a.load_file().unwrap_err(),
            format!("{path}:3: Syntax error. {path}:4 should start with user keyword followed by the username. WARNING: ACL errors detected, no change to the previously active ACL rules was performed")
        );
        std::fs::write(&path, "user alice on >pw +ping\n").unwrap();
        a.setuser("carol", &rules(&["on"])).unwrap();
        assert_eq!(a.load_file().unwrap(), vec!["carol"]);
        assert!(a.user(b"carol").is_none());
        assert_eq!(a.check(b"alice", b"pw"), Some("alice"));
        assert!(
            a.default_open(),
            "a default user is created when the file has none"
        );
        a.save_file().unwrap();
        let saved = std::fs::read_to_string(&path).unwrap();
        assert!(saved.starts_with("user alice on #"), "{saved}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn log_groups_similar_denials() {
        let mut a = Acl::new(None);
        let e = |obj: &str, t: i64| LogEntry {
            count: 1,
            reason: "command",
            object: obj.into(),
            username: "u".into(),
            ctime: t,
            client_info: String::new(),
        };
        a.log_denial(e("ping", 0));
        a.log_denial(e("role", 1));
        a.log_denial(e("ping", 2));
        assert_eq!(a.log.len(), 2);
        assert_eq!((a.log[0].object.as_str(), a.log[0].count), ("ping", 2));
        a.log_denial(e("ping", 2 + LOG_GROUPING_MS + 1));
        assert_eq!(a.log.len(), 3);
    }

    #[test]
    fn sha256_matches_known_vectors() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn users_passwords_and_switches() {
        let mut a = Acl::new(None);
        assert!(a.default_open());
        a.setuser("u", &rules(&[">pw", "+@all", "on"])).unwrap();
        assert_eq!(a.check(b"u", b"pw"), Some("u"));
        assert_eq!(a.check(b"u", b"no"), None);
        a.setuser("default", &rules(&["off"])).unwrap();
        assert!(!a.default_open());
        assert!(a.setuser("v", &rules(&["bogus"])).is_err());
        assert!(a.users.iter().all(|u| u.name != "v"));
    }

    #[test]
    fn narrowing_channels_reports_revocation() {
        let mut a = Acl::new(None);
        assert_eq!(a.setuser("u", &rules(&["&a*", "&b"])).unwrap(), None);
        assert_eq!(a.setuser("u", &rules(&["&c"])).unwrap(), None, "a superset");
        let up = a.setuser("u", &rules(&["resetchannels", "&a*"])).unwrap();
        assert_eq!(up, Some(vec!["a*".to_string()]));
        assert!(channel_allowed(&["a*".into()], b"ab", false));
        assert!(!channel_allowed(&["a*".into()], b"ab", true));
        assert_eq!(a.setuser("u", &rules(&["allchannels"])).unwrap(), None);
        assert!(a
            .setuser("u", &rules(&["resetchannels"]))
            .unwrap()
            .is_some());
    }

    #[test]
    fn rule_errors_are_redis_texts_and_leave_the_user_unchanged() {
        let mut a = Acl::new(None);
        a.setuser("u", &rules(&["on", ">x"])).unwrap();
        let e = a.setuser("u", &rules(&["off", "+nosuch"])).unwrap_err();
        assert_eq!(
            e,
            "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"
        );
        assert!(a.user(b"u").unwrap().enabled);
        let e = a.setuser("u", &rules(&["<nope"])).unwrap_err();
        assert!(e.ends_with(E_NOPASS));
        let e = a.setuser("u", &rules(&["~*", "~foo"])).unwrap_err();
        assert!(e.ends_with(E_KEYS));
        let e = a.setuser("u", &rules(&["%~k"])).unwrap_err();
        assert!(e.ends_with(E_SYNTAX));
        let e = a.setuser("u", &rules(&["#abc"])).unwrap_err();
        assert!(e.ends_with(E_HASH));
        let e = a
            .setuser("u", &rules(&["+sentinel|masters|x"]))
            .unwrap_err();
        assert!(e.ends_with(E_FIRSTARG));
        let e = a.setuser("u", &rules(&["(+ping", "~x"])).unwrap_err();
        assert_eq!(
            e,
            "ERR Unmatched parenthesis in acl selector starting at '(+ping'."
        );
    }

    #[test]
    fn describe_uses_categories_then_single_commands() {
        let t = table();
        let mut a = Acl::new(None);
        a.setuser(
            "u",
            &rules(&["on", "nopass", "+@all", "-@dangerous", "+ping"]),
        )
        .unwrap();
        let u = a.user(b"u").unwrap();
        assert_eq!(u.describe(t), "on nopass resetchannels +@all -@dangerous");
        a.setuser("w", &rules(&["+sentinel|masters", "&ch*", "%R~k"]))
            .unwrap();
        let w = a.user(b"w").unwrap();
        assert_eq!(
            w.describe(t),
            "off %R~k resetchannels &ch* -@all +sentinel|masters"
        );
        assert_eq!(
            a.user(b"default").unwrap().describe(t),
            "on nopass ~* &* +@all"
        );
    }

    #[test]
    fn enforcement_of_commands_subcommands_and_channels() {
        let t = table();
        let mut a = Acl::new(None);
        a.setuser(
            "u",
            &rules(&[
                "on",
                "nopass",
                "+ping",
                "+sentinel|myid",
                "+subscribe",
                "&news.*",
            ]),
        )
        .unwrap();
        let u = a.user(b"u").unwrap();
        let id = |n: &str| t.lookup_full(n.as_bytes()).unwrap();
        assert!(u.check(t, id("ping"), &argv(&["ping"])).is_ok());
        assert!(
            u.check(t, id("auth"), &argv(&["auth", "x"])).is_ok(),
            "no-auth commands pass"
        );
        assert_eq!(
            u.check(t, id("sentinel|masters"), &argv(&["sentinel", "masters"])),
            Err((Denied::Cmd, 0))
        );
        assert!(u
            .check(t, id("sentinel|myid"), &argv(&["sentinel", "myid"]))
            .is_ok());
        assert!(u
            .check(t, id("subscribe"), &argv(&["subscribe", "news.a"]))
            .is_ok());
        assert_eq!(
            u.check(t, id("subscribe"), &argv(&["subscribe", "news.a", "other"])),
            Err((Denied::Channel, 2))
        );
    }
}
