//! DWARF unwinding: `backtrace::trace_unsynchronized` (libgcc's unwinder), ~50× slower than
//! frame pointers, correct without them.

use std::mem::MaybeUninit;

/// Captures the current stack into `buf` (innermost first); returns the frames written.
pub(super) fn capture(buf: &mut [MaybeUninit<usize>]) -> usize {
    let mut n = 0;
    // SAFETY: on Linux libgcc's `_Unwind_Backtrace` is thread-safe; the closure neither
    // allocates nor panics (`get_mut` instead of indexing).
    unsafe {
        backtrace::trace_unsynchronized(|frame| {
            let ip = frame.ip() as usize;
            if ip == 0 {
                return false;
            }
            match buf.get_mut(n) {
                Some(slot) => {
                    slot.write(ip);
                    n += 1;
                    n < buf.len()
                }
                None => false,
            }
        });
    }
    n
}
