//! The hook never allocates: while it holds its reentrancy guard (capturing a stack,
//! recording a sample, claiming a counting slot, counting) it must not enter the global
//! allocator again, nor call the inner allocator for anything but the program's own request.
//! In the style of pprof-rs's `test_no_alloc_during_unwind`: allocators around and under
//! allocscope's `Profiler` watch every call and record each one made while the guard is held
//! on that thread (`allocscope::reentrancy::in_hook`); the test asserts there were none.
//!
//! - [`Sentinel`] is the global allocator and wraps the `Profiler`: any call reaching it while
//!   the guard is held is the hook re-entering the global allocator (a `Box`, a `Vec` or a
//!   `String` in the hook's code).
//! - [`Inner`] is the `Profiler`'s inner allocator: a call it receives under the guard must be
//!   the forwarding of the call [`Sentinel`] passed in (same size, or for a `realloc` the same
//!   block), never an allocation of the hook's own.
//! - [`Inner`] also counts the forwarded calls it saw under the guard: more than zero in every
//!   mode, so the test does see the guard (it would catch a violation).
//!
//! Four modes, each on the main thread and on fresh threads (first-call paths): exact and
//! sampled, frame-pointer and DWARF unwinding. allocscope's own untracked work (collecting
//! the profile here) allocates outside the guard and is not what this test is about.
//! No libtest harness: its threads and allocations would run under the same allocator.
#![allow(clippy::undocumented_unsafe_blocks)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use allocscope::reentrancy::in_hook;
use allocscope::{Config, Unwinder};

/// Calls that reached the global allocator while the hook's guard was held.
static REENTRIES: AtomicU64 = AtomicU64::new(0);
/// Calls the inner allocator received under the guard that were not the forwarded request.
static STRAY_INNER_CALLS: AtomicU64 = AtomicU64::new(0);
/// The size of the first violating call (either kind), for the failure message.
static FIRST_VIOLATION_SIZE: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Forwarded calls the inner allocator received under the guard (the sampled allocations).
static FORWARDED_UNDER_GUARD: AtomicU64 = AtomicU64::new(0);

/// The call [`Sentinel`] is forwarding on this thread: `(op, size, block)`.
#[derive(Clone, Copy)]
enum Op {
    None,
    Alloc(usize),
    Dealloc(usize),
    Realloc { block: usize, new_size: usize },
}

thread_local! {
    // `const`, no destructor: reading it never allocates, even during thread teardown.
    static OUTER: Cell<Op> = const { Cell::new(Op::None) };
}

fn violation(counter: &AtomicU64, size: usize) {
    counter.fetch_add(1, Relaxed);
    let _ = FIRST_VIOLATION_SIZE.compare_exchange(usize::MAX, size, Relaxed, Relaxed);
}

/// On entry to the global allocator: the guard must not be held, and remembers the call.
fn enter(op: Op, size: usize) {
    if in_hook() {
        violation(&REENTRIES, size);
    }
    let _ = OUTER.try_with(|c| c.set(op));
}

/// In the inner allocator: under the guard, only the forwarding of the outer call is allowed.
fn inner_call(op: Op) {
    if !in_hook() {
        return;
    }
    let outer = OUTER.try_with(Cell::get).unwrap_or(Op::None);
    let forwarded = match (outer, op) {
        // A sampled allocation keeps its size (only the alignment grows).
        (Op::Alloc(a), Op::Alloc(b)) => a == b,
        (Op::Realloc { block, .. }, Op::Realloc { block: b, .. }) => block == b,
        // A sampled block that changes alignment: allocate, copy, free the old one.
        (Op::Realloc { new_size, .. }, Op::Alloc(b)) => new_size == b,
        (Op::Realloc { block, .. }, Op::Dealloc(b)) => block == b,
        _ => false,
    };
    if forwarded {
        FORWARDED_UNDER_GUARD.fetch_add(1, Relaxed);
    } else {
        let size = match op {
            Op::Alloc(s) | Op::Realloc { new_size: s, .. } => s,
            Op::Dealloc(_) | Op::None => 0,
        };
        violation(&STRAY_INNER_CALLS, size);
    }
}

/// The test binary's global allocator: checks every entry, then calls the `Profiler`.
struct Sentinel<A>(A);

unsafe impl<A: GlobalAlloc> GlobalAlloc for Sentinel<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        enter(Op::Alloc(layout.size()), layout.size());
        unsafe { self.0.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        enter(Op::Alloc(layout.size()), layout.size());
        unsafe { self.0.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        enter(Op::Dealloc(ptr as usize), layout.size());
        unsafe { self.0.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        enter(
            Op::Realloc {
                block: ptr as usize,
                new_size,
            },
            new_size,
        );
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

/// The `Profiler`'s inner allocator: the system allocator, watching calls under the guard.
struct Inner;

unsafe impl GlobalAlloc for Inner {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        inner_call(Op::Alloc(layout.size()));
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        inner_call(Op::Alloc(layout.size()));
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        inner_call(Op::Dealloc(ptr as usize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        inner_call(Op::Realloc {
            block: ptr as usize,
            new_size,
        });
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Sentinel<allocscope::Profiler<Inner>> = Sentinel(allocscope::Profiler::new(Inner));

/// Allocations of every kind the hook handles: small and large blocks, zeroed ones, growing
/// vectors (realloc), strings, frees, from a deep stack so the unwinder walks many frames.
#[inline(never)]
fn workload(depth: u32, round: u64) -> usize {
    if depth > 0 {
        return black_box(workload(depth - 1, round)) + 1;
    }
    let mut kept: Vec<Box<[u8]>> = Vec::new();
    let mut total = 0;
    for i in 0..2_000u64 {
        let size = match i % 7 {
            0 => 8,
            1 => 100,
            2 => 1_000,
            3 => 4_096,
            4 => 33_000,
            5 => (2 << 20) + (i as usize % 3) * 4096,
            _ => 24,
        };
        let b = if i % 2 == 0 {
            vec![0u8; size].into_boxed_slice()
        } else {
            vec![(i + round) as u8; size].into_boxed_slice()
        };
        total += b.len();
        if i % 5 == 0 {
            kept.push(b);
        }
        let mut v: Vec<u64> = Vec::new();
        for k in 0..(i % 50) {
            v.push(k);
        }
        let s = format!("item {i} of round {round}: {}", v.len());
        total += black_box(s).len() + black_box(v).len();
        if kept.len() > 40 {
            kept.drain(..20);
        }
    }
    total + kept.len()
}

/// The samples recorded so far (the sum over call sites).
fn samples() -> u64 {
    allocscope::collect_profile()
        .sites
        .iter()
        .map(|s| s.samples)
        .sum()
}

fn main() {
    let modes = [
        ("exact, frame pointers", 1, Unwinder::FramePointers),
        ("exact, DWARF", 1, Unwinder::Dwarf),
        (
            "sampled, frame pointers",
            64 * 1024,
            Unwinder::FramePointers,
        ),
        ("sampled, DWARF", 64 * 1024, Unwinder::Dwarf),
    ];
    for (round, (name, sample_bytes, unwinder)) in modes.into_iter().enumerate() {
        Config::new()
            .sample_bytes(sample_bytes)
            .unwinder(unwinder)
            .max_depth(128)
            .seed(7)
            .apply();
        let settings = allocscope::settings();
        assert_eq!(settings.unwinder, unwinder, "{name}: unwinder in force");
        assert_eq!(settings.sample_bytes, sample_bytes, "{name}: sampling");
        let before_samples = samples();
        let before_forwarded = FORWARDED_UNDER_GUARD.load(Relaxed);
        let round = round as u64;
        black_box(workload(40, round));
        let threads: Vec<_> = (0..4)
            .map(|t| std::thread::spawn(move || workload(10 + t * 10, round)))
            .collect();
        for t in threads {
            black_box(t.join().unwrap());
        }
        let recorded = samples() - before_samples;
        let forwarded = FORWARDED_UNDER_GUARD.load(Relaxed) - before_forwarded;
        println!(
            "{name}: {recorded} samples recorded, {forwarded} calls forwarded under the guard"
        );
        // The hook ran in this mode (stacks captured) and the test saw its guard held.
        assert!(recorded > 0, "{name}: no sample recorded");
        assert!(
            forwarded > 0,
            "{name}: the inner allocator never saw the guard held"
        );
        assert_eq!(
            (REENTRIES.load(Relaxed), STRAY_INNER_CALLS.load(Relaxed)),
            (0, 0),
            "{name}: the hook allocated while holding its guard (first such call: {} bytes): \
             (re-entries of the global allocator, inner-allocator calls of its own)",
            FIRST_VIOLATION_SIZE.load(Relaxed)
        );
    }
    println!("hook_no_reentry: ok");
}
