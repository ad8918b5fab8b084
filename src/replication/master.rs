//! The master side of replication: what a master checks for its clients.

use crate::net::Conn;

/// `min-replicas-to-write` (ha-spec A11): a write needs that many online replicas that ACKed
/// within `min-replicas-max-lag` seconds. Always true on a replica or when the check is off.
pub fn enough_good_replicas(conn: &Conn) -> bool {
    let Some((min, lag)) = conn.cfg.min_replicas else {
        return true;
    };
    let repl = &conn.shard.shared.repl;
    repl.is_replica() || repl.good_replicas(crate::keyspace::now_ms(), lag) >= min as usize
}
