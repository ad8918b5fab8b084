//! An outbound RESP2 client for one glommio executor: connect with a timeout, send commands
//! (pipelined), read replies, and read pushed messages in subscribe mode. Sentinel uses it for
//! its links to masters, replicas and other sentinels (hiredis' role in Redis).

use bytes::{Buf, Bytes, BytesMut};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use std::time::Duration;

/// A reply as the client sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Bytes>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The text of a status, error or bulk reply.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Status(s) | Reply::Error(s) => Some(s.clone()),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("connect: {0}")]
    Connect(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("timeout")]
    Timeout,
    #[error("connection closed")]
    Closed,
    #[error("protocol error: {0}")]
    Protocol(String),
}

pub struct Outbound {
    stream: TcpStream,
    inbuf: BytesMut,
    /// The local address of the socket (Sentinel announces it in hellos).
    pub local_ip: String,
}

/// Appends the RESP multibulk encoding of `args` to `out`.
pub fn encode<A: AsRef<[u8]>>(args: &[A], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

impl Outbound {
    pub async fn connect(ip: &str, port: u16, timeout: Duration) -> Result<Outbound, LinkError> {
        // Resolve here: glommio's connect_timeout assumes the lookup yields an address.
        use std::net::ToSocketAddrs;
        let addr = (ip, port)
            .to_socket_addrs()
            .map_err(|e| LinkError::Connect(e.to_string()))?
            .next()
            .ok_or_else(|| LinkError::Connect(format!("no address for {ip}")))?;
        let stream = TcpStream::connect_timeout(addr, timeout)
            .await
            .map_err(|e| LinkError::Connect(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let local_ip = stream
            .local_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        Ok(Outbound {
            stream,
            inbuf: BytesMut::with_capacity(4096),
            local_ip,
        })
    }

    /// Sends already encoded commands.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    pub async fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<(), LinkError> {
        let mut buf = Vec::new();
        encode(args, &mut buf);
        self.send_raw(&buf).await
    }

    /// Reads one reply, waiting at most `timeout` for it.
    pub async fn read_reply(&mut self, timeout: Duration) -> Result<Reply, LinkError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match parse_reply(&self.inbuf) {
                Ok(Some((r, used))) => {
                    self.inbuf.advance(used);
                    return Ok(r);
                }
                Ok(None) => {}
                Err(e) => return Err(LinkError::Protocol(e)),
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(LinkError::Timeout);
            }
            let mut chunk = [0u8; 16 * 1024];
            let read =
                glommio::timer::timeout(left, async { Ok(self.stream.read(&mut chunk).await) })
                    .await;
            match read {
                Ok(Ok(0)) => return Err(LinkError::Closed),
                Ok(Ok(n)) => self.inbuf.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => return Err(LinkError::Io(e)),
                Err(_) => return Err(LinkError::Timeout),
            }
        }
    }

    /// Waits up to `wait` for the peer to send something or close the connection, without
    /// expecting a reply: bytes that arrive are kept for the next [`Outbound::read_reply`].
    /// `Err` when the connection is closed or broken, so an idle link notices a dead peer as
    /// soon as hiredis would (its read handler is always armed).
    pub async fn poll_idle(&mut self, wait: Duration) -> Result<(), LinkError> {
        let mut chunk = [0u8; 16 * 1024];
        let read =
            glommio::timer::timeout(wait, async { Ok(self.stream.read(&mut chunk).await) }).await;
        match read {
            Ok(Ok(0)) => Err(LinkError::Closed),
            Ok(Ok(n)) => {
                self.inbuf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Ok(Err(e)) => Err(LinkError::Io(e)),
            Err(_) => Ok(()),
        }
    }

    /// Sends one command and reads its reply.
    pub async fn call<A: AsRef<[u8]>>(
        &mut self,
        args: &[A],
        timeout: Duration,
    ) -> Result<Reply, LinkError> {
        self.send(args).await?;
        self.read_reply(timeout).await
    }

    pub async fn close(mut self) {
        let _ = self.stream.close().await;
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    memchr::memmem::find(&buf[from..], b"\r\n").map(|i| from + i)
}

/// Parses one RESP2 reply from the front of `buf`: `Ok(None)` when incomplete.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    parse_at(buf, 0, 0)
}

fn parse_at(buf: &[u8], pos: usize, depth: usize) -> Result<Option<(Reply, usize)>, String> {
    if depth > 32 {
        return Err("nesting too deep".into());
    }
    if pos >= buf.len() {
        return Ok(None);
    }
    let Some(end) = find_crlf(buf, pos) else {
        return Ok(None);
    };
    let line = &buf[pos + 1..end];
    let text = || String::from_utf8_lossy(line).into_owned();
    let num = || -> Result<i64, String> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| format!("bad number {:?}", String::from_utf8_lossy(line)))
    };
    let next = end + 2;
    match buf[pos] {
        b'+' => Ok(Some((Reply::Status(text()), next))),
        b'-' => Ok(Some((Reply::Error(text()), next))),
        b':' => Ok(Some((Reply::Int(num()?), next))),
        b'$' => {
            let n = num()?;
            if n < 0 {
                return Ok(Some((Reply::Bulk(None), next)));
            }
            if n > 512 * 1024 * 1024 {
                return Err(format!("bulk length {n} out of range"));
            }
            let n = n as usize;
            if buf.len() < next + n + 2 {
                return Ok(None);
            }
            let b = Bytes::copy_from_slice(&buf[next..next + n]);
            Ok(Some((Reply::Bulk(Some(b)), next + n + 2)))
        }
        b'*' => {
            let n = num()?;
            if n < 0 {
                return Ok(Some((Reply::Array(None), next)));
            }
            let mut items = Vec::with_capacity((n as usize).min(1024));
            let mut at = next;
            for _ in 0..n {
                match parse_at(buf, at, depth + 1)? {
                    Some((r, used)) => {
                        items.push(r);
                        at = used;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Reply::Array(Some(items)), at)))
        }
        c => Err(format!("unexpected reply type byte {c:#x}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_resp2_shape_and_waits_for_more() {
        let b = b"*3\r\n:0\r\n$1\r\n*\r\n:0\r\n";
        let (r, used) = parse_reply(b).unwrap().unwrap();
        assert_eq!(used, b.len());
        assert_eq!(
            r,
            Reply::Array(Some(vec![
                Reply::Int(0),
                Reply::Bulk(Some(Bytes::from_static(b"*"))),
                Reply::Int(0)
            ]))
        );
        assert_eq!(parse_reply(b"*2\r\n:1\r\n").unwrap(), None);
        assert_eq!(parse_reply(b"$5\r\nhel").unwrap(), None);
        assert_eq!(
            parse_reply(b"-ERR x\r\n+OK\r\n").unwrap(),
            Some((Reply::Error("ERR x".into()), 8))
        );
        assert_eq!(
            parse_reply(b"$-1\r\n").unwrap(),
            Some((Reply::Bulk(None), 5))
        );
        assert!(parse_reply(b"!x\r\n").is_err());
        assert!(parse_reply(b"$9223372036854775807\r\n").is_err());
    }

    #[test]
    fn encodes_multibulk() {
        let mut out = Vec::new();
        encode(&["PING", ""], &mut out);
        assert_eq!(out, b"*2\r\n$4\r\nPING\r\n$0\r\n\r\n");
    }
}
