//! `measure`: the allocations of one closure on the current thread.

use crate::hook::counters;
use crate::observe::snapshot::Counts;

/// Runs `f` and returns what it allocated and freed **on the current thread**, exactly, even
/// while other threads (such as libtest's other tests) allocate concurrently.
///
/// Returns zero counts when no [`crate::Profiler`] is installed (or in the rare case that the
/// thread found no free counter slot; see [`crate::snapshot()`]).
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocscope::Profiler<std::alloc::System> =
///     allocscope::Profiler::new(std::alloc::System);
///
/// fn parse(s: &str) -> Option<(u32, u32, u32)> {
///     let mut it = s.split('.').map(|p| p.parse().ok());
///     Some((it.next()??, it.next()??, it.next()??))
/// }
///
/// fn main() {
///     let (v, counts) = allocscope::measure(|| parse("1.2.3"));
///     assert_eq!(v, Some((1, 2, 3)));
///     assert_eq!(counts.allocs, 0);
/// }
/// ```
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, Counts) {
    let before = counters::thread_counts();
    let value = f();
    let after = counters::thread_counts();
    let counts = match (before, after) {
        (Some(b), Some(a)) if crate::hook::profiler::is_installed() => Counts {
            allocs: a.allocs - b.allocs,
            reallocs: a.reallocs - b.reallocs,
            frees: a.frees - b.frees,
            bytes_allocated: a.bytes_allocated - b.bytes_allocated,
            bytes_freed: a.bytes_freed - b.bytes_freed,
        },
        _ => Counts::default(),
    };
    (value, counts)
}
