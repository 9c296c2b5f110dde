//! The RSS gap over mimalloc (feature `mimalloc`): allocscope's own memory is `profiler`,
//! the pages of a large block never touched are `untouched`, the terms add up to RSS, and
//! the profile file carries the gap (`mimalloc_gap`).
//!
//! Two scenarios, checked against hand-computed figures and the kernel's own counts:
//! - a `Vec` reserved at 256 MiB and filled to 16 MiB leaves 240 MiB that mimalloc counts as
//!   committed and allocscope as requested, but the kernel never made resident;
//! - once that `Vec` is freed, mimalloc keeps its pages committed in its books (free space),
//!   the never-touched ones still not resident. `non_heap` was −241 MiB there before the
//!   gap was bounded by the process's anonymous RSS.
//!
//! In both, no term is negative and `non_heap` is at least the file-backed pages
//! (`/proc/self/statm`'s `shared`, read here on both sides of the gap).

use allocscope::{GapReport, GapTerm, MimallocGap, Profiler};

#[global_allocator]
static ALLOC: Profiler<mimalloc::MiMalloc> = Profiler::new(mimalloc::MiMalloc);

const MIB: i64 = 1 << 20;

/// Resident file-backed and shared bytes (`/proc/self/statm`, third field, in pages).
fn file_backed() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read statm");
    let pages: i64 = statm
        .split_whitespace()
        .nth(2)
        .and_then(|f| f.parse().ok())
        .expect("statm's shared field");
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as i64
}

/// The gap now, with the file-backed pages read before and after it (the lower of the two).
fn gap_now() -> (MimallocGap, i64) {
    let before = file_backed();
    let g = match allocscope::gap::report() {
        GapReport::Mimalloc(g) => g,
        other => panic!("expected mimalloc's gap, got {other:?}"),
    };
    (g, before.min(file_backed()))
}

/// What holds in any gap: the sum, no negative term, `non_heap` at least the file-backed
/// pages.
fn check_bounds(g: &MimallocGap, file_backed: Option<i64>, what: &str) {
    assert_eq!(g.sum_of_terms(), g.rss, "{what}: {g:?}");
    for (name, v) in g.terms() {
        assert!(v >= 0, "{what}: {name} is negative: {g:?}");
    }
    if let Some(fb) = file_backed {
        assert!(
            g.non_heap >= fb,
            "{what}: non_heap {} < file-backed {fb}: {g:?}",
            g.non_heap
        );
    }
    // allocscope's site and live tables are resident and counted as its own.
    assert!(g.profiler > 0, "{what}: {g:?}");
}

fn check(g: &MimallocGap, file_backed: Option<i64>, what: &str) {
    check_bounds(g, file_backed, what);
    // The block's 240 MiB never written, and at most mimalloc's free space besides
    // (committed pages never faulted in, moved there by the bound).
    assert!(
        g.untouched >= 236 * MIB && g.untouched <= 244 * MIB + g.free_and_cached,
        "{what}: untouched {} MiB: {g:?}",
        g.untouched / MIB
    );
    // The reservation is requested in full; only its 16 MiB written are resident.
    assert!(g.requested >= 256 * MIB, "{what}: {g:?}");
    assert!(g.rss < 200 * MIB, "{what}: {g:?}");
}

fn main() {
    let mut v: Vec<u8> = Vec::with_capacity(256 << 20);
    v.resize(16 << 20, 1);
    let (g, fb) = gap_now();
    eprintln!("{g}\nfile-backed {:.1} MiB", fb as f64 / MIB as f64);
    check(&g, Some(fb), "now");

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("profile.json");
    allocscope::write_profile(&path).expect("write profile");
    let text = std::fs::read(&path).expect("read profile");
    let p: allocscope::profile::Profile = serde_json::from_slice(&text).expect("profile");
    let g = p.mimalloc_gap.expect("the profile carries mimalloc's gap");
    check(&g, None, "profile");
    assert_eq!(p.gap, None, "no jemalloc gap over mimalloc");
    // The summary shows mimalloc's terms, with allocscope's own memory as its own line.
    let summary = allocscope::report::Summary::new(&p, 5);
    let mut out = Vec::new();
    summary.write_text(&mut out).expect("summary");
    let out = String::from_utf8(out).expect("utf-8");
    assert!(
        out.contains("RSS gap when the profile was written (mimalloc's statistics)"),
        "{out}"
    );
    assert!(!out.contains("RSS gap: not available"), "{out}");
    summary_table_as_jemalloc(&out, &g);

    // `alloc-report compare`: mimalloc's terms in their rows, `profiler` among them.
    let cmp = allocscope::report::compare::compare(&[
        ("a".to_string(), p.clone()),
        ("b".to_string(), p.clone()),
    ]);
    let text = cmp.to_string();
    assert!(
        text.contains("gap at exit (mimalloc's statistics)"),
        "{text}"
    );
    for t in allocscope::GapTerm::MIMALLOC {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(t.label())),
            "compare lacks {}:\n{text}",
            t.label()
        );
    }
    let json = serde_json::to_string(&cmp).expect("comparison as JSON");
    assert!(json.contains("exit_mimalloc.profiler"), "{json}");

    // The HTML report: the page's data carries the gap and its terms' words, and the page
    // shows them (checked in a browser when there is one).
    let page = allocscope::report::html::render(&p);
    for needle in [
        "\"mimalloc_gap\":{",
        "\"free_and_cached\"",
        "allocscope (profiler)",
    ] {
        assert!(page.contains(needle), "HTML page lacks {needle}");
    }
    html_shows_the_gap(&page, &g);
    std::hint::black_box(&v);

    // The block freed: mimalloc keeps it committed as free space, most of it never
    // resident.
    drop(v);
    let (g, fb) = gap_now();
    eprintln!("{g}\nfile-backed {:.1} MiB", fb as f64 / MIB as f64);
    check_bounds(&g, Some(fb), "freed");
    assert!(g.requested < 16 * MIB, "freed: {g:?}");
    assert!(g.rss < 200 * MIB, "freed: {g:?}");
    // Its 240 MiB never written are still counted by mimalloc (committed) and so are
    // untouched; the free space said to be resident is within RSS.
    assert!(g.committed >= 240 * MIB, "freed: {g:?}");
    assert!(g.untouched >= 236 * MIB, "freed: {g:?}");
    let free = g.free_and_cached_resident();
    assert!(free <= g.rss - g.non_heap, "freed: {free} {g:?}");
    println!("gap_mimalloc: ok");
}

/// The summary's table over mimalloc reads as jemalloc's: the terms' labels in
/// [`GapTerm::MIMALLOC`] order, `untouched` on a "less" row with its positive value, RSS
/// last, no raw key and no negative figure; then mimalloc's own notes.
fn summary_table_as_jemalloc(out: &str, g: &MimallocGap) {
    let table: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("RSS gap when the profile was written"))
        .skip(2)
        .take_while(|l| !l.trim_start().starts_with("RSS "))
        .collect();
    let labels: Vec<&str> = table
        .iter()
        .filter(|l| !l.trim_start().starts_with("of which"))
        .map(|l| l.trim_start())
        .collect();
    assert_eq!(labels.len(), GapTerm::MIMALLOC.len(), "{out}");
    for (l, t) in labels.iter().zip(GapTerm::MIMALLOC) {
        assert!(
            l.starts_with(t.row_label()),
            "{l} is not {}:\n{out}",
            t.row_label()
        );
    }
    let untouched = table
        .iter()
        .find(|l| l.contains("less untouched (not resident)"))
        .expect("an untouched row");
    assert!(
        untouched.contains(&format!("{:.2}", g.untouched as f64 / MIB as f64)),
        "{untouched}"
    );
    assert!(labels[1].starts_with("size-class rounding~"), "{out}");
    for raw in ["free_and_cached", "size_class_rounding", "non_heap"] {
        assert!(
            !table.iter().any(|l| l.contains(raw)),
            "raw key {raw}:\n{out}"
        );
    }
    let negative = |w: &str| w.starts_with(['-', '−']) && w.len() > 1;
    assert!(
        !table.iter().any(|l| l.split_whitespace().any(negative)),
        "{out}"
    );
    assert!(out.contains("MiB committed and"), "{out}");
    assert!(out.contains("~ size-class rounding is estimated"), "{out}");
}

/// Renders `page` in headless Chromium (Debian's `chromium`, or `ALLOCSCOPE_CHROMIUM`) and
/// checks the gap section shows mimalloc's terms with `profiler`'s figure. Without a browser
/// it says so and returns.
fn html_shows_the_gap(page: &str, g: &MimallocGap) {
    let browser = std::env::var_os("ALLOCSCOPE_CHROMIUM")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH")?)
                .map(|d| d.join("chromium"))
                .find(|p| p.is_file())
        });
    let Some(browser) = browser else {
        eprintln!("SKIPPED browser check: no chromium in PATH");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("report.html");
    std::fs::write(&path, page).expect("write page");
    let out = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", path.display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    for t in allocscope::GapTerm::MIMALLOC {
        let cell = format!("data-check=\"mimalloc_gap.{}\"", t.key());
        assert!(dom.contains(&cell), "the page shows no {cell}");
    }
    // The profiler's cell holds its figure (`data-value`, the raw number).
    let at = dom
        .find("data-check=\"mimalloc_gap.profiler\"")
        .expect("profiler cell");
    let tag = &dom[dom[..at].rfind('<').unwrap_or(0)..];
    let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
    assert!(
        tag.contains(&format!("data-value=\"{}\"", g.profiler)),
        "profiler cell {tag}, expected {}",
        g.profiler
    );
    assert!(dom.contains("free and cached"), "no free_and_cached label");
}
