//! Without `Profiler` as the global allocator every figure is zero and nothing panics.

#[test]
fn zeros_when_not_installed() {
    let v = vec![1u8; 1000];
    let (w, c) = allocscope::measure(|| vec![2u8; 10]);
    assert!(!allocscope::is_installed());
    assert_eq!(allocscope::installed_allocator(), None);
    assert_eq!(c, allocscope::Counts::default());
    assert_eq!(allocscope::snapshot(), allocscope::Snapshot::default());
    drop((v, w));
}
