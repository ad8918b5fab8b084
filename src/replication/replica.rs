//! The replica side of replication (Redis's replication.c, replica half): the REPLICAOF /
//! SLAVEOF command, the link task that connects to the master, does the handshake and PSYNC
//! ([`handshake`]), receives and loads a full-sync payload ([`sync`]) and applies the stream
//! ([`stream`]) through the same executor as client commands.
//!
//! The link task runs on shard 0's executor for the whole life of the process and follows
//! `shared.link` (REPLICAOF changes it from any shard; the task notices through the link's
//! generation counter within a few milliseconds).

mod handshake;
mod io;
mod stream;
mod sync;

use crate::commands::apply::{Origin, StreamClient};
use crate::net::client::ClientHandle;
use crate::net::Conn;
use crate::shard::link::LinkState;
use crate::shard::repl::Role;
use crate::shard::{Shard, Shared};
use bytes::Bytes;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// What survives a broken link (Redis's cached master): the replication id and offset to
/// PSYNC with, and the master client itself (its selected db, an open MULTI is dropped).
pub struct Cached {
    pub replid: String,
    /// The offset of the last byte applied.
    pub offset: i64,
}

/// The state the link task keeps across connections.
pub struct Follower {
    pub shard: Rc<Shard>,
    /// `None`: no cached master, the next PSYNC asks for a full sync (`PSYNC ? -1`).
    pub cached: Option<Cached>,
    /// The master client: runs the stream (its db persists across a reconnect).
    pub client: StreamClient,
}

fn eq_ic(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// REPLICAOF / SLAVEOF `host port` | `NO ONE`.
pub fn replicaof_command(conn: &mut Conn, argv: &[Bytes]) {
    let shared = conn.shard.shared.clone();
    if shared.config().get_one("cluster-enabled").as_deref() == Some("yes") {
        return conn.error("ERR REPLICAOF not allowed in cluster mode.");
    }
    if conn.origin == Some(Origin::Master) {
        return conn.error("ERR Command is not valid when client is a replica.");
    }
    let who = conn.handle.list_line(std::time::Instant::now());
    if eq_ic(&argv[1], "no") && eq_ic(&argv[2], "one") {
        if shared.link.is_replica() {
            shared.link.set_master(None);
            shared.repl.set_role(Role::Master);
            // Former siblings and the old master may PSYNC on the old history (replid2).
            shared.repl.shift_replid();
            {
                let ids = shared.repl.ids();
                tracing::info!(
                    "Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}",
                    ids.replid2,
                    ids.second_replid_offset,
                    ids.replid
                );
            }
            shared.link.down_since.store(0, Ordering::Relaxed);
            publish(&shared);
            shared.config_mut().set_replicaof(None);
            shared.bump_config_epoch();
            crate::server::log::set_role('M');
            tracing::info!("MASTER MODE enabled (user request from '{who}')");
        }
        return conn.out.ok();
    }
    let port = match crate::resp::parser::string2ll(&argv[2]) {
        Some(p) => p,
        None => return conn.error(crate::commands::errors::NOT_INTEGER),
    };
    if !(0..=65535).contains(&port) {
        return conn.error("ERR Invalid master port");
    }
    let host = String::from_utf8_lossy(&argv[1]).into_owned();
    if let Some((h, p)) = shared.link.master() {
        if h.eq_ignore_ascii_case(&host) && p as i64 == port {
            tracing::info!("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
            return conn.out.simple("OK Already connected to specified master");
        }
    }
    set_master(&conn.shard.shared, host.clone(), port as u16);
    // Blocked clients would wait for writes a replica never takes from them.
    let shard = conn.shard.clone();
    glommio::spawn_local(async move {
        crate::commands::blocking::disconnect_all_blocked(&shard).await;
    })
    .detach();
    shared
        .config_mut()
        .set_replicaof(Some((host.clone(), port as u16)));
    shared.bump_config_epoch();
    tracing::info!("REPLICAOF {host}:{port} enabled (user request from '{who}')");
    conn.out.ok();
}

/// Makes this server a replica of `host:port` (REPLICAOF, or `replicaof` at startup).
fn set_master(shared: &Shared, host: String, port: u16) {
    let link = &shared.link;
    link.drop_link.store(true, Ordering::Release);
    link.set_master(Some((host.clone(), port)));
    shared.repl.set_role(Role::Replica { host, port });
    set_state(shared, LinkState::Connect);
    crate::server::log::set_role('S');
}

/// `replicaof` in the config file or on argv, and `replica-read-only`: applied before any
/// executor accepts a client, so the first command already meets the replica's gates
/// (READONLY, MASTERDOWN, hidden expired keys).
pub fn configure_at_startup(shared: &Shared) {
    if shared.config().sentinel_mode {
        return;
    }
    crate::keyspace::expiry::set_writable(!shared.config().replica_read_only);
    let configured = shared.config().replicaof.clone();
    if let Some((h, p)) = configured {
        set_master(shared, h, p);
    }
}

/// The link task: follows `shared.link` forever (shard 0 runs it).
pub async fn link_task(shard: Rc<Shard>) {
    let shared = shard.shared.clone();
    if shared.config().sentinel_mode {
        return;
    }
    // A replica from the start (configure_at_startup) has no history of its own to offer its
    // master.
    let mut was_replica = shared.config().replicaof.is_some();
    // Wait for the startup load: the cached master of a restart comes from it.
    while shared.persistence.loading.active() {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    let client = StreamClient::new(shard.clone(), Origin::Master);
    let mut f = Follower {
        shard: shard.clone(),
        cached: None,
        client,
    };
    let restored = shared
        .link
        .restored
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    if let (true, Some((db, replid, offset))) = (was_replica, restored) {
        // A restarted replica (loadDataFromDisk): the RDB's replication point is the cached
        // master, so the first PSYNC can continue where the saved data ends.
        shared.repl.adopt(&replid, offset);
        shared.link.reploff.store(offset, Ordering::Release);
        shared.link.read_reploff.store(offset, Ordering::Release);
        shared.link.stream_db.store(db, Ordering::SeqCst);
        shared.link.has_master_client.store(true, Ordering::Release);
        if db < shared.config().databases {
            f.client.set_db(db);
        }
        f.cached = Some(Cached { replid, offset });
    }
    loop {
        let generation = shared.link.generation.load(Ordering::Acquire);
        let Some((host, port)) = shared.link.master() else {
            if was_replica {
                // REPLICAOF NO ONE: the master client and its cache are gone.
                f.cached = None;
                f.client.discard_multi();
                shared
                    .link
                    .has_master_client
                    .store(false, Ordering::Release);
                shared.link.down_since.store(0, Ordering::Relaxed);
                publish(&shared);
                was_replica = false;
            }
            glommio::timer::sleep(Duration::from_millis(5)).await;
            continue;
        };
        if !was_replica {
            // A master turned replica: its own history is the cached master, so it can
            // continue with a partial transfer from a promoted replica of its.
            tracing::info!("Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.");
            let (replid, offset) = (shared.repl.replid(), shared.repl.offset());
            f.cached = Some(Cached { replid, offset });
            shared.link.reploff.store(offset, Ordering::Release);
            shared.link.read_reploff.store(offset, Ordering::Release);
            shared.link.has_master_client.store(true, Ordering::Release);
        }
        was_replica = true;
        shared.link.drop_link.store(false, Ordering::Release);
        let started = std::time::Instant::now();
        follow(&mut f, &host, port).await;
        f.client.discard_multi();
        if shared.link.state() == LinkState::Connected {
            shared
                .link
                .down_since
                .store(crate::keyspace::now_ms(), Ordering::Relaxed);
        }
        set_state(&shared, LinkState::Connect);
        // Retry once a second (Redis's replicationCron), at once after a REPLICAOF.
        while started.elapsed() < Duration::from_secs(1)
            && shared.link.generation.load(Ordering::Acquire) == generation
        {
            glommio::timer::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Whether the link must stop: REPLICAOF moved, or CLIENT KILL hit the master client.
pub(crate) fn must_stop(f: &Follower, generation: u64, handle: &ClientHandle) -> bool {
    let link = &f.shard.shared.link;
    handle.killed.get()
        || link.drop_link.load(Ordering::Acquire)
        || link.generation.load(Ordering::Acquire) != generation
}

/// One connection to the master, from connect to the link breaking.
async fn follow(f: &mut Follower, host: &str, port: u16) {
    let shared = f.shard.shared.clone();
    let generation = shared.link.generation.load(Ordering::Acquire);
    let timeout = repl_timeout(&f.shard);
    set_state(&shared, LinkState::Connecting);
    tracing::info!("Connecting to MASTER {host}:{port}");
    let mut conn = match io::MasterConn::connect(host, port, timeout).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("Error condition on socket for SYNC: {e}");
            return;
        }
    };
    tracing::info!("MASTER <-> REPLICA sync started");
    // The master client, as CLIENT LIST shows it and CLIENT KILL TYPE master finds it.
    let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
    let handle = Rc::new(ClientHandle::new(
        id,
        format!("{host}:{port}"),
        conn.local_port()
            .map(|p| format!("127.0.0.1:{p}"))
            .unwrap_or_default(),
        conn.fd(),
        false,
    ));
    handle.info.borrow_mut().flags = "M".into();
    f.shard.clients.borrow_mut().insert(id, handle.clone());
    let ready = match handshake::run(f, &mut conn, generation, &handle).await {
        Some(handshake::Psync::Full { replid, offset }) => {
            sync::run(f, &mut conn, generation, &handle, replid, offset).await
        }
        Some(handshake::Psync::Continue) => true,
        None => false,
    };
    if ready {
        stream::run(f, &mut conn, generation, &handle).await;
    }
    f.shard.clients.borrow_mut().remove(&id);
    conn.close().await;
}

pub(crate) fn repl_timeout(shard: &Shard) -> Duration {
    let secs = shard
        .shared
        .config()
        .get_one("repl-timeout")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(60);
    Duration::from_secs(secs.max(1))
}

/// Copies the link state into `shared.repl`, where INFO replication and ROLE read it.
pub(crate) fn publish(shared: &Shared) {
    let l = &shared.link;
    shared.repl.update_link(|i| {
        i.state = l.state();
        i.has_master = l.has_master_client.load(Ordering::Acquire);
        i.last_io = l.last_io.load(Ordering::Relaxed);
        i.sync_total_bytes = l.sync_total_bytes.load(Ordering::Relaxed);
        i.sync_read_bytes = l.sync_read_bytes.load(Ordering::Relaxed);
        i.sync_last_io = l.sync_last_io.load(Ordering::Relaxed);
        i.down_since = l.down_since.load(Ordering::Relaxed);
        i.read_reploff = l.read_reploff.load(Ordering::Acquire);
        i.reploff = l.reploff.load(Ordering::Acquire);
    });
}

/// Sets the link state and publishes it.
pub(crate) fn set_state(shared: &Shared, s: LinkState) {
    shared.link.set_state(s);
    publish(shared);
}

/// `REPLCONF ACK <offset>` as bytes.
pub(crate) fn ack_frame(offset: i64) -> Vec<u8> {
    let mut out = Vec::new();
    crate::net::outbound::encode(&["REPLCONF", "ACK", &offset.to_string()], &mut out);
    out
}
