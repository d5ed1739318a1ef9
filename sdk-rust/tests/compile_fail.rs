//! Misuse that must not compile.

#[test]
fn misuse_is_rejected_at_compile_time() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
