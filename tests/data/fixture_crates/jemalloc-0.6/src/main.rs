//! allocscope over the program's own tikv-jemallocator 0.6.

#[path = "../../common/workload.rs"]
mod workload;

#[global_allocator]
static ALLOC: allocscope::Profiler<tikv_jemallocator::Jemalloc> =
    allocscope::Profiler::new(tikv_jemallocator::Jemalloc)
        .with_jemalloc_stats(tikv_jemalloc_sys::mallctl);

fn main() {
    let out = std::env::args().nth(1).expect("usage: fixture PROFILE_OUT");
    let baseline = allocscope::snapshot().live_bytes;
    let (kept, bytes) = workload::run();
    workload::print_counts(baseline, bytes);
    let gap = allocscope::snapshot().gap.expect("the gap over jemalloc");
    println!("rss={}", gap.rss);
    for (name, value) in gap.terms() {
        println!("{name}={value}");
    }
    allocscope::write_profile(&out).expect("profile written");
    drop(kept);
}
