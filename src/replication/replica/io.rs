//! The socket to the master: line reads for the handshake (bare `\n` keepalives skipped),
//! raw reads for the payload and the stream, writes for the handshake and the ACKs.

use bytes::BytesMut;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use std::time::Duration;

/// Redis's repl_syncio_timeout: each synchronous read of the handshake.
pub const SYNCIO_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub enum IoError {
    Closed,
    Timeout,
    Io(std::io::Error),
}

impl std::fmt::Display for IoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IoError::Closed => f.write_str("connection lost"),
            IoError::Timeout => f.write_str("Resource temporarily unavailable"),
            IoError::Io(e) => write!(f, "{e}"),
        }
    }
}

pub struct MasterConn {
    stream: TcpStream,
    /// Bytes read and not consumed yet.
    pub inbuf: BytesMut,
}

impl MasterConn {
    pub async fn connect(host: &str, port: u16, timeout: Duration) -> Result<MasterConn, String> {
        use std::net::ToSocketAddrs;
        let host = host.to_string();
        // The lookup may block (DNS): off the executor.
        let addr = glommio::executor()
            .spawn_blocking(move || {
                (host.as_str(), port)
                    .to_socket_addrs()
                    .map_err(|e| e.to_string())
                    .and_then(|mut a| a.next().ok_or_else(|| "no address".to_string()))
            })
            .await?;
        let stream = TcpStream::connect_timeout(addr, timeout)
            .await
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        Ok(MasterConn {
            stream,
            inbuf: BytesMut::with_capacity(64 * 1024),
        })
    }

    pub fn fd(&self) -> i32 {
        use std::os::unix::io::AsRawFd;
        self.stream.as_raw_fd()
    }

    pub fn local_port(&self) -> Option<u16> {
        self.stream.local_addr().ok().map(|a| a.port())
    }

    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        self.stream.write_all(bytes).await.map_err(IoError::Io)
    }

    /// Reads more bytes into `inbuf`, waiting at most `wait`; returns how many arrived.
    pub async fn fill(&mut self, wait: Duration) -> Result<usize, IoError> {
        let mut chunk = vec![0u8; 64 * 1024];
        let read =
            glommio::timer::timeout(wait, async { Ok(self.stream.read(&mut chunk).await) }).await;
        match read {
            Ok(Ok(0)) => Err(IoError::Closed),
            Ok(Ok(n)) => {
                self.inbuf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            Ok(Err(e)) => Err(IoError::Io(e)),
            Err(_) => Err(IoError::Timeout),
        }
    }

    /// Reads one line (without its `\r\n` or `\n`), waiting at most `wait` in total. Empty
    /// lines are returned as such (the caller skips keepalives where they may come).
    pub async fn read_line(&mut self, wait: Duration) -> Result<String, IoError> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.inbuf) {
                let line = self.inbuf.split_to(i + 1);
                let mut l = &line[..i];
                if l.last() == Some(&b'\r') {
                    l = &l[..l.len() - 1];
                }
                return Ok(String::from_utf8_lossy(l).into_owned());
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(IoError::Timeout);
            }
            self.fill(left).await?;
        }
    }

    /// Reads lines until one is not empty (the master's `\n` keepalives).
    pub async fn read_reply_line(&mut self, wait: Duration) -> Result<String, IoError> {
        loop {
            let l = self.read_line(wait).await?;
            if !l.is_empty() {
                return Ok(l);
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.stream.close().await;
    }
}
