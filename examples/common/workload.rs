//! The workload that `compare_allocators` runs over each allocator, shared by the
//! `workload_system`, `workload_jemalloc` and `workload_mimalloc` examples through `#[path]`
//! (one `#[global_allocator]` per binary, so one tiny binary per allocator).
//!
//! What the seeds do all day, with tiny short-lived objects:
//! 1. parse many version strings (`1.42.7-beta.3+build.12`) into small structs, keep one in
//!    sixteen (the survivors stay scattered among freed neighbours);
//! 2. build a large `HashMap<String, String>` (crate name → version), look every key up,
//!    drop the map;
//! 3. stay idle for a moment, so the timeline (allocscope's recorder, a snapshot every
//!    50 ms) shows whether RSS comes back down once the load has stopped.
//!
//! Environment: `ALLOCSCOPE_OUT=path.json` writes the profile there;
//! `ALLOCSCOPE_WORKLOAD_SCALE` (default 1) multiplies the sizes (1 = 1M versions, 1M map
//! entries); `ALLOCSCOPE_IDLE_MS` (default 1000) is the idle phase.

use std::collections::HashMap;
use std::time::Duration;

use allocscope::timeline::{self, TimelineOptions};

/// A parsed version: three numbers, pre-release identifiers and build metadata.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    major: u32,
    minor: u32,
    patch: u32,
    pre: Vec<Box<str>>,
    build: Option<Box<str>>,
}

/// Parses `MAJOR.MINOR.PATCH[-PRE][+BUILD]`.
pub fn parse_version(s: &str) -> Option<Version> {
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => (r, Some(Box::<str>::from(b))),
        None => (s, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, p.split('.').map(Box::<str>::from).collect()),
        None => (rest, Vec::new()),
    };
    let mut nums = core.split('.').map(|n| n.parse::<u32>().ok());
    let v = Version {
        major: nums.next()??,
        minor: nums.next()??,
        patch: nums.next()??,
        pre,
        build,
    };
    nums.next().is_none().then_some(v)
}

/// A deterministic stream of version strings (xorshift), some with pre-release and build parts.
fn version_string(i: u64) -> String {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    let (a, b, c) = (x % 4, (x >> 8) % 60, (x >> 16) % 200);
    match (x >> 24) % 4 {
        0 => format!("{a}.{b}.{c}"),
        1 => format!("{a}.{b}.{c}-beta.{}", (x >> 32) % 10),
        2 => format!(
            "{a}.{b}.{c}-rc.{}+build.{}",
            (x >> 32) % 5,
            (x >> 40) % 1000
        ),
        _ => format!("{a}.{b}.{c}+sha.{:x}", x >> 36),
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs the workload and writes the profile to `$ALLOCSCOPE_OUT` if set.
pub fn main() {
    let scale = env_u64("ALLOCSCOPE_WORKLOAD_SCALE", 1).max(1);
    let idle = Duration::from_millis(env_u64("ALLOCSCOPE_IDLE_MS", 1000));
    let n = 1_000_000 * scale;
    if let Err(e) = timeline::start(TimelineOptions::default().interval(Duration::from_millis(50)))
    {
        eprintln!("cannot start the timeline recorder: {e}");
    }

    // 1. Parse versions; keep one in sixteen.
    let mut versions: Vec<Version> = (0..n)
        .filter_map(|i| parse_version(&version_string(i)))
        .collect();
    assert_eq!(versions.len() as u64, n, "every generated version parses");
    let mut i = 0;
    versions.retain(|_| {
        i += 1;
        i % 16 == 0
    });
    versions.sort();
    let newest = versions.last().cloned();

    // 2. Build a map of strings, look everything up, drop it.
    let mut map: HashMap<String, String> = HashMap::new();
    for i in 0..n {
        map.insert(format!("crate-{i:07}"), version_string(i));
    }
    let mut found = 0u64;
    for i in 0..n {
        found += map.contains_key(&format!("crate-{i:07}")) as u64;
    }
    assert_eq!(found, n);
    drop(map);

    // 3. Idle: no allocations; the recorder keeps taking snapshots.
    std::thread::sleep(idle);
    timeline::stop();
    let timeline = timeline::points();

    println!(
        "{}: {} versions kept (newest {:?}), peak RSS {} KiB",
        allocscope::installed_allocator().map_or("?", |k| k.name()),
        versions.len(),
        newest.map(|v| (v.major, v.minor, v.patch)),
        peak_rss() / 1024
    );
    // The same verdict a long-running service can print about itself from its timeline.
    let verdict = allocscope::convergence::assess(
        &timeline,
        &allocscope::convergence::ConvergenceOptions::default(),
    );
    print!("{verdict}");

    // With `ALLOCSCOPE_OUT` set, allocscope writes the profile (call sites, timeline, gap at
    // exit and at the timeline's peak) when the process exits.
    drop(versions);
}

/// The kernel's peak RSS (`VmHWM`), bytes; 0 when unavailable.
fn peak_rss() -> u64 {
    allocscope::untracked(|| allocscope::procfs::peak_rss().unwrap_or(0))
}
