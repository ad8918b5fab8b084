//! Replication: the replica side (following a master: REPLICAOF, the link, full sync, the
//! stream). The master side (SYNC/PSYNC, backlog, the merged stream) lives beside it.

pub mod replica;
