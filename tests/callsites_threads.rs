//! Several threads in exact mode, blocks freed on other threads than the ones that allocated
//! them, threads exiting: every site's figures stay exact and add up to the totals.

#[path = "support/callsites/mod.rs"]
mod callsite_support;
use callsite_support as common;

use std::sync::mpsc;

#[global_allocator]
static ALLOC: allocscope::Profiler<allocscope::Jemalloc> =
    allocscope::Profiler::new(allocscope::Jemalloc);

/// Makes `n` blocks of `size` bytes.
#[inline(never)]
fn produce(n: usize, size: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(Vec::with_capacity(size));
    }
    out
}

#[test]
fn threads_exact() {
    if common::is_child() {
        let (tx, rx) = mpsc::channel::<Vec<Vec<u8>>>();
        let consumer = std::thread::spawn(move || {
            let mut freed = 0;
            for batch in rx {
                freed += batch.len();
                drop(batch);
            }
            freed
        });
        let producers: Vec<_> = (0..4)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        tx.send(produce(100, 24 + 8 * t)).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(consumer.join().unwrap(), 4 * 50 * 100);
        return;
    }
    let p = common::run_child("threads_exact", &[("ALLOCSCOPE_SAMPLE_BYTES", "1")]);
    let s = common::sum(&p, "produce");
    // 4 threads × 50 batches × (100 blocks + the batch's Vec).
    assert_eq!(s.allocs, 4 * 50 * 101);
    let blocks: u64 = (0..4).map(|t| 50 * 100 * (24 + 8 * t)).sum();
    let holders = 4 * 50 * 100 * std::mem::size_of::<Vec<u8>>() as u64;
    assert_eq!(s.bytes, blocks + holders);
    assert_eq!(
        (s.live_blocks, s.live_bytes),
        (0, 0),
        "all freed on the consumer thread"
    );
    assert_eq!(s.freed, 4 * 50 * 101);
    let allocs: u64 = p.sites.iter().map(|s| s.allocs).sum();
    let bytes: u64 = p.sites.iter().map(|s| s.bytes).sum();
    assert_eq!(allocs, p.totals.allocs + p.totals.reallocs);
    assert_eq!(bytes, p.totals.bytes_allocated);
}
