//! Keyspace notifications: subscribers on `__key*@*__:*` see exactly the events redis-server
//! 7.0.15 publishes for the same script of commands, with 1 and 2 shards (several subscribers,
//! so both shards hold some). Each script runs against a real redis-server in the same test and
//! the two event sequences are compared.

mod common;

use common::{encode_command, split_args, wait_until, RawConn, RedisServer, Reply, Server};
use std::time::Duration;

const SCRIPT: &str = r#"
SET s 1
SET s 2 EX 100
APPEND s x
SETRANGE s 1 yy
GETSET s z
INCR n
INCRBY n 5
DECR n
INCRBYFLOAT f 1.5
MSET a 1 b 2
SETNX a 3
SETNX c 3
GETDEL c
GETEX a EX 100
GETEX a PERSIST
EXPIRE a 100
PERSIST a
EXPIRE a -1
GET nosuchkey
SETBIT bits 3 1
SETBIT bits 3 1
BITOP OR bdst bits
BITOP AND bdst nokey
BITFIELD bf SET u8 0 5
RENAME b b2
SET b4 x
RENAME b2 b4
COPY b4 b5
COPY b4 b5 REPLACE
MOVE b5 1
DEL b4 nokey
LPUSH l a b c
RPUSH l d
LPUSHX nol x
LPOP l
RPOP l 1
LSET l 0 q
LINSERT l BEFORE q p
LREM l 0 p
LTRIM l 0 0
LMOVE l l2 LEFT RIGHT
RPUSH l3 x
RPOPLPUSH l2 l3
LMPOP 1 l3 LEFT COUNT 5
RPUSH bl a b c
BLPOP bl 0.1
BRPOP bl 0.1
BLMOVE bl bl2 LEFT RIGHT 0.1
BRPOPLPUSH bl2 bl3 0.1
BLMPOP 0.1 1 bl3 LEFT COUNT 5
ZADD bz 1 a 2 b 3 c
BZPOPMIN bz 0.1
BZPOPMAX bz 0.1
BZMPOP 0.1 1 bz MIN COUNT 5
HSET h f 1 g 2
HSET h f 1
HSETNX h f 3
HSETNX h k 3
HINCRBY h f 2
HINCRBYFLOAT h f 1.5
HDEL h f g k
SADD s1 a b c
SADD s1 a
SREM s1 a
SMOVE s1 s2 b
SPOP s1
SADD s3 x y
SADD s2 x
SINTERSTORE si s2 s3
SUNIONSTORE su s2 s3
SDIFFSTORE su s2 s2
ZADD z 1 a 2 b 3 c
ZINCRBY z 1 a
ZADD z 2 a
ZREM z a
ZREMRANGEBYSCORE z 0 2
ZADD z 5 x 6 y
ZPOPMIN z
ZPOPMAX z 5
ZADD z1 1 a
ZUNIONSTORE zu 1 z1
ZINTERSTORE zi 2 z1 nokey
ZRANGESTORE zr z1 0 -1
ZDIFFSTORE zd 1 z1
ZREMRANGEBYRANK zu 0 -1
ZMPOP 1 zr MAX
RPUSH sl 3 1 2
SORT sl STORE sd
SORT nokey STORE sd
SORT nokey STORE sd
EXISTS nokey
TYPE nokey
TTL nokey
HGET nokey f
LRANGE nokey 0 -1
SMEMBERS nokey
ZRANGE nokey 0 -1
STRLEN nokey
MGET nokey s
GETDEL nokey
GETEX nokey
LPOP nokey
HGETALL nokey
SCARD nokey
ZSCORE nokey a
OBJECT ENCODING nokey
GETRANGE nokey 0 1
BITCOUNT nokey
GETBIT nokey 1
LLEN nokey
LINDEX nokey 0
HEXISTS nokey f
SISMEMBER nokey a
ZCARD nokey
PTTL nokey
LPOS nokey a
HLEN nokey
SRANDMEMBER nokey
ZRANK nokey a
SINTER nokey
SUNION nokey a
ZUNION 1 nokey
BITPOS nokey 1
LCS nokey nokey2
HRANDFIELD nokey
HSTRLEN nokey f
SMISMEMBER nokey a
ZMSCORE nokey a
EXPIRETIME nokey
TOUCH nokey
OBJECT FREQ nokey
BITFIELD_RO nokey GET u8 0
HMGET nokey a
HKEYS nokey
HVALS nokey
SDIFF nokey
ZCOUNT nokey 0 1
ZRANGEBYSCORE nokey 0 1
ZRANDMEMBER nokey
HSCAN nokey 0
SSCAN nokey 0
ZSCAN nokey 0
SINTERCARD 1 nokey
ZINTERCARD 1 nokey
ZLEXCOUNT nokey - +
ZREVRANGE nokey 0 1
SET end 1
"#;

const SUBSCRIBERS: usize = 4;

fn pattern_messages(sub: &mut RawConn) -> Vec<(String, String)> {
    let mut got = Vec::new();
    loop {
        let reply = sub.read_reply();
        let Reply::Array(Some(parts)) = reply else {
            panic!("not a pub/sub message: {reply:?}");
        };
        let text = |r: &Reply| match r {
            Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("not a bulk string: {other:?}"),
        };
        assert_eq!(text(&parts[0]), "pmessage");
        let (channel, message) = (text(&parts[2]), text(&parts[3]));
        got.push((channel, message));
        if sub_done(&got) {
            return got;
        }
    }
}

/// Whether the sequence holds the last publication of the final `SET end 1` (its keyevent
/// one, or its keyspace one when E is not configured).
fn sub_done(got: &[(String, String)]) -> bool {
    got.last().is_some_and(|(c, m)| {
        (c == "__keyevent@0__:set" && m == "end") || (c == "__keyspace@0__:end" && m == "set")
    })
}

/// Runs the script with `flags` configured and returns what each subscriber saw.
fn run(server: &Server, flags: &str) -> Vec<Vec<(String, String)>> {
    let mut admin = server.raw();
    assert_eq!(
        admin.cmd_reply(&["FLUSHALL"]),
        Reply::Simple(b"OK".to_vec())
    );
    assert_eq!(
        admin.cmd_reply(&["CONFIG", "SET", "notify-keyspace-events", flags]),
        Reply::Simple(b"OK".to_vec())
    );
    let mut subs: Vec<RawConn> = (0..SUBSCRIBERS).map(|_| server.raw()).collect();
    for s in &mut subs {
        s.cmd_reply(&["PSUBSCRIBE", "__key*@*__:*"]);
    }
    let mut client = server.raw();
    for line in SCRIPT.lines().filter(|l| !l.trim().is_empty()) {
        let args = split_args(line).expect("script line");
        client.cmd_reply(&args);
    }
    let seen = subs.iter_mut().map(pattern_messages).collect();
    admin.cmd_reply(&["CONFIG", "SET", "notify-keyspace-events", ""]);
    seen
}

fn compare(flags: &str) {
    let redis = RedisServer::start(&[]);
    let expected = run(&redis, flags);
    assert!(expected.iter().all(|s| *s == expected[0]));
    assert!(
        expected[0].len() > 10,
        "redis published too little: {expected:?}"
    );
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        let got = run(&server, flags);
        for (i, seq) in got.iter().enumerate() {
            if *seq != expected[0] {
                let first = seq
                    .iter()
                    .zip(&expected[0])
                    .position(|(a, b)| a != b)
                    .unwrap_or(seq.len().min(expected[0].len()));
                panic!(
                    "{shards} shard(s), subscriber {i}, flags {flags}: first difference at {first}\n got: {:?}\nwant: {:?}",
                    &seq[first.saturating_sub(2)..seq.len().min(first + 4)],
                    &expected[0][first.saturating_sub(2)..expected[0].len().min(first + 4)]
                );
            }
        }
    }
}

#[test]
fn every_family_publishes_what_redis_publishes() {
    compare("KEA");
}

#[test]
fn new_key_events_and_single_channel_kinds() {
    compare("KEn$lshzg");
}

#[test]
fn key_miss_events() {
    compare("Em$");
}

#[test]
fn only_configured_classes_and_channels() {
    compare("El$");
    compare("Kz$");
}

/// Keys that expire publish `expired`: lazily (a read finds the key dead) and from the active
/// expiry cycle.
#[test]
fn expired_keys_publish_expired() {
    for server in [
        RedisServer::start(&[]),
        Server::ringkv(1, &[]),
        Server::ringkv(2, &[]),
    ] {
        let mut c = server.raw();
        c.cmd_reply(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
        let mut sub = server.raw();
        sub.cmd_reply(&["SUBSCRIBE", "__keyevent@0__:expired"]);
        c.cmd_reply(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        c.cmd_reply(&["SET", "lazy", "v", "PX", "1"]);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(c.cmd_reply(&["GET", "lazy"]), Reply::Bulk(None));
        let msg = |k: &str| {
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"message".to_vec())),
                Reply::Bulk(Some(b"__keyevent@0__:expired".to_vec())),
                Reply::Bulk(Some(k.as_bytes().to_vec())),
            ]))
        };
        assert_eq!(sub.read_reply(), msg("lazy"));
        c.cmd_reply(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
        c.cmd_reply(&["SET", "active", "v", "PX", "1"]);
        // Nobody reads the key: only the active cycle can find it.
        assert_eq!(sub.read_reply(), msg("active"));
    }
}

#[test]
fn config_round_trip_uses_redis_flag_order() {
    let server = Server::ringkv(1, &[]);
    let redis = RedisServer::start(&[]);
    for flags in ["KEA", "Kx", "gE$lshzxetmdnK", "AKEmn", "lhK", ""] {
        let mut answers = Vec::new();
        for s in [&server, &redis] {
            let mut c = s.raw();
            c.cmd_reply(&["CONFIG", "SET", "notify-keyspace-events", flags]);
            answers.push(c.cmd_reply(&["CONFIG", "GET", "notify-keyspace-events"]));
        }
        assert_eq!(answers[0], answers[1], "flags {flags}");
    }
}

/// A RESP3 connection subscribed to its own keyspace events receives the event push before
/// the reply of the command that caused it.
#[test]
fn own_events_arrive_before_the_reply_in_resp3() {
    let mut seen = Vec::new();
    for server in [
        RedisServer::start(&[]),
        Server::ringkv(1, &[]),
        Server::ringkv(2, &[]),
    ] {
        let mut c = server.raw();
        c.cmd_reply(&["HELLO", "3"]);
        c.cmd_reply(&["CONFIG", "SET", "notify-keyspace-events", "K$"]);
        c.cmd_reply(&["PSUBSCRIBE", "__keyspace@0__:*"]);
        let mut bytes = c.cmd(&["SET", "foo", "bar"]);
        bytes.extend(
            c.read_reply_bytes(Duration::from_secs(10))
                .expect("second frame"),
        );
        seen.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    assert!(seen[0].ends_with("+OK\r\n"), "{}", seen[0]);
    assert_eq!(seen[1], seen[0]);
    assert_eq!(seen[2], seen[0]);
}

/// A blocked client served by a later push publishes the pop (and `del`) right after the
/// push, as on Redis.
#[test]
fn served_blocking_pops_publish_their_events() {
    fn run_served(server: &Server) -> Vec<(String, String)> {
        let mut admin = server.raw();
        admin.cmd_reply(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
        let mut sub = server.raw();
        sub.cmd_reply(&["PSUBSCRIBE", "__keyevent@*__:*"]);
        let port = server.port;
        let mut blocked = Vec::new();
        for cmd in [
            vec!["BLPOP", "sv1", "sv0", "10"],
            vec!["BZPOPMIN", "sz", "10"],
            // One shard for both keys: a served BLMOVE across shards pushes one hop later and
            // its event order differs (README, Differences from Redis).
            vec!["BLMOVE", "{sv}2", "{sv}3", "RIGHT", "LEFT", "10"],
        ] {
            let mut c = RawConn::connect(port);
            c.send(&encode_command(&cmd));
            blocked.push(c);
            // Each client is blocked before the next step (CLIENT LIST shows flags=b).
            let n = blocked.len();
            assert!(wait_until(Duration::from_secs(10), || {
                let list = admin.cmd_reply(&["CLIENT", "LIST"]);
                let Reply::Bulk(Some(b)) = list else {
                    return false;
                };
                String::from_utf8_lossy(&b).matches("flags=b").count() == n
            }));
        }
        admin.cmd_reply(&["RPUSH", "sv0", "x"]);
        admin.cmd_reply(&["ZADD", "sz", "1", "m"]);
        admin.cmd_reply(&["RPUSH", "{sv}2", "y"]);
        for c in &mut blocked {
            c.read_reply();
        }
        admin.cmd_reply(&["SET", "end", "1"]);
        let got = pattern_messages(&mut sub);
        admin.cmd_reply(&["CONFIG", "SET", "notify-keyspace-events", ""]);
        got
    }
    let expected = run_served(&RedisServer::start(&[]));
    assert!(expected.len() > 5, "{expected:?}");
    for shards in [1, 2] {
        let got = run_served(&Server::ringkv(shards, &[]));
        assert_eq!(got, expected, "{shards} shard(s)");
    }
}
