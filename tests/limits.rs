//! The documented limits and what happens beyond them (`docs/reliability.md`):
//!
//! - more than 65,535 distinct stacks: the rest go to the overflow site, which reports show as
//!   `[allocscope: site table full]`, and no sample is lost;
//! - more than 256 threads alive at once: the extra threads count into a shared fallback
//!   slot; the process-wide counts stay exact (`measure` on such a thread returns zeros).
//!
//! No libtest harness: both need a quiet process.

use std::hint::black_box;
use std::sync::{Arc, Barrier};

#[global_allocator]
static ALLOC: allocscope::Profiler<allocscope::Jemalloc> =
    allocscope::Profiler::new(allocscope::Jemalloc);

const LEVELS: u32 = 16;

// 2^LEVELS distinct stacks, one 48-byte block each.
#[path = "support/distinct_stacks.rs"]
mod distinct_stacks;
use distinct_stacks::left;

fn more_stacks_than_the_site_table_holds() {
    allocscope::Config::new().exact().apply();
    let n = 1u32 << LEVELS;
    let mut keep = Vec::with_capacity(n as usize);
    for path in 0..n {
        left(LEVELS, path, &mut keep);
    }
    drop(keep);
    let mut p = allocscope::collect_profile();
    // The profile holds raw addresses: name them as every report does.
    allocscope::profile::symbolize(&mut p, &Default::default()).expect("symbolized");
    let overflow = p
        .sites
        .iter()
        .find(|s| {
            s.frames
                .iter()
                .any(|f| f.function == "[allocscope: site table full]")
        })
        .expect("the overflow site is in the profile");
    let ours: u64 = p
        .sites
        .iter()
        .filter(|s| {
            s.frames
                .iter()
                .any(|f| f.function.contains("distinct_stacks::"))
        })
        .map(|s| s.allocs)
        .sum();
    assert!(
        overflow.allocs >= u64::from(n) - 65_535,
        "beyond 65,535 sites the samples go to the overflow site: {}",
        overflow.allocs
    );
    // Exact mode: every allocation is somewhere (the overflow site may also hold others').
    assert!(
        ours + overflow.allocs >= u64::from(n),
        "{ours} + {}",
        overflow.allocs
    );
    assert!(ours <= u64::from(n));
    let summary = {
        let mut out = Vec::new();
        allocscope::report::Summary::new(&p, 5)
            .write_text(&mut out)
            .unwrap();
        String::from_utf8(out).unwrap()
    };
    assert!(
        summary.contains("[allocscope: site table full]"),
        "visible in reports"
    );
    println!(
        "limits: {n} distinct stacks: {} sites, {} allocations in the overflow site",
        p.sites.len(),
        overflow.allocs
    );
    allocscope::Config::new()
        .sample_bytes(allocscope::DEFAULT_SAMPLE_BYTES)
        .apply();
}

fn more_threads_than_slots() {
    let threads = 300;
    let per_thread = 1000u64;
    std::thread::spawn(|| ()).join().unwrap();
    let before = allocscope::snapshot();
    let (b_allocs, b_frees, b_live) = (before.allocs, before.frees, before.live_blocks);
    drop(before);
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                // All alive at once: 300 > 256 slots.
                barrier.wait();
                let ((), c) = allocscope::measure(|| {
                    for i in 0..per_thread {
                        black_box(Box::new(i));
                    }
                });
                barrier.wait();
                c.allocs
            })
        })
        .collect();
    let measured: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let with_slot = measured.iter().filter(|&&a| a == per_thread).count();
    let fallback = measured.iter().filter(|&&a| a == 0).count();
    assert_eq!(
        with_slot + fallback,
        threads,
        "measure is exact or zero: {measured:?}"
    );
    drop((measured, barrier));
    let after = allocscope::snapshot();
    assert!(
        fallback >= threads - 256,
        "{fallback} threads found no slot"
    );
    assert_eq!(after.allocs - b_allocs, after.frees - b_frees, "balanced");
    assert_eq!(after.live_blocks, b_live);
    assert!(after.allocs - b_allocs >= threads as u64 * per_thread);
    println!(
        "limits: {threads} threads alive at once: {with_slot} with a slot, {fallback} in the shared fallback; counts exact"
    );
}

fn main() {
    if std::env::args().nth(1).is_some_and(|a| !a.starts_with('-')) {
        return;
    }
    more_threads_than_slots();
    more_stacks_than_the_site_table_holds();
    println!("limits: 2 passed, 0 failed");
}
