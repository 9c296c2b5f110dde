//! Allocation patterns with hand-computed expectations, shared by the per-allocator test
//! files (each installs its own `#[global_allocator]` and so is its own process).
#![allow(dead_code, clippy::undocumented_unsafe_blocks)]

use allocscope::{measure, Counts};
use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;

/// The counters of the size class of `size` bytes in `s` (zeros if it saw no block).
pub fn size_class(s: &allocscope::Snapshot, size: u64) -> allocscope::SizeClassCounts {
    s.size_classes
        .iter()
        .find(|c| c.size == size)
        .copied()
        .unwrap_or_default()
}

/// `n` boxes of 40 bytes collected into a Vec whose exact capacity is known up front.
pub fn boxes_of_known_size() {
    let (v, c) = measure(|| {
        (0..100)
            .map(|i| Box::new([i as u8; 40]))
            .collect::<Vec<_>>()
    });
    // 100 boxes + one Vec buffer of 100 pointers (exact size hint: no growth).
    assert_eq!(c.allocs, 101, "{c:?}");
    assert_eq!(c.bytes_allocated, 100 * 40 + 100 * 8, "{c:?}");
    assert_eq!(c.frees, 0);
    let ((), c) = measure(|| drop(v));
    assert_eq!(c.frees, 101);
    assert_eq!(c.bytes_freed, 100 * 40 + 100 * 8);
    assert_eq!(c.allocs, 0);
}

/// A Vec<u64> pushed 100 times grows 4 → 8 → 16 → 32 → 64 → 128 elements
/// (RawVec's minimum non-zero capacity for 8-byte elements is 4, then it doubles).
pub fn vec_growth_sequence() {
    let (v, c) = measure(|| {
        let mut v: Vec<u64> = Vec::new();
        for i in 0..100 {
            v.push(black_box(i));
        }
        v
    });
    assert_eq!(v.capacity(), 128);
    let caps = [4u64, 8, 16, 32, 64, 128];
    assert_eq!(c.allocs, 1, "{c:?}");
    assert_eq!(c.reallocs, 5, "{c:?}");
    assert_eq!(c.frees, 0, "{c:?}");
    // A realloc counts as freeing the old block and allocating the new one.
    assert_eq!(c.bytes_allocated, caps.iter().map(|n| n * 8).sum::<u64>());
    assert_eq!(c.bytes_freed, caps[..5].iter().map(|n| n * 8).sum::<u64>());
    let ((), c) = measure(|| drop(v));
    assert_eq!((c.frees, c.bytes_freed), (1, 128 * 8));
}

/// `vec![0; n]` goes through alloc_zeroed, which counts as an allocation.
pub fn alloc_zeroed_counts() {
    let (v, c) = measure(|| vec![0u8; 4000]);
    assert!(v.iter().all(|&b| b == 0));
    assert_eq!((c.allocs, c.bytes_allocated), (1, 4000), "{c:?}");
    drop(v);
}

/// Zero-sized types never reach the allocator.
pub fn zero_sized_layouts_do_not_allocate() {
    let (_, c) = measure(|| {
        let b = black_box(Box::new(()));
        let v: Vec<()> = black_box(Vec::with_capacity(1000));
        let s = black_box(String::new());
        let e: Vec<u64> = black_box(Vec::new());
        (b, v, s, e)
    });
    assert_eq!(c, Counts::default());
}

#[repr(align(64))]
pub struct Aligned64([u8; 64]);
#[repr(align(4096))]
pub struct PageAligned([u8; 100]);

/// Over-aligned layouts are counted with their size and keep their alignment.
pub fn over_aligned_layouts() {
    let (b, c) = measure(|| {
        (
            Box::new(Aligned64([1; 64])),
            Box::new(PageAligned([2; 100])),
        )
    });
    assert_eq!(c.allocs, 2);
    assert_eq!(
        c.bytes_allocated,
        64 + 4096,
        "size of PageAligned is rounded to its alignment"
    );
    assert_eq!(&*b.0 as *const Aligned64 as usize % 64, 0);
    assert_eq!(&*b.1 as *const PageAligned as usize % 4096, 0);
    let ((), c) = measure(|| drop(b));
    assert_eq!((c.frees, c.bytes_freed), (2, 64 + 4096));
}

/// realloc through the installed allocator: the counters split moved from in-place by the
/// pointers the allocator actually returned.
pub fn realloc_in_place_and_moved<A: GlobalAlloc>(global: &A) {
    let before = allocscope::snapshot();
    let layout = Layout::from_size_align(64, 8).unwrap();
    let mut moved = 0;
    let mut in_place = 0;
    let (_, c) = measure(|| unsafe {
        // Grow a small block to 1 MiB: no allocator can do that in place inside a 64-byte
        // slot, so it moves.
        let p = global.alloc(layout);
        assert!(!p.is_null());
        p.write_bytes(7, 64);
        let q = global.realloc(p, layout, 1 << 20);
        assert!(!q.is_null());
        assert_eq!(*q.add(63), 7, "contents kept");
        if q == p {
            in_place += 1
        } else {
            moved += 1
        }
        // Shrink it a little: usually in place; we count whatever happened.
        let big = Layout::from_size_align(1 << 20, 8).unwrap();
        let r = global.realloc(q, big, (1 << 20) - 4096);
        assert!(!r.is_null());
        if r == q {
            in_place += 1
        } else {
            moved += 1
        }
        global.dealloc(r, Layout::from_size_align((1 << 20) - 4096, 8).unwrap());
    });
    assert_eq!(c.allocs, 1);
    assert_eq!(c.reallocs, 2);
    assert_eq!(c.frees, 1);
    assert_eq!(c.bytes_allocated, 64 + (1 << 20) + ((1 << 20) - 4096));
    assert_eq!(c.bytes_freed, c.bytes_allocated);
    // Growing 64 B to 1 MiB must move. The shrink may move too: a block picked by call-site
    // sampling is page-aligned, and System's realloc of an over-aligned block always moves.
    assert!(moved >= 1, "growing 64 B to 1 MiB must move");
    let after = allocscope::snapshot();
    // Other threads of the test harness may realloc meanwhile: at least ours are there.
    assert!(after.reallocs_moved - before.reallocs_moved >= moved);
    assert!(after.reallocs_in_place - before.reallocs_in_place >= in_place);
    assert!(after.reallocs_grew - before.reallocs_grew >= 1);
    assert!(after.reallocs_shrank - before.reallocs_shrank >= 1);
}

/// Blocks are counted in the size class of their usable size, with requested vs usable bytes.
/// Checked on a quiet process (call it from a file with a single test).
pub fn size_classes_count_rounding() {
    let before = allocscope::snapshot();
    let blocks: Vec<Box<[u8; 17]>> = (0..1000).map(|_| Box::new([0u8; 17])).collect();
    let mid = allocscope::snapshot();
    let (b32, m32) = (size_class(&before, 32), size_class(&mid, 32));
    assert_eq!(m32.allocs - b32.allocs, 1000);
    assert_eq!(m32.requested_bytes - b32.requested_bytes, 17 * 1000);
    assert_eq!(m32.usable_bytes - b32.usable_bytes, 32 * 1000);
    assert_eq!(m32.live_blocks - b32.live_blocks, 1000);
    // The Vec buffer of 1000 pointers: 8000 bytes fall in jemalloc's 8192 class.
    let (b8k, m8k) = (size_class(&before, 8192), size_class(&mid, 8192));
    assert_eq!(m8k.allocs - b8k.allocs, 1);
    assert_eq!(m8k.usable_bytes - b8k.usable_bytes, 8192);
    // The classes' live blocks add up to the process's.
    let live: u64 = mid.size_classes.iter().map(|c| c.live_blocks).sum();
    assert_eq!(live, mid.live_blocks);
    let live_bytes: u64 = mid
        .size_classes
        .iter()
        .map(|c| c.live_requested_bytes)
        .sum();
    assert_eq!(live_bytes, mid.live_bytes);
    drop(blocks);
    let after = allocscope::snapshot();
    assert_eq!(size_class(&after, 32).live_blocks, b32.live_blocks);
}

/// The peak of live bytes: allocate 3 MiB, free it, allocate 1 MiB. Exact when this is the
/// only thread that ever allocated (`threads == 1`); otherwise within the documented bound of
/// `PEAK_SLACK_PER_THREAD` per thread.
pub fn peak_after_3mib_then_1mib(threads: u64) {
    let base = allocscope::snapshot();
    // `base` itself holds one live Vec, and its cgroup's path when the process has a memory
    // cgroup, allocated after its figures were read.
    let base_vec = (base.size_classes.capacity()
        * std::mem::size_of::<allocscope::SizeClassCounts>()) as u64
        + base.cgroup.as_ref().map_or(0, |c| c.path.capacity() as u64);
    let big = vec![1u8; 3 << 20];
    drop(black_box(big));
    let small = vec![1u8; 1 << 20];
    let s = allocscope::snapshot();
    drop(small);
    let expected = (base.live_bytes + base_vec + (3 << 20)).max(base.peak_live_bytes);
    if threads == 1 {
        assert_eq!(s.peak_live_bytes, expected);
    } else {
        let slack = allocscope::PEAK_SLACK_PER_THREAD * threads;
        assert!(
            s.peak_live_bytes + slack >= expected && s.peak_live_bytes <= expected + slack,
            "peak {} expected {expected} ± {slack}",
            s.peak_live_bytes
        );
    }
}

/// Counts from several threads allocating and freeing across threads add up exactly, and no
/// block stays live. Call it from a file with a single test (a quiet process).
pub fn threads_across_frees_exact() {
    use std::sync::mpsc;
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 2_000;
    // 3000-byte boxes fall in the 3072 class, which nothing else in a quiet test uses.
    type Block = Box<[u8; 3000]>;
    let class = |s: &allocscope::Snapshot| size_class(s, 3072);
    let before = allocscope::snapshot();
    let (tx, rx) = mpsc::sync_channel::<Vec<Block>>(THREADS as usize);
    let producers: Vec<_> = (0..THREADS)
        .map(|_| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let (batch, c) = measure(|| {
                    let mut batch = Vec::with_capacity(PER_THREAD as usize);
                    for i in 0..PER_THREAD {
                        batch.push(Box::new([i as u8; 3000]));
                    }
                    batch
                });
                tx.send(batch).unwrap(); // freed by the consumer thread
                c
            })
        })
        .collect();
    drop(tx);
    let consumer = std::thread::spawn(move || {
        let mut freed = Counts::default();
        for batch in rx {
            let ((), c) = measure(|| drop(batch));
            freed.frees += c.frees;
            freed.bytes_freed += c.bytes_freed;
        }
        freed
    });
    let mut made = Counts::default();
    for p in producers {
        let c = p.join().unwrap();
        made.allocs += c.allocs;
        made.bytes_allocated += c.bytes_allocated;
    }
    let freed = consumer.join().unwrap();
    let batch_vec = PER_THREAD * 8;
    assert_eq!(made.allocs, THREADS * (PER_THREAD + 1));
    assert_eq!(
        made.bytes_allocated,
        THREADS * (PER_THREAD * 3000 + batch_vec)
    );
    assert_eq!(freed.frees, made.allocs);
    assert_eq!(freed.bytes_freed, made.bytes_allocated);
    // Process-wide, including the slots of the threads that have exited.
    let after = allocscope::snapshot();
    let (b, a) = (class(&before), class(&after));
    assert_eq!(a.allocs - b.allocs, THREADS * PER_THREAD);
    assert_eq!(a.frees - b.frees, THREADS * PER_THREAD);
    assert_eq!(
        a.live_blocks, b.live_blocks,
        "boxes freed on another thread were counted"
    );
    assert_eq!(after.allocs - after.frees, after.live_blocks);
}

/// `measure` on this thread is exact while another thread allocates all the time.
pub fn measure_exact_under_concurrency() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    let noise = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let v = black_box(vec![n as u8; 1 + (n % 300) as usize]);
                n += v.len() as u64;
            }
            n
        })
    };
    for round in 0..200u64 {
        let (v, c) = measure(|| {
            (0..round)
                .map(|i| vec![0u16; i as usize + 1])
                .collect::<Vec<_>>()
        });
        // One Vec per element plus the outer one (if any element).
        let expected_allocs = round + u64::from(round > 0);
        let expected_bytes =
            (1..=round).map(|i| 2 * i).sum::<u64>() + if round > 0 { round * 24 } else { 0 };
        assert_eq!(c.allocs, expected_allocs, "round {round}");
        assert_eq!(c.bytes_allocated, expected_bytes, "round {round}");
        assert_eq!(c.frees, 0);
        drop(v);
    }
    stop.store(true, Ordering::Relaxed);
    assert!(noise.join().unwrap() > 0);
}

/// More threads than there are counter slots, some alive at once (so some count into the
/// shared fallback) and many exiting (so slots are handed on): the totals stay exact.
/// Call it from a file with a single test (a quiet process).
pub fn many_threads_keep_counts() {
    use std::sync::{Arc, Barrier};
    const AT_ONCE: usize = 300; // more than the 256 slots
    const ROUNDS: usize = 2;
    const PER_THREAD: u64 = 10;
    let class = |s: &allocscope::Snapshot| size_class(s, 3072);
    let before = allocscope::snapshot();
    for _ in 0..ROUNDS {
        let barrier = Arc::new(Barrier::new(AT_ONCE));
        let handles: Vec<_> = (0..AT_ONCE)
            .map(|_| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait(); // all alive together
                    let blocks: Vec<Box<[u8; 3000]>> =
                        (0..PER_THREAD).map(|i| Box::new([i as u8; 3000])).collect();
                    barrier.wait();
                    black_box(blocks)
                })
            })
            .collect();
        // The blocks are freed here, on the main thread, after their threads exited.
        let blocks: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        drop(blocks);
    }
    let after = allocscope::snapshot();
    let (b, a) = (class(&before), class(&after));
    let expected = (AT_ONCE * ROUNDS) as u64 * PER_THREAD;
    assert_eq!(a.allocs - b.allocs, expected);
    assert_eq!(a.frees - b.frees, expected);
    assert_eq!(a.requested_bytes - b.requested_bytes, expected * 3000);
    assert_eq!(a.live_blocks, b.live_blocks);
    assert_eq!(after.allocs - after.frees, after.live_blocks);
}

/// The exact-count tests over one inner allocator: installs `Profiler<$ty>` as this test
/// binary's global allocator and runs every hand-computed pattern through `measure`.
#[macro_export]
macro_rules! exact_count_tests {
    ($ty:ty, $value:expr, $kind:ident) => {
        #[global_allocator]
        static ALLOC: allocscope::Profiler<$ty> = allocscope::Profiler::new($value);

        #[test]
        fn installed() {
            let _ = Box::new(1u8);
            assert!(allocscope::is_installed());
            assert_eq!(
                allocscope::installed_allocator(),
                Some(allocscope::AllocatorKind::$kind)
            );
        }

        #[test]
        fn boxes_of_known_size() {
            common::boxes_of_known_size();
        }

        #[test]
        fn vec_growth_sequence() {
            common::vec_growth_sequence();
        }

        #[test]
        fn alloc_zeroed_counts() {
            common::alloc_zeroed_counts();
        }

        #[test]
        fn zero_sized_layouts_do_not_allocate() {
            common::zero_sized_layouts_do_not_allocate();
        }

        #[test]
        fn over_aligned_layouts() {
            common::over_aligned_layouts();
        }

        #[test]
        fn realloc_in_place_and_moved() {
            common::realloc_in_place_and_moved(&ALLOC);
        }

        #[test]
        fn measure_exact_under_concurrency() {
            common::measure_exact_under_concurrency();
        }
    };
}
