//! The hash value type and its shard-local representation.

use super::Dense;

/// A Redis hash: field -> value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hash {
    pub fields: Dense<Box<[u8]>>,
}

impl Hash {
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }

    pub fn mem_usage(&self) -> usize {
        self.fields.capacity_bytes()
            + self
                .fields
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }
}
