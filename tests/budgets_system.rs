//! Budget macros over `std::alloc::System` (the tests are in `support/budget.rs`).

#[global_allocator]
static ALLOC: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

#[path = "support/budget.rs"]
mod budget_common;
