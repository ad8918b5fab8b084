//! Hashes and sets end to end: redis-benchmark's SADD/HSET/SPOP tests against ringkv with 1 and
//! 2 shards, and the multi-key set commands when their keys live on different shards.

mod common;

use common::{redis_benchmark, Server};
use std::collections::BTreeSet;

fn for_shards(test: impl Fn(&Server, usize)) {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        test(&server, shards);
    }
}

#[test]
fn redis_benchmark_sadd_hset_spop_complete() {
    for_shards(|server, shards| {
        let _ = shards;
        redis_benchmark(server.port, "sadd,hset,spop", &["SADD", "HSET", "SPOP"]);
        // The benchmark's keys hold what it wrote.
        let mut con = server.client();
        let t: String = redis::cmd("TYPE").arg("myhash").query(&mut con).unwrap();
        assert_eq!(t, "hash");
    });
}

fn members(con: &mut redis::Connection, key: &str) -> BTreeSet<String> {
    redis::cmd("SMEMBERS").arg(key).query(con).unwrap()
}

#[test]
fn cross_shard_sinterstore_and_smove() {
    for_shards(|server, shards| {
        let mut con = server.client();
        // Enough keys that some pairs land on different shards.
        for i in 0..8 {
            let ms: Vec<String> = (0..20).map(|m| (m * (i + 1) % 30).to_string()).collect();
            let _: i64 = redis::cmd("SADD")
                .arg(format!("src{i}"))
                .arg(&ms)
                .query(&mut con)
                .unwrap();
        }
        for i in 0..8 {
            let a = members(&mut con, &format!("src{i}"));
            let b = members(&mut con, &format!("src{}", (i + 3) % 8));
            let want: BTreeSet<String> = a.intersection(&b).cloned().collect();
            let n: usize = redis::cmd("SINTERSTORE")
                .arg(format!("dst{i}"))
                .arg(format!("src{i}"))
                .arg(format!("src{}", (i + 3) % 8))
                .query(&mut con)
                .unwrap();
            assert_eq!(n, want.len(), "{shards} shards");
            assert_eq!(members(&mut con, &format!("dst{i}")), want);
            let card: usize = redis::cmd("SINTERCARD")
                .arg(2)
                .arg(format!("src{i}"))
                .arg(format!("src{}", (i + 3) % 8))
                .query(&mut con)
                .unwrap();
            assert_eq!(card, want.len());
        }
        // SMOVE every member of one set into others, across shards; nothing is lost or doubled.
        let before: BTreeSet<String> = members(&mut con, "src0");
        for (j, m) in before.iter().enumerate() {
            let dst = format!("moved{}", j % 5);
            let moved: i64 = redis::cmd("SMOVE")
                .arg("src0")
                .arg(&dst)
                .arg(m)
                .query(&mut con)
                .unwrap();
            assert_eq!(moved, 1);
        }
        let exists: i64 = redis::cmd("EXISTS").arg("src0").query(&mut con).unwrap();
        assert_eq!(exists, 0, "an emptied source is deleted");
        let mut after = BTreeSet::new();
        let mut total = 0;
        for k in 0..5 {
            let s = members(&mut con, &format!("moved{k}"));
            total += s.len();
            after.extend(s);
        }
        assert_eq!(total, before.len());
        assert_eq!(after, before);
    });
}
