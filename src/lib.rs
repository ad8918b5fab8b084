//! ringkv: a Redis-compatible data server, thread-per-core on glommio (io_uring).
//!
//! Map of the crate (layers depend downward only):
//! - [`server`]: process wiring for the data node: logging, daemonize, pidfile, signals,
//!   supervision, INFO, startup/shutdown.
//! - [`commands`]: the command table (one declarative spec per command) and one file per
//!   command family: shard-local ops, argument parsing, replies.
//! - [`shard`]: executors, the channel mesh between them, key routing, multi-shard
//!   transactions (lock, fetch, execute, write back).
//! - [`net`]: listener, connection loop, per-connection session state.
//! - [`replication`]: master and replica sides of Redis replication (PSYNC, the stream).
//! - [`persistence`]: the append-only file (writer, manifest, loader, rewrite); RDB.
//! - [`replication`]: master and replica sides of Redis replication (state in `shard::repl`).
//! - [`keyspace`]: per-shard databases, values, expiry (synchronous, no I/O).
//! - [`persistence`]: the RDB format (writer, reader, DUMP payloads).
//! - [`config`]: redis.conf + argv parsing, the directive registry, CONFIG GET/SET/REWRITE.
//! - [`sentinel`]: Redis Sentinel 7.0 (monitoring, hello discovery, election, failover).
//! - [`alloc`]: the counting global allocator (`used_memory`, the `maxmemory` check).
//! - [`glob`]: Redis's glob matcher, for KEYS/SCAN, CONFIG GET, COMMAND LIST, pub/sub patterns.
//! - [`resp`]: RESP2/RESP3 request parser (zero-copy) and reply writer.

pub mod alloc;
pub mod commands;
pub mod config;
pub mod glob;
pub mod keyspace;
pub mod net;
pub mod persistence;
pub mod replication;
pub mod resp;
pub mod sentinel;
pub mod server;
pub mod shard;

/// The Redis version whose behaviour ringkv matches (reported as `redis_version`).
pub const REDIS_VERSION: &str = "7.0.15";
/// ringkv's own version (reported as `ringkv_version`).
pub const RINGKV_VERSION: &str = env!("CARGO_PKG_VERSION");
