//! The `mallctl` of the program's jemalloc, registered by the installed [`crate::Profiler`]
//! on its first allocation and read by [`crate::jemalloc_stats`].

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

/// jemalloc's `mallctl`, as every jemalloc binding declares it:
/// `int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)`.
pub type Mallctl = unsafe extern "C" fn(
    name: *const c_char,
    oldp: *mut c_void,
    oldlenp: *mut usize,
    newp: *mut c_void,
    newlen: usize,
) -> c_int;

/// The registered `mallctl`, as an address (0: none).
static MALLCTL: AtomicUsize = AtomicUsize::new(0);

/// Registers the `mallctl` through which allocscope reads jemalloc's statistics. The
/// installed [`crate::Profiler`] does this by itself on its first allocation when built with
/// [`crate::Profiler::with_jemalloc_stats`]; call it directly only to read statistics of a
/// jemalloc that no `Profiler` wraps.
///
/// # Safety
///
/// `mallctl` must be the `mallctl` of a jemalloc linked into this process (it is called with
/// jemalloc's documented arguments from any thread, at any later time).
pub unsafe fn set_mallctl(mallctl: Mallctl) {
    MALLCTL.store(mallctl as usize, Ordering::Release);
}

/// The registered `mallctl`, if any.
pub fn mallctl() -> Option<Mallctl> {
    let addr = MALLCTL.load(Ordering::Acquire);
    if addr == 0 {
        return None;
    }
    // SAFETY: a non-zero value was stored by `set_mallctl` from a `Mallctl` function pointer,
    // so transmuting it back gives the same pointer (function pointers and usize have the
    // same size on every platform Rust supports with `std`).
    Some(unsafe { std::mem::transmute::<usize, Mallctl>(addr) })
}
