//! Budgets' per-thread capture, as the hook sees it: while a budget macro's closure runs on a
//! thread (its capture bit is set, see [`crate::hook::guard`]), the hook hands each of that
//! thread's allocations, frees and reallocations to the recorder that `analysis/budget.rs`
//! registered. A plain table of function pointers, so the hook imports nothing that comes
//! later in the data flow; the recorder writes into a buffer allocated before the closure
//! started and never allocates (docs/budgets.md).

use std::sync::OnceLock;

/// The recorder's entry points, called inside the hook for a capturing thread only.
pub(crate) struct Recorder {
    /// `(ptr, size)`: an allocation.
    pub on_alloc: fn(usize, usize),
    /// `ptr`: a free.
    pub on_free: fn(usize),
    /// `(old, new, new_size)`: a reallocation.
    pub on_realloc: fn(usize, usize, usize),
}

static RECORDER: OnceLock<Recorder> = OnceLock::new();

/// Registers the recorder (once; later calls keep the first, which is the same functions).
pub(crate) fn register(r: Recorder) {
    let _ = RECORDER.set(r);
}

/// The hook: this capturing thread allocated `size` bytes at `ptr`.
#[inline]
pub(crate) fn on_alloc(ptr: usize, size: usize) {
    if let Some(r) = RECORDER.get() {
        (r.on_alloc)(ptr, size);
    }
}

/// The hook: this capturing thread freed `ptr`.
#[inline]
pub(crate) fn on_free(ptr: usize) {
    if let Some(r) = RECORDER.get() {
        (r.on_free)(ptr);
    }
}

/// The hook: this capturing thread reallocated `old` into `new_size` bytes at `new`.
#[inline]
pub(crate) fn on_realloc(old: usize, new: usize, new_size: usize) {
    if let Some(r) = RECORDER.get() {
        (r.on_realloc)(old, new, new_size);
    }
}
