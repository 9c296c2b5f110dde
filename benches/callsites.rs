//! Cost of call-site recording: sampled (default) and exact mode against the bare allocator,
//! and against dhat-rs, on tiny churn and on the `tiny_allocs` workload.
//!
//! One global allocator per process, so the bench re-runs itself once per mode with
//! `ALLOCSCOPE_BENCH_MODE` set (the mode is fixed before the first allocation) and prints
//! the ratios at the end:
//!
//! ```text
//! cargo bench --features jemalloc --bench callsites               # all modes, ~2 minutes
//! cargo bench --features jemalloc --bench callsites -- tiny_churn # one group
//! ```
//! Modes: `bare_system`, `bare_jemalloc`, `sampled_jemalloc`, `exact_jemalloc`,
//! `exact_jemalloc_dwarf`, `sampled_system`, `exact_system`, `dhat` (dhat-rs over System),
//! `counting_only_jemalloc` (`ALLOCSCOPE=off`: the counting hook without stack capture).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::time::Duration;

use allocscope::{Jemalloc, Profiler};
use criterion::Criterion;

#[path = "../examples/tiny_allocs/workload.rs"]
#[allow(dead_code)]
mod workload;

/// (name, extra environment) of each mode, in code order 1..
const MODES: &[(&str, &[(&str, &str)])] = &[
    ("bare_system", &[]),
    ("bare_jemalloc", &[]),
    ("sampled_jemalloc", &[]),
    ("exact_jemalloc", &[("ALLOCSCOPE_SAMPLE_BYTES", "1")]),
    (
        "exact_jemalloc_dwarf",
        &[
            ("ALLOCSCOPE_SAMPLE_BYTES", "1"),
            ("ALLOCSCOPE_UNWIND", "dwarf"),
        ],
    ),
    ("sampled_system", &[]),
    ("exact_system", &[("ALLOCSCOPE_SAMPLE_BYTES", "1")]),
    ("dhat", &[]),
    ("counting_only_jemalloc", &[("ALLOCSCOPE", "off")]),
];

static PROF_JEMALLOC: Profiler<Jemalloc> = Profiler::new(Jemalloc);
static PROF_SYSTEM: Profiler<System> = Profiler::new(System);
static DHAT: dhat::Alloc = dhat::Alloc;
static MODE: AtomicU8 = AtomicU8::new(0);

/// The mode of this process (1-based index into MODES; 1 = bare System for the parent).
#[inline]
fn mode() -> u8 {
    let m = MODE.load(Relaxed);
    if m != 0 {
        return m;
    }
    // SAFETY: getenv with a NUL-terminated name; the result is read before returning.
    let name = unsafe {
        let p = libc::getenv(c"ALLOCSCOPE_BENCH_MODE".as_ptr());
        if p.is_null() {
            &[][..]
        } else {
            std::ffi::CStr::from_ptr(p).to_bytes()
        }
    };
    let m = MODES
        .iter()
        .position(|(n, _)| n.as_bytes() == name)
        .map_or(1, |i| i as u8 + 1);
    MODE.store(m, Relaxed);
    m
}

/// Forwards to the allocator of this process's mode.
struct Switch;

macro_rules! dispatch {
    ($method:ident ( $($arg:expr),* )) => {
        match mode() {
            2 => Jemalloc.$method($($arg),*),
            3..=5 | 9 => PROF_JEMALLOC.$method($($arg),*),
            6 | 7 => PROF_SYSTEM.$method($($arg),*),
            8 => DHAT.$method($($arg),*),
            _ => System.$method($($arg),*),
        }
    };
}

// SAFETY: every method forwards to one allocator, the same for the whole process.
unsafe impl GlobalAlloc for Switch {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { dispatch!(alloc(l)) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { dispatch!(alloc_zeroed(l)) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded contract; `p` came from the same allocator.
        unsafe { dispatch!(dealloc(p, l)) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: forwarded contract; `p` came from the same allocator.
        unsafe { dispatch!(realloc(p, l, n)) }
    }
}

#[global_allocator]
static ALLOC: Switch = Switch;

/// 100 allocations of 16–64 bytes, each freed at once.
fn tiny_churn() {
    for i in 0..100usize {
        let v: Vec<u8> = Vec::with_capacity(16 + (i % 4) * 16);
        black_box(&v);
    }
}

fn run_mode(name: &str) {
    let _dhat = (mode() == 8).then(dhat::Profiler::new_heap);
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .configure_from_args();
    c.benchmark_group("tiny_churn")
        .bench_function(name, |b| b.iter(tiny_churn));
    c.benchmark_group("tiny_allocs")
        .bench_function(name, |b| b.iter(|| black_box(workload::resolve(2_000))));
    c.final_summary();
    // dhat-rs would write its JSON file on drop: not what is measured here.
    std::mem::forget(_dhat);
}

fn main() {
    if let Ok(name) = std::env::var("ALLOCSCOPE_BENCH_MODE") {
        run_mode(&name);
        return;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let home = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/criterion");
    for (name, env) in MODES {
        let mut cmd = Command::new(&exe);
        cmd.args(&args)
            .env("ALLOCSCOPE_BENCH_MODE", name)
            .env("CRITERION_HOME", &home)
            .env_remove("ALLOCSCOPE_SAMPLE_BYTES")
            .env_remove("ALLOCSCOPE_UNWIND")
            .env_remove("ALLOCSCOPE_OUT")
            .env_remove("ALLOCSCOPE");
        for (k, v) in *env {
            cmd.env(k, v);
        }
        let status = cmd.status().expect("run bench child");
        if !status.success() {
            eprintln!("callsites bench: mode {name} failed: {status}");
            std::process::exit(1);
        }
    }
    if !args.iter().any(|a| a == "--bench") {
        return; // `cargo test` runs each benchmark once: no timings to compare
    }
    for group in ["tiny_churn", "tiny_allocs"] {
        let mean = |mode: &str| -> Option<f64> {
            let p = home.join(group).join(mode).join("new/estimates.json");
            let text = std::fs::read_to_string(p).ok()?;
            let v: serde_json::Value = serde_json::from_str(&text).ok()?;
            v["median"]["point_estimate"].as_f64()
        };
        println!("\n{group}: median time per iteration, and ratios");
        for (name, _) in MODES {
            if let Some(t) = mean(name) {
                let vs = |base: &str| mean(base).map_or(f64::NAN, |b| t / b);
                println!(
                    "  {name:<22} {:>12.1} ns   ×{:>6.2} bare jemalloc   ×{:>6.2} bare System   dhat/this {:>6.1}",
                    t,
                    vs("bare_jemalloc"),
                    vs("bare_system"),
                    mean("dhat").map_or(f64::NAN, |d| d / t),
                );
            }
        }
    }
}
