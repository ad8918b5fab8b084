//! A cheap cycle clock for per-command durations (INFO commandstats, SLOWLOG).
//!
//! On the machines we run on, `Instant::now()` costs about 95 ns (the VM's vDSO path) while
//! reading the TSC costs about 29 ns; with a command's own work at 100-200 ns, two `Instant`s per
//! command were measured at 45% of dispatch time (benches/dispatch.rs). Durations are taken as
//! differences of consecutive readings, so a pipeline of n commands reads the clock n+1 times.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

#[inline]
pub fn cycles() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: rdtsc has no preconditions; every x86_64 CPU has it.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        static START: LazyLock<Instant> = LazyLock::new(Instant::now);
        START.elapsed().as_nanos() as u64
    }
}

/// Cycles per microsecond, measured once against the monotonic clock.
static PER_US: LazyLock<f64> = LazyLock::new(|| {
    let (t0, c0) = (Instant::now(), cycles());
    std::thread::sleep(Duration::from_millis(10));
    let (t1, c1) = (Instant::now(), cycles());
    let us = t1.duration_since(t0).as_secs_f64() * 1e6;
    let per_us = (c1.wrapping_sub(c0)) as f64 / us;
    if per_us.is_finite() && per_us > 0.0 {
        per_us
    } else {
        1000.0
    }
});

/// Calibrates the clock (call once at startup, off the hot path).
pub fn calibrate() {
    LazyLock::force(&PER_US);
}

#[inline]
pub fn to_us(cycles: u64) -> u64 {
    (cycles as f64 / *PER_US) as u64
}
