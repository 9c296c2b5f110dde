//! End-to-end test of the HTML report in a real browser.
//!
//! Each test renders a profile with `allocscope::report::html::render_with_self_test` (the page
//! with its opt-in self-test), opens it in headless Chromium with the URL hash `#selftest` (the
//! page then clicks its own metric switch, a flamegraph frame, a table header and the filter,
//! and writes what it showed as JSON into `<pre id="selftest">`), reads that element from
//! `--dump-dom`, and compares every figure shown with values computed here from the `Profile`.
//! A second Chromium run saves a screenshot. Reports and screenshots are kept under
//! `target/tmp/html-report/`.
//!
//! Chromium is Debian's package `chromium` (`apt-get install -y chromium`); set
//! `ALLOCSCOPE_CHROMIUM` to use another binary. Without it the browser tests print why they
//! are skipped and pass; the checks on the HTML text itself still run.
//!
//! The main test runs on a profile from a real run: this test binary's global allocator is
//! allocscope's `Profiler` over jemalloc, [`profile_under_test`] runs a small workload with a
//! timeline and collects the profile. Profiles from the shared generator
//! (`tests/support/fixtures.rs`) cover the edge cases (names that must be escaped, no jemalloc
//! statistics, no stacks, 100k stacks).

#[path = "support/fixtures.rs"]
mod fixtures;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use allocscope::profile::{CallSite, Profile, TimelinePoint, PROFILE_VERSION};
use allocscope::report::html;
use allocscope::{GapBreakdown, SizeClassCounts};
use fixtures::SiteSpec;
use serde_json::Value;

const MIB: i64 = 1 << 20;

/// A frame name that would end the data element if it were embedded unescaped.
const EVIL: &str = r#"demo::html::escape</script><script>document.title="pwned"</script><!--"#;

// ---------------------------------------------------------------------------------------------
// Profiles

#[global_allocator]
static ALLOC: allocscope::Profiler<allocscope::Jemalloc> =
    allocscope::Profiler::new(allocscope::Jemalloc);

/// The profile the main browser test runs on: the file named by `ALLOCSCOPE_TEST_PROFILE`,
/// else a real profiled run of [`workload`] in this process.
fn profile_under_test() -> Profile {
    match std::env::var_os("ALLOCSCOPE_TEST_PROFILE") {
        Some(path) => {
            Profile::read(&path).unwrap_or_else(|e| panic!("ALLOCSCOPE_TEST_PROFILE: {e}"))
        }
        None => real_profile(),
    }
}

/// Parses version strings into small structs and builds and drops a map of strings, like the
/// seeds' package resolvers do, keeping one version in eight.
#[inline(never)]
fn workload() -> Vec<(u32, Vec<String>)> {
    let mut kept = Vec::new();
    for i in 0..40_000u32 {
        let text = format!("{}.{}.{}-rc.{}", i % 5, i % 17, i, i % 3);
        let parts: Vec<String> = text.split(['.', '-']).map(str::to_string).collect();
        if i % 8 == 0 {
            kept.push((i, parts));
        }
    }
    let map: HashMap<String, String> = (0..40_000)
        .map(|i| (format!("crate-{i}"), format!("{i}.0.0")))
        .collect();
    assert_eq!(map.len(), 40_000);
    drop(map);
    kept
}

/// A real profiled run: a dense sampling interval, a timeline every 5 ms, the workload, then
/// the profile as `ALLOCSCOPE_OUT` would write it. Run once per process.
fn real_profile() -> Profile {
    static PROFILE: std::sync::OnceLock<Profile> = std::sync::OnceLock::new();
    PROFILE
        .get_or_init(|| {
            allocscope::Config::new().sample_bytes(4096).apply();
            allocscope::timeline::start(
                allocscope::timeline::TimelineOptions::default().interval(Duration::from_millis(5)),
            )
            .unwrap();
            std::thread::sleep(Duration::from_millis(20));
            let kept = workload();
            std::thread::sleep(Duration::from_millis(20));
            allocscope::timeline::stop();
            let mut p = allocscope::collect_profile();
            allocscope::profile::symbolize(&mut p, &Default::default()).unwrap();
            drop(kept);
            p
        })
        .clone()
}

/// A frame of a generated stack: function, file, line, inlined.
type FrameSpec = (&'static str, Option<&'static str>, Option<u32>, bool);

/// Call sites whose names trip up a page: `<`, `>`, `::`, `;`, `[u8; 8]`, a frame without a
/// file, and [`EVIL`]; several size classes and lifetimes, on two threads' stacks.
fn demo_sites() -> Vec<SiteSpec> {
    let main = |own: &[FrameSpec]| -> Vec<FrameSpec> {
        let mut v = own.to_vec();
        v.extend([
            ("demo::main", Some("src/main.rs"), Some(40), false),
            (
                "std::rt::lang_start::{{closure}}",
                Some("library/std/src/rt.rs"),
                Some(206),
                false,
            ),
            (
                "std::rt::lang_start_internal",
                Some("library/std/src/rt.rs"),
                Some(174),
                false,
            ),
        ]);
        v
    };
    let worker = |own: &[FrameSpec]| -> Vec<FrameSpec> {
        let mut v = own.to_vec();
        v.extend([
            ("demo::worker::run", Some("src/worker.rs"), Some(12), false),
            (
                "std::sys::pal::unix::thread::Thread::new::thread_start",
                None,
                None,
                false,
            ),
        ]);
        v
    };
    // (frames leaf first, requested size, count, share still live at exit)
    let specs: [(Vec<FrameSpec>, u64, u64, f64); 10] = [
        (
            main(&[
                (
                    "hashbrown::raw::RawTable<(K, V)>::reserve_rehash",
                    Some("hashbrown/src/raw/mod.rs"),
                    Some(1102),
                    false,
                ),
                ("demo::index::build", Some("src/index.rs"), Some(88), false),
            ]),
            16384,
            420,
            0.6,
        ),
        (
            main(&[
                (
                    "alloc::vec::Vec<[u8; 8]>::push",
                    Some("alloc/src/vec/mod.rs"),
                    Some(2005),
                    true,
                ),
                ("demo::index::build", Some("src/index.rs"), Some(91), false),
            ]),
            100,
            500_000,
            0.5,
        ),
        (
            main(&[
                (
                    "alloc::raw_vec::RawVec<T,A>::grow_one",
                    Some("alloc/src/raw_vec.rs"),
                    Some(564),
                    false,
                ),
                (
                    "serde_json::de::from_str<demo::Config>",
                    Some("serde_json/src/de.rs"),
                    Some(2676),
                    false,
                ),
                ("demo::load_config", Some("src/config.rs"), Some(17), false),
            ]),
            40,
            9_000,
            0.02,
        ),
        (
            main(&[
                (
                    "<alloc::string::String as core::fmt::Write>::write_str",
                    Some("alloc/src/string.rs"),
                    Some(3060),
                    false,
                ),
                ("demo::render", Some("src/render.rs"), Some(33), false),
            ]),
            17,
            250_000,
            0.0,
        ),
        (
            main(&[
                ("demo::render::line", Some("src/render.rs"), Some(34), false),
                ("demo::render", Some("src/render.rs"), Some(33), false),
            ]),
            33,
            40_000,
            0.0,
        ),
        (
            worker(&[(
                "bytes::bytes_mut::BytesMut::reserve_inner",
                Some("bytes/src/bytes_mut.rs"),
                Some(640),
                false,
            )]),
            8192,
            2_000,
            0.1,
        ),
        (
            worker(&[
                ("<&mut W as std::io::Write>::write_all", None, None, false),
                (
                    "demo::worker::decode",
                    Some("src/worker.rs"),
                    Some(71),
                    false,
                ),
            ]),
            2500,
            6_000,
            0.0,
        ),
        (
            main(&[("demo::leak_cache", Some("src/cache.rs"), Some(5), false)]),
            3 << 20,
            3,
            1.0,
        ),
        (
            main(&[
                (
                    "demo::config::Config::clone",
                    Some("src/config.rs"),
                    Some(30),
                    false,
                ),
                ("demo::load_config", Some("src/config.rs"), Some(18), false),
            ]),
            200,
            1_500,
            0.3,
        ),
        (
            main(&[
                (EVIL, Some("src/html.rs"), Some(9), false),
                ("demo::render", Some("src/render.rs"), Some(35), false),
            ]),
            64,
            12_345,
            0.0,
        ),
    ];
    specs
        .into_iter()
        .map(|(frames, size, count, live)| {
            let freed = count - (count as f64 * live) as u64;
            SiteSpec {
                frames,
                size,
                count,
                freed,
                under: (freed / 10, freed / 3, freed / 2),
                median_ns: (freed > 0).then_some(200 + size * 1_000),
                at_peak: (count - freed) + freed / 4,
            }
        })
        .collect()
}

/// A realistic exact-mode profile over jemalloc (the shared fixture generator), with awkward
/// frame names, several size classes, both gaps (pages never touched at the peak), and a
/// timeline of 200 snapshots.
fn generated_profile() -> Profile {
    let mut p = fixtures::build_profile("demo<server>", "jemalloc", 1, &demo_sites(), true);
    p.version = PROFILE_VERSION;
    p.meta.args = vec![
        p.meta.program.clone(),
        "--input".into(),
        "data/<big>.json".into(),
    ];
    p.meta.allocator_config = Some("dirty_decay_ms:10000".into());
    p.totals.reallocs = 1_234;
    // The `</script>` site goes last: the self-test filters the table by the last site's name.
    let evil = p
        .sites
        .iter()
        .position(|s| s.frames[0].function == EVIL)
        .unwrap();
    let evil = p.sites.remove(evil);
    p.sites.push(evil);
    // At the peak: 12 MiB of large blocks never touched, so not in RSS.
    if let Some(g) = &mut p.gap_at_peak {
        g.untouched = 12 * MIB;
        g.rss -= g.untouched;
    }
    let (top, rss) = (p.totals.peak_live_bytes, p.gap.unwrap().rss as u64);
    p.timeline = (0..200u64)
        .map(|i| {
            let phase = (i as f64 / 199.0 * std::f64::consts::PI).sin();
            let live = (top as f64 * (0.1 + 0.9 * phase)) as u64;
            let resident = live + (rss - live.min(rss)) * i / 400;
            TimelinePoint {
                t_secs: i as f64 * 0.0625,
                allocs: i * 5_000,
                frees: i * 4_500,
                bytes_allocated: i * 3 * MIB as u64,
                live_bytes: live,
                rss: resident + 3 * MIB as u64 + (i * 7919 % 1024) * 1024,
                resident: Some(resident),
                gap: None,
            }
        })
        .collect();
    p
}

/// A sampled-mode profile over the system allocator: no gap, no timeline.
fn profile_without_stats() -> Profile {
    let mut p = fixtures::build_profile("plain-system", "system", 512 * 1024, &demo_sites(), false);
    p.timeline.clear();
    p
}

/// A profile of a run with stack capture off: no call sites at all.
fn profile_without_stacks() -> Profile {
    let mut p = profile_without_stats();
    p.meta.sampling_bytes = 0;
    p.meta.unwinder = "off".into();
    p.sites.clear();
    p
}

// ---------------------------------------------------------------------------------------------
// Running Chromium

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ALLOCSCOPE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

fn skip_without_chromium() -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        eprintln!(
            "SKIPPED browser check: no chromium in PATH (install Debian's package: \
             apt-get install -y chromium, or set ALLOCSCOPE_CHROMIUM)"
        );
    }
    found
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium on `url` with extra `args`; returns its stdout. Kills it after
/// `timeout` (a hang guard, not a speed target).
fn run_chromium(chromium: &Path, url: &str, args: &[String], timeout: Duration) -> String {
    let profile_dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1400,3000",
            // Lets the page's deferred rendering (setTimeout) run before the dump/screenshot.
            "--virtual-time-budget=60000",
        ])
        .arg(format!("--user-data-dir={}", profile_dir.path().display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {timeout:?} on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    assert!(
        status.success(),
        "chromium failed ({status}) on {url}:\n{stderr}"
    );
    stdout
}

fn write_report(name: &str, profile: &Profile) -> PathBuf {
    let path = out_dir().join(format!("{name}.html"));
    let page = html::render_with_self_test(profile, &html::HtmlOptions::default());
    std::fs::write(&path, page).unwrap();
    path
}

/// Opens the report with `#selftest` and returns the JSON the page wrote.
fn self_test(chromium: &Path, report: &Path, timeout: Duration) -> Value {
    let url = format!("file://{}#selftest", report.display());
    let dom = run_chromium(chromium, &url, &["--dump-dom".into()], timeout);
    let start = dom
        .find(r#"<pre id="selftest""#)
        .expect("selftest element in dumped DOM");
    let body = &dom[start..];
    let body = &body[body.find('>').unwrap() + 1..body.find("</pre>").unwrap()];
    assert!(
        !body.trim().is_empty(),
        "the page's self-test did not run (dumped before it finished?)"
    );
    let body = body
        .split_once('\n')
        .expect("self-test output: a summary line, then JSON")
        .1;
    let text = body
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("self-test output is not JSON ({e}):\n{text}"));
    assert_eq!(
        v["errors"],
        Value::Array(vec![]),
        "JavaScript errors on the page"
    );
    v
}

fn screenshot(chromium: &Path, report: &Path) -> PathBuf {
    let png = report.with_extension("png");
    let _ = std::fs::remove_file(&png);
    let url = format!("file://{}", report.display());
    run_chromium(
        chromium,
        &url,
        &[format!("--screenshot={}", png.display())],
        Duration::from_secs(120),
    );
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "screenshot {} missing or blank ({size} bytes)",
        png.display()
    );
    eprintln!("screenshot: {}", png.display());
    png
}

// ---------------------------------------------------------------------------------------------
// Reading what the page showed

/// Parses a shown figure ("1,234", "12.3 MiB", "−4.00 MiB", "45.6%", "12.50 s", "3.2 ms") into
/// base units, with the tolerance its rounding allows.
fn parse_shown(text: &str) -> (f64, f64) {
    let text = text.trim().replace('\u{2212}', "-").replace(',', "");
    let units: [(&str, f64); 9] = [
        (" PiB", (1u64 << 50) as f64),
        (" TiB", (1u64 << 40) as f64),
        (" GiB", (1u64 << 30) as f64),
        (" MiB", (1u64 << 20) as f64),
        (" KiB", 1024.0),
        (" B", 1.0),
        ("%", 0.01),
        (" ms", 0.001),
        (" s", 1.0),
    ];
    let (number, scale) = units
        .iter()
        .find_map(|&(u, s)| text.strip_suffix(u).map(|n| (n.to_string(), s)))
        .unwrap_or((text.clone(), 1.0));
    let value: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("not a shown number: {text:?}"));
    let decimals = number.split('.').nth(1).map_or(0, str::len) as i32;
    (
        value * scale,
        0.5 * 10f64.powi(-decimals) * scale * (1.0 + 1e-9) + 1e-12,
    )
}

/// Asserts the page shows figure `key` with raw value `expected` and a text that rounds it.
fn assert_figure(page: &Value, key: &str, expected: f64) {
    let fig = &page["checks"][key];
    assert!(fig.is_object(), "figure {key} not shown");
    let raw: f64 = fig["value"].as_str().unwrap().parse().unwrap();
    assert!(
        (raw - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{key}: data {raw} != {expected}"
    );
    assert_text_shows(fig["text"].as_str().unwrap(), expected, key);
}

fn assert_text_shows(text: &str, expected: f64, what: &str) {
    let (shown, tolerance) = parse_shown(text);
    assert!(
        (shown - expected).abs() <= tolerance,
        "{what}: shows {text:?} = {shown}, expected {expected} (±{tolerance})"
    );
}

fn section_empty<'a>(page: &'a Value, id: &str) -> Option<&'a str> {
    page["sections"][id]["empty"].as_str()
}

fn metric(site: &CallSite, key: &str) -> u64 {
    match key {
        "allocs" => site.allocs,
        "bytes" => site.bytes,
        "live_bytes" => site.live_bytes,
        "peak_bytes" => site.peak_bytes,
        _ => unreachable!(),
    }
}

fn cell<'a>(row: &'a Value, key: &str) -> (&'a str, f64) {
    let c = &row[key];
    (
        c["text"].as_str().unwrap(),
        c["value"].as_str().unwrap().parse().unwrap(),
    )
}

// ---------------------------------------------------------------------------------------------
// Checks

fn check_summary(page: &Value, p: &Profile) {
    assert_eq!(
        page["checks"]["meta.program"]["text"],
        p.meta.program.as_str()
    );
    assert_eq!(
        page["checks"]["meta.args"]["text"],
        p.meta.args.join(" ").as_str()
    );
    assert_eq!(
        page["checks"]["meta.allocator"]["value"],
        p.meta.allocator.as_str()
    );
    let t = &p.totals;
    for (key, v) in [
        ("totals.allocs", t.allocs),
        ("totals.frees", t.frees),
        ("totals.reallocs", t.reallocs),
        ("totals.bytes_allocated", t.bytes_allocated),
        ("totals.bytes_freed", t.bytes_freed),
        ("totals.peak_live_bytes", t.peak_live_bytes),
        ("meta.peak_rss", p.meta.peak_rss),
    ] {
        assert_figure(page, key, v as f64);
    }
    let live = page["checks"]["totals.live_bytes"]["text"]
        .as_str()
        .unwrap();
    let (bytes, blocks) = live.split_once(" in ").unwrap();
    assert_text_shows(bytes, t.live_bytes as f64, "live at exit");
    assert_text_shows(
        blocks.trim_end_matches(" blocks"),
        t.live_blocks as f64,
        "live blocks",
    );
    assert_figure(page, "meta.duration_secs", p.meta.duration_secs);
    let sampling = page["checks"]["meta.sampling_bytes"]["text"]
        .as_str()
        .unwrap();
    match p.meta.sampling_bytes {
        0 => assert!(sampling.starts_with("off"), "{sampling}"),
        1 => assert!(sampling.starts_with("exact"), "{sampling}"),
        r => {
            assert!(
                sampling.starts_with("sampled, mean interval "),
                "{sampling}"
            );
            assert_text_shows(
                sampling.rsplit("interval ").next().unwrap(),
                r as f64,
                "sampling interval",
            );
        }
    }
}

const GAP_TERMS: [&str; 10] = [
    "requested",
    "size_class_rounding",
    "allocator_caches",
    "fragmentation",
    "dirty",
    "metadata",
    "muzzy",
    "profiler",
    "untouched",
    "non_heap",
];

fn term(g: &GapBreakdown, name: &str) -> i64 {
    match name {
        "requested" => g.requested,
        "size_class_rounding" => g.size_class_rounding,
        "allocator_caches" => g.allocator_caches,
        "fragmentation" => g.fragmentation,
        "dirty" => g.dirty,
        "metadata" => g.metadata,
        "muzzy" => g.muzzy,
        "profiler" => g.profiler,
        // Shown as it is, on a "less untouched" row (subtracted from the others).
        "untouched" => g.untouched,
        "non_heap" => g.non_heap,
        _ => unreachable!(),
    }
}

fn check_gap(page: &Value, prefix: &str, g: &GapBreakdown) {
    assert_figure(page, &format!("{prefix}.rss"), g.rss as f64);
    for name in GAP_TERMS {
        let v = term(g, name);
        let fig = &page["checks"][format!("{prefix}.{name}")];
        assert_eq!(
            fig["value"].as_str().unwrap().parse::<i64>().unwrap(),
            v,
            "{prefix}.{name}"
        );
        // Shown in MiB.
        let text = fig["text"].as_str().unwrap();
        assert!(text.ends_with(" MiB"), "{prefix}.{name} in MiB: {text}");
        assert_text_shows(text, v as f64, name);
        assert_figure(
            page,
            &format!("{prefix}.{name}.pct"),
            v as f64 / g.rss as f64,
        );
    }
}

/// The start and some words of the first diagnosis sentence, which Rust computes
/// (`GapBreakdown::diagnosis`) and the page shows as is: the largest term of RSS (never
/// `untouched`, which is not part of it; on a tie the first in `GAP_TERMS` order).
fn expected_diagnosis(g: &GapBreakdown) -> (String, &'static str) {
    let (name, v) = GAP_TERMS
        .iter()
        .filter(|n| **n != "untouched")
        .map(|n| (*n, term(g, n)))
        .rev()
        .max_by_key(|&(_, v)| v)
        .unwrap();
    let words = match name {
        "requested" => "live data the program asked for",
        "size_class_rounding" => "size-class rounding",
        "allocator_caches" => "thread caches",
        "fragmentation" => "free space inside partly used pages",
        "dirty" => "freed pages jemalloc has not returned yet",
        "metadata" => "jemalloc's own bootstrap metadata",
        "muzzy" => "MADV_FREE",
        "profiler" => "allocscope's own memory",
        "non_heap" => "outside jemalloc's heap",
        other => unreachable!("{other}"),
    };
    let pct = (v as f64 / g.rss as f64 * 100.0).round();
    (format!("{pct}% of RSS"), words)
}

fn check_timeline(page: &Value, p: &Profile) {
    assert_figure(page, "timeline.points", p.timeline.len() as f64);
    let max = |f: fn(&TimelinePoint) -> Option<u64>| p.timeline.iter().filter_map(f).max();
    assert_figure(
        page,
        "timeline.max.live_bytes",
        max(|t| Some(t.live_bytes)).unwrap() as f64,
    );
    assert_figure(
        page,
        "timeline.max.rss",
        max(|t| Some(t.rss)).unwrap() as f64,
    );
    match max(|t| t.resident) {
        Some(r) => assert_figure(page, "timeline.max.resident", r as f64),
        None => assert!(page["checks"]["timeline.max.resident"].is_null()),
    }
}

fn check_size_classes(page: &Value, p: &Profile) {
    for c in &p.size_classes {
        let k = |f: &str| format!("sizes.{}.{f}", c.size);
        assert_figure(page, &k("size"), c.size as f64);
        assert_figure(page, &k("allocs"), c.allocs as f64);
        assert_figure(page, &k("requested_bytes"), c.requested_bytes as f64);
        assert_figure(
            page,
            &k("waste"),
            (c.usable_bytes - c.requested_bytes) as f64,
        );
        assert_figure(page, &k("live_blocks"), c.live_blocks as f64);
    }
    let sum = |f: fn(&SizeClassCounts) -> u64| p.size_classes.iter().map(f).sum::<u64>() as f64;
    assert_figure(page, "sizes.total.allocs", sum(|c| c.allocs));
    assert_figure(
        page,
        "sizes.total.requested_bytes",
        sum(|c| c.requested_bytes),
    );
    assert_figure(
        page,
        "sizes.total.waste",
        sum(|c| c.usable_bytes - c.requested_bytes),
    );
    assert_figure(
        page,
        "sizes.total.waste.pct",
        (sum(|c| c.usable_bytes) - sum(|c| c.requested_bytes)) / sum(|c| c.usable_bytes),
    );
}

fn check_sites(page: &Value, p: &Profile) {
    let a = &page["actions"]["sites"];
    let n = p.sites.len();
    assert_eq!(a["rows_in_dom"], n.min(50), "one page of rows");
    let name = |s: &CallSite| {
        s.frames
            .first()
            .map_or("(no frames)", |f| f.function.as_str())
            .to_string()
    };
    // Initial order: bytes, descending (the profile's order).
    let first = &a["first_rows"][0];
    let top = p.sites.iter().max_by_key(|s| s.bytes).unwrap();
    assert_eq!(cell(first, "site.name").0, name(top));
    assert_eq!(cell(first, "site.bytes").1, top.bytes as f64);
    assert_text_shows(cell(first, "site.bytes").0, top.bytes as f64, "site bytes");
    assert_text_shows(
        cell(first, "site.allocs").0,
        top.allocs as f64,
        "site allocs",
    );
    assert_text_shows(
        cell(first, "site.live_bytes").0,
        top.live_bytes as f64,
        "site live",
    );
    assert_text_shows(
        cell(first, "site.peak_bytes").0,
        top.peak_bytes as f64,
        "site peak",
    );
    assert_text_shows(
        cell(first, "site.slack_bytes").0,
        top.slack_bytes as f64,
        "site slack",
    );
    if top.lifetimes.freed == 0 {
        assert_eq!(cell(first, "site.freed_1ms").0, "—");
    } else {
        let fast = top.lifetimes.under_1ms as f64 / top.lifetimes.freed as f64;
        assert_text_shows(
            cell(first, "site.freed_1ms").0,
            fast,
            "share freed within 1 ms",
        );
    }
    // Clicking "Allocations" sorts descending, clicking again ascending; ties keep profile order.
    let most = p.sites.iter().rev().max_by_key(|s| s.allocs).unwrap();
    let least = p.sites.iter().min_by_key(|s| s.allocs).unwrap();
    assert_eq!(
        cell(&a["sorted_by_allocs"], "site.allocs").1,
        most.allocs as f64
    );
    assert_eq!(cell(&a["sorted_by_allocs"], "site.name").0, name(most));
    assert_eq!(
        cell(&a["sorted_by_allocs_asc"], "site.allocs").1,
        least.allocs as f64
    );
    // Filter by the last site's allocating function: every site with a matching frame.
    let query = name(p.sites.last().unwrap());
    assert_eq!(a["filter"]["query"], query.as_str());
    let q = query.to_lowercase();
    let matching = p
        .sites
        .iter()
        .filter(|s| {
            s.frames.iter().any(|f| {
                f.function.to_lowercase().contains(&q)
                    || f.file
                        .as_deref()
                        .is_some_and(|x| x.to_lowercase().contains(&q))
            })
        })
        .count();
    assert_eq!(a["filter"]["matches"], matching);
    // Clicking the first row shows its stack, leaf first.
    let details = a["details"].as_str().expect("stack details shown");
    for f in &top.frames {
        assert!(
            details.contains(&f.function),
            "details lack {}: {details}",
            f.function
        );
    }
}

fn check_flame(page: &Value, p: &Profile) {
    let a = &page["actions"]["flame"];
    assert_eq!(a["initial"]["metric"], "bytes");
    for key in ["allocs", "bytes", "live_bytes", "peak_bytes"] {
        let total: u64 = p.sites.iter().map(|s| metric(s, key)).sum();
        let shown = &a["per_metric"][key];
        assert_eq!(shown["total"], total as f64, "flamegraph total of {key}");
        if total == 0 {
            let status = shown["status"].as_str().unwrap();
            assert!(status.contains("nothing to show"), "{key}: {status}");
        } else {
            assert_eq!(shown["metric"], key, "metric switch to {key}");
            assert!(
                shown["frames"].as_u64().unwrap() > 1,
                "frames drawn for {key}"
            );
        }
    }
    // The self-test clicked the widest frame under the root for allocations: the outermost
    // function with the most allocations. Zooming shows its value.
    let mut by_outer: HashMap<&str, u64> = HashMap::new();
    for s in &p.sites {
        if let Some(outer) = s.frames.last() {
            *by_outer.entry(&outer.function).or_default() += s.allocs;
        }
    }
    let most = *by_outer.values().max().unwrap();
    let clicked = a["clicked"].as_str().expect("a frame was clicked");
    assert_eq!(
        by_outer.get(clicked),
        Some(&most),
        "clicked {clicked}, not the widest"
    );
    assert_eq!(a["after_click"]["focus"], clicked);
    assert_eq!(a["after_click"]["focus_value"], most as f64);
    assert!(a["after_click"]["status"]
        .as_str()
        .unwrap()
        .starts_with("Zoomed to "));
    assert_eq!(a["after_unzoom"]["focus"], "");
    assert!(a["after_search"]["status"]
        .as_str()
        .unwrap()
        .contains("Search"));
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn embedded_data_is_escaped_and_complete() {
    let p = generated_profile();
    let page = html::render(&p);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(
        !page.contains("<link") && !page.contains("<script src"),
        "assets inlined"
    );
    // The only URL is the SVG namespace, which is a name, not a fetch.
    let without_ns = page.replace("http://www.w3.org/2000/svg", "");
    assert!(
        !without_ns.contains("http://") && !without_ns.contains("https://"),
        "no network reference"
    );
    let start = page
        .find(r#"<script type="application/json" id="profile-data">"#)
        .unwrap();
    let json = &page[start..];
    let json = &json[json.find('>').unwrap() + 1..json.find("</script>").unwrap()];
    assert!(!json.contains('<'));
    // Rebuild the stacks from the frame table: the names must come back byte for byte.
    let v: Value = serde_json::from_str(json).unwrap();
    let functions = v["frames"]["function"].as_array().unwrap();
    let stacks = v["sites"]["stack"].as_array().unwrap();
    assert_eq!(stacks.len(), p.sites.len());
    for (site, stack) in p.sites.iter().zip(stacks) {
        let names: Vec<&str> = stack
            .as_array()
            .unwrap()
            .iter()
            .map(|i| functions[i.as_u64().unwrap() as usize].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = site.frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(names, expected);
    }
    assert!(functions.iter().any(|f| f == EVIL));
    assert_eq!(v["totals"]["allocs"], p.totals.allocs);
}

/// Checks every section of the page against the profile, whichever parts the profile has:
/// figures where it has data, a "no data" note where it has none.
fn check_report(page: &Value, p: &Profile) {
    check_summary(page, p);
    if p.gap.is_none() && p.gap_at_peak.is_none() {
        let note = section_empty(page, "gap").expect("gap section says it has no data");
        let allocator = format!("\"{}\"", p.meta.allocator);
        assert!(
            note.starts_with("No RSS breakdown") && note.contains(&allocator),
            "{note}"
        );
    } else {
        assert_eq!(section_empty(page, "gap"), None);
        if let Some(g) = &p.gap {
            check_gap(page, "gap", g);
        }
        if let Some(g) = &p.gap_at_peak {
            check_gap(page, "gap_at_peak", g);
        }
        let (start, words) = expected_diagnosis(p.gap.as_ref().or(p.gap_at_peak.as_ref()).unwrap());
        let first = page["checks"]["diagnosis"][0].as_str().unwrap();
        assert!(
            first.starts_with(&start) && first.contains(words),
            "diagnosis: {first}"
        );
    }
    if p.timeline.is_empty() {
        let note = section_empty(page, "timeline").expect("timeline section says it has no data");
        assert!(note.starts_with("No timeline"), "{note}");
    } else {
        assert_eq!(section_empty(page, "timeline"), None);
        check_timeline(page, p);
    }
    if p.size_classes.is_empty() {
        let note = section_empty(page, "sizes").expect("size classes say there are none");
        assert!(note.starts_with("No size classes"), "{note}");
    } else {
        assert_eq!(section_empty(page, "sizes"), None);
        check_size_classes(page, p);
    }
    if p.sites.is_empty() {
        let why = if p.meta.sampling_bytes == 0 {
            "stack capture was off"
        } else {
            "no allocation was sampled"
        };
        for id in ["sites", "flame"] {
            let note =
                section_empty(page, id).unwrap_or_else(|| panic!("{id} says it has no data"));
            assert!(note.contains(why), "{note}");
        }
    } else {
        assert_eq!(section_empty(page, "sites"), None);
        assert_eq!(section_empty(page, "flame"), None);
        check_sites(page, p);
        check_flame(page, p);
    }
    for id in ["summary", "gap", "timeline", "sizes", "sites", "flame"] {
        let height = page["sections"][id]["height"].as_u64().unwrap();
        assert!(height > 60, "section {id} rendered ({height} px)");
    }
}

#[test]
fn report_shows_the_profile() {
    let p = profile_under_test();
    // The profile under test exercises every section.
    assert!(
        p.gap.is_some()
            && !p.timeline.is_empty()
            && !p.sites.is_empty()
            && !p.size_classes.is_empty()
    );
    let Some(chromium) = skip_without_chromium() else {
        return;
    };
    let report = write_report("report", &p);
    let page = self_test(&chromium, &report, Duration::from_secs(120));
    check_report(&page, &p);
    screenshot(&chromium, &report);
}

#[test]
fn sections_without_data_say_so() {
    let Some(chromium) = skip_without_chromium() else {
        return;
    };
    // Sampled mode over the system allocator: no gap, no timeline.
    let p = profile_without_stats();
    assert!(p.gap.is_none() && p.timeline.is_empty() && !p.sites.is_empty());
    let report = write_report("report-no-stats", &p);
    let page = self_test(&chromium, &report, Duration::from_secs(120));
    check_report(&page, &p);
    screenshot(&chromium, &report);

    // Stack capture off: no call sites either.
    let p = profile_without_stacks();
    assert!(p.sites.is_empty());
    let report = write_report("report-no-stacks", &p);
    let page = self_test(&chromium, &report, Duration::from_secs(120));
    check_report(&page, &p);
}

#[test]
fn given_diagnosis_replaces_the_derived_one() {
    let p = profile_under_test();
    let mut options = html::HtmlOptions::default();
    let sentences = vec![
        "First sentence <b>not bold</b>.".to_string(),
        "Second sentence.".to_string(),
    ];
    options.diagnosis = Some(sentences.clone());
    let page = html::render_with_self_test(&p, &options);
    let Some(chromium) = skip_without_chromium() else {
        return;
    };
    let report = out_dir().join("report-diagnosis.html");
    std::fs::write(&report, page).unwrap();
    let page = self_test(&chromium, &report, Duration::from_secs(120));
    assert_eq!(page["checks"]["diagnosis"], serde_json::json!(sentences));
}

#[test]
fn large_profile_stays_responsive() {
    let Some(chromium) = skip_without_chromium() else {
        return;
    };
    let p = fixtures::large_tree(100_000);
    let rendering = Instant::now();
    let report = write_report("report-large", &p);
    // Informational (speed targets belong in benches); debug builds are ~20x slower.
    eprintln!(
        "100k stacks: rendered and written in {:.2} s",
        rendering.elapsed().as_secs_f64()
    );
    let size = std::fs::metadata(&report).unwrap().len();
    let started = Instant::now();
    let page = self_test(&chromium, &report, Duration::from_secs(300));
    eprintln!(
        "100k stacks: report {:.1} MiB, browser run {:.1} s, page timings {}",
        size as f64 / MIB as f64,
        started.elapsed().as_secs_f64(),
        page["timings"]
    );
    check_sites(&page, &p);
    check_flame(&page, &p);
    // Only frames at least half a pixel wide are laid out: a few thousand, not millions.
    let frames = page["actions"]["flame"]["per_metric"]["bytes"]["frames"]
        .as_u64()
        .unwrap();
    assert!(frames < 60_000, "{frames} frames laid out");
}

/// A profile flushed by `ALLOCSCOPE_FLUSH_SECS` in a container with a 2 GiB limit: the page
/// says first that it is a flushed profile, and under the gap what RSS is of the limit.
#[test]
fn flushed_profile_in_a_container_says_so() {
    let mut p = profile_without_stats();
    p.version = PROFILE_VERSION;
    p.meta.kind = allocscope::profile::ProfileKind::Flushed;
    p.meta.written_unix_ms = Some(1_764_000_012_000);
    p.cgroup = Some(allocscope::CgroupMemory {
        version: allocscope::cgroup::CgroupVersion::V2,
        path: "/kubepods/pod1/app".into(),
        rss: 1229 * MIB as u64,
        current: 1600 * MIB as u64,
        limit: Some(2048 * MIB as u64),
        anon: Some(1250 * MIB as u64),
        file: Some(300 * MIB as u64),
        kernel: Some(40 * MIB as u64),
        sock: Some(MIB as u64),
        shmem: Some(0),
    });
    let Some(chromium) = skip_without_chromium() else {
        return;
    };
    let report = write_report("report-flushed-container", &p);
    let page = self_test(&chromium, &report, Duration::from_secs(120));
    check_report(&page, &p);
    // 1229 MiB = 1.20 GiB, 60.0% of 2 GiB; 1600 MiB = 1.56 GiB, 78.1%.
    assert_eq!(
        page["checks"]["container"]["text"],
        "Container (cgroup v2): RSS 1.20 GiB of a 2.00 GiB limit (60.0%); page cache 300 MiB \
         also counts toward the limit; the cgroup is charged 1.56 GiB in all (78.1%)."
    );
    let note = page["checks"]["profile_note"]["text"].as_str().unwrap();
    assert_eq!(page["checks"]["profile_note"]["value"], "flushed");
    // 1_764_000_012 s since the epoch is 2025-11-24 16:00:12 UTC; the run's 2 s.
    assert!(
        note.starts_with("Flushed profile, not a final one")
            && note.contains("at 2025-11-24 16:00:12 UTC, 2.00 s into the run"),
        "{note}"
    );
    // The legacy memory controller is named as such.
    let mut v1 = p.clone();
    if let Some(cg) = v1.cgroup.as_mut() {
        cg.version = allocscope::cgroup::CgroupVersion::V1;
    }
    let report = write_report("report-container-v1", &v1);
    let page = self_test(&chromium, &report, Duration::from_secs(120));
    let text = page["checks"]["container"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("Container (cgroup v1): RSS 1.20 GiB of a 2.00 GiB limit"),
        "{text}"
    );
    // A final profile has no note, and no cgroup no sentence.
    let plain = profile_without_stats();
    let report = write_report("report-final-no-cgroup", &plain);
    let page = self_test(&chromium, &report, Duration::from_secs(120));
    assert!(page["checks"].get("profile_note").is_none());
    assert!(page["checks"].get("container").is_none());
}
