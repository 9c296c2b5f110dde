//! Peak attribution: the site that makes the process's peak holds the peak's bytes in its
//! `peak_bytes`, even though it freed everything afterwards; a site allocating only after
//! the peak has none.

#[path = "support/callsites/mod.rs"]
mod callsite_support;
use callsite_support as common;

use std::alloc::System;
use std::hint::black_box;

#[global_allocator]
static ALLOC: allocscope::Profiler<System> = allocscope::Profiler::new(System);

const MIB: usize = 1 << 20;

/// 1 MiB held for the whole run.
#[inline(never)]
fn background() -> Vec<u8> {
    Vec::with_capacity(MIB)
}

/// 64 blocks of 1 MiB, all live together, then freed.
#[inline(never)]
fn peak_maker() {
    let mut blocks: Vec<Vec<u8>> = Vec::with_capacity(64);
    for _ in 0..64 {
        blocks.push(Vec::with_capacity(MIB));
    }
    black_box(&blocks);
}

/// 8 MiB allocated after the peak and kept to the end.
#[inline(never)]
fn after_peak() -> [Vec<u8>; 8] {
    let mut out: [Vec<u8>; 8] = Default::default();
    for v in &mut out {
        *v = Vec::with_capacity(MIB);
    }
    out
}

#[test]
fn peak_is_attributed() {
    if common::is_child() {
        let bg = background();
        peak_maker();
        let late = after_peak();
        black_box((&bg, &late));
        std::mem::forget((bg, late));
        return;
    }
    for env in [&[("ALLOCSCOPE_SAMPLE_BYTES", "1")][..], &[][..]] {
        let p = common::run_child("peak_is_attributed", env);
        // Two sites in `peak_maker`: the holder Vec and the blocks (sampled mode may well
        // miss the small holder).
        let maker = common::sum(&p, "peak_maker");
        let holder = 64 * std::mem::size_of::<Vec<u8>>() as u64;
        // (In sampled mode the single 1 MiB block is sampled with probability 0.86 only.)
        let bg = common::sum(&p, "background");
        let late = common::sum(&p, "after_peak");
        assert!(p.totals.peak_live_bytes >= (65 * MIB) as u64);
        if p.meta.sampling_bytes == 1 {
            // Copies happen each time the peak grows by 1 %: the last one is at the 64th
            // block, the true peak.
            assert_eq!(maker.sites, 2);
            assert_eq!(maker.peak_bytes, (64 * MIB) as u64 + holder);
            assert_eq!(bg.peak_bytes, MIB as u64);
            assert_eq!(late.peak_bytes, 0);
            assert_eq!(late.live_bytes, (8 * MIB) as u64);
        } else {
            // Sampled (512 KiB): 1 MiB blocks are sampled with probability 1 − e^−2 and
            // weighted accordingly; 64 of them estimate 64 MiB within a few tens of %.
            let est = maker.peak_bytes as f64 / (64 * MIB) as f64;
            assert!((0.6..1.4).contains(&est), "peak estimate {est}");
            assert!(late.peak_bytes <= (MIB as u64) * 2, "{}", late.peak_bytes);
        }
        assert_eq!(maker.live_bytes, 0);
    }
}
