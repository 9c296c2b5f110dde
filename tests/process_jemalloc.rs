//! Process-wide figures over jemalloc, in a quiet process: one test, so no other libtest
//! thread allocates meanwhile.

#[global_allocator]
static ALLOC: allocscope::Profiler<allocscope::Jemalloc> =
    allocscope::Profiler::new(allocscope::Jemalloc);

#[path = "support/patterns.rs"]
mod common;

#[test]
fn process_wide_counts() {
    // libtest's main thread has allocated too: the two-thread bound applies.
    common::peak_after_3mib_then_1mib(2);
    common::size_classes_count_rounding();
    common::threads_across_frees_exact();
    common::many_threads_keep_counts();
}
