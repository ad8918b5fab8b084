//! The zset value type and its shard-local representation.
//!
//! A member -> score table ([`Dense`]) answers ZSCORE and membership in O(1); an ordered index
//! (a `BTreeSet` of (score, member)) keeps Redis's order: by score, then by member bytes. Ranks
//! are found by walking the index from the nearer end, so ZRANK and ZRANGE by rank cost
//! O(min(rank, N - rank)) rather than a full scan.
//!
//! OBJECT ENCODING follows Redis 7.0: "listpack" while the set has at most
//! [`MAX_LISTPACK_ENTRIES`] members none longer than [`MAX_LISTPACK_VALUE`] bytes, "skiplist"
//! once either limit is crossed by an insert. Removing members never converts back; only the
//! store commands (ZUNIONSTORE & co, ZRANGESTORE) choose the encoding of the set they build.

use super::Dense;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound;

/// Redis's default `zset-max-listpack-entries`.
pub const MAX_LISTPACK_ENTRIES: usize = 128;
/// Redis's default `zset-max-listpack-value`.
pub const MAX_LISTPACK_VALUE: usize = 64;

/// A score as an index key: totally ordered, with -0 folded into +0 so that, as in Redis,
/// members with scores -0 and 0 sort by member.
#[derive(Clone, Copy, Debug)]
pub struct OrdScore(f64);

impl OrdScore {
    fn new(s: f64) -> Self {
        OrdScore(s + 0.0)
    }
}

impl PartialEq for OrdScore {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for OrdScore {}
impl PartialOrd for OrdScore {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for OrdScore {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0)
    }
}

type IndexKey = (OrdScore, Box<[u8]>);

/// A score interval (ZRANGEBYSCORE's `min max`, `(` marking an exclusive end).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    pub fn contains(&self, s: f64) -> bool {
        let above = if self.minex {
            s > self.min
        } else {
            s >= self.min
        };
        let below = if self.maxex {
            s < self.max
        } else {
            s <= self.max
        };
        above && below
    }
}

/// One end of a lex interval: `-`, `+`, `[m` or `(m`.
#[derive(Clone, Debug, PartialEq)]
pub enum LexBound {
    Min,
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

/// A lex interval (ZRANGEBYLEX's `min max`).
#[derive(Clone, Debug, PartialEq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    pub fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(b) => m >= &b[..],
            LexBound::Excl(b) => m > &b[..],
        }
    }

    pub fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(b) => m <= &b[..],
            LexBound::Excl(b) => m < &b[..],
        }
    }
}

/// A Redis sorted set: member -> score, ordered by (score, member).
#[derive(Clone, Debug, PartialEq)]
pub struct ZSet {
    pub scores: Dense<f64>,
    index: BTreeSet<IndexKey>,
    listpack: bool,
}

impl Default for ZSet {
    fn default() -> Self {
        Self::new()
    }
}

impl ZSet {
    pub fn new() -> Self {
        ZSet {
            scores: Dense::new(),
            index: BTreeSet::new(),
            listpack: true,
        }
    }

    /// An empty set that starts in the skiplist encoding (Redis's `createZsetObject`).
    pub fn new_skiplist() -> Self {
        ZSet {
            listpack: false,
            ..Self::new()
        }
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        if self.listpack {
            "listpack"
        } else {
            "skiplist"
        }
    }

    pub fn is_listpack(&self) -> bool {
        self.listpack
    }

    pub fn mem_usage(&self) -> usize {
        let members: usize = self.scores.iter().map(|(k, _)| k.len()).sum();
        self.scores.capacity_bytes() + 2 * members + self.index.len() * 48
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Adds or updates a member; returns the previous score.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        // A listpack stores scores as text where -0 becomes "0"; a skiplist keeps the double.
        let score = if self.listpack { score + 0.0 } else { score };
        if let Some(old) = self.scores.get_mut(member) {
            let prev = *old;
            *old = score;
            if OrdScore::new(prev) != OrdScore::new(score) {
                let mut k = (OrdScore::new(prev), Box::<[u8]>::from(member));
                self.index.remove(&k);
                k.0 = OrdScore::new(score);
                self.index.insert(k);
            }
            return Some(prev);
        }
        if self.listpack
            && (self.len() + 1 > super::encoding::zset_max_entries()
                || member.len() > super::encoding::zset_max_value())
        {
            self.listpack = false;
        }
        self.scores.insert_new(member.into(), score);
        self.index.insert((OrdScore::new(score), member.into()));
        None
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (k, score) = self.scores.remove(member)?;
        self.index.remove(&(OrdScore::new(score), k));
        Some(score)
    }

    /// Converts to listpack when Redis's `zsetConvertToListpackIfNeeded` would.
    pub fn convert_to_listpack_if_fits(&mut self) {
        if !self.listpack
            && self.len() <= super::encoding::zset_max_entries()
            && self
                .scores
                .iter()
                .all(|(m, _)| m.len() <= super::encoding::zset_max_value())
        {
            self.listpack = true;
        }
    }

    /// 0-based rank of `member` (from the highest score when `rev`).
    pub fn rank(&self, member: &[u8], rev: bool) -> Option<usize> {
        let score = self.score(member)?;
        let key = (OrdScore::new(score), Box::<[u8]>::from(member));
        let n = self.len();
        // Walk both sides of the member in lockstep; the shorter side ends first.
        let mut before = self.index.range(..&key);
        let mut after = self.index.range((Bound::Excluded(&key), Bound::Unbounded));
        let mut steps = 0;
        let below = loop {
            if before.next().is_none() {
                break steps;
            }
            if after.next().is_none() {
                break n - 1 - (steps);
            }
            steps += 1;
        };
        Some(if rev { n - 1 - below } else { below })
    }

    /// Members with scores in order (descending when `rev`).
    pub fn iter(&self, rev: bool) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        let it = self.index.iter().map(|(s, m)| (&m[..], self.stored(s, m)));
        if rev {
            Box::new(
                self.index
                    .iter()
                    .rev()
                    .map(|(s, m)| (&m[..], self.stored(s, m))),
            )
        } else {
            Box::new(it)
        }
    }

    /// The score as stored (keeps the sign of -0, which the index folds).
    #[inline]
    fn stored(&self, s: &OrdScore, m: &[u8]) -> f64 {
        if s.0 == 0.0 {
            self.scores.get(m).copied().unwrap_or(s.0)
        } else {
            s.0
        }
    }

    /// Elements of ranks `start..=end` (0-based, already clamped to the set), counted from the
    /// highest score when `rev`.
    pub fn range_by_rank(
        &self,
        start: usize,
        end: usize,
        rev: bool,
    ) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let n = end.saturating_sub(start) + 1;
        let len = self.len();
        // Skip from whichever end is nearer the range.
        let (from_front, skip) = if start < len.saturating_sub(end + 1) {
            (!rev, start)
        } else {
            (rev, len.saturating_sub(end + 1))
        };
        let items: Vec<(&[u8], f64)> = if from_front {
            self.index
                .iter()
                .skip(skip)
                .take(n)
                .map(|(s, m)| (&m[..], self.stored(s, m)))
                .collect()
        } else {
            self.index
                .iter()
                .rev()
                .skip(skip)
                .take(n)
                .map(|(s, m)| (&m[..], self.stored(s, m)))
                .collect()
        };
        // `items` runs from the end we skipped from; the caller wants rank order.
        let flip = from_front == rev;
        let mut items = items;
        if flip {
            items.reverse();
        }
        items.into_iter()
    }

    /// Elements whose score is in `r`, ascending (descending when `rev`).
    pub fn range_by_score(
        &self,
        r: &ScoreRange,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        let empty: Box<dyn Iterator<Item = (&[u8], f64)>> = Box::new(std::iter::empty());
        if r.min.is_nan() || r.max.is_nan() {
            return empty;
        }
        let lo = if r.minex { r.min.next_up() } else { r.min };
        if r.minex && r.min == f64::INFINITY {
            return empty;
        }
        let hi: Bound<f64> = if r.maxex {
            Bound::Excluded(r.max)
        } else if r.max == f64::INFINITY {
            Bound::Unbounded
        } else {
            Bound::Excluded(r.max.next_up())
        };
        if let Bound::Excluded(h) = hi {
            if OrdScore::new(lo) >= OrdScore::new(h) {
                return empty;
            }
        }
        let lo_key: IndexKey = (OrdScore::new(lo), Box::default());
        let hi_key: Bound<IndexKey> = match hi {
            Bound::Excluded(h) => Bound::Excluded((OrdScore::new(h), Box::default())),
            _ => Bound::Unbounded,
        };
        let it = self
            .index
            .range((Bound::Included(lo_key), hi_key))
            .map(|(s, m)| (&m[..], self.stored(s, m)));
        if rev {
            Box::new(it.rev())
        } else {
            Box::new(it)
        }
    }

    /// Elements in the lex range, walked as Redis walks them (which assumes equal scores).
    pub fn range_by_lex<'a>(
        &'a self,
        r: &'a LexRange,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (&'a [u8], f64)> + 'a> {
        if rev {
            Box::new(
                self.iter(true)
                    .skip_while(|(m, _)| !r.lte_max(m))
                    .take_while(|(m, _)| r.gte_min(m)),
            )
        } else {
            Box::new(
                self.iter(false)
                    .skip_while(|(m, _)| !r.gte_min(m))
                    .take_while(|(m, _)| r.lte_max(m)),
            )
        }
    }

    /// The lowest (or highest, `max`) element.
    pub fn first(&self, max: bool) -> Option<(Box<[u8]>, f64)> {
        let (s, m) = if max {
            self.index.last()?
        } else {
            self.index.first()?
        };
        Some((m.clone(), self.stored(s, m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(it: impl Iterator<Item = (impl AsRef<[u8]>, f64)>) -> Vec<String> {
        it.map(|(m, _)| String::from_utf8_lossy(m.as_ref()).into_owned())
            .collect()
    }

    #[test]
    fn orders_by_score_then_member_and_updates() {
        let mut z = ZSet::new();
        z.insert(b"b", 1.0);
        z.insert(b"a", 1.0);
        z.insert(b"c", 0.5);
        assert_eq!(members(z.iter(false)), ["c", "a", "b"]);
        assert_eq!(z.insert(b"c", 2.0), Some(0.5));
        assert_eq!(members(z.iter(false)), ["a", "b", "c"]);
        assert_eq!(z.rank(b"c", false), Some(2));
        assert_eq!(z.rank(b"c", true), Some(0));
        assert_eq!(z.remove(b"a"), Some(1.0));
        assert_eq!(members(z.iter(true)), ["c", "b"]);
        assert_eq!(z.len(), 2);
    }

    #[test]
    fn negative_zero_keeps_sign_in_skiplist_and_sorts_with_zero() {
        let mut z = ZSet::new_skiplist();
        z.insert(b"b", -0.0);
        z.insert(b"a", 0.0);
        let v: Vec<_> = z.iter(false).map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(v[0].0, b"a");
        assert!(v[1].1.is_sign_negative());
    }

    #[test]
    fn score_ranges_honour_exclusive_ends() {
        let mut z = ZSet::new();
        for (i, m) in ["a", "b", "c", "d"].iter().enumerate() {
            z.insert(m.as_bytes(), i as f64);
        }
        let r = |min, minex, max, maxex| ScoreRange {
            min,
            max,
            minex,
            maxex,
        };
        assert_eq!(
            members(z.range_by_score(&r(1.0, false, 2.0, false), false)),
            ["b", "c"]
        );
        assert_eq!(
            members(z.range_by_score(&r(1.0, true, 3.0, true), false)),
            ["c"]
        );
        assert_eq!(
            members(z.range_by_score(&r(f64::NEG_INFINITY, false, f64::INFINITY, false), true)),
            ["d", "c", "b", "a"]
        );
        assert!(members(z.range_by_score(&r(3.0, false, 1.0, false), false)).is_empty());
        assert!(members(z.range_by_score(&r(2.0, true, 2.0, false), false)).is_empty());
    }

    #[test]
    fn rank_ranges_from_either_end() {
        let mut z = ZSet::new();
        for i in 0..10 {
            z.insert(format!("m{i}").as_bytes(), i as f64);
        }
        assert_eq!(members(z.range_by_rank(1, 3, false)), ["m1", "m2", "m3"]);
        assert_eq!(members(z.range_by_rank(7, 9, false)), ["m7", "m8", "m9"]);
        assert_eq!(members(z.range_by_rank(0, 1, true)), ["m9", "m8"]);
        assert_eq!(members(z.range_by_rank(8, 9, true)), ["m1", "m0"]);
    }

    #[test]
    fn lex_ranges_and_encoding_conversion() {
        let mut z = ZSet::new();
        for m in ["a", "b", "c", "d"] {
            z.insert(m.as_bytes(), 0.0);
        }
        let r = LexRange {
            min: LexBound::Excl(b"a".to_vec()),
            max: LexBound::Incl(b"c".to_vec()),
        };
        assert_eq!(members(z.range_by_lex(&r, false)), ["b", "c"]);
        assert_eq!(members(z.range_by_lex(&r, true)), ["c", "b"]);
        assert_eq!(z.encoding(), "listpack");
        z.insert(&[b'x'; 65], 1.0);
        assert_eq!(z.encoding(), "skiplist");
        z.remove(&[b'x'; 65]);
        assert_eq!(z.encoding(), "skiplist");
        z.convert_to_listpack_if_fits();
        assert_eq!(z.encoding(), "listpack");
        for i in 0..125 {
            z.insert(format!("{i}").as_bytes(), 0.0);
        }
        assert_eq!(z.len(), 129);
        assert_eq!(z.encoding(), "skiplist");
    }
}
