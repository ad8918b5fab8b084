//! DEBUG DIGEST and DEBUG DIGEST-VALUE: Redis's dataset digest (debug.c
//! `computeDatasetDigest` / `xorObjectDigest`), computed the same way so that equal datasets
//! give equal digests on ringkv and on redis-server (replication tests compare them).
//!
//! Per key: `d = mix(0, key)`, then the value mixed in (type, elements), then `!!expire!!`
//! xored in when the key has a TTL; the dataset digest is, db by db in order, `mix(final,
//! htonl(db))` for every non-empty db followed by the xor of SHA1 of its key digests. Xor commutes, so
//! each shard xors the digests of its own keys per db and the coordinator combines them.

use crate::keyspace::{Db, Entry, Value, NO_EXPIRE};

pub type Digest = [u8; 20];

/// SHA-1 (FIPS 180-1), as Redis's sha1.c.
pub fn sha1(parts: &[&[u8]]) -> Digest {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut block = [0u8; 64];
    let mut fill = 0;
    let compress = |block: &[u8; 64], h: &mut [u32; 5]| {
        let mut w = [0u32; 80];
        for (i, c) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = *h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(v);
        }
    };
    let bits = (total as u64).wrapping_mul(8);
    let mut pad = vec![0x80u8];
    pad.resize(
        if total % 64 < 56 {
            56 - total % 64
        } else {
            120 - total % 64
        },
        0,
    );
    pad.extend_from_slice(&bits.to_be_bytes());
    for part in parts.iter().copied().chain(std::iter::once(&pad[..])) {
        for &byte in part {
            block[fill] = byte;
            fill += 1;
            if fill == 64 {
                compress(&block, &mut h);
                fill = 0;
            }
        }
    }
    let mut out = [0u8; 20];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

/// `xorDigest`: digest ^= SHA1(data).
pub fn xor_digest(digest: &mut Digest, data: &[u8]) {
    xor_into(digest, &sha1(&[data]));
}

pub fn xor_into(digest: &mut Digest, other: &Digest) {
    for (d, o) in digest.iter_mut().zip(other) {
        *d ^= o;
    }
}

/// `mixDigest`: digest = SHA1(digest ^ SHA1(data)), so the order of the parts counts.
pub fn mix_digest(digest: &mut Digest, data: &[u8]) {
    xor_digest(digest, data);
    *digest = sha1(&[&digest[..]]);
}

/// C's `%.17g`, which Redis uses for scores in the digest.
pub fn format_g17(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{d:.16e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..17).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mant), exp.unsigned_abs())
    } else {
        let prec = (16 - exp) as usize;
        strip(&format!("{d:.prec$}"))
    }
}

/// Redis's object type numbers (`OBJ_STRING` ...), mixed in as `htonl(type)`.
fn type_id(v: &Value) -> u32 {
    match v {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
    }
}

/// `xorObjectDigest`: mixes the value of `e` (and its TTL's presence) into `digest`.
pub fn xor_object_digest(digest: &mut Digest, e: &Entry) {
    mix_digest(digest, &type_id(&e.value).to_be_bytes());
    let mut num = itoa::Buffer::new();
    match &e.value {
        Value::Str(s) => mix_digest(digest, s.as_bytes(&mut num)),
        Value::List(l) => {
            for item in l.iter() {
                mix_digest(digest, item);
            }
        }
        Value::Set(s) => {
            for m in s.iter() {
                match m {
                    crate::keyspace::set::Member::Int(i) => {
                        xor_digest(digest, num.format(i).as_bytes())
                    }
                    crate::keyspace::set::Member::Bytes(b) => xor_digest(digest, b),
                }
            }
        }
        Value::ZSet(z) => {
            for (m, score) in z.iter(false) {
                let mut ele = [0u8; 20];
                mix_digest(&mut ele, m);
                mix_digest(&mut ele, format_g17(score).as_bytes());
                xor_digest(digest, &ele);
            }
        }
        Value::Hash(h) => {
            for (f, v) in h.iter() {
                let mut ele = [0u8; 20];
                mix_digest(&mut ele, f);
                mix_digest(&mut ele, v);
                xor_digest(digest, &ele);
            }
        }
    }
    if e.expire_at != NO_EXPIRE {
        xor_digest(digest, b"!!expire!!");
    }
}

/// DIGEST-VALUE of one entry: zero when absent.
pub fn value_digest(e: Option<&Entry>) -> Digest {
    let mut d = [0u8; 20];
    if let Some(e) = e {
        xor_object_digest(&mut d, e);
    }
    d
}

/// One shard's part of DEBUG DIGEST for one db: the xor of SHA1 of its key digests, and whether it
/// holds keys there. Like Redis, logically expired keys not yet deleted count.
pub fn op_db_digest(db: &Db) -> Option<Digest> {
    let mut acc = [0u8; 20];
    let mut any = false;
    for (key, e) in db.iter() {
        any = true;
        let mut d = [0u8; 20];
        mix_digest(&mut d, key);
        xor_object_digest(&mut d, e);
        xor_digest(&mut acc, &d);
    }
    any.then_some(acc)
}

/// Combines the shards' per-db parts (`parts[shard][db]`) as `computeDatasetDigest` does.
pub fn dataset_digest(parts: &[Vec<Option<Digest>>]) -> Digest {
    let mut fin = [0u8; 20];
    let ndbs = parts.iter().map(Vec::len).max().unwrap_or(0);
    for j in 0..ndbs {
        let mut keys = [0u8; 20];
        let mut any = false;
        for p in parts.iter().filter_map(|s| s.get(j).copied().flatten()) {
            any = true;
            xor_into(&mut keys, &p);
        }
        if any {
            mix_digest(&mut fin, &(j as u32).to_be_bytes());
            xor_into(&mut fin, &keys);
        }
    }
    fin
}

pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_known_vectors() {
        assert_eq!(
            hex(&sha1(&[b""])),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        assert_eq!(
            hex(&sha1(&[b"abc"])),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(
            hex(&sha1(&[long])),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(hex(&sha1(&[&long[..10], &long[10..]])), hex(&sha1(&[long])));
        let million = vec![b'a'; 1_000_000];
        assert_eq!(
            hex(&sha1(&[&million])),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
    }

    #[test]
    fn g17_matches_printf() {
        for (d, s) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (0.1, "0.10000000000000001"),
            (-2.25, "-2.25"),
            (1e17, "1e+17"),
            (1e16, "10000000000000000"),
            (123456789.125, "123456789.125"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (3.0e-300, "3.0000000000000002e-300"),
        ] {
            assert_eq!(format_g17(d), s, "{d}");
        }
    }

    #[test]
    fn empty_dataset_is_zero() {
        assert_eq!(hex(&dataset_digest(&[vec![None; 16]])), "0".repeat(40));
    }
}
