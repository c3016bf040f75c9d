//! A binary that forgot `#[global_allocator]`: measuring must fail, not report zero.

#[test]
#[should_panic(expected = "not this binary's #[global_allocator]")]
fn count_refuses_to_measure_without_the_allocator() {
    let _ = polyarb_alloc_count::count(|| vec![1u8; 64]);
}
