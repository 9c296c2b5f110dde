//! Memory by tracing span: the figures of one span path (issue 14), as
//! `allocscope::span_stats()` returns them and the profile's `spans` table holds them.

/// The allocations charged to one span path: while a span is entered on a thread, that
/// thread's allocations are charged to the span's path (`request > parse > decode`).
///
/// `allocs`, `bytes` and `reallocs` are exact. The other figures come from the sampled
/// blocks (exact in exact mode), each weighted as call sites are, and follow a block to its
/// free on any thread: a block allocated in a span and freed elsewhere still leaves that
/// span's live bytes.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct SpanStats {
    /// The span path, outermost first, joined by ` > `; a span's configured fields follow its
    /// name in braces: `request{route=/users} > parse`.
    pub path: String,
    /// The innermost span's name.
    pub name: String,
    /// The innermost span's target (usually its module path).
    pub target: String,
    /// Allocations made while the span was entered (exact; reallocs not included).
    pub allocs: u64,
    /// Bytes requested by those allocations and by the reallocs' new sizes (exact).
    pub bytes: u64,
    /// Reallocs made while the span was entered (exact).
    pub reallocs: u64,
    /// Sampled blocks recorded in the span.
    pub samples: u64,
    /// Allocations estimated from the samples (equals `allocs` but for sampling noise, plus
    /// reallocs whose new block was sampled).
    pub sampled_allocs: u64,
    /// Bytes estimated from the samples.
    pub sampled_bytes: u64,
    /// Estimated live blocks allocated in the span, now (or at exit, in a profile).
    pub live_blocks: u64,
    /// Estimated live bytes allocated in the span, now.
    pub live_bytes: u64,
    /// The highest `live_bytes` the span reached.
    pub peak_live_bytes: u64,
    /// Estimated blocks of the span that were freed.
    pub freed: u64,
    /// Of those, freed less than 1 µs after allocation.
    pub freed_under_1us: u64,
    /// Freed less than 1 ms after allocation (includes `freed_under_1us`).
    pub freed_under_1ms: u64,
    /// Freed less than 1 s after allocation (includes `freed_under_1ms`).
    pub freed_under_1s: u64,
}
