//! The hash value type and its shard-local representation.
//!
//! Like Redis 7.0, a small hash is a flat list of (field, value) pairs in insertion order
//! ("listpack": HGETALL answers in that order) and turns into a hash table ("hashtable") once
//! it holds more than `hash-max-listpack-entries` fields or a field or value longer than
//! `hash-max-listpack-value` bytes. It never converts back.

use super::Dense;

/// `hash-max-listpack-entries` default (the compiled-in 512; redis.conf ships 128).
pub const MAX_LISTPACK_ENTRIES: usize = 512;
/// `hash-max-listpack-value` default.
pub const MAX_LISTPACK_VALUE: usize = 64;

/// A (field, value) pair of a listpack hash.
pub type Pair = (Box<[u8]>, Box<[u8]>);

/// A Redis hash: field -> value.
#[derive(Clone, Debug)]
pub enum Hash {
    Listpack(Vec<Pair>),
    Table(Dense<Box<[u8]>>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(Vec::new())
    }
}

/// Equal when both hold the same fields with equal values, whatever the encoding or order.
impl PartialEq for Hash {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl Hash {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(v) => v.len(),
            Hash::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn mem_usage(&self) -> usize {
        let payload: usize = self.iter().map(|(k, v)| k.len() + v.len()).sum();
        match self {
            Hash::Listpack(v) => 16 + v.capacity() * 32 + payload,
            Hash::Table(d) => d.capacity_bytes() + payload,
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Listpack(v) => v.iter().find(|(f, _)| &**f == field).map(|(_, x)| &**x),
            Hash::Table(d) => d.get(field).map(|x| &**x),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts to a hash table before a write that a listpack could not hold (Redis's
    /// `hashTypeTryConversion` looks at the lengths of what is about to be written).
    pub fn fit(&mut self, field: &[u8], value: &[u8]) {
        if field.len() > super::encoding::hash_max_value()
            || value.len() > super::encoding::hash_max_value()
        {
            self.convert();
        }
    }

    fn convert(&mut self) {
        if let Hash::Listpack(v) = self {
            let mut d = Dense::new();
            for (f, x) in std::mem::take(v) {
                d.insert_new(f, x);
            }
            *self = Hash::Table(d);
        }
    }

    /// Sets `field` to `value`; true when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        self.fit(field, value);
        let new = match self {
            Hash::Listpack(v) => match v.iter_mut().find(|(f, _)| &**f == field) {
                Some((_, x)) => {
                    *x = value.into();
                    false
                }
                None => {
                    v.push((field.into(), value.into()));
                    true
                }
            },
            Hash::Table(d) => d.insert(field, value.into()).is_none(),
        };
        if self.len() > super::encoding::hash_max_entries() {
            self.convert();
        }
        new
    }

    /// Removes `field`; true when it was there. A listpack keeps the order of the rest.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(v) => match v.iter().position(|(f, _)| &**f == field) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            Hash::Table(d) => d.remove(field).is_some(),
        }
    }

    /// The pair at position `i` (< len), for O(1) random sampling.
    pub fn nth(&self, i: usize) -> (&[u8], &[u8]) {
        match self {
            Hash::Listpack(v) => (&v[i].0, &v[i].1),
            Hash::Table(d) => {
                let s = d.slot(i);
                (&s.key, &s.val)
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        (0..self.len()).map(|i| self.nth(i))
    }

    /// One HSCAN step: a listpack is returned whole with cursor 0 (as Redis does for its
    /// compact encodings); a table is walked with the [`Dense::scan`] cursor.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            Hash::Listpack(v) => {
                for (f, x) in v {
                    visit(f, x);
                }
                0
            }
            Hash::Table(d) => d.scan(cursor, count, |i| {
                let s = d.slot(i);
                visit(&s.key, &s.val)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_keeps_insertion_order_and_converts_once() {
        let mut h = Hash::new();
        assert!(h.set(b"b", b"1"));
        assert!(h.set(b"a", b"2"));
        assert!(!h.set(b"b", b"3"));
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            vec![(&b"b"[..], &b"3"[..]), (&b"a"[..], &b"2"[..])]
        );
        assert_eq!(h.encoding(), "listpack");
        h.set(b"long", &[b'x'; 65]);
        assert_eq!(h.encoding(), "hashtable");
        h.remove(b"long");
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"b"), Some(&b"3"[..]));
    }

    #[test]
    fn converts_past_entry_limit() {
        let mut h = Hash::new();
        for i in 0..MAX_LISTPACK_ENTRIES {
            h.set(i.to_string().as_bytes(), b"v");
        }
        assert_eq!(h.encoding(), "listpack");
        h.set(b"one more", b"v");
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), MAX_LISTPACK_ENTRIES + 1);
        let mut other = Hash::new();
        for (f, v) in h.iter() {
            other.set(f, v);
        }
        assert_eq!(h, other);
    }
}
