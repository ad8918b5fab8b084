//! The handshake with the master (Redis's syncWithMaster up to the PSYNC reply): PING, AUTH,
//! REPLCONF listening-port / ip-address / capa, then PSYNC with the cached master or `? -1`.

use super::io::{MasterConn, SYNCIO_TIMEOUT};
use super::{must_stop, Cached, Follower};
use crate::net::client::ClientHandle;
use crate::net::outbound::encode;
use crate::shard::link::LinkState;
use std::sync::atomic::Ordering;

/// What the master answered to PSYNC.
pub enum Psync {
    /// `+FULLRESYNC <replid> <offset>`: the payload follows.
    Full { replid: String, offset: i64 },
    /// `+CONTINUE [<replid>]`: the stream follows from the cached offset.
    Continue,
}

/// Runs the handshake; `None` when the link must be dropped (logged).
pub async fn run(
    f: &mut Follower,
    conn: &mut MasterConn,
    generation: u64,
    handle: &ClientHandle,
) -> Option<Psync> {
    let shared = f.shard.shared.clone();
    super::set_state(&shared, LinkState::Handshake);
    let (user, pass, announce_port, announce_ip, port) = {
        let c = shared.config();
        let get = |n: &str| c.get_one(n).unwrap_or_default();
        (
            get("masteruser"),
            get("masterauth"),
            get("replica-announce-port").parse::<u16>().unwrap_or(0),
            get("replica-announce-ip"),
            c.port,
        )
    };
    let mut out = Vec::new();
    encode(&["PING"], &mut out);
    conn.write(&out).await.ok()?;
    let pong = read(conn, f, generation, handle).await?;
    let pong_ok = pong.starts_with('+')
        || pong.starts_with("-NOAUTH")
        || pong.starts_with("-NOPERM")
        || pong.starts_with("-ERR operation not permitted");
    if !pong_ok {
        tracing::warn!("Error reply to PING from master: '{pong}'");
        return None;
    }
    tracing::info!("Master replied to PING, replication can continue...");
    // The rest of the handshake goes in one write; the replies are read in order.
    out.clear();
    let auth = !pass.is_empty();
    if auth {
        if user.is_empty() {
            encode(&["AUTH", &pass], &mut out);
        } else {
            encode(&["AUTH", &user, &pass], &mut out);
        }
    }
    let lport = if announce_port != 0 {
        announce_port
    } else {
        port
    };
    encode(
        &["REPLCONF", "listening-port", &lport.to_string()],
        &mut out,
    );
    if !announce_ip.is_empty() {
        encode(&["REPLCONF", "ip-address", &announce_ip], &mut out);
    }
    encode(&["REPLCONF", "capa", "eof", "capa", "psync2"], &mut out);
    conn.write(&out).await.ok()?;
    if auth {
        let r = read(conn, f, generation, handle).await?;
        if r.starts_with('-') {
            tracing::warn!("Unable to AUTH to MASTER: {r}");
            return None;
        }
    }
    let r = read(conn, f, generation, handle).await?;
    if r.starts_with('-') {
        tracing::info!("(Non critical) Master does not understand REPLCONF listening-port: {r}");
    }
    if !announce_ip.is_empty() {
        let r = read(conn, f, generation, handle).await?;
        if r.starts_with('-') {
            tracing::info!("(Non critical) Master does not understand REPLCONF ip-address: {r}");
        }
    }
    let r = read(conn, f, generation, handle).await?;
    if r.starts_with('-') {
        tracing::info!("(Non critical) Master does not understand REPLCONF capa: {r}");
    }
    psync(f, conn, generation, handle).await
}

/// One reply line of the handshake (keepalives skipped); `None` on error or stop (logged).
async fn read(
    conn: &mut MasterConn,
    f: &Follower,
    generation: u64,
    handle: &ClientHandle,
) -> Option<String> {
    if must_stop(f, generation, handle) {
        return None;
    }
    match conn.read_reply_line(SYNCIO_TIMEOUT).await {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::warn!("Error condition on socket for SYNC: {e}");
            None
        }
    }
}

/// Sends PSYNC and reads its answer (slaveTryPartialResynchronization).
async fn psync(
    f: &mut Follower,
    conn: &mut MasterConn,
    generation: u64,
    handle: &ClientHandle,
) -> Option<Psync> {
    let shared = f.shard.shared.clone();
    let mut out = Vec::new();
    match &f.cached {
        Some(c) => {
            let off = (c.offset + 1).to_string();
            tracing::info!(
                "Trying a partial resynchronization (request {}:{off}).",
                c.replid
            );
            encode(&["PSYNC", &c.replid, &off], &mut out);
        }
        None => {
            tracing::info!("Partial resynchronization not possible (no cached master)");
            encode(&["PSYNC", "?", "-1"], &mut out);
        }
    }
    conn.write(&out).await.ok()?;
    let r = read(conn, f, generation, handle).await?;
    if let Some(rest) = r.strip_prefix("+FULLRESYNC") {
        let mut it = rest.split_whitespace();
        let mut replid = it.next().unwrap_or("").to_string();
        let offset = it.next().and_then(|o| o.parse::<i64>().ok()).unwrap_or(-1);
        if replid.len() != 40 {
            tracing::warn!("Master replied with wrong +FULLRESYNC syntax.");
            replid = "0".repeat(40);
        }
        tracing::info!("Full resync from master: {replid}:{offset}");
        // The cached master is useless now: its history is replaced.
        f.cached = None;
        shared
            .link
            .has_master_client
            .store(false, Ordering::Release);
        return Some(Psync::Full { replid, offset });
    }
    if let Some(rest) = r.strip_prefix("+CONTINUE") {
        let Some(cached) = f.cached.as_mut() else {
            tracing::warn!("Unexpected +CONTINUE without a cached master");
            return None;
        };
        tracing::info!("Successful partial resynchronization with master.");
        let new = rest.trim();
        if new.len() == 40 && new != cached.replid {
            tracing::info!("Master replication ID changed to {new}");
            cached.replid = new.to_string();
            shared.repl.adopt_continue(new);
        }
        shared.repl.create_backlog(backlog_size(&shared));
        tracing::info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
        return Some(Psync::Continue);
    }
    if r.starts_with("-NOMASTERLINK") || r.starts_with("-LOADING") {
        tracing::info!(
            "Master is currently unable to PSYNC but should be in the future: {}",
            &r[1..]
        );
        return None;
    }
    tracing::warn!("Unexpected reply to PSYNC from master: {r}");
    None
}

/// `repl-backlog-size` in bytes.
pub fn backlog_size(shared: &crate::shard::Shared) -> usize {
    shared
        .config()
        .get_one("repl-backlog-size")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1 << 20)
}

/// The cached master after a full sync or a demotion (REPLICAOF on a master).
pub fn cache(f: &mut Follower, replid: String, offset: i64) {
    f.cached = Some(Cached { replid, offset });
}
