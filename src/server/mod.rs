//! Process wiring for the data node: logging, startup lines, daemonize/pidfile, supervision
//! (sd_notify), signals, and io_uring start-up diagnosis. Each piece is self-contained; `main`
//! calls them in Redis's order (see `banner` for the startup sequence).

pub mod banner;
pub mod info;
pub mod log;
pub mod node;
pub mod notify;
pub mod process;
pub mod signals;
pub mod uring;

pub use signals::ShutdownSignal;
pub use uring::explain_executor_error;
