//! Sampled mode over the system allocator: estimates within ±10 % on a large workload, and
//! the estimator is unbiased across seeds.

#[path = "support/callsites/mod.rs"]
mod callsite_support;
use callsite_support as common;

use std::alloc::System;

use common::workload;

#[global_allocator]
static ALLOC: allocscope::Profiler<System> = allocscope::Profiler::new(System);

#[test]
fn sampled_estimates_within_10_percent() {
    if common::is_child() {
        common::sampled::child();
        return;
    }
    common::sampled::check("sampled_estimates_within_10_percent", "11");
}

/// Runs the workload under 40 seeds in this process and looks at the relative error of each
/// run: its mean is near 0 (unbiased) and its spread matches the estimator's theory
/// (so the runs really were sampled, not exact).
#[test]
fn estimator_unbiased_across_seeds() {
    if common::is_child() {
        return;
    }
    const SEEDS: u64 = 40;
    const SCALE: u64 = 16;
    let r = 512 * 1024;
    let truth = workload::run_truth(SCALE);
    let names = ["large_blocks", "medium_blocks", "small_blocks"];
    let exact = [truth.large, truth.medium, truth.small];
    // Relative variance of the byte estimate of a site with blocks of size s:
    // s·(1 − p)/(p·B), p = 1 − e^(−s/R); medium blocks approximated by their mean size.
    let theory = |s: f64, b: f64| {
        let p = 1.0 - (-s / r as f64).exp();
        (s * (1.0 - p) / (p * b)).sqrt()
    };
    let sd_theory = [
        theory(16384.0, exact[0] as f64),
        theory(2560.0, exact[1] as f64),
        theory(256.0, exact[2] as f64),
    ];
    let mut errs = vec![Vec::new(); 3];
    let mut before = site_bytes(&names);
    for seed in 0..SEEDS {
        allocscope::Config::new()
            .sample_bytes(r)
            .seed(1000 + seed)
            .apply();
        let t = workload::run(SCALE);
        assert_eq!(t.small, truth.small);
        let after = site_bytes(&names);
        for i in 0..3 {
            let est = after[i] - before[i];
            errs[i].push(est as f64 / exact[i] as f64 - 1.0);
        }
        before = after;
    }
    for i in 0..3 {
        let n = errs[i].len() as f64;
        let mean = errs[i].iter().sum::<f64>() / n;
        let sd = (errs[i].iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        eprintln!(
            "{}: mean error {:+.2}%, sd {:.1}% (theory {:.1}%)",
            names[i],
            mean * 100.0,
            sd * 100.0,
            sd_theory[i] * 100.0
        );
        assert!(
            mean.abs() < 4.0 * sd_theory[i] / n.sqrt(),
            "{}: biased, mean {mean}",
            names[i]
        );
        assert!(
            sd > 0.5 * sd_theory[i] && sd < 2.0 * sd_theory[i],
            "{}: sd {sd}",
            names[i]
        );
    }
}

/// Estimated bytes of the sites whose first frame is each of `names`, summed over the
/// whole run so far.
fn site_bytes(names: &[&str]) -> Vec<u64> {
    let mut p = allocscope::collect_profile();
    allocscope::profile::symbolize(&mut p, &Default::default()).unwrap();
    allocscope::trim::trim_profile(&mut p);
    names.iter().map(|n| common::bytes_of(&p, n)).collect()
}
