//! Connection commands: PING ECHO SELECT AUTH HELLO QUIT RESET, and the security trap for
//! HTTP-looking requests.

use super::errors;
use super::spec::*;
use super::{eq_ic, Ctx, Handler};
use crate::net::session::ReplyMode;
use crate::net::Conn;
use crate::resp::Proto;
use bytes::Bytes;

const FAST_AUTH: Flags = NO_AUTH | NOSCRIPT | LOADING | STALE | FAST | SENTINEL | ALLOW_BUSY;

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "ping",
        -1,
        FAST | SENTINEL,
        Keys::None,
        "connection",
        "1.0.0",
        "Ping the server",
        "O(1)",
        Handler::Local(ping),
    )
    .with_tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    spec(
        "echo",
        2,
        LOADING | STALE | FAST,
        Keys::None,
        "connection",
        "1.0.0",
        "Echo the given string",
        "O(1)",
        Handler::Local(echo),
    ),
    spec(
        "select",
        2,
        LOADING | STALE | FAST,
        Keys::None,
        "connection",
        "1.0.0",
        "Change the selected database for the current connection",
        "O(1)",
        Handler::Conn(select),
    ),
    spec(
        "auth",
        -2,
        FAST_AUTH,
        Keys::None,
        "connection",
        "1.0.0",
        "Authenticate to the server",
        "O(N) where N is the number of passwords defined for the user",
        Handler::Conn(auth),
    ),
    spec(
        "hello",
        -1,
        FAST_AUTH,
        Keys::None,
        "connection",
        "6.0.0",
        "Handshake with Redis",
        "O(1)",
        Handler::Conn(hello),
    ),
    spec(
        "quit",
        -1,
        ALLOW_BUSY | NO_AUTH | NOSCRIPT | LOADING | STALE | FAST,
        Keys::None,
        "connection",
        "1.0.0",
        "Close the connection",
        "O(1)",
        Handler::Conn(quit),
    ),
    spec(
        "reset",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        Keys::None,
        "connection",
        "6.2.0",
        "Reset the connection",
        "O(1)",
        Handler::Conn(reset),
    ),
    spec(
        "post",
        -1,
        NO_AUTH | LOADING | STALE,
        Keys::None,
        "server",
        "2.8.13",
        "",
        "",
        Handler::Conn(security_warning),
    ),
    spec(
        "host:",
        -1,
        NO_AUTH | LOADING | STALE,
        Keys::None,
        "server",
        "3.2.0",
        "",
        "",
        Handler::Conn(security_warning),
    ),
];

fn ping(ctx: &mut Ctx, argv: &[Bytes]) {
    match argv.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(&argv[1]),
        _ => ctx.error(&errors::wrong_arity("ping")),
    }
}

fn echo(ctx: &mut Ctx, argv: &[Bytes]) {
    ctx.out.bulk(&argv[1]);
}

fn select(conn: &mut Conn, argv: &[Bytes]) {
    match super::parse_i64(&argv[1]) {
        None => conn.error(errors::NOT_INTEGER),
        Some(i) if i < 0 || i as usize >= conn.cfg.databases => conn.error(errors::DB_INDEX),
        Some(i) => {
            conn.db = i as usize;
            conn.handle.info.borrow_mut().db = conn.db;
            conn.out.ok();
        }
    }
}

/// Checks a username/password pair against the default user (requirepass).
fn check_credentials(conn: &Conn, user: Option<&[u8]>, pass: &[u8]) -> bool {
    if let Some(u) = user {
        if u != b"default" {
            return false;
        }
    }
    match &conn.cfg.requirepass {
        Some(p) => p.as_slice() == pass,
        None => true,
    }
}

fn auth(conn: &mut Conn, argv: &[Bytes]) {
    let (user, pass) = match argv.len() {
        2 => (None, &argv[1]),
        3 => (Some(&argv[1][..]), &argv[2]),
        _ => return conn.error(errors::SYNTAX),
    };
    if user.is_none() && conn.cfg.requirepass.is_none() {
        return conn.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    }
    if check_credentials(conn, user, pass) {
        conn.authenticated = true;
        conn.out.ok();
    } else {
        conn.error(errors::WRONGPASS);
    }
}

/// HELLO's arguments, shared by the data node and the sentinel: the protocol version, AUTH
/// (checked by `check`) and SETNAME, then the authentication gate (`authed`). Applies them and
/// returns true, or replies with Redis's error and returns false; the caller writes the map.
pub fn hello_options(
    conn: &mut Conn,
    argv: &[Bytes],
    check: impl Fn(&Conn, &Bytes, &Bytes) -> bool,
    authed: impl Fn(&Conn) -> bool,
) -> bool {
    let mut proto = None;
    let mut i = 1;
    if argv.len() >= 2 {
        match super::parse_i64(&argv[1]) {
            Some(v) => {
                if !(2..=3).contains(&v) {
                    conn.error("NOPROTO unsupported protocol version");
                    return false;
                }
                proto = Some(v);
            }
            None => {
                conn.error("ERR Protocol version is not an integer or out of range");
                return false;
            }
        }
        i = 2;
    }
    let mut setname = None;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if eq_ic(&argv[i], "auth") && more >= 2 {
            if !check(conn, &argv[i + 1], &argv[i + 2]) {
                conn.error(errors::WRONGPASS);
                return false;
            }
            conn.authenticated = true;
            i += 3;
        } else if eq_ic(&argv[i], "setname") && more >= 1 {
            let name = &argv[i + 1];
            if name.iter().any(|&c| c <= b' ' || c > b'~') {
                conn.error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
                return false;
            }
            setname = Some(name.clone());
            i += 2;
        } else {
            conn.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&argv[i])
            ));
            return false;
        }
    }
    if !authed(conn) {
        conn.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return false;
    }
    if let Some(n) = setname {
        conn.handle.info.borrow_mut().name = if n.is_empty() { None } else { Some(n) };
    }
    if let Some(p) = proto {
        conn.out.proto = if p == 3 { Proto::Resp3 } else { Proto::Resp2 };
        conn.handle.info.borrow_mut().resp = p as u8;
    }
    true
}

fn hello(conn: &mut Conn, argv: &[Bytes]) {
    let accepted = hello_options(
        conn,
        argv,
        |c, u, p| check_credentials(c, Some(u), p),
        |c| c.authenticated,
    );
    if !accepted {
        return;
    }
    let out = &mut conn.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if out.proto == Proto::Resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.int(conn.handle.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
}

fn quit(conn: &mut Conn, _argv: &[Bytes]) {
    conn.out.ok();
    conn.close_after_reply = true;
}

fn reset(conn: &mut Conn, _argv: &[Bytes]) {
    super::transaction::reset(conn);
    super::pubsub::reset(conn);
    if let Some(sub) = &conn.pubsub {
        sub.set_tracking(false);
    }
    crate::net::tracking::disconnect(conn.id());
    conn.db = 0;
    conn.out.proto = Proto::Resp2;
    conn.reply_mode = ReplyMode::On;
    conn.authenticated = conn.cfg.requirepass.is_none();
    {
        let mut i = conn.handle.info.borrow_mut();
        i.db = 0;
        i.resp = 2;
        i.name = None;
        i.no_evict = false;
        i.no_touch = false;
    }
    conn.out.simple("RESET");
}

fn security_warning(conn: &mut Conn, _argv: &[Bytes]) {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = crate::keyspace::now_ms() / 1000;
    // Logged at most once a minute, like Redis, so an attacker cannot flood the log.
    let last = LAST.load(Ordering::Relaxed);
    if now - last > 60
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to Redis. This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise your Redis instance. Connection aborted.");
    }
    conn.close_after_reply = true;
}
