//! Replication (ha-spec section A). The process-wide state is `shard::repl` (`shared.repl`);
//! this module holds what acts on it above the shard layer:
//! - [`report`]: INFO replication and ROLE, for both roles (the replica fields come from the
//!   replica side's `LinkInfo`).
//! - [`master`]: the master side's checks on clients (min-replicas-to-write).
//! - [`replica`]: the replica side (following a master: REPLICAOF, the link, full sync, the
//!   stream).

pub mod master;
pub mod replica;
pub mod report;
pub mod stream;
pub mod sync;
