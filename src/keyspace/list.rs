//! The list value type and its shard-local representation.
//!
//! A ring buffer of owned elements: O(1) pushes and pops at both ends (the hot path of
//! LPUSH/RPUSH/LPOP/RPOP and queues), O(1) random access for LINDEX/LSET/LRANGE, and ranges that
//! can be borrowed for replies without copying.

use std::collections::VecDeque;

/// A Redis list. Redis 7.0 reports every list as "quicklist" (the listpack encoding for small
/// lists only arrived in 7.2), so we do too.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct List {
    pub items: VecDeque<Box<[u8]>>,
}

/// Which end of a list (Redis's LIST_HEAD / LIST_TAIL; LEFT / RIGHT in LMOVE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
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

    pub fn push(&mut self, end: End, item: &[u8]) {
        match end {
            End::Head => self.items.push_front(item.into()),
            End::Tail => self.items.push_back(item.into()),
        }
    }

    pub fn pop(&mut self, end: End) -> Option<Box<[u8]>> {
        match end {
            End::Head => self.items.pop_front(),
            End::Tail => self.items.pop_back(),
        }
    }

    /// Redis's index: negative counts from the tail (-1 is the last element).
    pub fn index(&self, index: i64) -> Option<usize> {
        let len = self.items.len() as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    pub fn get(&self, index: i64) -> Option<&[u8]> {
        self.index(index).map(|i| &*self.items[i])
    }

    /// Replaces the element at `index`; false when out of range.
    pub fn set(&mut self, index: i64, item: &[u8]) -> bool {
        match self.index(index) {
            Some(i) => {
                self.items[i] = item.into();
                true
            }
            None => false,
        }
    }

    /// The inclusive range [start, end] of LRANGE/LTRIM after Redis's index conversion, as
    /// (first, count); count 0 when empty.
    pub fn range(&self, start: i64, end: i64) -> (usize, usize) {
        let len = self.items.len() as i64;
        let mut start = if start < 0 {
            len.saturating_add(start)
        } else {
            start
        };
        let mut end = if end < 0 {
            len.saturating_add(end)
        } else {
            end
        };
        if start < 0 {
            start = 0;
        }
        if start > end || start >= len {
            return (0, 0);
        }
        if end >= len {
            end = len - 1;
        }
        (start as usize, (end - start + 1) as usize)
    }

    /// Keeps only the inclusive range [start, end] (LTRIM); returns how many were removed.
    pub fn trim(&mut self, start: i64, end: i64) -> usize {
        let before = self.items.len();
        let (first, count) = self.range(start, end);
        if count == 0 {
            self.items.clear();
        } else {
            self.items.truncate(first + count);
            self.items.drain(..first);
        }
        before - self.items.len()
    }

    /// Removes up to `count` elements equal to `item` (all when 0), scanning from the tail when
    /// `count` is negative (LREM). Returns how many were removed.
    pub fn remove(&mut self, count: i64, item: &[u8]) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs().min(usize::MAX as u64) as usize
        };
        let mut removed = 0;
        if count >= 0 {
            self.items.retain(|e| {
                let hit = removed < limit && **e == *item;
                removed += hit as usize;
                !hit
            });
        } else {
            // Find the victims from the tail, then drop them in one pass.
            let mut victims: Vec<usize> = Vec::new();
            for (i, e) in self.items.iter().enumerate().rev() {
                if victims.len() == limit {
                    break;
                }
                if **e == *item {
                    victims.push(i);
                }
            }
            removed = victims.len();
            let mut i = 0;
            self.items.retain(|_| {
                let keep = victims.last() != Some(&i);
                if !keep {
                    victims.pop();
                }
                i += 1;
                keep
            });
        }
        removed
    }

    /// Inserts `item` before (`Head`) or after (`Tail`) the first element equal to `pivot`.
    /// False when the pivot is absent.
    pub fn insert(&mut self, end: End, pivot: &[u8], item: &[u8]) -> bool {
        match self.items.iter().position(|e| &**e == pivot) {
            Some(i) => {
                let at = if end == End::Head { i } else { i + 1 };
                self.items.insert(at, item.into());
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> List {
        let mut l = List::default();
        for i in items {
            l.push(End::Tail, i.as_bytes());
        }
        l
    }

    fn strings(l: &List) -> Vec<String> {
        l.items
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    #[test]
    fn ranges_follow_redis_index_rules() {
        let l = list(&["a", "b", "c", "d"]);
        assert_eq!(l.range(0, -1), (0, 4));
        assert_eq!(l.range(-2, -1), (2, 2));
        assert_eq!(l.range(-100, 1), (0, 2));
        assert_eq!(l.range(2, 100), (2, 2));
        assert_eq!(l.range(3, 2), (0, 0));
        assert_eq!(l.range(4, 10), (0, 0));
        assert_eq!(l.range(i64::MIN, i64::MAX), (0, 4));
        assert_eq!(l.get(-1), Some(&b"d"[..]));
        assert_eq!(l.get(4), None);
        assert_eq!(l.get(-5), None);
    }

    #[test]
    fn trim_remove_insert() {
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove(-2, b"a"), 2);
        assert_eq!(strings(&l), ["a", "b", "c"]);
        assert!(l.insert(End::Tail, b"b", b"x"));
        assert!(l.insert(End::Head, b"a", b"y"));
        assert!(!l.insert(End::Head, b"zz", b"y"));
        assert_eq!(strings(&l), ["y", "a", "b", "x", "c"]);
        assert_eq!(l.trim(1, -2), 2);
        assert_eq!(strings(&l), ["a", "b", "x"]);
        assert_eq!(l.remove(0, b"b"), 1);
        assert_eq!(l.trim(5, 10), 2);
        assert!(l.is_empty());
    }
}
