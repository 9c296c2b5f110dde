//! Budget macros over jemalloc (the tests are in `budget_common`).

#[global_allocator]
static ALLOC: allocscope::Profiler<allocscope::Jemalloc> =
    allocscope::Profiler::new(allocscope::Jemalloc);

mod budget_common;
