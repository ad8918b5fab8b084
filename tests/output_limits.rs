//! `client-output-buffer-limit pubsub`: a subscriber that stops reading is disconnected once
//! its pending output passes the hard limit; the server keeps serving everyone else. Runs
//! against redis-server too, in the same test.

mod common;

use common::{RedisServer, Reply, Server};
use std::time::Duration;

fn bulk(s: &[u8]) -> Reply {
    Reply::Bulk(Some(s.to_vec()))
}

fn slow_subscriber_is_disconnected(server: &Server, label: &str) {
    let mut admin = server.raw();
    assert_eq!(
        admin.cmd_reply(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 2mb 1mb 60"
        ]),
        Reply::Simple(b"OK".to_vec())
    );
    // Never reads after subscribing.
    let mut slow = server.raw();
    slow.cmd_reply(&["SUBSCRIBE", "firehose"]);
    let mut other = server.raw();
    other.cmd_reply(&["SUBSCRIBE", "quiet"]);

    let payload = vec![b'x'; 256 * 1024];
    let mut publisher = server.raw();
    // The kernel's socket buffers take a few MB first; 256 MB is far more than both.
    let mut receivers = 1;
    for _ in 0..1024 {
        let r = publisher.cmd_reply(&[&b"PUBLISH"[..], b"firehose", &payload]);
        if r == Reply::Integer(0) {
            receivers = 0;
            break;
        }
    }
    assert_eq!(
        receivers, 0,
        "{label}: the slow subscriber was never disconnected"
    );
    assert!(
        slow.is_closed(Duration::from_secs(10)),
        "{label}: the slow subscriber's connection is still open"
    );
    // Everyone else is unaffected.
    assert_eq!(
        publisher.cmd_reply(&["PUBLISH", "quiet", "hi"]),
        Reply::Integer(1)
    );
    assert_eq!(
        other.read_reply(),
        Reply::Array(Some(vec![bulk(b"message"), bulk(b"quiet"), bulk(b"hi")]))
    );
    assert_eq!(admin.cmd_reply(&["PING"]), Reply::Simple(b"PONG".to_vec()));
    assert!(
        server.wait_log(
            "scheduled to be closed ASAP for overcoming of output buffer limits",
            Duration::from_secs(10)
        ),
        "{label}: no log line:\n{}",
        server.log()
    );
}

#[test]
fn subscriber_that_does_not_read_is_disconnected() {
    slow_subscriber_is_disconnected(&RedisServer::start(&[]), "redis-server");
    slow_subscriber_is_disconnected(&Server::ringkv(1, &[]), "ringkv(1)");
    slow_subscriber_is_disconnected(&Server::ringkv(2, &[]), "ringkv(2)");
}
