//! Budget macros over mimalloc (the tests are in `support/budget.rs`).

#[global_allocator]
static ALLOC: allocscope::Profiler<mimalloc::MiMalloc> =
    allocscope::Profiler::new(mimalloc::MiMalloc);

#[path = "support/budget.rs"]
mod budget_common;
