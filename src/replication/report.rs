//! INFO replication (ha-spec A12) and ROLE (A13) from `shared.repl`, for both roles.

use crate::config::Config;
use crate::resp::ReplyBuf;
use crate::shard::repl::{LinkState, ReplicaState, Role};
use crate::shard::Shared;
use std::fmt::Write;

fn cfg_i64(cfg: &Config, name: &str, default: i64) -> i64 {
    cfg.get_one(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cfg_yes(cfg: &Config, name: &str, default: bool) -> bool {
    match cfg.get_one(name).as_deref() {
        Some("yes") => true,
        Some("no") => false,
        _ => default,
    }
}

/// `min-replicas-to-write` and `min-replicas-max-lag`, when both are set (the check is on).
pub fn min_replicas(cfg: &Config) -> Option<(i64, i64)> {
    let n = cfg_i64(cfg, "min-replicas-to-write", 0);
    let lag = cfg_i64(cfg, "min-replicas-max-lag", 10);
    (n > 0 && lag > 0).then_some((n, lag))
}

/// The body of INFO's `# Replication` section (after the header), `\r\n` line ends.
pub fn info(shared: &Shared, cfg: &Config, now_ms: i64, o: &mut String) {
    let repl = &shared.repl;
    let now_s = now_ms / 1000;
    match repl.role() {
        Role::Master => o.push_str("role:master\r\n"),
        Role::Replica { host, port } => {
            let link = repl.link();
            let _ = write!(
                o,
                "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\n\
                 master_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\n\
                 master_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\n\
                 slave_repl_offset:{}\r\n",
                if link.state == LinkState::Connected {
                    "up"
                } else {
                    "down"
                },
                if link.state == LinkState::Connected {
                    now_s - link.last_io / 1000
                } else {
                    -1
                },
                (link.state == LinkState::Sync) as u8,
                if link.has_master {
                    link.read_reploff
                } else {
                    1
                },
                if link.has_master { link.reploff } else { 1 },
            );
            if link.state == LinkState::Sync {
                let perc = if link.sync_total_bytes != 0 {
                    link.sync_read_bytes as f64 / link.sync_total_bytes as f64 * 100.0
                } else {
                    0.0
                };
                let _ = write!(
                    o,
                    "master_sync_total_bytes:{}\r\nmaster_sync_read_bytes:{}\r\n\
                     master_sync_left_bytes:{}\r\nmaster_sync_perc:{perc:.2}\r\n\
                     master_sync_last_io_seconds_ago:{}\r\n",
                    link.sync_total_bytes,
                    link.sync_read_bytes,
                    link.sync_total_bytes - link.sync_read_bytes,
                    now_s - link.sync_last_io / 1000,
                );
            }
            if link.state != LinkState::Connected {
                let down = if link.down_since > 0 {
                    now_s - link.down_since / 1000
                } else {
                    -1
                };
                let _ = write!(o, "master_link_down_since_seconds:{down}\r\n");
            }
            let _ = write!(
                o,
                "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
                cfg_i64(cfg, "replica-priority", 100),
                cfg_yes(cfg, "replica-read-only", true) as u8,
                cfg_yes(cfg, "replica-announced", true) as u8,
            );
        }
    }
    let replicas = repl.replicas();
    let _ = write!(o, "connected_slaves:{}\r\n", replicas.len());
    if let Some((_, lag)) = min_replicas(cfg) {
        let _ = write!(
            o,
            "min_slaves_good_slaves:{}\r\n",
            repl.good_replicas(now_ms, lag)
        );
    }
    for (i, r) in replicas.iter().enumerate() {
        let lag = if r.state == ReplicaState::Online {
            now_s - r.ack_time / 1000
        } else {
            0
        };
        let _ = write!(
            o,
            "slave{i}:ip={},port={},state={},offset={},lag={lag}\r\n",
            r.ip,
            r.port,
            r.state.info_name(),
            r.ack_off
        );
    }
    let backlog_size = cfg.repl_backlog_size;
    let ids = repl.ids();
    let (active, first, histlen) = match &ids.backlog {
        Some(b) => (1, b.first_byte_offset(), b.histlen()),
        None => (0, 0, 0),
    };
    let _ = write!(
        o,
        "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\n\
         master_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{active}\r\n\
         repl_backlog_size:{backlog_size}\r\nrepl_backlog_first_byte_offset:{first}\r\n\
         repl_backlog_histlen:{histlen}\r\n",
        ids.replid, ids.replid2, ids.master_repl_offset, ids.second_replid_offset,
    );
}

/// The ROLE reply.
pub fn role(shared: &Shared, out: &mut ReplyBuf) {
    let repl = &shared.repl;
    match repl.role() {
        Role::Master => {
            let online: Vec<_> = repl
                .replicas()
                .into_iter()
                .filter(|r| r.state == ReplicaState::Online)
                .collect();
            out.array(3);
            out.bulk(b"master");
            out.int(repl.offset());
            out.array(online.len());
            let mut b = itoa::Buffer::new();
            for r in online {
                out.array(3);
                out.bulk(r.ip.as_bytes());
                out.bulk(b.format(r.port).as_bytes());
                out.bulk(b.format(r.ack_off).as_bytes());
            }
        }
        Role::Replica { host, port } => {
            let link = repl.link();
            out.array(5);
            out.bulk(b"slave");
            out.bulk(host.as_bytes());
            out.int(port as i64);
            out.bulk(link.state.role_name().as_bytes());
            out.int(if link.state == LinkState::Connected {
                link.reploff
            } else {
                -1
            });
        }
    }
}
