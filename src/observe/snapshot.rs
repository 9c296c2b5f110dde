//! Snapshots: the counters of the hook, read and summed outside it.

use crate::hook::counters::{ClassSums, SlotSums};
use crate::model::size_class::SizeClass;
use crate::observe::gap::LiveReading;

pub use crate::model::counts::{Counts, SizeClassCounts, Snapshot};

/// Reads every counter of the installed [`crate::Profiler`], process-wide. Takes a few
/// microseconds (it sums the per-thread slots); with the `jemalloc` feature over jemalloc it
/// also reads the allocator's statistics and /proc for the [`GapBreakdown`](crate::GapBreakdown) (tens of µs),
/// and the process's cgroup v2 memory files when there are any ([`crate::cgroup`], 25–45 µs).
///
/// The snapshot's own allocations (the list of size classes, and the cgroup's path when the
/// process has a memory cgroup) are made in the caller's scope, which owns and frees them:
/// counted as the caller's, like any value it makes.
///
/// All zeros (and `gap: None`) when no `Profiler` is installed. Never panics.
pub fn snapshot() -> Snapshot {
    if !crate::hook::profiler::is_installed() {
        return Snapshot::default();
    }
    // Reading jemalloc and /proc is allocscope's own work, not the program's (and reading
    // the counters allocates nothing).
    let (totals, gap) =
        crate::hook::guard::untracked(|| crate::observe::gap::compute(live_reading));
    let t = &totals;
    let live_bytes = live_bytes_of(t);
    crate::hook::counters::observe_live(live_bytes);
    let size_classes = size_classes(t);
    // Allocates only the result's path, which the caller owns (as it owns `size_classes`).
    let cgroup = crate::observe::cgroup::read();
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
        cgroup,
    }
}

/// The counters' sums now, with the live requested bytes and their usable size. Allocates
/// nothing.
pub(crate) fn live_reading() -> LiveReading<SlotSums> {
    let t = crate::hook::counters::totals();
    LiveReading {
        requested: live_bytes_of(&t),
        usable: t
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| class_counts(i, c).live_usable_bytes)
            .sum(),
        counters: t,
    }
}

/// Live requested bytes.
fn live_bytes_of(t: &SlotSums) -> u64 {
    t.bytes_allocated().saturating_sub(t.bytes_freed())
}

/// Counters of the classes that saw a block, ascending.
fn size_classes(t: &SlotSums) -> Vec<SizeClassCounts> {
    t.classes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.blocks_in != 0 || c.blocks_out != 0)
        .map(|(i, c)| class_counts(i, c))
        .collect()
}

/// The counters of the class of index `i`.
fn class_counts(i: usize, c: &ClassSums) -> SizeClassCounts {
    let size = SizeClass::from_index(i).map_or(0, SizeClass::size);
    // Blocks fill their class, less the shortfall of page-rounded ones.
    let usable_in = size
        .wrapping_mul(c.blocks_in)
        .wrapping_sub(c.large_shortfall_in);
    let usable_out = size
        .wrapping_mul(c.blocks_out)
        .wrapping_sub(c.large_shortfall_out);
    SizeClassCounts {
        size,
        allocs: c.blocks_in,
        frees: c.blocks_out,
        requested_bytes: c.requested_in,
        usable_bytes: usable_in,
        live_blocks: c.blocks_in.saturating_sub(c.blocks_out),
        live_requested_bytes: c.requested_in.saturating_sub(c.requested_out),
        live_usable_bytes: usable_in.saturating_sub(usable_out),
    }
}
