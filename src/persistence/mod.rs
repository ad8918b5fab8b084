//! Persistence: the RDB format ([`rdb`]: writer, reader, DUMP payloads), the append-only
//! file ([`aof`]) and [`snapshot`] (SAVE/BGSAVE without fork, save points, the RDB load at
//! startup), [`loading`] (serving clients while the dataset loads), [`tempfiles`] (what a
//! crashed save leaves behind).

pub mod aof;
pub mod loading;
pub mod rdb;
pub mod snapshot;
pub mod tempfiles;
