//! The RDB writer: version 10 with the encodings Redis 7.0 writes for each of our
//! representations.
//!
//! Serialization of one value ([`write_value`]) or one entry ([`write_entry`]) appends to a
//! `Vec<u8>` and needs no file: a shard serializes its entries into a chunk, and one
//! [`RdbWriter`] emits the header, the chunks ([`RdbWriter::chunk`]) and the trailer, computing
//! the CRC incrementally over everything it writes.

use super::listpack::{intset_encode, ListpackBuilder, QUICKLIST_NODE_BYTES};
use super::*;
use crate::keyspace::hash::Hash;
use crate::keyspace::set::Set;
use crate::keyspace::value::parse_canonical_i64;
use crate::keyspace::{RString, Value, ZSet};
use std::io::{self, Write};
use std::path::Path;

/// `rdbcompression` and `rdbchecksum`.
#[derive(Clone, Copy, Debug)]
pub struct WriteOptions {
    pub compression: bool,
    pub checksum: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            compression: true,
            checksum: true,
        }
    }
}

/// `rdbSaveLen`: 6-bit, 14-bit, 32-bit or 64-bit big-endian length.
pub fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// `rdbEncodeInteger`: the INT8/16/32 string encodings, when `v` fits.
fn write_small_int(out: &mut Vec<u8>, v: i64) -> bool {
    if let Ok(b) = i8::try_from(v) {
        out.push(0xC0);
        out.push(b as u8);
    } else if let Ok(h) = i16::try_from(v) {
        out.push(0xC1);
        out.extend_from_slice(&h.to_le_bytes());
    } else if let Ok(w) = i32::try_from(v) {
        out.push(0xC2);
        out.extend_from_slice(&w.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// `rdbSaveRawString`: an integer encoding for short canonical integers, LZF for strings over
/// 20 bytes when it saves at least 4 bytes (and `compress`), else length + bytes.
pub fn write_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 {
        if let Some(v) = parse_canonical_i64(s) {
            if write_small_int(out, v) {
                return;
            }
        }
    }
    if compress && s.len() > 20 {
        // Redis gives LZF `len - 4` bytes of room: it must save at least 4 bytes.
        if let Some(c) = super::lzf::compress(s, s.len() - 3) {
            out.push(0xC3);
            write_len(out, c.len() as u64);
            write_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// `rdbSaveLongLongAsStringObject`.
fn write_int_string(out: &mut Vec<u8>, v: i64, compress: bool) {
    if !write_small_int(out, v) {
        write_string(out, itoa::Buffer::new().format(v).as_bytes(), compress);
    }
}

/// Redis's `d2string`: integral values below 2^52 as integers, else `%.17g`.
pub fn d2string(v: f64) -> Vec<u8> {
    if v == 0.0 {
        return if v.is_sign_negative() {
            b"-0".to_vec()
        } else {
            b"0".to_vec()
        };
    }
    if v.is_finite() && v > -4503599627370495.0 && v < 4503599627370496.0 && v == v.trunc() {
        return itoa::Buffer::new().format(v as i64).as_bytes().to_vec();
    }
    let mut out = Vec::with_capacity(24);
    // Writing into a Vec cannot fail.
    let _ = crate::resp::writer::format_double(v, &mut out);
    out
}

/// The type id Redis 7.0 writes for a value in its current representation.
pub fn value_type(v: &Value) -> u8 {
    match v {
        Value::Str(_) => TYPE_STRING,
        Value::List(_) => TYPE_LIST_QUICKLIST_2,
        Value::Hash(Hash::Listpack(_)) => TYPE_HASH_LISTPACK,
        Value::Hash(Hash::Table(_)) => TYPE_HASH,
        Value::Set(Set::Intset(_)) => TYPE_SET_INTSET,
        Value::Set(Set::Table(_)) => TYPE_SET,
        Value::ZSet(z) if z.is_listpack() => TYPE_ZSET_LISTPACK,
        Value::ZSet(_) => TYPE_ZSET_2,
    }
}

/// Appends the value's body (without its type byte) as `rdbSaveObject` does.
pub fn write_value_body(out: &mut Vec<u8>, v: &Value, compress: bool) {
    match v {
        Value::Str(RString::Int(i)) => write_int_string(out, *i, compress),
        Value::Str(RString::Bytes { buf, .. }) => write_string(out, buf, compress),
        Value::List(l) => {
            // Quicklist 2: packed listpack nodes of at most 8 KB (list-max-listpack-size -2),
            // split where Redis splits: when size + element + 8 bytes of estimated overhead
            // would pass the limit.
            let mut nodes: Vec<Vec<u8>> = Vec::new();
            let mut lp = ListpackBuilder::new();
            for item in l.iter() {
                if !lp.is_empty() && lp.bytes() + item.len() + 8 > QUICKLIST_NODE_BYTES {
                    nodes.push(std::mem::take(&mut lp).finish());
                }
                lp.push(item);
            }
            if !lp.is_empty() {
                nodes.push(lp.finish());
            }
            write_len(out, nodes.len() as u64);
            for n in &nodes {
                write_len(out, QUICKLIST_NODE_PACKED);
                write_string(out, n, compress);
            }
        }
        Value::Hash(Hash::Listpack(pairs)) => {
            let mut lp = ListpackBuilder::new();
            for (f, x) in pairs {
                lp.push(f);
                lp.push(x);
            }
            write_string(out, &lp.finish(), compress);
        }
        Value::Hash(h) => {
            write_len(out, h.len() as u64);
            for (f, x) in h.iter() {
                write_string(out, f, compress);
                write_string(out, x, compress);
            }
        }
        Value::Set(Set::Intset(v)) => write_string(out, &intset_encode(v), compress),
        Value::Set(s) => {
            write_len(out, s.len() as u64);
            let mut buf = itoa::Buffer::new();
            for m in s.iter() {
                match m {
                    crate::keyspace::set::Member::Int(i) => {
                        write_string(out, buf.format(i).as_bytes(), compress)
                    }
                    crate::keyspace::set::Member::Bytes(b) => write_string(out, b, compress),
                }
            }
        }
        Value::ZSet(z) => write_zset(out, z, compress),
    }
}

fn write_zset(out: &mut Vec<u8>, z: &ZSet, compress: bool) {
    if z.is_listpack() {
        let mut lp = ListpackBuilder::new();
        for (m, s) in z.iter(false) {
            lp.push(m);
            lp.push(&d2string(s));
        }
        write_string(out, &lp.finish(), compress);
    } else {
        // Redis walks the skiplist from the tail: highest score first.
        write_len(out, z.len() as u64);
        for (m, s) in z.iter(true) {
            write_string(out, m, compress);
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
}

/// Appends type byte + body (the start of a DUMP payload); returns the type id.
pub fn write_value(out: &mut Vec<u8>, v: &Value, compress: bool) -> u8 {
    let t = value_type(v);
    out.push(t);
    write_value_body(out, v, compress);
    t
}

/// Appends one key: `EXPIRETIME_MS` when it has a TTL, type, key, value.
pub fn write_entry(
    out: &mut Vec<u8>,
    key: &[u8],
    v: &Value,
    expire_ms: Option<i64>,
    compress: bool,
) {
    write_entry_with(out, key, v, expire_ms, Access::None, compress)
}

/// The access data written before a key (Redis 7.0's rdbSaveKeyValuePair writes `IDLE` under
/// an LRU policy and `FREQ` under an LFU policy, whatever `maxmemory` is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    None,
    Idle(u64),
    Freq(u8),
}

impl Access {
    /// What the current `maxmemory-policy` writes for `e`.
    pub fn of(e: &crate::keyspace::Entry) -> Access {
        use crate::keyspace::evict;
        let p = evict::policy();
        if p.is_lru() {
            Access::Idle(evict::idle_secs(e.lru))
        } else if p.is_lfu() {
            Access::Freq(evict::lfu_freq(e.lru))
        } else {
            Access::None
        }
    }
}

/// [`write_entry`] with the key's access data: `EXPIRETIME_MS`, `IDLE` or `FREQ`, type, key,
/// value.
pub fn write_entry_with(
    out: &mut Vec<u8>,
    key: &[u8],
    v: &Value,
    expire_ms: Option<i64>,
    access: Access,
    compress: bool,
) {
    if let Some(ms) = expire_ms {
        out.push(OPCODE_EXPIRETIME_MS);
        out.extend_from_slice(&ms.to_le_bytes());
    }
    match access {
        Access::None => {}
        Access::Idle(secs) => {
            out.push(OPCODE_IDLE);
            write_len(out, secs);
        }
        Access::Freq(f) => out.extend_from_slice(&[OPCODE_FREQ, f]),
    }
    out.push(value_type(v));
    write_string(out, key, compress);
    write_value_body(out, v, compress);
}

/// A DUMP payload: type + value, RDB version (2 bytes LE), CRC64 of all that (8 bytes LE).
pub fn dump_payload(v: &Value, compress: bool) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, v, compress);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The AUX fields Redis 7.0 writes at the top of a file, in its order.
#[derive(Clone, Debug, Default)]
pub struct AuxFields {
    /// Unix seconds.
    pub ctime: i64,
    pub used_mem: u64,
    /// `repl-stream-db`, `repl-id`, `repl-offset`, when replication info is known.
    pub repl: Option<(usize, String, i64)>,
    pub aof_base: bool,
}

/// A whole RDB stream: header, AUX, databases, EOF, CRC64 trailer.
pub struct RdbWriter<W: Write> {
    w: W,
    crc: u64,
    opts: WriteOptions,
    written: u64,
    buf: Vec<u8>,
}

impl<W: Write> RdbWriter<W> {
    pub fn new(w: W, opts: WriteOptions) -> Self {
        RdbWriter {
            w,
            crc: 0,
            opts,
            written: 0,
            buf: Vec::new(),
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes already-serialized bytes (a shard's chunk of [`write_entry`] output), counting
    /// them in the CRC.
    pub fn chunk(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.opts.checksum {
            self.crc = crc64::update(self.crc, bytes);
        }
        self.written += bytes.len() as u64;
        self.w.write_all(bytes)
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        let b = std::mem::take(&mut self.buf);
        let r = self.chunk(&b);
        self.buf = b;
        self.buf.clear();
        r
    }

    pub fn header(&mut self) -> io::Result<()> {
        self.chunk(format!("REDIS{RDB_VERSION:04}").as_bytes())
    }

    pub fn aux(&mut self, key: &[u8], val: &[u8]) -> io::Result<()> {
        self.buf.push(OPCODE_AUX);
        write_string(&mut self.buf, key, self.opts.compression);
        write_string(&mut self.buf, val, self.opts.compression);
        self.flush_buf()
    }

    /// The AUX block Redis 7.0 writes: redis-ver, redis-bits, ctime, used-mem, the
    /// replication fields when known, aof-base.
    pub fn default_aux(&mut self, a: &AuxFields) -> io::Result<()> {
        let mut n = itoa::Buffer::new();
        self.aux(b"redis-ver", crate::REDIS_VERSION.as_bytes())?;
        self.aux(b"redis-bits", n.format(usize::BITS).as_bytes())?;
        self.aux(b"ctime", n.format(a.ctime).as_bytes())?;
        self.aux(b"used-mem", n.format(a.used_mem).as_bytes())?;
        if let Some((db, id, off)) = &a.repl {
            self.aux(b"repl-stream-db", n.format(*db).as_bytes())?;
            self.aux(b"repl-id", id.as_bytes())?;
            self.aux(b"repl-offset", n.format(*off).as_bytes())?;
        }
        self.aux(b"aof-base", if a.aof_base { b"1" } else { b"0" })
    }

    pub fn select_db(&mut self, db: usize) -> io::Result<()> {
        self.buf.push(OPCODE_SELECTDB);
        write_len(&mut self.buf, db as u64);
        self.flush_buf()
    }

    pub fn resize_db(&mut self, db_size: u64, expires_size: u64) -> io::Result<()> {
        self.buf.push(OPCODE_RESIZEDB);
        write_len(&mut self.buf, db_size);
        write_len(&mut self.buf, expires_size);
        self.flush_buf()
    }

    pub fn entry(&mut self, key: &[u8], v: &Value, expire_ms: Option<i64>) -> io::Result<()> {
        write_entry(&mut self.buf, key, v, expire_ms, self.opts.compression);
        self.flush_buf()
    }

    /// Writes EOF and the CRC64 trailer (zeros when checksums are off); returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.chunk(&[OPCODE_EOF])?;
        let crc = if self.opts.checksum { self.crc } else { 0 };
        self.w.write_all(&crc.to_le_bytes())?;
        self.written += 8;
        self.w.flush()?;
        Ok(self.w)
    }
}

/// One database's entries for [`save_snapshot`]: (key, value, expire ms).
pub struct DbEntries<'a> {
    pub db: usize,
    pub entries: Vec<(&'a [u8], &'a Value, Option<i64>)>,
}

/// Writes a whole RDB file the crash-safe way: a temp file next to `path`, fsync, rename over
/// `path`, fsync of the directory. Blocking I/O: call it from a helper thread, not a shard.
pub fn save_snapshot(
    path: &Path,
    aux: &AuxFields,
    dbs: &[DbEntries<'_>],
    opts: WriteOptions,
) -> io::Result<u64> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = dir.join(format!("temp-{}.rdb", std::process::id()));
    let result = (|| {
        let f = std::fs::File::create(&tmp)?;
        let mut w = RdbWriter::new(io::BufWriter::with_capacity(1 << 16, f), opts);
        w.header()?;
        w.default_aux(aux)?;
        for d in dbs.iter().filter(|d| !d.entries.is_empty()) {
            w.select_db(d.db)?;
            let nexp = d.entries.iter().filter(|e| e.2.is_some()).count();
            w.resize_db(d.entries.len() as u64, nexp as u64)?;
            for (k, v, exp) in &d.entries {
                w.entry(k, v, *exp)?;
            }
        }
        let written = w.written() + 9;
        let f = w.finish()?.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        Ok(written)
    })();
    match result {
        Ok(n) => {
            std::fs::rename(&tmp, path)?;
            std::fs::File::open(&dir)?.sync_all()?;
            Ok(n)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_strings_match_redis() {
        let mut o = Vec::new();
        write_len(&mut o, 63);
        write_len(&mut o, 64);
        write_len(&mut o, 16384);
        assert_eq!(o, [63, 0x40, 64, 0x80, 0, 0, 0x40, 0]);
        let mut o = Vec::new();
        write_string(&mut o, b"64", true);
        write_string(&mut o, b"-300", true);
        write_string(&mut o, b"9999999999", true);
        write_string(&mut o, b"012", true);
        assert_eq!(
            o,
            [
                0xC0, 64, 0xC1, 0xD4, 0xFE, 10, b'9', b'9', b'9', b'9', b'9', b'9', b'9', b'9',
                b'9', b'9', 3, b'0', b'1', b'2'
            ]
        );
    }

    #[test]
    fn dump_payload_matches_redis() {
        // redis-server 7.0.15: SET k <50 x 'a'>; DUMP k.
        let want: &[u8] = b"\x00\xc3\t2\x01aa\xe0%\x00\x01aa\n\x00\t\xacH\xb9\xab\x15\xfb\xc9";
        let got = dump_payload(&Value::from_bytes(&[b'a'; 50]), true);
        // Our LZF may pick different references; the framing and checksum rule must match.
        assert_eq!(&got[..2], &want[..2]);
        let n = got.len();
        assert_eq!(&got[n - 10..n - 8], &[10, 0]);
        assert_eq!(
            crc64::crc64(&want[..want.len() - 8]).to_le_bytes(),
            want[want.len() - 8..]
        );
        assert_eq!(crc64::crc64(&got[..n - 8]).to_le_bytes(), got[n - 8..]);
    }

    #[test]
    fn d2string_like_redis() {
        assert_eq!(d2string(1.0), b"1");
        assert_eq!(d2string(2.5), b"2.5");
        assert_eq!(d2string(-0.0), b"-0");
        assert_eq!(d2string(0.1), b"0.10000000000000001");
        assert_eq!(d2string(f64::INFINITY), b"inf");
        assert_eq!(d2string(1e20), b"1e+20");
    }

    #[test]
    fn save_snapshot_writes_a_loadable_file_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.rdb");
        std::fs::write(&path, b"old").unwrap();
        let a = Value::from_bytes(b"1");
        let b = Value::from_bytes(b"two");
        let dbs = [
            DbEntries {
                db: 0,
                entries: vec![
                    (&b"a"[..], &a, None),
                    (&b"b"[..], &b, Some(4_000_000_000_000)),
                ],
            },
            DbEntries {
                db: 1,
                entries: vec![],
            },
            DbEntries {
                db: 5,
                entries: vec![(&b"c"[..], &a, None)],
            },
        ];
        let aux = AuxFields {
            ctime: 1_700_000_000,
            repl: Some((0, "a".repeat(40), 42)),
            ..Default::default()
        };
        let n = save_snapshot(&path, &aux, &dbs, WriteOptions::default()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(n, bytes.len() as u64);
        let mut got = Vec::new();
        let sum = super::super::load(&bytes[..], |e| {
            got.push((e.db, e.key, e.expire_ms));
            Ok(())
        })
        .unwrap();
        assert_eq!(sum.aux_field(b"repl-offset"), Some(&b"42"[..]));
        assert_eq!(sum.aux_field(b"ctime"), Some(&b"1700000000"[..]));
        assert_eq!(
            got,
            [
                (0, b"a".to_vec(), None),
                (0, b"b".to_vec(), Some(4_000_000_000_000)),
                (5, b"c".to_vec(), None)
            ]
        );
        // Only the final file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
