//! The one thread-local the hot path reads: the reentrancy flags, the sampler's state and
//! the thread's counter slot, in one `const`-initialised struct without `Drop`.
//!
//! One struct means the fast paths compute one TLS address (on x86-64 in an executable,
//! one `%fs`-relative base) and read every field at a fixed offset from it. Having no `Drop`,
//! it is never torn down: it stays readable (with `try_with`) while the thread's other
//! thread-locals are being destroyed, as the guard always was (see [`crate::hook::guard`]).
//!
//! The fast paths read one word for "may this call be counted here, without a call":
//! [`ThreadState::active_slot`], the head of the thread's counter slot only while it owns one
//! **and** no guard flag is set, else a stand-in head (`counters::Head::stand_in`) whose words
//! make every fast path fail its first test of the head. So that word is never tested itself
//! (it is never null). Every change of `flags` or of `slot` goes through [`set_flags`] /
//! [`set_slot`], which keep that invariant. The stand-in is the thread's own (`stand_in`,
//! written by its failed fast paths) once either has run; before, it is [`UNSET`], which is
//! never written: a const initialiser cannot point at the thread's own storage.
//!
//! Extending: a new per-thread field the hot path needs (e.g. the current span of issue #14)
//! goes here, as another `Cell` with a `const` initial value and no `Drop`, so the hot path
//! still reads one TLS block. Keep fields the fast paths read (`active_slot`, `countdown`)
//! first, so they share a cache line.

use std::cell::Cell;

use crate::hook::counters::{Head, Slot};

/// Per-thread state of the hook. All fields are owned by the thread; nothing here is shared.
pub(crate) struct ThreadState {
    /// The head of the counter slot the fast paths write: `slot`'s while `flags == 0` and
    /// `slot` is not null, else a stand-in (`stand_in`, or [`UNSET`] before this thread's
    /// first `set_flags` / `set_slot`). Never null.
    pub(crate) active_slot: Cell<*const Head>,
    /// Sampler: bytes left until the next sample (see [`crate::hook::sampler`]); far below
    /// zero while a tracing span is entered (the real one is then in `parked`).
    pub(crate) countdown: Cell<i64>,
    /// The claimed counter slot itself (null when none), whatever the flags.
    pub(crate) slot: Cell<*const Slot>,
    /// Counter slot bookkeeping: 0 no slot yet; `usize::MAX` released or none to be had;
    /// else index + 1 (see [`crate::hook::counters`]).
    pub(crate) slot_state: Cell<usize>,
    /// Sampler: the real countdown while a tracing span is entered.
    pub(crate) parked: Cell<i64>,
    /// Sampler: random generator state.
    pub(crate) rng: Cell<u64>,
    /// Sampler: the settings epoch the countdown was drawn under; 0 = not yet drawn.
    pub(crate) epoch: Cell<u32>,
    /// Reentrancy and scope bits (see [`crate::hook::guard`]); 0 = count normally.
    pub(crate) flags: Cell<u8>,
    /// The tracing span this thread's allocations are charged to now (0: none), set by
    /// `SpanLayer` on enter/exit (see [`crate::hook::spans`]). Read by the countdown test:
    /// checking for a span costs one load of this struct and one branch.
    pub(crate) span: Cell<u16>,
    /// This thread's stand-in head: the active pointer while the thread may not count here.
    pub(crate) stand_in: Head,
}

/// The stand-in head of every thread until its first [`set_flags`] or [`set_slot`] (the
/// thread state's const initialiser cannot point at the thread's own `stand_in`). Never
/// written: an allocation's fast path tests the sampling countdown before it writes the head,
/// and a thread's countdown is 0 (run out) until the sampler's slow path first draws it,
/// which it does only inside the hook's guard, taken through `set_flags`; a free's fast path
/// writes the head only past its filter, which in a stand-in has no bucket at 0.
pub(crate) static UNSET: Head = Head::stand_in(crate::hook::sites::STAND_IN_FILTER.as_ptr());

thread_local! {
    pub(crate) static THREAD: ThreadState = const {
        ThreadState {
            active_slot: Cell::new(&UNSET),
            countdown: Cell::new(0),
            slot: Cell::new(std::ptr::null()),
            slot_state: Cell::new(0),
            parked: Cell::new(0),
            rng: Cell::new(0),
            epoch: Cell::new(0),
            flags: Cell::new(0),
            span: Cell::new(0),
            stand_in: Head::stand_in(crate::hook::sites::STAND_IN_FILTER.as_ptr()),
        }
    };
}

/// What the active pointer is when the thread may count: its slot's head, or its own stand-in
/// when it has no slot.
#[inline(always)]
fn shown(t: &ThreadState) -> *const Head {
    let s = t.slot.get();
    if s.is_null() {
        &t.stand_in
    } else {
        // A slot's head is its first field (`repr(C)`); the pointer keeps the whole slot's
        // provenance, for the fast paths to reach the rest once the head says it is a slot's.
        s.cast()
    }
}

/// True while the active pointer is the head of the thread's slot (it may count here).
#[inline(always)]
pub(crate) fn shows_slot(t: &ThreadState) -> bool {
    let s = t.slot.get();
    !s.is_null() && t.active_slot.get() == s.cast()
}

/// Sets the guard flags, keeping `active_slot` in step (the slot "hidden" below: the thread's
/// stand-in head is the active pointer).
///
/// A signal handler that allocates may run between any two of these stores, on this thread,
/// and take the guard itself (which ends with this function, from the flags it found). So
/// the slot is hidden before flags are set and hidden again after (a handler that ran in
/// between, seeing no flag, leaves it shown), and shown only after the flags are cleared:
/// a handler never sees flags set with the slot shown, so none of its allocations is left
/// uncounted (by `enter_hook`) while its free is counted (by the fast path), or the reverse.
/// The compiler fences keep the compiler from reordering the stores; a signal handler runs
/// on this thread, so no hardware fence is needed.
#[inline(always)]
pub(crate) fn set_flags(t: &ThreadState, v: u8) {
    use std::sync::atomic::{compiler_fence, Ordering::SeqCst};
    if v == 0 {
        t.flags.set(0);
        compiler_fence(SeqCst);
        t.active_slot.set(shown(t));
    } else {
        t.active_slot.set(&t.stand_in);
        compiler_fence(SeqCst);
        t.flags.set(v);
        compiler_fence(SeqCst);
        t.active_slot.set(&t.stand_in);
    }
}

/// Sets the claimed slot (null: none), keeping `active_slot` in step. (Called while the
/// guard is held, when a slot is claimed, and at thread exit, when it is released: a
/// signal handler that runs in between still finds a slot that is this thread's.)
#[inline]
pub(crate) fn set_slot(t: &ThreadState, s: *const Slot) {
    t.slot.set(s);
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    t.active_slot.set(if t.flags.get() == 0 {
        shown(t)
    } else {
        &t.stand_in
    });
}

/// This thread's active slot: null unless the thread owns a slot and may count. For the
/// out-of-line paths; the fast paths read [`active_head`].
#[inline(always)]
pub(crate) fn active_slot() -> *const Slot {
    THREAD
        .try_with(|t| {
            if shows_slot(t) {
                t.slot.get()
            } else {
                std::ptr::null()
            }
        })
        .unwrap_or(std::ptr::null())
}

/// This thread's active pointer: its slot's head while it may count, else a stand-in, which
/// every fast path fails at its first test of the head (see `counters::Head`). Hot path: one
/// load, never null.
#[inline(always)]
pub(crate) fn active_head() -> *const Head {
    // The thread state has no destructor, so it is never gone; `UNSET` is a stand-in all the
    // same.
    THREAD.try_with(|t| t.active_slot.get()).unwrap_or(&UNSET)
}
