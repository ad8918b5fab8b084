//! Lists on a running server with 1 and 2 shards: redis-benchmark's list tests, LMOVE/LMPOP
//! between lists on different shards while other clients push and pop, and big LRANGE replies.
//! Each test also passes against redis-server (`RINGKV_TEST_AGAINST_REDIS=1`).

mod common;

use common::{key_on_shard, redis_benchmark, Reply, Server};

fn for_shards(test: impl Fn(&Server, usize)) {
    for shards in [1, 2] {
        let server = Server::ringkv(shards, &[]);
        test(&server, shards);
    }
}

fn int(r: Reply) -> i64 {
    match r {
        Reply::Integer(n) => n,
        other => panic!("not an integer: {other:?}"),
    }
}

fn bulks(r: Reply) -> Vec<Vec<u8>> {
    match r {
        Reply::Array(Some(items)) => items
            .into_iter()
            .map(|i| match i {
                Reply::Bulk(Some(b)) => b,
                other => panic!("not a bulk: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

#[test]
fn redis_benchmark_list_tests_complete() {
    for_shards(|server, shards| {
        let _ = shards;
        redis_benchmark(
            server.port,
            "lpush,rpush,lpop,rpop,lrange_100,lrange_300",
            &[
                "LPUSH",
                "RPUSH",
                "LPOP",
                "RPOP",
                "LPUSH (needed to benchmark LRANGE)",
                "LRANGE_100 (first 100 elements)",
                "LRANGE_300 (first 300 elements)",
            ],
        );
        // The benchmark's list holds what its pushes left: the LRANGE replies were real lists.
        let mut c = server.raw();
        let len = int(c.cmd_reply(&["LLEN", "mylist"]));
        assert!(len >= 600, "mylist has {len} elements");
        let got = bulks(c.cmd_reply(&["LRANGE", "mylist", "0", "99"]));
        assert_eq!(got.len(), 100);
    });
}

#[test]
fn lmove_between_shards_conserves_elements_under_concurrency() {
    for_shards(|server, shards| {
        let a = key_on_shard("a", "list", 0, shards);
        let b = key_on_shard("b", "list", shards - 1, shards);
        let n = 300usize;
        let mut c = server.raw();
        let items: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
        let mut push = vec!["RPUSH".to_string(), a.clone()];
        push.extend(items.iter().cloned());
        assert_eq!(int(c.cmd_reply(&push)), n as i64);

        // Two clients shuttle elements in opposite directions at the same time.
        std::thread::scope(|s| {
            for (from, to) in [(&a, &b), (&b, &a)] {
                let port = server.port;
                s.spawn(move || {
                    let mut c = common::RawConn::connect(port);
                    for i in 0..400 {
                        let r = if i % 2 == 0 {
                            c.cmd_reply(&["LMOVE", from, to, "LEFT", "RIGHT"])
                        } else {
                            c.cmd_reply(&["RPOPLPUSH", from, to])
                        };
                        assert!(
                            matches!(r, Reply::Bulk(_)),
                            "LMOVE/RPOPLPUSH answered {r:?}"
                        );
                    }
                });
            }
        });
        let mut all = bulks(c.cmd_reply(&["LRANGE", &a, "0", "-1"]));
        all.extend(bulks(c.cmd_reply(&["LRANGE", &b, "0", "-1"])));
        all.sort();
        let mut want: Vec<Vec<u8>> = items.iter().map(|s| s.as_bytes().to_vec()).collect();
        want.sort();
        assert_eq!(all, want, "elements lost or duplicated ({shards} shards)");

        // LMPOP over keys of both shards drains them in key order.
        let la = int(c.cmd_reply(&["LLEN", &a]));
        let lb = int(c.cmd_reply(&["LLEN", &b]));
        let mut popped = 0i64;
        loop {
            match c.cmd_reply(&["LMPOP", "2", &a, &b, "LEFT", "COUNT", "77"]) {
                Reply::Array(Some(mut kv)) if kv.len() == 2 => {
                    popped += bulks(kv.pop().unwrap_or(Reply::Array(None))).len() as i64;
                }
                Reply::Array(None) | Reply::Null => break,
                other => panic!("LMPOP answered {other:?}"),
            }
        }
        assert_eq!(popped, la + lb);
        assert_eq!(int(c.cmd_reply(&["EXISTS", &a, &b])), 0);
    });
}

#[test]
fn large_lrange_reply_is_complete_and_ordered() {
    for_shards(|server, shards| {
        let mut c = server.raw();
        let key = key_on_shard("big", "", shards - 1, shards);
        let n = 20_000usize;
        for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
            let mut cmd = vec!["RPUSH".to_string(), key.clone()];
            cmd.extend(chunk.iter().map(|i| format!("{i:0>64}")));
            c.cmd_reply(&cmd);
        }
        let got = bulks(c.cmd_reply(&["LRANGE", &key, "0", "-1"]));
        assert_eq!(got.len(), n);
        for (i, v) in got.iter().enumerate() {
            assert_eq!(v, format!("{i:0>64}").as_bytes());
        }
        let tail = bulks(c.cmd_reply(&["LRANGE", &key, "-2", "-1"]));
        assert_eq!(
            tail,
            [format!("{:0>64}", n - 2), format!("{:0>64}", n - 1)].map(String::into_bytes)
        );
        assert_eq!(
            int(c.cmd_reply(&["LREM", &key, "0", &format!("{:0>64}", 7)])),
            1
        );
        assert_eq!(int(c.cmd_reply(&["LLEN", &key])), n as i64 - 1);
    });
}
