//! Blocking list and sorted-set pops: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX
//! BZMPOP, and CLIENT UNBLOCK.
//!
//! Each command's handler is its non-blocking form (what Redis does inside MULTI/EXEC: pop if
//! there is something, else nil at once). Outside a transaction the dispatcher sends these
//! commands to [`run`]: it runs that form through the normal routing (inline, hop, or
//! multi-shard), and when it answered nil, blocks the client on the keys' shards through
//! [`crate::shard::blocking`]. When a key becomes ready, the owning shard runs the same
//! handler narrowed to that key, so a served client gets exactly the reply the immediate case
//! gives.

use super::dispatch;
use super::errors;
use super::list::{mpop_keys, op_move, op_pop as list_pop, parse_end};
use super::spec::*;
use super::zset::op_pop as zset_pop;
use super::{eq_ic, parse_i64, BoxFuture, Ctx, Handler};
use crate::keyspace::list::End;
use crate::keyspace::notify::{NOTIFY_LIST, NOTIFY_ZSET};
use crate::net::Conn;
use crate::resp::ReplyBuf;
use crate::shard::blocking::{self as registry, Outcome, Request, Waiter, Wants};
use crate::shard::{Mesh, Shard};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;

pub const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
pub const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
pub const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
/// What a blocked client gets when REPLICAOF turns the server into a replica of a new master.
pub const ROLE_CHANGED: &str =
    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)";

/// Ends every blocked command of every shard with [`Outcome::RoleChanged`] (REPLICAOF host
/// port: those clients would otherwise wait for writes a replica never gets from them).
pub async fn disconnect_all_blocked(shard: &std::rc::Rc<crate::shard::Shard>) {
    Mesh::run_on_all(shard, |sh| {
        let waiting: Vec<_> = sh
            .clients
            .borrow()
            .values()
            .filter_map(|h| h.blocked.borrow().clone())
            .collect();
        // Ended outside the borrows: ending wakes the blocked connection.
        for w in waiting {
            w.end(Outcome::RoleChanged);
        }
    })
    .await;
}
const UNBLOCK_REASON: &str = "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR";
const NUMKEYS_NOT_POSITIVE: &str = "ERR numkeys should be greater than 0";
const COUNT_NOT_POSITIVE: &str = "ERR count should be greater than 0";

const BLOCK_FLAGS: Flags = WRITE | NOSCRIPT | BLOCKING;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("blpop", -3, BLOCK_FLAGS, Keys::Range(1, -2, 1), "list", "2.0.0", "Remove and get the first element in a list, or block until one is available", "O(N) where N is the number of provided keys.", Handler::Keyed(blpop))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(-2, 1, 0)),
        ]),
    spec("brpop", -3, BLOCK_FLAGS, Keys::Range(1, -2, 1), "list", "2.0.0", "Remove and get the last element in a list, or block until one is available", "O(N) where N is the number of provided keys.", Handler::Keyed(brpop))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(-2, 1, 0)),
        ]),
    spec("brpoplpush", 4, BLOCK_FLAGS | DENYOOM, Keys::Range(1, 2, 1), "list", "2.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available", "O(1)", Handler::Keyed(brpoplpush))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_RW | KS_INSERT, BeginSearch::Index(2), FindKeys::Range(0, 1, 0)),
        ]),
    spec("blmove", 6, BLOCK_FLAGS | DENYOOM, Keys::Range(1, 2, 1), "list", "6.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available", "O(1)", Handler::Keyed(blmove))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_RW | KS_INSERT, BeginSearch::Index(2), FindKeys::Range(0, 1, 0)),
        ]),
    spec("blmpop", -5, WRITE | BLOCKING, Keys::Custom(numkeys_at_2), "list", "7.0.0", "Pop elements from a list, or block until one is available", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", Handler::Keyed(blmpop))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(2), FindKeys::Keynum(0, 1, 1)),
        ]),
    spec("bzpopmin", -3, BLOCK_FLAGS | FAST, Keys::Range(1, -2, 1), "sorted-set", "5.0.0", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "O(log(N)) with N being the number of elements in the sorted set.", Handler::Keyed(bzpopmin))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(-2, 1, 0)),
        ]),
    spec("bzpopmax", -3, BLOCK_FLAGS | FAST, Keys::Range(1, -2, 1), "sorted-set", "5.0.0", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "O(log(N)) with N being the number of elements in the sorted set.", Handler::Keyed(bzpopmax))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(1), FindKeys::Range(-2, 1, 0)),
        ]),
    spec("bzmpop", -5, WRITE | BLOCKING, Keys::Custom(numkeys_at_2), "sorted-set", "7.0.0", "Remove and return members with scores in a sorted set or block until one is available", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", Handler::Keyed(bzmpop))
        .with_key_specs(&[
            ks(KS_RW | KS_ACCESS | KS_DELETE, BeginSearch::Index(2), FindKeys::Keynum(0, 1, 1)),
        ]),
];

/// CLIENT UNBLOCK's spec (listed among CLIENT's subcommands).
pub const CLIENT_UNBLOCK: CommandSpec = spec(
    "client|unblock",
    -3,
    ADMIN | NOSCRIPT | LOADING | STALE,
    Keys::None,
    "connection",
    "5.0.0",
    "Unblock a client blocked in a blocking command from a different connection",
    "O(log N) where N is the number of client connections",
    Handler::Coord(client_unblock),
);

fn numkeys_at_2(argv: &[Bytes], out: &mut Vec<usize>) {
    mpop_keys(argv, 2, out)
}

// ---- argument parsing ------------------------------------------------------------------------

/// Redis's `getTimeoutFromObjectOrReply` in seconds: a `strtold` number, truncated to whole
/// milliseconds (0 blocks forever). Values past the `long long` range convert to its minimum
/// on x86, which is why Redis calls `inf` and `1e20` negative.
pub fn parse_timeout(arg: &[u8]) -> Result<u64, &'static str> {
    use super::string::longdouble::{LongDouble, Parsed};
    let ms = match LongDouble::parse(arg) {
        None => return Err(TIMEOUT_NOT_FLOAT),
        Some(Parsed::Inf) => return Err(TIMEOUT_NEGATIVE),
        Some(Parsed::Finite(v)) => v.to_f64() * 1000.0,
    };
    // (long long) truncation: (-1, 0] is 0; NaN cannot come from strtold's accepted input.
    if ms.is_nan() || ms <= -1.0 || ms >= 9.223_372_036_854_776e18 {
        return Err(TIMEOUT_NEGATIVE);
    }
    Ok(ms.max(0.0) as u64)
}

/// `... numkeys key [key ...] <where> [COUNT count]` after numkeys at `numkeys_idx` (LMPOP's and
/// ZMPOP's syntax): (first key index, number of keys, which of `words` was given, count).
fn parse_mpop(
    argv: &[Bytes],
    numkeys_idx: usize,
    words: [&str; 2],
) -> Result<(usize, usize, bool, usize), &'static str> {
    let numkeys = match parse_i64(&argv[numkeys_idx]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(NUMKEYS_NOT_POSITIVE),
    };
    let where_idx = numkeys.saturating_add(numkeys_idx as u64 + 1);
    if where_idx >= argv.len() as u64 {
        return Err(errors::SYNTAX);
    }
    let where_idx = where_idx as usize;
    let second = if eq_ic(&argv[where_idx], words[0]) {
        false
    } else if eq_ic(&argv[where_idx], words[1]) {
        true
    } else {
        return Err(errors::SYNTAX);
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count.is_none() && j + 1 < argv.len() && eq_ic(&argv[j], "count") {
            j += 1;
            match parse_i64(&argv[j]) {
                Some(n) if n >= 1 => count = Some(n as usize),
                _ => return Err(COUNT_NOT_POSITIVE),
            }
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok((
        numkeys_idx + 1,
        numkeys as usize,
        second,
        count.unwrap_or(1),
    ))
}

// ---- handlers: the non-blocking form ---------------------------------------------------------

fn list_pop_name(end: End) -> &'static [u8] {
    if end == End::Head {
        b"LPOP"
    } else {
        b"RPOP"
    }
}

/// After a pop: its keyspace events (`lpop`/`rpop`/`zpopmin`/`zpopmax`, then `del` when the
/// key is gone) and its effect: Redis replicates a blocking pop as the plain pop with a count
/// (`LPOP k 1`, `ZPOPMIN k 1`).
fn propagate_pop(ctx: &mut Ctx, name: &'static [u8], key: &[u8], count: usize) {
    let (class, event) = match name {
        b"LPOP" => (NOTIFY_LIST, "lpop"),
        b"RPOP" => (NOTIFY_LIST, "rpop"),
        b"ZPOPMAX" => (NOTIFY_ZSET, "zpopmax"),
        _ => (NOTIFY_ZSET, "zpopmin"),
    };
    ctx.notify(class, event, key);
    ctx.notify_if_removed(key);
    if ctx.propagating() {
        ctx.rewrite(vec![
            Bytes::from_static(name),
            Bytes::copy_from_slice(key),
            Bytes::copy_from_slice(itoa::Buffer::new().format(count).as_bytes()),
        ]);
    }
}

fn bpop_generic(ctx: &mut Ctx, argv: &[Bytes], end: End) {
    let last = argv.len() - 1;
    if let Err(e) = parse_timeout(&argv[last]) {
        return ctx.error(e);
    }
    let now = ctx.now;
    for key in &argv[1..last] {
        match list_pop(ctx.db(), key, now, end, 1) {
            Err(e) => return ctx.error(e),
            Ok(Some(items)) if !items.is_empty() => {
                ctx.dirty += 1;
                ctx.out.array(2);
                ctx.out.bulk(key);
                ctx.out.bulk(&items[0]);
                propagate_pop(ctx, list_pop_name(end), key, 1);
                return;
            }
            Ok(_) => {}
        }
    }
    ctx.out.null_array();
}

fn blpop(ctx: &mut Ctx, argv: &[Bytes]) {
    bpop_generic(ctx, argv, End::Head)
}

fn brpop(ctx: &mut Ctx, argv: &[Bytes]) {
    bpop_generic(ctx, argv, End::Tail)
}

fn bmove_generic(ctx: &mut Ctx, argv: &[Bytes], from: End, to: End, timeout: &[u8]) {
    if let Err(e) = parse_timeout(timeout) {
        return ctx.error(e);
    }
    let now = ctx.now;
    match op_move(ctx.db(), &argv[1], &argv[2], now, from, to) {
        Ok(Some(v)) => {
            ctx.dirty += 1;
            ctx.out.bulk(&v);
            // Redis's order: the push to the destination, then the pop from the source.
            let push = if to == End::Head { "lpush" } else { "rpush" };
            ctx.notify(NOTIFY_LIST, push, &argv[2]);
            ctx.notify(
                NOTIFY_LIST,
                if from == End::Head { "lpop" } else { "rpop" },
                &argv[1],
            );
            ctx.notify_if_removed(&argv[1]);
            // Replicated as LMOVE / RPOPLPUSH (the argv without the timeout).
            if ctx.propagating() {
                let mut effect = argv[..argv.len() - 1].to_vec();
                effect[0] = Bytes::from_static(if argv.len() == 6 {
                    b"LMOVE"
                } else {
                    b"RPOPLPUSH"
                });
                ctx.rewrite(effect);
            }
        }
        Ok(None) => ctx.out.null(),
        Err(e) => ctx.error(e),
    }
}

/// BLMOVE's and BRPOPLPUSH's ends.
fn move_ends(argv: &[Bytes]) -> Result<(End, End), &'static str> {
    if argv.len() == 6 {
        Ok((parse_end(&argv[3])?, parse_end(&argv[4])?))
    } else {
        Ok((End::Tail, End::Head))
    }
}

fn blmove(ctx: &mut Ctx, argv: &[Bytes]) {
    match move_ends(argv) {
        Ok((from, to)) => bmove_generic(ctx, argv, from, to, &argv[5]),
        Err(e) => ctx.error(e),
    }
}

fn brpoplpush(ctx: &mut Ctx, argv: &[Bytes]) {
    bmove_generic(ctx, argv, End::Tail, End::Head, &argv[3])
}

fn blmpop(ctx: &mut Ctx, argv: &[Bytes]) {
    let (first, n, right, count) = match parse_mpop(argv, 2, ["left", "right"]) {
        Ok(p) => p,
        Err(e) => return ctx.error(e),
    };
    if let Err(e) = parse_timeout(&argv[1]) {
        return ctx.error(e);
    }
    let end = if right { End::Tail } else { End::Head };
    let now = ctx.now;
    for key in &argv[first..first + n] {
        match list_pop(ctx.db(), key, now, end, count) {
            Err(e) => return ctx.error(e),
            Ok(Some(items)) if !items.is_empty() => {
                ctx.dirty += items.len() as u64;
                ctx.out.array(2);
                ctx.out.bulk(key);
                ctx.out.array(items.len());
                for i in &items {
                    ctx.out.bulk(i);
                }
                propagate_pop(ctx, list_pop_name(end), key, items.len());
                return;
            }
            Ok(_) => {}
        }
    }
    ctx.out.null_array();
}

fn bzpop_generic(ctx: &mut Ctx, argv: &[Bytes], max: bool) {
    let last = argv.len() - 1;
    if let Err(e) = parse_timeout(&argv[last]) {
        return ctx.error(e);
    }
    let now = ctx.now;
    match zset_pop(ctx.db(), now, &argv[1..last], max, 1) {
        Err(e) => ctx.error(e),
        Ok(Some((key, popped))) if !popped.is_empty() => {
            ctx.dirty += 1;
            ctx.out.array(3);
            ctx.out.bulk(&key);
            ctx.out.bulk(&popped[0].0);
            ctx.out.double(popped[0].1);
            propagate_pop(ctx, zset_pop_name(max), &key, 1);
        }
        Ok(_) => ctx.out.null_array(),
    }
}

fn zset_pop_name(max: bool) -> &'static [u8] {
    if max {
        b"ZPOPMAX"
    } else {
        b"ZPOPMIN"
    }
}

fn bzpopmin(ctx: &mut Ctx, argv: &[Bytes]) {
    bzpop_generic(ctx, argv, false)
}

fn bzpopmax(ctx: &mut Ctx, argv: &[Bytes]) {
    bzpop_generic(ctx, argv, true)
}

fn bzmpop(ctx: &mut Ctx, argv: &[Bytes]) {
    let (first, n, max, count) = match parse_mpop(argv, 2, ["min", "max"]) {
        Ok(p) => p,
        Err(e) => return ctx.error(e),
    };
    if let Err(e) = parse_timeout(&argv[1]) {
        return ctx.error(e);
    }
    let now = ctx.now;
    match zset_pop(ctx.db(), now, &argv[first..first + n], max, count) {
        Err(e) => ctx.error(e),
        Ok(Some((key, popped))) if !popped.is_empty() => {
            ctx.dirty += popped.len() as u64;
            ctx.out.array(2);
            ctx.out.bulk(&key);
            ctx.out.array(popped.len());
            for (m, s) in &popped {
                ctx.out.array(2);
                ctx.out.bulk(m);
                ctx.out.double(*s);
            }
            propagate_pop(ctx, zset_pop_name(max), &key, popped.len());
        }
        Ok(_) => ctx.out.null_array(),
    }
}

/// The source half of a BLMOVE whose destination lives on another shard: pops from the
/// source only; the blocked connection then pushes to the destination (see [`finish_move`]).
fn blmove_pop_source(ctx: &mut Ctx, argv: &[Bytes]) {
    let from = match move_ends(argv) {
        Ok((from, _)) => from,
        Err(e) => return ctx.error(e),
    };
    let now = ctx.now;
    match list_pop(ctx.db(), &argv[1], now, from, 1) {
        Ok(Some(items)) if !items.is_empty() => {
            ctx.dirty += 1;
            ctx.out.bulk(&items[0]);
            // The push to the destination propagates itself (it runs as LPUSH/RPUSH).
            propagate_pop(ctx, list_pop_name(from), &argv[1], 1);
        }
        Ok(_) => ctx.out.null(),
        Err(e) => ctx.error(e),
    }
}

// ---- serving: the command narrowed to the ready key ------------------------------------------

/// BLPOP k1 k2 ... timeout → BLPOP k timeout.
fn one_key_then_timeout(argv: &[Bytes], key: &[u8]) -> Vec<Bytes> {
    vec![
        argv[0].clone(),
        Bytes::copy_from_slice(key),
        argv[argv.len() - 1].clone(),
    ]
}

/// BLMPOP timeout numkeys k1 k2 ... rest → BLMPOP timeout 1 k rest.
fn mpop_one_key(argv: &[Bytes], key: &[u8]) -> Vec<Bytes> {
    let n = parse_i64(&argv[2]).unwrap_or(1).max(1) as usize;
    let rest = (3 + n).min(argv.len());
    let mut out = vec![
        argv[0].clone(),
        argv[1].clone(),
        Bytes::from_static(b"1"),
        Bytes::copy_from_slice(key),
    ];
    out.extend_from_slice(&argv[rest..]);
    out
}

fn unchanged(argv: &[Bytes], _key: &[u8]) -> Vec<Bytes> {
    argv.to_vec()
}

/// What the registry needs to know about each blocking command.
type Rewrite = fn(&[Bytes], &[u8]) -> Vec<Bytes>;

fn kind(name: &str) -> (Wants, Rewrite) {
    match name {
        "bzpopmin" | "bzpopmax" => (Wants::ZSet, one_key_then_timeout),
        "bzmpop" => (Wants::ZSet, mpop_one_key),
        "blmpop" => (Wants::List, mpop_one_key),
        "blmove" | "brpoplpush" => (Wants::List, unchanged),
        _ => (Wants::List, one_key_then_timeout),
    }
}

fn timeout_arg<'a>(name: &str, argv: &'a [Bytes]) -> &'a [u8] {
    match name {
        "blmpop" | "bzmpop" => &argv[1],
        _ => &argv[argv.len() - 1],
    }
}

// ---- blocking --------------------------------------------------------------------------------

/// Runs a blocking command outside MULTI: the immediate form first; when that found nothing,
/// blocks until served, timed out, unblocked or disconnected.
pub async fn run(
    conn: &mut Conn,
    spec: &'static CommandSpec,
    f: fn(&mut Ctx, &[Bytes]),
    argv: Vec<Bytes>,
) {
    let mark = conn.out.len();
    dispatch::run_keyed(conn, spec, f, argv.clone()).await;
    let is_move = matches!(spec.name, "blmove" | "brpoplpush");
    let mut nil = ReplyBuf::new(conn.proto());
    if is_move {
        nil.null();
    } else {
        nil.null_array();
    }
    if conn.out.buf.get(mark..) != Some(&nil.buf[..]) {
        return;
    }
    let Ok(timeout_ms) = parse_timeout(timeout_arg(spec.name, &argv)) else {
        return;
    };
    conn.out.buf.truncate(mark);
    block(conn, spec, f, argv, timeout_ms).await;
}

async fn block(
    conn: &mut Conn,
    spec: &'static CommandSpec,
    f: fn(&mut Ctx, &[Bytes]),
    argv: Vec<Bytes>,
    timeout_ms: u64,
) {
    let shard = conn.shard.clone();
    let db = conn.db;
    let (wants, rewrite) = kind(spec.name);
    let mut pos = Vec::new();
    spec.key_positions(&argv, &mut pos);
    let is_move = matches!(spec.name, "blmove" | "brpoplpush");
    // BLMOVE waits on its source only.
    if is_move {
        pos.truncate(1);
    }
    let cross_move = is_move && shard.shard_of(&argv[1]) != shard.shard_of(&argv[2]);
    let mut per: BTreeMap<usize, Vec<(u32, Bytes)>> = BTreeMap::new();
    for &i in &pos {
        let k = (db as u32, argv[i].clone());
        let list = per.entry(shard.shard_of(&argv[i])).or_default();
        if !list.contains(&k) {
            list.push(k);
        }
    }
    let w = Waiter::new(
        conn.id(),
        Request {
            db,
            proto: conn.proto(),
            spec,
            f: if cross_move { blmove_pop_source } else { f },
            argv: argv.clone(),
            wants,
            rewrite,
        },
    );
    for (&s, keys) in &per {
        register_on(&shard, s, &w, keys.clone());
    }
    *conn.handle.blocked.borrow_mut() = Some(w.clone());
    let outcome = {
        let _counted = Waiter::count_blocked();
        wait(conn, &w, timeout_ms).await
    };
    *conn.handle.blocked.borrow_mut() = None;
    for (&s, keys) in &per {
        unregister_on(&shard, s, &w, keys.clone());
    }
    match outcome {
        Outcome::Reply(r) if cross_move => finish_move(conn, &argv, r).await,
        Outcome::Reply(r) => conn.out.raw(&r),
        Outcome::TimedOut => conn.out.null_array(),
        Outcome::Unblocked => conn.error(UNBLOCKED),
        Outcome::RoleChanged => {
            conn.error(ROLE_CHANGED);
            conn.close_after_reply = true;
        }
        // The client is gone: nothing pipelined behind the command runs (Redis frees it).
        Outcome::Gone => conn.close_after_reply = true,
    }
}

/// Waits for the waiter's outcome, the deadline, or the connection's end.
async fn wait(conn: &Conn, w: &Arc<Waiter>, timeout_ms: u64) -> Outcome {
    wait_or(conn, w, timeout_ms, |_| false).await
}

/// [`wait`], and also done (with an empty `Outcome::Reply`) once `ready` says so: WAIT's
/// condition is the replicas' ACKs rather than a key. `ready` gets the context so it can
/// register its waker before it checks, and an update landing in between still wakes us.
pub(crate) async fn wait_or(
    conn: &Conn,
    w: &Arc<Waiter>,
    timeout_ms: u64,
    mut ready: impl FnMut(&mut std::task::Context<'_>) -> bool,
) -> Outcome {
    let mut timer = (timeout_ms > 0).then(|| {
        Box::pin(glommio::timer::sleep(std::time::Duration::from_millis(
            timeout_ms,
        )))
    });
    poll_fn(|cx| {
        if let Some(o) = w.poll_outcome(cx.waker()) {
            return Poll::Ready(o);
        }
        if conn.handle.eof.get() || conn.handle.killed.get() {
            if w.claim() {
                return Poll::Ready(Outcome::Gone);
            }
            return Poll::Pending;
        }
        if let Some(t) = timer.as_mut() {
            if t.as_mut().poll(cx).is_ready() {
                timer = None;
                if w.claim() {
                    return Poll::Ready(Outcome::TimedOut);
                }
                return Poll::Pending;
            }
        }
        if ready(cx) && w.claim() {
            return Poll::Ready(Outcome::Reply(Bytes::new()));
        }
        // Claimed by a server of the key (or CLIENT UNBLOCK): its outcome is on the way.
        Poll::Pending
    })
    .await
}

fn register_on(shard: &Rc<Shard>, target: usize, w: &Arc<Waiter>, keys: Vec<(u32, Bytes)>) {
    let w = w.clone();
    if target == shard.id {
        glommio::spawn_local(registry::register(shard.clone(), w, keys)).detach();
        return;
    }
    // Fire and forget: the job is queued now; the answer only frees the mesh slot.
    drop(Mesh::submit::<()>(
        shard,
        target,
        Box::new(move |sh, resp| {
            let sh = sh.clone();
            glommio::spawn_local(async move {
                registry::register(sh.clone(), w, keys).await;
                resp.send(&sh, Box::new(()));
            })
            .detach();
        }),
    ));
}

fn unregister_on(shard: &Rc<Shard>, target: usize, w: &Arc<Waiter>, keys: Vec<(u32, Bytes)>) {
    if target == shard.id {
        registry::unregister(shard, w, &keys);
        return;
    }
    let w = w.clone();
    drop(Mesh::submit::<()>(
        shard,
        target,
        Box::new(move |sh, resp| {
            registry::unregister(sh, &w, &keys);
            resp.send(sh, Box::new(()));
        }),
    ));
}

/// The payload of a bulk reply (`$<len>\r\n<payload>\r\n`).
fn bulk_payload(b: &[u8]) -> Option<&[u8]> {
    let rest = b.strip_prefix(b"$")?;
    let nl = memchr::memchr(b'\n', rest)?;
    let len: usize = std::str::from_utf8(rest.get(..nl.checked_sub(1)?)?)
        .ok()?
        .parse()
        .ok()?;
    rest.get(nl + 1..nl + 1 + len)
}

/// A BLMOVE whose source and destination live on different shards was served by popping the
/// source: push the element to the destination now. Not atomic across the two shards (the
/// element is in neither list for the duration of one hop); when the destination turned out to
/// hold another type, the element goes back where it came from and the client gets WRONGTYPE,
/// as Redis does.
async fn finish_move(conn: &mut Conn, argv: &[Bytes], popped: Bytes) {
    let Some(value) = bulk_payload(&popped).map(Bytes::copy_from_slice) else {
        // The pop answered an error or nil (the source changed type between ready and served).
        conn.out.raw(&popped);
        return;
    };
    let (from, to) = move_ends(argv).unwrap_or((End::Tail, End::Head));
    let push = |end: End| if end == End::Head { "lpush" } else { "rpush" };
    let pushed = run_internal(conn, push(to), vec![argv[2].clone(), value.clone()]).await;
    if pushed.first() == Some(&b'-') {
        let _ = run_internal(conn, push(from), vec![argv[1].clone(), value]).await;
        conn.out.raw(&pushed);
        return;
    }
    conn.out.bulk(&value);
}

/// Runs `name args...` through the normal routing and returns its reply bytes.
async fn run_internal(conn: &mut Conn, name: &str, args: Vec<Bytes>) -> Vec<u8> {
    let Some(spec) = super::table::lookup(name.as_bytes()) else {
        return Vec::new();
    };
    let Handler::Keyed(f) = spec.handler else {
        return Vec::new();
    };
    let mut argv = vec![Bytes::copy_from_slice(name.as_bytes())];
    argv.extend(args);
    let mark = conn.out.len();
    dispatch::run_keyed(conn, spec, f, argv).await;
    let reply = conn.out.buf[mark..].to_vec();
    conn.out.buf.truncate(mark);
    reply
}

// ---- CLIENT UNBLOCK --------------------------------------------------------------------------

fn client_unblock<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        if argv.len() > 4 {
            let e = format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
                String::from_utf8_lossy(&argv[1])
            );
            return conn.error(&e);
        }
        let Some(id) = parse_i64(&argv[2]) else {
            return conn.error(errors::NOT_INTEGER);
        };
        let as_error = match argv.get(3) {
            None => false,
            Some(a) if eq_ic(a, "timeout") => false,
            Some(a) if eq_ic(a, "error") => true,
            Some(_) => return conn.error(UNBLOCK_REASON),
        };
        let n: i64 = Mesh::run_on_all(&conn.shard, move |sh| {
            let w = sh
                .clients
                .borrow()
                .values()
                .find(|h| h.id as i64 == id)
                .and_then(|h| h.blocked.borrow().clone());
            // Ended outside the borrows: ending wakes the blocked connection.
            match w {
                Some(w) => i64::from(w.end(if as_error {
                    Outcome::Unblocked
                } else {
                    Outcome::TimedOut
                })),
                None => 0,
            }
        })
        .await
        .into_iter()
        .sum();
        conn.out.int(n);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(items: &[&str]) -> Vec<Bytes> {
        items
            .iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn timeouts_parse_like_redis() {
        assert_eq!(parse_timeout(b"0"), Ok(0));
        assert_eq!(parse_timeout(b"0.1"), Ok(100));
        assert_eq!(parse_timeout(b"1.5"), Ok(1500));
        assert_eq!(parse_timeout(b"0x10"), Ok(16000));
        // Truncated to whole ms: below 1 ms means forever, like Redis.
        assert_eq!(parse_timeout(b"0.0001"), Ok(0));
        assert_eq!(parse_timeout(b"-0.0001"), Ok(0));
        assert_eq!(parse_timeout(b"-1"), Err(TIMEOUT_NEGATIVE));
        assert_eq!(parse_timeout(b"inf"), Err(TIMEOUT_NEGATIVE));
        assert_eq!(parse_timeout(b"-inf"), Err(TIMEOUT_NEGATIVE));
        assert_eq!(parse_timeout(b"1e20"), Err(TIMEOUT_NEGATIVE));
        assert_eq!(parse_timeout(b"nan"), Err(TIMEOUT_NOT_FLOAT));
        assert_eq!(parse_timeout(b"abc"), Err(TIMEOUT_NOT_FLOAT));
        assert_eq!(parse_timeout(b""), Err(TIMEOUT_NOT_FLOAT));
        assert_eq!(parse_timeout(b" 1"), Err(TIMEOUT_NOT_FLOAT));
    }

    #[test]
    fn mpop_arguments() {
        let a = b(&["blmpop", "0", "2", "a", "b", "LEFT", "COUNT", "3"]);
        assert_eq!(parse_mpop(&a, 2, ["left", "right"]), Ok((3, 2, false, 3)));
        let a = b(&["blmpop", "0", "0", "a", "left"]);
        assert_eq!(
            parse_mpop(&a, 2, ["left", "right"]),
            Err(NUMKEYS_NOT_POSITIVE)
        );
        let a = b(&["bzmpop", "0", "1", "a", "max", "count", "0"]);
        assert_eq!(parse_mpop(&a, 2, ["min", "max"]), Err(COUNT_NOT_POSITIVE));
        let a = b(&["bzmpop", "0", "3", "a", "max"]);
        assert_eq!(parse_mpop(&a, 2, ["min", "max"]), Err(errors::SYNTAX));
    }

    #[test]
    fn serving_narrows_the_command_to_the_ready_key() {
        let a = b(&["blmpop", "5", "3", "x", "y", "z", "RIGHT", "COUNT", "2"]);
        assert_eq!(
            mpop_one_key(&a, b"y"),
            b(&["blmpop", "5", "1", "y", "RIGHT", "COUNT", "2"])
        );
        let a = b(&["blpop", "x", "y", "0.5"]);
        assert_eq!(one_key_then_timeout(&a, b"y"), b(&["blpop", "y", "0.5"]));
        assert_eq!(bulk_payload(b"$3\r\nabc\r\n"), Some(&b"abc"[..]));
        assert_eq!(bulk_payload(b"$0\r\n\r\n"), Some(&b""[..]));
        assert_eq!(bulk_payload(b"-WRONGTYPE x\r\n"), None);
    }
}
