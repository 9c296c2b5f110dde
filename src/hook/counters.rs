//! Exact counters, written by the hook and summed by [`crate::snapshot`].
//!
//! Each thread owns a slot of a fixed, statically allocated table. Only the owning thread
//! writes its slot, with plain relaxed load+store (no locked instruction, no shared cache line
//! on the hot path); readers sum all slots with relaxed loads. A slot whose thread has exited
//! keeps its counts and is handed to the next new thread, which simply keeps adding to them.
//! A thread that finds no free slot, or that allocates after its slot was released during TLS
//! teardown, counts into a shared fallback slot with atomic read-modify-write operations.
//!
//! Small requests (≤ 4 KiB, aligned to at most 8) are counted per exact size by the fast paths
//! (one increment each) and folded into size classes by the readers; everything else per
//! class.
//!
//! Live bytes for the peak are batched: each thread keeps a signed delta and publishes it to
//! a global total when it exceeds [`PEAK_SLACK_PER_THREAD`]. The peak is checked as
//! `global + own delta` whenever that could exceed it (see `live_change`), which is exact for
//! one thread and off by at most `PEAK_SLACK_PER_THREAD` per thread otherwise.

use std::cell::UnsafeCell;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize};

use crate::hook::thread_state::{set_slot, THREAD};
use crate::model::counts::Counts;
use crate::model::size_class::{
    class_of_request, class_of_small_size, usable_size, SizeClass, BY_SIZE_MAX, NUM_CLASSES,
};

/// How far the process-wide peak may miss the true one, per thread of a multi-threaded
/// program: a thread's unpublished live-byte delta is at most this large. (In a program with a
/// single thread the peak is exact.)
pub const PEAK_SLACK_PER_THREAD: u64 = 64 * 1024;

/// Number of per-thread slots.
const MAX_SLOTS: usize = 256;

/// Counters of realloc calls, by position (the rare path; allocs, frees and bytes are
/// derived from the size classes).
#[derive(Clone, Copy)]
#[repr(usize)]
enum Realloc {
    Calls,
    Grew,
    Shrank,
    InPlace,
    Moved,
}
const NUM_REALLOC: usize = 5;

/// A counter per size class, for what the general path counts (requests over 4 KiB or aligned
/// to more than 8, reallocs, the fallback slot). Allocs, frees and byte totals of the whole
/// process are sums of these and of [`BySize`]. A block's usable size is its class's
/// size, except for page-rounded (large) blocks, which may fall short of it: only those add
/// their shortfall to `large_shortfall_*`. One array per figure (not one struct per class):
/// a class's counter is at `array + 8 · class`, which x86-64 addresses inside the memory
/// operand, with no multiplication.
type PerClass = [AtomicU64; NUM_CLASSES];

/// A counter per exact request size `0..=BY_SIZE_MAX`, for requests aligned to at most 8,
/// whose class depends on the size alone (`class_of_small_size`). The fast paths count such
/// a request with one increment at `array + 8 · size`: no class lookup, and no byte total,
/// since the bytes are `size × count`. Readers fold them into the classes (`sum`).
type BySize = [AtomicU64; BY_SIZE_MAX + 1];

/// The words of a [`Slot`] that the fast paths use before they know that the thread may
/// count: its first field, so that a pointer to a slot is a pointer to its head. The
/// thread's active pointer ([`crate::hook::thread_state`]) points at the head of its slot
/// while it may count, else at a stand-in head (no slot behind it) whose `room` and
/// `free_room` stay far below zero and whose `filter` has no bucket at 0: every fast path
/// then fails its first test of the head, without a test of the pointer itself (two
/// instructions less per allocation and per free).
#[repr(C)]
pub(crate) struct Head {
    /// `up_limit − live delta`, where the live delta is the live bytes not yet published to
    /// [`LIVE_PUBLISHED`]: how many more bytes this thread may allocate before it must look
    /// at the peak or publish. An allocation's fast path subtracts its size and checks the
    /// sign (one instruction and a branch), a free's adds its size: this folds the peak check
    /// into the live-delta update, and `room` is the one exact record of the live delta
    /// (`Slot::live_delta`). Never negative but between a failed fast path's subtraction and
    /// its undo, one instruction later (and in a stand-in, always far below zero).
    room: Owned,
    /// A budget: how many more bytes this thread may free before it must look at its live
    /// delta (and publish it if that fell below `-PEAK_SLACK_PER_THREAD`). Set to
    /// `live delta + PEAK_SLACK_PER_THREAD`, capped at [`BY_SIZE_MAX`] (which spares the free
    /// its size test, see [`free_fast`]), at every look; a free's fast path subtracts its
    /// size and checks the sign. Allocations leave it alone (one instruction and one
    /// memory dependency less per allocation): they only raise the live delta, so
    /// `free_room ≤ live delta + PEAK_SLACK_PER_THREAD` always holds, and a non-negative
    /// `free_room` still proves the delta above `-PEAK_SLACK_PER_THREAD`. A thread looks
    /// once per `BY_SIZE_MAX` bytes freed ([`free_counted`], out of line). docs/hook.md,
    /// "The live delta".
    free_room: Owned,
    /// The live filter a free's fast path reads (`sites::maybe_sampled_in`): the real one in
    /// a slot (set when it is claimed: null before, so that the table stays zero-initialised
    /// `.bss`), one whose every bucket is non-zero in a stand-in.
    filter: FilterPtr,
}

/// A stand-in's `room` and `free_room`: far below zero, so that no fast path's subtraction
/// of one size (at most `BY_SIZE_MAX`) makes it non-negative. They never move: an
/// allocation's fast path undoes its subtraction at once ([`alloc_fast`]), and a free's
/// stops at the stand-in's filter before it touches `free_room`.
const STAND_IN_ROOM: i64 = i64::MIN / 2;

impl Head {
    /// A stand-in head, whose free filter is `filter` (every bucket non-zero).
    pub(crate) const fn stand_in(filter: *const AtomicU32) -> Head {
        Head {
            room: Owned::with(STAND_IN_ROOM),
            free_room: Owned::with(STAND_IN_ROOM),
            filter: FilterPtr(UnsafeCell::new(filter)),
        }
    }
}

/// The address of a live filter (an array of `FILTER_BUCKETS + 1` buckets): in a stand-in
/// fixed when it is made; in a slot null until `claim_slot` sets it.
pub(crate) struct FilterPtr(UnsafeCell<*const AtomicU32>);

// SAFETY: as `Owned`: a slot's is written by `claim_slot` on the thread that just claimed the
// slot, before it makes the slot's head its active pointer, and read by that thread's fast
// paths through that pointer; a stand-in's is never written.
unsafe impl Sync for FilterPtr {}

/// The free filter of the head `head` points at (for `sites::maybe_sampled_in`).
///
/// # Safety
/// `head` must point at a live `Head`: this thread's active pointer.
#[inline(always)]
pub(crate) unsafe fn filter_of(head: *const Head) -> *const AtomicU32 {
    // SAFETY: the caller's contract: `head` points at a head, which only this thread writes
    // (see `FilterPtr`).
    unsafe { *(*head).filter.0.get() }
}

/// One thread's counters (or the shared fallback's). `pub(crate)` only so that
/// [`crate::hook::thread_state`] can point at it.
///
/// All fields start at zero (the live-delta words and the head's filter are set when the
/// slot is claimed), so the table is zero-initialised memory (`.bss`): only the pages a
/// thread touches become resident, which [`resident_bytes`] reports. The fast paths' fields
/// come first, the head at offset 0 (`repr(C)`).
#[repr(C)]
pub(crate) struct Slot {
    head: Head,
    /// How far the live delta may grow before it must be looked at: the smaller of
    /// [`PEAK_SLACK_PER_THREAD`] (publish) and the room below the peak as of the last look.
    up_limit: Owned,
    claimed: AtomicBool,
    reallocs: [AtomicU64; NUM_REALLOC],
    blocks_in: PerClass,
    requested_in: PerClass,
    blocks_out: PerClass,
    requested_out: PerClass,
    large_shortfall_in: PerClass,
    large_shortfall_out: PerClass,
    /// Blocks of small requests aligned to at most 8 that were allocated, by exact size
    /// (counted by [`alloc_fast`]; the general path counts per class).
    in_by_size: BySize,
    /// The same, freed (counted by [`free_fast`]).
    out_by_size: BySize,
}

impl Slot {
    #[allow(clippy::declare_interior_mutable_const)]
    const ZERO: Slot = Slot {
        head: Head {
            room: Owned::new(),
            free_room: Owned::new(),
            filter: FilterPtr(UnsafeCell::new(std::ptr::null())),
        },
        up_limit: Owned::new(),
        claimed: AtomicBool::new(false),
        reallocs: [const { AtomicU64::new(0) }; NUM_REALLOC],
        blocks_in: [const { AtomicU64::new(0) }; NUM_CLASSES],
        requested_in: [const { AtomicU64::new(0) }; NUM_CLASSES],
        blocks_out: [const { AtomicU64::new(0) }; NUM_CLASSES],
        requested_out: [const { AtomicU64::new(0) }; NUM_CLASSES],
        large_shortfall_in: [const { AtomicU64::new(0) }; NUM_CLASSES],
        large_shortfall_out: [const { AtomicU64::new(0) }; NUM_CLASSES],
        in_by_size: [const { AtomicU64::new(0) }; BY_SIZE_MAX + 1],
        out_by_size: [const { AtomicU64::new(0) }; BY_SIZE_MAX + 1],
    };

    /// The live bytes not yet published (exact outside a fast path: see `Head::room`).
    #[inline(always)]
    fn live_delta(&self) -> i64 {
        self.up_limit.get() - self.head.room.get()
    }

    /// Sets the live delta and the limit it may grow to.
    #[inline(always)]
    fn set_live(&self, up_limit: i64, delta: i64) {
        self.up_limit.set(up_limit);
        self.head.room.set(up_limit - delta);
        self.head.free_room.set(free_budget(delta));
    }
}

/// A word of a slot that only the thread owning the slot reads and writes: the live-delta
/// words, which no reader sums. Plain loads and stores, so that x86-64 updates one with a
/// single memory-destination instruction whose flags the fast path's test reuses (an atomic
/// would be loaded, changed and stored by three).
pub(crate) struct Owned(UnsafeCell<i64>);

// SAFETY: an `Owned` is read and written only by the thread that owns its slot (the fast
// paths, `live_change` and `look_at_peak` with this thread's own slot; `claim_slot` right
// after claiming it; the releaser on the owning thread before it releases it). A slot changes
// hands only through `claimed` (released with `Release`, claimed with `Acquire`), so the
// previous owner's accesses happen before the next owner's. The shared fallback slot's
// `Owned` words are never touched (its writers go through `live_change::<true>`). A stand-in
// head's are written only by the thread whose thread-local state holds it, except the static
// one of threads that never hid their slot, which is never written (see
// `thread_state::UNSET`).
unsafe impl Sync for Owned {}

impl Owned {
    const fn new() -> Owned {
        Owned(UnsafeCell::new(0))
    }
    const fn with(v: i64) -> Owned {
        Owned(UnsafeCell::new(v))
    }
    #[inline(always)]
    fn get(&self) -> i64 {
        // SAFETY: only the owning thread accesses it (see the `Sync` impl).
        unsafe { *self.0.get() }
    }
    #[inline(always)]
    fn set(&self, v: i64) {
        // SAFETY: only the owning thread accesses it (see the `Sync` impl).
        unsafe { *self.0.get() = v }
    }
}

/// Adds to a counter. `SHARED` slots (the fallback) use a locked add; owned slots a plain
/// load and store, which is exact because only the owner writes.
#[inline(always)]
fn add<const SHARED: bool>(a: &AtomicU64, v: u64) {
    if SHARED {
        a.fetch_add(v, Relaxed);
    } else {
        a.store(a.load(Relaxed).wrapping_add(v), Relaxed);
    }
}

static SLOTS: [Slot; MAX_SLOTS] = [Slot::ZERO; MAX_SLOTS];
/// Slots `0..SLOTS_USED` have been claimed at least once; readers scan only those.
static SLOTS_USED: AtomicUsize = AtomicUsize::new(0);
static FALLBACK: Slot = Slot::ZERO;

/// Live bytes published by all threads.
static LIVE_PUBLISHED: AtomicI64 = AtomicI64::new(0);
/// Highest live bytes seen.
static PEAK_LIVE: AtomicU64 = AtomicU64::new(0);

const SLOT_NONE: usize = 0;
const SLOT_RETIRED: usize = usize::MAX;

thread_local! {
    /// Releases the slot when the thread exits. Touched once, when the slot is claimed, which
    /// registers its destructor (through glibc's `__cxa_thread_atexit_impl`, which uses
    /// glibc's own malloc, not the Rust global allocator). The slot itself is recorded in
    /// the hook's one thread-local ([`crate::hook::thread_state`]).
    static SLOT_RELEASER: SlotReleaser = const { SlotReleaser };
}

struct SlotReleaser;

impl Drop for SlotReleaser {
    fn drop(&mut self) {
        let _ = THREAD.try_with(|t| {
            let v = t.slot_state.get();
            set_slot(t, std::ptr::null());
            if v != SLOT_NONE && v != SLOT_RETIRED {
                if let Some(slot) = SLOTS.get(v - 1) {
                    let d = slot.live_delta();
                    slot.set_live(0, 0);
                    LIVE_PUBLISHED.fetch_add(d, Relaxed);
                    slot.claimed.store(false, Release);
                }
            }
            t.slot_state.set(SLOT_RETIRED);
        });
    }
}

/// The slot of this thread, claiming one if it has none. `None`: use the fallback.
#[inline(always)]
fn own_slot() -> Option<&'static Slot> {
    let (p, v) = THREAD
        .try_with(|t| (t.slot.get(), t.slot_state.get()))
        .unwrap_or((std::ptr::null(), SLOT_RETIRED));
    if !p.is_null() {
        // SAFETY: a non-null slot pointer always points into the static `SLOTS` table (set
        // in `claim_slot`, cleared before the slot is released).
        return Some(unsafe { &*p });
    }
    match v {
        SLOT_NONE => claim_slot(),
        _ => None,
    }
}

#[cold]
fn claim_slot() -> Option<&'static Slot> {
    // Registering the slot's releaser must not count anything it might allocate.
    let _guard = crate::hook::guard::enter_hook();
    for (i, slot) in SLOTS.iter().enumerate() {
        if !slot.claimed.load(Relaxed)
            && slot
                .claimed
                .compare_exchange(false, true, Acquire, Relaxed)
                .is_ok()
        {
            SLOTS_USED.fetch_max(i + 1, Relaxed);
            let registered = SLOT_RELEASER.try_with(|_| ()).is_ok();
            if !registered {
                // The thread is already tearing down: give the slot back at once.
                slot.claimed.store(false, Release);
                let _ = THREAD.try_with(|t| t.slot_state.set(SLOT_RETIRED));
                return None;
            }
            // A slot handed on keeps its counts (its live delta was published on release),
            // but the new owner looks at the peak afresh.
            slot.set_live(0, 0);
            // SAFETY: this thread just claimed the slot; its fast paths reach the head only
            // once `set_slot` below made it the active pointer (see `FilterPtr`).
            unsafe { *slot.head.filter.0.get() = crate::hook::sites::live_filter() };
            let _ = THREAD.try_with(|t| {
                t.slot_state.set(i + 1);
                set_slot(t, slot);
            });
            return Some(slot);
        }
    }
    // No free slot: this thread counts into the fallback for the rest of its life.
    let _ = THREAD.try_with(|t| t.slot_state.set(SLOT_RETIRED));
    None
}

/// Counts an allocation of `size` bytes aligned to `align`. Returns the live bytes when this
/// allocation set a new peak, else 0.
#[inline(always)]
pub(crate) fn on_alloc(size: usize, align: usize) -> u64 {
    match own_slot() {
        Some(s) => record_alloc::<false>(s, size, align),
        None => record_alloc::<true>(&FALLBACK, size, align),
    }
}

/// Counts a free of a block of `size` bytes aligned to `align`.
#[inline(always)]
pub(crate) fn on_free(size: usize, align: usize) {
    match own_slot() {
        Some(s) => record_free::<false>(s, size, align),
        None => record_free::<true>(&FALLBACK, size, align),
    }
}

/// The whole of counting an allocation in the common case, with no call: `head` is this
/// thread's active pointer (`thread_state::active_head`), the head of its slot, the request is
/// small and aligned to at most 8 (counted per exact size) and the live delta stays under its
/// limit (no publish, no look at the peak). Returns false in any other case (a stand-in head
/// among them), having changed nothing: the caller then counts with [`on_alloc`], whose
/// `live_change` takes the live delta from `room` and sets `room` and `free_room` afresh.
///
/// # Safety
/// `head` must be this thread's active pointer, and not the static stand-in
/// (`thread_state::UNSET`), which must not be written: the caller tested the sampling
/// countdown first, which never passes while that is the active pointer.
#[inline(always)]
pub(crate) unsafe fn alloc_fast(head: *const Head, size: usize, align: usize) -> bool {
    if size > BY_SIZE_MAX || align > 8 {
        return false;
    }
    // SAFETY: the caller passes this thread's active pointer: the head of its slot in the
    // static `SLOTS` table (set in `claim_slot`, hidden before the slot is released) or its
    // own stand-in, which only this thread writes.
    let h = unsafe { &*head };
    // `size` ≤ 4 KiB here: no overflow. Stored before the test, so that the two are one
    // memory-destination subtraction and a branch.
    let room = h.room.get() - size as i64;
    h.room.set(room);
    if room < 0 {
        // Undone at once (on the failing branch, out of the common path): `room` stays the
        // exact record of the live delta, and a stand-in's never drifts. Re-read, not
        // `room + size`: a signal handler that allocated or freed since the subtraction
        // changed `room` (its slow path may have set it afresh, from a `room` that held this
        // subtraction, so adding the size back is right either way). The fence makes the
        // compiler load it again (one memory-destination add, as the subtraction).
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
        h.room.set(h.room.get() + size as i64);
        return false;
    }
    // SAFETY: a non-negative `room` proves `head` is a slot's (a stand-in's stays far below
    // zero), and a slot's head is its first field (`repr(C)`): `head` is the slot's address,
    // with the provenance of the whole slot (`set_slot` made it from a `&'static Slot`).
    let s = unsafe { &*head.cast::<Slot>() };
    if let Some(n) = s.in_by_size.get(size) {
        add::<false>(n, 1);
    }
    true
}

/// Takes back what [`alloc_fast`] counted for an allocation of `size` bytes whose inner
/// allocation failed.
#[cold]
#[inline(never)]
pub(crate) fn uncount_fast(size: usize) {
    let _ = THREAD.try_with(|t| {
        let p = t.slot.get();
        if p.is_null() {
            return;
        }
        // SAFETY: as in `alloc_fast`: `p` is this thread's slot.
        let s = unsafe { &*p };
        if let Some(n) = s.in_by_size.get(size) {
            s.head.room.set(s.head.room.get() + size as i64);
            n.store(n.load(Relaxed).wrapping_sub(1), Relaxed);
        }
    });
}

/// [`alloc_fast`] for a free: false unless `head` is a slot's, the block is aligned to at
/// most 8 and fits the free budget (`free_room`), having changed nothing but `free_room`
/// (left negative); the caller then counts with [`free_counted`] or [`on_free`], which set
/// `free_room` afresh. (Every free that fails here is counted: the ones that are not, on a
/// thread that may not count, fail before, at the stand-in's filter.)
///
/// No size test: a slot's `free_room` is never above [`BY_SIZE_MAX`] (see [`free_budget`]),
/// so a free it admits is of at most `BY_SIZE_MAX` bytes, counted per exact size. Capping
/// the budget costs a look every 4 KiB freed instead of every 64 KiB (out of line, in
/// [`free_counted`]: about 30 instructions); the test it saves costs two instructions on
/// every free.
///
/// # Safety
/// `head` must be this thread's active pointer, and a slot's head (the free path tested the
/// head's filter first, which no stand-in passes), or this thread's own stand-in.
#[inline(always)]
pub(crate) unsafe fn free_fast(head: *const Head, size: usize, align: usize) -> bool {
    if align > 8 {
        return false;
    }
    // SAFETY: as in `alloc_fast`.
    let h = unsafe { &*head };
    // As `alloc_fast`'s `room`. No overflow: `free_room` is at most `BY_SIZE_MAX` and at
    // least minus one block's size (a failed test, until the slow path sets it afresh), and
    // no block is within a factor of two of `i64::MAX` bytes.
    let free_room = h.free_room.get() - size as i64;
    h.free_room.set(free_room);
    if free_room < 0 {
        return false;
    }
    // SAFETY: as in `alloc_fast` (a stand-in's `free_room` stays far below zero too).
    let s = unsafe { &*head.cast::<Slot>() };
    s.head.room.set(s.head.room.get() + size as i64);
    debug_assert!(size <= BY_SIZE_MAX);
    // SAFETY: `free_room` was at most `BY_SIZE_MAX` (`free_budget`) and is non-negative after
    // subtracting `size`, so `size ≤ BY_SIZE_MAX`, the last index of `out_by_size`.
    add::<false>(unsafe { s.out_by_size.get_unchecked(size) }, 1);
    true
}

/// A slot's free budget for a live delta of `delta`: the bytes it may free before it must
/// publish (`delta + PEAK_SLACK_PER_THREAD`), capped at [`BY_SIZE_MAX`] so that the free
/// fast path needs no size test ([`free_fast`]).
#[inline(always)]
fn free_budget(delta: i64) -> i64 {
    (delta + PEAK_SLACK_PER_THREAD as i64).min(BY_SIZE_MAX as i64)
}

/// The free path of a counting thread, out of line, after [`free_fast`] failed or was not
/// tried: counts the free of a small block (≤ [`BY_SIZE_MAX`], aligned to at most 8) per
/// exact size, as the fast path does, and moves the live delta by `live_change`, which sets
/// the free budget afresh (and publishes if the delta fell below the bound). False for any
/// other block: the caller counts it with [`on_free`]. Most calls come from a spent budget:
/// one free in about 110 on tiny churn.
///
/// # Safety
/// `slot` must be this thread's active slot (non-null).
#[inline(always)]
pub(crate) unsafe fn free_counted(slot: *const Slot, size: usize, align: usize) -> bool {
    if align > 8 {
        return false;
    }
    // SAFETY: the caller's contract: this thread's slot, which only this thread writes.
    let s = unsafe { &*slot };
    let Some(n) = s.out_by_size.get(size) else {
        return false;
    };
    add::<false>(n, 1);
    live_change::<false>(s, -(size as i64));
    true
}

/// Counts a realloc. Returns the live bytes when it set a new peak, else 0.
#[inline]
pub(crate) fn on_realloc(old_size: usize, new_size: usize, align: usize, moved: bool) -> u64 {
    match own_slot() {
        Some(s) => record_realloc::<false>(s, old_size, new_size, align, moved),
        None => record_realloc::<true>(&FALLBACK, old_size, new_size, align, moved),
    }
}

#[inline(always)]
fn class_in<const SHARED: bool>(s: &Slot, size: usize, align: usize) {
    let (idx, large) = class_of_request(size, align);
    debug_assert!(idx < NUM_CLASSES);
    // SAFETY: `class_of_request` returns an index below `NUM_CLASSES` (the lookup table holds
    // classes of sizes up to 4 KiB; `class_index` caps at `NUM_CLASSES - 1`), the length of
    // the per-class arrays.
    unsafe {
        add::<SHARED>(s.blocks_in.get_unchecked(idx), 1);
        add::<SHARED>(s.requested_in.get_unchecked(idx), size as u64);
        if large {
            add::<SHARED>(
                s.large_shortfall_in.get_unchecked(idx),
                shortfall(idx, size, align),
            );
        }
    }
}

#[inline(always)]
fn class_out<const SHARED: bool>(s: &Slot, size: usize, align: usize) {
    let (idx, large) = class_of_request(size, align);
    debug_assert!(idx < NUM_CLASSES);
    // SAFETY: `class_of_request` returns an index below `NUM_CLASSES` (the lookup table holds
    // classes of sizes up to 4 KiB; `class_index` caps at `NUM_CLASSES - 1`), the length of
    // the per-class arrays.
    unsafe {
        add::<SHARED>(s.blocks_out.get_unchecked(idx), 1);
        add::<SHARED>(s.requested_out.get_unchecked(idx), size as u64);
        if large {
            add::<SHARED>(
                s.large_shortfall_out.get_unchecked(idx),
                shortfall(idx, size, align),
            );
        }
    }
}

/// How far a large block's usable size falls short of its class's size.
#[cold]
fn shortfall(idx: usize, size: usize, align: usize) -> u64 {
    let class = SizeClass::from_index(idx).map_or(0, SizeClass::size);
    class.saturating_sub(usable_size(size, align) as u64)
}

/// Returns the live bytes as this thread sees them when a new peak was reached, else 0.
///
/// The shared figures (published live bytes, the peak) are read only when this thread's
/// unpublished delta exceeds its `up_limit` (the smaller of the publishing threshold and the
/// room below the peak it saw at its last look) or falls below `-PEAK_SLACK_PER_THREAD`: in a
/// single-threaded program that is exact, since only this thread moves either figure; with
/// several threads every publish looks afresh, which keeps the documented bound.
#[inline(always)]
fn live_change<const SHARED: bool>(s: &Slot, delta: i64) -> u64 {
    if SHARED {
        // The fallback has many writers: publish at once.
        let live = LIVE_PUBLISHED.fetch_add(delta, Relaxed) + delta;
        return if delta > 0 { raise_peak(live) } else { 0 };
    }
    let up_limit = s.up_limit.get();
    // `room` is exact here (a failed allocation fast path undid its subtraction; a failed
    // free fast path left `free_room` short, which is set afresh below).
    let d = up_limit - s.head.room.get() + delta;
    s.head.room.set(up_limit - d);
    s.head.free_room.set(free_budget(d));
    // `d` stays within ±PEAK_SLACK_PER_THREAD: an increase can only cross the upper limit,
    // a decrease the lower one.
    if delta > 0 {
        if d > up_limit {
            return look_up(s, d);
        }
    } else if d < -(PEAK_SLACK_PER_THREAD as i64) {
        return publish(s, d);
    }
    0
}

/// `d` went over this thread's `up_limit`: publish it if it is over the slack, else look at
/// the peak.
#[inline(never)]
fn look_up(s: &Slot, d: i64) -> u64 {
    if d > PEAK_SLACK_PER_THREAD as i64 {
        return publish(s, d);
    }
    look_at_peak(s, LIVE_PUBLISHED.load(Relaxed) + d, d)
}

/// Publishes this thread's delta `d` and looks at the peak.
#[inline(never)]
fn publish(s: &Slot, d: i64) -> u64 {
    let live = LIVE_PUBLISHED.fetch_add(d, Relaxed) + d;
    look_at_peak(s, live, 0)
}

/// Compares `live` (published + this thread's unpublished `d`) with the peak, raises it if
/// needed, and remembers how far `d` may grow before the next look.
#[inline(always)]
fn look_at_peak(s: &Slot, live: i64, d: i64) -> u64 {
    let raised = raise_peak(live);
    let peak = PEAK_LIVE.load(Relaxed).min(i64::MAX as u64) as i64;
    let headroom = peak - (live - d);
    s.set_live(headroom.min(PEAK_SLACK_PER_THREAD as i64), d);
    raised
}

/// Raises the peak to `live` if it is higher; returns `live` then, else 0.
#[inline(always)]
fn raise_peak(live: i64) -> u64 {
    if live > 0 && live as u64 > PEAK_LIVE.load(Relaxed) {
        PEAK_LIVE.fetch_max(live as u64, Relaxed);
        return live as u64;
    }
    0
}

#[inline(always)]
fn record_alloc<const SHARED: bool>(s: &Slot, size: usize, align: usize) -> u64 {
    class_in::<SHARED>(s, size, align);
    live_change::<SHARED>(s, size as i64)
}

#[inline(always)]
fn record_free<const SHARED: bool>(s: &Slot, size: usize, align: usize) {
    class_out::<SHARED>(s, size, align);
    live_change::<SHARED>(s, -(size as i64));
}

#[inline(always)]
fn record_realloc<const SHARED: bool>(
    s: &Slot,
    old_size: usize,
    new_size: usize,
    align: usize,
    moved: bool,
) -> u64 {
    let r = |x: Realloc| &s.reallocs[x as usize];
    add::<SHARED>(r(Realloc::Calls), 1);
    add::<SHARED>(
        r(if new_size > old_size {
            Realloc::Grew
        } else {
            Realloc::Shrank
        }),
        1,
    );
    add::<SHARED>(
        r(if moved {
            Realloc::Moved
        } else {
            Realloc::InPlace
        }),
        1,
    );
    class_out::<SHARED>(s, old_size, align);
    class_in::<SHARED>(s, new_size, align);
    live_change::<SHARED>(s, new_size as i64 - old_size as i64)
}

/// Process-wide sums of all slots.
pub(crate) struct SlotSums {
    reallocs: [u64; NUM_REALLOC],
    /// Per size class, by index.
    pub(crate) classes: [ClassSums; NUM_CLASSES],
}

/// The sums of one size class's [`ClassCounters`] over all slots.
#[derive(Clone, Copy, Default)]
pub(crate) struct ClassSums {
    /// Blocks that entered the class (allocs and realloc results).
    pub(crate) blocks_in: u64,
    /// Bytes requested by the blocks that entered.
    pub(crate) requested_in: u64,
    /// Blocks that left the class (frees and realloc sources).
    pub(crate) blocks_out: u64,
    /// Bytes requested by the blocks that left.
    pub(crate) requested_out: u64,
    /// Usable bytes short of the class size, of page-rounded blocks that entered.
    pub(crate) large_shortfall_in: u64,
    /// The same, of blocks that left.
    pub(crate) large_shortfall_out: u64,
}

fn slots_in_use() -> impl Iterator<Item = &'static Slot> {
    let used = SLOTS_USED.load(Relaxed).min(MAX_SLOTS);
    SLOTS[..used].iter().chain(std::iter::once(&FALLBACK))
}

/// Sums `slots` (on the stack: reading the counters allocates nothing).
fn sum<'a>(slots: impl Iterator<Item = &'a Slot>) -> SlotSums {
    let mut reallocs = [0u64; NUM_REALLOC];
    let mut classes = [ClassSums::default(); NUM_CLASSES];
    for s in slots {
        for (t, f) in reallocs.iter_mut().zip(&s.reallocs) {
            *t = t.wrapping_add(f.load(Relaxed));
        }
        for (i, t) in classes.iter_mut().enumerate() {
            let add = |t: &mut u64, a: &PerClass| {
                if let Some(a) = a.get(i) {
                    *t = t.wrapping_add(a.load(Relaxed));
                }
            };
            add(&mut t.blocks_in, &s.blocks_in);
            add(&mut t.requested_in, &s.requested_in);
            add(&mut t.blocks_out, &s.blocks_out);
            add(&mut t.requested_out, &s.requested_out);
            add(&mut t.large_shortfall_in, &s.large_shortfall_in);
            add(&mut t.large_shortfall_out, &s.large_shortfall_out);
        }
        for (size, (i, o)) in s.in_by_size.iter().zip(&s.out_by_size).enumerate() {
            let (i, o) = (i.load(Relaxed), o.load(Relaxed));
            if i | o == 0 {
                continue;
            }
            if let Some(t) = classes.get_mut(class_of_small_size(size)) {
                t.blocks_in = t.blocks_in.wrapping_add(i);
                t.requested_in = t.requested_in.wrapping_add(i.wrapping_mul(size as u64));
                t.blocks_out = t.blocks_out.wrapping_add(o);
                t.requested_out = t.requested_out.wrapping_add(o.wrapping_mul(size as u64));
            }
        }
    }
    SlotSums { reallocs, classes }
}

/// Sums all slots, process-wide. Allocates: call it outside the hook.
pub(crate) fn totals() -> SlotSums {
    sum(slots_in_use())
}

impl SlotSums {
    fn class_sum(&self, field: fn(&ClassSums) -> u64) -> u64 {
        self.classes.iter().map(field).fold(0, u64::wrapping_add)
    }
    pub fn reallocs(&self) -> u64 {
        self.reallocs[Realloc::Calls as usize]
    }
    pub fn reallocs_grew(&self) -> u64 {
        self.reallocs[Realloc::Grew as usize]
    }
    pub fn reallocs_shrank(&self) -> u64 {
        self.reallocs[Realloc::Shrank as usize]
    }
    pub fn reallocs_in_place(&self) -> u64 {
        self.reallocs[Realloc::InPlace as usize]
    }
    pub fn reallocs_moved(&self) -> u64 {
        self.reallocs[Realloc::Moved as usize]
    }
    /// Every block entering a class is an alloc or a realloc's result.
    pub fn allocs(&self) -> u64 {
        self.class_sum(|c| c.blocks_in)
            .wrapping_sub(self.reallocs())
    }
    /// Every block leaving a class is a free or a realloc's source.
    pub fn frees(&self) -> u64 {
        self.class_sum(|c| c.blocks_out)
            .wrapping_sub(self.reallocs())
    }
    pub fn bytes_allocated(&self) -> u64 {
        self.class_sum(|c| c.requested_in)
    }
    pub fn bytes_freed(&self) -> u64 {
        self.class_sum(|c| c.requested_out)
    }
    pub fn counts(&self) -> Counts {
        Counts {
            allocs: self.allocs(),
            reallocs: self.reallocs(),
            frees: self.frees(),
            bytes_allocated: self.bytes_allocated(),
            bytes_freed: self.bytes_freed(),
        }
    }
}

/// Resident bytes of the counter slots in use (by `mincore`; the table is zero-initialised,
/// so a slot's per-size counters are resident only where its thread touched them), for the
/// `profiler` term of the gap. Never allocates.
pub(crate) fn resident_bytes() -> u64 {
    let used = SLOTS_USED.load(Relaxed).min(MAX_SLOTS);
    crate::hook::own_memory::resident_in(
        SLOTS.as_ptr() as usize,
        used * std::mem::size_of::<Slot>(),
    ) + crate::hook::own_memory::resident_in(
        &FALLBACK as *const Slot as usize,
        std::mem::size_of::<Slot>(),
    )
}

/// Highest live bytes recorded so far.
pub(crate) fn peak_live() -> u64 {
    PEAK_LIVE.load(Relaxed)
}

/// Raises the recorded peak to at least `live` (used when a reader computes an exact
/// current figure higher than the batched one).
pub(crate) fn observe_live(live: u64) {
    PEAK_LIVE.fetch_max(live, Relaxed);
}

/// This thread's own counters (cumulative). Claims a slot if the thread has none.
/// `None` when the thread counts into the shared fallback and so cannot be told apart.
///
/// Read with every signal blocked on this thread. Only this thread writes its slot, but a
/// signal handler on it that allocates and frees between two loads of the sum (a size's
/// `in` word read before it, its `out` word after) tears the reading by its own block:
/// `measure` then reported one free more or fewer than the thread made
/// (`tests/reentrancy_signal.rs`, 48 bytes, the handler's size; once in a CI run and once in
/// 40 local runs). Reading until two readings agree was not enough there: with a signal
/// every few microseconds, a debug build's sum (two 4,097-word arrays) was interrupted in
/// reading after reading. A signal that arrives meanwhile is delivered when the mask is
/// restored, right after. Two `pthread_sigmask` calls per reading; this runs only for
/// `measure` and budgets, never in the hook.
pub(crate) fn thread_counts() -> Option<Counts> {
    let s = own_slot()?;
    let _blocked = SignalsBlocked::new();
    Some(sum(std::iter::once(s)).counts())
}

/// Blocks every signal on this thread until dropped (then restores the previous mask).
struct SignalsBlocked {
    old: Option<libc::sigset_t>,
}

impl SignalsBlocked {
    fn new() -> SignalsBlocked {
        // SAFETY: `sigfillset` and `pthread_sigmask` write only the sets passed, which are
        // valid, initialised (zeroed, then filled) `sigset_t`s on this stack frame.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            let ok = libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old) == 0;
            SignalsBlocked {
                old: ok.then_some(old),
            }
        }
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        if let Some(old) = &self.old {
            // SAFETY: `old` is the mask `pthread_sigmask` returned in `new`, a valid set.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
        }
    }
}
