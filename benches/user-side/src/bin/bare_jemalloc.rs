//! The workloads over plain jemalloc.
#[path = "../workloads.rs"]
mod workloads;

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    workloads::main();
}
