//! Overhead of counting: tiny alloc/free churn over bare System and bare jemalloc, and
//! allocscope's `Profiler` over each, side by side in one run.
//!
//! The profilers here are not the global allocator: the bench calls their `GlobalAlloc`
//! methods directly, which runs exactly the hook a global install runs. Call-site sampling is
//! left at its default. At the end the bench prints the overhead ratios from criterion's own
//! estimates (`target/criterion/tiny_churn/*/new/estimates.json`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;

use allocscope::{Jemalloc, Profiler};
use criterion::{Criterion, Throughput};

static PROFILED_SYSTEM: Profiler<System> = Profiler::new(System);
static PROFILED_JEMALLOC: Profiler<Jemalloc> = Profiler::new(Jemalloc);

/// Number of alloc+free pairs per iteration.
const PAIRS: u64 = 1024;
/// Live blocks kept in a ring, so frees hit recently allocated but not just-allocated blocks.
const RING: usize = 64;

/// Replaces one block of a ring of live blocks per step: sizes 8..=128 bytes, as in the
/// "oodles of tiny little objects" workloads.
fn churn<A: GlobalAlloc>(a: &A, ring: &mut [(*mut u8, Layout); RING], seed: &mut u64) {
    for _ in 0..PAIRS {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let slot = (*seed as usize) % RING;
        let size = 8 + (*seed >> 32) as usize % 121;
        let layout = Layout::from_size_align(size, 8).unwrap();
        let (old, old_layout) = ring[slot];
        // SAFETY: `old` was allocated by `a` with `old_layout` (or is null: skipped);
        // `layout` is non-zero sized.
        unsafe {
            if !old.is_null() {
                a.dealloc(old, old_layout);
            }
            let p = a.alloc(layout);
            black_box(p);
            ring[slot] = (p, layout);
        }
    }
}

fn bench_one<A: GlobalAlloc>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    a: &A,
) {
    let mut ring = [(std::ptr::null_mut(), Layout::new::<u8>()); RING];
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    c.bench_function(name, |b| b.iter(|| churn(a, &mut ring, &mut seed)));
    for (p, l) in ring {
        if !p.is_null() {
            // SAFETY: allocated by `a` with `l` in `churn`.
            unsafe { a.dealloc(p, l) };
        }
    }
}

fn estimate_ns(name: &str) -> Option<f64> {
    let path = format!(
        "{}/criterion/tiny_churn/{name}/new/estimates.json",
        target_dir()
    );
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn target_dir() -> String {
    std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into())
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("tiny_churn");
        g.throughput(Throughput::Elements(PAIRS));
        bench_one(&mut g, "system", &System);
        bench_one(&mut g, "allocscope_system", &PROFILED_SYSTEM);
        bench_one(&mut g, "jemalloc", &Jemalloc);
        bench_one(&mut g, "allocscope_jemalloc", &PROFILED_JEMALLOC);
        g.finish();
    }
    c.final_summary();
    let per_pair = |n| estimate_ns(n).map(|t| t / PAIRS as f64);
    if let (Some(s), Some(ps), Some(j), Some(pj)) = (
        per_pair("system"),
        per_pair("allocscope_system"),
        per_pair("jemalloc"),
        per_pair("allocscope_jemalloc"),
    ) {
        println!("\ntiny alloc+free churn, ns per pair (median):");
        println!("| allocator | bare | allocscope | ratio |");
        println!("|---|---|---|---|");
        println!("| System | {s:.1} | {ps:.1} | {:.2}× |", ps / s);
        println!("| jemalloc | {j:.1} | {pj:.1} | {:.2}× |", pj / j);
    }
}
