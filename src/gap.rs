//! The RSS gap: where resident memory goes beyond the bytes the program asked for.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// The process's RSS split term by term, in bytes. The terms add up to `rss` exactly;
/// `non_heap` is what remains and may be negative (jemalloc's `resident` counts pages that
/// were never touched).
///
/// See `../shared/NOTES.md` §1 for the formula:
/// `rss = requested + size_class_rounding + allocator_caches + fragmentation + dirty +
/// metadata + muzzy + non_heap`.
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
    /// Thread caches and jemalloc's internal allocations (`allocated − usable`).
    pub allocator_caches: i64,
    /// Free space inside pages that hold live objects (`active − allocated`).
    pub fragmentation: i64,
    /// Freed pages not yet returned to the OS (`pdirty · page`).
    pub dirty: i64,
    /// Allocator bootstrap metadata (`page_ceil(base)`).
    pub metadata: i64,
    /// `MADV_FREE`'d pages the kernel has not reclaimed yet.
    pub muzzy: i64,
    /// Everything that is not jemalloc's: code, stacks, C libraries' malloc, other mappings.
    pub non_heap: i64,
}

/// The gap for the current moment, given the live requested bytes and their usable size
/// (both exact, from the counters). `None` unless the installed inner allocator is jemalloc.
pub(crate) fn compute(_requested_live: u64, _usable_live: u64) -> Option<GapBreakdown> {
    None
}
