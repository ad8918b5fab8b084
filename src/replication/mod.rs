//! Replication (ha-spec section A). The process-wide state is `shard::repl` (`shared.repl`);
//! this module holds what acts on it above the shard layer:
//! - [`report`]: INFO replication and ROLE, for both roles (the replica fields come from the
//!   replica side's `LinkInfo`).

//! - [`master`]: the master side's checks on clients (min-replicas-to-write).

pub mod master;
pub mod report;
