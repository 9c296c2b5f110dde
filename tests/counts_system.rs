//! Exact counts over `std::alloc::System`: hand-computed allocation patterns checked through `measure`
//! (per thread, so libtest's parallel threads do not disturb them).

#[global_allocator]
static ALLOC: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

mod common;

#[test]
fn installed() {
    let _ = Box::new(1u8);
    assert!(allocscope::is_installed());
    assert_eq!(
        allocscope::installed_allocator(),
        Some(allocscope::AllocatorKind::System)
    );
}

#[test]
fn boxes_of_known_size() {
    common::boxes_of_known_size();
}

#[test]
fn vec_growth_sequence() {
    common::vec_growth_sequence();
}

#[test]
fn alloc_zeroed_counts() {
    common::alloc_zeroed_counts();
}

#[test]
fn zero_sized_layouts_do_not_allocate() {
    common::zero_sized_layouts_do_not_allocate();
}

#[test]
fn over_aligned_layouts() {
    common::over_aligned_layouts();
}

#[test]
fn realloc_in_place_and_moved() {
    common::realloc_in_place_and_moved(&ALLOC);
}

#[test]
fn measure_exact_under_concurrency() {
    common::measure_exact_under_concurrency();
}
