//! The real Redis tools (redis-benchmark, redis-cli) against ringkv with 1 and 2 shards.

mod common;

use common::{redis_benchmark, redis_benchmark_n, redis_cli, redis_cli_ok, run_bounded, Server};

fn for_shards(test: impl Fn(&Server, usize)) {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        test(&server, shards);
    }
}

#[test]
fn redis_benchmark_completes_every_test() {
    for_shards(|server, shards| {
        let _ = shards;
        redis_benchmark(
            server.port,
            "ping_inline,ping_mbulk,set,get,incr,mset",
            &[
                "PING_INLINE",
                "PING_MBULK",
                "SET",
                "GET",
                "INCR",
                "MSET (10 keys)",
            ],
        );
    });
}

/// redis-benchmark 7.0.15's default suite (XADD arrived in 7.2), with the names 7.0.15
/// prints for each test in `-q` mode, in order.
const DEFAULT_SUITE: &str = "ping_inline,ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,sadd,\
                             hset,spop,zadd,zpopmin,lrange_100,lrange_300,lrange_500,\
                             lrange_600,mset";
const DEFAULT_SUITE_NAMES: [&str; 20] = [
    "PING_INLINE",
    "PING_MBULK",
    "SET",
    "GET",
    "INCR",
    "LPUSH",
    "RPUSH",
    "LPOP",
    "RPOP",
    "SADD",
    "HSET",
    "SPOP",
    "ZADD",
    "ZPOPMIN",
    "LPUSH (needed to benchmark LRANGE)",
    "LRANGE_100 (first 100 elements)",
    "LRANGE_300 (first 300 elements)",
    "LRANGE_500 (first 500 elements)",
    "LRANGE_600 (first 600 elements)",
    "MSET (10 keys)",
];

#[test]
fn redis_benchmark_completes_the_default_suite() {
    // Small -n: the suite has 20 steps and CI runs a debug build on 2 cores.
    const REQUESTS: u32 = 2000;
    for_shards(|server, shards| {
        let results = redis_benchmark_n(server.port, DEFAULT_SUITE, &DEFAULT_SUITE_NAMES, REQUESTS);
        let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names, DEFAULT_SUITE_NAMES,
            "redis-benchmark default suite with {shards} shards: every test, once, in order"
        );
        // Without -r every INCR hits the literal key, so the count is exact.
        let counter = redis_cli_ok(server.port, &["GET", "counter:__rand_int__"]);
        assert_eq!(
            counter.trim(),
            REQUESTS.to_string(),
            "INCR count with {shards} shards"
        );
        let lrange_list = redis_cli_ok(server.port, &["LLEN", "mylist"]);
        let len: u64 = lrange_list.trim().parse().unwrap_or(0);
        assert!(
            len >= 600,
            "LRANGE_600 needs at least 600 elements in mylist, got {lrange_list:?} with {shards} shards"
        );
    });
}

#[test]
fn redis_cli_scan_returns_all_keys() {
    for_shards(|server, shards| {
        let mut con = server.client();
        let keys: Vec<String> = (0..200).map(|i| format!("key:{i}")).collect();
        for k in &keys {
            let _: () = redis::cmd("SET")
                .arg(k)
                .arg("v")
                .query(&mut con)
                .expect("SET");
        }
        let out = redis_cli_ok(server.port, &["--scan"]);
        let mut got: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
        got.sort_unstable();
        got.dedup();
        let mut want: Vec<&str> = keys.iter().map(String::as_str).collect();
        want.sort_unstable();
        assert_eq!(got, want, "redis-cli --scan with {shards} shards");

        let out = redis_cli_ok(server.port, &["--scan", "--pattern", "key:1?"]);
        let mut got: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
        got.sort_unstable();
        got.dedup();
        let want: Vec<String> = (10..20).map(|i| format!("key:{i}")).collect();
        assert_eq!(got, want, "redis-cli --scan --pattern with {shards} shards");
    });
}

#[test]
fn redis_cli_info_reports_redis_version() {
    for_shards(|server, _| {
        let out = redis_cli_ok(server.port, &["info"]);
        assert!(
            out.lines().any(|l| l.trim_end() == "redis_version:7.0.15"),
            "INFO lacks redis_version:7.0.15:\n{out}"
        );
        let out = redis_cli_ok(server.port, &["info", "server"]);
        assert!(out.contains("# Server"), "{out}");
        assert!(out.contains(&format!("tcp_port:{}", server.port)), "{out}");
    });
}

#[test]
fn redis_cli_config_get_all_has_databases_16() {
    for_shards(|server, _| {
        let out = redis_cli_ok(server.port, &["config", "get", "*"]);
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines.len().is_multiple_of(2),
            "CONFIG GET * must return pairs:\n{out}"
        );
        let pairs: Vec<(&str, &str)> = lines.chunks(2).map(|c| (c[0], c[1])).collect();
        assert!(
            pairs.contains(&("databases", "16")),
            "no databases 16 in:\n{out}"
        );
        assert!(pairs.contains(&("port", server.port.to_string().as_str())));
        let out = redis_cli_ok(server.port, &["config", "get", "maxmemory-policy"]);
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            ["maxmemory-policy", "noeviction"]
        );
    });
}

#[test]
fn redis_cli_latency_prints_min_max_avg() {
    for_shards(|server, _| {
        let port = server.port.to_string();
        // --latency runs until interrupted; `timeout` stops it after ~2 s. With stdout not a
        // tty redis-cli prints "min max avg samples" on exit.
        let out = run_bounded(
            2,
            "redis-cli",
            &["-h", "127.0.0.1", "-p", &port, "--latency"],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_else(|| panic!("no latency output: {stdout:?}"));
        let fields: Vec<f64> = line
            .split_whitespace()
            .map(|f| f.parse::<f64>().unwrap_or(f64::NAN))
            .collect();
        assert_eq!(
            fields.len(),
            4,
            "expected 'min max avg samples', got {line:?}"
        );
        assert!(fields.iter().all(|f| f.is_finite()), "{line:?}");
        assert!(fields[0] <= fields[1], "min > max in {line:?}");
        assert!(fields[3] > 0.0, "no samples in {line:?}");
    });
}

#[test]
fn redis_cli_basic_session() {
    for_shards(|server, _| {
        assert_eq!(redis_cli_ok(server.port, &["ping"]), "PONG\n");
        assert_eq!(redis_cli_ok(server.port, &["set", "{a}x", "hello"]), "OK\n");
        assert_eq!(redis_cli_ok(server.port, &["set", "{b}y", "world"]), "OK\n");
        assert_eq!(
            redis_cli_ok(server.port, &["mget", "{a}x", "{b}y", "nokey"]),
            "hello\nworld\n\n"
        );
        assert_eq!(redis_cli_ok(server.port, &["dbsize"]), "2\n");
        assert_eq!(redis_cli_ok(server.port, &["-n", "3", "dbsize"]), "0\n");
        let out = redis_cli(server.port, &["-3", "get", "{a}x"]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    });
}
