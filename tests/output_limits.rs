//! `client-output-buffer-limit`: a subscriber (pubsub class) or a client (normal class, hard,
//! and soft with seconds) that stops reading is disconnected once its pending output passes
//! the limit, with Redis's log line; the server keeps serving everyone else. CLIENT LIST shows
//! the real `omem`, `tot-mem`, `qbuf` and `qbuf-free`. Runs against redis-server too, in the
//! same test.

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

fn set_name(c: &mut common::RawConn, name: &str) {
    assert_eq!(
        c.cmd_reply(&["CLIENT", "SETNAME", name]),
        Reply::Simple(b"OK".to_vec())
    );
}

/// The CLIENT LIST fields of the client named `name`, None when it is gone.
fn client_fields(admin: &mut common::RawConn, name: &str) -> Option<Vec<(String, String)>> {
    let Reply::Bulk(Some(text)) = admin.cmd_reply(&["CLIENT", "LIST"]) else {
        panic!("CLIENT LIST did not answer a bulk");
    };
    let text = String::from_utf8_lossy(&text).into_owned();
    let needle = format!(" name={name} ");
    let line = text.lines().find(|l| l.contains(&needle))?;
    Some(
        line.split(' ')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn field(fields: &[(String, String)], key: &str) -> u64 {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric {key} in {fields:?}"))
}

/// A client pipelines GETs of a 100 KB value without reading the replies.
fn flood_gets(server: &Server, name: &str, n: usize) -> common::RawConn {
    let mut slow = server.raw();
    set_name(&mut slow, name);
    let get = common::encode_command(&["GET", "big"]);
    slow.send(&get.repeat(n));
    slow
}

fn normal_client_that_does_not_read(server: &Server, label: &str) {
    let mut admin = server.raw();
    let big = vec![b'v'; 100 * 1024];
    assert_eq!(
        admin.cmd_reply(&[&b"SET"[..], b"big", &big]),
        Reply::Simple(b"OK".to_vec())
    );
    // Hard limit: 40 MB of replies against 1 MB (the kernel's socket buffers take a few MB).
    assert_eq!(
        admin.cmd_reply(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 0 0"
        ]),
        Reply::Simple(b"OK".to_vec())
    );
    let mut slow = flood_gets(server, "hardreader", 400);
    let gone = common::wait_until(Duration::from_secs(10), || {
        client_fields(&mut admin, "hardreader").is_none()
    });
    assert!(
        gone,
        "{label}: the client past the hard limit is still connected"
    );
    assert!(
        slow.is_closed(Duration::from_secs(10)),
        "{label}: still open"
    );
    assert!(
        server.wait_log(
            "scheduled to be closed ASAP for overcoming of output buffer limits",
            Duration::from_secs(10)
        ),
        "{label}: no log line:\n{}",
        server.log()
    );

    // Soft limit with seconds: past 4 MB for more than 1 s. Before that its omem shows what
    // it holds.
    assert_eq!(
        admin.cmd_reply(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 0 4mb 1"
        ]),
        Reply::Simple(b"OK".to_vec())
    );
    // One 20 MB reply.
    let huge = vec![b'h'; 20 << 20];
    assert_eq!(
        admin.cmd_reply(&[&b"SET"[..], b"huge", &huge]),
        Reply::Simple(b"OK".to_vec())
    );
    let mut slow = server.raw();
    set_name(&mut slow, "softreader");
    slow.send(&common::encode_command(&["GET", "huge"]));
    let mut omem_seen = 0;
    let gone = common::wait_until(Duration::from_secs(15), || {
        match client_fields(&mut admin, "softreader") {
            None => true,
            Some(f) => {
                let omem = field(&f, "omem");
                assert!(
                    field(&f, "tot-mem") >= omem,
                    "{label}: tot-mem < omem: {f:?}"
                );
                omem_seen = omem_seen.max(omem);
                // Redis checks the limits when it adds a reply: keep asking.
                slow.send(&common::encode_command(&["GET", "big"]));
                false
            }
        }
    });
    assert!(
        gone,
        "{label}: the client past the soft limit is still connected"
    );
    assert!(
        omem_seen >= 4 << 20,
        "{label}: omem never showed the pending output (max {omem_seen})"
    );

    // Everyone else is unaffected; a client that reads gets its big replies.
    let mut reader = server.raw();
    for _ in 0..50 {
        assert_eq!(
            reader.cmd_reply(&["GET", "big"]),
            Reply::Bulk(Some(big.clone()))
        );
    }
    assert_eq!(admin.cmd_reply(&["PING"]), Reply::Simple(b"PONG".to_vec()));
}

#[test]
fn normal_client_that_does_not_read_is_disconnected_hard_and_soft() {
    normal_client_that_does_not_read(&RedisServer::start(&[]), "redis-server");
    normal_client_that_does_not_read(&Server::ringkv(1, &[]), "ringkv(1)");
    normal_client_that_does_not_read(&Server::ringkv(2, &[]), "ringkv(2)");
}

fn query_buffer_shows_in_client_list(server: &Server, label: &str) {
    let mut admin = server.raw();
    let mut partial = server.raw();
    set_name(&mut partial, "partial");
    // A SET whose 20000-byte value has arrived only up to half.
    let mut head = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$20000\r\n".to_vec();
    head.extend(vec![b'x'; 10000]);
    partial.send(&head);
    let mut last = Vec::new();
    let seen = common::wait_until(Duration::from_secs(10), || {
        last = client_fields(&mut admin, "partial").unwrap_or_default();
        !last.is_empty() && field(&last, "qbuf") >= 10000
    });
    assert!(
        seen,
        "{label}: qbuf never showed the partial request: {last:?}"
    );
    // Redis keeps the unparsed part (10000); ringkv the whole request so far.
    let qbuf = field(&last, "qbuf");
    assert!(qbuf <= 10000 + 64, "{label}: qbuf {qbuf}");
    assert!(field(&last, "qbuf-free") > 0, "{label}: {last:?}");
    assert!(field(&last, "tot-mem") >= qbuf, "{label}: {last:?}");
    partial.send(&vec![b'x'; 10000]);
    partial.send(b"\r\n");
    assert_eq!(partial.read_reply(), Reply::Simple(b"OK".to_vec()));
    let f = client_fields(&mut admin, "partial").expect("client gone");
    assert_eq!(field(&f, "qbuf"), 0, "{label}: {f:?}");
    assert_eq!(field(&f, "omem"), 0, "{label}: {f:?}");
}

#[test]
fn query_buffer_shows_in_client_list_qbuf_and_qbuf_free() {
    query_buffer_shows_in_client_list(&RedisServer::start(&[]), "redis-server");
    query_buffer_shows_in_client_list(&Server::ringkv(1, &[]), "ringkv(1)");
    query_buffer_shows_in_client_list(&Server::ringkv(2, &[]), "ringkv(2)");
}

/// Pipelines `GET small` in writes of 1000 without ever reading, until `total` were sent or
/// the server closed the connection. True when a write failed (the connection was closed).
fn pipeline_without_reading(c: &mut common::RawConn, total: usize) -> bool {
    use std::io::Write;
    c.stream
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let chunk = common::encode_command(&["GET", "small"]).repeat(1000);
    for _ in 0..total / 1000 {
        match c.stream.write_all(&chunk) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("the server stopped reading the pipelining client: {e}")
            }
            Err(_) => return true,
        }
    }
    false
}

fn info_field(admin: &mut common::RawConn, field: &str) -> i64 {
    let Reply::Bulk(Some(text)) = admin.cmd_reply(&["INFO", "clients"]) else {
        panic!("INFO did not answer a bulk");
    };
    let text = String::from_utf8_lossy(&text).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {text}"))
}

fn pipelining_client_that_never_reads(server: &Server, label: &str) {
    let mut admin = server.raw();
    let small = vec![b's'; 100];
    assert_eq!(
        admin.cmd_reply(&[&b"SET"[..], b"small", &small]),
        Reply::Simple(b"OK".to_vec())
    );
    // Hard limit: small replies that only add up past it (each read of requests gives far
    // less than 1 MB of replies), so the server must keep reading while they wait.
    assert_eq!(
        admin.cmd_reply(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 0 0"
        ]),
        Reply::Simple(b"OK".to_vec())
    );
    let mut flood = server.raw();
    set_name(&mut flood, "flood");
    pipeline_without_reading(&mut flood, 400_000);
    assert!(
        flood.is_closed(Duration::from_secs(10)),
        "{label}: the pipelining client was not closed"
    );
    assert!(
        common::wait_until(Duration::from_secs(10), || client_fields(
            &mut admin, "flood"
        )
        .is_none()),
        "{label}: still in CLIENT LIST"
    );
    assert!(
        server.wait_log(
            "scheduled to be closed ASAP for overcoming of output buffer limits",
            Duration::from_secs(10)
        ),
        "{label}: no log line:\n{}",
        server.log()
    );

    // Soft limit with seconds: past 512 KB, closed once a reply is added more than a second
    // after it was first passed.
    assert_eq!(
        admin.cmd_reply(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 0 512kb 1"
        ]),
        Reply::Simple(b"OK".to_vec())
    );
    let mut soft = server.raw();
    set_name(&mut soft, "softflood");
    let mut closed = pipeline_without_reading(&mut soft, 60_000);
    closed = closed
        || common::wait_until(Duration::from_secs(15), || {
            std::thread::sleep(Duration::from_millis(200));
            pipeline_without_reading(&mut soft, 1000)
                || client_fields(&mut admin, "softflood").is_none()
        });
    assert!(
        closed,
        "{label}: the client past the soft limit is still connected"
    );
    assert!(
        soft.is_closed(Duration::from_secs(10)),
        "{label}: soft: still open"
    );

    // Everyone else is served; the server's view of its clients is sane.
    assert_eq!(admin.cmd_reply(&["PING"]), Reply::Simple(b"PONG".to_vec()));
    let mut reader = server.raw();
    for _ in 0..100 {
        assert_eq!(
            reader.cmd_reply(&["GET", "small"]),
            Reply::Bulk(Some(small.clone()))
        );
    }
    assert!(
        common::wait_until(Duration::from_secs(10), || info_field(
            &mut admin,
            "connected_clients"
        ) == 2),
        "{label}: connected_clients: {}",
        info_field(&mut admin, "connected_clients")
    );
}

#[test]
fn pipelining_client_that_never_reads_is_closed_hard_and_soft() {
    pipelining_client_that_never_reads(&RedisServer::start(&[]), "redis-server");
    pipelining_client_that_never_reads(&Server::ringkv(1, &[]), "ringkv(1)");
    pipelining_client_that_never_reads(&Server::ringkv(2, &[]), "ringkv(2)");
}
