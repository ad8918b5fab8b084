//! Who a socket-less session speaks for (see `commands::apply::StreamClient`). It lives here,
//! below `net` and `commands`, because both the connection state and the dispatcher's gates
//! read it.

/// The source of a command stream that runs without a socket: the AOF being loaded (Redis's
/// fake AOF client) or the master of a replica (Redis's master client).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Origin {
    Aof,
    Master,
}
