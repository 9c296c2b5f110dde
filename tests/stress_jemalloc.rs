//! Stress over `allocscope::Jemalloc`: threads allocating, reallocating and freeing across each other while
//! threads start and exit, in sampled and exact modes; the counts stay exact and nothing
//! hangs (see `support/stress.rs`). `ALLOCSCOPE_STRESS_FULL=1` for the full size.

#[path = "support/stress.rs"]
mod stress;

#[global_allocator]
static ALLOC: allocscope::Profiler<allocscope::Jemalloc> =
    allocscope::Profiler::new(allocscope::Jemalloc);

fn main() {
    stress::run("jemalloc");
}
