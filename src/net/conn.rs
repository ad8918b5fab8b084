//! The connection loop: read, parse every complete command, execute them in order, write all
//! replies with one send.

use super::client::ClientHandle;
use super::session::{conn_config, Conn, ReplyMode};
use super::Engine;
use crate::resp::{ParseLimits, Proto, ReplyBuf, RequestParser};
use crate::shard::Shard;
use bytes::BytesMut;
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// Most bytes asked of the kernel per read. Redis reads 16 KiB (PROTO_IOBUF_LEN).
const READ_CHUNK: usize = 16 * 1024;
/// Fewest bytes asked of the kernel per read.
const READ_MIN: usize = 1024;

/// How many bytes the next read asks for. The read buffer must be initialized (zeroed) before
/// the kernel fills it, so asking for 16 KiB when a request is 40 bytes costs a 16 KiB memset
/// per request (measured at ~4% of the CPU at `-P 1`). The window doubles while reads fill it
/// and shrinks when they use less than a quarter of it, so pipelined and bulk input still gets
/// 16 KiB reads after a couple of rounds.
#[derive(Clone, Copy)]
struct ReadWindow(usize);

impl ReadWindow {
    fn size(self) -> usize {
        self.0
    }

    fn observe(&mut self, n: usize) {
        if n >= self.0 {
            self.0 = (self.0 * 2).min(READ_CHUNK);
        } else if n * 4 < self.0 {
            self.0 = (self.0 / 2).max(READ_MIN);
        }
    }
}

pub async fn serve<E: Engine, S: AsyncRead + AsyncWrite + Unpin>(
    engine: Rc<E>,
    shard: Rc<Shard>,
    handle: Rc<ClientHandle>,
    mut stream: S,
) {
    let epoch = shard.shared.config_epoch.load(Ordering::Acquire);
    let cfg = conn_config(&shard, epoch);
    let mut conn = Conn {
        authenticated: cfg.requirepass.is_none(),
        shard: shard.clone(),
        handle,
        out: ReplyBuf::new(Proto::Resp2),
        db: 0,
        reply_mode: ReplyMode::On,
        kept_pushes: None,
        close_after_reply: false,
        cfg,
        shutdown_requested: false,
        monitor: None,
        multi: None,
        watched: Vec::new(),
        replconf: Default::default(),
        block_unit: None,
        pubsub: None,
        origin: None,
    };
    let mut parser = RequestParser::default();
    let mut inbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut window = ReadWindow(READ_MIN);
    let mut queue = VecDeque::new();
    let mut argv = Vec::new();
    // Input that arrived while a blocking command waited, not parsed yet.
    let mut carried = false;
    'conn: loop {
        if conn.handle.killed.get() || conn.handle.eof.get() {
            break;
        }
        let start = inbuf.len();
        inbuf.resize(start + window.size(), 0);
        let subscriber = conn.pubsub.clone().filter(|s| s.listening());
        let n = if std::mem::take(&mut carried) {
            0
        } else if !conn.out.is_empty() && conn.monitor.is_none() && subscriber.is_none() {
            // Replies the kernel has not taken yet. Redis keeps reading a client whatever its
            // output holds, so one that pipelines without reading its replies grows its output
            // until the limits close it: do the same, sending what the kernel takes meanwhile.
            match send_or_read(&mut stream, &mut conn, &mut inbuf[start..]).await {
                Io::Read(n) => n,
                Io::Sent | Io::Tick => {
                    inbuf.truncate(start);
                    continue;
                }
                Io::Eof => {
                    // Half-closed after its last requests: it still gets their replies.
                    inbuf.truncate(start);
                    write_out(&mut stream, &mut conn).await;
                    break;
                }
                Io::Closed => break,
            }
        } else if conn.monitor.is_some() || subscriber.is_some() {
            // A MONITOR or subscribed connection waits for either its own input or lines /
            // messages to stream; it is exempt from `timeout` like Redis's monitors and
            // pub/sub clients.
            let sink = conn.monitor.clone();
            let read = async { Some(read_some(&mut stream, &mut inbuf[start..], 0).await) };
            let lines = async {
                let l: Vec<u8> = match (&sink, &subscriber) {
                    (Some(sink), _) => crate::commands::introspect::monitor_wait(sink).await,
                    (None, Some(sub)) => {
                        sub.set_proto(conn.out.proto);
                        sub.wait().await.to_vec()
                    }
                    (None, None) => std::future::pending().await,
                };
                conn.out.raw(&l);
                None
            };
            match futures_lite::future::or(read, lines).await {
                Some(Ok(0)) | Some(Err(_)) => break,
                Some(Ok(n)) => n,
                None => {
                    inbuf.truncate(start);
                    if !write_out(&mut stream, &mut conn).await {
                        break 'conn;
                    }
                    continue;
                }
            }
        } else {
            match read_some(&mut stream, &mut inbuf[start..], conn.cfg.timeout).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            }
        };
        inbuf.truncate(start + n);
        window.observe(n);
        conn.handle.last_interaction.set(std::time::Instant::now());
        shard.data.borrow_mut().stats.net_input_bytes += n as u64;
        conn.refresh_config();
        if inbuf.len() as u64 > conn.cfg.client_query_buffer_limit {
            tracing::warn!(
                "Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: {:?})",
                conn.handle.id,
                conn.handle.addr,
                String::from_utf8_lossy(&inbuf[..inbuf.len().min(64)])
            );
            break;
        }
        loop {
            let limits = ParseLimits {
                proto_max_bulk_len: conn.cfg.proto_max_bulk_len,
                authenticated: conn.authenticated,
            };
            match parser.parse(&mut inbuf, &limits, &mut argv) {
                Ok(true) => {
                    queue.push_back(std::mem::take(&mut argv));
                    // Before AUTH succeeds the parser's limits depend on the outcome of each
                    // command, so run them one by one.
                    if !conn.authenticated {
                        engine.run(&mut conn, &mut queue).await;
                        if conn.close_after_reply {
                            break;
                        }
                    }
                }
                Ok(false) => break,
                Err(e) => {
                    engine.run(&mut conn, &mut queue).await;
                    tracing::debug!(
                        "Protocol error ({e}) from client: id={} addr={}",
                        conn.handle.id,
                        conn.handle.addr
                    );
                    conn.out.raw(&e.reply());
                    conn.close_after_reply = true;
                    break;
                }
            }
        }
        if !queue.is_empty() {
            // While a blocking command waits, keep reading the socket: EOF must unblock it
            // (and take it out of the wait queues); commands pipelined behind it wait.
            let handle = conn.handle.clone();
            let limit = conn.cfg.client_query_buffer_limit;
            let got = std::cell::Cell::new(false);
            let watch = async {
                std::future::poll_fn(|_| {
                    // Polled again whenever the command's task wakes (same task).
                    if handle.blocked.borrow().is_some() {
                        std::task::Poll::Ready(())
                    } else {
                        std::task::Poll::Pending
                    }
                })
                .await;
                // A separate buffer: this future is dropped mid-read when the command ends.
                let mut chunk = vec![0u8; READ_CHUNK];
                loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n > 0 {
                        inbuf.extend_from_slice(&chunk[..n]);
                        got.set(true);
                        shard.data.borrow_mut().stats.net_input_bytes += n as u64;
                    }
                    if n == 0 || inbuf.len() as u64 > limit {
                        handle.eof.set(true);
                        futures_lite::future::yield_now().await;
                        std::future::pending::<()>().await;
                    }
                }
            };
            futures_lite::future::or(engine.run(&mut conn, &mut queue), watch).await;
            if got.get() {
                carried = true;
                conn.handle.last_interaction.set(std::time::Instant::now());
            }
        }
        {
            let mut i = conn.handle.info.borrow_mut();
            i.qbuf = inbuf.len();
            i.qbuf_free = inbuf.capacity() - inbuf.len();
            i.tot_mem = inbuf.capacity() + conn.out.buf.capacity() + CONN_OVERHEAD;
        }
        if conn.handle.killed.get() {
            break;
        }
        // The replies leave at the top of the loop, while further requests are read; what
        // must be sent before the connection closes or changes role (QUIT, a replica's
        // +FULLRESYNC), or before it streams MONITOR lines or messages, is sent now.
        let listening = conn.pubsub.as_ref().is_some_and(|s| s.listening());
        if (conn.close_after_reply
            || conn.replconf.start.is_some()
            || conn.monitor.is_some()
            || listening)
            && !write_out(&mut stream, &mut conn).await
        {
            break 'conn;
        }
        if conn.close_after_reply {
            break;
        }
        if conn.replconf.start.is_some() {
            // SYNC / PSYNC: the connection serves a replica from now on.
            engine.take_over(&mut conn, &mut stream, &mut inbuf).await;
            break;
        }
        // Keep the buffer from holding on to a large allocation after a big request.
        if inbuf.is_empty() && inbuf.capacity() > 4 * READ_CHUNK {
            inbuf = BytesMut::with_capacity(READ_CHUNK);
        }
    }
    if let Some(sink) = conn.monitor.take() {
        crate::commands::introspect::monitor_detach(&shard.shared, &sink);
    }
    if let Some(sub) = conn.pubsub.take() {
        super::pubsub::detach(&sub);
    }
    super::tracking::disconnect(conn.handle.id);
    let _ = stream.close().await;
}

/// What a connection holds besides its buffers (its task, session and handle), for tot-mem.
const CONN_OVERHEAD: usize = 2048;

/// Writes the held replies. While the kernel does not take them all, `omem` shows what is
/// left and the output buffer limits apply to it (re-checked each second for the soft limit's
/// seconds). False when the connection is to close (write error, or past the limits).
async fn write_out<S: AsyncWrite + Unpin>(stream: &mut S, conn: &mut Conn) -> bool {
    while !conn.out.is_empty() {
        if conn.over_output_limit(conn.out.len()) {
            return false;
        }
        let wrote =
            futures_lite::future::or(async { Some(stream.write(&conn.out.buf).await) }, async {
                glommio::timer::sleep(TICK).await;
                None
            })
            .await;
        match wrote {
            Some(Ok(0)) | Some(Err(_)) => return false,
            Some(Ok(n)) => sent(conn, n),
            None => {} // the kernel took nothing for a second: re-check the limits
        }
    }
    true
}

/// How often held replies that the kernel does not take re-check the limits (the soft
/// limit's seconds, `timeout`).
const TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// What happened while replies were held: the kernel took some, a request arrived (bytes
/// read), a second passed, the peer half-closed, or the connection is to close.
enum Io {
    Sent,
    Read(usize),
    Tick,
    Eof,
    Closed,
}

/// Sends held replies and reads further requests, whichever the socket allows first
/// (glommio's stream I/O is readiness based: the side that loses leaves nothing in flight).
/// The limits and `timeout` are re-checked each second while neither moves.
async fn send_or_read<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    conn: &mut Conn,
    buf: &mut [u8],
) -> Io {
    use std::pin::Pin;
    use std::task::Poll;
    enum Ready {
        Wrote(usize),
        Read(usize),
        Eof,
        Failed,
    }
    conn.handle.info.borrow_mut().omem = conn.out.len();
    let out = &conn.out.buf;
    let io = std::future::poll_fn(|cx| {
        match Pin::new(&mut *stream).poll_write(cx, out) {
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(Some(Ready::Failed)),
            Poll::Ready(Ok(n)) => return Poll::Ready(Some(Ready::Wrote(n))),
            Poll::Pending => {}
        }
        match Pin::new(&mut *stream).poll_read(cx, buf) {
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => Poll::Ready(Some(Ready::Eof)),
            Poll::Ready(Ok(n)) => Poll::Ready(Some(Ready::Read(n))),
            Poll::Pending => Poll::Pending,
        }
    });
    let tick = async {
        glommio::timer::sleep(TICK).await;
        None
    };
    let ready = futures_lite::future::or(io, tick).await;
    match ready {
        Some(Ready::Wrote(n)) => {
            sent(conn, n);
            Io::Sent
        }
        Some(Ready::Read(n)) => Io::Read(n),
        Some(Ready::Eof) => Io::Eof,
        Some(Ready::Failed) => Io::Closed,
        None => {
            let idle = conn.handle.last_interaction.get().elapsed().as_secs();
            if conn.over_output_limit(conn.out.len())
                || (conn.cfg.timeout != 0 && idle >= conn.cfg.timeout)
            {
                return Io::Closed;
            }
            Io::Tick
        }
    }
}

/// The kernel took `n` bytes of the held replies.
fn sent(conn: &mut Conn, n: usize) {
    use bytes::Buf;
    conn.out.buf.advance(n);
    conn.shard.data.borrow_mut().stats.net_output_bytes += n as u64;
    conn.handle.last_interaction.set(std::time::Instant::now());
    let mut info = conn.handle.info.borrow_mut();
    info.omem = conn.out.len();
    if conn.out.is_empty() {
        conn.handle.obuf_soft_since.set(0);
        // Back to the start of the allocation rather than creeping along it.
        conn.out.buf.clear();
    }
}

async fn read_some<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
    timeout_secs: u64,
) -> std::io::Result<usize> {
    if timeout_secs == 0 {
        return stream.read(buf).await;
    }
    let d = std::time::Duration::from_secs(timeout_secs);
    match glommio::timer::timeout(d, async { stream.read(buf).await.map_err(Into::into) }).await {
        Ok(n) => Ok(n),
        Err(e) => Err(std::io::Error::from(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_window_grows_when_filled_and_shrinks_when_mostly_empty() {
        let mut w = ReadWindow(READ_MIN);
        w.observe(40);
        assert_eq!(w.size(), READ_MIN, "never below the minimum");
        for _ in 0..10 {
            let full = w.size();
            w.observe(full);
        }
        assert_eq!(w.size(), READ_CHUNK, "full reads grow it to the maximum");
        w.observe(READ_CHUNK / 2);
        assert_eq!(w.size(), READ_CHUNK, "half-full reads keep it");
        w.observe(100);
        assert_eq!(w.size(), READ_CHUNK / 2);
        for _ in 0..10 {
            w.observe(100);
        }
        assert_eq!(w.size(), READ_MIN);
    }
}
