//! Frame-pointer walking: follow the saved-frame-pointer chain, each frame pointer checked
//! before it is read (strictly increasing, inside this thread's stack; read unaligned, so
//! its alignment needs no test).
//!
//! The stack's hash is folded in during the walk ([`super::hash_step`]), so a captured stack
//! is read once: the hash's multiply chain runs alongside the walk's chain of dependent
//! loads instead of in a second pass.

use std::cell::Cell;
use std::mem::MaybeUninit;

thread_local! {
    /// Top (highest address) of this thread's stack; 0 = not yet known, 1 = unknown.
    static STACK_TOP: Cell<usize> = const { Cell::new(0) };
}

#[inline(always)]
fn current_frame_pointer() -> usize {
    let fp: usize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads a register, touches no memory.
    unsafe {
        core::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: reads a register, touches no memory.
    unsafe {
        core::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        fp = 0;
    }
    fp
}

/// Captures the current stack into `buf` (innermost first); returns the frames written and
/// their [`super::hash`].
#[inline(never)]
pub(super) fn capture(buf: &mut [MaybeUninit<usize>]) -> (usize, u64) {
    let marker = 0u8;
    let low = &marker as *const u8 as usize;
    let high = stack_top();
    let word = core::mem::size_of::<usize>();
    let mut h = super::HASH_SEED;
    // The highest address a frame record (two words) may start at.
    let Some(last) = high.checked_sub(2 * word) else {
        return (0, super::hash_finish(h, 0));
    };
    let mut fp = current_frame_pointer();
    // Checked once: the chain only goes up from here (`next > fp` below), so every later
    // frame pointer is above `low` too.
    if fp < low {
        return (0, super::hash_finish(h, 0));
    }
    let cap = buf.len();
    let out = buf.as_mut_ptr();
    let mut n = 0;
    while n < cap {
        if fp > last {
            break;
        }
        // SAFETY: `low <= fp <= high - 2 words`: the frame record lies inside this thread's
        // stack between the current stack pointer and the stack's top, which is mapped and
        // readable. Read unaligned, so a misaligned frame pointer (code without frame
        // pointers) needs no test of its own: it reads some stack words, checked as any.
        let (next, ret) = unsafe {
            let p = fp as *const usize;
            (p.read_unaligned(), p.add(1).read_unaligned())
        };
        if ret == 0 {
            break;
        }
        // SAFETY: `n < cap`, the length of `buf`.
        unsafe { (*out.add(n)).write(ret) };
        n += 1;
        h = super::hash_step(h, ret);
        if next <= fp {
            break;
        }
        fp = next;
    }
    (n, super::hash_finish(h, n))
}

/// The top of this thread's stack, cached per thread (0 when unknown: no walk).
#[inline(always)]
fn stack_top() -> usize {
    let cached = STACK_TOP.try_with(Cell::get).unwrap_or(1);
    if cached > 1 {
        return cached;
    }
    if cached == 1 {
        return 0;
    }
    let top = query_stack_top();
    let _ = STACK_TOP.try_with(|c| c.set(if top == 0 { 1 } else { top }));
    top
}
#[cold]
fn query_stack_top() -> usize {
    // SAFETY: `attr` is initialised by pthread_getattr_np before it is read and destroyed
    // after; these glibc calls use glibc's own malloc, never the Rust global allocator.
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return 0;
        }
        let mut addr: *mut libc::c_void = core::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let rc = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 || addr.is_null() {
            return 0;
        }
        (addr as usize).saturating_add(size)
    }
}
