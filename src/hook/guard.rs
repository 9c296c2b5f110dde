//! The thread-local flag that keeps the hook from counting itself.
//!
//! Like tracing-core's dispatcher: a `const`-initialised `Cell` without `Drop`, read with
//! `try_with`, so it costs one TLS access, never allocates, and stays readable while the
//! thread's other thread-locals are being torn down. The flags live in the hook's one
//! thread-local struct (`hook::thread_state`); every write goes through
//! `thread_state::set_flags`, which keeps the fast paths' `active_slot` in step.

use crate::hook::thread_state::{set_flags, ThreadState, THREAD};

/// Set while this thread is inside a counting hook.
const IN_HOOK: u8 = 1;
/// Set for the whole life of an internal thread (reporter, symbolizer).
const INTERNAL_THREAD: u8 = 2;
/// Set inside an [`untracked`] scope.
const UNTRACKED_SCOPE: u8 = 4;
/// Budgets (src/budget.rs): set while this thread records every allocation with its stack.
/// Like every other bit it makes [`may_count`] false, so the fast paths send this thread's
/// calls to the out-of-line paths, which look for it with [`capturing`]: other threads pay
/// no instruction for it.
const CAPTURE: u8 = 8;

/// `f` with this thread's state, unless the thread-local is gone.
#[inline(always)]
fn with<R>(f: impl FnOnce(&ThreadState) -> R) -> Option<R> {
    THREAD.try_with(f).ok()
}

/// Proof that this thread is inside the hook and may count; clears the flag when dropped.
/// `true` when the guard was taken by a signal handler that interrupted `set_flags` between
/// hiding the slot and setting the flags (the slot hidden, no flag set): the slot then stays
/// hidden when the guard is dropped, for the interrupted `set_flags` to finish.
pub(crate) struct HookGuard(bool);

impl Drop for HookGuard {
    #[inline]
    fn drop(&mut self) {
        let keep_hidden = self.0;
        let _ = with(|s| {
            let v = s.flags.get() & !IN_HOOK;
            if keep_hidden && v == 0 {
                s.flags.set(0);
            } else {
                set_flags(s, v);
            }
        });
    }
}

/// Enters the hook. `None` means: do not count this call (we are already inside the hook,
/// on an internal thread, in an untracked scope, or the thread-local is gone).
#[inline]
pub(crate) fn enter_hook() -> Option<HookGuard> {
    with(|s| {
        if s.flags.get() != 0 {
            None
        } else {
            let interrupted = !crate::hook::thread_state::shows_slot(s) && !s.slot.get().is_null();
            set_flags(s, IN_HOOK);
            Some(HookGuard(interrupted))
        }
    })
    .flatten()
}

/// True when this thread may count the allocator call it is in: not inside the hook, not an
/// internal thread, not in an untracked scope. Hot path: one TLS load. Callers that run code
/// which could allocate (stack capture, the site table) still take [`enter_hook`]; the
/// counting fast path allocates nothing and so needs no guard.
#[inline(always)]
pub(crate) fn may_count() -> bool {
    with(|s| s.flags.get() == 0).unwrap_or(false)
}

/// True while this thread holds the hook's guard (between [`enter_hook`] and the guard's
/// drop). For the test that proves the hook never re-enters the global allocator while it
/// captures a stack or records a sample (`tests/hook_no_reentry.rs`); not supported API.
#[doc(hidden)]
pub fn in_hook() -> bool {
    with(|s| s.flags.get() & IN_HOOK != 0).unwrap_or(false)
}

/// Marks the current thread as internal to allocscope for the rest of its life: nothing it
/// allocates or frees is counted. For reporter and symbolizer threads.
pub fn mark_thread_internal() {
    let _ = with(|s| set_flags(s, s.flags.get() | INTERNAL_THREAD));
}

/// True when the current thread was marked with [`mark_thread_internal`].
pub fn is_thread_internal() -> bool {
    with(|s| s.flags.get() & INTERNAL_THREAD != 0).unwrap_or(false)
}

/// Runs `f` with counting switched off on this thread. Whatever `f` allocates must also be
/// freed inside an untracked scope or on an internal thread, or the counts will show a free
/// of a block they never saw.
pub fn untracked<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(u8);
    impl Drop for Restore {
        fn drop(&mut self) {
            let old = self.0;
            let _ = with(|s| {
                set_flags(
                    s,
                    (s.flags.get() & !UNTRACKED_SCOPE) | (old & UNTRACKED_SCOPE),
                )
            });
        }
    }
    let old = with(|s| {
        let v = s.flags.get();
        set_flags(s, v | UNTRACKED_SCOPE);
        v
    });
    let _restore = Restore(old.unwrap_or(0));
    f()
}

// ---------------------------------------------------------------------------------------
// Budgets (src/budget.rs): this thread records every allocation's stack.
// ---------------------------------------------------------------------------------------

/// True when this thread records every allocation (a budget macro's closure runs) and is in
/// no other state (not inside the hook, not untracked, not internal).
#[inline]
pub(crate) fn capturing() -> bool {
    with(|s| s.flags.get() == CAPTURE).unwrap_or(false)
}

/// Turns this thread's capture on or off, leaving the other bits alone.
#[inline]
pub(crate) fn set_capture(on: bool) {
    let _ = with(|s| {
        let v = s.flags.get() & !CAPTURE;
        set_flags(s, if on { v | CAPTURE } else { v });
    });
}

/// Enters the hook to record a captured allocation: `Some` only when [`capturing`]. While
/// the guard lives, anything allocated on this thread is neither counted nor recorded.
#[inline]
pub(crate) fn enter_capture_record() -> Option<HookGuard> {
    with(|s| {
        if s.flags.get() == CAPTURE {
            set_flags(s, CAPTURE | IN_HOOK);
            Some(HookGuard(false))
        } else {
            None
        }
    })
    .flatten()
}
