//! What made up the peak: each site's live bytes copied at the process's highest live total.
//!
//! The hook reports every new peak. Copying all sites' live bytes each time would make growth
//! phases quadratic, so a copy happens only when the peak has grown by [`step`] (1 % of the
//! last copied peak, at least [`MIN_STEP`]) since the last copy, and only by a thread that
//! wins a try-flag (others skip, never spin). At the end ([`settle`], called when a profile
//! is written) the copy is refreshed if the process is at or above the last copied level.
//!
//! Precision: sites' `peak_bytes` describe a moment whose live total is at least
//! `peak − step(peak)` — within 1 % (or 16 KiB) of the true peak — plus the multi-thread slack
//! of the counters' peak ([`crate::PEAK_SLACK_PER_THREAD`] per thread).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};

use crate::hook::site_table;

/// Smallest growth of the peak that triggers a new copy.
pub(crate) const MIN_STEP: u64 = 16 * 1024;

/// Live total when sites' peak bytes were last copied.
static LAST_COPY: AtomicU64 = AtomicU64::new(0);
static COPYING: AtomicBool = AtomicBool::new(false);

#[inline(always)]
fn step(last: u64) -> u64 {
    (last / 100).max(MIN_STEP)
}

#[inline(always)]
pub(crate) fn on_new_peak(live: u64) {
    let last = LAST_COPY.load(Relaxed);
    if live < last.saturating_add(step(last)) {
        return;
    }
    copy_slow(live, false);
}

#[cold]
#[inline(never)]
fn copy_slow(live: u64, force: bool) {
    if COPYING.swap(true, Acquire) {
        return;
    }
    let last = LAST_COPY.load(Relaxed);
    if force || live >= last.saturating_add(step(last)) {
        for n in 0..site_table::count() {
            if let Some(s) = site_table::site(n) {
                s.peak_bytes.store(s.live_bytes(), Relaxed);
            }
        }
        LAST_COPY.store(live, Relaxed);
    }
    COPYING.store(false, Release);
}

/// Called when a profile is written with the current and peak live totals: if now is at
/// least as high as the last copy, it represents the peak at least as well; copy again.
#[cfg_attr(not(feature = "serde"), allow(dead_code))] // used by the profile writer
pub(crate) fn settle(live_now: u64) {
    if live_now >= LAST_COPY.load(Relaxed) {
        copy_slow(live_now, true);
    }
}

/// In the child after `fork`: a copy in progress in another thread will never finish there.
pub(crate) fn after_fork() {
    COPYING.store(false, Release);
}
