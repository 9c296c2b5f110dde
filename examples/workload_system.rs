//! The `compare_allocators` workload over the system allocator (glibc malloc on Linux).
//! Run alone: `ALLOCSCOPE_OUT=system.json cargo run --release --example workload_system`.

#[path = "common/workload.rs"]
mod workload;

#[global_allocator]
static ALLOC: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

fn main() {
    workload::main();
}
