//! Allocation budgets for tests: [`assert_max_allocs!`](crate::assert_max_allocs),
//! [`assert_max_bytes!`](crate::assert_max_bytes), [`assert_no_leaks!`](crate::assert_no_leaks),
//! and [`record`] underneath them.
//!
//! How it works (`docs/budgets.md` has the details):
//! - the figures are [`crate::measure`]'s: this thread's own counters, exact under libtest's
//!   parallel tests;
//! - while the closure runs, a capture bit in this thread's reentrancy state (the cell the
//!   hook's fast paths already read) sends this thread's allocator calls to the out-of-line
//!   paths of [`crate::Profiler`], which count them as usual and then record each allocation
//!   (pointer, size, raw stack, captured as for call sites) and, for leaks, each free, into a
//!   fixed-capacity buffer allocated before the closure starts (so the hook never
//!   allocates). Other threads, and this one outside the closure, pay nothing;
//! - on failure the recorded stacks are symbolized in the process from its own files, trimmed
//!   to the user's frames ([`crate::trim`]) and grouped by call site for the panic message.

// Without `serde` (no symbolization) nothing starts a capture: the hook side stays, unused.
#![cfg_attr(not(feature = "serde"), allow(dead_code))]

use std::cell::Cell;
use std::mem::MaybeUninit;

use crate::hook::guard as reentrancy;
use crate::hook::settings as config;
use crate::hook::unwind as stack;

// ---------------------------------------------------------------------------------------
// In the hook: recording into the preallocated buffer. No allocation, no panic.
// ---------------------------------------------------------------------------------------

/// Most allocations (and reallocations) one closure can record.
pub const MAX_EVENTS: usize = 1 << 17;
/// Most distinct stacks one closure can record.
pub const MAX_STACKS: usize = 1 << 13;
/// Most return addresses, over all distinct stacks, one closure can record.
const MAX_FRAMES: usize = 1 << 19;

/// Slots of the index of live recorded blocks (for leaks): twice [`MAX_EVENTS`].
const INDEX_SLOTS: usize = 2 * MAX_EVENTS;
/// Longest probe of that index: a block that finds no slot this close to its home is
/// counted in `index_lost` (and leaks can no longer be told) rather than searched for long.
const MAX_PROBE: usize = 64;
/// An index slot that held a block since freed.
const TOMBSTONE: usize = usize::MAX;
/// The stack of an event whose stack did not fit.
const NO_STACK: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Event {
    size: usize,
    stack: u32,
    /// Freed on this thread before the closure ended (known only when recording frees).
    freed: bool,
}

/// What one closure recorded. Allocated before the closure runs, in an untracked scope;
/// its vectors never grow (every push checks the capacity first).
struct Buffer {
    /// Follow frees too (for leaks).
    frees: bool,
    events: Vec<Event>,
    /// Allocations that did not fit.
    events_lost: u64,
    /// Index of the live recorded blocks: address (0 = empty, [`TOMBSTONE`]) …
    index_keys: Vec<usize>,
    /// … and its event.
    index_events: Vec<u32>,
    /// Recorded blocks the index had no room for (their frees cannot be seen).
    index_lost: u64,
    /// Open-addressed table of distinct stacks: hash (0 = empty slot) …
    hashes: Vec<u64>,
    /// … and `start << 32 | len` in `frames`.
    spans: Vec<u64>,
    frames: Vec<usize>,
    /// Stack ids in first-seen order (index into `spans`).
    order: Vec<u32>,
}

impl Buffer {
    fn new(frees: bool) -> Buffer {
        Buffer {
            frees,
            events: Vec::with_capacity(MAX_EVENTS),
            events_lost: 0,
            index_keys: if frees {
                vec![0; INDEX_SLOTS]
            } else {
                Vec::new()
            },
            index_events: if frees {
                vec![0; INDEX_SLOTS]
            } else {
                Vec::new()
            },
            index_lost: 0,
            // `vec![0; n]` is a zeroed allocation: pages are touched only when used.
            hashes: vec![0; MAX_STACKS],
            spans: vec![0; MAX_STACKS],
            frames: Vec::with_capacity(MAX_FRAMES),
            order: Vec::with_capacity(MAX_STACKS),
        }
    }

    /// Records the allocation `e` of the block at `ptr`.
    fn push(&mut self, ptr: usize, e: Event) {
        if self.events.len() >= self.events.capacity() {
            self.events_lost += 1;
            return;
        }
        let i = self.events.len() as u32;
        self.events.push(e);
        if self.frees && !self.index_insert(ptr, i) {
            self.index_lost += 1;
        }
    }

    fn home(ptr: usize) -> usize {
        // Blocks are aligned: hash the address (the top bits of a multiplicative hash).
        let h = (ptr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> (64 - INDEX_SLOTS.trailing_zeros())) as usize
    }

    /// Remembers that the live block at `ptr` is event `i`; false when there is no room.
    fn index_insert(&mut self, ptr: usize, i: u32) -> bool {
        let mask = INDEX_SLOTS - 1;
        let home = Self::home(ptr);
        let mut free_slot = None;
        for k in 0..MAX_PROBE {
            let slot = (home + k) & mask;
            match self.index_keys.get(slot).copied() {
                // The same address again (its free happened elsewhere): the newer block.
                Some(key) if key == ptr => {
                    free_slot = Some(slot);
                    break;
                }
                Some(TOMBSTONE) => {
                    free_slot = free_slot.or(Some(slot));
                }
                Some(0) => {
                    free_slot = free_slot.or(Some(slot));
                    break;
                }
                Some(_) => {}
                None => break,
            }
        }
        let Some(slot) = free_slot else {
            return false;
        };
        if let (Some(k), Some(e)) = (
            self.index_keys.get_mut(slot),
            self.index_events.get_mut(slot),
        ) {
            *k = ptr;
            *e = i;
            return true;
        }
        false
    }

    /// The block at `ptr` was freed: marks its event, if recorded.
    fn index_free(&mut self, ptr: usize) {
        let mask = INDEX_SLOTS - 1;
        let home = Self::home(ptr);
        for k in 0..MAX_PROBE {
            let slot = (home + k) & mask;
            match self.index_keys.get(slot).copied() {
                Some(key) if key == ptr => {
                    let i = self.index_events.get(slot).copied().unwrap_or(u32::MAX);
                    if let Some(e) = self.events.get_mut(i as usize) {
                        e.freed = true;
                    }
                    if let Some(k) = self.index_keys.get_mut(slot) {
                        *k = TOMBSTONE;
                    }
                    return;
                }
                Some(0) | None => return,
                Some(_) => {}
            }
        }
    }

    fn stack(&self, id: u32) -> &[usize] {
        let span = self.spans.get(id as usize).copied().unwrap_or(0);
        let (start, len) = ((span >> 32) as usize, (span & 0xffff_ffff) as usize);
        self.frames.get(start..start + len).unwrap_or(&[])
    }

    /// The id of `frames`, inserted if new; [`NO_STACK`] when the table or arena is full.
    fn intern(&mut self, frames: &[usize]) -> u32 {
        let hash = stack::hash(frames).max(1);
        let mask = MAX_STACKS - 1;
        let mut i = (hash as usize) & mask;
        for _ in 0..MAX_STACKS {
            match self.hashes.get(i).copied() {
                Some(0) => {
                    let start = self.frames.len();
                    if start + frames.len() > self.frames.capacity()
                        || self.order.len() >= self.order.capacity()
                    {
                        return NO_STACK;
                    }
                    self.frames.extend_from_slice(frames);
                    if let (Some(h), Some(s)) = (self.hashes.get_mut(i), self.spans.get_mut(i)) {
                        *h = hash;
                        *s = (start as u64) << 32 | frames.len() as u64;
                    }
                    self.order.push(i as u32);
                    return i as u32;
                }
                Some(h) if h == hash && self.stack(i as u32) == frames => return i as u32,
                Some(_) => i = (i + 1) & mask,
                None => return NO_STACK,
            }
        }
        NO_STACK
    }
}

thread_local! {
    /// The buffer of this thread's running capture; null when none.
    static BUFFER: Cell<*mut Buffer> = const { Cell::new(std::ptr::null_mut()) };
}

/// Runs `f` on this thread's capture buffer, inside the hook (anything allocated meanwhile
/// is neither counted nor recorded). Nothing when this thread does not capture.
#[inline]
fn with_buffer(f: impl FnOnce(&mut Buffer)) {
    let Some(_guard) = reentrancy::enter_capture_record() else {
        return;
    };
    let p = BUFFER.try_with(Cell::get).unwrap_or(std::ptr::null_mut());
    if p.is_null() {
        return;
    }
    // SAFETY: `p` is the live buffer that `record` installed for this thread and removes
    // (before freeing it) once the closure ends; only this thread uses it, and `record`
    // holds no reference to it while the closure runs, so this is the only one.
    f(unsafe { &mut *p });
}

/// Records the allocation (or reallocation) of `size` bytes at `ptr` with the current stack.
#[inline(never)]
fn record_with_stack(ptr: usize, size: usize) {
    with_buffer(|b| {
        let mut buf = [MaybeUninit::<usize>::uninit(); stack::MAX_RAW_FRAMES];
        let depth = (config::max_depth() + stack::PLUMBING_FRAMES).min(buf.len());
        let (n, _) = stack::capture(buf.get_mut(..depth).unwrap_or(&mut []), config::unwinder());
        let filled = buf.get(..n).unwrap_or(&[]);
        // SAFETY: `capture` initialised the first `n` entries it returned.
        let frames: &[usize] =
            unsafe { &*(filled as *const [MaybeUninit<usize>] as *const [usize]) };
        let stack = b.intern(frames);
        b.push(
            ptr,
            Event {
                size,
                stack,
                freed: false,
            },
        );
    });
}

/// The hook: this capturing thread allocated `size` bytes at `ptr`.
fn on_alloc(ptr: usize, size: usize) {
    record_with_stack(ptr, size);
}

/// The hook: this capturing thread freed `ptr`.
fn on_free(ptr: usize) {
    with_buffer(|b| {
        if b.frees {
            b.index_free(ptr);
        }
    });
}

/// The hook: this capturing thread reallocated `old` into `new_size` bytes at `new`.
fn on_realloc(old: usize, new: usize, new_size: usize) {
    on_free(old);
    record_with_stack(new, new_size);
}

/// Hands the hook this module's entry points (see [`crate::hook::capture`]).
#[cfg_attr(not(feature = "serde"), allow(dead_code))]
fn register_recorder() {
    crate::hook::capture::register(crate::hook::capture::Recorder {
        on_alloc,
        on_free,
        on_realloc,
    });
}

// ---------------------------------------------------------------------------------------
// Outside the hook: running the closure, the figures, the report.
// ---------------------------------------------------------------------------------------

#[cfg(feature = "serde")]
pub use report::*;

#[cfg(feature = "serde")]
mod report {
    use std::collections::HashMap;
    use std::fmt::{self, Write as _};

    use super::{Buffer, BUFFER, NO_STACK};
    use crate::hook::counters;
    use crate::hook::guard as reentrancy;
    use crate::model::counts::Counts;
    use crate::model::profile::Frame;
    use crate::model::units::{format_bytes, format_count};

    /// What a closure run by [`record`] allocated on this thread: exact counts, and each
    /// allocation with its stack.
    pub struct Recording {
        counts: Counts,
        buffer: Option<Box<Buffer>>,
    }

    impl fmt::Debug for Recording {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Recording")
                .field("counts", &self.counts)
                .field(
                    "events",
                    &self.buffer.as_ref().map_or(0, |b| b.events.len()),
                )
                .finish()
        }
    }

    impl Drop for Recording {
        fn drop(&mut self) {
            // Allocated untracked, so freed untracked.
            let buffer = self.buffer.take();
            reentrancy::untracked(|| drop(buffer));
        }
    }

    /// Allocations of one call site (a distinct stack, trimmed to the user's frames).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SiteAllocs {
        /// The stack, the allocating function first (`frames[0]`), trimmed to the user's
        /// frames; empty when the stack could not be recorded (buffer full).
        pub frames: Vec<Frame>,
        /// Allocations (and reallocations) made there.
        pub count: u64,
        /// Bytes they requested.
        pub bytes: u64,
    }

    impl Recording {
        /// The exact counts of this thread inside the closure (as [`crate::measure`]).
        pub fn counts(&self) -> Counts {
            self.counts
        }

        /// Allocations and reallocations made inside the closure (allocator calls that
        /// handed out a block).
        pub fn allocations(&self) -> u64 {
            self.counts.allocs + self.counts.reallocs
        }

        /// Allocations that did not fit in the buffer ([`super::MAX_EVENTS`]), or (with
        /// `leaks`) whose frees could not be followed: the counts stay exact, but these are
        /// missing from [`Recording::sites`], and [`Recording::leaks`] is incomplete.
        pub fn events_lost(&self) -> u64 {
            self.buffer
                .as_ref()
                .map_or(0, |b| b.events_lost + b.index_lost)
        }

        /// Every allocation of the closure, by call site, most bytes first.
        pub fn sites(&self) -> Vec<SiteAllocs> {
            self.group(|_| true)
        }

        /// The blocks allocated inside the closure on this thread and not freed on it before
        /// the closure ended, by call site, most bytes first. Empty unless recorded with
        /// `leaks = true`.
        pub fn leaks(&self) -> Vec<SiteAllocs> {
            let leaked = self.leaked_events();
            self.group(|i| leaked.get(i).copied().unwrap_or(false))
        }

        /// The blocks and bytes of [`Recording::leaks`], without naming their call sites
        /// (nothing is symbolized).
        pub fn leaked(&self) -> (u64, u64) {
            let Some(b) = &self.buffer else {
                return (0, 0);
            };
            let leaked = self.leaked_events();
            b.events
                .iter()
                .zip(leaked)
                .filter(|(_, l)| *l)
                .fold((0, 0), |(n, bytes), (e, _)| (n + 1, bytes + e.size as u64))
        }

        /// For each event, whether it is an allocation still live at the end.
        fn leaked_events(&self) -> Vec<bool> {
            let Some(b) = &self.buffer else {
                return Vec::new();
            };
            if !b.frees {
                return Vec::new();
            }
            b.events.iter().map(|e| !e.freed).collect()
        }

        /// Events (by index) accepted by `keep`, grouped by stack, symbolized and trimmed,
        /// regrouped by trimmed stack.
        fn group(&self, keep: impl Fn(usize) -> bool) -> Vec<SiteAllocs> {
            let Some(b) = &self.buffer else {
                return Vec::new();
            };
            let mut by_stack: HashMap<u32, (u64, u64)> = HashMap::new();
            for (i, e) in b.events.iter().enumerate() {
                if keep(i) {
                    let s = by_stack.entry(e.stack).or_default();
                    s.0 += 1;
                    s.1 += e.size as u64;
                }
            }
            if by_stack.is_empty() {
                return Vec::new();
            }
            let ids: Vec<u32> = by_stack.keys().copied().collect();
            let raw: Vec<Vec<usize>> = ids
                .iter()
                .map(|&id| {
                    if id == NO_STACK {
                        Vec::new()
                    } else {
                        b.stack(id).to_vec()
                    }
                })
                .collect();
            // Reading the program's debug info is allocscope's work, not the program's.
            let resolved = reentrancy::untracked(|| {
                let frames = crate::observe::symbolize::resolve_in_process(&raw);
                frames
                    .iter()
                    .map(|f| {
                        let mut t = crate::analysis::trim::trim_frames(f);
                        // The frames below the closure are the budget's own.
                        if let Some(end) = t
                            .iter()
                            .position(|f| f.function.starts_with("allocscope::budget::"))
                        {
                            t.truncate(end);
                        }
                        t
                    })
                    .collect::<Vec<_>>()
            });
            let trimmed: Vec<Vec<Frame>> = resolved.clone();
            reentrancy::untracked(|| drop(resolved));
            let mut sites: Vec<SiteAllocs> = Vec::new();
            let mut index: HashMap<Vec<Frame>, usize> = HashMap::new();
            for (id, frames) in ids.iter().zip(trimmed) {
                let (count, bytes) = by_stack.get(id).copied().unwrap_or_default();
                let frames = if *id == NO_STACK { Vec::new() } else { frames };
                match index.get(&frames) {
                    Some(&i) => {
                        if let Some(s) = sites.get_mut(i) {
                            s.count += count;
                            s.bytes += bytes;
                        }
                    }
                    None => {
                        index.insert(frames.clone(), sites.len());
                        sites.push(SiteAllocs {
                            frames,
                            count,
                            bytes,
                        });
                    }
                }
            }
            sites.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(b.count.cmp(&a.count)));
            sites
        }
    }

    /// Runs `f` on this thread and records what it allocates: exact counts, and every
    /// allocation (and reallocation) with its stack; with `leaks`, every free too, so that
    /// [`Recording::leaks`] can tell which blocks outlived the closure.
    ///
    /// # Panics
    /// When no [`crate::Profiler`] is the global allocator (nothing would be counted), when
    /// this thread has no counter slot of its own, or when called inside another `record`
    /// on the same thread.
    pub fn record<T>(leaks: bool, f: impl FnOnce() -> T) -> (T, Recording) {
        if !crate::hook::profiler::is_installed() {
            panic!(
                "allocscope: no allocscope::Profiler is the global allocator, so allocation \
                 budgets cannot be checked; install one (#[global_allocator] static ALLOC: \
                 allocscope::Profiler<std::alloc::System> = allocscope::Profiler::new(std::alloc::System);)"
            );
        }
        if BUFFER.with(|b| !b.get().is_null()) {
            panic!("allocscope: allocation budgets cannot be nested on one thread");
        }
        let buffer = reentrancy::untracked(|| Box::new(Buffer::new(leaks)));
        let raw = Box::into_raw(buffer);

        /// Stops the capture and takes the buffer back, also when `f` panics.
        struct Stop(*mut Buffer);
        impl Stop {
            fn finish(&mut self) -> Option<Box<Buffer>> {
                reentrancy::set_capture(false);
                let _ = BUFFER.try_with(|b| b.set(std::ptr::null_mut()));
                let p = std::mem::replace(&mut self.0, std::ptr::null_mut());
                // SAFETY: `p` came from `Box::into_raw` in `record` and is taken back once
                // (it is nulled here); the hook no longer sees it (capture off, cell null).
                (!p.is_null()).then(|| unsafe { Box::from_raw(p) })
            }
        }
        impl Drop for Stop {
            fn drop(&mut self) {
                let buffer = self.finish();
                reentrancy::untracked(|| drop(buffer));
            }
        }

        let before = counters::thread_counts();
        let mut stop = Stop(raw);
        BUFFER.with(|b| b.set(raw));
        super::register_recorder();
        reentrancy::set_capture(true);
        let value = f();
        let buffer = stop.finish();
        let after = counters::thread_counts();
        let (Some(b), Some(a)) = (before, after) else {
            reentrancy::untracked(|| drop(buffer));
            panic!(
                "allocscope: this thread has no counter slot of its own (too many threads), so \
                 its allocations cannot be told from others'"
            );
        };
        let counts = Counts {
            allocs: a.allocs - b.allocs,
            reallocs: a.reallocs - b.reallocs,
            frees: a.frees - b.frees,
            bytes_allocated: a.bytes_allocated - b.bytes_allocated,
            bytes_freed: a.bytes_freed - b.bytes_freed,
        };
        (value, Recording { counts, buffer })
    }

    /// The sites of a failed budget, most bytes first, for a panic message.
    fn describe(sites: &[SiteAllocs], out: &mut String) {
        const TOP: usize = 20;
        const DEPTH: usize = 4;
        for site in sites.iter().take(TOP) {
            let what = if site.count == 1 {
                "1 allocation".to_string()
            } else {
                format!("{} allocations", format_count(site.count))
            };
            let _ = writeln!(
                out,
                "  {what}, {}:",
                format_bytes(i64::try_from(site.bytes).unwrap_or(i64::MAX))
            );
            if site.frames.is_empty() {
                let _ = writeln!(out, "      (stack not recorded: capture buffer full)");
            }
            for (k, f) in site.frames.iter().take(DEPTH).enumerate() {
                let at = match (&f.file, f.line) {
                    (Some(file), Some(line)) => format!("{file}:{line}"),
                    (Some(file), None) => file.clone(),
                    _ => "?".to_string(),
                };
                let lead = if k == 0 { "at" } else { "by" };
                let _ = writeln!(out, "      {lead} {} ({at})", f.function);
            }
        }
        if sites.len() > TOP {
            let _ = writeln!(out, "  … and {} more call sites", sites.len() - TOP);
        }
    }

    fn lost_note(r: &Recording, out: &mut String) {
        let lost = r.events_lost();
        if lost > 0 {
            let _ = writeln!(
                out,
                "  ({lost} allocations did not fit in the capture buffer and are not listed)"
            );
        }
    }

    /// [`crate::assert_max_allocs!`]: runs `f` and panics, listing the allocations by call
    /// site, when it made more than `max` allocations (allocs plus reallocs) on this thread.
    #[track_caller]
    pub fn assert_max_allocs<T>(max: u64, f: impl FnOnce() -> T) -> T {
        let (value, r) = record(false, f);
        let n = r.allocations();
        if n > max {
            let mut msg = format!(
                "allocation budget exceeded: {} allocations ({} allocs + {} reallocs, {}) on \
                 this thread, at most {} allowed\n",
                format_count(n),
                format_count(r.counts.allocs),
                format_count(r.counts.reallocs),
                format_bytes(i64::try_from(r.counts.bytes_allocated).unwrap_or(i64::MAX)),
                format_count(max)
            );
            describe(&r.sites(), &mut msg);
            lost_note(&r, &mut msg);
            drop(r);
            panic!("{msg}");
        }
        value
    }

    /// [`crate::assert_max_bytes!`]: runs `f` and panics, listing the allocations by call
    /// site, when it requested more than `max` bytes on this thread (allocs plus the new
    /// size of every realloc).
    #[track_caller]
    pub fn assert_max_bytes<T>(max: u64, f: impl FnOnce() -> T) -> T {
        let (value, r) = record(false, f);
        let n = r.counts.bytes_allocated;
        if n > max {
            let mut msg = format!(
                "allocation budget exceeded: {} bytes requested in {} allocations on this \
                 thread, at most {} bytes allowed\n",
                format_count(n),
                format_count(r.allocations()),
                format_count(max)
            );
            describe(&r.sites(), &mut msg);
            lost_note(&r, &mut msg);
            drop(r);
            panic!("{msg}");
        }
        value
    }

    /// [`crate::assert_no_leaks!`]: runs `f` and panics, listing the leaked blocks by call
    /// site, when a block it allocated on this thread is still live when it returns. The
    /// value `f` returns is dropped before the check (a returned `Vec` is not a leak).
    #[track_caller]
    pub fn assert_no_leaks<T>(f: impl FnOnce() -> T) {
        let ((), r) = record(true, || drop(f()));
        if r.events_lost() > 0 {
            let lost = r.events_lost();
            drop(r);
            panic!(
                "allocscope: {lost} allocations did not fit in the capture buffer ({} \
                 allocations): leaks cannot be told; check a smaller closure",
                super::MAX_EVENTS
            );
        }
        let (blocks, bytes) = r.leaked();
        if blocks > 0 {
            let leaks = r.leaks();
            let mut msg = format!(
                "leak: {} blocks ({}) allocated in the closure on this thread are still live \
                 after it\n",
                format_count(blocks),
                format_bytes(i64::try_from(bytes).unwrap_or(i64::MAX))
            );
            describe(&leaks, &mut msg);
            drop(r);
            panic!("{msg}");
        }
    }
}

/// Asserts that a closure makes at most `max` allocations (allocs plus reallocs) on the
/// current thread, and returns its value. On failure, the panic message lists the
/// allocations by call site: function, file:line, count, bytes.
///
/// Exact under libtest's parallel tests (only this thread's allocations count). Panics if no
/// [`Profiler`](crate::Profiler) is the global allocator.
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocscope::Profiler<std::alloc::System> =
///     allocscope::Profiler::new(std::alloc::System);
///
/// fn main() {
///     let n = allocscope::assert_max_allocs!(0, || "1.2.3".split('.').count());
///     assert_eq!(n, 3);
///     allocscope::assert_max_allocs!(1, || vec![0u8; 64]);
/// }
/// ```
#[cfg(feature = "serde")]
#[macro_export]
macro_rules! assert_max_allocs {
    ($max:expr, $f:expr $(,)?) => {
        $crate::budget::assert_max_allocs(($max) as u64, $f)
    };
}

/// Asserts that a closure requests at most `max` bytes (allocs plus the new size of every
/// realloc) on the current thread, and returns its value. On failure, the panic message lists
/// the allocations by call site.
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocscope::Profiler<std::alloc::System> =
///     allocscope::Profiler::new(std::alloc::System);
///
/// fn main() {
///     let v = allocscope::assert_max_bytes!(1024, || vec![0u8; 1000]);
///     assert_eq!(v.len(), 1000);
/// }
/// ```
#[cfg(feature = "serde")]
#[macro_export]
macro_rules! assert_max_bytes {
    ($max:expr, $f:expr $(,)?) => {
        $crate::budget::assert_max_bytes(($max) as u64, $f)
    };
}

/// Asserts that every block a closure allocates on the current thread is freed by the time
/// it returns (its return value is dropped first). On failure, the panic message lists the
/// leaked blocks by call site.
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocscope::Profiler<std::alloc::System> =
///     allocscope::Profiler::new(std::alloc::System);
///
/// fn main() {
///     allocscope::assert_no_leaks!(|| {
///         let v: Vec<String> = (0..10).map(|i| i.to_string()).collect();
///         v.len()
///     });
/// }
/// ```
#[cfg(feature = "serde")]
#[macro_export]
macro_rules! assert_no_leaks {
    ($f:expr $(,)?) => {
        $crate::budget::assert_no_leaks($f)
    };
}
