//! Persistence: the append-only file (`aof`) and RDB snapshots (`rdb`).

pub mod aof;
