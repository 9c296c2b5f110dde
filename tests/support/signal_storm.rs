//! A signal handler that allocates, delivered thousands of times to a thread that allocates
//! without pause, so that many signals land while that thread is inside allocscope's hook
//! (counting, capturing a stack, or holding a live-table lock).
//!
//! What "must not deadlock" can mean: allocating in a signal handler is not async-signal-safe
//! with glibc malloc (its arena lock), and jemalloc and mimalloc make no such promise either.
//! allocscope must add no hazard of its own: `reentrancy_signal.rs` runs this over an inner
//! allocator that *is* async-signal-safe (one `mmap` per block), so any hang or crash there is
//! allocscope's. It is not run over jemalloc: there it hung in about 1 CI run in 6, and gdb
//! showed the interrupted thread inside jemalloc's `extent_recycle` holding its extent mutex
//! while the handler's `mallocx` waited for the same mutex, with no allocscope lock held — a
//! deadlock of jemalloc's, which a test cannot promise away (docs/reliability.md).
#![allow(dead_code, clippy::undocumented_unsafe_blocks)]

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::time::{Duration, Instant};

static HANDLED: AtomicU64 = AtomicU64::new(0);
static HANDLER_ALLOCS: AtomicU64 = AtomicU64::new(0);

/// Blocks the handler allocates and frees each time.
const HANDLER_BLOCKS: u64 = 16;

/// The handler's work: small blocks and page-sized ones (page-aligned over most allocators,
/// so their frees look in the live table), allocated and freed.
fn handler() {
    for i in 0..HANDLER_BLOCKS {
        let size = if i % 2 == 0 { 48 } else { 8192 };
        drop(black_box(vec![i as u8; size]));
    }
    HANDLER_ALLOCS.fetch_add(HANDLER_BLOCKS, Relaxed);
    HANDLED.fetch_add(1, Relaxed);
}

/// Sends `signals` SIGUSR1 to a thread allocating in `mode` (`sample_bytes`); returns a line
/// of figures.
pub fn storm(sample_bytes: u64, signals: u64) -> String {
    allocscope::Config::new().sample_bytes(sample_bytes).apply();
    // SAFETY: the handler only allocates and frees (the point of the test) and touches atomics.
    let id = unsafe { signal_hook::low_level::register(signal_hook::consts::SIGUSR1, handler) }
        .expect("handler registered");
    HANDLED.store(0, Relaxed);
    HANDLER_ALLOCS.store(0, Relaxed);
    let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let hammer = std::thread::spawn(move || {
        tid_tx.send(unsafe { libc::pthread_self() }).unwrap();
        let mut own = 0u64;
        let ((), c) = allocscope::measure(|| {
            let mut keep: [Option<Vec<u8>>; 16] = Default::default();
            let mut i = 0usize;
            while !stop.load(Relaxed) {
                let size = [24, 100, 3000, 4096, 10_000][i % 5];
                keep[i % 16] = Some(black_box(vec![i as u8; size]));
                own += 1;
                i += 1;
            }
        });
        (own, c)
    });
    let tid = tid_rx.recv().unwrap();
    let start = Instant::now();
    for _ in 0..signals {
        // One at a time (a pending signal absorbs another): wait until it was handled.
        let before = HANDLED.load(Relaxed);
        unsafe { libc::pthread_kill(tid, libc::SIGUSR1) };
        let sent = Instant::now();
        while HANDLED.load(Relaxed) == before && sent.elapsed() < Duration::from_millis(100) {
            std::thread::yield_now();
        }
    }
    stop.store(true, Relaxed);
    let (own, c) = hammer.join().unwrap();
    signal_hook::low_level::unregister(id);
    let handled = HANDLED.load(Relaxed);
    let handler_allocs = HANDLER_ALLOCS.load(Relaxed);
    // Everything the thread allocated was freed on it, the handler's blocks included.
    assert_eq!(c.allocs, c.frees, "balanced: {c:?}");
    // The thread's own allocations are all counted; the handler's are counted when it ran
    // outside the hook, and pass through uncounted when it interrupted the hook.
    assert!(
        c.allocs >= own && c.allocs <= own + handler_allocs,
        "{c:?} own {own} handler {handler_allocs}"
    );
    let inside = (own + handler_allocs - c.allocs) / HANDLER_BLOCKS;
    assert!(handled > 0, "no signal was handled");
    format!(
        "sample_bytes {sample_bytes}: {signals} signals sent, {handled} handled ({inside} of them inside the hook), {own} allocations on the thread, {:.2} s",
        start.elapsed().as_secs_f64()
    )
}
