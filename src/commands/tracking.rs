//! CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO on the data node, and the dispatcher's
//! after-command hook that remembers the keys a tracking client read. The table and the
//! invalidation messages are `net::tracking`'s.

use super::spec::*;
use super::{eq_ic, parse_i64, BoxFuture, Handler};
use crate::net::pubsub::Subscriber;
use crate::net::tracking::{self, options::Reply};
use crate::net::Conn;
use crate::shard::Mesh;
use bytes::Bytes;

const FLAGS: Flags = NOSCRIPT | LOADING | STALE;

#[rustfmt::skip]
pub const CLIENT_CACHING: CommandSpec = spec("client|caching", 3, FLAGS, Keys::None, "connection",
    "6.0.0", "Instruct the server about tracking or not keys in the next request", "O(1)",
    Handler::Conn(caching));
#[rustfmt::skip]
pub const CLIENT_GETREDIR: CommandSpec = spec("client|getredir", 2, FLAGS, Keys::None, "connection",
    "6.0.0", "Get tracking notifications redirection client ID if any", "O(1)",
    Handler::Conn(getredir));
#[rustfmt::skip]
pub const CLIENT_TRACKING: CommandSpec = spec("client|tracking", -3, FLAGS, Keys::None, "connection",
    "6.0.0", "Enable or disable server assisted client side caching support",
    "O(1). Some options may introduce additional complexity.", Handler::Coord(client_tracking));
#[rustfmt::skip]
pub const CLIENT_TRACKINGINFO: CommandSpec = spec("client|trackinginfo", 2, FLAGS, Keys::None,
    "connection", "6.2.0",
    "Return information about server assisted client side caching for the current connection",
    "O(1)", Handler::Conn(trackinginfo));

fn reply(conn: &mut Conn, r: Reply) {
    match r {
        Reply::Ok => conn.out.ok(),
        Reply::Error(e) => conn.error(&e),
        Reply::ErrorThenOk(e) => {
            conn.error(&e);
            conn.out.ok();
        }
        Reply::Int(n) => conn.out.int(n),
        Reply::Info => tracking::options_of(conn.id()).write_info(&mut conn.out),
    }
}

/// The shard of client `id`, if it is connected.
async fn shard_of_client(conn: &Conn, id: i64) -> Option<usize> {
    let id = u64::try_from(id).ok()?;
    Mesh::run_on_all(&conn.shard, move |sh| sh.clients.borrow().contains_key(&id))
        .await
        .iter()
        .position(|x| *x)
}

fn client_tracking<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        // A REDIRECT target must exist: find its shard first (its mailbox lives there).
        let mut target = None;
        if let Some(i) = argv.iter().position(|a| eq_ic(a, "redirect")) {
            if let Some(id) = argv.get(i + 1).and_then(|a| parse_i64(a)) {
                target = shard_of_client(conn, id).await;
            }
        }
        let id = conn.id();
        let mut t = tracking::options_of(id);
        let r = t.tracking(argv, |_| target.is_some());
        if matches!(r, Reply::Ok | Reply::ErrorThenOk(_)) {
            let proto = conn.proto();
            let sub = conn
                .pubsub
                .get_or_insert_with(|| Subscriber::new(id, proto))
                .clone();
            tracking::set_options(id, conn.shard.id, target.unwrap_or(0), t, Some(&sub));
        }
        reply(conn, r);
    })
}

fn caching(conn: &mut Conn, argv: &[Bytes]) {
    let id = conn.id();
    let mut t = tracking::options_of(id);
    let r = t.caching(&argv[2]);
    if matches!(r, Reply::Ok) {
        tracking::update(id, t);
    }
    reply(conn, r);
}

fn getredir(conn: &mut Conn, _argv: &[Bytes]) {
    let r = Reply::Int(tracking::options_of(conn.id()).getredir());
    reply(conn, r);
}

fn trackinginfo(conn: &mut Conn, _argv: &[Bytes]) {
    reply(conn, Reply::Info);
}

/// The keys a command reads, when it is read-only (else none).
pub fn read_keys(spec: &CommandSpec, argv: &[Bytes]) -> Vec<Bytes> {
    if spec.flags & READONLY == 0 {
        return Vec::new();
    }
    let mut pos = Vec::new();
    spec.key_positions(argv, &mut pos);
    pos.into_iter()
        .filter_map(|i| argv.get(i).cloned())
        .collect()
}

/// After a command ran for a tracking client: remember what it read (even when it failed,
/// as Redis's call()).
pub async fn after_command(conn: &mut Conn, spec: &CommandSpec, read: Vec<Bytes>, start: usize) {
    let _ = start;
    let readonly = spec.flags & READONLY != 0 && !read.is_empty();
    let is_client = spec.name.starts_with("client");
    let max = conn
        .shard
        .shared
        .config()
        .get_one("tracking-table-max-keys")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let shard = conn.shard.clone();
    tracking::after_command(
        &shard,
        conn.id(),
        readonly,
        is_client,
        read.into_iter(),
        max,
    )
    .await;
}
