//! Replication (ha-spec section A). The process-wide state is `shard::repl` (`shared.repl`);
//! this module holds what acts on it above the shard layer:
//! - [`report`]: INFO replication and ROLE, for both roles (the replica fields come from the
//!   replica side's `LinkInfo`).

pub mod report;
