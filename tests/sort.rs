//! SORT beyond the differential corpus: inside MULTI/EXEC, and under concurrent changes of the
//! source with pattern keys spread over the shards (every GET must find its key: the sort sees
//! one state of the source and all the keys it references).

mod common;

use common::{RedisServer, Reply, Server};

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Some(s.as_bytes().to_vec()))
}

fn ok() -> Reply {
    Reply::Simple(b"OK".to_vec())
}

fn sort_in_transaction(server: &Server) -> Vec<Reply> {
    let mut c = server.raw();
    c.cmd_reply(&["RPUSH", "ids", "1", "2", "3"]);
    c.cmd_reply(&[
        "MSET", "w_1", "3", "w_2", "2", "w_3", "1", "n_1", "a", "n_2", "b",
    ]);
    assert_eq!(c.cmd_reply(&["MULTI"]), ok());
    for cmd in [
        &["SORT", "ids", "BY", "w_*", "GET", "n_*", "STORE", "out"][..],
        &["LRANGE", "out", "0", "-1"],
        &["SORT_RO", "ids", "BY", "w_*", "GET", "#", "GET", "n_*"],
        &["SORT", "ids", "DESC", "LIMIT", "0", "2"],
    ] {
        assert_eq!(c.cmd_reply(cmd), Reply::Simple(b"QUEUED".to_vec()));
    }
    let Reply::Array(Some(r)) = c.cmd_reply(&["EXEC"]) else {
        panic!("EXEC");
    };
    r
}

#[test]
fn sort_inside_multi_exec_matches_redis() {
    let expected = sort_in_transaction(&RedisServer::start(&[]));
    assert_eq!(expected[0], Reply::Integer(3));
    assert_eq!(
        expected[1],
        Reply::Array(Some(vec![bulk(""), bulk("b"), bulk("a")]))
    );
    for shards in [1, 2] {
        let got = sort_in_transaction(&Server::ringkv(shards, &[]));
        assert_eq!(got, expected, "{shards} shard(s)");
    }
}

#[test]
fn sort_sees_one_state_while_the_source_changes() {
    let server = Server::ringkv(2, &[]);
    let mut setup = server.raw();
    for i in 0..40 {
        let (w, n) = (format!("w_{i}"), format!("n_{i}"));
        setup.cmd_reply(&["SET", &w, &(100 - i).to_string()]);
        setup.cmd_reply(&["SET", &n, &format!("name{i}")]);
    }
    let port = server.port;
    let writer = std::thread::spawn(move || {
        let mut c = common::RawConn::connect(port);
        for round in 0..300usize {
            let ids: Vec<String> = (0..40)
                .filter(|i| (i * 7 + round) % 3 != 0)
                .map(|i| i.to_string())
                .collect();
            c.cmd_reply(&["MULTI"]);
            c.cmd_reply(&["DEL", "ids"]);
            let mut push = vec!["RPUSH".to_string(), "ids".to_string()];
            push.extend(ids);
            c.cmd_reply(&push);
            c.cmd_reply(&["EXEC"]);
        }
    });
    let mut reader = server.raw();
    let mut checked = 0;
    while !writer.is_finished() || checked == 0 {
        let r = reader.cmd_reply(&["SORT", "ids", "BY", "w_*", "GET", "#", "GET", "n_*"]);
        let Reply::Array(Some(items)) = r else {
            panic!("SORT reply {r:?}");
        };
        let mut last_weight = i64::MIN;
        for pair in items.chunks(2) {
            let (Reply::Bulk(Some(id)), Reply::Bulk(Some(name))) = (&pair[0], &pair[1]) else {
                panic!("a GET found nothing: {pair:?}");
            };
            let id: i64 = String::from_utf8_lossy(id).parse().expect("id");
            assert_eq!(String::from_utf8_lossy(name), format!("name{id}"));
            assert!(100 - id >= last_weight, "not sorted by weight");
            last_weight = 100 - id;
        }
        checked += 1;
    }
    writer.join().expect("writer");
    assert!(checked > 0);
}
