//! Assembling and writing the profile file ([`crate::model::profile::Profile`]).

use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

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
        if !crate::observe::symbolize::at_exit_requested() {
            return write_streamed(path.as_ref());
        }
        let mut profile = collect_profile();
        let options = crate::observe::symbolize::SymbolizeOptions::default();
        if let Err(e) = crate::observe::symbolize::symbolize(&mut profile, &options) {
            eprintln!("allocscope: ALLOCSCOPE_SYMBOLIZE=exit: {e}; raw addresses written");
        }
        profile.write(path)
    })
}

/// The profile of the run so far, in memory (what [`write_profile`] writes), with raw
/// addresses: symbolize it with `alloc-report` (or `allocscope::profile::symbolize`).
pub fn collect_profile() -> Profile {
    crate::hook::guard::untracked(build)
}

/// Raw figures of one call site, read from its record without allocating.
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
    lifetimes: [u64; LIFETIME_BUCKETS],
    classes: [u64; NUM_CLASSES],
}

impl Figures {
    fn of(s: &site_table::Site) -> Figures {
        let a = s.life_under_1us();
        let b = s.life_1us_1ms();
        let c = s.life_1ms_1s();
        let mut f = Figures {
            samples: s.samples(),
            allocs: s.allocs(),
            bytes: s.bytes(),
            slack: s.slack(),
            live_count: s.live_count() as i64,
            live_bytes: s.live_bytes() as i64,
            peak_bytes: s.peak_bytes.load(Relaxed) as i64,
            freed: 0,
            under_1us: a,
            under_1ms: a + b,
            under_1s: a + b + c,
            lifetimes: [0; LIFETIME_BUCKETS],
            classes: [0; NUM_CLASSES],
        };
        for (t, b) in f.lifetimes.iter_mut().zip(&s.lifetimes) {
            *t = b.load(Relaxed);
            f.freed += *t;
        }
        for (t, c) in f.classes.iter_mut().zip(&s.classes) {
            *t = c.load(Relaxed);
        }
        f
    }

    /// Fills `site` with these figures, reusing its vectors' memory.
    fn fill(&self, site: &mut CallSite) {
        site.allocs = count(self.allocs);
        site.bytes = self.bytes;
        site.live_blocks = count(self.live_count.max(0) as u64);
        site.live_bytes = self.live_bytes.max(0) as u64;
        site.peak_bytes = self.peak_bytes.max(0) as u64;
        site.slack_bytes = self.slack;
        site.samples = self.samples;
        site.size_classes.clear();
        site.size_classes.extend(
            self.classes
                .iter()
                .enumerate()
                .filter(|(_, &c)| c != 0)
                .map(|(i, &c)| SiteSizeClass {
                    size: SizeClass::from_index(i).map_or(0, SizeClass::size),
                    allocs: count(c),
                }),
        );
        site.lifetimes = Lifetimes {
            freed: count(self.freed),
            under_1us: count(self.under_1us),
            under_1ms: count(self.under_1ms),
            under_1s: count(self.under_1s),
            // `freed` is the histogram's total: skip summing it again when nothing was freed.
            median_ns: if self.freed == 0 {
                None
            } else {
                median(&self.lifetimes)
            },
        };
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

/// The call-site table in profile order, without a `CallSite` per site: the sites that
/// sampled something, sorted the way the profile lists them (docs/profile-format.md: `bytes`
/// descending, then `allocs` descending, then the raw stack), their raw stacks as indices
/// into `addresses` in one flat vector, and the distinct return addresses in order of first
/// sight (by site number). Streaming the sites from this keeps the exit's memory to ~32
/// bytes per site and 4 per frame, plus the address index while it is built
/// (docs/symbolization.md).
struct SiteOrder {
    order: Vec<Entry>,
    stacks: Vec<u32>,
    addresses: Vec<u64>,
}

/// One site of [`SiteOrder`]: its figures that decide the order (read once, so the sort and
/// the file agree even if the program still runs) and where its stack is in `stacks`.
struct Entry {
    bytes: u64,
    allocs: u64,
    site: u32,
    start: u32,
    len: u32,
}

impl SiteOrder {
    fn take() -> SiteOrder {
        let n_sites = site_table::count();
        let mut order: Vec<Entry> = Vec::with_capacity(n_sites as usize);
        let mut stacks: Vec<u32> = Vec::new();
        let mut addresses: Vec<u64> = Vec::new();
        let mut index = AddressIndex::default();
        for n in 0..n_sites {
            let Some(s) = site_table::site(n) else {
                continue;
            };
            if s.samples() == 0 {
                continue;
            }
            let start = stacks.len();
            for a in s.raw_frames() {
                let next = addresses.len() as u32;
                stacks.push(*index.entry(a as u64).or_insert_with(|| {
                    addresses.push(a as u64);
                    next
                }));
            }
            order.push(Entry {
                bytes: s.bytes(),
                allocs: count(s.allocs()),
                site: n,
                start: start as u32,
                len: (stacks.len() - start) as u32,
            });
        }
        drop(index);
        let stack = |e: &Entry| {
            stacks
                .get(e.start as usize..(e.start + e.len) as usize)
                .unwrap_or(&[])
        };
        // Stable, so equal stacks (never both sampled) keep the site-number order.
        order.sort_by(|a, b| {
            b.bytes
                .cmp(&a.bytes)
                .then(b.allocs.cmp(&a.allocs))
                .then_with(|| stack(a).cmp(stack(b)))
        });
        SiteOrder {
            order,
            stacks,
            addresses,
        }
    }

    /// Fills `site` with site `n`'s record (bytes and allocs as sorted), reusing its memory.
    fn fill(&self, e: &Entry, site: &mut CallSite) {
        let n = e.site;
        site.stack.clear();
        site.stack.extend_from_slice(
            self.stacks
                .get(e.start as usize..(e.start + e.len) as usize)
                .unwrap_or(&[]),
        );
        site.frames.clear();
        if site.stack.is_empty() {
            let function = if n == OVERFLOW_SITE {
                "[allocscope: site table full]"
            } else {
                "[unknown]"
            };
            site.frames.push(Frame {
                function: function.to_string(),
                file: None,
                line: None,
                addr: 0,
                inlined: false,
            });
        }
        if let Some(s) = site_table::site(n) {
            Figures::of(s).fill(site);
        }
        site.bytes = e.bytes;
        site.allocs = e.allocs;
    }

    fn empty_site() -> CallSite {
        CallSite {
            frames: Vec::new(),
            stack: Vec::with_capacity(crate::hook::unwind::MAX_RAW_FRAMES),
            allocs: 0,
            bytes: 0,
            live_blocks: 0,
            live_bytes: 0,
            peak_bytes: 0,
            slack_bytes: 0,
            samples: 0,
            size_classes: Vec::with_capacity(NUM_CLASSES),
            lifetimes: Lifetimes::default(),
        }
    }

    /// Every site as a `CallSite` (for [`collect_profile`]).
    fn sites(&self) -> Vec<CallSite> {
        self.order
            .iter()
            .map(|e| {
                let mut site = SiteOrder::empty_site();
                self.fill(e, &mut site);
                site.stack.shrink_to_fit();
                site.size_classes.shrink_to_fit();
                site
            })
            .collect()
    }
}

/// Each distinct return address's position in the profile's `addresses`.
type AddressIndex =
    std::collections::HashMap<u64, u32, std::hash::BuildHasherDefault<AddressHasher>>;

/// A fast hash of one address for [`AddressIndex`] (the keys are the process's own return
/// addresses, not input to defend against; SipHash was a third of the exit's time):
/// the two halves of a 128-bit product folded together.
#[derive(Default)]
struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        // 64 × 64 bits: cannot overflow 128.
        let m = u128::from(self.0) * u128::from(0x9e37_79b9_7f4a_7c15_u64);
        (m >> 64) as u64 ^ m as u64
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, a: u64) {
        self.0 = a;
    }
}

/// `sites` of the profile, serialized one site at a time from the site table into a single
/// reused `CallSite` (the same serialization as [`Profile::sites`]).
struct StreamedSites<'a>(&'a SiteOrder);

impl serde::Serialize for StreamedSites<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.0.order.len()))?;
        let mut site = SiteOrder::empty_site();
        for e in &self.0.order {
            self.0.fill(e, &mut site);
            seq.serialize_element(&site)?;
        }
        seq.end()
    }
}

/// A [`Profile`] whose `sites` are streamed from the site table: the same fields, in the
/// same order, with the same serde attributes (`streamed_profile_is_the_collected_one`
/// checks that the two serialize alike).
#[derive(serde::Serialize)]
struct StreamedProfile<'a> {
    format: &'a str,
    version: u32,
    meta: &'a ProfileMeta,
    totals: &'a Totals,
    size_classes: &'a [crate::model::counts::SizeClassCounts],
    gap: &'a Option<crate::model::gap::GapBreakdown>,
    gap_at_peak: &'a Option<crate::model::gap::GapBreakdown>,
    sites: StreamedSites<'a>,
    timeline: &'a [crate::model::profile::TimelinePoint],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    mappings: &'a [crate::model::profile::Mapping],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    addresses: &'a [u64],
    #[serde(skip_serializing_if = "Option::is_none")]
    max_depth: Option<u32>,
}

/// The profile with no sites yet, and the order to list the sites in.
fn build_parts() -> (Profile, SiteOrder) {
    let ProgramFigures {
        meta,
        snap,
        timeline,
    } = ProgramFigures::take();
    // Raw stacks only: names come later, from the binary (docs/symbolization.md). Stacks
    // differ by address, so sites never merge here; `alloc-report` merges those that
    // symbolize and trim alike.
    let mut order = SiteOrder::take();
    let profile = Profile {
        format: PROFILE_FORMAT.to_string(),
        version: PROFILE_VERSION,
        meta,
        totals: Totals::from(&snap),
        size_classes: snap.size_classes.clone(),
        gap: snap.gap,
        gap_at_peak: gap_at_peak(&timeline),
        sites: Vec::new(),
        timeline,
        mappings: crate::observe::symbolize::mappings(),
        addresses: std::mem::take(&mut order.addresses),
        max_depth: Some(settings::max_depth() as u32),
    };
    (profile, order)
}

fn build() -> Profile {
    let (mut profile, order) = build_parts();
    profile.sites = order.sites();
    profile
}

/// Writes the profile to `path` with its sites streamed from the site table.
fn write_streamed(path: &Path) -> Result<(), ProfileError> {
    let (profile, order) = build_parts();
    // Exhaustive, so that a field added to `Profile` fails to compile here until
    // `StreamedProfile` has it too.
    let Profile {
        format,
        version,
        meta,
        totals,
        size_classes,
        gap,
        gap_at_peak,
        sites: _,
        timeline,
        mappings,
        addresses,
        max_depth,
    } = &profile;
    let streamed = StreamedProfile {
        format,
        version: *version,
        meta,
        totals,
        size_classes,
        gap,
        gap_at_peak,
        sites: StreamedSites(&order),
        timeline,
        mappings,
        addresses,
        max_depth: *max_depth,
    };
    // No `fsync`: the rename alone keeps the file whole for readers and across a crash of
    // the program; flushing 3 MB to the disk took ~17 ms of the exit (docs/symbolization.md).
    crate::model::profile::write_json(path, &streamed, false)
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
