//! A profile of 100,000 distinct stacks through the binary's `flamegraph` and the library
//! behind the other subcommands. Nothing
//! here asserts a time (speed is measured in `benches/report.rs`); it checks that a large
//! profile goes through whole and right. The profile is left in `CARGO_TARGET_TMPDIR` as
//! `large-100k.json` for timing the release binary by hand.

#[path = "support/fixtures.rs"]
mod fixtures;

use allocscope::report::{
    site_changes, to_pprof_gz, write_diff_flamegraph, FlamegraphOptions, FoldedStacks, Metric,
    Summary,
};
use assert_cmd::Command;

const STACKS: usize = 100_000;

#[test]
fn a_profile_of_100k_distinct_stacks_goes_through_every_report() {
    let profile = fixtures::large(STACKS);
    assert_eq!(profile.sites.len(), STACKS);
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("large-100k.json");
    profile.write(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("large.svg");
    let out = Command::cargo_bin("alloc-report")
        .unwrap()
        .args(["flamegraph", "-o"])
        .arg(&svg)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&svg).unwrap();
    let total: u64 = profile.sites.iter().map(|s| s.bytes).sum();
    let total = total
        .to_string()
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(",");
    assert!(svg.contains(&format!("<title>all ({total} bytes, 100%)</title>")));

    // The rest through the library on the same profile: each run of the binary would parse
    // the 200 MB file again, which takes long in a debug build.
    let folded = FoldedStacks::from_profile(&profile, Metric::Allocs);
    assert_eq!(folded.len(), STACKS);
    let sum: u64 = folded.stacks().iter().map(|(_, n)| n).sum();
    assert_eq!(sum, profile.sites.iter().map(|s| s.allocs).sum::<u64>());

    let summary: serde_json::Value =
        serde_json::from_str(&Summary::new(&profile, 10).to_json()).unwrap();
    let biggest = profile.sites.iter().max_by_key(|s| s.bytes).unwrap();
    assert_eq!(
        summary["top_sites"][0]["bytes"].as_u64(),
        Some(biggest.bytes)
    );
    assert_eq!(summary["distinct_sites"].as_u64(), Some(STACKS as u64));

    let pprof = to_pprof_gz(&profile);
    assert_eq!(&pprof[..2], &[0x1f, 0x8b]);

    // Diff of the profile with itself: the same stacks, no change.
    let mut diff_svg = Vec::new();
    write_diff_flamegraph(
        &profile,
        &profile,
        &FlamegraphOptions::default(),
        &mut diff_svg,
    )
    .unwrap();
    assert!(site_changes(&profile, &profile)
        .iter()
        .all(|c| c.allocs_delta() == 0 && c.bytes_delta() == 0));
}
