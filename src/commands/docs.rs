//! COMMAND DOCS data: per command (by full name, "parent|sub"), the argument tree, history,
//! doc flags and deprecation, in a compact text form; plus the writer of a COMMAND DOCS entry.
//!
//! Summary, since, group and complexity come from the spec table ([`super::spec`]); an entry
//! carries its own [`Head`] only for commands that have no spec in the data node (the ones
//! that exist only in sentinel mode, such as `SENTINEL` and `ACL`). A command with no
//! arguments, history or doc flags needs no entry.
//!
//! The argument DSL is a whitespace-separated list of arguments, each written as:
//!
//! * `name:type` — a plain argument (`key`, `string`, `integer`, `double`, `pattern`,
//!   `unix-time`, `pure-token`); the name may itself contain `:` (`ip:port:string`);
//! * `TOKEN=name:type` — the argument is preceded by the token (`EX=seconds:integer`);
//! * `TOKEN` — a pure token whose name is the token in lower case (`NX`);
//! * `name(a | b | c)` — a `oneof` of the alternatives, `name{a b}` — a `block`; both may
//!   have a `TOKEN=` prefix and nest;
//!
//! followed by any of: `@N` key_spec_index (a `key` is `@0` unless told), `^V` since,
//! `!V` deprecated_since, `?` optional, `*` multiple, `+` multiple_token. Example (SET):
//! `key:key value:string condition(NX | XX)^2.6.12? GET^6.2.0?`.

use crate::resp::ReplyBuf;

/// The part of a command's docs the spec table holds for data-node commands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Head {
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    /// Empty when Redis has none (MONITOR): the field is then left out.
    pub complexity: &'static str,
}

/// The docs of one command beyond its [`Head`].
pub struct Doc {
    /// Full name, lower case: "get", "client|kill".
    pub name: &'static str,
    /// The argument tree in the DSL described in the module docs.
    pub args: &'static str,
    /// (version, what changed), oldest first.
    pub history: &'static [(&'static str, &'static str)],
    /// (deprecated_since, replaced_by); also sets the `deprecated` doc flag.
    pub deprecated: Option<(&'static str, &'static str)>,
    /// The `syscmd` doc flag.
    pub syscmd: bool,
    /// Only for commands without a data-node spec.
    pub head: Option<Head>,
}

const fn d(name: &'static str, args: &'static str) -> Doc {
    Doc {
        name,
        args,
        history: &[],
        deprecated: None,
        syscmd: false,
        head: None,
    }
}

impl Doc {
    const fn head(
        mut self,
        group: &'static str,
        since: &'static str,
        summary: &'static str,
        complexity: &'static str,
    ) -> Doc {
        self.head = Some(Head {
            group,
            since,
            summary,
            complexity,
        });
        self
    }

    const fn history(mut self, history: &'static [(&'static str, &'static str)]) -> Doc {
        self.history = history;
        self
    }

    const fn deprecated(mut self, since: &'static str, replaced_by: &'static str) -> Doc {
        self.deprecated = Some((since, replaced_by));
        self
    }

    const fn syscmd(mut self) -> Doc {
        self.syscmd = true;
        self
    }
}

/// The docs entry of a command by full lower-case name.
pub fn find(name: &str) -> Option<&'static Doc> {
    DOCS.binary_search_by(|d| d.name.cmp(name))
        .ok()
        .map(|i| &DOCS[i])
}

// ---------------------------------------------------------------------------------------------
// Argument DSL

#[derive(Clone, Debug, PartialEq)]
pub enum ArgType {
    Key,
    String,
    Integer,
    Double,
    Pattern,
    UnixTime,
    PureToken,
    OneOf(Vec<Arg>),
    Block(Vec<Arg>),
}

impl ArgType {
    fn name(&self) -> &'static str {
        match self {
            ArgType::Key => "key",
            ArgType::String => "string",
            ArgType::Integer => "integer",
            ArgType::Double => "double",
            ArgType::Pattern => "pattern",
            ArgType::UnixTime => "unix-time",
            ArgType::PureToken => "pure-token",
            ArgType::OneOf(_) => "oneof",
            ArgType::Block(_) => "block",
        }
    }

    fn simple(name: &str) -> Option<ArgType> {
        Some(match name {
            "key" => ArgType::Key,
            "string" => ArgType::String,
            "integer" => ArgType::Integer,
            "double" => ArgType::Double,
            "pattern" => ArgType::Pattern,
            "unix-time" => ArgType::UnixTime,
            "pure-token" => ArgType::PureToken,
            _ => return None,
        })
    }
}

/// One node of a command's argument tree, as COMMAND DOCS reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: String,
    pub kind: ArgType,
    pub key_spec_index: Option<u32>,
    pub token: Option<&'static str>,
    pub since: Option<&'static str>,
    pub deprecated_since: Option<&'static str>,
    pub optional: bool,
    pub multiple: bool,
    pub multiple_token: bool,
}

/// Parses an argument list written in the DSL.
pub fn parse_args(src: &'static str) -> Result<Vec<Arg>, String> {
    let mut p = Parser { src, pos: 0 };
    let args = p.list(None)?;
    if p.pos < src.len() {
        return Err(format!("unexpected {:?} at {}", &src[p.pos..], p.pos));
    }
    Ok(args)
}

struct Parser {
    src: &'static str,
    pos: usize,
}

/// Characters that end a name/type word.
const STOP: &[u8] = b" |(){}@^!?*+";

impl Parser {
    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'static str {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    /// Arguments up to `close` (or the end): `)` separates them with `|`, `}` and the top
    /// level with spaces.
    fn list(&mut self, close: Option<u8>) -> Result<Vec<Arg>, String> {
        let mut args = Vec::new();
        loop {
            self.skip_spaces();
            match self.peek() {
                None if close.is_none() => return Ok(args),
                None => return Err(format!("missing {:?}", close.map(char::from))),
                Some(c) if Some(c) == close => {
                    self.pos += 1;
                    return Ok(args);
                }
                Some(b'|') if close == Some(b')') && !args.is_empty() => self.pos += 1,
                Some(_) => args.push(self.arg()?),
            }
        }
    }

    fn arg(&mut self) -> Result<Arg, String> {
        let word = self.take_while(|c| !STOP.contains(&c));
        if word.is_empty() {
            return Err(format!("expected an argument at {}", self.pos));
        }
        let (token, rest) = match word.split_once('=') {
            Some((t, r)) => (Some(t), r),
            None => (None, word),
        };
        let (name, kind) = match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                (rest.to_string(), ArgType::OneOf(self.list(Some(b')'))?))
            }
            Some(b'{') => {
                self.pos += 1;
                (rest.to_string(), ArgType::Block(self.list(Some(b'}'))?))
            }
            _ => match rest.rsplit_once(':') {
                Some((name, ty)) => (
                    name.to_string(),
                    ArgType::simple(ty).ok_or_else(|| format!("unknown type {ty:?}"))?,
                ),
                None if token.is_none() => {
                    let mut arg = self.attrs(Arg::new(rest.to_lowercase(), ArgType::PureToken))?;
                    arg.token = Some(rest);
                    return Ok(arg);
                }
                None => return Err(format!("{word:?} has a token but no type")),
            },
        };
        let mut arg = Arg::new(name, kind);
        arg.token = token;
        if arg.kind == ArgType::Key {
            arg.key_spec_index = Some(0);
        }
        self.attrs(arg)
    }

    fn attrs(&mut self, mut arg: Arg) -> Result<Arg, String> {
        let version = |p: &mut Parser| p.take_while(|c| c.is_ascii_digit() || c == b'.');
        loop {
            match self.peek() {
                Some(b'?') => arg.optional = true,
                Some(b'*') => arg.multiple = true,
                Some(b'+') => arg.multiple_token = true,
                Some(b'@') => {
                    self.pos += 1;
                    let n = self.take_while(|c| c.is_ascii_digit());
                    arg.key_spec_index = Some(n.parse().map_err(|_| "bad key_spec_index")?);
                    continue;
                }
                Some(b'^') => {
                    self.pos += 1;
                    arg.since = Some(version(self));
                    continue;
                }
                Some(b'!') => {
                    self.pos += 1;
                    arg.deprecated_since = Some(version(self));
                    continue;
                }
                _ => return Ok(arg),
            }
            self.pos += 1;
        }
    }
}

impl Arg {
    fn new(name: String, kind: ArgType) -> Arg {
        Arg {
            name,
            kind,
            key_spec_index: None,
            token: None,
            since: None,
            deprecated_since: None,
            optional: false,
            multiple: false,
            multiple_token: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reply

/// A command as COMMAND DOCS shows it: full name, head, and the subcommands the server has.
pub struct DocCmd {
    pub name: &'static str,
    pub head: Head,
    pub subcommands: Vec<DocCmd>,
}

/// One COMMAND DOCS value (the map after the command's name), fields present and ordered as
/// Redis 7.0's `addReplyCommandDocs`.
pub fn write_docs(out: &mut ReplyBuf, cmd: &DocCmd) {
    let doc = find(cmd.name);
    // The table's DSL is checked by a unit test; a broken entry shows no arguments rather
    // than failing the command.
    let args = doc
        .map(|d| parse_args(d.args).unwrap_or_default())
        .unwrap_or_default();
    let history = doc.map_or(&[][..], |d| d.history);
    let deprecated = doc.and_then(|d| d.deprecated);
    let mut doc_flags = Vec::new();
    if deprecated.is_some() {
        doc_flags.push("deprecated");
    }
    if doc.is_some_and(|d| d.syscmd) {
        doc_flags.push("syscmd");
    }
    let h = &cmd.head;
    let len = 3
        + usize::from(!h.complexity.is_empty())
        + usize::from(!doc_flags.is_empty())
        + 2 * usize::from(deprecated.is_some())
        + usize::from(!history.is_empty())
        + usize::from(!args.is_empty())
        + usize::from(!cmd.subcommands.is_empty());
    out.map(len);
    out.bulk(b"summary");
    out.bulk(h.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(h.since.as_bytes());
    out.bulk(b"group");
    out.bulk(h.group.as_bytes());
    if !h.complexity.is_empty() {
        out.bulk(b"complexity");
        out.bulk(h.complexity.as_bytes());
    }
    if !doc_flags.is_empty() {
        out.bulk(b"doc_flags");
        out.set(doc_flags.len());
        for f in doc_flags {
            out.simple(f);
        }
    }
    if let Some((since, replaced_by)) = deprecated {
        out.bulk(b"deprecated_since");
        out.bulk(since.as_bytes());
        out.bulk(b"replaced_by");
        out.bulk(replaced_by.as_bytes());
    }
    if !history.is_empty() {
        out.bulk(b"history");
        // A set in RESP3, as Redis 7.0 replies it.
        out.set(history.len());
        for (version, change) in history {
            out.array(2);
            out.bulk(version.as_bytes());
            out.bulk(change.as_bytes());
        }
    }
    if !args.is_empty() {
        out.bulk(b"arguments");
        write_args(out, &args);
    }
    if !cmd.subcommands.is_empty() {
        out.bulk(b"subcommands");
        out.map(cmd.subcommands.len());
        for sub in &cmd.subcommands {
            out.bulk(sub.name.as_bytes());
            write_docs(out, sub);
        }
    }
}

/// An argument list, fields as Redis 7.0's `addReplyCommandArgList` (which has no `value`).
fn write_args(out: &mut ReplyBuf, args: &[Arg]) {
    out.array(args.len());
    for a in args {
        let flags: Vec<&str> = [
            (a.optional, "optional"),
            (a.multiple, "multiple"),
            (a.multiple_token, "multiple_token"),
        ]
        .into_iter()
        .filter_map(|(on, f)| on.then_some(f))
        .collect();
        let nested = match &a.kind {
            ArgType::OneOf(n) | ArgType::Block(n) => Some(n),
            _ => None,
        };
        out.map(
            2 + usize::from(a.key_spec_index.is_some())
                + usize::from(a.token.is_some())
                + usize::from(a.since.is_some())
                + usize::from(a.deprecated_since.is_some())
                + usize::from(!flags.is_empty())
                + usize::from(nested.is_some()),
        );
        out.bulk(b"name");
        out.bulk(a.name.as_bytes());
        out.bulk(b"type");
        out.bulk(a.kind.name().as_bytes());
        if let Some(i) = a.key_spec_index {
            out.bulk(b"key_spec_index");
            out.int(i64::from(i));
        }
        for (field, v) in [
            ("token", a.token),
            ("since", a.since),
            ("deprecated_since", a.deprecated_since),
        ] {
            if let Some(v) = v {
                out.bulk(field.as_bytes());
                out.bulk(v.as_bytes());
            }
        }
        if !flags.is_empty() {
            out.bulk(b"flags");
            out.set(flags.len());
            for f in flags {
                out.simple(f);
            }
        }
        if let Some(n) = nested {
            out.bulk(b"arguments");
            write_args(out, n);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The table, sorted by name (checked by a unit test). Derived from redis-server and
// redis-sentinel 7.0.15's own COMMAND DOCS replies.

#[rustfmt::skip]
static DOCS: &[Doc] = &[
    d("acl", "")
        .head("server", "6.0.0", "A container for Access List Control commands ", "Depends on subcommand."),
    d("acl|cat", "categoryname:string?")
        .head("server", "6.0.0", "List the ACL categories or the commands inside a category", "O(1) since the categories and commands are a fixed set."),
    d("acl|deluser", "username:string*")
        .head("server", "6.0.0", "Remove the specified ACL users and the associated rules", "O(1) amortized time considering the typical user."),
    d("acl|dryrun", "username:string command:string arg:string?*")
        .head("server", "7.0.0", "Returns whether the user can execute the given command without executing the command.", "O(1)."),
    d("acl|genpass", "bits:integer?")
        .head("server", "6.0.0", "Generate a pseudorandom secure password to use for ACL users", "O(1)"),
    d("acl|getuser", "username:string")
        .head("server", "6.0.0", "Get the rules for a specific ACL user", "O(N). Where N is the number of password, command and pattern rules that the user has.")
        .history(&[
            ("6.2.0", "Added Pub/Sub channel patterns."),
            ("7.0.0", "Added selectors and changed the format of key and channel patterns from a list to their rule representation."),
        ]),
    d("acl|help", "")
        .head("server", "6.0.0", "Show helpful text about the different subcommands", "O(1)"),
    d("acl|list", "")
        .head("server", "6.0.0", "List the current ACL rules in ACL config file format", "O(N). Where N is the number of configured users."),
    d("acl|load", "")
        .head("server", "6.0.0", "Reload the ACLs from the configured ACL file", "O(N). Where N is the number of configured users."),
    d("acl|log", "operation(count:integer | RESET)?")
        .head("server", "6.0.0", "List latest events denied because of ACLs in place", "O(N) with N being the number of entries shown."),
    d("acl|save", "")
        .head("server", "6.0.0", "Save the current ACL rules in the configured ACL file", "O(N). Where N is the number of configured users."),
    d("acl|setuser", "username:string rule:string?*")
        .head("server", "6.0.0", "Modify or create the rules for a specific ACL user", "O(N). Where N is the number of rules provided.")
        .history(&[
            ("6.2.0", "Added Pub/Sub channel patterns."),
            ("7.0.0", "Added selectors and key based permissions."),
        ]),
    d("acl|users", "")
        .head("server", "6.0.0", "List the username of all the configured ACL rules", "O(N). Where N is the number of configured users."),
    d("acl|whoami", "")
        .head("server", "6.0.0", "Return the name of the user associated to the current connection", "O(1)"),
    d("append", "key:key value:string"),
    d("auth", "username:string^6.0.0? password:string")
        .history(&[
            ("6.0.0", "Added ACL style (username and password)."),
        ]),
    d("bgsave", "SCHEDULE^3.2.2?")
        .history(&[
            ("3.2.2", "Added the `SCHEDULE` option."),
        ]),
    d("bitcount", "key:key index{start:integer end:integer index_unit(BYTE | BIT)^7.0.0?}?")
        .history(&[
            ("7.0.0", "Added the `BYTE|BIT` option."),
        ]),
    d("bitfield", "key:key operation(GET=encoding_offset{encoding:string offset:integer} | write{OVERFLOW=wrap_sat_fail(WRAP | SAT | FAIL)? write_operation(SET=encoding_offset_value{encoding:string offset:integer value:integer} | INCRBY=encoding_offset_increment{encoding:string offset:integer increment:integer})})?*"),
    d("bitfield_ro", "key:key GET=encoding_offset{encoding:string offset:integer}?*+"),
    d("bitop", "operation:string destkey:key key:key@1*"),
    d("bitpos", "key:key bit:integer index{start:integer end_index{end:integer index_unit(BYTE | BIT)^7.0.0?}?}?")
        .history(&[
            ("7.0.0", "Added the `BYTE|BIT` option."),
        ]),
    d("blmove", "source:key destination:key@1 wherefrom(LEFT | RIGHT) whereto(LEFT | RIGHT) timeout:double"),
    d("blmpop", "timeout:double numkeys:integer key:key* where(LEFT | RIGHT) COUNT=count:integer?"),
    d("blpop", "key:key* timeout:double")
        .history(&[
            ("6.0.0", "`timeout` is interpreted as a double instead of an integer."),
        ]),
    d("brpop", "key:key* timeout:double")
        .history(&[
            ("6.0.0", "`timeout` is interpreted as a double instead of an integer."),
        ]),
    d("brpoplpush", "source:key destination:key@1 timeout:double")
        .history(&[
            ("6.0.0", "`timeout` is interpreted as a double instead of an integer."),
        ])
        .deprecated("6.2.0", "`BLMOVE` with the `RIGHT` and `LEFT` arguments"),
    d("bzmpop", "timeout:double numkeys:integer key:key* where(MIN | MAX) COUNT=count:integer?"),
    d("bzpopmax", "key:key* timeout:double")
        .history(&[
            ("6.0.0", "`timeout` is interpreted as a double instead of an integer."),
        ]),
    d("bzpopmin", "key:key* timeout:double")
        .history(&[
            ("6.0.0", "`timeout` is interpreted as a double instead of an integer."),
        ]),
    d("client|caching", "mode(YES | NO)")
        .head("connection", "6.0.0", "Instruct the server about tracking or not keys in the next request", "O(1)"),
    d("client|getredir", "")
        .head("connection", "6.0.0", "Get tracking notifications redirection client ID if any", "O(1)"),
    d("client|kill", "filter(ip:port:string!2.8.12 | new-format(ID=client-id:integer^2.8.12? | TYPE=normal_master_slave_pubsub(NORMAL | MASTER^3.2.0 | SLAVE | REPLICA^5.0.0 | PUBSUB)^2.8.12? | USER=username:string? | ADDR=ip:port:string? | LADDR=ip:port:string^6.2.0? | SKIPME=yes/no:string?)*)")
        .history(&[
            ("2.8.12", "Added new filter format."),
            ("2.8.12", "`ID` option."),
            ("3.2.0", "Added `master` type in for `TYPE` option."),
            ("5.0.0", "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility."),
            ("6.2.0", "`LADDR` option."),
        ]),
    d("client|list", "TYPE=normal_master_replica_pubsub(NORMAL | MASTER | REPLICA | PUBSUB)^5.0.0? ID=id{client-id:integer*}^6.2.0?")
        .history(&[
            ("2.8.12", "Added unique client `id` field."),
            ("5.0.0", "Added optional `TYPE` filter."),
            ("6.0.0", "Added `user` field."),
            ("6.2.0", "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter."),
            ("7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."),
            ("7.0.3", "Added `ssub` field."),
        ]),
    d("client|no-evict", "enabled(ON | OFF)"),
    // Redis 7.2's (7.0.15 has no CLIENT NO-TOUCH / SETINFO to compare with).
    d("client|no-touch", "enabled(ON | OFF)"),
    d("client|pause", "timeout:integer mode(WRITE | ALL)^6.2.0?")
        .history(&[
            ("6.2.0", "`CLIENT PAUSE WRITE` mode added along with the `mode` option."),
        ]),
    d("client|reply", "on_off_skip(ON | OFF | SKIP)"),
    d("client|setinfo", "attr(lib-name=libname:string | lib-ver=libver:string)"),
    d("client|setname", "connection-name:string"),
    d("client|tracking", "status(ON | OFF) REDIRECT=client-id:integer? PREFIX=prefix:string?*+ BCAST? OPTIN? OPTOUT? NOLOOP?")
        .head("connection", "6.0.0", "Enable or disable server assisted client side caching support", "O(1). Some options may introduce additional complexity."),
    d("client|trackinginfo", "")
        .head("connection", "6.2.0", "Return information about server assisted client side caching for the current connection", "O(1)"),
    d("client|unblock", "client-id:integer timeout_error(TIMEOUT | ERROR)?"),
    d("command|docs", "command-name:string?*"),
    d("command|getkeysandflags", "")
        .head("server", "7.0.0", "Extract keys and access flags given a full Redis command", "O(N) where N is the number of arguments to the command"),
    d("command|info", "command-name:string?*")
        .history(&[
            ("7.0.0", "Allowed to be called with no argument to get info on all commands."),
        ]),
    d("command|list", "FILTERBY=filterby(MODULE=module-name:string | ACLCAT=category:string | PATTERN=pattern:pattern)?"),
    d("config|get", "parameter{parameter:string}*")
        .history(&[
            ("7.0.0", "Added the ability to pass multiple pattern parameters in one call"),
        ]),
    d("config|set", "parameter_value{parameter:string value:string}*")
        .history(&[
            ("7.0.0", "Added the ability to set multiple parameters in one call."),
        ]),
    d("copy", "source:key destination:key@1 DB=destination-db:integer? REPLACE?"),
    d("debug", "")
        .syscmd(),
    d("decr", "key:key"),
    d("decrby", "key:key decrement:integer"),
    d("del", "key:key*"),
    d("dump", "key:key"),
    d("echo", "message:string"),
    d("exists", "key:key*")
        .history(&[
            ("3.0.3", "Accepts multiple `key` arguments."),
        ]),
    d("expire", "key:key seconds:integer condition(NX | XX | GT | LT)^7.0.0?")
        .history(&[
            ("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),
        ]),
    d("expireat", "key:key unix-time-seconds:unix-time condition(NX | XX | GT | LT)^7.0.0?")
        .history(&[
            ("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),
        ]),
    d("expiretime", "key:key"),
    d("flushall", "async(ASYNC^4.0.0 | SYNC^6.2.0)?")
        .history(&[
            ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
            ("6.2.0", "Added the `SYNC` flushing mode modifier."),
        ]),
    d("flushdb", "async(ASYNC^4.0.0 | SYNC^6.2.0)?")
        .history(&[
            ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
            ("6.2.0", "Added the `SYNC` flushing mode modifier."),
        ]),
    d("get", "key:key"),
    d("getbit", "key:key offset:integer"),
    d("getdel", "key:key"),
    d("getex", "key:key expiration(EX=seconds:integer | PX=milliseconds:integer | EXAT=unix-time-seconds:unix-time | PXAT=unix-time-milliseconds:unix-time | PERSIST)?"),
    d("getrange", "key:key start:integer end:integer"),
    d("getset", "key:key value:string")
        .deprecated("6.2.0", "`SET` with the `!GET` argument"),
    d("hdel", "key:key field:string*")
        .history(&[
            ("2.4.0", "Accepts multiple `field` arguments."),
        ]),
    d("hello", "arguments{protover:integer AUTH=username_password{username:string password:string}? SETNAME=clientname:string?}?")
        .history(&[
            ("6.2.0", "`protover` made optional; when called without arguments the command reports the current connection's context."),
        ]),
    d("hexists", "key:key field:string"),
    d("hget", "key:key field:string"),
    d("hgetall", "key:key"),
    d("hincrby", "key:key field:string increment:integer"),
    d("hincrbyfloat", "key:key field:string increment:double"),
    d("hkeys", "key:key"),
    d("hlen", "key:key"),
    d("hmget", "key:key field:string*"),
    d("hmset", "key:key field_value{field:string value:string}*")
        .deprecated("4.0.0", "`HSET` with multiple field-value pairs"),
    d("hrandfield", "key:key options{count:integer WITHVALUES?}?"),
    d("hscan", "key:key cursor:integer MATCH=pattern:pattern? COUNT=count:integer?"),
    d("hset", "key:key field_value{field:string value:string}*")
        .history(&[
            ("4.0.0", "Accepts multiple `field` and `value` arguments."),
        ]),
    d("hsetnx", "key:key field:string value:string"),
    d("hstrlen", "key:key field:string"),
    d("hvals", "key:key"),
    d("incr", "key:key"),
    d("incrby", "key:key increment:integer"),
    d("incrbyfloat", "key:key increment:double"),
    d("info", "section:string?*")
        .history(&[
            ("7.0.0", "Added support for taking multiple section arguments."),
        ]),
    d("keys", "pattern:pattern"),
    d("latency|graph", "event:string"),
    d("latency|histogram", "command:string?*"),
    d("latency|history", "event:string"),
    d("latency|reset", "event:string?*"),
    d("lcs", "key1:key key2:key LEN? IDX? MINMATCHLEN=len:integer? WITHMATCHLEN?"),
    d("lindex", "key:key index:integer"),
    d("linsert", "key:key where(BEFORE | AFTER) pivot:string element:string"),
    d("llen", "key:key"),
    d("lmove", "source:key destination:key@1 wherefrom(LEFT | RIGHT) whereto(LEFT | RIGHT)"),
    d("lmpop", "numkeys:integer key:key* where(LEFT | RIGHT) COUNT=count:integer?"),
    d("lpop", "key:key count:integer^6.2.0?")
        .history(&[
            ("6.2.0", "Added the `count` argument."),
        ]),
    d("lpos", "key:key element:string RANK=rank:integer? COUNT=num-matches:integer? MAXLEN=len:integer?"),
    d("lpush", "key:key element:string*")
        .history(&[
            ("2.4.0", "Accepts multiple `element` arguments."),
        ]),
    d("lpushx", "key:key element:string*")
        .history(&[
            ("4.0.0", "Accepts multiple `element` arguments."),
        ]),
    d("lrange", "key:key start:integer stop:integer"),
    d("lrem", "key:key count:integer element:string"),
    d("lset", "key:key index:integer element:string"),
    d("ltrim", "key:key start:integer stop:integer"),
    d("memory|usage", "key:key SAMPLES=count:integer?"),
    d("mget", "key:key*"),
    d("module|load", "path:string arg:string?*"),
    d("module|loadex", "path:string CONFIG=configs{name:string value:string}?*+ ARGS=args{arg:string}?*"),
    d("module|unload", "name:string"),
    d("move", "key:key db:integer"),
    d("mset", "key_value{key:key value:string}*"),
    d("msetnx", "key_value{key:key value:string}*"),
    d("object|encoding", "key:key"),
    d("object|freq", "key:key"),
    d("object|idletime", "key:key"),
    d("object|refcount", "key:key"),
    d("persist", "key:key"),
    d("pexpire", "key:key milliseconds:integer condition(NX | XX | GT | LT)^7.0.0?")
        .history(&[
            ("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),
        ]),
    d("pexpireat", "key:key unix-time-milliseconds:unix-time condition(NX | XX | GT | LT)^7.0.0?")
        .history(&[
            ("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),
        ]),
    d("pexpiretime", "key:key"),
    d("ping", "message:string?"),
    d("psetex", "key:key milliseconds:integer value:string"),
    d("psubscribe", "pattern{pattern:pattern}*"),
    d("psync", "replicationid:string offset:integer"),
    d("pttl", "key:key")
        .history(&[
            ("2.8.0", "Added the -2 reply."),
        ]),
    d("publish", "channel:string message:string"),
    d("pubsub|channels", "pattern:pattern?"),
    d("pubsub|numsub", "channel:string?*"),
    d("pubsub|shardchannels", "pattern:pattern?"),
    d("pubsub|shardnumsub", "shardchannel:string?*"),
    d("punsubscribe", "pattern:pattern?*"),
    d("rename", "key:key newkey:key@1"),
    d("renamenx", "key:key newkey:key@1")
        .history(&[
            ("3.2.0", "The command no longer returns an error when source and destination names are the same."),
        ]),
    d("replconf", "")
        .syscmd(),
    d("replicaof", "args(host-port{host:string port:integer} | no-one{NO ONE})"),
    d("restore", "key:key ttl:integer serialized-value:string REPLACE^3.0.0? ABSTTL^5.0.0? IDLETIME=seconds:integer^5.0.0? FREQ=frequency:integer^5.0.0?")
        .history(&[
            ("3.0.0", "Added the `REPLACE` modifier."),
            ("5.0.0", "Added the `ABSTTL` modifier."),
            ("5.0.0", "Added the `IDLETIME` and `FREQ` options."),
        ]),
    d("rpop", "key:key count:integer^6.2.0?")
        .history(&[
            ("6.2.0", "Added the `count` argument."),
        ]),
    d("rpoplpush", "source:key destination:key@1")
        .deprecated("6.2.0", "`LMOVE` with the `RIGHT` and `LEFT` arguments"),
    d("rpush", "key:key element:string*")
        .history(&[
            ("2.4.0", "Accepts multiple `element` arguments."),
        ]),
    d("rpushx", "key:key element:string*")
        .history(&[
            ("4.0.0", "Accepts multiple `element` arguments."),
        ]),
    d("sadd", "key:key member:string*")
        .history(&[
            ("2.4.0", "Accepts multiple `member` arguments."),
        ]),
    d("scan", "cursor:integer MATCH=pattern:pattern? COUNT=count:integer? TYPE=type:string^6.0.0?")
        .history(&[
            ("6.0.0", "Added the `TYPE` subcommand."),
        ]),
    d("scard", "key:key"),
    d("sdiff", "key:key*"),
    d("sdiffstore", "destination:key key:key@1*"),
    d("select", "index:integer"),
    d("sentinel", "")
        .head("sentinel", "2.8.4", "A container for Sentinel commands", "Depends on subcommand."),
    d("sentinel|ckquorum", "master-name:string")
        .head("sentinel", "2.8.4", "Check for a Sentinel quorum", ""),
    d("sentinel|config", "set_or_get(SET=set_param_value{parameter:string value:string}* | GET=parameter:string*)")
        .head("sentinel", "6.2.0", "Configure Sentinel", "O(1)"),
    d("sentinel|debug", "parameter_value{parameter:string value:string}*")
        .head("sentinel", "7.0.0", "List or update the current configurable parameters", "O(N) where N is the number of configurable parameters"),
    d("sentinel|failover", "master-name:string")
        .head("sentinel", "2.8.4", "Force a failover", ""),
    d("sentinel|flushconfig", "")
        .head("sentinel", "2.8.4", "Rewrite configuration file", "O(1)"),
    d("sentinel|get-master-addr-by-name", "master-name:string")
        .head("sentinel", "2.8.4", "Get port and address of a master", "O(1)"),
    d("sentinel|help", "")
        .head("sentinel", "6.2.0", "Show helpful text about the different subcommands", "O(1)"),
    d("sentinel|info-cache", "nodename:string*")
        .head("sentinel", "3.2.0", "Get cached INFO from the instances in the deployment", "O(N) where N is the number of instances"),
    d("sentinel|is-master-down-by-addr", "ip:string port:integer current-epoch:integer runid:string")
        .head("sentinel", "2.8.4", "Check if a master is down", "O(1)"),
    d("sentinel|master", "master-name:string")
        .head("sentinel", "2.8.4", "Shows the state of a master", "O(1)"),
    d("sentinel|masters", "")
        .head("sentinel", "2.8.4", "List the monitored masters", "O(N) where N is the number of masters"),
    d("sentinel|monitor", "name:string ip:string port:integer quorum:integer")
        .head("sentinel", "2.8.4", "Start monitoring", "O(1)"),
    d("sentinel|myid", "")
        .head("sentinel", "6.2.0", "Get the Sentinel instance ID", "O(1)"),
    d("sentinel|pending-scripts", "")
        .head("sentinel", "2.8.4", "Get information about pending scripts", ""),
    d("sentinel|remove", "master-name:string")
        .head("sentinel", "2.8.4", "Stop monitoring", "O(1)"),
    d("sentinel|replicas", "master-name:string")
        .head("sentinel", "5.0.0", "List the monitored replicas", "O(N) where N is the number of replicas"),
    d("sentinel|reset", "pattern:pattern")
        .head("sentinel", "2.8.4", "Reset masters by name pattern", "O(N) where N is the number of monitored masters"),
    d("sentinel|sentinels", "master-name:string")
        .head("sentinel", "2.8.4", "List the Sentinel instances", "O(N) where N is the number of Sentinels"),
    d("sentinel|set", "master-name:string option_value{option:string value:string}*")
        .head("sentinel", "2.8.4", "Change the configuration of a monitored master", "O(1)"),
    d("sentinel|simulate-failure", "mode(crash-after-election:pure-token | crash-after-promotion:pure-token | help:pure-token)?*")
        .head("sentinel", "3.2.0", "Simulate failover scenarios", ""),
    d("sentinel|slaves", "master-name:string")
        .head("sentinel", "2.8.0", "List the monitored slaves", "O(N) where N is the number of slaves")
        .deprecated("5.0.0", "`SENTINEL REPLICAS`"),
    d("set", "key:key value:string condition(NX | XX)^2.6.12? GET^6.2.0? expiration(EX=seconds:integer^2.6.12 | PX=milliseconds:integer^2.6.12 | EXAT=unix-time-seconds:unix-time^6.2.0 | PXAT=unix-time-milliseconds:unix-time^6.2.0 | KEEPTTL^6.0.0)?")
        .history(&[
            ("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."),
            ("6.0.0", "Added the `KEEPTTL` option."),
            ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."),
            ("7.0.0", "Allowed the `NX` and `GET` options to be used together."),
        ]),
    d("setbit", "key:key offset:integer value:integer"),
    d("setex", "key:key seconds:integer value:string"),
    d("setnx", "key:key value:string"),
    d("setrange", "key:key offset:integer value:string"),
    d("shutdown", "nosave_save(NOSAVE | SAVE)? NOW^7.0.0? FORCE^7.0.0? ABORT^7.0.0?")
        .history(&[
            ("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers."),
        ]),
    d("sinter", "key:key*"),
    d("sintercard", "numkeys:integer key:key* LIMIT=limit:integer?"),
    d("sinterstore", "destination:key key:key@1*"),
    d("sismember", "key:key member:string"),
    d("slaveof", "args(host-port{host:string port:integer} | no-one{NO ONE})")
        .deprecated("5.0.0", "`REPLICAOF`"),
    d("slowlog|get", "count:integer?")
        .history(&[
            ("4.0.0", "Added client IP address, port and name to the reply."),
        ]),
    d("smembers", "key:key"),
    d("smismember", "key:key member:string*"),
    d("smove", "source:key destination:key@1 member:string"),
    d("sort", "key:key BY=pattern:pattern@1? LIMIT=offset_count{offset:integer count:integer}? GET=pattern:pattern@1?*+ order(ASC | DESC)? ALPHA=sorting:pure-token? STORE=destination:key@2?"),
    d("sort_ro", "key:key BY=pattern:pattern@1? LIMIT=offset_count{offset:integer count:integer}? GET=pattern:pattern@1?*+ order(ASC | DESC)? ALPHA=sorting:pure-token?"),
    d("spop", "key:key count:integer^3.2.0?")
        .history(&[
            ("3.2.0", "Added the `count` argument."),
        ]),
    d("spublish", "shardchannel:string message:string"),
    d("srandmember", "key:key count:integer^2.6.0?")
        .history(&[
            ("2.6.0", "Added the optional `count` argument."),
        ]),
    d("srem", "key:key member:string*")
        .history(&[
            ("2.4.0", "Accepts multiple `member` arguments."),
        ]),
    d("sscan", "key:key cursor:integer MATCH=pattern:pattern? COUNT=count:integer?"),
    d("ssubscribe", "shardchannel:string*"),
    d("strlen", "key:key"),
    d("subscribe", "channel:string*"),
    d("substr", "key:key start:integer end:integer")
        .deprecated("2.0.0", "`GETRANGE`"),
    d("sunion", "key:key*"),
    d("sunionstore", "destination:key key:key@1*"),
    d("sunsubscribe", "shardchannel:string?*"),
    d("swapdb", "index1:integer index2:integer"),
    d("touch", "key:key*"),
    d("ttl", "key:key")
        .history(&[
            ("2.8.0", "Added the -2 reply."),
        ]),
    d("type", "key:key"),
    d("unlink", "key:key*"),
    d("unsubscribe", "channel:string?*"),
    d("wait", "numreplicas:integer timeout:integer"),
    d("watch", "key:key*"),
    d("zadd", "key:key condition(NX | XX)^3.0.2? comparison(GT | LT)^6.2.0? CH=change:pure-token^3.0.2? INCR=increment:pure-token^3.0.2? score_member{score:double member:string}*")
        .history(&[
            ("2.4.0", "Accepts multiple elements."),
            ("3.0.2", "Added the `XX`, `NX`, `CH` and `INCR` options."),
            ("6.2.0", "Added the `GT` and `LT` options."),
        ]),
    d("zcard", "key:key"),
    d("zcount", "key:key min:double max:double"),
    d("zdiff", "numkeys:integer key:key* WITHSCORES?"),
    d("zdiffstore", "destination:key numkeys:integer key:key@1*"),
    d("zincrby", "key:key increment:integer member:string"),
    d("zinter", "numkeys:integer key:key* WEIGHTS=weight:integer?* AGGREGATE=aggregate(SUM | MIN | MAX)? WITHSCORES?"),
    d("zintercard", "numkeys:integer key:key* LIMIT=limit:integer?"),
    d("zinterstore", "destination:key numkeys:integer key:key@1* WEIGHTS=weight:integer?* AGGREGATE=aggregate(SUM | MIN | MAX)?"),
    d("zlexcount", "key:key min:string max:string"),
    d("zmpop", "numkeys:integer key:key* where(MIN | MAX) COUNT=count:integer?"),
    d("zmscore", "key:key member:string*"),
    d("zpopmax", "key:key count:integer?"),
    d("zpopmin", "key:key count:integer?"),
    d("zrandmember", "key:key options{count:integer WITHSCORES?}?"),
    d("zrange", "key:key start:string stop:string sortby(BYSCORE | BYLEX)^6.2.0? REV^6.2.0? LIMIT=offset_count{offset:integer count:integer}^6.2.0? WITHSCORES?")
        .history(&[
            ("6.2.0", "Added the `REV`, `BYSCORE`, `BYLEX` and `LIMIT` options."),
        ]),
    d("zrangebylex", "key:key min:string max:string LIMIT=offset_count{offset:integer count:integer}?")
        .deprecated("6.2.0", "`ZRANGE` with the `BYLEX` argument"),
    d("zrangebyscore", "key:key min:double max:double WITHSCORES^2.0.0? LIMIT=offset_count{offset:integer count:integer}?")
        .history(&[
            ("2.0.0", "Added the `WITHSCORES` modifier."),
        ])
        .deprecated("6.2.0", "`ZRANGE` with the `BYSCORE` argument"),
    d("zrangestore", "dst:key src:key@1 min:string max:string sortby(BYSCORE | BYLEX)? REV? LIMIT=offset_count{offset:integer count:integer}?"),
    d("zrank", "key:key member:string"),
    d("zrem", "key:key member:string*")
        .history(&[
            ("2.4.0", "Accepts multiple elements."),
        ]),
    d("zremrangebylex", "key:key min:string max:string"),
    d("zremrangebyrank", "key:key start:integer stop:integer"),
    d("zremrangebyscore", "key:key min:double max:double"),
    d("zrevrange", "key:key start:integer stop:integer WITHSCORES?")
        .deprecated("6.2.0", "`ZRANGE` with the `REV` argument"),
    d("zrevrangebylex", "key:key max:string min:string LIMIT=offset_count{offset:integer count:integer}?")
        .deprecated("6.2.0", "`ZRANGE` with the `REV` and `BYLEX` arguments"),
    d("zrevrangebyscore", "key:key max:double min:double WITHSCORES? LIMIT=offset_count{offset:integer count:integer}?")
        .history(&[
            ("2.1.6", "`min` and `max` can be exclusive."),
        ])
        .deprecated("6.2.0", "`ZRANGE` with the `REV` and `BYSCORE` arguments"),
    d("zrevrank", "key:key member:string"),
    d("zscan", "key:key cursor:integer MATCH=pattern:pattern? COUNT=count:integer?"),
    d("zscore", "key:key member:string"),
    d("zunion", "numkeys:integer key:key* WEIGHTS=weight:integer?* AGGREGATE=aggregate(SUM | MIN | MAX)? WITHSCORES?"),
    d("zunionstore", "destination:key numkeys:integer key:key@1* WEIGHTS=weight:integer?* AGGREGATE=aggregate(SUM | MIN | MAX)?"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::Proto;

    #[test]
    fn table_is_sorted_and_every_entry_parses() {
        for w in DOCS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        for d in DOCS {
            let args = parse_args(d.args);
            assert!(args.is_ok(), "{}: {:?}", d.name, args.err());
        }
        assert!(find("set").is_some());
        assert!(find("client|kill").is_some());
        assert!(find("nosuch").is_none());
    }

    #[test]
    fn entries_without_a_head_are_data_node_commands() {
        use crate::commands::{introspect, table};
        for d in DOCS.iter().filter(|d| d.head.is_none()) {
            let known = match d.name.split_once('|') {
                None => table::lookup(d.name.as_bytes()).is_some(),
                Some(("command", _)) => introspect::command_subcommands()
                    .iter()
                    .any(|s| s.name == d.name),
                Some((parent, sub)) => table::lookup(parent.as_bytes())
                    .and_then(|p| table::lookup_sub(p, sub.as_bytes()))
                    .is_some(),
            };
            assert!(known, "{} has no spec and no head of its own", d.name);
        }
    }

    #[test]
    fn dsl_builds_the_argument_tree() {
        let args = parse_args(
            "key:key@1 ip:port:string!2.8.12 NX ALPHA=sorting:pure-token? \
             TYPE=kind(NORMAL | MASTER^3.2.0)^2.8.12?* GET=pattern:pattern@1?*+ \
             pair{field:string value:double}*",
        )
        .unwrap();
        assert_eq!(args.len(), 7);
        assert_eq!(args[0].name, "key");
        assert_eq!(args[0].kind, ArgType::Key);
        assert_eq!(args[0].key_spec_index, Some(1));
        assert_eq!(args[1].name, "ip:port");
        assert_eq!(args[1].kind, ArgType::String);
        assert_eq!(args[1].deprecated_since, Some("2.8.12"));
        assert_eq!((args[2].name.as_str(), args[2].token), ("nx", Some("NX")));
        assert_eq!(args[2].kind, ArgType::PureToken);
        assert_eq!(
            (args[3].name.as_str(), args[3].token, args[3].optional),
            ("sorting", Some("ALPHA"), true)
        );
        let ArgType::OneOf(alts) = &args[4].kind else {
            panic!("not a oneof: {:?}", args[4]);
        };
        assert_eq!(args[4].token, Some("TYPE"));
        assert_eq!(args[4].since, Some("2.8.12"));
        assert!(args[4].optional && args[4].multiple && !args[4].multiple_token);
        assert_eq!(alts.len(), 2);
        assert_eq!(
            (alts[1].name.as_str(), alts[1].since),
            ("master", Some("3.2.0"))
        );
        assert!(args[5].optional && args[5].multiple && args[5].multiple_token);
        assert_eq!(args[5].key_spec_index, Some(1));
        let ArgType::Block(parts) = &args[6].kind else {
            panic!("not a block: {:?}", args[6]);
        };
        assert_eq!(parts[1].kind, ArgType::Double);
        assert!(args[6].multiple);
    }

    #[test]
    fn dsl_rejects_malformed_input() {
        assert!(parse_args("x:nosuchtype").is_err());
        assert!(parse_args("EX=seconds").is_err());
        assert!(parse_args("a(NX | XX").is_err());
        assert!(parse_args("a{b:string))").is_err());
    }

    #[test]
    fn docs_entry_has_redis_fields_in_order() {
        let mut out = ReplyBuf::new(Proto::Resp3);
        let cmd = DocCmd {
            name: "getset",
            head: Head {
                group: "string",
                since: "1.0.0",
                summary: "s",
                complexity: "O(1)",
            },
            subcommands: Vec::new(),
        };
        write_docs(&mut out, &cmd);
        let text = String::from_utf8_lossy(&out.buf).into_owned();
        let expected = "%8\r\n$7\r\nsummary\r\n$1\r\ns\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n\
             $5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n\
             $9\r\ndoc_flags\r\n~1\r\n+deprecated\r\n\
             $16\r\ndeprecated_since\r\n$5\r\n6.2.0\r\n\
             $11\r\nreplaced_by\r\n$30\r\n`SET` with the `!GET` argument\r\n";
        assert!(text.starts_with(expected), "{text}");
        assert!(text.contains("$9\r\narguments\r\n*2\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n"));
    }
}
