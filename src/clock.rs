//! Clocks readable inside the hook: `clock_gettime` through the vDSO (~20 ns, no allocation).

/// Monotonic time in nanoseconds.
#[inline]
pub(crate) fn now_ns() -> u64 {
    read(libc::CLOCK_MONOTONIC)
}

/// Wall-clock time in milliseconds since the Unix epoch.
pub(crate) fn unix_ms() -> u64 {
    read(libc::CLOCK_REALTIME) / 1_000_000
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
