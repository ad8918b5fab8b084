//! Server commands: DBSIZE FLUSHDB FLUSHALL CONFIG COMMAND INFO TIME SHUTDOWN.

use super::spec::*;
use super::{BoxFuture, Ctx, Handler};
use crate::net::Conn;
use crate::shard::Mesh;
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "dbsize",
        1,
        READONLY | FAST,
        Keys::None,
        "server",
        "1.0.0",
        "Return the number of keys in the selected database",
        "O(1)",
        Handler::Coord(dbsize),
    ),
    spec(
        "flushdb",
        -1,
        WRITE,
        Keys::None,
        "server",
        "1.0.0",
        "Remove all keys from the current database",
        "O(N) where N is the number of keys in the selected database",
        Handler::Coord(flushdb),
    ),
    spec(
        "flushall",
        -1,
        WRITE,
        Keys::None,
        "server",
        "1.0.0",
        "Remove all keys from all databases",
        "O(N) where N is the total number of keys in all databases",
        Handler::Coord(flushall),
    ),
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

fn dbsize<'a>(conn: &'a mut Conn, _argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        let db = conn.db;
        let n: usize = Mesh::run_on_all(&conn.shard, move |sh| sh.data.borrow().dbs[db].len())
            .await
            .into_iter()
            .sum();
        conn.out.int(n as i64);
    })
}

fn flushdb<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        if argv.len() > 2
            || (argv.len() == 2
                && !super::eq_ic(&argv[1], "async")
                && !super::eq_ic(&argv[1], "sync"))
        {
            return conn.error(super::errors::SYNTAX);
        }
        let db = conn.db;
        Mesh::run_on_all(&conn.shard, move |sh| sh.data.borrow_mut().dbs[db].clear()).await;
        conn.out.ok();
    })
}

fn flushall<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        if argv.len() > 2
            || (argv.len() == 2
                && !super::eq_ic(&argv[1], "async")
                && !super::eq_ic(&argv[1], "sync"))
        {
            return conn.error(super::errors::SYNTAX);
        }
        Mesh::run_on_all(&conn.shard, |sh| {
            for d in sh.data.borrow_mut().dbs.iter_mut() {
                d.clear();
            }
        })
        .await;
        conn.out.ok();
    })
}

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
