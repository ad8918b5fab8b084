//! INFO errorstats, the rejected_calls / failed_calls of commandstats, and latencystats
//! (latency-tracking, latency-tracking-info-percentiles), as Redis 7.0 counts them. Each test
//! passes against redis-server too (`RINGKV_TEST_AGAINST_REDIS=1`).

mod common;

use common::{RawConn, Server};

fn info(c: &mut RawConn, section: &str) -> Vec<String> {
    let raw = c.cmd(&["INFO", section]);
    String::from_utf8_lossy(&raw)
        .split("\r\n")
        .map(str::to_string)
        .collect()
}

fn line<'a>(lines: &'a [String], prefix: &str) -> Option<&'a str> {
    lines
        .iter()
        .find(|l| l.starts_with(prefix))
        .map(String::as_str)
}

/// The `key=value` pairs of a commandstats line, without the timings.
fn counts(l: &str) -> String {
    l.split([':', ','])
        .filter(|f| f.starts_with("calls=") || f.ends_with("_calls=0") || f.contains("_calls="))
        .collect::<Vec<_>>()
        .join(",")
}

fn errors_and_calls(shards: usize) {
    let server = Server::ringkv(shards, &[]);
    let mut c = server.raw();
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["RPUSH", "l", "a"]), b":1\r\n");
    // Ran and failed.
    assert!(c.cmd(&["GET", "l"]).starts_with(b"-WRONGTYPE"));
    assert_eq!(c.cmd(&["SET", "s", "x"]), b"+OK\r\n");
    assert!(c
        .cmd(&["INCR", "s"])
        .starts_with(b"-ERR value is not an integer"));
    // Rejected before running: wrong arity, of a command and of a subcommand.
    assert!(c
        .cmd(&["GET"])
        .starts_with(b"-ERR wrong number of arguments"));
    assert!(c
        .cmd(&["CONFIG", "GET"])
        .starts_with(b"-ERR wrong number of arguments"));
    // Unknown: an error, no command to count it on.
    assert!(c.cmd(&["NOSUCHCMD"]).starts_with(b"-ERR unknown command"));

    let e = info(&mut c, "errorstats");
    assert_eq!(line(&e, "errorstat_ERR:"), Some("errorstat_ERR:count=4"));
    assert_eq!(
        line(&e, "errorstat_WRONGTYPE:"),
        Some("errorstat_WRONGTYPE:count=1")
    );
    let s = info(&mut c, "commandstats");
    let get = line(&s, "cmdstat_get:").expect("get stats");
    assert_eq!(
        counts(get),
        "calls=1,rejected_calls=1,failed_calls=1",
        "{get}"
    );
    let incr = line(&s, "cmdstat_incr:").expect("incr stats");
    assert_eq!(
        counts(incr),
        "calls=1,rejected_calls=0,failed_calls=1",
        "{incr}"
    );
    let cget = line(&s, "cmdstat_config|get:").expect("config|get stats");
    assert_eq!(
        counts(cget),
        "calls=0,rejected_calls=1,failed_calls=0",
        "{cget}"
    );
    assert!(line(&s, "cmdstat_nosuchcmd").is_none());
    let st = info(&mut c, "stats");
    assert_eq!(
        line(&st, "total_error_replies:"),
        Some("total_error_replies:5")
    );
}

#[test]
fn errorstats_and_commandstats_1_shard() {
    errors_and_calls(1);
}

#[test]
fn errorstats_and_commandstats_2_shards() {
    errors_and_calls(2);
}

fn latencystats(shards: usize) {
    let server = Server::ringkv(shards, &[]);
    let mut c = server.raw();
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    for i in 0..20 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    let l = info(&mut c, "latencystats");
    assert_eq!(l.get(1).map(String::as_str), Some("# Latencystats"));
    let set = line(&l, "latency_percentiles_usec_set:").expect("set latencies");
    let fields: Vec<&str> = set.split(':').nth(1).unwrap_or("").split(',').collect();
    let names: Vec<&str> = fields
        .iter()
        .map(|f| f.split('=').next().unwrap_or(""))
        .collect();
    assert_eq!(names, ["p50", "p99", "p99.9"], "{set}");
    let values: Vec<f64> = fields
        .iter()
        .map(|f| f.split('=').nth(1).and_then(|v| v.parse().ok()).expect(set))
        .collect();
    assert!(values.windows(2).all(|w| w[0] <= w[1]), "{set}");
    // Values print with three decimals, as Redis's "%.3f".
    assert!(
        fields.iter().all(|f| f
            .split('=')
            .nth(1)
            .and_then(|v| v.split('.').nth(1))
            .is_some_and(|d| d.len() == 3)),
        "{set}"
    );

    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "latency-tracking-info-percentiles",
            "50 99.9 100"
        ]),
        b"+OK\r\n"
    );
    let l = info(&mut c, "latencystats");
    let set = line(&l, "latency_percentiles_usec_set:").expect("set latencies");
    let names: Vec<&str> = set
        .split(':')
        .nth(1)
        .unwrap_or("")
        .split(',')
        .map(|f| f.split('=').next().unwrap_or(""))
        .collect();
    assert_eq!(names, ["p50", "p99.9", "p100"], "{set}");

    assert_eq!(
        c.cmd(&["CONFIG", "SET", "latency-tracking", "no"]),
        b"+OK\r\n"
    );
    let l = info(&mut c, "latencystats");
    assert!(line(&l, "latency_percentiles_usec_").is_none(), "{l:?}");
    // The section is part of INFO everything, not of the default INFO.
    let all = info(&mut c, "everything");
    assert!(all.iter().any(|l| l == "# Latencystats"));
    let default = info(&mut c, "default");
    assert!(!default.iter().any(|l| l == "# Latencystats"));
}

#[test]
fn latencystats_1_shard() {
    latencystats(1);
}

#[test]
fn latencystats_2_shards() {
    latencystats(2);
}
