//! DEBUG subcommands operators and test suites use, compared with redis-server 7.0.15.

mod common;

use common::{Kind, Server};

/// The same commands give the same bytes on redis-server and on ringkv (1 and 2 shards).
#[test]
fn debug_subcommands_answer_as_redis() {
    let script: &[&[&str]] = &[
        &["DEBUG", "JMAP"],
        &["DEBUG", "STRINGMATCH-LEN"],
        &["DEBUG", "Jmap", "a", "b"],
        &["DEBUG", "HELP", "x"],
        &["DEBUG", "CHANGE-REPL-ID", "x"],
        &["DEBUG", "SET-ACTIVE-EXPIRE"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "4293918720"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "4293918721"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "5gb"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "abc"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "-1"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"],
        &["DEBUG", "PAUSE-CRON", "x"],
        &["DEBUG", "PAUSE-CRON", "0"],
        &["DEBUG", "CHANGE-REPL-ID"],
        &["DEBUG", "LISTPACK", "nokey"],
        &["DEBUG", "QUICKLIST", "nokey"],
        &["RPUSH", "l", "a", "b"],
        &["HSET", "h", "a", "b"],
        &["SET", "s", "v"],
        &["DEBUG", "LISTPACK", "l"],
        &["DEBUG", "LISTPACK", "h"],
        &["DEBUG", "LISTPACK", "s"],
        &["DEBUG", "QUICKLIST", "l"],
        &["DEBUG", "QUICKLIST", "l", "1"],
        &["DEBUG", "QUICKLIST", "h"],
        &["DEBUG", "QUICKLIST", "s"],
        &["DEBUG", "ERROR", "foo bar"],
        &["DEBUG", "ERROR", "WRONGTYPE x\r\ny"],
        &["DEBUG", "LOG", "hello from the test"],
    ];
    let run = |server: &Server| -> Vec<Vec<u8>> {
        let mut c = server.raw();
        script.iter().map(|argv| c.cmd(argv)).collect()
    };
    let args = ["--enable-debug-command", "yes"];
    let redis = Server::start(Kind::Redis, None, &args);
    let want = run(&redis);
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &args);
        let got = run(&server);
        for (i, argv) in script.iter().enumerate() {
            assert_eq!(
                common::show(&got[i]),
                common::show(&want[i]),
                "{argv:?} at {shards} shards"
            );
        }
        assert!(server.wait_log(
            "DEBUG LOG: hello from the test",
            std::time::Duration::from_secs(5)
        ));
    }
}

/// CHANGE-REPL-ID gives a new replid and forgets the secondary one.
#[test]
fn change_repl_id_changes_the_replid() {
    let server = Server::ringkv(2, &["--enable-debug-command", "yes"]);
    let mut c = server.raw();
    let field = |info: &[u8], name: &str| -> String {
        let text = String::from_utf8_lossy(info).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
            .unwrap_or_default()
    };
    let before = c.cmd(&["INFO", "replication"]);
    assert_eq!(c.cmd(&["DEBUG", "CHANGE-REPL-ID"]), b"+OK\r\n");
    let after = c.cmd(&["INFO", "replication"]);
    assert_eq!(field(&after, "master_replid").len(), 40);
    assert_ne!(
        field(&before, "master_replid"),
        field(&after, "master_replid")
    );
    assert_eq!(field(&after, "master_replid2"), "0".repeat(40));
}

/// PAUSE-CRON 1 stops active expiry (a cron job); 0 restarts it.
#[test]
fn pause_cron_stops_active_expiry() {
    let server = Server::ringkv(1, &["--enable-debug-command", "yes"]);
    let mut c = server.raw();
    assert_eq!(c.cmd(&["DEBUG", "PAUSE-CRON", "1"]), b"+OK\r\n");
    c.cmd(&["SET", "k", "v", "PX", "50"]);
    std::thread::sleep(std::time::Duration::from_millis(400));
    // Still counted by DBSIZE: nothing expired it in the background.
    assert_eq!(c.cmd(&["DBSIZE"]), b":1\r\n");
    assert_eq!(c.cmd(&["DEBUG", "PAUSE-CRON", "0"]), b"+OK\r\n");
    assert!(common::wait_until(
        std::time::Duration::from_secs(10),
        || c.cmd(&["DBSIZE"]) == b":0\r\n"
    ));
}
