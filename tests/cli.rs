//! The `alloc-report` binary end to end: every subcommand, its `--help`, and bad input
//! (missing, empty, truncated, non-JSON, wrong-version and hand-edited profiles, unwritable
//! outputs, wrong flags): one line on stderr naming the file, non-zero exit, no panic, no
//! output file left behind.

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/golden.rs"]
mod golden;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

fn alloc_report() -> Command {
    Command::cargo_bin("alloc-report").unwrap()
}

fn fixture(name: &str) -> PathBuf {
    golden::tests_path(&format!("data/report_golden/profiles/{name}"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Files in `dir`, names only, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The `y` of the first `<rect>` of the frame whose tooltip starts with `name (`.
fn frame_y(svg: &str, name: &str) -> f64 {
    let start = svg
        .find(&format!("<title>{name} ("))
        .unwrap_or_else(|| panic!("frame {name} not in SVG"));
    let rest = &svg[start..];
    let y = rest.split("y=\"").nth(1).unwrap();
    y[..y.find('"').unwrap()].parse().unwrap()
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["flamegraph", "summary", "diff", "export", "html", "compare"] {
        let out = alloc_report().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success(), "{sub} --help");
        assert!(
            stdout(&out).contains(&format!("Usage: alloc-report {sub}")),
            "{}",
            stdout(&out)
        );
    }
    let out = alloc_report().arg("--help").output().unwrap();
    assert!(out.status.success());
    for sub in ["flamegraph", "summary", "diff", "export", "html", "compare"] {
        assert!(stdout(&out).contains(sub));
    }
}

#[test]
fn flamegraph_draws_every_metric_with_names_as_users_know_them() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = [
        ("allocs", "Allocations (count)"),
        ("bytes", "Bytes allocated (bytes)"),
        ("live", "Live bytes when the profile was written (bytes)"),
        ("peak", "Live bytes at the peak (bytes)"),
        ("leaked", "Leaked: bytes never freed before exit (bytes)"),
        (
            "short-lived",
            "Short-lived allocations: freed within 1 ms (count)",
        ),
        (
            "slack",
            "Size-class rounding waste: usable - requested (bytes)",
        ),
    ];
    for (metric, title) in metrics {
        let svg_path = dir.path().join(format!("{metric}.svg"));
        let out = alloc_report()
            .args(["flamegraph", "--metric", metric, "-o"])
            .arg(&svg_path)
            .arg(fixture("kvstore-after.json"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{metric}: {}", stderr(&out));
        let svg = std::fs::read_to_string(&svg_path).unwrap();
        assert!(svg.starts_with("<?xml"), "{metric}");
        assert!(svg.contains(&format!(">{title}<")), "{metric}: title");
        // Demangled, no hash suffix, `;` sanitized, markup escaped.
        assert!(!svg.contains("_ZN7kvstore"));
        assert!(!svg.contains("h0123456789abcdef"));
        if metric == "allocs" {
            assert!(svg.contains("&lt;smallvec::SmallVec&lt;[u8: 8]&gt; as core::iter::traits::collect::Extend&lt;u8&gt;&gt;::extend ("));
            assert!(svg.contains("<title>kvstore::wal::WalWriter::append (300 allocations"));
            assert!(svg.contains(
                "<title>kvstore::cache::LruCache&lt;K,V&gt;::get_or_insert (5,000 allocations"
            ));
        }
    }
    assert!(files_in(dir.path()).iter().all(|f| f.ends_with(".svg")));
}

#[test]
fn flamegraph_puts_the_allocating_function_on_top_or_at_the_bottom_with_icicle() {
    let dir = tempfile::tempdir().unwrap();
    let leaf = "kvstore::cache::LruCache&lt;K,V&gt;::get_or_insert";
    let caller = "kvstore::db::Db::get";
    for icicle in [false, true] {
        let svg_path = dir.path().join("f.svg");
        let mut cmd = alloc_report();
        cmd.args(["flamegraph", "--title", "my <title>", "-o"])
            .arg(&svg_path)
            .arg(fixture("kvstore-before.json"));
        if icicle {
            cmd.arg("--icicle");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let svg = std::fs::read_to_string(&svg_path).unwrap();
        assert!(svg.contains(">my &lt;title&gt;<"));
        let (leaf_y, caller_y) = (frame_y(&svg, leaf), frame_y(&svg, caller));
        if icicle {
            assert!(leaf_y > caller_y, "icicle: leaf below its caller");
        } else {
            assert!(leaf_y < caller_y, "flame: leaf above its caller");
        }
    }
}

#[test]
fn flamegraph_to_stdout_and_min_width() {
    let out = alloc_report()
        .args(["flamegraph", "-o", "-", "--min-width", "40"])
        .arg(fixture("kvstore-before.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = stdout(&out);
    assert!(svg.contains("<svg"));
    // Only frames at least 40% of the width are kept: the index site (43.3% of the bytes)
    // stays, the WAL site (32.5%) goes.
    assert!(svg.contains("kvstore::index::Index&lt;K,V&gt;::insert ("));
    assert!(!svg.contains("kvstore::wal::WalWriter::append ("));
}

#[test]
fn summary_text_matches_golden_and_json_carries_the_profiles_figures() {
    for (name, profile) in fixtures::saved_fixtures() {
        let stem = name.trim_end_matches(".json");
        let out = alloc_report()
            // The library's output on the raw frames (the default trims them).
            .args(["summary", "--top", "5", "--all-frames"])
            .arg(fixture(name))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        golden::check(
            &format!("data/report_golden/{stem}.summary.txt"),
            &out.stdout,
        );

        let out = alloc_report()
            .args(["summary", "--json", "--top", "3", "--all-frames"])
            .arg(fixture(name))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let t = &profile.totals;
        for (key, want) in [
            ("allocs", t.allocs),
            ("frees", t.frees),
            ("reallocs", t.reallocs),
            ("bytes_allocated", t.bytes_allocated),
            ("peak_live_bytes", t.peak_live_bytes),
            ("live_bytes_at_exit", t.live_bytes),
            ("sampling_bytes", profile.meta.sampling_bytes),
        ] {
            assert_eq!(json[key].as_u64(), Some(want), "{name}: {key}");
        }
        match &profile.gap {
            Some(gap) => {
                assert_eq!(json["gap"]["rss"].as_i64(), Some(gap.rss));
                assert_eq!(
                    json["gap"]["fragmentation"].as_i64(),
                    Some(gap.fragmentation)
                );
            }
            None => assert!(json["gap"].is_null()),
        }
        let top = json["top_sites"].as_array().unwrap();
        assert_eq!(top.len(), 3);
        // By bytes, most first; the figures are the sites' own.
        let mut by_bytes = profile.sites.clone();
        by_bytes.sort_by_key(|s| std::cmp::Reverse(s.bytes));
        for (entry, site) in top.iter().zip(&by_bytes) {
            assert_eq!(entry["allocs"].as_u64(), Some(site.allocs));
            assert_eq!(entry["bytes"].as_u64(), Some(site.bytes));
            assert_eq!(entry["live_bytes"].as_u64(), Some(site.live_bytes));
            assert_eq!(entry["peak_bytes"].as_u64(), Some(site.peak_bytes));
            let frames: Vec<&str> = entry["frames"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect();
            assert_eq!(frames.len(), site.frames.len());
            assert_eq!(frames.last(), Some(&"main"), "leaf first, root last");
        }
        // The allocating functions of the two biggest sites, demangled.
        assert_eq!(top[0]["frames"][0], "kvstore::index::Index<K,V>::insert");
        assert_eq!(top[1]["frames"][0], "kvstore::wal::WalWriter::append");

        // By default the runtime's frames below `kvstore::main` are trimmed.
        let out = alloc_report()
            .args(["summary", "--json", "--top", "3"])
            .arg(fixture(name))
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for entry in json["top_sites"].as_array().unwrap() {
            let frames = entry["frames"].as_array().unwrap();
            assert_eq!(frames.last().unwrap(), "kvstore::main", "{entry}");
        }
    }
}

#[test]
fn diff_draws_a_differential_flamegraph_and_ranks_changed_sites() {
    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("diff.svg");
    let out = alloc_report()
        .args(["diff", "--metric", "allocs", "-o"])
        .arg(&svg_path)
        .arg(fixture("kvstore-before.json"))
        .arg(fixture("kvstore-after.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.contains(">Difference: Allocations (count)<"));
    // inferno's differential tooltips give the change per frame: the key function shrank,
    // the SmallVec spill is new.
    assert!(svg.contains("<title>kvstore::key::Key::from_bytes (4,000 allocations, 9.68%; -"));
    assert!(svg.contains("SmallVec&lt;[u8: 8]&gt; as core::iter::traits::collect::Extend&lt;u8&gt;&gt;::extend (4,000 allocations, 9.68%; +"));

    let table = stdout(&out);
    let allocs_section = table
        .split("Call sites whose allocations changed most")
        .nth(1)
        .unwrap()
        .split("Call sites whose bytes changed most")
        .next()
        .unwrap();
    let rows: Vec<&str> = allocs_section
        .lines()
        .filter(|l| l.contains("kvstore"))
        .collect();
    // Vec<u8> keys: 40,000 allocations gone; SmallVec spills: 4,000 new; nothing else moved.
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows[0].contains("-40,000") && rows[0].contains("kvstore::key::Key::from_bytes"));
    assert!(rows[1].contains("+4,000") && rows[1].contains("SmallVec<[u8; 8]>"));
    assert!(
        table.contains("Totals: allocations 77,310 -> 41,310 (-36,000)"),
        "{table}"
    );
}

#[test]
fn diff_of_a_profile_with_itself_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = alloc_report()
        .args(["diff", "-o"])
        .arg(dir.path().join("same.svg"))
        .arg(fixture("kvstore-before.json"))
        .arg(fixture("kvstore-exact-system.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).matches("(no change)").count(),
        2,
        "{}",
        stdout(&out)
    );
}

#[test]
fn export_folded_matches_golden_and_the_flamegraph_input() {
    for metric in ["bytes", "allocs"] {
        let out = alloc_report()
            .args([
                "export",
                "--format",
                "folded",
                "--metric",
                metric,
                "--all-frames",
            ])
            .arg(fixture("kvstore-after.json"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        golden::check(
            &format!("data/report_golden/kvstore-after.{metric}.folded"),
            &out.stdout,
        );
    }
    // By default stacks are trimmed: the same lines as the library's trim_profile.
    let out = alloc_report()
        .args(["export", "--format", "folded"])
        .arg(fixture("kvstore-before.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    golden::check(
        "data/report_golden/kvstore-before.trimmed.bytes.folded",
        &out.stdout,
    );
    let out = alloc_report()
        .args(["export", "--format", "folded", "--all-frames"])
        .arg(fixture("kvstore-before.json"))
        .output()
        .unwrap();
    // Independent check of the figures: every line's count is one site's bytes, and each
    // line has as many frames as the site.
    let profile = fixtures::kvstore_before();
    let text = stdout(&out);
    assert_eq!(text.lines().count(), profile.sites.len());
    for line in text.lines() {
        let (stack, count) = line.rsplit_once(' ').unwrap();
        let count: u64 = count.parse().unwrap();
        let site = profile.sites.iter().find(|s| s.bytes == count).unwrap();
        assert_eq!(stack.split(';').count(), site.frames.len(), "{line}");
        assert!(stack.starts_with("main;"), "root first: {line}");
    }
}

#[test]
fn export_pprof_writes_a_gzipped_profile_proto() {
    use prost::Message as _;
    use std::io::Read as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heap.pb.gz");
    let out = alloc_report()
        .args(["export", "--format", "pprof", "--all-frames", "-o"])
        .arg(&path)
        .arg(fixture("kvstore-before.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let gz = std::fs::read(&path).unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip magic");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut raw)
        .unwrap();
    let p = allocscope::report::pprof::proto::Profile::decode(&raw[..]).unwrap();
    assert_eq!(p.string_table[0], "");
    let name = |i: i64| p.string_table[i as usize].as_str();
    let types: Vec<(&str, &str)> = p
        .sample_type
        .iter()
        .map(|t| (name(t.r#type), name(t.unit)))
        .collect();
    assert_eq!(
        types,
        [
            ("alloc_objects", "count"),
            ("alloc_space", "bytes"),
            ("inuse_objects", "count"),
            ("inuse_space", "bytes")
        ]
    );
    let period_type = p.period_type.as_ref().unwrap();
    assert_eq!(
        (name(period_type.r#type), name(period_type.unit)),
        ("space", "bytes")
    );
    assert_eq!(p.period, 512 * 1024);
    let profile = fixtures::kvstore_before();
    assert_eq!(p.sample.len(), profile.sites.len());
    // Leaf first: the first location of the top site is its allocating function.
    let first = &p.sample[0];
    let loc = &p.location[first.location_id[0] as usize - 1];
    let func = &p.function[loc.line[0].function_id as usize - 1];
    assert_eq!(name(func.name), "kvstore::index::Index<K,V>::insert");
    assert_eq!(first.value, [2000, 8_000_000, 800, 3_200_000]);
    // The inlined String::clone shares a location with Db::get, innermost line first.
    let inlined = p
        .location
        .iter()
        .find(|l| l.line.len() == 2)
        .expect("a location with an inlined frame");
    let names: Vec<&str> = inlined
        .line
        .iter()
        .map(|l| name(p.function[l.function_id as usize - 1].name))
        .collect();
    assert_eq!(
        names,
        [
            "<alloc::string::String as core::clone::Clone>::clone",
            "kvstore::db::Db::get"
        ]
    );
}

/// Profiles that must be rejected, with a word the error must contain.
fn bad_profiles(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let good = std::fs::read_to_string(fixture("kvstore-before.json")).unwrap();
    let mut cases = vec![
        (dir.join("missing.json"), "No such file"),
        (dir.join("empty.json"), "empty"),
        (dir.join("truncated.json"), "EOF"),
        (dir.join("not-json.json"), "not a valid allocscope profile"),
        (dir.join("wrong-version.json"), "unsupported profile"),
        (dir.join("not-a-profile.json"), "unsupported profile"),
    ];
    std::fs::write(dir.join("empty.json"), "").unwrap();
    std::fs::write(dir.join("truncated.json"), &good[..good.len() / 2]).unwrap();
    std::fs::write(dir.join("not-json.json"), "<html>not json</html>").unwrap();
    std::fs::write(
        dir.join("wrong-version.json"),
        good.replacen("\"version\": 1", "\"version\": 99", 1),
    )
    .unwrap();
    std::fs::write(dir.join("not-a-profile.json"), "{\"hello\": 1}").unwrap();
    // Hand-edited: a wrong type in fields all over the document.
    let edits = [
        ("meta-program", "\"program\": \"kvstore\"", "\"program\": 5"),
        (
            "meta-sampling",
            "\"sampling_bytes\": 524288",
            "\"sampling_bytes\": \"lots\"",
        ),
        ("totals-frees", "\"frees\": 74499", "\"frees\": -1"),
        ("site-allocs", "\"allocs\": 2000,", "\"allocs\": \"2000\","),
        ("site-frames", "\"frames\": [", "\"frames\": 7, \"x\": ["),
        ("frame-line", "\"line\": 88", "\"line\": 88.5"),
        ("gap-rss", "\"rss\": ", "\"rss\": true, \"y\": "),
        (
            "size-class",
            "\"usable_bytes\": 640000",
            "\"usable_bytes\": null",
        ),
        ("timeline", "\"t_secs\": 0.5", "\"t_secs\": \"soon\""),
    ];
    for (name, from, to) in edits {
        assert!(good.contains(from), "fixture lacks {from}");
        let file = dir.join(format!("edited-{name}.json"));
        std::fs::write(&file, good.replacen(from, to, 1)).unwrap();
        cases.push((file, "not a valid allocscope profile"));
    }
    cases
}

fn assert_one_line_error(out: &Output, file: &Path, word: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "exit status; stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("alloc-report: error: "), "{err}");
    assert!(
        err.contains(&file.display().to_string()),
        "names the file: {err}"
    );
    assert!(err.contains(word), "says {word:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.matches("os error").count() <= 1,
        "cause repeated: {err}"
    );
}

#[test]
fn bad_profiles_get_one_line_naming_the_file_and_no_output() {
    let inputs = tempfile::tempdir().unwrap();
    let outputs = tempfile::tempdir().unwrap();
    let good = fixture("kvstore-before.json");
    for (bad, word) in bad_profiles(inputs.path()) {
        let out_file = outputs.path().join("out");
        let runs: Vec<Vec<std::ffi::OsString>> = vec![
            vec![
                "flamegraph".into(),
                "-o".into(),
                out_file.clone().into(),
                bad.clone().into(),
            ],
            vec!["summary".into(), bad.clone().into()],
            vec!["summary".into(), "--json".into(), bad.clone().into()],
            vec![
                "export".into(),
                "--format".into(),
                "folded".into(),
                "-o".into(),
                out_file.clone().into(),
                bad.clone().into(),
            ],
            vec![
                "export".into(),
                "--format".into(),
                "pprof".into(),
                "-o".into(),
                out_file.clone().into(),
                bad.clone().into(),
            ],
            vec![
                "diff".into(),
                "-o".into(),
                out_file.clone().into(),
                bad.clone().into(),
                good.clone().into(),
            ],
            vec![
                "diff".into(),
                "-o".into(),
                out_file.clone().into(),
                good.clone().into(),
                bad.clone().into(),
            ],
            vec![
                "html".into(),
                "-o".into(),
                out_file.clone().into(),
                bad.clone().into(),
            ],
            vec!["compare".into(), good.clone().into(), bad.clone().into()],
            vec![
                "compare".into(),
                "--json".into(),
                bad.clone().into(),
                good.clone().into(),
            ],
        ];
        for args in runs {
            let out = alloc_report().args(&args).output().unwrap();
            assert_one_line_error(&out, &bad, word);
            assert!(out.stdout.is_empty(), "{args:?}: no output on stdout");
            assert!(
                files_in(outputs.path()).is_empty(),
                "{args:?}: left {:?}",
                files_in(outputs.path())
            );
        }
    }
}

#[test]
fn an_existing_output_is_untouched_when_the_input_is_bad() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("flamegraph.svg");
    std::fs::write(&out_file, "previous").unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        "{\"format\": \"allocscope-profile\", \"version\": 1, \"meta\": ",
    )
    .unwrap();
    let out = alloc_report()
        .args(["flamegraph", "-o"])
        .arg(&out_file)
        .arg(&bad)
        .output()
        .unwrap();
    assert_one_line_error(&out, &bad, "EOF");
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "previous");
    assert_eq!(files_in(dir.path()), ["bad.json", "flamegraph.svg"]);
}

#[test]
fn unwritable_outputs_get_one_line_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a_file = dir.path().join("a-file");
    std::fs::write(&a_file, "x").unwrap();
    let a_dir = dir.path().join("a-dir");
    std::fs::create_dir(&a_dir).unwrap();
    let targets = [
        dir.path().join("no-such-dir").join("out"), // parent missing
        a_file.join("out"),                         // parent is a file
        a_dir.clone(),                              // the output is a directory
    ];
    for target in &targets {
        let runs: Vec<Vec<std::ffi::OsString>> = vec![
            vec![
                "flamegraph".into(),
                "-o".into(),
                target.into(),
                fixture("kvstore-before.json").into(),
            ],
            vec![
                "export".into(),
                "--format".into(),
                "pprof".into(),
                "-o".into(),
                target.into(),
                fixture("kvstore-before.json").into(),
            ],
            vec![
                "export".into(),
                "--format".into(),
                "folded".into(),
                "-o".into(),
                target.into(),
                fixture("kvstore-before.json").into(),
            ],
            vec![
                "diff".into(),
                "-o".into(),
                target.into(),
                fixture("kvstore-before.json").into(),
                fixture("kvstore-after.json").into(),
            ],
        ];
        for args in runs {
            let out = alloc_report().args(&args).output().unwrap();
            assert_one_line_error(&out, target, "");
            assert!(out.stdout.is_empty(), "{args:?}");
        }
    }
    assert_eq!(files_in(dir.path()), ["a-dir", "a-file"]);
    assert!(files_in(&a_dir).is_empty());
}

#[test]
fn a_profile_without_stacks_is_an_error_for_flamegraphs_but_not_for_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let mut profile = fixtures::kvstore_before();
    profile.sites.clear();
    profile.meta.sampling_bytes = 0;
    let path = dir.path().join("no-stacks.json");
    profile.write(&path).unwrap();
    let svg = dir.path().join("out.svg");
    let out = alloc_report()
        .args(["flamegraph", "-o"])
        .arg(&svg)
        .arg(&path)
        .output()
        .unwrap();
    assert_one_line_error(&out, &path, "stack capture was off");
    assert!(!svg.exists());
    let out = alloc_report().arg("summary").arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("(no call sites recorded)"));
    assert!(stdout(&out).contains("stack capture off"));
}

#[test]
fn wrong_flags_get_claps_error() {
    let cases: [&[&str]; 6] = [
        &["flamegraph", "--metric", "nope", "x.json"],
        &["flamegraph", "--bogus", "x.json"],
        &["summary", "--top", "many", "x.json"],
        &["export", "x.json"], // --format missing
        &["export", "--format", "svg", "x.json"],
        &["diff", "only-one.json"],
    ];
    for args in cases {
        let out = alloc_report().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("error:"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = alloc_report().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn html_writes_one_self_contained_page_with_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("report.html");
    let out = alloc_report()
        .arg("html")
        .arg("-o")
        .arg(&out_file)
        .arg(fixture("kvstore-after.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(&out_file).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"));
    // Self-contained: no script or stylesheet is fetched from anywhere.
    assert!(!html.contains("src=\"http"), "no remote scripts");
    assert!(!html.contains("href=\"http"), "no remote stylesheets");
    // The profile's call sites are embedded.
    assert!(html.contains("kvstore::db::Db::get"));
    assert_eq!(files_in(dir.path()), vec!["report.html".to_string()]);
}

#[test]
fn compare_prints_the_profiles_side_by_side_and_as_json() {
    let before = fixture("kvstore-before.json");
    let after = fixture("kvstore-after.json");
    let out = alloc_report()
        .arg("compare")
        .arg(&before)
        .arg(&after)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("kvstore-before") && text.contains("kvstore-after"),
        "{text}"
    );
    let out = alloc_report()
        .args(["compare", "--json"])
        .arg(&before)
        .arg(&after)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let b = allocscope::profile::Profile::read(&before).unwrap();
    let a = allocscope::profile::Profile::read(&after).unwrap();
    let names: Vec<_> = json["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["kvstore-before", "kvstore-after"]);
    let row = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "allocations")
        .expect("an allocations row");
    assert_eq!(row["values"][0].as_u64(), Some(b.totals.allocs), "{row}");
    assert_eq!(row["values"][1].as_u64(), Some(a.totals.allocs), "{row}");
    // One profile is not a comparison: clap says so.
    let out = alloc_report().arg("compare").arg(&before).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
