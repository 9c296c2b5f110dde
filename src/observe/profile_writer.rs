//! Assembling and writing the profile file ([`crate::model::profile::Profile`]).

use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

use crate::hook::peak;
use crate::hook::sampler::COUNT_ONE;
use crate::hook::settings;
use crate::hook::site_table::{self, LIFETIME_BUCKETS, OVERFLOW_SITE};
use crate::model::profile::{
    CallSite, Frame, Lifetimes, Profile, ProfileError, ProfileKind, ProfileMeta, SiteSizeClass,
    Totals, PROFILE_FORMAT, PROFILE_VERSION,
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
            return write_streamed(path.as_ref(), ProfileKind::Final);
        }
        let mut profile = collect_profile();
        let options = crate::observe::symbolize::SymbolizeOptions::default();
        match crate::observe::symbolize::symbolize(&mut profile, &options) {
            Ok(warnings) => {
                for w in warnings {
                    eprintln!("allocscope: ALLOCSCOPE_SYMBOLIZE=exit: warning: {w}");
                }
            }
            Err(e) => {
                eprintln!("allocscope: ALLOCSCOPE_SYMBOLIZE=exit: {e}; raw addresses written")
            }
        }
        profile.write(path)
    })
}

/// Writes a profile marked [`ProfileKind::Flushed`] (the periodic flush,
/// `ALLOCSCOPE_FLUSH_SECS`): always with raw addresses (never symbolized in the process, even
/// with `ALLOCSCOPE_SYMBOLIZE=exit`), atomically. Nothing it allocates is counted.
pub(crate) fn write_flushed(path: &Path) -> Result<(), ProfileError> {
    crate::hook::guard::untracked(|| write_streamed(path, ProfileKind::Flushed))
}

/// The profile of the run so far, in memory (what [`write_profile`] writes), with raw
/// addresses: symbolize it with `alloc-report` (or `allocscope::profile::symbolize`).
pub fn collect_profile() -> Profile {
    crate::hook::guard::untracked(build)
}

/// A site's figures other than those of [`Entry`], read from its record in the one
/// sequential pass over the site table (each counter once: the histograms are ~2.5 KB a
/// site, and reading them in the profile's order, not the table's, missed the caches).
struct SiteFigures {
    samples: u64,
    slack_bytes: u64,
    live_blocks: u64,
    live_bytes: u64,
    peak_bytes: u64,
    lifetimes: Lifetimes,
    /// Its stack: `stacks[start..start + len]`.
    start: u32,
    len: u32,
    /// Its non-zero size classes: `classes[class_start..class_start + class_len]`.
    class_start: u32,
    class_len: u32,
}

impl SiteFigures {
    /// Reads `s`'s figures, appending its non-zero size classes to `classes`.
    fn read(s: &site_table::Site, classes: &mut Vec<SiteSizeClass>) -> SiteFigures {
        let a = s.life_under_1us();
        let b = s.life_1us_1ms();
        let c = s.life_1ms_1s();
        let class_start = classes.len();
        // Every sampled allocation adds its weight to `allocs`, then to one class, so `allocs`
        // read after the small (striped) classes is at least their sum plus every larger
        // class's: when it equals their sum, the larger classes are all zero and their ~220
        // counters need not be read (most sites allocate small blocks only). While the
        // program still runs (a flush), the counters are relaxed: on a weakly ordered CPU
        // a larger class's allocation made during the read may be missed, as any figure
        // read during it may be.
        let mut counted = 0u64;
        let mut all_small = None;
        // Most of a site's classes are zero: test eight at a time (one OR each), then look
        // inside the groups that have any.
        // The small classes are counted in the site's stripes too (`Site::class_allocs`).
        for (g, group) in s.classes.chunks(8).enumerate() {
            let striped = g * 8 < site_table::STRIPED_CLASSES;
            if !striped && *all_small.get_or_insert_with(|| s.allocs() == counted) {
                break;
            }
            if !striped && group.iter().fold(0, |any, c| any | c.load(Relaxed)) == 0 {
                continue;
            }
            for (j, c) in group.iter().enumerate() {
                let c = if striped {
                    s.class_allocs(g * 8 + j)
                } else {
                    c.load(Relaxed)
                };
                counted = counted.wrapping_add(c);
                if c != 0 {
                    classes.push(SiteSizeClass {
                        size: SizeClass::from_index(g * 8 + j).map_or(0, SizeClass::size),
                        allocs: count(c),
                    });
                }
            }
        }
        // The histogram, read once: its total and its median.
        let hist: [u64; LIFETIME_BUCKETS] =
            std::array::from_fn(|i| s.lifetimes.get(i).map_or(0, |b| b.load(Relaxed)));
        let freed: u64 = hist.iter().sum();
        SiteFigures {
            samples: s.samples(),
            slack_bytes: s.slack(),
            live_blocks: count((s.live_count() as i64).max(0) as u64),
            live_bytes: (s.live_bytes() as i64).max(0) as u64,
            peak_bytes: (s.peak_bytes.load(Relaxed) as i64).max(0) as u64,
            lifetimes: Lifetimes {
                freed: count(freed),
                under_1us: count(a),
                under_1ms: count(a + b),
                under_1s: count(a + b + c),
                // `freed` is the histogram's total: skip the median when nothing was freed.
                median_ns: if freed == 0 { None } else { median(&hist) },
            },
            start: 0,
            len: 0,
            class_start: class_start as u32,
            class_len: (classes.len() - class_start) as u32,
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
    mimalloc_gap: Option<crate::observe::gap_mimalloc::MimallocGap>,
    partial_gap: Option<crate::observe::gap::PartialGap>,
    timeline: Vec<crate::model::profile::TimelinePoint>,
}

impl ProgramFigures {
    fn take() -> ProgramFigures {
        // Clock, CPU time and VmHWM first: the cheapest reads, and the most sensitive to
        // allocscope's own work.
        let meta = meta();
        let snap = crate::observe::snapshot::snapshot();
        // Right after the snapshot (`None` unless the allocator is mimalloc), with the
        // counters read again at the moment of mimalloc's statistics.
        let mimalloc_gap = crate::observe::gap_mimalloc::MimallocGap::now();
        // Over an allocator without statistics, what can be known (allocscope's own memory
        // among it), read at the same point of the exit.
        let partial_gap = (snap.gap.is_none() && mimalloc_gap.is_none())
            .then(|| crate::observe::gap::PartialGap::from_snapshot(&snap));
        peak::settle(snap.live_bytes);
        // A copy: points the recorder takes later (during the exit work) are not kept.
        let timeline = crate::observe::timeline::points();
        ProgramFigures {
            meta,
            snap,
            mimalloc_gap,
            partial_gap,
            timeline,
        }
    }
}

/// The call-site table in profile order, without a `CallSite` per site: the sites that
/// sampled something, sorted the way the profile lists them (docs/profile-format.md: `bytes`
/// descending, then `allocs` descending, then by site number: order of first sight), their raw stacks as indices
/// into `addresses` in one flat vector, and the distinct return addresses in order of first
/// sight (by site number), and each site's other figures read in the same sequential pass
/// over the table. Streaming the sites from this keeps the exit's memory to ~130 bytes per
/// site and 4 per frame, plus the address index while it is built (docs/symbolization.md).
struct SiteOrder {
    order: Vec<Entry>,
    figures: Vec<SiteFigures>,
    classes: Vec<SiteSizeClass>,
    stacks: Vec<u32>,
    addresses: Vec<u64>,
}

/// One site of [`SiteOrder`]: its figures that decide the order (read once, so the sort and
/// the file agree even if the program still runs) and where the rest are in `figures`.
struct Entry {
    bytes: u64,
    allocs: u64,
    site: u32,
    figures: u32,
}

impl SiteOrder {
    fn take() -> SiteOrder {
        let n_sites = site_table::count();
        let mut order: Vec<Entry> = Vec::with_capacity(n_sites as usize);
        let mut figures: Vec<SiteFigures> = Vec::with_capacity(n_sites as usize);
        let mut classes: Vec<SiteSizeClass> = Vec::with_capacity(n_sites as usize);
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
            let mut f = SiteFigures::read(s, &mut classes);
            f.start = start as u32;
            f.len = (stacks.len() - start) as u32;
            order.push(Entry {
                bytes: s.bytes(),
                allocs: count(s.allocs()),
                site: n,
                figures: figures.len() as u32,
            });
            figures.push(f);
        }
        drop(index);
        // Ties in order of first sight (the site number), not by comparing stacks: a third
        // of the exit's instructions went to comparing the stacks of sites that tie on bytes
        // and allocs. The site numbers are distinct, so an unstable sort gives one order.
        order.sort_unstable_by_key(|e| {
            (
                std::cmp::Reverse(e.bytes),
                std::cmp::Reverse(e.allocs),
                e.site,
            )
        });
        SiteOrder {
            order,
            figures,
            classes,
            stacks,
            addresses,
        }
    }

    /// Fills `site` with the figures of `e`, reusing its memory.
    fn fill(&self, e: &Entry, site: &mut CallSite) {
        let Some(f) = self.figures.get(e.figures as usize) else {
            return;
        };
        let span = |start: u32, len: u32| start as usize..(start + len) as usize;
        site.stack.clear();
        site.stack
            .extend_from_slice(self.stacks.get(span(f.start, f.len)).unwrap_or(&[]));
        site.frames.clear();
        if site.stack.is_empty() {
            let function = if e.site == OVERFLOW_SITE {
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
        site.size_classes.clear();
        site.size_classes.extend_from_slice(
            self.classes
                .get(span(f.class_start, f.class_len))
                .unwrap_or(&[]),
        );
        site.bytes = e.bytes;
        site.allocs = e.allocs;
        site.samples = f.samples;
        site.slack_bytes = f.slack_bytes;
        site.live_blocks = f.live_blocks;
        site.live_bytes = f.live_bytes;
        site.peak_bytes = f.peak_bytes;
        site.lifetimes = f.lifetimes.clone();
        site.span = site_table::site(e.site)
            .and_then(|s| crate::observe::spans::path_of(s.span.load(Relaxed)));
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
            span: None,
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

/// The profile with no sites yet, and the order to list the sites in.
fn build_parts() -> (Profile, SiteOrder) {
    let ProgramFigures {
        meta,
        snap,
        mimalloc_gap,
        partial_gap,
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
        gap_at_peak: gap_at_peak(&timeline, snap.peak_live_bytes),
        sites: Vec::new(),
        timeline,
        mappings: crate::observe::symbolize::mappings(),
        addresses: std::mem::take(&mut order.addresses),
        max_depth: Some(settings::max_depth() as u32),
        spans: crate::observe::spans::span_stats(),
        cgroup: snap.cgroup,
        mimalloc_gap,
        partial_gap,
    };
    (profile, order)
}

fn build() -> Profile {
    let (mut profile, order) = build_parts();
    profile.sites = order.sites();
    profile
}

/// Writes the profile to `path`, marked `kind`, with its sites streamed from the site table.
///
/// The same JSON as serde_json writes for the [`Profile`] that [`collect_profile`] builds
/// (`streamed_profile_is_the_collected_one` checks it): the small parts through serde_json,
/// the sites and addresses by hand ([`crate::observe::site_json`]), one reused buffer per
/// site.
fn write_streamed(path: &Path, kind: ProfileKind) -> Result<(), ProfileError> {
    let (mut profile, order) = build_parts();
    profile.meta.kind = kind;
    // Exhaustive, so that a field added to `Profile` fails to compile here until it is
    // written below too.
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
        spans,
        cgroup,
        mimalloc_gap,
        partial_gap,
    } = &profile;
    // No `fsync`: the rename alone keeps the file whole for readers and across a crash of
    // the program; flushing 3 MB to the disk took ~17 ms of the exit (docs/symbolization.md).
    crate::model::profile::write_atomically_with(path, false, |f| {
        use std::io::Write;
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, f);
        let json = |w: &mut std::io::BufWriter<_>, key: &[u8], v: &dyn erased::Json| {
            w.write_all(key)?;
            v.write_json(w)
        };
        json(&mut w, b"{\"format\":", format)?;
        json(&mut w, b",\"version\":", version)?;
        json(&mut w, b",\"meta\":", meta)?;
        json(&mut w, b",\"totals\":", totals)?;
        json(&mut w, b",\"size_classes\":", size_classes)?;
        json(&mut w, b",\"gap\":", gap)?;
        json(&mut w, b",\"gap_at_peak\":", gap_at_peak)?;
        w.write_all(b",\"sites\":[")?;
        let mut site = SiteOrder::empty_site();
        // Room for a flush's worth and one more site.
        let mut buf: Vec<u8> = Vec::with_capacity(96 * 1024);
        for (i, e) in order.order.iter().enumerate() {
            if i != 0 {
                buf.push(b',');
            }
            order.fill(e, &mut site);
            crate::observe::site_json::push_site(&mut buf, &site).map_err(std::io::Error::other)?;
            // At least the `BufWriter`'s capacity: written straight to the file, not copied.
            if buf.len() >= 64 * 1024 {
                w.write_all(&buf)?;
                buf.clear();
            }
        }
        buf.push(b']');
        w.write_all(&buf)?;
        json(&mut w, b",\"timeline\":", timeline)?;
        // `skip_serializing_if` of `mappings`, `addresses`, `max_depth`, `spans`, `cgroup`
        // `mimalloc_gap` and `partial_gap`, in `Profile`'s field order.
        if !mappings.is_empty() {
            json(&mut w, b",\"mappings\":", mappings)?;
        }
        if !addresses.is_empty() {
            w.write_all(b",\"addresses\":")?;
            crate::observe::site_json::write_u64_array(&mut w, &mut buf, addresses)?;
        }
        if let Some(d) = max_depth {
            json(&mut w, b",\"max_depth\":", d)?;
        }
        if !spans.is_empty() {
            json(&mut w, b",\"spans\":", spans)?;
        }
        if let Some(c) = cgroup {
            json(&mut w, b",\"cgroup\":", c)?;
        }
        if let Some(g) = mimalloc_gap {
            json(&mut w, b",\"mimalloc_gap\":", g)?;
        }
        if let Some(g) = partial_gap {
            json(&mut w, b",\"partial_gap\":", g)?;
        }
        w.write_all(b"}")?;
        w.flush()
    })
}

/// serde_json for a value behind `&dyn` (serde's `Serialize` is not object safe).
mod erased {
    /// A value serde_json can write.
    pub(super) trait Json {
        fn write_json(&self, w: &mut dyn std::io::Write) -> std::io::Result<()>;
    }

    impl<T: serde::Serialize> Json for T {
        fn write_json(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
            serde_json::to_writer(w, self).map_err(std::io::Error::other)
        }
    }
}

/// The gap at the periodic snapshot with the most live requested bytes (the closest the
/// timeline came to the peak), if that snapshot has one.
/// The gap of the timeline point with the most live bytes, if that point is near the
/// program's peak (`peak_live_bytes`, exact): at least half of it. A run shorter than the
/// timeline's interval has only its first point, taken at start-up; its gap is not the
/// peak's, and a report that called it so would set a start-up RSS beside the peak RSS.
fn gap_at_peak(
    timeline: &[crate::model::profile::TimelinePoint],
    peak_live_bytes: u64,
) -> Option<crate::observe::gap::GapBreakdown> {
    timeline
        .iter()
        .filter(|p| p.gap.is_some())
        .max_by_key(|p| p.live_bytes)
        .filter(|p| p.live_bytes.saturating_mul(2) >= peak_live_bytes)
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
        peak_rss: program_peak_rss(),
        allocscope_version: env!("CARGO_PKG_VERSION").to_string(),
        kind: ProfileKind::Final,
        written_unix_ms: Some(crate::hook::clock::unix_ms()),
    }
}

/// The program's peak RSS: the process's (VmHWM) less allocscope's own resident memory now
/// (the `profiler` term: its tables, its threads' stacks, its heap blocks), which is inside
/// that peak. allocscope's memory only grows while the program runs (its tables never
/// shrink), so this is at most the program's true peak, and short of it by no more than
/// what allocscope's memory grew after the peak (docs/profile-format.md, `peak_rss`).
fn program_peak_rss() -> u64 {
    let own = crate::hook::own_memory::own_memory().total();
    crate::observe::procfs::peak_rss().map_or(0, |hwm| hwm.saturating_sub(own))
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

    /// A run shorter than the timeline's interval has one point, at start-up: its gap is not
    /// the peak's (the audit's 10 ms program showed "at the peak: RSS 6.42 MiB" beside a peak
    /// RSS of 24.5 MiB).
    #[test]
    fn gap_at_peak_only_from_a_point_near_the_peak() {
        let point = |live_bytes: u64, rss: i64| crate::model::profile::TimelinePoint {
            t_secs: 0.0,
            allocs: 0,
            frees: 0,
            bytes_allocated: live_bytes,
            live_bytes,
            rss: rss as u64,
            resident: None,
            gap: Some(crate::observe::gap::GapBreakdown {
                rss,
                non_heap: rss,
                ..Default::default()
            }),
        };
        let start_only = [point(40_000, 6 << 20)];
        assert_eq!(gap_at_peak(&start_only, 20 << 20), None);
        let sampled = [
            point(40_000, 6 << 20),
            point(12 << 20, 20 << 20),
            point(1 << 20, 9 << 20),
        ];
        assert_eq!(
            gap_at_peak(&sampled, 20 << 20).map(|g| g.rss),
            Some(20 << 20)
        );
        assert_eq!(gap_at_peak(&[], 20 << 20), None);
    }

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
