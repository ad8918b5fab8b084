//! LZF (liblzf's block format), our own implementation.
//!
//! A block is a sequence of runs: a control byte `c < 32` followed by `c + 1` literal bytes, or
//! a back reference: `len = c >> 5` (7 means "add the next byte"), then the low byte of the
//! distance; it copies `len + 2` bytes from `distance + 1` bytes back in the output.

/// Longest back-reference distance (13 bits).
const MAX_OFF: usize = 1 << 13;
/// Longest match: 2 + 7 + 255.
const MAX_REF: usize = 264;
/// Longest literal run.
const MAX_LIT: usize = 32;
const HASH_LOG: u32 = 14;

fn hash3(b: &[u8]) -> usize {
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_LOG)) as usize
}

fn flush_literals(out: &mut Vec<u8>, lit: &[u8]) {
    for chunk in lit.chunks(MAX_LIT) {
        out.push((chunk.len() - 1) as u8);
        out.extend_from_slice(chunk);
    }
}

/// The match table, kept per thread and stamped with a generation per call: clearing a fresh
/// 16K-slot table for every string (every value of a snapshot) cost more than compressing.
struct Table {
    gen: u32,
    /// (generation, position) per hash.
    slots: Vec<(u32, u32)>,
}

thread_local! {
    static TABLE: std::cell::RefCell<Table> = std::cell::RefCell::new(Table {
        gen: 0,
        slots: vec![(0, 0); 1 << HASH_LOG],
    });
}

/// Compresses `input`; `None` when the result would not be shorter than `max_out` bytes
/// (Redis only stores LZF when it saves at least 4 bytes).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    if input.len() >= u32::MAX as usize {
        return None;
    }
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        t.gen = t.gen.wrapping_add(1);
        if t.gen == 0 {
            t.slots.iter_mut().for_each(|s| *s = (0, 0));
            t.gen = 1;
        }
        let gen = t.gen;
        compress_with(&mut t.slots, gen, input, max_out)
    })
}

fn compress_with(
    table: &mut [(u32, u32)],
    gen: u32,
    input: &[u8],
    max_out: usize,
) -> Option<Vec<u8>> {
    let n = input.len();
    let mut out = Vec::with_capacity(max_out.min(n + n / 32 + 2));
    let mut i = 0;
    let mut lit_start = 0;
    while i + 2 < n {
        let h = hash3(&input[i..]);
        let (g, r) = table[h];
        let r = r as usize;
        table[h] = (gen, i as u32);
        if g == gen && i - r <= MAX_OFF && input[r..r + 3] == input[i..i + 3] {
            let max_len = MAX_REF.min(n - i);
            let mut len = 3;
            while len < max_len && input[r + len] == input[i + len] {
                len += 1;
            }
            flush_literals(&mut out, &input[lit_start..i]);
            let off = i - r - 1;
            let l = len - 2;
            if l < 7 {
                out.push(((l << 5) | (off >> 8)) as u8);
            } else {
                out.push(((7 << 5) | (off >> 8)) as u8);
                out.push((l - 7) as u8);
            }
            out.push((off & 0xff) as u8);
            // Index the positions inside the match too, for better ratios on repeats.
            let end = i + len;
            let mut j = i + 1;
            while j < end && j + 2 < n {
                table[hash3(&input[j..])] = (gen, j as u32);
                j += 1;
            }
            i = end;
            lit_start = i;
            if out.len() >= max_out {
                return None;
            }
        } else {
            i += 1;
        }
    }
    flush_literals(&mut out, &input[lit_start..]);
    (out.len() < max_out).then_some(out)
}

/// Decompresses `input` into exactly `out_len` bytes. Every reference is checked against the
/// output produced so far; an input that does not produce exactly `out_len` bytes is an error.
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, &'static str> {
    // A 3-byte reference yields at most 264 bytes, so a larger claim is corrupt; refuse it
    // before allocating.
    if out_len > input.len().saturating_mul(MAX_REF / 3 + 1) + MAX_LIT {
        return Err("LZF uncompressed length is impossible for the compressed length");
    }
    let mut out = Vec::with_capacity(out_len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let len = ctrl + 1;
            if i + len > input.len() {
                return Err("LZF literal run past the end of the input");
            }
            if out.len() + len > out_len {
                return Err("LZF output longer than declared");
            }
            out.extend_from_slice(&input[i..i + len]);
            i += len;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                let Some(&b) = input.get(i) else {
                    return Err("LZF reference truncated");
                };
                len += b as usize;
                i += 1;
            }
            let Some(&lo) = input.get(i) else {
                return Err("LZF reference truncated");
            };
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + lo as usize + 1;
            if back > out.len() {
                return Err("LZF reference before the start of the output");
            }
            let len = len + 2;
            if out.len() + len > out_len {
                return Err("LZF output longer than declared");
            }
            let start = out.len() - back;
            for k in 0..len {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    if out.len() != out_len {
        return Err("LZF output shorter than declared");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut rng = 0x1234_5678u64;
        for len in [0usize, 1, 2, 3, 21, 100, 1000, 70000] {
            for kind in 0..3 {
                let data: Vec<u8> = (0..len)
                    .map(|i| {
                        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
                        match kind {
                            0 => b'a',
                            1 => (i % 7) as u8 + b'0',
                            _ => (rng >> 56) as u8,
                        }
                    })
                    .collect();
                if let Some(c) = compress(&data, len + 64) {
                    assert_eq!(decompress(&c, len).unwrap(), data, "len {len} kind {kind}");
                }
            }
        }
    }

    #[test]
    fn compresses_repeats_and_refuses_growth() {
        let c = compress(&[b'a'; 100], 96).unwrap();
        assert!(c.len() < 10, "{}", c.len());
        assert_eq!(compress(b"abcdefghijklmnopqrstuvwxyz", 22), None);
    }

    #[test]
    fn decodes_liblzf_output() {
        // From a redis-server 7.0.15 DUMP of a 50 x 'a' string: LZF clen 9, ulen 50.
        let c = [0x01, 0x61, 0x61, 0xe0, 0x25, 0x00, 0x01, 0x61, 0x61];
        assert_eq!(decompress(&c, 50).unwrap(), vec![b'a'; 50]);
    }

    #[test]
    fn rejects_corrupt_input() {
        assert!(decompress(&[0x20, 0x05], 10).is_err()); // reference before start
        assert!(decompress(&[0x05, b'a'], 6).is_err()); // literal past end
        assert!(decompress(&[0x00, b'a'], 2).is_err()); // short
        assert!(decompress(&[0x00, b'a'], usize::MAX).is_err());
        assert!(decompress(&[0x00, b'a', 0xe0], 300).is_err());
    }
}
