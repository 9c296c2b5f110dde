//! Stack capture inside the hook: raw return addresses, no allocation, no unwinding of the
//! Rust kind (no panic), no symbolization.
//!
//! Two methods (see [`crate::Unwinder`]):
//! - **frame pointers**: follow the saved-frame-pointer chain. Every frame pointer is checked
//!   before it is read: strictly increasing and inside this thread's stack (from the current
//!   stack pointer up to the stack's top, cached per thread); records are read unaligned. The walk
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
/// number `n` of frames written (`buf[..n]` is initialised) and their [`hash`].
#[inline(always)]
pub(crate) fn capture(buf: &mut [MaybeUninit<usize>], unwinder: Unwinder) -> (usize, u64) {
    match unwinder {
        Unwinder::Dwarf => dwarf_capture(buf),
        _ => fp::capture(buf),
    }
}

#[inline(never)]
fn dwarf_capture(buf: &mut [MaybeUninit<usize>]) -> (usize, u64) {
    let n = dwarf::capture(buf);
    let filled = buf.get(..n).unwrap_or(&[]);
    // SAFETY: `dwarf::capture` initialised the first `n` entries it returned.
    let frames: &[usize] = unsafe { &*(filled as *const [MaybeUninit<usize>] as *const [usize]) };
    (n, hash(frames))
}

const HASH_K: u64 = 0x9E37_79B9_7F4A_7C15;
/// Start value of [`hash`]'s fold.
pub(crate) const HASH_SEED: u64 = 0x243F_6A88_85A3_08D3;

/// One frame into [`hash`]'s fold: three instructions, so the frame-pointer walk can fold
/// each frame as it reads it (the multiply chain runs alongside the walk's dependent loads).
#[inline(always)]
pub(crate) fn hash_step(h: u64, frame: usize) -> u64 {
    (h ^ frame as u64).wrapping_mul(HASH_K).rotate_left(29)
}

/// The end of [`hash`]'s fold over `n` frames: the length and a final avalanche.
#[inline(always)]
pub(crate) fn hash_finish(h: u64, n: usize) -> u64 {
    let mut h = h ^ (n as u64).wrapping_mul(HASH_K);
    h = (h ^ (h >> 32)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^ (h >> 31)
}

/// 64-bit hash of a raw stack: a multiply-rotate fold over the frames, then a final mix.
/// Stacks are identified by it and confirmed frame by frame on a tag match. The
/// frame-pointer walk computes the same value while it walks.
#[inline]
pub(crate) fn hash(frames: &[usize]) -> u64 {
    let h = frames.iter().fold(HASH_SEED, |h, &f| hash_step(h, f));
    hash_finish(h, frames.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_hashes_what_it_captures() {
        let mut buf = [MaybeUninit::<usize>::uninit(); MAX_RAW_FRAMES];
        let (n, h) = capture(&mut buf, Unwinder::FramePointers);
        let filled = buf.get(..n).unwrap_or(&[]);
        // SAFETY: `capture` initialised the first `n` entries.
        let frames: &[usize] =
            unsafe { &*(filled as *const [MaybeUninit<usize>] as *const [usize]) };
        assert_eq!(h, hash(frames));
        if BUILT_WITH_FRAME_POINTERS {
            assert!(
                n >= 2,
                "a walk with frame pointers finds the test's callers"
            );
        }
    }

    #[test]
    fn different_stacks_hash_differently() {
        assert_ne!(hash(&[1, 2, 3]), hash(&[1, 3, 2]));
        assert_ne!(hash(&[1, 2]), hash(&[1, 2, 0]));
        assert_ne!(hash(&[]), hash(&[0]));
    }
}
