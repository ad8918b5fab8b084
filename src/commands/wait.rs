//! WAIT numreplicas timeout (Redis's waitCommand, ha-spec A6): blocks the client until
//! `numreplicas` online replicas acknowledged everything the stream held after this client's
//! last command, or the timeout passes; the reply is the count either way.
//!
//! Redis keeps `c->woff = master_repl_offset` after every command a client runs. Here the
//! stream is produced off the command path (the journal merge feeds the backlog), so a
//! connection remembers the journal's sequence counter after each command instead
//! ([`after_command`]), and the stream tap maps sequence numbers to stream offsets
//! (`Repl::offset_at_seq`): the offset once every unit numbered below that counter is in the
//! stream.
//!
//! A blocked WAIT is a [`Waiter`] in the connection's handle like a client blocked on keys, so
//! CLIENT UNBLOCK, REPLICAOF (unblock with an error), `blocked_clients`, `flags=b` and a
//! disconnect (the connection loop watches the socket while `blocked` is set) treat it alike.
//! It sleeps until the replication state changes (an ACK, a stream append): no polling.

use super::spec::*;
use super::{errors, parse_i64, BoxFuture, Ctx, Handler};
use crate::net::Conn;
use crate::shard::blocking::{Outcome, Request, Waiter, Wants};
use bytes::Bytes;
use std::sync::Arc;

pub static COMMANDS: &[CommandSpec] = &[spec(
    "wait",
    3,
    NOSCRIPT,
    Keys::None,
    "generic",
    "3.0.0",
    "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
    "O(1)",
    Handler::Coord(wait),
)
.without_group_acl()
.with_acl(&["@connection"])
.with_tips(&["request_policy:all_shards", "response_policy:agg_min"])];

pub const ON_REPLICA: &str = "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.";
const TIMEOUT_NOT_INTEGER: &str = "ERR timeout is not an integer or out of range";
const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";

/// The dispatcher calls this after every command a client ran (not one queued by MULTI): the
/// point of the journal WAIT will wait for (Redis's `c->woff`).
#[inline]
pub fn after_command(conn: &mut Conn) {
    let hub = &conn.shard.shared.hub;
    if hub.active() {
        conn.replconf.woff_seq = hub.seq();
    }
}

/// Online replicas that acknowledged the client's point; 0 while the stream has not reached
/// it yet (no replica can have acknowledged what the master has not streamed).
fn acked(conn: &Conn) -> usize {
    let repl = &conn.shard.shared.repl;
    repl.offset_at_seq(conn.replconf.woff_seq)
        .map_or(0, |off| repl.acked(off))
}

fn wait<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        if conn.shard.shared.repl.is_replica() {
            return conn.error(ON_REPLICA);
        }
        let Some(numreplicas) = parse_i64(&argv[1]) else {
            return conn.error(errors::NOT_INTEGER);
        };
        let Some(timeout_ms) = parse_i64(&argv[2]) else {
            return conn.error(TIMEOUT_NOT_INTEGER);
        };
        if timeout_ms < 0 {
            return conn.error(TIMEOUT_NEGATIVE);
        }
        let now = acked(conn);
        // Inside EXEC (and for a socket-less session) WAIT never blocks: it answers at once.
        if now as i64 >= numreplicas || conn.replconf.in_exec || conn.origin.is_some() {
            return conn.out.int(now as i64);
        }
        let n = block(conn, numreplicas, timeout_ms as u64).await;
        match n {
            Outcome::Reply(_) | Outcome::TimedOut => {
                let n = acked(conn);
                conn.out.int(n as i64)
            }
            Outcome::Unblocked => conn.error(super::blocking::UNBLOCKED),
            Outcome::RoleChanged => {
                conn.error(super::blocking::ROLE_CHANGED);
                conn.close_after_reply = true;
            }
            Outcome::Gone => conn.close_after_reply = true,
        }
    })
}

/// Never called: a WAIT waiter is on no key's queue, so no key ever serves it.
fn never_served(_: &mut Ctx, _: &[Bytes]) {}

fn no_rewrite(argv: &[Bytes], _: &[u8]) -> Vec<Bytes> {
    argv.to_vec()
}

/// Blocks until enough replicas acknowledged the client's point (`Outcome::Reply`), the
/// timeout (0: none), CLIENT UNBLOCK, a role change or the client's end.
async fn block(conn: &mut Conn, numreplicas: i64, timeout_ms: u64) -> Outcome {
    let shared = conn.shard.shared.clone();
    let w = Waiter::new(
        conn.id(),
        Request {
            db: conn.db,
            proto: conn.proto(),
            spec: &COMMANDS[0],
            f: never_served,
            argv: Vec::new(),
            wants: Wants::List,
            rewrite: no_rewrite,
        },
    );
    *conn.handle.blocked.borrow_mut() = Some(w.clone());
    // Ask the replicas for an ACK now rather than at their next once-a-second one; requests
    // of every WAIT until the stream thread looks are one GETACK.
    shared
        .repl
        .getack_wanted
        .store(true, std::sync::atomic::Ordering::SeqCst);
    shared.hub.wake_consumer();
    let outcome = {
        let _counted = Waiter::count_blocked();
        wait_for(conn, &w, numreplicas, timeout_ms).await
    };
    *conn.handle.blocked.borrow_mut() = None;
    outcome
}

async fn wait_for(conn: &Conn, w: &Arc<Waiter>, numreplicas: i64, timeout_ms: u64) -> Outcome {
    let repl = &conn.shard.shared.repl;
    super::blocking::wait_or(conn, w, timeout_ms, |cx| {
        repl.register(cx.waker());
        acked(conn) as i64 >= numreplicas
    })
    .await
}
