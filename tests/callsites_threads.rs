//! Several threads in exact mode, blocks freed on other threads than the ones that allocated
//! them, threads exiting: every site's figures stay exact and add up to the totals.

#[path = "support/callsites/mod.rs"]
mod callsite_support;
use callsite_support as common;

use std::sync::mpsc;

#[global_allocator]
static ALLOC: allocscope::Profiler<allocscope::Jemalloc> =
    allocscope::Profiler::new(allocscope::Jemalloc);

/// Makes `n` blocks of `size` bytes (each test runs in a child of its own, so this is the
/// one site the test sums).
#[inline(never)]
fn produce(n: usize, size: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(Vec::with_capacity(size));
    }
    out
}

/// Frees every batch received (on the consumer's thread); returns how many blocks.
fn free_batches(rx: mpsc::Receiver<Vec<Vec<u8>>>) -> usize {
    let mut freed = 0;
    for batch in rx {
        freed += batch.len();
        drop(batch);
    }
    freed
}

#[test]
fn threads_exact() {
    if common::is_child() {
        let (tx, rx) = mpsc::channel::<Vec<Vec<u8>>>();
        let consumer = std::thread::spawn(move || free_batches(rx));
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

/// More threads at one site than the sites' counters have stripes (7 owned by one thread each,
/// one shared), in waves, so that later threads take over the stripes of exited ones and some
/// threads share the locked stripe; every block freed on another thread. The site's figures
/// still add up exactly.
#[test]
fn threads_exact_more_threads_than_stripes() {
    const WAVES: usize = 3;
    const PER_WAVE: usize = 12;
    const BATCHES: usize = 20;
    const BLOCKS: usize = 50;
    if common::is_child() {
        let (tx, rx) = mpsc::channel::<Vec<Vec<u8>>>();
        let consumer = std::thread::spawn(move || free_batches(rx));
        for _ in 0..WAVES {
            let wave: Vec<_> = (0..PER_WAVE)
                .map(|t| {
                    let tx = tx.clone();
                    std::thread::spawn(move || {
                        for _ in 0..BATCHES {
                            tx.send(produce(BLOCKS, 16 + 8 * t)).unwrap();
                        }
                    })
                })
                .collect();
            for p in wave {
                p.join().unwrap();
            }
        }
        drop(tx);
        assert_eq!(
            consumer.join().unwrap(),
            WAVES * PER_WAVE * BATCHES * BLOCKS
        );
        return;
    }
    let p = common::run_child(
        "threads_exact_more_threads_than_stripes",
        &[("ALLOCSCOPE_SAMPLE_BYTES", "1")],
    );
    let s = common::sum(&p, "produce");
    let batches = (WAVES * PER_WAVE * BATCHES) as u64;
    assert_eq!(s.allocs, batches * (BLOCKS as u64 + 1));
    let blocks: u64 = (0..PER_WAVE as u64)
        .map(|t| (WAVES * BATCHES * BLOCKS) as u64 * (16 + 8 * t))
        .sum();
    let holders = batches * BLOCKS as u64 * std::mem::size_of::<Vec<u8>>() as u64;
    assert_eq!(s.bytes, blocks + holders);
    assert_eq!(
        (s.live_blocks, s.live_bytes),
        (0, 0),
        "all freed by the consumer"
    );
    assert_eq!(s.freed, batches * (BLOCKS as u64 + 1));
    let allocs: u64 = p.sites.iter().map(|s| s.allocs).sum();
    let bytes: u64 = p.sites.iter().map(|s| s.bytes).sum();
    assert_eq!(allocs, p.totals.allocs + p.totals.reallocs);
    assert_eq!(bytes, p.totals.bytes_allocated);
}
