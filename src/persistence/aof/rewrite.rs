//! The AOF-format rewrite of a dataset (Redis's `rewriteAppendOnlyFileRio`, the
//! `aof-use-rdb-preamble no` base): per db a `SELECT`, then per key the fewest commands that
//! rebuild it (`SET`, `RPUSH`/`SADD`/`ZADD`/`HMSET` with at most 64 items each), then
//! `PEXPIREAT` for a key with a TTL. Keys already expired are skipped.

use crate::keyspace::value::{RString, Value};
use crate::keyspace::{Db, NO_EXPIRE};
use crate::shard::journal::encode;

/// Redis's AOF_REWRITE_ITEMS_PER_CMD.
pub const ITEMS_PER_CMD: usize = 64;

fn header(out: &mut Vec<u8>, argc: usize) {
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(argc).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn bulk(out: &mut Vec<u8>, a: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(a.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(a);
    out.extend_from_slice(b"\r\n");
}

/// Writes `cmd key item...` commands of at most [`ITEMS_PER_CMD`] items each; `width` is the
/// number of arguments one item takes.
fn chunked<'a>(
    out: &mut Vec<u8>,
    cmd: &[u8],
    key: &[u8],
    total: usize,
    width: usize,
    items: impl Iterator<Item = Vec<std::borrow::Cow<'a, [u8]>>>,
) {
    let mut left = total;
    let mut in_cmd = 0;
    for item in items {
        if in_cmd == 0 {
            let n = left.min(ITEMS_PER_CMD);
            header(out, 2 + n * width);
            bulk(out, cmd);
            bulk(out, key);
        }
        for a in &item {
            bulk(out, a);
        }
        in_cmd += 1;
        left -= 1;
        if in_cmd == ITEMS_PER_CMD {
            in_cmd = 0;
        }
    }
}

fn double(d: f64) -> Vec<u8> {
    let mut v = Vec::with_capacity(24);
    let _ = crate::resp::writer::format_double(d, &mut v);
    v
}

/// Appends the commands that rebuild `key` = `value` (with its absolute expiry).
pub fn rewrite_key(out: &mut Vec<u8>, key: &[u8], value: &Value, expire_at: i64) {
    use std::borrow::Cow;
    match value {
        Value::Str(s) => {
            header(out, 3);
            bulk(out, b"SET");
            bulk(out, key);
            match s {
                RString::Int(i) => bulk(out, itoa::Buffer::new().format(*i).as_bytes()),
                RString::Bytes { buf, .. } => bulk(out, buf),
            }
        }
        Value::List(l) => chunked(
            out,
            b"RPUSH",
            key,
            l.len(),
            1,
            l.iter().map(|i| vec![Cow::Borrowed(i)]),
        ),
        Value::Set(s) => chunked(
            out,
            b"SADD",
            key,
            s.len(),
            1,
            s.iter().map(|m| vec![Cow::Owned(m.to_vec())]),
        ),
        Value::ZSet(z) => chunked(
            out,
            b"ZADD",
            key,
            z.len(),
            2,
            z.iter(false)
                .map(|(m, sc)| vec![Cow::Owned(double(sc)), Cow::Borrowed(m)]),
        ),
        Value::Hash(h) => chunked(
            out,
            b"HMSET",
            key,
            h.len(),
            2,
            h.iter()
                .map(|(f, v)| vec![Cow::Borrowed(f), Cow::Borrowed(v)]),
        ),
    }
    if expire_at != NO_EXPIRE {
        let at = itoa::Buffer::new().format(expire_at).as_bytes().to_vec();
        encode(out, &[&b"PEXPIREAT"[..], key, &at]);
    }
}

/// Appends the rewrite of one db (nothing when it holds no live key).
pub fn rewrite_db(out: &mut Vec<u8>, index: usize, db: &Db, now: i64) {
    let mut selected = false;
    for (key, e) in db.iter() {
        if e.expire_at != NO_EXPIRE && e.expire_at < now {
            continue;
        }
        if !selected {
            encode(
                out,
                &[&b"SELECT"[..], itoa::Buffer::new().format(index).as_bytes()],
            );
            selected = true;
        }
        rewrite_key(out, key, &e.value, e.expire_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{Entry, List};

    #[test]
    fn list_of_65_items_takes_two_rpush_and_ttl_follows() {
        let mut l = List::default();
        for i in 0..65 {
            l.push(crate::keyspace::list::End::Tail, format!("{i}").as_bytes());
        }
        let mut out = Vec::new();
        rewrite_key(&mut out, b"l", &Value::List(l), 1234);
        let s = String::from_utf8_lossy(&out);
        assert!(s.starts_with("*66\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\n0\r\n"));
        assert!(s.contains("*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$2\r\n64\r\n"));
        assert!(s.ends_with("*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nl\r\n$4\r\n1234\r\n"));
    }

    #[test]
    fn db_rewrite_selects_and_skips_expired() {
        let mut db = Db::new();
        db.put_entry(b"a", Entry::new(Value::from_int(7)));
        let mut dead = Entry::new(Value::from_bytes(b"x"));
        dead.expire_at = 5;
        db.put_entry(b"dead", dead);
        let mut out = Vec::new();
        rewrite_db(&mut out, 3, &db, 10);
        assert_eq!(
            out,
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n7\r\n".to_vec()
        );
    }
}
