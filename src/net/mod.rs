//! The network layer: listener, connection loop, per-connection session. It knows nothing of
//! the keyspace: an [`Engine`] (the data node's dispatcher, later Sentinel's) executes commands.

pub mod client;
pub mod conn;
pub mod listener;
pub mod obuf;
pub mod outbound;
pub mod pubsub;
pub mod session;
pub mod tracking;

pub use session::Conn;

use bytes::Bytes;
use std::collections::VecDeque;
use std::future::Future;

/// Executes parsed commands for a connection.
pub trait Engine: 'static {
    /// Runs the commands at the front of `queue` in order, writing replies to `conn.out`. It
    /// may take several at once (consecutive commands for the same shard travel together).
    fn run<'a>(
        &'a self,
        conn: &'a mut Conn,
        queue: &'a mut VecDeque<Vec<Bytes>>,
    ) -> impl Future<Output = ()> + 'a;

    /// Takes over a connection whose command made it something else than a client (a replica
    /// after SYNC / PSYNC) until it ends. Returns false when there was nothing to take over.
    fn take_over<'a, S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + 'a>(
        &'a self,
        _conn: &'a mut Conn,
        _stream: &'a mut S,
        _inbuf: &'a mut bytes::BytesMut,
    ) -> impl Future<Output = bool> + 'a {
        async { false }
    }
}

pub const PROTECTED_MODE_DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";
