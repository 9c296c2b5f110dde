//! allocscope with default features over the system allocator: the partial gap.

#[path = "../../common/workload.rs"]
mod workload;

#[global_allocator]
static ALLOC: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

fn main() {
    let baseline = allocscope::snapshot().live_bytes;
    let (kept, bytes) = workload::run();
    workload::print_counts(baseline, bytes);
    println!("{}", allocscope::gap::report());
    drop(kept);
}
