// The bindings are typed: a key is a string, a value bytes.
// trybuild builds this in target/tests/trybuild/vm-sdk, whose manifest the
// path is relative to.
vm_sdk::plugin!("../../../../sdk-rust/tests/plugin/kv.wit");

fn main() {
    kv::store::set("key", 42);
}
