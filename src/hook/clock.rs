//! Clocks readable inside the hook, without allocation.
//!
//! [`now_ns`] is `clock_gettime(CLOCK_MONOTONIC)` through the vDSO (~20 ns). Lifetimes of
//! sampled blocks need a timestamp at every sampled allocation and free — in exact mode,
//! every one — so on x86-64 with an invariant TSC they use [`ticks`] (`rdtsc`, a few ns),
//! converted to nanoseconds with a ratio calibrated once against the monotonic clock
//! ([`calibrate`], ~200 µs, when the settings are first read). Elsewhere `ticks` is the
//! monotonic clock in nanoseconds.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// Nanoseconds per tick, 32.32 fixed point (1.0 until calibrated).
static NS_PER_TICK_FX: AtomicU64 = AtomicU64::new(1 << 32);
static USE_TSC: AtomicBool = AtomicBool::new(false);

/// Monotonic time in nanoseconds.
#[inline]
pub(crate) fn now_ns() -> u64 {
    read(libc::CLOCK_MONOTONIC)
}

/// Wall-clock time in milliseconds since the Unix epoch.
pub(crate) fn unix_ms() -> u64 {
    read(libc::CLOCK_REALTIME) / 1_000_000
}

/// A cheap timestamp for lifetimes; differences convert with [`ticks_to_ns`].
#[inline(always)]
pub(crate) fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    if USE_TSC.load(Relaxed) {
        // SAFETY: rdtsc has no preconditions; it is only used when the CPU reports an
        // invariant TSC (checked in `calibrate`).
        return unsafe { core::arch::x86_64::_rdtsc() };
    }
    now_ns()
}

/// Converts a difference of [`ticks`] to nanoseconds.
#[inline(always)]
pub(crate) fn ticks_to_ns(d: u64) -> u64 {
    ((u128::from(d) * u128::from(NS_PER_TICK_FX.load(Relaxed))) >> 32) as u64
}

/// Decides whether to use the TSC and measures its rate. Called once, before any sampled
/// allocation (from the first read of the settings).
pub(crate) fn calibrate() {
    #[cfg(target_arch = "x86_64")]
    {
        // cpuid is available on every x86-64 CPU; leaf 0x8000_0007 is only read when the
        // maximum extended leaf reports it.
        use core::arch::x86_64::__cpuid;
        let invariant =
            __cpuid(0x8000_0000).eax >= 0x8000_0007 && (__cpuid(0x8000_0007).edx >> 8) & 1 == 1;
        if !invariant {
            return;
        }
        // SAFETY: as in `ticks`.
        let tsc = || unsafe { core::arch::x86_64::_rdtsc() };
        // One (ticks, ns) point: the clock read bracketed by two TSC reads, keeping the
        // tightest of a few tries so a preemption in between does not skew the rate.
        let point = || {
            let mut best = (u64::MAX, 0, 0);
            for _ in 0..5 {
                let a = tsc();
                let n = now_ns();
                let b = tsc();
                let width = b.wrapping_sub(a);
                if width < best.0 {
                    best = (width, a + width / 2, n);
                }
            }
            (best.1, best.2)
        };
        let (t0, n0) = point();
        while now_ns().wrapping_sub(n0) < 200_000 {
            core::hint::spin_loop();
        }
        let (t1, n1) = point();
        let (dn, dt) = (n1.wrapping_sub(n0), t1.wrapping_sub(t0));
        if dn == 0 || dt == 0 || n0 == 0 || dn > 1_000_000_000 {
            return;
        }
        NS_PER_TICK_FX.store(((u128::from(dn) << 32) / u128::from(dt)) as u64, Relaxed);
        USE_TSC.store(true, Relaxed);
    }
}

#[inline]
fn read(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime does not allocate.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_measure_nanoseconds() {
        calibrate();
        let (t0, n0) = (ticks(), now_ns());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (t1, n1) = (ticks(), now_ns());
        let by_ticks = ticks_to_ns(t1 - t0) as f64;
        let by_clock = (n1 - n0) as f64;
        assert!(
            (by_ticks / by_clock - 1.0).abs() < 0.02,
            "{by_ticks} vs {by_clock}"
        );
    }
}
