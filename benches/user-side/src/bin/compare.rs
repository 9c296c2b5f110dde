//! Runs every variant of every workload, alternating (round-robin, so a burst of machine load
//! hits all variants alike), and prints the median of N runs and the ratios over bare System
//! and bare jemalloc; then, when valgrind is installed, callgrind instructions per
//! allocate+free pair on tiny churn. Driven by `run.sh`, which builds the binaries.
//!
//! Usage: `compare <dir without frame pointers> <dir with frame pointers> [runs] [scale]`.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Variant {
    name: &'static str,
    /// Binary name, in the no-frame-pointer build unless `fp`.
    bin: &'static str,
    fp: bool,
    env: &'static [(&'static str, &'static str)],
    /// Run under heaptrack.
    heaptrack: bool,
}

const VARIANTS: &[Variant] = &[
    Variant { name: "bare System", bin: "bare_system", fp: false, env: &[], heaptrack: false },
    Variant { name: "bare jemalloc", bin: "bare_jemalloc", fp: false, env: &[], heaptrack: false },
    Variant { name: "allocscope, System, default", bin: "allocscope_system", fp: false, env: &[], heaptrack: false },
    Variant { name: "allocscope, jemalloc, default (sampled 512 KiB)", bin: "allocscope_jemalloc", fp: false, env: &[], heaptrack: false },
    Variant { name: "allocscope, jemalloc, counts only (ALLOCSCOPE=off)", bin: "allocscope_jemalloc", fp: false, env: &[("ALLOCSCOPE", "off")], heaptrack: false },
    Variant { name: "allocscope, jemalloc, exact (frame pointers)", bin: "allocscope_jemalloc", fp: true, env: &[("ALLOCSCOPE_SAMPLE_BYTES", "1")], heaptrack: false },
    Variant { name: "heaptrack (over System, same program)", bin: "bare_system", fp: true, env: &[], heaptrack: true },
    Variant { name: "dhat-rs", bin: "dhat_heap", fp: true, env: &[], heaptrack: false },
];

const WORKLOADS: &[&str] = &["churn", "threads", "parse"];

fn bin_path(v: &Variant, nofp: &Path, fp: &Path) -> PathBuf {
    (if v.fp { fp } else { nofp }).join(v.bin)
}

fn run_once(v: &Variant, path: &Path, workload: &str, scale: &str) -> Result<f64, String> {
    let mut cmd = if v.heaptrack {
        let mut c = Command::new("heaptrack");
        c.arg("-o").arg(std::env::temp_dir().join("allocscope-user-bench.heaptrack"));
        c.arg(path);
        c
    } else {
        Command::new(path)
    };
    cmd.arg(workload).arg(scale);
    for (k, val) in v.env {
        cmd.env(k, val);
    }
    let out = cmd.output().map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("elapsed_ns "))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .map(|ns| ns / 1e9)
        .ok_or_else(|| {
            format!(
                "{} {workload}: no `elapsed_ns` line (exit {}): {}",
                v.name,
                out.status,
                String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
            )
        })
}

/// CPU seconds (user + system) used so far by this process's waited-for children and their
/// own waited-for children (heaptrack's interpreter included): `cutime + cstime` of
/// /proc/self/stat, in ticks of 1/100 s (Linux's USER_HZ).
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = after.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
    // Fields 16 and 17 of the file; the first field after the command name is field 3.
    (f.get(13).copied().unwrap_or(0) + f.get(14).copied().unwrap_or(0)) as f64 / 100.0
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Instructions of one run of tiny churn of `scale` under callgrind.
fn callgrind_ir(path: &Path, env: &[(&str, &str)], scale: f64) -> Option<f64> {
    let mut cmd = Command::new("valgrind");
    cmd.args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(path)
        .arg("churn")
        .arg(scale.to_string());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: compare <nofp dir> <fp dir> [runs] [scale]");
        std::process::exit(2);
    }
    let nofp = PathBuf::from(&args[1]);
    let fp = PathBuf::from(&args[2]);
    let runs: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let scale = args.get(4).cloned().unwrap_or_else(|| "1".into());
    let have_heaptrack = Command::new("heaptrack").arg("--version").output().is_ok();

    let active: Vec<&Variant> = VARIANTS
        .iter()
        .filter(|v| !v.heaptrack || have_heaptrack)
        .collect();
    // times[workload][variant] = seconds of each run
    let mut times = vec![vec![Vec::new(); active.len()]; WORKLOADS.len()];
    // cpu[workload][variant] = CPU seconds of each whole run (start-up and exit included)
    let mut cpu = vec![vec![Vec::new(); active.len()]; WORKLOADS.len()];
    for round in 0..runs {
        eprintln!("round {}/{runs}", round + 1);
        for (w, workload) in WORKLOADS.iter().enumerate() {
            for (i, v) in active.iter().enumerate() {
                let c0 = children_cpu();
                match run_once(v, &bin_path(v, &nofp, &fp), workload, &scale) {
                    Ok(t) => {
                        times[w][i].push(t);
                        cpu[w][i].push(children_cpu() - c0);
                    }
                    Err(e) => eprintln!("{e}"),
                }
            }
        }
    }

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("Median of {runs} alternating runs, scale {scale}; load average at the end: {}", load.trim());
    println!("Workloads: churn = 20M × Vec::with_capacity(8..=64) dropped at once; threads = 2 threads × 5M boxed slices of 8..128 bytes, each freed by the other thread (batches of 4096); parse = 1M version strings + 250k requirements parsed with semver, sorted, matched.\n");
    print!("| variant |");
    for w in WORKLOADS {
        print!(" {w} | × System | × jemalloc |");
    }
    println!();
    print!("|---|");
    for _ in WORKLOADS {
        print!("---|---|---|");
    }
    println!();
    let med: Vec<Vec<f64>> = times
        .iter()
        .map(|per_v| per_v.iter().map(|t| median(t.clone())).collect())
        .collect();
    for (i, v) in active.iter().enumerate() {
        print!("| {} |", v.name);
        for w in 0..WORKLOADS.len() {
            let t = med[w][i];
            print!(" {t:.3} s | {:.2}× | {:.2}× |", t / med[w][0], t / med[w][1]);
        }
        println!();
    }
    let idx = |name: &str| active.iter().position(|v| v.name.starts_with(name));
    if let Some(ex) = idx("allocscope, jemalloc, exact") {
        for (label, other) in [("heaptrack", idx("heaptrack")), ("dhat-rs", idx("dhat-rs"))] {
            if let Some(o) = other {
                print!("\nexact mode is faster than {label} by:");
                for (w, name) in WORKLOADS.iter().enumerate() {
                    print!(" {name} {:.1}×", med[w][o] / med[w][ex]);
                }
            }
        }
        println!();
        // Wall time counts the time a process waits for a core, which under load varies
        // run to run; CPU time does not. It covers whole runs (start-up, the workload's
        // set-up, exit) and, for heaptrack, its interpreter process.
        let cmed: Vec<Vec<f64>> = cpu
            .iter()
            .map(|per_v| per_v.iter().map(|t| median(t.clone())).collect())
            .collect();
        println!("\nCPU time (user + system, median; whole runs, heaptrack's interpreter included):\n");
        print!("| variant |");
        for w in WORKLOADS {
            print!(" {w} |");
        }
        println!("\n|---|{}", "---|".repeat(WORKLOADS.len()));
        for (i, v) in active.iter().enumerate() {
            print!("| {} |", v.name);
            for per_v in &cmed {
                print!(" {:.2} s |", per_v[i]);
            }
            println!();
        }
        for (label, other) in [("heaptrack", idx("heaptrack")), ("dhat-rs", idx("dhat-rs"))] {
            if let Some(o) = other {
                print!("\nby CPU time, exact mode is faster than {label} by:");
                for (w, name) in WORKLOADS.iter().enumerate() {
                    print!(" {name} {:.1}×", cmed[w][o] / cmed[w][ex]);
                }
            }
        }
        println!();
    }

    if Command::new("valgrind").arg("--version").output().is_err() {
        println!("\n(valgrind not installed: no instruction counts)");
        return;
    }
    // Instructions per pair: the difference between two run lengths, so start-up and exit
    // cancel out.
    let (small, large) = (0.01, 0.02);
    let pairs = (large - small) * 20e6;
    println!("\ncallgrind, tiny churn, instructions per allocate+free pair (difference of {:.0}k and {:.0}k pairs):\n", small * 20e3, large * 20e3);
    println!("| variant | instructions per pair | over bare jemalloc |");
    println!("|---|---|---|");
    let mut bare = None;
    for v in active.iter().filter(|v| !v.heaptrack && v.bin != "dhat_heap") {
        let path = bin_path(v, &nofp, &fp);
        let (Some(a), Some(b)) = (callgrind_ir(&path, v.env, small), callgrind_ir(&path, v.env, large)) else {
            println!("| {} | (callgrind failed) | |", v.name);
            continue;
        };
        let per = (b - a) / pairs;
        if v.bin == "bare_jemalloc" {
            bare = Some(per);
        }
        let over = bare.map_or(String::new(), |j| format!("{:+.0}", per - j));
        println!("| {} | {per:.0} | {over} |", v.name);
    }
}
