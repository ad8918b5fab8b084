//! Accept loops. The listening sockets are bound in `main` (exclusive, no SO_REUSEPORT, so a
//! second server on the same port fails to start instead of silently sharing it) and every shard
//! accepts on a dup of the same fd: the kernel spreads connections over the shards.
//!
//! `CONFIG SET port` / `bind` replace the TCP sockets while serving ([`rebind`]): the new ones
//! are bound, published in [`TcpListeners`] under a new generation, and every shard's
//! [`serve_tcp`] task starts accepting on dups of them; the old ones stop listening at once
//! (shutdown) and each shard's old accept loops end, closing their dups.

use super::client::ClientHandle;
use super::conn::serve;
use super::Engine;
use crate::shard::{Shard, Shared};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::task::{Poll, Waker};

pub enum ListenerFd {
    /// A dup of a listening socket for this executor alone, and the generation it belongs to.
    Tcp(RawFd, u64),
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
        ListenerFd::Tcp(fd, gen) => {
            // SAFETY: fd is a dup of the bound, non-blocking listening socket made for this
            // executor alone; glommio's listener takes ownership of it.
            let listener = unsafe { glommio::net::TcpListener::from_raw_fd(fd) };
            let set = &shard.shared.listeners;
            loop {
                // A rebind ends this loop (dropping the listener closes our dup), whether or not
                // the shut-down socket wakes the pending accept.
                let accepted =
                    futures_lite::future::or(async { Some(listener.accept().await) }, async {
                        set.changed(gen).await;
                        None
                    })
                    .await;
                let Some(accepted) = accepted else {
                    return;
                };
                let stream = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        // A socket stopped by a rebind fails here just before the new
                        // generation is published.
                        glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
                        if shard.shared.shutting_down.load(Ordering::Relaxed)
                            || set.generation() != gen
                        {
                            return;
                        }
                        tracing::warn!("Accepting client connection: {e}");
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

/// The process's TCP listening sockets, replaceable while serving. Each shard accepts on its own
/// dups of them; the originals are kept here.
#[derive(Default)]
pub struct TcpListeners {
    inner: Mutex<TcpSet>,
}

#[derive(Default)]
struct TcpSet {
    generation: u64,
    fds: Vec<RawFd>,
    /// The `bind` list and `port` the sockets were made from.
    bind: Vec<String>,
    port: u16,
    /// Tasks waiting for the next generation (each shard's [`serve_tcp`] and accept loops).
    wakers: Vec<Waker>,
}

impl TcpListeners {
    fn lock(&self) -> std::sync::MutexGuard<'_, TcpSet> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Whether the sockets were made from this `bind` list and `port`.
    pub fn is(&self, bind: &[String], port: u16) -> bool {
        let s = self.lock();
        s.bind == bind && s.port == port
    }

    /// Publishes `fds` (made from `bind`/`port`) as the new generation: the previous sockets
    /// stop listening now, and every shard moves over to the new ones.
    pub fn replace(&self, fds: Vec<RawFd>, bind: &[String], port: u16) {
        let (old, wakers) = {
            let mut s = self.lock();
            s.generation += 1;
            s.bind = bind.to_vec();
            s.port = port;
            (
                std::mem::replace(&mut s.fds, fds),
                std::mem::take(&mut s.wakers),
            )
        };
        close_listening(&old);
        // Woken outside the lock: glommio may run the woken task at once.
        for w in wakers {
            w.wake();
        }
    }

    /// Stops the current sockets listening (connections to them are refused) without
    /// publishing anything: [`TcpListeners::replace`] follows.
    fn stop_listening(&self) {
        let s = self.lock();
        for &fd in &s.fds {
            // SAFETY: fd is a listening socket this set owns; shutdown does not free it.
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
    }

    /// The current generation and a dup of each of its sockets for the calling executor.
    fn dup_current(&self) -> (u64, Vec<RawFd>) {
        let s = self.lock();
        let mut fds = Vec::with_capacity(s.fds.len());
        for &fd in &s.fds {
            // SAFETY: dup of a listening socket this set owns (it cannot be closed meanwhile:
            // we hold the lock); the copy goes to one accept loop.
            let d = unsafe { libc::dup(fd) };
            if d < 0 {
                tracing::warn!(
                    "Can't accept on a listening socket: {}",
                    std::io::Error::last_os_error()
                );
            } else {
                fds.push(d);
            }
        }
        (s.generation, fds)
    }

    /// Resolves once the generation is no longer `gen`.
    pub async fn changed(&self, gen: u64) {
        std::future::poll_fn(|cx| {
            let mut s = self.lock();
            if s.generation != gen {
                return Poll::Ready(());
            }
            if !s.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                s.wakers.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}

fn close_listening(fds: &[RawFd]) {
    for &fd in fds {
        // SAFETY: fds this set owned and no longer lists; the shards hold their own dups.
        // shutdown stops the socket listening for every dup at once.
        unsafe {
            libc::shutdown(fd, libc::SHUT_RDWR);
            libc::close(fd);
        }
    }
}

/// One shard's TCP side: accept loops on the current sockets, started again on each new
/// generation (the old loops end by themselves).
pub async fn serve_tcp<E: Engine>(engine: Rc<E>, shard: Rc<Shard>) {
    loop {
        let (gen, fds) = shard.shared.listeners.dup_current();
        for fd in fds {
            glommio::spawn_local(accept_loop(
                engine.clone(),
                shard.clone(),
                ListenerFd::Tcp(fd, gen),
            ))
            .detach();
        }
        shard.shared.listeners.changed(gen).await;
        if shard.shared.shutting_down.load(Ordering::Relaxed) {
            return;
        }
    }
}

/// CONFIG SET port / bind: listens on `bind` × `port` instead of the current sockets, like
/// Redis's changeListenPort / changeBindAddr. On failure the old addresses keep listening and
/// the error says why (logged in detail). Existing connections are not touched.
pub fn rebind(shared: &Shared, bind: &[String], port: u16, backlog: i32) -> Result<(), BindError> {
    let set = &shared.listeners;
    if set.is(bind, port) {
        return Ok(());
    }
    // Next to the old sockets first (a new port never clashes with them), so the old ones
    // listen until the new ones do.
    let fds = match bind_tcp(bind, port, backlog) {
        Ok(fds) => fds,
        Err(e) if e.kind != std::io::ErrorKind::AddrInUse => {
            tracing::warn!("{}", e.msg);
            tracing::warn!("Failed to bind");
            return Err(e);
        }
        Err(_) => {
            // An address the old sockets hold: stop them first, as Redis does.
            set.stop_listening();
            match bind_tcp(bind, port, backlog) {
                Ok(fds) => fds,
                Err(e) => {
                    tracing::warn!("{}", e.msg);
                    tracing::warn!("Failed to bind");
                    let (old_bind, old_port) = {
                        let s = set.lock();
                        (s.bind.clone(), s.port)
                    };
                    // Back to the old addresses on fresh sockets.
                    let old = bind_tcp(&old_bind, old_port, backlog).unwrap_or_default();
                    set.replace(old, &old_bind, old_port);
                    return Err(e);
                }
            }
        }
    };
    set.replace(fds, bind, port);
    shared.port.store(port, Ordering::Relaxed);
    Ok(())
}

/// Why [`bind_tcp`] failed: the socket error and Redis's warning line.
pub struct BindError {
    pub kind: std::io::ErrorKind,
    pub msg: String,
}

/// Binds every `bind` address (a leading '-' means "skip if unavailable") on `port`, exclusive
/// (no SO_REUSEPORT), non-blocking, with `backlog`. Port 0 means no TCP socket. On failure
/// nothing stays open.
pub fn bind_tcp(bind: &[String], port: u16, backlog: i32) -> Result<Vec<RawFd>, BindError> {
    let mut fds = Vec::new();
    if port == 0 {
        return Ok(fds);
    }
    for b in bind {
        let (optional, addr) = match b.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, b.as_str()),
        };
        let addr = match addr {
            "*" => "0.0.0.0",
            "::*" => "::",
            a => a,
        };
        match bind_one(addr, port, backlog) {
            Ok(fd) => fds.push(fd),
            Err(e) if optional && e.kind() == std::io::ErrorKind::AddrNotAvailable => {
                tracing::warn!("Could not create server TCP listening socket {addr}:{port}: {e}");
            }
            Err(e) => {
                close_listening(&fds);
                return Err(BindError {
                    kind: e.kind(),
                    msg: format!(
                        "Warning: Could not create server TCP listening socket {addr}:{port}: {e}"
                    ),
                });
            }
        }
    }
    Ok(fds)
}

fn bind_one(addr: &str, port: u16, backlog: i32) -> std::io::Result<RawFd> {
    use std::io::Error;
    let ip: std::net::IpAddr = addr
        .parse()
        .map_err(|_| Error::new(std::io::ErrorKind::AddrNotAvailable, "invalid address"))?;
    let check = |r: libc::c_int| {
        if r < 0 {
            Err(Error::last_os_error())
        } else {
            Ok(r)
        }
    };
    let family = if ip.is_ipv6() {
        libc::AF_INET6
    } else {
        libc::AF_INET
    };
    // SAFETY: plain socket syscalls on a descriptor we create and own; the sockaddr structs are
    // fully initialised locals whose sizes are passed alongside.
    unsafe {
        let fd = check(libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        ))?;
        let close_on_err = |e: Error| {
            libc::close(fd);
            e
        };
        let one: libc::c_int = 1;
        let sz = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            &one as *const _ as *const _,
            sz,
        );
        let r = match ip {
            std::net::IpAddr::V4(v4) => {
                let mut sa: libc::sockaddr_in = std::mem::zeroed();
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_port = port.to_be();
                sa.sin_addr.s_addr = u32::from_ne_bytes(v4.octets());
                libc::bind(
                    fd,
                    &sa as *const _ as *const libc::sockaddr,
                    std::mem::size_of_val(&sa) as libc::socklen_t,
                )
            }
            std::net::IpAddr::V6(v6) => {
                // Like Redis: an IPv6 socket never also takes IPv4, so `bind * ::*` works.
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_V6ONLY,
                    &one as *const _ as *const _,
                    sz,
                );
                let mut sa: libc::sockaddr_in6 = std::mem::zeroed();
                sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sa.sin6_port = port.to_be();
                sa.sin6_addr.s6_addr = v6.octets();
                libc::bind(
                    fd,
                    &sa as *const _ as *const libc::sockaddr,
                    std::mem::size_of_val(&sa) as libc::socklen_t,
                )
            }
        };
        check(r).map_err(close_on_err)?;
        check(libc::listen(fd, backlog.max(1))).map_err(close_on_err)?;
        Ok(fd)
    }
}

impl Drop for TcpListeners {
    fn drop(&mut self) {
        let s = self.lock();
        close_listening(&s.fds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    }

    fn accepts(port: u16) -> bool {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1)).is_ok()
    }

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn port_zero_binds_nothing() {
        let fds = bind_tcp(&strings(&["127.0.0.1"]), 0, 16).ok();
        assert_eq!(fds, Some(Vec::new()));
    }

    #[test]
    fn optional_unavailable_address_is_skipped() {
        let port = free_port();
        let fds = bind_tcp(&strings(&["-10.255.255.254", "127.0.0.1"]), port, 16).ok();
        assert_eq!(fds.as_ref().map(Vec::len), Some(1));
        assert!(accepts(port));
        close_listening(&fds.unwrap_or_default());
        assert!(!accepts(port));
        // Not optional: an error saying why.
        let e = bind_tcp(&strings(&["10.255.255.254"]), port, 16).err();
        assert_eq!(
            e.map(|e| e.kind),
            Some(std::io::ErrorKind::AddrNotAvailable)
        );
    }

    #[test]
    fn a_failed_bind_leaves_nothing_open() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let e = bind_tcp(&strings(&["127.0.0.2", "127.0.0.1"]), port, 16).err();
        let e = e.expect("127.0.0.1 is taken");
        assert_eq!(e.kind, std::io::ErrorKind::AddrInUse);
        assert!(e.msg.contains(&format!("127.0.0.1:{port}")), "{}", e.msg);
        // The 127.0.0.2 socket opened first was closed again.
        assert!(std::net::TcpListener::bind(("127.0.0.2", port)).is_ok());
    }

    #[test]
    fn replace_publishes_a_generation_and_stops_the_old_sockets() {
        let set = TcpListeners::default();
        let (p1, p2) = (free_port(), free_port());
        let bind = strings(&["127.0.0.1"]);
        set.replace(bind_tcp(&bind, p1, 16).unwrap_or_default(), &bind, p1);
        let g1 = set.generation();
        assert!(set.is(&bind, p1) && !set.is(&bind, p2));
        let (g, dups) = set.dup_current();
        assert_eq!((g, dups.len()), (g1, 1));
        assert!(accepts(p1));
        set.replace(bind_tcp(&bind, p2, 16).unwrap_or_default(), &bind, p2);
        assert_eq!(set.generation(), g1 + 1);
        // The dup an executor still holds no longer listens either.
        assert!(!accepts(p1));
        assert!(accepts(p2));
        close_listening(&dups);
        drop(set);
        assert!(!accepts(p2));
    }
}
