//! In a program with a single thread the peak of live bytes is exact. No libtest harness
//! here (`harness = false`): libtest would add its own thread.

#[global_allocator]
static ALLOC: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

#[path = "support/patterns.rs"]
mod common;

fn main() {
    common::peak_after_3mib_then_1mib(1);
    println!("peak_single_thread: 1 passed, 0 failed");
}
