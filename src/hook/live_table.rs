//! Live sampled blocks: block address → (site, alignment used, allocation time, sampling
//! interval), so a free can be charged to its site and hand back the layout the block was
//! really allocated with.
//!
//! [`SHARDS`] independent open-addressing tables (linear probing, backward-shift deletion,
//! so no tombstones pile up under churn), each behind a tiny spin lock and grown by doubling
//! into a fresh `mmap` at half load. Memory follows the number of live sampled blocks, the
//! hook never calls the global allocator, and with 64 shards two threads rarely meet on a
//! lock. A fully lock-free table would need either a fixed, generously sized mapping (whose
//! pages scattered hashing touches: resident memory far beyond the entries) or tombstones
//! that make lookups of absent keys walk long chains after millions of frees.
//!
//! Fork safety: `pthread_atfork` handlers take every shard lock before `fork` and release
//! them in both processes, so the child never inherits a lock held by a thread that does not
//! exist there.
//!
//! If a table cannot grow (mmap failure), entries go to a small static spill array so the
//! layout of an over-aligned block is never lost.

use core::cell::{Cell, UnsafeCell};
use core::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::*};

/// Number of shards.
pub(crate) const SHARDS: usize = 64;
const INITIAL_CAP: usize = 64;
const SPILL: usize = 1024;
/// Bytes mapped for a table of `cap` entries.
#[inline]
fn map_len(cap: usize) -> usize {
    cap * core::mem::size_of::<Entry>()
}

/// One live sampled block.
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct Entry {
    /// Block address; 0 = empty slot.
    pub ptr: usize,
    /// Site number (`u32::MAX`: none).
    pub site: u32,
    /// log2 of the alignment the block was allocated with.
    pub align_log2: u16,
    /// The tracing span id it was allocated in (0: none; see `crate::hook::spans`).
    pub span: u16,
    /// Allocation time, in `crate::hook::clock::ticks`.
    pub t_alloc: u64,
    /// The sampling interval the block was recorded under (1 in exact mode). Its weights
    /// (the allocations and bytes it stands for) are `sampler::weights(size, rate)`, a
    /// function of the two, so they are computed again from the size the free is given
    /// (the size it was allocated with) instead of being kept: 32 bytes an entry, not 40
    /// (docs/hook.md, "The live table's memory").
    pub rate: u64,
}

const _: () = assert!(core::mem::size_of::<Entry>() == 32);

impl Entry {
    const EMPTY: Entry = Entry {
        ptr: 0,
        site: 0,
        align_log2: 0,
        span: 0,
        t_alloc: 0,
        rate: 0,
    };
}

/// Aligned to a cache line: two threads working on neighbouring shards do not fight over
/// one line (`Table` and its lock fit in 64 bytes).
#[repr(align(64))]
struct Shard {
    lock: AtomicBool,
    inner: UnsafeCell<Table>,
}

struct Table {
    slots: *mut Entry,
    cap: usize,
    len: usize,
    /// Growth failed: do not retry on every insert.
    stuck: bool,
}

// SAFETY: `inner` is only accessed while `lock` is held (see `with_shard`).
unsafe impl Sync for Shard {}

static TABLES: [Shard; SHARDS] = [const {
    Shard {
        lock: AtomicBool::new(false),
        inner: UnsafeCell::new(Table {
            slots: ptr::null_mut(),
            cap: 0,
            len: 0,
            stuck: false,
        }),
    }
}; SHARDS];

static SPILL_KEYS: [AtomicUsize; SPILL] = [const { AtomicUsize::new(0) }; SPILL];
static SPILL_ALIGN: [AtomicU64; SPILL] = [const { AtomicU64::new(0) }; SPILL];
static SPILL_USED: AtomicUsize = AtomicUsize::new(0);

/// Blocks are hashed by granule of `2^GRANULE_LG` bytes: a granule picks the shard and a
/// random base slot, and its blocks sit at `base + offset / 16`. Blocks allocated one after
/// the other (neighbours in an allocator's slab) thus land in neighbouring slots — often the
/// same cache line — instead of one random line (a cache miss, in a big table) each, while
/// a granule's window of `2^(GRANULE_LG - 4)` slots keeps probe runs short.
const GRANULE_LG: u32 = 8;

/// Hash of the granule holding `p`.
#[inline(always)]
fn mix(p: usize) -> u64 {
    ((p as u64) >> GRANULE_LG).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[inline(always)]
fn shard_of(h: u64) -> &'static Shard {
    // SHARDS is a power of two ≤ 2^6: the top 6 bits pick the shard.
    let i = (h >> 58) as usize & (SHARDS - 1);
    &TABLES[i % SHARDS]
}

/// Home slot of block `p`, whose granule hashes to `h`, in a table of `cap` slots.
#[inline(always)]
fn home(h: u64, p: usize, cap: usize) -> usize {
    let within = (p >> 4) & ((1 << (GRANULE_LG - 4)) - 1);
    (h as usize).rotate_right(20).wrapping_add(within) & (cap - 1)
}

thread_local! {
    /// Set while this thread is in a shard's critical section. A signal handler that
    /// interrupts it there and frees a block must not wait for a lock its own thread holds
    /// (that would spin forever): it skips the table instead (see [`with_shard`]).
    static IN_TABLE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` on the shard's table under its lock. `None` when this thread is already inside a
/// shard (re-entered from a signal handler): the lookup is skipped, so a sampled block freed
/// by such a handler is not charged to its site, and over an allocator that needs the exact
/// alignment (sampled mode) it would be freed with the caller's layout.
#[inline(always)]
fn with_shard<R>(s: &Shard, f: impl FnOnce(&mut Table) -> R) -> Option<R> {
    if IN_TABLE.try_with(|c| c.replace(true)).unwrap_or(false) {
        return None;
    }
    if s.lock
        .compare_exchange_weak(false, true, Acquire, Relaxed)
        .is_err()
    {
        lock_contended(s);
    }
    // SAFETY: the lock is held: this is the only reference to the table.
    let r = f(unsafe { &mut *s.inner.get() });
    s.lock.store(false, Release);
    let _ = IN_TABLE.try_with(|c| c.set(false));
    Some(r)
}

/// Waits for a shard's lock that another thread holds (out of line: rare with 64 shards).
/// Spins on a plain load and tries the exchange only once the lock looks free: an exchange
/// on every turn takes the lock's cache line away from the holder, which then waits for it
/// back to release the lock (and the table header, in the same line, to finish).
#[cold]
#[inline(never)]
fn lock_contended(s: &Shard) {
    let mut spins = 0u32;
    loop {
        while s.lock.load(Relaxed) {
            spins += 1;
            if spins < 100 {
                core::hint::spin_loop();
            } else {
                // SAFETY: sched_yield has no preconditions.
                unsafe { libc::sched_yield() };
            }
        }
        if s.lock
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_ok()
        {
            return;
        }
    }
}

impl Table {
    #[inline(always)]
    fn slot(&mut self, i: usize) -> &mut Entry {
        // SAFETY: callers pass `i < cap` (masked by `cap - 1`), and `slots` points to `cap`
        // entries whenever `cap > 0`.
        unsafe { &mut *self.slots.add(i & (self.cap - 1)) }
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self) -> bool {
        let new_cap = if self.cap == 0 {
            INITIAL_CAP
        } else {
            self.cap * 2
        };
        let bytes = map_len(new_cap);
        // Populated at once (`MAP_POPULATE`): the rehash below and the probes after it touch
        // every page of the new table (slots are picked by a hash), and the first touch of a
        // page was a read (the probe), so each page took two faults, the read mapping the
        // shared zero page and the write copying it. One populating `mmap` takes none. Not
        // advised onto transparent huge pages: where the kernel defragments for
        // `MADV_HUGEPAGE` (the default `defrag=madvise`), every fault of such a table waited
        // for compaction. Exact mode, 1M version strings parsed (2M live blocks): page
        // faults 129k -> 54k, system time 0.55-1.17 s -> 0.20-0.27 s, user + system
        // 1.8-2.7 s -> 1.56-1.63 s (docs/hook.md, "The live table's memory").
        // SAFETY: anonymous private mapping; checked below. Zeroed memory is all-empty
        // entries (`ptr == 0`).
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            self.stuck = true;
            return false;
        }
        let mut new = Table {
            slots: p.cast(),
            cap: new_cap,
            len: 0,
            stuck: false,
        };
        for i in 0..self.cap {
            let e = *self.slot(i);
            if e.ptr != 0 {
                new.put(e);
            }
        }
        if self.cap > 0 {
            // SAFETY: the old mapping is ours, of exactly this size, and nothing refers to
            // it any more (the lock is held and all entries were copied).
            unsafe { libc::munmap(self.slots.cast(), map_len(self.cap)) };
        }
        *self = new;
        true
    }

    /// Inserts (or overwrites) without growing; the table must have a free slot.
    #[inline(always)]
    fn put(&mut self, e: Entry) {
        let h = mix(e.ptr);
        let mut i = home(h, e.ptr, self.cap);
        loop {
            let cur = self.slot(i).ptr;
            if cur == 0 || cur == e.ptr {
                if cur == 0 {
                    self.len += 1;
                }
                *self.slot(i) = e;
                return;
            }
            i = (i + 1) & (self.cap - 1);
        }
    }

    #[inline(always)]
    fn insert(&mut self, e: Entry) -> bool {
        if (self.len + 1) * 2 > self.cap && !self.stuck {
            self.grow();
        }
        if self.len + 1 >= self.cap {
            return false;
        }
        self.put(e);
        true
    }

    #[inline(always)]
    fn remove(&mut self, p: usize) -> Option<Entry> {
        if self.cap == 0 {
            return None;
        }
        let mask = self.cap - 1;
        let mut i = home(mix(p), p, self.cap);
        loop {
            let q = self.slot(i).ptr;
            if q == 0 {
                return None;
            }
            if q == p {
                break;
            }
            i = (i + 1) & mask;
        }
        let found = *self.slot(i);
        // Backward-shift deletion. Only the key is read to decide; an entry is copied only
        // when it moves (every free probes here in exact mode).
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let q = self.slot(j).ptr;
            if q == 0 {
                break;
            }
            let k = home(mix(q), q, self.cap);
            // Move the entry into the hole unless its home lies cyclically in (hole, j].
            let stays = if hole <= j {
                hole < k && k <= j
            } else {
                hole < k || k <= j
            };
            if !stays {
                *self.slot(hole) = *self.slot(j);
                hole = j;
            }
        }
        // An empty slot is one whose key is 0; its other fields are never read.
        self.slot(hole).ptr = 0;
        self.len -= 1;
        Some(found)
    }
}

/// Where each shard's table is, `(slots, cap)`, copied out of the lock for [`prefetch`]:
/// written only when a table grows (so the lines stay shared in every core's cache), read
/// without the lock. A reader may see one field new and the other old; the address it then
/// prefetches is wrong, which costs nothing but the prefetch (see there).
struct Hint {
    slots: AtomicPtr<Entry>,
    cap: AtomicUsize,
}

static HINTS: [Hint; SHARDS] = [const {
    Hint {
        slots: AtomicPtr::new(ptr::null_mut()),
        cap: AtomicUsize::new(0),
    }
}; SHARDS];

/// Starts loading the cache line of the table slot where block `p` lives (or would be
/// inserted) before the shard's lock is taken: the slot's line is then on its way while the
/// lock is acquired and whatever the caller does first, instead of missing inside the
/// critical section. In exact mode with one thread freeing what another allocated, both the
/// lock's and the slot's lines come from the other core on every insert and remove, and the
/// slot miss was the biggest part of each (perf). A hint only: a prefetch never faults, at
/// any address, and changes nothing the program can see.
#[inline(always)]
pub(crate) fn prefetch(p: usize) {
    let h = mix(p);
    let hint = &HINTS[(h >> 58) as usize & (SHARDS - 1)];
    let cap = hint.cap.load(Relaxed);
    if cap == 0 {
        return;
    }
    let at = hint.slots.load(Relaxed).wrapping_add(home(h, p, cap));
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` only hints the cache; it never faults or reads for the program,
    // whatever the address (the intrinsic is unsafe only as a target-feature function, and
    // SSE is part of x86-64).
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// Records a live sampled block.
#[inline(always)]
pub(crate) fn insert(e: Entry) {
    let h = mix(e.ptr);
    let ok = with_shard(shard_of(h), |t| {
        let ok = t.insert(e);
        let hint = &HINTS[(h >> 58) as usize & (SHARDS - 1)];
        if hint.cap.load(Relaxed) != t.cap {
            // The table grew (or was just made): tell `prefetch` where it is now.
            hint.slots.store(t.slots, Relaxed);
            hint.cap.store(t.cap, Relaxed);
        }
        ok
    })
    .unwrap_or(false);
    if !ok {
        spill(e.ptr, e.align_log2);
    }
}

/// Removes the block at `p` if it is recorded.
#[inline(always)]
pub(crate) fn remove(p: usize) -> Option<Entry> {
    let r = with_shard(shard_of(mix(p)), |t| t.remove(p)).flatten();
    if r.is_some() {
        return r;
    }
    if SPILL_USED.load(Relaxed) != 0 {
        return unspill(p);
    }
    None
}

#[cold]
fn spill(p: usize, align_log2: u16) {
    SPILL_USED.fetch_add(1, Relaxed);
    for (k, a) in SPILL_KEYS.iter().zip(SPILL_ALIGN.iter()) {
        if k.compare_exchange(0, p, AcqRel, Relaxed).is_ok() {
            a.store(u64::from(align_log2), Release);
            return;
        }
    }
    // Out of memory and out of spill room: nothing left to remember the layout with.
    // Freeing this block with its original layout is then impossible to guarantee; abort
    // rather than corrupt the heap.
    std::process::abort();
}

#[cold]
fn unspill(p: usize) -> Option<Entry> {
    for (k, a) in SPILL_KEYS.iter().zip(SPILL_ALIGN.iter()) {
        if k.load(Acquire) == p {
            let align_log2 = a.load(Acquire) as u16;
            if k.compare_exchange(p, 0, AcqRel, Relaxed).is_ok() {
                SPILL_USED.fetch_sub(1, Relaxed);
                return Some(Entry {
                    ptr: p,
                    site: u32::MAX,
                    align_log2,
                    ..Entry::EMPTY
                });
            }
        }
    }
    None
}

/// Resident bytes of the live table: its shards' mappings and the spill array, by
/// `mincore` (for the `profiler` term of the gap). Takes each shard's lock in turn; never
/// allocates. Not for the hook.
pub(crate) fn resident_bytes() -> u64 {
    let mut total = 0u64;
    for s in &TABLES {
        total += with_shard(s, |t| {
            if t.slots.is_null() {
                0
            } else {
                crate::hook::own_memory::resident_in(t.slots as usize, map_len(t.cap))
            }
        })
        .unwrap_or(0);
    }
    total
        + crate::hook::own_memory::resident_in(
            SPILL_KEYS.as_ptr() as usize,
            core::mem::size_of_val(&SPILL_KEYS),
        )
        + crate::hook::own_memory::resident_in(
            SPILL_ALIGN.as_ptr() as usize,
            core::mem::size_of_val(&SPILL_ALIGN),
        )
}

/// Registers the fork handlers (once).
pub(crate) fn register_fork_handlers() {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, AcqRel) {
        return;
    }
    // SAFETY: the handlers are `extern "C"` functions that only touch statics; glibc's
    // pthread_atfork uses its own malloc, not the Rust global allocator.
    unsafe {
        libc::pthread_atfork(
            Some(before_fork),
            Some(after_fork_parent),
            Some(after_fork_child),
        );
    }
}

extern "C" fn before_fork() {
    for s in &TABLES {
        while s
            .lock
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
    }
}

extern "C" fn after_fork_parent() {
    for s in &TABLES {
        s.lock.store(false, Release);
    }
}

extern "C" fn after_fork_child() {
    after_fork_parent();
    crate::hook::peak::after_fork();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(p: usize) -> Entry {
        Entry {
            ptr: p,
            rate: p as u64,
            ..Entry::EMPTY
        }
    }

    #[test]
    fn reentering_a_shard_on_the_same_thread_skips_instead_of_waiting() {
        // What a signal handler that frees does when it interrupts its thread inside a
        // shard: without the guard this spins forever on a lock its own thread holds.
        let p = 0x7_0000_1000usize;
        let s = shard_of(mix(p));
        let nested = with_shard(s, |_| remove(p));
        assert!(matches!(nested, Some(None)), "the nested lookup is skipped");
        // And the lock and the flag are free again afterwards.
        insert(entry(p));
        assert_eq!(remove(p).map(|e| e.ptr), Some(p));
    }

    #[test]
    fn insert_remove_many_with_churn() {
        let mut t = Table {
            slots: ptr::null_mut(),
            cap: 0,
            len: 0,
            stuck: false,
        };
        let mut live = std::collections::BTreeSet::new();
        let mut x: u64 = 12345;
        for round in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let p = ((x % 4096) as usize + 1) * 16;
            if live.contains(&p) {
                let e = t.remove(p).expect("present");
                assert_eq!(e.rate, p as u64);
                live.remove(&p);
            } else {
                assert!(t.insert(entry(p)));
                live.insert(p);
            }
            if round % 997 == 0 {
                for &q in &live {
                    // Every live key is still findable (remove + reinsert).
                    let e = t.remove(q).expect("findable");
                    assert!(t.insert(e));
                }
                assert_eq!(t.len, live.len());
            }
        }
        assert!(t.remove(8).is_none());
    }
}
