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
use std::time::{Duration, Instant};

use allocscope::profile::{
    Profile, ProfileMeta, TimelinePoint, Totals, PROFILE_FORMAT, PROFILE_VERSION,
};
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
    let started = Instant::now();
    let start_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
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

    if let Ok(path) = std::env::var("ALLOCSCOPE_OUT") {
        // LEAD: replace this call with `allocscope::write_profile(&path)` once the profile
        // writer lands on main (and drop `write_local_profile` and its helpers below);
        // `write_local_profile` fills what the crate can tell already, without call sites.
        if let Err(e) = write_local_profile(&path, started, start_unix_ms, timeline) {
            eprintln!("{path}: cannot write profile: {e}");
            std::process::exit(1);
        }
    }
    drop(versions);
}

/// The kernel's peak RSS (`VmHWM`), bytes; 0 when unavailable.
fn peak_rss() -> u64 {
    allocscope::untracked(|| allocscope::procfs::peak_rss().unwrap_or(0))
}

/// User + system CPU time of the process, seconds.
fn cpu_time_secs() -> f64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `ru` points to writable memory of the size getrusage expects.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) };
    if rc != 0 {
        return 0.0;
    }
    // SAFETY: getrusage returned 0, so it filled the struct (and it was zeroed before).
    let ru = unsafe { ru.assume_init() };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// A profile of what this process can measure itself, written atomically.
fn write_local_profile(
    path: &str,
    started: Instant,
    start_unix_ms: u64,
    timeline: Vec<TimelinePoint>,
) -> Result<(), allocscope::profile::ProfileError> {
    let s = allocscope::snapshot();
    let allocator = allocscope::installed_allocator()
        .map_or("unknown", |k| k.name())
        .to_string();
    let args: Vec<String> = std::env::args().collect();
    let gap_at_peak = timeline
        .iter()
        .filter(|p| p.gap.is_some())
        .max_by_key(|p| p.live_bytes)
        .and_then(|p| p.gap);
    let profile = Profile {
        format: PROFILE_FORMAT.into(),
        version: PROFILE_VERSION,
        meta: ProfileMeta {
            program: args
                .first()
                .and_then(|a| std::path::Path::new(a).file_name())
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
            args,
            pid: std::process::id(),
            start_time_unix_ms: start_unix_ms,
            duration_secs: started.elapsed().as_secs_f64(),
            cpu_time_secs: cpu_time_secs(),
            allocator_config: allocscope::allocator_config(),
            allocator,
            sampling_bytes: 0,
            unwinder: "off".into(),
            peak_rss: peak_rss(),
            allocscope_version: env!("CARGO_PKG_VERSION").into(),
        },
        totals: Totals::from(&s),
        size_classes: s.size_classes.clone(),
        gap: s.gap,
        gap_at_peak,
        sites: Vec::new(),
        timeline,
    };
    profile.write(path)
}
