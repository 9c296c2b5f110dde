//! Budget macros over mimalloc (the tests are in `budget_common`).

#[global_allocator]
static ALLOC: allocscope::Profiler<mimalloc::MiMalloc> =
    allocscope::Profiler::new(mimalloc::MiMalloc);

mod budget_common;
