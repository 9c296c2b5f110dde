//! Budget macros over `std::alloc::System` (the tests are in `budget_common`).

#[global_allocator]
static ALLOC: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

mod budget_common;
