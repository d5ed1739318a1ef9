// A plugin WIT whose function takes a type the plugin subset lacks.
// trybuild builds this in target/tests/trybuild/vm-sdk, whose manifest the
// path is relative to.
vm_sdk::plugin!("../../../../sdk-rust/tests/plugin/float.wit");

fn main() {}
