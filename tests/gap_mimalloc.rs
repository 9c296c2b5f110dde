//! The RSS gap over mimalloc (feature `mimalloc`): allocscope's own memory is `profiler`,
//! the pages of a large block never touched are `untouched`, the terms add up to RSS, and
//! the profile file carries the gap (`mimalloc_gap`).
//!
//! One scenario, checked against hand-computed figures: a `Vec` reserved at 256 MiB and
//! filled to 16 MiB leaves 240 MiB that mimalloc counts as committed and allocscope as
//! requested, but the kernel never made resident.

use allocscope::{GapReport, MimallocGap, Profiler};

#[global_allocator]
static ALLOC: Profiler<mimalloc::MiMalloc> = Profiler::new(mimalloc::MiMalloc);

const MIB: i64 = 1 << 20;

fn check(g: &MimallocGap, what: &str) {
    assert_eq!(g.sum_of_terms(), g.rss, "{what}: {g:?}");
    for (name, v) in g.terms() {
        assert!(v >= 0, "{what}: {name} is negative: {g:?}");
    }
    assert!(
        (g.untouched - 240 * MIB).abs() <= 4 * MIB,
        "{what}: untouched {} MiB: {g:?}",
        g.untouched / MIB
    );
    // allocscope's site and live tables are resident and counted as its own.
    assert!(g.profiler > 0, "{what}: {g:?}");
    // The reservation is requested in full; only its 16 MiB written are resident.
    assert!(g.requested >= 256 * MIB, "{what}: {g:?}");
    assert!(g.rss < 200 * MIB, "{what}: {g:?}");
}

fn main() {
    let mut v: Vec<u8> = Vec::with_capacity(256 << 20);
    v.resize(16 << 20, 1);
    let g = match allocscope::gap::report() {
        GapReport::Mimalloc(g) => g,
        other => panic!("expected mimalloc's gap, got {other:?}"),
    };
    eprintln!("{g}");
    check(&g, "now");

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("profile.json");
    allocscope::write_profile(&path).expect("write profile");
    let text = std::fs::read(&path).expect("read profile");
    let p: allocscope::profile::Profile = serde_json::from_slice(&text).expect("profile");
    let g = p.mimalloc_gap.expect("the profile carries mimalloc's gap");
    check(&g, "profile");
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
    for term in ["free_and_cached", "profiler", "untouched", "non_heap"] {
        assert!(out.contains(term), "summary lacks {term}:\n{out}");
    }
    assert!(!out.contains("RSS gap: not available"), "{out}");
    std::hint::black_box(v);
    println!("gap_mimalloc: ok");
}
