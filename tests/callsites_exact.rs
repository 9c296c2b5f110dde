//! Exact mode (`ALLOCSCOPE_SAMPLE_BYTES=1`): per-site figures of known `#[inline(never)]`
//! functions are exact, and all sites add up to the process totals.

#[path = "support/callsites/mod.rs"]
mod callsite_support;
use callsite_support as common;

use std::alloc::System;
use std::hint::black_box;

#[path = "support/distinct_stacks.rs"]
mod distinct_stacks;
use distinct_stacks::left;

#[global_allocator]
static ALLOC: allocscope::Profiler<System> = allocscope::Profiler::new(System);

/// 1000 blocks of 24 bytes, each freed at once.
#[inline(never)]
fn short_lived_24() {
    for i in 0..1000u32 {
        let b = Box::new([i as u8; 24]);
        black_box(&b);
    }
}

/// 500 blocks of 100 bytes, returned to the caller (boxed on purpose: one block each).
#[inline(never)]
#[allow(clippy::vec_box)]
fn kept_100(out: &mut Vec<Box<[u8; 100]>>) {
    for _ in 0..500 {
        out.push(Box::new([1u8; 100]));
    }
}

/// 37 zeroed blocks of 5000 bytes, freed at once.
#[inline(never)]
fn zeroed_5000() {
    for _ in 0..37 {
        let v = vec![0u8; 5000];
        black_box(&v);
    }
}

/// One Vec grown from 1 to 64 elements of 8 bytes by pushing: one alloc, reallocs after.
#[inline(never)]
fn grown_vec() -> Vec<u64> {
    let mut v = Vec::new();
    for i in 0..64u64 {
        v.push(black_box(i));
    }
    v
}

#[test]
fn exact_sites() {
    if common::is_child() {
        let mut kept = Vec::with_capacity(500);
        short_lived_24();
        kept_100(&mut kept);
        zeroed_5000();
        let v = grown_vec();
        black_box((&kept, &v));
        drop(kept);
        drop(v);
        return;
    }
    // Both stack capture methods must give the same sites.
    for unwind in ["fp", "dwarf"] {
        let p = common::run_child(
            "exact_sites",
            &[
                ("ALLOCSCOPE_SAMPLE_BYTES", "1"),
                ("ALLOCSCOPE_UNWIND", unwind),
            ],
        );
        check_exact(&p);
        let want = if unwind == "fp" {
            "frame-pointers"
        } else {
            "dwarf"
        };
        assert_eq!(p.meta.unwinder, want);
    }
}

fn check_exact(p: &allocscope::profile::Profile) {
    let p = p.clone();
    assert_eq!(p.meta.sampling_bytes, 1);
    assert_eq!(p.meta.allocator, "system");

    let s = common::site(&p, "short_lived_24");
    assert_eq!((s.allocs, s.bytes, s.samples), (1000, 24_000, 1000));
    assert_eq!(
        s.slack_bytes,
        1000 * (32 - 24),
        "24 bytes round up to the 32 class"
    );
    assert_eq!(s.size_classes.len(), 1);
    assert_eq!(
        (s.size_classes[0].size, s.size_classes[0].allocs),
        (32, 1000)
    );
    assert_eq!((s.live_blocks, s.live_bytes), (0, 0));
    assert_eq!(s.lifetimes.freed, 1000);
    assert_eq!(s.lifetimes.under_1s, 1000);
    assert!(s.lifetimes.under_1ms >= s.lifetimes.under_1us);
    assert!(s.lifetimes.median_ns.is_some());

    let s = common::site(&p, "kept_100");
    assert_eq!((s.allocs, s.bytes), (500, 50_000));
    assert_eq!(s.slack_bytes, 500 * (112 - 100));
    assert_eq!(s.lifetimes.freed, 500, "freed by the caller before exit");

    let s = common::site(&p, "zeroed_5000");
    assert_eq!((s.allocs, s.bytes), (37, 37 * 5000));
    assert_eq!(s.size_classes[0].size, 5120);

    // Vec growth: amortized doubling from 4 elements (32 B) to 64 (512 B): 1 alloc and 4
    // reallocs (32→64→128→256→512 bytes), each a new allocation of the site.
    let s = common::site(&p, "grown_vec");
    assert_eq!(s.allocs, 5);
    assert_eq!(s.bytes, 32 + 64 + 128 + 256 + 512);
    assert_eq!((s.live_blocks, s.live_bytes), (0, 0));

    // Every allocation of the process was recorded: the sites add up to the totals.
    let allocs: u64 = p.sites.iter().map(|s| s.allocs).sum();
    let bytes: u64 = p.sites.iter().map(|s| s.bytes).sum();
    let live: u64 = p.sites.iter().map(|s| s.live_bytes).sum();
    assert_eq!(allocs, p.totals.allocs + p.totals.reallocs);
    assert_eq!(bytes, p.totals.bytes_allocated);
    assert_eq!(live, p.totals.live_bytes);
    // Sorted by bytes, descending.
    assert!(p.sites.windows(2).all(|w| w[0].bytes >= w[1].bytes));
    // Frames: leaf first, user code first, no hash suffixes, file:line known in tests.
    let s = common::site(&p, "short_lived_24");
    assert!(s.frames[0]
        .file
        .as_deref()
        .is_some_and(|f| f.ends_with("callsites_exact.rs")));
    assert!(s.frames[0].line.is_some());
    assert!(s.frames.iter().any(|f| f.function.ends_with("exact_sites")));
    for s in &p.sites {
        for f in &s.frames {
            let hashed = f
                .function
                .rsplit_once("::h")
                .is_some_and(|(_, t)| t.len() == 16 && t.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(!hashed, "hash suffix left in {}", f.function);
        }
    }
}

/// `write_profile` streams the sites from the site table (docs/symbolization.md); the file
/// must hold exactly what `collect_profile` builds in memory: the same fields, values and
/// site order (everything but `meta` and `cgroup`, which are read anew: clock, CPU time, the
/// cgroup's charge).
#[test]
fn streamed_profile_is_the_collected_one() {
    if common::is_child() {
        let mut keep = Vec::with_capacity(256);
        for n in 0..256 {
            left(8, n, &mut keep);
        }
        short_lived_24();
        zeroed_5000();
        black_box(&keep);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("streamed.json");
        let collected = allocscope::collect_profile();
        allocscope::write_profile(&path).expect("write profile");
        let text = std::fs::read(&path).expect("read profile");
        let mut streamed: serde_json::Value = serde_json::from_slice(&text).expect("JSON");
        let mut collected = serde_json::to_value(&collected).expect("to JSON");
        // The timeline recorder may add a point between the two calls: the collected
        // timeline is a prefix of the written one.
        let timelines: Vec<Vec<serde_json::Value>> = [&mut streamed, &mut collected]
            .into_iter()
            .map(|v| {
                let o = v.as_object_mut().expect("object");
                o.remove("meta");
                // The cgroup's charge and RSS are read anew too (this machine's memory cgroup
                // moves between the two reads): present in both or in neither.
                let cgroup = o.remove("cgroup");
                assert_eq!(cgroup.is_some(), allocscope::snapshot().cgroup.is_some());
                // So are RSS and allocscope's own memory over this allocator without
                // statistics (System): present in both.
                assert!(
                    o.remove("partial_gap").is_some(),
                    "no partial_gap over System"
                );
                match o.remove("timeline") {
                    Some(serde_json::Value::Array(t)) => t,
                    other => panic!("timeline: {other:?}"),
                }
            })
            .collect();
        assert!(
            timelines[0].starts_with(&timelines[1]),
            "timelines differ: {timelines:?}"
        );
        let n_sites = collected["sites"].as_array().map_or(0, Vec::len);
        assert!(n_sites > 256, "{n_sites} sites");
        let differing: Vec<&String> = collected
            .as_object()
            .expect("object")
            .iter()
            .filter(|(k, v)| streamed.get(k.as_str()) != Some(v))
            .map(|(k, _)| k)
            .collect();
        assert!(
            streamed == collected,
            "streamed profile differs in {differing:?}"
        );
        drop(keep);
        return;
    }
    let p = common::run_child(
        "streamed_profile_is_the_collected_one",
        &[("ALLOCSCOPE_SAMPLE_BYTES", "1")],
    );
    // The child's own checks passed; its exit profile (streamed too) reads back.
    assert!(!common::sites(&p, "left").is_empty() || !common::sites(&p, "right").is_empty());
}
