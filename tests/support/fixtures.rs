//! Builds realistic `Profile` values for the report tests and benches: internally
//! consistent (totals and size classes are the sums of the call sites), with the names that
//! trip up report tools (`<`, `>`, `::`, `[u8; 8]`, a mangled symbol, a hash suffix, an
//! inlined frame), several size classes, a gap and a timeline.
//!
//! `tests/data/report_golden/profiles/*.json` are these profiles saved (`BLESS=1 cargo test --test
//! report_golden` rewrites them; a test checks they still match).
#![allow(dead_code)]

use allocscope::profile::{
    CallSite, Frame, Lifetimes, Profile, ProfileKind, ProfileMeta, SiteSizeClass, TimelinePoint,
    Totals, PROFILE_FORMAT,
};
use allocscope::{GapBreakdown, SizeClassCounts};

/// jemalloc's size class of a request (4 KiB pages; see docs/jemalloc.md, "Size classes").
pub fn size_class(size: u64) -> u64 {
    const SMALL: [u64; 9] = [8, 16, 32, 48, 64, 80, 96, 112, 128];
    if let Some(&c) = SMALL.iter().find(|&&c| size <= c) {
        return c;
    }
    if size > 14336 {
        return size.div_ceil(4096) * 4096;
    }
    // 4 classes per doubling above 128: group base b, step b/4.
    let mut base = 128u64;
    loop {
        let step = base / 4;
        for k in 1..=4 {
            if size <= base + k * step {
                return base + k * step;
            }
        }
        base *= 2;
    }
}

/// What one call site did, in the terms a test can compute figures from.
pub struct SiteSpec {
    /// Frames leaf first: (function, file, line, inlined).
    pub frames: Vec<(&'static str, Option<&'static str>, Option<u32>, bool)>,
    /// Bytes requested per allocation.
    pub size: u64,
    /// Allocations.
    pub count: u64,
    /// Of which freed before the profile was written.
    pub freed: u64,
    /// Of the freed, how many within 1 µs / 1 ms / 1 s.
    pub under: (u64, u64, u64),
    /// Median lifetime, ns.
    pub median_ns: Option<u64>,
    /// Blocks live at the peak.
    pub at_peak: u64,
}

fn roots() -> Vec<(&'static str, Option<&'static str>, Option<u32>, bool)> {
    vec![
        ("kvstore::main", Some("src/main.rs"), Some(48), false),
        (
            "core::ops::function::FnOnce::call_once",
            Some("/rustc/library/core/src/ops/function.rs"),
            Some(250),
            false,
        ),
        (
            "std::rt::lang_start::{{closure}}",
            Some("/rustc/library/std/src/rt.rs"),
            Some(206),
            false,
        ),
        (
            "std::rt::lang_start_internal",
            Some("/rustc/library/std/src/rt.rs"),
            Some(175),
            false,
        ),
        ("main", None, None, false),
    ]
}

fn stack(
    own: &[(&'static str, Option<&'static str>, Option<u32>, bool)],
) -> Vec<(&'static str, Option<&'static str>, Option<u32>, bool)> {
    let mut frames = own.to_vec();
    frames.extend(roots());
    frames
}

/// The call sites of the `kvstore` example; `smallvec` is the variant after keys moved from
/// `Vec<u8>` to `SmallVec<[u8; 8]>` (most keys fit inline: far fewer allocations).
pub fn kvstore_sites(smallvec: bool) -> Vec<SiteSpec> {
    let mut sites = vec![
        SiteSpec {
            frames: stack(&[
                (
                    "kvstore::index::Index<K,V>::insert",
                    Some("src/index.rs"),
                    Some(88),
                    false,
                ),
                ("kvstore::db::Db::put", Some("src/db.rs"), Some(131), false),
                (
                    "kvstore::server::handle_connection::{{closure}}",
                    Some("src/server.rs"),
                    Some(57),
                    false,
                ),
            ]),
            size: 4000,
            count: 2_000,
            freed: 1_200,
            under: (0, 10, 900),
            median_ns: Some(250_000_000),
            at_peak: 1_500,
        },
        SiteSpec {
            frames: stack(&[
                (
                    "<alloc::string::String as core::clone::Clone>::clone",
                    Some("/rustc/library/alloc/src/string.rs"),
                    Some(2110),
                    true,
                ),
                ("kvstore::db::Db::get", Some("src/db.rs"), Some(152), false),
                (
                    "kvstore::server::handle_connection::{{closure}}",
                    Some("src/server.rs"),
                    Some(61),
                    false,
                ),
            ]),
            size: 100,
            count: 30_000,
            freed: 30_000,
            under: (1_000, 29_000, 30_000),
            median_ns: Some(45_000),
            at_peak: 40,
        },
        SiteSpec {
            frames: stack(&[
                (
                    "_ZN7kvstore3wal9WalWriter6append17h8f3a2b1c0d9e7f65E",
                    Some("src/wal.rs"),
                    Some(33),
                    false,
                ),
                ("kvstore::db::Db::put", Some("src/db.rs"), Some(129), false),
                (
                    "kvstore::server::handle_connection::{{closure}}",
                    Some("src/server.rs"),
                    Some(57),
                    false,
                ),
            ]),
            size: 20_000,
            count: 300,
            freed: 299,
            under: (0, 0, 299),
            median_ns: Some(2_000_000),
            at_peak: 2,
        },
        SiteSpec {
            frames: stack(&[
                (
                    "kvstore::cache::LruCache<K,V>::get_or_insert::h0123456789abcdef",
                    Some("src/cache.rs"),
                    Some(71),
                    false,
                ),
                ("kvstore::db::Db::get", Some("src/db.rs"), Some(148), false),
            ]),
            size: 200,
            count: 5_000,
            freed: 4_000,
            under: (0, 100, 2_000),
            median_ns: Some(900_000_000),
            at_peak: 1_200,
        },
        SiteSpec {
            frames: stack(&[(
                "kvstore::config::Config::load",
                Some("src/config.rs"),
                Some(12),
                false,
            )]),
            size: 24,
            count: 10,
            freed: 0,
            under: (0, 0, 0),
            median_ns: None,
            at_peak: 10,
        },
    ];
    // The key buffer: one allocation per key with Vec; with SmallVec only keys over 8 bytes
    // spill to the heap (1 in 10 here), in a differently named function.
    let key_site = if smallvec {
        SiteSpec {
            frames: stack(&[
                ("<smallvec::SmallVec<[u8; 8]> as core::iter::traits::collect::Extend<u8>>::extend", Some("src/key.rs"), Some(19), false),
                ("kvstore::key::Key::from_bytes", Some("src/key.rs"), Some(19), false),
                ("kvstore::db::Db::put", Some("src/db.rs"), Some(127), false),
            ]),
            size: 16,
            count: 4_000,
            freed: 3_900,
            under: (100, 3_800, 3_900),
            median_ns: Some(8_000),
            at_peak: 60,
        }
    } else {
        SiteSpec {
            frames: stack(&[
                (
                    "kvstore::key::Key::from_bytes",
                    Some("src/key.rs"),
                    Some(17),
                    false,
                ),
                ("kvstore::db::Db::put", Some("src/db.rs"), Some(127), false),
            ]),
            size: 12,
            count: 40_000,
            freed: 39_000,
            under: (2_000, 38_000, 39_000),
            median_ns: Some(6_500),
            at_peak: 700,
        }
    };
    sites.push(key_site);
    sites
}

/// Turns site specs into a consistent profile.
pub fn build_profile(
    program: &str,
    allocator: &str,
    sampling_bytes: u64,
    specs: &[SiteSpec],
    with_gap: bool,
) -> Profile {
    let mut sites: Vec<CallSite> = Vec::with_capacity(specs.len());
    let mut classes: std::collections::BTreeMap<u64, SizeClassCounts> = Default::default();
    let mut totals = Totals::default();
    for (n, spec) in specs.iter().enumerate() {
        let class = size_class(spec.size);
        let live = spec.count - spec.freed;
        let frames = spec
            .frames
            .iter()
            .enumerate()
            .map(|(i, &(function, file, line, inlined))| Frame {
                function: function.to_string(),
                file: file.map(str::to_string),
                line,
                // Same address for a frame inlined into the next one, as unwinders report.
                addr: 0x5555_0000_0000
                    + (n as u64) * 0x1000
                    + (i as u64 + u64::from(!inlined)) * 0x10,
                inlined,
            })
            .collect();
        let samples = if sampling_bytes <= 1 {
            spec.count
        } else {
            (spec.size * spec.count).div_ceil(sampling_bytes).max(1)
        };
        sites.push(CallSite {
            stack: Vec::new(),
            frames,
            allocs: spec.count,
            bytes: spec.size * spec.count,
            live_blocks: live,
            live_bytes: spec.size * live,
            peak_bytes: spec.size * spec.at_peak,
            slack_bytes: (class - spec.size) * spec.count,
            samples,
            size_classes: vec![SiteSizeClass {
                size: class,
                allocs: spec.count,
            }],
            lifetimes: Lifetimes {
                freed: spec.freed,
                under_1us: spec.under.0,
                under_1ms: spec.under.1,
                under_1s: spec.under.2,
                median_ns: spec.median_ns,
            },
            span: None,
        });
        let c = classes.entry(class).or_insert(SizeClassCounts {
            size: class,
            ..Default::default()
        });
        c.allocs += spec.count;
        c.frees += spec.freed;
        c.requested_bytes += spec.size * spec.count;
        c.usable_bytes += class * spec.count;
        c.live_blocks += live;
        c.live_requested_bytes += spec.size * live;
        c.live_usable_bytes += class * live;
        totals.allocs += spec.count;
        totals.frees += spec.freed;
        totals.bytes_allocated += spec.size * spec.count;
        totals.bytes_freed += spec.size * spec.freed;
        totals.live_bytes += spec.size * live;
        totals.live_blocks += live;
        totals.peak_live_bytes += spec.size * spec.at_peak;
    }
    sites.sort_by_key(|s| std::cmp::Reverse(s.bytes));
    let size_classes: Vec<SizeClassCounts> = classes.into_values().collect();
    let gap = with_gap.then(|| {
        let requested = totals.live_bytes as i64;
        let rounding: i64 = size_classes
            .iter()
            .map(|c| (c.live_usable_bytes - c.live_requested_bytes) as i64)
            .sum();
        let mut g = GapBreakdown {
            rss: 0,
            requested,
            size_class_rounding: rounding,
            allocator_caches: 180_224,
            fragmentation: 3_145_728,
            dirty: 6_291_456,
            metadata: 2_883_584,
            muzzy: 0,
            profiler: 1_310_720,
            untouched: 0,
            non_heap: 4_194_304,
        };
        g.rss = g.requested
            + g.size_class_rounding
            + g.allocator_caches
            + g.fragmentation
            + g.dirty
            + g.metadata
            + g.muzzy
            + g.profiler
            - g.untouched
            + g.non_heap;
        g
    });
    let timeline = (1..=4)
        .map(|i| TimelinePoint {
            t_secs: i as f64 * 0.5,
            allocs: totals.allocs * i / 4,
            frees: totals.frees * i / 4,
            bytes_allocated: totals.bytes_allocated * i / 4,
            live_bytes: totals.live_bytes * i / 4,
            rss: 8 << 20 | (i << 20),
            resident: with_gap.then_some(7 << 20 | (i << 20)),
            gap: gap.filter(|_| i == 4),
        })
        .collect();
    Profile {
        format: PROFILE_FORMAT.to_string(),
        // Version 1 (names, no raw addresses): old profiles stay readable.
        version: 1,
        meta: ProfileMeta {
            program: program.to_string(),
            args: vec![program.to_string(), "--requests".into(), "50000".into()],
            pid: 4242,
            start_time_unix_ms: 1_764_000_000_000,
            duration_secs: 2.0,
            cpu_time_secs: 1.75,
            allocator: allocator.to_string(),
            allocator_config: None,
            sampling_bytes,
            unwinder: if sampling_bytes == 0 {
                "off"
            } else {
                "frame-pointers"
            }
            .to_string(),
            peak_rss: gap.map_or(20 << 20, |g| g.rss as u64 + (1 << 20)),
            allocscope_version: "0.1.0".to_string(),
            kind: ProfileKind::Final,
            written_unix_ms: None,
        },
        totals,
        size_classes,
        gap,
        gap_at_peak: gap.map(|g| GapBreakdown {
            dirty: 0,
            rss: g.rss - g.dirty,
            ..g
        }),
        sites,
        timeline,
        mappings: Vec::new(),
        addresses: Vec::new(),
        max_depth: None,
        spans: Vec::new(),
        cgroup: None,
        mimalloc_gap: None,
        partial_gap: None,
    }
}

/// `kvstore` over jemalloc, sampled every 512 KiB, before the SmallVec change.
pub fn kvstore_before() -> Profile {
    build_profile(
        "kvstore",
        "jemalloc",
        512 * 1024,
        &kvstore_sites(false),
        true,
    )
}

/// The same after the SmallVec change.
pub fn kvstore_after() -> Profile {
    build_profile(
        "kvstore",
        "jemalloc",
        512 * 1024,
        &kvstore_sites(true),
        true,
    )
}

/// `kvstore` over the system allocator in exact mode: no gap (no statistics).
pub fn kvstore_exact_system() -> Profile {
    build_profile("kvstore", "system", 1, &kvstore_sites(false), false)
}

/// The fixtures saved under `tests/data/report_golden/profiles/`, by file name.
pub fn saved_fixtures() -> Vec<(&'static str, Profile)> {
    vec![
        ("kvstore-before.json", kvstore_before()),
        ("kvstore-after.json", kvstore_after()),
        ("kvstore-exact-system.json", kvstore_exact_system()),
    ]
}

/// A large profile: `n` distinct stacks, 8 to 24 frames deep, drawn from a tree of generic
/// Rust-looking names with a seeded generator (the same `n` gives the same profile).
pub fn large(n: usize) -> Profile {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const MODULES: [&str; 8] = [
        "server", "db", "index", "cache", "wal", "codec", "net", "query",
    ];
    const TYPES: [&str; 6] = [
        "Handler",
        "Table<K,V>",
        "SmallVec<[u8; 8]>",
        "Vec<T>",
        "BTreeMap<K,V>",
        "Arc<Mutex<State>>",
    ];
    let mut specs_frames: Vec<Vec<(String, u32)>> = Vec::with_capacity(n);
    for i in 0..n {
        let depth = 8 + (next() % 17) as usize;
        let mut frames: Vec<(String, u32)> = Vec::with_capacity(depth);
        // Leaf first; the leaf carries the index so every stack is distinct.
        frames.push((
            format!(
                "app::alloc_site_{i}::<impl app::{}>::make",
                TYPES[i % TYPES.len()]
            ),
            (i % 500) as u32,
        ));
        for d in 1..depth {
            let r = next();
            frames.push((
                format!(
                    "app::{}::{}::step_{}",
                    MODULES[(r % 8) as usize],
                    TYPES[((r >> 8) % 6) as usize],
                    (r >> 16) % 4 + d as u64 % 3
                ),
                (r % 1000) as u32,
            ));
        }
        frames.push(("main".to_string(), 1));
        specs_frames.push(frames);
    }
    let mut profile = build_profile("large", "jemalloc", 512 * 1024, &[], true);
    profile.sites = specs_frames
        .into_iter()
        .enumerate()
        .map(|(i, frames)| {
            let size = 8 + next() % 5000;
            let count = 1 + next() % 100;
            let freed = count - count / 4;
            CallSite {
                stack: Vec::new(),
                frames: frames
                    .into_iter()
                    .enumerate()
                    .map(|(d, (function, line))| Frame {
                        function,
                        file: Some("src/app.rs".to_string()),
                        line: Some(line),
                        addr: 0x5555_0000_0000 + (i as u64) * 0x100 + d as u64,
                        inlined: false,
                    })
                    .collect(),
                allocs: count,
                bytes: size * count,
                live_blocks: count - freed,
                live_bytes: size * (count - freed),
                peak_bytes: size * (count / 2),
                slack_bytes: (size_class(size) - size) * count,
                samples: 1,
                size_classes: vec![SiteSizeClass {
                    size: size_class(size),
                    allocs: count,
                }],
                lifetimes: Lifetimes {
                    freed,
                    under_1us: 0,
                    under_1ms: freed / 2,
                    under_1s: freed,
                    median_ns: Some(500_000),
                },
                span: None,
            }
        })
        .collect();
    profile.sites.sort_by_key(|s| std::cmp::Reverse(s.bytes));
    profile
}

/// `n` distinct stacks 6 to 25 frames deep over a pool of 3,000 function names, sharing their
/// callers near the root: a wide and deep call tree for the flamegraph (the HTML report's
/// 100k-stack test). Sites by bytes, descending.
pub fn large_tree(n: usize) -> Profile {
    // xorshift64*, seeded: the same `n` gives the same profile.
    let mut state = 42u64;
    let mut below = move |n: u64| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    };
    let frame = |function: &str, file: &str, line: u32, addr: u64| Frame {
        function: function.to_string(),
        file: Some(file.to_string()),
        line: Some(line),
        addr,
        inlined: false,
    };
    let pool: Vec<String> = (0..3000)
        .map(|i| format!("crate{}::module{}::Type<T>::function_{i}", i % 17, i % 113))
        .collect();
    let mut p = build_profile("large", "jemalloc", 512 * 1024, &[], true);
    p.sites = (0..n)
        .map(|i| {
            let depth = 6 + below(20) as usize;
            // Shared callers near the root, then the index in base 3000 makes the stack distinct.
            let mut outer_first: Vec<Frame> = (0..depth)
                .map(|d| {
                    let f = if d < 3 {
                        d * 7 + (below(3) as usize)
                    } else {
                        below(3000) as usize
                    };
                    frame(&pool[f], "src/lib.rs", 10 + d as u32, 0x1000 + f as u64)
                })
                .collect();
            outer_first.push(frame(&pool[i % 3000], "src/leaf.rs", 1, 0x9000));
            outer_first.push(frame(&pool[(i / 3000) % 3000], "src/leaf.rs", 2, 0x9001));
            let allocs = 1 + below(10_000);
            let bytes = allocs * (8 + below(4000));
            CallSite {
                stack: Vec::new(),
                frames: outer_first.into_iter().rev().collect(),
                allocs,
                bytes,
                live_blocks: allocs / 10,
                live_bytes: bytes / 10,
                peak_bytes: bytes / 4,
                slack_bytes: allocs * 7,
                samples: 1 + below(20),
                size_classes: vec![SiteSizeClass { size: 4096, allocs }],
                lifetimes: Lifetimes {
                    freed: allocs - allocs / 10,
                    under_1us: 0,
                    under_1ms: (allocs - allocs / 10) / 2,
                    under_1s: allocs - allocs / 10,
                    median_ns: Some(1_000),
                },
                span: None,
            }
        })
        .collect();
    p.sites.sort_by_key(|s| std::cmp::Reverse(s.bytes));
    p
}
