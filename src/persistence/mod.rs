//! Persistence formats: [`rdb`] (the RDB snapshot format: writer, reader, DUMP payloads).
//! [`snapshot`]: SAVE/BGSAVE without fork, save points, the startup load.

pub mod rdb;
pub mod snapshot;
