//! Canonical error replies, built once (clients map the prefixes to exception types).

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const DB_INDEX: &str = "ERR DB index is out of range";
pub const READONLY: &str = "READONLY You can't write against a read only replica.";
pub const MASTERDOWN: &str =
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const INVALID_EXPIRE: &str = "ERR invalid expire time in 'set' command";
pub const OFFSET_RANGE: &str = "ERR offset is out of range";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
pub const BIT_VALUE: &str = "ERR bit is not an integer or out of range";
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";

pub const NOT_FLOAT_RESULT: &str = "ERR increment would produce NaN or Infinity";
pub const DECR_OVERFLOW: &str = "ERR decrement would overflow";
pub const LCS_TYPES: &str = "ERR The specified keys must contain string values";
pub const LCS_LEN_AND_IDX: &str =
    "ERR If you want both the length and indexes, please just use IDX.";
pub const LCS_TOO_LONG: &str = "ERR String too long for LCS";
pub const LCS_NO_MEMORY: &str =
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
pub const BIT_ARG: &str = "ERR The bit argument must be 1 or 0.";
pub const BITOP_NOT_ONE_KEY: &str = "ERR BITOP NOT must be called with a single source key.";
pub const BITFIELD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
pub const BITFIELD_OVERFLOW: &str = "ERR Invalid OVERFLOW type specified";
pub const BITFIELD_RO_GET: &str = "ERR BITFIELD_RO only supports the GET subcommand";

/// `ERR invalid expire time in 'set' command`, named after the command that was called.
pub fn invalid_expire(cmd: &str) -> String {
    format!("ERR invalid expire time in '{cmd}' command")
}

pub fn wrong_arity(fullname: &str) -> String {
    format!("ERR wrong number of arguments for '{fullname}' command")
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' ` exactly as Redis 7.0 builds it.
pub fn unknown_command(argv: &[bytes::Bytes]) -> String {
    let name = truncate_lossy(&argv[0], 128);
    let mut args = String::new();
    for a in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push('\'');
        args.push_str(&truncate_lossy(a, room));
        args.push_str("' ");
    }
    format!("ERR unknown command '{name}', with args beginning with: {args}")
}

pub fn unknown_subcommand(sub: &[u8], cmd: &str) -> String {
    format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        truncate_lossy(sub, 128),
        cmd.to_ascii_uppercase()
    )
}

fn truncate_lossy(b: &[u8], max: usize) -> String {
    // Redis prints bytes as they are; an error line must stay one line.
    let b = &b[..b.len().min(max)];
    String::from_utf8_lossy(b)
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

pub const EXPIRE_NX_CONFLICT: &str =
    "ERR NX and XX, GT or LT options at the same time are not compatible";
pub const EXPIRE_GT_LT_CONFLICT: &str = "ERR GT and LT options at the same time are not compatible";
/// getIntFromObject on an integer outside C int range.
pub const INT_RANGE: &str =
    "ERR value is out of range, value must between -2147483648 and 2147483647";
pub const INVALID_CURSOR: &str = "ERR invalid cursor";
pub const INVALID_FIRST_DB: &str = "ERR invalid first DB index";
pub const INVALID_SECOND_DB: &str = "ERR invalid second DB index";
pub const LFU_NOT_SELECTED: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
pub const LFU_SELECTED: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// `ERR Unsupported option X` (EXPIRE family flags).
pub fn unsupported_option(opt: &[u8]) -> String {
    format!("ERR Unsupported option {}", truncate_lossy(opt, 128))
}
pub const HASH_NOT_INTEGER: &str = "ERR hash value is not an integer";
pub const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
pub const NAN_OR_INFINITY: &str = "ERR value is NaN or Infinity";
pub const VALUE_OUT_OF_RANGE: &str = "ERR value is out of range";
pub const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
/// getRangeLongFromObjectOrReply over [-LONG_MAX, LONG_MAX].
pub const LONG_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
pub const NUMKEYS_POSITIVE: &str = "ERR numkeys should be greater than 0";
pub const NUMKEYS_TOO_MANY: &str = "ERR Number of keys can't be greater than number of args";
pub const LIMIT_NEGATIVE: &str = "ERR LIMIT can't be negative";

pub const BUSYKEY: &str = "BUSYKEY Target key name already exists.";
pub const RESTORE_TTL: &str = "ERR Invalid TTL value, must be >= 0";
pub const RESTORE_IDLETIME: &str = "ERR Invalid IDLETIME value, must be >= 0";
pub const RESTORE_FREQ: &str = "ERR Invalid FREQ value, must be >= 0 and <= 255";
pub const DUMP_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
pub const BAD_DATA_FORMAT: &str = "ERR Bad data format";
pub const BGSAVE_IN_PROGRESS: &str = "ERR Background save already in progress";
/// SAVE's reply when the save failed (Redis's bare `shared.err`).
pub const ERR_PLAIN: &str = "ERR";
/// A `denyoom` command while used memory is above `maxmemory` and nothing can be evicted.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
