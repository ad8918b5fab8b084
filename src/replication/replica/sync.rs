//! Full sync, replica side (Redis's readSyncBulkPayload with `repl-diskless-load disabled`):
//! the payload (`$<len>` or `$EOF:<mark>`) goes to a temp file in `dir`, which becomes
//! `dbfilename`; then it is loaded on a helper thread while other clients get `-LOADING`, and
//! every shard's databases are replaced by it.

use super::io::{IoError, MasterConn};
use super::{ack_frame, must_stop, repl_timeout, Follower};
use crate::net::client::ClientHandle;
use crate::shard::link::LinkState;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The payload is written in pieces of about this size.
const WRITE_CHUNK: usize = 4 << 20;
/// Redis's RDB_EOF_MARK_SIZE.
const EOF_MARK_SIZE: usize = 40;

/// How the payload's end is found.
enum Framing {
    Len(u64),
    Mark(Vec<u8>),
}

/// Receives and loads the payload that follows `+FULLRESYNC <replid> <offset>`. True when the
/// dataset is the master's and the stream may be applied.
pub async fn run(
    f: &mut Follower,
    conn: &mut MasterConn,
    generation: u64,
    handle: &ClientHandle,
    replid: String,
    offset: i64,
) -> bool {
    let shared = f.shard.shared.clone();
    let link = &shared.link;
    super::set_state(&shared, LinkState::Sync);
    link.sync_total_bytes.store(-1, Ordering::Relaxed);
    link.sync_read_bytes.store(0, Ordering::Relaxed);
    let timeout = repl_timeout(&f.shard);
    let Some(framing) = preamble(conn, timeout).await else {
        return false;
    };
    let tmp = format!(
        "temp-{}.{}.rdb",
        crate::keyspace::now_ms() / 1000,
        std::process::id()
    );
    let received = receive(f, conn, generation, handle, &framing, &tmp, timeout).await;
    if !received {
        let _ = std::fs::remove_file(&tmp);
        return false;
    }
    if !load(f, conn, &tmp).await {
        return false;
    }
    let replid_for_repl = replid.clone();
    super::handshake::cache(f, replid, offset);
    link.read_reploff.store(offset, Ordering::Release);
    link.reploff.store(offset, Ordering::Release);
    link.stream_db.store(0, Ordering::SeqCst);
    shared.repl.adopt(&replid_for_repl, offset);
    link.has_master_client.store(true, Ordering::SeqCst);
    shared
        .repl
        .create_backlog(super::handshake::backlog_size(&shared));
    super::publish(&shared);
    f.client.discard_multi();
    f.client.set_db(0);
    tracing::info!("MASTER <-> REPLICA sync: Finished with success");
    if matches!(framing, Framing::Mark(_)) {
        // The master starts the stream after the first ACK of an EOF-marked transfer.
        if conn.write(&ack_frame(offset)).await.is_err() {
            return false;
        }
    }
    true
}

/// Reads the `$...` line (keepalives before it are skipped).
async fn preamble(conn: &mut MasterConn, timeout: Duration) -> Option<Framing> {
    let line = loop {
        match conn.read_line(timeout).await {
            Ok(l) if l.is_empty() => continue,
            Ok(l) => break l,
            Err(IoError::Timeout) => {
                tracing::warn!("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.");
                return None;
            }
            Err(e) => {
                tracing::warn!("I/O error reading bulk count from MASTER: {e}");
                return None;
            }
        }
    };
    if let Some(e) = line.strip_prefix('-') {
        tracing::warn!("MASTER aborted replication with an error: {e}");
        return None;
    }
    if !line.starts_with('$') {
        tracing::warn!("Bad protocol from MASTER, the first byte is not '$' (we received '{line}'), are you sure the host and port are right?");
        return None;
    }
    if let Some(mark) = line.strip_prefix("$EOF:") {
        if mark.len() >= EOF_MARK_SIZE {
            tracing::info!(
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk"
            );
            return Some(Framing::Mark(mark.as_bytes()[..EOF_MARK_SIZE].to_vec()));
        }
    }
    match line[1..].parse::<u64>() {
        Ok(n) => {
            tracing::info!("MASTER <-> REPLICA sync: receiving {n} bytes from master to disk");
            Some(Framing::Len(n))
        }
        Err(_) => {
            tracing::warn!("Bad protocol from MASTER, bulk length is not a number: '{line}'");
            None
        }
    }
}

/// Writes `buf` at the end of `file` on a helper thread.
async fn write_out(
    file: std::fs::File,
    buf: Vec<u8>,
) -> (std::fs::File, Vec<u8>, std::io::Result<()>) {
    let done = glommio::executor()
        .spawn_blocking(move || {
            let mut file = file;
            let r = file.write_all(&buf);
            (file, buf, r)
        })
        .await;
    let (file, mut buf, r) = done;
    buf.clear();
    (file, buf, r)
}

/// Copies the payload to `tmp`; stream bytes after a `$<len>` payload stay in `conn.inbuf`.
async fn receive(
    f: &Follower,
    conn: &mut MasterConn,
    generation: u64,
    handle: &ClientHandle,
    framing: &Framing,
    tmp: &str,
    timeout: Duration,
) -> bool {
    let link = &f.shard.shared.link;
    let path = tmp.to_string();
    let file = glommio::executor()
        .spawn_blocking(move || std::fs::File::create(path))
        .await;
    let mut file = match file {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(
                "Opening the temp file needed for MASTER <-> REPLICA synchronization: {e}"
            );
            return false;
        }
    };
    let mut pending: Vec<u8> = Vec::with_capacity(WRITE_CHUNK);
    let total = match framing {
        Framing::Len(n) => *n,
        Framing::Mark(_) => 0,
    };
    link.sync_total_bytes.store(total as i64, Ordering::Relaxed);
    let mut read: u64 = 0;
    loop {
        // Take what arrived.
        let done = match framing {
            Framing::Len(n) => {
                let want = (*n - read).min(conn.inbuf.len() as u64) as usize;
                pending.extend_from_slice(&conn.inbuf.split_to(want));
                read += want as u64;
                read == *n
            }
            Framing::Mark(mark) => {
                let got = conn.inbuf.split();
                read += got.len() as u64;
                pending.extend_from_slice(&got);
                pending.len() >= EOF_MARK_SIZE && pending.ends_with(mark)
            }
        };
        link.sync_read_bytes.store(read as i64, Ordering::Relaxed);
        let now = crate::keyspace::now_ms();
        link.sync_last_io.store(now, Ordering::Relaxed);
        link.last_io.store(now, Ordering::Relaxed);
        super::publish(&f.shard.shared);
        if done {
            if let Framing::Mark(_) = framing {
                pending.truncate(pending.len() - EOF_MARK_SIZE);
            }
            let (file, _, r) = write_out(file, std::mem::take(&mut pending)).await;
            if let Err(e) = r {
                tracing::warn!("Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA synchronization: {e}");
                return false;
            }
            let synced = glommio::executor()
                .spawn_blocking(move || file.sync_all())
                .await;
            if let Err(e) = synced {
                tracing::warn!("Failed trying to sync the temp DB to disk in MASTER <-> REPLICA synchronization: {e}");
                return false;
            }
            return true;
        }
        // Keep the possible start of the mark in memory; write the rest in big pieces.
        if pending.len() >= WRITE_CHUNK + EOF_MARK_SIZE {
            let keep = match framing {
                Framing::Mark(_) => EOF_MARK_SIZE,
                Framing::Len(_) => 0,
            };
            let tail = pending.split_off(pending.len() - keep);
            let (nf, mut buf, r) = write_out(file, std::mem::take(&mut pending)).await;
            file = nf;
            if let Err(e) = r {
                tracing::warn!("Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA synchronization: {e}");
                return false;
            }
            buf.extend_from_slice(&tail);
            pending = buf;
        }
        if must_stop(f, generation, handle) {
            return false;
        }
        // Wake at least once a second to notice a REPLICAOF or CLIENT KILL.
        let mut waited = Duration::ZERO;
        loop {
            match conn.fill(Duration::from_secs(1)).await {
                Ok(_) => break,
                Err(IoError::Timeout) => {
                    waited += Duration::from_secs(1);
                    if must_stop(f, generation, handle) {
                        return false;
                    }
                    if waited >= timeout {
                        tracing::warn!("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.");
                        return false;
                    }
                }
                Err(e) => {
                    tracing::warn!("I/O error trying to sync with MASTER: {e}");
                    return false;
                }
            }
        }
    }
}

/// Makes `tmp` the `dbfilename` and loads it into every shard (keys already expired too: the
/// master's DELs follow). Sends `\n` to the master every second meanwhile.
async fn load(f: &Follower, conn: &mut MasterConn, tmp: &str) -> bool {
    let shared = f.shard.shared.clone();
    let (dbfile, databases) = {
        let c = shared.config();
        (c.dbfilename.clone(), c.databases)
    };
    let (from, to) = (tmp.to_string(), dbfile.clone());
    let renamed = glommio::executor()
        .spawn_blocking(move || std::fs::rename(from, to))
        .await;
    if let Err(e) = renamed {
        tracing::warn!("Failed trying to rename the temp DB into {dbfile} in MASTER <-> REPLICA synchronization: {e}");
        let _ = std::fs::remove_file(tmp);
        return false;
    }
    tracing::info!("MASTER <-> REPLICA sync: Flushing old data");
    tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory");
    let loading = &shared.persistence.loading;
    loading.begin();
    let nshards = f.shard.nshards;
    let sh = shared.clone();
    let path = std::path::PathBuf::from(&dbfile);
    let mut job = Box::pin(glommio::executor().spawn_blocking(move || {
        crate::persistence::snapshot::load_file(
            &path,
            nshards,
            databases,
            Some(&sh.persistence),
            true,
        )
        .map(|l| l.map(|l| l.record(&sh.persistence)))
    }));
    let result = loop {
        let step =
            glommio::timer::timeout(Duration::from_secs(1), async { Ok((&mut job).await) }).await;
        match step {
            Ok(r) => break r,
            Err(_) => {
                // Keepalive: the master refreshes our ACK time on an empty line.
                let _ = conn.write(b"\n").await;
            }
        }
    };
    let dbs = match result {
        Ok(Some(dbs)) => dbs,
        Ok(None) => (0..nshards)
            .map(|_| (0..databases).map(|_| crate::keyspace::Db::new()).collect())
            .collect(),
        Err(e) => {
            tracing::warn!("{e}");
            tracing::warn!(
                "Failed trying to load the MASTER synchronization DB from disk, check server logs."
            );
            loading.finish();
            return false;
        }
    };
    crate::persistence::snapshot::replace_all(&f.shard, dbs).await;
    loading.finish();
    true
}
