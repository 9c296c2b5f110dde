//! Call sites: what the hook hands over for sampled allocations. (Stub until the call-site
//! recorder lands: nothing is sampled.)

use std::alloc::Layout;

/// Decides whether the allocation of `size` bytes about to happen is sampled. Hot path.
#[inline]
pub(crate) fn sample_alloc(_size: usize) -> bool {
    false
}

/// The layout a sampled allocation is made with (may be over-aligned so frees of unsampled
/// blocks can skip the lookup).
#[inline]
pub(crate) fn layout_for_sampled(layout: Layout) -> Layout {
    layout
}

/// Records a sampled allocation made at `ptr` for the user's `layout`. Hot path.
///
/// # Safety
/// `ptr` must be the non-null result of allocating `layout_for_sampled(layout)`.
#[inline]
pub(crate) unsafe fn record_alloc(_ptr: *mut u8, _layout: Layout) {}

/// If `ptr` is a sampled block, forgets it (accounting its free to its site) and returns the
/// layout it was really allocated with. Hot path; cheap when `ptr` was not sampled.
#[inline]
pub(crate) fn take_live(_ptr: *mut u8, _layout: Layout) -> Option<Layout> {
    None
}

/// The process reached a new peak of `live` requested bytes. Hot path.
#[inline]
pub(crate) fn on_new_peak(_live: u64) {}
