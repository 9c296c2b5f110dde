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

use std::mem::MaybeUninit;

use crate::hook::settings::Unwinder;

mod dwarf;
mod fp;

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
        Unwinder::Dwarf => dwarf::capture(buf),
        _ => fp::capture(buf),
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
