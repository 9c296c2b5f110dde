//! `ALLOCSCOPE_OUT` / [`crate::Config::out`]: write a profile when the process exits normally.
//!
//! Registered with `atexit` the first time an output path is configured (from the first
//! allocation's read of the environment, or from `Config::apply`), so it runs after `main`
//! returns or on `std::process::exit`, not on a signal or `abort` (nor in a forked child). glibc's `atexit` keeps its
//! list with its own malloc, never the Rust global allocator, so registering from inside the
//! hook is safe.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::AcqRel, Ordering::Relaxed};

/// The process that registered the handler: a forked child that exits normally inherits the
/// handler but must not overwrite its parent's profile.
static OWNER_PID: AtomicU32 = AtomicU32::new(0);

/// Registers the exit handler once.
pub(crate) fn register() {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, AcqRel) {
        return;
    }
    OWNER_PID.store(std::process::id(), Relaxed);
    // SAFETY: `at_exit` is an `extern "C" fn()` that never unwinds (it catches panics).
    unsafe {
        libc::atexit(at_exit);
    }
}

extern "C" fn at_exit() {
    if OWNER_PID.load(Relaxed) != std::process::id() {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        crate::reentrancy::untracked(write_if_configured);
    });
}

#[cfg(feature = "serde")]
fn write_if_configured() {
    if let Some(path) = crate::config::out_path() {
        if let Err(e) = crate::profile_writer::write_profile(&path) {
            eprintln!("allocscope: could not write the profile: {e}");
        }
    }
}

#[cfg(not(feature = "serde"))]
fn write_if_configured() {
    if crate::config::out_path().is_some() {
        eprintln!(
            "allocscope: ALLOCSCOPE_OUT needs allocscope's `serde` feature; no profile written"
        );
    }
}
