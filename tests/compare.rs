//! `alloc-report compare`: the table's figures are the profiles' figures, and the wording
//! names the largest difference and the gap term behind it.
//!
//! Two kinds of input:
//! - hand-built profiles with known figures (every number below is chosen, so the expected
//!   shares are computed by hand in the comments);
//! - real profiles of `examples/compare_allocators`' workload, recorded on the development
//!   machine (2 cores, shared, so times are noisy) with the gap computation in place
//!   (`tests/data/compare/*.json`): system vs jemalloc, and jemalloc with
//!   `_RJEM_MALLOC_CONF=dirty_decay_ms:0` vs its default. To re-record:
//!   `cargo run --release --example compare_allocators -- tests/data/compare` (then delete
//!   `mimalloc.json` and `comparison.json`), the decay pair as the example's docs show
//!   (into `jemalloc_decay0.json`, `jemalloc_default.json`), and `BLESS=1 cargo test --test
//!   compare`.
//!
//! The rendered text is also checked against golden files (`tests/data/compare/*.txt`);
//! `BLESS=1` rewrites them.

use allocscope::gap::GapBreakdown;
use allocscope::profile::{Profile, ProfileMeta, Totals, PROFILE_FORMAT, PROFILE_VERSION};
use allocscope::report::compare::{compare, ComparedFigure, Comparison, Figure, GapMoment};
use allocscope::GapTerm;

const MIB: u64 = 1 << 20;
const MI: i64 = 1 << 20;

fn profile(
    allocator: &str,
    wall: f64,
    cpu: f64,
    peak_rss: u64,
    gap: Option<GapBreakdown>,
    gap_at_peak: Option<GapBreakdown>,
) -> Profile {
    Profile {
        format: PROFILE_FORMAT.into(),
        version: PROFILE_VERSION,
        meta: ProfileMeta {
            program: format!("workload_{allocator}"),
            args: vec![format!("workload_{allocator}")],
            pid: 42,
            start_time_unix_ms: 1_700_000_000_000,
            duration_secs: wall,
            cpu_time_secs: cpu,
            allocator: allocator.into(),
            allocator_config: (allocator == "jemalloc")
                .then(|| "_RJEM_MALLOC_CONF=dirty_decay_ms:10000".into()),
            sampling_bytes: 0,
            unwinder: "off".into(),
            peak_rss,
            allocscope_version: "0.1.0".into(),
            kind: Default::default(),
            written_unix_ms: None,
        },
        totals: Totals {
            allocs: 3_000_000,
            frees: 2_937_500,
            reallocs: 1_000,
            bytes_allocated: 120 * MIB,
            bytes_freed: 115 * MIB,
            live_bytes: 5 * MIB,
            live_blocks: 62_500,
            peak_live_bytes: 80 * MIB,
        },
        size_classes: Vec::new(),
        gap,
        gap_at_peak,
        sites: Vec::new(),
        timeline: Vec::new(),
        mappings: Vec::new(),
        addresses: Vec::new(),
        max_depth: None,
        spans: Vec::new(),
        cgroup: None,
        mimalloc_gap: None,
        partial_gap: None,
    }
}

/// glibc malloc: no breakdown. Peak RSS 100 MiB.
fn system() -> Profile {
    profile("system", 2.0, 1.9, 100 * MIB, None, None)
}

/// jemalloc: peak RSS 171 MiB (+71%). At peak: requested 80 (as system's peak requested),
/// dirty 57 = 80% of the 71 MiB difference. At exit: 45 of 60 MiB dirty.
fn jemalloc() -> Profile {
    let at_peak = GapBreakdown {
        rss: 171 * MI,
        requested: 80 * MI,
        size_class_rounding: 10 * MI,
        allocator_caches: 2 * MI,
        fragmentation: 15 * MI,
        dirty: 57 * MI,
        metadata: 3 * MI,
        muzzy: 0,
        profiler: 0,
        untouched: 0,
        non_heap: 4 * MI,
    };
    let at_exit = GapBreakdown {
        rss: 60 * MI,
        requested: 5 * MI,
        size_class_rounding: MI,
        allocator_caches: 2 * MI,
        fragmentation: 4 * MI,
        dirty: 45 * MI,
        metadata: 3 * MI,
        muzzy: 0,
        profiler: 0,
        untouched: 0,
        non_heap: 0,
    };
    profile(
        "jemalloc",
        1.6,
        1.5,
        171 * MIB,
        Some(at_exit),
        Some(at_peak),
    )
}

fn named(list: &[(&str, Profile)]) -> Vec<(String, Profile)> {
    list.iter()
        .map(|(n, p)| (n.to_string(), p.clone()))
        .collect()
}

/// Every figure of the model equals the profile's field it comes from, and the text table
/// shows each of them (formatted as `Figure`'s `Display`) on the row's line.
fn check_figures(profiles: &[(String, Profile)], c: &Comparison) {
    assert_eq!(c.profiles.len(), profiles.len());
    for (i, (name, p)) in profiles.iter().enumerate() {
        assert_eq!(&c.profiles[i].name, name);
        assert_eq!(c.profiles[i].allocator, p.meta.allocator);
        assert_eq!(c.profiles[i].allocator_config, p.meta.allocator_config);
        let expect = |m: ComparedFigure| -> Option<Figure> {
            let gap = |mo: GapMoment| match mo {
                GapMoment::Exit => p.gap,
                GapMoment::Peak => p.gap_at_peak,
            };
            Some(match m {
                ComparedFigure::WallTime => Figure::Seconds(p.meta.duration_secs),
                ComparedFigure::CpuTime => Figure::Seconds(p.meta.cpu_time_secs),
                ComparedFigure::Allocations => Figure::Count(p.totals.allocs),
                ComparedFigure::BytesAllocated => Figure::Bytes(p.totals.bytes_allocated as i64),
                ComparedFigure::PeakRequested => Figure::Bytes(p.totals.peak_live_bytes as i64),
                ComparedFigure::PeakRss => Figure::Bytes(p.meta.peak_rss as i64),
                ComparedFigure::Rss(GapMoment::Peak) => Figure::Bytes(p.gap_at_peak?.rss),
                // Without jemalloc's breakdown, mimalloc's gap's RSS, else the RSS read with
                // the cgroup figures; never a timeline point.
                ComparedFigure::Rss(GapMoment::Exit) => Figure::Bytes(
                    p.gap
                        .map(|g| g.rss)
                        .or(p.mimalloc_gap.map(|g| g.rss))
                        .or(p.cgroup.as_ref().map(|c| c.rss as i64))?,
                ),
                ComparedFigure::Gap(mo, GapTerm::Requested) => Figure::Bytes(gap(mo)?.requested),
                ComparedFigure::Gap(mo, GapTerm::SizeClassRounding) => {
                    Figure::Bytes(gap(mo)?.size_class_rounding)
                }
                ComparedFigure::Gap(mo, GapTerm::AllocatorCaches) => {
                    Figure::Bytes(gap(mo)?.allocator_caches)
                }
                ComparedFigure::Gap(mo, GapTerm::Fragmentation) => {
                    Figure::Bytes(gap(mo)?.fragmentation)
                }
                ComparedFigure::Gap(mo, GapTerm::Dirty) => Figure::Bytes(gap(mo)?.dirty),
                ComparedFigure::Gap(mo, GapTerm::Metadata) => Figure::Bytes(gap(mo)?.metadata),
                ComparedFigure::Gap(mo, GapTerm::Muzzy) => Figure::Bytes(gap(mo)?.muzzy),
                ComparedFigure::Gap(mo, GapTerm::Profiler) => Figure::Bytes(gap(mo)?.profiler),
                ComparedFigure::Gap(mo, GapTerm::Untouched) => Figure::Bytes(gap(mo)?.untouched),
                ComparedFigure::Gap(mo, GapTerm::NonHeap) => Figure::Bytes(gap(mo)?.non_heap),
                // Not a term of jemalloc's breakdown: never a row of a jemalloc gap.
                ComparedFigure::Gap(_, GapTerm::FreeAndCached) => return None,
                ComparedFigure::MimallocGap(t) => {
                    let g = p.mimalloc_gap?;
                    Figure::Bytes(match t {
                        GapTerm::Requested => g.requested,
                        GapTerm::SizeClassRounding => g.size_class_rounding,
                        GapTerm::FreeAndCached => g.free_and_cached,
                        GapTerm::Profiler => g.profiler,
                        GapTerm::Untouched => g.untouched,
                        GapTerm::NonHeap => g.non_heap,
                        other => panic!("{other:?} is not a term of mimalloc's gap"),
                    })
                }
            })
        };
        for row in &c.rows {
            assert_eq!(row.values[i], expect(row.metric), "{} of {name}", row.key);
        }
    }
    // The headline rows are always there; the gap blocks when any profile has them.
    for m in [
        ComparedFigure::WallTime,
        ComparedFigure::CpuTime,
        ComparedFigure::Allocations,
        ComparedFigure::BytesAllocated,
        ComparedFigure::PeakRequested,
        ComparedFigure::PeakRss,
    ] {
        assert!(c.row(m).is_some(), "row {}", m.key());
    }
    for mo in [GapMoment::Exit, GapMoment::Peak] {
        let any = profiles.iter().any(|(_, p)| match mo {
            GapMoment::Exit => p.gap.is_some(),
            GapMoment::Peak => p.gap_at_peak.is_some(),
        });
        if mo == GapMoment::Peak {
            assert_eq!(c.row(ComparedFigure::Rss(mo)).is_some(), any);
        }
        assert_eq!(
            c.row(ComparedFigure::Gap(mo, GapTerm::Dirty)).is_some(),
            any
        );
    }

    // The text: each row's line (rows in order; gap blocks repeat labels) holds each
    // profile's figure as `Figure` displays it.
    let text = c.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let mut next = 0;
    for row in &c.rows {
        let found = lines[next..]
            .iter()
            .position(|l| l.starts_with(&row.label) && l[row.label.len()..].starts_with("  "))
            .unwrap_or_else(|| panic!("no line for {} in\n{text}", row.label));
        let line = lines[next + found];
        next += found + 1;
        let mut rest = &line[row.label.len()..];
        for v in &row.values {
            let cell = v.map_or("-".to_string(), |f| f.to_string());
            let at = rest
                .find(&cell)
                .unwrap_or_else(|| panic!("{cell:?} not in {line:?}"));
            rest = &rest[at + cell.len()..];
        }
    }
}

#[test]
fn system_vs_jemalloc_figures_and_wording() {
    let profiles = named(&[("system", system()), ("jemalloc", jemalloc())]);
    let c = compare(&profiles);
    check_figures(&profiles, &c);

    // Changes against system: wall 1.6/2.0 = -20%, peak RSS 171/100 = +71%.
    let wall = c.row(ComparedFigure::WallTime).unwrap();
    assert!((wall.change[1].unwrap() - -0.2).abs() < 1e-12);
    let rss = c.row(ComparedFigure::PeakRss).unwrap();
    assert!((rss.change[1].unwrap() - 0.71).abs() < 1e-12);
    assert_eq!(rss.change[0], None);

    // The largest difference: |ln 1.71| = 0.54 beats |ln 0.8| = 0.22 (wall) and
    // |ln(1.5/1.9)| = 0.24 (CPU).
    let f = c
        .largest_difference("jemalloc")
        .expect("a finding for jemalloc");
    assert_eq!(f.metric, ComparedFigure::PeakRss);
    let a = f.attribution.as_ref().expect("attributed");
    assert_eq!(a.moment, GapMoment::Peak);
    // The term that grew most against what system knows (requested 80 MiB at peak, the rest
    // unknown = 0): dirty, 57 MiB = 57/71 = 80.3% of the difference.
    assert_eq!(a.term, GapTerm::Dirty);
    assert_eq!(a.bytes, 57 * MI);
    assert!((a.share - 57.0 / 71.0).abs() < 1e-12);
    assert_eq!(a.missing_breakdown.as_deref(), Some("system"));
    assert!(
        f.text.starts_with(
            "jemalloc: +71% peak RSS (+71.0 MiB vs system), of which 80% is dirty pages not \
             yet returned in jemalloc — decay, not a leak"
        ),
        "{}",
        f.text
    );
    assert!(
        f.text.contains("system records no gap breakdown"),
        "{}",
        f.text
    );

    // Wall and CPU time are notable too (≥ 5%); allocations are equal, so not mentioned.
    let keys: Vec<&str> = c
        .findings
        .iter()
        .filter(|f| f.profile == "jemalloc")
        .map(|f| f.key.as_str())
        .collect();
    assert_eq!(keys, ["peak_rss", "cpu_time", "wall_time"]);
    assert_eq!(c.findings.iter().filter(|f| f.largest).count(), 1);

    golden("system_vs_jemalloc.txt", &c.to_string());
}

/// Profiles without jemalloc's gap once showed their last timeline point as "RSS at exit":
/// in a short run the point at t = 0 (3.51 MiB for a run that exited at 28.3 MiB). RSS at
/// exit is the RSS read when the profile was written: mimalloc's gap's, else the one read
/// with the cgroup figures, else none ("-").
#[test]
fn rss_at_exit_is_read_when_the_profile_was_written_never_a_timeline_point() {
    let early = allocscope::profile::TimelinePoint {
        t_secs: 0.0,
        allocs: 0,
        frees: 0,
        bytes_allocated: 0,
        live_bytes: 0,
        rss: 3_510_000,
        resident: None,
        gap: None,
    };
    let with_timeline = |mut p: Profile| {
        p.timeline = vec![early.clone()];
        p
    };
    let mut mimalloc = with_timeline(profile("mimalloc", 0.05, 0.05, 30 * MIB, None, None));
    mimalloc.mimalloc_gap = Some(allocscope::MimallocGap {
        rss: 28 * MI,
        requested: 20 * MI,
        free_and_cached: 5 * MI,
        non_heap: 3 * MI,
        committed: 25 * MI,
        ..Default::default()
    });
    mimalloc.cgroup = Some(allocscope::CgroupMemory {
        rss: 29 * MIB,
        ..Default::default()
    });
    let mut in_container = with_timeline(system());
    in_container.cgroup = Some(allocscope::CgroupMemory {
        rss: 17 * MIB,
        ..Default::default()
    });
    let bare = with_timeline(system());
    let profiles = named(&[
        ("mimalloc", mimalloc),
        ("container", in_container),
        ("bare", bare),
    ]);
    let c = compare(&profiles);
    check_figures(&profiles, &c);
    let row = c.row(ComparedFigure::Rss(GapMoment::Exit)).unwrap();
    assert_eq!(
        row.values,
        [
            Some(Figure::Bytes(28 * MI)),
            Some(Figure::Bytes(17 * MI)),
            None
        ]
    );
    let text = c.to_string();
    let line = text
        .lines()
        .find(|l| l.starts_with("RSS at exit"))
        .expect("an RSS at exit row");
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>(),
        ["RSS", "at", "exit", "28.0", "MiB", "17.0", "MiB", "(-39%)", "-"],
        "{text}"
    );
}

#[test]
fn both_breakdowns_divide_by_their_own_difference() {
    // jemalloc with a low decay time against default jemalloc, both with breakdowns: the
    // exit RSS differs by 60 - 15 = 45 MiB, of which dirty 45 - 0 = 45 MiB (100%).
    let default = jemalloc();
    let mut decay0 = jemalloc();
    decay0.meta.allocator_config = Some("_RJEM_MALLOC_CONF=dirty_decay_ms:0".into());
    if let Some(g) = decay0.gap.as_mut() {
        g.dirty = 0;
        g.rss = 15 * MI;
    }
    // Same peak, so the exit RSS is the largest difference: ln(60/15) = 1.39.
    let profiles = named(&[("decay0", decay0), ("default", default)]);
    let c = compare(&profiles);
    check_figures(&profiles, &c);
    let f = c.largest_difference("default").unwrap();
    assert_eq!(f.metric, ComparedFigure::Rss(GapMoment::Exit));
    assert!((f.change - 3.0).abs() < 1e-12);
    let a = f.attribution.as_ref().unwrap();
    assert_eq!(
        (a.term, a.bytes, a.missing_breakdown.as_deref()),
        (GapTerm::Dirty, 45 * MI, None)
    );
    assert!((a.share - 1.0).abs() < 1e-12);
    assert!(
        f.text.starts_with(
            "default: +300% RSS at exit (+45.0 MiB vs decay0), of which 100% is dirty pages not \
             yet returned in default — decay, not a leak"
        ),
        "{}",
        f.text
    );
}

#[test]
fn a_decrease_is_explained_by_the_baseline_terms() {
    // jemalloc first: system's 100 MiB peak is 42% below jemalloc's 171 MiB; what jemalloc
    // had more of is its dirty pages.
    let profiles = named(&[("jemalloc", jemalloc()), ("system", system())]);
    let c = compare(&profiles);
    check_figures(&profiles, &c);
    let f = c.largest_difference("system").unwrap();
    assert_eq!(f.metric, ComparedFigure::PeakRss);
    assert!(f.change < 0.0);
    let a = f.attribution.as_ref().unwrap();
    assert_eq!(a.term, GapTerm::Dirty);
    assert_eq!(a.missing_breakdown.as_deref(), Some("system"));
    assert!(
        f.text.starts_with(
            "system: -42% peak RSS (-71.0 MiB vs jemalloc), of which 80% is dirty pages not yet \
             returned in jemalloc"
        ),
        "{}",
        f.text
    );
}

#[test]
fn time_can_be_the_largest_difference() {
    // mimalloc: half the wall time (ln 2 = 0.69), CPU 1.2 vs 1.9 s (ln 1.58 = 0.46), +10%
    // peak RSS (ln 1.1 = 0.10).
    let mimalloc = profile("mimalloc", 1.0, 1.2, 110 * MIB, None, None);
    let profiles = named(&[("system", system()), ("mimalloc", mimalloc)]);
    let c = compare(&profiles);
    check_figures(&profiles, &c);
    let f = c.largest_difference("mimalloc").unwrap();
    assert_eq!(f.metric, ComparedFigure::WallTime);
    assert_eq!(f.attribution, None);
    assert!(
        f.text
            .starts_with("mimalloc: -50% wall time (-1.00 s vs system)"),
        "{}",
        f.text
    );
    // The RSS difference is notable too, but without breakdowns it is not attributed.
    let rss = c
        .findings
        .iter()
        .find(|f| f.metric == ComparedFigure::PeakRss)
        .unwrap();
    assert!(!rss.largest);
    assert_eq!(rss.attribution, None);
}

#[test]
fn identical_profiles_say_so() {
    let profiles = named(&[("a", system()), ("b", system())]);
    let c = compare(&profiles);
    check_figures(&profiles, &c);
    let f = c.largest_difference("b").unwrap();
    assert_eq!(f.change, 0.0);
    assert!(f.text.contains("none reaches 5%"), "{}", f.text);
    assert_eq!(c.findings.len(), 1);
}

#[test]
fn empty_and_single() {
    let c = compare(&[]);
    assert!(c.rows.iter().all(|r| r.values.is_empty()));
    assert_eq!(c.to_string(), "no profiles to compare\n");
    let one = named(&[("system", system())]);
    let c = compare(&one);
    check_figures(&one, &c);
    assert!(c.findings.is_empty());
}

#[test]
fn json_keeps_exact_integers() {
    let c = compare(&named(&[("system", system()), ("jemalloc", jemalloc())]));
    let v = serde_json::to_value(&c).unwrap();
    let row = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "peak_rss")
        .unwrap();
    assert_eq!(row["values"][0], 100 * MIB);
    assert_eq!(row["values"][1], 171 * MIB);
    let dirty = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "peak.dirty")
        .unwrap();
    assert_eq!(dirty["values"][0], serde_json::Value::Null);
    assert_eq!(dirty["values"][1], 57 * MIB);
    assert_eq!(v["findings"][0]["attribution"]["term"], "dirty");
}

/// Real profiles of the `compare_allocators` workload, recorded on the development machine.
#[test]
fn recorded_workload_profiles() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/compare");
    let read = |n: &str| Profile::read(dir.join(format!("{n}.json"))).unwrap();
    let profiles = vec![
        ("system".to_string(), read("system")),
        ("jemalloc".to_string(), read("jemalloc")),
    ];
    // Same workload: the program asked for the same allocations whichever the allocator.
    assert_eq!(profiles[0].1.meta.allocator, "system");
    assert_eq!(profiles[1].1.meta.allocator, "jemalloc");
    let c = compare(&profiles);
    check_figures(&profiles, &c);

    // The largest difference, found independently: the headline figure with the largest
    // |ln(jemalloc / system)|.
    let (s, j) = (&profiles[0].1, &profiles[1].1);
    let mut figures = vec![
        ("wall_time", s.meta.duration_secs, j.meta.duration_secs),
        ("cpu_time", s.meta.cpu_time_secs, j.meta.cpu_time_secs),
        (
            "allocations",
            s.totals.allocs as f64,
            j.totals.allocs as f64,
        ),
        (
            "bytes_allocated",
            s.totals.bytes_allocated as f64,
            j.totals.bytes_allocated as f64,
        ),
        (
            "peak_requested",
            s.totals.peak_live_bytes as f64,
            j.totals.peak_live_bytes as f64,
        ),
        ("peak_rss", s.meta.peak_rss as f64, j.meta.peak_rss as f64),
    ];
    for (key, gs, gj) in [
        ("peak.rss", s.gap_at_peak, j.gap_at_peak),
        ("exit.rss", s.gap, j.gap),
    ] {
        if let (Some(gs), Some(gj)) = (gs, gj) {
            figures.push((key, gs.rss as f64, gj.rss as f64));
        }
    }
    let expected = figures
        .iter()
        .filter(|(_, a, b)| *a > 0.0 && *b > 0.0)
        .max_by(|x, y| (x.2 / x.1).ln().abs().total_cmp(&(y.2 / y.1).ln().abs()))
        .unwrap();
    let f = c.largest_difference("jemalloc").unwrap();
    assert_eq!(f.key, expected.0, "{}", f.text);
    assert!(f
        .text
        .starts_with(&format!("jemalloc: {}", pct(expected.2 / expected.1 - 1.0))));
    golden("recorded.txt", &c.to_string());
}

/// Real profiles of the workload over jemalloc with `_RJEM_MALLOC_CONF=dirty_decay_ms:0` and
/// with the default 10 s decay: the default keeps the freed map's pages dirty at exit.
#[test]
fn recorded_decay_pair_says_decay_not_a_leak() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/compare");
    let read = |n: &str| Profile::read(dir.join(format!("{n}.json"))).unwrap();
    let profiles = vec![
        ("decay0".to_string(), read("jemalloc_decay0")),
        ("default".to_string(), read("jemalloc_default")),
    ];
    let c = compare(&profiles);
    check_figures(&profiles, &c);
    let (d0, def) = (profiles[0].1.gap.unwrap(), profiles[1].1.gap.unwrap());
    // Independent figures: the exit RSS ratio beats every other headline ratio by far.
    assert!(def.rss as f64 / d0.rss as f64 > 1.3);
    assert_eq!(d0.dirty, 0, "decay 0 purges at once");
    let f = c.largest_difference("default").unwrap();
    assert_eq!(f.metric, ComparedFigure::Rss(GapMoment::Exit));
    let a = f.attribution.as_ref().unwrap();
    assert_eq!(a.term, GapTerm::Dirty);
    assert_eq!(a.bytes, def.dirty - d0.dirty);
    assert!((a.share - (def.dirty - d0.dirty) as f64 / (def.rss - d0.rss) as f64).abs() < 1e-12);
    assert!(
        f.text.contains("dirty pages not yet returned"),
        "{}",
        f.text
    );
    assert!(f.text.contains("— decay, not a leak"), "{}", f.text);
    golden("recorded_decay.txt", &c.to_string());
}

fn pct(change: f64) -> String {
    let p = change * 100.0;
    if p.abs() < 0.05 {
        "±0%".into()
    } else if p.abs() < 9.95 {
        format!("{p:+.1}%")
    } else {
        format!("{p:+.0}%")
    }
}

/// Compares `actual` with `tests/data/compare/NAME`; `BLESS=1` rewrites the file.
fn golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/compare")
        .join(name);
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with BLESS=1 to create it)", path.display()));
    assert_eq!(
        actual,
        expected,
        "{} differs (BLESS=1 to accept)",
        path.display()
    );
}
