//! Sampled mode over jemalloc: estimates of every site holding ≥ 10 % of ≥ 200 MB allocated
//! are within ±10 % of the exact figures.

#[path = "support/callsites/mod.rs"]
mod callsite_support;
use callsite_support as common;

#[global_allocator]
static ALLOC: allocscope::Profiler<allocscope::Jemalloc> =
    allocscope::Profiler::new(allocscope::Jemalloc);

#[test]
fn sampled_estimates_within_10_percent() {
    if common::is_child() {
        common::sampled::child();
        return;
    }
    common::sampled::check("sampled_estimates_within_10_percent", "7");
}
