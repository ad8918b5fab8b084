//! Server commands: CONFIG COMMAND INFO TIME SHUTDOWN (DBSIZE FLUSHDB FLUSHALL SWAPDB are in
//! keys.rs, with the rest of the keyspace commands).

use super::spec::*;
use super::{Ctx, Handler};
use crate::net::Conn;
use bytes::Bytes;

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
    ),
    container(
        "config",
        "server",
        "2.0.0",
        "A container for server configuration commands",
        CONFIG_SUBCOMMANDS,
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
    let res = conn.shard.shared.config_mut().set(&args);
    match res {
        Ok(_) => {
            conn.shard.shared.bump_config_epoch();
            conn.out.ok()
        }
        Err(e) => conn.error(&e),
    }
}
