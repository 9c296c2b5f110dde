//! Independent truth: valgrind's DHAT counts every heap block of a plain program (no
//! allocscope, System allocator) running the same workload; allocscope's totals for that
//! workload must equal DHAT's block for block and byte for byte. Start-up allocations are
//! cancelled by running the workload once and twice and taking the difference.
//!
//! DHAT counts a realloc as a new block, so its blocks are our allocs + reallocs.

#[global_allocator]
static ALLOC: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

#[path = "support/oracle_workload.rs"]
mod workload;

use std::path::Path;
use std::process::Command;

/// (blocks, bytes) DHAT counted for the whole plain program run with `iterations`.
fn dhat_totals(program: &Path, iterations: u32, dir: &Path) -> (u64, u64) {
    let out = dir.join(format!("dhat-{iterations}.json"));
    let status = Command::new("valgrind")
        .arg("--tool=dhat")
        .arg(format!("--dhat-out-file={}", out.display()))
        .arg(program)
        .arg(iterations.to_string())
        .output()
        .expect("run valgrind");
    assert!(
        status.status.success(),
        "valgrind failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let pps = json["pps"].as_array().expect("DHAT JSON has pps");
    let blocks = pps.iter().map(|p| p["tbk"].as_u64().unwrap()).sum();
    let bytes = pps.iter().map(|p| p["tb"].as_u64().unwrap()).sum();
    (blocks, bytes)
}

#[test]
fn totals_equal_dhat_block_for_block() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        panic!(
            "valgrind is required for this test (apt-get install valgrind; .ci/run installs it)"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("plain_workload");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dhat_oracle/plain_main.rs");
    // Same optimisation level as this test binary, so both run the same allocation calls.
    let opt = if cfg!(debug_assertions) { "0" } else { "3" };
    let built = Command::new(rustc)
        .args(["--edition", "2021", "-C", &format!("opt-level={opt}"), "-o"])
        .arg(&program)
        .arg(&src)
        .output()
        .expect("run rustc");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );

    let (b1, y1) = dhat_totals(&program, 1, dir.path());
    let (b2, y2) = dhat_totals(&program, 2, dir.path());
    let (dhat_blocks, dhat_bytes) = (b2 - b1, y2 - y1);

    let ((), c1) = allocscope::measure(|| workload::run(1));
    let ((), c2) = allocscope::measure(|| workload::run(2));
    let ours_blocks = (c2.allocs + c2.reallocs) - (c1.allocs + c1.reallocs);
    let ours_bytes = c2.bytes_allocated - c1.bytes_allocated;

    assert!(dhat_blocks > 1000, "the workload allocates: {dhat_blocks}");
    assert_eq!(
        ours_blocks, dhat_blocks,
        "blocks: allocscope {c2:?} vs DHAT"
    );
    assert_eq!(ours_bytes, dhat_bytes, "bytes");
    // Everything the workload allocates it frees.
    assert_eq!(c1.bytes_freed, c1.bytes_allocated);
    assert_eq!(c1.frees, c1.allocs);
    println!("DHAT: {dhat_blocks} blocks, {dhat_bytes} bytes per iteration; allocscope equal");
}
