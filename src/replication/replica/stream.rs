//! The command stream from the master: parsed as a client's input, executed in order by the
//! master client ([`StreamClient`](crate::commands::apply::StreamClient), `Origin::Master`:
//! the same executor as client commands, so a MULTI/EXEC of the stream is atomic across
//! shards), with Redis's offsets: `read_reploff` counts every byte read, `reploff` the bytes of
//! the commands applied outside a MULTI. `REPLCONF GETACK` is answered at once with the offset
//! before it; an ACK goes every second.

use super::io::{IoError, MasterConn};
use super::{ack_frame, must_stop, repl_timeout, Follower};
use crate::net::client::ClientHandle;
use crate::resp::parser::{ParseLimits, RequestParser};
use crate::shard::link::LinkState;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const ACK_PERIOD: Duration = Duration::from_secs(1);

/// Offsets of the stream as it is parsed.
struct Offsets {
    /// Offset of the last byte parsed (queued or handled).
    parsed: i64,
    /// Offset of the last byte of the last command that ended outside a MULTI.
    applied: i64,
    /// Whether the parsed commands leave a MULTI open.
    in_multi: bool,
    /// Bytes parsed and not yet fed to the own backlog, from offset `fed + 1` on.
    unfed: Vec<u8>,
    fed: i64,
}

/// Applies the stream until the link breaks or must stop; then caches the master.
pub async fn run(f: &mut Follower, conn: &mut MasterConn, generation: u64, handle: &ClientHandle) {
    let shared = f.shard.shared.clone();
    let link = &shared.link;
    let start = link.reploff.load(Ordering::Acquire);
    link.read_reploff
        .store(start + conn.inbuf.len() as i64, Ordering::Release);
    super::set_state(&shared, LinkState::Connected);
    link.last_io
        .store(crate::keyspace::now_ms(), Ordering::Relaxed);
    let timeout = repl_timeout(&f.shard);
    let limits = ParseLimits {
        proto_max_bulk_len: u64::MAX,
        authenticated: true,
    };
    let mut parser = RequestParser::default();
    let mut off = Offsets {
        parsed: start,
        applied: start,
        in_multi: f.client.in_multi(),
        unfed: Vec::new(),
        fed: start,
    };
    let mut last_ack = Instant::now();
    let mut last_data = Instant::now();
    let reason = loop {
        // Checked before applying: nothing read after a REPLICAOF may still run.
        if must_stop(f, generation, handle) {
            break "stop";
        }
        if let Err(why) = apply(f, conn, &mut parser, &limits, &mut off).await {
            break why;
        }
        if last_ack.elapsed() >= ACK_PERIOD {
            last_ack = Instant::now();
            let ack = ack_frame(link.reploff.load(Ordering::Acquire));
            if conn.write(&ack).await.is_err() {
                break "lost";
            }
        }
        let wait = ACK_PERIOD
            .saturating_sub(last_ack.elapsed())
            .max(Duration::from_millis(1));
        match conn.fill(wait).await {
            Ok(n) => {
                last_data = Instant::now();
                link.read_reploff.fetch_add(n as i64, Ordering::AcqRel);
                link.last_io
                    .store(crate::keyspace::now_ms(), Ordering::Relaxed);
                super::publish(&shared);
            }
            Err(IoError::Timeout) => {
                if last_data.elapsed() > timeout {
                    tracing::warn!("MASTER timeout: no data nor PING received...");
                    break "timeout";
                }
            }
            Err(_) => break "lost",
        }
    };
    if reason == "lost" {
        tracing::info!("Connection with master lost.");
    }
    // Caching the master: what was read past the last applied command is dropped; the next
    // PSYNC asks for the byte after it.
    tracing::info!("Caching the disconnected master state.");
    let applied = link.reploff.load(Ordering::Acquire);
    link.read_reploff.store(applied, Ordering::Release);
    super::publish(&shared);
    if let Some(c) = f.cached.as_mut() {
        c.offset = applied;
    }
    conn.inbuf.clear();
}

/// Parses every complete command in `conn.inbuf` and applies them in order.
async fn apply(
    f: &mut Follower,
    conn: &mut MasterConn,
    parser: &mut RequestParser,
    limits: &ParseLimits,
    off: &mut Offsets,
) -> Result<(), &'static str> {
    let mut queue: VecDeque<Vec<Bytes>> = VecDeque::new();
    let mut argv = Vec::new();
    // What the parser consumes, verbatim, for the own backlog.
    let raw = conn.inbuf.clone();
    let mut pos = 0usize;
    loop {
        let before = conn.inbuf.len();
        match parser.parse(&mut conn.inbuf, limits, &mut argv) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                tracing::warn!(
                    "Protocol error ({}) from client: id=master. Closing the link.",
                    String::from_utf8_lossy(&e.reply())
                        .trim_start_matches('-')
                        .trim_end()
                );
                return Err("protocol");
            }
        }
        let used = (before - conn.inbuf.len()) as i64;
        off.unfed.extend_from_slice(&raw[pos..pos + used as usize]);
        pos += used as usize;
        let args = std::mem::take(&mut argv);
        let name = &args[0];
        if name.eq_ignore_ascii_case(b"replconf") {
            // Everything before it is applied first: the ACK it asks for covers it.
            execute(f, &mut queue, off).await;
            off.parsed += used;
            if args.len() >= 2 && args[1].eq_ignore_ascii_case(b"getack") {
                let ack = ack_frame(off.applied);
                if conn.write(&ack).await.is_err() {
                    return Err("lost");
                }
            }
            if !off.in_multi {
                off.applied = off.parsed;
                feed(f, off);
            }
            continue;
        }
        if name.eq_ignore_ascii_case(b"multi") {
            off.in_multi = true;
        } else if name.eq_ignore_ascii_case(b"exec") || name.eq_ignore_ascii_case(b"discard") {
            off.in_multi = false;
        }
        queue.push_back(args);
        off.parsed += used;
        if !off.in_multi {
            off.applied = off.parsed;
        }
    }
    execute(f, &mut queue, off).await;
    Ok(())
}

/// Executes the queued commands and publishes the applied offset. The batch runs inside
/// `link.applying`, so a snapshot cut meanwhile knows its data matches no single offset; a
/// shutdown's `link.hold` keeps new batches from starting.
async fn execute(f: &mut Follower, queue: &mut VecDeque<Vec<Bytes>>, off: &mut Offsets) {
    if !queue.is_empty() {
        let link = &f.shard.shared.link;
        loop {
            link.applying.store(true, Ordering::SeqCst);
            if !link.hold.load(Ordering::SeqCst) {
                break;
            }
            link.applying.store(false, Ordering::SeqCst);
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
        f.client.run(queue).await;
        feed(f, off);
        link.applying.store(false, Ordering::SeqCst);
        return;
    }
    feed(f, off);
}

/// Publishes the applied offset and feeds the applied bytes verbatim into the own backlog
/// (sub-replicas and a later promotion see the master's offsets).
fn feed(f: &Follower, off: &mut Offsets) {
    let shared = &f.shard.shared;
    let n = (off.applied - off.fed).max(0) as usize;
    if n > 0 {
        let n = n.min(off.unfed.len());
        shared.repl.feed_verbatim(&off.unfed[..n]);
        off.unfed.drain(..n);
        off.fed = off.applied;
    }
    shared.link.stream_db.store(f.client.db(), Ordering::SeqCst);
    shared.link.reploff.store(off.applied, Ordering::SeqCst);
    super::publish(shared);
}
