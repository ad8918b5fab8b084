//! `client-output-buffer-limit`: the three client classes (normal, replica, pubsub), their
//! limits (process wide, so a check needs no config lock) and Redis's
//! checkClientOutputBufferLimits: the hard limit at once, the soft limit once it has been
//! passed for longer than its seconds. The connection loop applies it to every reply it holds
//! (normal, or pubsub when subscribed), the pub/sub mailbox to queued messages, and a
//! replica's feed to its pending stream (class [`Class::Replica`]).

use super::client::ClientHandle;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// A client class, in `client-output-buffer-limit`'s order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Class {
    Normal = 0,
    Replica = 1,
    Pubsub = 2,
}

/// [hard bytes, soft bytes, soft seconds] per class; 0 disables. Defaults as Redis's.
static LIMITS: [[AtomicU64; 3]; 3] = [
    [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
    [
        AtomicU64::new(256 << 20),
        AtomicU64::new(64 << 20),
        AtomicU64::new(60),
    ],
    [
        AtomicU64::new(32 << 20),
        AtomicU64::new(8 << 20),
        AtomicU64::new(60),
    ],
];

/// Applies `client-output-buffer-limit` (startup and CONFIG SET).
pub fn set_limits(limits: &[crate::config::value::ObufLimit; 3]) {
    for (class, l) in limits.iter().enumerate() {
        LIMITS[class][0].store(l.hard, Ordering::Relaxed);
        LIMITS[class][1].store(l.soft, Ordering::Relaxed);
        LIMITS[class][2].store(l.soft_seconds, Ordering::Relaxed);
    }
    crate::resp::writer::set_hard_limit(limits[Class::Normal as usize].hard);
}

/// Whether `class` has any limit (one relaxed load each: the common normal class has none).
#[inline]
pub fn limited(class: Class) -> bool {
    let l = &LIMITS[class as usize];
    l[0].load(Ordering::Relaxed) != 0 || l[1].load(Ordering::Relaxed) != 0
}

/// Redis's checkClientOutputBufferLimits for a client holding `used` bytes of output not yet
/// taken by the kernel. `soft_since` is the second the soft limit was first seen passed (0:
/// not passed); it resets once the output is back under the soft limit.
pub fn over_limit(class: Class, used: u64, now_secs: i64, soft_since: &Cell<i64>) -> bool {
    let l = &LIMITS[class as usize];
    let hard = l[0].load(Ordering::Relaxed);
    let soft = l[1].load(Ordering::Relaxed);
    let secs = l[2].load(Ordering::Relaxed) as i64;
    if hard != 0 && used >= hard {
        return true;
    }
    if soft != 0 && used >= soft {
        if soft_since.get() == 0 {
            soft_since.set(now_secs);
            return false;
        }
        return now_secs - soft_since.get() > secs;
    }
    soft_since.set(0);
    false
}

/// Closes `client` for passing its limits, with Redis's log line (freeClientAsync after
/// checkClientOutputBufferLimits).
#[cold]
pub fn close(client: &ClientHandle) {
    tracing::warn!(
        "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
        client.list_line(std::time::Instant::now())
    );
    client.kill();
}

/// Seconds now, the clock the soft limit counts in.
pub fn now_secs() -> i64 {
    crate::keyspace::now_ms() / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_at_once_soft_after_its_seconds() {
        let since = Cell::new(0);
        // Defaults: pubsub 32mb 8mb 60.
        assert!(over_limit(Class::Pubsub, 32 << 20, 100, &since));
        assert!(!over_limit(Class::Pubsub, 9 << 20, 100, &since));
        assert_eq!(since.get(), 100);
        assert!(!over_limit(Class::Pubsub, 9 << 20, 160, &since));
        assert!(over_limit(Class::Pubsub, 9 << 20, 161, &since));
        assert!(!over_limit(Class::Pubsub, 1 << 20, 162, &since));
        assert_eq!(since.get(), 0);
        // normal: no limits by default.
        assert!(!limited(Class::Normal));
        assert!(!over_limit(Class::Normal, u64::MAX, 1, &Cell::new(0)));
    }
}
