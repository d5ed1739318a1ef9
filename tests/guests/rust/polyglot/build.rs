//! proptest's strategies for a value as large as `Everything` build deep
//! trees on the shadow stack: give it 4 MiB instead of Rust's 1 MiB.
fn main() {
    println!("cargo:rustc-link-arg=-zstack-size=4194304");
}
