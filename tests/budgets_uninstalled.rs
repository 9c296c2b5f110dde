//! Without a `Profiler` as the global allocator the budget macros fail loudly instead of
//! passing with zero counts.

#[test]
fn budgets_fail_without_the_profiler() {
    for r in [
        std::panic::catch_unwind(|| {
            allocscope::assert_max_allocs!(0, || 1 + 1);
        }),
        std::panic::catch_unwind(|| {
            allocscope::assert_max_bytes!(1 << 20, || 1 + 1);
        }),
        std::panic::catch_unwind(|| allocscope::assert_no_leaks!(|| 1 + 1)),
    ] {
        let err = r.expect_err("must fail without a Profiler");
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_else(|| {
            err.downcast_ref::<&str>()
                .map(|s| s.to_string())
                .unwrap_or_default()
        });
        assert!(
            msg.contains("no allocscope::Profiler is the global allocator"),
            "{msg}"
        );
    }
}
