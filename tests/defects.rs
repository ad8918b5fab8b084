//! Issue 14 defects, part A: client-sized replies that must not allocate for the client's
//! number, CLIENT REPLY with SKIP/ON and push frames, `user` lines in the config, BGREWRITEAOF
//! during a BGSAVE, MODULE LOAD refused, the unauthenticated HELLO text. Each test runs against
//! ringkv at 1 and 2 shards and passes against redis-server (`RINGKV_TEST_AGAINST_REDIS=1`).

mod common;

use common::{ringkv_bin, run_bounded, wait_until, RawConn, Reply, Server, TestDir};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn for_shards(args: &[&str], test: impl Fn(&Server)) {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, args);
        test(&server);
    }
}

fn reply(c: &mut RawConn) -> Vec<u8> {
    c.read_reply_bytes(WAIT)
        .unwrap_or_else(|e| panic!("no reply: {e:?}"))
}

fn array_len(r: &Reply) -> usize {
    match r {
        Reply::Array(Some(items)) => items.len(),
        other => panic!("not an array: {other:?}"),
    }
}

/// Item 1: a negative count much larger than the key gives exactly that many picks, all
/// members of the key (the reply is the client's size, not a preallocation of it).
#[test]
fn random_picks_with_a_large_negative_count_answer_like_redis() {
    for_shards(&[], |server| {
        let mut c = server.raw();
        c.cmd(&["HSET", "h", "a", "1", "b", "2"]);
        c.cmd(&["SADD", "s", "a", "b", "3"]);
        c.cmd(&["SADD", "si", "1", "2", "3"]);
        c.cmd(&["ZADD", "z", "1", "a", "2", "b"]);
        let n = 20_000;
        let neg = format!("-{n}");
        for (args, per) in [
            (vec!["HRANDFIELD", "h", &neg], 1),
            (vec!["HRANDFIELD", "h", &neg, "WITHVALUES"], 2),
            (vec!["SRANDMEMBER", "s", &neg], 1),
            (vec!["SRANDMEMBER", "si", &neg], 1),
            (vec!["ZRANDMEMBER", "z", &neg], 1),
            (vec!["ZRANDMEMBER", "z", &neg, "WITHSCORES"], 2),
        ] {
            let r = c.cmd_reply(&args);
            assert_eq!(array_len(&r), n * per, "{args:?}");
            if let Reply::Array(Some(items)) = &r {
                for it in items.iter().step_by(per) {
                    let Reply::Bulk(Some(b)) = it else {
                        panic!("{args:?}: {it:?}")
                    };
                    assert!(
                        [&b"a"[..], b"b", b"1", b"2", b"3"].contains(&&b[..]),
                        "{args:?}: {b:?}"
                    );
                }
            }
        }
        // A missing key and a zero count stay empty; the range limits are Redis's.
        assert_eq!(array_len(&c.cmd_reply(&["HRANDFIELD", "nokey", "-5"])), 0);
        assert_eq!(array_len(&c.cmd_reply(&["SRANDMEMBER", "nokey", "-5"])), 0);
        assert_eq!(array_len(&c.cmd_reply(&["ZRANDMEMBER", "nokey", "-5"])), 0);
        assert_eq!(array_len(&c.cmd_reply(&["SRANDMEMBER", "s", "0"])), 0);
        assert!(c
            .cmd(&["HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"])
            .starts_with(b"-ERR value is out of range"));
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    });
}

/// Item 1: with an output limit, a reply of a billion picks closes that client only; the
/// server stays up and serves everyone else (ringkv once aborted on the allocation).
#[test]
fn a_huge_negative_count_closes_only_that_client() {
    for_shards(
        &["--client-output-buffer-limit", "normal 1mb 0 0"],
        |server| {
            let mut c = server.raw();
            c.cmd(&["HSET", "h", "a", "1"]);
            c.cmd(&["SADD", "s", "a"]);
            c.cmd(&["ZADD", "z", "1", "a"]);
            for args in [
                ["HRANDFIELD", "h", "-999999999"],
                ["SRANDMEMBER", "s", "-999999999"],
                ["ZRANDMEMBER", "z", "-999999999"],
            ] {
                let mut greedy = server.raw();
                greedy.send(&common::encode_command(&args));
                // Closed by the output buffer limit rather than answered in full; the server lives.
                assert!(greedy.is_closed(Duration::from_secs(30)), "{args:?}");
                let mut other = server.raw();
                assert!(
                    wait_until(WAIT, || other.cmd(&["PING"]) == b"+PONG\r\n"),
                    "{args:?}"
                );
            }
            assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
        },
    );
}

/// Item 3: CLIENT REPLY ON answers +OK after a SKIP (Redis clears the flags before it
/// replies), and subscribe confirmations (push frames) are delivered with replies silenced.
#[test]
fn client_reply_skip_on_and_pushes() {
    for_shards(&[], |server| {
        let mut c = server.raw();
        c.send(&common::encode_command(&["CLIENT", "REPLY", "SKIP"]));
        c.send(&common::encode_command(&["CLIENT", "REPLY", "ON"]));
        assert_eq!(reply(&mut c), b"+OK\r\n");
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
        // SKIP skips exactly the next reply.
        c.send(&common::encode_command(&["CLIENT", "REPLY", "SKIP"]));
        c.send(&common::encode_command(&["PING", "a"]));
        assert_eq!(c.cmd(&["PING", "b"]), b"$1\r\nb\r\n");
        // OFF then SKIP then ON: only the ON answers.
        c.send(&common::encode_command(&["CLIENT", "REPLY", "OFF"]));
        c.send(&common::encode_command(&["CLIENT", "REPLY", "SKIP"]));
        c.send(&common::encode_command(&["CLIENT", "REPLY", "ON"]));
        assert_eq!(reply(&mut c), b"+OK\r\n");
        assert_eq!(c.cmd(&["PING", "c"]), b"$1\r\nc\r\n");

        for (proto, head) in [("2", "*3"), ("3", ">3")] {
            for mode in ["OFF", "SKIP"] {
                let mut s = server.raw();
                if proto == "3" {
                    assert!(s.cmd(&["HELLO", "3"]).starts_with(b"%"));
                }
                s.send(&common::encode_command(&["CLIENT", "REPLY", mode]));
                s.send(&common::encode_command(&["SUBSCRIBE", "ch"]));
                let confirm = format!("{head}\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
                assert_eq!(reply(&mut s), confirm.as_bytes(), "RESP{proto} {mode}");
                if mode == "OFF" {
                    // A silenced command's ordinary reply stays silent.
                    s.send(&common::encode_command(&["PING", "x"]));
                } else {
                    // After SKIP, the next command answers again.
                    s.send(&common::encode_command(&["PING", "x"]));
                    let r = reply(&mut s);
                    assert!(r.ends_with(b"x\r\n"), "RESP{proto}: {r:?}");
                }
                let mut p = server.raw();
                assert!(wait_until(WAIT, || p.cmd(&["PUBLISH", "ch", "hello"]) == b":1\r\n"));
                let msg = format!("{head}\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
                assert_eq!(reply(&mut s), msg.as_bytes(), "RESP{proto} {mode}");
            }
        }
    });
}

fn start_output(args: &[&str]) -> (Option<i32>, String) {
    let dir = TestDir::new();
    let dir_s = dir.path().to_string_lossy().into_owned();
    let mut all = vec!["--port", "0", "--dir", &dir_s, "--save", ""];
    all.extend_from_slice(args);
    let out = run_bounded(20, &ringkv_bin(), &all);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// Item 4: the same user twice stops the server with Redis's error, from the command line
/// and from a file.
#[test]
fn a_duplicate_user_stops_the_server_with_redis_error() {
    let (code, text) = start_output(&["--user", "foo", "--user", "foo"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("*** FATAL CONFIG FILE ERROR"), "{text}");
    assert!(
        text.contains(
            "Error in user declaration 'foo': Duplicate user found. A user can only be \
             defined once in config files"
        ),
        "{text}"
    );
    let dir = TestDir::new();
    let conf = dir.join("users.conf");
    std::fs::write(&conf, "port 0\nsave \"\"\nuser foo on\nuser foo on\n").expect("conf");
    let out = run_bounded(20, &ringkv_bin(), &[&conf.to_string_lossy()]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("at line 4"), "{text}");
    assert!(text.contains(">>> 'user foo on'"), "{text}");
    assert!(text.contains("Duplicate user found"), "{text}");
}

/// Item 4: ringkv's data node has no ACL users yet, so a `user` line stops it at startup
/// instead of being ignored (Redis would run with the user).
#[test]
fn a_user_line_is_refused_not_ignored() {
    if common::against_redis() {
        return;
    }
    let (code, text) = start_output(&["--user", "alice", "on", ">pw", "~*", "+@all"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("*** FATAL CONFIG FILE ERROR"), "{text}");
    assert!(text.contains("'user' directive is not supported"), "{text}");
}

/// Item 18: BGREWRITEAOF during a BGSAVE is scheduled (and then runs), MODULE LOAD with
/// `enable-module-command no` gets Redis's error, the unauthenticated HELLO text is 7.0's.
#[test]
fn bgrewriteaof_scheduled_module_refused_hello_text() {
    for_shards(&[], |server| {
        let mut c = server.raw();
        for i in 0..20_000 {
            if i % 1000 == 0 {
                let args: Vec<String> = std::iter::once("MSET".to_string())
                    .chain((i..i + 1000).flat_map(|j| [format!("k{j}"), "x".repeat(100)]))
                    .collect();
                assert_eq!(c.cmd(&args), b"+OK\r\n");
            }
        }
        // Slow the save down so that it is still running when BGREWRITEAOF arrives.
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "100"]),
            b"+OK\r\n"
        );
        assert!(c
            .cmd(&["BGSAVE"])
            .starts_with(b"+Background saving started"));
        assert_eq!(
            c.cmd(&["BGREWRITEAOF"]),
            b"+Background append only file rewriting scheduled\r\n"
        );
        let info = |c: &mut RawConn| {
            String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).into_owned()
        };
        assert!(info(&mut c).contains("aof_rewrite_scheduled:1"));
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]),
            b"+OK\r\n"
        );
        assert!(
            wait_until(Duration::from_secs(60), || {
                let i = info(&mut c);
                i.contains("rdb_bgsave_in_progress:0")
                    && i.contains("aof_rewrite_scheduled:0")
                    && i.contains("aof_rewrite_in_progress:0")
                    && i.contains("aof_last_bgrewrite_status:ok")
            }),
            "{}",
            info(&mut c)
        );

        let not_allowed = b"-ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n";
        assert_eq!(c.cmd(&["MODULE", "LOAD", "/nonexistent.so"]), not_allowed);
        assert_eq!(c.cmd(&["MODULE", "LOADEX", "/nonexistent.so"]), not_allowed);
        assert_eq!(c.cmd(&["MODULE", "UNLOAD", "x"]), not_allowed);
        assert_eq!(c.cmd(&["MODULE", "LIST"]), b"*0\r\n");
    });
    let server = Server::ringkv(1, &["--requirepass", "pw"]);
    let mut c = server.raw();
    let want = b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n";
    assert_eq!(c.cmd(&["HELLO", "3"]), want);
    assert_eq!(c.cmd(&["HELLO", "2", "SETNAME", "x"]), want);
}

fn fill_every_type(c: &mut RawConn) {
    for db in ["0", "3", "9"] {
        assert_eq!(c.cmd(&["SELECT", db]), b"+OK\r\n");
        c.cmd(&["SET", "str", "hello"]);
        c.cmd(&["SET", "int", "12345"]);
        c.cmd(&["SET", "ttl", "v", "EX", "1000"]);
        c.cmd(&["RPUSH", "list", "a", "1", "b", "-7"]);
        c.cmd(&["SADD", "iset", "1", "2", "300", "-4"]);
        c.cmd(&["SADD", "set", "x", "y", "10"]);
        c.cmd(&[
            "ZADD", "zset", "1", "a", "2.5", "b", "-0.1", "c", "1e20", "d", "inf", "e",
        ]);
        c.cmd(&["HSET", "hash", "f", "v", "n", "42"]);
        c.cmd(&["HSET", "hashttl", "f", "v"]);
        c.cmd(&["PEXPIRE", "hashttl", "900000"]);
        // Past the listpack limits: the other encodings digest the same.
        let mut big_set = vec!["SADD".to_string(), "bigset".into()];
        let mut big_z = vec!["ZADD".to_string(), "bigz".into()];
        let mut big_h = vec!["HSET".to_string(), "bigh".into()];
        let mut big_l = vec!["RPUSH".to_string(), "bigl".into()];
        for i in 0..300 {
            big_set.push(format!("m{i}"));
            big_z.extend([format!("{}", i as f64 / 3.0), format!("m{i}")]);
            big_h.extend([format!("f{i}"), "v".repeat(i % 90)]);
            big_l.push("x".repeat(i));
        }
        for args in [big_set, big_z, big_h, big_l] {
            let r = c.cmd(&args);
            assert!(r.starts_with(b":"), "{r:?}");
        }
        c.cmd(&["SET", &format!("only-in-{db}"), db]);
    }
    c.cmd(&["SELECT", "0"]);
}

/// Item 16: DEBUG DIGEST and DIGEST-VALUE give redis-server's digests for the same data:
/// every type and encoding, with and without TTLs, several dbs.
#[test]
fn debug_digest_matches_redis() {
    let redis = common::RedisServer::start(&["--enable-debug-command", "yes"]);
    let mut r = redis.raw();
    let empty = format!("+{}\r\n", "0".repeat(40));
    assert_eq!(r.cmd(&["DEBUG", "DIGEST"]), empty.as_bytes());
    fill_every_type(&mut r);
    let keys = [
        "str", "int", "ttl", "list", "iset", "set", "zset", "hash", "hashttl", "bigset", "bigz",
        "bigh", "bigl", "missing",
    ];
    let mut dv = vec!["DEBUG", "DIGEST-VALUE"];
    dv.extend(keys);
    let want_all = r.cmd(&["DEBUG", "DIGEST"]);
    let want_values = r.cmd(&dv);
    assert_ne!(want_all, empty.as_bytes());
    for_shards(&["--enable-debug-command", "yes"], |server| {
        let mut c = server.raw();
        assert_eq!(c.cmd(&["DEBUG", "DIGEST"]), empty.as_bytes());
        fill_every_type(&mut c);
        assert_eq!(c.cmd(&["DEBUG", "DIGEST"]), want_all);
        assert_eq!(c.cmd(&dv), want_values);
        // Redis's fuzz runs a million rounds: give it time.
        c.send(&common::encode_command(&["DEBUG", "STRINGMATCH-TEST"]));
        assert_eq!(
            c.read_reply_bytes(Duration::from_secs(120)).expect("reply"),
            b"+Apparently Redis did not crash: test passed\r\n"
        );
        // A change anywhere changes the digest; undoing it restores it.
        c.cmd(&["SELECT", "9"]);
        c.cmd(&["HSET", "bigh", "f1", "changed"]);
        assert_ne!(c.cmd(&["DEBUG", "DIGEST"]), want_all);
        c.cmd(&["HSET", "bigh", "f1", "v"]);
        assert_eq!(c.cmd(&["DEBUG", "DIGEST"]), want_all);
        c.cmd(&["PERSIST", "ttl"]);
        assert_ne!(c.cmd(&["DEBUG", "DIGEST"]), want_all);
    });
}

/// Item 15: the key-finding flags and COMMAND GETKEYS of the commands whose keys move with
/// their arguments answer as redis-server's.
#[test]
fn movablekeys_flags_and_getkeys_match_redis() {
    let redis = common::RedisServer::start(&[]);
    let mut r = redis.raw();
    let infos = [
        "sort",
        "sort_ro",
        "zunionstore",
        "zinterstore",
        "zdiffstore",
        "zdiff",
        "zunion",
        "zinter",
        "blmpop",
        "bzmpop",
        "lmpop",
        "zmpop",
        "sintercard",
        "zintercard",
    ];
    let getkeys: &[&[&str]] = &[
        &["SORT", "k", "BY", "w_*", "GET", "o_*", "STORE", "dst"],
        &["SORT_RO", "k", "BY", "w_*"],
        &["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"],
        &["ZINTERSTORE", "d", "1", "a"],
        &["ZDIFF", "2", "a", "b", "WITHSCORES"],
        &["BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "2"],
        &["BZMPOP", "1", "1", "z", "MIN"],
        &["LMPOP", "1", "l", "RIGHT"],
        &["ZMPOP", "2", "x", "y", "MAX", "COUNT", "3"],
        &["SINTERCARD", "2", "s1", "s2", "LIMIT", "1"],
        &["ZINTERCARD", "1", "z"],
    ];
    let want_info: Vec<Vec<u8>> = infos
        .iter()
        .map(|c| r.cmd(&["COMMAND", "INFO", c]))
        .collect();
    let want_keys: Vec<Vec<u8>> = getkeys
        .iter()
        .map(|a| r.cmd(&[&["COMMAND", "GETKEYS"][..], a].concat()))
        .collect();
    for_shards(&[], |server| {
        let mut c = server.raw();
        for (cmd, want) in infos.iter().zip(&want_info) {
            assert_eq!(
                String::from_utf8_lossy(&c.cmd(&["COMMAND", "INFO", cmd])),
                String::from_utf8_lossy(want),
                "{cmd}"
            );
        }
        for (args, want) in getkeys.iter().zip(&want_keys) {
            assert_eq!(
                c.cmd(&[&["COMMAND", "GETKEYS"][..], args].concat()),
                *want,
                "{args:?}"
            );
        }
    });
}

/// Fills keys whose replies are each past 1 MB: a list, a set, a hash, a zset of 20000 elements
/// of 100 bytes, and 20000 keys with 60-byte names (KEYS, SCAN).
fn fill_big(c: &mut RawConn) {
    let elems: Vec<String> = (0..20_000).map(|i| format!("{i:0>100}")).collect();
    for chunk in elems.chunks(1000) {
        let mut cmds = Vec::new();
        for (cmd, key) in [("RPUSH", "biglist"), ("SADD", "bigset")] {
            let mut args = vec![cmd, key];
            args.extend(chunk.iter().map(String::as_str));
            cmds.push(common::encode_command(&args));
        }
        let mut hset = vec!["HSET".to_string(), "bighash".to_string()];
        let mut zadd = vec!["ZADD".to_string(), "bigzset".to_string()];
        let mut mset = vec!["MSET".to_string()];
        for (i, e) in chunk.iter().enumerate() {
            hset.extend([e.clone(), "v".to_string()]);
            zadd.extend([i.to_string(), e.clone()]);
            mset.extend([format!("{:0>60}", &e[e.len() - 8..]), "1".to_string()]);
        }
        cmds.push(common::encode_command(&hset));
        cmds.push(common::encode_command(&zadd));
        cmds.push(common::encode_command(&mset));
        c.send(&cmds.concat());
        for _ in 0..cmds.len() {
            let r = reply(c);
            assert!(!r.starts_with(b"-"), "{}", common::show(&r));
        }
    }
}

/// Item 1: every command whose reply size the client chooses closes that client once its
/// reply passes `client-output-buffer-limit normal`'s hard limit; others are served and the
/// server stays up. The keys sit on either shard at 2 shards, so replies built on another
/// shard close the client the same way.
fn big_replies_close_only_their_client(server: &Server) {
    let mut c = server.raw();
    fill_big(&mut c);
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 0 0"
        ]),
        b"+OK\r\n"
    );
    let mut sort_gets = vec!["SORT", "biglist", "BY", "nosort"];
    for _ in 0..20 {
        sort_gets.extend(["GET", "#"]);
    }
    let cases: Vec<Vec<&str>> = vec![
        vec!["LRANGE", "biglist", "0", "-1"],
        vec!["SMEMBERS", "bigset"],
        vec!["HGETALL", "bighash"],
        vec!["HKEYS", "bighash"],
        vec!["ZRANGE", "bigzset", "0", "-1", "WITHSCORES"],
        vec!["ZRANGE", "bigzset", "-inf", "+inf", "BYSCORE"],
        vec!["ZRANGE", "bigzset", "-", "+", "BYLEX"],
        vec!["ZREVRANGEBYSCORE", "bigzset", "+inf", "-inf", "WITHSCORES"],
        vec!["KEYS", "*"],
        vec!["SCAN", "0", "COUNT", "1000000"],
        vec!["SORT", "biglist", "BY", "nosort"],
        sort_gets,
    ];
    for args in &cases {
        let mut greedy = server.raw();
        greedy.send(&common::encode_command(args));
        assert!(
            greedy.is_closed(Duration::from_secs(30)),
            "{}: {args:?} was answered",
            server.bin
        );
        let mut other = server.raw();
        assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n", "{args:?}");
    }
    // Under the limit the same commands answer in full.
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 0 0 0"
        ]),
        b"+OK\r\n"
    );
    assert_eq!(
        array_len(&c.cmd_reply(&["LRANGE", "biglist", "0", "-1"])),
        20_000
    );
    assert_eq!(array_len(&c.cmd_reply(&["KEYS", "*"])), 20_004);
    let Reply::Bulk(Some(info)) = c.cmd_reply(&["INFO", "clients"]) else {
        panic!("INFO")
    };
    let info = String::from_utf8_lossy(&info).into_owned();
    assert!(
        wait_until(WAIT, || {
            let Reply::Bulk(Some(i)) = c.cmd_reply(&["INFO", "clients"]) else {
                return false;
            };
            String::from_utf8_lossy(&i).contains("connected_clients:1\r\n")
        }),
        "{info}"
    );
}

#[test]
fn big_client_sized_replies_close_only_that_client() {
    big_replies_close_only_their_client(&common::RedisServer::start(&[]));
    for_shards(&[], big_replies_close_only_their_client);
}
