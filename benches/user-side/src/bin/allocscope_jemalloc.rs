//! The workloads over `allocscope::Profiler<Jemalloc>`, configured from the environment
//! (`ALLOCSCOPE=off`, `ALLOCSCOPE_SAMPLE_BYTES=1`, ...).
#[path = "../workloads.rs"]
mod workloads;

#[global_allocator]
static ALLOC: allocscope::Profiler<allocscope::Jemalloc> =
    allocscope::Profiler::new(allocscope::Jemalloc);

fn main() {
    workloads::main();
}
