//! Persistence: the RDB format ([`rdb`]: writer, reader, DUMP payloads) and the append-only
//! file ([`aof`]). The snapshot engine (when and how shards serialize) uses these.

pub mod aof;
pub mod rdb;
