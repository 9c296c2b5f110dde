//! What writing the profile at exit costs the profiled process: added RSS and wall time, for
//! a program with ~10 000 distinct call stacks (exact mode, frame pointers).
//!
//! ```text
//! cargo bench --bench exit_cost
//! ```
//!
//! The bench re-runs itself as a child per mode: the child makes the stacks, resets the
//! kernel's peak-RSS mark (`echo 5 > /proc/self/clear_refs`), reads `VmRSS`, calls
//! `allocscope::write_profile` and reads `VmHWM` again: the difference is the RSS that
//! writing the profile added (its peak, not what it left behind), and the wall and CPU time
//! of the call (CPU time: the writer's own work, robust to a loaded machine). Modes: the default
//! (raw addresses + mappings, symbolized later by `alloc-report`) and
//! `ALLOCSCOPE_SYMBOLIZE=exit` (names resolved in the process). Targets (issue 10): the default
//! adds ≤ 5 MB and ≤ 20 ms.

// One boxed allocation per stack is the point of the workload.
#![allow(clippy::vec_box)]

use std::alloc::System;
use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

#[path = "../tests/support/distinct_stacks.rs"]
mod distinct_stacks;
use distinct_stacks::left;

use allocscope::Profiler;

#[global_allocator]
static PROF: Profiler<System> = Profiler::new(System);

const STACKS: u32 = 10_000;
/// Bits of the stack number: each level of the recursion goes through `left` or `right`.
const LEVELS: u32 = 14;
const RUNS: usize = 5;

fn status_kb(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU time of the calling thread, milliseconds: the writer's own work, which (unlike the
/// wall time) other processes competing for the CPU do not inflate.
fn thread_cpu_ms() -> f64 {
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
    }
}

fn child(out: &str) {
    let mut keep = Vec::with_capacity(STACKS as usize);
    for n in 0..STACKS {
        left(LEVELS, n, &mut keep);
    }
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
    let rss = status_kb("VmRSS:");
    let t = Instant::now();
    let cpu = thread_cpu_ms();
    allocscope::write_profile(out).expect("write profile");
    let cpu = thread_cpu_ms() - cpu;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let hwm = status_kb("VmHWM:");
    let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    println!("{} {ms:.2} {} {cpu:.2}", hwm.saturating_sub(rss), size);
    black_box(keep);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1]);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    let dir = std::env::temp_dir().join(format!("allocscope-exit-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("profile.json");
    println!("exit cost, {STACKS} distinct stacks, exact mode, median of {RUNS} runs:");
    for (mode, env) in [
        ("default (raw addresses)", "report"),
        ("ALLOCSCOPE_SYMBOLIZE=exit", "exit"),
    ] {
        let mut runs: Vec<(u64, f64, u64, f64)> = (0..RUNS)
            .map(|_| {
                let o = Command::new(&exe)
                    .args(["--child", out.to_str().unwrap_or_default()])
                    .env("ALLOCSCOPE_SAMPLE_BYTES", "1")
                    .env("ALLOCSCOPE_SYMBOLIZE", env)
                    .output()
                    .expect("run child");
                let s = String::from_utf8_lossy(&o.stdout);
                let v: Vec<&str> = s.split_whitespace().collect();
                assert!(o.status.success() && v.len() == 4, "child failed: {s}");
                (
                    v[0].parse().unwrap_or(0),
                    v[1].parse().unwrap_or(0.0),
                    v[2].parse().unwrap_or(0),
                    v[3].parse().unwrap_or(0.0),
                )
            })
            .collect();
        runs.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (_, ms, size, _) = runs[RUNS / 2];
        let mut kb: Vec<u64> = runs.iter().map(|r| r.0).collect();
        kb.sort_unstable();
        let mut cpu: Vec<f64> = runs.iter().map(|r| r.3).collect();
        cpu.sort_by(f64::total_cmp);
        println!(
            "  {mode:<28} +{:.1} MB RSS   {ms:7.1} ms ({:.1} ms CPU)   profile {:.1} MB",
            kb[RUNS / 2] as f64 / 1024.0,
            cpu[RUNS / 2],
            size as f64 / 1e6
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
