//! Replication commands of the master side: REPLCONF (ha-spec A14). The state they act on is
//! `shard::repl` (`shared.repl`) and the connection's `replconf`.

use super::errors;
use super::spec::*;
use super::{eq_ic, parse_i64, Handler};
use crate::net::Conn;
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "psync",
        -3,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        Keys::None,
        "server",
        "2.8.0",
        "Internal command used for replication",
        "",
        Handler::Conn(crate::replication::sync::sync_command),
    ),
    spec(
        "sync",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        Keys::None,
        "server",
        "1.0.0",
        "Internal command used for replication",
        "",
        Handler::Conn(crate::replication::sync::sync_command),
    ),
    spec(
        "replconf",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY | DANGEROUS,
        Keys::None,
        "server",
        "3.0.0",
        "An internal command for configuring the replication stream",
        "O(1)",
        Handler::Conn(replconf),
    ),
];

/// `NET_HOST_STR_LEN`: an `ip-address` must be shorter.
const MAX_IP_LEN: usize = 256;

/// REPLCONF <option> <value> ...: options in pairs, `+OK` once at the end; `ack` and `getack`
/// end the command without any reply (replconfCommand).
fn replconf(conn: &mut Conn, argv: &[Bytes]) {
    if argv.len().is_multiple_of(2) {
        conn.error(errors::SYNTAX);
        return;
    }
    for pair in argv[1..].chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if eq_ic(opt, "listening-port") {
            let Some(p) = parse_i64(val) else {
                conn.error(errors::NOT_INTEGER);
                return;
            };
            // Redis keeps it in an int and prints what it got; a port is its low 16 bits here.
            conn.replconf.listening_port = p as u16;
        } else if eq_ic(opt, "ip-address") {
            if val.len() >= MAX_IP_LEN {
                conn.error(&format!(
                    "ERR REPLCONF ip-address provided by replica instance is too long: {} bytes",
                    val.len()
                ));
                return;
            }
            conn.replconf.ip_address = Some(String::from_utf8_lossy(val).into_owned());
        } else if eq_ic(opt, "capa") {
            // Unknown capabilities are ignored.
            if eq_ic(val, "eof") {
                conn.replconf.capa_eof = true;
            } else if eq_ic(val, "psync2") {
                conn.replconf.capa_psync2 = true;
            }
        } else if eq_ic(opt, "ack") {
            // From a replica: its processed offset. Never answered; ignored from others.
            if conn.replconf.is_replica {
                if let Some(off) = parse_i64(val) {
                    let now = crate::keyspace::now_ms();
                    conn.shard.shared.repl.update_replica(conn.id(), |r| {
                        r.ack_off = r.ack_off.max(off);
                        r.ack_time = now;
                    });
                }
            }
            return;
        } else if eq_ic(opt, "getack") {
            // Only a replica's master asks this, on the replica's link to it (replica side);
            // from a client it is ignored, without a reply.
            return;
        } else if eq_ic(opt, "rdb-only") {
            match parse_i64(val) {
                Some(v @ 0..=1) => conn.replconf.rdb_only = v == 1,
                Some(_) => {
                    conn.error("ERR value is out of range, value must between 0 and 1");
                    return;
                }
                None => {
                    conn.error(errors::NOT_INTEGER);
                    return;
                }
            }
        } else if eq_ic(opt, "rdb-filter-only") {
            let mut functions = false;
            for f in val.split(|&c| c == b' ').filter(|f| !f.is_empty()) {
                if eq_ic(f, "functions") {
                    functions = true;
                } else {
                    conn.error(&format!(
                        "ERR Unsupported rdb-filter-only option: {}",
                        String::from_utf8_lossy(f)
                    ));
                    return;
                }
            }
            conn.replconf.rdb_filter_functions = functions;
        } else {
            conn.error(&format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            ));
            return;
        }
    }
    conn.out.ok();
}
