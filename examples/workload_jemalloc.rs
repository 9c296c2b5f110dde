//! The `compare_allocators` workload over jemalloc (tikv-jemallocator).
//! Run alone: `ALLOCSCOPE_OUT=jemalloc.json cargo run --release --features jemalloc --example workload_jemalloc`;
//! jemalloc's runtime options go in `_RJEM_MALLOC_CONF` (e.g. `dirty_decay_ms:0`).

#[path = "common/workload.rs"]
mod workload;

#[global_allocator]
static ALLOC: allocscope::Profiler<allocscope::Jemalloc> =
    allocscope::Profiler::new(allocscope::Jemalloc);

fn main() {
    workload::main();
}
