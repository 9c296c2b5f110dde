//! Memory by tracing span: the hook's side (issue 14).
//!
//! While a span is entered on a thread, the thread's "current span" slot (a field of the
//! thread-local state the hook's fast path already reads, see [`current`]) holds the span's
//! small id: the id of its interned *path* (`request > parse > decode`, grouped by name,
//! target and configured fields), given by `SpanLayer` outside the hook. 0 means no span.
//!
//! The fast path pays nothing for it: entering a span from none parks the sampler's
//! countdown far below zero (`crate::hook::sampler::set_current_span`), so its countdown test
//! sends every allocation out of line while a span is entered, where the real countdown is
//! counted down and [`on_alloc`] adds to the span's counters in a fixed,
//! statically allocated table indexed by the id. Nothing here allocates, locks or
//! panics, and no block carries a header: a sampled block remembers its span in its live
//! table entry, so its free — on any thread, in any span — credits the span that allocated it
//! ([`on_sampled_free`]).
//!
//! Exact per span: allocations, bytes (requested, as [`crate::hook::counters`] counts them: a
//! realloc adds its new size) and reallocs. Sampled per span (weighted as call sites are):
//! allocations, bytes, live bytes, the span's own peak of live bytes, and lifetimes.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use crate::hook::sampler;

/// Number of span ids (id 0 = no span; ids `1..MAX_SPANS`). Paths interned beyond this
/// share [`OVERFLOW_SPAN`].
pub const MAX_SPANS: usize = 4096;

/// The id every path past the table's capacity is charged to (the layer names it
/// `(other spans)`).
pub const OVERFLOW_SPAN: u16 = (MAX_SPANS - 1) as u16;

/// The counters of one span path. Aligned to two cache lines so that two spans charged from
/// two threads never share one.
#[repr(align(128))]
pub(crate) struct SpanCounters {
    /// Exact: allocations (not reallocs), bytes requested (allocs and realloc results),
    /// reallocs.
    pub allocs: AtomicU64,
    pub bytes: AtomicU64,
    pub reallocs: AtomicU64,
    /// Sampled: samples taken, weighted allocations (fixed point, `COUNT_ONE` = 1) and bytes.
    pub samples: AtomicU64,
    pub w_allocs: AtomicU64,
    pub w_bytes: AtomicU64,
    /// Sampled: weighted live blocks (fixed point) and live bytes; the highest live bytes.
    pub live_count: AtomicU64,
    pub live_bytes: AtomicU64,
    pub peak_live_bytes: AtomicU64,
    /// Sampled: weighted frees (fixed point) of the span's blocks, and of those, how many
    /// were freed within 1 µs, 1 µs–1 ms, 1 ms–1 s (the rest lived longer).
    pub freed: AtomicU64,
    pub life_under_1us: AtomicU64,
    pub life_1us_1ms: AtomicU64,
    pub life_1ms_1s: AtomicU64,
}

impl SpanCounters {
    #[allow(clippy::declare_interior_mutable_const)]
    const ZERO: SpanCounters = SpanCounters {
        allocs: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        reallocs: AtomicU64::new(0),
        samples: AtomicU64::new(0),
        w_allocs: AtomicU64::new(0),
        w_bytes: AtomicU64::new(0),
        live_count: AtomicU64::new(0),
        live_bytes: AtomicU64::new(0),
        peak_live_bytes: AtomicU64::new(0),
        freed: AtomicU64::new(0),
        life_under_1us: AtomicU64::new(0),
        life_1us_1ms: AtomicU64::new(0),
        life_1ms_1s: AtomicU64::new(0),
    };
}

/// Zeroed static memory: only the pages of spans that were charged become resident.
static SPANS: [SpanCounters; MAX_SPANS] = [SpanCounters::ZERO; MAX_SPANS];

/// Ids `1..USED` may have been charged: readers scan only those.
static USED: AtomicUsize = AtomicUsize::new(1);

/// The counters of span `id`, if it is in range (never id 0).
#[inline(always)]
pub(crate) fn counters(id: u16) -> Option<&'static SpanCounters> {
    if id == 0 {
        return None;
    }
    SPANS.get(usize::from(id))
}

/// Span ids up to which counters may be non-zero (exclusive). Not for the hook.
pub(crate) fn used() -> usize {
    USED.load(Relaxed).min(MAX_SPANS)
}

/// The span id charged on this thread now (0: none). Hot path: one thread-local load.
#[inline(always)]
pub(crate) fn current() -> u16 {
    sampler::current_span()
}

/// Sets this thread's current span (the layer, on enter and exit): a few thread-local stores
/// (entering a span from none parks the sampler's countdown, see
/// `crate::hook::sampler::set_current_span`). `id` must have been announced with
/// [`note_id`]. Never allocates.
#[inline]
#[cfg_attr(not(feature = "tracing-spans"), allow(dead_code))] // used by SpanLayer
pub(crate) fn set_current(id: u16) {
    sampler::set_current_span(id);
}

/// After the fast path sent an allocation of `size` bytes out of line while a span is
/// entered: counts it down the sampler's parked countdown; true when the sampler must decide.
#[inline]
pub(crate) fn count_down(size: usize) -> bool {
    sampler::span_count_down(size)
}

/// Span id `id` exists: readers scan the table up to it (the layer, when it interns a path).
#[cfg_attr(not(feature = "tracing-spans"), allow(dead_code))] // used by SpanLayer
pub(crate) fn note_id(id: u16) {
    USED.fetch_max((usize::from(id) + 1).min(MAX_SPANS), Relaxed);
}

/// Charges an allocation of `size` bytes to the current span, if any (out of line).
#[inline(always)]
pub(crate) fn on_alloc(size: usize) {
    let id = current();
    if id != 0 {
        charge_alloc(id, size);
    }
}

/// Charges an allocation of `size` bytes to span `id`. Only called from the hook's
/// out-of-line paths (the fast path never reaches it), so it is inlined there.
#[inline]
pub(crate) fn charge_alloc(id: u16, size: usize) {
    if let Some(c) = counters(id) {
        c.allocs.fetch_add(1, Relaxed);
        c.bytes.fetch_add(size as u64, Relaxed);
    }
}

/// Charges a realloc to `new_size` bytes to the current span, if any.
#[inline]
pub(crate) fn on_realloc(new_size: usize) {
    if let Some(c) = counters(current()) {
        c.reallocs.fetch_add(1, Relaxed);
        c.bytes.fetch_add(new_size as u64, Relaxed);
    }
}

/// A sampled block weighing `w_count` allocations (fixed point) and `w_bytes` bytes was
/// recorded in span `id`.
#[inline]
pub(crate) fn on_sampled_alloc(id: u16, w_count: u64, w_bytes: u64) {
    if let Some(c) = counters(id) {
        c.samples.fetch_add(1, Relaxed);
        c.w_allocs.fetch_add(w_count, Relaxed);
        c.w_bytes.fetch_add(w_bytes, Relaxed);
        c.live_count.fetch_add(w_count, Relaxed);
        let live = c.live_bytes.fetch_add(w_bytes, Relaxed) + w_bytes;
        if live > c.peak_live_bytes.load(Relaxed) {
            c.peak_live_bytes.fetch_max(live, Relaxed);
        }
    }
}

/// A sampled block of span `id` was freed (on any thread) after living `life_ns`.
#[inline]
pub(crate) fn on_sampled_free(id: u16, w_count: u64, w_bytes: u64, life_ns: u64) {
    if let Some(c) = counters(id) {
        c.live_count.fetch_sub(w_count, Relaxed);
        c.live_bytes.fetch_sub(w_bytes, Relaxed);
        c.freed.fetch_add(w_count, Relaxed);
        let bands = [&c.life_under_1us, &c.life_1us_1ms, &c.life_1ms_1s];
        if let Some(b) = crate::hook::site_table::life_band(life_ns, bands) {
            b.fetch_add(w_count, Relaxed);
        }
    }
}

/// Resident bytes of the span table (allocscope's own memory). Never allocates.
pub(crate) fn resident_bytes() -> u64 {
    crate::hook::own_memory::resident_in(SPANS.as_ptr() as usize, std::mem::size_of_val(&SPANS))
}
