//! Keyspace notifications, the recording half (Redis's `notify.c`): commands and the keyspace
//! record events here, the dispatcher takes them after the command and publishes them through
//! pub/sub ([`crate::net::pubsub::publish_events`]).
//!
//! `notify-keyspace-events` is off by default, so recording must cost nothing then: every call
//! starts with one branch on [`FLAGS`], a process-wide copy of the configured classes that is 0
//! unless at least one of K/E and one event class are set. Events go to a buffer of the thread
//! that ran the command (one thread per shard), so a handler running on a scratch database
//! (multi-shard commands) or on another shard records them where its caller can take them.

use bytes::Bytes;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

pub use crate::config::value::{
    NOTIFY_EVICTED, NOTIFY_EXPIRED, NOTIFY_GENERIC, NOTIFY_HASH, NOTIFY_KEYEVENT, NOTIFY_KEYSPACE,
    NOTIFY_KEY_MISS, NOTIFY_LIST, NOTIFY_NEW, NOTIFY_SET, NOTIFY_STRING, NOTIFY_ZSET,
};

/// The configured classes, or 0 when nothing can be published.
static FLAGS: AtomicU32 = AtomicU32::new(0);

/// One event: `event` happened to `key` in database `db`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub db: u32,
    pub event: &'static str,
    pub key: Bytes,
}

thread_local! {
    static PENDING: RefCell<Vec<Event>> = const { RefCell::new(Vec::new()) };
    /// Keys a running command opened for writing, for client tracking: modified only if the
    /// command counts a change (see [`modified_opened`]).
    static OPENED: RefCell<Option<Vec<(u32, Bytes)>>> = const { RefCell::new(None) };
}

/// The pseudo-event of a key modification that client tracking must invalidate (Redis's
/// `signalModifiedKey` → `trackingInvalidateKey`). It travels with the keyspace events (so a
/// command run on another shard reports it to its coordinator) and is never published.
pub const TRACK: &str = "\0track";

/// Whether any client tracks keys (CLIENT TRACKING on somewhere): only then are
/// modifications recorded.
static TRACKING: AtomicBool = AtomicBool::new(false);

pub fn set_tracking(on: bool) {
    TRACKING.store(on, Ordering::Relaxed);
}

#[inline(always)]
pub fn tracking() -> bool {
    TRACKING.load(Ordering::Relaxed)
}

/// `key` of database `db` was modified (a write, an expiry, an eviction).
#[inline(always)]
pub fn modified(db: u32, key: &[u8]) {
    if tracking() {
        push(TRACK, db as usize, key);
    }
}

/// `key` was opened for writing: a modification now outside a command, else at its end if
/// it changed something.
#[inline(always)]
pub fn opened(db: u32, key: &[u8]) {
    if tracking() {
        opened_slow(db, key);
    }
}

#[cold]
fn opened_slow(db: u32, key: &[u8]) {
    let deferred = OPENED.with(|o| match &mut *o.borrow_mut() {
        Some(v) => {
            if !v.iter().any(|(d, k)| *d == db && k == key) {
                v.push((db, Bytes::copy_from_slice(key)));
            }
            true
        }
        None => false,
    });
    if !deferred {
        push(TRACK, db as usize, key);
    }
}

/// A command starts running on this thread (opened keys wait for [`command_end`]).
#[inline]
pub fn command_begin() {
    if tracking() {
        OPENED.with(|o| *o.borrow_mut() = Some(Vec::new()));
    }
}

/// The command ended; `changed`: it counted a change, so the keys it opened were modified.
#[inline]
pub fn command_end(changed: bool) {
    if tracking() || OPENED.with(|o| o.borrow().is_some()) {
        if let Some(v) = OPENED.with(|o| o.borrow_mut().take()) {
            if changed {
                for (db, k) in v {
                    push(TRACK, db as usize, &k);
                }
            }
        }
    }
}

/// How many events this thread holds (for [`discard_modified_since`]).
pub fn pending_len() -> usize {
    PENDING.with(|p| p.borrow().len())
}

/// Drops the modifications recorded on this thread since it held `mark` events (a
/// multi-shard write-back: the coordinator already reported them).
pub fn discard_modified_since(mark: usize) {
    if tracking() {
        PENDING.with(|p| {
            let mut p = p.borrow_mut();
            let mut i = 0;
            p.retain(|e| {
                i += 1;
                i <= mark || e.event != TRACK
            });
        });
    }
}

/// Applies `notify-keyspace-events` (startup and CONFIG SET).
pub fn set_flags(flags: u32) {
    let channels = flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT);
    let classes = flags & !(NOTIFY_KEYSPACE | NOTIFY_KEYEVENT);
    let effective = if channels == 0 || classes == 0 {
        0
    } else {
        flags
    };
    FLAGS.store(effective, Ordering::Relaxed);
}

/// The flags in effect (0 when notifications are off).
#[inline]
pub fn flags() -> u32 {
    FLAGS.load(Ordering::Relaxed)
}

/// Whether events of `class` are published.
#[inline(always)]
pub fn wants(class: u32) -> bool {
    FLAGS.load(Ordering::Relaxed) & class != 0
}

/// Records `event` on `key` of database `db` when `class` is configured.
#[inline(always)]
pub fn record(class: u32, event: &'static str, db: usize, key: &[u8]) {
    if wants(class) {
        push(event, db, key);
    }
}

#[cold]
fn push(event: &'static str, db: usize, key: &[u8]) {
    let e = Event {
        db: db as u32,
        event,
        key: Bytes::copy_from_slice(key),
    };
    PENDING.with(|p| p.borrow_mut().push(e));
}

/// Takes the events recorded on this thread so far (None when there are none).
#[inline]
pub fn take() -> Option<Vec<Event>> {
    if flags() == 0 && PENDING.with(|p| p.borrow().is_empty()) {
        return None;
    }
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if p.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut *p))
        }
    })
}

/// Adds events recorded on another thread (a command that ran on another shard) to this
/// thread's, so they are published with this command's.
pub fn absorb(events: Option<Vec<Event>>) {
    if let Some(mut ev) = events {
        PENDING.with(|p| p.borrow_mut().append(&mut ev));
    }
}

/// The channel and message of each publication an event makes: `__keyspace@<db>__:<key>` →
/// event, then `__keyevent@<db>__:<event>` → key, as configured by K and E.
pub fn publications(flags: u32, e: &Event) -> impl Iterator<Item = (Bytes, Bytes)> + '_ {
    let flags = if e.event == TRACK { 0 } else { flags };
    let space = (flags & NOTIFY_KEYSPACE != 0).then(|| {
        let mut ch = format!("__keyspace@{}__:", e.db).into_bytes();
        ch.extend_from_slice(&e.key);
        (Bytes::from(ch), Bytes::from_static(e.event.as_bytes()))
    });
    let event = (flags & NOTIFY_KEYEVENT != 0).then(|| {
        let ch = format!("__keyevent@{}__:{}", e.db, e.event);
        (Bytes::from(ch), e.key.clone())
    });
    space.into_iter().chain(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_and_messages_follow_k_and_e() {
        let e = Event {
            db: 3,
            event: "set",
            key: Bytes::from_static(b"foo"),
        };
        let all: Vec<_> = publications(NOTIFY_KEYSPACE | NOTIFY_KEYEVENT, &e).collect();
        assert_eq!(
            all,
            vec![
                (
                    Bytes::from_static(b"__keyspace@3__:foo"),
                    Bytes::from_static(b"set")
                ),
                (
                    Bytes::from_static(b"__keyevent@3__:set"),
                    Bytes::from_static(b"foo")
                ),
            ]
        );
        let only_e: Vec<_> = publications(NOTIFY_KEYEVENT, &e).collect();
        assert_eq!(only_e.len(), 1);
        assert_eq!(&only_e[0].0[..], b"__keyevent@3__:set");
    }
}
