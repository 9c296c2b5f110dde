//! allocscope over the program's own jemalloc, from the old jemallocator 0.5 crate.

#[path = "../../common/workload.rs"]
mod workload;

#[global_allocator]
static ALLOC: allocscope::Profiler<jemallocator::Jemalloc> =
    allocscope::Profiler::new(jemallocator::Jemalloc).with_jemalloc_stats(jemalloc_sys::mallctl);

fn main() {
    workload::jemalloc_main();
}
