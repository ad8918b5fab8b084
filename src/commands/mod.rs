//! Commands: the table (one declarative spec per command, see [`spec`]), the dispatcher that
//! routes each command to the shard that owns its keys, and one file per command family.
//!
//! A family file holds its specs (`pub static COMMANDS`), its shard-local operations (pure work
//! on a [`Db`], no reply format) and its handlers (parse arguments, call the op, write the reply).

pub mod apply;
pub mod bitmap;
pub mod blocking;
pub mod client;
pub mod connection;
pub mod debug;
pub mod digest;
pub mod dispatch;
pub mod docs;
pub mod dump;
pub mod errors;
pub mod hash;
pub mod introspect;
pub mod keys;
pub mod list;
pub mod persist;
pub mod pubsub;
pub mod replication;
pub mod server;
pub mod set;
pub mod sort;
pub mod spec;
pub mod string;
pub mod table;
pub mod tracking;
pub mod transaction;
pub mod wait;
pub mod zset;

use crate::keyspace::{Db, Value};
use crate::net::Conn;
use crate::resp::ReplyBuf;
use crate::shard::ShardStats;
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;

pub use crate::glob;
pub use spec::CommandSpec;

/// What a keyed or local handler works with: the databases of the shard that owns the keys (or a
/// scratch copy of the involved keys, for a multi-shard command), the selected db, and where the
/// reply goes.
pub struct Ctx<'a> {
    pub dbs: &'a mut [Db],
    pub db: usize,
    pub now: i64,
    pub out: &'a mut ReplyBuf,
    pub stats: &'a mut ShardStats,
    pub rng: &'a mut rand::rngs::SmallRng,
    /// Changes made (rdb_changes_since_last_save).
    pub dirty: u64,
    /// What this command propagates (AOF, replicas): see [`crate::shard::journal`].
    pub effects: &'a mut crate::shard::journal::Effects,
}

impl Ctx<'_> {
    #[inline]
    pub fn db(&mut self) -> &mut Db {
        &mut self.dbs[self.db]
    }

    /// Records keyspace event `event` (of class `class`, a `keyspace::notify::NOTIFY_*`) on
    /// `key` of the selected db; a single branch when notifications are off.
    #[inline(always)]
    pub fn notify(&self, class: u32, event: &'static str, key: &[u8]) {
        crate::keyspace::notify::record(class, event, self.db, key);
    }

    /// The `del` event of a write that left `key` empty (and so removed it, as Redis removes
    /// empty lists, hashes, sets and sorted sets).
    pub fn notify_if_removed(&mut self, key: &[u8]) {
        use crate::keyspace::notify::{wants, NOTIFY_GENERIC};
        if wants(NOTIFY_GENERIC) && !self.dbs[self.db].exists(key, self.now) {
            self.notify(NOTIFY_GENERIC, "del", key);
        }
    }

    pub fn error(&mut self, e: &str) {
        count_error(self.stats, e);
        self.out.error(e);
    }

    /// Whether effects are being recorded (AOF on or replicas attached): check it before
    /// building a rewritten argv.
    #[inline]
    pub fn propagating(&self) -> bool {
        self.effects.on
    }

    /// This command propagates as `argv` (in the selected db) instead of as received; call it
    /// several times for several commands. Only kept if the command changed data.
    pub fn rewrite(&mut self, argv: Vec<Bytes>) {
        self.effects.rewrite(self.db, argv);
    }

    /// Propagates `argv` besides this command's own effect.
    pub fn also_propagate(&mut self, argv: Vec<Bytes>) {
        self.effects.also_propagate(self.db, argv);
    }

    /// This command changed data but must not propagate its own argv.
    pub fn prevent_propagation(&mut self) {
        self.effects.prevent();
    }
}

pub type BoxFuture<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

#[derive(Clone, Copy)]
pub enum Handler {
    /// Runs on the shard owning the command's keys (inline when that is this connection's shard).
    Keyed(fn(&mut Ctx, &[Bytes])),
    /// No keys; runs inline on the connection's shard (PING, ECHO, TIME, ...).
    Local(fn(&mut Ctx, &[Bytes])),
    /// Reads or changes connection state (SELECT, AUTH, HELLO, CLIENT SETNAME, ...).
    Conn(fn(&mut Conn, &[Bytes])),
    /// Coordinates work over several shards or the whole server (DBSIZE, KEYS, SCAN, INFO,
    /// CONFIG SET, CLIENT LIST, FLUSHALL, ...).
    Coord(for<'a> fn(&'a mut Conn, &'a [Bytes]) -> BoxFuture<'a>),
    /// A command that only dispatches to subcommands.
    Container,
}

/// Redis's `lookupKeyRead`: reads `key` (expiring it lazily), counts a keyspace hit or miss,
/// and narrows the value with `as_type` (WRONGTYPE for another type). Every family's read
/// lookup goes through here. It borrows only the db and the counters, so the caller can write
/// its reply straight from the borrowed value.
pub fn lookup_read<'a, T>(
    db: &'a mut Db,
    stats: &mut ShardStats,
    now: i64,
    key: &[u8],
    as_type: fn(&Value) -> Result<&T, &'static str>,
) -> Result<Option<&'a T>, &'static str> {
    let id = db.id as usize;
    match db.get(key, now) {
        None => {
            stats.keyspace_misses += 1;
            key_miss(id, key);
            Ok(None)
        }
        Some(e) => {
            stats.keyspace_hits += 1;
            as_type(&e.value).map(Some)
        }
    }
}

/// The `keymiss` event of a read lookup in database `db` that found nothing (class `m`).
#[inline]
pub fn key_miss(db: usize, key: &[u8]) {
    let class = crate::keyspace::notify::NOTIFY_KEY_MISS;
    crate::keyspace::notify::record(class, "keymiss", db, key);
}

/// Counts an error reply by its prefix (INFO errorstats).
pub fn count_error(stats: &mut ShardStats, e: &str) {
    let prefix = e.split(' ').next().unwrap_or("ERR");
    stats.total_error_replies += 1;
    match stats.errors.get_mut(prefix) {
        Some(n) => *n += 1,
        None => {
            stats.errors.insert(prefix.to_string(), 1);
        }
    }
}

/// Parses an integer argument the way Redis's `string2ll` does.
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    crate::keyspace::value::parse_canonical_i64(b)
}

/// Case-insensitive ASCII comparison for option names.
#[inline]
pub fn eq_ic(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}
