//! The list value type and its shard-local representation.
//!
//! A quicklist in spirit: a ring buffer of packed nodes, each one byte buffer holding up to
//! `NODE_BYTES` of elements back to back. An element is stored as a record
//! `len (LEB128) | bytes`: 1 byte of overhead per element under 128 bytes (a listpack spends 2,
//! and one boxed element per slot cost a 16-byte pointer plus an allocation). Records only
//! chain forward, so a node popped from its tail keeps the start positions of its records
//! (`Starts`, built once by a forward walk, then kept up to date by pushes and pops); only the
//! list's back node ever has them. Each node keeps free space at both ends, so pushes and pops
//! at either end of the list are O(1) amortized; index lookups skip whole nodes by their
//! element counts, then walk one node.
//!
//! Invariants: no node is empty; `len` is the sum of the nodes' counts; a node holding more
//! than `NODE_BYTES` holds a single element (an element larger than a node, Redis's "plain"
//! quicklist node); a node's `starts`, when present, list exactly its records.

use std::collections::VecDeque;
use std::fmt;

/// Bytes of records a node takes before the next push starts a new node: Redis's
/// list-max-listpack-size -2 (8 KB listpacks), big enough that the per-node cost vanishes and
/// small enough that a middle insert or a node walk stays cheap.
const NODE_BYTES: usize = 8192;

/// First allocation of a node: most lists are small. A node then grows by half its size, which
/// keeps the free room of a list's end nodes under half of what they hold.
const NODE_MIN_CAP: usize = 16;

/// A Redis list. Redis 7.0 reports every list as "quicklist" (the listpack encoding for small
/// lists only arrived in 7.2), so we do too.
#[derive(Clone, Default)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
}

/// Which end of a list (Redis's LIST_HEAD / LIST_TAIL; LEFT / RIGHT in LMOVE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

/// One packed node: records live in `buf[head..tail]`; the bytes around them are free room
/// for pushes at that end.
#[derive(Clone)]
struct Node {
    buf: Box<[u8]>,
    head: usize,
    tail: usize,
    count: usize,
    /// Boxed: only the back node of a list popped from its tail has them.
    starts: Option<Box<Starts>>,
}

/// Start positions of a node's records, first to last. Position `i` is `pos[i] + base`, so
/// moving the records within (or to a new) buffer only moves `base`.
#[derive(Clone, Default)]
struct Starts {
    pos: VecDeque<isize>,
    base: isize,
}

// ---- record encoding -------------------------------------------------------------------------

fn varint_len(mut n: usize) -> usize {
    let mut k = 1;
    while n >= 0x80 {
        n >>= 7;
        k += 1;
    }
    k
}

/// Bytes a record of an element of `len` bytes takes.
fn record_len(len: usize) -> usize {
    len + varint_len(len)
}

/// Writes `item`'s record into `out`, which is exactly `record_len(item.len())` long.
fn write_record(out: &mut [u8], item: &[u8]) {
    let v = varint_len(item.len());
    let mut n = item.len();
    for b in &mut out[..v] {
        *b = (n & 0x7f) as u8 | if n >= 0x80 { 0x80 } else { 0 };
        n >>= 7;
    }
    out[v..].copy_from_slice(item);
}

/// The record starting at `p`: (element bytes start, element length, position after it).
#[inline]
fn read_fwd(buf: &[u8], p: usize) -> (usize, usize, usize) {
    // Elements under 128 bytes, the common case, have a one-byte length.
    let b = buf[p];
    if b < 0x80 {
        let n = usize::from(b);
        return (p + 1, n, p + 1 + n);
    }
    read_fwd_long(buf, p)
}

fn read_fwd_long(buf: &[u8], p: usize) -> (usize, usize, usize) {
    let (mut n, mut shift, mut i) = (0usize, 0u32, p);
    loop {
        let b = buf[i];
        i += 1;
        n |= usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    (i, n, i + n)
}

// ---- nodes -----------------------------------------------------------------------------------

impl Node {
    /// A node for a first record of `rec` bytes pushed at `end`; `full` when the list has
    /// outgrown a node already: then the node is allocated at its final size at once, rather
    /// than through a dozen growth steps whose freed buffers the allocator keeps around.
    fn with_room(end: End, rec: usize, full: bool) -> Node {
        let cap = if rec > NODE_BYTES {
            rec
        } else if full {
            NODE_BYTES
        } else {
            rec.max(NODE_MIN_CAP)
        };
        let at = match end {
            End::Head => cap,
            End::Tail => 0,
        };
        Node {
            buf: vec![0; cap].into_boxed_slice(),
            head: at,
            tail: at,
            count: 0,
            starts: None,
        }
    }

    /// A node holding exactly `records` (already encoded, `count` of them).
    fn from_records(records: Vec<u8>, count: usize) -> Node {
        let buf = records.into_boxed_slice();
        Node {
            tail: buf.len(),
            buf,
            head: 0,
            count,
            starts: None,
        }
    }

    fn used(&self) -> usize {
        self.tail - self.head
    }

    fn records(&self) -> &[u8] {
        &self.buf[self.head..self.tail]
    }

    /// Makes `rec` bytes of room at `end`, moving or growing the buffer. False when this
    /// full-sized node should rather be left alone and a new node started.
    fn make_room(&mut self, end: End, rec: usize) -> bool {
        let cap = self.buf.len();
        let room = match end {
            End::Head => self.head,
            End::Tail => cap - self.tail,
        };
        if room >= rec {
            return true;
        }
        let used = self.used();
        let free = cap - used;
        // Moving the records pays for itself when it frees at least a quarter of the buffer at
        // this end: each byte moved buys a third of a byte of pushes or more.
        if free >= rec && free >= cap / 4 {
            let to = match end {
                End::Head => cap - used,
                End::Tail => 0,
            };
            self.buf.copy_within(self.head..self.tail, to);
            self.moved_to(to);
            return true;
        }
        if cap >= NODE_BYTES {
            return false;
        }
        let new_cap = (cap + cap / 2)
            .max(used + rec)
            .clamp(NODE_MIN_CAP, NODE_BYTES);
        let mut buf = vec![0; new_cap].into_boxed_slice();
        let to = match end {
            End::Head => new_cap - used,
            End::Tail => 0,
        };
        buf[to..to + used].copy_from_slice(self.records());
        self.buf = buf;
        self.moved_to(to);
        true
    }

    /// Records now start at `to`.
    fn moved_to(&mut self, to: usize) {
        if let Some(st) = self.starts.as_mut() {
            st.base += to as isize - self.head as isize;
        }
        self.tail = to + self.used();
        self.head = to;
    }

    /// The start positions of the records, built by one walk when missing.
    fn starts(&mut self) -> &mut Starts {
        let (buf, head, tail) = (&self.buf, self.head, self.tail);
        self.starts.get_or_insert_with(|| {
            let mut pos = VecDeque::with_capacity(self.count);
            let mut p = head;
            while p < tail {
                pos.push_back(p as isize);
                p = read_fwd(buf, p).2;
            }
            Box::new(Starts { pos, base: 0 })
        })
    }

    /// Writes `item` (whose record is `rec` bytes) at `end`; the room must be there.
    fn put(&mut self, end: End, item: &[u8], rec: usize) {
        let at = match end {
            End::Head => self.head - rec,
            End::Tail => self.tail,
        };
        write_record(&mut self.buf[at..at + rec], item);
        if let Some(st) = self.starts.as_mut() {
            let p = at as isize - st.base;
            match end {
                End::Head => st.pos.push_front(p),
                End::Tail => st.pos.push_back(p),
            }
        }
        match end {
            End::Head => self.head = at,
            End::Tail => self.tail += rec,
        }
        self.count += 1;
    }

    /// Removes and returns the element at `end`; the node must not be empty.
    fn take(&mut self, end: End) -> Box<[u8]> {
        self.count -= 1;
        match end {
            End::Head => {
                let (s, n, next) = read_fwd(&self.buf, self.head);
                if let Some(st) = self.starts.as_mut() {
                    st.pos.pop_front();
                }
                self.head = next;
                self.buf[s..s + n].into()
            }
            End::Tail => {
                // The last element of a node starts at its head: no need to learn the starts
                // of a node about to go.
                let start = if self.count == 0 {
                    self.head
                } else {
                    let st = self.starts();
                    st.pos.pop_back().map_or(0, |p| (p + st.base) as usize)
                };
                let (s, n, _) = read_fwd(&self.buf, start);
                self.tail = start;
                self.buf[s..s + n].into()
            }
        }
    }

    /// Byte position of record `k` (`k <= count`; `count` gives the end).
    fn offset_of(&self, k: usize) -> usize {
        if k >= self.count {
            return self.tail;
        }
        if let Some(st) = &self.starts {
            if let Some(p) = st.pos.get(k) {
                return (p + st.base) as usize;
            }
        }
        let mut p = self.head;
        for _ in 0..k {
            p = read_fwd(&self.buf, p).2;
        }
        p
    }

    /// The element whose record starts at `p`, and the position after it.
    fn element_at(&self, p: usize) -> (&[u8], usize) {
        let (s, n, next) = read_fwd(&self.buf, p);
        (&self.buf[s..s + n], next)
    }

    /// Replaces the records in `buf[a..b]` (`removed` of them) with `item`'s record, if any,
    /// leaving an exactly-sized buffer.
    fn splice(&mut self, a: usize, b: usize, removed: usize, item: Option<&[u8]>) {
        let rec = item.map_or(0, |i| record_len(i.len()));
        let mut out = Vec::with_capacity(self.used() - (b - a) + rec);
        out.extend_from_slice(&self.buf[self.head..a]);
        if let Some(i) = item {
            let at = out.len();
            out.resize(at + rec, 0);
            write_record(&mut out[at..], i);
        }
        out.extend_from_slice(&self.buf[b..self.tail]);
        let count = self.count - removed + usize::from(item.is_some());
        *self = Node::from_records(out, count);
    }

    /// Splits an oversized node near its middle byte into two exactly-sized nodes; the node
    /// must hold at least two elements.
    fn split(&self) -> (Node, Node) {
        let half = self.head + self.used() / 2;
        let (mut p, mut k) = (read_fwd(&self.buf, self.head).2, 1);
        while k + 1 < self.count && p < half {
            p = read_fwd(&self.buf, p).2;
            k += 1;
        }
        (
            Node::from_records(self.buf[self.head..p].to_vec(), k),
            Node::from_records(self.buf[p..self.tail].to_vec(), self.count - k),
        )
    }

    /// Drops `n` (< count) elements from `end`.
    fn drop_elements(&mut self, end: End, n: usize) {
        self.starts = None;
        match end {
            End::Head => self.head = self.offset_of(n),
            End::Tail => self.tail = self.offset_of(self.count - n),
        }
        self.count -= n;
    }
}

// ---- the list --------------------------------------------------------------------------------

impl List {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Bytes the list holds: its node buffers, the node ring and the header.
    pub fn mem_usage(&self) -> usize {
        let buffers: usize = self.nodes.iter().map(|n| n.buf.len()).sum();
        let starts = self.nodes.back().and_then(|n| n.starts.as_ref());
        let buffers = buffers + starts.map_or(0, |st| st.pos.capacity() * 8 + 48);
        buffers + self.nodes.capacity() * std::mem::size_of::<Node>() + 48
    }

    pub fn push(&mut self, end: End, item: &[u8]) {
        let rec = record_len(item.len());
        let node = match end {
            End::Head => self.nodes.front_mut(),
            End::Tail => self.nodes.back_mut(),
        };
        let room = node.and_then(|n| {
            let fits = n.used() + rec <= NODE_BYTES && n.make_room(end, rec);
            fits.then_some(n)
        });
        match room {
            Some(n) => n.put(end, item, rec),
            None => {
                let mut n = Node::with_room(end, rec, !self.nodes.is_empty());
                n.put(end, item, rec);
                // Most lists are one node: no room for nodes they will never have.
                if self.nodes.capacity() == 0 {
                    self.nodes.reserve_exact(1);
                }
                match end {
                    End::Head => self.nodes.push_front(n),
                    End::Tail => {
                        // Only the back node is popped from its tail.
                        if let Some(old) = self.nodes.back_mut() {
                            old.starts = None;
                        }
                        self.nodes.push_back(n)
                    }
                }
            }
        }
        self.len += 1;
    }

    pub fn pop(&mut self, end: End) -> Option<Box<[u8]>> {
        let node = match end {
            End::Head => self.nodes.front_mut()?,
            End::Tail => self.nodes.back_mut()?,
        };
        let item = node.take(end);
        if node.count == 0 {
            match end {
                End::Head => self.nodes.pop_front(),
                End::Tail => self.nodes.pop_back(),
            };
        }
        self.len -= 1;
        Some(item)
    }

    /// Redis's index: negative counts from the tail (-1 is the last element).
    pub fn index(&self, index: i64) -> Option<usize> {
        let len = self.len as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// (node, element within the node) of element `i`, skipping nodes from the nearer end.
    fn locate(&self, i: usize) -> Option<(usize, usize)> {
        if i >= self.len {
            return None;
        }
        if i < self.len / 2 {
            let mut rest = i;
            for (n, node) in self.nodes.iter().enumerate() {
                if rest < node.count {
                    return Some((n, rest));
                }
                rest -= node.count;
            }
        } else {
            let mut rest = self.len - 1 - i;
            for (n, node) in self.nodes.iter().enumerate().rev() {
                if rest < node.count {
                    return Some((n, node.count - 1 - rest));
                }
                rest -= node.count;
            }
        }
        None
    }

    pub fn get(&self, index: i64) -> Option<&[u8]> {
        let (n, k) = self.locate(self.index(index)?)?;
        let node = &self.nodes[n];
        Some(node.element_at(node.offset_of(k)).0)
    }

    /// Replaces the element at `index`; false when out of range.
    pub fn set(&mut self, index: i64, item: &[u8]) -> bool {
        let Some((n, k)) = self.index(index).and_then(|i| self.locate(i)) else {
            return false;
        };
        let node = &mut self.nodes[n];
        let a = node.offset_of(k);
        let b = read_fwd(&node.buf, a).2;
        node.splice(a, b, 1, Some(item));
        self.split_if_oversized(n);
        true
    }

    /// Inserts `item` so that it becomes element `at` (`at <= len`).
    fn insert_at(&mut self, at: usize, item: &[u8]) {
        if at == 0 {
            return self.push(End::Head, item);
        }
        if at >= self.len {
            return self.push(End::Tail, item);
        }
        let Some((n, k)) = self.locate(at) else {
            return;
        };
        let node = &mut self.nodes[n];
        let a = node.offset_of(k);
        node.splice(a, a, 0, Some(item));
        self.len += 1;
        self.split_if_oversized(n);
    }

    fn split_if_oversized(&mut self, n: usize) {
        let node = &self.nodes[n];
        if node.used() > NODE_BYTES && node.count > 1 {
            let (left, right) = node.split();
            self.nodes[n] = left;
            self.nodes.insert(n + 1, right);
            // A half may still be oversized when a big element sits among small ones.
            self.split_if_oversized(n + 1);
            self.split_if_oversized(n);
        }
    }

    /// Merges node `n` with its neighbours while the result fits in a node.
    fn merge_around(&mut self, n: usize) {
        let mut n = n;
        if n > 0 && self.try_merge(n - 1) {
            n -= 1;
        }
        self.try_merge(n);
    }

    /// Merges nodes `n` and `n + 1` when together they fit in a node.
    fn try_merge(&mut self, n: usize) -> bool {
        let (Some(a), Some(b)) = (self.nodes.get(n), self.nodes.get(n + 1)) else {
            return false;
        };
        if a.used() + b.used() > NODE_BYTES {
            return false;
        }
        let mut records = Vec::with_capacity(a.used() + b.used());
        records.extend_from_slice(a.records());
        records.extend_from_slice(b.records());
        let count = a.count + b.count;
        self.nodes[n] = Node::from_records(records, count);
        self.nodes.remove(n + 1);
        true
    }

    /// The inclusive range [start, end] of LRANGE/LTRIM after Redis's index conversion, as
    /// (first, count); count 0 when empty.
    pub fn range(&self, start: i64, end: i64) -> (usize, usize) {
        let len = self.len as i64;
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

    /// Every element, head to tail (reversible).
    pub fn iter(&self) -> Iter<'_> {
        self.iter_range(0, self.len)
    }

    /// `count` elements from element `first` on, as `range` gives them (reversible).
    pub fn iter_range(&self, first: usize, count: usize) -> Iter<'_> {
        let count = count.min(self.len.saturating_sub(first));
        let front = match count {
            0 => (0, 0),
            _ => self.position(first, false),
        };
        Iter {
            list: self,
            front,
            back: None,
            end: first + count,
            back_starts: Vec::new(),
            remaining: count,
        }
    }

    /// (node, byte position) of the start of element `i`, or of its end when `past`.
    fn position(&self, i: usize, past: bool) -> (usize, usize) {
        self.locate(i).map_or((0, 0), |(n, k)| {
            (n, self.nodes[n].offset_of(k + usize::from(past)))
        })
    }

    /// Drops `n` elements from `end`, whole nodes first.
    fn drain(&mut self, end: End, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let node = match end {
                End::Head => self.nodes.front_mut(),
                End::Tail => self.nodes.back_mut(),
            };
            let Some(node) = node else {
                break;
            };
            if node.count > n {
                node.drop_elements(end, n);
                break;
            }
            n -= node.count;
            match end {
                End::Head => self.nodes.pop_front(),
                End::Tail => self.nodes.pop_back(),
            };
        }
    }

    /// Keeps only the inclusive range [start, end] (LTRIM); returns how many were removed.
    pub fn trim(&mut self, start: i64, end: i64) -> usize {
        let before = self.len;
        let (first, count) = self.range(start, end);
        if count == 0 {
            self.nodes.clear();
            self.len = 0;
        } else {
            self.drain(End::Tail, before - first - count);
            self.drain(End::Head, first);
            // The cut end nodes may now be small enough to share one.
            if let Some(last) = self.nodes.len().checked_sub(1) {
                self.merge_around(last);
            }
            self.merge_around(0);
        }
        before - self.len
    }

    /// Keeps the elements for which `keep(index, element)` holds, rebuilding only the nodes
    /// that lose some, then merges small neighbours. Returns how many were removed.
    fn retain_indexed(&mut self, mut keep: impl FnMut(usize, &[u8]) -> bool) -> usize {
        let mut index = 0;
        let mut removed = 0;
        let mut touched = false;
        for node in self.nodes.iter_mut() {
            let mut out: Option<Vec<u8>> = None;
            let mut kept = 0;
            let mut p = node.head;
            while p < node.tail {
                let (s, n, next) = read_fwd(&node.buf, p);
                if keep(index, &node.buf[s..s + n]) {
                    kept += 1;
                    if let Some(o) = out.as_mut() {
                        o.extend_from_slice(&node.buf[p..next]);
                    }
                } else if out.is_none() {
                    let mut o = Vec::with_capacity(node.used());
                    o.extend_from_slice(&node.buf[node.head..p]);
                    out = Some(o);
                }
                index += 1;
                p = next;
            }
            if let Some(o) = out {
                removed += node.count - kept;
                *node = Node::from_records(o, kept);
                touched = true;
            }
        }
        if touched {
            self.nodes.retain(|n| n.count > 0);
            let mut n = 0;
            while n + 1 < self.nodes.len() {
                if !self.try_merge(n) {
                    n += 1;
                }
            }
        }
        self.len -= removed;
        removed
    }

    /// Removes up to `count` elements equal to `item` (all when 0), scanning from the tail when
    /// `count` is negative (LREM). Returns how many were removed.
    pub fn remove(&mut self, count: i64, item: &[u8]) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs().min(usize::MAX as u64) as usize
        };
        if count >= 0 {
            let mut removed = 0;
            self.retain_indexed(|_, e| {
                let hit = removed < limit && e == item;
                removed += usize::from(hit);
                !hit
            })
        } else {
            // Find the victims from the tail, then drop them in one pass.
            let mut victims: Vec<usize> = Vec::new();
            for (i, e) in self.iter().enumerate().rev() {
                if victims.len() == limit {
                    break;
                }
                if e == item {
                    victims.push(i);
                }
            }
            if victims.is_empty() {
                return 0;
            }
            self.retain_indexed(|i, _| {
                let keep = victims.last() != Some(&i);
                if !keep {
                    victims.pop();
                }
                keep
            })
        }
    }

    /// Inserts `item` before (`Head`) or after (`Tail`) the first element equal to `pivot`.
    /// False when the pivot is absent.
    pub fn insert(&mut self, end: End, pivot: &[u8], item: &[u8]) -> bool {
        match self.iter().position(|e| e == pivot) {
            Some(i) => {
                let at = if end == End::Head { i } else { i + 1 };
                self.insert_at(at, item);
                true
            }
            None => false,
        }
    }
}

impl<T: AsRef<[u8]>> Extend<T> for List {
    /// Appends at the tail, in order.
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        for i in items {
            self.push(End::Tail, i.as_ref());
        }
    }
}

impl<T: AsRef<[u8]>> FromIterator<T> for List {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> List {
        let mut l = List::default();
        l.extend(items);
        l
    }
}

/// Lists are equal when they hold the same elements, however they are split into nodes.
impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

/// Elements of a list in order, borrowed from its nodes; walks from both ends.
pub struct Iter<'a> {
    list: &'a List,
    /// (node, position of the next record from the front).
    front: (usize, usize),
    /// (node, position just past the next record from the back); found on the first step
    /// from the back, so that a forward walk (an LRANGE reply) never looks for it.
    back: Option<(usize, usize)>,
    /// Index just past the last element of the range.
    end: usize,
    /// Starts of the records of node `back.0` still to be returned from the back.
    back_starts: Vec<usize>,
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let nodes = &self.list.nodes;
        let mut node = nodes.get(self.front.0)?;
        while self.front.1 >= node.tail {
            self.front.0 += 1;
            node = nodes.get(self.front.0)?;
            self.front.1 = node.head;
        }
        let (s, n, next) = read_fwd(&node.buf, self.front.1);
        self.front.1 = next;
        self.remaining -= 1;
        Some(&node.buf[s..s + n])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let nodes = &self.list.nodes;
        let back = match self.back.as_mut() {
            Some(b) => b,
            None => self
                .back
                .insert(self.list.position(self.end.checked_sub(1)?, true)),
        };
        let (node, p) = loop {
            let node = nodes.get(back.0)?;
            if let Some(p) = self.back_starts.pop() {
                break (node, p);
            }
            if back.1 <= node.head {
                back.0 = back.0.checked_sub(1)?;
                back.1 = nodes.get(back.0)?.tail;
                continue;
            }
            // Records only chain forward: one walk collects the starts below `back`.
            let mut p = node.head;
            while p < back.1 {
                self.back_starts.push(p);
                p = read_fwd(&node.buf, p).2;
            }
            back.1 = node.head;
        };
        let (s, n, _) = read_fwd(&node.buf, p);
        self.remaining -= 1;
        Some(&node.buf[s..s + n])
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> List {
        items.iter().map(|i| i.as_bytes()).collect()
    }

    fn strings(l: &List) -> Vec<String> {
        l.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    /// The representation's invariants, checked after every step of the model tests.
    fn check_invariants(l: &List) {
        assert_eq!(l.nodes.iter().map(|n| n.count).sum::<usize>(), l.len);
        for n in &l.nodes {
            assert!(n.count > 0, "empty node");
            assert!(n.head <= n.tail && n.tail <= n.buf.len());
            assert!(n.used() <= NODE_BYTES || n.count == 1, "oversized node");
            let mut p = n.head;
            let mut k = 0;
            while p < n.tail {
                p = read_fwd(&n.buf, p).2;
                k += 1;
            }
            assert_eq!((p, k), (n.tail, n.count), "records do not tile the node");
            if let Some(st) = &n.starts {
                let got: Vec<usize> = st.pos.iter().map(|p| (p + st.base) as usize).collect();
                let mut want = Vec::new();
                let mut p = n.head;
                while p < n.tail {
                    want.push(p);
                    p = read_fwd(&n.buf, p).2;
                }
                assert_eq!(got, want, "stale record starts");
            }
        }
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
        check_invariants(&l);
    }

    #[test]
    fn records_round_trip_every_length_class() {
        for len in [0, 1, 127, 128, 16383, 16384, 70000] {
            let item: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut buf = vec![0; record_len(len)];
            write_record(&mut buf, &item);
            let (s, n, next) = read_fwd(&buf, 0);
            assert_eq!((&buf[s..s + n], next), (&item[..], buf.len()));
        }
        assert_eq!(record_len(13), 14);
    }

    #[test]
    fn small_elements_pack_into_full_nodes() {
        let mut l = List::default();
        for i in 0..100_000 {
            l.push(End::Tail, format!("element:{i}").as_bytes());
        }
        check_invariants(&l);
        // "element:N" records are 11-16 bytes: all nodes but the last are full to a record.
        let full = l.nodes.len() - 1;
        assert!(l
            .nodes
            .iter()
            .take(full)
            .all(|n| n.used() > NODE_BYTES - 16));
        let per_element = l.mem_usage() as f64 / 100_000.0;
        assert!(per_element < 16.5, "{per_element} bytes per element");
        assert_eq!(l.get(54_321), Some(&b"element:54321"[..]));
        assert_eq!(l.get(-1), Some(&b"element:99999"[..]));
    }

    #[test]
    fn small_lists_stay_small() {
        let l = list(&["hello"]);
        assert_eq!(l.mem_usage(), 16 + std::mem::size_of::<Node>() + 48);
        let l: List = (0..100).map(|i| format!("item:{i:05}")).collect();
        check_invariants(&l);
        // 100 records of 12 bytes: the node's free room stays under half of what it holds.
        assert!(
            l.nodes[0].buf.len() < 1200 * 3 / 2,
            "{}",
            l.nodes[0].buf.len()
        );
    }

    #[test]
    fn head_pushes_fill_nodes_too() {
        let mut l = List::default();
        for i in 0..20_000 {
            l.push(End::Head, format!("{i:08}").as_bytes());
        }
        check_invariants(&l);
        assert!(l.nodes.iter().skip(1).all(|n| n.used() > NODE_BYTES - 10));
        assert_eq!(l.get(0), Some(&b"00019999"[..]));
        assert_eq!(l.get(-1), Some(&b"00000000"[..]));
        let back: Vec<&[u8]> = l.iter().rev().take(2).collect();
        assert_eq!(back, [&b"00000000"[..], b"00000001"]);
    }

    #[test]
    fn big_elements_take_a_node_of_their_own() {
        let big = vec![b'x'; 3 * NODE_BYTES];
        let mut l = list(&["a", "b"]);
        l.push(End::Tail, &big);
        l.push(End::Tail, b"c");
        l.push(End::Head, &big);
        check_invariants(&l);
        assert_eq!(l.nodes.len(), 4);
        assert_eq!(l.get(3), Some(&big[..]));
        // Inserting in front of a big element splits its node rather than growing it.
        assert!(l.insert(End::Tail, b"b", b"before-big"));
        check_invariants(&l);
        assert_eq!(l.nodes.len(), 5);
        assert_eq!(l.get(3), Some(&b"before-big"[..]));
        assert!(l.set(1, &big));
        check_invariants(&l);
        assert_eq!(l.len(), 6);
        assert_eq!(l.get(1), Some(&big[..]));
        assert_eq!(l.get(2), Some(&b"b"[..]));
        assert_eq!(l.pop(End::Head).as_deref(), Some(&big[..]));
        assert_eq!(l.pop(End::Tail).as_deref(), Some(&b"c"[..]));
        check_invariants(&l);
    }

    #[test]
    fn emptied_nodes_go_and_small_neighbours_merge() {
        let mut l = List::default();
        for i in 0..5000 {
            l.push(End::Tail, if i % 2 == 0 { b"keep" } else { b"drop" });
        }
        let before = l.nodes.len();
        assert!(before > 2);
        assert_eq!(l.remove(0, b"drop"), 2500);
        check_invariants(&l);
        assert!(l.nodes.len() < before, "half-empty nodes were not merged");
        assert_eq!(l.remove(0, b"keep"), 2500);
        check_invariants(&l);
        assert!(l.nodes.is_empty());
        for _ in 0..3000 {
            l.push(End::Tail, b"0123456789");
        }
        // Trimming to a few elements in the middle leaves one small node.
        assert_eq!(l.trim(1000, 1009), 2990);
        check_invariants(&l);
        assert_eq!(l.nodes.len(), 1);
        assert_eq!(l.len(), 10);
    }

    #[test]
    fn queue_traffic_stays_in_a_bounded_number_of_nodes() {
        let mut l = List::default();
        for i in 0..200_000u32 {
            l.push(End::Head, &i.to_le_bytes());
            if i >= 100 {
                assert_eq!(
                    l.pop(End::Tail).as_deref(),
                    Some(&(i - 100).to_le_bytes()[..])
                );
            }
        }
        check_invariants(&l);
        assert_eq!(l.len(), 100);
        assert!(l.nodes.len() <= 2);
    }

    #[test]
    fn only_the_back_node_keeps_record_starts() {
        let mut l: List = (0..3000).map(|i| format!("{i:06}")).collect();
        assert_eq!(l.pop(End::Tail).as_deref(), Some(&b"002999"[..]));
        assert!(l.nodes.back().is_some_and(|n| n.starts.is_some()));
        // A stack on the back node: pushes and pops keep the starts, no walk per pop.
        for i in 0..2000 {
            l.push(End::Tail, format!("x{i}").as_bytes());
            l.push(End::Tail, b"y");
            assert_eq!(l.pop(End::Tail).as_deref(), Some(&b"y"[..]));
            check_invariants(&l);
        }
        assert!(l.nodes.iter().rev().skip(1).all(|n| n.starts.is_none()));
        assert!(l.nodes.back().is_some_and(|n| n.starts.is_some()));
        assert_eq!(l.get(2999), Some(&b"x0"[..]));
    }

    /// A small xorshift generator: the tests stay deterministic without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn index(&mut self, len: usize) -> i64 {
            let i = self.below(len + 4) as i64 - 2;
            if self.below(2) == 0 {
                i
            } else {
                -i - 1
            }
        }

        fn element(&mut self) -> Vec<u8> {
            let len = match self.below(20) {
                0 => NODE_BYTES + self.below(2 * NODE_BYTES),
                1..=2 => 100 + self.below(2000),
                _ => self.below(12),
            };
            let tag = b'a' + self.below(3) as u8;
            vec![tag; len]
        }
    }

    fn model_index(model: &VecDeque<Vec<u8>>, i: i64) -> Option<usize> {
        let len = model.len() as i64;
        let i = if i < 0 { len + i } else { i };
        (0..len).contains(&i).then_some(i as usize)
    }

    #[test]
    fn random_operations_match_a_vecdeque_model() {
        for seed in 1..=6u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut l = List::default();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..4000 {
                let end = if rng.below(2) == 0 {
                    End::Head
                } else {
                    End::Tail
                };
                match rng.below(12) {
                    0..=3 => {
                        for _ in 0..1 + rng.below(40) {
                            let e = rng.element();
                            l.push(end, &e);
                            match end {
                                End::Head => model.push_front(e),
                                End::Tail => model.push_back(e),
                            }
                        }
                    }
                    4..=5 => {
                        for _ in 0..1 + rng.below(30) {
                            let want = match end {
                                End::Head => model.pop_front(),
                                End::Tail => model.pop_back(),
                            };
                            assert_eq!(l.pop(end).map(Vec::from), want);
                        }
                    }
                    6 => {
                        let i = rng.index(model.len());
                        let e = rng.element();
                        let ok = model_index(&model, i).map(|at| model[at] = e.clone());
                        assert_eq!(l.set(i, &e), ok.is_some());
                    }
                    7 => {
                        let pivot = rng.element();
                        let e = rng.element();
                        let found = model.iter().position(|x| *x == pivot);
                        if let Some(p) = found {
                            model.insert(if end == End::Head { p } else { p + 1 }, e.clone());
                        }
                        assert_eq!(l.insert(end, &pivot, &e), found.is_some());
                    }
                    8 => {
                        let count = rng.below(7) as i64 - 3;
                        let e = rng.element();
                        let limit = if count == 0 {
                            usize::MAX
                        } else {
                            count.unsigned_abs() as usize
                        };
                        let mut hits: Vec<usize> =
                            (0..model.len()).filter(|&i| model[i] == e).collect();
                        if count < 0 {
                            hits.reverse();
                        }
                        hits.truncate(limit);
                        hits.sort_unstable();
                        for &i in hits.iter().rev() {
                            model.remove(i);
                        }
                        assert_eq!(l.remove(count, &e), hits.len());
                    }
                    9 => {
                        if rng.below(4) == 0 {
                            let (s, e) = (rng.index(model.len()), rng.index(model.len()));
                            let (first, n) = l.range(s, e);
                            let before = model.len();
                            model.truncate(first + n);
                            model.drain(..first.min(model.len()));
                            if n == 0 {
                                model.clear();
                            }
                            assert_eq!(l.trim(s, e), before - model.len());
                        }
                    }
                    10 => {
                        let i = rng.index(model.len());
                        let want = model_index(&model, i).map(|at| &model[at][..]);
                        assert_eq!(l.get(i), want);
                    }
                    _ => {
                        let (s, e) = (rng.index(model.len()), rng.index(model.len()));
                        let (first, n) = l.range(s, e);
                        let got: Vec<&[u8]> = l.iter_range(first, n).collect();
                        let want: Vec<&[u8]> =
                            model.iter().skip(first).take(n).map(|v| &v[..]).collect();
                        assert_eq!(got, want);
                        let back: Vec<&[u8]> = l.iter_range(first, n).rev().collect();
                        assert_eq!(back, want.into_iter().rev().collect::<Vec<_>>());
                    }
                }
                assert_eq!(l.len(), model.len(), "seed {seed} step {step}");
                check_invariants(&l);
            }
            assert!(l.iter().eq(model.iter().map(|v| &v[..])));
            assert!(l.iter().rev().eq(model.iter().rev().map(|v| &v[..])));
            let mut mixed = l.iter();
            let (a, b) = (mixed.next(), mixed.next_back());
            assert_eq!(a, model.front().map(|v| &v[..]));
            assert_eq!(
                b,
                if model.len() > 1 {
                    model.back().map(|v| &v[..])
                } else {
                    None
                }
            );
            assert_eq!(mixed.len(), model.len().saturating_sub(2));
        }
    }
}
