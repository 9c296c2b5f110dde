//! The `compare_allocators` workload over mimalloc.
//! Run alone: `ALLOCSCOPE_OUT=mimalloc.json cargo run --release --example workload_mimalloc`.

#[path = "common/workload.rs"]
mod workload;

#[global_allocator]
static ALLOC: allocscope::Profiler<mimalloc::MiMalloc> =
    allocscope::Profiler::new(mimalloc::MiMalloc);

fn main() {
    workload::main();
}
