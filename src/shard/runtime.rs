//! Starting the shard executors: one pinned glommio executor per shard, the channel mesh
//! between every pair, a ready handshake (glommio reports setup failures such as a too-low
//! memlock limit only at join, so each executor says "ready" from inside), then the accept loops
//! and the per-shard cron.

use super::mesh::{receive_loop, Msg};
use super::{set_current, Shard, Shared};
use crate::net::listener::{accept_loop, ListenerFd};
use crate::net::Engine;
use glommio::channels::shared_channel::{self, SharedReceiver, SharedSender};
use glommio::{LocalExecutorBuilder, Placement};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// How listening sockets reach the shards: TCP fds are dup'ed for every shard; the unix socket
/// is served by shard 0.
pub struct Listeners {
    pub tcp: Vec<RawFd>,
    pub unix: Option<(String, u32)>,
}

pub struct Running {
    pub handles: Vec<glommio::ExecutorJoinHandle<()>>,
}

/// Starts `shared.nshards` executors serving `listeners` with the engine made by `engine`.
pub fn start<E, F>(shared: Arc<Shared>, listeners: Listeners, engine: F) -> Result<Running, String>
where
    E: Engine,
    F: Fn() -> E + Send + Clone + 'static,
{
    let n = shared.nshards;
    super::clock::calibrate();
    let cpus = std::thread::available_parallelism()
        .map(|c| c.get())
        .unwrap_or(1);
    // senders[i][j]: i -> j ; receivers[j][i]: what j receives from i.
    let mut senders: Vec<Vec<(usize, SharedSender<Msg>)>> = (0..n).map(|_| Vec::new()).collect();
    let mut receivers: Vec<Vec<(usize, SharedReceiver<Msg>)>> =
        (0..n).map(|_| Vec::new()).collect();
    #[allow(clippy::needless_range_loop)]
    for i in 0..n {
        for j in 0..n {
            if i != j {
                let (tx, rx) = shared_channel::new_bounded(4096);
                senders[i].push((j, tx));
                receivers[j].push((i, rx));
            }
        }
    }
    let (ready_tx, ready_rx) = crossbeam_channel::unbounded::<Result<usize, String>>();
    let mut handles = Vec::new();
    let mesh_up = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for (i, (my_senders, my_receivers)) in senders.into_iter().zip(receivers).enumerate() {
        let mesh_up = mesh_up.clone();
        let shared = shared.clone();
        let ready = ready_tx.clone();
        let engine = engine.clone();
        let fds: Vec<RawFd> = listeners
            .tcp
            .iter()
            // SAFETY: dup of a listening socket we own; the copy goes to exactly one executor.
            .map(|&fd| unsafe { libc::dup(fd) })
            .collect();
        let unix = if i == 0 { listeners.unix.clone() } else { None };
        let placement = if n <= cpus {
            Placement::Fixed(i)
        } else {
            Placement::Unbound
        };
        let builder = LocalExecutorBuilder::new(placement)
            .name(&format!("shard{i}"))
            // Every executor registers this much in each of its 3 rings; the default (10 MiB)
            // overflows the usual 8 MiB memlock limit (glommio-notes.md §1).
            .io_memory(512 << 10);
        let spawned = builder.spawn(move || async move {
            let shard = Rc::new(Shard::new(i, shared));
            set_current(shard.clone());
            let receiving = Rc::new(std::cell::Cell::new(0usize));
            for (peer, rx) in my_receivers {
                let shard = shard.clone();
                let receiving = receiving.clone();
                glommio::spawn_local(async move {
                    let rx = rx.connect().await;
                    receiving.set(receiving.get() + 1);
                    receive_loop(shard, peer, rx).await;
                })
                .detach();
            }
            for (peer, tx) in my_senders {
                let tx = tx.connect().await;
                shard.mesh.set_sender(peer, tx);
            }
            // Accept nobody until every shard's mesh is fully connected: a hop sent to a shard
            // whose receiver was not connected yet could be missed, and the client that asked
            // (typically the first one, connected while we started) would hang.
            mesh_barrier(&receiving, n - 1, &mesh_up, n).await;
            let engine = Rc::new(engine());
            // Shard 0 binds the unix socket (at the first poll of its accept loop) before any
            // shard accepts TCP, so a client that got a TCP answer finds the socket file.
            if let Some((path, perm)) = unix {
                glommio::spawn_local(accept_loop(
                    engine.clone(),
                    shard.clone(),
                    ListenerFd::Unix(path, perm),
                ))
                .detach();
                futures_lite::future::yield_now().await;
            }
            if i == 0 {
                mesh_up.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            }
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while mesh_up.load(std::sync::atomic::Ordering::Acquire) <= n
                && std::time::Instant::now() < deadline
            {
                glommio::timer::sleep(Duration::from_micros(100)).await;
            }
            for fd in fds {
                glommio::spawn_local(accept_loop(
                    engine.clone(),
                    shard.clone(),
                    ListenerFd::Tcp(fd),
                ))
                .detach();
            }
            if i == 0 {
                let sh = shard.clone();
                glommio::spawn_local(crate::persistence::snapshot::on_shutdown(sh)).detach();
            }
            let _ = ready.send(Ok(i));
            cron(shard).await;
        });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => return Err(crate::server::explain_executor_error(&e)),
        }
    }
    drop(ready_tx);
    let mut up = 0;
    while up < n {
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(_)) => up += 1,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                // An executor died before saying ready: its error is in its join handle.
                for h in handles {
                    if let Err(e) = h.join() {
                        return Err(crate::server::explain_executor_error(&e));
                    }
                }
                return Err("a shard executor failed to start".into());
            }
        }
    }
    Ok(Running { handles })
}

/// Waits until this shard's `peers` receivers are connected, then until all `n` shards got
/// there. Bounded: a shard that never gets there fails startup through the ready handshake.
async fn mesh_barrier(
    receiving: &std::cell::Cell<usize>,
    peers: usize,
    up: &std::sync::atomic::AtomicUsize,
    n: usize,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while receiving.get() < peers && std::time::Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_micros(100)).await;
    }
    up.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    while up.load(std::sync::atomic::Ordering::Acquire) < n && std::time::Instant::now() < deadline
    {
        glommio::timer::sleep(Duration::from_micros(100)).await;
    }
}

/// The per-shard cron (Redis's serverCron part that is per keyspace): active expiry, time
/// bounded, `hz` times a second.
async fn cron(shard: Rc<Shard>) {
    let mut last_sample = 0;
    loop {
        let hz = shard.shared.config().hz.clamp(1, 500);
        glommio::timer::sleep(Duration::from_millis(1000 / hz as u64)).await;
        crate::keyspace::update_lru_clock();
        active_expire_cycle(&shard);
        let now = crate::keyspace::now_ms();
        if now - last_sample >= 100 {
            last_sample = now;
            if shard.id == 0 {
                crate::persistence::snapshot::cron(&shard);
            }
            let mut data = shard.data.borrow_mut();
            let s = &mut data.stats;
            s.inst_ops.sample(now, s.total_commands);
            s.inst_input.sample(now, s.net_input_bytes);
            s.inst_output.sample(now, s.net_output_bytes);
        }
    }
}

/// Like Redis's activeExpireCycle: sample keys with a TTL in each db, repeat while more than a
/// quarter of the sample was expired, within a time budget of 25% of the cron period.
fn active_expire_cycle(shard: &Shard) {
    if !shard
        .shared
        .active_expire
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return;
    }
    let start = std::time::Instant::now();
    let hz = shard.shared.config().hz.clamp(1, 500) as u64;
    let budget = Duration::from_micros(250_000 / hz);
    let now = crate::keyspace::now_ms();
    let mut data = shard.data.borrow_mut();
    let data = &mut *data;
    for db in data.dbs.iter_mut() {
        loop {
            let (sampled, expired) = db.active_expire(now, 20, &mut data.rng);
            if sampled == 0 || expired * 4 < sampled || start.elapsed() > budget {
                break;
            }
        }
        data.stats.expired_keys += std::mem::take(&mut db.expired_count);
    }
}
