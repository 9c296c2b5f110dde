//! The RSS gap over mimalloc, as data: its terms differ from jemalloc's
//! ([`crate::model::gap::GapBreakdown`]). Computed by `observe::gap_mimalloc`.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// The process's RSS split by what mimalloc reports, in bytes. The terms add up to `rss`
/// exactly, with `untouched` subtracted (docs/mimalloc.md):
///
/// `rss = requested + size_class_rounding + free_and_cached + profiler + non_heap − untouched`
///
/// where `requested + size_class_rounding + free_and_cached + profiler_heap = committed`.
/// `non_heap` is the remainder, at least the file-backed pages: `committed` counts pages that
/// are not resident (fresh pages never faulted in, a freed block's untouched tail, pages a
/// purge reset with `MADV_DONTNEED`, its default on Linux, which stay committed in its
/// books), and whatever the heap terms claim beyond the process's anonymous RSS is moved
/// into `untouched` ([`MimallocGap::bounded_by_file_backed`](crate::MimallocGap::bounded_by_file_backed)).
/// So after a large free or a purge `free_and_cached` is an upper bound of what mimalloc's
/// caches hold in RAM (measured: RSS 32.4 → 8.4 MiB after `mi_collect(true)`, committed
/// unchanged at 26.5 MiB). mimalloc's release builds (`MI_STAT=0`, the `mimalloc` crate's
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
    /// mimalloc's caches and free space (`committed − usable − profiler heap`): free blocks
    /// inside its pages (fragmentation, the free lists that are its block caches), freed
    /// pages it keeps committed for reuse until it purges them (`purge_delay`, or
    /// `mi_collect(true)`), and its metadata.
    pub free_and_cached: i64,
    /// allocscope's own memory: its heap blocks (usable bytes, inside mimalloc's
    /// `committed`) and the resident pages of its tables (outside it). Absent (0) in
    /// breakdowns written before it existed.
    #[cfg_attr(feature = "serde", serde(default))]
    pub profiler: i64,
    /// Bytes mimalloc counts as committed that are not resident: the pages of large live
    /// blocks (≥ 1 MiB) never faulted in (counted in `requested`), and whatever the heap
    /// terms claim beyond the process's anonymous RSS (mostly in `free_and_cached`). Not in
    /// RSS, so the sum subtracts them. Absent (0) in breakdowns written before it existed.
    #[cfg_attr(feature = "serde", serde(default))]
    pub untouched: i64,
    /// Everything that is neither mimalloc's committed memory nor allocscope's: code, stacks,
    /// C libraries' malloc, other mappings (`rss − committed − profiler tables +
    /// untouched`, at least the file-backed pages).
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
