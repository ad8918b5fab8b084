//! CRC-64 as Redis computes it (`crc64.c`): Jones polynomial, reflected input and output,
//! init 0, no final xor. Incremental: `update(crc, bytes)` continues a running checksum, so a
//! writer can checksum chunks as it emits them.

/// The Jones polynomial in reflected form (`0xad93d23594c935a9` bit-reversed).
const POLY_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;

const fn make_table() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ POLY_REFLECTED
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static TABLE: [u64; 256] = make_table();

/// Continues `crc` over `data` (start with 0).
pub fn update(mut crc: u64, data: &[u8]) -> u64 {
    for &b in data {
        crc = TABLE[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// The CRC-64 of `data`.
pub fn crc64(data: &[u8]) -> u64 {
    update(0, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_and_incremental() {
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
        assert_eq!(update(update(0, b"1234"), b"56789"), 0xe9c6d914c4b8d9ca);
        assert_eq!(crc64(b""), 0);
    }
}
