//! The terms of a [`GapBreakdown`], named, with what each one means for the reader.
//!
//! Both the allocator comparison (`alloc-report compare`) and the convergence check
//! ([`crate::convergence`]) explain a difference in RSS by the term that accounts for most of
//! it; this module holds the one list of terms and the words said about each.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::model::gap::GapBreakdown;

/// One term of the RSS gap (a field of [`GapBreakdown`] other than `rss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum GapTerm {
    /// Live bytes the program asked for.
    Requested,
    /// Usable − requested bytes of live blocks.
    SizeClassRounding,
    /// Thread caches and the allocator's internal allocations.
    AllocatorCaches,
    /// Free space inside pages that hold live objects.
    Fragmentation,
    /// Freed pages not yet returned to the OS.
    Dirty,
    /// Allocator bootstrap metadata.
    Metadata,
    /// `MADV_FREE`'d pages the kernel has not reclaimed yet.
    Muzzy,
    /// allocscope's own memory (its tables and heap blocks).
    Profiler,
    /// Pages the heap terms count that are not resident: the never-touched pages of large
    /// live blocks, and whatever the allocator counts beyond the process's anonymous RSS
    /// (jemalloc's metadata, mimalloc's committed pages never faulted in or reset by a
    /// purge). Not in RSS, so subtracted.
    Untouched,
    /// Resident memory that is neither the allocator's nor allocscope's.
    NonHeap,
    /// mimalloc's free space, cached pages and metadata (a term of
    /// [`MimallocGap`](crate::model::gap_mimalloc::MimallocGap) only; see
    /// [`GapTerm::MIMALLOC`]).
    FreeAndCached,
}

impl GapTerm {
    /// Every term, in the order every table shows them: the terms that make up RSS, then
    /// `untouched`, which is subtracted from them (their
    /// [contributions](GapTerm::contribution) add up to `rss`).
    pub const ALL: [GapTerm; 10] = [
        GapTerm::Requested,
        GapTerm::SizeClassRounding,
        GapTerm::AllocatorCaches,
        GapTerm::Fragmentation,
        GapTerm::Dirty,
        GapTerm::Metadata,
        GapTerm::Muzzy,
        GapTerm::Profiler,
        GapTerm::NonHeap,
        GapTerm::Untouched,
    ];

    /// The terms of a gap over mimalloc
    /// ([`MimallocGap`](crate::model::gap_mimalloc::MimallocGap)), in table order as
    /// [`GapTerm::ALL`]: the same words as jemalloc's where the term is the same,
    /// `free_and_cached` for what mimalloc does not split. Their
    /// [contributions](GapTerm::contribution_mimalloc) add up to its `rss`.
    pub const MIMALLOC: [GapTerm; 6] = [
        GapTerm::Requested,
        GapTerm::SizeClassRounding,
        GapTerm::FreeAndCached,
        GapTerm::Profiler,
        GapTerm::NonHeap,
        GapTerm::Untouched,
    ];

    /// The field name in [`GapBreakdown`] and in profile files (`"dirty"`, `"non_heap"`…).
    pub fn key(self) -> &'static str {
        match self {
            GapTerm::Requested => "requested",
            GapTerm::SizeClassRounding => "size_class_rounding",
            GapTerm::AllocatorCaches => "allocator_caches",
            GapTerm::Fragmentation => "fragmentation",
            GapTerm::Dirty => "dirty",
            GapTerm::Metadata => "metadata",
            GapTerm::Muzzy => "muzzy",
            GapTerm::Profiler => "profiler",
            GapTerm::Untouched => "untouched",
            GapTerm::NonHeap => "non_heap",
            GapTerm::FreeAndCached => "free_and_cached",
        }
    }

    /// A short label for a table row.
    pub fn label(self) -> &'static str {
        match self {
            GapTerm::Requested => "requested (live)",
            GapTerm::SizeClassRounding => "size-class rounding",
            GapTerm::AllocatorCaches => "allocator caches",
            GapTerm::Fragmentation => "fragmentation",
            GapTerm::Dirty => "dirty pages",
            GapTerm::Metadata => "allocator metadata",
            GapTerm::Muzzy => "muzzy pages",
            GapTerm::Profiler => "allocscope (profiler)",
            GapTerm::Untouched => "untouched (not resident)",
            GapTerm::NonHeap => "non-heap",
            GapTerm::FreeAndCached => "free and cached",
        }
    }

    /// The label of the term's row in a table whose rows add up to RSS: [`GapTerm::label`],
    /// with "less " before a term that is subtracted (`untouched`). Every table shows each
    /// term's [value](GapTerm::value), which is never negative but for `non_heap` in rare
    /// cases (docs/gap.md); the word, not a minus sign, says that `untouched` is taken away.
    pub fn row_label(self) -> &'static str {
        match self {
            GapTerm::Untouched => "less untouched (not resident)",
            other => other.label(),
        }
    }

    /// The name of the term's row in the key-named tables (`GapBreakdown`'s and
    /// `MimallocGap`'s `Display`): [`GapTerm::key`], or "less untouched" for the term that
    /// is subtracted, as [`GapTerm::row_label`] words it for the labelled tables.
    pub fn row_key(self) -> &'static str {
        match self {
            GapTerm::Untouched => "less untouched",
            other => other.key(),
        }
    }

    /// What the term is, as a noun phrase that fits "of which 80% is …".
    pub fn description(self) -> &'static str {
        match self {
            GapTerm::Requested => "live data the program asked for",
            GapTerm::SizeClassRounding => "size-class rounding of live blocks",
            GapTerm::AllocatorCaches => "thread caches and allocator internals",
            GapTerm::Fragmentation => "free holes in pages that still hold live objects",
            GapTerm::Dirty => "dirty pages not yet returned",
            GapTerm::Metadata => "allocator bootstrap metadata",
            GapTerm::Muzzy => "MADV_FREE'd pages the kernel has not reclaimed",
            GapTerm::Profiler => "allocscope's own tables and caches",
            GapTerm::Untouched => {
                "pages the allocator counts that are not resident (reserved capacity of large \
                 blocks never written, allocator metadata or free pages never faulted in or \
                 since reset)"
            }
            GapTerm::NonHeap => "memory outside the allocator (code, stacks, C libraries)",
            GapTerm::FreeAndCached => {
                "the allocator's free space in pages, whole free pages kept for reuse, and its \
                 metadata"
            }
        }
    }

    /// What that means, in a few words ("decay, not a leak").
    pub fn verdict(self) -> &'static str {
        match self {
            GapTerm::Requested => "the program holds more live data: look at its call sites",
            GapTerm::SizeClassRounding => "request sizes fall just above a size class",
            GapTerm::AllocatorCaches => "kept for reuse, bounded per thread",
            GapTerm::Fragmentation => "fragmentation: freed objects scattered among live ones",
            GapTerm::Dirty => "decay, not a leak",
            GapTerm::Metadata => "a fixed cost of the allocator",
            GapTerm::Muzzy => "reclaimed under memory pressure, not a leak",
            GapTerm::Profiler => "the cost of profiling, not the program's",
            GapTerm::Untouched => "counted but not resident, costs no memory until written",
            GapTerm::NonHeap => "not the Rust heap",
            GapTerm::FreeAndCached => "kept for reuse; a purge returns the whole free pages",
        }
    }

    /// What to do about it: the sentence the diagnosis prints after "N% of RSS" when this
    /// term dominates (`untouched`, never dominant, shares `non_heap`'s).
    pub fn advice(self) -> &'static str {
        match self {
            GapTerm::Requested => {
                "is live data the program asked for: the allocator wastes little; to use less \
                 memory, hold less (see the call sites with the most live bytes)."
            }
            GapTerm::SizeClassRounding => {
                "is size-class rounding: many requests fall just above a class boundary (a \
                 33-byte request takes a 48-byte slot); look at the size-class histogram and \
                 resize, pack or pool those objects."
            }
            GapTerm::AllocatorCaches => {
                "is parked in jemalloc's thread caches or used by its internal allocations: \
                 many allocating threads each keep freed objects; lower \
                 `tcache_max` or set `tcache:false` via `_RJEM_MALLOC_CONF`, or allocate from \
                 fewer threads."
            }
            GapTerm::Fragmentation => {
                "is free space inside partly used pages: many small objects freed in a \
                 scattered pattern keep their pages alive; purging cannot return it — keep \
                 long-lived objects together (a `Vec` of values or an arena instead of many \
                 `Box`es), or free them in bulk."
            }
            GapTerm::Dirty => {
                "is freed pages jemalloc has not returned yet: call `allocscope::purge()`, \
                 lower `dirty_decay_ms` via `_RJEM_MALLOC_CONF`, or enable background threads \
                 (`background_thread:true`)."
            }
            GapTerm::Metadata => {
                "is jemalloc's own bootstrap metadata: normal for a small heap; if it grows, \
                 fewer arenas (`narenas` in `_RJEM_MALLOC_CONF`) reduce it."
            }
            GapTerm::Muzzy => {
                "is pages jemalloc released lazily (MADV_FREE) that the kernel has not \
                 reclaimed yet: they go under memory pressure; set `muzzy_decay_ms:0` via \
                 `_RJEM_MALLOC_CONF` to drop them at once."
            }
            GapTerm::Profiler => {
                "is allocscope's own memory (its tables of call sites and live blocks, its \
                 caches): the price of profiling, not the program's; a larger \
                 `ALLOCSCOPE_SAMPLE_BYTES` (sampled rather than exact mode) shrinks the live table."
            }
            GapTerm::FreeAndCached => {
                "is mimalloc's free space and caches: `allocscope::purge()` \
                 (`mi_collect(true)`) returns whole free pages; free space inside pages that \
                 hold live objects stays."
            }
            GapTerm::Untouched | GapTerm::NonHeap => {
                "is outside jemalloc's heap: code, thread stacks, C libraries' malloc, \
                 memory-mapped files; see /proc/<pid>/smaps for the mappings."
            }
        }
    }

    /// This term's value in `gap`, bytes, as stored (only `non_heap` can be negative;
    /// `untouched` is positive although it is subtracted from the sum: see
    /// [`GapTerm::contribution`]).
    pub fn value(self, gap: &GapBreakdown) -> i64 {
        match self {
            GapTerm::Requested => gap.requested,
            GapTerm::SizeClassRounding => gap.size_class_rounding,
            GapTerm::AllocatorCaches => gap.allocator_caches,
            GapTerm::Fragmentation => gap.fragmentation,
            GapTerm::Dirty => gap.dirty,
            GapTerm::Metadata => gap.metadata,
            GapTerm::Muzzy => gap.muzzy,
            GapTerm::Profiler => gap.profiler,
            GapTerm::Untouched => gap.untouched,
            GapTerm::NonHeap => gap.non_heap,
            // Not a term of jemalloc's breakdown.
            GapTerm::FreeAndCached => 0,
        }
    }

    /// This term's value in a gap over mimalloc, bytes, as stored (0 for a term that is not
    /// one of [`GapTerm::MIMALLOC`]).
    pub fn value_mimalloc(self, gap: &crate::model::gap_mimalloc::MimallocGap) -> i64 {
        match self {
            GapTerm::Requested => gap.requested,
            GapTerm::SizeClassRounding => gap.size_class_rounding,
            GapTerm::FreeAndCached => gap.free_and_cached,
            GapTerm::Profiler => gap.profiler,
            GapTerm::Untouched => gap.untouched,
            GapTerm::NonHeap => gap.non_heap,
            GapTerm::AllocatorCaches
            | GapTerm::Fragmentation
            | GapTerm::Dirty
            | GapTerm::Metadata
            | GapTerm::Muzzy => 0,
        }
    }

    /// What this term adds to a mimalloc gap's RSS (as [`GapTerm::contribution`]).
    pub fn contribution_mimalloc(self, gap: &crate::model::gap_mimalloc::MimallocGap) -> i64 {
        self.value_mimalloc(gap).saturating_mul(self.sign())
    }

    /// +1 for a term that is part of RSS, −1 for `untouched` (inside the heap terms but not
    /// resident).
    pub fn sign(self) -> i64 {
        match self {
            GapTerm::Untouched => -1,
            _ => 1,
        }
    }

    /// What this term adds to RSS: [`GapTerm::value`] times [`GapTerm::sign`]. The
    /// contributions of [`GapTerm::ALL`] add up to `gap.rss` exactly. Saturates (a profile
    /// read from disk may hold any value, `i64::MIN` included).
    pub fn contribution(self, gap: &GapBreakdown) -> i64 {
        self.value(gap).saturating_mul(self.sign())
    }
}

impl std::fmt::Display for GapTerm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The process's RSS set against its container's memory limit, one sentence: "RSS 1.20 GiB
/// of a 2.00 GiB limit (60.0%); page cache 300 MiB also counts toward the limit; the cgroup
/// is charged 1.55 GiB in all (77.5%)." Without a limit (`memory.max` is `max`) it says so.
/// Every report (summary, HTML, the gap's text) words the cgroup with this function.
pub fn container_sentence(cg: &crate::model::cgroup::CgroupMemory) -> String {
    use crate::model::units::{format_share, format_size};
    let cache = cg
        .file
        .filter(|&f| f > 0)
        .map(|f| format!("page cache {}", format_size(f)));
    match cg.limit {
        Some(limit) => {
            let mut s = format!(
                "RSS {} of a {} limit ({})",
                format_size(cg.rss),
                format_size(limit),
                format_share(cg.rss as f64, limit as f64)
            );
            if let Some(cache) = cache {
                s.push_str(&format!("; {cache} also counts toward the limit"));
            }
            s.push_str(&format!(
                "; the cgroup is charged {} in all ({}).",
                format_size(cg.current),
                format_share(cg.current as f64, limit as f64)
            ));
            s
        }
        None => {
            let mut s = format!(
                "RSS {}; the cgroup has no memory limit ({}); it is charged {}",
                format_size(cg.rss),
                cg.version.no_limit(),
                format_size(cg.current)
            );
            if let Some(cache) = cache {
                s.push_str(&format!(", {cache} included"));
            }
            s.push('.');
            s
        }
    }
}

/// The term whose contribution to RSS grew most from `from` to `to`, and by how many bytes
/// (more `untouched` means less RSS: it never explains growth).
///
/// With `from == None` (the other side has no breakdown, e.g. glibc malloc) each term of `to`
/// counts whole, as if it were zero on the other side — the caller should say so. Returns
/// `None` when no term grew.
pub fn largest_increase(from: Option<&GapBreakdown>, to: &GapBreakdown) -> Option<(GapTerm, i64)> {
    GapTerm::ALL
        .iter()
        .map(|&t| {
            (
                t,
                t.contribution(to)
                    .saturating_sub(from.map_or(0, |g| t.contribution(g))),
            )
        })
        .filter(|&(_, d)| d > 0)
        // On a tie, the first term in `ALL` order wins (max_by_key keeps the last maximum).
        .rev()
        .max_by_key(|&(_, d)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap(requested: i64, dirty: i64, fragmentation: i64) -> GapBreakdown {
        GapBreakdown {
            rss: requested + dirty + fragmentation,
            requested,
            dirty,
            fragmentation,
            ..GapBreakdown::default()
        }
    }

    #[test]
    fn values_add_up_to_rss() {
        let g = GapBreakdown {
            rss: 36 + 9 - 10,
            requested: 1,
            size_class_rounding: 2,
            allocator_caches: 3,
            fragmentation: 4,
            dirty: 5,
            metadata: 6,
            muzzy: 7,
            profiler: 9,
            untouched: 10,
            non_heap: 8,
        };
        let sum: i64 = GapTerm::ALL.iter().map(|t| t.contribution(&g)).sum();
        assert_eq!(sum, g.rss);
        assert_eq!(g.sum_of_terms(), g.rss);
        let values: Vec<i64> = GapTerm::ALL.iter().map(|t| t.value(&g)).collect();
        assert_eq!(values, [1, 2, 3, 4, 5, 6, 7, 9, 8, 10]);
        let keys: Vec<&str> = g.terms().iter().map(|t| t.0).collect();
        assert_eq!(keys, GapTerm::ALL.map(GapTerm::key));
    }

    #[test]
    fn largest_increase_picks_the_term_that_grew_most() {
        let a = gap(100, 10, 50);
        let b = gap(100, 90, 60);
        assert_eq!(largest_increase(Some(&a), &b), Some((GapTerm::Dirty, 80)));
        // Shrinking terms never win.
        assert_eq!(largest_increase(Some(&b), &a), None);
        // Without the other side, terms count whole.
        assert_eq!(largest_increase(None, &a), Some((GapTerm::Requested, 100)));
        // More untouched pages mean less RSS: never the explanation of growth.
        let c = GapBreakdown {
            untouched: 500,
            ..a
        };
        assert_eq!(largest_increase(Some(&a), &c), None);
    }

    #[test]
    fn container_sentence_sets_rss_against_the_limit() {
        use crate::model::cgroup::CgroupMemory;
        const MIB: u64 = 1 << 20;
        let cg = CgroupMemory {
            rss: 1229 * MIB,
            current: 1600 * MIB,
            limit: Some(2048 * MIB),
            file: Some(300 * MIB),
            ..CgroupMemory::default()
        };
        assert_eq!(
            container_sentence(&cg),
            "RSS 1.20 GiB of a 2.00 GiB limit (60.0%); page cache 300 MiB also counts toward \
             the limit; the cgroup is charged 1.56 GiB in all (78.1%)."
        );
        let unlimited = CgroupMemory {
            limit: None,
            file: None,
            ..cg
        };
        assert_eq!(
            container_sentence(&unlimited),
            "RSS 1.20 GiB; the cgroup has no memory limit (memory.max is \"max\"); it is \
             charged 1.56 GiB."
        );
        let v1 = CgroupMemory {
            version: crate::model::cgroup::CgroupVersion::V1,
            ..unlimited
        };
        assert_eq!(
            container_sentence(&v1),
            "RSS 1.20 GiB; the cgroup has no memory limit (memory.limit_in_bytes is unlimited); \
             it is charged 1.56 GiB."
        );
    }

    #[test]
    fn ties_go_to_the_first_term() {
        let g = gap(5, 5, 5);
        assert_eq!(largest_increase(None, &g), Some((GapTerm::Requested, 5)));
    }
}
