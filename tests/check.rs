//! `alloc-report check` end to end, on profiles this test writes: a baseline, then the same
//! work plus a known extra (100,000 more allocations, one more 8 MiB block live at the
//! peak). The expected verdicts come from the totals read back from the files with
//! serde_json, not from allocscope's reader.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;

#[global_allocator]
static ALLOC: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

struct Profiles {
    _dir: tempfile::TempDir,
    base: PathBuf,
    grown: PathBuf,
}

/// Writes the two profiles once (tests share them).
fn profiles() -> &'static Profiles {
    static P: OnceLock<Profiles> = OnceLock::new();
    P.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base.json");
        let grown = dir.path().join("grown.json");
        let work = |n: usize| {
            let v: Vec<Box<u64>> = (0..n as u64).map(Box::new).collect();
            std::hint::black_box(&v);
        };
        work(50_000);
        allocscope::write_profile(&base).unwrap();
        work(100_000);
        let big = vec![1u8; 8 << 20];
        std::hint::black_box(&big);
        drop(big);
        allocscope::write_profile(&grown).unwrap();
        Profiles {
            _dir: dir,
            base,
            grown,
        }
    })
}

/// (allocs + reallocs, peak) of a profile, read independently.
fn totals(p: &Path) -> (u64, u64) {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    let t = &v["totals"];
    (
        t["allocs"].as_u64().unwrap() + t["reallocs"].as_u64().unwrap(),
        t["peak_live_bytes"].as_u64().unwrap(),
    )
}

fn check(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("alloc-report")
        .unwrap()
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn passes_against_a_baseline_within_its_limits() {
    let p = profiles();
    let (a0, k0) = totals(&p.base);
    let (a1, k1) = totals(&p.grown);
    assert!(
        a1 >= a0 + 100_000 && k1 >= (8 << 20) && k0 < (1 << 20),
        "{a0} {a1} {k0} {k1}"
    );
    // Limits just above the real increase.
    let allocs_pct = (a1 - a0) as f64 / a0 as f64 * 100.0 + 0.5;
    let peak_pct = (k1 - k0) as f64 / k0 as f64 * 100.0 + 0.5;
    let inc = format!("allocs={allocs_pct:.3}%,peak={peak_pct:.3}%");
    let max_peak = k1.to_string();
    let (code, out, err) = check(&[
        s(&p.grown),
        "--baseline",
        s(&p.base),
        "--max-increase",
        &inc,
        "--max-peak",
        &max_peak,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("PASS: 3 limits hold"), "{out}");
    for row in ["allocs increase", "peak increase", "peak "] {
        let line = out.lines().find(|l| l.starts_with(row)).unwrap();
        assert!(line.ends_with(" ok"), "{out}");
    }
}

#[test]
fn fails_against_a_baseline_over_its_limits() {
    let p = profiles();
    let (a0, _) = totals(&p.base);
    let (a1, k1) = totals(&p.grown);
    // Just below the real increase: allocations exceeded, the peak within an absolute
    // allowance of 9 MiB over the baseline.
    let allocs_pct = (a1 - a0) as f64 / a0 as f64 * 100.0 - 0.5;
    let inc = format!("allocs={allocs_pct:.3}%,peak=9MiB");
    let (code, out, err) = check(&[
        s(&p.grown),
        "--baseline",
        s(&p.base),
        "--max-increase",
        &inc,
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("FAIL: 1 of 2 limits exceeded (allocs increase)"),
        "{out}"
    );
    let allocs = out
        .lines()
        .find(|l| l.starts_with("allocs increase"))
        .unwrap();
    assert!(allocs.ends_with("EXCEEDED"), "{out}");
    // A fixed ceiling one byte under the peak fails too; JSON says the same.
    let under = (k1 - 1).to_string();
    let (code, out, _) = check(&[s(&p.grown), "--max-peak", &under, "--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["pass"], false);
    assert_eq!(v["checks"][0]["metric"], "peak");
    assert_eq!(v["checks"][0]["value"], k1);
    assert_eq!(v["checks"][0]["allowed"], k1 - 1);
    assert_eq!(v["checks"][0]["pass"], false);
}

#[test]
fn limits_from_a_budget_file() {
    let p = profiles();
    let (a1, _) = totals(&p.grown);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("allocscope-budget.toml");
    std::fs::copy(&p.base, dir.path().join("old.json")).unwrap();
    std::fs::write(
        &file,
        format!(
            "baseline = \"old.json\"\n[max]\nallocs = {a1}\npeak = \"1GiB\"\n[max-increase]\nallocs = \"1%\"\n"
        ),
    )
    .unwrap();
    let (code, out, err) = check(&[s(&p.grown), "--budget", s(&file)]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("FAIL: 1 of 3 limits exceeded (allocs increase)"),
        "{out}"
    );
    // The command line wins over the file.
    let (code, out, err) = check(&[
        s(&p.grown),
        "--budget",
        s(&file),
        "--max-increase",
        "allocs=1000%",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    // Found in the current directory without --budget.
    let out = Command::cargo_bin("alloc-report")
        .unwrap()
        .current_dir(dir.path())
        .args(["check", s(&p.grown)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn bad_input_is_one_line_and_status_2() {
    let p = profiles();
    let dir = tempfile::tempdir().unwrap();
    let bad_toml = dir.path().join("b.toml");
    std::fs::write(&bad_toml, "[max]\nrss = \"1GiB\"\n").unwrap();
    let garbage = dir.path().join("g.json");
    std::fs::write(&garbage, "{not json").unwrap();
    for (args, want) in [
        (vec![s(&p.grown)], "no limits given"),
        (vec![s(&p.grown), "--max-peak", "12parsecs"], "not a size"),
        (vec![s(&p.grown), "--max-allocs", "lots"], "not a count"),
        (
            vec![s(&p.grown), "--max-increase", "allocs=5%"],
            "needs a baseline",
        ),
        (
            vec![s(&p.grown), "--max-increase", "rss=5%"],
            "unknown metric",
        ),
        (
            vec![s(&p.grown), "--budget", s(&bad_toml)],
            "unknown metric",
        ),
        (vec![s(&garbage), "--max-peak", "1MiB"], "g.json"),
        (
            vec!["/nonexistent/p.json", "--max-peak", "1MiB"],
            "/nonexistent/p.json",
        ),
    ] {
        let (code, out, err) = check(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("alloc-report: error: "), "{err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
