//! CLIENT: ID INFO LIST SETNAME GETNAME SETINFO KILL NO-EVICT NO-TOUCH PAUSE UNPAUSE REPLY HELP.
//!
//! Connections live on the shard that accepted them; LIST and KILL gather or act on every
//! shard's client registry through the mesh, so the server looks like one Redis.

use super::errors;
use super::spec::*;
use super::{eq_ic, parse_i64, BoxFuture, Handler};
use crate::net::client::ClientHandle;
use crate::net::session::ReplyMode;
use crate::net::Conn;
use crate::shard::{Mesh, Shard};
use bytes::Bytes;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Instant;

const ADMIN_FLAGS: Flags = ADMIN | NOSCRIPT | LOADING | STALE;
const CONN_FLAGS: Flags = NOSCRIPT | LOADING | STALE;

pub static COMMANDS: &[CommandSpec] = &[container(
    "client",
    "connection",
    "2.4.0",
    "A container for client connection commands",
    SUBCOMMANDS,
)];

static SUBCOMMANDS: &[CommandSpec] = &[
    spec("client|id", 2, CONN_FLAGS, Keys::None, "connection", "5.0.0",
        "Returns the client ID for the current connection", "O(1)", Handler::Conn(id)),
    spec("client|info", 2, CONN_FLAGS, Keys::None, "connection", "6.2.0",
        "Returns information about the current client connection.", "O(1)", Handler::Conn(info))
        .with_tips(&["nondeterministic_output"]),
    spec("client|list", -2, ADMIN_FLAGS, Keys::None, "connection", "2.4.0",
        "Get the list of client connections", "O(N) where N is the number of client connections",
        Handler::Coord(list)).with_tips(&["nondeterministic_output"]),
    spec("client|setname", 3, CONN_FLAGS, Keys::None, "connection", "2.6.9",
        "Set the current connection name", "O(1)", Handler::Conn(setname)),
    spec("client|getname", 2, CONN_FLAGS, Keys::None, "connection", "2.6.9",
        "Get the current connection name", "O(1)", Handler::Conn(getname)),
    spec("client|setinfo", 4, CONN_FLAGS, Keys::None, "connection", "7.2.0",
        "Set client or connection specific info", "O(1)", Handler::Conn(setinfo)),
    spec("client|kill", -3, ADMIN_FLAGS, Keys::None, "connection", "2.4.0",
        "Kill the connection of a client", "O(N) where N is the number of client connections",
        Handler::Coord(kill)),
    spec("client|no-evict", 3, ADMIN_FLAGS, Keys::None, "connection", "7.0.0",
        "Set client eviction mode for the current connection", "O(1)", Handler::Conn(no_evict)),
    spec("client|no-touch", 3, CONN_FLAGS, Keys::None, "connection", "7.2.0",
        "Controls whether commands sent by the client will alter the LRU/LFU of the keys they access.",
        "O(1)", Handler::Conn(no_touch)),
    spec("client|pause", -3, ADMIN_FLAGS, Keys::None, "connection", "2.9.50",
        "Stop processing commands from clients for some time", "O(1)", Handler::Conn(pause)),
    spec("client|unpause", 2, ADMIN_FLAGS, Keys::None, "connection", "6.2.0",
        "Resume processing of clients that were paused", "O(N) Where N is the number of paused clients",
        Handler::Conn(unpause)),
    spec("client|reply", 3, CONN_FLAGS, Keys::None, "connection", "3.2.0",
        "Instruct the server whether to reply to commands", "O(1)", Handler::Conn(reply)),
    super::blocking::CLIENT_UNBLOCK,
    super::tracking::CLIENT_CACHING,
    super::tracking::CLIENT_GETREDIR,
    super::tracking::CLIENT_TRACKING,
    super::tracking::CLIENT_TRACKINGINFO,
    spec("client|help", 2, LOADING | STALE, Keys::None, "connection", "5.0.0",
        "Show helpful text about the different subcommands", "O(1)", Handler::Conn(help)),
];

const HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <LIB-NAME|LIB-VER> <value>",
    "    Set client library name or version.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
];

/// Writes a HELP reply the way Redis's `addReplyHelp` does (a status line each, HELP last).
pub fn reply_help(out: &mut crate::resp::ReplyBuf, lines: &[&str]) {
    out.array(lines.len() + 2);
    for l in lines {
        out.simple(l);
    }
    out.simple("HELP");
    out.simple("    Prints this help.");
}

fn help(conn: &mut Conn, _argv: &[Bytes]) {
    reply_help(&mut conn.out, HELP);
}

fn id(conn: &mut Conn, _argv: &[Bytes]) {
    conn.out.int(conn.handle.id as i64);
}

fn info(conn: &mut Conn, _argv: &[Bytes]) {
    let mut line = conn.handle.list_line(Instant::now());
    line.push('\n');
    conn.out.verbatim(line.as_bytes());
}

/// Client types CLIENT LIST / KILL filter on. Every ringkv connection is `normal` so far.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Normal,
    Master,
    Replica,
    Pubsub,
}

fn parse_type(b: &[u8]) -> Option<ClientType> {
    if eq_ic(b, "normal") {
        Some(ClientType::Normal)
    } else if eq_ic(b, "master") {
        Some(ClientType::Master)
    } else if eq_ic(b, "replica") || eq_ic(b, "slave") {
        Some(ClientType::Replica)
    } else if eq_ic(b, "pubsub") {
        Some(ClientType::Pubsub)
    } else {
        None
    }
}

fn unknown_type(b: &[u8]) -> String {
    format!("ERR Unknown client type '{}'", String::from_utf8_lossy(b))
}

fn type_of(h: &ClientHandle) -> ClientType {
    let i = h.info.borrow();
    if i.flags.contains('M') {
        ClientType::Master
    } else if i.flags.contains('S') {
        ClientType::Replica
    } else if i.flags.contains('P') {
        ClientType::Pubsub
    } else {
        ClientType::Normal
    }
}

/// Which clients a CLIENT LIST / CLIENT KILL applies to.
#[derive(Clone, Default)]
pub struct ClientFilter {
    pub ids: Option<Vec<u64>>,
    pub ctype: Option<ClientType>,
    pub addr: Option<String>,
    pub laddr: Option<String>,
    pub user: Option<String>,
    /// Never matched (SKIPME yes): the caller's own id.
    pub skip: Option<u64>,
}

impl ClientFilter {
    pub fn matches(&self, h: &ClientHandle) -> bool {
        if self.skip == Some(h.id) {
            return false;
        }
        if let Some(ids) = &self.ids {
            if !ids.contains(&h.id) {
                return false;
            }
        }
        if let Some(t) = self.ctype {
            if type_of(h) != t {
                return false;
            }
        }
        if let Some(a) = &self.addr {
            if *a != shown_addr(h) {
                return false;
            }
        }
        if let Some(a) = &self.laddr {
            if *a != h.laddr {
                return false;
            }
        }
        if let Some(u) = &self.user {
            if h.info.borrow().user != u {
                return false;
            }
        }
        true
    }
}

/// The address as CLIENT LIST shows it (`path:0` for unix sockets).
fn shown_addr(h: &ClientHandle) -> String {
    if h.is_unix {
        format!("{}:0", h.addr)
    } else {
        h.addr.clone()
    }
}

/// Every client of the server matching `f`, as (id, CLIENT LIST line), ordered by id.
pub async fn gather_list(shard: &Rc<Shard>, f: ClientFilter) -> Vec<(u64, String)> {
    let mut all: Vec<(u64, String)> = Mesh::run_on_all(shard, move |sh| {
        let now = Instant::now();
        sh.clients
            .borrow()
            .values()
            .filter(|h| f.matches(h))
            .map(|h| (h.id, h.list_line(now)))
            .collect::<Vec<_>>()
    })
    .await
    .into_iter()
    .flatten()
    .collect();
    all.sort_unstable_by_key(|(id, _)| *id);
    all
}

/// Kills every client matching `f` on every shard; returns how many.
pub async fn kill_matching(shard: &Rc<Shard>, f: ClientFilter) -> usize {
    Mesh::run_on_all(shard, move |sh| {
        let victims: Vec<Rc<ClientHandle>> = sh
            .clients
            .borrow()
            .values()
            .filter(|h| f.matches(h))
            .cloned()
            .collect();
        for h in &victims {
            h.kill();
        }
        victims.len()
    })
    .await
    .into_iter()
    .sum()
}

fn list<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        let mut f = ClientFilter::default();
        match argv.len() {
            2 => {}
            4 if eq_ic(&argv[2], "type") => match parse_type(&argv[3]) {
                Some(t) => f.ctype = Some(t),
                None => return conn.error(&unknown_type(&argv[3])),
            },
            n if n > 3 && eq_ic(&argv[2], "id") => {
                let mut ids = Vec::new();
                for a in &argv[3..] {
                    match parse_i64(a) {
                        Some(v) if v >= 0 => ids.push(v as u64),
                        _ => return conn.error("ERR Invalid client ID"),
                    }
                }
                f.ids = Some(ids);
            }
            _ => return conn.error(errors::SYNTAX),
        }
        let lines = gather_list(&conn.shard, f).await;
        let mut text = String::new();
        for (_, l) in lines {
            text.push_str(&l);
            text.push('\n');
        }
        conn.out.verbatim(text.as_bytes());
    })
}

fn kill<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        let me = conn.handle.id;
        // Old form: CLIENT KILL addr, +OK or an error.
        if argv.len() == 3 {
            let addr = String::from_utf8_lossy(&argv[2]).into_owned();
            if shown_addr(&conn.handle) == addr {
                conn.out.ok();
                conn.close_after_reply = true;
                return;
            }
            let f = ClientFilter {
                addr: Some(addr),
                skip: Some(me),
                ..Default::default()
            };
            if kill_matching(&conn.shard, f).await == 0 {
                return conn.error("ERR No such client");
            }
            return conn.out.ok();
        }
        if !argv.len().is_multiple_of(2) {
            return conn.error(errors::SYNTAX);
        }
        let mut f = ClientFilter::default();
        let mut skipme = true;
        for pair in argv[2..].chunks(2) {
            let (opt, val) = (&pair[0], &pair[1]);
            if eq_ic(opt, "id") {
                match parse_i64(val) {
                    Some(v) if v > 0 => f.ids = Some(vec![v as u64]),
                    _ => return conn.error("ERR client-id should be greater than 0"),
                }
            } else if eq_ic(opt, "type") {
                match parse_type(val) {
                    Some(t) => f.ctype = Some(t),
                    None => return conn.error(&unknown_type(val)),
                }
            } else if eq_ic(opt, "addr") {
                f.addr = Some(String::from_utf8_lossy(val).into_owned());
            } else if eq_ic(opt, "laddr") {
                f.laddr = Some(String::from_utf8_lossy(val).into_owned());
            } else if eq_ic(opt, "user") {
                if &val[..] != b"default" {
                    return conn.error(&format!(
                        "ERR No such user '{}'",
                        String::from_utf8_lossy(val)
                    ));
                }
                f.user = Some("default".into());
            } else if eq_ic(opt, "skipme") {
                if eq_ic(val, "yes") {
                    skipme = true;
                } else if eq_ic(val, "no") {
                    skipme = false;
                } else {
                    return conn.error(errors::SYNTAX);
                }
            } else {
                return conn.error(errors::SYNTAX);
            }
        }
        // The caller itself is never killed remotely: when it matches (SKIPME no) it closes
        // after this reply, as Redis does.
        let self_too = !skipme && f.matches(&conn.handle);
        f.skip = Some(me);
        let n = kill_matching(&conn.shard, f).await + usize::from(self_too);
        conn.out.int(n as i64);
        if self_too {
            conn.close_after_reply = true;
        }
    })
}

/// Redis refuses names a CLIENT LIST line could not show on one line.
pub fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn setname(conn: &mut Conn, argv: &[Bytes]) {
    let name = &argv[2];
    if !valid_name(name) {
        return conn
            .error("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    conn.handle.info.borrow_mut().name = if name.is_empty() {
        None
    } else {
        Some(name.clone())
    };
    conn.out.ok();
}

fn getname(conn: &mut Conn, _argv: &[Bytes]) {
    let name = conn.handle.info.borrow().name.clone();
    match name {
        Some(n) => conn.out.bulk(&n),
        None => conn.out.null(),
    }
}

fn setinfo(conn: &mut Conn, argv: &[Bytes]) {
    let (attr, val) = (&argv[2], &argv[3]);
    let lib_name = eq_ic(attr, "lib-name");
    if !lib_name && !eq_ic(attr, "lib-ver") {
        return conn.error(&format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(attr)
        ));
    }
    if !valid_name(val) {
        let which = if lib_name { "lib-name" } else { "lib-ver" };
        return conn.error(&format!(
            "ERR {which} cannot contain spaces, newlines or special characters."
        ));
    }
    let v = if val.is_empty() {
        None
    } else {
        Some(val.clone())
    };
    {
        let mut i = conn.handle.info.borrow_mut();
        if lib_name {
            i.lib_name = v;
        } else {
            i.lib_ver = v;
        }
    }
    conn.out.ok();
}

fn on_off(b: &[u8]) -> Option<bool> {
    if eq_ic(b, "on") {
        Some(true)
    } else if eq_ic(b, "off") {
        Some(false)
    } else {
        None
    }
}

fn no_evict(conn: &mut Conn, argv: &[Bytes]) {
    match on_off(&argv[2]) {
        Some(v) => {
            conn.handle.info.borrow_mut().no_evict = v;
            conn.out.ok();
        }
        None => conn.error(errors::SYNTAX),
    }
}

fn no_touch(conn: &mut Conn, argv: &[Bytes]) {
    match on_off(&argv[2]) {
        Some(v) => {
            conn.handle.info.borrow_mut().no_touch = v;
            conn.out.ok();
        }
        None => conn.error(errors::SYNTAX),
    }
}

fn pause(conn: &mut Conn, argv: &[Bytes]) {
    let Some(ms) = parse_i64(&argv[2]) else {
        return conn.error("ERR timeout is not an integer or out of range");
    };
    if ms < 0 {
        return conn.error("ERR timeout is negative");
    }
    let writes_only =
        match argv.len() {
            3 => false,
            4 if eq_ic(&argv[3], "write") => true,
            4 if eq_ic(&argv[3], "all") => false,
            4 => return conn.error("ERR CLIENT PAUSE mode must be WRITE or ALL"),
            _ => return conn.error(
                "ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.",
            ),
        };
    let shared = &conn.shard.shared;
    let until = crate::keyspace::now_ms().saturating_add(ms);
    // A pause only ever extends (Redis keeps the later end and the stricter mode).
    let prev = shared.pause_until.load(Ordering::Relaxed);
    let active = prev > crate::keyspace::now_ms();
    if !active || !writes_only {
        shared
            .pause_writes_only
            .store(writes_only, Ordering::Relaxed);
    }
    shared.pause_until.fetch_max(until, Ordering::Relaxed);
    conn.out.ok();
}

fn unpause(conn: &mut Conn, _argv: &[Bytes]) {
    conn.shard.shared.pause_until.store(0, Ordering::Relaxed);
    conn.out.ok();
}

fn reply(conn: &mut Conn, argv: &[Bytes]) {
    let a = &argv[2];
    if eq_ic(a, "on") {
        conn.reply_mode = ReplyMode::On;
        conn.out.ok();
    } else if eq_ic(a, "off") {
        conn.reply_mode = ReplyMode::Off;
    } else if eq_ic(a, "skip") {
        if conn.reply_mode == ReplyMode::On {
            conn.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        conn.error(errors::SYNTAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_spaces_or_controls_are_refused() {
        assert!(valid_name(b"redis_exporter"));
        assert!(valid_name(b""));
        assert!(!valid_name(b"a b"));
        assert!(!valid_name(b"a\nb"));
        assert!(!valid_name("é".as_bytes()));
    }

    #[test]
    fn client_types_parse_case_insensitively() {
        assert!(parse_type(b"NORMAL") == Some(ClientType::Normal));
        assert!(parse_type(b"slave") == Some(ClientType::Replica));
        assert!(parse_type(b"pubsub") == Some(ClientType::Pubsub));
        assert!(parse_type(b"xx").is_none());
    }

    #[test]
    fn filter_matches_on_id_type_and_skip() {
        let h = ClientHandle::new(
            7,
            "127.0.0.1:5000".into(),
            "127.0.0.1:6379".into(),
            -1,
            false,
        );
        let f = ClientFilter {
            ids: Some(vec![7]),
            ..Default::default()
        };
        assert!(f.matches(&h));
        let f = ClientFilter {
            ids: Some(vec![8]),
            ..Default::default()
        };
        assert!(!f.matches(&h));
        let f = ClientFilter {
            ctype: Some(ClientType::Pubsub),
            ..Default::default()
        };
        assert!(!f.matches(&h));
        let f = ClientFilter {
            addr: Some("127.0.0.1:5000".into()),
            skip: Some(7),
            ..Default::default()
        };
        assert!(!f.matches(&h));
    }
}
