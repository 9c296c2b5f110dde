//! Large live blocks, for the `untouched` term of the RSS gap (see `docs/gap.md`).
//!
//! A block the program requested is counted as requested (and by jemalloc as active and
//! resident) from the moment it is allocated, but the kernel only makes its pages resident
//! when they are first touched: a `Vec` reserved at 256 MB and filled to 16 MB adds 16 MB to
//! RSS, not 256. The hook remembers every block of at least [`THRESHOLD`] bytes in a fixed
//! table (no allocation, lock-free; such blocks are rare, and a smaller request pays one
//! comparison), and a snapshot asks the kernel with `mincore(2)` which of their pages are
//! resident. Blocks beyond the table's [`SLOTS`] are not looked at.
//!
//! A large block is counted by the allocator a moment before (alloc, realloc) or after
//! (free) this table knows it: during a `realloc` that copies a large block, for
//! milliseconds. The hook marks large reallocs and frees as in flight, and a gap is read
//! only when none is ([`settled`]; see `docs/gap.md`).

use std::sync::atomic::{AtomicUsize, Ordering::*};

/// Blocks at least this large are tracked (1 MiB). A lower threshold (64 KiB) was tried
/// on the demo and changed nothing measurable: smaller blocks fill up before they matter.
pub(crate) const THRESHOLD: usize = 1 << 20;
/// Most large blocks tracked at once.
pub(crate) const SLOTS: usize = 1024;

/// Block addresses (0 = free slot) and their requested sizes (0 while being filled in).
static PTRS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static SIZES: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];

#[inline(always)]
fn start_slot(p: usize) -> usize {
    ((p >> 12).wrapping_mul(0x9E37_79B9)) % SLOTS
}

/// Large reallocs and frees between their first step (the table, or the allocator) and
/// their last.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Bumped when a large block enters or leaves the table and when an in-flight call begins
/// or ends: a gap read while it did not change saw the table and the allocator agree.
static EPOCH: AtomicUsize = AtomicUsize::new(0);

/// A block of `size` bytes was allocated at `ptr` (null: the allocation failed). Hook: one
/// comparison unless the block is large.
#[inline(always)]
pub(crate) fn on_alloc(ptr: *mut u8, size: usize) {
    if size >= THRESHOLD && !ptr.is_null() {
        insert(ptr as usize, size);
    }
}

/// The block of `size` bytes at `ptr` is about to be freed. Hook: one comparison unless the
/// block is large. True for a large block: the free is in flight until [`done`].
#[inline(always)]
pub(crate) fn on_free(ptr: *mut u8, size: usize) -> bool {
    if size >= THRESHOLD {
        begin();
        remove(ptr as usize);
        return true;
    }
    false
}

/// A realloc from `old_size` to `new_size` bytes is about to call the allocator. Hook: two
/// comparisons unless a side is large. True when it is large: in flight until [`done`].
#[inline(always)]
pub(crate) fn realloc_begins(old_size: usize, new_size: usize) -> bool {
    if old_size >= THRESHOLD || new_size >= THRESHOLD {
        begin();
        return true;
    }
    false
}

/// Ends the call that [`on_free`] or [`realloc_begins`] marked in flight (`large`), once
/// the allocator has returned and the table is up to date.
#[inline(always)]
pub(crate) fn done(large: bool) {
    if large {
        end();
    }
}

#[cold]
#[inline(never)]
fn begin() {
    IN_FLIGHT.fetch_add(1, SeqCst);
    EPOCH.fetch_add(1, SeqCst);
}

#[cold]
#[inline(never)]
fn end() {
    EPOCH.fetch_add(1, SeqCst);
    IN_FLIGHT.fetch_sub(1, SeqCst);
}

/// Longest a gap waits for in-flight large calls: a realloc copying a few hundred MiB.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// Runs `read` (which reads allocscope's counters, the allocator's figures, then
/// [`untouched_bytes`], then RSS) at a moment when no large realloc or free is in flight and
/// the table did not change meanwhile, so that every large block the allocator counts is in
/// the table and in the counters. Waits for in-flight calls up to `SETTLE_WAIT`; past it,
/// in-flight calls no longer hold the read back (a program always in the middle of a large
/// realloc), but the read is still retried until no large block entered or left while it
/// ran (the epoch did not move), up to `SETTLE_WAIT` more; `None` if no such moment came (a
/// program making large calls back to back). A read that straddled a large free counted the
/// block in allocscope's counters and not in the allocator's figures: a term negative by the
/// block's size, so it is never returned. A forked child, where a thread that was in flight
/// no longer exists, reads at once. Never allocates.
pub(crate) fn settled<T>(mut read: impl FnMut() -> T) -> Option<T> {
    if crate::hook::forked::in_forked_child() {
        return Some(read());
    }
    let start = crate::hook::clock::now_ns();
    let wait = SETTLE_WAIT.as_nanos() as u64;
    loop {
        let epoch = EPOCH.load(SeqCst);
        let waited = crate::hook::clock::now_ns().saturating_sub(start);
        if waited >= 2 * wait {
            return None;
        }
        if waited < wait && IN_FLIGHT.load(SeqCst) != 0 {
            std::thread::sleep(std::time::Duration::from_micros(100));
            continue;
        }
        let r = read();
        if EPOCH.load(SeqCst) == epoch {
            return Some(r);
        }
    }
}

/// The block of `old_size` bytes at `old` now lives at `new` (non-null) with `new_size`
/// bytes. Hook: two comparisons unless a side is large.
#[inline(always)]
pub(crate) fn on_realloc(old: *mut u8, old_size: usize, new: *mut u8, new_size: usize) {
    if old_size >= THRESHOLD || new_size >= THRESHOLD {
        realloc_slow(old as usize, old_size, new as usize, new_size);
    }
}

#[cold]
#[inline(never)]
fn realloc_slow(old: usize, old_size: usize, new: usize, new_size: usize) {
    if old_size >= THRESHOLD {
        remove(old);
    }
    if new_size >= THRESHOLD && new != 0 {
        insert(new, new_size);
    }
}

#[cold]
#[inline(never)]
fn insert(p: usize, size: usize) {
    let first = start_slot(p);
    for k in 0..SLOTS {
        let i = (first + k) % SLOTS;
        let (Some(slot), Some(sz)) = (PTRS.get(i), SIZES.get(i)) else {
            return;
        };
        if slot.load(Relaxed) == 0 && slot.compare_exchange(0, p, Acquire, Relaxed).is_ok() {
            sz.store(size, Release);
            EPOCH.fetch_add(1, SeqCst);
            return;
        }
    }
    // Table full: this block's untouched pages stay in `non_heap` (see `docs/gap.md`).
}

#[cold]
#[inline(never)]
fn remove(p: usize) {
    // Slots are freed in place (no probe chains), so an absent block means a full scan:
    // 1024 loads, rare next to the cost of freeing a block of a megabyte or more.
    let first = start_slot(p);
    for k in 0..SLOTS {
        let i = (first + k) % SLOTS;
        let (Some(slot), Some(sz)) = (PTRS.get(i), SIZES.get(i)) else {
            return;
        };
        if slot.load(Relaxed) == p {
            sz.store(0, Relaxed);
            if slot.compare_exchange(p, 0, Release, Relaxed).is_ok() {
                EPOCH.fetch_add(1, SeqCst);
                return;
            }
        }
    }
}

/// Bytes of the tracked large blocks whose pages are not resident: whole pages overlapping a
/// block that `mincore` says were never faulted in (or were released), capped at the block's
/// size. Never allocates.
pub(crate) fn untouched_bytes() -> u64 {
    let page = crate::model::size_class::page_size() as u64;
    let mut total = 0u64;
    for (slot, sz) in PTRS.iter().zip(SIZES.iter()) {
        let p = slot.load(Acquire);
        if p == 0 {
            continue;
        }
        let size = sz.load(Acquire);
        if size == 0 {
            continue;
        }
        let (resident, pages) = crate::hook::own_memory::pages_in(p, size);
        total += ((pages - resident) * page).min(size as u64);
    }
    total
}

/// Resident bytes of this module's own tables.
pub(crate) fn table_resident_bytes() -> u64 {
    let bytes = core::mem::size_of_val(&PTRS);
    crate::hook::own_memory::resident_in(PTRS.as_ptr() as usize, bytes)
        + crate::hook::own_memory::resident_in(SIZES.as_ptr() as usize, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_and_remove_keep_the_table_consistent() {
        // Addresses no allocator returns, so concurrent tests cannot collide with them.
        let base = 0x7000_0000_0000usize;
        let before = PTRS.iter().filter(|s| s.load(Relaxed) != 0).count();
        for k in 0..10 {
            insert(base + k * 4096, THRESHOLD + k);
        }
        for k in 0..10 {
            let p = base + k * 4096;
            let i = PTRS
                .iter()
                .position(|s| s.load(Relaxed) == p)
                .expect("tracked");
            assert_eq!(SIZES[i].load(Relaxed), THRESHOLD + k);
        }
        realloc_slow(base, THRESHOLD, base + 100 * 4096, 2 * THRESHOLD);
        for k in 1..10 {
            remove(base + k * 4096);
        }
        remove(base + 100 * 4096);
        let after = PTRS.iter().filter(|s| s.load(Relaxed) != 0).count();
        assert_eq!(before, after);
    }
}
