//! CONFIG SET port / bind while serving (Redis's changeListenPort / changeBindAddr): the server
//! listens on the new addresses at once, stops listening on the old ones, keeps its open
//! connections, and a socket it cannot open gives Redis's error and leaves the old listener in
//! place. With several shards every shard accepts on the new socket.

mod common;

use common::{against_redis, free_port, wait_until, RawConn, Server};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const SHARDS: [usize; 2] = [1, 2];

fn refused(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err()
}

/// A fresh connection to `port` answers PING.
fn pings(port: u16) -> bool {
    let mut c = RawConn::connect(port);
    c.cmd(&["PING"]) == b"+PONG\r\n"
}

/// Enough fresh connections that, with 2 shards, both accept some (the kernel spreads them);
/// each must be served.
fn all_served(port: u16) {
    let mut conns: Vec<RawConn> = (0..8).map(|_| RawConn::connect(port)).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        assert_eq!(
            c.cmd(&["PING"]),
            b"+PONG\r\n",
            "connection {i} on port {port}"
        );
    }
}

/// The inode of the socket listening on 127.0.0.1:`port` (from /proc/net/tcp).
fn listening_inode(port: u16) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 9 && f[1] == local && f[3] == "0A").then(|| f[9].to_string())
    })
}

/// How many of `pid`'s descriptors refer to socket `inode`.
fn fds_of(pid: u32, inode: &str) -> usize {
    let target = format!("socket:[{inode}]");
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|l| l.to_string_lossy() == target.as_str())
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn config_set_port_moves_the_listener() {
    for shards in SHARDS {
        let server = Server::ringkv(shards, &["--bind", "127.0.0.1"]);
        let old_port = server.port;
        let mut open = RawConn::connect(old_port);
        assert_eq!(open.cmd(&["SET", "k", "v"]), b"+OK\r\n");
        let old_inode = listening_inode(old_port).expect("listening socket");
        let new_port = free_port();
        let reply = open.cmd(&["CONFIG", "SET", "port", &new_port.to_string()]);
        assert_eq!(reply, b"+OK\r\n", "{shards} shards");
        all_served(new_port);
        assert!(
            wait_until(Duration::from_secs(5), || refused(old_port)),
            "{shards} shards: old port still accepts"
        );
        if !against_redis() {
            // Every shard accepts on its own dup of the new socket (plus the original kept for
            // the next rebind), and the old socket is closed on every shard.
            let inode = listening_inode(new_port).expect("new listening socket");
            assert!(
                wait_until(Duration::from_secs(5), || fds_of(server.pid, &inode)
                    == shards + 1),
                "{shards} shards: {} descriptors on the new socket",
                fds_of(server.pid, &inode)
            );
            assert!(
                wait_until(Duration::from_secs(5), || fds_of(server.pid, &old_inode)
                    == 0),
                "{shards} shards: the old socket is still open"
            );
        }
        // The connection made before the change stays up.
        assert_eq!(open.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
        let mut fresh = RawConn::connect(new_port);
        assert_eq!(
            fresh.cmd(&["CONFIG", "GET", "port"]),
            format!(
                "*2\r\n$4\r\nport\r\n${}\r\n{new_port}\r\n",
                new_port.to_string().len()
            )
            .into_bytes()
        );
        let info = String::from_utf8_lossy(&fresh.cmd(&["INFO", "server"])).into_owned();
        assert!(
            info.contains(&format!("tcp_port:{new_port}\r\n")),
            "{shards} shards: {info}"
        );
        // And back to the first port: its socket was closed everywhere, so it binds again.
        assert_eq!(
            fresh.cmd(&["CONFIG", "SET", "port", &old_port.to_string()]),
            b"+OK\r\n"
        );
        all_served(old_port);
        assert!(wait_until(Duration::from_secs(5), || refused(new_port)));
        assert_eq!(open.cmd(&["PING"]), b"+PONG\r\n");
        assert_eq!(fresh.cmd(&["PING"]), b"+PONG\r\n");
    }
}

#[test]
fn config_set_port_in_use_keeps_the_old_listener() {
    for shards in SHARDS {
        let server = Server::ringkv(shards, &["--bind", "127.0.0.1"]);
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let busy = taken.local_addr().expect("addr").port();
        let mut c = RawConn::connect(server.port);
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "port", &busy.to_string()]),
            b"-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n".to_vec(),
            "{shards} shards"
        );
        assert_eq!(
            c.cmd(&["CONFIG", "GET", "port"]),
            format!(
                "*2\r\n$4\r\nport\r\n${}\r\n{}\r\n",
                server.port.to_string().len(),
                server.port
            )
            .into_bytes()
        );
        all_served(server.port);
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    }
}

#[test]
fn config_set_bind_changes_addresses() {
    for shards in SHARDS {
        let server = Server::ringkv(shards, &["--bind", "127.0.0.1"]);
        let port = server.port;
        let mut c = RawConn::connect(port);
        // An address that cannot be bound: Redis's error, the old addresses keep listening.
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "bind", "127.0.0.1 10.255.255.254"]),
            b"-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.\r\n".to_vec(),
            "{shards} shards"
        );
        assert_eq!(
            c.cmd(&["CONFIG", "GET", "bind"]),
            b"*2\r\n$4\r\nbind\r\n$9\r\n127.0.0.1\r\n".to_vec()
        );
        all_served(port);
        // The same port on an overlapping address (the old socket must go first), with an
        // optional unavailable one that is skipped.
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "bind", "* -10.255.255.254"]),
            b"+OK\r\n"
        );
        all_served(port);
        // Only 127.0.0.2 (loopback, so reachable here): 127.0.0.1 is refused now.
        assert_eq!(c.cmd(&["CONFIG", "SET", "bind", "127.0.0.2"]), b"+OK\r\n");
        assert!(
            wait_until(Duration::from_secs(5), || refused(port)),
            "{shards} shards: 127.0.0.1 still accepts"
        );
        let addr = SocketAddr::from(([127, 0, 0, 2], port));
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("127.0.0.2");
        drop(s);
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
        assert_eq!(c.cmd(&["CONFIG", "SET", "bind", "127.0.0.1"]), b"+OK\r\n");
        assert!(pings(port));
        all_served(port);
    }
}
