//! The set value type and its shard-local representation.
//!
//! Like Redis 7.0 (which has no listpack sets; 7.2 added them), a set of integers is a sorted
//! array ("intset": SMEMBERS answers in ascending order) while every member is the canonical
//! text of an i64 and there are at most `set-max-intset-entries`; anything else makes it a hash
//! table ("hashtable"), and it never converts back.

use super::value::parse_canonical_i64;
use super::Dense;

/// `set-max-intset-entries` default.
pub const MAX_INTSET_ENTRIES: usize = 512;

/// A Redis set of members.
#[derive(Clone, Debug)]
pub enum Set {
    Intset(Vec<i64>),
    Table(Dense<()>),
}

/// One member: intset members are kept as integers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Member::Int(i) => itoa::Buffer::new().format(i).as_bytes().to_vec(),
            Member::Bytes(b) => b.to_vec(),
        }
    }
}

impl Default for Set {
    fn default() -> Self {
        Set::Intset(Vec::new())
    }
}

/// Equal when both hold the same members, whatever the encoding.
impl PartialEq for Set {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains(&m.to_vec()))
    }
}

impl Set {
    /// An empty set of the encoding Redis's `setTypeCreate` picks for its first member.
    pub fn for_member(first: &[u8]) -> Self {
        match parse_canonical_i64(first) {
            Some(_) => Set::Intset(Vec::new()),
            None => Set::Table(Dense::new()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Intset(v) => v.len(),
            Set::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn mem_usage(&self) -> usize {
        match self {
            Set::Intset(v) => 16 + v.capacity() * 8,
            Set::Table(d) => d.capacity_bytes() + d.iter().map(|(k, _)| k.len()).sum::<usize>(),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Intset(v) => parse_canonical_i64(m).is_some_and(|i| v.binary_search(&i).is_ok()),
            Set::Table(d) => d.contains(m),
        }
    }

    /// Membership of a member of another set (no formatting when both are intsets).
    pub fn contains_member(&self, m: Member<'_>) -> bool {
        match (self, m) {
            (Set::Intset(v), Member::Int(i)) => v.binary_search(&i).is_ok(),
            (Set::Table(d), Member::Int(i)) => d.contains(itoa::Buffer::new().format(i).as_bytes()),
            (_, Member::Bytes(b)) => self.contains(b),
        }
    }

    fn convert(&mut self) {
        if let Set::Intset(v) = self {
            let mut d = Dense::new();
            let mut buf = itoa::Buffer::new();
            for &i in v.iter() {
                d.insert_new(buf.format(i).as_bytes().into(), ());
            }
            *self = Set::Table(d);
        }
    }

    /// Adds `m`; true when it is new.
    pub fn add(&mut self, m: &[u8]) -> bool {
        if let Set::Intset(v) = self {
            match parse_canonical_i64(m) {
                Some(i) => {
                    return match v.binary_search(&i) {
                        Ok(_) => false,
                        Err(at) => {
                            v.insert(at, i);
                            if v.len() > super::encoding::set_max_intset_entries() {
                                self.convert();
                            }
                            true
                        }
                    };
                }
                None => self.convert(),
            }
        }
        match self {
            Set::Table(d) => {
                if d.contains(m) {
                    false
                } else {
                    d.insert_new(m.into(), ());
                    true
                }
            }
            Set::Intset(_) => false,
        }
    }

    /// Removes `m`; true when it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Intset(v) => match parse_canonical_i64(m).map(|i| v.binary_search(&i)) {
                Some(Ok(at)) => {
                    v.remove(at);
                    true
                }
                _ => false,
            },
            Set::Table(d) => d.remove(m).is_some(),
        }
    }

    /// The member at position `i` (< len), for O(1) random sampling.
    pub fn nth(&self, i: usize) -> Member<'_> {
        match self {
            Set::Intset(v) => Member::Int(v[i]),
            Set::Table(d) => Member::Bytes(&d.slot(i).key),
        }
    }

    /// Removes and returns the member at position `i` (< len).
    pub fn take_nth(&mut self, i: usize) -> Vec<u8> {
        match self {
            Set::Intset(v) => itoa::Buffer::new().format(v.remove(i)).as_bytes().to_vec(),
            Set::Table(d) => d.remove_at(i).0.into_vec(),
        }
    }

    /// Members in encoding order (ascending for an intset).
    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> {
        (0..self.len()).map(|i| self.nth(i))
    }

    /// Builds a set the way Redis's store commands do: start as an intset, add one by one.
    pub fn from_members<'a>(members: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut s = Set::default();
        for m in members {
            s.add(m);
        }
        s
    }

    /// One SSCAN step: an intset is returned whole with cursor 0; a table is walked with the
    /// [`Dense::scan`] cursor.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(Member<'_>)) -> u64 {
        match self {
            Set::Intset(v) => {
                for &i in v {
                    visit(Member::Int(i));
                }
                0
            }
            Set::Table(d) => d.scan(cursor, count, |i| visit(Member::Bytes(&d.slot(i).key))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_sorted_then_hashtable_for_good() {
        let mut s = Set::for_member(b"3");
        for m in [&b"3"[..], b"1", b"2", b"1"] {
            s.add(m);
        }
        assert_eq!(s.encoding(), "intset");
        assert_eq!(
            s.iter().map(|m| m.to_vec()).collect::<Vec<_>>(),
            [b"1", b"2", b"3"]
        );
        assert!(!s.contains(b"01"));
        assert!(s.add(b"x"));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.remove(b"x"));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"2"));
        assert_eq!(Set::for_member(b"a").encoding(), "hashtable");
    }

    #[test]
    fn intset_limit() {
        let mut s = Set::default();
        for i in 0..MAX_INTSET_ENTRIES {
            s.add(i.to_string().as_bytes());
        }
        assert_eq!(s.encoding(), "intset");
        s.add(b"100000");
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), MAX_INTSET_ENTRIES + 1);
        let m = s.take_nth(0);
        assert!(!s.contains(&m));
        assert_eq!(s.len(), MAX_INTSET_ENTRIES);
    }
}
