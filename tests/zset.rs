//! Sorted sets end to end: redis-benchmark's ZADD/ZPOPMIN against ringkv with 1 and 2 shards,
//! and set algebra whose keys live on different shards.

mod common;

use common::{key_on_shard, key_shard, redis_benchmark, Server};

#[test]
fn redis_benchmark_zadd_and_zpopmin_complete() {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        redis_benchmark(server.port, "zadd,zpopmin", &["ZADD", "ZPOPMIN"]);
        // redis-benchmark's ZADD/ZPOPMIN use one key; it must still be a well-formed zset.
        let mut c = server.client();
        let kind: String = redis::cmd("TYPE")
            .arg("myzset")
            .query(&mut c)
            .unwrap_or_default();
        assert!(kind == "zset" || kind == "none", "myzset is {kind}");
    }
}

#[test]
fn zunionstore_across_shards_matches_a_local_computation() {
    let shards = 2;
    let server = Server::ringkv(shards, &[]);
    let mut c = server.client();
    let a = key_on_shard("a", "", 0, shards);
    let b = key_on_shard("b", "", 1, shards);
    let dst = key_on_shard("d", "", 1, shards);
    assert_ne!(
        key_shard(a.as_bytes(), shards),
        key_shard(b.as_bytes(), shards)
    );

    let mut want = std::collections::BTreeMap::<String, f64>::new();
    let mut za = redis::cmd("ZADD");
    za.arg(&a);
    let mut zb = redis::cmd("ZADD");
    zb.arg(&b);
    for i in 0..300 {
        let m = format!("m{i}");
        za.arg(i).arg(&m);
        *want.entry(m.clone()).or_default() += 2.0 * i as f64;
        if i % 3 == 0 {
            zb.arg(i * 10).arg(&m);
            *want.entry(m).or_default() += 3.0 * (i * 10) as f64;
        }
    }
    let _: i64 = za.query(&mut c).expect("zadd a");
    let _: i64 = zb.query(&mut c).expect("zadd b");
    let n: i64 = redis::cmd("ZUNIONSTORE")
        .arg(&dst)
        .arg(2)
        .arg(&a)
        .arg(&b)
        .arg("WEIGHTS")
        .arg(2)
        .arg(3)
        .query(&mut c)
        .expect("zunionstore");
    assert_eq!(n, 300);
    let got: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(&dst)
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(&mut c)
        .expect("zrange");
    let mut expected: Vec<(String, f64)> = want.into_iter().collect();
    expected.sort_by(|x, y| x.1.total_cmp(&y.1).then(x.0.cmp(&y.0)));
    assert_eq!(got, expected);
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(&dst)
        .query(&mut c)
        .expect("object encoding");
    assert_eq!(enc, "skiplist");

    // An intersection with an empty result deletes the destination, on the other shard too.
    let missing = key_on_shard("m", "", 0, shards);
    let n: i64 = redis::cmd("ZINTERSTORE")
        .arg(&dst)
        .arg(2)
        .arg(&a)
        .arg(&missing)
        .query(&mut c)
        .expect("zinterstore");
    assert_eq!(n, 0);
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&dst)
        .query(&mut c)
        .expect("exists");
    assert_eq!(exists, 0);
}
