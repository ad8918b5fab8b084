//! A replica restarted after SHUTDOWN continues with a partial resync, as Redis 7.0 does: the
//! final save names the master's replication id, the applied offset and the stream's db in its
//! AUX fields, and the startup load turns them into the cached master.
//!
//! The master is a real redis-server 7.0.15. Its stream keeps the db it last selected, so the
//! writes made while the replica is down (with no new SELECT) must land in that db after the
//! restart. The file ringkv wrote is also handed to a redis-server replica, which must continue
//! from it the same way.

mod common;

use common::{rcmd as cmd, value_text as text};

use common::{RedisServer, Server};
use redis::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> String {
    let info = text(&cmd(con, &["INFO", section]));
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

fn wait_get(port: u16, db: &str, key: &str, want: &str) -> bool {
    let mut c = common::client(port);
    cmd(&mut c, &["SELECT", db]);
    common::wait_until(WAIT, || {
        redis::cmd("GET")
            .arg(key)
            .query::<Option<String>>(&mut c)
            .ok()
            .flatten()
            .as_deref()
            == Some(want)
    })
}

/// The master's `slave0` line shows `state=online` with the replica's offset equal to its own.
fn caught_up(master: &mut redis::Connection) -> bool {
    common::wait_until(WAIT, || {
        let off = info_field(master, "replication", "master_repl_offset");
        let slave = info_field(master, "replication", "slave0");
        slave.contains("state=online") && slave.contains(&format!("offset={off},"))
    })
}

fn restart_continues(shards: usize) {
    let master = RedisServer::start(&["--repl-diskless-sync-delay", "0"]);
    let mport = master.port.to_string();
    let mut m = common::client(master.port);
    cmd(&mut m, &["SET", "before", "1"]);
    cmd(&mut m, &["RPUSH", "list", "a", "b"]);
    let mut replica = Server::ringkv(shards, &["--replicaof", "127.0.0.1", &mport]);
    assert!(
        wait_get(replica.port, "0", "before", "1"),
        "{}",
        replica.log()
    );
    // The stream's last SELECT is db 9; the writes while the replica is down follow it with
    // no SELECT of their own.
    cmd(&mut m, &["SELECT", "9"]);
    cmd(&mut m, &["SET", "in9", "x"]);
    assert!(wait_get(replica.port, "9", "in9", "x"), "{}", replica.log());
    assert!(caught_up(&mut m), "{}", replica.log());

    let mut r = common::client(replica.port);
    let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<Value>(&mut r);
    assert!(
        replica.wait_exit(WAIT).is_some(),
        "the replica exits after SHUTDOWN SAVE"
    );
    let dir = replica.dir.path_str();
    cmd(&mut m, &["SET", "while-down", "y"]);
    cmd(&mut m, &["INCR", "counter"]);
    assert_eq!(info_field(&mut m, "stats", "sync_partial_ok"), "0");
    let full_before = info_field(&mut m, "stats", "sync_full");

    let restarted = Server::ringkv(shards, &["--replicaof", "127.0.0.1", &mport, "--dir", &dir]);
    assert!(
        common::wait_until(WAIT, || info_field(&mut m, "stats", "sync_partial_ok")
            == "1"),
        "the restarted replica continues with a partial resync\n{}",
        restarted.log()
    );
    assert_eq!(info_field(&mut m, "stats", "sync_full"), full_before);
    assert!(restarted
        .log()
        .contains("Successful partial resynchronization with master."));
    // What came while it was down landed in the stream's db (9), what it had is still there.
    assert!(
        wait_get(restarted.port, "9", "while-down", "y"),
        "{}",
        restarted.log()
    );
    assert!(wait_get(restarted.port, "9", "counter", "1"));
    assert!(wait_get(restarted.port, "0", "before", "1"));
    let mut rr = common::client(restarted.port);
    let list: Vec<String> = redis::cmd("LRANGE")
        .arg("list")
        .arg(0)
        .arg(-1)
        .query(&mut rr)
        .unwrap();
    assert_eq!(list, ["a", "b"]);
    cmd(&mut m, &["SET", "after", "z"]);
    assert!(wait_get(restarted.port, "9", "after", "z"));

    // The same file, with ringkv's AUX fields, lets a real redis-server replica continue too.
    assert!(caught_up(&mut m), "{}", restarted.log());
    let mut rr = common::client(restarted.port);
    let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<Value>(&mut rr);
    let mut restarted = restarted;
    assert!(restarted.wait_exit(WAIT).is_some());
    cmd(&mut m, &["SET", "for-redis", "w"]);
    let partial_before: u64 = info_field(&mut m, "stats", "sync_partial_ok")
        .parse()
        .unwrap();
    let redis_replica = RedisServer::start(&["--replicaof", "127.0.0.1", &mport, "--dir", &dir]);
    assert!(
        common::wait_until(WAIT, || {
            info_field(&mut m, "stats", "sync_partial_ok")
                .parse::<u64>()
                .unwrap_or(0)
                == partial_before + 1
        }),
        "redis-server continues from ringkv's file\n{}",
        redis_replica.log()
    );
    assert!(wait_get(redis_replica.port, "9", "for-redis", "w"));
    assert!(wait_get(redis_replica.port, "9", "while-down", "y"));
}

#[test]
fn restarted_replica_continues_1_shard() {
    restart_continues(1);
}

#[test]
fn restarted_replica_continues_2_shards() {
    restart_continues(2);
}
