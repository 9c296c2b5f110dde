//! Reports by tracing span (issue 14) through the `alloc-report` binary: `summary --by
//! span` (text and JSON), `flamegraph --by span` (with and without call stacks), `diff --by
//! span`, the pprof `span` label and the HTML report's "By span" data, on a profile whose
//! `spans` table and per-site spans are set by hand (so every figure shown is known); and the
//! one-line error on a profile without spans.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::path::Path;

use allocscope::profile::Profile;
use allocscope::SpanStats;
use assert_cmd::Command;
use prost::Message;

fn alloc_report() -> Command {
    Command::cargo_bin("alloc-report").unwrap()
}

/// Runs `alloc-report ARGS PATHS...` and returns its output, failing with its stderr unless it
/// succeeded.
fn run_ok(args: &[&str], paths: &[&Path]) -> std::process::Output {
    let out = alloc_report().args(args).args(paths).output().unwrap();
    assert!(
        out.status.success(),
        "alloc-report {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn span(path: &str, allocs: u64, bytes: u64, live: u64) -> SpanStats {
    SpanStats {
        path: path.to_string(),
        name: path.rsplit(" > ").next().unwrap().to_string(),
        target: "kvstore::server".to_string(),
        allocs,
        bytes,
        reallocs: 3,
        samples: 10,
        sampled_allocs: allocs,
        sampled_bytes: bytes,
        live_blocks: 1,
        live_bytes: live,
        peak_live_bytes: live * 2,
        freed: 100,
        freed_under_1us: 10,
        freed_under_1ms: 40,
        freed_under_1s: 90,
    }
}

/// kvstore's profile with three span paths (together less than the program's totals) and
/// its two largest call sites sampled in `request{route=/put}`.
fn with_spans(mut p: Profile, put_bytes: u64) -> Profile {
    let t = &p.totals;
    assert!(t.bytes_allocated > 2 * put_bytes && t.allocs > 3000);
    p.spans = vec![
        span("request{route=/put}", 1000, put_bytes, 4096),
        span("request{route=/get}", 900, put_bytes / 10, 512),
        span("request{route=/get} > decode", 800, put_bytes / 20, 0),
    ];
    for s in p.sites.iter_mut().take(2) {
        s.span = Some("request{route=/put}".to_string());
    }
    p
}

fn write(dir: &Path, name: &str, p: &Profile) -> std::path::PathBuf {
    let path = dir.join(name);
    p.write(&path).unwrap();
    path
}

#[test]
fn summary_by_span_lists_each_path_and_what_no_span_covered() {
    let dir = tempfile::tempdir().unwrap();
    let p = with_spans(fixtures::kvstore_before(), 1_000_000);
    let path = write(dir.path(), "spans.json", &p);
    let out = run_ok(&["summary", "--by", "span"], &[&path]);
    let text = String::from_utf8(out.stdout).unwrap();
    let put = text.find("request{route=/put}").expect(&text);
    let get = text.find("request{route=/get} ").expect(&text);
    let decode = text.find("request{route=/get} > decode").expect(&text);
    assert!(put < get && get < decode, "most bytes first:\n{text}");
    assert!(text.contains("(outside any span)"), "{text}");
    assert!(text.contains("977 KiB"), "1,000,000 bytes shown:\n{text}");

    let out = alloc_report()
        .args(["summary", "--by", "span", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["format"], "allocscope-span-summary");
    assert_eq!(json["spans"][0]["path"], "request{route=/put}");
    assert_eq!(json["spans"][0]["bytes"], 1_000_000);
    assert_eq!(
        json["outside_bytes"].as_u64().unwrap(),
        p.totals.bytes_allocated - 1_000_000 - 100_000 - 50_000
    );
    assert_eq!(
        json["outside_allocs"].as_u64().unwrap(),
        p.totals.allocs - 2700
    );
}

#[test]
fn summary_by_site_names_the_span_of_a_stack_seen_in_two() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = with_spans(fixtures::kvstore_before(), 1_000_000);
    // The top stack, also sampled in another span: two sites with the same frames.
    let mut twin = p.sites[0].clone();
    twin.span = Some("request{route=/get}".to_string());
    p.sites.insert(1, twin);
    let path = write(dir.path(), "twins.json", &p);
    let out = run_ok(&["summary"], &[&path]);
    let text = String::from_utf8(out.stdout).unwrap();
    let put = text.find("in span request{route=/put}").expect(&text);
    let get = text.find("in span request{route=/get}").expect(&text);
    assert!(put < get, "each row names its span, in rank order:\n{text}");

    let out = run_ok(&["summary", "--json"], &[&path]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sites = json["top_sites"].as_array().unwrap();
    assert_eq!(sites[0]["frames"], sites[1]["frames"], "the same stack");
    assert_eq!(sites[0]["span"], "request{route=/put}");
    assert_eq!(sites[1]["span"], "request{route=/get}");
}

#[test]
fn reports_by_span_refuse_a_profile_without_spans() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "plain.json", &fixtures::kvstore_before());
    for args in [
        vec!["summary", "--by", "span"],
        vec!["flamegraph", "--by", "span", "-o"],
    ] {
        let mut cmd = alloc_report();
        cmd.args(&args);
        if args[0] == "flamegraph" {
            cmd.arg(dir.path().join("x.svg"));
        }
        let out = cmd.arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("no spans table") && err.contains("plain.json"),
            "{err}"
        );
        assert!(!dir.path().join("x.svg").exists());
    }
}

#[test]
fn flamegraph_by_span_draws_span_paths_optionally_followed_by_stacks() {
    let dir = tempfile::tempdir().unwrap();
    let p = with_spans(fixtures::kvstore_before(), 1_000_000);
    let path = write(dir.path(), "spans.json", &p);
    let svg_path = dir.path().join("spans.svg");
    run_ok(&["flamegraph", "--by", "span", "-o"], &[&svg_path, &path]);
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    // inferno titles each frame "NAME (VALUE bytes, P%)".
    assert!(
        svg.contains("request{route=/put} (1,000,000 bytes"),
        "put frame"
    );
    assert!(svg.contains("decode (50,000 bytes"), "nested frame");
    assert!(svg.contains("(outside any span)"), "outside frame");

    run_ok(
        &["flamegraph", "--by", "span", "--stacks", "-o"],
        &[&svg_path, &path],
    );
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let put_site_bytes: u64 = p.sites.iter().take(2).map(|s| s.bytes).sum();
    let expect = format!(
        "request{{route=/put}} ({} bytes",
        fmt_thousands(put_site_bytes)
    );
    assert!(
        svg.contains(&expect),
        "the span frame holds its sites' bytes ({expect})"
    );
    // The stacks under it: a function of the first site.
    let leafmost = p.sites[0].frames.last().unwrap().function.clone();
    assert!(svg.contains(leafmost.split("::").last().unwrap()));
}

fn fmt_thousands(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn diff_by_span_tabulates_each_paths_change() {
    let dir = tempfile::tempdir().unwrap();
    let before = write(
        dir.path(),
        "before.json",
        &with_spans(fixtures::kvstore_before(), 1_000_000),
    );
    let after = write(
        dir.path(),
        "after.json",
        &with_spans(fixtures::kvstore_after(), 3_000_000),
    );
    let svg = dir.path().join("diff.svg");
    let out = run_ok(&["diff", "--by", "span", "-o"], &[&svg, &before, &after]);
    let table = String::from_utf8(out.stdout).unwrap();
    // /put grew by 2,000,000 bytes: the largest change, listed first.
    let first = table
        .lines()
        .nth(2)
        .unwrap_or_else(|| panic!("no rows:\n{table}"));
    assert!(first.starts_with("request{route=/put}"), "{table}");
    assert!(first.contains("+1.91 MiB"), "{table}");
    assert!(std::fs::read_to_string(&svg)
        .unwrap()
        .contains("request{route=/put}"));
}

#[test]
fn pprof_samples_carry_a_span_label() {
    let dir = tempfile::tempdir().unwrap();
    let p = with_spans(fixtures::kvstore_before(), 1_000_000);
    let path = write(dir.path(), "spans.json", &p);
    let pb = dir.path().join("heap.pb.gz");
    run_ok(&["export", "--format", "pprof", "-o"], &[&pb, &path]);
    let mut raw = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&pb).unwrap()),
        &mut raw,
    )
    .unwrap();
    let proto = allocscope::report::pprof::proto::Profile::decode(raw.as_slice()).unwrap();
    let s = |i: i64| proto.string_table[i as usize].as_str();
    let labelled: Vec<_> = proto
        .sample
        .iter()
        .filter(|x| !x.label.is_empty())
        .collect();
    assert_eq!(labelled.len(), 2, "the two sites sampled in a span");
    for x in labelled {
        assert_eq!(s(x.label[0].key), "span");
        assert_eq!(s(x.label[0].str), "request{route=/put}");
    }
}

#[test]
fn html_report_embeds_the_span_table() {
    let dir = tempfile::tempdir().unwrap();
    let p = with_spans(fixtures::kvstore_before(), 1_000_000);
    let path = write(dir.path(), "spans.json", &p);
    let html = dir.path().join("report.html");
    run_ok(&["html", "-o"], &[&html, &path]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h2>By span</h2>"));
    assert!(page.contains("function renderSpans"));
    assert!(page.contains(r#""path":"request{route=/get} > decode""#));
    // Each site row names its span: the two top sites were sampled in /put, no other in one.
    let others = p.sites.len() - 2;
    let column = format!(
        r#""span":["request{{route=/put}}","request{{route=/put}}"{}]"#,
        ",null".repeat(others)
    );
    assert!(page.contains(&column), "per-site span column");
    assert!(page.contains("'in span '"), "and the viewer shows it");
}
