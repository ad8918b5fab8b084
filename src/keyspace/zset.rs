//! The zset value type and its shard-local representation.

use super::Dense;

/// A Redis sorted set: member -> score.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZSet {
    pub scores: Dense<f64>,
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "skiplist"
    }

    pub fn mem_usage(&self) -> usize {
        self.scores.capacity_bytes() + self.scores.iter().map(|(k, _)| k.len()).sum::<usize>()
    }
}
