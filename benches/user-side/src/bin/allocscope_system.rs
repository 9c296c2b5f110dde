//! The workloads over `allocscope::Profiler<System>`.
#[path = "../workloads.rs"]
mod workloads;

#[global_allocator]
static ALLOC: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

fn main() {
    workloads::main();
}
