//! Key intent locks taken by multi-shard transactions (DESIGN.md §4).
//!
//! A multi-shard transaction locks its keys on every involved shard, in shard order (so two
//! transactions can never wait for each other in a cycle), executes, and unlocks. While a key is
//! locked, single-shard commands touching it wait; commands on other keys keep running inline.
//! With one shard, or when no multi-shard transaction is in flight, the table is empty and the
//! only cost is an `is_empty` check.

use hashbrown::HashSet;
use std::cell::RefCell;
use std::future::poll_fn;
use std::task::{Poll, Waker};

pub type LockKey = (u32, Box<[u8]>);

#[derive(Default)]
pub struct Locks {
    held: RefCell<HashSet<LockKey>>,
    waiters: RefCell<Vec<Waker>>,
}

impl Locks {
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.held.borrow().is_empty()
    }

    pub fn any_locked<'a>(&self, mut keys: impl Iterator<Item = (u32, &'a [u8])>) -> bool {
        let held = self.held.borrow();
        !held.is_empty() && keys.any(|(db, k)| held.contains(&(db, Box::<[u8]>::from(k))))
    }

    fn try_lock(&self, keys: &[LockKey]) -> bool {
        let mut held = self.held.borrow_mut();
        if keys.iter().any(|k| held.contains(k)) {
            return false;
        }
        for k in keys {
            held.insert(k.clone());
        }
        true
    }

    /// Waits until none of `keys` is locked, then locks them all.
    pub async fn lock(&self, keys: &[LockKey]) {
        poll_fn(|cx| {
            if self.try_lock(keys) {
                Poll::Ready(())
            } else {
                self.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    pub fn unlock(&self, keys: &[LockKey]) {
        {
            let mut held = self.held.borrow_mut();
            for k in keys {
                held.remove(k);
            }
        }
        // Wake after releasing the borrow: a woken task re-registers in `waiters`.
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }

    /// Waits until none of `keys` is locked (single-shard commands).
    pub async fn wait_unlocked(&self, keys: &[LockKey]) {
        poll_fn(|cx| {
            let held = self.held.borrow();
            if keys.iter().any(|k| held.contains(k)) {
                self.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await
    }
}
