//! Persistence commands: SAVE and BGSAVE (LASTSAVE and SHUTDOWN are in `server`, FLUSHALL's
//! save in `keys`). The work is in `persistence::snapshot`.

use super::errors;
use super::spec::*;
use super::{eq_ic, BoxFuture, Handler};
use crate::net::Conn;
use crate::persistence::snapshot;
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "save",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI | DANGEROUS,
        Keys::None,
        "server",
        "1.0.0",
        "Synchronously save the dataset to disk",
        "O(N) where N is the total number of keys in all databases",
        Handler::Coord(save),
    ),
    spec(
        "bgsave",
        -1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | DANGEROUS,
        Keys::None,
        "server",
        "1.0.0",
        "Asynchronously save the dataset to disk",
        "O(1)",
        Handler::Coord(bgsave),
    ),
];

/// SAVE: blocks the caller until the file is on disk; other clients keep being served.
fn save<'a>(conn: &'a mut Conn, _argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        if !snapshot::try_start(&conn.shard) {
            return conn.error(errors::BGSAVE_IN_PROGRESS);
        }
        let shard = conn.shard.clone();
        match snapshot::run_claimed(&shard, 0, snapshot::SaveKind::Foreground).await {
            Ok(()) => {
                let st = &conn.shard.shared.persistence;
                st.rdb_saves
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                conn.out.ok()
            }
            Err(_) => conn.error(errors::ERR_PLAIN),
        }
    })
}

/// BGSAVE [SCHEDULE]. There is no AOF rewrite or other child to wait for, so SCHEDULE starts
/// at once.
fn bgsave<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(async move {
        if argv.len() > 2 || (argv.len() == 2 && !eq_ic(&argv[1], "schedule")) {
            return conn.error(errors::SYNTAX);
        }
        if snapshot::start_bgsave(&conn.shard) {
            // Inside EXEC Redis defers the save to its cron; ours waits at the cut gate
            // until the block is over, which is the same thing.
            conn.out.simple(if in_exec(conn) {
                "Background saving scheduled"
            } else {
                "Background saving started"
            });
        } else {
            conn.error(errors::BGSAVE_IN_PROGRESS);
        }
    })
}

/// Whether the connection is running the commands of an EXEC block (the block has been taken
/// out of `conn.multi`, and the client info is reset only after it ran). A multi-shard block
/// holds one cut-gate pass, which a save from inside must not wait for.
pub fn in_exec(conn: &Conn) -> bool {
    conn.multi.is_none() && conn.handle.info.borrow().multi >= 0
}
