//! Many distinct call stacks from one loop, for the tests and benches that need a large site
//! table (`tests/callsites_exact.rs`, `benches/exit_cost.rs`): `left(level, n, keep)` reaches
//! its allocation through `level` calls to `left`/`right` that spell the bits of `n`, so each
//! `n < 2^level` is a stack of its own. Each stack allocates one 48-byte block, kept in `keep`,
//! so the sites' figures tie and their order is the raw stacks'.

// One boxed block per stack is the point.
#![allow(clippy::vec_box)]

use std::hint::black_box;

/// The stack that spells `n` in `level` calls, starting with a call to `left`.
#[inline(never)]
pub fn left(level: u32, n: u32, keep: &mut Vec<Box<[u8; 48]>>) {
    black_box(&level);
    if level == 0 {
        keep.push(Box::new([n as u8; 48]));
    } else if n >> (level - 1) & 1 == 0 {
        left(level - 1, n, keep);
    } else {
        right(level - 1, n, keep);
    }
    black_box(&keep);
}

/// [`left`]'s twin (a different function, so a stack's frames spell a bit each).
#[inline(never)]
pub fn right(level: u32, n: u32, keep: &mut Vec<Box<[u8; 48]>>) {
    black_box(&level);
    if level == 0 {
        keep.push(Box::new([n as u8; 48]));
    } else if n >> (level - 1) & 1 == 0 {
        left(level - 1, n, keep);
    } else {
        right(level - 1, n, keep);
    }
    black_box(&keep);
}
