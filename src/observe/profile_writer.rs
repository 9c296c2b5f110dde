//! Assembling and writing the profile file ([`crate::profile::Profile`]).

use std::path::Path;
use std::sync::atomic::Ordering::{Acquire, Relaxed};

use crate::hook::peak;
use crate::hook::sampler::COUNT_ONE;
use crate::hook::settings;
use crate::hook::site_table::{self, LIFETIME_BUCKETS, OVERFLOW_SITE};
use crate::model::profile::{
    CallSite, Frame, Lifetimes, Profile, ProfileError, ProfileMeta, SiteSizeClass, Totals,
    PROFILE_FORMAT, PROFILE_VERSION,
};
use crate::model::size_class::{SizeClass, NUM_CLASSES};

/// Writes a profile of the run so far to `path`, atomically (temporary file, then rename).
///
/// Takes the counters' [`crate::snapshot()`], records every call site's raw return addresses
/// and the process's executable objects (path, build ID, load bias; no debug info is read)
/// and streams JSON to the file; `alloc-report` symbolizes when it reads the profile. With
/// `ALLOCSCOPE_SYMBOLIZE=exit` the names are resolved here instead (this parses the binary's
/// debug info: see docs/symbolization.md for the cost). Nothing it allocates is counted. Also done automatically at exit with `ALLOCSCOPE_OUT=path` or
/// [`crate::Config::out`].
pub fn write_profile(path: impl AsRef<Path>) -> Result<(), ProfileError> {
    crate::hook::guard::untracked(|| {
        let mut profile = collect_profile();
        if crate::observe::symbolize::at_exit_requested() {
            let options = crate::observe::symbolize::SymbolizeOptions::default();
            if let Err(e) = crate::observe::symbolize::symbolize(&mut profile, &options) {
                eprintln!("allocscope: ALLOCSCOPE_SYMBOLIZE=exit: {e}; raw addresses written");
            }
        }
        profile.write(path)
    })
}

/// The profile of the run so far, in memory (what [`write_profile`] writes), with raw
/// addresses: symbolize it with `alloc-report` (or `allocscope::profile::symbolize`).
pub fn collect_profile() -> Profile {
    crate::hook::guard::untracked(build)
}

/// Raw figures of one call site (or of several raw stacks that symbolize alike).
#[derive(Default)]
struct Figures {
    samples: u64,
    allocs: u64,
    bytes: u64,
    slack: u64,
    live_count: i64,
    live_bytes: i64,
    peak_bytes: i64,
    freed: u64,
    under_1us: u64,
    under_1ms: u64,
    under_1s: u64,
    lifetimes: Vec<u64>,
    classes: Vec<u64>,
}

impl Figures {
    fn add(&mut self, s: &site_table::Site) {
        self.samples += s.samples.load(Acquire);
        self.allocs += s.allocs.load(Relaxed);
        self.bytes += s.bytes.load(Relaxed);
        self.slack += s.slack.load(Relaxed);
        self.live_count += s.live_count.load(Relaxed) as i64;
        self.live_bytes += s.live_bytes.load(Relaxed) as i64;
        self.peak_bytes += s.peak_bytes.load(Relaxed) as i64;
        let a = s.life_under_1us.load(Relaxed);
        let b = s.life_1us_1ms.load(Relaxed);
        let c = s.life_1ms_1s.load(Relaxed);
        self.under_1us += a;
        self.under_1ms += a + b;
        self.under_1s += a + b + c;
        self.lifetimes.resize(LIFETIME_BUCKETS, 0);
        for (t, b) in self.lifetimes.iter_mut().zip(&s.lifetimes) {
            let v = b.load(Relaxed);
            *t += v;
            self.freed += v;
        }
        self.classes.resize(NUM_CLASSES, 0);
        for (t, c) in self.classes.iter_mut().zip(&s.classes) {
            *t += c.load(Relaxed);
        }
    }

    fn into_site(self, frames: Vec<Frame>, stack: Vec<u32>) -> CallSite {
        CallSite {
            frames,
            stack,
            allocs: count(self.allocs),
            bytes: self.bytes,
            live_blocks: count(self.live_count.max(0) as u64),
            live_bytes: self.live_bytes.max(0) as u64,
            peak_bytes: self.peak_bytes.max(0) as u64,
            slack_bytes: self.slack,
            samples: self.samples,
            size_classes: self
                .classes
                .iter()
                .enumerate()
                .filter(|(_, &c)| c != 0)
                .map(|(i, &c)| SiteSizeClass {
                    size: SizeClass::from_index(i).map_or(0, SizeClass::size),
                    allocs: count(c),
                })
                .collect(),
            lifetimes: Lifetimes {
                freed: count(self.freed),
                under_1us: count(self.under_1us),
                under_1ms: count(self.under_1ms),
                under_1s: count(self.under_1s),
                median_ns: median(&self.lifetimes),
            },
        }
    }
}

/// Fixed-point count to a whole number of allocations.
fn count(fx: u64) -> u64 {
    (fx + COUNT_ONE / 2) / COUNT_ONE
}

/// Median of a weighted lifetime histogram, interpolated inside its bucket.
fn median(hist: &[u64]) -> Option<u64> {
    let total: u128 = hist.iter().map(|&h| u128::from(h)).sum();
    if total == 0 {
        return None;
    }
    let half = total.div_ceil(2);
    let mut acc: u128 = 0;
    for (b, &h) in hist.iter().enumerate() {
        if h != 0 && acc + u128::from(h) >= half {
            let (lo, hi) = site_table::lifetime_bucket_range(b);
            let frac = (half - acc) as f64 / h as f64;
            return Some(lo + ((hi - lo) as f64 * frac) as u64);
        }
        acc += u128::from(h);
    }
    None
}

/// The program's own figures, read before any of allocscope's exit work (symbolizing,
/// aggregating, writing), so that none of it shows as the program's: its duration, CPU time
/// and peak RSS, its counters and gap, its timeline.
struct ProgramFigures {
    meta: ProfileMeta,
    snap: crate::observe::snapshot::Snapshot,
    timeline: Vec<crate::model::profile::TimelinePoint>,
}

impl ProgramFigures {
    fn take() -> ProgramFigures {
        // Clock, CPU time and VmHWM first: the cheapest reads, and the most sensitive to
        // allocscope's own work.
        let meta = meta();
        let snap = crate::observe::snapshot::snapshot();
        peak::settle(snap.live_bytes);
        // A copy: points the recorder takes later (during the exit work) are not kept.
        let timeline = crate::observe::timeline::points();
        ProgramFigures {
            meta,
            snap,
            timeline,
        }
    }
}

fn build() -> Profile {
    let ProgramFigures {
        meta,
        snap,
        timeline,
    } = ProgramFigures::take();
    // Raw stacks only: names come later, from the binary (docs/symbolization.md). Stacks
    // differ by address, so sites never merge here; `alloc-report` merges those that
    // symbolize and trim alike.
    let mut sites: Vec<CallSite> = Vec::with_capacity(site_table::count() as usize);
    let mut addresses: Vec<u64> = Vec::new();
    let mut index: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    for n in 0..site_table::count() {
        let Some(s) = site_table::site(n) else {
            continue;
        };
        if s.samples.load(Acquire) == 0 {
            continue;
        }
        let stack: Vec<u32> = s
            .raw_frames()
            .map(|a| {
                let next = addresses.len() as u32;
                *index.entry(a as u64).or_insert_with(|| {
                    addresses.push(a as u64);
                    next
                })
            })
            .collect();
        let mut frames = Vec::new();
        if stack.is_empty() {
            let function = if n == OVERFLOW_SITE {
                "[allocscope: site table full]"
            } else {
                "[unknown]"
            };
            frames.push(Frame {
                function: function.to_string(),
                file: None,
                line: None,
                addr: 0,
                inlined: false,
            });
        }
        let mut f = Figures::default();
        f.add(s);
        sites.push(f.into_site(frames, stack));
    }
    sites.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then(b.allocs.cmp(&a.allocs))
            .then_with(|| a.stack.cmp(&b.stack))
    });
    Profile {
        format: PROFILE_FORMAT.to_string(),
        version: PROFILE_VERSION,
        meta,
        totals: Totals::from(&snap),
        size_classes: snap.size_classes.clone(),
        gap: snap.gap,
        gap_at_peak: gap_at_peak(&timeline),
        sites,
        timeline,
        mappings: crate::observe::symbolize::mappings(),
        addresses,
        max_depth: Some(settings::max_depth() as u32),
    }
}

/// The gap at the periodic snapshot with the most live requested bytes (the closest the
/// timeline came to the peak), if that snapshot has one.
fn gap_at_peak(
    timeline: &[crate::model::profile::TimelinePoint],
) -> Option<crate::observe::gap::GapBreakdown> {
    timeline
        .iter()
        .filter(|p| p.gap.is_some())
        .max_by_key(|p| p.live_bytes)
        .and_then(|p| p.gap)
}

fn meta() -> ProfileMeta {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let program = args
        .first()
        .map(|a| {
            Path::new(a)
                .file_name()
                .map_or_else(|| a.clone(), |f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let (start_ms, start_ns) = settings::start_times();
    let now_ns = crate::hook::clock::now_ns();
    let (start_ms, duration_secs) = if start_ms == 0 {
        (crate::hook::clock::unix_ms(), 0.0)
    } else {
        (start_ms, now_ns.saturating_sub(start_ns) as f64 / 1e9)
    };
    let r = settings::sample_bytes();
    ProfileMeta {
        program,
        args,
        pid: std::process::id(),
        start_time_unix_ms: start_ms,
        duration_secs,
        cpu_time_secs: cpu_time_secs(),
        allocator: crate::hook::profiler::installed_allocator()
            .map_or("none", crate::hook::profiler::AllocatorKind::name)
            .to_string(),
        allocator_config: crate::observe::allocator_config::allocator_config(),
        sampling_bytes: r,
        unwinder: if r == 0 {
            "off".to_string()
        } else {
            settings::unwinder().name().to_string()
        },
        peak_rss: crate::observe::procfs::peak_rss().unwrap_or(0),
        allocscope_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

fn cpu_time_secs() -> f64 {
    // SAFETY: `ru` is a valid, writable rusage; getrusage does not allocate.
    unsafe {
        let mut ru: libc::rusage = core::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut ru) != 0 {
            return 0.0;
        }
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        t(ru.ru_utime) + t(ru.ru_stime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_a_single_bucket_lies_inside_it() {
        let mut h = vec![0u64; LIFETIME_BUCKETS];
        let b = site_table::lifetime_bucket(1500);
        h[b] = 10 * COUNT_ONE;
        let m = median(&h).unwrap();
        let (lo, hi) = site_table::lifetime_bucket_range(b);
        assert!(lo <= m && m < hi);
        assert_eq!(median(&vec![0; LIFETIME_BUCKETS]), None);
    }

    #[test]
    fn median_splits_two_buckets() {
        let mut h = vec![0u64; LIFETIME_BUCKETS];
        h[site_table::lifetime_bucket(100)] = 3;
        h[site_table::lifetime_bucket(1_000_000)] = 1;
        let m = median(&h).unwrap();
        assert!(m < 200, "{m}");
    }
}
