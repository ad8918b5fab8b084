//! The allocator count (Redis's zmalloc `used_memory`): a [`GlobalAlloc`] wrapper that counts
//! the bytes allocated by each thread, so INFO and the `maxmemory` check see what the process
//! holds rather than an estimate.
//!
//! The hot path costs one non-atomic add per allocation or free: each thread owns one slot of
//! a process-wide registry and only that thread writes it (a relaxed load and store, no
//! locked instruction). A block freed on another thread than the one that allocated it makes
//! the freeing thread's slot go down (possibly negative); the sum over all slots stays exact.
//! Threads beyond the registry's size share one overflow slot updated with atomic adds.
//!
//! The binary installs it: `#[global_allocator] static A: Counting<MiMalloc> = Counting(MiMalloc);`.
//! Without it (library tests, other binaries) [`installed`] is false and [`used_memory`] is 0.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};

const SLOTS: usize = 512;

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicIsize = AtomicIsize::new(0);
static COUNTS: [AtomicIsize; SLOTS] = [ZERO; SLOTS];
/// Slots handed out so far (may exceed [`SLOTS`]; the excess threads use [`OVERFLOW`]).
static CLAIMED: AtomicUsize = AtomicUsize::new(0);
static OVERFLOW: AtomicIsize = AtomicIsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);
static PEAK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const-initialised and without Drop, so reading it never allocates (which would recurse
    // into the allocator) and works during thread teardown.
    static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Counts every allocation made through the wrapped allocator `A`.
pub struct Counting<A>(pub A);

#[inline(always)]
fn add(delta: isize) {
    let slot = SLOT.try_with(|s| {
        let mut i = s.get();
        if i == usize::MAX {
            i = CLAIMED.fetch_add(1, Ordering::Relaxed);
            if i == 0 {
                INSTALLED.store(true, Ordering::Relaxed);
            }
            s.set(i);
        }
        i
    });
    match slot {
        Ok(i) if i < SLOTS => {
            // Only this thread writes slot i: a plain add, no lock prefix.
            let c = &COUNTS[i];
            c.store(
                c.load(Ordering::Relaxed).wrapping_add(delta),
                Ordering::Relaxed,
            );
        }
        _ => {
            OVERFLOW.fetch_add(delta, Ordering::Relaxed);
        }
    }
}

unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds GlobalAlloc's contract.
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { self.0.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Whether the counting allocator is the process's global allocator.
pub fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// Bytes currently allocated by the whole process (0 without the counting allocator).
pub fn used_memory() -> usize {
    let n = CLAIMED.load(Ordering::Relaxed).min(SLOTS);
    let mut sum = OVERFLOW.load(Ordering::Relaxed);
    for c in &COUNTS[..n] {
        sum = sum.wrapping_add(c.load(Ordering::Relaxed));
    }
    let used = sum.max(0) as usize;
    PEAK.fetch_max(used, Ordering::Relaxed);
    used
}

static STARTUP: AtomicUsize = AtomicUsize::new(0);

/// Records the memory in use once the server is set up (INFO `used_memory_startup`).
pub fn mark_startup() {
    STARTUP.store(used_memory(), Ordering::Relaxed);
}

/// What [`mark_startup`] recorded.
pub fn startup_memory() -> usize {
    STARTUP.load(Ordering::Relaxed)
}

/// The highest [`used_memory`] seen so far (sampled whenever it is read).
pub fn peak_memory() -> usize {
    PEAK.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_allocations_and_cross_thread_frees() {
        let a = Counting(std::alloc::System);
        let before = used_memory();
        let layout = Layout::from_size_align(4096, 8).unwrap();
        // SAFETY: a valid non-zero layout; the block is freed with the same layout.
        let p = unsafe { a.alloc(layout) };
        assert!(!p.is_null());
        assert!(installed());
        assert_eq!(used_memory() - before, 4096);
        let p = p as usize;
        // Freed on another thread: that thread's slot goes negative, the sum stays right.
        std::thread::spawn(move || unsafe { a.dealloc(p as *mut u8, layout) })
            .join()
            .unwrap();
        assert_eq!(used_memory(), before);
        assert!(peak_memory() >= before + 4096);
    }
}
