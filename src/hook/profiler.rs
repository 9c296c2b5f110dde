//! `Profiler<A>`: the `GlobalAlloc` hook.
//!
//! Every method forwards to the inner allocator and, unless the thread is already inside the
//! hook (or internal to allocscope), tells the counters and the call-site recorder about it.
//! Nothing here allocates, locks, logs or panics.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};

use crate::hook::guard;
use crate::hook::mallctl::Mallctl;
use crate::hook::sites;
use crate::hook::{counters, large_blocks, own_memory, spans, thread_state};

/// A global allocator that counts and profiles every allocation of the program, forwarding
/// each call to `inner` unchanged.
///
/// ```
/// use std::alloc::System;
/// #[global_allocator]
/// static ALLOC: allocscope::Profiler<System> = allocscope::Profiler::new(System);
///
/// fn main() {
///     let (_v, counts) = allocscope::measure(|| vec![1u8; 100]);
///     assert_eq!(counts.allocs, 1);
///     assert_eq!(counts.bytes_allocated, 100);
/// }
/// ```
#[derive(Debug, Default)]
pub struct Profiler<A> {
    inner: A,
    /// The `mallctl` of the jemalloc `inner` is, registered on the first allocation.
    jemalloc_mallctl: Option<Mallctl>,
}

impl<A> Profiler<A> {
    /// Wraps `inner`.
    pub const fn new(inner: A) -> Self {
        Profiler {
            inner,
            jemalloc_mallctl: None,
        }
    }

    /// Reads jemalloc's statistics (for the RSS gap, [`crate::purge()`] and the profile's
    /// allocator configuration) through `mallctl`, the `mallctl` of the jemalloc that
    /// `inner` allocates from: the program's own jemalloc, of any version, without
    /// allocscope linking a second one.
    ///
    /// ```ignore
    /// // Cargo.toml: tikv-jemallocator = "0.6" (any of 0.5, 0.6, 0.7),
    /// //             tikv-jemalloc-sys = { version = "0.6", features = ["stats"] }
    /// #[global_allocator]
    /// static ALLOC: allocscope::Profiler<tikv_jemallocator::Jemalloc> =
    ///     allocscope::Profiler::new(tikv_jemallocator::Jemalloc)
    ///         .with_jemalloc_stats(tikv_jemalloc_sys::mallctl);
    /// ```
    ///
    /// The statistics exist only when that jemalloc is built with them (tikv-jemalloc-sys's
    /// `stats` feature); otherwise the gap stays partial. With allocscope's `jemalloc`
    /// feature, `Profiler::new(allocscope::Jemalloc)` needs no call to this.
    pub const fn with_jemalloc_stats(mut self, mallctl: Mallctl) -> Self {
        self.jemalloc_mallctl = Some(mallctl);
        self
    }

    /// The wrapped allocator.
    pub const fn inner(&self) -> &A {
        &self.inner
    }
}

/// The kind of inner allocator the installed [`Profiler`] wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllocatorKind {
    /// `std::alloc::System` (glibc malloc on Linux).
    System,
    /// jemalloc: a type named `…Jemalloc…` (tikv-jemallocator's, jemallocator's), or any
    /// allocator given [`Profiler::with_jemalloc_stats`].
    Jemalloc,
    /// mimalloc's `MiMalloc`.
    Mimalloc,
    /// Any other `GlobalAlloc`.
    Other,
}

impl AllocatorKind {
    /// A short lower-case name: `system`, `jemalloc`, `mimalloc`, `other`.
    pub fn name(self) -> &'static str {
        match self {
            AllocatorKind::System => "system",
            AllocatorKind::Jemalloc => "jemalloc",
            AllocatorKind::Mimalloc => "mimalloc",
            AllocatorKind::Other => "other",
        }
    }

    fn from_code(code: u8) -> Option<AllocatorKind> {
        Some(match code {
            1 => AllocatorKind::System,
            2 => AllocatorKind::Jemalloc,
            3 => AllocatorKind::Mimalloc,
            4 => AllocatorKind::Other,
            _ => return None,
        })
    }

    fn of_type<A>() -> AllocatorKind {
        // `type_name` returns a static string: no allocation.
        let name = std::any::type_name::<A>();
        if name.ends_with("::System") {
            AllocatorKind::System
        } else if name.contains("Jemalloc") {
            AllocatorKind::Jemalloc
        } else if name.contains("MiMalloc") {
            AllocatorKind::Mimalloc
        } else {
            AllocatorKind::Other
        }
    }
}

static INSTALLED: AtomicBool = AtomicBool::new(false);
static KIND: AtomicU8 = AtomicU8::new(0);

/// True once a [`Profiler`] installed as the global allocator has seen an allocation.
pub fn is_installed() -> bool {
    INSTALLED.load(Relaxed)
}

/// The inner allocator of the installed [`Profiler`], if one is installed.
pub fn installed_allocator() -> Option<AllocatorKind> {
    AllocatorKind::from_code(KIND.load(Relaxed))
}

#[inline]
fn note_installed<A>(mallctl: Option<Mallctl>) {
    if !INSTALLED.load(Relaxed) {
        #[cold]
        fn first<A>(mallctl: Option<Mallctl>) {
            let mut kind = AllocatorKind::of_type::<A>();
            // With the `jemalloc` feature, the bundled tikv-jemallocator is the only jemalloc
            // that can be linked (`links = "jemalloc"`): its type needs no explicit mallctl.
            #[cfg(feature = "jemalloc")]
            let mallctl = mallctl.or_else(|| {
                std::any::type_name::<A>()
                    .starts_with("tikv_jemallocator::")
                    .then_some(tikv_jemalloc_sys::mallctl as Mallctl)
            });
            if let Some(f) = mallctl {
                // SAFETY: `f` is the mallctl of the jemalloc this allocator allocates from,
                // as `with_jemalloc_stats`'s caller states (or the bundled one, above).
                unsafe { crate::hook::mallctl::set_mallctl(f) };
                kind = AllocatorKind::Jemalloc;
            }
            let code = match kind {
                AllocatorKind::System => 1,
                AllocatorKind::Jemalloc => 2,
                AllocatorKind::Mimalloc => 3,
                AllocatorKind::Other => 4,
            };
            KIND.store(code, Relaxed);
            INSTALLED.store(true, Relaxed);
        }
        first::<A>(mallctl);
    }
}

impl<A: GlobalAlloc> Profiler<A> {
    /// Allocates `layout` through the inner allocator and counts it. Hot path: the common
    /// call (a thread with an active counter slot, a sampling countdown that did not run out,
    /// no tracing span, a request [`counters::alloc_fast`] can count) only counts, and every
    /// other call goes to one out-of-line entry, [`Self::alloc_slow`]. One call site for all
    /// of them keeps this small enough for LLVM to inline into the user's `__rust_alloc`
    /// callers, as it does bare jemalloc's.
    ///
    /// # Safety
    /// As `GlobalAlloc::alloc`; `zeroed` selects `alloc_zeroed`.
    #[inline(always)]
    unsafe fn alloc_counted(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        // Also true while a tracing span is entered on this thread, which parks the countdown
        // below zero: no test of its own here (`crate::hook::spans`). First, for every call
        // (the next test writes the head only after this one passed; `alloc_slow` takes the
        // size back when the call may not be counted here).
        if !sites::sample_countdown_expired(layout.size())
            // SAFETY: this thread's active pointer, read after the countdown passed, so not
            // the static stand-in (`thread_state::UNSET`). A stand-in fails here: no test of
            // the pointer itself (`counters::Head`).
            && unsafe {
                counters::alloc_fast(thread_state::active_head(), layout.size(), layout.align())
            }
        {
            // SAFETY: the caller's contract, passed on; `alloc_fast` just counted it.
            return unsafe { self.alloc_fast_counted(layout, zeroed) };
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { self.alloc_slow(layout, zeroed) }
    }

    /// Allocates `layout`, which [`counters::alloc_fast`] has just counted, and takes the
    /// count back if the inner allocation fails (with the size, which the caller still holds:
    /// nothing else is kept across the call).
    ///
    /// # Safety
    /// As `GlobalAlloc::alloc` / `alloc_zeroed`.
    #[inline(always)]
    unsafe fn alloc_fast_counted(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: the caller's layout, as the caller's contract allows.
        let ptr = unsafe { self.raw_alloc(layout, zeroed) };
        if ptr.is_null() {
            counters::uncount_fast(layout.size());
        }
        ptr
    }

    /// Every allocation but the common one, told apart again from the state the fast path
    /// left: a thread with no active counter slot ([`Self::alloc_cold`]: not to be counted,
    /// or the thread's first call; the countdown was not touched), a tracing span
    /// ([`Self::alloc_in_span`]), a countdown that ran out in exact mode
    /// ([`Self::alloc_exact`]) or otherwise ([`Self::alloc_rare`]), else a
    /// request the fast counters cannot take ([`Self::alloc_general`]). (A signal handler that allocates in between can
    /// only change which of the last two takes it: either counts exactly.)
    ///
    /// # Safety
    /// As `GlobalAlloc::alloc` / `alloc_zeroed`.
    #[inline(never)]
    unsafe fn alloc_slow(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        let slot = thread_state::active_slot();
        if slot.is_null() {
            // Not counted here: the fast path's count-down is taken back (a call the thread
            // may not count never moves its countdown, as before the countdown was tested
            // first). The stand-in head needs nothing: `alloc_fast` undid its subtraction.
            sites::sample_count_up(layout.size());
            // SAFETY: the caller's contract, passed on.
            return unsafe { self.alloc_cold(layout, zeroed) };
        }
        if spans::current() != 0 {
            // SAFETY: the caller's contract, passed on; `slot` was just read non-null.
            return unsafe { self.alloc_in_span(slot, layout, zeroed) };
        }
        // Asked only with no span entered: it resets the countdown, which a span parks.
        if sites::exact_due() {
            // SAFETY: the caller's contract, passed on; `slot` was just read non-null.
            return unsafe { self.alloc_exact(slot, layout, zeroed) };
        }
        if sites::sample_decision_due() {
            // SAFETY: the caller's contract, passed on.
            return unsafe { self.alloc_rare(layout, zeroed, true) };
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { self.alloc_general(layout, zeroed) }
    }

    /// Allocates `layout` and counts it as the fast path does: counted before the inner call,
    /// so that only the size is live across it (for the rare uncount: kept in a register the
    /// call preserves, which a caller that inlines this already holds it in); a failed
    /// allocation is uncounted afterwards. What the fast counters cannot take goes to
    /// [`Self::alloc_general`].
    ///
    /// # Safety
    /// As `GlobalAlloc::alloc` / `alloc_zeroed`; `slot` is this thread's non-null active slot.
    #[inline(always)]
    unsafe fn alloc_and_count(
        &self,
        slot: *const counters::Slot,
        layout: Layout,
        zeroed: bool,
    ) -> *mut u8 {
        // SAFETY: `slot` is this thread's non-null active slot, as the caller guarantees.
        if unsafe { counters::alloc_fast(slot.cast(), layout.size(), layout.align()) } {
            // SAFETY: the caller's contract, passed on; `alloc_fast` just counted it.
            return unsafe { self.alloc_fast_counted(layout, zeroed) };
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { self.alloc_general(layout, zeroed) }
    }

    /// An allocation the fast path cannot count (large, over-aligned, or due for a publish
    /// or a look at the peak): allocated, then counted by the general path. Out of line, so
    /// that the fast path keeps nothing across its inner call.
    ///
    /// # Safety
    /// As `GlobalAlloc::alloc` / `alloc_zeroed`.
    #[inline(never)]
    unsafe fn alloc_general(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: the caller's layout, as the caller's contract allows.
        let ptr = unsafe { self.raw_alloc(layout, zeroed) };
        if !ptr.is_null() {
            count_alloc_general(ptr, layout);
        }
        ptr
    }

    /// An allocation on a thread without an active counter slot: not to be counted (see
    /// [`Self::alloc_untracked`]), or the thread's first, which claims the slot.
    ///
    /// # Safety
    /// As `GlobalAlloc::alloc` / `alloc_zeroed`.
    #[cold]
    #[inline(never)]
    unsafe fn alloc_cold(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        if !guard::may_count() {
            // SAFETY: the caller's contract, passed on.
            return unsafe { self.alloc_untracked(layout, zeroed) };
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { self.alloc_rare(layout, zeroed, false) }
    }

    /// An allocation while a tracing span is entered on this thread (which parks the
    /// countdown, so the fast path sent it here): counted down the real countdown, then
    /// sampled ([`Self::alloc_rare`]) if that ran out, else counted as the fast path counts;
    /// either way charged to the span.
    ///
    /// # Safety
    /// As `GlobalAlloc::alloc` / `alloc_zeroed`; `slot` is this thread's active slot.
    #[cold]
    #[inline(never)]
    unsafe fn alloc_in_span(
        &self,
        slot: *const counters::Slot,
        layout: Layout,
        zeroed: bool,
    ) -> *mut u8 {
        if spans::count_down(layout.size()) {
            // SAFETY: the caller's contract, passed on.
            return unsafe { self.alloc_rare(layout, zeroed, true) };
        }
        // SAFETY: the caller's contract, passed on (`slot` is this thread's active slot).
        let ptr = unsafe { self.alloc_and_count(slot, layout, zeroed) };
        if !ptr.is_null() {
            spans::on_alloc(layout.size());
        }
        ptr
    }

    /// An allocation in exact mode (every allocation's stack recorded) on a thread that may
    /// count: [`Self::alloc_rare`] without the sampler's decision (the caller asked
    /// [`sites::exact_due`]) or the sampled layout (exact mode keeps the caller's), counted
    /// as the fast path counts where it can. A tail call of [`Self::alloc_slow`] with the
    /// record inlined, so the stack walk meets few frames of allocscope's.
    ///
    /// # Safety
    /// As `GlobalAlloc::alloc` / `alloc_zeroed`; `slot` is this thread's active slot.
    #[inline(never)]
    unsafe fn alloc_exact(
        &self,
        slot: *const counters::Slot,
        layout: Layout,
        zeroed: bool,
    ) -> *mut u8 {
        let Some(_guard) = guard::enter_hook() else {
            // Not to be counted after all (a signal handler's scope): the general path.
            // SAFETY: the caller's contract, passed on.
            return unsafe { self.alloc_rare(layout, zeroed, true) };
        };
        // SAFETY: the caller's layout, as the caller's contract allows.
        let ptr = unsafe { self.raw_alloc(layout, zeroed) };
        if ptr.is_null() {
            return ptr;
        }
        // The live table's slot for `ptr` loads while the stack is walked.
        sites::prefetch_live(ptr);
        // SAFETY: `slot` is this thread's slot (the guard only hides it from the fast paths,
        // and only this thread writes it).
        let peak = if unsafe { counters::alloc_fast(slot.cast(), layout.size(), layout.align()) } {
            0
        } else {
            counters::on_alloc(layout.size(), layout.align())
        };
        // After the counters: a gap that read them mid-update sees the table's epoch move.
        large_blocks::on_alloc(ptr, layout.size());
        spans::on_alloc(layout.size());
        // SAFETY: `ptr` is the non-null result of allocating `layout`.
        unsafe { sites::record_exact(ptr, layout) };
        if peak != 0 {
            sites::on_new_peak(peak);
        }
        ptr
    }

    /// An allocation that is not the program's own (inside the hook, on an internal thread,
    /// in an untracked scope): forwarded, not counted.
    ///
    /// # Safety
    /// As `GlobalAlloc::alloc` / `alloc_zeroed`.
    #[inline(never)]
    unsafe fn alloc_untracked(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        // Budgets: a thread that records every allocation comes here too (see `capturing`).
        if guard::capturing() {
            // SAFETY: the caller's contract, passed on.
            return unsafe { self.alloc_captured(layout, zeroed) };
        }
        note_installed::<A>(self.jemalloc_mallctl);
        // SAFETY: forwarded with the caller's layout, as the caller's contract allows.
        let ptr = unsafe { self.raw_alloc(layout, zeroed) };
        if !ptr.is_null() {
            own_memory::on_alloc(layout.size(), layout.align());
            large_blocks::on_alloc(ptr, layout.size());
        }
        ptr
    }

    /// The rare allocation: the sampling countdown ran out (`counted_down`: the fast path
    /// already subtracted the size), or the thread's first call. Decides whether it is
    /// sampled, allocates it (with the sampled layout if so), counts it and records its
    /// stack, inside the reentrancy guard.
    ///
    /// # Safety
    /// As `GlobalAlloc::alloc` / `alloc_zeroed`.
    #[cold]
    #[inline(never)]
    unsafe fn alloc_rare(&self, layout: Layout, zeroed: bool, counted_down: bool) -> *mut u8 {
        note_installed::<A>(self.jemalloc_mallctl);
        let Some(_guard) = guard::enter_hook() else {
            // SAFETY: forwarded with the caller's layout, as the caller's contract allows.
            let ptr = unsafe { self.raw_alloc(layout, zeroed) };
            if !ptr.is_null() {
                own_memory::on_alloc(layout.size(), layout.align());
                large_blocks::on_alloc(ptr, layout.size());
            }
            return ptr;
        };
        let sampled = if counted_down {
            sites::sample_decide(layout.size())
        } else {
            sites::sample_alloc(layout.size())
        };
        let used = if sampled {
            sites::layout_for_sampled(layout)
        } else {
            layout
        };
        // SAFETY: `used` is `layout` or a layout with the same size and a larger alignment,
        // both non-zero sized as the caller guarantees.
        let ptr = unsafe { self.raw_alloc(used, zeroed) };
        if !ptr.is_null() {
            let peak = counters::on_alloc(layout.size(), layout.align());
            // After the counters (see `alloc_exact`).
            large_blocks::on_alloc(ptr, layout.size());
            spans::on_alloc(layout.size());
            if sampled {
                // SAFETY: `ptr` is the non-null result of allocating `used`, which is
                // `layout_for_sampled(layout)`.
                unsafe { sites::record_alloc(ptr, layout, used) };
            }
            if peak != 0 {
                sites::on_new_peak(peak);
            }
        }
        ptr
    }

    /// Every free but the common one (see `dealloc`): not the program's own (forwarded, not
    /// counted), of a block that may be sampled, of a large block, or one whose count needs
    /// a publish or a new slot.
    ///
    /// # Safety
    /// As `GlobalAlloc::dealloc`.
    #[inline(never)]
    unsafe fn dealloc_rare(&self, ptr: *mut u8, layout: Layout) {
        // The program's own free on a thread that may count (a non-null active slot: no
        // guard flag, so not capturing either) of a block that may be sampled (every free
        // in exact mode): looked up, then counted as the fast path counts where it can.
        let slot = thread_state::active_slot();
        if !slot.is_null() {
            if sites::maybe_sampled(ptr) {
                // The lookup's table slot loads while the free is counted.
                sites::prefetch_live(ptr);
            }
            // A large free is in flight before it is counted: a gap never reads the counters
            // without the block and the allocator with it, or mid-update.
            let large = large_blocks::on_free(ptr, layout.size());
            // SAFETY: `slot` is this thread's active slot, just read.
            if !unsafe { counters::free_counted(slot, layout.size(), layout.align()) } {
                counters::on_free(layout.size(), layout.align());
            }
            let used = sites::take_live_inline(ptr, layout).unwrap_or(layout);
            // SAFETY: `ptr` was allocated by `inner` with `used` (the sampled layout when the
            // block was sampled, else the caller's).
            unsafe { self.inner.dealloc(ptr, used) };
            large_blocks::done(large);
            return;
        }
        // Budgets: a thread that records every allocation comes here too (see `capturing`).
        if guard::capturing() {
            // SAFETY: the caller's contract, passed on.
            return unsafe { self.dealloc_captured(ptr, layout) };
        }
        let large = large_blocks::on_free(ptr, layout.size());
        if !guard::may_count() {
            own_memory::on_free(layout.size(), layout.align());
            // The untracked path. A block freed inside the hook or on an internal thread was
            // never sampled by it unless a sampled block crosses into such a scope; look it
            // up all the same so the right layout goes back to the inner allocator.
            let used = sites::take_live(ptr, layout).unwrap_or(layout);
            // SAFETY: `ptr` was allocated by `inner` with `used`.
            unsafe { self.inner.dealloc(ptr, used) };
            large_blocks::done(large);
            return;
        }
        let used = sites::take_live(ptr, layout).unwrap_or(layout);
        counters::on_free(layout.size(), layout.align());
        // SAFETY: `ptr` was allocated by `inner` with `used` (the sampled layout when the
        // block was sampled, else the caller's).
        unsafe { self.inner.dealloc(ptr, used) };
        large_blocks::done(large);
    }

    // -----------------------------------------------------------------------------------
    // Budgets (src/budget.rs): a thread inside a budget macro's closure has the capture bit
    // set in the reentrancy state, which the fast paths already read, so its calls arrive at
    // the out-of-line paths above, which send them here. Each is counted by the ordinary
    // path (capture bit off for the call), then recorded with its stack.
    // -----------------------------------------------------------------------------------

    /// # Safety
    /// As `GlobalAlloc::alloc` / `alloc_zeroed`.
    #[cold]
    #[inline(never)]
    unsafe fn alloc_captured(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        guard::set_capture(false);
        // SAFETY: the caller's contract, passed on.
        let ptr = unsafe { self.alloc_counted(layout, zeroed) };
        guard::set_capture(true);
        if !ptr.is_null() {
            crate::hook::capture::on_alloc(ptr as usize, layout.size());
        }
        ptr
    }

    /// # Safety
    /// As `GlobalAlloc::dealloc`.
    #[cold]
    #[inline(never)]
    unsafe fn dealloc_captured(&self, ptr: *mut u8, layout: Layout) {
        guard::set_capture(false);
        // SAFETY: the caller's contract, passed on.
        unsafe { self.dealloc(ptr, layout) };
        guard::set_capture(true);
        crate::hook::capture::on_free(ptr as usize);
    }

    /// # Safety
    /// As `GlobalAlloc::realloc`.
    #[cold]
    #[inline(never)]
    unsafe fn realloc_captured(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        guard::set_capture(false);
        // SAFETY: the caller's contract, passed on.
        let new_ptr = unsafe { self.realloc(ptr, layout, new_size) };
        guard::set_capture(true);
        if !new_ptr.is_null() {
            crate::hook::capture::on_realloc(ptr as usize, new_ptr as usize, new_size);
        }
        new_ptr
    }

    /// # Safety
    /// As `GlobalAlloc::alloc` / `alloc_zeroed`.
    #[inline(always)]
    unsafe fn raw_alloc(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        if zeroed {
            // SAFETY: the caller upholds `alloc_zeroed`'s contract for `layout`.
            unsafe { self.inner.alloc_zeroed(layout) }
        } else {
            // SAFETY: the caller upholds `alloc`'s contract for `layout`.
            unsafe { self.inner.alloc(layout) }
        }
    }
}

/// Counts an allocation the fast path could not (large block, no slot yet, a publish or a
/// look at the peak due): the general counting path, out of line.
#[inline(never)]
fn count_alloc_general(ptr: *mut u8, layout: Layout) {
    let peak = counters::on_alloc(layout.size(), layout.align());
    // After the counters: a gap that read them mid-update sees the table's epoch move
    // (src/hook/large_blocks.rs, `settled`).
    large_blocks::on_alloc(ptr, layout.size());
    if peak != 0 {
        sites::on_new_peak(peak);
    }
}

// SAFETY: every method forwards to `inner` with the layout the block was actually allocated
// with (the user's, or the over-aligned layout of a sampled block, which `take_live` returns),
// so `inner`'s own guarantees carry over. Nothing here unwinds.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Profiler<A> {
    #[inline(always)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract.
        unsafe { self.alloc_counted(layout, false) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc_zeroed`'s contract.
        unsafe { self.alloc_counted(layout, true) }
    }

    #[inline(always)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // The common free, with no call but the inner free (a tail call, so no stack frame):
        // the program's own (a thread with an active slot), of a block that was surely not
        // sampled (so `layout` is what it was allocated with), counted by `free_fast`.
        // Nothing here allocates, so no reentrancy guard is needed. A thread that may not
        // count here has a stand-in head, whose filter sends every free out of line: no test
        // of the pointer itself (`counters::Head`).
        let head = thread_state::active_head();
        // SAFETY: `head` is this thread's active pointer, whose filter is the live one or the
        // stand-ins' (`counters::Head`).
        if !unsafe { sites::maybe_sampled_in(counters::filter_of(head), ptr) }
            // SAFETY: `head` is this thread's active pointer and passed the filter, so it is
            // its slot's head (no stand-in does).
            && unsafe { counters::free_fast(head, layout.size(), layout.align()) }
        {
            // SAFETY: `ptr` was allocated by `inner` with `layout` (not sampled).
            return unsafe { self.inner.dealloc(ptr, layout) };
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { self.dealloc_rare(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let guard = guard::enter_hook();
        // Budgets: a thread that records every allocation has no guard (see `capturing`).
        if guard.is_none() && guard::capturing() {
            // SAFETY: the caller's contract, passed on.
            return unsafe { self.realloc_captured(ptr, layout, new_size) };
        }
        // Taken out of the live table now (its layout decides how to realloc), but charged
        // to its site only once the realloc succeeded: a failed realloc leaves it untouched.
        let old_entry = sites::remove_live(ptr);
        let old_used = old_entry.as_ref().map(|e| sites::real_layout(e, layout));
        let sample_new = guard.is_some() && sites::sample_alloc(new_size);
        // SAFETY: the caller guarantees `new_size`, rounded up to `layout.align()`, does not
        // overflow isize, so this layout is valid.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new_used = if sample_new {
            sites::layout_for_sampled(new_layout)
        } else {
            new_layout
        };
        let old_actual = old_used.unwrap_or(layout);
        // A large block is in flight until the table knows where it went (a gap waits).
        let large = large_blocks::realloc_begins(layout.size(), new_size);
        let new_ptr = if old_actual.align() == new_used.align() {
            // Same alignment on both sides: the inner allocator's realloc keeps it.
            // SAFETY: `ptr` was allocated by `inner` with `old_actual`; the caller
            // guarantees `new_size` is valid for this alignment.
            unsafe { self.inner.realloc(ptr, old_actual, new_size) }
        } else {
            // A sampled block changes alignment: allocate, copy, free.
            // SAFETY: `new_used` is a valid non-zero-sized layout.
            let p = unsafe { self.inner.alloc(new_used) };
            if !p.is_null() {
                // SAFETY: both blocks are valid for the smaller of the two sizes and distinct.
                unsafe {
                    std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                    self.inner.dealloc(ptr, old_actual);
                }
            }
            p
        };
        if new_ptr.is_null() {
            large_blocks::done(large);
            if let Some(e) = old_entry {
                // The old block stays valid, with its sampled layout, at its site.
                sites::restore_live(e);
            }
            return new_ptr;
        }
        large_blocks::on_realloc(ptr, layout.size(), new_ptr, new_size);
        if guard.is_none() {
            own_memory::on_realloc(layout.size(), new_size, layout.align());
        }
        if let Some(e) = &old_entry {
            sites::charge_free(e, layout.size());
        }
        if guard.is_some() {
            let peak =
                counters::on_realloc(layout.size(), new_size, layout.align(), new_ptr != ptr);
            spans::on_realloc(new_size);
            if sample_new {
                // SAFETY: `new_ptr` is a non-null block allocated with `new_used`, which is
                // `layout_for_sampled(new_layout)`.
                unsafe { sites::record_alloc(new_ptr, new_layout, new_used) };
            }
            if peak != 0 {
                sites::on_new_peak(peak);
            }
        }
        // In flight until counted too: a gap that read the counters mid-update re-reads.
        large_blocks::done(large);
        new_ptr
    }
}
