//! Accept loops. The listening sockets are bound once in `main` (exclusive, no SO_REUSEPORT, so a
//! second server on the same port fails to start instead of silently sharing it) and every shard
//! accepts on a dup of the same fd: the kernel spreads connections over the shards.

use super::client::ClientHandle;
use super::conn::serve;
use super::Engine;
use crate::shard::Shard;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::Ordering;

pub enum ListenerFd {
    Tcp(RawFd),
    /// glommio's unix listener cannot adopt an fd, so the unix socket is bound by one shard.
    Unix(String, u32),
}

fn set_keepalive(fd: RawFd, interval: u64) {
    if interval == 0 {
        return;
    }
    let on: libc::c_int = 1;
    let idle = interval as libc::c_int;
    let intvl = ((interval / 3).max(1)) as libc::c_int;
    let cnt: libc::c_int = 3;
    let sz = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: fd is a connected socket we own; the option values are live c_ints.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            &on as *const _ as *const _,
            sz,
        );
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_KEEPIDLE,
            &idle as *const _ as *const _,
            sz,
        );
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_KEEPINTVL,
            &intvl as *const _ as *const _,
            sz,
        );
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_KEEPCNT,
            &cnt as *const _ as *const _,
            sz,
        );
    }
}

fn is_loopback(addr: &std::net::SocketAddr) -> bool {
    match addr.ip() {
        std::net::IpAddr::V4(ip) => ip.is_loopback(),
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Admission checks shared by TCP and unix connections. Returns the rejection bytes to send
/// before closing, if any.
fn admit(shard: &Shard, local_peer: bool) -> Option<&'static [u8]> {
    let shared = &shard.shared;
    let (maxclients, protected, has_pass) = {
        let c = shared.config();
        (c.maxclients, c.protected_mode, c.requirepass.is_some())
    };
    if protected && !has_pass && !local_peer {
        shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
        return Some(super::PROTECTED_MODE_DENIED.as_bytes());
    }
    if shared.connected_clients.load(Ordering::Relaxed) >= maxclients {
        shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
        return Some(b"-ERR max number of clients reached\r\n");
    }
    None
}

pub async fn accept_loop<E: Engine>(engine: Rc<E>, shard: Rc<Shard>, lfd: ListenerFd) {
    use futures_lite::AsyncWriteExt;
    use std::os::fd::{AsRawFd, FromRawFd};
    match lfd {
        ListenerFd::Tcp(fd) => {
            // SAFETY: fd is a dup of the bound, non-blocking listening socket made for this
            // executor alone; glommio's listener takes ownership of it.
            let listener = unsafe { glommio::net::TcpListener::from_raw_fd(fd) };
            loop {
                let stream = match listener.accept().await {
                    Ok(s) => s,
                    Err(e) => {
                        if shard.shared.shutting_down.load(Ordering::Relaxed) {
                            return;
                        }
                        tracing::warn!("Accepting client connection: {e}");
                        glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let peer = stream.peer_addr().ok();
                let local = stream.local_addr().ok();
                let local_peer = peer.as_ref().is_some_and(is_loopback);
                let mut stream = stream;
                if let Some(reject) = admit(&shard, local_peer) {
                    let _ = stream.write_all(reject).await;
                    let _ = stream.close().await;
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let fd = stream.as_raw_fd();
                set_keepalive(fd, shard.shared.config().tcp_keepalive);
                let addr = peer.map(|a| a.to_string()).unwrap_or_default();
                let laddr = local.map(|a| a.to_string()).unwrap_or_default();
                start_conn(&engine, &shard, addr, laddr, fd, false, stream);
            }
        }
        ListenerFd::Unix(path, perm) => {
            let _ = std::fs::remove_file(&path);
            let listener = match glommio::net::UnixListener::bind(&path) {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!("Failed opening Unix socket: {e}");
                    return;
                }
            };
            if perm != 0 {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(perm));
            }
            loop {
                let stream = match listener.accept().await {
                    Ok(s) => s,
                    Err(e) => {
                        if shard.shared.shutting_down.load(Ordering::Relaxed) {
                            return;
                        }
                        tracing::warn!("Accepting client connection: {e}");
                        glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let mut stream = stream;
                if let Some(reject) = admit(&shard, true) {
                    let _ = stream.write_all(reject).await;
                    let _ = stream.close().await;
                    continue;
                }
                // glommio's UnixStream does not expose its fd: CLIENT KILL of a unix client
                // takes effect when it next sends something.
                start_conn(
                    &engine,
                    &shard,
                    path.clone(),
                    path.clone(),
                    -1,
                    true,
                    stream,
                );
            }
        }
    }
}

fn start_conn<E: Engine, S>(
    engine: &Rc<E>,
    shard: &Rc<Shard>,
    addr: String,
    laddr: String,
    fd: RawFd,
    is_unix: bool,
    stream: S,
) where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + 'static,
{
    let shared = &shard.shared;
    let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
    shared.connected_clients.fetch_add(1, Ordering::Relaxed);
    shared.total_connections.fetch_add(1, Ordering::Relaxed);
    let handle = Rc::new(ClientHandle::new(id, addr, laddr, fd, is_unix));
    shard.clients.borrow_mut().insert(id, handle.clone());
    let engine = engine.clone();
    let shard = shard.clone();
    glommio::spawn_local(async move {
        serve(engine, shard.clone(), handle, stream).await;
        shard.clients.borrow_mut().remove(&id);
        shard
            .shared
            .connected_clients
            .fetch_sub(1, Ordering::Relaxed);
    })
    .detach();
}
