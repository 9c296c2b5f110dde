//! allocscope over the program's own tikv-jemallocator 0.5.

#[path = "../../common/workload.rs"]
mod workload;

#[global_allocator]
static ALLOC: allocscope::Profiler<tikv_jemallocator::Jemalloc> =
    allocscope::Profiler::new(tikv_jemallocator::Jemalloc)
        .with_jemalloc_stats(tikv_jemalloc_sys::mallctl);

fn main() {
    workload::jemalloc_main();
}
