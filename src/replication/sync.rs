//! SYNC / PSYNC on the master (ha-spec A3) and the replica connection after it: the payload
//! of a full sync (disk-style `$<len>` or diskless `$EOF:<mark>`), then the stream out of the
//! backlog at the replica's own read position, REPLCONF ACKs, `repl-timeout` and the output
//! limit of the `replica` class.
//!
//! The command only decides (`+CONTINUE` or a full sync) and marks the connection; the
//! connection loop then hands its socket to [`serve`] for the rest of its life.
//!
//! A full sync takes a forkless snapshot whose consistent cut also marks a journal cut: the
//! stream tap records the stream offset at that cut, which is the `+FULLRESYNC` offset. The
//! replica's pin holds the stream from that offset on while the payload is prepared and sent,
//! so a replica behind during a full sync never falls off the backlog (no drop → resync loop);
//! what the pin keeps is bounded by `client-output-buffer-limit replica` (checked each second
//! on the bytes the replica has not been sent yet), past which the replica is dropped.

use crate::net::obuf::{self, Class};
use crate::net::Conn;
use crate::resp::{ParseLimits, RequestParser};
use crate::shard::repl::{FeedStart, ReplicaInfo, ReplicaState};
use crate::shard::Shared;
use bytes::{Bytes, BytesMut};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn eq_ic(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// A numeric directive of the replication family, read through CONFIG's table (the stream
/// thread uses it too).
pub(crate) fn conf_i64(shared: &Shared, name: &str, default: i64) -> i64 {
    shared
        .config()
        .get_one(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn conf_yes(shared: &Shared, name: &str) -> bool {
    shared.config().get_one(name).as_deref() == Some("yes")
}

/// SYNC and PSYNC <replid> <offset> (syncCommand): marks the connection as a replica and says
/// how its feed starts; the reply and everything after it come from [`serve`].
pub fn sync_command(conn: &mut Conn, argv: &[Bytes]) {
    if conn.replconf.is_replica {
        // Already a replica: ignored (Redis returns without a reply).
        return;
    }
    let shared = conn.shard.shared.clone();
    let repl = &shared.repl;
    if repl.is_replica() && repl.link().state != crate::shard::repl::LinkState::Connected {
        conn.error("NOMASTERLINK Can't SYNC while not connected with my master");
        return;
    }
    tracing::info!("Replica {} asks for synchronization", replica_name(conn));
    let psync = eq_ic(&argv[0], "psync");
    if psync {
        let Some(offset) = std::str::from_utf8(&argv[2])
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
        else {
            conn.error(crate::commands::errors::NOT_INTEGER);
            return;
        };
        let replid = String::from_utf8_lossy(&argv[1]).into_owned();
        if repl.can_continue(&replid, offset) {
            tracing::info!(
                "Partial resynchronization request from {} accepted. Sending {} bytes of backlog starting from offset {}.",
                replica_name(conn),
                (repl.offset() + 1 - offset).max(0),
                offset
            );
            conn.replconf.start = Some(FeedStart::Continue { from: offset });
            become_replica(conn);
            repl.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if replid != "?" {
            repl.sync_partial_err.fetch_add(1, Ordering::Relaxed);
        } else {
            tracing::info!("Full resync requested by replica {}", replica_name(conn));
        }
    }
    repl.sync_full.fetch_add(1, Ordering::Relaxed);
    if !repl.has_backlog() && !repl.is_replica() {
        // A backlog created from scratch starts a new history (createReplicationBacklog
        // after changeReplicationId + clearReplicationId2).
        repl.new_history();
    }
    super::stream::ensure_backlog(&shared);
    conn.replconf.start = Some(FeedStart::Full { psync });
    become_replica(conn);
}

/// How Redis's logs name a replica (replicationGetSlaveName): its announced or peer address
/// with its listening port.
fn replica_name(conn: &Conn) -> String {
    let ip = conn.replconf.ip_address.clone().unwrap_or_else(|| {
        let a = &conn.handle.addr;
        a.rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or_else(|| a.clone())
    });
    match conn.replconf.listening_port {
        0 => format!("{ip}:<unknown-replica-port>"),
        p if ip.contains(':') => format!("[{ip}]:{p}"),
        p => format!("{ip}:{p}"),
    }
}

fn become_replica(conn: &mut Conn) {
    conn.replconf.is_replica = true;
    conn.handle.info.borrow_mut().flags = "S".to_string();
    let ip = conn.replconf.ip_address.clone().unwrap_or_else(|| {
        let a = &conn.handle.addr;
        a.rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or_else(|| a.clone())
    });
    let state = match conn.replconf.start {
        Some(FeedStart::Continue { .. }) => ReplicaState::Online,
        _ => ReplicaState::WaitBgsave,
    };
    let repl = &conn.shard.shared.repl;
    // The pin first: nothing after this point leaves the backlog before the replica read it.
    let from = match conn.replconf.start {
        Some(FeedStart::Continue { from }) => from,
        _ => repl.offset() + 1,
    };
    repl.pin(conn.id(), from);
    repl.add_replica(ReplicaInfo {
        id: conn.id(),
        ip,
        port: conn.replconf.listening_port,
        state,
        ack_off: 0,
        ack_time: crate::keyspace::now_ms(),
    });
}

/// Serves a connection that became a replica, until it goes away.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn,
    stream: &mut S,
    inbuf: &mut BytesMut,
) {
    let Some(start) = conn.replconf.start.take() else {
        return;
    };
    let shared = conn.shard.shared.clone();
    let id = conn.id();
    let ok = match start {
        FeedStart::Continue { from } => {
            let line = if conn.replconf.capa_psync2 {
                format!("+CONTINUE {}\r\n", shared.repl.replid())
            } else {
                "+CONTINUE\r\n".to_string()
            };
            if write_all(stream, line.as_bytes(), &shared).await {
                feed(conn, stream, inbuf, from, false).await;
            }
            true
        }
        FeedStart::Full { psync } => match full_sync(conn, stream, psync).await {
            Some((from, eof)) => {
                feed(conn, stream, inbuf, from, eof).await;
                true
            }
            None => false,
        },
    };
    let _ = ok;
    tracing::warn!("Connection with replica {} lost.", replica_name(conn));
    shared.repl.remove_replica(id);
}

fn repl_timeout(shared: &Shared) -> Duration {
    Duration::from_secs(conf_i64(shared, "repl-timeout", 60).max(1) as u64)
}

async fn write_all<S: AsyncWrite + Unpin>(stream: &mut S, b: &[u8], shared: &Shared) -> bool {
    let t = repl_timeout(shared);
    let r = glommio::timer::timeout(t, async {
        stream.write_all(b).await?;
        stream.flush().await?;
        Ok(())
    })
    .await;
    r.is_ok()
}

/// The bytes held for this replica and not sent yet are past its output limits.
fn over_limit(conn: &Conn, from: i64) -> bool {
    let repl = &conn.shard.shared.repl;
    let pending = (repl.offset() + 1 - from).max(0) as u64;
    if !obuf::limited(Class::Replica) {
        return false;
    }
    if obuf::over_limit(
        Class::Replica,
        pending,
        obuf::now_secs(),
        &conn.handle.obuf_soft_since,
    ) {
        conn.handle.info.borrow_mut().omem = pending as usize;
        obuf::close(&conn.handle);
        return true;
    }
    false
}

/// A full sync: waits `repl-diskless-sync-delay` (diskless), snapshots at a journal cut,
/// sends `+FULLRESYNC` and the payload, `\n` each second meanwhile. Returns the offset the
/// stream continues from and whether the replica loads an EOF-marked payload (its stream waits
/// for its first ACK).
async fn full_sync<S: AsyncWrite + Unpin>(
    conn: &mut Conn,
    stream: &mut S,
    psync: bool,
) -> Option<(i64, bool)> {
    let shared = conn.shard.shared.clone();
    let repl = &shared.repl;
    let id = conn.id();
    let eof = psync && conn.replconf.capa_eof && conf_yes(&shared, "repl-diskless-sync");
    if eof {
        let delay = conf_i64(&shared, "repl-diskless-sync-delay", 5).max(0) as u64;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(delay) {
            glommio::timer::sleep(Duration::from_millis(100)).await;
            if start.elapsed().as_millis() % 1000 < 100 && !write_all(stream, b"\n", &shared).await
            {
                return None;
            }
        }
    }
    tracing::info!(
        "Starting BGSAVE for SYNC with target: {}",
        if eof { "replicas sockets" } else { "disk" }
    );
    let cut = repl.new_cut();
    let payload: Arc<Mutex<Option<Vec<u8>>>> = Arc::new(Mutex::new(None));
    let (opts, mut aux) = {
        let c = shared.config();
        (
            crate::persistence::rdb::WriteOptions {
                compression: c.rdbcompression,
                checksum: c.rdbchecksum,
            },
            crate::persistence::snapshot::aux_now(),
        )
    };
    let shared2 = shared.clone();
    let cut_offset = move || -> Option<i64> {
        let start = Instant::now();
        loop {
            if let Some(o) = shared2.repl.peek_cut(cut) {
                return Some(o);
            }
            if start.elapsed() > Duration::from_secs(10) {
                return None;
            }
            shared2.hub.wake_consumer();
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    aux.repl = Some((0, repl.replid(), -1));
    let p = payload.clone();
    let hub_shard = conn.shard.clone();
    let snapshot = crate::persistence::snapshot::write_rdb_to_at_cut_aux(
        &hub_shard,
        0,
        opts,
        move |mut aux| {
            if let (Some((_, _, off)), Some(o)) = (&mut aux.repl, cut_offset()) {
                *off = o;
            }
            aux
        },
        aux,
        move |sh| {
            let hub = &sh.shared.hub;
            let mut data = sh.data.borrow_mut();
            let data = &mut *data;
            if data.effects.on != hub.active() {
                data.effects.set_on(hub.active(), &mut data.dbs);
            }
            data.effects.flush_expired(hub, sh.id, &mut data.dbs);
            hub.push_cut(sh.id, cut);
        },
        || Ok(Vec::new()),
        move |v: Vec<u8>| {
            *p.lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
            Ok(())
        },
    );
    // `\n` each second while the snapshot is prepared, and the output limit on what the pin
    // keeps meanwhile.
    let keepalive = async {
        loop {
            glommio::timer::sleep(Duration::from_secs(1)).await;
            if !write_all(stream, b"\n", &shared).await {
                return Err(());
            }
        }
    };
    let res = futures_lite::future::or(async { Ok(snapshot.await) }, keepalive).await;
    let rdb = match res {
        Ok(Ok(_)) => payload.lock().unwrap_or_else(|e| e.into_inner()).take(),
        Ok(Err(e)) => {
            tracing::warn!("Replica full sync failed: {e}");
            None
        }
        Err(()) => None,
    };
    let Some(rdb) = rdb else {
        repl.take_cut(cut);
        return None;
    };
    let Some(offset) = repl.take_cut(cut) else {
        tracing::warn!("Replica full sync failed: the stream did not reach the snapshot cut");
        return None;
    };
    repl.advance_pin(id, offset + 1);
    if over_limit(conn, offset + 1) {
        return None;
    }
    repl.update_replica(id, |r| r.state = ReplicaState::SendBulk);
    let mut out = Vec::with_capacity(rdb.len() + 128);
    if psync {
        out.extend_from_slice(format!("+FULLRESYNC {} {}\r\n", repl.replid(), offset).as_bytes());
    }
    if eof {
        let mark = crate::shard::repl::random_id();
        out.extend_from_slice(format!("$EOF:{mark}\r\n").as_bytes());
        out.extend_from_slice(&rdb);
        out.extend_from_slice(mark.as_bytes());
    } else {
        out.extend_from_slice(format!("${}\r\n", rdb.len()).as_bytes());
        out.extend_from_slice(&rdb);
    }
    drop(rdb);
    if !write_all(stream, &out, &shared).await {
        return None;
    }
    tracing::info!(
        "Synchronization with replica {} succeeded",
        replica_name(conn)
    );
    conn.shard.data.borrow_mut().stats.net_output_bytes += out.len() as u64;
    if !eof {
        repl.update_replica(id, |r| {
            r.state = ReplicaState::Online;
            r.ack_time = crate::keyspace::now_ms();
        });
    }
    Some((offset + 1, eof))
}

/// Waits until the stream has bytes at `pos` or later.
async fn appended(shared: &Shared, pos: i64) {
    std::future::poll_fn(|cx| {
        if shared.repl.offset() + 1 > pos {
            return std::task::Poll::Ready(());
        }
        shared.repl.register(cx.waker());
        if shared.repl.offset() + 1 > pos {
            return std::task::Poll::Ready(());
        }
        std::task::Poll::Pending
    })
    .await
}

/// The stream phase: backlog bytes from `pos` on, ACKs in. `wait_ack`: nothing is sent before
/// the replica's first ACK (it loaded an EOF-marked payload: replicaPutOnline on ACK).
async fn feed<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn,
    stream: &mut S,
    inbuf: &mut BytesMut,
    mut pos: i64,
    mut wait_ack: bool,
) {
    let shared = conn.shard.shared.clone();
    let repl = &shared.repl;
    let id = conn.id();
    let mut parser = RequestParser::default();
    let mut argv = Vec::new();
    let mut last_ack = Instant::now();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        if conn.handle.killed.get() {
            return;
        }
        // Commands from the replica: REPLCONF ACK (others are ignored).
        let limits = ParseLimits {
            proto_max_bulk_len: 512 << 20,
            authenticated: true,
        };
        loop {
            match parser.parse(inbuf, &limits, &mut argv) {
                Ok(true) => {
                    let a = std::mem::take(&mut argv);
                    if a.len() >= 3 && eq_ic(&a[0], "replconf") && eq_ic(&a[1], "ack") {
                        if let Some(off) = std::str::from_utf8(&a[2])
                            .ok()
                            .and_then(|s| s.parse::<i64>().ok())
                        {
                            let now = crate::keyspace::now_ms();
                            repl.update_replica(id, |r| {
                                r.ack_off = r.ack_off.max(off);
                                r.ack_time = now;
                                r.state = ReplicaState::Online;
                            });
                        }
                        last_ack = Instant::now();
                        wait_ack = false;
                    }
                }
                Ok(false) => break,
                Err(_) => return,
            }
        }
        if last_ack.elapsed() > repl_timeout(&shared) && conn.replconf.capa_psync2 {
            tracing::warn!(
                "Disconnecting timedout replica (streaming sync): {}",
                conn.handle.addr
            );
            return;
        }
        if !wait_ack {
            if over_limit(conn, pos) {
                tracing::warn!(
                    "Client id={} addr={} closed for overcoming of output buffer limits.",
                    id,
                    conn.handle.addr
                );
                return;
            }
            match repl.bytes_from(pos, 256 << 10) {
                None => {
                    tracing::warn!("Replica {} fell off the backlog", conn.handle.addr);
                    return;
                }
                Some(b) if !b.is_empty() => {
                    if !write_all(stream, &b, &shared).await {
                        return;
                    }
                    conn.shard.data.borrow_mut().stats.net_output_bytes += b.len() as u64;
                    pos += b.len() as i64;
                    repl.advance_pin(id, pos);
                    continue;
                }
                Some(_) => {}
            }
        }
        // Wait for input, new stream bytes or a second (timeouts, limits).
        let read = async { Some(stream.read(&mut chunk).await) };
        let more = async {
            if wait_ack {
                std::future::pending::<()>().await;
            }
            appended(&shared, pos).await;
            None
        };
        let tick = async {
            glommio::timer::sleep(Duration::from_secs(1)).await;
            None
        };
        match futures_lite::future::or(read, futures_lite::future::or(more, tick)).await {
            Some(Ok(0)) | Some(Err(_)) => return,
            Some(Ok(n)) => {
                inbuf.extend_from_slice(&chunk[..n]);
                conn.shard.data.borrow_mut().stats.net_input_bytes += n as u64;
                conn.handle.last_interaction.set(Instant::now());
            }
            None => {}
        }
    }
}
