//! Budget macros over jemalloc (the tests are in `support/budget.rs`).

#[global_allocator]
static ALLOC: allocscope::Profiler<allocscope::Jemalloc> =
    allocscope::Profiler::new(allocscope::Jemalloc);

#[path = "support/budget.rs"]
mod budget_common;
