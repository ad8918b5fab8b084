//! The list value type and its shard-local representation.

use std::collections::VecDeque;

/// A Redis list. Encoding names follow Redis 7.0: "listpack" while small, "quicklist" after.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct List {
    pub items: VecDeque<Box<[u8]>>,
}

impl List {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    pub fn mem_usage(&self) -> usize {
        self.items.iter().map(|i| i.len() + 16).sum::<usize>() + 48
    }
}
