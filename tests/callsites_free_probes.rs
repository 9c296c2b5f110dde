//! In sampled mode, frees must not look in the live table except for (about) the sampled
//! blocks themselves. Two kinds of frees tempt it: a tiny allocate/free loop, where jemalloc's
//! LIFO thread cache hands the page-aligned first region of a slab back on every iteration,
//! and blocks the program itself allocates page-aligned. Both are page-aligned frees of blocks
//! that were not sampled; before the live-address filter each one probed the table.
//!
//! Debug builds count table probes and recorded samples (`allocscope::debug_probe_counts`).
//! One process, one thread: nothing else allocates meanwhile.

use std::alloc::{alloc, dealloc, Layout};
use std::hint::black_box;

#[global_allocator]
static ALLOC: allocscope::Profiler<allocscope::Jemalloc> =
    allocscope::Profiler::new(allocscope::Jemalloc);

fn main() {
    allocscope::Config::new()
        .sample_bytes(512 * 1024)
        .seed(7)
        .apply();
    let Some((probes0, samples0)) = allocscope::debug_probe_counts() else {
        println!("callsites_free_probes: release build, probes are not counted; nothing checked");
        return;
    };

    // Tiny churn: Vec::with_capacity(8..=64), dropped at once (~72 MB: ~140 samples).
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..2_000_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v: Vec<u8> = Vec::with_capacity(8 + (x % 57) as usize);
        black_box(&v);
    }
    // Page-aligned blocks of the program's own: every free is page-aligned.
    let page_aligned = Layout::from_size_align(64, 4096).expect("valid layout");
    let mut aligned_frees = 0u64;
    for _ in 0..20_000 {
        // SAFETY: non-zero size; freed right away with the same layout.
        unsafe {
            let p = alloc(page_aligned);
            assert!(!p.is_null());
            assert_eq!(p as usize % 4096, 0);
            black_box(p);
            dealloc(p, page_aligned);
        }
        aligned_frees += 1;
    }

    let (probes1, samples1) = allocscope::debug_probe_counts().expect("still a debug build");
    let probes = probes1 - probes0;
    let samples = samples1 - samples0;
    println!(
        "callsites_free_probes: {probes} table probes, {samples} samples, {aligned_frees} page-aligned frees of unsampled blocks"
    );
    assert!(
        samples >= 20,
        "the workload should have been sampled (got {samples} samples)"
    );
    // Every sampled block was freed, and each of those frees must find it.
    assert!(
        probes >= samples,
        "a sampled block's free skipped the table ({probes} probes < {samples} samples)"
    );
    // Other probes come only from filter collisions with live samples (none stay live here).
    assert!(
        probes <= samples + samples / 10 + 10,
        "frees probe the live table far more often than blocks are sampled: {probes} probes for {samples} samples"
    );
    println!("1 passed, 0 failed");
}
