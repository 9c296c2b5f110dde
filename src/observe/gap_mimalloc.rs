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

    /// Applies what the kernel says about the process's file-backed and shared pages
    /// (`file_backed`, statm's `shared`, read with `rss`), as over jemalloc
    /// ([`GapBreakdown::bounded_by_file_backed`](crate::GapBreakdown::bounded_by_file_backed)):
    /// mimalloc's `committed` and allocscope's tables are anonymous memory, so at most `rss −
    /// file_backed` of them can be resident. Whatever the heap terms claim beyond that are
    /// pages mimalloc counts as committed that are not resident: never faulted in (fresh
    /// pages of a segment or arena, a freed large block's untouched tail) or reset by a
    /// purge (`MADV_DONTNEED` leaves them committed in its books). They are moved into
    /// `untouched` (which `non_heap` then no longer absorbs), so `non_heap` is at least
    /// `file_backed` and never negative. The terms still sum to `rss` (docs/mimalloc.md).
    pub fn bounded_by_file_backed(mut self, file_backed: u64) -> MimallocGap {
        let excess = crate::observe::gap::never_faulted_in(self.rss, self.non_heap, file_backed);
        self.untouched += excess;
        self.non_heap += excess;
        self
    }

    /// At most how much of `free_and_cached` is resident: the untouched bytes lie inside
    /// mimalloc's `committed` (`requested + size_class_rounding + free_and_cached +`
    /// allocscope's heap), so those beyond the other heap terms are free space that is not
    /// resident; and no heap term holds more than `rss − non_heap`. After a large block is
    /// freed, or after a purge, `free_and_cached` counts hundreds of MiB the kernel does not
    /// hold; this is the figure the diagnosis words as a share of RSS.
    pub fn free_and_cached_resident(&self) -> i64 {
        let others = self
            .requested
            .saturating_add(self.size_class_rounding)
            .saturating_add(self.profiler);
        let not_resident = self.untouched.saturating_sub(others).max(0);
        self.free_and_cached
            .saturating_sub(not_resident)
            .min(self.rss.saturating_sub(self.non_heap))
            .max(0)
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
        let (live, stats, observer, statm) = crate::hook::large_blocks::settled(|| {
            let (live, stats) = crate::observe::gap::around(&mut read_live, || {
                crate::hook::guard::untracked(MimallocStats::read)
            });
            let stats = stats.ok()?;
            let observer = Observer::read();
            let statm = crate::observe::procfs::statm().ok()?;
            Some((live, stats, observer, statm))
        })
        .flatten()?;
        // statm's `shared` (file-backed and shmem pages) comes from the same read as RSS.
        Some(
            MimallocGap::from_parts(statm.rss, live.requested, live.usable, &stats, observer)
                .bounded_by_file_backed(statm.shared),
        )
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

impl MimallocGap {
    /// What the table of terms leaves out, one paragraph: mimalloc's committed and reserved
    /// memory, how the `~` row is estimated, and a diagnosis when mimalloc's free space, or
    /// committed memory that is not resident, is a large share of RSS. Shown under the
    /// table by [`Display`](fmt::Display) and by `alloc-report summary`.
    pub fn notes(&self) -> String {
        let mib = crate::model::units::to_mib;
        let pct = |v: i64| {
            if self.rss > 0 {
                100.0 * v as f64 / self.rss as f64
            } else {
                0.0
            }
        };
        let mut out = format!(
            "mimalloc has {:.1} MiB committed and {:.1} MiB reserved. ~ size-class rounding is \
             estimated with jemalloc's size classes (free and cached absorbs the difference).",
            mib(self.committed),
            mib(self.reserved)
        );
        let free = self.free_and_cached_resident();
        if free > self.rss / 5 && free >= 1 << 20 {
            // Exact unless some committed pages are not resident: then an upper bound.
            let up_to = if self.untouched > 0 { "Up to " } else { "" };
            out.push_str(&format!(
                " {up_to}{:.0}% of RSS is mimalloc's free space and caches: \
                 `allocscope::purge()` (`mi_collect(true)`) returns whole free pages; free \
                 space inside pages that hold live objects stays.",
                pct(free)
            ));
        }
        let not_resident = self.free_and_cached - free;
        if not_resident >= 1 << 20 {
            out.push_str(&format!(
                " At least {:.1} MiB of mimalloc's free space is committed in its books but \
                 not resident (pages never touched, or reset by a purge): it costs no memory, \
                 and untouched takes it back out of the sum.",
                mib(not_resident)
            ));
        }
        out
    }
}

impl fmt::Display for MimallocGap {
    /// The terms as a table (MiB, % of RSS), then [`MimallocGap::notes`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::model::gap_term::GapTerm;
        use crate::observe::gap::write_row;
        writeln!(f, "{:<22}{:>9}{:>11}", "term", "MiB", "% of RSS")?;
        write_row(f, "rss", self.rss, self.rss)?;
        for t in GapTerm::MIMALLOC {
            // As in the jemalloc table: `untouched` is shown as it is, on a "less" row.
            let name = match t {
                GapTerm::SizeClassRounding => "size_class_rounding~",
                _ => t.row_key(),
            };
            write_row(f, name, t.value_mimalloc(self), self.rss)?;
            if let (Some(p), GapTerm::FreeAndCached) = (self.free_in_pages, t) {
                write_row(f, "  of which in pages", p, self.rss)?;
            }
        }
        f.write_str(&self.notes())
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
    /// The audit's figures (`n_mimalloc reserve`, before the bound): the 256 MiB block freed,
    /// mimalloc keeps 271 MiB committed of which 240 MiB were never touched; RSS 30 MiB with
    /// 4 MiB of file-backed pages. `non_heap` was −241 MiB; bounded it is the file-backed
    /// pages, the rest is `untouched`, and the diagnosis words only the resident free space.
    #[test]
    fn committed_beyond_anonymous_rss_is_untouched() {
        let stats = MimallocStats {
            committed: 271 << 20,
            reserved: 1 << 30,
            ..MimallocStats::default()
        };
        let observer = Observer {
            profiler_heap: 0,
            profiler_tables: 1 << 20,
            untouched: 0,
        };
        let raw = MimallocGap::from_parts(30 << 20, 0, 0, &stats, observer);
        assert_eq!(raw.non_heap, (30 - 271 - 1) << 20);
        let g = raw.bounded_by_file_backed(4 << 20);
        assert_eq!(g.non_heap, 4 << 20);
        assert_eq!(g.untouched, (271 + 1 + 4 - 30) << 20);
        assert_eq!(g.sum_of_terms(), g.rss);
        assert_eq!(
            (g.requested, g.free_and_cached, g.profiler, g.committed),
            (
                raw.requested,
                raw.free_and_cached,
                raw.profiler,
                raw.committed
            )
        );
        for (name, v) in g.terms() {
            assert!(v >= 0, "{name}: {g:?}");
        }
        // Of the 246 MiB untouched, all but what allocscope's 1 MiB could hold lie in the
        // free space: at most 271 − 245 = 26 MiB of it is resident (87% of RSS).
        assert_eq!(g.free_and_cached_resident(), 26 << 20);
        let text = g.to_string();
        assert!(
            text.contains(" Up to 87% of RSS is mimalloc's free space"),
            "{text}"
        );
        assert!(
            text.contains("At least 245.0 MiB of mimalloc's free space"),
            "{text}"
        );
        // Above the file-backed pages already: unchanged.
        assert_eq!(g.bounded_by_file_backed(3 << 20), g);
    }

    /// The large block's own untouched pages are inside `requested`: they say nothing about
    /// the free space, which stays resident as far as the figures tell.
    #[test]
    fn untouched_inside_requested_leaves_the_free_space_resident() {
        let stats = MimallocStats {
            committed: 271 << 20,
            ..MimallocStats::default()
        };
        let observer = Observer {
            untouched: 240 << 20,
            ..Observer::default()
        };
        // The audit's `leak` mode: non_heap −1.4 MiB before the bound.
        let raw = MimallocGap::from_parts(30 << 20, 256 << 20, 256 << 20, &stats, observer);
        assert_eq!(raw.non_heap, -(1 << 20));
        let g = raw.bounded_by_file_backed(4 << 20);
        assert_eq!((g.non_heap, g.untouched), (4 << 20, 245 << 20));
        assert_eq!(g.sum_of_terms(), g.rss);
        assert_eq!(g.free_and_cached_resident(), 15 << 20);
        assert!(!g.to_string().contains("At least"), "{g}");
    }
}
