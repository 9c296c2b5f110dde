//! Which allocator for this workload? Runs the same workload over the system allocator,
//! jemalloc and mimalloc, writes a profile per allocator and prints the comparison
//! (`alloc-report compare` on the three profiles).
//!
//! ```text
//! cargo run --release --features cli,jemalloc --example compare_allocators [-- OUT_DIR]
//! cargo run --release --features cli,jemalloc --example compare_allocators -- --profiles A.json B.json…
//! ```
//!
//! With `--profiles` it only compares existing profiles (what `alloc-report compare` does),
//! e.g. jemalloc with and without dirty-page decay:
//!
//! ```text
//! _RJEM_MALLOC_CONF=dirty_decay_ms:0 ALLOCSCOPE_OUT=decay0.json target/release/examples/workload_jemalloc
//! ALLOCSCOPE_OUT=default.json target/release/examples/workload_jemalloc
//! cargo run --release --features cli,jemalloc --example compare_allocators -- --profiles decay0.json default.json
//! ```
//!
//! It builds the `workload_system`, `workload_jemalloc` and `workload_mimalloc` examples in
//! release mode (one binary per allocator: a binary has one `#[global_allocator]`), runs each
//! with `ALLOCSCOPE_OUT=OUT_DIR/<allocator>.json` (default OUT_DIR:
//! `target/allocator-comparison`), then reads the profiles back and prints the table, and
//! writes it as JSON to `OUT_DIR/comparison.json`. The workload's own environment knobs
//! (`ALLOCSCOPE_WORKLOAD_SCALE`, `ALLOCSCOPE_IDLE_MS`, `_RJEM_MALLOC_CONF`, …) pass through.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use allocscope::profile::Profile;
use allocscope::report::compare::compare;

const WORKLOADS: [(&str, &str); 3] = [
    ("system", "workload_system"),
    ("jemalloc", "workload_jemalloc"),
    ("mimalloc", "workload_mimalloc"),
];

fn main() {
    if let Err(e) = run() {
        eprintln!("compare_allocators: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--profiles") {
        return compare_files(&args[1..]);
    }
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("target/allocator-comparison"));
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;

    let binaries = build(manifest_dir)?;
    let mut profiles = Vec::new();
    for (name, example) in WORKLOADS {
        let exe = binaries
            .iter()
            .find(|(n, _)| n == example)
            .map(|(_, p)| p)
            .ok_or_else(|| format!("cargo built no executable for example {example}"))?;
        let path = out_dir.join(format!("{name}.json"));
        eprintln!("running {example} → {}", path.display());
        let status = Command::new(exe)
            .env("ALLOCSCOPE_OUT", &path)
            .status()
            .map_err(|e| format!("{}: {e}", exe.display()))?;
        if !status.success() {
            return Err(format!("{example} failed: {status}"));
        }
        let profile = Profile::read(&path).map_err(|e| e.to_string())?;
        profiles.push((name.to_string(), profile));
    }

    let comparison = compare(&profiles);
    println!();
    print!("{comparison}");
    let json = serde_json::to_vec_pretty(&comparison).map_err(|e| e.to_string())?;
    let json_path = out_dir.join("comparison.json");
    allocscope::profile::write_atomically(&json_path, &json).map_err(|e| e.to_string())?;
    eprintln!("\nprofiles and comparison.json in {}", out_dir.display());
    eprintln!(
        "the same table: alloc-report compare {}",
        WORKLOADS
            .iter()
            .map(|(n, _)| out_dir.join(format!("{n}.json")).display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(())
}

/// Prints the comparison of existing profile files, named by their file stems.
fn compare_files(paths: &[String]) -> Result<(), String> {
    if paths.is_empty() {
        return Err("--profiles needs at least one profile file".into());
    }
    let mut profiles = Vec::new();
    for path in paths {
        let profile = Profile::read(path).map_err(|e| e.to_string())?;
        let name = Path::new(path)
            .file_stem()
            .map_or_else(|| path.clone(), |s| s.to_string_lossy().into_owned());
        profiles.push((name, profile));
    }
    print!("{}", compare(&profiles));
    Ok(())
}

/// Builds the workload examples in release mode; returns (example name, executable path)
/// as cargo reports them (so a custom target directory works).
fn build(manifest_dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(manifest_dir).args([
        "build",
        "--release",
        "--features",
        "jemalloc,mimalloc,serde",
        "--message-format=json-render-diagnostics",
    ]);
    for (_, example) in WORKLOADS {
        cmd.args(["--example", example]);
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build of the workloads failed: {}",
            out.status
        ));
    }
    let mut found = Vec::new();
    for line in out.stdout.split(|&b| b == b'\n') {
        let Ok(msg) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        if let (Some(name), Some(exe)) =
            (msg["target"]["name"].as_str(), msg["executable"].as_str())
        {
            found.push((name.to_string(), PathBuf::from(exe)));
        }
    }
    Ok(found)
}
