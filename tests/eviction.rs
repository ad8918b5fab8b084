//! `maxmemory` and eviction: filling past a small limit keeps the process under it (counted by
//! the allocator, INFO used_memory), each `maxmemory-policy` evicts the keys it may (volatile-*
//! only keys with a TTL), noeviction answers `-OOM`, evictions are counted, published and
//! leave recently/frequently used keys more often than the others; OBJECT FREQ follows Redis's
//! LFU counter and RESTORE ... FREQ / the RDB FREQ opcode keep it. 1 and 2 shards; run with
//! RINGKV_TEST_AGAINST_REDIS=1 to check the expectations on redis-server.

mod common;

use common::{encode_command, wait_until, RawConn, RedisServer, Reply, Server};
use std::time::Duration;

const OOM: &[u8] = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n";
const VALUE_LEN: usize = 1000;

fn info_field(c: &mut RawConn, section: &str, field: &str) -> u64 {
    let Reply::Bulk(Some(text)) = c.cmd_reply(&["INFO", section]) else {
        panic!("INFO {section}");
    };
    let text = String::from_utf8_lossy(&text).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
}

fn int(r: Reply) -> i64 {
    match r {
        Reply::Integer(i) => i,
        other => panic!("not an integer: {other:?}"),
    }
}

/// Sets `maxmemory` to what the server uses now plus `headroom` bytes; returns the limit.
fn limit_above_now(c: &mut RawConn, headroom: u64) -> u64 {
    let used = info_field(c, "memory", "used_memory");
    let limit = used + headroom;
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory", &limit.to_string()]),
        b"+OK\r\n"
    );
    limit
}

/// Writes `n` keys `prefix{i}` of VALUE_LEN bytes (`extra` args appended, e.g. EX 1000), in
/// pipelined batches; returns the replies that were not +OK.
fn fill(c: &mut RawConn, prefix: &str, n: usize, extra: &[&str]) -> Vec<Vec<u8>> {
    let value = "v".repeat(VALUE_LEN);
    let mut other = Vec::new();
    for start in (0..n).step_by(50) {
        let end = (start + 50).min(n);
        let mut buf = Vec::new();
        for i in start..end {
            let key = format!("{prefix}{i}");
            let mut args = vec!["SET", &key, &value];
            args.extend_from_slice(extra);
            buf.extend(encode_command(&args));
        }
        c.send(&buf);
        for _ in start..end {
            let r = c
                .read_reply_bytes(Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("no reply: {e:?}"));
            if r != b"+OK\r\n" {
                other.push(r);
            }
        }
    }
    other
}

/// How many of `prefix{i}` for i in `range` exist.
fn count_existing(c: &mut RawConn, prefix: &str, range: std::ops::Range<usize>) -> usize {
    let mut n = 0;
    for i in range {
        n += int(c.cmd_reply(&["EXISTS", &format!("{prefix}{i}")])) as usize;
    }
    n
}

fn touch(c: &mut RawConn, prefix: &str, range: std::ops::Range<usize>) {
    let mut buf = Vec::new();
    let count = range.len();
    for i in range {
        buf.extend(encode_command(&["GET", &format!("{prefix}{i}")]));
    }
    c.send(&buf);
    for _ in 0..count {
        c.read_reply_bytes(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("no reply: {e:?}"));
    }
}

/// The process stays near the limit: at most the last command's data and INFO's own buffers
/// above it.
fn assert_bounded(c: &mut RawConn, limit: u64, label: &str) {
    let used = info_field(c, "memory", "used_memory");
    assert!(
        used <= limit + 256 * 1024,
        "{label}: used_memory {used} far above maxmemory {limit}"
    );
}

#[test]
fn allkeys_policies_stay_under_the_limit_and_count_evictions() {
    for shards in [1, 2] {
        for policy in ["allkeys-lru", "allkeys-lfu", "allkeys-random"] {
            let label = format!("{shards} shard(s), {policy}");
            let s = Server::ringkv(shards, &["--maxmemory-policy", policy]);
            let mut c = s.raw();
            let limit = limit_above_now(&mut c, 2 << 20);
            let written = 6000;
            let errors = fill(&mut c, "k", written, &[]);
            assert!(errors.is_empty(), "{label}: {:?}", errors.first());
            assert_bounded(&mut c, limit, &label);
            // Every command may evict: lift the limit so the counts hold still.
            assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", "0"]), b"+OK\r\n");
            let keys = int(c.cmd_reply(&["DBSIZE"])) as u64;
            let evicted = info_field(&mut c, "stats", "evicted_keys");
            assert!(keys > 0 && keys < written as u64, "{label}: {keys} keys");
            assert_eq!(
                keys + evicted,
                written as u64,
                "{label}: every key is kept or evicted"
            );
        }
    }
}

#[test]
fn volatile_policies_only_evict_keys_with_a_ttl_then_refuse() {
    for shards in [1, 2] {
        for policy in [
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
        ] {
            let label = format!("{shards} shard(s), {policy}");
            let s = Server::ringkv(shards, &["--maxmemory-policy", policy]);
            let mut c = s.raw();
            let limit = limit_above_now(&mut c, 3 << 20);
            assert!(fill(&mut c, "p", 800, &[]).is_empty(), "{label}");
            let errors = fill(&mut c, "t", 4000, &["EX", "100000"]);
            assert!(errors.is_empty(), "{label}: {:?}", errors.first());
            assert_bounded(&mut c, limit, &label);
            assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", "0"]), b"+OK\r\n");
            assert_eq!(
                count_existing(&mut c, "p", 0..800),
                800,
                "{label}: persistent keys stay"
            );
            let evicted = info_field(&mut c, "stats", "evicted_keys");
            assert!(evicted > 0, "{label}");
            assert_eq!(
                count_existing(&mut c, "t", 0..4000) as u64 + evicted,
                4000,
                "{label}"
            );
            // Nothing with a TTL left to evict: persistent writes end up refused.
            assert_eq!(
                c.cmd(&["CONFIG", "SET", "maxmemory", &limit.to_string()]),
                b"+OK\r\n"
            );
            let errors = fill(&mut c, "q", 4000, &[]);
            assert!(!errors.is_empty(), "{label}: no OOM");
            assert!(errors.iter().all(|e| e == OOM), "{label}: {:?}", errors[0]);
            assert_eq!(count_existing(&mut c, "p", 0..800), 800, "{label}");
            assert_bounded(&mut c, limit, &label);
        }
    }
}

#[test]
fn volatile_ttl_evicts_the_nearest_expiry_first() {
    for shards in [1, 2] {
        let s = Server::ringkv(shards, &["--maxmemory-policy", "volatile-ttl"]);
        let mut c = s.raw();
        limit_above_now(&mut c, 2 << 20);
        // Far expiries first, then near ones: the near ones go first when space runs out.
        assert!(fill(&mut c, "far", 1000, &["EX", "900000"]).is_empty());
        assert!(fill(&mut c, "near", 2000, &["EX", "100000"]).is_empty());
        let far = count_existing(&mut c, "far", 0..1000);
        let near = count_existing(&mut c, "near", 0..2000);
        assert!(
            far * 2000 > near * 1000,
            "{shards} shard(s): far kept {far}/1000, near kept {near}/2000"
        );
    }
}

#[test]
fn noeviction_refuses_denyoom_commands_in_and_out_of_multi() {
    for shards in [1, 2] {
        let s = Server::ringkv(shards, &[]);
        let mut c = s.raw();
        let limit = limit_above_now(&mut c, 1 << 20);
        let errors = fill(&mut c, "k", 3000, &[]);
        assert!(!errors.is_empty(), "{shards}: no OOM");
        assert!(errors.iter().all(|e| e == OOM), "{:?}", errors[0]);
        assert_bounded(&mut c, limit, "noeviction");
        assert_eq!(info_field(&mut c, "stats", "evicted_keys"), 0);
        // Reads and deletes still run; writes that add data do not.
        assert_eq!(c.cmd(&["EXISTS", "k0"]), b":1\r\n");
        assert_eq!(c.cmd(&["SET", "new", "x"]), OOM);
        assert_eq!(c.cmd(&["RPUSH", "newlist", "x"]), OOM);
        // MULTI: anything queued is refused, and EXEC then aborts.
        assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["GET", "k0"]), OOM);
        assert_eq!(
            c.cmd(&["EXEC"]),
            b"-EXECABORT Transaction discarded because of previous errors.\r\n"
        );
        // A block holding a denyoom command, queued below the limit, is refused at EXEC.
        assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", "0"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["SET", "x", "1"]), b"+QUEUED\r\n");
        let mut other = s.raw();
        assert_eq!(other.cmd(&["CONFIG", "SET", "maxmemory", "1"]), b"+OK\r\n");
        let mut want = b"-EXECABORT Transaction discarded because of: ".to_vec();
        want.extend_from_slice(&OOM[1..]);
        assert_eq!(c.cmd(&["EXEC"]), want);
        // A block of reads runs.
        assert_eq!(other.cmd(&["CONFIG", "SET", "maxmemory", "0"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["EXISTS", "k0"]), b"+QUEUED\r\n");
        assert_eq!(other.cmd(&["CONFIG", "SET", "maxmemory", "1"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["EXEC"]), b"*1\r\n:1\r\n");
        // Freeing memory lets writes in again.
        assert_eq!(other.cmd(&["CONFIG", "SET", "maxmemory", "0"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["FLUSHALL"]), b"+OK\r\n");
        limit_above_now(&mut c, 1 << 20);
        assert_eq!(c.cmd(&["SET", "new", "x"]), b"+OK\r\n");
    }
}

#[test]
fn allkeys_lru_keeps_recently_used_keys() {
    for shards in [1, 2] {
        let s = Server::ringkv(shards, &["--maxmemory-policy", "allkeys-lru"]);
        let mut c = s.raw();
        limit_above_now(&mut c, 2 << 20);
        assert!(fill(&mut c, "a", 1000, &[]).is_empty());
        // The LRU clock has a one-second resolution (as Redis's): let the keys age a little.
        std::thread::sleep(Duration::from_millis(2100));
        touch(&mut c, "a", 0..500);
        assert!(fill(&mut c, "b", 1500, &[]).is_empty());
        assert!(info_field(&mut c, "stats", "evicted_keys") > 0);
        let touched = count_existing(&mut c, "a", 0..500);
        let idle = count_existing(&mut c, "a", 500..1000);
        // With several shards the connection's shard evicts from its own keys first (README,
        // "`maxmemory` across shards"), so it may give up all of them, touched or not, while
        // the other shard keeps all of its own: only "not worse than random" holds there.
        let better = if shards == 1 {
            touched > idle
        } else {
            touched >= idle
        };
        assert!(
            better,
            "{shards} shard(s): touched kept {touched}/500, idle kept {idle}/500"
        );
    }
}

#[test]
fn allkeys_lfu_keeps_frequently_used_keys() {
    for shards in [1, 2] {
        let s = Server::ringkv(
            shards,
            &["--maxmemory-policy", "allkeys-lfu", "--lfu-log-factor", "0"],
        );
        let mut c = s.raw();
        limit_above_now(&mut c, 2 << 20);
        assert!(fill(&mut c, "a", 1000, &[]).is_empty());
        for _ in 0..5 {
            touch(&mut c, "a", 0..500);
        }
        assert_eq!(c.cmd(&["OBJECT", "FREQ", "a0"]), b":10\r\n");
        assert_eq!(c.cmd(&["OBJECT", "FREQ", "a999"]), b":5\r\n");
        assert!(fill(&mut c, "b", 1500, &[]).is_empty());
        let hot = count_existing(&mut c, "a", 0..500);
        let cold = count_existing(&mut c, "a", 500..1000);
        assert!(
            hot > cold,
            "{shards} shard(s): hot kept {hot}/500, cold kept {cold}/500"
        );
    }
}

#[test]
fn evictions_are_published_as_evicted_events() {
    for shards in [1, 2] {
        let s = Server::ringkv(
            shards,
            &[
                "--maxmemory-policy",
                "allkeys-random",
                "--notify-keyspace-events",
                "Ee",
            ],
        );
        let mut sub = s.raw();
        sub.cmd_reply(&["PSUBSCRIBE", "__keyevent@*__:evicted"]);
        let mut c = s.raw();
        limit_above_now(&mut c, 1 << 20);
        assert!(fill(&mut c, "k", 2000, &[]).is_empty());
        let evicted = info_field(&mut c, "stats", "evicted_keys");
        assert!(evicted > 0);
        let mut seen = 0u64;
        let ok = wait_until(Duration::from_secs(10), || {
            while let Ok(bytes) = sub.read_reply_bytes(Duration::from_millis(100)) {
                let Ok(Some((Reply::Array(Some(items)), _))) = common::parse_reply(&bytes) else {
                    continue;
                };
                assert_eq!(items[0], Reply::Bulk(Some(b"pmessage".to_vec())));
                assert_eq!(
                    items[2],
                    Reply::Bulk(Some(b"__keyevent@0__:evicted".to_vec()))
                );
                seen += 1;
            }
            seen >= evicted
        });
        assert!(
            ok,
            "{shards} shard(s): {seen} evicted events, {evicted} evictions"
        );
        assert_eq!(seen, evicted);
    }
}

/// The same script against redis-server and ringkv: OBJECT FREQ follows Redis's LFU counter
/// (lfu-log-factor 0 makes every access count, so the sequence is deterministic).
#[test]
fn object_freq_matches_redis() {
    let script: &[&[&str]] = &[
        &["CONFIG", "SET", "maxmemory", "1gb"],
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
        &["CONFIG", "SET", "lfu-log-factor", "0"],
        &["SET", "f", "v"],
        &["OBJECT", "FREQ", "f"],
        &["GET", "f"],
        &["OBJECT", "FREQ", "f"],
        &["GET", "f"],
        &["GET", "f"],
        &["STRLEN", "f"],
        &["EXISTS", "f"],
        &["TYPE", "f"],
        &["OBJECT", "FREQ", "f"],
        &["SET", "f", "w"],
        &["APPEND", "f", "x"],
        &["OBJECT", "FREQ", "f"],
        &["RPUSH", "l", "a"],
        &["OBJECT", "FREQ", "l"],
        &["RPUSH", "l", "b"],
        &["LRANGE", "l", "0", "-1"],
        &["OBJECT", "FREQ", "l"],
        &["HSET", "h", "a", "1"],
        &["HGET", "h", "a"],
        &["OBJECT", "FREQ", "h"],
        &["OBJECT", "FREQ", "nosuch"],
        &["OBJECT", "IDLETIME", "f"],
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
        &["OBJECT", "FREQ", "f"],
    ];
    let run = |s: &Server| -> Vec<Vec<u8>> {
        let mut c = s.raw();
        script.iter().map(|a| c.cmd(a)).collect()
    };
    let redis = RedisServer::start(&[]);
    let want = run(&redis);
    for shards in [1, 2] {
        let got = run(&Server::ringkv(shards, &[]));
        for ((cmd, g), w) in script.iter().zip(&got).zip(&want) {
            assert_eq!(
                common::show(g),
                common::show(w),
                "{shards} shard(s): {cmd:?}"
            );
        }
    }
}

#[test]
fn restore_freq_and_rdb_keep_the_lfu_counter() {
    for shards in [1, 2] {
        let s = Server::ringkv(
            shards,
            &[
                "--maxmemory-policy",
                "allkeys-lfu",
                "--lfu-log-factor",
                "0",
                "--lfu-decay-time",
                "0",
                "--enable-debug-command",
                "yes",
            ],
        );
        let mut c = s.raw();
        assert_eq!(c.cmd(&["SET", "k", "value"]), b"+OK\r\n");
        let Reply::Bulk(Some(payload)) = c.cmd_reply(&["DUMP", "k"]) else {
            panic!("DUMP");
        };
        assert_eq!(
            c.cmd(&[&b"RESTORE"[..], b"k2", b"0", &payload, b"FREQ", b"100"]),
            b"+OK\r\n"
        );
        assert_eq!(c.cmd(&["OBJECT", "FREQ", "k2"]), b":100\r\n");
        // Without FREQ a restored key starts like a new one.
        assert_eq!(c.cmd(&[&b"RESTORE"[..], b"k3", b"0", &payload]), b"+OK\r\n");
        assert_eq!(c.cmd(&["OBJECT", "FREQ", "k3"]), b":5\r\n");
        for _ in 0..20 {
            c.cmd(&["GET", "k"]);
        }
        // DUMP was an access too.
        assert_eq!(c.cmd(&["OBJECT", "FREQ", "k"]), b":26\r\n");
        // The RDB file carries the counters (FREQ opcode) through a reload.
        assert_eq!(c.cmd(&["DEBUG", "RELOAD"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["OBJECT", "FREQ", "k"]), b":26\r\n");
        assert_eq!(c.cmd(&["OBJECT", "FREQ", "k2"]), b":100\r\n");
        assert_eq!(c.cmd(&["OBJECT", "FREQ", "k3"]), b":5\r\n");
    }
}

/// redis-server loads ringkv's RDB with the LFU counters (FREQ opcode written as 7.0 does).
#[test]
fn redis_loads_ringkv_rdb_lfu_counters() {
    let s = Server::ringkv(
        2,
        &[
            "--maxmemory-policy",
            "allkeys-lfu",
            "--lfu-log-factor",
            "0",
            "--lfu-decay-time",
            "0",
        ],
    );
    let mut c = s.raw();
    c.cmd(&["SET", "k", "value"]);
    for _ in 0..7 {
        c.cmd(&["GET", "k"]);
    }
    assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    let rdb = s.dir.join("dump.rdb");
    let r = RedisServer::start(&[
        "--dir",
        &s.dir.path_str(),
        "--dbfilename",
        "dump.rdb",
        "--maxmemory-policy",
        "allkeys-lfu",
        "--lfu-decay-time",
        "0",
    ]);
    assert!(rdb.exists());
    let mut rc = r.raw();
    assert_eq!(rc.cmd(&["OBJECT", "FREQ", "k"]), b":12\r\n");
}

/// Evictions reach the AOF as `DEL` (like expiries), and abort a transaction watching the key.
#[test]
fn evictions_propagate_as_del_and_touch_watched_keys() {
    for shards in [1, 2] {
        let s = Server::ringkv(
            shards,
            &[
                "--maxmemory-policy",
                "allkeys-random",
                "--appendonly",
                "yes",
            ],
        );
        let mut c = s.raw();
        let mut w = s.raw();
        assert_eq!(c.cmd(&["SET", "watched", "x"]), b"+OK\r\n");
        assert_eq!(w.cmd(&["WATCH", "watched"]), b"+OK\r\n");
        limit_above_now(&mut c, 1 << 20);
        assert!(fill(&mut c, "k", 3000, &[]).is_empty());
        assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", "0"]), b"+OK\r\n");
        let evicted = info_field(&mut c, "stats", "evicted_keys");
        assert!(evicted > 0);
        // allkeys-random may spare `watched`: the abort is checked when it was evicted.
        let watched_gone = c.cmd(&["EXISTS", "watched"]) == b":0\r\n";
        assert_eq!(w.cmd(&["MULTI"]), b"+OK\r\n");
        assert_eq!(w.cmd(&["GET", "watched"]), b"+QUEUED\r\n");
        let exec = w.cmd(&["EXEC"]);
        if watched_gone {
            assert_eq!(exec, b"*-1\r\n", "{shards} shard(s): evicted watched key");
        }
        let dir = s.dir.join("appendonlydir");
        let count_dels = || -> u64 {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                return 0;
            };
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".incr.aof"))
                .map(|e| {
                    let data = std::fs::read(e.path()).unwrap_or_default();
                    data.windows(9).filter(|w| w == b"$3\r\nDEL\r\n").count() as u64
                })
                .sum()
        };
        let ok = wait_until(Duration::from_secs(10), || count_dels() >= evicted);
        assert!(
            ok,
            "{shards} shard(s): {} DEL in the AOF, {evicted} evictions",
            count_dels()
        );
        assert_eq!(count_dels(), evicted);
    }
}
