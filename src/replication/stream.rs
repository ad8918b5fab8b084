//! The master's replication stream: the one merge of the shard journals (`shard::journal`)
//! also feeds the backlog, through the hub's tap, with its own `StreamEncoder` (its own SELECT
//! state, independent of the AOF's). Whoever drains the journals (the AOF writer while it
//! runs, else this module's thread) feeds the tap, so the AOF and the backlog see the same
//! order.
//!
//! - The hub records effects while a backlog exists (or the AOF is on); `master_repl_offset`
//!   moves only with a backlog (`Repl::append`).
//! - A replica's own effects (applying its master's stream) go to its AOF only: its backlog is
//!   fed verbatim by the link (`Repl::feed_verbatim`).
//! - A full sync marks a cut in every journal (epoch with `CUT_EPOCH_BIT`): at the first
//!   marker the tap records the stream offset (the `+FULLRESYNC` offset) and forces a SELECT.
//! - The thread is also the replication cron: PING into the stream every
//!   `repl-ping-replica-period`, `REPLCONF GETACK *` when WAIT asks, `repl-backlog-ttl`.

use crate::shard::journal::{Item, StreamEncoder, NO_DB};
use crate::shard::repl::CUT_EPOCH_BIT;
use crate::shard::Shared;
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::sync::conf_i64;

/// Installs the tap and starts the stream thread (once, at startup).
pub fn start(shared: &Arc<Shared>) {
    let s = shared.clone();
    let mut enc = StreamEncoder::new();
    shared
        .hub
        .set_tap(Box::new(move |items| tap(&s, &mut enc, items)));
    let s = shared.clone();
    let _ = std::thread::Builder::new()
        .name("repl-stream".into())
        .spawn(move || run(s));
}

fn tap(shared: &Shared, enc: &mut StreamEncoder, items: &[(usize, Item)]) {
    let repl = &shared.repl;
    if repl.take_force_select() {
        enc.reset();
    }
    let own = !repl.is_replica() && repl.has_backlog();
    let mut out = Vec::new();
    for (_, item) in items {
        match item {
            Item::Unit { ops, .. } if own => enc.unit(&mut out, ops),
            Item::Cut { epoch, .. } if epoch & CUT_EPOCH_BIT != 0 => {
                repl.append(&out);
                out.clear();
                if repl.record_cut(*epoch, repl.offset()) {
                    // The replica loads the snapshot with no db selected.
                    enc.reset();
                }
            }
            _ => {}
        }
    }
    repl.append(&out);
    if let Some((_, last)) = items.last() {
        repl.mark_seq(last.seq() + 1);
    }
}

/// Makes sure the stream is on before a replica is served: the backlog exists (its first
/// byte is the next offset) and the shards record effects from now on.
pub fn ensure_backlog(shared: &Shared) {
    let size = conf_i64(shared, "repl-backlog-size", 1 << 20).max(1) as usize;
    shared.repl.create_backlog(size);
    shared.hub.set_repl_active(true);
}

/// Puts one command into the stream as its own unit (PING, REPLCONF GETACK), without SELECT.
fn push_command(shared: &Shared, argv: &[&[u8]]) {
    let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    shared.hub.push(0, vec![(NO_DB, argv)]);
}

fn run(shared: Arc<Shared>) {
    let hub = &shared.hub;
    let repl = &shared.repl;
    let mut last_ping = Instant::now();
    let mut no_replicas_since = Instant::now();
    loop {
        if shared
            .shutting_down
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        let want = repl.has_backlog();
        if hub.repl_active() != want {
            hub.set_repl_active(want);
        }
        if hub.aof_draining() || !want {
            std::thread::sleep(Duration::from_millis(20));
        } else {
            hub.wait_for_work(Duration::from_millis(100));
            hub.take_ready();
        }
        let master = !repl.is_replica();
        let replicas = repl.replica_count();
        if replicas > 0 {
            no_replicas_since = Instant::now();
        }
        if !master || !want {
            continue;
        }
        if repl
            .getack_wanted
            .swap(false, std::sync::atomic::Ordering::SeqCst)
            && replicas > 0
        {
            push_command(&shared, &[b"REPLCONF", b"GETACK", b"*"]);
        }
        let period = conf_i64(&shared, "repl-ping-replica-period", 10).max(1) as u64;
        if last_ping.elapsed() >= Duration::from_secs(period) {
            last_ping = Instant::now();
            if replicas > 0 {
                push_command(&shared, &[b"PING"]);
            }
        }
        let ttl = conf_i64(&shared, "repl-backlog-ttl", 3600);
        if replicas == 0
            && ttl > 0
            && no_replicas_since.elapsed() >= Duration::from_secs(ttl as u64)
        {
            // Redis also changes the replid then: the freed history cannot be continued.
            tracing::info!(
                "Replication backlog freed after {ttl} seconds without connected replicas."
            );
            repl.free_backlog();
            repl.new_history();
            hub.set_repl_active(false);
        }
    }
}
