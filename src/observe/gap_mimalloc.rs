//! The RSS gap over mimalloc (read with the feature `mimalloc`), from allocscope's exact counters,
//! mimalloc's statistics ([`crate::mimalloc_stats`]) and `/proc`.

use std::fmt;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::observe::mimalloc_stats::MimallocStats;

/// The process's RSS split by what mimalloc reports, in bytes. The terms add up to `rss`
/// exactly; `non_heap` is the remainder and may be negative: mimalloc's `committed` counts
/// memory never touched, and pages it purged by resetting them (`MADV_DONTNEED`, its default
/// on Linux) stay committed in its books though no longer resident — so after a purge
/// `free_and_cached` is an upper bound of what its caches hold in RAM (measured: RSS 32.4 →
/// 8.4 MiB after `mi_collect(true)`, committed unchanged at 26.5 MiB).
///
/// `rss = requested + size_class_rounding + free_and_cached + non_heap`, where the first three
/// make up `committed`. mimalloc's release builds (`MI_STAT=0`, the `mimalloc` crate's
/// default) keep only OS-level figures, so free space inside pages and whole free pages kept
/// for reuse form one term; a build with statistics (`MI_STAT>0`) also reports
/// `page_committed`, which splits it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct MimallocGap {
    /// Resident set size of the process (`/proc/self/statm`).
    pub rss: i64,
    /// Live bytes the program asked for (exact).
    pub requested: i64,
    /// Usable − requested bytes of the live blocks, estimated with jemalloc's size classes
    /// (mimalloc's bins are spaced alike up to a few KiB: four per doubling).
    pub size_class_rounding: i64,
    /// mimalloc's caches and free space (`committed − usable`): free blocks inside its pages
    /// (fragmentation, the free lists that are its block caches), freed pages it keeps
    /// committed for reuse until it purges them (`purge_delay`, or `mi_collect(true)`), and
    /// its metadata.
    pub free_and_cached: i64,
    /// Everything that is not mimalloc's committed memory: code, stacks, C libraries'
    /// malloc, other mappings (`rss − committed`).
    pub non_heap: i64,
    /// Memory mimalloc has committed (not a term: the sum of the four heap terms).
    pub committed: i64,
    /// Address space mimalloc has reserved, committed or not (not a term: mostly not
    /// resident).
    pub reserved: i64,
    /// Of `free_and_cached`, the free space inside pages given to a size class
    /// (`page_committed − usable`); the rest is whole free pages and metadata. `None` when
    /// mimalloc was built without statistics (`MI_STAT=0`, the default).
    pub free_in_pages: Option<i64>,
}

impl MimallocGap {
    /// The terms in order, with their names (`rss`, `committed`, `reserved` excluded).
    pub fn terms(&self) -> [(&'static str, i64); 4] {
        [
            ("requested", self.requested),
            ("size_class_rounding", self.size_class_rounding),
            ("free_and_cached", self.free_and_cached),
            ("non_heap", self.non_heap),
        ]
    }

    /// The sum of the terms; equals `rss` for any breakdown this crate computes.
    pub fn sum_of_terms(&self) -> i64 {
        self.terms().iter().map(|(_, v)| v).sum()
    }

    /// Splits `rss` given allocscope's live figures and one reading of mimalloc's statistics.
    pub fn from_parts(
        rss: u64,
        requested_live: u64,
        usable_live: u64,
        stats: &MimallocStats,
    ) -> MimallocGap {
        let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        MimallocGap {
            rss: i(rss),
            requested: i(requested_live),
            size_class_rounding: i(usable_live) - i(requested_live),
            free_and_cached: i(stats.committed) - i(usable_live),
            non_heap: i(rss) - i(stats.committed),
            committed: i(stats.committed),
            reserved: i(stats.reserved),
            free_in_pages: (stats.page_committed > 0)
                .then(|| i(stats.page_committed) - i(usable_live)),
        }
    }

    /// The gap now, given the live requested bytes and their usable size. `None` unless the
    /// installed inner allocator is mimalloc, the feature `mimalloc` is on, and its
    /// statistics and `/proc/self/statm` can be read.
    #[cfg(not(feature = "mimalloc"))]
    pub fn compute(_requested_live: u64, _usable_live: u64) -> Option<MimallocGap> {
        None
    }

    /// The gap now, given the live requested bytes and their usable size. `None` unless the
    /// installed inner allocator is mimalloc, the feature `mimalloc` is on, and its
    /// statistics and `/proc/self/statm` can be read.
    #[cfg(feature = "mimalloc")]
    pub fn compute(requested_live: u64, usable_live: u64) -> Option<MimallocGap> {
        if crate::hook::profiler::installed_allocator()
            != Some(crate::hook::profiler::AllocatorKind::Mimalloc)
        {
            return None;
        }
        let stats = crate::hook::guard::untracked(MimallocStats::read).ok()?;
        let rss = crate::observe::procfs::rss().ok()?;
        Some(MimallocGap::from_parts(
            rss,
            requested_live,
            usable_live,
            &stats,
        ))
    }

    /// The gap now, from a fresh [`crate::snapshot()`].
    pub fn now() -> Option<MimallocGap> {
        let s = crate::observe::snapshot::snapshot();
        let usable: u64 = s.size_classes.iter().map(|c| c.live_usable_bytes).sum();
        MimallocGap::compute(s.live_bytes, usable)
    }
}

impl fmt::Display for MimallocGap {
    /// The terms as a table (MiB, % of RSS) and a line on committed/reserved memory.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |v: i64| v as f64 / (1024.0 * 1024.0);
        let pct = |v: i64| {
            if self.rss > 0 {
                100.0 * v as f64 / self.rss as f64
            } else {
                0.0
            }
        };
        writeln!(f, "{:<22}{:>9}{:>11}", "term", "MiB", "% of RSS")?;
        writeln!(
            f,
            "{:<22}{:>9.1}{:>10.1}%",
            "rss",
            mib(self.rss),
            pct(self.rss)
        )?;
        for (name, v) in self.terms() {
            let name = if name == "size_class_rounding" {
                "size_class_rounding~"
            } else {
                name
            };
            writeln!(f, "{:<22}{:>9.1}{:>10.1}%", name, mib(v), pct(v))?;
        }
        if let Some(p) = self.free_in_pages {
            writeln!(
                f,
                "{:<22}{:>9.1}{:>10.1}%",
                "  of which in pages",
                mib(p),
                pct(p)
            )?;
        }
        write!(
            f,
            "mimalloc has {:.1} MiB committed and {:.1} MiB reserved. ~ size_class_rounding is \
             estimated with jemalloc's size classes (free_and_cached absorbs the difference).",
            mib(self.committed),
            mib(self.reserved)
        )?;
        if self.free_and_cached > self.rss / 5 && self.free_and_cached >= 1 << 20 {
            write!(
                f,
                " {:.0}% of RSS is mimalloc's free space and caches: `allocscope::purge()` \
                 (`mi_collect(true)`) returns whole free pages; free space inside pages that \
                 hold live objects stays.",
                pct(self.free_and_cached)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_add_up_to_rss() {
        let stats = MimallocStats {
            committed: 100 << 20,
            reserved: 1 << 30,
            ..MimallocStats::default()
        };
        let g = MimallocGap::from_parts(120 << 20, 40 << 20, 45 << 20, &stats);
        assert_eq!(g.sum_of_terms(), g.rss);
        assert_eq!(g.free_and_cached, 55 << 20);
        assert_eq!(g.non_heap, 20 << 20);
        assert_eq!(g.free_in_pages, None);
        assert_eq!(
            g.requested + g.size_class_rounding + g.free_and_cached,
            g.committed
        );
        let with_pages = MimallocStats {
            page_committed: 60 << 20,
            ..stats
        };
        let g = MimallocGap::from_parts(120 << 20, 40 << 20, 45 << 20, &with_pages);
        assert_eq!(g.free_in_pages, Some(15 << 20));
        assert_eq!(g.sum_of_terms(), g.rss);
    }
}
