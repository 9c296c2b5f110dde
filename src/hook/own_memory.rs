//! allocscope's own memory: the `profiler` term of the RSS gap (see `docs/gap.md`).
//!
//! Two parts, both counted by allocscope itself:
//!
//! - **heap**: usable bytes of the blocks allocscope allocates through the global allocator
//!   without counting them (inside the hook, on its internal threads, in `untracked` scopes:
//!   the symbolizer's caches, the timeline's points, the profile being assembled), allocated
//!   minus freed. Kept in one relaxed atomic updated only on those uncounted paths, so the
//!   program's own allocations never touch it. Usable sizes follow jemalloc's size classes
//!   (what jemalloc's `stats.allocated` counts).
//! - **tables**: the resident bytes of the tables allocscope maps or keeps in static arrays
//!   (the live table's shards, the site table's chunks and index, the large-block table, the
//!   span table, the per-thread counter slots in use) and of the stacks of allocscope's own
//!   threads, asked of the kernel with `mincore(2)` when a snapshot is taken.
//!
//! Not counted (small, see `docs/gap.md`): jemalloc's thread caches and arena of allocscope's
//! threads, and files the symbolizer maps.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};

/// Live usable bytes of allocscope's uncounted heap blocks (allocated − freed; may dip below
/// zero if a block crosses from a counted scope to an uncounted one).
static HEAP: AtomicI64 = AtomicI64::new(0);

#[inline]
fn usable(size: usize, align: usize) -> i64 {
    crate::model::size_class::usable_size(size, align) as i64
}

/// An uncounted allocation of `size` bytes (alignment `align`) succeeded. Never allocates.
#[inline]
pub(crate) fn on_alloc(size: usize, align: usize) {
    HEAP.fetch_add(usable(size, align), Relaxed);
}

/// An uncounted block of `size` bytes (alignment `align`) is freed. Never allocates.
#[inline]
pub(crate) fn on_free(size: usize, align: usize) {
    HEAP.fetch_sub(usable(size, align), Relaxed);
}

/// An uncounted block was reallocated from `old` to `new` bytes. Never allocates.
#[inline]
pub(crate) fn on_realloc(old: usize, new: usize, align: usize) {
    HEAP.fetch_add(usable(new, align) - usable(old, align), Relaxed);
}

/// allocscope's own memory at one moment, in bytes. See [`own_memory`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OwnMemory {
    /// Usable bytes of allocscope's own live heap blocks (symbolizer caches, timeline points,
    /// reporter threads' data), allocated through the global allocator but not counted as
    /// the program's.
    pub heap: u64,
    /// Resident bytes of the live table (the sampled blocks' addresses; in exact mode, every
    /// live block's).
    pub live_table: u64,
    /// Resident bytes of the site table (one record per distinct stack) and its index.
    pub site_table: u64,
    /// Resident bytes of allocscope's other fixed tables (the large-block table, the span
    /// table, the per-thread counter slots in use) and of the stacks of allocscope's own
    /// threads (reporter, timeline, flush, HTTP server).
    pub other_tables: u64,
}

impl OwnMemory {
    /// Bytes allocscope maps or keeps in static tables, resident (not in the allocator's
    /// heap).
    pub fn tables(&self) -> u64 {
        self.live_table + self.site_table + self.other_tables
    }

    /// All of it: [`OwnMemory::heap`] + [`OwnMemory::tables`].
    pub fn total(&self) -> u64 {
        self.heap + self.tables()
    }
}

/// Reads allocscope's own memory now: the heap counter and, with `mincore(2)`, the resident
/// pages of its tables (a few µs per MiB of table). Never allocates.
pub fn own_memory() -> OwnMemory {
    OwnMemory {
        heap: HEAP.load(Relaxed).max(0) as u64,
        live_table: crate::hook::live_table::resident_bytes(),
        site_table: crate::hook::site_table::resident_bytes(),
        other_tables: crate::hook::large_blocks::table_resident_bytes()
            + crate::hook::spans::resident_bytes()
            + crate::hook::counters::resident_bytes()
            + thread_stacks_resident_bytes(),
    }
}

/// Slots for the stacks of allocscope's own threads: `(start, len)`, `(0, 0)` when free.
const STACK_SLOTS: usize = 16;
static STACKS: [(AtomicUsize, AtomicUsize); STACK_SLOTS] =
    [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; STACK_SLOTS];

/// While alive, the calling thread's stack counts as allocscope's own memory (its resident
/// pages, by `mincore`, in [`OwnMemory::other_tables`]). Made by one of allocscope's threads
/// when it starts; dropped when it ends.
pub(crate) struct OwnThreadStack(Option<usize>);

impl OwnThreadStack {
    /// Registers the calling thread's stack, if the C library tells where it is and a slot
    /// is free (otherwise its pages stay in `non_heap`, as before).
    pub(crate) fn register() -> OwnThreadStack {
        let Some((start, len)) = current_stack() else {
            return OwnThreadStack(None);
        };
        for (i, (s, l)) in STACKS.iter().enumerate() {
            if s.compare_exchange(0, start, Relaxed, Relaxed).is_ok() {
                l.store(len, Relaxed);
                return OwnThreadStack(Some(i));
            }
        }
        OwnThreadStack(None)
    }
}

impl Drop for OwnThreadStack {
    fn drop(&mut self) {
        if let Some((s, l)) = self.0.and_then(|i| STACKS.get(i)) {
            l.store(0, Relaxed);
            s.store(0, Relaxed);
        }
    }
}

/// The calling thread's stack, `(lowest address, length)`.
#[cfg(target_os = "linux")]
fn current_stack() -> Option<(usize, usize)> {
    // SAFETY: `attr` is initialised by pthread_getattr_np before it is read and destroyed
    // once; `addr` and `len` are valid out-pointers.
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = core::ptr::null_mut();
        let mut len: libc::size_t = 0;
        let r = libc::pthread_attr_getstack(&attr, &mut addr, &mut len);
        libc::pthread_attr_destroy(&mut attr);
        (r == 0 && !addr.is_null() && len != 0).then_some((addr as usize, len))
    }
}

#[cfg(not(target_os = "linux"))]
fn current_stack() -> Option<(usize, usize)> {
    None
}

/// Resident bytes of the registered stacks of allocscope's threads.
fn thread_stacks_resident_bytes() -> u64 {
    STACKS
        .iter()
        .map(|(s, l)| resident_in(s.load(Relaxed), l.load(Relaxed)))
        .sum()
}

/// Pages per `mincore` call (its result vector lives on the stack).
const MINCORE_CHUNK: usize = 4096;

/// Resident bytes of the pages overlapping `[addr, addr + len)`, by `mincore(2)`. A range
/// that is (partly) unmapped while it is looked at counts what could be read before. Pages
/// that were only ever read may be backed by the shared zero page, which `mincore` reports
/// as resident although RSS does not count it (see `docs/gap.md`).
pub(crate) fn resident_in(addr: usize, len: usize) -> u64 {
    let (resident_pages, _) = pages_in(addr, len);
    resident_pages * crate::model::size_class::page_size() as u64
}

/// (resident, total) pages overlapping `[addr, addr + len)`.
pub(crate) fn pages_in(addr: usize, len: usize) -> (u64, u64) {
    if len == 0 || addr == 0 {
        return (0, 0);
    }
    let page = crate::model::size_class::page_size();
    let start = addr & !(page - 1);
    let end = addr.saturating_add(len).saturating_add(page - 1) & !(page - 1);
    let total = ((end - start) / page) as u64;
    let mut vec = [0u8; MINCORE_CHUNK];
    let mut resident = 0u64;
    let mut at = start;
    while at < end {
        let pages = ((end - at) / page).min(MINCORE_CHUNK);
        // SAFETY: `at` is page-aligned, `vec` holds at least `pages` bytes; mincore only
        // writes the result vector and fails with ENOMEM (nothing written) when part of the
        // range is not mapped.
        let r = unsafe { libc::mincore(at as *mut libc::c_void, pages * page, vec.as_mut_ptr()) };
        if r == 0 {
            resident += vec.iter().take(pages).filter(|&&b| b & 1 != 0).count() as u64;
        }
        at += pages * page;
    }
    (resident, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mincore_sees_touched_pages_only() {
        let page = crate::model::size_class::page_size();
        let len = 64 * page;
        // SAFETY: anonymous private mapping, checked; unmapped at the end.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        assert_eq!(pages_in(p as usize, len), (0, 64));
        for i in 0..10 {
            // SAFETY: inside the mapping.
            unsafe { *(p as *mut u8).add(i * 3 * page) = 1 };
        }
        assert_eq!(pages_in(p as usize, len), (10, 64));
        // Pages 0 (touched) and 1 (not) overlap this range.
        assert_eq!(resident_in(p as usize + 1, page), page as u64);
        // SAFETY: our mapping, of this length.
        unsafe { libc::munmap(p, len) };
    }
}
