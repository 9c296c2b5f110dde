//! The RSS gap as data: [`GapBreakdown`]'s terms and their sum. Computing it from jemalloc's
//! statistics and `/proc`, and its prose, live in [`crate::gap`]; each term's wording
//! in [`crate::gap_term`].

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// The process's RSS split term by term, in bytes. The terms add up to `rss` exactly, with
/// `untouched` subtracted (it is inside `requested` or another heap term, but not resident):
///
/// `rss = requested + size_class_rounding + allocator_caches + fragmentation + dirty +
/// metadata + muzzy + profiler + non_heap − untouched`
///
/// See `docs/gap.md` for each term and the jemalloc statistics behind it. `non_heap` is the
/// remainder; it can only be negative when a large untouched block escaped `untouched`
/// (more than 1024 large blocks live, or pages only ever read through the zero page).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct GapBreakdown {
    /// Resident set size of the process.
    pub rss: i64,
    /// Live bytes the program asked for.
    pub requested: i64,
    /// Usable − requested bytes of the live blocks (internal fragmentation).
    pub size_class_rounding: i64,
    /// Thread caches and jemalloc's internal allocations (`allocated − usable − profiler
    /// heap`).
    pub allocator_caches: i64,
    /// Free space inside pages that hold live objects (`active − allocated`).
    pub fragmentation: i64,
    /// Freed pages not yet returned to the OS (`pdirty · page`).
    pub dirty: i64,
    /// Allocator bootstrap metadata: the resident part of jemalloc's base allocator
    /// (`resident − active − dirty`, measured equal to `page_ceil(base)`).
    pub metadata: i64,
    /// `MADV_FREE`'d pages the kernel has not reclaimed yet.
    pub muzzy: i64,
    /// allocscope's own memory: its heap blocks (usable bytes) and the resident pages of its
    /// tables ([`crate::OwnMemory`]). Absent (0) in profiles written before it existed.
    #[cfg_attr(feature = "serde", serde(default))]
    pub profiler: i64,
    /// Bytes the heap terms count that are not resident, so the sum subtracts them: pages of
    /// large live blocks (≥ 1 MiB) never faulted in (counted in `requested`, and by jemalloc
    /// as active and resident), and whatever jemalloc counts as resident beyond the process's
    /// anonymous RSS (its own metadata never touched; docs/gap.md). Absent (0) in profiles
    /// written before it existed.
    #[cfg_attr(feature = "serde", serde(default))]
    pub untouched: i64,
    /// Everything that is not jemalloc's nor allocscope's: code, stacks, C libraries'
    /// malloc, other mappings.
    pub non_heap: i64,
}

/// allocscope's own memory and the untouched bytes of large blocks, read at the moment of a
/// gap (see [`GapBreakdown::from_parts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observer {
    /// allocscope's own heap blocks, usable bytes (inside jemalloc's `allocated` when
    /// jemalloc is the allocator).
    pub profiler_heap: u64,
    /// Resident bytes of allocscope's mapped and static tables (outside jemalloc).
    pub profiler_tables: u64,
    /// Bytes of large live blocks whose pages are not resident.
    pub untouched: u64,
}

/// [`Observer`]'s figures as signed gap terms, allocscope's heap carved out of the
/// allocator's pool it lives in (see [`Observer::shares`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ObserverShares {
    /// allocscope's heap blocks, at most all of the pool.
    pub heap: i64,
    /// allocscope's resident tables (outside the allocator).
    pub tables: i64,
    /// Untouched bytes of large live blocks (subtracted from the sum).
    pub untouched: i64,
}

impl Observer {
    /// The shares of a gap over any allocator: `pool` is what the allocator holds beyond the
    /// program's live usable bytes (jemalloc's `allocated`, mimalloc's `committed`, minus
    /// them), of which allocscope's heap blocks are part; they take at most all of it.
    pub(crate) fn shares(&self, pool: i64) -> ObserverShares {
        let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        ObserverShares {
            heap: i(self.profiler_heap).min(pool.max(0)),
            tables: i(self.profiler_tables),
            untouched: i(self.untouched),
        }
    }
}

impl GapBreakdown {
    /// The terms in table order ([`GapTerm::ALL`](crate::GapTerm::ALL)), with their
    /// serialized names (`rss` excluded), as stored: every
    /// value counts positively towards `rss` except `untouched`, which is subtracted (see
    /// [`GapTerm::contribution`](crate::GapTerm::contribution)).
    pub fn terms(&self) -> [(&'static str, i64); 10] {
        crate::model::gap_term::GapTerm::ALL.map(|t| (t.key(), t.value(self)))
    }

    /// The sum of the terms with `untouched` subtracted; equals `rss` for any breakdown this
    /// crate computes.
    pub fn sum_of_terms(&self) -> i64 {
        crate::model::gap_term::GapTerm::ALL
            .iter()
            .map(|t| t.contribution(self))
            .sum()
    }
}
