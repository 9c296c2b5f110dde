//! Leaks: in exact mode, the blocks a known site leaks are exactly those found live at exit,
//! and a site whose blocks were all freed shows nothing live.

#[path = "support/callsites/mod.rs"]
mod callsite_support;
use callsite_support as common;

use std::alloc::System;
use std::hint::black_box;

#[global_allocator]
static ALLOC: allocscope::Profiler<System> = allocscope::Profiler::new(System);

/// Leaks 10 blocks of 1000 bytes and 3 of 40.
#[inline(never)]
fn leaky() {
    for _ in 0..10 {
        Box::leak(vec![0u8; 1000].into_boxed_slice());
    }
    for _ in 0..3 {
        Box::leak(Box::new([9u8; 40]));
    }
}

/// Allocates and frees 5000 blocks; leaks nothing.
#[inline(never)]
fn tidy() {
    for i in 0..5000usize {
        let v = vec![1u8; 16 + i % 200];
        black_box(&v);
    }
}

#[test]
fn leaks_at_exit() {
    if common::is_child() {
        tidy();
        leaky();
        tidy();
        return;
    }
    let p = common::run_child("leaks_at_exit", &[("ALLOCSCOPE_SAMPLE_BYTES", "1")]);
    // Two sites (two lines of `leaky`).
    let leaky = common::sites(&p, "leaky");
    assert_eq!(leaky.len(), 2);
    let mut by_size: Vec<(u64, u64, u64)> = leaky
        .iter()
        .map(|s| (s.bytes, s.live_blocks, s.live_bytes))
        .collect();
    by_size.sort();
    assert_eq!(
        by_size,
        [(120, 3, 120), (10_000, 10, 10_000)],
        "every leaked block is live at exit"
    );
    for s in &leaky {
        assert_eq!(s.lifetimes.freed, 0);
        assert_eq!(s.lifetimes.median_ns, None);
    }
    // Two sites (called from two lines), 5000 allocations each, nothing live.
    let tidy = common::sites(&p, "tidy");
    assert_eq!(tidy.len(), 2);
    for t in tidy {
        assert_eq!(t.allocs, 5000);
        assert_eq!((t.live_blocks, t.live_bytes), (0, 0));
        assert_eq!(t.lifetimes.freed, 5000);
    }
}
