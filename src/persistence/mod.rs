//! Persistence formats: [`rdb`] (the RDB snapshot format: writer, reader, DUMP payloads).
//! The snapshot engine (when and how shards serialize) lives elsewhere and uses these.

pub mod rdb;
