//! DUMP and RESTORE: a value as Redis's serialization payload (RDB value encoding + RDB version
//! + CRC64), readable by any Redis 7.0 and produced by one.

use super::spec::*;
use super::{eq_ic, errors, parse_i64, Ctx, Handler};
use crate::keyspace::{Db, Entry, Value};
use crate::persistence::rdb::{self, read::DumpError};
use bytes::Bytes;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("dump", 2, READONLY, Keys::Range(1, 1, 1), "generic", "2.6.0", "Return a serialized version of the value stored at the specified key.", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).", Handler::Keyed(dump))
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ])
        .with_tips(&["nondeterministic_output"]),
    spec("restore", -4, WRITE | DENYOOM | DANGEROUS, Keys::Range(1, 1, 1), "generic", "2.6.0", "Create a key using the provided serialized value, previously obtained using DUMP.", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).", Handler::Keyed(restore))
        .with_key_specs(&[
            ks(KS_OW | KS_UPDATE, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
        ]),
];

/// `rdbcompression` of the running server (on when there is none, as in unit tests).
fn compression() -> bool {
    crate::shard::current().is_none_or(|sh| sh.shared.config().rdbcompression)
}

/// The DUMP payload of `key`, or None when it does not exist.
pub fn op_dump(db: &mut Db, key: &[u8], now: i64, compress: bool) -> Option<Vec<u8>> {
    db.get(key, now)
        .map(|e| rdb::dump_payload(&e.value, compress))
}

fn dump(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    let payload = op_dump(ctx.db(), &argv[1], now, compression());
    match payload {
        Some(p) => {
            ctx.stats.keyspace_hits += 1;
            ctx.out.bulk(&p)
        }
        None => {
            ctx.stats.keyspace_misses += 1;
            ctx.out.null()
        }
    }
}

/// RESTORE's options after the payload.
#[derive(Debug, Default, PartialEq)]
pub struct RestoreOpts {
    pub replace: bool,
    pub absttl: bool,
    pub idle_secs: Option<i64>,
    pub freq: Option<i64>,
}

/// Parses `[REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]` with Redis 7.0's checks and order
/// (IDLETIME and FREQ exclude each other: the second one is a syntax error).
pub fn parse_restore_opts(args: &[Bytes]) -> Result<RestoreOpts, &'static str> {
    let mut o = RestoreOpts::default();
    let mut j = 0;
    while j < args.len() {
        let more = j + 1 < args.len();
        let a = &args[j];
        if eq_ic(a, "replace") {
            o.replace = true;
        } else if eq_ic(a, "absttl") {
            o.absttl = true;
        } else if eq_ic(a, "idletime") && more && o.freq.is_none() {
            let v = parse_i64(&args[j + 1]).ok_or(errors::NOT_INTEGER)?;
            if v < 0 {
                return Err(errors::RESTORE_IDLETIME);
            }
            o.idle_secs = Some(v);
            j += 1;
        } else if eq_ic(a, "freq") && more && o.idle_secs.is_none() {
            let v = parse_i64(&args[j + 1]).ok_or(errors::NOT_INTEGER)?;
            if !(0..=255).contains(&v) {
                return Err(errors::RESTORE_FREQ);
            }
            o.freq = Some(v);
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// What RESTORE did.
#[derive(Debug, PartialEq)]
pub enum Restored {
    /// The key now holds the value.
    Created,
    /// The TTL was already in the past: nothing stored; `deleted` tells whether REPLACE
    /// removed an existing key (Redis then propagates a DEL).
    AlreadyExpired { deleted: bool },
}

/// Shard-local RESTORE after argument checks: checks the payload, replaces, stores.
pub fn op_restore(
    db: &mut Db,
    key: &[u8],
    ttl: i64,
    payload: &[u8],
    o: &RestoreOpts,
    now: i64,
) -> Result<Restored, &'static str> {
    let value: Value = rdb::read_dump_payload(payload).map_err(|e| match e {
        DumpError::VersionOrChecksum => errors::DUMP_PAYLOAD,
        DumpError::BadFormat(_) => errors::BAD_DATA_FORMAT,
    })?;
    let deleted = o.replace && db.remove(key, now).is_some();
    let at = match ttl {
        0 => None,
        t if o.absttl => Some(t),
        t => Some(t.saturating_add(now)),
    };
    if at.is_some_and(|at| at <= now) {
        return Ok(Restored::AlreadyExpired { deleted });
    }
    let mut entry = Entry::new(value);
    if let Some(at) = at {
        entry.expire_at = at;
    }
    if o.idle_secs.is_some() || o.freq.is_some() {
        entry.lru = crate::keyspace::evict::loaded_access(
            o.idle_secs.map(|i| i.max(0) as u64),
            o.freq.map(|f| f.clamp(0, 255) as u8),
        );
    }
    db.put_entry(key, entry);
    Ok(Restored::Created)
}

fn restore(ctx: &mut Ctx, argv: &[Bytes]) {
    let o = match parse_restore_opts(&argv[4..]) {
        Ok(o) => o,
        Err(e) => return ctx.error(e),
    };
    let now = ctx.now;
    let key = &argv[1];
    if !o.replace && ctx.db().exists(key, now) {
        return ctx.error(errors::BUSYKEY);
    }
    let ttl = match parse_i64(&argv[2]) {
        None => return ctx.error(errors::NOT_INTEGER),
        Some(t) if t < 0 => return ctx.error(errors::RESTORE_TTL),
        Some(t) => t,
    };
    match op_restore(ctx.db(), key, ttl, &argv[3], &o, now) {
        Ok(Restored::Created) => {
            ctx.dirty += 1;
            ctx.out.ok();
        }
        Ok(Restored::AlreadyExpired { deleted }) => {
            if deleted {
                ctx.dirty += 1;
            }
            ctx.out.ok();
        }
        Err(e) => ctx.error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[&str]) -> Vec<Bytes> {
        v.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn options_like_redis() {
        assert_eq!(
            parse_restore_opts(&b(&["REPLACE", "absttl", "IDLETIME", "5"])),
            Ok(RestoreOpts {
                replace: true,
                absttl: true,
                idle_secs: Some(5),
                freq: None
            })
        );
        assert_eq!(
            parse_restore_opts(&b(&["idletime", "-1"])),
            Err(errors::RESTORE_IDLETIME)
        );
        assert_eq!(
            parse_restore_opts(&b(&["freq", "256"])),
            Err(errors::RESTORE_FREQ)
        );
        assert_eq!(
            parse_restore_opts(&b(&["freq", "1", "idletime", "1"])),
            Err(errors::SYNTAX)
        );
        assert_eq!(parse_restore_opts(&b(&["idletime"])), Err(errors::SYNTAX));
        assert_eq!(
            parse_restore_opts(&b(&["freq", "x"])),
            Err(errors::NOT_INTEGER)
        );
    }

    #[test]
    fn restore_round_trip_and_errors() {
        let mut db = Db::new();
        db.set(b"k", Value::from_bytes(b"hello"));
        let p = op_dump(&mut db, b"k", 0, true).unwrap();
        let o = RestoreOpts::default();
        assert_eq!(
            op_restore(&mut db, b"k2", 0, &p, &o, 1000),
            Ok(Restored::Created)
        );
        assert_eq!(
            db.get(b"k2", 1000).map(|e| e.value.clone()),
            Some(Value::from_bytes(b"hello"))
        );
        assert_eq!(
            op_restore(&mut db, b"k3", 500, &p, &o, 1000),
            Ok(Restored::Created)
        );
        assert_eq!(db.get(b"k3", 1000).map(|e| e.expire_at), Some(1500));
        let abs = RestoreOpts {
            absttl: true,
            replace: true,
            ..Default::default()
        };
        assert_eq!(
            op_restore(&mut db, b"k3", 900, &p, &abs, 1000),
            Ok(Restored::AlreadyExpired { deleted: true })
        );
        assert!(db.get(b"k3", 1000).is_none());
        let mut bad = p.clone();
        bad[1] ^= 1;
        assert_eq!(
            op_restore(&mut db, b"x", 0, &bad, &o, 0),
            Err(errors::DUMP_PAYLOAD)
        );
        assert_eq!(
            op_restore(&mut db, b"x", 0, b"short", &o, 0),
            Err(errors::DUMP_PAYLOAD)
        );
        // A well-framed payload whose body is garbage: type 0 with a truncated string.
        let mut body = vec![0u8, 0x05, b'a'];
        body.extend_from_slice(&10u16.to_le_bytes());
        let crc = crate::persistence::rdb::crc64::crc64(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            op_restore(&mut db, b"x", 0, &body, &o, 0),
            Err(errors::BAD_DATA_FORMAT)
        );
    }
}
