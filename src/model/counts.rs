//! The counts: what the hook counted, as data (see [`crate::snapshot`] for reading
//! them).

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::model::gap::GapBreakdown;

/// Exact allocation counters over some scope (a thread inside [`crate::measure`], or the
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
    /// The RSS gap, when the inner allocator gives statistics (jemalloc); else `None`. Also
    /// `None` at a moment when another thread kept large blocks (≥ 1 MiB) coming and going
    /// back to back for 400 ms, so that no consistent reading could be taken
    /// (`docs/gap.md`, "Large blocks in flight").
    pub gap: Option<GapBreakdown>,
    /// The process's memory cgroup figures (v2 or v1) and limit (containers), when there are any
    /// ([`crate::cgroup`]).
    #[cfg_attr(feature = "serde", serde(default))]
    pub cgroup: Option<crate::model::cgroup::CgroupMemory>,
}
