//! The set value type and its shard-local representation.

use super::Dense;

/// A Redis set of members.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Set {
    pub members: Dense<()>,
}

impl Set {
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }

    pub fn mem_usage(&self) -> usize {
        self.members.capacity_bytes() + self.members.iter().map(|(k, _)| k.len()).sum::<usize>()
    }
}
