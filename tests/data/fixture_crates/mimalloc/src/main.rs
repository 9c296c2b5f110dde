//! allocscope over the program's own mimalloc: the gap from mimalloc's statistics.

#[path = "../../common/workload.rs"]
mod workload;

#[global_allocator]
static ALLOC: allocscope::Profiler<mimalloc::MiMalloc> =
    allocscope::Profiler::new(mimalloc::MiMalloc);

fn main() {
    let baseline = allocscope::snapshot().live_bytes;
    let (kept, bytes) = workload::run();
    workload::print_counts(baseline, bytes);
    let gap = match allocscope::gap::report() {
        allocscope::GapReport::Mimalloc(g) => g,
        other => panic!("expected mimalloc's gap, got {other:?}"),
    };
    println!("rss={}", gap.rss);
    for (name, value) in gap.terms() {
        println!("{name}={value}");
    }
    println!("committed={}", gap.committed);
    println!("reserved={}", gap.reserved);
    eprintln!("{gap}");
    // mi_collect(true) returns whole free pages: once everything is freed, RSS falls by
    // about what free_and_cached held.
    drop(kept);
    let purge = allocscope::purge();
    eprintln!("{purge}");
    println!("purge_released={}", purge.rss_released());
}
