//! Blobs that compact encodings store inside RDB strings: listpack and intset (written and
//! read), ziplist and zipmap (read only: Redis ≤ 6.2 and ≤ 2.4 wrote them).
//!
//! Decoders take the whole blob (already read from the file, so its size is bounded by real
//! input) and check every length against it; they never trust a count to allocate.

use crate::keyspace::value::parse_canonical_i64;

type DecodeResult<T> = Result<T, &'static str>;

/// Total listpack size Redis aims for per quicklist node (`list-max-listpack-size -2`).
pub const QUICKLIST_NODE_BYTES: usize = 8192;

const LP_HEADER: usize = 6;
const LP_EOF: u8 = 0xFF;

/// Builds a listpack the way Redis's `lpAppend` does: integer-looking strings are stored in
/// integer form, every entry carries its back length so the blob can be walked backwards.
#[derive(Default)]
pub struct ListpackBuilder {
    entries: Vec<u8>,
    count: usize,
}

impl ListpackBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the finished blob.
    pub fn bytes(&self) -> usize {
        LP_HEADER + self.entries.len() + 1
    }

    pub fn push(&mut self, s: &[u8]) {
        match parse_canonical_i64(s) {
            Some(i) => self.push_int(i),
            None => self.push_str(s),
        }
    }

    pub fn push_int(&mut self, v: i64) {
        let start = self.entries.len();
        let e = &mut self.entries;
        if (0..=127).contains(&v) {
            e.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1fff;
            e.push(0xC0 | (u >> 8) as u8);
            e.push(u as u8);
        } else if i16::try_from(v).is_ok() {
            e.push(0xF1);
            e.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            e.push(0xF2);
            e.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if i32::try_from(v).is_ok() {
            e.push(0xF3);
            e.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            e.push(0xF4);
            e.extend_from_slice(&v.to_le_bytes());
        }
        self.finish_entry(start);
    }

    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.entries.len();
        let e = &mut self.entries;
        let n = s.len();
        if n < 64 {
            e.push(0x80 | n as u8);
        } else if n < 4096 {
            e.push(0xE0 | (n >> 8) as u8);
            e.push(n as u8);
        } else {
            e.push(0xF0);
            e.extend_from_slice(&(n as u32).to_le_bytes());
        }
        e.extend_from_slice(s);
        self.finish_entry(start);
    }

    fn finish_entry(&mut self, start: usize) {
        let l = (self.entries.len() - start) as u64;
        let e = &mut self.entries;
        if l <= 127 {
            e.push(l as u8);
        } else if l < 16383 {
            e.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]);
        } else if l < 2097151 {
            e.extend_from_slice(&[
                (l >> 14) as u8,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else if l < 268435455 {
            e.extend_from_slice(&[
                (l >> 21) as u8,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else {
            e.extend_from_slice(&[
                (l >> 28) as u8,
                ((l >> 21) & 127) as u8 | 128,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        }
        self.count += 1;
    }

    pub fn finish(self) -> Vec<u8> {
        let total = self.bytes();
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(self.count.min(65535) as u16).to_le_bytes());
        out.extend_from_slice(&self.entries);
        out.push(LP_EOF);
        out
    }
}

fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

fn take(b: &[u8], at: usize, n: usize) -> DecodeResult<&[u8]> {
    at.checked_add(n)
        .and_then(|end| b.get(at..end))
        .ok_or("entry runs past the end of the blob")
}

fn le_int(b: &[u8]) -> i64 {
    // Sign-extends a little-endian integer of b.len() (1..=8) bytes.
    let mut v: u64 = 0;
    for (i, &x) in b.iter().enumerate() {
        v |= (x as u64) << (8 * i);
    }
    let shift = 64 - 8 * b.len() as u32;
    ((v << shift) as i64) >> shift
}

fn int_bytes(i: i64) -> Vec<u8> {
    itoa::Buffer::new().format(i).as_bytes().to_vec()
}

/// The elements of a listpack, integers as their decimal text.
pub fn listpack_decode(b: &[u8]) -> DecodeResult<Vec<Vec<u8>>> {
    if b.len() < LP_HEADER + 1 {
        return Err("listpack shorter than its header");
    }
    let total = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if total != b.len() {
        return Err("listpack total bytes do not match the blob size");
    }
    let declared = u16::from_le_bytes([b[4], b[5]]) as usize;
    let mut out = Vec::new();
    let mut p = LP_HEADER;
    loop {
        let Some(&c) = b.get(p) else {
            return Err("listpack without terminator");
        };
        if c == LP_EOF {
            break;
        }
        let (elem, size) = match c {
            0x00..=0x7F => (int_bytes(c as i64), 1),
            0x80..=0xBF => {
                let n = (c & 0x3f) as usize;
                (take(b, p + 1, n)?.to_vec(), 1 + n)
            }
            0xC0..=0xDF => {
                let lo = *take(b, p + 1, 1)?.first().unwrap_or(&0);
                let u = (((c & 0x1f) as i64) << 8) | lo as i64;
                let v = if u >= 4096 { u - 8192 } else { u };
                (int_bytes(v), 2)
            }
            0xE0..=0xEF => {
                let lo = *take(b, p + 1, 1)?.first().unwrap_or(&0);
                let n = (((c & 0x0f) as usize) << 8) | lo as usize;
                (take(b, p + 2, n)?.to_vec(), 2 + n)
            }
            0xF0 => {
                let l = take(b, p + 1, 4)?;
                let n = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
                (take(b, p + 5, n)?.to_vec(), 5 + n)
            }
            0xF1 => (int_bytes(le_int(take(b, p + 1, 2)?)), 3),
            0xF2 => (int_bytes(le_int(take(b, p + 1, 3)?)), 4),
            0xF3 => (int_bytes(le_int(take(b, p + 1, 4)?)), 5),
            0xF4 => (int_bytes(le_int(take(b, p + 1, 8)?)), 9),
            _ => return Err("invalid listpack entry encoding"),
        };
        let bl = backlen_size(size);
        take(b, p + size, bl)?;
        p += size + bl;
        out.push(elem);
    }
    if p + 1 != b.len() {
        return Err("listpack terminator before the end of the blob");
    }
    if declared != 65535 && declared != out.len() {
        return Err("listpack element count does not match its header");
    }
    Ok(out)
}

/// An intset blob for sorted, distinct integers, in the narrowest width that holds them all.
pub fn intset_encode(values: &[i64]) -> Vec<u8> {
    let width: usize = if values.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if values.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * values.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for &v in values {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// The members of an intset blob (checked: known width, exact size, strictly increasing).
pub fn intset_decode(b: &[u8]) -> DecodeResult<Vec<i64>> {
    if b.len() < 8 {
        return Err("intset shorter than its header");
    }
    let width = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err("intset with an invalid encoding");
    }
    if len.checked_mul(width).and_then(|n| n.checked_add(8)) != Some(b.len()) {
        return Err("intset length does not match the blob size");
    }
    let mut out = Vec::with_capacity(len);
    for chunk in b[8..].chunks_exact(width) {
        let v = le_int(chunk);
        if out.last().is_some_and(|&last| last >= v) {
            return Err("intset members not in strictly increasing order");
        }
        out.push(v);
    }
    Ok(out)
}

/// The elements of a ziplist (Redis ≤ 6.2), integers as their decimal text.
pub fn ziplist_decode(b: &[u8]) -> DecodeResult<Vec<Vec<u8>>> {
    if b.len() < 11 {
        return Err("ziplist shorter than its header");
    }
    let total = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if total != b.len() {
        return Err("ziplist total bytes do not match the blob size");
    }
    let declared = u16::from_le_bytes([b[8], b[9]]) as usize;
    let mut out = Vec::new();
    let mut p = 10;
    loop {
        let Some(&first) = b.get(p) else {
            return Err("ziplist without terminator");
        };
        if first == 0xFF {
            break;
        }
        p += if first < 254 { 1 } else { 5 };
        let c = *take(b, p, 1)?.first().unwrap_or(&0);
        let (elem, size) = match c >> 6 {
            0 => {
                let n = (c & 0x3f) as usize;
                (take(b, p + 1, n)?.to_vec(), 1 + n)
            }
            1 => {
                let lo = take(b, p + 1, 1)?[0];
                let n = (((c & 0x3f) as usize) << 8) | lo as usize;
                (take(b, p + 2, n)?.to_vec(), 2 + n)
            }
            2 => {
                if c != 0x80 {
                    return Err("invalid ziplist string encoding");
                }
                let l = take(b, p + 1, 4)?;
                let n = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
                (take(b, p + 5, n)?.to_vec(), 5 + n)
            }
            _ => match c {
                0xC0 => (int_bytes(le_int(take(b, p + 1, 2)?)), 3),
                0xD0 => (int_bytes(le_int(take(b, p + 1, 4)?)), 5),
                0xE0 => (int_bytes(le_int(take(b, p + 1, 8)?)), 9),
                0xF0 => (int_bytes(le_int(take(b, p + 1, 3)?)), 4),
                0xFE => (int_bytes(le_int(take(b, p + 1, 1)?)), 2),
                0xF1..=0xFD => (int_bytes((c & 0x0f) as i64 - 1), 1),
                _ => return Err("invalid ziplist entry encoding"),
            },
        };
        p += size;
        out.push(elem);
    }
    if p + 1 != b.len() {
        return Err("ziplist terminator before the end of the blob");
    }
    if declared != 65535 && declared != out.len() {
        return Err("ziplist entry count does not match its header");
    }
    Ok(out)
}

/// The (field, value) pairs of a zipmap (Redis ≤ 2.4 small hashes).
pub fn zipmap_decode(b: &[u8]) -> DecodeResult<Vec<(Vec<u8>, Vec<u8>)>> {
    fn len_at(b: &[u8], p: &mut usize) -> DecodeResult<Option<usize>> {
        let c = *take(b, *p, 1)?.first().unwrap_or(&0);
        *p += 1;
        match c {
            255 => Ok(None),
            254 => {
                let l = take(b, *p, 4)?;
                *p += 4;
                Ok(Some(u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize))
            }
            n => Ok(Some(n as usize)),
        }
    }
    let mut p = 1;
    let mut out = Vec::new();
    while let Some(klen) = len_at(b, &mut p)? {
        let key = take(b, p, klen)?.to_vec();
        p += klen;
        let vlen = len_at(b, &mut p)?.ok_or("zipmap ends inside an entry")?;
        let free = *take(b, p, 1)?.first().unwrap_or(&0) as usize;
        p += 1;
        let val = take(b, p, vlen)?.to_vec();
        p += vlen + free;
        out.push((key, val));
    }
    if p != b.len() {
        return Err("zipmap terminator before the end of the blob");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_matches_redis_bytes() {
        // From ha-spec B6 (redis-server 7.0.15): HSET h f v.
        let mut lp = ListpackBuilder::new();
        lp.push(b"f");
        lp.push(b"v");
        let b = lp.finish();
        assert_eq!(b, [0x0d, 0, 0, 0, 2, 0, 0x81, b'f', 2, 0x81, b'v', 2, 0xff]);
        // ZADD z 1 a 2 b.
        let mut lp = ListpackBuilder::new();
        for e in [&b"a"[..], b"1", b"b", b"2"] {
            lp.push(e);
        }
        let b = lp.finish();
        assert_eq!(
            b,
            [0x11, 0, 0, 0, 4, 0, 0x81, b'a', 2, 1, 1, 0x81, b'b', 2, 2, 1, 0xff]
        );
    }

    #[test]
    fn listpack_round_trips_every_width() {
        let big = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let items: Vec<Vec<u8>> = [
            &b"0"[..],
            b"127",
            b"128",
            b"-1",
            b"-4096",
            b"4095",
            b"-4097",
            b"32767",
            b"-32769",
            b"8388607",
            b"-8388609",
            b"2147483647",
            b"2147483648",
            b"-9223372036854775808",
            b"9223372036854775807",
            b"01",
            b"",
            b"hello",
            &mid,
            &big,
        ]
        .iter()
        .map(|s| s.to_vec())
        .collect();
        let mut lp = ListpackBuilder::new();
        for i in &items {
            lp.push(i);
        }
        assert_eq!(lp.len(), items.len());
        let b = lp.finish();
        assert_eq!(listpack_decode(&b).unwrap(), items);
        for cut in 0..b.len() {
            assert!(listpack_decode(&b[..cut]).is_err());
        }
    }

    #[test]
    fn intset_round_trip_and_checks() {
        assert_eq!(
            intset_encode(&[1, 2, 3]),
            [2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0, 3, 0]
        );
        for v in [vec![1i64, 10_000_000_000], vec![-70000, 5], vec![]] {
            assert_eq!(intset_decode(&intset_encode(&v)).unwrap(), v);
        }
        assert!(intset_decode(&[2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0]).is_err());
        assert!(intset_decode(&[3, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(intset_decode(&[2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn ziplist_and_zipmap() {
        // A Redis 6.2 ziplist of ["a", 12, -2, 300]: zlbytes, zltail, zllen, entries, 0xff.
        let entries: Vec<u8> = vec![
            0, 0x01, b'a', // prevlen 0, str len 1
            3, 0xFD, // prevlen 3, imm uint 12
            2, 0xFE, 0xFE, // int8 -2
            3, 0xC0, 0x2C, 0x01, // int16 300
        ];
        let total = 10 + entries.len() + 1;
        let mut zl = Vec::new();
        zl.extend_from_slice(&(total as u32).to_le_bytes());
        zl.extend_from_slice(&0u32.to_le_bytes());
        zl.extend_from_slice(&4u16.to_le_bytes());
        zl.extend_from_slice(&entries);
        zl.push(0xff);
        let got = ziplist_decode(&zl).unwrap();
        assert_eq!(got, [&b"a"[..], b"12", b"-2", b"300"]);
        for cut in 0..zl.len() {
            assert!(ziplist_decode(&zl[..cut]).is_err());
        }
        let zm = [1, 1, b'f', 2, 0, b'v', b'1', 255];
        assert_eq!(
            zipmap_decode(&zm).unwrap(),
            [(b"f".to_vec(), b"v1".to_vec())]
        );
        assert!(zipmap_decode(&zm[..6]).is_err());
    }
}
