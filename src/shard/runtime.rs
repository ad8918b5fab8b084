//! Starting the shard executors: one pinned glommio executor per shard, the channel mesh
//! between every pair, a ready handshake (glommio reports setup failures such as a too-low
//! memlock limit only at join, so each executor says "ready" from inside), then the accept loops
//! and the per-shard cron.

use super::mesh::{receive_loop, Msg};
use super::watchdog::{self, Doorbell};
use super::{set_current, Shard, Shared};
use crate::net::listener::{accept_loop, serve_tcp, ListenerFd};
use crate::net::Engine;
use glommio::channels::shared_channel::{self, SharedReceiver, SharedSender};
use glommio::{LocalExecutorBuilder, Placement};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// How listening sockets reach the shards: the TCP fds go to `Shared::listeners`, where every
/// shard takes dups of them; the unix socket is served by shard 0.
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
    crate::replication::replica::configure_at_startup(&shared);
    {
        let (bind, port) = {
            let c = shared.config();
            (c.bind.clone(), c.port)
        };
        shared.listeners.replace(listeners.tcp, &bind, port);
    }
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
    // Startup gate: each shard counts itself once its senders are all connected, and shard 0
    // once more when the unix socket is bound. No shard accepts TCP clients before the count is
    // complete: a job's result sent back before the sender to its origin is set would be lost
    // (its client would wait forever), and a client that got a TCP answer expects the unix
    // socket to exist.
    let meshed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let gate = n + usize::from(listeners.unix.is_some());
    let mut handles = Vec::new();
    let bells: Vec<Arc<Doorbell>> = (0..n).map(|_| Arc::default()).collect();
    for (i, (my_senders, my_receivers)) in senders.into_iter().zip(receivers).enumerate() {
        let bell = bells[i].clone();
        let shared = shared.clone();
        let ready = ready_tx.clone();
        let meshed = meshed.clone();
        let engine = engine.clone();
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
            .io_memory(512 << 10)
            .preempt_timer(watchdog::PREEMPT_TIMER);
        let spawned = builder.spawn(move || async move {
            let shard = Rc::new(Shard::new(i, shared));
            set_current(shard.clone());
            glommio::spawn_local(crate::persistence::loading::install_when_loaded(
                shard.clone(),
            ))
            .detach();
            glommio::spawn_local(watchdog::answer(bell)).detach();
            for (peer, rx) in my_receivers {
                let shard = shard.clone();
                glommio::spawn_local(async move {
                    let rx = rx.connect().await;
                    receive_loop(shard, peer, rx).await;
                })
                .detach();
            }
            for (peer, tx) in my_senders {
                let tx = tx.connect().await;
                shard.mesh.set_sender(peer, tx);
            }
            let wait_for = |count: usize| {
                let meshed = meshed.clone();
                async move {
                    while meshed.load(std::sync::atomic::Ordering::Acquire) < count {
                        glommio::timer::sleep(Duration::from_millis(1)).await;
                    }
                }
            };
            meshed.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            wait_for(n).await;
            let engine = Rc::new(engine());
            if let Some((path, perm)) = unix {
                glommio::spawn_local(accept_loop(
                    engine.clone(),
                    shard.clone(),
                    ListenerFd::Unix(path.clone(), perm),
                ))
                .detach();
                // The accept loop binds on its first run; give up waiting after a second (a
                // failed bind is logged there).
                for _ in 0..1000 {
                    glommio::timer::sleep(Duration::from_millis(1)).await;
                    if std::path::Path::new(&path).exists() {
                        break;
                    }
                }
                meshed.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            }
            wait_for(gate).await;
            glommio::spawn_local(serve_tcp(engine.clone(), shard.clone())).detach();
            if i == 0 {
                let sh = shard.clone();
                glommio::spawn_local(crate::persistence::snapshot::on_shutdown(sh)).detach();
                glommio::spawn_local(crate::replication::replica::link_task(shard.clone()))
                    .detach();
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
    watchdog::start(bells);
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

/// The per-shard cron (Redis's serverCron part that is per keyspace): active expiry, time
/// bounded, `hz` times a second.
async fn cron(shard: Rc<Shard>) {
    let mut last_sample = 0;
    loop {
        let hz = shard.shared.config().hz.clamp(1, 500);
        glommio::timer::sleep(Duration::from_millis(1000 / hz as u64)).await;
        crate::keyspace::update_lru_clock();
        if shard
            .shared
            .pause_cron
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            continue;
        }
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
        if shard.id == 0 {
            crate::persistence::aof::cron(&shard);
        }
        // Expired keys, and events left by fan-out work that ran here, are published now.
        if let Some(events) = crate::keyspace::notify::take() {
            crate::net::pubsub::publish_events(&shard, events).await;
        }
    }
}

/// Like Redis's activeExpireCycle: sample keys with a TTL in each db, repeat while more than a
/// quarter of the sample was expired, within a time budget of 25% of the cron period.
fn active_expire_cycle(shard: &Shard) {
    // A replica never expires keys on its own: its master's DELs come in the stream.
    if !shard
        .shared
        .active_expire
        .load(std::sync::atomic::Ordering::Relaxed)
        || shard
            .shared
            .link
            .gate
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
    let propagate = shard.shared.hub.active();
    if propagate != data.effects.on {
        data.effects.set_on(propagate, &mut data.dbs);
    }
    for db in data.dbs.iter_mut() {
        loop {
            let (sampled, expired) = db.active_expire(now, 20, &mut data.rng);
            if sampled == 0 || expired * 4 < sampled || start.elapsed() > budget {
                break;
            }
        }
        data.stats.expired_keys += std::mem::take(&mut db.expired_count);
    }
    data.effects
        .flush_expired(&shard.shared.hub, shard.id, &mut data.dbs);
}
