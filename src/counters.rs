//! Exact counters, written by the hook and summed by [`crate::snapshot`].
//!
//! Each thread owns a slot of a fixed, statically allocated table. Only the owning thread
//! writes its slot, with plain relaxed load+store (no locked instruction, no shared cache line
//! on the hot path); readers sum all slots with relaxed loads. A slot whose thread has exited
//! keeps its counts and is handed to the next new thread, which simply keeps adding to them.
//! A thread that finds no free slot, or that allocates after its slot was released during TLS
//! teardown, counts into a shared fallback slot with atomic read-modify-write operations.
//!
//! Live bytes for the peak are batched: each thread keeps a signed delta and publishes it to
//! a global total when it exceeds [`PEAK_SLACK_PER_THREAD`]. The peak is checked on every
//! allocation as `global + own delta`, which is exact for one thread and off by at most
//! `PEAK_SLACK_PER_THREAD` per other thread otherwise.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};

use crate::size_class::{usable_size, SizeClass, NUM_CLASSES};
use crate::snapshot::{Counts, SizeClassCounts};

/// How far the process-wide peak may miss the true one, per thread other than the one that
/// reaches it: unpublished live-byte deltas of other threads are at most this large.
pub const PEAK_SLACK_PER_THREAD: u64 = 64 * 1024;

/// Number of per-thread slots.
const MAX_SLOTS: usize = 256;

/// Scalar counters of a slot, by position.
#[derive(Clone, Copy)]
#[repr(usize)]
enum Field {
    Allocs,
    Frees,
    Reallocs,
    ReallocsGrew,
    ReallocsShrank,
    ReallocsInPlace,
    ReallocsMoved,
    BytesAllocated,
    BytesFreed,
}
const NUM_FIELDS: usize = 9;

/// Counters of one size class.
struct ClassCounters {
    blocks_in: AtomicU64,
    blocks_out: AtomicU64,
    requested_in: AtomicU64,
    requested_out: AtomicU64,
    usable_in: AtomicU64,
    usable_out: AtomicU64,
}

impl ClassCounters {
    const ZERO: ClassCounters = ClassCounters {
        blocks_in: AtomicU64::new(0),
        blocks_out: AtomicU64::new(0),
        requested_in: AtomicU64::new(0),
        requested_out: AtomicU64::new(0),
        usable_in: AtomicU64::new(0),
        usable_out: AtomicU64::new(0),
    };
}

struct Slot {
    claimed: AtomicBool,
    fields: [AtomicU64; NUM_FIELDS],
    /// Live bytes not yet published to [`LIVE_PUBLISHED`].
    live_delta: AtomicI64,
    classes: [ClassCounters; NUM_CLASSES],
}

impl Slot {
    #[allow(clippy::declare_interior_mutable_const)]
    const ZERO: Slot = Slot {
        claimed: AtomicBool::new(false),
        fields: [const { AtomicU64::new(0) }; NUM_FIELDS],
        live_delta: AtomicI64::new(0),
        classes: [ClassCounters::ZERO; NUM_CLASSES],
    };
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
    /// 0: no slot yet; `usize::MAX`: slot released (thread exiting); else index + 1.
    static SLOT_OF_THREAD: Cell<usize> = const { Cell::new(SLOT_NONE) };
    /// Releases the slot when the thread exits. Touched once, when the slot is claimed, which
    /// registers its destructor (through glibc's `__cxa_thread_atexit_impl`, which uses
    /// glibc's own malloc, not the Rust global allocator).
    static SLOT_RELEASER: SlotReleaser = const { SlotReleaser };
}

struct SlotReleaser;

impl Drop for SlotReleaser {
    fn drop(&mut self) {
        let _ = SLOT_OF_THREAD.try_with(|c| {
            let v = c.get();
            if v != SLOT_NONE && v != SLOT_RETIRED {
                if let Some(slot) = SLOTS.get(v - 1) {
                    let d = slot.live_delta.swap(0, Relaxed);
                    LIVE_PUBLISHED.fetch_add(d, Relaxed);
                    slot.claimed
                        .store(false, std::sync::atomic::Ordering::Release);
                }
            }
            c.set(SLOT_RETIRED);
        });
    }
}

/// The slot of this thread, claiming one if it has none. `None`: use the fallback.
#[inline]
fn own_slot() -> Option<&'static Slot> {
    let v = SLOT_OF_THREAD.try_with(Cell::get).unwrap_or(SLOT_RETIRED);
    match v {
        SLOT_RETIRED => None,
        SLOT_NONE => claim_slot(),
        i => SLOTS.get(i - 1),
    }
}

#[cold]
fn claim_slot() -> Option<&'static Slot> {
    for (i, slot) in SLOTS.iter().enumerate() {
        if !slot.claimed.load(Relaxed)
            && slot
                .claimed
                .compare_exchange(false, true, std::sync::atomic::Ordering::Acquire, Relaxed)
                .is_ok()
        {
            SLOTS_USED.fetch_max(i + 1, Relaxed);
            let registered = SLOT_RELEASER.try_with(|_| ()).is_ok();
            let _ = SLOT_OF_THREAD.try_with(|c| c.set(i + 1));
            if !registered {
                // The thread is already tearing down: give the slot back at once.
                slot.claimed
                    .store(false, std::sync::atomic::Ordering::Release);
                let _ = SLOT_OF_THREAD.try_with(|c| c.set(SLOT_RETIRED));
                return None;
            }
            return Some(slot);
        }
    }
    // No free slot: this thread counts into the fallback for the rest of its life.
    let _ = SLOT_OF_THREAD.try_with(|c| c.set(SLOT_RETIRED));
    None
}

/// What the hook tells the counters about one allocation, free or realloc.
#[inline]
pub(crate) fn on_alloc(size: usize, align: usize) -> u64 {
    match own_slot() {
        Some(s) => record_alloc::<false>(s, size, align),
        None => record_alloc::<true>(&FALLBACK, size, align),
    }
}

#[inline]
pub(crate) fn on_free(size: usize, align: usize) {
    match own_slot() {
        Some(s) => record_free::<false>(s, size, align),
        None => record_free::<true>(&FALLBACK, size, align),
    }
}

#[inline]
pub(crate) fn on_realloc(old_size: usize, new_size: usize, align: usize, moved: bool) -> u64 {
    match own_slot() {
        Some(s) => record_realloc::<false>(s, old_size, new_size, align, moved),
        None => record_realloc::<true>(&FALLBACK, old_size, new_size, align, moved),
    }
}

#[inline(always)]
fn class_in<const SHARED: bool>(s: &Slot, size: usize, align: usize) {
    let usable = usable_size(size, align);
    let idx = SizeClass::of_usable(usable).index();
    if let Some(c) = s.classes.get(idx) {
        add::<SHARED>(&c.blocks_in, 1);
        add::<SHARED>(&c.requested_in, size as u64);
        add::<SHARED>(&c.usable_in, usable as u64);
    }
}

#[inline(always)]
fn class_out<const SHARED: bool>(s: &Slot, size: usize, align: usize) {
    let usable = usable_size(size, align);
    let idx = SizeClass::of_usable(usable).index();
    if let Some(c) = s.classes.get(idx) {
        add::<SHARED>(&c.blocks_out, 1);
        add::<SHARED>(&c.requested_out, size as u64);
        add::<SHARED>(&c.usable_out, usable as u64);
    }
}

#[inline(always)]
fn field(s: &Slot, f: Field) -> &AtomicU64 {
    &s.fields[f as usize]
}

/// Returns the live bytes as this thread sees them when a new peak was reached, else 0.
#[inline(always)]
fn live_change<const SHARED: bool>(s: &Slot, delta: i64) -> u64 {
    let d = if SHARED {
        // The fallback has many writers: publish at once.
        LIVE_PUBLISHED.fetch_add(delta, Relaxed);
        0
    } else {
        let d = s.live_delta.load(Relaxed) + delta;
        if d.unsigned_abs() > PEAK_SLACK_PER_THREAD {
            LIVE_PUBLISHED.fetch_add(d, Relaxed);
            s.live_delta.store(0, Relaxed);
            0
        } else {
            s.live_delta.store(d, Relaxed);
            d
        }
    };
    if delta <= 0 {
        return 0;
    }
    let live = LIVE_PUBLISHED.load(Relaxed) + d;
    if live > 0 && live as u64 > PEAK_LIVE.load(Relaxed) {
        PEAK_LIVE.fetch_max(live as u64, Relaxed);
        return live as u64;
    }
    0
}

#[inline(always)]
fn record_alloc<const SHARED: bool>(s: &Slot, size: usize, align: usize) -> u64 {
    add::<SHARED>(field(s, Field::Allocs), 1);
    add::<SHARED>(field(s, Field::BytesAllocated), size as u64);
    class_in::<SHARED>(s, size, align);
    live_change::<SHARED>(s, size as i64)
}

#[inline(always)]
fn record_free<const SHARED: bool>(s: &Slot, size: usize, align: usize) {
    add::<SHARED>(field(s, Field::Frees), 1);
    add::<SHARED>(field(s, Field::BytesFreed), size as u64);
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
    add::<SHARED>(field(s, Field::Reallocs), 1);
    if new_size > old_size {
        add::<SHARED>(field(s, Field::ReallocsGrew), 1);
    } else {
        add::<SHARED>(field(s, Field::ReallocsShrank), 1);
    }
    if moved {
        add::<SHARED>(field(s, Field::ReallocsMoved), 1);
    } else {
        add::<SHARED>(field(s, Field::ReallocsInPlace), 1);
    }
    add::<SHARED>(field(s, Field::BytesAllocated), new_size as u64);
    add::<SHARED>(field(s, Field::BytesFreed), old_size as u64);
    class_out::<SHARED>(s, old_size, align);
    class_in::<SHARED>(s, new_size, align);
    live_change::<SHARED>(s, new_size as i64 - old_size as i64)
}

/// Sum of all scalar counters, process-wide.
pub(crate) struct Totals {
    pub fields: [u64; NUM_FIELDS],
    pub classes: Vec<SizeClassCounts>,
}

fn slots_in_use() -> impl Iterator<Item = &'static Slot> {
    let used = SLOTS_USED.load(Relaxed).min(MAX_SLOTS);
    SLOTS[..used].iter().chain(std::iter::once(&FALLBACK))
}

/// Sums all slots. Allocates (the class list): call it outside the hook.
pub(crate) fn totals() -> Totals {
    let mut fields = [0u64; NUM_FIELDS];
    let mut classes = [[0u64; 6]; NUM_CLASSES];
    for s in slots_in_use() {
        for (t, f) in fields.iter_mut().zip(&s.fields) {
            *t = t.wrapping_add(f.load(Relaxed));
        }
        for (t, c) in classes.iter_mut().zip(&s.classes) {
            t[0] = t[0].wrapping_add(c.blocks_in.load(Relaxed));
            t[1] = t[1].wrapping_add(c.blocks_out.load(Relaxed));
            t[2] = t[2].wrapping_add(c.requested_in.load(Relaxed));
            t[3] = t[3].wrapping_add(c.requested_out.load(Relaxed));
            t[4] = t[4].wrapping_add(c.usable_in.load(Relaxed));
            t[5] = t[5].wrapping_add(c.usable_out.load(Relaxed));
        }
    }
    let classes = classes
        .iter()
        .enumerate()
        .filter(|(_, c)| c[0] != 0 || c[1] != 0)
        .map(|(i, c)| SizeClassCounts {
            size: SizeClass::from_index(i).map_or(0, SizeClass::size),
            allocs: c[0],
            frees: c[1],
            requested_bytes: c[2],
            usable_bytes: c[4],
            live_blocks: c[0].saturating_sub(c[1]),
            live_requested_bytes: c[2].saturating_sub(c[3]),
            live_usable_bytes: c[4].saturating_sub(c[5]),
        })
        .collect();
    Totals { fields, classes }
}

impl Totals {
    pub fn allocs(&self) -> u64 {
        self.fields[Field::Allocs as usize]
    }
    pub fn frees(&self) -> u64 {
        self.fields[Field::Frees as usize]
    }
    pub fn reallocs(&self) -> u64 {
        self.fields[Field::Reallocs as usize]
    }
    pub fn reallocs_grew(&self) -> u64 {
        self.fields[Field::ReallocsGrew as usize]
    }
    pub fn reallocs_shrank(&self) -> u64 {
        self.fields[Field::ReallocsShrank as usize]
    }
    pub fn reallocs_in_place(&self) -> u64 {
        self.fields[Field::ReallocsInPlace as usize]
    }
    pub fn reallocs_moved(&self) -> u64 {
        self.fields[Field::ReallocsMoved as usize]
    }
    pub fn bytes_allocated(&self) -> u64 {
        self.fields[Field::BytesAllocated as usize]
    }
    pub fn bytes_freed(&self) -> u64 {
        self.fields[Field::BytesFreed as usize]
    }
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
pub(crate) fn thread_counts() -> Option<Counts> {
    let s = own_slot()?;
    let f = |x: Field| field(s, x).load(Relaxed);
    Some(Counts {
        allocs: f(Field::Allocs),
        reallocs: f(Field::Reallocs),
        frees: f(Field::Frees),
        bytes_allocated: f(Field::BytesAllocated),
        bytes_freed: f(Field::BytesFreed),
    })
}
