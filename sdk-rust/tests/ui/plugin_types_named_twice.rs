// A plugin WIT whose function uses two different types of one name, which
// one module of bindings cannot declare side by side. trybuild builds this
// in target/tests/trybuild/vm-sdk, whose manifest the path is relative to.
vm_sdk::plugin!("../../../../sdk-rust/tests/plugin/twice.wit");

fn main() {}
