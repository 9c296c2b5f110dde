//! Stack capture inside the hook: raw return addresses, no allocation, no unwinding of the
//! Rust kind (no panic), no symbolization.
//!
//! Two methods (see [`crate::Unwinder`]):
//! - **frame pointers**: follow the saved-frame-pointer chain. Every frame pointer is checked
//!   before it is read: 8-byte aligned, strictly increasing, and inside this thread's stack
//!   (from the current stack pointer up to the stack's top, cached per thread). The walk
//!   therefore never reads outside mapped stack memory; in code built without frame
//!   pointers it stops early (truncated stack) or, at worst, records a few wrong addresses.
//! - **DWARF**: `backtrace::trace_unsynchronized` (libgcc's unwinder), ~50× slower, correct
//!   without frame pointers.

use std::cell::Cell;
use std::mem::MaybeUninit;

use crate::hook::settings::Unwinder;

/// True when this crate was compiled with `-C force-frame-pointers=yes` (see build.rs).
pub(crate) const BUILT_WITH_FRAME_POINTERS: bool = cfg!(allocscope_frame_pointers);

/// Frames of allocscope and the allocation plumbing captured above the user's `max_depth`
/// (they are trimmed at symbolization).
pub(crate) const PLUMBING_FRAMES: usize = 16;
/// Capacity of a raw stack.
pub(crate) const MAX_RAW_FRAMES: usize = crate::hook::settings::MAX_DEPTH_LIMIT + PLUMBING_FRAMES;

/// Captures the current stack into `buf` (innermost return address first); returns the
/// number `n` of frames written: `buf[..n]` is initialised.
#[inline(never)]
pub(crate) fn capture(buf: &mut [MaybeUninit<usize>], unwinder: Unwinder) -> usize {
    match unwinder {
        Unwinder::Dwarf => capture_dwarf(buf),
        _ => capture_fp(buf),
    }
}

fn capture_dwarf(buf: &mut [MaybeUninit<usize>]) -> usize {
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

#[inline(never)]
fn capture_fp(buf: &mut [MaybeUninit<usize>]) -> usize {
    let marker = 0u8;
    let low = &marker as *const u8 as usize;
    let high = stack_top();
    if high <= low {
        return 0;
    }
    let word = core::mem::size_of::<usize>();
    let mut fp = current_frame_pointer();
    let mut n = 0;
    while n < buf.len() {
        if fp < low || fp % word != 0 || fp.checked_add(2 * word).is_none_or(|end| end > high) {
            break;
        }
        // SAFETY: `fp .. fp + 2 words` lies inside this thread's stack between the current
        // stack pointer and the stack's top, which is mapped and readable.
        let (next, ret) = unsafe {
            let p = fp as *const usize;
            (p.read(), p.add(1).read())
        };
        if ret == 0 {
            break;
        }
        if let Some(slot) = buf.get_mut(n) {
            slot.write(ret);
            n += 1;
        }
        if next <= fp {
            break;
        }
        fp = next;
    }
    n
}

/// The top of this thread's stack, cached per thread (0 when unknown: no walk).
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

/// 64-bit hash of a raw stack: four independent multiply lanes (the frames of one stack
/// hash in parallel, not as one serial chain), then a final mix. Stacks are identified by
/// it and confirmed frame by frame on a tag match.
#[inline]
pub(crate) fn hash(frames: &[usize]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut lanes = [
        0x243F_6A88_85A3_08D3u64,
        0x1319_8A2E_0370_7344,
        0xA409_3822_299F_31D0,
        0x082E_FA98_EC4E_6C89,
    ];
    let mut chunks = frames.chunks_exact(4);
    for c in &mut chunks {
        for (l, &f) in lanes.iter_mut().zip(c) {
            *l = (*l ^ f as u64).wrapping_mul(K).rotate_left(29);
        }
    }
    for (l, &f) in lanes.iter_mut().zip(chunks.remainder()) {
        *l = (*l ^ f as u64).wrapping_mul(K).rotate_left(29);
    }
    let mut h = (frames.len() as u64).wrapping_mul(K);
    for l in lanes {
        h = (h ^ l).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h ^= h >> 31;
    }
    h
}
