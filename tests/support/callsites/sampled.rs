//! The sampled-mode accuracy check, shared by the jemalloc and System test files.

use super::workload::{self, Truth};

/// Workload size: with the default 512 KiB interval the smallest site holding ≥ 10 % of the
/// bytes (512 MiB of 256-byte blocks) gets ~1000 samples, so ±10 % is over 3 standard
/// deviations of the estimator.
pub const SCALE_MIB: u64 = 1024;

/// Child side: runs the workload and prints the truth on stdout.
pub fn child() {
    let t = workload::run(SCALE_MIB);
    println!("TRUTH {} {} {} {}", t.large, t.medium, t.small, t.minor);
}

/// Parent side: runs the child in sampled mode with `seed`, checks every site holding
/// ≥ 10 % of the bytes is within ±10 % of the truth.
pub fn check(test_name: &str, seed: &str) {
    let p = super::run_child(test_name, &[("ALLOCSCOPE_SEED", seed)]);
    assert_eq!(p.meta.sampling_bytes, 512 * 1024);
    let truth = Truth {
        large: workload::run_truth(SCALE_MIB).large,
        medium: workload::run_truth(SCALE_MIB).medium,
        small: workload::run_truth(SCALE_MIB).small,
        minor: workload::run_truth(SCALE_MIB).minor,
    };
    assert!(truth.total() >= 200 << 20);
    let sites = [
        ("large_blocks", truth.large),
        ("medium_blocks", truth.medium),
        ("small_blocks", truth.small),
        ("minor_blocks", truth.minor),
    ];
    let mut report = String::new();
    for (name, exact) in sites {
        let est = super::bytes_of(&p, name);
        let err = est as f64 / exact as f64 - 1.0;
        report += &format!(
            "{name}: exact {exact} estimated {est} ({:+.1}%)\n",
            err * 100.0
        );
        if exact * 10 >= truth.total() {
            assert!(err.abs() <= 0.10, "{report}");
        }
    }
    eprintln!("{report}");
}
