//! The RDB reader: versions 1..12, every encoding Redis has written.
//!
//! Input is streamed through [`std::io::Read`]; lengths read from the input never size an
//! allocation up front (data is read in bounded chunks, so a truncated or lying input fails
//! with "Unexpected EOF" instead of allocating). Every failure is an [`RdbError`] with the
//! offset where it was detected.

use super::listpack::{intset_decode, listpack_decode, ziplist_decode, zipmap_decode};
use super::*;
use crate::keyspace::hash::Hash;
use crate::keyspace::list::End;
use crate::keyspace::set::Set;
use crate::keyspace::value::parse_canonical_i64;
use crate::keyspace::{List, Value, ZSet};
use std::io::Read;

type Result<T> = std::result::Result<T, RdbError>;

/// Largest chunk read at once for a length taken from the input.
const READ_CHUNK: usize = 1 << 20;
/// Largest preallocation for a collection count taken from the input.
const MAX_PREALLOC: usize = 1024;

pub const EOF_MSG: &str = "Unexpected EOF reading RDB file";

/// One key read from the file.
#[derive(Debug)]
pub struct RdbEntry {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    /// Absolute unix time in ms.
    pub expire_ms: Option<i64>,
    /// LRU idle seconds (`IDLE` opcode), when the file has it.
    pub idle_secs: Option<u64>,
    /// LFU counter (`FREQ` opcode), when the file has it.
    pub freq: Option<u8>,
}

/// What the trailer said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// Verified.
    Ok,
    /// The file was written with `rdbchecksum no` (trailer 0).
    Disabled,
    /// Version < 5: no trailer.
    Absent,
}

/// What a successful load saw.
#[derive(Debug)]
pub struct LoadSummary {
    pub version: u16,
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    pub keys: u64,
    pub expires: u64,
    /// Empty collections skipped (Redis skips them too).
    pub empty_skipped: u64,
    pub checksum: Checksum,
    /// Bytes consumed, trailer included.
    pub bytes: u64,
}

impl LoadSummary {
    pub fn aux_field(&self, key: &[u8]) -> Option<&[u8]> {
        self.aux
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }
}

/// Receives what the loader reads. Only [`Visitor::entry`] is required.
pub trait Visitor {
    /// A new phase ("read-type", "read-key", "read-object-value", "check-sum", ...), as
    /// redis-check-rdb names them.
    fn stage(&mut self, _doing: &'static str) {}
    fn aux(&mut self, _offset: u64, _key: &[u8], _val: &[u8]) {}
    /// `SELECTDB`; an error (e.g. db out of range) stops the load.
    fn select_db(&mut self, _offset: u64, _db: u64) -> std::result::Result<(), String> {
        Ok(())
    }
    fn resize_db(&mut self, _db_size: u64, _expires_size: u64) {}
    /// A key's type byte was read; its name comes next.
    fn object_type(&mut self, _type_id: u8) {}
    /// A key's name and type were read; its value comes next.
    fn begin_key(&mut self, _offset: u64, _type_id: u8, _key: &[u8]) {}
    fn entry(&mut self, e: RdbEntry) -> std::result::Result<(), String>;
    /// A function library (`FUNCTION2`). ringkv has no functions: refuse by default.
    fn function(&mut self, _code: &[u8]) -> std::result::Result<(), String> {
        Err(
            "The RDB file contains a function library, and ringkv does not support functions"
                .to_string(),
        )
    }
    fn checksum(&mut self, _offset: u64, _c: Checksum) {}
}

struct FnVisitor<F>(F);

impl<F: FnMut(RdbEntry) -> std::result::Result<(), String>> Visitor for FnVisitor<F> {
    fn entry(&mut self, e: RdbEntry) -> std::result::Result<(), String> {
        (self.0)(e)
    }
}

/// Loads a whole RDB stream, calling `on_entry` for each key.
pub fn load(
    r: impl Read,
    on_entry: impl FnMut(RdbEntry) -> std::result::Result<(), String>,
) -> Result<LoadSummary> {
    load_with(r, &mut FnVisitor(on_entry))
}

/// Input with offset tracking and a running CRC64.
struct Src<R> {
    r: R,
    offset: u64,
    crc: u64,
}

impl<R: Read> Src<R> {
    fn new(r: R) -> Self {
        Src {
            r,
            offset: 0,
            crc: 0,
        }
    }

    fn err(&self, what: impl Into<String>) -> RdbError {
        RdbError::new(self.offset, what)
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        let mut done = 0;
        while done < buf.len() {
            match self.r.read(&mut buf[done..]) {
                // Like Redis's rioRead, a short read reports the offset where the read began.
                Ok(0) => return Err(self.err(EOF_MSG)),
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.err(format!("Read error: {e}"))),
            }
        }
        self.crc = crc64::update(self.crc, buf);
        self.offset += buf.len() as u64;
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.fill(&mut b)?;
        Ok(b)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// `n` bytes, read in bounded chunks so a lying length cannot allocate more than the
    /// input really holds (plus one chunk).
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>> {
        let n = usize::try_from(n).map_err(|_| self.err("Length too large"))?;
        let begin = self.offset;
        let mut out = Vec::with_capacity(n.min(READ_CHUNK));
        while out.len() < n {
            let start = out.len();
            let step = (n - start).min(READ_CHUNK);
            out.resize(start + step, 0);
            self.fill(&mut out[start..])
                .map_err(|e| RdbError::new(begin, e.what))?;
        }
        Ok(out)
    }

    /// `rdbLoadLenByRef`: (length or special encoding, is_encoded).
    fn len_or_enc(&mut self) -> Result<(u64, bool)> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => ((b & 0x3f) as u64, false),
            1 => {
                let lo = self.u8()?;
                ((((b & 0x3f) as u64) << 8) | lo as u64, false)
            }
            2 => match b {
                0x80 => (u32::from_be_bytes(self.array()?) as u64, false),
                0x81 => (u64::from_be_bytes(self.array()?), false),
                _ => return Err(self.err(format!("Unknown length encoding {b} in rdbLoadLen()"))),
            },
            _ => ((b & 0x3f) as u64, true),
        })
    }

    fn len(&mut self) -> Result<u64> {
        match self.len_or_enc()? {
            (n, false) => Ok(n),
            (_, true) => Err(self.err("Unexpected string encoding where a length was expected")),
        }
    }

    /// `rdbGenericLoadStringObject`: raw, INT8/16/32 or LZF.
    fn string(&mut self) -> Result<Vec<u8>> {
        let (n, enc) = self.len_or_enc()?;
        if !enc {
            return self.bytes(n);
        }
        let v: i64 = match n {
            0 => self.array::<1>()?[0] as i8 as i64,
            1 => i16::from_le_bytes(self.array()?) as i64,
            2 => i32::from_le_bytes(self.array()?) as i64,
            3 => {
                let clen = self.len()?;
                let ulen = self.len()?;
                let at = self.offset;
                let c = self.bytes(clen)?;
                let ulen = usize::try_from(ulen).map_err(|_| self.err("Length too large"))?;
                return lzf::decompress(&c, ulen)
                    .map_err(|e| RdbError::new(at, format!("Invalid LZF compressed string: {e}")));
            }
            _ => return Err(self.err(format!("Unknown RDB string encoding type {n}"))),
        };
        Ok(itoa::Buffer::new().format(v).as_bytes().to_vec())
    }

    /// The old ASCII double of `ZSET` (type 3): length byte, or 253/254/255 for nan/inf/-inf.
    fn ascii_double(&mut self) -> Result<f64> {
        match self.u8()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let b = self.bytes(n as u64)?;
                parse_double(&b).ok_or_else(|| self.err("Invalid double value"))
            }
        }
    }

    fn binary_double(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }
}

fn parse_double(b: &[u8]) -> Option<f64> {
    if let Some(i) = parse_canonical_i64(b) {
        return Some(i as f64);
    }
    std::str::from_utf8(b).ok()?.parse::<f64>().ok()
}

/// The 9-character module name packed in a module type id (`moduleTypeNameByID`).
pub fn module_name(id: u64) -> String {
    const CSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = id >> 10;
    let mut name = [0u8; 9];
    for j in (0..9).rev() {
        name[j] = CSET[(id & 63) as usize];
        id >>= 6;
    }
    String::from_utf8_lossy(&name).into_owned()
}

/// Loads a whole RDB stream, reporting to `v`.
pub fn load_with(r: impl Read, v: &mut impl Visitor) -> Result<LoadSummary> {
    let mut src = Src::new(r);
    v.stage("start");
    let header = src.array::<9>()?;
    if &header[..5] != b"REDIS" {
        return Err(RdbError::new(
            0,
            "Wrong signature trying to load DB from file",
        ));
    }
    let version = std::str::from_utf8(&header[5..])
        .ok()
        .filter(|s| s.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| RdbError::new(0, "Wrong signature trying to load DB from file"))?;
    if !(1..=RDB_MAX_READ_VERSION).contains(&version) {
        return Err(RdbError::new(
            9,
            format!("Can't handle RDB format version {version}"),
        ));
    }
    let mut s = LoadSummary {
        version,
        aux: Vec::new(),
        keys: 0,
        expires: 0,
        empty_skipped: 0,
        checksum: Checksum::Absent,
        bytes: 0,
    };
    let mut db = 0usize;
    let mut expire: Option<i64> = None;
    let mut idle: Option<u64> = None;
    let mut freq: Option<u8> = None;
    loop {
        v.stage("read-type");
        let t = src.u8()?;
        match t {
            OPCODE_EXPIRETIME => {
                v.stage("read-expire");
                expire = Some(i32::from_le_bytes(src.array()?) as i64 * 1000);
                continue;
            }
            OPCODE_EXPIRETIME_MS => {
                v.stage("read-expire");
                expire = Some(i64::from_le_bytes(src.array()?));
                continue;
            }
            OPCODE_FREQ => {
                freq = Some(src.u8()?);
                continue;
            }
            OPCODE_IDLE => {
                idle = Some(src.len()?);
                continue;
            }
            OPCODE_EOF => break,
            OPCODE_SELECTDB => {
                v.stage("read-len");
                let n = src.len()?;
                db = usize::try_from(n).map_err(|_| src.err("DB index out of range"))?;
                v.select_db(src.offset, n).map_err(|e| src.err(e))?;
                continue;
            }
            OPCODE_RESIZEDB => {
                v.stage("read-len");
                let a = src.len()?;
                let b = src.len()?;
                v.resize_db(a, b);
                continue;
            }
            OPCODE_SLOT_INFO => {
                v.stage("read-len");
                for _ in 0..3 {
                    src.len()?;
                }
                continue;
            }
            OPCODE_AUX => {
                v.stage("read-aux");
                let k = src.string()?;
                let val = src.string()?;
                v.aux(src.offset, &k, &val);
                s.aux.push((k, val));
                continue;
            }
            OPCODE_MODULE_AUX => {
                v.stage("read-module-aux");
                let id = src.len()?;
                return Err(src.err(format!(
                    "The RDB file contains AUX module data I can't load: no matching module '{}'",
                    module_name(id)
                )));
            }
            OPCODE_FUNCTION_PRE_GA => {
                return Err(src.err("Pre-release function format not supported."));
            }
            OPCODE_FUNCTION2 => {
                v.stage("read-functions");
                let code = src.string()?;
                v.function(&code).map_err(|e| src.err(e))?;
                continue;
            }
            t if !is_object_type(t) => {
                return Err(src.err(format!("Invalid object type: {t}")));
            }
            _ => v.object_type(t),
        }
        v.stage("read-key");
        let key = src.string()?;
        s.keys += 1;
        v.begin_key(src.offset, t, &key);
        v.stage("read-object-value");
        let value = read_object(&mut src, t)?;
        let (exp, id, fr) = (expire.take(), idle.take(), freq.take());
        let Some(value) = value else {
            s.empty_skipped += 1;
            continue;
        };
        if exp.is_some() {
            s.expires += 1;
        }
        let e = RdbEntry {
            db,
            key,
            value,
            expire_ms: exp,
            idle_secs: id,
            freq: fr,
        };
        v.entry(e).map_err(|e| src.err(e))?;
    }
    if version >= 5 {
        v.stage("check-sum");
        let expected = src.crc;
        let stored = u64::from_le_bytes(src.array()?);
        s.checksum = if stored == 0 {
            Checksum::Disabled
        } else if stored != expected {
            return Err(src.err("RDB CRC error"));
        } else {
            Checksum::Ok
        };
        v.checksum(src.offset, s.checksum);
    }
    s.bytes = src.offset;
    Ok(s)
}

/// Reads one value body of type `type_id` from `bytes` (advancing it), for RESTORE.
/// `Ok(None)` for an empty collection (Redis refuses those).
pub fn read_value(type_id: u8, bytes: &mut &[u8]) -> Result<Option<Value>> {
    let mut src = Src::new(&mut *bytes);
    read_object(&mut src, type_id)
}

/// Why a DUMP payload was refused (RESTORE's two errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpError {
    /// `ERR DUMP payload version or checksum are wrong`.
    VersionOrChecksum,
    /// `ERR Bad data format`.
    BadFormat(RdbError),
}

/// Checks a DUMP payload's footer (RDB version ≤ 10, CRC64) and decodes its value, as
/// Redis 7.0's `verifyDumpPayload` + `rdbLoadObject` do.
pub fn read_dump_payload(p: &[u8]) -> std::result::Result<Value, DumpError> {
    if p.len() < 10 {
        return Err(DumpError::VersionOrChecksum);
    }
    let footer = &p[p.len() - 10..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return Err(DumpError::VersionOrChecksum);
    }
    let crc = crc64::crc64(&p[..p.len() - 8]);
    if crc.to_le_bytes() != footer[2..] {
        return Err(DumpError::VersionOrChecksum);
    }
    let mut body = &p[..p.len() - 10];
    let bad = |what: &str| DumpError::BadFormat(RdbError::new(0, what));
    let (&t, rest) = body.split_first().ok_or_else(|| bad(EOF_MSG))?;
    // rdbLoadObjectType: only value types, no opcodes.
    if !is_object_type(t) {
        return Err(bad("Invalid object type"));
    }
    body = rest;
    match read_value(t, &mut body) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(bad("empty key")),
        Err(e) => Err(DumpError::BadFormat(e)),
    }
}

fn is_object_type(t: u8) -> bool {
    matches!(t, 0..=7 | 9..=21)
}

/// Counts collection elements without trusting the count for allocation.
fn prealloc(n: u64) -> usize {
    (n as usize).min(MAX_PREALLOC)
}

fn read_object<R: Read>(src: &mut Src<R>, t: u8) -> Result<Option<Value>> {
    let at = src.offset;
    let blob_err = |what: &str| RdbError::new(at, format!("{} ({what})", type_name(t)));
    let v = match t {
        TYPE_STRING => Value::from_bytes(&src.string()?),
        TYPE_LIST => {
            let n = src.len()?;
            let mut l = List::default();
            for _ in 0..n {
                l.push(End::Tail, &src.string()?);
            }
            Value::List(l)
        }
        TYPE_SET => {
            let n = src.len()?;
            let mut members = Vec::with_capacity(prealloc(n));
            for _ in 0..n {
                members.push(src.string()?);
            }
            build_set(members).map_err(|e| src.err(e))?
        }
        TYPE_SET_LISTPACK => {
            let b = src.string()?;
            build_set(listpack_decode(&b).map_err(blob_err)?).map_err(|e| src.err(e))?
        }
        TYPE_SET_INTSET => {
            let b = src.string()?;
            let ints = intset_decode(&b).map_err(blob_err)?;
            if ints.len() > crate::keyspace::encoding::set_max_intset_entries() {
                let mut buf = itoa::Buffer::new();
                let members: Vec<Vec<u8>> = ints
                    .iter()
                    .map(|&i| buf.format(i).as_bytes().to_vec())
                    .collect();
                build_set(members).map_err(|e| src.err(e))?
            } else {
                Value::Set(Set::Intset(ints))
            }
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = src.len()?;
            let mut z = ZSet::new_skiplist();
            for _ in 0..n {
                let m = src.string()?;
                let score = if t == TYPE_ZSET {
                    src.ascii_double()?
                } else {
                    src.binary_double()?
                };
                if score.is_nan() {
                    return Err(src.err("Zset with NAN score detected"));
                }
                if z.insert(&m, score).is_some() {
                    return Err(src.err("Duplicate zset fields detected"));
                }
            }
            z.convert_to_listpack_if_fits();
            Value::ZSet(z)
        }
        TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
            let b = src.string()?;
            let elems = if t == TYPE_ZSET_ZIPLIST {
                ziplist_decode(&b)
            } else {
                listpack_decode(&b)
            }
            .map_err(blob_err)?;
            build_zset_from_pairs(elems).map_err(|e| src.err(e))?
        }
        TYPE_HASH => {
            let n = src.len()?;
            let mut h = Hash::new();
            for _ in 0..n {
                let f = src.string()?;
                let x = src.string()?;
                if !h.set(&f, &x) {
                    return Err(src.err("Duplicate hash fields detected"));
                }
            }
            Value::Hash(h)
        }
        TYPE_HASH_ZIPMAP => {
            let b = src.string()?;
            let pairs = zipmap_decode(&b).map_err(blob_err)?;
            let mut h = Hash::new();
            for (f, x) in pairs {
                if !h.set(&f, &x) {
                    return Err(src.err("Duplicate hash fields detected"));
                }
            }
            Value::Hash(h)
        }
        TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
            let b = src.string()?;
            let elems = if t == TYPE_HASH_ZIPLIST {
                ziplist_decode(&b)
            } else {
                listpack_decode(&b)
            }
            .map_err(blob_err)?;
            if !elems.len().is_multiple_of(2) {
                return Err(blob_err("odd number of elements"));
            }
            let mut h = Hash::new();
            let mut it = elems.into_iter();
            while let (Some(f), Some(x)) = (it.next(), it.next()) {
                if !h.set(&f, &x) {
                    return Err(src.err("Duplicate hash fields detected"));
                }
            }
            Value::Hash(h)
        }
        TYPE_LIST_ZIPLIST => {
            let b = src.string()?;
            Value::List(ziplist_decode(&b).map_err(blob_err)?.into_iter().collect())
        }
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let n = src.len()?;
            let mut l = List::default();
            for _ in 0..n {
                let container = if t == TYPE_LIST_QUICKLIST_2 {
                    src.len()?
                } else {
                    QUICKLIST_NODE_PACKED
                };
                let b = src.string()?;
                match container {
                    QUICKLIST_NODE_PLAIN => l.push(End::Tail, &b),
                    QUICKLIST_NODE_PACKED => {
                        let elems = if t == TYPE_LIST_QUICKLIST {
                            ziplist_decode(&b)
                        } else {
                            listpack_decode(&b)
                        }
                        .map_err(blob_err)?;
                        l.extend(elems);
                    }
                    c => {
                        return Err(
                            src.err(format!("Quicklist integrity check failed (container {c})"))
                        )
                    }
                }
            }
            Value::List(l)
        }
        TYPE_MODULE_PRE_GA | TYPE_MODULE_2 => {
            let id = src.len()?;
            return Err(src.err(format!(
                "The RDB file contains module data I can't load: no matching module type '{}'",
                module_name(id)
            )));
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => {
            return Err(src.err(format!(
                "Unsupported type {t} ({}): ringkv has no streams",
                type_name(t)
            )));
        }
        _ => return Err(src.err(format!("Invalid object type: {t}"))),
    };
    let empty = match &v {
        Value::Str(_) => false,
        Value::List(l) => l.is_empty(),
        Value::Hash(h) => h.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::ZSet(z) => z.is_empty(),
    };
    Ok((!empty).then_some(v))
}

/// A set built as Redis's loader does: intset while every member is an integer and the count
/// allows it, else a hash table; duplicates are corruption.
fn build_set(members: Vec<Vec<u8>>) -> std::result::Result<Value, String> {
    let mut s = if members.len() > crate::keyspace::encoding::set_max_intset_entries() {
        Set::Table(crate::keyspace::Dense::new())
    } else {
        Set::default()
    };
    for m in &members {
        if !s.add(m) {
            return Err("Duplicate set members detected".into());
        }
    }
    Ok(Value::Set(s))
}

/// A zset from a ziplist/listpack of (member, score) pairs: starts compact and converts past
/// the listpack limits, as Redis does on load.
fn build_zset_from_pairs(elems: Vec<Vec<u8>>) -> std::result::Result<Value, String> {
    if !elems.len().is_multiple_of(2) {
        return Err("zset listpack with an odd number of elements".into());
    }
    let mut z = ZSet::new();
    let mut it = elems.into_iter();
    while let (Some(m), Some(sc)) = (it.next(), it.next()) {
        let score = parse_double(&sc).ok_or("Invalid zset score in listpack")?;
        if score.is_nan() {
            return Err("Zset with NAN score detected".into());
        }
        if z.insert(&m, score).is_some() {
            return Err("Duplicate zset fields detected".into());
        }
    }
    Ok(Value::ZSet(z))
}

#[cfg(test)]
mod tests {
    use super::super::write::{dump_payload, RdbWriter, WriteOptions};
    use super::*;
    use crate::keyspace::list::End;

    /// One value of every type and size class (compact and big encodings).
    pub(crate) fn samples() -> Vec<(&'static str, Value)> {
        let mut v = vec![
            ("s_int8", Value::from_bytes(b"12")),
            ("s_int16", Value::from_bytes(b"-300")),
            ("s_int64", Value::from_bytes(b"9999999999")),
            ("s_small", Value::from_bytes(b"hello")),
            ("s_lzf", Value::from_bytes(&[b'a'; 100])),
            ("s_empty", Value::from_bytes(b"")),
            ("s_bin", Value::from_bytes(&(0..=255u8).collect::<Vec<_>>())),
        ];
        let mut small_list = List::default();
        for e in [&b"a"[..], b"1", b"-5", b"300", b"70000", b"hello"] {
            small_list.push(End::Tail, e);
        }
        v.push(("l_small", Value::List(small_list)));
        let mut big_list = List::default();
        for i in 0..5000 {
            big_list.push(End::Tail, format!("element-{i}").as_bytes());
        }
        big_list.push(End::Tail, &[b'z'; 20000]);
        v.push(("l_big", Value::List(big_list)));
        let mut h = Hash::new();
        h.set(b"f1", b"v1");
        h.set(b"f2", b"2");
        v.push(("h_small", Value::Hash(h)));
        let mut h = Hash::new();
        for i in 0..600 {
            h.set(format!("f{i}").as_bytes(), format!("v{i}").as_bytes());
        }
        v.push(("h_big", Value::Hash(h)));
        let mut h = Hash::new();
        h.set(b"long", &[b'x'; 100]);
        v.push(("h_long", Value::Hash(h)));
        v.push((
            "set_int",
            Value::Set(Set::from_members([&b"1"[..], b"2", b"-70000"])),
        ));
        v.push((
            "set_int64",
            Value::Set(Set::from_members([&b"1"[..], b"10000000000"])),
        ));
        v.push(("set_str", Value::Set(Set::from_members([&b"a"[..], b"b"]))));
        let many: Vec<Vec<u8>> = (0..600).map(|i| i.to_string().into_bytes()).collect();
        v.push((
            "set_bigint",
            Value::Set(Set::from_members(many.iter().map(|m| &m[..]))),
        ));
        let mut z = ZSet::new();
        z.insert(b"a", 1.0);
        z.insert(b"b", 2.5);
        z.insert(b"c", -0.125);
        z.insert(b"d", f64::INFINITY);
        z.insert(b"e", 0.1);
        v.push(("z_small", Value::ZSet(z)));
        let mut z = ZSet::new();
        for i in 0..200 {
            z.insert(format!("m{i}").as_bytes(), i as f64 / 3.0);
        }
        v.push(("z_big", Value::ZSet(z)));
        v
    }

    fn same(a: &Value, b: &Value) -> bool {
        a == b && a.encoding() == b.encoding()
    }

    #[test]
    fn dump_payload_round_trips_every_sample() {
        for compress in [true, false] {
            for (name, v) in samples() {
                let p = dump_payload(&v, compress);
                let back = read_dump_payload(&p).unwrap_or_else(|e| panic!("{name}: {e:?}"));
                assert!(same(&v, &back), "{name}: {back:?}");
            }
        }
    }

    fn file(opts: WriteOptions) -> Vec<u8> {
        file_of(opts, samples())
    }

    fn file_of(opts: WriteOptions, s: Vec<(&'static str, Value)>) -> Vec<u8> {
        let mut w = RdbWriter::new(Vec::new(), opts);
        w.header().unwrap();
        w.default_aux(&Default::default()).unwrap();
        w.select_db(0).unwrap();
        w.resize_db(s.len() as u64, 1).unwrap();
        for (i, (name, v)) in s.iter().enumerate() {
            let exp = (i == 0).then_some(1_900_000_000_000);
            w.entry(name.as_bytes(), v, exp).unwrap();
        }
        w.select_db(3).unwrap();
        w.entry(b"indb3", &Value::from_bytes(b"1"), None).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn file_round_trips() {
        for opts in [
            WriteOptions::default(),
            WriteOptions {
                compression: false,
                checksum: false,
            },
        ] {
            let bytes = file(opts);
            let mut got = Vec::new();
            let sum = load(&bytes[..], |e| {
                got.push(e);
                Ok(())
            })
            .unwrap();
            assert_eq!(sum.version, 10);
            assert_eq!(sum.aux_field(b"redis-ver"), Some(&b"7.0.15"[..]));
            assert_eq!(sum.bytes, bytes.len() as u64);
            let want = if opts.checksum {
                Checksum::Ok
            } else {
                Checksum::Disabled
            };
            assert_eq!(sum.checksum, want);
            let s = samples();
            assert_eq!(got.len(), s.len() + 1);
            for (e, (name, v)) in got.iter().zip(s.iter()) {
                assert_eq!(e.key, name.as_bytes());
                assert!(same(&e.value, v), "{name}");
                assert_eq!(e.db, 0);
            }
            assert_eq!(got[0].expire_ms, Some(1_900_000_000_000));
            assert_eq!(got[1].expire_ms, None);
            assert_eq!(got.last().map(|e| e.db), Some(3));
        }
    }

    #[test]
    fn truncation_and_corruption_are_errors_not_panics() {
        let small: Vec<_> = samples()
            .into_iter()
            .filter(|(n, _)| !n.contains("big"))
            .collect();
        let bytes = file_of(WriteOptions::default(), small);
        let big = file(WriteOptions::default());
        for cut in (0..big.len()).step_by(997) {
            assert!(load(&big[..cut], |_| Ok(())).is_err(), "cut {cut}");
        }
        for cut in 0..bytes.len() {
            let r = load(&bytes[..cut], |_| Ok(()));
            assert!(r.is_err(), "cut {cut}");
        }
        let mut rng = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..2000 {
            let mut b = bytes.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % b.len();
                b[i] ^= 1 << (next() % 8);
            }
            // Any outcome but a panic (CRC catches most; lengths must be checked for the rest).
            let _ = load(&b[..], |_| Ok(()));
        }
        // Without the CRC to catch them, mutated DUMP payload bodies exercise the decoders.
        for (_, v) in samples() {
            let p = dump_payload(&v, true);
            for _ in 0..200 {
                let mut b = p[..p.len() - 10].to_vec();
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
                if next() % 3 == 0 {
                    b.truncate((next() as usize) % b.len());
                }
                if let Some((&t, mut rest)) = b.split_first() {
                    let _ = read_value(t, &mut rest);
                }
            }
        }
    }

    #[test]
    fn header_errors() {
        let e = load(&b"REDIS0013"[..], |_| Ok(())).unwrap_err();
        assert_eq!(e.what, "Can't handle RDB format version 13");
        let e = load(&b"RUDIS0010"[..], |_| Ok(())).unwrap_err();
        assert_eq!(e.what, "Wrong signature trying to load DB from file");
        // ha-spec B5: the minimal checksum-less file.
        let f = b"REDIS0010\x00\x03abc\x03xyz\xff\x00\x00\x00\x00\x00\x00\x00\x00";
        let mut keys = Vec::new();
        let s = load(&f[..], |e| {
            keys.push(e.key);
            Ok(())
        })
        .unwrap();
        assert_eq!(keys, [b"abc".to_vec()]);
        assert_eq!(s.checksum, Checksum::Disabled);
    }

    #[test]
    fn module_and_stream_errors_are_clear() {
        assert_eq!(module_name(0), "AAAAAAAAA");
        let mut p: &[u8] = &[0x05];
        let e = read_value(TYPE_STREAM_LISTPACKS_2, &mut p).unwrap_err();
        assert!(e.what.contains("ringkv has no streams"), "{}", e.what);
    }

    /// A ziplist of short strings (1-byte prevlen, 6-bit string lengths).
    fn ziplist(items: &[&[u8]]) -> Vec<u8> {
        let mut entries = Vec::new();
        let mut prev = 0u8;
        for it in items {
            let start = entries.len();
            entries.push(prev);
            entries.push(it.len() as u8);
            entries.extend_from_slice(it);
            prev = (entries.len() - start) as u8;
        }
        let mut zl = Vec::new();
        zl.extend_from_slice(&((10 + entries.len() + 1) as u32).to_le_bytes());
        zl.extend_from_slice(&0u32.to_le_bytes());
        zl.extend_from_slice(&(items.len() as u16).to_le_bytes());
        zl.extend_from_slice(&entries);
        zl.push(0xff);
        zl
    }

    fn blob(out: &mut Vec<u8>, b: &[u8]) {
        super::super::write::write_len(out, b.len() as u64);
        out.extend_from_slice(b);
    }

    #[test]
    fn legacy_encodings_load() {
        let mut f = b"REDIS0006".to_vec();
        f.extend_from_slice(&[OPCODE_AUX, 3, b'f', b'o', b'o', 3, b'b', b'a', b'r']);
        f.extend_from_slice(&[OPCODE_SELECTDB, 2, OPCODE_RESIZEDB, 9, 1]);
        f.push(OPCODE_EXPIRETIME);
        f.extend_from_slice(&2_000_000_000i32.to_le_bytes());
        f.extend_from_slice(&[TYPE_LIST, 1, b'l', 2, 1, b'a', 1, b'b']);
        f.extend_from_slice(&[OPCODE_IDLE, 5, OPCODE_FREQ, 7]);
        f.extend_from_slice(&[
            TYPE_ZSET, 1, b'z', 2, 1, b'a', 3, b'1', b'.', b'5', 1, b'b', 254,
        ]);
        f.extend_from_slice(&[TYPE_HASH_ZIPMAP, 2, b'h', b'm']);
        blob(&mut f, &[1, 1, b'f', 2, 0, b'v', b'1', 255]);
        f.extend_from_slice(&[TYPE_LIST_ZIPLIST, 2, b'l', b'z']);
        blob(&mut f, &ziplist(&[b"x", b"y"]));
        f.extend_from_slice(&[TYPE_ZSET_ZIPLIST, 2, b'z', b'z']);
        blob(&mut f, &ziplist(&[b"m", b"2", b"n", b"0.5"]));
        f.extend_from_slice(&[TYPE_HASH_ZIPLIST, 2, b'h', b'z']);
        blob(&mut f, &ziplist(&[b"f", b"v"]));
        f.extend_from_slice(&[TYPE_LIST_QUICKLIST, 2, b'q', b'l', 2]);
        blob(&mut f, &ziplist(&[b"1", b"2"]));
        blob(&mut f, &ziplist(&[b"3"]));
        f.extend_from_slice(&[TYPE_LIST_QUICKLIST_2, 2, b'q', b'2', 1, 1]);
        blob(&mut f, b"plain-node");
        f.extend_from_slice(&[TYPE_SET, 1, b's', 0]); // empty: skipped
        f.push(OPCODE_EOF);
        let crc = crc64::crc64(&f);
        f.extend_from_slice(&crc.to_le_bytes());
        let mut got = Vec::new();
        let sum = load(&f[..], |e| {
            got.push(e);
            Ok(())
        })
        .unwrap();
        assert_eq!(sum.version, 6);
        assert_eq!(sum.aux_field(b"foo"), Some(&b"bar"[..]));
        assert_eq!(sum.empty_skipped, 1);
        assert_eq!(sum.checksum, Checksum::Ok);
        assert_eq!(got.len(), 8);
        assert_eq!(got[0].db, 2);
        assert_eq!(got[0].expire_ms, Some(2_000_000_000_000));
        assert_eq!(got[1].idle_secs, Some(5));
        assert_eq!(got[1].freq, Some(7));
        assert_eq!(got[1].expire_ms, None);
        let Value::ZSet(z) = &got[1].value else {
            panic!("{:?}", got[1])
        };
        assert_eq!(z.score(b"a"), Some(1.5));
        assert_eq!(z.score(b"b"), Some(f64::INFINITY));
        assert_eq!(z.encoding(), "listpack");
        let Value::Hash(h) = &got[2].value else {
            panic!()
        };
        assert_eq!(h.get(b"f"), Some(&b"v1"[..]));
        let Value::List(l) = &got[3].value else {
            panic!()
        };
        assert!(l.iter().eq([&b"x"[..], b"y"]));
        let Value::ZSet(z) = &got[4].value else {
            panic!()
        };
        assert_eq!(z.score(b"n"), Some(0.5));
        let Value::Hash(h) = &got[5].value else {
            panic!()
        };
        assert_eq!(h.get(b"f"), Some(&b"v"[..]));
        let Value::List(l) = &got[6].value else {
            panic!()
        };
        assert_eq!(
            l.iter().map(|i| i.to_vec()).collect::<Vec<_>>(),
            [b"1", b"2", b"3"]
        );
        let Value::List(l) = &got[7].value else {
            panic!()
        };
        assert_eq!(l.get(0), Some(&b"plain-node"[..]));
        // Version 4: no checksum trailer.
        let f = b"REDIS0004\xfe\x00\x00\x01k\x01v\xff";
        let sum = load(&f[..], |_| Ok(())).unwrap();
        assert_eq!(sum.checksum, Checksum::Absent);
        // Module data names the module.
        let mut f = b"REDIS0010".to_vec();
        f.push(OPCODE_MODULE_AUX);
        f.push(0x81);
        f.extend_from_slice(&((33u64 << 58) | 1).to_be_bytes());
        let e = load(&f[..], |_| Ok(())).unwrap_err();
        assert!(
            e.what.contains("no matching module 'hAAAAAAAA'"),
            "{}",
            e.what
        );
    }
}
