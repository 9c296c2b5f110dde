//! The main job: profile a realistic workload over jemalloc and write a report.
//!
//! ```text
//! cargo run --release --all-features --example demo
//! ```
//!
//! The workload is what the seeds of this project do all day: parse a million version
//! strings into small structs (keeping one in sixteen), build and drop a large map of strings,
//! then idle for a second. allocscope samples call stacks every 64 KiB on average, records a
//! timeline, and at the end this program writes, under `target/allocscope-demo/`:
//!
//! - `demo.profile.json` — the profile (what `ALLOCSCOPE_OUT` writes);
//! - `flamegraph.svg` — where the allocations come from (`alloc-report flamegraph`);
//! - `report.html` — the whole report on one page (`alloc-report html`);
//!
//! and prints the summary (`alloc-report summary`) with the RSS gap and its diagnosis.

#[path = "common/workload.rs"]
mod workload;

use std::path::PathBuf;

use allocscope::report::html;
use allocscope::report::{write_flamegraph, FlamegraphOptions, Metric, Summary};

#[global_allocator]
static ALLOC: allocscope::Profiler<allocscope::Jemalloc> =
    allocscope::Profiler::new(allocscope::Jemalloc);

fn main() {
    if let Err(e) = run() {
        eprintln!("demo: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    // A denser sample than the 512 KiB default, for a richer flamegraph of a short run.
    // (`ALLOCSCOPE_SAMPLE_BYTES` in the environment still wins.)
    allocscope::Config::new().sample_bytes(64 * 1024).apply();
    let out_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
            PathBuf::from,
        )
        .join("allocscope-demo");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;

    println!("== running the workload (1M version strings, a 1M-entry map of strings) ==");
    workload::main();

    let profile_path = out_dir.join("demo.profile.json");
    allocscope::write_profile(&profile_path)?;
    // As `alloc-report` reads it: names resolved from this binary, stacks trimmed.
    let profile = allocscope::report::cli::LoadArgs::default().read(&profile_path)?;

    let flamegraph_path = out_dir.join("flamegraph.svg");
    let mut svg = Vec::new();
    let mut options = FlamegraphOptions::default();
    options.metric = Metric::Allocs;
    write_flamegraph(&profile, &options, &mut svg)?;
    allocscope::profile::write_atomically(&flamegraph_path, &svg)?;

    let report_path = out_dir.join("report.html");
    let mut html_options = html::HtmlOptions::default();
    html_options.diagnosis = profile.gap.as_ref().map(|g| vec![g.diagnosis()]);
    let page = html::render_with_options(&profile, &html_options);
    allocscope::profile::write_atomically(&report_path, page.as_bytes())?;

    println!("\n== summary (alloc-report summary) ==");
    Summary::new(&profile, 5).write_text(std::io::stdout())?;

    println!("\nwrote:");
    println!("  profile     {}", profile_path.display());
    println!("  flamegraph  {}", flamegraph_path.display());
    println!(
        "  report      {}   (open it in a browser)",
        report_path.display()
    );
    Ok(())
}
