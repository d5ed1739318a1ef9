//! `vm_sdk::plugin!` expands to the typed bindings `vm bindgen` writes.

vm_sdk::plugin!("tests/plugin/kv.wit");

#[test]
fn the_bindings_are_typed_and_name_the_plugin_version() {
    assert_eq!(kv::VERSION, (1, 0, 0));
    // Outside the VM a plugin call panics, saying why.
    let err = std::panic::catch_unwind(|| kv::store::get("key")).unwrap_err();
    let text = err.downcast_ref::<String>().unwrap();
    assert!(text.contains("plugin:kv/store.get"), "{text}");
    let _typed: fn(&str, i64) -> Result<i64, String> = kv::store::increment;
}
