//! The RSS gap: where resident memory goes beyond the bytes the program asked for.
//!
//! Over jemalloc, [`GapBreakdown`] splits the process's RSS into terms that add up to it
//! exactly, from allocscope's exact counters, jemalloc's statistics
//! (module [`crate::jemalloc_stats`], read through the program's own `mallctl`), `/proc` ([`crate::procfs`]) and `mincore`
//! (allocscope's own tables, and the pages of large blocks never touched); `docs/gap.md`
//! gives each formula. Over an allocator without
//! statistics (the system allocator, mimalloc), [`PartialGap`] says what can be known and
//! names what cannot be split. [`GapReport`] is either, for the current moment:
//!
//! ```no_run
//! # #[global_allocator]
//! # static A: allocscope::Profiler<std::alloc::System> = allocscope::Profiler::new(std::alloc::System);
//! println!("{}", allocscope::gap::report());
//! ```
//!
//! prints a table and a diagnosis such as
//!
//! ```text
//! term                      MiB   % of RSS
//! rss                     122.3     100.0%
//! requested                51.5      42.1%
//! size_class_rounding       5.8       4.7%
//! allocator_caches          0.1       0.1%
//! fragmentation            53.5      43.8%
//! dirty                     7.8       6.4%
//! metadata                  2.8       2.3%
//! muzzy                     0.0       0.0%
//! profiler                  0.3       0.2%
//! non_heap                  0.5       0.4%
//! less untouched            0.0       0.0%
//! 44% of RSS is free space inside partly used pages: many small objects freed in a scattered
//! pattern keep their pages alive. …
//! ```

use std::fmt;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

pub use crate::model::gap::{GapBreakdown, Observer};

impl Observer {
    /// Reads allocscope's own memory ([`crate::own_memory()`]) and the large blocks'
    /// untouched pages now. Never allocates.
    pub fn read() -> Observer {
        let own = crate::hook::own_memory::own_memory();
        Observer {
            profiler_heap: own.heap,
            profiler_tables: own.tables(),
            untouched: crate::hook::large_blocks::untouched_bytes(),
        }
    }
}

impl GapBreakdown {
    /// Splits `rss` given allocscope's live figures, one reading of jemalloc's statistics and
    /// allocscope's own memory.
    ///
    /// `muzzy_resident` is how much of jemalloc's muzzy pages the kernel still counts in RSS
    /// (`LazyFree` of smaps_rollup, at most `pmuzzy · page`). `metadata` is taken as
    /// `resident − active − dirty` (the resident part of the base allocator, `page_ceil(base)`
    /// in `docs/gap.md`), so the terms add up to `rss` exactly whatever the figures are.
    /// allocscope's heap blocks are inside jemalloc's `allocated` and leave
    /// `allocator_caches` (at most all of it); its tables and the untouched pages leave
    /// `non_heap`.
    pub fn from_parts(
        rss: u64,
        requested_live: u64,
        usable_live: u64,
        stats: &crate::observe::jemalloc_stats::JemallocStats,
        muzzy_resident: u64,
        observer: Observer,
    ) -> GapBreakdown {
        let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let dirty = i(stats.dirty_bytes());
        let muzzy = i(muzzy_resident.min(stats.muzzy_bytes()));
        let metadata = stats.resident_metadata();
        let caches_and_own = i(stats.allocated) - i(usable_live);
        let own = observer.shares(caches_and_own);
        GapBreakdown {
            rss: i(rss),
            requested: i(requested_live),
            size_class_rounding: i(usable_live) - i(requested_live),
            allocator_caches: caches_and_own - own.heap,
            fragmentation: i(stats.active) - i(stats.allocated),
            dirty,
            metadata,
            muzzy,
            profiler: own.heap + own.tables,
            untouched: own.untouched,
            non_heap: i(rss) - i(stats.resident) - muzzy - own.tables + own.untouched,
        }
    }

    /// Applies what the kernel says about the process's file-backed and shared pages
    /// (`file_backed`, statm's `shared`, read with `rss`): every page jemalloc and allocscope
    /// count (`resident`, muzzy, allocscope's tables) is anonymous, so at most `rss −
    /// file_backed` of them can be resident. Whatever the heap terms claim beyond that are
    /// pages jemalloc counts as resident that were never faulted in (its base metadata, see
    /// docs/gap.md): they are moved into `untouched` (which `non_heap` then no longer
    /// absorbs), so `non_heap` is at least `file_backed`. The terms still sum to `rss`.
    pub fn bounded_by_file_backed(mut self, file_backed: u64) -> GapBreakdown {
        let excess = never_faulted_in(self.rss, self.non_heap, file_backed);
        self.untouched += excess;
        self.non_heap += excess;
        self
    }

    /// The table and diagnosis of [`Display`](fmt::Display), as a string.
    pub fn explain(&self) -> String {
        self.to_string()
    }

    /// One or two sentences naming the dominant term and what to do about it.
    pub fn diagnosis(&self) -> String {
        let rss = self.rss.max(1) as f64;
        let pct = |v: i64| 100.0 * v as f64 / rss;
        let mut terms = self.terms();
        // `untouched` is not part of RSS: never the dominant term. Of `requested`, only what
        // is resident counts (a `Vec` reserved at 256 MiB and filled to 16 MiB is not "1000%
        // of RSS"): the untouched pages of large blocks are inside it.
        for t in terms.iter_mut() {
            match t.0 {
                "untouched" => t.1 = 0,
                "requested" => t.1 -= self.untouched.clamp(0, t.1.max(0)),
                _ => {}
            }
        }
        // Largest first; ties keep the order of `terms()`.
        terms.sort_by_key(|t| std::cmp::Reverse(t.1));
        let [(top, top_v), ..] = terms;
        let mut out = advice(top, pct(top_v));
        // A second sentence for the largest overhead term when it matters.
        if let Some(&(name, v)) = terms
            .iter()
            .skip(1)
            .find(|(n, _)| *n != "requested")
            .filter(|(_, v)| pct(*v) >= 10.0 && *v >= 1 << 20)
        {
            out.push(' ');
            out.push_str(&advice(name, pct(v)));
        }
        // Many untouched pages: say what they are, as they explain a `requested` above RSS.
        if pct(self.untouched) >= 10.0 && self.untouched >= 1 << 20 {
            out.push_str(&format!(
                " {:.1} MiB of the heap was never touched ({:.0}% of RSS, taken away as \
                 `untouched`): capacity reserved and not yet written (`Vec::with_capacity`, a \
                 large buffer), counted as requested but taking no RAM until it is written.",
                crate::model::units::to_mib(self.untouched),
                pct(self.untouched)
            ));
        }
        // Negative beyond rounding noise (1% of RSS): say why.
        if self.non_heap < 0 && pct(self.non_heap) <= -1.0 {
            out.push_str(&format!(
                " non_heap is negative ({:.1} MiB): jemalloc counts as resident pages that were \
                 never touched, in its own metadata or in blocks allocscope does not track \
                 as large (below 1 MiB, or beyond its table), so its figures exceed what the \
                 kernel sees by that much (docs/gap.md).",
                crate::model::units::to_mib(self.non_heap)
            ));
        }
        out
    }
}

/// The bytes a gap's heap terms claim beyond the process's anonymous RSS: every page the
/// allocator and allocscope count is anonymous, so at most `rss − file_backed` of them are
/// resident, and a remainder `non_heap` below `file_backed` (statm's `shared`, read with
/// `rss`) means the heap terms count that many bytes the kernel never faulted in (or has
/// dropped since). 0 when `non_heap` is at least `file_backed`. Both gaps move this into
/// `untouched` ([`GapBreakdown::bounded_by_file_backed`],
/// [`MimallocGap::bounded_by_file_backed`](crate::MimallocGap::bounded_by_file_backed)).
pub(crate) fn never_faulted_in(rss: i64, non_heap: i64, file_backed: u64) -> i64 {
    let floor = i64::try_from(file_backed).unwrap_or(i64::MAX).min(rss);
    floor.saturating_sub(non_heap).max(0)
}

/// The sentence of the diagnosis for one term holding `pct` % of RSS.
fn advice(term: &str, pct: f64) -> String {
    let t = crate::model::gap_term::GapTerm::ALL
        .into_iter()
        .find(|t| t.key() == term)
        .unwrap_or(crate::model::gap_term::GapTerm::NonHeap);
    format!("{pct:.0}% of RSS {}", t.advice())
}

/// One row of the key-named gap tables (`GapBreakdown`, `PartialGap` and `MimallocGap`
/// `Display`): name, MiB, % of RSS (`-` without an RSS).
pub(crate) fn write_row(f: &mut fmt::Formatter<'_>, name: &str, v: i64, rss: i64) -> fmt::Result {
    let pct = if rss > 0 {
        format!("{:.1}%", 100.0 * v as f64 / rss as f64)
    } else {
        "-".to_string()
    };
    writeln!(
        f,
        "{name:<22}{:>9.1}{pct:>11}",
        crate::model::units::to_mib(v)
    )
}

impl fmt::Display for GapBreakdown {
    /// A table of the terms (MiB and % of RSS), then the [diagnosis](Self::diagnosis).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<22}{:>9}{:>11}", "term", "MiB", "% of RSS")?;
        write_row(f, "rss", self.rss, self.rss)?;
        for t in crate::model::gap_term::GapTerm::ALL {
            // `untouched` as it is, on a "less" row: it is subtracted from the rows above.
            write_row(f, t.row_key(), t.value(self), self.rss)?;
        }
        write!(f, "{}", self.diagnosis())
    }
}

/// The live figures a gap splits: what the program requested and those blocks' usable size,
/// both exact (from the counters), read together with `T`, the rest of the counters.
pub(crate) struct LiveReading<T> {
    /// Whatever else the caller read with the live figures (the counters' sums).
    pub(crate) counters: T,
    /// Live requested bytes.
    pub(crate) requested: u64,
    /// Their usable size (size classes, page rounding).
    pub(crate) usable: u64,
}

/// Reads the counters just before and just after `read_allocator` (the allocator's
/// statistics, of a moment between the two) and keeps the reading with fewer usable live
/// bytes. The allocator counts every block the program holds, so its figures less the
/// program's usable bytes (`allocator_caches`, mimalloc's `free_and_cached`) are never
/// negative at one moment; read apart, blocks freed between the counters and the
/// allocator's read (jemalloc's large classes skip its thread caches and leave `allocated`
/// at once) made them so by up to half a MiB in the demo's workload under load. If the
/// program only freed meanwhile, the reading after holds no more than the allocator's
/// moment; if it only allocated, the reading before: the lower of the two errs towards the
/// allocator's caches, not below zero.
pub(crate) fn around<T, A>(
    read_counters: &mut impl FnMut() -> LiveReading<T>,
    read_allocator: impl FnOnce() -> A,
) -> (LiveReading<T>, A) {
    let before = read_counters();
    let allocator = read_allocator();
    let after = read_counters();
    let live = if after.usable < before.usable {
        after
    } else {
        before
    };
    (live, allocator)
}

/// Reads the counters (`read_counters`) and, over jemalloc, the gap of the same moment.
/// The gap is `None` unless the installed inner allocator is jemalloc (jemalloc may be linked
/// in and unused), its `mallctl` is registered ([`crate::Profiler::with_jemalloc_stats`])
/// and its statistics and `/proc/self/statm` can be read, and also `None` when no moment
/// without a large call in flight came within 400 ms (see `docs/gap.md`).
///
/// The counters are read inside the same settled moment as jemalloc's figures: a large block
/// freed between the two reads is in allocscope's live bytes and not in jemalloc's
/// `allocated` (a term negative by the block's size, seen in CI: `allocator_caches` −98 MiB
/// when the demo's workload freed a ~100 MB vector between them).
///
/// Does not allocate (unless reading `/proc` fails); reads statm always and smaps_rollup
/// only when jemalloc holds muzzy pages.
pub(crate) fn compute<T>(
    mut read_counters: impl FnMut() -> LiveReading<T>,
) -> (T, Option<GapBreakdown>) {
    if crate::hook::profiler::installed_allocator()
        != Some(crate::hook::profiler::AllocatorKind::Jemalloc)
    {
        return (read_counters().counters, None);
    }
    // Order matters while the program runs: allocscope's counters, then jemalloc's figures,
    // then allocscope's tables and the untouched pages, then RSS right after the untouched
    // pages (a program filling a large block touches pages between two reads; reading RSS
    // last errs on the side of RSS, by microseconds rather than by the time the other reads
    // take). At a moment when no large realloc or free is in flight
    // (src/hook/large_blocks.rs): the counters, jemalloc's figures and the large-block table
    // then agree on every large block. Small blocks allocated or freed meanwhile move the
    // terms by their size only; the counters are read on both sides of jemalloc's figures
    // so that even this cannot make a term negative ([`around`]).
    let settled = crate::hook::large_blocks::settled(|| {
        let (live, stats) = around(&mut read_counters, || {
            crate::observe::jemalloc_stats::JemallocStats::read().ok()
        });
        let read = (|| {
            let stats = stats?;
            let observer = Observer::read();
            let statm = crate::observe::procfs::statm().ok()?;
            Some((stats, observer, statm))
        })();
        (live, read)
    });
    // No consistent moment within 400 ms: no gap rather than a wrong one.
    let Some((live, read)) = settled else {
        return (read_counters().counters, None);
    };
    let Some((stats, observer, statm)) = read else {
        return (live.counters, None);
    };
    let rss = statm.rss;
    let muzzy_resident = if stats.pmuzzy > 0 {
        // Only MADV_FREE'd pages the kernel still holds count; jemalloc's are at most these.
        crate::observe::procfs::smaps_rollup()
            .map(|s| s.lazy_free)
            .unwrap_or_else(|_| stats.muzzy_bytes())
    } else {
        0
    };
    // statm's `shared` (file-backed and shmem pages) comes from the same read as RSS.
    let gap = GapBreakdown::from_parts(
        rss,
        live.requested,
        live.usable,
        &stats,
        muzzy_resident,
        observer,
    )
    .bounded_by_file_backed(statm.shared);
    (live.counters, Some(gap))
}

pub use crate::model::gap_partial::{MallocInfo, PartialGap};

impl MallocInfo {
    /// Reads `mallinfo2()` (glibc only; `None` elsewhere). It locks every malloc arena in
    /// turn: call it on demand, not from the allocator hooks.
    pub fn read() -> Option<MallocInfo> {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            // SAFETY: mallinfo2 has no preconditions; it returns a struct by value.
            let m = unsafe { libc::mallinfo2() };
            Some(MallocInfo {
                heap: m.arena as u64,
                heap_in_use: m.uordblks as u64,
                heap_free: m.fordblks as u64,
                releasable: m.keepcost as u64,
                mmapped: m.hblkhd as u64,
            })
        }
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        {
            None
        }
    }
}

impl PartialGap {
    /// Builds the partial breakdown from a snapshot (its `live_bytes` and size classes) and
    /// `/proc`.
    pub fn from_snapshot(snapshot: &crate::observe::snapshot::Snapshot) -> PartialGap {
        let installed = crate::hook::profiler::installed_allocator();
        let usable: u64 = snapshot
            .size_classes
            .iter()
            .map(|c| c.live_usable_bytes)
            .sum();
        let status = crate::observe::procfs::status_memory().ok();
        let rss = match status {
            Some(s) => s.vm_rss,
            None => crate::observe::procfs::rss().unwrap_or(0),
        };
        PartialGap {
            allocator: installed.map(|k| k.name().to_string()),
            rss,
            requested: installed.map(|_| snapshot.live_bytes),
            size_class_rounding_estimate: installed
                .map(|_| usable.saturating_sub(snapshot.live_bytes)),
            anonymous: status.map(|s| s.rss_anon),
            file_backed: status.map(|s| s.rss_file + s.rss_shmem),
            malloc: MallocInfo::read(),
            profiler: installed.map(|_| crate::hook::own_memory::own_memory().total()),
            untouched: installed.map(|_| crate::hook::large_blocks::untouched_bytes()),
        }
    }

    /// Anonymous memory beyond the requested bytes (less their untouched pages), their
    /// rounding and allocscope's own memory: what cannot be split.
    pub fn unsplit(&self) -> Option<i64> {
        let anon = self.anonymous? as i64;
        let own = self.profiler.unwrap_or(0) as i64;
        let untouched = self.untouched.unwrap_or(0) as i64;
        Some(
            anon - (self.requested? as i64 - untouched)
                - self.size_class_rounding_estimate? as i64
                - own,
        )
    }
}

impl fmt::Display for PartialGap {
    /// The known terms as a table (MiB, % of RSS), then what cannot be split and why.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rss = i64::try_from(self.rss).unwrap_or(i64::MAX);
        let u = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        writeln!(f, "{:<22}{:>9}{:>11}", "term", "MiB", "% of RSS")?;
        write_row(f, "rss", rss, rss)?;
        match self.requested {
            Some(r) => write_row(f, "requested", u(r), rss)?,
            None => writeln!(f, "{:<22}{:>9}", "requested", "unknown")?,
        }
        if let Some(r) = self.size_class_rounding_estimate {
            write_row(f, "size_class_rounding~", u(r), rss)?;
        }
        if let Some(a) = self.anonymous {
            write_row(f, "anonymous", u(a), rss)?;
        }
        if let Some(p) = self.profiler {
            write_row(f, "  of which profiler", u(p), rss)?;
        }
        if let Some(t) = self.untouched.filter(|&t| t > 0) {
            // Requested but not resident: not part of `anonymous` (shown as it is).
            write_row(f, "  less untouched", u(t), rss)?;
        }
        if let Some(unsplit) = self.unsplit() {
            write_row(f, "  of which unsplit", unsplit, rss)?;
        }
        if let Some(fb) = self.file_backed {
            write_row(f, "file_backed", u(fb), rss)?;
        }
        if let Some(m) = self.malloc {
            write_row(f, "glibc heap in use", u(m.heap_in_use + m.mmapped), rss)?;
            write_row(f, "glibc heap free", u(m.heap_free), rss)?;
        }
        match &self.allocator {
            None => write!(
                f,
                "No allocscope::Profiler is installed as the global allocator: the bytes the \
                 program asked for are unknown."
            )?,
            Some(name) => write!(
                f,
                "~ size_class_rounding is estimated with jemalloc's size classes. The {name} \
                 allocator gives no statistics, so the anonymous memory beyond the requested \
                 bytes cannot be split into fragmentation, freed pages not yet returned, \
                 allocator caches and metadata, thread stacks and C libraries' heaps; wrap \
                 jemalloc (`Profiler::with_jemalloc_stats`) or mimalloc for the full breakdown."
            )?,
        }
        if let Some(m) = self.malloc.filter(|m| m.heap_free >= 1 << 20) {
            write!(
                f,
                " glibc's heaps hold {:.1} MiB free (fragmentation, or not yet trimmed; \
                 resident or not): `allocscope::purge()` calls `malloc_trim`.",
                crate::model::units::to_mib(u(m.heap_free))
            )?;
        }
        Ok(())
    }
}

/// The gap of the current moment: the full breakdown over jemalloc, a partial one otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum GapReport {
    /// Every term, over jemalloc.
    Full(GapBreakdown),
    /// What can be known over an allocator without statistics.
    Partial(PartialGap),
    /// The terms mimalloc's statistics give (read with the feature `mimalloc`).
    Mimalloc(crate::observe::gap_mimalloc::MimallocGap),
}

impl GapReport {
    /// The report for a snapshot: its `gap` when present, else mimalloc's gap read now (with
    /// the counters of that moment) when mimalloc is installed, else a [`PartialGap`].
    pub fn from_snapshot(snapshot: &crate::observe::snapshot::Snapshot) -> GapReport {
        if let Some(g) = snapshot.gap {
            return GapReport::Full(g);
        }
        // mimalloc's statistics are read now, with allocscope's counters of the same moment.
        if let Some(g) = crate::observe::gap_mimalloc::MimallocGap::now() {
            return GapReport::Mimalloc(g);
        }
        GapReport::Partial(PartialGap::from_snapshot(snapshot))
    }
}

impl fmt::Display for GapReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GapReport::Full(g) => g.fmt(f),
            GapReport::Partial(p) => p.fmt(f),
            GapReport::Mimalloc(g) => g.fmt(f),
        }
    }
}

/// The gap of the current moment (takes a [`crate::snapshot()`]).
pub fn report() -> GapReport {
    GapReport::from_snapshot(&crate::observe::snapshot::snapshot())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::jemalloc_stats::JemallocStats;

    /// The measurement of `docs/gap.md` (jemalloc section): 1M `Box<[u8; 100]>`, every other one freed.
    fn notes_example() -> GapBreakdown {
        let page = 4096;
        let requested = 500_000 * 100 + 4_000_000;
        let usable = 500_000 * 112 + 4_000_000;
        let stats = JemallocStats {
            allocated: usable + 100_000,
            active: usable + 100_000 + 56_100_000,
            pdirty: 2000,
            resident: usable + 100_000 + 56_100_000 + 2000 * page + 2_904_064,
            base: 2_900_000,
            page,
            ..JemallocStats::default()
        };
        GapBreakdown::from_parts(
            128_200_000,
            requested,
            usable,
            &stats,
            0,
            Observer::default(),
        )
    }

    /// The reserve case (a 256 MiB `Vec` filled to 16 MiB): the diagnosis once said "1021% of
    /// RSS is live data the program asked for" and never named the untouched pages.
    #[test]
    fn diagnosis_counts_only_the_resident_part_of_requested() {
        const MIB: i64 = 1 << 20;
        let g = GapBreakdown {
            rss: 25 * MIB,
            requested: 256 * MIB,
            size_class_rounding: 0,
            metadata: 3 * MIB,
            non_heap: 10 * MIB,
            untouched: 244 * MIB,
            ..GapBreakdown::default()
        };
        assert_eq!(g.sum_of_terms(), g.rss);
        let d = g.diagnosis();
        // 12 of 25 MiB resident: 48%.
        assert!(d.starts_with("48% of RSS is live data"), "{d}");
        assert!(d.contains("244.0 MiB of the heap was never touched"), "{d}");
        assert!(!d.contains("1024%"), "{d}");
        // Without untouched pages, no such sentence and `requested` as it is.
        let plain = GapBreakdown {
            rss: 20 * MIB,
            requested: 12 * MIB,
            non_heap: 8 * MIB,
            ..GapBreakdown::default()
        };
        let d = plain.diagnosis();
        assert!(d.starts_with("60% of RSS is live data"), "{d}");
        assert!(!d.contains("never touched"), "{d}");
    }

    #[test]
    fn terms_add_up_and_follow_the_formula() {
        let g = notes_example();
        assert_eq!(g.sum_of_terms(), g.rss);
        assert_eq!(g.size_class_rounding, 6_000_000);
        assert_eq!(g.allocator_caches, 100_000);
        assert_eq!(g.fragmentation, 56_100_000);
        assert_eq!(g.dirty, 2000 * 4096);
        assert_eq!(g.metadata, 2_904_064);
        assert_eq!(g.muzzy, 0);
        let resident = 60_100_000 + 56_100_000 + 2000 * 4096 + 2_904_064;
        assert_eq!(g.non_heap, 128_200_000 - resident);
    }

    #[test]
    fn muzzy_is_capped_by_jemalloc_and_non_heap_may_be_negative() {
        let stats = JemallocStats {
            allocated: 10 << 20,
            active: 12 << 20,
            resident: 13 << 20,
            pmuzzy: 10,
            page: 4096,
            ..JemallocStats::default()
        };
        // The kernel reports more LazyFree than jemalloc holds muzzy (another user of
        // MADV_FREE): only jemalloc's pages count.
        let g = GapBreakdown::from_parts(
            8 << 20,
            9 << 20,
            10 << 20,
            &stats,
            1 << 20,
            Observer::default(),
        );
        assert_eq!(g.muzzy, 40960);
        assert_eq!(g.non_heap, (8 << 20) - (13 << 20) - 40960);
        assert_eq!(g.sum_of_terms(), g.rss);
        let text = g.to_string();
        assert!(text.contains("non_heap is negative (-5.0 MiB)"), "{text}");
    }

    #[test]
    fn heap_terms_beyond_anonymous_rss_are_untouched() {
        // jemalloc claims 100 MiB resident; RSS is 99 MiB of which 4 MiB file-backed, so at
        // most 95 MiB of jemalloc's pages are resident: 5 MiB were never touched.
        let stats = JemallocStats {
            allocated: 90 << 20,
            active: 95 << 20,
            resident: 100 << 20,
            page: 4096,
            ..JemallocStats::default()
        };
        let g = GapBreakdown::from_parts(
            99 << 20,
            80 << 20,
            90 << 20,
            &stats,
            0,
            Observer {
                untouched: 1 << 20,
                ..Observer::default()
            },
        );
        // Before: 99 − 100 + 1 = 0 MiB non_heap although 4 MiB are code and files.
        assert_eq!(g.non_heap, 0);
        let b = g.bounded_by_file_backed(4 << 20);
        assert_eq!(b.non_heap, 4 << 20);
        assert_eq!(b.untouched, (1 << 20) + (4 << 20));
        assert_eq!(b.sum_of_terms(), b.rss);
        assert_eq!((b.requested, b.metadata), (g.requested, g.metadata));
        // Already above the file-backed pages: unchanged.
        assert_eq!(b.bounded_by_file_backed(3 << 20), b);
        let negative = GapBreakdown {
            non_heap: -(1 << 20),
            ..g
        };
        let b = negative.bounded_by_file_backed(0);
        assert_eq!((b.non_heap, b.untouched), (0, 2 << 20));
    }

    #[test]
    fn own_memory_and_untouched_pages_move_between_terms_and_keep_the_sum() {
        let stats = JemallocStats {
            allocated: 300 << 20,
            active: 302 << 20,
            resident: 305 << 20,
            page: 4096,
            ..JemallocStats::default()
        };
        // 256 MiB requested, 16 MiB of it touched; allocscope holds 3 MiB of heap blocks
        // (inside `allocated`) and 5 MiB of tables.
        let rss = (305u64 << 20) - (240 << 20) + (5 << 20) + (7 << 20);
        let observer = Observer {
            profiler_heap: 3 << 20,
            profiler_tables: 5 << 20,
            untouched: 240 << 20,
        };
        let plain =
            GapBreakdown::from_parts(rss, 280 << 20, 290 << 20, &stats, 0, Observer::default());
        let g = GapBreakdown::from_parts(rss, 280 << 20, 290 << 20, &stats, 0, observer);
        assert_eq!(g.sum_of_terms(), g.rss);
        assert_eq!(plain.allocator_caches, 10 << 20);
        assert_eq!(g.allocator_caches, 7 << 20);
        assert_eq!(g.profiler, 8 << 20);
        assert_eq!(g.untouched, 240 << 20);
        assert_eq!(plain.non_heap, (5 << 20) + (7 << 20) - (240 << 20));
        assert_eq!(g.non_heap, 7 << 20);
        // allocscope's heap never takes more than jemalloc's `allocated − usable`.
        let greedy = Observer {
            profiler_heap: 50 << 20,
            ..observer
        };
        let g = GapBreakdown::from_parts(rss, 280 << 20, 290 << 20, &stats, 0, greedy);
        assert_eq!(g.allocator_caches, 0);
        assert_eq!(g.profiler, (10 << 20) + (5 << 20));
        assert_eq!(g.sum_of_terms(), g.rss);
        let text = g.to_string();
        assert!(text.contains("untouched"), "{text}");
        assert!(!text.contains("negative"), "{text}");
    }

    #[test]
    fn display_names_the_dominant_term_and_a_remedy() {
        let text = notes_example().to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["term", "MiB", "%", "of", "RSS"]
        );
        assert!(
            lines[1].starts_with("rss") && lines[1].ends_with("100.0%"),
            "{text}"
        );
        assert!(
            lines[5].starts_with("fragmentation") && lines[5].contains("53.5"),
            "{text}"
        );
        assert!(
            text.contains("44% of RSS is free space inside partly used pages"),
            "{text}"
        );
        // Requested (42%) is not an overhead; dirty (6%) is below the 10% threshold.
        assert!(!text.contains("allocscope::purge()"), "{text}");

        let mostly_dirty = GapBreakdown {
            rss: 100 << 20,
            requested: 30 << 20,
            dirty: 60 << 20,
            fragmentation: 10 << 20,
            ..GapBreakdown::default()
        };
        let text = mostly_dirty.explain();
        assert!(
            text.contains("60% of RSS is freed pages jemalloc has not returned yet"),
            "{text}"
        );
        assert!(text.contains("allocscope::purge()"), "{text}");
        assert!(text.contains("10% of RSS is free space"), "{text}");
    }

    #[test]
    fn zero_rss_does_not_divide_by_zero() {
        let text = GapBreakdown::default().to_string();
        assert!(text.contains("rss"), "{text}");
    }
}
