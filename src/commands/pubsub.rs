//! Pub/sub: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE PUBLISH
//! SPUBLISH PUBSUB. The registry and message delivery live in [`crate::net::pubsub`]; here are
//! the specs, argument handling and replies, and the RESP2 subscribed-mode gate the dispatcher
//! applies.
//!
//! Shard channels (SSUBSCRIBE/SPUBLISH) are a namespace of their own, as in a Redis 7.0
//! standalone server; ringkv's internal shards are invisible to clients, so SPUBLISH reaches
//! every shard's subscribers like PUBLISH.

use super::client::reply_help;
use super::spec::*;
use super::{BoxFuture, Handler};
use crate::net::pubsub::{self, Kind, Subscriber};
use crate::net::Conn;
use crate::resp::Proto;
use crate::shard::Mesh;
use bytes::Bytes;
use std::collections::HashSet;
use std::rc::Rc;

const SUB: Flags = PUBSUB | NOSCRIPT | LOADING | STALE;
const INFO: Flags = PUBSUB | LOADING | STALE;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("subscribe", -2, SUB, Keys::None, "pubsub", "2.0.0",
        "Listen for messages published to the given channels",
        "O(N) where N is the number of channels to subscribe to.", Handler::Conn(subscribe)),
    spec("unsubscribe", -1, SUB, Keys::None, "pubsub", "2.0.0",
        "Stop listening for messages posted to the given channels",
        "O(N) where N is the number of clients already subscribed to a channel.",
        Handler::Conn(unsubscribe)),
    spec("psubscribe", -2, SUB, Keys::None, "pubsub", "2.0.0",
        "Listen for messages published to channels matching the given patterns",
        "O(N) where N is the number of patterns the client is already subscribed to.",
        Handler::Conn(psubscribe)),
    spec("punsubscribe", -1, SUB, Keys::None, "pubsub", "2.0.0",
        "Stop listening for messages posted to channels matching the given patterns",
        "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).",
        Handler::Conn(punsubscribe)),
    spec("ssubscribe", -2, SUB, Keys::Range(1, -1, 1), "pubsub", "7.0.0",
        "Listen for messages published to the given shard channels",
        "O(N) where N is the number of shard channels to subscribe to.",
        Handler::Conn(ssubscribe))
        .with_key_specs(&[
            ks(KS_NOT_KEY, BeginSearch::Index(1), FindKeys::Range(-1, 1, 0)),
        ]),
    spec("sunsubscribe", -1, SUB, Keys::Range(1, -1, 1), "pubsub", "7.0.0",
        "Stop listening for messages posted to the given shard channels",
        "O(N) where N is the number of clients already subscribed to a shard channel.",
        Handler::Conn(sunsubscribe))
        .with_key_specs(&[
            ks(KS_NOT_KEY, BeginSearch::Index(1), FindKeys::Range(-1, 1, 0)),
        ]),
    spec("publish", 3, PUBSUB | LOADING | STALE | FAST, Keys::None, "pubsub", "2.0.0",
        "Post a message to a channel",
        "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
        Handler::Coord(publish)),
    spec("spublish", 3, PUBSUB | LOADING | STALE | FAST, Keys::Range(1, 1, 1), "pubsub", "7.0.0",
        "Post a message to a shard channel",
        "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        Handler::Coord(spublish))
        .with_key_specs(&[
            ks(KS_NOT_KEY, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
    container("pubsub", "pubsub", "2.8.0", "A container for Pub/Sub commands", SUBCOMMANDS),
];

#[rustfmt::skip]
static SUBCOMMANDS: &[CommandSpec] = &[
    spec("pubsub|channels", -2, INFO, Keys::None, "pubsub", "2.8.0", "List active channels",
        "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
        Handler::Coord(channels)),
    spec("pubsub|numsub", -2, INFO, Keys::None, "pubsub", "2.8.0",
        "Get the count of subscribers for channels",
        "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
        Handler::Coord(numsub)),
    spec("pubsub|numpat", 2, INFO, Keys::None, "pubsub", "2.8.0",
        "Get the count of unique patterns pattern subscriptions", "O(1)", Handler::Coord(numpat)),
    spec("pubsub|shardchannels", -2, INFO, Keys::None, "pubsub", "7.0.0",
        "List active shard channels",
        "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
        Handler::Coord(shardchannels)),
    spec("pubsub|shardnumsub", -2, INFO, Keys::None, "pubsub", "7.0.0",
        "Get the count of subscribers for shard channels",
        "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
        Handler::Coord(shardnumsub)),
    spec("pubsub|help", 2, LOADING | STALE, Keys::None, "pubsub", "6.2.0",
        "Show helpful text about the different subcommands", "O(1)", Handler::Conn(help))
        .without_group_acl(),
];

const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
];

/// Whether a RESP2 connection is in subscribed mode, where only a few commands are allowed.
pub fn in_resp2_context(conn: &Conn) -> bool {
    conn.proto() == Proto::Resp2 && conn.pubsub.as_ref().is_some_and(|s| s.active())
}

/// The dispatcher's gate for RESP2 subscribed mode: answers PING in the pub/sub shape and
/// rejects everything but (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET. Returns true
/// when it dealt with the command.
pub fn gate(conn: &mut Conn, spec: &CommandSpec, argv: &[Bytes]) -> bool {
    match spec.name {
        "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe"
        | "sunsubscribe" | "quit" | "reset" => false,
        "ping" => {
            if argv.len() > 2 {
                return false;
            }
            conn.out.array(2);
            conn.out.bulk(b"pong");
            conn.out.bulk(argv.get(1).map_or(&b""[..], |b| &b[..]));
            true
        }
        name => {
            let why = format!(
                "Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
            );
            super::transaction::reject(conn, spec, &why);
            true
        }
    }
}

/// Drops every subscription (RESET, and the connection closing).
pub fn reset(conn: &mut Conn) {
    if let Some(s) = conn.pubsub.take() {
        pubsub::detach(&s);
    }
    let mut i = conn.handle.info.borrow_mut();
    i.flags.retain(|c| c != 'P');
    i.subs = [0; 3];
}

fn subscriber(conn: &mut Conn) -> Rc<Subscriber> {
    let proto = conn.proto();
    let s = conn
        .pubsub
        .get_or_insert_with(|| Subscriber::new(conn.handle.id, proto))
        .clone();
    s.set_proto(proto);
    s.set_client(conn.handle.clone());
    s
}

/// Keeps CLIENT LIST's `P` flag (and CLIENT KILL TYPE pubsub) and its sub/psub/ssub counts in
/// step with the subscriptions.
fn sync_flag(conn: &Conn, sub: &Subscriber) {
    let mut i = conn.handle.info.borrow_mut();
    i.subs = [
        sub.count_of(pubsub::Kind::Channel),
        sub.count_of(pubsub::Kind::Pattern),
        sub.count_of(pubsub::Kind::Shard),
    ];
    let has = i.flags.contains('P');
    if sub.active() && !has {
        i.flags.push('P');
    } else if !sub.active() && has {
        i.flags.retain(|c| c != 'P');
    }
}

fn reply(conn: &mut Conn, what: &[u8], name: Option<&[u8]>, count: usize) {
    let at = conn.out.len();
    conn.out.push(3);
    conn.out.bulk(what);
    match name {
        Some(n) => conn.out.bulk(n),
        None => conn.out.null(),
    }
    conn.out.int(count as i64);
    // A push survives CLIENT REPLY OFF/SKIP, as Redis's CLIENT_PUSHING.
    if let Some(kept) = conn.kept_pushes.as_mut() {
        kept.extend_from_slice(&conn.out.buf[at..]);
    }
}

fn do_subscribe(conn: &mut Conn, argv: &[Bytes], kind: Kind, what: &[u8]) {
    let sub = subscriber(conn);
    for name in &argv[1..] {
        pubsub::subscribe(&sub, kind, name);
        reply(conn, what, Some(name), sub.count(kind));
    }
    sync_flag(conn, &sub);
}

fn do_unsubscribe(conn: &mut Conn, argv: &[Bytes], kind: Kind, what: &[u8]) {
    let sub = subscriber(conn);
    let names = if argv.len() > 1 {
        argv[1..].to_vec()
    } else {
        sub.subscriptions(kind)
    };
    if names.is_empty() {
        reply(conn, what, None, sub.count(kind));
    }
    for name in &names {
        pubsub::unsubscribe(&sub, kind, name);
        reply(conn, what, Some(name), sub.count(kind));
    }
    sync_flag(conn, &sub);
}

fn subscribe(conn: &mut Conn, argv: &[Bytes]) {
    do_subscribe(conn, argv, Kind::Channel, b"subscribe");
}

fn psubscribe(conn: &mut Conn, argv: &[Bytes]) {
    do_subscribe(conn, argv, Kind::Pattern, b"psubscribe");
}

fn ssubscribe(conn: &mut Conn, argv: &[Bytes]) {
    do_subscribe(conn, argv, Kind::Shard, b"ssubscribe");
}

fn unsubscribe(conn: &mut Conn, argv: &[Bytes]) {
    do_unsubscribe(conn, argv, Kind::Channel, b"unsubscribe");
}

fn punsubscribe(conn: &mut Conn, argv: &[Bytes]) {
    do_unsubscribe(conn, argv, Kind::Pattern, b"punsubscribe");
}

fn sunsubscribe(conn: &mut Conn, argv: &[Bytes]) {
    do_unsubscribe(conn, argv, Kind::Shard, b"sunsubscribe");
}

async fn do_publish(conn: &mut Conn, argv: &[Bytes], kind: Kind) {
    let (channel, message) = (argv[1].clone(), argv[2].clone());
    let counts = Mesh::run_on_all(&conn.shard, move |_| {
        pubsub::publish_local(kind, &channel, &message)
    })
    .await;
    // A connection publishing to itself (RESP3) gets the message before the reply, as in Redis.
    if let Some(s) = &conn.pubsub {
        let pending = s.take_pending();
        conn.out.raw(&pending);
    }
    conn.out.int(counts.iter().sum::<usize>() as i64);
}

fn publish<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(do_publish(conn, argv, Kind::Channel))
}

fn spublish<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(do_publish(conn, argv, Kind::Shard))
}

/// Names with subscribers on any shard (deduplicated), optionally filtered.
async fn all_names(conn: &Conn, kind: Kind, filter: Option<Bytes>) -> Vec<Bytes> {
    let per = Mesh::run_on_all(&conn.shard, move |_| {
        pubsub::names_local(kind, filter.as_deref())
    })
    .await;
    let mut seen = HashSet::new();
    per.into_iter()
        .flatten()
        .filter(|n| seen.insert(n.clone()))
        .collect()
}

async fn do_channels(conn: &mut Conn, argv: &[Bytes], kind: Kind) {
    if argv.len() > 3 {
        conn.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&argv[1])
        ));
        return;
    }
    let names = all_names(conn, kind, argv.get(2).cloned()).await;
    conn.out.array(names.len());
    for n in &names {
        conn.out.bulk(n);
    }
}

async fn do_numsub(conn: &mut Conn, argv: &[Bytes], kind: Kind) {
    let names: Vec<Bytes> = argv[2..].to_vec();
    let asked = names.clone();
    let per = Mesh::run_on_all(&conn.shard, move |_| pubsub::numsub_local(kind, &asked)).await;
    // A flat array in RESP3 too, as Redis 7.0 replies.
    conn.out.array(2 * names.len());
    for (i, n) in names.iter().enumerate() {
        conn.out.bulk(n);
        conn.out.int(per.iter().map(|v| v[i]).sum::<usize>() as i64);
    }
}

fn channels<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(do_channels(conn, argv, Kind::Channel))
}

fn shardchannels<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(do_channels(conn, argv, Kind::Shard))
}

fn numsub<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(do_numsub(conn, argv, Kind::Channel))
}

fn shardnumsub<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(do_numsub(conn, argv, Kind::Shard))
}

fn numpat<'a>(conn: &'a mut Conn, _argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        let n = all_names(conn, Kind::Pattern, None).await.len();
        conn.out.int(n as i64);
    })
}

fn help(conn: &mut Conn, _argv: &[Bytes]) {
    reply_help(&mut conn.out, HELP);
}
