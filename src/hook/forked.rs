//! Locks in a forked child.
//!
//! `fork` copies only the calling thread: a `Mutex` that another thread held at that moment
//! stays locked forever in the child. The profile a child writes at exit reads state behind
//! such locks (the timeline, jemalloc's statistics), so in a child those are tried, never
//! waited for. See `docs/reliability.md`.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, TryLockError};

/// The process allocscope started in (0 until noted).
static ORIGIN_PID: AtomicU32 = AtomicU32::new(0);

/// Remembers this process as the original one (first call wins).
pub(crate) fn note_origin() {
    let _ = ORIGIN_PID.compare_exchange(0, std::process::id(), Relaxed, Relaxed);
}

/// True in a process forked from the one allocscope started in.
pub(crate) fn in_forked_child() -> bool {
    let origin = ORIGIN_PID.load(Relaxed);
    origin != 0 && origin != std::process::id()
}

/// Locks `m` (ignoring poisoning); in a forked child only if it is free, else `None`.
pub(crate) fn lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    if in_forked_child() {
        return match m.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
    }
    Some(m.lock().unwrap_or_else(|e| e.into_inner()))
}
