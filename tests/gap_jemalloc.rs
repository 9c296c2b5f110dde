//! The RSS gap over jemalloc, after known allocation patterns, against jemalloc's own
//! arithmetic (`nallocx`) and the kernel's RSS.
//!
//! `harness = false`: one process, one thread, checks in sequence, so the process-wide
//! counters see only what this file does (libtest's threads and output capture would add
//! their own allocations).

use allocscope::{GapBreakdown, Jemalloc, Profiler};

#[global_allocator]
static ALLOC: Profiler<Jemalloc> = Profiler::new(Jemalloc);

/// The usable size jemalloc gives a request, asked of jemalloc itself.
fn nallocx(size: usize) -> u64 {
    // SAFETY: nallocx only computes a size; flags 0 = default alignment (≤ 16 for these sizes,
    // as Rust's `Layout` of `[u8; N]` and `Box` pointers ask).
    unsafe { tikv_jemalloc_sys::nallocx(size, 0) as u64 }
}

/// The gap now; the snapshot's other parts are dropped before returning, so they are not
/// live at the next snapshot.
fn gap() -> GapBreakdown {
    let s = allocscope::snapshot();
    let g = s.gap.expect("jemalloc is installed: the gap must be there");
    assert_eq!(
        g.sum_of_terms(),
        g.rss,
        "terms must add up to RSS exactly: {g:?}"
    );
    assert_eq!(g.requested as u64, s.live_bytes);
    g
}

const N: usize = 500_000;
const SIZE: usize = 100;

fn main() {
    // Warm up what a first snapshot and first purge set up lazily (MIB tables, stdout).
    let _ = gap();
    let _ = allocscope::purge();
    println!("gap_jemalloc: running");
    known_patterns();
    large_blocks_come_and_go_meanwhile();
    println!("gap_jemalloc: ok");
}

/// Another thread allocates and frees large blocks while gaps are read: allocscope's
/// counters and jemalloc's `allocated` must be read at one moment, or a block freed between
/// the two reads is live for one and gone for the other (CI saw `allocator_caches` at
/// −98 MiB in the demo's workload). Twice: with quick large calls (a gap waits for the
/// moments between them), and with a realloc copying 64 MiB always in flight (a gap gives up
/// waiting after 200 ms and must still not straddle a free; under load this saw −64 MiB).
fn large_blocks_come_and_go_meanwhile() {
    const BLOCK: usize = 64 << 20;
    // Quick: a 64 MiB block allocated, a small vector grown into one (a large realloc that
    // copies one byte), both freed; the blocks are never touched, so they cost no RSS. Then
    // a pause of 300 µs: a gap needs a moment with no large call in flight and none begun
    // while it reads (tens of µs).
    let quick = || {
        let v: Vec<u8> = Vec::with_capacity(BLOCK);
        std::hint::black_box(&v);
        let mut w: Vec<u8> = vec![1];
        w.reserve_exact(BLOCK);
        std::hint::black_box(&w);
        drop((v, w));
        std::thread::sleep(std::time::Duration::from_micros(300));
    };
    // Slow: a 64 MiB vector outgrowing its capacity, which jemalloc copies in full.
    let slow = || {
        let mut v: Vec<u8> = Vec::with_capacity(BLOCK);
        v.push(1);
        v.reserve_exact(2 * BLOCK);
        std::hint::black_box(&v);
    };
    check_gaps_while("quick large calls", 100, quick);
    check_gaps_while("a large realloc always in flight", 12, slow);
    // Back to back: there may be no consistent moment at all; then no gap, never a wrong one.
    check_gaps_while("quick large calls back to back", 12, || {
        let v: Vec<u8> = Vec::with_capacity(BLOCK);
        std::hint::black_box(&v);
    });
}

/// Reads `gaps` snapshots while another thread runs `churn` in a loop; no `allocator_caches`
/// of a gap they carry may be negative by more than small blocks can make it. A snapshot
/// carries none when no moment without a large call in flight came.
fn check_gaps_while(what: &str, gaps: usize, churn: impl Fn() + Sync) {
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let churner = s.spawn(|| {
            let mut rounds = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                churn();
                rounds += 1;
            }
            rounds
        });
        // Collected first and checked after the churner stopped; should `gap()` itself fail,
        // the churner is stopped all the same (the scope waits for it).
        let _stop = StopOnDrop(&stop);
        let started = std::time::Instant::now();
        let snapshots: Vec<Option<GapBreakdown>> =
            (0..gaps).map(|_| allocscope::snapshot().gap).collect();
        let secs = started.elapsed().as_secs_f64();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let rounds = churner.join().unwrap();
        let gaps: Vec<GapBreakdown> = snapshots.iter().flatten().copied().collect();
        let lowest = gaps.iter().map(|g| g.allocator_caches).min().unwrap_or(0);
        println!(
            "{what}: {} snapshots in {secs:.1} s, {} with a gap, {rounds} rounds meanwhile, lowest allocator_caches {:.2} MiB",
            snapshots.len(),
            gaps.len(),
            lowest as f64 / (1 << 20) as f64
        );
        assert!(rounds > 0);
        for g in &gaps {
            assert_eq!(g.sum_of_terms(), g.rss, "{what}: {g:?}");
            // Small blocks allocated or freed between the reads (this thread's snapshot, the
            // churner's vector header) move it by bytes, never by a block.
            assert!(
                g.allocator_caches > -(4 << 20),
                "{what}: allocator_caches {:.1} MiB: {g:?}",
                g.allocator_caches as f64 / (1 << 20) as f64
            );
        }
    });
}

/// Sets its flag when dropped, panicking included.
struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Known allocation patterns, each checked against jemalloc's arithmetic.
fn known_patterns() {
    let g0 = gap();
    let mut held: Vec<Option<Box<[u8; SIZE]>>> = Vec::with_capacity(N);
    for i in 0..N {
        held.push(Some(Box::new([i as u8; SIZE])));
    }
    let g1 = gap();

    // `requested` is exactly what the test holds: N boxes and the vector of pointers.
    let vec_bytes = N * std::mem::size_of::<Option<Box<[u8; SIZE]>>>();
    let held_bytes = (N * SIZE + vec_bytes) as i64;
    assert_eq!(g1.requested - g0.requested, held_bytes, "{g0:?}\n{g1:?}");
    // Size-class rounding equals jemalloc's arithmetic for the same requests.
    let rounding =
        N as u64 * (nallocx(SIZE) - SIZE as u64) + (nallocx(vec_bytes) - vec_bytes as u64);
    assert_eq!(
        (g1.size_class_rounding - g0.size_class_rounding) as u64,
        rounding,
        "{g0:?}\n{g1:?}"
    );
    // The boxes landed in jemalloc's `allocated` (caches, internal allocations stay small).
    assert!(g1.allocator_caches.abs() < 4 << 20, "{g1:?}");

    // Free every other object: the pages stay (each still holds live objects), the freed
    // slots become holes inside them.
    for slot in held.iter_mut().step_by(2) {
        *slot = None;
    }
    let g2 = gap();
    let freed_usable = (N / 2) as i64 * nallocx(SIZE) as i64;
    assert_eq!(
        g1.requested - g2.requested,
        (N / 2 * SIZE) as i64,
        "{g1:?}\n{g2:?}"
    );
    assert_eq!(
        g1.size_class_rounding - g2.size_class_rounding,
        (N / 2) as i64 * (nallocx(SIZE) - SIZE as u64) as i64
    );
    let grown = g2.fragmentation - g1.fragmentation;
    // Thread caches keep a few freed slots counted as allocated; allow them 5%.
    assert!(
        grown >= freed_usable * 95 / 100 && grown <= freed_usable,
        "fragmentation grew by {grown}, freed {freed_usable}\n{g1:?}\n{g2:?}"
    );
    // The freed slots are inside live pages: no page could be returned.
    assert!(g2.dirty - g1.dirty < 1 << 20, "{g1:?}\n{g2:?}");
    println!("every other object freed:\n{g2}\n");

    // Free everything: the pages become dirty, RSS stays.
    drop(held);
    let g3 = gap();
    assert_eq!(g3.requested, g0.requested, "{g0:?}\n{g3:?}");
    let expected_dirty = (N as u64 * nallocx(SIZE)) as i64;
    // SAFETY: opt.dirty_decay_ms is an ssize_t control.
    let decay_ms: isize =
        unsafe { allocscope::jemalloc_stats::read_opt(b"opt.dirty_decay_ms\0") }.unwrap();
    if decay_ms == 0 {
        // Run with `_RJEM_MALLOC_CONF=dirty_decay_ms:0`: freed pages go back at once.
        assert!(g3.dirty < 1 << 20, "{g3:?}");
        assert!(g2.rss - g3.rss >= expected_dirty * 8 / 10, "{g2:?}\n{g3:?}");
        println!("gap_jemalloc: dirty_decay_ms:0");
        return;
    }
    assert!(
        g3.dirty >= expected_dirty * 8 / 10,
        "dirty {} after freeing {} bytes of pages: {g3:?}",
        g3.dirty,
        expected_dirty
    );
    let report = allocscope::purge();
    let g4 = gap();
    println!("everything freed:\n{g3}\n\n{report}\nafter purge:\n{g4}");
    assert!(g4.dirty < 1 << 20, "dirty after purge: {g4:?}");
    // The same figure, read again by purge() (a little allocator activity in between).
    let dirty_before = report.dirty_before.unwrap() as i64;
    assert!(
        (dirty_before - g3.dirty).abs() < 1 << 20,
        "{report:?}\n{g3:?}"
    );
    assert!(report.dirty_after.unwrap() < 1 << 20, "{report:?}");
    let fell = report.rss_before as i64 - report.rss_after as i64;
    assert!(
        fell >= g3.dirty * 8 / 10,
        "RSS fell by {fell}, dirty before was {}: {report:?}",
        g3.dirty
    );
    assert!(
        report.jemalloc_purged.unwrap() as i64 >= g3.dirty * 8 / 10,
        "{report:?}"
    );
    assert!(g4.rss < g3.rss - g3.dirty * 8 / 10, "{g3:?}\n{g4:?}");
}
