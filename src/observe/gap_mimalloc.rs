//! The RSS gap over mimalloc (read with the feature `mimalloc`), from allocscope's exact counters,
//! mimalloc's statistics ([`crate::mimalloc_stats`]) and `/proc`.

use std::fmt;

use crate::model::gap::Observer;
use crate::observe::mimalloc_stats::MimallocStats;

pub use crate::model::gap_mimalloc::MimallocGap;

impl MimallocGap {
    /// The terms in table order ([`GapTerm::MIMALLOC`](crate::GapTerm::MIMALLOC)), with their
    /// names (`rss`, `committed`, `reserved` excluded), as
    /// stored: every value counts positively towards `rss` except `untouched`, which is
    /// subtracted (see [`MimallocGap::sum_of_terms`]).
    pub fn terms(&self) -> [(&'static str, i64); 6] {
        crate::model::gap_term::GapTerm::MIMALLOC.map(|t| (t.key(), t.value_mimalloc(self)))
    }

    /// The sum of the terms with `untouched` subtracted; equals `rss` for any breakdown this
    /// crate computes.
    pub fn sum_of_terms(&self) -> i64 {
        crate::model::gap_term::GapTerm::MIMALLOC
            .iter()
            .map(|t| t.contribution_mimalloc(self))
            .sum()
    }

    /// Splits `rss` given allocscope's live figures, one reading of mimalloc's statistics and
    /// allocscope's own memory ([`Observer::read`]). allocscope's heap blocks are inside
    /// mimalloc's `committed` and leave `free_and_cached` (at most all of it); its tables and
    /// the untouched pages leave `non_heap`.
    pub fn from_parts(
        rss: u64,
        requested_live: u64,
        usable_live: u64,
        stats: &MimallocStats,
        observer: Observer,
    ) -> MimallocGap {
        let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let free_and_own = i(stats.committed) - i(usable_live);
        let own = observer.shares(free_and_own);
        MimallocGap {
            rss: i(rss),
            requested: i(requested_live),
            size_class_rounding: i(usable_live) - i(requested_live),
            free_and_cached: free_and_own - own.heap,
            profiler: own.heap + own.tables,
            untouched: own.untouched,
            non_heap: i(rss) - i(stats.committed) - own.tables + own.untouched,
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
    ///
    /// Figures read before this call may disagree with mimalloc's by a large block freed or
    /// allocated meanwhile; [`MimallocGap::now`] reads allocscope's counters at the same
    /// moment as mimalloc's statistics.
    #[cfg(feature = "mimalloc")]
    pub fn compute(requested_live: u64, usable_live: u64) -> Option<MimallocGap> {
        Self::compute_with(|| crate::observe::gap::LiveReading {
            counters: (),
            requested: requested_live,
            usable: usable_live,
        })
    }

    /// The gap now, with the live figures read by `read_live` inside the same settled moment
    /// as mimalloc's statistics (see `crate::observe::gap::compute`).
    #[cfg(feature = "mimalloc")]
    fn compute_with<T>(
        mut read_live: impl FnMut() -> crate::observe::gap::LiveReading<T>,
    ) -> Option<MimallocGap> {
        if crate::hook::profiler::installed_allocator()
            != Some(crate::hook::profiler::AllocatorKind::Mimalloc)
        {
            return None;
        }
        // The order of the jemalloc gap (`crate::gap`): allocscope's counters, the
        // allocator's figures, allocscope's own memory and the untouched pages, then RSS.
        // At a moment when no large realloc or free is in flight (src/hook/large_blocks.rs).
        let (live, stats, observer, rss) = crate::hook::large_blocks::settled(|| {
            let (live, stats) = crate::observe::gap::around(&mut read_live, || {
                crate::hook::guard::untracked(MimallocStats::read)
            });
            let stats = stats.ok()?;
            let observer = Observer::read();
            let rss = crate::observe::procfs::rss().ok()?;
            Some((live, stats, observer, rss))
        })
        .flatten()?;
        Some(MimallocGap::from_parts(
            rss,
            live.requested,
            live.usable,
            &stats,
            observer,
        ))
    }

    /// The gap now, with allocscope's counters read at the same moment as mimalloc's
    /// statistics (`None` as for [`MimallocGap::compute`]). Allocates nothing (unless
    /// reading `/proc` fails).
    pub fn now() -> Option<MimallocGap> {
        #[cfg(feature = "mimalloc")]
        {
            Self::compute_with(crate::observe::snapshot::live_reading)
        }
        #[cfg(not(feature = "mimalloc"))]
        {
            None
        }
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
            // As in the jemalloc table: `untouched` is shown as it is, on a "less" row.
            let name = match name {
                "size_class_rounding" => "size_class_rounding~",
                "untouched" => "less untouched",
                other => other,
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
        let g = MimallocGap::from_parts(120 << 20, 40 << 20, 45 << 20, &stats, Observer::default());
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
        let g = MimallocGap::from_parts(
            120 << 20,
            40 << 20,
            45 << 20,
            &with_pages,
            Observer::default(),
        );
        assert_eq!(g.free_in_pages, Some(15 << 20));
        assert_eq!(g.sum_of_terms(), g.rss);
    }

    /// allocscope's heap blocks leave `free_and_cached`, its tables and the untouched pages
    /// leave `non_heap`; the sum stays `rss` (hand-computed figures).
    #[test]
    fn profiler_and_untouched_terms() {
        let stats = MimallocStats {
            committed: 300 << 20,
            reserved: 1 << 30,
            ..MimallocStats::default()
        };
        let observer = Observer {
            profiler_heap: 3 << 20,
            profiler_tables: 2 << 20,
            untouched: 240 << 20,
        };
        // A 256 MiB block with 16 MiB touched, plus 20 MiB of other live blocks.
        let g = MimallocGap::from_parts(90 << 20, 276 << 20, 278 << 20, &stats, observer);
        assert_eq!(g.free_and_cached, (300 - 278 - 3) << 20);
        assert_eq!(g.profiler, 5 << 20);
        assert_eq!(g.untouched, 240 << 20);
        // 90 − 300 − 2 + 240.
        assert_eq!(g.non_heap, 28 << 20);
        assert_eq!(g.sum_of_terms(), g.rss);
        assert_eq!(
            g.requested + g.size_class_rounding + g.free_and_cached + (3 << 20),
            g.committed
        );
        // allocscope's heap never takes more than mimalloc's free space.
        let small = Observer {
            profiler_heap: 100 << 20,
            ..observer
        };
        let g = MimallocGap::from_parts(90 << 20, 276 << 20, 278 << 20, &stats, small);
        assert_eq!(g.free_and_cached, 0);
        assert_eq!(g.sum_of_terms(), g.rss);
    }
}
