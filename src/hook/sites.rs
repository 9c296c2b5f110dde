//! Call sites: the facade the hook calls for sampled allocations and for frees.
//!
//! - [`sample_alloc`] asks the [`crate::hook::sampler`] whether an allocation is sampled.
//! - A sampled block is allocated with [`layout_for_sampled`]: page-aligned in sampled mode,
//!   so that [`take_live`] can skip the live-table lookup for every free whose pointer is not
//!   page-aligned (jemalloc's trick). Exact mode keeps layouts unchanged and probes the table
//!   on every free.
//! - Page alignment alone is not enough: the first region of a small-object slab is
//!   page-aligned too, and an allocator's LIFO thread cache hands that same region back on
//!   every iteration of a tight alloc/free loop, so such a loop's frees would all look in the
//!   table. A counting filter of the live sampled addresses ([`LIVE_FILTER`]) answers "surely
//!   not sampled" for those with one load (see `docs/callsites.md`, "Recognising frees").
//! - [`record_alloc`] captures the stack ([`crate::hook::unwind`]), finds its site
//!   ([`crate::hook::site_table`]), adds the sample's weights to the site and remembers the block in
//!   the [`crate::hook::live_table`].
//! - [`take_live`] charges the free of a sampled block to its site (live figures, lifetime).
//! - [`on_new_peak`] lets [`crate::hook::peak`] copy the sites' live bytes at the process's peak.

use std::alloc::Layout;
use std::cell::Cell;
use std::mem::MaybeUninit;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};

use crate::hook::live_table::{self, Entry};
use crate::hook::sampler::{self, COUNT_ONE};
use crate::hook::settings;
use crate::hook::site_table::{Hot, Site, STRIPES};
use crate::hook::unwind;
use crate::hook::{clock, peak, site_table, spans};
use crate::model::size_class::{page_size, usable_size, SizeClass};

/// Which frees may look in the live table: those whose pointer `& FREE_MASK == 0`.
/// `usize::MAX` while nothing was ever recorded (no free looks), `FILTER_PAGE − 1` once
/// sampled blocks exist, all aligned to `FILTER_PAGE` (only such frees look), 0 once a block
/// that is not was recorded (exact mode: every free looks). Only ever lowered. The free
/// path does not read it: the filter's buckets say the same ([`maybe_sampled`]); the
/// recording paths keep the filter by it.
static FREE_MASK: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The alignment the free path's filter tells apart: a sampled block aligned to it is
/// counted in its page's bucket, any other in the last bucket. 4 KiB, the smallest page size
/// of the platforms allocscope runs on, so that page-aligned sampled blocks
/// ([`layout_for_sampled`]) are aligned to it; a constant, so that a free reads no mask.
const FILTER_PAGE: usize = 4096;

/// Buckets of [`LIVE_FILTER`] (a power of two).
const FILTER_BUCKETS: usize = 1 << 14;

/// A counting filter of live sampled blocks: bucket `filter_bucket(ptr)` counts the recorded
/// blocks whose address hashes there. A free whose bucket is 0 was surely not sampled and
/// skips the live table. Incremented before a block is inserted in the table (so before the
/// pointer reaches the program), decremented when the table gives the block back; a bucket
/// is thus never 0 while a block hashing there is live. 64 KiB of zeroed static memory, of
/// which only the pages holding touched buckets become resident. One more bucket at
/// `FILTER_BUCKETS` is the bucket of every block not aligned to [`FILTER_PAGE`]: 0 until such
/// a block is recorded (in sampled mode, never), then saturated for good with all the others
/// ([`filter_saturate`]).
static LIVE_FILTER: [AtomicU32; FILTER_BUCKETS + 1] =
    [const { AtomicU32::new(0) }; FILTER_BUCKETS + 1];

/// The address of [`LIVE_FILTER`], for the heads of the counter slots (`counters::Head`),
/// through which the free path reads it.
pub(crate) const fn live_filter() -> *const AtomicU32 {
    LIVE_FILTER.as_ptr()
}

/// A filter whose every bucket is non-zero, never written: the one of a stand-in head
/// (`counters::Head::stand_in`), the active pointer of a thread that may not count here, so
/// that each of its frees goes out of line at the filter's test, with no test of its own. Not
/// zero, so 64 KiB of the binary's data, of which only pages such frees read become resident.
pub(crate) static STAND_IN_FILTER: [AtomicU32; FILTER_BUCKETS + 1] =
    [const { AtomicU32::new(1) }; FILTER_BUCKETS + 1];

#[inline(always)]
fn filter_bucket(p: usize) -> &'static AtomicU32 {
    // SAFETY: `filter_index` is below `FILTER_BUCKETS`.
    unsafe { LIVE_FILTER.get_unchecked(filter_index(p)) }
}

/// The bucket of `p`, below `FILTER_BUCKETS`.
#[inline(always)]
fn filter_index(p: usize) -> usize {
    // The page number, modulo the filter's size: the filter counts only blocks aligned to
    // `FILTER_PAGE` here, so the bits below the page carry nothing, and two live sampled
    // blocks share a bucket only if their pages are 64 MiB apart (a shift and a mask: this
    // runs on every page-aligned free).
    (p / FILTER_PAGE) & (FILTER_BUCKETS - 1)
}

/// Debug builds count entries into the slow path of frees (live-table probes) and sampled
/// blocks recorded, so tests can check that probes stay near the number of samples.
#[cfg(debug_assertions)]
static SLOW_FREE_PROBES: AtomicU64 = AtomicU64::new(0);
#[cfg(debug_assertions)]
static RECORDED: AtomicU64 = AtomicU64::new(0);

/// `(frees that probed the live table, sampled blocks recorded)` since start; `None` in
/// release builds, which do not count them. For allocscope's own tests.
#[doc(hidden)]
pub fn debug_probe_counts() -> Option<(u64, u64)> {
    #[cfg(debug_assertions)]
    {
        Some((SLOW_FREE_PROBES.load(Relaxed), RECORDED.load(Relaxed)))
    }
    #[cfg(not(debug_assertions))]
    {
        None
    }
}

/// Decides whether the allocation of `size` bytes about to happen is sampled. Hot path.
#[inline(always)]
pub(crate) fn sample_alloc(size: usize) -> bool {
    sampler::should_sample(size)
}

/// The hot half of [`sample_alloc`]: false when the allocation of `size` bytes is surely not
/// sampled and no tracing span is entered; true when [`sample_decision_due`] must be asked.
#[inline(always)]
pub(crate) fn sample_countdown_expired(size: usize) -> bool {
    sampler::countdown_expired(size)
}

/// Takes back [`sample_countdown_expired`]'s count-down of `size` bytes, for a call this
/// thread may not count after all.
#[inline]
pub(crate) fn sample_count_up(size: usize) {
    sampler::count_up(size)
}

/// After [`sample_countdown_expired`] returned true: true when [`sample_decide`] must decide,
/// false when only a tracing span sent the allocation out of line.
#[inline]
pub(crate) fn sample_decision_due() -> bool {
    sampler::decision_due()
}

/// After [`sample_countdown_expired`] returned true: true in exact mode when the countdown
/// ran out, which then needs no [`sample_decide`] (see `sampler::exact_due`); the caller
/// records the allocation with [`record_exact`].
#[inline(always)]
pub(crate) fn exact_due() -> bool {
    sampler::exact_due()
}

/// The cold half of [`sample_alloc`], after [`sample_countdown_expired`] returned true.
#[inline]
pub(crate) fn sample_decide(size: usize) -> bool {
    sampler::decide(size)
}

/// The layout a sampled allocation is made with: page-aligned in sampled mode, unchanged in
/// exact mode (or when the request is already page-aligned).
#[inline]
pub(crate) fn layout_for_sampled(layout: Layout) -> Layout {
    if settings::sample_bytes() <= 1 {
        return layout;
    }
    let page = page_size();
    if layout.align() >= page {
        return layout;
    }
    Layout::from_size_align(layout.size(), page).unwrap_or(layout)
}

/// Records a sampled allocation made at `ptr` for the user's `layout`, allocated with `used`.
/// Hot path (of sampled allocations only).
///
/// # Safety
/// `ptr` must be a live block just allocated by the inner allocator with `used`, and
/// `used` must be what [`layout_for_sampled`] returned for `layout` (or `layout` itself).
#[inline(never)]
pub(crate) unsafe fn record_alloc(ptr: *mut u8, layout: Layout, used: Layout) {
    // SAFETY: the caller's contract, passed on.
    unsafe { record_with(ptr, layout, used, settings::sample_bytes()) }
}

/// [`record_alloc`] of an allocation made in exact mode ([`exact_due`] said so): the block
/// was allocated with the caller's `layout` and weighs exactly one allocation of its size.
/// Inlined into the hook's exact path, so the stack walk starts one frame nearer the user.
///
/// # Safety
/// `ptr` must be a live block just allocated by the inner allocator with `layout`.
#[inline(always)]
pub(crate) unsafe fn record_exact(ptr: *mut u8, layout: Layout) {
    // SAFETY: the caller's contract, passed on (`layout_for_sampled` returns `layout` itself
    // in exact mode).
    unsafe { record_with(ptr, layout, layout, 1) }
}

/// The body of [`record_alloc`] under sampling interval `r` (1: exact, weights of one).
///
/// # Safety
/// As [`record_alloc`].
#[inline(always)]
unsafe fn record_with(ptr: *mut u8, layout: Layout, used: Layout, r: u64) {
    let p = ptr as usize;
    let want = if p & (FILTER_PAGE - 1) != 0 {
        0
    } else {
        FILTER_PAGE - 1
    };
    // Acquire: a mask some thread lowered to 0 comes with its saturated filter, so a block
    // recorded here unfiltered ([`filter_add`]) is freed past a saturated bucket.
    if FREE_MASK.load(Acquire) > want {
        if want == 0 {
            // Every free is about to look in the table: make every filter bucket non-zero
            // first (this block's, the last one, is read by its free: see `maybe_sampled`).
            filter_saturate();
        }
        // Release: a recording thread that reads this mask (with Acquire) sees the saturated
        // filter.
        FREE_MASK.fetch_min(want, Release);
    }
    #[cfg(debug_assertions)]
    RECORDED.fetch_add(1, Relaxed);
    // Before the block is in the table and before its pointer reaches the program: a free of
    // it can only find its bucket non-zero.
    filter_add(p);
    let size = layout.size();
    let mut buf = [MaybeUninit::<usize>::uninit(); unwind::MAX_RAW_FRAMES];
    let depth = (settings::max_depth() + unwind::PLUMBING_FRAMES).min(buf.len());
    let (n, hash) = unwind::capture(
        buf.get_mut(..depth).unwrap_or(&mut []),
        settings::unwinder(),
    );
    let filled = buf.get(..n).unwrap_or(&[]);
    // SAFETY: `capture` initialised the first `n` entries it returned.
    let frames: &[usize] = unsafe { &*(filled as *const [MaybeUninit<usize>] as *const [usize]) };
    let span = spans::current();
    let site_no = site_of(frames, hash, span);
    let (w_count, w_bytes) = sampler::weights(size, r);
    spans::on_sampled_alloc(span, w_count, w_bytes);
    if let Some(s) = site_no.and_then(site_table::site) {
        // Small requests: class and usable size from the lookup table (blocks fill their
        // class); others computed.
        let (class, usable) =
            match crate::model::size_class::small_class_of_request(size, layout.align()) {
                Some(i) => (
                    i,
                    SizeClass::from_index(i).map_or(size as u64, SizeClass::size) as usize,
                ),
                None => {
                    let u = usable_size(size, layout.align());
                    (SizeClass::of_usable(u).index(), u)
                }
            };
        let slack = ((usable.saturating_sub(size)) as u128 * u128::from(w_count)
            / u128::from(COUNT_ONE)) as u64;
        let (h, owned) = hot_of(s, stripe(true));
        bump(&h.samples, 1, owned);
        bump(&h.allocs, w_count, owned);
        bump(&h.bytes, w_bytes, owned);
        if slack != 0 {
            bump(&h.slack, slack, owned);
        }
        bump(&h.live_count, w_count, owned);
        bump(&h.live_bytes, w_bytes, owned);
        match h.small_classes.get(class) {
            Some(c) => bump(c, w_count, owned),
            None => {
                if let Some(c) = s.classes.get(class) {
                    c.fetch_add(w_count, Relaxed);
                }
            }
        }
    }
    live_table::insert(Entry {
        ptr: p,
        site: site_no.unwrap_or(u32::MAX),
        // An alignment is below 2^64: its log2 fits.
        align_log2: used.align().trailing_zeros() as u16,
        span,
        t_alloc: clock::ticks(),
        rate: r,
    });
}

/// Entries of [`SITE_CACHE`] (a power of two).
const SITE_CACHE_LEN: usize = 64;

thread_local! {
    /// This thread's recent (stack hash, site) pairs, direct-mapped by the hash: a program
    /// allocates from a few dozen stacks over and over (a loop's one stack; a parser's
    /// handful of nested calls, taken in turn), and a hit skips the site table's probe and
    /// its frame-by-frame comparison (a stack of 20–30 frames). A hit trusts the 64-bit
    /// hash alone. 1 KiB of static thread-local storage, no `Drop`.
    static SITE_CACHE: [Cell<(u64, u32)>; SITE_CACHE_LEN] =
        const { [const { Cell::new((0, u32::MAX)) }; SITE_CACHE_LEN] };
}

/// The site of a raw stack whose [`unwind::hash`] is `hash`, sampled in tracing span `span`
/// (0: none).
#[inline]
fn site_of(frames: &[usize], hash: u64, span: u16) -> Option<u32> {
    let mut hash = hash;
    if span != 0 {
        hash ^= u64::from(span).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    let i = (hash >> 58) as usize % SITE_CACHE_LEN;
    let cached = SITE_CACHE
        .try_with(|c| c.get(i).map_or((0, u32::MAX), Cell::get))
        .unwrap_or((0, u32::MAX));
    if cached.0 == hash && cached.1 != u32::MAX {
        return Some(cached.1);
    }
    let site = site_table::find_or_insert(frames, hash, span)?;
    let _ = SITE_CACHE.try_with(|c| {
        if let Some(e) = c.get(i) {
            e.set((hash, site));
        }
    });
    Some(site)
}

/// If `ptr` is a sampled block, forgets it (charging its free to its site) and returns the
/// layout it was really allocated with. Hot path: for a block that was not sampled, in
/// sampled mode, costs one relaxed load and a mask test unless `ptr` is page-aligned, and
/// one more load (its filter bucket) if it is.
#[inline(always)]
pub(crate) fn take_live(ptr: *mut u8, layout: Layout) -> Option<Layout> {
    if !maybe_sampled(ptr) {
        return None;
    }
    take_live_slow(ptr, layout)
}

/// [`take_live`] past the filters: one out-of-line call that looks the block up, charges its
/// free and computes its layout, so the entry is not copied across calls.
#[inline(never)]
fn take_live_slow(ptr: *mut u8, layout: Layout) -> Option<Layout> {
    take_live_body(ptr, layout)
}

/// Starts loading the live-table slot of block `ptr` when a free of it will look in the
/// table ([`maybe_sampled`]), or, after an allocation that is about to be recorded, where it
/// will go (see `live_table::prefetch`): the caller does other work meanwhile.
#[inline(always)]
pub(crate) fn prefetch_live(ptr: *mut u8) {
    live_table::prefetch(ptr as usize);
}

/// [`take_live`] inlined whole into its caller: for the hook's free path of a counting
/// thread, itself out of line, which every free reaches in exact mode (one call, with its
/// saved registers, fewer per free).
#[inline(always)]
pub(crate) fn take_live_inline(ptr: *mut u8, layout: Layout) -> Option<Layout> {
    if !maybe_sampled(ptr) {
        return None;
    }
    take_live_body(ptr, layout)
}

#[inline(always)]
fn take_live_body(ptr: *mut u8, layout: Layout) -> Option<Layout> {
    let e = remove_live_probe(ptr)?;
    charge_free_inline(&e, layout.size());
    Some(real_layout(&e, layout))
}

/// True when a free of `ptr` must look in the live table ([`take_live`] may return a
/// layout); false proves the block was not sampled. One load, no call: the bucket of a block
/// aligned to [`FILTER_PAGE`] is its page's, counted by [`filter_add`]; that of any other
/// block is the last one, 0 until a block not so aligned is recorded, which first saturates
/// every bucket ([`filter_saturate`]; then the filter is no longer kept, see [`filter_add`],
/// and every free looks). Either way the recording thread made the bucket non-zero before
/// the block's pointer reached the program, so its free, which comes after, reads it so.
/// (A mask read here, as before, cost two more instructions per free: its address and it.)
///
/// No branch on the page alignment itself (a conditional move picks the bucket): whether a
/// freed block is page-aligned (a slab's first block is) varies from free to free in most
/// programs, so a branch on it is mispredicted about as often as not (measured: 7 ns per
/// alloc+free pair on tiny churn, twice the whole fast path).
#[inline(always)]
pub(crate) fn maybe_sampled(ptr: *mut u8) -> bool {
    // SAFETY: `LIVE_FILTER` is a live filter.
    unsafe { maybe_sampled_in(live_filter(), ptr) }
}

/// [`maybe_sampled`] with the filter at `filter`: the thread's active head's
/// (`counters::filter_of`), which is [`LIVE_FILTER`] while the thread may count, else
/// [`STAND_IN_FILTER`] (true for every block).
///
/// # Safety
/// `filter` must be [`LIVE_FILTER`] or [`STAND_IN_FILTER`]'s address.
#[inline(always)]
pub(crate) unsafe fn maybe_sampled_in(filter: *const AtomicU32, ptr: *mut u8) -> bool {
    let p = ptr as usize;
    // A conditional move, not a branch: the block's page bucket, or the last one.
    let i = if p & (FILTER_PAGE - 1) == 0 {
        filter_index(p)
    } else {
        FILTER_BUCKETS
    };
    // SAFETY: `i ≤ FILTER_BUCKETS`, the last index of either filter, which the caller
    // passes.
    unsafe { &*filter.add(i) }.load(Relaxed) != 0
}

/// What [`filter_saturate`] adds to every bucket: far above any number of live sampled
/// blocks in one bucket, and small enough that every thread that may saturate at once
/// (each thread recording its first block that is not page-aligned while the mask is
/// still above 0) cannot overflow a `u32`.
const FILTER_SATURATED: u32 = 1 << 24;

/// Makes every bucket of [`LIVE_FILTER`] non-zero for good: called before [`FREE_MASK`] is
/// lowered to 0, after which buckets are only ever decremented by frees of blocks counted
/// in them before (see [`filter_add`]). 16 Ki atomic adds, once per mode change.
#[cold]
fn filter_saturate() {
    for b in LIVE_FILTER.iter() {
        b.fetch_add(FILTER_SATURATED, Relaxed);
    }
}

/// Counts a block about to be recorded in [`LIVE_FILTER`], unless [`FREE_MASK`] is already 0:
/// then every free looks in the table and every bucket is saturated (the mask is only ever
/// lowered), so the shared atomic add — a cache line two threads fight over when one
/// frees what the other allocated — is skipped. [`filter_sub`] mirrors the rule: it
/// subtracts only while the mask is non-zero, which (by coherence: the mask only goes down,
/// and the record happens before the free) means this add happened. A bucket left counting
/// a block recorded before the mask reached 0 is harmless: the bucket stays saturated.
#[inline(always)]
fn filter_add(p: usize) {
    // Acquire: see `record_with` (a mask of 0 comes with the saturated filter).
    if FREE_MASK.load(Acquire) != 0 {
        filter_bucket(p).fetch_add(1, Relaxed);
    }
}

/// Uncounts a block taken out of the table (see [`filter_add`]).
#[inline(always)]
fn filter_sub(p: usize) {
    if FREE_MASK.load(Relaxed) != 0 {
        filter_bucket(p).fetch_sub(1, Relaxed);
    }
}

/// If `ptr` is a sampled block, forgets it without charging anything to its site (a realloc
/// does that with [`charge_free`] once it succeeded, or puts the entry back with
/// [`restore_live`] when it failed).
#[inline(always)]
pub(crate) fn remove_live(ptr: *mut u8) -> Option<Entry> {
    if !maybe_sampled(ptr) {
        return None;
    }
    remove_live_slow(ptr)
}

#[inline(never)]
fn remove_live_slow(ptr: *mut u8) -> Option<Entry> {
    remove_live_probe(ptr)
}

/// The live-table lookup of a free that passed the filters.
#[inline(always)]
fn remove_live_probe(ptr: *mut u8) -> Option<Entry> {
    #[cfg(debug_assertions)]
    SLOW_FREE_PROBES.fetch_add(1, Relaxed);
    let e = live_table::remove(ptr as usize)?;
    filter_sub(ptr as usize);
    Some(e)
}

/// Puts back a live block that [`remove_live`] took out (a realloc that failed: the block
/// stays where it was, at its site, as if nothing happened).
#[cold]
pub(crate) fn restore_live(e: Entry) {
    // Counted in the filter before it is in the table, as `record_alloc` does.
    filter_add(e.ptr);
    live_table::insert(e);
}

/// The layout a sampled block was really allocated with, for the user's `layout`.
#[inline]
pub(crate) fn real_layout(e: &Entry, layout: Layout) -> Layout {
    let align = 1usize
        .checked_shl(u32::from(e.align_log2))
        .unwrap_or(layout.align());
    if align <= layout.align() {
        // Allocated with the caller's layout (every block in exact mode).
        return layout;
    }
    Layout::from_size_align(layout.size(), align.max(layout.align())).unwrap_or(layout)
}

/// Charges the free of the sampled block `e` of `size` bytes (the size it was allocated
/// with) to its site (live figures, lifetime).
#[inline(never)]
pub(crate) fn charge_free(e: &Entry, size: usize) {
    charge_free_inline(e, size);
}

/// [`charge_free`], inlined into the free path.
#[inline(always)]
fn charge_free_inline(e: &Entry, size: usize) {
    // The weights it was recorded with: the same function of the same size and interval.
    let (w_count, w_bytes) = sampler::weights(size, e.rate);
    if e.span != 0 {
        let life = clock::ticks_to_ns(clock::ticks().saturating_sub(e.t_alloc));
        spans::on_sampled_free(e.span, w_count, w_bytes, life);
    }
    if let Some(s) = site_table::site(e.site) {
        let (h, owned) = hot_of(s, stripe(false));
        bump(&h.live_count, w_count.wrapping_neg(), owned);
        bump(&h.live_bytes, w_bytes.wrapping_neg(), owned);
        let life = clock::ticks_to_ns(clock::ticks().saturating_sub(e.t_alloc));
        let bands = [&h.life_under_1us, &h.life_1us_1ms, &h.life_1ms_1s];
        if let Some(b) = site_table::life_band(life, bands) {
            bump(b, w_count, owned);
        }
        if let Some(b) = s.lifetimes.get(site_table::lifetime_bucket(life)) {
            b.fetch_add(w_count, Relaxed);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Stripes. Every sampled allocation and free updates six to nine counters of its site; in
// exact mode that is every allocation and free, and locked adds (~20 cycles each) were a
// good part of the cost, plus a cache line that two threads allocating at one site fight
// over. So a site keeps `STRIPES` copies of those counters ([`Hot`]): stripe 0 is shared and
// updated with locked adds; each other stripe belongs to at most one thread at a time, which
// updates it with a plain load and store (exact: it is the only writer; readers sum the
// stripes with atomic loads, as `counters` does with its per-thread slots). A thread claims
// a stripe at its first sampled allocation (inside the hook guard) and gives it back when it
// exits; a thread that finds none free, or that frees before it ever allocated, uses stripe
// 0. As with `counters`' slots, a signal handler that frees a sampled block while its own
// thread is between the load and the store of one of these counters loses that update.
// (docs/callsites.md, "Per-site counters: stripes".)
// ---------------------------------------------------------------------------------------

/// `STRIPE_CLAIMED[k]`: stripe `k + 1` belongs to a live thread.
static STRIPE_CLAIMED: [AtomicBool; STRIPES - 1] = [const { AtomicBool::new(false) }; STRIPES - 1];

/// [`STRIPE`] before the thread's first claim.
const STRIPE_UNSET: u8 = u8::MAX;

thread_local! {
    /// This thread's stripe: [`STRIPE_UNSET`], 0 (shared) or its own (`1..STRIPES`).
    static STRIPE: Cell<u8> = const { Cell::new(STRIPE_UNSET) };
    /// Gives the stripe back when the thread exits. Touched once, when the stripe is claimed,
    /// which registers its destructor (through glibc's `__cxa_thread_atexit_impl`, which uses
    /// glibc's own malloc, not the Rust global allocator).
    static STRIPE_RELEASER: StripeReleaser = const { StripeReleaser };
}

struct StripeReleaser;

impl Drop for StripeReleaser {
    fn drop(&mut self) {
        let _ = STRIPE.try_with(|c| {
            // From now on this thread's updates (frees during the rest of its teardown) go to
            // the shared stripe; only then may another thread take this one over.
            let k = usize::from(c.replace(0));
            if let Some(claimed) = k.checked_sub(1).and_then(|i| STRIPE_CLAIMED.get(i)) {
                claimed.store(false, Release);
            }
        });
    }
}

/// This thread's stripe; on its first call with `may_claim` (a sampled allocation, inside the
/// hook guard), claims one. Always `< STRIPES`.
#[inline(always)]
fn stripe(may_claim: bool) -> usize {
    let k = STRIPE.try_with(Cell::get).unwrap_or(0);
    if k != STRIPE_UNSET {
        return usize::from(k);
    }
    if may_claim {
        claim_stripe()
    } else {
        0
    }
}

#[cold]
#[inline(never)]
fn claim_stripe() -> usize {
    for (i, claimed) in STRIPE_CLAIMED.iter().enumerate() {
        if !claimed.load(Relaxed)
            && claimed
                .compare_exchange(false, true, Acquire, Relaxed)
                .is_ok()
        {
            if STRIPE_RELEASER.try_with(|_| ()).is_err() {
                // The thread is already tearing down: give the stripe back at once.
                claimed.store(false, Release);
                break;
            }
            let _ = STRIPE.try_with(|c| c.set((i + 1) as u8));
            return i + 1;
        }
    }
    let _ = STRIPE.try_with(|c| c.set(0));
    0
}

/// Stripe `k` of site `s` and whether this thread owns it.
#[inline(always)]
fn hot_of(s: &Site, k: usize) -> (&Hot, bool) {
    let [shared, ..] = &s.hot;
    match s.hot.get(k) {
        Some(h) if k != 0 => (h, true),
        _ => (shared, false),
    }
}

/// Adds `v` (wrapping; subtract with `v.wrapping_neg()`) to a stripe's counter: a plain load
/// and store when this thread owns the stripe, else a locked add.
#[inline(always)]
fn bump(a: &AtomicU64, v: u64, owned: bool) {
    if owned {
        a.store(a.load(Relaxed).wrapping_add(v), Relaxed);
    } else {
        a.fetch_add(v, Relaxed);
    }
}

/// The process reached a new peak of `live` requested bytes. Hot path during growth: one
/// relaxed load and a comparison unless the peak grew by a step (see [`crate::hook::peak`]).
#[inline(always)]
pub(crate) fn on_new_peak(live: u64) {
    peak::on_new_peak(live);
}
