//! RESP2/RESP3 request parser (zero-copy) and reply writer.
//!
//! This layer knows nothing of sockets or glommio: the connection loop appends what it reads to
//! a `BytesMut`, calls [`RequestParser::parse`] until it returns `Ok(false)`, and encodes replies
//! into a [`ReplyBuf`] that it writes out once per batch.
//!
//! The parser follows Redis 7.0.15 `processInputBuffer` byte for byte, including its protocol
//! errors (each of which closes the connection after the reply is sent).

pub mod parser;
pub mod writer;

pub use parser::{ParseLimits, ProtocolError, RequestParser, PROTO_INLINE_MAX_SIZE};
pub use writer::{format_double, write_double, Proto, ReplyBuf};
