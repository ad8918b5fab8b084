//! The RDB format, as a library with no I/O policy of its own.
//!
//! - [`crc64`]: Redis's CRC-64 (Jones polynomial, reflected), incremental.
//! - [`lzf`]: the LZF block format Redis uses for long strings.
//! - [`listpack`]: the blobs that compact encodings store as strings (listpack, intset, and for
//!   reading old files ziplist and zipmap).
//! - [`write`]: version 10 writer (what Redis 7.0 writes): values, entries, whole files, DUMP.
//! - [`read`]: reader for versions 1..12 and every encoding Redis has written.
//!
//! Value and entry serialization work on a `Vec<u8>` without a file, so each shard can
//! serialize its own chunk and one [`write::RdbWriter`] concatenates chunks while computing the
//! CRC.

pub mod crc64;
pub mod listpack;
pub mod lzf;
pub mod read;
pub mod write;

pub use read::{load, load_with, read_dump_payload, read_value, LoadSummary, RdbEntry, Visitor};
pub use write::{
    dump_payload, save_snapshot, write_entry, write_entry_with, write_value, Access, RdbWriter,
    WriteOptions,
};

/// The RDB version we write (Redis 7.0).
pub const RDB_VERSION: u16 = 10;
/// The newest version we read (Redis 7.4).
pub const RDB_MAX_READ_VERSION: u16 = 12;

// Value type ids (rdb.h).
pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_MODULE_PRE_GA: u8 = 6;
pub const TYPE_MODULE_2: u8 = 7;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;
pub const TYPE_SET_LISTPACK: u8 = 20;
pub const TYPE_STREAM_LISTPACKS_3: u8 = 21;

// Opcodes.
pub const OPCODE_SLOT_INFO: u8 = 0xF4;
pub const OPCODE_FUNCTION2: u8 = 0xF5;
pub const OPCODE_FUNCTION_PRE_GA: u8 = 0xF6;
pub const OPCODE_MODULE_AUX: u8 = 0xF7;
pub const OPCODE_IDLE: u8 = 0xF8;
pub const OPCODE_FREQ: u8 = 0xF9;
pub const OPCODE_AUX: u8 = 0xFA;
pub const OPCODE_RESIZEDB: u8 = 0xFB;
pub const OPCODE_EXPIRETIME_MS: u8 = 0xFC;
pub const OPCODE_EXPIRETIME: u8 = 0xFD;
pub const OPCODE_SELECTDB: u8 = 0xFE;
pub const OPCODE_EOF: u8 = 0xFF;

/// Quicklist 2 node containers.
pub const QUICKLIST_NODE_PLAIN: u64 = 1;
pub const QUICKLIST_NODE_PACKED: u64 = 2;

/// The name redis-check-rdb prints for a type id.
pub fn type_name(t: u8) -> &'static str {
    match t {
        TYPE_STRING => "string",
        TYPE_LIST => "list-linked",
        TYPE_SET => "set-hashtable",
        TYPE_ZSET => "zset-v1",
        TYPE_HASH => "hash-hashtable",
        TYPE_ZSET_2 => "zset-v2",
        TYPE_MODULE_PRE_GA => "module-pre-release",
        TYPE_MODULE_2 => "module-value",
        TYPE_HASH_ZIPMAP => "hash-zipmap",
        TYPE_LIST_ZIPLIST => "list-ziplist",
        TYPE_SET_INTSET => "set-intset",
        TYPE_ZSET_ZIPLIST => "zset-ziplist",
        TYPE_HASH_ZIPLIST => "hash-ziplist",
        TYPE_LIST_QUICKLIST => "quicklist",
        TYPE_STREAM_LISTPACKS => "stream",
        TYPE_HASH_LISTPACK => "hash-listpack",
        TYPE_ZSET_LISTPACK => "zset-listpack",
        TYPE_LIST_QUICKLIST_2 => "quicklist-v2",
        TYPE_STREAM_LISTPACKS_2 => "stream-v2",
        TYPE_SET_LISTPACK => "set-listpack",
        TYPE_STREAM_LISTPACKS_3 => "stream-v3",
        _ => "unknown",
    }
}

/// A corrupt, truncated or unsupported RDB input: where (byte offset from the start of the
/// input) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} (at offset {offset})")]
pub struct RdbError {
    pub offset: u64,
    pub what: String,
}

impl RdbError {
    pub fn new(offset: u64, what: impl Into<String>) -> Self {
        RdbError {
            offset,
            what: what.into(),
        }
    }
}
