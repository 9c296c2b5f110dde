//! The gap over the system allocator: what can be known is reported, what cannot be split
//! is labelled as such, nothing panics. jemalloc may be linked in (feature `jemalloc`) but
//! is unused here, so the full breakdown must be absent.
//!
//! `harness = false`: one process, one thread (exact process-wide figures).

use std::alloc::System;

use allocscope::{GapReport, Profiler};

#[global_allocator]
static ALLOC: Profiler<System> = Profiler::new(System);

fn partial() -> allocscope::PartialGap {
    match allocscope::gap::report() {
        GapReport::Partial(p) => p,
        other => panic!("no allocator statistics over System, got {other:?}"),
    }
}

fn main() {
    let _ = partial();
    println!("gap_system: running");
    assert_eq!(allocscope::snapshot().gap, None);
    assert_eq!(
        allocscope::installed_allocator(),
        Some(allocscope::AllocatorKind::System)
    );

    // Keep only p0's numbers: its `allocator` string must not be live at p1.
    let p0 = partial();
    let (req0, round0, malloc0) = (
        p0.requested.unwrap(),
        p0.size_class_rounding_estimate.unwrap(),
        p0.malloc,
    );
    drop(p0);
    // 200k boxes of 100 bytes: 20 MB requested, rounded to 112 by jemalloc's class table.
    let held: Vec<Box<[u8; 100]>> = (0..200_000).map(|i| Box::new([i as u8; 100])).collect();
    let p1 = partial();
    let held_bytes = 200_000 * 100 + 200_000 * 8;
    assert_eq!(p1.requested.unwrap() - req0, held_bytes);
    let rounding = p1.size_class_rounding_estimate.unwrap() - round0;
    // 12 bytes per box; the 1.6 MB vector is page-rounded (≤ one page).
    assert!(
        (200_000 * 12..200_000 * 12 + 4096).contains(&rounding),
        "{rounding}"
    );
    let anon = p1.anonymous.expect("RssAnon from /proc/self/status");
    assert!(anon >= held_bytes, "{p1:?}");
    assert!(p1.file_backed.unwrap() > 0, "{p1:?}");
    assert!(p1.unsplit().is_some());
    // allocscope's own tables are counted (the site table's index at least is touched).
    assert!(p1.profiler.unwrap() > 0, "{p1:?}");
    assert!(p1.profiler.unwrap() < anon, "{p1:?}");

    // A 64 MiB reservation with 4 MiB written: glibc maps it on its own; 60 MiB are
    // requested but never touched (transparent huge pages may fault in up to 2 MiB more).
    let mut reserve: Vec<u8> = Vec::with_capacity(64 << 20);
    reserve.resize(4 << 20, 1);
    let untouched = partial().untouched.unwrap();
    assert!(
        (untouched as i64 - (60 << 20)).abs() <= 2 << 20,
        "untouched {untouched}"
    );
    drop(reserve);
    assert_eq!(partial().untouched, Some(0));
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // glibc serves these allocations: its in-use figure covers them (plus 8-byte headers).
        let m = p1.malloc.expect("mallinfo2 on glibc");
        let m0 = malloc0.unwrap();
        let grew = (m.heap_in_use + m.mmapped) - (m0.heap_in_use + m0.mmapped);
        assert!(grew >= held_bytes, "{m0:?} → {m:?}");
    }

    let text = p1.to_string();
    println!("{text}\n");
    for label in [
        "rss",
        "requested",
        "size_class_rounding~",
        "anonymous",
        "file_backed",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(label)),
            "no {label} row:\n{text}"
        );
    }
    assert!(text.contains("estimated"), "{text}");
    assert!(text.contains("cannot be split"), "{text}");
    assert!(
        text.contains("system allocator gives no statistics"),
        "{text}"
    );

    // A profile written now carries what can be known, allocscope's own memory among it
    // (issue 10: the `profiler` term in every report), and the summary shows it.
    #[cfg(feature = "serde")]
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("system.json");
        allocscope::write_profile(&path).expect("write the profile");
        let profile = allocscope::profile::Profile::read(&path).expect("read it back");
        assert_eq!(profile.gap, None);
        let written = profile
            .partial_gap
            .clone()
            .expect("partial_gap over System");
        assert!(written.profiler.unwrap() > 0, "{written:?}");
        assert!(written.requested.unwrap() >= held_bytes, "{written:?}");
        #[cfg(feature = "cli")]
        {
            let mut out = Vec::new();
            allocscope::report::summary::Summary::new(&profile, 5)
                .write_text(&mut out)
                .unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("  of which profiler"), "{text}");
            assert!(!text.contains("RSS gap: not available"), "{text}");
        }
    }

    drop(held);
    let report = allocscope::purge();
    println!("{report}");
    assert!(report.rss_before > 0 && report.rss_after > 0, "{report:?}");
    assert!(report.malloc_trim_released.is_some() || !cfg!(target_env = "gnu"));
    // jemalloc is linked but unused: it had nothing to purge.
    if let Some(purged) = report.jemalloc_purged {
        assert!(purged < 1 << 20, "{report:?}");
    }
    println!("gap_system: ok");
}
