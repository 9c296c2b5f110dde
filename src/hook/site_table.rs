//! The table of call sites: one record per distinct stack, found by the stack's hash.
//!
//! Lock-free and insert-only. Site records live in chunks of [`CHUNK_SITES`] mapped with
//! `mmap` on first use (zeroed memory is a valid empty record: every field is an atomic), so
//! memory grows with the number of distinct stacks and the hook never calls the global
//! allocator. The index is a static open-addressing array of `u64` words, each packing a
//! 40-bit tag of the stack hash with the site's number; a tag match is confirmed by
//! comparing the frames. A new site is filled in before it is published with a release
//! compare-exchange; a thread that loses the race to publish the same stack uses the winner's
//! record (the record it had filled stays unused and empty).
//!
//! When the table is full, samples go to an overflow site (site 0), reported as such.

use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};

use crate::hook::unwind::MAX_RAW_FRAMES;
use crate::model::size_class::NUM_CLASSES;

/// Most distinct sites recorded (site 0 is the overflow site).
pub(crate) const MAX_SITES: usize = 1 << 16;
/// Sites per mapped chunk.
pub(crate) const CHUNK_SITES: usize = 64;
const INDEX_SIZE: usize = MAX_SITES * 2;
const INDEX_MASK: usize = INDEX_SIZE - 1;
const NUM_MASK: u64 = (1 << 24) - 1;
/// The overflow site.
pub(crate) const OVERFLOW_SITE: u32 = 0;
/// Lifetime histogram: 4 buckets per octave of nanoseconds, up to 2^42 ns (~73 min).
pub(crate) const LIFETIME_BUCKETS: usize = 4 * 41 + 4;

/// Stripes of a site's hot counters ([`Hot`]): stripe 0 is shared (locked adds), stripes
/// `1..STRIPES` each belong to one thread at a time (see `crate::hook::sites`, "Stripes").
pub(crate) const STRIPES: usize = 8;

/// Size classes `0..STRIPED_CLASSES` (requests up to 448 bytes) are counted in the stripes
/// ([`Hot::small_classes`]); larger ones in [`Site::classes`] alone. A program's small
/// requests are most of its allocations, and a site's class counter shared by threads that
/// allocate there at once was one cache line they fought over on every allocation.
pub(crate) const STRIPED_CLASSES: usize = 16;

/// The counters that every sampled allocation or free of a site updates, one copy per stripe;
/// a figure is the (wrapping) sum over the stripes. Counts are in
/// [`crate::hook::sampler::COUNT_ONE`] fixed point; bytes plain. `live_*` are wrapping sums
/// of additions and subtractions (read as signed). A cache line of its own per stripe, so
/// two threads at one site do not fight over a line.
#[repr(align(64))]
pub(crate) struct Hot {
    pub samples: AtomicU64,
    pub allocs: AtomicU64,
    pub bytes: AtomicU64,
    pub slack: AtomicU64,
    pub live_count: AtomicU64,
    pub live_bytes: AtomicU64,
    /// Freed blocks by lifetime band (disjoint, so a free touches one): < 1 µs,
    /// 1 µs – 1 ms, 1 ms – 1 s. All freed blocks are in [`Site::lifetimes`].
    pub life_under_1us: AtomicU64,
    pub life_1us_1ms: AtomicU64,
    pub life_1ms_1s: AtomicU64,
    /// Sampled allocations of size classes `0..STRIPED_CLASSES` (fixed point), the rest of
    /// this stripe's share of [`Site::classes`].
    pub small_classes: [AtomicU64; STRIPED_CLASSES],
}

/// One call site's figures (the hot ones in [`Hot`] stripes, read through the methods of the
/// same names).
pub(crate) struct Site {
    pub hash: AtomicU64,
    pub depth: AtomicU32,
    /// The tracing span id its samples were taken in (0: none; see `crate::hook::spans`):
    /// one stack allocating in two spans is two sites.
    pub span: AtomicU32,
    pub frames: [AtomicUsize; MAX_RAW_FRAMES],
    pub hot: [Hot; STRIPES],
    pub peak_bytes: AtomicU64,
    pub lifetimes: [AtomicU64; LIFETIME_BUCKETS],
    /// Sampled allocations by size class (fixed point); for classes below
    /// [`STRIPED_CLASSES`] only what the stripes do not hold (read with
    /// [`Site::class_allocs`]).
    pub classes: [AtomicU64; NUM_CLASSES],
}

impl Site {
    /// Sampled allocations (fixed point) of size class `i`: the shared counter plus, for a
    /// small class, every stripe's.
    #[cfg_attr(not(feature = "serde"), allow(dead_code))] // read by the profile writer
    pub(crate) fn class_allocs(&self, i: usize) -> u64 {
        let shared = self.classes.get(i).map_or(0, |c| c.load(Acquire));
        if i >= STRIPED_CLASSES {
            return shared;
        }
        self.hot.iter().fold(shared, |a, h| {
            a.wrapping_add(h.small_classes.get(i).map_or(0, |c| c.load(Acquire)))
        })
    }
}

/// `Site::$name()`: the sum of field `$name` over the stripes.
macro_rules! stripe_sums {
    ($($name:ident),*) => {
        impl Site {
            $(
                #[doc = concat!("`", stringify!($name), "` summed over the stripes.")]
                #[allow(dead_code)] // not every build reads every figure
                pub(crate) fn $name(&self) -> u64 {
                    self.hot
                        .iter()
                        .fold(0u64, |a, h| a.wrapping_add(h.$name.load(Acquire)))
                }
            )*
        }
    };
}
stripe_sums!(
    samples,
    allocs,
    bytes,
    slack,
    live_count,
    live_bytes,
    life_under_1us,
    life_1us_1ms,
    life_1ms_1s
);

static CHUNKS: [AtomicPtr<Site>; MAX_SITES / CHUNK_SITES] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MAX_SITES / CHUNK_SITES];
static INDEX: [AtomicU64; INDEX_SIZE] = [const { AtomicU64::new(0) }; INDEX_SIZE];
/// Sites handed out so far (site 0, the overflow site, is reserved).
static NEXT: AtomicUsize = AtomicUsize::new(1);

/// The site record `n`, if its chunk is mapped.
#[inline]
pub(crate) fn site(n: u32) -> Option<&'static Site> {
    let n = n as usize;
    let chunk = CHUNKS.get(n / CHUNK_SITES)?.load(Acquire);
    if chunk.is_null() {
        return None;
    }
    // SAFETY: a non-null chunk pointer is a live mapping of CHUNK_SITES zero-initialised
    // `Site`s that is never unmapped; `n % CHUNK_SITES` is in bounds; `Site` is made only of
    // atomics, for which all-zero bytes are a valid value.
    Some(unsafe { &*chunk.add(n % CHUNK_SITES) })
}

/// Maps the chunk holding site `n` if needed.
fn ensure_site(n: usize) -> Option<&'static Site> {
    let slot = CHUNKS.get(n / CHUNK_SITES)?;
    if slot.load(Acquire).is_null() {
        let bytes = CHUNK_SITES * core::mem::size_of::<Site>();
        // SAFETY: anonymous private mapping, no file; the result is checked.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return None;
        }
        if slot
            .compare_exchange(ptr::null_mut(), p.cast(), AcqRel, Acquire)
            .is_err()
        {
            // SAFETY: `p` is our own mapping of `bytes`, never published.
            unsafe { libc::munmap(p, bytes) };
        }
    }
    site(n as u32)
}

/// Number of site numbers handed out (some may be unused); iterate `0..count()`.
pub(crate) fn count() -> u32 {
    NEXT.load(Acquire).min(MAX_SITES) as u32
}

impl Site {
    fn same_frames(&self, frames: &[usize], span: u16) -> bool {
        if self.depth.load(Acquire) as usize != frames.len()
            || self.span.load(Relaxed) != u32::from(span)
        {
            return false;
        }
        frames
            .iter()
            .zip(self.frames.iter())
            .all(|(a, b)| *a == b.load(Relaxed))
    }

    /// The stored raw frames (return addresses, innermost first).
    #[cfg_attr(not(feature = "serde"), allow(dead_code))] // used by the profile writer
    pub(crate) fn raw_frames(&self) -> impl Iterator<Item = usize> + '_ {
        let n = (self.depth.load(Acquire) as usize).min(MAX_RAW_FRAMES);
        self.frames.iter().take(n).map(|f| f.load(Relaxed))
    }
}

/// The site number for this stack, creating the site on first sight. Hot path of sampled
/// allocations: no allocation, no lock. `None` only if even the overflow site cannot be
/// mapped. `span` is the tracing span id the sample was taken in (0: none), part of the key;
/// `hash` must cover it.
pub(crate) fn find_or_insert(frames: &[usize], hash: u64, span: u16) -> Option<u32> {
    let frames = frames
        .get(..frames.len().min(MAX_RAW_FRAMES))
        .unwrap_or(&[]);
    let tag = hash & !NUM_MASK;
    let mut i = (hash as usize) & INDEX_MASK;
    let mut mine: Option<u32> = None;
    for _ in 0..INDEX_SIZE {
        let slot = INDEX.get(i)?;
        let mut e = slot.load(Acquire);
        if e == 0 {
            let n = match mine {
                Some(n) => n,
                None => match new_site(frames, hash, span) {
                    Some(n) => n,
                    None => return overflow(),
                },
            };
            mine = Some(n);
            let packed = tag | (u64::from(n) + 1);
            match slot.compare_exchange(0, packed, AcqRel, Acquire) {
                Ok(_) => return Some(n),
                Err(other) => e = other,
            }
        }
        if e & !NUM_MASK == tag {
            let n = ((e & NUM_MASK) - 1) as u32;
            if site(n).is_some_and(|s| s.same_frames(frames, span)) {
                return Some(n);
            }
        }
        i = (i + 1) & INDEX_MASK;
    }
    overflow()
}

fn overflow() -> Option<u32> {
    ensure_site(OVERFLOW_SITE as usize).map(|_| OVERFLOW_SITE)
}

fn new_site(frames: &[usize], hash: u64, span: u16) -> Option<u32> {
    let n = NEXT.fetch_add(1, AcqRel);
    if n >= MAX_SITES {
        NEXT.store(MAX_SITES, Relaxed);
        return None;
    }
    let s = ensure_site(n)?;
    for (dst, &f) in s.frames.iter().zip(frames) {
        dst.store(f, Relaxed);
    }
    s.hash.store(hash, Relaxed);
    s.span.store(u32::from(span), Relaxed);
    s.depth.store(frames.len() as u32, Release);
    Some(n as u32)
}

/// Resident bytes of the site table: the mapped chunks of site records and the static
/// index, by `mincore` (for the `profiler` term of the gap). Never allocates.
pub(crate) fn resident_bytes() -> u64 {
    let chunk_bytes = CHUNK_SITES * core::mem::size_of::<Site>();
    let chunks: u64 = CHUNKS
        .iter()
        .map(|c| c.load(Acquire))
        .filter(|c| !c.is_null())
        .map(|c| crate::hook::own_memory::resident_in(c as usize, chunk_bytes))
        .sum();
    chunks
        + crate::hook::own_memory::resident_in(
            INDEX.as_ptr() as usize,
            core::mem::size_of_val(&INDEX),
        )
        + crate::hook::own_memory::resident_in(
            CHUNKS.as_ptr() as usize,
            core::mem::size_of_val(&CHUNKS),
        )
}

/// Of the three "freed within" band counters given in order (under 1 µs, 1 µs–1 ms,
/// 1 ms–1 s), the one a block that lived `ns` nanoseconds falls in; `None` from 1 s on.
#[inline]
pub(crate) fn life_band<T>(ns: u64, bands: [&T; 3]) -> Option<&T> {
    let i = match ns {
        0..1_000 => 0,
        1_000..1_000_000 => 1,
        1_000_000..1_000_000_000 => 2,
        _ => return None,
    };
    bands.into_iter().nth(i)
}

/// Lifetime histogram bucket of `ns` nanoseconds.
#[inline]
pub(crate) fn lifetime_bucket(ns: u64) -> usize {
    if ns < 4 {
        return ns as usize;
    }
    let lg = 63 - ns.leading_zeros() as usize; // ≥ 2
    let sub = ((ns >> (lg - 2)) & 3) as usize;
    (4 * (lg - 1) + sub).min(LIFETIME_BUCKETS - 1)
}

/// The range `[low, high)` of nanoseconds bucket `b` covers.
#[cfg_attr(not(feature = "serde"), allow(dead_code))] // used by the profile writer
pub(crate) fn lifetime_bucket_range(b: usize) -> (u64, u64) {
    if b < 4 {
        return (b as u64, b as u64 + 1);
    }
    let lg = b / 4 + 1;
    let sub = (b % 4) as u64;
    let low = (4 + sub) << (lg - 2);
    (low, low + (1u64 << (lg - 2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn life_bands_split_at_1us_1ms_1s() {
        let (a, b, c) = (1u8, 2u8, 3u8);
        for (ns, want) in [
            (0, Some(1)),
            (999, Some(1)),
            (1_000, Some(2)),
            (999_999, Some(2)),
            (1_000_000, Some(3)),
            (999_999_999, Some(3)),
            (1_000_000_000, None),
            (u64::MAX, None),
        ] {
            assert_eq!(life_band(ns, [&a, &b, &c]).copied(), want, "{ns} ns");
        }
    }

    #[test]
    fn lifetime_buckets_cover_their_values() {
        for ns in [
            0u64,
            1,
            3,
            4,
            5,
            7,
            8,
            100,
            999,
            1000,
            123_456,
            1 << 30,
            1 << 41,
        ] {
            let (lo, hi) = lifetime_bucket_range(lifetime_bucket(ns));
            assert!(lo <= ns && ns < hi, "{ns} in [{lo},{hi})");
        }
        for b in 0..LIFETIME_BUCKETS - 1 {
            assert_eq!(lifetime_bucket_range(b).1, lifetime_bucket_range(b + 1).0);
        }
    }
}
