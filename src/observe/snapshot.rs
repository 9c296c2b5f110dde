//! Snapshots: the counters of the hook, read and summed outside it.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::observe::gap::GapBreakdown;

/// Exact allocation counters over some scope (a thread inside [`crate::observe::measure`], or the
/// whole process inside a [`Snapshot`]).
///
/// A `realloc` counts as freeing the old block and allocating the new one in the byte
/// figures (as valgrind's DHAT and heaptrack count it), but only in `reallocs` among the
/// call counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Counts {
    /// Calls to `alloc` and `alloc_zeroed`.
    pub allocs: u64,
    /// Calls to `realloc`.
    pub reallocs: u64,
    /// Calls to `dealloc`.
    pub frees: u64,
    /// Bytes requested by allocs plus the new size of every realloc.
    pub bytes_allocated: u64,
    /// Bytes released by frees plus the old size of every realloc.
    pub bytes_freed: u64,
}

impl Counts {
    /// Blocks allocated minus blocks freed in this scope (may be negative for a scope that
    /// frees what was allocated before it).
    pub fn net_blocks(&self) -> i64 {
        self.allocs as i64 - self.frees as i64
    }

    /// Bytes allocated minus bytes freed in this scope (may be negative).
    pub fn net_bytes(&self) -> i64 {
        self.bytes_allocated as i64 - self.bytes_freed as i64
    }
}

/// The counters of one size class.
///
/// A block belongs to the class its usable size falls in (see [`crate::SizeClass`]);
/// a realloc moves a block out of one class and into another (so `allocs` here counts the
/// blocks that entered the class, reallocs included, and the classes' live blocks add up to
/// the process's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct SizeClassCounts {
    /// The class: usable bytes of a block of this class (for page-rounded large classes, the
    /// upper bound of the class).
    pub size: u64,
    /// Blocks that entered the class (allocs and realloc results).
    pub allocs: u64,
    /// Blocks that left the class (frees and realloc sources).
    pub frees: u64,
    /// Bytes requested by the blocks that entered.
    pub requested_bytes: u64,
    /// Usable bytes of the blocks that entered.
    pub usable_bytes: u64,
    /// Live blocks now.
    pub live_blocks: u64,
    /// Live requested bytes now.
    pub live_requested_bytes: u64,
    /// Live usable bytes now (`live_usable_bytes - live_requested_bytes` is the rounding
    /// waste held right now).
    pub live_usable_bytes: u64,
}

/// Everything allocscope counts, process-wide, at one moment. See [`crate::snapshot()`].
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Snapshot {
    /// Calls to `alloc` and `alloc_zeroed`.
    pub allocs: u64,
    /// Calls to `realloc`.
    pub reallocs: u64,
    /// Reallocs to a larger size.
    pub reallocs_grew: u64,
    /// Reallocs to a smaller (or equal) size.
    pub reallocs_shrank: u64,
    /// Reallocs that returned the same address.
    pub reallocs_in_place: u64,
    /// Reallocs that returned another address.
    pub reallocs_moved: u64,
    /// Calls to `dealloc`.
    pub frees: u64,
    /// Bytes requested by allocs plus the new size of every realloc.
    pub bytes_allocated: u64,
    /// Bytes released by frees plus the old size of every realloc.
    pub bytes_freed: u64,
    /// `bytes_allocated - bytes_freed`.
    pub live_bytes: u64,
    /// `allocs - frees`.
    pub live_blocks: u64,
    /// The highest `live_bytes` seen. Exact for a single-threaded program; with several
    /// threads it may miss a peak by at most [`crate::PEAK_SLACK_PER_THREAD`] bytes per
    /// thread allocating at that moment.
    pub peak_live_bytes: u64,
    /// Counters per size class, ascending, only classes that saw a block.
    pub size_classes: Vec<SizeClassCounts>,
    /// The RSS gap, when the inner allocator gives statistics (jemalloc); else `None`.
    pub gap: Option<GapBreakdown>,
}

/// Reads every counter of the installed [`crate::Profiler`], process-wide. Takes a few
/// microseconds (it sums the per-thread slots); with the `jemalloc` feature over jemalloc it
/// also reads the allocator's statistics and /proc for the [`GapBreakdown`] (tens of µs).
///
/// All zeros (and `gap: None`) when no `Profiler` is installed. Never panics.
pub fn snapshot() -> Snapshot {
    if !crate::hook::profiler::is_installed() {
        return Snapshot::default();
    }
    let totals = crate::hook::counters::totals();
    let t = &totals;
    let live_bytes = t.bytes_allocated().saturating_sub(t.bytes_freed());
    crate::hook::counters::observe_live(live_bytes);
    let size_classes = t.size_classes();
    let usable_live: u64 = size_classes.iter().map(|c| c.live_usable_bytes).sum();
    // Reading jemalloc and /proc is allocscope's own work, not the program's.
    let gap =
        crate::hook::guard::untracked(|| crate::observe::gap::compute(live_bytes, usable_live));
    Snapshot {
        allocs: t.allocs(),
        reallocs: t.reallocs(),
        reallocs_grew: t.reallocs_grew(),
        reallocs_shrank: t.reallocs_shrank(),
        reallocs_in_place: t.reallocs_in_place(),
        reallocs_moved: t.reallocs_moved(),
        frees: t.frees(),
        bytes_allocated: t.bytes_allocated(),
        bytes_freed: t.bytes_freed(),
        live_bytes,
        live_blocks: t.allocs().saturating_sub(t.frees()),
        peak_live_bytes: crate::hook::counters::peak_live().max(live_bytes),
        size_classes,
        gap,
    }
}
