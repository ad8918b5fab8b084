//! Feed arbitrary bytes to the request parser, split at arbitrary points. It must never panic,
//! every command must have at least one argument, and the commands, the error and the bytes
//! left over must equal what parsing the whole buffer at once gives.
//!
//! Input layout: byte 0 chooses the limits (bit 0: unauthenticated, bit 1: tiny
//! proto-max-bulk-len) and bit 2 repeats the stream past 64 KiB, to reach the "too big" line
//! limits; byte 1 is how many split points follow, each as one byte (a chunk length); the rest
//! is the request stream.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/resp/parser.rs"]
mod parser;

use parser::{ParseLimits, ProtocolError, RequestParser};

type Outcome = (Vec<Vec<Vec<u8>>>, Option<ProtocolError>, Vec<u8>);

/// Parse everything `buf` holds; returns true if parsing must stop (protocol error).
fn drain(
    parser: &mut RequestParser,
    buf: &mut BytesMut,
    limits: &ParseLimits,
    out: &mut Outcome,
) -> bool {
    let mut argv = Vec::new();
    loop {
        match parser.parse(buf, limits, &mut argv) {
            Ok(true) => {
                assert!(!argv.is_empty(), "a command without arguments");
                out.0.push(argv.iter().map(|a| a.to_vec()).collect());
            }
            Ok(false) => return false,
            Err(e) => {
                // The reply must be one well-formed error line.
                let reply = e.reply();
                assert!(reply.starts_with(b"-ERR Protocol error: ") && reply.ends_with(b"\r\n"));
                assert!(!reply[..reply.len() - 2].contains(&b'\n'));
                out.1 = Some(e);
                return true;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let limits = ParseLimits {
        proto_max_bulk_len: if flags & 2 != 0 {
            64
        } else {
            512 * 1024 * 1024
        },
        authenticated: flags & 1 == 0,
    };
    let Some((&nsplits, rest)) = rest.split_first() else {
        return;
    };
    let nsplits = usize::from(nsplits).min(rest.len());
    let (splits, stream) = rest.split_at(nsplits);
    let repeated;
    let (stream, default_chunk) = if flags & 4 != 0 && !stream.is_empty() {
        repeated = stream.repeat(66_000 / stream.len() + 1);
        (&repeated[..], 997)
    } else {
        (stream, 1)
    };

    let mut whole = (Vec::new(), None, Vec::new());
    let mut buf = BytesMut::from(stream);
    drain(&mut RequestParser::default(), &mut buf, &limits, &mut whole);
    whole.2 = buf.to_vec();

    let mut chunked = (Vec::new(), None, Vec::new());
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::new();
    let mut pos = 0;
    let mut split_iter = splits.iter();
    while pos < stream.len() {
        // Chunk lengths come from the input; after they run out, a fixed size.
        let len = split_iter
            .next()
            .map_or(default_chunk, |&n| usize::from(n))
            .max(1);
        let end = (pos + len).min(stream.len());
        buf.extend_from_slice(&stream[pos..end]);
        pos = end;
        if drain(&mut parser, &mut buf, &limits, &mut chunked) {
            break;
        }
    }
    chunked.2 = buf.to_vec();
    assert_eq!(whole.0, chunked.0, "commands differ");
    assert_eq!(whole.1, chunked.1, "errors differ");
    if whole.1.is_none() {
        assert_eq!(whole.2, chunked.2, "leftover differs");
    }
});
