//! `purge()`: give freed memory back to the OS now, and measure what it gave.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// What [`purge`] did: RSS before and after (measured from `/proc/self/statm`), and what the
/// allocators report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct PurgeReport {
    /// Resident set size before the purge, bytes.
    pub rss_before: u64,
    /// Resident set size after the purge, bytes.
    pub rss_after: u64,
    /// jemalloc's dirty pages before, bytes (`None` unless jemalloc's `mallctl` is registered).
    pub dirty_before: Option<u64>,
    /// jemalloc's dirty pages after, bytes.
    pub dirty_after: Option<u64>,
    /// jemalloc's `resident` before, bytes.
    pub jemalloc_resident_before: Option<u64>,
    /// jemalloc's `resident` after, bytes.
    pub jemalloc_resident_after: Option<u64>,
    /// Bytes jemalloc reports as purged by this call (its cumulative `dirty_purged` and
    /// `muzzy_purged` page counters, before and after, times the page size). Pages can count
    /// twice (dirty → muzzy → purged) when `muzzy_decay_ms` is not 0.
    pub jemalloc_purged: Option<u64>,
    /// glibc's `malloc_trim(0)` result: `Some(true)` when it released memory (glibc only).
    pub malloc_trim_released: Option<bool>,
}

impl PurgeReport {
    /// RSS before − RSS after (negative when RSS grew meanwhile).
    pub fn rss_released(&self) -> i64 {
        self.rss_before as i64 - self.rss_after as i64
    }
}

impl std::fmt::Display for PurgeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |v: u64| v as f64 / (1024.0 * 1024.0);
        write!(
            f,
            "purge: RSS {:.1} MiB → {:.1} MiB ({:.1} MiB released)",
            mib(self.rss_before),
            mib(self.rss_after),
            self.rss_released() as f64 / (1024.0 * 1024.0)
        )?;
        if let (Some(b), Some(a)) = (self.dirty_before, self.dirty_after) {
            write!(f, "; jemalloc dirty {:.1} → {:.1} MiB", mib(b), mib(a))?;
        }
        if let Some(p) = self.jemalloc_purged {
            write!(f, ", {:.1} MiB purged", mib(p))?;
        }
        Ok(())
    }
}

/// Forces the allocators to return freed pages to the OS now, and reports RSS before and
/// after.
///
/// Over jemalloc (its `mallctl` registered, see [`crate::Profiler::with_jemalloc_stats`]),
/// every jemalloc arena purges its dirty and muzzy pages
/// (`arena.<all>.purge`; harmless when jemalloc is linked but unused). Over mimalloc (feature
/// `mimalloc`), `mi_collect(true)` returns its unused pages. On glibc,
/// `malloc_trim(0)` also returns the free memory of glibc's heaps (the system allocator's, or
/// C libraries' when jemalloc serves Rust). Live objects never move, so free space inside
/// pages that still hold live objects (the gap's `fragmentation`) stays.
///
/// Takes a few ms per GiB purged; call it from a quiet moment, not from a hot loop.
pub fn purge() -> PurgeReport {
    let rss_before = crate::observe::procfs::rss().unwrap_or(0);
    let mut report = PurgeReport {
        rss_before,
        ..PurgeReport::default()
    };
    if crate::observe::jemalloc_stats::mallctl().is_some() {
        use crate::observe::jemalloc_stats::{purge_all_arenas, JemallocStats};
        let before = JemallocStats::read().ok();
        let purged = purge_all_arenas().is_ok();
        let after = JemallocStats::read().ok();
        report.dirty_before = before.map(|s| s.dirty_bytes());
        report.dirty_after = after.map(|s| s.dirty_bytes());
        report.jemalloc_resident_before = before.map(|s| s.resident);
        report.jemalloc_resident_after = after.map(|s| s.resident);
        if let (true, Some(b), Some(a)) = (purged, before, after) {
            let pages = (a.dirty_purged_pages + a.muzzy_purged_pages)
                .saturating_sub(b.dirty_purged_pages + b.muzzy_purged_pages);
            report.jemalloc_purged = Some(pages.saturating_mul(a.page));
        }
    }
    #[cfg(feature = "mimalloc")]
    if crate::hook::profiler::installed_allocator()
        == Some(crate::hook::profiler::AllocatorKind::Mimalloc)
    {
        crate::observe::mimalloc_stats::collect();
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim has no preconditions; it only releases free glibc memory.
        report.malloc_trim_released = Some(unsafe { libc::malloc_trim(0) } == 1);
    }
    report.rss_after = crate::observe::procfs::rss().unwrap_or(0);
    report
}
