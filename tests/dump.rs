//! DUMP/RESTORE and the RDB format against the real redis-server 7.0.15: payloads move both
//! ways for every type and encoding size class, error replies match byte for byte, corrupt
//! payloads never crash the server, `SAVE` files load in our reader, files from our writer load
//! in redis-server, and `ringkv-check-rdb` reports like `redis-check-rdb`.

mod common;

use common::{run_bounded, RawConn, RedisServer, Reply, Server, TestDir};
use ringkv::persistence::rdb::{self, crc64, RdbWriter, WriteOptions};

const CHECK_BIN: &str = env!("CARGO_BIN_EXE_ringkv-check-rdb");

fn args(s: &[&str]) -> Vec<Vec<u8>> {
    s.iter().map(|a| a.as_bytes().to_vec()).collect()
}

/// Commands creating one key of every type and encoding size class.
fn fill_commands() -> Vec<Vec<Vec<u8>>> {
    let mut c = vec![
        args(&["SET", "s_int8", "12"]),
        args(&["SET", "s_int16", "-300"]),
        args(&["SET", "s_int32", "70000"]),
        args(&["SET", "s_int64", "9999999999"]),
        args(&["SET", "s_small", "hello"]),
        args(&["SET", "s_empty", ""]),
        args(&["SET", "s_lzf", &"a".repeat(100)]),
        args(&["SET", "s_ttl", "v", "PX", "100000000"]),
        args(&["RPUSH", "l_small", "a", "1", "-5", "300", "70000", "hello"]),
        args(&["HSET", "h_small", "f1", "v1", "f2", "2"]),
        args(&["HSET", "h_long", "long", &"x".repeat(100)]),
        args(&["SADD", "set_int", "1", "2", "-70000"]),
        args(&["SADD", "set_int64", "1", "10000000000"]),
        args(&["SADD", "set_str", "a", "b"]),
        args(&[
            "ZADD", "z_small", "1", "a", "2.5", "b", "-0.125", "c", "inf", "d", "0.1", "e",
        ]),
        args(&["ZADD", "z_long", "1", &"m".repeat(100)]),
    ];
    let mut bin = vec![b"SET".to_vec(), b"s_bin".to_vec()];
    bin.push((0..=255u8).collect());
    c.push(bin);
    let mut s_rand = vec![b"SET".to_vec(), b"s_rand".to_vec()];
    s_rand.push(
        (0..300u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect(),
    );
    c.push(s_rand);
    let mut l = args(&["RPUSH", "l_big"]);
    for i in 0..3000 {
        l.push(format!("element-{i}").into_bytes());
    }
    l.push(vec![b'z'; 20000]);
    c.push(l);
    let mut h = args(&["HSET", "h_big"]);
    for i in 0..600 {
        h.push(format!("f{i}").into_bytes());
        h.push(format!("v{i}").into_bytes());
    }
    c.push(h);
    let mut s = args(&["SADD", "set_bigint"]);
    for i in 0..600 {
        s.push(i.to_string().into_bytes());
    }
    c.push(s);
    let mut s = args(&["SADD", "set_bigstr"]);
    for i in 0..600 {
        s.push(format!("m{i}").into_bytes());
    }
    c.push(s);
    let mut z = args(&["ZADD", "z_big"]);
    for i in 0..200 {
        z.push(format!("{}", i as f64 / 3.0).into_bytes());
        z.push(format!("m{i}").into_bytes());
    }
    c.push(z);
    c
}

fn keys_of(cmds: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
    cmds.iter().map(|c| c[1].clone()).collect()
}

fn fill(c: &mut RawConn) -> Vec<Vec<u8>> {
    let cmds = fill_commands();
    for cmd in &cmds {
        let r = c.cmd_reply(cmd);
        assert!(!matches!(r, Reply::Error(_)), "{r:?}");
    }
    keys_of(&cmds)
}

/// What a user can observe of a key: type, encoding, content (order-normalized where Redis
/// does not define an order), and whether it has a TTL.
fn describe(c: &mut RawConn, key: &[u8]) -> String {
    let t = c.cmd_reply(&[&b"TYPE"[..], key]);
    let enc = c.cmd_reply(&[&b"OBJECT"[..], b"ENCODING", key]);
    let content = match &t {
        Reply::Simple(s) if s == b"string" => c.cmd_reply(&[&b"GET"[..], key]),
        Reply::Simple(s) if s == b"list" => c.cmd_reply(&[&b"LRANGE"[..], key, b"0", b"-1"]),
        Reply::Simple(s) if s == b"zset" => {
            c.cmd_reply(&[&b"ZRANGE"[..], key, b"0", b"-1", b"WITHSCORES"])
        }
        Reply::Simple(s) if s == b"hash" => sorted(c.cmd_reply(&[&b"HGETALL"[..], key]), 2),
        Reply::Simple(s) if s == b"set" => sorted(c.cmd_reply(&[&b"SMEMBERS"[..], key]), 1),
        other => panic!("unexpected type {other:?}"),
    };
    let ttl = match c.cmd_reply(&[&b"PTTL"[..], key]) {
        Reply::Integer(-1) => "no ttl".to_string(),
        Reply::Integer(n) if n > 0 => "ttl".to_string(),
        other => format!("{other:?}"),
    };
    format!("{t:?} {enc:?} {ttl} {content:?}")
}

fn sorted(r: Reply, group: usize) -> Reply {
    match r {
        Reply::Array(Some(items)) => {
            let mut chunks: Vec<Vec<Reply>> = items.chunks(group).map(|c| c.to_vec()).collect();
            chunks.sort_by_key(|c| format!("{c:?}"));
            Reply::Array(Some(chunks.into_iter().flatten().collect()))
        }
        other => other,
    }
}

fn dump(c: &mut RawConn, key: &[u8]) -> Vec<u8> {
    match c.cmd_reply(&[&b"DUMP"[..], key]) {
        Reply::Bulk(Some(p)) => p,
        other => panic!("DUMP {}: {other:?}", String::from_utf8_lossy(key)),
    }
}

fn ttl_of(c: &mut RawConn, key: &[u8]) -> Vec<u8> {
    match c.cmd_reply(&[&b"PTTL"[..], key]) {
        Reply::Integer(n) if n > 0 => n.to_string().into_bytes(),
        _ => b"0".to_vec(),
    }
}

/// DUMP every key on `from`, RESTORE it on `to`; both must then describe it the same way.
fn transfer(from: &mut RawConn, to: &mut RawConn, keys: &[Vec<u8>]) {
    for k in keys {
        let p = dump(from, k);
        let ttl = ttl_of(from, k);
        let r = to.cmd(&[&b"RESTORE"[..], k, &ttl, &p, b"REPLACE"]);
        assert_eq!(r, b"+OK\r\n", "RESTORE {}", String::from_utf8_lossy(k));
        assert_eq!(
            describe(from, k),
            describe(to, k),
            "{}",
            String::from_utf8_lossy(k)
        );
    }
}

#[test]
fn payloads_move_both_ways() {
    let redis = RedisServer::start(&[]);
    let ours = Server::ringkv(2, &[]);
    let mut r = redis.raw();
    let mut o = ours.raw();
    let keys = fill(&mut r);
    transfer(&mut r, &mut o, &keys);
    // And back, from a fresh fill on ringkv into an empty redis.
    r.cmd(&["FLUSHALL"]);
    o.cmd(&["FLUSHALL"]);
    let keys = fill(&mut o);
    transfer(&mut o, &mut r, &keys);
}

#[test]
fn error_replies_match_redis() {
    let redis = RedisServer::start(&[]);
    let ours = Server::ringkv(1, &[]);
    let mut r = redis.raw();
    let mut o = ours.raw();
    for c in [&mut r, &mut o] {
        c.cmd(&["SET", "k", "v"]);
    }
    let good = dump(&mut r, b"k");
    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 1;
    let reframe = |body: &[u8], version: u16| {
        let mut p = body.to_vec();
        p.extend_from_slice(&version.to_le_bytes());
        let crc = crc64::crc64(&p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    };
    let v11 = reframe(&good[..n - 10], 11);
    let v9 = reframe(&good[..n - 10], 9);
    let garbage_body = reframe(&[0, 0x3f, b'x'], 10);
    let bad_type = reframe(&[8, 1, b'x'], 10);
    let empty_set = reframe(&[2, 0], 10);
    let cases: Vec<Vec<Vec<u8>>> = vec![
        vec![
            b"RESTORE".to_vec(),
            b"k".to_vec(),
            b"0".to_vec(),
            good.clone(),
        ],
        vec![
            b"RESTORE".to_vec(),
            b"n".to_vec(),
            b"-1".to_vec(),
            good.clone(),
        ],
        vec![
            b"RESTORE".to_vec(),
            b"n".to_vec(),
            b"x".to_vec(),
            good.clone(),
        ],
        vec![
            b"RESTORE".to_vec(),
            b"n".to_vec(),
            b"0".to_vec(),
            b"junk".to_vec(),
        ],
        vec![b"RESTORE".to_vec(), b"n".to_vec(), b"0".to_vec(), bad_crc],
        vec![b"RESTORE".to_vec(), b"n".to_vec(), b"0".to_vec(), v11],
        vec![
            b"RESTORE".to_vec(),
            b"n".to_vec(),
            b"0".to_vec(),
            garbage_body,
        ],
        vec![b"RESTORE".to_vec(), b"n".to_vec(), b"0".to_vec(), bad_type],
        vec![b"RESTORE".to_vec(), b"n".to_vec(), b"0".to_vec(), empty_set],
        vec![b"RESTORE".to_vec(), b"n9".to_vec(), b"0".to_vec(), v9],
        args(&["RESTORE", "n", "0", "p", "IDLETIME", "-1"]),
        args(&["RESTORE", "n", "0", "p", "IDLETIME", "x"]),
        args(&["RESTORE", "n", "0", "p", "FREQ", "256"]),
        args(&["RESTORE", "n", "0", "p", "FREQ", "1", "IDLETIME", "1"]),
        args(&["RESTORE", "n", "0", "p", "IDLETIME"]),
        args(&["RESTORE", "n", "0", "p", "bogus"]),
        args(&["RESTORE", "n", "0"]),
        args(&["DUMP", "missing"]),
        args(&["DUMP"]),
        args(&["DUMP", "a", "b"]),
        vec![
            b"RESTORE".to_vec(),
            b"k".to_vec(),
            b"1".to_vec(),
            good.clone(),
            b"REPLACE".to_vec(),
            b"ABSTTL".to_vec(),
        ],
        args(&["EXISTS", "k"]),
        vec![
            b"RESTORE".to_vec(),
            b"i".to_vec(),
            b"0".to_vec(),
            good.clone(),
            b"IDLETIME".to_vec(),
            b"1000".to_vec(),
        ],
        args(&["OBJECT", "IDLETIME", "i"]),
        vec![
            b"RESTORE".to_vec(),
            b"a".to_vec(),
            b"4102444800000".to_vec(),
            good.clone(),
            b"ABSTTL".to_vec(),
        ],
        args(&["PEXPIRETIME", "a"]),
        args(&["GET", "n9"]),
    ];
    for c in &cases {
        assert_eq!(
            String::from_utf8_lossy(&o.cmd(c)),
            String::from_utf8_lossy(&r.cmd(c)),
            "{}",
            common::show_args(c)
        );
    }
}

/// Payload mutations: a few thousand, bounded, each answered with +OK or an error while the
/// server keeps serving.
#[test]
fn corrupt_payloads_never_crash() {
    // ringkv always checks payloads deeply; real Redis (RINGKV_TEST_AGAINST_REDIS) survives
    // this test only with deep sanitization on, so ask for it (ringkv accepts the directive).
    let ours = Server::ringkv(1, &["--sanitize-dump-payload", "yes"]);
    let mut o = ours.raw();
    let keys = fill(&mut o);
    let payloads: Vec<Vec<u8>> = keys.iter().map(|k| dump(&mut o, k)).collect();
    let mut rng = 0x2545f4914f6cdd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for i in 0..3000 {
        let p = &payloads[i % payloads.len()];
        let mut body = p[..p.len() - 10].to_vec();
        for _ in 0..(next() % 3 + 1) {
            let at = (next() as usize) % body.len();
            body[at] ^= 1 << (next() % 8);
        }
        if next() % 4 == 0 {
            body.truncate((next() as usize) % body.len());
        }
        // Half with a correct checksum, so the decoders see the damage.
        if i % 2 == 0 {
            body.extend_from_slice(&10u16.to_le_bytes());
            let crc = crc64::crc64(&body);
            body.extend_from_slice(&crc.to_le_bytes());
        } else {
            body.extend_from_slice(&p[p.len() - 10..]);
        }
        let r = o.cmd_reply(&[&b"RESTORE"[..], b"fuzz", b"0", &body, b"REPLACE"]);
        match r {
            Reply::Simple(s) if s == b"OK" => {}
            Reply::Error(e) => assert!(
                e == b"ERR Bad data format"
                    || e == b"ERR DUMP payload version or checksum are wrong",
                "{}",
                String::from_utf8_lossy(&e)
            ),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(o.cmd(&["PING"]), b"+PONG\r\n");
}

fn check_rdb(bin: &str, path: &std::path::Path) -> (i32, String) {
    let out = run_bounded(60, bin, &[&path.to_string_lossy()]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), text)
}

/// redis-server SAVE output: our reader loads every key as redis DUMPs it, ringkv-check-rdb
/// prints what redis-check-rdb prints, on the file and on damaged copies.
#[test]
fn redis_save_files_load_and_check() {
    let redis = RedisServer::start(&["--dbfilename", "dump.rdb"]);
    let mut r = redis.raw();
    let keys = fill(&mut r);
    r.cmd(&["SELECT", "3"]);
    r.cmd(&["SET", "indb3", "1"]);
    r.cmd(&["SELECT", "0"]);
    assert_eq!(r.cmd(&["SAVE"]), b"+OK\r\n");
    let path = redis.dir.join("dump.rdb");
    let bytes = std::fs::read(&path).unwrap();

    let mut loaded = Vec::new();
    let summary = rdb::load(&bytes[..], |e| {
        loaded.push(e);
        Ok(())
    })
    .unwrap();
    assert_eq!(summary.version, 10);
    assert_eq!(summary.checksum, rdb::read::Checksum::Ok);
    assert_eq!(loaded.len(), keys.len() + 1);
    for e in &loaded {
        if e.db == 3 {
            assert_eq!(e.key, b"indb3");
            continue;
        }
        let from_dump = rdb::read_dump_payload(&dump(&mut r, &e.key)).unwrap();
        assert_eq!(e.value, from_dump, "{}", String::from_utf8_lossy(&e.key));
        assert_eq!(e.value.encoding(), from_dump.encoding());
        assert_eq!(e.expire_ms.is_some(), e.key == b"s_ttl");
    }

    let (rc, ours) = check_rdb(CHECK_BIN, &path);
    let (rrc, theirs) = check_rdb("redis-check-rdb", &path);
    assert_eq!((rc, &ours), (rrc, &theirs));
    assert_eq!(rc, 0);

    // Damaged copies: truncations at several points, a flipped byte in the last key.
    let dir = TestDir::new();
    let mut cuts = vec![9, 40, 100, bytes.len() - 9, bytes.len() - 3];
    cuts.extend((1..40).map(|i| bytes.len() * i / 40));
    let mut damaged: Vec<Vec<u8>> = cuts.iter().map(|&n| bytes[..n].to_vec()).collect();
    let mut flip = bytes.clone();
    let n = flip.len();
    flip[n - 12] ^= 0x01;
    damaged.push(flip);
    for (i, d) in damaged.iter().enumerate() {
        let p = dir.join(&format!("bad{i}.rdb"));
        std::fs::write(&p, d).unwrap();
        let (rc, ours) = check_rdb(CHECK_BIN, &p);
        let (rrc, theirs) = check_rdb("redis-check-rdb", &p);
        assert_eq!(rc, 1, "{ours}");
        assert_eq!(rrc, 1, "{theirs}");
        assert!(ours.contains("--- RDB ERROR DETECTED ---"), "{ours}");
        assert_eq!(ours, theirs, "case {i}");
    }
}

/// Our writer's file, from the values of a redis SAVE, loads in redis-server with the same
/// content, and redis-check-rdb accepts it (with and without compression and checksum).
#[test]
fn our_files_load_in_redis() {
    let redis = RedisServer::start(&["--dbfilename", "dump.rdb"]);
    let mut r = redis.raw();
    let keys = fill(&mut r);
    assert_eq!(r.cmd(&["SAVE"]), b"+OK\r\n");
    let bytes = std::fs::read(redis.dir.join("dump.rdb")).unwrap();
    let mut entries = Vec::new();
    rdb::load(&bytes[..], |e| {
        entries.push(e);
        Ok(())
    })
    .unwrap();
    for opts in [
        WriteOptions::default(),
        WriteOptions {
            compression: false,
            checksum: false,
        },
    ] {
        let dir = TestDir::new();
        let file = dir.join("ours.rdb");
        let mut w = RdbWriter::new(std::fs::File::create(&file).unwrap(), opts);
        w.header().unwrap();
        w.default_aux(&Default::default()).unwrap();
        w.select_db(0).unwrap();
        let nexp = entries.iter().filter(|e| e.expire_ms.is_some()).count();
        w.resize_db(entries.len() as u64, nexp as u64).unwrap();
        for e in &entries {
            w.entry(&e.key, &e.value, e.expire_ms).unwrap();
        }
        w.finish().unwrap();
        let (rc, report) = check_rdb("redis-check-rdb", &file);
        assert_eq!(rc, 0, "{report}");
        let (rc, ours) = check_rdb(CHECK_BIN, &file);
        assert_eq!(rc, 0, "{ours}");
        let copy = RedisServer::start(&["--dir", &dir.path_str(), "--dbfilename", "ours.rdb"]);
        let mut c = copy.raw();
        for k in &keys {
            assert_eq!(
                describe(&mut r, k),
                describe(&mut c, k),
                "{}",
                String::from_utf8_lossy(k)
            );
        }
    }
}

/// Files with the LRU/LFU opcodes (IDLE, FREQ) and a function library: our reader reads the
/// opcodes, refuses the library clearly, and ringkv-check-rdb reports like redis-check-rdb.
#[test]
fn lru_lfu_opcodes_and_functions() {
    for policy in ["allkeys-lru", "allkeys-lfu"] {
        let redis = RedisServer::start(&["--dbfilename", "dump.rdb", "--maxmemory-policy", policy]);
        let mut r = redis.raw();
        let keys = fill(&mut r);
        assert_eq!(r.cmd(&["SAVE"]), b"+OK\r\n");
        let path = redis.dir.join("dump.rdb");
        let bytes = std::fs::read(&path).unwrap();
        let mut n = 0;
        rdb::load(&bytes[..], |e| {
            n += 1;
            if policy == "allkeys-lru" {
                assert!(e.idle_secs.is_some() && e.freq.is_none(), "{e:?}");
            } else {
                assert!(e.freq.is_some() && e.idle_secs.is_none(), "{e:?}");
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(n, keys.len());
        let (rc, ours) = check_rdb(CHECK_BIN, &path);
        assert_eq!((rc, ours), check_rdb("redis-check-rdb", &path));

        let lib = "#!lua name=mylib\nredis.register_function('f', function() return 1 end)";
        let reply = r.cmd(&["FUNCTION", "LOAD", lib]);
        assert_eq!(reply, b"$5\r\nmylib\r\n");
        assert_eq!(r.cmd(&["SAVE"]), b"+OK\r\n");
        let bytes = std::fs::read(&path).unwrap();
        let err = rdb::load(&bytes[..], |_| Ok(())).unwrap_err();
        assert!(err.what.contains("function"), "{err}");
        let (rc, ours) = check_rdb(CHECK_BIN, &path);
        assert_eq!((rc, ours), check_rdb("redis-check-rdb", &path));
    }
}

/// With `rdbcompression no` our DUMP is byte-for-byte Redis's for every encoding whose order
/// is defined (everything but hash tables, whose order is the table's).
#[test]
fn dump_bytes_match_redis_without_compression() {
    let redis = RedisServer::start(&[]);
    let ours = Server::ringkv(1, &[]);
    let mut r = redis.raw();
    let mut o = ours.raw();
    for c in [&mut r, &mut o] {
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "rdbcompression", "no"]),
            b"+OK\r\n"
        );
    }
    let keys = fill(&mut r);
    fill(&mut o);
    for k in &keys {
        let name = String::from_utf8_lossy(k);
        let (a, b) = (dump(&mut r, k), dump(&mut o, k));
        if ["set_str", "h_big", "set_bigint", "set_bigstr"].contains(&&*name) {
            assert_eq!(a.len(), b.len(), "{name}");
        } else {
            assert_eq!(a, b, "{name}");
        }
    }
}
