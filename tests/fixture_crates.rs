//! allocscope in other programs' dependency trees: each crate under `tests/data/fixture_crates/`
//! has its own manifest and allocator (tikv-jemallocator 0.5, 0.6, 0.7, the old jemallocator
//! 0.5, mimalloc, or the system allocator) and depends on allocscope by path, as a user's
//! program would. Each is built (debug, one shared `target/fixtures` so builds are reused),
//! run, and its output checked against the hand-computed workload in
//! `tests/data/fixture_crates/common/workload.rs`: 200 000 boxes of 100 bytes, every other one
//! freed. The first build compiles four jemallocs from C: minutes, once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const N: i64 = 200_000;
/// jemalloc's and mimalloc's size class of a 100-byte box.
const CLASS: i64 = 112;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fixture_crates")
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fixtures")
}

/// `cargo <args>` in the fixture's directory, with the shared target directory.
fn cargo(fixture: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(fixtures_dir().join(fixture))
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo {args:?} in {fixture} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Builds the fixture, runs it with `args`, and returns its `name=value` lines.
fn build_and_run(fixture: &str, package: &str, args: &[&str]) -> BTreeMap<String, String> {
    cargo(fixture, &["build", "--quiet"]);
    let exe = target_dir().join("debug").join(package);
    let out = Command::new(&exe)
        .args(args)
        .output()
        .expect("fixture runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{fixture} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn num(out: &BTreeMap<String, String>, key: &str) -> i64 {
    out.get(key)
        .unwrap_or_else(|| panic!("no {key} in {out:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// allocscope's exact live bytes are the hand-computed workload's.
fn check_counts(out: &BTreeMap<String, String>, allocator: &str) {
    assert_eq!(out["allocator"], allocator, "{out:?}");
    assert_eq!(
        num(out, "live_bytes"),
        num(out, "baseline_live") + num(out, "workload_bytes"),
        "{out:?}"
    );
}

/// The terms that add to RSS; `untouched` (pages requested but never faulted in) is
/// subtracted (docs/gap.md).
const JEMALLOC_TERMS: [&str; 9] = [
    "requested",
    "size_class_rounding",
    "allocator_caches",
    "fragmentation",
    "dirty",
    "metadata",
    "muzzy",
    "profiler",
    "non_heap",
];

/// A jemalloc fixture: the gap has jemalloc's terms, they add up to RSS, the holes left by
/// the freed boxes show as fragmentation; the profile file carries the same gap and the
/// options read through the program's mallctl.
fn check_jemalloc(fixture: &str, package: &str) {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.json");
    let out = build_and_run(fixture, package, &[profile.to_str().unwrap()]);
    check_counts(&out, "jemalloc");

    let sum: i64 =
        JEMALLOC_TERMS.iter().map(|t| num(&out, t)).sum::<i64>() - num(&out, "untouched");
    assert_eq!(sum, num(&out, "rss"), "{out:?}");
    let requested = num(&out, "requested");
    assert!(
        requested >= num(&out, "live_bytes") && requested < num(&out, "live_bytes") + (64 << 10),
        "{out:?}"
    );
    // 100 000 freed boxes of 112 bytes left holes in pages that keep live boxes (a few may
    // sit in the thread cache instead).
    let holes = N / 2 * CLASS;
    let frag = num(&out, "fragmentation");
    assert!(
        frag >= holes * 9 / 10 && frag <= holes * 3 / 2,
        "{frag} vs {holes}: {out:?}"
    );
    assert!(
        num(&out, "size_class_rounding") >= N / 2 * (CLASS - 100),
        "{out:?}"
    );
    assert!(num(&out, "metadata") > 0, "{out:?}");

    let p: serde_json::Value = serde_json::from_slice(&std::fs::read(&profile).unwrap()).unwrap();
    let gap = &p["gap"];
    let term = |t: &str| gap[t].as_i64().unwrap_or_else(|| panic!("{t} in {gap}"));
    let sum: i64 = JEMALLOC_TERMS.iter().map(|t| term(t)).sum::<i64>() - term("untouched");
    assert_eq!(sum, term("rss"), "{gap}");
    assert!(term("fragmentation") >= holes * 9 / 10, "{gap}");
    assert_eq!(p["meta"]["allocator"], "jemalloc");
    let config = p["meta"]["allocator_config"].as_str().unwrap_or("");
    assert!(config.contains("opt.dirty_decay_ms="), "{config}");
}

#[test]
fn tikv_jemallocator_0_5() {
    check_jemalloc("jemalloc-0.5", "fixture-jemalloc-0-5");
}

#[test]
fn tikv_jemallocator_0_6() {
    check_jemalloc("jemalloc-0.6", "fixture-jemalloc-0-6");
}

#[test]
fn tikv_jemallocator_0_7() {
    check_jemalloc("jemalloc-0.7", "fixture-jemalloc-0-7");
}

#[test]
fn old_jemallocator_0_5() {
    check_jemalloc("jemallocator-0.5", "fixture-jemallocator-0-5");
}

#[test]
fn mimalloc_gap_has_mimalloc_terms() {
    let out = build_and_run("mimalloc", "fixture-mimalloc", &[]);
    check_counts(&out, "mimalloc");
    let terms = [
        "requested",
        "size_class_rounding",
        "free_and_cached",
        "profiler",
        "non_heap",
    ];
    // `untouched` (pages of large blocks never faulted in) is subtracted.
    let sum: i64 = terms.iter().map(|t| num(&out, t)).sum::<i64>() - num(&out, "untouched");
    assert_eq!(sum, num(&out, "rss"), "{out:?}");
    let committed = num(&out, "committed");
    // The heap terms and allocscope's heap blocks (part of `profiler`, the rest being its
    // tables outside mimalloc) make up what mimalloc has committed.
    let heap =
        num(&out, "requested") + num(&out, "size_class_rounding") + num(&out, "free_and_cached");
    assert!(heap <= committed, "{out:?}");
    assert!(heap + num(&out, "profiler") >= committed, "{out:?}");
    // allocscope's own tables (its site and live tables) are counted, not left in non_heap.
    assert!(num(&out, "profiler") > 0, "{out:?}");
    // No term is negative before the purge.
    for t in terms {
        assert!(num(&out, t) >= 0, "{t}: {out:?}");
    }
    // The live boxes and the holes between them are in committed memory.
    assert!(committed >= N / 2 * 100 + N / 2 * CLASS, "{out:?}");
    assert!(num(&out, "reserved") >= committed, "{out:?}");
    // The holes the freed boxes left are inside mimalloc's free space.
    let holes = N / 2 * CLASS;
    let free = num(&out, "free_and_cached");
    assert!(free >= holes * 9 / 10, "{free} vs {holes}: {out:?}");
    // Once everything is freed, allocscope::purge() (mi_collect(true)) gives the heap's
    // pages back: RSS falls by at least the boxes and their holes.
    assert!(
        num(&out, "purge_released") >= N / 2 * (100 + CLASS) * 9 / 10,
        "{out:?}"
    );
}

#[test]
fn default_features_are_lean() {
    let tree = cargo(
        "lean",
        &["tree", "--edges", "normal,build", "--prefix", "none"],
    );
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(crates.contains(&"allocscope"), "{tree}");
    for unwanted in [
        "clap",
        "inferno",
        "prost",
        "flate2",
        "anyhow",
        "tikv-jemalloc-sys",
        "tikv-jemallocator",
        "libmimalloc-sys",
    ] {
        assert!(!crates.contains(&unwanted), "{unwanted} in\n{tree}");
    }
    let out = build_and_run("lean", "fixture-lean", &[]);
    check_counts(&out, "system");
}
